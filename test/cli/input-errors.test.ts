/**
 * Bad input the CLI must answer with one clear error line and exit 2 (or, for a reader that has gone, a quiet
 * exit): CSV values beyond float32, a model file whose normalization cannot be evaluated, malformed run files
 * for `treegate report`, a model too large for memory, a failed write of stdout, options with no effect. And the
 * warning for a CSV column that float32 would quietly flatten, where the command goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli, CLI_ARGS, cliChild, cliStdin, describeRun, expectUsageError, ROOT, tmp, reEscape } from './run.js';
import { CLI_FLAGS, cliModule } from '../cli-command.js';
import { outOfMemoryHint } from '../../src/cli/options.js';
import { parseCsv } from '../../src/data/csv.js';
import { readMetrics } from '../../src/report/run-files.js';
import { MODEL_FORMAT } from '../../src/io/model-codec.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { mlpConfig, Model, type ModelConfig } from '../../src/layers/model.js';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { saveModel } from '../../src/io/model-file.js';


/** A small separable CSV file: 3 features, label 1 when the first is above 0.5. */
function csvText(): string {
  const lines = ['a,b,c,label'];
  for (let i = 0; i < 40; i++) {
    const x = [(i * 37 % 40) / 40, (i * 11 % 40) / 40, (i * 7 % 40) / 40];
    lines.push(`${x.join(',')},${x[0] > 0.5 ? 1 : 0}`);
  }
  return lines.join('\n') + '\n';
}

/** One small training run on csvText (a csv model and a run folder for report), shared by the tests. */
let run: { dir: string; csv: string } | null = null;
function csvRun(): { dir: string; csv: string } {
  if (!run) {
    const csv = tmp('train.csv');
    writeFileSync(csv, csvText());
    const dir = tmp('csv-run');
    const r = cli('train', '--dataset', 'csv', '--csv', csv, '--epochs', '2', '--hidden', '8', '--depth', '2', '--no-progress', '--out', dir);
    assert.equal(r.status, 0, describeRun(r));
    run = { dir, csv };
  }
  return run;
}

/** A model file with the given normalization std and dataset (untrained weights), as a damaged or hand-made file could hold it. */
function modelFile(name: string, o: { inputSize: number; numClasses: number; std: number; data: ModelConfig['data'] }): string {
  const model = new Model({ ...mlpConfig({ inputSize: o.inputSize, numClasses: o.numClasses, hidden: [], treeLayers: [], depth: 0 }), data: o.data });
  const config = { ...model.toConfig(), normalization: { scale: 1, mean: 0, std: o.std } };
  const path = tmp(name);
  writeFileSync(path, encodeSafetensors(model.params().map((p) => ({ name: p.name, shape: [...p.shape], data: p.data })),
    { format: MODEL_FORMAT, config: JSON.stringify(config) }));
  return path;
}

test('parseCsv: a value beyond float32 is an error naming line, column and value', () => {
  assert.equal(parseCsv('1,3.4e38,0\n2,-3.4e38,1\n', 'ok.csv').data.x.data[1], Math.fround(3.4e38));
  assert.throws(() => parseCsv('x,y,label\n1,2,0\n3,-1e39,1\n', 'f.csv'), /f\.csv:3, column 2: '-1e39' is beyond the float32 range.*rescale/);
  assert.throws(() => parseCsv(5 as unknown as string, 'n.csv'), /parseCsv takes the file's text, got 5/);
  // a header of numeric column names over word labels: its label cell a class of no other line
  const rows = Array.from({ length: 12 }, (_, i) => `${i},${i * 2},${i % 2 ? 'cat' : 'dog'}`).join('\n');
  assert.throws(() => parseCsv(`1990,2000,species\n${rows}\n`, 'y.csv'), /y\.csv:1: this line's label 'species' is on no other line.*a header whose column names are numbers \(1990, 2000\)/);
  assert.deepEqual(parseCsv(`${rows}\n`, 'y.csv').labels, ['cat', 'dog']);
});

test('train and eval on a CSV value beyond float32: exit 2 naming file, line, column and value', () => {
  const { dir } = csvRun();
  const big = tmp('big.csv');
  const lines = csvText().split('\n');
  lines[4] = '0.1,0.2,1e39,1';
  writeFileSync(big, lines.join('\n'));
  const re = new RegExp(`${reEscape(big)}:5, column 3: '1e39' is beyond the float32 range`);
  expectUsageError(['train', '--dataset', 'csv', '--csv', big, '--epochs', '1', '--no-progress', '--out', tmp('never')], re);
  expectUsageError(['eval', '--model', join(dir, 'model.safetensors'), '--csv', big], re);
  expectUsageError(['inspect', '--model', join(dir, 'model.safetensors'), '--csv', big], re);
});

test('a CSV column float32 keeps too coarsely (a timestamp over an hour) is named in a warning by train, eval and predict, which go on', () => {
  const rows = Array.from({ length: 60 }, (_, i) => [1.7e9 + ((i * 37) % 3600), (i * 7 % 10) / 10]);
  const file = tmp('stamps.csv'), features = tmp('stamps-features.csv'), dir = tmp('stamps-run');
  writeFileSync(file, `t,u,label\n${rows.map(([t, u], i) => `${t},${u},${i % 2}`).join('\n')}\n`);
  writeFileSync(features, `t,u\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  const column = String.raw`treegate: warning: ${reEscape(file)}: models read features as float32 \(about 7 significant digits\), which keeps column 't' \(about 1700000000, standard deviation \d+\) to steps of 128`;
  const trained = cli('train', '--dataset', 'csv', '--csv', file, '--epochs', '1', '--hidden', '8', '--depth', '1', '--no-progress', '--out', dir);
  assert.equal(trained.status, 0, describeRun(trained));
  assert.match(trained.stderr, new RegExp(`${column}.*Subtract an offset from the column \\(such as its smallest value\\) or change its unit before training\n`));
  const model = join(dir, 'model.safetensors');
  const evaluated = cli('eval', '--model', model, '--csv', file);
  assert.equal(evaluated.status, 0, describeRun(evaluated));
  assert.match(evaluated.stderr, new RegExp(`${column}.*A model trained on such a column with an offset subtracted, or in another unit, needs the same done here\n`));
  const predicted = cli('predict', '--model', model, '--csv', features);
  assert.equal(predicted.status, 0, describeRun(predicted));
  assert.match(predicted.stderr, new RegExp(column.replace(reEscape(file), reEscape(features))));
  assert.equal(predicted.stdout.trim().split('\n').length, 61);
  // a file whose columns float32 keeps well: no warning
  assert.doesNotMatch(cli('eval', '--model', join(csvRun().dir, 'model.safetensors'), '--csv', csvRun().csv).stderr, /float32/);
});

test('eval and predict read a file whose last columns are empty on every line (a spreadsheet\'s export) as the file without them, and say so once', () => {
  const { dir, csv } = csvRun(), model = join(dir, 'model.safetensors');
  const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
  const padded = tmp('padded.csv'), features = tmp('padded-features.csv');
  writeFileSync(padded, lines.map((l) => `${l},,`).join('\r\n') + '\r\n');
  writeFileSync(features, lines.map((l) => `${l.slice(0, l.lastIndexOf(','))},`).join('\n') + '\n');
  const evaluated = cli('eval', '--model', model, '--csv', padded, '--json');
  assert.equal(evaluated.status, 0, describeRun(evaluated));
  assert.equal(JSON.parse(evaluated.stdout).examples, 40);
  assert.equal(evaluated.stderr.match(/treegate: warning: /g)?.length, 1, evaluated.stderr);
  assert.match(evaluated.stderr, new RegExp(`treegate: warning: ${reEscape(padded)}: its last 2 columns \\(5–6\\) are empty on every line: ignored\n`));
  const predicted = cli('predict', '--model', model, '--csv', features);
  assert.equal(predicted.status, 0, describeRun(predicted));
  assert.match(predicted.stderr, new RegExp(`treegate: warning: ${reEscape(features)}: its last column \\(4\\) is empty on every line: ignored\n`));
  assert.equal(predicted.stdout.trim().split('\n').length, 41);
});

test('train warns where --test-csv is the --csv file, and goes on', () => {
  const { csv } = csvRun(), out = tmp('same-test-run');
  const r = cli('train', '--csv', csv, '--test-csv', csv, '--epochs', '1', '--hidden', '8', '--depth', '1', '--no-progress', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, /treegate: warning: the test file is the training file, .* \(--test-csv is --csv\): the test accuracy will measure how well the model fits its training examples, not how it does on new ones\n/);
  assert.ok(existsSync(join(out, 'model.safetensors')));
});

test('a model file whose normalization std is below what evaluation accepts is refused when it loads', () => {
  const path = modelFile('tiny-std.safetensors', { inputSize: 3, numClasses: 2, std: 1e-45, data: { dataset: 'csv', labels: ['0', '1'] } });
  const re = new RegExp(`${reEscape(path)}: the model config's normalization\\.std is 1e-45, must be a finite number ≥ 1e-30`);
  expectUsageError(['inspect', '--model', path, '--no-usage'], re);
  expectUsageError(['eval', '--model', path, '--csv', csvRun().csv], re);
});

test('report: malformed result.json and metrics.jsonl exit 2 naming the file (and line)', () => {
  const { dir } = csvRun();
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
  const epochLine = metrics.findIndex((l) => l.includes('"type":"epoch"'));
  /** A copy of the run with one file changed. */
  const variant = (name: string, file: string, text: string): string => {
    const d = tmp(name);
    cpSync(dir, d, { recursive: true });
    writeFileSync(join(d, file), text);
    return d;
  };
  const epoch = (edit: (r: Record<string, any>) => void): string => {
    const lines = [...metrics];
    const r = JSON.parse(lines[epochLine]) as Record<string, any>;
    edit(r);
    lines[epochLine] = JSON.stringify(r);
    return lines.join('\n');
  };
  const result = readFileSync(join(dir, 'result.json'), 'utf8');
  for (const [name, text] of [['empty', ''], ['truncated', result.slice(0, result.length >> 1)]]) {
    const d = variant(`report-${name}`, 'result.json', text);
    expectUsageError(['report', d], new RegExp(`${reEscape(join(d, 'result.json'))}: not valid JSON`));
  }
  const bad: Array<[string, (r: Record<string, any>) => void, RegExp]> = [
    ['trees-number', (r) => { r.trees = [5]; }, /trees\[0\] is not an object/],
    ['usage-string', (r) => { r.trees[0].usage = 'x'; }, /trees\[0\] has usage that is not 1 list of 4 counts/],
    ['huge-leaves', (r) => { r.trees[0].leaves = 1e9; }, /trees\[0\] has 1000000000 leaves, expected an integer in \[1, 2\^24\]/],
  ];
  for (const [name, edit, re] of bad) {
    const d = variant(`report-${name}`, 'metrics.jsonl', epoch(edit));
    expectUsageError(['report', d], new RegExp(`${reEscape(join(d, 'metrics.jsonl'))}:${epochLine + 1}: ${re.source}`));
    assert.equal(existsSync(join(d, 'report.html')), false);
  }
  // the run itself renders, and so does a log of the first format (no type, kind or leaves; layer an index)
  const r = cli('report', dir);
  assert.equal(r.status, 0, describeRun(r));
  const old = tmp('old.jsonl');
  writeFileSync(old, JSON.stringify({ epoch: 1, step: 5, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5, validationLoss: null, validationAccuracy: null,
    trees: [{ layer: 0, depth: 1, blocks: 1, balance: 1, deadLeaves: 0, usage: [[2, 3]] }], seconds: 1 }) + '\n');
  assert.deepEqual(readMetrics(old).epochs[0].trees[0], { layer: 0, depth: 1, blocks: 1, balance: 1, deadLeaves: 0, usage: [[2, 3]], kind: 'tree', leaves: 2 });
});

test('a model too large for memory is an out-of-memory error naming what to lower, not a bug', {
  skip: process.platform === 'linux' ? false : 'needs ulimit -v and /proc (Linux)',
}, () => {
  // the address space node (and tsx, where the CLI runs under it) reserve before the CLI allocates anything (GiBs of
  // wasm reservations)
  const probe = spawnSync(process.execPath, [...CLI_FLAGS, '--input-type=module', '-e',
    `await import(${JSON.stringify(cliModule('kernels/select'))}); await new Promise((r) => setTimeout(r, 200)); ` +
    "console.log(/VmPeak:\\s*(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1])"],
  { cwd: ROOT, encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  // 1 GiB more than that: a 20000×20000 float32 layer (1.6 GB) cannot be allocated; its file (1.6 GB) and an sgd
  // checkpoint (3.2 GB) would fit the 4 GiB of a file, which train checks first
  const limitKb = Number(probe.stdout.trim()) + 2 ** 20;
  const args = ['train', '--dataset', 'memorization', '--examples', '100', '--input-size', '8', '--classes', '3', '--epochs', '1',
    '--no-progress', '--backend', 'js', '--hidden', '20000,20000', '--tree-layers', 'none', '--optimizer', 'sgd', '--out', tmp('oom')];
  const r = spawnSync('bash', ['-c', `ulimit -v ${limitKb} && exec "$0" "$@"`, process.execPath, ...CLI_ARGS, ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const run = `exit ${r.status}\n--- stderr\n${r.stderr}`;
  assert.equal(r.status, 2, run);
  assert.match(r.stderr, /^treegate: error: out of memory: .*lower --hidden/, run);
  assert.doesNotMatch(r.stderr, /internal error|bug/, run);
  assert.equal(r.stderr.trim().split('\n').length, 1, run);
  // the hint fits the command: a resumed run or a given model cannot be made smaller by options
  assert.match(outOfMemoryHint(['train', '--epochs', '3']), /lower --hidden/);
  assert.match(outOfMemoryHint(['train', '--resume', 'runs/latest']), /needs what its training needed.*resume it where more memory is free/);
  assert.match(outOfMemoryHint(['eval', '--model', 'm.safetensors']), /^the model does not fit: run eval where more memory is free$/);
  assert.match(outOfMemoryHint(['predict', '--model', 'm', '--csv', 'x.csv']), /smaller --csv file/);
  assert.match(outOfMemoryHint(['experiment', 'speed']), /^run the experiment where more memory is free, or with --quick, a lower --width or --batch, or shallower --depths$/);
  // (every experiment's trees grow with --depths)
  assert.match(outOfMemoryHint(['experiment', 'accuracy', '--csv', 'x.csv']), /^run the experiment where more memory is free, or with --quick, or shallower --depths$/);
  assert.match(outOfMemoryHint(['experiment', 'gating']), /^run the experiment where more memory is free, or with --quick, or shallower --depths$/);
  // a resumed experiment keeps its settings (--quick, --depths … are refused beside --resume)
  assert.match(outOfMemoryHint(['experiment', 'speed', '--resume', 'runs/experiments/speed']), /^a resumed experiment keeps the settings it was started with: resume it where more memory is free, or start a smaller one$/);
});

test('stdout: a failed write exits non-zero with one line; a closed pipe exits quietly; a closed stderr is no error', async (t) => {
  const model = modelFile('plain.safetensors', { inputSize: 3, numClasses: 2, std: 1, data: { dataset: 'csv', labels: ['0', '1'] } });
  const args = ['inspect', '--model', model, '--no-usage'];
  if (existsSync('/dev/full')) {
    const full = openSync('/dev/full', 'w');
    const features = tmp('features.csv');
    writeFileSync(features, '1,2,3\n4,5,6\n');
    const labelled = tmp('labelled.csv');
    writeFileSync(labelled, '0.5,2,3,0\n4,5,6,1\n3,1,2,0\n');
    try {
      // predict's "predicted 2 examples" line and eval's accuracy line come only once their results are written
      // (--backend js: where the native addon is not built, the automatic choice says so on stderr first)
      const predict = ['predict', '--model', model, '--csv', features, '--backend', 'js'];
      const evalJson = ['eval', '--model', model, '--csv', labelled, '--backend', 'js', '--json'];
      for (const a of [args, predict, [...predict, '--json'], evalJson]) {
        const r = spawnSync(process.execPath, [...CLI_ARGS, ...a],
          { cwd: ROOT, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', full, 'pipe'] });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /^treegate: error: cannot write to standard output: ENOSPC/);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
    } finally {
      closeSync(full);
    }
  } else t.diagnostic('no /dev/full: the failed-write case is not checked');
  // the reader closes the pipe before the CLI writes (as `| head -0` does)
  const child = cliChild({}, ...args);
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  // a reader of the messages gone (`2>&1 | head -3`): the command still does its work and exits 0
  const { dir, csv } = csvRun();
  const quiet = cliChild({}, 'eval', '--model', join(dir, 'model.safetensors'), '--csv', csv, '--json');
  quiet.stderr!.destroy();
  let stdout = '';
  quiet.stdout!.on('data', (d: Buffer) => { stdout += d; });
  assert.equal(await new Promise<number | null>((resolve) => quiet.on('close', resolve)), 0, stdout);
  assert.ok(typeof (JSON.parse(stdout) as { testAccuracy: unknown }).testAccuracy === 'number', stdout);
});

test('eval and inspect: --data-dir with a model not trained on MNIST, or with --csv, is rejected', () => {
  const { dir, csv } = csvRun();
  const csvModel = join(dir, 'model.safetensors');
  expectUsageError(['eval', '--model', csvModel, '--csv', csv, '--data-dir', '/nonexistent'], /--data-dir has no effect with --csv/);
  expectUsageError(['eval', '--model', csvModel, '--data-dir', '/nonexistent'], /--data-dir has no effect for .*, trained on csv/);
  expectUsageError(['inspect', '--model', csvModel, '--data-dir', '/nonexistent'], /--data-dir has no effect for .*, trained on csv/);
  const fashion = modelFile('fashion.safetensors', { inputSize: 784, numClasses: 10, std: 1, data: { dataset: 'fashion-mnist' } });
  expectUsageError(['eval', '--model', fashion, '--data-dir', '/nonexistent'], /--data-dir has no effect for .*, trained on fashion-mnist/);
  // a dataset of the API's own naming: no test set to load, and not the memorization task
  const own = modelFile('own-data.safetensors', { inputSize: 3, numClasses: 2, std: 1, data: { dataset: 'imagenet' } });
  expectUsageError(['eval', '--model', own], /was trained on 'imagenet', a dataset treegate does not load .*\(pass its test examples with --csv FILE\)/);
  // a CSV model without --csv: its own test file is asked for (not called a dataset treegate does not know)
  // (the file train tested it on, where its result.json names it and it is still there)
  expectUsageError(['eval', '--model', csvModel],
    new RegExp(`csv-run/model\\.safetensors was trained on a CSV file \\(pass its test file: --csv ${reEscape(join(dir, 'heldout-test.csv'))}, the file train tested it on\\)$`));
  const alone = tmp('csv-model-alone');
  mkdirSync(alone, { recursive: true });
  copyFileSync(csvModel, join(alone, 'model.safetensors'));
  expectUsageError(['eval', '--model', join(alone, 'model.safetensors')], /csv-model-alone\/model\.safetensors was trained on a CSV file \(pass its test file with --csv FILE\)$/);
  // an MNIST model: --data-dir is idle with --csv all the same (refused before the CSV file is looked for)
  const mnist = modelFile('mnist.safetensors', { inputSize: 784, numClasses: 10, std: 1, data: { dataset: 'mnist' } });
  expectUsageError(['eval', '--model', mnist, '--csv', tmp('no-such.csv'), '--data-dir', '/nonexistent'], /--data-dir has no effect with --csv/);
});

test('eval of a model with fewer classes than its test set (MNIST\'s 10 for a 3-class model) is an error naming both', () => {
  const three = modelFile('three-classes.safetensors', { inputSize: 784, numClasses: 3, std: 1, data: { dataset: 'mnist' } });
  expectUsageError(['eval', '--model', three, '--limit', '5'], /three-classes\.safetensors: the model takes 784 inputs and 3 classes, the test set has 784 and 10/);
});

test('eval and inspect of a model made through the API (no normalization, no dataset): a CSV file\'s values as they are', () => {
  const model = new Model(mlpConfig({ inputSize: 2, numClasses: 3, hidden: [8], treeLayers: [2], depth: 2, gating: 'projection' }), new Rng(5));
  const path = tmp('api-model.safetensors');
  saveModel(path, model);
  // labels 2 and 1 only: they name classes 2 and 1, not the first two found
  const rows = Array.from({ length: 30 }, (_, i) => [Math.sin(i), Math.cos(3 * i), 1 + (i % 2)]);
  const csv = tmp('api.csv');
  writeFileSync(csv, rows.map((r) => r.join(',')).join('\n') + '\n');
  const x = matrix(rows.length, 2, Float32Array.from(rows.flatMap((r) => r.slice(0, 2))));
  const expected = model.evaluate(x, Int32Array.from(rows.map((r) => r[2])));
  const r = cli('eval', '--model', path, '--csv', csv, '--json');
  assert.equal(r.status, 0, describeRun(r));
  const got = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(got.testAccuracy, expected.accuracy);
  assert.equal(got.examples, rows.length);
  assert.equal(cli('inspect', '--model', path, '--csv', csv).status, 0);
  expectUsageError(['eval', '--model', path], /api-model\.safetensors records no input normalization, so no dataset to test it on.*--csv FILE/s);
  // a label the model's classes do not have is named
  writeFileSync(csv, '0.5,0.5,7\n');
  expectUsageError(['eval', '--model', path, '--csv', csv], /label '7'/);
});

test('train refuses, before reading any data, a model whose arrays would pass this machine\'s memory', () => {
  const out = tmp('too-big');
  // nineteen routed layers of 2000 × 2000 per node, depth 8: 579 GiB of arrays, past any machine that runs the suite
  const hidden = Array(20).fill('2000').join(','), routed = Array.from({ length: 19 }, (_, i) => i + 2).join(',');
  expectUsageError(['train', '--hidden', hidden, '--tree-layers', routed, '--depth', '8', '--out', out],
    /a model of 38\.86G parameters needs 579\.02 GiB for its weights, gradients and adam state, more than this machine's [\d.]+ GiB of memory.*lower --depth/);
  assert.ok(!existsSync(out), 'nothing written');
});

test('report of a run folder whose checkpoints folder holds no checkpoint says so (one that has some: test/cli/resume.test.ts)', () => {
  const dir = tmp('unfinished');
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  expectUsageError(['report', dir], new RegExp(`${reEscape(dir)} holds a checkpoints folder with no checkpoint, and no metrics\\.jsonl: a training run that stopped before its first checkpoint`));
});

test('CSV files that cannot be read or are not UTF-8 text: exit 2 naming why; CR-only line ends are lines', { skip: !existsSync('/proc/self/mem') && 'no /proc here' }, () => {
  const { dir } = csvRun();
  const model = join(dir, 'model.safetensors');
  // a file the OS refuses to read (/proc/self/mem: a regular file of size 0 whose read fails) is not a bug report
  expectUsageError(['predict', '--model', model, '--csv', '/proc/self/mem'], /cannot read CSV file \/proc\/self\/mem: i\/o error \(EIO\)/);
  const utf16 = tmp('utf16.csv');
  writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b,c,label\n1,2,3,1\n', 'utf16le')]));
  expectUsageError(['eval', '--model', model, '--csv', utf16], /utf16\.csv:1: a NUL byte: the file is not UTF-8 text .*iconv -f UTF-16 -t UTF-8/);
  // a compressed file: named as such (its header has NULs, which read as UTF-16 before)
  const gz = tmp('data.csv.gz');
  writeFileSync(gz, gzipSync('a,b,c,label\n1,2,3,1\n'));
  expectUsageError(['eval', '--model', model, '--csv', gz], /data\.csv\.gz: the file is gzip-compressed, not CSV text \(decompress it first \(gunzip -k FILE\)/);
  // Latin-1 (a spreadsheet's "CSV" on Windows): the line of the first byte UTF-8 has no character for, from a file and
  // from standard input alike, not a U+FFFD in a class name
  const latin1 = Buffer.concat([Buffer.from('a,b,c,label\n1,2,3,1\n4,5,6,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
  const latin1Path = tmp('latin1.csv');
  writeFileSync(latin1Path, latin1);
  const notUtf8 = /:3: the file is not UTF-8 text \(after "4,5,6,caf" comes a byte UTF-8 has no character for\) \(save it as CSV UTF-8, or convert it: iconv -f WINDOWS-1252/;
  expectUsageError(['eval', '--model', model, '--csv', latin1Path], new RegExp(`latin1\\.csv${notUtf8.source}`));
  const piped = cliStdin(latin1, 'eval', '--model', model, '--csv', '-');
  assert.equal(piped.status, 2, describeRun(piped));
  assert.match(piped.stderr, new RegExp(`standard input${notUtf8.source}`));
  const cr = tmp('cr.csv');
  writeFileSync(cr, csvText().replace(/\n/g, '\r'));
  const r = cli('eval', '--model', model, '--csv', cr, '--json');
  assert.equal(r.status, 0, describeRun(r));
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).examples, 40);
});
