/**
 * The wasm module as the backend sees it: the part of the WebAssembly JS API used, the kernels it exports, the
 * sizes that decide how calls are blocked and split, its linear memory as a bump arena, and what the backend's
 * groups of kernels share (WasmContext).
 */
import { TreegateError } from '../../core/errors.js';
import type { Routing } from '../routing.js';
import type { Scratch, Team } from './threads.js';

/** The part of the WebAssembly JS API used here (lib ES2022 does not declare it). */
export interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
export interface WasmInstance { readonly exports: Record<string, unknown> }
export interface WasmApi {
  Module: (new (bytes: Uint8Array | ArrayBuffer) => object) & { imports(module: object): Array<{ module: string; name: string; kind: string }> };
  Instance: new (module: object, imports: Record<string, unknown>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array | ArrayBuffer): Promise<object>;
  validate(bytes: Uint8Array | ArrayBuffer): boolean;
}

/** The WebAssembly global, or a clear error where there is none. */
export function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) throw new TreegateError('treegate wasm backend: this JavaScript environment has no WebAssembly', "use the js backend (setBackend('js'))");
  return api;
}

/** Kernel exports of wasm/treegate.wasm (pointers are byte addresses, strides in elements). */
export interface Kernels {
  memory: WasmMemory;
  heapBase(): number;
  gemm(M: number, N: number, K: number, a: number, ars: number, acs: number, b: number, brs: number, bcs: number,
    c: number, crs: number, accumulateOrZero: number, scratch: number): void;
  gemmScratchBytes(M: number, N: number, K: number): number;
  gemmTransposes(M: number, N: number, K: number, acs: number, brs: number, bcs: number): number;
  packB(K: number, N: number, b: number, brs: number, bcs: number, dst: number): void;
  rowsNT(M: number, N: number, K: number, a: number, ars: number, w: number, wrs: number, c: number, crs: number,
    accumulate: number): void;
  packedBBytes(N: number, K: number): number;
  gemmPackedB(M: number, N: number, K: number, a: number, ars: number, acs: number, pB: number,
    c: number, crs: number, ccs: number, accumulate: number, scratch: number): void;
  addRowVector(y: number, rows: number, cols: number, v: number): void;
  addArrays(a: number, b: number, out: number, n: number): void;
  addPathsCols(w: number, size: number, node: number, parent: number, slot: number, outAt: number, count: number,
    out: number, c0: number, c1: number, scratch: number, block: number): void;
  addColumnSums(x: number, rows: number, cols: number, out: number): void;
  rowDots(a: number, b: number, rows: number, cols: number, out: number, accumulate: number): void;
  scaleRows(x: number, rows: number, cols: number, scale: number, y: number): void;
  reluForward(x: number, y: number, count: number): void;
  reluBackward(y: number, dy: number, dx: number, count: number): void;
  tanhForward(x: number, y: number, count: number): void;
  tanhBackward(y: number, dy: number, dx: number, count: number): void;
  softmaxCrossEntropy(logits: number, rows: number, cols: number, labels: number, dlogits: number, out: number): void;
  gatherRows(src: number, srcStride: number, idx: number, count: number, cols: number, dst: number): void;
  scatterRows(src: number, cols: number, idx: number, count: number, dst: number, dstStride: number, accumulate: number): void;
  sgdUpdate(w: number, g: number, v: number, slotSize: number, count: number, lam: number, lr: number, mu: number,
    clear: number): void;
  adamUpdate(w: number, g: number, m: number, v: number, slotSize: number, count: number, coef: number,
    lr: number, b1: number, b2: number, eps: number, clear: number): void;
  nodeStep(m: number, s: number, K: number, dy: number, x: number, w: number, mo: number, vo: number, coef: number, hp: number,
    nb: number, scratch: number): void;
  pathStep(tab: number, count: number, m: number, s: number, bh: number, b0: number, b1: number, dy: number, x: number,
    coef: number, hp: number, levels: number, scratch: number): void;
}

export const KERNEL_NAMES = [
  'heapBase', 'gemm', 'rowsNT', 'gemmScratchBytes', 'gemmTransposes', 'packB', 'packedBBytes', 'gemmPackedB',
  'addRowVector', 'addArrays', 'addPathsCols',
  'addColumnSums', 'rowDots', 'scaleRows', 'reluForward', 'reluBackward', 'tanhForward', 'tanhBackward', 'softmaxCrossEntropy',
  'gatherRows', 'scatterRows', 'sgdUpdate', 'adamUpdate', 'nodeStep', 'pathStep',
] as const;

/** Each kernel's index in KERNEL_NAMES: a job's part names its kernel by it (threads.ts). */
export const OP_GEMM = KERNEL_NAMES.indexOf('gemm'), OP_PACKED = KERNEL_NAMES.indexOf('gemmPackedB');
export const OP_ROWS = KERNEL_NAMES.indexOf('rowsNT'), OP_ADAM = KERNEL_NAMES.indexOf('adamUpdate'), OP_SGD = KERNEL_NAMES.indexOf('sgdUpdate');
export const OP_PATHS = KERNEL_NAMES.indexOf('addPathsCols');
export const OP_ADD = KERNEL_NAMES.indexOf('addArrays'), OP_ADD_ROW = KERNEL_NAMES.indexOf('addRowVector');
export const OP_NODE_STEP = KERNEL_NAMES.indexOf('nodeStep'), OP_PATH_STEP = KERNEL_NAMES.indexOf('pathStep');

export const PAGE = 65536;
/** Rows below which assembly/gemm.ts uses its unpacked kernels (SMALL_M there; only speed depends on the match). */
export const SMALL_M = 8;
/** Floats of weights per streamed block (C = A Wᵀ, grouped products' nodes): 128 KB, well inside L2. */
export const STREAM_FLOATS = 32768;
/** Floats per array per streamed block of an optimizer update (Adam: 4 arrays, 256 KB in all). */
export const UPDATE_FLOATS = 16384;
export const MAX_BYTES = 65536 * PAGE; // wasm32: 4 GiB
/**
 * Pages of shared memory asked for, largest first. A shared memory reserves its maximum's address space when it is
 * made, and some browsers refuse wasm32's 4 GiB (iOS Safari has refused 2 GiB: emscripten issue 19144, godot issue
 * 70621); a smaller maximum still runs every model whose arrays and calls fit in it.
 */
export const SHARED_MAXIMA = [65536, 32768, 16384, 8192, 4096];
/** Bytes of the memory that resident arrays and tables leave to the calls' arenas, whatever residentBytes says (a quarter of a smaller memory). */
export const ARENA_RESERVE = 512 * 1024 * 1024;
/** A product is split between threads only into parts of at least this much work (ns at one thread's rates). */
export const PART_NS = 20000;
/** Nodes per thread from which a job of node products runs each node whole on one thread (nodeJobs). */
export const WHOLE_NODES = 4;

/** Nanoseconds a product of `flops` that reads `bytes` from memory takes on one thread, roughly (30 GFLOP/s, 15 GB/s). */
export function work(flops: number, bytes: number): number {
  return Math.max(flops / 30, bytes / 15);
}
/**
 * Nanoseconds per weight of an optimizer's update on one thread, roughly: the float32 Adam update of arrays in the
 * module's memory, about 0.8 ns per weight on two threads of the Zen 5 (it read and wrote 28 bytes per weight at about
 * 35 GB/s; the float64 one it replaced took 3.5 ns per weight on one).
 */
export const UPDATE_NS = 1.6;
/** Nanoseconds per element of an add of arrays in memory on one thread, roughly (three floats moved at 15 GB/s). */
export const ADD_NS = 0.8;
/**
 * Floats of scratch a thread of addPaths keeps its blocks of the entries' sums in (2 MB), and of a block at most
 * (512 KB): with no prefetch in wasm, each block of a table is a read the hardware follows only once it has begun,
 * so long blocks read faster (2026-12-02, Zen 5, the tables of k = 4 and 6, four slots: 1.60 and 1.51 ms with blocks
 * of 16384 floats, 1.17 and 1.11 ms with 131072; development script, interleaved). Native prefetches the next
 * table's block and keeps them short (native/elementwise.cc, kPathScratch).
 */
export const PATH_SCRATCH = 524288;
export const PATH_BLOCK = 131072;

/** Bytes as MiB or GiB, for messages. */
export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${bytes / 2 ** 30} GiB` : `${bytes / 2 ** 20} MiB`;
}

/** Zeroes the listed slots of a gradient outside the module's memory (the optimizers' clearGrad; the kernels clear one in it). */
export function clearSlots(g: Float32Array, slots: Int32Array, count: number, slotSize: number): void {
  for (let q = 0; q < count; q++) g.fill(0, slots[q] * slotSize, (slots[q] + 1) * slotSize);
}

/** [lo, hi) of the indices o + i·rs + p·cs, i < R, p < C (empty when R or C is 0). */
export function span(o: number, R: number, rs: number, C: number, cs: number): [number, number] {
  if (R <= 0 || C <= 0) return [o, o];
  const a = (R - 1) * rs, b = (C - 1) * cs;
  return [o + Math.min(0, a) + Math.min(0, b), o + Math.max(0, a) + Math.max(0, b) + 1];
}

/** The linear memory as a bump arena, reset by every call. */
export class Arena {
  readonly k: Kernels;
  /** The bytes the memory may grow to (its maximum). */
  readonly maxBytes: number;
  /** Where the resident slab starts (the module's heap base); the arena starts at `base`, after the slab. */
  readonly heap: number;
  private base: number;
  private top: number;
  f32: Float32Array;
  i32: Int32Array;
  f64: Float64Array;

  /** `reserved`: bytes kept at the heap base before the slab (the worker threads' control block). */
  constructor(k: Kernels, maxBytes: number, reserved = 0) {
    this.k = k;
    this.maxBytes = maxBytes;
    this.heap = Math.ceil(k.heapBase() / 64) * 64 + Math.ceil(reserved / 64) * 64;
    this.base = this.heap;
    this.top = this.base;
    this.f32 = new Float32Array(k.memory.buffer);
    this.i32 = new Int32Array(k.memory.buffer);
    this.f64 = new Float64Array(k.memory.buffer);
  }

  /** Runs before every reset: finishes a job a call that threw left posted (threads), before its memory is reused. */
  beforeReset: (() => void) | null = null;

  reset(): void {
    this.beforeReset?.();
    this.top = this.base;
  }

  /** Moves the arena's start (above the resident slab) and resets it. */
  rebase(base: number): void {
    this.base = Math.ceil(base / 64) * 64;
    this.reset();
  }

  /** Reserves `bytes` (64-byte aligned) and returns its byte address; call commit() before touching memory. */
  alloc(bytes: number): number {
    const p = Math.ceil(this.top / 64) * 64;
    this.top = p + Math.max(0, bytes);
    return p;
  }

  /** The highest address the arena has handed out (memory above it holds zeros still). */
  written = 0;

  /** Grows the memory to hold everything allocated since reset() and refreshes the views. */
  commit(): void {
    this.written = Math.max(this.written, this.top);
    const have = this.k.memory.buffer.byteLength;
    if (this.top > have) {
      if (this.top > this.maxBytes) {
        throw new Error(`treegate wasm backend: a call needs ${this.top} bytes of linear memory, more than the ${mib(this.maxBytes)} its memory may hold` +
          (this.maxBytes < MAX_BYTES ? ' (this browser refused more)' : ' (wasm32\'s limit)'));
      }
      // grow geometrically so that a sequence of growing calls does not grow every time
      const want = Math.min(this.maxBytes, Math.max(this.top, Math.min(2 * have, have + 256 * 1024 * 1024)));
      this.k.memory.grow(Math.ceil((want - have) / PAGE));
    }
    if (this.f32.buffer !== this.k.memory.buffer) {
      this.f32 = new Float32Array(this.k.memory.buffer);
      this.i32 = new Int32Array(this.k.memory.buffer);
      this.f64 = new Float64Array(this.k.memory.buffer);
    }
  }

  /** Copies src[lo, hi) to byte address p. */
  put(p: number, src: Float32Array, lo: number, hi: number): void {
    if (hi > lo) this.f32.set(src.subarray(lo, hi), p >>> 2);
  }

  /** Copies n floats at byte address p back to dst[at ...]. */
  get(p: number, dst: Float32Array, at: number, n: number): void {
    if (n > 0) dst.set(this.f32.subarray(p >>> 2, (p >>> 2) + n), at);
  }
}

/** A block of a pipeline: copied in, computed by its parts (on the team), copied out. */
export interface Block { copyIn(): void; parts(): number[][]; copyOut?(): void }

/**
 * What the backend's groups of kernels (products.ts, optim.ts, elementwise.ts) share, made by createWasmBackend:
 * the module's kernels and arena, the worker team, the job scheduling, and the arrays in the module's memory.
 */
export interface WasmContext {
  readonly k: Kernels;
  readonly A: Arena;
  readonly team: Team | null;
  /** Threads jobs are split for now. */
  threadsNow(): number;
  /** Scratch of `bytes` for each thread that may run a part of the next job. */
  scratchFor(bytes: number): Scratch;
  /** Runs a job's parts (on the team, or here), MAX_PARTS at a time. */
  run(rows: number[][], scratch?: Scratch | null): void;
  /** Runs blocks in order, each block's parts on the team while the next is copied in (core.ts). */
  pipeline(blocks: Iterable<Block>, scratch?: Scratch | null): void;
  /** [first, count] of each part of n outputs of `ns` of work (core.ts). */
  parts(n: number, ns: number, ways?: number): Array<[number, number]>;
  /** The widest part of parts(n, ns, ways) for any ns ≥ leastNs. */
  widest(n: number, leastNs: number, ways?: number): number;
  /** Runs the products of a routing's nodes as jobs of nodes with disjoint rows (core.ts). */
  nodeJobs(rt: Routing, b: number, n: number,
    partsOf: (g: number, share: (n: number, ns: number) => Array<[number, number]>) => number[][], scratch: Scratch | null,
    after?: ((g0: number, g1: number) => void) | null, ordered?: boolean): void;
  /** The parts of an update of c consecutive slots of `size` floats. */
  updateParts(c: number, size: number): Array<[number, number, number, number]>;
  /** Whether `a` lives in the module's memory (made by floats()): kernels address it in place. */
  inPlace(a: Float32Array): boolean;
  /** The byte address of a[i] for an array in place. */
  addr(a: Float32Array, i: number): number;
  /** The slab addresses of w's nodes, copied there now if they were not; null where they cannot all be resident. */
  residentNodes(rt: Routing, w: Float32Array, size: number): Float64Array | null;
  /** Counters info() reports: nodes whose fused step one thread made whole, pathWeightStep calls its kernel made. */
  readonly counts: { nodeSteps: number; pathSteps: number };
}
