/**
 * What the native backend's grouped products move per second when their nodes have few rows, so that the weights
 * (or their gradients) are all the traffic: not part of `npm run bench`.
 *   node --import tsx bench/write-rate/rate.ts [nodes] [rows …]
 * For `nodes` 512×512 nodes (default 600, 629 MB) of `rows` rows each (default 1, 2, 4), times the weight gradient
 * written from zero (groupedBackwardWeight with every node fresh: overwritten, not added to) and the input
 * gradient (groupedBackwardInput: each node's weights read once), medians of 8 alternating calls, and prints each as
 * GB/s of the nodes' tables. The tree layer's backward pass does both for every touched node; the bench's bound
 * counts the two at the read rate.
 */
import { nativeBackend } from '../../src/kernels/native/index.js';
import { Routing } from '../../src/kernels/routing.js';

const usage = 'usage: node --import tsx bench/write-rate/rate.ts [nodes ≥ 1] [rows ≥ 1 …]';
const [nodesArg = '600', ...rowsArgs] = process.argv.slice(2);
const T = Number(nodesArg), rowsList = (rowsArgs.length > 0 ? rowsArgs : ['1', '2', '4']).map(Number);
const nb = nativeBackend();
const problem = !nb ? 'the native backend is not built here (npm run build:native)'
  : !(Number.isInteger(T) && T >= 1) ? `nodes must be a whole number ≥ 1, got '${nodesArg}'`
    : rowsList.some((r) => !(Number.isInteger(r) && r >= 1)) ? `rows must be whole numbers ≥ 1, got '${rowsArgs.join(' ')}'` : null;
if (problem) {
  console.error(`write-rate: ${problem}\n${usage}`);
  process.exit(2);
}
const m = 512, s = 512, ms = m * s, mb = (T * ms * 4) / 1e6;
const dw = nb!.floats(T * ms), db = nb!.floats(T * m);
console.log(`native, ${nb!.info().threads} threads, ${T} nodes of ${m}×${s} (${mb.toFixed(0)} MB), ${new Date().toISOString()}`);
console.log('| rows per node | weight gradient written | input gradient read |\n|---:|---:|---:|');
for (const rows of rowsList) {
  const N = T * rows, rt = new Routing();
  rt.node = Int32Array.from({ length: T }, (_, i) => i);
  rt.start = Int32Array.from({ length: T }, (_, i) => i * rows);
  rt.end = Int32Array.from({ length: T }, (_, i) => (i + 1) * rows);
  rt.nodeCount = T;
  rt.n = N;
  const dys = Float32Array.from({ length: N * m }, () => Math.random()), xs = Float32Array.from({ length: N * s }, () => Math.random());
  const dx = new Float32Array(N * s), fresh = new Uint8Array(T).fill(1), tw: number[] = [], tr: number[] = [];
  for (let i = 0; i < 8; i++) {
    let t = performance.now();
    nb!.groupedBackwardWeight(rt, dys, m, xs, s, dw, db, fresh);
    tw.push(performance.now() - t);
    t = performance.now();
    nb!.groupedBackwardInput(rt, dys, m, dw, s, dx);
    tr.push(performance.now() - t);
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
  const [w, r] = [median(tw), median(tr)];
  console.log(`| ${rows} | ${w.toFixed(1)} ms, ${(mb / w).toFixed(1)} GB/s | ${r.toFixed(1)} ms, ${(mb / r).toFixed(1)} GB/s |`);
}
