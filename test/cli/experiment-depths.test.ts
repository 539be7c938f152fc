/**
 * `treegate experiment memorization|accuracy|gating --depths`: the tree depths they run, recorded in results.json and
 * kept by --resume; 0 among memorization's and accuracy's (their reports' dense baseline), gating's in [1, 10], and
 * refused before any run where the deepest models do not fit. (Speed's --depths: test/cli/experiment-speed.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blobsCsv, cli, cliEnv, describeRun, expectUsageError, tmp } from './run.js';
import { runGating } from '../../src/experiments/gating.js';

/** Memorization made tiny (40 examples of width 4, hidden width 4, one rate, one epoch): 4 runs a depth; the depths come from the command line. */
const TINY_MEMORIZATION = { TREEGATE_EXPERIMENT_OVERRIDE: JSON.stringify({ examples: 40, inputSize: 4, classes: 2, hidden: 4, lrs: [1e-3], train: { epochs: 1, batchSize: 64 } }) };
const MEMORIZATION = ['experiment', 'memorization', '--quick', '--no-progress'];
const GATING = ['experiment', 'gating', '--quick', '--no-progress'];
const VARIANTS = ['units', 'projection', 'projection + straight-through'];

test('accuracy --csv --depths 2,0 runs the dense MLP and every variant at depth 2 alone, in increasing order: results.json records them, the report shows them', () => {
  const csv = blobsCsv(join(tmp('depths-csv'), 'blobs.csv')), out = tmp('depths-csv-out');
  const r = cli('experiment', 'accuracy', '--csv', csv, '--label-column', '1', '--quick', '--seeds', '1', '--epochs', '2', '--no-progress', '--depths', '2,0', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(result.settings.depths, [0, 2]);
  assert.deepEqual(result.runs.map((x: { k: number; variant: string }) => `${x.k} ${x.variant}`),
    ['0 tree, γ = 1', '2 tree, γ = 1', '2 tree, γ = 2', '2 flat', '2 flat, 3× lr', '2 moe', '2 dense, equal parameters'], 'the dense MLP first, then each variant at depth 2');
  assert.match(r.stdout, /^\S+ +dense \(k = 0\) +0 .* – +–$/m, 'the dense MLP has no balance or dead leaves');
  assert.deepEqual(result.runs.map((x: { balance: number | null }) => typeof x.balance), ['object', 'number', 'number', 'number', 'number', 'number', 'object'],
    'recorded as null for the dense MLPs (k = 0, and of equal parameters)');
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

test('--depths refused before any run: without 0 (the dense baseline), or deeper than one array or this machine\'s memory holds; gating\'s outside [1, 10]', () => {
  const out = tmp('depths-refused');
  expectUsageError(['experiment', 'accuracy', '--quick', '--no-progress', '--depths', '8,4', '--out', out],
    /accuracy: depths must include 0: the dense MLP \(k = 0\) is the baseline its report measures each depth against, got \[8, 4\] \(add it: \[0, 4, 8\] \(--depths 0,4,8\)\)/);
  // depth 24 of a 64-wide layer: 2^25 − 1 nodes of 64 × 64 weights, more than one array holds at any memory
  expectUsageError([...MEMORIZATION, '--depths', '0,24', '--out', out],
    /memorization: a model of depth 24 does not fit: layer 2 \(block 0\): shape \[33554431,64,64\] does not fit one array \(at most 2\^31 − 1 floats\) \(keep to depths up to \d+ \(--depths 0\)\)/);
  expectUsageError(['experiment', 'accuracy', '--quick', '--no-progress', '--depths', '0,8,24', '--out', out],
    /accuracy: a model of depth 24 does not fit: .*shape \[33554431,256,256\] does not fit one array .*\(keep to depths up to \d+ \(--depths 0,8\)\)/);
  // gating: past 10, leaf usage records of 2^k counts per epoch (depth 0: test/train/api-checks.test.ts)
  expectUsageError([...GATING, '--depths', '4,11', '--out', out],
    /gating: depths must be distinct whole numbers in \[1, 10\] \(a depth-0 tree has no gating bits; results record each leaf's usage after every epoch, 2\^k counts, drawn as heatmaps\), at least one, got \[4, 11\] \(pass e\.g\. \[1, 3, 5\] \(--depths 1,3,5\)\)/);
  assert.ok(!existsSync(out), 'no --out folder left');
});

test('gating --depths 2,1: every variant at each depth, in increasing order, each figure naming its depth; --resume keeps them', () => {
  // (a small CSV file, one epoch: quicker to read than MNIST; 3 runs a depth, one per variant)
  const csv = blobsCsv(join(tmp('depths-gating'), 'blobs.csv'), 60), out = tmp('depths-gating-out');
  const args = [...GATING, '--csv', csv, '--label-column', '1', '--epochs', '1'];
  // stopped as seed 2's first run starts (run 6: seed 1 has 2 depths × 3 variants): seed 1's runs written, at depths 1 and 2
  const stopped = cliEnv({ TREEGATE_FAULT_SIGNAL: 'SIGINT', TREEGATE_FAULT_RUN: '6' }, ...args, '--seeds', '2', '--depths', '2,1', '--out', out, '--json');
  assert.equal(stopped.status, 130, describeRun(stopped));
  assert.deepEqual(stopped.stderr.match(/^gating \S+ seed \d k=\d [^:]+(?=: test )/gm),
    [...VARIANTS.map((v) => `1 k=1 ${v}`), ...VARIANTS.map((v) => `1 k=2 ${v}`), '2 k=1 units'].map((run) => `gating ${csv} seed ${run}`), 'run in increasing order');
  const interrupted = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(JSON.parse(stopped.stdout), interrupted, '--json prints what results.json holds');
  assert.deepEqual(interrupted.settings.depths, [1, 2]);
  assert.match(interrupted.settings.model, /^MLP 5 → 256 → 256 → 3, layer 2 a depth-k tree \(k = 1, 2\); adam/);
  assert.deepEqual(interrupted.interrupted, { seeds: [1, 2], droppedRuns: 1 });
  // (without the recorded depths, the default 4 would be refused as other settings; --depths beside --resume is
  // refused as memorization's is above)
  const resumed = cli('experiment', 'gating', '--no-progress', '--resume', out);
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.deepEqual(resumed.stderr.match(/seed \d k=\d units/g), ['seed 2 k=1 units', 'seed 2 k=2 units'], 'seed 2 at the recorded depths');
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.interrupted, undefined);
  assert.deepEqual(r.settings.depths, [1, 2]);
  assert.deepEqual(r.runs.map((x: { seed: number; k: number; gating: string }) => `${x.seed} ${x.k} ${x.gating}`),
    [1, 2].flatMap((seed) => [1, 2].flatMap((k) => VARIANTS.map((v) => `${seed} ${k} ${v}`))));
  assert.deepEqual(r.aggregate.map((a: { k: number; gating: string; seeds: number }) => `${a.k} ${a.gating} ${a.seeds}`),
    [1, 2].flatMap((k) => VARIANTS.map((v) => `${k} ${v} 2`)));
  // the first seed's leaf usage at each depth, 2^k leaves
  assert.deepEqual(Object.keys(r.usage), ['1', '2']);
  assert.deepEqual([r.usage['1'].units[0].stats.leaves, r.usage['2']['projection + straight-through'][0].stats.leaves], [2, 4]);
  // the table's rows name their depth; the report draws each depth's epochs and the accuracy against depth
  assert.match(resumed.stdout, /^k +gating +test accuracy +balance \(last epoch\) +dead leaves \(last epoch\)$/m);
  assert.match(resumed.stdout, /^1 +units +\d/m);
  assert.match(resumed.stdout, /^2 +projection \+ straight-through +\d/m);
  assert.match(resumed.stdout, /: 12 runs over seeds 1, 2 \(seed 2 run now/);
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  for (const title of ['balance after each epoch, k = 1', 'dead leaves after each epoch, k = 2', 'test accuracy vs depth k', 'leaf usage, units (seed 1), k = 2']) {
    assert.ok(page.includes(`>${title}<`), title);
  }
});

test('gating counts its runs over every depth: the progress total is seeds × depths × variants, a resumed run counted from its completed seeds\' runs', async () => {
  const csv = blobsCsv(join(tmp('depths-gating-progress'), 'blobs.csv'), 60);
  const o = { seeds: 2, quick: true, log: () => {}, data: { csv, labelColumn: 'kind' }, epochs: 1, depths: [2, 1] };
  const calls: Array<[number, number]> = [];
  const whole = await runGating({ ...o, progress: (done, total) => void calls.push([done, total]) }, [1, 2]);
  assert.deepEqual(calls, [...Array.from({ length: 12 }, (_, i): [number, number] => [i, 12]), [12, 12]], '2 seeds × 2 depths × 3 variants');
  const again: Array<[number, number]> = [];
  const resume = { seeds: [1], runs: whole.runs.filter((r) => r.seed === 1), settings: whole.settings, usage: whole.usage };
  const resumed = await runGating({ ...o, resume, progress: (done, total) => void again.push([done, total]) }, [1, 2]);
  assert.deepEqual(again, [...Array.from({ length: 6 }, (_, i): [number, number] => [6 + i, 12]), [12, 12]], 'seed 2\'s runs, counted from seed 1\'s 6');
  assert.deepEqual([resumed.runs, resumed.usage], [whole.runs, whole.usage], 'the uninterrupted run\'s runs and leaf usage');
});
