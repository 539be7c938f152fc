/**
 * `treegate train --keep-best` and `--patience`. --keep-best: the saved model is the epoch of the best validation accuracy's, result.json names it
 * and reports that epoch's figures; at a constant learning rate that model is the run stopped at that epoch, bit for
 * bit; resumed from a checkpoint written after it (the kept weights travel in the checkpoint) the run ends with the
 * same files. --patience: the run ends once that many epochs bring no gain, saying so, and a --resume of it has nothing
 * left to do. Where there is no validation set both are refused before anything is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { trainingReport } from '../../src/report/training.js';
import { epochsWithoutGain, type EpochMetrics } from '../../src/train/trainer.js';
import { cli, describeRun, expectUsageError, lastJson, tmp } from './run.js';

// MNIST's first 3 000 examples at a rate high enough that validation accuracy goes up and down: over 8 epochs the best
// comes before the last. On wasm, whose arithmetic WebAssembly defines (no fused multiply-add, one order of the lanes),
// the run is the same on every machine, and its best is epoch 7. native's depends on its instruction set: AVX-512's
// kernels peaked at epoch 3, but on a Zen 3 the AVX2 ones tied epochs 3, 6 and 8 at the top (0.92), so the test
// would have meant nothing there (the tie goes to the later epoch).
const ARGS = ['train', '--backend', 'wasm', '--limit', '3000', '--lr', '0.01', '--schedule', 'constant', '--no-progress', '--json'];
const EPOCHS = 8;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const epochLines = (out: string): EpochMetrics[] =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.type === 'epoch');

test('--keep-best saves the best validation epoch\'s weights (those of the run stopped there) and says which; a resume after it ends the same', () => {
  const out = tmp('keep-best');
  const r = cli(...ARGS, '--epochs', String(EPOCHS), '--keep-best', '--checkpoint-every', '40', '--keep-checkpoints', '10', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = lastJson(r);
  const epochs = epochLines(out);
  const accuracies = epochs.map((e) => e.validationAccuracy!);
  const best = accuracies.lastIndexOf(Math.max(...accuracies)) + 1; // (a tie goes to the later epoch)
  assert.ok(best < EPOCHS, `the run's best epoch must come before its last for the test to mean anything: ${accuracies}`);
  assert.equal(result.bestEpoch, best);
  assert.equal(result.validationAccuracy, accuracies[best - 1]);
  assert.equal(result.trainLoss, epochs[best - 1].trainLoss);
  assert.match(r.stderr, new RegExp(`kept the weights of epoch ${best} of ${EPOCHS}: validation accuracy ${(100 * accuracies[best - 1]).toFixed(2)}%, the best \\(the last epoch's ${(100 * accuracies[EPOCHS - 1]).toFixed(2)}%\\)`));
  assert.deepEqual(result.settings.keepBest, true);
  // the report says whose weights were saved and puts the test accuracy at that epoch's last step
  const report = trainingReport(out);
  assert.equal(report.meta['weights of epoch'], `${best} (the best validation accuracy, --keep-best)`);
  const star = report.sections[0].charts!.find((c) => c.title === 'accuracy')!.traces.find((t) => (t as { name?: string }).name === 'test') as { x: number[]; y: number[] };
  assert.deepEqual(star.x, [epochs[best - 1].step]);
  assert.equal(star.y[0], result.testAccuracy);

  const stopped = tmp('keep-best-stopped');
  const s = cli(...ARGS, '--epochs', String(best), '--out', stopped);
  assert.equal(s.status, 0, describeRun(s));
  assert.equal(lastJson(s).bestEpoch, undefined);
  assert.equal(sha(join(stopped, 'model.safetensors')), sha(join(out, 'model.safetensors')), 'the kept model is not the run stopped at its best epoch');
  assert.equal(lastJson(s).testAccuracy, result.testAccuracy);

  // resume from the first checkpoint past the best epoch (the kept weights are in it), the later ones and the files gone
  const stepsPerEpoch = Math.ceil(result.splits.training / 64);
  const names = readdirSync(join(out, 'checkpoints')).sort();
  const from = names.find((n) => Number(/\d+/.exec(n)![0]) > best * stepsPerEpoch && Number(/\d+/.exec(n)![0]) < EPOCHS * stepsPerEpoch)!;
  assert.ok(from, `a checkpoint after epoch ${best}: ${names}`);
  for (const n of names.filter((n) => n > from)) rmSync(join(out, 'checkpoints', n));
  const model = sha(join(out, 'model.safetensors'));
  for (const f of ['model.safetensors', 'result.json', 'metrics.jsonl']) rmSync(join(out, f));
  const resumed = cli('train', '--resume', out, '--no-progress', '--json');
  assert.equal(resumed.status, 0, describeRun(resumed));
  assert.equal(lastJson(resumed).bestEpoch, best);
  assert.equal(sha(join(out, 'model.safetensors')), model, 'the resumed run saved other weights');
});

test('--patience ends the run once the validation accuracy stops rising, with --keep-best the best epoch\'s model; --resume finds it finished', () => {
  const out = tmp('patience');
  const r = cli(...ARGS, '--epochs', '12', '--patience', '2', '--keep-best', '--checkpoint-every', '40', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const result = lastJson(r), epochs = epochLines(out), ran = epochs.length;
  assert.ok(ran < 12, `the run must stop early for the test to mean anything: ${ran} epochs`);
  assert.equal(result.stoppedAfterEpoch, ran);
  assert.equal(result.epochs, 12);
  assert.equal(epochsWithoutGain(epochs), 2);
  assert.ok(epochsWithoutGain(epochs.slice(0, -1)) < 2, 'it stopped late');
  const gain = ran - 2, accuracies = epochs.map((e) => e.validationAccuracy!);
  assert.match(r.stderr, new RegExp(`stopped after epoch ${ran} of 12 \\(--patience 2\\): no validation accuracy above epoch ${gain}'s ${(100 * accuracies[gain - 1]).toFixed(2)}% in the 2 epochs after it`));
  assert.equal(result.bestEpoch, accuracies.lastIndexOf(Math.max(...accuracies)) + 1);
  assert.equal(trainingReport(out).meta['stopped after epoch'], `${ran} (--patience)`);
  const stopped = tmp('patience-stopped');
  const s = cli(...ARGS, '--epochs', String(result.bestEpoch), '--out', stopped);
  assert.equal(s.status, 0, describeRun(s));
  assert.equal(sha(join(stopped, 'model.safetensors')), sha(join(out, 'model.safetensors')));
  const again = cli('train', '--resume', out, '--no-progress');
  assert.equal(again.status, 0, describeRun(again));
  assert.match(again.stderr, /already finished/);
});

test('--keep-best and --patience without a validation set are refused before the data is read', () => {
  expectUsageError(['train', '--keep-best', '--validation', '0', '--out', tmp('keep-best-none')], /--keep-best keeps the weights of the epoch with the best validation accuracy, and --validation 0 holds out none/);
  expectUsageError(['train', '--keep-best', '--dataset', 'memorization', '--out', tmp('keep-best-memo')], /--dataset memorization has no validation split/);
  expectUsageError(['train', '--patience', '3', '--validation', '0', '--out', tmp('patience-none')], /--patience stops training when the validation accuracy stops rising, and --validation 0 holds out none/);
  expectUsageError(['train', '--patience', '0', '--out', tmp('patience-zero')], /--patience/);
});
