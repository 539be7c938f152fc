import { checkInt, checkNumber, TreegateError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { matrix, type Matrix } from '../core/tensor.js';
import { backend } from '../kernels/backend.js';
import type { Model, TreeStats } from '../layers/model.js';
import { learningRate, Optimizer, type OptimizerConfig, type ScheduleKind } from './optim.js';

/** Inputs (N, D) and labels (N). */
export interface LabeledData { x: Matrix; y: Int32Array }

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: ScheduleKind;
  optimizer: OptimizerConfig;
  /** called after every step */
  onStep?: (s: StepInfo) => void;
  /** called after every epoch's evaluation */
  onEpoch?: (e: EpochMetrics) => void;
}

export interface StepInfo { epoch: number; step: number; totalSteps: number; loss: number; accuracy: number; lr: number }


export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  validationLoss: number | null;
  validationAccuracy: number | null;
  /** balance, dead leaves and leaf usage of each routed layer, over the validation set (or the epoch's training batches) */
  trees: TreeStats[];
  seconds: number;
}

/**
 * Minibatch training with seeded shuffling; evaluates on `validation` after
 * each epoch. Stops with a clear error naming the step if the loss becomes
 * non-finite.
 */
export function train(model: Model, data: LabeledData, validation: LabeledData | null, opts: TrainOptions,
  rng: Rng): { history: EpochMetrics[]; optimizer: Optimizer } {
  checkInt(opts.epochs, 'epochs', 1);
  checkInt(opts.batchSize, 'batch size', 1);
  checkNumber(opts.lr, 'learning rate', 0);
  const N = data.x.rows, D = data.x.cols;
  if (N === 0) throw new TreegateError('the training set is empty');
  const optimizer = new Optimizer(model.params(), opts.optimizer);
  const B = Math.min(opts.batchSize, N);
  const stepsPerEpoch = Math.ceil(N / B);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const xb = new Float32Array(B * D);
  const yb = new Int32Array(B);
  const history: EpochMetrics[] = [];
  const started = performance.now();
  let step = 0;
  if (model.treeLayers().some(({ layer }) => layer.gateUnitsPending)) {
    // data-dependent gating: a seeded sample of up to 1024 training examples
    const count = Math.min(N, 1024), idx = rng.permutation(N).subarray(0, count);
    const xs = new Float32Array(count * D);
    backend().gatherRows(data.x.data, D, 0, idx, count, D, xs);
    model.chooseGateUnits(matrix(count, D, xs));
  }
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const order = rng.permutation(N);
    model.resetUsage();
    let lossSum = 0, correct = 0, lr = opts.lr;
    for (let b = 0; b < N; b += B) {
      const rows = Math.min(B, N - b);
      const idx = order.subarray(b, b + rows);
      backend().gatherRows(data.x.data, D, 0, idx, rows, D, xb);
      for (let i = 0; i < rows; i++) yb[i] = data.y[idx[i]];
      model.clearGrad();
      const r = model.lossAndGrad(matrix(rows, D, xb), yb.subarray(0, rows));
      if (!Number.isFinite(r.loss)) {
        throw new TreegateError(`training loss became ${r.loss} at epoch ${epoch}, step ${step + 1}`,
          'lower the learning rate or the weight decay');
      }
      lr = learningRate(opts.schedule, opts.lr, step, totalSteps);
      optimizer.step(lr);
      step++;
      lossSum += r.loss * rows;
      correct += r.correct;
      opts.onStep?.({ epoch, step, totalSteps, loss: r.loss, accuracy: r.correct / rows, lr });
    }
    let validationLoss: number | null = null, validationAccuracy: number | null = null;
    if (validation && validation.x.rows > 0) {
      model.resetUsage();
      const v = model.evaluate(validation.x, validation.y);
      validationLoss = v.loss;
      validationAccuracy = v.accuracy;
    }
    const e: EpochMetrics = {
      epoch, step, lr,
      trainLoss: lossSum / N, trainAccuracy: correct / N, validationLoss, validationAccuracy,
      trees: model.treeStats(),
      seconds: (performance.now() - started) / 1000,
    };
    history.push(e);
    opts.onEpoch?.(e);
  }
  return { history, optimizer };
}
