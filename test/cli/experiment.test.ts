/**
 * `treegate experiment` stopped by a signal: it keeps the seeds it completed (a valid result over fewer seeds,
 * saying what it left out) or, before the first seed is complete, writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliEnv, describeRun, tmp } from './run.js';

/** The gating experiment made tiny: 600 MNIST examples, a depth-2 tree, one epoch; three runs per seed. */
const TINY = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ limit: 600, depth: 2, train: { epochs: 1, batchSize: 64, lr: 1e-3 } }) };
const ARGS = ['experiment', 'gating', '--quick', '--seeds', '2', '--no-progress'];

test('a signal during the second seed: the first seed\'s results are written, with what was left out, and the exit code is the signal\'s', () => {
  const out = tmp('experiment-sigint');
  // the signal comes as run 4 (the second of seed 2) starts: that run finishes, then the experiment stops
  const r = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '4' }, ...ARGS, '--out', out, '--json');
  assert.equal(r.status, 130, describeRun(r));
  assert.match(r.stderr, /SIGINT: stopping after the current run/);
  assert.match(r.stderr, /stopped by a signal: seed 1 of 1, 2 completed; the 2 finished runs of seed 2 left out/);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), result, '--json prints what results.json holds');
  assert.deepEqual(result.seeds, [1]);
  assert.deepEqual(result.interrupted, { seeds: [1, 2], droppedRuns: 2 });
  assert.deepEqual(result.runs.map((x: { seed: number }) => x.seed), [1, 1, 1], 'the runs of seed 1 only');
  assert.ok(result.aggregate.every((a: { seeds: number }) => a.seeds === 1), 'every configuration over the same seeds');
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /stopped by a signal: seed 1 of 1, 2 completed/);
  // the results read back (treegate report renders them again)
  const again = cli('report', out);
  assert.equal(again.status, 0, describeRun(again));
});

test('a signal before the first seed is complete: nothing is written, an earlier run\'s files stay as they were', () => {
  const out = tmp('experiment-sigterm');
  mkdirSync(out);
  writeFileSync(join(out, 'results.json'), 'an earlier run\'s results\n');
  const r = cliEnv({ ...TINY, TREEGATE_FAULT_SIGNAL: 'SIGTERM', TREEGATE_FAULT_RUN: '1' }, ...ARGS, '--out', out);
  assert.equal(r.status, 143, describeRun(r));
  assert.match(r.stderr, /stopped by a signal before seed 1 completed; the 2 finished runs of seed 1 left out: nothing written/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), 'an earlier run\'s results\n');
  assert.ok(!existsSync(join(out, 'report.html')));
});
