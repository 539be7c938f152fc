import { Rng } from '../core/rng.js';
import { prepareData, type CsvSource } from '../data/prepare.js';
import type { MlpOptions } from '../layers/model.js';
import { extent, seriesTraces, type Chart, type Report, type Series } from '../report/html.js';
import { countAxis, epochAxis, shownEpoch, usageHeatmap } from '../report/training.js';
import {
  aggregate, barsNote, checkDepths, checkDepthsFit, csvEpochs, csvNote, dataShape, epochsText, dataSources, EXPERIMENT_HIDDEN, fit, keptRuns, mlpWidths, pm, pmPercent, reportMeta,
  resumeFrom, settingsWith, stat, statSeries, stopRequested, type DepthDefaults, type DepthRange, type EpochDefaults, type ExperimentOptions, type ExperimentResult, type ExperimentRun,
} from './common.js';

/**
 * Experiment 3 (issue 4): where the gating bits come from. The CLI default
 * model on MNIST (784 → 256 → 256 → 10, layer 2 a depth-k tree, k = 4 unless
 * --depths gives others) with
 *   units        — the signs of k hidden units of the layer below (DESIGN's default);
 *   projection   — signs of a fixed random projection G x + e;
 *   projection + straight-through — the same, G and e trained by the straight-through estimator.
 * Reported per depth: test accuracy, and balance and dead leaves after every epoch (on the validation set).
 * With `data` (--csv) it runs on that file in place of MNIST, the model's input
 * and output widths the file's.
 */
/** The epochs of a run on MNIST (on a CSV file: at least these, csvEpochs), where none are given (ExperimentOptions.epochs, --epochs). */
export const GATING_EPOCHS: EpochDefaults = { full: 5, quick: 3 };

/** The tree depths k a run trains where it is not given them (ExperimentOptions.depths, --depths): one, in quick mode too. */
export const GATING_DEPTHS: DepthDefaults = { full: [4], quick: [4] };

/**
 * The depths gating runs, narrower than the layers' [0, MAX_DEPTH]: a depth-0 tree has no bits to take from anywhere,
 * and each depth's results record the first seed's leaf usage after every epoch (of a run of more than
 * USAGE_EPOCHS, every few: about USAGE_EPOCHS at most), 2^k counts per variant and epoch, which its report draws as
 * heatmaps of 2^k columns: 1 024 at most.
 */
/** The most epochs whose leaf usage a gating run records per depth and variant (the heatmaps' rows). */
export const USAGE_EPOCHS = 100;

/**
 * The epochs whose leaf usage is recorded: every one up to USAGE_EPOCHS, else every few, with the first and the last
 * (as `treegate train` prints its epoch lines), so that `--epochs 1000` at depth 10 does not write 3M counts a depth.
 */
export function usageEpochs<E extends { epoch: number }>(history: readonly E[]): E[] {
  return history.filter((e) => shownEpoch(e.epoch, history.length, USAGE_EPOCHS));
}

export const GATING_DEPTH_RANGE: DepthRange = {
  min: 1, max: 10, why: 'a depth-0 tree has no gating bits; results record each leaf\'s usage after every epoch, 2^k counts, drawn as heatmaps',
};

// (depths: checked by checkDepths once the override is applied)
function gatingSettings(quick: boolean, depths = quick ? GATING_DEPTHS.quick : GATING_DEPTHS.full) {
  return quick
    ? { limit: 10000, depths, train: { epochs: GATING_EPOCHS.quick, batchSize: 64, lr: 1e-3 } }
    : { limit: undefined, depths, train: { epochs: GATING_EPOCHS.full, batchSize: 64, lr: 1e-3 } };
}

/**
 * The settings' model in words: one depth's as results of before --depths wrote it (their --resume compares it), "layer
 * 2 a depth-4 tree"; several, "layer 2 a depth-k tree (k = 2, 4)".
 */
function modelText(shape: { inputSize: number; numClasses: number }, depths: readonly number[]): string {
  return `${mlpWidths(shape)}, layer 2 ${depths.length === 1 ? `a depth-${depths[0]} tree` : `a depth-k tree (k = ${depths.join(', ')})`}; adam, cosine schedule`;
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

/** A variant's MLP at depth k on data of `shape`. */
function variantMlp(shape: { inputSize: number; numClasses: number }, k: number, v: (typeof GATING_VARIANTS)[number]): MlpOptions {
  return { inputSize: shape.inputSize, numClasses: shape.numClasses, hidden: EXPERIMENT_HIDDEN, treeLayers: [2], depth: k, gating: v.gating, straightThrough: v.straightThrough };
}

/**
 * Runs experiment 3 (where the gating bits come from: units, projection, projection + straight-through) at each of
 * its depths over `seeds`; `treegate experiment gating` calls it and writes what it returns (completeResult) to
 * results.json.
 */
export async function runGating(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(gatingSettings(o.quick, o.depths), o, 'gating', seeds);
  s.depths = checkDepths('gating', s.depths, undefined, GATING_DEPTH_RANGE);
  const [source] = dataSources(o, ['mnist']);
  const shape = dataShape(source, s.limit, o.warn ?? o.log);
  if (shape.trainExamples !== undefined) csvEpochs('gating', s, o, shape.trainExamples, GATING_EPOCHS);
  checkDepthsFit('gating', s.depths, (k) => GATING_VARIANTS.map((v) => variantMlp(shape, k, v)));
  const settings = { ...s, ...(o.data ? { data: o.data } : {}), model: modelText(shape, s.depths) };
  const { runs, completed } = resumeFrom(o, 'gating', settings);
  // the first seed's leaf usage after each epoch, per depth and variant, for the heatmaps (a resumed run's first seed is done)
  const usage: NonNullable<ExperimentResult['usage']> = { ...o.resume?.usage };
  const perSeed = s.depths.length * GATING_VARIANTS.length, total = seeds.length * perSeed;
  let done = completed.length * perSeed;
  seeds: for (const seed of seeds) {
    if (completed.includes(seed)) continue;
    const data = prepareData({ ...source.prepare, limit: s.limit }, new Rng(1_000_000 + seed));
    for (const k of s.depths) {
      for (const v of GATING_VARIANTS) {
        if (await stopRequested(o)) break seeds;
        o.progress(done++, total, `seed ${seed} k=${k} ${v.name}`);
        const r = fit(variantMlp(data, k, v), data, s.train, seed);
        if (seed === seeds[0]) usage[k] = { ...usage[k], [v.name]: usageEpochs(r.history).map((e) => ({ epoch: e.epoch, stats: e.trees[0] })) };
        const last = r.history[r.history.length - 1].trees[0];
        runs.push({
          seed, k, gating: v.name, testAccuracy: r.testAccuracy, balance: last.balance, deadLeaves: last.deadLeaves,
          balanceByEpoch: r.history.map((e) => e.trees[0].balance.toFixed(4)).join(' '),
          deadByEpoch: r.history.map((e) => e.trees[0].deadLeaves).join(' '),
        });
        o.log(`gating ${source.name} seed ${seed} k=${k} ${v.name}: test ${(r.testAccuracy * 100).toFixed(2)}%, balance ${last.balance.toFixed(3)}, dead ${last.deadLeaves}`);
      }
    }
    completed.push(seed);
  }
  o.progress(total, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  const agg = aggregate(kept.runs, ['k', 'gating'], ['testAccuracy', 'balance', 'deadLeaves']);
  const result = {
    experiment: 'gating', quick: o.quick, ...kept, settings, aggregate: agg, usage, ...(shape.splits ? { splits: shape.splits } : {}),
  };
  return result;
}

/** The report of a gating run's results (as the run wrote them, or read back from its results.json). */
export function gatingReport(r: ExperimentResult): Report {
  const s = r.settings as ReturnType<typeof gatingSettings> & { data?: CsvSource; model: string };
  const agg = r.aggregate, usage = r.usage ?? {};
  // a run of one depth keeps the charts' titles of before --depths (its text names the depth); of several, each says its own
  const several = s.depths.length > 1, at = (k: number) => (several ? `, k = ${k}` : '');
  // per variant, each seed's value after every epoch at depth k (the runs' space-separated columns, checked on reading):
  // the mean, with bars from the lowest to the highest seed (± std would cross a balance of 1 or a whole count)
  const overEpochs = (k: number, column: 'balanceByEpoch' | 'deadByEpoch'): Series[] => GATING_VARIANTS.map((v) => {
    const perSeed = r.runs.filter((run) => run.gating === v.name && Number(run.k) === k).map((run) => String(run[column]).split(' ').map(Number));
    const stats = (perSeed[0] ?? []).map((_, i) => stat(perSeed.map((e) => e[i])));
    return { name: v.name, x: stats.map((_, i) => i + 1), y: stats.map((t) => t.mean), lo: stats.map((t) => t.min), hi: stats.map((t) => t.max) };
  });
  const heatmaps = s.depths.flatMap((k) => GATING_VARIANTS.filter((v) => usage[k]?.[v.name]?.length).map((v) => ({ k, v })));
  const xaxis = epochAxis(s.train.epochs);
  const epochCharts = s.depths.flatMap((k): Chart[] => {
    const dead = overEpochs(k, 'deadByEpoch'), of = `dead leaves (of ${2 ** k})`;
    return [
      { title: `balance after each epoch${at(k)}`, note: `On the validation set. ${barsNote(r, 'range')}`, xTitle: 'epoch', yTitle: 'balance', traces: seriesTraces(overEpochs(k, 'balanceByEpoch')), layout: { xaxis } },
      // as the training report's: the y axis starts below zero, so that a variant with no dead leaf is not hidden in it
      { title: `dead leaves after each epoch${at(k)}`, note: `Leaves no validation example reached. ${barsNote(r, 'range')}`, xTitle: 'epoch', yTitle: of, traces: seriesTraces(dead),
        layout: { xaxis, yaxis: countAxis(Math.max(...dead.flatMap((d) => d.hi ?? d.y)), of) } },
    ];
  });
  const percent = { title: { text: 'test accuracy' }, tickformat: '.1~%', automargin: true };
  // several depths: each variant's accuracy and final balance against k, the question --depths asks (does the source
  // matter more for deep trees?); one: the variants' accuracies side by side
  const byDepth = (metric: string): Series[] => GATING_VARIANTS.map((v) => ({ name: v.name, ...statSeries(agg.filter((a) => a.gating === v.name), (a) => Number(a.k), metric, 'std') }));
  const accuracyCharts: Chart[] = several
    ? [
      { title: 'test accuracy vs depth k', note: barsNote(r, 'std'), xTitle: 'depth k', yTitle: 'test accuracy', traces: seriesTraces(byDepth('testAccuracy')), layout: { yaxis: percent } },
      { title: 'balance (last epoch) vs depth k', note: `On the validation set. ${barsNote(r, 'std')}`, xTitle: 'depth k', yTitle: 'balance', traces: seriesTraces(byDepth('balance')) },
    ]
    : [{
      title: 'test accuracy', note: barsNote(r, 'std'), xTitle: 'gating', yTitle: 'test accuracy',
      layout: { yaxis: { ...percent, range: accuracyRange(agg.map((a) => a.stats.testAccuracy.mean), agg.map((a) => a.stats.testAccuracy.std)) } },
      // dots on a range around the values: a bar's length would claim a ratio the truncated axis does not have
      traces: [{ type: 'scatter', mode: 'markers', marker: { size: 12 }, x: agg.map((a) => String(a.gating)), y: agg.map((a) => a.stats.testAccuracy.mean),
        error_y: { type: 'data', array: agg.map((a) => a.stats.testAccuracy.std), visible: true } }],
    }];
  const charts: Chart[] = [
    ...epochCharts,
    ...accuracyCharts,
    // each its own colour scale: one shared with a collapsed tree's (a leaf taking 0.9) leaves the others' spread unseen
    ...heatmaps.map(({ k, v }) => usageHeatmap(`leaf usage, ${v.name} (seed ${r.seeds[0]})${at(k)}`, usage[k][v.name],
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
        columns: ['k', 'gating', 'test accuracy', 'balance (last epoch)', 'dead leaves (last epoch)'],
        rows: agg.map((a) => [Number(a.k), String(a.gating), pmPercent(a.stats.testAccuracy), pm(a.stats.balance, 3), pm(a.stats.deadLeaves, 1)]),
      }],
      charts,
    }],
  };
}
