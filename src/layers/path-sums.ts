import { shown, TreegateError } from '../core/errors.js';
import { releaseFloats, type Backend } from '../kernels/backend.js';
import { nodeDepth, Routing } from '../kernels/routing.js';
import { addIntoParents } from '../kernels/weight-step.js';
import type { EarlyStep } from './layer.js';
import { nodeGradients } from './node-grads.js';
import type { Param } from './param.js';

/**
 * Training on path sums (DESIGN §2's alternative to one product per node; bench/collapse/collapse.ts measures it).
 * A node of at least `minRows` rows above the leaves is collapsed: it has no product of its own. The nodes whose
 * parent is collapsed (the frontier) multiply their rows by their path sums C_q = Σ_{a on the path to q} U_a in
 * place of U_q, in the forward pass and the input gradient alike; the nodes below the frontier keep their own
 * products. A collapsed node's weight gradient is the sum of its children's, since its rows are theirs. These are
 * the per-node execution's sums in another order, so the results differ from it by rounding only.
 *
 * What it saves: the products of the collapsed nodes, three times per step (forward, input and weight gradients);
 * what it costs: building the sums, one addPaths call (src/kernels/paths.ts) that reads each collapsed and frontier
 * node's table once and writes the frontier's sums (the fast backends a block of columns at a time, keeping the
 * collapsed nodes' prefix sums in cache), and the collapsed nodes' gradients as sums of their children's. In the
 * training step (a backward with the optimizer's step) one pathWeightStep call makes the frontier's and collapsed
 * nodes' gradients and applies them (src/kernels/weight-step.ts; native and wasm: a block of rows of every table at
 * a time, so that no gradient reaches memory); in a backward without the step, one add per collapsed node's child
 * adds up its gradient in place (a pass over a node's table, which the chain mostly finds in the last-level cache). Nodes
 * collapse from the rows the layer asks for (collapseRows, or its backend's choice: collapseFrom), and from twice
 * that, or more, where more than MAX_COLLAPSED nodes would collapse: the frontier's tables, at most MAX_COLLAPSED + 1
 * node tables (the children of collapsed nodes that do not collapse), are kept for the next step until the layer is
 * disposed.
 */
export const MAX_COLLAPSED = 64;

/**
 * The rows from which a node collapses on backend `be` by default: its collapseRows, else 32. A collapsed node of r
 * rows saves products of about 3 · r · 2ms flops a step for a few passes over tables of ms floats, so a backend with
 * slower products beside its memory collapses smaller nodes (wasm and js: 8). 2026-12-02, Zen 5,
 * `node --import tsx bench/collapse/collapse.ts` (bench/saved/2026-12-02-zen5-collapse.txt): native's training step
 * was fastest or within 6% of it at 32 in every case (512 wide, N = 256, k = 2–10; N = 1024, k = 6; the default
 * model's tree layer), 1.2× faster than with the N / 8 floor it had at N = 1024; wasm's at 8, 1.16–1.69× faster than
 * at its old default. js (`… collapse.ts --backends js --cases 256,64,4/512,256,2/512,256,4`,
 * bench/saved/2026-12-02-zen5-collapse-js.txt): at 8 within 3% of its fastest setting, 1.22–1.28× faster than at 32 at
 * k = 4 (the 512-wide layer and the default model's), the same at k = 2, where every node has 64 rows or more.
 */
export function collapseFrom(be: Backend): number {
  const rows = be.collapseRows ?? 32;
  if (!(rows >= 1)) {
    throw new TreegateError(`backend ${be.name}: collapseRows must be a number ≥ 1 (or Infinity), got ${shown(rows)}`,
      'set the backend\'s collapseRows to the rows from which its tree layers train a node on path sums, or leave it out');
  }
  return rows;
}

export class PathSums {
  /** whether the last plan() collapsed anything (else the caller runs the per-node products) */
  active = false;
  private front = new Routing(); // the frontier, each node numbered by its path-sum table
  private frontNodes = new Routing(); // the frontier with its node ids
  private below = new Routing(); // the nodes below the frontier
  private up: number[] = []; // collapsed nodes, depth by depth
  private upRange: number[] = []; // [start, end) of each collapsed node's rows
  private collapsed = new Set<number>();
  // the path sums as addPaths builds them: the collapsed nodes and the frontier, depth first (a frontier node's
  // entry writes its table), so that the sums kept while the tables are built are those of one path; the same
  // entries are pathWeightStep's tree, a frontier node's table number its range in frontNodes
  private pathNode = new Int32Array(0);
  private pathParent = new Int32Array(0);
  private pathOut = new Int32Array(0);
  private tables: Float32Array = new Float32Array(0); // the frontier's path sums
  private tableBias: Float32Array = new Float32Array(0); // the frontier's path sums of the biases
  private made: Backend | null = null; // the backend whose floats() made the tables
  private version = -1; // the weights' version the tables were built from

  /** The nodes the last plan() collapsed: at most MAX_COLLAPSED, 0 where it collapsed none. */
  get collapsedCount(): number {
    return this.active ? this.up.length : 0;
  }

  /**
   * Lists the collapsed nodes, the frontier and the nodes below it from a sorted routing of depth k; sets and
   * returns `active`: false where the root has fewer than minRows rows or k = 0.
   */
  plan(rt: Routing, k: number, minRows: number): boolean {
    let R = Math.max(1, minRows);
    const collapsing = (r: number): number => {
      let c = 0;
      for (let g = 0; g < rt.nodeCount; g++) if (rt.end[g] - rt.start[g] >= r && nodeDepth(rt.node[g]) < k) c++;
      return c;
    };
    while (R <= rt.n && collapsing(R) > MAX_COLLAPSED) R *= 2;
    this.active = k > 0 && rt.nodeCount > 0 && rt.end[0] - rt.start[0] >= R;
    if (!this.active) return false;
    this.up = [];
    this.upRange = [];
    this.collapsed.clear();
    const front: number[] = [], below: number[] = [];
    for (let g = 0; g < rt.nodeCount; g++) {
      const t = rt.node[g];
      if (t === 0 || this.collapsed.has((t - 1) >> 1)) {
        if (rt.end[g] - rt.start[g] >= R && nodeDepth(t) < k) {
          this.up.push(t);
          this.upRange.push(rt.start[g], rt.end[g]);
          this.collapsed.add(t);
        } else front.push(g);
      } else below.push(g);
    }
    sub(this.front, rt, front, (_, i) => i);
    sub(this.frontNodes, rt, front, (g) => rt.node[g]);
    sub(this.below, rt, below, (g) => rt.node[g]);
    this.planPaths();
    return true;
  }

  /** The addPaths entries of the last plan: from the root depth first, a frontier node's entry writing its table. */
  private planPaths(): void {
    const table = new Map<number, number>(), node: number[] = [], parent: number[] = [], out: number[] = [];
    for (let i = 0; i < this.frontNodes.nodeCount; i++) table.set(this.frontNodes.node[i], i);
    const visit = (t: number, p: number): void => {
      const e = node.length;
      node.push(t);
      parent.push(p);
      out.push(-1);
      for (const c of [2 * t + 1, 2 * t + 2]) {
        if (this.collapsed.has(c)) visit(c, e);
        else if (table.has(c)) {
          node.push(c);
          parent.push(e);
          out.push(table.get(c)!);
        }
      }
    };
    visit(0, -1);
    this.pathNode = Int32Array.from(node);
    this.pathParent = Int32Array.from(parent);
    this.pathOut = Int32Array.from(out);
  }

  /** Builds the frontier's path sums of the weights w (T, m, s), at `version`, and biases (T, m) of the last plan. */
  build(be: Backend, w: Float32Array, version: number, bias: Float32Array, m: number, s: number): void {
    this.version = version;
    const ms = m * s, F = this.front.nodeCount;
    if (this.made !== be || this.tables.length < F * ms || this.tableBias.length < F * m) {
      this.dispose();
      this.made = be;
      this.tables = be.floats(F * ms);
      this.tableBias = be.floats(F * m);
    }
    be.addPaths(w, ms, this.pathNode, this.pathParent, this.pathOut, this.pathNode.length, this.tables);
    for (let i = 0; i < F; i++) {
      const t = this.frontNodes.node[i];
      const c = this.tableBias.subarray(i * m, (i + 1) * m);
      c.fill(0);
      for (let a = t; ; a = (a - 1) >> 1) {
        for (let j = 0, o = a * m; j < m; j++) c[j] += bias[o + j];
        if (a === 0) break;
      }
    }
  }

  /**
   * Whether the backward pass can read the tables: planned, and built from the weights at `version` (a step or an
   * edit since the forward pass, e.g. a second backward after a fused step, makes it take the per-node products).
   */
  current(version: number): boolean {
    return this.active && this.version === version;
  }

  /** ys[r] += xs[r] (the path sum or node table)ᵀ + its bias, as groupedForward over the whole routing. */
  forward(be: Backend, xs: Float32Array, s: number, w: Float32Array, bias: Float32Array, m: number, ys: Float32Array): void {
    be.groupedForward(this.front, xs, s, this.frontTables(m * s), this.tableBias, m, ys);
    be.groupedForward(this.below, xs, s, w, bias, m, ys);
  }

  /** dxs[r] += dys[r] (the path sum or node table), as groupedBackwardInput over the whole routing. */
  backwardInput(be: Backend, dys: Float32Array, m: number, w: Float32Array, s: number, dxs: Float32Array): void {
    be.groupedBackwardInput(this.front, dys, m, this.frontTables(m * s), s, dxs);
    be.groupedBackwardInput(this.below, dys, m, w, s, dxs);
  }

  /**
   * The node weights' and biases' gradients (and with `early` the step, as nodeGradients): the products of the
   * frontier and the nodes below it, each collapsed node's as the sum of its children's (with the step, both in
   * pathWeightStep), and the collapsed nodes' bias gradients over their rows. Where
   * the weights hold gradients already (accumulation over batches), the sums would carry them up too: the per-node
   * products of the whole routing `rt` are made instead.
   */
  gradients(be: Backend, rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number, w: Param, b: Param,
    early: EarlyStep | undefined): void {
    if (w.touchedCount > 0) {
      nodeGradients(be, rt, dys, m, xs, s, w, b, early);
      return;
    }
    const ms = m * s, step = early ? early.weightStep(w) : null, dw = w.grad;
    if (step) {
      be.groupedBackwardWeightStep(this.below, dys, m, xs, s, w.data, dw, b.grad, step);
      be.pathWeightStep(this.frontNodes, dys, m, xs, s, w.data, dw, b.grad, step, this.pathNode, this.pathParent, this.pathOut,
        this.pathNode.length);
      w.version++;
    } else {
      be.groupedBackwardWeight(this.below, dys, m, xs, s, dw, b.grad, fresh(this.below.nodeCount));
      be.groupedBackwardWeight(this.frontNodes, dys, m, xs, s, dw, b.grad, fresh(this.frontNodes.nodeCount));
      addIntoParents(be.addRowVector, dw, ms, this.pathNode, this.pathParent, this.pathNode.length);
      for (let g = 0; g < rt.nodeCount; g++) w.touch(rt.node[g]);
    }
    for (let i = 0; i < this.up.length; i++) {
      const t = this.up[i], r0 = this.upRange[2 * i], r1 = this.upRange[2 * i + 1];
      be.addColumnSums(dys.subarray(r0 * m, r1 * m), r1 - r0, m, b.grad.subarray(t * m, (t + 1) * m));
    }
    for (let g = 0; g < rt.nodeCount; g++) b.touch(rt.node[g]);
  }

  /** Gives the tables back to the backend that made them. */
  dispose(): void {
    releaseFloats(this.tables);
    releaseFloats(this.tableBias);
    this.tables = new Float32Array(0);
    this.tableBias = new Float32Array(0);
    this.made = null;
  }

  private frontTables(ms: number): Float32Array {
    return this.tables.subarray(0, this.front.nodeCount * ms);
  }
}

/** `r` made the routing of rt's node ranges gs (rows, order and depth of rt), the node of range gs[i] numbered id(gs[i], i). */
function sub(r: Routing, rt: Routing, gs: number[], id: (g: number, i: number) => number): void {
  const n = gs.length;
  if (r.node.length < n) {
    r.node = new Int32Array(n);
    r.start = new Int32Array(n);
    r.end = new Int32Array(n);
  }
  gs.forEach((g, i) => {
    r.node[i] = id(g, i);
    r.start[i] = rt.start[g];
    r.end[i] = rt.end[g];
  });
  r.nodeCount = n;
  r.n = rt.n;
  r.perm = rt.perm;
  r.leaf = rt.leaf;
  r.depth = rt.depth;
}

/** The `fresh` hint of a node list whose gradients all hold zeros. */
function fresh(n: number): Uint8Array {
  return new Uint8Array(n).fill(1);
}
