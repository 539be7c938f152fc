import { check, checkInt, checkNumber, shown, TreegateError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { checkShape, matrix, Scratch, type Matrix } from '../core/tensor.js';
import { backend, releaseFloats, type Backend } from '../kernels/backend.js';
import { composeRoutedForward, type groupedForward } from '../kernels/grouped.js';
import { nodeCount, nodeDepth, Routing } from '../kernels/routing.js';
import { InferenceTables, reusable } from './inference.js';
import { drain, normalSteps } from './init.js';
import { nodeGradients } from './node-grads.js';
import { collapseFrom, PathSums } from './path-sums.js';
import type { EarlyStep, GatingSource, Layer, LeafUsage, Macs, Mode, NodeInit, TreeConfig } from './layer.js';
import { Param } from './param.js';

/** The deepest tree a layer takes (2^24 leaves): every depth option and setting is checked against it. */
export const MAX_DEPTH = 24;

/** What to do where a layer's input width is not divisible by its blocks: the counts that divide it. */
export function blocksFix(width: number): string {
  const divisors: number[] = [];
  for (let d = 1; d <= width && divisors.length < 12; d++) if (width % d === 0) divisors.push(d);
  return `choose a number of blocks that divides the input width ${width}: ${divisors.join(', ')}${divisors.at(-1) !== width ? ', …' : ''}`;
}

/**
 * Tree-gated linear layer (DESIGN §1–§2). Dimension letters, used in shape comments:
 *   N examples, n = B·s inputs in B blocks of width s, m outputs, k depth,
 *   T = 2^(k+1) − 1 nodes in heap order, 2^k leaves.
 * Block j reads k bits, b_d = [g_d > 0], from its slice x_j; they pick a leaf
 * L = Σ_d b_d 2^(k−d) and the path root → leaf; y = Σ_j Σ_{t on path} (U_t x_j + c_t).
 */
export interface TreeOptions {
  /** tree (default) or flat: 2^k independent leaves, no sharing */
  kind?: 'tree' | 'flat';
  inputSize: number;
  outputSize: number;
  depth: number;
  blocks?: number;
  gating?: GatingSource;
  gateUnits?: number[];
  nodeInit?: NodeInit;
  decayGamma?: number;
  straightThrough?: boolean;
}

/** The tree-gated layer of the block comment above (and `flat`, its ablation); built by Model from a TreeConfig. */
export class TreeGated implements Layer {
  readonly kind: 'tree' | 'flat';
  /** flat: the nodes are the 2^k leaves only, each example uses one */
  readonly flat: boolean;
  readonly inputSize: number; // n
  readonly outputSize: number; // m
  readonly depth: number; // k
  readonly blocks: number; // B
  readonly blockSize: number; // s
  readonly gating: GatingSource;
  gateUnits: number[];
  /** true until chooseGateUnits has picked the gating units from data (units gating without explicit gateUnits) */
  gateUnitsPending: boolean;
  readonly nodeInit: NodeInit;
  readonly decayGamma: number;
  readonly straightThrough: boolean;
  readonly nodes: number; // T (flat: 2^k)
  readonly weight: Param[]; // per block (T, m, s)
  readonly bias: Param[]; // per block (T, m)
  readonly gateWeight: Param[]; // per block (k, s), projection only; touched by backward only with straightThrough
  readonly gateBias: Param[]; // per block (k)
  /**
   * Rows from which a node trains on path sums (path-sums.ts; DESIGN §2's alternative): a node of at least this many
   * rows above the leaves has no product of its own in a training pass, and the nodes of the frontier below it
   * multiply by their path sums. Infinity: one product per node. Unset (the default): the backend's choice
   * (collapseFrom: 32 on native, 8 on wasm and js). Changes how the sums are
   * rounded, not the model; trees only, not with straight-through training; a number ≥ 1.
   */
  collapseRows: number | undefined = undefined;

  private routing: Routing[];
  private sums: PathSums[]; // per block: the path sums of the last train forward
  private xs: Scratch[]; // per block (N, s) sorted inputs of the last train forward
  private xsUsed: Float32Array[]; // per block: the sorted inputs of the last train forward (a scratch, or x itself)
  private direct = false; // last train forward: one block and rows already in sorted order (no gather, no scatter)
  private trained = -1; // N of the last train forward, -1 if none
  private ys = new Scratch(); // (N, m)
  private out = new Scratch(); // (N, m)
  private dys = new Scratch(); // (N, m)
  private dxs = new Scratch(); // (N, s)
  private dx = new Scratch(); // (N, n)
  private g: Scratch[]; // per block (N, k) projection gating values x_j G_jᵀ, example order
  private contrib = new Scratch(); // (k+1, N) straight-through: dy · z per depth, sorted order
  private nodeBias = new Scratch(); // (N, m) straight-through: the bias of each sorted row's node at one depth
  private nodeOfRow = new Int32Array(0); // (N) straight-through: each sorted row's node at one depth
  private dg = new Scratch(); // (N, k) straight-through: dL/dg, sorted order
  private tmp = new Scratch(); // (N, s)
  private usage: Float64Array[]; // per block (2^k) leaf counts since resetUsage
  // inference: per block, the leaf tables (2^k, m, s) as the backend's packNodes lays them out, and their biases
  private leafTables = new InferenceTables<{ w: Float32Array[]; b: Float32Array[] }>((t) => [...t.w, ...t.b]);

  constructor(opts: TreeOptions, readonly name = 'tree') {
    this.kind = opts.kind ?? 'tree';
    if (this.kind !== 'tree' && this.kind !== 'flat') throw new TreegateError(`${name}: unknown routed layer kind '${this.kind}'`, 'use tree or flat');
    this.flat = this.kind === 'flat';
    this.inputSize = checkInt(opts.inputSize, `${name}: input size`, 1);
    this.outputSize = checkInt(opts.outputSize, `${name}: output size`, 1);
    this.depth = checkInt(opts.depth, `${name}: depth`, 0, MAX_DEPTH);
    this.blocks = checkInt(opts.blocks ?? 1, `${name}: blocks`, 1, this.inputSize);
    check(this.inputSize % this.blocks === 0,
      `${name}: input size ${this.inputSize} is not divisible by ${this.blocks} blocks`, blocksFix(this.inputSize));
    this.blockSize = this.inputSize / this.blocks;
    this.gating = opts.gating ?? 'units';
    if (this.gating !== 'units' && this.gating !== 'projection') {
      throw new TreegateError(`${name}: unknown gating source '${this.gating}'`, 'use units or projection');
    }
    const k = this.depth, s = this.blockSize, m = this.outputSize;
    if (this.gating === 'units') {
      check(k <= s, `${name}: depth ${k} needs ${k} gating units but each block has only ${s} inputs`,
        'lower the depth (--depth), use fewer blocks (--blocks), or use projection gating (gating: \'projection\', --gating projection)');
      check(opts.gateUnits === undefined || Array.isArray(opts.gateUnits), `${name}: gateUnits must be an array of ${k} unit indices`);
      this.gateUnits = opts.gateUnits ? [...opts.gateUnits] : Array.from({ length: k }, (_, d) => d);
      this.gateUnitsPending = opts.gateUnits === undefined && k > 0;
      check(this.gateUnits.length === k, `${name}: gateUnits has ${this.gateUnits.length} entries, depth is ${k}`);
      const seen = new Set<number>();
      for (const u of this.gateUnits) {
        check(Number.isInteger(u) && u >= 0 && u < s && !seen.has(u),
          `${name}: gate unit ${u} must be a distinct integer in [0, ${s})`);
        seen.add(u);
      }
    } else {
      check(opts.gateUnits === undefined, `${name}: gateUnits are the units of units gating; projection gating reads none`, 'drop gateUnits, or use gating: \'units\'');
      this.gateUnits = [];
      this.gateUnitsPending = false;
    }
    this.nodeInit = opts.nodeInit ?? 'zero';
    check(this.nodeInit === 'zero' || this.nodeInit === 'small', `${name}: unknown node init '${this.nodeInit}'`, 'use zero or small');
    this.decayGamma = checkNumber(opts.decayGamma ?? 1, `${name}: decay gamma`, 0, 1e6);
    this.straightThrough = opts.straightThrough ?? false;
    // a file's "false" (a string) is truthy: only a boolean is taken
    check(typeof this.straightThrough === 'boolean', `${name}: straightThrough must be true or false, got ${shown(this.straightThrough)}`);
    check(!this.straightThrough || this.gating === 'projection', `${name}: straight-through training needs projection gating`,
      'use projection gating (gating: \'projection\', --gating projection), or drop straightThrough (--straight-through)');
    check(!this.straightThrough || !this.flat, `${name}: straight-through training is defined for trees only`,
      'drop straightThrough (--straight-through) with flat layers');
    this.nodes = this.flat ? 2 ** k : nodeCount(k);
    const T = this.nodes;
    check(T * m * s <= 2 ** 31 - 1, `${name}: ${T} nodes × ${m}×${s} weights do not fit in one array`,
      'lower the depth or the widths');
    // the deepest nodes' decay scale, γ^k, as float32: past its range it is Infinity, and even a zero decay times it NaN
    check(Number.isFinite(Math.fround(this.decayGamma ** k)), `${name}: decay gamma ${this.decayGamma} to the depth ${k} is ${(this.decayGamma ** k).toExponential(2)}, beyond float32's range`,
      'use a gamma nearer 1: the deepest nodes are decayed by λ·γ^depth');
    const decay = new Float32Array(T);
    for (let t = 0; t < T; t++) decay[t] = this.decayGamma ** (this.flat ? k : nodeDepth(t));
    this.weight = [];
    this.bias = [];
    this.gateWeight = [];
    this.gateBias = [];
    this.routing = [];
    this.sums = [];
    this.xs = [];
    this.xsUsed = [];
    this.g = [];
    this.usage = [];
    for (let j = 0; j < this.blocks; j++) {
      const p = `${name}.blocks.${j}`;
      this.weight.push(new Param(`${p}.weight`, [T, m, s], T, decay));
      this.bias.push(new Param(`${p}.bias`, [T, m], T));
      if (this.gating === 'projection') {
        this.gateWeight.push(new Param(`${p}.gate_weight`, [k, s], 1));
        this.gateBias.push(new Param(`${p}.gate_bias`, [k], 1));
      }
      this.routing.push(new Routing());
      this.sums.push(new PathSums());
      this.xs.push(new Scratch());
      this.g.push(new Scratch());
      this.usage.push(new Float64Array(2 ** k));
    }
  }

  /**
   * Root: He normal over the full fan-in n; other nodes zero (or 0.1× the
   * root's scale with nodeInit 'small'). Flat: every leaf He normal, drawn
   * independently (nodeInit does not apply).
   */
  init(rng: Rng): this {
    drain(this.initSteps(rng));
    return this;
  }

  /** init in steps (layers/init.ts): the same draws, yielding every INIT_STEP of them. */
  *initSteps(rng: Rng): Generator<void, void, void> {
    const std = Math.sqrt(2 / this.inputSize);
    const ms = this.outputSize * this.blockSize;
    for (let j = 0; j < this.blocks; j++) {
      const w = this.weight[j].data;
      // the root (a flat layer's first leaf), then the other nodes
      yield* normalSteps(rng, w, std, 1, 0, ms);
      if (this.flat) yield* normalSteps(rng, w, std, 1, ms);
      else if (this.nodeInit === 'small') yield* normalSteps(rng, w, std, 0.1, ms);
      else w.fill(0, ms);
      this.bias[j].data.fill(0);
      if (this.gating === 'projection') {
        yield* normalSteps(rng, this.gateWeight[j].data, 1 / Math.sqrt(this.blockSize));
        this.gateBias[j].data.fill(0);
      }
    }
  }

  /**
   * Data-dependent choice of the gating units (units gating): greedily picks,
   * for each depth, the unit of the block whose sign bit most raises the
   * entropy of the leaf histogram over the batch `x` (N, n); ties go to the
   * lower index. Hidden units that are on (or off) for every example would
   * route everything to one leaf; this avoids them. O(k·s·N).
   */
  chooseGateUnits(x: Matrix): void {
    checkShape(x, this.inputSize, `${this.name} gating batch`);
    const N = x.rows, n = this.inputSize, s = this.blockSize, k = this.depth, B = this.blocks, xd = x.data;
    const prefix = new Int32Array(B * N); // (B, N) leaf prefix so far
    const counts = new Float64Array(2 ** k);
    const chosen: number[] = []; // NOTE: one list for all blocks: unit u is read in each block's slice
    for (let d = 0; d < k; d++) {
      const bins = 2 ** (d + 1);
      let best = -1, bestH = -1;
      for (let u = 0; u < s; u++) {
        if (chosen.includes(u)) continue;
        let h = 0;
        for (let j = 0; j < B; j++) {
          counts.fill(0, 0, bins);
          for (let i = 0; i < N; i++) counts[(prefix[j * N + i] << 1) | (xd[i * n + j * s + u] > 0 ? 1 : 0)]++;
          for (let c = 0; c < bins; c++) if (counts[c] > 0) h -= (counts[c] / N) * Math.log(counts[c] / N);
        }
        if (h > bestH + 1e-12) { bestH = h; best = u; }
      }
      chosen.push(best);
      for (let j = 0; j < B; j++) {
        for (let i = 0; i < N; i++) prefix[j * N + i] = (prefix[j * N + i] << 1) | (xd[i * n + j * s + best] > 0 ? 1 : 0);
      }
    }
    this.gateUnits = chosen;
    this.gateUnitsPending = false;
  }

  config(): TreeConfig {
    const c: TreeConfig = {
      kind: this.kind, inputSize: this.inputSize, outputSize: this.outputSize, depth: this.depth,
      blocks: this.blocks, gating: this.gating,
    };
    if (this.gating === 'units') c.gateUnits = [...this.gateUnits];
    c.nodeInit = this.nodeInit;
    c.decayGamma = this.decayGamma;
    if (this.straightThrough) c.straightThrough = true;
    return c;
  }

  params(): Param[] {
    const ps: Param[] = [];
    for (let j = 0; j < this.blocks; j++) {
      ps.push(this.weight[j], this.bias[j]);
      if (this.gating === 'projection') ps.push(this.gateWeight[j], this.gateBias[j]);
    }
    return ps;
  }

  /** Fills routing[j].leaf with each example's leaf for block j. Routing only: no gradient. */
  private route(x: Matrix, j: number): Routing {
    const N = x.rows, n = this.inputSize, s = this.blockSize, k = this.depth;
    const rt = this.routing[j];
    if (rt.leaf.length < N) rt.leaf = new Int32Array(Math.max(N, 2 * rt.leaf.length));
    const leaf = rt.leaf, xd = x.data, off = j * s;
    if (this.gating === 'units') {
      const u = this.gateUnits;
      for (let i = 0; i < N; i++) {
        const o = i * n + off;
        let l = 0;
        for (let d = 0; d < k; d++) l = (l << 1) | (xd[o + u[d]] > 0 ? 1 : 0);
        leaf[i] = l;
      }
    } else {
      // g (N, k) = x_j G_jᵀ + e_j
      const g = this.g[j].get(N * k), gb = this.gateBias[j].data;
      backend().gemmStrided(N, k, s, xd, off, n, 1, this.gateWeight[j].data, 0, 1, s, g, 0, k, false);
      for (let i = 0; i < N; i++) {
        let l = 0;
        for (let d = 0; d < k; d++) l = (l << 1) | (g[i * k + d] + gb[d] > 0 ? 1 : 0);
        leaf[i] = l;
      }
    }
    const use = this.usage[j];
    for (let i = 0; i < N; i++) use[leaf[i]]++;
    return rt;
  }

  forward(x: Matrix, mode: Mode): Matrix {
    checkShape(x, this.inputSize, `${this.name} input`);
    check(this.collapseRows === undefined || this.collapseRows >= 1,
      `${this.name}: collapseRows must be a number ≥ 1 (or Infinity, or unset for the backend's choice), got ${shown(this.collapseRows)}`,
      'set it to the rows from which a node trains on path sums, or to Infinity for one product per node');
    const N = x.rows, n = this.inputSize, s = this.blockSize, m = this.outputSize, be = backend();
    const leaves = mode === 'infer' ? this.inferenceTables(be) : null;
    const y = this.out.get(N * m);
    const ys = this.ys.get(N * m);
    for (let j = 0; j < this.blocks; j++) {
      const rt = this.route(x, j);
      rt.sort(N, this.depth, leaves !== null || this.flat);
      // one block whose rows are already in sorted order (k = 0, or one leaf): x and y serve as the sorted arrays
      const direct = this.blocks === 1 && rt.isIdentity();
      const w = leaves ? leaves.w[j] : this.weight[j].data, b = leaves ? leaves.b[j] : this.bias[j].data;
      const sums = this.sums[j], rows = this.collapseRows ?? collapseFrom(be);
      if (mode === 'infer' || this.flat || this.straightThrough || !sums.plan(rt, this.depth, rows)) sums.active = false;
      else sums.build(be, w, this.weight[j].version, b, m, s);
      // on path sums, their products take the place of the grouped product (and of the backend's fused routed one)
      const grouped: typeof groupedForward = sums.active ? (_rt, xs, s, w, b, m, ys) => sums.forward(be, xs, s, w, b, m, ys) : be.groupedForward;
      let xs = x.data;
      if (direct && this.depth === 0 && !leaves) {
        // one node over every row (k = 0): the dense layer's ops, the product written where the grouped one adds it
        // into zeros that this thread wrote and the other reads (the same bits, but for −0 against a bias of −0; the
        // native training step at k = 0 1.07–1.09× faster, its forward 1.05–1.10×: 2026-12-04, A/B in one process,
        // 512 wide, N = 256)
        be.gemmNT(N, m, s, xs, 0, w, 0, y, 0, false);
        be.addRowVector(y, N, m, b);
      } else if (direct) {
        y.fill(0);
        grouped(rt, xs, s, w, b, m, y, leaves !== null);
      } else {
        xs = (mode === 'train' ? this.xs[j] : this.xs[0]).get(N * s); // (N, s) sorted x_j
        const routed = sums.active ? composeRoutedForward({ ...be, groupedForward: grouped }) : be.routedForward;
        routed(rt, x.data, n, j * s, xs, s, w, b, m, ys, y, j > 0, leaves !== null);
      }
      this.xsUsed[j] = xs;
      this.direct = direct;
    }
    this.trained = mode === 'train' ? N : -1;
    return matrix(N, m, y);
  }

  /** With `early`, a block's node weights may take the optimizer's step during backward (nodeGradients). */
  backward(dy: Matrix, needInputGrad: boolean, early?: EarlyStep): Matrix | null {
    const N = this.trained;
    if (N < 0) throw new Error(`${this.name}: backward without a train forward`);
    checkShape(dy, this.outputSize, `${this.name} output gradient`, N);
    const n = this.inputSize, s = this.blockSize, m = this.outputSize, be = backend();
    const dx = needInputGrad ? this.dx.get(N * n) : null;
    for (let j = 0; j < this.blocks; j++) {
      const rt = this.routing[j], xs = this.xsUsed[j], direct = this.direct, sums = this.sums[j].current(this.weight[j].version) ? this.sums[j] : null;
      const dys = direct ? dy.data : this.dys.get(N * m);
      if (!direct) be.gatherRows(dy.data, m, 0, rt.perm, N, m, dys);
      const w = this.weight[j], b = this.bias[j];
      const dxs = dx && direct ? dx : dx || this.straightThrough ? this.dxs.get(N * s) : null;
      if (dxs && direct && this.depth === 0 && !this.straightThrough) {
        be.gemmNN(N, s, m, dys, 0, w.data, 0, dxs, 0, false); // one node: the dense layer's input gradient
      } else if (dxs) {
        dxs.fill(0);
        if (this.straightThrough) this.gateBackward(j, dys, xs, dxs);
        else if (sums) sums.backwardInput(be, dys, m, w.data, s, dxs);
        else be.groupedBackwardInput(rt, dys, m, w.data, s, dxs);
      }
      if (dx && !direct) be.scatterRows(dxs!, s, rt.perm, N, dx, n, j * s, false);
      if (sums) sums.gradients(be, rt, dys, m, xs, s, w, b, early);
      else nodeGradients(be, rt, dys, m, xs, s, w, b, early);
    }
    return dx ? matrix(N, n, dx) : null;
  }

  /**
   * Straight-through gradient of the gaters of block j (sorted order throughout).
   * Each node at depth d ≥ 1 is treated as scaled by a_d, a function of g_d that
   * equals 1 in the forward pass and has ∂a_d/∂g_d = ±φ(g_d), sign + for bit 1,
   * with φ(g) = 4σ(g)(1 − σ(g)) (1 at g = 0). Since bit d selects every node at
   * depth ≥ d, dL/dg_d = ±φ(g_d) · Σ_{d' ≥ d} dy · z_{d'}, z_t = U_t x + c_t.
   * Also writes the input gradient through the nodes (depth by depth, to read
   * off each dy · z) and through the gaters into dxs.
   */
  private gateBackward(j: number, dys: Float32Array, xs: Float32Array, dxs: Float32Array): void {
    const rt = this.routing[j], N = rt.n, k = this.depth, s = this.blockSize, m = this.outputSize, be = backend();
    const w = this.weight[j].data, bias = this.bias[j].data, leaf = rt.leaf, perm = rt.perm;
    const C = this.contrib.get(N * (k + 1)); // (k+1, N) dy · z per depth
    const T = this.tmp.get(N * s); // (N, s) dys U_t for the depth's nodes
    const B = this.nodeBias.get(N * m); // (N, m) c_t of each row's node at the depth
    const nodeOf = this.nodeOfRow.length >= N ? this.nodeOfRow : (this.nodeOfRow = new Int32Array(N));
    for (let d = 0; d <= k; d++) {
      T.fill(0);
      be.groupedBackwardInput(rt, dys, m, w, s, T, rt.depthStart[d], rt.depthStart[d + 1]);
      const base = 2 ** d - 1;
      for (let r = 0; r < N; r++) nodeOf[r] = base + (leaf[perm[r]] >> (k - d));
      be.gatherRows(bias, m, 0, nodeOf, N, m, B);
      // dy · z = (dy U_t) · x + dy · c_t
      const Cd = C.subarray(d * N, (d + 1) * N);
      be.rowDots(T, xs, N, s, Cd, false);
      be.rowDots(dys, B, N, m, Cd, true);
      be.addColumnSums(T, 1, N * s, dxs); // dxs += T
    }
    const g = this.g[j].get(N * k), gb = this.gateBias[j].data;
    const dg = this.dg.get(N * k); // (N, k)
    for (let r = 0; r < N; r++) {
      const i = perm[r];
      let suffix = 0;
      for (let d = k; d >= 1; d--) {
        suffix += C[d * N + r];
        const v = g[i * k + d - 1] + gb[d - 1];
        const sig = 1 / (1 + Math.exp(-v));
        dg[r * k + d - 1] = (v > 0 ? 1 : -1) * 4 * sig * (1 - sig) * suffix;
      }
    }
    const G = this.gateWeight[j], e = this.gateBias[j];
    be.gemmTN(k, s, N, dg, 0, xs, 0, G.grad, 0, true); // dG += dgᵀ xs
    be.addColumnSums(dg, N, k, e.grad); // de += Σ dg
    G.touch(0);
    e.touch(0);
    be.gemmNN(N, s, k, dg, 0, G.data, 0, dxs, 0, true); // dxs += dg G
  }

  /**
   * The tables inference reads, per block, laid out by the backend's packNodes (rebuilt when the weights or the
   * backend change): the collapsed leaves V_L = Σ_{t on path to L} U_t (and their biases) of a tree of depth
   * k ≥ 1, else the nodes themselves (the root at k = 0, the leaves of a flat layer).
   */
  private inferenceTables(be: Backend): { w: Float32Array[]; b: Float32Array[] } {
    return this.leafTables.get(be, [...this.weight, ...this.bias], (_, previous) => {
      const k = this.depth, m = this.outputSize, s = this.blockSize, T = this.flat ? 2 ** k : 1;
      if (k === 0 || this.flat) {
        return { w: this.weight.map((p, j) => be.packNodes(p.data, T, m, s, reusable(previous?.w[j] ?? null, p.data))), b: this.bias.map((p) => p.data) };
      }
      // collapsed leaves, each packed into its place as the depth-first walk finishes it (the tables of the
      // previous build, when their size fits, take the new ones)
      const leaves = 2 ** k, z = m * s, per = be.packedFloats(m, s), leaf = new Float32Array(z);
      const w = this.weight.map((p, j) => {
        const prev = previous?.w[j];
        const out = prev && prev.length === leaves * per ? prev : be.floats(leaves * per);
        collapse(p.data, z, k, (L, sum) => {
          leaf.set(sum);
          be.packNodes(leaf, 1, m, s, out.subarray(L * per, (L + 1) * per));
        });
        return out;
      });
      const b = this.bias.map((p, j) => {
        const prev = previous?.b[j];
        const out = prev && prev.length === leaves * m ? prev : be.floats(leaves * m);
        collapse(p.data, m, k, (L, sum) => out.set(sum, L * m));
        return out;
      });
      return { w, b };
    });
  }

  dispose(): void {
    // a table may be a parameter's own array (k = 0, flat): releasing an array twice is harmless
    this.leafTables.drop((t) => [...t.w, ...t.b].forEach(releaseFloats));
    for (const p of this.sums) p.dispose();
    for (const p of this.params()) p.dispose();
  }

  /** Per block, the nodes its last training forward pass collapsed onto path sums (0: one product per node). */
  collapsedNodes(): number[] {
    return this.sums.map((p) => p.collapsedCount);
  }

  /** Leaf counts since the last reset (every forward counts). */
  leafUsage(): LeafUsage {
    return { blocks: this.blocks, leaves: 2 ** this.depth, counts: this.usage.map((u) => u.slice()) };
  }

  resetUsage(): void {
    for (const u of this.usage) u.fill(0);
  }

  restoreUsage(counts: ArrayLike<number>[]): void {
    check(counts.length === this.blocks && counts.every((c) => c.length === 2 ** this.depth), `${this.name}: leaf usage does not match ${this.blocks} blocks of ${2 ** this.depth} leaves`);
    counts.forEach((c, j) => this.usage[j].set(c));
  }

  parameterCount(): number {
    return this.params().reduce((a, p) => a + p.size, 0);
  }

  macs(): Macs {
    const mn = this.outputSize * this.inputSize;
    const gate = this.gating === 'projection' ? this.depth * this.inputSize : 0;
    return { training: (this.flat ? 1 : this.depth + 1) * mn + gate, inference: mn + gate };
  }
}

/**
 * Path sums of heap-ordered node tables (T, z) → leaf tables (2^k, z), depth-first
 * with one float64 partial sum per depth: T·z additions, each node read once. Each
 * leaf's sum goes to `emit(leaf, sum)` as soon as it is complete (float64; the
 * caller rounds it to float32 where it stores it).
 */
function collapse(nodes: Float32Array, z: number, k: number, emit: (leaf: number, sum: Float64Array) => void): void {
  const acc = Array.from({ length: k + 1 }, () => new Float64Array(z)); // acc[d]: sum from root to depth d
  const first = 2 ** k - 1;
  const visit = (t: number, d: number): void => {
    const a = acc[d], o = t * z;
    if (d === 0) for (let i = 0; i < z; i++) a[i] = nodes[o + i];
    else for (let i = 0, p = acc[d - 1]; i < z; i++) a[i] = p[i] + nodes[o + i];
    if (d === k) emit(t - first, a);
    else {
      visit(2 * t + 1, d + 1);
      visit(2 * t + 2, d + 1);
    }
  };
  visit(0, 0);
}
