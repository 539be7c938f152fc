/**
 * The wasm backend's elementwise and reduction ops of training: the arrays staged into the arena (or addressed in
 * place where they live in the module's memory), the larger ones split between the threads.
 */
import { scatterRows as scatterSpread } from '../elementwise.js';
import { addPathsWith, pathSlots } from '../paths.js';
import { ADD_NS, OP_ADD, OP_ADD_ROW, OP_PATHS, PATH_BLOCK, PATH_SCRATCH, type WasmContext } from './module.js';

/** The elementwise ops on the module's kernels (ctx: createWasmBackend's context). */
export function elementwiseOps(ctx: WasmContext) {
  const { k, A, scratchFor, run, parts, inPlace, addr } = ctx;
  /**
   * Lays the arrays out in the arena (a length in floats each; null: room only, for an output) with the given
   * inputs copied in, and returns their addresses, in order: the elementwise ops' staging.
   */
  function stage(...arrays: Array<[Float32Array | null, number]>): number[] {
    A.reset();
    const at = arrays.map(([, n]) => A.alloc(4 * n));
    A.commit();
    arrays.forEach(([a, n], i) => a && A.put(at[i], a, 0, n));
    return at;
  }

  function addRowVector(y: Float32Array, rows: number, cols: number, v: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    if (inPlace(y) && inPlace(v)) {
      // split between the threads: one row (a path sum's gradient, a node's table) by its columns, else by rows
      const py = addr(y, 0), pv = addr(v, 0);
      if (rows === 1) return run(parts(cols, ADD_NS * cols).map(([j, c]) => [OP_ADD_ROW, -1, py + 4 * j, 1, c, pv + 4 * j]));
      return run(parts(rows, ADD_NS * rows * cols).map(([r, c]) => [OP_ADD_ROW, -1, py + 4 * r * cols, c, cols, pv]));
    }
    const [py, pv] = stage([y, rows * cols], [v, cols]);
    k.addRowVector(py, rows, cols, pv);
    A.get(py, y, 0, rows * cols);
  }

  /** out = a + b: in place where the three arrays are in the module's memory (the path sums' tables), else staged. */
  function addArrays(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void {
    if (count <= 0) return;
    if (inPlace(a) && inPlace(b) && inPlace(out)) {
      const pa = addr(a, 0), pb = addr(b, 0), po = addr(out, 0);
      return run(parts(count, ADD_NS * count).map(([e, c]) => [OP_ADD, -1, pa + 4 * e, pb + 4 * e, po + 4 * e, c]));
    }
    binary(k.addArrays, a, b, out, count);
  }

  /**
   * addPaths on arrays in the module's memory: each thread runs every entry over its columns a block at a time
   * (assembly/elementwise.ts, addPathsCols), so that only the written sums go to memory; else a chain of addArrays.
   */
  function addPaths(w: Float32Array, size: number, node: Int32Array, parent: Int32Array, outAt: Int32Array, count: number,
    out: Float32Array): void {
    if (size <= 0 || count <= 0) return;
    if (!inPlace(w) || !inPlace(out)) return addPathsWith(addArrays, w, size, node, parent, outAt, count, out);
    const { slot, slots } = pathSlots(parent, count);
    const block = Math.max(1024, Math.floor(Math.min(PATH_BLOCK, PATH_SCRATCH / Math.max(1, slots)) / 64) * 64);
    A.reset();
    const at = [node, parent, slot, outAt].map(() => A.alloc(4 * count));
    const scratch = scratchFor(4 * Math.max(1, slots) * block);
    A.commit();
    [node, parent, slot, outAt].forEach((a, i) => A.i32.set(a.subarray(0, count), at[i] >>> 2));
    const pw = addr(w, 0), po = addr(out, 0);
    run(parts(size, ADD_NS * size * count).map(([c0, n]) =>
      [OP_PATHS, 10, pw, size, at[0], at[1], at[2], at[3], count, po, c0, c0 + n, 0, block]), scratch);
  }

  function addColumnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    const [px, po] = stage([x, rows * cols], [out, cols]);
    k.addColumnSums(px, rows, cols, po);
    A.get(po, out, 0, cols);
  }

  function rowDots(a: Float32Array, b: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void {
    if (rows <= 0) return;
    const [pa, pb, po] = stage([a, rows * cols], [b, rows * cols], [out, rows]);
    k.rowDots(pa, pb, rows, cols, po, accumulate ? 1 : 0);
    A.get(po, out, 0, rows);
  }

  function scaleRows(x: Float32Array, rows: number, cols: number, scale: Float32Array, y: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    const [px, pg] = stage([x, rows * cols], [scale, rows]);
    k.scaleRows(px, rows, cols, pg, px);
    A.get(px, y, 0, rows * cols);
  }

  /** y = f(x) over `count` elements through wasm. */
  function unary(fn: (x: number, y: number, count: number) => void, x: Float32Array, y: Float32Array, count: number): void {
    if (count <= 0) return;
    const [px, py] = stage([x, count], [null, count]);
    fn(px, py, count);
    A.get(py, y, 0, count);
  }
  function binary(fn: (y: number, dy: number, dx: number, count: number) => void,
    y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void {
    if (count <= 0) return;
    const [py, pg, pd] = stage([y, count], [dy, count], [null, count]);
    fn(py, pg, pd, count);
    A.get(pd, dx, 0, count);
  }

  function softmaxCrossEntropy(logits: Float32Array, rows: number, cols: number, labels: Int32Array,
    dlogits: Float32Array | null): { loss: number; correct: number } {
    if (rows <= 0) return { loss: 0, correct: 0 };
    const n = rows * cols;
    A.reset();
    const pl = A.alloc(4 * n), plab = A.alloc(4 * rows), pd = dlogits ? A.alloc(4 * n) : 0, pout = A.alloc(16);
    A.commit();
    A.put(pl, logits, 0, n);
    A.i32.set(labels.subarray(0, rows), plab >>> 2);
    k.softmaxCrossEntropy(pl, rows, cols, plab, pd, pout);
    if (dlogits) A.get(pd, dlogits, 0, n);
    return { loss: A.f64[pout >>> 3], correct: A.i32[(pout >>> 2) + 2] };
  }

  /** [min, max] of idx[0..count). */
  function idxRange(idx: Int32Array, count: number): [number, number] {
    let lo = idx[0], hi = idx[0];
    for (let i = 1; i < count; i++) {
      const v = idx[i];
      if (v < lo) lo = v; else if (v > hi) hi = v;
    }
    return [lo, hi];
  }

  function gatherRows(src: Float32Array, srcStride: number, srcOffset: number, idx: Int32Array, count: number,
    cols: number, dst: Float32Array): void {
    if (count <= 0 || cols <= 0) return;
    const [r0, r1] = idxRange(idx, count);
    const lo = r0 * srcStride + srcOffset, hi = r1 * srcStride + srcOffset + cols;
    if (hi - lo > 2 * count * cols) {
      // rows spread over a large source (a batch drawn from a whole dataset): copied row by row here, since
      // moving their span into the linear memory would copy the dataset for every batch (a training epoch of the
      // default model spent 16 of its 37 s doing that)
      for (let i = 0; i < count; i++) {
        const o = idx[i] * srcStride + srcOffset;
        dst.set(src.subarray(o, o + cols), i * cols);
      }
      return;
    }
    A.reset();
    const ps = A.alloc(4 * (hi - lo)), pi = A.alloc(4 * count), pd = A.alloc(4 * count * cols);
    A.commit();
    A.put(ps, src, lo, hi);
    A.i32.set(idx.subarray(0, count), pi >>> 2);
    // the kernel addresses row idx[i] at base + 4·idx[i]·stride; base may lie below ps (wraps as i32)
    k.gatherRows((ps + 4 * (srcOffset - lo)) | 0, srcStride, pi, count, cols, pd);
    A.get(pd, dst, 0, count * cols);
  }

  function scatterRows(src: Float32Array, cols: number, idx: Int32Array, count: number, dst: Float32Array,
    dstStride: number, dstOffset: number, accumulate: boolean): void {
    if (count <= 0 || cols <= 0) return;
    const [r0, r1] = idxRange(idx, count);
    const lo = r0 * dstStride + dstOffset, hi = r1 * dstStride + dstOffset + cols;
    // rows spread over a large destination: added row by row here, as gatherRows reads them, rather than moving
    // their whole span into the linear memory and back (f32 adds, so the same bits as the kernel's)
    if (hi - lo > 2 * count * cols) return scatterSpread(src, cols, idx, count, dst, dstStride, dstOffset, accumulate);
    A.reset();
    const ps = A.alloc(4 * count * cols), pi = A.alloc(4 * count), pd = A.alloc(4 * (hi - lo));
    A.commit();
    A.put(ps, src, 0, count * cols);
    A.i32.set(idx.subarray(0, count), pi >>> 2);
    A.put(pd, dst, lo, hi); // rows and columns outside the scatter come back unchanged
    k.scatterRows(ps, cols, pi, count, (pd + 4 * (dstOffset - lo)) | 0, dstStride, accumulate ? 1 : 0);
    A.get(pd, dst, lo, hi - lo);
  }

  return { addRowVector, addArrays, addPaths, addColumnSums, rowDots, scaleRows, unary, binary, softmaxCrossEntropy, gatherRows, scatterRows };
}
