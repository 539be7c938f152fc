/**
 * A Node app's use of the package as its users compile it (test/types/tsconfig.node.json: @types/node, no DOM,
 * skipLibCheck off, so that every shipped .d.ts is checked): README's API example, checkpoints, a CSV, bytes written
 * with node:fs, one's own arrays. Type-checked by `npm run typecheck`, never run.
 */
import { writeFileSync } from 'node:fs';
import {
  Model, Rng, Trainer, computeNormalization, decodeCheckpoint, encodeCheckpoint, encodeModel, loadMnist, loadModel, loadWasmBackend, mlpConfig, normalizeInPlace, normalizeInputs, prepareMnist,
  matrix, normalize, PLATEAU_DEFAULTS, plateauCuts, readCsv, registerBackend, renderReport, saveModel, selectBackend, setBackend, train, trainingReport, type EpochMetrics, type TrainProgress, type TrainResult,
} from 'treegate';

selectBackend('native');
const rng = new Rng(1);
const data = prepareMnist({ validation: 5000 }, rng.fork());
const model = new Model({ ...mlpConfig({ inputSize: 784, numClasses: 10, hidden: [256, 256], treeLayers: [2], depth: 4, gating: 'projection' }),
  normalization: data.normalization, data: { dataset: 'mnist' } }, rng.fork());
const { history }: TrainResult = train(model, data.train, data.validation, { epochs: 1, onEpoch: (e) => console.log(e.validationAccuracy) }, rng.fork());
const accuracy: number = model.evaluate(data.test.x, data.test.y).accuracy;
saveModel('model.safetensors', model);
writeFileSync('copy.safetensors', encodeModel(loadModel('model.safetensors')));
writeFileSync('report.html', renderReport(trainingReport({ history })));
const epochs: EpochMetrics[] = history;
console.log(epochs.length);

const trainer = new Trainer(model, data.train, null, {}, new Rng(2));
trainer.step();
const progress: TrainProgress = trainer.snapshot();
const checkpoint = decodeCheckpoint(encodeCheckpoint(model, trainer.optimizer, { progress, options: {} }), 'memory');
console.log(checkpoint.run.progress.step, accuracy);
// keepBest: the kept weights saved with a checkpoint and adopted by the resumed Trainer
const keeping = new Trainer(model, data.train, data.validation, { keepBest: true }, new Rng(3));
const kept = decodeCheckpoint(encodeCheckpoint(model, keeping.optimizer, { progress: keeping.snapshot(), options: {}, bestWeights: keeping.best?.weights }), 'memory');
const resumedKeeping = new Trainer(kept.model, data.train, data.validation, { keepBest: true }, new Rng(3), kept.run.progress);
if (kept.bestWeights) resumedKeeping.adoptBest(kept.bestWeights);
const bestEpoch: number | null = train(model, data.train, data.validation, { keepBest: true }, rng.fork()).bestEpoch;
console.log(bestEpoch, resumedKeeping.best?.epoch);
// the plateau schedule: its settings, the cuts counted from a history, the rate of the next step
const plateau = new Trainer(model, data.train, data.validation, { schedule: 'plateau', plateauFactor: PLATEAU_DEFAULTS.factor, plateauPatience: 2 }, new Rng(4));
const rate: number = plateau.nextRate, cuts: number = plateauCuts(plateau.progress.history, 2);
console.log(rate, cuts);

const csv = readCsv('points.csv', { labelColumn: null, featureNames: model.config.data?.features });
const labels = model.predict(normalizeInputs(csv.data.x, model.config.normalization)).classes;
console.log(Array.from(labels));
// README's other exports: the loaders' scaled pixels, normalized for a saved model
console.log(model.evaluate(normalizeInPlace(loadMnist().test, model.config.normalization).x, loadMnist().test.y).accuracy);
registerBackend(loadWasmBackend(undefined, { threads: 2 }));
setBackend('wasm');

// README's own arrays: a matrix of the features, labels as an Int32Array
const N = 6, D = 2, features = new Float32Array(N * D), own = [0, 1, 2, 0, 1, 2];
const ds = { name: 'mine', x: matrix(N, D, features), y: Int32Array.from(own), numClasses: 3 };
const norm = computeNormalization(ds, 1, true), trainSet = normalize(ds, norm);
const mine = new Model({ ...mlpConfig({ inputSize: D, numClasses: 3, hidden: [64], treeLayers: [1], depth: 3 }), normalization: norm }, new Rng(1));
train(mine, trainSet, null, { epochs: 20, batchSize: 32, lr: 1e-3 }, new Rng(2));
