/**
 * `treegate experiment speed --depths`: the tree depths it times, checked as the other options are, recorded in
 * results.json and kept by --resume, and named by the memory check where fewer depths are the fix. (Its --width and
 * --batch: test/cli/experiment.test.ts; --depths of memorization, accuracy and gating:
 * test/cli/experiment-depths.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliEnv, describeRun, expectUsageError, tmp } from './run.js';

/** Tiny timings (nothing here is timed): two rounds of a few ms each; the depths come from the command line. */
const TINY_TIMING = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ rounds: 2, budgetMs: 5 }) };
const ARGS = ['experiment', 'speed', '--quick', '--no-progress', '--width', '16', '--batch', '8'];
type Aggregate = { kind: string; k: number };

test('--depths 3,1 times depths 1 and 3 alone, in increasing order: results.json records them, the report and the table show them', () => {
  const out = tmp('speed-depths');
  const r = cliEnv(TINY_TIMING, ...ARGS, '--seeds', '1', '--depths', '3,1', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(result.settings.depths, [1, 3]);
  assert.deepEqual(result.aggregate.map((a: Aggregate) => `${a.kind} ${a.k}`), ['tree 1', 'moe 1', 'dense 1', 'tree 3', 'moe 3', 'dense 3']);
  assert.deepEqual(r.stderr.match(/speed seed 1 k=\d/g), ['speed seed 1 k=1', 'speed seed 1 k=3'], 'timed in increasing order');
  assert.match(r.stdout, /^tree +3 /m);
  assert.match(r.stdout, /: 6 runs over seed 1 in /);
  // the results read back and render (treegate report)
  const again = cli('report', out);
  assert.equal(again.status, 0, describeRun(again));
});

test('--depths: bad lists are usage errors naming the fix', () => {
  for (const value of ['25', '-1', '1.5', '', 'none', '0,,2', '0-3', 'deep']) {
    expectUsageError([...ARGS, '--depths', value], new RegExp(`option '--depths <list>' argument '${value}' is invalid\\. expected integers in \\[0, 24\\], comma-separated \\(like 0,2,4\\)`));
  }
  expectUsageError([...ARGS, '--depths', '2,0,2'], /option '--depths <list>' argument '2,0,2' is invalid\. 2 is given twice: give each value once/);
});

test('a run whose deepest tree does not fit is refused before any run, naming the deepest depth that fits (--depths) beside the width', () => {
  // depth 8 of 4096 → 4096: an array of 511 × 4096² floats, more than one array holds at any memory; depth 0 fits
  const out = tmp('speed-depths-big');
  expectUsageError(['experiment', 'speed', '--width', '4096', '--depths', '0,8', '--no-progress', '--out', out],
    /speed: a 4096 → 4096 layer on batches of 256 needs an array of 8\.57G floats at depth 8, more than one array holds \(2\^31 − 1\) \(lower the width \(--width\) to \d+ or less at this batch, keep to depths up to [0-6] \(--depths 0\), or lower the batch \(--batch\)\)/);
  assert.ok(!existsSync(out), 'no --out folder left');
  // depth 8 alone: the deepest that fits is named as the list to give
  expectUsageError(['experiment', 'speed', '--width', '4096', '--depths', '8', '--no-progress', '--out', out], /keep to depths up to ([0-6]) \(--depths \1\)/);
});

test('--resume keeps the depths results.json records, and refuses --depths beside it', () => {
  const out = tmp('speed-depths-resume');
  // stopped as seed 2's first depth starts (run 2): seed 1's runs written, at depths 1 and 3
  const stopped = cliEnv({ ...TINY_TIMING, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '2' }, ...ARGS, '--seeds', '2', '--depths', '1,3', '--out', out);
  assert.equal(stopped.status, 130, describeRun(stopped));
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  assert.deepEqual(JSON.parse(bytes).settings.depths, [1, 3]);
  expectUsageError(['experiment', 'speed', '--resume', out, '--depths', '1,3'],
    /--depths has no effect with --resume \(a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder it was started with/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  const resumed = cliEnv(TINY_TIMING, 'experiment', 'speed', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.deepEqual(resumed.stderr.match(/speed seed \d k=\d/g), ['speed seed 2 k=1', 'speed seed 2 k=3'], 'seed 2 at the recorded depths');
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.deepEqual(r.settings.depths, [1, 3]);
  assert.deepEqual([...new Set(r.runs.map((x: Aggregate) => x.k))], [1, 3]);
});

test('a signal stops speed within the depth in progress, not after it: the completed seed\'s results are written, the exit code is the signal\'s', () => {
  const out = tmp('speed-sigint');
  // SIGINT as run 2 (seed 2's first depth) starts: the depth stops at its next layer's draws or timed call, before its
  // line is printed, and seed 2 is left out with none of its runs
  const r = cliEnv({ ...TINY_TIMING, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '2' }, ...ARGS, '--seeds', '2', '--depths', '0,2', '--out', out, '--json');
  assert.equal(r.status, 130, describeRun(r));
  assert.deepEqual(r.stderr.match(/speed seed \d k=\d/g), ['speed seed 1 k=0', 'speed seed 1 k=2'], 'seed 2\'s first depth did not finish');
  assert.match(r.stderr, /SIGINT: stopping within the run in progress \(its seed is left out\); the results of the seeds completed by then will be written/);
  assert.match(r.stderr, /stopped by a signal: seed 1 of seeds 1, 2 completed; resume with: /);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), result, '--json prints what results.json holds');
  assert.deepEqual([result.seeds, result.interrupted], [[1], { seeds: [1, 2], droppedRuns: 0 }]);
  assert.deepEqual(result.runs.map((x: { seed: number }) => x.seed), [1, 1, 1, 1, 1, 1]);
  assert.equal(cli('report', out).status, 0, 'the results read back');
});
