// Compiles the AssemblyScript kernels in assembly/ to wasm/treegate.wasm
// (WebAssembly SIMD128, optimized, no managed runtime, its own memory) and to
// wasm/treegate-threads.wasm (the same kernels on an imported shared memory,
// which the Node loader gives to worker threads too). Deterministic: the same
// sources and compiler version give the same bytes. Exits non-zero on failure.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'assembly', 'index.ts');
const outputs = [
  [join(root, 'wasm', 'treegate.wasm'), []],
  // shared memory needs a declared maximum: wasm32's 4 GiB, as the plain module may grow to
  [join(root, 'wasm', 'treegate-threads.wasm'), ['--enable', 'threads', '--importMemory', '--sharedMemory', '--maximumMemory', '65536']],
];

let ascMain;
try {
  ascMain = join(dirname(fileURLToPath(import.meta.resolve('assemblyscript/asc'))), '..', 'bin', 'asc.js');
} catch {
  ascMain = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
}
if (!existsSync(ascMain)) {
  console.error(`build-wasm: the AssemblyScript compiler was not found (${ascMain}); run npm install (devDependency assemblyscript)`);
  process.exit(1);
}

mkdirSync(join(root, 'wasm'), { recursive: true });
for (const [out, extra] of outputs) {
  const args = [
    entry,
    '--outFile', out,
    '--enable', 'simd',
    '--runtime', 'stub',
    '--optimizeLevel', '3',
    '--shrinkLevel', '0',
    '--converge',
    '--noAssert',
    '--use', 'abort=',
    '--initialMemory', '16',
    ...extra,
  ];
  const r = spawnSync(process.execPath, [ascMain, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-wasm: asc failed for ${out} (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  const bytes = readFileSync(out);
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  console.log(`build-wasm: ${out} (${bytes.length} bytes, sha256 ${sha})`);
}
