/**
 * What a layer keeps between its forward and backward passes, and how a model breaks ties: a second mutation review
 * found both unguarded. An inference pass leaves nothing for a backward pass to use (it would take the gradient of
 * another batch's inputs), and a mixture's balance loss is the last training pass's; equal logits give the first
 * class, as Model.predict promises.
 */
import assert from 'node:assert/strict';
import { matrix } from '../../src/core/tensor.js';
import { Rng } from '../../src/core/rng.js';
import { Dense } from '../../src/layers/dense.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { MixtureOfExperts } from '../../src/layers/moe.js';
import { testOnEveryBackend } from '../backends.js';

testOnEveryBackend('a backward pass after an inference pass is refused (dense, mixture of experts); the mixture\'s balance loss is 0 after one', () => {
  const rng = new Rng(3), x = (rows: number) => matrix(rows, 4, Float32Array.from({ length: rows * 4 }, () => rng.normal()));
  const dense = new Dense(4, 3).init(rng);
  const moe = new MixtureOfExperts({ inputSize: 4, outputSize: 3, experts: 4, topK: 2 }).init(rng);
  for (const layer of [dense, moe]) {
    layer.forward(x(5), 'train');
    layer.forward(x(2), 'infer');
    assert.throws(() => layer.backward(matrix(2, 3, new Float32Array(6)), true), /backward without a train forward/, layer.constructor.name);
  }
  moe.forward(x(5), 'train');
  assert.ok(moe.auxLoss() > 0);
  moe.forward(x(2), 'infer');
  assert.equal(moe.auxLoss(), 0);
});

testOnEveryBackend('equal logits give the first class (a model of zero weights: class 0 for every example)', () => {
  const model = new Model(mlpConfig({ inputSize: 4, numClasses: 3, hidden: [5], treeLayers: [], depth: 0 })); // no Rng: zeros
  const x = matrix(3, 4, Float32Array.of(1, 2, 3, 4, -1, 0, 1, 2, 0, 0, 0, 0));
  assert.deepEqual(Array.from(model.predict(x).classes), [0, 0, 0]);
  assert.equal(model.evaluate(x, new Int32Array(3)).accuracy, 1);
});
