/**
 * Resuming through the library API, with no CLI in between: a Trainer stopped mid-epoch, saved with
 * encodeCheckpoint, decoded, and continued by a new Trainer built on the decoded model, progress and optimizer
 * state must end with the uninterrupted run's weights and history, bit for bit — for each layer kind (tree with
 * units or projection gating, straight-through, blocks; flat; mixture of experts with top-2 routing and its
 * balance loss), both optimizers, weight decay, both schedules, after a step dropped for a NaN input (the halved
 * learning rate is part of the saved state), and with the thread count changed between the halves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matrix } from '../../src/core/tensor.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { encodeModel } from '../../src/io/model-codec.js';
import { nativeBackend } from '../../src/kernels/native/index.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { mlpConfig, Model, type MlpOptions } from '../../src/layers/model.js';
import { Optimizer, type OptimizerConfig } from '../../src/train/optim.js';
import { Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { randomArray, Rng } from '../helpers.js';

registerAvailableBackends();
const N = 96, D = 12, C = 4;

const CASES: Array<[string, Partial<MlpOptions>, OptimizerConfig, Partial<TrainOptions>]> = [
  ['tree, units gating, adam, cosine', { gating: 'units', depth: 2 }, { kind: 'adam' }, {}],
  ['tree, projection, straight-through, 2 blocks, sgd, weight decay γ^d, constant', { gating: 'projection', depth: 2, blocks: 2, straightThrough: true, decayGamma: 0.5 },
    { kind: 'sgd', momentum: 0.8, weightDecay: 0.01 }, { schedule: 'constant' }],
  ['flat, projection, adam', { routed: 'flat', gating: 'projection', depth: 3 }, { kind: 'adam', weightDecay: 0.001 }, {}],
  ['moe, top-2, balance loss, adam', { routed: 'moe', depth: 2, experts: 4, topK: 2, balanceWeight: 0.05 }, { kind: 'adam' }, {}],
];

function bytesOf(m: Model): string {
  return Buffer.from(encodeModel(m)).toString('base64');
}

for (const [index, [name, mlp, optimizer, extra]] of CASES.entries()) {
  test(`API resume, ${name}: the continued run ends bit for bit where the uninterrupted one does`, () => {
    const rng = new Rng(21);
    const x = randomArray(rng, N * D), y = Int32Array.from({ length: N }, () => rng.int(C));
    const train = { x: matrix(72, D, x.subarray(0, 72 * D)), y: y.subarray(0, 72) };
    const validation = { x: matrix(24, D, x.subarray(72 * D)), y: y.subarray(72) };
    const config = mlpConfig({ inputSize: D, numClasses: C, hidden: [16, 16], treeLayers: [2], ...mlp } as MlpOptions);
    const opts: TrainOptions = {
      epochs: 3, batchSize: 16, lr: 0.01, schedule: 'cosine', optimizer, onNonFinite: 'skip',
      // step 3's batch has a NaN input: the step is dropped and the learning rate halved (saved state)
      beforeStep: (step, xb) => { if (step === 3) xb[5] = NaN; },
      ...extra,
    };
    const run = (stopAt: number | null) => {
      const r = new Rng(5);
      let model = new Model(config, r.fork());
      let trainer = new Trainer(model, train, validation, opts, r.fork());
      if (stopAt !== null) {
        while (trainer.progress.step < stopAt) trainer.step();
        const saved = encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {}, metrics: [], extra: {} });
        const back = decodeCheckpoint(saved, 'checkpoint');
        model = back.model;
        trainer = new Trainer(model, train, validation, opts, new Rng(999), back.run.progress);
        // the decoded moments adopted (as `treegate train --resume` does) or copied, by turns
        if (index % 2 === 0) trainer.optimizer.adoptState(back.optimizerState);
        else trainer.optimizer.loadState(back.optimizerState);
        nativeBackend()?.setThreads(1); // the second half on one thread: the model must not depend on it
      }
      try {
        while (!trainer.done) trainer.step();
      } finally {
        nativeBackend()?.setThreads(nativeBackend()!.info().maxThreads);
      }
      const p = trainer.progress;
      return { bytes: bytesOf(model), history: JSON.stringify(p.history.map((h) => ({ ...h, seconds: 0 }))), skipped: p.skippedSteps, lrScale: p.lrScale };
    };
    const whole = run(null);
    assert.equal(whole.skipped, 1, 'the NaN batch was dropped');
    assert.equal(whole.lrScale, 0.5);
    for (const stopAt of [4, 7]) { // mid-epoch, after the skipped step (an epoch is 5 steps)
      const resumed = run(stopAt);
      assert.equal(resumed.skipped, whole.skipped, `stopped at step ${stopAt}: skipped steps`);
      assert.equal(resumed.lrScale, whole.lrScale, `stopped at step ${stopAt}: learning-rate scale`);
      assert.equal(resumed.history, whole.history, `stopped at step ${stopAt}: epoch history`);
      assert.ok(resumed.bytes === whole.bytes, `stopped at step ${stopAt}: the weights differ from the uninterrupted run's`);
    }
  });
}

test('a resumed run\'s seconds go on from the saved ones: its epochs and its snapshots add this process\'s time to the time before it', () => {
  const rng = new Rng(21);
  const train = { x: matrix(N, D, randomArray(rng, N * D)), y: Int32Array.from({ length: N }, () => rng.int(C)) };
  const config = mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2 });
  const opts: TrainOptions = { epochs: 2, batchSize: 32, lr: 0.01 };
  const first = new Trainer(new Model(config, new Rng(5)), train, null, opts, new Rng(6));
  first.step();
  const saved = first.snapshot();
  assert.ok(saved.seconds > 0, `a snapshot counts the time this process trained: ${saved.seconds}`);
  // as if the run had trained for 1000 s before it stopped
  const resumed = new Trainer(first.model, train, null, opts, new Rng(7), { ...saved, seconds: 1000 });
  resumed.optimizer.loadState(first.optimizer.state);
  while (!resumed.done) resumed.step();
  const seconds = resumed.progress.history.map((e) => e.seconds);
  assert.equal(seconds.length, 2);
  assert.ok(seconds.every((s) => s > 1000), `the epochs count the 1000 s before the resume: ${seconds}`);
  assert.ok(resumed.snapshot().seconds > 1000 && resumed.snapshot().seconds >= seconds[1], `its snapshot too: ${resumed.snapshot().seconds}`);
});

test('adoptState: a lazy optimizer takes the arrays as its own; one that made its state copies them; a wrong state is refused', () => {
  const model = new Model(mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2 }), new Rng(3));
  const state = () => model.params().map((p) => ({ m: new Float32Array(p.size).fill(0.5), v: new Float32Array(p.size).fill(0.25), steps: new Int32Array(p.numSlots).fill(2) }));
  const lazy = new Optimizer(model.params(), { kind: 'adam' }, { lazy: true });
  const given = state();
  lazy.adoptState(given);
  assert.equal(lazy.state[0].m, given[0].m, 'no copy');
  assert.equal(lazy.state[1].v, given[1].v);
  const eager = new Optimizer(model.params(), { kind: 'adam' });
  const other = state();
  eager.adoptState(other);
  assert.notEqual(eager.state[0].m, other[0].m, 'its own arrays, the values copied');
  assert.deepEqual(Array.from(eager.state[0].m), Array.from(other[0].m));
  // a lazy optimizer given nothing makes zeros at its first use
  const fresh = new Optimizer(model.params(), { kind: 'sgd' }, { lazy: true });
  assert.ok(fresh.state.every((st) => st.m.every((v) => v === 0) && st.v === null));
  assert.throws(() => new Optimizer(model.params(), { kind: 'sgd' }, { lazy: true }).adoptState(state()), /is for adam, the run uses sgd/);
  assert.throws(() => new Optimizer(model.params(), { kind: 'sgd' }, { lasy: true } as { lazy?: boolean }), /optimizer options: unknown setting "lasy"/);
  assert.throws(() => new Optimizer(model.params(), { kind: 'adam' }, { lazy: true }).adoptState(state().slice(1)), /optimizer state for \d+ parameters, the model has/);
});
