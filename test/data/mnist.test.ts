import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultMnistDir, loadMnist, MNIST_FILES } from '../../src/data/mnist.js';
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
