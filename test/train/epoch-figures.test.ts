/**
 * The figures a run reports of itself, checked against their definitions (a second mutation review found them
 * unguarded): an epoch's training loss (the mean over its examples, batches weighted by their rows), the validation
 * pass's leaf counts (the validation set's alone), balance (entropy over ln(leaves)), the experiments' spread over
 * seeds (the sample standard deviation), and the straight-through option reaching the layers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { stat } from '../../src/experiments/common.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { TreeGated } from '../../src/layers/tree.js';
import { learningRate } from '../../src/train/optim.js';
import { train, type StepInfo } from '../../src/train/trainer.js';

function data(rows: number, seed: number) {
  const rng = new Rng(seed), x = new Float32Array(rows * 4), y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < 4; j++) x[4 * i + j] = rng.normal();
    y[i] = x[4 * i] > 0 ? 1 : 0;
  }
  return { x: matrix(rows, 4, x), y };
}

const config = () => mlpConfig({ inputSize: 4, numClasses: 2, hidden: [6], treeLayers: [2], depth: 2, gating: 'projection' });

test('an epoch\'s training loss and accuracy are means over its examples (a last batch of one row weighs one row); its leaf counts after validation are the validation set\'s', () => {
  const steps: StepInfo[] = [];
  const model = new Model(config(), new Rng(1));
  const { history } = train(model, data(7, 2), data(9, 3), { epochs: 1, batchSize: 3, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' },
    onStep: (s) => steps.push(s) }, new Rng(4));
  assert.equal(steps.length, 3);
  const rows = [3, 3, 1];
  const mean = (f: (s: StepInfo) => number) => steps.reduce((a, s, i) => a + f(s) * rows[i], 0) / 7;
  assert.ok(Math.abs(history[0].trainLoss - mean((s) => s.loss)) < 1e-12, `${history[0].trainLoss} against ${mean((s) => s.loss)}`);
  assert.ok(Math.abs(history[0].trainAccuracy - mean((s) => s.accuracy)) < 1e-12);
  // each step's accuracy is a count of its rows over its rows
  steps.forEach((s, i) => assert.equal(Math.round(s.accuracy * rows[i]), s.accuracy * rows[i], `step ${s.step}`));
  const counted = history[0].trees[0].usage[0].reduce((a, b) => a + b, 0);
  assert.equal(counted, 9, 'the 9 validation examples, not the 7 training ones beside them');
});

test('a step\'s accuracy on a last, partial batch is over that batch\'s rows (2 of 3 right: 2/3, not 2 over the batch size)', () => {
  const steps: StepInfo[] = [];
  const model = new Model(config(), new Rng(1));
  const { history } = train(model, data(7, 2), null, { epochs: 1, batchSize: 4, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' },
    onStep: (s) => steps.push(s) }, new Rng(1));
  assert.equal(steps.length, 2, 'batches of 4 and 3 rows');
  // the epoch counts the examples it got right (5 of 7): the steps' counts, each its accuracy times its rows, add up to it
  const correct = Math.round(history[0].trainAccuracy * 7);
  assert.equal(steps[0].accuracy * 4 + steps[1].accuracy * 3, correct, 'each step\'s count of right rows is its accuracy times its rows');
  // (these seeds: the last batch is neither all right nor all wrong)
  assert.deepEqual([correct, steps[0].accuracy, steps[1].accuracy], [5, 3 / 4, 2 / 3]);
});

test('a step onNonFinite \'skip\' drops leaves the epoch\'s means: they are over the steps kept, by their rows', () => {
  const steps: StepInfo[] = [];
  const model = new Model(config(), new Rng(1));
  const { history } = train(model, data(7, 2), null, { epochs: 1, batchSize: 3, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' },
    onNonFinite: 'skip', beforeStep: (step, xb) => { if (step === 2) xb[0] = NaN; }, onStep: (s) => steps.push(s) }, new Rng(4));
  assert.deepEqual(steps.map((s) => s.skipped), [false, true, false]);
  const kept = (f: (s: StepInfo) => number) => (3 * f(steps[0]) + 1 * f(steps[2])) / 4;
  assert.ok(Math.abs(history[0].trainLoss - kept((s) => s.loss)) < 1e-12, `${history[0].trainLoss} against ${kept((s) => s.loss)}`);
  assert.ok(Math.abs(history[0].trainAccuracy - kept((s) => s.accuracy)) < 1e-12);
});

test('an epoch\'s validation loss and accuracy are the model\'s on the validation set after the epoch; null without one', () => {
  const model = new Model(config(), new Rng(1)), validation = data(9, 3);
  const { history } = train(model, data(7, 2), validation, { epochs: 1, batchSize: 3, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' } }, new Rng(4));
  const v = model.evaluate(validation.x, validation.y); // the weights the epoch ended with
  assert.notEqual(v.loss, v.accuracy, 'test bug: a loss and an accuracy that cannot be told apart');
  assert.deepEqual({ loss: history[0].validationLoss, accuracy: history[0].validationAccuracy }, { loss: v.loss, accuracy: v.accuracy });
  const none = train(new Model(config(), new Rng(1)), data(7, 2), null, { epochs: 1, batchSize: 3 }, new Rng(4)).history[0];
  assert.deepEqual([none.validationLoss, none.validationAccuracy], [null, null]);
});

test('step t (from 1) takes the schedule\'s rate at t − 1 of the run\'s steps: the full rate first, cosine to the last; an epoch reports its last step\'s rate', () => {
  const steps: StepInfo[] = [];
  const lr = 0.01;
  const { history } = train(new Model(config(), new Rng(1)), data(7, 2), null, { epochs: 2, batchSize: 3, lr, schedule: 'cosine', optimizer: { kind: 'adam' },
    onStep: (s) => steps.push(s) }, new Rng(4));
  // 7 examples in batches of 3: 3 steps an epoch (the last of one row), 6 in the run
  assert.deepEqual(steps.map((s) => [s.epoch, s.step, s.totalSteps]), [[1, 1, 6], [1, 2, 6], [1, 3, 6], [2, 4, 6], [2, 5, 6], [2, 6, 6]]);
  assert.equal(steps[0].lr, lr, 'the first step takes the full rate');
  steps.forEach((s) => assert.equal(s.lr, learningRate('cosine', lr, s.step - 1, 6), `step ${s.step}`));
  assert.ok(steps[5].lr > 0 && steps[5].lr < steps[4].lr, 'the last step still trains, at the smallest rate');
  assert.deepEqual(history.map((e) => [e.epoch, e.step, e.lr]), [[1, 3, steps[2].lr], [2, 6, steps[5].lr]]);
});

test('balance is the entropy of the leaf shares over ln(leaves): 1 for even use, 0 for one leaf, 1/2 for two of four', () => {
  const model = new Model(config(), new Rng(1));
  const tree = model.layers.find((l): l is TreeGated => l instanceof TreeGated)!;
  for (const [counts, balance, dead] of [[[5, 5, 5, 5], 1, 0], [[8, 0, 0, 0], 0, 3], [[2, 2, 0, 0], 0.5, 2]] as const) {
    tree.restoreUsage([Float64Array.from(counts)]);
    const s = model.treeStats()[0];
    assert.ok(Math.abs(s.balance - balance) < 1e-12, `${counts}: balance ${s.balance}`);
    assert.equal(s.deadLeaves, dead);
  }
});

test('the experiments\' spread over seeds is the sample standard deviation; one seed has none', () => {
  const s = stat([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  assert.ok(Math.abs(s.std - Math.sqrt(5 / 3)) < 1e-12, String(s.std));
  assert.ok(Number.isNaN(stat([5]).std));
  // the lowest and highest of any values: negative ones (accuracy's train − test gap), ones above 1 (times)
  assert.deepEqual([stat([-0.5, -0.25]).min, stat([-0.5, -0.25]).max, stat([2, 3]).min, stat([2, 3]).max], [-0.5, -0.25, 2, 3]);
});

test('mlpConfig passes straightThrough to the routed layers', () => {
  const c = mlpConfig({ inputSize: 4, numClasses: 2, hidden: [4], treeLayers: [1], depth: 1, gating: 'projection', straightThrough: true });
  const routed = c.layers.filter((l) => l.kind === 'tree');
  assert.equal(routed.length, 1);
  assert.equal((routed[0] as { straightThrough?: boolean }).straightThrough, true);
  assert.ok(new Model(c, new Rng(1)).layers.some((l) => l instanceof TreeGated && l.straightThrough));
});
