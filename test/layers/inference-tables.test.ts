/**
 * InferenceTables: a layer's inference tables are rebuilt when its parameters or its backend change, the backend
 * told by the object, not its name (a second wasm backend, as useWasm makes, is named wasm too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend, type Backend } from '../../src/kernels/backend.js';
import { InferenceTables } from '../../src/layers/inference.js';
import { Param } from '../../src/layers/param.js';

test('inference tables are rebuilt for another backend of the same name, and for new weights; reused otherwise', () => {
  const tables = new InferenceTables<string>(), p = new Param('w', [2, 2]);
  const first: Backend = { ...jsBackend }, second: Backend = { ...jsBackend }; // both named js
  const built: Array<[Backend, string | null]> = [];
  const build = (be: Backend, previous: string | null): string => {
    built.push([be, previous]);
    return `tables ${built.length}`;
  };
  assert.equal(tables.get(first, [p], build), 'tables 1');
  assert.equal(tables.get(first, [p], build), 'tables 1', 'the same backend and weights: the same tables');
  assert.equal(tables.get(second, [p], build), 'tables 2', 'another backend named alike: its own tables');
  assert.equal(built[1][1], null, 'not written into the other backend\'s tables');
  p.version++; // (what an optimizer step does)
  assert.equal(tables.get(second, [p], build), 'tables 3', 'new weights: new tables');
  assert.equal(built[2][1], 'tables 2', 'written into the same backend\'s old tables');
  assert.equal(tables.get(second, [p], build), 'tables 3', 'the tables of the new weights kept while they stay (not rebuilt on every call)');
  p.version++;
  assert.equal(tables.get(second, [p], build), 'tables 4', 'newer weights: newer tables');
  assert.equal(tables.get(second, [p], build), 'tables 4');
  assert.equal(built.length, 4);
});
