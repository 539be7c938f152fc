/**
 * Checkpoint files: writeCheckpoint keeps the newest `keep` and prunes older ones only after the new one is
 * safely written, so a write that fails (a full disk, a path in the way) loses none of the checkpoints the
 * run could resume from.
 */
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { matrix } from '../../src/core/tensor.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { encodeModel } from '../../src/io/model-codec.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { listCheckpoints, loadNewestCheckpoint, writeCheckpoint } from '../../src/io/checkpoint.js';
import { backend, jsBackend, registerBackend, setBackend } from '../../src/kernels/backend.js';
import { TreegateError } from '../../src/core/errors.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { Trainer } from '../../src/train/trainer.js';
import { randomArray, Rng } from '../helpers.js';

const TMP = mkdtempSync(join(tmpdir(), 'treegate-ckpt-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** A model of one routed layer (3 classes) and its Trainer (Adam, batches of 8) on N random examples of D features. */
function smallRun(seed: number, N: number, D: number, hidden: number, depth: number, epochs: number): { model: Model; trainer: Trainer } {
  const rng = new Rng(seed);
  const model = new Model(mlpConfig({ inputSize: D, numClasses: 3, hidden: [hidden], treeLayers: [2], depth, gating: 'projection' }), rng.fork());
  const data = { x: matrix(N, D, randomArray(rng, N * D)), y: Int32Array.from({ length: N }, (_, i) => i % 3) };
  const trainer = new Trainer(model, data, null, { epochs, batchSize: 8, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' } }, rng.fork());
  return { model, trainer };
}

test('a checkpoint write that fails keeps the newest `keep` checkpoints loadable (pruning comes after the write)', () => {
  const { model, trainer } = smallRun(8, 64, 6, 8, 2, 10);
  const dir = join(TMP, 'run');
  mkdirSync(dir);
  const save = () => writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {}, metrics: [], extra: {} }, 2);
  for (let i = 0; i < 3; i++) {
    trainer.step();
    save();
  }
  assert.deepEqual(listCheckpoints(dir).map((p) => basename(p)), ['step-000000003.safetensors', 'step-000000002.safetensors']);
  trainer.step();
  mkdirSync(join(dir, 'step-000000004.safetensors')); // in the way of the next write
  assert.throws(save, /step-000000004\.safetensors/);
  const left = listCheckpoints(dir);
  assert.deepEqual(left.map((p) => basename(p)), ['step-000000003.safetensors', 'step-000000002.safetensors'], 'none pruned');
  for (const p of left) assert.equal(decodeCheckpoint(readFileSync(p), p).run.progress.step, Number(basename(p).slice(5, 14)));
});

test('a damaged checkpoint (one bit of a weight, a digit of its progress) is found by its checksum; one without a checksum still loads', () => {
  const { model, trainer } = smallRun(9, 32, 5, 8, 2, 2);
  trainer.step();
  const bytes = encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: { lr: 1e-3 }, metrics: [], extra: {} });
  const { tensors, metadata } = decodeSafetensors(bytes, 'ck');
  assert.match(metadata.checksum, /^[0-9a-f]{16}$/);
  const entries = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const weight = entries.find((t) => t.name === 'layers.2.blocks.0.weight')!;
  const damaged = (change: () => void, meta = metadata): Uint8Array => {
    const copy = entries.map((t) => ({ ...t, data: t.data.slice() }));
    const saved = weight.data;
    weight.data = copy.find((t) => t.name === weight.name)!.data;
    change();
    weight.data = saved;
    return encodeSafetensors(copy, meta);
  };
  assert.equal(decodeCheckpoint(damaged(() => {}), 'ck').run.progress.step, 1, 'undamaged: loads');
  const flip = damaged(() => {
    const w = new Uint32Array(weight.data.buffer, weight.data.byteOffset, weight.data.length);
    w[3] ^= 1 << 7; // a finite weight still, which no other check would question
  });
  assert.throws(() => decodeCheckpoint(flip, 'ck'), /ck: the file is damaged: its contents do not match its checksum/);
  const progress = JSON.parse(metadata.progress) as { lossSum: number };
  const edited = damaged(() => {}, { ...metadata, progress: JSON.stringify({ ...progress, lossSum: progress.lossSum + 1 }) });
  assert.throws(() => decodeCheckpoint(edited, 'ck'), /the file is damaged/);
  const { checksum: _, ...older } = metadata;
  assert.equal(decodeCheckpoint(damaged(() => {}, older), 'ck').run.progress.step, 1, 'a checkpoint from before checksums loads');
  // one bit of the key's name: the checksum would be lost, the file read unverified
  assert.throws(() => decodeCheckpoint(damaged(() => {}, { ...older, 'chec{sum': metadata.checksum }), 'ck'),
    /ck: the file is damaged: its checksum's key reads "chec\{sum"/);
});

test('a deep tree\'s leaf counts are saved sparse in the progress (a header stays small) and read back whole', () => {
  // 2^17 leaves: the current counts, and after an epoch the history's, are lists past the sparse threshold
  const { model, trainer } = smallRun(10, 16, 2, 2, 17, 2);
  for (let i = 0; i < 3; i++) trainer.step();
  const progress = trainer.snapshot();
  const bytes = encodeCheckpoint(model, trainer.optimizer, { progress, options: {}, metrics: [], extra: {} });
  const { metadata } = decodeSafetensors(bytes, 'ck');
  assert.ok(metadata.progress.length < 20_000, `progress JSON of ${metadata.progress.length} characters`);
  assert.match(metadata.progress, /"sparseLength":131072/);
  const back = decodeCheckpoint(bytes, 'ck').run.progress;
  assert.deepEqual(back.usage, progress.usage);
  assert.deepEqual(back.history.map((h) => h.trees), progress.history.map((h) => h.trees));
  assert.equal(back.history.length, 1);
});

test('sparse leaf counts keep a count at the last leaf, beside others and alone', () => {
  const { model, trainer } = smallRun(10, 16, 2, 2, 17, 2);
  trainer.step();
  const progress = trainer.snapshot(), leaves = progress.usage[0][0].length, last = leaves - 1;
  assert.equal(leaves, 2 ** 17);
  const roundTrip = (counts: number[]): number[] => {
    const bytes = encodeCheckpoint(model, trainer.optimizer, { progress: { ...progress, usage: [[counts]] }, options: {} });
    assert.match(decodeSafetensors(bytes, 'ck').metadata.progress, /"sparseLength":131072/);
    return decodeCheckpoint(bytes, 'ck').run.progress.usage[0][0];
  };
  const reached = [...progress.usage[0][0]];
  reached[last] += 1; // one more example reached the last leaf
  assert.ok(reached.filter((c) => c > 0).length > 1);
  assert.deepEqual(roundTrip(reached), reached, 'counts at other leaves and at the last');
  const alone = new Array<number>(leaves).fill(0);
  alone[last] = 3;
  assert.deepEqual(roundTrip(alone), alone, 'counts at the last leaf alone');
});

test('leaf counts of exactly 2^16 leaves are saved as they are (the reader takes sparse lists only above that) and read back', () => {
  const { model, trainer } = smallRun(10, 16, 2, 2, 16, 2);
  trainer.step();
  const progress = trainer.snapshot();
  assert.equal(progress.usage[0][0].length, 2 ** 16);
  const bytes = encodeCheckpoint(model, trainer.optimizer, { progress, options: {} });
  assert.doesNotMatch(decodeSafetensors(bytes, 'ck').metadata.progress, /sparseLength/);
  assert.deepEqual(decodeCheckpoint(bytes, 'ck').run.progress.usage, progress.usage);
});

test('a sparse list of counts must have increasing indices below its length, and a length an array can hold (a file without a checksum)', () => {
  const { model, trainer } = smallRun(15, 32, 5, 8, 1, 2);
  trainer.step();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }), 'ck');
  const { checksum: _, ...older } = metadata;
  const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const withCounts = (sparse: unknown): Uint8Array => {
    const progress = JSON.parse(metadata.progress) as { usage: unknown[][] };
    progress.usage[0][0] = sparse;
    return encodeSafetensors(list, { ...older, progress: JSON.stringify(progress) });
  };
  const n = 2 ** 16 + 1;
  for (const sparse of [{ sparseLength: n, at: [3, 3], values: [1, 2] }, { sparseLength: n, at: [4, 3], values: [1, 2] }, { sparseLength: n, at: [n], values: [1] },
    { sparseLength: n, at: [0.5], values: [1] }, { sparseLength: 2 ** 32, at: [], values: [] }]) {
    assert.throws(() => decodeCheckpoint(withCounts(sparse), 'ck'), (e: unknown) => e instanceof TreegateError
      && e.message === 'ck: checkpoint progress: a sparse list of counts must be { sparseLength, at: increasing indices below it, values: one per index }', JSON.stringify(sparse));
  }
});

test('a checkpoint\'s options, metrics and extra state must be an object, a list of lines and an object (a file without a checksum: no check before them)', () => {
  const { model, trainer } = smallRun(15, 32, 5, 8, 1, 2);
  trainer.step();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }), 'ck');
  const { checksum: _, ...older } = metadata;
  const edited = (key: string, json: string) => encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { ...older, [key]: json });
  assert.equal(decodeCheckpoint(edited('extra', '{}'), 'ck').run.extra.constructor, Object, 'as written: loads');
  for (const [key, json, re] of [['extra', 'null', /ck: checkpoint extra state must be an object/], ['extra', '[]', /ck: checkpoint extra state must be an object/],
    ['options', '[1]', /ck: checkpoint options must be an object/], ['metrics', '["a", 2]', /ck: checkpoint metrics must be a list of lines/]] as const) {
    assert.throws(() => decodeCheckpoint(edited(key, json), 'ck'), (e: unknown) => e instanceof TreegateError && re.test(e.message), `${key} = ${json}`);
  }
  const { metrics: __, ...noMetrics } = older;
  assert.throws(() => decodeCheckpoint(encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), noMetrics), 'ck'),
    (e: unknown) => e instanceof TreegateError && e.message === 'ck: the checkpoint\'s metadata holds no "metrics"');
  // a model file is not a checkpoint
  assert.throws(() => decodeCheckpoint(encodeModel(model), 'model'), /model: not a treegate checkpoint \(metadata format is "treegate-model\/1", expected "treegate-checkpoint\/1"\)/);
});

test('optimizer step counts must be whole numbers in [0, 2^24): −1, 0.5 and 2^24 are refused (a file without a checksum: no check before them)', () => {
  const { model, trainer } = smallRun(15, 32, 5, 8, 1, 2);
  trainer.step();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }), 'ck');
  const { checksum: _, ...older } = metadata;
  const withSteps = (v: number): Uint8Array => encodeSafetensors([...tensors].map(([name, t]) => {
    const data = t.data.slice();
    if (name === 'optimizer.layers.2.blocks.0.weight.steps') data[1] = v;
    return { name, shape: t.shape, data };
  }), older);
  const at = model.params().findIndex((p) => p.name === 'layers.2.blocks.0.weight');
  assert.equal(decodeCheckpoint(withSteps(2 ** 24 - 1), 'ck').optimizerState[at].steps[1], 2 ** 24 - 1, 'the largest count loads');
  for (const v of [-1, 0.5, 2 ** 24]) {
    assert.throws(() => decodeCheckpoint(withSteps(v), 'ck'),
      (e: unknown) => e instanceof TreegateError && e.message === `ck: optimizer step count ${v} of layers.2.blocks.0.weight slot 1 is not a count`, String(v));
  }
  // nor is a count of 2^24 written
  const steps = trainer.optimizer.state[at].steps, before = steps[1];
  steps[1] = 2 ** 24;
  assert.throws(() => encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }),
    /layers\.2\.blocks\.0\.weight: 16777216 optimizer steps do not fit a checkpoint \(limit 16777216\)/);
  steps[1] = before;
});

test('an optimizer tensor must name a parameter and its slot (m, v or steps): optimizer.<param> alone is refused, not ignored', () => {
  const { model, trainer } = smallRun(15, 32, 5, 8, 1, 2);
  trainer.step();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }), 'ck');
  const { checksum: _, ...older } = metadata;
  const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const m = tensors.get('optimizer.layers.2.blocks.0.weight.m')!;
  assert.ok(m, 'the moments of the parameter named below');
  const withExtra = (name: string) => encodeSafetensors([...list, { name, shape: m.shape, data: m.data }], older);
  assert.equal(decodeCheckpoint(encodeSafetensors(list, older), 'ck').optimizerState.length, model.params().length, 'as written: loads');
  // the parameter's own name with no slot after it, a slot of no parameter, and a slot that is not one
  for (const name of ['optimizer.layers.2.blocks.0.weight', 'optimizer.layers.9.weight.m', 'optimizer.layers.2.blocks.0.weight.w']) {
    assert.throws(() => decodeCheckpoint(withExtra(name), 'ck'),
      (e: unknown) => e instanceof TreegateError && e.message === `ck: unexpected tensor ${name}`, name);
  }
  // the moments of a parameter: one per weight, finite, and present
  const name = 'optimizer.layers.2.blocks.0.weight.m', size = m.data.length;
  const withM = (t: { shape: number[]; data: Float32Array } | null) => encodeSafetensors([...list.filter((x) => x.name !== name), ...(t ? [{ name, ...t }] : [])], older);
  const refused: Array<[Uint8Array, string]> = [
    [withM({ shape: [size - 1], data: m.data.slice(1) }), `ck: optimizer state layers.2.blocks.0.weight.m has shape [${size - 1}], expected [${size}]`],
    [withM({ shape: [size], data: m.data.map((x, i) => (i === 2 ? -Infinity : x)) }), 'ck: optimizer state layers.2.blocks.0.weight.m holds a non-finite value at index 2'],
    [withM(null), 'ck: optimizer state layers.2.blocks.0.weight.m is missing'],
  ];
  for (const [bytes, message] of refused) assert.throws(() => decodeCheckpoint(bytes, 'ck'), (e: unknown) => e instanceof TreegateError && e.message === message, message);
});

test('a checkpoint skipped on resume (damaged, or refused by the caller) gives its arrays back to the backend', () => {
  const { model, trainer } = smallRun(11, 32, 5, 8, 2, 2);
  const dir = join(TMP, 'skipped');
  mkdirSync(dir);
  for (let i = 0; i < 2; i++) {
    trainer.step();
    writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {}, metrics: [], extra: {} }, 2);
  }
  const newest = listCheckpoints(dir)[0];
  const good = readFileSync(newest);
  // a backend that counts what its floats() made and what came back (the wasm backend reuses such blocks)
  const made = new Set<Float32Array>(), released = new Set<Float32Array>();
  registerBackend({ ...jsBackend, name: 'counting', floats: (n) => { const a = new Float32Array(n); made.add(a); return a; }, release: (a) => { if (made.has(a)) released.add(a); } });
  const before = backend().name;
  setBackend('counting');
  try {
    const damaged = Buffer.from(good);
    damaged[damaged.length - 5] ^= 0x10; // a weight's or moment's bit: only the checksum, after every array is made, finds it
    // a checkpoint without a checksum whose metrics are refused after its model and moments were made
    const { tensors, metadata: { checksum: _, ...older } } = decodeSafetensors(good, newest);
    const invalid = encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { ...older, metrics: '["a", 2]' });
    const cases: Array<[string, Uint8Array, (run: unknown, path: string) => void]> = [
      ['damaged', damaged, () => {}],
      ['invalid', invalid, () => {}],
      ['refused', good, (_run, path) => { if (path === newest) throw new TreegateError('another run\'s checkpoint'); }],
    ];
    for (const [what, bytes, validate] of cases) {
      writeFileSync(newest, bytes);
      made.clear();
      released.clear();
      const warnings: string[] = [];
      const loaded = loadNewestCheckpoint(dir, (l) => warnings.push(l), validate);
      assert.equal(warnings.length, 1, what);
      assert.equal(loaded.run.progress.step, 1, `${what}: the older checkpoint loaded`);
      const kept = new Set([...loaded.model.params().map((p) => p.data), ...loaded.optimizerState.flatMap((s) => [s.m, s.v!])]);
      assert.equal(released.size, kept.size, `${what}: the skipped checkpoint's arrays came back, as many as the loaded one holds`);
      assert.deepEqual([...made].filter((a) => !released.has(a)).sort((a, b) => a.length - b.length),
        [...kept].sort((a, b) => a.length - b.length), `${what}: all but the loaded checkpoint's arrays came back`);
      assert.ok([...kept].every((a) => made.has(a)), `${what}: the loaded model and moments are the backend's arrays`);
    }
  } finally {
    setBackend(before);
  }
});

test('a checkpoint written among later ones (another run\'s, or one a resume skipped) is kept, and so are they: only earlier ones are pruned', () => {
  const { model, trainer } = smallRun(12, 32, 5, 8, 2, 10);
  const dir = join(TMP, 'later');
  mkdirSync(dir);
  const write = (keep: number) => writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {}, metrics: [], extra: {} }, keep);
  for (const later of [60, 70]) writeFileSync(join(dir, `step-0000000${later}.safetensors`), 'another run');
  const names = () => listCheckpoints(dir).map((p) => basename(p));
  trainer.step();
  const first = write(1);
  assert.ok(existsSync(first), 'the checkpoint just written is there');
  assert.deepEqual(names(), ['step-000000070.safetensors', 'step-000000060.safetensors', 'step-000000001.safetensors']);
  trainer.step();
  write(2);
  trainer.step();
  write(2);
  assert.deepEqual(names(), ['step-000000070.safetensors', 'step-000000060.safetensors', 'step-000000003.safetensors', 'step-000000002.safetensors'],
    'two kept up to step 3, the later ones left alone');
});

test('the run to save: metrics and extra may be left out; a run of another shape is refused naming the field', () => {
  const { model, trainer } = smallRun(12, 32, 5, 8, 1, 2);
  trainer.step();
  const progress = trainer.snapshot();
  const plain = decodeCheckpoint(encodeCheckpoint(model, trainer.optimizer, { progress, options: { lr: 1e-3 } }), 'ck');
  assert.deepEqual([plain.run.metrics, plain.run.extra, plain.run.options], [[], {}, { lr: 1e-3 }]);
  plain.model.dispose();
  const refused: Array<[unknown, RegExp]> = [
    [null, /the run to save must be \{ progress: trainer\.snapshot\(\), options, metrics\?, extra\? \}/],
    [{ progress, options: {}, metric: [] }, /the run to save: unknown setting "metric"/],
    [{ progress }, /options must be an object/],
    [{ progress, options: {}, metrics: 'step 1' }, /metrics must be an array of strings/],
    [{ progress, options: {}, extra: [1] }, /extra must be an object/],
  ];
  for (const [run, re] of refused) {
    assert.throws(() => encodeCheckpoint(model, trainer.optimizer, run as never), (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  }
  const other = smallRun(14, 32, 5, 8, 1, 2).trainer.optimizer;
  assert.throws(() => encodeCheckpoint(model, other, { progress, options: {} }), /the optimizer to save is not this model's/);
  const w = model.params()[0].data, before = w[1];
  w[1] = Infinity;
  assert.throws(() => encodeCheckpoint(model, trainer.optimizer, { progress, options: {} }), /cannot save the model: tensor layers\.0\.weight holds a non-finite value \(Infinity\) at index 1/);
  w[1] = before;
});

test('a progress the reader would refuse is not written (the checkpoints before it stay), nor resumed from', () => {
  const { model, trainer } = smallRun(13, 32, 5, 8, 1, 2);
  const dir = join(TMP, 'refused');
  mkdirSync(dir);
  trainer.step();
  writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }, 1);
  trainer.step();
  const good = trainer.snapshot();
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ epoch: '1' }, /the run to save: progress: epoch must be an integer ≥ 1 \(save trainer\.snapshot\(\)\)/],
    [{ step: Number.NaN }, /step must be an integer ≥ 0/],
    [{ lrScale: Number.NaN }, /lrScale must be a finite number/],
    [{ history: undefined }, /history must list the finished epochs/],
  ];
  for (const [change, re] of bad) {
    assert.throws(() => writeCheckpoint(dir, model, trainer.optimizer, { progress: { ...good, ...change } as never, options: {} }, 1),
      (e: unknown) => e instanceof TreegateError && /^the run to save: progress: /.test(e.message) && re.test(e.message), String(re));
  }
  assert.deepEqual(listCheckpoints(dir).map((p) => basename(p)), ['step-000000001.safetensors'], 'the good checkpoint is kept, none other written');
  // a Trainer refuses such a progress before its first step, where it used to train on NaN weights or fail at the epoch's end
  const data = { x: matrix(32, 5, new Float32Array(160)), y: Int32Array.from({ length: 32 }, (_, i) => i % 3) };
  const opts = { epochs: 2, batchSize: 8, lr: 1e-3, schedule: 'constant' as const, optimizer: { kind: 'adam' as const } };
  for (const [change, re] of bad.slice(2)) {
    assert.throws(() => new Trainer(model, data, null, opts, new Rng(1), { ...good, ...change } as never),
      (e: unknown) => e instanceof TreegateError && /^the progress to resume: /.test(e.message) && re.test(e.message) && /snapshot\(\)/.test(e.hint ?? ''), String(re));
  }
});

test('loadNewestCheckpoint names the folder it was given, in words for a library caller (no CLI flags)', () => {
  const none = join(TMP, 'no-such-folder'), file = join(TMP, 'a-file'), empty = join(TMP, 'empty');
  writeFileSync(file, 'x');
  mkdirSync(empty);
  const refused = (dir: string, re: RegExp) => assert.throws(() => loadNewestCheckpoint(dir, () => {}), (e: unknown) => {
    assert.ok(e instanceof TreegateError);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /--/, 'no command-line flag in a library error');
    return true;
  });
  refused(none, /no-such-folder does not exist \(pass the folder that writeCheckpoint wrote to\)/);
  refused(file, /a-file is not a folder/);
  refused(empty, /no checkpoint in .*empty \(writeCheckpoint writes its files there, named step-NNNNNNNNN\.safetensors\)/);
  writeFileSync(join(empty, 'step-000000001.safetensors'), 'not a checkpoint');
  const warnings: string[] = [];
  assert.throws(() => loadNewestCheckpoint(empty, (l) => warnings.push(l)),
    (e: unknown) => e instanceof TreegateError && /no valid checkpoint in .*: step-000000001\.safetensors was skipped \(see the warnings\)$/.test(e.message));
  assert.equal(warnings.length, 1);
});

test('listCheckpoints lists step-NNNNNNNNN.safetensors files only, and writeCheckpoint prunes none of the others', () => {
  const { model, trainer } = smallRun(16, 32, 5, 8, 1, 2);
  const dir = join(TMP, 'names');
  mkdirSync(dir);
  const others = ['.step-000000001.safetensors.tmp-1-0a1b2c3d4e5f', 'step-000000001.safetensors.bak', 'old-step-000000001.safetensors', 'step-1.safetensors'];
  for (const name of others) writeFileSync(join(dir, name), 'not a checkpoint of this run');
  const write = (keep: number) => writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }, keep);
  for (let i = 0; i < 2; i++) {
    trainer.step();
    write(1);
  }
  assert.deepEqual(listCheckpoints(dir).map((p) => basename(p)), ['step-000000002.safetensors']);
  assert.deepEqual(readdirSync(dir).sort(), [...others, 'step-000000002.safetensors'].sort(), 'the other files are left');
});

/** Runs `fn` with the node:fs function `name` throwing `error` for `path` (for the modules that import it by name too). */
function failingFor(name: 'readdirSync' | 'openSync', path: string, error: Error, fn: () => void): void {
  const real = fs[name] as (...args: unknown[]) => unknown;
  (fs as Record<string, unknown>)[name] = (...args: unknown[]) => {
    if (args[0] === path) throw error;
    return real(...args);
  };
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    (fs as Record<string, unknown>)[name] = real;
    syncBuiltinESMExports();
  }
}

test('checkpoints this user may not read are an error saying so, not "none" nor skipped; one that fails to read otherwise is skipped', () => {
  const { model, trainer } = smallRun(17, 32, 5, 8, 1, 2);
  const dir = join(TMP, 'unreadable');
  mkdirSync(dir);
  for (let i = 0; i < 2; i++) {
    trainer.step();
    writeCheckpoint(dir, model, trainer.optimizer, { progress: trainer.snapshot(), options: {} }, 2);
  }
  const newest = listCheckpoints(dir)[0];
  const failing = (code: string) => Object.assign(new Error(`${code}: it failed, open '${newest}'`), { code });
  failingFor('readdirSync', dir, failing('EACCES'), () => {
    assert.throws(() => listCheckpoints(dir), (e: unknown) => e instanceof TreegateError && e.message.startsWith(`cannot list the checkpoints in ${dir}: `)
      && /give this user read access/.test(e.hint ?? ''));
  });
  for (const [code, step] of [['EACCES', null], ['EIO', 1]] as const) {
    const warnings: string[] = [];
    failingFor('openSync', newest, failing(code), () => {
      if (step === null) {
        assert.throws(() => loadNewestCheckpoint(dir, (l) => warnings.push(l)), (e: unknown) => e instanceof TreegateError
          && e.message.startsWith(`cannot read checkpoint ${newest}: `) && /give this user read access .*nothing there is damaged/.test(e.hint ?? ''), code);
      } else {
        assert.equal(loadNewestCheckpoint(dir, (l) => warnings.push(l)).run.progress.step, step, code);
      }
    });
    assert.equal(warnings.length, step === null ? 0 : 1, `${code}: ${warnings.join('; ')}`);
  }
});
