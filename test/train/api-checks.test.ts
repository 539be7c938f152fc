/**
 * What the library API does with bad input: a TreegateError naming the problem, thrown before any work,
 * the same on every backend — never a hang, a crash inside a kernel, or a quietly wrong result (labels out
 * of range read the next row's logits on js and other memory on wasm; a batch size of 0 looped forever).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TreegateError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { parseCsv, type CsvOptions } from '../../src/data/csv.js';
import { makeMemorization, type MemorizationOptions } from '../../src/data/memorization.js';
import { loadMnist } from '../../src/data/mnist.js';
import { prepareData, type PrepareOptions } from '../../src/data/prepare.js';
import { computeNormalization } from '../../src/data/dataset.js';
import { encodeCheckpoint, loadNewestCheckpoint, writeCheckpoint } from '../../src/io/checkpoint.js';
import { saveModel } from '../../src/io/model-file.js';
import { encodeModel, modelFromTensors } from '../../src/io/model-codec.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends, selectBackend } from '../../src/kernels/select.js';
import { Activation } from '../../src/layers/activation.js';
import { mlpConfig, Model, type InputNormalization, type MlpOptions } from '../../src/layers/model.js';
import { andList, checkDepths, checkDepthsFit, dataSources, deepestFitting, denseOfEqualParams, fit, machine, parameterCount, resumeFrom } from '../../src/experiments/common.js';
import { runAccuracy } from '../../src/experiments/accuracy.js';
import { runGating } from '../../src/experiments/gating.js';
import { runMemorization } from '../../src/experiments/memorization.js';
import { experimentReport } from '../../src/experiments/results.js';
import { runSpeed } from '../../src/experiments/speed.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Optimizer, type OptimizerConfig } from '../../src/train/optim.js';
import { findNonFinite, NonFiniteError, TRAIN_OPTION_DEFAULTS, Trainer, type LabeledData, type TrainOptions } from '../../src/train/trainer.js';

const D = 8, C = 3;
const model = (): Model => new Model(mlpConfig({ inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 2, gating: 'projection' }), new Rng(5));
function data(N: number, seed = 1): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed), x = matrix(N, D), y = new Int32Array(N);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  for (let i = 0; i < N; i++) y[i] = rng.int(C);
  return { x, y };
}
const OPTS: TrainOptions = { epochs: 1, batchSize: 8, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' } };
const rejects = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));

test('matrix and the layers reject shapes that are not whole, or data shorter than the shape', () => {
  rejects(() => matrix(2.5, D), /rows and columns must be integers ≥ 0, got \(2\.5, 8\)/);
  rejects(() => matrix(-1, D), /got \(-1, 8\)/);
  rejects(() => matrix(2, D, new Float32Array(3)), /data has 3 elements, needs 2×8 = 16/);
  const m = model();
  rejects(() => m.forward({ rows: 10, cols: D, data: new Float32Array(D) }, 'infer'), /model input: data has 8 elements, needs 10×8 = 80/);
  rejects(() => m.forward({ rows: 2.5, cols: D, data: new Float32Array(3 * D) }, 'infer'), /model input: rows and columns must be integers/);
  rejects(() => m.forward(matrix(2, D + 1), 'infer'), /expected shape \(N, 8\), got \(2, 9\)/);
});

test('labels out of range or too few, a batch size that is not a whole number ≥ 1, NaN inputs: every backend says which', () => {
  for (const be of registerAvailableBackends()) {
    setBackend(be);
    const m = model(), { x, y } = data(10);
    const bad = y.slice();
    bad[4] = 7;
    rejects(() => m.evaluate(x, bad), /evaluation: label 7 of example 4 is not a class of the model \(classes are 0…2\)/);
    rejects(() => m.lossAndGrad(x, bad), /training batch: label 7 of example 4/);
    bad[4] = -1;
    rejects(() => m.evaluate(x, bad), /label -1 of example 4/);
    rejects(() => m.evaluate(x, y.subarray(0, 3)), /evaluation: 3 labels for 10 examples/);
    rejects(() => m.evaluate(x, new Int32Array(12)), /evaluation: 12 labels for 10 examples \(give one label per example\)/);
    rejects(() => m.evaluate(matrix(0, D), new Int32Array(0)), /the evaluation set is empty/);
    for (const b of [0, 2.5, -5, NaN]) rejects(() => m.evaluate(x, y, b), /evaluation batch size must be an integer/);
    const nan = matrix(10, D, x.data.slice());
    nan.data[1 * D + 2] = NaN;
    rejects(() => m.evaluate(nan, y), /evaluation input: row 1, column 2 is NaN/);
    rejects(() => m.forward(nan, 'infer'), /model input: row 1, column 2 is NaN/);
    nan.data[1 * D + 2] = -Infinity;
    rejects(() => m.forward(nan, 'infer'), /model input: row 1, column 2 is -Infinity/);
    assert.ok(Number.isFinite(m.evaluate(x, y).loss), `${be}: finite inputs evaluate`);
  }
  setBackend('js');
});

test('Trainer checks the training and validation sets when built, and names a non-finite input of a batch', () => {
  const m = model(), train = data(40), val = data(16, 2);
  rejects(() => new Trainer(m, train, { x: matrix(16, D + 1), y: val.y }, OPTS, new Rng(1)), /validation set inputs: expected shape \(N, 8\), got \(16, 9\)/);
  rejects(() => new Trainer(m, train, { x: val.x, y: val.y.subarray(0, 5) }, OPTS, new Rng(1)), /validation set: 5 labels for 16 examples/);
  const y = train.y.slice();
  y[39] = C;
  rejects(() => new Trainer(m, { x: train.x, y }, null, OPTS, new Rng(1)), /training set: label 3 of example 39 is not a class/);
  // a non-finite input is named when the Trainer is built: with onNonFinite 'skip', every batch holding it was
  // skipped and training went on, learning little; in the validation set it was met an epoch later
  const nan = matrix(40, D, train.x.data.slice());
  nan.data[30 * D + 4] = NaN;
  rejects(() => new Trainer(m, { x: nan, y: train.y }, null, { ...OPTS, onNonFinite: 'skip' }, new Rng(1)), /training set inputs: row 30, column 4 is NaN \(inputs must be finite\)/);
  rejects(() => new Trainer(m, train, { x: matrix(16, D, nan.data.slice(0, 16 * D).fill(Infinity, 3, 4)), y: val.y }, OPTS, new Rng(1)),
    /validation set inputs: row 0, column 3 is Infinity/);
  rejects(() => new Trainer(m, { x: train.x, y: Array.from(train.y) as unknown as Int32Array }, null, OPTS, new Rng(1)),
    /training set: labels \(its y\) must be an Int32Array, got an array of 40 elements \(make one with Int32Array\.from\(labels\)\)/);
  rejects(() => new Trainer(m, { x: train.x, labels: train.y } as never, null, OPTS, new Rng(1)),
    /training set: labels \(its y\) must be an Int32Array, got undefined \(give the set its labels as y: \{ x, y \}\)/);
  // JavaScript callers: an argument left out shifts the others, and the order is named
  rejects(() => new Trainer(m, train, null, new Rng(1) as never, undefined as never),
    /the training options are an Rng \(the arguments are \(model, data, validation or null, options, rng\): give the options, or \{\} for the defaults, before the Rng\)/);
  rejects(() => new Trainer(m, train, OPTS as never, new Rng(1) as never, undefined as never), /the training options are an Rng/);
  rejects(() => new Trainer(m, train, new Rng(1) as never, undefined as never, undefined as never), /the validation set must be \{ x, y \} or null, got an Rng \(the arguments are/);
  rejects(() => new Trainer(m, train, { epochs: 1 } as never, {}, new Rng(1)),
    /the validation set must be \{ x, y \} or null, got an object of epochs \(the arguments are .*: null for no validation set\)/);
  // what the options leave out is treegate train's default; what plain JavaScript can pass in their place is named
  const defaults = new Trainer(m, train, null, {}, new Rng(1)).opts;
  assert.deepEqual([defaults.epochs, defaults.batchSize, defaults.lr, defaults.schedule, defaults.optimizer], [5, 64, 1e-3, 'cosine', { kind: 'adam' }]);
  assert.deepEqual(TRAIN_OPTION_DEFAULTS, { epochs: 5, batchSize: 64, lr: 1e-3, schedule: 'cosine', optimizer: { kind: 'adam' } });
  (defaults.optimizer as { kind: string }).kind = 'sgd';
  assert.equal(TRAIN_OPTION_DEFAULTS.optimizer.kind, 'adam', 'a Trainer\'s options are its own copy');
  rejects(() => new Trainer(m, train, null, { ...OPTS, schedule: 'linear' as 'cosine' }, new Rng(1)), /unknown learning-rate schedule "linear".*'constant', 'cosine' or 'plateau'/s);
  rejects(() => new Trainer(m, train, null, { ...OPTS, optimizer: 'adam' as unknown as OptimizerConfig }, new Rng(1)), /the optimizer must be an object, got "adam"/);
  // null is a value, not a setting left out: named
  rejects(() => new Trainer(m, train, null, { ...OPTS, optimizer: null as unknown as OptimizerConfig }, new Rng(1)), /the optimizer must be an object, got null/);
  rejects(() => new Trainer(m, train, null, { ...OPTS, epochs: null as unknown as number }, new Rng(1)), /epochs must be an integer in \[1, ∞\], got null/);
  rejects(() => new Trainer(m, train, null, { ...OPTS, lr: 0 }, new Rng(1)), /the learning rate must be a finite number > 0, got 0/);
  rejects(() => new Trainer(m, { ...train, numClasses: m.config.numClasses + 1 } as LabeledData, null, OPTS, new Rng(1)),
    /the training set has \d+ classes \(its numClasses\), more than the model's \d+ \(make the model for the data/);
  // epochs × steps per epoch past 2^53 could not be counted: refused with the most epochs that can
  rejects(() => new Trainer(m, train, null, { ...OPTS, epochs: Number.MAX_SAFE_INTEGER }, new Rng(1)), /more steps than can be counted exactly.*train at most \d+ epochs/s);
  assert.ok(Object.isFrozen(TRAIN_OPTION_DEFAULTS) && Object.isFrozen(TRAIN_OPTION_DEFAULTS.optimizer), 'the defaults cannot be changed');
  const t = new Trainer(m, train, val, { ...OPTS, beforeStep: (step, xb) => { if (step === 2) xb[D + 5] = NaN; } }, new Rng(1));
  t.step();
  assert.throws(() => t.step(), (e: unknown) => e instanceof NonFiniteError &&
    /step 2: non-finite value in the input of training example \d+ \(feature 5 is NaN\)/.test(e.message), 'names the example and feature');
  // onNonFinite 'skip' that drops every step of the run: an error after the last step, not a model that never trained
  const startedFrom = m.params().map((q) => q.data.slice());
  const poisoned = { ...OPTS, epochs: 2, onNonFinite: 'skip' as const, beforeStep: (_: number, xb: Float32Array) => { xb[1] = Infinity; } };
  const all = new Trainer(m, train, null, poisoned, new Rng(1));
  let steps = 0;
  assert.throws(() => { while (!all.done) { all.step(); steps++; } }, (e: unknown) => e instanceof NonFiniteError && e.everyStepSkipped && e.inInput &&
    new RegExp(`every one of the run's ${all.totalSteps} training steps had a non-finite loss and was skipped \\(the last: non-finite value in the input of training example \\d+ \\(feature 1 is Infinity\\)\\): the weights are the ones training started from \\(fix or drop those examples`).test(e.message));
  assert.equal(steps, all.totalSteps - 1, 'thrown by the last step');
  assert.ok(m.params().every((q, i) => q.data.every((v, j) => v === startedFrom[i][j])));
  // finite inputs whose activations overflow at the initial weights: no step changes them, so no learning rate helps
  const huge = matrix(40, D, train.x.data.map((v) => (v < 0 ? -3e38 : 3e38)));
  assert.throws(() => { const h = new Trainer(m, { x: huge, y: train.y }, null, { ...OPTS, onNonFinite: 'skip' }, new Rng(1)); while (!h.done) h.step(); },
    (e: unknown) => e instanceof NonFiniteError && e.everyStepSkipped && !e.inInput && /every one of the run's 5 training steps had a non-finite loss and was skipped \(the last: non-finite value in /.test(e.message) &&
      /no step changed the weights, so the loss overflowed at the initial weights on every batch: rescale the inputs .*a lower learning rate cannot help/.test(e.message));
  // one step left to train is enough
  const some = new Trainer(m, train, null, { ...poisoned, beforeStep: (step: number, xb: Float32Array) => { if (step > 1) xb[1] = NaN; } }, new Rng(1));
  while (!some.done) some.step();
  assert.equal(some.progress.skippedSteps, some.totalSteps - 1);
  // each skipped step halves the rate of every step after it (a step's reported rate: the one the next step takes)
  const rates: number[] = [];
  const halving = new Trainer(m, train, null, { ...OPTS, onNonFinite: 'skip', onStep: (st) => rates.push(st.lr / OPTS.lr!),
    beforeStep: (step, xb) => { if (step === 2 || step === 4) xb[1] = NaN; } }, new Rng(1));
  while (!halving.done) halving.step();
  assert.deepEqual(rates, [1, 0.5, 0.5, 0.25, 0.25]);
  assert.equal(halving.progress.lrScale, 0.25);
});

test('findNonFinite names a weight before a gradient; a model with a non-finite weight or normalization is refused', () => {
  const m = model(), { x, y } = data(8);
  m.clearGrad();
  m.lossAndGrad(x, y);
  assert.equal(findNonFinite(m), null);
  const p = m.params()[2];
  p.grad[p.touched[0] * p.slotSize] = Infinity;
  assert.deepEqual(findNonFinite(m), { kind: 'gradient of', name: p.name });
  m.params()[0].data[3] = NaN;
  assert.deepEqual(findNonFinite(m), { kind: 'weight', name: m.params()[0].name });
  rejects(() => encodeModel(m), /cannot save the model: tensor layers\.0\.weight holds a non-finite value \(NaN\) at index 3/);
  const cfg = mlpConfig({ inputSize: D, numClasses: C, hidden: [], treeLayers: [], depth: 0 });
  const bad: Array<[InputNormalization, RegExp]> = [
    [{ scale: 1, mean: NaN, std: 1 }, /model input normalization\.mean is NaN, must be a finite number or a list of one per feature/],
    [{ scale: 1, mean: 0, std: 0 }, /model input normalization\.std is 0, must be a finite number ≥ 1e-30/],
    [{ scale: 1, mean: [0, 0], std: 1 }, new RegExp(`normalization\\.mean holds 2 values, the model has ${D} features`)],
    [{ scale: 1, mean: 0, std: Array.from({ length: D }, (_, i) => (i === 1 ? -1 : 1)) }, /normalization\.std\[1\] is -1, must be a finite number ≥ 1e-30/],
  ];
  for (const [normalization, re] of bad) rejects(() => new Model({ ...cfg, normalization }), re);
});

test('seeds, backend names and data options that would be quietly changed are refused', () => {
  for (const seed of [1.5, NaN, -1, 2 ** 32]) rejects(() => new Rng(seed), /a seed must be an integer in \[0, 2\^32\)/);
  assert.equal(new Rng(2 ** 32 - 1).nextU32(), new Rng(2 ** 32 - 1).nextU32());
  rejects(() => selectBackend('cuda' as 'js'), /unknown backend 'cuda' \(use one of auto, native, wasm, js\)/);
  // setBackend switches between the loaded backends: before any kernel call only js is, and it says what loads the others
  const fresh = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "import { setBackend } from './src/index.ts'; for (const b of ['native', 'wasm']) try { setBackend(b); } catch (e) { console.log(e.message); }"],
  { encoding: 'utf8', timeout: 60_000 });
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.deepEqual(fresh.stdout.trim().split('\n'), [
    "the native backend is not loaded (loaded: js) (selectBackend('native') loads and selects it in Node)",
    "the wasm backend is not loaded (loaded: js) (selectBackend('wasm') loads and selects it in Node; in a page, await useWasm(url); one you loaded yourself with loadWasmBackend needs registerBackend(backend) first)"]);
  const rng = new Rng(1);
  rejects(() => prepareData({ dataset: 'memorization', memorization: { examples: 50, inputSize: 4, classes: 2 }, limit: 0 }, rng), /limit \(--limit\) must be an integer in \[1/);
  rejects(() => prepareData({ dataset: 'memorization', limit: 10, validation: 2.5 }, rng), /validation \(--validation\) must be an integer in \[0/);
  // settings that belong to something else
  rejects(() => prepareData({ dataset: 'memorization', csv: 'a.csv' }, rng), /csv, testCsv, labelColumn and header \(--csv, --test-csv, --label-column, --header\) need the csv dataset, not memorization/);
  rejects(() => prepareData({ dataset: 'mnist', header: true }, rng), /need the csv dataset, not mnist/);
  rejects(() => prepareData({ dataset: 'mnist', memorization: { examples: 5 } }, rng), /memorization sizes need the memorization dataset, not mnist/);
  rejects(() => prepareData({ dataset: 'memorization', memorization: { examples: 2e9 } }, rng), /memorization: examples \(--examples\) must be an integer in \[1, 10000000\]/);
  rejects(() => prepareData({ dataset: 'memorization' }, undefined as unknown as Rng), /prepareData needs an Rng .*new Rng\(seed\)/);
  rejects(() => new Rng(1).permutation(-1), /Rng\.permutation\(n\) permutes 0\.\.n−1: n must be an integer in \[0, 2\^31\), got -1/);
  rejects(() => parseCsv('a,label\n1,x\n2,y\n', 'l.csv', { labels: 5 as unknown as string[] }), /CSV options: labels must be the class names, an array of strings, got 5/);
  rejects(() => new Optimizer([], { kind: 'adam', momentum: 0.5 } as OptimizerConfig), /momentum is a setting of sgd, not adam/);
  rejects(() => new Optimizer([], { kind: 'sgd', beta1: 0.5 } as OptimizerConfig), /beta1, beta2 and eps are settings of adam, not sgd/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [4], treeLayers: [1], depth: 1, routed: 'bogus' as 'tree' }), /unknown routed layer kind 'bogus'/);
  // (as new Model refuses them, before a config is made)
  rejects(() => mlpConfig({ inputSize: D, numClasses: 1, hidden: [4], treeLayers: [], depth: 0 }), /MLP options: numClasses \(the model class count\) must be an integer in \[2, ∞\], got 1/);
  rejects(() => mlpConfig({ inputSize: 0, numClasses: C, hidden: [4], treeLayers: [], depth: 0 }), /MLP options: inputSize \(the model input size\) must be an integer in \[1, ∞\], got 0/);
  rejects(() => denseOfEqualParams({ inputSize: D, numClasses: C, hidden: [4], treeLayers: [], depth: 0 }, NaN), /parameter count of the dense MLP must be an integer/);
  // a count of 0 (a routed model's, not yet counted) has no dense MLP: not one of widths 1
  rejects(() => denseOfEqualParams({ inputSize: D, numClasses: C, hidden: [4], treeLayers: [], depth: 0 }, 0), /parameter count of the dense MLP must be an integer in \[1, ∞\], got 0/);
});

test('a disposed model cannot be saved or trained; tree layer indices may not repeat', () => {
  const m = model();
  m.dispose();
  rejects(() => encodeModel(m), /this model was disposed/);
  rejects(() => m.params(), /this model was disposed/);
  rejects(() => m.parameterCount(), /this model was disposed/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [12], treeLayers: [2, 2], depth: 2 }), /tree layer indices repeat: 2, 2/);
});

test('a disposed optimizer cannot step, load state or be saved; a checkpoint keeps at least one file; a missing folder is named', () => {
  const m = model(), { x, y } = data(16);
  const t = new Trainer(m, { x, y }, null, OPTS, new Rng(1));
  t.step();
  const run = { progress: t.snapshot(), options: {}, metrics: [], extra: {} };
  const dir = mkdtempSync(join(tmpdir(), 'treegate-ck-'));
  try {
    rejects(() => writeCheckpoint(dir, m, t.optimizer, run, 0), /checkpoints to keep must be an integer in \[1, /);
    rejects(() => writeCheckpoint(dir, m, t.optimizer, run, NaN), /checkpoints to keep must be an integer/);
    assert.deepEqual(readdirSync(dir), [], 'nothing written, nothing deleted');
    rejects(() => writeCheckpoint(join(dir, 'missing'), m, t.optimizer, run, 1), /cannot write .*missing.*ENOENT.*the folder does not exist: create it first/s);
    const state = t.optimizer.state.map((s) => ({ m: s.m.slice(), v: s.v?.slice() ?? null, steps: s.steps.slice() }));
    t.optimizer.dispose();
    for (const f of [() => t.step(), () => t.optimizer.step(1e-3), () => t.optimizer.loadState(state), () => encodeCheckpoint(m, t.optimizer, run)]) {
      rejects(f, /this optimizer was disposed/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeCheckpoint names a run without progress and an extra that is not JSON; loadNewestCheckpoint warns on the console by default', () => {
  const m = model(), { x, y } = data(16);
  const t = new Trainer(m, { x, y }, null, OPTS, new Rng(1));
  t.step();
  const dir = mkdtempSync(join(tmpdir(), 'treegate-ck-'));
  try {
    const progress = t.snapshot(), cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    rejects(() => writeCheckpoint(dir, m, t.optimizer, { options: {} } as never, 2), /the run to save: progress/);
    rejects(() => writeCheckpoint(dir, m, t.optimizer, null as never, 2), /the run to save must be/);
    rejects(() => writeCheckpoint(dir, m, t.optimizer, { progress, options: {}, extra: { a: 1n } }, 2), /the run to save: extra is not plain JSON \(.*BigInt/);
    rejects(() => writeCheckpoint(dir, m, t.optimizer, { progress, options: cyclic }, 2), /the run to save: options is not plain JSON \(.*circular/i);
    assert.deepEqual(readdirSync(dir), [], 'nothing written');
    // a damaged newest checkpoint is skipped with a warning on the console where no warn is given
    writeCheckpoint(dir, m, t.optimizer, { progress, options: {} }, 2);
    t.step();
    const newest = writeCheckpoint(dir, m, t.optimizer, { progress: t.snapshot(), options: {} }, 2);
    writeFileSync(newest, 'damaged');
    const warned: string[] = [], warn = console.warn;
    console.warn = (line: string) => { warned.push(line); };
    try {
      assert.equal(loadNewestCheckpoint(dir).run.progress.step, 1);
    } finally {
      console.warn = warn;
    }
    assert.equal(warned.length, 1);
    assert.match(warned[0]!, /skipping checkpoint .*step-000000002\.safetensors/);
    rejects(() => loadNewestCheckpoint(dir, 'quiet' as never), /warn and validate must be functions/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an optimizer of a disposed model says so on every backend; saveModel to a folder names it; a non-finite input points at the data', () => {
  for (const be of registerAvailableBackends()) {
    setBackend(be);
    const m = model(), { x, y } = data(16);
    const opt = new Optimizer(m.params(), { kind: 'adam' });
    m.lossAndGrad(x, y);
    m.dispose();
    rejects(() => opt.step(1e-3), /was disposed \(its model's dispose\(\) gave its arrays back\): this optimizer's model cannot train/);
  }
  setBackend('js'); // as the other tests leave it (wasm's last bits depend on how its threads split a batch)
  const dir = mkdtempSync(join(tmpdir(), 'treegate-save-'));
  try {
    rejects(() => saveModel(dir, model()), new RegExp(`is a folder \\(pass a file path, e\\.g\\. .*model\\.safetensors\\)`));
    assert.deepEqual(readdirSync(dir), [], 'no temporary file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { x, y } = data(16);
  const t = new Trainer(model(), { x, y }, null, { ...OPTS, beforeStep: (_s, xb) => { xb[1] = NaN; } }, new Rng(1));
  assert.throws(() => t.step(), (e: unknown) => e instanceof NonFiniteError && e.inInput && /feature 1 is NaN/.test(e.message)
    && /fix or drop that example in the training data \(or in what a beforeStep callback writes\)/.test(e.hint ?? ''));
});

test("an experiment's override naming no setting, or of another kind than the setting, is refused", async () => {
  const opts = (override: Record<string, unknown>) => ({ seeds: 1, quick: true, progress: () => {}, log: () => {}, override });
  // the experiments are async: the refusal comes as a rejected promise
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  await refused(runMemorization(opts({ exampels: 200 }), [1]), /memorization: no setting 'exampels' to override \(its settings are examples, /);
  await refused(runMemorization(opts({ depths: 'x' }), [1]), /memorization: setting 'depths' must be an array, got "x"/);
  await refused(runMemorization(opts({ examples: '200' }), [1]), /setting 'examples' must be a number, got "200"/);
  await refused(runMemorization({ ...opts({}), quik: true } as Parameters<typeof runMemorization>[0], [1]),
    /memorization options: unknown setting "quik" \(the settings are seeds, quick, /);
  await refused(runMemorization(opts(5 as unknown as Record<string, unknown>), [1]), /memorization: override must be an object of settings, got 5/);
  // the seeds: as many as options.seeds says, distinct, at least one
  await refused(runMemorization({ ...opts({}), seeds: 3 }, [1]), /memorization: options\.seeds is 3, but 1 seed is given \(1\)/);
  await refused(runMemorization({ ...opts({}), seeds: 0 }, []), /memorization: the seeds must be distinct whole numbers, at least one, got an array of 0 elements/);
  await refused(runMemorization({ ...opts({}), seeds: 2 }, [4, 4]), /the seeds must be distinct whole numbers/);
  await refused(runMemorization(opts({}), [1.5]), /memorization: the seeds must be distinct whole numbers, at least one, got an array of 1 element/);
  // an object setting is overridden key by key, each checked alike
  await refused(runMemorization(opts({ train: { epoch: 1 } }), [1]), /memorization: no setting 'train\.epoch' to override \(its 'train' settings are epochs, batchSize\)/);
  await refused(runMemorization(opts({ train: { epochs: '1' } }), [1]), /memorization: setting 'train\.epochs' must be a number, got "1"/);
  await refused(runMemorization(opts({ train: 1 }), [1]), /memorization: setting 'train' must be an object, got 1/);
  await refused(runMemorization(opts({ toString: 'x' }), [1]), /memorization: no setting 'toString' to override/);
  await refused(runMemorization(opts({ train: { weightDecay: '0.1' } }), [1]), /memorization: setting 'train\.weightDecay' must be a number, got "0\.1"/);
  const r = await runMemorization(opts({ examples: 40, inputSize: 4, classes: 2, hidden: 4, depths: [0], lrs: [1e-3], train: { epochs: 1, weightDecay: 0.01 } }), [1]);
  assert.deepEqual(r.settings.train, { epochs: 1, batchSize: 64, weightDecay: 0.01 }, 'the batch size the override left out is kept, and an optional setting is set');
});

test("memorization's dense model of each depth holds as many parameters as that depth's tree, not the flat leaves' or the mixture's count", async () => {
  const opts = (override: Record<string, unknown>) => ({ seeds: 1, quick: true, progress: () => {}, log: () => {}, override });
  // (the smallest widening that reaches them)
  const deep = await runMemorization(opts({ examples: 40, inputSize: 4, classes: 2, hidden: 8, depths: [0, 3], lrs: [1e-3], train: { epochs: 1 } }), [1]);
  const params = (kind: string, k: number) => deep.runs.find((x) => x.kind === kind && x.k === k)!.parameters as number;
  for (const k of [0, 3]) {
    assert.ok(params('dense', k) >= params('tree', k) && params('dense', k) < 1.25 * params('tree', k),
      `k = ${k}: dense ${params('dense', k)}, tree ${params('tree', k)}, flat ${params('flat', k)}, moe ${params('moe', k)}`);
  }
  assert.ok(params('flat', 3) < 0.8 * params('tree', 3), 'the flat leaves hold fewer (the check above tells them apart)');
});

test("an experiment's gating source: accuracy's alone, units or projection", async () => {
  const opts = { seeds: 1, quick: true, progress: () => {}, log: () => {} };
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  await refused(runGating({ ...opts, gating: 'units' }, [1]), /^gating: gating \(--gating\) chooses the routed layer's bits in the accuracy experiment; gating compares the sources itself \(leave gating out\)$/);
  await refused(runMemorization({ ...opts, gating: 'projection' }, [1]), /^memorization: gating \(--gating\) chooses the routed layer's bits in the accuracy experiment \(leave gating out\)$/);
  await refused(runAccuracy({ ...opts, gating: 'bits' as 'units' }, [1]), /^accuracy: gating must be 'units' or 'projection', got "bits"/);
});

test("an experiment's data (a CSV file): refused by those that make their own, and where it is not a file's reading or comes with mnistDir", async () => {
  const opts = { seeds: 1, quick: true, progress: () => {}, log: () => {}, data: { csv: 'data.csv' } };
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  await refused(runMemorization(opts, [1]), /memorization: data \(a CSV file, --csv\) is for the accuracy and gating experiments/);
  await refused(runSpeed(opts, [1]), /speed: data \(a CSV file, --csv\) is for the accuracy and gating experiments/);
  await refused(runAccuracy({ ...opts, mnistDir: 'mnist' }, [1]), /mnistDir is where MNIST is read from, but with data \(a CSV file\) none is read/);
  // mnistDir is where MNIST is read from: Fashion-MNIST comes from its package still
  assert.deepEqual(dataSources({ ...opts, data: undefined, mnistDir: 'mnist' }, ['mnist', 'fashion-mnist']),
    [{ name: 'mnist', prepare: { dataset: 'mnist', dir: 'mnist' } }, { name: 'fashion-mnist', prepare: { dataset: 'fashion-mnist' } }]);
  await refused(runAccuracy({ ...opts, data: { file: 'data.csv' } as unknown as typeof opts.data }, [1]), /data must be a CSV file as prepareData reads it, \{ csv, testCsv\?, labelColumn\?, header\? \}/);
  // read as prepareData reads it: its errors, before any run
  await refused(runAccuracy({ ...opts, data: { csv: 'data.csv', labelColum: 2 } as unknown as typeof opts.data }, [1]), /data options: unknown setting "labelColum"/);
  await refused(runAccuracy({ ...opts, data: { csv: join(tmpdir(), 'treegate-no-such-file.csv') } }, [1]), /cannot read CSV file .*treegate-no-such-file\.csv/);
});

test("speed's width and batch: settings it records, its dense cap a multiple of the width (the default run's as before); refused by the others, out of range, or where the deepest layers do not fit", async () => {
  const opts = { seeds: 1, quick: true, progress: () => {}, log: () => {} };
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  // one depth, one round: nothing here is timed
  const k0 = { depths: [0], rounds: 1, budgetMs: 1 };
  for (const [quick, cap] of [[true, 16384], [false, 32768]] as const) {
    const r = await runSpeed({ ...opts, quick, override: k0 }, [1]);
    assert.deepEqual(r.settings, { width: 512, batch: 256, ...k0, denseCap: cap, layer: '512 → 512, batches of 256' }, `quick ${quick}: the settings of the runs before --width`);
  }
  for (const [quick, cap] of [[true, 32 * 24], [false, 64 * 24]] as const) {
    const r = await runSpeed({ ...opts, quick, width: 24, batch: 4, override: { ...k0, depths: [0, 3] } }, [1]);
    assert.deepEqual([r.settings.width, r.settings.batch, r.settings.denseCap, r.settings.layer], [24, 4, cap, '24 → 24, batches of 4'], `quick ${quick}`);
    assert.equal(r.runs.find((x) => x.kind === 'tree' && x.k === 0)!.parameters, 24 * 25, 'the layer is 24 → 24');
  }
  await refused(runMemorization({ ...opts, width: 24 }, [1]), /memorization: width and batch \(--width, --batch\) size the layer of the speed experiment/);
  await refused(runSpeed({ ...opts, width: 0 }, [1]), /speed: width must be an integer in \[1, 16384\], got 0/);
  await refused(runSpeed({ ...opts, batch: 2.5 }, [1]), /speed: batch must be an integer in \[1, 65536\], got 2\.5/);
  // the depth-8 tree of a 4096 → 4096 layer: 511 nodes of 4096 × 4096 weights, more than one array holds (at any
  // memory); refused before any run (depth 8 alone: were it not, its tree would fail at once, not after depths 0–7)
  await refused(runSpeed({ ...opts, width: 4096, override: { depths: [8], rounds: 1 } }, [1]),
    /speed: a 4096 → 4096 layer on batches of 256 needs an array of 8\.57G floats at depth 8, more than one array holds \(2\^31 − 1\)/);
  // the width it names is the widest that fits (its dense cap the same multiple of it): refused one wider, not at it
  // (stopped before the first depth: nothing is built or timed)
  const wide = { ...opts, override: { depths: [8], rounds: 1 }, stopRequested: async () => true };
  const named = await runSpeed({ ...wide, width: 4096 }, [1]).then(() => NaN, (e: Error) => Number(/lower the width \(--width\) to (\d+) or less/.exec(e.message)?.[1]));
  assert.ok(named > 0, String(named));
  assert.deepEqual((await runSpeed({ ...wide, width: named }, [1])).interrupted, { seeds: [1], droppedRuns: 0 });
  await refused(runSpeed({ ...wide, width: named + 1 }, [1]), new RegExp(`speed: a ${named + 1} → ${named + 1} layer on batches of 256 needs `));
});

test('resumeFrom refuses settings the interrupted run lacked as those it had; andList names one experiment alone', () => {
  const o = { seeds: 1, quick: true, progress: () => {}, log: () => {} };
  const resume = { seeds: [1], runs: [{ seed: 1 }], settings: { a: 1 } };
  assert.deepEqual(resumeFrom({ ...o, resume }, 'x', { a: 1 }), { runs: [{ seed: 1 }], completed: [1] });
  assert.throws(() => resumeFrom({ ...o, resume }, 'x', { a: 1, b: [2] }), /x: the interrupted run's settings are not this run's: b was nothing, would be \[2\]/);
  assert.throws(() => resumeFrom({ ...o, resume }, 'x', {}), /a was 1, would be nothing/);
  assert.deepEqual([andList(['gating']), andList(['a', 'b']), andList(['a', 'b', 'c'])], ['gating', 'a and b', 'a, b and c']);
});

test("speed's depths: the ones it times, in increasing order, and records; refused where they are not distinct depths", async () => {
  const opts = { seeds: 1, quick: true, progress: () => {}, log: () => {}, width: 8, batch: 4 };
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  const timing = { rounds: 1, budgetMs: 1 };
  const r = await runSpeed({ ...opts, depths: [3, 0], override: timing }, [1]);
  assert.deepEqual(r.settings.depths, [0, 3]);
  assert.deepEqual(r.runs.map((x) => `${x.kind} ${x.k}`), ['tree 0', 'moe 0', 'dense 0', 'tree 3', 'moe 3', 'dense 3']);
  // the full run's and quick mode's where none are given
  assert.deepEqual((await runSpeed({ ...opts, quick: false, override: { ...timing, rounds: 1 } }, [1])).settings.depths, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  for (const [depths, shown] of [[[], '\\[\\]'], [[1, 1], '\\[1, 1\\]'], [[25], '\\[25\\]'], [[-1], '\\[-1\\]'], [[1.5], '\\[1\\.5\\]'], [['2'], '\\["2"\\]'], [5, '5']] as const) {
    await refused(runSpeed({ ...opts, depths: depths as unknown as number[], override: timing }, [1]),
      new RegExp(`speed: depths must be distinct whole numbers in \\[0, 24\\], at least one, got ${shown} \\(pass e\\.g\\. \\[0, 2, 4\\]`));
  }
  // an override's depths alike
  await refused(runSpeed({ ...opts, override: { ...timing, depths: [0, 30] } }, [1]), /speed: depths must be distinct whole numbers in \[0, 24\], at least one, got \[0, 30\]/);
});

test("memorization's and accuracy's depths: the ones they run, in increasing order, and record; 0 among them; refused where the deepest models do not fit, and by gating", async () => {
  const opts = { seeds: 1, quick: true, progress: () => {}, log: () => {} };
  const refused = (run: Promise<unknown>, re: RegExp) => assert.rejects(run, (e: unknown) => e instanceof TreegateError && re.test(e.message), String(re));
  const tiny = { examples: 40, inputSize: 4, classes: 2, hidden: 4, lrs: [1e-3], train: { epochs: 1, batchSize: 64 } };
  const r = await runMemorization({ ...opts, depths: [3, 0], override: tiny }, [1]);
  assert.deepEqual(r.settings.depths, [0, 3]);
  assert.deepEqual([...new Set(r.runs.map((x) => x.k))], [0, 3], 'run in increasing order');
  // the report's dense line of equal compute, the k = 0 model, spans the depths run
  const report = experimentReport({ ...r, command: 't', date: 'd', machine: machine('js') });
  const line = report.sections[0].charts![0].traces.find((t) => t.name === 'dense, equal compute (k = 0)');
  assert.deepEqual(line?.x, [0, 3]);
  // 0 among them: the reports' baseline (an override's depths alike)
  await refused(runMemorization({ ...opts, depths: [4, 2], override: tiny }, [1]),
    /memorization: depths must include 0: the depth-0 model is its report's "dense, equal compute \(k = 0\)" line, the baseline of each depth, got \[4, 2\] \(add it: \[0, 2, 4\] \(--depths 0,2,4\)\)/);
  await refused(runAccuracy({ ...opts, override: { depths: [3] } }, [1]), /accuracy: depths must include 0: the dense MLP \(k = 0\) is the baseline its report measures each depth against, got \[3\]/);
  await refused(runAccuracy({ ...opts, depths: [0, 0] }, [1]), /accuracy: depths must be distinct whole numbers in \[0, 24\], at least one, got \[0, 0\]/);
  // depth 24 of the 256-wide layer: one array of its nodes would hold 2^25 − 1 × 256², more than one array holds
  await refused(runAccuracy({ ...opts, depths: [0, 2, 24] }, [1]), /accuracy: a model of depth 24 does not fit: .*does not fit one array .*\(keep to depths up to \d+ \(--depths 0,2\)\)/);
  await refused(runMemorization({ ...opts, depths: [0, 24] }, [1]), /memorization: a model of depth 24 does not fit: /);
  // gating's in [1, 10]: no bits at depth 0; 2^k counts of leaf usage recorded per epoch (an override's depths alike)
  await refused(runGating({ ...opts, depths: [0, 4] }, [1]),
    /gating: depths must be distinct whole numbers in \[1, 10\] \(a depth-0 tree has no gating bits; results record each leaf's usage after every epoch, 2\^k counts, drawn as heatmaps\), at least one, got \[0, 4\] \(pass e\.g\. \[1, 3, 5\] \(--depths 1,3,5\)\)/);
  await refused(runGating({ ...opts, override: { depths: [2, 11] } }, [1]), /gating: depths must be distinct whole numbers in \[1, 10\] .*, got \[2, 11\]/);
});

test('depths are sorted as numbers (10 after 2); the deepest depth that fits is named with the depths up to it; a depth\'s largest model is counted against this machine\'s memory', () => {
  assert.deepEqual(checkDepths('speed', [10, 2, 0]), [0, 2, 10]);
  assert.deepEqual(deepestFitting([0, 2, 4], (k) => k <= 2), { deepest: 2, fix: 'keep to depths up to 2 (--depths 0,2)' });
  assert.deepEqual(deepestFitting([3, 5], (k) => k === 0), { deepest: 0, fix: 'keep to depths up to 0 (--depths 0)' });
  assert.deepEqual(deepestFitting([1], () => false), { deepest: -1, fix: null });
  // MLPs whose training (weights, gradients, Adam's two moments: 16 bytes a parameter) needs about `share` of this
  // machine's memory, in arrays of at most 2^30 floats (counted, not built)
  const needing = (share: number): MlpOptions => {
    const parameters = (share * totalmem()) / 16, layers = Math.ceil(parameters / 2 ** 30), h = Math.round(Math.sqrt(parameters / (layers + 1)));
    return { inputSize: h, numClasses: h, hidden: Array.from({ length: layers }, () => h), treeLayers: [], depth: 0 };
  };
  const small = needing(1e-6), big = needing(1.4);
  assert.ok(16 * parameterCount(big) > totalmem() && 8 * parameterCount(big) < totalmem() && 16 * parameterCount(needing(0.7)) < totalmem(), 'models of the memory asked for');
  // depth 2's largest model (the first of its two) does not fit; depth 1's, at 0.7 of the memory, does
  const modelsAt = (k: number) => [[small], [needing(0.7), small], [big, small]][k];
  checkDepthsFit('x', [0, 1], modelsAt);
  assert.throws(() => checkDepthsFit('x', [0, 1, 2], modelsAt), (e: unknown) => e instanceof TreegateError
    && /^x: the largest model of depth 2, of [\d.]+\S* parameters, needs [\d.]+ GiB for its weights, gradients and Adam state, more than this machine's [\d.]+ GiB of memory/.test(e.message)
    && e.hint === 'keep to depths up to 1 (--depths 0,1)');
});

test('fit: the weight decay and cosine schedule of the settings reach the optimizer; the leaf usage it reports is the test set\'s alone', () => {
  const data = prepareData({ dataset: 'memorization', memorization: { examples: 64, inputSize: 4, classes: 2 } }, new Rng(1));
  const mlp: MlpOptions = { inputSize: 4, numClasses: 2, hidden: [4], treeLayers: [2], depth: 2, gating: 'projection' };
  const plain = fit(mlp, data, { epochs: 2, batchSize: 16, lr: 1e-2 }, 1), decayed = fit(mlp, data, { epochs: 2, batchSize: 16, lr: 1e-2, weightDecay: 0.5 }, 1);
  assert.notEqual(decayed.history[1].trainLoss, plain.history[1].trainLoss, 'the weight decay changes the steps');
  assert.ok(plain.history[1].lr < 1e-3, `the rate cosine-annealed to the last step: ${plain.history[1].lr}`);
  // (not the first test examples' again, which a first inference ran to build the collapsed leaves)
  assert.deepEqual(plain.trees[0].usage.map((block) => block.reduce((a, b) => a + b, 0)), [data.test.x.rows]);
});

test('accuracy\'s variants: γ reaches the tree\'s depth-scaled decay, flat\'s second rate is 3×; the runs record the gap as train − test, dead leaves as a count, each aggregate its dataset', async () => {
  // 120 examples of random labels: what two variants learn differs wherever their training does
  const csv = join(mkdtempSync(join(tmpdir(), 'treegate-accuracy-')), 'random.csv');
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  writeFileSync(csv, Array.from({ length: 120 }, () => [next(), next(), next(), Math.floor(next() * 3)].map((v) => String(v)).join(',')).join('\n') + '\n');
  const r = await runAccuracy({ seeds: 1, quick: true, progress: () => {}, log: () => {}, data: { csv }, depths: [0, 2],
    override: { train: { epochs: 2, batchSize: 16, lr: 0.02, weightDecay: 2 } } }, [1]);
  const at = (variant: string) => r.runs.find((x) => x.k === 2 && x.variant === variant)!;
  const figures = (x: typeof r.runs[number]) => [x.testAccuracy, x.trainAccuracy, x.balance];
  assert.notDeepEqual(figures(at('tree, γ = 2')), figures(at('tree, γ = 1')));
  assert.notDeepEqual(figures(at('flat, 3× lr')), figures(at('flat')));
  for (const x of r.runs) {
    assert.equal(x.gap, Number(x.trainAccuracy) - Number(x.testAccuracy));
    // (the dense MLP, k = 0, and the one of equal parameters have no leaves: none)
    const leafless = x.k === 0 || x.variant === 'dense, equal parameters';
    assert.ok(leafless ? x.deadLeaves === null : Number.isInteger(x.deadLeaves), `${x.variant} k=${x.k}: dead leaves ${x.deadLeaves}`);
  }
  assert.ok(r.aggregate.every((a) => a.dataset === csv), 'each aggregate names its dataset');
});

test('denseOfEqualParams given a config instead of the options says so', () => {
  const options = { inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 2 };
  rejects(() => denseOfEqualParams(mlpConfig(options) as unknown as Parameters<typeof denseOfEqualParams>[0], 1000),
    /denseOfEqualParams takes the options mlpConfig takes/);
  assert.ok(denseOfEqualParams(options, 1000).hidden[0] > 12);
});

test('predict: classes and softmax probabilities, agreeing with evaluate, the same bits in any batch size; bad inputs named', () => {
  const m = model();
  const { x, y } = data(37, 4);
  const { classes, probabilities } = m.predict(x);
  assert.equal(classes.length, 37);
  assert.deepEqual([probabilities.rows, probabilities.cols], [37, C]);
  let correct = 0;
  for (let i = 0; i < 37; i++) {
    const p = Array.from(probabilities.data.subarray(i * C, (i + 1) * C));
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row ${i} sums to 1`);
    assert.equal(p.indexOf(Math.max(...p)), classes[i], `row ${i}: the class is the most probable`);
    if (classes[i] === y[i]) correct++;
  }
  assert.equal(correct / 37, m.evaluate(x, y).accuracy);
  assert.deepEqual(Array.from(m.evaluate(x, y, 5).classes), Array.from(classes), "evaluate's classes are predict's, in any batch size");
  const small = m.predict(x, 5);
  assert.deepEqual(Array.from(small.classes), Array.from(classes));
  assert.deepEqual(new Uint8Array(small.probabilities.data.buffer), new Uint8Array(probabilities.data.buffer));
  assert.equal(m.predict(matrix(0, D)).classes.length, 0, 'no examples: no predictions');
  const bad = matrix(2, D);
  bad.data[3] = NaN;
  rejects(() => m.predict(bad), /prediction input/);
  rejects(() => m.predict(matrix(2, D + 1)), /expected shape \(N, 8\), got \(2, 9\)/);
  rejects(() => m.predict(x, 0), /prediction batch size/);
  assert.equal(small.overflowed, 0);
  // finite inputs far outside the training data overflow the outputs: counted, their probabilities NaN
  const huge = matrix(3, D, x.data.slice(0, 3 * D));
  huge.data.fill(3e38, D, 2 * D);
  const p = m.predict(huge);
  assert.equal(p.overflowed, 1);
  assert.ok(p.probabilities.data.subarray(C, 2 * C).every(Number.isNaN) && Number.isFinite(p.probabilities.data[0]) && Number.isFinite(p.probabilities.data[2 * C]));
  assert.deepEqual(Array.from(p.classes), [classes[0], -1, classes[2]], 'the overflowed example has no class (−1), the others theirs');
  // evaluate: a loss that is not finite, the overflowed example counted wrong whatever its label
  for (const label of [0, 1, 2]) {
    const labels = Int32Array.of(y[0], label, y[2]), e = m.evaluate(huge, labels);
    assert.ok(!Number.isFinite(e.loss), 'evaluate: a loss that is not finite');
    assert.equal(e.overflowed, 1);
    assert.deepEqual(Array.from(e.classes), Array.from(p.classes));
    assert.equal(e.accuracy, ((classes[0] === y[0] ? 1 : 0) + (classes[2] === y[2] ? 1 : 0)) / 3, `label ${label}: only the others can be right`);
  }
  assert.equal(m.evaluate(x, y).overflowed, 0);
});

test('treeStats after a finished Trainer (its counts reset) has nothing to judge: balance NaN, no dead leaves; an evaluation counts', () => {
  const m = model(), { x, y } = data(48);
  const t = new Trainer(m, { x, y }, null, OPTS, new Rng(1));
  while (!t.done) t.step();
  const epoch = t.progress.history[0].trees[0];
  assert.ok(epoch.balance > 0 && epoch.usage[0].reduce((a, b) => a + b, 0) === 48, "the epoch's stats: its 48 training examples");
  const [after] = m.treeStats();
  assert.ok(Number.isNaN(after.balance) && after.deadLeaves === 0 && after.usage[0].every((c) => c === 0), 'nothing counted');
  m.evaluate(x, y);
  const [counted] = m.treeStats();
  assert.equal(counted.usage[0].reduce((a, b) => a + b, 0), 48);
  assert.equal(counted.deadLeaves, counted.usage[0].filter((c) => c === 0).length);
  assert.ok(counted.balance >= 0 && counted.balance <= 1);
});

test('onNonFinite \'skip\' drops a step whose loss or gradients are not finite, not one whose weights are: a step dropped cannot undo a NaN weight', () => {
  // a weight made NaN before step 2: skip stops as stop does, naming the weight, rather than dropping every step after it
  const m = model();
  const poisoned = new Trainer(m, data(40), null, { ...OPTS, epochs: 2, onNonFinite: 'skip', beforeStep: (step) => { if (step === 2) m.params()[0].data[0] = NaN; } }, new Rng(1));
  poisoned.step();
  assert.throws(() => poisoned.step(), (e: unknown) => e instanceof NonFiniteError && e.step === 2 && !e.everyStepSkipped && !e.inInput &&
    /at epoch 1, step 2: non-finite value in weight layers\.0\.weight/.test(e.message));
  assert.deepEqual([poisoned.progress.step, poisoned.progress.skippedSteps, poisoned.progress.lrScale], [1, 0, 1], 'nothing dropped, the rate not halved');
});

test('misspelt settings, a wrong mode, missing arguments: named, not ignored or met as a TypeError', () => {
  const cfg = mlpConfig({ inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 2, gating: 'projection' });
  const tree = cfg.layers[2] as unknown as Record<string, unknown>;
  const typo = { ...cfg, layers: cfg.layers.map((l, i) => (i === 2 ? { ...tree, gatting: tree.gating } : l)) };
  rejects(() => new Model(typo as typeof cfg), /layers\.2 \(tree\): unknown setting "gatting".*the settings are kind, inputSize/s);
  rejects(() => new Model({ ...cfg, numClass: 3 } as typeof cfg), /model config: unknown setting "numClass"/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2, gatting: 'projection' } as MlpOptions),
    /MLP options: unknown setting "gatting".*the settings are inputSize/s);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: 8, treeLayers: [2], depth: 2 } as unknown as MlpOptions),
    /MLP options: hidden must be an array of widths, got 8/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2.5 }), /MLP options: depth must be an integer in \[0, 24\], got 2\.5/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2, gating: 'proj' as 'units' }),
    /MLP options: gating must be "units" or "projection", got "proj"/);
  rejects(() => mlpConfig({ inputSize: D, numClasses: C, hidden: [8], treeLayers: [2], depth: 2, straightThrough: 'yes' as unknown as boolean }),
    /MLP options: straightThrough must be true or false, got "yes"/);
  rejects(() => new Model({ ...cfg, data: { dataset: 'x', label: ['a'] } } as unknown as typeof cfg), /model data info: unknown setting "label"/);
  for (const labelColumn of [-1, 1.5, D, '0']) {
    rejects(() => new Model({ ...cfg, data: { dataset: 'csv', labelColumn } } as unknown as typeof cfg),
      new RegExp(`model data info: labelColumn must be a column index in 0 … ${D - 1} .*got ${labelColumn === '0' ? '"0"' : labelColumn}`));
  }
  assert.equal(new Model({ ...cfg, data: { dataset: 'csv', labelColumn: 0 } }).toConfig().data?.labelColumn, 0);
  rejects(() => new Model(null as unknown as typeof cfg), /a model config must be an object/);
  rejects(() => new Model(cfg, 5 as unknown as Rng), /second argument must be an Rng/);
  rejects(() => model().forward(matrix(2, D), 'eval' as 'infer'), /forward: mode must be 'train' or 'infer', got "eval"/);
  const { x, y } = data(16);
  rejects(() => new Trainer(model(), { x, y }, null, { ...OPTS, epoch: 3 } as TrainOptions, new Rng(1)), /training options: unknown setting "epoch"/);
  rejects(() => new Trainer(model(), { x, y }, null, { ...OPTS, optimizer: { kind: 'adam', beta: 0.5 } } as TrainOptions, new Rng(1)),
    /optimizer config: unknown setting "beta"/);
  rejects(() => new Trainer(model(), { x, y }, null, OPTS, undefined as unknown as Rng), /a Trainer needs an Rng/);
  // a callback that is not one was met as a TypeError after the first epoch's work
  rejects(() => new Trainer(model(), { x, y }, null, { ...OPTS, onEpoch: 5 } as unknown as TrainOptions, new Rng(1)),
    /training option onEpoch must be a function, got 5.*onEpoch: \(e\) =>/s);
  rejects(() => new Trainer(model(), { x, y }, null, { ...OPTS, onStep: {} } as unknown as TrainOptions, new Rng(1)), /onStep must be a function, got an object/);
  new Trainer(model(), { x, y }, null, { ...OPTS, onEpoch: null } as unknown as TrainOptions, new Rng(1)); // null: none, as JavaScript writes it
  // the data side alike: a misspelt setting would quietly load all of MNIST, or read another label column
  rejects(() => prepareData({ datset: 'memorization', limti: 100 } as PrepareOptions, new Rng(1)), /data options: unknown settings "datset", "limti"/);
  rejects(() => prepareData({ dataset: 'memorization', memorization: { clases: 3 } } as unknown as PrepareOptions, new Rng(1)),
    /memorization sizes: unknown setting "clases"/);
  rejects(() => makeMemorization({ examples: 10, inputSize: 2, classes: 2, clases: 3 } as MemorizationOptions, new Rng(1)), /memorization sizes: unknown setting "clases"/);
  rejects(() => parseCsv('a,b\n1,x\n', 'inline', { labelColum: 0 } as CsvOptions), /CSV options: unknown setting "labelColum"/);
  rejects(() => loadMnist({ dri: '/tmp' } as { dir?: string }), /MNIST options: unknown setting "dri"/);
  // a model file may hold fields this version does not know (docs/format.md §3): they are dropped, not refused
  const { metadata, tensors } = decodeSafetensors(encodeModel(model()), 'a model');
  const saved = JSON.parse(metadata.config) as { layers: Array<Record<string, unknown>> } & Record<string, unknown>;
  saved.layers[2].futureField = 1;
  saved.futureField = 'x';
  const loaded = modelFromTensors(JSON.stringify(saved), tensors, 'a newer file', () => false);
  assert.deepEqual(loaded.toConfig(), model().toConfig());
  // a normalization alike: refused in code, dropped from a file
  const nz = { scale: 1, mean: 0, std: 1 };
  rejects(() => new Model({ ...cfg, normalization: { ...nz, sdt: 2 } } as typeof cfg), /normalization has the unknown setting "sdt" \(its settings are scale, mean, std\)/);
  saved.normalization = { ...nz, futureField: 2 };
  assert.deepEqual(modelFromTensors(JSON.stringify(saved), tensors, 'a newer file', () => false).config.normalization, nz);
  // a size given as a string: named as such, not as a mismatch of "4" with 4
  const sized = { ...cfg, layers: cfg.layers.map((l, i) => (i === 0 ? { ...l, inputSize: String(D) } : l)) };
  rejects(() => new Model(sized as typeof cfg), /layers\.0: dense input size must be an integer in \[1, ∞\], got "8"/);
});

test('a Trainer resumed on another training set or batch size says so before any step', () => {
  const { x, y } = data(128);
  const opts = { ...OPTS, epochs: 2, batchSize: 16 };
  const t = new Trainer(model(), { x, y }, null, opts, new Rng(1));
  for (let i = 0; i < 3; i++) t.step();
  const saved = t.snapshot();
  const small = data(40);
  rejects(() => new Trainer(model(), small, null, opts, new Rng(1), saved),
    /the progress to resume \(epoch 1, 48 examples into it, step 3\) does not fit 40 training examples in batches of 16 over 2 epochs/);
  rejects(() => new Trainer(model(), { x, y }, null, { ...opts, batchSize: 32 }, new Rng(1), saved), /does not fit 128 training examples in batches of 32/);
  rejects(() => new Trainer(model(), { x, y }, null, opts, new Rng(1), { ...saved, step: 4 }), /step 4\) does not fit/);
  rejects(() => new Trainer(model(), { x, y }, null, opts, new Rng(1), { ...saved, position: 1.5 }), /the progress to resume: position must be an integer ≥ 0/);
  for (let i = 0; i < 5; i++) t.step(); // into the second epoch: a set of another size no longer fits
  rejects(() => new Trainer(model(), data(100), null, opts, new Rng(1), t.snapshot()), /does not fit 100 training examples/);
  const resumed = new Trainer(model(), { x, y }, null, opts, new Rng(1), t.snapshot());
  assert.equal(resumed.progress.step, 8);
  // its optimizer must be given the saved state before it steps: zero moments in its place would go on silently
  rejects(() => resumed.step(), /goes on from a saved progress \(step 8\), but its optimizer was given no state \(give it the saved one .*adoptState/);
  resumed.optimizer.loadState(t.optimizer.state);
  resumed.step();
  // a checkpoint of trainer.progress (no leaf usage) is refused when written, not when it resumes
  rejects(() => encodeCheckpoint(t.model, t.optimizer, { progress: t.progress, options: {}, metrics: [], extra: {} }),
    /the progress to save holds no leaf usage of the model's 1 routed layer.*save trainer\.snapshot\(\)/);
});

test('leaf usage of another shape (a leaf too few or too many, a block too few or too many) is refused, by a resumed Trainer and by restoreUsage, the counts left as they were', () => {
  const { x, y } = data(32);
  const t = new Trainer(model(), { x, y }, null, OPTS, new Rng(1));
  t.step();
  const saved = t.snapshot();
  assert.deepEqual(saved.usage.map((u) => u.map((c) => c.length)), [[4]], 'one tree layer of one block of 4 leaves');
  for (const counts of [[1, 2, 3], [1, 2, 3, 4, 5]]) {
    rejects(() => new Trainer(model(), { x, y }, null, OPTS, new Rng(1), { ...saved, usage: [[counts]] }),
      /layers\.\d+: leaf usage does not match 1 blocks of 4 leaves/);
  }
  const tree = new TreeGated({ inputSize: 8, outputSize: 2, depth: 2, blocks: 2 });
  tree.restoreUsage([[1, 2, 3, 4], [5, 6, 7, 8]]);
  for (const counts of [[[9, 9, 9], [9, 9, 9, 9]], [[9, 9, 9, 9], [9, 9, 9]], [[9, 9, 9, 9, 9], [9, 9, 9, 9]], [[9, 9, 9, 9]], [[9, 9, 9, 9], [9, 9, 9, 9], [9, 9, 9, 9]]]) {
    rejects(() => tree.restoreUsage(counts), /leaf usage does not match 2 blocks of 4 leaves/);
    assert.deepEqual(tree.leafUsage().counts.map((c) => Array.from(c)), [[1, 2, 3, 4], [5, 6, 7, 8]], JSON.stringify(counts));
  }
});

test('a model of zeros (new Model(config) without an Rng) is refused for training where it could not learn; one linear layer trains', () => {
  const { x, y } = data(32);
  rejects(() => new Trainer(new Model(mlpConfig({ inputSize: D, numClasses: C, hidden: [12], treeLayers: [2], depth: 2 })), { x, y }, null, OPTS, new Rng(1)),
    /every weight of the model is zero .*new Model\(config, new Rng\(seed\)\)/);
  const linear = new Model(mlpConfig({ inputSize: D, numClasses: C, hidden: [], treeLayers: [], depth: 0 }));
  new Trainer(linear, { x, y }, null, OPTS, new Rng(1)).step();
  assert.ok(linear.params().some((p) => p.data.some((v) => v !== 0)), 'the linear model learned from zeros');
});

test('Rng: a state must be four integers in [0, 2^32); a seed is one integer', () => {
  rejects(() => new Rng([1.5]), /an Rng state must be four integers in \[0, 2\^32\), got \[1\.5\].*new Rng\(42\)/s);
  rejects(() => new (Rng as unknown as new () => Rng)(), /an Rng needs a seed \(seed it with an integer: new Rng\(42\)/);
  rejects(() => new Rng([7, Number.NaN, -1, 0]), /got \[7, NaN, -1, 0\]/);
  rejects(() => Rng.fromState({ s: [1, 2, 3, 4], spare: 'x' as unknown as number }), /spare null or a finite number/);
  // int(0) has no value to draw from: it returned 0, an index into nothing
  for (const n of [0, -1, 2.5, Number.NaN, 2 ** 32 + 1]) rejects(() => new Rng(1).int(n), /Rng\.int\(n\) draws from \[0, n\): n must be an integer in \[1, 2\^32\]/);
  assert.equal(new Rng(1).int(1), 0);
  const r = new Rng(9);
  r.normal();
  const copy = Rng.fromState(r.getState());
  assert.equal(copy.normal(), r.normal());
  assert.equal(copy.nextU32(), r.nextU32());
});

test('what is not a matrix, or one too large for an array, or no training set, is named, not met as a TypeError or RangeError', () => {
  const m = model();
  rejects(() => m.forward(null as never, 'infer'), /model input must be a matrix \{ rows, cols, data \}, got null \(make one with matrix\(rows, cols, data\)\)/);
  rejects(() => m.predict(new Float32Array(D) as never), /prediction input must be a matrix \{ rows, cols, data \}, got a Float32Array of 8 elements/);
  rejects(() => m.predict([[1, 2]] as never), /prediction input must be a matrix \{ rows, cols, data \}, got an array of 1 element\b/);
  rejects(() => new Trainer({} as never, data(8), null, OPTS, new Rng(1)), /a Trainer trains a Model, got an object \(pass new Model\(config, new Rng\(seed\)\)/);
  rejects(() => m.forward({ rows: 2, cols: D, data: [1, 2] } as never, 'infer'), /model input: data must be a Float32Array \(make one with Float32Array\.from/);
  rejects(() => m.forward({ rows: '2', cols: D, data: new Float32Array(2 * D) } as never, 'infer'), /rows and columns must be integers ≥ 0, got \("2", 8\)/);
  rejects(() => matrix(1e6, 1e6), /matrix: 1000000×1000000 = 1000000000000 floats cannot be allocated \(Invalid typed array length/);
  rejects(() => new Trainer(m, null as never, null, OPTS, new Rng(1)), /the training set must be \{ x: matrix, y: labels \}, got null/);
  rejects(() => new Trainer(m, data(8), 5 as never, OPTS, new Rng(1)), /the validation set must be \{ x, y \} or null, got 5/);
});

test('computeNormalization names a non-finite input and a bad scale; fusedStep takes a boolean', () => {
  const { x, y } = data(6);
  const nan = matrix(6, D, x.data.slice());
  nan.data[2 * D + 1] = NaN;
  const ds = (m: Matrix) => ({ name: 'mine', x: m, y, numClasses: C });
  rejects(() => computeNormalization(ds(nan), 1), /mine: inputs: row 2, column 1 is NaN/);
  rejects(() => computeNormalization(ds(x), Number.NaN), /mine: the normalization scale must be a finite number > 0, got NaN/);
  rejects(() => new Trainer(model(), { x, y }, null, { ...OPTS, fusedStep: 'no' as never }, new Rng(1)), /fusedStep must be true or false, got "no"/);
  // a model whose weights are not finite: named as the cause of outputs that are not, not the inputs
  const broken = model();
  broken.params()[0].data[3] = Number.NaN;
  broken.params()[0].version++;
  rejects(() => broken.predict(x), /the model's weight .*\[3\] is NaN: its outputs are not finite, whatever the inputs/);
  rejects(() => broken.evaluate(x, y), /the model's weight .*\[3\] is NaN/);
  rejects(() => broken.layerNumber(broken.layers.length), /layerNumber: the index into model\.layers must be an integer in \[0, /);
  rejects(() => new Activation('relu', -1), /relu activation: size must be an integer in \[1, ∞\], got -1/);
});
