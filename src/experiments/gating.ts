import { Rng } from '../core/rng.js';
import { prepareData, type CsvSource } from '../data/prepare.js';
import type { MlpOptions } from '../layers/model.js';
import type { TreeStats } from '../layers/model.js';
import { extent, seriesTraces, type Chart, type Report, type Series } from '../report/html.js';
import { countAxis, epochAxis, usageHeatmap } from '../report/training.js';
import {
  aggregate, barsNote, csvEpochs, csvNote, dataShape, epochsText, dataSources, EXPERIMENT_HIDDEN, fit, keptRuns, mlpWidths, pm, pmPercent, reportMeta, resumeFrom, settingsWith, stat, stopRequested,
  type EpochDefaults, type ExperimentOptions, type ExperimentResult, type ExperimentRun,
} from './common.js';

/**
 * Experiment 3 (issue 4): where the gating bits come from. The CLI default
 * model on MNIST (784 → 256 → 256 → 10, layer 2 a depth-4 tree) with
 *   units        — the signs of 4 hidden units of the layer below (DESIGN's default);
 *   projection   — signs of a fixed random projection G x + e;
 *   projection + straight-through — the same, G and e trained by the straight-through estimator.
 * Reported: test accuracy, and balance and dead leaves after every epoch (on the validation set).
 * With `data` (--csv) it runs on that file in place of MNIST, the model's input
 * and output widths the file's.
 */
/** The epochs of a run on MNIST (on a CSV file: at least these, csvEpochs), where none are given (ExperimentOptions.epochs, --epochs). */
export const GATING_EPOCHS: EpochDefaults = { full: 5, quick: 3 };

function gatingSettings(quick: boolean) {
  return quick
    ? { limit: 10000, depth: 4, train: { epochs: GATING_EPOCHS.quick, batchSize: 64, lr: 1e-3 } }
    : { limit: undefined, depth: 4, train: { epochs: GATING_EPOCHS.full, batchSize: 64, lr: 1e-3 } };
}

/** A y range that shows differences between accuracies (from 0 they would vanish), bars included: hence dots, not bars. */
function accuracyRange(means: number[], stds: number[]): [number, number] {
  const [lo, hi] = extent(means.flatMap((m, i) => [m - (stds[i] || 0), m + (stds[i] || 0)]));
  const pad = Math.max(0.005, (hi - lo) * 0.25);
  return [Math.max(0, lo - pad), Math.min(1, hi + pad)];
}

export const GATING_VARIANTS = [
  { name: 'units', gating: 'units' as const, straightThrough: false },
  { name: 'projection', gating: 'projection' as const, straightThrough: false },
  { name: 'projection + straight-through', gating: 'projection' as const, straightThrough: true },
];

/**
 * Runs experiment 3 (where the gating bits come from: units, projection, projection + straight-through) over
 * `seeds`; `treegate experiment gating` calls it and writes what it returns (completeResult) to results.json.
 */
export async function runGating(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(gatingSettings(o.quick), o, 'gating', seeds);
  const [source] = dataSources(o, ['mnist']);
  const shape = dataShape(source, s.limit, o.warn ?? o.log);
  if (shape.trainExamples !== undefined) csvEpochs('gating', s, o, shape.trainExamples, GATING_EPOCHS);
  const settings = { ...s, ...(o.data ? { data: o.data } : {}), model: `${mlpWidths(shape)}, layer 2 a depth-${s.depth} tree; adam, cosine schedule` };
  const { runs, completed } = resumeFrom(o, 'gating', settings);
  // the first seed's leaf usage after each epoch, per variant, for the heatmaps (a resumed run's first seed is done)
  const usage: Record<string, Array<{ epoch: number; stats: TreeStats }>> = { ...o.resume?.usage };
  const total = seeds.length * GATING_VARIANTS.length;
  let done = completed.length * GATING_VARIANTS.length;
  seeds: for (const seed of seeds) {
    if (completed.includes(seed)) continue;
    const data = prepareData({ ...source.prepare, limit: s.limit }, new Rng(1_000_000 + seed));
    for (const v of GATING_VARIANTS) {
      if (await stopRequested(o)) break seeds;
      o.progress(done++, total, `seed ${seed} ${v.name}`);
      const mlp: MlpOptions = {
        inputSize: data.inputSize, numClasses: data.numClasses, hidden: EXPERIMENT_HIDDEN, treeLayers: [2], depth: s.depth, gating: v.gating, straightThrough: v.straightThrough,
      };
      const r = fit(mlp, data, s.train, seed);
      if (seed === seeds[0]) usage[v.name] = r.history.map((e) => ({ epoch: e.epoch, stats: e.trees[0] }));
      const last = r.history[r.history.length - 1].trees[0];
      runs.push({
        seed, gating: v.name, testAccuracy: r.testAccuracy, balance: last.balance, deadLeaves: last.deadLeaves,
        balanceByEpoch: r.history.map((e) => e.trees[0].balance.toFixed(4)).join(' '),
        deadByEpoch: r.history.map((e) => e.trees[0].deadLeaves).join(' '),
      });
      o.log(`gating ${source.name} seed ${seed} ${v.name}: test ${(r.testAccuracy * 100).toFixed(2)}%, balance ${last.balance.toFixed(3)}, dead ${last.deadLeaves}`);
    }
    completed.push(seed);
  }
  o.progress(total, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  const agg = aggregate(kept.runs, ['gating'], ['testAccuracy', 'balance', 'deadLeaves']);
  const result = {
    experiment: 'gating', quick: o.quick, ...kept, settings, aggregate: agg, usage, ...(shape.splits ? { splits: shape.splits } : {}),
  };
  return result;
}

/** The report of a gating run's results (as the run wrote them, or read back from its results.json). */
export function gatingReport(r: ExperimentResult): Report {
  const s = r.settings as ReturnType<typeof gatingSettings> & { data?: CsvSource; model: string };
  const agg = r.aggregate;
  // per variant, each seed's value after every epoch (the runs' space-separated columns, checked on reading):
  // the mean, with bars from the lowest to the highest seed (± std would cross a balance of 1 or a whole count)
  const overEpochs = (column: 'balanceByEpoch' | 'deadByEpoch'): Series[] => GATING_VARIANTS.map((v) => {
    const perSeed = r.runs.filter((run) => run.gating === v.name).map((run) => String(run[column]).split(' ').map(Number));
    const stats = (perSeed[0] ?? []).map((_, i) => stat(perSeed.map((e) => e[i])));
    return { name: v.name, x: stats.map((_, i) => i + 1), y: stats.map((t) => t.mean), lo: stats.map((t) => t.min), hi: stats.map((t) => t.max) };
  });
  const usage = r.usage ?? {};
  const heatmaps = GATING_VARIANTS.filter((v) => usage[v.name]?.length);
  const xaxis = epochAxis(s.train.epochs);
  const dead = overEpochs('deadByEpoch');
  const charts: Chart[] = [
    { title: 'balance after each epoch', note: `On the validation set. ${barsNote(r, 'range')}`, xTitle: 'epoch', yTitle: 'balance', traces: seriesTraces(overEpochs('balanceByEpoch')), layout: { xaxis } },
    // as the training report's: the y axis starts below zero, so that a variant with no dead leaf is not hidden in it
    { title: 'dead leaves after each epoch', note: `Leaves no validation example reached. ${barsNote(r, 'range')}`, xTitle: 'epoch', yTitle: `dead leaves (of ${2 ** s.depth})`, traces: seriesTraces(dead),
      layout: { xaxis, yaxis: countAxis(Math.max(...dead.flatMap((d) => d.hi ?? d.y)), `dead leaves (of ${2 ** s.depth})`) } },
    {
      title: 'test accuracy', note: barsNote(r, 'std'), xTitle: 'gating', yTitle: 'test accuracy',
      layout: { yaxis: { title: { text: 'test accuracy' }, tickformat: '.1~%', automargin: true, range: accuracyRange(agg.map((a) => a.stats.testAccuracy.mean), agg.map((a) => a.stats.testAccuracy.std)) } },
      // dots on a range around the values: a bar's length would claim a ratio the truncated axis does not have
      traces: [{ type: 'scatter', mode: 'markers', marker: { size: 12 }, x: agg.map((a) => String(a.gating)), y: agg.map((a) => a.stats.testAccuracy.mean),
        error_y: { type: 'data', array: agg.map((a) => a.stats.testAccuracy.std), visible: true } }],
    },
    // each its own colour scale: one shared with a collapsed tree's (a leaf taking 0.9) leaves the others' spread unseen
    ...heatmaps.map((v) => usageHeatmap(`leaf usage, ${v.name} (seed ${r.seeds[0]})`, usage[v.name],
      'The share of the validation examples each leaf received after each epoch; each variant\'s chart has a colour scale of its own, up to its largest share (the colour bar); grey: a leaf not used at all.')),
  ];
  return {
    title: 'treegate experiment: gating', meta: reportMeta(r),
    sections: [{
      heading: 'Gating source: balance, dead leaves and accuracy',
      text: [`${s.model}; ${epochsText(s.train, r.splits)}. ${s.data ? csvNote(s.data, s.limit, r.splits) : s.limit ? `First ${s.limit} MNIST training and test examples (quick mode).` : 'Full MNIST.'} ` +
        'Balance is the entropy of leaf usage over the validation set divided by k·ln 2.' +
        (heatmaps.length === 0 ? ' This results.json predates the leaf usage runs now record: no heatmaps.' : '')],
      tables: [{
        columns: ['gating', 'test accuracy', 'balance (last epoch)', 'dead leaves (last epoch)'],
        rows: agg.map((a) => [String(a.gating), pmPercent(a.stats.testAccuracy), pm(a.stats.balance, 3), pm(a.stats.deadLeaves, 1)]),
      }],
      charts,
    }],
  };
}
