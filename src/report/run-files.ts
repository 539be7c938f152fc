/**
 * A training run's files as `treegate train` writes them and the report reads them back: metrics.jsonl's step
 * records (StepWindows) and epoch records (loggedStats), and the readers of metrics.jsonl and result.json, which
 * name what is malformed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isObject, TreegateError } from '../core/errors.js';
import type { TreeStats } from '../layers/model.js';
import type { EpochMetrics, StepInfo } from '../train/trainer.js';

export interface StepRecord { type: 'step'; epoch: number; step: number; lr: number; trainLoss: number; trainAccuracy: number }
export type EpochRecord = Omit<EpochMetrics, 'trees'> & { type: 'epoch'; trees: LoggedTreeStats[] };

const RUN_HINT = 'pass the --out folder of a treegate train run, with its files as train wrote them';
/** Most leaves of a routed layer: a tree of the CLI's greatest depth, 24 (a moe layer has at most as many experts). */
const MAX_LEAVES = 2 ** 24;
/**
 * Layers of at most this many leaf counts (leaves × blocks) have their usage logged in metrics.jsonl's epoch records;
 * a larger one's (a 2^24-leaf tree's 16.7 M counts an epoch) only its balance and dead leaves.
 */
export const LOGGED_LEAVES = 2 ** 16;

/** A routed layer's stats as an epoch record of metrics.jsonl holds them: usage left out past LOGGED_LEAVES counts. */
export type LoggedTreeStats = TreeStats | Omit<TreeStats, 'usage'>;

/** An epoch record's layer stats as metrics.jsonl holds them: usage left out past LOGGED_LEAVES counts (leaves × blocks). */
export function loggedStats(t: TreeStats): LoggedTreeStats {
  if (t.leaves * t.blocks <= LOGGED_LEAVES) return t;
  const { usage: _, ...rest } = t;
  return rest;
}

/** Whether a logged layer's usage is there (not left out for its size). */
export function hasUsage(t: LoggedTreeStats): t is TreeStats {
  return Array.isArray((t as { usage?: unknown }).usage);
}

/** Number checks of the readers of run files. */
export const isNumber = (v: unknown): v is number => typeof v === 'number';
const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** What is wrong with one entry of an epoch record's trees (Model.treeStats as train logs it), or null. */
export function treeStatsProblem(t: unknown): string | null {
  if (!isObject(t)) return 'is not an object';
  // logs written before the flat and moe layers: no kind and no leaves, trees of 2^depth leaves, layer an index from 0
  if (t.kind === undefined && t.leaves === undefined && isInt(t.depth, 0, 24)) Object.assign(t, { kind: 'tree', leaves: 2 ** t.depth });
  if (!isInt(t.layer, 0)) return `has layer ${JSON.stringify(t.layer)}, expected a layer number`;
  if (!['tree', 'flat', 'moe'].includes(t.kind as string)) return `has kind ${JSON.stringify(t.kind)}, expected tree, flat or moe`;
  if (!isInt(t.leaves, 1, MAX_LEAVES)) return `has ${JSON.stringify(t.leaves)} leaves, expected an integer in [1, 2^24]`;
  if (!isInt(t.blocks, 1)) return `has ${JSON.stringify(t.blocks)} blocks, expected an integer ≥ 1`;
  if (!isNumber(t.balance) || !isInt(t.deadLeaves, 0)) return 'needs a number balance and an integer deadLeaves';
  const { leaves, blocks } = t;
  if (t.usage === undefined && leaves * blocks > LOGGED_LEAVES) return null; // left out for its size
  if (!Array.isArray(t.usage) || t.usage.length !== blocks ||
    !t.usage.every((b: unknown) => Array.isArray(b) && b.length === leaves && b.every((c) => isNumber(c) && c >= 0))) {
    return `has usage that is not ${blocks} list${blocks > 1 ? 's' : ''} of ${leaves} counts (one per block and leaf)`;
  }
  return null;
}

/** Reads a run's metrics.jsonl: step and epoch records; a malformed line is an error naming it. */
export function readMetrics(path: string): { steps: StepRecord[]; epochs: EpochRecord[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TreegateError(`cannot read ${path}: ${(e as Error).message}`, 'pass the --out folder of a treegate train run');
  }
  return parseMetrics(text.split('\n'), path);
}

/** The step and epoch records of metrics.jsonl's lines (the file's, or those a checkpoint saved), `path` naming where they are from. */
export function parseMetrics(lines: readonly string[], path: string): { steps: StepRecord[]; epochs: EpochRecord[] } {
  const steps: StepRecord[] = [], epochs: EpochRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new TreegateError(`${path}:${i + 1}: not a JSON line`, 'metrics.jsonl holds one JSON object a line, as treegate train writes it: pass the --out folder of a train run');
    }
    const rec = isObject(r) ? r : {};
    const orNull = (v: unknown) => v === null || v === undefined || isNumber(v);
    // an epoch whose every step was skipped (--on-nonfinite skip) has no training figures: null, read as NaN (no point)
    const common = isNumber(rec.step) && 'trainLoss' in rec && orNull(rec.trainLoss) && orNull(rec.trainAccuracy);
    if (common) {
      rec.trainLoss ??= NaN;
      rec.trainAccuracy ??= NaN;
    }
    // records written before step logging had no type: they are epoch records
    if (rec.type === 'step' && common && isNumber(rec.epoch) && isNumber(rec.lr)) steps.push(rec as unknown as StepRecord);
    else if ((rec.type === 'epoch' || rec.type === undefined) && common && isNumber(rec.epoch) && Array.isArray(rec.trees) &&
      orNull(rec.validationLoss) && orNull(rec.validationAccuracy)) {
      rec.trees.forEach((t: unknown, k: number) => {
        const problem = treeStatsProblem(t);
        if (problem) throw new TreegateError(`${path}:${i + 1}: trees[${k}] ${problem}`, RUN_HINT);
      });
      epochs.push({ ...(rec as unknown as EpochRecord), type: 'epoch' });
    } else throw new TreegateError(`${path}:${i + 1}: not a step or epoch record of treegate train`, RUN_HINT);
  });
  if (epochs.length === 0 && steps.length === 0) throw new TreegateError(`${path}: no records`, 'the run may have stopped before its first log line');
  return { steps, epochs };
}

/**
 * Reads a run's result.json (null where there is none: the run has not finished). It must be the JSON object
 * train writes, with the layer summaries (LayerSummary) the report shows; anything else is an error naming it.
 */
export function readResult(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  const hint = 'train writes it when a run finishes; move a damaged one away to render the report without it';
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TreegateError(`${path}: ${e instanceof SyntaxError ? `not valid JSON (${e.message})` : `cannot read it: ${(e as Error).message}`}`, hint);
  }
  if (!isObject(r)) throw new TreegateError(`${path}: not a JSON object`, hint);
  // how the run was trained, by what and when (result.json written before 2026-12-07 lacks these)
  if (r.settings !== undefined && !isObject(r.settings)) throw new TreegateError(`${path}: settings is not an object`, hint);
  if (r.command !== undefined && typeof r.command !== 'string') throw new TreegateError(`${path}: command is not a string`, hint);
  if (r.resumedWith !== undefined && !(Array.isArray(r.resumedWith) && r.resumedWith.every((c) => typeof c === 'string'))) {
    throw new TreegateError(`${path}: resumedWith is not a list of commands (strings)`, hint);
  }
  const pv = r.provenance;
  if (pv !== undefined && !(isObject(pv) && typeof pv.treegate === 'string' && ['commit', 'code', 'mnist'].every((f) => pv[f] === undefined || typeof pv[f] === 'string'))) {
    throw new TreegateError(`${path}: provenance is not { treegate, commit?, code?, mnist? } (strings)`, hint);
  }
  const tb = r.trainedBy;
  if (tb !== undefined && !(Array.isArray(tb) && tb.every((t) => isObject(t) && typeof t.treegate === 'string' && isNumber(t.fromStep)
    && ['commit', 'code'].every((f) => t[f] === undefined || typeof t[f] === 'string')))) {
    throw new TreegateError(`${path}: trainedBy is not a list of { treegate, commit?, code?, fromStep }`, hint);
  }
  if (r.date !== undefined && typeof r.date !== 'string') throw new TreegateError(`${path}: date is not a string`, hint);
  const cc = r.capacityToComputation;
  if (cc !== undefined && !(isObject(cc) && [cc.training, cc.inference].every((v) => v === undefined || isNumber(v)))) {
    throw new TreegateError(`${path}: capacityToComputation is not an object of numbers`, hint);
  }
  if (r.layers !== undefined) {
    if (!Array.isArray(r.layers)) throw new TreegateError(`${path}: layers is not a list`, hint);
    r.layers.forEach((l: unknown, k: number) => {
      const macs = isObject(l) ? l.macsPerExample : undefined;
      if (!isObject(macs) || !isNumber(macs.training) || !isNumber(macs.inference)) {
        throw new TreegateError(`${path}: layers[${k}] is not a layer summary (needs macsPerExample with numbers training and inference)`, hint);
      }
    });
  }
  return r;
}

/** `treegate train`'s step window where --log-every is not given: the run's steps / 20, rounded up, at most 50 (a short run's curve has 20 points). */
export function defaultLogEvery(totalSteps: number): number {
  return Math.max(1, Math.min(50, Math.ceil(totalSteps / 20)));
}

/**
 * Training steps averaged over windows, as metrics.jsonl's step records: a record for the first step alone (the curves
 * and the schedule from their start), then every `every` steps and at the run's last, each the mean over its window's
 * steps (those onNonFinite 'skip' dropped left out; none where every one was) with the rate of its last step.
 * `open` is the window not yet written, which a checkpoint keeps so that a resumed run logs the same records.
 */
export class StepWindows {
  readonly open: { loss: number; acc: number; steps: number };

  constructor(readonly every: number, open?: { loss: number; acc: number; steps: number }) {
    this.open = { loss: 0, acc: 0, steps: 0, ...open };
  }

  /** Adds a step; returns the record of the window it closes, if it closes one. */
  add(s: StepInfo): StepRecord | null {
    const w = this.open;
    if (!s.skipped) {
      w.loss += s.loss;
      w.acc += s.accuracy;
      w.steps++;
    }
    return s.step === 1 || s.step % this.every === 0 || s.step === s.totalSteps ? this.close(s) : null;
  }

  /** The record of the open window, ending at step `s` (null where it holds no step), and a new window. */
  close(s: StepInfo): StepRecord | null {
    const w = this.open;
    if (w.steps === 0) return null;
    const r: StepRecord = { type: 'step', epoch: s.epoch, step: s.step, lr: s.lr, trainLoss: w.loss / w.steps, trainAccuracy: w.acc / w.steps };
    w.loss = w.acc = w.steps = 0;
    return r;
  }
}
