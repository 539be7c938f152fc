/**
 * pathWeightStep (the optimizer step of the tree layer's collapsed nodes and their frontier, src/layers/path-sums.ts)
 * against its definition on the same backend: groupedBackwardWeight of the ranges into zeroed gradients, each
 * entry's gradient added into its parent's, then adamUpdate / sgdUpdate of the entries' nodes, bit for bit (native:
 * on 1 and 2 threads; wasm with arrays in its memory, where its kernel runs, and without); close to js on the fast
 * backends; bad trees refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../../src/kernels/backend.js';
import type { WasmBackend } from '../../src/kernels/wasm/core.js';
import { Routing } from '../../src/kernels/routing.js';
import { composePathWeightStep, type WeightStep } from '../../src/kernels/weight-step.js';
import { kernelBackends, placed, placements, releaseState, stepSpec, useThreads, type StepState } from '../kernel-backends.js';
import { assertBitEqual, assertClose, maxAbs, randomArray, Rng } from '../helpers.js';

const { backends, wasm } = kernelBackends();

interface Tree { rt: Routing; entry: Int32Array; parent: Int32Array; at: Int32Array; count: number; T: number }

/**
 * A random forest of `roots` trees listed parents first: an entry above `depth` has 0–2 children (mostly 2), an
 * entry without children is a product over a range of `rows()` rows (0 allowed); node ids distinct, shuffled among T.
 */
function forest(rng: Rng, roots: number, depth: number, rows: () => number): Tree {
  const entry: number[] = [], parent: number[] = [], at: number[] = [], starts: number[] = [], ends: number[] = [];
  let N = 0;
  const visit = (p: number, d: number): void => {
    const e = entry.length;
    entry.push(-1);
    parent.push(p);
    at.push(-1);
    const kids = d >= depth ? 0 : rng.int(8) === 0 ? rng.int(2) : 2;
    if (kids === 0 && (d >= depth || rng.int(2) === 0)) {
      const r = rows();
      at[e] = starts.length;
      starts.push(N);
      ends.push(N + r);
      N += r;
      return;
    }
    for (let c = 0; c < kids; c++) visit(e, d + 1); // a collapsed entry without children: a zero gradient
  };
  for (let r = 0; r < roots; r++) visit(-1, 0);
  const T = entry.length + 3, ids = Array.from({ length: T }, (_, i) => i);
  for (let i = T - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  entry.forEach((_, e) => { entry[e] = ids[e]; });
  const rt = new Routing();
  const G = starts.length, byRange = new Int32Array(G);
  at.forEach((a, e) => { if (a >= 0) byRange[a] = entry[e]; });
  Object.assign(rt, { nodeCount: G, node: byRange, start: Int32Array.from(starts), end: Int32Array.from(ends), n: N, depth,
    perm: Int32Array.from({ length: N }, (_, i) => i), leaf: new Int32Array(N) });
  return { rt, entry: Int32Array.from(entry), parent: Int32Array.from(parent), at: Int32Array.from(at), count: entry.length, T };
}

/** The tree layer's shape: a collapsed binary tree of depth d over 2^d frontier nodes of `rows` rows each. */
function complete(d: number, rows: number): Tree {
  const entry: number[] = [], parent: number[] = [], at: number[] = [];
  const visit = (t: number, p: number, depth: number): void => {
    const e = entry.length;
    entry.push(t);
    parent.push(p);
    at.push(depth === d ? t - (2 ** d - 1) : -1);
    if (depth < d) for (const c of [2 * t + 1, 2 * t + 2]) visit(c, e, depth + 1);
  };
  visit(0, -1, 0);
  const G = 2 ** d, rt = new Routing(), N = G * rows;
  Object.assign(rt, { nodeCount: G, node: Int32Array.from({ length: G }, (_, i) => 2 ** d - 1 + i),
    start: Int32Array.from({ length: G }, (_, i) => i * rows), end: Int32Array.from({ length: G }, (_, i) => (i + 1) * rows), n: N, depth: d,
    perm: Int32Array.from({ length: N }, (_, i) => i), leaf: new Int32Array(N) });
  return { rt, entry: Int32Array.from(entry), parent: Int32Array.from(parent), at: Int32Array.from(at), count: entry.length, T: 2 ** (d + 1) - 1 };
}

test('pathWeightStep = groupedBackwardWeight + child sums + adamUpdate / sgdUpdate, bit for bit on each backend', () => {
  const rng = new Rng(31);
  // [what, m, s, tree]: odd widths (blocks of 64 rows at s = 515, of 2 rows at s = 20000, all 70 rows in one at s = 1),
  // a forest with 0-row ranges and childless sums, a chain deeper than the threads' blocks, the tree layer's 512×512
  // shape (4 frontier nodes of 4 rows, in blocks of 32 rows: 16 of them) and of 64 rows; wide inputs whose blocks
  // would have fewer rows than the packed weight gradient (native's kPackedRowsTN) over frontier nodes of more rows
  // than its few-row kernel sums at once: 40 rows as one block, 100 as 32 + 32 + 36
  const cases: Array<[string, number, number, Tree]> = [
    ['forest 5×7', 5, 7, forest(rng, 3, 3, () => rng.int(6))],
    ['forest 33×17', 33, 17, forest(rng, 2, 4, () => rng.int(40))],
    ['forest 117×515', 117, 515, forest(rng, 1, 3, () => 1 + rng.int(9))],
    ['forest 70×1', 70, 1, forest(rng, 2, 2, () => rng.int(5))],
    ['forest 3×20000', 3, 20000, forest(rng, 1, 2, () => 1 + rng.int(3))],
    ['chain 64×40', 64, 40, forest(new Rng(5), 1, 7, () => 2 + rng.int(4))],
    ['complete d=2 512×512', 512, 512, complete(2, 4)],
    ['complete d=1 256×256', 256, 256, complete(1, 64)],
    ['complete d=1 40×784', 40, 784, complete(1, 20)],
    ['complete d=2 100×784', 100, 784, complete(2, 20)],
    // 64 rows at s = 515 (blocks of 56): a last block of exactly 8 rows, its own block (only fewer than 8 are merged)
    ['complete d=1 64×515', 64, 515, complete(1, 10)],
  ];
  for (const [what, m, s, tr] of cases) {
    const { rt, T } = tr, N = rt.n, size = m * s;
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m), w0 = randomArray(rng, T * size), m0 = randomArray(rng, T * size, 0.1);
    const v0 = randomArray(rng, T * size, 0.1).map(Math.abs), b0 = randomArray(rng, T * m);
    const decay = Float32Array.from({ length: T }, (_, t) => 0.5 ** (t % 5));
    for (const kind of ['adam', 'sgd'] as const) {
      for (const decayScale of [decay, null]) {
        // plain arrays, or (`here`) arrays made by the backend's floats() (wasm: in its memory, where its kernel runs)
        const fresh = (be: Backend, here = false): StepState => {
          const copy = (a: Float32Array, place = here): Float32Array => placed(be, a, place);
          return { w: copy(w0), dw: copy(new Float32Array(T * size)), db: copy(b0), m: copy(m0), v: copy(v0),
            steps: Int32Array.from({ length: T }, (_, t) => t % 3) };
        };
        const spec = (st: StepState, lr: number): WeightStep => stepSpec(st, kind, decayScale, lr);
        let js: StepState | null = null;
        for (const { be, threads } of backends) {
          // the definition, once a backend: the composition of its kernels on plain arrays on its first thread count
          // (each of those kernels gives the same bits on any count: their own tests), which every count and placement
          // must give
          useThreads(be, threads[0]);
          const reference = composePathWeightStep(be), b = fresh(be), outs: StepState[] = [];
          for (const lr of [0.01, 0.003]) { // two steps: the second with moments and step counts of the first
            reference(rt, dys, m, xs, s, b.w, b.dw, b.db, spec(b, lr), tr.entry, tr.parent, tr.at, tr.count);
          }
          assert.ok(b.dw.every((x) => x === 0), `${be.name} composed ${kind} ${what}: gradients left at zero`);
          for (const [nt, here] of threads.flatMap((nt) => placements(be).map((here) => [nt, here] as const))) {
            useThreads(be, nt);
            const a = fresh(be, here);
            const kernelCalls = (): number => (be as Partial<WasmBackend>).info?.().pathSteps ?? 0, before = kernelCalls();
            for (const lr of [0.01, 0.003]) be.pathWeightStep(rt, dys, m, xs, s, a.w, a.dw, a.db, spec(a, lr), tr.entry, tr.parent, tr.at, tr.count);
            const label = `${be.name}${nt ? ` threads=${nt}` : ''}${here ? ' in place' : ''} ${kind} ${what} decay=${decayScale ? 'yes' : 'no'}`;
            for (const key of ['w', 'm', 'v', 'db'] as const) assertBitEqual(a[key], b[key], `${label}: ${key}`);
            assert.deepEqual(Array.from(a.steps), Array.from(b.steps), `${label}: step counts`);
            assert.ok(a.dw.every((x) => x === 0), `${label}: gradients left at zero`);
            // wasm runs its kernel on arrays in its memory (both steps), and composes the op on the others
            if (be === wasm && rt.n > 0) assert.equal(kernelCalls() - before, here ? 2 : 0, `${label}: calls of wasm's kernel`);
            outs.push(a);
          }
          releaseState(be, b);
          useThreads(be, threads[threads.length - 1]);
          outs.forEach((o, i) => i > 0 && releaseState(be, o));
          if (!js) js = outs[0];
          else {
            const label = `${be.name} against js ${kind} ${what}`;
            assertClose(outs[0].w, js.w, { rtol: 1e-4, atol: 1e-5 }, `${label}: w`);
            // sums over N rows, whose cancelling elements are as exact as the largest: scaled by it, not by N
            assertClose(outs[0].db, js.db, { rtol: 1e-5, atol: 1e-5 * maxAbs(js.db) }, `${label}: bias gradient`);
            assertClose(outs[0].m, js.m, { rtol: 1e-4, atol: 1e-4 * maxAbs(js.m) }, `${label}: first moment`);
            if (kind === 'adam') assertClose(outs[0].v, js.v, { rtol: 1e-4, atol: 1e-4 * maxAbs(js.v) }, `${label}: second moment`);
          }
        }
      }
    }
  }
});

test('pathWeightStep and groupedBackwardWeightStep against their definition: SGD without momentum or decay steps each node by −lr · Σ dysᵀ xs over the rows of its subtree', () => {
  // independent of the compositions the test above checks the backends against: float64 sums of the products
  const rng = new Rng(37), lr = 0.01;
  for (const [what, m, s, tr] of [['forest 5×7', 5, 7, forest(rng, 3, 3, () => rng.int(6))], ['forest 33×17', 33, 17, forest(rng, 2, 4, () => rng.int(40))],
    ['chain 9×70', 9, 70, forest(new Rng(5), 1, 6, () => 1 + rng.int(4))], ['complete d=2 40×24', 40, 24, complete(2, 5)]] as const) {
    const { rt, T } = tr, N = rt.n, size = m * s;
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m), w0 = randomArray(rng, T * size), b0 = randomArray(rng, T * m);
    // each range's product, then every entry's gradient as the sum over the ranges below it (entries listed parents first)
    const product = new Map<number, Float64Array>(), grad = Array.from({ length: tr.count }, () => new Float64Array(size));
    const bias = Float64Array.from(b0);
    for (let g = 0; g < rt.nodeCount; g++) {
      const p = new Float64Array(size), t = rt.node[g];
      for (let r = rt.start[g]; r < rt.end[g]; r++) {
        for (let j = 0; j < m; j++) {
          bias[t * m + j] += dys[r * m + j];
          for (let q = 0; q < s; q++) p[j * s + q] += dys[r * m + j] * xs[r * s + q];
        }
      }
      product.set(t, p);
    }
    for (let e = tr.count - 1; e >= 0; e--) {
      if (tr.at[e] >= 0) grad[e].set(product.get(tr.entry[e])!);
      if (tr.parent[e] >= 0) for (let i = 0; i < size; i++) grad[tr.parent[e]][i] += grad[e][i];
    }
    const sgd = (mo: Float32Array): WeightStep => ({ kind: 'sgd', m: mo, v: null, steps: new Int32Array(T), decayScale: null, lr, weightDecay: 0,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0 });
    for (const { be, threads } of backends) {
      for (const nt of threads) {
        useThreads(be, nt);
        const label = `${be.name}${nt ? ` threads=${nt}` : ''} ${what}`;
        const w = w0.slice(), db = b0.slice();
        be.pathWeightStep(rt, dys, m, xs, s, w, new Float32Array(T * size), db, sgd(new Float32Array(T * size)), tr.entry, tr.parent, tr.at, tr.count);
        const want = Float64Array.from(w0);
        for (let e = 0; e < tr.count; e++) for (let i = 0; i < size; i++) want[tr.entry[e] * size + i] -= lr * grad[e][i];
        assertClose(w, want, { rtol: 1e-5, atol: 1e-6 }, `${label}: pathWeightStep's weights`);
        assertClose(db, bias, { rtol: 1e-5, atol: 1e-5 }, `${label}: pathWeightStep's bias gradients`);
        // the ranges alone, each its own node's gradient
        const wg = w0.slice(), dbg = b0.slice();
        be.groupedBackwardWeightStep(rt, dys, m, xs, s, wg, new Float32Array(T * size), dbg, sgd(new Float32Array(T * size)));
        const wantG = Float64Array.from(w0);
        for (const [t, p] of product) for (let i = 0; i < size; i++) wantG[t * size + i] -= lr * p[i];
        assertClose(wg, wantG, { rtol: 1e-5, atol: 1e-6 }, `${label}: groupedBackwardWeightStep's weights`);
        assertClose(dbg, bias, { rtol: 1e-5, atol: 1e-5 }, `${label}: groupedBackwardWeightStep's bias gradients`);
      }
      useThreads(be, threads[threads.length - 1]);
    }
  }
});

test('pathWeightStep steps a collapsed node whose children have no rows: the sum of nothing, a zero gradient', () => {
  // on the js reference: a zero gradient moves Adam's w only by decay (m and v decay toward zero)
  const tr = complete(1, 0), m = 3, s = 2, size = m * s;
  const w = Float32Array.from({ length: tr.T * size }, (_, i) => 1 + i), mo = new Float32Array(tr.T * size), v = new Float32Array(tr.T * size);
  const st: WeightStep = { kind: 'adam', m: mo, v, steps: new Int32Array(tr.T), decayScale: null, lr: 0.1, weightDecay: 0,
    beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0 };
  for (const { be } of backends) {
    const wb = w.slice();
    mo.fill(0);
    v.fill(0);
    st.steps.fill(0);
    be.pathWeightStep(tr.rt, new Float32Array(0), m, new Float32Array(0), s, wb, new Float32Array(tr.T * size), new Float32Array(tr.T * m),
      st, tr.entry, tr.parent, tr.at, tr.count);
    assertBitEqual(wb, w, `${be.name}: weights unchanged by a zero gradient`);
    assert.deepEqual(Array.from(st.steps), [1, 1, 1], `${be.name}: every entry stepped once`);
  }
});

test('pathWeightStep refuses trees it cannot step, naming the problem, on every backend', () => {
  const tr = complete(2, 3), m = 4, s = 4, size = m * s, f = (n: number) => new Float32Array(n);
  const st = (over: Partial<WeightStep> = {}): WeightStep => ({ kind: 'adam', m: f(tr.T * size), v: f(tr.T * size),
    steps: new Int32Array(tr.T), decayScale: null, lr: 0.1, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0, ...over });
  const edit = (a: Int32Array, i: number, x: number): Int32Array => { const o = a.slice(); o[i] = x; return o; };
  for (const { be } of backends) {
    const call = (entry: Int32Array, parent: Int32Array, at: Int32Array, count = tr.count) => () =>
      be.pathWeightStep(tr.rt, f(tr.rt.n * m), m, f(tr.rt.n * s), s, f(tr.T * size), f(tr.T * size), f(tr.T * m), st(), entry, parent, at, count);
    assert.doesNotThrow(call(tr.entry, tr.parent, tr.at), `${be.name}: the tree itself`);
    assert.throws(call(tr.entry, edit(tr.parent, 1, 3), tr.at), /parent must come before its child/, `${be.name}: child before parent`);
    // the same tree listed breadth first (parents before children still): the fast backends' sums per depth would mix
    // the subtrees (native gave one root both children's gradients and the other none)
    assert.throws(call(Int32Array.of(0, 1, 2, 3, 4, 5, 6), Int32Array.of(-1, 0, 0, 1, 1, 2, 2), Int32Array.of(-1, -1, -1, 0, 1, 2, 3)),
      /listed depth first/, `${be.name}: a tree listed breadth first`);
    assert.throws(call(tr.entry, tr.parent, edit(tr.at, 2, 1)), /range|node/, `${be.name}: a range of another node`);
    assert.throws(call(tr.entry, tr.parent, edit(tr.at, 1, 0)), /range|children/, `${be.name}: a range on an entry with children`);
    assert.throws(call(tr.entry, tr.parent, edit(tr.at, 6, -1)), /no entry's|every range/, `${be.name}: a range left out`);
    // the first range left out; two ranges swapped (each taken once, by another node's entry); an entry of one child
    // with a range (entries 0 and 1 are nodes 3 and 4, the leaves' ranges 0 and 1)
    assert.throws(call(tr.entry, tr.parent, edit(tr.at, 2, -1)), /range 0 \(node 3\) is no entry's|every range of the node list must be an entry's/, `${be.name}: range 0 left out`);
    assert.throws(call(tr.entry, tr.parent, edit(edit(tr.at, 2, 1), 3, 0)), /at\[2\] = 1 is node 4's range, not entry 2's node 3|an entry's range must be its own node's/,
      `${be.name}: ranges swapped`);
    assert.throws(call(Int32Array.of(3, 4, 5, 6), Int32Array.of(-1, 0, -1, -1), Int32Array.of(0, 1, 2, 3), 4),
      /entry 0 has a range and children|an entry with a range has no children/, `${be.name}: a range on an entry with one child`);
    assert.throws(call(edit(tr.entry, 1, 0), tr.parent, tr.at), /repeat|twice/, `${be.name}: a node listed twice`);
    assert.throws(call(tr.entry, tr.parent, tr.at, tr.count + 1), /entries|holds|count/, `${be.name}: count past the lists`);
    assert.throws(() => be.pathWeightStep(tr.rt, f(tr.rt.n * m), m, f(tr.rt.n * s), s, f(tr.T * size), f(tr.T * size), f(tr.T * m),
      st({ kind: 'rmsprop' as never }), tr.entry, tr.parent, tr.at, tr.count), /pathWeightStep: unknown optimizer 'rmsprop'/,
    `${be.name}: an unknown optimizer, named with the op`);
  }
});
