/**
 * treegate for browsers and bundlers (the package's "browser" export): everything in
 * src/portable.ts, with the WebAssembly backend loaded from the module's bytes or URL. Kernels run
 * on the js reference until useWasm() resolves.
 */
import { registerBackend, setBackend, type Backend } from './kernels/backend.js';
import { loadWasmBackendAsync } from './kernels/wasm/core.js';

export * from './portable.js';

/**
 * Loads build/treegate.wasm (shipped as `treegate/treegate.wasm`; pass a fetch Response, its URL, or
 * its bytes), registers the wasm backend and selects it.
 */
export async function useWasm(source: Response | ArrayBuffer | Uint8Array | URL | string): Promise<Backend> {
  const src = typeof source === 'string' || source instanceof URL ? await fetch(source) : source;
  const b = await loadWasmBackendAsync(src);
  registerBackend(b);
  return setBackend(b.name);
}
