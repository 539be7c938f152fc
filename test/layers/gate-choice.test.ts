/**
 * Ties and data-dependent choices in routing: the units a tree gates on (TreeGated.chooseGateUnits) and the experts a
 * mixture picks when their router logits tie. A wrong choice leaves every output correct for the routing taken, so
 * the layers' other tests cannot see it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix } from '../../src/core/tensor.js';
import { Rng } from '../../src/core/rng.js';
import { Model } from '../../src/layers/model.js';
import { MixtureOfExperts } from '../../src/layers/moe.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Trainer } from '../../src/train/trainer.js';
import { testOnEveryBackend } from '../backends.js';

testOnEveryBackend('chooseGateUnits skips units on (or off) for every example and takes, depth by depth, the one that most evens the leaves, the lower of a tie', () => {
  // units 0 and 3 always on; 1 and 4 alternate every example; 2 every second pair, 5 a copy of 1
  const N = 64, n = 6, x = new Float32Array(N * n);
  for (let i = 0; i < N; i++) x.set([1, i & 1 ? 1 : -1, i & 2 ? 1 : -1, 1, i & 1 ? 1 : -1, i & 1 ? -1 : 1], n * i);
  const tree = new TreeGated({ inputSize: n, outputSize: 2, depth: 2, gating: 'units' }).init(new Rng(1));
  assert.equal(tree.gateUnitsPending, true);
  tree.chooseGateUnits(matrix(N, n, x));
  // depth 0: units 1, 2, 4 and 5 each split the batch in half (1, the lowest); depth 1: 4 and 5 only repeat unit 1's
  // bit, 2 splits each half again
  assert.deepEqual(tree.gateUnits, [1, 2]);
  assert.equal(tree.gateUnitsPending, false);
  tree.resetUsage();
  tree.forward(matrix(N, n, x), 'infer');
  assert.deepEqual(Array.from(tree.leafUsage().counts[0]), [16, 16, 16, 16], 'every leaf a quarter of the batch');
});

test('chooseGateUnits never takes a unit twice, though no other unit evens the leaves more than repeating it', () => {
  // unit 0 alternates, units 1 and 2 are on for every example: at depth 1 each unit left gives the leaves of unit 0
  // alone, as repeating unit 0 would; the lowest of the units not yet taken is chosen
  const N = 8, n = 3, x = new Float32Array(N * n);
  for (let i = 0; i < N; i++) x.set([i & 1 ? 1 : -1, 1, 1], n * i);
  const tree = new TreeGated({ inputSize: n, outputSize: 2, depth: 3, gating: 'units' }).init(new Rng(1));
  tree.chooseGateUnits(matrix(N, n, x));
  assert.deepEqual(tree.gateUnits, [0, 1, 2]);
});

test('a Trainer chooses the gate units from up to 1024 training examples: of 1024, every one (a unit on for one example alone counts)', () => {
  // unit 0 on for every example; unit d (1 … 4) on for one example alone, each a different one, spread over the set.
  // On every example, each of units 1 … 4 splits off its one example: chosen in order, before the useless unit 0;
  // a sample of half the examples leaves out about half of those (a unit whose example is missed splits nothing)
  const N = 1024, n = 5, rare = [100, 400, 700, 1000];
  const x = new Float32Array(N * n).fill(-1), y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    x[i * n] = 1;
    y[i] = i & 1;
  }
  rare.forEach((row, d) => { x[row * n + d + 1] = 1; });
  const alone = new TreeGated({ inputSize: n, outputSize: 2, depth: 4, gating: 'units' }).init(new Rng(1));
  alone.chooseGateUnits(matrix(N, n, x));
  assert.deepEqual(alone.gateUnits, [1, 2, 3, 4], 'the choice on every example');
  for (const seed of [1, 3]) {
    const model = new Model({ inputSize: n, numClasses: 2, layers: [{ kind: 'tree', inputSize: n, outputSize: 2, depth: 4, blocks: 1, gating: 'units' }] }, new Rng(seed));
    new Trainer(model, { x: matrix(N, n, x), y }, null, { epochs: 1, batchSize: 64, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' } }, new Rng(seed));
    assert.deepEqual((model.layers[0] as TreeGated).gateUnits, [1, 2, 3, 4], `seed ${seed}`);
  }
});

testOnEveryBackend('a mixture of experts breaks a tie of router logits towards the lower expert (an input of zeros ties them all)', () => {
  const moe = new MixtureOfExperts({ inputSize: 3, outputSize: 2, experts: 4, topK: 2 }).init(new Rng(2));
  moe.resetUsage();
  moe.forward(matrix(1, 3, new Float32Array(3)), 'infer');
  assert.deepEqual(Array.from(moe.leafUsage().counts[0]), [1, 1, 0, 0]);
});

test('a depth-0 tree (one node, no gate unit) has no gate units to choose: a Trainer draws nothing for them, training as with gateUnits: []', () => {
  const N = 40, n = 4, rng = new Rng(5);
  const x = new Float32Array(N * n).map(() => rng.normal()), y = Int32Array.from({ length: N }, (_, i) => i % 3);
  const weights: Float32Array[][] = [];
  for (const gateUnits of [undefined, []]) {
    const layer = { kind: 'tree' as const, inputSize: n, outputSize: 3, depth: 0, blocks: 1, gating: 'units' as const, ...(gateUnits ? { gateUnits } : {}) };
    assert.equal(new TreeGated(layer).gateUnitsPending, false, `gateUnits ${JSON.stringify(gateUnits)}`);
    const model = new Model({ inputSize: n, numClasses: 3, layers: [layer] }, new Rng(2));
    const t = new Trainer(model, { x: matrix(N, n, x), y }, null, { epochs: 1, batchSize: 8, lr: 0.1, schedule: 'constant', optimizer: { kind: 'sgd' } }, new Rng(3));
    for (let i = 0; i < 3; i++) t.step(); // batches of the first 24 examples drawn
    weights.push(model.params().map((p) => p.data.slice()));
  }
  assert.deepEqual(weights[0], weights[1], 'the same examples in the same order');
});

testOnEveryBackend('a gate unit of exactly 0 (as ReLU leaves most) is a 0 bit, in training and inference alike; a positive one a 1 bit', () => {
  // units 0 and 1 gate a depth-2 tree: (0, 0) is leaf 0, (0, +) leaf 1, (+, 0) leaf 2, (+, +) leaf 3; −0 is 0 too
  const rows = [[0, 0], [-0, 0], [0, 2], [3, 0], [1, 1]], n = 2, x = Float32Array.from(rows.flat());
  for (const mode of ['train', 'infer'] as const) {
    const tree = new TreeGated({ inputSize: n, outputSize: 2, depth: 2, gating: 'units', gateUnits: [0, 1] }).init(new Rng(1));
    tree.resetUsage();
    tree.forward(matrix(rows.length, n, x), mode);
    assert.deepEqual(Array.from(tree.leafUsage().counts[0]), [2, 1, 1, 1], mode);
  }
});
