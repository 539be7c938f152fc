import { shown, TreegateError } from './errors.js';

/**
 * A row-major float32 matrix. Batches are (N, features): one example per row.
 * `data` may be longer than rows*cols (a view into a reused buffer); only the
 * first rows*cols elements are meaningful.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** A rows × cols matrix over `data` (a Float32Array of at least rows·cols floats; the first rows·cols are its entries), or over new zeros. */
export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  checkDims(rows, cols, 'matrix');
  if (data === undefined) {
    try {
      data = new Float32Array(rows * cols);
    } catch (e) {
      // past the engine's longest typed array, or its memory: named, not a RangeError from inside
      if (!(e instanceof RangeError)) throw e;
      throw new TreegateError(`matrix: ${rows}×${cols} = ${rows * cols} floats cannot be allocated (${e.message})`, 'use fewer rows or columns');
    }
  }
  checkData(data, rows, cols, 'matrix');
  return { rows, cols, data };
}

function checkDims(rows: number, cols: number, what: string): void {
  if (!Number.isSafeInteger(rows) || rows < 0 || !Number.isSafeInteger(cols) || cols < 0) {
    throw new TreegateError(`${what}: rows and columns must be integers ≥ 0, got (${shown(rows)}, ${shown(cols)})`);
  }
}

function checkData(data: Float32Array, rows: number, cols: number, what: string): void {
  if (!(data instanceof Float32Array)) throw new TreegateError(`${what}: data must be a Float32Array`, 'make one with Float32Array.from(values), or matrix(rows, cols)');
  if (data.length < rows * cols) {
    throw new TreegateError(`${what}: data has ${data.length} elements, needs ${rows}×${cols} = ${rows * cols}`);
  }
}

/** Throws a clear error unless `m` is a well-formed matrix with `cols` columns (and `rows` rows if given). */
export function checkShape(m: Matrix, cols: number, what: string, rows?: number): void {
  if (typeof m !== 'object' || m === null || !('rows' in m && 'cols' in m && 'data' in m)) {
    throw new TreegateError(`${what} must be a matrix { rows, cols, data }, got ${shown(m)}`, 'make one with matrix(rows, cols, data)');
  }
  checkDims(m.rows, m.cols, what);
  if (m.cols !== cols || (rows !== undefined && m.rows !== rows)) {
    const want = rows === undefined ? `(N, ${cols})` : `(${rows}, ${cols})`;
    throw new TreegateError(`${what}: expected shape ${want}, got (${m.rows}, ${m.cols})`);
  }
  checkData(m.data, m.rows, m.cols, what);
}

/** Throws a clear error unless `labels` holds `rows` integer class indices in [0, classes), one per example. */
export function checkLabels(labels: Int32Array, rows: number, classes: number, what: string): void {
  if (!(labels instanceof Int32Array)) {
    throw new TreegateError(`${what}: labels (its y) must be an Int32Array, got ${shown(labels)}`,
      labels === undefined ? 'give the set its labels as y: { x, y }' : 'make one with Int32Array.from(labels)');
  }
  if (labels.length !== rows) throw new TreegateError(`${what}: ${labels.length} labels for ${rows} examples`, 'give one label per example');
  for (let i = 0; i < rows; i++) {
    const l = labels[i];
    if (l < 0 || l >= classes) throw new TreegateError(`${what}: label ${l} of example ${i} is not a class of the model`, `classes are 0…${classes - 1}`);
  }
}

/** Throws a clear error naming the first non-finite element of `m` (row and column from 0), if there is one. */
export function checkFinite(m: Matrix, what: string): void {
  const bad = firstNonFinite(m);
  if (bad) throw new TreegateError(`${what}: row ${bad.row}, column ${bad.col} is ${bad.value}`, 'inputs must be finite');
}

/** The first non-finite element of a matrix (row, column, value), or null if all are finite. */
export function firstNonFinite(m: Matrix): { row: number; col: number; value: number } | null {
  const n = m.rows * m.cols;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(m.data[i])) return { row: Math.floor(i / m.cols), col: i % m.cols, value: m.data[i] };
  }
  return null;
}

/**
 * A grow-only scratch buffer: returns a Float32Array view of at least `n`
 * elements, reallocating only when a larger size is asked for.
 * NOTE: contents are not zeroed; callers that accumulate must clear first.
 */
export class Scratch {
  private buf = new Float32Array(0);
  get(n: number): Float32Array {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.subarray(0, n);
  }
}
