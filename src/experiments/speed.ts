import { Rng } from '../core/rng.js';
import type { Matrix } from '../core/tensor.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { MixtureOfExperts } from '../layers/moe.js';
import { TreeGated } from '../layers/tree.js';
import { Optimizer } from '../train/optim.js';
import { count, horizontalLine, seriesTraces, type Chart, type Report, type Trace } from '../report/html.js';
import {
  aggregate, barsNote, keptRuns, pm, randomBatch, reportMeta, resumeFrom, settingsWith, statSeries, stopRequested,
  type AggRow, type ExperimentOptions, type ExperimentResult, type ExperimentRun,
} from './common.js';
import { measure, timeRatio } from './timing.js';

/**
 * Experiment 4 (issue 4): time per example against parameters for one layer
 * n = m = 512 on batches of N = 256 standard-normal rows:
 *   tree  — depth k, projection gating; inference on collapsed leaves;
 *   moe   — 2^k experts, top-1;
 *   dense — widened to the tree's parameter count (512 → w), up to a cap.
 * For each: inference (forward in 'infer' mode) and a training step (forward,
 * backward with the input gradient, lazy Adam step and clearing of the touched
 * gradients). Candidates of one k are timed interleaved (A B C D A B C D …) by the
 * benchmarks' helper (measure), each figure the median of
 * the rounds after a warm-up; the seed changes weights and inputs. The fourth, the
 * dense layer of equal compute (512 → 512), is the baseline of the ratios each run
 * records: the median over rounds of a candidate's time over the baseline's in the
 * same round, so that a slow moment of the machine cancels.
 * Measured with the backend in use (see the report's meta). The full run stops
 * at k = 8: beyond, building the layers (1–2 GB of weights each, drawn in JS)
 * takes minutes per seed; docs/benchmarks.md times the layer up to k = 10.
 */
// quick mode's cap (16384, 8.4M parameters) keeps the widened dense layer at full size up to k = 4, so that its line
// has three points of the five depths
function speedSettings(quick: boolean) {
  return quick
    ? { width: 512, batch: 256, depths: [0, 2, 4, 6, 8], rounds: 5, denseCap: 16384, budgetMs: 100 }
    : { width: 512, batch: 256, depths: [0, 1, 2, 3, 4, 5, 6, 7, 8], rounds: 9, denseCap: 32768, budgetMs: 300 };
}

/** The layers compared, as the results name them. */
export const SPEED_KINDS = ['tree', 'moe', 'dense'] as const;

interface Routed { kind: string; layer: Layer; infer: () => void; step: () => void }

function candidate(kind: string, layer: Layer, x: Matrix, dy: Matrix): Routed {
  const opt = new Optimizer(layer.params(), { kind: 'adam' });
  return {
    kind, layer,
    infer: () => { layer.forward(x, 'infer'); },
    step: () => {
      for (const p of layer.params()) p.clearGrad();
      layer.forward(x, 'train');
      layer.backward(dy, true);
      opt.step(1e-4);
    },
  };
}

/**
 * Median ms per call of each function, interleaved, with the benchmarks' timing helper, and each one's time over the
 * last one's (the baseline), paired round by round (timeRatio).
 */
async function timeInterleaved(names: string[], fs: Array<() => void>, rounds: number, budgetMs: number): Promise<{ ms: number[]; vsLast: number[] }> {
  const ms = await measure(fs.map((f, i) => ({ name: names[i], run: () => f() })),
    { minRepeats: rounds, maxRepeats: rounds, budgetMs, minSampleMs: 5 });
  return { ms: ms.map((m) => m.ms), vsLast: ms.map((m) => timeRatio(m, ms[ms.length - 1])) };
}

/**
 * Runs experiment 4 (time per example against parameters: tree, moe and dense layers, inference and training step)
 * over `seeds`, on the backend in use; `treegate experiment speed` calls it and writes what it returns
 * (completeResult) to results.json.
 */
export async function runSpeed(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(speedSettings(o.quick), o, 'speed', seeds);
  const n = s.width, N = s.batch;
  const settings = { ...s, layer: `${n} → ${n}, batches of ${N}` };
  const { runs, completed } = resumeFrom(o, 'speed', settings);
  const total = seeds.length * s.depths.length;
  let done = completed.length * s.depths.length;
  seeds: for (const seed of seeds) {
    if (completed.includes(seed)) continue;
    const x = randomBatch(N, n, seed), dy = randomBatch(N, n, seed + 1);
    for (const k of s.depths) {
      if (await stopRequested(o)) break seeds;
      o.progress(done++, total, `seed ${seed} k=${k}`);
      const rng = new Rng(seed);
      const tree = new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'projection', nodeInit: 'small' }).init(rng);
      const moe = new MixtureOfExperts({ inputSize: n, outputSize: n, experts: 2 ** k }).init(rng);
      const width = Math.min(s.denseCap, Math.max(n, Math.round(tree.parameterCount() / (n + 1))));
      const dense = new Dense(n, width).init(rng);
      const cands = [candidate('tree', tree, x, dy), candidate('moe', moe, x, dy), candidate('dense', dense, x, randomBatch(N, width, seed + 2)),
        candidate('baseline', new Dense(n, n).init(rng), x, dy)];
      const names = cands.map((c) => c.kind);
      const infer = await timeInterleaved(names, cands.map((c) => c.infer), s.rounds, s.budgetMs);
      const step = await timeInterleaved(names, cands.map((c) => c.step), s.rounds, s.budgetMs);
      const isCapped = width === s.denseCap && tree.parameterCount() > dense.parameterCount();
      cands.slice(0, 3).forEach((c, i) => {
        runs.push({
          seed, k, kind: c.kind, parameters: c.layer.parameterCount(), macsInference: c.layer.macs().inference,
          capped: c.kind === 'dense' && isCapped ? 1 : 0,
          inferUsPerExample: (infer.ms[i] * 1000) / N, stepUsPerExample: (step.ms[i] * 1000) / N,
          inferVsDense: infer.vsLast[i], stepVsDense: step.vsLast[i],
        });
      });
      const us = (i: number) => (infer.ms[i] * 1000 / N).toFixed(2);
      o.log(`speed seed ${seed} k=${k}: infer µs/example tree ${us(0)} (${infer.vsLast[0].toFixed(2)}× dense ${n}→${n}), moe ${us(1)}, ` +
        `dense(${width}${isCapped ? ', capped' : ''}) ${us(2)}`);
    }
    completed.push(seed);
  }
  o.progress(total, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  const agg = aggregate(kept.runs, ['kind', 'k'], ['parameters', 'macsInference', 'inferUsPerExample', 'stepUsPerExample', 'capped', 'inferVsDense', 'stepVsDense']);
  const result = {
    experiment: 'speed', quick: o.quick, ...kept, settings, aggregate: agg,
  };
  return result;
}

/** The report of a speed run's results (as the run wrote them, or read back from its results.json). */
export function speedReport(r: ExperimentResult): Report {
  const s = r.settings as ReturnType<typeof speedSettings> & { layer: string };
  const agg = r.aggregate;
  const capped = (a: AggRow) => a.stats.capped.mean > 0;
  // ratios paired with a dense layer of equal compute timed alongside (results written before 2026-12-04 lack them)
  const paired = agg.every((a) => a.stats.inferVsDense !== undefined);
  const byParams = (rows: AggRow[]) => [...rows].sort((a, b) => a.stats.parameters.mean - b.stats.parameters.mean || Number(a.k) - Number(b.k));
  const traces = (metric: string): Trace[] => {
    const of = (kind: string, keep: (a: AggRow) => boolean) => byParams(agg.filter((a) => a.kind === kind && keep(a)));
    const lines = seriesTraces([
      { name: 'tree', ...statSeries(of('tree', () => true), (a) => a.stats.parameters.mean, metric, 'range') },
      { name: 'moe', ...statSeries(of('moe', () => true), (a) => a.stats.parameters.mean, metric, 'range') },
      { name: 'dense, widened', ...statSeries(of('dense', (a) => !capped(a)), (a) => a.stats.parameters.mean, metric, 'range') },
    ]);
    // the width cap: one dense layer, timed beside every deeper k. Its points share one parameter count: no line,
    // and each drawn a little apart (±4% per point on the log axis) so that they and their bars do not merge; the
    // true count as customdata, which the report's hover gives (see dodge in report/html.ts)
    const atCap = of('dense', capped), mid = (atCap.length - 1) / 2;
    if (atCap.length > 0) {
      const points = statSeries(atCap, (a, i) => a.stats.parameters.mean * (1 + 0.04 * (i - mid)), metric, 'range');
      lines.push({
        ...seriesTraces([{ name: `dense at the width cap (${s.denseCap}), timed at k = ${atCap.map((a) => a.k).join(', ')}`, ...points }])[0],
        mode: 'markers', customdata: atCap.map((a) => a.stats.parameters.mean), text: atCap.map((a) => `timed at k = ${a.k}, ${count(a.stats.parameters.mean)} parameters`),
      });
    }
    return lines;
  };
  const note = `Each seed's figure is its median over interleaved rounds. ${barsNote(r, 'range')}`;
  const charts: Chart[] = [
    { title: 'inference: time per example vs parameters', note, xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: traces('inferUsPerExample') },
    { title: 'training step: time per example vs parameters', note, xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: traces('stepUsPerExample') },
  ];
  if (paired) {
    // the capacity claim read off directly: time over the dense layer of equal compute, timed in the same rounds (a
    // slow moment of the machine cancels), against a line at 1
    const equal = horizontalLine(1, agg.map((a) => a.stats.parameters.mean), `dense ${s.width}→${s.width} (equal compute) = 1`);
    const ratioNote = `Each seed's figure is the median over interleaved rounds of the layer's time over the dense ${s.width}→${s.width} ` +
      `layer's in the same round. ${barsNote(r, 'range')}`;
    for (const [what, metric] of [['inference', 'inferVsDense'], ['training step', 'stepVsDense']] as const) {
      charts.push({ title: `${what}: time ÷ the dense layer of equal compute vs parameters`, note: ratioNote, xTitle: 'parameters',
        yTitle: `÷ dense ${s.width}→${s.width}`, xLog: true, yLog: true, traces: [...traces(metric), equal] });
    }
  }
  return {
    title: 'treegate experiment: speed', meta: reportMeta(r),
    sections: [{
      heading: 'Time per example vs parameters',
      text: [`One layer ${s.layer}; tree depth k (collapsed leaves at inference), moe with 2^k experts (top-1), dense widened to the tree's parameters (capped at width ${s.denseCap}). Each seed's figure is its median over ${s.rounds} interleaved rounds` +
        (paired ? ` ("÷ dense ${s.width}→${s.width}": the median of each round's time over the dense layer of equal compute's in the same round)` : '') +
        (r.seeds.length < 2 ? '; one seed: no spread to show.' : '; the table gives the mean ± std of the seeds\' figures, the charts their mean, with bars from the lowest to the highest seed.')],
      tables: [{
        columns: ['kind', 'k', 'parameters', 'MACs/example (inference)', 'inference µs/example', 'training step µs/example',
          ...(paired ? [`inference ÷ dense ${s.width}→${s.width}`, `training step ÷ dense ${s.width}→${s.width}`] : [])],
        rows: agg.map((a) => [String(a.kind), Number(a.k), count(a.stats.parameters.mean) + (capped(a) ? ' (capped)' : ''), count(a.stats.macsInference.mean),
          pm(a.stats.inferUsPerExample, 2), pm(a.stats.stepUsPerExample, 2),
          ...(paired ? [pm(a.stats.inferVsDense, 2), pm(a.stats.stepVsDense, 2)] : [])]),
      }],
      charts,
    }],
  };
}
