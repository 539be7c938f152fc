/**
 * The plateau schedule: the rate is lr until plateauPatience epochs in a row bring no validation accuracy above every
 * earlier epoch's, then lr × plateauFactor, and so on (the count starts again after each cut). Each step's rate must be
 * that of the history before its epoch; a validation accuracy of 100% cannot be passed, so a run that reaches it must
 * cut; a run resumed through a checkpoint after a cut ends as the uninterrupted one; and what cannot work is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrix } from '../../src/core/tensor.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { encodeModel } from '../../src/io/model-codec.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { plateauCuts, Trainer, type EpochMetrics, type StepInfo, type TrainOptions } from '../../src/train/trainer.js';
import { randomArray, Rng } from '../helpers.js';

registerAvailableBackends();
const D = 8, C = 2, EPOCHS = 10;

// an easy task (the class is the sign of the first input, which is at least 1 away from 0): validation accuracy
// reaches 100% in a few epochs and cannot rise after that, so the rate must be cut
const rng = new Rng(5);
const x = randomArray(rng, 200 * D), y = new Int32Array(200);
for (let i = 0; i < 200; i++) {
  x[i * D] += x[i * D] > 0 ? 1 : -1;
  y[i] = x[i * D] > 0 ? 1 : 0;
}
const data = { x: matrix(160, D, x.subarray(0, 160 * D)), y: y.subarray(0, 160) };
const validation = { x: matrix(40, D, x.subarray(160 * D)), y: y.subarray(160) };
const config = mlpConfig({ inputSize: D, numClasses: C, hidden: [16], treeLayers: [1], depth: 2 });
const opts: TrainOptions = { epochs: EPOCHS, batchSize: 16, lr: 0.05, schedule: 'plateau', plateauFactor: 0.25, plateauPatience: 2 };
const bytes = (m: Model) => Buffer.from(encodeModel(m)).toString('base64');
const epoch = (validationAccuracy: number) => ({ validationAccuracy }) as EpochMetrics;

test('plateauCuts: a cut every patience epochs in a row without a gain, the count starting again after each', () => {
  const h = [0.5, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7].map(epoch);
  assert.equal(plateauCuts([], 1), 0);
  assert.equal(plateauCuts(h.slice(0, 1), 1), 0, 'the first epoch is a gain');
  assert.deepEqual(h.map((_, i) => plateauCuts(h.slice(0, i + 1), 1)), [0, 0, 1, 2, 3, 3, 4, 5, 6, 7]);
  assert.deepEqual(h.map((_, i) => plateauCuts(h.slice(0, i + 1), 2)), [0, 0, 0, 1, 1, 1, 1, 2, 2, 3]);
  assert.equal(plateauCuts(h, 20), 0);
});

test('plateau: every step takes lr × factor^(cuts after the epochs before it); a run at 100% validation accuracy is cut', () => {
  const steps: StepInfo[] = [];
  const t = new Trainer(new Model(config, new Rng(3)), data, validation, { ...opts, onStep: (s) => steps.push(s) }, new Rng(4));
  while (!t.done) t.step();
  const h = t.progress.history;
  assert.ok(h.some((e) => e.validationAccuracy === 1), `the task must reach 100% for the test to mean anything: ${h.map((e) => e.validationAccuracy)}`);
  const cuts = plateauCuts(h, 2);
  assert.ok(cuts >= 1, `no cut in ${h.map((e) => e.validationAccuracy)}`);
  for (const s of steps) assert.equal(s.lr, 0.05 * 0.25 ** plateauCuts(h.slice(0, s.epoch - 1), 2), `step ${s.step} of epoch ${s.epoch}`);
  assert.equal(t.nextRate, 0.05 * 0.25 ** cuts);
  // the defaults: halved after each epoch without a gain
  const d: StepInfo[] = [];
  const t2 = new Trainer(new Model(config, new Rng(3)), data, validation, { ...opts, plateauFactor: undefined, plateauPatience: undefined, onStep: (s) => d.push(s) }, new Rng(4));
  while (!t2.done) t2.step();
  const h2 = t2.progress.history;
  assert.ok(plateauCuts(h2, 1) >= 1);
  for (const s of d) assert.equal(s.lr, 0.05 * 0.5 ** plateauCuts(h2.slice(0, s.epoch - 1), 1));
});

test('plateau: a run resumed through a checkpoint after a cut ends as the uninterrupted one, bit for bit', () => {
  const whole = new Model(config, new Rng(3));
  const w = new Trainer(whole, data, validation, opts, new Rng(4));
  while (!w.done) w.step();
  const h = w.progress.history;
  const cutAfter = h.findIndex((_, i) => plateauCuts(h.slice(0, i + 1), 2) > 0) + 1;
  assert.ok(cutAfter > 0 && cutAfter < EPOCHS, `a cut before the last epoch: ${h.map((e) => e.validationAccuracy)}`);
  const model = new Model(config, new Rng(3));
  const t = new Trainer(model, data, validation, opts, new Rng(4));
  while (t.progress.epoch <= cutAfter || t.progress.position === 0) t.step(); // into the epoch after the cut
  const back = decodeCheckpoint(encodeCheckpoint(model, t.optimizer, { progress: t.snapshot(), options: {} }), 'checkpoint');
  const resumed = new Trainer(back.model, data, validation, opts, new Rng(999), back.run.progress);
  resumed.optimizer.adoptState(back.optimizerState);
  assert.equal(resumed.nextRate, t.nextRate, 'the resumed run starts at another rate');
  while (!resumed.done) resumed.step();
  assert.ok(bytes(back.model) === bytes(whole), 'the resumed run\'s weights differ');
});

test('plateau: refused without a validation set; its settings refused with another schedule or out of range', () => {
  const model = new Model(config, new Rng(3));
  const make = (o: TrainOptions, v: typeof validation | null = validation) => () => new Trainer(model, data, v, o, new Rng(4));
  assert.throws(make(opts, null), /plateau schedule cuts the rate when the validation accuracy stops rising, but there is no validation set/);
  assert.throws(make({ ...opts, schedule: 'cosine' }), /plateauFactor is a setting of the plateau schedule, but the schedule is 'cosine'/);
  assert.throws(make({ schedule: 'constant', plateauPatience: 2 }), /plateauPatience is a setting of the plateau schedule, but the schedule is 'constant'/);
  for (const f of [0, 1, 1.5, -0.5, NaN, '0.5']) assert.throws(make({ ...opts, plateauFactor: f as number }), /plateauFactor must be a number between 0 and 1/);
  for (const p of [0, 1.5, -1]) assert.throws(make({ ...opts, plateauPatience: p }), /plateauPatience/);
  assert.throws(make({ ...opts, schedule: 'step' as 'plateau' }), /unknown learning-rate schedule "step"/);
});
