import { TreegateError } from '../../core/errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../backend.js';
import { usableCores } from '../cores.js';
import type { Routing } from '../routing.js';
import { checkWeightStep, type WeightStep } from '../weight-step.js';

/** The compiled addon's entry points (declared in native/addon.h, registered in native/addon.cc). */
interface Addon {
  gemm(M: number, N: number, K: number, a: Float32Array, ao: number, ars: number, acs: number,
    b: Float32Array, bo: number, brs: number, bcs: number, c: Float32Array, co: number, crs: number, accumulate: boolean): void;
  groupedForward(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    xs: Float32Array, s: number, w: Float32Array, bias: Float32Array, m: number, ys: Float32Array, N: number, packed: boolean): void;
  routedForward(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    xs: Float32Array, s: number, w: Float32Array, bias: Float32Array, m: number, ys: Float32Array, N: number,
    perm: Int32Array, x: Float32Array, xStride: number, xOffset: number, y: Float32Array, accumulate: boolean, packed: boolean): void;
  packNodes(w: Float32Array, T: number, m: number, s: number, out: Float32Array): void;
  groupedBackwardInput(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    dys: Float32Array, m: number, w: Float32Array, s: number, dxs: Float32Array, N: number): void;
  groupedBackwardWeight(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    dys: Float32Array, m: number, xs: Float32Array, s: number, dw: Float32Array, dbias: Float32Array, N: number,
    fresh: Uint8Array | null): void;
  groupedBackwardWeightStep(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    dys: Float32Array, m: number, xs: Float32Array, s: number, w: Float32Array, dbias: Float32Array, N: number,
    mState: Float32Array, vState: Float32Array | null, steps: Int32Array, decayScale: Float32Array | null, hp: Float64Array): void;
  pathWeightStep(node: Int32Array, start: Int32Array, end: Int32Array, g0: number, g1: number,
    dys: Float32Array, m: number, xs: Float32Array, s: number, w: Float32Array, dbias: Float32Array, N: number,
    mState: Float32Array, vState: Float32Array | null, steps: Int32Array, decayScale: Float32Array | null, hp: Float64Array,
    entry: Int32Array, parent: Int32Array, at: Int32Array, count: number): void;
  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array,
    count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, b1: number, b2: number, eps: number,
    clearGrad: boolean): void;
  sgdUpdate(w: Float32Array, g: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array, count: number,
    steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, mu: number, clearGrad: boolean): void;
  addRowVector(y: Float32Array, rows: number, cols: number, v: Float32Array): void;
  addArrays(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void;
  addPaths(w: Float32Array, size: number, node: Int32Array, parent: Int32Array, outAt: Int32Array, count: number, out: Float32Array): void;
  addColumnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  rowDots(a: Float32Array, b: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void;
  scaleRows(x: Float32Array, rows: number, cols: number, scale: Float32Array, y: Float32Array): void;
  unary(kind: 0 | 1, x: Float32Array, y: Float32Array, count: number): void;
  unaryBackward(kind: 0 | 1, y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void;
  softmaxCrossEntropy(logits: Float32Array, rows: number, cols: number, labels: Int32Array, dlogits: Float32Array | null, out: Float64Array): void;
  gatherRows(src: Float32Array, srcStride: number, srcOffset: number, idx: Int32Array, count: number, cols: number, dst: Float32Array): void;
  scatterRows(src: Float32Array, cols: number, idx: Int32Array, count: number, dst: Float32Array, dstStride: number, dstOffset: number, accumulate: boolean): void;
  machine(): MachineFigures;
  readProbe(buf: Float32Array, offset: number, count: number, threads: number): number;
  lineOffset(buffer: ArrayBuffer): number;
  setThreads(n: number): number;
  parallelStress(calls: number, work: number, lateMicros: number): number;
  info(): NativeInfo;
}

/** What the native backend runs with: its instruction set, threads (the most it may use, and now), kernel tuning. */
export interface NativeInfo {
  isa: string;
  /** where the few-row products prefetch a node's weights: 'l1' with the AVX-512 kernels on a Zen 5, else 'l2' */
  prefetch: 'l1' | 'l2';
  maxThreads: number; threads: number; panel: number; chainRowsNT: number;
}

/** Measured by the addon: FMA peak (16 independent vector chains) and DRAM read bandwidth, 1 thread and all. */
export interface MachineFigures { isa: string; prefetch: 'l1' | 'l2'; threads: number; peakGflops1: number; peakGflopsAll: number; readGBs1: number; readGBsAll: number }

/** Path of the addon built by `npm ci` (scripts/build-native.mjs). */
export const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/treegate_native.node', import.meta.url));
/** Why the last build (the install's, or npm run build:native) made no addon, where it made none (scripts/build-native.mjs). */
const NOT_BUILT_PATH = fileURLToPath(new URL('../../../build/native-not-built.txt', import.meta.url));

let addon: Addon | null | undefined;
let loadError = '';

/** Loads the addon once; null (with `nativeLoadError()` saying why) if it was not built or cannot load. */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  // a misspelt setting would otherwise be ignored without a word (the native backend on, the widest kernels, the CPU's prefetch hint)
  const native = process.env.TREEGATE_NATIVE, isa = process.env.TREEGATE_NATIVE_ISA, pool = process.env.TREEGATE_NATIVE_THREADS;
  const prefetch = process.env.TREEGATE_NATIVE_PREFETCH;
  if (native !== undefined && native !== '' && native !== 'off') {
    throw new TreegateError(`TREEGATE_NATIVE=${native}: the one setting is off (the native backend not loaded)`, 'unset it, or set it to off');
  }
  if (isa !== undefined && isa !== '' && !['avx512', 'avx2', 'generic'].includes(isa)) {
    throw new TreegateError(`TREEGATE_NATIVE_ISA=${isa}: not one of the addon's instruction sets`, 'set avx512, avx2 or generic (the widest the CPU has, at most this), or unset it');
  }
  if (prefetch !== undefined && prefetch !== '' && prefetch !== 'l1' && prefetch !== 'l2') {
    throw new TreegateError(`TREEGATE_NATIVE_PREFETCH=${prefetch}: not one of the AVX-512 kernels' prefetch hints`, 'set l1 or l2, or unset it for the CPU\'s own (l1 on a Zen 5, l2 elsewhere)');
  }
  if (pool !== undefined && pool !== '' && !/^([1-9]|[1-5][0-9]|6[0-4])$/.test(pool)) {
    throw new TreegateError(`TREEGATE_NATIVE_THREADS=${pool}: not a thread count from 1 to 64`, 'set the threads of the addon\'s pool (1–64), or unset it for one per CPU');
  }
  if (native === 'off') {
    loadError = 'disabled by TREEGATE_NATIVE=off';
    return (addon = null);
  }
  if (!existsSync(ADDON_PATH)) {
    let why = `${ADDON_PATH} is missing`;
    try {
      why = `its last build said: ${readFileSync(NOT_BUILT_PATH, 'utf8').trim()}`; // (written by scripts/build-native.mjs)
    } catch { /* never built */ }
    loadError = `not built, ${why}; \`npm rebuild treegate\` builds it where treegate is installed, \`npm run build:native\` in its repository`;
    return (addon = null);
  }
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    // the addon's pool has a thread per online CPU; run on those this process may use (setThreads caps there too)
    addon.setThreads(Math.min(addon.info().threads, threadCap()));
  } catch (e) {
    loadError = `cannot load ${ADDON_PATH}: ${e instanceof Error ? e.message : String(e)}`;
    addon = null;
  }
  return addon;
}

/**
 * The most threads the native kernels run on: the cores this process may use, or with TREEGATE_NATIVE_THREADS
 * (a setting for tests: the pool made that size whatever the CPUs, oversubscribed where it passes them) the pool's.
 */
function threadCap(): number {
  return process.env.TREEGATE_NATIVE_THREADS ? addon!.info().maxThreads : usableCores();
}

export function nativeLoadError(): string {
  return loadError;
}

/** Machine figures measured by the addon (about half a second), or null without it. */
export function machine(): MachineFigures | null {
  return loadAddon()?.machine() ?? null;
}

/**
 * The sum of buf[offset, offset + count), read by `threads` of the addon's threads at once (benchmarks time it for
 * the read rate of memory at that moment), or null without the addon.
 */
export function readProbe(buf: Float32Array, offset: number, count: number, threads: number): number | null {
  const a = loadAddon();
  return a ? a.readProbe(buf, offset, count, threads) : null;
}

/**
 * The native backend: matrix products and grouped node products in the addon
 * and lazy optimizer updates in the addon (AVX-512 / AVX2 chosen at load,
 * threads inside), with the elementwise ops of training, on the caller's
 * arrays without copies.
 */
export function nativeBackend(): (Backend & { setThreads(n: number): number; info(): NativeInfo }) | null {
  const a = loadAddon();
  if (!a) return null;
  const lossOut = new Float64Array(2), hp = new Float64Array(7);
  const panel = a.info().panel;
  const packedFloats = (m: number, s: number): number => Math.ceil(m / panel) * panel * s;
  // a fused step's settings into hp; the gradient array the reference needs is not read (it stays zero)
  const settings = (op: string, w: Float32Array, dw: Float32Array, st: WeightStep): void => {
    const t = checkWeightStep(st, op);
    if (!(dw instanceof Float32Array) || dw.length < w.length) throw new TreegateError(`${op}: dw must be a Float32Array as long as w`);
    hp.set([t.kind === 'adam' ? 0 : 1, t.lr, t.weightDecay, t.beta1, t.beta2, t.eps, t.momentum]);
  };
  return {
    name: 'native',
    // on a cache line (Node's arrays start 16 bytes past one), so that a node's table does too and no vector load of
    // it splits two lines: one stream of such loads read memory at 0.6× the rate of loads on lines in a development
    // program, and the one- and two-row forward kernel relies on it (native/kernels_impl.h, streamRowsOf)
    floats: (n: number) => {
      const buffer = new ArrayBuffer(4 * n + 64);
      return new Float32Array(buffer, a.lineOffset(buffer), n);
    },
    release: () => {},
    gemmStrided: (M, N, K, x, ao, ars, acs, y, bo, brs, bcs, c, co, crs, acc) =>
      a.gemm(M, N, K, x, ao, ars, acs, y, bo, brs, bcs, c, co, crs, acc),
    gemmNT: (M, N, K, x, ao, y, bo, c, co, acc) => a.gemm(M, N, K, x, ao, K, 1, y, bo, 1, K, c, co, N, acc),
    gemmNN: (M, N, K, x, ao, y, bo, c, co, acc) => a.gemm(M, N, K, x, ao, K, 1, y, bo, N, 1, c, co, N, acc),
    gemmTN: (M, N, K, x, ao, y, bo, c, co, acc) => a.gemm(M, N, K, x, ao, 1, M, y, bo, N, 1, c, co, N, acc),
    groupedForward: (rt: Routing, xs, s, w, bias, m, ys, packed = false) =>
      a.groupedForward(rt.node, rt.start, rt.end, 0, rt.nodeCount, xs, s, w, bias, m, ys, rt.n, packed),
    routedForward: (rt: Routing, x, n, off, xs, s, w, bias, m, ys, y, accumulate, packed = false) =>
      a.routedForward(rt.node, rt.start, rt.end, 0, rt.nodeCount, xs, s, w, bias, m, ys, rt.n, rt.perm, x, n, off, y, accumulate, packed),
    // panels of `panel` columns, p-major (native/kernels_impl.h, packPanels)
    packNodes: (w, T, m, s, out) => {
      const o = out ?? new Float32Array(T * packedFloats(m, s));
      a.packNodes(w, T, m, s, o);
      return o;
    },
    packedFloats,
    groupedBackwardInput: (rt: Routing, dys, m, w, s, dxs, g0 = 0, g1 = rt.nodeCount) => {
      // the addon sees the node arrays, not nodeCount: entries past it are stale
      if (g1 > rt.nodeCount) throw new TreegateError(`groupedBackwardInput: node list [${g0}, ${g1}) is not inside the routing's ${rt.nodeCount} nodes`);
      a.groupedBackwardInput(rt.node, rt.start, rt.end, g0, g1, dys, m, w, s, dxs, rt.n);
    },
    groupedBackwardWeight: (rt: Routing, dys, m, xs, s, dw, dbias, fresh) =>
      a.groupedBackwardWeight(rt.node, rt.start, rt.end, 0, rt.nodeCount, dys, m, xs, s, dw, dbias, rt.n, fresh ?? null),
    // the gradient is applied from cache and never written to dw (which stays zero)
    groupedBackwardWeightStep: (rt: Routing, dys, m, xs, s, w, dw, dbias, st) => {
      settings('groupedBackwardWeightStep', w, dw, st);
      a.groupedBackwardWeightStep(rt.node, rt.start, rt.end, 0, rt.nodeCount, dys, m, xs, s, w, dbias, rt.n, st.m, st.v, st.steps,
        st.decayScale, hp);
    },
    // as groupedBackwardWeightStep, a block of rows of every entry's gradient at a time
    pathWeightStep: (rt: Routing, dys, m, xs, s, w, dw, dbias, st, entry, parent, at, count) => {
      settings('pathWeightStep', w, dw, st);
      a.pathWeightStep(rt.node, rt.start, rt.end, 0, rt.nodeCount, dys, m, xs, s, w, dbias, rt.n, st.m, st.v, st.steps,
        st.decayScale, hp, entry, parent, at, count);
    },
    adamUpdate: (w, g, m, v, z, slots, count, steps, d, lr, wd, b1, b2, eps, clear = false) =>
      a.adamUpdate(w, g, m, v, z, slots, count, steps, d, lr, wd, b1, b2, eps, clear),
    sgdUpdate: (w, g, v, z, slots, count, steps, d, lr, wd, mu, clear = false) => a.sgdUpdate(w, g, v, z, slots, count, steps, d, lr, wd, mu, clear),
    addRowVector: (y, rows, cols, v) => a.addRowVector(y, rows, cols, v),
    addArrays: (x, y, out, count) => a.addArrays(x, y, out, count),
    addPaths: (w, size, node, parent, outAt, count, out) => a.addPaths(w, size, node, parent, outAt, count, out),
    addColumnSums: (x, rows, cols, out) => a.addColumnSums(x, rows, cols, out),
    rowDots: (x, y, rows, cols, out, acc) => a.rowDots(x, y, rows, cols, out, acc),
    scaleRows: (x, rows, cols, scale, y) => a.scaleRows(x, rows, cols, scale, y),
    reluForward: (x, y, count) => a.unary(0, x, y, count),
    reluBackward: (y, dy, dx, count) => a.unaryBackward(0, y, dy, dx, count),
    tanhForward: (x, y, count) => a.unary(1, x, y, count),
    tanhBackward: (y, dy, dx, count) => a.unaryBackward(1, y, dy, dx, count),
    softmaxCrossEntropy: (logits, rows, cols, labels, dlogits) => {
      a.softmaxCrossEntropy(logits, rows, cols, labels, dlogits, lossOut);
      return { loss: lossOut[0], correct: lossOut[1] };
    },
    gatherRows: (src, stride, off, idx, count, cols, dst) => a.gatherRows(src, stride, off, idx, count, cols, dst),
    scatterRows: (src, cols, idx, count, dst, stride, off, acc) => a.scatterRows(src, cols, idx, count, dst, stride, off, acc),
    setThreads: (n: number) => a.setThreads(Math.min(n, threadCap())),
    info: () => a.info(),
  };
}
