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

testOnEveryBackend('an example whose logits hold a NaN has no class and NaN probabilities (float32 sums of ±6e38 give inf − inf)', (be) => {
  const model = new Model(mlpConfig({ inputSize: 2, numClasses: 2, hidden: [], treeLayers: [], depth: 0 }));
  model.params()[0].data.set([0, 0, 2, -2]); // logit 1 = 2·x0 − 2·x1
  const p = model.predict(matrix(1, 2, Float32Array.of(3e38, 3e38)));
  const nan = Array.from(p.probabilities.data).some(Number.isNaN);
  // js sums in float64 (logit 1 is 0, a tie: class 0); wasm in float32, where the NaN must not pass for a class
  if (be === 'wasm') assert.ok(nan, 'wasm: the float32 sum overflows');
  assert.equal(p.classes[0], nan ? -1 : 0);
  assert.equal(p.overflowed, nan ? 1 : 0);
});
