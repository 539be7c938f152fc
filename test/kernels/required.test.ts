/**
 * The backends a run must have. A fast backend that does not load is left out of every kernel and layer test (they
 * run on what loads: a machine without a compiler still passes), so a broken build would pass unseen. Where
 * TREEGATE_REQUIRE_BACKENDS names backends (.ci/run names native and wasm, or wasm alone where the addon's build is
 * made to fail), each must load here, and the kernel tests must run it on every thread count they name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeBackend, nativeLoadError } from '../../src/kernels/native/index.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';
import { usableCores } from '../../src/kernels/cores.js';
import { kernelVariants, nativeThreadCounts, requiredBackends } from '../kernel-backends.js';

const required = requiredBackends();

test('the backends TREEGATE_REQUIRE_BACKENDS names load, and the kernel tests run them on every thread count', { skip: required.length === 0 && 'TREEGATE_REQUIRE_BACKENDS is not set (.ci/run sets it)' }, (t) => {
  for (const name of required) assert.ok(['native', 'wasm'].includes(name), `TREEGATE_REQUIRE_BACKENDS: unknown backend '${name}' (native, wasm)`);
  const labels = kernelVariants().map((v) => v.label);
  // every count the tests name, where this machine lets the process use that many cores (one core: one thread)
  const counts = nativeThreadCounts().filter((n) => n <= Math.max(usableCores(), process.env.TREEGATE_NATIVE_THREADS ? n : 1));
  if (counts.length < nativeThreadCounts().length) t.diagnostic(`this process may use ${usableCores()} core(s): thread counts ${counts.join(', ')} only`);
  if (required.includes('native')) {
    const nb = nativeBackend();
    assert.ok(nb, `the native addon did not load: ${nativeLoadError()}`);
    t.diagnostic(`native: ${JSON.stringify(nb.info())}`);
    for (const n of counts) assert.ok(labels.includes(`native threads=${n}`), `the kernel tests do not run native on ${n} threads (${labels.join(', ')})`);
  }
  if (required.includes('wasm')) {
    const wasm = loadWasmBackend();
    t.diagnostic(`wasm: ${JSON.stringify(wasm.info())}`);
    wasm.close();
    for (const n of counts) assert.ok(labels.includes(`wasm threads=${n}`), `the kernel tests do not run wasm on ${n} threads (${labels.join(', ')})`);
    assert.ok(labels.includes('wasm (plain module)'), 'the kernel tests do not run the plain wasm module');
  }
});
