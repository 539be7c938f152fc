/**
 * The experiments' results and HTML reports: every experiment run at tiny settings over two seeds, its report opened
 * in headless Chromium (test/report/chromium.ts), results read back, resumed, compared and tabled (the scripts of
 * docs/results.md), and damaged results.json files refused. (A training run's report is test/report/report.test.ts's.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aggregate, duration, machine, pm, reportMeta, statSeries, type ExperimentOptions, type ExperimentResult, type ExperimentRun } from '../../src/experiments/common.js';
import { experimentReport, readExperimentResult } from '../../src/experiments/results.js';
import { runAccuracy } from '../../src/experiments/accuracy.js';
import { runGating, usageEpochs, USAGE_EPOCHS } from '../../src/experiments/gating.js';
import { runMemorization } from '../../src/experiments/memorization.js';
import { runSpeed } from '../../src/experiments/speed.js';
import { dodge, horizontalLine, renderReport, seriesTraces, type Trace } from '../../src/report/html.js';
import { TreegateError } from '../../src/core/errors.js';
import { CLI_ARGS, ROOT } from '../cli-command.js';
import { checkPage, skip, TMP } from '../report/chromium.js';

// every experiment at tiny settings over seeds 1 and 2, run once for the tests below that need them
const opts = (): ExperimentOptions => ({ seeds: 2, quick: true, progress: () => {}, log: () => {} });
const tiny = { epochs: 1, batchSize: 64, lr: 1e-3 };
const tinyRuns = {
  memorization: (o: ExperimentOptions) => runMemorization({ ...o, override: { examples: 300, inputSize: 8, hidden: 8, depths: [0, 2], train: { epochs: tiny.epochs, batchSize: tiny.batchSize } } }, [1, 2]),
  accuracy: (o: ExperimentOptions) => runAccuracy({ ...o, override: { datasets: ['mnist'], limit: 600, depths: [0, 1], train: { ...tiny, weightDecay: 0.1 } } }, [1, 2]),
  gating: (o: ExperimentOptions) => runGating({ ...o, override: { limit: 600, depths: [1, 2], train: { ...tiny, epochs: 2 } } }, [1, 2]),
  speed: (o: ExperimentOptions) => runSpeed({ ...o, override: { width: 16, batch: 8, depths: [0, 2, 4], rounds: 2, denseCap: 24, budgetMs: 5 } }, [1, 2]),
};
type TinyName = keyof typeof tinyRuns;
const wholeRuns = new Map<TinyName, Promise<ExperimentRun>>();
const whole = (name: TinyName): Promise<ExperimentRun> => {
  if (!wholeRuns.has(name)) wholeRuns.set(name, tinyRuns[name](opts()));
  return wholeRuns.get(name)!;
};

test('gating\'s heatmaps are of the first seed\'s usage at each depth, epoch by epoch, as its heading says', async () => {
  const r = await whole('gating');
  assert.deepEqual(Object.keys(r.usage!), ['1', '2']);
  for (const [k, variants] of Object.entries(r.usage!)) {
    for (const [variant, epochs] of Object.entries(variants)) {
      const first = r.runs.find((x) => x.gating === variant && x.seed === r.seeds[0] && x.k === Number(k))!;
      assert.deepEqual(epochs.map((e) => e.stats.balance.toFixed(4)).join(' '), first.balanceByEpoch, `${variant} at k = ${k}`);
      assert.ok(epochs.every((e) => e.stats.leaves === 2 ** Number(k)), `${variant} at k = ${k}: 2^k leaves`);
    }
  }
  // each run's balance and dead leaves are its last epoch's
  for (const x of r.runs) {
    assert.equal(Number(x.balance).toFixed(4), String(x.balanceByEpoch).split(' ').at(-1), `${x.gating} seed ${x.seed}`);
    assert.equal(String(x.deadLeaves), String(x.deadByEpoch).split(' ').at(-1), `${x.gating} seed ${x.seed}`);
  }
});

test('gating records the leaf usage of every few epochs past USAGE_EPOCHS (the first and the last among them); its results read back and draw', async () => {
  const epochs = (n: number) => usageEpochs(Array.from({ length: n }, (_, i) => ({ epoch: i + 1 }))).map((e) => e.epoch);
  assert.deepEqual(epochs(USAGE_EPOCHS), Array.from({ length: USAGE_EPOCHS }, (_, i) => i + 1));
  const many = epochs(2 * USAGE_EPOCHS + 1);
  assert.deepEqual([many.length, many.slice(0, 3), many.at(-1)], [68, [1, 3, 6], 2 * USAGE_EPOCHS + 1]); // (every 3rd: 67 of them, and epoch 1)
  // a run of 120 epochs (one step each, on 60 examples): 61 epochs recorded a variant, the run's and the report's
  const r = await runGating({ ...opts(), seeds: 1, override: { limit: 60, depths: [1], train: { ...tiny, epochs: 120 } } }, [1]);
  for (const list of Object.values(r.usage!['1'])) assert.deepEqual(list.map((e) => e.epoch), epochs(120));
  assert.equal(String(r.runs[0].balanceByEpoch).split(' ').length, 120, 'the balance of every epoch, still');
  const path = join(TMP, 'gating-120.json');
  writeFileSync(path, JSON.stringify({ ...r, command: 't', date: 'd', machine: machine('js') }));
  const back = readExperimentResult(path);
  const heatmap = experimentReport(back).sections[0].charts!.find((c) => c.title.startsWith('leaf usage, units'))!;
  assert.deepEqual((heatmap.traces[0] as { y: number[] }).y, epochs(120));
  writeFileSync(path, JSON.stringify({ ...r, usage: { 1: { ...r.usage!['1'], units: r.usage!['1'].units.slice(1) } }, command: 't', date: 'd', machine: machine('js') }));
  assert.throws(() => readExperimentResult(path), /usage\['1'\]\['units'\] is not a list of 61 epochs \(every few of the 120\)/);
});

test('memorization reports each kind and depth at the learning rate that fits the most, the first in lrs on a tie', async () => {
  // rates too small to move a weight (float32): every rate fits the same labels, a tie the first rate wins, in either order
  for (const lrs of [[1e-30, 2e-30], [2e-30, 1e-30]]) {
    const r = await runMemorization({ ...opts(), seeds: 1, override: { examples: 64, inputSize: 4, hidden: 4, depths: [0, 2], lrs, train: { epochs: 1, batchSize: 64 } } }, [1]);
    for (const a of r.aggregate) {
      const other = r.aggregate.find((b) => b.kind === a.kind && b.k === a.k && b.lr !== a.lr)!;
      assert.equal(a.stats.fitted.mean, other.stats.fitted.mean, `${a.kind} k=${a.k}: the rates tie`);
    }
    assert.equal(r.best!.length, 8, 'one per kind and depth');
    for (const b of r.best!) assert.equal(b.lr, lrs[0], `${b.kind} k=${b.k}: lrs ${lrs.join(', ')}`);
  }
});

test('every experiment renders its report (tiny settings), and again from its results.json: all charts drawn, no console error', { skip, timeout: 300_000 }, async () => {
  const cases: Array<[TinyName, ExperimentRun, number]> = [
    ['memorization', await whole('memorization'), 4],
    ['accuracy', await whole('accuracy'), 3],
    ['gating', await whole('gating'), 6],
    ['speed', await whole('speed'), 2],
  ];
  for (const [name, result, minCharts] of cases) {
    const full: ExperimentResult = { ...result, command: `test ${name}`, date: new Date().toISOString(), machine: machine('js') };
    assert.equal(full.seeds.length, 2);
    assert.ok(full.runs.length > 0 && full.aggregate.length > 0, `${name}: runs and aggregates`);
    for (const a of full.aggregate) assert.ok(a.seeds === 2, `${name}: every configuration has both seeds`);
    const page = renderReport(experimentReport(full));
    const path = join(TMP, `${name}.html`);
    writeFileSync(path, page);
    await checkPage(path, `${name} report`, minCharts);
    // the same page from the results file the run writes (treegate report DIR)
    const dir = join(TMP, `experiment-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(full, null, 1) + '\n');
    const r = spawnSync(process.execPath, [...CLI_ARGS, 'report', dir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const again = readFileSync(join(dir, 'report.html'), 'utf8');
    const charts = (html: string) => html.slice(html.lastIndexOf('const charts = '));
    assert.equal(charts(again), charts(page), `${name}: the report from results.json draws the same charts`);
  }
  // the speed run's capped dense layer (k = 4 at width 24): markers alone, not a line that doubles back
  const speed = experimentReport({ ...cases[3][1], command: 't', date: 'd', machine: machine('js') });
  const capped = speed.sections[0].charts![0].traces.find((t) => String(t.name).startsWith('dense at the width cap'));
  assert.ok(capped && capped.mode === 'markers', 'the capped dense points are markers');
  // each time against the dense layer of equal compute timed in the same rounds: a column each, a ratio per run
  const columns = speed.sections[0].tables![0].columns;
  assert.ok(columns.includes('inference ÷ dense 16→16') && columns.includes('training step ÷ dense 16→16'), columns.join(', '));
  assert.ok(cases[3][1].runs.every((r) => Number(r.inferVsDense) > 0 && Number(r.stepVsDense) > 0), 'paired ratios recorded per run');
});

test('accuracy: the dense MLP (k = 0) is one run, one table row and the first point of every curve, in new and older results alike', { timeout: 300_000 }, async () => {
  const run = await whole('accuracy');
  assert.deepEqual([...new Set(run.runs.filter((r) => r.k === 0).map((r) => r.variant))], ['tree, γ = 1'], 'one k = 0 run per seed');
  assert.equal(run.aggregate.filter((a) => Number(a.k) === 0).length, 1, 'one k = 0 aggregate');
  // results written before 2026-12-04 listed the k = 0 aggregate under every variant
  const older = { ...run, aggregate: run.aggregate.flatMap((a) => (Number(a.k) === 0
    ? ['tree, γ = 1', 'tree, γ = 2', 'flat', 'flat, 3× lr'].map((variant) => ({ ...a, variant })) : [a])) };
  for (const r of [run, older]) {
    const report = experimentReport({ ...r, command: 't', date: 'd', machine: machine('js') });
    const rows = report.sections[0].tables![0].rows.filter((row) => row[2] === 0);
    assert.deepEqual(rows.map((row) => row[1]), ['dense (k = 0)']);
    for (const chart of report.sections[0].charts!.filter((c) => c.title.includes('vs depth k'))) {
      // (a series drawn a little to the side, apart from the others' error bars, keeps its own x as customdata)
      for (const t of chart.traces.filter((t) => Array.isArray(t.x))) assert.equal(((t.customdata ?? t.x) as number[])[0], 0, `${chart.title}: ${t.name} starts at k = 0`);
    }
  }
});

test('memorization, accuracy and speed resumed after seed 1 run seed 2 alone and give the whole run\'s results but for timings; other settings are refused', { timeout: 300_000 }, async () => {
  // as `treegate experiment --resume` goes on from an interrupted run's results.json (gating: test/cli/experiment.test.ts)
  const untimed = (rows: ExperimentRun['runs']) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([key]) => !/UsPerExample$|VsDense$/.test(key))));
  for (const name of ['memorization', 'accuracy', 'speed'] as const) {
    const w = await whole(name);
    const calls: Array<[number, number, string]> = [];
    const resume = { seeds: [1], runs: w.runs.filter((r) => r.seed === 1), settings: w.settings };
    const r = await tinyRuns[name]({ ...opts(), resume, progress: (done, total, label) => void calls.push([done, total, label]) });
    const total = calls[0][1], perSeed = total / 2;
    assert.ok(calls.slice(0, -1).every(([, , label]) => /seed 2/.test(label)), `${name}: only seed 2 runs: ${calls.map((c) => c[2]).join('; ')}`);
    assert.deepEqual(calls.map(([done]) => done), [...Array.from({ length: perSeed }, (_, i) => perSeed + i), total], `${name}: progress counted from seed 1's runs`);
    assert.deepEqual(r.seeds, [1, 2], name);
    assert.equal(r.interrupted, undefined, name);
    assert.deepEqual(untimed(r.runs), untimed(w.runs), `${name}: the runs of the uninterrupted run`);
    await assert.rejects(tinyRuns[name]({ ...opts(), resume: { ...resume, settings: { ...w.settings, epochs: 99 } } }),
      /the interrupted run's settings are not this run's: epochs was nothing, would be 99|epochs was 99/, `${name}: other settings`);
  }
});

test('the committed results of docs/results read back and render their reports', () => {
  const charts: Record<string, number> = { memorization: 4, accuracy: 6, gating: 3, speed: 2 };
  for (const [name, n] of Object.entries(charts)) {
    const r = readExperimentResult(join(ROOT, 'docs', 'results', `${name}.json`));
    assert.equal(r.experiment, name);
    const report = experimentReport(r);
    assert.ok(report.sections[0].charts!.length >= n, `${name}: ${report.sections[0].charts!.length} charts`);
    assert.ok(renderReport(report).includes('const charts = '), name);
    // the captions say what the bars are; a run of one seed has none
    assert.ok(report.sections[0].charts!.every((c) => /Mean ± std over seeds|the lowest and the highest seed|grey: a leaf not used/.test(c.note ?? '')), name);
    const single = experimentReport({ ...r, seeds: [1] });
    assert.ok(single.sections[0].charts!.every((c) => /One seed: no spread to show|grey: a leaf not used/.test(c.note ?? '')), `${name}, one seed`);
    // a model without leaves has no balance: '–', in memorization's table as in accuracy's
    if (name === 'memorization') {
      const rows = report.sections[0].tables![0].rows.filter((row) => String(row[0]).startsWith('dense'));
      assert.ok(rows.length > 0 && rows.every((row) => row.at(-1) === '–'), `memorization's dense rows: ${rows.map((row) => row.at(-1)).join(', ')}`);
    }
  }
});

test('docs/results.md\'s tables are what scripts/results-tables.mjs prints from the committed results', () => {
  const files = ['memorization', 'accuracy', 'gating', 'speed'].map((n) => join(ROOT, 'docs', 'results', `${n}.json`));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'results-tables.mjs'), ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const doc = readFileSync(join(ROOT, 'docs', 'results.md'), 'utf8');
  // each Markdown table printed (a header, its rule, its rows) stands in the document as printed
  const tables = r.stdout.split('\n\n').filter((b) => b.startsWith('| '));
  assert.equal(tables.length, 5);
  for (const t of tables) assert.ok(doc.includes(t.trim()), `docs/results.md lacks, as printed:\n${t.split('\n').slice(0, 3).join('\n')}`);
});

test('scripts/compare-results.mjs compares two results.json files row by row: metric points, time ratios, the best-rate rows apart', () => {
  const row = (kind: string, k: number, lr: number, fitted: number, us: number) =>
    ({ seeds: 3, kind, k, lr, stats: { fitted: { mean: fitted }, trainUsPerExample: { mean: us } } });
  const file = (name: string, rows: ReturnType<typeof row>[], best: ReturnType<typeof row>[]) => {
    const path = join(TMP, name);
    writeFileSync(path, JSON.stringify({ experiment: 'memorization', aggregate: rows, best }));
    return path;
  };
  // the new file: one row 2 points up and twice as fast, one 0.5 down at the same time, one row of its own (unmatched)
  const before = file('old.json', [row('tree', 2, 0.001, 0.5, 10), row('tree', 2, 0.003, 0.6, 10)], [row('tree', 2, 0.003, 0.6, 10)]);
  const after = file('new.json', [row('tree', 2, 0.001, 0.52, 5), row('tree', 2, 0.003, 0.595, 10), row('flat', 2, 0.003, 0.9, 1)],
    [row('tree', 2, 0.003, 0.595, 10)]);
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'compare-results.mjs'), before, after], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['{"k":2,"kind":"tree","lr":0.001}: +2.00 points, time ×0.50', '{"k":2,"kind":"tree","lr":0.003}: -0.50 points, time ×1.00']);
  assert.match(lines[2], /^every row \(2 rows\): metric differs by at most 2\.00 points \(\{"k":2,"kind":"tree","lr":0\.001\}\); training time new ÷ old: median 0\.75, 0\.50–1\.00$/);
  assert.match(lines[3], /^best learning rates \(1 row\): metric differs by at most 0\.50 points/);
  // files of two experiments are not compared
  const other = join(TMP, 'other.json');
  writeFileSync(other, JSON.stringify({ experiment: 'accuracy', aggregate: [] }));
  const refused = spawnSync(process.execPath, [join(ROOT, 'scripts', 'compare-results.mjs'), before, other], { encoding: 'utf8' });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /is of memorization, .* of accuracy/);
  // a gating file of before --depths (settings.depth, rows without k) meets a newer one of that depth row by row; gating
  // records no training times, which is said rather than printed as NaN
  const gating = (name: string, settings: object, rows: object[]) => {
    const path = join(TMP, name);
    writeFileSync(path, JSON.stringify({ experiment: 'gating', settings, aggregate: rows }));
    return path;
  };
  const acc = (mean: number) => ({ testAccuracy: { mean }, balance: { mean: 0.5 } });
  const older = gating('gating-old.json', { depth: 4 }, [{ seeds: 3, gating: 'units', stats: acc(0.95) }]);
  const newer = gating('gating-new.json', { depths: [2, 4] }, [{ seeds: 3, k: 2, gating: 'units', stats: acc(0.9) }, { seeds: 3, k: 4, gating: 'units', stats: acc(0.96) }]);
  const g = spawnSync(process.execPath, [join(ROOT, 'scripts', 'compare-results.mjs'), older, newer], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  assert.deepEqual(g.stdout.trim().split('\n'), ['{"gating":"units","k":4}: +1.00 points',
    'every row (1 row): metric differs by at most 1.00 points ({"gating":"units","k":4}); no training times (the experiment records none)']);
});

test('gating results of before --depths (settings.depth, no k) read as a run of that one depth: each run and configuration at it, the leaf usage under it', () => {
  const path = join(ROOT, 'docs', 'results', 'gating.json'), raw = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual([raw.settings.depth, raw.settings.depths, raw.runs[0].k, Object.keys(raw.usage)[0]], [4, undefined, undefined, 'units'], 'the committed file is of the older layout');
  const r = readExperimentResult(path);
  assert.deepEqual([r.settings.depths, r.settings.depth], [[4], undefined]);
  assert.ok(r.runs.every((x) => x.k === 4) && r.aggregate.every((a) => a.k === 4));
  assert.deepEqual(Object.keys(r.usage!), ['4']);
  assert.deepEqual(Object.keys(r.usage!['4']), ['units', 'projection', 'projection + straight-through']);
  assert.deepEqual(r.usage!['4'].units, raw.usage.units);
  // drawn as before: one depth's charts, titled as they were
  assert.deepEqual(experimentReport(r).sections[0].charts!.map((c) => c.title), ['balance after each epoch', 'dead leaves after each epoch', 'test accuracy',
    'leaf usage, units (seed 1)', 'leaf usage, projection (seed 1)', 'leaf usage, projection + straight-through (seed 1)']);
});

test("gating's report gives accuracies in percent, as the others do; its dead leaves chart keeps a line at zero and the end markers clear of the frame", () => {
  const r = readExperimentResult(join(ROOT, 'docs', 'results', 'gating.json'));
  const { charts, tables } = experimentReport(r).sections[0];
  const chart = (title: string) => charts!.find((c) => c.title === title)!.layout as Record<string, any>;
  assert.equal(chart('test accuracy').yaxis.tickformat, '.1~%');
  assert.deepEqual(tables![0].rows.map((row) => row.slice(0, 3)), [[4, 'units', '98.28 ± 0.09%'], [4, 'projection', '98.06 ± 0.08%'], [4, 'projection + straight-through', '97.85 ± 0.11%']],
    'the depth of each row, the one these results of before --depths ran');
  // as the training report's: the most dead leaves of any seed is 13 (units, seed 1); five epochs
  const dead = chart('dead leaves after each epoch');
  assert.deepEqual(dead.yaxis.range, [-13 / 20, 13 * 1.05]);
  for (const title of ['dead leaves after each epoch', 'balance after each epoch']) assert.deepEqual(chart(title).xaxis.range, [0.5, 5.5], title);
});

test("accuracy's table gives the test and train accuracies in percent, as its charts do", () => {
  const { tables } = experimentReport(readExperimentResult(join(ROOT, 'docs', 'results', 'accuracy.json'))).sections[0];
  assert.deepEqual(tables![0].rows[0].slice(0, 7), ['mnist', 'dense (k = 0)', 0, '269,322', '268,800', '97.99 ± 0.08%', '99.37 ± 0.06%']);
  // the dense MLP of equal parameters: the tree's count, at its width's multiply-adds, and no leaves
  const widened = tables![0].rows.find((row) => row[1] === 'dense, equal parameters' && row[2] === 6)!;
  assert.deepEqual([...widened.slice(0, 7), ...widened.slice(-2)], ['mnist', 'dense, equal parameters', 6, '8,561,815', '8,556,695', '98.53 ± 0.03%', '99.86 ± 0.01%', '–', '–']);
  // its training and inference µs per example, between them
  assert.match(`${widened[7]} ${widened[8]}`, /^\d+\.\d \d+\.\d\d$/);
});

test('accuracy: results that timed inference (since 2026-12-08) add charts of accuracy against the time per example, after the others', () => {
  const titles = (file: string) => experimentReport(readExperimentResult(file)).sections[0].charts!.map((c) => c.title);
  const now = titles(join(ROOT, 'docs', 'results', 'accuracy.json')), before = titles(join(ROOT, 'test', 'fixtures', 'accuracy-2026-12-02.json'));
  assert.equal(before.length, 6);
  assert.deepEqual(now.slice(0, 6), before, 'the earlier charts keep their places (and docs/results\' image numbers)');
  assert.deepEqual(now.slice(6), ['mnist', 'fashion-mnist'].flatMap((d) => ['inference', 'training'].map((w) => `${d}: test accuracy vs ${w} time per example`)));
  const report = experimentReport(readExperimentResult(join(ROOT, 'docs', 'results', 'accuracy.json')));
  const chart = report.sections[0].charts![6];
  const dense = chart.traces.find((t) => t.name === 'dense, equal parameters') as { customdata?: number[]; x: number[] };
  const row = report.sections[0].tables![0].rows.find((r) => r[0] === 'mnist' && r[1] === 'dense, equal parameters' && r[2] === 6)!;
  assert.equal(Number(((dense.customdata ?? dense.x).at(-1)!).toFixed(2)), Number(row[8]), 'its x is the table\'s inference time');
});

test('series with error bars are drawn side by side in every chart of a report, on a log x axis by a factor; each hovers at its own x', () => {
  // (accuracy's results of 2026-12-02, four variants: docs/results' file until 2026-12-07)
  const report = experimentReport(readExperimentResult(join(ROOT, 'test', 'fixtures', 'accuracy-2026-12-02.json')));
  const drawn = JSON.parse(/const charts = (.*);\n/.exec(renderReport(report))![1]) as Array<{ data: Trace[] }>;
  const traces = (title: string) => drawn[report.sections[0].charts!.findIndex((c) => c.title === title)].data;
  // four variants, k = 0, 2, 4, 6: 4% of the step of 2 between them, centred
  const byK = traces('mnist: test accuracy vs depth k');
  assert.deepEqual(byK.slice(0, 4).map((t) => Number(((t.x as number[])[1] - 2).toFixed(9))), [-0.12, -0.04, 0.04, 0.12]);
  for (const t of byK.slice(0, 4)) {
    assert.deepEqual(t.customdata, [0, 2, 4, 6]);
    assert.match(String(t.hovertemplate), /^%\{customdata\}, %\{y\}/);
  }
  assert.deepEqual(byK[4].x, [0, 6], 'the dense line spans the depths');
  // parameters on a log axis: each variant moved by one factor at every x, the two of a model's size (γ = 1 and 2,
  // flat at two rates) apart, the four centred
  const byParams = traces('mnist: test accuracy vs parameters').slice(0, 4);
  const factors = byParams.map((t) => (t.x as number[]).map((x, i) => x / (t.customdata as number[])[i]));
  for (const f of factors) assert.ok(f.every((v) => Math.abs(v - f[0]) < 1e-12), `one factor at every x: ${f}`);
  assert.ok(factors[0][0] < factors[1][0] && factors[1][0] < 1 && factors[2][0] > 1 && factors[2][0] < factors[3][0], `${factors.map((f) => f[0])}`);
  assert.ok(Math.abs(factors[0][0] * factors[3][0] - 1) < 1e-12 && Math.abs(factors[1][0] * factors[2][0] - 1) < 1e-12, 'centred on the true x');
  assert.deepEqual(byParams[0].customdata, report.sections[0].charts!.find((c) => c.title === 'mnist: test accuracy vs parameters')!.traces[0].x);
  // speed's dense layer at the width cap, its three points spread about its one count: the hover gives that count
  const speed = JSON.parse(/const charts = (.*);\n/.exec(renderReport(experimentReport(readExperimentResult(join(ROOT, 'docs', 'results', 'speed.json')))))![1]) as Array<{ data: Trace[] }>;
  const cap = speed[0].data.find((t) => String(t.name).startsWith('dense at the width cap'))!;
  assert.deepEqual(cap.customdata, [16809984, 16809984, 16809984]);
  assert.notDeepEqual(cap.x, cap.customdata);
});

test('dodge: 2 and 3 series with error bars centred about their x, by 4% of the step, on a log axis by a factor; lines and single series left', () => {
  const barred = (name: string, x: number[]) => seriesTraces([{ name, x, y: x.map(() => 1), err: x.map(() => 0.1) }])[0];
  const offsets = (traces: Trace[]) => traces.map((t) => (t.x as number[]).map((x, i) => Number((x - (t.customdata as number[])[i]).toFixed(9))));
  const ratios = (traces: Trace[]) => traces.map((t) => (t.x as number[]).map((x, i) => Number(Math.log10(x / (t.customdata as number[])[i]).toFixed(9))));
  // linear, a step of 1: ±0.02 for two, −0.04, 0 and 0.04 for three
  assert.deepEqual(offsets(dodge([barred('a', [1, 2, 3]), barred('b', [1, 2, 3])])), [[-0.02, -0.02, -0.02], [0.02, 0.02, 0.02]]);
  assert.deepEqual(offsets(dodge([barred('a', [1, 2, 3]), barred('b', [1, 2, 3]), barred('c', [2, 3])])), [[-0.04, -0.04, -0.04], [0, 0, 0], [0.04, 0.04]]);
  // log, a decade a step: a factor of 10^±0.02, 10^±0.04 (the same distance on the screen at every x)
  assert.deepEqual(ratios(dodge([barred('a', [10, 100, 1000]), barred('b', [10, 100, 1000])], true)), [[-0.02, -0.02, -0.02], [0.02, 0.02, 0.02]]);
  assert.deepEqual(ratios(dodge([barred('a', [10, 100]), barred('b', [10, 100]), barred('c', [10, 100])], true)), [[-0.04, -0.04], [0, 0], [0.04, 0.04]]);
  // the step is one series' own: x of two series close together (a tree's 6,922 parameters, moe's 6,986; a dense
  // layer's 32,287, flat's 36,237) do not shrink it to nothing, nor do a series' points spread about one count
  // (speed's at the width cap) under 1% of the span
  assert.deepEqual(ratios(dodge([barred('tree', [6922, 69220, 692200]), barred('moe', [6986, 69860, 698600])], true)), [[-0.02, -0.02, -0.02], [0.02, 0.02, 0.02]]);
  assert.deepEqual(ratios(dodge([barred('dense', [32287, 322870]), barred('flat', [36237, 362370])], true)), [[-0.02, -0.02], [0.02, 0.02]]);
  assert.deepEqual(ratios(dodge([barred('cap', [96, 100, 104]), barred('b', [10, 100, 1000])], true)), [[-0.02, -0.02, -0.02], [0.02, 0.02, 0.02]]);
  const shown = dodge([barred('a', [1, 2]), barred('b', [1, 2])])[1];
  assert.deepEqual([shown.customdata, shown.hovertemplate], [[1, 2], '%{customdata}, %{y}<extra>%{fullData.name}</extra>'], 'the hover gives the true x');
  // a line, a series without bars and a lone series with bars are not moved, nor counted in the centring
  const line = horizontalLine(1, [1, 2], 'target'), plain = seriesTraces([{ name: 'p', x: [1, 2], y: [1, 2] }])[0];
  const mixed = dodge([barred('a', [1, 2]), line, plain, barred('b', [1, 2])]);
  assert.deepEqual([mixed[1], mixed[2]], [line, plain]);
  assert.deepEqual(offsets([mixed[0], mixed[3]]), [[-0.02, -0.02], [0.02, 0.02]]);
  const one = [barred('a', [1, 2]), plain];
  assert.equal(dodge(one), one, 'one series with bars: nothing to keep apart');
  // a trace's own customdata (speed's points at the width cap, spread about one count) is what its hover gives
  const own = dodge([{ ...barred('cap', [0.96, 1.04]), customdata: [1, 1], text: ['k = 6', 'k = 7'] }, barred('b', [1, 2])])[0];
  assert.deepEqual([own.customdata, own.hovertemplate], [[1, 1], '%{customdata}, %{y}<br>%{text}<extra>%{fullData.name}</extra>']);
});

test("speed's text says what its table and charts show: the table mean ± std over seeds, the charts' bars the lowest and highest seed", () => {
  const r = readExperimentResult(join(ROOT, 'docs', 'results', 'speed.json'));
  const { text, tables, charts } = experimentReport(r).sections[0];
  assert.match(text![0], /the table gives the mean ± std of the seeds' figures, the charts their mean, with bars from the lowest to the highest seed\.$/);
  assert.match(String(tables![0].rows[0][4]), /^[\d.]+ ± [\d.]+$/);
  for (const c of charts!) assert.match(c.note!, /bars: the lowest and the highest seed/, c.title);
  assert.doesNotMatch(experimentReport({ ...r, seeds: [1] }).sections[0].text![0], /±/, 'one seed: no spread');
});

test("speed's report at depths of its choice: a depth alone, or depths whose dense layer is capped at each (no empty widened line)", async () => {
  const timing = { rounds: 1, budgetMs: 1 };
  // width 8, quick: the dense layer capped at 256 from k = 4 on
  for (const [depths, lines] of [[[8], ['tree', 'moe', 'dense at the width cap (256), timed at k = 8']], [[6, 8], ['tree', 'moe', 'dense at the width cap (256), timed at k = 6, 8']],
    [[0], ['tree', 'moe', 'dense, widened']], [[2, 5], ['tree', 'moe', 'dense, widened', 'dense at the width cap (256), timed at k = 5']]] as const) {
    const run = await runSpeed({ ...opts(), seeds: 1, width: 8, batch: 4, depths: [...depths], override: timing }, [1]);
    assert.ok(run.runs.every((x) => x.capped === 0 || x.kind === 'dense'), `depths ${depths}: only the dense layer is capped`);
    const report = experimentReport({ ...run, command: 't', date: 'd', machine: machine('js') });
    assert.deepEqual(report.sections[0].tables![0].rows.map((row) => row[1]), depths.flatMap((k) => [k, k, k]), `depths ${depths}`);
    for (const chart of report.sections[0].charts!) {
      // (the ratio charts' line at 1 aside)
      assert.deepEqual(chart.traces.map((t) => t.name).filter((name) => !String(name).endsWith('(equal compute) = 1')), lines, `depths ${depths}: ${chart.title}`);
    }
    assert.ok(renderReport(report).includes('const charts = '));
  }
});

test('experiment report helpers: wall times rounded to the second, minutes from 60 s, hours from 3600 s; one seed\'s mean alone; one thread; range bars from the lowest to the highest seed; a metric a configuration lacks is NaN', () => {
  assert.deepEqual([59.4, 59.6, 60, 191.4, 3599.4, 3600, 7385].map(duration), ['59 s', '1 min 0 s', '1 min 0 s', '3 min 11 s', '59 min 59 s', '1 h 0 min', '2 h 3 min']);
  assert.equal(pm({ mean: 0.5, std: NaN, min: 0.5, max: 0.5 }, 2), '0.50');
  assert.equal(pm({ mean: 0.5, std: 0.25, min: 0.25, max: 0.75 }, 2), '0.50 ± 0.25');
  const meta = (threads: number) => reportMeta({ experiment: 'speed', quick: true, seeds: [1], date: 'd', command: 'c', settings: {}, runs: [], aggregate: [],
    machine: { cpu: 'cpu', cores: 2, memoryGiB: 4, node: 'v20', backend: 'js', threads } }).machine;
  assert.deepEqual([meta(1), meta(2)], ['cpu, 2 cores, 4 GiB, node v20, 1 thread', 'cpu, 2 cores, 4 GiB, node v20, 2 threads']);
  const rows = aggregate([{ k: 0, t: 2, balance: null }, { k: 0, t: 1, balance: null }, { k: 0, t: 4, balance: null }], ['k'], ['t', 'balance']);
  assert.deepEqual(statSeries(rows, (a) => Number(a.k), 't', 'range'), { x: [0], y: [7 / 3], lo: [1], hi: [4] });
  assert.ok(['mean', 'std', 'min', 'max'].every((f) => Number.isNaN(rows[0].stats.balance[f as 'mean'])), 'balance lacked: NaN, not 0');
});

test('readExperimentResult names the field a damaged results.json lacks or holds out of range', () => {
  const committed = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'results', `${name}.json`), 'utf8'));
  const speed = committed('speed'), gating = committed('gating'), memo = committed('memorization'), acc = committed('accuracy');
  type J = Record<string, any>;
  const withStat = (j: J, list: 'aggregate' | 'best', metric: string, stat: unknown) =>
    ({ ...j, [list]: [{ ...j[list][0], stats: { ...j[list][0].stats, [metric]: stat } }, ...j[list].slice(1)] });
  const withRun = (j: J, i: number, edit: J) => ({ ...j, runs: j.runs.map((r: J, k: number) => (k === i ? { ...r, ...edit } : r)) });
  const cases: Array<[string, unknown, RegExp]> = [
    ['not json', '{"experiment": "speed", ', /not valid JSON/],
    ['unknown experiment', { ...speed, experiment: 'hello' }, /experiment is "hello", expected one of memorization, accuracy, gating, speed/],
    ['an inherited name', { ...speed, experiment: 'constructor' }, /experiment is "constructor", expected one of/],
    ['no seeds', { ...speed, seeds: [] }, /seeds is not a list of whole numbers/],
    ['a setting of another kind', { ...memo, settings: { ...memo.settings, depths: 3 } }, /settings\.depths is 3, expected a list of depths/],
    ['a setting out of range', { ...gating, settings: { ...gating.settings, depth: 99 } }, /settings\.depth is 99, expected a depth/],
    ['speed\'s depths not depths', { ...speed, settings: { ...speed.settings, depths: [0, 'a'] } }, /settings\.depths is \[0,"a"\], expected absent or a list of depths/],
    ['a nested setting missing', { ...gating, settings: { ...gating.settings, train: {} } }, /settings\.train\.epochs is missing, expected a whole number ≥ 1/],
    ['a stat not an object', withStat(speed, 'aggregate', 'stepUsPerExample', 2), /aggregate\[0\]\.stats\.stepUsPerExample is not \{ mean, std, min, max \}/],
    ['a null mean of a metric every configuration has', withStat(memo, 'best', 'fitted', { mean: null, std: null, min: 0.3, max: 0.4 }),
      /best\[0\]\.stats\.fitted\.mean is null, expected a number in \[0, 1\]/],
    ['a negative time', withStat(memo, 'aggregate', 'inferUsPerExample', { mean: -1, std: 0, min: -1, max: -1 }), /inferUsPerExample\.mean is -1, expected a number ≥ 0/],
    ['a fraction below 0', withStat(memo, 'aggregate', 'fitted', { mean: 0.25, std: 0.3, min: -0.125, max: 0.5 }),
      /aggregate\[0\]\.stats\.fitted\.min is -0\.125, expected a number in \[0, 1\]/],
    ['a depth that is a word', { ...memo, aggregate: [{ ...memo.aggregate[0], k: 'abc' }] }, /aggregate\[0\]\.k is "abc", expected a depth/],
    ['a variant the report does not draw', { ...acc, aggregate: [{ ...acc.aggregate[0], variant: 'other' }] }, /aggregate\[0\]\.variant is "other", expected one of tree, γ = 1/],
    ['a dataset not in the settings', { ...acc, aggregate: [{ ...acc.aggregate[0], dataset: 'cifar' }] }, /aggregate\[0\]\.dataset is "cifar", expected one of mnist, fashion-mnist/],
    ['a machine without backend', { ...speed, machine: { ...speed.machine, backend: 1 } }, /machine is not/],
    ['a wall time that is a word', { ...speed, seconds: 'long' }, /seconds is not a number of seconds ≥ 0/],
    ['an interruption that lacks a reported seed', { ...speed, interrupted: { seeds: [2], droppedRuns: 1 } }, /interrupted is not \{ seeds/],
    ['an interruption without its dropped runs', { ...speed, interrupted: { seeds: [1, 2, 3] } }, /interrupted is not \{ seeds/],
    ['a gating variant without runs', { ...gating, runs: gating.runs.filter((r: J) => r.gating !== 'units') }, /runs has no run of 'units' at k = 4 for seed 1/],
    ['an empty epoch column', withRun(gating, 0, { balanceByEpoch: '' }), /runs\[0\]\.balanceByEpoch is "", expected 5 values \(one per epoch, space-separated\), each a balance in \[0, 1\]/],
    ['a short epoch column', withRun(gating, 1, { deadByEpoch: '0 0' }), /runs\[1\]\.deadByEpoch is "0 0", expected 5 values/],
    ['an impossible dead count', withRun(gating, 0, { deadByEpoch: '1 99 0 0 0' }), /each a count of dead leaves in \[0, 16\]/],
    ['usage of another leaf count', { ...gating, usage: { ...gating.usage, units: gating.usage.units.map((e: J) => ({ ...e, stats: { ...e.stats, leaves: 4, usage: [[1, 2, 3, 4]] } })) } },
      /usage\['4'\]\['units'\]\[0\]\.stats has 4 leaves, expected 2\^4 = 16/],
    ['usage of a variant missing', { ...gating, usage: { units: gating.usage.units } }, /usage\['4'\]\['projection'\] is not a list of 5 epochs/],
    ['a fraction above 1', withStat(memo, 'aggregate', 'fitted', { mean: 0.75, std: 0.3, min: 0.5, max: 1.25 }), /aggregate\[0\]\.stats\.fitted\.max is 1\.25, expected a number in \[0, 1\]/],
    ['a metric every configuration has, lacking', withStat(memo, 'aggregate', 'fitted', { mean: null, std: null, min: null, max: null }), /aggregate\[0\]\.stats\.fitted\.mean is null, expected a number in \[0, 1\]/],
    ['a negative std', withStat(speed, 'aggregate', 'stepUsPerExample', { mean: 1, std: -0.5, min: 1, max: 1 }), /stats\.stepUsPerExample\.std is -0\.5, expected a number ≥ 0 or null/],
    ['a negative count of dropped runs', { ...speed, interrupted: { seeds: [1, 2, 3], droppedRuns: -1 } }, /interrupted is not \{ seeds/],
    ['commands that are not text', { ...speed, resumedWith: [1] }, /resumedWith is not a list of commands \(strings\)/],
    ['a provenance without its version', { ...speed, provenance: { commit: 'abc' } }, /provenance is not \{ treegate, commit\?/],
    ['no threads', { ...speed, machine: { ...speed.machine, threads: 0 } }, /machine\.threads is not a whole number ≥ 1/],
    ['a gating variant without the runs of a seed', { ...gating, runs: gating.runs.filter((r: J) => !(r.gating === 'units' && r.seed === 2)) }, /runs has no run of 'units' at k = 4 for seed 2/],
    ['usage epochs out of order', { ...gating, usage: { ...gating.usage, units: [...gating.usage.units].reverse() } }, /usage\['4'\]\['units'\]\[0\]\.epoch is not 1/],
  ];
  const p = join(TMP, 'bad-results.json');
  for (const [what, v, message] of cases) {
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    assert.throws(() => readExperimentResult(p), (e: unknown) => e instanceof TreegateError && message.test(e.message) && e.message.startsWith(p), what);
  }
  // in range at the ends: no weight decay, a depth of 24; a std of one seed (null) is read back as NaN
  writeFileSync(p, JSON.stringify({ ...acc, settings: { ...acc.settings, train: { ...acc.settings.train, weightDecay: 0 } } }));
  assert.equal((readExperimentResult(p).settings.train as { weightDecay: number }).weightDecay, 0);
  writeFileSync(p, JSON.stringify({ ...gating, settings: { ...gating.settings, depth: 24 }, usage: undefined,
    runs: gating.runs.map((r: J) => ({ ...r, deadByEpoch: '0 0 0 0 0' })) }));
  assert.deepEqual(readExperimentResult(p).settings.depths, [24], 'one depth, as gating recorded it before --depths, read as a list of it');
  writeFileSync(p, JSON.stringify(withStat(memo, 'aggregate', 'fitted', { mean: 0.5, std: null, min: 0.5, max: 0.5 })));
  assert.ok(Number.isNaN(readExperimentResult(p).aggregate[0].stats.fitted.std), 'a std of null read back as NaN');
  // what the report does not read is not asked for: an older run's settings (minMs where budgetMs is now)
  const older = { ...speed, settings: { ...speed.settings, minMs: 5 } };
  delete older.settings.budgetMs;
  writeFileSync(p, JSON.stringify(older));
  assert.equal(readExperimentResult(p).experiment, 'speed');
  // speed's depths, which --resume reads where they are recorded: a results.json without them renders as with them
  const noDepths = { ...speed, settings: { ...speed.settings } };
  delete noDepths.settings.depths;
  writeFileSync(p, JSON.stringify(noDepths));
  assert.equal(renderReport(experimentReport(readExperimentResult(p))), renderReport(experimentReport(readExperimentResult(join(ROOT, 'docs', 'results', 'speed.json')))));
  // a wall time, where the run recorded one, is in the report's header
  writeFileSync(p, JSON.stringify({ ...speed, seconds: 191.4 }));
  assert.equal(experimentReport(readExperimentResult(p)).meta['wall time'], '3 min 11 s');
  const untimed = { ...speed }; // a run from before results.json recorded its wall time
  delete untimed.seconds;
  assert.equal(experimentReport(untimed).meta['wall time'], undefined);
  // a results file of 150 000 configurations renders (no spread of its values into Math.min)
  const many = { ...speed, aggregate: Array.from({ length: 150_000 }, (_, i) => ({ ...speed.aggregate[i % speed.aggregate.length] })) };
  writeFileSync(p, JSON.stringify(many));
  assert.ok(renderReport(experimentReport(readExperimentResult(p))).length > 0);
});
