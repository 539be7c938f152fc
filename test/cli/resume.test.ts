/**
 * Long runs that survive (issue 5): a child `treegate train` with checkpoints
 * is interrupted at a random step — SIGINT, SIGKILL, two SIGINTs at once — and
 * `--resume` must end with the weights of the uninterrupted run, bit for bit;
 * a corrupted newest checkpoint is skipped for the previous one; a NaN stops
 * the run with the layer and step named (or is skipped on request).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { nativeBackend } from '../../src/kernels/native/index.js';
import { cli, cliChild, cliEnv, describeRun, expectUsageError, HINT_CLI, reEscape, ROOT, shellLine, tmp } from './run.js';

// a memorization task (no dataset to load) that takes a few seconds with a checkpoint every 10 steps
const ARGS = ['train', '--dataset', 'memorization', '--examples', '2400', '--input-size', '48', '--classes', '10', '--hidden', '96,96',
  '--depth', '4', '--epochs', '5', '--batch-size', '32', '--checkpoint-every', '10', '--no-progress'];
const TOTAL_STEPS = 5 * Math.ceil(2400 / 32);

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const checkpoints = (out: string): string[] => {
  try {
    return readdirSync(join(out, 'checkpoints')).filter((n) => /^step-\d+\.safetensors$/.test(n)).sort();
  } catch {
    return [];
  }
};
/** metrics.jsonl without the wall-clock fields, which differ between runs. */
const metrics = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').replace(/"seconds":[0-9.e+-]+/g, '"seconds":0');

let reference: { hash: string; metrics: string } | null = null;
function uninterrupted(): { hash: string; metrics: string } {
  if (!reference) {
    const out = tmp('reference');
    const r = cli(...ARGS, '--out', out);
    assert.equal(r.status, 0, describeRun(r));
    reference = { hash: sha(join(out, 'model.safetensors')), metrics: metrics(out) };
  }
  return reference;
}

/** Starts a run and sends `signals` once its newest checkpoint has reached `atStep`; resolves with the exit code and stderr. */
function interrupt(out: string, atStep: number, signals: NodeJS.Signals[], args = ARGS): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = cliChild({}, ...args, '--out', out);
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    const poll = setInterval(() => {
      const last = checkpoints(out).pop();
      if (last && Number(/\d+/.exec(last)![0]) >= atStep) {
        clearInterval(poll);
        for (const s of signals) child.kill(s);
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

/** Resumes the run in `out` (with `command`, a resume command a hint printed, where given) and compares it with the uninterrupted run. */
function resumeAndCompare(out: string, what: string, expectWarning?: RegExp, command?: string): void {
  const r = command ? shellLine(`${command} --no-progress`) : cli('train', '--resume', out, '--no-progress');
  assert.equal(r.status, 0, `${what}: resume: ${describeRun(r)}`);
  assert.match(r.stderr, /treegate: resuming .* from .*step-\d+\.safetensors/);
  if (expectWarning) assert.match(r.stderr, expectWarning, `${what}: warning`);
  const ref = uninterrupted();
  assert.equal(sha(join(out, 'model.safetensors')), ref.hash, `${what}: resumed weights are bit-identical to the uninterrupted run's`);
  assert.equal(metrics(out), ref.metrics, `${what}: same metrics log`);
}

// the interruption steps are drawn from this seed; it is printed so that a failure can be rerun with it
const SEED = Number(process.env.TREEGATE_TEST_SEED ?? Date.now() % 1e6);
console.log(`# resume tests: interruption steps drawn with TREEGATE_TEST_SEED=${SEED}`);
const rng = new Rng(SEED);
const randomStep = () => 20 + rng.int(Math.floor(TOTAL_STEPS * 0.7));

test('SIGINT at a random step: checkpoint, exit 130 with the resume command; --resume ends bit-identical', async () => {
  const out = tmp('sigint');
  const at = randomStep();
  const r = await interrupt(out, at, ['SIGINT']);
  assert.equal(r.code, 130, `interrupted at step ≥ ${at}: ${r.stderr}`);
  assert.match(r.stderr, /SIGINT: finishing the current step and writing a checkpoint/);
  // the command that started it (node, its flags, the script), which the shell runs as printed
  const hint = /resume with: (.*)/.exec(r.stderr)?.[1];
  assert.equal(hint, `${HINT_CLI} train --resume ${out}`, r.stderr);
  // its report so far, from the newest checkpoint's metrics lines (metrics.jsonl comes when it finishes); the page
  // in its folder does not stop the resume
  const step = Number(/step-(\d+)\.safetensors/.exec(checkpoints(out).pop()!)![1]);
  const report = cli('report', out);
  assert.equal(report.status, 0, describeRun(report));
  assert.match(report.stderr, new RegExp(`${reEscape(out)} has not finished: the report shows it up to step ${step}, its newest checkpoint; .* train --resume`));
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(page, /<title>treegate training run: .* \(not finished\)<\/title>/);
  assert.match(page, new RegExp(`every figure comes from the metrics its newest checkpoint saved, at step ${step}`));
  // how it is trained, as its checkpoint says: the settings, the command, the backend and the code (as a finished run's page)
  for (const [k, v] of [['dataset', 'memorization'], ['epochs', '5'], ['settings', '[^<]*--batch-size 32 [^<]*--checkpoint-every 10[^<]*'],
    ['command', 'treegate train --dataset memorization --examples 2400 [^<]*'], ['backend', '(native|wasm|js)'], ['treegate', '[^<]*code sha256 [0-9a-f]{16}']]) {
    assert.match(page, new RegExp(`<dt>${k}</dt><dd>${v}</dd>`), `${k}: ${/<dl>.*<\/dl>/.exec(page)?.[0]}`);
  }
  assert.ok(!existsSync(join(out, 'metrics.jsonl')));
  resumeAndCompare(out, `SIGINT at step ≥ ${at}`, undefined, hint);
});

test('--resume goes on with the backend the run trained on; another one, named, is said to change the model', async () => {
  const js = [...ARGS, '--backend', 'js'];
  const reference = tmp('backend-reference');
  assert.equal(cli(...js, '--out', reference).status, 0);
  const out = tmp('backend-kept');
  assert.equal((await interrupt(out, 40, ['SIGINT'], js)).code, 130);
  const kept = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(kept.status, 0, describeRun(kept));
  assert.doesNotMatch(kept.stderr, /warning/);
  const result = JSON.parse(kept.stdout.trim().split('\n').pop()!);
  assert.equal(result.backend, 'js');
  assert.equal(result.backends, undefined, 'one backend: no list');
  assert.equal(sha(join(out, 'model.safetensors')), sha(join(reference, 'model.safetensors')), 'bit-identical to the uninterrupted js run');
  const other = tmp('backend-changed');
  assert.equal((await interrupt(other, 40, ['SIGINT'], js)).code, 130);
  const moved = cli('train', '--resume', other, '--backend', 'wasm', '--no-progress', '--json');
  assert.equal(moved.status, 0, describeRun(moved));
  assert.match(moved.stderr, /warning: the run trained on the js backend until step \d+, and goes on on wasm: its model will differ by rounding from a run on one backend \(--backend js goes on bit for bit\)/);
  assert.deepEqual(JSON.parse(moved.stdout.trim().split('\n').pop()!).backends, ['js', 'wasm']);
});

test('--resume on the native addon\'s other instruction set (TREEGATE_NATIVE_ISA, or another CPU) is said to change the model', { skip: nativeBackend() ? false : 'no native addon' }, async () => {
  const isa = nativeBackend()!.info().isa, other = isa === 'generic' ? null : 'generic';
  const out = tmp('isa-changed'), native = [...ARGS, '--backend', 'native'];
  assert.equal((await interrupt(out, 40, ['SIGINT'], native)).code, 130);
  const same = cli('train', '--resume', out, '--no-progress', '--json');
  assert.doesNotMatch(same.stderr, /warning/, describeRun(same));
  assert.equal(JSON.parse(same.stdout.trim().split('\n').pop()!).isa, isa, 'result.json names the instruction set');
  if (other === null) return; // (a CPU with neither AVX2 nor AVX-512 has one set)
  const moved = tmp('isa-moved');
  assert.equal((await interrupt(moved, 40, ['SIGINT'], native)).code, 130);
  const r = cliEnv({ TREEGATE_NATIVE_ISA: other }, 'train', '--resume', moved, '--no-progress', '--json');
  assert.equal(r.status, 0, describeRun(r));
  assert.match(r.stderr, new RegExp(`warning: the run trained on the native backend's ${isa} kernels until step \\d+, and goes on on its generic kernels \\(TREEGATE_NATIVE_ISA, or another CPU\\): its model will differ by rounding`));
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).isa, 'generic');
});

test('--resume under other treegate code (another checkout) is said to possibly change the model; result.json records each code and its date', async () => {
  const out = tmp('code-changed');
  assert.equal((await interrupt(out, 40, ['SIGINT'])).code, 130);
  // another checkout: this one's code with a comment added, so its code hash differs (and, with no .git, no commit)
  const other = tmp('other-checkout');
  mkdirSync(other);
  cpSync(join(ROOT, 'src'), join(other, 'src'), { recursive: true });
  appendFileSync(join(other, 'src', 'index.ts'), '// another checkout\n');
  copyFileSync(join(ROOT, 'package.json'), join(other, 'package.json'));
  for (const d of ['node_modules', 'build', 'wasm']) if (existsSync(join(ROOT, d))) symlinkSync(join(ROOT, d), join(other, d));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(other, 'src', 'cli', 'main.ts'), 'train', '--resume', out, '--no-progress', '--json'],
    { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, describeRun(r));
  const m = /warning: the run was trained by treegate (\S+)(?: at commit [0-9a-f]{12})? \(code ([0-9a-f]{16})\) until step (\d+), and goes on under treegate \1 \(code ([0-9a-f]{16})\): its model may differ from a run under one treegate \(resume it with the treegate it started with to go on bit for bit\)/.exec(r.stderr);
  assert.ok(m, describeRun(r));
  assert.notEqual(m[2], m[4]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(result.trainedBy.map((t: { code: string; fromStep: number }) => [t.code, t.fromStep]), [[m[2], 0], [m[4], Number(m[3])]]);
  assert.equal(result.provenance.code, m[4], 'provenance: the code that finished it');
  assert.ok(Math.abs(Date.parse(result.date) - Date.now()) < 600_000, `date: when it finished (${result.date})`);
  assert.equal(sha(join(out, 'model.safetensors')), uninterrupted().hash, 'a comment changes no bits');
  const page = cli('report', out);
  assert.equal(page.status, 0, describeRun(page));
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), new RegExp(`code sha256 ${m[2]} from step 0; then [^<]*code sha256 ${m[4]} from step ${m[3]}`));
});

test('SIGKILL at a random step leaves the last checkpoint loadable; --resume ends bit-identical', async () => {
  const out = tmp('sigkill');
  const at = randomStep();
  const r = await interrupt(out, at, ['SIGKILL']);
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  resumeAndCompare(out, `SIGKILL at step ≥ ${at}`);
});

test('two SIGINTs sent at once (as GNU timeout sends its signal to a run and to its group) are one stop: a checkpoint, exit 130; SIGTERM exits 143', async () => {
  const out = tmp('twice');
  const r = await interrupt(out, randomStep(), ['SIGINT', 'SIGINT']);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: finishing the current step[^\n]*\n(.*\n)*treegate: interrupted at step \d+; checkpoint .*\ntreegate: resume with: /);
  // resumed on one thread: the thread count is this process's to choose, and the model does not depend on it
  resumeAndCompare(out, 'two SIGINTs, resumed with --threads 1', undefined, `${HINT_CLI} train --resume ${out} --threads 1`);
  const t = await interrupt(tmp('sigterm'), randomStep(), ['SIGTERM']);
  assert.equal(t.code, 143, t.stderr);
});

test('a corrupted newest checkpoint is skipped with a warning naming it; the run resumes from the one before', async () => {
  const out = tmp('corrupt');
  const r = await interrupt(out, randomStep(), ['SIGKILL']);
  assert.equal(r.signal, 'SIGKILL');
  const files = checkpoints(out);
  assert.ok(files.length >= 2, `need two checkpoints, have ${files}`);
  const newest = join(out, 'checkpoints', files[files.length - 1]);
  const bytes = readFileSync(newest);
  bytes[bytes.length - 5] ^= 0xff; // a flipped byte in the last tensor: still a valid container, but a corrupt value or count
  writeFileSync(newest, bytes.subarray(0, bytes.length - 3)); // … and truncated
  resumeAndCompare(out, 'corrupted newest', new RegExp(`warning: skipping checkpoint ${newest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
});

test('a checkpoint that cannot be written stops the run with exit 2; the previous checkpoints stay loadable', () => {
  const out = tmp('unwritable');
  // a directory where the checkpoint of step 30 will go: its rename fails (as a full disk would fail the write)
  mkdirSync(join(out, 'checkpoints', 'step-000000030.safetensors'), { recursive: true });
  const r = cli(...ARGS, '--out', out);
  assert.equal(r.status, 2, describeRun(r));
  assert.match(r.stderr, /error: cannot write .*step-000000030\.safetensors/);
  assert.match(r.stderr, new RegExp(`resume from the last checkpoint, step-000000020\\.safetensors \\(intact\\): ${reEscape(HINT_CLI)} train --resume ${reEscape(out)}`));
  assert.deepEqual(checkpoints(out), ['step-000000010.safetensors', 'step-000000020.safetensors', 'step-000000030.safetensors'],
    'the two written checkpoints (and the directory in the way)');
  rmSync(join(out, 'checkpoints', 'step-000000030.safetensors'), { recursive: true });
  // the checkpoint folder given for the run's: named, with the run's folder
  expectUsageError(['train', '--resume', join(out, 'checkpoints')], new RegExp(`is a run's checkpoint folder: pass the run's folder, --resume ${reEscape(out)}\\)`));
  resumeAndCompare(out, 'after a failed checkpoint write');
});

test('NaN: the run stops naming the layer and step, exit 3, last good checkpoint kept; --on-nonfinite skip goes on', () => {
  const out = tmp('nan');
  const r = cliEnv({ TREEGATE_FAULT_NAN: 'weight:37' }, ...ARGS, '--out', out);
  assert.equal(r.status, 3, describeRun(r));
  assert.match(r.stderr, /error: training loss became NaN at epoch 1, step 37: non-finite value in weight layers\.0\.weight/);
  assert.match(r.stderr, /the last good checkpoint is .*step-000000030\.safetensors/);
  const resumed = cli('train', '--resume', out, '--no-progress');
  assert.equal(resumed.status, 0, 'the last good checkpoint resumes');
  const g = cliEnv({ TREEGATE_FAULT_NAN: 'input:12' }, ...ARGS, '--out', tmp('nan-grad'));
  assert.equal(g.status, 3, describeRun(g));
  assert.match(g.stderr, /step 12: non-finite value in the input of training example \d+ \(feature 0 is NaN\)/);
  assert.match(g.stderr, /^treegate: fix or drop that example of the data, or drop such steps with --on-nonfinite skip/m, 'not: lower --lr');
  const s = cliEnv({ TREEGATE_FAULT_NAN: 'input:12' }, ...ARGS, '--out', tmp('nan-skip'), '--on-nonfinite', 'skip', '--json');
  assert.equal(s.status, 0, describeRun(s));
  assert.match(s.stderr, /warning: non-finite loss at step 12: step skipped, learning rate halved/);
  // an epoch of one step, skipped: no training figures for it, and the run's log still renders
  const one = tmp('nan-epoch');
  const e = cliEnv({ TREEGATE_FAULT_NAN: 'input:2' }, ...ARGS, '--examples', '32', '--epochs', '3', '--out', one, '--on-nonfinite', 'skip');
  assert.equal(e.status, 0, describeRun(e));
  assert.match(e.stderr, /^epoch 2\/3: every training step skipped, /m);
  const report = cli('report', one);
  assert.equal(report.status, 0, describeRun(report));
  // a run whose every step was skipped trained nothing: exit 3, no model, and not the advice to skip
  const none = tmp('nan-all');
  const a = cliEnv({ TREEGATE_FAULT_NAN: 'input:1' }, ...ARGS, '--examples', '32', '--epochs', '1', '--out', none, '--on-nonfinite', 'skip', '--json');
  assert.equal(a.status, 3, describeRun(a));
  assert.match(a.stderr, /^treegate: error: the run's only training step had a non-finite loss and was skipped \(the last: non-finite value in the input of training example \d+ \(feature 0 is NaN\)\): the weights are the ones training started from; no model was saved$/m);
  assert.match(a.stderr, /^treegate: fix or drop those examples of the data$/m);
  assert.equal(a.stdout, '');
  assert.ok(!existsSync(join(none, 'model.safetensors')));
});

test('checkpoint options: bad values and a folder with another run\'s checkpoints exit 2', async () => {
  expectUsageError(['train', '--checkpoint-every', '0'], /--checkpoint-every.*expected a step count/);
  expectUsageError(['train', '--checkpoint-every', '5x'], /expected a step count/);
  // steps are whole (minutes need not be): refused before a run (a tiny one, should it start)
  expectUsageError(['train', '--dataset', 'memorization', '--examples', '100', '--input-size', '8', '--classes', '3', '--hidden', '8', '--epochs', '1',
    '--no-progress', '--out', tmp('fractional'), '--checkpoint-every', '2.5'], /--checkpoint-every.*expected a step count/);
  expectUsageError(['train', '--checkpoint-every', '1e400m'], /expected a step count/); // Infinity minutes: a checkpoint could not record it
  const missing = tmp('nothing');
  expectUsageError(['train', '--resume', missing], new RegExp(`${reEscape(missing)} does not exist \\(pass the --out folder of the run to resume\\)`));
  mkdirSync(missing);
  expectUsageError(['train', '--resume', missing], /no checkpoint in .*checkpoints \(a run writes checkpoints with --checkpoint-every, and when Ctrl-C or SIGTERM stops it/);
  const out = tmp('again');
  const r = await interrupt(out, 20, ['SIGKILL']);
  assert.equal(r.signal, 'SIGKILL');
  expectUsageError([...ARGS, '--out', out], new RegExp(`checkpoints holds checkpoints of an earlier run that has not finished \\(continue it with ${reEscape(HINT_CLI)} train --resume`));
  // every 60 ns, i.e. after every step (no step is that fast), of which the newest 3 are kept
  // (the options parser takes the last --checkpoint-every)
  const minutes = tmp('minutes');
  const m = cli(...ARGS, '--checkpoint-every', '0.000000001m', '--epochs', '1', '--out', minutes);
  assert.equal(m.status, 0, describeRun(m));
  // … and the last, of the finished run, after its files
  assert.deepEqual(checkpoints(minutes), ['step-000000073.safetensors', 'step-000000074.safetensors', 'step-000000075.safetensors']);
  // so a resume of the finished run has nothing to do: it says so and leaves the files alone
  const model = sha(join(minutes, 'model.safetensors'));
  const again = cli('train', '--resume', minutes, '--no-progress', '--json');
  assert.equal(again.status, 0, describeRun(again));
  assert.match(again.stderr, /the run in .* is already finished \(step 75\)/);
  assert.doesNotMatch(again.stderr, /epoch \d/, 'no training');
  assert.equal(sha(join(minutes, 'model.safetensors')), model);
  assert.deepEqual(JSON.parse(again.stdout.trim().split('\n').pop()!), JSON.parse(readFileSync(join(minutes, 'result.json'), 'utf8')));
});

/** ARGS without --checkpoint-every: a checkpoint only when interrupted. */
const PLAIN = ARGS.filter((a, i) => a !== '--checkpoint-every' && ARGS[i - 1] !== '--checkpoint-every');

/** Starts a run of PLAIN and sends `signal` once its stderr has shown the first epoch's line. */
function interruptAfterEpoch(out: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = cliChild({}, ...PLAIN, '--out', out);
    let stderr = '', sent = false;
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (!sent && /epoch 1\/5/.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('without --checkpoint-every, SIGINT still writes a checkpoint to resume from (not into another run\'s folder)', async () => {
  const out = tmp('plain');
  const r = await interruptAfterEpoch(out, 'SIGINT');
  assert.equal(r.code, 130, r.stderr);
  assert.equal(checkpoints(out).length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`resume with: ${reEscape(HINT_CLI)} train --resume `));
  resumeAndCompare(out, 'SIGINT without --checkpoint-every');
  // the resumed run ends with a checkpoint of its end, as one started with --checkpoint-every: a second --resume has nothing to do
  const done = cli('train', '--resume', out, '--no-progress');
  assert.equal(done.status, 0, describeRun(done));
  assert.match(done.stderr, /the run in .* is already finished \(step 375\)/);
  assert.doesNotMatch(done.stderr, /epoch \d/, 'no training');

  const earlier = tmp('earlier');
  assert.equal((await interrupt(earlier, 20, ['SIGKILL'])).code, null);
  const before = checkpoints(earlier);
  const t = await interruptAfterEpoch(earlier, 'SIGTERM');
  assert.equal(t.code, 143, t.stderr);
  assert.match(t.stderr, /warning: .*checkpoints holds the checkpoints of an earlier run that has not finished: --resume .* would continue that run, not this one/);
  assert.match(t.stderr, /no checkpoint written: .*checkpoints holds an earlier run's/);
  assert.deepEqual(checkpoints(earlier), before, 'the earlier run\'s checkpoints are untouched');
});

test('a finished run\'s checkpoints are replaced by the next run in its folder; an unfinished run does not resume over a later run\'s files', async () => {
  const one = [...ARGS, '--epochs', '1'];
  const out = tmp('finished');
  assert.equal(cli(...one, '--out', out).status, 0);
  assert.equal(checkpoints(out).at(-1), 'step-000000075.safetensors', 'the finished run ends with a checkpoint');
  // the same folder again, with --checkpoint-every (another batch size: other step numbers)
  const again = cli(...one, '--batch-size', '48', '--out', out);
  assert.equal(again.status, 0, describeRun(again));
  assert.match(again.stderr, /removed the 3 checkpoints of the earlier, finished run in .*checkpoints/);
  assert.deepEqual(checkpoints(out), ['step-000000030.safetensors', 'step-000000040.safetensors', 'step-000000050.safetensors'], 'this run\'s alone');
  assert.match(cli('train', '--resume', out, '--no-progress').stderr, /already finished \(step 50\)/);
  // and without: its files, then none of the finished run's checkpoints
  const plain = cli(...PLAIN, '--epochs', '1', '--out', out);
  assert.equal(plain.status, 0, describeRun(plain));
  assert.doesNotMatch(plain.stderr, /warning/);
  assert.deepEqual(checkpoints(out), []);

  // an unfinished run, then another run in its folder: resuming the first would replace the second's files
  const stopped = tmp('stopped');
  assert.equal((await interrupt(stopped, 20, ['SIGKILL'])).signal, 'SIGKILL');
  const later = cli(...PLAIN, '--epochs', '1', '--out', stopped);
  assert.equal(later.status, 0, describeRun(later));
  const model = sha(join(stopped, 'model.safetensors'));
  const refused = cli('train', '--resume', stopped, '--no-progress');
  assert.equal(refused.status, 2, describeRun(refused));
  assert.doesNotMatch(refused.stderr, /epoch \d/, 'no training');
  assert.match(refused.stderr, /error: .* holds the files of another run, written after the run there stopped at step \d+: resuming would replace them \(move model\.safetensors, metrics\.jsonl, result\.json out of/);
  assert.equal(sha(join(stopped, 'model.safetensors')), model, 'the later run\'s model is untouched');
  // moved away, the interrupted run goes on, bit for bit
  for (const f of ['model.safetensors', 'metrics.jsonl', 'result.json']) rmSync(join(stopped, f));
  resumeAndCompare(stopped, 'resumed once the later run\'s files were moved');

  // a run whose final checkpoint is not written (after its files): a warning; it resumes from the one before, over its own files
  const unfinished = tmp('no-final-checkpoint');
  mkdirSync(join(unfinished, 'checkpoints', 'step-000000075.safetensors'), { recursive: true });
  const failed = cli(...one, '--out', unfinished);
  assert.equal(failed.status, 0, describeRun(failed));
  assert.match(failed.stderr, /warning: the run's files are written, but not its final checkpoint: cannot write .*step-000000075\.safetensors.*; --resume .* would take the steps after step-000000070\.safetensors again and write the same files/);
  const written = sha(join(unfinished, 'model.safetensors'));
  rmSync(join(unfinished, 'checkpoints', 'step-000000075.safetensors'), { recursive: true });
  const resumed = cli('train', '--resume', unfinished, '--no-progress');
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.equal(sha(join(unfinished, 'model.safetensors')), written, 'the same model again');
  assert.match(cli('train', '--resume', unfinished, '--no-progress').stderr, /already finished \(step 75\)/);
});

test('--resume on data that changed since the run began is refused (exit 2), before any step; on the same data it goes on', () => {
  const csv = tmp('resume-data.csv'), rng = new Rng(4);
  const rows = Array.from({ length: 120 }, () => [rng.uniform(), rng.uniform(), rng.uniform()]);
  const text = (first: number) => ['a,b,c,label', ...rows.map((x, i) => `${i === 0 ? first : x[0]},${x[1]},${x[2]},${x[0] > 0.5 ? 1 : 0}`)].join('\n') + '\n';
  writeFileSync(csv, text(rows[0][0]));
  const out = tmp('resume-data');
  const r = cli('train', '--dataset', 'csv', '--csv', csv, '--epochs', '4', '--hidden', '8', '--depth', '2', '--batch-size', '16',
    '--checkpoint-every', '5', '--no-progress', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  for (const f of ['model.safetensors', 'result.json', 'metrics.jsonl']) rmSync(join(out, f)); // a resume writes them again
  writeFileSync(csv, text(rows[0][0] + 0.25)); // one value of one example
  const changed = cli('train', '--resume', out, '--no-progress');
  assert.equal(changed.status, 2, describeRun(changed));
  assert.match(changed.stderr, new RegExp(`error: the data differs from what the run in ${reEscape(out)} started with: a file it reads \\(--csv, --test-csv\\) changed since`));
  assert.doesNotMatch(changed.stderr, /internal error/);
  writeFileSync(csv, text(rows[0][0]));
  const again = cli('train', '--resume', out, '--no-progress');
  assert.equal(again.status, 0, describeRun(again));
});
