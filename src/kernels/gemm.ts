/**
 * Plain TypeScript matrix products: the specification every fast kernel is
 * checked against. One strided kernel covers the three variants training needs.
 *
 *   C(i, j) (+)= Σ_p A(i, p) · B(p, j)     i < M, j < N, p < K
 *   A(i, p) = a[ao + i*ars + p*acs]
 *   B(p, j) = b[bo + p*brs + j*bcs]
 *   C(i, j) = c[co + i*crs + j]
 *
 * Sums accumulate in float64 (JS numbers) and round to float32 once, on store.
 * A 2×4 block of C lives in locals so that each loaded value is used 2–4 times.
 */
export function gemmStrided(
  M: number, N: number, K: number,
  a: Float32Array, ao: number, ars: number, acs: number,
  b: Float32Array, bo: number, brs: number, bcs: number,
  c: Float32Array, co: number, crs: number,
  accumulate: boolean,
): void {
  const M2 = M - (M % 2);
  const N4 = N - (N % 4);
  for (let i = 0; i < M2; i += 2) {
    const a0Row = ao + i * ars;
    const a1Row = a0Row + ars;
    const c0 = co + i * crs;
    const c1 = c0 + crs;
    for (let j = 0; j < N4; j += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let pa0 = a0Row, pa1 = a1Row;
      let pb = bo + j * bcs;
      for (let p = 0; p < K; p++) {
        const x0 = a[pa0], x1 = a[pa1];
        const y0 = b[pb], y1 = b[pb + bcs], y2 = b[pb + 2 * bcs], y3 = b[pb + 3 * bcs];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        pa0 += acs; pa1 += acs; pb += brs;
      }
      if (accumulate) {
        c[c0 + j] += s00; c[c0 + j + 1] += s01; c[c0 + j + 2] += s02; c[c0 + j + 3] += s03;
        c[c1 + j] += s10; c[c1 + j + 1] += s11; c[c1 + j + 2] += s12; c[c1 + j + 3] += s13;
      } else {
        c[c0 + j] = s00; c[c0 + j + 1] = s01; c[c0 + j + 2] = s02; c[c0 + j + 3] = s03;
        c[c1 + j] = s10; c[c1 + j + 1] = s11; c[c1 + j + 2] = s12; c[c1 + j + 3] = s13;
      }
    }
    for (let j = N4; j < N; j++) {
      let s0 = 0, s1 = 0;
      let pa0 = a0Row, pa1 = a1Row, pb = bo + j * bcs;
      for (let p = 0; p < K; p++) {
        const y = b[pb];
        s0 += a[pa0] * y; s1 += a[pa1] * y;
        pa0 += acs; pa1 += acs; pb += brs;
      }
      if (accumulate) { c[c0 + j] += s0; c[c1 + j] += s1; } else { c[c0 + j] = s0; c[c1 + j] = s1; }
    }
  }
  if (M2 < M) {
    const aRow = ao + M2 * ars;
    const c0 = co + M2 * crs;
    for (let j = 0; j < N; j++) {
      let s = 0;
      let pa = aRow, pb = bo + j * bcs;
      for (let p = 0; p < K; p++) {
        s += a[pa] * b[pb];
        pa += acs; pb += brs;
      }
      if (accumulate) c[c0 + j] += s; else c[c0 + j] = s;
    }
  }
}

/** C (M×N) (+)= A (M×K) · B (N×K)ᵀ — forward of y = W x with W stored (out, in). */
export function gemmNT(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
  c: Float32Array, co: number, accumulate: boolean): void {
  gemmStrided(M, N, K, a, ao, K, 1, b, bo, 1, K, c, co, N, accumulate);
}

/** C (M×N) (+)= A (M×K) · B (K×N) — input gradient dX = dY W. */
export function gemmNN(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
  c: Float32Array, co: number, accumulate: boolean): void {
  gemmStrided(M, N, K, a, ao, K, 1, b, bo, N, 1, c, co, N, accumulate);
}

/** C (M×N) (+)= A (K×M)ᵀ · B (K×N) — weight gradient dW = dYᵀ X. */
export function gemmTN(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
  c: Float32Array, co: number, accumulate: boolean): void {
  gemmStrided(M, N, K, a, ao, 1, M, b, bo, N, 1, c, co, N, accumulate);
}
