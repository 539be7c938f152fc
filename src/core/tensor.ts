import { TreegateError } from './errors.js';

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

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (data === undefined) data = new Float32Array(rows * cols);
  if (data.length < rows * cols) {
    throw new TreegateError(`matrix data has ${data.length} elements, needs ${rows}×${cols} = ${rows * cols}`);
  }
  return { rows, cols, data };
}

/** Throws a clear error unless `m` has `cols` columns (and `rows` rows if given). */
export function checkShape(m: Matrix, cols: number, what: string, rows?: number): void {
  if (m.cols !== cols || (rows !== undefined && m.rows !== rows)) {
    const want = rows === undefined ? `(N, ${cols})` : `(${rows}, ${cols})`;
    throw new TreegateError(`${what}: expected shape ${want}, got (${m.rows}, ${m.cols})`);
  }
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
