/**
 * GEMM GFLOP/s of the dense forward form y = x Wᵀ (M examples, K inputs, N
 * outputs) for every registered treegate backend (gemmNT; 1 thread, and 2
 * where the backend has setThreads), onnxruntime-node (a one-MatMul model,
 * intraOpNumThreads 1 and 2) and tfjs-backend-wasm (tf.matMul; no threads in
 * Node). Each engine gets the weight layout it prefers: treegate W (N×K),
 * onnxruntime and tfjs B = Wᵀ (K×N) — tfjs-backend-wasm's matMul with
 * transposeB is an order of magnitude slower than without.
 * Baseline of every shape: onnxruntime-node at 1 thread (else the js backend).
 */
import { Rng } from '../src/core/rng.js';
import { threadControl } from '../src/kernels/select.js';
import {
  f1, getBackend, loadBackends, loadOrt, loadTfWasm, noteReachedFlops, oneLine, ratio, settle, threadsOf,
  type BenchContext, type BenchResult, type Table,
} from './common.js';
import { matMulModel } from './onnx.js';
import { measure, timeRatio, type Candidate, type Measurement } from '../src/experiments/timing.js';

/** Floating-point operations of a C (M×N) = A (M×K) · B (K×N) product: 2·M·N·K. */
const gemmFlops = (M: number, N: number, K: number): number => 2 * M * N * K;

/** Speed relative to a baseline: baseline time / candidate time (> 1: the candidate is faster). */
function speedRatio(cand: Measurement, base: Measurement, phase = 'total'): number {
  return 1 / timeRatio(cand, base, phase);
}

export const GEMM_SHAPES: Array<[number, number, number]> = [
  [256, 512, 512], [256, 1024, 1024], [32, 1024, 1024], [1, 1024, 1024],
];

/** A row of the section's data (bench/targets.ts reads it). */
export interface GemmRow {
  shape: string; candidate: string; threads: number; gflops: number; ms: number; repeats: number; inner: number; vsBaseline: number;
  /** treegate's speed over the peer for it (native: onnxruntime-node on as many threads; wasm: tfjs-backend-wasm),
   *  paired round by round as vsBaseline is: what bench/targets.ts judges */
  vsPeer?: number;
}

function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** W (N×K) → Wᵀ (K×N). */
function transpose(w: Float32Array, N: number, K: number): Float32Array {
  const t = new Float32Array(N * K);
  for (let j = 0; j < N; j++) for (let p = 0; p < K; p++) t[p * N + j] = w[j * K + p];
  return t;
}

export async function runGemm(ctx: BenchContext): Promise<BenchResult> {
  const names = await loadBackends();
  const ort = await loadOrt();
  const tf = await loadTfWasm();
  const rng = new Rng(7);
  const rows: GemmRow[] = [];
  const notes: string[] = [];
  const noThreads = new Set<string>();

  for (const [M, N, K] of GEMM_SHAPES) {
    const shape = `${M}×${N}×${K}`;
    ctx.log(`gemm ${shape}`);
    const flops = gemmFlops(M, N, K);
    const x = randomArray(M * K, rng), w = randomArray(N * K, rng), wt = transpose(w, N, K);
    const y = new Float32Array(M * N);
    const cands: Array<Candidate & { threads: number }> = [];
    const cleanup: Array<() => void> = [];

    for (const name of names) {
      const b = getBackend(name);
      const threads = threadControl(b), initial = threadsOf(b);
      // 2 threads only where the backend runs them here (setThreads caps at the cores this process may use)
      const counts = threads ? [1, 2].filter((c) => threads.setThreads(c) === c) : [1];
      if (counts.length < 2) noThreads.add(name);
      // W made by the backend, as a model's weights are (the wasm backend's in its memory, read in place, as the
      // peers keep theirs); x and y are ordinary arrays (activations)
      const wb = b.floats(N * K);
      wb.set(w);
      for (const t of counts) {
        cands.push({
          name: `treegate ${name}`, threads: t, flops,
          before: threads ? () => void threads.setThreads(t) : undefined,
          run: () => b.gemmNT(M, N, K, x, 0, wb, 0, y, 0, false),
        });
      }
      if (threads) {
        threads.setThreads(initial);
        cleanup.push(() => void threads.setThreads(initial));
      }
    }

    if (ort) {
      for (const t of [1, 2]) {
        try {
          const session = await ort.InferenceSession.create(matMulModel(M, N, K), {
            intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
            // NOTE: spinning off: after each run onnxruntime's spinning workers would hold the second core while
            // the next candidate runs (treegate native, 2 threads: 173 GFLOP/s measured after it, 320 alone)
            extra: { session: { intra_op: { allow_spinning: '0' } } },
          });
          const feeds = { A: new ort.Tensor('float32', x, [M, K]), B: new ort.Tensor('float32', wt, [K, N]) };
          cands.push({ name: 'onnxruntime-node', threads: t, flops, before: settle, run: async () => void (await session.run(feeds)) });
          cleanup.push(() => void session.release());
        } catch (err) {
          notes.push(`onnxruntime-node ${shape} ${t} thread(s) failed: ${oneLine(err)}`);
        }
      }
    }

    if (tf) {
      const a = tf.tensor2d(x, [M, K]), bt = tf.tensor2d(wt, [K, N]);
      cands.push({
        name: 'tfjs-backend-wasm', threads: 1, flops, before: settle,
        run: () => {
          const c = tf.matMul(a, bt);
          c.dataSync();
          c.dispose();
        },
      });
      cleanup.push(() => { a.dispose(); bt.dispose(); });
    }

    const ms = await measure(cands, { budgetMs: 500, maxRepeats: 15, log: ctx.log });
    for (const c of cleanup) c();
    const base = pickBaseline(cands, ms);
    const peerOf = (i: number): Measurement | undefined => {
      const [name, threads] = cands[i].name === 'treegate native' ? ['onnxruntime-node', cands[i].threads]
        : cands[i].name === 'treegate wasm' && cands[i].threads === 1 ? ['tfjs-backend-wasm', 1] : [null, 0];
      const j = cands.findIndex((c) => c.name === name && c.threads === threads);
      return j >= 0 ? ms[j] : undefined;
    };
    ms.forEach((m, i) => {
      const peer = peerOf(i);
      rows.push({
        shape, candidate: cands[i].name, threads: cands[i].threads, gflops: m.gflops ?? NaN, ms: m.ms,
        repeats: m.repeats, inner: m.inner, vsBaseline: speedRatio(m, base), ...(peer ? { vsPeer: speedRatio(m, peer) } : {}),
      });
    });
    ms.forEach((m, i) => noteReachedFlops(cands[i].threads, (m.gflops ?? NaN) * 1e9)); // a floor for the trees' peak
  }

  const baselineName = ort ? 'onnxruntime-node, 1 thread' : 'treegate js, 1 thread';
  const table: Table = {
    title: 'GEMM, y = x Wᵀ (M×N×K), GFLOP/s = 2·M·N·K / median time',
    head: ['shape M×N×K', 'engine', 'threads', 'GFLOP/s', `speed vs ${baselineName}`, 'repeats × calls'],
    rows: rows.map((r) => [r.shape, r.candidate, String(r.threads), f1(r.gflops), ratio(r.vsBaseline), `${r.repeats} × ${r.inner}`]),
    notes: [
      ...[...noThreads].map((n) => `treegate ${n}: no 2-thread figure (no setThreads() on the backend, or one core for this process)`),
      'tfjs-backend-wasm has no threads in Node (WASM_HAS_MULTITHREAD_SUPPORT false); it and onnxruntime get B = Wᵀ (K×N)',
      'no FMA-peak or bandwidth microbenchmark here: see the tree bench for the figures its rooflines use',
      ...notes,
    ],
  };
  return { name: 'gemm', tables: [table], notes: [], data: { rows } };
}

function pickBaseline(cands: Array<Candidate & { threads: number }>, ms: Measurement[]): Measurement {
  let i = cands.findIndex((c) => c.name === 'onnxruntime-node' && c.threads === 1);
  if (i < 0) i = cands.findIndex((c) => c.name === 'treegate js');
  return ms[Math.max(0, i)];
}
