/**
 * groupedBackwardWeightStep (the trainer's fused step: a tree layer's node weights updated as each node's
 * gradient is made) against its definition, groupedBackwardWeight into zeroed gradients followed by adamUpdate or
 * sgdUpdate of the listed nodes: bit for bit on the same backend (on native and wasm also across thread counts,
 * with a node the two threads share and nodes under and over the few-example streaming threshold), close to js
 * elsewhere; bad arguments refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../../src/kernels/backend.js';
import { Routing } from '../../src/kernels/routing.js';
import type { WasmBackend } from '../../src/kernels/wasm/core.js';
import type { WeightStep } from '../../src/kernels/weight-step.js';
import { kernelBackends, placed, placements, releaseState, stepSpec, useThreads, type StepState } from '../kernel-backends.js';
import { assertBitEqual, assertClose, maxAbs, randomArray, Rng } from '../helpers.js';

const { backends, wasm } = kernelBackends();

test('groupedBackwardWeightStep = groupedBackwardWeight + adamUpdate / sgdUpdate, bit for bit on each backend', async () => {
  const rng = new Rng(23);
  // [k, N, m, s]: odd widths, k = 0, no examples, a node with 5 examples (streamed when fresh) and with 40, the
  // default model's layer, 512×512 nodes of 128 examples
  for (const [k, N, m, s] of [[0, 9, 5, 7], [2, 0, 8, 8], [3, 50, 33, 17], [1, 10, 64, 40], [2, 160, 48, 61],
    [4, 64, 256, 256], [1, 256, 512, 512],
    // one node that costs more than a thread's share: the native threads split its product and its update (the
    // second with a slot smaller than the 64-element pieces)
    [0, 256, 512, 512], [0, 20000, 3, 20],
    // nodes that go one at a time with an odd width, 117 rows of dU in blocks of 56 (wasm's nodeStep merges the last
    // 5 into the one before; its updates start at odd elements)
    [1, 12, 117, 515],
    // k = −1: a list (not a tree) of one node of 200 rows and two of 4: on two threads wasm splits the first between
    // them and steps each of the others whole on one
    [-1, 208, 256, 256]] as const) {
    const mixed = k < 0, T = mixed ? 3 : 2 ** (k + 1) - 1, leaves = 2 ** Math.max(0, k), rt = new Routing();
    if (mixed) {
      Object.assign(rt, { nodeCount: 3, node: Int32Array.of(0, 1, 2), start: Int32Array.of(0, 200, 204), end: Int32Array.of(200, 204, 208),
        n: N, depth: 1, perm: Int32Array.from({ length: N }, (_, i) => i), leaf: new Int32Array(N) });
    } else {
      rt.leaf = Int32Array.from({ length: Math.max(1, N) }, () => rng.int(leaves));
      rt.sort(N, k);
    }
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m), w0 = randomArray(rng, T * m * s), m0 = randomArray(rng, T * m * s, 0.1);
    const v0 = randomArray(rng, T * m * s, 0.1).map(Math.abs), b0 = randomArray(rng, T * m);
    // scales that are not powers of two (0.5 + 0.3·(t mod 8)): λ = weightDecay·decayScale rounds to float32 once, in
    // the fused step as in adamUpdate / sgdUpdate; at t mod 8 = 1, 2, 6 float32(weightDecay)·decayScale rounds otherwise
    const decay = Float32Array.from({ length: T }, (_, t) => 0.5 + 0.3 * (t % 8));
    for (const kind of ['adam', 'sgd'] as const) {
      for (const decayScale of [decay, null]) {
        // copy: JS arrays, or (`here`) arrays made by the backend's floats() (wasm: in its memory, where its fused
        // step makes each node's gradient and update on one thread), the bias gradient there too for Adam only
        const fresh = (be: Backend, here = false): StepState => {
          const copy = (a: Float32Array, place = here): Float32Array => placed(be, a, place);
          return { w: copy(w0), dw: copy(new Float32Array(T * m * s)), db: copy(b0, here && kind === 'adam'), m: copy(m0), v: copy(v0),
            steps: Int32Array.from({ length: T }, (_, t) => t % 4) };
        };
        const spec = (st: StepState, lr: number): WeightStep => stepSpec(st, kind, decayScale, lr);
        let js: StepState | null = null;
        for (const { be, threads } of backends) {
          // the definition, once a backend: its unfused kernels on plain arrays on its first thread count (each of those
          // kernels gives the same bits on any count: their own tests), which every count and placement must give
          useThreads(be, threads[0]);
          const b = fresh(be), outs: StepState[] = [];
          for (const lr of [0.01, 0.003]) {  // two steps: the second with moments and step counts of the first
            be.groupedBackwardWeight(rt, dys, m, xs, s, b.dw, b.db, new Uint8Array(rt.nodeCount).fill(1));
            if (kind === 'adam') be.adamUpdate(b.w, b.dw, b.m, b.v, m * s, rt.node, rt.nodeCount, b.steps, decayScale, lr, 0.05, 0.9, 0.999, 1e-8, true);
            else be.sgdUpdate(b.w, b.dw, b.m, m * s, rt.node, rt.nodeCount, b.steps, decayScale, lr, 0.05, 0.8, true);
          }
          for (const [nt, here] of threads.flatMap((nt) => placements(be).map((here) => [nt, here] as const))) {
            useThreads(be, nt);
            const a = fresh(be, here);
            const whole = (): number => (be as Partial<WasmBackend>).info?.().nodeSteps ?? 0, before = whole();
            for (const lr of [0.01, 0.003]) be.groupedBackwardWeightStep(rt, dys, m, xs, s, a.w, a.dw, a.db, spec(a, lr));
            const what = `${be.name}${nt ? ` threads=${nt}` : ''}${here ? ' in place' : ''} ${kind} k=${k} N=${N} m=${m} s=${s} decay=${decayScale ? 'yes' : 'no'}`;
            for (const key of ['w', 'm', 'v', 'db', 'dw'] as const) assertBitEqual(a[key], b[key], `${what}: ${key}`);
            assert.deepEqual(Array.from(a.steps), Array.from(b.steps), `${what}: step counts`);
            assert.ok(a.dw.every((x) => x === 0), `${what}: gradients left at zero`);
            // wasm in place, nodes one at a time: on one thread every node with rows is stepped whole (twice), on two
            // all but the mixed list's big one
            if (be === wasm && here && m * s + m > 16384) {
              let rowsful = 0;
              for (let g = 0; g < rt.nodeCount; g++) if (rt.end[g] > rt.start[g]) rowsful++;
              const expected = nt === 1 ? 2 * rowsful : mixed ? 4 : null;
              if (expected !== null) assert.equal(whole() - before, expected, `${what}: nodes stepped whole on one thread`);
            }
            outs.push(a);
          }
          releaseState(be, b);
          useThreads(be, threads[threads.length - 1]);
          outs.forEach((o, i) => i > 0 && releaseState(be, o));
          if (!js) js = outs[0];
          else {
            const what = `${be.name} against js ${kind} k=${k} N=${N} m=${m} s=${s}`;
            assertClose(outs[0].w, js.w, { rtol: 1e-4, atol: 1e-5 }, `${what}: w`);
            // sums over N rows, whose cancelling elements are as exact as the largest: scaled by it, not by N
            assertClose(outs[0].db, js.db, { rtol: 1e-5, atol: 1e-5 * maxAbs(js.db) }, `${what}: bias gradient`);
            assertClose(outs[0].m, js.m, { rtol: 1e-4, atol: 1e-4 * maxAbs(js.m) }, `${what}: first moment`);
            if (kind === 'adam') assertClose(outs[0].v, js.v, { rtol: 1e-4, atol: 1e-4 * maxAbs(js.v) }, `${what}: second moment`);
          }
        }
      }
    }
  }
});

test('groupedBackwardWeightStep applies zeros to a listed node without rows, after a step that left other data in its buffers', () => {
  // a routing whose last node has no rows (the checks allow start = end; Routing.sort never lists one): its
  // gradient is zero, so its step is decay and moments only, on every backend, whatever the step before it left
  // 4×4 nodes go in one batch; 512×512 nodes one at a time (the few-row path, a block of dU's rows at a time)
  for (const [m, s] of [[4, 4], [512, 512]]) emptyNodeStep(m, s);
});

function emptyNodeStep(m: number, s: number): void {
  const rng = new Rng(29), T = 3, size = m * s, N = 8;
  const rt = new Routing();
  rt.nodeCount = 3;
  rt.node = Int32Array.from([0, 1, 2]);
  rt.start = Int32Array.from([0, 0, 8]);
  rt.end = Int32Array.from([8, 8, 8]);
  rt.n = N;
  const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m);
  for (const { be } of backends) {
    for (const kind of ['adam', 'sgd'] as const) {
      const fresh = (): StepState => ({ w: randomArray(new Rng(1), T * size), dw: new Float32Array(T * size), db: new Float32Array(T * m),
        m: randomArray(new Rng(2), T * size, 0.1), v: randomArray(new Rng(3), T * size, 0.1).map(Math.abs), steps: new Int32Array(T) });
      const spec = (st: StepState): WeightStep => ({ kind, m: st.m, v: kind === 'adam' ? st.v : null, steps: st.steps,
        decayScale: null, lr: 0.01, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.8 });
      const [a, b] = [fresh(), fresh()];
      for (let step = 0; step < 2; step++) {
        be.groupedBackwardWeightStep(rt, dys, m, xs, s, a.w, a.dw, a.db, spec(a));
        be.groupedBackwardWeight(rt, dys, m, xs, s, b.dw, b.db, new Uint8Array(rt.nodeCount).fill(1));
        if (kind === 'adam') be.adamUpdate(b.w, b.dw, b.m, b.v, size, rt.node, rt.nodeCount, b.steps, null, 0.01, 0.05, 0.9, 0.999, 1e-8, true);
        else be.sgdUpdate(b.w, b.dw, b.m, size, rt.node, rt.nodeCount, b.steps, null, 0.01, 0.05, 0.8, true);
      }
      for (const key of ['w', 'm', 'v', 'db'] as const) assertBitEqual(a[key], b[key], `${be.name} ${kind} ${m}×${s}: ${key}`);
    }
  }
}

test('groupedBackwardWeightStep refuses bad arguments on every backend', () => {
  const rt = new Routing();
  rt.leaf = Int32Array.of(0, 1, 1);
  rt.sort(3, 1);
  const f = (n: number) => new Float32Array(n);
  const st = (over: Partial<WeightStep>): WeightStep => ({ kind: 'adam', m: f(24), v: f(24), steps: new Int32Array(3), decayScale: null,
    lr: 0.1, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0, ...over });
  for (const { be } of backends) {
    const call = (over: Partial<WeightStep>, w = f(24)) => () => be.groupedBackwardWeightStep(rt, f(6), 2, f(12), 4, w, f(24), f(6), st(over));
    assert.throws(call({ v: null }), /second moment/, `${be.name}: adam without v`);
    assert.throws(call({ m: f(5) }), /state 1 holds 5 floats|state smaller than the weights/, `${be.name}: short moment`);
    assert.throws(call({ steps: new Int32Array(1) }), /slots|steps or decayScale shorter/, `${be.name}: short step counts`);
    assert.throws(call({ kind: 'rmsprop' as never }), /unknown optimizer 'rmsprop'/, `${be.name}: unknown optimizer`);
    assert.throws(call({}, f(8)), /groupedBackwardWeightStep|node id out of range/, `${be.name}: weights too small for the nodes`);
    assert.throws(call({ lr: undefined as never }), /lr must be a number/, `${be.name}: no learning rate`);
  }
});
