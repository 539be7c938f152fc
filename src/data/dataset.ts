import { check, checkInt, checkNumber, checkPositive, shown, TreegateError } from '../core/errors.js';
import { checkFinite, checkShape, matrix, type Matrix } from '../core/tensor.js';
import type { Rng } from '../core/rng.js';
import { MIN_STD, perFeature, normalizationProblem, type InputNormalization } from '../core/normalization.js';

/** A labelled classification dataset: x is (N, D) float32, y[i] in [0, numClasses). */
export interface Dataset { name: string; x: Matrix; y: Int32Array; numClasses: number }

/**
 * Input preprocessing, saved with a model so it can be reproduced:
 * x' = (raw * scale - mean) / std, with one mean and std for all features or one per feature.
 */
export type Normalization = InputNormalization;
export { MIN_STD };

/**
 * Builds a dataset from raw bytes: x[i, j] = float32(images[i*features + j] * scale).
 * Checks the buffer sizes and that every label is below numClasses.
 */
export function fromBytes(
  name: string,
  images: Uint8Array,
  labels: Uint8Array,
  count: number,
  features: number,
  numClasses: number,
  scale: number,
): Dataset {
  checkInt(count, `${name}: example count`, 0);
  checkInt(features, `${name}: feature count`, 1);
  checkInt(numClasses, `${name}: number of classes`, 1);
  checkNumber(scale, `${name}: scale`);
  check(images.length === count * features,
    `${name}: expected ${count}×${features} = ${count * features} image bytes, got ${images.length}`);
  check(labels.length === count, `${name}: expected ${count} labels, got ${labels.length}`);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = labels[i];
    check(l < numClasses, `${name}: label ${l} of example ${i} is out of range [0, ${numClasses})`);
    y[i] = l;
  }
  const data = new Float32Array(count * features);
  for (let i = 0; i < data.length; i++) data[i] = images[i] * scale;
  return { name, x: matrix(count, features, data), y, numClasses };
}

/**
 * Mean and (population) standard deviation of ds.x, which already has `scale` applied, computed in float64: over
 * all elements (one number each), or with `perFeature` over each column (a list each, for features of different
 * scales, such as a CSV's columns). Data that does not vary (a standard deviation under MIN_STD) gets std 1, so
 * that its values pass unscaled, less their mean.
 */
export function computeNormalization(ds: Dataset, scale: number, perFeature?: false): { scale: number; mean: number; std: number };
export function computeNormalization(ds: Dataset, scale: number, perFeature: true): { scale: number; mean: number[]; std: number[] };
export function computeNormalization(ds: Dataset, scale: number, perFeature = false): Normalization {
  const { rows, cols } = ds.x;
  check(rows * cols > 0, `${ds.name}: cannot compute normalization of an empty dataset`, 'give it at least one example');
  checkPositive(scale, `${ds.name}: the normalization scale`,
    'pass the factor raw values are multiplied by first: 1 for values as they are, 1 / 255 for pixel bytes');
  // a NaN in the data would make a NaN mean, blamed later on the normalization rather than the example
  checkFinite(ds.x, `${ds.name}: inputs`);
  const d = ds.x.data;
  if (!perFeature) {
    const n = rows * cols;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += d[i];
    const mean = sum / n;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const t = d[i] - mean;
      ss += t * t;
    }
    const std = Math.sqrt(ss / n);
    return { scale, mean, std: std < MIN_STD ? 1 : std };
  }
  const sum = new Float64Array(cols), ss = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sum[c] += d[r * cols + c];
  const mean = Array.from(sum, (v) => v / rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const t = d[r * cols + c] - mean[c];
      ss[c] += t * t;
    }
  }
  const std = Array.from(ss, (v) => {
    const s = Math.sqrt(v / rows);
    return s < MIN_STD ? 1 : s;
  });
  return { scale, mean, std };
}

/** A new dataset with x' = (x - mean) / std (x already scaled); labels are shared. */
export function normalize(ds: Dataset, norm: Normalization): Dataset {
  const copy = { ...ds, x: matrix(ds.x.rows, ds.x.cols, ds.x.data.slice(0, ds.x.rows * ds.x.cols)) };
  return normalizeInPlace(copy, norm);
}

/**
 * A model's inputs from raw features (pixel bytes, a CSV's values): x = float32((float32(raw · scale) − mean) / std)
 * with the model's `config.normalization`, as treegate's loaders and `train` compute them (docs/format.md §4), so
 * that `model.forward` and `evaluate` see what the model was trained on. A new matrix; raw is not changed. A finite
 * value that normalizes past float32 (many standard deviations from a feature of tiny spread) is an error naming
 * it (`where`: how to name an element, from 0), not a non-finite input found later.
 */
export function normalizeInputs(raw: Matrix, norm: Normalization | undefined,
  where: (row: number, col: number) => string = (row, col) => `raw inputs: row ${row}, column ${col}`): Matrix {
  check(typeof raw === 'object' && raw !== null, `normalizeInputs takes a matrix of raw features, got ${shown(raw)}`,
    'make one with matrix(rows, cols, data); readCsv gives one as its result\'s data.x');
  check(raw.data instanceof Float32Array, `normalizeInputs: the raw features' data must be a Float32Array, got ${shown(raw.data)}`,
    'make one with Float32Array.from(values), e.g. of readIdx(…).data\'s pixel bytes');
  checkShape(raw, raw.cols, 'raw inputs');
  // a model made without a normalization (the API's, not train's) takes its inputs as they are
  if (norm === undefined) return matrix(raw.rows, raw.cols, raw.data.slice(0, raw.rows * raw.cols));
  checkNormalization(norm, raw.cols);
  const { rows, cols } = raw, out = matrix(rows, cols);
  const scale = norm.scale, mean = perFeature(norm.mean, cols), std = perFeature(norm.std, cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      out.data[i] = (Math.fround(raw.data[i] * scale) - mean[c]) / std[c];
      if (!Number.isFinite(out.data[i]) && Number.isFinite(raw.data[i])) {
        throw new TreegateError(`${where(r, c)}: ${raw.data[i]} lies ${(Math.abs(raw.data[i] * scale - mean[c]) / std[c]).toPrecision(3)} standard ` +
          `deviations from the training data's mean of that feature (${mean[c]}, std ${std[c]}): past float32 once normalized`,
          'the value is far outside what the model was trained on: check it and its unit');
      }
    }
  }
  return out;
}

function checkNormalization(norm: Normalization, cols: number): void {
  const problem = normalizationProblem(norm, cols, 'the inputs have');
  check(problem === undefined, problem!);
}

/**
 * x ← (x - mean) / std in place, for a dataset this code owns (saves a copy of a large array): features already
 * multiplied by the normalization's scale, as treegate's loaders (loadMnist, loadFashionMnist) return them. Raw
 * features (pixel bytes, a CSV's values) go through normalizeInputs, which applies the scale first. Without a
 * normalization (a model made through the API without one) the features are left as they are, as normalizeInputs
 * leaves them.
 */
export function normalizeInPlace(ds: Dataset, norm: Normalization | undefined): Dataset {
  if (norm === undefined) return ds;
  checkNormalization(norm, ds.x.cols);
  const { rows, cols } = ds.x;
  const d = ds.x.data;
  const mean = perFeature(norm.mean, cols), std = perFeature(norm.std, cols);
  // (prepareData names a test value that this takes past float32, with its file's example and feature)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[r * cols + c] = (d[r * cols + c] - mean[c]) / std[c];
  return ds;
}

/** A new dataset holding the given examples, in the given order (repeats allowed). */
export function subset(ds: Dataset, indices: Int32Array | number[], name = ds.name): Dataset {
  const { rows, cols } = ds.x;
  const n = indices.length;
  const out = new Float32Array(n * cols);
  const y = new Int32Array(n);
  const src = ds.x.data;
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    check(Number.isInteger(i) && i >= 0 && i < rows,
      `${ds.name}: subset index ${i} (position ${k}) is out of range [0, ${rows})`);
    out.set(src.subarray(i * cols, (i + 1) * cols), k * cols);
    y[k] = ds.y[i];
  }
  return { name, x: matrix(n, cols, out), y, numClasses: ds.numClasses };
}

/** splitValidation's two parts, and the rows of the split dataset each part's rows were (ascending). */
export interface Split { train: Dataset; validation: Dataset; trainRows: Int32Array; validationRows: Int32Array }

/**
 * Seeded random split: `validationCount` examples (chosen by rng.permutation)
 * go to the validation set, the rest to the training set. Each part keeps the
 * original relative order of its examples. validationCount may be 0 and must
 * be below N. With `inPlace`, the training part reuses ds's arrays (its rows
 * moved to the front; ds must not be used afterwards): no copy of the larger
 * part, whose fresh allocation cost half a second of page faults for MNIST.
 */
export function splitValidation(ds: Dataset, validationCount: number, rng: Rng, inPlace = false): Split {
  const n = ds.x.rows;
  check(n > 0, `${ds.name}: cannot split an empty dataset`);
  checkInt(validationCount, 'validation count', 0, n - 1);
  const perm = rng.permutation(n);
  const val = perm.slice(0, validationCount).sort();
  const train = perm.slice(validationCount).sort();
  const validation = subset(ds, val, `${ds.name}/validation`);
  if (!inPlace) return { train: subset(ds, train, `${ds.name}/train`), validation, trainRows: train, validationRows: val };
  // train is ascending, so train[r] ≥ r: moving rows forward in order never overwrites one still to move
  const { cols } = ds.x, d = ds.x.data, y = ds.y, T = train.length;
  for (let r = 0; r < T; r++) {
    const i = train[r];
    if (i === r) continue;
    d.copyWithin(r * cols, i * cols, (i + 1) * cols);
    y[r] = y[i];
  }
  const rows = { name: `${ds.name}/train`, x: matrix(T, cols, d.subarray(0, T * cols)), y: y.subarray(0, T), numClasses: ds.numClasses };
  return { train: rows, validation, trainRows: train, validationRows: val };
}

/** The first n examples (n clamped to N), e.g. for quick runs and tests. */
export function takeFirst(ds: Dataset, n: number): Dataset {
  checkInt(n, 'example count', 0);
  const m = Math.min(n, ds.x.rows);
  const { cols } = ds.x;
  return {
    name: ds.name,
    x: matrix(m, cols, ds.x.data.slice(0, m * cols)),
    y: ds.y.slice(0, m),
    numClasses: ds.numClasses,
  };
}
