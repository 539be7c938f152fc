/// <reference lib="dom" />
/**
 * The HTML reports: a training run's (treegate report) and every experiment's
 * (tiny settings), opened in headless Chromium (Debian's `chromium`, which
 * .ci/run installs; driven by playwright-core). Every chart must have rendered
 * an SVG with its traces, and the console must show no error.
 *
 * Without /usr/bin/chromium the browser checks are skipped on a developer
 * machine and fail under CI (CI=true), where .ci/run must have installed it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { machine, type ExperimentOptions, type ExperimentResult, type ExperimentRun } from '../../src/experiments/common.js';
import { experimentReport, readExperimentResult } from '../../src/experiments/results.js';
import { runAccuracy } from '../../src/experiments/accuracy.js';
import { runGating } from '../../src/experiments/gating.js';
import { runMemorization } from '../../src/experiments/memorization.js';
import { runSpeed } from '../../src/experiments/speed.js';
import { logTicks, renderReport } from '../../src/report/html.js';
import { readMetrics, trainingReport } from '../../src/report/training.js';
import { TreegateError } from '../../src/core/errors.js';
import { benchReport, parseBenchOutput } from '../../bench/chart.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'treegate-report-'));
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
let browser: Browser | null = null;

before(async () => {
  if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  rmSync(TMP, { recursive: true, force: true });
});

const skip = haveChromium ? false : process.env.CI ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;

/** Opens the page; returns the console errors and, per chart div, whether it rendered and how many traces it drew. */
async function openInChromium(path: string): Promise<{ errors: string[]; charts: Array<{ id: string; svg: boolean; traces: number; drawn: number }> }> {
  assert.ok(browser, `Chromium is needed at ${CHROMIUM}: .ci/run installs it with apt-get`);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  await page.waitForFunction(() => Array.from(document.querySelectorAll('div.chart')).every((d) => d.querySelector('svg.main-svg')), null, { timeout: 20_000 }).catch(() => {});
  const charts = await page.evaluate(() => Array.from(document.querySelectorAll('div.chart')).map((d) => ({
    id: d.id,
    svg: !!d.querySelector('svg.main-svg'),
    traces: ((d as unknown as { data?: unknown[] }).data ?? []).length,
    // drawn marks: scatter traces, bars, heatmap images
    drawn: d.querySelectorAll('g.trace, g.point, g.hm image, image').length,
  })));
  await page.close();
  return { errors, charts };
}

async function checkPage(path: string, what: string, minCharts: number): Promise<void> {
  const { errors, charts } = await openInChromium(path);
  assert.deepEqual(errors, [], `${what}: console errors`);
  assert.ok(charts.length >= minCharts, `${what}: ${charts.length} charts, expected at least ${minCharts}`);
  for (const c of charts) {
    assert.ok(c.svg, `${what}: chart ${c.id} did not render`);
    assert.ok(c.traces > 0 && c.drawn > 0, `${what}: chart ${c.id} has ${c.traces} traces, ${c.drawn} drawn marks`);
  }
}

test('treegate report DIR renders a training run: learning curves, balance, dead leaves, usage heatmap', { skip }, async () => {
  const out = join(TMP, 'run');
  const tr = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--limit', '1200', '--epochs', '2', '--hidden', '16,16',
    '--depth', '2', '--log-every', '5', '--out', out, '--no-progress'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(tr.status, 0, tr.stderr);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*report\.html/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(!/<script src=/.test(html), 'self-contained: no external scripts');
  // capacity against cost from result.json: the layer table, the tree row with its balance
  assert.match(html, /Layers: parameters against multiply-adds/);
  assert.match(html, /<td>2<\/td>\s*<td>tree<\/td>\s*<td>16→16<\/td>/);
  assert.match(html, /<td>2<\/td>\s*<td>tree<\/td>\s*<td>16→16<\/td>\s*<td>depth 2, (units|projection) gating<\/td>/);
  assert.match(html, /training \(epoch\)/);
  assert.match(html, /the mean over each logged window of steps/, 'the series are explained under the chart');
  assert.match(html, /"title":{"text":"learning rate"}/, 'the schedule is plotted');
  await checkPage(join(out, 'report.html'), 'training report', 6);
});

test('readMetrics rejects a malformed log naming the line', () => {
  const p = join(TMP, 'bad.jsonl');
  writeFileSync(p, '{"type":"step","step":1,"trainLoss":2}\nnot json\n');
  assert.throws(() => readMetrics(p), (e: unknown) => e instanceof TreegateError && /bad\.jsonl:2: not a JSON line/.test(e.message));
  writeFileSync(p, '{"type":"weird"}\n');
  assert.throws(() => readMetrics(p), /bad\.jsonl:1: not a step or epoch record/);
  assert.throws(() => trainingReport(join(TMP, 'nowhere')), /cannot read .*metrics\.jsonl/);
});

test('every experiment renders its report (tiny settings), and again from its results.json: all charts drawn, no console error', { skip, timeout: 300_000 }, async () => {
  const opts = (override: Record<string, unknown>): ExperimentOptions => ({ seeds: 2, quick: true, progress: () => {}, log: () => {}, override });
  const tiny = { epochs: 1, batchSize: 64, lr: 1e-3 };
  const cases: Array<[string, ExperimentRun, number]> = [
    ['memorization', runMemorization(opts({ examples: 300, inputSize: 8, hidden: 8, depths: [0, 2], train: tiny }), [1, 2]), 4],
    ['accuracy', runAccuracy(opts({ datasets: ['mnist'], limit: 600, depths: [0, 1], train: { ...tiny, weightDecay: 0.1 } }), [1, 2]), 3],
    ['gating', runGating(opts({ limit: 600, depth: 2, train: { ...tiny, epochs: 2 } }), [1, 2]), 6],
    ['speed', await runSpeed(opts({ width: 16, batch: 8, depths: [0, 2, 4], rounds: 2, denseCap: 24, budgetMs: 5 }), [1, 2]), 2],
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
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', dir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const again = readFileSync(join(dir, 'report.html'), 'utf8');
    const charts = (html: string) => html.slice(html.lastIndexOf('const charts = '));
    assert.equal(charts(again), charts(page), `${name}: the report from results.json draws the same charts`);
  }
  // the speed run's capped dense layer (k = 4 at width 24): markers alone, not a line that doubles back
  const speed = experimentReport({ ...cases[3][1], command: 't', date: 'd', machine: machine('js') });
  const capped = speed.sections[0].charts![0].traces.find((t) => String(t.name).startsWith('dense at the width cap'));
  assert.ok(capped && capped.mode === 'markers', 'the capped dense points are markers');
});

test('the committed results of docs/results read back and render their reports', () => {
  const charts: Record<string, number> = { memorization: 4, accuracy: 6, gating: 3, speed: 2 };
  for (const [name, n] of Object.entries(charts)) {
    const r = readExperimentResult(join(ROOT, 'docs', 'results', `${name}.json`));
    assert.equal(r.experiment, name);
    const report = experimentReport(r);
    assert.ok(report.sections[0].charts!.length >= n, `${name}: ${report.sections[0].charts!.length} charts`);
    assert.ok(renderReport(report).includes('const charts = '), name);
  }
});

test('readExperimentResult names the field a damaged results.json lacks', () => {
  const good = JSON.parse(readFileSync(join(ROOT, 'docs', 'results', 'speed.json'), 'utf8'));
  const cases: Array<[string, (j: Record<string, any>) => unknown, RegExp]> = [
    ['not json', () => '{"experiment": "speed", ', /not valid JSON/],
    ['unknown experiment', (j) => ({ ...j, experiment: 'hello' }), /experiment is "hello", expected one of memorization, accuracy, gating, speed/],
    ['no seeds', (j) => ({ ...j, seeds: [] }), /seeds is not a list of whole numbers/],
    ['a setting of another kind', (j) => ({ ...j, settings: { ...j.settings, depths: 3 } }), /settings\.depths is number, expected array/],
    ['a stat missing', (j) => ({ ...j, aggregate: [{ ...j.aggregate[0], stats: { ...j.aggregate[0].stats, stepUsPerExample: 2 } }] }),
      /aggregate\[0\]\.stats\.stepUsPerExample is not \{ mean, std, min, max \}/],
    ['a machine without backend', (j) => ({ ...j, machine: { ...j.machine, backend: 1 } }), /machine is not/],
  ];
  for (const [what, edit, message] of cases) {
    const p = join(TMP, 'bad-results.json');
    const v = edit(structuredClone(good));
    writeFileSync(p, typeof v === 'string' ? v : JSON.stringify(v));
    assert.throws(() => readExperimentResult(p), (e: unknown) => e instanceof TreegateError && message.test(e.message) && e.message.startsWith(p), what);
  }
  // the command: exit 2 naming the file; a folder with neither file is refused
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', join(TMP, 'bad-results.json'), '--out', join(TMP, 'x.html')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad-results\.json: machine is not/);
  assert.ok(!existsSync(join(TMP, 'x.html')));
  const empty = join(TMP, 'empty');
  mkdirSync(empty);
  const e = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', empty], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(e.status, 2);
  assert.match(e.stderr, /holds neither metrics\.jsonl \(a training run\) nor results\.json \(an experiment\)/);
});

test('log axes label every tick in full: 1-2-5 per decade over a short span, powers of ten over a long one', () => {
  assert.deepEqual(logTicks([3, 40]), { tickvals: [1, 2, 5, 10, 20, 50, 100], ticktext: ['1', '2', '5', '10', '20', '50', '100'] });
  assert.deepEqual(logTicks([0.3, 0.9]).ticktext, ['0.1', '0.2', '0.5', '1']);
  assert.deepEqual(logTicks([2e3, 5e7]), { tickvals: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8], ticktext: ['1k', '10k', '100k', '1M', '10M', '100M'] });
  assert.deepEqual(logTicks([]), {});
  // the chart's axis gets them from its traces' values
  const page = renderReport({ title: 't', meta: {}, sections: [{ heading: 'h', charts: [{ title: 'c', yLog: true, traces: [{ type: 'scatter', x: [1, 2], y: [3, 40] }] }] }] });
  assert.match(page, /"type":"log","tickvals":\[1,2,5,10,20,50,100\]/);
});

/** A saved `npm run bench -- --json` stdout with made-up figures: tree rows on two backends, gemm rows. */
function benchOutput(): string {
  const figures = ['forward', 'backward', 'step', 'infer N=256', 'infer N=1'];
  const tree = ['native', 'wasm'].flatMap((backend, b) => figures.flatMap((figure, f) => [0, 1, 2].map((k) => {
    const ms = 1 + k + f + b, boundMs = 0.6 + 0.3 * k, nodeBoundMs = boundMs * (k === 2 ? 1.3 : 1);
    return { backend, k, figure, ms, boundMs, achieved: boundMs / ms, nodeBoundMs, nodeAchieved: nodeBoundMs / ms, probeAchieved: null, vsDenseCompute: 1 + k };
  })));
  const gemm = ['256×512×512', '1×1024×1024'].flatMap((shape) => [['treegate native', 1, 190], ['treegate native', 2, 350], ['onnxruntime-node', 1, 150]]
    .map(([candidate, threads, gflops]) => ({ shape, candidate, threads, gflops })));
  const run = {
    machine: { cpu: 'test cpu', cores: 2, node: 'v20', memoryGiB: 24 }, date: '2026-11-30T00:00:00.000Z', command: 'npm run bench -- --json',
    mode: 'quick', seconds: 12.3, limits: { flopsAll: 4.2e11, bytesAll: 5.4e10, source: 'made up' },
    results: { tree: { tables: [], data: { rows: tree } }, gemm: { tables: [], data: { rows: gemm } }, kernels: { error: 'not built' } },
  };
  return `# treegate benchmarks (quick)\n\n| a | b |\n|---|---|\n{ not the JSON line }\n${JSON.stringify(run)}\n`;
}

test('npm run bench:chart draws a saved bench run: roofline fractions with the target line, per-node bound, GEMM', { skip }, async () => {
  const input = join(TMP, 'bench.txt'), out = join(TMP, 'bench.html');
  writeFileSync(input, benchOutput());
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/chart.ts', input, out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const html = readFileSync(out, 'utf8');
  assert.match(html, /native: achieved fraction of the roofline bound/);
  assert.match(html, /wasm: achieved fraction of the per-node bound/);
  assert.match(html, /target 70%/);
  // the ceiling of node-by-node execution: roofline ÷ per-node bound, 76.9% where the per-node bound is 1.3× it
  assert.match(html, /"y":\[100,100,76\.9\]/);
  await checkPage(out, 'bench report', 7);
});

test('bench:chart refuses output that is not a bench run, naming the file and the fix', () => {
  const cases: Array<[string, RegExp]> = [
    ['# treegate benchmarks\nno json here\n', /run\.txt holds no JSON line .*npm run bench -- --json/],
    ['{"date": "2026", "results": {"tree": ', /its JSON line does not parse .*cut short/],
    ['{"hello": 1}\n', /not a treegate bench run/],
    [JSON.stringify({ date: 'x', command: 'c', mode: 'quick', seconds: 1, machine: { cpu: 'c', cores: 2, node: 'v' }, limits: {}, results: { kernels: { data: null } } }),
      /neither tree nor gemm figures/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => benchReport(parseBenchOutput(text, 'run.txt')), (e: unknown) => e instanceof TreegateError && message.test(e.message), text.slice(0, 30));
  }
  // the command: exit 2 with the message, nothing written
  const out = join(TMP, 'bad-bench.html');
  const missing = spawnSync(process.execPath, ['--import', 'tsx', 'bench/chart.ts', join(TMP, 'nowhere.txt'), out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read .*nowhere\.txt/);
  assert.ok(!existsSync(out), 'nothing written');
});
