/**
 * The baselines of DESIGN §3 as layers: `flat` (2^k independent leaves picked
 * by the same bits) and `moe` (top-K softmax gating, load-balancing loss); and
 * the dense MLP of as many parameters as a routed model (denseOfEqualParams).
 * Each: forward against a naive float64 reference written from its formula,
 * gradients by central differences (through a whole model too), and the same
 * results on every backend that loads here as on js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { Dense } from '../../src/layers/dense.js';
import { denseOfEqualParams, parameterCount } from '../../src/layers/equal-params.js';
import type { Layer } from '../../src/layers/layer.js';
import { mlpConfig, Model, type MlpOptions } from '../../src/layers/model.js';
import { MixtureOfExperts } from '../../src/layers/moe.js';
import { TreeGated } from '../../src/layers/tree.js';
import {
  assertClose, checkGradient, gradcheckLayer, maxAbs, near, projectionBatch, randomArray, randomMatrix, referenceLeaves, Rng, unitsBatch,
} from '../helpers.js';
import { testOnEveryBackend } from '../backends.js';
import { requiredBackends } from '../kernel-backends.js';


// ---------------------------------------------------------------------------
// flat
// ---------------------------------------------------------------------------

/** y_i = Σ_j U_{L_j(i)} x_ij + c_{L_j(i)}, float64. */
function referenceFlat(layer: TreeGated, x: Matrix): Float64Array {
  const { leaves } = referenceLeaves(layer, x);
  const N = x.rows, n = layer.inputSize, s = layer.blockSize, m = layer.outputSize;
  const y = new Float64Array(N * m);
  for (let j = 0; j < layer.blocks; j++) {
    const U = layer.weight[j].data, c = layer.bias[j].data;
    for (let i = 0; i < N; i++) {
      const L = leaves[j][i];
      for (let r = 0; r < m; r++) {
        let a = c[L * m + r];
        for (let p = 0; p < s; p++) a += U[(L * m + r) * s + p] * x.data[i * n + j * s + p];
        y[i * m + r] += a;
      }
    }
  }
  return y;
}

type FlatBatch = 'random' | 'one leaf' | 'empty leaves';

/** A flat layer and a batch: random leaves, every example in one leaf (per block), or leaves 0 and 2^k − 1 only. */
function flatCase(rng: Rng, k: number, B: number, s: number, gating: 'units' | 'projection', batch: FlatBatch = 'random'): { layer: TreeGated; x: Matrix } {
  const layer = new TreeGated({ kind: 'flat', inputSize: B * s, outputSize: 3, depth: k, blocks: B, gating }).init(rng);
  for (const b of layer.bias) b.data.set(randomArray(rng, b.data.length, 0.5));
  const L = 2 ** k;
  if (gating === 'units') {
    const leafOf = batch === 'random' ? () => rng.int(L) : batch === 'one leaf' ? (_i: number, j: number) => (5 * j + 3) % L : () => (rng.int(2) ? L - 1 : 0);
    return { layer, x: unitsBatch(rng, layer, 9, leafOf) };
  }
  if (batch === 'one leaf') {
    // a large gate bias fixes every bit, whatever x
    for (let j = 0; j < B; j++) for (let d = 0; d < k; d++) layer.gateBias[j].data[d] = (d + j) % 2 ? 50 : -50;
    return { layer, x: randomMatrix(rng, 9, B * s) };
  }
  return { layer, x: projectionBatch(rng, layer, 9, 0.1, batch === 'random' ? undefined : (ls) => ls.every((l) => l === 0 || l === L - 1)) };
}

testOnEveryBackend('flat: 2^k leaves, one per example and block, equal to the naive reference; counts', () => {
  const rng = new Rng(41);
  for (const gating of ['units', 'projection'] as const) {
    for (const [k, B, s] of [[0, 1, 4], [1, 1, 3], [3, 2, 4], [2, 3, 3]]) {
      const { layer, x } = flatCase(rng, k, B, s, gating);
      assert.equal(layer.weight[0].shape[0], 2 ** k, 'one weight slot per leaf');
      assertClose(layer.forward(x, 'train').data, referenceFlat(layer, x), near(referenceFlat(layer, x)), `flat k=${k} ${gating} train`);
      assertClose(layer.forward(x, 'infer').data, referenceFlat(layer, x), near(referenceFlat(layer, x)), `flat k=${k} ${gating} infer`);
      const mn = layer.inputSize * layer.outputSize, gate = gating === 'projection' ? k * layer.inputSize : 0;
      assert.deepEqual(layer.macs(), { training: mn + gate, inference: mn + gate });
      assert.equal(layer.parameterCount(), B * (2 ** k * (3 * s + 3)) + (gating === 'projection' ? B * (k * s + k) : 0));
    }
  }
  // leaves start independent: two leaves of one layer differ
  const l = new TreeGated({ kind: 'flat', inputSize: 4, outputSize: 2, depth: 1, blocks: 1, gating: 'units' }).init(new Rng(1));
  assert.notDeepEqual(Array.from(l.weight[0].data.subarray(0, 8)), Array.from(l.weight[0].data.subarray(8, 16)));
  assert.throws(() => new TreeGated({ kind: 'flat', inputSize: 4, outputSize: 2, depth: 1, gating: 'projection', straightThrough: true }),
    /straight-through training is defined for trees only/);
});

testOnEveryBackend('flat: gradients of x and every leaf (units and projection gating)', () => {
  const rng = new Rng(42);
  for (const gating of ['units', 'projection'] as const) {
    for (const [k, B, s] of [[0, 1, 3], [1, 1, 3], [2, 1, 4], [2, 2, 3], [3, 3, 3]]) {
      for (const batch of ['random', 'one leaf', 'empty leaves'] as const) {
        if (k === 0 && batch !== 'random') continue; // one leaf, always
        const { layer, x } = flatCase(rng, k, B, s, gating, batch);
        const what = `flat k=${k} B=${B} ${gating} ${batch}`, ref = referenceLeaves(layer, x);
        if (batch === 'one leaf') for (const l of ref.leaves) assert.equal(new Set(l).size, 1, `${what}: test bug: batch not in one leaf`);
        if (batch === 'empty leaves' && k > 1) for (const l of ref.leaves) assert.ok(new Set(l).size < 2 ** k, `${what}: test bug: no empty leaf`);
        const sig = () => referenceLeaves(layer, x).leaves.map((l) => Array.from(l).join(',')).join('|');
        gradcheckLayer(layer, x, rng, what, { signature: sig, skipParams: (n) => n.includes('gate_') });
      }
    }
  }
});

// ---------------------------------------------------------------------------
// moe
// ---------------------------------------------------------------------------

/** Router probabilities (float64) and each example's top-K experts (ties to the lower index). */
function referenceRouting(layer: MixtureOfExperts, x: Matrix): { p: Float64Array; top: number[][]; gap: number } {
  const N = x.rows, n = layer.inputSize, E = layer.experts, G = layer.router.data;
  const p = new Float64Array(N * E), top: number[][] = [];
  let gap = Infinity;
  for (let i = 0; i < N; i++) {
    const z = Array.from({ length: E }, (_, e) => {
      let a = 0;
      for (let q = 0; q < n; q++) a += G[e * n + q] * x.data[i * n + q];
      return a;
    });
    const mx = Math.max(...z), ex = z.map((v) => Math.exp(v - mx)), sum = ex.reduce((a, b) => a + b, 0);
    ex.forEach((v, e) => { p[i * E + e] = v / sum; });
    const order = z.map((v, e) => [v, e]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    top.push(order.slice(0, layer.topK).map((o) => o[1]));
    if (layer.topK < E) gap = Math.min(gap, order[layer.topK - 1][0] - order[layer.topK][0]);
  }
  return { p, top, gap };
}

function referenceMoe(layer: MixtureOfExperts, x: Matrix): { y: Float64Array; aux: number } {
  const N = x.rows, n = layer.inputSize, m = layer.outputSize, E = layer.experts;
  const { p, top } = referenceRouting(layer, x);
  const U = layer.weight.data, c = layer.bias.data, y = new Float64Array(N * m);
  const f = new Float64Array(E), P = new Float64Array(E);
  for (let i = 0; i < N; i++) {
    for (let e = 0; e < E; e++) P[e] += p[i * E + e] / N;
    for (const e of top[i]) {
      f[e] += 1 / (N * layer.topK);
      for (let r = 0; r < m; r++) {
        let a = c[e * m + r];
        for (let q = 0; q < n; q++) a += U[(e * m + r) * n + q] * x.data[i * n + q];
        y[i * m + r] += p[i * E + e] * a;
      }
    }
  }
  let aux = 0;
  for (let e = 0; e < E; e++) aux += f[e] * P[e];
  return { y, aux: layer.balanceWeight * E * aux };
}

/** A layer with a strong router and a batch whose K-th and (K+1)-th router logits differ by ≥ margin for every example. */
function moeCase(rng: Rng, E: number, K: number, N: number, margin = 0.1, n = 5, m = 3): { layer: MixtureOfExperts; x: Matrix } {
  const layer = new MixtureOfExperts({ inputSize: n, outputSize: m, experts: E, topK: K, balanceWeight: 0.5 }).init(rng);
  layer.router.data.set(randomArray(rng, E * n));
  layer.bias.data.set(randomArray(rng, E * m, 0.5));
  const x = matrix(N, n);
  for (let i = 0; i < N; i++) {
    for (let tries = 0; ; tries++) {
      assert.ok(tries < 10000, 'test bug: cannot draw a row with the wanted routing margin');
      const row = randomMatrix(rng, 1, n);
      if (referenceRouting(layer, row).gap >= margin) { x.data.set(row.data, i * n); break; }
    }
  }
  return { layer, x };
}

testOnEveryBackend('moe: forward, load-balancing loss and usage equal the naive reference', () => {
  const rng = new Rng(43);
  for (const [E, K] of [[1, 1], [4, 1], [4, 2], [3, 3], [8, 2]]) {
    const { layer, x } = moeCase(rng, E, K, 11);
    const ref = referenceMoe(layer, x);
    assertClose(layer.forward(x, 'train').data, ref.y, near(ref.y), `moe E=${E} K=${K}`);
    assert.ok(Math.abs(layer.auxLoss() - ref.aux) < 1e-6, `moe E=${E} K=${K}: aux ${layer.auxLoss()} vs ${ref.aux}`);
    assertClose(layer.forward(x, 'infer').data, ref.y, near(ref.y), `moe E=${E} K=${K} infer`);
    const usage = layer.leafUsage().counts[0];
    assert.equal(usage.reduce((a, b) => a + b, 0), 2 * 11 * K, 'usage counts every assignment of both forwards');
    assert.deepEqual(layer.macs(), { training: K * 15 + E * 5, inference: K * 15 + E * 5 });
    assert.equal(layer.parameterCount(), E * (15 + 3) + E * 5, 'the experts\' weights and biases, and the router');
    assert.equal(layer.parameterCount(), layer.params().reduce((a, p) => a + p.size, 0), 'the stored floats');
  }
  assert.throws(() => new MixtureOfExperts({ inputSize: 4, outputSize: 2, experts: 2, topK: 3 }), /top-k/);
});

test('moe: restoreUsage takes one array of a count per expert; another shape is refused, the counts left as they were', () => {
  const moe = new MixtureOfExperts({ inputSize: 4, outputSize: 2, experts: 3 });
  moe.restoreUsage([[1, 2, 3]]);
  for (const counts of [[[9, 9]], [[9, 9, 9, 9]], [[9, 9, 9], [9, 9, 9]], []]) {
    assert.throws(() => moe.restoreUsage(counts), /usage does not match 3 experts/, JSON.stringify(counts));
    assert.deepEqual(Array.from(moe.leafUsage().counts[0]), [1, 2, 3], JSON.stringify(counts));
  }
});

testOnEveryBackend('moe: gradients of x, experts and router, with the load-balancing loss', () => {
  const rng = new Rng(44);
  for (const [E, K] of [[1, 1], [4, 1], [4, 2], [3, 3]]) {
    const { layer, x } = moeCase(rng, E, K, 7, 0.2);
    const sig = () => referenceRouting(layer, x).top.map((t) => t.join(',')).join('|');
    gradcheckLayer(layer, x, rng, `moe E=${E} K=${K}`, { signature: sig, eps: 3e-3, aux: () => layer.auxLoss() });
  }
});

testOnEveryBackend('moe at a size the fast backends block and thread (N = 64, 48→40, 6 experts, top 2): sampled gradients', () => {
  const rng = new Rng(45);
  const { layer, x } = moeCase(rng, 6, 2, 64, 0.05, 48, 40);
  const sig = () => referenceRouting(layer, x).top.map((t) => t.join(',')).join('|');
  gradcheckLayer(layer, x, rng, 'moe E=6 K=2 48→40 N=64', { signature: sig, eps: 3e-3, aux: () => layer.auxLoss(), sample: 150 });
});

testOnEveryBackend('Model with flat and moe layers: cross-entropy (+ balance loss) gradients of every parameter', () => {
  const rng = new Rng(45);
  for (const routed of ['flat', 'moe'] as const) {
    // balance weight 0.5: at the default 0.01 its gradient is within the tolerance of the cross-entropy's, and a
    // balance gradient left out would pass
    const cfg = mlpConfig({ inputSize: 6, numClasses: 3, hidden: [8], treeLayers: [2], routed, depth: 2, gating: 'projection', topK: 2, balanceWeight: 0.5 });
    const model = new Model(cfg, rng);
    const N = 6;
    const labels = Int32Array.from({ length: N }, () => rng.int(3));
    const x = randomMatrix(rng, N, 6);
    for (const { layer } of model.routedLayers()) {
      if (layer instanceof MixtureOfExperts) for (let i = 0; i < layer.router.data.length; i++) layer.router.data[i] *= 30;
    }
    // the gradients this accumulates are ignored: they were copied before the checks
    const loss = (): number => model.lossAndGrad(x, labels).loss;
    // hidden ReLU pattern and the leaves / experts used: fixed under ± eps
    const signature = (): string => {
      model.resetUsage();
      const h = model.layers[0].forward(x, 'infer');
      const relu = Array.from(h.data.subarray(0, N * 8), (v) => (v > 0 ? 1 : 0)).join('');
      model.forward(x, 'infer');
      return relu + ';' + model.treeStats().map((t) => t.usage.join('|')).join(';');
    };
    model.clearGrad();
    model.lossAndGrad(x, labels);
    const params = model.params();
    const grads = params.map((p) => p.grad.slice());
    const scale = Math.max(...grads.map(maxAbs));
    for (const [i, p] of params.entries()) {
      if (p.name.includes('gate_')) {
        // the bits only select (DESIGN §1, Gradients): without straight-through the gaters get a zero gradient
        assert.ok(grads[i].every((g) => g === 0), `model with ${routed}: ${p.name} has a nonzero gradient`);
        continue;
      }
      checkGradient({
        loss, data: p.data, grad: grads[i], eps: 2e-3, tol: { rtol: 1e-2, atol: 2e-3 * scale },
        what: `model with ${routed}: dL/d${p.name}`, signature,
      });
    }
  }
});

test('dense, flat and moe: every backend that loads here gives the js results (forward, gradients, inference over packed tables)', (t) => {
  const names = registerAvailableBackends();
  // the required backends are among those compared; where only js loads there is nothing to compare, said so
  for (const name of requiredBackends()) assert.ok(names.includes(name), `${name} is required (TREEGATE_REQUIRE_BACKENDS) and did not load`);
  if (names.length === 1) t.diagnostic('only js loaded here: no backend to compare with it');
  const rng = new Rng(46);
  const layers: Array<[string, () => Layer, Matrix]> = [];
  for (const [k, B] of [[0, 1], [3, 1], [4, 2]]) {
    const s = 24, x = randomMatrix(rng, 70, B * s), seed = rng.int(1000);
    layers.push([`flat k=${k} B=${B}`, () => new TreeGated({ kind: 'flat', inputSize: B * s, outputSize: 17, depth: k, blocks: B, gating: 'projection' }).init(new Rng(seed)), x]);
  }
  for (const [E, K] of [[1, 1], [8, 1], [5, 2]]) {
    const x = randomMatrix(rng, 65, 19), seed = rng.int(1000);
    layers.push([`moe E=${E} K=${K}`, () => new MixtureOfExperts({ inputSize: 19, outputSize: 13, experts: E, topK: K }).init(new Rng(seed)), x]);
  }
  for (const [N, n, m] of [[1, 512, 512], [70, 33, 70], [0, 5, 3]]) {
    const x = randomMatrix(rng, N, n), seed = rng.int(1000);
    layers.push([`dense ${n}→${m} N=${N}`, () => { const d = new Dense(n, m).init(new Rng(seed)); d.bias.data.fill(0.25); return d; }, x]);
  }
  for (const [what, make, x] of layers) {
    const run = (name: string) => {
      setBackend(name);
      try {
        const layer = make();
        const yi = layer.forward(x, 'infer').data.slice();
        const y = layer.forward(x, 'train').data.slice();
        const dy = randomMatrix(new Rng(7), x.rows, layer.outputSize);
        const dx = layer.backward(dy, true)!.data.slice();
        return { yi, y, dx, grads: layer.params().map((p) => p.grad.slice()) };
      } finally {
        setBackend('js');
      }
    };
    const ref = run('js');
    for (const name of names.filter((b) => b !== 'js')) {
      const got = run(name);
      assertClose(got.yi, ref.yi, near(ref.yi, 1e-4), `${name} ${what}: inference`);
      assertClose(got.y, ref.y, near(ref.y, 1e-4), `${name} ${what}: forward`);
      assertClose(got.dx, ref.dx, near(ref.dx, 1e-4), `${name} ${what}: dx`);
      got.grads.forEach((g, i) => assertClose(g, ref.grads[i], near(ref.grads[i], 1e-4), `${name} ${what}: grad ${i}`));
    }
  }
});

// ---------------------------------------------------------------------------
// the dense MLP of equal parameters
// ---------------------------------------------------------------------------

/**
 * The widths denseOfEqualParams documents, found by enumeration, not bisection: of the hidden widths max(1, round(h·f))
 * in order of f (they change where some h·f crosses a half), the first whose parameter count reaches `target`.
 */
function smallestRounded(o: MlpOptions, target: number): number[] {
  const bounds = new Set<number>([0]);
  for (const h of o.hidden) for (let j = 0; j <= 64 * h; j++) bounds.add((j + 0.5) / h);
  const f = [...bounds].sort((a, b) => a - b);
  // a dense MLP's weights and biases: Σ (a·b + b) over its consecutive widths a → b
  const count = (hidden: number[]) => [o.inputSize, ...hidden, o.numClasses].reduce((n, b, i, w) => (i === 0 ? 0 : n + w[i - 1] * b + b), 0);
  for (let i = 0; i + 1 < f.length; i++) {
    const hidden = o.hidden.map((h) => Math.max(1, Math.round(h * (f[i] + f[i + 1]) / 2)));
    if (count(hidden) >= target) {
      assert.equal(count(hidden), parameterCount({ ...o, treeLayers: [], routed: undefined, hidden }), 'test bug: the count differs');
      return hidden;
    }
  }
  throw new Error('test bug: no widths reach the target');
}

test('denseOfEqualParams: the hidden widths of `o` scaled by the smallest factor that reaches the target, each rounded to the nearest', () => {
  // widths of another ratio (3 : 5) step at different factors, so rounding and truncating reach a target by different widths
  const o: MlpOptions = { inputSize: 6, numClasses: 3, hidden: [3, 5], treeLayers: [1], depth: 2 };
  for (let target = 40; target <= 1500; target += 29) {
    const dense = denseOfEqualParams(o, target), want = smallestRounded(o, target);
    assert.deepEqual(dense.hidden, want, `target ${target}`);
    assert.ok(parameterCount(dense) >= target);
  }
  // a routed model of the size the CLI trains (784 → 256 → 128 → 10, a tree of depth 4): its count reached by the
  // fewest widths, 60 halvings of the factor fine enough for widths of thousands
  const routed: MlpOptions = { inputSize: 784, numClasses: 10, hidden: [256, 128], treeLayers: [1], depth: 4, gating: 'projection' };
  const target = parameterCount(routed), dense = denseOfEqualParams(routed, target);
  assert.deepEqual(dense.hidden, smallestRounded(routed, target));
  assert.ok(dense.hidden[0] > 2000, `hidden ${dense.hidden}`);
});

test('denseOfEqualParams: the options describe a dense MLP, whatever routed layers (tree, flat, mixture of experts) they were of', () => {
  for (const routed of ['tree', 'flat', 'moe'] as const) {
    const o: MlpOptions = { inputSize: 8, numClasses: 3, hidden: [16, 12], treeLayers: [1, 2], routed, depth: 2, blocks: 1, experts: 4, topK: 2 };
    const dense = denseOfEqualParams(o, parameterCount(o));
    assert.deepEqual(dense.treeLayers, [], routed);
    assert.equal(dense.routed, undefined, routed);
    assert.ok(mlpConfig(dense).layers.every((l) => l.kind === 'dense' || l.kind === 'activation'), routed);
    assert.deepEqual({ ...dense, hidden: o.hidden }, { ...o, treeLayers: [], routed: undefined }, `${routed}: the other options kept`);
  }
  // a mixture's options may give its experts and no depth (mlpConfig takes them): so may its dense MLP, which has no
  // routed layer for a depth to describe
  const moe = { inputSize: 8, numClasses: 3, hidden: [16], treeLayers: [1], routed: 'moe', experts: 4, topK: 2 } as unknown as MlpOptions;
  const dense = denseOfEqualParams(moe, parameterCount(moe));
  assert.ok(parameterCount(dense) >= parameterCount(moe) && dense.hidden[0] > 16, `widened: ${dense.hidden}`);
  assert.throws(() => mlpConfig({ ...moe, routed: 'tree' }), /MLP options: depth must be an integer in \[0, 24\], got undefined/, 'a tree layer needs its depth');
});
