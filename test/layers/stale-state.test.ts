/**
 * What a layer keeps between its forward and backward passes, and how a model breaks ties: a second mutation review
 * found both unguarded. An inference pass leaves nothing for a backward pass to use (it would take the gradient of
 * another batch's inputs), and a mixture's balance loss is the last training pass's; equal logits give the first
 * class, as Model.predict promises.
 */
import assert from 'node:assert/strict';
import { matrix } from '../../src/core/tensor.js';
import { Rng } from '../../src/core/rng.js';
import { Activation } from '../../src/layers/activation.js';
import { Dense } from '../../src/layers/dense.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { MixtureOfExperts } from '../../src/layers/moe.js';
import { TreeGated } from '../../src/layers/tree.js';
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

testOnEveryBackend('a backward pass after an inference pass is refused by the activation, tree and flat layers too', () => {
  // each kept the inference pass's state (the activation its output, the tree its row count), and took the gradient of
  // the inference batch's rows
  const rng = new Rng(5), x = (rows: number) => matrix(rows, 4, Float32Array.from({ length: rows * 4 }, () => rng.normal()));
  const layers = [
    new Activation('relu', 4),
    new TreeGated({ inputSize: 4, outputSize: 3, depth: 2 }).init(rng),
    new TreeGated({ kind: 'flat', inputSize: 4, outputSize: 3, depth: 2, gating: 'projection' }).init(rng),
  ];
  for (const layer of layers) {
    layer.forward(x(5), 'train');
    layer.forward(x(2), 'infer');
    assert.throws(() => layer.backward(matrix(2, layer.outputSize, new Float32Array(2 * layer.outputSize)), true), /backward without a train forward/, layer.kind);
  }
});

testOnEveryBackend('leafUsage is a copy of the counts: a later pass or reset leaves counts already read as they were (tree, mixture)', () => {
  const rng = new Rng(6), x = matrix(6, 4, Float32Array.from({ length: 24 }, () => rng.normal()));
  for (const layer of [new TreeGated({ inputSize: 4, outputSize: 3, depth: 2, blocks: 2 }).init(rng), new MixtureOfExperts({ inputSize: 4, outputSize: 3, experts: 3 }).init(rng)]) {
    layer.forward(x, 'infer');
    const read = layer.leafUsage().counts, before = read.map((c) => Array.from(c));
    layer.forward(x, 'train');
    assert.deepEqual(read.map((c) => Array.from(c)), before, `${layer.kind}: after a forward`);
    layer.resetUsage();
    assert.deepEqual(read.map((c) => Array.from(c)), before, `${layer.kind}: after a reset`);
    assert.ok(layer.leafUsage().counts.every((c) => c.every((v) => v === 0)), `${layer.kind}: reset`);
  }
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
