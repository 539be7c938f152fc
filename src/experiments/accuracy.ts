import { Rng } from '../core/rng.js';
import { prepareData, type CsvSource, type PreparedData } from '../data/prepare.js';
import { denseOfEqualParams, parameterCount } from '../layers/equal-params.js';
import type { MlpOptions } from '../layers/model.js';
import { count, horizontalLine, seriesTraces, type Chart, type Report, type Series, type Trace } from '../report/html.js';
import {
  aggregate, barsNote, checkDepths, checkDepthsFit, csvEpochs, csvNote, dataShape, epochsText, dataSources, EXPERIMENT_HIDDEN, fit, keptRuns, mlpWidths, pmPercent, reportMeta, resumeFrom,
  settingsWith, statSeries, stopRequested, type AggRow, type DepthDefaults, type EpochDefaults, type ExperimentOptions, type ExperimentResult, type ExperimentRun,
} from './common.js';

/**
 * Experiment 2 (issue 4): held-out accuracy on MNIST and Fashion-MNIST against
 * depth k at fixed inference compute, tree vs flat — the overfitting the tree's
 * sharing is meant to control — with depth-scaled weight decay λ·γ^d, γ = 1
 * and γ = 2. Model: the CLI default MLP 784 → 256 → 256 → 10 with layer 2
 * routed (projection gating, fixed gaters); adam at the CLI's rate (tuned for
 * the tree), cosine schedule, decoupled weight decay λ = 0.1 for every variant
 * (flat leaves are decayed by λ); flat also at 3× the rate, which suits it
 * better, so that the comparison is not decided by the rate. Beside them, at
 * each depth, DESIGN §3's other baselines: a mixture of 2^k experts with a
 * top-1 router and the load-balancing loss (equal active compute, its router's
 * 2^k·h besides), and the dense MLP of equal parameters (both hidden widths
 * scaled until it holds the tree's parameters, so it pays for them in
 * compute), which says whether the tree's extra parameters buy what the same
 * parameters would buy a dense network.
 * The full run stops at k = 6 (--depths chooses others): at k = 8 a run takes
 * minutes (batches of 64 spread over 256 leaves make the deep nodes' products
 * bandwidth-bound).
 * With `data` (--csv) it runs on that file in place of the two datasets, the
 * model's input and output widths the file's; with `gating: 'units'` (--gating)
 * its routed layer takes its bits from hidden units of the layer below.
 */
/** The tree depths k a run trains where it is not given them (ExperimentOptions.depths, --depths): the full run's, quick mode's. */
export const ACCURACY_DEPTHS: DepthDefaults = { full: [0, 2, 4, 6], quick: [0, 3, 6] };

/** The epochs of a run on MNIST (on a CSV file: at least these, csvEpochs), where none are given (ExperimentOptions.epochs, --epochs). */
export const ACCURACY_EPOCHS: EpochDefaults = { full: 3, quick: 2 };

// (depths: checked by checkDepths once the override is applied)
function accuracySettings(quick: boolean, depths = quick ? ACCURACY_DEPTHS.quick : ACCURACY_DEPTHS.full) {
  return quick
    ? { datasets: ['mnist', 'fashion-mnist'] as const, limit: 10000, depths, train: { epochs: ACCURACY_EPOCHS.quick, batchSize: 64, lr: 1e-3, weightDecay: 0.1 } }
    : { datasets: ['mnist', 'fashion-mnist'] as const, limit: undefined, depths, train: { epochs: ACCURACY_EPOCHS.full, batchSize: 64, lr: 1e-3, weightDecay: 0.1 } };
}

/**
 * lr: a multiple of the settings' rate (flat at 3×: independent leaves, each seeing 1/2^k of the data, train better
 * with larger steps). routed 'moe': 2^k experts, top-1 (the layer's defaults); 'dense': no routed layer, the MLP
 * widened to the tree's parameters at that depth.
 */
export const ACCURACY_VARIANTS = [
  { name: 'tree, γ = 1', routed: 'tree' as const, gamma: 1, lrScale: 1 },
  { name: 'tree, γ = 2', routed: 'tree' as const, gamma: 2, lrScale: 1 },
  { name: 'flat', routed: 'flat' as const, gamma: 1, lrScale: 1 },
  { name: 'flat, 3× lr', routed: 'flat' as const, gamma: 1, lrScale: 3 },
  { name: 'moe', routed: 'moe' as const, gamma: 1, lrScale: 1 },
  { name: 'dense, equal parameters', routed: 'dense' as const, gamma: 1, lrScale: 1 },
];

/** The variant of the dense MLP of equal parameters: its runs have no leaves, and it does more inference compute than the others. */
const EQUAL_PARAMS = ACCURACY_VARIANTS.find((v) => v.routed === 'dense')!;

/**
 * The balance and dead leaves of the dense MLP (k = 0), which has no leaves: none (null in results.json, '–' in the
 * table). Results written up to 2026-12-07 record a depth-0 tree's, 1 and 0; they read as before, and show '–' too.
 */
const NO_LEAVES = { balance: null, deadLeaves: null };

/**
 * A variant's MLP at depth k on data of `shape`, its bits from `gating`; the dense MLP of equal parameters is the
 * first variant's tree widened to its parameter count (counted from the shapes, without building it).
 */
function variantMlp(shape: { inputSize: number; numClasses: number }, k: number, v: (typeof ACCURACY_VARIANTS)[number], gating: 'units' | 'projection'): MlpOptions {
  if (v.routed === 'dense') {
    const tree = variantMlp(shape, k, ACCURACY_VARIANTS[0], gating);
    return denseOfEqualParams(tree, parameterCount(tree));
  }
  return {
    inputSize: shape.inputSize, numClasses: shape.numClasses, hidden: EXPERIMENT_HIDDEN, treeLayers: [2], depth: k, gating,
    routed: v.routed, decayGamma: v.gamma,
  };
}

/**
 * Runs experiment 2 (held-out accuracy against depth, tree vs flat, with depth-scaled weight decay) over `seeds`;
 * `treegate experiment accuracy` calls it and writes what it returns (completeResult) to results.json.
 */
export async function runAccuracy(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(accuracySettings(o.quick, o.depths), o, 'accuracy', seeds);
  s.depths = checkDepths('accuracy', s.depths, 'the dense MLP (k = 0) is the baseline its report measures each depth against');
  const sources = dataSources(o, s.datasets);
  // the datasets' input width and class count (MNIST's and Fashion-MNIST's are one, or the file's), and a file's
  // epochs where none are given
  const { inputSize, numClasses, trainExamples, splits } = dataShape(sources[0], s.limit, o.warn ?? o.log), shape = { inputSize, numClasses };
  if (trainExamples !== undefined) csvEpochs('accuracy', s, o, trainExamples, ACCURACY_EPOCHS);
  const gating = o.gating ?? 'projection';
  // (the dense MLP of equal parameters holds the tree's count, in fewer arrays: the tree's check is its)
  checkDepthsFit('accuracy', s.depths, (k) => ACCURACY_VARIANTS.filter((v) => v !== EQUAL_PARAMS).map((v) => variantMlp(shape, k, v, gating)));
  const settings = {
    ...s, datasets: sources.map((d) => d.name), ...(o.data ? { data: o.data } : {}), ...(o.gating ? { gating: o.gating } : {}),
    // (results written before 2026-12-07 22:00 UTC ran the first four alone, and record no variants: --resume
    // refuses them, naming this)
    variants: ACCURACY_VARIANTS.map((v) => v.name),
    model: `${mlpWidths(shape)}, layer 2 routed, ${gating === 'projection' ? 'projection gating (fixed)' : 'units gating'}; adam, cosine schedule`,
  };
  const resumed = resumeFrom(o, 'accuracy', settings), completed = resumed.completed;
  // (an interrupted run's dense MLP, where its results were written up to 2026-12-07, has a depth-0 tree's balance
  // and dead leaves, 1 and 0: none, as this run's)
  const runs = resumed.runs.map((r) => (Number(r.k) === 0 ? { ...r, ...NO_LEAVES } : r));
  // at k = 0 every variant is the same dense MLP: one run
  const runsPerSeed = s.depths.reduce((n, k) => n + (k === 0 ? 1 : ACCURACY_VARIANTS.length), 0);
  const total = sources.length * seeds.length * runsPerSeed;
  let done = sources.length * completed.length * runsPerSeed;
  // seed by seed (every dataset of a seed), so that an interrupted run keeps whole seeds
  seeds: for (const seed of seeds) {
    if (completed.includes(seed)) continue;
    for (const { name: dataset, prepare } of sources) {
      o.log(`accuracy: loading ${dataset} (seed ${seed})`);
      // the validation split follows the seed; the test set is the dataset's (a CSV file without a test file: a
      // sixth of it, drawn by the seed too)
      const data: PreparedData = prepareData({ ...prepare, limit: s.limit }, new Rng(1_000_000 + seed));
      for (const k of s.depths) {
        for (const v of ACCURACY_VARIANTS) {
          if (k === 0 && v !== ACCURACY_VARIANTS[0]) continue; // at k = 0 every variant is the same dense MLP
          if (await stopRequested(o)) break seeds;
          // (k = 0: the dense MLP, recorded under the first variant's name, as the report reads it)
          const shown = k === 0 ? 'dense' : v.name;
          o.progress(done++, total, `${dataset} seed ${seed} k=${k} ${shown}`);
          const mlp = variantMlp(data, k, v, gating);
          const r = fit(mlp, data, { ...s.train, lr: s.train.lr * v.lrScale }, seed);
          runs.push({
            dataset, seed, k, variant: v.name, hidden: mlp.hidden.join(','), parameters: r.parameters, macsInference: r.macsInference,
            testAccuracy: r.testAccuracy, trainAccuracy: r.trainAccuracy, gap: r.trainAccuracy - r.testAccuracy,
            // (the dense MLP, a depth-0 tree, has no leaves: no balance or dead leaves, not a depth-0 tree's 1 and 0)
            ...(k === 0 ? NO_LEAVES : { balance: r.trees[0]?.balance ?? null, deadLeaves: r.trees[0]?.deadLeaves ?? null }), trainUsPerExample: r.trainUsPerExample,
            // (the test set's pass, collapsed tables built before: results written before 2026-12-08 lack it)
            inferUsPerExample: r.inferUsPerExample,
          });
          o.log(`accuracy ${dataset} seed ${seed} k=${k} ${shown}: test ${(r.testAccuracy * 100).toFixed(2)}%, train ${(r.trainAccuracy * 100).toFixed(2)}%`);
        }
      }
    }
    completed.push(seed);
  }
  o.progress(total, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  // k = 0 is one model, run once (under the first variant's name); the report starts every curve at it
  const agg = aggregate(kept.runs, ['dataset', 'variant', 'k'], ['testAccuracy', 'trainAccuracy', 'gap', 'parameters', 'macsInference', 'balance', 'deadLeaves', 'trainUsPerExample', 'inferUsPerExample']);
  const result = {
    experiment: 'accuracy', quick: o.quick, ...kept, settings, aggregate: agg, ...(splits ? { splits } : {}),
  };
  return result;
}

/** A configuration's mean balance or dead leaves in the table: '–' for the dense MLP (k = 0, whatever its results recorded) or where none was recorded. */
function leafFigure(a: AggRow, metric: 'balance' | 'deadLeaves', digits: number): string {
  const mean = a.stats[metric]?.mean;
  return Number(a.k) !== 0 && mean !== undefined && Number.isFinite(mean) ? mean.toFixed(digits) : '–';
}

/** The report of an accuracy run's results (as the run wrote them, or read back from its results.json). */
export function accuracyReport(r: ExperimentResult): Report {
  const s = r.settings as Omit<ReturnType<typeof accuracySettings>, 'datasets'> & { datasets: string[]; data?: CsvSource; model: string };
  // k = 0, the dense MLP, is one run under the first variant's name (results written before 2026-12-04 repeat it
  // under every variant): one row in the table, the first point of every curve
  const dense = (a: AggRow) => Number(a.k) === 0;
  const agg = r.aggregate.filter((a) => !dense(a) || a.variant === ACCURACY_VARIANTS[0].name);
  const charts: Chart[] = [], timeCharts: Chart[] = [];
  for (const dataset of s.datasets) {
    // (a variant the results lack, as the mixture and the dense MLP of equal parameters in those written before
    // 2026-12-07 22:00 UTC: no line)
    const ran = ACCURACY_VARIANTS.filter((v) => agg.some((a) => a.dataset === dataset && a.variant === v.name && !dense(a)));
    const series = (metric: string, x: 'k' | 'parameters' | 'trainUsPerExample' | 'inferUsPerExample'): Series[] => ran.map((v) => ({
      name: v.name,
      ...statSeries(agg.filter((a) => a.dataset === dataset && (a.variant === v.name || dense(a))).sort((a, b) => Number(a.k) - Number(b.k)),
        x === 'k' ? (a) => Number(a.k) : (a) => a.stats[x].mean, metric, 'std'),
    }));
    const widened = ran.includes(EQUAL_PARAMS);
    const note = `${barsNote(r, 'std')} At k = 0 every variant is the same dense MLP.` +
      (widened ? ' "dense, equal parameters" at depth k: the dense MLP widened to the tree\'s parameters there, at the inference compute of its width.' : '');
    // the dense MLP's accuracy across the chart, dashed: what each depth's extra parameters are measured against
    const d0 = agg.find((a) => a.dataset === dataset && dense(a));
    const baseline = (xs: number[]): Trace[] => (d0 ? [horizontalLine(d0.stats.testAccuracy.mean, xs, 'dense MLP (k = 0)')] : []);
    const percent = { tickformat: '.1~%', automargin: true };
    const byK = series('testAccuracy', 'k'), byParams = series('testAccuracy', 'parameters');
    // the gap in percentage points (0.01 of accuracy is 1 point)
    const gap = series('gap', 'k').map((g) => ({ ...g, y: g.y.map((v) => 100 * v), err: g.err?.map((v) => 100 * v) }));
    charts.push(
      { title: `${dataset}: test accuracy vs depth k`, note: `${note} Dashed: the dense MLP.`, xTitle: 'depth k', yTitle: 'test accuracy',
        traces: [...seriesTraces(byK), ...baseline(byK.flatMap((x) => x.x))], layout: { yaxis: { title: { text: 'test accuracy' }, ...percent } } },
      { title: `${dataset}: test accuracy vs parameters`, note: `${note} Dashed: the dense MLP. ${widened ? 'Every model but the dense of equal parameters' : 'Every model'} does the same inference compute` +
        `${ran.some((v) => v.routed === 'moe') ? ' (the mixture\'s router adds 2^k × 256 multiply-adds)' : ''}.`, xTitle: 'parameters',
        yTitle: 'test accuracy', xLog: true, traces: [...seriesTraces(byParams), ...baseline(byParams.flatMap((x) => x.x))],
        layout: { yaxis: { title: { text: 'test accuracy' }, ...percent } } },
      { title: `${dataset}: train − test accuracy vs depth k`, note: `Overfitting. ${note}`, xTitle: 'depth k', yTitle: 'train − test accuracy, percentage points', traces: seriesTraces(gap) },
    );
    // accuracy against what it cost in time (after every dataset's other charts, so that their numbers stay put), where
    // the runs timed inference (results written before 2026-12-08 did not)
    const timed = agg.filter((a) => a.dataset === dataset);
    if (timed.length > 0 && timed.every((a) => Number.isFinite(a.stats.inferUsPerExample?.mean))) {
      for (const [x, what, how] of [['inferUsPerExample', 'inference', 'one pass over the test set in batches of 1 000, its collapsed tables built before'],
        ['trainUsPerExample', 'training', 'the epochs, validation passes included']] as const) {
        const points = series('testAccuracy', x);
        timeCharts.push({
          title: `${dataset}: test accuracy vs ${what} time per example`,
          note: `${note} Each line runs from k = 0 through the depths in turn. x: the mean over seeds of one run's wall time ` +
            `(${how}) ÷ the examples: a rough cost. Dashed: the dense MLP.`,
          xTitle: `${what} µs per example`, yTitle: 'test accuracy', xLog: true,
          traces: [...seriesTraces(points), ...baseline(points.flatMap((p) => p.x))], layout: { yaxis: { title: { text: 'test accuracy' }, ...percent } },
        });
      }
    }
  }
  charts.push(...timeCharts);
  return {
    title: 'treegate experiment: accuracy', meta: reportMeta(r),
    sections: [{
      heading: 'Held-out accuracy vs depth at fixed inference compute',
      text: [`${s.model}; ${epochsText(s.train, r.splits)}, batch ${s.train.batchSize}, lr ${s.train.lr}, weight decay λ = ${s.train.weightDecay} scaled by γ^depth. ` +
        (s.data ? csvNote(s.data, s.limit, r.splits)
          : s.limit ? `First ${s.limit} training and test examples (quick mode).` : 'Full training sets, 1/12 held out for validation; full test sets.')],
      tables: [{
        // (times: one run's wall time per example a seed, training's validation passes included, inference's over the
        // test set: rough costs)
        columns: ['dataset', 'variant', 'k', 'parameters', 'MACs / example, inference', 'test accuracy', 'train accuracy', 'train µs / example',
          'inference µs / example', 'balance', 'dead leaves'],
        rows: agg.map((a) => [String(a.dataset), dense(a) ? 'dense (k = 0)' : String(a.variant), Number(a.k), count(a.stats.parameters.mean),
          a.stats.macsInference ? count(a.stats.macsInference.mean) : '–', pmPercent(a.stats.testAccuracy), pmPercent(a.stats.trainAccuracy),
          ...(['trainUsPerExample', 'inferUsPerExample'] as const).map((m, i) => (Number.isFinite(a.stats[m]?.mean) ? a.stats[m].mean.toFixed(i + 1) : '–')),
          leafFigure(a, 'balance', 3), leafFigure(a, 'deadLeaves', 1)]),
      }],
      charts,
    }],
  };
}
