import type { Backend } from '../kernels/backend.js';
import { Routing } from '../kernels/routing.js';
import type { Param } from './param.js';

/**
 * Tables a layer derives from its parameters for inference (collapsed leaves, tables laid out by the
 * backend's packNodes), built on first use and again when a parameter's version or the backend changes.
 * A rebuild for the same backend gets the old tables, to write the new ones into their memory (fresh
 * memory is slow to touch: about 12 µs per 4 KB page on the development machine, 3 s per GB).
 */
export class InferenceTables<T> {
  private value: T | null = null;
  private versions: number[] = []; // of the parameters the tables were built from
  // the backend they were built by: the object, not its name (a second wasm backend, made by useWasm, is named wasm
  // too, and would have read the first one's tables, copied in on every call, and kept their memory from release)
  private backend: Backend | null = null;

  /**
   * `arrays`: the arrays a value of tables holds, which tables of another backend give back to the backend that made
   * them when the layer's backend changes (all but the parameters' own arrays, which a table may be: k = 0, flat, and
   * the plain layout's packNodes without an output). Without it the wasm backend's tables, in its module's memory, went
   * back only when collected: a model run alternately on two backends took a new set there at every switch (4 MiB
   * for the default model's tree layer), until the memory, which never shrinks, reached its bound.
   */
  constructor(private readonly arrays: (tables: T) => readonly Float32Array[] = () => []) {}

  get(be: Backend, params: readonly Param[], build: (be: Backend, previous: T | null) => T): T {
    if (this.value === null || be !== this.backend || !this.current(params)) {
      const previous = this.backend === be ? this.value : null;
      if (this.value !== null && this.backend !== null && this.backend !== be) this.giveBack(this.value, this.backend, params);
      this.value = null; // NOTE: tables of another backend can go before the new ones are built
      this.value = build(be, previous);
      this.versions = params.map((p) => p.version);
      this.backend = be;
    }
    return this.value;
  }

  /** Drops the tables (rebuilt on the next use), handing them to `release` first when given. */
  drop(release?: (tables: T) => void): void {
    if (this.value !== null) release?.(this.value);
    this.value = null;
    this.versions = [];
    this.backend = null;
  }

  /** Gives the arrays of `tables` back to `by`, the backend that made them, but for the parameters' own. */
  private giveBack(tables: T, by: Backend, params: readonly Param[]): void {
    const own = new Set<Float32Array>(params.map((p) => p.data));
    for (const a of this.arrays(tables)) if (!own.has(a)) by.release(a);
  }

  // whether the parameters are those the tables were built from (no string per call: one-example inference
  // calls this every time)
  private current(params: readonly Param[]): boolean {
    if (params.length !== this.versions.length) return false;
    for (let i = 0; i < params.length; i++) if (params[i].version !== this.versions[i]) return false;
    return true;
  }
}

/** A previous packed table to write the new one into: not where packNodes returned the weights themselves. */
export function reusable(previous: Float32Array | null, weights: Float32Array): Float32Array | undefined {
  return previous && previous !== weights ? previous : undefined;
}

/**
 * y = x Wᵀ + bias over N rows for inference, W (m rows of n) read as the backend's packNodes lays it out (packed once
 * per weight version) and every row in one node: an example's outputs are then the same sums in any batch on js and
 * native (a plain product of few rows may sum in another order than one of many).
 */
export class PackedAffine {
  private readonly tables = new InferenceTables<Float32Array>((t) => [t]);
  private readonly rows = new Routing();

  forward(be: Backend, weight: Param, m: number, n: number, x: Float32Array, N: number, bias: Float32Array, y: Float32Array): void {
    const w = this.tables.get(be, [weight], (b, prev) => b.packNodes(weight.data, 1, m, n, reusable(prev, weight.data)));
    const rt = this.rows;
    if (rt.n !== N) {
      rt.leaf = new Int32Array(Math.max(1, N));
      rt.sort(N, 0);
    }
    y.fill(0, 0, N * m);
    be.groupedForward(rt, x, n, w, bias, m, y, true);
  }

  /** Drops the packed tables, handing them to `release` first. */
  drop(release?: (tables: Float32Array) => void): void {
    this.tables.drop(release);
  }
}
