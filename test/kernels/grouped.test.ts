/**
 * Grouped products over routing ranges, against a naive per-example path sum:
 * example i (sorted row r, i = perm[r]) with leaf L uses the nodes
 * t_d = 2^d − 1 + (L >> (k − d)), d = 0..k. Output buffers start with random
 * contents to check accumulation; nodes off every path must stay bit-identical. On every kernel backend that
 * loads here (js; wasm and native, each on 1 and 2 threads).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Routing } from '../../src/kernels/routing.js';
import { kernelVariants } from '../kernel-backends.js';
import { assertBitEqual, assertClose, pathNode, randomArray, Rng, route } from '../helpers.js';

interface Case { k: number; m: number; s: number; leaves: number[]; what: string }

function cases(): Case[] {
  const rng = new Rng(21);
  const out: Case[] = [];
  for (let k = 0; k <= 3; k++) {
    for (const [m, s] of [[1, 1], [3, 5], [7, 3], [5, 9]]) {
      const L = 2 ** k;
      // random leaves; one leaf only; every leaf but one (empty leaf in the middle); a single example
      out.push({ k, m, s, leaves: Array.from({ length: 13 }, () => rng.int(L)), what: 'random' });
      out.push({ k, m, s, leaves: Array(6).fill(L - 1), what: 'all in the last leaf' });
      out.push({ k, m, s, leaves: Array.from({ length: 11 }, (_, i) => (i * 3) % L).filter((l) => L === 1 || l !== (L >> 1)), what: 'empty leaves' });
      out.push({ k, m, s, leaves: [rng.int(L)], what: 'one example' });
    }
    out.push({ k, m: 3, s: 5, leaves: [], what: 'no example' });
  }
  // large enough that the fast backends split the work between their threads (the thread variants' cases; the
  // cases above fit one part): uneven leaves, odd widths, one node
  // and wide layers of few nodes, whose output columns native's threads split
  for (const [k, N, m, s] of [[2, 200, 67, 48], [3, 150, 40, 33], [0, 96, 130, 40], [1, 64, 256, 64], [2, 40, 300, 37]]) {
    out.push({ k, m, s, leaves: Array.from({ length: N }, (_, i) => (i < N / 3 ? 0 : rng.int(2 ** k))), what: 'split between threads' });
  }
  return out;
}


/** Nodes on at least one example's path. */
function usedNodes(leaves: number[], k: number): Set<number> {
  const used = new Set<number>();
  for (const L of leaves) for (let d = 0; d <= k; d++) used.add(pathNode(L, d, k));
  return used;
}


const TOL = { rtol: 1e-5, atol: 1e-5 };

/**
 * The tolerance of a case's float32 sums against the float64 reference: TOL, the absolute part grown with the terms
 * each output sums (a few hundred in the wide cases, whose rounding passes 1e-5 where terms cancel)
 */
function tolOf(c: Case): { rtol: number; atol: number } {
  const terms = (c.k + 1) * Math.max(c.m, c.s, c.leaves.length);
  return { rtol: TOL.rtol, atol: TOL.atol * Math.max(1, terms / 64) };
}

for (const { be, label, use } of kernelVariants()) {
  test(`${label}: groupedForward = Σ over the path of U_t x + c_t, accumulated onto ys`, () => {
    use();
    const rng = new Rng(22);
    for (const c of cases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const xs = randomArray(rng, N * s), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
      const ys = randomArray(rng, N * m), ys0 = ys.slice();
      be.groupedForward(rt, xs, s, w, bias, m, ys);
      const ref = new Float64Array(N * m);
      for (let r = 0; r < N; r++) {
        const L = leaves[rt.perm[r]];
        for (let j = 0; j < m; j++) {
          let acc = ys0[r * m + j];
          for (let d = 0; d <= k; d++) {
            const t = pathNode(L, d, k);
            acc += bias[t * m + j];
            for (let p = 0; p < s; p++) acc += w[(t * m + j) * s + p] * xs[r * s + p];
          }
          ref[r * m + j] = acc;
        }
      }
      assertClose(ys, ref, tolOf(c), `groupedForward k=${k} m=${m} s=${s} ${c.what}`);
    }
  });

  test(`${label}: routedForward gathers a column block of x, multiplies along each path and scatters to y (set or added)`, () => {
    use();
    const rng = new Rng(24);
    for (const c of cases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const off = 2, n = s + 5; // x rows wider than the block, the block not at column 0
      const x = randomArray(rng, N * n), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
      for (const accumulate of [false, true]) {
        const xs = randomArray(rng, N * s), ys = randomArray(rng, N * m), y = randomArray(rng, N * m), y0 = y.slice();
        be.routedForward(rt, x, n, off, xs, s, w, bias, m, ys, y, accumulate);
        const ref = new Float64Array(N * m);
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < m; j++) {
            let acc = accumulate ? y0[i * m + j] : 0;
            for (let d = 0; d <= k; d++) {
              const t = pathNode(leaves[i], d, k);
              acc += bias[t * m + j];
              for (let p = 0; p < s; p++) acc += w[(t * m + j) * s + p] * x[i * n + off + p];
            }
            ref[i * m + j] = acc;
          }
        }
        const what = `routedForward k=${k} m=${m} s=${s} ${c.what} accumulate=${accumulate}`;
        assertClose(y, ref, tolOf(c), what);
        for (let r = 0; r < N; r++) assertBitEqual(xs.subarray(r * s, (r + 1) * s), x.subarray(rt.perm[r] * n + off, rt.perm[r] * n + off + s), `${what}: xs row ${r}`);
      }
    }
  });

  test(`${label}: groupedBackwardInput = Σ over the path of dy U_t, accumulated onto dxs`, () => {
    use();
    const rng = new Rng(23);
    for (const c of cases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const dys = randomArray(rng, N * m), w = randomArray(rng, T * m * s);
      const dxs = randomArray(rng, N * s), dxs0 = dxs.slice();
      be.groupedBackwardInput(rt, dys, m, w, s, dxs);
      const ref = new Float64Array(N * s);
      for (let r = 0; r < N; r++) {
        const L = leaves[rt.perm[r]];
        for (let p = 0; p < s; p++) {
          let acc = dxs0[r * s + p];
          for (let d = 0; d <= k; d++) {
            const t = pathNode(L, d, k);
            for (let j = 0; j < m; j++) acc += dys[r * m + j] * w[(t * m + j) * s + p];
          }
          ref[r * s + p] = acc;
        }
      }
      assertClose(dxs, ref, tolOf(c), `groupedBackwardInput k=${k} m=${m} s=${s} ${c.what}`);
    }
  });

  test(`${label}: groupedBackwardInput over the node sublist of one depth (g0, g1 = depthStart[d], depthStart[d+1])`, () => {
    use();
    const rng = new Rng(26);
    for (const c of cases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const dys = randomArray(rng, N * m), w = randomArray(rng, T * m * s);
      for (let d = 0; d <= k; d++) {
        const dxs = randomArray(rng, N * s), dxs0 = dxs.slice();
        be.groupedBackwardInput(rt, dys, m, w, s, dxs, rt.depthStart[d], rt.depthStart[d + 1]);
        const ref = new Float64Array(N * s);
        for (let r = 0; r < N; r++) {
          const t = pathNode(leaves[rt.perm[r]], d, k);
          for (let p = 0; p < s; p++) {
            let acc = dxs0[r * s + p];
            for (let j = 0; j < m; j++) acc += dys[r * m + j] * w[(t * m + j) * s + p];
            ref[r * s + p] = acc;
          }
        }
        assertClose(dxs, ref, tolOf(c), `groupedBackwardInput depth ${d} only, k=${k} m=${m} s=${s} ${c.what}`);
      }
    }
  });

  test(`${label}: groupedBackwardWeight accumulates dU_t, dc_t of path nodes only`, () => {
    use();
    const rng = new Rng(24);
    for (const c of cases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const dys = randomArray(rng, N * m), xs = randomArray(rng, N * s);
      const dw = randomArray(rng, T * m * s), db = randomArray(rng, T * m);
      const dw0 = dw.slice(), db0 = db.slice();
      be.groupedBackwardWeight(rt, dys, m, xs, s, dw, db);
      const refW = Float64Array.from(dw0), refB = Float64Array.from(db0);
      for (let r = 0; r < N; r++) {
        const L = leaves[rt.perm[r]];
        for (let d = 0; d <= k; d++) {
          const t = pathNode(L, d, k);
          for (let j = 0; j < m; j++) {
            refB[t * m + j] += dys[r * m + j];
            for (let p = 0; p < s; p++) refW[(t * m + j) * s + p] += dys[r * m + j] * xs[r * s + p];
          }
        }
      }
      const what = `groupedBackwardWeight k=${k} m=${m} s=${s} ${c.what}`;
      assertClose(dw, refW, tolOf(c), `${what}: dU`);
      assertClose(db, refB, tolOf(c), `${what}: dc`);
      const used = usedNodes(leaves, k);
      for (let t = 0; t < T; t++) {
        if (used.has(t)) continue;
        assertBitEqual(dw.subarray(t * m * s, (t + 1) * m * s), dw0.subarray(t * m * s, (t + 1) * m * s), `${what}: unused node ${t} dU`);
        assertBitEqual(db.subarray(t * m, (t + 1) * m), db0.subarray(t * m, (t + 1) * m), `${what}: unused node ${t} dc`);
      }
    }
  });

  test(`${label}: groupedForward over leaves-only routing uses leaf tables 0..2^k−1`, () => {
    use();
    const rng = new Rng(25);
    for (let k = 1; k <= 3; k++) {
      const m = 3, s = 5, N = 9, nLeaves = 2 ** k;
      const leaves = Array.from({ length: N }, () => rng.int(nLeaves));
      const rt = new Routing();
      rt.leaf = Int32Array.from(leaves);
      rt.sort(N, k, true);
      const xs = randomArray(rng, N * s), w = randomArray(rng, nLeaves * m * s), bias = randomArray(rng, nLeaves * m);
      const ys = new Float32Array(N * m);
      be.groupedForward(rt, xs, s, w, bias, m, ys);
      const ref = new Float64Array(N * m);
      for (let r = 0; r < N; r++) {
        const L = leaves[rt.perm[r]];
        for (let j = 0; j < m; j++) {
          let acc = bias[L * m + j];
          for (let p = 0; p < s; p++) acc += w[(L * m + j) * s + p] * xs[r * s + p];
          ref[r * m + j] = acc;
        }
      }
      assertClose(ys, ref, TOL, `groupedForward leaves-only k=${k}`);
    }
  });

  test(`${label}: packNodes into out (a view at an offset) = packNodes alone, leaf by leaf = all at once; the packed tables' forward = the plain tables'`, () => {
    use();
    const rng = new Rng(26);
    // widths around the native panel (16 floats on AVX-512, 8 on AVX2) and odd ones; one table and several
    for (const [T, m, s] of [[1, 1, 1], [2, 3, 5], [4, 7, 3], [4, 15, 9], [2, 16, 16], [4, 17, 13], [8, 33, 7], [2, 130, 9]]) { // T = 2^k leaf tables
      const w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m), per = be.packedFloats(m, s);
      const what = `T=${T} m=${m} s=${s}`;
      assert.ok(Number.isInteger(per) && per >= m * s, `${what}: packedFloats ${per}`);
      const alone = be.packNodes(w, T, m, s);
      // out: a view into a larger array, between guards that must stay as they were
      const guard = 5, big = randomArray(rng, T * per + 2 * guard), before = big.slice();
      const out = big.subarray(guard, guard + T * per);
      const got = be.packNodes(w, T, m, s, out);
      assert.equal(got, out, `${what}: packNodes(…, out) returns out`);
      assertBitEqual(out, alone.subarray(0, T * per), `${what}: into out against alone`);
      assertBitEqual(big.subarray(0, guard), before.subarray(0, guard), `${what}: the floats before out`);
      assertBitEqual(big.subarray(guard + T * per), before.subarray(guard + T * per), `${what}: the floats after out`);
      // a layer rebuilding its leaf tables one at a time (src/layers/tree.ts)
      const oneByOne = new Float32Array(T * per);
      for (let t = 0; t < T; t++) be.packNodes(w.subarray(t * m * s, (t + 1) * m * s), 1, m, s, oneByOne.subarray(t * per, (t + 1) * per));
      assertBitEqual(oneByOne, out, `${what}: leaf by leaf against all at once`);
      // the packed tables read with packed set give the plain tables' forward (a leaves-only routing, k = log2 T)
      const k = Math.log2(T), N = 2 * T + 1, leaves = Array.from({ length: N }, () => rng.int(T));
      const rt = new Routing();
      rt.leaf = Int32Array.from(leaves);
      rt.sort(N, k, true);
      const xs = randomArray(rng, N * s), plain = randomArray(rng, N * m), viaPacked = plain.slice();
      be.groupedForward(rt, xs, s, w, bias, m, plain);
      be.groupedForward(rt, xs, s, out, bias, m, viaPacked, true);
      assertClose(viaPacked, plain, TOL, `${what}: groupedForward over the packed tables`);
      const n = s + 3, x = randomArray(rng, N * n), y0 = randomArray(rng, N * m);
      for (const accumulate of [false, true]) {
        const [yPlain, yPacked] = [y0.slice(), y0.slice()];
        be.routedForward(rt, x, n, 1, new Float32Array(N * s), s, w, bias, m, new Float32Array(N * m), yPlain, accumulate);
        be.routedForward(rt, x, n, 1, new Float32Array(N * s), s, oneByOne, bias, m, new Float32Array(N * m), yPacked, accumulate, true);
        assertClose(yPacked, yPlain, TOL, `${what}: routedForward over the packed tables, accumulate=${accumulate}`);
      }
    }
  });
}
