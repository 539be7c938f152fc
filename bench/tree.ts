/**
 * Tree-gated layer, n = m = 512, N = 256, k = 0…10, units gating on inputs
 * whose gating units give balanced random bits (standard normal inputs: each
 * sign bit is a fair coin). For every registered backend, per k:
 *   training: forward (train mode), backward (parameter and input gradients),
 *             step (lazy Adam over the touched nodes, zeroing their gradients as it goes);
 *             and the whole training step as train() runs it: forward, then backward with the optimizer's
 *             step fused in (Optimizer.early; the weights take their update as their gradient is made);
 *   inference: collapsed leaves at N = 256 and N = 1 (N = 1: each call the next example of the batch, so
 *              successive calls read different leaves, as separate requests would);
 * each with its roofline bound max(flops / peak, bytes / bandwidth) from
 * napkin math, the achieved fraction of that bound, and its time relative to
 * a dense layer of equal compute (512→512) and to a dense layer of equal
 * parameters (512→T·512, T = 2^(k+1) − 1 nodes, width capped), measured
 * interleaved in one group per k and backend. Each group also times a 64 MB
 * read from memory with the backend's threads (the addon's readProbe), and
 * every figure gives its fraction of the roofline bound at that read rate too:
 * against what the memory gave while it ran, beside the fixed bound.
 *
 * Napkin bytes (float32): each touched node's m·n weights (and m biases) once
 * per pass, plus the pass's inputs and outputs. Backward also writes the
 * touched nodes' weight gradients once; step reads w, g, m, v and writes w, m,
 * v (Adam) and clears g: 8 accesses per element. The fused training step: forward reads the weights,
 * backward reads them once more for both the input gradient and the update, with m and v, and writes w, m
 * and v: 7 accesses per element (the implementation reads w twice in backward, 8: the napkin counts what
 * the computation needs, not what one schedule does). Flops: 2 per multiply-add;
 * step is counted as bandwidth-bound (flops 0). The bound uses the peak and
 * DRAM bandwidth of the thread count the backend runs with, even where the
 * weights sit in cache (k = 0: 1 MB), so a cache-resident kernel can exceed 100%.
 */
import { Rng } from '../src/core/rng.js';
import { matrix, type Matrix } from '../src/core/tensor.js';
import { setBackend } from '../src/kernels/backend.js';
import { nodeCount } from '../src/kernels/routing.js';
import { Dense } from '../src/layers/dense.js';
import type { Layer } from '../src/layers/layer.js';
import { TreeGated } from '../src/layers/tree.js';
import { Optimizer } from '../src/train/optim.js';
import {
  getBackend, limitsFor, loadBackends, machineLimits, machineLimitsAgain, pct, PROBE_BYTES, ratio, readProbeCandidate, threadsOf,
  type BenchContext, type BenchResult, type Table,
} from './common.js';
import { fmtMs, measure, timeRatio, type Candidate, type Measurement } from '../src/experiments/timing.js';

/** Frees memory between heavy groups when the process can (gc exposed at run time). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const n = 512, m = 512, N = 256, K_MAX = 10;
/**
 * The deepest k the js reference is timed at in a quick run (every k with --full): its k = 9 and 10 took 90 s of a
 * 600 s budget (a training call 11–15 s, building k = 10's collapsed tables 20 s), and no target reads them.
 */
const JS_QUICK_K_MAX = 8;

export const TRAIN_PHASES = ['forward', 'backward', 'step'] as const;
export const FIGURES = [...TRAIN_PHASES, 'train step', 'infer N=256', 'infer N=1'] as const;
type Figure = (typeof FIGURES)[number];

interface Napkin { flops: number; bytes: number }

/** A row of the section's data (bench/targets.ts and chart.ts read it). */
export interface FigureRow {
  backend: string; k: number; figure: Figure; touched: number; ms: number; repeats: number;
  boundMs: number; boundBy: 'flops' | 'bytes'; achieved: number; nodeBoundMs: number; nodeAchieved: number;
  /** the read rate of the group's probe (bytes/s; null without the addon) and the fraction of the roofline bound at that rate */
  probeRate: number | null; probeAchieved: number | null;
  vsDenseCompute: number; vsDenseParams: number; denseParamsWidth: number; denseParamsCapped: boolean;
}

function normalMatrix(rows: number, cols: number, rng: Rng): Matrix {
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return matrix(rows, cols, a);
}

/** Rows of every touched node (all depths) and of every non-empty leaf, from the gating bits. */
function nodeRows(x: Matrix, k: number, units: number[]): { nodes: number[]; leaves: number[] } {
  const leaf = new Int32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let l = 0;
    for (let d = 0; d < k; d++) l = (l << 1) | (x.data[i * x.cols + units[d]] > 0 ? 1 : 0);
    leaf[i] = l;
  }
  const counts = (d: number): number[] => {
    const c = new Map<number, number>();
    for (const l of leaf) c.set(l >> (k - d), (c.get(l >> (k - d)) ?? 0) + 1);
    return [...c.values()];
  };
  const nodes: number[] = [];
  for (let d = 0; d <= k; d++) nodes.push(...counts(d));
  return { nodes, leaves: counts(k) };
}

/** A trainable layer with its optimizer, fixed input / output-gradient batches, and the batch's rows one by one. */
interface Subject { name: string; layer: Layer; opt: Optimizer; x: Matrix; dy: Matrix; rows: Matrix[] }

function subject(name: string, layer: Layer, x: Matrix, rng: Rng): Subject {
  const dy = normalMatrix(N, layer.outputSize, rng);
  for (let i = 0; i < dy.data.length; i++) dy.data[i] *= 1e-3;
  const rows = Array.from({ length: x.rows }, (_, i) => matrix(1, n, x.data.subarray(i * n, (i + 1) * n)));
  return { name, layer, opt: new Optimizer(layer.params(), { kind: 'adam' }), x, dy, rows };
}

function trainCandidate(s: Subject, be: string): Candidate {
  return {
    name: `${s.name} @${be}`,
    before: () => void setBackend(be),
    run: (lap) => {
      s.layer.forward(s.x, 'train');
      lap('forward');
      s.layer.backward(s.dy, true);
      lap('backward');
      s.opt.step(1e-4); // also zeroes the gradients it applies
      lap('step');
    },
  };
}

/**
 * Backends whose groupedBackwardWeightStep is a kernel of its own. js composes it from groupedBackwardWeight and the
 * update (src/kernels/weight-step.ts), the kernels of the separate backward and step, so its training step is the
 * separate candidate's forward + backward + step, read from it (timing it again would add a minute at k = 8–10 to a
 * bench that must finish in 10).
 */
const OWN_FUSED_STEP = new Set(['native', 'wasm']);

/** The tree's whole training step as train() runs it: the update fused into backward, then the step of what is left (the biases). */
function fusedCandidate(s: Subject, be: string): Candidate {
  return {
    name: `${s.name} fused @${be}`,
    before: () => void setBackend(be),
    run: () => {
      s.layer.forward(s.x, 'train');
      s.layer.backward(s.dy, true, s.opt.early(1e-4));
      s.opt.step(1e-4);
    },
  };
}

function inferCandidate(s: Subject, be: string, rows: 1 | 256): Candidate {
  let next = 0;
  const x = (): Matrix => (rows === 1 ? s.rows[next++ % s.rows.length] : s.x);
  return { name: `${s.name} @${be} N=${rows}`, before: () => void setBackend(be), run: () => void s.layer.forward(x(), 'infer') };
}

/** Napkin flops and bytes of one figure for a layer reading `nodes` matrices of m×w (tree: w = n; dense: its own shape). */
function napkin(figure: Figure, k: number, touched: number, leaves: number, out: number): Napkin {
  // tree: out = m, weights per node P; dense: k = 0, touched = 1, out = its width
  const wts = touched * (n * out + out), io = (rows: number) => 4 * rows * (n + out);
  switch (figure) {
    case 'forward': return { flops: 2 * N * (k + 1) * n * out, bytes: 4 * wts + io(N) };
    case 'backward': return { flops: 4 * N * (k + 1) * n * out, bytes: 8 * wts + io(N) + 4 * N * n };
    case 'step': return { flops: 0, bytes: 32 * wts };
    case 'train step': return { flops: 6 * N * (k + 1) * n * out, bytes: 28 * wts + 2 * io(N) + 4 * N * n };
    case 'infer N=256': return { flops: 2 * N * n * out, bytes: 4 * leaves * (n * out + out) + io(N) };
    case 'infer N=1': return { flops: 2 * n * out, bytes: 4 * (n * out + out) + io(1) };
  }
}

/**
 * The bound if each node's product overlaps only its own reads: Σ over nodes of max(flops / peak, bytes /
 * bandwidth), plus the pass's inputs and outputs. Above the layer's bound wherever compute-bound and
 * memory-bound nodes mix (the layer's bound lets one node's reads overlap another node's arithmetic).
 */
function nodeBoundMs(figure: Figure, rows: { nodes: number[]; leaves: number[] }, lim: { flops: number; bytes: number }): number {
  const P = n * m + m, io = (r: number) => 4 * r * (n + m);
  const t = (flops: number, bytes: number) => Math.max(flops / lim.flops, bytes / lim.bytes) * 1e3;
  const sum = (rs: number[], f: (r: number) => number) => rs.reduce((a, r) => a + f(r), 0);
  switch (figure) {
    case 'forward': return sum(rows.nodes, (r) => t(2 * r * n * m, 4 * P)) + t(0, io(N));
    case 'backward': return sum(rows.nodes, (r) => t(4 * r * n * m, 8 * P)) + t(0, io(N) + 4 * N * n);
    case 'step': return t(0, 32 * P * rows.nodes.length);
    // forward and backward are separate passes: each node overlaps its forward reads, then its backward's
    case 'train step': return sum(rows.nodes, (r) => t(2 * r * n * m, 4 * P) + t(4 * r * n * m, 24 * P)) + t(0, 2 * io(N) + 4 * N * n);
    case 'infer N=256': return sum(rows.leaves, (r) => t(2 * r * n * m, 4 * P)) + t(0, io(N));
    case 'infer N=1': return t(2 * n * m, 4 * P) + t(0, io(1));
  }
}

function bound(nk: Napkin, lim: { flops: number; bytes: number }): { ms: number; by: 'flops' | 'bytes' } {
  const f = (nk.flops / lim.flops) * 1e3, b = (nk.bytes / lim.bytes) * 1e3;
  return f >= b ? { ms: f, by: 'flops' } : { ms: b, by: 'bytes' };
}

export async function runTree(ctx: BenchContext): Promise<BenchResult> {
  const backends = await loadBackends();
  await machineLimits(); // measured before the runs; again after them (below)
  const cap = ctx.quick ? 4096 : 65536;
  const timing = ctx.quick
    ? { budgetMs: 1000, minRepeats: 2, maxRepeats: 10, log: ctx.log }
    : { budgetMs: 3000, minRepeats: 3, maxRepeats: 20, log: ctx.log };
  const rows: FigureRow[] = [];
  // each figure's row, once the limits are known (measured again after the runs)
  const measured: Array<{ backend: string; row: (lim: { flops: number; bytes: number }) => FigureRow }> = [];
  const rng = new Rng(11);
  const x = normalMatrix(N, n, rng);

  for (let k = 0; k <= K_MAX; k++) {
    ctx.log(`tree k=${k}`);
    const units = Array.from({ length: k }, (_, d) => d);
    const rowsOf = nodeRows(x, k, units), touched = rowsOf.nodes.length, leaves = rowsOf.leaves.length;
    const T = nodeCount(k);
    const width = Math.min(T * m, cap); // dense of equal parameters: T·(m·n + m) = width·(n + 1) ⇔ width = T·m
    const names = { tree: 'tree', dc: 'dense 512→512', dp: `dense 512→${width}` };
    // each backend's layers are made while it is selected (their arrays where its kernels read them: the wasm
    // backend's in its memory), all before the timing: the first backend's from the draws, the others' copies of
    // them (drawing the 2047 nodes of k = 10 again took 6 s per backend)
    const draws = rng.fork().getState(), dyDraws = rng.fork().getState();
    const here = backends.filter((be) => be !== 'js' || !ctx.quick || k <= JS_QUICK_K_MAX);
    const sets = new Map<string, Subject[]>();
    for (const be of here) {
      setBackend(be);
      const layers: Array<TreeGated | Dense> = [
        new TreeGated({ inputSize: n, outputSize: m, depth: k, gating: 'units', gateUnits: units }), new Dense(n, m), new Dense(n, width)];
      const source = sets.values().next().value;
      if (source) layers.forEach((l, i) => l.params().forEach((p, j) => p.data.set(source[i].layer.params()[j].data)));
      else {
        const r = Rng.fromState(draws);
        for (const l of layers) l.init(r);
      }
      const d = Rng.fromState(dyDraws);
      sets.set(be, layers.map((l, i) => subject([names.tree, names.dc, names.dp][i], l, x, d)));
    }

    // One interleaved group per backend and kind: interleaved with js and wasm samples, the native (2-thread)
    // samples ran up to 2.3× slower at deep k (k = 10 forward 82 ms vs 36 ms; likely V8's collector threads on
    // the second core). Each group also times a read of 64 MB from memory with the backend's threads: the read
    // rate during the group.
    const trainM: Measurement[] = [], inferM: Measurement[] = [];
    const probe = async (be: string): Promise<Candidate[]> => {
      const c = await readProbeCandidate(threadsOf(getBackend(be)));
      return c ? [{ ...c, name: `read probe @${be}` }] : [];
    };
    const groups = async (be: string): Promise<void> => {
      const subjects = sets.get(be)!;
      sets.delete(be);
      setBackend(be);
      collectGarbage();
      // One untimed training step of each layer first: its gradients' and optimizer state's pages are touched on
      // first use (1.5 GB at k = 8), which made the first call 20× the others (2.2 s against 0.1 s at k = 8), and
      // measure() sizes its repeats from its warm-up calls: two repeats where ten were meant.
      for (const s of subjects) trainCandidate(s, be).run(() => {});
      const fused = OWN_FUSED_STEP.has(be) ? [fusedCandidate(subjects[0], be)] : [];
      trainM.push(...await measure([...subjects.map((s) => trainCandidate(s, be)), ...fused, ...await probe(be)], timing));
      for (const s of subjects) s.layer.forward(s.x, 'infer'); // builds this backend's collapsed tables outside the timing
      collectGarbage();
      inferM.push(...await measure([...subjects.flatMap((s) => [inferCandidate(s, be, 256), inferCandidate(s, be, 1)]), ...await probe(be)], timing));
      for (const s of subjects) {
        s.layer.dispose(); // the wasm backend's memory back for the next layers
        s.opt.dispose();
      }
    };
    for (const be of here) await groups(be);

    const get = (ms: Measurement[], name: string): Measurement => ms.find((q) => q.name === name)!;
    for (const be of here) {
      for (const figure of FIGURES) {
        const isTrain = (TRAIN_PHASES as readonly string[]).includes(figure) || figure === 'train step';
        const phase = (TRAIN_PHASES as readonly string[]).includes(figure) ? figure : 'total';
        const pick = (name: string): Measurement => isTrain
          ? get(trainM, `${name} @${be}`)
          : get(inferM, `${name} @${be} N=${figure === 'infer N=1' ? 1 : 256}`);
        // the dense layers' training step: their forward + backward + step (they have no fused update)
        const t = figure === 'train step' && OWN_FUSED_STEP.has(be) ? get(trainM, `tree fused @${be}`) : pick(names.tree);
        const c = pick(names.dc), p = pick(names.dp);
        const ms = t.phases[phase].ms;
        const pm = (isTrain ? trainM : inferM).find((q) => q.name === `read probe @${be}`);
        const probeRate = pm ? PROBE_BYTES / (pm.ms / 1e3) : null;
        const nk = napkin(figure, k, touched, leaves, m), nodes = figure === 'infer N=1' ? { nodes: [1], leaves: [1] } : rowsOf;
        measured.push({ backend: be, row: (lim) => {
          const b = bound(nk, lim), nb = nodeBoundMs(figure, nodes, lim);
          const pb = probeRate === null ? null : bound(nk, { flops: lim.flops, bytes: probeRate }).ms;
          return {
            backend: be, k, figure, touched: figure === 'infer N=1' ? 1 : figure === 'infer N=256' ? leaves : touched,
            ms, repeats: t.repeats, boundMs: b.ms, boundBy: b.by, achieved: b.ms / ms, nodeBoundMs: nb, nodeAchieved: nb / ms,
            probeRate, probeAchieved: pb === null ? null : pb / ms,
            vsDenseCompute: timeRatio(t, c, phase), vsDenseParams: timeRatio(t, p, phase),
            denseParamsWidth: width, denseParamsCapped: width < T * m,
          };
        } });
      }
    }
  }

  // the bounds use the larger of machine()'s figures at the start and now, so that load at either moment
  // cannot lower them
  const final = await machineLimitsAgain();
  for (const f of measured) rows.push(f.row(limitsFor(final, threadsOf(getBackend(f.backend)))));
  const tables: Table[] = [];
  for (const be of backends) {
    const threads = threadsOf(getBackend(be));
    for (const figure of FIGURES) {
      const rs = rows.filter((r) => r.backend === be && r.figure === figure);
      tables.push({
        title: `tree-gated layer 512→512, N = ${figure === 'infer N=1' ? 1 : N}, ${figureTitle(figure)} — backend ${be} (${threads} thread${threads > 1 ? 's' : ''})`,
        head: ['k', figure.startsWith('infer') ? 'leaves read' : 'nodes touched', 'time', 'roofline bound', 'achieved',
          'per-node bound', 'achieved vs per-node', 'read rate in the group', 'achieved at that rate', 'time ÷ dense 512→512', 'time ÷ dense of equal params', 'repeats'],
        rows: rs.map((r) => [
          String(r.k), String(r.touched), fmtMs(r.ms), `${fmtMs(r.boundMs)} (${r.boundBy === 'flops' ? 'compute' : 'memory'})`,
          pct(r.achieved), fmtMs(r.nodeBoundMs), pct(r.nodeAchieved),
          r.probeRate === null ? '–' : `${(r.probeRate / 1e9).toFixed(1)} GB/s`, r.probeAchieved === null ? '–' : pct(r.probeAchieved),
          ratio(r.vsDenseCompute),
          `${ratio(r.vsDenseParams)} (512→${r.denseParamsWidth}${r.denseParamsCapped ? ', capped' : ''})`, String(r.repeats),
        ]),
      });
    }
  }
  const notes = [
    `roofline limits: 1 thread ${(final.flops / 1e9).toFixed(0)} GFLOP/s and ${(final.bytes / 1e9).toFixed(1)} GB/s, all threads ${(final.flopsAll / 1e9).toFixed(0)} GFLOP/s and ${(final.bytesAll / 1e9).toFixed(1)} GB/s — ${final.source}; each backend is bounded with the figures of the thread count it runs with`,
    `dense of equal parameters has width T·512 (T = 2^(k+1) − 1 nodes), capped at ${cap} outputs (${ctx.quick ? 'quick run; --full raises it to 65536' : 'full run'}) to keep the run short on the js backend; capped rows compare against a smaller dense layer than the tree's capacity`,
    'per-node bound: Σ over the touched nodes of max(flops / peak, bytes / bandwidth) + inputs and outputs, i.e. each node product overlapping only its own weight reads (the roofline bound lets one node\'s reads overlap another\'s arithmetic); its achieved fraction measures the kernels, the gap between the two bounds the scheduling',
    `read rate in the group: ${PROBE_BYTES >> 20} MB read from memory with the backend's thread count (the native addon's readProbe, vector loads), timed in the same interleaved group as the figure; achieved at that rate: the roofline bound with that rate in place of the bandwidth limit (the same peak), i.e. against what the memory gave while the figure ran — a diagnostic beside the issue's bound, not a replacement (it reads above 100% where weights come from cache)`,
    'training figures: forward (train mode), backward (weight + input gradients), step = lazy Adam over touched nodes + clearing their gradients; training step = forward + backward with the Adam update fused in, as train() runs it (native and wasm: a candidate of its own in the same group; js composes the fused update from the separate kernels, so its figure is the separate candidate\'s forward + backward + step, as is the dense layers\'); its napkin: 28 bytes per weight (forward reads w; backward reads w, m, v once and writes w, m, v), flops of forward + backward, the per-node bound overlapping each node\'s forward and backward with their own reads',
    ...(ctx.quick && backends.includes('js') ? [`the js reference is timed at k ≤ ${JS_QUICK_K_MAX} in a quick run (its deeper trees take minutes; --full times every k)`] : []),
    'inference: collapsed leaf tables (k = 0: the root), built outside the timing and, on the native backend, packed into panels as the dense baselines\' weights are; N = 1 takes the next example of the batch on every call, so successive calls read different leaves',
  ];
  tables[tables.length - 1].notes = notes;
  return { name: 'tree', tables, notes: [], data: { limits: final, cap, rows } };
}

function figureTitle(f: Figure): string {
  switch (f) {
    case 'forward': return 'training forward';
    case 'backward': return 'backward (dW, db, dx)';
    case 'step': return 'optimizer step (lazy Adam + clear gradients)';
    case 'train step': return 'training step as train() runs it (forward + backward with the Adam update fused in)';
    case 'infer N=256': return 'collapsed inference';
    case 'infer N=1': return 'collapsed inference';
  }
}
