/**
 * The kernel backends that load here, each with the thread counts to run a kernel test on: js (no threads), wasm
 * and native where built (1 and 2 threads). Loaded directly, not through src/kernels/select.ts, so that importing
 * this file changes no default backend.
 */
import { jsBackend, type Backend } from '../src/kernels/backend.js';
import { nativeBackend } from '../src/kernels/native/index.js';
import { loadWasmBackend } from '../src/kernels/wasm/index.js';

export function kernelBackends(): { backends: Array<{ be: Backend; threads: number[] }>; wasm: Backend | null } {
  const backends: Array<{ be: Backend; threads: number[] }> = [{ be: jsBackend, threads: [0] }];
  let wasm: Backend | null = null;
  try { wasm = loadWasmBackend(); } catch { wasm = null; }
  if (wasm) backends.push({ be: wasm, threads: [1, 2] });
  const nb = nativeBackend();
  if (nb) backends.push({ be: nb, threads: [1, 2] });
  return { backends, wasm };
}
