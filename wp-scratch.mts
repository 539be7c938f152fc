import { readFileSync } from 'node:fs';
import { compileWasmSync, createWasmBackend } from './src/kernels/wasm/core.js';
import { DEFAULT_WASM_THREADS_URL, nodeThreadHost } from './src/kernels/wasm/index.js';
const module = compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL)));
const cores = Number(process.argv[2]);
const be = createWasmBackend(module, { threads: cores }, { cores, start: nodeThreadHost.start });
await be.whenStarted();
console.log('cores', cores, 'up', be.info().workersUp);
for (const [M, N, K] of [[48, 160, 96], [256, 512, 512]]) {
const a = new Float32Array(M * K).fill(1), b = new Float32Array(N * K).fill(1), c = new Float32Array(M * N);
const reps = M === 48 ? 1000 : 50;
for (const t of [1, 2, 1, 2]) {
  if (t > cores) continue;
  be.setThreads(t);
  const before = be.info().workerParts;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) be.gemmNT(M, N, K, a, 0, b, 0, c, 0, false);
  console.log(`${M}x${N}x${K}`, t, 'threads: worker parts', be.info().workerParts - before, 'of', reps, 'jobs;', ((performance.now() - t0) * 1000 / reps).toFixed(1), 'µs/job');
}
}
be.close();
