/**
 * The addon is compiled for AVX-512, for AVX2 and for generic vectors and picks the widest the CPU
 * has, so a machine with AVX-512 never runs the other two, which are what other machines run. This
 * reruns test/kernels/native.test.ts (every product shape, the grouped products, the optimizer
 * updates, against the js reference), paths.test.ts's native tests (the path sums' tables, with
 * their non-temporal stores) and the fused optimizer steps (weight-step.test.ts, path-step.test.ts) with each narrower variant forced by TREEGATE_NATIVE_ISA, in a child
 * process: the variant is chosen when the addon loads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ADDON_PATH, nativeBackend, nativeLoadError } from '../../src/kernels/native/index.js';

const skip = nativeBackend() ? false : `native addon unavailable: ${nativeLoadError()}`;
const suite = fileURLToPath(new URL('./native.test.ts', import.meta.url));
const paths = fileURLToPath(new URL('./paths.test.ts', import.meta.url));
// the fused optimizer steps' kernels, on js and native alone (TREEGATE_TEST_NATIVE_ONLY, test/kernel-backends.ts)
const steps = ['./weight-step.test.ts', './path-step.test.ts'].map((f) => fileURLToPath(new URL(f, import.meta.url)));

for (const isa of ['avx2', 'generic'] as const) {
  test(`native kernels compiled for ${isa} match js (native.test.ts with TREEGATE_NATIVE_ISA=${isa})`, { skip }, (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env, TREEGATE_NATIVE_ISA: isa, TREEGATE_TEST_NATIVE_ONLY: '1' };
    delete env.NODE_TEST_CONTEXT; // else the child's runner reports to this runner instead of printing its results
    const probe = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(ADDON_PATH)}).info().isa)`], { env, encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    if (probe.stdout.trim() !== isa) return t.skip(`this CPU cannot run ${isa} (the addon chose ${probe.stdout.trim()})`);
    for (const [file, args] of [[suite, []], [paths, ['--test-name-pattern', '^addPaths: native']], ...steps.map((f) => [f, []] as const)] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...args, file], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, `${file} failed under ${isa}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
      assert.match(r.stdout, /^# fail 0$/m);
      assert.doesNotMatch(r.stdout, /^# pass 0$/m, 'no test ran');
    }
  });
}

test('a misspelt TREEGATE_NATIVE, TREEGATE_NATIVE_ISA or TREEGATE_NATIVE_THREADS is an error naming the settings, not ignored', () => {
  const load = fileURLToPath(new URL('../../src/kernels/native/index.ts', import.meta.url));
  for (const [name, value, re] of [
    ['TREEGATE_NATIVE', 'bogus', /TREEGATE_NATIVE=bogus: the one setting is off/],
    ['TREEGATE_NATIVE_ISA', 'avx9', /TREEGATE_NATIVE_ISA=avx9: not one of the addon's instruction sets \(set avx512, avx2 or generic/],
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
