/**
 * Central-difference gradient checks (STYLE item 8), each on every kernel backend that loads
 * here (js, wasm, native: testOnEveryBackend). For a layer, the scalar
 * loss is L = Σ y ⊙ R for a fixed random R, so dL/dy = R; the layer's backward
 * on R must match (L(w + h) − L(w − h)) / 2h for every input and parameter
 * element. Inputs and weights are perturbed in their float32 storage; the loss
 * is summed in float64 from the float32 outputs.
 *
 * The layers are linear in inputs and weights between gating decisions, so the
 * central difference has no truncation error: what remains is float32
 * rounding of the outputs, ~1e-5 here, against gradients of size ~1. The
 * tolerance (2e-3) is far below what a wrong node, a missing node, a transposed
 * product or a dropped bias gives (≥ 0.1). Inputs are built so that every
 * gating value is at least 0.1 from 0 (≥ 10·eps), and each check asserts that
 * the gating bits do not change under ± eps.
 */
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { Activation } from '../../src/layers/activation.js';
import { Dense } from '../../src/layers/dense.js';
import { mlpConfig, Model, type ModelConfig } from '../../src/layers/model.js';
import { TreeGated } from '../../src/layers/tree.js';
import { backend } from '../../src/kernels/backend.js';
import { nodeCount } from '../../src/kernels/routing.js';
import {
  assertClose, checkGradient, gradcheckLayer, maxAbs, pathNode, projectionBatch, randomArray, randomMatrix, referenceLeaves,
  Rng, signedMagnitude, unitsBatch,
} from '../helpers.js';
import { testOnEveryBackend } from '../backends.js';

testOnEveryBackend('Dense: gradients of x, weight and bias', () => {
  const rng = new Rng(1);
  for (const [N, n, m] of [[1, 1, 1], [6, 7, 5], [9, 4, 11]]) {
    const layer = new Dense(n, m).init(rng);
    for (let i = 0; i < m; i++) layer.bias.data[i] = rng.normal();
    gradcheckLayer(layer, randomMatrix(rng, N, n), rng, `dense ${n}→${m} N=${N}`);
  }
});

testOnEveryBackend('Dense at sizes the fast backends block and thread (N = 64; 64→64, 130→67): sampled gradients', () => {
  const rng = new Rng(11);
  for (const [N, n, m] of [[64, 64, 64], [64, 130, 67]]) {
    const layer = new Dense(n, m).init(rng);
    for (let i = 0; i < m; i++) layer.bias.data[i] = rng.normal();
    gradcheckLayer(layer, randomMatrix(rng, N, n), rng, `dense ${n}→${m} N=${N}`, { sample: 150 });
  }
});

testOnEveryBackend('softmaxCrossEntropy: dlogits is the gradient of the mean loss (ties, large logits, one class)', () => {
  const rng = new Rng(12);
  for (const [rows, cols, scale] of [[1, 1, 1], [1, 2, 1], [5, 3, 1], [8, 10, 4], [3, 17, 30], [4, 4, 0]]) {
    const logits = randomArray(rng, rows * cols, scale), labels = Int32Array.from({ length: rows }, () => rng.int(cols));
    if (scale === 0) logits.fill(2.5); // every logit tied
    const dlogits = new Float32Array(rows * cols);
    const r = backend().softmaxCrossEntropy(logits, rows, cols, labels, dlogits);
    const loss = (): number => backend().softmaxCrossEntropy(logits, rows, cols, labels, null).loss;
    assert.equal(r.loss, loss(), `${rows}×${cols}: the loss without dlogits`);
    checkGradient({ loss, data: logits, grad: dlogits, eps: 1e-2, tol: { rtol: 1e-2, atol: 1e-4 }, what: `softmax cross-entropy ${rows}×${cols} ×${scale}: dL/dlogits` });
  }
});

testOnEveryBackend('Activation: relu and tanh input gradients (1×1 to 64×33, past the vector widths)', () => {
  const rng = new Rng(2);
  for (const [N, n] of [[1, 1], [5, 7], [3, 67], [64, 33]] as const) {
    const x = randomMatrix(rng, N, n), sample = N * n > 500 ? 150 : undefined;
    // keep relu inputs ≥ 0.1 from its kink, so ±eps stays on one side
    for (let i = 0; i < x.data.length; i++) x.data[i] = signedMagnitude(rng, x.data[i] > 0, 0.1, 2);
    gradcheckLayer(new Activation('relu', n), x, rng, `relu ${N}×${n}`, {
      signature: () => Array.from(x.data, (v) => (v > 0 ? '1' : '0')).join(''), sample,
    });
    gradcheckLayer(new Activation('tanh', n), randomMatrix(rng, N, n), rng, `tanh ${N}×${n}`, { tol: { rtol: 1e-2, atol: 1e-3 }, sample });
  }
});

type Batch = 'random' | 'one leaf' | 'empty leaves';

/**
 * A tree layer and a batch whose gating values are all ≥ 0.1 from 0, with the wanted leaf pattern; nodeInit 'small'
 * (the default here) and random biases, or with 'zero' the weights and biases as `init` leaves them.
 */
function treeCase(rng: Rng, k: number, B: number, s: number, gating: 'units' | 'projection', batch: Batch,
  nodeInit: 'small' | 'zero' = 'small'): { layer: TreeGated; x: Matrix } {
  const m = 4;
  const layer = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, gating, nodeInit }).init(rng);
  if (nodeInit === 'small') for (const b of layer.bias) for (let i = 0; i < b.data.length; i++) b.data[i] = rng.normal() * 0.5;
  const leaves = 2 ** k;
  if (gating === 'units') {
    // a different gating unit order than the default, so a wrong unit index shows
    layer.gateUnits = Array.from({ length: k }, (_, d) => s - 1 - d);
    const one = (j: number): number => (0b1011 * (j + 1)) % leaves;
    const x = batch === 'random' ? unitsBatch(rng, layer, 10, () => rng.int(leaves))
      : batch === 'one leaf' ? unitsBatch(rng, layer, 7, (_i, j) => one(j))
        : unitsBatch(rng, layer, 6, () => (k === 1 || rng.int(2) ? leaves - 1 : 0)); // leaves 0 and 2^k − 1 only
    return { layer, x };
  }
  if (batch === 'one leaf') {
    // a large gate bias fixes every bit, whatever x: all examples in one leaf per block
    for (let j = 0; j < B; j++) {
      for (let d = 0; d < k; d++) layer.gateBias[j].data[d] = (d + j) % 2 ? 50 : -50;
    }
    return { layer, x: randomMatrix(rng, 7, B * s) };
  }
  if (batch === 'random') return { layer, x: projectionBatch(rng, layer, 10, 0.1) };
  // empty leaves: no example of any block in leaf 0
  return { layer, x: projectionBatch(rng, layer, 5, 0.1, (ls) => k === 0 || ls.every((l) => l !== 0)) };
}

const leafSignature = (layer: TreeGated, x: Matrix) => (): string =>
  referenceLeaves(layer, x).leaves.map((l) => Array.from(l).join(',')).join('|');

for (const gating of ['units', 'projection'] as const) {
  testOnEveryBackend(`TreeGated (${gating} gating): gradients of x and of every node, depths 0–3, blocks 1–3`, () => {
    const rng = new Rng(gating === 'units' ? 3 : 4);
    let checked = 0;
    for (let k = 0; k <= 3; k++) {
      for (const [B, s] of [[1, 5], [2, 4], [3, 3]]) {
        if (gating === 'units' && k > s) continue;
        for (const batch of ['random', 'one leaf', 'empty leaves'] as const) {
          const { layer, x } = treeCase(rng, k, B, s, gating, batch);
          const what = `tree k=${k} B=${B} s=${s} ${gating} ${batch}`;
          const ref = referenceLeaves(layer, x);
          if (k > 0) assert.ok(ref.minGate >= 0.1, `${what}: test bug: gating value ${ref.minGate} too close to 0`);
          if (batch === 'one leaf') {
            for (const l of ref.leaves) assert.equal(new Set(l).size, 1, `${what}: test bug: batch not in one leaf`);
          }
          if (batch === 'empty leaves' && k > 0) {
            for (const l of ref.leaves) assert.ok(new Set(l).size < 2 ** k, `${what}: test bug: no empty leaf`);
          }
          gradcheckLayer(layer, x, rng, what, {
            signature: leafSignature(layer, x),
            skipParams: (name) => name.endsWith('.gate_weight') || name.endsWith('.gate_bias'),
          });
          checked++;
        }
      }
    }
    assert.ok(checked >= 30, `only ${checked} cases ran`);
  });
}

testOnEveryBackend('TreeGated on path sums (nodes of 1 row and more, or 3, collapsed): gradients of x and of every node', () => {
  const rng = new Rng(5);
  for (const collapseRows of [1, 3]) {
    for (let k = 1; k <= 3; k++) {
      for (const [B, s] of [[1, 5], [2, 4]]) {
        for (const gating of ['units', 'projection'] as const) {
          for (const batch of ['random', 'one leaf'] as const) {
            const { layer, x } = treeCase(rng, k, B, s, gating, batch);
            layer.collapseRows = collapseRows;
            gradcheckLayer(layer, x, rng, `tree k=${k} B=${B} s=${s} ${gating} ${batch} collapseRows=${collapseRows}`, {
              signature: leafSignature(layer, x),
              skipParams: (name) => name.endsWith('.gate_weight') || name.endsWith('.gate_bias'),
            });
          }
        }
      }
    }
  }
});

testOnEveryBackend('TreeGated as a model starts (nodeInit \'zero\', the default: every node below the root zero): gradients of x and of every node, per node and on path sums', () => {
  const rng = new Rng(6);
  for (const collapseRows of [Infinity, 1]) {
    for (let k = 1; k <= 3; k++) {
      for (const gating of ['units', 'projection'] as const) {
        const { layer, x } = treeCase(rng, k, 2, 4, gating, 'random', 'zero');
        for (const w of layer.weight) {
          assert.ok(w.data.subarray(w.data.length / nodeCount(k)).every((v) => v === 0), 'test bug: the nodes below the root are not zero');
        }
        layer.collapseRows = collapseRows;
        gradcheckLayer(layer, x, rng, `tree nodeInit zero k=${k} ${gating} collapseRows=${collapseRows}`, {
          signature: leafSignature(layer, x),
          skipParams: (name) => name.endsWith('.gate_weight') || name.endsWith('.gate_bias'),
        });
      }
    }
  }
});

testOnEveryBackend('TreeGated: backward touches exactly the nodes on the batch paths; grad is zero elsewhere', () => {
  const rng = new Rng(5);
  for (const k of [1, 2, 3]) {
    for (const B of [1, 2]) {
      const s = 4, layer = new TreeGated({ inputSize: B * s, outputSize: 3, depth: k, blocks: B, nodeInit: 'small' }).init(rng);
      const x = unitsBatch(rng, layer, 5, () => rng.int(2 ** k));
      const { leaves } = referenceLeaves(layer, x);
      layer.forward(x, 'train');
      layer.backward(randomMatrix(rng, 5, 3), true);
      for (let j = 0; j < B; j++) {
        const onPath = new Set<number>();
        for (const L of leaves[j]) for (let d = 0; d <= k; d++) onPath.add(pathNode(L, d, k));
        for (const p of [layer.weight[j], layer.bias[j]]) {
          const touched = new Set(p.touched.subarray(0, p.touchedCount));
          assert.equal(touched.size, p.touchedCount, `${p.name}: a slot listed twice`);
          assert.deepEqual([...touched].sort((a, b) => a - b), [...onPath].sort((a, b) => a - b), `${p.name}: touched slots`);
          for (let t = 0; t < layer.nodes; t++) {
            if (touched.has(t)) continue;
            assert.equal(maxAbs(p.grad.subarray(t * p.slotSize, (t + 1) * p.slotSize)), 0, `${p.name}: untouched node ${t} has a gradient`);
          }
        }
      }
    }
  }
});

testOnEveryBackend('TreeGated (units gating): the gate units get their ordinary gradient as inputs', () => {
  // With a single path, dL/dx = W(b)ᵀ R; the gate units are inputs like any other.
  const rng = new Rng(6);
  const k = 2, s = 5, m = 3;
  const layer = new TreeGated({ inputSize: s, outputSize: m, depth: k, gateUnits: [3, 1], nodeInit: 'small' }).init(rng);
  const x = unitsBatch(rng, layer, 4, () => 2);
  layer.forward(x, 'train');
  const R = randomArray(rng, 4 * m);
  const dx = layer.backward(matrix(4, m, R), true)!;
  for (const u of [3, 1]) {
    for (let i = 0; i < 4; i++) {
      let want = 0;
      for (let d = 0; d <= k; d++) {
        const t = pathNode(2, d, k);
        for (let r = 0; r < m; r++) want += R[i * m + r] * layer.weight[0].data[(t * m + r) * s + u];
      }
      assert.ok(Math.abs(want) > 1e-3, 'test bug: expected gradient is ~0');
      assert.ok(Math.abs(dx.data[i * s + u] - want) < 1e-5 * (1 + Math.abs(want)), `gate unit ${u}, example ${i}: ${dx.data[i * s + u]} vs ${want}`);
    }
  }
});

/** Smallest distance to a kink or a gating boundary in the model on batch x (activation inputs, gating values). */
function modelMargin(model: Model, x: Matrix): number {
  let h = x, margin = Infinity;
  model.layers.forEach((l, i) => {
    if (l instanceof Activation) margin = Math.min(margin, ...Array.from(h.data.subarray(0, h.rows * h.cols), Math.abs));
    if (l instanceof TreeGated && (l.gating === 'projection' || i === 0)) margin = Math.min(margin, referenceLeaves(l, h).minGate);
    h = l.forward(h, 'train');
  });
  return margin;
}

/** Gating bits of every tree layer and the sign pattern of every activation input. */
function modelSignature(model: Model, x: Matrix): string {
  let h = x;
  const parts: string[] = [];
  for (const l of model.layers) {
    if (l instanceof TreeGated) parts.push(referenceLeaves(l, h).leaves.map((a) => a.join(',')).join('|'));
    if (l instanceof Activation) parts.push(Array.from(h.data.subarray(0, h.rows * h.cols), (v) => (v > 0 ? 1 : 0)).join(''));
    h = l.forward(h, 'train');
  }
  return parts.join('/');
}

/** N rows drawn one by one until the model's margin on each is ≥ `margin`. */
function marginBatch(rng: Rng, model: Model, N: number, margin: number): Matrix {
  const D = model.inputSize, x = matrix(N, D);
  for (let i = 0; i < N; i++) {
    for (let tries = 0; ; tries++) {
      assert.ok(tries < 20000, 'test bug: cannot draw a row with the wanted margin');
      const row = randomMatrix(rng, 1, D);
      if (modelMargin(model, row) >= margin) { x.data.set(row.data, i * D); break; }
    }
  }
  return x;
}

testOnEveryBackend('Model.lossAndGrad: softmax cross-entropy gradients of every parameter', () => {
  const rng = new Rng(7);
  const configs: Array<[string, ModelConfig]> = [
    ['tree first, relu, units', mlpConfig({ inputSize: 6, numClasses: 3, hidden: [8], treeLayers: [1], depth: 2, nodeInit: 'small' })],
    ['tree second, tanh, units on hidden units', mlpConfig({ inputSize: 5, numClasses: 4, hidden: [6, 6], treeLayers: [2], depth: 2, activation: 'tanh', nodeInit: 'small' })],
    ['tree output layer, relu, projection, 2 blocks', mlpConfig({ inputSize: 6, numClasses: 3, hidden: [6], treeLayers: [2], depth: 3, blocks: 2, gating: 'projection', nodeInit: 'small' })],
    ['two trees, relu, units, 2 blocks', mlpConfig({ inputSize: 8, numClasses: 3, hidden: [8], treeLayers: [1, 2], depth: 1, blocks: 2, nodeInit: 'small' })],
    // 40 rows: the native backend sums a tree's paths from 32 rows (collapseRows), js and wasm from 8
    ['tree output layer, relu, projection, 40 rows', mlpConfig({ inputSize: 6, numClasses: 3, hidden: [6], treeLayers: [2], depth: 2, gating: 'projection', nodeInit: 'small' })],
  ];
  for (const [name, cfg] of configs) {
    const model = new Model(cfg, rng);
    const N = name.endsWith('40 rows') ? 40 : 8, eps = 2e-3;
    const x = marginBatch(rng, model, N, 0.05);
    const labels = Int32Array.from({ length: N }, () => rng.int(cfg.numClasses));
    const loss = (): number => {
      const logits = model.forward(x, 'train');
      return backend().softmaxCrossEntropy(logits.data, N, logits.cols, labels, null).loss;
    };
    model.clearGrad();
    const r = model.lossAndGrad(x, labels);
    assert.ok(Math.abs(r.loss - loss()) < 1e-12, `${name}: lossAndGrad returns the loss`);
    if (N === 40) assert.ok(model.treeLayers().some(({ layer }) => layer.collapsedNodes().some((c) => c > 0)), `${name}: test bug: no node was trained on path sums`);
    const params = model.params();
    const grads = params.map((p) => p.grad.slice());
    const scale = Math.max(...grads.map(maxAbs));
    assert.ok(scale > 1e-3, `${name}: test bug: gradients vanish`);
    params.forEach((p, i) => {
      if (p.name.endsWith('.gate_weight') || p.name.endsWith('.gate_bias')) {
        assert.equal(maxAbs(grads[i]), 0, `${name}: ${p.name} gets no gradient`);
        assert.equal(p.touchedCount, 0, `${name}: ${p.name} is never touched`);
        return;
      }
      // mean CE gradients are ~1/N; rounding noise of the float32 logits is ~1e-7/eps
      checkGradient({
        loss, data: p.data, grad: grads[i], eps, tol: { rtol: 1e-2, atol: 1e-3 * scale },
        what: `model (${name}): dL/d${p.name}`, signature: () => modelSignature(model, x),
      });
    });
  }
});

testOnEveryBackend('TreeGated straight-through (projection): forward and node gradients are those without it', () => {
  // The surrogate gater gradient itself is checked against its formula in straight-through.test.ts;
  // here: the option changes nothing but the gaters' gradients and the input gradient.
  const rng = new Rng(8);
  for (const [k, B, s] of [[1, 1, 4], [3, 2, 5], [2, 3, 3]]) {
    const m = 3, N = 9, n = B * s;
    const opts = { inputSize: n, outputSize: m, depth: k, blocks: B, gating: 'projection' as const, nodeInit: 'small' as const };
    const plain = new TreeGated(opts).init(new Rng(100 + k));
    plain.collapseRows = Infinity; // one product per node, as straight-through training always runs (no path sums' rounding)
    const st = new TreeGated({ ...opts, straightThrough: true }).init(new Rng(100 + k));
    for (let j = 0; j < B; j++) {
      const b = randomArray(rng, plain.bias[j].data.length, 0.5);
      plain.bias[j].data.set(b);
      st.bias[j].data.set(b);
    }
    const x = projectionBatch(rng, plain, N, 1e-3);
    const dy = randomMatrix(rng, N, m);
    const what = `straight-through k=${k} B=${B} s=${s}`;
    const y0 = plain.forward(x, 'train').data.slice();
    plain.backward(dy, true);
    assertClose(st.forward(x, 'train').data.slice(), y0, { rtol: 0, atol: 0 }, `${what}: forward`);
    st.backward(dy, true);
    for (let j = 0; j < B; j++) {
      assertClose(st.weight[j].grad, plain.weight[j].grad, { rtol: 1e-6, atol: 1e-6 }, `${what}: block ${j} dU`);
      assertClose(st.bias[j].grad, plain.bias[j].grad, { rtol: 1e-6, atol: 1e-6 }, `${what}: block ${j} dc`);
      assert.equal(plain.gateWeight[j].touchedCount, 0, `${what}: without the option the gaters are not touched`);
      assert.equal(st.gateWeight[j].touchedCount, 1, `${what}: with it they are`);
      assert.ok(maxAbs(st.gateWeight[j].grad) > 0, `${what}: and get a gradient`);
    }
  }
});

testOnEveryBackend('Model.lossAndGrad accumulates: two batches without clearing give the sum of their gradients', () => {
  // each routed layer writes a node's first gradient of a pass over it (no read of zeros: the `fresh` hint of
  // groupedBackwardWeight) and adds to the ones it holds; nodes here are reached by the first batch, the second, or both
  const rng = new Rng(41);
  const D = 10, C = 3;
  const configs: Array<[string, Parameters<typeof mlpConfig>[0], number | undefined]> = [
    ['tree, units', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 3, nodeInit: 'small' }, undefined],
    ['tree, projection, blocks 2', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 3, blocks: 2, gating: 'projection', nodeInit: 'small' }, undefined],
    ['tree on path sums', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 3, gating: 'projection', nodeInit: 'small' }, 2],
    ['tree, two layers', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [1, 2], depth: 2, gating: 'projection', nodeInit: 'small' }, undefined],
    ['flat', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], routed: 'flat', depth: 3, gating: 'projection' }, undefined],
    ['moe', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], routed: 'moe', depth: 0, experts: 6, topK: 2 }, undefined],
    ['dense', { inputSize: D, numClasses: C, hidden: [12], treeLayers: [], depth: 0 }, undefined],
  ];
  for (const [what, options, collapseRows] of configs) {
    const model = new Model(mlpConfig(options), rng.fork());
    for (const { layer } of model.treeLayers()) layer.collapseRows = collapseRows;
    const batch = (N: number) => ({ x: randomMatrix(rng, N, D), y: Int32Array.from({ length: N }, () => rng.int(C)) });
    const a = batch(40), b = batch(23);
    model.chooseGateUnits(a.x);
    const gradsOf = (...batches: Array<typeof a>): Float32Array[] => {
      model.clearGrad();
      for (const { x, y } of batches) model.lossAndGrad(x, y);
      return model.params().map((p) => p.grad.slice());
    };
    const [ga, gb, both] = [gradsOf(a), gradsOf(b), gradsOf(a, b)];
    model.params().forEach((p, i) => {
      const sum = Float32Array.from(ga[i], (v, j) => v + gb[i][j]);
      assertClose(both[i], sum, { rtol: 1e-5, atol: 1e-6 }, `${what}: ${p.name}, two batches = the sum of each`);
    });
    assert.ok(ga.some((g, i) => maxAbs(g) > 0 && maxAbs(gb[i]) > 0), `${what}: both batches reach some parameter`);
  }
});

testOnEveryBackend('TreeGated at a size the fast backends block, thread and collapse (N = 64, 64→64): sampled gradients', () => {
  // the cases above are small enough for the few-row kernels; this one takes the blocked products, a thread split
  // and path sums (the root's 64 rows), checked at 150 random entries of x and of each parameter
  const rng = new Rng(31);
  for (const gating of ['projection', 'units'] as const) {
    const layer = new TreeGated({ inputSize: 64, outputSize: 64, depth: 2, blocks: 1, gating, nodeInit: 'small' }).init(rng);
    for (const b of layer.bias) for (let i = 0; i < b.data.length; i++) b.data[i] = rng.normal() * 0.5;
    const x = gating === 'units' ? unitsBatch(rng, layer, 64, () => rng.int(4)) : projectionBatch(rng, layer, 64, 0.1);
    gradcheckLayer(layer, x, rng, `tree 64→64 k=2 N=64 ${gating}`, { signature: leafSignature(layer, x), sample: 150 });
  }
});
