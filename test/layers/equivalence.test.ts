/**
 * Equivalences between layers (STYLE item 8) and the project's counting claim:
 *   (a) a depth-0 tree is a dense layer;
 *   (b) collapsed inference equals the path-sum training forward, and the
 *       collapsed tables follow weight changes signalled by Param.version;
 *   (c) the grouped, sorted execution equals a naive per-example reference
 *       written from the DESIGN formula (forward and backward), on every
 *       backend this machine has;
 *   (d) parameters and multiply-adds of a tree layer against a dense one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { setBackend } from '../../src/kernels/backend.js';
import { nodeDepth, Routing } from '../../src/kernels/routing.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { Dense } from '../../src/layers/dense.js';
import { MAX_COLLAPSED, PathSums } from '../../src/layers/path-sums.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Optimizer } from '../../src/train/optim.js';
import {
  assertBitEqual, assertClose, maxAbs, near, pathNode, projectionBatch, randomMatrix, referenceLeaves,
  referenceTreeBackward, referenceTreeForward, Rng, unitsBatch,
} from '../helpers.js';


function randomize(rng: Rng, a: Float32Array, scale = 1): void {
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * scale;
}

// ---------------------------------------------------------------------------
// (a) depth 0 = dense
// ---------------------------------------------------------------------------

test('(a) a depth-0 tree equals a dense layer with the same weights: forward and all gradients', () => {
  const rng = new Rng(31);
  for (const [N, n, m] of [[1, 1, 1], [7, 5, 3], [16, 9, 12]]) {
    for (const gating of ['units', 'projection'] as const) {
      const dense = new Dense(n, m).init(rng);
      randomize(rng, dense.bias.data);
      const tree = new TreeGated({ inputSize: n, outputSize: m, depth: 0, gating });
      assert.equal(tree.nodes, 1);
      tree.weight[0].data.set(dense.weight.data); // (1, m, n) = (m, n)
      tree.bias[0].data.set(dense.bias.data);
      const x = randomMatrix(rng, N, n);
      const what = `depth 0 ${gating} N=${N} ${n}→${m}`;
      for (const mode of ['infer', 'train'] as const) {
        const yd = dense.forward(x, mode).data.slice();
        const yt = tree.forward(x, mode).data.slice();
        assertClose(yt, yd, near(yd, 1e-6), `${what}: ${mode} forward`);
      }
      const dy = randomMatrix(rng, N, m);
      const dxd = dense.backward(dy, true)!.data.slice();
      const dxt = tree.backward(dy, true)!.data.slice();
      assertClose(dxt, dxd, near(dxd, 1e-6), `${what}: dx`);
      assertClose(tree.weight[0].grad, dense.weight.grad, near(dense.weight.grad, 1e-6), `${what}: dW`);
      assertClose(tree.bias[0].grad, dense.bias.grad, near(dense.bias.grad, 1e-6), `${what}: db`);
      assert.equal(tree.parameterCount(), dense.parameterCount(), `${what}: parameter count`);
      assert.deepEqual(tree.macs(), dense.macs(), `${what}: MACs`);
    }
  }
});

for (const backendName of registerAvailableBackends()) test(`(a) [${backendName}] a depth-0 tree trains on the dense layer's products: the same bits in the training forward and the input gradient`, (t) => {
  t.after(() => setBackend('js'));
  setBackend(backendName);
  const rng = new Rng(32);
  // the last shape is split between two threads by the native backend (130 rows, 300 columns in chunks)
  for (const [N, n, m] of [[1, 1, 1], [7, 5, 3], [130, 64, 300]]) {
    const dense = new Dense(n, m).init(rng);
    randomize(rng, dense.bias.data);
    const tree = new TreeGated({ inputSize: n, outputSize: m, depth: 0 });
    tree.weight[0].data.set(dense.weight.data);
    tree.bias[0].data.set(dense.bias.data);
    const x = randomMatrix(rng, N, n), dy = randomMatrix(rng, N, m);
    const what = `${backendName} depth 0 N=${N} ${n}→${m}`;
    assertBitEqual(tree.forward(x, 'train').data, dense.forward(x, 'train').data, `${what}: train forward`);
    assertBitEqual(tree.backward(dy, true)!.data, dense.backward(dy, true)!.data, `${what}: dx`);
    tree.dispose();
    dense.dispose();
  }
});

test('(a) an empty batch (N = 0): the tree, like the dense layer, runs forward and backward with empty results', () => {
  // regression: TreeGated once took trained = N as its "has a train forward" flag, so after a train forward of
  // 0 rows backward threw "backward without a train forward" where Dense returns a (0, n) gradient.
  for (const k of [0, 2]) {
    const dense = new Dense(4, 3), tree = new TreeGated({ inputSize: 4, outputSize: 3, depth: k });
    const x = matrix(0, 4), dy = matrix(0, 3);
    assert.equal(dense.forward(x, 'train').rows, 0);
    assert.equal(dense.backward(dy, true)!.rows, 0);
    assert.equal(tree.forward(x, 'train').rows, 0);
    const dx = tree.backward(dy, true);
    assert.ok(dx && dx.rows === 0 && dx.cols === 4, `k=${k}: tree backward on an empty batch`);
    for (const p of tree.params()) assert.equal(maxAbs(p.grad), 0);
  }
});

test('(a) a depth-0 tree with B blocks equals a dense layer [U^(0) | … | U^(B−1)], bias Σ_j c^(j)', () => {
  const rng = new Rng(32);
  const N = 6, B = 3, s = 3, n = B * s, m = 4;
  const tree = new TreeGated({ inputSize: n, outputSize: m, depth: 0, blocks: B });
  const dense = new Dense(n, m);
  for (let j = 0; j < B; j++) {
    randomize(rng, tree.weight[j].data);
    randomize(rng, tree.bias[j].data);
    for (let r = 0; r < m; r++) {
      for (let p = 0; p < s; p++) dense.weight.data[r * n + j * s + p] = tree.weight[j].data[r * s + p];
      dense.bias.data[r] += tree.bias[j].data[r];
    }
  }
  const x = randomMatrix(rng, N, n);
  const yd = dense.forward(x, 'train').data.slice();
  const yt = tree.forward(x, 'train').data.slice();
  assertClose(yt, yd, near(yd), 'blocks forward');
  const dy = randomMatrix(rng, N, m);
  const dxd = dense.backward(dy, true)!.data.slice();
  const dxt = tree.backward(dy, true)!.data.slice();
  assertClose(dxt, dxd, near(dxd), 'blocks dx');
  for (let j = 0; j < B; j++) {
    const dW = new Float32Array(m * s);
    for (let r = 0; r < m; r++) for (let p = 0; p < s; p++) dW[r * s + p] = dense.weight.grad[r * n + j * s + p];
    assertClose(tree.weight[j].grad, dW, near(dW), `block ${j} dU`);
    assertClose(tree.bias[j].grad, dense.bias.grad, near(dense.bias.grad), `block ${j} dc (every block's bias sees all of dy)`);
  }
});

// ---------------------------------------------------------------------------
// (b) collapsed inference = path-sum training forward
// ---------------------------------------------------------------------------

function collapsedMatches(tree: TreeGated, x: Matrix, what: string): Float32Array {
  const yTrain = tree.forward(x, 'train').data.slice();
  const yInfer = tree.forward(x, 'infer').data.slice();
  assertClose(yInfer, yTrain, near(yTrain), what);
  return yInfer;
}

for (const backendName of registerAvailableBackends()) test(`(b) [${backendName}] collapsed inference equals the path-sum forward for k = 1..6, blocks 1 and 2, and follows weight changes (tables rebuilt in place)`, (t) => {
  setBackend(backendName);
  t.after(() => void setBackend('js'));
  const rng = new Rng(33);
  for (let k = 1; k <= 6; k++) {
    for (const B of [1, 2]) {
      const s = 7, m = 5, N = 48;
      const tree = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, nodeInit: 'small' }).init(rng);
      for (const b of tree.bias) randomize(rng, b.data, 0.3);
      const x = unitsBatch(rng, tree, N, () => rng.int(2 ** k));
      const what = `k=${k} B=${B}`;
      const y0 = collapsedMatches(tree, x, `${what}: initial weights`);
      // the same tables serve a second call
      assertBitEqual(tree.forward(x, 'infer').data.slice(), y0, `${what}: second inference call`);
      // change every node (as an optimizer step would), bump the versions, compare again
      for (let round = 0; round < 2; round++) {
        for (let j = 0; j < B; j++) {
          const w = tree.weight[j], b = tree.bias[j];
          for (let i = 0; i < w.data.length; i++) w.data[i] += rng.normal() * 0.2;
          for (let i = 0; i < b.data.length; i++) b.data[i] += rng.normal() * 0.2;
          w.version++;
          b.version++;
        }
        const y1 = collapsedMatches(tree, x, `${what}: after weight change ${round + 1}`);
        assert.ok(maxAbs(y1.map((v, i) => v - y0[i])) > 1e-2, `${what}: test bug: the change did not change y`);
      }
      // bumping only one param's version (here: the last block's bias) must also rebuild
      const lastBias = tree.bias[B - 1];
      for (let i = 0; i < lastBias.data.length; i++) lastBias.data[i] += 1;
      lastBias.version++;
      collapsedMatches(tree, x, `${what}: after a bias-only change`);
      // every leaf of every block, one example each
      const every = unitsBatch(rng, tree, 2 ** k, (i, j) => (i + j) % 2 ** k);
      const yRef = referenceTreeForward(tree, every, referenceLeaves(tree, every).leaves);
      assertClose(tree.forward(every, 'infer').data.slice(), yRef, near(yRef), `${what}: every leaf, collapsed vs reference`);
    }
  }
});

test('(b) collapsed inference after real optimizer steps (projection gating, odd widths)', () => {
  const rng = new Rng(34);
  const k = 3, B = 2, s = 5, m = 3, N = 30;
  const tree = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, gating: 'projection', nodeInit: 'small' }).init(rng);
  const x = projectionBatch(rng, tree, N, 1e-3);
  const opt = new Optimizer(tree.params(), { kind: 'adam', weightDecay: 0.01 });
  collapsedMatches(tree, x, 'before training');
  for (let step = 0; step < 3; step++) {
    for (const p of tree.params()) p.clearGrad();
    const xb = matrix(5, B * s, x.data.slice(step * 5 * B * s, (step + 1) * 5 * B * s)); // a sub-batch: some nodes untouched
    tree.forward(xb, 'train');
    tree.backward(randomMatrix(rng, 5, m), false);
    opt.step(0.05);
    collapsedMatches(tree, x, `after optimizer step ${step + 1}`);
  }
});

test('(b) collapsed tables are laid out for the backend in use, and rebuilt when it changes', (t) => {
  const names = registerAvailableBackends();
  t.after(() => void setBackend('js'));
  const rng = new Rng(36);
  const k = 4, s = 40, m = 70, N = 90; // m spans a ragged second 32-column panel of the native layout
  const tree = new TreeGated({ inputSize: s, outputSize: m, depth: k, nodeInit: 'small' }).init(rng);
  for (const b of tree.bias) randomize(rng, b.data, 0.3);
  const x = unitsBatch(rng, tree, N, () => rng.int(2 ** k));
  const yRef = referenceTreeForward(tree, x, referenceLeaves(tree, x).leaves);
  // every backend after every other (native → js must not hand js the native panels, and back)
  for (const name of [...names, ...names.slice().reverse(), names[0]]) {
    setBackend(name);
    assertClose(tree.forward(x, 'infer').data.slice(), yRef, near(yRef), `collapsed forward on ${name}`);
  }
});

// ---------------------------------------------------------------------------
// (c) grouped sorted execution = naive per-example reference
// ---------------------------------------------------------------------------

// every backend the machine has: the layer's own calls (routed forward, grouped backward, collapsed tables)
// against the backend-independent formula
for (const backendName of registerAvailableBackends()) {
  test(`(c) [${backendName}] forward and backward equal the per-example DESIGN formula (k 0..4, blocks 1..3, both gatings; per node and on path sums)`, (t) => {
    setBackend(backendName);
    t.after(() => void setBackend('js'));
    const rng = new Rng(35);
    // collapseRows: the backend's default (native: 32, and no node of these batches has 32 rows, so one product
    // per node; wasm and js: nodes of 8 rows and more), every node above the leaves on path sums, and nodes of 5 rows and more (a
    // frontier at mixed depths)
    for (const collapseRows of [undefined, 1, 5]) for (let k = 0; k <= 4; k++) {
      for (const [B, s] of [[1, 6], [2, 5], [3, 4]]) {
        for (const gating of ['units', 'projection'] as const) {
          for (const batch of ['random', 'one leaf', 'two leaves'] as const) {
            const m = 3, N = batch === 'random' ? 21 : 6;
            const tree = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, gating, nodeInit: 'small' }).init(rng);
            tree.collapseRows = collapseRows;
            for (const b of tree.bias) randomize(rng, b.data, 0.5);
            if (gating === 'units' && k > 0) tree.gateUnits = Array.from({ length: k }, (_, d) => s - 1 - d); // not the default order
            let x: Matrix;
            if (gating === 'units') {
              const L = 2 ** k;
              x = unitsBatch(rng, tree, N, batch === 'random' ? () => rng.int(L) : batch === 'one leaf' ? (_i, j) => (j + 1) % L : (i) => (i % 2 ? L - 1 : 0));
            } else {
              if (batch !== 'random') {
                for (const gb of tree.gateBias) for (let d = 0; d < k; d++) gb.data[d] = d % 2 ? 40 : -40;
              }
              x = batch === 'random' ? projectionBatch(rng, tree, N, 1e-3) : randomMatrix(rng, N, B * s);
            }
            const what = `k=${k} B=${B} s=${s} ${gating} ${batch} collapseRows=${collapseRows}`;
            const { leaves } = referenceLeaves(tree, x);
            tree.resetUsage();
            const y = tree.forward(x, 'train').data.slice();
            const usage = tree.leafUsage();
            for (let j = 0; j < B; j++) {
              const hist = new Float64Array(2 ** k);
              for (const L of leaves[j]) hist[L]++;
              assert.deepEqual(Array.from(usage.counts[j]), Array.from(hist), `${what}: block ${j} leaf usage = reference routing`);
            }
            const yRef = referenceTreeForward(tree, x, leaves);
            assertClose(y, yRef, near(yRef), `${what}: forward`);
            const dy = randomMatrix(rng, N, m);
            for (const p of tree.params()) p.clearGrad();
            const dx = tree.backward(dy, true)!.data.slice();
            const ref = referenceTreeBackward(tree, x, leaves, dy.data);
            assertClose(dx, ref.dx, near(ref.dx), `${what}: dx`);
            for (let j = 0; j < B; j++) {
              assertClose(tree.weight[j].grad, ref.dU[j], near(ref.dU[j]), `${what}: block ${j} dU`);
              assertClose(tree.bias[j].grad, ref.dc[j], near(ref.dc[j]), `${what}: block ${j} dc`);
            }
            if (k > 0) {
              const yInf = tree.forward(x, 'infer').data.slice();
              assertClose(yInf, yRef, near(yRef), `${what}: collapsed forward`);
            }
          }
        }
      }
    }
  });
}

for (const backendName of registerAvailableBackends()) {
  test(`(c) [${backendName}] on path sums, gradients accumulated over two batches equal the per-node ones (a deep tree, wide nodes)`, (t) => {
    setBackend(backendName);
    t.after(() => void setBackend('js'));
    const opts = { inputSize: 24, outputSize: 20, depth: 6, nodeInit: 'small' as const };
    const [perNode, summed] = [0, 1].map(() => new TreeGated(opts).init(new Rng(37)));
    perNode.collapseRows = Infinity;
    summed.collapseRows = 8;
    const rng = new Rng(38);
    const batches = [96, 200].map((N) => ({ x: randomMatrix(rng, N, 24), dy: randomMatrix(rng, N, 20) }));
    const dx: Float32Array[][] = [[], []];
    [perNode, summed].forEach((tree, i) => {
      for (const { x, dy } of batches) {
        tree.forward(x, 'train');
        dx[i].push(tree.backward(dy, true)!.data.slice());
      }
    });
    batches.forEach((_, b) => assertClose(dx[1][b], dx[0][b], near(dx[0][b]), `batch ${b}: dx`));
    const [w0, w1] = [perNode.weight[0], summed.weight[0]], [b0, b1] = [perNode.bias[0], summed.bias[0]];
    assert.deepEqual([...w1.touched.subarray(0, w1.touchedCount)].sort((a, b) => a - b), [...w0.touched.subarray(0, w0.touchedCount)].sort((a, b) => a - b), 'touched nodes');
    assertClose(w1.grad, w0.grad, near(w0.grad), 'dU over both batches');
    assertClose(b1.grad, b0.grad, near(b0.grad), 'dc over both batches');
    // the first batch alone (fresh gradients) took the sums: the same gradient as per node
    for (const tree of [perNode, summed]) for (const p of tree.params()) p.clearGrad();
    for (const tree of [perNode, summed]) {
      tree.forward(batches[0].x, 'train');
      tree.backward(batches[0].dy, false);
    }
    assertClose(w1.grad, w0.grad, near(w0.grad), 'dU of one batch');
  });
}

test('(c) path sums: where more than MAX_COLLAPSED nodes would collapse, the plan doubles its rows until at most that many do', () => {
  const rng = new Rng(41);
  const N = 400, k = 8, rt = new Routing();
  rt.leaf = Int32Array.from({ length: N }, () => rng.int(2 ** k));
  rt.sort(N, k);
  // what the plan should collapse from R rows: the nodes above the leaves with ≥ R rows whose parents collapse too
  const expected = (R: number): number => {
    const up = new Set<number>();
    for (let g = 0; g < rt.nodeCount; g++) {
      const t = rt.node[g];
      if ((t === 0 || up.has((t - 1) >> 1)) && rt.end[g] - rt.start[g] >= R && nodeDepth(t) < k) up.add(t);
    }
    return up.size;
  };
  assert.ok(expected(1) > MAX_COLLAPSED, `the test's batch must ask for more than ${MAX_COLLAPSED} nodes: ${expected(1)}`);
  let R = 1;
  while (expected(R) > MAX_COLLAPSED) R *= 2;
  assert.ok(R > 2 && expected(R) > 0, `the cap must double more than once and still collapse (R = ${R})`);
  const sums = new PathSums();
  for (const minRows of [1, R / 2, R]) {
    assert.equal(sums.plan(rt, k, minRows), true, `minRows ${minRows}`);
    assert.equal(sums.collapsedCount, expected(R), `minRows ${minRows}: collapsed from ${R} rows`);
  }
  assert.equal(sums.plan(rt, k, 2 * R), true);
  assert.equal(sums.collapsedCount, expected(2 * R), 'under the cap, the rows asked for');
  assert.equal(sums.plan(rt, k, N + 1), false, 'a root of fewer rows than asked collapses nothing');
  assert.equal(sums.collapsedCount, 0);
});

test('(c) path sums: exactly MAX_COLLAPSED nodes collapse from the rows asked for, as does a root of exactly those rows; the leaves below, which never collapse, do not count toward the cap', () => {
  // depth 7, one row on each even leaf of the left half: the 32 depth-6 nodes above them and their 32 ancestors make
  // 64 nodes above the leaves with a row each, and 32 leaves with one row too
  assert.equal(MAX_COLLAPSED, 64, 'test bug: the batch is laid out for a cap of 64 nodes');
  const k = 7, N = 32, rt = new Routing();
  rt.leaf = Int32Array.from({ length: N }, (_, i) => 2 * i);
  rt.sort(N, k);
  const sums = new PathSums();
  assert.equal(sums.plan(rt, k, 1), true);
  assert.equal(sums.collapsedCount, 64, 'every node above the leaves, from the 1 row asked for (not 32 of them, from 2 rows)');
  assert.equal(sums.plan(rt, k, 2), true);
  assert.equal(sums.collapsedCount, 32, 'from 2 rows: the nodes above depth 6');
  assert.equal(sums.plan(rt, k, N), true, 'a root of exactly the rows asked for collapses');
  assert.equal(sums.collapsedCount, 2, `from ${N} rows: the root and its left child, which hold every row`);
});

for (const backendName of registerAvailableBackends()) {
  test(`(c) [${backendName}] on path sums capped at MAX_COLLAPSED nodes (depth 8, every node asked for): forward, input and weight gradients equal the per-node ones`, (t) => {
    setBackend(backendName);
    t.after(() => void setBackend('js'));
    const opts = { inputSize: 20, outputSize: 12, depth: 8, nodeInit: 'small' as const };
    const [perNode, summed] = [0, 1].map(() => new TreeGated(opts).init(new Rng(42)));
    perNode.collapseRows = Infinity;
    summed.collapseRows = 1;
    const rng = new Rng(43);
    const x = randomMatrix(rng, 400, 20), dy = randomMatrix(rng, 400, 12);
    const [y, dx] = [perNode, summed].map((tree) => {
      const out = tree.forward(x, 'train').data.slice();
      return [out, tree.backward(dy, true)!.data.slice()];
    }).reduce<Float32Array[][]>((acc, [a, b]) => (acc[0].push(a), acc[1].push(b), acc), [[], []]);
    // the cap engaged: path sums, on at most MAX_COLLAPSED of the far more nodes that have a row
    assert.deepEqual(perNode.collapsedNodes(), [0]);
    const [collapsed] = summed.collapsedNodes();
    assert.ok(collapsed > 0 && collapsed <= MAX_COLLAPSED, `collapsed ${collapsed} nodes`);
    assertClose(y[1], y[0], near(y[0]), 'y');
    assertClose(dx[1], dx[0], near(dx[0]), 'dx');
    assertClose(summed.weight[0].grad, perNode.weight[0].grad, near(perNode.weight[0].grad), 'dU');
    assertClose(summed.bias[0].grad, perNode.bias[0].grad, near(perNode.bias[0].grad), 'dc');
  });
}

test('(c) path sums: a backward pass after the weights changed (a second backward after a fused step) reads the weights as one product per node does; collapseRows is checked', () => {
  const opts = { inputSize: 16, outputSize: 12, depth: 4, nodeInit: 'small' as const };
  const [perNode, summed] = [0, 1].map(() => new TreeGated(opts).init(new Rng(39)));
  perNode.collapseRows = Infinity;
  summed.collapseRows = 4;
  const rng = new Rng(40);
  const x = randomMatrix(rng, 64, 16), dy = randomMatrix(rng, 64, 12);
  const dx = [perNode, summed].map((tree) => {
    const opt = new Optimizer(tree.params(), { kind: 'adam' });
    tree.forward(x, 'train');
    tree.backward(dy, false, opt.early(0.1));
    opt.step(0.1);
    return tree.backward(dy, true)!.data.slice();
  });
  assertClose(dx[1], dx[0], near(dx[0]), 'dx of the second backward');
  const usage = summed.leafUsage().counts[0].reduce((a, b) => a + b, 0);
  for (const bad of [0, -1, NaN]) {
    summed.collapseRows = bad;
    for (const mode of ['train', 'infer'] as const) {
      assert.throws(() => summed.forward(x, mode), /collapseRows must be a number ≥ 1/, `collapseRows ${bad}, ${mode}`);
    }
  }
  assert.equal(summed.leafUsage().counts[0].reduce((a, b) => a + b, 0), usage, 'a refused forward routes nothing');
});

test('(c) the output does not depend on the batch order (rows are sorted and scattered back)', () => {
  const rng = new Rng(36);
  const k = 3, B = 2, s = 4, m = 3, N = 17;
  const tree = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, nodeInit: 'small' }).init(rng);
  const x = unitsBatch(rng, tree, N, () => rng.int(8));
  const y = tree.forward(x, 'train').data.slice();
  const perm = rng.permutation(N);
  const xp = matrix(N, B * s);
  for (let i = 0; i < N; i++) xp.data.set(x.data.subarray(perm[i] * B * s, (perm[i] + 1) * B * s), i * B * s);
  const yp = tree.forward(xp, 'train').data;
  for (let i = 0; i < N; i++) {
    assertClose(yp.subarray(i * m, (i + 1) * m), y.subarray(perm[i] * m, (perm[i] + 1) * m), near(y), `row ${i} (example ${perm[i]})`);
  }
});

// ---------------------------------------------------------------------------
// (d) counts
// ---------------------------------------------------------------------------

test('ACCEPTANCE (d): a depth-k tree n→m (1 block) has (2^(k+1) − 1)× the parameters of Dense(n→m), (k+1)× its training MACs, 1× its inference MACs', () => {
  for (const [k, n, m] of [[6, 32, 16], [0, 5, 3], [1, 7, 9], [3, 10, 10], [6, 784, 10], [10, 12, 5]]) {
    const tree = new TreeGated({ inputSize: n, outputSize: m, depth: k });
    const dense = new Dense(n, m);
    const T = 2 ** (k + 1) - 1;
    const what = `k=${k} ${n}→${m}`;
    assert.equal(tree.nodes, T, `${what}: nodes`);
    assert.equal(dense.parameterCount(), m * n + m, `${what}: dense parameters`);
    assert.equal(tree.parameterCount(), T * dense.parameterCount(), `${what}: parameters = (2^(k+1) − 1) × dense`);
    assert.equal(tree.macs().training, (k + 1) * dense.macs().training, `${what}: training MACs = (k+1) × dense`);
    assert.equal(tree.macs().inference, dense.macs().inference, `${what}: inference MACs = dense`);
    assert.equal(tree.params().reduce((a, p) => a + p.data.length, 0), tree.parameterCount(), `${what}: parameterCount = stored floats`);
  }
});

test('(d) counts with blocks and with projection gating', () => {
  for (const [k, B, s, m] of [[2, 2, 4, 3], [3, 3, 5, 7]]) {
    const n = B * s, T = 2 ** (k + 1) - 1;
    const units = new TreeGated({ inputSize: n, outputSize: m, depth: k, blocks: B });
    // per block: T nodes of (m, s) weights and (m) biases
    assert.equal(units.parameterCount(), B * T * (m * s + m));
    assert.deepEqual(units.macs(), { training: (k + 1) * m * n, inference: m * n });
    const proj = new TreeGated({ inputSize: n, outputSize: m, depth: k, blocks: B, gating: 'projection' });
    // plus G_j (k, s) and e_j (k) per block; the gate costs k·s per block and example
    assert.equal(proj.parameterCount(), B * T * (m * s + m) + B * (k * s + k));
    assert.deepEqual(proj.macs(), { training: (k + 1) * m * n + k * n, inference: m * n + k * n });
  }
});

test('(c) one layer over batches of changing size (scratch buffers grow and shrink) and a deep tree (k = 7, > 64 touched nodes)', () => {
  const rng = new Rng(38);
  for (const [k, B, s] of [[2, 2, 3], [7, 1, 8]]) {
    const m = 3;
    const tree = new TreeGated({ inputSize: B * s, outputSize: m, depth: k, blocks: B, nodeInit: 'small' }).init(rng);
    for (const N of [20, 3, 1, 150, 7]) {
      const x = unitsBatch(rng, tree, N, () => rng.int(2 ** k));
      const what = `k=${k} B=${B} N=${N}`;
      const { leaves } = referenceLeaves(tree, x);
      const yRef = referenceTreeForward(tree, x, leaves);
      for (const p of tree.params()) p.clearGrad();
      assertClose(tree.forward(x, 'train').data.slice(), yRef, near(yRef), `${what}: forward`);
      const dy = randomMatrix(rng, N, m);
      const dx = tree.backward(dy, true)!.data.slice();
      const ref = referenceTreeBackward(tree, x, leaves, dy.data);
      assertClose(dx, ref.dx, near(ref.dx), `${what}: dx`);
      for (let j = 0; j < B; j++) {
        assertClose(tree.weight[j].grad, ref.dU[j], near(ref.dU[j]), `${what}: block ${j} dU`);
        const onPath = new Set<number>();
        for (const L of leaves[j]) for (let d = 0; d <= k; d++) onPath.add(pathNode(L, d, k));
        const w = tree.weight[j];
        assert.deepEqual(Array.from(w.touched.subarray(0, w.touchedCount)).sort((a, b) => a - b), [...onPath].sort((a, b) => a - b),
          `${what}: block ${j} touched list (${onPath.size} nodes)`);
      }
      assertClose(tree.forward(x, 'infer').data.slice(), yRef, near(yRef), `${what}: collapsed forward`);
    }
  }
});
