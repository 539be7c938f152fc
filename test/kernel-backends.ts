/**
 * The kernel backends that load here, each with the thread counts to run a kernel test on: js (no threads), wasm
 * and native where built (1 and 2 threads, or more under TREEGATE_NATIVE_THREADS). Loaded directly, not through
 * src/kernels/select.ts, so that importing this file changes no default backend.
 */
import { readFileSync } from 'node:fs';
import { jsBackend, type Backend } from '../src/kernels/backend.js';
import { nativeBackend } from '../src/kernels/native/index.js';
import { compileWasmSync, createWasmBackend } from '../src/kernels/wasm/core.js';
import { DEFAULT_WASM_THREADS_URL, DEFAULT_WASM_URL, loadWasmBackend, nodeThreadHost } from '../src/kernels/wasm/index.js';
import type { WeightStep } from '../src/kernels/weight-step.js';

/** The backends a run must have (TREEGATE_REQUIRE_BACKENDS, which .ci/run sets: test/kernels/required.test.ts). */
export function requiredBackends(): string[] {
  return (process.env.TREEGATE_REQUIRE_BACKENDS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The thread counts the fast kernels are tested on: 1 and 2, or 1 and 3 to n under TREEGATE_NATIVE_THREADS=n > 2 (the
 * addon's pool made that size whatever the cores, and kernelBackends' wasm on a host claiming n cores:
 * test/kernels/many-threads.test.ts reruns the kernel tests so; 2 threads are the suite's own run, 1 the reference
 * every count must match bit for bit).
 */
export function nativeThreadCounts(): number[] {
  const n = Number(process.env.TREEGATE_NATIVE_THREADS || 2);
  return Array.from({ length: n }, (_, i) => i + 1).filter((c) => n <= 2 || c !== 2);
}

/**
 * js, wasm's threads module (what Node loads) at each thread count, wasm's plain module (what a page that is not
 * cross-origin isolated loads: no shared memory, one thread) and native where built; `wasm` is the threads module.
 */
export function kernelBackends(): { backends: Array<{ be: Backend; threads: number[]; label?: string }>; wasm: Backend | null } {
  const backends: Array<{ be: Backend; threads: number[]; label?: string }> = [{ be: jsBackend, threads: [0] }];
  const most = Math.max(...nativeThreadCounts()), many = most > 2 ? most : 0;
  // native-isa.test.ts reruns kernel files for the addon's narrower builds: js and native alone then
  const nativeOnly = process.env.TREEGATE_TEST_NATIVE_ONLY === '1';
  /**
   * the backend `make` returns, or null where its module is not built (or nativeOnly); any other failure is the
   * test's, not a backend quietly left out
   */
  const load = (make: () => Backend): Backend | null => {
    if (nativeOnly) return null;
    try {
      return make();
    } catch (e) {
      // a module file not there: readFileSync's ENOENT, or loadWasmBackend's "… is missing"
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /\.wasm is missing/.test((e as Error).message)) return null;
      throw e;
    }
  };

  const wasm = load(() => (many
    ? createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL))), { threads: many }, { cores: many, start: nodeThreadHost.start })
    : loadWasmBackend()));
  if (wasm) backends.push({ be: wasm, threads: threadCountsOf(wasm) });
  const plain = load(() => createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_URL)))));
  if (plain) backends.push({ be: plain, threads: [0], label: 'wasm (plain module)' });
  const nb = nativeBackend();
  if (nb) backends.push({ be: nb, threads: threadCountsOf(nb) });
  return { backends, wasm };
}

/** A backend with threads (wasm, native): sets the count, capped at what it may use, and returns the count set. */
interface Threaded { setThreads(n: number): number }

/**
 * The counts of nativeThreadCounts() that `be` (wasm, native) can run: all but where it may use fewer threads (a
 * machine of one usable core), so that no test names a count it did not run on (useThreads checks).
 */
export function threadCountsOf(be: Backend): number[] {
  const most = (be as unknown as Threaded).setThreads(Number.MAX_SAFE_INTEGER);
  return nativeThreadCounts().filter((n) => n <= most);
}

/** Runs `be` on `n` threads (nothing for 0: js and the plain module), refusing to go on with fewer than a test names. */
export function useThreads(be: Backend, n: number): void {
  if (!n) return;
  const set = (be as unknown as Threaded).setThreads(n);
  if (set !== n) throw new Error(`${be.name}: setThreads(${n}) set ${set} threads: the test would not run on the threads its name says`);
}

/** The arrays a fused optimizer step reads and writes, for the step tests. */
export interface StepState { w: Float32Array; dw: Float32Array; db: Float32Array; m: Float32Array; v: Float32Array; steps: Int32Array }

/** A copy of a: a plain array, or (`here`) one made by the backend's floats() (wasm: in its memory, read in place). */
export function placed(be: Backend, a: Float32Array, here: boolean): Float32Array {
  if (!here) return a.slice();
  const o = be.floats(a.length);
  o.set(a);
  return o;
}

/**
 * The placements of a step test's arrays on `be` (placed's `here`): plain copies and arrays its floats() made (wasm: in
 * its memory; native: on a cache line), or plain copies alone on js, whose floats() makes plain arrays.
 */
export function placements(be: Backend): boolean[] {
  return be === jsBackend ? [false] : [false, true];
}

/** Gives a state's arrays back to the backend that made them (nothing for plain arrays). */
export function releaseState(be: Backend, st: StepState): void {
  [st.w, st.dw, st.db, st.m, st.v].forEach((x) => be.release(x));
}

/** The step the tests apply to a state: weight decay 0.05, Adam's 0.9 / 0.999 / 1e-8, SGD's momentum 0.8. */
export function stepSpec(st: StepState, kind: 'adam' | 'sgd', decayScale: Float32Array | null, lr: number): WeightStep {
  return { kind, m: st.m, v: kind === 'adam' ? st.v : null, steps: st.steps, decayScale, lr, weightDecay: 0.05, beta1: 0.9,
    beta2: 0.999, eps: 1e-8, momentum: 0.8 };
}

/**
 * Each kernel backend of kernelBackends() at each of its thread counts, as a label ("js", "wasm threads=2") and a
 * function that selects that count (to call at the start of each test: tests of one file run one after another).
 */
export function kernelVariants(): Array<{ be: Backend; label: string; use: () => void }> {
  return kernelBackends().backends.flatMap(({ be, threads, label }) => threads.map((nt) => ({
    be,
    label: nt ? `${be.name} threads=${nt}` : label ?? be.name,
    use: () => useThreads(be, nt),
  })));
}
