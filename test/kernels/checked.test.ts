/**
 * Bad kernel arguments are errors on every backend, before anything is read or written: the js reference and
 * the wasm backend through src/kernels/checked.ts, the native addon in C++. Cases from a fuzzing review: a
 * negative stride made the wasm scatter overwrite its cached tables (later forwards changed), a repeated
 * optimizer slot was applied once on wasm and twice on js, short arrays and labels past the logits read
 * neighbouring memory, and a flag of 1 meant true on js and false on native.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Routing } from '../../src/kernels/routing.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { backend, backendNames, floatsFor, getBackend, jsBackend, registerBackend, releaseFloats, setBackend, type Backend } from '../../src/kernels/backend.js';
import { OutOfMemoryError, TreegateError } from '../../src/core/errors.js';
import { decodeModel, encodeModel } from '../../src/io/model-codec.js';
import { Model, mlpConfig } from '../../src/layers/model.js';
import { Rng } from '../../src/core/rng.js';
import { Optimizer } from '../../src/train/optim.js';
import { loadAddon } from '../../src/kernels/native/index.js';

const backends: Backend[] = registerAvailableBackends().map((n) => setBackend(n));
setBackend('js');
const f = (n: number, v = 1) => new Float32Array(n).fill(v);
const bad = (b: Backend, call: () => unknown, re: RegExp, what: string) =>
  assert.throws(call, (e: unknown) => e instanceof Error && re.test(e.message), `${b.name}: ${what}`);

test('sizes, strides and offsets must be whole and ≥ 0, and every view inside its array, on every backend', () => {
  for (const b of backends) {
    bad(b, () => b.gemmNT(2.5, 2, 2, f(8), 0, f(8), 0, f(8), 0, false), /M must be|must be an integer|must be a non-negative/, 'fractional M');
    bad(b, () => b.gemmNT(2, 2, 2, f(3), 0, f(8), 0, f(8), 0, false), /past|runs past|too small|needs/, 'a too short');
    bad(b, () => b.gemmStrided(2, 2, 2, f(8), -1, 2, 1, f(8), 0, 2, 1, f(8), 0, 2, false), /ao must be|must be an integer|non-negative/, 'negative offset');
    bad(b, () => b.gemmNT(1, 1, 1, f(1), 0, f(1), 0, f(1), 0, 1 as unknown as boolean), /accumulate must be true or false/, 'flag 1');
    bad(b, () => b.gemmStrided(2, 2, 2, f(8), 0, 2, 1, f(8), 0, 2, 1, f(8), 0, 1, false), /rows of 2 floats at a row stride of 1 overlap/, 'rows of C that overlap');
    bad(b, () => b.addRowVector(f(5), 2, 3, f(3)), /holds 5 floats, needs 6|needs 6 elements/, 'short y');
    bad(b, () => b.reluForward(f(3), f(2), 3), /holds 2 floats|needs 3 elements/, 'short output');
    bad(b, () => b.addArrays(f(3), f(2), f(3), 3), /b holds 2 floats|b: needs 3 elements/, 'short b');
    bad(b, () => b.addArrays(f(3), f(3), f(3), -1), /count must be|must be a non-negative|must be an integer/, 'negative count');
    bad(b, () => b.packNodes(f(10), 2, 2, 3), /holds 10 floats, needs 12|fewer than T·m·s/, 'short tables');
    // arguments shifted by one (an array where the offset belongs): the message is short and says what came
    const shifted = () => (b.gemmNT as (...a: unknown[]) => void)(2, 2, 2, f(100000), f(100000), 0, f(4), 0, false);
    bad(b, shifted, /ao must be|must be an integer|must be a number|must be a typed array/, 'an array as the offset');
    assert.throws(shifted, (e: unknown) => e instanceof Error && e.message.length < 300, `${b.name}: the message of an array as the offset is short`);
  }
});

test('node products of empty nodes (m or s = 0) are refused as such on every backend, not as short buffers', () => {
  for (const b of backends) {
    const rt = new Routing();
    rt.leaf = Int32Array.of(0, 1);
    rt.sort(2, 1);
    bad(b, () => b.groupedForward(rt, f(8), 4, f(24), f(6), 0, f(4)), /the nodes are 0×4: empty/, 'forward, m = 0');
    bad(b, () => b.groupedForward(rt, f(8), 0, f(24), f(6), 2, f(4)), /the nodes are 2×0: empty/, 'forward, s = 0');
    bad(b, () => b.groupedBackwardInput(rt, f(4), 0, f(24), 4, f(8), 0, 3), /the nodes are 0×4: empty/, 'input gradient, m = 0');
    bad(b, () => b.groupedBackwardWeight(rt, f(4), 2, f(8), 0, f(24), f(6)), /the nodes are 2×0: empty/, 'weight gradient, s = 0');
  }
});

test('gather and scatter indices, labels and routings out of range are refused; a negative stride cannot reach other memory', () => {
  for (const b of backends) {
    const dst = f(8, 0);
    bad(b, () => b.scatterRows(Float32Array.of(99, 99), 1, Int32Array.of(0, 1), 2, dst, -60, 2000, false), /dstStride must be|must be an integer|non-negative/, 'negative stride');
    assert.deepEqual([...dst], [0, 0, 0, 0, 0, 0, 0, 0], `${b.name}: nothing written`);
    bad(b, () => b.scatterRows(f(2), 2, Int32Array.of(4), 1, f(8), 2, 0, false), /idx\[0\] = 4 is out of range|scatter index out of range/, 'row past dst');
    bad(b, () => b.gatherRows(f(8), 2, 0, Int32Array.of(-1), 1, 2, f(2)), /idx\[0\] = -1 is out of range|gather index out of range/, 'negative row');
    bad(b, () => b.gatherRows(f(8), 2, 0, Int32Array.of(0), 2, 2, f(4)), /idx holds 1 entries, needs 2|idx shorter than count/, 'short idx');
    bad(b, () => b.softmaxCrossEntropy(f(6), 2, 3, Int32Array.of(0, 3), null), /labels\[1\] = 3 is out of range|label out of range/, 'label past the logits');
    const rt = new Routing();
    rt.leaf = Int32Array.of(0, 1);
    rt.sort(2, 1);
    rt.node[2] = 9; // a node past the tables
    bad(b, () => b.groupedForward(rt, f(8), 4, f(3 * 2 * 4), f(3 * 2), 2, f(4)), /node 9 is not in the 3 node tables|node id out of range/, 'node id');
    rt.node[2] = 1; // node 1 twice: its gradient would have two writers
    bad(b, () => b.groupedBackwardWeight(rt, f(4), 2, f(8), 4, f(3 * 2 * 4), f(3 * 2)), /node ids repeat 1|node listed twice/, 'repeated node');
    rt.node[2] = 2;
    bad(b, () => b.groupedBackwardInput(rt, f(4), 2, f(3 * 2 * 4), 4, f(8), 1, 4), /node list \[1, 4\) is not inside|node range out of bounds/, 'node list past nodeCount');
    rt.end[1] = 5; // rows past N
    bad(b, () => b.groupedForward(rt, f(8), 4, f(3 * 2 * 4), f(3 * 2), 2, f(4)), /not inside \[0, 2\)|row range out of bounds/, 'rows past N');
  }
});

test('row ranges and perm entries are refused from the first value out of range (end = N + 1, start = end + 1, perm = N), on every backend', () => {
  // a routing of N = 2 rows (nodes 0: [0, 2), 1: [0, 1), 2: [1, 2)) over arrays of 4 rows: a row past N is still
  // inside them, so that only the routing's own check can refuse it (unchecked, end = N + 1 would read and write a
  // row past the arrays on wasm, in the module's memory)
  const sorted = () => {
    const rt = new Routing();
    rt.leaf = Int32Array.of(0, 1);
    rt.sort(2, 1);
    return rt;
  };
  const ranges = /are not inside \[0, 2\)|row range out of bounds/;
  for (const b of backends) {
    const calls = (rt: Routing): Array<[string, () => unknown]> => [
      ['groupedForward', () => b.groupedForward(rt, f(16), 4, f(3 * 2 * 4), f(3 * 2), 2, f(8))],
      ['routedForward', () => b.routedForward(rt, f(16), 4, 0, f(16), 4, f(3 * 2 * 4), f(3 * 2), 2, f(8), f(8), false)],
      ['groupedBackwardInput', () => b.groupedBackwardInput(rt, f(8), 2, f(3 * 2 * 4), 4, f(16))],
      ['groupedBackwardWeight', () => b.groupedBackwardWeight(rt, f(8), 2, f(16), 4, f(3 * 2 * 4), f(3 * 2))],
    ];
    for (const [, call] of calls(sorted())) call(); // the routing as sorted: accepted
    const edits: Array<[string, (rt: Routing) => void]> = [
      ['end = N + 1', (rt) => { rt.end[2] = 3; }],
      ['end = N + 1 at the root', (rt) => { rt.end[0] = 3; }],
      ['start = end + 1', (rt) => { rt.start[1] = 2; }],
      ['start = −1', (rt) => { rt.start[1] = -1; }],
    ];
    for (const [what, edit] of edits) {
      const rt = sorted();
      edit(rt);
      for (const [name, call] of calls(rt)) bad(b, call, ranges, `${name}, ${what}`);
    }
    // perm: x and y of exactly N rows, so that perm = N is the first row past them (x of stride 5 at offset 1: its
    // last row ends at the end of x)
    const perm = (p: number[]) => Object.assign(sorted(), { perm: Int32Array.from(p) });
    const routed = (rt: Routing, x: Float32Array, n: number, off: number, y: Float32Array) =>
      b.routedForward(rt, x, n, off, f(8), 4, f(3 * 2 * 4), f(3 * 2), 2, f(4), y, false);
    routed(perm([1, 0]), f(8), 4, 0, f(4));
    routed(perm([1, 0]), f(10), 5, 1, f(4));
    bad(b, () => routed(perm([0, 2]), f(8), 4, 0, f(16)), /perm\[1\] = 2 is out of range|perm index out of range of x/, 'perm = N, past x');
    bad(b, () => routed(perm([2, 0]), f(9), 5, 0, f(16)), /perm\[0\] = 2 is out of range|perm index out of range of x/, 'perm = N, past x of a stride');
    bad(b, () => routed(perm([1, 0]), f(9), 5, 1, f(16)), /perm\[0\] = 1 is out of range|perm index out of range of x/, 'the last row one float past x, at an offset');
    bad(b, () => routed(perm([0, 2]), f(16), 4, 0, f(4)), /perm\[1\] = 2 is out of range|perm index out of range of y/, 'perm = N, past y');
  }
});

const addon = loadAddon();
test('the native addon refuses row ranges and node lists from the first value out of range, called directly', { skip: addon ? false : 'native addon not built' }, () => {
  // the calls of nativeBackend with the node list [g0, g1) that the backend's signature cannot give: arrays of 4 rows, N = 2
  const i = (...v: number[]) => Int32Array.from(v);
  const forward = (start: Int32Array, end: Int32Array, g0 = 0, g1 = 3) =>
    addon!.groupedForward(i(0, 1, 2), start, end, g0, g1, f(16), 4, f(3 * 2 * 4), f(3 * 2), 2, f(8), 2, false);
  const input = (start: Int32Array, end: Int32Array) => addon!.groupedBackwardInput(i(0, 1, 2), start, end, 0, 3, f(8), 2, f(3 * 2 * 4), 4, f(16), 2);
  const weight = (start: Int32Array, end: Int32Array) =>
    addon!.groupedBackwardWeight(i(0, 1, 2), start, end, 0, 3, f(8), 2, f(16), 4, f(3 * 2 * 4), f(3 * 2), 2, null);
  for (const call of [forward, input, weight]) {
    call(i(0, 0, 1), i(2, 1, 2));
    assert.throws(() => call(i(0, 0, 1), i(2, 1, 3)), /row range out of bounds/, `${call.name}: end = N + 1`);
    assert.throws(() => call(i(0, 2, 1), i(2, 1, 2)), /row range out of bounds/, `${call.name}: start = end + 1`);
    assert.throws(() => call(i(0, -1, 1), i(2, 1, 2)), /row range out of bounds/, `${call.name}: start = −1`);
  }
  // a range past g1 is not read: its end is not checked
  forward(i(0, 0, 1), i(2, 1, 3), 0, 2);
  assert.throws(() => forward(i(0, 0, 1), i(2, 1, 2), 0, 4), /node range out of bounds/, 'g1 one past the lists');
  assert.throws(() => forward(i(0, 0, 1), i(2, 1, 2), 3, 2), /node range out of bounds/, 'g0 = g1 + 1');
});

test('optimizer slots: in range and listed once (a repeated slot was applied once on wasm, twice on js)', () => {
  for (const b of backends) {
    const w = f(4), g = f(4), v = f(4, 0), steps = new Int32Array(2);
    bad(b, () => b.sgdUpdate(w, g, v, 2, Int32Array.of(0, 0), 2, steps, null, 0.1, 0, 0.9), /slots repeat 0|slot listed twice/, 'repeated slot');
    bad(b, () => b.sgdUpdate(w, g, v, 2, Int32Array.of(2), 1, steps, null, 0.1, 0, 0.9), /slots\[0\] = 2 is out of range|slot out of range/, 'slot past w');
    bad(b, () => b.adamUpdate(w, g, f(3), v, 2, Int32Array.of(0), 1, steps, null, 0.1, 0, 0.9, 0.999, 1e-8), /state 1 holds 3 floats|smaller than the weights/, 'short moment');
    assert.deepEqual([...w, ...steps], [1, 1, 1, 1, 0, 0], `${b.name}: nothing updated, no step counted`);
  }
});

test('registerBackend refuses a backend without a name or with an op of the reference missing, naming them', () => {
  const partial = { ...jsBackend, name: 'partial', addPaths: undefined, gemmTN: 3 } as unknown as Backend;
  assert.throws(() => registerBackend(partial), (e: unknown) => e instanceof TreegateError
    && /backend 'partial' lacks gemmTN, addPaths \(start from the reference .*\.\.\.jsBackend/.test(e.message));
  assert.throws(() => registerBackend({ ...jsBackend, name: '' }), /registerBackend: the backend has no name/);
  assert.ok(!backendNames().includes('partial') && !backendNames().includes(''), 'nothing registered');
  registerBackend({ ...jsBackend, name: 'complete' }); // a spread of the reference is complete
  assert.ok(backendNames().includes('complete'));
  assert.throws(() => registerBackend({ ...jsBackend }), /'js' names the reference, which stays/);
  assert.equal(getBackend('js'), jsBackend);
  // a backend registered under the selected one's name takes its place as the selection too
  const first = setBackend('complete'), second = { ...jsBackend, name: 'complete' };
  registerBackend(second);
  assert.equal(backend(), second);
  assert.notEqual(backend(), first);
  setBackend('js');
});

test('an allocation the machine refuses names what it was for and how large, not a bare RangeError', () => {
  const refuse = (n: number): Float32Array => {
    if (n > 1000) throw new RangeError('Array buffer allocation failed');
    return new Float32Array(n);
  };
  const big = mlpConfig({ inputSize: 4, numClasses: 2, hidden: [64], treeLayers: [2], depth: 4, gating: 'units' });
  const saved = encodeModel(new Model(big, new Rng(1)));
  registerBackend({ ...jsBackend, name: 'small-memory', floats: refuse });
  setBackend('small-memory');
  try {
    // a model file this machine has no memory for is not a bad file
    assert.throws(() => decodeModel(saved, 'big.safetensors'), (e: unknown) => e instanceof OutOfMemoryError
      && /^big\.safetensors: layers\.2\.blocks\.0\.weight: cannot allocate/.test(e.problem) && e.hint === 'load it where more memory is free');
    const model = new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [8], treeLayers: [2], depth: 1, gating: 'units' }), new Rng(1));
    new Optimizer(model.params(), { kind: 'adam' }); // small: it fits
    assert.throws(() => new Model(big, new Rng(1)),
      (e: unknown) => e instanceof OutOfMemoryError && /^layers\.2\.blocks\.0\.weight: cannot allocate 3968 floats \(15\.5 KiB\): Array buffer allocation failed$/.test(e.problem)
        && /make the model smaller/.test(e.hint ?? ''));
  } finally {
    setBackend('js');
  }
});

test('index lists are read as they were when the call began, on every backend: an output sharing their memory cannot move the call\'s writes', () => {
  for (const b of backends) {
    // gatherRows' dst over its idx (plain arrays): the first row copied changed the second's index
    const src = Float32Array.from({ length: 12 }, (_, k) => 1e30 * (k + 1)), buf = new ArrayBuffer(4 * 6), dst = new Float32Array(buf);
    const idx = new Int32Array(buf, 0, 2);
    idx.set([2, 0]);
    b.gatherRows(src, 3, 0, idx, 2, 3, dst);
    assert.deepEqual(dst, Float32Array.from([...src.subarray(6, 9), ...src.subarray(0, 3)]), `${b.name}: gatherRows with dst over idx`);
    // a routing's node list over node 0's weight gradient, all in the backend's own arrays (in the wasm module's memory,
    // where the bias sums went to whatever address the written gradient named: another array)
    const m = 4, s = 4, dw = b.floats(2 * m * s), dbias = b.floats(2 * m), other = b.floats(1024).fill(7);
    const node = new Int32Array(dw.buffer, dw.byteOffset, 2);
    node.set([0, 1]);
    const rt = new Routing();
    Object.assign(rt, { nodeCount: 2, node, start: Int32Array.of(0, 2), end: Int32Array.of(2, 4), n: 4 });
    const dys = f(4 * m), xs = new Float32Array(4 * s);
    dys[0] = new Float32Array(Int32Array.of(100).buffer)[0]; // node 0's gradient begins with the float of int 100's bits
    xs[0] = 1;
    b.groupedBackwardWeight(rt, dys, m, xs, s, dw, dbias);
    assert.deepEqual(Array.from(dbias), [1, 2, 2, 2, 2, 2, 2, 2], `${b.name}: each node's bias sums, at its own node`);
    assert.ok(other.every((v) => v === 7), `${b.name}: no write outside the call's arrays`);
    for (const a of [dw, dbias, other]) b.release?.(a);
  }
});

test('a weight step\'s settings are read once, before the call runs, on every backend (a getter that calls the backend changes nothing)', () => {
  for (const b of backends) {
    const m = 16, s = 16, T = 3, N = 24, rt = new Routing();
    Object.assign(rt, { nodeCount: 3, node: Int32Array.of(0, 1, 2), start: Int32Array.of(0, 8, 16), end: Int32Array.of(8, 16, 24), n: N });
    const dys = Float32Array.from({ length: N * m }, (_, i) => ((i * 7) % 11) / 11 - 0.5), xs = Float32Array.from({ length: N * s }, (_, i) => ((i * 5) % 13) / 13 - 0.5);
    const run = (reenter: boolean) => {
      const w = f(T * m * s, 0.5), dw = new Float32Array(T * m * s), db = new Float32Array(T * m);
      let reads = 0;
      const st = { kind: 'sgd', m: new Float32Array(T * m * s), v: null, steps: new Int32Array(T), decayScale: null, weightDecay: 0, beta1: 0.9, beta2: 0.999,
        eps: 1e-8, momentum: 0, get lr() {
          // (the wasm backend read it mid-call, and this call then reset the memory the step's operands were in)
          if (reenter && ++reads > 1) b.addArrays(f(4096, 100), f(4096, 100), new Float32Array(4096), 4096);
          return 0.1;
        } } as const;
      b.groupedBackwardWeightStep(rt, dys, m, xs, s, w, dw, db, st);
      return w;
    };
    assert.deepEqual(run(true), run(false), `${b.name}: the weights after the step`);
  }
});

test('arguments one past what is allowed are refused on every backend: a node list [2, 1), fresh a node short, a perm row twice, node T, a bias of fewer tables, slots past steps or decayScale, a short scale, out, dy or packed tables', () => {
  const sorted = () => {
    const rt = new Routing();
    rt.leaf = Int32Array.of(0, 1);
    rt.sort(2, 1); // N = 2 rows; nodes 0: [0, 2), 1: [0, 1), 2: [1, 2)
    return rt;
  };
  for (const b of backends) {
    bad(b, () => b.groupedBackwardInput(sorted(), f(4), 2, f(3 * 2 * 4), 4, f(8), 2, 1), /node list \[2, 1\) is not inside|node range out of bounds/, 'g0 = g1 + 1');
    b.groupedBackwardWeight(sorted(), f(4), 2, f(8), 4, f(3 * 2 * 4), f(3 * 2), new Uint8Array(3));
    bad(b, () => b.groupedBackwardWeight(sorted(), f(4), 2, f(8), 4, f(3 * 2 * 4), f(3 * 2), new Uint8Array(2)),
      /fresh must be a Uint8Array with an entry per node range|fresh shorter than the node list/, 'fresh a node short');
    const twice = Object.assign(sorted(), { perm: Int32Array.of(0, 0) });
    bad(b, () => b.routedForward(twice, f(8), 4, 0, f(8), 4, f(3 * 2 * 4), f(3 * 2), 2, f(4), f(4), false), /perm rows repeat 0|perm repeats a row/, 'a perm row twice');
    const past = sorted();
    past.node[2] = 3; // tables 0, 1, 2
    bad(b, () => b.groupedForward(past, f(8), 4, f(3 * 2 * 4), f(3 * 2), 2, f(4)), /node 3 is not in the 3 node tables|node id out of range/, 'node T');
    // w holds 3 tables, the bias 2: node 2 has no bias
    bad(b, () => b.groupedForward(sorted(), f(8), 4, f(3 * 2 * 4), f(2 * 2), 2, f(4)), /node 2 is not in the 2 node tables|node id out of range|bias: needs|bias/, 'bias of 2 tables');
    const w = f(8), g = f(8), v = f(8, 0);
    bad(b, () => b.sgdUpdate(w, g, v, 2, Int32Array.of(2), 1, new Int32Array(2), null, 0.1, 0, 0.9), /slots\[0\] = 2 is out of range|slot out of range/, 'slot past steps');
    bad(b, () => b.sgdUpdate(w, g, v, 2, Int32Array.of(2), 1, new Int32Array(4), new Float32Array(2), 0.1, 0, 0.9),
      /slots\[0\] = 2 is out of range|slot out of range/, 'slot past decayScale');
    assert.deepEqual([...w], [1, 1, 1, 1, 1, 1, 1, 1], `${b.name}: nothing updated`);
    bad(b, () => b.scaleRows(f(4), 2, 2, f(1), f(4)), /scale holds 1 floats, needs 2|scale: needs 2 elements/, 'short scale');
    bad(b, () => b.rowDots(f(4), f(4), 2, 2, f(1), false), /out holds 1 floats, needs 2|out: needs 2 elements/, 'short out of rowDots');
    bad(b, () => b.addColumnSums(f(6), 2, 3, f(2)), /out holds 2 floats, needs 3|out: needs 3 elements/, 'short out of addColumnSums');
    bad(b, () => b.packNodes(f(12), 2, 2, 3, f(6)), /out holds 6 floats, needs \d+|out holds fewer than T·packedFloats/, 'short packed tables');
    bad(b, () => b.reluBackward(f(3), f(2), f(3), 3), /dy holds 2 floats, needs 3|dy: needs 3 elements/, 'short dy');
  }
});

test('floatsFor names the size in the unit it reaches (1 MiB, 1 GiB) and lets through what is not a refused allocation; releaseFloats asks every registered backend; the reference may be registered again', () => {
  const refuse = (n: number): Float32Array => {
    if (n === 7) throw new TypeError('not an allocation');
    throw new RangeError('Array buffer allocation failed');
  };
  const released: string[] = [];
  registerBackend({ ...jsBackend, name: 'refuses', floats: refuse, release: () => { released.push('refuses'); } });
  registerBackend({ ...jsBackend, name: 'keeps', release: () => { released.push('keeps'); } });
  setBackend('refuses');
  try {
    assert.throws(() => floatsFor('w', 2 ** 18), (e: unknown) => e instanceof OutOfMemoryError && e.name === 'OutOfMemoryError'
      && /^w: cannot allocate 262144 floats \(1 MiB\)/.test(e.problem));
    assert.throws(() => floatsFor('w', 2 ** 28), (e: unknown) => e instanceof OutOfMemoryError && /^w: cannot allocate 268435456 floats \(1 GiB\)/.test(e.problem));
    assert.throws(() => floatsFor('w', 7), (e: unknown) => e instanceof TypeError && e.message === 'not an allocation');
    releaseFloats(new Float32Array(1));
    assert.deepEqual(released.sort(), ['keeps', 'refuses']);
  } finally {
    setBackend('js');
  }
  registerBackend(jsBackend);
  assert.equal(getBackend('js'), jsBackend);
});
