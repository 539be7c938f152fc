/**
 * What `treegate train` checks of its options before it trains (options the run would ignore, a model too large for
 * memory, a model config's errors in the CLI's terms) and of the options a checkpoint saved; the classes the
 * training examples lack.
 */
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import { check, OutOfMemoryError, TreegateError } from '../core/errors.js';
import { mnistSteps, type DatasetName } from '../data/prepare.js';
import type { RunState } from '../io/checkpoint.js';
import { mlpLayerNames, paramShapes, type ModelConfig, type TreeStats } from '../layers/model.js';
import type { NonFinitePolicy } from '../train/trainer.js';
import { rejectIdle, type IdleRule, type KernelOptions } from './options.js';
import { count } from '../report/html.js';
import { epochStepsText, formatCount, formatGiB, unusedAtRandom } from '../report/summary.js';
import { trainingFloats } from '../train/optim.js';

export interface TrainCliOptions extends KernelOptions {
  dataset: DatasetName; csv?: string; testCsv?: string; labelColumn?: string; header?: boolean; examples: number; inputSize: number; classes: number;
  layer: 'tree' | 'flat' | 'moe'; experts?: number; topK: number; balanceWeight: number; logEvery?: number;
  hidden: number[]; treeLayers: number[]; depth: number; blocks: number; gating: 'units' | 'projection';
  nodeInit: 'zero' | 'small'; straightThrough?: boolean; activation: 'relu' | 'tanh'; denseEqualParams?: boolean; epochs: number; batchSize: number; lr: number;
  optimizer: 'adam' | 'sgd'; momentum: number; schedule: 'cosine' | 'constant' | 'plateau'; plateauFactor: number; plateauPatience: number;
  weightDecay: number; decayGamma: number;
  validation?: number; keepBest?: boolean; patience?: number; limit?: number; dataDir?: string; seed: number; out: string; json?: boolean; progress: boolean;
  checkpointEvery?: { steps: number } | { minutes: number }; keepCheckpoints: number; resume?: string; onNonfinite: NonFinitePolicy;
}

/** The backends a checkpoint's run trained on, in turn (recorded since 2026-12-04; none in older checkpoints). */
export function backendsOf(extra: Record<string, unknown> | null | undefined): string[] {
  const b = extra?.backends;
  return Array.isArray(b) && b.every((x) => typeof x === 'string') ? b : [];
}

/** Options that only say how this process runs; a resumed run takes them from its own command line, all others from the checkpoint. */
export const PER_PROCESS = ['backend', 'threads', 'json', 'progress', 'resume'] as const;

/** Path options: made absolute when a run starts, so that the checkpoints name the same files wherever --resume runs. */
export const PATHS = ['csv', 'testCsv', 'dataDir', 'out'] as const;

/**
 * Checks what train saved in a checkpoint beside the model (loadNewestCheckpoint skips one that fails, as one that
 * does not decode): each option as its parser would give it back from the command line (an edited or corrupt
 * file could hold `null`, a string for a number, or a value out of range), and the extra state.
 */
export function checkSavedRun(cmd: Command, run: RunState, source: string): void {
  for (const opt of cmd.options) {
    const k = opt.attributeName(), v = run.options[k];
    if ((PER_PROCESS as readonly string[]).includes(k)) continue;
    const bad = () => { throw new TreegateError(`${source}: checkpoint option ${opt.long} is ${v === undefined ? 'missing' : JSON.stringify(v)}`); };
    if (v === undefined) {
      if (opt.defaultValue !== undefined) bad();
      continue;
    }
    if (!opt.parseArg) {
      if (typeof v !== 'boolean') bad();
      continue;
    }
    const text = Array.isArray(v) ? (v.length ? v.join(',') : 'none')
      : typeof v === 'object' && v !== null ? ('steps' in v ? String(v.steps) : `${(v as { minutes?: unknown }).minutes}m`) : String(v);
    let back: unknown;
    try {
      back = opt.parseArg(text, undefined);
    } catch {
      bad();
    }
    if (JSON.stringify(back) !== JSON.stringify(v)) bad();
  }
  const { window, files } = run.extra as { window?: Record<string, unknown>; files?: Record<string, unknown> };
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (window !== undefined && (typeof window !== 'object' || window === null || !finite(window.loss) || !finite(window.acc)
    || !Number.isSafeInteger(window.steps) || (window.steps as number) < 0)) {
    throw new TreegateError(`${source}: checkpoint extra state: window must be {loss, acc, steps}`);
  }
  if (files !== undefined && (typeof files !== 'object' || files === null || typeof files.model !== 'string' || typeof files.result !== 'string')) {
    throw new TreegateError(`${source}: checkpoint extra state: files must be {model, result} hashes`);
  }
  const { run: id, resultBefore } = run.extra;
  if ((id !== undefined && typeof id !== 'string') || (resultBefore !== undefined && resultBefore !== null && typeof resultBefore !== 'string')) {
    throw new TreegateError(`${source}: checkpoint extra state: run must be an id, resultBefore a hash or null`);
  }
  const { backends } = run.extra;
  if (backends !== undefined && backendsOf(run.extra).length === 0) throw new TreegateError(`${source}: checkpoint extra state: backends must be a list of one or more backend names`);
  const { command, resumedWith } = run.extra;
  if ((command !== undefined && typeof command !== 'string') || (resumedWith !== undefined && !(Array.isArray(resumedWith) && resumedWith.every((c) => typeof c === 'string')))) {
    throw new TreegateError(`${source}: checkpoint extra state: command must be a command line, resumedWith a list of them`);
  }
}

/**
 * A model config's error in the CLI's terms: `layers.N`, the index in Model.layers (where mlpConfig puts each hidden
 * layer's activation after it), becomes "layer L", as --tree-layers and the printed tables number the linear layers.
 */
export function inCliTerms<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof TreegateError)) throw e;
    const base = e.problem, named = mlpLayerNames(base);
    if (named === base) throw e;
    throw e instanceof OutOfMemoryError ? new OutOfMemoryError(named, e.hint) : new TreegateError(named, e.hint);
  }
}

/** Options given on the command line that the run would ignore are errors, not silently dropped. */
export function rejectIdleOptions(o: TrainCliOptions, cmd: Command): void {
  if (o.resume) {
    const kept = cmd.options.map((opt) => opt.attributeName()).filter((k) => !(PER_PROCESS as readonly string[]).includes(k));
    rejectIdle(cmd, [{ options: kept, applies: false, why: 'with --resume', fix: 'a resumed run keeps the options it was started with; start a new run to change them' }]);
    return;
  }
  rejectIdle(cmd, idleRules(o));
}

/**
 * The options that have no effect on a run of options `o`, each with why: given on the command line, they are
 * errors (rejectIdleOptions); the settings result.json records leave them out (runSettings).
 */
function idleRules(o: TrainCliOptions): IdleRule[] {
  const routed = o.treeLayers.length > 0;
  return [
    { options: ['examples', 'inputSize', 'classes'], applies: o.dataset === 'memorization', why: `with --dataset ${o.dataset}`, fix: 'options of --dataset memorization' },
    { options: ['dataDir'], applies: o.dataset === 'mnist', why: `with --dataset ${o.dataset}`, fix: 'the folder --dataset mnist reads' },
    { options: ['labelColumn', 'header'], applies: o.dataset === 'csv', why: `with --dataset ${o.dataset}`, fix: 'options of --csv files' },
    { options: ['layer', 'depth', 'experts', 'topK', 'balanceWeight', 'blocks', 'gating', 'straightThrough', 'nodeInit', 'decayGamma'],
      applies: routed, why: 'with --tree-layers none', fix: 'options of the routed layers' },
    { options: ['experts', 'topK', 'balanceWeight'], applies: !routed || o.layer === 'moe', why: `with --layer ${o.layer}`, fix: 'options of --layer moe' },
    { options: ['depth'], applies: !routed || o.layer !== 'moe' || o.experts === undefined, why: 'with --layer moe and --experts',
      fix: '--layer moe takes 2^depth experts where --experts is not given; give one of the two' },
    { options: ['blocks', 'gating', 'straightThrough', 'nodeInit', 'decayGamma'], applies: !routed || o.layer !== 'moe', why: 'with --layer moe',
      fix: 'options of --layer tree and flat' },
    { options: ['nodeInit'], applies: !routed || o.layer === 'tree', why: `with --layer ${o.layer}`, fix: 'an option of --layer tree, for its nodes below the root; flat leaves and moe experts are all drawn He normal' },
    { options: ['gating', 'straightThrough', 'nodeInit', 'decayGamma'], applies: !routed || o.layer === 'moe' || o.depth > 0, why: 'with --depth 0',
      fix: 'a routed layer of depth 0 is its root alone: no gates to train, no deeper nodes to initialize or decay' },
    { options: ['layer'], applies: !routed || o.layer !== 'flat' || o.depth > 0, why: 'with --depth 0',
      fix: 'a flat layer of depth 0 is one leaf, the same layer as --layer tree --depth 0: give a flat layer --depth 1 or more' },
    { options: ['activation'], applies: o.hidden.length > 0, why: 'with --hidden none', fix: 'it is the function between hidden layers: give some with --hidden' },
    { options: ['momentum'], applies: o.optimizer === 'sgd', why: `with --optimizer ${o.optimizer}`, fix: 'it sets the momentum of --optimizer sgd' },
    { options: ['plateauFactor', 'plateauPatience'], applies: o.schedule === 'plateau', why: `with --schedule ${o.schedule}`, fix: 'options of --schedule plateau' },
    { options: ['decayGamma'], applies: o.weightDecay > 0, why: 'without --weight-decay', fix: 'it scales the weight decay of the deeper nodes' },
    { options: ['keepCheckpoints'], applies: o.checkpointEvery !== undefined, why: 'without --checkpoint-every', fix: 'it limits the checkpoints that option writes' },
    { options: ['denseEqualParams'], applies: routed && o.hidden.length > 0, why: routed ? 'with --hidden none' : 'with --tree-layers none',
      fix: routed ? 'it widens the hidden layers to the routed model\'s parameters: give some' : 'it matches a routed model: name its layers with --tree-layers' },
    { options: ['nodeInit', 'decayGamma', 'straightThrough', 'topK', 'balanceWeight'], applies: !o.denseEqualParams, why: 'with --dense-equal-params',
      fix: 'they train the routing, which the dense MLP has none of; the other routed options size it' },
  ];
}

/**
 * The settings a run trained with, as its result.json records them: its options as its checkpoints save them
 * (`saved`: every option but the per-process ones, PER_PROCESS, defaults included), less those of no effect on it
 * (idleRules: the memorization task's sizes on MNIST, --momentum with Adam, …) and those left unset.
 */
export function runSettings(saved: Record<string, unknown>, o: TrainCliOptions): Record<string, unknown> {
  const idle = new Set(idleRules(o).filter((r) => !r.applies).flatMap((r) => r.options));
  return Object.fromEntries(Object.entries(saved).filter(([k, v]) => v !== undefined && !idle.has(k)));
}

/**
 * Training holds the weights, their gradients and the optimizer's state (Adam's two moments, SGD's momentum) in
 * memory at once, and with --keep-best a copy of the weights: a model whose arrays alone would pass this machine's
 * memory is refused before any data is read.
 * (Files have no such limit: the model and the checkpoints are written from the arrays in place and read into them.)
 */
export function checkMemory(config: ModelConfig, o: TrainCliOptions): void {
  const params = paramShapes(config).reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  const bytes = 4 * (trainingFloats(params, o.optimizer) + (o.keepBest ? params : 0)), total = totalmem();
  check(bytes <= total, `a model of ${formatCount(params)} parameters needs ${formatGiB(bytes)} for its weights, gradients${o.keepBest ? ', the best epoch\'s weights' : ''} and ${o.optimizer} state, ` +
    `more than this machine's ${formatGiB(total)} of memory`, 'lower --depth or the --hidden widths');
}

/** The classes (their names where the data has them) of 0 … numClasses − 1 that no label in y holds. */
export function missingClasses(y: ArrayLike<number>, numClasses: number, labels: string[] | null): string[] {
  const seen = new Uint8Array(numClasses);
  for (let i = 0; i < y.length; i++) seen[y[i]] = 1;
  const out: string[] = [];
  for (let c = 0; c < numClasses; c++) if (!seen[c]) out.push(labels ? JSON.stringify(labels[c]) : String(c));
  return out;
}

/**
 * The warning for a run on a CSV file whose epochs were not given (`epochsGiven` false) and make fewer steps than the
 * default run on MNIST at the run's batch size (its epochs of 55 000 examples: 4 300 steps of 64): the default epochs
 * were chosen there, and a file of a few hundred examples makes a few dozen steps of them, where a model stops far
 * from fitted (the README's three-run comparison then favours whichever fits fastest). Null where there is none.
 */
export function shortRunWarning(dataset: DatasetName, epochs: number, batchSize: number, trainExamples: number, epochsGiven: boolean,
  defaultEpochs: number): string | null {
  if (dataset !== 'csv' || epochsGiven || trainExamples <= 0) return null;
  const perEpoch = Math.ceil(trainExamples / batchSize), steps = epochs * perEpoch;
  const mnist = mnistSteps(defaultEpochs, batchSize);
  if (steps >= mnist) return null;
  return `${epochStepsText(epochs, trainExamples, batchSize)}, where the default run on MNIST ` +
    `takes ${count(mnist)}: the model may stop far from fitted (see whether its training loss still falls at the last epochs); ` +
    `--epochs ${Math.ceil(mnist / perEpoch)} makes as many steps`;
}

/**
 * The warnings for routed layers whose test examples went to few of their leaves: more than half of a layer's leaves
 * (or experts) unused, and more than twice as many as uniform routing would leave unused by chance with so few
 * examples. Such a layer's unused weights add nothing: on data of few effective dimensions fixed projection gaters can
 * send nearly every example down one path. `over` names the set counted (its usage since the last reset).
 */
export function unusedLeavesWarnings(stats: readonly TreeStats[], over: string): string[] {
  return stats.flatMap((t) => {
    const all = t.leaves * t.blocks, n = t.usage.reduce((a, u) => a + u.reduce((x, y) => x + y, 0), 0) / Math.max(1, t.blocks);
    if (n === 0 || 2 * t.deadLeaves <= all || t.deadLeaves <= 2 * unusedAtRandom(t)) return [];
    // (a mixture counts each example's top-k choices)
    const sent = t.kind === 'moe' ? `the ${count(n)} expert choices of its ${over} examples to few of its experts` : `its ${count(n)} ${over} examples to few of its leaves`;
    return [`layer ${t.layer} sent ${sent}: ${count(t.deadLeaves)} of ${count(all)} got none ` +
      `(balance ${t.balance.toFixed(3)}), so their weights add nothing` +
      (t.kind === 'moe' ? '' : '; --gating units chooses the bits from hidden units that vary over the data, where fixed projections may not')];
  });
}
