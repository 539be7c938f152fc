import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeNormalization, fromBytes, normalize, normalizeInputs, splitValidation, subset, takeFirst, type Dataset,
} from '../../src/data/dataset.js';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { TreegateError } from '../../src/core/errors.js';

/** n examples of 3 features; example i has pixels [i, i+1, i+2] and label i % 4. */
function toy(n: number, scale = 1): Dataset {
  const images = new Uint8Array(n * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    images.set([i, i + 1, i + 2], i * 3);
    labels[i] = i % 4;
  }
  return fromBytes('toy', images, labels, n, 3, 4, scale);
}

test('fromBytes scales to float32 and checks sizes and labels', () => {
  const ds = fromBytes('t', new Uint8Array([0, 255, 128, 1]), new Uint8Array([1, 0]), 2, 2, 2, 1 / 255);
  assert.equal(ds.x.rows, 2);
  assert.equal(ds.x.cols, 2);
  assert.ok(ds.x.data instanceof Float32Array);
  assert.deepEqual(Array.from(ds.x.data), [0, 1, Math.fround(128 / 255), Math.fround(1 / 255)]);
  assert.deepEqual(Array.from(ds.y), [1, 0]);
  assert.equal(ds.numClasses, 2);
  assert.throws(() => fromBytes('t', new Uint8Array(3), new Uint8Array(2), 2, 2, 2, 1), /image bytes/);
  assert.throws(() => fromBytes('t', new Uint8Array(4), new Uint8Array(3), 2, 2, 2, 1), /labels/);
  assert.throws(() => fromBytes('t', new Uint8Array(4), new Uint8Array([0, 2]), 2, 2, 2, 1),
    (e: unknown) => e instanceof TreegateError && /label 2 of example 1 is out of range/.test(e.message));
});

test('computeNormalization and normalize', () => {
  const ds = toy(4, 0.5);
  // Elements: 0.5 * {0,1,2, 1,2,3, 2,3,4, 3,4,5}
  const vals = [0, 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5].map((v) => v * 0.5);
  const mean = vals.reduce((a, b) => a + b) / vals.length;
  const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
  const norm = computeNormalization(ds, 0.5);
  assert.equal(norm.scale, 0.5);
  assert.ok(Math.abs(norm.mean - mean) < 1e-12);
  assert.ok(Math.abs(norm.std - std) < 1e-12);
  const n = normalize(ds, norm);
  assert.notEqual(n.x.data, ds.x.data);
  assert.deepEqual(Array.from(ds.x.data), vals, 'input unchanged');
  for (let i = 0; i < vals.length; i++) assert.equal(n.x.data[i], Math.fround((Math.fround(vals[i]) - norm.mean) / norm.std));
  const m = n.x.data.reduce((a, b) => a + b, 0) / vals.length;
  assert.ok(Math.abs(m) < 1e-6);
  assert.deepEqual(n.y, ds.y);
  // Constant data: std 1, its values passed unscaled, less the mean
  const c = fromBytes('c', new Uint8Array([7, 7, 7, 7]), new Uint8Array([0, 0]), 2, 2, 1, 1);
  const cn = computeNormalization(c, 1);
  assert.equal(cn.mean, 7);
  assert.equal(cn.std, 1);
  assert.deepEqual(Array.from(normalize(c, cn).x.data), [0, 0, 0, 0]);
  // a spread under MIN_STD (1e-30) does not vary either, over all elements or per column (D02, D03)
  const tiny: Dataset = { name: 't', x: matrix(2, 1, Float32Array.from([1e-38, 3e-38])), y: new Int32Array(2), numClasses: 1 };
  assert.deepEqual([computeNormalization(tiny, 1).std, computeNormalization(tiny, 1, true).std], [1, [1]]);
  // a dataset of no features has no normalization (D14)
  assert.throws(() => computeNormalization({ ...tiny, x: matrix(2, 0) }, 1), /t: cannot compute normalization of an empty dataset/);
});

test('computeNormalization per feature: each column its own mean and std, a constant column std 1; applied per column', () => {
  // two examples, three columns: 1e-6-scale, 1e6-scale, constant
  const ds: Dataset = { name: 'p', x: matrix(2, 3, Float32Array.from([1e-6, 1e6, 5, 3e-6, 3e6, 5])), y: new Int32Array(2), numClasses: 2 };
  const nz = computeNormalization(ds, 1, true);
  assert.equal(nz.mean.length, 3);
  assert.ok(Math.abs(nz.mean[0] - 2e-6) < 1e-12 && Math.abs(nz.std[0] - 1e-6) < 1e-12, JSON.stringify(nz));
  assert.ok(Math.abs(nz.mean[1] - 2e6) < 1e-3 && Math.abs(nz.std[1] - 1e6) < 1e-3, JSON.stringify(nz));
  assert.deepEqual([nz.mean[2], nz.std[2]], [5, 1], 'a constant column passes unscaled, less its mean');
  // a column of a tiny unit (nanometres in metres) varies: it is standardized as any other, not taken as constant
  const nano = computeNormalization({ name: 'n', x: matrix(2, 1, Float32Array.from([1e-9, 3e-9])), y: new Int32Array(2), numClasses: 2 }, 1, true);
  assert.ok(Math.abs(nano.mean[0] - 2e-9) < 1e-15 && Math.abs(nano.std[0] - 1e-9) < 1e-15, JSON.stringify(nano));
  const n = normalize(ds, nz);
  for (const [i, v] of [-1, -1, 0, 1, 1, 0].entries()) assert.ok(Math.abs(n.x.data[i] - v) < 1e-5, `element ${i}: ${n.x.data[i]}`);
  // normalizeInputs from raw values gives the same bits
  assert.deepEqual(Array.from(normalizeInputs(ds.x, nz).data), Array.from(n.x.data));
  assert.throws(() => computeNormalization(ds, 0, true), /normalization scale must be a finite number > 0, got 0/);
  // a finite value that normalizes past float32 (3e38 in the 1e-6-scale column) is named, not passed on as Infinity
  assert.throws(() => normalizeInputs(matrix(1, 3, Float32Array.from([3e38, 0, 5])), nz),
    /raw inputs: row 0, column 0: .* standard deviations from the training data's mean .*past float32 once normalized/);
  // lists of the wrong length are refused, naming the field
  assert.throws(() => normalize(ds, { scale: 1, mean: [0, 0], std: 1 }), (e: unknown) => e instanceof TreegateError && /normalization\.mean holds 2 values, the inputs have 3 features/.test(e.message));
  // a raw value that is not finite passes as it is: only a finite one taken past float32 is an error (D06)
  assert.deepEqual(Array.from(normalizeInputs(matrix(1, 3, Float32Array.from([Infinity, 0, 5])), { scale: 1, mean: 0, std: 1 }).data), [Infinity, 0, 5]);
});

test('subset copies rows in order and checks indices', () => {
  const ds = toy(5);
  const s = subset(ds, [4, 0, 4]);
  assert.equal(s.x.rows, 3);
  assert.deepEqual(Array.from(s.x.data), [4, 5, 6, 0, 1, 2, 4, 5, 6]);
  assert.deepEqual(Array.from(s.y), [0, 0, 0]);
  assert.deepEqual(Array.from(subset(ds, new Int32Array([1])).y), [1]);
  assert.equal(subset(ds, []).x.rows, 0);
  assert.throws(() => subset(ds, [5]), /out of range/);
  assert.throws(() => subset(ds, [-1]), /out of range/);
  assert.throws(() => subset(ds, [1.5]), /out of range/);
});

test('splitValidation is a seeded partition', () => {
  const ds = toy(50);
  const a = splitValidation(ds, 10, new Rng(123));
  const b = splitValidation(ds, 10, new Rng(123));
  const c = splitValidation(ds, 10, new Rng(124));
  assert.equal(a.validation.x.rows, 10);
  assert.equal(a.train.x.rows, 40);
  assert.deepEqual(a.validation.x.data, b.validation.x.data);
  assert.deepEqual(a.train.y, b.train.y);
  assert.notDeepEqual(a.validation.x.data, c.validation.x.data);
  // Partition: each example (identified by its first pixel) exactly once.
  const firsts = (d: Dataset) => Array.from({ length: d.x.rows }, (_, i) => d.x.data[i * 3]);
  const all = [...firsts(a.train), ...firsts(a.validation)].sort((p, q) => p - q);
  assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i));
  // Each part in the dataset's order, its rows ascending (D09)
  for (const part of [a.trainRows, a.validationRows]) assert.deepEqual(Array.from(part), Array.from(part).sort((p, q) => p - q));
  assert.deepEqual(firsts(a.validation), Array.from(a.validationRows));
  // Rows stay consistent with labels.
  for (const d of [a.train, a.validation]) {
    for (let i = 0; i < d.x.rows; i++) assert.equal(d.y[i], d.x.data[i * 3] % 4);
  }
  const z = splitValidation(ds, 0, new Rng(1));
  assert.equal(z.validation.x.rows, 0);
  assert.deepEqual(z.train.x.data, ds.x.data);
  assert.throws(() => splitValidation(ds, 50, new Rng(1)), TreegateError);
  assert.throws(() => splitValidation(ds, -1, new Rng(1)), TreegateError);
  assert.throws(() => splitValidation(ds, 2.5, new Rng(1)), TreegateError);
  assert.throws(() => splitValidation(toy(0), 0, new Rng(1)), /toy: cannot split an empty dataset/); // (D18)
});

test('splitValidation in place gives the copying split, reusing the dataset\'s arrays for the training part', () => {
  for (const [N, held, seed] of [[50, 10, 123], [7, 6, 1], [30, 0, 2], [1, 0, 3]] as const) {
    const copy = splitValidation(toy(N), held, new Rng(seed));
    const ds = toy(N);
    const inPlace = splitValidation(ds, held, new Rng(seed), true);
    for (const part of ['train', 'validation'] as const) {
      assert.equal(inPlace[part].x.rows, copy[part].x.rows, `N=${N} ${part} rows`);
      assert.deepEqual(Array.from(inPlace[part].x.data), Array.from(copy[part].x.data), `N=${N} ${part} x`);
      assert.deepEqual(Array.from(inPlace[part].y), Array.from(copy[part].y), `N=${N} ${part} y`);
    }
    assert.equal(inPlace.train.x.data.buffer, ds.x.data.buffer, 'the training part shares the dataset\'s buffer');
  }
});

test('takeFirst clamps and copies', () => {
  const ds = toy(5);
  const t = takeFirst(ds, 2);
  assert.equal(t.x.rows, 2);
  assert.deepEqual(Array.from(t.x.data), [0, 1, 2, 1, 2, 3]);
  assert.deepEqual(Array.from(t.y), [0, 1]);
  assert.equal(takeFirst(ds, 100).x.rows, 5);
  assert.equal(takeFirst(ds, 0).x.rows, 0);
  assert.throws(() => takeFirst(ds, -1), TreegateError);
});
