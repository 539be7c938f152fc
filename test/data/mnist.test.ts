import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultMnistDir, loadMnist, loadMnistTest, MNIST_FILES } from '../../src/data/mnist.js';
import { TreegateError } from '../../src/core/errors.js';

test('loads the packaged MNIST: 60000/10000, labels in range, first label 5', () => {
  const { train, test: testSet, normalizationScale } = loadMnist();
  assert.equal(normalizationScale, 1 / 255);
  assert.equal(train.x.rows, 60000);
  assert.equal(train.x.cols, 784);
  assert.equal(testSet.x.rows, 10000);
  assert.equal(testSet.x.cols, 784);
  assert.equal(train.numClasses, 10);
  assert.equal(train.y[0], 5);
  assert.equal(testSet.y[0], 7);
  for (const ds of [train, testSet]) {
    const counts = new Array(10).fill(0);
    for (const l of ds.y) {
      assert.ok(l >= 0 && l < 10);
      counts[l]++;
    }
    assert.ok(counts.every((c) => c > ds.y.length / 20), `every class present: ${counts}`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < 784 * 100; i++) {
    min = Math.min(min, train.x.data[i]);
    max = Math.max(max, train.x.data[i]);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('limit: the first examples of each split, the bits of the whole set\'s; a limit past a split is all of it; a bad one refused', () => {
  const whole = loadMnist();
  const first = loadMnist({ limit: 1200 }), past = loadMnistTest({ limit: 20000 });
  for (const [part, all, n] of [[first.train, whole.train, 1200], [first.test, whole.test, 1200], [past, whole.test, 10000]] as const) {
    assert.deepEqual([part.name, part.x.rows, part.x.cols, part.numClasses], [all.name, n, 784, 10]);
    assert.deepEqual(part.x.data, all.x.data.subarray(0, n * 784));
    assert.deepEqual(part.y, all.y.subarray(0, n));
  }
  assert.equal(loadMnistTest({ limit: 0 }).x.rows, 0);
  assert.throws(() => loadMnist({ limit: 1.5 }), /MNIST options: limit/);
  assert.throws(() => loadMnist({ lmit: 5 } as never), /MNIST options/);
});

test('missing directory or file is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-mnist-'));
  try {
    assert.throws(() => loadMnist({ dir: join(dir, 'nope') }), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.match(e.message, /MNIST directory is missing/);
      assert.match(e.message, /--data-dir takes a folder holding the four uncompressed MNIST IDX files \(train-images-idx3-ubyte/);
      return true;
    });
    assert.throws(() => loadMnist({ dir }), (e: unknown) => {
      assert.ok(e instanceof TreegateError);
      assert.ok(e.message.includes(join(dir, MNIST_FILES.trainImages)), e.message);
      assert.match(e.message, /missing/);
      assert.match(e.message, /t10k-labels-idx1-ubyte/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mismatched or malformed files are rejected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-mnist-'));
  const src = defaultMnistDir();
  try {
    // Test files as "train" images, but train labels: counts disagree.
    copyFileSync(join(src, MNIST_FILES.testImages), join(dir, MNIST_FILES.trainImages));
    copyFileSync(join(src, MNIST_FILES.trainLabels), join(dir, MNIST_FILES.trainLabels));
    copyFileSync(join(src, MNIST_FILES.testImages), join(dir, MNIST_FILES.testImages));
    copyFileSync(join(src, MNIST_FILES.testLabels), join(dir, MNIST_FILES.testLabels));
    assert.throws(() => loadMnist({ dir }), /10000 images but .* 60000 labels/);
    // Wrong image shape.
    const img = new Uint8Array(4 + 12 + 2 * 3 * 3);
    img[2] = 8; img[3] = 3;
    new DataView(img.buffer).setUint32(4, 2, false);
    new DataView(img.buffer).setUint32(8, 3, false);
    new DataView(img.buffer).setUint32(12, 3, false);
    writeFileSync(join(dir, MNIST_FILES.trainImages), img);
    assert.throws(() => loadMnist({ dir }), /expected images of shape \(N, 28, 28\), got \(2, 3, 3\)/);
    // Truncated file.
    writeFileSync(join(dir, MNIST_FILES.trainImages), img.subarray(0, img.length - 1));
    assert.throws(() => loadMnist({ dir }), /truncated/);
    // A label past the digits: the labels file is named, and what to give instead.
    copyFileSync(join(src, MNIST_FILES.trainImages), join(dir, MNIST_FILES.trainImages));
    const labels = readFileSync(join(src, MNIST_FILES.testLabels));
    labels[8 + 5] = 12;
    writeFileSync(join(dir, MNIST_FILES.testLabels), labels);
    assert.throws(() => loadMnist({ dir }), new RegExp(`${MNIST_FILES.testLabels}: label 12 of example 5 is out of range \\[0, 10\\): not MNIST's labels \\(give a folder holding the four MNIST IDX files`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An IDX file of unsigned bytes: the given dimensions, then `data` (zeros where left out). */
function idxFile(dims: number[], data?: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + dims.reduce((a, d) => a * d, 1));
  out[2] = 8;
  out[3] = dims.length;
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  if (data) out.set(data, 4 + 4 * dims.length);
  return out;
}

test('loadMnistTest: the t10k images with their own labels, as mnist-test', () => {
  const t = loadMnistTest();
  assert.equal(t.name, 'mnist-test');
  assert.deepEqual([t.x.rows, t.x.cols, t.numClasses], [10000, 784, 10]);
  const labels = readFileSync(join(defaultMnistDir(), MNIST_FILES.testLabels)).subarray(8);
  assert.deepEqual(Array.from(t.y.subarray(0, 200)), Array.from(labels.subarray(0, 200)));
});

test('a folder of small IDX files: read as they are; refused, naming the file, for another image shape, labels of another shape, the label 10, a folder or an oversized file in a file\'s place, a file for the folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-mnist-'));
  const images = join(dir, MNIST_FILES.testImages), labels = join(dir, MNIST_FILES.testLabels);
  const pixels = Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 256);
  const write = (img: Uint8Array, lab: Uint8Array) => {
    writeFileSync(images, img);
    writeFileSync(labels, lab);
  };
  const refused = (re: RegExp) => assert.throws(() => loadMnistTest({ dir }), (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  const esc = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  try {
    write(idxFile([3, 28, 28], pixels), idxFile([3], Uint8Array.of(0, 9, 4)));
    const ok = loadMnistTest({ dir });
    assert.deepEqual(Array.from(ok.y), [0, 9, 4]);
    assert.equal(ok.x.data[784 + 5], Math.fround(((784 + 5) % 256) * (1 / 255)));
    // a limit reads the first images alone, the file's length checked against its header all the same
    const two = loadMnistTest({ dir, limit: 2 });
    assert.deepEqual([Array.from(two.y), two.x.data[784 + 5]], [[0, 9], ok.x.data[784 + 5]]);
    for (const [bytes, re] of [[idxFile([3, 28, 28], pixels).subarray(0, -1), /need 2352 data bytes but only 2351 follow the header/],
      [Uint8Array.of(...idxFile([3, 28, 28], pixels), 0), /1 trailing bytes after the 2352 data bytes/]] as const) {
      write(bytes, idxFile([3], Uint8Array.of(0, 9, 4)));
      assert.throws(() => loadMnistTest({ dir, limit: 1 }), (e: unknown) => e instanceof TreegateError && e.message.startsWith(`${images}: file `) && re.test(e.message), String(re));
    }
    write(idxFile([3, 28, 27]), idxFile([3]));
    refused(new RegExp(`^${esc(images)}: expected images of shape \\(N, 28, 28\\), got \\(3, 28, 27\\)`));
    write(idxFile([3, 28, 28, 1]), idxFile([3]));
    refused(/expected images of shape \(N, 28, 28\), got \(3, 28, 28, 1\)/);
    write(idxFile([3, 28, 28]), idxFile([3, 1]));
    refused(new RegExp(`^${esc(labels)}: expected labels of shape \\(N\\), got \\(3, 1\\)`));
    write(idxFile([3, 28, 28]), idxFile([3], Uint8Array.of(0, 10, 4)));
    refused(new RegExp(`^${esc(labels)}: label 10 of example 1 is out of range \\[0, 10\\): not MNIST's labels`));
    // a folder where the images file belongs
    rmSync(images);
    mkdirSync(images);
    refused(new RegExp(`^MNIST file ${esc(images)} is not a regular file \\(--data-dir takes`));
    rmSync(images, { recursive: true });
    // over 1 GiB is no MNIST file: refused before it is read (a sparse file)
    writeFileSync(images, '');
    truncateSync(images, 2 ** 30 + 1);
    refused(new RegExp(`^MNIST file ${esc(images)} is 1073741825 bytes, larger than the 1 GiB limit`));
    // a file given as the folder
    assert.throws(() => loadMnistTest({ dir: labels }), (e: unknown) => e instanceof TreegateError
      && new RegExp(`^MNIST directory ${esc(labels)} is not a directory \\(--data-dir takes`).test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
