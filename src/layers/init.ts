/**
 * Drawing a layer's initial weights in steps. `init(rng)` of the dense, tree and mixture layers draws every weight at
 * once; `initSteps(rng)` draws the same values, in the same order, and yields after every INIT_STEP of them, so that
 * a caller can do other work between steps: the speed experiment asks whether to stop (a depth-8 tree of 1024 → 1024
 * holds 536M weights, tens of seconds of draws in JS).
 */
import type { Rng } from '../core/rng.js';

/** The values drawn between two yields of initSteps: under a fifth of a second of rng.normal() (about 40 ns a draw). */
export const INIT_STEP = 2 ** 22;

/** Fills out[from, to) with rng.normal() · std · scale, in order, yielding after every INIT_STEP values. */
export function* normalSteps(rng: Rng, out: Float32Array, std: number, scale = 1, from = 0, to = out.length): Generator<void, void, void> {
  for (let i = from; i < to;) {
    const end = Math.min(to, i + INIT_STEP);
    // (× scale after × std, as the layers always drew: × 1 changes no bit)
    for (; i < end; i++) out[i] = rng.normal() * std * scale;
    yield;
  }
}

/** Runs a layer's initSteps to its end: its init. */
export function drain(steps: Iterator<void>): void {
  while (!steps.next().done);
}
