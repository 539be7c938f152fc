import { check, checkInt, checkKeys, checkPositive, isObject, shown, TreegateError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { checkFinite, checkLabels, checkShape, firstNonFinite, matrix } from '../core/tensor.js';
import { backend } from '../kernels/backend.js';
import { Model, type TreeStats } from '../layers/model.js';
import { learningRate, Optimizer, type OptimizerConfig, type ScheduleKind } from './optim.js';

/** Inputs (N, D) and labels (N). */
export interface LabeledData { x: { rows: number; cols: number; data: Float32Array }; y: Int32Array }

/** What to do when the loss, a gradient or a weight stops being finite. */
export type NonFinitePolicy = 'stop' | 'skip';

/** How `train()` and a Trainer train (the CLI's defaults: 5 epochs, batch 64, lr 1e-3, cosine, adam). */
export interface TrainOptions {
  /** passes over the training set (default 5) */
  epochs?: number;
  /** examples per step (default 64; the last batch of an epoch may be smaller) */
  batchSize?: number;
  /** the learning rate at the first step (default 1e-3) */
  lr?: number;
  /**
   * 'constant'; 'cosine' decay from lr to 0 over the run's steps (the default); or 'plateau': lr, multiplied by
   * plateauFactor each time plateauPatience epochs in a row bring no validation accuracy above every earlier epoch's
   * (the count starts again after each cut; needs a validation set)
   */
  schedule?: ScheduleKind;
  /** with schedule 'plateau': what each cut multiplies the rate by, in (0, 1) (default 0.5) */
  plateauFactor?: number;
  /** with schedule 'plateau': the epochs in a row without a gain that cut the rate (default 1) */
  plateauPatience?: number;
  /** { kind: 'adam' } (the default) or { kind: 'sgd' }, with their settings */
  optimizer?: OptimizerConfig;
  /** stop (default): throw NonFiniteError; skip: drop the step's gradients and halve the learning rate from then on */
  onNonFinite?: NonFinitePolicy;
  /**
   * Apply the optimizer's step to the routed layers' node weights (tree, flat, experts) during backward, as each
   * node's gradient is made (default true): the same model bit for bit, without writing those gradients to memory
   * and reading them back.
   */
  fusedStep?: boolean;
  /**
   * Keep a copy of the weights at the epoch of the best validation accuracy (the later epoch where two tie)
   * and put it back in the model when the last epoch ends (default false): the model then holds that epoch's weights,
   * not the last epoch's. Needs a validation set; holds one more copy of the weights in memory (`trainer.best`).
   */
  keepBest?: boolean;
  /**
   * Early stopping: end training once this many epochs in a row have passed without a validation accuracy above every
   * earlier epoch's (default: train every epoch). Needs a validation set. The schedule still runs over `epochs` (a
   * cosine one ends at a rate above 0 when training stops early); with keepBest the best epoch's weights are put back.
   */
  patience?: number;
  /** called with each batch before its step (step numbers from 1); may change the batch in place */
  beforeStep?: (step: number, x: Float32Array, labels: Int32Array) => void;
  /** called after every step */
  onStep?: (s: StepInfo) => void;
  /** called after every epoch's evaluation */
  onEpoch?: (e: EpochMetrics) => void;
}

/** What a Trainer takes where its options leave a setting out: `treegate train`'s defaults. */
export const TRAIN_OPTION_DEFAULTS: Readonly<{ epochs: number; batchSize: number; lr: number; schedule: ScheduleKind; optimizer: Readonly<OptimizerConfig> }> = Object.freeze({
  epochs: 5, batchSize: 64, lr: 1e-3, schedule: 'cosine', optimizer: Object.freeze({ kind: 'adam' }),
});

/** Training options with the defaults filled in: what a Trainer runs with (its `opts`). */
export type ResolvedTrainOptions = TrainOptions & { epochs: number; batchSize: number; lr: number; schedule: ScheduleKind; optimizer: OptimizerConfig };

const TRAIN_KEYS = ['epochs', 'batchSize', 'lr', 'schedule', 'plateauFactor', 'plateauPatience', 'optimizer', 'onNonFinite', 'fusedStep', 'keepBest', 'patience',
  'beforeStep', 'onStep', 'onEpoch'];

/** The plateau schedule's defaults: the rate halved after each epoch without a gain. */
export const PLATEAU_DEFAULTS = Object.freeze({ factor: 0.5, patience: 1 });

/** One training step, as Trainer.step returns it and `onStep` gets it: its batch's loss and accuracy, the learning rate, and whether a non-finite loss skipped it. */
export interface StepInfo { epoch: number; step: number; totalSteps: number; loss: number; accuracy: number; lr: number; skipped: boolean }

/** One epoch's figures (accuracies are fractions in [0, 1]; losses are means per example). */
export interface EpochMetrics {
  /** 1-based */
  epoch: number;
  /** steps taken so far in the run */
  step: number;
  /** the learning rate of the epoch's last step */
  lr: number;
  /** the mean over the epoch's training batches, as the weights changed during it (NaN, as trainAccuracy, where every step was skipped) */
  trainLoss: number;
  trainAccuracy: number;
  /** on the validation set after the epoch; null without one */
  validationLoss: number | null;
  validationAccuracy: number | null;
  /** balance, dead leaves and leaf usage of each routed layer, over the validation set (or the epoch's training batches) */
  trees: TreeStats[];
  /** training wall time since the run began (resumed runs included), seconds */
  seconds: number;
}

/**
 * Where a run stands between two steps: with the model's weights and the
 * optimizer's state, everything needed to continue bit for bit (checkpoints).
 */
export interface TrainProgress {
  /** epoch in progress (1-based); epochs + 1 when done */
  epoch: number;
  /** examples of this epoch already trained on (a batch boundary) */
  position: number;
  /** steps taken so far */
  step: number;
  /** state of the data-order rng at the start of this epoch, before its permutation was drawn */
  epochRng: { s: number[]; spare: number | null };
  /** this epoch's running sums (loss · rows, correct) and the rows they cover */
  lossSum: number;
  correct: number;
  seen: number;
  /** learning rate multiplier (halved by each skipped non-finite step) */
  lrScale: number;
  skippedSteps: number;
  /** training seconds before this process */
  seconds: number;
  history: EpochMetrics[];
  /** leaf usage counted so far this epoch, per routed layer and block (the epoch's stats when there is no validation set) */
  usage: number[][][];
  /** with keepBest: the finished epoch whose weights are kept (trainer.best), once there is one */
  bestEpoch?: number;
  /** with patience: true once training stopped early, after epoch `epoch − 1` */
  stoppedEarly?: boolean;
}

/**
 * The loss, a gradient or a weight became NaN or infinite; names where and when. With onNonFinite 'skip', thrown
 * after the last step where every step of the run was skipped (`everyStepSkipped`): the weights are still the ones
 * training started from, and `step` and `where` are those of the last skipped step.
 */
export class NonFiniteError extends TreegateError {
  /** `inInput`: the batch's inputs held the value (the data, or what beforeStep wrote), not the training's arithmetic. */
  constructor(message: string, readonly step: number, readonly where: string, readonly inInput = false, readonly everyStepSkipped = false) {
    super(message, everyStepSkipped
      ? (inInput ? 'fix or drop those examples in the training data (or what a beforeStep callback writes)'
        : 'no step changed the weights, so the loss overflowed at the initial weights on every batch: rescale the inputs ' +
          '(or what a beforeStep callback writes) or the initial weights; a lower learning rate cannot help')
      : inInput
        ? 'fix or drop that example in the training data (or in what a beforeStep callback writes); onNonFinite: \'skip\' (--on-nonfinite skip) drops such steps'
        : 'lower the learning rate, or drop such steps (onNonFinite: \'skip\' in TrainOptions, --on-nonfinite skip); a checkpoint written before this step, if any, holds a good state');
  }
}


/**
 * Decoupled weight decay multiplies a layer's weights by 1 − lr·λ_s at each step (λ_s: the decay times the slot's
 * decayScale, γ^d for a tree node at depth d): where lr·λ_s reaches 1 that zeroes them (past 1 it flips their sign,
 * past 2 they grow), which no one means.
 */
function checkDecay(model: Model, lr: number, weightDecay: number): void {
  let scale = 0;
  for (const p of model.params()) for (const v of p.decayScale ?? []) scale = Math.max(scale, v);
  const shrink = lr * weightDecay * scale;
  if (!(shrink >= 1)) return;
  const short = (v: number) => String(Number(v.toPrecision(3)));
  // the largest decay that passes, to three digits rounded down (rounded up it would not pass)
  const limit = 1 / (lr * scale), digits = 10 ** (Math.floor(Math.log10(limit)) - 2);
  const deepest = scale === 1 ? '' : ` and the deepest nodes' decay scale ${short(scale)}`;
  throw new TreegateError(`weight decay ${weightDecay} at learning rate ${lr}${deepest} would multiply weights by 1 − lr·λ = ` +
    `${short(1 - shrink)} at each step: ${shrink > 2 ? 'they would grow until they overflow' : shrink > 1 ? 'their sign would flip at every step' : 'they would be zeroed at every step'}`,
    `make the weight decay times the learning rate${scale === 1 ? '' : ' times that scale'} well below 1: a weight decay below ${short(Math.floor(limit / digits) * digits)} here; typical values are 1e-4 to 1e-1`);
}

/**
 * Minibatch training with seeded shuffling, one step at a time, so a caller can
 * stop between steps, save `snapshot()` with the model and optimizer (encodeCheckpoint), and a new
 * Trainer built with that progress, its optimizer given the saved state (adoptState or loadState), continues
 * exactly where it stopped.
 * Evaluates on `validation` after each epoch.
 */
export class Trainer {
  readonly optimizer: Optimizer;
  /** Where training stands, kept up to date by step() (read it; save snapshot(), which adds the leaf usage and the time). */
  readonly progress: TrainProgress;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly B: number;
  private readonly xb: Float32Array;
  private readonly yb: Int32Array;
  private readonly rng: Rng;
  private order: Int32Array;
  private started = performance.now();
  private lastSkipped: { what: string; inInput: boolean } | null = null; // why this process's last skipped step was
  private bestWeights: Float32Array[] | null = null; // keepBest: the weights at progress.bestEpoch, in model.params() order
  private plateau = { epochs: 0, scale: 1 }; // the plateau schedule's multiplier after that many epochs of the history

  /** The options given, with TRAIN_OPTION_DEFAULTS where they left a setting out. */
  readonly opts: ResolvedTrainOptions;

  constructor(readonly model: Model, readonly data: LabeledData, readonly validation: LabeledData | null, options: TrainOptions,
    rng: Rng, resume?: TrainProgress) {
    check(model instanceof Model, `a Trainer trains a Model, got ${shown(model)}`, 'pass new Model(config, new Rng(seed)), or a loaded one');
    // (JavaScript callers: an argument left out shifts the others)
    const order = 'the arguments are (model, data, validation or null, options, rng)';
    check(!(options instanceof Rng), 'the training options are an Rng', `${order}: give the options, or {} for the defaults, before the Rng`);
    check(validation === null || validation === undefined || (typeof validation === 'object' && 'x' in validation),
      `the validation set must be { x, y } or null, got ${validation instanceof Rng ? 'an Rng'
        : isObject(validation) ? `an object of ${Object.keys(validation).join(', ') || 'no keys'}` : shown(validation)}`,
      `${order}: null for no validation set`);
    check(typeof options === 'object' && options !== null, 'the training options must be an object', "pass e.g. { epochs: 5, batchSize: 64, lr: 1e-3, schedule: 'cosine', optimizer: { kind: 'adam' } }, or {} for those defaults");
    checkKeys(options, TRAIN_KEYS, 'training options');
    // a setting left out (undefined) takes the default; any other value, null included, is checked below
    const d = TRAIN_OPTION_DEFAULTS, or = <T>(v: T | undefined, dv: T): T => (v === undefined ? dv : v);
    const opts: ResolvedTrainOptions = this.opts = {
      ...options, epochs: or(options.epochs, d.epochs), batchSize: or(options.batchSize, d.batchSize), lr: or(options.lr, d.lr),
      schedule: or(options.schedule, d.schedule), optimizer: or(options.optimizer, { ...d.optimizer }),
    };
    check(rng instanceof Rng, 'a Trainer needs an Rng (the data order), e.g. new Rng(1)');
    checkInt(opts.epochs, 'epochs', 1);
    checkInt(opts.batchSize, 'batch size', 1);
    // (0 would train nothing: refused, as the CLI's --lr refuses it)
    checkPositive(opts.lr, 'the learning rate', 'e.g. lr: 1e-3');
    check(opts.fusedStep === undefined || typeof opts.fusedStep === 'boolean', `fusedStep must be true or false, got ${shown(opts.fusedStep)}`);
    check(opts.keepBest === undefined || typeof opts.keepBest === 'boolean', `keepBest must be true or false, got ${shown(opts.keepBest)}`);
    const validated = validation != null && typeof validation === 'object' && validation.x?.rows > 0;
    check(!opts.keepBest || validated, 'keepBest keeps the weights of the epoch with the best validation accuracy, but there is no validation set',
      'pass one (e.g. prepareData(…).validation), or leave keepBest out to keep the last epoch\'s weights');
    if (opts.patience !== undefined) checkInt(opts.patience, 'patience', 1);
    check(opts.patience === undefined || validated, 'patience stops training when the validation accuracy stops rising, but there is no validation set',
      'pass one (e.g. prepareData(…).validation), or leave patience out to train every epoch');
    check(!opts.onNonFinite || opts.onNonFinite === 'stop' || opts.onNonFinite === 'skip', `unknown non-finite policy '${opts.onNonFinite}'`, 'use stop or skip');
    // plain JavaScript can pass anything: named here, not an internal error a step later
    check(opts.schedule === 'constant' || opts.schedule === 'cosine' || opts.schedule === 'plateau', `unknown learning-rate schedule ${shown(opts.schedule)}`,
      "set schedule: 'constant', 'cosine' or 'plateau', or leave it out (cosine)");
    check(opts.schedule === 'plateau' || (opts.plateauFactor === undefined && opts.plateauPatience === undefined),
      `${opts.plateauFactor !== undefined ? 'plateauFactor' : 'plateauPatience'} is a setting of the plateau schedule, but the schedule is '${opts.schedule}'`,
      "set schedule: 'plateau', or leave plateauFactor and plateauPatience out");
    if (opts.plateauFactor !== undefined) {
      check(typeof opts.plateauFactor === 'number' && opts.plateauFactor > 0 && opts.plateauFactor < 1,
        `plateauFactor must be a number between 0 and 1 (each cut multiplies the rate by it), got ${shown(opts.plateauFactor)}`, 'e.g. plateauFactor: 0.5 (the default)');
    }
    if (opts.plateauPatience !== undefined) checkInt(opts.plateauPatience, 'plateauPatience', 1);
    check(opts.schedule !== 'plateau' || validated, 'the plateau schedule cuts the rate when the validation accuracy stops rising, but there is no validation set',
      "pass one (e.g. prepareData(…).validation), or use schedule 'cosine' or 'constant'");
    check(typeof opts.optimizer === 'object' && opts.optimizer !== null, `the optimizer must be an object, got ${shown(opts.optimizer)}`, "set optimizer: { kind: 'adam' } (or 'sgd'), or leave it out (adam)");
    for (const key of ['beforeStep', 'onStep', 'onEpoch'] as const) {
      const f = opts[key];
      check(f == null || typeof f === 'function', `training option ${key} must be a function, got ${shown(f)}`,
        `pass a callback, e.g. ${key}: (${key === 'beforeStep' ? 'step, x, labels' : key === 'onStep' ? 's' : 'e'}) => { … }, or leave it out`);
    }
    // the data and labels are checked here, not an epoch later when the validation set is first read
    check(typeof data === 'object' && data !== null, `the training set must be { x: matrix, y: labels }, got ${shown(data)}`, 'pass the data, e.g. prepareData(…).train');
    for (const [set, what] of [[data, 'training set'], [validation, 'validation set']] as const) {
      if (!set) continue;
      checkShape(set.x, model.inputSize, `${what} inputs`);
      // a NaN example would make every batch it joins non-finite: with onNonFinite 'skip', training on without it
      checkFinite(set.x, `${what} inputs`);
      checkLabels(set.y, set.x.rows, model.config.numClasses, what);
      // a Dataset says how many classes it has: more than the model's is a slip even where these labels fit it (fewer
      // is a model trained on a part of its classes)
      const declared = (set as { numClasses?: unknown }).numClasses;
      check(declared === undefined || (typeof declared === 'number' && declared <= model.config.numClasses),
        `the ${what} has ${shown(declared)} classes (its numClasses), more than the model's ${model.config.numClasses}`,
        'make the model for the data: numClasses: data.numClasses in its config');
    }
    const N = data.x.rows, D = data.x.cols;
    if (N === 0) throw new TreegateError('the training set is empty', 'give it at least one example');
    // a resumed run's moments come from its checkpoint (optimizer.adoptState): none are made for it to replace
    // (before the optimizer makes its moments: a decay the Optimizer would refuse anyway is left to it)
    const decay = (opts.optimizer as { weightDecay?: unknown }).weightDecay;
    if (typeof decay === 'number') checkDecay(model, opts.lr, decay);
    this.optimizer = new Optimizer(model.params(), opts.optimizer, { lazy: resume !== undefined });
    this.B = Math.min(opts.batchSize, N);
    this.stepsPerEpoch = Math.ceil(N / this.B);
    this.totalSteps = this.stepsPerEpoch * opts.epochs;
    // the step counter, the schedule and the checkpoints count in doubles: past 2^53 steps they would stop counting
    check(Number.isSafeInteger(this.totalSteps), `${opts.epochs} epochs of ${this.stepsPerEpoch} steps are more steps than can be counted exactly (2^53)`,
      `train at most ${Math.floor(Number.MAX_SAFE_INTEGER / this.stepsPerEpoch)} epochs`);
    this.xb = new Float32Array(this.B * D);
    this.yb = new Int32Array(this.B);
    if (resume) {
      checkResume(resume, N, this.B, this.stepsPerEpoch, opts.epochs);
      check(resume.bestEpoch === undefined || opts.keepBest === true,
        `the progress to resume kept the weights of its best epoch (${resume.bestEpoch}), but these options leave keepBest out`,
        'resume with the options the run was started with (keepBest: true)');
      // (the weights of the epochs before the resume are gone: keeping the best of the later ones would name a best
      // epoch that is not the run's)
      check(!opts.keepBest || resume.bestEpoch !== undefined || resume.history.length === 0,
        `these options keep the best epoch's weights (keepBest), but the progress to resume, ${resume.history.length} epoch${resume.history.length === 1 ? '' : 's'} in, kept none`,
        'resume with the options the run was started with (without keepBest), or start the run again with keepBest');
      check(!resume.stoppedEarly || opts.patience !== undefined, `the progress to resume stopped early after epoch ${resume.epoch - 1}, but these options set no patience`,
        'resume with the options the run was started with (its patience)');
      this.progress = structuredClone(resume);
      const routed = model.routedLayers();
      check(resume.usage.length === routed.length, `saved leaf usage is for ${resume.usage.length} routed layers, the model has ${routed.length}`);
      routed.forEach(({ layer }, i) => layer.restoreUsage(resume.usage[i]));
      this.rng = Rng.fromState(this.progress.epochRng);
      this.order = this.done ? new Int32Array(0) : this.rng.permutation(N);
      return;
    }
    // new Model(config) without an Rng is a model to load weights into: trained from zeros, its layers stay alike
    // and learn nothing past the first layer's biases (one layer alone, a linear model, learns from zeros)
    const weighted = model.layers.filter((l) => l.params().length > 0);
    check(weighted.length < 2 || model.params().some((q) => q.data.some((v) => v !== 0)),
      'every weight of the model is zero (new Model(config) without an Rng makes a model to load weights into): nothing would break the symmetry between its units, and it would not learn',
      'make it with random weights: new Model(config, new Rng(seed))');
    if (model.treeLayers().some(({ layer }) => layer.gateUnitsPending)) {
      // data-dependent gating: a seeded sample of up to 1024 training examples
      const count = Math.min(N, 1024), idx = rng.permutation(N).subarray(0, count);
      const xs = new Float32Array(count * D);
      backend().gatherRows(data.x.data, D, 0, idx, count, D, xs);
      model.chooseGateUnits(matrix(count, D, xs));
    }
    this.rng = rng;
    this.progress = {
      epoch: 1, position: 0, step: 0, epochRng: rng.getState(), lossSum: 0, correct: 0, seen: 0, lrScale: 1, skippedSteps: 0,
      seconds: 0, history: [], usage: [],
    };
    this.order = rng.permutation(N);
    model.resetUsage();
  }

  /** The plateau schedule's multiplier of the rate after the epochs run so far (1 for the other schedules). */
  private get plateauScale(): number {
    const h = this.progress.history, o = this.opts;
    if (o.schedule !== 'plateau') return 1;
    if (this.plateau.epochs !== h.length) {
      this.plateau = { epochs: h.length, scale: (o.plateauFactor ?? PLATEAU_DEFAULTS.factor) ** plateauCuts(h, o.plateauPatience ?? PLATEAU_DEFAULTS.patience) };
    }
    return this.plateau.scale;
  }

  /** The learning rate the next step takes: the schedule's at this step, halved by each skipped step, cut by the plateau schedule. */
  get nextRate(): number {
    const p = this.progress, o = this.opts;
    return learningRate(o.schedule, o.lr, p.step, this.totalSteps) * p.lrScale * this.plateauScale;
  }

  /** Whether every epoch has run, or training stopped early (patience): step() then refuses. */
  get done(): boolean {
    return this.progress.epoch > this.opts.epochs || this.progress.stoppedEarly === true;
  }

  /** Seconds trained, this process and before. */
  get seconds(): number {
    return this.progress.seconds + (performance.now() - this.started) / 1000;
  }

  /** One optimizer step on the next batch; after the epoch's last batch, the epoch's evaluation. */
  step(): StepInfo {
    const p = this.progress, o = this.opts, model = this.model;
    check(!this.done, 'training is already done');
    // a resumed run's moments are the saved ones: zeros in their place would go on silently, and differently
    check(p.step === 0 || this.optimizer.hasState, `this Trainer goes on from a saved progress (step ${p.step}), but its optimizer was given no state`,
      'give it the saved one before the first step: trainer.optimizer.adoptState(checkpoint.optimizerState) (or loadState, which copies)');
    check(p.bestEpoch === undefined || this.bestWeights !== null,
      `this Trainer goes on from a saved progress that kept the weights of epoch ${p.bestEpoch} (keepBest), but it was given no such weights`,
      'give them before the first step: trainer.adoptBest(checkpoint.bestWeights)');
    const N = this.data.x.rows, D = this.data.x.cols;
    const rows = Math.min(this.B, N - p.position);
    const idx = this.order.subarray(p.position, p.position + rows);
    backend().gatherRows(this.data.x.data, D, 0, idx, rows, D, this.xb);
    for (let i = 0; i < rows; i++) this.yb[i] = this.data.y[idx[i]];
    o.beforeStep?.(p.step + 1, this.xb.subarray(0, rows * D), this.yb.subarray(0, rows));
    model.clearGrad();
    let lr = this.nextRate;
    // the routed layers apply the step to their node weights during backward (fusedStep, default on)
    const early = o.fusedStep === false ? undefined : this.optimizer.early(lr);
    const r = model.lossAndGrad(matrix(rows, D, this.xb), this.yb.subarray(0, rows), early);
    let skipped = false;
    if (!Number.isFinite(r.loss)) {
      // the root cause first: a bad input makes every gradient bad, a bad weight every gradient after it
      const input = firstNonFinite(matrix(rows, D, this.xb));
      const where = input ? null : findNonFinite(model);
      const what = input ? `the input of training example ${idx[input.row]} (feature ${input.col} is ${input.value})`
        : where ? `${where.kind} ${where.name}` : 'the loss (activations overflowed)';
      if (o.onNonFinite === 'skip' && (!where || where.kind === 'gradient of')) {
        // drop this step's gradients; the weights are still finite
        model.clearGrad();
        p.lrScale /= 2;
        lr /= 2; // the rate the next step would take (reported below)
        p.skippedSteps++;
        skipped = true;
        this.lastSkipped = { what, inInput: input !== null };
      } else {
        throw new NonFiniteError(`training loss became ${r.loss} at epoch ${p.epoch}, step ${p.step + 1}: non-finite value in ${what}`, p.step + 1, what, input !== null);
      }
    }
    if (!skipped) this.optimizer.step(lr);
    p.step++;
    p.position += rows;
    if (!skipped) {
      p.lossSum += r.loss * rows;
      p.correct += r.correct;
      p.seen += rows;
    }
    const info: StepInfo = { epoch: p.epoch, step: p.step, totalSteps: this.totalSteps, loss: r.loss, accuracy: r.correct / rows, lr, skipped };
    o.onStep?.(info);
    if (p.position === N) this.endEpoch(lr);
    if (this.done && p.skippedSteps === p.step) {
      // onNonFinite 'skip' dropped every step of the run: a model that never trained is no result
      const last = this.lastSkipped ?? { what: 'the loss', inInput: false };
      const steps = p.step === 1 ? "the run's only training step" : `every one of the run's ${p.step} training steps`;
      throw new NonFiniteError(`${steps} had a non-finite loss and was skipped (the last: non-finite value in ${last.what}): ` +
        'the weights are the ones training started from', p.step, last.what, last.inInput, true);
    }
    return info;
  }

  private endEpoch(lr: number): void {
    const p = this.progress, model = this.model;
    let validationLoss: number | null = null, validationAccuracy: number | null = null;
    if (this.validation && this.validation.x.rows > 0) {
      model.resetUsage();
      const v = model.evaluate(matrix(this.validation.x.rows, this.validation.x.cols, this.validation.x.data), this.validation.y);
      validationLoss = v.loss;
      validationAccuracy = v.accuracy;
    }
    const e: EpochMetrics = {
      epoch: p.epoch, step: p.step, lr,
      trainLoss: p.seen ? p.lossSum / p.seen : NaN, trainAccuracy: p.seen ? p.correct / p.seen : NaN, validationLoss, validationAccuracy,
      trees: model.treeStats(),
      seconds: this.seconds,
    };
    p.history.push(e);
    if (this.opts.keepBest) this.keepIfBest(e);
    if (this.opts.patience !== undefined && p.epoch < this.opts.epochs && epochsWithoutGain(p.history) >= this.opts.patience) p.stoppedEarly = true;
    p.epoch++;
    p.position = 0;
    p.lossSum = p.correct = p.seen = 0;
    p.epochRng = this.rng.getState();
    this.order = this.done ? new Int32Array(0) : this.rng.permutation(this.data.x.rows);
    // the run's end: the kept epoch's weights go back in the model (those of a later epoch are left behind)
    if (this.done && this.bestWeights && p.bestEpoch !== e.epoch) {
      model.params().forEach((q, i) => {
        q.data.set(this.bestWeights![i]);
        q.version++; // (tables made from the weights, such as collapsed leaves, are made again)
      });
    }
    model.resetUsage();
    this.opts.onEpoch?.(e);
  }

  /** keepBest: copies the weights if epoch e's validation accuracy is at least the best so far's (a tie goes to the later epoch). */
  private keepIfBest(e: EpochMetrics): void {
    const p = this.progress, best = p.bestEpoch === undefined ? null : p.history[p.bestEpoch - 1];
    if (best && !(e.validationAccuracy! >= best.validationAccuracy!)) return;
    const params = this.model.params();
    this.bestWeights ??= params.map((q) => new Float32Array(q.size));
    params.forEach((q, i) => this.bestWeights![i].set(q.data));
    p.bestEpoch = e.epoch;
  }

  /**
   * With keepBest: the epoch whose weights are kept so far and a copy of them (model.params() order), null before the
   * first epoch ends; when training is done, the model holds them. Save `weights` with a checkpoint (its run's
   * bestWeights) for a resumed run to go on keeping them.
   */
  get best(): { epoch: number; weights: readonly Float32Array[] } | null {
    const epoch = this.progress.bestEpoch;
    return epoch === undefined || !this.bestWeights ? null : { epoch, weights: this.bestWeights };
  }

  /**
   * A resumed run's kept weights (a decoded checkpoint's bestWeights), taken as they are (not copied): needed before
   * the first step where the progress resumed from has a bestEpoch.
   */
  adoptBest(weights: readonly Float32Array[]): void {
    const params = this.model.params(), epoch = this.progress.bestEpoch;
    check(epoch !== undefined, 'the progress this Trainer goes on from kept no best epoch\'s weights: there are none to adopt',
      'adopt a checkpoint\'s bestWeights only where its progress has a bestEpoch');
    check(Array.isArray(weights) && weights.length === params.length && params.every((q, i) => weights[i] instanceof Float32Array && weights[i].length === q.size),
      `the best epoch's weights must be ${params.length} Float32Arrays of the model's parameters' sizes, in order`, 'adopt a decoded checkpoint\'s bestWeights');
    this.bestWeights = [...weights];
  }

  /** The progress to save now (seconds included). */
  snapshot(): TrainProgress {
    const usage = this.model.routedLayers().map(({ layer }) => layer.leafUsage().counts.map((c) => Array.from(c)));
    return { ...structuredClone(this.progress), seconds: this.seconds, usage };
  }
}

/** The epochs since the last one whose validation accuracy rose above every earlier epoch's (the first epoch's counts). */
export function epochsWithoutGain(history: readonly EpochMetrics[]): number {
  let best = -Infinity, at = 0;
  history.forEach((e, i) => {
    if (e.validationAccuracy !== null && e.validationAccuracy > best) {
      best = e.validationAccuracy;
      at = i + 1;
    }
  });
  return history.length - at;
}

/**
 * How many times the plateau schedule has cut the rate after these epochs: a cut each time `patience` epochs in a row
 * bring no validation accuracy above every earlier epoch's, the count starting again after each cut (the first epoch
 * counts as a gain).
 */
export function plateauCuts(history: readonly EpochMetrics[], patience: number): number {
  let best = -Infinity, without = 0, cuts = 0;
  for (const e of history) {
    if (e.validationAccuracy !== null && e.validationAccuracy > best) {
      best = e.validationAccuracy;
      without = 0;
    } else if (++without === patience) {
      cuts++;
      without = 0;
    }
  }
  return cuts;
}

const SNAPSHOT = 'resume from what a Trainer\'s snapshot() returned (a decoded checkpoint\'s run.progress)';

/**
 * Checks that a saved progress continues on this training set and batch size: the steps it counts are those its
 * epoch and position take with N examples in batches of B (the last batch of an epoch may be short), so that a
 * smaller or larger set (after the first epoch), another batch size or fewer epochs than it reached are named here,
 * not met as an index error in the kernels (more epochs than it was started with go on training).
 */
function checkResume(p: TrainProgress, N: number, B: number, stepsPerEpoch: number, epochs: number): void {
  checkProgress(p, 'the progress to resume', SNAPSHOT);
  checkInt(p.epoch, 'the progress to resume: epoch', 1, epochs + 1);
  const done = p.epoch === epochs + 1 || p.stoppedEarly === true;
  const expected = (p.epoch - 1) * stepsPerEpoch + p.position / B;
  check((done ? p.position === 0 : p.position < N && p.position % B === 0) && p.step === expected,
    `the progress to resume (epoch ${p.epoch}, ${p.position} examples into it, step ${p.step}) does not fit ${N} training examples ` +
    `in batches of ${B} over ${epochs} epochs`,
    'resume with the training set, batch size and epochs the progress was saved with');
}

/**
 * The first parameter (in model order) holding a non-finite weight, else the
 * first whose gradient (in the touched slots) holds one; null if none does
 * (then the loss itself overflowed). Weights come first: a bad weight makes
 * every gradient after it bad too, and cannot be fixed by skipping a step.
 */
export function findNonFinite(model: Model): { kind: 'gradient of' | 'weight'; name: string } | null {
  for (const p of model.params()) {
    for (let j = 0; j < p.data.length; j++) if (!Number.isFinite(p.data[j])) return { kind: 'weight', name: p.name };
  }
  for (const p of model.params()) {
    for (let i = 0; i < p.touchedCount; i++) {
      const s = p.touched[i], g = p.grad.subarray(s * p.slotSize, (s + 1) * p.slotSize);
      for (let j = 0; j < g.length; j++) if (!Number.isFinite(g[j])) return { kind: 'gradient of', name: p.name };
    }
  }
  return null;
}

/**
 * What train() returns: each epoch's metrics, the optimizer (its state, to save in a checkpoint or to go on with), and
 * with keepBest the epoch whose weights the model now holds (null without keepBest).
 */
export interface TrainResult { history: EpochMetrics[]; optimizer: Optimizer; bestEpoch: number | null }

/**
 * Trains to the end in one call (library use, experiments, benchmarks): a
 * Trainer stepped until done. The CLI steps its own Trainer to handle signals
 * and checkpoints.
 */
export function train(model: Model, data: LabeledData, validation: LabeledData | null, opts: TrainOptions,
  rng: Rng): TrainResult {
  const t = new Trainer(model, data, validation, opts, rng);
  while (!t.done) t.step();
  return { history: t.progress.history, optimizer: t.optimizer, bestEpoch: t.progress.bestEpoch ?? null };
}

/**
 * A saved progress checked whole (what a Trainer's snapshot() gives: counts, sums, the epoch's random state, the
 * finished epochs, the leaf usage), before it is written to a checkpoint, read from one, or resumed from; `what`
 * names it in the messages, and `fix` says what to do.
 */
export function checkProgress(v: unknown, what: string, fix?: string): TrainProgress {
  const bad = (problem: string): never => { throw new TreegateError(`${what}: ${problem}`, fix); };
  if (typeof v !== 'object' || v === null) bad('not an object');
  const p = v as Record<string, unknown>;
  const nat = (k: string, min = 0) => { if (!Number.isSafeInteger(p[k]) || (p[k] as number) < min) bad(`${k} must be an integer ≥ ${min}`); };
  nat('epoch', 1); nat('position'); nat('step'); nat('seen'); nat('skippedSteps');
  for (const k of ['lossSum', 'correct', 'lrScale', 'seconds']) if (typeof p[k] !== 'number' || !Number.isFinite(p[k])) bad(`${k} must be a finite number`);
  // the learning-rate multiplier starts at 1 and is only ever halved (to 0 after 1075 skipped steps); the sums cover `seen` rows
  if (!((p.lrScale as number) >= 0 && (p.lrScale as number) <= 1)) bad(`lrScale must be in [0, 1], got ${shown(p.lrScale)}`);
  if ((p.seconds as number) < 0 || (p.correct as number) < 0 || (p.correct as number) > (p.seen as number)) bad('seconds and correct must be ≥ 0, correct ≤ seen');
  if ((p.skippedSteps as number) > (p.step as number) || (p.seen as number) > (p.position as number)) bad('skippedSteps must be ≤ step, seen ≤ position');
  const rng = p.epochRng as { s?: unknown; spare?: unknown } | null;
  if (typeof rng !== 'object' || rng === null || !Array.isArray(rng.s) || rng.s.length !== 4 || !rng.s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)
    || !(rng.spare === null || (typeof rng.spare === 'number' && Number.isFinite(rng.spare)))) bad('epochRng must be {s: four 32-bit words, spare}');
  // one entry per finished epoch
  if (!Array.isArray(p.history) || p.history.length !== (p.epoch as number) - 1
    || !p.history.every((h, i) => typeof h === 'object' && h !== null && (h as { epoch?: unknown }).epoch === i + 1)) bad('history must list the finished epochs');
  const counts = (c: unknown) => Array.isArray(c) && c.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);
  if (!Array.isArray(p.usage) || !p.usage.every((l) => Array.isArray(l) && l.every(counts))) bad('usage must be lists of leaf counts');
  if (p.bestEpoch !== undefined && (!Number.isSafeInteger(p.bestEpoch) || (p.bestEpoch as number) < 1 || (p.bestEpoch as number) > (p.history as unknown[]).length)) {
    bad(`bestEpoch must be one of the finished epochs (1 to ${(p.history as unknown[]).length}), got ${shown(p.bestEpoch)}`);
  }
  if (p.stoppedEarly !== undefined && typeof p.stoppedEarly !== 'boolean') bad(`stoppedEarly must be true or false, got ${shown(p.stoppedEarly)}`);
  return v as TrainProgress;
}
