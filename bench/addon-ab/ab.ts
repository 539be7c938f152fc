/**
 * A/B of two builds of the native addon on the tree layer's node products, as the layer calls them (both
 * threads, real routings of N = 256 examples, 512×512 nodes): both builds loaded in one process, calls
 * alternating between them (the order swapped every round), medians compared. Run by run.sh, which builds the
 * two revisions. The kernel harness (bench/kernel-ab) times one node on one thread; a change that wins there
 * can still lose here, where two threads share the memory system and the caches between nodes.
 *   node --import tsx bench/addon-ab/ab.ts OLD.node NEW.node [forms] [k list]
 * forms (comma-separated): forward (training routing, all depths; a 32 MB read between calls stands in for the
 * rest of the training step), infer (collapsed leaves, repeated; each build reads them as its packNodes lays
 * them out, where it has packNodes), backward-input, backward-weight (added into the gradient), backward-weight-fresh
 * (every node's gradient overwritten, as the layer's first backward of a step has it), weight-step (the weight gradient with the Adam
 * update fused in, as train() runs it; each build updates its own copy of the weights and state), tables (the path
 * sums' tables of a training step at this k: one addPaths call where the build has it, else one addArrays of a
 * 512×512 table per collapsed and frontier node, as PathSums.build made them before addPaths).
 * ROUNDS (default 40) sets the rounds, THREADS the addon's thread count (default: all).
 */
import { createRequire } from 'node:module';
import { Rng } from '../../src/core/rng.js';
import { nodeDepth, Routing } from '../../src/kernels/routing.js';

type Addon = Record<string, (...args: unknown[]) => unknown>;
const [oldPath, newPath, formList = 'forward,infer,backward-input,backward-weight', kList = '0,1,2,3,4,5,6'] = process.argv.slice(2);
if (!oldPath || !newPath) {
  console.error('usage: ab.ts OLD.node NEW.node [forms] [k list]');
  process.exit(2);
}
const req = createRequire(import.meta.url);
const builds: Addon[] = [req(oldPath) as Addon, req(newPath) as Addon];
if (process.env.THREADS) for (const a of builds) a.setThreads(Number(process.env.THREADS));
const n = Number(process.env.WIDTH ?? 512), m = n, N = Number(process.env.ROWS ?? 256), ROUNDS = Number(process.env.ROUNDS ?? 40);
const rng = new Rng(5);
// arrays on a cache line, as the native backend's floats() makes a layer's (where a build has lineOffset; LINED=0:
// as plain Float32Arrays, 16 bytes past a line)
const lineOffset = process.env.LINED === '0' ? undefined : (builds[1].lineOffset ?? builds[0].lineOffset);
const floats = (len: number): Float32Array => {
  if (!lineOffset) return new Float32Array(len);
  const buffer = new ArrayBuffer(4 * len + 64);
  return new Float32Array(buffer, lineOffset(buffer) as number, len);
};
const copyOf = (src: Float32Array): Float32Array => {
  const a = floats(src.length);
  a.set(src);
  return a;
};
const random = (len: number, scale = 1) => {
  const a = floats(len);
  for (let i = 0; i < len; i++) a[i] = rng.normal() * scale;
  return a;
};
const x = random(N * n), dy = random(N * m, 1e-3);
const junk = new Float32Array(8 << 20).fill(1); // written: pages only read would all be the one zero page, in cache
const flush = () => { let s = 0; for (let i = 0; i < junk.length; i += 16) s += junk[i]; return s; };
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

function routing(k: number, leavesOnly: boolean): Routing {
  const rt = new Routing();
  rt.leaf = Int32Array.from({ length: N }, () => rng.int(1 << k));
  rt.sort(N, k, leavesOnly);
  return rt;
}

for (const form of formList.split(',')) {
  for (const k of kList.split(',').map(Number)) {
    const rt = routing(k, form === 'infer');
    const T = form === 'infer' ? 1 << k : 2 ** (k + 1) - 1;
    const w = random(T * m * n, 0.05), bias = random(T * m), dw = floats(T * m * n), db = floats(T * m);
    const xs = floats(N * n), ys = floats(N * m), y = floats(N * m);
    const dys = floats(N * m), dxs = floats(N * n);
    // weight-step: each build's own weights and Adam state (the step writes them)
    const state = builds.map(() => ({ w: copyOf(w), mo: floats(w.length), v: floats(w.length),
      steps: new Int32Array(T), db: floats(T * m) }));
    const hp = Float64Array.of(0, 1e-4, 0, 0.9, 0.999, 1e-8, 0);
    builds[0].gatherRows(dy, m, 0, rt.perm, N, m, dys);
    builds[0].gatherRows(x, n, 0, rt.perm, N, n, xs);
    // inference tables as each build packs them (builds before packNodes read the plain ones)
    const tables = builds.map((a) => {
      if (form !== 'infer' || !a.packNodes) return null;
      const panel = (a.info() as { panel: number }).panel, out = floats(T * Math.ceil(m / panel) * panel * n);
      a.packNodes(w, T, m, n, out);
      return out;
    });
    // tables: the nodes of at least max(32, N / 8) rows above the leaves collapse (the native default before the
    // twenty-seventh session; since then 32 whatever N, the same at N = 256; src/layers/path-sums.ts, without its
    // doubling of that count where more than 64 would), their children that do not are the frontier; one table
    // slot per node (slot = node id, so that a child finds its parent's), written in depth order
    const tableAdds: Array<[number, number, number]> = [], R = Math.max(32, Math.ceil(N / 8)), collapsed = new Set<number>();
    const present = new Set<number>();
    if (form === 'tables') {
      for (let g = 0; g < rt.nodeCount; g++) {
        const t = rt.node[g], parent = (t - 1) >> 1;
        if (t !== 0 && !collapsed.has(parent)) continue;
        if (rt.end[g] - rt.start[g] >= R && nodeDepth(t) < k) collapsed.add(t);
        if (t !== 0) tableAdds.push([parent, t, t]);
        present.add(t);
      }
    }
    // the same tables as addPaths' entries, depth first (src/layers/path-sums.ts, planPaths), each frontier node's
    // table written to its slot
    const paths: number[][] = [[], [], []];
    const visit = (t: number, p: number): void => {
      const e = paths[0].length;
      paths[0].push(t); paths[1].push(p); paths[2].push(collapsed.has(t) ? -1 : t);
      if (collapsed.has(t)) for (const c of [2 * t + 1, 2 * t + 2]) if (present.has(c)) visit(c, e);
    };
    if (form === 'tables' && collapsed.has(0)) visit(0, -1);
    const [pathNode, pathParent, pathOut] = paths.map((v) => Int32Array.from(v));
    const pathTables = floats(form === 'tables' ? T * m * n : 0);
    const fresh = new Uint8Array(rt.nodeCount).fill(1); // every node's gradient held zeros (its first in the step)
    const call = (a: Addon): void => {
      const r = [rt.node, rt.start, rt.end, 0, rt.nodeCount];
      const packed = tables[builds.indexOf(a)];
      switch (form) {
        case 'forward': case 'infer':
          // (older builds ignore `packed`)
          if (a.routedForward) a.routedForward(...r, xs, n, packed ?? w, bias, m, ys, N, rt.perm, x, n, 0, y, false, packed !== null);
          else {
            a.gatherRows(x, n, 0, rt.perm, N, n, xs);
            ys.fill(0);
            a.groupedForward(...r, xs, n, w, bias, m, ys, N, false);
            a.scatterRows(ys, m, rt.perm, N, y, m, 0, false);
          }
          return;
        case 'backward-input': dxs.fill(0); a.groupedBackwardInput(...r, dys, m, w, n, dxs, N); return;
        case 'backward-weight': a.groupedBackwardWeight(...r, dys, m, xs, n, dw, db, N, null); return;
        case 'backward-weight-fresh': a.groupedBackwardWeight(...r, dys, m, xs, n, dw, db, N, fresh); return;
        case 'tables':
          if (a.addPaths) {
            a.addPaths(w, m * n, pathNode, pathParent, pathOut, pathNode.length, pathTables);
            return;
          }
          // as PathSums.build made them before addPaths: each collapsed node's prefix below the root, then the frontier's
          for (const [parent, t, slot] of tableAdds) {
            const src = parent === 0 ? w.subarray(0, m * n) : pathTables.subarray(parent * m * n, (parent + 1) * m * n);
            a.addArrays(src, w.subarray(t * m * n, (t + 1) * m * n), pathTables.subarray(slot * m * n, (slot + 1) * m * n), m * n);
          }
          return;
        case 'weight-step': {
          const st = state[builds.indexOf(a)];
          a.groupedBackwardWeightStep(...r, dys, m, xs, n, st.w, st.db, N, st.mo, st.v, st.steps, null, hp);
          return;
        }
        default: throw new Error(`unknown form '${form}'`);
      }
    };
    const t: number[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      for (const b of round % 2 ? [0, 1] : [1, 0]) {
        if (form !== 'infer') flush();
        const t0 = now();
        call(builds[b]);
        t[b].push(now() - t0);
      }
    }
    const [a, b] = t.map(median);
    console.log(`${form.padEnd(15)} k=${String(k).padEnd(2)} old ${a.toFixed(3)} ms  new ${b.toFixed(3)} ms  speed-up ${(a / b).toFixed(3)}`);
  }
}
