/**
 * The report code in detail, called directly (`treegate report` in this process; one spawn, for what a failed exit
 * leaves): the cases the mutation round on src/report and src/cli/report-command.ts found no test for. Boundaries
 * (2^16 logged counts, 2^24 leaves, 1G, 20 classes, 12 epochs, three decades), what each refusal of a damaged run file
 * names, what the header, the notes and the layers table say of a memorization run, of settings off, of moe layers,
 * the usage charts' colour scale and axes, an unfinished run's header from its checkpoint, and every text the page
 * escapes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { formatCount, formatGiB, layerTable, modelSummary, textTable, unusedAtRandom, type LayerSummary } from '../../src/report/summary.js';
import { LOGGED_LEAVES, loggedStats, parseMetrics, readResult, StepWindows, treeStatsProblem } from '../../src/report/run-files.js';
import { countAxis, epochTicks, trainingReport, unfinishedRunReport, usageHeatmap } from '../../src/report/training.js';
import { dodge, logTicks, PALETTE, renderReport, seriesTraces } from '../../src/report/html.js';
import { mlpConfig, Model, type TreeStats } from '../../src/layers/model.js';
import { Rng } from '../../src/core/rng.js';
import { Trainer, type StepInfo } from '../../src/train/trainer.js';
import { writeCheckpoint } from '../../src/io/checkpoint.js';
import { reportCommand } from '../../src/cli/report-command.js';
import { CLI_ARGS, ROOT } from '../cli-command.js';

const TMP = mkdtempSync(join(tmpdir(), 'treegate-report-details-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
let dirs = 0;

/** A run folder holding these metrics.jsonl records (and result.json, where given). */
function runFolder(records: object[], result?: object): string {
  const dir = join(TMP, `run-${++dirs}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (result) writeFileSync(join(dir, 'result.json'), JSON.stringify(result));
  return dir;
}

const tree = (layer: number, usage: number[][], kind: TreeStats['kind'] = 'tree'): TreeStats => ({
  layer, kind, leaves: usage[0].length, blocks: usage.length, balance: 0.5, deadLeaves: usage.flat().filter((c) => c === 0).length, usage,
});
const epoch = (e: number, trees: object[] = [], more: object = {}) => ({
  type: 'epoch', epoch: e, step: 10 * e, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5, validationLoss: null, validationAccuracy: null, seconds: e, trees, ...more,
});

test('summary figures: inference capacity over inference MACs, leaf usage only when asked, unused-at-random summed over blocks, 1G and GiB', () => {
  const model = new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [8], treeLayers: [1], depth: 2, gating: 'projection' }), new Rng(1));
  const rng = new Rng(2), x = new Float32Array(40 * 4).map(() => rng.normal());
  model.predict({ rows: 40, cols: 4, data: x });
  const plain = modelSummary(model), withUsage = modelSummary(model, true);
  assert.notEqual(plain.macsPerExample.training, plain.macsPerExample.inference, 'a tree: fewer MACs at inference');
  assert.equal(plain.capacityToComputation.inference, plain.parameters / plain.macsPerExample.inference);
  assert.equal(plain.capacityToComputation.training, plain.parameters / plain.macsPerExample.training);
  const routed = (s: typeof plain) => s.layers.find((l) => l.kind === 'tree')!;
  assert.ok(routed(plain).balance !== undefined, 'usage counted by predict');
  assert.ok(!('leafUsage' in routed(plain)), 'no counts unless asked');
  assert.deepEqual(routed(withUsage).leafUsage, model.treeStats()[0].usage);
  // each block a tree of its own: L·(1 − 1/L)^c per block of c counts
  assert.equal(unusedAtRandom(tree(1, [[1, 1, 0, 0], [3, 0, 0, 0]])), 4 * 0.75 ** 2 + 4 * 0.75 ** 3);
  assert.deepEqual([formatCount(1e9), formatCount(999_500)], ['1.00G', '999.5k']);
  assert.deepEqual([formatGiB(1.5 * 2 ** 30), formatGiB(1e9)], ['1.50 GiB', '0.93 GiB']);
});

test('layerTable: routing (straight-through, experts and top-k), balance to 3 places; textTable pads each column to its widest cell, two spaces apart', () => {
  const layer = (l: Partial<LayerSummary>): LayerSummary => ({ index: 0, layer: 1, kind: 'dense', inputSize: 4, outputSize: 8, parameters: 40,
    macsPerExample: { training: 32, inference: 32 }, ...l });
  const table = layerTable([
    layer({ kind: 'tree', depth: 2, blocks: 1, gating: 'units', straightThrough: true, balance: 0.12345, deadLeaves: 3 }),
    layer({ layer: 2, kind: 'moe', experts: 4, topK: 2, balance: 1, deadLeaves: 0 }),
  ]).split('\n');
  assert.match(table[1], /^1 +tree +4→8 +k=2 B=1 units straight-through +40 +32 +32 +0\.123 +3$/);
  assert.match(table[2], /^2 +moe +4→8 +E=4 top-2 +40 +32 +32 +1\.000 +0$/);
  assert.equal(textTable([['a', 'bb', 'c'], ['ccc', 'd', '']]), 'a    bb  c\nccc  d');
});

test('loggedStats keeps the usage of a layer of exactly 2^16 counts, not more; treeStatsProblem: old logs, 2^24 leaves, blocks, dead leaves and counts checked', () => {
  const sized = (leaves: number, blocks: number) => ({ layer: 1, kind: 'tree', leaves, blocks, balance: 1, deadLeaves: 0, usage: [] }) as unknown as TreeStats;
  assert.equal(LOGGED_LEAVES, 2 ** 16);
  assert.ok('usage' in loggedStats(sized(2 ** 14, 4)), '2^16 counts: kept');
  assert.ok(!('usage' in loggedStats(sized(2 ** 14, 5))), 'more: left out');
  // a log of the first format: a tree of 2^depth leaves
  const old: Record<string, unknown> = { layer: 0, depth: 3, blocks: 1, balance: 1, deadLeaves: 0, usage: [[1, 1, 1, 1, 1, 1, 1, 1]] };
  assert.equal(treeStatsProblem(old), null);
  assert.deepEqual([old.kind, old.leaves], ['tree', 8]);
  const base = { layer: 1, kind: 'tree', leaves: 2, blocks: 1, balance: 1, deadLeaves: 0, usage: [[1, 2]] };
  const problem = (edit: object) => treeStatsProblem({ ...base, ...edit });
  assert.equal(problem({ layer: 0 }), null);
  assert.match(problem({ layer: -1 })!, /has layer -1, expected a layer number/);
  assert.equal(problem({ leaves: 2 ** 24, usage: undefined }), null, '2^24 leaves, usage left out for its size');
  assert.match(problem({ leaves: 2 ** 24 + 1, usage: undefined })!, /expected an integer in \[1, 2\^24\]/);
  assert.match(problem({ blocks: 0, usage: [] })!, /has 0 blocks, expected an integer ≥ 1/);
  assert.match(problem({ deadLeaves: 0.5 })!, /needs a number balance and an integer deadLeaves/);
  // usage is left out only past 2^16 counts
  assert.match(problem({ leaves: 2 ** 15, blocks: 2, usage: undefined })!, /has usage that is not 2 lists of 32768 counts/);
  assert.equal(problem({ leaves: 2 ** 15, blocks: 3, usage: undefined }), null);
  assert.match(problem({ usage: [[1, 2, 3]] })!, /has usage that is not 1 list of 2 counts/);
  assert.match(problem({ usage: [[1, -1]] })!, /has usage that is not 1 list of 2 counts/);
});

test('parseMetrics: blank lines skipped, null training figures read as NaN, a validation loss that is not a number refused, an untyped record an epoch', () => {
  const step = { type: 'step', epoch: 1, step: 1, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5 };
  const { steps, epochs } = parseMetrics([JSON.stringify(step), '   ', JSON.stringify(epoch(1, [], { trainLoss: null, trainAccuracy: null })), ''], 'm');
  assert.equal(steps.length, 1);
  assert.deepEqual([epochs[0].trainLoss, epochs[0].trainAccuracy], [NaN, NaN]);
  assert.throws(() => parseMetrics([JSON.stringify(epoch(1, [], { validationLoss: 'x' }))], 'm'), /^TreegateError: m:1: not a step or epoch record/);
  const { type: _, ...untyped } = epoch(2);
  assert.equal(parseMetrics([JSON.stringify(untyped)], 'm').epochs[0].type, 'epoch');
});

test('readResult names each field of a damaged result.json', () => {
  const p = join(TMP, 'result.json');
  for (const [r, re] of [
    [[1], /not a JSON object/], [null, /not a JSON object/],
    [{ resumedWith: ['a', 1] }, /resumedWith is not a list of commands/],
    [{ provenance: { treegate: '1', commit: 5 } }, /provenance is not/],
    [{ trainedBy: [{ treegate: '1' }] }, /trainedBy is not a list of \{ treegate, commit\?, code\?, fromStep \}/],
    [{ date: 5 }, /date is not a string/],
    [{ capacityToComputation: { training: 'x' } }, /capacityToComputation is not an object of numbers/],
    [{ layers: [{ macsPerExample: { training: 1 } }] }, /layers\[0\] is not a layer summary/],
  ] as const) {
    writeFileSync(p, JSON.stringify(r));
    assert.throws(() => readResult(p), (e: Error) => e.name === 'TreegateError' && re.test(e.message), JSON.stringify(r));
  }
});

test('StepWindows: a record at the first step, every `every` steps and at the run\'s last; skipped steps left out of the means', () => {
  const info = (step: number, loss: number, skipped = false): StepInfo => ({ epoch: 1, step, totalSteps: 25, loss, accuracy: 0.5, lr: 0.1, skipped });
  const w = new StepWindows(10);
  const records = Array.from({ length: 25 }, (_, i) => w.add(info(i + 1, i + 1))).filter((r) => r !== null);
  assert.deepEqual(records.map((r) => [r.step, r.trainLoss]), [[1, 1], [10, 6], [20, 15.5], [25, 23]]);
  const s = new StepWindows(3);
  s.add(info(1, 1));
  s.add(info(2, 2));
  assert.equal(s.add(info(3, 100, true))!.trainLoss, 2, 'the skipped step left out');
});

test('training report axes: count ticks of 1, 2, 5 × 10^n, at least an eighth of the range; a tick a epoch up to 12 epochs', () => {
  assert.deepEqual([8, 16, 17, 40, 41, 800].map((m) => countAxis(m, 't').dtick), [1, 2, 5, 5, 10, 100]);
  assert.deepEqual([1, 12, 13, 24, 25].map((n) => epochTicks(n).dtick), [1, 1, 2, 2, 3]);
});

test('usage heatmaps: experts named for a moe layer, a label every few leaves, the colour scale up to the largest share of that block, a block with no counts 0', () => {
  const perEpoch = [
    { epoch: 1, stats: tree(1, [[1, 1, 1, 1], [4, 0, 0, 0]]) },
    { epoch: 2, stats: tree(1, [[2, 1, 1, 0], [0, 0, 0, 0]]) },
  ];
  assert.equal(usageHeatmap('b1', perEpoch, undefined, 0).traces[0].zmax, 0.5);
  assert.equal(usageHeatmap('b2', perEpoch, undefined, 1).traces[0].zmax, 1);
  const empty = usageHeatmap('e', [{ epoch: 1, stats: tree(1, [[0, 0, 0, 0]]) }]);
  assert.deepEqual([empty.traces[0].zmax, empty.traces[0].z], [0, [[null, null, null, null]]]);
  const moe = usageHeatmap('m', [{ epoch: 1, stats: tree(1, [[1, 2]], 'moe') }]);
  assert.equal(moe.xTitle, 'expert');
  assert.deepEqual((moe.layout!.xaxis as { title: unknown }).title, { text: 'expert' });
  const dtick = (leaves: number) => (usageHeatmap('w', [{ epoch: 1, stats: tree(1, [Array(leaves).fill(1)]) }]).layout!.xaxis as { dtick: number }).dtick;
  assert.deepEqual([16, 32, 128, 1024].map(dtick), [1, 2, 8, 64]);
});

test("the header: memorization's labels fitted (no test point on its curve), classes listed up to 20, training time in ms under a second, when it finished; settings off left out", () => {
  const classes = Array.from({ length: 20 }, (_, i) => `c${i}`);
  const dir = runFolder([epoch(1)], { dataset: 'mnist', testAccuracy: 0.5, classes, seconds: 0.25, date: '2026-12-01T00:00:00Z', settings: { lr: 0.1, progress: false, limit: null } });
  const { meta } = trainingReport(dir);
  assert.equal(meta.classes, classes.join(', '), 'twenty: all of them, no count');
  assert.equal(meta['training time'], '250 ms');
  assert.equal(meta.finished, '2026-12-01T00:00:00Z');
  assert.equal(meta.settings, '--lr 0.1');
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ dataset: 'mnist', classes: [...classes, 'c20'], seconds: 12.34 }));
  assert.deepEqual([trainingReport(dir).meta.classes, trainingReport(dir).meta['training time']], [`${classes.join(', ')}, … (21)`, '12.3 s']);
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ dataset: 'memorization', testAccuracy: 0.75 }));
  const memo = trainingReport(dir);
  assert.equal(memo.meta['labels fitted'], '75.00%');
  assert.ok(!('test accuracy' in memo.meta), 'no test accuracy');
  const accuracy = memo.sections[0].charts!.find((c) => c.title === 'accuracy')!;
  assert.ok(!accuracy.traces.some((t) => t.name === 'test'), 'its training set: no test point');
});

test('the curves: a loss of 0 does not make the axis logarithmic; no accuracy range where no window lies under the epochs; no time chart for a clock that went back', () => {
  const dir = runFolder([epoch(1, [], { trainLoss: 1 }), epoch(2, [], { trainLoss: 0, seconds: 1.5 }), epoch(3, [], { trainLoss: 0.5, seconds: 2 })]);
  const charts = trainingReport(dir).sections[0].charts!;
  assert.equal(charts.find((c) => c.title === 'loss')!.yLog, false, '1 to 0.5, and a 0 that a log axis cannot draw');
  const accuracy = charts.find((c) => c.title === 'accuracy')!;
  assert.ok(!('range' in (accuracy.layout!.yaxis as object)), 'Plotly\'s own range');
  assert.doesNotMatch(accuracy.note!, /The axis starts under/);
  assert.ok(charts.some((c) => c.title === 'time per epoch'), 'epoch times that grow: drawn');
  const back = runFolder([epoch(1, [], { seconds: 5 }), epoch(2, [], { seconds: 3 })]);
  assert.ok(!trainingReport(back).sections[0].charts!.some((c) => c.title === 'time per epoch'), 'a negative epoch time is not drawn');
});

test('usage notes: as many examples as leaves can reach balance 1; the dead-leaves axis holds the at-random line, in each layer\'s colour; its title gives the leaves where all layers have as many', () => {
  const dir = runFolder([epoch(1, [tree(2, [[1, 1, 1, 1]])])]);
  const chart = (d: string, title: string) => trainingReport(d).sections[0].charts!.find((c) => c.title === title)!;
  assert.doesNotMatch(chart(dir, 'balance over training').note!, /cannot reach 1/, '4 examples for 4 leaves');
  // 2 dead of 4, where 2 examples would leave 4 · (3/4)^2 = 2.25 unused at random
  const two = runFolder([epoch(1, [tree(2, [[1, 1, 0, 0]]), tree(3, [[1, 1, 1, 1, 0, 0, 0, 0]])])]);
  const dead = chart(two, 'dead leaves over training');
  const random = (layer: number) => dead.traces.find((t) => t.name === `layer ${layer} at random`)!;
  assert.equal((dead.layout!.yaxis as { range: number[] }).range[1], 8 * (7 / 8) ** 4 * 1.05);
  assert.deepEqual([(random(2).line as { color: string }).color, (random(3).line as { color: string }).color], [PALETTE[0], PALETTE[1]]);
  assert.deepEqual((dead.layout!.yaxis as { title: unknown }).title, { text: 'leaves never used' }, 'layers of 4 and 8 leaves');
  const one = chart(runFolder([epoch(1, [tree(2, [[1, 1, 0, 0]])])]), 'dead leaves over training');
  assert.equal((one.layout!.yaxis as { range: number[] }).range[1], 4 * 0.75 ** 2 * 1.05);
  assert.deepEqual((one.layout!.yaxis as { title: unknown }).title, { text: 'leaves never used (of 4)' });
});

test('a memorization run is said to count its training set; a validated CLI run is told a larger --validation counts more', () => {
  const sparse = (more: object) => epoch(1, [tree(2, [[1, 1, 0, 0]])], more);
  const memo = trainingReport(runFolder([sparse({})], { dataset: 'memorization' })).sections[0].text!.join(' ');
  assert.match(memo, /\(result\.json's layer table, once the run finishes, counts the training set\)\./);
  const validated = trainingReport(runFolder([sparse({ validationLoss: 1, validationAccuracy: 0.5 })], { dataset: 'mnist' })).sections[0].text!.join(' ');
  assert.match(validated, /counts the test set; a larger --validation counts more\)\./);
});

test("the layers table: its parameters per multiply-add at inference, the dead column and the tree's collapse said by the layers' kinds, memorization's balance over its training set", () => {
  const layer = (kind: string, more: object = {}) => ({ index: 1, layer: 1, kind, inputSize: 4, outputSize: 8, parameters: 40, macsPerExample: { training: 32, inference: 16 }, ...more });
  const section = (result: object) => trainingReport(runFolder([epoch(1)], result)).sections[1];
  const moe = section({ dataset: 'memorization', capacityToComputation: { training: 1.5, inference: 3 }, layers: [layer('dense'), layer('moe', { experts: 4, topK: 1 })] });
  assert.equal(moe.tables![0].columns.at(-1), 'dead experts');
  assert.equal(moe.text![0], 'Parameters per multiply-add of one example: 1.50 in training, 3.00 at inference. ' +
    'Balance and dead leaves are over the training set (the memorization task has no other) (result.json).');
  const trees = section({ dataset: 'mnist', layers: [layer('tree', { depth: 1, blocks: 1, gating: 'units' }), layer('moe')] });
  assert.equal(trees.tables![0].columns.at(-1), 'dead leaves or experts');
  assert.match(trees.text![0], /at inference \(a tree's path sums collapsed into its leaves\)\. Balance and dead leaves are over the test set \(result\.json\)\.$/);
});

test("an unfinished run's report names its checkpoint and step in the header", () => {
  const report = unfinishedRunReport('/runs/a', '/runs/a/checkpoints/step-000000007.safetensors', [JSON.stringify(epoch(1))], 7);
  assert.equal(report.meta.checkpoint, '/runs/a/checkpoints/step-000000007.safetensors, step 7');
  assert.equal(report.title, 'treegate training run: /runs/a (not finished)');
});

test('the API report: a layer the last epoch has no stats of gets no balance from the model\'s own counts', () => {
  const model = new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [8], treeLayers: [1], depth: 2, gating: 'projection' }), new Rng(1));
  const rng = new Rng(2);
  model.predict({ rows: 40, cols: 4, data: new Float32Array(40 * 4).map(() => rng.normal()) });
  const history = [{ epoch: 1, step: 10, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5, validationLoss: null, validationAccuracy: null, seconds: 1, trees: [] }];
  const row = trainingReport({ history, model }).sections[1].tables![0].rows.find((r) => r[1] === 'tree')!;
  assert.deepEqual(row.slice(-2), ['', '']);
});

test('the page escapes every text it is given, and no text closes its data script', () => {
  const evil = `a & b <i>x</i> "q" 'r'`, esc = 'a &amp; b &lt;i&gt;x&lt;/i&gt; &quot;q&quot; &#39;r&#39;';
  const page = renderReport({ title: evil, meta: { [evil]: evil }, sections: [{ heading: evil, text: [evil], tables: [{ columns: [evil], rows: [[evil, 5]] }],
    charts: [{ title: evil, note: evil, traces: [{ type: 'scatter', name: '</script><script>alert(1)</script>', x: [1], y: [1] }] }] }] });
  for (const html of [`<title>${esc}</title>`, `<h1>${esc}</h1>`, `<dt>${esc}</dt><dd>${esc}</dd>`, `<h2>${esc}</h2>`, `<p>${esc}</p>`,
    `<th>${esc}</th>`, `<td>${esc}</td><td>5</td>`, `<h3 id="chart-1-title">${esc}</h3>`, `id="chart-1-note">${esc}</figcaption>`]) {
    assert.ok(page.includes(html), html);
  }
  assert.ok(!page.includes('<i>'), 'no markup of the texts');
  assert.ok(!page.includes('<script>alert'), 'the data cannot end its script');
  const charts = JSON.parse(/const charts = (.*);\n/.exec(page)![1]) as Array<{ data: Array<{ name: string }> }>;
  assert.equal(charts[0].data[0].name, '</script><script>alert(1)</script>', 'and reads back as it was');
});

test('chart helpers: a log x axis gets its ticks from the x values; error bars from lo to hi; each series thinner, smaller and of another marker than the one before', () => {
  const page = renderReport({ title: 't', meta: {}, sections: [{ heading: 'h', charts: [{ title: 'c', xTitle: 'n', xLog: true, traces: [{ type: 'scatter', x: [3, 400], y: [1, 2] }] }] }] });
  assert.match(page, /"xaxis":\{"title":\{"text":"n \(log scale\)"\},"type":"log","automargin":true,"tickvals":\[1,2,5,10,20,50,100,200,500,1000\]/);
  const [a, b, c] = seriesTraces([{ name: 'a', x: [1], y: [5], lo: [4], hi: [8] }, { name: 'b', x: [1], y: [1] }, { name: 'c', x: [1], y: [1] }]);
  assert.deepEqual(a.error_y, { type: 'data', symmetric: false, array: [3], arrayminus: [1], visible: true });
  assert.deepEqual([a, b, c].map((t) => [(t.marker as { symbol: string }).symbol, (t.marker as { size: number }).size, (t.line as { width: number }).width]),
    [['circle', 11, 2.5], ['square', 9.5, 2], ['diamond', 8, 1.5]]);
  // three decades exactly: 1, 2 and 5 in each; more: the powers of ten
  assert.equal(logTicks([1, 1000]).tickvals?.length, 10);
  assert.deepEqual(logTicks([1, 1001]).tickvals, [1, 10, 100, 1000, 10000]);
});

test('dodge leaves out of the spread a trace whose error bars are hidden, and on a log axis one with an x of 0', () => {
  const barred = (name: string, x: number[], visible = true) => ({ ...seriesTraces([{ name, x, y: x.map(() => 1), err: x.map(() => 0.1) }])[0], error_y: { type: 'data', array: x.map(() => 0.1), visible } });
  const hidden = barred('h', [1, 2, 3], false);
  const moved = dodge([barred('a', [1, 2, 3]), barred('b', [1, 2, 3]), hidden]);
  assert.deepEqual(moved.map((t) => (t.x as number[])[0]), [0.98, 1.02, 1]);
  assert.equal(moved[2], hidden);
  const zero = barred('z', [0, 1, 10]);
  const log = dodge([zero, barred('a', [1, 10, 100]), barred('b', [1, 10, 100])], true);
  assert.equal(log[0], zero, 'an x of 0 cannot be drawn on a log axis: not moved');
  assert.deepEqual(log.slice(1).map((t) => Number(Math.log10((t.x as number[])[0]).toFixed(9))), [-0.02, 0.02]);
});

/** `treegate report ARGS` in this process (no tsx start-up): the path of the page it wrote, or the error it threw. */
async function report(...args: string[]): Promise<string> {
  const log = console.log, err = console.error;
  let wrote = '';
  console.log = (line: string) => { wrote = String(line).replace(/^wrote /, ''); };
  console.error = () => {};
  try {
    await reportCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    console.log = log;
    console.error = err;
  }
  return wrote;
}

test('treegate report: a run\'s metrics.jsonl stands for its folder, an experiment\'s folder gets report.html, a path that is not there is named', async () => {
  const run = runFolder([epoch(1)]);
  assert.equal(await report(join(run, 'metrics.jsonl')), join(run, 'report.html'));
  const experiment = join(TMP, 'experiment');
  mkdirSync(experiment);
  writeFileSync(join(experiment, 'results.json'), readFileSync(join(ROOT, 'docs', 'results', 'speed.json')));
  assert.equal(await report(experiment), join(experiment, 'report.html'));
  assert.ok(existsSync(join(experiment, 'report.html')), 'written');
  await assert.rejects(report(join(TMP, 'nowhere')), /nowhere does not exist \(pass the --out folder of treegate train/);
});

test('treegate report replaces a report whatever the case of its doctype, and nothing that is not an HTML page, even one that names the generator', async () => {
  const run = runFolder([epoch(1)]);
  const page = join(run, 'page.html');
  writeFileSync(page, '<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="generator" content="treegate">\n');
  assert.equal(await report(run, '--out', page), page);
  assert.match(readFileSync(page, 'utf8'), /^<!doctype html>/);
  const notes = join(run, 'notes.txt'), text = 'reports carry <meta name="generator" content="treegate">\n';
  writeFileSync(notes, text);
  await assert.rejects(report(run, '--out', notes), /notes\.txt exists and is not a treegate report/);
  assert.equal(readFileSync(notes, 'utf8'), text);
});

test("treegate report of an unfinished run: its checkpoint's data files, its backends in turn and the code that trains it now in the header", async () => {
  const model = new Model(mlpConfig({ inputSize: 2, numClasses: 2, hidden: [4], treeLayers: [], depth: 0 }), new Rng(1));
  const rng = new Rng(2), x = new Float32Array(16).map(() => rng.normal()), y = Int32Array.from({ length: 8 }, (_, i) => i % 2);
  const trainer = new Trainer(model, { x: { rows: 8, cols: 2, data: x }, y }, null, { epochs: 1, batchSize: 4, lr: 1e-3, schedule: 'constant', optimizer: { kind: 'adam' } }, new Rng(3));
  trainer.step();
  const dir = join(TMP, 'unfinished');
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const code = (c: string, fromStep: number) => ({ treegate: '0.1.0', code: c.repeat(16), fromStep });
  writeCheckpoint(join(dir, 'checkpoints'), model, trainer.optimizer, {
    progress: trainer.snapshot(), metrics: [JSON.stringify({ type: 'step', epoch: 1, step: 1, lr: 1e-3, trainLoss: 1, trainAccuracy: 0.5 })],
    options: { dataset: 'csv', csv: '/d/a.csv', testCsv: '/d/b.csv', epochs: 3, seed: 1, hidden: [4], treeLayers: [], lr: 1e-3 },
    extra: { command: 'treegate train --csv /d/a.csv', backends: ['js', 'native'], trainedBy: [code('a', 0), code('b', 1)] },
  }, 1);
  const header = /<dl>.*<\/dl>/.exec(readFileSync(await report(dir), 'utf8'))![0];
  assert.match(header, /<dt>test csv<\/dt><dd>\/d\/b\.csv<\/dd>/, 'the held-out file');
  assert.match(header, /<dt>backend<\/dt><dd>native<\/dd><dt>backends<\/dt><dd>js then native<\/dd>/);
  assert.match(header, /code sha256 a{16} from step 0; then [^<]*code sha256 b{16} from step 1/);
});

test('treegate report that cannot write its page leaves no folder it created for it', () => {
  const run = runFolder([epoch(1)]);
  // a name past the file system's 255 bytes: the folders are made, the page cannot be
  const r = spawnSync(process.execPath, [...CLI_ARGS, 'report', run, '--out', join(TMP, 'new', 'a', `${'x'.repeat(300)}.html`)],
    { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /ENAMETOOLONG/);
  assert.equal(existsSync(join(TMP, 'new')), false, 'the folders it made are removed');
});
