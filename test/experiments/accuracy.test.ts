/**
 * The accuracy experiment's dense MLP (k = 0) has no leaves: its runs record no balance or dead leaves (null), its
 * table row shows '–', and results that recorded a depth-0 tree's 1 and 0 (written up to 2026-12-07) still read,
 * show '–' too, and are made alike when resumed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAccuracy } from '../../src/experiments/accuracy.js';
import { completeResult, type ExperimentOptions, type ExperimentResult, type Row } from '../../src/experiments/common.js';
import { experimentReport, readExperimentResult } from '../../src/experiments/results.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The table's balance and dead leaves, by variant and depth. */
function leafColumns(r: Parameters<typeof experimentReport>[0]): string[] {
  return experimentReport(r).sections[0].tables![0].rows.map((row) => `${row[1]} ${row[2]}: ${row.at(-2)} ${row.at(-1)}`);
}

test('accuracy: the dense MLP records no balance or dead leaves (null), its row shows –; resumed from results that recorded 1 and 0, likewise', async (t) => {
  // 120 examples of 3 features, 3 classes; depths 0 and 1, one epoch: 7 small runs a seed
  const dir = mkdtempSync(join(tmpdir(), 'treegate-accuracy-dense-')), csv = join(dir, 'data.csv');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let seed = 3;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  writeFileSync(csv, Array.from({ length: 120 }, (_, i) => [next(), next(), next(), i % 3].map(String).join(',')).join('\n') + '\n');
  const o: ExperimentOptions = { seeds: 1, quick: true, progress: () => {}, log: () => {}, data: { csv }, depths: [0, 1], epochs: 1 };
  const first = await runAccuracy(o, [1]);
  const wide = (x: Row) => x.variant === 'dense, equal parameters';
  const dense = (runs: Row[]) => runs.filter((x) => x.k === 0 || wide(x)), routed = (runs: Row[]) => runs.filter((x) => x.k !== 0 && !wide(x));
  assert.deepEqual(dense(first.runs).map((x) => [x.k, x.balance, x.deadLeaves]), [[0, null, null], [1, null, null]], 'the dense MLP and the one of equal parameters');
  for (const x of routed(first.runs)) assert.ok(typeof x.balance === 'number' && Number.isInteger(x.deadLeaves), `${x.variant}: ${x.balance}, ${x.deadLeaves}`);
  // aggregated to NaN (null in results.json), read back as such, and shown as –
  const path = join(dir, 'results.json');
  writeFileSync(path, JSON.stringify(completeResult(first, 'treegate experiment accuracy', 'js')));
  const read = readExperimentResult(path);
  const d0 = read.aggregate.find((a) => a.k === 0)!;
  assert.ok(Number.isNaN(d0.stats.balance.mean) && Number.isNaN(d0.stats.deadLeaves.mean));
  const shown = leafColumns(read);
  assert.equal(shown[0], 'dense (k = 0) 0: – –');
  assert.equal(shown.at(-1), 'dense, equal parameters 1: – –');
  for (const row of shown.slice(1, -1)) assert.match(row, /^.+ 1: (0|1)\.\d{3} \d\.\d$/);
  // resumed from a run whose results recorded a depth-0 tree's 1 and 0 for its dense MLP: every dense run has none
  const old = first.runs.map((x) => (x.k === 0 ? { ...x, balance: 1, deadLeaves: 0 } : x));
  const resumed = await runAccuracy({ ...o, seeds: 2, resume: { seeds: [1], runs: old, settings: first.settings } }, [1, 2]);
  assert.deepEqual(dense(resumed.runs).map((x) => [x.seed, x.k, x.balance, x.deadLeaves]), [[1, 0, null, null], [1, 1, null, null], [2, 0, null, null], [2, 1, null, null]]);
  assert.deepEqual(routed(resumed.runs).filter((x) => x.seed === 1), routed(first.runs), 'the routed runs as they were');
  const r0 = resumed.aggregate.find((a) => a.k === 0)!;
  assert.ok(Number.isNaN(r0.stats.balance.mean) && Number.isNaN(r0.stats.deadLeaves.mean), 'no 1 of an older run in the mean');
});

test('accuracy: results that recorded the dense MLP\'s balance as 1 (docs/results of 2026-12-02) read as before, and its row shows –', () => {
  // (the file docs/results held until 2026-12-07: four variants, the dense MLP's balance 1 and dead leaves 0)
  const r = readExperimentResult(join(ROOT, 'test', 'fixtures', 'accuracy-2026-12-02.json'));
  assert.equal(r.aggregate.find((a) => a.k === 0)!.stats.balance.mean, 1, 'as recorded');
  const shown = leafColumns(r);
  assert.deepEqual(shown.filter((row) => row.startsWith('dense')), ['dense (k = 0) 0: – –', 'dense (k = 0) 0: – –'], 'MNIST\'s and Fashion-MNIST\'s');
  assert.ok(shown.filter((row) => !row.startsWith('dense')).every((row) => /: (0|1)\.\d{3} \d+\.\d$/.test(row)), shown.join('\n'));
});

test('accuracy: the dense MLP of equal parameters holds the tree\'s parameters at each depth, widened, at more inference compute; older results without it read and are not resumed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-accuracy-wide-')), csv = join(dir, 'data.csv');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(csv, Array.from({ length: 60 }, (_, i) => [i % 7, (i * 5) % 11, (i * 3) % 13, i % 2].map(String).join(',')).join('\n') + '\n');
  const o: ExperimentOptions = { seeds: 1, quick: true, progress: () => {}, log: () => {}, data: { csv }, depths: [0, 1, 3], epochs: 1 };
  const run = await runAccuracy(o, [1]);
  assert.deepEqual(run.settings.variants, ['tree, γ = 1', 'tree, γ = 2', 'flat', 'flat, 3× lr', 'moe', 'dense, equal parameters']);
  for (const k of [1, 3]) {
    const tree = run.runs.find((x) => x.k === k && x.variant === 'tree, γ = 1')!, wide = run.runs.find((x) => x.k === k && x.variant === 'dense, equal parameters')!;
    const [h1, h2] = String(wide.hidden).split(',').map(Number);
    assert.ok(h1 === h2 && h1 > 256, `k = ${k}: both hidden widths scaled alike, past 256: ${wide.hidden}`);
    // the fewest parameters reaching the tree's: within a widening step (one more unit in each layer) of it
    const p = Number(wide.parameters), q = Number(tree.parameters), step = 3 + 2 * h1 + 2 + 2;
    assert.ok(p >= q && p - q < step, `k = ${k}: ${p} parameters against the tree's ${q}`);
    assert.ok(Number(wide.macsInference) > 2 * Number(tree.macsInference), `k = ${k}: ${wide.macsInference} multiply-adds against the tree's ${tree.macsInference}`);
    // the mixture: 2^k experts of the tree's width, one a example, and its router's 2^k × 256 besides; its experts' usage counted
    const moe = run.runs.find((x) => x.k === k && x.variant === 'moe')!;
    assert.equal(moe.hidden, '256,256');
    assert.equal(Number(moe.macsInference) - Number(tree.macsInference), 2 ** k * 256 - k * 256, `k = ${k}: the router's multiply-adds in place of the gaters'`);
    assert.ok(typeof moe.balance === 'number' && Number.isInteger(moe.deadLeaves), `k = ${k}: ${moe.balance}, ${moe.deadLeaves}`);
  }
  // results of before 2026-12-07 22:00 UTC (four variants, no variants setting): their report draws no line for the others,
  // and --resume refuses them, naming the setting
  const four = (x: Record<string, unknown>) => x.variant !== 'dense, equal parameters' && x.variant !== 'moe';
  const older = { ...run, settings: { ...run.settings, variants: undefined }, runs: run.runs.filter(four) };
  const path = join(dir, 'results.json');
  writeFileSync(path, JSON.stringify(completeResult({ ...older, aggregate: run.aggregate.filter(four) }, 'treegate experiment accuracy', 'js')));
  const report = experimentReport(readExperimentResult(path));
  for (const chart of report.sections[0].charts!) assert.ok(!chart.traces.some((tr) => /^(dense, equal|moe)/.test(String(tr.name))), chart.title);
  assert.ok(!report.sections[0].charts!.some((c) => /equal parameters|router/.test(c.note ?? '')));
  await assert.rejects(runAccuracy({ ...o, seeds: 2, resume: { seeds: [1], runs: older.runs, settings: JSON.parse(JSON.stringify(older.settings)) } }, [1, 2]),
    /variants was nothing, would be \["tree, γ = 1".*"moe","dense, equal parameters"\]/);
  // the new run's report: a line for it in each chart, and its multiply-adds in the table
  const result: ExperimentResult = { ...run, command: 't', date: 'd', machine: { cpu: 'c', cores: 1, memoryGiB: 1, node: 'v', backend: 'js' } };
  const now = experimentReport(result);
  for (const chart of now.sections[0].charts!) for (const v of ['moe', 'dense, equal parameters']) assert.ok(chart.traces.some((tr) => tr.name === v), `${chart.title}: ${v}`);
  const row = now.sections[0].tables![0].rows.find((r) => r[1] === 'dense, equal parameters' && r[2] === 3)!;
  assert.equal(row[4], Number(run.runs.find((x) => x.k === 3 && x.variant === 'dense, equal parameters')!.macsInference).toLocaleString('en-US'));
});
