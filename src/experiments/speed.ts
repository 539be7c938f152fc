import { totalmem } from 'node:os';
import { checkInt, TreegateError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Matrix } from '../core/tensor.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { MixtureOfExperts } from '../layers/moe.js';
import { TreeGated } from '../layers/tree.js';
import { Optimizer, trainingFloats } from '../train/optim.js';
import { formatCount, formatGiB } from '../report/summary.js';
import { count, horizontalLine, seriesTraces, type Chart, type Report, type Trace } from '../report/html.js';
import {
  aggregate, barsNote, checkDepths, deepestFitting, keptRuns, pm, randomBatch, reportMeta, resumeFrom, settingsWith, statSeries, stopRequested,
  type AggRow, type DepthDefaults, type ExperimentOptions, type ExperimentResult, type ExperimentRun, type Row,
} from './common.js';
import { measure, timeRatio } from './timing.js';

/**
 * Experiment 4 (issue 4): time per example against parameters for one layer
 * n = m (512 by default, --width) on batches of N (256 by default, --batch) standard-normal rows:
 *   tree  — depth k, projection gating; inference on collapsed leaves;
 *   moe   — 2^k experts, top-1;
 *   dense — widened to the tree's parameter count (n → w), up to a cap.
 * For each: inference (forward in 'infer' mode) and a training step (forward,
 * backward with the input gradient, lazy Adam step and clearing of the touched
 * gradients). Candidates of one k are timed interleaved (A B C D A B C D …) by the
 * benchmarks' helper (measure), each figure the median of
 * the rounds after a warm-up; the seed changes weights and inputs. The fourth, the
 * dense layer of equal compute (n → n), is the baseline of the ratios each run
 * records: the median over rounds of a candidate's time over the baseline's in the
 * same round, so that a slow moment of the machine cancels.
 * Measured with the backend in use (see the report's meta). The full run stops
 * at k = 8 (--depths chooses others): beyond, building the layers (1–2 GB of
 * weights each, drawn in JS) takes minutes per seed; docs/benchmarks.md times
 * the layer up to k = 10.
 */
/** The layer's width n and the batch N of a run that does not give them (ExperimentOptions.width and batch, --width and --batch). */
export const SPEED_DEFAULTS = { width: 512, batch: 256 } as const;

/** The tree depths k a run times where it is not given them (ExperimentOptions.depths, --depths): the full run's, quick mode's. */
export const SPEED_DEPTHS: DepthDefaults = { full: [0, 1, 2, 3, 4, 5, 6, 7, 8], quick: [0, 2, 4, 6, 8] };

/**
 * The largest width and batch a run takes: bounds against mistyped values only. What a run's depths can hold at its
 * width and batch (one array of the deepest tree, this machine's memory) is checked before it runs (checkFits).
 */
export const SPEED_MAX = { width: 16384, batch: 65536 } as const;

// The widened dense layer's cap is a multiple of the width n: 64 n, quick mode's 32 n (32768 and 16384 at the
// default 512, as before the width could be chosen, so that those runs' results are unchanged). The tree of depth k
// holds (2^(k+1) − 1)(n² + n) + k(n + 1) parameters, a dense n → (2^(k+1) − 1) n + k layer's: scaled so, the cap
// keeps the dense layer at full size up to the same depth at every width (k = 5, quick mode's k = 4, for n ≥ 5,
// so that its line has three points of quick mode's five depths), and its weights an eighth of the deepest tree's
// or less; a fixed cap would leave a narrow layer never capped and a wide one capped from k = 2 or 3.
// (depths: checked by checkDepths once the override is applied)
function speedSettings(quick: boolean, width: number, batch: number, depths = quick ? SPEED_DEPTHS.quick : SPEED_DEPTHS.full) {
  return quick
    ? { width, batch, depths, rounds: 5, denseCap: 32 * width, budgetMs: 100 }
    : { width, batch, depths, rounds: 9, denseCap: 64 * width, budgetMs: 300 };
}

type SpeedSettings = ReturnType<typeof speedSettings>;

/** The widened dense layer's width beside a tree of `treeParameters` (its parameter count, up to the cap). */
function widenedWidth(s: SpeedSettings, treeParameters: number): number {
  return Math.min(s.denseCap, Math.max(s.width, Math.round(treeParameters / (s.width + 1))));
}

/**
 * What a depth's layers hold at once, in floats, and their largest array: the tree's, the mixture's and the widened
 * dense layer's parameters four times over (the weights, their gradients and Adam's two moments, as train's
 * checkMemory counts them), the tree's collapsed leaves (its inference tables), and the batch's arrays: the dense
 * layer's outputs and output gradient, N × its width, and the inputs, gradients and the layers' scratches, N × n,
 * counted twice over (4 N w + 32 N n), since the previous depth's are not yet collected when the next are made (a
 * quick run's peak resident memory at n = 64, N = 65536 was 1.58 GB at k = 6 alone and 2.05 GB after k = 0–4, where
 * this counts 2.70 GB; a full run's at n = 256, N = 256, k = 8, 1.04 GB with Node's own 0.1 GB, where this counts 1.02 GB).
 * Counted from the shapes the layers make (paramShapes' counts), without building them.
 */
function footprint(s: SpeedSettings, k: number): { floats: number; largest: number } {
  const n = s.width, N = s.batch, nodes = 2 ** (k + 1) - 1, leaves = 2 ** k;
  const tree = nodes * (n * n + n) + k * (n + 1), moe = leaves * (n * n + 2 * n), w = widenedWidth(s, tree), dense = w * (n + 1);
  return {
    floats: trainingFloats(tree + moe + dense + n * (n + 1), 'adam') + leaves * (n * n + n) + 4 * N * w + 32 * N * n,
    largest: Math.max(nodes * n * n, leaves * n * n, w * n, N * w),
  };
}

/** Whether a run of settings `s` fits: every array in one (at most 2^31 − 1 floats, as the layers allow), all of them in `memory` bytes. */
function fits(s: SpeedSettings, memory: number): boolean {
  return s.depths.every((k) => {
    const f = footprint(s, k);
    return f.largest <= 2 ** 31 - 1 && 4 * f.floats <= memory;
  });
}

/**
 * A width, batch and depths whose deepest layers would not fit one array or this machine's memory are refused before
 * any run (else building them fails at the deepest depths, once the others have run, or the machine swaps), naming
 * the widest layer that fits at this batch and these depths, and the deepest tree that fits at this width and batch.
 * Memory as train's checkMemory counts it: this machine's, not what is free. (A depth's layers grow with k: the
 * deepest of the depths is the one that does not fit.)
 */
function checkFits(s: SpeedSettings): void {
  const memory = totalmem();
  if (fits(s, memory)) return;
  const k = Math.max(...s.depths), f = footprint(s, k);
  let lo = 0, hi = s.width; // the widest that fits: lo fits (0: none), hi does not
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits({ ...s, width: mid, denseCap: (s.denseCap / s.width) * mid }, memory)) lo = mid;
    else hi = mid;
  }
  // the deepest tree that fits at this width and batch
  const deeper = deepestFitting(s.depths, (d) => fits({ ...s, depths: [d] }, memory));
  const fixes = [
    ...(lo > 0 ? [`lower the width (--width) to ${lo} or less at this batch`] : []),
    ...(deeper.fix ? [deeper.fix] : []),
    // (after the width alone, "or the batch" as before the depths could be chosen)
    `${lo > 0 && !deeper.fix ? '' : 'lower '}the batch (--batch)`,
  ];
  const why = f.largest > 2 ** 31 - 1
    ? `an array of ${formatCount(f.largest)} floats at depth ${k}, more than one array holds (2^31 − 1)`
    : `${formatGiB(4 * f.floats)} at depth ${k} for the tree, mixture and dense layers' weights, gradients and Adam state and the batch, more than this machine's ${formatGiB(memory)} of memory`;
  throw new TreegateError(`speed: a ${s.width} → ${s.width} layer on batches of ${s.batch} needs ${why}`,
    fixes.length > 1 ? `${fixes.slice(0, -1).join(', ')}, or ${fixes.at(-1)}` : fixes[0]);
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
 * last one's (the baseline), paired round by round (timeRatio). `before` runs before each call, untimed.
 */
async function timeInterleaved(names: string[], fs: Array<() => void>, rounds: number, budgetMs: number,
  before: () => Promise<void>): Promise<{ ms: number[]; vsLast: number[] }> {
  const ms = await measure(fs.map((f, i) => ({ name: names[i], run: () => f(), before })),
    { minRepeats: rounds, maxRepeats: rounds, budgetMs, minSampleMs: 5 });
  return { ms: ms.map((m) => m.ms), vsLast: ms.map((m) => timeRatio(m, ms[ms.length - 1])) };
}

/** Thrown out of a depth's building and timing where the experiment is to stop (runSpeed ends there). */
class Stopped extends Error {}

/**
 * Runs experiment 4 (time per example against parameters: tree, moe and dense layers, inference and training step)
 * over `seeds`, on the backend in use; `treegate experiment speed` calls it and writes what it returns
 * (completeResult) to results.json.
 */
export async function runSpeed(o: ExperimentOptions, seeds: number[]): Promise<ExperimentRun> {
  const s = settingsWith(speedSettings(o.quick, o.width ?? SPEED_DEFAULTS.width, o.batch ?? SPEED_DEFAULTS.batch, o.depths), o, 'speed', seeds);
  checkInt(s.width, 'speed: width', 1, SPEED_MAX.width);
  checkInt(s.batch, 'speed: batch', 1, SPEED_MAX.batch);
  s.depths = checkDepths('speed', s.depths);
  checkFits(s);
  const n = s.width, N = s.batch;
  const settings = { ...s, layer: `${n} → ${n}, batches of ${N}` };
  const { runs, completed } = resumeFrom(o, 'speed', settings);
  const total = seeds.length * s.depths.length;
  let done = completed.length * s.depths.length;
  // A stop (o.stopRequested) is asked before each depth, and inside it while its layers' weights are drawn and before
  // each call it times: a deep layer takes minutes to build and time, and the seed of a depth stopped early is left
  // out, as it would be after the depth (keptRuns keeps the seeds completed).
  const stop = async () => { if (await stopRequested(o)) throw new Stopped(); };
  try {
    for (const seed of seeds) {
      if (completed.includes(seed)) continue;
      const x = randomBatch(N, n, seed), dy = randomBatch(N, n, seed + 1);
      for (const k of s.depths) {
        await stop();
        o.progress(done++, total, `seed ${seed} k=${k}`);
        runs.push(...await timeDepth(s, seed, k, x, dy, stop, o.log));
      }
      completed.push(seed);
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  }
  o.progress(total, total, 'done');
  const kept = keptRuns(runs, seeds, completed);
  const agg = aggregate(kept.runs, ['kind', 'k'], ['parameters', 'macsInference', 'inferUsPerExample', 'stepUsPerExample', 'capped', 'inferVsDense', 'stepVsDense']);
  const result = {
    experiment: 'speed', quick: o.quick, ...kept, settings, aggregate: agg,
  };
  return result;
}

/**
 * One seed's runs at depth k: the tree, mixture and widened dense layers built and timed, inference and training
 * step, against the dense layer of equal compute timed in the same rounds. `stop` is awaited while the layers'
 * weights are drawn (between the steps of initSteps: a depth-8 tree of 1024 → 1024 draws 536M) and before each
 * timed call; it throws Stopped where the experiment is to stop.
 */
async function timeDepth(s: SpeedSettings, seed: number, k: number, x: Matrix, dy: Matrix, stop: () => Promise<void>,
  log: (line: string) => void): Promise<Row[]> {
  const n = s.width, N = s.batch, rng = new Rng(seed);
  const built = async <L extends Dense | TreeGated | MixtureOfExperts>(layer: L): Promise<L> => {
    for (const _ of layer.initSteps(rng)) await stop();
    return layer;
  };
  const tree = await built(new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'projection', nodeInit: 'small' }));
  const moe = await built(new MixtureOfExperts({ inputSize: n, outputSize: n, experts: 2 ** k }));
  const width = widenedWidth(s, tree.parameterCount());
  const dense = await built(new Dense(n, width));
  const cands = [candidate('tree', tree, x, dy), candidate('moe', moe, x, dy), candidate('dense', dense, x, randomBatch(N, width, seed + 2)),
    candidate('baseline', await built(new Dense(n, n)), x, dy)];
  const names = cands.map((c) => c.kind);
  const infer = await timeInterleaved(names, cands.map((c) => c.infer), s.rounds, s.budgetMs, stop);
  const step = await timeInterleaved(names, cands.map((c) => c.step), s.rounds, s.budgetMs, stop);
  const isCapped = width === s.denseCap && tree.parameterCount() > dense.parameterCount();
  const us = (i: number) => (infer.ms[i] * 1000 / N).toFixed(2);
  log(`speed seed ${seed} k=${k}: infer µs/example tree ${us(0)} (${infer.vsLast[0].toFixed(2)}× dense ${n}→${n}), moe ${us(1)}, ` +
    `dense(${width}${isCapped ? ', capped' : ''}) ${us(2)}`);
  return cands.slice(0, 3).map((c, i) => ({
    seed, k, kind: c.kind, parameters: c.layer.parameterCount(), macsInference: c.layer.macs().inference,
    capped: c.kind === 'dense' && isCapped ? 1 : 0,
    inferUsPerExample: (infer.ms[i] * 1000) / N, stepUsPerExample: (step.ms[i] * 1000) / N,
    inferVsDense: infer.vsLast[i], stepVsDense: step.vsLast[i],
  }));
}

/** The report of a speed run's results (as the run wrote them, or read back from its results.json). */
export function speedReport(r: ExperimentResult): Report {
  const s = r.settings as SpeedSettings & { layer: string };
  const agg = r.aggregate;
  const capped = (a: AggRow) => a.stats.capped.mean > 0;
  // ratios paired with a dense layer of equal compute timed alongside (results written before 2026-12-04 lack them)
  const paired = agg.every((a) => a.stats.inferVsDense !== undefined);
  const byParams = (rows: AggRow[]) => [...rows].sort((a, b) => a.stats.parameters.mean - b.stats.parameters.mean || Number(a.k) - Number(b.k));
  const traces = (metric: string): Trace[] => {
    const of = (kind: string, keep: (a: AggRow) => boolean) => byParams(agg.filter((a) => a.kind === kind && keep(a)));
    // (no widened dense line where the dense layer is capped at every depth run, as at --depths 6,7,8)
    const lines = seriesTraces([
      { name: 'tree', ...statSeries(of('tree', () => true), (a) => a.stats.parameters.mean, metric, 'range') },
      { name: 'moe', ...statSeries(of('moe', () => true), (a) => a.stats.parameters.mean, metric, 'range') },
      { name: 'dense, widened', ...statSeries(of('dense', (a) => !capped(a)), (a) => a.stats.parameters.mean, metric, 'range') },
    ].filter((series) => series.x.length > 0));
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
