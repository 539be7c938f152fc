#!/usr/bin/env node
// Prints the markdown tables of docs/results.md from the results.json files that
// `treegate experiment <name>` writes (runs/experiments/<name>/results.json),
// so the document's numbers are the runs' numbers, copied by a program.
//   node scripts/results-tables.mjs runs/experiments/memorization/results.json …
import { readFileSync } from 'node:fs';

const pm = (s, d = 3, scale = 1) => (s && Number.isFinite(s.mean)
  ? `${(s.mean * scale).toFixed(d)}${Number.isFinite(s.std) ? ` ± ${(s.std * scale).toFixed(d)}` : ''}` : '–'); // one seed: no ±
// accuracies in percent, as the reports and README give them: 97.99 ± 0.08 (points)
const pct = (s) => (s && Number.isFinite(s.mean) ? `${pm(s, 2, 100)}%` : '–');
const num = (s, d = 1) => (s && Number.isFinite(s.mean) ? s.mean.toFixed(d) : '–');
const count = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)));

function table(columns, rows) {
  return [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function meta(r) {
  return `- command: \`${r.command}\`\n- date: ${r.date}\n- machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, node ${r.machine.node}, ${r.machine.backend} backend\n- seeds: ${r.seeds.join(', ')}`;
}

const render = {
  memorization(r) {
    const rows = r.best.map((a) => [a.kind, a.k, a.lr, count(a.stats.parameters.mean), count(a.stats.macsInference.mean), pm(a.stats.fitted),
      num(a.stats.trainUsPerExample), num(a.stats.inferUsPerExample, 2)]);
    return table(['kind', 'k', 'best lr', 'parameters', 'MACs / example (inference)', 'fitted fraction (mean ± std)', 'train µs / example', 'inference µs / example'], rows);
  },
  accuracy(r) {
    const rows = r.aggregate.filter((a) => a.k !== 0 || a.variant === 'tree, γ = 1').map((a) => [a.dataset, a.k === 0 ? 'dense (k = 0)' : a.variant, a.k,
      count(a.stats.parameters.mean), a.stats.macsInference ? count(a.stats.macsInference.mean) : '–', pct(a.stats.testAccuracy), pct(a.stats.trainAccuracy),
      num(a.stats.trainUsPerExample), num(a.stats.inferUsPerExample, 2),
      // (the dense MLP has no leaves: results written before recorded a depth-0 tree's balance, 1; the dense MLP of
      // equal parameters none, null)
      ...(a.k === 0 ? ['–', '–'] : [num(a.stats.balance, 3), num(a.stats.deadLeaves, 1)])]);
    return table(['dataset', 'variant', 'k', 'parameters', 'MACs / example (inference)', 'test accuracy', 'train accuracy', 'train µs / example', 'inference µs / example', 'balance', 'dead leaves'], rows);
  },
  gating(r) {
    // a run of several depths (--depths) names each row's; one of a single depth, as runs of before --depths, does not
    const k = (r.settings.depths ?? [r.settings.depth]).length > 1 ? (x) => [x.k] : () => [];
    const rows = r.aggregate.map((a) => [...k(a), a.gating, pct(a.stats.testAccuracy), pm(a.stats.balance, 3), pm(a.stats.deadLeaves, 1)]);
    const per = r.runs.map((x) => [...k(x), x.gating, x.seed, x.balanceByEpoch, x.deadByEpoch]);
    const kColumn = k({ k: 'k' });
    return `${table([...kColumn, 'gating', 'test accuracy', 'balance (last epoch)', 'dead leaves (last epoch)'], rows)}\n\nPer seed, after each epoch:\n\n` +
      table([...kColumn, 'gating', 'seed', 'balance', 'dead leaves'], per);
  },
  speed(r) {
    // the ratios to a dense layer of equal compute timed in the same rounds: runs since 2026-12-04
    const paired = r.aggregate.every((a) => a.stats.inferVsDense !== undefined);
    const rows = r.aggregate.map((a) => [a.kind, a.k, count(a.stats.parameters.mean) + (a.stats.capped.mean > 0 ? ' (capped)' : ''), count(a.stats.macsInference.mean),
      pm(a.stats.inferUsPerExample, 2), pm(a.stats.stepUsPerExample, 2), ...(paired ? [pm(a.stats.inferVsDense, 2), pm(a.stats.stepVsDense, 2)] : [])]);
    return table(['kind', 'k', 'parameters', 'MACs / example (inference)', 'inference µs / example', 'training step µs / example',
      ...(paired ? ['inference ÷ dense of equal compute', 'training step ÷ dense of equal compute'] : [])], rows);
  },
};

for (const path of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(path, 'utf8'));
  console.log(`### ${r.experiment}${r.quick ? ' (quick)' : ''}\n\n${meta(r)}\n\n${render[r.experiment](r)}\n`);
}
