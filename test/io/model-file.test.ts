import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutOfMemoryError, TreegateError } from '../../src/core/errors.js';
import { backend, jsBackend, registerBackend, setBackend } from '../../src/kernels/backend.js';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { encodeModel, loadModel, MODEL_FORMAT, saveModel } from '../../src/io/model-file.js';
import { decodeModel } from '../../src/io/model-codec.js';
import { Trainer } from '../../src/train/trainer.js';
import { Model, mlpConfig, paramShapes, type ModelConfig } from '../../src/layers/model.js';
import type { Param } from '../../src/layers/param.js';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-model-file-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NORM = { scale: 1 / 255, mean: Math.PI / 24, std: Math.SQRT1_2 / 2.25 };

/** Every layer kind and tree variant: units with explicit non-default gateUnits, projection, blocks 2, depth 0 and 3. */
function mixedConfig(): ModelConfig {
  return {
    inputSize: 12,
    numClasses: 3,
    normalization: { ...NORM },
    layers: [
      { kind: 'dense', inputSize: 12, outputSize: 8 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'tree', inputSize: 8, outputSize: 8, depth: 3, blocks: 1, gating: 'units', gateUnits: [5, 2, 7], nodeInit: 'small', decayGamma: 0.5 },
      { kind: 'activation', fn: 'tanh' },
      { kind: 'tree', inputSize: 8, outputSize: 6, depth: 3, blocks: 2, gating: 'projection', nodeInit: 'zero', decayGamma: 1 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'tree', inputSize: 6, outputSize: 6, depth: 0, blocks: 2, gating: 'units', gateUnits: [], nodeInit: 'zero', decayGamma: 1 },
      { kind: 'activation', fn: 'tanh' },
      { kind: 'tree', inputSize: 6, outputSize: 4, depth: 2, blocks: 2, gating: 'units', gateUnits: [2, 0], nodeInit: 'small', decayGamma: 0.25 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'tree', inputSize: 4, outputSize: 4, depth: 0, blocks: 1, gating: 'projection', nodeInit: 'zero', decayGamma: 2 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'dense', inputSize: 4, outputSize: 3 },
    ],
  };
}

/** Overwrites every parameter with random finite float32 bit patterns (incl. −0 and subnormals). */
function scramble(model: Model, seed: number): void {
  const rng = new Rng(seed);
  let first = true;
  for (const p of model.params()) {
    const bits = new Uint32Array(p.data.buffer, p.data.byteOffset, p.data.length);
    for (let i = 0; i < bits.length; i++) {
      let u = rng.nextU32();
      if (((u >>> 23) & 0xff) === 0xff) u &= ~(1 << 30); // no NaN or infinity
      bits[i] = u;
    }
    if (first && bits.length >= 3) {
      bits[0] = 0x80000000; // −0
      bits[1] = 0x00000001; // smallest subnormal
      bits[2] = 0x7f7fffff; // largest finite
      first = false;
    }
    p.version++;
  }
}

function paramBytes(p: Param): Buffer {
  return Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
}

function assertBitExact(a: Model, b: Model): void {
  const pa = a.params(), pb = b.params();
  assert.deepEqual(pb.map((p) => p.name), pa.map((p) => p.name));
  for (let i = 0; i < pa.length; i++) {
    assert.deepEqual([...pb[i].shape], [...pa[i].shape], pa[i].name);
    assert.ok(paramBytes(pb[i]).equals(paramBytes(pa[i])), `${pa[i].name}: bytes differ after save → load`);
  }
}

function inferBytes(model: Model, seed: number): Buffer {
  const rng = new Rng(seed);
  const x = matrix(37, model.inputSize);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  const y = model.forward(x, 'infer');
  return Buffer.from(y.data.slice(0, y.rows * y.cols).buffer);
}

/** A small trained-looking model and its file bytes, for the corruption tests. */
function goodModel(): Model {
  const m = new Model(mixedConfig(), new Rng(3));
  scramble(m, 4);
  return m;
}

function rawParts(model: Model) {
  const { tensors, metadata } = decodeSafetensors(encodeModel(model), 'good');
  const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  return { list, metadata };
}

/** Asserts loadModel(path) throws a TreegateError whose message names the file and matches `re`. */
function assertLoadFails(path: string, re: RegExp): void {
  assert.throws(() => loadModel(path), (e: unknown) => {
    assert.ok(e instanceof TreegateError, `expected a TreegateError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(e.message.includes(path), `message names the file: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

function writeAndExpectFailure(dir: string, name: string, bytes: Uint8Array, re: RegExp): void {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  assertLoadFails(p, re);
}

function withConfig(config: unknown, tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = []): Uint8Array {
  return encodeSafetensors(tensors, { format: MODEL_FORMAT, config: typeof config === 'string' ? config : JSON.stringify(config) });
}

// ---------------------------------------------------------------- round trip

test('save → load is bit-exact for dense, tree (units/projection, blocks 2, depth 0 and 3) and activation layers', () => {
  withTmp((dir) => {
    const model = new Model(mixedConfig(), new Rng(11));
    scramble(model, 12);
    const p = join(dir, 'model.safetensors');
    saveModel(p, model);
    const loaded = loadModel(p);
    assertBitExact(model, loaded);
    assert.deepEqual(loaded.toConfig(), model.toConfig());
    assert.deepEqual(loaded.toConfig(), mixedConfig());
    assert.deepEqual(loaded.config.normalization, NORM);
    assert.equal(loaded.parameterCount(), model.parameterCount());
    assert.deepEqual(loaded.macs(), model.macs());
    // the explicit gating units survive
    const trees = loaded.treeLayers();
    assert.deepEqual(trees.map((t) => t.layer.gateUnits), [[5, 2, 7], [], [], [2, 0], []]);
    assert.deepEqual(trees.map((t) => [t.layer.depth, t.layer.blocks, t.layer.gating]),
      [[3, 1, 'units'], [3, 2, 'projection'], [0, 2, 'units'], [2, 2, 'units'], [0, 1, 'projection']]);
    // same outputs, bit for bit
    assert.ok(inferBytes(loaded, 5).equals(inferBytes(model, 5)));
    // saving the loaded model reproduces the file byte for byte
    const p2 = join(dir, 'again.safetensors');
    saveModel(p2, loaded);
    assert.ok(readFileSync(p2).equals(readFileSync(p)));
  });
});

test('round trip of an MLP config: units gating with pending units, projection, no normalization', () => {
  withTmp((dir) => {
    for (const gating of ['units', 'projection'] as const) {
      for (const depth of [0, 3]) {
        const cfg = mlpConfig({ inputSize: 20, numClasses: 5, hidden: [8, 6], treeLayers: [1, 2, 3], depth, blocks: 2, gating, activation: 'tanh' });
        const model = new Model(cfg, new Rng(depth + 1));
        const p = join(dir, `m-${gating}-${depth}.safetensors`);
        saveModel(p, model);
        const loaded = loadModel(p);
        assertBitExact(model, loaded);
        assert.deepEqual(loaded.toConfig(), model.toConfig());
        assert.equal(loaded.config.normalization, undefined);
        assert.ok(inferBytes(loaded, 9).equals(inferBytes(model, 9)));
      }
    }
  });
});

test('round trip preserves normalization exactly, including awkward float64 values', () => {
  withTmp((dir) => {
    const normalization = { scale: 1 / 255, mean: 0.1 + 0.2, std: 5e-324 + 1e-8 };
    const cfg = mlpConfig({ inputSize: 4, numClasses: 2, hidden: [], treeLayers: [1], depth: 1, normalization });
    const model = new Model(cfg, new Rng(1));
    const p = join(dir, 'n.safetensors');
    saveModel(p, model);
    const loaded = loadModel(p);
    assert.deepEqual(loaded.config.normalization, normalization);
    assert.ok(Object.is(loaded.config.normalization!.mean, 0.1 + 0.2));
    assertBitExact(model, loaded);
  });
});

test('toConfig() copies a per-feature normalization: editing the copy\'s lists changes neither the model nor the file it saves', () => {
  withTmp((dir) => {
    const normalization = { scale: 0.5, mean: [0.25, -1, 3], std: [1, 0.5, 2] };
    const model = new Model(mlpConfig({ inputSize: 3, numClasses: 2, hidden: [], treeLayers: [1], depth: 1, normalization }), new Rng(1));
    const copy = model.toConfig().normalization as { mean: number[]; std: number[] };
    copy.mean[0] = 99;
    copy.std[2] = 7;
    copy.mean.push(4);
    const expected = { scale: 0.5, mean: [0.25, -1, 3], std: [1, 0.5, 2] };
    assert.deepEqual(model.config.normalization, expected, 'the model\'s own normalization');
    assert.deepEqual(model.toConfig().normalization, expected, 'a later copy');
    const p = join(dir, 'n.safetensors');
    saveModel(p, model);
    assert.deepEqual(loadModel(p).config.normalization, expected, 'the saved file');
  });
});

// ---------------------------------------------------------------- load errors

test('loadModel: missing file and a directory', () => {
  withTmp((dir) => {
    assertLoadFails(join(dir, 'nope.safetensors'), /no such file/);
    assertLoadFails(join(dir, 'nope', 'deeper.safetensors'), /cannot open/);
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    assertLoadFails(sub, /not a file/);
  });
});

test('loadModel: random bytes and empty files', () => {
  withTmp((dir) => {
    const rng = new Rng(99);
    for (const size of [0, 3, 8, 64, 4096]) {
      const bytes = new Uint8Array(size).map(() => rng.nextU32() & 0xff);
      writeAndExpectFailure(dir, `rand-${size}`, bytes, /./);
    }
    // random bytes behind a plausible header length: not JSON
    const bytes = new Uint8Array(1000).map(() => rng.nextU32() & 0xff);
    new DataView(bytes.buffer).setBigUint64(0, 200n, true);
    writeAndExpectFailure(dir, 'rand-json', bytes, /UTF-8|JSON/);
  });
});

test('loadModel: every truncation of a real model file is rejected', () => {
  withTmp((dir) => {
    const full = encodeModel(goodModel());
    const headerLen = Number(new DataView(full.buffer).getBigUint64(0, true));
    const cuts = new Set([0, 1, 7, 8, 9, 8 + (headerLen >> 1), 8 + headerLen - 1, 8 + headerLen, 8 + headerLen + 1,
      (full.length >> 1), full.length - 4, full.length - 1]);
    for (const cut of cuts) {
      writeAndExpectFailure(dir, `trunc-${cut}`, full.subarray(0, cut), /./);
    }
    // the untruncated file loads
    const p = join(dir, 'full');
    writeFileSync(p, full);
    assert.ok(loadModel(p) instanceof Model);
  });
});

test('loadModel: a valid safetensors file without treegate metadata', () => {
  withTmp((dir) => {
    const { list, metadata } = rawParts(goodModel());
    writeAndExpectFailure(dir, 'no-meta', encodeSafetensors(list), /not a treegate model/);
    writeAndExpectFailure(dir, 'other-format', encodeSafetensors(list, { format: 'pt' }), /not a treegate model.*"pt"/);
    writeAndExpectFailure(dir, 'no-config', encodeSafetensors(list, { format: MODEL_FORMAT }), /the metadata holds no model config \("config"\) \(the file is damaged/);
    writeAndExpectFailure(dir, 'bad-config', encodeSafetensors(list, { format: MODEL_FORMAT, config: '{"layers": [' }), /the model config in the metadata is not valid JSON \(.+\) \(the file is damaged/);
    // a checkpoint given as a model: said so, with where its model is
    writeAndExpectFailure(dir, 'checkpoint', encodeSafetensors(list, { format: 'treegate-checkpoint/1' }),
      /not a treegate model \(metadata format is "treegate-checkpoint\/1".*\(it is a training checkpoint: `treegate train --resume` goes on from it.*decodeCheckpoint\(bytes, source\)\.model/);
    writeAndExpectFailure(dir, 'empty', encodeSafetensors([]), /not a treegate model/);
    // and the original parts do make a loadable file
    const p = join(dir, 'ok');
    writeFileSync(p, encodeSafetensors(list, metadata));
    loadModel(p);
  });
});

test('loadModel: missing, wrongly shaped and extra tensors', () => {
  withTmp((dir) => {
    const { list, metadata } = rawParts(goodModel());
    const names = list.map((t) => t.name);
    for (const drop of ['layers.0.weight', 'layers.4.blocks.1.gate_bias', 'layers.6.blocks.0.bias']) {
      assert.ok(names.includes(drop), drop);
      writeAndExpectFailure(dir, `missing-${drop}`, encodeSafetensors(list.filter((t) => t.name !== drop), metadata),
        new RegExp(`tensor ${drop.replace(/\./g, '\\.')} is missing`));
    }
    // transposed (same element count) and wrong element count
    const transposed = list.map((t) => (t.name === 'layers.0.weight' ? { ...t, shape: [...t.shape].reverse() } : t));
    writeAndExpectFailure(dir, 'transposed', encodeSafetensors(transposed, metadata), /layers\.0\.weight has shape \[12,8\].*\[8,12\]/);
    const short = list.map((t) => (t.name === 'layers.12.bias' ? { ...t, shape: [2], data: t.data.slice(0, 2) } : t));
    writeAndExpectFailure(dir, 'short', encodeSafetensors(short, metadata), /layers\.12\.bias has shape/);
    const prefix = list.map((t) => (t.name === 'layers.0.weight' ? { ...t, shape: [8], data: t.data.slice(0, 8) } : t)); // the first of its dimensions only
    writeAndExpectFailure(dir, 'prefix', encodeSafetensors(prefix, metadata), /layers\.0\.weight has shape \[8\], the config needs \[8,12\]/);
    const flat = list.map((t) => (t.name === 'layers.2.blocks.0.weight' ? { ...t, shape: [t.data.length] } : t));
    writeAndExpectFailure(dir, 'flat', encodeSafetensors(flat, metadata), /layers\.2\.blocks\.0\.weight has shape/);
    const extra = [...list, { name: 'layers.99.weight', shape: [2, 2], data: new Float32Array(4) }];
    writeAndExpectFailure(dir, 'extra', encodeSafetensors(extra, metadata), /unexpected tensor layers\.99\.weight/);
    // a units-gated tree carrying projection tensors
    const stray = [...list, { name: 'layers.2.blocks.0.gate_weight', shape: [3, 8], data: new Float32Array(24) }];
    writeAndExpectFailure(dir, 'stray-gate', encodeSafetensors(stray, metadata), /unexpected tensor layers\.2\.blocks\.0\.gate_weight/);
  });
});

test('loadModel: NaN and infinite weights (a file without a checksum, as other tools write), or any changed weight of a file with one', () => {
  withTmp((dir) => {
    const { list, metadata } = rawParts(goodModel());
    assert.match(metadata.checksum, /^[0-9a-f]{16}$/, 'treegate writes a checksum');
    const { checksum: _, ...plain } = metadata;
    const changed = (v: number) => list.map((t) => {
      if (t.name !== 'layers.4.blocks.1.weight') return t;
      const data = t.data.slice();
      data[17] = v;
      return { ...t, data };
    });
    for (const [label, v] of [['nan', NaN], ['inf', Infinity], ['-inf', -Infinity]] as const) {
      writeAndExpectFailure(dir, label, encodeSafetensors(changed(v), plain), /layers\.4\.blocks\.1\.weight holds a non-finite value .* at index 17/);
      writeAndExpectFailure(dir, `${label}-summed`, encodeSafetensors(changed(v), metadata), /the file is damaged: its contents do not match its checksum/);
    }
    // one bit of a weight: a finite value still, which only the checksum finds
    const flipped = changed(0).map((t, i) => (t.name === 'layers.4.blocks.1.weight' ? { ...t, data: Float32Array.from(list[i].data, (x, j) => (j === 17 ? -x : x)) } : t));
    writeAndExpectFailure(dir, 'sign', encodeSafetensors(flipped, metadata), /the file is damaged/);
    // one bit of the checksum's key ('k' 0x6b → 'c' 0x63): the file would load unverified
    writeAndExpectFailure(dir, 'key', encodeSafetensors(list, { ...plain, checcsum: metadata.checksum }), /the file is damaged: its checksum's key reads "checcsum"/);
  });
});

test('loadModel: malformed config JSON and configs without a layer list', () => {
  withTmp((dir) => {
    writeAndExpectFailure(dir, 'json', withConfig('{"inputSize": 12, "layers": ['), /not valid JSON/);
    writeAndExpectFailure(dir, 'empty-string', withConfig(''), /not valid JSON/);
    writeAndExpectFailure(dir, 'null', withConfig('null'), /no layer list/);
    writeAndExpectFailure(dir, 'array', withConfig('[]'), /no layer list/);
    writeAndExpectFailure(dir, 'layers-object', withConfig({ inputSize: 4, numClasses: 2, layers: {} }), /no layer list/);
    writeAndExpectFailure(dir, 'layer-null', withConfig({ inputSize: 4, numClasses: 2, layers: [null] }), /layer config is not an object/);
    writeAndExpectFailure(dir, 'layer-string', withConfig({ inputSize: 4, numClasses: 2, layers: ['dense'] }), /layer config is not an object/);
    writeAndExpectFailure(dir, 'no-layers', withConfig({ inputSize: 4, numClasses: 2, layers: [] }), /invalid model config: model has no layers/);
    writeAndExpectFailure(dir, 'bad-norm', withConfig({ inputSize: 4, numClasses: 2, normalization: { scale: 1, mean: 0, std: 0 }, layers: [{ kind: 'dense', inputSize: 4, outputSize: 2 }] }),
      /: the model config's .*normalization\.std is 0.* \(the file is damaged or was not written by treegate\)$/);
    writeAndExpectFailure(dir, 'norm-string', withConfig({ inputSize: 4, numClasses: 2, normalization: 'z', layers: [{ kind: 'dense', inputSize: 4, outputSize: 2 }] }),
      /normalization/);
  });
});

test('loadModel: configs with impossible options', () => {
  withTmp((dir) => {
    const tree = (o: Record<string, unknown>) => ({ kind: 'tree', inputSize: 8, outputSize: 2, depth: 2, blocks: 1, gating: 'units', ...o });
    const cases: Array<[string, unknown, RegExp]> = [
      ['depth-neg', { inputSize: 8, numClasses: 2, layers: [tree({ depth: -1 })] }, /invalid model config: .*depth must be an integer in \[0, 24\], got -1/],
      ['depth-big', { inputSize: 8, numClasses: 2, layers: [tree({ depth: 25, gating: 'projection' })] }, /depth must be an integer/],
      ['depth-frac', { inputSize: 8, numClasses: 2, layers: [tree({ depth: 1.5 })] }, /depth must be an integer/],
      ['width-0-dense', { inputSize: 8, numClasses: 2, layers: [{ kind: 'dense', inputSize: 8, outputSize: 0 }, { kind: 'dense', inputSize: 0, outputSize: 2 }] }, /output size must be an integer/],
      ['width-0-tree', { inputSize: 8, numClasses: 2, layers: [tree({ outputSize: 0 }), tree({ inputSize: 0 })] }, /output size must be an integer/],
      ['input-0', { inputSize: 0, numClasses: 2, layers: [{ kind: 'dense', inputSize: 0, outputSize: 2 }] }, /model input size/],
      ['classes-1', { inputSize: 8, numClasses: 1, layers: [{ kind: 'dense', inputSize: 8, outputSize: 1 }] }, /model class count/],
      ['input-string', { inputSize: '8', numClasses: 2, normalization: { scale: 1, mean: 0, std: 1 }, layers: [{ kind: 'dense', inputSize: 8, outputSize: 2 }] },
        /model input size \(inputSize\) is "8", must be a whole number ≥ 1/],
      ['scale-0', { inputSize: 8, numClasses: 2, normalization: { scale: 0, mean: 0, std: 1 }, layers: [{ kind: 'dense', inputSize: 8, outputSize: 2 }] },
        /normalization\.scale is 0, must be a finite number > 0/],
      ['labels-twice', { inputSize: 8, numClasses: 2, data: { dataset: 'csv', labels: ['x', 'x'] }, layers: [{ kind: 'dense', inputSize: 8, outputSize: 2 }] },
        /labels must be 2 distinct strings/],
      ['features-short', { inputSize: 2, numClasses: 2, data: { dataset: 'csv', features: ['a'] }, layers: [{ kind: 'dense', inputSize: 2, outputSize: 2 }] },
        /features must be 2 strings, one per input/],
      ['mismatch', { inputSize: 8, numClasses: 2, layers: [{ kind: 'dense', inputSize: 8, outputSize: 6 }, { kind: 'activation', fn: 'relu' }, { kind: 'dense', inputSize: 5, outputSize: 2 }] },
        /dense input size 5 does not match the 6 outputs before it/],
      ['mismatch-tree', { inputSize: 8, numClasses: 2, layers: [{ kind: 'dense', inputSize: 8, outputSize: 6 }, tree({ inputSize: 8 })] },
        /tree input size 8 does not match the 6 outputs before it/],
      ['mismatch-classes', { inputSize: 8, numClasses: 3, layers: [{ kind: 'dense', inputSize: 8, outputSize: 2 }] }, /2 outputs but the model has 3 classes/],
      ['blocks', { inputSize: 8, numClasses: 2, layers: [tree({ blocks: 3 })] }, /not divisible by 3 blocks/],
      ['blocks-0', { inputSize: 8, numClasses: 2, layers: [tree({ blocks: 0 })] }, /blocks must be an integer/],
      ['units-k', { inputSize: 8, numClasses: 2, layers: [tree({ depth: 5, blocks: 2 })] }, /depth 5 needs 5 gating units but each block has only 4 inputs/],
      ['gate-range', { inputSize: 8, numClasses: 2, layers: [tree({ gateUnits: [0, 8] })] }, /gate unit 8 must be a distinct integer in \[0, 8\)/],
      ['gate-dup', { inputSize: 8, numClasses: 2, layers: [tree({ gateUnits: [1, 1] })] }, /gate unit 1 must be a distinct/],
      ['gate-len', { inputSize: 8, numClasses: 2, layers: [tree({ gateUnits: [1] })] }, /gateUnits has 1 entries, depth is 2/],
      ['gating', { inputSize: 8, numClasses: 2, layers: [tree({ gating: 'random' })] }, /unknown gating source 'random'/],
      ['node-init', { inputSize: 8, numClasses: 2, layers: [tree({ nodeInit: 'big' })] }, /unknown node init 'big'/],
      ['gamma', { inputSize: 8, numClasses: 2, layers: [tree({ decayGamma: -1 })] }, /decay gamma/],
      ['gamma-power', { inputSize: 8, numClasses: 2, layers: [tree({ decayGamma: 1e6, depth: 7 })] }, /decay gamma 1000000 to the depth 7 is 1\.00e\+42, beyond float32's range \(use a gamma nearer 1/],
      ['straight-string', { inputSize: 8, numClasses: 2, layers: [tree({ gating: 'projection', straightThrough: 'false' })] }, /straightThrough must be true or false, got "false"/],
      ['gate-units-projection', { inputSize: 8, numClasses: 2, layers: [tree({ gating: 'projection', gateUnits: [0, 1] })] }, /gateUnits are the units of units gating; projection gating reads none/],
      ['kind', { inputSize: 8, numClasses: 2, layers: [{ kind: 'conv', inputSize: 8, outputSize: 2 }] }, /unknown layer kind 'conv'/],
      ['activation', { inputSize: 8, numClasses: 2, layers: [{ kind: 'dense', inputSize: 8, outputSize: 2 }, { kind: 'activation', fn: 'sigmoid' }] }, /unknown activation 'sigmoid'/],
      ['string-width', { inputSize: 8, numClasses: 2, layers: [{ kind: 'dense', inputSize: 8, outputSize: '2' }] }, /output size must be an integer/],
    ];
    for (const [name, config, re] of cases) writeAndExpectFailure(dir, name, withConfig(config), re);
  });
});

test('loadModel: a config needing more values than the file holds plus the allowance (2^20) is refused before the model is built; one within it gets the tensor named', () => {
  withTmp((dir) => {
    const config = { inputSize: 1023, numClasses: 1100, layers: [{ kind: 'dense', inputSize: 1023, outputSize: 1100 }] };
    const need = paramShapes(config as ModelConfig).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal(need, 1100 * 1024);
    const holding = (have: number) => withConfig(config, [{ name: 'layers.0.weight', shape: [have], data: new Float32Array(have) }]);
    // one value short of need − 2^20: refused by the count, before anything is allocated
    const short = need - (1 << 20) - 1;
    writeAndExpectFailure(dir, 'over', holding(short),
      new RegExp(`the config needs ${need} parameter values but the file holds ${short} \\(tensor layers\\.0\\.weight has shape \\[${short}\\], the config needs \\[1100,1023\\]\\)`));
    // exactly need − 2^20: within the allowance, built, and the tensor's shape refused
    const within = need - (1 << 20);
    const p = join(dir, 'within');
    writeFileSync(p, holding(within));
    assert.throws(() => loadModel(p), (e: unknown) => e instanceof TreegateError && e.message === `${p}: tensor layers.0.weight has shape [${within}], the config needs [1100,1023]`);
  });
});

// Found while writing these tests: configs whose checks throw something other
// than a TreegateError inside `new Model(config)` escape decodeModel unwrapped,
// so `treegate eval` reports them as an internal error (exit 1) without the file name.
test('loadModel: a config asking for an absurdly wide layer is a TreegateError, not a RangeError', () => {
  withTmp((dir) => {
    const config = {
      inputSize: 8, numClasses: 2,
      layers: [{ kind: 'dense', inputSize: 8, outputSize: 1e12 }, { kind: 'dense', inputSize: 1e12, outputSize: 2 }],
    };
    writeAndExpectFailure(dir, 'huge', withConfig(config), /./);
  });
});

test('loadModel: a non-array gateUnits is a TreegateError, not a TypeError', () => {
  withTmp((dir) => {
    const config = {
      inputSize: 8, numClasses: 2,
      layers: [{ kind: 'tree', inputSize: 8, outputSize: 2, depth: 1, blocks: 1, gating: 'units', gateUnits: 3 }],
    };
    writeAndExpectFailure(dir, 'gate-number', withConfig(config), /gateUnits|gate unit/);
  });
});

test("a file's units gating without gateUnits (another tool's) reads units 0 … k − 1, and a Trainer keeps them", () => {
  // units 5 and 1 are the ones a Trainer would choose from these inputs (they vary most), were the units still to choose
  const model = new Model({ inputSize: 8, numClasses: 2, layers: [{ kind: 'tree', inputSize: 8, outputSize: 2, depth: 2, blocks: 1, gating: 'units', gateUnits: [0, 1] }] }, new Rng(3));
  scramble(model, 4);
  const { list, metadata } = rawParts(model);
  const config = JSON.parse(metadata.config);
  delete config.layers[0].gateUnits;
  const loaded = decodeModel(encodeSafetensors(list, { format: MODEL_FORMAT, config: JSON.stringify(config) }), 'other-tool');
  const rng = new Rng(9), N = 64, x = matrix(N, 8), y = new Int32Array(N);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal() * (i % 8 === 5 ? 9 : i % 8 === 1 ? 5 : 0.1);
  const before = inferBytes(loaded, 5);
  assert.deepEqual(loaded.treeLayers()[0].layer.gateUnits, [0, 1]);
  new Trainer(loaded, { x, y }, null, { epochs: 1 }, new Rng(1));
  assert.deepEqual(loaded.treeLayers()[0].layer.gateUnits, [0, 1], 'the loaded weights keep their units');
  assert.ok(inferBytes(loaded, 5).equals(before));
  // a new model of that config has its units chosen from the data, as before
  const fresh = new Model(config, new Rng(3));
  new Trainer(fresh, { x, y }, null, { epochs: 1 }, new Rng(1));
  assert.notDeepEqual(fresh.treeLayers()[0].layer.gateUnits, [0, 1]);
});

// ---------------------------------------------------------------- atomic save

test('saveModel replaces an existing model atomically and leaves no temp files', () => {
  withTmp((dir) => {
    const p = join(dir, 'model.safetensors');
    const a = goodModel();
    saveModel(p, a);
    const oldBytes = readFileSync(p);
    const oldIno = statSync(p).ino;
    // a hard link keeps the old inode reachable: an in-place rewrite would change its contents
    const link = join(dir, 'old-link');
    linkSync(p, link);

    const b = new Model(mixedConfig(), new Rng(50));
    scramble(b, 51);
    saveModel(p, b);
    assert.deepEqual(readdirSync(dir).sort(), ['model.safetensors', 'old-link']);
    assert.ok(readFileSync(link).equals(oldBytes), 'the old file was not modified in place');
    assert.notEqual(statSync(p).ino, oldIno, 'the new file is a new inode renamed over the old path');
    assert.ok(readFileSync(p).equals(Buffer.from(encodeModel(b))));
    assertBitExact(b, loadModel(p));
  });
});

test('saveModel replaces a model or an empty file, never another file; a bad path or model is named', () => {
  withTmp((dir) => {
    const data = join(dir, 'data.csv'), empty = join(dir, 'empty');
    writeFileSync(data, 'a,b,label\n1,2,x\n');
    writeFileSync(empty, '');
    const m = goodModel();
    assert.throws(() => saveModel(data, m), /data\.csv exists and is not a treegate model file: saving would replace it \(save to another path, or remove that file first\)/);
    assert.equal(readFileSync(data, 'utf8'), 'a,b,label\n1,2,x\n', 'the file is as it was');
    // nor a checkpoint, nor another program's safetensors file
    const { list } = rawParts(m);
    for (const [name, format] of [['step-000000005.safetensors', 'treegate-checkpoint/1'], ['other.safetensors', 'pt']]) {
      writeFileSync(join(dir, name), encodeSafetensors(list, { format }));
      assert.throws(() => saveModel(join(dir, name), m), new RegExp(`${name.replace(/\./g, '\\.')} exists and is not a treegate model file: saving would replace it`));
      assert.equal(decodeSafetensors(readFileSync(join(dir, name)), name).metadata.format, format, 'the file is as it was');
      rmSync(join(dir, name));
    }
    saveModel(empty, m);
    assertBitExact(m, loadModel(empty));
    // a model cut short (an interrupted copy) is still a model file, which a new save replaces
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(empty).subarray(0, statSync(empty).size - 8));
    assert.throws(() => loadModel(cut), TreegateError);
    saveModel(cut, m);
    assertBitExact(m, loadModel(cut));
    assert.throws(() => saveModel('', m), /saveModel needs a file path, got ""/);
    assert.throws(() => saveModel(42 as never, m), /saveModel needs a file path, got 42/);
    assert.throws(() => saveModel(join(dir, 'x.safetensors'), {} as never), /needs a Model, got/);
    assert.deepEqual(readdirSync(dir).sort(), ['cut.safetensors', 'data.csv', 'empty']);
  });
});

test('a failed saveModel leaves the previous model intact and no temp files', () => {
  withTmp((dir) => {
    const p = join(dir, 'model.safetensors');
    const good = goodModel();
    saveModel(p, good);
    const before = readFileSync(p);

    // 1. a model that cannot be serialized (a tensor whose data does not match its shape)
    const broken = new Model(mixedConfig(), new Rng(8));
    broken.params = () => [{ name: 'w', shape: [3], data: new Float32Array(2) } as unknown as Param];
    assert.throws(() => saveModel(p, broken), TreegateError);
    assert.ok(readFileSync(p).equals(before));
    // 1b. a model holding an infinite weight (what a loader refuses is not written)
    const infinite = goodModel();
    infinite.params()[1].data[0] = -Infinity;
    assert.throws(() => saveModel(p, infinite), /cannot save the model: tensor layers\.0\.bias holds a non-finite value \(-Infinity\) at index 0/);
    assert.ok(readFileSync(p).equals(before));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);

    // 2. the target's directory does not exist (vanished)
    const gone = join(dir, 'gone');
    mkdirSync(gone);
    rmSync(gone, { recursive: true });
    const target = join(gone, 'model.safetensors');
    assert.throws(() => saveModel(target, good), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(target), e.message);
      return true;
    });
    assert.equal(existsSync(gone), false);

    // 3. the target path is a directory: the rename fails, the temp file is removed
    const asDir = join(dir, 'model-dir.safetensors');
    mkdirSync(asDir);
    writeFileSync(join(asDir, 'keep'), 'x');
    assert.throws(() => saveModel(asDir, good), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(asDir), e.message);
      return true;
    });
    assert.deepEqual(readdirSync(dir).sort(), ['model-dir.safetensors', 'model.safetensors']);
    assert.deepEqual(readdirSync(asDir), ['keep']);
    assert.ok(readFileSync(p).equals(before));
    assertBitExact(good, loadModel(p));
  });
});

test('paramShapes (checked against a file before allocating) lists exactly the built model\'s parameters', () => {
  const configs: ModelConfig[] = [
    mixedConfig(),
    mlpConfig({ inputSize: 12, numClasses: 3, hidden: [8, 6], treeLayers: [1, 3], depth: 3, blocks: 2, gating: 'projection' }),
    mlpConfig({ inputSize: 12, numClasses: 3, hidden: [8], treeLayers: [2], routed: 'flat', depth: 2, gating: 'units' }),
    mlpConfig({ inputSize: 12, numClasses: 3, hidden: [8], treeLayers: [1, 2], routed: 'moe', depth: 2, experts: 3, topK: 2 }),
    mlpConfig({ inputSize: 5, numClasses: 2, hidden: [], treeLayers: [1], depth: 0, gating: 'projection' }),
  ];
  for (const c of configs) {
    assert.deepEqual(paramShapes(c), new Model(c).params().map((p) => ({ name: p.name, shape: [...p.shape] })));
  }
});

test('a file from a later version, with config and normalization fields this one does not know, loads: they are ignored (docs/format.md §3)', () => {
  const model = new Model(mixedConfig(), new Rng(5));
  const { tensors, metadata } = decodeSafetensors(encodeModel(model), 'm');
  const config = JSON.parse(metadata.config);
  config.trainedBy = 'treegate 9';
  config.normalization.clip = 3;
  config.layers[0].sparsity = 0.5;
  const { checksum: _, ...unsummed } = metadata; // (a later version's checksum would cover its own fields)
  const bytes = encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { ...unsummed, config: JSON.stringify(config) });
  const dir = mkdtempSync(join(tmpdir(), 'treegate-later-'));
  try {
    writeFileSync(join(dir, 'later.safetensors'), bytes);
    const loaded = loadModel(join(dir, 'later.safetensors'));
    assert.deepEqual(loaded.config.normalization, NORM);
    assert.equal((loaded.config as unknown as Record<string, unknown>).trainedBy, undefined);
    const x = matrix(2, 12, Float32Array.from({ length: 24 }, (_, i) => i / 7));
    assert.deepEqual(Array.from(loaded.forward(x, 'infer').data), Array.from(model.forward(x, 'infer').data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model file whose model this machine has no memory for is said to be so, not called an invalid config', () => {
  const { list, metadata } = rawParts(goodModel());
  // a backend whose arrays of more than 50 floats fail, as a too large allocation does
  registerBackend({ ...jsBackend, name: 'small-memory', floats: (n) => {
    if (n > 50) throw new RangeError('Array buffer allocation failed');
    return new Float32Array(n);
  } });
  const before = backend().name;
  setBackend('small-memory');
  try {
    assert.throws(() => decodeModel(encodeSafetensors(list, metadata), 'big'), (e: unknown) => e instanceof OutOfMemoryError
      && /^big: .*cannot allocate \d+ floats/.test(e.message) && e.hint === 'load it where more memory is free');
  } finally {
    setBackend(before);
  }
});
