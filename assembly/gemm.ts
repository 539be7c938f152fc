/**
 * Packed, register-blocked f32 GEMM with WebAssembly SIMD128 (f32x4).
 *
 *   C(i, j) (+)= Σ_p A(i, p) · B(p, j)     i < M, j < N, p < K
 *   A(i, p) = a[i*ars + p*acs]   B(p, j) = b[p*brs + j*bcs]   C(i, j) = c[i*crs + j]
 *
 * Pointers are byte addresses in linear memory, strides are in elements.
 * Goto/BLIS structure: B is packed once into NR-column panels (all of K, in
 * KC-deep blocks); A is read in place when its rows are contiguous along K
 * (acs = 1), else packed into MR-row panels per MC×KC block. One MR×NR
 * micro-kernel with f32x4 accumulators serves every layout. When both operands
 * are contiguous along K (C = A Wᵀ) and A is the smaller, the product is run as
 * Cᵀ = Wᵀᵀ Aᵀ instead, so that only A is packed (the tile is stored transposed).
 * Sums accumulate in float32 (rounded into C after every KC block); the order
 * depends only on the shapes and strides, so results are deterministic.
 */

// 4×8 (8 f32x4 accumulators): TurboFan schedules all of a loop body's loads first, so a k-step holds
// MR splats + NR/4 B vectors + MR·NR/4 accumulators live at once; on x64 15 xmm registers are
// allocatable, and every larger tile (5×8, 6×8, 8×8, 3×12, 4×12, and any K-unrolled body) spills
// accumulators to the stack, where their add chains run through store-to-load forwarding. Measured on
// Zen 4 with operands in L1: 4×8 and 2×16 ≈ 50 GFLOP/s, every spilling shape 21–37.
export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 512;
export const MC: i32 = 128; // multiple of MR

/** Below this many rows the unpacked kernels are used (packing B would cost as much as the product; see fewRows). */
export const SMALL_M: i32 = 8;

/** Multiply-adds that packing one float costs, roughly (a read, a shuffle, a write): weighs packing against padding. */
const PACK_COST: f64 = 8;

// @ts-ignore: decorator
@inline function roundUp(x: i32, q: i32): i32 {
  return ((x + q - 1) / q) * q;
}

// The two sizes below are for JavaScript, which sizes the arena: in f64, exact, where a usize wrapped past 4 GiB (and
// read as an i32, was negative past 2 GiB), so that a call too large for the memory reserved too little scratch.

/** Bytes of the packed-B buffer for a K×N operand. */
export function packedBBytes(N: i32, K: i32): f64 {
  return <f64>K * Math.ceil(<f64>N / <f64>NR) * <f64>NR * 4;
}

/** Scratch bytes gemm needs: a tile, a packed A block and the packed B (or the packed A of the transposed product, never wider). */
export function gemmScratchBytes(M: i32, N: i32, K: i32): f64 {
  return <f64>(256 + MC * KC * 4 + 64) + packedBBytes(N, K);
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

/**
 * Packs the mc×kc block of A at (i0, p0) into MR-row panels: panel ir holds kc×MR floats, row p = A(i0+ir.., p0+p).
 * Only for A not contiguous along K (acs ≠ 1); such an A is read in place.
 */
export function packA(mc: i32, kc: i32, a: usize, ars: i32, acs: i32, i0: i32, p0: i32, dst: usize): void {
  const pstride = <usize>MR << 2; // bytes per packed row p
  let d = dst;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const base = a + ((<usize>(i0 + ir) * ars + <usize>p0 * acs) << 2);
    if (mr == MR && ars == 1) {
      // A(i.., p) contiguous: one vector (MR = 4 floats) per p
      let s = base, dd = d;
      const step = <usize>acs << 2;
      for (let p = 0; p < kc; p++) {
        v128.store(dd, v128.load(s));
        s += step;
        dd += pstride;
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
 * MR×NR micro-kernel: tile = Σ_p a(p)ᵀ pb[p] over kc steps, written row-major (MR rows of NR floats)
 * to `t`. Row r of the A panel is read at a_r, a_r + astep, … (in place: astep = 4; packed: 4·MR), so
 * both the packed and the in-place A go through one loop; rows past the edge of A repeat row 0.
 */
function micro(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, astep: usize, pb: usize, t: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // one k-step per iteration: unrolling lets TurboFan hoist the next step's loads and spill (see MR)
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    a0 += astep; a1 += astep; a2 += astep; a3 += astep;
    pb += 32;
  }
  v128.store(t, c00, 0); v128.store(t, c01, 16);
  v128.store(t, c10, 32); v128.store(t, c11, 48);
  v128.store(t, c20, 64); v128.store(t, c21, 80);
  v128.store(t, c30, 96); v128.store(t, c31, 112);
}

/**
 * Writes the row-major MR×NR tile `t` (its top-left mr×nr part) to C, where tile element (r, j) lives at
 * c + r·rs + j·cs (byte strides): C = tile, or C += tile when beta. Full tiles of a row-major C (cs = 4)
 * and of a transposed one (rs = 4: each tile column is 4 consecutive floats) are written by vectors.
 */
function storeTile(t: usize, c: usize, rs: usize, cs: usize, mr: i32, nr: i32, beta: bool): void {
  if (mr == MR && nr == NR) {
    if (cs == 4) {
      for (let r: usize = 0; r < <usize>MR; r++) {
        const d = c + r * rs, s = t + (r << 5);
        let v0 = v128.load(s), v1 = v128.load(s, 16);
        if (beta) {
          v0 = f32x4.add(v128.load(d), v0);
          v1 = f32x4.add(v128.load(d, 16), v1);
        }
        v128.store(d, v0);
        v128.store(d, v1, 16);
      }
      return;
    }
    if (rs == 4) {
      for (let h: usize = 0; h < 2; h++) {
        const s = t + (h << 4);
        const r0 = v128.load(s), r1 = v128.load(s, 32), r2 = v128.load(s, 64), r3 = v128.load(s, 96);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const d = c + (h << 2) * cs;
        let q0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), q1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
        let q2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), q3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
        if (beta) {
          q0 = f32x4.add(v128.load(d), q0);
          q1 = f32x4.add(v128.load(d + cs), q1);
          q2 = f32x4.add(v128.load(d + 2 * cs), q2);
          q3 = f32x4.add(v128.load(d + 3 * cs), q3);
        }
        v128.store(d, q0);
        v128.store(d + cs, q1);
        v128.store(d + 2 * cs, q2);
        v128.store(d + 3 * cs, q3);
      }
      return;
    }
  }
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      const d = c + <usize>r * rs + <usize>j * cs;
      const v = load<f32>(t + (<usize>(r * NR + j) << 2));
      store<f32>(d, beta ? load<f32>(d) + v : v);
    }
  }
}

/**
 * C (+)= A · B with B already packed by packB (all of K and N); C(i, j) at c + (i·crs + j·ccs) floats.
 * `scratch` holds the tile and one packed A block (used only when A is not contiguous along K).
 */
export function gemmPackedB(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, pB: usize,
  c: usize, crs: i32, ccs: i32, accumulate: bool, scratch: usize): void {
  const Npad = roundUp(N, NR);
  const tmp = scratch, pA = scratch + 256;
  const rs = <usize>crs << 2, cs = <usize>ccs << 2;
  const inPlace = acs == 1;
  const ra = <usize>ars << 2;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const beta = accumulate || pc > 0;
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      if (!inPlace) packA(mc, kc, a, ars, acs, ic, pc, pA);
      for (let jr = 0; jr < N; jr += NR) {
        const nr = min(NR, N - jr);
        const pb = pB + ((<usize>pc * Npad + <usize>jr * kc) << 2);
        for (let ir = 0; ir < mc; ir += MR) {
          const mr = min(MR, mc - ir);
          let a0: usize, step: usize, astep: usize;
          if (inPlace) {
            a0 = a + ((<usize>(ic + ir) * ars + <usize>pc) << 2);
            step = ra;
            astep = 4;
          } else {
            a0 = pA + ((<usize>ir * kc) << 2);
            step = 4;
            astep = <usize>MR << 2;
          }
          const a1 = mr > 1 ? a0 + step : a0, a2 = mr > 2 ? a0 + 2 * step : a0, a3 = mr > 3 ? a0 + 3 * step : a0;
          micro(kc, a0, a1, a2, a3, astep, pb, tmp);
          storeTile(tmp, c + <usize>(ic + ir) * rs + <usize>jr * cs, rs, cs, mr, nr, beta);
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
 * Few rows, or a short sum over B's rows (unpacked): no packing. Row-major B (bcs = 1): C rows built as axpy over
 * B's rows (up to MR rows of C: axpyRows, B read once; else four rows of B at a time, C row by row); B stored
 * transposed (brs = 1): dot products along K; otherwise scalar.
 */
export function gemmSmallM(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32,
  c: usize, crs: i32, accumulate: bool): void {
  if (bcs == 1 && M <= MR) {
    axpyRows(M, N, K, a, ars, acs, b, brs, c, crs, accumulate);
    return;
  }
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

/**
 * C (+)= A B for up to MR rows of A and B's rows contiguous (bcs = 1), the input gradient of a node of few examples:
 * B row by row, each read once from memory (one read stream) and added into every row of C (in L1) scaled by A's
 * element: C(i, :) = (((C(i, :) + A(i, 0) B(0, :)) + A(i, 1) B(1, :)) + …). gemmSmallM's four-row form reads four
 * streams of B once per row of C: at a depth of 1–4 rows per 512×512 node this is 1.2–1.9× faster (development
 * program, the two builds alternating); from 5 rows slower (C is loaded and stored for every row of B).
 */
function axpyRows(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, c: usize, crs: i32,
  accumulate: bool): void {
  const astep = <usize>acs << 2, bstep = <usize>brs << 2, N4 = N & ~3;
  if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + (<usize>i * crs << 2), 0, <usize>N << 2);
  for (let p = 0; p < K; p++) {
    const bp = b + <usize>p * bstep;
    for (let i = 0; i < M; i++) {
      const pa = a + (<usize>i * ars << 2) + <usize>p * astep, crow = c + (<usize>i * crs << 2);
      const x = v128.load32_splat(pa), xs = load<f32>(pa);
      let j = 0;
      for (; j < N4; j += 4) {
        const o = <usize>j << 2;
        v128.store(crow + o, f32x4.add(v128.load(crow + o), f32x4.mul(x, v128.load(bp + o))));
      }
      for (; j < N; j++) {
        const o = <usize>j << 2;
        store<f32>(crow + o, load<f32>(crow + o) + xs * load<f32>(bp + o));
      }
    }
  }
}

/**
 * C(i, :) (+)= A(i, :) Wᵀ for a few rows of A (contiguous along K) against W (N×K, rows wrs floats apart) read in
 * place: W row by row, one read stream (from memory once, however many rows A has: reading two or four rows of W
 * at once ran 2–3× slower from memory here), each row's dot products with up to three rows of A at a time, so that
 * one load of W feeds three multiply-adds (A's rows stay in L1). Every dot product runs two f32x4 accumulators over
 * K in steps of 8 floats (one step of 4 into the first where K mod 8 ≥ 4), and its sum is s0 + s1 across lanes
 * 0 + 1 + 2 + 3, then the scalar tail: the same bits whatever M is and wherever the row falls in its group.
 * Against one row at a time (four accumulators, steps of 16), 512×512 nodes read from memory, one thread
 * (development program, the two interleaved): 1.1× at 2 rows, 1.2–1.35× at 3–7, the same at 1.
 */
export function rowsNT(M: i32, N: i32, K: i32, a: usize, ars: i32, w: usize, wrs: i32, c: usize, crs: i32,
  accumulate: bool): void {
  const wstep = <usize>wrs << 2, astep = <usize>ars << 2, cstep = <usize>crs << 2;
  const K8 = <usize>(K & ~7) << 2;
  for (let j = 0; j < N; j++) {
    const wj = w + <usize>j * wstep, cj = c + (<usize>j << 2);
    let i = 0;
    // groups of three rows, but four as two pairs
    for (; M - i >= 3 && M - i != 4; i += 3) {
      const a0 = a + <usize>i * astep, a1 = a0 + astep, a2 = a1 + astep;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0);
      for (let o: usize = 0; o < K8; o += 32) {
        const w0 = v128.load(wj + o), w1 = v128.load(wj + o, 16);
        s00 = f32x4.add(s00, f32x4.mul(v128.load(a0 + o), w0)); s01 = f32x4.add(s01, f32x4.mul(v128.load(a0 + o, 16), w1));
        s10 = f32x4.add(s10, f32x4.mul(v128.load(a1 + o), w0)); s11 = f32x4.add(s11, f32x4.mul(v128.load(a1 + o, 16), w1));
        s20 = f32x4.add(s20, f32x4.mul(v128.load(a2 + o), w0)); s21 = f32x4.add(s21, f32x4.mul(v128.load(a2 + o, 16), w1));
      }
      const ci = cj + <usize>i * cstep;
      putDot(ci, dotTail(s00, s01, a0, wj, K8, K), accumulate);
      putDot(ci + cstep, dotTail(s10, s11, a1, wj, K8, K), accumulate);
      putDot(ci + 2 * cstep, dotTail(s20, s21, a2, wj, K8, K), accumulate);
    }
    for (; M - i >= 2; i += 2) {
      const a0 = a + <usize>i * astep, a1 = a0 + astep;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      for (let o: usize = 0; o < K8; o += 32) {
        const w0 = v128.load(wj + o), w1 = v128.load(wj + o, 16);
        s00 = f32x4.add(s00, f32x4.mul(v128.load(a0 + o), w0)); s01 = f32x4.add(s01, f32x4.mul(v128.load(a0 + o, 16), w1));
        s10 = f32x4.add(s10, f32x4.mul(v128.load(a1 + o), w0)); s11 = f32x4.add(s11, f32x4.mul(v128.load(a1 + o, 16), w1));
      }
      const ci = cj + <usize>i * cstep;
      putDot(ci, dotTail(s00, s01, a0, wj, K8, K), accumulate);
      putDot(ci + cstep, dotTail(s10, s11, a1, wj, K8, K), accumulate);
    }
    if (i < M) {
      const a0 = a + <usize>i * astep;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      for (let o: usize = 0; o < K8; o += 32) {
        s0 = f32x4.add(s0, f32x4.mul(v128.load(a0 + o), v128.load(wj + o)));
        s1 = f32x4.add(s1, f32x4.mul(v128.load(a0 + o, 16), v128.load(wj + o, 16)));
      }
      putDot(cj + <usize>i * cstep, dotTail(s0, s1, a0, wj, K8, K), accumulate);
    }
  }
}

/** rowsNT's end of one dot product: the step of 4 past K8 bytes (if any) into s0, s0 + s1 across lanes, the scalar tail. */
// @ts-ignore: decorator
@inline function dotTail(s0: v128, s1: v128, ai: usize, wj: usize, K8: usize, K: i32): f32 {
  let o = K8;
  if ((K & 4) != 0) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(ai + o), v128.load(wj + o)));
    o += 16;
  }
  const r = f32x4.add(s0, s1);
  let s = f32x4.extract_lane(r, 0) + f32x4.extract_lane(r, 1) + f32x4.extract_lane(r, 2) + f32x4.extract_lane(r, 3);
  for (const end = <usize>K << 2; o < end; o += 4) s += load<f32>(ai + o) * load<f32>(wj + o);
  return s;
}

// @ts-ignore: decorator
@inline function putDot(o: usize, s: f32, accumulate: bool): void {
  store<f32>(o, accumulate ? load<f32>(o) + s : s);
}

/**
 * Whether to run C = A B as Cᵀ = Bᵀ Aᵀ (A packed as the NR-wide operand, B's columns as the MR rows):
 * the cheaper of the two by multiply-adds, padded tiles included, plus PACK_COST per packed float.
 * Only when A's padded width fits the packed-B scratch sized for N.
 */
function swapCheaper(M: i32, N: i32, K: i32, acs: i32, brs: i32): bool {
  if (roundUp(M, NR) > roundUp(N, NR)) return false;
  const k = <f64>K;
  const plain = k * <f64>roundUp(M, MR) * <f64>roundUp(N, NR) + PACK_COST * k * (<f64>N + (acs != 1 ? <f64>M : 0));
  const swapped = k * <f64>roundUp(N, MR) * <f64>roundUp(M, NR) + PACK_COST * k * (<f64>M + (brs != 1 ? <f64>N : 0));
  return swapped < plain;
}

/**
 * Few rows: the unpacked kernels. With both operands contiguous along K (C = A Wᵀ) the transposed
 * product packs only A's few rows, which pays from MR + 1 rows on (measured: 5–7 × 1024 × 1024
 * 15–50% faster than the unpacked kernel); elsewhere packing B costs more than it saves below SMALL_M.
 */
// @ts-ignore: decorator
@inline function fewRows(M: i32, acs: i32, brs: i32): bool {
  return M < SMALL_M && !(M > MR && acs == 1 && brs == 1);
}

/**
 * Whether gemm runs the unpacked kernels: few rows of A (fewRows), or a short sum (K < SMALL_M) over B's rows
 * stored contiguously (bcs = 1), where each row of C is a few axpys of B's rows: the weight gradient of a node of
 * few examples, dU = dyᵀ x. Packing would run the micro-kernel for one to seven k-steps per tile, its setup and
 * the tile's store costing more than the arithmetic.
 */
// @ts-ignore: decorator
@inline function unpacked(M: i32, K: i32, acs: i32, brs: i32, bcs: i32): bool {
  return fewRows(M, acs, brs) || (K < SMALL_M && bcs == 1);
}

/**
 * Whether gemm(M, N, K, …) with these strides runs as Cᵀ = Bᵀ Aᵀ, i.e. packB(K, M, a, acs, ars, ·) then
 * gemmPackedB(N, M, K, b, bcs, brs, ·, c, 1, crs, …). The loader uses it to stream B through that
 * product a block of B's columns at a time (blocks of a multiple of MR columns give the same sums).
 */
export function gemmTransposes(M: i32, N: i32, K: i32, acs: i32, brs: i32, bcs: i32): bool {
  return M > 0 && N > 0 && K > 0 && !unpacked(M, K, acs, brs, bcs) && swapCheaper(M, N, K, acs, brs);
}

/**
 * General entry: C (+)= A · B over strided operands; `scratch` must hold gemmScratchBytes(M, N, K).
 * accumulateOrZero: 0, C = A · B; 1, C += A · B; 2, C zeroed first, then C += A · B (the bits of adding into a C of
 * zeros, which the caller would otherwise fill on its own thread: a weight gradient made for the optimizer's step).
 */
export function gemm(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, brs: i32, bcs: i32,
  c: usize, crs: i32, accumulateOrZero: i32, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  if (accumulateOrZero == 2) zeroC(M, N, c, crs);
  const accumulate = accumulateOrZero != 0;
  if (K <= 0) {
    if (!accumulate) zeroC(M, N, c, crs);
    return;
  }
  if (unpacked(M, K, acs, brs, bcs)) {
    gemmSmallM(M, N, K, a, ars, acs, b, brs, bcs, c, crs, accumulate);
    return;
  }
  const pB = (scratch + 256 + <usize>(MC * KC * 4) + 63) & ~<usize>63;
  if (swapCheaper(M, N, K, acs, brs)) {
    // Cᵀ (N×M) = Bᵀ Aᵀ: Bᵀ(j, p) = b[j·bcs + p·brs], Aᵀ(p, i) = a[p·acs + i·ars], Cᵀ(j, i) = c[j + i·crs]
    packB(K, M, a, acs, ars, pB);
    gemmPackedB(N, M, K, b, bcs, brs, pB, c, 1, crs, accumulate, scratch);
  } else {
    packB(K, N, b, brs, bcs, pB);
    gemmPackedB(M, N, K, a, ars, acs, pB, c, crs, 1, accumulate, scratch);
  }
}
