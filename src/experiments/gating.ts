import { Rng } from '../core/rng.js';
import { prepareData } from '../data/prepare.js';
import type { MlpOptions } from '../layers/model.js';
import { seriesTraces, type Chart, type Report } from '../report/html.js';
import { epochTicks, largestShare, usageHeatmap } from '../report/training.js';
import type { EpochMetrics } from '../train/trainer.js';
import { aggregate, fit, pm, reportMeta, settingsWith, stat, type ExperimentOptions, type ExperimentResult, type Row } from './common.js';

/**
 * Experiment 3 (issue 4): where the gating bits come from. The CLI default
 * model on MNIST (784 → 256 → 256 → 10, layer 2 a depth-4 tree) with
 *   units        — the signs of 4 hidden units of the layer below (DESIGN's default);
 *   projection   — signs of a fixed random projection G x + e;
 *   projection + straight-through — the same, G and e trained by the straight-through estimator.
 * Reported: test accuracy, and balance and dead leaves after every epoch (on the validation set).
 */
export function gatingSettings(quick: boolean) {
  return quick
    ? { limit: 10000, depth: 4, train: { epochs: 3, batchSize: 64, lr: 1e-3 } }
    : { limit: undefined, depth: 4, train: { epochs: 5, batchSize: 64, lr: 1e-3 } };
}

/** A y range that shows differences between accuracies (from 0 they would vanish): hence dots, not bars. */
function accuracyRange(values: number[]): [number, number] {
  const lo = Math.min(...values), hi = Math.max(...values), pad = Math.max(0.005, (hi - lo) * 0.5);
  return [Math.max(0, lo - pad), Math.min(1, hi + pad)];
}

export const GATING_VARIANTS = [
  { name: 'units', gating: 'units' as const, straightThrough: false },
  { name: 'projection', gating: 'projection' as const, straightThrough: false },
  { name: 'projection + straight-through', gating: 'projection' as const, straightThrough: true },
];

export function runGating(o: ExperimentOptions, seeds: number[]): { result: Omit<ExperimentResult, 'command' | 'date' | 'machine'>; report: (r: ExperimentResult) => Report } {
  const s = settingsWith(gatingSettings(o.quick), o.override, 'gating');
  const runs: Row[] = [];
  const histories = new Map<string, EpochMetrics[][]>();
  const total = seeds.length * GATING_VARIANTS.length;
  let done = 0;
  for (const seed of seeds) {
    const data = prepareData({ dataset: 'mnist', limit: s.limit }, new Rng(1_000_000 + seed));
    for (const v of GATING_VARIANTS) {
      o.progress(done++, total, `seed ${seed} ${v.name}`);
      const mlp: MlpOptions = {
        inputSize: 784, numClasses: 10, hidden: [256, 256], treeLayers: [2], depth: s.depth, gating: v.gating, straightThrough: v.straightThrough,
      };
      const r = fit(mlp, data, s.train, seed);
      histories.set(v.name, [...(histories.get(v.name) ?? []), r.history]);
      const last = r.history[r.history.length - 1].trees[0];
      runs.push({
        seed, gating: v.name, testAccuracy: r.testAccuracy, balance: last.balance, deadLeaves: last.deadLeaves,
        balanceByEpoch: r.history.map((e) => e.trees[0].balance.toFixed(4)).join(' '),
        deadByEpoch: r.history.map((e) => e.trees[0].deadLeaves).join(' '),
      });
      o.log(`gating seed ${seed} ${v.name}: test ${(r.testAccuracy * 100).toFixed(2)}%, balance ${last.balance.toFixed(3)}, dead ${last.deadLeaves}`);
    }
  }
  o.progress(total, total, 'done');
  const agg = aggregate(runs, ['gating'], ['testAccuracy', 'balance', 'deadLeaves']);
  const result = {
    experiment: 'gating', quick: o.quick, seeds,
    settings: { ...s, model: `MLP 784 → 256 → 256 → 10, layer 2 a depth-${s.depth} tree; adam, cosine schedule` },
    runs, aggregate: agg,
  };
  const report = (r: ExperimentResult): Report => {
    // the first seed's per-epoch usage of the routed layer
    const usageOf = (name: string) => (histories.get(name)?.[0] ?? []).map((e) => ({ epoch: e.epoch, stats: e.trees[0] }));
    const overEpochs = (pick: (e: EpochMetrics) => number) => GATING_VARIANTS.map((v) => {
      const hs = histories.get(v.name) ?? [];
      const epochs = hs[0]?.map((e) => e.epoch) ?? [];
      const stats = epochs.map((_, i) => stat(hs.map((h) => pick(h[i]))));
      return { name: v.name, x: epochs, y: stats.map((t) => t.mean), err: stats.map((t) => t.std) };
    });
    const charts: Chart[] = [
      { title: 'balance after each epoch (mean ± std over seeds)', xTitle: 'epoch', yTitle: 'balance', traces: seriesTraces(overEpochs((e) => e.trees[0].balance)), layout: { xaxis: { ...epochTicks(s.train.epochs), title: { text: 'epoch' } } } },
      { title: 'dead leaves after each epoch', xTitle: 'epoch', yTitle: `dead leaves (of ${2 ** s.depth})`, traces: seriesTraces(overEpochs((e) => e.trees[0].deadLeaves)), layout: { xaxis: { ...epochTicks(s.train.epochs), title: { text: 'epoch' } } } },
      {
        title: 'test accuracy (mean ± std over seeds)', xTitle: 'gating', yTitle: 'test accuracy',
        layout: { yaxis: { title: { text: 'test accuracy' }, range: accuracyRange(agg.map((a) => a.stats.testAccuracy.mean)) } },
        // dots on a range around the values: a bar's length would claim a ratio the truncated axis does not have
        traces: [{ type: 'scatter', mode: 'markers', marker: { size: 12 }, x: agg.map((a) => String(a.gating)), y: agg.map((a) => a.stats.testAccuracy.mean),
          error_y: { type: 'data', array: agg.map((a) => a.stats.testAccuracy.std), visible: true } }],
      },
      ...GATING_VARIANTS.map((v, _, all) => usageHeatmap(`leaf usage, ${v.name} (seed ${seeds[0]})`, usageOf(v.name),
        'One colour scale for the three variants; grey: a leaf not used at all.', largestShare(all.map((u) => usageOf(u.name))))),
    ];
    return {
      title: 'treegate experiment: gating', meta: reportMeta(r),
      sections: [{
        heading: 'Gating source: balance, dead leaves and accuracy',
        text: [`${result.settings.model}; ${s.train.epochs} epochs. ${s.limit ? `First ${s.limit} MNIST training and test examples (quick mode).` : 'Full MNIST.'} ` +
          'Balance is the entropy of leaf usage over the validation set divided by k·ln 2.'],
        tables: [{
          columns: ['gating', 'test accuracy', 'balance (last epoch)', 'dead leaves (last epoch)'],
          rows: agg.map((a) => [String(a.gating), pm(a.stats.testAccuracy), pm(a.stats.balance, 3), pm(a.stats.deadLeaves, 1)]),
        }],
        charts,
      }],
    };
  };
  return { result, report };
}
