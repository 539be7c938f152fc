import { Rng } from '../core/rng.js';
import { prepareData } from '../data/prepare.js';
import type { MlpOptions } from '../layers/model.js';
import { count, seriesTraces, type Chart, type Report, type Series } from '../report/html.js';
import {
  aggregate, barsNote, checkDepths, checkDepthsFit, denseOfEqualParams, fit, keptRuns, pm, reportMeta, resumeFrom, settingsWith, statSeries, stopRequested,
  type AggRow, type DepthDefaults, type EpochDefaults, type ExperimentOptions, type ExperimentResult, type ExperimentRun, type TrainSettings,
} from './common.js';

/**
 * Experiment 1 (issue 4): how much of a random labelling each model can store,
 * against depth k, at fixed inference compute. The task (DESIGN §4): N random
 * standard-normal inputs with uniform random labels; the fitted fraction is the
 * accuracy on the training set itself in inference mode (collapsed trees).
 *
 * Models: an MLP D → h → h → C whose second linear layer (h → h) is
 *   tree  — tree-gated, depth k, projection gating (fixed gaters);
 *   flat  — 2^k independent leaves, the same gating;
 *   moe   — 2^k experts, top-1 softmax router with the load-balancing loss;
 *   dense — no routing, every hidden width scaled up until the parameter
 *           count reaches the tree's at that k (the dense of equal parameters).
 * At k = 0 all four are the same dense MLP. Tree, flat and moe do one h×h
 * product per example at inference (the moe adds its router's 2^k·h); the
 * dense of equal parameters pays for its width.
 *
 * Each model trains at every learning rate of `lrs` and is reported at the one
 * that fits the most labels (mean over seeds): kinds differ in the step size
 * they tolerate (a tree's path sum moves by up to (k+1)× a node's Adam step;
 * a widened dense layer diverges early at a rate the narrow one likes), and
 * one shared rate would measure the rate, not the capacity. Every rate's runs
 * are in the JSON.
 */
/** The tree depths k a run trains where it is not given them (ExperimentOptions.depths, --depths): the full run's, quick mode's. */
export const MEMORIZATION_DEPTHS: DepthDefaults = { full: [0, 1, 2, 3, 4, 5, 6, 7, 8], quick: [0, 2, 4, 6, 8] };

/** The epochs each model trains where none are given (ExperimentOptions.epochs, --epochs): the full run's, quick mode's. */
export const MEMORIZATION_EPOCHS: EpochDefaults = { full: 30, quick: 20 };

// (depths: checked by checkDepths once the override is applied)
function memorizationSettings(quick: boolean, depths = quick ? MEMORIZATION_DEPTHS.quick : MEMORIZATION_DEPTHS.full) {
  return quick
    ? { examples: 4000, inputSize: 32, classes: 10, hidden: 64, depths, lrs: [1e-3, 3e-3], train: { epochs: MEMORIZATION_EPOCHS.quick, batchSize: 64 } }
    : { examples: 12000, inputSize: 32, classes: 10, hidden: 64, depths, lrs: [1e-3, 3e-3], train: { epochs: MEMORIZATION_EPOCHS.full, batchSize: 64 } };
}

/** The routed model of a kind at depth k (the dense one is widened to the tree's parameters: denseOfEqualParams). */
function routedMlp(s: MemorizationSettings, k: number, kind: Exclude<(typeof MEMORIZATION_KINDS)[number], 'dense'>): MlpOptions {
  return { inputSize: s.inputSize, numClasses: s.classes, hidden: [s.hidden, s.hidden], treeLayers: [2], depth: k, gating: 'projection', routed: kind };
}

type MemorizationSettings = ReturnType<typeof memorizationSettings>;

export const MEMORIZATION_KINDS = ['tree', 'flat', 'moe', 'dense'] as const;

/**
 * Runs experiment 1 (how much of a random labelling tree, flat, moe and dense store against depth) over `seeds`;
 * `treegate experiment memorization` calls it and writes what it returns (completeResult) to results.json.
 */
export async function runMemorization(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(memorizationSettings(o.quick, o.depths), o, 'memorization', seeds);
  s.depths = checkDepths('memorization', s.depths, 'the depth-0 model is its report\'s "dense, equal compute (k = 0)" line, the baseline of each depth');
  // (the dense model of equal parameters holds the tree's count: the largest is the tree, or the mixture at k = 0)
  checkDepthsFit('memorization', s.depths, (k) => (['tree', 'flat', 'moe'] as const).map((kind) => routedMlp(s, k, kind)));
  const settings = {
    ...s, model: `MLP ${s.inputSize} → ${s.hidden} → ${s.hidden} → ${s.classes}, layer 2 routed; adam, cosine schedule`, gating: 'projection (fixed)',
  };
  const { runs, completed } = resumeFrom(o, 'memorization', settings);
  const perSeed = s.depths.length * MEMORIZATION_KINDS.length * s.lrs.length, total = seeds.length * perSeed;
  let done = completed.length * perSeed;
  seeds: for (const seed of seeds) {
    if (completed.includes(seed)) continue;
    // one random labelling per seed, shared by every model of that seed
    const data = prepareData({ dataset: 'memorization', memorization: { examples: s.examples, inputSize: s.inputSize, classes: s.classes } },
      new Rng(1_000_000 + seed));
    for (const k of s.depths) {
      let treeParams = 0;
      for (const kind of MEMORIZATION_KINDS) for (const lr of s.lrs) {
        if (await stopRequested(o)) break seeds;
        o.progress(done++, total, `seed ${seed} k=${k} ${kind} lr ${lr}`);
        const mlp: MlpOptions = kind === 'dense' ? denseOfEqualParams(routedMlp(s, k, 'tree'), treeParams) : routedMlp(s, k, kind);
        const train: TrainSettings = { ...s.train, lr };
        const r = fit(mlp, data, train, seed);
        if (kind === 'tree') treeParams = r.parameters;
        runs.push({
          seed, k, kind, lr, hidden: mlp.hidden.join(','), parameters: r.parameters, macsInference: r.macsInference, macsTraining: r.macsTraining,
          fitted: r.trainAccuracy, trainUsPerExample: r.trainUsPerExample, inferUsPerExample: r.inferUsPerExample,
          balance: r.trees[0]?.balance ?? null, deadLeaves: r.trees[0]?.deadLeaves ?? null,
        });
        o.log(`memorization seed ${seed} k=${k} ${kind} lr ${lr}: fitted ${(r.trainAccuracy * 100).toFixed(2)}%, ${r.parameters} parameters`);
      }
    }
    completed.push(seed);
  }
  o.progress(done, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  const all = aggregate(kept.runs, ['kind', 'k', 'lr'], ['fitted', 'parameters', 'macsInference', 'trainUsPerExample', 'inferUsPerExample', 'balance', 'deadLeaves']);
  // per kind and depth, the learning rate with the highest mean fitted fraction (ties: the first in lrs)
  // (none where no seed completed)
  const agg = MEMORIZATION_KINDS.flatMap((kind) => s.depths.flatMap((k) => all.filter((a) => a.kind === kind && Number(a.k) === k)
    .reduce<AggRow[]>((best, a) => (best.length === 0 || a.stats.fitted.mean > best[0].stats.fitted.mean ? [a] : best), [])));
  const result = {
    experiment: 'memorization', quick: o.quick, ...kept, settings, aggregate: all, best: agg,
  };
  return result;
}

/** The report of a memorization run's results (as the run wrote them, or read back from its results.json). */
export function memorizationReport(r: ExperimentResult): Report {
  const s = r.settings as ReturnType<typeof memorizationSettings> & { model: string };
  const agg = r.best ?? [];
  const series = (metric: string, x: 'k' | 'parameters', bars: 'std' | 'range'): Series[] => {
    const lines = MEMORIZATION_KINDS.map((kind) => ({
      name: kind === 'dense' ? 'dense, equal parameters' : kind,
      ...statSeries(agg.filter((a) => a.kind === kind).sort((a, b) => Number(a.k) - Number(b.k)), x === 'k' ? (a) => Number(a.k) : (a) => a.stats.parameters.mean, metric, bars),
    }));
    // the dense MLP of equal inference compute is the k = 0 model, whatever k
    const d0 = agg.find((a) => a.kind === 'dense' && Number(a.k) === 0);
    if (x === 'k' && d0) lines.push({ name: 'dense, equal compute (k = 0)', ...statSeries(s.depths.map(() => d0), (_, i) => s.depths[i], metric, bars) });
    return lines;
  };
  const stdNote = barsNote(r, 'std'), rangeNote = barsNote(r, 'range');
  // the times are each model's wall time once, beside whatever else the process did (its first model's warm-up)
  const roughNote = (what: string) => `Each model's wall time for ${what}, measured once: rough costs, which a few milliseconds of ` +
    'garbage collection or compilation can move severalfold; `treegate experiment speed` times layers with medians of interleaved repeats.';
  const charts: Chart[] = [
    { title: 'random labels fitted vs depth k', note: stdNote, xTitle: 'depth k', yTitle: 'fitted fraction', traces: seriesTraces(series('fitted', 'k', 'std')) },
    { title: 'fitted fraction vs parameters', note: stdNote, xTitle: 'parameters', yTitle: 'fitted fraction', xLog: true, traces: seriesTraces(series('fitted', 'parameters', 'std')) },
    { title: 'inference time per example vs parameters', note: `${rangeNote} ${roughNote('one pass over the examples')}`, xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: seriesTraces(series('inferUsPerExample', 'parameters', 'range')) },
    { title: 'training time per example vs parameters', note: `${rangeNote} ${roughNote('its epochs, validation passes included')}`, xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: seriesTraces(series('trainUsPerExample', 'parameters', 'range')) },
  ];
  return {
    title: 'treegate experiment: memorization', meta: reportMeta(r),
    sections: [{
      heading: 'Fitted fraction of random labels at fixed inference compute',
      text: [`${s.examples} random inputs of width ${s.inputSize} with ${s.classes} random classes; ${s.model}; ${s.train.epochs} epochs, batch ${s.train.batchSize}; ` +
        `each model at the best of the learning rates ${s.lrs.join(', ')} (the lr column; every rate's runs are in results.json). ` +
        'Tree, flat and moe do one hidden×hidden product per example at inference; "dense, equal parameters" is widened to the tree\'s parameter count.'],
      tables: [{
        columns: ['kind', 'k', 'lr', 'parameters', 'MACs/example (inference)', 'fitted fraction', 'train µs/example', 'infer µs/example', 'balance'],
        rows: agg.map((a) => [String(a.kind), Number(a.k), Number(a.lr), count(a.stats.parameters.mean), count(a.stats.macsInference.mean), pm(a.stats.fitted),
          a.stats.trainUsPerExample.mean.toFixed(1), a.stats.inferUsPerExample.mean.toFixed(2),
          Number.isFinite(a.stats.balance.mean) ? a.stats.balance.mean.toFixed(3) : '–']),
      }],
      charts,
    }],
  };
}
