/**
 * A backend registered before treegate loads its own (on the first kernel call, selectBackend or setThreads) stays
 * registered and selected: a wasm backend loaded with options of one's own is not swapped for the default one.
 * A file of its own: the process must not have registered the available backends yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { backend, getBackend, jsBackend, registerBackend, setBackend } from '../../src/kernels/backend.js';
import { selectBackend, setThreads } from '../../src/kernels/select.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';

test('a wasm backend registered with options of one\'s own stays selected through setThreads and selectBackend', () => {
  const mine = loadWasmBackend(undefined, { threads: 1, residentBytes: 0 });
  registerBackend(mine);
  // a 'native' of one's own (here the reference under that name) stays too, where the addon loads
  const myNative = { ...jsBackend, name: 'native' };
  registerBackend(myNative);
  assert.equal(setBackend('wasm'), mine);
  assert.equal(setThreads(1), 1);
  assert.equal(backend(), mine, 'setThreads registered the default wasm backend in its place');
  assert.equal(getBackend('wasm'), mine);
  assert.equal(selectBackend('wasm'), mine);
  assert.equal(mine.info().threads, 1);
  // the other backends are registered all the same
  assert.equal(selectBackend('js').name, 'js');
  assert.equal(selectBackend('wasm'), mine);
  assert.equal(getBackend('native'), myNative, 'the addon\'s backend registered in place of one\'s own');
  assert.equal(selectBackend('auto'), myNative);
  // refused by setThreads itself, before any backend is asked
  assert.throws(() => setThreads(0), (e: unknown) => e instanceof Error && e.message === 'threads must be a whole number ≥ 1, got 0 (pass 1 for one thread)');
});

test('an explicit backend that cannot load is an error naming its own reason and what is available', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    "import { selectBackend } from './src/kernels/select.ts'; try { selectBackend('native'); } catch (e) { console.log(e.message); }"],
  { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TREEGATE_NATIVE: 'off' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "backend 'native' is unavailable: disabled by TREEGATE_NATIVE=off (available: js, wasm)");
});
