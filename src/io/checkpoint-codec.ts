import { check, checkKeys, TreegateError } from '../core/errors.js';
import { backend, releaseFloats } from '../kernels/backend.js';
import type { Model } from '../layers/model.js';
import type { Optimizer } from '../train/optim.js';
import { checkProgress, type TrainProgress } from '../train/trainer.js';
import { contentChecksum, verifyChecksum } from './checksum.js';
import { checkFiniteParams, modelFromStored } from './model-codec.js';
import { joinParts, readSafetensors, safetensorsParts, type FileBytes, type StoredTensor } from './safetensors.js';

/**
 * Checkpoints: one safetensors file holding everything a run needs to continue
 * bit for bit — the model's parameters (as in a model file), the optimizer's
 * state per parameter (`optimizer.<param>.m`, `.v` for Adam, `.steps`: the
 * lazy per-slot step counts, stored as float32, exact below 2^24), with
 * keepBest the weights of the best epoch so far (`best.<param>`), and in the
 * metadata the model config, the training progress (data-order rng state,
 * position in the epoch, epoch sums, history), the run's options and its
 * metrics log so far. This file only encodes and decodes the bytes (it runs in
 * browsers too); checkpoint.ts writes them to disk atomically.
 */
export const CHECKPOINT_FORMAT = 'treegate-checkpoint/1';
const OPT = 'optimizer.';
const BEST = 'best.';
const MAX_STEPS = 2 ** 24;

/**
 * What a run stores beside weights and optimizer state: its progress, its options (opaque here: any object, saved
 * as JSON, so functions such as a TrainOptions' callbacks are left out), its metrics lines and anything else in
 * `extra`. Decoded, `options` is the plain record the JSON holds, for the caller to check (or cast) before use.
 */
export interface RunState<Options extends object = Record<string, unknown>> { progress: TrainProgress; options: Options; metrics: string[]; extra: Record<string, unknown> }

/**
 * What a checkpoint saves of a run: its progress and options, and optionally its metrics lines and a caller's own state
 * (default none); and where its progress has a bestEpoch (TrainOptions' keepBest), that epoch's weights
 * (`trainer.best.weights`).
 */
export type RunToSave<Options extends object = object> = Omit<RunState<Options>, 'metrics' | 'extra'> & Partial<Pick<RunState<Options>, 'metrics' | 'extra'>>
  & { bestWeights?: readonly Float32Array[] | undefined };

/** A checkpoint's file: the model's weights, the optimizer's state and the run's state in one safetensors file. */
export function encodeCheckpoint(model: Model, optimizer: Optimizer, run: RunToSave): Uint8Array<ArrayBuffer> {
  return joinParts(encodeCheckpointParts(model, optimizer, run));
}

/** The checkpoint's file as parts to write in turn (safetensorsParts): views of the arrays, for a file of any size; write them before they change (the checksum is of them now). */
export function encodeCheckpointParts(model: Model, optimizer: Optimizer, run: RunToSave): Uint8Array[] {
  const shape = '{ progress: trainer.snapshot(), options, metrics?, extra? }';
  check(typeof run === 'object' && run !== null, `the run to save must be ${shape}`);
  checkKeys(run, ['progress', 'options', 'metrics', 'extra', 'bestWeights'], 'the run to save');
  const { metrics = [], extra = {}, bestWeights } = run;
  check(typeof run.options === 'object' && run.options !== null && !Array.isArray(run.options),
    'the run to save: options must be an object (the options the run trains with)', `pass ${shape}`);
  check(Array.isArray(metrics) && metrics.every((l) => typeof l === 'string'),
    'the run to save: metrics must be an array of strings (the lines of its metrics log)', 'pass [] or leave it out');
  check(typeof extra === 'object' && extra !== null && !Array.isArray(extra),
    'the run to save: extra must be an object (the caller\'s own state)', 'pass {} or leave it out');
  const params = model.params();
  check(typeof optimizer === 'object' && optimizer !== null && Array.isArray(optimizer.params)
    && optimizer.params.length === params.length && params.every((p, i) => optimizer.params[i] === p),
  "the optimizer to save is not this model's: its state must be of the model's parameters, in order", 'save trainer.optimizer with trainer.model');
  // what decodeCheckpoint would refuse is not written (writeCheckpoint would prune the checkpoints before it)
  checkProgress(run.progress, 'the run to save: progress', 'save trainer.snapshot()');
  checkFiniteParams(model);
  const bestEpoch = run.progress.bestEpoch;
  check((bestEpoch === undefined) === (bestWeights === undefined), bestEpoch === undefined
    ? 'the run to save has best weights (bestWeights) but its progress keeps no best epoch'
    : `the run to save kept the weights of epoch ${bestEpoch} (its progress's bestEpoch) but bestWeights leaves them out`,
  'save { progress: trainer.snapshot(), bestWeights: trainer.best?.weights, … }');
  if (bestWeights !== undefined) {
    check(Array.isArray(bestWeights) && bestWeights.length === params.length && params.every((p, i) => bestWeights[i] instanceof Float32Array && bestWeights[i].length === p.size),
      `the run to save: bestWeights must be ${params.length} Float32Arrays of the model's parameters' sizes, in order`, 'save trainer.best.weights');
    bestWeights.forEach((w: Float32Array, i: number) => {
      const j = w.findIndex((x: number) => !Number.isFinite(x));
      check(j < 0, `the run to save: the best epoch's ${params[i].name} holds ${w[j]} at index ${j}`, 'save trainer.best.weights of a run that stayed finite');
    });
  }
  // a Trainer's `progress` lacks the leaf usage its snapshot() adds: caught here, not when the checkpoint resumes
  const routed = model.routedLayers(), usage: unknown = run.progress?.usage;
  const fits = Array.isArray(usage) && usage.length === routed.length && routed.every(({ layer }, i) => {
    const counts = layer.leafUsage().counts, saved: unknown = usage[i];
    return Array.isArray(saved) && saved.length === counts.length && counts.every((c, j) => (saved[j] as { length?: number })?.length === c.length);
  });
  if (!fits) {
    throw new TreegateError(`the progress to save holds no leaf usage of the model's ${routed.length} routed layer${routed.length === 1 ? '' : 's'}, or usage of another shape`,
      'save trainer.snapshot(), which adds the usage counted so far (trainer.progress leaves it out)');
  }
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  params.forEach((p, i) => {
    tensors.push({ name: p.name, shape: [...p.shape], data: p.data });
    const st = optimizer.state[i];
    tensors.push({ name: `${OPT}${p.name}.m`, shape: [p.size], data: st.m });
    if (st.v) tensors.push({ name: `${OPT}${p.name}.v`, shape: [p.size], data: st.v });
    const steps = new Float32Array(st.steps.length);
    for (let s = 0; s < steps.length; s++) {
      if (st.steps[s] >= MAX_STEPS) throw new TreegateError(`${p.name}: ${st.steps[s]} optimizer steps do not fit a checkpoint (limit ${MAX_STEPS})`);
      steps[s] = st.steps[s];
    }
    tensors.push({ name: `${OPT}${p.name}.steps`, shape: [steps.length], data: steps });
    if (bestWeights) tensors.push({ name: `${BEST}${p.name}`, shape: [...p.shape], data: bestWeights[i] as Float32Array });
  });
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(model.toConfig()),
    progress: JSON.stringify(run.progress, sparseCounts),
    options: plainJson(run.options, 'options'),
    metrics: JSON.stringify(metrics),
    extra: plainJson(extra, 'extra'),
  };
  return safetensorsParts(tensors, { ...metadata, checksum: contentChecksum(metadata, SUMMED, tensors) });
}

/** The caller's object as the JSON a checkpoint stores; what JSON cannot hold (a BigInt, a cycle) is an error naming it. */
function plainJson(value: object, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (e) {
    throw new TreegateError(`the run to save: ${what} is not plain JSON (${e instanceof Error ? e.message : String(e)})`,
      'keep numbers, strings, booleans, null, arrays and objects in it, without cycles');
  }
}

/** The metadata a checkpoint's checksum covers, in this order. */
const SUMMED = ['format', 'config', 'progress', 'options', 'metrics', 'extra'];

/**
 * A decoded checkpoint: the model, the run's state, the optimizer state per parameter (Optimizer.loadState), and the
 * best epoch's weights where its progress has a bestEpoch (Trainer.adoptBest), else null.
 */
export interface DecodedCheckpoint {
  model: Model; run: RunState; optimizerState: Array<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }>; bestWeights: Float32Array[] | null;
}

/** Decodes and validates a checkpoint: the model as decodeModel does, and the optimizer state each parameter needs. */
export function decodeCheckpoint(bytes: FileBytes, source: string): DecodedCheckpoint {
  const { tensors: stored, metadata } = readSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new TreegateError(`${source}: not a treegate checkpoint (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  const tensors: Tensors = new Map();
  let model: Model | null = null;
  try {
    model = modelFromStored(metadata.config, stored, source, (name) => name.startsWith(OPT) || name.startsWith(BEST),
      (m) => readOptimizerTensors(m, stored, metadata, tensors, source));
    const run = runOf(metadata, source);
    return { model, run, optimizerState: optimizerStateOf(model, tensors, source), bestWeights: bestWeightsOf(model, tensors, run.progress, source) };
  } catch (e) {
    // a checkpoint refused after its arrays were made gives them back (on wasm: its blocks of the module's memory),
    // so that trying older checkpoints after a damaged one does not hold each one's arrays until a collection
    model?.dispose(); // (modelFromStored disposes a model it refuses itself)
    for (const [name, t] of tensors) if (name.startsWith(OPT)) releaseFloats(t.data);
    throw e;
  }
}

type Tensors = Map<string, { shape: readonly number[]; data: Float32Array }>;

/**
 * The weights are read straight into the model's arrays (modelFromStored), the other tensors (the optimizer's
 * state) here into arrays of their own; then the checksum over all of them (checkpoints written before it was
 * added have none; a present one must match), before any value is checked.
 */
function readOptimizerTensors(model: Model, stored: Map<string, StoredTensor>, metadata: Record<string, string>, tensors: Tensors,
  source: string): void {
  for (const p of model.params()) tensors.set(p.name, { shape: p.shape, data: p.data });
  for (const [name, t] of stored) {
    if (tensors.has(name)) continue;
    // the moments in arrays of the backend's, as an optimizer makes them, so that one can adopt them (adoptState)
    const data = name.startsWith(OPT) && /\.[mv]$/.test(name) ? backend().floats(t.size) : new Float32Array(t.size);
    tensors.set(name, { shape: t.shape, data });
    t.read(data);
  }
  verifyChecksum(metadata, SUMMED, [...stored.keys()].map((name) => ({ name, data: tensors.get(name)!.data })), source);
}

/** The run's state from a checkpoint's metadata: its progress, options, metrics lines and extra state, checked. */
function runOf(metadata: Record<string, string>, source: string): RunState {
  const parse = (key: string, reviver?: (this: unknown, k: string, v: unknown) => unknown): unknown => {
    if (metadata[key] === undefined) throw new TreegateError(`${source}: the checkpoint's metadata holds no "${key}"`);
    try {
      return JSON.parse(metadata[key], reviver);
    } catch (e) {
      if (e instanceof TreegateError) throw new TreegateError(`${source}: checkpoint ${key}: ${e.message}`);
      throw new TreegateError(`${source}: checkpoint metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };
  const progress = checkProgress(parse('progress', denseCounts), `${source}: checkpoint progress`);
  const options = parse('options'), metrics = parse('metrics'), extra = parse('extra');
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TreegateError(`${source}: checkpoint options must be an object`);
  if (!Array.isArray(metrics) || !metrics.every((l) => typeof l === 'string')) throw new TreegateError(`${source}: checkpoint metrics must be a list of lines`);
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) throw new TreegateError(`${source}: checkpoint extra state must be an object`);
  return { progress, options: options as Record<string, unknown>, metrics: metrics as string[], extra: extra as Record<string, unknown> };
}

/** Each parameter's optimizer state from the checkpoint's tensors, checked (shapes, finite moments, step counts). */
function optimizerStateOf(model: Model, tensors: Tensors, source: string): DecodedCheckpoint['optimizerState'] {
  const optimizerState = model.params().map((p) => {
    const get = (suffix: string, n: number, required: boolean): Float32Array | null => {
      const t = tensors.get(`${OPT}${p.name}.${suffix}`);
      if (!t) {
        if (required) throw new TreegateError(`${source}: optimizer state ${p.name}.${suffix} is missing`);
        return null;
      }
      if (t.shape.length !== 1 || t.shape[0] !== n) throw new TreegateError(`${source}: optimizer state ${p.name}.${suffix} has shape [${t.shape}], expected [${n}]`);
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i])) throw new TreegateError(`${source}: optimizer state ${p.name}.${suffix} holds a non-finite value at index ${i}`);
      }
      return t.data;
    };
    const stepsF = get('steps', p.numSlots, true)!;
    const steps = new Int32Array(stepsF.length);
    for (let s = 0; s < steps.length; s++) {
      const v = stepsF[s];
      if (!Number.isInteger(v) || v < 0 || v >= MAX_STEPS) throw new TreegateError(`${source}: optimizer step count ${v} of ${p.name} slot ${s} is not a count`);
      steps[s] = v;
    }
    return { m: get('m', p.size, true)!, v: get('v', p.size, false), steps };
  });
  for (const name of tensors.keys()) {
    if (!name.startsWith(OPT)) continue;
    const base = name.slice(OPT.length).replace(/\.(m|v|steps)$/, '');
    if (!model.params().some((p) => p.name === base) || base === name.slice(OPT.length)) throw new TreegateError(`${source}: unexpected tensor ${name}`);
  }
  return optimizerState;
}

/** The best epoch's weights (`best.<param>`) where the progress has a bestEpoch, checked; none may be there otherwise. */
function bestWeightsOf(model: Model, tensors: Tensors, progress: TrainProgress, source: string): Float32Array[] | null {
  const params = model.params();
  for (const name of tensors.keys()) {
    if (!name.startsWith(BEST)) continue;
    if (progress.bestEpoch === undefined) throw new TreegateError(`${source}: tensor ${name} holds best-epoch weights, but the progress keeps no best epoch`);
    if (!params.some((p) => BEST + p.name === name)) throw new TreegateError(`${source}: unexpected tensor ${name}`);
  }
  if (progress.bestEpoch === undefined) return null;
  return params.map((p) => {
    const t = tensors.get(BEST + p.name);
    if (!t) throw new TreegateError(`${source}: the progress keeps the weights of epoch ${progress.bestEpoch}, but ${BEST}${p.name} is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new TreegateError(`${source}: ${BEST}${p.name} has shape [${t.shape}], expected [${p.shape}]`);
    }
    const j = t.data.findIndex((x) => !Number.isFinite(x));
    if (j >= 0) throw new TreegateError(`${source}: ${BEST}${p.name} holds a non-finite value at index ${j}`);
    return t.data;
  });
}

/**
 * Gives a decoded checkpoint's arrays back to the backend that made them (Model.dispose, Backend.release): for one
 * that will not be used, such as a checkpoint its caller refused. Neither it nor its model may be used afterwards.
 */
export function disposeCheckpoint(decoded: DecodedCheckpoint): void {
  decoded.model.dispose();
  for (const s of decoded.optimizerState) {
    releaseFloats(s.m);
    if (s.v) releaseFloats(s.v);
  }
}

/**
 * Lists of counts longer than this are saved sparse in the progress JSON ({ sparseLength, at, values }: the nonzero
 * entries): a deep tree's 2^24 leaf counts, mostly zeros, would otherwise pass the header's 100 MB.
 */
const SPARSE_FROM = 2 ** 16;

function sparseCounts(_key: string, v: unknown): unknown {
  if (!Array.isArray(v) || v.length <= SPARSE_FROM || !v.every((x) => typeof x === 'number')) return v;
  const at: number[] = [], values: number[] = [];
  v.forEach((x: number, i) => { if (x !== 0) { at.push(i); values.push(x); } });
  return { sparseLength: v.length, at, values };
}

function denseCounts(_key: string, v: unknown): unknown {
  if (typeof v !== 'object' || v === null || !('sparseLength' in v)) return v;
  const { sparseLength: n, at, values } = v as { sparseLength: unknown; at: unknown; values: unknown };
  if (!Number.isSafeInteger(n) || (n as number) <= SPARSE_FROM || (n as number) > 2 ** 26 || !Array.isArray(at) || !Array.isArray(values) || at.length !== values.length
    || !at.every((i, j) => Number.isSafeInteger(i) && i >= 0 && i < (n as number) && (j === 0 || i > at[j - 1]))) {
    throw new TreegateError('a sparse list of counts must be { sparseLength, at: increasing indices below it, values: one per index }');
  }
  const out = new Array<unknown>(n as number).fill(0);
  at.forEach((i: number, j) => { out[i] = values[j]; });
  return out;
}
