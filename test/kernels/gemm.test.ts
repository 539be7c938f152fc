/**
 * Matrix products of every kernel backend that loads here (js; wasm and native, each on 1 and 2 threads; wasm's plain module)
 * against an inline naive triple loop (float64), over a table of shapes: degenerate (0 rows or columns, 1,
 * K = 0), odd, not multiples of the 2×4 register block, and larger cases that pass the threads' threshold; with
 * and without accumulation and at nonzero offsets. Elements outside C's window must stay bit-identical (no writes
 * past the rows/columns asked for).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setBackend } from '../../src/kernels/backend.js';
import { kernelVariants } from '../kernel-backends.js';
import { assertBitEqual, assertClose, randomArray, Rng } from '../helpers.js';

/** [M, N, K] */
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 1, 0], [3, 5, 0], [1, 7, 5], [7, 1, 5], [5, 7, 1], [1, 1, 9],
  [2, 4, 3], [4, 8, 2], [3, 5, 7], [5, 3, 2], [6, 9, 11], [9, 6, 4], [2, 3, 1], [13, 4, 3], [37, 65, 129],
  [0, 3, 4], [3, 0, 4], [0, 0, 0],
  // past 2^20 multiply-adds, where the fast backends split a product between threads (and a ragged split)
  [150, 70, 129], [9, 301, 403],
  // M ≥ 128 and N ≥ M: native's NT and NN products split by chunks of columns (products.cc), with a ragged last chunk
  [160, 200, 33],
  // a last group of columns one short of a whole vector or register tile, where a tile written whole would store one
  // column past N (into the next row of C): native's NT panel tiles (panelRows, 17–24 rows; 2·W columns a tile: a
  // last tile of 31 − 0, 15 or 7 columns under AVX-512, AVX2, generic) and the TN form's packed tiles (M ≥ 32);
  // its NT broadcast tiles (broadcastRows, W lanes of rows: one block of rows with a last group of W − 1 columns,
  // 13 rows under AVX-512 and 7 under AVX2; two blocks with a last group of W/2 + 1 columns, split as W/2 and 1,
  // 28 rows and 25 columns under AVX-512, 14 and 13 under AVX2)
  [20, 31, 5], [40, 31, 5], [13, 15, 7], [7, 15, 4], [28, 25, 6], [14, 13, 5],
];

/** C(i, j) = [C(i, j) +] Σ_p A(i, p)·B(p, j), float64 sums rounded once: the definition in src/kernels/gemm.ts. */
function naive(M: number, N: number, K: number,
  a: Float32Array, ao: number, ars: number, acs: number,
  b: Float32Array, bo: number, brs: number, bcs: number,
  c: Float32Array, co: number, crs: number, accumulate: boolean): Float32Array {
  const out = c.slice();
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += a[ao + i * ars + p * acs] * b[bo + p * brs + j * bcs];
      out[co + i * crs + j] = accumulate ? c[co + i * crs + j] + s : s;
    }
  }
  return out;
}


/** Float32 sums of K products of normals: the kernels may reorder them, so allow ~K ulps of the magnitudes. */
function tolFor(K: number): { rtol: number; atol: number } {
  return { rtol: 1e-5, atol: 1e-6 * Math.max(1, K) };
}

type Variant = 'NT' | 'NN' | 'TN';

/** Strides of A (M×K) and B (K×N) as each variant stores them (src/kernels/gemm.ts doc comments). */
function layout(v: Variant, M: number, N: number, K: number): { ars: number; acs: number; brs: number; bcs: number } {
  switch (v) {
    case 'NT': return { ars: K, acs: 1, brs: 1, bcs: K }; // A (M, K), B stored (N, K)
    case 'NN': return { ars: K, acs: 1, brs: N, bcs: 1 }; // A (M, K), B stored (K, N)
    case 'TN': return { ars: 1, acs: M, brs: N, bcs: 1 }; // A stored (K, M), B stored (K, N)
  }
}

for (const { be, label, use } of kernelVariants()) {
  for (const v of ['NT', 'NN', 'TN'] as const) {
    test(`${label}: gemm${v} matches the naive loop over the shape table (offsets, accumulate on/off)`, () => {
    use();
      const rng = new Rng(101);
      const fn = v === 'NT' ? be.gemmNT : v === 'NN' ? be.gemmNN : be.gemmTN;
      for (const [M, N, K] of SHAPES) {
        for (const [ao, bo, co] of [[0, 0, 0], [3, 5, 7]]) {
          for (const accumulate of [false, true]) {
            const { ars, acs, brs, bcs } = layout(v, M, N, K);
            // padding before (the offset) and after each operand: reads must stay inside, writes inside C's window
            const a = randomArray(rng, ao + M * K + 4);
            const b = randomArray(rng, bo + K * N + 4);
            const c = randomArray(rng, co + M * N + 4);
            const expected = naive(M, N, K, a, ao, ars, acs, b, bo, brs, bcs, c, co, N, accumulate);
            const aCopy = a.slice(), bCopy = b.slice();
            fn(M, N, K, a, ao, b, bo, c, co, accumulate);
            const what = `gemm${v} M=${M} N=${N} K=${K} offsets=${ao},${bo},${co} accumulate=${accumulate}`;
            assertClose(c.subarray(co, co + M * N), expected.subarray(co, co + M * N), tolFor(K), what);
            assertBitEqual(c.subarray(0, co), expected.subarray(0, co), `${what}: C before the offset`);
            assertBitEqual(c.subarray(co + M * N), expected.subarray(co + M * N), `${what}: C after the window`);
            assertBitEqual(a, aCopy, `${what}: A unchanged`);
            assertBitEqual(b, bCopy, `${what}: B unchanged`);
          }
        }
      }
    });
  }

  test(`${label}: K = 0 gives exact zeros, or leaves C unchanged when accumulating`, () => {
    use();
    const rng = new Rng(7);
    for (const fn of [be.gemmNT, be.gemmNN, be.gemmTN]) {
      for (const [M, N] of [[1, 1], [3, 5], [4, 8], [7, 9]]) {
        const c = randomArray(rng, M * N);
        const before = c.slice();
        fn(M, N, 0, new Float32Array(0), 0, new Float32Array(0), 0, c, 0, true);
        assertBitEqual(c, before, `K=0 accumulate M=${M} N=${N}`);
        fn(M, N, 0, new Float32Array(0), 0, new Float32Array(0), 0, c, 0, false);
        assertBitEqual(c, new Float32Array(M * N), `K=0 overwrite M=${M} N=${N}`);
      }
    }
  });

  test(`${label}: gemmStrided with general strides and a padded C row stride`, () => {
    use();
    const rng = new Rng(202);
    for (const [M, N, K] of SHAPES) {
      for (const accumulate of [false, true]) {
        for (const view of ['general', 'a block of columns'] as const) {
          // general: A (M, K) a column-major view with row padding, A(i, p) = a[ao + i·1 + p·(M + 2)]; B every other
          // element of a (K, 2N + 1) row-major buffer, B(p, j) = b[bo + p·(2N + 1) + 2j]; C's rows padded by 3
          // a block of columns: A(i, p) = a[ao + i·(K + 5) + p], K of each row's K + 5 columns (a tree layer's
          // projection gating reads its block of x so, blocks > 1), B (N, K) row-major as gemmNT reads it, C dense
          const [ao, ars, acs, bo, brs, bcs, co, crs] = view === 'general'
            ? [2, 1, M + 2, 1, 2 * N + 1, 2, 5, N + 3]
            : [3, K + 5, 1, 0, 1, K, 0, N];
          const a = randomArray(rng, ao + Math.max(M * ars, K * acs) + 3);
          const b = randomArray(rng, bo + Math.max(K * brs, N * bcs) + 3);
          const c = randomArray(rng, co + M * crs + 3);
          const expected = naive(M, N, K, a, ao, ars, acs, b, bo, brs, bcs, c, co, crs, accumulate);
          be.gemmStrided(M, N, K, a, ao, ars, acs, b, bo, brs, bcs, c, co, crs, accumulate);
          const what = `gemmStrided (${view}) M=${M} N=${N} K=${K} accumulate=${accumulate}`;
          // The window elements against the reference, everything else bit-identical.
          const inWindow = new Uint8Array(c.length);
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) inWindow[co + i * crs + j] = 1;
          const win: number[] = [], winRef: number[] = [];
          for (let e = 0; e < c.length; e++) {
            if (inWindow[e]) { win.push(c[e]); winRef.push(expected[e]); }
            else if (!Object.is(c[e], expected[e])) assert.fail(`${what}: element ${e} outside the C window changed from ${expected[e]} to ${c[e]}`);
          }
          assertClose(win, winRef, tolFor(K), what);
        }
      }
    }
  });

  test(`${label}: gemmNT/NN/TN agree with explicitly transposed operands`, () => {
    use();
    // The three variants compute the same product of the same logical matrices.
    const rng = new Rng(303);
    const M = 5, N = 7, K = 6;
    const A = randomArray(rng, M * K); // (M, K)
    const Bkn = randomArray(rng, K * N); // (K, N)
    const Bnk = new Float32Array(N * K); // (N, K) = Bknᵀ
    for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) Bnk[j * K + p] = Bkn[p * N + j];
    const Akm = new Float32Array(K * M); // (K, M) = Aᵀ
    for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) Akm[p * M + i] = A[i * K + p];
    const cNT = new Float32Array(M * N), cNN = new Float32Array(M * N), cTN = new Float32Array(M * N);
    be.gemmNT(M, N, K, A, 0, Bnk, 0, cNT, 0, false);
    be.gemmNN(M, N, K, A, 0, Bkn, 0, cNN, 0, false);
    be.gemmTN(M, N, K, Akm, 0, Bkn, 0, cTN, 0, false);
    assertClose(cNN, cNT, tolFor(K), 'gemmNN vs gemmNT');
    assertClose(cTN, cNT, tolFor(K), 'gemmTN vs gemmNT');
  });
}

test('js: large magnitudes cancel exactly (float64 accumulation, one rounding on store)', () => {
  const be = setBackend('js');
  const a = new Float32Array([1e30, -1e30, 3]);
  const b = new Float32Array([1e8, 1e8, 2]);
  const c = new Float32Array(1);
  // (1×3)·(3×1): 1e38 − 1e38 + 6
  be.gemmNN(1, 1, 3, a, 0, b, 0, c, 0, false);
  assert.equal(c[0], 6);
});
