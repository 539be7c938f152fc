/**
 * The checks every loader and option shares (src/core/errors.ts) and a normalization's (src/core/normalization.ts),
 * at their edges: what a message shows of a value, the ranges they name, permissions, and a normalization's lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNumber, checkPositive, isPermissionError, shown, unreadableHint, TreegateError } from '../../src/core/errors.js';
import { normalizationProblem } from '../../src/core/normalization.js';

test('shown keeps a string of 40 characters whole and cuts one of 41; checkNumber and checkPositive refuse ±Infinity and name their range', () => {
  const forty = 'a'.repeat(40);
  assert.equal(shown(forty), JSON.stringify(forty));
  assert.equal(shown(forty + 'b'), `${JSON.stringify(forty)}… (41 characters)`);
  const refused = (f: () => unknown, message: string) =>
    assert.throws(f, (e: unknown) => e instanceof TreegateError && e.message === message, message);
  refused(() => checkPositive(Infinity, 'the learning rate'), 'the learning rate must be a finite number > 0, got Infinity');
  refused(() => checkNumber(Infinity, 'x', 0), 'x must be a finite number ≥ 0, got Infinity');
  refused(() => checkNumber(-Infinity, 'x'), 'x must be a finite number, got -Infinity');
  refused(() => checkNumber(2, 'x', -Infinity, 1), 'x must be a finite number ≤ 1, got 2');
  assert.equal(checkNumber(-1e300, 'x'), -1e300);
});

test('EPERM is a permission error as EACCES is, with the hint; other codes are not', () => {
  for (const code of ['EACCES', 'EPERM']) {
    assert.equal(isPermissionError(Object.assign(new Error('no'), { code })), true, code);
    assert.match(unreadableHint(Object.assign(new Error('no'), { code })) ?? '', /this user may not read it/);
  }
  assert.equal(isPermissionError(Object.assign(new Error('no'), { code: 'ENOENT' })), false);
});

test('normalizationProblem: a list of one value too many, a bad first value, an array in place of the object', () => {
  const nz = (over: object) => ({ scale: 1, mean: [0, 0, 0], std: [1, 1, 1], ...over });
  assert.equal(normalizationProblem(nz({}), 3), undefined);
  assert.equal(normalizationProblem(nz({ mean: [0, 0, 0, 0] }), 3), 'normalization.mean holds 4 values, the model has 3 features (one each, or one number for all)');
  assert.equal(normalizationProblem(nz({ std: [0, 1, 1] }), 3), 'normalization.std[0] is 0, must be a finite number ≥ 1e-30');
  assert.equal(normalizationProblem(nz({ mean: [NaN, 0, 0] }), 3), 'normalization.mean[0] is NaN, must be a finite number');
  assert.equal(normalizationProblem([1, 0, 1], 3), 'normalization is not an object');
});
