// Compiles the AssemblyScript kernels in assembly/ to build/treegate.wasm
// (WebAssembly SIMD128, optimized, no managed runtime). Deterministic: the same
// sources and compiler version give the same bytes. Exits non-zero on failure.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'assembly', 'index.ts');
const out = join(root, 'build', 'treegate.wasm');

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

mkdirSync(dirname(out), { recursive: true });
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
];
const r = spawnSync(process.execPath, [ascMain, ...args], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build-wasm: asc failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}
const bytes = readFileSync(out);
const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
console.log(`build-wasm: ${out} (${bytes.length} bytes, sha256 ${sha})`);
