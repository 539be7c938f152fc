/**
 * What a user reads off a Model and what mlpConfig and paramShapes make of options and configs: evaluate over
 * batches, treeStats over blocks, the leaf counts after the gate units are chosen, mlpConfig's defaults and its range
 * of layer indices, paramShapes of a hand-written config that leaves blocks out. A mutation round of src/layers found
 * each unguarded: a wrong value here leaves every layer's outputs and gradients right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TreegateError } from '../../src/core/errors.js';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { Rng } from '../../src/core/rng.js';
import type { LayerConfig, RoutedLayer } from '../../src/layers/layer.js';
import { mlpConfig, Model, paramShapes, type ModelConfig } from '../../src/layers/model.js';

function data(N: number, D: number, C: number, seed: number): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed), x = matrix(N, D, Float32Array.from({ length: N * D }, () => rng.normal()));
  return { x, y: Int32Array.from({ length: N }, () => rng.int(C)) };
}

test('evaluate in batches gives the loss, accuracy and classes of one batch: each example scored against its own label', () => {
  const model = new Model(mlpConfig({ inputSize: 6, numClasses: 3, hidden: [10], treeLayers: [1], depth: 2 }), new Rng(1));
  const { x, y } = data(37, 6, 3, 2);
  const whole = model.evaluate(x, y);
  // a model that gets some right and some wrong, so that scoring against other rows' labels shows
  assert.ok(whole.accuracy > 0 && whole.accuracy < 1, `accuracy ${whole.accuracy}`);
  for (const batchSize of [1, 5, 36]) {
    const batched = model.evaluate(x, y, batchSize);
    assert.equal(batched.accuracy, whole.accuracy, `batch size ${batchSize}: accuracy`);
    assert.ok(Math.abs(batched.loss - whole.loss) < 1e-6 * whole.loss, `batch size ${batchSize}: loss ${batched.loss}, ${whole.loss} in one batch`);
    assert.deepEqual(Array.from(batched.classes), Array.from(whole.classes), `batch size ${batchSize}: classes`);
  }
});

test('treeStats: a layer\'s balance is the mean of its blocks\' balances, its dead leaves counted over every block', () => {
  const model = new Model(mlpConfig({ inputSize: 8, numClasses: 3, hidden: [6], treeLayers: [1], depth: 2, blocks: 2 }), new Rng(3));
  (model.layers[0] as RoutedLayer).restoreUsage([[2, 2, 2, 2], [5, 0, 0, 0]]); // block 0 even (1), block 1 one leaf (0)
  const [stats] = model.treeStats();
  assert.equal(stats.balance, 0.5);
  assert.equal(stats.deadLeaves, 3);
  assert.deepEqual(stats.usage, [[2, 2, 2, 2], [5, 0, 0, 0]]);
});

test('Model.chooseGateUnits leaves no leaf counts behind: the batch it routes to choose them is not an epoch\'s usage', () => {
  const model = new Model(mlpConfig({ inputSize: 6, numClasses: 3, hidden: [8], treeLayers: [1, 2], depth: 2 }), new Rng(4));
  model.chooseGateUnits(data(50, 6, 3, 5).x);
  for (const stats of model.treeStats()) {
    assert.ok(stats.usage.every((u) => u.every((c) => c === 0)), `layer ${stats.layer}: ${JSON.stringify(stats.usage)}`);
    assert.ok(Number.isNaN(stats.balance), `layer ${stats.layer}: nothing to judge`);
  }
});

test('mlpConfig\'s defaults: a routed layer is a tree of one block gated by units (the library\'s default), its nodes below the root zero, γ 1, no straight-through; relu between layers; a mixture of 2^depth experts, top 1, balance weight 0.01', () => {
  assert.deepEqual(mlpConfig({ inputSize: 4, numClasses: 3, hidden: [5], treeLayers: [1], depth: 2 }).layers, [
    { kind: 'tree', inputSize: 4, outputSize: 5, depth: 2, blocks: 1, gating: 'units', nodeInit: 'zero', decayGamma: 1 },
    { kind: 'activation', fn: 'relu' },
    { kind: 'dense', inputSize: 5, outputSize: 3 },
  ]);
  assert.deepEqual(mlpConfig({ inputSize: 4, numClasses: 3, hidden: [], treeLayers: [1], routed: 'moe', depth: 3 }).layers, [
    { kind: 'moe', inputSize: 4, outputSize: 3, experts: 8, topK: 1, balanceWeight: 0.01 },
  ]);
});

test('mlpConfig refuses a routed layer index past the output layer (hidden.length + 1), rather than routing none', () => {
  const o = { inputSize: 4, numClasses: 3, hidden: [5], depth: 2 };
  assert.equal(mlpConfig({ ...o, treeLayers: [2] }).layers[2].kind, 'tree', 'the output layer, 2, may be routed');
  for (const t of [3, 0]) {
    assert.throws(() => mlpConfig({ ...o, treeLayers: [t] }),
      (e: unknown) => e instanceof TreegateError && /tree layer index must be an integer in \[1, 2\]/.test(e.message), `index ${t}`);
  }
});

test('paramShapes of a config whose routed layers leave blocks (and gating) out, as the layers take them (one block, units): the built model\'s parameters', () => {
  const layers = [
    { kind: 'tree', inputSize: 6, outputSize: 4, depth: 2 },
    { kind: 'activation', fn: 'relu' },
    { kind: 'flat', inputSize: 4, outputSize: 3, depth: 1 },
  ] as unknown as LayerConfig[];
  const config: ModelConfig = { inputSize: 6, numClasses: 3, layers };
  const built = new Model(config).params().map((p) => ({ name: p.name, shape: [...p.shape] }));
  assert.deepEqual(paramShapes(config), built);
  assert.deepEqual(built.map((p) => p.name), ['layers.0.blocks.0.weight', 'layers.0.blocks.0.bias', 'layers.2.blocks.0.weight', 'layers.2.blocks.0.bias']);
});
