import { shown, TreegateError } from '../core/errors.js';

/**
 * Routing for tree-gated layers (DESIGN §2): bits → leaf index → stable sort
 * by leaf → one contiguous row range per non-empty node. Routing selects rows; it
 * has no gradient.
 *
 * Notation: N examples, depth k, 2^k leaves. Nodes are numbered in heap order:
 * the node at depth d whose prefix has value q (first bit most significant) is
 * 2^d − 1 + q; the children of node t are 2t+1 (bit 0) and 2t+2 (bit 1).
 */
export class Routing {
  /** (N) leaf index of each example */
  leaf: Int32Array = new Int32Array(0);
  /** (N) sorted position → example index */
  perm: Int32Array = new Int32Array(0);
  /** non-empty nodes, in order of depth then prefix: node id and row range [start, end) in sorted order */
  nodeCount = 0;
  node: Int32Array = new Int32Array(0);
  start: Int32Array = new Int32Array(0);
  end: Int32Array = new Int32Array(0);
  /** (k + 2) the nodes of depth d are node[depthStart[d] .. depthStart[d+1]) (all of depth k with leavesOnly) */
  depthStart: Int32Array = new Int32Array(0);
  n = 0;
  depth = 0;
  // the sorted rows' runs of equal leaf: leaf and end of each (sort merges them into its node ranges)
  private runLeaf = new Int32Array(0);
  private runEnd = new Int32Array(0);
  private next = new Int32Array(0); // counting sort: the write position of each leaf
  private key = new Float64Array(0); // comparison sort: leaf · N + example

  /**
   * Sorts examples by `leaf[0..N)` (already filled) and lists the non-empty node
   * ranges, O(N·(k+1) + min(2^k, N log N)). With `leavesOnly`, lists only the leaves and
   * numbers them 0..2^k−1 (collapsed inference).
   */
  sort(N: number, k: number, leavesOnly = false): void {
    this.depth = k;
    let cnt = this.sortRuns(N, 1 << k, N * (k + 1));
    if (this.depthStart.length < k + 2) this.depthStart = new Int32Array(k + 2);
    // node ranges, depth k first: the runs of equal leaf, then at each depth above the runs of equal prefix (the
    // ranges of the depth below merged by parent, in place), written from the end of the node arrays backwards
    // and moved to their start at the end, so that the list runs depth 0 first
    const q = this.runLeaf, e = this.runEnd, node = this.node, start = this.start, end = this.end, ds = this.depthStart;
    const cap = node.length;
    let pos = cap;
    for (let d = k; d >= 0; d--) {
      pos -= cnt;
      const base = leavesOnly ? 0 : (1 << d) - 1;
      for (let i = 0, a = 0; i < cnt; i++) {
        node[pos + i] = base + q[i];
        start[pos + i] = a;
        end[pos + i] = a = e[i];
      }
      ds[d] = pos;
      if (leavesOnly) {
        ds.fill(pos, 0, k);
        break;
      }
      let j = 0;
      for (let i = 0; i < cnt; i++) {
        const p = q[i] >> 1;
        if (j > 0 && q[j - 1] === p) e[j - 1] = e[i];
        else {
          q[j] = p;
          e[j++] = e[i];
        }
      }
      cnt = j;
    }
    const c = cap - pos;
    node.copyWithin(0, pos, cap);
    start.copyWithin(0, pos, cap);
    end.copyWithin(0, pos, cap);
    for (let d = 0; d <= k; d++) ds[d] -= pos;
    ds[k + 1] = c;
    this.nodeCount = c;
  }

  /** Whether the sorted order is the example order (perm[i] = i): one node, or rows already grouped. */
  isIdentity(): boolean {
    for (let i = 0; i < this.n; i++) if (this.perm[i] !== i) return false;
    return true;
  }

  /**
   * Sorts N items by group `leaf[i]` in [0, G) (already filled) and lists one
   * range per non-empty group, the group being the node: the routing of a
   * mixture of experts. O(N + min(G, N log N)).
   */
  sortGroups(N: number, G: number): void {
    this.depth = 0;
    const runs = this.sortRuns(N, G, Math.min(N, G));
    if (this.depthStart.length < 2) this.depthStart = new Int32Array(2);
    for (let u = 0; u < runs; u++) {
      this.node[u] = this.runLeaf[u];
      this.start[u] = u === 0 ? 0 : this.runEnd[u - 1];
      this.end[u] = this.runEnd[u];
    }
    this.depthStart[0] = 0;
    this.depthStart[1] = runs;
    this.nodeCount = runs;
  }

  /**
   * Stable sort of leaf[0..N) (groups in [0, G)) into perm, then the runs of equal leaf in sorted order; returns
   * their count. A counting sort where G is at most a few times N, else a sort of the keys leaf · N + example
   * (a few examples in a deep tree: collapsed inference of one example would otherwise clear 2^k counts).
   */
  private sortRuns(N: number, G: number, maxNodes: number): number {
    this.n = N;
    if (this.perm.length < N) this.perm = new Int32Array(N);
    if (this.runLeaf.length < N) {
      this.runLeaf = new Int32Array(N);
      this.runEnd = new Int32Array(N);
    }
    if (this.node.length < maxNodes) {
      this.node = new Int32Array(maxNodes);
      this.start = new Int32Array(maxNodes);
      this.end = new Int32Array(maxNodes);
    }
    const leaf = this.leaf, perm = this.perm;
    if (G <= 4 * N || G * N > 2 ** 53) {
      if (this.next.length < G + 1) this.next = new Int32Array(G + 1);
      const next = this.next;
      next.fill(0, 0, G + 1);
      for (let i = 0; i < N; i++) next[leaf[i] + 1]++;
      for (let l = 0; l < G; l++) next[l + 1] += next[l];
      for (let i = 0; i < N; i++) perm[next[leaf[i]]++] = i;
    } else {
      if (this.key.length < N) this.key = new Float64Array(N);
      const key = this.key.subarray(0, N);
      for (let i = 0; i < N; i++) key[i] = leaf[i] * N + i; // exact: G·N ≤ 2^53
      key.sort();
      for (let r = 0; r < N; r++) perm[r] = key[r] % N;
    }
    const runLeaf = this.runLeaf, runEnd = this.runEnd;
    let runs = 0;
    for (let r = 0; r < N; r++) {
      const L = leaf[perm[r]];
      if (runs === 0 || runLeaf[runs - 1] !== L) runLeaf[runs++] = L;
      runEnd[runs - 1] = r + 1;
    }
    return runs;
  }
}

/** Number of nodes of a complete binary tree of depth k: 2^(k+1) − 1. */
export function nodeCount(k: number): number {
  if (!(Number.isInteger(k) && k >= 0 && k <= 30)) throw new TreegateError(`nodeCount(k): the depth k must be an integer in [0, 30], got ${shown(k)}`);
  return 2 ** (k + 1) - 1;
}

/** Depth of heap-ordered node t (the root 0, its children 1 and 2, …). */
export function nodeDepth(t: number): number {
  if (!(Number.isInteger(t) && t >= 0 && t < 2 ** 31 - 1)) throw new TreegateError(`nodeDepth(t): a node index must be an integer in [0, 2^31 − 1), got ${shown(t)}`);
  return 31 - Math.clz32(t + 1);
}
