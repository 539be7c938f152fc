/**
 * `treegate experiment` stopped by a signal: it keeps the seeds it completed (a valid result over fewer seeds,
 * saying what it left out) or, before the first seed is complete, writes nothing; `--resume` goes on with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { blobsCsv, cli, CLI_ARGS, cliEnv, describeRun, expectUsageError, HINT_CLI, reEscape, ROOT, tmp } from './run.js';
import { defaultMnistDir, MNIST_FILES } from '../../src/data/mnist.js';
import { Rng } from '../../src/core/rng.js';

/** The gating experiment made tiny: 600 MNIST examples, a depth-2 tree, one epoch; three runs per seed. */
const TINY = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ limit: 600, depths: [2], train: { epochs: 1, batchSize: 64, lr: 1e-3 } }) };
const ARGS = ['experiment', 'gating', '--quick', '--seeds', '2', '--no-progress'];

test('a signal during the second seed: the first seed\'s results are written, with what was left out, and the exit code is the signal\'s', () => {
  const out = tmp('experiment-sigint');
  // the signal comes as run 4 (the second of seed 2) starts: that run finishes, then the experiment stops
  const r = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '4' }, ...ARGS, '--out', out, '--json');
  assert.equal(r.status, 130, describeRun(r));
  assert.match(r.stderr, /SIGINT: stopping after the current run/);
  assert.match(r.stderr, /stopped by a signal: seed 1 of seeds 1, 2 completed; the 2 finished runs of seed 2 left out/);
  assert.match(r.stderr, new RegExp(`left out; resume with: ${reEscape(`${HINT_CLI} experiment gating --resume ${out}`)}\n`));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), result, '--json prints what results.json holds');
  assert.deepEqual(result.seeds, [1]);
  assert.deepEqual(result.interrupted, { seeds: [1, 2], droppedRuns: 2 });
  assert.deepEqual(result.runs.map((x: { seed: number }) => x.seed), [1, 1, 1], 'the runs of seed 1 only');
  assert.ok(result.aggregate.every((a: { seeds: number }) => a.seeds === 1), 'every configuration over the same seeds');
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /stopped by a signal: seed 1 of seeds 1, 2 completed/);
  // the results read back (treegate report renders them again)
  const again = cli('report', out);
  assert.equal(again.status, 0, describeRun(again));
});

test('a signal before the first seed is complete: nothing is written, an earlier run\'s files stay as they were', () => {
  const out = tmp('experiment-sigterm');
  mkdirSync(out);
  // an earlier finished run of the same experiment, which a new run may replace (the committed one)
  const earlier = readFileSync(join(ROOT, 'docs', 'results', 'gating.json'), 'utf8');
  writeFileSync(join(out, 'results.json'), earlier);
  const r = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGTERM', TREEGATE_FAULT_RUN: '1' }, ...ARGS, '--out', out);
  assert.equal(r.status, 143, describeRun(r));
  assert.match(r.stderr, /stopped by a signal before seed 1 completed; the 2 finished runs of seed 1 left out: nothing written/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), earlier);
  assert.ok(!existsSync(join(out, 'report.html')));
  // a folder the command made for it is not left behind, empty
  const fresh = join(tmp('experiment-fresh'), 'sub');
  const f = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGTERM', TREEGATE_FAULT_RUN: '1' }, ...ARGS, '--out', fresh);
  assert.equal(f.status, 143, describeRun(f));
  assert.match(f.stderr, /nothing written/);
  assert.ok(!existsSync(dirname(fresh)), 'no empty --out folder (nor its new parent) left');
});

test('--resume goes on with an interrupted experiment: the seeds it lacked are run, and the result is the uninterrupted run\'s', () => {
  const out = tmp('experiment-resume'), whole = tmp('experiment-whole');
  // stopped after seed 1 of 2 (the signal as run 4 starts), then resumed (--quick and the seeds from its results.json):
  // seed 2 runs, seed 1 does not
  assert.equal(cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '4' }, ...ARGS, '--out', out).status, 130);
  // resumed, and stopped again before seed 2 is complete (runs are counted from the first seed's): nothing written
  const interrupted = readFileSync(join(out, 'results.json'), 'utf8');
  const again = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '4' }, 'experiment', 'gating', '--no-progress', '--resume', out);
  assert.equal(again.status, 130, describeRun(again));
  assert.match(again.stderr, /seed 1 of seeds 1, 2 completed; the 2 finished runs of seed 2 left out: nothing written/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), interrupted, 'results.json as it was');
  // as a file of a run resumed before, over 1000 s, written before provenance recorded the code's hash (which is then
  // not checked) and before gating took --depths: its one depth as settings.depth, its runs, aggregate and leaf usage
  // without it (read as a run of that depth, and resumed at it)
  const earlier = JSON.parse(interrupted), k = earlier.settings.depths[0];
  delete earlier.provenance.code;
  assert.deepEqual(earlier.settings.depths, [2]);
  const { depths: _, ...settings } = earlier.settings, unnamed = (rows: Array<Record<string, unknown>>) => rows.map(({ k: _k, ...row }) => row);
  writeFileSync(join(out, 'results.json'), JSON.stringify({ ...earlier, settings: { ...settings, depth: k }, runs: unnamed(earlier.runs), aggregate: unnamed(earlier.aggregate),
    usage: earlier.usage[k], seconds: 1000, resumedWith: ['an earlier --resume'] }));
  const resumed = cliEnv(TINY, 'experiment', 'gating', '--no-progress', '--resume', out, '--json');
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.doesNotMatch(resumed.stderr, /gating \S+ seed 1 /, 'seed 1 is not run again');
  assert.match(resumed.stderr, /^gating mnist seed 2 k=2 units: test /m);
  assert.match(resumed.stderr, /6 runs over seeds 1, 2 \(seed 2 run now, the others' runs from the interrupted run\)/);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(resumed.stdout), r, '--json prints what results.json holds');
  assert.equal(r.interrupted, undefined);
  assert.ok(Number.isInteger(r.machine.threads) && r.machine.threads >= 1, 'the kernels\' thread count is recorded');
  assert.match(r.command, /--seeds 2/, 'the command that started it');
  assert.equal(r.resumedWith.length, 2);
  assert.equal(r.resumedWith[0], 'an earlier --resume', 'the commands that resumed it before');
  assert.match(r.resumedWith[1], /--resume/);
  assert.ok(r.seconds >= 1000, `the wall time of every process: ${r.seconds}`);
  // the seeds and every figure of an uninterrupted run (nothing here is timed)
  assert.equal(cliEnv(TINY, ...ARGS, '--out', whole).status, 0);
  const w = JSON.parse(readFileSync(join(whole, 'results.json'), 'utf8'));
  for (const f of ['seeds', 'runs', 'aggregate', 'usage', 'settings']) assert.deepEqual(r[f], w[f], f);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /resumed with/);
  assert.equal(cli('report', out).status, 0, 'the resumed results read back');
  // finished now: nothing to go on with, and the files stay as they are
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  expectUsageError(['experiment', 'gating', '--resume', out], /finished \(seeds 1, 2\): nothing to go on with/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes);
});

test('--resume refuses, before running anything, a folder without results, options it keeps, another experiment, backend, machine, thread count or settings', () => {
  const out = tmp('experiment-resume-refused');
  const none = tmp('experiment-resume-none');
  expectUsageError(['experiment', 'gating', '--resume', none], /--resume: no results.json in .* to go on with/);
  assert.equal(cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGTERM', TREEGATE_FAULT_RUN: '4' }, ...ARGS, '--out', out).status, 143);
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  expectUsageError(['experiment', 'accuracy', '--resume', out], /holds a gating experiment, not accuracy/);
  expectUsageError(['experiment', 'gating', '--resume', out, '--quick', '--seeds', '2', '--out', out], /--seeds, --quick, --out have no effect with --resume/);
  expectUsageError(['experiment', 'gating', '--resume', out, '--backend', 'js'], /ran on the \w+ backend, not js/);
  const other = cliEnv({ TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ limit: 500, depths: [2], train: { epochs: 1, batchSize: 64, lr: 1e-3 } }) },
    'experiment', 'gating', '--no-progress', '--resume', out);
  assert.equal(other.status, 2, describeRun(other));
  assert.match(other.stderr, /the interrupted run's settings are not this run's: limit was 600, would be 500/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  // edited copies: run on another machine; seeds that are not the first ones asked for
  const edited = (name: string, edit: (r: Record<string, any>) => void) => {
    const dir = tmp(name), r = JSON.parse(bytes);
    edit(r);
    mkdirSync(dir);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(r));
    return dir;
  };
  expectUsageError(['experiment', 'gating', '--resume', edited('elsewhere', (r) => { r.machine.cpu = 'Some Other CPU'; })],
    /ran on Some Other CPU, \d+ cores, node v[\d.]+; this is /);
  expectUsageError(['experiment', 'gating', '--resume', edited('other-cores', (r) => { r.machine.cores += 1; })], /ran on .*, \d+ cores, node v[\d.]+; this is /);
  expectUsageError(['experiment', 'gating', '--resume', edited('threads', (r) => { r.machine.threads = 99; })],
    /ran its kernels on 99 threads, this would on \d+ \(resume it with --threads 99/);
  expectUsageError(['experiment', 'gating', '--resume', edited('seed-2-only', (r) => { r.seeds = [2]; for (const x of r.runs) x.seed = 2; })],
    /holds seeds 2, not the first of the seeds 1, 2 it asked for/);
  // one treegate and one data set: what made the results is recorded, and a resume with another is refused
  const made = JSON.parse(bytes).provenance;
  assert.equal(made.treegate, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  assert.match(made.mnist, /^[0-9a-f]{64}$/);
  if (existsSync(join(ROOT, '.git'))) assert.match(made.commit, /^[0-9a-f]{12}$/);
  assert.match(made.code, /^[0-9a-f]{16}$/);
  expectUsageError(['experiment', 'gating', '--resume', edited('other-version', (r) => { r.provenance.treegate = '0.0.1'; })],
    /ran with treegate 0\.0\.1; this would with treegate \d+\.\d+\.\d+ \(resume it with the treegate it started with/);
  // another commit of the same version (a checkout moved on): refused
  if (made.commit !== undefined) {
    expectUsageError(['experiment', 'gating', '--resume', edited('other-commit', (r) => { r.provenance.commit = '0123456789ab'; })],
      new RegExp(`ran with treegate at commit 0123456789ab; this would with treegate at commit ${made.commit} \\(resume it with the treegate it started with`));
  }
  // other code at the same commit (a changed checkout, a dist/ built elsewhere): refused too
  expectUsageError(['experiment', 'gating', '--resume', edited('other-code', (r) => { r.provenance.code = '0123456789abcdef'; })],
    new RegExp(`ran with treegate's code of sha256 0123456789abcdef; this would with treegate's code of sha256 ${made.code} \\(resume it with the treegate it started with`));
  const otherData = tmp('experiment-other-mnist');
  mkdirSync(otherData);
  for (const f of Object.values(MNIST_FILES)) copyFileSync(join(defaultMnistDir(), f), join(otherData, f));
  const labels = readFileSync(join(otherData, MNIST_FILES.trainLabels));
  labels[8] = (labels[8]! + 1) % 10; // the first training label, another digit
  writeFileSync(join(otherData, MNIST_FILES.trainLabels), labels);
  expectUsageError(['experiment', 'gating', '--resume', out, '--data-dir', otherData],
    /ran with the MNIST files of sha256 [0-9a-f]{64}; this would with the MNIST files of sha256 [0-9a-f]{64} \(resume it with the --data-dir it started with/);
  assert.ok(!existsSync(none), 'a mistyped --out is not made');
  // a new run does not replace what --resume would go on with, another experiment's results, or a file that is none
  expectUsageError([...ARGS, '--out', out], /holds an interrupted gating experiment \(seed 1 of seeds 1, 2 completed\): a new run there would replace it.*--resume/s);
  expectUsageError(['experiment', 'memorization', '--quick', '--out', out], /holds the results of a gating experiment: running memorization there would replace them/);
  expectUsageError([...ARGS, '--out', edited('not-results', (r) => { r.experiment = 'cooking'; })], /holds a results\.json that is not an experiment's results/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  // one folder, one kind of run: neither command writes into the other's folder (its report.html, files mixed)
  const trained = tmp('experiment-into-train');
  assert.equal(cli('train', '--dataset', 'memorization', '--examples', '50', '--input-size', '4', '--classes', '2', '--hidden', '4',
    '--epochs', '1', '--no-progress', '--out', trained).status, 0);
  expectUsageError([...ARGS, '--out', trained], /holds metrics\.jsonl, a training run's: an experiment there would mix its files with the run's/);
  expectUsageError(['train', '--dataset', 'memorization', '--out', out], /holds results\.json, an experiment's: a training run there would mix its files/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
});

test('--data-dir: accuracy and gating read MNIST from it (a missing folder is an error before any run); the others refuse it', () => {
  const missing = join(tmp('experiment-data-dir'), 'nope'), out = tmp('experiment-data-dir-out');
  const r = cliEnv(TINY, ...ARGS, '--out', out, '--data-dir', missing);
  assert.equal(r.status, 2, describeRun(r));
  assert.match(r.stderr, /MNIST directory is missing/);
  assert.ok(!existsSync(join(out, 'results.json')), 'nothing written');
  expectUsageError(['experiment', 'memorization', '--quick', '--data-dir', missing], /--data-dir has no effect for the memorization experiment/);
  expectUsageError(['experiment', 'speed', '--quick', '--data-dir', missing], /--data-dir has no effect for the speed experiment/);
});

/** accuracy --quick on a CSV file of 300 examples over two seeds (9 runs each: the dense MLP, and 4 variants at k = 3 and 6). */
// (--epochs: quick mode's 2, where a file this small would train 72: experiment-epochs.test.ts)
const CSV_ARGS = (csv: string) => ['experiment', 'accuracy', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '2', '--epochs', '2', '--no-progress'];

test('accuracy --csv runs on the file in place of MNIST and Fashion-MNIST: every variant and depth, runs and report named by the file, the model its widths', () => {
  const csv = blobsCsv(join(tmp('experiment-csv'), 'blobs.csv')), out = tmp('experiment-csv-out');
  const r = cli(...CSV_ARGS(csv), '--out', out, '--json');
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), result, '--json prints what results.json holds');
  assert.deepEqual(result.seeds, [1, 2]);
  // --label-column 1 is the first column, as train reads it (prepareData's labelColumn 0)
  assert.deepEqual(result.settings.datasets, [csv]);
  assert.deepEqual(result.settings.data, { csv, labelColumn: 0 }, 'the file as given, and how it was read');
  assert.match(result.settings.model, /^MLP 5 → 256 → 256 → 3, /, 'the file\'s 5 features and 3 classes');
  assert.deepEqual(result.settings.depths, [0, 3, 6], 'quick mode\'s depths');
  assert.equal(result.settings.train.epochs, 2, 'the epochs given');
  assert.ok(result.runs.every((x: { dataset: string }) => x.dataset === csv), 'every run names the file');
  const configurations = (seed: number) => result.runs.filter((x: { seed: number }) => x.seed === seed).map((x: { k: number; variant: string }) => `${x.k} ${x.variant}`).sort();
  const expected = ['0 tree, γ = 1', ...[3, 6].flatMap((k) => ['tree, γ = 1', 'tree, γ = 2', 'flat', 'flat, 3× lr', 'moe', 'dense, equal parameters'].map((v) => `${k} ${v}`))].sort();
  for (const seed of [1, 2]) assert.deepEqual(configurations(seed), expected, `seed ${seed}: the dense MLP and every variant at every depth`);
  assert.ok(result.runs.every((x: { testAccuracy: number }) => x.testAccuracy >= 0 && x.testAccuracy <= 1));
  // the file's SHA-256 is recorded (for --resume), MNIST's not: none was read
  assert.equal(result.provenance.csv, createHash('sha256').update(readFileSync(csv)).digest('hex'));
  assert.equal(result.provenance.mnist, undefined);
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  for (const title of ['test accuracy vs depth k', 'test accuracy vs parameters', 'train − test accuracy vs depth k']) {
    assert.ok(page.includes(`${csv}: ${title}`), `the chart "${title}" is named by the file`);
  }
  assert.ok(page.includes(`Data: ${csv} (its first 10000 examples at most: quick mode), its classes in column 1, a sixth held out as the test set`), 'the settings note says what was read');
  // how many examples each seed trained, validated and tested on: recorded, and said
  assert.deepEqual(result.splits, { train: 229, validation: 21, test: 50 });
  assert.ok(page.includes('a sixth held out as the test set (50 examples, drawn by each seed); 1/12 of the training examples held out for validation (21), 229 trained on.'));
  const badSplits = join(tmp('experiment-csv-bad-splits'), 'results.json');
  mkdirSync(dirname(badSplits));
  writeFileSync(badSplits, JSON.stringify({ ...result, splits: { train: 229, validation: 21, test: -1 } }));
  expectUsageError(['report', badSplits], /splits is not \{ train, validation, test \}, each a whole number ≥ 0 of examples/);
  assert.doesNotMatch(page, /mnist/i);
  assert.equal(cli('report', out).status, 0, 'the results read back');
});

test('--resume of an experiment on a CSV file reads it again, and refuses a file changed or gone since', () => {
  const csv = blobsCsv(join(tmp('experiment-csv-resume'), 'blobs.csv')), out = tmp('experiment-csv-resume-out');
  // stopped as run 14 (from 0: the second of seed 2; seed 1 has the dense MLP and 6 variants at 2 depths) starts: seed 1's results written
  const stopped = cliEnv({ TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '14' }, ...CSV_ARGS(csv), '--out', out);
  assert.equal(stopped.status, 130, describeRun(stopped));
  const bytes = readFileSync(join(out, 'results.json'), 'utf8'), original = readFileSync(csv);
  writeFileSync(csv, Buffer.concat([original, Buffer.from('class1,9,9,9,9,9\n')]));
  expectUsageError(['experiment', 'accuracy', '--resume', out],
    new RegExp(`ran with --csv ${reEscape(csv)} of sha256 [0-9a-f]{64}; this would with --csv ${reEscape(csv)} of sha256 [0-9a-f]{64} \\(resume it with the file it started with`));
  rmSync(csv);
  expectUsageError(['experiment', 'accuracy', '--resume', out], new RegExp(`was started with --csv ${reEscape(csv)}, which is not there \\(put the file back there`));
  writeFileSync(csv, original);
  // its data is results.json's: --csv and the options of the file are errors beside --resume
  expectUsageError(['experiment', 'accuracy', '--resume', out, '--csv', csv, '--label-column', '1'], /--csv, --label-column have no effect with --resume/);
  expectUsageError(['experiment', 'accuracy', '--resume', out, '--data-dir', tmp('mnist')], /--data-dir has no effect for the experiment in .*, which runs on --csv /);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  // the file's reading, as results.json records it, is checked when read back
  const edited = tmp('experiment-csv-edited'), e = JSON.parse(bytes);
  e.settings.data.labelColumn = -1;
  mkdirSync(edited);
  writeFileSync(join(edited, 'results.json'), JSON.stringify(e));
  expectUsageError(['experiment', 'accuracy', '--resume', edited], /settings\.data is \{"csv":.*,"labelColumn":-1\}, expected absent or the CSV files read/);
  // as results written up to 2026-12-07: the dense MLP's balance and dead leaves a depth-0 tree's, 1 and 0
  const old = JSON.parse(bytes);
  for (const x of old.runs) if (x.k === 0) Object.assign(x, { balance: 1, deadLeaves: 0 });
  writeFileSync(join(out, 'results.json'), JSON.stringify(old));
  const resumed = cli('experiment', 'accuracy', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.doesNotMatch(resumed.stderr, / seed 1 k=/, 'seed 1 is not run again');
  assert.match(resumed.stdout, /^\S+ +dense \(k = 0\) +0 .* – +–$/m, 'the dense MLP has no balance or dead leaves');
  assert.match(resumed.stdout, /26 runs over seeds 1, 2 \(seed 2 run now, the others' runs from the interrupted run\)/);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.ok(r.runs.every((x: { dataset: string }) => x.dataset === csv));
  assert.deepEqual(r.runs.filter((x: { k: number }) => x.k === 0).map((x: { balance: null; deadLeaves: null }) => [x.balance, x.deadLeaves]), [[null, null], [null, null]]);
});

test('an experiment on a CSV file writes by default to a folder named after the file; a finished run on other data is not replaced, a rerun on the same is', () => {
  const dir = tmp('experiment-out-csv');
  const a = blobsCsv(join(dir, 'blobs.csv')), b = blobsCsv(join(dir, 'other data.csv'), 120, 2);
  const run = (csv: string, ...more: string[]) => ['experiment', 'accuracy', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--depths', '0', '--epochs', '1', '--no-progress', ...more];
  // from another folder, so that the default runs/ is that folder's
  const here = (args: string[]) => spawnSync(process.execPath, [...CLI_ARGS, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  for (const [csv, folder] of [[a, 'accuracy-blobs-quick'], [b, 'accuracy-other_data-quick']]) {
    const r = here(run(csv));
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(JSON.parse(readFileSync(join(dir, 'runs', 'experiments', folder, 'results.json'), 'utf8')).settings.data.csv, csv);
  }
  const out = join(dir, 'runs', 'experiments', 'accuracy-blobs-quick'), bytes = readFileSync(join(out, 'results.json'), 'utf8');
  expectUsageError(run(b, '--out', out), new RegExp(`--out ${reEscape(out)} holds the results of an accuracy experiment on --csv ${reEscape(a)}: running it on --csv ${reEscape(b)} there would replace them \\(choose another --out`));
  expectUsageError(['experiment', 'accuracy', '--quick', '--seeds', '1', '--depths', '0', '--out', out], /holds the results of an accuracy experiment on --csv .*blobs\.csv: running it on MNIST there would replace them/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'the results kept');
  const rerun = cli(...run(a, '--out', out));
  assert.equal(rerun.status, 0, describeRun(rerun));
});

test('accuracy --gating units: its routed layers take their bits from hidden units, recorded, kept by --resume (which refuses it beside it); the other experiments refuse it', () => {
  // an iris-like file: 4 features of 3 tight clusters, where fixed projections send most examples down one path
  const dir = tmp('gating-source'), r = new Rng(3), means = [[5, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3, 5.6, 2]];
  mkdirSync(dir);
  const rows = means.flatMap((m, c) => Array.from({ length: 50 }, () => `${m.map((v) => (v + 0.3 * r.normal()).toFixed(1)).join(',')},c${c}`));
  const csv = join(dir, 'iris.csv');
  writeFileSync(csv, `a,b,c,d,species\n${rows.join('\n')}\n`);
  const args = ['experiment', 'accuracy', '--csv', csv, '--quick', '--depths', '0,2', '--epochs', '20', '--no-progress'];
  const units = join(dir, 'units');
  // stopped as seed 2's first run starts (run 7: seed 1 has the dense MLP and 6 variants at depth 2)
  const stopped = cliEnv({ TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '7' }, ...args, '--seeds', '2', '--gating', 'units', '--out', units);
  assert.equal(stopped.status, 130, describeRun(stopped));
  expectUsageError(['experiment', 'accuracy', '--resume', units, '--gating', 'units'], /--gating has no effect with --resume \(a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder/);
  const resumed = cli('experiment', 'accuracy', '--resume', units, '--no-progress');
  assert.equal(resumed.status, 0, describeRun(resumed));
  const result = JSON.parse(readFileSync(join(units, 'results.json'), 'utf8'));
  assert.deepEqual([result.seeds, result.settings.gating], [[1, 2], 'units']);
  assert.match(result.settings.model, /, layer 2 routed, units gating; adam/);
  // the same runs on fixed projections: other balances (the bits came from elsewhere), no gating recorded
  const projection = join(dir, 'projection');
  assert.equal(cli(...args, '--seeds', '1', '--out', projection).status, 0);
  const other = JSON.parse(readFileSync(join(projection, 'results.json'), 'utf8'));
  assert.equal(other.settings.gating, undefined);
  assert.match(other.settings.model, /projection gating \(fixed\)/);
  const balance = (x: { runs: Array<{ seed: number; k: number; variant: string; balance: number }> }) => x.runs.find((run) => run.seed === 1 && run.k === 2 && run.variant === 'tree, γ = 1')!.balance;
  assert.notEqual(balance(result), balance(other));
  expectUsageError(['experiment', 'gating', '--quick', '--gating', 'units'], /--gating has no effect for the gating experiment \(accuracy takes the routed layer's gating source; gating compares the sources itself\)/);
  expectUsageError(['experiment', 'memorization', '--quick', '--gating', 'units'], /--gating has no effect for the memorization experiment/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--gating', 'bits'], /option '--gating <source>' argument 'bits' is invalid/);
});

test('gating --csv runs its three gating sources on the file in place of MNIST: the model its widths, the report naming it', () => {
  const csv = blobsCsv(join(tmp('experiment-gating-csv'), 'blobs.csv')), out = tmp('experiment-gating-csv-out');
  const r = cli('experiment', 'gating', '--csv', csv, '--label-column', 'kind', '--quick', '--seeds', '2', '--epochs', '3', '--no-progress', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(result.settings.data, { csv, labelColumn: 'kind' });
  assert.match(result.settings.model, /^MLP 5 → 256 → 256 → 3, layer 2 a depth-4 tree/);
  assert.deepEqual(result.runs.map((x: { seed: number; gating: string }) => `${x.seed} ${x.gating}`),
    ['1 units', '1 projection', '1 projection + straight-through', '2 units', '2 projection', '2 projection + straight-through']);
  assert.deepEqual(Object.keys(result.usage['4']), ['units', 'projection', 'projection + straight-through'], 'the heatmaps\' leaf usage, at the one depth');
  // each run's line names the file, as accuracy's do (runs on two files told apart), and the depth
  assert.deepEqual(r.stderr.match(/^gating .* seed \d [^:]+(?=: test )/gm), ['1 units', '1 projection', '1 projection + straight-through', '2 units', '2 projection', '2 projection + straight-through']
    .map((run) => `gating ${csv} seed ${run.replace(' ', ' k=4 ')}`));
  assert.equal(result.provenance.csv, createHash('sha256').update(readFileSync(csv)).digest('hex'));
  assert.equal(result.provenance.mnist, undefined);
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok(page.includes(`MLP 5 → 256 → 256 → 3, layer 2 a depth-4 tree; adam, cosine schedule; 3 epochs (12 steps of 64). Data: ${csv} (its first 10000 examples at most: quick mode), its classes in the column &#39;kind&#39;, `), 'the text names the file and its label column');
  assert.doesNotMatch(page, /mnist/i);
});

test('--csv: the experiments that make their own data refuse it, naming those that take it; its options need it; a stream is refused', () => {
  const csv = blobsCsv(join(tmp('experiment-csv-refused'), 'blobs.csv'));
  expectUsageError(['experiment', 'memorization', '--quick', '--csv', csv], /--csv has no effect for the memorization experiment \(accuracy and gating take a CSV file in place of the data they read; memorization makes its own\)/);
  expectUsageError(['experiment', 'speed', '--quick', '--csv', csv, '--header'], /--csv, --header have no effect for the speed experiment \(accuracy and gating take a CSV file/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--test-csv', csv], /--test-csv has no effect without --csv/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--csv', csv, '--data-dir', tmp('mnist')], /--data-dir has no effect with --csv/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--csv', '-'], /--csv - \(standard input\) is not read by experiment: an experiment reads its data again for each seed/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--csv', csv, '--label-column', '0'], /--label-column.*expected a header name or a column number from 1/);
});

test('a CSV file sorted by class whose first examples (quick mode\'s) lack a class is refused before any run; a column float32 keeps too coarsely is warned of', () => {
  // 10 200 examples: classes a and b alternate, then c
  const rows = Array.from({ length: 10_200 }, (_, i) => `${(i % 13) / 13},${(i % 7) / 7},${i < 10_000 ? (i % 2 ? 'a' : 'b') : 'c'}`);
  const dir = tmp('experiment-csv-data'), csv = join(dir, 'sorted.csv'), out = join(dir, 'out');
  mkdirSync(dir, { recursive: true });
  writeFileSync(csv, `t,u,kind\n${rows.join('\n')}\n`);
  expectUsageError(['experiment', 'accuracy', '--csv', csv, '--quick', '--no-progress', '--out', out],
    new RegExp(`${reEscape(csv)}: the training examples \\(the file's first 10000 at most, in quick mode\\) hold 2 of its 3 classes \\(shuffle its lines first \\(shuf FILE\\), or run without --quick\\)`));
  assert.ok(!existsSync(out), 'no --out folder left');
  // a timestamp column that float32 keeps to steps of 128: said, as train says it, and the experiment goes on
  const stamps = join(dir, 'stamps.csv');
  writeFileSync(stamps, `t,u,kind\n${Array.from({ length: 90 }, (_, i) => `${1.7e9 + ((i * 37) % 3600)},${(i % 7) / 7},${i % 3}`).join('\n')}\n`);
  const r = cli('experiment', 'gating', '--csv', stamps, '--quick', '--seeds', '1', '--no-progress', '--out', join(dir, 'stamps-out'));
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, new RegExp(`treegate: warning: ${reEscape(stamps)}: models read features as float32 .* column 't' .* before training\\n`));
});

test('a bad CSV file: the experiment gives train\'s error, before any run, and leaves no --out folder', () => {
  const dir = tmp('experiment-csv-bad');
  mkdirSync(dir);
  const cases: Array<[string, string, string[]]> = [
    ['cell.csv', 'a,b,kind\n1,2,x\n3,oops,y\n', []],
    ['one-class.csv', 'a,b,kind\n1,2,x\n3,4,x\n', []],
    ['no-column.csv', 'a,b,kind\n1,2,x\n3,4,y\n', ['--label-column', 'species']],
    ['missing.csv', '', []],
  ];
  for (const [name, text, extra] of cases) {
    const path = join(dir, name);
    if (text) writeFileSync(path, text);
    const error = (r: ReturnType<typeof cli>) => r.stderr.split('\n').find((l) => l.startsWith('treegate: error: '));
    const trained = cli('train', '--csv', path, ...extra, '--out', join(dir, `train-${name}`));
    const out = join(dir, `experiment-${name}`);
    const r = cli('experiment', 'accuracy', '--csv', path, ...extra, '--quick', '--no-progress', '--out', out);
    assert.equal(r.status, 2, describeRun(r));
    assert.ok(error(trained), `${name}: train fails: ${describeRun(trained)}`);
    assert.equal(error(r), error(trained), `${name}: train's error`);
    assert.doesNotMatch(r.stderr, /accuracy .* seed 1 k=/, `${name}: no run`);
    assert.ok(!existsSync(out), `${name}: no --out folder left`);
  }
});

/** The speed experiment made tiny: depths 0 and 2, two rounds of a few ms each (nothing here is timed). */
const TINY_SPEED = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ depths: [0, 2], rounds: 2, budgetMs: 5 }) };
const SPEED_ARGS = ['experiment', 'speed', '--quick', '--seeds', '2', '--no-progress'];

test('speed --width 32 --batch 8 times a 32 → 32 layer on batches of 8: results.json records them, the report and the printed summary name them', () => {
  const out = tmp('experiment-speed-width');
  const r = cliEnv(TINY_SPEED, ...SPEED_ARGS, '--width', '32', '--batch', '8', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  // quick mode's cap, 32 × the width (16384 at the default 512)
  assert.deepEqual(result.settings, { width: 32, batch: 8, depths: [0, 2], rounds: 2, denseCap: 1024, budgetMs: 5, layer: '32 → 32, batches of 8' });
  const at = (kind: string, k: number) => result.aggregate.find((a: { kind: string; k: number }) => a.kind === kind && a.k === k).stats;
  assert.equal(at('tree', 0).parameters.mean, 32 * 33, 'the tree of depth 0 is one 32 → 32 layer');
  assert.equal(at('dense', 0).macsInference.mean, 32 * 32);
  assert.equal(at('dense', 2).parameters.mean, at('tree', 2).parameters.mean, 'the dense layer widened to the tree\'s parameters, under the cap');
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  for (const text of ['One layer 32 → 32, batches of 8', 'capped at width 1024', 'inference ÷ dense 32→32', 'dense 32→32 (equal compute) = 1']) {
    assert.ok(page.includes(text), `the report says "${text}"`);
  }
  assert.doesNotMatch(page, /512 → 512|512→512|batches of 256|width 16384/, 'nothing of the default layer');
  assert.match(r.stdout, /inference ÷ dense 32→32/);
  assert.match(r.stdout, /^speed \(one layer 32 → 32, batches of 8\): 12 runs over seeds 1, 2 in /m);
  assert.match(r.stderr, /speed seed 1 k=0: infer µs\/example tree [\d.]+ \([\d.]+× dense 32→32\)/);
});

test('--width and --batch: refused by the other experiments and beside --resume, which keeps those results.json records; bad values and layers that do not fit are usage errors', () => {
  for (const name of ['memorization', 'accuracy', 'gating']) {
    expectUsageError(['experiment', name, '--quick', '--width', '32', '--batch', '8'],
      new RegExp(`--width, --batch have no effect for the ${name} experiment \\(--width and --batch size the layer that the speed experiment times, and its batches\\)`));
  }
  for (const [flag, value, range] of [['--width', '0', '1, 16384'], ['--width', '16385', '1, 16384'], ['--width', 'wide', '1, 16384'], ['--batch', '0', '1, 65536'], ['--batch', '2.5', '1, 65536']]) {
    expectUsageError(['experiment', 'speed', '--quick', flag, value], new RegExp(`option '${flag} <n>' argument '${value}' is invalid\\. expected an integer in \\[${range}\\]`));
  }
  // the depth-8 tree of 4096 → 4096: 511 nodes of 4096 × 4096 weights, more than one array holds; refused before any
  // run, naming a width that fits, and no --out folder left (depth 8 alone: were it not refused first, its tree would
  // fail at once, not after depths 0–7)
  const big = tmp('experiment-speed-big');
  const deepest = cliEnv({ TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ depths: [8], rounds: 1 }) }, 'experiment', 'speed', '--width', '4096', '--no-progress', '--out', big);
  assert.equal(deepest.status, 2, describeRun(deepest));
  assert.match(deepest.stderr, /^treegate: error: speed: a 4096 → 4096 layer on batches of 256 needs an array of 8\.57G floats at depth 8, more than one array holds \(2\^31 − 1\) \(lower the width \(--width\) to \d+ or less at this batch, keep to depths up to [0-6] \(--depths [0-6]\), or lower the batch \(--batch\)\)\n/);
  assert.ok(!existsSync(big), 'no --out folder left');
  // stopped as seed 2's first depth starts (run 2): seed 1's results, of the 32 → 32 layer, written
  const out = tmp('experiment-speed-resume');
  const stopped = cliEnv({ ...TINY_SPEED, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '2' }, ...SPEED_ARGS, '--width', '32', '--batch', '8', '--out', out);
  assert.equal(stopped.status, 130, describeRun(stopped));
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  expectUsageError(['experiment', 'speed', '--resume', out, '--width', '32', '--batch', '8'], /--width, --batch have no effect with --resume \(a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  const resumed = cliEnv(TINY_SPEED, 'experiment', 'speed', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.doesNotMatch(resumed.stderr, /speed seed 1 /, 'seed 1 is not run again');
  assert.match(resumed.stderr, /speed seed 2 k=2: .*dense 32→32/);
  assert.match(resumed.stdout, /speed \(one layer 32 → 32, batches of 8\): 12 runs over seeds 1, 2 \(seed 2 run now/);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.deepEqual([r.settings.width, r.settings.batch, r.settings.layer], [32, 8, '32 → 32, batches of 8'], 'the width and batch it was started with');
  // a results.json whose width is not a whole number is refused as it is read back
  const edited = tmp('experiment-speed-edited'), e = JSON.parse(bytes);
  e.settings.width = 0;
  mkdirSync(edited);
  writeFileSync(join(edited, 'results.json'), JSON.stringify(e));
  expectUsageError(['experiment', 'speed', '--resume', edited], /settings\.width is 0, expected a whole number ≥ 1/);
});
