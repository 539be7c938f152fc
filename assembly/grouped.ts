/**
 * Grouped products over the contiguous row ranges of a Routing (DESIGN §2).
 * The caller lists the non-empty nodes as parallel i32 arrays `starts`, `ends`
 * (row range [start, end) in sorted order); the node matrices are compacted:
 * node g's U (m, s) is at w + g·m·s floats and its bias at bias + g·m floats.
 * Each node's product is one gemm over its whole row range (which packs the
 * cheaper of U and the rows once).
 */
import { addRow } from './elementwise';
import { gemm, KC, MC, NR } from './gemm';

/** Scratch bytes the grouped kernels need for blocks with m outputs and s inputs. */
export function groupedScratchBytes(m: i32, s: i32): usize {
  const big = max(m, s);
  return 256 + <usize>(MC * KC * 4) + 64 + <usize>big * <usize>(((big + NR - 1) / NR) * NR) * 4;
}

/** ys[r] += xs[r] U_gᵀ + c_g for every listed node g. */
export function groupedForward(count: i32, starts: usize, ends: usize, xs: usize, s: i32, w: usize, bias: usize,
  m: i32, ys: usize, scratch: usize): void {
  const ms = <usize>m * s;
  for (let g = 0; g < count; g++) {
    const r0 = load<i32>(starts + (<usize>g << 2)), rows = load<i32>(ends + (<usize>g << 2)) - r0;
    if (rows <= 0) continue;
    const wt = w + ((<usize>g * ms) << 2);
    const x = xs + ((<usize>r0 * s) << 2), y = ys + ((<usize>r0 * m) << 2);
    if (s > 0) gemm(rows, m, s, x, s, 1, wt, 1, s, y, m, true, scratch);
    const bt = bias + ((<usize>g * m) << 2);
    for (let r = 0; r < rows; r++) addRow(y + ((<usize>r * m) << 2), bt, m);
  }
}

/** dxs[r] += dys[r] U_g for every listed node g. */
export function groupedBackwardInput(count: i32, starts: usize, ends: usize, dys: usize, m: i32, w: usize, s: i32,
  dxs: usize, scratch: usize): void {
  const ms = <usize>m * s;
  for (let g = 0; g < count; g++) {
    const r0 = load<i32>(starts + (<usize>g << 2)), rows = load<i32>(ends + (<usize>g << 2)) - r0;
    if (rows <= 0 || m <= 0 || s <= 0) continue;
    const wt = w + ((<usize>g * ms) << 2);
    const dy = dys + ((<usize>r0 * m) << 2), dx = dxs + ((<usize>r0 * s) << 2);
    gemm(rows, s, m, dy, m, 1, wt, s, 1, dx, s, true, scratch);
  }
}

/** dU_g += dys[r]ᵀ xs[r] and dc_g += Σ_r dys[r] for every listed node g. */
export function groupedBackwardWeight(count: i32, starts: usize, ends: usize, dys: usize, m: i32, xs: usize, s: i32,
  dw: usize, dbias: usize, scratch: usize): void {
  const ms = <usize>m * s;
  for (let g = 0; g < count; g++) {
    const r0 = load<i32>(starts + (<usize>g << 2)), rows = load<i32>(ends + (<usize>g << 2)) - r0;
    if (rows <= 0) continue;
    const dy = dys + ((<usize>r0 * m) << 2);
    gemm(m, s, rows, dy, 1, m, xs + ((<usize>r0 * s) << 2), s, 1, dw + ((<usize>g * ms) << 2), s, true, scratch);
    const bt = dbias + ((<usize>g * m) << 2);
    for (let r = 0; r < rows; r++) addRow(bt, dy + ((<usize>r * m) << 2), m);
  }
}
