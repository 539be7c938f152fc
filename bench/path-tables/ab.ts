/**
 * A/B of the path sums' tables (src/layers/path-sums.ts) on one backend, in one process: the chain of addArrays over
 * whole 512×512 tables that PathSums.build ran before addPaths (each collapsed node's prefix sum below the root
 * written to a table of its own, then each frontier node's), against one addPaths call (src/kernels/paths.ts), for
 * the tree layer's plan at each k (N = 256 examples gating on units 0…k−1, as the bench's tree section). The two
 * alternate over ROUNDS (default 31) rounds, a 32 MB read before each call standing in for the rest of the
 * training step (as bench/addon-ab's `tables` form); prints the medians, the speed-up and whether the tables are
 * bit-identical. addon-ab compares two builds of the addon; wasm's addPaths is partly in TypeScript (the columns'
 * split, the slots), so its A/B is this one.
 *   node --import tsx bench/path-tables/ab.ts wasm|native [k list]
 */
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { registerBackend, setBackend, type Backend } from '../../src/kernels/backend.js';
import { nativeBackend } from '../../src/kernels/native/index.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';
import { TreeGated } from '../../src/layers/tree.js';

const [which = 'wasm', kList = '3,4,5,6,7,8,10'] = process.argv.slice(2);
const be: Backend | null = which === 'wasm' ? loadWasmBackend() : which === 'native' ? nativeBackend() : null;
if (!be) {
  console.error(which === 'native' ? 'the native addon is not available' : 'usage: ab.ts wasm|native [k list]');
  process.exit(2);
}
registerBackend(be);
setBackend(which);
const n = 512, N = 256, ms = n * n, ROUNDS = Number(process.env.ROUNDS ?? 31);
const rng = new Rng(5);
const x = matrix(N, n, Float32Array.from({ length: N * n }, () => rng.normal()));
const junk = new Float32Array(8 << 20).fill(1); // written: pages only read would all be the one zero page, in cache
const flush = () => { let s = 0; for (let i = 0; i < junk.length; i += 16) s += junk[i]; return s; };
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

console.log(`path sums' tables on ${which}, ${new Date().toISOString()}, node ${process.version}, ${ROUNDS} rounds`);
console.log('| k | entries | tables written | chain of addArrays | addPaths | speed-up | bit-identical |\n|---:|---:|---:|---:|---:|---:|---|');
for (const k of kList.split(',').map(Number)) {
  const L = new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'units', gateUnits: Array.from({ length: k }, (_, d) => d) })
    .init(rng);
  const w = L.weight[0].data;
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.05;
  L.weight[0].version++;
  L.forward(x, 'train'); // plans the path sums
  const plan = (L as unknown as { sums: Array<{ pathNode: Int32Array; pathParent: Int32Array; pathOut: Int32Array }> }).sums[0];
  const { pathNode: node, pathParent: parent, pathOut: outAt } = plan, count = node.length;
  if (count === 0) {
    console.log(`| ${k} | 0 | 0 | – | – | – | (no path sums at this k) |`);
    L.dispose();
    continue;
  }
  const F = Math.max(...outAt) + 1;
  const chainOut = be.floats(F * ms), pathsOut = be.floats(F * ms), prefix = be.floats(count * ms);
  const table = (t: number) => w.subarray(t * ms, (t + 1) * ms);
  const chain = (): void => {
    for (let e = 0; e < count; e++) {
      const p = parent[e];
      if (p < 0) continue; // the root's sums are its own table
      const dst = outAt[e] >= 0 ? chainOut.subarray(outAt[e] * ms, (outAt[e] + 1) * ms) : prefix.subarray(e * ms, (e + 1) * ms);
      be.addArrays(parent[p] < 0 ? table(node[p]) : prefix.subarray(p * ms, (p + 1) * ms), table(node[e]), dst, ms);
    }
  };
  const paths = (): void => be.addPaths(w, ms, node, parent, outAt, count, pathsOut);
  const times: number[][] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 ? [0, 1] : [1, 0]) {
      flush();
      const t0 = now();
      (i === 0 ? chain : paths)();
      times[i].push(now() - t0);
    }
  }
  let same = true;
  for (let i = 0; i < F * ms && same; i++) same = Object.is(chainOut[i], pathsOut[i]);
  const [a, b] = times.map(median);
  console.log(`| ${k} | ${count} | ${F} | ${a.toFixed(3)} ms | ${b.toFixed(3)} ms | ${(a / b).toFixed(2)}× | ${same ? 'yes' : 'NO'} |`);
  for (const arr of [chainOut, pathsOut, prefix]) be.release(arr);
  L.dispose();
}
