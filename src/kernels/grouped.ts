import { gatherRows, scatterRows } from './elementwise.js';
import { gemmNN, gemmNT, gemmTN } from './gemm.js';
import type { Routing } from './routing.js';

/**
 * Grouped products over the contiguous row ranges of a Routing (DESIGN §2),
 * plain TypeScript reference. Rows are in sorted order. Shapes:
 *   xs  (N, s)  inputs of one block, sorted      ys  (N, m)  outputs, sorted
 *   w   (T, m, s) node matrices U_t              bias (T, m) node biases c_t
 * Each node touches only its own range, so total work is Σ_nodes rows·m·s.
 */

/**
 * ys[r] += xs[r] U_tᵀ + c_t for every non-empty node t with rows r. `packed`: w holds the tables as this
 * backend's packNodes laid them out (here the plain layout, so the flag changes nothing).
 */
export function groupedForward(rt: Routing, xs: Float32Array, s: number, w: Float32Array, bias: Float32Array,
  m: number, ys: Float32Array, packed = false): void {
  void packed;
  const ms = m * s;
  for (let g = 0; g < rt.nodeCount; g++) {
    const t = rt.node[g], r0 = rt.start[g], rows = rt.end[g] - r0;
    gemmNT(rows, m, s, xs, r0 * s, w, t * ms, ys, r0 * m, true);
    const bo = t * m;
    for (let r = r0; r < r0 + rows; r++) {
      const yo = r * m;
      for (let j = 0; j < m; j++) ys[yo + j] += bias[bo + j];
    }
  }
}

/**
 * One block of a routed layer's forward pass, from the examples' rows to theirs: xs[r] = x[perm[r]] (columns
 * off … off + s of rows of width n), ys = 0, ys[r] += xs[r] U_tᵀ + c_t as groupedForward, then
 * y[perm[r]] (+)= ys[r] (rows of width m; added where `accumulate`). xs keeps the sorted inputs for the backward
 * pass. A backend may fuse the three steps (the native one: each thread gathers, multiplies and scatters its
 * own rows); the result is the same as this composition.
 */
export type RoutedForward = (rt: Routing, x: Float32Array, n: number, off: number, xs: Float32Array, s: number,
  w: Float32Array, bias: Float32Array, m: number, ys: Float32Array, y: Float32Array, accumulate: boolean, packed?: boolean) => void;

/** routedForward composed of a backend's own gather, grouped product and scatter. */
export function composeRoutedForward(ops: {
  gatherRows: typeof gatherRows; groupedForward: typeof groupedForward; scatterRows: typeof scatterRows;
}): RoutedForward {
  return (rt, x, n, off, xs, s, w, bias, m, ys, y, accumulate, packed = false) => {
    const N = rt.n;
    ops.gatherRows(x, n, off, rt.perm, N, s, xs);
    ys.fill(0, 0, N * m);
    ops.groupedForward(rt, xs, s, w, bias, m, ys, packed);
    ops.scatterRows(ys, m, rt.perm, N, y, m, 0, accumulate);
  };
}

export const routedForward: RoutedForward = composeRoutedForward({ gatherRows, groupedForward, scatterRows });

/**
 * Node tables (T, m, s) laid out for a backend's forward products with `packed` set, for tables that stay fixed
 * over many products (inference: collapsed leaf tables, dense weights, experts). A backend whose products read
 * the plain layout fastest returns the tables themselves, as this one does; the native one returns a packed
 * copy (panels of columns, p-major). With `out` (T · the backend's packedFloats(m, s) floats), the tables are
 * written there and `out` is returned: a layer rebuilding its tables reuses their memory.
 */
export type PackNodes = (w: Float32Array, T: number, m: number, s: number, out?: Float32Array) => Float32Array;
/** The plain layout: the tables themselves, or a copy in `out` (T·packedFloats(m, s) floats) when one is given. */
export const packNodes: PackNodes = (w, T, m, s, out) => {
  if (!out) return w;
  out.set(w.subarray(0, T * m * s));
  return out;
};
/** Floats of one node's table as packNodes lays it out (here m·s). */
export const packedFloats = (m: number, s: number): number => m * s;

/** dxs[r] += dys[r] U_t for every non-empty node t (or for the listed nodes g0 ≤ g < g1 only). */
export function groupedBackwardInput(rt: Routing, dys: Float32Array, m: number, w: Float32Array, s: number,
  dxs: Float32Array, g0 = 0, g1 = rt.nodeCount): void {
  const ms = m * s;
  for (let g = g0; g < g1; g++) {
    const t = rt.node[g], r0 = rt.start[g], rows = rt.end[g] - r0;
    gemmNN(rows, s, m, dys, r0 * m, w, t * ms, dxs, r0 * s, true);
  }
}

/**
 * dU_t += dys[r]ᵀ xs[r] and dc_t += Σ_r dys[r] for every non-empty node t. `fresh` (optional, one entry per
 * node range g) is a hint: 1 where dU_t holds zeros, so that a backend may overwrite it instead of adding to it
 * (the native one does); the result is the same either way.
 */
export function groupedBackwardWeight(rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number,
  dw: Float32Array, dbias: Float32Array, fresh?: Uint8Array): void {
  void fresh; // NOTE: the reference adds into the zeros
  const ms = m * s;
  for (let g = 0; g < rt.nodeCount; g++) {
    const t = rt.node[g], r0 = rt.start[g], rows = rt.end[g] - r0;
    gemmTN(m, s, rows, dys, r0 * m, xs, r0 * s, dw, t * ms, true);
    const bo = t * m;
    for (let r = r0; r < r0 + rows; r++) {
      const yo = r * m;
      for (let j = 0; j < m; j++) dbias[bo + j] += dys[yo + j];
    }
  }
}
