/**
 * Routing.sort against definitions written out here: perm is the stable sort
 * of the examples by leaf (a counting sort where 2^k ≤ 4N, a sort of keys in
 * deeper trees: both run below), and the node list holds every non-empty node exactly once (depth
 * by depth, prefix by prefix) with the range of sorted rows whose leaf lies
 * under it, and no empty node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCount, nodeDepth, Routing } from '../../src/kernels/routing.js';
import { depthOf, pathNode, Rng } from '../helpers.js';

/** Expected routing of `leaves` in a depth-k tree. */
function expected(leaves: number[], k: number, leavesOnly: boolean) {
  const N = leaves.length;
  const perm = leaves.map((L, i) => ({ L, i })).sort((a, b) => a.L - b.L || a.i - b.i).map((e) => e.i);
  const sortedLeaf = perm.map((i) => leaves[i]);
  const nodes: Array<[number, number, number]> = []; // [node, start, end]
  for (let d = leavesOnly ? k : 0; d <= k; d++) {
    const prefixes = [...new Set(leaves.map((L) => Math.floor(L / 2 ** (k - d))))].sort((a, b) => a - b); // the non-empty ones
    for (const q of prefixes) {
      const id = leavesOnly ? q : 2 ** d - 1 + q;
      const rows = sortedLeaf.map((L, r) => (Math.floor(L / 2 ** (k - d)) === q ? r : -1)).filter((r) => r >= 0);
      if (rows.length === 0) continue;
      // contiguity is part of the contract (DESIGN §2, step 3)
      assert.equal(rows[rows.length - 1] - rows[0] + 1, rows.length, 'test bug: a node range is not contiguous');
      nodes.push([id, rows[0], rows[rows.length - 1] + 1]);
    }
  }
  return { perm, nodes, N };
}

function run(rt: Routing, leaves: number[], k: number, leavesOnly = false): void {
  if (rt.leaf.length < leaves.length) rt.leaf = new Int32Array(leaves.length);
  rt.leaf.set(leaves);
  rt.sort(leaves.length, k, leavesOnly);
}

function check(rt: Routing, leaves: number[], k: number, leavesOnly: boolean, what: string): void {
  const e = expected(leaves, k, leavesOnly);
  const N = leaves.length;
  assert.equal(rt.n, N, `${what}: n`);
  assert.equal(rt.depth, k, `${what}: depth`);
  assert.deepEqual(Array.from(rt.perm.subarray(0, N)), e.perm, `${what}: perm is the stable sort by leaf`);
  const got: Array<[number, number, number]> = [];
  for (let g = 0; g < rt.nodeCount; g++) got.push([rt.node[g], rt.start[g], rt.end[g]]);
  assert.deepEqual(got, e.nodes, `${what}: node ranges [node, start, end)`);
  // depthStart: the nodes of depth d are node[depthStart[d] .. depthStart[d+1]) (all of depth k with leavesOnly)
  const ds = Array.from(rt.depthStart.subarray(0, k + 2));
  const wantDs: number[] = [];
  for (let d = 0; d <= k + 1; d++) {
    wantDs.push(leavesOnly ? (d <= k ? 0 : got.length) : got.filter(([t]) => depthOf(t) < d).length);
  }
  assert.deepEqual(ds, wantDs, `${what}: depthStart`);
  // Independent restatements: each node once, no empty range, the ranges of one depth tile [0, N).
  const ids = got.map((x) => x[0]);
  assert.equal(new Set(ids).size, ids.length, `${what}: a node is listed twice`);
  for (const [t, s, en] of got) assert.ok(en > s, `${what}: node ${t} has an empty range [${s}, ${en})`);
  if (!leavesOnly) {
    assert.equal(rt.nodeCount, new Set(leaves.flatMap((L) => Array.from({ length: k + 1 }, (_, d) => pathNode(L, d, k)))).size,
      `${what}: nodeCount = number of distinct nodes on the examples' paths`);
    for (let d = 0; d <= k; d++) {
      const ranges = got.filter(([t]) => depthOf(t) === d);
      let r = 0;
      for (const [, s, en] of ranges) { assert.equal(s, r, `${what}: depth ${d} ranges tile the rows`); r = en; }
      assert.equal(r, N, `${what}: depth ${d} ranges cover all ${N} rows`);
    }
  }
}

test('sort: random leaves over depths 0..6, with and without leavesOnly', () => {
  const rng = new Rng(11);
  for (let k = 0; k <= 6; k++) {
    for (const N of [1, 2, 3, 7, 16, 33, 100]) {
      const leaves = Array.from({ length: N }, () => rng.int(2 ** k));
      for (const leavesOnly of [false, true]) {
        check(run2(leaves, k, leavesOnly), leaves, k, leavesOnly, `k=${k} N=${N} leavesOnly=${leavesOnly}`);
      }
    }
  }
});

function run2(leaves: number[], k: number, leavesOnly: boolean): Routing {
  const rt = new Routing();
  run(rt, leaves, k, leavesOnly);
  return rt;
}

test('sort: deep trees with few examples (the key sort), equal leaves included, and a Routing moving between both sorts', () => {
  const rng = new Rng(13);
  const rt = new Routing();
  for (const k of [8, 12, 24]) {
    for (const N of [1, 2, 5, 31, 300]) {
      const pool = Array.from({ length: Math.max(1, N >> 2) }, () => rng.int(2 ** k)); // repeats: stability matters
      const leaves = Array.from({ length: N }, () => pool[rng.int(pool.length)]);
      for (const leavesOnly of [false, true]) {
        check(run2(leaves, k, leavesOnly), leaves, k, leavesOnly, `k=${k} N=${N} leavesOnly=${leavesOnly}`);
        run(rt, leaves, k, leavesOnly);
        check(rt, leaves, k, leavesOnly, `reused k=${k} N=${N} leavesOnly=${leavesOnly}`);
        const shallow = leaves.map((L) => L >> (k - 2)); // 4 leaves: the counting sort, same Routing
        run(rt, shallow, 2, leavesOnly);
        check(rt, shallow, 2, leavesOnly, `reused k=2 N=${N} leavesOnly=${leavesOnly}`);
      }
    }
  }
});

test('sort: stability with many equal leaves', () => {
  const leaves = [3, 1, 3, 0, 1, 3, 0, 2, 1, 3];
  const rt = run2(leaves, 2, false);
  assert.deepEqual(Array.from(rt.perm.subarray(0, 10)), [3, 6, 1, 4, 8, 7, 0, 2, 5, 9]);
  check(rt, leaves, 2, false, 'stability');
});

test('sort: all examples in one leaf (all bits 0, all bits 1, one interior leaf)', () => {
  for (const k of [1, 3, 5]) {
    for (const L of [0, 2 ** k - 1, 2 ** (k - 1)]) {
      const leaves = Array(9).fill(L);
      const rt = run2(leaves, k, false);
      check(rt, leaves, k, false, `k=${k} all in leaf ${L}`);
      assert.equal(rt.nodeCount, k + 1, 'one path: k + 1 nodes');
      for (let g = 0; g < rt.nodeCount; g++) {
        assert.equal(rt.node[g], pathNode(L, g, k));
        assert.equal(rt.start[g], 0);
        assert.equal(rt.end[g], 9);
      }
      const lo = run2(leaves, k, true);
      assert.equal(lo.nodeCount, 1);
      assert.deepEqual([lo.node[0], lo.start[0], lo.end[0]], [L, 0, 9]);
    }
  }
});

test('sort: depth 0 lists only the root over all rows', () => {
  const rt = run2([0, 0, 0, 0], 0, false);
  assert.equal(rt.nodeCount, 1);
  assert.deepEqual([rt.node[0], rt.start[0], rt.end[0]], [0, 0, 4]);
  assert.deepEqual(Array.from(rt.perm.subarray(0, 4)), [0, 1, 2, 3]);
});

test('sort: N = 0 and N = 1', () => {
  for (const k of [0, 1, 4]) {
    const rt = run2([], k, false);
    assert.equal(rt.nodeCount, 0, `k=${k} N=0: no nodes`);
    const lo = run2([], k, true);
    assert.equal(lo.nodeCount, 0);
    const L = 2 ** k - 1;
    check(run2([L], k, false), [L], k, false, `k=${k} N=1`);
    check(run2([L], k, true), [L], k, true, `k=${k} N=1 leavesOnly`);
  }
});

test('sort: reusing one Routing across sizes and depths (buffers grow, stale contents ignored)', () => {
  const rng = new Rng(12);
  const rt = new Routing();
  const cases: Array<[number, number]> = [[50, 5], [3, 1], [80, 2], [1, 6], [0, 3], [20, 0], [64, 4]];
  for (const [N, k] of cases) {
    const leaves = Array.from({ length: N }, () => rng.int(2 ** k));
    for (const leavesOnly of [false, true]) {
      run(rt, leaves, k, leavesOnly);
      check(rt, leaves, k, leavesOnly, `reused N=${N} k=${k} leavesOnly=${leavesOnly}`);
    }
  }
});

test('sort: empty leaves and empty subtrees are skipped', () => {
  // depth 3; only leaves 1 and 6 used: the left-right subtree (node 4) and others stay out
  const leaves = [6, 1, 6, 6, 1];
  const rt = run2(leaves, 3, false);
  check(rt, leaves, 3, false, 'two leaves');
  const got = Array.from(rt.node.subarray(0, rt.nodeCount));
  assert.deepEqual(got, [0, 1, 2, 3, 6, 8, 13]);
});

test('nodeCount and nodeDepth', () => {
  for (let k = 0; k <= 30; k++) assert.equal(nodeCount(k), 2 ** (k + 1) - 1, `nodeCount(${k})`);
  assert.equal(nodeCount(30), 2 ** 31 - 1, 'the deepest tree counted, 30, has 2^31 − 1 nodes (every index below it a node index nodeDepth takes)');
  assert.equal(nodeDepth(nodeCount(30) - 1), 30);
  for (let t = 0; t < 5000; t++) assert.equal(nodeDepth(t), depthOf(t), `nodeDepth(${t})`);
  for (let d = 0; d <= 24; d++) {
    assert.equal(nodeDepth(2 ** d - 1), d, `first node of depth ${d}`);
    assert.equal(nodeDepth(2 ** (d + 1) - 2), d, `last node of depth ${d}`);
  }
  // a negative or fractional argument gave a count or depth that is none (nodeCount(-1) = 0, nodeDepth(-1) = 0)
  for (const k of [-1, 1.5, Number.NaN, 31]) assert.throws(() => nodeCount(k), /nodeCount\(k\): the depth k must be an integer in \[0, 30\]/);
  for (const t of [-1, 0.5, Number.NaN, 2 ** 31]) assert.throws(() => nodeDepth(t), /nodeDepth\(t\): a node index must be an integer/);
});
