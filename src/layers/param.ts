import { floatsFor, releaseFloats } from '../kernels/backend.js';

/**
 * A trainable tensor split into equal slots: one slot for a dense weight, one
 * slot per tree node for a tree-gated layer. Backward passes write gradients
 * only into the slots they touch and list them, so the optimizer's work (and
 * the clearing of gradients) scales with the touched slots, not with capacity.
 *
 * Invariant: between steps, `grad` is zero outside the listed touched slots.
 */
export class Param {
  readonly data: Float32Array;
  private gradient: Float32Array | null = null;
  readonly slotSize: number;
  readonly numSlots: number;
  /** Per-slot multiplier of the weight decay λ (γ^depth for tree nodes); null: never decayed. */
  readonly decayScale: Float32Array | null;
  /** Slots touched since the last clearGrad, in first-touch order; `touchedCount` of them are valid. */
  touched: Int32Array;
  touchedCount = 0;
  private isTouched: Uint8Array;
  /** Bumped whenever `data` changes (optimizer step, load), so derived tables know when to rebuild. */
  version = 0;
  /** Set by dispose: the arrays were given back, and nothing may read or update them. */
  disposed = false;

  constructor(readonly name: string, readonly shape: readonly number[], numSlots = 1, decayScale: Float32Array | null = null) {
    const size = shape.reduce((a, b) => a * b, 1);
    // where the backend's kernels read it fastest (the wasm backend: in its memory, addressed in place)
    this.data = floatsFor(name, size);
    this.numSlots = numSlots;
    this.slotSize = numSlots > 0 ? size / numSlots : 0;
    this.decayScale = decayScale;
    this.touched = new Int32Array(Math.min(numSlots, 64));
    this.isTouched = new Uint8Array(numSlots);
  }

  get size(): number {
    return this.data.length;
  }

  /**
   * The gradient, zeros at first, made on first use by the backend selected then (like data, where its kernels
   * read it fastest). A model that only infers never makes it; one that trains makes it at its first backward,
   * after its optimizer's state: where the wasm backend's memory cannot hold everything in place (residentBytes),
   * the weights and the optimizer's moments, which its fused training step reads in place, come first.
   */
  get grad(): Float32Array {
    return (this.gradient ??= floatsFor(`${this.name}'s gradient`, this.data.length));
  }

  /**
   * Gives data and grad back to the backend that made them (the wasm backend reuses their memory at once,
   * where collection would wait for a major GC) and leaves the parameter empty (size 0): a layer that holds it
   * cannot run any more.
   */
  dispose(): void {
    releaseFloats(this.data);
    if (this.gradient) releaseFloats(this.gradient);
    (this as { data: Float32Array }).data = new Float32Array(0);
    this.gradient = null;
    this.disposed = true;
    this.version++;
  }

  /** Marks slot `s` as holding a gradient this step. */
  touch(s: number): void {
    if (this.isTouched[s]) return;
    this.isTouched[s] = 1;
    if (this.touchedCount === this.touched.length) {
      const t = new Int32Array(Math.min(this.numSlots, this.touched.length * 2));
      t.set(this.touched);
      this.touched = t;
    }
    this.touched[this.touchedCount++] = s;
  }

  /** For slots[0..count): 1 where the slot holds no gradient yet (the `fresh` hint of groupedBackwardWeight). */
  freshFlags(slots: Int32Array, count: number): Uint8Array {
    const f = new Uint8Array(count);
    for (let g = 0; g < count; g++) f[g] = 1 - this.isTouched[slots[g]];
    return f;
  }

  /** The optimizer has zeroed the gradients of the touched slots (as it applied them): empties the list. */
  gradsCleared(): void {
    for (let i = 0; i < this.touchedCount; i++) this.isTouched[this.touched[i]] = 0;
    this.touchedCount = 0;
  }

  /** Zeroes the gradients of touched slots and empties the list: O(touched · slotSize). */
  clearGrad(): void {
    const z = this.slotSize;
    for (let i = 0; i < this.touchedCount; i++) {
      const s = this.touched[i];
      this.grad.fill(0, s * z, (s + 1) * z);
      this.isTouched[s] = 0;
    }
    this.touchedCount = 0;
  }
}
