/**
 * Arrays in the wasm module's memory (the backend's floats(), src/kernels/wasm/heap.ts): the kernels read and
 * write them in place instead of copying them in and out, with the same kernel calls, so every product, grouped
 * product, update and fused step gives the same bits in place as copied, for each operand in place alone and for
 * all of them; the heap's blocks are reused once their arrays are collected, and come back zeroed; floats() gives
 * ordinary arrays past residentBytes and on a module without a shared memory; a model trained with its parameters
 * in place is the one trained with them copied, bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileWasmSync, createWasmBackend, type WasmBackend } from '../../src/kernels/wasm/core.js';
import { DEFAULT_WASM_THREADS_URL, DEFAULT_WASM_URL, nodeThreadHost } from '../../src/kernels/wasm/index.js';
import { Heap } from '../../src/kernels/wasm/heap.js';
import { registerBackend, setBackend } from '../../src/kernels/backend.js';
import { matrix } from '../../src/core/tensor.js';
import { Model, type ModelConfig } from '../../src/layers/model.js';
import { Optimizer } from '../../src/train/optim.js';
import type { WeightStep } from '../../src/kernels/weight-step.js';
import { assertBitEqual, randomArray, Rng, route, trainSmallModel, wasmTreeShapes } from '../helpers.js';

const module = compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL)));
const be: WasmBackend = createWasmBackend(module, { threads: 2 }, nodeThreadHost);

/** A copy of `a` in the module's memory. */
function here(a: Float32Array): Float32Array {
  const h = be.floats(a.length);
  h.set(a);
  return h;
}

/**
 * Runs `op` on plain copies of the arrays, then with each array in place alone and with all of them in place,
 * and compares every array afterwards (inputs and outputs) bit for bit with the plain run.
 */
function sameInPlace(what: string, arrays: Float32Array[], op: (xs: Float32Array[]) => void): void {
  const plain = arrays.map((a) => a.slice());
  op(plain);
  const variants = [...arrays.map((_, i) => [i]), arrays.map((_, i) => i)];
  for (const which of variants) {
    const xs = arrays.map((a, i) => (which.includes(i) ? here(a) : a.slice()));
    op(xs);
    xs.forEach((x, i) => assertBitEqual(x, plain[i], `${what}: array ${i}, arrays ${which.join(',')} in place`));
  }
}

test('heap: first fit, neighbours merged, the top lowered when its last block goes; limits respected', () => {
  const h = new Heap(1024);
  const a = h.alloc(100, 1 << 20), b = h.alloc(64, 1 << 20), c = h.alloc(200, 1 << 20);
  assert.deepEqual([a, b, c], [1024, 1152, 1216]);
  assert.equal(h.used, 128 + 64 + 256);
  assert.equal(h.alloc(1 << 20, 1 << 20), -1); // past the limit: refused, nothing taken
  h.release(b, 64);
  assert.equal(h.alloc(10, 1 << 20), b); // first fit reuses the hole
  h.release(b, 10);
  h.release(a, 100); // merged with b's hole: one block of 192
  assert.equal(h.alloc(150, 1 << 20), a);
  h.release(a, 150);
  h.release(c, 200); // the last block: the top comes down past every free block
  assert.equal(h.top, 1024);
  assert.equal(h.used, 0);
});

test('wasm in place: floats() gives zeros in the module\'s memory, plain arrays past residentBytes or without a shared memory', () => {
  const a = be.floats(1000);
  assert.ok(a instanceof Float32Array && a.length === 1000 && a.every((v) => v === 0));
  assert.equal(a.buffer.constructor.name, 'SharedArrayBuffer');
  assert.notEqual(be.floats(10).byteOffset, a.byteOffset);
  const small = createWasmBackend(module, { threads: 1, residentBytes: 4096 }, nodeThreadHost);
  assert.equal(small.floats(512).buffer.constructor.name, 'SharedArrayBuffer'); // 2 KiB: fits
  assert.equal(small.floats(2048).buffer.constructor.name, 'ArrayBuffer'); // 8 KiB more: past the 4 KiB
  assert.equal(createWasmBackend(module, { residentBytes: 0 }, nodeThreadHost).floats(16).buffer.constructor.name, 'ArrayBuffer');
  const single = createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_URL))));
  assert.equal(single.floats(16).buffer.constructor.name, 'ArrayBuffer'); // its own memory detaches views when it grows
  for (const n of [0, 1, 7]) assert.equal(be.floats(n).length, n);
  small.close();
});

test('wasm in place: a collected array\'s block is reused, zeroed; arrays alive keep their values through growth', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const x = createWasmBackend(module, { threads: 1 }, nodeThreadHost);
  const keep = x.floats(1000).fill(3);
  let first = x.floats(1 << 16).fill(7);
  const at = first.byteOffset;
  first = new Float32Array(0);
  let again: Float32Array | null = null;
  // the finalizer runs when V8 gets to it, not at gc(): up to 200 tries (it came within a few in every run seen)
  for (let i = 0; i < 200 && again === null; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    const b = x.floats(1 << 16);
    if (b.byteOffset === at) again = b;
  }
  assert.ok(again, 'the collected array\'s block was not reused');
  assert.ok(again.every((v) => v === 0), 'a reused block must come back zeroed');
  // the memory grows (a large product's arena); arrays made before it keep their values
  x.gemmNT(300, 300, 2000, new Float32Array(300 * 2000), 0, new Float32Array(300 * 2000), 0, new Float32Array(300 * 300), 0, false);
  assert.ok(keep.every((v) => v === 3));
  x.close();
  assert.equal(first.length, 0);
});

test('wasm in place: release() gives a block back at once; Model.dispose and Optimizer.dispose release their arrays', () => {
  const x = createWasmBackend(module, { threads: 1 }, nodeThreadHost);
  const a = x.floats(1 << 16).fill(5), at = a.byteOffset;
  x.release(a);
  x.release(a); // twice: nothing more happens
  x.release(new Float32Array(4)); // not its own: nothing happens
  const b = x.floats(1 << 16);
  assert.equal(b.byteOffset, at, 'the released block is the first fit');
  assert.ok(b.every((v) => v === 0));
  registerBackend(x);
  setBackend('wasm');
  try {
    const cfg: ModelConfig = { inputSize: 64, numClasses: 4, layers: [
      { kind: 'tree', inputSize: 64, outputSize: 32, depth: 2, blocks: 1, gating: 'units', gateUnits: [0, 1], nodeInit: 'small' },
      { kind: 'activation', fn: 'relu' }, { kind: 'dense', inputSize: 32, outputSize: 4 }] };
    let first = -1;
    for (let round = 0; round < 20; round++) {
      const model = new Model(cfg, new Rng(round));
      // each model's arrays where the disposed one's were (no collection ran in between)
      const at = model.params()[0].data.byteOffset;
      if (round === 0) first = at;
      assert.equal(at, first, `round ${round}: the model's first array`);
      const opt = new Optimizer(model.params(), { kind: 'adam' });
      const input = matrix(8, 64, randomArray(new Rng(1), 8 * 64));
      model.lossAndGrad(input, Int32Array.from({ length: 8 }, (_, i) => i % 4), opt.early(1e-2));
      opt.step(1e-2);
      model.forward(input, 'infer'); // collapsed tables too
      assert.ok(model.params().every((p) => p.data.buffer.constructor.name === 'SharedArrayBuffer'));
      const params = model.params();
      model.dispose();
      opt.dispose();
      assert.ok(params.every((p) => p.size === 0));
      assert.throws(() => model.forward(input, 'infer'), /this model was disposed/);
      assert.throws(() => model.params(), /this model was disposed/);
    }
  } finally {
    setBackend('js');
    registerBackend(be);
    x.close();
  }
});

test('wasm in place: a model run on another backend and back gives its inference tables back each time (the memory does not grow)', () => {
  const x = createWasmBackend(module, { threads: 1 }, nodeThreadHost);
  registerBackend(x);
  setBackend('js');
  try {
    // made on js (its parameters ordinary arrays); its collapsed leaves on wasm are 16 × 256 × 256 floats (4 MiB) of x's memory
    const model = new Model({ inputSize: 256, numClasses: 4, layers: [
      { kind: 'tree', inputSize: 256, outputSize: 256, depth: 4, blocks: 1, gating: 'projection', nodeInit: 'small' },
      { kind: 'activation', fn: 'relu' }, { kind: 'dense', inputSize: 256, outputSize: 4 }] }, new Rng(3));
    const input = matrix(1, 256, randomArray(new Rng(4), 256));
    const sizes: number[] = [];
    for (let round = 0; round < 12; round++) {
      setBackend('wasm');
      model.predict(input);
      sizes.push(x.info().memoryBytes);
      setBackend('js');
      model.predict(input);
    }
    // before the fix every switch took new tables there, the others left to a collection: 8 MiB → 65 MiB over the 12 rounds
    assert.deepEqual(sizes, sizes.map(() => sizes[0]), `the module's memory by round (bytes): ${sizes.join(', ')}`);
    model.dispose();
  } finally {
    setBackend('js');
    registerBackend(be);
    x.close();
  }
});

test('wasm in place: a memory that cannot grow, or a residentBytes past wasm32, leaves floats() plain and the calls working', () => {
  const x = createWasmBackend(module, { threads: 1, residentBytes: 2 ** 32 }, nodeThreadHost);
  const rng = new Rng(95), a = randomArray(rng, 2 * 64), b = randomArray(rng, 3 * 64);
  const ref = new Float32Array(6);
  be.gemmNT(2, 3, 64, a, 0, b, 0, ref, 0, false);
  const check = (what: string): void => {
    const c = new Float32Array(6);
    x.gemmNT(2, 3, 64, a, 0, b, 0, c, 0, false);
    assertBitEqual(c, ref, what);
  };
  assert.equal(x.floats(2 ** 30 - 2 ** 10).buffer.constructor.name, 'ArrayBuffer'); // 4 GiB: past what wasm32 leaves
  check('after a floats() past wasm32');
  const memory = Object.getPrototypeOf(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true })) as { grow(n: number): number };
  const grow = memory.grow;
  memory.grow = () => { throw new RangeError('refused (test)'); };
  let refused: Float32Array;
  try {
    refused = x.floats(1 << 22);
  } finally {
    memory.grow = grow;
  }
  assert.equal(refused.buffer.constructor.name, 'ArrayBuffer');
  check('after a floats() the memory could not grow for');
  assert.equal(x.floats(1 << 22).buffer.constructor.name, 'SharedArrayBuffer'); // growth allowed again
  x.close();
});

test('wasm in place: the js and native kernels take arrays of the module\'s memory (a model made on wasm, run elsewhere)', async () => {
  const { getBackend } = await import('../../src/kernels/backend.js');
  const { registerAvailableBackends } = await import('../../src/kernels/select.js');
  registerAvailableBackends();
  const rng = new Rng(96);
  const k = 3, m = 64, s = 48, T = 15, rt = route(Array.from({ length: 40 }, () => rng.int(8)), k), N = 40;
  const xs = randomArray(rng, N * s), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m), y = randomArray(rng, N * m);
  for (const name of ['js', 'native']) {
    const other = getBackend(name);
    if (!other) continue; // native: not built here
    sameInPlace(`${name} groupedForward`, [w, bias, y], ([w, bias, y]) => other.groupedForward(rt, xs, s, w, bias, m, y));
    sameInPlace(`${name} gemmNT`, [xs, w, y], ([xs, w, y]) => other.gemmNT(N, m, s, xs, 0, w, 0, y, 0, true));
  }
});

test('wasm in place: products give the copied bits with any operand in place (NT, NN, TN, strided; few rows, streamed W)', () => {
  const rng = new Rng(91);
  for (const [M, N, K] of [[1, 1024, 1024], [3, 777, 513], [6, 300, 700], [9, 300, 530], [64, 200, 100], [256, 512, 512],
    [5, 4096, 64], [0, 50, 50], [40, 40, 0]]) {
    const a = randomArray(rng, M * K + 3), b = randomArray(rng, N * K + 5), c = randomArray(rng, M * N + 2);
    for (const acc of [false, true]) {
      sameInPlace(`gemmNT M=${M} N=${N} K=${K} acc=${acc}`, [a, b, c], ([a, b, c]) => be.gemmNT(M, N, K, a, 3, b, 5, c, 2, acc));
      sameInPlace(`gemmNN M=${M} N=${N} K=${K} acc=${acc}`, [a, b, c], ([a, b, c]) => be.gemmNN(M, N, K, a, 3, b, 5, c, 2, acc));
      sameInPlace(`gemmTN M=${M} N=${N} K=${K} acc=${acc}`, [a, b, c], ([a, b, c]) => be.gemmTN(M, N, K, a, 3, b, 5, c, 2, acc));
      if (M > 0 && N > 1) {
        sameInPlace(`gemmStrided M=${M} N=${N} K=${K} acc=${acc}`, [a, b, c], ([a, b, c]) =>
          be.gemmStrided(M, N - 1, K, a, 3, K, 1, b, 5, 1, K, c, 2, N, acc));
      }
    }
  }
});

test('wasm in place: grouped products give the copied bits with weights, biases and gradients in place', () => {
  const rng = new Rng(92);
  for (const { what, k, m, s, rt } of wasmTreeShapes(rng)) {
    const T = 2 ** (k + 1) - 1, N = rt.end[0] ?? 0;
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
    const y = randomArray(rng, N * m), dx = randomArray(rng, N * s), dw = randomArray(rng, T * m * s), db = randomArray(rng, T * m);
    sameInPlace(`groupedForward ${what}`, [w, bias, y], ([w, bias, y]) => be.groupedForward(rt, xs, s, w, bias, m, y));
    sameInPlace(`groupedForward packed ${what}`, [w, bias, y], ([w, bias, y]) =>
      be.groupedForward(rt, xs, s, be.packNodes(w, T, m, s), bias, m, y, true));
    sameInPlace(`groupedBackwardInput ${what}`, [w, dx], ([w, dx]) => be.groupedBackwardInput(rt, dys, m, w, s, dx));
    sameInPlace(`groupedBackwardWeight ${what}`, [dw, db], ([dw, db]) => be.groupedBackwardWeight(rt, dys, m, xs, s, dw, db));
  }
});

test('wasm in place: addArrays and addRowVector (the path sums\' tables and gradients) give the copied bits with any array in place', () => {
  const rng = new Rng(5101);
  // 65 536 and 100 003 floats, and 20 rows of 6 001: split between the two threads in place
  for (const n of [0, 1, 3, 4, 5, 33, 1000, 65536, 100003]) {
    sameInPlace(`addArrays n=${n}`, [randomArray(rng, n), randomArray(rng, n), randomArray(rng, n)], ([a, b, out]) => be.addArrays(a, b, out, n));
    sameInPlace(`addRowVector 1×${n}`, [randomArray(rng, n), randomArray(rng, n)], ([y, v]) => be.addRowVector(y, 1, n, v));
    sameInPlace(`addRowVector 3×${n}`, [randomArray(rng, 3 * n), randomArray(rng, n)], ([y, v]) => be.addRowVector(y, 3, n, v));
  }
  sameInPlace('addRowVector 20×6001', [randomArray(rng, 20 * 6001), randomArray(rng, 6001)], ([y, v]) => be.addRowVector(y, 20, 6001, v));
});

test('wasm in place: optimizer updates and the fused weight step give the copied bits with any state in place', () => {
  const rng = new Rng(93);
  // the updates run slot by slot, whatever the depth: the deepest 512-wide tree (127 tables of 1 MB; the test took
  // 82 s with it on 2 cores, 13 s without) gives way to a shallower one with tables as large
  const shapes = wasmTreeShapes(rng).filter(({ k, m, s }) => !(k === 6 && m === 512 && s === 512));
  shapes.push({ what: 'k=3 N=256 m=512 s=512', k: 3, m: 512, s: 512, rt: route(Array.from({ length: 256 }, () => rng.int(8)), 3) });
  for (const { what, k, m, s, rt } of shapes) {
    const T = 2 ** (k + 1) - 1, N = rt.end[0] ?? 0, size = m * s;
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m);
    const w = randomArray(rng, T * size), mo = randomArray(rng, T * size, 0.1), v = randomArray(rng, T * size, 0.01).map(Math.abs);
    const db = randomArray(rng, T * m), decay = Float32Array.from({ length: T }, (_, t) => 0.5 ** Math.floor(Math.log2(t + 1)));
    for (const kind of ['adam', 'sgd'] as const) {
      const step = (m: Float32Array, v: Float32Array | null, steps: Int32Array): WeightStep => ({
        kind, m, v: kind === 'adam' ? v : null, steps, decayScale: decay, lr: 1e-2, weightDecay: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, momentum: 0.9,
      });
      // the fused step: w, m, v in place or not (the gradients stay in linear memory); dw holds zeros
      sameInPlace(`groupedBackwardWeightStep ${kind} ${what}`, [w, mo, v, db], ([w, mo, v, db]) =>
        be.groupedBackwardWeightStep(rt, dys, m, xs, s, w, new Float32Array(T * size), db, step(mo, v, new Int32Array(T))));
      // the plain updates over the routing's nodes (distinct slots), gradients in place too
      const g = randomArray(rng, T * size);
      sameInPlace(`${kind}Update ${what}`, [w, g, mo, v], ([w, g, mo, v]) => {
        const steps = new Int32Array(T);
        if (kind === 'adam') be.adamUpdate(w, g, mo, v, size, rt.node, rt.nodeCount, steps, decay, 1e-2, 1e-3, 0.9, 0.99, 1e-8, true);
        else be.sgdUpdate(w, g, mo, size, rt.node, rt.nodeCount, steps, decay, 1e-2, 1e-3, 0.9, true);
      });
    }
  }
});

test('wasm in place: a model trained with its parameters and optimizer state in place is the copied one, bit for bit', () => {
  const run = (resident: boolean): { params: Float32Array[]; logits: Float32Array } => {
    const x = createWasmBackend(module, { threads: 2, residentBytes: resident ? 1 << 30 : 0 }, nodeThreadHost);
    registerBackend(x);
    setBackend('wasm');
    try {
      const r = trainSmallModel();
      assert.equal(r.model.params().every((p) => p.data.buffer.constructor.name === 'SharedArrayBuffer'), resident);
      return r;
    } finally {
      setBackend('js');
      registerBackend(be);
      x.close();
    }
  };
  const copied = run(false), inPlace = run(true);
  inPlace.params.forEach((w, i) => assertBitEqual(w, copied.params[i], `parameter ${i}`));
  assertBitEqual(inPlace.logits, copied.logits, 'inference logits');
});
