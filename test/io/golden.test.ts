/**
 * Golden files: a model file and a checkpoint as this version writes them, committed under test/fixtures/, and the
 * checksum of a fixed input. Writer and reader share the codecs, so a change to either (the checksum's words, a
 * metadata key, the layout) passes every round trip, while every file written before it is then refused as damaged or
 * read otherwise; here it fails. The files are read on every backend that loads (js, wasm, native where built): the
 * bytes and the weights do not depend on the backend.
 *
 * The format may change on purpose only with a new format string (MODEL_FORMAT, CHECKPOINT_FORMAT; docs/format.md),
 * and readers of the old one kept. Then regenerate the files (written on the js backend; the same bytes each time) with
 *   TREEGATE_WRITE_FIXTURES=1 node --import tsx --test test/io/golden.test.ts
 * which overwrites them and prints the values to pin below (copy the old files aside first where a test is to read
 * the old format).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { contentChecksum } from '../../src/io/checksum.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { decodeModel, encodeModel } from '../../src/io/model-codec.js';
import { setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { Model, mlpConfig } from '../../src/layers/model.js';
import { Optimizer } from '../../src/train/optim.js';
import { Trainer } from '../../src/train/trainer.js';

const MODEL = new URL('../fixtures/model.safetensors', import.meta.url);
const CHECKPOINT = new URL('../fixtures/checkpoint.safetensors', import.meta.url);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The inputs the pinned prediction is of. */
const X = matrix(2, 3, Float32Array.of(0.5, -1, 2, -0.25, 0.75, 0));

/**
 * The golden model and checkpoint: a unit-gated tree layer of depth 1 (3 → 4, relu, dense → 2 classes) after three
 * Adam steps on 8 examples in batches of 4 (the second epoch's first step: the history holds one epoch), its times
 * set to 0.
 */
function makeGolden(): { model: Uint8Array; checkpoint: Uint8Array } {
  setBackend('js');
  const rng = new Rng(20261206);
  const model = new Model(mlpConfig({ inputSize: 3, numClasses: 2, hidden: [4], treeLayers: [1], depth: 1, gating: 'units' }), rng.fork());
  const data = { x: matrix(8, 3, Float32Array.from({ length: 24 }, () => rng.uniform() * 2 - 1)), y: Int32Array.of(0, 1, 1, 0, 1, 0, 0, 1) };
  const trainer = new Trainer(model, data, null, { epochs: 2, batchSize: 4, lr: 0.05, schedule: 'constant', optimizer: { kind: 'adam' } }, rng.fork());
  for (let i = 0; i < 3; i++) trainer.step();
  const progress = trainer.snapshot();
  progress.seconds = 0;
  for (const e of progress.history) e.seconds = 0;
  const run = { progress, options: { lr: 0.05, batchSize: 4 }, metrics: ['{"type":"step","step":3}'], extra: { note: 'golden' } };
  return { model: encodeModel(model), checkpoint: encodeCheckpoint(model, trainer.optimizer, run) };
}

if (process.env.TREEGATE_WRITE_FIXTURES === '1') {
  const { model, checkpoint } = makeGolden();
  writeFileSync(MODEL, model);
  writeFileSync(CHECKPOINT, checkpoint);
  const m = decodeModel(model, 'model'), p = m.predict(X);
  console.log(JSON.stringify({ model: sha256(model), checkpoint: sha256(checkpoint), weights: Array.from(m.params()[0].data.subarray(0, 4)),
    classes: Array.from(p.classes), probabilities: Array.from(p.probabilities.data) }));
}

// the pinned values (see above to regenerate them)
const MODEL_SHA256 = 'ba73a45f15ca876219a83a587a16128dd26245402918a9831e469b53f433e970';
const CHECKPOINT_SHA256 = '5cc8c40bf33713016b9671dc14a7b90fdb5561722a6c3dc9bad1c198be6dce01';
const FIRST_WEIGHTS = [1.4578526020050049, 0.7821930646896362, -0.20116913318634033, 0.783383846282959]; // layers.0.blocks.0.weight
const PROBABILITIES = [0.42050108313560486, 0.5794988870620728, 0.010990043170750141, 0.9890099763870239]; // of X, on js

const backends = registerAvailableBackends();

test('the checksum of a fixed input is pinned (writer and reader would change it together)', () => {
  const tensors = [{ name: 'b', data: Float32Array.of(1, -0, 3.5e-42, -2.5) }, { name: 'a', data: new Float32Array(0) }, { name: 'a.b', data: Float32Array.of(7) }];
  assert.equal(contentChecksum({ format: 'treegate-model/1', config: '{"é":1}' }, ['format', 'config', 'absent'], tensors), '280ab5339487cb6a');
  assert.equal(contentChecksum({}, [], []), '811c9dc52545f491', 'nothing summed: the two lanes\' starting values (docs/format.md §2)');
});

test('the golden model file loads on every backend, predicts as pinned and encodes again to the same bytes', () => {
  const bytes = readFileSync(MODEL);
  assert.equal(sha256(bytes), MODEL_SHA256, 'the committed file is unchanged');
  try {
    for (const name of backends) {
      setBackend(name);
      const model = decodeModel(bytes, 'model.safetensors');
      assert.deepEqual(model.params().map((p) => p.name), ['layers.0.blocks.0.weight', 'layers.0.blocks.0.bias', 'layers.2.weight', 'layers.2.bias'], name);
      assert.deepEqual(Array.from(model.params()[0].data.subarray(0, 4)), FIRST_WEIGHTS, `${name}: weights`);
      const p = model.predict(X);
      assert.deepEqual(Array.from(p.classes), [1, 1], `${name}: classes`);
      p.probabilities.data.forEach((v, i) => assert.ok(Math.abs(v - PROBABILITIES[i]) < 1e-6, `${name}: probability ${i} is ${v}, pinned ${PROBABILITIES[i]}`));
      assert.ok(Buffer.from(encodeModel(model)).equals(bytes), `${name}: encoded again, the same bytes`);
      model.dispose();
    }
  } finally {
    setBackend('js');
  }
});

test('the golden checkpoint loads on every backend, with the model file\'s weights, and encodes again to the same bytes', () => {
  const bytes = readFileSync(CHECKPOINT), weights = decodeModel(readFileSync(MODEL), 'model.safetensors').params().map((p) => p.data);
  assert.equal(sha256(bytes), CHECKPOINT_SHA256, 'the committed file is unchanged');
  try {
    for (const name of backends) {
      setBackend(name);
      const { model, run, optimizerState } = decodeCheckpoint(bytes, 'checkpoint.safetensors');
      assert.deepEqual(model.params().map((p) => p.data), weights, `${name}: the model file's weights`);
      const { epoch, step, position, epochRng, history } = run.progress;
      assert.deepEqual({ epoch, step, position, epochRng }, { epoch: 2, step: 3, position: 4, epochRng: { s: [3907517440, 1598026314, 991053269, 2704855579], spare: null } }, name);
      assert.deepEqual(history.map((e) => e.trees[0].usage), [[[3, 5]]], `${name}: the first epoch's leaf usage`);
      assert.deepEqual([run.options, run.metrics, run.extra], [{ lr: 0.05, batchSize: 4 }, ['{"type":"step","step":3}'], { note: 'golden' }], name);
      assert.deepEqual(optimizerState.map((s) => Array.from(s.steps)), [[3, 3, 3], [3, 3, 3], [3], [3]], `${name}: step counts`);
      const optimizer = new Optimizer(model.params(), { kind: 'adam' });
      optimizer.loadState(optimizerState);
      assert.ok(Buffer.from(encodeCheckpoint(model, optimizer, run)).equals(bytes), `${name}: encoded again, the same bytes`);
      model.dispose();
    }
  } finally {
    setBackend('js');
  }
});
