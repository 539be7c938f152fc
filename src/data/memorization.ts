import { checkInt, checkKeys } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { matrix } from '../core/tensor.js';
import type { Dataset } from './dataset.js';

export interface MemorizationOptions {
  /** random inputs, each with a random label */
  examples: number;
  /** input width D */
  inputSize: number;
  /** number of classes C */
  classes: number;
}

export const MEMORIZATION_DEFAULTS: MemorizationOptions = { examples: 20000, inputSize: 64, classes: 10 };

/**
 * The synthetic memorization task of DESIGN §4: `examples` inputs drawn from a
 * standard normal (already zero-mean, unit-variance) with labels drawn uniformly
 * from C classes, independently of the inputs. Nothing generalizes; a model
 * can only fit the labels by storing them, so the fraction fitted measures
 * capacity, not compute. Seeded: the same rng state gives the same set.
 */
export function makeMemorization(o: MemorizationOptions, rng: Rng): Dataset {
  checkKeys(o, ['examples', 'inputSize', 'classes'], 'memorization sizes');
  const N = checkInt(o.examples, 'memorization: examples (--examples)', 1, 10_000_000);
  const D = checkInt(o.inputSize, 'memorization: inputSize (--input-size)', 1, 65536);
  const C = checkInt(o.classes, 'memorization: classes (--classes)', 2, 65536);
  checkInt(N * D, `memorization: ${N} examples × ${D} inputs (--examples × --input-size)`, 1, 2 ** 31 - 1);
  const x = new Float32Array(N * D);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) y[i] = rng.int(C);
  return { name: `memorization-${N}x${D}-c${C}`, x: matrix(N, D, x), y, numClasses: C };
}
