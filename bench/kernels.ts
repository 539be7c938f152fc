/**
 * The native kernels one node at a time, one thread: a node's product with
 * r = 1 … 256 rows of examples, n = m = 512, in the forms the layer runs
 * (NT y = x Wᵀ: forward; NT over the node packed once into panels (packNodes):
 * inference; NN dx = dy W: input gradient; TN dW += dyᵀ x: weight gradient),
 * with the node's weights read from memory (a
 * different node of a pool larger than the caches on every call) and from
 * cache (the same node every call), interleaved. Each figure against its
 * one-thread roofline max(flops / peak, bytes / bandwidth), bytes = the node's
 * 1 MB once (NT, NN) or read and written (TN); from cache, against the FMA peak.
 * Plus the cost of one thread handshake of the pool (native/pool.h).
 * These are the figures behind "what is left" (fourth session) in docs/benchmark-history.md.
 */
import { loadAddon, nativeBackend } from '../src/kernels/native/index.js';
import { fmtMs, measure, type Candidate } from '../src/experiments/timing.js';
import { machineLimits, pct, type BenchContext, type BenchResult, type Table } from './common.js';

const m = 512, s = 512, ms = m * s;
const ROWS = [1, 2, 4, 8, 12, 16, 24, 32, 64, 128, 256];
const FORMS = ['NT', 'NT packed', 'NN', 'TN'] as const;
type Form = (typeof FORMS)[number];
const TITLES: Record<Form, string> = {
  'NT': 'NT (forward)', 'NT packed': 'NT over packed panels (inference)', 'NN': 'NN (input gradient)', 'TN': 'TN (weight gradient, accumulating)',
};

export async function runKernels(ctx: BenchContext): Promise<BenchResult> {
  const a = loadAddon();
  if (!a) return { name: 'kernels', tables: [], notes: ['kernels: the native addon is not built; nothing to measure'], data: null };
  const limits = await machineLimits();
  const nodes = ctx.quick ? 192 : 512; // 192 MB or 512 MB of weights: far beyond the caches
  // on cache lines, as the layer's tables are (the native backend's floats()); until the thirty-fourth session a
  // plain array, 16 bytes past a line
  const floats = nativeBackend()!.floats;
  const pool = floats(nodes * ms);
  // Every float written: a page of a new array that is only read stays mapped to the kernel's one zero page, so
  // its reads come from cache (and its many addresses of one physical page slow AMD's L1). Until the thirty-third
  // session one float in 4096 was written (one page in four), and the weights-from-memory figures read too fast.
  pool.fill(1e-3);
  const x = new Float32Array(256 * s).fill(0.5), y = new Float32Array(256 * m).fill(0.25);
  const order = Int32Array.from({ length: nodes }, (_, i) => (i * 7919) % nodes);
  let next = 0;
  // the same nodes packed as inference reads them (512 columns: no padding, the same size), and one node range
  const packed = floats(nodes * ms), bias = floats(nodes * m);
  a.packNodes(pool, nodes, m, s, packed);
  const range = { node: new Int32Array(1), start: new Int32Array(1), end: new Int32Array(1) };
  const call = (form: Form, rows: number, node: number): void => {
    const o = node * ms;
    if (form === 'NT') a.gemm(rows, m, s, x, 0, s, 1, pool, o, 1, s, y, 0, m, true);
    else if (form === 'NT packed') {
      range.node[0] = node;
      range.end[0] = rows;
      a.groupedForward(range.node, range.start, range.end, 0, 1, x, s, packed, bias, m, y, rows, true);
    }
    else if (form === 'NN') a.gemm(rows, s, m, y, 0, m, 1, pool, o, s, 1, x, 0, s, true);
    else a.gemm(m, s, rows, y, 0, 1, m, x, 0, s, 1, pool, o, s, true);
  };
  const initialThreads = a.info().threads;
  a.setThreads(1);
  const rows: Array<{ form: Form; rows: number; memoryMs: number; cacheMs: number; boundMs: number; achieved: number; cachedPeak: number }> = [];
  const tables: Table[] = [];
  try {
    for (const form of FORMS) {
      const cands: Candidate[] = ROWS.flatMap((r) => [
        { name: `${form} ${r} memory`, run: () => call(form, r, order[next++ % nodes]) },
        { name: `${form} ${r} cache`, run: () => call(form, r, 0) },
      ]);
      const res = await measure(cands, { budgetMs: ctx.quick ? 120 : 400, minRepeats: 5, maxRepeats: 15, minSampleMs: 2, log: ctx.log });
      for (const r of ROWS) {
        const mem = res.find((q) => q.name === `${form} ${r} memory`)!.ms, hot = res.find((q) => q.name === `${form} ${r} cache`)!.ms;
        const flops = 2 * r * ms, bytes = (form === 'TN' ? 8 : 4) * ms;
        const boundMs = Math.max(flops / limits.flops, bytes / limits.bytes) * 1e3;
        rows.push({ form, rows: r, memoryMs: mem, cacheMs: hot, boundMs, achieved: boundMs / mem, cachedPeak: (flops / limits.flops) * 1e3 / hot });
      }
      const rs = rows.filter((q) => q.form === form);
      tables.push({
        title: `native kernels, one node 512×512, ${TITLES[form]}, 1 thread`,
        head: ['rows', 'weights from memory', 'roofline bound', 'achieved', 'weights in cache', 'of FMA peak'],
        rows: rs.map((q) => [String(q.rows), fmtMs(q.memoryMs), fmtMs(q.boundMs), pct(q.achieved), fmtMs(q.cacheMs), pct(q.cachedPeak)]),
      });
    }
  } finally {
    a.setThreads(initialThreads);
  }
  a.setThreads(Math.max(2, initialThreads));
  const calls = 20000, t0 = performance.now();
  a.parallelStress(calls, 16, 0); // work 16: a run large enough to wake a sleeping worker (native/pool.h, kWakeSize)
  const handshakeUs = ((performance.now() - t0) / calls) * 1e3;
  a.setThreads(initialThreads);
  const notes = [
    `roofline: 1 thread, ${(limits.flops / 1e9).toFixed(0)} GFLOP/s and ${(limits.bytes / 1e9).toFixed(1)} GB/s; memory: a different node of ${nodes} MB of weights every call; cache: the same node every call`,
    `pool handshake (one task per thread, back to back, ${calls} calls): ${handshakeUs.toFixed(2)} µs`,
  ];
  tables[tables.length - 1].notes = notes;
  return { name: 'kernels', tables, notes: [], data: { limits, nodes, rows, handshakeUs } };
}
