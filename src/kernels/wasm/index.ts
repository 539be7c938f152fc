/**
 * Loaders of the `wasm` backend (WebAssembly SIMD128 kernels from assembly/,
 * compiled to build/treegate.wasm by `npm run build`). Nothing is registered
 * here: call registerBackend(loadWasmBackend()) to make it selectable.
 */
import type { Backend } from '../backend.js';
import { compileWasmSync, createWasmBackend, type WasmOptions } from './core.js';
import { readFileBytes } from './read-file.js';

export { createWasmBackend, loadWasmBackendAsync, type WasmOptions } from './core.js';

/** Where the build puts the module: the repo-root build/, from src/kernels/wasm/ and dist/kernels/wasm/ alike. */
export const DEFAULT_WASM_URL: URL = new URL('../../../build/treegate.wasm', import.meta.url);

/**
 * Builds the backend synchronously from the module's bytes, by default read
 * from build/treegate.wasm (Node). Throws a clear Error when the file is missing.
 */
export function loadWasmBackend(bytes?: Uint8Array, options: WasmOptions = {}): Backend {
  let b = bytes;
  if (!b) {
    const read = readFileBytes(DEFAULT_WASM_URL);
    if (!read) {
      throw new Error(`treegate wasm backend: ${DEFAULT_WASM_URL.pathname} is missing; build it with npm run build ` +
        '(or node scripts/build-wasm.mjs), or pass the module bytes');
    }
    b = read;
  }
  return createWasmBackend(compileWasmSync(b), options);
}
