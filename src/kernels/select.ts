import { TreegateError } from '../core/errors.js';
import { backend, backendNames, registerBackend, setBackend, type Backend } from './backend.js';
import { nativeBackend, nativeLoadError } from './native/index.js';

export type BackendChoice = 'auto' | 'js' | 'native';

let registered = false;

/** Registers every backend that loads on this machine (once). */
export function registerAvailableBackends(): string[] {
  if (!registered) {
    registered = true;
    const n = nativeBackend();
    if (n) registerBackend(n);
  }
  return backendNames();
}

/**
 * Selects the backend layers use. `auto` takes the fastest that loads — native,
 * else js — and says in one line on stderr when the native addon is missing.
 * An explicit choice that cannot load is an error naming why.
 */
export function selectBackend(choice: BackendChoice = 'auto', log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Backend {
  const names = registerAvailableBackends();
  if (choice === 'auto') {
    if (names.includes('native')) return setBackend('native');
    log(`treegate: native backend unavailable (${nativeLoadError()}); using the js backend`);
    return setBackend('js');
  }
  if (!names.includes(choice)) {
    const why = choice === 'native' ? nativeLoadError() : 'not available';
    throw new TreegateError(`backend '${choice}' is unavailable: ${why}`, `available: ${names.join(', ')}`);
  }
  return setBackend(choice);
}

export { backend };
