/**
 * The training report (`treegate report RUN`, trainingReport): learning curves, the learning rate, time per epoch,
 * and each routed layer's usage (a heatmap of leaves by epoch, sorted shares, balance and dead leaves), from a run's
 * files or from a TrainedRun of the API.
 */
import { join } from 'node:path';
import { modelSummary, unusedAtRandom } from './summary.js';
import { provenanceMeta, type Provenance } from '../experiments/common.js';
import { check, checkKeys, isObject, shown } from '../core/errors.js';
import { Model, type TreeStats } from '../layers/model.js';
import type { EpochMetrics, StepInfo } from '../train/trainer.js';
import { count, extent, PALETTE, seriesTraces, type Chart, type Report, type Section } from './html.js';
import { hasUsage, isNumber, LOGGED_LEAVES, loggedStats, parseMetrics, readMetrics, readResult, StepWindows, type EpochRecord, type StepRecord } from './run-files.js';

/** The smallest of 1, 2, 5, 10, 20, 50, … that is at least `v` (at least 1): a count axis's tick step. */
function niceStep(v: number): number {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v)!;
}

/** Ticks of an axis of epochs 1…n: whole epochs, at most about a dozen labels. */
export function epochTicks(n: number): { tick0: number; dtick: number } {
  return { tick0: 1, dtick: Math.max(1, Math.ceil(n / 12)) };
}

/**
 * Whether epoch `epoch` of `epochs` is one of about `most` shown of them: every one where they are no more, else every
 * few (multiples of ⌈epochs / most⌉) with the first and the last (train's epoch lines, gating's recorded leaf usage).
 */
export function shownEpoch(epoch: number, epochs: number, most: number): boolean {
  return epoch % Math.ceil(epochs / most) === 0 || epoch === 1 || epoch === epochs;
}

/** An x axis of epochs 1…n for lines with markers: half an epoch of room either side, so that the end markers clear the frame. */
export function epochAxis(n: number): Record<string, unknown> {
  return { ...epochTicks(n), range: [0.5, n + 0.5], title: { text: 'epoch' } };
}

/**
 * A y axis of counts up to `max` (dead leaves): it starts below zero, so that a line at zero (no dead leaf) is drawn
 * above the axis, not hidden in it.
 */
export function countAxis(max: number, title: string): Record<string, unknown> {
  const m = Math.max(1, max);
  return { range: [-m / 20, m * 1.05], dtick: niceStep(m / 8), title: { text: title } };
}

/**
 * Leaf (or expert) usage per epoch of one of the layer's blocks (each its own tree) as a heatmap of shares, its colour
 * scale up to the largest share. Unused leaves are drawn in grey, apart from the rarely used.
 */
export function usageHeatmap(title: string, perEpoch: Array<{ epoch: number; stats: TreeStats }>, note?: string, block = 0): Chart {
  // null: a gap, over the grey background
  const z = perEpoch.map(({ stats }) => leafShares(stats, block).map((c) => (c > 0 ? c : null)));
  const unit = perEpoch[0]?.stats.kind === 'moe' ? 'expert' : 'leaf';
  return {
    title, xTitle: unit, yTitle: 'epoch', note,
    // whole epochs only; grey where a leaf was not used at all; no grid lines, which would run through the cells
    layout: {
      // (ticks up to the last epoch's number: a gating run of many epochs records every few)
      yaxis: { ...epochTicks(perEpoch.at(-1)?.epoch ?? perEpoch.length), title: { text: 'epoch' }, showgrid: false }, plot_bgcolor: '#bbb',
      // whole leaves: at most about 16 labels; no zero line over leaf 0's cells
      xaxis: { title: { text: unit }, tick0: 0, dtick: Math.max(1, 2 ** Math.ceil(Math.log2((z[0]?.length ?? 1) / 16))), zeroline: false, showgrid: false },
    },
    traces: [{
      type: 'heatmap', z, x: Array.from({ length: z[0]?.length ?? 0 }, (_, i) => i), y: perEpoch.map((e) => e.epoch),
      colorscale: 'Viridis', colorbar: { title: { text: 'share' } }, zmin: 0, zmax: largestShare(perEpoch, block),
      hoverongaps: false,
    }],
  };
}

/** The largest share any leaf of a block took in any epoch of a layer's usage. */
function largestShare(perEpoch: Array<{ stats: TreeStats }>, block: number): number {
  return perEpoch.reduce((m, { stats }) => leafShares(stats, block).reduce((a, c) => Math.max(a, c), m), 0);
}

/** One epoch's leaf shares of a block from the largest down (unused leaves left out), against an even spread: a layer of many leaves at a glance. */
function sortedShares(title: string, stats: TreeStats, block: number): Chart {
  const shares = leafShares(stats, block).filter((c) => c > 0).sort((a, b) => b - a);
  const [unit, units] = stats.kind === 'moe' ? ['expert', 'experts'] : ['leaf', 'leaves'], even = 1 / stats.leaves;
  return {
    title, xTitle: `${units} from the most used`, yTitle: 'share', xLog: true, yLog: true,
    note: `Each ${unit}'s share of the examples, largest first; ${stats.leaves - shares.length} of ${stats.leaves} not used at all. ` +
      `Dashed: every ${unit} at 1/${stats.leaves}.`,
    traces: [
      { type: 'scatter', mode: 'lines', name: 'share', x: shares.map((_, i) => i + 1), y: shares },
      { type: 'scatter', mode: 'lines', name: 'even spread', x: [1, stats.leaves], y: [even, even], line: { dash: 'dash', color: '#888' } },
    ],
  };
}

/**
 * Each leaf's share of the examples in one block. A block is a tree of its own (leaf 3 of one block and of another
 * have nothing in common): summed over the blocks, a leaf dead in one and used in another would look used.
 */
function leafShares(stats: TreeStats, block: number): number[] {
  const counts = stats.usage[block], total = counts.reduce((a, b) => a + b, 0) || 1;
  return counts.map((c) => c / total);
}

/**
 * A run trained through the API, as trainingReport takes it: its epochs (what train() returns as history, or a
 * Trainer's progress.history), optionally the steps its onStep callback received (all of them, in order) and the
 * trained model (its layers' parameters and multiply-adds, and their usage where counted since the last reset).
 * train()'s whole result passes too (its optimizer is not drawn; its bestEpoch, with keepBest, is the epoch whose
 * weights the model holds).
 */
export interface TrainedRun { history: EpochMetrics[]; steps?: StepInfo[]; model?: Model; title?: string; bestEpoch?: number | null }

/** At most about this many points on the step curves of a TrainedRun: its steps averaged over windows. */
const STEP_POINTS = 500;

/**
 * The report of one training run: learning curves, the learning rate, balance and dead leaves over time, leaf usage
 * heatmaps, and the layers' parameters against their multiply-adds. Given a folder, the run treegate train wrote
 * there (metrics.jsonl, and result.json once it finished); given a TrainedRun, one trained through the API.
 */
export function trainingReport(run: string | TrainedRun): Report {
  if (typeof run === 'string') return runReport(readMetrics(join(run, 'metrics.jsonl')), readResult(join(run, 'result.json')), run);
  check(isObject(run) && Array.isArray(run.history), `trainingReport takes a run's --out folder or { history, steps?, model? }, got ${shown(run)}`,
    'pass train()\'s result, or { history: trainer.progress.history }');
  // train()'s result passes as it is: its optimizer is not drawn
  const { optimizer: _, ...settings } = run as TrainedRun & { optimizer?: unknown };
  checkKeys(settings, ['history', 'steps', 'model', 'title', 'bestEpoch'], 'trained run');
  run.history.forEach((e, i) => {
    check(isObject(e) && isNumber(e.epoch) && isNumber(e.step) && Array.isArray(e.trees),
      `history[${i}] is not an epoch's metrics (EpochMetrics)`, 'pass the history train() returned, or a Trainer\'s progress.history');
  });
  check(run.steps === undefined || (Array.isArray(run.steps) && run.steps.every((s) => isObject(s) && isNumber(s.step) && isNumber(s.loss))),
    'steps must be the StepInfo objects onStep received', 'collect them with onStep: (s) => steps.push(s), or leave steps out');
  check(run.history.length > 0 || (run.steps?.length ?? 0) > 0, 'the run has no epochs and no steps to show', 'train it first');
  const epochs = run.history.map((e): EpochRecord => ({ ...e, type: 'epoch', trees: e.trees.map(loggedStats) }));
  const steps = windows(run.steps ?? []);
  if (run.model !== undefined) check(run.model instanceof Model, `model must be a Model, got ${shown(run.model)}`);
  const bestEpoch = run.bestEpoch ?? undefined;
  check(bestEpoch === undefined || run.history.some((e) => e.epoch === bestEpoch), `bestEpoch ${shown(bestEpoch)} is none of the history's epochs`,
    'pass train()\'s bestEpoch with its history, or leave it out');
  // (the figures result.json would give: the epochs, the training time, the layers, with the last epoch's balance and
  // dead leaves, the ones the charts end on: a Trainer resets the model's usage after each epoch)
  const summary = run.model ? modelSummary(run.model) : null;
  for (const l of summary?.layers ?? []) {
    const t = run.history.at(-1)?.trees.find((x) => x.layer === l.layer);
    delete l.balance;
    delete l.deadLeaves;
    if (t) Object.assign(l, { balance: t.balance, deadLeaves: t.deadLeaves });
  }
  const result = { epochs: epochs.length, seconds: epochs.at(-1)?.seconds, ...summary, ...(bestEpoch === undefined ? {} : { bestEpoch }) };
  return runReport({ steps, epochs }, result, null, run.title);
}


/**
 * The report of a treegate train run that has not finished (stopped, or still running): its curves up to its newest
 * checkpoint, from the metrics lines the checkpoint saved (`step`: the checkpoint's; metrics.jsonl comes when it finishes),
 * and what its checkpoint says of how it is trained (`header`: result.json's fields that say it).
 */
export function unfinishedRunReport(dir: string, checkpoint: string, lines: readonly string[], step: number, header: Record<string, unknown> | null = null): Report {
  const report = runReport(parseMetrics(lines, checkpoint), header, dir, `treegate training run: ${dir} (not finished)`,
    `the metrics its newest checkpoint saved, at step ${step} (${checkpoint}); treegate train --resume finishes the run`);
  return { ...report, meta: { ...report.meta, checkpoint: `${checkpoint}, step ${step}` } };
}

/** The steps of a TrainedRun in windows of at most about STEP_POINTS records, the last window closed at its last step. */
function windows(steps: StepInfo[]): StepRecord[] {
  const w = new StepWindows(Math.max(1, Math.ceil(steps.length / STEP_POINTS)));
  const out = steps.flatMap((s) => w.add(s) ?? []), tail = steps.length > 0 ? w.close(steps[steps.length - 1]) : null;
  return tail ? [...out, tail] : out;
}

/** Settings the header shows apart (the dataset, its files, the epochs and the seed) or that say where the files went. */
const SHOWN_APART = ['dataset', 'csv', 'testCsv', 'epochs', 'seed', 'out'];

/**
 * A training run's settings (result.json's) as the options of treegate train that give them, on one line:
 * `--batch-size 37 --lr 0.0123 --optimizer adam …`.
 */
function settingsLine(settings: Record<string, unknown>): string {
  const value = (v: unknown): string => Array.isArray(v) ? (v.length > 0 ? v.join(',') : 'none')
    : isObject(v) && isNumber(v.steps) ? String(v.steps) : isObject(v) && isNumber(v.minutes) ? `${v.minutes}m`
      : typeof v === 'string' && /^[\w.,:/@%+=-]+$/.test(v) ? v : JSON.stringify(v);
  return Object.entries(settings).filter(([k, v]) => !SHOWN_APART.includes(k) && v !== false && v !== undefined && v !== null)
    .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${v === true ? '' : ` ${value(v)}`}`).join(' ');
}

/**
 * trainingReport of a run's records, its result (result.json's figures, or a summary of the model), its folder (null:
 * the API's), and where a CLI run's records came from.
 */
function runReport({ steps, epochs }: { steps: StepRecord[]; epochs: EpochRecord[] }, result: Record<string, unknown> | null, dir: string | null,
  title?: string, source = 'metrics.jsonl in the run folder'): Report {
  const meta: Record<string, string> = dir === null ? {} : { folder: dir };
  if (result) {
    // the memorization task has no test set: its "test accuracy" is the fraction of the labels fitted
    const accuracy = result.dataset === 'memorization' ? 'labels fitted' : 'test accuracy';
    const shown: Record<string, (v: unknown) => string> = {
      dataset: String, csv: String, 'test csv': String, classes: (v) => (Array.isArray(v) ? `${v.slice(0, 20).join(', ')}${v.length > 20 ? `, … (${v.length})` : ''}` : String(v)), [accuracy]: (v) => `${(100 * Number(v)).toFixed(2)}%`, parameters: (v) => count(Number(v)),
      epochs: String, 'stopped after epoch': (v) => `${String(v)} (--patience)`, 'weights of epoch': (v) => `${String(v)} (the best validation accuracy, --keep-best)`, 'training time': (v) => (Number(v) < 1 ? `${(1000 * Number(v)).toFixed(0)} ms` : `${Number(v).toFixed(1)} s`),
      backend: String, backends: (v) => (Array.isArray(v) ? v.join(' then ') : String(v)), seed: String,
    };
    const key: Record<string, string> = { [accuracy]: 'testAccuracy', 'training time': 'seconds', 'test csv': 'testCsv', 'weights of epoch': 'bestEpoch', 'stopped after epoch': 'stoppedAfterEpoch' };
    for (const [name, fmt] of Object.entries(shown)) {
      const v = result[key[name] ?? name];
      if (v !== undefined && v !== null) meta[name] = fmt(v);
    }
    // how it was trained (result.json written before 2026-12-07 does not say)
    if (isObject(result.settings)) meta.settings = settingsLine(result.settings);
    if (typeof result.command === 'string') meta.command = result.command;
    if (Array.isArray(result.resumedWith)) meta['resumed with'] = result.resumedWith.join('; ');
    Object.assign(meta, provenanceMeta(result.provenance as Provenance | undefined));
    // a run resumed under other code: each treegate that trained it, from the step it took over
    if (Array.isArray(result.trainedBy)) {
      meta.treegate = (result.trainedBy as Array<Provenance & { fromStep: number }>)
        .map((t) => `${provenanceMeta(t).treegate} from step ${t.fromStep}`).join('; then ');
    }
    if (typeof result.date === 'string') meta.finished = result.date;
  }
  // a log scale where the loss spans more than a decade: a run from 2.3 to 0.05 would otherwise flatten its later
  // steps, and the gap between training and validation, on the axis's bottom tenth
  const losses = [...steps.map((s) => s.trainLoss), ...epochs.map((e) => e.trainLoss)].filter((v) => Number.isFinite(v) && v > 0);
  const [lossMin, lossMax] = extent(losses);
  const lossLog = lossMax > 10 * lossMin;
  // the finished run's test accuracy, at its last step (not the memorization task's "labels fitted", its training set)
  const testAccuracy = isNumber(result?.testAccuracy) && result?.dataset !== 'memorization' ? result.testAccuracy : null;
  // (a loop: a run logged at every step can hold more step records than a call may take arguments)
  const lastStep = [...steps, ...epochs].reduce((m, r) => Math.max(m, r.step), 0);
  // the test accuracy is of the saved model: with --keep-best, the weights of the best epoch's last step
  const kept = isNumber(result?.bestEpoch) ? epochs.find((e) => e.epoch === result.bestEpoch) : undefined;
  const testStep = kept?.step ?? lastStep;
  const api = dir === null, validated = epochs.some((e) => e.validationLoss !== null);
  const curvesNote = `training: the mean over each ${api ? 'window of steps' : 'logged window of steps (--log-every)'}, and over each epoch (at its last step)` +
    (validated ? '; validation: after each epoch' : '; no validation set') +
    // (a run logged with a --log-every of about its length logs its first and last step alone: a straight line)
    (!api && steps.length > 0 && steps.length < 5 && steps.length < lastStep
      ? `; only ${steps.length} window${steps.length > 1 ? 's' : ''} logged in ${lastStep} steps: a smaller --log-every draws the curve` : '');
  // whole steps: a run of a few steps would otherwise get ticks at 0.5, 1.5 …
  const stepAxis = lastStep < 10 ? { xaxis: { tick0: 0, dtick: 1 } } : {};
  // accuracy from a little under the epochs' lowest (the first window's few percent would squeeze them into the top
  // of the axis), the windows under it left below
  const epochAccuracies = [...epochs.flatMap((e) => [e.trainAccuracy, e.validationAccuracy ?? NaN]), testAccuracy ?? NaN].filter(Number.isFinite);
  const [accLo, accHi] = extent([...epochAccuracies, ...steps.map((s) => s.trainAccuracy).filter(Number.isFinite)]);
  const [epochLo] = extent(epochAccuracies);
  const accFrom = epochAccuracies.length > 0 ? Math.max(0, epochLo - 0.1 * (accHi - epochLo) - 0.005) : 0;
  const accRange = accFrom > accLo ? { range: [accFrom, accHi + 0.05 * (accHi - accFrom) + 0.002] } : {};
  const charts: Chart[] = [
    {
      title: 'loss', xTitle: 'step', yTitle: 'cross-entropy', yLog: lossLog, note: curvesNote, layout: stepAxis,
      traces: seriesTraces([
        { name: 'training (window)', x: steps.map((s) => s.step), y: steps.map((s) => s.trainLoss) },
        { name: 'training (epoch)', x: epochs.map((e) => e.step), y: epochs.map((e) => e.trainLoss) },
        ...(validated
          ? [{ name: 'validation', x: epochs.map((e) => e.step), y: epochs.map((e) => e.validationLoss ?? NaN) }] : []),
      ]),
    },
    {
      title: 'accuracy', xTitle: 'step', yTitle: 'accuracy',
      note: `${curvesNote}${testAccuracy === null ? '' : `; test: the trained model on the test set (result.json)${kept ? `, whose weights are those of epoch ${kept.epoch} (--keep-best)` : ''}`}` +
        `${accRange.range ? `. The axis starts under the epochs' lowest accuracy: the first windows, from ${(100 * accLo).toFixed(1)}%, lie below it` : ''}`,
      traces: seriesTraces([
        { name: 'training (window)', x: steps.map((s) => s.step), y: steps.map((s) => s.trainAccuracy) },
        { name: 'training (epoch)', x: epochs.map((e) => e.step), y: epochs.map((e) => e.trainAccuracy) },
        ...(epochs.some((e) => e.validationAccuracy !== null)
          ? [{ name: 'validation', x: epochs.map((e) => e.step), y: epochs.map((e) => e.validationAccuracy ?? NaN) }] : []),
      ]).concat(testAccuracy === null ? [] : [{ type: 'scatter', mode: 'markers', name: 'test', x: [testStep], y: [testAccuracy],
        marker: { symbol: 'star', size: 14, color: PALETTE[3] } }]),
      // in percent, as the report's header gives the test accuracy
      layout: { ...stepAxis, yaxis: { title: { text: 'accuracy' }, tickformat: '.1~%', automargin: true, ...accRange } },
    },
  ];
  // time: each epoch's seconds (its validation pass included), from the cumulative training time of the records
  const epochSeconds = epochs.map((e, i) => e.seconds - (i > 0 ? epochs[i - 1].seconds : 0));
  if (epochs.length > 0 && epochSeconds.every((v) => Number.isFinite(v) && v >= 0)) {
    const examples = isObject(result?.splits) && isNumber(result.splits.training) ? result.splits.training : null;
    const total = epochs.at(-1)!.seconds;
    charts.push({
      title: 'time per epoch', xTitle: 'epoch', yTitle: 'seconds',
      note: `Each epoch's wall time${validated ? ', its evaluation on the validation set included' : ''}; ${total.toFixed(1)} s in all` +
        (examples === null ? '.' : `, ${count(examples * epochs.length / total)} training examples a second on average${validated ? ', evaluation included' : ''} (${count(examples)} an epoch).`),
      layout: { showlegend: false, xaxis: { ...epochTicks(epochs.length), title: { text: 'epoch' } }, yaxis: { title: { text: 'seconds' }, rangemode: 'tozero' } },
      traces: [{ type: 'bar', name: 'seconds', x: epochs.map((e) => e.epoch), y: epochSeconds }],
    });
  }
  // the schedule as it ran (step records carry the rate of their last step; logs of the first format have none)
  const rated = steps.filter((s) => typeof s.lr === 'number' && Number.isFinite(s.lr));
  if (rated.length > 0) {
    charts.push({
      title: 'learning rate', xTitle: 'step', yTitle: 'learning rate', note: api ? 'The rate of the last step of each window (lr and schedule; halved after each step that onNonFinite \'skip\' dropped).'
        : 'The rate of the last step of each logged window (--lr, --schedule; halved after each step that --on-nonfinite skip dropped).',
      traces: seriesTraces([{ name: 'learning rate', x: rated.map((s) => s.step), y: rated.map((s) => s.lr) }]),
      // 0.00012 rather than Plotly's SI "120μ"; from zero, so that a schedule's shape is seen in proportion
      layout: { ...stepAxis, showlegend: false, yaxis: { title: { text: 'learning rate' }, tickformat: '~g', rangemode: 'tozero' } },
    });
  }
  const layers = [...new Set(epochs.flatMap((e) => e.trees.map((t) => t.layer)))];
  const usageText: string[] = [];
  if (layers.length > 0) {
    const per = (l: number) => epochs.flatMap((e) => e.trees.filter((t) => t.layer === l).map((stats) => ({ epoch: e.epoch, stats })));
    const over = validated ? 'on the validation set after each epoch' : 'on the training batches of each epoch';
    // the leaves no example would reach if each went to a leaf drawn at random: L·(1 − 1/L)^c per block of c counts
    const kinds = new Set(epochs.flatMap((e) => e.trees.map((t) => t.kind === 'moe')));
    const unit = kinds.size === 2 ? 'leaves or experts' : kinds.has(true) ? 'experts' : 'leaves';
    // too few examples for the leaves: the usage charts show sampling as much as routing
    const counted = layers.flatMap((l) => {
      const t = epochs.at(-1)!.trees.find((x) => x.layer === l);
      return t && hasUsage(t) ? [{ l, t, n: t.usage[0].reduce((a, b) => a + b, 0) }] : [];
    });
    const sparse = counted.filter(({ t, n }) => n < 10 * t.leaves)
      .map(({ l, t, n }) => `layer ${l}: ${count(n)} ${t.kind === 'moe' ? 'expert choices' : 'examples'} for ${count(t.leaves)} ${t.kind === 'moe' ? 'experts' : 'leaves'}`);
    // fewer than the leaves: some leaves must go unused, and the balance stays under 1
    const fewerThanLeaves = counted.some(({ t, n }) => n < t.leaves);
    if (sparse.length > 0) {
      usageText.push(`Leaf usage is counted ${over}, and there are few examples there for the leaves (${sparse.join('; ')}): ` +
        'many leaves go unused by chance alone, so the usage charts show sampling as much as routing' +
        (api ? (validated ? ' (a larger validation set counts more).' : '.')
          : ` (result.json's layer table, once the run finishes, counts the ${result?.dataset === 'memorization' ? 'training' : 'test'} set` +
            `${validated ? '; a larger --validation counts more' : ''}).`));
    }
    const maxDead = epochs.reduce((m, e) => e.trees.reduce((a, t) => Math.max(a, t.deadLeaves, hasUsage(t) ? unusedAtRandom(t) : 0), m), 1);
    // one layer's lines are named too (Plotly shows no legend for one trace), and the dead leaves counted against the
    // leaves of every block (they are summed over the blocks)
    const slots = [...new Set(epochs.flatMap((e) => e.trees.map((t) => t.leaves * t.blocks)))];
    const named = { showlegend: true, legend: { title: { text: 'routed layer' } } };
    const withUsage = (l: number) => per(l).filter((p): p is { epoch: number; stats: TreeStats } => hasUsage(p.stats));
    const last = epochs.reduce((m, e) => Math.max(m, e.epoch), 1);
    const xaxis = epochAxis(last);
    charts.push({
      title: 'balance over training', xTitle: 'epoch', yTitle: 'balance',
      note: `Balance: the entropy of leaf usage divided by ln(leaves) (1: uniform, 0: one leaf), ${over}` +
        `${fewerThanLeaves ? `; with fewer examples than leaves it cannot reach 1 (at most ln(examples) / ln(leaves))` : ''}.`,
      layout: { ...named, yaxis: { range: [0, 1.05], title: { text: 'balance' } }, xaxis },
      traces: seriesTraces(layers.map((l) => ({ name: `layer ${l}`, x: per(l).map((p) => p.epoch), y: per(l).map((p) => p.stats.balance) }))),
    });
    const dashed = layers.filter((l) => withUsage(l).length > 0);
    charts.push({
      title: `dead ${unit} over training`, xTitle: 'epoch', yTitle: `${unit} never used`,
      note: `The ${unit} no example reached, ${over} (summed over a layer's blocks)` +
        (dashed.length > 0 ? `. Dashed: as many would go unused if each example went to one drawn at random; dead ${unit} near that line come from too few examples, not from the routing.` : '.'),
      layout: { ...named, xaxis, yaxis: countAxis(maxDead, slots.length === 1 ? `${unit} never used (of ${slots[0]})` : `${unit} never used`) },
      traces: [
        ...seriesTraces(layers.map((l) => ({ name: `layer ${l}`, x: per(l).map((p) => p.epoch), y: per(l).map((p) => p.stats.deadLeaves) }))),
        // each in its layer's colour (the palette, in the order of the layers' lines); small markers, so that a run
        // of one epoch (one point, no line) shows it too
        ...dashed.map((l) => {
          const color = PALETTE[layers.indexOf(l) % PALETTE.length];
          return { type: 'scatter', mode: 'lines+markers', name: `layer ${l} at random`, x: withUsage(l).map((p) => p.epoch),
            y: withUsage(l).map((p) => unusedAtRandom(p.stats)), line: { dash: 'dash', width: 1, color }, marker: { size: 5, color } };
        }),
      ],
    });
    for (const l of layers) {
      // (a layer whose usage is left out for its size is said in the section's text; one of a single leaf, depth 0,
      // sends every example there)
      const logged = withUsage(l);
      if (logged.length === 0 || logged[0].stats.leaves === 1) continue;
      // a chart per block: each is a tree of its own
      const { kind, blocks, leaves } = logged[0].stats, leaf = kind === 'moe' ? 'expert' : 'leaf';
      for (let b = 0; b < blocks; b++) {
        const of = blocks > 1 ? `, block ${b + 1} of ${blocks}` : '';
        charts.push(usageHeatmap(`usage of layer ${l} (${kind})${of}`, logged, `The share of the examples each ${leaf} received, ${over}; grey: not used at all.`, b));
        // a heatmap of many leaves has columns too narrow to read: their shares sorted tell the spread
        if (leaves > 64) charts.push(sortedShares(`layer ${l}${of}: shares sorted, epoch ${logged.at(-1)!.epoch}`, logged.at(-1)!.stats, b));
      }
    }
  }
  const unlogged = [...new Set(epochs.flatMap((e) => e.trees.filter((t) => !hasUsage(t)).map((t) => `layer ${t.layer} (${count(t.leaves)} leaves)`)))];
  const sections: Section[] = [{
    heading: 'Training',
    text: [dir === null ? 'Measured by a Trainer; every figure comes from its history (and the steps its onStep callback received).'
      : `Measured by treegate train; every figure comes from ${source}.`,
      ...usageText,
      ...(unlogged.length > 0 ? [`No usage chart for ${unlogged.join(', ')}: ${api ? 'the report draws' : 'metrics.jsonl logs'} the usage of layers of at most ${count(LOGGED_LEAVES)} leaves.`] : [])],
    charts,
  }];
  const summary = Array.isArray(result?.layers) ? result.layers as Array<Record<string, unknown>> : [];
  if (summary.length > 0) {
    // capacity against cost, layer by layer (result.json, as train printed it)
    const cc = result?.capacityToComputation as { training?: number; inference?: number } | undefined;
    const routedKinds = new Set(summary.map((l) => l.kind).filter((k) => k !== 'dense'));
    sections.push({
      heading: 'Layers: parameters against multiply-adds',
      text: [`Parameters per multiply-add of one example: ${cc?.training?.toFixed(2) ?? '–'} in training, ${cc?.inference?.toFixed(2) ?? '–'} ` +
        `at inference${summary.some((l) => l.kind === 'tree') ? ' (a tree\'s path sums collapsed into its leaves)' : ''}.` +
        (!summary.some((l) => l.kind !== 'dense') ? '' : dir === null
          ? ` Balance and dead leaves are the last epoch's, ${validated ? 'on the validation set' : 'on its training batches'}, as the charts end.`
          : ` Balance and dead leaves are over the ${result?.dataset === 'memorization' ? 'training set (the memorization task has no other)' : 'test set'} (result.json).`)],
      tables: [{
        columns: ['layer', 'kind', 'shape', 'routing', 'parameters', 'MACs / example, training', 'MACs / example, inference', 'balance',
          `dead ${routedKinds.size === 1 && routedKinds.has('moe') ? 'experts' : routedKinds.has('moe') ? 'leaves or experts' : 'leaves'}`],
        rows: summary.map((l) => {
          const macs = l.macsPerExample as { training: number; inference: number };
          const routing = l.kind === 'moe' ? `${l.experts} experts, top-${l.topK}`
            : l.kind === 'tree' || l.kind === 'flat' ? `depth ${l.depth}${Number(l.blocks) > 1 ? `, ${l.blocks} blocks` : ''}, ${l.gating} gating` : '';
          return [String(l.layer ?? l.index), String(l.kind), `${l.inputSize}→${l.outputSize}`, routing, count(Number(l.parameters)), count(macs.training),
            count(macs.inference), typeof l.balance === 'number' ? l.balance.toFixed(3) : '', typeof l.deadLeaves === 'number' ? String(l.deadLeaves) : ''];
        }),
      }],
    });
  }
  return { title: title ?? (dir === null ? 'treegate training run' : `treegate training run: ${dir}`), meta, sections };
}

