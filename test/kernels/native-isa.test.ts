/**
 * The addon is compiled for AVX-512 (twice: its few-row products prefetching into L2, and into L1, the Zen 5's
 * choice), for AVX2 and for generic vectors, and picks the widest the CPU has, so a machine with AVX-512 runs one
 * table and never the others, which are what other machines run. This reruns test/kernels/native.test.ts (every
 * product shape, the grouped products, the optimizer updates, against the js reference), paths.test.ts's native
 * tests (the path sums' tables, with their non-temporal stores) and the fused optimizer steps (weight-step.test.ts,
 * path-step.test.ts) with each other instruction set forced by TREEGATE_NATIVE_ISA, and native.test.ts's products with
 * the other AVX-512 table forced by TREEGATE_NATIVE_PREFETCH, in a child process: the variant is chosen when the addon
 * loads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ADDON_PATH, nativeBackend, nativeLoadError } from '../../src/kernels/native/index.js';

const skip = nativeBackend() ? false : `native addon unavailable: ${nativeLoadError()}`;
const suite = fileURLToPath(new URL('./native.test.ts', import.meta.url));
const paths = fileURLToPath(new URL('./paths.test.ts', import.meta.url));
// the fused optimizer steps' kernels, on js and native alone (TREEGATE_TEST_NATIVE_ONLY, test/kernel-backends.ts)
const steps = ['./weight-step.test.ts', './path-step.test.ts'].map((f) => fileURLToPath(new URL(f, import.meta.url)));

// every file for another instruction set; for the AVX-512 table this CPU does not pick (the other prefetch hint, which
// only the products' few-row kernels take) native.test.ts's product tests alone: the plain, few-row, grouped and packed
// products (its optimizer, elementwise, pool and bounds tests run no prefetching kernel)
const products = ['--test-name-pattern', '^native (gemm|NT products|NN and TN products|few-row products|grouped products|forward over packed)'];
const allFiles = [[suite, []], [paths, ['--test-name-pattern', '^addPaths: native']], ...steps.map((f) => [f, []] as const)] as const;
const otherPrefetch = nativeBackend()?.info().prefetch === 'l1' ? 'l2' : 'l1';
const variants = [
  { name: 'avx2', setting: ['TREEGATE_NATIVE_ISA', 'avx2'], files: allFiles },
  { name: 'generic', setting: ['TREEGATE_NATIVE_ISA', 'generic'], files: allFiles },
  { name: `avx512 ${otherPrefetch}`, setting: ['TREEGATE_NATIVE_PREFETCH', otherPrefetch], files: [[suite, products]] as const },
] as const;

for (const { name, setting: [key, value], files } of variants) {
  test(`native kernels compiled for ${name} match js (native.test.ts with ${key}=${value})`, { skip }, (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [key]: value, TREEGATE_TEST_NATIVE_ONLY: '1' };
    delete env.NODE_TEST_CONTEXT; // else the child's runner reports to this runner instead of printing its results
    const probe = spawnSync(process.execPath, ['-e', `const i = require(${JSON.stringify(ADDON_PATH)}).info(); console.log(i.isa === 'avx512' ? \`avx512 \${i.prefetch}\` : i.isa)`], { env, encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    if (probe.stdout.trim() !== name) return t.skip(`this CPU cannot run ${name} (the addon chose ${probe.stdout.trim()})`);
    for (const [file, args] of files) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...args, file], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, `${file} failed under ${name}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
      assert.match(r.stdout, /^# fail 0$/m);
      assert.doesNotMatch(r.stdout, /^# pass 0$/m, 'no test ran');
    }
  });
}

test('a misspelt TREEGATE_NATIVE, TREEGATE_NATIVE_ISA, TREEGATE_NATIVE_PREFETCH or TREEGATE_NATIVE_THREADS is an error naming the settings, not ignored', () => {
  const load = fileURLToPath(new URL('../../src/kernels/native/index.ts', import.meta.url));
  for (const [name, value, re] of [
    ['TREEGATE_NATIVE', 'bogus', /TREEGATE_NATIVE=bogus: the one setting is off/],
    ['TREEGATE_NATIVE_ISA', 'avx9', /TREEGATE_NATIVE_ISA=avx9: not one of the addon's instruction sets \(set avx512, avx2 or generic/],
    ['TREEGATE_NATIVE_PREFETCH', 'L1', /TREEGATE_NATIVE_PREFETCH=L1: not one of the AVX-512 kernels' prefetch hints \(set l1 or l2/],
    ['TREEGATE_NATIVE_THREADS', '65', /TREEGATE_NATIVE_THREADS=65: not a thread count from 1 to 64/],
    ['TREEGATE_NATIVE_THREADS', 'four', /TREEGATE_NATIVE_THREADS=four: not a thread count from 1 to 64/],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `const m = await import(${JSON.stringify(load)}); try { m.loadAddon(); console.log('loaded'); } catch (e) { console.log(e.message); }`],
    { env: { ...process.env, [name]: value }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, re);
  }
});

test('the AVX-512 kernels prefetch into L1 on a Zen 5 (AMD family 26) and into L2 on other processors', { skip }, () => {
  const info = nativeBackend()!.info();
  if (info.isa !== 'avx512') return;
  let cpu = '';
  try { cpu = readFileSync('/proc/cpuinfo', 'utf8'); } catch { return; } // (not Linux: nothing to compare with)
  const amd = /^vendor_id\s*:\s*AuthenticAMD$/m.test(cpu), family = Number(/^cpu family\s*:\s*(\d+)$/m.exec(cpu)?.[1]);
  assert.equal(info.prefetch, amd && family === 26 ? 'l1' : 'l2');
});
