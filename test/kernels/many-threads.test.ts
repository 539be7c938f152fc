/**
 * The fast kernels split work by the thread count, and the model must not depend on it (README, --threads): a
 * machine of 2 cores runs only 1 and 2. This reruns the kernel tests of the native and wasm backends (every product
 * and grouped product, the elementwise ops, the fused steps, the path sums, against js, each thread count bit-identical to one thread)
 * and the thread-count test of the model (every layer kind, native) with TREEGATE_NATIVE_THREADS=4, in a child
 * process: the addon's pool made of 4 threads whatever the cores, the tests' wasm backend on a host claiming 4
 * cores, and each of those tests run on 1, 3 and 4 threads (2 are the suite's own run of them). Three threads found a row split of 64 rows into
 * 24 + 16 + 24 that summed the middle piece in another order (native/products.cc, splitPoints).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { nativeBackend, nativeLoadError } from '../../src/kernels/native/index.js';

const native = nativeBackend() !== null;
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

test('native and wasm kernels and native models on 3 and 4 threads as on 1, bit for bit (the tests rerun with TREEGATE_NATIVE_THREADS=4)', { timeout: 300_000 }, (t) => {
  if (!native) t.diagnostic(`native addon unavailable (${nativeLoadError()}): wasm's kernels alone`);
  const env: NodeJS.ProcessEnv = { ...process.env, TREEGATE_NATIVE_THREADS: '4' };
  delete env.NODE_TEST_CONTEXT; // else the child's runner reports to this runner instead of printing its results
  // [file, test name pattern, whether it needs the addon]
  for (const [file, pattern, needsNative] of [['./native.test.ts', null, true], ['./weight-step.test.ts', 'on each backend', false],
    ['./path-step.test.ts', 'on each backend', false], ['./gemm.test.ts', '^(native|wasm)', false], ['./grouped.test.ts', '^(native|wasm)', false],
    ['./elementwise.test.ts', '^(native|wasm)', false],
    ['./paths.test.ts', '^addPaths: native', true], ['../train/determinism.test.ts', 'any thread count', true]] as const) {
    if (needsNative && !native) continue;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...(pattern ? ['--test-name-pattern', pattern] : []), here(file)], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, `${file} failed on 4 threads:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /^# fail 0$/m);
    assert.doesNotMatch(r.stdout, /^# pass 0$/m, `${file}: no test ran`);
    // the kernel tables name each variant: both fast backends ran on 4 threads, neither left out quietly
    if (pattern === '^(native|wasm)') {
      for (const be of native ? ['native', 'wasm'] : ['wasm']) assert.match(r.stdout, new RegExp(`^ok \\d+ - ${be} threads=4: `, 'm'), `${file}: no ${be} test on 4 threads`);
    }
  }
});
