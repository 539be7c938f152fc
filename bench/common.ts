/**
 * What the benchmarks share besides timing: the treegate backends found at run
 * time, the peer engines (loaded once; a peer that fails prints one line and
 * is skipped), the machine's peak figures for rooflines, and plain-text tables.
 */
import { registerAvailableBackends, threadControl } from '../src/kernels/select.js';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getBackend as registeredBackend, type Backend } from '../src/kernels/backend.js';
import type { Candidate } from '../src/experiments/timing.js';

export type Tf = typeof import('@tensorflow/tfjs-core');
export type TfLayers = typeof import('@tensorflow/tfjs-layers');
export type Ort = typeof import('onnxruntime-node');

export interface BenchContext {
  quick: boolean;
  log: (s: string) => void;
}

export interface Table {
  title: string;
  head: string[];
  rows: string[][];
  notes?: string[];
}

export interface BenchResult {
  name: string;
  tables: Table[];
  notes: string[];
  data: unknown;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (s: string): void => void process.stderr.write(s + '\n');

// ---------- treegate backends ----------

let only: string[] | null = null;

/**
 * Untimed pause before a peer's sample: after each parallel call treegate's native worker polls for the next one
 * for 1 ms (native/pool.h) before it blocks; 3 ms lets it stop, so that a peer never shares the second core with it.
 */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3));

/** Restricts the treegate backends measured (`--backends a,b`). */
export function onlyBackends(names: string[]): void {
  only = names;
}

/** Backends left out by --backends (loaded or not). */
export function excludedBackends(): string[] {
  return only ? ['js', 'wasm', 'native'].filter((n) => !only!.includes(n)) : [];
}

/** Registers the backends that load on this machine, as the CLI does, and lists those to measure. */
export async function loadBackends(): Promise<string[]> {
  const all = registerAvailableBackends();
  return only ? all.filter((n) => only!.includes(n)) : all;
}

/** The backend object registered under `name` (the current one stays selected). */
export function getBackend(name: string): Backend {
  const b = registeredBackend(name);
  if (!b) throw new Error(`bench: the ${name} backend is not registered`);
  return b;
}

/** The thread count a backend runs with now (1 where it has no thread control). */
export function threadsOf(b: Backend): number {
  return threadControl(b)?.info().threads ?? 1;
}

/** The threads each treegate backend ran on, beside the tfjs peers' one: what a table comparing them must say. */
export function threadsNote(backends: string[]): string {
  return `threads: treegate ${backends.map((be) => `${be} ${threadsOf(getBackend(be))}`).join(', ')}; tfjs-backend-wasm 1 (it has no threads in Node)`;
}

// ---------- peers ----------

let tfPromise: Promise<Tf | null> | null = null;
let ortPromise: Promise<Ort | null> | null = null;
let layersPromise: Promise<TfLayers | null> | null = null;

/** @tensorflow/tfjs-core with the wasm backend selected, or null (one line printed). */
export function loadTfWasm(): Promise<Tf | null> {
  tfPromise ??= (async () => {
    try {
      const tf = await import('@tensorflow/tfjs-core');
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend(\'wasm\') returned false');
      await tf.ready();
      return tf;
    } catch (err) {
      say(`bench: peer tfjs-backend-wasm unavailable, skipped: ${oneLine(err)}`);
      return null;
    }
  })();
  return tfPromise;
}

/** @tensorflow/tfjs-layers (on the wasm backend), or null. */
export function loadTfLayers(): Promise<TfLayers | null> {
  layersPromise ??= (async () => {
    if (!(await loadTfWasm())) return null;
    try {
      return await import('@tensorflow/tfjs-layers');
    } catch (err) {
      say(`bench: peer tfjs-layers unavailable, skipped: ${oneLine(err)}`);
      return null;
    }
  })();
  return layersPromise;
}

/** onnxruntime-node, or null (one line printed). */
export function loadOrt(): Promise<Ort | null> {
  ortPromise ??= (async () => {
    try {
      const ort = await import('onnxruntime-node');
      if (typeof ort.InferenceSession?.create !== 'function') throw new Error('no InferenceSession.create');
      return ort;
    } catch (err) {
      say(`bench: peer onnxruntime-node unavailable, skipped: ${oneLine(err)}`);
      return null;
    }
  })();
  return ortPromise;
}

export async function peerVersions(): Promise<Record<string, string>> {
  const v: Record<string, string> = {};
  for (const p of ['onnxruntime-node', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-layers']) {
    try {
      v[p] = (JSON.parse(readFileSync(join(root, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      v[p] = 'not installed';
    }
  }
  return v;
}

// ---------- machine ----------

export interface MachineInfo { cpu: string; cores: number; node: string; memoryGiB: number }

/**
 * The processor as the figures need it named: model name, and on Linux its family and model numbers and widest
 * vector extension (sessions have landed on Zen 3 without AVX-512 and on Zen 5 with it, under one model name).
 */
export function machineInfo(): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1].trim();
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    const simd = flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2, no AVX-512' : 'no AVX2';
    cpu = `${field('model name') ?? cpu} (family ${field('cpu family') ?? '?'}, model ${field('model') ?? '?'}, ${simd})`;
  } catch { /* not Linux */ }
  return { cpu, cores: cpus().length, node: process.version, memoryGiB: Math.round(totalmem() / 2 ** 30) };
}

/** Limits used by the rooflines: one core, and all cores. */
export interface Limits {
  /** FLOP/s (FMA = 2 flops), one thread and all threads */
  flops: number;
  flopsAll: number;
  /** bytes/s read from DRAM, one thread and all threads */
  bytes: number;
  bytesAll: number;
  source: string;
}

export const ISSUE_LIMITS: Limits = {
  flops: 117e9, flopsAll: 233e9, bytes: 27e9, bytesAll: 54e9,
  source: 'from the issue (FMA peak 117 GFLOP/s per core, 233 on 2; DRAM read 27 GB/s per core, 2 × 27 assumed on 2), not measured here',
};

/** The limits for a kernel running on `threads` threads. */
export function limitsFor(l: Limits, threads: number): { flops: number; bytes: number } {
  return threads > 1 ? { flops: l.flopsAll, bytes: l.bytesAll } : { flops: l.flops, bytes: l.bytes };
}

let limitsPromise: Promise<Limits> | null = null;

/** machine() of the native backend, in FLOP/s and bytes/s, or null without the addon or its figures. */
export interface MachineRates { isa: string; flops: number; flopsAll: number; bytes: number; bytesAll: number }
async function measureMachine(): Promise<MachineRates | null> {
  const file = join(root, 'src', 'kernels', 'native', 'index.ts');
  if (!existsSync(file)) return null;
  try {
    const mod = (await import(pathToFileURL(file).href)) as { machine?: () => unknown };
    if (typeof mod.machine !== 'function') return null;
    const m = (await mod.machine()) as Record<string, unknown> | null;
    const num = (k: string): number | null => (typeof m?.[k] === 'number' && (m[k] as number) > 0 ? m[k] as number : null);
    const f1 = num('peakGflops1'), fa = num('peakGflopsAll'), b1 = num('readGBs1'), ba = num('readGBsAll');
    if (!f1 || !b1) return null;
    // (the AVX-512 kernels' prefetch hint beside the instruction set: it changes the few-row products' speed, not their sums)
    const isa = String(m?.isa ?? '?') + (m?.isa === 'avx512' && typeof m.prefetch === 'string' ? ` (prefetch ${m.prefetch})` : '');
    return { isa, flops: f1 * 1e9, flopsAll: (fa ?? f1) * 1e9, bytes: b1 * 1e9, bytesAll: (ba ?? b1) * 1e9 };
  } catch (err) {
    say(`bench: machine() of the native backend failed: ${oneLine(err)}`);
    return null;
  }
}

type ReadProbe = (buf: Float32Array, offset: number, count: number, threads: number) => number | null;
let probeFn: ReadProbe | null | undefined;
let probeBuf: Float32Array | null = null;
/** Bytes a read probe reads per call, and the pool it cycles through (far past the caches). */
export const PROBE_BYTES = 64 << 20, PROBE_POOL = 256 << 20;

/**
 * A candidate that reads PROBE_BYTES of memory with `threads` threads at once (the native addon's readProbe,
 * cycling through a 256 MB pool so that every read comes from DRAM): timed in a group beside the layer's
 * candidates, it gives the read rate the machine allowed during that group. Null without the addon.
 */
export async function readProbeCandidate(threads: number): Promise<Candidate | null> {
  if (probeFn === undefined) {
    const file = join(root, 'src', 'kernels', 'native', 'index.ts');
    try {
      const mod = existsSync(file) ? (await import(pathToFileURL(file).href)) as { readProbe?: ReadProbe } : {};
      probeFn = typeof mod.readProbe === 'function' && mod.readProbe(new Float32Array(16), 0, 16, 1) !== null ? mod.readProbe : null;
    } catch (err) {
      say(`bench: readProbe of the native backend failed: ${oneLine(err)}`);
      probeFn = null;
    }
  }
  if (!probeFn) return null;
  const read = probeFn, count = PROBE_BYTES / 4, windows = PROBE_POOL / PROBE_BYTES;
  const buf = (probeBuf ??= new Float32Array(PROBE_POOL / 4).fill(1));
  let next = 0;
  return { name: `read probe ${threads}`, run: () => void read(buf, (next++ % windows) * count, count, threads) };
}

function describe(m: MachineRates): string {
  const g = (x: number) => (x / 1e9).toFixed(0);
  return `${m.isa}: ${g(m.flops)} / ${g(m.flopsAll)} GFLOP/s, ${g(m.bytes)} / ${g(m.bytesAll)} GB/s on 1 / all threads`;
}

/** FLOP/s reached by the matrix products of this run (bench/gemm.ts, any engine), by thread count. */
const reached = new Map<number, number>();

/**
 * Records a matrix product's FLOP/s on `threads` threads: the machine's peak on that many threads (and on all of
 * them) is at least that, whatever machine() measured in a busy moment.
 */
export function noteReachedFlops(threads: number, flops: number): void {
  if (Number.isFinite(flops) && flops > 0 && threads >= 1) reached.set(threads, Math.max(reached.get(threads) ?? 0, flops));
}

// A peak measured on a busy machine comes out low and would flatter the achieved fractions: each limit is the
// larger of the issue's figure, every measurement and, for the FLOP/s, the fastest matrix product of this run
// on that many threads (one thread; any number for all threads).
export function largest(measured: MachineRates[], when: string, reachedFlops: ReadonlyMap<number, number> = reached): Limits {
  const I = ISSUE_LIMITS;
  const max = (k: 'flops' | 'flopsAll' | 'bytes' | 'bytesAll') => Math.max(I[k], ...measured.map((m) => m[k]));
  const one = reachedFlops.get(1) ?? 0, all = Math.max(0, ...reachedFlops.values());
  const flops = Math.max(max('flops'), one), flopsAll = Math.max(max('flopsAll'), all);
  const raised = [flops > max('flops') ? `${(one / 1e9).toFixed(0)} GFLOP/s on 1 thread` : '',
    flopsAll > max('flopsAll') ? `${(all / 1e9).toFixed(0)} GFLOP/s on all threads` : ''].filter(Boolean);
  return {
    flops, flopsAll, bytes: max('bytes'), bytesAll: max('bytesAll'),
    source: `the larger of the issue's figures and the native backend's machine() measured ${when} (${measured.map(describe).join('; ')})` +
      (raised.length ? `, and of this run's fastest matrix product (${raised.join(', ')}), which machine()'s peak fell below` : ''),
  };
}

let startFigures: MachineRates | null = null;

/**
 * The machine's peak FLOP/s and DRAM read bandwidth: from an optional `machine()` export of
 * src/kernels/native/index.ts when it exists and gives figures (peakGflops1, peakGflopsAll, readGBs1,
 * readGBsAll), each the larger of it and the issue's figure; else the issue's figures. Measured once per run.
 */
export function machineLimits(): Promise<Limits> {
  limitsPromise ??= (async () => {
    startFigures = await measureMachine();
    if (!startFigures) {
      say('bench: machine() of the native backend gave no figures (addon not built?); rooflines use the issue\'s figures');
      return ISSUE_LIMITS;
    }
    return largest([startFigures], 'at the start of this run');
  })();
  return limitsPromise;
}

/**
 * The limits again after a long bench: machine() measured once more, each limit the larger of the issue's
 * figure and both measurements (other tenants' load on this VM moves within a run, and either measurement
 * alone can come out low). Without the addon, the issue's figures.
 */
export async function machineLimitsAgain(): Promise<Limits> {
  const start = await machineLimits();
  const now = startFigures ? await measureMachine() : null;
  if (!startFigures || !now) return start;
  return largest([startFigures, now], 'at the start of this run and again after this bench');
}

// ---------- formatting ----------

export function oneLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return s.split('\n')[0].slice(0, 200);
}

export function formatTable(t: Table): string {
  const w = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  const out = [`### ${t.title}`, '', line(t.head), '|' + w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : '-'.repeat(x + 1) + ':')).join('|') + '|'];
  for (const r of t.rows) out.push(line(r));
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
export const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
export const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%` : '–');
export const ratio = (x: number): string => (Number.isFinite(x) ? `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}×` : '–');
