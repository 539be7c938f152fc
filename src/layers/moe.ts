import { check, checkInt, checkNumber, shown } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { checkShape, matrix, Scratch, type Matrix } from '../core/tensor.js';
import { backend, releaseFloats } from '../kernels/backend.js';
import { Routing } from '../kernels/routing.js';
import { InferenceTables, PackedAffine, reusable } from './inference.js';
import { drain, normalSteps } from './init.js';
import type { EarlyStep, Layer, LeafUsage, Macs, MoeConfig, Mode } from './layer.js';
import { nodeGradients } from './node-grads.js';
import { Param } from './param.js';

export interface MoeOptions {
  inputSize: number;
  outputSize: number;
  /** number of experts E */
  experts: number;
  /** experts per example (default 1, the Switch Transformer's choice) */
  topK?: number;
  /** weight α of the load-balancing loss α·E·Σ_e f_e·P_e (default 0.01) */
  balanceWeight?: number;
}

/** The settings a MoeOptions (or mlpConfig's options) may leave out. */
export const MOE_DEFAULTS = Object.freeze({ topK: 1, balanceWeight: 0.01 });

/**
 * Sparsely-gated mixture of experts (Shazeer et al. 2017; Switch Transformer,
 * Fedus et al. 2021), the baseline of DESIGN §3, executed like the tree:
 * assignments sorted by expert, one grouped product per expert's range.
 * Dimension letters: N examples, n inputs, m outputs, E experts, K = topK,
 * A = N·K assignments (a = i·K + c: example i's c-th choice).
 *
 *   p_i = softmax(G x_i)                (router G: (E, n), no bias)
 *   y_i = Σ_{e ∈ topK(p_i)} p_ie (U_e x_i + c_e)
 *
 * The gate value is the full softmax probability of the chosen expert (Switch
 * style; not renormalized over the top K), so the router learns through it.
 * Load-balancing loss: α·E·Σ_e f_e·P_e with f_e the fraction of assignments
 * to expert e (a constant for the gradient) and P_e the mean of p_ie over the
 * batch; it is 1·α when balanced. `auxLoss()` reports it for the last train
 * forward and `backward` adds its gradient.
 */
export class MixtureOfExperts implements Layer {
  readonly kind = 'moe';
  readonly inputSize: number; // n
  readonly outputSize: number; // m
  readonly experts: number; // E
  readonly topK: number; // K
  readonly balanceWeight: number; // α
  readonly weight: Param; // (E, m, n)
  readonly bias: Param; // (E, m)
  readonly router: Param; // (E, n)

  private routing = new Routing();
  private trained = -1; // N of the last train forward
  private x: Matrix | null = null; // input of the last train forward
  private aux = 0;
  private logits = new Scratch(); // (N, E), then the probabilities p
  private gate = new Scratch(); // (A) p of each assignment
  private sortedGate = new Scratch(); // (A) the gate of each sorted assignment row
  private gateGrad = new Scratch(); // (A) dy_i · z_a of each sorted assignment row
  private rows = new Int32Array(0); // (A) sorted position → example
  private xs = new Scratch(); // (A, n) sorted inputs
  private zs = new Scratch(); // (A, m) expert outputs U_e x + c_e, sorted
  private packed = new InferenceTables<Float32Array>((t) => [t]); // inference: the experts as the backend's packNodes lays them out
  private packedRouter = new PackedAffine(); // inference: the router, likewise, every example in one node
  private noBias: Float32Array; // (E) zeros: the router has no bias
  private ys = new Scratch(); // (A, m) scaled outputs, then scaled output gradients
  private dxs = new Scratch(); // (A, n)
  private dlogits = new Scratch(); // (N, E)
  private out = new Scratch(); // (N, m)
  private dx = new Scratch(); // (N, n)
  private usage: Float64Array; // (E) assignments per expert since resetUsage
  private counts: Float64Array; // (E) assignments per expert in the last forward

  constructor(opts: MoeOptions, readonly name = 'moe') {
    this.inputSize = checkInt(opts.inputSize, `${name}: input size`, 1);
    this.outputSize = checkInt(opts.outputSize, `${name}: output size`, 1);
    this.experts = checkInt(opts.experts, `${name}: experts`, 1, 2 ** 24);
    this.topK = opts.topK ?? MOE_DEFAULTS.topK;
    check(Number.isInteger(this.topK) && this.topK >= 1 && this.topK <= this.experts,
      `${name}: top-k (experts per example) must be an integer in [1, ${this.experts}], got ${shown(this.topK)}`,
      `use at most the ${this.experts} experts the layer has, or more experts (--top-k, --experts)`);
    this.balanceWeight = checkNumber(opts.balanceWeight ?? MOE_DEFAULTS.balanceWeight, `${name}: balance weight`, 0, 1e3);
    const E = this.experts, m = this.outputSize, n = this.inputSize;
    check(E * m * n <= 2 ** 31 - 1, `${name}: ${E} experts × ${m}×${n} weights do not fit in one array`, 'use fewer experts or narrower layers');
    this.weight = new Param(`${name}.weight`, [E, m, n], E, new Float32Array(E).fill(1));
    this.bias = new Param(`${name}.bias`, [E, m], E);
    this.router = new Param(`${name}.router`, [E, n], 1);
    this.usage = new Float64Array(E);
    this.counts = new Float64Array(E);
    this.noBias = new Float32Array(E);
  }

  /** Experts: He normal, drawn independently; router: normal with std √(0.1/n) (Switch's small init), so routing starts near uniform. */
  init(rng: Rng): this {
    drain(this.initSteps(rng));
    return this;
  }

  /** init in steps (layers/init.ts): the same draws, yielding every INIT_STEP of them. */
  *initSteps(rng: Rng): Generator<void, void, void> {
    yield* normalSteps(rng, this.weight.data, Math.sqrt(2 / this.inputSize));
    this.bias.data.fill(0);
    yield* normalSteps(rng, this.router.data, Math.sqrt(0.1 / this.inputSize));
  }

  config(): MoeConfig {
    return {
      kind: 'moe', inputSize: this.inputSize, outputSize: this.outputSize, experts: this.experts, topK: this.topK,
      balanceWeight: this.balanceWeight,
    };
  }

  params(): Param[] {
    return [this.weight, this.bias, this.router];
  }

  dispose(): void {
    this.packed.drop(releaseFloats);
    this.packedRouter.drop(releaseFloats);
    for (const p of this.params()) p.dispose();
  }

  /**
   * Router probabilities, top-K choice and the sorted assignment ranges for batch x. Inference reads the router
   * packed, as a dense layer's weights: an example's logits are then the same bits in any batch (on native, a plain
   * product of few rows sums in another order than one of many).
   */
  private route(x: Matrix, infer: boolean): Routing {
    const N = x.rows, n = this.inputSize, E = this.experts, K = this.topK, A = N * K, be = backend();
    const p = this.logits.get(N * E);
    if (infer) this.packedRouter.forward(be, this.router, E, n, x.data, N, this.noBias, p);
    else be.gemmNT(N, E, n, x.data, 0, this.router.data, 0, p, 0, false);
    const rt = this.routing;
    if (rt.leaf.length < A) rt.leaf = new Int32Array(Math.max(A, 2 * rt.leaf.length));
    const gate = this.gate.get(A), leaf = rt.leaf, counts = this.counts;
    counts.fill(0);
    for (let i = 0; i < N; i++) {
      const o = i * E;
      let mx = -Infinity;
      for (let e = 0; e < E; e++) mx = Math.max(mx, p[o + e]);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += Math.exp(p[o + e] - mx);
      for (let e = 0; e < E; e++) p[o + e] = Math.exp(p[o + e] - mx) / sum;
      // top K by probability, ties to the lower index: K passes, each the best not yet taken
      for (let c = 0; c < K; c++) {
        let best = -1;
        for (let e = 0; e < E; e++) {
          if (best >= 0 && p[o + e] <= p[o + best]) continue;
          let taken = false;
          for (let c2 = 0; c2 < c; c2++) if (leaf[i * K + c2] === e) taken = true;
          if (!taken) best = e;
        }
        leaf[i * K + c] = best;
        gate[i * K + c] = p[o + best];
        counts[best]++;
      }
    }
    for (let e = 0; e < E; e++) this.usage[e] += counts[e];
    rt.sortGroups(A, E);
    if (this.rows.length < A) this.rows = new Int32Array(Math.max(A, 2 * this.rows.length));
    for (let r = 0; r < A; r++) this.rows[r] = (rt.perm[r] / K) | 0;
    return rt;
  }

  forward(x: Matrix, mode: Mode): Matrix {
    checkShape(x, this.inputSize, `${this.name} input`);
    const N = x.rows, n = this.inputSize, m = this.outputSize, K = this.topK, A = N * K, be = backend();
    const infer = mode === 'infer', E = this.experts;
    const rt = this.route(x, infer);
    const xs = this.xs.get(A * n), zs = this.zs.get(A * m), ys = this.ys.get(A * m), gate = this.gate.get(A);
    be.gatherRows(x.data, n, 0, this.rows, A, n, xs);
    zs.fill(0);
    // inference reads the experts as the backend's packNodes lays them out (made once per weight version)
    const w = infer ? this.packed.get(be, [this.weight], (b, prev) => b.packNodes(this.weight.data, E, m, n, reusable(prev, this.weight.data))) : this.weight.data;
    be.groupedForward(rt, xs, n, w, this.bias.data, m, zs, infer);
    const gs = this.sortedGate.get(A);
    for (let r = 0; r < A; r++) gs[r] = gate[rt.perm[r]];
    be.scaleRows(zs, A, m, gs, ys); // g_a · z_a
    const y = this.out.get(N * m);
    y.fill(0);
    be.scatterRows(ys, m, this.rows, A, y, m, 0, true);
    if (mode === 'train') {
      this.trained = N;
      this.x = x;
      this.aux = this.balanceLoss(N);
    } else {
      this.trained = -1;
      this.x = null;
    }
    return matrix(N, m, y);
  }

  /** α·E·Σ_e f_e·P_e of the last routing (f from the assignment counts, P from the probabilities). */
  private balanceLoss(N: number): number {
    const E = this.experts, p = this.logits.get(N * E), A = N * this.topK;
    let loss = 0;
    for (let e = 0; e < E; e++) {
      let P = 0;
      for (let i = 0; i < N; i++) P += p[i * E + e];
      loss += (this.counts[e] / A) * (P / N);
    }
    return this.balanceWeight * E * loss;
  }

  /** The load-balancing loss of the last train forward (0 before any). */
  auxLoss(): number {
    return this.trained < 0 ? 0 : this.aux;
  }

  /** With `early`, the experts' weights may take the optimizer's step during backward (nodeGradients). */
  backward(dy: Matrix, needInputGrad: boolean, early?: EarlyStep): Matrix | null {
    const N = this.trained, x = this.x;
    if (N < 0 || !x) throw new Error(`${this.name}: backward without a train forward`);
    checkShape(dy, this.outputSize, `${this.name} output gradient`, N);
    const n = this.inputSize, m = this.outputSize, E = this.experts, K = this.topK, A = N * K, be = backend();
    const rt = this.routing, zs = this.zs.get(A * m), xs = this.xs.get(A * n);
    const p = this.logits.get(N * E), dl = this.dlogits.get(N * E);
    // dL/dp_ie from the load-balancing loss: α·E·f_e / N; through the softmax below
    const c = new Float64Array(E);
    for (let e = 0; e < E; e++) c[e] = (this.balanceWeight * E * this.counts[e]) / (A * N);
    // dL/dgate_a = dy_i · z_a, collected per example into dL/dp_ie
    const dp = new Float64Array(N * E);
    for (let i = 0; i < N; i++) for (let e = 0; e < E; e++) dp[i * E + e] = c[e];
    const dys = this.ys.get(A * m); // (A, m) g_a · dy_i, sorted
    be.gatherRows(dy.data, m, 0, this.rows, A, m, dys);
    const dg = this.gateGrad.get(A);
    be.rowDots(dys, zs, A, m, dg, false);
    for (let r = 0; r < A; r++) dp[this.rows[r] * E + rt.leaf[rt.perm[r]]] += dg[r];
    be.scaleRows(dys, A, m, this.sortedGate.get(A), dys);
    // softmax: dlogit_ij = p_ij (dp_ij − Σ_e dp_ie p_ie)
    for (let i = 0; i < N; i++) {
      const o = i * E;
      let s = 0;
      for (let e = 0; e < E; e++) s += dp[o + e] * p[o + e];
      for (let e = 0; e < E; e++) dl[o + e] = p[o + e] * (dp[o + e] - s);
    }
    be.gemmTN(E, n, N, dl, 0, x.data, 0, this.router.grad, 0, true); // dG += dlᵀ x
    this.router.touch(0);
    let dx: Float32Array | null = null;
    if (needInputGrad) {
      const dxs = this.dxs.get(A * n);
      dxs.fill(0);
      be.groupedBackwardInput(rt, dys, m, this.weight.data, n, dxs);
      dx = this.dx.get(N * n);
      be.gemmNN(N, n, E, dl, 0, this.router.data, 0, dx, 0, false); // dx = dl G
      be.scatterRows(dxs, n, this.rows, A, dx, n, 0, true); // dx += Σ_a g_a U_eᵀ dy_i
    }
    nodeGradients(be, rt, dys, m, xs, n, this.weight, this.bias, early); // after the input gradient read the weights
    return dx ? matrix(N, n, dx) : null;
  }

  /** Assignments per expert since the last reset (one block, E "leaves"). */
  leafUsage(): LeafUsage {
    return { blocks: 1, leaves: this.experts, counts: [this.usage.slice()] };
  }

  resetUsage(): void {
    this.usage.fill(0);
  }

  restoreUsage(counts: ArrayLike<number>[]): void {
    check(counts.length === 1 && counts[0].length === this.experts, `${this.name}: usage does not match ${this.experts} experts`);
    this.usage.set(counts[0]);
  }

  parameterCount(): number {
    return this.weight.size + this.bias.size + this.router.size;
  }

  /** K expert products plus the router's E·n, in training and inference alike. */
  macs(): Macs {
    const a = this.topK * this.outputSize * this.inputSize + this.experts * this.inputSize;
    return { training: a, inference: a };
  }
}
