/**
 * The tree layer's grouped node products one depth at a time, per backend: not part of `npm run bench`. Run
 *   node --import tsx bench/depths/depths.ts [k] [--backends native,wasm] [--threads N]
 * For a routing of N = 256 random examples at depth k (default 8) over 512×512 nodes made by each backend's floats()
 * (in place for wasm), it times groupedForward, groupedBackwardInput and groupedBackwardWeight over every depth in
 * one call ("all") and over each depth's nodes alone (d0 … dk), medians of 9 calls, and prints each with the
 * nodes' read rate (their matrices' bytes over the time). Where a backend loses time to its few-row kernels or to
 * its split between threads, the deep rows show it. No path sums here: the layer's own choice of nodes is the
 * tree bench's business.
 */
import { Rng } from '../../src/core/rng.js';
import { nodeDepth, Routing } from '../../src/kernels/routing.js';
import { getBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends, threadControl } from '../../src/kernels/select.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const k = Number(process.argv[2]?.startsWith('--') ? 8 : process.argv[2] ?? 8), N = 256, n = 512, m = 512, T = 2 ** (k + 1) - 1;
const available = registerAvailableBackends();
const names = (arg('--backends') ?? available.filter((b) => b !== 'js').join(',')).split(',');
const rng = new Rng(3);
const rt = new Routing();
rt.leaf = Int32Array.from({ length: N }, () => rng.int(1 << k));
rt.sort(N, k, false);

/** The routing's nodes of depth d, as a routing of their own. */
function depth(d: number): Routing {
  const gs: number[] = [];
  for (let g = 0; g < rt.nodeCount; g++) if (nodeDepth(rt.node[g]) === d) gs.push(g);
  const r = new Routing();
  r.node = Int32Array.from(gs, (g) => rt.node[g]);
  r.start = Int32Array.from(gs, (g) => rt.start[g]);
  r.end = Int32Array.from(gs, (g) => rt.end[g]);
  Object.assign(r, { nodeCount: gs.length, n: rt.n, perm: rt.perm, leaf: rt.leaf, depth: rt.depth });
  return r;
}
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];

console.log(`grouped products by depth, k = ${k}, N = ${N}, ${m}×${n} nodes, ${new Date().toISOString()}, node ${process.version}`);
for (const name of names) {
  const be = getBackend(name);
  if (!be || !available.includes(name)) throw new Error(`backend '${name}' is not available (loaded: ${available.join(', ')})`);
  if (arg('--threads')) threadControl(be)?.setThreads(Number(arg('--threads')));
  const w = be.floats(T * m * n), bias = be.floats(T * m), xs = be.floats(N * n), ys = be.floats(N * m);
  const dw = be.floats(T * m * n), db = be.floats(T * m), dxs = be.floats(N * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 1000) * 1e-5; // every page touched before the timing
  dw.fill(0);
  for (let i = 0; i < xs.length; i++) xs[i] = rng.normal();
  for (let i = 0; i < ys.length; i++) ys[i] = rng.normal() * 1e-3;
  const groups: Array<[string, Routing]> = [['all', rt]];
  for (let d = 0; d <= k; d++) groups.push([`d${d}`, depth(d)]);
  const forms: Array<[string, (r: Routing) => void]> = [
    ['forward', (r) => be.groupedForward(r, xs, n, w, bias, m, ys)],
    ['input gradient', (r) => be.groupedBackwardInput(r, ys, m, w, n, dxs)],
    ['weight gradient', (r) => be.groupedBackwardWeight(r, ys, m, xs, n, dw, db)],
  ];
  console.log(`\n${name} (${threadControl(be)?.info().threads ?? 1} threads)\n| product | ${groups.map(([l]) => l).join(' | ')} |`);
  console.log(`|---|${groups.map(() => '---:').join('|')}|`);
  for (const [form, f] of forms) {
    const cells = groups.map(([, r]) => {
      const t: number[] = [];
      for (let i = 0; i < 9; i++) {
        const t0 = now();
        f(r);
        t.push(now() - t0);
      }
      let nodes = 0;
      for (let g = 0; g < r.nodeCount; g++) if (r.end[g] > r.start[g]) nodes++;
      const ms = median(t);
      return `${ms.toFixed(2)} ms (${(nodes * m * n * 4 / ms / 1e6).toFixed(1)} GB/s)`;
    });
    console.log(`| ${form} | ${cells.join(' | ')} |`);
  }
}
