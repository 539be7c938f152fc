/**
 * keepBest and patience. keepBest: the model ends with the weights of the epoch of the best validation accuracy (the later epoch where two
 * tie). With a constant learning rate the first e epochs of a longer run are an e-epoch run, so the kept
 * weights must be those of a run stopped at the best epoch, bit for bit; a run resumed from a checkpoint (the kept
 * weights saved in it, adopted back) must end as the uninterrupted one; and what cannot work is refused by name.
 * patience: training ends once that many epochs pass without a validation accuracy above every earlier one, with the
 * weights of a run of that many epochs (or, with keepBest, of the best one), and a resumed run stops where it would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrix } from '../../src/core/tensor.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { encodeModel } from '../../src/io/model-codec.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { TreegateError } from '../../src/core/errors.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { trainingReport } from '../../src/report/training.js';
import { checkProgress, epochsWithoutGain, train, Trainer, type EpochMetrics, type TrainOptions } from '../../src/train/trainer.js';
import { randomArray, Rng } from '../helpers.js';

registerAvailableBackends();
const D = 12, C = 4, EPOCHS = 6;

// labels a noisy function of the inputs, a rate high enough that validation accuracy goes up and down
const rng = new Rng(4);
const x = randomArray(rng, 120 * D), y = new Int32Array(120);
for (let i = 0; i < 120; i++) y[i] = (x[i * D] > 0 ? 1 : 0) + (x[i * D + 1] > 0 ? 2 : 0) ^ (rng.int(4) === 0 ? 1 : 0);
const data = { x: matrix(90, D, x.subarray(0, 90 * D)), y: y.subarray(0, 90) };
const validation = { x: matrix(30, D, x.subarray(90 * D)), y: y.subarray(90) };
const config = mlpConfig({ inputSize: D, numClasses: C, hidden: [16, 16], treeLayers: [2], depth: 2 });
const opts: TrainOptions = { epochs: EPOCHS, batchSize: 16, lr: 0.03, schedule: 'constant' };

const bytes = (m: Model) => Buffer.from(encodeModel(m)).toString('base64');
const best = (h: EpochMetrics[]) => h.reduce((b, e) => (e.validationAccuracy! >= b.validationAccuracy! ? e : b)).epoch;

test('keepBest: the model ends with the best validation epoch\'s weights, those of a run stopped there, bit for bit', () => {
  const kept = new Model(config, new Rng(7));
  const r = train(kept, data, validation, { ...opts, keepBest: true }, new Rng(8));
  const expected = best(r.history);
  assert.equal(r.bestEpoch, expected);
  assert.ok(expected < EPOCHS, `the data must make a run whose best epoch is not its last (best ${expected}): else nothing is put back`);
  const stopped = new Model(config, new Rng(7));
  const s = train(stopped, data, validation, { ...opts, epochs: expected }, new Rng(8));
  assert.equal(s.bestEpoch, null, 'without keepBest no epoch is named');
  assert.deepEqual(s.history.map((h) => h.validationAccuracy), r.history.slice(0, expected).map((h) => h.validationAccuracy));
  assert.ok(bytes(kept) === bytes(stopped), 'the kept weights are not those of the run stopped at the best epoch');
  // the restored model evaluates as that epoch did
  assert.equal(kept.evaluate(validation.x, validation.y).accuracy, r.history[expected - 1].validationAccuracy);
  // its report names the epoch (train()'s whole result passes)
  assert.match(trainingReport(r).meta['weights of epoch'], new RegExp(`^${expected} \\(the best validation accuracy`));
  assert.throws(() => trainingReport({ ...r, bestEpoch: EPOCHS + 1 }), /bestEpoch 7 is none of the history's epochs/);
  // without keepBest the same run ends with the last epoch's weights
  const last = new Model(config, new Rng(7));
  train(last, data, validation, opts, new Rng(8));
  assert.ok(bytes(last) !== bytes(kept));
});

test('keepBest: a run resumed from a checkpoint (kept weights saved and adopted) ends as the uninterrupted one', () => {
  const whole = new Model(config, new Rng(7));
  const w = train(whole, data, validation, { ...opts, keepBest: true }, new Rng(8));
  const stepsPerEpoch = Math.ceil(90 / 16);
  for (const stopAt of [w.bestEpoch! * stepsPerEpoch + 2, stepsPerEpoch - 1]) { // after the best epoch, and before any
    const model = new Model(config, new Rng(7));
    const t = new Trainer(model, data, validation, { ...opts, keepBest: true }, new Rng(8));
    while (t.progress.step < stopAt) t.step();
    const run = { progress: t.snapshot(), options: {}, ...(t.best ? { bestWeights: t.best.weights } : {}) };
    assert.equal(run.progress.bestEpoch, t.best?.epoch);
    const back = decodeCheckpoint(encodeCheckpoint(model, t.optimizer, run), 'checkpoint');
    assert.equal(back.bestWeights === null, t.best === null);
    const resumed = new Trainer(back.model, data, validation, { ...opts, keepBest: true }, new Rng(999), back.run.progress);
    resumed.optimizer.adoptState(back.optimizerState);
    if (back.bestWeights) {
      assert.throws(() => resumed.step(), /given no such weights.*\n?.*adoptBest/s);
      resumed.adoptBest(back.bestWeights);
    }
    while (!resumed.done) resumed.step();
    assert.equal(resumed.progress.bestEpoch, w.bestEpoch);
    assert.ok(bytes(back.model) === bytes(whole), `stopped at step ${stopAt}: the resumed run's weights differ`);
  }
});

test('keepBest: refused without a validation set, a checkpoint whose best weights and best epoch disagree, a resume without keepBest', () => {
  const model = new Model(config, new Rng(7));
  assert.throws(() => new Trainer(model, data, null, { ...opts, keepBest: true }, new Rng(8)), /keepBest .*no validation set/);
  assert.throws(() => new Trainer(model, data, { x: matrix(0, D, new Float32Array(0)), y: new Int32Array(0) }, { ...opts, keepBest: true }, new Rng(8)),
    /no validation set/);
  assert.throws(() => new Trainer(model, data, validation, { ...opts, keepBest: 1 as unknown as boolean }, new Rng(8)), /keepBest must be true or false/);
  const t = new Trainer(model, data, validation, { ...opts, keepBest: true }, new Rng(8));
  while (t.progress.epoch < 3) t.step();
  const progress = t.snapshot();
  assert.ok(t.best && progress.bestEpoch === t.best.epoch);
  assert.throws(() => encodeCheckpoint(model, t.optimizer, { progress, options: {} }), /kept the weights of epoch \d .*bestWeights leaves them out/);
  assert.throws(() => encodeCheckpoint(model, t.optimizer, { progress: { ...progress, bestEpoch: undefined }, options: {}, bestWeights: t.best!.weights }),
    /has best weights .* keeps no best epoch/);
  assert.throws(() => encodeCheckpoint(model, t.optimizer, { progress, options: {}, bestWeights: t.best!.weights.slice(1) }), /bestWeights must be \d+ Float32Arrays/);
  const nan = t.best!.weights.map((a) => a.slice());
  nan[1][3] = NaN;
  assert.throws(() => encodeCheckpoint(model, t.optimizer, { progress, options: {}, bestWeights: nan }), /holds NaN at index 3/);
  assert.throws(() => checkProgress({ ...progress, bestEpoch: 3 }, 'p'), /bestEpoch must be one of the finished epochs \(1 to 2\), got 3/);
  assert.throws(() => new Trainer(new Model(config, new Rng(7)), data, validation, opts, new Rng(8), progress), /leave keepBest out/);
  const fresh = new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, keepBest: true }, new Rng(8));
  assert.throws(() => fresh.adoptBest(t.best!.weights), /kept no best epoch/);
  // a progress saved without keepBest, epochs in, cannot go on keeping the best: the earlier epochs' weights are gone
  const plain = new Trainer(new Model(config, new Rng(7)), data, validation, opts, new Rng(8));
  while (plain.progress.epoch < 3) plain.step();
  assert.throws(() => new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, keepBest: true }, new Rng(8), plain.snapshot()),
    /keep the best epoch's weights \(keepBest\), but the progress to resume, 2 epochs in, kept none/);
  // before the first epoch ends there is nothing to have kept
  const early = new Trainer(new Model(config, new Rng(7)), data, validation, opts, new Rng(8));
  early.step();
  assert.doesNotThrow(() => new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, keepBest: true }, new Rng(8), early.snapshot()));
});

test('patience: training stops once that many epochs bring no gain; its weights are those of a run of that length (or the best, with keepBest)', () => {
  // this data's validation accuracies: 0.300 0.567 0.467 0.600 0.567 0.500 …: best at epoch 4
  const full = train(new Model(config, new Rng(7)), data, validation, opts, new Rng(8));
  const best = full.history.reduce((b, e) => (e.validationAccuracy! > b.validationAccuracy! ? e : b)).epoch;
  assert.equal(epochsWithoutGain(full.history.slice(0, 3)), 1);
  assert.equal(epochsWithoutGain(full.history), EPOCHS - best);
  assert.equal(epochsWithoutGain([]), 0);
  for (const [patience, keepBest] of [[1, false], [2, false], [2, true]] as const) {
    const model = new Model(config, new Rng(7));
    const t = new Trainer(model, data, validation, { ...opts, epochs: 12, patience, keepBest }, new Rng(8));
    while (!t.done) t.step();
    const h = t.progress.history, ran = h.length;
    assert.ok(t.progress.stoppedEarly && ran < 12, `patience ${patience}: stopped after ${ran} of 12 epochs`);
    assert.equal(epochsWithoutGain(h), patience, `patience ${patience}: the last epochs brought no gain`);
    assert.ok(epochsWithoutGain(h.slice(0, -1)) < patience, `patience ${patience}: it went on as long as it could`);
    const same = new Model(config, new Rng(7));
    train(same, data, validation, { ...opts, epochs: keepBest ? t.progress.bestEpoch! : ran }, new Rng(8));
    assert.ok(bytes(model) === bytes(same), `patience ${patience}${keepBest ? ', keepBest' : ''}: the weights differ from the run of that many epochs`);
    // resumed in its last epochs, it stops where it did; resumed from its end, it is done
    const stopAt = (ran - 1) * Math.ceil(90 / 16) + 1;
    const m2 = new Model(config, new Rng(7));
    const t2 = new Trainer(m2, data, validation, { ...opts, epochs: 12, patience, keepBest }, new Rng(8));
    while (t2.progress.step < stopAt) t2.step();
    for (const at of ['mid', 'end'] as const) {
      if (at === 'end') while (!t2.done) t2.step();
      const back = decodeCheckpoint(encodeCheckpoint(t2.model, t2.optimizer, { progress: t2.snapshot(), options: {}, bestWeights: t2.best?.weights }), 'checkpoint');
      const r = new Trainer(back.model, data, validation, { ...opts, epochs: 12, patience, keepBest }, new Rng(9), back.run.progress);
      r.optimizer.adoptState(back.optimizerState);
      if (back.bestWeights) r.adoptBest(back.bestWeights);
      assert.equal(r.done, at === 'end');
      while (!r.done) r.step();
      assert.equal(r.progress.history.length, ran);
      assert.ok(bytes(back.model) === bytes(model), `patience ${patience}, resumed at its ${at}: the weights differ`);
    }
  }
  assert.throws(() => new Trainer(new Model(config, new Rng(7)), data, null, { ...opts, patience: 2 }, new Rng(8)), /patience stops training .*no validation set/);
  assert.throws(() => new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, patience: 0 }, new Rng(8)), /patience/);
  const stopped = new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, epochs: 12, patience: 1 }, new Rng(8));
  while (!stopped.done) stopped.step();
  assert.throws(() => new Trainer(new Model(config, new Rng(7)), data, validation, { ...opts, epochs: 12 }, new Rng(8), stopped.snapshot()),
    /stopped early after epoch 3, but these options set no patience/);
});

test('keepBest: a checkpoint\'s best-epoch tensors are checked as it is read: each one there, of its parameter\'s shape, finite, and none without a best epoch', () => {
  const model = new Model(config, new Rng(7));
  const t = new Trainer(model, data, validation, { ...opts, keepBest: true }, new Rng(8));
  while (t.progress.epoch < 3) t.step();
  const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(model, t.optimizer, { progress: t.snapshot(), options: {}, bestWeights: t.best!.weights }), 'ck');
  const { checksum: _, ...unsummed } = metadata; // (a file without a checksum is read as one written before it was added)
  const list = [...tensors].map(([name, x]) => ({ name, shape: [...x.shape], data: x.data }));
  const name = `best.${model.params()[0].name}`, w = tensors.get(name)!;
  assert.ok(w, name);
  const read = (l: typeof list, meta: Record<string, string> = unsummed) => decodeCheckpoint(encodeSafetensors(l, meta), 'ck');
  assert.equal(read(list).bestWeights!.length, model.params().length, 'as written: read');
  const without = list.filter((x) => x.name !== name);
  const noBest = { ...unsummed, progress: JSON.stringify({ ...JSON.parse(unsummed.progress), bestEpoch: undefined }) };
  const refused: Array<[() => unknown, string]> = [
    [() => read(without), `ck: the progress keeps the weights of epoch ${t.best!.epoch}, but ${name} is missing`],
    [() => read([...without, { name, shape: [w.data.length], data: w.data }]), `ck: ${name} has shape [${w.data.length}], expected [${w.shape}]`],
    [() => read([...without, { name, shape: [...w.shape], data: w.data.map((x, i) => (i === 3 ? NaN : x)) }]), `ck: ${name} holds a non-finite value at index 3`],
    [() => read([...list, { name: 'best.layers.9.weight', shape: [1], data: Float32Array.of(0) }]), 'ck: unexpected tensor best.layers.9.weight'],
    [() => read(list, noBest), `ck: tensor ${list.find((x) => x.name.startsWith('best.'))!.name} holds best-epoch weights, but the progress keeps no best epoch`],
  ];
  for (const [f, message] of refused) assert.throws(f, (e: unknown) => e instanceof TreegateError && e.message === message, message);
});
