/**
 * Lazy optimizer updates (src/kernels/optim.ts) over compacted slots: slot q of
 * w, g, v (, m) is at q·slotSize floats. Per-slot scalars come precomputed from
 * the caller in float64 (λ_s; for Adam also the bias corrections 1/(1−β^t)).
 * SGD's element math runs in float64 (f64x2) in the reference's order, so its
 * results are bit-identical to the reference's; Adam's runs in float32 (f32x4),
 * as the native kernels' does (adamSlot in native/kernels_impl.h, the same
 * operations in the same order), since its division and square root in float64
 * took 3.5 ns per weight and bound the deep trees' training.
 */
import { addRowVector } from './elementwise';
import { gemm } from './gemm';

// @ts-ignore: decorator
@inline function lo2(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}
// @ts-ignore: decorator
@inline function store2(p: usize, x: v128): void {
  v128.store64_lane(p, f32x4.demote_f64x2_zero(x), 0);
}
// A velocity, in float64 as the reference's, below float32's smallest normal becomes 0 (src/kernels/optim.ts,
// flushTiny); NaN stays NaN.
// @ts-ignore: decorator
@inline function flushTiny2(x: v128): v128 {
  return v128.andnot(x, f64x2.lt(f64x2.abs(x), f64x2.splat(1.1754943508222875e-38)));
}
// @ts-ignore: decorator
@inline function flushTiny64(x: f64): f64 {
  return Math.abs(x) < 1.1754943508222875e-38 ? 0 : x;
}
/** v ← μ v + g; w ← w − lr·(v + λ_s w), per listed slot; with `clear`, g ← 0 after the rest. lam: (count) f64. */
export function sgdUpdate(w: usize, g: usize, v: usize, slotSize: i32, count: i32, lam: usize, lr: f64, mu: f64,
  clear: bool): void {
  const lrv = f64x2.splat(lr), muv = f64x2.splat(mu), ZERO = i32x4.splat(0);
  for (let q = 0; q < count; q++) {
    const l = load<f64>(lam + (<usize>q << 3));
    const lv = f64x2.splat(l);
    const base = (<usize>q * slotSize) << 2;
    let e = 0;
    for (; e + 2 <= slotSize; e += 2) {
      const o = base + (<usize>e << 2);
      const ve = flushTiny2(f64x2.add(f64x2.mul(muv, lo2(v + o)), lo2(g + o)));
      store2(v + o, ve);
      const we = lo2(w + o);
      store2(w + o, f64x2.sub(we, f64x2.mul(lrv, f64x2.add(ve, f64x2.mul(lv, we)))));
      if (clear) v128.store64_lane(g + o, ZERO, 0);
    }
    for (; e < slotSize; e++) {
      const o = base + (<usize>e << 2);
      const ve = flushTiny64(mu * <f64>load<f32>(v + o) + <f64>load<f32>(g + o));
      store<f32>(v + o, <f32>ve);
      const we = <f64>load<f32>(w + o);
      store<f32>(w + o, <f32>(we - lr * (ve + l * we)));
      if (clear) store<f32>(g + o, 0);
    }
  }
}

/**
 * m ← β1 m + (1−β1) g; u ← β2 u + (1−β2) g²; w ← w − lr·((m·c1) / (√(u·c2) + ε) + λ_s w), in float32: every
 * setting and per-slot scalar rounded to float32 once (1 − β computed in float64 first, as the native kernels
 * do), then one float32 operation at a time in that order (a2·g·g as (a2·g)·g). Four weights per step, then one;
 * both paths do the same operations, so an element's result does not depend on where it falls.
 * coef: (count, 3) f64 = λ_s, c1 = 1/(1−β1^t), c2 = 1/(1−β2^t). With `clear`, g ← 0 after the rest (the optimizers'
 * clearGrad, on the threads that update, where the caller's fill ran on one thread at a few GB/s).
 */
// A moment, in float32, below float32's smallest normal becomes 0 (src/kernels/optim.ts, flushTiny); NaN stays NaN.
// @ts-ignore: decorator
@inline function flushTiny4(x: v128): v128 {
  return v128.and(x, i32x4.ge_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x00800000)));
}
// @ts-ignore: decorator
@inline function flushTiny(x: f32): f32 {
  return Mathf.abs(x) < <f32>1.1754943508222875e-38 ? 0 : x;
}

export function adamUpdate(w: usize, g: usize, m: usize, v: usize, slotSize: i32, count: i32, coef: usize,
  lr: f64, b1: f64, b2: f64, eps: f64, clear: bool): void {
  const lr1 = <f32>lr, b11 = <f32>b1, b21 = <f32>b2, a11 = <f32>(1 - b1), a21 = <f32>(1 - b2), eps1 = <f32>eps;
  const LR = f32x4.splat(lr1), B1 = f32x4.splat(b11), B2 = f32x4.splat(b21), A1 = f32x4.splat(a11), A2 = f32x4.splat(a21);
  const EPS = f32x4.splat(eps1), ZERO = i32x4.splat(0);
  for (let q = 0; q < count; q++) {
    const cp = coef + <usize>q * 24;
    const l = <f32>load<f64>(cp), c1 = <f32>load<f64>(cp, 8), c2 = <f32>load<f64>(cp, 16);
    const LAM = f32x4.splat(l), C1 = f32x4.splat(c1), C2 = f32x4.splat(c2);
    const base = (<usize>q * slotSize) << 2;
    let e = 0;
    for (; e + 4 <= slotSize; e += 4) {
      const o = base + (<usize>e << 2);
      const G = v128.load(g + o), W = v128.load(w + o);
      const me = flushTiny4(f32x4.add(f32x4.mul(B1, v128.load(m + o)), f32x4.mul(A1, G)));
      const ve = flushTiny4(f32x4.add(f32x4.mul(B2, v128.load(v + o)), f32x4.mul(f32x4.mul(A2, G), G)));
      v128.store(m + o, me);
      v128.store(v + o, ve);
      const step = f32x4.add(f32x4.div(f32x4.mul(me, C1), f32x4.add(f32x4.sqrt(f32x4.mul(ve, C2)), EPS)), f32x4.mul(LAM, W));
      v128.store(w + o, f32x4.sub(W, f32x4.mul(LR, step)));
      if (clear) v128.store(g + o, ZERO);
    }
    for (; e < slotSize; e++) {
      const o = base + (<usize>e << 2);
      const ge = load<f32>(g + o), we = load<f32>(w + o);
      const me = flushTiny(b11 * load<f32>(m + o) + a11 * ge);
      const ve = flushTiny(b21 * load<f32>(v + o) + a21 * ge * ge);
      store<f32>(m + o, me);
      store<f32>(v + o, ve);
      store<f32>(w + o, we - lr1 * ((me * c1) / (sqrt<f32>(ve * c2) + eps1) + l * we));
      if (clear) store<f32>(g + o, 0);
    }
  }
}

/**
 * One node's weight gradient dU = dyᵀ x (dy: K×m at `dy`, row stride m; x: K×s at `x`, row stride s) made a block of
 * nb of dU's rows at a time into the scratch and applied there by the optimizer's step to the node's slot of w and
 * its state (mo, vo: the slot's first elements), so that the gradient never leaves the cache and one thread makes
 * the node's whole step. Each block is the gemm (zeroed, then accumulated: accumulateOrZero 2) and the update over
 * the block's elements that the split kernels run, so the bits are theirs. A last block of fewer than 8 rows is
 * merged into the one before (as blocks() in src/kernels/wasm/products.ts cuts them). coef: the slot's scalars
 * (adamUpdate's three f64, sgdUpdate's one); hp: five f64, 1 for Adam (vo its second moment) or 0 for SGD (mo its
 * momentum), lr, β1 or μ, β2, ε. scratch: 4·(nb + 7)·s bytes of gradient rounded up to 64, then
 * gemmScratchBytes(nb + 7, s, K).
 */
export function nodeStep(m: i32, s: i32, K: i32, dy: usize, x: usize, w: usize, mo: usize, vo: usize, coef: usize, hp: usize,
  nb: i32, scratch: usize): void {
  const adam = load<f64>(hp) != 0, lr = load<f64>(hp, 8), b1 = load<f64>(hp, 16), b2 = load<f64>(hp, 24), eps = load<f64>(hp, 32);
  const g = scratch, gs = (scratch + ((<usize>(nb + 7) * <usize>s) << 2) + 63) & ~<usize>63;
  for (let i0 = 0; i0 < m;) {
    const n = m - i0 - nb < 8 ? m - i0 : nb;
    gemm(n, s, K, dy + (<usize>i0 << 2), 1, m, x, s, 1, g, s, 2, gs);
    const o = (<usize>i0 * <usize>s) << 2;
    if (adam) adamUpdate(w + o, g, mo + o, vo + o, n * s, 1, coef, lr, b1, b2, eps, false);
    else sgdUpdate(w + o, g, mo + o, n * s, 1, coef, lr, b1, false);
    i0 += n;
  }
}

/**
 * pathWeightStep (src/kernels/weight-step.ts) over blocks [b0, b1) of bh rows of every entry's table: per block, the
 * entries deepest first (e = count − 1 … 0), each entry's gradient block made in a buffer of its depth (the product
 * dyᵀ x of its rows, zeroed then accumulated as gemm's accumulateOrZero 2, or the sum its children added there) and
 * applied by the optimizer's step, then added into its parent's buffer (zeroed before the first child, so that each
 * sum is the composition's: addRowVector into zeros). tab: 6 i32 per entry: byte addresses of its slot of w, mo and vo
 * (0 for SGD), its first row in dy and x, its rows (−1 for a sum), its depth (< 32). coef: each entry's scalars (24
 * bytes apart for Adam, 8 for SGD); hp as nodeStep's. A last block of fewer than 8 rows is merged into the one before,
 * as nodeStep's (the caller counts the blocks so). scratch: levels · (bh + 7) · s floats of buffers rounded up to 64
 * bytes, then gemmScratchBytes(bh + 7, s, K).
 */
export function pathStep(tab: usize, count: i32, m: i32, s: i32, bh: i32, b0: i32, b1: i32, dy: usize, x: usize, coef: usize,
  hp: usize, levels: i32, scratch: usize): void {
  const adam = load<f64>(hp) != 0, lr = load<f64>(hp, 8), p1 = load<f64>(hp, 16), p2 = load<f64>(hp, 24), eps = load<f64>(hp, 32);
  const span = (<usize>(bh + 7) * <usize>s) << 2, gs = (scratch + <usize>levels * span + 63) & ~<usize>63;
  let started: u32 = 0; // bit L: the buffer of depth L holds a sum its children began
  for (let b = b0; b < b1; b++) {
    const i0 = b * bh, rows = m - i0 - bh < 8 ? m - i0 : bh, n = rows * s, o = (<usize>i0 * <usize>s) << 2;
    for (let e = count - 1; e >= 0; e--) {
      const t = tab + <usize>e * 24, K = load<i32>(t, 16), L = load<i32>(t, 20), g = scratch + <usize>L * span;
      if (K >= 0) {
        const r0 = <usize>load<i32>(t, 12);
        gemm(rows, s, K, dy + ((r0 * <usize>m + <usize>i0) << 2), 1, m, x + ((r0 * <usize>s) << 2), s, 1, g, s, 2, gs);
      } else if (!(started & (1 << L))) memory.fill(g, 0, <usize>n << 2);
      started &= ~(1 << L);
      const w = <usize>load<i32>(t) + o, mo = <usize>load<i32>(t, 4) + o;
      if (adam) adamUpdate(w, g, mo, <usize>load<i32>(t, 8) + o, n, 1, coef + <usize>e * 24, lr, p1, p2, eps, false);
      else sgdUpdate(w, g, mo, n, 1, coef + (<usize>e << 3), lr, p1, false);
      if (L == 0) continue;
      const pg = scratch + <usize>(L - 1) * span; // the parent's buffer: zeros, then each child added (addRowVector's adds)
      if (!(started & (1 << (L - 1)))) memory.fill(pg, 0, <usize>n << 2);
      addRowVector(pg, 1, n, g);
      started |= 1 << (L - 1);
    }
  }
}
