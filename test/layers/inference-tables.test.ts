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

test('tables of another backend go back to the backend that made them when the backend changes, but for the parameters\' own arrays', () => {
  const p = new Param('w', [2, 2]);
  const released: Array<[string, Float32Array]> = [];
  const first: Backend = { ...jsBackend, release: (a) => { released.push(['first', a]); } };
  const second: Backend = { ...jsBackend, release: (a) => { released.push(['second', a]); } };
  // a layer's tables: one array of its own, and one that is the parameter's array (k = 0, flat, plain packNodes)
  const tables = new InferenceTables<Float32Array[]>((t) => t);
  const made: Float32Array[][] = [];
  const build = (): Float32Array[] => {
    made.push([new Float32Array(4), p.data]);
    return made[made.length - 1];
  };
  tables.get(first, [p], build);
  tables.get(first, [p], build);
  p.version++;
  tables.get(first, [p], build); // rebuilt for new weights on the same backend: written into the old ones, nothing released
  assert.deepEqual(released, []);
  tables.get(second, [p], build);
  assert.equal(released.length, 1, 'the first backend\'s table given back to it, the parameter\'s array kept');
  assert.equal(released[0][0], 'first');
  assert.equal(released[0][1], made[1][0]);
  tables.get(first, [p], build);
  assert.equal(released.length, 2);
  assert.equal(released[1][0], 'second');
  assert.equal(released[1][1], made[2][0]);
});
