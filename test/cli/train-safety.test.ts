/**
 * `treegate train` keeps what is saved whole: a signal after the last step, a failed write, a resume from
 * another folder, an empty path, a NaN before the first checkpoint, a finished run's folder rewritten by
 * another run, and an edited checkpoint each end with a true message and OUT holding one run's files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join, relative } from 'node:path';
import { TreegateError } from '../../src/core/errors.js';
import { checkDiskSpace, checkHeldOutFile, checkRunFiles, dataFingerprint, fileSha256, filesSha256, newestCheckpointOf } from '../../src/cli/run-folder.js';
import { matrix } from '../../src/core/tensor.js';
import type { PreparedData } from '../../src/data/prepare.js';
import type { TrainCliOptions } from '../../src/cli/train-checks.js';
import { writeFilesAtomic } from '../../src/io/atomic.js';
import { loadModel } from '../../src/io/model-file.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { cli, CLI_ARGS, cliChild, cliEnv, describeRun, expectUsageError, lastJson, ROOT, tmp, reEscape } from './run.js';

/** A run of a few milliseconds: 100 examples in batches of 8, 13 steps. */
const SMALL = ['train', '--dataset', 'memorization', '--examples', '100', '--input-size', '8', '--classes', '3', '--hidden', '8',
  '--epochs', '1', '--batch-size', '8', '--no-progress'];

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const RUN_FILES = ['metrics.jsonl', 'model.safetensors', 'result.json'];
/** OUT's entries other than the checkpoints folder: the run's files and nothing else (no temporary file). */
const entries = (out: string) => readdirSync(out).filter((n) => n !== 'checkpoints').sort();
const checkpoints = (out: string) => readdirSync(join(out, 'checkpoints')).sort();

test('a signal after the last step: the run\'s files are written whole, it says so and exits with the signal\'s code', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const out = tmp(`signal-${signal}`), ckpt = tmp(`signal-${signal}-checkpointed`);
    const earlier = cli(...SMALL, '--seed', '2', '--out', out);
    assert.equal(earlier.status, 0, describeRun(earlier));
    // the signal comes just before the files are written (a signal after the last step, while saving)
    const r = cliEnv({ TREEGATE_FAULT_SIGNAL: signal }, ...SMALL, '--checkpoint-every', '5', '--out', ckpt, '--json');
    assert.equal(r.status, code, describeRun(r));
    assert.match(r.stderr, new RegExp(`${signal} after the last step: the run finished and its files were written in full`));
    assert.deepEqual(entries(ckpt), RUN_FILES, 'all three files, no temporary file');
    assert.deepEqual(JSON.parse(readFileSync(join(ckpt, 'result.json'), 'utf8')), lastJson(r));
    const again = cli('train', '--resume', ckpt, '--no-progress');
    assert.equal(again.status, 0, describeRun(again));
    assert.match(again.stderr, /is already finished \(step 13\)/, 'the final checkpoint was written too');
    // over an earlier run's files: all three are the new run's
    const over = cliEnv({ TREEGATE_FAULT_SIGNAL: signal }, ...SMALL, '--out', out, '--json');
    assert.equal(over.status, code, describeRun(over));
    assert.deepEqual(entries(out), RUN_FILES);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')), lastJson(over));
    assert.equal(lastJson(over).seed, 1);
  }
});

test('writeFilesAtomic replaces all the files or none; a failure leaves no temporary file', () => {
  const dir = tmp('files-atomic');
  mkdirSync(dir);
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  for (const f of [a, b]) writeFileSync(f, 'old');
  const fails = (third: string, why: RegExp) => {
    assert.throws(() => writeFilesAtomic([{ path: a, bytes: 'new' }, { path: b, bytes: new Uint8Array([1, 2]) }, { path: third, bytes: 'new' }]),
      (e: unknown) => e instanceof TreegateError && why.test(e.message) && e.message.includes(third) && /; none of a, b, c was replaced$/.test(e.message));
    assert.deepEqual([readFileSync(a, 'utf8'), readFileSync(b, 'utf8')], ['old', 'old']);
  };
  fails(join(dir, 'missing', 'c'), /failed to create a temporary file next to it: no such file or directory \(ENOENT\)/); // its write fails (as on a full disk)
  mkdirSync(join(dir, 'c'));
  fails(join(dir, 'c'), /EISDIR/); // a folder in the way of its rename
  assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'c'], 'no temporary file');
  rmSync(join(dir, 'c'), { recursive: true });
  writeFilesAtomic([{ path: a, bytes: 'new' }, { path: b, bytes: new Uint8Array([1, 2]) }, { path: join(dir, 'c'), bytes: 'new' }]);
  assert.deepEqual([readFileSync(a, 'utf8'), [...readFileSync(b)], readFileSync(join(dir, 'c'), 'utf8')], ['new', [1, 2], 'new']);
  assert.deepEqual(readdirSync(dir).sort(), ['a', 'b', 'c']);
});

test('a file that cannot be written at the end leaves the earlier run\'s files as they were, and says so', async () => {
  const out = tmp('write-fails');
  const earlier = cli(...SMALL, '--out', out);
  assert.equal(earlier.status, 0, describeRun(earlier));
  const before = { model: sha(join(out, 'model.safetensors')), metrics: sha(join(out, 'metrics.jsonl')) };
  const rescueIn = tmp('write-fails-tmpdir');
  mkdirSync(rescueIn);
  // a second run in the same folder; during its training result.json becomes a folder, so the last of the three
  // files cannot be put in place (as a full disk would fail its write)
  const args = ['train', '--dataset', 'memorization', '--examples', '2400', '--input-size', '48', '--classes', '10', '--hidden', '96,96',
    '--epochs', '10', '--batch-size', '32', '--seed', '3', '--no-progress', '--out', out];
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = cliChild({ TMPDIR: rescueIn }, ...args);
    let stderr = '', done = false;
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (!done && /epoch 1\/10/.test(stderr)) {
        done = true;
        child.kill('SIGSTOP');
        rmSync(join(out, 'result.json'));
        mkdirSync(join(out, 'result.json'));
        child.kill('SIGCONT');
      }
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`error: cannot write ${reEscape(join(out, 'result.json'))}: .*EISDIR.*; ` +
    'none of model\\.safetensors, metrics\\.jsonl, result\\.json was replaced'));
  assert.equal(sha(join(out, 'model.safetensors')), before.model, 'the earlier model is kept');
  assert.equal(sha(join(out, 'metrics.jsonl')), before.metrics, 'the earlier metrics are kept');
  assert.deepEqual(readdirSync(out).sort(), RUN_FILES, 'no temporary file is left');
  // the trained model is not lost: the run's files went to a folder of the OS's temporary folder, which the hint names
  const [rescue] = readdirSync(rescueIn);
  assert.match(rescue ?? '', /^treegate-rescue-/);
  assert.match(r.stderr, new RegExp(`model\\.safetensors, metrics\\.jsonl, result\\.json were written to ${reEscape(join(rescueIn, rescue))} instead: ` +
    `move them to ${reEscape(out)} once the cause is fixed\\)`));
  assert.deepEqual(readdirSync(join(rescueIn, rescue)).sort(), RUN_FILES);
  const saved = JSON.parse(readFileSync(join(rescueIn, rescue, 'result.json'), 'utf8')) as { seed: number; epochs: number };
  assert.deepEqual([saved.seed, saved.epochs], [3, 10]);
  assert.equal(loadModel(join(rescueIn, rescue, 'model.safetensors')).inputSize, 48);
});

test('--resume from another folder reads the files the run was started with (paths are saved absolute)', () => {
  const dir = tmp('csv-resume');
  mkdirSync(dir);
  const rows = Array.from({ length: 120 }, (_, i) => `${Math.sin(i)},${Math.cos(i * 3)},${i % 3}`);
  writeFileSync(join(dir, 'train.csv'), rows.join('\n') + '\n');
  writeFileSync(join(dir, 'test.csv'), rows.slice(0, 30).join('\n') + '\n');
  const out = join(dir, 'run');
  // relative to the repository root, where the CLI runs; stopped by a NaN at step 6, after the checkpoint of step 4
  const r = cliEnv({ TREEGATE_FAULT_NAN: 'weight:6' }, 'train', '--dataset', 'csv', '--csv', relative(ROOT, join(dir, 'train.csv')),
    '--test-csv', relative(ROOT, join(dir, 'test.csv')), '--hidden', '8', '--depth', '1', '--epochs', '2', '--batch-size', '16',
    '--checkpoint-every', '2', '--no-progress', '--out', relative(ROOT, out));
  assert.equal(r.status, 3, describeRun(r));
  assert.match(r.stderr, /the last good checkpoint is .*step-000000004\.safetensors/);
  // resumed from the run's folder itself
  const resumed = spawnSync(process.execPath, [...CLI_ARGS, 'train', '--resume', '.', '--no-progress', '--json'],
    { cwd: out, encoding: 'utf8', timeout: 120_000 });
  assert.equal(resumed.status, 0, `${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stderr, /resuming .* \(step 4\)/);
  assert.equal(JSON.parse(resumed.stdout.trim().split('\n').pop()!).modelPath, join(out, 'model.safetensors'));
});

test('an empty path option exits 2 naming the option, before anything is read or written', () => {
  const empty = /option '(--resume|--out|--csv|--test-csv|--data-dir) <(dir|file)>' argument ' ?' is invalid\. expected a path, not an empty string/;
  // each followed by an invalid option, so that a run that took the empty path would still stop at once
  expectUsageError(['train', '--resume', '', '--epochs', '0'], empty);
  expectUsageError(['train', '--out', '', '--epochs', '0'], empty);
  expectUsageError(['train', '--out', ' ', '--epochs', '0'], empty);
  expectUsageError(['train', '--dataset', 'csv', '--csv', '', '--epochs', '0'], empty);
  expectUsageError(['train', '--dataset', 'csv', '--csv', tmp('none.csv'), '--test-csv', '', '--epochs', '0'], empty);
  expectUsageError(['train', '--data-dir', '', '--epochs', '0'], empty);
  expectUsageError(['experiment', 'memorization', '--quick', '--out', '', '--seeds', '0'], /option '--out <dir>' argument '' is invalid\. expected a path/);
  // a value left out, so that the next option became the path (a folder named --json, and no JSON)
  expectUsageError(['train', '--out', '--json', '--epochs', '0'], /option '--out <dir>' argument '--json' is invalid\. expected a path, not an option \(was the value left out\?\); write \.\/--json for a file so named/);
  expectUsageError(['predict', '--model', '--json', '--csv', 'x'], /argument '--json' is invalid\. expected a path, not an option/);
  assert.ok(!existsSync('--json'));
});

test('NaN: the hints say which checkpoint exists, if any, and how to avoid the NaN', () => {
  const nan = [...SMALL, '--lr', '1e30', '--optimizer', 'sgd'];
  const wrong = /use --checkpoint-every|the last checkpoint holds/;
  const first = cli(...nan, '--checkpoint-every', '5', '--out', tmp('nan-every'));
  assert.equal(first.status, 3, describeRun(first));
  assert.match(first.stderr, /error: training loss became NaN at epoch 1, step 2: non-finite value in gradient of layers\.0\.weight\n/);
  assert.match(first.stderr, /no checkpoint of this run was written \(the first was due at step 5\)/);
  assert.match(first.stderr, /train again with a lower --lr, or drop such steps with --on-nonfinite skip/);
  assert.doesNotMatch(first.stderr, wrong);
  const plain = cli(...nan, '--out', tmp('nan-plain'));
  assert.equal(plain.status, 3, describeRun(plain));
  assert.match(plain.stderr, /no checkpoint of this run was written \(--checkpoint-every writes them\)/);
  assert.doesNotMatch(plain.stderr, wrong);
  // a folder with an earlier run's checkpoints: they are not this run's last good state
  const earlier = tmp('nan-earlier');
  assert.equal(cli(...SMALL, '--checkpoint-every', '5', '--out', earlier).status, 0);
  const over = cli(...nan, '--out', earlier);
  assert.equal(over.status, 3, describeRun(over));
  assert.match(over.stderr, /no checkpoint of this run was written/);
  assert.doesNotMatch(over.stderr, /last good checkpoint/);
  const someOut = tmp('nan-some');
  const some = cliEnv({ TREEGATE_FAULT_NAN: 'weight:8' }, ...SMALL, '--checkpoint-every', '3', '--out', someOut);
  assert.equal(some.status, 3, describeRun(some));
  assert.match(some.stderr, /the last good checkpoint is .*step-000000006\.safetensors/);
  assert.doesNotMatch(some.stderr, wrong);
  // --resume would take the same step again: the hint says how a new run goes there, and it goes so
  assert.match(some.stderr, new RegExp(`--on-nonfinite skip: start a new run \\(without --resume\\) with another --out, or delete ${reEscape(join(someOut, 'checkpoints'))} first`));
  assert.equal(cli(...SMALL, '--checkpoint-every', '3', '--out', someOut).status, 2, 'refused while the checkpoints are there');
  // resumed from step 6, it meets the NaN again at step 8, before a checkpoint of its own: the one it resumed from is
  // its last good state
  const again = cliEnv({ TREEGATE_FAULT_NAN: 'weight:8' }, 'train', '--resume', someOut, '--no-progress');
  assert.equal(again.status, 3, describeRun(again));
  assert.match(again.stderr, /resuming .* \(step 6\)/);
  assert.match(again.stderr, /the last good checkpoint is .*step-000000006\.safetensors/);
  assert.doesNotMatch(again.stderr, /no checkpoint of this run was written/);
  // one checkpoint (step 5) before the NaN at step 8: named, and the hint says how a new run goes there
  const oneOut = tmp('nan-one');
  const one = cliEnv({ TREEGATE_FAULT_NAN: 'weight:8' }, ...SMALL, '--checkpoint-every', '5', '--out', oneOut);
  assert.equal(one.status, 3, describeRun(one));
  assert.match(one.stderr, /the last good checkpoint is .*step-000000005\.safetensors/);
  assert.match(one.stderr, new RegExp(`--on-nonfinite skip: start a new run \\(without --resume\\) with another --out, or delete ${reEscape(join(oneOut, 'checkpoints'))} first`));
  rmSync(join(someOut, 'checkpoints'), { recursive: true });
  const fresh = cli(...SMALL, '--checkpoint-every', '3', '--out', someOut);
  assert.equal(fresh.status, 0, describeRun(fresh));
  // a test set that overflows where every training step stayed finite: a warning, and the model is saved
  const testNaN = tmp('nan-test');
  const t = cliEnv({ TREEGATE_FAULT_NAN: 'test:0' }, ...SMALL, '--out', testNaN, '--json');
  assert.equal(t.status, 0, describeRun(t));
  assert.match(t.stderr, /warning: the model's outputs overflow on the test set \(its loss is (NaN|-?Infinity)\) though every training step stayed finite/);
  assert.equal(JSON.parse(t.stdout).testLoss, null);
  assert.ok(existsSync(join(testNaN, 'model.safetensors')));
});

test('a run whose files cannot fit in the free space of --out is refused before it trains; one that fits runs', (t) => {
  const disk = tmp('small-disk');
  mkdirSync(disk);
  // a 1 MiB tmpfs in a mount namespace of this command's own (unshare maps the user to root: no privilege needed
  // where the kernel allows user namespaces); the CLI runs inside it
  const inDisk = (...args: string[]) => spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=1m none "$1" && shift && exec "$@"', 'sh', disk,
    process.execPath, ...CLI_ARGS, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (inDisk('--version').status !== 0) {
    t.skip('unshare -rm with a tmpfs mount is not allowed here (user namespaces off)');
    return;
  }
  // 64 → 1024 → tree k = 4 → 3: about 165k parameters, a model file of 0.63 MiB, an Adam checkpoint of 1.9 MiB
  const run = [...SMALL.filter((a, i) => !['--input-size', '--hidden'].includes(SMALL[i - 1]!) && !['--input-size', '--hidden'].includes(a)),
    '--input-size', '64', '--hidden', '1024', '--out', join(disk, 'run')];
  const refused = inDisk(...run, '--checkpoint-every', '5');
  assert.equal(refused.status, 2, describeRun({ ...refused, status: refused.status }));
  assert.match(refused.stderr, /^treegate: error: --out .*run has (1\.0|1\.00|0\.99\d*) MiB free, and this run writes about 8\.\d MiB there \(the model 0\.6\d MiB, 4 checkpoints of 1\.\d MiB\): it would fail after training \(.*lower --keep-checkpoints/m, 'the error line (after the notice of a fallback backend, if any)');
  assert.doesNotMatch(refused.stderr, /epoch 1\/1/, 'refused before training');
  const fits = inDisk(...run, '--json');
  assert.equal(fits.status, 0, describeRun({ ...fits, status: fits.status }));
  assert.equal(JSON.parse(fits.stdout).parameters > 150_000, true);
});

test('the space a run needs: its model, and with checkpoints those kept plus the one being written, less those already there (each 3 or 2 times the model)', () => {
  const real = fs.statfsSync;
  let free = 0;
  // (run-folder.ts imports statfsSync by name: syncBuiltinESMExports carries the patch to that binding, and back)
  fs.statfsSync = ((path: fs.PathLike) => ({ ...real(path), blocks: 1000, bsize: 1, bavail: free })) as typeof fs.statfsSync;
  syncBuiltinESMExports();
  try {
    const o = (optimizer: 'adam' | 'sgd', keepCheckpoints: number) => ({ optimizer, keepCheckpoints }) as TrainCliOptions;
    // 1000 parameters: a model of 4000 bytes, an Adam checkpoint of 12000, an SGD one of 8000
    const cases: Array<[TrainCliOptions, boolean, number, number]> = [
      [o('adam', 3), false, 0, 4000],
      [o('adam', 3), true, 0, 4000 + 4 * 12000],
      [o('sgd', 3), true, 0, 4000 + 4 * 8000],
      [o('adam', 3), true, 2, 4000 + 2 * 12000],
      [o('adam', 3), true, 5, 4000 + 12000], // more there than kept: still the one being written
    ];
    for (const [options, checkpointing, existing, need] of cases) {
      const what = `${options.optimizer}, keep ${options.keepCheckpoints}, ${checkpointing ? `${existing} there` : 'no checkpoints'}`;
      free = need;
      checkDiskSpace(ROOT, 1000, options, checkpointing, existing);
      free = need - 1;
      assert.throws(() => checkDiskSpace(ROOT, 1000, options, checkpointing, existing),
        new RegExp(`--out ${reEscape(ROOT)} has 0\\.\\d\\d MiB free, and this run writes about .*: it would fail after training`), what);
    }
  } finally {
    fs.statfsSync = real;
    syncBuiltinESMExports();
  }
});

test('a run replaces only a run\'s own metrics.jsonl, result.json and heldout-test.csv (not other JSON, nor its own input); a folder of such a name is left to checkWritableFile', () => {
  const out = tmp('run-files');
  mkdirSync(out);
  const [model, metrics, result] = ['model.safetensors', 'metrics.jsonl', 'result.json'].map((f) => join(out, f));
  const check = () => checkRunFiles(out, model, metrics, result);
  writeFileSync(metrics, '{"type":"epoch","epoch":1}\n');
  writeFileSync(result, JSON.stringify({ testAccuracy: 0.5, modelPath: model }));
  check();
  writeFileSync(metrics, '{"note":"my own log"}\n');
  assert.throws(check, /holds metrics\.jsonl, which is not a treegate run's: training would replace it/);
  writeFileSync(metrics, '');
  writeFileSync(result, JSON.stringify({ testAccuracy: 0.5 }));
  assert.throws(check, /holds result\.json, which is not a treegate run's: training would replace it/);
  rmSync(result);
  mkdirSync(result);
  check();
  // a heldout-test.csv no result.json names is refused, unless it is the run's own input (--test-csv), which it keeps
  const heldOut = join(out, 'heldout-test.csv');
  writeFileSync(heldOut, 'a,label\n1,x\n');
  assert.throws(() => checkHeldOutFile(out, result, false, ['train.csv', undefined]), /holds heldout-test\.csv, which no result\.json there names as its run's test file: training would remove it/);
  checkHeldOutFile(out, result, false, ['train.csv', heldOut]);
});

test('newestCheckpointOf: a file is not a run\'s folder; a folder whose checkpoints were all skipped says how to start over', () => {
  const out = tmp('all-skipped');
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  writeFileSync(join(out, 'a-file'), 'x');
  assert.throws(() => newestCheckpointOf(join(out, 'a-file'), () => {}, () => {}), /a-file is a file, not a run's folder \(pass the --out folder of the run to resume\)/);
  writeFileSync(join(out, 'checkpoints', 'step-000000005.safetensors'), 'damaged');
  const warnings: string[] = [];
  assert.throws(() => newestCheckpointOf(out, (l) => warnings.push(l), () => {}), (e: unknown) => e instanceof TreegateError
    && /^no valid checkpoint in .*: step-000000005\.safetensors was skipped/.test(e.message)
    && e.hint === `start a new run (without --resume) with another --out, or delete ${join(out, 'checkpoints')} first to reuse ${out}`);
  assert.equal(warnings.length, 1);
});

test('the data fingerprint a resume checks covers every split\'s inputs and labels', () => {
  const split = (seed: number) => ({ x: matrix(3, 2, Float32Array.from({ length: 6 }, (_, i) => seed + i)), y: Int32Array.of(0, 1, seed % 2) });
  const data = () => ({ train: split(1), validation: split(2), test: split(3) }) as unknown as PreparedData;
  const base = dataFingerprint(data());
  assert.equal(dataFingerprint(data()), base);
  for (const set of ['train', 'validation', 'test'] as const) {
    const x = data();
    x[set].x.data[4] += 0.5;
    assert.notEqual(dataFingerprint(x), base, `an input of ${set}`);
    const y = data();
    y[set].y[0] = 2;
    assert.notEqual(dataFingerprint(y), base, `a label of ${set}`);
  }
});

test('fileSha256 and filesSha256 hash files read in 1 MiB pieces, the last one short; null where a file is not there', () => {
  const dir = tmp('sha');
  mkdirSync(dir);
  const file = join(dir, 'data.csv'), bytes = Buffer.alloc(2 ** 21 + 5, 'a,b,label\n'), small = join(dir, 'small.csv');
  writeFileSync(file, bytes);
  writeFileSync(small, 'x,y\n');
  assert.equal(fileSha256(file), createHash('sha256').update(bytes).digest('hex'));
  // the files one after another: the hash of their contents joined (the four MNIST files' in provenance)
  assert.equal(filesSha256([small, file, small]), createHash('sha256').update('x,y\n').update(bytes).update('x,y\n').digest('hex'));
  assert.equal(fileSha256(join(dir, 'missing.csv')), null);
  assert.equal(fileSha256(dir), null);
  assert.equal(filesSha256([file, join(dir, 'missing.csv')]), null);
});

test('--resume of a finished run whose files were replaced (another run\'s copied over them): an error, not the other run\'s result', () => {
  const out = tmp('finished-other');
  assert.equal(cli(...SMALL, '--checkpoint-every', '5', '--out', out).status, 0);
  const mine = sha(join(out, 'model.safetensors'));
  // (a run in this folder would replace the checkpoints too: test/cli/resume.test.ts)
  const elsewhere = tmp('finished-elsewhere');
  const other = cli(...SMALL, '--seed', '5', '--out', elsewhere);
  assert.equal(other.status, 0, describeRun(other));
  for (const f of ['model.safetensors', 'result.json']) copyFileSync(join(elsewhere, f), join(out, f));
  const r = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(r.status, 2, describeRun(r));
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /error: the run in .* is finished \(step 13\), but its model\.safetensors and result\.json are not the files it wrote \(.*move them away and --resume writes this run's files again\)/);
  assert.doesNotMatch(r.stderr, /already finished/);
  // moved away: --resume writes the checkpointed run's files again, the same model
  for (const f of ['model.safetensors', 'result.json']) renameSync(join(out, f), join(out, `${f}.other`));
  const again = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(again.status, 0, describeRun(again));
  assert.equal(sha(join(out, 'model.safetensors')), mine);
  const done = cli('train', '--resume', out, '--no-progress', '--json');
  assert.match(done.stderr, /already finished \(step 13\)/);
  assert.deepEqual(lastJson(done), lastJson(again));
  // one of the two files another run's: result.json alone (the model still this run's), or the model gone and
  // result.json another run's: the same error, and nothing replaced
  const foreign = /error: the run in .* is finished \(step 13\), but its model\.safetensors and result\.json are not the files it wrote/;
  copyFileSync(join(elsewhere, 'result.json'), join(out, 'result.json'));
  const resultOnly = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(resultOnly.status, 2, describeRun(resultOnly));
  assert.match(resultOnly.stderr, foreign);
  assert.equal(sha(join(out, 'result.json')), sha(join(elsewhere, 'result.json')), 'the other run\'s result.json is left alone');
  rmSync(join(out, 'model.safetensors'));
  const modelGone = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(modelGone.status, 2, describeRun(modelGone));
  assert.match(modelGone.stderr, foreign);
  assert.equal(sha(join(out, 'result.json')), sha(join(elsewhere, 'result.json')), 'not replaced');
  assert.ok(!existsSync(join(out, 'model.safetensors')), 'no model written beside another run\'s result.json');
});

test('a new run in the folder of a finished run with the same step numbers keeps its own checkpoints, which take the old ones\' names', () => {
  const out = tmp('same-steps');
  assert.equal(cli(...SMALL, '--checkpoint-every', '5', '--out', out).status, 0);
  assert.deepEqual(checkpoints(out), ['step-000000005.safetensors', 'step-000000010.safetensors', 'step-000000013.safetensors']);
  const again = cli(...SMALL, '--checkpoint-every', '5', '--seed', '3', '--out', out);
  assert.equal(again.status, 0, describeRun(again));
  assert.match(again.stderr, /removed the 2 checkpoints of the earlier, finished run in /, 'the two the new run had not yet replaced by name');
  assert.deepEqual(checkpoints(out), ['step-000000005.safetensors', 'step-000000010.safetensors', 'step-000000013.safetensors'], 'this run\'s three');
  assert.match(cli('train', '--resume', out, '--no-progress').stderr, /already finished \(step 13\)/);
});

test('a final checkpoint that cannot be written where the last step is also a periodic one: the run\'s files are written, with a warning', () => {
  const out = tmp('final-due');
  // 13 steps, a checkpoint due every 13: the one of the last step is the final checkpoint, written after the files
  mkdirSync(join(out, 'checkpoints', 'step-000000013.safetensors'), { recursive: true });
  const r = cli(...SMALL, '--checkpoint-every', '13', '--out', out, '--json');
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, /warning: the run's files are written, but not its final checkpoint: cannot write .*step-000000013\.safetensors/);
  assert.deepEqual(entries(out), RUN_FILES);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')), lastJson(r));
});

/**
 * Rewrites a checkpoint's metadata entry `key` with `edit`, dropping its checksum (as a checkpoint written before
 * checksums has none: the values are then checked one by one), or keeping it (the edit is then damage).
 */
function editCheckpoint(path: string, key: string, edit: (v: Record<string, unknown>) => void, keepChecksum = false): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const v = JSON.parse(metadata[key]) as Record<string, unknown>;
  edit(v);
  metadata[key] = JSON.stringify(v);
  if (!keepChecksum) delete metadata.checksum;
  writeFileSync(path, encodeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })), metadata));
}

test('an edited checkpoint (options or progress out of range) is skipped with a warning; none valid is an error naming them', () => {
  const base = tmp('edited');
  assert.equal(cli(...SMALL, '--checkpoint-every', '5', '--keep-checkpoints', '2', '--out', base).status, 0);
  assert.deepEqual(checkpoints(base), ['step-000000010.safetensors', 'step-000000013.safetensors']);
  for (const f of RUN_FILES) rmSync(join(base, f)); // so that a resume from the final checkpoint writes them again
  const cases: Array<[string, string, (v: Record<string, any>) => void, RegExp]> = [
    ['tree-layers', 'options', (v) => { v.treeLayers = null; }, /checkpoint option --tree-layers is null/],
    ['keep', 'options', (v) => { v.keepCheckpoints = 0; }, /checkpoint option --keep-checkpoints is 0/],
    ['seed', 'options', (v) => { v.seed = 'x'; }, /checkpoint option --seed is "x"/],
    ['every', 'options', (v) => { v.checkpointEvery = { steps: -1 }; }, /checkpoint option --checkpoint-every is \{"steps":-1\}/],
    ['missing', 'options', (v) => { delete v.epochs; }, /checkpoint option --epochs is missing/],
    ['lr-scale', 'progress', (v) => { v.lrScale = -5; }, /checkpoint progress: lrScale must be in \[0, 1\], got -5/],
    ['history', 'progress', (v) => { v.history = [{}]; }, /checkpoint progress: history must list the finished epochs/],
    ['window', 'extra', (v) => { v.window = null; }, /checkpoint extra state: window/],
    // a number saved as the text its parser reads, and an open step window's accuracy that JSON wrote as null (NaN)
    ['lr-text', 'options', (v) => { v.lr = String(v.lr); }, /checkpoint option --lr is "0\.001"/],
    ['window-acc', 'extra', (v) => { v.window.acc = null; }, /checkpoint extra state: window must be \{loss, acc, steps\}/],
    ['checksum', 'progress', (v) => { v.lossSum = (v.lossSum as number) + 1; }, /the file is damaged: its contents do not match its checksum/],
  ];
  for (const [name, key, edit, why] of cases) {
    // the newest edited: skipped for the one before, from which the run goes on
    const out = tmp(`edited-${name}`);
    cpSync(base, out, { recursive: true });
    const newest = join(out, 'checkpoints', 'step-000000013.safetensors');
    editCheckpoint(newest, key, edit, name === 'checksum');
    const r = cli('train', '--resume', out, '--no-progress');
    assert.equal(r.status, 0, `${name}: ${describeRun(r)}`);
    assert.match(r.stderr, new RegExp(`warning: skipping checkpoint ${reEscape(newest)}: ${why.source}`), name);
    assert.match(r.stderr, /resuming .* \(step 10\)/, name);
    assert.ok(existsSync(join(out, 'model.safetensors')), name);
    // all edited: an error naming them, and nothing deleted
    const all = tmp(`edited-all-${name}`);
    cpSync(base, all, { recursive: true });
    for (const f of checkpoints(all)) editCheckpoint(join(all, 'checkpoints', f), key, edit, name === 'checksum');
    const a = cli('train', '--resume', all, '--no-progress');
    assert.equal(a.status, 2, `${name}: ${describeRun(a)}`);
    assert.match(a.stderr, /error: no valid checkpoint in .*checkpoints: step-000000013\.safetensors, step-000000010\.safetensors were all skipped \(see the warnings\)/);
    assert.equal(a.stderr.match(new RegExp(why.source, 'g'))?.length, 2, `${name}: each skipped with why: ${a.stderr}`);
    assert.ok(!/internal error/.test(a.stderr), a.stderr);
    assert.deepEqual(checkpoints(all), ['step-000000010.safetensors', 'step-000000013.safetensors'], `${name}: nothing deleted`);
  }
});

test('a folder another run is writing (its lock names a running process) is refused, new run or --resume; the lock goes with its run', () => {
  const out = tmp('locked');
  const first = cli(...SMALL, '--checkpoint-every', '5', '--out', out);
  assert.equal(first.status, 0, describeRun(first));
  assert.deepEqual(entries(out), RUN_FILES, 'no lock left behind by a run that ended');
  const before = RUN_FILES.map((f) => sha(join(out, f)));
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(out, '.treegate.lock'), `${holder.pid}\n`);
    expectUsageError([...SMALL, '--out', out], new RegExp(`${reEscape(out)} is in use by another treegate run \\(process ${holder.pid}, since .*\\): two runs there would mix their files`));
    expectUsageError(['train', '--resume', out], /is in use by another treegate run/);
    assert.deepEqual(RUN_FILES.map((f) => sha(join(out, f))), before, 'the run\'s files as they were');
  } finally {
    holder.kill('SIGKILL');
  }
});
