/**
 * Packed, register-blocked f32 GEMM with WebAssembly SIMD128 (f32x4).
 *
 *   C(i, j) (+)= Σ_p A(i, p) · B(p, j)     i < M, j < N, p < K
 *   A(i, p) = a[i*ars + p*acs]   B(p, j) = b[p*brs + j*bcs]   C(i, j) = c[i*crs + j]
 *
 * Pointers are byte addresses in linear memory, strides are in elements.
 * Goto/BLIS structure: B is packed once into NR-column panels (all of K, in
 * KC-deep blocks), A into MR-row panels per MC×KC block; one MR×NR micro-kernel
 * with f32x4 accumulators serves every layout. Sums accumulate in float32
 * (rounded into C after every KC block).
 */

// 8×8 (16 f32x4 accumulators) measured fastest under V8 on x64 among 4×8, 5×8, 6×8, 7×8, 8×8 (KC 128–512);
// the micro-kernel below is written out for MR = 8 and NR = 8.
export const MR: i32 = 8;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 128; // multiple of MR

/** Below this many rows the unpacked kernels are used (packing B would cost as much as the product). */
export const SMALL_M: i32 = 8;

// @ts-ignore: decorator
@inline function roundUp(x: i32, q: i32): i32 {
  return ((x + q - 1) / q) * q;
}

/** Bytes of the packed-B buffer for a K×N operand. */
// @ts-ignore: decorator
@inline export function packedBBytes(N: i32, K: i32): usize {
  return <usize>K * <usize>roundUp(N, NR) * 4;
}

/** Scratch bytes gemm needs: a tile, a packed A block and the packed B. */
export function gemmScratchBytes(M: i32, N: i32, K: i32): usize {
  return 256 + <usize>(MC * KC * 4) + 64 + packedBBytes(N, K);
}

/**
 * Packs B (K×N, strides brs, bcs) as: for each KC block pc, for each NR panel jr,
 * kc×NR floats (row p of the panel = B(pc+p, jr..jr+NR), zero-padded past N).
 * Block (pc, jr) starts at float (pc·Npad + jr·kc).
 */
export function packB(K: i32, N: i32, b: usize, brs: i32, bcs: i32, dst: usize): void {
  const Npad = roundUp(N, NR);
  const zero = f32x4.splat(0);
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    for (let jr = 0; jr < Npad; jr += NR) {
      const nr = min(NR, N - jr);
      let d = dst + ((<usize>pc * Npad + <usize>jr * kc) << 2);
      if (nr == NR && bcs == 1) {
        let s = b + ((<usize>pc * brs + jr) << 2);
        const step = <usize>brs << 2;
        for (let p = 0; p < kc; p++) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
          s += step;
          d += 32;
        }
      } else if (nr == NR && brs == 1) {
        // transposing: column j of the panel is contiguous in memory
        const cs = <usize>bcs << 2;
        let s = b + ((<usize>jr * bcs + pc) << 2);
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          // 4 rows × 8 columns via 4×4 transposes
          for (let h = 0; h < 2; h++) {
            const s0 = s + <usize>(h * 4) * cs;
            const r0 = v128.load(s0), r1 = v128.load(s0 + cs), r2 = v128.load(s0 + 2 * cs), r3 = v128.load(s0 + 3 * cs);
            // r_j = column j values at p..p+3; want rows p..p+3 across j
            const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
            const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
            const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
            const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
            const dd = d + (<usize>h << 4);
            v128.store(dd, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
            v128.store(dd, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
            v128.store(dd, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
            v128.store(dd, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
          }
          s += 16;
          d += 128;
        }
        for (; p < kc; p++) {
          for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + <usize>j * cs));
          s += 4;
          d += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          v128.store(d, zero);
          v128.store(d, zero, 16);
          const row = b + (<usize>(pc + p) * brs << 2);
          for (let j = 0; j < nr; j++) store<f32>(d + (<usize>j << 2), load<f32>(row + (<usize>(jr + j) * bcs << 2)));
          d += 32;
        }
      }
    }
  }
}

/** Packs the mc×kc block of A at (i0, p0) into MR-row panels: panel ir holds kc×MR floats, row p = A(i0+ir.., p0+p). */
export function packA(mc: i32, kc: i32, a: usize, ars: i32, acs: i32, i0: i32, p0: i32, dst: usize): void {
  const pstride = <usize>MR << 2; // bytes per packed row p
  let d = dst;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const base = a + ((<usize>(i0 + ir) * ars + <usize>p0 * acs) << 2);
    if (mr == MR && ars == 1) {
      // A(i.., p) contiguous: copy MR floats per p
      let s = base, dd = d;
      const step = <usize>acs << 2;
      for (let p = 0; p < kc; p++) {
        let q = 0;
        for (; q + 4 <= MR; q += 4) v128.store(dd + (<usize>q << 2), v128.load(s + (<usize>q << 2)));
        for (; q < MR; q++) store<f32>(dd + (<usize>q << 2), load<f32>(s + (<usize>q << 2)));
        s += step;
        dd += pstride;
      }
    } else if (mr == MR && acs == 1) {
      // rows contiguous along p: 4×4 transposes for groups of 4 rows, scalar for the rest
      const rs = <usize>ars << 2;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const dp = d + <usize>p * pstride;
        const sp = base + (<usize>p << 2);
        let q = 0;
        for (; q + 4 <= MR; q += 4) {
          const s0 = sp + <usize>q * rs;
          const r0 = v128.load(s0), r1 = v128.load(s0 + rs), r2 = v128.load(s0 + 2 * rs), r3 = v128.load(s0 + 3 * rs);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const dq = dp + (<usize>q << 2);
          v128.store(dq, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(dq + pstride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(dq + 2 * pstride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(dq + 3 * pstride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
        for (; q < MR; q++) {
          const r = v128.load(sp + <usize>q * rs);
          const dq = dp + (<usize>q << 2);
          store<f32>(dq, f32x4.extract_lane(r, 0));
          store<f32>(dq + pstride, f32x4.extract_lane(r, 1));
          store<f32>(dq + 2 * pstride, f32x4.extract_lane(r, 2));
          store<f32>(dq + 3 * pstride, f32x4.extract_lane(r, 3));
        }
      }
      for (; p < kc; p++) {
        const dp = d + <usize>p * pstride;
        const sp = base + (<usize>p << 2);
        for (let q = 0; q < MR; q++) store<f32>(dp + (<usize>q << 2), load<f32>(sp + <usize>q * rs));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const col = base + (<usize>p * acs << 2);
        const dp = d + <usize>p * pstride;
        for (let ii = 0; ii < MR; ii++) {
          store<f32>(dp + (<usize>ii << 2), ii < mr ? load<f32>(col + (<usize>ii * ars << 2)) : 0);
        }
      }
    }
    d += <usize>kc * pstride;
  }
}

/**
 * MR×NR micro-kernel: acc = Σ_p pa[p]ᵀ pb[p]; C = acc (+ C when beta). Tiles cut
 * by the edges of C (mr < MR or nr < NR) go through `tmp`. (Generated for MR = 8, unrolled ×1.)
 */
function micro(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, beta: bool, mr: i32, nr: i32, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  let c60 = f32x4.splat(0), c61 = f32x4.splat(0);
  let c70 = f32x4.splat(0), c71 = f32x4.splat(0);
  let p = 0;
  for (; p < kc; p++) {
    let b0: v128, b1: v128, a: v128;
    b0 = v128.load(pb, 0); b1 = v128.load(pb, 16);
    a = v128.load32_splat(pa, 0);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 16);
    c40 = f32x4.add(c40, f32x4.mul(a, b0)); c41 = f32x4.add(c41, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 20);
    c50 = f32x4.add(c50, f32x4.mul(a, b0)); c51 = f32x4.add(c51, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 24);
    c60 = f32x4.add(c60, f32x4.mul(a, b0)); c61 = f32x4.add(c61, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 28);
    c70 = f32x4.add(c70, f32x4.mul(a, b0)); c71 = f32x4.add(c71, f32x4.mul(a, b1));
    pa += 32;
    pb += 32;
  }
  if (mr == MR && nr == NR) {
    let r = c;
    if (beta) {
      v128.store(r, f32x4.add(v128.load(r), c00)); v128.store(r, f32x4.add(v128.load(r, 16), c01), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c10)); v128.store(r, f32x4.add(v128.load(r, 16), c11), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c20)); v128.store(r, f32x4.add(v128.load(r, 16), c21), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c30)); v128.store(r, f32x4.add(v128.load(r, 16), c31), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c40)); v128.store(r, f32x4.add(v128.load(r, 16), c41), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c50)); v128.store(r, f32x4.add(v128.load(r, 16), c51), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c60)); v128.store(r, f32x4.add(v128.load(r, 16), c61), 16); r += ldc;
      v128.store(r, f32x4.add(v128.load(r), c70)); v128.store(r, f32x4.add(v128.load(r, 16), c71), 16);
    } else {
      v128.store(r, c00); v128.store(r, c01, 16); r += ldc;
      v128.store(r, c10); v128.store(r, c11, 16); r += ldc;
      v128.store(r, c20); v128.store(r, c21, 16); r += ldc;
      v128.store(r, c30); v128.store(r, c31, 16); r += ldc;
      v128.store(r, c40); v128.store(r, c41, 16); r += ldc;
      v128.store(r, c50); v128.store(r, c51, 16); r += ldc;
      v128.store(r, c60); v128.store(r, c61, 16); r += ldc;
      v128.store(r, c70); v128.store(r, c71, 16);
    }
    return;
  }
  v128.store(tmp, c00, 0); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128); v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160); v128.store(tmp, c51, 176);
  v128.store(tmp, c60, 192); v128.store(tmp, c61, 208);
  v128.store(tmp, c70, 224); v128.store(tmp, c71, 240);
  for (let i = 0; i < mr; i++) {
    const r = c + <usize>i * ldc, t = tmp + (<usize>i << 5);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(t + o);
      store<f32>(r + o, beta ? load<f32>(r + o) + v : v);
    }
  }
}

/** C (+)= A · B with B already packed by packB (all of K and N). `scratch` holds the tile and one packed A block. */
export function gemmPackedB(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, pB: usize,
  c: usize, crs: i32, accumulate: bool, scratch: usize): void {
  const Npad = roundUp(N, NR);
  const tmp = scratch, pA = scratch + 256;
  const ldc = <usize>crs << 2;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const beta = accumulate || pc > 0;
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      packA(mc, kc, a, ars, acs, ic, pc, pA);
      for (let jr = 0; jr < N; jr += NR) {
        const nr = min(NR, N - jr);
        const pb = pB + ((<usize>pc * Npad + <usize>jr * kc) << 2);
        let cc = c + ((<usize>ic * crs + jr) << 2);
        let pa = pA;
        for (let ir = 0; ir < mc; ir += MR) {
          micro(kc, pa, pb, cc, ldc, beta, min(MR, mc - ir), nr, tmp);
          pa += <usize>kc * MR << 2;
          cc += ldc * MR;
        }
      }
    }
  }
}

/** Sets (or leaves, when accumulating) C for K = 0. */
function zeroC(M: i32, N: i32, c: usize, crs: i32): void {
  for (let i = 0; i < M; i++) memory.fill(c + (<usize>i * crs << 2), 0, <usize>N << 2);
}

/**
 * Few rows: no packing. Row-major B (bcs = 1): C rows built as axpy over B's rows;
 * B stored transposed (brs = 1): dot products along K; otherwise scalar.
 */
export function gemmSmallM(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32,
  c: usize, crs: i32, accumulate: bool): void {
  for (let i = 0; i < M; i++) {
    const arow = a + (<usize>i * ars << 2), crow = c + (<usize>i * crs << 2);
    const astep = <usize>acs << 2;
    if (bcs == 1) {
      // C row (+)= Σ_p A(i, p) B(p, :), four rows of B at a time, streaming them contiguously
      const bstep = <usize>brs << 2;
      if (!accumulate) memory.fill(crow, 0, <usize>N << 2);
      let p = 0;
      for (; p + 4 <= K; p += 4) {
        const pa = arow + <usize>p * astep;
        const x0 = v128.load32_splat(pa), x1 = v128.load32_splat(pa + astep);
        const x2 = v128.load32_splat(pa + 2 * astep), x3 = v128.load32_splat(pa + 3 * astep);
        const b0 = b + <usize>p * bstep, b1 = b0 + bstep, b2 = b1 + bstep, b3 = b2 + bstep;
        let j = 0;
        for (; j + 4 <= N; j += 4) {
          const o = <usize>j << 2;
          const t = f32x4.add(f32x4.add(f32x4.mul(x0, v128.load(b0 + o)), f32x4.mul(x1, v128.load(b1 + o))),
            f32x4.add(f32x4.mul(x2, v128.load(b2 + o)), f32x4.mul(x3, v128.load(b3 + o))));
          v128.store(crow + o, f32x4.add(v128.load(crow + o), t));
        }
        for (; j < N; j++) {
          const o = <usize>j << 2;
          const t = (f32x4.extract_lane(x0, 0) * load<f32>(b0 + o) + f32x4.extract_lane(x1, 0) * load<f32>(b1 + o)) +
            (f32x4.extract_lane(x2, 0) * load<f32>(b2 + o) + f32x4.extract_lane(x3, 0) * load<f32>(b3 + o));
          store<f32>(crow + o, load<f32>(crow + o) + t);
        }
      }
      for (; p < K; p++) {
        const x = v128.load32_splat(arow + <usize>p * astep);
        const b0 = b + <usize>p * bstep;
        let j = 0;
        for (; j + 4 <= N; j += 4) {
          const o = <usize>j << 2;
          v128.store(crow + o, f32x4.add(v128.load(crow + o), f32x4.mul(x, v128.load(b0 + o))));
        }
        for (; j < N; j++) {
          const o = <usize>j << 2;
          store<f32>(crow + o, load<f32>(crow + o) + f32x4.extract_lane(x, 0) * load<f32>(b0 + o));
        }
      }
    } else if (brs == 1 && acs == 1) {
      const cs = <usize>bcs << 2;
      let j = 0;
      for (; j + 4 <= N; j += 4) {
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let pa = arow, pb = b + (<usize>j * cs);
        let p = 0;
        for (; p + 4 <= K; p += 4) {
          const x = v128.load(pa);
          s0 = f32x4.add(s0, f32x4.mul(x, v128.load(pb)));
          s1 = f32x4.add(s1, f32x4.mul(x, v128.load(pb + cs)));
          s2 = f32x4.add(s2, f32x4.mul(x, v128.load(pb + 2 * cs)));
          s3 = f32x4.add(s3, f32x4.mul(x, v128.load(pb + 3 * cs)));
          pa += 16;
          pb += 16;
        }
        // horizontal sums: transpose-add
        const u0 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 1, 5), v128.shuffle<f32>(s0, s1, 2, 6, 3, 7));
        const u1 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 1, 5), v128.shuffle<f32>(s2, s3, 2, 6, 3, 7));
        let r = f32x4.add(v128.shuffle<f32>(u0, u1, 0, 1, 4, 5), v128.shuffle<f32>(u0, u1, 2, 3, 6, 7));
        for (; p < K; p++) {
          const x = f32x4.splat(load<f32>(pa));
          const col = f32x4(load<f32>(pb), load<f32>(pb + cs), load<f32>(pb + 2 * cs), load<f32>(pb + 3 * cs));
          r = f32x4.add(r, f32x4.mul(x, col));
          pa += 4;
          pb += 4;
        }
        const o = crow + (<usize>j << 2);
        if (accumulate) r = f32x4.add(r, v128.load(o));
        v128.store(o, r);
      }
      for (; j < N; j++) {
        let s0 = f32x4.splat(0);
        let pa = arow, pb = b + (<usize>j * cs);
        let p = 0;
        for (; p + 4 <= K; p += 4) {
          s0 = f32x4.add(s0, f32x4.mul(v128.load(pa), v128.load(pb)));
          pa += 16;
          pb += 16;
        }
        let s = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + (f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3));
        for (; p < K; p++) {
          s += load<f32>(pa) * load<f32>(pb);
          pa += 4;
          pb += 4;
        }
        const o = crow + (<usize>j << 2);
        store<f32>(o, accumulate ? load<f32>(o) + s : s);
      }
    } else {
      const bj = <usize>bcs << 2, bp = <usize>brs << 2;
      for (let j = 0; j < N; j++) {
        let s: f32 = 0;
        let pa = arow, pb = b + <usize>j * bj;
        for (let p = 0; p < K; p++) {
          s += load<f32>(pa) * load<f32>(pb);
          pa += astep;
          pb += bp;
        }
        const o = crow + (<usize>j << 2);
        store<f32>(o, accumulate ? load<f32>(o) + s : s);
      }
    }
  }
}

/** General entry: C (+)= A · B over strided operands; `scratch` must hold gemmScratchBytes(M, N, K). */
export function gemm(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32,
  c: usize, crs: i32, accumulate: bool, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) zeroC(M, N, c, crs);
    return;
  }
  if (M < SMALL_M) {
    gemmSmallM(M, N, K, a, ars, acs, b, brs, bcs, c, crs, accumulate);
    return;
  }
  const pB = (scratch + 256 + <usize>(MC * KC * 4) + 63) & ~<usize>63;
  packB(K, N, b, brs, bcs, pB);
  gemmPackedB(M, N, K, a, ars, acs, pB, c, crs, accumulate, scratch);
}
