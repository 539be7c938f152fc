import { shown, TreegateError } from '../core/errors.js';
import { backend, backendNames, getBackend, registerBackend, setBackend, setDefaultChooser, type Backend } from './backend.js';
import { nativeBackend, nativeLoadError } from './native/index.js';
import { loadWasmBackend } from './wasm/index.js';

/** A backend to select: `auto` takes native, else wasm, else js (the CLI's --backend). */
export type BackendChoice = 'auto' | 'js' | 'wasm' | 'native';

let wasmError = '';

let registered = false;

/**
 * Registers every backend that loads on this machine (once), under a name no backend has yet: one registered before
 * (a wasm backend loaded with options of one's own, `registerBackend(loadWasmBackend(bytes, options))`, or useWasm's)
 * stays, selected or not.
 */
export function registerAvailableBackends(): string[] {
  if (!registered) {
    registered = true;
    const n = getBackend('native') ? null : nativeBackend();
    if (n) registerBackend(n);
    if (!getBackend('wasm')) {
      try {
        registerBackend(loadWasmBackend());
      } catch (e) {
        wasmError = e instanceof Error ? e.message : String(e);
      }
    }
  }
  return backendNames();
}

/**
 * Selects the backend layers use. `auto` takes the fastest that loads — native,
 * else wasm, else js — and says in one line on stderr when it falls back.
 * An explicit choice that cannot load is an error naming why.
 */
export function selectBackend(choice: BackendChoice = 'auto', log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Backend {
  const known: string[] = ['auto', 'native', 'wasm', 'js'];
  if (!known.includes(choice)) throw new TreegateError(`unknown backend '${String(choice)}'`, `use one of ${known.join(', ')}`);
  const names = registerAvailableBackends();
  if (choice === 'auto') {
    if (names.includes('native')) return setBackend('native');
    const fallback = names.includes('wasm') ? 'wasm' : 'js';
    log(`treegate: native backend unavailable (${nativeLoadError()})` +
      `${fallback === 'js' ? `, wasm backend unavailable (${wasmError})` : ''}; using the ${fallback} backend`);
    return setBackend(fallback);
  }
  if (!names.includes(choice)) {
    const why = choice === 'native' ? nativeLoadError() : wasmError;
    throw new TreegateError(`backend '${choice}' is unavailable: ${why}`, `available: ${names.join(', ')}`);
  }
  return setBackend(choice);
}

/** The thread control of the native and wasm backends. */
interface ThreadControl { setThreads(n: number): number; info(): { threads: number } }

/** A backend's thread control, where it has one (native, wasm). */
export function threadControl(b: Backend | undefined): ThreadControl | null {
  const t = b as Partial<ThreadControl> | undefined;
  return t && typeof t.setThreads === 'function' && typeof t.info === 'function' ? t as ThreadControl : null;
}

/** A registered backend's thread control, where it has one. */
function threaded(name: string): ThreadControl | null {
  return threadControl(getBackend(name));
}

/**
 * Threads of the native and wasm backends' kernels, from 1 to the cores of the machine (at most 64; the default
 * is the cores this process may use: its CPU affinity, capped by its cgroup's CPU quota), for this process,
 * whichever backend is selected now. Returns the count the selected backend
 * runs with now: `n` capped at what it can start (the addon's thread pool; wasm's worker threads), 1 on the js
 * backend.
 */
export function setThreads(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new TreegateError(`threads must be a whole number ≥ 1, got ${shown(n)}`, 'pass 1 for one thread');
  registerAvailableBackends();
  threaded('native')?.setThreads(n);
  threaded('wasm')?.setThreads(n);
  return threadCount();
}

/** The threads the current backend's kernels run on (1 for js). */
export function threadCount(): number {
  return threaded(backend().name)?.info().threads ?? 1;
}

// Importing treegate (src/index.ts) loads this module: from then on the first kernel call without an
// explicit choice picks the fastest backend that loads.
setDefaultChooser(() => selectBackend('auto'));

export { backend };
