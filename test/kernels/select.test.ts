/**
 * A backend registered before treegate loads its own (on the first kernel call, selectBackend or setThreads) stays
 * registered and selected: a wasm backend loaded with options of one's own is not swapped for the default one.
 * A file of its own: the process must not have registered the available backends yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend, getBackend, registerBackend, setBackend } from '../../src/kernels/backend.js';
import { selectBackend, setThreads } from '../../src/kernels/select.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';

test('a wasm backend registered with options of one\'s own stays selected through setThreads and selectBackend', () => {
  const mine = loadWasmBackend(undefined, { threads: 1, residentBytes: 0 });
  registerBackend(mine);
  assert.equal(setBackend('wasm'), mine);
  assert.equal(setThreads(1), 1);
  assert.equal(backend(), mine, 'setThreads registered the default wasm backend in its place');
  assert.equal(getBackend('wasm'), mine);
  assert.equal(selectBackend('wasm'), mine);
  assert.equal(mine.info().threads, 1);
  // the other backends are registered all the same
  assert.equal(selectBackend('js').name, 'js');
  assert.equal(selectBackend('wasm'), mine);
});
