import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { TreeGated } from '../../src/layers/tree.js';
import { setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';

const BACKENDS = registerAvailableBackends(); // js always; wasm and native where they load

/**
 * The straight-through estimator is biased by design, so it cannot be checked
 * by finite differences; instead the grouped, sorted implementation is checked
 * against a per-example loop written from the formula in TreeGated.gateBackward.
 */
function naive(layer: TreeGated, x: Float32Array, N: number, dy: Float32Array) {
  const { inputSize: n, outputSize: m, blockSize: s, depth: k, blocks: B } = layer;
  const dx = new Float64Array(N * n);
  const dG = layer.gateWeight.map(() => new Float64Array(k * s));
  const de = layer.gateBias.map(() => new Float64Array(k));
  for (let j = 0; j < B; j++) {
    const U = layer.weight[j].data, c = layer.bias[j].data, G = layer.gateWeight[j].data, e = layer.gateBias[j].data;
    for (let i = 0; i < N; i++) {
      const xj = (t: number) => x[i * n + j * s + t];
      const g: number[] = [];
      let L = 0;
      for (let d = 0; d < k; d++) {
        let v = e[d];
        for (let t = 0; t < s; t++) v += G[d * s + t] * xj(t);
        g.push(v);
        L = (L << 1) | (v > 0 ? 1 : 0);
      }
      const contrib: number[] = [];
      for (let d = 0; d <= k; d++) {
        const node = 2 ** d - 1 + (L >> (k - d));
        let dot = 0;
        for (let o = 0; o < m; o++) {
          let z = c[node * m + o];
          for (let t = 0; t < s; t++) z += U[(node * m + o) * s + t] * xj(t);
          dot += dy[i * m + o] * z;
          for (let t = 0; t < s; t++) dx[i * n + j * s + t] += dy[i * m + o] * U[(node * m + o) * s + t];
        }
        contrib.push(dot);
      }
      let suffix = 0;
      for (let d = k; d >= 1; d--) {
        suffix += contrib[d];
        const v = g[d - 1], sig = 1 / (1 + Math.exp(-v));
        const dg = (v > 0 ? 1 : -1) * 4 * sig * (1 - sig) * suffix;
        for (let t = 0; t < s; t++) {
          dG[j][(d - 1) * s + t] += dg * xj(t);
          dx[i * n + j * s + t] += dg * G[(d - 1) * s + t];
        }
        de[j][d - 1] += dg;
      }
    }
  }
  return { dx, dG, de };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0, scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}

for (const [k, B, n, m, N] of [[1, 1, 5, 3, 7], [3, 1, 8, 5, 33], [2, 2, 10, 4, 19], [4, 3, 9, 6, 40], [0, 1, 4, 3, 5]]) for (const be of BACKENDS) {
  test(`straight-through gater gradients match the per-example formula (k=${k}, B=${B}, n=${n}, m=${m}, N=${N}, ${be} backend)`, () => {
    setBackend(be);
    const rng = new Rng(100 + k * 10 + B);
    const layer = new TreeGated({ inputSize: n, outputSize: m, depth: k, blocks: B, gating: 'projection', nodeInit: 'small', straightThrough: true }).init(rng);
    for (const b of layer.bias) for (let i = 0; i < b.data.length; i++) b.data[i] = rng.normal() * 0.1;
    const x = new Float32Array(N * n).map(() => rng.normal());
    const dy = new Float32Array(N * m).map(() => rng.normal());
    layer.forward(matrix(N, n, x), 'train');
    const dx = layer.backward(matrix(N, m, dy), true)!;
    const ref = naive(layer, x, N, dy);
    const ddx = maxRelDiff(dx.data.subarray(0, N * n), ref.dx);
    assert.ok(ddx < 1e-5, `dx differs by ${ddx} (relative to the largest entry)`);
    for (let j = 0; j < B; j++) {
      // (k = 0: no gates, their arrays empty; the input gradient above is the check)
      assert.equal(layer.gateWeight[j].grad.length, k * (n / B), `block ${j}: one gate row per depth`);
      if (k > 0) assert.ok(ref.dG[j].some((g) => Math.abs(g) > 1e-3) && ref.de[j].some((g) => Math.abs(g) > 1e-3), `block ${j}: test bug: no gate gradient to compare`);
      const dG = maxRelDiff(layer.gateWeight[j].grad, ref.dG[j]);
      const de = maxRelDiff(layer.gateBias[j].grad, ref.de[j]);
      assert.ok(dG < 1e-5, `block ${j}: gate_weight gradient differs by ${dG}`);
      assert.ok(de < 1e-5, `block ${j}: gate_bias gradient differs by ${de}`);
      assert.equal(layer.gateWeight[j].touchedCount, 1, 'gate weights are marked for the optimizer');
    }
  });
}

test('straight-through needs projection gating', () => {
  assert.throws(() => new TreeGated({ inputSize: 8, outputSize: 2, depth: 2, gating: 'units', straightThrough: true }),
    /straight-through training needs projection gating/);
});

test('projection gaters start as N(0, 1/s), s the width of the block each reads (not the layer\'s input n): a gating value of unit inputs about unit scale', () => {
  // 4 blocks of 16 of 64 inputs, 6 gates each: 384 draws, whose mean square is 1/s within a few percent (1/n is 4× less)
  const n = 64, B = 4, s = n / B, k = 6;
  const layer = new TreeGated({ inputSize: n, outputSize: 3, depth: k, blocks: B, gating: 'projection' }).init(new Rng(11));
  let sq = 0, count = 0;
  for (let j = 0; j < B; j++) {
    const gw = layer.gateWeight[j].data;
    assert.equal(gw.length, k * s);
    for (const v of gw) { sq += v * v; count++; }
    assert.ok(layer.gateBias[j].data.every((v) => v === 0), `block ${j}: gate biases start at zero`);
  }
  const meanSquareTimesS = (sq / count) * s;
  assert.ok(Math.abs(meanSquareTimesS - 1) < 0.2, `mean square of the gate weights × s = ${meanSquareTimesS.toFixed(3)}, expected about 1`);
});
