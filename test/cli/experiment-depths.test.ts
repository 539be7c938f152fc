/**
 * `treegate experiment memorization|accuracy --depths`: the tree depths they run, recorded in results.json and kept
 * by --resume; 0 among them (their reports' dense baseline), and refused before any run where the deepest models do
 * not fit; gating, which runs one depth, refuses it. (Speed's --depths: test/cli/experiment-speed.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blobsCsv, cli, cliEnv, describeRun, expectUsageError, tmp } from './run.js';

/** Memorization made tiny (40 examples of width 4, hidden width 4, one rate, one epoch): 4 runs a depth; the depths come from the command line. */
const TINY_MEMORIZATION = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ examples: 40, inputSize: 4, classes: 2, hidden: 4, lrs: [1e-3], train: { epochs: 1, batchSize: 64 } }) };
const MEMORIZATION = ['experiment', 'memorization', '--quick', '--no-progress'];

test('accuracy --csv --depths 2,0 runs the dense MLP and every variant at depth 2 alone, in increasing order: results.json records them, the report shows them', () => {
  const csv = blobsCsv(join(tmp('depths-csv'), 'blobs.csv')), out = tmp('depths-csv-out');
  const r = cli('experiment', 'accuracy', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--epochs', '2', '--no-progress', '--depths', '2,0', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(result.settings.depths, [0, 2]);
  assert.deepEqual(result.runs.map((x: { k: number; variant: string }) => `${x.k} ${x.variant}`),
    ['0 tree, γ = 1', '2 tree, γ = 1', '2 tree, γ = 2', '2 flat', '2 flat, 3× lr'], 'the dense MLP first, then each variant at depth 2');
  assert.match(r.stdout, /^\S+ +dense \(k = 0\) +0 .* – +–$/m, 'the dense MLP has no balance or dead leaves');
  assert.deepEqual(result.runs.map((x: { balance: number | null }) => typeof x.balance), ['object', 'number', 'number', 'number', 'number'], 'recorded as null for the dense MLP');
  assert.match(r.stderr, /^accuracy \S+ seed 1 k=0 dense: test /m, 'the run line names the dense MLP, not the variant it is recorded under');
  assert.match(r.stdout, /^\S+ +flat, 3× lr +2 /m);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /dense MLP \(k = 0\)/, 'the dense baseline drawn');
});

test('memorization --depths 3,0: recorded, and kept by --resume, which refuses --depths beside it', () => {
  const out = tmp('depths-memorization');
  // stopped as seed 2's first run starts (run 8: seed 1 has 2 depths × 4 kinds): seed 1's runs written, at depths 0 and 3
  // (the native addon off, as where it could not be built: the backend's line, held back while the settings are
  // checked, comes before the runs'; the resume goes on on wasm too)
  const stopped = cliEnv({ ...TINY_MEMORIZATION, TREEGATE_NATIVE: 'off', TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '8' }, ...MEMORIZATION, '--seeds', '2', '--depths', '3,0', '--out', out);
  assert.equal(stopped.status, 130, describeRun(stopped));
  assert.match(stopped.stderr, /^treegate: native backend unavailable \(disabled by TREEGATE_NATIVE=off\); using the wasm backend\nmemorization seed 1 k=0 tree/);
  assert.deepEqual(stopped.stderr.match(/memorization seed 1 k=\d tree/g), ['memorization seed 1 k=0 tree', 'memorization seed 1 k=3 tree'], 'run in increasing order');
  const bytes = readFileSync(join(out, 'results.json'), 'utf8');
  assert.deepEqual(JSON.parse(bytes).settings.depths, [0, 3]);
  expectUsageError(['experiment', 'memorization', '--resume', out, '--depths', '0,3'],
    /--depths has no effect with --resume \(a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder it was started with/);
  assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), bytes, 'results.json as it was');
  // (without the recorded depths, quick mode's 0, 2, 4, 6, 8 would be refused as other settings)
  const resumed = cliEnv({ ...TINY_MEMORIZATION, TREEGATE_NATIVE: 'off' }, 'experiment', 'memorization', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.deepEqual(resumed.stderr.match(/memorization seed \d k=\d tree/g), ['memorization seed 2 k=0 tree', 'memorization seed 2 k=3 tree'], 'seed 2 at the recorded depths');
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.deepEqual(r.settings.depths, [0, 3]);
  assert.deepEqual(r.best.map((a: { kind: string; k: number }) => `${a.kind} ${a.k}`), ['tree 0', 'tree 3', 'flat 0', 'flat 3', 'moe 0', 'moe 3', 'dense 0', 'dense 3']);
});

test('--depths refused before any run: without 0 (the dense baseline), or deeper than one array or this machine\'s memory holds; gating refuses it', () => {
  const out = tmp('depths-refused');
  expectUsageError(['experiment', 'accuracy', '--quick', '--no-progress', '--depths', '8,4', '--out', out],
    /accuracy: depths must include 0: the dense MLP \(k = 0\) is the baseline its report measures each depth against, got \[8, 4\] \(add it: \[0, 4, 8\] \(--depths 0,4,8\)\)/);
  // depth 24 of a 64-wide layer: 2^25 − 1 nodes of 64 × 64 weights, more than one array holds at any memory
  expectUsageError([...MEMORIZATION, '--depths', '0,24', '--out', out],
    /memorization: a model of depth 24 does not fit: layer 2 \(block 0\): shape \[33554431,64,64\] does not fit one array \(at most 2\^31 − 1 floats\) \(keep to depths up to \d+ \(--depths 0\)\)/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--no-progress', '--depths', '0,8,24', '--out', out],
    /accuracy: a model of depth 24 does not fit: .*shape \[33554431,256,256\] does not fit one array .*\(keep to depths up to \d+ \(--depths 0,8\)\)/);
  assert.ok(!existsSync(out), 'no --out folder left');
  expectUsageError(['experiment', 'gating', '--quick', '--depths', '4'],
    /--depths has no effect for the gating experiment \(memorization, accuracy and speed take the tree depths they run; gating runs one depth\)/);
});
