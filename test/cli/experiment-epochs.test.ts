/**
 * `treegate experiment … --epochs`: the epochs memorization's, accuracy's and gating's models train, recorded in
 * results.json and kept by --resume; speed, which trains nothing, refuses it. On a CSV file smaller than MNIST,
 * accuracy and gating train as many epochs as give their MNIST runs' steps where none are given (said on stderr), and
 * warn of epochs given that make fewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runSpeed } from '../../src/experiments/speed.js';
import { runMemorization } from '../../src/experiments/memorization.js';
import { csvEpochs, csvShortWarning, type ExperimentOptions } from '../../src/experiments/common.js';
import { GATING_EPOCHS } from '../../src/experiments/gating.js';
import { shellWord } from '../../src/cli/options.js';
import { blobsCsv, cli, CLI_ARGS, cliEnv, describeRun, expectUsageError, ROOT, tmp } from './run.js';

/** Memorization made tiny (40 examples of width 4, hidden width 4, one rate, one epoch, depths 0 and 1): 8 runs a seed. */
const TINY_MEMORIZATION = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ examples: 40, inputSize: 4, classes: 2, hidden: 4, depths: [0, 1], lrs: [1e-3], train: { epochs: 1, batchSize: 64 } }) };
const MEMORIZATION = ['experiment', 'memorization', '--quick', '--no-progress'];

test('accuracy --csv on a file smaller than MNIST trains as many epochs as give the MNIST runs\' steps: said, recorded, in the report', () => {
  const csv = blobsCsv(join(tmp('epochs-csv'), 'blobs.csv')), out = tmp('epochs-csv-out');
  const r = cli('experiment', 'accuracy', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--depths', '0', '--no-progress', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  // quick mode's MNIST runs: 2 epochs of 10 000 − 833 examples, 144 steps of 64 each, 288 in all; the file's 300 rows
  // less the sixth held out for the test (50) and the twelfth of the rest for validation (21) are 229, 4 steps an epoch
  assert.match(r.stderr, /^accuracy: 72 epochs of 229 training examples \(4 steps each\), as many steps as the MNIST runs' 2 epochs take \(288\); --epochs sets others$/m);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(result.settings.train.epochs, 72);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /; 72 epochs \(288 steps of 64\), batch 64,/, 'the report says the epochs trained, and the steps they make');
});

test('gating --csv trains as many epochs as give its MNIST runs\' steps too; --epochs sets them, warned of where they make fewer steps', () => {
  const csv = blobsCsv(join(tmp('epochs-gating'), 'blobs.csv')), out = tmp('epochs-gating-out');
  // (an MNIST run of 640 examples: 3 epochs of 587, 10 steps each)
  const small = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ limit: 640 }) };
  const r = cliEnv(small, 'experiment', 'gating', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--no-progress', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, /^gating: 8 epochs of 229 training examples \(4 steps each\), as many steps as the MNIST runs' 3 epochs take \(30\); --epochs sets others$/m);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(result.settings.train.epochs, 8);
  assert.ok(result.runs.every((x: { balanceByEpoch: string }) => x.balanceByEpoch.split(' ').length === 8), 'a balance after each of the 8 epochs');
  const to = tmp('epochs-gating-given');
  const given = cliEnv(small, 'experiment', 'gating', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--epochs', '2', '--no-progress', '--out', to);
  assert.equal(given.status, 0, describeRun(given));
  assert.doesNotMatch(given.stderr, /^gating: \d+ epochs of/m, 'no epochs chosen');
  // 2 epochs of 4 steps: fewer than the MNIST runs' 30, where csvEpochs would choose 8
  assert.match(given.stderr, /^treegate: warning: gating: 2 epochs of 229 training examples are 8 steps of 64, where the MNIST runs' 3 epochs take 30: the models may stop far from fitted; --epochs 8, what it trains without --epochs, makes as many steps$/m);
  assert.equal(JSON.parse(readFileSync(join(to, 'results.json'), 'utf8')).settings.train.epochs, 2);
  // on a terminal, where the progress bar stands for the runs' lines, the warnings and the epochs chosen are written
  // still (a pseudo-terminal of script(1), from util-linux)
  if (spawnSync('script', ['--version']).status !== 0) return;
  const line = (epochs: string[], out: string) => [process.execPath, ...CLI_ARGS, 'experiment', 'gating', '--csv', csv, '--label-column', '1',
    '--quick', '--seeds', '1', ...epochs, '--out', out].map(shellWord).join(' ');
  for (const [epochs, said] of [[[], /gating: 8 epochs of 229 training examples \(4 steps each\)/], [['--epochs', '2'], /treegate: warning: gating: 2 epochs of 229 training examples are 8 steps of 64/]] as const) {
    const t = spawnSync('script', ['-qec', line([...epochs], tmp('epochs-tty')), '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...small } });
    assert.equal(t.status, 0, t.stdout);
    assert.match(t.stdout, said, 'said on a terminal');
    assert.doesNotMatch(t.stdout, /gating \S+ seed 1 /, "the runs' lines are the bar's to show");
  }
});

test('csvEpochs warns of epochs given that make fewer steps than it would choose: not at as many or more, nor on MNIST', () => {
  const warnings = (epochs: number | undefined, data = true) => {
    const lines: string[] = [];
    const s = { limit: 640, train: { epochs: epochs ?? GATING_EPOCHS.quick, batchSize: 64, lr: 1e-3 } };
    csvEpochs('gating', s, { seeds: 1, quick: true, progress: () => {}, log: (l) => lines.push(l), ...(data ? { data: { csv: 'blobs.csv' } } : {}), ...(epochs === undefined ? {} : { epochs }) },
      229, GATING_EPOCHS);
    return { lines, epochs: s.train.epochs };
  };
  // the MNIST runs of 640 examples: 3 epochs of 10 steps; 229 examples make 4 steps an epoch
  assert.deepEqual(warnings(undefined), { lines: ['gating: 8 epochs of 229 training examples (4 steps each), as many steps as the MNIST runs\' 3 epochs take (30); --epochs sets others'], epochs: 8 });
  assert.deepEqual(warnings(7).lines, ['treegate: warning: gating: 7 epochs of 229 training examples are 28 steps of 64, where the MNIST runs\' 3 epochs take 30: the models may stop far from fitted; --epochs 8, what it trains without --epochs, makes as many steps']);
  assert.equal(warnings(7).epochs, 7, 'the epochs given are kept');
  assert.deepEqual(warnings(8), { lines: [], epochs: 8 });
  assert.deepEqual(warnings(100), { lines: [], epochs: 100 });
  assert.deepEqual(warnings(1, false), { lines: [], epochs: 1 }, 'a run on MNIST: its epochs are what the steps are counted from');
  assert.match(csvShortWarning('accuracy', 1, 64, 1, 2, 288, 288)!, /^accuracy: 1 epoch of 1 training examples is 1 step of 64, where the MNIST runs' 2 epochs take 288: .* --epochs 288,/);
});

test('memorization --epochs 2: recorded, and kept by --resume, which refuses --epochs beside it', () => {
  const out = tmp('epochs-memorization');
  // stopped as seed 2's first run starts (run 8): seed 1's runs written, trained 2 epochs where the override says 1
  const stopped = cliEnv({ ...TINY_MEMORIZATION, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '8' }, ...MEMORIZATION, '--seeds', '2', '--epochs', '2', '--out', out);
  assert.equal(stopped.status, 130, describeRun(stopped));
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  assert.equal(JSON.parse(bytes).settings.train.epochs, 2);
  expectUsageError(['experiment', 'memorization', '--resume', out, '--epochs', '2'],
    /--epochs has no effect with --resume \(a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder it was started with/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  // (without the recorded epochs, the override's 1 would be refused as another setting)
  const resumed = cliEnv(TINY_MEMORIZATION, 'experiment', 'memorization', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.deepEqual(r.seeds, [1, 2]);
  assert.equal(r.settings.train.epochs, 2);
});

test('--epochs refused: by speed, which trains nothing; outside [1, 100000]; in the API likewise', async () => {
  expectUsageError(['experiment', 'speed', '--quick', '--epochs', '3'], /--epochs has no effect for the speed experiment \(memorization, accuracy and gating take the epochs their models train; speed trains none\)/);
  expectUsageError([...MEMORIZATION, '--epochs', '0'], /option '--epochs <n>' argument '0' is invalid\. expected an integer in \[1, 100000\]/);
  expectUsageError([...MEMORIZATION, '--epochs', '2.5'], /option '--epochs <n>' argument '2\.5' is invalid/);
  const o: ExperimentOptions = { seeds: 1, quick: true, progress: () => {}, log: () => {} };
  await assert.rejects(runSpeed({ ...o, epochs: 3 }, [1]), /speed: epochs \(--epochs\) are how long the memorization, accuracy and gating experiments train each model; speed trains none \(leave epochs out\)/);
  for (const bad of [0, 1.5, 100_001, Number.NaN]) {
    await assert.rejects(runMemorization({ ...o, epochs: bad }, [1]), new RegExp(`memorization: epochs must be a whole number in \\[1, 100000\\], got ${bad}`));
  }
});
