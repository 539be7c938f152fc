/**
 * dataShape's check of a CSV file's classes before any run: the training examples must hold every class, where
 * they are the examples a seed does not test on, its validation split among them (each seed draws its own: a class
 * the check's draw holds out for validation alone is trained on by others). The experiments mutation round's X41,
 * the validation split left out of the classes counted, survived the suite: no file had a class only there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { prepareData } from '../../src/data/prepare.js';
import { dataShape } from '../../src/experiments/common.js';

/** 36 examples of classes a and b in turn, but the row `at`, the one example of class c (a header first). */
function oneOfC(dir: string, at: number): string {
  const csv = join(dir, `c-at-${at}.csv`);
  const rows = Array.from({ length: 36 }, (_, i) => `${i % 5},${(i * 7) % 11},${i === at ? 'c' : i % 2 ? 'b' : 'a'}`);
  writeFileSync(csv, ['x,y,label', ...rows].join('\n') + '\n');
  return csv;
}

/** The splits that hold class c, as dataShape's draw (Rng(0)) makes them. */
function splitsOfC(csv: string): string[] {
  const d = prepareData({ dataset: 'csv', csv }, new Rng(0)), c = d.labels!.indexOf('c');
  return (['train', 'validation', 'test'] as const).filter((s) => d[s].y.includes(c));
}

test('a CSV file\'s class present only in the validation split is one the training examples hold; only in the test split, it is refused', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-data-shape-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inValidation = oneOfC(dir, 14), inTest = oneOfC(dir, 0);
  assert.deepEqual(splitsOfC(inValidation), ['validation'], 'the draw holds c out for validation (the file needs another row if the draw changed)');
  assert.deepEqual(splitsOfC(inTest), ['test'], 'the draw holds c out for the test (likewise)');
  const shape = (csv: string) => dataShape({ name: csv, prepare: { dataset: 'csv', csv } }, undefined, () => {});
  const s = shape(inValidation);
  assert.equal(s.numClasses, 3);
  assert.deepEqual(s.splits, { train: 27, validation: 3, test: 6 });
  assert.throws(() => shape(inTest), (e: Error) => e.message.includes(`${inTest}: the training examples hold 2 of its 3 classes`));
});
