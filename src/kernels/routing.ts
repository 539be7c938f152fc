/**
 * Routing for tree-gated layers (DESIGN §2): bits → leaf index → counting
 * sort → one contiguous row range per non-empty node. Routing selects rows; it
 * has no gradient.
 *
 * Notation: N examples, depth k, 2^k leaves. Nodes are numbered in heap order:
 * the node at depth d whose prefix has value q (first bit most significant) is
 * 2^d − 1 + q; the children of node t are 2t+1 (bit 0) and 2t+2 (bit 1).
 */
export class Routing {
  /** (N) leaf index of each example */
  leaf = new Int32Array(0);
  /** (N) sorted position → example index */
  perm = new Int32Array(0);
  /** (2^k + 1, or G + 1 groups) first sorted position of each leaf; the last entry is N */
  leafStart = new Int32Array(0);
  /** non-empty nodes, in order of depth then prefix: node id and row range [start, end) in sorted order */
  nodeCount = 0;
  node = new Int32Array(0);
  start = new Int32Array(0);
  end = new Int32Array(0);
  /** (k + 2) the nodes of depth d are node[depthStart[d] .. depthStart[d+1]) (all of depth k with leavesOnly) */
  depthStart = new Int32Array(0);
  n = 0;
  depth = 0;
  private next = new Int32Array(0); // countingSort's write positions

  /**
   * Sorts examples by `leaf[0..N)` (already filled) and lists the non-empty node
   * ranges, O(N·(k+1) + 2^k). With `leavesOnly`, lists only the leaves and
   * numbers them 0..2^k−1 (collapsed inference).
   */
  sort(N: number, k: number, leavesOnly = false): void {
    this.depth = k;
    const ls = this.countingSort(N, 1 << k, N * (k + 1));
    const leaf = this.leaf, perm = this.perm;
    // node ranges: at depth d the sorted rows form runs of equal prefix leaf >> (k−d)
    if (this.depthStart.length < k + 2) this.depthStart = new Int32Array(k + 2);
    let c = 0;
    for (let d = 0; d <= k; d++) {
      this.depthStart[d] = c;
      if (leavesOnly && d < k) continue;
      const shift = k - d;
      const base = leavesOnly ? 0 : (1 << d) - 1;
      let r = 0;
      while (r < N) {
        const q = leaf[perm[r]] >> shift;
        const e = ls[(q + 1) << shift];
        this.node[c] = base + q;
        this.start[c] = r;
        this.end[c] = e;
        c++;
        r = e;
      }
    }
    this.depthStart[k + 1] = c;
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
   * mixture of experts. O(N + G).
   */
  sortGroups(N: number, G: number): void {
    this.depth = 0;
    const ls = this.countingSort(N, G, Math.min(N, G));
    if (this.depthStart.length < 2) this.depthStart = new Int32Array(2);
    let c = 0;
    for (let g = 0; g < G; g++) {
      if (ls[g + 1] === ls[g]) continue;
      this.node[c] = g;
      this.start[c] = ls[g];
      this.end[c] = ls[g + 1];
      c++;
    }
    this.depthStart[0] = 0;
    this.depthStart[1] = c;
    this.nodeCount = c;
  }

  /** Stable counting sort of leaf[0..N) into perm; returns the group starts (G + 1 entries, last = N). */
  private countingSort(N: number, G: number, maxNodes: number): Int32Array {
    this.n = N;
    if (this.perm.length < N) this.perm = new Int32Array(N);
    if (this.leafStart.length < G + 1) this.leafStart = new Int32Array(G + 1);
    if (this.node.length < maxNodes) {
      this.node = new Int32Array(maxNodes);
      this.start = new Int32Array(maxNodes);
      this.end = new Int32Array(maxNodes);
    }
    const leaf = this.leaf, perm = this.perm, ls = this.leafStart;
    ls.fill(0, 0, G + 1);
    for (let i = 0; i < N; i++) ls[leaf[i] + 1]++;
    for (let l = 0; l < G; l++) ls[l + 1] += ls[l];
    if (this.next.length < G) this.next = new Int32Array(G);
    const next = this.next; // NOTE: a reused copy of the group starts: no allocation per sort
    next.set(ls.subarray(0, G));
    for (let i = 0; i < N; i++) perm[next[leaf[i]]++] = i;
    return ls;
  }
}

/** Number of nodes of a complete binary tree of depth k: 2^(k+1) − 1. */
export function nodeCount(k: number): number {
  return 2 ** (k + 1) - 1;
}

/** Depth of heap-ordered node t. */
export function nodeDepth(t: number): number {
  return 31 - Math.clz32(t + 1);
}
