/// <reference lib="dom" />
/**
 * The HTML reports: a training run's (treegate report), the charts' helpers, dark pages and the bench's chart,
 * opened in headless Chromium (test/report/chromium.ts). Every experiment's report is test/experiments/reports.test.ts's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { count, DARK_THEME_JS, extent, horizontalLine, logTicks, PALETTE, renderReport, seriesTraces } from '../../src/report/html.js';
import { trainingReport, type TrainedRun } from '../../src/report/training.js';
import { counted, formatCount, layerTable, majorityNote, modelSummary, perClassFigures } from '../../src/report/summary.js';
import { defaultLogEvery, loggedStats, readMetrics } from '../../src/report/run-files.js';
import { train, type StepInfo } from '../../src/train/trainer.js';
import type { TreeStats } from '../../src/layers/model.js';
import { TreegateError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { saveModel } from '../../src/io/model-file.js';
import { CLI_ARGS, ROOT } from '../cli-command.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { CHECKPOINT_FORMAT } from '../../src/io/checkpoint-codec.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { benchReport, parseBenchOutput } from '../../bench/chart.js';
import { browserPage, checkPage, skip, TMP } from './chromium.js';

test('treegate report DIR renders a training run: learning curves, balance, dead leaves, usage heatmap', { skip }, async () => {
  const out = join(TMP, 'run');
  const tr = spawnSync(process.execPath, [...CLI_ARGS, 'train', '--limit', '1200', '--epochs', '2', '--hidden', '16,16',
    '--depth', '2', '--log-every', '5', '--out', out, '--no-progress'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(tr.status, 0, tr.stderr);
  const r = spawnSync(process.execPath, [...CLI_ARGS, 'report', out], { cwd: ROOT, encoding: 'utf8' });
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

test('trainingReport of a run trained through the API: the same charts from its history and steps, its layers from the model', { skip }, async () => {
  const model = new Model(mlpConfig({ inputSize: 8, numClasses: 3, hidden: [16, 16], treeLayers: [2], depth: 2, gating: 'projection' }), new Rng(3));
  const rng = new Rng(4), N = 300, x = new Float32Array(N * 8), y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 8; j++) x[i * 8 + j] = rng.normal();
    y[i] = x[i * 8] > 0.5 ? 2 : x[i * 8] > -0.5 ? 1 : 0;
  }
  const steps: StepInfo[] = [];
  const result = train(model, { x: { rows: N, cols: 8, data: x }, y }, null, { epochs: 3, batchSize: 2, onStep: (st) => steps.push(st) }, new Rng(5));
  const { history } = result;
  assert.equal(steps.length, 450);
  // train()'s result as it is, as the error for a wrong argument advises (its optimizer is not drawn)
  assert.deepEqual(trainingReport(result).sections[0].charts!.map((c) => c.title).slice(0, 2), ['loss', 'accuracy']);
  assert.throws(() => trainingReport({ ...result, optimiser: 1 } as never), /unknown setting "optimiser"/);
  const report = trainingReport({ history, steps, model, title: 'three classes' });
  assert.equal(report.title, 'three classes');
  assert.deepEqual([report.meta.epochs, report.meta.parameters], ['3', model.parameterCount().toLocaleString('en-US')]);
  const charts = report.sections[0].charts!;
  assert.deepEqual(charts.map((c) => c.title).slice(0, 6), ['loss', 'accuracy', 'time per epoch', 'learning rate', 'balance over training', 'dead leaves over training']);
  assert.deepEqual(charts[2].traces[0].y, history.map((e, i) => e.seconds - (i > 0 ? history[i - 1].seconds : 0)), 'each epoch\'s seconds');
  // the usage heatmap: no grid lines through its cells (nor over the grey of the leaves not used)
  const heat = charts.find((c) => c.traces[0]?.type === 'heatmap')!;
  const axes = heat.layout as { xaxis: { showgrid?: boolean }; yaxis: { showgrid?: boolean } };
  assert.deepEqual([axes.xaxis.showgrid, axes.yaxis.showgrid], [false, false], heat.title);
  // 450 steps in windows of one: the first, then every step; each point the step's own loss
  assert.deepEqual(charts[0].traces[0].x, steps.map((st) => st.step));
  assert.deepEqual(charts[0].traces[0].y, steps.map((st) => st.loss));
  assert.match(report.sections[1].tables![0].rows.map((r) => r.join(' ')).join('\n'), /^2 tree 16→16 depth 2, projection gating/m);
  // the tree row's balance and dead leaves: the last epoch's (the Trainer reset the model's usage after it)
  const treeRow = report.sections[1].tables![0].rows.find((r) => r[1] === 'tree')!, lastTree = history.at(-1)!.trees[0];
  assert.deepEqual(treeRow.slice(-2), [lastTree.balance.toFixed(3), String(lastTree.deadLeaves)]);
  assert.match(report.sections[1].text!.join(' '), /Balance and dead leaves are the last epoch's, on its training batches/);
  assert.doesNotMatch(JSON.stringify(report), /--log-every|--lr|metrics\.jsonl/, 'no CLI words in a report of an API run');
  // more steps than points: averaged over windows, the last step's rate
  const many = Array.from({ length: 1001 }, (_, i) => ({ ...steps[0], step: i + 1, totalSteps: 2000, loss: i, lr: i }));
  const curve = trainingReport({ history, steps: many }).sections[0].charts!;
  assert.deepEqual((curve[0].traces[0].x as number[]).slice(0, 4), [1, 3, 6, 9]);
  assert.deepEqual((curve[0].traces[0].y as number[]).slice(0, 3), [0, 1.5, 4]);
  // the last window, closed at the last step given (a run stopped before its total of 2000 steps)
  assert.equal((curve.find((c) => c.title === 'learning rate')!.traces[0].y as number[]).at(-1), 1000);
  assert.deepEqual((curve[0].traces[0].y as number[]).at(-1), 999.5, 'steps 1000 and 1001');
  const path = join(TMP, 'api-report.html');
  writeFileSync(path, renderReport(report));
  await checkPage(path, 'training report of an API run', 6);
  assert.throws(() => trainingReport({ history: [{ epoch: 1 }] } as unknown as TrainedRun), /history\[0\] is not an epoch's metrics/);
  assert.throws(() => trainingReport({ history, step: steps } as unknown as TrainedRun), /unknown .*step/);
  assert.throws(() => trainingReport({ history: [] }), /the run has no epochs and no steps to show/);
  assert.throws(() => trainingReport(history as unknown as TrainedRun), /trainingReport takes a run's --out folder or \{ history, steps\?, model\? \}/);
});

test('a layer of more than 64 leaves also gets its shares sorted, against an even spread', () => {
  const dir = join(TMP, 'wide');
  mkdirSync(dir);
  // 128 leaves: leaf i takes i + 1 examples for i < 100, the last 28 none
  const usage = Array.from({ length: 128 }, (_, i) => (i < 100 ? i + 1 : 0));
  writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'epoch', epoch: 1, step: 10, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5,
    validationLoss: null, validationAccuracy: null, seconds: 1,
    trees: [{ layer: 2, kind: 'tree', leaves: 128, blocks: 1, balance: 0.9, deadLeaves: 28, usage: [usage] }] }) + '\n');
  const charts = trainingReport(dir).sections[0].charts!;
  const sorted = charts.find((c) => c.title === 'layer 2: shares sorted, epoch 1');
  assert.ok(sorted, charts.map((c) => c.title).join(', '));
  const y = sorted.traces[0].y as number[];
  assert.equal(y.length, 100);
  assert.equal(y[0], 100 / 5050);
  assert.ok(y.every((v, i) => i === 0 || v <= y[i - 1]), 'largest first');
  assert.match(sorted.note ?? '', /28 of 128 not used at all/);
  assert.deepEqual(sorted.traces[1].y, [1 / 128, 1 / 128]);
});

test('a layer of more than 2^16 leaves is logged without its usage: balance and dead leaves drawn, a line says why there is no usage chart', () => {
  const huge = { layer: 2, kind: 'tree', depth: 20, leaves: 2 ** 20, blocks: 1, balance: 0.4, deadLeaves: 1000000, usage: [[1]] };
  assert.ok(!('usage' in loggedStats(huge as unknown as TreeStats)), 'left out');
  assert.ok('usage' in loggedStats({ ...huge, leaves: 4, usage: [[1, 2, 3, 4]] } as unknown as TreeStats), 'kept');
  const dir = join(TMP, 'huge');
  mkdirSync(dir);
  writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'epoch', epoch: 1, step: 10, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5,
    validationLoss: null, validationAccuracy: null, seconds: 1, trees: [loggedStats(huge as unknown as TreeStats)] }) + '\n');
  const section = trainingReport(dir).sections[0];
  assert.deepEqual(section.charts!.map((c) => c.title).filter((t) => /balance|dead|usage|shares/.test(t)), ['balance over training', 'dead leaves over training']);
  assert.match(section.text!.join(' '), /No usage chart for layer 2 \(1,048,576 leaves\): metrics\.jsonl logs the usage of layers of at most 65,536 leaves/);
});

test('each block of a layer gets its own usage chart (a leaf dead in one block is grey there, whatever the other); short runs get whole-step ticks and their at-random points', () => {
  const dir = join(TMP, 'blocks');
  mkdirSync(dir);
  const step = (n: number, acc: number) => JSON.stringify({ type: 'step', epoch: 1, step: n, lr: 0.001, trainLoss: 1, trainAccuracy: acc });
  const epoch = JSON.stringify({ type: 'epoch', epoch: 1, step: 3, lr: 0.001, trainLoss: 1, trainAccuracy: 0.9, validationLoss: 1, validationAccuracy: 0.92, seconds: 1,
    trees: [{ layer: 1, kind: 'tree', leaves: 4, blocks: 2, balance: 0.8, deadLeaves: 2, usage: [[5, 0, 5, 10], [0, 10, 5, 5]] },
      { layer: 2, kind: 'moe', leaves: 4, blocks: 1, balance: 0.9, deadLeaves: 0, usage: [[5, 5, 5, 5]] },
      { layer: 3, kind: 'tree', leaves: 1, blocks: 1, balance: 1, deadLeaves: 0, usage: [[20]] }] });
  writeFileSync(join(dir, 'metrics.jsonl'), [step(1, 0.05), step(3, 0.9), epoch].join('\n') + '\n');
  const charts = trainingReport(dir).sections[0].charts!;
  const chart = (title: string) => charts.find((c) => c.title === title)!;
  assert.deepEqual(chart('usage of layer 1 (tree), block 1 of 2').traces[0].z, [[0.25, null, 0.25, 0.5]]);
  assert.deepEqual(chart('usage of layer 1 (tree), block 2 of 2').traces[0].z, [[null, 0.5, 0.25, 0.25]]);
  assert.deepEqual(chart('usage of layer 2 (moe)').traces[0].z, [[0.25, 0.25, 0.25, 0.25]]);
  assert.match(chart('usage of layer 2 (moe)').note!, /each expert received/);
  assert.ok(!charts.some((c) => c.title.startsWith('usage of layer 3')), 'depth 0: one leaf, every example there, no heatmap');
  // 20 examples for 4 leaves: few (under ten a leaf), but not fewer than the leaves, so the balance can reach 1
  assert.doesNotMatch(chart('balance over training').note!, /cannot reach 1/);
  const dead = chart('dead leaves or experts over training');
  assert.ok(dead.traces.filter((t) => String(t.name).endsWith('at random')).every((t) => t.mode === 'lines+markers'), 'one epoch: a point, not an invisible line');
  for (const title of ['loss', 'accuracy', 'learning rate']) assert.deepEqual(chart(title).layout?.xaxis, { tick0: 0, dtick: 1 }, title);
  assert.match(chart('loss').note!, /; only 2 windows logged in 3 steps: a smaller --log-every draws the curve$/, 'a curve of two points is said to be one');
  // the first window's 5% left under the axis, which starts a little under the epoch's 90%
  const range = (chart('accuracy').layout?.yaxis as { range?: number[] }).range!;
  assert.ok(range[0] > 0.8 && range[0] < 0.9 && range[1] > 0.92 && range[1] <= 1, String(range));
  assert.match(chart('accuracy').note!, /the first windows, from 5\.0%, lie below it/);
  // every step logged (the default --log-every of a 3-step run is 1): no advice to log more
  writeFileSync(join(dir, 'metrics.jsonl'), [step(1, 0.05), step(2, 0.5), step(3, 0.9), epoch].join('\n') + '\n');
  const all = trainingReport(dir).sections[0].charts!.find((c) => c.title === 'loss')!;
  assert.doesNotMatch(all.note!, /a smaller --log-every/);
});

test("train's default --log-every: the run's steps / 20, rounded up, at most 50", () => {
  assert.deepEqual([1, 3, 20, 21, 44, 980, 981, 1000, 10 ** 6].map(defaultLogEvery), [1, 1, 1, 2, 3, 49, 50, 50, 50]);
});

test('usage counted on fewer examples than leaves is said so, with the dead leaves expected at random; the test accuracy and each epoch\'s time are drawn', () => {
  const dir = join(TMP, 'sparse');
  mkdirSync(dir);
  const usage = Array.from({ length: 1024 }, (_, i) => (i < 200 ? (i < 50 ? 2 : 1) : 0)); // 250 examples on 200 leaves
  const epoch = (e: number, seconds: number, loss: number) => JSON.stringify({ type: 'epoch', epoch: e, step: 10 * e, lr: 0.001, trainLoss: loss, trainAccuracy: 0.5,
    validationLoss: loss, validationAccuracy: 0.5, seconds, trees: [{ layer: 2, kind: 'tree', leaves: 1024, blocks: 1, balance: 0.7, deadLeaves: 824, usage: [usage] }] });
  writeFileSync(join(dir, 'metrics.jsonl'), [epoch(1, 3, 2.3), epoch(2, 5, 0.2)].join('\n') + '\n');
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ dataset: 'mnist', testAccuracy: 0.9, splits: { training: 1000 } }));
  const report = trainingReport(dir), charts = report.sections[0].charts!;
  const chart = (title: string) => charts.find((c) => c.title === title)!;
  assert.match(report.sections[0].text!.join(' '), /Leaf usage is counted on the validation set after each epoch, and there are few examples there for the leaves \(layer 2: 250 examples for 1,024 leaves\): many leaves go unused by chance alone/);
  const random = chart('dead leaves over training').traces.find((t) => t.name === 'layer 2 at random')!;
  assert.ok(Math.abs((random.y as number[])[0] - 1024 * (1023 / 1024) ** 250) < 1e-9);
  assert.match(chart('dead leaves over training').note!, /Dashed: as many would go unused if each example went to one drawn at random/);
  assert.match(chart('balance over training').note!, /cannot reach 1/);
  assert.deepEqual(chart('accuracy').traces.find((t) => t.name === 'test')!.y, [0.9]);
  assert.deepEqual(chart('time per epoch').traces[0].y, [3, 2]);
  assert.match(chart('time per epoch').note!, /5\.0 s in all, 400 training examples a second on average, evaluation included \(1,000 an epoch\)/);
  assert.equal(chart('loss').yLog, true, 'a loss from 2.3 to 0.2 on a log axis');
  assert.match(chart('loss').note!, /; validation: after each epoch$/);
});

test('a log of 200 000 step records (--log-every 1 over a long run) renders', () => {
  const dir = join(TMP, 'long-log');
  mkdirSync(dir);
  const lines = Array.from({ length: 200_000 }, (_, i) => `{"type":"step","epoch":1,"step":${i + 1},"lr":0.001,"trainLoss":${2 / (1 + i / 1000)},"trainAccuracy":0.5}`);
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  const loss = trainingReport(dir).sections[0].charts![0];
  assert.equal((loss.traces[0].x as number[]).length, 200_000);
});

test("a resumed run's backends are listed in turn in the report's header", () => {
  const dir = join(TMP, 'resumed');
  mkdirSync(dir);
  writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'epoch', epoch: 1, step: 10, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5,
    validationLoss: null, validationAccuracy: null, seconds: 1, trees: [] }) + '\n');
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ dataset: 'mnist', testAccuracy: 0.9, backend: 'native', backends: ['js', 'native'], seed: 1 }));
  const { meta, sections } = trainingReport(dir);
  // (a run without validation: its curves' note says so, not when validation ran)
  assert.match(sections[0].charts![0].note!, /; no validation set$/);
  assert.equal(meta.backend, 'native');
  assert.equal(meta.backends, 'js then native');
});

test("the header shows how the run was trained (result.json's settings as options, command, resumes, provenance); a result.json without them renders as before", () => {
  const dir = join(TMP, 'settings');
  mkdirSync(dir);
  writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'epoch', epoch: 1, step: 10, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5,
    validationLoss: null, validationAccuracy: null, seconds: 1, trees: [] }) + '\n');
  const older = { dataset: 'mnist', testAccuracy: 0.9, epochs: 1, backend: 'native', seed: 1 };
  writeFileSync(join(dir, 'result.json'), JSON.stringify(older));
  assert.deepEqual(trainingReport(dir).meta, { folder: dir, dataset: 'mnist', 'test accuracy': '90.00%', epochs: '1', backend: 'native', seed: '1' });
  const settings = { dataset: 'csv', csv: '/d/a.csv', hidden: [16, 16], treeLayers: [], layer: 'tree', straightThrough: true, epochs: 1, batchSize: 37, lr: 0.0123,
    weightDecay: 0.05, seed: 1, out: dir, labelColumn: 'kind of thing', checkpointEvery: { minutes: 10 }, logEvery: 2 };
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ ...older, settings, command: 'treegate train --csv a.csv --batch-size 37', resumedWith: ['treegate train --resume r', 'treegate train --resume r --threads 2'],
    provenance: { treegate: '0.1.0', commit: '0123456789ab', code: 'fedcba9876543210', mnist: 'ab'.repeat(32) } }));
  const { meta } = trainingReport(dir);
  // (the dataset, its file, the epochs, the seed and the folder are shown apart)
  assert.equal(meta.settings, '--hidden 16,16 --tree-layers none --layer tree --straight-through --batch-size 37 --lr 0.0123 --weight-decay 0.05 ' +
    '--label-column "kind of thing" --checkpoint-every 10m --log-every 2');
  assert.equal(meta.command, 'treegate train --csv a.csv --batch-size 37');
  assert.equal(meta['resumed with'], 'treegate train --resume r; treegate train --resume r --threads 2');
  assert.equal(meta.treegate, '0.1.0 (commit 0123456789ab), code sha256 fedcba9876543210', 'as an experiment\'s report says it');
  assert.equal(meta['MNIST files'], 'sha256 abababababababab…');
  assert.match(renderReport(trainingReport(dir)), /<dt>settings<\/dt><dd>--hidden 16,16 --tree-layers none/);
  for (const [field, bad, re] of [['settings', 3, /settings is not an object/], ['command', ['x'], /command is not a string/],
    ['resumedWith', 'x', /resumedWith is not a list of commands/], ['provenance', { commit: 'x' }, /provenance is not \{ treegate, commit\?, code\?, mnist\? \}/]] as const) {
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ ...older, [field]: bad }));
    assert.throws(() => trainingReport(dir), re, field);
  }
});

test('a run of 13 epochs gets a tick every 2 epochs; a loss within a decade is on a linear axis; a run of 7 steps gets whole-step ticks, one of 10 does not', () => {
  const dir = join(TMP, 'ticks');
  mkdirSync(dir);
  const epoch = (e: number, steps: number) => JSON.stringify({ type: 'epoch', epoch: e, step: steps * e, lr: 0.001, trainLoss: 1 - e / 20, trainAccuracy: 0.5,
    validationLoss: null, validationAccuracy: null, seconds: e, trees: [{ layer: 2, kind: 'tree', leaves: 4, blocks: 1, balance: 0.9, deadLeaves: 0, usage: [[9, 9, 9, 9]] }] });
  const charts = (epochs: number, steps: number) => {
    writeFileSync(join(dir, 'metrics.jsonl'), Array.from({ length: epochs }, (_, i) => epoch(i + 1, steps)).join('\n') + '\n');
    const all = trainingReport(dir).sections[0].charts!;
    return (title: string) => all.find((c) => c.title === title)!;
  };
  const long = charts(13, 10);
  // at most about a dozen labels: 13 epochs, every second one
  assert.deepEqual((long('time per epoch').layout?.xaxis as Record<string, unknown>), { tick0: 1, dtick: 2, title: { text: 'epoch' } });
  assert.deepEqual((long('balance over training').layout?.xaxis as Record<string, unknown>), { tick0: 1, dtick: 2, range: [0.5, 13.5], title: { text: 'epoch' } });
  assert.deepEqual((long('usage of layer 2 (tree)').layout?.yaxis as Record<string, unknown>), { tick0: 1, dtick: 2, title: { text: 'epoch' }, showgrid: false });
  // a loss from 0.95 to 0.35: under a decade, a linear axis
  assert.equal(long('loss').yLog, false);
  assert.equal(long('loss').layout?.xaxis, undefined, '130 steps: Plotly\'s own ticks');
  assert.deepEqual(charts(1, 7)('loss').layout?.xaxis, { tick0: 0, dtick: 1 }, '7 steps: whole steps');
  assert.equal(charts(1, 10)('loss').layout?.xaxis, undefined, '10 steps: Plotly\'s own ticks');
});

test('a run logged in 4 windows is told that a smaller --log-every draws the curve; one of 5 is not', () => {
  const dir = join(TMP, 'windows');
  mkdirSync(dir);
  const step = (n: number) => JSON.stringify({ type: 'step', epoch: 1, step: n, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5 });
  const epoch = JSON.stringify({ type: 'epoch', epoch: 1, step: 100, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5, validationLoss: null, validationAccuracy: null, seconds: 1, trees: [] });
  const note = (windows: number) => {
    writeFileSync(join(dir, 'metrics.jsonl'), [...Array.from({ length: windows }, (_, i) => step(25 * (i + 1) - (windows === 5 ? 5 : 0))), epoch].join('\n') + '\n');
    return trainingReport(dir).sections[0].charts![0].note!;
  };
  assert.match(note(4), /; only 4 windows logged in 100 steps: a smaller --log-every draws the curve$/);
  assert.doesNotMatch(note(5), /a smaller --log-every/);
});

test('usage counted on under ten examples a leaf is said to be sparse, on ten or more it is not; a layer of 64 leaves gets no sorted shares', () => {
  const dir = join(TMP, 'ten-a-leaf');
  mkdirSync(dir);
  const text = (perLeaf: number, leaves = 4) => {
    writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ type: 'epoch', epoch: 1, step: 10, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5,
      validationLoss: null, validationAccuracy: null, seconds: 1,
      trees: [{ layer: 2, kind: 'tree', leaves, blocks: 1, balance: 1, deadLeaves: 0, usage: [Array.from({ length: leaves }, () => perLeaf)] }] }) + '\n');
    const s = trainingReport(dir).sections[0];
    return { text: s.text!.join(' '), titles: s.charts!.map((c) => c.title) };
  };
  assert.match(text(5).text, /there are few examples there for the leaves \(layer 2: 20 examples for 4 leaves\)/);
  assert.doesNotMatch(text(10).text, /few examples/);
  assert.ok(!text(10, 64).titles.some((t) => /shares sorted/.test(t)), 'a heatmap of 64 leaves is read as it is');
});

test('majorityNote: where one class is half the test set or more, what always answering it scores; its name, or its number; the first such class of a tie', () => {
  const y = Int32Array.from([1, 0, 1, 1, 2, 1, 0, 1]);
  assert.equal(majorityNote(y, 8, ['no', 'yes', 'maybe']), "(always answering the most common class, 'yes', would score 62.50% on these examples)");
  assert.equal(majorityNote(y, 8), '(always answering the most common class, class 1, would score 62.50% on these examples)');
  assert.equal(majorityNote(y, 4), '(always answering the most common class, class 1, would score 75.00% on these examples)', 'the first rows alone');
  assert.equal(majorityNote(Int32Array.from([1, 0, 0, 1]), 4), '(always answering the most common class, class 0, would score 50.00% on these examples)');
  assert.equal(majorityNote(Int32Array.from([0, 1, 2, 2, 1]), 5), null, 'no class is half');
  assert.equal(majorityNote(new Int32Array(0), 0), null);
});

test('perClassFigures: each class\'s examples, predictions, correct ones, recall and precision; an overflowed example (−1) predicts no class; nothing to divide by is null', () => {
  const predicted = Int32Array.from([0, 0, 1, -1, 0, 2]), y = Int32Array.from([0, 1, 1, 1, 0, 0]);
  assert.deepEqual(perClassFigures(predicted, y, 6, ['a', 'b', 'c', 'd']), [
    { label: 'a', examples: 3, predicted: 3, correct: 2, recall: 2 / 3, precision: 2 / 3 },
    { label: 'b', examples: 3, predicted: 1, correct: 1, recall: 1 / 3, precision: 1 },
    { label: 'c', examples: 0, predicted: 1, correct: 0, recall: null, precision: 0 },
    { label: 'd', examples: 0, predicted: 0, correct: 0, recall: null, precision: null },
  ]);
  assert.deepEqual(perClassFigures(predicted, y, 2, ['a', 'b']).map((c) => [c.examples, c.predicted]), [[1, 2], [1, 0]], 'the first rows alone');
});

test('the layer summary: counts as read (1 example, 0 examples; 999.9k, 1.00M), no balance before usage is counted, straight-through only when asked', () => {
  assert.deepEqual([counted(1, 'example'), counted(0, 'example'), counted(2, 'example')], ['1 example', '0 examples', '2 examples']);
  assert.deepEqual([999, 1000, 999_949, 1e6, 2.5e9].map(formatCount), ['999', '1.0k', '999.9k', '1.00M', '2.50G']);
  // the unit is chosen after rounding (found by the report mutation round's helper)
  assert.deepEqual([999_950, 999_960, 999_994_999, 999_995_000].map(formatCount), ['1.00M', '1.00M', '999.99M', '1.00G']);
  const model = new Model(mlpConfig({ inputSize: 8, numClasses: 3, hidden: [16], treeLayers: [1], depth: 2, gating: 'projection' }), new Rng(3));
  const tree = modelSummary(model).layers.find((l) => l.kind === 'tree')!;
  assert.ok(!('balance' in tree) && !('deadLeaves' in tree), 'no usage counted yet: no balance, no dead leaves');
  assert.equal(tree.straightThrough, false);
  assert.match(layerTable(modelSummary(model).layers), /^1 +tree +8→16 +k=2 B=1 projection +/m);
});

test('chart helpers: a series of up to 60 points has markers, a longer one is a line alone; counts are rounded to the nearest; a line over one x spans it', () => {
  const series = (n: number) => ({ name: 's', x: Array.from({ length: n }, (_, i) => i), y: Array.from({ length: n }, () => 1) });
  assert.deepEqual(seriesTraces([series(7), series(60), series(61)]).map((t) => t.mode), ['lines+markers', 'lines+markers', 'lines']);
  assert.deepEqual([2.5, 1234.6, 999.4].map(count), ['3', '1,235', '999']);
  assert.deepEqual(extent([4]), [4, 4]);
  assert.deepEqual(extent([]).map(Number.isNaN), [true, true]);
  assert.deepEqual(horizontalLine(0.9, [3], 'target').x, [3, 3], 'one epoch: the line at its x, not NaN');
});

test('readMetrics rejects a malformed log naming the line', () => {
  const p = join(TMP, 'bad.jsonl');
  writeFileSync(p, '{"type":"step","epoch":1,"step":1,"lr":0.001,"trainLoss":2}\nnot json\n');
  assert.throws(() => readMetrics(p), (e: unknown) => e instanceof TreegateError && /bad\.jsonl:2: not a JSON line \(metrics\.jsonl holds one JSON object a line/.test(e.message));
  writeFileSync(p, '{"type":"weird"}\n');
  assert.throws(() => readMetrics(p), /bad\.jsonl:1: not a step or epoch record/);
  writeFileSync(p, '{"type":"step","epoch":1,"step":1,"lr":"abc","trainLoss":2}\n');
  assert.throws(() => readMetrics(p), /bad\.jsonl:1: not a step or epoch record/, 'a learning rate that is not a number');
  // a layer of two blocks with one block's counts
  writeFileSync(p, JSON.stringify({ type: 'epoch', epoch: 1, step: 1, lr: 0.001, trainLoss: 1, trainAccuracy: 0.5, validationLoss: null, validationAccuracy: null, seconds: 1,
    trees: [{ layer: 2, kind: 'tree', leaves: 2, blocks: 2, balance: 1, deadLeaves: 0, usage: [[1, 1]] }] }) + '\n');
  assert.throws(() => readMetrics(p), /bad\.jsonl:1: trees\[0\] has usage that is not 2 lists of 2 counts/);
  assert.throws(() => trainingReport(join(TMP, 'nowhere')), /cannot read .*metrics\.jsonl/);
});

test('treegate report refuses what it cannot render, and never writes over a file that is not a report', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI_ARGS, 'report', ...args], { cwd: ROOT, encoding: 'utf8' });
  const dir = join(TMP, 'report-cli');
  mkdirSync(dir);
  const results = join(dir, 'speed.json');
  writeFileSync(results, readFileSync(join(ROOT, 'docs', 'results', 'speed.json')));
  const before = readFileSync(results, 'utf8');
  // --out onto its own input: refused, the results kept
  const self = cli(results, '--out', results);
  assert.equal(self.status, 2, self.stderr);
  assert.match(self.stderr, /--out .*speed\.json exists and is not a treegate report: writing the report would replace it/);
  assert.equal(readFileSync(results, 'utf8'), before);
  // a page of the user's own: refused too; a report drawn before reports named their generator: replaced
  const own = '<!DOCTYPE html>\n<html><head><title>mine</title></head><body>keep</body></html>\n';
  writeFileSync(join(dir, 'own.html'), own);
  assert.match(cli(results, '--out', join(dir, 'own.html')).stderr, /own\.html exists and is not a treegate report/);
  assert.equal(readFileSync(join(dir, 'own.html'), 'utf8'), own);
  writeFileSync(join(dir, 'older.html'), '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>speed</title>\n<style>\n' +
    'body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; }\n</style>\n');
  assert.equal(cli(results, '--out', join(dir, 'older.html')).status, 0);
  assert.match(readFileSync(join(dir, 'older.html'), 'utf8'), /<meta name="generator" content="treegate">/);
  // an empty file (mktemp's) is no loss: written
  writeFileSync(join(dir, 'empty.html'), '');
  assert.equal(cli(results, '--out', join(dir, 'empty.html')).status, 0);
  assert.match(readFileSync(join(dir, 'empty.html'), 'utf8'), /^<!doctype html>/);
  // a results file's page goes beside it, named after it; a second render replaces that page
  for (let i = 0; i < 2; i++) {
    const ok = cli(results);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote .*report-cli\/speed\.html/);
  }
  // a folder with both a run's log and an experiment's results: which one is meant is not guessed
  const both = join(TMP, 'report-both');
  mkdirSync(both);
  writeFileSync(join(both, 'results.json'), before);
  writeFileSync(join(both, 'metrics.jsonl'), '{"type":"step","epoch":1,"step":1,"lr":0.1,"trainLoss":1,"trainAccuracy":0.5}\n');
  const twice = cli(both);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /holds both metrics\.jsonl \(a training run\) and results\.json \(an experiment\)/);
  // a training run's result.json: its folder's run, where metrics.jsonl is beside it; else refused
  writeFileSync(join(both, 'result.json'), '{}');
  const viaResult = cli(join(both, 'result.json'));
  assert.equal(viaResult.status, 0, viaResult.stderr);
  assert.match(viaResult.stdout, new RegExp(`wrote ${join(both, 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const lone = join(TMP, 'report-lone-result');
  mkdirSync(lone);
  writeFileSync(join(lone, 'result.json'), '{}');
  assert.match(cli(join(lone, 'result.json')).stderr, /result\.json is a training run's result, and .*report-lone-result holds no metrics\.jsonl, which the report draws/);
  // a model file: named as one, with the command that shows it (not the JSON parser's view of its bytes)
  saveModel(join(both, 'model.safetensors'), new Model(mlpConfig({ inputSize: 4, numClasses: 2, hidden: [4], treeLayers: [], depth: 0 }), new Rng(1)));
  assert.match(cli(join(both, 'model.safetensors')).stderr, /model\.safetensors is a model file, not a run's results \(treegate inspect --model /);
  // a checkpoint: named as one, with the run's folder to pass
  mkdirSync(join(both, 'checkpoints'));
  const ckpt = join(both, 'checkpoints', 'step-000000002.safetensors');
  writeFileSync(ckpt, encodeSafetensors([{ name: 'w', shape: [1], data: Float32Array.of(1) }], { format: CHECKPOINT_FORMAT }));
  assert.match(cli(ckpt).stderr, new RegExp(`step-000000002\\.safetensors is a training checkpoint, not a run's results \\(report takes the folder of the run that wrote it, ${both.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
  assert.match(cli('').stderr, /expected a path, not an empty string/);
  // a damaged results file: exit 2 naming it, no page written
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...JSON.parse(before), machine: {} }));
  const bad = cli(join(dir, 'bad.json'), '--out', join(TMP, 'x.html'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.json: machine is not/);
  assert.ok(!existsSync(join(TMP, 'x.html')));
  const empty = join(TMP, 'empty');
  mkdirSync(empty);
  const e = cli(empty);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /holds neither metrics\.jsonl \(a training run\) nor results\.json \(an experiment\)/);
});

test('log axes label every tick in full: 1-2-5 per decade over a short span, powers of ten over a long one', () => {
  assert.deepEqual(logTicks([3, 400]), { tickvals: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], ticktext: ['1', '2', '5', '10', '20', '50', '100', '200', '500', '1k'] });
  // three of 1, 2, 5 among the values leave their ends unread (a loss from 0.27 to 4 labelled 0.5, 1 and 2): every digit
  assert.deepEqual(logTicks([0.27, 4]).tickvals?.filter((t) => t >= 0.27 && t <= 4), [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 2, 3, 4]);
  assert.deepEqual(logTicks([3, 40]).tickvals?.filter((t) => t >= 3 && t <= 40), [3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40]);
  assert.deepEqual(logTicks([0.3, 0.9]).ticktext, ['0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7', '0.8', '0.9', '1']);
  assert.deepEqual(logTicks([2e3, 5e7]), { tickvals: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8], ticktext: ['1k', '10k', '100k', '1M', '10M', '100M'] });
  assert.deepEqual(logTicks([]), {});
  // two ticks at least among the values, else none (Plotly's own labels)
  assert.deepEqual(logTicks([12, 18]), {});
  assert.deepEqual(logTicks([2.3, 2.9]), {});
  assert.deepEqual(logTicks([1.5, 4.5]).tickvals?.filter((t) => t >= 1.5 && t <= 4.5), [2, 3, 4], 'every digit where 1-2-5 gives one');
  assert.ok((logTicks([6.9e3, 2.1e6]).tickvals ?? []).filter((t) => t >= 6.9e3 && t <= 2.1e6).length >= 5, '1-2-5 over 2.5 decades');
  assert.equal(logTicks(Array.from({ length: 200_000 }, (_, i) => i + 1)).ticktext?.at(-1), '1M');
  // the chart's axis gets them from its traces' values
  const page = renderReport({ title: 't', meta: {}, sections: [{ heading: 'h', charts: [{ title: 'c', yTitle: 'loss', yLog: true, traces: [{ type: 'scatter', x: [1, 2], y: [3, 400] }] }] }] });
  assert.match(page, /"yaxis":\{"title":\{"text":"loss \(log scale\)"\},"type":"log","automargin":true,"tickvals":\[1,2,5,10,20,50,100,200,500,1000\]/);
});

test('a chart\'s title is its figure\'s heading and names it for a screen reader; its layout merges into the defaults axis by axis', () => {
  const page = renderReport({ title: 't', meta: {}, sections: [{ heading: 'h', tables: [{ columns: ['a'], rows: [[1]] }], charts: [
    { title: 'a title long enough to wrap <on a phone>', note: 'what it shows', xTitle: 'step', traces: [], layout: { xaxis: { dtick: 1 }, legend: { title: { text: 'layer' } }, showlegend: true } },
    { title: 'no note', traces: [] },
  ] }] });
  assert.match(page, /<figure><h3 id="chart-1-title">a title long enough to wrap &lt;on a phone&gt;<\/h3><div class="chart" id="chart-1" role="img" aria-labelledby="chart-1-title" aria-describedby="chart-1-note"><\/div><figcaption class="note" id="chart-1-note">what it shows<\/figcaption><\/figure>/);
  assert.match(page, /<h3 id="chart-2-title">no note<\/h3><div class="chart" id="chart-2" role="img" aria-labelledby="chart-2-title"><\/div><\/figure>/);
  assert.match(page, /<div class="scroll"><table>/, 'a wide table scrolls, not the page');
  const charts = JSON.parse(/const charts = (.*);\n/.exec(page)![1]) as Array<{ layout: Record<string, any> }>;
  const { layout } = charts[0];
  assert.equal(layout.title, undefined, 'no Plotly title, clipped at the chart\'s width');
  assert.deepEqual(layout.xaxis, { title: { text: 'step' }, type: '-', automargin: true, zeroline: false, dtick: 1 }, 'the chart\'s dtick beside the default title');
  assert.deepEqual(layout.legend, { orientation: 'h', y: -0.22, x: 0, title: { text: 'layer' } }, 'the legend stays under the plot');
  assert.equal(layout.showlegend, true);
  assert.deepEqual(layout.colorway, PALETTE);
});

/** The contrast ratio of two #rrggbb colours (WCAG 2's relative luminance): 1 to 21. */
function contrast(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

test("darkTheme: a chart for a dark page, its dark colours made light, its numbers passed through", () => {
  type Chart = { data: Array<Record<string, any>>; layout: Record<string, any> };
  const darkTheme = new Function(`${DARK_THEME_JS}; return darkTheme;`)() as (c: Chart) => Chart;
  const y = Array.from({ length: 100_000 }, (_, i) => i);
  const chart: Chart = {
    data: [
      { type: 'scatter', name: '#000', x: [1, 2], y, line: { color: '#000' }, error_y: { color: '#000000' } },
      { type: 'scatter', name: 'target', x: [1, 2], y: [1, 1], line: { dash: 'dot', color: '#555' }, marker: { color: ['#888', '#0072B2'] } },
      { type: 'scatter', name: '#0072B2', x: [1, 2], y: [1, 2], marker: { color: [0.5, 2], colorscale: 'Viridis' } },
      { type: 'heatmap', z: [[null, 0.5], [0.25, null]], colorscale: 'Viridis' },
    ],
    layout: { colorway: PALETTE, plot_bgcolor: '#bbb', xaxis: { title: { text: 'k' }, type: 'log' }, yaxis: { range: [0, 1] }, font: { size: 12 } },
  };
  const before = JSON.stringify(chart);
  const dark = darkTheme(chart);
  assert.equal(JSON.stringify(chart), before, 'the light chart is left as it was');
  assert.equal(dark.data[0].y, y, 'a long array of numbers is passed through, not copied');
  assert.equal(dark.data[0].name, '#000', 'only colours change: a name is kept');
  assert.deepEqual([dark.data[0].line.color, dark.data[0].error_y.color, dark.data[1].line.color, dark.data[1].marker.color],
    ['#e8e8e8', '#e8e8e8', '#b0b0b0', ['#a0a0a0', '#308dcf']]);
  assert.deepEqual([dark.data[2].name, dark.data[2].marker.color], ['#0072B2', [0.5, 2]], 'a name, and numbers under a colour key (a colour scale\'s values), are kept');
  assert.deepEqual(dark.data[3].z, [[null, 0.5], [0.25, null]]);
  // the palette: its black made light, its blue (3.5:1 on the dark paper) a lighter blue; every colour at least 4.5:1
  assert.deepEqual(dark.layout.colorway, PALETTE.map((c) => ({ '#000000': '#e8e8e8', '#0072B2': '#308dcf' })[c] ?? c));
  for (const c of dark.layout.colorway as string[]) assert.ok(contrast(c, '#161616') >= 4.5, `${c}: ${contrast(c, '#161616').toFixed(2)}:1 on the dark paper`);
  assert.equal(new Set((dark.layout.colorway as string[]).map((c) => c.toLowerCase())).size, PALETTE.length, 'the colours stay apart');
  assert.equal(dark.layout.paper_bgcolor, '#161616');
  assert.equal(dark.layout.plot_bgcolor, '#bbb', "a heatmap's grey for empty cells stays");
  assert.equal(darkTheme({ data: [], layout: {} }).layout.plot_bgcolor, '#161616');
  assert.deepEqual(dark.layout.font, { size: 12, color: '#ddd' });
  assert.deepEqual(dark.layout.xaxis, { title: { text: 'k' }, type: 'log', gridcolor: '#333', zerolinecolor: '#555', linecolor: '#666' });
  assert.deepEqual(dark.layout.yaxis.range, [0, 1]);
});

test('a report opened on a dark page is dark, its charts too; on a light page, as it was', { skip }, async () => {
  const path = join(TMP, 'dark.html');
  writeFileSync(path, renderReport({ title: 't', meta: { a: 'b' }, sections: [{ heading: 'h', tables: [{ columns: ['a'], rows: [[1]] }], charts: [
    // the first trace's colour from the layout's colorway, the palette's first (the palette's blue); the second's its own
    { title: 'c', traces: [
      ...seriesTraces([{ name: 'blue', x: [1, 2], y: [2, 1] }]),
      ...seriesTraces([{ name: 's', x: [1, 2], y: [1, 2] }]).map((t) => ({ ...t, line: { color: '#000000' } })),
    ] },
  ] }] }));
  const look = async (colorScheme: 'dark' | 'light') => {
    const page = await browserPage({ colorScheme });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('div.chart svg.main-svg'), null, { timeout: 20_000 });
    const seen = await page.evaluate(() => {
      const d = document.querySelector('div.chart') as unknown as { _fullLayout: { paper_bgcolor: string }; data: Array<{ line: { color: string } }>; _fullData: Array<{ line: { color: string } }> };
      return { body: getComputedStyle(document.body).backgroundColor, text: getComputedStyle(document.body).color, paper: d._fullLayout.paper_bgcolor, line: d.data[1].line.color, blue: d._fullData[0].line.color };
    });
    await page.close();
    assert.deepEqual(errors, [], colorScheme);
    return seen;
  };
  assert.deepEqual(await look('dark'), { body: 'rgb(22, 22, 22)', text: 'rgb(221, 221, 221)', paper: '#161616', line: '#e8e8e8', blue: '#308dcf' });
  assert.deepEqual(await look('light'), { body: 'rgb(255, 255, 255)', text: 'rgb(34, 34, 34)', paper: '#fff', line: '#000000', blue: '#0072B2' });
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
  assert.match(html, /native: fraction of the roofline bound/);
  assert.match(html, /wasm: fraction of the per-node bound/);
  assert.match(html, /Points above it beat that count: path sums skip the collapsed nodes/, "the captions say why a point passes 100%");
  assert.match(html, /target 70%/);
  // the ceiling of node-by-node execution: roofline ÷ per-node bound, 76.9% where the per-node bound is 1.3× it
  assert.match(html, /"y":\[100,100,76\.9\]/);
  // GEMM: dots side by side at each shape (a bar's length on a log axis means nothing), open for one thread
  assert.doesNotMatch(html, /"type":"bar"/);
  assert.match(html, /"scattermode":"group"/);
  assert.match(html, /"name":"treegate native, 1 thread","x":\["256×512×512","1×1024×1024"\],"marker":\{"color":"#0072B2","size":11,"symbol":"circle-open"/);
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
