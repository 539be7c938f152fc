import { Rng } from '../core/rng.js';
import type { Matrix } from '../core/tensor.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { MixtureOfExperts } from '../layers/moe.js';
import { TreeGated } from '../layers/tree.js';
import { Optimizer } from '../train/optim.js';
import { seriesTraces, type Chart, type Report } from '../report/html.js';
import { aggregate, pm, randomBatch, reportMeta, settingsWith, type ExperimentOptions, type ExperimentResult, type Row } from './common.js';
import { measure } from './timing.js';

/**
 * Experiment 4 (issue 4): time per example against parameters for one layer
 * n = m = 512 on batches of N = 256 standard-normal rows:
 *   tree  — depth k, projection gating; inference on collapsed leaves;
 *   moe   — 2^k experts, top-1;
 *   dense — widened to the tree's parameter count (512 → w), up to a cap.
 * For each: inference (forward in 'infer' mode) and a training step (forward,
 * backward with the input gradient, lazy Adam step and clearing of the touched
 * gradients). Candidates of one k are timed interleaved (A B C A B C …) by the
 * benchmarks' helper (src/experiments/timing.ts), each figure the median of
 * the rounds after a warm-up; the seed changes weights and inputs.
 * Measured with the backend in use (see the report's meta). The full run stops
 * at k = 8: beyond, building the layers (1–2 GB of weights each, drawn in JS)
 * takes minutes per seed; docs/benchmarks.md times the layer up to k = 10.
 */
export function speedSettings(quick: boolean) {
  return quick
    ? { width: 512, batch: 256, depths: [0, 2, 4, 6, 8], rounds: 5, denseCap: 8192, budgetMs: 100 }
    : { width: 512, batch: 256, depths: [0, 1, 2, 3, 4, 5, 6, 7, 8], rounds: 9, denseCap: 32768, budgetMs: 300 };
}

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

/** Median ms per call of each function, interleaved, with the benchmarks' timing helper. */
async function timeInterleaved(names: string[], fs: Array<() => void>, rounds: number, budgetMs: number): Promise<number[]> {
  const ms = await measure(fs.map((f, i) => ({ name: names[i], run: () => f() })),
    { minRepeats: rounds, maxRepeats: rounds, budgetMs, minSampleMs: 5 });
  return ms.map((m) => m.ms);
}

export async function runSpeed(o: ExperimentOptions, seeds: number[]): Promise<{ result: Omit<ExperimentResult, 'command' | 'date' | 'machine'>; report: (r: ExperimentResult) => Report }> {
  const s = settingsWith(speedSettings(o.quick), o.override, 'speed');
  const n = s.width, N = s.batch;
  const runs: Row[] = [];
  const total = seeds.length * s.depths.length;
  let done = 0;
  for (const seed of seeds) {
    const x = randomBatch(N, n, seed), dy = randomBatch(N, n, seed + 1);
    for (const k of s.depths) {
      o.progress(done++, total, `seed ${seed} k=${k}`);
      const rng = new Rng(seed);
      const tree = new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'projection', nodeInit: 'small' }).init(rng);
      const moe = new MixtureOfExperts({ inputSize: n, outputSize: n, experts: 2 ** k }).init(rng);
      const width = Math.min(s.denseCap, Math.max(n, Math.round(tree.parameterCount() / (n + 1))));
      const dense = new Dense(n, width).init(rng);
      const cands = [candidate('tree', tree, x, dy), candidate('moe', moe, x, dy), candidate('dense', dense, x, randomBatch(N, width, seed + 2))];
      const names = cands.map((c) => c.kind);
      const infer = await timeInterleaved(names, cands.map((c) => c.infer), s.rounds, s.budgetMs);
      const step = await timeInterleaved(names, cands.map((c) => c.step), s.rounds, s.budgetMs);
      cands.forEach((c, i) => {
        runs.push({
          seed, k, kind: c.kind, parameters: c.layer.parameterCount(), macsInference: c.layer.macs().inference,
          capped: c.kind === 'dense' && width === s.denseCap && tree.parameterCount() > c.layer.parameterCount() ? 1 : 0,
          inferUsPerExample: (infer[i] * 1000) / N, stepUsPerExample: (step[i] * 1000) / N,
        });
      });
      o.log(`speed seed ${seed} k=${k}: infer µs/example tree ${(infer[0] * 1000 / N).toFixed(2)}, moe ${(infer[1] * 1000 / N).toFixed(2)}, dense(${width}) ${(infer[2] * 1000 / N).toFixed(2)}`);
    }
  }
  o.progress(total, total, 'done');
  const agg = aggregate(runs, ['kind', 'k'], ['parameters', 'macsInference', 'inferUsPerExample', 'stepUsPerExample', 'capped']);
  const result = { experiment: 'speed', quick: o.quick, seeds, settings: { ...s, layer: `${n} → ${n}, batches of ${N}` }, runs, aggregate: agg };
  const report = (r: ExperimentResult): Report => {
    const series = (metric: string) => ['tree', 'moe', 'dense'].map((kind) => {
      const rows = agg.filter((a) => a.kind === kind).sort((a, b) => a.stats.parameters.mean - b.stats.parameters.mean);
      return { name: kind === 'dense' ? 'dense, widened' : kind, x: rows.map((a) => a.stats.parameters.mean), y: rows.map((a) => a.stats[metric].mean), err: rows.map((a) => a.stats[metric].std) };
    });
    const charts: Chart[] = [
      { title: 'inference: time per example vs parameters', xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: seriesTraces(series('inferUsPerExample')) },
      { title: 'training step: time per example vs parameters', xTitle: 'parameters', yTitle: 'µs per example', xLog: true, yLog: true, traces: seriesTraces(series('stepUsPerExample')) },
    ];
    return {
      title: 'treegate experiment: speed', meta: reportMeta(r),
      sections: [{
        heading: 'Time per example vs parameters',
        text: [`One layer ${n} → ${n} on batches of ${N}; tree depth k (collapsed leaves at inference), moe with 2^k experts (top-1), dense widened to the tree's parameters (capped at width ${s.denseCap}). Medians of ${s.rounds} interleaved rounds, mean ± std over seeds.`],
        tables: [{
          columns: ['kind', 'k', 'parameters', 'MACs/example (inference)', 'inference µs/example', 'training step µs/example'],
          rows: agg.map((a) => [String(a.kind), Number(a.k), Math.round(a.stats.parameters.mean) + (a.stats.capped.mean > 0 ? ' (capped)' : ''), Math.round(a.stats.macsInference.mean),
            pm(a.stats.inferUsPerExample, 2), pm(a.stats.stepUsPerExample, 2)]),
        }],
        charts,
      }],
    };
  };
  return { result, report };
}
