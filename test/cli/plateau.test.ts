/**
 * `treegate train --schedule plateau`: each epoch's rate is --lr cut by --plateau-factor once for every
 * --plateau-patience epochs in a row without a validation gain (counted again after each cut), a line says when, and
 * result.json records the settings; impossible settings are refused before the data is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { plateauCuts, type EpochMetrics } from '../../src/train/trainer.js';
import { cli, describeRun, expectUsageError, lastJson, tmp } from './run.js';

test('--schedule plateau cuts the rate after the epochs without a gain, says so, and records its settings', () => {
  const out = tmp('plateau');
  // MNIST's first 3 000 examples on wasm (the same run on every machine): the validation accuracy stalls at epoch 4
  const r = cli('train', '--backend', 'wasm', '--limit', '3000', '--lr', '0.01', '--schedule', 'plateau', '--plateau-factor', '0.25',
    '--epochs', '8', '--no-progress', '--json', '--out', out);
  assert.equal(r.status, 0, describeRun(r));
  const epochs: EpochMetrics[] = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.type === 'epoch');
  const cuts = plateauCuts(epochs.slice(0, -1), 1);
  assert.ok(cuts >= 1, `a cut before the last epoch for the test to mean anything: ${epochs.map((e) => e.validationAccuracy)}`);
  epochs.forEach((e, i) => assert.equal(e.lr, 0.01 * 0.25 ** plateauCuts(epochs.slice(0, i), 1), `epoch ${e.epoch}'s rate`));
  const lines = r.stderr.split('\n').filter((l) => l.includes('--schedule plateau'));
  assert.equal(lines.length, cuts, r.stderr);
  const first = epochs.findIndex((_, i) => plateauCuts(epochs.slice(0, i + 1), 1) === 1) + 1;
  assert.match(lines[0], new RegExp(`^treegate: learning rate 0\\.0025 from epoch ${first + 1} \\(--schedule plateau, cut 1\\): no validation accuracy above epoch \\d+'s \\d+\\.\\d\\d% in the 1 epoch after it$`));
  const settings = lastJson(r).settings;
  assert.equal(settings.schedule, 'plateau');
  assert.equal(settings.plateauFactor, 0.25);
  assert.equal(settings.plateauPatience, 1);
  // other schedules record no plateau settings
  const c = cli('train', '--limit', '200', '--epochs', '1', '--hidden', '8', '--no-progress', '--json', '--out', tmp('plateau-cosine'));
  assert.equal(c.status, 0, describeRun(c));
  assert.equal(lastJson(c).settings.plateauFactor, undefined);
});

test('--schedule plateau: refused without a validation set, its settings refused with another schedule or out of range', () => {
  expectUsageError(['train', '--schedule', 'plateau', '--validation', '0', '--out', tmp('plateau-none')],
    /--schedule plateau cuts the learning rate when the validation accuracy stops rising, and --validation 0 holds out none/);
  expectUsageError(['train', '--plateau-factor', '0.5', '--out', tmp('plateau-cosine-factor')], /--plateau-factor .*--schedule cosine/);
  expectUsageError(['train', '--schedule', 'constant', '--plateau-patience', '2', '--out', tmp('plateau-constant')], /--plateau-patience .*--schedule constant/);
  for (const f of ['1', '0', '-0.5', '2']) expectUsageError(['train', '--schedule', 'plateau', '--plateau-factor', f, '--out', tmp('plateau-factor')], /--plateau-factor/);
  expectUsageError(['train', '--schedule', 'plateau', '--plateau-patience', '0', '--out', tmp('plateau-patience')], /--plateau-patience/);
});
