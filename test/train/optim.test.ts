/**
 * Lazy optimizers (src/train/optim.ts). After a backward pass that touches only
 * some tree nodes, the touched slots must equal a dense reference update
 * written here from the formulas in optim.ts:
 *   sgd:  v ← μ v + g;                   w ← w − lr·(v + λ_s w)
 *   adam: m ← β1 m + (1−β1) g;  u ← β2 u + (1−β2) g²;  t ← t_s + 1
 *         w ← w − lr·( (m / (1−β1^t)) / (√(u / (1−β2^t)) + ε) + λ_s w )
 * with λ_s = λ·γ^depth(s) for tree weights, λ for dense weights, 0 for biases;
 * and untouched slots — weights and optimizer state — must be bit-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Matrix } from '../../src/core/tensor.js';
import { TreegateError } from '../../src/core/errors.js';
import { backend, jsBackend, registerBackend, setBackend } from '../../src/kernels/backend.js';
import { Dense } from '../../src/layers/dense.js';
import type { Param } from '../../src/layers/param.js';
import { TreeGated } from '../../src/layers/tree.js';
import { learningRate, Optimizer, type OptimizerConfig } from '../../src/train/optim.js';
import {
  assertBitEqual, assertClose, depthOf, maxAbs, pathNode, projectionBatch, randomMatrix, Rng, unitsBatch,
} from '../helpers.js';

const LAMBDA = 0.05, GAMMA = 1.7;

interface Net { tree: TreeGated; dense: Dense; params: Param[] }

function makeNet(rng: Rng, gating: 'units' | 'projection' = 'units'): Net {
  const tree = new TreeGated({ inputSize: 8, outputSize: 3, depth: 3, blocks: 2, gating, nodeInit: 'small', decayGamma: GAMMA }).init(rng);
  const dense = new Dense(3, 2).init(rng);
  return { tree, dense, params: [...tree.params(), ...dense.params()] };
}

/** One backward of tree and dense (separately, random output gradients) on batch x; gradients accumulate. */
function backward(rng: Rng, net: Net, x: Matrix): void {
  for (const p of net.params) p.clearGrad();
  const h = net.tree.forward(x, 'train');
  net.tree.backward(randomMatrix(rng, x.rows, 3), false);
  net.dense.forward(randomMatrix(rng, x.rows, 3), 'train');
  net.dense.backward(randomMatrix(rng, x.rows, 2), false);
  void h;
}

/** Decay multiplier of slot s of param p, from the design, not from p.decayScale. */
function decayOf(net: Net, p: Param, s: number): number {
  if (net.tree.weight.includes(p)) return LAMBDA * GAMMA ** depthOf(s);
  if (p === net.dense.weight) return LAMBDA;
  return 0; // biases (and gaters) are not decayed
}

interface Snap { data: Float32Array; grad: Float32Array; m: Float32Array; v: Float32Array | null; steps: Int32Array }

function snap(opt: Optimizer): Snap[] {
  return opt.params.map((p, i) => ({
    data: p.data.slice(), grad: p.grad.slice(), m: opt.state[i].m.slice(), v: opt.state[i].v?.slice() ?? null, steps: opt.state[i].steps.slice(),
  }));
}

/** The settings of both kinds, each with a value (the reference below reads those of its kind). */
type AllSettings = { kind: 'sgd' | 'adam'; momentum: number; beta1: number; beta2: number; eps: number };

/**
 * Applies `opt.step(lr)` and checks it against the reference from `before`.
 * `counts[i][s]` is the test's own count of steps of slot s of param i (incremented here for touched slots).
 */
function stepAndCheck(opt: Optimizer, net: Net, cfg: AllSettings,
  lr: number, counts: Int32Array[], what: string): void {
  const before = snap(opt);
  const touched = opt.params.map((p) => new Set(p.touched.subarray(0, p.touchedCount)));
  opt.step(lr);
  opt.params.forEach((p, i) => {
    const b = before[i], st = opt.state[i], z = p.slotSize;
    assert.ok(p.grad.every((x) => x === 0), `${what}: ${p.name} step clears the gradients it applied`);
    assert.equal(p.touchedCount, 0, `${what}: ${p.name} no slot touched after the step`);
    for (let s = 0; s < p.numSlots; s++) {
      const lo = s * z, hi = lo + z, where = `${what}: ${p.name} slot ${s}`;
      if (!touched[i].has(s)) {
        assertBitEqual(p.data.subarray(lo, hi), b.data.subarray(lo, hi), `${where} (untouched) weights`);
        assertBitEqual(st.m.subarray(lo, hi), b.m.subarray(lo, hi), `${where} (untouched) first moment`);
        if (st.v) assertBitEqual(st.v.subarray(lo, hi), b.v!.subarray(lo, hi), `${where} (untouched) second moment`);
        assert.equal(st.steps[s], b.steps[s], `${where} (untouched) step count`);
        continue;
      }
      const t = ++counts[i][s];
      assert.equal(st.steps[s], t, `${where}: per-slot step count`);
      const lam = decayOf(net, p, s);
      const w = new Float64Array(z), m = new Float64Array(z), v = new Float64Array(z);
      for (let e = 0; e < z; e++) {
        const g = b.grad[lo + e], w0 = b.data[lo + e];
        if (cfg.kind === 'sgd') {
          m[e] = cfg.momentum * b.m[lo + e] + g;
          w[e] = w0 - lr * (m[e] + lam * w0);
        } else {
          m[e] = cfg.beta1 * b.m[lo + e] + (1 - cfg.beta1) * g;
          v[e] = cfg.beta2 * b.v![lo + e] + (1 - cfg.beta2) * g * g;
          const mh = m[e] / (1 - cfg.beta1 ** t), vh = v[e] / (1 - cfg.beta2 ** t);
          w[e] = w0 - lr * (mh / (Math.sqrt(vh) + cfg.eps) + lam * w0);
        }
      }
      const tol = { rtol: 1e-6, atol: 1e-9 };
      assertClose(p.data.subarray(lo, hi), w, tol, `${where}: weights`);
      assertClose(st.m.subarray(lo, hi), m, tol, `${where}: ${cfg.kind === 'sgd' ? 'momentum' : 'first moment'}`);
      if (cfg.kind === 'adam') assertClose(st.v!.subarray(lo, hi), v, tol, `${where}: second moment`);
    }
  });
}

const SGD = { kind: 'sgd' as const, momentum: 0.8, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const ADAM = { kind: 'adam' as const, momentum: 0.9, beta1: 0.85, beta2: 0.99, eps: 1e-6 };

for (const cfg of [SGD, ADAM]) {
  test(`${cfg.kind}: touched slots follow the reference, untouched slots (weights and state) stay bit-identical`, () => {
    const rng = new Rng(cfg.kind === 'sgd' ? 41 : 42);
    const net = makeNet(rng);
    const { kind, momentum, beta1, beta2, eps } = cfg; // each optimizer takes only its own settings
    const opt = new Optimizer(net.params, kind === 'sgd' ? { kind, momentum, weightDecay: LAMBDA } : { kind, beta1, beta2, eps, weightDecay: LAMBDA });
    const counts = net.params.map((p) => new Int32Array(p.numSlots));
    // steps 1–4: block 0 in leaves {1, 2}, block 1 in leaf 6; step 5 adds leaf 5 in block 0 (new nodes 2, 5, 12)
    const leafSets = [[[1, 2], [6]], [[1], [6]], [[2], [6]], [[1, 2], [6]], [[5, 1], [6]]];
    leafSets.forEach(([l0, l1], step) => {
      const x = unitsBatch(rng, net.tree, 6, (i, j) => (j === 0 ? l0[i % l0.length] : l1[i % l1.length]));
      backward(rng, net, x);
      const w = net.tree.weight[0];
      if (step === 4) {
        assert.ok(Array.from(w.touched.subarray(0, w.touchedCount)).includes(12), 'test bug: leaf 5 not reached');
      }
      stepAndCheck(opt, net, cfg, 0.01 * (step + 1), counts, `${cfg.kind} step ${step + 1}`);
    });
    // node 12 (leaf 5 of block 0) was first touched at global step 5: it has taken one step, the root five
    const st = opt.state[net.params.indexOf(net.tree.weight[0])];
    assert.equal(st.steps[12], 1);
    assert.equal(st.steps[0], 5);
    assert.equal(st.steps[7 + 0], 0, 'leaf 0 never touched');
  });
}

test('adam: a slot first touched at global step 5 uses t = 1 (update ≈ lr·sign(g) + lr·λ_s·w)', () => {
  const rng = new Rng(43);
  const net = makeNet(rng);
  const opt = new Optimizer(net.params, { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: LAMBDA });
  for (let step = 0; step < 4; step++) {
    backward(rng, net, unitsBatch(rng, net.tree, 4, () => 0));
    opt.step(0.01);
  }
  backward(rng, net, unitsBatch(rng, net.tree, 4, (_i, j) => (j === 0 ? 7 : 0)));
  const w = net.tree.weight[0], slot = 14, z = w.slotSize; // node 14 = leaf 7 at depth 3
  const w0 = w.data.slice(slot * z, (slot + 1) * z), g = w.grad.slice(slot * z, (slot + 1) * z);
  assert.ok(maxAbs(g) > 0, 'test bug: no gradient on the new leaf');
  const lr = 0.01;
  opt.step(lr);
  // With t = 1 the bias correction undoes (1 − β): m̂ = g, v̂ = g². With t = 5 the update would be ~ (1−β1)/(1−β1^5)·… ≠ sign(g).
  const want = new Float64Array(z);
  const lam = LAMBDA * GAMMA ** 3;
  for (let e = 0; e < z; e++) want[e] = w0[e] - lr * (g[e] / (Math.abs(g[e]) + 1e-8) + lam * w0[e]);
  assertClose(w.data.subarray(slot * z, (slot + 1) * z), want, { rtol: 1e-5, atol: 1e-7 }, 'first update of a late slot');
  assert.equal(opt.state[0].steps[slot], 1);
  assert.equal(opt.state[0].steps[0], 5);
});

test('clearGrad zeroes only touched slots; grad is zero outside touched slots after backward', () => {
  const rng = new Rng(44);
  const net = makeNet(rng);
  const x = unitsBatch(rng, net.tree, 5, (i, j) => (j === 0 ? [3, 4][i % 2] : 0));
  backward(rng, net, x);
  for (const p of net.params) {
    const touched = new Set(p.touched.subarray(0, p.touchedCount));
    assert.equal(touched.size, p.touchedCount, `${p.name}: touched list has duplicates`);
    for (let s = 0; s < p.numSlots; s++) {
      if (!touched.has(s)) assert.equal(maxAbs(p.grad.subarray(s * p.slotSize, (s + 1) * p.slotSize)), 0, `${p.name}: untouched slot ${s} has a gradient`);
    }
  }
  // the path nodes of leaves 3 = 0b011 and 4 = 0b100 (block 0): 0; 1, 2; 4, 5; 10, 11
  const w0 = net.tree.weight[0];
  assert.deepEqual(Array.from(w0.touched.subarray(0, w0.touchedCount)).sort((a, b) => a - b), [0, 1, 2, 4, 5, 10, 11]);
  // a planted value in an untouched slot survives clearGrad: clearing costs O(touched), not O(capacity)
  const planted = 13 * w0.slotSize; // node 13, never touched
  w0.grad[planted] = 42;
  const counts = net.params.map((p) => p.touchedCount);
  assert.ok(counts.every((c) => c > 0));
  for (const p of net.params) p.clearGrad();
  assert.equal(w0.grad[planted], 42, 'clearGrad touched an untouched slot');
  w0.grad[planted] = 0;
  for (const p of net.params) {
    assert.equal(p.touchedCount, 0, `${p.name}: touched list emptied`);
    assert.equal(maxAbs(p.grad), 0, `${p.name}: all gradients zero after clearGrad`);
  }
  // touching again after a clear works (the per-slot flags were reset)
  backward(rng, net, x);
  assert.deepEqual(Array.from(w0.touched.subarray(0, w0.touchedCount)).sort((a, b) => a - b), [0, 1, 2, 4, 5, 10, 11]);
});

test('lazy cost: after many steps routed to one leaf, untouched slots have zero state and zero step counts', () => {
  for (const kind of ['sgd', 'adam'] as const) {
    const rng = new Rng(45);
    const k = 4, s = 5;
    const tree = new TreeGated({ inputSize: s, outputSize: 3, depth: k, nodeInit: 'small', decayGamma: 2 }).init(rng);
    const w = tree.weight[0], b = tree.bias[0];
    const w0 = w.data.slice(), b0 = b.data.slice();
    const opt = new Optimizer(tree.params(), { kind, weightDecay: 0.1 });
    const leaf = 5, path = new Set(Array.from({ length: k + 1 }, (_, d) => pathNode(leaf, d, k)));
    const steps = 60;
    for (let i = 0; i < steps; i++) {
      for (const p of tree.params()) p.clearGrad();
      tree.forward(unitsBatch(rng, tree, 8, () => leaf), 'train');
      tree.backward(randomMatrix(rng, 8, 3), false);
      assert.equal(w.touchedCount, k + 1, 'one path touched');
      opt.step(0.01);
    }
    tree.params().forEach((p, i) => {
      const st = opt.state[i], z = p.slotSize, init = p === w ? w0 : b0;
      for (let t = 0; t < tree.nodes; t++) {
        const lo = t * z, hi = lo + z, where = `${kind} ${p.name} node ${t}`;
        if (path.has(t)) {
          assert.equal(st.steps[t], steps, `${where}: steps`);
          assert.ok(maxAbs(st.m.subarray(lo, hi)) > 0, `${where}: state updated`);
        } else {
          assert.equal(st.steps[t], 0, `${where}: never visited`);
          assert.equal(maxAbs(st.m.subarray(lo, hi)), 0, `${where}: first moment zero`);
          if (st.v) assert.equal(maxAbs(st.v.subarray(lo, hi)), 0, `${where}: second moment zero`);
          assertBitEqual(p.data.subarray(lo, hi), init.subarray(lo, hi), `${where}: weights (not even decayed)`);
        }
      }
    });
  }
});

test('projection gaters: never touched, never updated, no optimizer state', () => {
  const rng = new Rng(46);
  const net = makeNet(rng, 'projection');
  const gates = [...net.tree.gateWeight, ...net.tree.gateBias];
  const before = gates.map((p) => p.data.slice());
  const versions = gates.map((p) => p.version);
  const opt = new Optimizer(net.params, { kind: 'adam', weightDecay: 0.1 });
  for (let i = 0; i < 5; i++) {
    backward(rng, net, projectionBatch(rng, net.tree, 6, 0));
    for (const p of gates) assert.equal(p.touchedCount, 0, `${p.name} touched`);
    opt.step(0.05);
  }
  gates.forEach((p, i) => {
    assertBitEqual(p.data, before[i], `${p.name} unchanged`);
    assert.equal(p.version, versions[i], `${p.name} version unchanged`);
    const st = opt.state[net.params.indexOf(p)];
    assert.equal(maxAbs(st.m), 0);
    assert.equal(maxAbs(st.v!), 0);
    assert.equal(maxAbs(st.steps), 0);
  });
  assert.ok(net.tree.weight[0].version > 0, 'touched params bump their version');
});

test('learningRate: constant and cosine', () => {
  for (const t of [0, 1, 50, 100, 1000]) assert.equal(learningRate('constant', 0.3, t, 100), 0.3);
  const lr = 0.2, total = 40;
  assert.equal(learningRate('cosine', lr, 0, total), lr);
  assert.ok(Math.abs(learningRate('cosine', lr, total / 2, total) - lr / 2) < 1e-15);
  assert.ok(Math.abs(learningRate('cosine', lr, total, total)) < 1e-15);
  assert.ok(Math.abs(learningRate('cosine', lr, total + 7, total)) < 1e-15, 'clamped after the end');
  for (let t = 0; t < total; t++) {
    const a = learningRate('cosine', lr, t, total), b = learningRate('cosine', lr, t + 1, total);
    assert.ok(b < a, `cosine decreases at step ${t}`);
    assert.ok(Math.abs(a - 0.5 * lr * (1 + Math.cos((Math.PI * t) / total))) < 1e-15);
  }
  assert.equal(learningRate('cosine', lr, 0, 0), lr, 'no steps: the base rate');
  assert.throws(() => learningRate('linear' as never, lr, 0, 10), TreegateError);
});

test('Optimizer rejects bad settings with a clear error', () => {
  const p = new Dense(2, 2).params();
  assert.throws(() => new Optimizer(p, { kind: 'rmsprop' as never }), /unknown optimizer 'rmsprop'/);
  assert.throws(() => new Optimizer(p, { kind: 'sgd', momentum: 1 }), TreegateError);
  for (const betas of [{ beta1: 1 }, { beta2: 1 }]) assert.throws(() => new Optimizer(p, { kind: 'adam', ...betas }), /Adam betas must be below 1/, JSON.stringify(betas));
  assert.throws(() => new Optimizer(p, { kind: 'adam', weightDecay: -1 }), TreegateError);
  assert.throws(() => new Optimizer(p, { kind: 'adam', eps: Number.NaN }), TreegateError);
  // eps 0 divides a slot whose gradients are all zero by zero (NaN weights a step later)
  for (const eps of [0, -1]) {
    assert.throws(() => new Optimizer(p, { kind: 'adam', eps }), new RegExp(`epsilon must be a finite number > 0, got ${eps} \\(a weight whose gradients are all zero is divided by it: use e\\.g\\. eps: 1e-8\\)`));
  }
  // a learning rate that is not a finite number ≥ 0 is refused where it is given, not met as NaN weights
  const opt = new Optimizer(p, { kind: 'adam' });
  for (const lr of [Number.NaN, -1, Infinity]) {
    assert.throws(() => opt.step(lr), /learning rate must be a finite number ≥ 0, got/, String(lr));
    assert.throws(() => opt.early(lr), /learning rate must be a finite number/, String(lr));
  }
  assert.ok(p.every((q) => q.data.every(Number.isFinite)), 'no weight touched');
});

test('the documented defaults: { kind: \'sgd\' } steps with momentum 0.9, { kind: \'adam\' } with β1 0.9, β2 0.999, ε 1e-8; neither decays', () => {
  const given: Record<'sgd' | 'adam', OptimizerConfig> = {
    sgd: { kind: 'sgd', momentum: 0.9, weightDecay: 0 },
    adam: { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  };
  for (const kind of ['sgd', 'adam'] as const) {
    // the same net and batches, stepped with the settings left out and with the documented values given
    const run = (config: OptimizerConfig) => {
      const rng = new Rng(44), net = makeNet(rng), opt = new Optimizer(net.params, config);
      for (let step = 0; step < 3; step++) {
        backward(rng, net, unitsBatch(rng, net.tree, 6, (i, j) => (i + j + step) % 8));
        opt.step(0.01);
      }
      return { opt, weights: net.params.map((p) => p.data.slice()) };
    };
    const byDefault = run({ kind }), documented = run(given[kind]);
    const { momentum, beta1, beta2, eps, weightDecay } = byDefault.opt;
    assert.deepEqual({ momentum, beta1, beta2, eps, weightDecay }, { momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, kind);
    byDefault.weights.forEach((w, i) => assertBitEqual(w, documented.weights[i], `${kind}: ${byDefault.opt.params[i].name}`));
  }
});

test('gradients are made at the first backward, after the optimizer\'s state; a model that only infers makes none', () => {
  // the order in which a backend's floats() hands out arrays is where the wasm backend's memory goes first
  // (residentBytes): weights, then the optimizer's moments, which its fused training step reads in place
  const made: number[] = [];
  registerBackend({ ...jsBackend, name: 'counting', floats: (n) => (made.push(n), new Float32Array(n)) });
  const was = backend().name;
  setBackend('counting');
  try {
    const rng = new Rng(5);
    const tree = new TreeGated({ inputSize: 8, outputSize: 3, depth: 2 }).init(rng);
    const sizes = tree.params().map((p) => p.size);
    assert.deepEqual(made, sizes, 'the layer makes its parameters\' data only');
    made.length = 0;
    tree.forward(randomMatrix(rng, 4, 8), 'infer');
    assert.deepEqual(made.filter((n) => sizes.includes(n)), [], 'inference makes no gradient (only its leaf tables)');
    made.length = 0;
    const opt = new Optimizer(tree.params(), { kind: 'adam' });
    assert.deepEqual(made, sizes.flatMap((n) => [n, n]), 'the optimizer makes its moments');
    made.length = 0;
    tree.forward(randomMatrix(rng, 4, 8), 'train');
    tree.backward(randomMatrix(rng, 4, 3), false);
    assert.deepEqual(made.filter((n) => sizes.includes(n)), sizes, 'the backward makes the gradients, once each');
    const grads = tree.params().map((p) => p.grad);
    assert.ok(tree.params().every((p, i) => p.grad === grads[i] && p.grad.length === p.size), 'the same arrays afterwards');
    opt.step(1e-3);
    opt.dispose();
    tree.dispose();
  } finally {
    setBackend(was);
  }
});
