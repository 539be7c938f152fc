/**
 * Elementwise and reduction ops of training (src/kernels/elementwise.ts), SIMD
 * where it pays. Pointers are byte addresses; buffers are row-major.
 */

/** y[i, :] += v for every row. */
export function addRowVector(y: usize, rows: i32, cols: i32, v: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = y + ((<usize>r * cols) << 2);
    sumSpan(o, v, 0, o, cols, true, false, true);
  }
}

/** out = a + b over n floats. */
export function addArrays(a: usize, b: usize, out: usize, n: i32): void {
  sumSpan(a, b, 0, out, n, true, false, true);
}

/**
 * Columns [c0, c1) of addPaths (src/kernels/paths.ts), a block of `block` columns at a time: every entry over
 * one block, the sum of an entry with children kept in scratch (at slot[e]·block floats; slot[e] < 0: none), so that
 * of all the tables only the written sums go to memory. node, parent, slot and outAt are i32 arrays of `count`
 * entries; w and out are tables of `size` floats. The same sums as the reference (one add per element and entry).
 */
export function addPathsCols(w: usize, size: i32, node: usize, parent: usize, slot: usize, outAt: usize, count: i32,
  out: usize, c0: i32, c1: i32, scratch: usize, block: i32): void {
  const tableBytes = <usize>size << 2;
  for (let b0 = c0; b0 < c1; b0 += block) {
    const n = min(block, c1 - b0), at = <usize>b0 << 2;
    for (let e = 0; e < count; e++) {
      const q = <usize>e << 2, pe = load<i32>(parent + q), se = load<i32>(slot + q), oe = load<i32>(outAt + q);
      if (se < 0 && oe < 0) continue;
      const t = w + <usize>load<i32>(node + q) * tableBytes + at;
      const p = pe >= 0 ? scratch + ((<usize>load<i32>(slot + (<usize>pe << 2)) * <usize>block) << 2) : 0;
      const sum = se >= 0 ? scratch + ((<usize>se * <usize>block) << 2) : 0;
      const o = oe >= 0 ? out + <usize>oe * tableBytes + at : 0;
      // one loop per case, so that none tests its case per vector (binaryen folds the constant flags)
      if (pe >= 0) {
        if (se >= 0 && oe >= 0) sumSpan(p, t, sum, o, n, true, true, true);
        else if (se >= 0) sumSpan(p, t, sum, 0, n, true, true, false);
        else sumSpan(p, t, 0, o, n, true, false, true);
      } else if (se >= 0 && oe >= 0) sumSpan(0, t, sum, o, n, false, true, true);
      else if (se >= 0) sumSpan(0, t, sum, 0, n, false, true, false);
      else sumSpan(0, t, 0, o, n, false, false, true);
    }
  }
}

/**
 * v = p + t (P) or t over n floats, written to sum (S) and/or o (O); a cache line (16 floats) per iteration. Inlined
 * with constant flags, each caller gets a loop without tests: 1.25–1.3× faster than one vector and three tests per
 * iteration on addPaths' tables (bench/path-tables/ab.ts wasm, 2026-12-02, Zen 5).
 */
// @ts-ignore: decorator
@inline function sumSpan(p: usize, t: usize, sum: usize, o: usize, n: i32, P: bool, S: bool, O: bool): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const j = <usize>i << 2;
    let v0 = v128.load(t + j), v1 = v128.load(t + j + 16), v2 = v128.load(t + j + 32), v3 = v128.load(t + j + 48);
    if (P) {
      v0 = f32x4.add(v128.load(p + j), v0);
      v1 = f32x4.add(v128.load(p + j + 16), v1);
      v2 = f32x4.add(v128.load(p + j + 32), v2);
      v3 = f32x4.add(v128.load(p + j + 48), v3);
    }
    if (S) {
      v128.store(sum + j, v0);
      v128.store(sum + j + 16, v1);
      v128.store(sum + j + 32, v2);
      v128.store(sum + j + 48, v3);
    }
    if (O) {
      v128.store(o + j, v0);
      v128.store(o + j + 16, v1);
      v128.store(o + j + 32, v2);
      v128.store(o + j + 48, v3);
    }
  }
  for (; i + 4 <= n; i += 4) {
    const j = <usize>i << 2;
    const v = P ? f32x4.add(v128.load(p + j), v128.load(t + j)) : v128.load(t + j);
    if (S) v128.store(sum + j, v);
    if (O) v128.store(o + j, v);
  }
  for (; i < n; i++) {
    const j = <usize>i << 2;
    const v = P ? load<f32>(p + j) + load<f32>(t + j) : load<f32>(t + j);
    if (S) store<f32>(sum + j, v);
    if (O) store<f32>(o + j, v);
  }
}

/** out[j] += Σ_i x[i, j], row by row (the reference order, so results are bit-identical). */
export function addColumnSums(x: usize, rows: i32, cols: i32, out: usize): void {
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const q = <usize>j << 2;
    let s = v128.load(out + q);
    let p = x + q;
    const step = <usize>cols << 2;
    for (let r = 0; r < rows; r++) {
      s = f32x4.add(s, v128.load(p));
      p += step;
    }
    v128.store(out + q, s);
  }
  for (; j < cols; j++) {
    const q = <usize>j << 2;
    let s = load<f32>(out + q);
    for (let r = 0; r < rows; r++) s += load<f32>(x + ((<usize>r * cols) << 2) + q);
    store<f32>(out + q, s);
  }
}

/**
 * out[r] (+)= Σ_j a[r, j]·b[r, j], summed in f64 in the order of j as the reference (bit-identical), two rows at
 * a time so that their adds overlap. `acc` 1: start from out[r].
 */
export function rowDots(a: usize, b: usize, rows: i32, cols: i32, out: usize, acc: i32): void {
  const step = <usize>cols << 2;
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const o = out + (<usize>r << 2);
    let s0: f64 = acc ? <f64>load<f32>(o) : 0, s1: f64 = acc ? <f64>load<f32>(o + 4) : 0;
    const a0 = a + <usize>r * step, b0 = b + <usize>r * step;
    for (let j = 0; j < cols; j++) {
      const q = <usize>j << 2;
      s0 += <f64>load<f32>(a0 + q) * <f64>load<f32>(b0 + q);
      s1 += <f64>load<f32>(a0 + step + q) * <f64>load<f32>(b0 + step + q);
    }
    store<f32>(o, <f32>s0);
    store<f32>(o + 4, <f32>s1);
  }
  for (; r < rows; r++) {
    const o = out + (<usize>r << 2);
    let s: f64 = acc ? <f64>load<f32>(o) : 0;
    const a0 = a + <usize>r * step, b0 = b + <usize>r * step;
    for (let j = 0; j < cols; j++) {
      const q = <usize>j << 2;
      s += <f64>load<f32>(a0 + q) * <f64>load<f32>(b0 + q);
    }
    store<f32>(o, <f32>s);
  }
}

/** y[r, :] = scale[r]·x[r, :] (y may be x). */
export function scaleRows(x: usize, rows: i32, cols: i32, scale: usize, y: usize): void {
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r * cols) << 2, g = load<f32>(scale + (<usize>r << 2)), gv = f32x4.splat(g);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const q = o + (<usize>j << 2);
      v128.store(y + q, f32x4.mul(gv, v128.load(x + q)));
    }
    for (; j < cols; j++) {
      const q = o + (<usize>j << 2);
      store<f32>(y + q, g * load<f32>(x + q));
    }
  }
}

/** y = x < 0 ? 0 : x (NaN passes through, like the reference). */
export function reluForward(x: usize, y: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const q = <usize>i << 2;
    const v = v128.load(x + q);
    v128.store(y + q, v128.andnot(v, f32x4.lt(v, zero)));
  }
  for (; i < count; i++) {
    const q = <usize>i << 2;
    const v = load<f32>(x + q);
    store<f32>(y + q, v < 0 ? 0 : v);
  }
}

/** dx = y > 0 ? dy : 0. */
export function reluBackward(y: usize, dy: usize, dx: usize, count: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const q = <usize>i << 2;
    v128.store(dx + q, v128.and(v128.load(dy + q), f32x4.gt(v128.load(y + q), zero)));
  }
  for (; i < count; i++) {
    const q = <usize>i << 2;
    store<f32>(dx + q, load<f32>(y + q) > 0 ? load<f32>(dy + q) : 0);
  }
}

/**
 * tanh of 4 floats: odd/even rational approximation on [−7.9988, 7.9988]
 * (the clamp point, where float32 tanh is within an ulp of ±1), x itself for
 * |x| < 4e-4. NaN propagates.
 */
// @ts-ignore: decorator
@inline function tanh4(x0: v128): v128 {
  const x = f32x4.max(f32x4.min(x0, f32x4.splat(7.99881172180175781)), f32x4.splat(-7.99881172180175781));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.76076847742355e-16);
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.00018790482477e-13));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-8.60467152213735e-11));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(5.12229709037114e-8));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(1.48572235717979e-5));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(6.37261928875436e-4));
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(4.89352455891786e-3));
  p = f32x4.mul(p, x);
  let q = f32x4.splat(1.19825839466702e-6);
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(1.18534705686654e-4));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(2.26843463243900e-3));
  q = f32x4.add(f32x4.mul(q, x2), f32x4.splat(4.89352518554385e-3));
  const r = f32x4.div(p, q);
  const tiny = f32x4.lt(f32x4.abs(x0), f32x4.splat(0.0004));
  const nan = f32x4.ne(x0, x0);
  return v128.bitselect(x0, r, v128.or(tiny, nan));
}

export function tanhForward(x: usize, y: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const q = <usize>i << 2;
    v128.store(y + q, tanh4(v128.load(x + q)));
  }
  if (i < count) {
    // 1–3 left: one zero-padded vector
    const n = count - i;
    const base = x + (<usize>i << 2);
    const a0 = load<f32>(base);
    const a1 = n > 1 ? load<f32>(base, 4) : 0;
    const a2 = n > 2 ? load<f32>(base, 8) : 0;
    const r = tanh4(f32x4(a0, a1, a2, 0));
    const o = y + (<usize>i << 2);
    store<f32>(o, f32x4.extract_lane(r, 0));
    if (n > 1) store<f32>(o, f32x4.extract_lane(r, 1), 4);
    if (n > 2) store<f32>(o, f32x4.extract_lane(r, 2), 8);
  }
}

/** dx = dy · (1 − y²), computed in float64 and rounded once like the reference (bit-identical). */
export function tanhBackward(y: usize, dy: usize, dx: usize, count: i32): void {
  const one = f64x2.splat(1);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const q = <usize>i << 2;
    const yv = v128.load(y + q), gv = v128.load(dy + q);
    const ylo = f64x2.promote_low_f32x4(yv), glo = f64x2.promote_low_f32x4(gv);
    const yhi = f64x2.promote_low_f32x4(v128.shuffle<f32>(yv, yv, 2, 3, 2, 3));
    const ghi = f64x2.promote_low_f32x4(v128.shuffle<f32>(gv, gv, 2, 3, 2, 3));
    const rlo = f32x4.demote_f64x2_zero(f64x2.mul(glo, f64x2.sub(one, f64x2.mul(ylo, ylo))));
    const rhi = f32x4.demote_f64x2_zero(f64x2.mul(ghi, f64x2.sub(one, f64x2.mul(yhi, yhi))));
    v128.store(dx + q, v128.shuffle<f32>(rlo, rhi, 0, 1, 4, 5));
  }
  for (; i < count; i++) {
    const q = <usize>i << 2;
    const v = <f64>load<f32>(y + q);
    store<f32>(dx + q, <f32>(<f64>load<f32>(dy + q) * (1 - v * v)));
  }
}

/**
 * Mean softmax cross-entropy, in float64 like the reference. Writes the mean
 * loss (f64) at out and the correct count (i32) at out + 8; dlogits = 0 means none.
 */
export function softmaxCrossEntropy(logits: usize, rows: i32, cols: i32, labels: usize, dlogits: usize, out: usize): void {
  let loss: f64 = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const o = logits + ((<usize>r * cols) << 2);
    let mx: f64 = -Infinity;
    let arg = 0;
    for (let j = 0; j < cols; j++) {
      const v = <f64>load<f32>(o + (<usize>j << 2));
      if (v > mx) { mx = v; arg = j; }
    }
    let sum: f64 = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(<f64>load<f32>(o + (<usize>j << 2)) - mx);
    const y = load<i32>(labels + (<usize>r << 2));
    loss += Math.log(sum) - (<f64>load<f32>(o + (<usize>y << 2)) - mx);
    if (arg == y) correct++;
    if (dlogits != 0) {
      const d = dlogits + ((<usize>r * cols) << 2);
      for (let j = 0; j < cols; j++) {
        const e = Math.exp(<f64>load<f32>(o + (<usize>j << 2)) - mx);
        store<f32>(d + (<usize>j << 2), <f32>((e / sum - (j == y ? 1.0 : 0.0)) / <f64>rows));
      }
    }
  }
  store<f64>(out, rows > 0 ? loss / <f64>rows : 0);
  store<i32>(out, correct, 8);
}

/** dst[i, :] = src[idx[i]·stride, cols] (src already points at the column offset). */
export function gatherRows(src: usize, srcStride: i32, idx: usize, count: i32, cols: i32, dst: usize): void {
  const bytes = <usize>cols << 2;
  for (let i = 0; i < count; i++) {
    const row = load<i32>(idx + (<usize>i << 2));
    memory.copy(dst + <usize>i * bytes, src + ((<usize>row * srcStride) << 2), bytes);
  }
}

/** dst[idx[i]·stride, cols] (+)= src[i, :] (dst already points at the column offset). */
export function scatterRows(src: usize, cols: i32, idx: usize, count: i32, dst: usize, dstStride: i32, accumulate: bool): void {
  const bytes = <usize>cols << 2;
  for (let i = 0; i < count; i++) {
    const row = load<i32>(idx + (<usize>i << 2));
    const d = dst + ((<usize>row * dstStride) << 2), s = src + <usize>i * bytes;
    if (accumulate) addRow(d, s, cols);
    else memory.copy(d, s, bytes);
  }
}

/** out[0..n) += v[0..n) (also used by the grouped products) */
export function addRow(out: usize, v: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(v + o)));
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(out + o, load<f32>(out + o) + load<f32>(v + o));
  }
}
