import type { Backend } from '../kernels/backend.js';
import type { Param } from './param.js';

/**
 * Tables a layer derives from its parameters for inference (collapsed leaves, tables laid out by the
 * backend's packNodes), built on first use and again when a parameter's version or the backend changes.
 */
export class InferenceTables<T> {
  private value: T | null = null;
  private key = '';

  get(be: Backend, params: readonly Param[], build: (be: Backend) => T): T {
    const key = `${be.name}:${params.map((p) => p.version).join(',')}`;
    if (this.value === null || key !== this.key) {
      this.value = null; // NOTE: the old tables can go before the new ones are built
      this.value = build(be);
      this.key = key;
    }
    return this.value;
  }

  /** Drops the tables (rebuilt on the next use). */
  drop(): void {
    this.value = null;
    this.key = '';
  }
}
