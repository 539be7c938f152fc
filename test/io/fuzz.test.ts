/**
 * Property-based fuzzing (fast-check) of every reader of outside bytes: the
 * safetensors container, model files (their JSON config), checkpoints, MNIST
 * IDX files and CSV files. Each gets valid files, mutations of them (flipped
 * bytes, truncations, extensions, header values replaced by huge, negative or
 * odd ones) and random bytes, and must either return a result or throw a
 * TreegateError — never another exception, never a hang — while allocating
 * typed arrays of at most a bounded multiple of the input's size.
 *
 * 10 000 cases per reader (about 20 s in all); TREEGATE_FUZZ_RUNS=N changes the
 * count, e.g. for a longer hunt:  TREEGATE_FUZZ_RUNS=100000 node --import tsx --test test/io/fuzz.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TreegateError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { parseCsv } from '../../src/data/csv.js';
import { readIdx } from '../../src/data/idx.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint.js';
import { decodeModel, encodeModel } from '../../src/io/model-codec.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { Optimizer } from '../../src/train/optim.js';

const RUNS = Number(process.env.TREEGATE_FUZZ_RUNS ?? 10000);

// ---------------------------------------------------------------- allocation tracking

let allocated = 0;
/** Typed arrays and ArrayBuffers made while a reader runs are counted (bytes requested), through subclasses installed globally. */
function track<T extends new (...a: any[]) => ArrayBufferView | ArrayBuffer>(name: string, Base: T): void {
  const bytesPer = (Base as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  const Tracked = class extends (Base as any) {
    constructor(...args: any[]) {
      if (typeof args[0] === 'number') allocated += args[0] * bytesPer;
      super(...args);
    }
  };
  (globalThis as any)[name] = Tracked;
}

function withTracking<R>(f: () => R): { result: R | undefined; error: unknown; bytes: number } {
  const saved = ['Float32Array', 'Float64Array', 'Int32Array', 'Uint8Array', 'ArrayBuffer'].map((n) => [n, (globalThis as any)[n]] as const);
  for (const [n, B] of saved) track(n, B);
  allocated = 0;
  try {
    return { result: f(), error: undefined, bytes: allocated };
  } catch (error) {
    return { result: undefined, error, bytes: allocated };
  } finally {
    for (const [n, B] of saved) (globalThis as any)[n] = B;
  }
}

/** Runs a reader on `bytes`: it returns or throws a TreegateError, and allocates at most `factor`·size + `slack` bytes. */
function expectCleanOutcome(what: string, bytes: { length: number }, read: () => unknown, factor = 8, slack = 16 << 20): void {
  const { error, bytes: used } = withTracking(read);
  if (error !== undefined && !(error instanceof TreegateError)) {
    throw new assert.AssertionError({ message: `${what}: ${bytes.length} input bytes raised ${(error as Error)?.stack ?? String(error)}` });
  }
  assert.ok(used <= factor * bytes.length + slack, `${what}: allocated ${used} bytes for a ${bytes.length}-byte input`);
}

// ---------------------------------------------------------------- mutations

/** A mutation of valid bytes: flips, truncation, extension, splices of random bytes. */
function mutated(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const base = fc.integer({ min: 0, max: valid.length - 1 }).map((i) => valid[i]);
  return fc.oneof(
    fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }))
      .map(([b, flips]) => { const c = b.slice(); for (const [p, x] of flips) c[p % c.length] ^= x; return c; }),
    fc.tuple(base, fc.nat()).map(([b, n]) => b.slice(0, n % (b.length + 1))),
    fc.tuple(base, fc.uint8Array({ maxLength: 64 })).map(([b, tail]) => { const c = new Uint8Array(b.length + tail.length); c.set(b); c.set(tail, b.length); return c; }),
    fc.tuple(base, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 32 })).map(([b, p, s]) => { const c = b.slice(); c.set(s.subarray(0, Math.max(0, c.length - (p % (c.length + 1)))), p % (c.length + 1)); return c; }),
    fc.uint8Array({ maxLength: 512 }),
  );
}

/** A safetensors header JSON with one value replaced by something hostile (huge, negative, fractional, wrong type). */
function hostileHeader(valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const replacement = fc.constantFrom('1099511627776', '-1', '1.5', '"F32"', 'null', '[]', '{}', '9007199254740993', '4294967296', '[1099511627776]',
    '[1048576,1048576]', '"I64"', '"__proto__"', 'true');
  return fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.nat(), replacement).map(([i, pick, rep]) => {
    const b = valid[i];
    const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const text = new TextDecoder().decode(b.subarray(8, 8 + n));
    const numbers = [...text.matchAll(/-?\d+(\.\d+)?|"[A-Z0-9]+"|\[[^[\]]*\]/g)];
    if (numbers.length === 0) return b;
    const m = numbers[pick % numbers.length];
    const header = new TextEncoder().encode(text.slice(0, m.index) + rep + text.slice(m.index! + m[0].length));
    const out = new Uint8Array(8 + header.length + (b.length - 8 - n));
    new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
    out.set(header, 8);
    out.set(b.subarray(8 + n), 8 + header.length);
    return out;
  });
}

// ---------------------------------------------------------------- valid samples

function sampleModels(): Model[] {
  const rng = new Rng(5);
  return [
    new Model(mlpConfig({ inputSize: 6, numClasses: 3, hidden: [5], treeLayers: [1], depth: 2, gating: 'projection' }), rng),
    new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [4], treeLayers: [2], routed: 'moe', depth: 1, topK: 1 }), rng),
    new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [], treeLayers: [1], routed: 'flat', depth: 1 }), rng),
  ];
}

const models = sampleModels();
const modelFiles = models.map((m) => encodeModel(m));
const checkpointFiles = models.map((m) => encodeCheckpoint(m, new Optimizer(m.params(), { kind: 'adam' }), {
  progress: {
    epoch: 1, position: 0, step: 3, epochRng: new Rng(1).getState(), lossSum: 0, correct: 0, seen: 0, lrScale: 1, skippedSteps: 0,
    seconds: 0, history: [], usage: m.routedLayers().map(({ layer }) => layer.leafUsage().counts.map((c) => Array.from(c))),
  },
  options: { seed: 1 }, metrics: ['{"type":"step"}'], extra: {},
}));
const safetensorsFiles = [
  encodeSafetensors([]),
  encodeSafetensors([{ name: 'a', shape: [2, 3], data: new Float32Array(6) }, { name: 'b', shape: [0], data: new Float32Array(0) }], { k: 'v' }),
  ...modelFiles,
];

function idx(dims: number[], extra = 0): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  const b = new Uint8Array(4 + 4 * dims.length + count + extra);
  b[2] = 0x08;
  b[3] = dims.length;
  dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d, false));
  return b;
}
const idxFiles = [idx([3, 2, 2]), idx([5]), idx([1, 28, 28])];
const csvFiles = ['x,y,label\n1,2,a\n3,4,b\n', '0.5,1\n0.25,0\n-1,1\n', 'a,b,c\n1,2,3\n4,5,6\n'].map((t) => new TextEncoder().encode(t));

// ---------------------------------------------------------------- properties

const readers: Array<[string, Uint8Array[], (b: Uint8Array) => unknown, fc.Arbitrary<Uint8Array>[]]> = [
  ['safetensors', safetensorsFiles, (b) => decodeSafetensors(b, 'fuzz.safetensors'), [hostileHeader(safetensorsFiles)]],
  ['model file (JSON config)', modelFiles, (b) => decodeModel(b, 'fuzz.safetensors'), [hostileHeader(modelFiles)]],
  ['checkpoint', checkpointFiles, (b) => decodeCheckpoint(b, 'fuzz-checkpoint.safetensors'), [hostileHeader(checkpointFiles)]],
  ['IDX', idxFiles, (b) => readIdx(b, 'fuzz-idx'), []],
  ['CSV', csvFiles, (b) => parseCsv(new TextDecoder().decode(b), 'fuzz.csv'), [fc.string({ maxLength: 200 }).map((s) => new TextEncoder().encode(s))]],
];

for (const [name, valid, read, extra] of readers) {
  test(`fuzz ${name}: ${RUNS} generated and mutated inputs, each a result or a TreegateError with bounded allocation`, { timeout: 600_000 }, () => {
    for (const v of valid) assert.doesNotThrow(() => read(v), `${name}: the valid sample reads`);
    fc.assert(fc.property(fc.oneof(mutated(valid), ...extra), (bytes) => {
      expectCleanOutcome(name, bytes, () => read(bytes));
    }), { numRuns: RUNS, seed: 20261129 });
  });
}

test('hostile headers of each container are rejected before allocating what they claim', () => {
  const huge = (header: object) => {
    const h = new TextEncoder().encode(JSON.stringify(header));
    const b = new Uint8Array(8 + h.length + 16);
    new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
    b.set(h, 8);
    return b;
  };
  const cases: Array<[string, Uint8Array, () => unknown, RegExp]> = [];
  const t40 = huge({ w: { dtype: 'F32', shape: [1048576, 1048576], data_offsets: [0, 4398046511104] } });
  cases.push(['safetensors 2^40 elements', t40, () => decodeSafetensors(t40, 'x'), /data_offsets end 4398046511104 is beyond the 16-byte data buffer/]);
  const cfg = encodeSafetensors([{ name: 'layers.0.weight', shape: [2], data: new Float32Array(2) }], {
    format: 'treegate-model/1', config: JSON.stringify({ inputSize: 1048576, numClasses: 1048576, layers: [{ kind: 'dense', inputSize: 1048576, outputSize: 1048576 }] }),
  });
  cases.push(['config 2^40 parameters', cfg, () => decodeModel(cfg, 'x'), /does not fit one array|needs \d+ parameter values but the file holds 2/]);
  const moe = encodeSafetensors([], {
    format: 'treegate-model/1', config: JSON.stringify({ inputSize: 1024, numClasses: 1024, layers: [{ kind: 'moe', inputSize: 1024, outputSize: 1024, experts: 1024, topK: 1, balanceWeight: 0 }] }),
  });
  cases.push(['config 2^30 parameters', moe, () => decodeModel(moe, 'x'), /the config needs 1075838976 parameter values but the file holds 0/]);
  const idx40 = new Uint8Array(20); // four dimensions of 1024, no data
  idx40[2] = 0x08;
  idx40[3] = 4;
  for (let d = 0; d < 4; d++) new DataView(idx40.buffer).setUint32(4 + 4 * d, 1024, false);
  cases.push(['IDX 2^40 elements', idx40, () => readIdx(idx40, 'x'), /need 1099511627776 data bytes but only 0 follow the header/]);
  // the tracking sees a reader's allocations: a valid model file's weights are counted, once (each tensor is read
  // into its parameter's array, not decoded first and copied)
  const big = new Model(mlpConfig({ inputSize: 64, numClasses: 3, hidden: [64], treeLayers: [1], depth: 4, gating: 'projection' }), new Rng(2));
  const weights = big.parameterCount() * 4, bigFile = encodeModel(big), loaded = withTracking(() => decodeModel(bigFile, 'x')).bytes;
  assert.ok(loaded >= weights && loaded < 1.5 * weights, `${loaded} bytes allocated for ${weights} bytes of weights`);
  for (const [what, , read, re] of cases) {
    const { error, bytes: used } = withTracking(read);
    assert.ok(error instanceof TreegateError, `${what}: ${String(error)}`);
    assert.match(error.message, re, what);
    assert.ok(used < 1 << 20, `${what}: allocated ${used} bytes`);
  }
});
