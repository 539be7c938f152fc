/**
 * End-to-end tests of the `treegate` CLI: each test spawns it (test/cli/run.ts: the compiled CLI, or
 * src/cli/main.ts under tsx before a build) from the repository root.
 * Training runs use --limit and small widths so that each takes a few seconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { commandLine } from '../../src/cli/provenance.js';
import { usageText } from '../../src/cli/evaluate.js';
import { shellWord } from '../../src/cli/options.js';
import { blobsCsv, cli, CLI_ARGS, cliEnv, cliStdin, describeRun, expectUsageError, lastJson, ROOT, tmp, type CliResult, reEscape } from './run.js';
import { shortRunWarning, unusedLeavesWarnings } from '../../src/cli/train-checks.js';
import { defaultMnistDir, loadMnistTest, MNIST_FILES, MNIST_SCALE } from '../../src/data/mnist.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { MODEL_FORMAT } from '../../src/io/model-file.js';
import { loadAddon, nativeLoadError } from '../../src/kernels/native/index.js';
import { usableCores } from '../../src/kernels/cores.js';

// the CLI's children load the same addon; skipped with the reason where it was not built
const addon = loadAddon();
const nativeSkip = addon ? false : `native addon unavailable: ${nativeLoadError()}`;
/** The most threads the native kernels run with here: the addon's pool, capped at the cores this process may use. */
const maxThreads = addon ? Math.min(addon.info().maxThreads, usableCores()) : 1;

// ---------------------------------------------------------------- shared training runs

const MAIN_ARGS = ['train', '--limit', '1500', '--epochs', '2', '--hidden', '32,32', '--depth', '3', '--json'];

interface TrainRun { out: string; result: CliResult; json: Record<string, any> }
const runs = new Map<string, TrainRun>();

/** The brief's training command, run once per (label, seed) and shared by the tests. */
function mainRun(label = 'a', seed = 7): TrainRun {
  const key = `${label}/${seed}`;
  let run = runs.get(key);
  if (!run) {
    const out = tmp(`train-${label}-${seed}`);
    const result = cli(...MAIN_ARGS, '--out', out, '--seed', String(seed));
    assert.equal(result.status, 0, describeRun(result));
    run = { out, result, json: lastJson(result) };
    runs.set(key, run);
  }
  return run;
}

// ---------------------------------------------------------------- errors

test('bad option values exit 2 with one error line naming the option', () => {
  const out = tmp('never-written');
  expectUsageError(['train', '--depth', '-1', '--out', out], /--depth.*-1.*integer in \[0, 24\]/);
  expectUsageError(['train', '--hidden', '0', '--out', out], /--hidden.*'0'.*≥ 1/);
  expectUsageError(['train', '--hidden', '8', '--gating', 'units', '--depth', '20', '--out', out],
    /depth 20 needs 20 gating units but each block has only 8 inputs/);
  expectUsageError(['train', '--blocks', '3', '--out', out], /256 is not divisible by 3 blocks/);
  expectUsageError(['train', '--tree-layers', '9', '--out', out], /--tree-layers 9 names a layer past the last one \(3\)/);
  expectUsageError(['train', '--hidden', 'none', '--out', out], /--tree-layers 2 \(the default\) names a layer past the last one \(1\) \(with 0 hidden layers, give --tree-layers indices in 1\.\.1, or none\)/);
  expectUsageError(['train', '--epochs', '0', '--out', out], /--epochs.*'0'.*≥ 1/);
  // integers are written in decimal digits: Number() would read these as 16 and 1000
  expectUsageError(['train', '--epochs', '0x10', '--out', out], /--epochs.*'0x10'.*expected an integer ≥ 1/);
  expectUsageError(['train', '--epochs', '1e3', '--out', out], /--epochs.*'1e3'.*expected an integer ≥ 1/);
  expectUsageError(['train', '--optimizer', 'sgd', '--momentum', '1', '--out', out], /--momentum.*'1'.*expected a finite number ≥ 0 and ≤ 0\.999/);
  expectUsageError(['train', '--lr', '-1', '--out', out], /--lr.*'-1'.*> 0/);
  // 0 is the bound itself, excluded (a run that never moves); --epochs 0 after it stops at once a parser that took it
  expectUsageError(['train', '--lr', '0', '--epochs', '0', '--out', out], /--lr.*'0'.*expected a finite number > 0/);
  // a path option's value left out, the next option taken for it, in any case (the lower-case one: train-safety.test.ts)
  expectUsageError(['train', '--out', '--JSON', '--epochs', '0'], /option '--out <dir>' argument '--JSON' is invalid\. expected a path, not an option \(was the value left out\?\)/);
  expectUsageError(['train', '--lr', '0x10', '--out', out], /--lr.*'0x10'.*expected a finite number > 0/);
  expectUsageError(['train', '--lr', '1e309', '--out', out], /--lr.*'1e309'.*expected a finite number > 0/);
  expectUsageError(['train', '--optimizer', 'foo', '--out', out], /--optimizer.*'foo'.*adam, sgd/);
  expectUsageError(['train', '--bogus', '--out', out], /unknown option '--bogus'/);
  // `npm start --out DIR`: npm takes the option, train gets its value as an argument
  const viaNpm = cliEnv({ npm_lifecycle_event: 'start', npm_package_name: 'treegate' }, 'train', out);
  assert.equal(viaNpm.status, 2, describeRun(viaNpm));
  assert.match(viaNpm.stderr, /too many arguments for 'train'[^]*npm reads the options before -- as its own: pass treegate's after it, e\.g\. npm start -- --out DIR/);
  // another project's start script that runs treegate: its own way of passing options, not treegate's
  const theirs = cliEnv({ npm_lifecycle_event: 'start', npm_package_name: 'my-app' }, 'train', out);
  assert.equal(theirs.status, 2, describeRun(theirs));
  assert.doesNotMatch(theirs.stderr, /npm start/);
  assert.doesNotMatch(cli('train', out).stderr, /npm start/);
  assert.equal(existsSync(out), false, 'no output folder is created for a rejected command');
});

test('eval: missing --model, a missing file and corrupt files exit 2 naming the file', () => {
  expectUsageError(['eval'], /required option '--model <path>' not specified/);
  // an unknown option is named before a required one is missed: a misspelt --model says so
  expectUsageError(['inspect', '--modle', 'x'], /unknown option '--modle'/);
  expectUsageError(['help', 'evaluate'], /unknown command 'evaluate' \(the commands: train, eval, predict, inspect, report, experiment\)/);
  expectUsageError(['export', '--help'], /unknown command 'export' \(the commands: train, eval/);
  expectUsageError(['export'], /unknown command 'export' \(the commands: train, eval/);
  // --verbose first: still the command named, with the list (not commander's own message)
  expectUsageError(['--verbose', 'export'], /^treegate: error: unknown command 'export' \(the commands: train, eval/);
  expectUsageError(['predict', '--model', 'x'], /required option '--csv <file>' not specified/);
  // an option's two forms on one line contradict each other, in either order (the last is not taken)
  expectUsageError(['predict', '--model', 'x', '--csv', 'y', '--header', '--no-header'], /error: --header and --no-header contradict each other \(give one of them\)/);
  expectUsageError(['eval', '--model', 'x', '--no-header', '--header'], /--no-header and --header contradict each other/);
  const missing = tmp('no-such-model.safetensors');
  expectUsageError(['eval', '--model', missing], new RegExp(`cannot open model file ${reEscape(missing)}: no such file`));

  const random = tmp('random.safetensors');
  writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)));
  expectUsageError(['eval', '--model', random], new RegExp(`${reEscape(random)}: .*safetensors header`));

  const truncated = tmp('truncated.safetensors');
  const full = readFileSync(join(mainRun().out, 'model.safetensors'));
  writeFileSync(truncated, full.subarray(0, full.length >> 1));
  expectUsageError(['eval', '--model', truncated], new RegExp(`${reEscape(truncated)}: .*(truncated|beyond)`));

  const dir = tmp('model-dir');
  mkdirSync(dir);
  expectUsageError(['eval', '--model', dir], new RegExp(`${reEscape(dir)} is not a file`));
  expectUsageError(['inspect', '--model', dir, '--no-usage'], new RegExp(`${reEscape(dir)} is not a file`));
});

test('eval: a model file with a malformed config exits 2 (not an internal error)', () => {
  // regression: a non-array gateUnits once threw a TypeError, reported as an internal error (exit 1)
  const p = tmp('bad-gate-units.safetensors');
  const config = {
    inputSize: 784, numClasses: 10, normalization: { scale: 1 / 255, mean: 0.13, std: 0.31 },
    layers: [{ kind: 'tree', inputSize: 784, outputSize: 10, depth: 1, blocks: 1, gating: 'units', gateUnits: 3 }],
  };
  writeFileSync(p, encodeSafetensors([], { format: MODEL_FORMAT, config: JSON.stringify(config) }));
  expectUsageError(['eval', '--model', p, '--limit', '10'], new RegExp(reEscape(p)));
});

test('train: a missing or corrupt dataset exits 2 naming the file', () => {
  const empty = tmp('empty-data');
  mkdirSync(empty);
  const out = tmp('out-data');
  expectUsageError(['train', '--data-dir', empty, '--out', out, '--limit', '100'],
    new RegExp(`MNIST file is missing: ${reEscape(join(empty, MNIST_FILES.trainImages))}`));
  expectUsageError(['train', '--data-dir', join(empty, 'nope'), '--out', out, '--limit', '100'], /MNIST directory is missing/);

  const mnist = defaultMnistDir();
  const corrupt = tmp('corrupt-data');
  mkdirSync(corrupt);
  for (const f of [MNIST_FILES.trainImages, MNIST_FILES.testImages, MNIST_FILES.testLabels]) symlinkSync(join(mnist, f), join(corrupt, f));
  const labels = join(corrupt, MNIST_FILES.trainLabels);
  writeFileSync(labels, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6]));
  expectUsageError(['train', '--data-dir', corrupt, '--out', out, '--limit', '100'], new RegExp(`${reEscape(labels)}: bad IDX magic.*gzip`));
  // a truncated IDX file
  writeFileSync(labels, readFileSync(join(mnist, MNIST_FILES.trainLabels)).subarray(0, 1000));
  expectUsageError(['train', '--data-dir', corrupt, '--out', out, '--limit', '100'], new RegExp(`${reEscape(labels)}: file is truncated`));
  assert.ok(!existsSync(out), 'nothing is written when the data cannot be loaded, and the --out folder the run made is gone');
});

test('a run that fails leaves no --out folder it created (only empty ones are removed)', () => {
  const top = tmp('created'), out = join(top, 'deep', 'run');
  expectUsageError(['train', '--out', out, '--data-dir', tmp('no-data'), '--limit', '300'], /MNIST directory is missing/);
  assert.ok(!existsSync(top), 'the folders the run made are gone');
  const kept = tmp('kept');
  mkdirSync(kept);
  writeFileSync(join(kept, 'mine.txt'), 'x');
  expectUsageError(['train', '--out', join(kept, 'sub'), '--data-dir', tmp('no-data'), '--limit', '300'], /MNIST directory is missing/);
  assert.deepEqual(readdirSync(kept), ['mine.txt'], 'a folder that was there stays, with what it holds');
});

test('--out under a regular file exits 2 before loading data or training', () => {
  const file = tmp('a-file');
  writeFileSync(file, 'keep me');
  // the data folder does not exist: an error naming --out, not the data, shows the output was checked first
  const noData = tmp('no-such-data-dir');
  for (const out of [join(file, 'sub'), file]) {
    const r = expectUsageError(['train', '--out', out, '--data-dir', noData, '--limit', '300', '--epochs', '1', '--hidden', '8'],
      new RegExp(reEscape(out)));
    assert.ok(!r.stderr.includes('training on') && !r.stderr.includes(noData), r.stderr);
  }
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
});

test('options that would have no effect exit 2 naming them and what they need', () => {
  const out = tmp('never-written');
  const idle: Array<[string[], RegExp]> = [
    [['--momentum', '0.5'], /--momentum has no effect with --optimizer adam/],
    [['--tree-layers', 'none', '--depth', '6', '--blocks', '2'], /--depth, --blocks have no effect with --tree-layers none/],
    [['--experts', '8'], /--experts has no effect with --layer tree \(options of --layer moe\)/],
    [['--layer', 'moe', '--gating', 'units'], /--gating has no effect with --layer moe/],
    [['--layer', 'moe', '--experts', '8', '--depth', '3'], /--depth has no effect with --layer moe and --experts/],
    [['--tree-layers', 'none', '--dense-equal-params'], /--dense-equal-params has no effect with --tree-layers none/],
    // a layer's config errors name the layer as --tree-layers counts, and what would do
    [['--tree-layers', '3', '--blocks', '5'], /layer 3: input size 256 is not divisible by 5 blocks \(choose a number of blocks that divides the input width 256: 1, 2, 4, 8/],
    [['--layer', 'moe', '--experts', '2', '--top-k', '3'], /layer 2: top-k \(experts per example\) must be an integer in \[1, 2\], got 3 \(use at most the 2 experts/],
    [['--dense-equal-params', '--straight-through'], /--straight-through has no effect with --dense-equal-params/],
    [['--layer', 'flat', '--node-init', 'small'], /--node-init has no effect with --layer flat/],
    [['--tree-layers', '2,2'], /tree layer indices repeat: 2, 2/],
    [['--depth', '0', '--gating', 'units', '--straight-through'], /--gating, --straight-through have no effect with --depth 0 \(a routed layer of depth 0 is its root alone/],
    [['--layer', 'flat', '--depth', '0', '--weight-decay', '0.001', '--decay-gamma', '0.5'], /--decay-gamma has no effect with --depth 0/],
    [['--layer', 'flat', '--depth', '0'], /--layer has no effect with --depth 0 \(a flat layer of depth 0 is one leaf, the same layer as --layer tree --depth 0/],
    [['--hidden', 'none', '--tree-layers', '1', '--activation', 'tanh'], /--activation has no effect with --hidden none \(it is the function between hidden layers/],
    [['--examples', '500'], /--examples has no effect with --dataset mnist/],
    [['--dataset', 'memorization', '--data-dir', out], /--data-dir has no effect with --dataset memorization/],
    [['--decay-gamma', '0.5'], /--decay-gamma has no effect without --weight-decay/],
    [['--keep-checkpoints', '2'], /--keep-checkpoints has no effect without --checkpoint-every/],
    [['--resume', out, '--depth', '6'], /--depth has no effect with --resume \(a resumed run keeps the options it was started with/],
  ];
  for (const [args, re] of idle) expectUsageError(['train', ...args, ...(args.includes('--resume') ? [] : ['--out', out])], re);
  expectUsageError(['train', '--hidden', '', '--out', out], /--hidden.*expected integers ≥ 1, comma-separated, or none/);
  assert.equal(existsSync(out), false, 'no output folder is created for a rejected command');
  // the same values as the defaults, given explicitly, are fine where they apply
  const r = cli('train', '--dataset', 'memorization', '--examples', '200', '--input-size', '8', '--classes', '3', '--hidden', 'none',
    '--tree-layers', '1', '--depth', '1', '--optimizer', 'sgd', '--momentum', '0.5', '--epochs', '1', '--out', tmp('linear'));
  assert.equal(r.status, 0, describeRun(r));
});

test('outputs that cannot be written are found before training; a model that overflows is not saved (exit 3)', () => {
  const out = tmp('model-is-a-dir');
  mkdirSync(join(out, 'model.safetensors'), { recursive: true });
  const r = expectUsageError(['train', '--limit', '300', '--epochs', '1', '--hidden', '8', '--out', out],
    /model\.safetensors exists and is not a file/);
  assert.ok(!r.stderr.includes('training on'), r.stderr);

  // files in --out that are not a run's are not replaced: refused before any data is read
  const theirs = tmp('their-folder');
  mkdirSync(theirs);
  writeFileSync(join(theirs, 'result.json'), '{"mine": true}\n');
  const mem = ['train', '--dataset', 'memorization', '--examples', '600', '--input-size', '16', '--classes', '4', '--hidden', '32', '--depth', '2'];
  const refused = expectUsageError([...mem, '--out', theirs], /--out .*their-folder holds result\.json, which is not a treegate run's: training would replace it \(choose another --out/);
  assert.ok(!refused.stderr.includes('training on'), refused.stderr);
  writeFileSync(join(theirs, 'result.json'), '');
  writeFileSync(join(theirs, 'model.safetensors'), 'a model of some other tool');
  expectUsageError([...mem, '--out', theirs], /holds model\.safetensors, which is not a treegate run's/);
  assert.deepEqual(readdirSync(theirs).sort(), ['model.safetensors', 'result.json']);
  const notes = tmp('their-notes');
  mkdirSync(notes);
  writeFileSync(join(notes, 'metrics.jsonl'), 'my notes\n');
  expectUsageError([...mem, '--out', notes], /holds metrics\.jsonl, which is not a treegate run's/);
  assert.equal(readFileSync(join(notes, 'metrics.jsonl'), 'utf8'), 'my notes\n');

  const nan = tmp('nan-model');
  const earlier = cli(...mem, '--epochs', '1', '--batch-size', '700', '--out', nan);
  assert.equal(earlier.status, 0, describeRun(earlier));
  assert.match(earlier.stderr, /^treegate: warning: --batch-size 700 is more than the 600 training examples: one step an epoch, on all of them$/m);
  // exactly as many as the examples: one step an epoch on all of them, as asked, without a warning
  const whole = cli(...mem, '--epochs', '1', '--batch-size', '600', '--out', tmp('batch-all'));
  assert.equal(whole.status, 0, describeRun(whole));
  assert.doesNotMatch(whole.stderr, /--batch-size/);
  const earlierModel = readFileSync(join(nan, 'model.safetensors'));
  const n = cli(...mem, '--epochs', '2', '--lr', '1e30', '--on-nonfinite', 'skip', '--out', nan, '--json');
  assert.equal(n.status, 3, describeRun(n));
  assert.match(n.stderr, /error: the trained model's test loss is NaN: its outputs overflow \(\d+ steps were skipped\); nothing was saved/);
  assert.match(n.stderr, /lower --lr/);
  assert.match(n.stderr, /^treegate: warning: --lr 1e\+30 is far above the usual range \(about 1e-4 to 0\.1\): the loss may well blow up$/m, 'said before the run');
  assert.equal(n.stdout, '');
  assert.deepEqual(readFileSync(join(nan, 'model.safetensors')), earlierModel, 'the earlier model is kept');
});

test('--verbose prints the stack trace of a TreegateError', () => {
  const missing = tmp('no-such-model.safetensors');
  for (const args of [['--verbose', 'eval', '--model', missing], ['eval', '--model', missing, '--verbose']]) {
    const r = cli(...args);
    assert.equal(r.status, 2, describeRun(r));
    assert.match(r.stderr, /^treegate: error: cannot open model file .*no such file/);
    assert.match(r.stderr, /TreegateError: /);
    assert.ok(r.stderr.includes('    at '), r.stderr);
    // the TypeScript source's lines, where the compiled CLI runs too (its bundle's source map, read for the trace)
    assert.match(r.stderr, /src[\\/]io[\\/]model-file\.ts:\d+:\d+/, r.stderr);
    assert.doesNotMatch(r.stderr, /dist[\\/]\S+\.js:\d+:\d+/, r.stderr);
  }
});

// ---------------------------------------------------------------- help

test('--help for the program and each command exits 0 and lists the options', () => {
  const expected: Record<string, string[]> = {
    '': ['--verbose', '--version', '--help', 'train', 'eval', 'predict', 'inspect'],
    train: ['--hidden', '--tree-layers', '--depth', '--blocks', '--gating', '--node-init', '--activation', '--epochs',
      '--batch-size', '--lr', '--optimizer', '--momentum', '--schedule', '--weight-decay', '--decay-gamma', '--validation',
      '--limit', '--data-dir', '--seed', '--out', '--json', '--no-progress'],
    eval: ['--model', '--data-dir', '--csv', '--label-column', '--limit', '--json'],
    inspect: ['--model', '--data-dir', '--csv', '--label-column', '--limit', '--no-usage', '--json'],
    predict: ['--model', '--csv', '--out', '--probabilities', '--json'],
    experiment: ['--seeds', '--quick', '--out', '--resume', '--data-dir', '--csv', '--test-csv', '--header', '--label-column', '--width', '--batch', '--depths',
      '--backend', '--threads', '--json', '--no-progress'],
  };
  for (const [command, options] of Object.entries(expected)) {
    const r = cli(...(command ? [command] : []), '--help');
    assert.equal(r.status, 0, describeRun(r));
    assert.match(r.stdout, new RegExp(`^Usage: treegate${command ? ` ${command}` : ''} \\[options\\]`));
    for (const o of options) assert.ok(r.stdout.includes(o), `${command || 'treegate'} --help lists ${o}`);
    // (gating's depths, narrower than the others', and why)
    if (command === 'experiment') assert.match(r.stdout.replace(/\s+/g, ' '), /each in \[0, 24\], gating's in \[1, 10\] \(a depth-0 tree has no gating bits; .* 2\^k counts, drawn as heatmaps\) \(default .* gating 4; speed/);
  }
  // `help COMMAND` and `help help` alike: help on stdout, exit 0 (commander printed `help help` as an error)
  for (const args of [['help', 'train'], ['help', 'help'], ['help']]) {
    const r = cli(...args);
    assert.equal(r.status, 0, describeRun(r));
    assert.match(r.stdout, new RegExp(`^Usage: treegate${args[1] === 'train' ? ' train' : ''} \\[options\\]`));
  }
  const v = cli('--version');
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
});

// ---------------------------------------------------------------- a real run

test('train: a short real run writes the model and metrics and prints the JSON summary', () => {
  const { out, result, json } = mainRun();
  assert.ok(!result.stderr.includes('    at '));
  assert.match(result.stderr, /training on 1375 mnist examples \(125 held out for validation\)/);

  for (const k of ['testAccuracy', 'testLoss', 'parameters', 'modelPath', 'metricsPath']) assert.ok(k in json, k);
  assert.equal(typeof json.testAccuracy, 'number');
  assert.ok(json.testAccuracy > 0.5 && json.testAccuracy <= 1, `test accuracy ${json.testAccuracy} well above chance`);
  assert.equal(json.seed, 7);
  assert.equal(json.epochs, 2);
  assert.deepEqual([json.splits, json.limit, json.denseEqualParams], [{ training: 1375, validation: 125, test: 1500 }, 1500, undefined]);
  for (const mode of ['training', 'inference']) {
    assert.ok(Number.isInteger(json.macsPerExample[mode]) && json.macsPerExample[mode] > 0, mode);
    assert.equal(json.capacityToComputation[mode], json.parameters / json.macsPerExample[mode]);
  }

  const layers = json.layers as Array<Record<string, any>>;
  assert.deepEqual(layers.map((l) => [l.layer, l.index, l.kind, l.inputSize, l.outputSize]),
    [[1, 0, 'dense', 784, 32], [2, 2, 'tree', 32, 32], [3, 4, 'dense', 32, 10]]);
  for (const l of layers) {
    assert.ok(Number.isInteger(l.parameters) && l.parameters > 0, `layer ${l.index} parameters`);
    assert.ok(l.macsPerExample.training >= l.macsPerExample.inference);
  }
  assert.equal(layers.reduce((a, l) => a + l.parameters, 0), json.parameters);
  assert.equal(layers.reduce((a, l) => a + l.macsPerExample.training, 0), json.macsPerExample.training);
  assert.equal(layers.reduce((a, l) => a + l.macsPerExample.inference, 0), json.macsPerExample.inference);
  const tree = layers[1];
  assert.equal(tree.depth, 3);
  assert.equal(tree.blocks, 1);
  assert.equal(tree.gating, 'projection');
  assert.equal(tree.straightThrough, false);
  assert.ok(tree.balance >= 0 && tree.balance <= 1, `balance ${tree.balance}`);
  assert.ok(Number.isInteger(tree.deadLeaves) && tree.deadLeaves >= 0 && tree.deadLeaves <= 8);
  assert.equal(layers[0].macsPerExample.training, 784 * 32);
  assert.equal(layers[0].parameters, 784 * 32 + 32);

  assert.equal(json.modelPath, join(out, 'model.safetensors'));
  assert.ok(existsSync(json.modelPath));
  assert.deepEqual(readdirSync(out).sort(), ['metrics.jsonl', 'model.safetensors', 'result.json'], 'no temp files left');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')), json, 'result.json holds the --json summary');

  const metricsText = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
  assert.ok(metricsText.endsWith('\n'));
  const lines = metricsText.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const metrics = lines.filter((m) => m.type === 'epoch');
  assert.deepEqual(metrics.map((m) => m.epoch), [1, 2]);
  const steps = lines.filter((m) => m.type === 'step');
  assert.equal(lines.length, metrics.length + steps.length, 'every line is a step or an epoch record');
  // 44 steps, logged at the first, every 3 (the default for 44 steps: 50, fewer in a run of under 1000, for 20
  // windows) and at the last step; the number saved with the run's options, as if given
  assert.deepEqual(steps.map((s) => s.step), [1, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 44], 'a step record of the first step, at the end of every 3 steps and at the last');
  assert.ok(steps.every((s) => Number.isFinite(s.trainLoss) && s.trainAccuracy >= 0 && s.trainAccuracy <= 1), 'step records with the training loss');
  assert.ok(metrics[1].trainLoss < metrics[0].trainLoss, `training loss falls: ${metrics[0].trainLoss} → ${metrics[1].trainLoss}`);
  assert.equal(metrics[1].trainLoss, json.trainLoss);
  assert.equal(metrics[1].validationAccuracy, json.validationAccuracy);
});

test('eval of the trained model reports exactly the test accuracy train printed', () => {
  const { json } = mainRun();
  const r = cli('eval', '--model', json.modelPath, '--limit', '1500', '--json');
  assert.equal(r.status, 0, describeRun(r));
  const e = lastJson(r);
  assert.equal(e.testAccuracy, json.testAccuracy);
  assert.equal(e.testLoss, json.testLoss);
  assert.equal(e.examples, 1500);
  assert.doesNotMatch(r.stderr, /tested it on the first/);
  // nor where --limit asks for more than train tested: the user chose the examples
  const more = cli('eval', '--model', json.modelPath, '--limit', '1600');
  assert.equal(more.status, 0, describeRun(more));
  assert.match(more.stdout, /on 1,?600 examples/);
  assert.doesNotMatch(more.stderr, /tested it on the first/);
  // on the whole test set, eval says how to get train's figure (its result.json records the limit)
  const whole = cli('eval', '--model', json.modelPath);
  assert.equal(whole.status, 0, describeRun(whole));
  assert.match(whole.stderr, /the run that wrote .*model\.safetensors tested it on the first 1,?500 test examples \(train --limit\): eval --limit 1500 gives the test accuracy it printed/);
  assert.match(whole.stdout, /on 10,?000 examples/);
  assert.equal(e.parameters, json.parameters);
  assert.deepEqual(e.macsPerExample, json.macsPerExample);
  assert.deepEqual(e.layers.map((l: any) => l.parameters), json.layers.map((l: any) => l.parameters));

  // the same test images as a CSV of raw pixel bytes: eval --csv, inspect --csv and predict scale and standardize
  // them as train did, so eval --csv agrees with eval on the MNIST files, and predict with both
  const raw = loadMnistTest().x, labels = loadMnistTest().y, n = 300, dir = tmp('mnist-csv');
  mkdirSync(dir);
  const pixels = (i: number) => Array.from(raw.data.subarray(i * raw.cols, (i + 1) * raw.cols), (v) => Math.round(v / MNIST_SCALE));
  const header = Array.from({ length: raw.cols }, (_, c) => `p${c}`).join(',');
  const rows = Array.from({ length: n }, (_, i) => i);
  writeFileSync(join(dir, 'test.csv'), [`${header},label`, ...rows.map((i) => `${pixels(i).join(',')},${labels[i]}`)].join('\n') + '\n');
  writeFileSync(join(dir, 'features.csv'), [header, ...rows.map((i) => pixels(i).join(','))].join('\n') + '\n');
  const byFile = lastJson(cli('eval', '--model', json.modelPath, '--limit', String(n), '--json'));
  const byCsv = cli('eval', '--model', json.modelPath, '--csv', join(dir, 'test.csv'), '--json');
  assert.equal(byCsv.status, 0, describeRun(byCsv));
  assert.equal(lastJson(byCsv).testAccuracy, byFile.testAccuracy, 'eval --csv of raw pixels = eval of the MNIST files');
  assert.equal(lastJson(byCsv).testLoss, byFile.testLoss);
  const predicted = lastJson(cli('predict', '--model', json.modelPath, '--csv', join(dir, 'features.csv'), '--json')).predictions as string[];
  assert.equal(predicted.filter((p, i) => p === String(labels[i])).length / n, byFile.testAccuracy, 'predict agrees with eval');
  const usage = cli('inspect', '--model', json.modelPath, '--csv', join(dir, 'test.csv'), '--json');
  assert.equal(usage.status, 0, describeRun(usage));
  const fileUsage = lastJson(cli('inspect', '--model', json.modelPath, '--limit', String(n), '--json'));
  assert.deepEqual(lastJson(usage).layers.map((l: any) => l.leafUsage), fileUsage.layers.map((l: any) => l.leafUsage), 'inspect --csv routes as on the files');
  assert.doesNotMatch(byCsv.stderr + usage.stderr, /warning/, 'raw pixel bytes: no warning');
  // pixels scaled to [0, 1] already would be scaled twice: said, not silently scored
  const scaled = (i: number) => pixels(i).map((v) => String(v / 255));
  writeFileSync(join(dir, 'scaled.csv'), [header, ...rows.map((i) => scaled(i).join(','))].join('\n') + '\n');
  const twice = cli('predict', '--model', json.modelPath, '--csv', join(dir, 'scaled.csv'), '--json');
  assert.equal(twice.status, 0, describeRun(twice));
  assert.match(twice.stderr, /warning: every value of .*scaled\.csv lies in \[0, 1\], but the model multiplies its raw inputs by 0\.00392156\d* \(it was trained on values up to about 255, such as pixel bytes 0–255\): if these were scaled already, give the unscaled values/);
});

test('inspect reports per-layer parameters and leaf usage; --no-usage needs no data', () => {
  const { json } = mainRun();
  const r = cli('inspect', '--model', json.modelPath, '--limit', '200', '--json');
  assert.equal(r.status, 0, describeRun(r));
  const s = lastJson(r);
  assert.equal(s.usageExamples, 200);
  assert.equal(s.parameters, json.parameters);
  assert.equal(s.config.layers.length, 5);
  assert.deepEqual(s.layers.map((l: any) => [l.kind, l.parameters]), json.layers.map((l: any) => [l.kind, l.parameters]));
  const trees = s.layers.filter((l: any) => l.kind === 'tree');
  assert.equal(trees.length, 1);
  for (const t of trees) {
    assert.ok(Array.isArray(t.leafUsage));
    assert.equal(t.leafUsage.length, t.blocks);
    let zeros = 0;
    for (const block of t.leafUsage) {
      assert.equal(block.length, 2 ** t.depth);
      assert.equal(block.reduce((a: number, b: number) => a + b, 0), 200);
      zeros += block.filter((c: number) => c === 0).length;
    }
    assert.equal(zeros, t.deadLeaves, 'dead leaves are the unused leaves');
  }
  assert.match(r.stderr, /layer 2 block 0 leaf usage over 200 test examples: /);
  // a deep tree's thousands of counts are summarized (--json keeps them all)
  const deep = Array.from({ length: 128 }, (_, leaf) => (leaf % 4 === 0 ? leaf + 1 : 0));
  assert.equal(usageText(deep), '32 of 128 leaves used (25.0%); examples a used leaf: min 1, median 61, max 125; ' +
    'busiest: leaf 124 (125), leaf 120 (121), leaf 116 (117), leaf 112 (113), leaf 108 (109) (--json lists every count)');
  assert.equal(usageText(new Array<number>(128).fill(0)), '0 of 128 leaves used (0.0%) (--json lists every count)');
  assert.equal(usageText([3, 0, 2]), '3 0 2');
  // up to 64 leaves (a depth-6 tree) as they are; from 65 on, the summary
  const sixtyFour = Array.from({ length: 64 }, (_, leaf) => leaf % 3);
  assert.equal(usageText(sixtyFour), sixtyFour.join(' '));
  assert.match(usageText([...sixtyFour, 1]), /^43 of 65 leaves used \(66\.2%\)/);

  // no usage: works with no dataset at all, and shows no leaf statistics (none were measured)
  const n = cli('inspect', '--model', json.modelPath, '--no-usage', '--json');
  assert.equal(n.status, 0, describeRun(n));
  const ns = lastJson(n);
  assert.equal(ns.usageExamples, 0);
  assert.equal(ns.parameters, json.parameters);
  for (const l of ns.layers) assert.deepEqual([l.leafUsage, l.balance, l.deadLeaves], [undefined, undefined, undefined]);
  assert.doesNotMatch(n.stdout, /\b0\.000\b/, 'no balance column values');
  expectUsageError(['inspect', '--model', json.modelPath, '--no-usage', '--data-dir', tmp('no-such-data')],
    /--data-dir has no effect with --no-usage/);
});

test('report --out into a folder that does not exist yet creates the folder', () => {
  const { out } = mainRun();
  const page = join(tmp('reports'), 'a', 'run.html');
  const r = cli('report', out, '--out', page);
  assert.equal(r.status, 0, describeRun(r));
  assert.match(readFileSync(page, 'utf8'), /^<!doctype html>/i);
  // a path ending in / names a folder, as for cp: the page goes in it, under its usual name
  const folder = join(tmp('reports'), 'b');
  const inFolder = cli('report', out, '--out', `${folder}/`);
  assert.equal(inFolder.status, 0, describeRun(inFolder));
  assert.ok(statSync(folder).isDirectory(), 'a folder, not a file named b');
  assert.match(readFileSync(join(folder, 'report.html'), 'utf8'), /^<!doctype html>/i);
  assert.match(inFolder.stdout, new RegExp(`wrote ${reEscape(join(folder, 'report.html'))}`));
  // an existing folder too, without the /
  rmSync(join(folder, 'report.html'));
  const existing = cli('report', out, '--out', folder);
  assert.equal(existing.status, 0, describeRun(existing));
  assert.match(readFileSync(join(folder, 'report.html'), 'utf8'), /^<!doctype html>/i);
});

test('determinism: the same seed gives a byte-identical model file, another seed a different one', () => {
  const a = mainRun('a', 7), b = mainRun('b', 7), c = mainRun('c', 8);
  const fa = readFileSync(join(a.out, 'model.safetensors'));
  const fb = readFileSync(join(b.out, 'model.safetensors'));
  const fc = readFileSync(join(c.out, 'model.safetensors'));
  assert.ok(fa.equals(fb), 'same seed, same bytes');
  assert.equal(b.json.testAccuracy, a.json.testAccuracy);
  assert.equal(fc.length, fa.length);
  assert.ok(!fa.equals(fc), 'different seed, different weights');
  // metrics agree except for the timings
  const strip = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n')
    .map((l) => ({ ...JSON.parse(l), seconds: 0 }));
  assert.deepEqual(strip(b.out), strip(a.out));
});

test('--schedule, --momentum and --weight-decay reach the optimizer: the logged rates follow the schedule; another momentum or decay, another model', () => {
  const tiny = ['train', '--dataset', 'memorization', '--examples', '200', '--input-size', '8', '--classes', '3', '--hidden', '16', '--depth', '2',
    '--epochs', '2', '--batch-size', '20', '--lr', '0.01', '--log-every', '1', '--no-progress'];
  const run = (...extra: string[]): string => {
    const out = tmp('optimizer-options');
    const r = cli(...tiny, ...extra, '--out', out);
    assert.equal(r.status, 0, describeRun(r));
    return out;
  };
  const rates = (out: string): number[] => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
    .filter((m) => m.type === 'step').map((m) => m.lr as number);
  const model = (out: string) => readFileSync(join(out, 'model.safetensors'));
  // 20 steps, each logged
  const constant = rates(run('--schedule', 'constant'));
  assert.deepEqual(constant, Array(20).fill(0.01), '--schedule constant: every step at --lr');
  const cosineOut = run();
  const cosine = rates(cosineOut);
  assert.equal(cosine.length, 20);
  assert.equal(cosine[0], 0.01, 'cosine (the default): the first step at --lr');
  assert.ok(cosine.every((lr, i) => i === 0 || (lr < cosine[i - 1] && lr > 0)), `cosine: falling to the last step: ${cosine}`);
  const sgd = model(run('--optimizer', 'sgd'));
  assert.ok(!model(run('--optimizer', 'sgd', '--momentum', '0.5')).equals(sgd), '--momentum 0.5 trains another model than the default 0.9');
  assert.ok(!model(run('--weight-decay', '0.01')).equals(model(cosineOut)), '--weight-decay trains another model than none');
});

test('--seed reaches the data order: the first epoch is shuffled by the third fork of the seed\'s Rng (data, weights, then order)', () => {
  for (const seed of [5, 6]) {
    const out = tmp(`order-${seed}`);
    const r = cli('train', '--dataset', 'memorization', '--examples', '200', '--input-size', '8', '--classes', '3', '--hidden', 'none',
      '--tree-layers', '1', '--depth', '1', '--epochs', '1', '--batch-size', '100', '--checkpoint-every', '1', '--no-progress', '--seed', String(seed), '--out', out);
    assert.equal(r.status, 0, describeRun(r));
    const path = join(out, 'checkpoints', 'step-000000001.safetensors');
    const { progress } = decodeCheckpoint(readFileSync(path), path).run;
    assert.equal(progress.epoch, 1);
    const rng = new Rng(seed);
    rng.fork(); // the data
    rng.fork(); // the initial weights
    assert.deepEqual(progress.epochRng, rng.fork().getState(), `seed ${seed}: the data order's rng`);
  }
});

// ---------------------------------------------------------------- tree-layer arithmetic

/** (2^(k+1) − 1)·(m·n + m) weights and biases; projection gating adds its fixed gate weights and biases, k·n + k. */
function treeNumbers(k: number, n: number, m: number, gating: 'units' | 'projection') {
  const gate = gating === 'projection' ? k * n : 0;
  return {
    parameters: (2 ** (k + 1) - 1) * (m * n + m) + (gating === 'projection' ? k * n + k : 0),
    training: (k + 1) * m * n + gate,
    inference: m * n + gate,
  };
}

function checkTreeLayer(l: Record<string, any>, k: number, n: number, m: number, gating: 'units' | 'projection'): void {
  const want = treeNumbers(k, n, m, gating);
  assert.deepEqual([l.kind, l.depth, l.blocks, l.gating, l.inputSize, l.outputSize], ['tree', k, 1, gating, n, m]);
  assert.equal(l.parameters, want.parameters, `layer ${l.index} parameters`);
  assert.deepEqual(l.macsPerExample, { training: want.training, inference: want.inference }, `layer ${l.index} MACs`);
}

test('tree-layer parameters and MACs in the JSON: projection gating (the main run)', () => {
  const { json } = mainRun();
  checkTreeLayer(json.layers[1], 3, 32, 32, 'projection');
  assert.equal(json.layers[1].parameters, 15 * (32 * 32 + 32) + 3 * 32 + 3);
  assert.deepEqual(json.layers[1].macsPerExample, { training: 4 * 32 * 32 + 3 * 32, inference: 32 * 32 + 3 * 32 });
});

test('tree-layer parameters and MACs in the JSON: units gating, two tree layers', () => {
  const out = tmp('units');
  const r = cli('train', '--limit', '300', '--epochs', '1', '--hidden', '16', '--tree-layers', '1,2', '--depth', '2',
    '--gating', 'units', '--out', out, '--json', '--seed', '3');
  assert.equal(r.status, 0, describeRun(r));
  const json = lastJson(r);
  assert.equal(json.layers.length, 2);
  checkTreeLayer(json.layers[0], 2, 784, 16, 'units');
  checkTreeLayer(json.layers[1], 2, 16, 10, 'units');
  assert.equal(json.layers[0].parameters, 7 * (784 * 16 + 16));
  assert.deepEqual(json.layers[1].macsPerExample, { training: 3 * 16 * 10, inference: 16 * 10 });
  assert.equal(json.parameters, 7 * (784 * 16 + 16) + 7 * (16 * 10 + 10));
  assert.equal(json.macsPerExample.inference, 784 * 16 + 16 * 10);
  assert.equal(json.capacityToComputation.inference, json.parameters / json.macsPerExample.inference);
  // layers are numbered as --tree-layers numbers them (linear layers from 1), in the epoch lines and the table
  assert.match(r.stderr, /epoch 1\/1: .*, layer 1 balance [\d.]+ dead \d+, layer 2 balance /);
  assert.match(r.stderr, /^1 +tree +784→16/m);
  assert.deepEqual(JSON.parse(r.stdout), json, 'under --json stdout holds the JSON object alone; the lines for people go to stderr');
  // the saved model's gating units are recorded in its config
  const i = cli('inspect', '--model', json.modelPath, '--no-usage', '--json');
  assert.equal(i.status, 0, describeRun(i));
  const cfg = lastJson(i).config;
  for (const l of cfg.layers.filter((c: any) => c.kind === 'tree')) {
    assert.equal(l.gateUnits.length, 2);
  }
});


test('without the native addon, train falls back to the wasm backend and says so in one line', () => {
  const r = cliEnv({ TREEGATE_NATIVE: 'off' }, 'train', '--limit', '600', '--epochs', '1', '--hidden', '16', '--depth', '2',
    '--out', tmp('fallback'), '--json', '--no-progress');
  assert.equal(r.status, 0, describeRun(r));
  const lines = r.stderr.split('\n').filter((l) => /backend unavailable/.test(l));
  assert.equal(lines.length, 1, describeRun(r));
  assert.match(lines[0], /native backend unavailable \(disabled by TREEGATE_NATIVE=off\); using the wasm backend/);
  assert.equal(lastJson(r).backend, 'wasm');
});

test('--backend js and --backend wasm give the same accuracy within float32 rounding; an unknown backend exits 2', () => {
  const common = ['train', '--limit', '600', '--epochs', '1', '--hidden', '16', '--depth', '2', '--json', '--no-progress', '--seed', '3'];
  const js = cli(...common, '--backend', 'js', '--out', tmp('be-js'));
  const wasm = cli(...common, '--backend', 'wasm', '--out', tmp('be-wasm'));
  assert.equal(js.status, 0, describeRun(js));
  assert.equal(wasm.status, 0, describeRun(wasm));
  assert.equal(lastJson(js).backend, 'js');
  assert.equal(lastJson(wasm).backend, 'wasm');
  assert.ok(Math.abs(lastJson(js).testAccuracy - lastJson(wasm).testAccuracy) < 0.03,
    `js ${lastJson(js).testAccuracy} vs wasm ${lastJson(wasm).testAccuracy}`);
  expectUsageError(['train', '--backend', 'gpu'], /--backend/);
});

test('--threads 1 and --threads 2 train the same model bit for bit; more threads than cores, or another backend, say so in one line', { skip: nativeSkip }, () => {
  // the default widths: products large enough to run on both threads (a 16-wide model never leaves one)
  const common = ['train', '--limit', '1000', '--epochs', '1', '--json', '--no-progress', '--seed', '4'];
  const one = cli(...common, '--threads', '1', '--out', tmp('thr-1'));
  const two = cli(...common, '--threads', '2', '--out', tmp('thr-2'));
  assert.equal(one.status, 0, describeRun(one));
  assert.equal(two.status, 0, describeRun(two));
  assert.equal(lastJson(one).threads, 1);
  assert.equal(lastJson(two).threads, Math.min(2, maxThreads));
  assert.deepEqual(readFileSync(lastJson(one).modelPath), readFileSync(lastJson(two).modelPath));
  const many = cli(...common, '--threads', '64', '--out', tmp('thr-64'));
  assert.equal(many.status, 0, describeRun(many));
  assert.equal(lastJson(many).threads, maxThreads);
  if (maxThreads < 64) assert.match(many.stderr, new RegExp(`--threads 64: this process may run the native kernels on at most ${maxThreads} thread${maxThreads > 1 ? 's' : ''} \\(`));
  expectUsageError(['train', '--threads', '0'], /--threads/);
  expectUsageError(['train', '--threads', 'two'], /--threads/);
});

test('the wasm backend: --threads 1 and --threads 2 train the same model bit for bit; js refuses more than one', () => {
  const common = ['train', '--limit', '1000', '--epochs', '1', '--json', '--no-progress', '--seed', '4', '--backend', 'wasm'];
  const one = cli(...common, '--threads', '1', '--out', tmp('wthr-1'));
  const two = cli(...common, '--threads', '2', '--out', tmp('wthr-2'));
  assert.equal(one.status, 0, describeRun(one));
  assert.equal(two.status, 0, describeRun(two));
  assert.equal(lastJson(one).threads, 1);
  assert.equal(lastJson(two).threads, Math.min(2, usableCores()));
  assert.deepEqual(readFileSync(lastJson(one).modelPath), readFileSync(lastJson(two).modelPath));
  expectUsageError(['train', '--limit', '300', '--epochs', '1', '--threads', '2', '--backend', 'js', '--out', tmp('thr-js')],
    /--threads 2 has no effect with --backend js, which runs on one thread \(drop --threads, or choose --backend native or wasm\)/);
  const js = cli('train', '--limit', '300', '--epochs', '1', '--json', '--no-progress', '--threads', '1', '--backend', 'js', '--out', tmp('thr-js'));
  assert.equal(js.status, 0, describeRun(js));
  assert.equal(lastJson(js).threads, 1);
});

// ---------------------------------------------------------------- baselines and other datasets

test('train --layer flat / moe: the routed layer kinds end to end, and eval agrees', () => {
  for (const [layer, extra] of [['flat', []], ['moe', ['--top-k', '2']]] as const) {
    const out = tmp(`train-${layer}`);
    const r = cli('train', '--limit', '1500', '--epochs', '3', '--hidden', '32,32', '--depth', '2', '--layer', layer, ...extra, '--out', out, '--json');
    assert.equal(r.status, 0, describeRun(r));
    const json = lastJson(r);
    const routed = (json.layers as Array<Record<string, any>>)[1];
    assert.equal(routed.kind, layer);
    if (layer === 'moe') assert.deepEqual([routed.experts, routed.topK], [4, 2]);
    else assert.equal(routed.depth, 2);
    assert.ok(routed.balance > 0 && routed.balance <= 1);
    assert.ok(json.testAccuracy > 0.25, `${layer}: ${json.testAccuracy} well above chance (0.1)`);
    const e = cli('eval', '--model', json.modelPath, '--limit', '1500', '--json');
    assert.equal(e.status, 0, describeRun(e));
    assert.equal(lastJson(e).testAccuracy, json.testAccuracy);
    const i = cli('inspect', '--model', json.modelPath, '--limit', '100');
    assert.equal(i.status, 0, describeRun(i));
    if (layer === 'moe') assert.match(i.stdout, /layer 2 expert usage over 100 test examples \(each at its 2 experts\): /);
    else assert.match(i.stdout, /layer 2 block 0 leaf usage over 100 test examples: /);
  }
});

test('train warns where its training examples lack a class (a file sorted by class, cut by --limit), the first class as any other', () => {
  const dir = tmp('csv-classes');
  mkdirSync(dir);
  // the class missing from the first 60 lines: the last of the sorted classes, then the first (class 0)
  for (const [last, classes] of [['emu', ['cat', 'dog', 'emu']], ['ant', ['ant', 'cat', 'dog']]] as const) {
    const rows = Array.from({ length: 150 }, (_, i) => `${Math.sin(i)},${Math.cos(i)},${i < 100 ? ['cat', 'dog'][i % 2] : last}`);
    writeFileSync(join(dir, `${last}.csv`), 'a,b,label\n' + rows.join('\n') + '\n');
    const r = cli('train', '--dataset', 'csv', '--csv', join(dir, `${last}.csv`), '--limit', '60', '--hidden', '8', '--depth', '1', '--epochs', '1',
      '--out', join(dir, `run-${last}`), '--json');
    assert.equal(r.status, 0, describeRun(r));
    assert.match(r.stderr, new RegExp(`warning: the training examples hold 2 of the 3 classes \\(none of "${last}"\\): the model will never predict it; --limit keeps the first examples of the file`));
    assert.deepEqual(lastJson(r).classes, classes);
  }
});

test('train --dataset memorization reports the fitted fraction; --dataset csv trains on a file and eval takes --csv', () => {
  const m = cli('train', '--dataset', 'memorization', '--examples', '300', '--input-size', '8', '--classes', '3', '--hidden', '16',
    '--depth', '2', '--epochs', '2', '--out', tmp('mem'), '--json');
  assert.equal(m.status, 0, describeRun(m));
  assert.match(m.stderr, /fitted \d+\.\d+% of the 300 random labels/);
  assert.equal(lastJson(m).dataset, 'memorization');
  // the dense MLP of as many parameters as that tree model: its hidden width scaled up, every layer dense
  const d = cli('train', '--dataset', 'memorization', '--examples', '300', '--input-size', '8', '--classes', '3', '--hidden', '16',
    '--depth', '2', '--epochs', '2', '--dense-equal-params', '--out', tmp('mem-dense'), '--json');
  assert.equal(d.status, 0, describeRun(d));
  assert.match(d.stderr, /dense of equal parameters: hidden (\d+), /);
  const widened = lastJson(d);
  assert.ok(widened.layers.every((l: { kind: string }) => l.kind === 'dense'), 'no routed layer');
  assert.deepEqual([widened.denseEqualParams, widened.limit, widened.splits], [true, undefined, { training: 300, validation: 0, test: 300 }]);
  assert.ok(widened.parameters >= lastJson(m).parameters && widened.parameters < lastJson(m).parameters * 1.05,
    `${widened.parameters} parameters for the tree model's ${lastJson(m).parameters}`);
  const e = cli('eval', '--model', lastJson(m).modelPath);
  assert.equal(e.status, 2, describeRun(e));
  assert.match(e.stderr, /memorization task, which has no test set/);
  // inspect shows such a model without its leaf usage, and says why
  const i = cli('inspect', '--model', lastJson(m).modelPath, '--json');
  assert.equal(i.status, 0, describeRun(i));
  assert.match(i.stderr, /leaf usage not measured: .* memorization task, which has no test set to load/);
  assert.equal(lastJson(i).usageExamples, 0);
  expectUsageError(['inspect', '--model', lastJson(m).modelPath, '--limit', '5'], /--limit has no effect without a test set/);

  const dir = tmp('csv');
  mkdirSync(dir);
  const rng = (i: number) => Math.sin(i * 12.9898) * 0.5;
  const rows = Array.from({ length: 240 }, (_, i) => { const a = rng(i), b = rng(i + 1000); return `${a},${b},${a > b ? 'hi' : 'lo'}`; });
  writeFileSync(join(dir, 'train.csv'), 'a,b,kind\n' + rows.join('\n') + '\n');
  writeFileSync(join(dir, 'test.csv'), rows.slice(0, 40).join('\n') + '\n');
  const c = cli('train', '--dataset', 'csv', '--csv', join(dir, 'train.csv'), '--hidden', '8', '--depth', '1', '--epochs', '3',
    '--out', join(dir, 'run'), '--json');
  assert.equal(c.status, 0, describeRun(c));
  assert.match(c.stderr, /training on 183 csv examples \(17 held out for validation\)/);
  // (40 test examples: the small test set's warning, no other)
  assert.deepEqual(c.stderr.match(/warning: .*/g), ['warning: the test set holds 40 examples (a sixth of the file, held out): each is 2.5 points of test accuracy, so models a few points apart may differ by chance']);
  const heldOut = join(dir, 'run', 'heldout-test.csv');
  assert.deepEqual([lastJson(c).csv, lastJson(c).testCsv, lastJson(c).classes], [join(dir, 'train.csv'), heldOut, ['hi', 'lo']]);
  const model = lastJson(c).modelPath;
  // the held-out examples, written beside the model, score the test accuracy train printed
  const rescored = cli('eval', '--model', model, '--csv', heldOut, '--json');
  assert.equal(rescored.status, 0, describeRun(rescored));
  assert.deepEqual([lastJson(rescored).testAccuracy, lastJson(rescored).testLoss, lastJson(rescored).examples], [lastJson(c).testAccuracy, lastJson(c).testLoss, 40]);
  assert.equal(readFileSync(heldOut, 'utf8').split('\n')[0], 'a,b,kind', 'the header of the training file, its label column named as there');
  // a run does not write over its own data; one with a test file removes an earlier run's held-out examples
  expectUsageError(['train', '--dataset', 'csv', '--csv', heldOut, '--out', join(dir, 'run')],
    /--csv .*heldout-test\.csv is .*heldout-test\.csv, which this run writes: training would replace its own data/);
  mkdirSync(join(dir, 'rerun'));
  writeFileSync(join(dir, 'rerun', 'heldout-test.csv'), readFileSync(heldOut));
  writeFileSync(join(dir, 'rerun', 'report.html'), '<!doctype html>\n');
  // a heldout-test.csv that no run there wrote (no result.json names it) is neither removed nor replaced
  const userFile = 'id,score\n1,important\n';
  writeFileSync(join(dir, 'rerun', 'heldout-test.csv'), userFile);
  for (const args of [['--test-csv', join(dir, 'test.csv')], []]) {
    expectUsageError(['train', '--csv', join(dir, 'train.csv'), ...args, '--out', join(dir, 'rerun')],
      new RegExp(`holds heldout-test\\.csv, which no result\\.json there names as its run's test file: training would ${args.length ? 'remove' : 'replace'} it \\(choose another --out, or move that file away`));
  }
  assert.equal(readFileSync(join(dir, 'rerun', 'heldout-test.csv'), 'utf8'), userFile);
  // the earlier run's own (its result.json names it) is
  writeFileSync(join(dir, 'rerun', 'heldout-test.csv'), readFileSync(heldOut));
  writeFileSync(join(dir, 'rerun', 'result.json'), readFileSync(join(dir, 'run', 'result.json')));
  const rerun = cli('train', '--dataset', 'csv', '--csv', join(dir, 'train.csv'), '--test-csv', join(dir, 'test.csv'), '--hidden', '8', '--depth', '1',
    '--epochs', '1', '--out', join(dir, 'rerun'));
  assert.equal(rerun.status, 0, describeRun(rerun));
  assert.match(rerun.stderr, /removed .*heldout-test\.csv, an earlier run's held-out examples \(this run tests on .*test\.csv\)/);
  assert.ok(!existsSync(join(dir, 'rerun', 'heldout-test.csv')));
  assert.match(rerun.stderr, /report\.html was drawn before this run's files: treegate report .*rerun redraws it/);
  const ev = cli('eval', '--model', model, '--csv', join(dir, 'test.csv'), '--json');
  assert.equal(ev.status, 0, describeRun(ev));
  assert.equal(lastJson(ev).examples, 40);
  writeFileSync(join(dir, 'bad.csv'), '1,2,hi\n3,oops,lo\n');
  expectUsageError(['eval', '--model', model, '--csv', join(dir, 'bad.csv')], /bad\.csv:2, column 2: 'oops' is not a finite number/);
  writeFileSync(join(dir, 'unknown.csv'), '1,2,mid\n');
  expectUsageError(['eval', '--model', model, '--csv', join(dir, 'unknown.csv')], /the label 'mid' is not one of the model's classes/);
  // predict: features alone in, one class per line out; on the test file's features it agrees with eval's accuracy
  const test40 = rows.slice(0, 40);
  writeFileSync(join(dir, 'features.csv'), 'a,b\n' + test40.map((r) => r.split(',').slice(0, 2).join(',')).join('\n') + '\n');
  const pr = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--probabilities');
  assert.equal(pr.status, 0, describeRun(pr));
  const lines = pr.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'label,hi,lo');
  assert.equal(lines.length, 41);
  let agree = 0;
  lines.slice(1).forEach((l, i) => {
    const [label, ...p] = l.split(',');
    assert.ok(label === 'hi' || label === 'lo', l);
    assert.ok(Math.abs(Number(p[0]) + Number(p[1]) - 1) < 1e-5 && Number(p[label === 'hi' ? 0 : 1]) >= 0.5, l);
    if (label === test40[i].split(',')[2]) agree++;
  });
  assert.equal(agree / 40, lastJson(ev).testAccuracy, 'predict and eval classify alike');
  assert.match(pr.stderr, /predicted 40 examples of .*features\.csv: /);
  // - reads standard input, for predict and eval alike
  const piped = cliStdin(readFileSync(join(dir, 'features.csv'), 'utf8'), 'predict', '--model', model, '--csv', '-', '--probabilities');
  assert.equal(piped.status, 0, describeRun(piped));
  assert.equal(piped.stdout, pr.stdout);
  assert.match(piped.stderr, /predicted 40 examples of standard input: /);
  // --out DIR/ (a path ending in /) writes DIR/predictions.csv, the folder made
  const outFolder = join(dir, 'predicted');
  const inFolder = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--probabilities', '--out', `${outFolder}/`);
  assert.equal(inFolder.status, 0, describeRun(inFolder));
  assert.equal(readFileSync(join(outFolder, 'predictions.csv'), 'utf8'), pr.stdout);
  // --out - is standard output too; train reads no standard input (a resumed run reads its files again)
  const dashOut = cliStdin(readFileSync(join(dir, 'features.csv'), 'utf8'), 'predict', '--model', model, '--csv', '-', '--probabilities', '--out', '-');
  assert.equal(dashOut.stdout, pr.stdout, describeRun(dashOut));
  assert.equal(existsSync('-'), false, 'no file named -');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', '-', '--json'], /--out - and --json both write to standard output/);
  expectUsageError(['train', '--dataset', 'csv', '--csv', '-', '--out', tmp('never')], /--csv - \(standard input\) is not read by train: a run reads its data again to resume/);
  // a pipe of the shell's (<(command), /dev/fd/N) reads as standard input does; train refuses it alike
  const viaShell = (args: string) => spawnSync('bash', ['-c', `${[process.execPath, ...CLI_ARGS].map(shellWord).join(' ')} ${args}`],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const sub = viaShell(`predict --model '${model}' --csv <(cat '${join(dir, 'features.csv')}') --probabilities`);
  assert.equal(sub.status, 0, sub.stderr);
  assert.equal(sub.stdout, pr.stdout);
  const subTrain = viaShell(`train --dataset csv --csv <(cat '${join(dir, 'features.csv')}') --out '${tmp('never')}'`);
  assert.equal(subTrain.status, 2, subTrain.stderr);
  assert.match(subTrain.stderr, /^treegate: error: --csv \/dev\/fd\/\d+ \(a pipe or device\) is not read by train: a run reads its data again to resume/);
  const evPiped = cliStdin(readFileSync(join(dir, 'test.csv'), 'utf8'), 'eval', '--model', model, '--csv', '-', '--json');
  assert.equal(evPiped.status, 0, describeRun(evPiped));
  assert.equal(lastJson(evPiped).testAccuracy, lastJson(ev).testAccuracy);
  const bad = cliStdin('1,x\n', 'predict', '--model', model, '--csv', '-');
  assert.equal(bad.status, 2, describeRun(bad));
  assert.match(bad.stderr, /standard input:1, column 2: 'x' is not a number/);
  // a predict that fails leaves none of the folders its --out made, as train does
  const made = join(dir, 'made');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'bad.csv'), '--out', join(made, 'sub', 'p.csv')], /bad\.csv/);
  assert.ok(!existsSync(made), 'the folders predict made are gone');
  const pj = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--json', '--out', join(dir, 'pred.csv'));
  assert.equal(pj.status, 0, describeRun(pj));
  assert.deepEqual(lastJson(pj).predictions, lines.slice(1).map((l) => l.split(',')[0]));
  assert.equal(readFileSync(join(dir, 'pred.csv'), 'utf8').split('\n')[0], 'label');
  // predictions replace predictions (with or without probabilities), and nothing else
  const again = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--probabilities', '--out', join(dir, 'pred.csv'));
  assert.equal(again.status, 0, describeRun(again));
  assert.equal(readFileSync(join(dir, 'pred.csv'), 'utf8').split('\n')[0], 'label,hi,lo');
  // through a symbolic link: the file it names is replaced and the link stays; a device is written to, not replaced
  symlinkSync('pred.csv', join(dir, 'pred-link.csv'));
  const linked = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', join(dir, 'pred-link.csv'));
  assert.equal(linked.status, 0, describeRun(linked));
  assert.ok(lstatSync(join(dir, 'pred-link.csv')).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'pred.csv'), 'utf8').split('\n')[0], 'label');
  const discarded = cli('predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', '/dev/null');
  assert.equal(discarded.status, 0, describeRun(discarded));
  assert.match(discarded.stdout, /wrote \/dev\/null/);
  assert.ok(statSync('/dev/null').isCharacterDevice());
  // --out /dev/stdout is standard output, whether a pipe or the shell's file (which a rename would have replaced)
  const stdoutFile = join(dir, 'stdout.txt'), fd = openSync(stdoutFile, 'w');
  const toFile = spawnSync(process.execPath, [...CLI_ARGS, 'predict', '--model', model, '--csv', join(dir, 'features.csv'),
    '--out', '/dev/stdout'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  assert.equal(toFile.status, 0, toFile.stderr);
  assert.equal(readFileSync(stdoutFile, 'utf8'), readFileSync(join(dir, 'pred.csv'), 'utf8'));
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', '/dev/stdout', '--json'],
    /--out \/dev\/stdout and --json both write to standard output/);
  // class names past ASCII: the header is compared as the bytes it takes
  writeFileSync(join(dir, 'animals.csv'), rows.map((r) => r.replace(/hi$/, '猫').replace(/lo$/, 'éléphant')).join('\n') + '\n');
  const animals = cli('train', '--dataset', 'csv', '--csv', join(dir, 'animals.csv'), '--hidden', '4', '--depth', '1', '--epochs', '1', '--out', join(dir, 'animals'), '--json');
  assert.equal(animals.status, 0, describeRun(animals));
  for (let i = 0; i < 2; i++) {
    const p = cli('predict', '--model', lastJson(animals).modelPath, '--csv', join(dir, 'features.csv'), '--probabilities', '--out', join(dir, 'animals.out.csv'));
    assert.equal(p.status, 0, `run ${i + 1}: ${describeRun(p)}`);
  }
  writeFileSync(join(dir, 'notes.csv'), 'keep,me\n');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', join(dir, 'notes.csv')],
    /--out .*notes\.csv exists and does not hold this model's predictions \(its first line is not 'label' or 'label,hi,lo'\): writing would replace it/);
  assert.equal(readFileSync(join(dir, 'notes.csv'), 'utf8'), 'keep,me\n');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', join(dir, 'features.csv')], /--out .*features\.csv is the input file/);
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'features.csv'), '--out', model], /--out .*model\.safetensors is the model file/);
  // a labelled file (its labels in the model's label column, each one of its classes) has that column left out, with a
  // warning: its predictions are those of its features alone
  writeFileSync(join(dir, 'test-features.csv'), rows.slice(0, 40).map((r) => r.replace(/,[^,]*$/, '')).join('\n') + '\n');
  const labelled = cli('predict', '--model', model, '--csv', join(dir, 'test.csv')), alone = cli('predict', '--model', model, '--csv', join(dir, 'test-features.csv'));
  assert.equal(labelled.status, 0, describeRun(labelled));
  assert.equal(labelled.stdout, alone.stdout);
  assert.match(labelled.stderr, /warning: .*test\.csv: column 3 holds the model's classes, a label column: it is left out \(treegate eval measures accuracy on a labelled file\)/);
  assert.doesNotMatch(alone.stderr, /label column/);
  // … and one whose third column holds no class is refused as before
  writeFileSync(join(dir, 'third.csv'), rows.slice(0, 4).map((r) => r.replace(/[^,]*$/, '7')).join('\n') + '\n');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'third.csv')], /third\.csv:1: lines have 3 cells, and the model takes 2 features \(one column too many: if it holds the labels, name its column with predict's or eval's --label-column N \(predict leaves it out; eval measures accuracy on a labelled file\), or remove it\)/);
  writeFileSync(join(dir, 'extra.csv'), 'label,a,b\nhi,1,2\n');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'extra.csv')], /column 1 \('label'\) is not one of the model's features \('a', 'b'\): remove it/);
  // the header's names are recorded, and a test file whose columns are named otherwise is refused
  assert.deepEqual(JSON.parse(cli('inspect', '--model', model, '--no-usage', '--json').stdout.trim().split('\n').pop()!).config.data.features, ['a', 'b']);
  writeFileSync(join(dir, 'swapped.csv'), 'b,a,label\n' + rows.slice(0, 4).join('\n') + '\n');
  expectUsageError(['eval', '--model', model, '--csv', join(dir, 'swapped.csv')], /swapped\.csv:1: feature column 1 is named 'b', the training file's is 'a'/);
  // (features alone, for predict: the model's feature columns, no label column to place)
  writeFileSync(join(dir, 'swapped-features.csv'), 'b,a\n1,2\n');
  expectUsageError(['predict', '--model', model, '--csv', join(dir, 'swapped-features.csv')],
    /feature column 1 is named 'b', the training file's is 'a' \(columns are matched by position: give the file the model's feature columns in their order \('a', 'b'\)\)$/m);
  // features alone (no label column): the error says so
  writeFileSync(join(dir, 'unlabelled.csv'), rows.slice(0, 4).map((r) => r.split(',').slice(0, 2).join(',')).join('\n') + '\n');
  expectUsageError(['eval', '--model', model, '--csv', join(dir, 'unlabelled.csv')], /lines have 2 cells, and the model takes 2 features and a label \(each line needs its label too/);
  // columns of very different scales are standardized apart: a label that depends on the 1e-6-scale column alone,
  // beside a 1e6-scale one, is learnt (one mean and std for all columns would leave that column near 0 for every row)
  const r = new Rng(5);
  writeFileSync(join(dir, 'scaled.csv'), 'a,b,label\n' + Array.from({ length: 240 }, () => {
    const a = r.normal(), b = r.normal();
    return `${a * 1e-6},${b * 1e6},${a > 0 ? 'hi' : 'lo'}`;
  }).join('\n') + '\n');
  const sc = cli('train', '--dataset', 'csv', '--csv', join(dir, 'scaled.csv'), '--hidden', '8', '--depth', '1', '--epochs', '10', '--lr', '0.01',
    '--out', join(dir, 'scaled'), '--json');
  assert.equal(sc.status, 0, describeRun(sc));
  assert.ok(lastJson(sc).testAccuracy >= 0.9, `test accuracy ${lastJson(sc).testAccuracy}`);
  expectUsageError(['train', '--dataset', 'csv', '--out', tmp('x')], /--dataset csv needs a training file \(pass it with --csv FILE/);
  expectUsageError(['train', '--dataset', 'memorization', '--validation', '100', '--out', tmp('x')], /--dataset memorization has no validation split .*\(drop --validation\)/);
  expectUsageError(['train', '--dataset', 'mnist', '--csv', join(dir, 'train.csv'), '--out', tmp('x')], /--csv and --test-csv are files of --dataset csv, not of --dataset mnist \(drop --dataset/);
  // without --dataset, a --csv file is the data
  const implied = cli('train', '--csv', join(dir, 'scaled.csv'), '--hidden', '4', '--depth', '1', '--epochs', '1', '--out', join(dir, 'implied'), '--json');
  assert.equal(implied.status, 0, describeRun(implied));
  assert.equal(JSON.parse(readFileSync(join(dir, 'implied', 'result.json'), 'utf8')).dataset, 'csv');
  expectUsageError(['train', '--dataset', 'csv', '--csv', join(dir, 'bad.csv'), '--out', tmp('x')], /'oops' is not a finite number/);
});

test("a heldout-test.csv is not a run's own where its result.json names another folder's as the test file: refused, not touched", () => {
  const dir = tmp('heldout-other');
  mkdirSync(dir);
  const rows = Array.from({ length: 120 }, (_, i) => { const a = Math.sin(i * 12.9898), b = Math.sin(i * 78.233); return `${a},${b},${a > b ? 'hi' : 'lo'}`; });
  writeFileSync(join(dir, 'train.csv'), 'a,b,kind\n' + rows.join('\n') + '\n');
  const train = ['train', '--csv', join(dir, 'train.csv'), '--hidden', '8', '--depth', '1', '--epochs', '1'];
  // run A holds out its test examples; run B tests on A's file: B's result.json names A's heldout-test.csv
  const a = cli(...train, '--out', join(dir, 'a'));
  assert.equal(a.status, 0, describeRun(a));
  const aHeldOut = join(dir, 'a', 'heldout-test.csv');
  const b = cli(...train, '--test-csv', aHeldOut, '--out', join(dir, 'b'), '--json');
  assert.equal(b.status, 0, describeRun(b));
  assert.deepEqual([lastJson(b).testCsv, lastJson(b).modelPath], [aHeldOut, join(dir, 'b', 'model.safetensors')]);
  // someone's own heldout-test.csv in B: no result.json there names it (B's names A's), so a run in B neither replaces nor removes it
  const userFile = 'id,score\n1,important\n';
  writeFileSync(join(dir, 'b', 'heldout-test.csv'), userFile);
  for (const args of [[], ['--test-csv', aHeldOut]]) {
    expectUsageError([...train, ...args, '--out', join(dir, 'b')],
      new RegExp(`holds heldout-test\\.csv, which no result\\.json there names as its run's test file: training would ${args.length ? 'remove' : 'replace'} it`));
  }
  assert.equal(readFileSync(join(dir, 'b', 'heldout-test.csv'), 'utf8'), userFile);
  assert.ok(existsSync(aHeldOut), "A's held-out examples are A's");
});

test('train --csv: a file whose default epochs make fewer steps than the default MNIST run is warned of, with the epochs that make as many; given epochs are not', () => {
  // 300 rows: 50 held out for the test, 21 of the rest for validation, 229 to train on, 4 steps of 64 an epoch
  const csv = blobsCsv(join(tmp('short-run'), 'blobs.csv')), small = ['--hidden', '8', '--depth', '1', '--label-column', '1'];
  const r = cli('train', '--csv', csv, ...small, '--out', tmp('short-run-out'));
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, /^treegate: warning: 5 epochs of 229 training examples are 20 steps of 64, where the default run on MNIST takes 4,300: the model may stop far from fitted \(see whether its training loss still falls at the last epochs\); --epochs 1075 makes as many steps$/m);
  const given = cli('train', '--csv', csv, ...small, '--epochs', '5', '--out', tmp('short-run-given'));
  assert.equal(given.status, 0, describeRun(given));
  assert.doesNotMatch(given.stderr, /steps of 64/);
  // at the run's batch size (MNIST's default run: 5 epochs of 215 steps of 256); MNIST itself, and files as large, not
  assert.match(shortRunWarning('csv', 5, 256, 229, false, 5)!, /^5 epochs of 229 training examples are 5 steps of 256, where the default run on MNIST takes 1,075: .*--epochs 1075 makes/);
  assert.equal(shortRunWarning('csv', 5, 64, 55_000, false, 5), null);
  assert.match(shortRunWarning('csv', 5, 64, 54_937, false, 5)!, /are 4,295 steps of 64, .* takes 4,300: .*--epochs 6 makes/);
  assert.equal(shortRunWarning('mnist', 5, 64, 1000, false, 5), null);
  assert.equal(shortRunWarning('csv', 5, 64, 229, true, 5), null);
});

test('train warns of a routed layer that sent its test examples to few of its leaves, past what so few examples leave unused by chance', () => {
  // an iris-like file (4 features of 3 tight clusters): fixed projections of its hidden units take few sign patterns
  const dir = tmp('few-leaves'), r = new Rng(3), means = [[5, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3, 5.6, 2]];
  mkdirSync(dir);
  const rows = means.flatMap((m, c) => Array.from({ length: 50 }, () => `${m.map((v) => (v + 0.3 * r.normal()).toFixed(1)).join(',')},c${c}`));
  writeFileSync(join(dir, 'iris.csv'), `a,b,c,d,species\n${rows.join('\n')}\n`);
  const run = cli('train', '--csv', join(dir, 'iris.csv'), '--out', join(dir, 'run'));
  assert.equal(run.status, 0, describeRun(run));
  assert.match(run.stderr, /^treegate: warning: layer 2 sent its 25 test examples to few of its leaves: (9|1[0-6]) of 16 got none \(balance 0\.\d+\), so their weights add nothing; --gating units chooses the bits/m);
  const tree = (usage: number[][], leaves = usage[0].length) => ({
    layer: 2, kind: 'tree' as const, leaves, blocks: usage.length, usage,
    deadLeaves: usage.flat().filter((u) => u === 0).length, balance: 0.2,
  });
  const few = [11, 4, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  assert.equal(unusedLeavesWarnings([tree([few])], 'test').length, 1, '13 of 16 unused, where 25 examples leave 3.2 unused at random');
  assert.deepEqual(unusedLeavesWarnings([tree([few.map((u) => u * 400)])], 'test').length, 1);
  // half the leaves unused, not more; 9 of 16 but a count that leaves as many unused at random; none counted
  assert.deepEqual(unusedLeavesWarnings([tree([[...Array(8).fill(1000), ...Array(8).fill(0)]])], 'test'), []);
  assert.deepEqual(unusedLeavesWarnings([tree([[1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]])], 'test'), [], '7 examples for 16 leaves');
  assert.deepEqual(unusedLeavesWarnings([tree([Array(16).fill(0)])], 'test'), []);
  // two blocks: each block's examples count for its leaves
  assert.equal(unusedLeavesWarnings([tree([few, few])], 'test').length, 1);
  assert.match(unusedLeavesWarnings([{ ...tree([few]), kind: 'moe' }], 'training')[0], /^layer 2 sent the 25 expert choices of its training examples to few of its experts: 13 of 16 got none \(balance 0\.200\), so their weights add nothing$/);
});

test('--label-column: the labels in another column, by name or number; eval reads test files in that layout, and the held-out file keeps it', () => {
  const dir = tmp('label-column');
  mkdirSync(dir);
  const r = new Rng(31);
  const rows = Array.from({ length: 240 }, () => { const a = r.normal(), b = r.normal(); return [a, b, a > b ? 'hi' : 'lo'] as const; });
  writeFileSync(join(dir, 'last.csv'), 'a,b,kind\n' + rows.map(([a, b, k]) => `${a},${b},${k}`).join('\n') + '\n');
  writeFileSync(join(dir, 'first.csv'), 'kind,a,b\n' + rows.map(([a, b, k]) => `${k},${a},${b}`).join('\n') + '\n');
  writeFileSync(join(dir, 'middle.csv'), rows.map(([a, b, k]) => `${a},${k},${b}`).join('\n') + '\n');
  const args = ['--hidden', '8', '--depth', '1', '--epochs', '2', '--json'];
  const last = lastJson(cli('train', '--csv', join(dir, 'last.csv'), ...args, '--out', join(dir, 'last')));
  const byName = cli('train', '--csv', join(dir, 'first.csv'), '--label-column', 'kind', ...args, '--out', join(dir, 'first'));
  assert.equal(byName.status, 0, describeRun(byName));
  // the same examples in another layout: the same split, model and test figures
  assert.deepEqual([lastJson(byName).testAccuracy, lastJson(byName).testLoss, lastJson(byName).classes], [last.testAccuracy, last.testLoss, ['hi', 'lo']]);
  const heldOut = join(dir, 'first', 'heldout-test.csv');
  assert.equal(readFileSync(heldOut, 'utf8').split('\n')[0], 'kind,a,b', 'the held-out file in the training file\'s layout');
  const rescored = lastJson(cli('eval', '--model', lastJson(byName).modelPath, '--csv', heldOut, '--json'));
  assert.deepEqual([rescored.testAccuracy, rescored.testLoss], [last.testAccuracy, last.testLoss]);
  // each class's figures: their examples and correct ones add up to the set's and to its accuracy
  const perClass = rescored.perClass as Array<{ label: string; examples: number; predicted: number; correct: number; recall: number; precision: number }>;
  assert.deepEqual(perClass.map((c) => c.label), ['hi', 'lo']);
  assert.equal(perClass[0].examples + perClass[1].examples, rescored.examples);
  assert.equal(perClass[0].predicted + perClass[1].predicted, rescored.examples);
  assert.equal((perClass[0].correct + perClass[1].correct) / rescored.examples, rescored.testAccuracy);
  for (const c of perClass) assert.deepEqual([c.recall, c.precision], [c.correct / c.examples, c.correct / c.predicted]);
  const table = cli('eval', '--model', lastJson(byName).modelPath, '--csv', heldOut, '--per-class');
  assert.match(table.stdout, new RegExp(`^class +examples +recall +predicted +precision\nhi +${perClass[0].examples} +${(perClass[0].recall * 100).toFixed(2)}% +${perClass[0].predicted} +`, 'm'));
  // by number, in a file without a header; a test file in the same layout
  writeFileSync(join(dir, 'middle-test.csv'), rows.slice(0, 30).map(([a, b, k]) => `${a},${k},${b}`).join('\n') + '\n');
  const byNumber = cli('train', '--csv', join(dir, 'middle.csv'), '--test-csv', join(dir, 'middle-test.csv'), '--label-column', '2', ...args, '--out', join(dir, 'middle'));
  assert.equal(byNumber.status, 0, describeRun(byNumber));
  const ev = cli('eval', '--model', lastJson(byNumber).modelPath, '--csv', join(dir, 'middle-test.csv'), '--json');
  assert.equal(ev.status, 0, describeRun(ev));
  assert.deepEqual([lastJson(ev).testAccuracy, lastJson(ev).examples], [lastJson(byNumber).testAccuracy, 30]);
  // a test file is read in the training file's layout, with or without a header
  writeFileSync(join(dir, 'first-test.csv'), rows.slice(0, 30).map(([a, b, k]) => `${k},${a},${b}`).join('\n') + '\n');
  const headerless = cli('train', '--csv', join(dir, 'first.csv'), '--test-csv', join(dir, 'first-test.csv'), '--label-column', 'kind', ...args, '--out', join(dir, 'first-test'));
  assert.equal(headerless.status, 0, describeRun(headerless));
  assert.equal(lastJson(cli('eval', '--model', lastJson(headerless).modelPath, '--csv', join(dir, 'first-test.csv'), '--json')).testAccuracy, lastJson(headerless).testAccuracy);
  expectUsageError(['train', '--csv', join(dir, 'first.csv'), '--test-csv', join(dir, 'last.csv'), '--label-column', 'kind', '--out', tmp('x')],
    /last\.csv:1: the label is column 1 in the training file, and this file's column 1 is 'a', a feature; its column 3, 'kind', is not one of the features: the label\? \(columns are matched by position: put the label in column 1, as in the training file, the features around it in their order \('a', 'b'\)\)/);
  // a checkpointed run resumes with the label column it was started with (its saved options): the same model
  const resumable = join(dir, 'resumable');
  assert.equal(cli('train', '--csv', join(dir, 'first.csv'), '--label-column', 'kind', ...args, '--checkpoint-every', '5', '--out', resumable).status, 0);
  const model = readFileSync(join(resumable, 'model.safetensors'));
  const saved = readdirSync(join(resumable, 'checkpoints')).sort();
  rmSync(join(resumable, 'checkpoints', saved.at(-1)!)); // the final checkpoint: --resume takes the last steps again
  const again = cli('train', '--resume', resumable, '--no-progress');
  assert.equal(again.status, 0, describeRun(again));
  assert.match(again.stderr, /resuming .* from .*step-\d+\.safetensors/);
  assert.ok(readFileSync(join(resumable, 'model.safetensors')).equals(model), 'the same model, bit for bit');
  // mistakes
  expectUsageError(['train', '--csv', join(dir, 'first.csv'), '--label-column', 'species', '--out', tmp('x')], /first\.csv: no column named 'species' in the header \(columns: kind, a, b\)/);
  expectUsageError(['train', '--csv', join(dir, 'first.csv'), '--label-column', '0', '--out', tmp('x')], /--label-column.*expected a header name or a column number from 1/);
  expectUsageError(['train', '--label-column', 'kind', '--out', tmp('x')], /--label-column has no effect with --dataset mnist/);
  expectUsageError(['train', '--csv', join(dir, 'first.csv'), '--out', tmp('x')], /first\.csv:2, column 1: '(hi|lo)' is not a finite number; every one of the \d+ rows read has such a cell, in column 1 .*if column 1 holds the class labels, name it: train --label-column NAME or NUMBER/);
});

test('--header: a header whose column names are numbers (years) is read as one when said so; eval, predict and --resume read the files alike', () => {
  const dir = tmp('header');
  mkdirSync(dir);
  const r = new Rng(32);
  const rows = Array.from({ length: 240 }, () => { const a = r.normal(), b = r.normal(); return [a, b, a > b ? 'hi' : 'lo'] as const; });
  writeFileSync(join(dir, 'years.csv'), 'region,2019,2020,kind\n' + rows.map(([a, b, k], i) => `${i % 3},${a},${b},${k}`).join('\n') + '\n');
  // without --header the line is refused, and the message says how to read it as a header
  expectUsageError(['train', '--csv', join(dir, 'years.csv'), '--out', tmp('x')],
    /years\.csv:1, column 1: 'region' is not a number \(.*or be said to be one \(--header, header: true in the API\)\)/);
  const args = ['--csv', join(dir, 'years.csv'), '--header', '--hidden', '8', '--depth', '1', '--epochs', '2', '--json'];
  const run = cli('train', ...args, '--out', join(dir, 'run'));
  assert.equal(run.status, 0, describeRun(run));
  const result = lastJson(run), heldOut = join(dir, 'run', 'heldout-test.csv');
  assert.equal(readFileSync(heldOut, 'utf8').split('\n')[0], 'region,2019,2020,kind');
  // a later file whose first line is the model's feature names is read with its header, without --header
  const ev = cli('eval', '--model', result.modelPath, '--csv', heldOut, '--json');
  assert.equal(ev.status, 0, describeRun(ev));
  assert.deepEqual([lastJson(ev).testAccuracy, lastJson(ev).testLoss], [result.testAccuracy, result.testLoss]);
  writeFileSync(join(dir, 'features.csv'), readFileSync(heldOut, 'utf8').split('\n').filter(Boolean).map((l) => l.split(',').slice(0, 3).join(',')).join('\n') + '\n');
  const pr = cli('predict', '--model', result.modelPath, '--csv', join(dir, 'features.csv'), '--json');
  assert.equal(pr.status, 0, describeRun(pr));
  assert.equal(lastJson(pr).examples, result.splits.test);
  // the option is saved with the run's checkpoints: --resume reads the file with it again
  const resumable = join(dir, 'resumable');
  assert.equal(cli('train', ...args, '--checkpoint-every', '5', '--out', resumable).status, 0);
  const saved = readdirSync(join(resumable, 'checkpoints')).sort();
  rmSync(join(resumable, 'checkpoints', saved.at(-1)!));
  const model = readFileSync(join(resumable, 'model.safetensors'));
  const again = cli('train', '--resume', resumable, '--no-progress');
  assert.equal(again.status, 0, describeRun(again));
  assert.deepEqual(readFileSync(join(resumable, 'model.safetensors')), model);
  expectUsageError(['train', '--header', '--out', tmp('x')], /--header has no effect with --dataset mnist/);
  // names that are all numbers (binary features named 0 and 1): a file starting with them must say whether it is the header
  writeFileSync(join(dir, 'binary.csv'), '0,1,label\n' + Array.from({ length: 120 }, (_, i) => `${i % 2},${(i >> 1) % 2},${(i % 2) ^ ((i >> 1) % 2) ? 'x' : 'y'}`).join('\n') + '\n');
  const binary = lastJson(cli('train', '--csv', join(dir, 'binary.csv'), '--header', '--hidden', '8', '--depth', '1', '--epochs', '1', '--json', '--out', join(dir, 'binary')));
  // the held-out file train wrote beside it starts with the model's feature names and the label column's name, no
  // class: its header, read without --header, as inspect's hint (and eval) name it
  const hint = cli('inspect', '--model', binary.modelPath);
  assert.equal(hint.status, 0, describeRun(hint));
  const hinted = /pass its test file: --csv (\S+), the file train tested it on/.exec(hint.stderr);
  assert.ok(hinted, hint.stderr);
  const inspected = cli('inspect', '--model', binary.modelPath, '--csv', hinted[1], '--json');
  assert.equal(inspected.status, 0, describeRun(inspected));
  assert.equal(lastJson(inspected).usageExamples, binary.splits.test);
  writeFileSync(join(dir, 'binary-new.csv'), '0,1\n1,1\n0,0\n');
  expectUsageError(['predict', '--model', binary.modelPath, '--csv', join(dir, 'binary-new.csv')],
    /binary-new\.csv:1: the first line holds the model's feature names \('0', '1'\), which are numbers: it may be the header or an example \(say which: --header or --no-header/);
  assert.equal(lastJson(cli('predict', '--model', binary.modelPath, '--csv', join(dir, 'binary-new.csv'), '--no-header', '--json')).examples, 3);
  assert.equal(lastJson(cli('predict', '--model', binary.modelPath, '--csv', join(dir, 'binary-new.csv'), '--header', '--json')).examples, 2);
  expectUsageError(['eval', '--model', binary.modelPath, '--no-header'], /--no-header has no effect without --csv/);
  // a file without a header line, said to have one
  writeFileSync(join(dir, 'no-header.csv'), rows.map(([a, b, k]) => `${a},${b},${k}`).join('\n') + '\n');
  expectUsageError(['train', '--csv', join(dir, 'no-header.csv'), '--header', '--out', tmp('x')], /no-header\.csv:1: the first line, said to be the header, reads as an example/);
});


test('predict and eval on examples whose outputs overflow: a warning, no class (an empty label, null in --json), counted wrong', () => {
  const dir = tmp('overflow');
  mkdirSync(dir);
  const r = new Rng(33);
  const rows = Array.from({ length: 240 }, () => { const a = r.normal(), b = r.normal(); return `${a},${b},${a > b ? 'hi' : 'lo'}`; });
  writeFileSync(join(dir, 'train.csv'), 'a,b,kind\n' + rows.join('\n') + '\n');
  const run = cli('train', '--csv', join(dir, 'train.csv'), '--hidden', '8', '--depth', '1', '--epochs', '2', '--json', '--out', join(dir, 'run'));
  assert.equal(run.status, 0, describeRun(run));
  const model = lastJson(run).modelPath as string;
  // the second example is finite but far outside what the model was trained on (3e38: near float32's largest)
  writeFileSync(join(dir, 'new.csv'), 'a,b\n2,-2\n3e38,3e38\n-2,2\n');
  const out = join(dir, 'predicted.csv');
  const pr = cli('predict', '--model', model, '--csv', join(dir, 'new.csv'), '--out', out, '--json');
  assert.equal(pr.status, 0, describeRun(pr));
  assert.match(pr.stderr, /warning: the model's outputs overflow on 1 of the 3 examples: they have no class \(an empty label; null with --json\)/);
  const p = lastJson(pr);
  assert.equal(p.overflowed, 1);
  assert.deepEqual(p.predictions, ['hi', null, 'lo']);
  assert.equal(readFileSync(out, 'utf8'), 'label\nhi\n\nlo\n');
  const human = cli('predict', '--model', model, '--csv', join(dir, 'new.csv'));
  assert.equal(human.status, 0, describeRun(human));
  assert.match(human.stdout + human.stderr, /predicted 3 examples of .*new\.csv: 'hi' 1, 'lo' 1, none \(overflowed\) 1/);
  // eval: the overflowed example counts as wrong whatever its label, and the loss is not finite
  writeFileSync(join(dir, 'test.csv'), 'a,b,kind\n2,-2,hi\n3e38,3e38,hi\n-2,2,lo\n');
  const ev = cli('eval', '--model', model, '--csv', join(dir, 'test.csv'), '--json');
  assert.equal(ev.status, 0, describeRun(ev));
  assert.match(ev.stderr, /warning: the loss is (NaN|-?Infinity): the model's outputs overflow on this data .*; 1 of the 3 examples have no class and count as wrong/);
  const e = lastJson(ev);
  assert.equal(e.overflowed, 1);
  assert.equal(e.testAccuracy, 2 / 3);
  assert.equal(e.testLoss, null, 'a loss that is not finite is null in JSON');
});
test('--resume of a run whose --csv file has moved says which file, and to put it back', () => {
  const dir = tmp('moved');
  mkdirSync(dir);
  const r = new Rng(34);
  writeFileSync(join(dir, 'data.csv'), 'a,b,kind\n' + Array.from({ length: 120 }, () => { const a = r.normal(), b = r.normal(); return `${a},${b},${a > b ? 'hi' : 'lo'}`; }).join('\n') + '\n');
  const out = join(dir, 'run');
  const run = cli('train', '--csv', join(dir, 'data.csv'), '--hidden', '8', '--depth', '1', '--epochs', '2', '--checkpoint-every', '1', '--no-progress', '--out', out);
  assert.equal(run.status, 0, describeRun(run));
  const saved = readdirSync(join(out, 'checkpoints')).sort();
  rmSync(join(out, 'checkpoints', saved.at(-1)!)); // the end-of-run checkpoint: the run has steps left to resume
  renameSync(join(dir, 'data.csv'), join(dir, 'elsewhere.csv'));
  expectUsageError(['train', '--resume', out], new RegExp(`--resume: the run in ${reEscape(out)} was started with --csv ${reEscape(join(dir, 'data.csv'))}, which is not there any more \\(put the file back there`));
});

test('an experiment records the command that ran it as a shell reads it back', () => {
  assert.equal(commandLine(['/usr/bin/node', '/x/dist/cli/main.js', '--verbose', 'experiment', 'gating', '--out', 'dir with space/it\'s', '']),
    "treegate --verbose experiment gating --out 'dir with space/it'\\''s' ''");
});

test('result.json records how the run was trained: its settings (given, defaults, none of no effect), the command and the provenance; a resumed run the commands that resumed it; the report shows them', () => {
  const out = tmp('settings');
  const args = ['train', '--limit', '300', '--epochs', '2', '--hidden', '8', '--depth', '2', '--blocks', '2', '--gating', 'units', '--batch-size', '37',
    '--lr', '0.0123', '--optimizer', 'sgd', '--momentum', '0.8', '--schedule', 'constant', '--weight-decay', '0.05', '--decay-gamma', '0.5', '--seed', '7',
    '--validation', '30', '--checkpoint-every', '3', '--no-progress', '--out', out];
  const run = cli(...args);
  assert.equal(run.status, 0, describeRun(run));
  const first = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(first.settings, {
    dataset: 'mnist', hidden: [8], treeLayers: [2], layer: 'tree', depth: 2, blocks: 2, gating: 'units', nodeInit: 'zero', activation: 'relu',
    epochs: 2, batchSize: 37, lr: 0.0123, optimizer: 'sgd', momentum: 0.8, schedule: 'constant', weightDecay: 0.05, decayGamma: 0.5, seed: 7,
    out, keepCheckpoints: 3, onNonfinite: 'stop', validation: 30, limit: 300, checkpointEvery: { steps: 3 }, logEvery: 1,
  }, 'every option of effect, given or not; the memorization sizes, --data-dir and the per-process options are not');
  assert.equal(first.command, commandLine(['node', 'main.js', ...args]));
  assert.equal(first.resumedWith, undefined, 'not resumed');
  const made = first.provenance;
  assert.equal(made.treegate, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  assert.match(made.code, /^[0-9a-f]{16}$/);
  if (existsSync(join(ROOT, '.git'))) assert.match(made.commit, /^[0-9a-f]{12}$/);
  assert.match(made.mnist, /^[0-9a-f]{64}$/, 'an MNIST run records the files it read');
  // resumed (the end-of-run checkpoint removed: steps left to take): the same settings, the command that started it
  // and the one that resumed it
  const saved = readdirSync(join(out, 'checkpoints')).sort();
  rmSync(join(out, 'checkpoints', saved.at(-1)!));
  const resume = ['train', '--resume', out, '--no-progress'];
  const resumed = cli(...resume);
  assert.equal(resumed.status, 0, describeRun(resumed));
  const again = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(again.settings, first.settings);
  assert.equal(again.command, first.command);
  assert.deepEqual(again.resumedWith, [commandLine(['node', 'main.js', ...resume])]);
  assert.deepEqual(again.provenance, made);
  // the report's header shows them, the settings as the options that give them
  const report = cli('report', out);
  assert.equal(report.status, 0, describeRun(report));
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  const line = /<dt>settings<\/dt><dd>([^<]*)<\/dd>/.exec(page)?.[1] ?? '';
  assert.match(line, /^--hidden 8 --tree-layers 2 --layer tree --depth 2 --blocks 2 --gating units .*--batch-size 37 --lr 0\.0123 --optimizer sgd --momentum 0\.8 --schedule constant --weight-decay 0\.05 --decay-gamma 0\.5 /);
  for (const o of ['--limit 300', '--validation 30', '--checkpoint-every 3']) assert.ok(line.includes(o), `${o} in ${line}`);
  assert.ok(page.includes(`<dt>command</dt><dd>treegate train --limit 300 --epochs 2`), 'the command that started it');
  assert.ok(page.includes(`<dt>resumed with</dt><dd>treegate train --resume ${out} --no-progress</dd>`));
  assert.ok(page.includes(`<dt>treegate</dt><dd>${made.treegate}`));
});
