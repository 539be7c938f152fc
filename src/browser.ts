/**
 * treegate for browsers and bundlers (the package's "browser" export): everything in
 * src/portable.ts, with the WebAssembly backend loaded from the module's bytes or URL. Kernels run
 * on the js reference until useWasm() resolves.
 */
import { TreegateError } from './core/errors.js';
import { registerBackend, setBackend, type Backend } from './kernels/backend.js';
import { loadWasmBackendAsync } from './kernels/wasm/core.js';

export * from './portable.js';

/**
 * Loads build/treegate.wasm (shipped as `treegate/treegate.wasm`; pass a fetch Response, its URL, or
 * its bytes), registers the wasm backend and selects it.
 */
export async function useWasm(source: Response | ArrayBuffer | Uint8Array | URL | string): Promise<Backend> {
  if ((typeof source === 'string' || source instanceof URL) && new URL(source, 'http://x/').protocol === 'file:') {
    // Node's fetch reads no file: URLs (it fails with "not implemented")
    throw new TreegateError(`useWasm(${String(source)}): fetch cannot read a file: URL`,
      "pass the module's bytes, e.g. readFileSync(new URL(import.meta.resolve('treegate/treegate.wasm')))");
  }
  const src = typeof source === 'string' || source instanceof URL ? await fetch(source) : source;
  const b = await loadWasmBackendAsync(src);
  registerBackend(b);
  return setBackend(b.name);
}
