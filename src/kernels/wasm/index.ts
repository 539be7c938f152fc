/**
 * Loaders of the `wasm` backend (WebAssembly SIMD128 kernels from assembly/,
 * compiled to wasm/treegate.wasm and wasm/treegate-threads.wasm by `npm run build`).
 * Nothing is registered here: call registerBackend(loadWasmBackend()) to make it selectable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { check, shown, TreegateError } from '../../core/errors.js';
import { usableCores } from '../cores.js';
import { compileWasmSync, createWasmBackend, type WasmBackend, type WasmOptions } from './core.js';
import { workerSource, type ThreadHost } from './threads.js';

export { createWasmBackend, loadWasmBackendAsync, type WasmBackend, type WasmOptions } from './core.js';

/** Where the build puts the modules: the package root's wasm/, from src/kernels/wasm/ and dist/kernels/wasm/ alike. */
export const DEFAULT_WASM_URL: URL = new URL('../../../wasm/treegate.wasm', import.meta.url);
/** The same kernels on a shared memory, for worker threads. */
export const DEFAULT_WASM_THREADS_URL: URL = new URL('../../../wasm/treegate-threads.wasm', import.meta.url);

/**
 * Node's worker threads for the wasm kernels: each runs threads.ts's worker program on the shared memory. They
 * are unref'd (they never keep the process alive), start without the parent's flags (no loaders: the program is
 * plain CommonJS), and a worker that fails to start only leaves its parts to the other threads.
 */
const NODE_WORKER = `${workerSource()}run(require('node:worker_threads').workerData);\n`;

export const nodeThreadHost: ThreadHost = {
  cores: usableCores(),
  start(data) {
    const w = new Worker(NODE_WORKER, { eval: true, workerData: data, execArgv: [] });
    w.on('error', () => { /* its parts go to the other threads (threads.ts) */ });
    w.unref();
  },
};

/**
 * Builds the backend synchronously from the module's bytes, by default read from wasm/treegate-threads.wasm
 * (worker threads on a shared memory; wasm/treegate.wasm where that is missing). Throws a clear Error when
 * neither file is there.
 */
export function loadWasmBackend(bytes?: Uint8Array | ArrayBuffer, options: WasmOptions = {}): WasmBackend {
  let b = bytes;
  // a path where the bytes go would read as an empty module (an ArrayBuffer of another realm is bytes too)
  check(b == null || Object.prototype.toString.call(b) === '[object ArrayBuffer]' || ArrayBuffer.isView(b), `loadWasmBackend takes the module's bytes, got ${shown(b)}`,
    'pass readFileSync(path), or nothing for the package\'s own module');
  if (!b) {
    const read = readFileBytes(DEFAULT_WASM_THREADS_URL) ?? readFileBytes(DEFAULT_WASM_URL);
    if (!read) {
      throw new TreegateError(`treegate wasm backend: ${DEFAULT_WASM_URL.pathname} is missing`,
        'where treegate is installed, install it again (npm install treegate); in its repository, npm run build:wasm; or pass the module bytes');
    }
    b = read;
  }
  return createWasmBackend(compileWasmSync(b), options, nodeThreadHost);
}

/** The bytes of the file at `url`, or null when it does not exist. */
function readFileBytes(url: URL): Uint8Array | null {
  const path = fileURLToPath(url);
  return existsSync(path) ? readFileSync(path) : null;
}
