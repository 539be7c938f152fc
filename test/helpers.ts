/**
 * Shared test helpers: seeded random data, a loud closeness check (STYLE item 9:
 * a failing check names the largest difference and where it is), a bit-exact
 * check, a central-difference gradient checker, and a naive float64 reference
 * of the tree-gated layer written from the DESIGN formulas (§1–§2).
 */
import { AssertionError } from 'node:assert';
import { Rng } from '../src/core/rng.js';
import { Routing } from '../src/kernels/routing.js';
import { matrix, type Matrix } from '../src/core/tensor.js';
import type { Layer } from '../src/layers/layer.js';
import type { TreeGated } from '../src/layers/tree.js';
import { Model } from '../src/layers/model.js';
import { Optimizer } from '../src/train/optim.js';

export { Rng };

/** (n) float32 values, standard normal × scale. */
export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** (rows, cols) float32 matrix, standard normal × scale. */
export function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  return matrix(rows, cols, randomArray(rng, rows * cols, scale));
}

/** A value of magnitude in [lo, hi) with the given sign (true: positive). */
export function signedMagnitude(rng: Rng, positive: boolean, lo = 0.5, hi = 1.5): number {
  const v = lo + (hi - lo) * rng.uniform();
  return positive ? v : -v;
}

export interface Tolerance { rtol?: number; atol?: number }

/**
 * Asserts |actual[i] − expected[i]| ≤ atol + rtol·|expected[i]| for every i
 * (NaN matches only NaN, ±∞ only itself). On failure the message names `what`, how many
 * elements fail, the largest difference with its index and both values, and
 * the first failing index.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  const rtol = tol.rtol ?? 0, atol = tol.atol ?? 0;
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  let bad = 0, first = -1, worst = -1, worstDiff = -1, worstExcess = -Infinity, nonFinite = 0, firstNonFinite = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue; // equal infinities too
    const diff = Math.abs(a - e);
    const limit = atol + rtol * Math.abs(e);
    if (diff <= limit) continue; // false for NaN against a number
    bad++;
    if (first < 0) first = i;
    if (!Number.isFinite(diff)) {
      nonFinite++;
      if (firstNonFinite < 0) firstNonFinite = i;
    } else if (diff - limit > worstExcess) {
      worstExcess = diff - limit;
      worst = i;
      worstDiff = diff;
    }
  }
  if (bad > 0) {
    const parts = [`${what}: ${bad} of ${actual.length} elements differ beyond atol=${atol}, rtol=${rtol}`];
    if (worst >= 0) {
      parts.push(`largest difference ${worstDiff.toExponential(3)} at index ${worst} (actual ${actual[worst]}, expected ${expected[worst]})`);
    }
    if (nonFinite > 0) {
      parts.push(`${nonFinite} non-finite, first at index ${firstNonFinite} (actual ${actual[firstNonFinite]}, expected ${expected[firstNonFinite]})`);
    }
    parts.push(`first failing index ${first}`);
    throw new AssertionError({ message: parts.join('; ') });
  }
}

/**
 * Tolerance for two float32 evaluations of the same sums in different orders (or by other kernels): `rel` of each
 * element and `rel` of the reference's largest magnitude (at least 1), which covers elements that cancel.
 */
export function near(ref: ArrayLike<number>, rel = 1e-5): { rtol: number; atol: number } {
  return { rtol: rel, atol: rel * Math.max(1, maxAbs(ref)) };
}

/** The largest |x[i]| (0 for an empty array). */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** Asserts two float32 arrays are bit-identical (so −0 ≠ 0 and NaN payloads count), naming the first mismatch. */
export function assertBitEqual(actual: Float32Array, expected: Float32Array, what: string): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length}, expected ${expected.length}` });
  }
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let bad = 0, first = -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== e[i]) { bad++; if (first < 0) first = i; }
  if (bad > 0) {
    throw new AssertionError({
      message: `${what}: ${bad} of ${a.length} elements are not bit-identical; first at index ${first} ` +
        `(actual ${actual[first]}, expected ${expected[first]})`,
    });
  }
}

export interface GradCheckOptions {
  /** the scalar loss, computed in float64 from the current contents of `data` */
  loss: () => number;
  /** float32 storage that is perturbed in place (and restored) */
  data: Float32Array;
  /** the analytic gradient dL/d(data) */
  grad: ArrayLike<number>;
  /** indices to check (default: all) */
  indices?: ArrayLike<number>;
  eps: number;
  tol: Tolerance;
  what: string;
  /**
   * Optional description of the discrete state (gating bits, ReLU pattern) at
   * the current data; it must not change under ± eps, or the finite difference
   * would straddle a discontinuity. A change fails the check, naming the index.
   */
  signature?: () => string;
}

/** What gradcheckLayer takes besides the layer and its batch. */
export interface LayerCheckOptions {
  /** the discrete state (gating bits, kinks), which ± eps must not change (checkGradient's) */
  signature?: () => string;
  /** params with no gradient by design (fixed gaters): they must get none, and never be touched */
  skipParams?: (name: string) => boolean;
  eps?: number;
  tol?: Tolerance;
  /** a loss of the layer's own added to Σ y ⊙ R (moe's load balancing) */
  aux?: () => number;
  /** indices checked per array, drawn at random (default: every one): for layers too large to check whole */
  sample?: number;
}

/**
 * Checks dL/dx and dL/dparam of `layer` on batch `x` by central differences, for L = Σ y ⊙ R (+ aux) with a random
 * R; then that backward without the input gradient gives the same parameter gradients, bit for bit, and no input
 * gradient.
 */
export function gradcheckLayer(layer: Layer, x: Matrix, rng: Rng, what: string, opts: LayerCheckOptions = {}): void {
  const N = x.rows, n = layer.inputSize, m = layer.outputSize;
  const eps = opts.eps ?? 1e-2, tol = opts.tol ?? { rtol: 2e-3, atol: 2e-3 }, aux = opts.aux ?? (() => 0);
  const R = randomArray(rng, N * m);
  const loss = (): number => dot(layer.forward(x, 'train').data.subarray(0, N * m), R) + aux();
  const indices = (len: number): number[] | undefined =>
    (opts.sample === undefined || opts.sample >= len ? undefined : Array.from({ length: opts.sample }, () => rng.int(len)));
  for (const p of layer.params()) p.clearGrad();
  layer.forward(x, 'train');
  const dxm = layer.backward(matrix(N, m, R), true);
  if (!dxm || dxm.rows !== N || dxm.cols !== n) throw new AssertionError({ message: `${what}: backward gave no ${N}×${n} input gradient` });
  const dx = dxm.data.slice(0, N * n);
  const grads = layer.params().map((p) => p.grad.slice());
  checkGradient({ loss, data: x.data, grad: dx, indices: indices(dx.length), eps, tol, what: `${what}: dL/dx`, signature: opts.signature });
  layer.params().forEach((p, i) => {
    if (opts.skipParams?.(p.name)) {
      if (maxAbs(grads[i]) !== 0 || p.touchedCount !== 0) throw new AssertionError({ message: `${what}: ${p.name} must get no gradient, and never be touched` });
      return;
    }
    checkGradient({ loss, data: p.data, grad: grads[i], indices: indices(p.data.length), eps, tol, what: `${what}: dL/d${p.name}`, signature: opts.signature });
  });
  for (const p of layer.params()) p.clearGrad();
  layer.forward(x, 'train');
  if (layer.backward(matrix(N, m, R), false) !== null) throw new AssertionError({ message: `${what}: backward(…, false) must return null` });
  layer.params().forEach((p, i) => assertBitEqual(p.grad, grads[i], `${what}: ${p.name} grad without the input gradient`));
}

/**
 * Central differences (L(w + h) − L(w − h)) / (w⁺ − w⁻) where w± are the
 * float32-rounded perturbed values actually stored, compared with `grad` by
 * assertClose. Returns the numerical gradient of the checked indices.
 */
export function checkGradient(o: GradCheckOptions): Float64Array {
  const idx = o.indices ?? Array.from({ length: o.data.length }, (_, i) => i);
  const num = new Float64Array(idx.length);
  const ana = new Float64Array(idx.length);
  const base = o.signature?.();
  for (let q = 0; q < idx.length; q++) {
    const i = idx[q];
    const w = o.data[i];
    const wp = Math.fround(w + o.eps), wm = Math.fround(w - o.eps);
    o.data[i] = wp;
    const lp = o.loss();
    const sp = o.signature?.();
    o.data[i] = wm;
    const lm = o.loss();
    const sm = o.signature?.();
    o.data[i] = w;
    if (base !== undefined && (sp !== base || sm !== base)) {
      throw new AssertionError({
        message: `${o.what}: perturbing index ${i} by ±${o.eps} changes the discrete state (gating bits or kinks); ` +
          'the test must construct inputs farther from the decision boundary',
      });
    }
    num[q] = (lp - lm) / (wp - wm);
    ana[q] = o.grad[i];
  }
  assertClose(ana, num, o.tol, `${o.what} (analytic vs central difference, indices ${describeIndices(idx)})`);
  return num;
}

function describeIndices(idx: ArrayLike<number>): string {
  return idx.length <= 6 ? `[${Array.from(idx).join(', ')}]` : `${idx.length} of them, e.g. [${Array.from(idx).slice(0, 4).join(', ')}, …]`;
}

/** Σ_i a[i]·b[i] in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// ---------------------------------------------------------------------------
// Naive tree-gated reference (DESIGN §1–§2), example by example, in float64.
// ---------------------------------------------------------------------------

/** Heap index of the depth-d node on the path to leaf L of a depth-k tree: 2^d − 1 + (L >> (k − d)). */
export function pathNode(L: number, d: number, k: number): number {
  return 2 ** d - 1 + Math.floor(L / 2 ** (k - d));
}

/** Depth of heap node t, computed independently of src: ⌊log2(t + 1)⌋. */
export function depthOf(t: number): number {
  let d = 0;
  while (2 ** (d + 1) - 1 <= t) d++;
  return d;
}

/**
 * (B)(N) leaf of each example per block, from the gating source:
 *   units:      b_d = [x[i, j·s + u_d] > 0]
 *   projection: b_d = [Σ_p G[d, p] x[i, j·s + p] + e[d] > 0]   (float64)
 * The first bit is the most significant. Also returns the smallest |g| seen.
 */
export function referenceLeaves(layer: TreeGated, x: Matrix): { leaves: Int32Array[]; minGate: number } {
  const N = x.rows, n = layer.inputSize, s = layer.blockSize, k = layer.depth;
  const leaves: Int32Array[] = [];
  let minGate = Infinity;
  for (let j = 0; j < layer.blocks; j++) {
    const out = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      let L = 0;
      for (let d = 0; d < k; d++) {
        let g: number;
        if (layer.gating === 'units') {
          g = x.data[i * n + j * s + layer.gateUnits[d]];
        } else {
          const G = layer.gateWeight[j].data, e = layer.gateBias[j].data;
          g = e[d];
          for (let p = 0; p < s; p++) g += G[d * s + p] * x.data[i * n + j * s + p];
        }
        minGate = Math.min(minGate, Math.abs(g));
        L = L * 2 + (g > 0 ? 1 : 0);
      }
      out[i] = L;
    }
    leaves.push(out);
  }
  return { leaves, minGate };
}

/** y (N, m) = Σ_j Σ_{d=0..k} (U_{node_d} x_j + c_{node_d}) in float64, for given leaves. */
export function referenceTreeForward(layer: TreeGated, x: Matrix, leaves: Int32Array[]): Float64Array {
  const N = x.rows, n = layer.inputSize, s = layer.blockSize, m = layer.outputSize, k = layer.depth;
  const y = new Float64Array(N * m);
  for (let j = 0; j < layer.blocks; j++) {
    const U = layer.weight[j].data, c = layer.bias[j].data;
    for (let i = 0; i < N; i++) {
      for (let d = 0; d <= k; d++) {
        const t = pathNode(leaves[j][i], d, k);
        for (let r = 0; r < m; r++) {
          let acc = c[t * m + r];
          for (let p = 0; p < s; p++) acc += U[(t * m + r) * s + p] * x.data[i * n + j * s + p];
          y[i * m + r] += acc;
        }
      }
    }
  }
  return y;
}

/**
 * Backward of the reference: dx = Σ_j Σ_d U_{node_d}ᵀ dy (block columns), dU_t = Σ dy x_jᵀ and
 * dc_t = Σ dy over the examples whose path holds t. Shapes: dx (N, n), dU[j] (T, m, s), dc[j] (T, m).
 */
export function referenceTreeBackward(layer: TreeGated, x: Matrix, leaves: Int32Array[], dy: Float32Array):
  { dx: Float64Array; dU: Float64Array[]; dc: Float64Array[] } {
  const N = x.rows, n = layer.inputSize, s = layer.blockSize, m = layer.outputSize, k = layer.depth, T = layer.nodes;
  const dx = new Float64Array(N * n);
  const dU: Float64Array[] = [], dc: Float64Array[] = [];
  for (let j = 0; j < layer.blocks; j++) {
    const U = layer.weight[j].data;
    const gU = new Float64Array(T * m * s), gc = new Float64Array(T * m);
    for (let i = 0; i < N; i++) {
      for (let d = 0; d <= k; d++) {
        const t = pathNode(leaves[j][i], d, k);
        for (let r = 0; r < m; r++) {
          const g = dy[i * m + r];
          gc[t * m + r] += g;
          for (let p = 0; p < s; p++) {
            gU[(t * m + r) * s + p] += g * x.data[i * n + j * s + p];
            dx[i * n + j * s + p] += g * U[(t * m + r) * s + p];
          }
        }
      }
    }
    dU.push(gU);
    dc.push(gc);
  }
  return { dx, dU, dc };
}

/**
 * A batch (N, n) for a units-gated layer whose block j of example i routes to leaf
 * leafOf(i, j): gate units get ±[0.5, 1.5) by the wanted bit, other inputs are normal.
 */
export function unitsBatch(rng: Rng, layer: TreeGated, N: number, leafOf: (i: number, j: number) => number): Matrix {
  const n = layer.inputSize, s = layer.blockSize, k = layer.depth;
  const x = randomMatrix(rng, N, n);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < layer.blocks; j++) {
      const L = leafOf(i, j);
      for (let d = 0; d < k; d++) {
        const bit = Math.floor(L / 2 ** (k - 1 - d)) % 2;
        x.data[i * n + j * s + layer.gateUnits[d]] = signedMagnitude(rng, bit === 1);
      }
    }
  }
  return x;
}

/**
 * A batch (N, n) for a projection-gated layer, drawn row by row until every
 * gating value of every block has |g| ≥ margin (so small perturbations of x
 * cannot flip a bit) and `accept` (given the row's leaf in each block) holds.
 */
export function projectionBatch(rng: Rng, layer: TreeGated, N: number, margin: number,
  accept: (leafOfBlock: number[]) => boolean = () => true): Matrix {
  const n = layer.inputSize;
  const x = matrix(N, n);
  for (let i = 0; i < N; i++) {
    for (let tries = 0; ; tries++) {
      if (tries > 10000) throw new Error('projectionBatch: could not draw a row with the wanted margin');
      const row = matrix(1, n, randomArray(rng, n));
      const ref = referenceLeaves(layer, row);
      if (ref.minGate >= margin && accept(ref.leaves.map((l) => l[0]))) {
        x.data.set(row.data, i * n);
        break;
      }
    }
  }
  return x;
}

/** A Routing of examples with the given leaves, sorted for depth k. */
export function route(leaves: number[], k: number): Routing {
  const rt = new Routing();
  rt.leaf = Int32Array.from(leaves);
  rt.sort(leaves.length, k);
  return rt;
}

/**
 * A dense–relu–tree–relu–dense model (300 inputs, 10 classes), made on the selected backend and trained three
 * Adam steps on 200 random examples (the update fused into backward, as train() runs it): its parameters and its
 * inference logits afterwards, copied, and the model.
 */
export function trainSmallModel(): { model: Model; params: Float32Array[]; logits: Float32Array } {
  const N = 200, inputSize = 300, numClasses = 10;
  const model = new Model({
    inputSize, numClasses, layers: [
      { kind: 'dense', inputSize, outputSize: 256 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'tree', inputSize: 256, outputSize: 384, depth: 3, blocks: 1, gating: 'units', gateUnits: [1, 5, 9], nodeInit: 'small' },
      { kind: 'activation', fn: 'relu' },
      { kind: 'dense', inputSize: 384, outputSize: numClasses },
    ],
  }, new Rng(81));
  const rng = new Rng(82);
  const x = matrix(N, inputSize, randomArray(rng, N * inputSize));
  const labels = Int32Array.from({ length: N }, () => rng.int(numClasses));
  const opt = new Optimizer(model.params(), { kind: 'adam', weightDecay: 1e-3 });
  for (let step = 0; step < 3; step++) {
    model.clearGrad();
    model.lossAndGrad(x, labels, opt.early(1e-2));
    opt.step(1e-2);
  }
  return { model, params: model.params().map((p) => p.data.slice()), logits: model.forward(x, 'infer').data.slice() };
}

/**
 * Routings that exercise the wasm backend's ways through a grouped product: nodes batched (small m·s) and alone
 * (m·s past its stream buffer), few rows and many, nodes of every depth sharing rows, odd widths, k = 0 and an
 * empty routing.
 */
export function wasmTreeShapes(rng: Rng): Array<{ what: string; k: number; m: number; s: number; rt: Routing }> {
  const out = [];
  for (const [k, N, m, s] of [[0, 256, 512, 512], [0, 3, 512, 512], [1, 300, 100, 300], [3, 256, 256, 256], [2, 40, 517, 33],
    [4, 64, 256, 256], [6, 256, 512, 512], [2, 5, 300, 500], [8, 256, 64, 96], [3, 0, 64, 64]]) {
    const leaves = Array.from({ length: N }, () => rng.int(2 ** k));
    out.push({ what: `k=${k} N=${N} m=${m} s=${s}`, k, m, s, rt: route(leaves, k) });
  }
  return out;
}
