/**
 * The `wasm` backend: WebAssembly SIMD128 kernels compiled from assembly/ by
 * scripts/build-wasm.mjs. This module has no Node-only imports (browsers and
 * bundlers can use it directly); src/kernels/wasm/index.ts adds the Node loader.
 *
 * Memory model: arrays made by the backend's floats() live in the module's
 * (shared) memory, in a heap at its base (heap.ts), and the kernels read and
 * write them in place: parameters, optimizer state and collapsed inference
 * tables of models made while the backend is selected. Every other array a call
 * reads is copied into the linear memory (a bump arena above the heap, reset per
 * call, grown when needed), and what it writes is copied back. Offsets and sizes
 * come from the call's shapes, so only the touched span of each operand moves.
 * An array in place gets the kernel calls it would get copied, so the same bits.
 * k = 8 layer of the bench (N = 256, 512→512, Adam), 2 threads, in place against
 * copied (development program, alternating runs): training forward 85–91 →
 * 50–59 ms, backward with the fused step 565–603 → 380–427 ms, collapsed
 * inference 25–29 → 11 ms; GEMM 1×1024×1024 with W in place 6.7–7.0 → 13–14
 * GFLOP/s.
 *
 * Copied operands read once by the kernel (the weights of few-row products and
 * of grouped products' nodes) are streamed
 * through one cache-sized buffer, a block at a time, so that the kernel reads
 * them from cache rather than from memory written just before.
 *
 * Nodes of tables passed with `packed` that are not in place (inference tables of a model made on another
 * backend, which stay fixed between packNodes calls) are copied once into a resident slab between the heap
 * and the arena and read in place afterwards. packNodes
 * empties the slab (a layer is rebuilding its tables, so copies made so far may be stale), and so do nodes
 * that would not fit in `residentBytes` with the heap; nodes that cannot be resident (more than that in
 * one call, or the memory cannot grow) are copied per call. Collapsed inference at N = 256 against copying
 * every call, in one process: 1.04–1.12× at k = 2–5, 0.99–1.08× at k = 6–8 (development script, two runs
 * of 30 rounds; nodes of 8 rows and more).
 * The grouped forward runs nodes of fewer than 8 rows through rowsNT, in place or copied. In place
 * against streaming them through the few-row kernels (which read four
 * rows of U at once: four streams 2 KB apart, slower from memory than one copy), collapsed inference of the
 * bench's layer (development scripts, alternating runs): N = 1 57–77 → 30–46 µs per call at k = 0,
 * 79–100 → 50–53 at k = 5, 87–125 → 67–70 at k = 8; N = 256 8.6–9.1 → 8.0–8.9 ms at k = 5,
 * 10.3–11.6 → 8.2–9.2 at k = 6, 13.1–13.4 → 9.7–10.3 at k = 7.
 *
 * The trainer's fused step (groupedBackwardWeightStep) makes each batch of nodes' weight gradients in linear
 * memory and applies the update from there, so the gradients never cross into JS arrays: one epoch of the
 * default model 1.18× faster (`treegate train --epochs 1 --backend wasm`, four runs alternating with the
 * composed step: 14.4–16.8 s of training against 17.5–19.3 s; the same model byte for byte). Where the weights and
 * the optimizer's state live in the module's memory and the nodes go one at a time (a node's m·s + m floats past
 * half the streamed block's 32 768; smaller nodes go in batches as before), each node but one too big for a thread's
 * share makes its whole step on one thread (nodeStep: its gradient a block of rows at a time in that thread's
 * scratch, each block's update right after it), the threads claiming nodes as they come: no wait between a node's
 * product and its update, and the gradient stays in cache. Against the product and the update each split between the
 * threads with a wait between, the tree layer's training step (512 wide, N = 256;
 * `bash bench/step-ab/run.sh HEAD . wasm 2,4,5,6,7,8 6`, bench/saved/2026-12-02-zen5-step-ab-nodestep.txt): 1.23×
 * and 1.25× faster at k = 7 and 8 (k = 8: 120.7 → 96.2 ms), 1.04–1.07× at k = 4–6 (the separate optimizer step,
 * which it leaves alone, read 0.95–1.07×); the default model's epoch the same (4.9–6.1 s either way,
 * `treegate train --backend wasm --epochs 1`, three runs each, alternating; few rows in 256×256 nodes); the same bits.
 * The tree layer's collapsed nodes and their frontier (pathWeightStep) go the same way where their arrays are in the
 * module's memory: each thread takes blocks of rows of every node's table and runs the tree on them (pathStep), the
 * frontier's gradients made by their products and summed up the tree in the thread's scratch, each node's block
 * updated as its gradient is complete. Against the composition (products into the gradients, one addRowVector per
 * collapsed node's child, then the update), the training step 1.05–1.21× faster at k = 2–8 (512 wide, N = 256; a
 * development program alternating the two in one process, 2026-12-02); the same bits.
 */
/*
 * Threads (threads.ts): wasm/treegate-threads.wasm runs the same kernels on a shared memory that worker threads
 * instantiate too (Node's worker_threads, or web workers in a cross-origin isolated page). A product's output columns are split between threads in multiples of 8 (each part a
 * gemm or rowsNT call of its own, with its own scratch), nodes that cover disjoint rows run in one job (many nodes of
 * few rows each whole on one thread), nodes of different depths (which add into the same rows) in order, and an
 * update's elements or slots are split; so the
 * kernels do the arithmetic of one thread in the same order, and any thread count gives the same bits. Copies
 * between JS arrays and the memory stay on the calling thread (workers cannot see its arrays).
 */
import { checkKeys, shown, TreegateError } from '../../core/errors.js';
import { withArgumentChecks } from '../checked.js';
import type { Backend } from '../backend.js';
import type { Routing } from '../routing.js';
import { applyWeightStep, checkWeightStep, composePathWeightStep, type WeightStep } from '../weight-step.js';
import { composeRoutedForward, packedFloats, packNodes as plainPackNodes, type PackNodes } from '../grouped.js';
import { addPathsWith, pathSlots } from '../paths.js';
import { Heap } from './heap.js';
import { callPart, CONTROL_BYTES, MAX_PARTS, Team, type Scratch, type ThreadHost } from './threads.js';

/** The part of the WebAssembly JS API used here (lib ES2022 does not declare it). */
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmInstance { readonly exports: Record<string, unknown> }
interface WasmApi {
  Module: (new (bytes: Uint8Array | ArrayBuffer) => object) & { imports(module: object): Array<{ module: string; name: string; kind: string }> };
  Instance: new (module: object, imports: Record<string, unknown>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array | ArrayBuffer): Promise<object>;
  validate(bytes: Uint8Array | ArrayBuffer): boolean;
}

/** The WebAssembly global, or a clear error where there is none. */
function wasmApi(): WasmApi {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) throw new TreegateError('treegate wasm backend: this JavaScript environment has no WebAssembly', "use the js backend (setBackend('js'))");
  return api;
}

/** Kernel exports of wasm/treegate.wasm (pointers are byte addresses, strides in elements). */
interface Kernels {
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

const KERNEL_NAMES = [
  'heapBase', 'gemm', 'rowsNT', 'gemmScratchBytes', 'gemmTransposes', 'packB', 'packedBBytes', 'gemmPackedB',
  'addRowVector', 'addArrays', 'addPathsCols',
  'addColumnSums', 'rowDots', 'scaleRows', 'reluForward', 'reluBackward', 'tanhForward', 'tanhBackward', 'softmaxCrossEntropy',
  'gatherRows', 'scatterRows', 'sgdUpdate', 'adamUpdate', 'nodeStep', 'pathStep',
] as const;

const PAGE = 65536;
/** Rows below which assembly/gemm.ts uses its unpacked kernels (SMALL_M there; only speed depends on the match). */
const SMALL_M = 8;
/** Floats of weights per streamed block (C = A Wᵀ, grouped products' nodes): 128 KB, well inside L2. */
const STREAM_FLOATS = 32768;
/** Floats per array per streamed block of an optimizer update (Adam: 4 arrays, 256 KB in all). */
const UPDATE_FLOATS = 16384;
const MAX_BYTES = 65536 * PAGE; // wasm32: 4 GiB
/**
 * Pages of shared memory asked for, largest first. A shared memory reserves its maximum's address space when it is
 * made, and some browsers refuse wasm32's 4 GiB (iOS Safari has refused 2 GiB: emscripten issue 19144, godot issue
 * 70621); a smaller maximum still runs every model whose arrays and calls fit in it.
 */
const SHARED_MAXIMA = [65536, 32768, 16384, 8192, 4096];
/** Bytes of the memory that resident arrays and tables leave to the calls' arenas, whatever residentBytes says (a quarter of a smaller memory). */
const ARENA_RESERVE = 512 * 1024 * 1024;
/** A product is split between threads only into parts of at least this much work (ns at one thread's rates). */
const PART_NS = 20000;
/** Nodes per thread from which a job of node products runs each node whole on one thread (nodeJobs). */
const WHOLE_NODES = 4;

/** Nanoseconds a product of `flops` that reads `bytes` from memory takes on one thread, roughly (30 GFLOP/s, 15 GB/s). */
function work(flops: number, bytes: number): number {
  return Math.max(flops / 30, bytes / 15);
}
/**
 * Nanoseconds per weight of an optimizer's update on one thread, roughly: the float32 Adam update of arrays in the
 * module's memory, about 0.8 ns per weight on two threads of the Zen 5 (it read and wrote 28 bytes per weight at about
 * 35 GB/s; the float64 one it replaced took 3.5 ns per weight on one).
 */
const UPDATE_NS = 1.6;
/** Nanoseconds per element of an add of arrays in memory on one thread, roughly (three floats moved at 15 GB/s). */
const ADD_NS = 0.8;
/**
 * Floats of scratch a thread of addPaths keeps its blocks of the entries' sums in (2 MB), and of a block at most
 * (512 KB): with no prefetch in wasm, each block of a table is a read the hardware follows only once it has begun,
 * so long blocks read faster (2026-12-02, Zen 5, the tables of k = 4 and 6, four slots: 1.60 and 1.51 ms with blocks
 * of 16384 floats, 1.17 and 1.11 ms with 131072; development script, interleaved). Native prefetches the next
 * table's block and keeps them short (native/elementwise.cc, kPathScratch).
 */
const PATH_SCRATCH = 524288;
const PATH_BLOCK = 131072;

/** Bytes as MiB or GiB, for messages. */
export function mib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${bytes / 2 ** 30} GiB` : `${bytes / 2 ** 20} MiB`;
}

/** Zeroes the listed slots of a gradient outside the module's memory (the optimizers' clearGrad; the kernels clear one in it). */
function clearSlots(g: Float32Array, slots: Int32Array, count: number, slotSize: number): void {
  for (let q = 0; q < count; q++) g.fill(0, slots[q] * slotSize, (slots[q] + 1) * slotSize);
}

/** [lo, hi) of the indices o + i·rs + p·cs, i < R, p < C (empty when R or C is 0). */
function span(o: number, R: number, rs: number, C: number, cs: number): [number, number] {
  if (R <= 0 || C <= 0) return [o, o];
  const a = (R - 1) * rs, b = (C - 1) * cs;
  return [o + Math.min(0, a) + Math.min(0, b), o + Math.max(0, a) + Math.max(0, b) + 1];
}

/** The linear memory as a bump arena, reset by every call. */
class Arena {
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

/** Options of the wasm backend's loaders. */
export interface WasmOptions {
  /**
   * Bytes of the module's memory that resident arrays may hold (default 3.5 GiB: all of wasm32's 4 but what the
   * calls keep for their operands, and less where a browser gave a smaller shared memory: info().memoryLimit; 0: none,
   * every call copies its arrays in and out). With a shared memory
   * (treegate-threads.wasm), the arrays the backend's floats() makes there (the parameters and optimizer state of
   * models made while it is selected, their collapsed inference tables) are read and written in place; past this
   * bound floats() gives ordinary arrays. What is left holds copies of other inference tables (made on another
   * backend), read in place on later calls. The module's memory never shrinks, so this bounds what they add to it.
   * Results do not depend on where an array lives.
   */
  residentBytes?: number;
  /**
   * Threads the kernels run on (default: the host's cores; in Node those the process may use, usableCores()). Only where the loader can start worker threads on a
   * shared memory: Node (loadWasmBackend takes wasm/treegate-threads.wasm), or a cross-origin isolated page given
   * treegate-threads.wasm (useWasm). Elsewhere the backend runs on one thread whatever this says. Any count gives the same results bit for bit: a product is split between threads
   * by its output columns, never along a sum.
   */
  threads?: number;
}

const WASM_OPTIONS = ['residentBytes', 'threads'];

/** The options checked, with their defaults (a TreegateError naming a bad one, or one it does not know). */
export function checkWasmOptions(options: WasmOptions | null | undefined): { residentBytes: number; threads: number | null } {
  if (options !== null && options !== undefined && (typeof options !== 'object' || Array.isArray(options))) {
    throw new TreegateError(`treegate wasm backend: options must be an object, got ${shown(options)}`, 'pass e.g. { threads: 2 }, or nothing');
  }
  checkKeys(options ?? {}, WASM_OPTIONS, 'treegate wasm backend options');
  const residentBytes = options?.residentBytes ?? MAX_BYTES - ARENA_RESERVE;
  if (typeof residentBytes !== 'number' || !Number.isFinite(residentBytes) || residentBytes < 0) {
    throw new TreegateError(`treegate wasm backend: residentBytes must be a number of bytes ≥ 0, got ${shown(residentBytes)}`,
      'pass e.g. { residentBytes: 256 * 1024 * 1024 }, or 0 to copy every array on every call');
  }
  const threads = options?.threads ?? null;
  if (threads !== null && (typeof threads !== 'number' || !Number.isSafeInteger(threads) || threads < 1)) {
    throw new TreegateError(`treegate wasm backend: threads must be a whole number ≥ 1, got ${shown(threads)}`,
      'pass e.g. { threads: 2 }, or 1 for one thread');
  }
  return { residentBytes, threads };
}

/** The wasm backend, with its thread count (as the native backend has). */
export type WasmBackend = Backend & {
  /** Sets the threads the kernels run on, from 1 to info().maxThreads (1 where threads cannot start); returns the count set. */
  setThreads(n: number): number;
  /**
   * Its threads now and at most, the bytes of its module's memory (which never shrinks) and the most it may grow to
   * (wasm32's 4 GiB, or less where a browser refused a shared memory that large), the kernel calls its
   * worker threads have run so far (0 on one thread: whether the workers do anything), the workers up now, and the
   * nodes whose fused optimizer step one thread has made whole so far (nodeStep; whether that path runs), and the
   * pathWeightStep calls its kernel has run (pathStep; the others were composed).
   */
  info(): { threads: number; maxThreads: number; memoryBytes: number; memoryLimit: number; workerParts: number; workersUp: number; nodeSteps: number; pathSteps: number };
  /**
   * Stops the worker threads this backend started (they hold its module instances and its memory). The backend
   * keeps working: a later call that splits its work starts new ones, unless setThreads(1) came first.
   */
  close(): void;
  /**
   * Resolves once the worker threads for the current thread count are up (at once on one thread), or after
   * `timeoutMs` (default 10 s): a page's web workers start only once it yields, so `useWasm` awaits this before
   * it returns, and so should a page that raises the count with setThreads before a long synchronous call.
   */
  whenStarted(timeoutMs?: number): Promise<void>;
};

/**
 * Instantiates the kernels of a compiled wasm/treegate.wasm module (its own memory: one thread) or
 * wasm/treegate-threads.wasm (a shared memory, given to the worker threads that `host` starts) and wraps them
 * as a Backend named 'wasm'.
 */
export function createWasmBackend(module: object, options: WasmOptions = {}, host: ThreadHost | null = null): WasmBackend {
  const { residentBytes, threads } = checkWasmOptions(options);
  const api = wasmApi();
  const shared = api.Module.imports(module).some((i) => i.kind === 'memory');
  // the module declares 16 pages at least and wasm32's 65536 at most (scripts/build-wasm.mjs); a memory of a smaller
  // maximum fits that import too
  let memory: WasmMemory | null = null, maxBytes = MAX_BYTES;
  if (shared) {
    // a page that is not cross-origin isolated has no shared memory at all; one that is may still be refused the
    // address space a maximum reserves (a 32-bit device, a phone's browser): smaller ones are tried
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false && typeof SharedArrayBuffer === 'function';
    let refused: Error | null = null;
    for (const pages of isolated ? SHARED_MAXIMA : SHARED_MAXIMA.slice(0, 1)) {
      try {
        memory = new api.Memory({ initial: 16, maximum: pages, shared: true });
        maxBytes = pages * PAGE;
        break;
      } catch (e) {
        refused ??= e as Error;
      }
    }
    if (!memory) {
      const last = mib(SHARED_MAXIMA[SHARED_MAXIMA.length - 1] * PAGE);
      throw new TreegateError(isolated
        ? `treegate wasm backend: this module (treegate-threads.wasm) needs a shared memory, and this browser or device refuses one of 4 GiB down to ${last} (${refused!.message})`
        : `treegate wasm backend: this module (treegate-threads.wasm) needs a shared memory, which a page that is not cross-origin isolated cannot make (${refused!.message})`,
      isolated
        ? 'load treegate.wasm on this device (one thread, no shared memory: its memory grows as far as the device allows)'
        : 'serve the page cross-origin isolated (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), or load treegate.wasm (one thread)');
    }
  }
  let instance: WasmInstance;
  try {
    instance = new api.Instance(module, memory ? { env: { memory } } : {});
  } catch (e) {
    throw policyError(e) ?? notOurs(`it cannot be instantiated (${(e as Error).message})`);
  }
  const ex = instance.exports;
  for (const name of KERNEL_NAMES) {
    if (typeof ex[name] !== 'function') throw notOurs(`it does not export '${name}'`);
  }
  if (!ex.memory || typeof (ex.memory as WasmMemory).grow !== 'function') throw notOurs('it does not export its memory');
  const k = ex as unknown as Kernels;
  const control = Math.ceil(k.heapBase() / 64) * 64;
  const A = new Arena(k, maxBytes, shared ? CONTROL_BYTES : 0);
  const fns = KERNEL_NAMES.map((n) => ex[n] as (...a: number[]) => void);
  const team = shared && host ? new Team(k.memory, control, module, KERNEL_NAMES, fns, host, threads ?? host.cores) : null;
  if (team) {
    A.beforeReset = () => {
      try {
        team.wait();
      } catch {
        // the call that posted the job has thrown already
      }
    };
  }
  const OP_GEMM = KERNEL_NAMES.indexOf('gemm'), OP_PACKED = KERNEL_NAMES.indexOf('gemmPackedB');
  const OP_ROWS = KERNEL_NAMES.indexOf('rowsNT'), OP_ADAM = KERNEL_NAMES.indexOf('adamUpdate'), OP_SGD = KERNEL_NAMES.indexOf('sgdUpdate');
  const OP_PATHS = KERNEL_NAMES.indexOf('addPathsCols');
  const OP_ADD = KERNEL_NAMES.indexOf('addArrays'), OP_ADD_ROW = KERNEL_NAMES.indexOf('addRowVector');
  const OP_NODE_STEP = KERNEL_NAMES.indexOf('nodeStep'), OP_PATH_STEP = KERNEL_NAMES.indexOf('pathStep');
  let nodeSteps = 0; // nodes whose fused step one thread made whole (info())
  let pathSteps = 0; // pathWeightStep calls made by its kernel (info())

  // ---- threads (threads.ts): a job is a list of kernel calls ([kernel, scratch argument or -1, arguments …])
  // that write disjoint outputs; `parts` splits a product's output columns so that each part is worth starting
  /** Threads jobs are split for now. */
  const threadsNow = (): number => team?.threads ?? 1;
  /** Scratch of `bytes` for each thread that may run a part of the next job. */
  function scratchFor(bytes: number): Scratch {
    const each = Math.ceil(bytes / 64) * 64;
    return { at: A.alloc(each * (team && team.threads > 1 ? team.slots : 1)), bytes: each };
  }
  function run(rows: number[][], scratch: Scratch | null = null): void {
    for (let i = 0; i < rows.length; i += MAX_PARTS) {
      const job = rows.length <= MAX_PARTS ? rows : rows.slice(i, i + MAX_PARTS);
      if (team) team.run(job, scratch);
      else for (const r of job) call(r, scratch ? scratch.at : 0);
    }
  }
  /** A block of a pipeline: copied in, computed by its parts (on the team), copied out. */
  interface Block { copyIn(): void; parts(): number[][]; copyOut?(): void }
  /**
   * Runs the blocks in order, each block's parts posted to the team while the next block is copied in (into the
   * other of two buffers: a block must not reuse the buffer of the block before it) and waited for before the
   * next is posted, then copied out. The calling thread claims what the workers have not taken when it waits,
   * so without workers this is the blocks one after the other.
   */
  function pipeline(blocks: Iterable<Block>, scratch: Scratch | null = null): void {
    let prev: Block | null = null;
    for (const b of blocks) {
      b.copyIn();
      team?.wait();
      prev?.copyOut?.();
      const rows = b.parts();
      if (rows.length > MAX_PARTS) throw new Error('treegate wasm backend: a pipelined block of too many parts');
      if (team) team.post(rows, scratch);
      else for (const r of rows) call(r, scratch ? scratch.at : 0);
      prev = b;
    }
    team?.wait();
    prev?.copyOut?.();
  }
  const call = (r: number[], scratch: number): void => callPart(fns, r, scratch);
  /**
   * [first, count] of each part when n outputs (a product's columns, an update's elements) of `ns` of work are
   * split: as many parts as threads (`ways` times as many, and `ways` times smaller, for a pipeline's blocks, where
   * the calling thread is copying while the workers start), fewer where a part would take under PART_NS; part boundaries are multiples
   * of 8 (the kernels' column groups and micro-tile rows), so the parts run the kernels' arithmetic in the whole
   * call's order.
   */
  function parts(n: number, ns: number, ways = 1): Array<[number, number]> {
    const T = threadsNow();
    const count = T > 1 ? Math.max(1, Math.min(T * ways, Math.floor(ns * ways / PART_NS), Math.ceil(n / 8))) : 1;
    const step = 8 * Math.ceil(n / (8 * count)), out: Array<[number, number]> = [];
    for (let j = 0; j < n; j += step) out.push([j, Math.min(step, n - j)]);
    return out;
  }
  /**
   * The widest part of parts(n, ns, ways) for any ns ≥ leastNs (less work: fewer, wider parts): what each thread's
   * scratch must hold, rather than the whole product's.
   */
  function widest(n: number, leastNs: number, ways = 1): number {
    return n > 0 ? parts(n, leastNs, ways)[0][1] : 0;
  }
  /**
   * Runs the products of nodes b ≤ g < b + n (`partsOf(g, share)`, where share(n, ns) gives the [first, count] parts of
   * a node's n columns of ns of work) as jobs of nodes with disjoint rows, in the listed order, calling after(g0, g1)
   * when the job of nodes g0 ≤ g < g1 is done. Nodes of different depths share rows and add into the same outputs,
   * so they must go in order (the sums' order is the bits); a node whose rows start before the job's rows so far end
   * starts a new job (a depth's nodes follow each other with increasing rows, so each depth goes in one job).
   * A node's columns are split between threads (parts), except in a job of at least WHOLE_NODES nodes per thread of
   * fewer than SMALL_M rows: there each of those (products bound by the reads of their matrices, through the few-row
   * kernels, which take no scratch) runs whole on one thread, the threads claiming nodes as they come. Split by
   * columns, two threads would read alternate kilobytes of every row of a node's matrix, which the memory serves
   * more slowly than one contiguous read each. Splits change no sums.
   */
  function nodeJobs(rt: Routing, b: number, n: number,
    partsOf: (g: number, share: (n: number, ns: number) => Array<[number, number]>) => number[][], scratch: Scratch | null,
    after: ((g0: number, g1: number) => void) | null = null, ordered = true): void {
    const rowsOf = (g: number): number => rt.end[g] - rt.start[g];
    const whole = (n: number): Array<[number, number]> => [[0, n]];
    const job = (g0: number, g1: number): void => {
      let few = 0;
      for (let g = g0; g < g1; g++) if (rowsOf(g) > 0 && rowsOf(g) < SMALL_M) few++;
      const together = few >= WHOLE_NODES * threadsNow(), rows: number[][] = [];
      for (let g = g0; g < g1; g++) {
        if (rowsOf(g) <= 0) continue;
        for (const r of partsOf(g, together && rowsOf(g) < SMALL_M ? whole : parts)) rows.push(r);
      }
      run(rows, scratch);
      after?.(g0, g1);
    };
    let g0 = b, end = -Infinity;
    for (let g = b; g < b + n; g++) {
      if (rowsOf(g) <= 0) continue;
      if (ordered && rt.start[g] < end) {
        job(g0, g);
        g0 = g;
        end = -Infinity;
      }
      end = Math.max(end, rt.end[g]);
    }
    job(g0, b + n);
  }
  /**
   * The parts of an update of c consecutive slots of `size` floats (a pipeline's block: up to 4 per thread):
   * [first slot, first element, slots, elements] each, whole slots when there are several, else the slot's elements.
   */
  function updateParts(c: number, size: number): Array<[number, number, number, number]> {
    if (c === 1) return parts(size, UPDATE_NS * size, 4).map(([e, n]) => [0, e, 1, n]);
    const T = threadsNow() > 1 ? Math.max(1, Math.min(4 * threadsNow(), c, Math.floor(4 * UPDATE_NS * c * size / PART_NS))) : 1;
    const step = Math.ceil(c / T), out: Array<[number, number, number, number]> = [];
    for (let t = 0; t < c; t += step) out.push([t, 0, Math.min(step, c - t), size]);
    return out;
  }

  // ---- arrays in the module's memory (a shared one: its views survive growth): floats() makes them in a region
  // at the heap base, below the resident slab and the arena, and the kernels read and write them in place, where
  // every other array is copied in and out. A block returns to the heap when release() gives it back, or when
  // its array is collected (only after a major collection: V8 does not count this memory as the arrays').
  const heap = new Heap(A.heap);
  /** The memory's buffers (a new one after each growth): an array on one of them lives in the memory. */
  const buffers = new WeakSet<object>();
  /** floats()' arrays still holding their blocks: [address, bytes]. */
  const held = new WeakMap<Float32Array, [number, number]>();
  const collected = shared && typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<[number, number]>(([at, bytes]) => heap.release(at, bytes)) : null;
  /** Whether `a` lives in the module's memory (made by floats()): kernels address it in place. */
  const inPlace = (a: Float32Array): boolean => buffers.has(a.buffer);
  /** The byte address of a[i] for an array in place. */
  const addr = (a: Float32Array, i: number): number => a.byteOffset + 4 * i;
  /**
   * Where the heap and the resident slab may reach: residentBytes above its base, and ARENA_RESERVE (a quarter of a
   * memory smaller than wasm32's) below its end for the calls' operands.
   */
  const heapLimit = Math.min(A.heap + residentBytes, maxBytes - Math.min(ARENA_RESERVE, maxBytes / 4));
  /**
   * The backend's floats: n zeros in the module's memory, within residentBytes (with the slab's tables) and where
   * the memory is shared and can grow; else an ordinary array (copied in and out by each call).
   */
  function floats(n: number): Float32Array {
    if (!collected || !Number.isSafeInteger(n) || n <= 0) return new Float32Array(n);
    const at = heap.alloc(4 * n, heapLimit);
    if (at < 0) return new Float32Array(n);
    const clean = A.written; // memory above what was ever used is zeros
    try {
      if (heap.top > slabBase) emptySlab(); // the slab (copies, dropped) and the arena start above the new block
      A.commit();
    } catch {
      // the memory could not grow: the block back, and the slab and the arena down on the heap's top again
      heap.release(at, 4 * n);
      emptySlab();
      return new Float32Array(n);
    }
    const buffer = k.memory.buffer;
    buffers.add(buffer);
    const a = new Float32Array(buffer, at, n);
    a.fill(0, 0, Math.max(0, Math.min(n, Math.ceil((clean - at) / 4))));
    held.set(a, [at, 4 * n]);
    collected.register(a, [at, 4 * n], a);
    return a;
  }
  /** The backend's release: an array of floats() gives its block back now (others: nothing happens). */
  function release(a: Float32Array): void {
    const block = held.get(a);
    if (!block) return;
    held.delete(a);
    collected!.unregister(a); // held only where floats() registered the array
    heap.release(block[0], block[1]);
  }

  // ---- resident tables (see the module comment): the slab address of each node copied so far (0: not
  // there), valid for one generation of the slab. A call reserves and fills its nodes before its arena is
  // laid out above the slab. packNodes starts a new generation (a layer is rebuilding its tables: the copies
  // made so far may be stale, and the slab's space is reused); so do nodes that would not fit. Keys are held
  // weakly.
  interface Resident { generation: number; at: Float64Array }
  const resident = new WeakMap<Float32Array, Resident>();
  let generation = 0, slabBase = A.heap, slabTop = A.heap;
  function emptySlab(): void {
    generation++;
    slabBase = slabTop = heap.top;
    A.rebase(slabTop);
  }
  /**
   * The slab addresses of w's nodes (`size` floats each), with every node of rt that has rows copied there
   * now if it was not; null where they cannot all be resident (then the call copies them).
   */
  function residentNodes(rt: Routing, w: Float32Array, size: number): Float64Array | null {
    const T = Math.floor(w.length / Math.max(1, size));
    let r = resident.get(w);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!r || r.generation !== generation) {
        r = { generation, at: new Float64Array(T) };
        resident.set(w, r);
      }
      let need = 0, all = 0;
      for (let g = 0; g < rt.nodeCount; g++) {
        if (rt.end[g] <= rt.start[g]) continue;
        all++;
        if (!r.at[rt.node[g]]) need++;
      }
      if (need === 0) return r.at;
      if (heap.top + 4 * all * size > heapLimit) return null; // never fits: copy per call, evicting nothing
      const bytes = 4 * need * size;
      if (slabTop + bytes <= heapLimit) {
        A.rebase(slabTop + bytes);
        try {
          A.commit();
        } catch {
          emptySlab(); // the memory could not grow: no resident tables, the arena back above the arrays
          return null;
        }
        for (let g = 0; g < rt.nodeCount; g++) {
          const t = rt.node[g];
          if (rt.end[g] <= rt.start[g] || r.at[t]) continue;
          A.put(slabTop, w, t * size, (t + 1) * size);
          r.at[t] = slabTop;
          slabTop += 4 * size;
        }
        return r.at;
      }
      if (attempt === 0 && slabTop > slabBase) emptySlab(); // full: start over with this call's nodes alone
      else return null;
    }
    return null;
  }
  /** The backend's packNodes: the tables as they are (the kernels read the plain layout), and a new slab generation. */
  const packNodes: PackNodes = (w, T, m, s, out) => {
    emptySlab();
    return plainPackNodes(w, T, m, s, out);
  };

  function gemmStrided(
    M: number, N: number, K: number,
    a: Float32Array, ao: number, ars: number, acs: number,
    b: Float32Array, bo: number, brs: number, bcs: number,
    c: Float32Array, co: number, crs: number,
    accumulate: boolean,
  ): void {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
      if (!accumulate) for (let i = 0; i < M; i++) c.fill(0, co + i * crs, co + i * crs + N);
      return;
    }
    const [aLo, aHi] = span(ao, M, ars, K, acs);
    const [cLo, cHi] = span(co, M, crs, N, 1);
    // B's columns apart and contiguous along K (C = A Wᵀ): the kernels read W's rows in place, each
    // once per block of A (few rows: once), so copying all of W and then reading it back would cross
    // memory twice. W is streamed instead through one cache-sized buffer, STREAM_FLOATS at a time, and
    // each block is multiplied while still in cache: with A packed once when gemm would run the product
    // transposed (Cᵀ = W Aᵀ), block by block through the few-row kernels otherwise. Blocks are
    // multiples of 4 columns (the micro-tile's MR rows of W, the few-row kernel's column groups), so
    // the sums are those of one gemm call.
    const streamW = brs === 1 && bcs >= K;
    const transposed = streamW && k.gemmTransposes(M, N, K, acs, brs, bcs) !== 0;
    const stream = transposed || (streamW && M < SMALL_M);
    const nc = stream ? Math.max(4, 4 * Math.floor(STREAM_FLOATS / (4 * bcs))) : N;
    const [bLo, bHi] = span(bo, K, brs, Math.min(nc, N), bcs);
    // an operand in the module's memory is addressed in place (W's blocks too: the same kernel calls, no copies)
    const aHere = inPlace(a), bHere = inPlace(b), cHere = inPlace(c);
    A.reset();
    const pa = aHere ? 0 : A.alloc(4 * (aHi - aLo)), pb = bHere ? 0 : A.alloc(4 * (bHi - bLo)), pc = cHere ? 0 : A.alloc(4 * (cHi - cLo));
    const pA = transposed ? A.alloc(k.packedBBytes(M, K)) : 0;
    // the transposed product needs only the tile and packed-A space of the scratch (no packed B: N = 0)
    // each thread's scratch: for the widest part of a block (a full block's, or the last block's, which may be
    // split into fewer parts)
    const nb = Math.min(nc, N), last = N - nc * Math.floor((N - 1) / nc);
    const cols = Math.max(widest(nb, work(2 * M * nb * K, 0)), widest(last, work(2 * M * last * K, 0)));
    const scratch = scratchFor(k.gemmScratchBytes(M, transposed ? 0 : cols, K));
    A.commit();
    if (!aHere) A.put(pa, a, aLo, aHi);
    // C is read when accumulating, and when its span has gaps (row stride > N) that must come back unchanged
    if (!cHere && (accumulate || cHi - cLo !== M * N)) A.put(pc, c, cLo, cHi);
    const aAddr = aHere ? addr(a, ao) : pa + 4 * (ao - aLo), cAddr = cHere ? addr(c, co) : pc + 4 * (co - cLo), acc = accumulate ? 1 : 0;
    if (transposed) k.packB(K, M, aAddr, acs, ars, pA);
    for (let j0 = 0; j0 < N; j0 += nc) {
      const n = Math.min(nc, N - j0), o = bo + j0 * bcs;
      const [lo, hi] = span(o, K, brs, n, bcs);
      if (!bHere) A.put(pb, b, lo, hi);
      const bAddr = bHere ? addr(b, o) : pb + 4 * (o - lo);
      // the block's columns split between threads (B's rows of Wᵀ when transposed)
      run(parts(n, work(2 * M * n * K, 0)).map(([j, nj]) => transposed
        ? [OP_PACKED, 11, nj, M, K, bAddr + 4 * j * bcs, bcs, brs, pA, cAddr + 4 * (j0 + j), 1, crs, acc, 0]
        : [OP_GEMM, 12, M, nj, K, aAddr, ars, acs, bAddr + 4 * j * bcs, brs, bcs, cAddr + 4 * (j0 + j), crs, acc, 0]), scratch);
    }
    if (!cHere) A.get(pc, c, cLo, cHi - cLo);
  }

  function gemmNT(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
    c: Float32Array, co: number, accumulate: boolean): void {
    gemmStrided(M, N, K, a, ao, K, 1, b, bo, 1, K, c, co, N, accumulate);
  }
  function gemmNN(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
    c: Float32Array, co: number, accumulate: boolean): void {
    gemmStrided(M, N, K, a, ao, K, 1, b, bo, N, 1, c, co, N, accumulate);
  }
  function gemmTN(M: number, N: number, K: number, a: Float32Array, ao: number, b: Float32Array, bo: number,
    c: Float32Array, co: number, accumulate: boolean): void {
    gemmStrided(M, N, K, a, ao, 1, M, b, bo, N, 1, c, co, N, accumulate);
  }

  /** Nodes g0 ≤ g < g1 of a routing and the row span [lo, hi) they cover; null when no node has rows. */
  interface NodeList { count: number; lo: number; hi: number; maxRows: number; minRows: number }
  function nodeList(rt: Routing, g0: number, g1: number): NodeList | null {
    const count = g1 - g0;
    if (count <= 0) return null;
    let lo = Infinity, hi = -Infinity, maxRows = 0, minRows = Infinity;
    for (let g = g0; g < g1; g++) {
      if (rt.end[g] > rt.start[g]) {
        lo = Math.min(lo, rt.start[g]);
        hi = Math.max(hi, rt.end[g]);
        maxRows = Math.max(maxRows, rt.end[g] - rt.start[g]);
        minRows = Math.min(minRows, rt.end[g] - rt.start[g]);
      }
    }
    if (!(hi > lo)) return null;
    return { count, lo, hi, maxRows, minRows };
  }
  /** Copies the size-floats slot of each listed node t = rt.node[g] from src into consecutive slots at p. */
  function putSlots(rt: Routing, g0: number, count: number, src: Float32Array, size: number, p: number): void {
    if (size <= 0) return;
    const f32 = A.f32, d0 = p >>> 2;
    for (let g = 0; g < count; g++) {
      const t = rt.node[g0 + g];
      f32.set(src.subarray(t * size, t * size + size), d0 + g * size);
    }
  }
  function getSlots(rt: Routing, g0: number, count: number, dst: Float32Array, size: number, p: number): void {
    if (size <= 0) return;
    const f32 = A.f32, s0 = p >>> 2;
    for (let g = 0; g < count; g++) {
      const t = rt.node[g0 + g];
      dst.set(f32.subarray(s0 + g * size, s0 + g * size + size), t * size);
    }
  }

  /**
   * Node weights are streamed: rather than copying every listed node's matrix into linear memory and
   * then running the kernel over all of them (at k = 10, N = 256, m = s = 512: 800 MB written to
   * fresh memory and read back from DRAM), nodes of at most STREAM_FLOATS parameters go in batches of
   * that size through one buffer, each batch computed while it is still in cache; a larger node goes
   * alone, and when it has fewer than SMALL_M rows (deep nodes: the product reads each weight once)
   * its matrix goes through the buffer a block of rows at a time (streamRows). The kernels see the
   * same operations in the same order either way, so results do not change.
   */
  function nodesPerBatch(slotFloats: number): number {
    return Math.max(1, Math.floor(STREAM_FLOATS / Math.max(1, slotFloats)));
  }

  /** Rows of streamRows' blocks (and nodeStep's) for rows of `len` floats: a multiple of 8 holding about STREAM_FLOATS. */
  function blockRows(len: number): number {
    return 8 * Math.max(1, Math.floor(STREAM_FLOATS / (8 * Math.max(1, len))));
  }
  /** Floats of one of streamRows' block buffers for rows of `len` floats (a block has up to blockRows + 7 rows). */
  function blockFloats(len: number): number {
    return (blockRows(len) + 7) * len;
  }
  /**
   * Streams the R×len row-major matrix at src[off] through two block buffers at byte address p (blockFloats(len)
   * floats each): rows [r0, r0 + n) are copied in and the parts fn(r0, n, at) gives for the copy at `at` run, block
   * by block, a block copied while the one before is computed (pipeline). n is a multiple of 8 holding about
   * STREAM_FLOATS floats, and a last block of fewer than 8 rows is merged into the one before (so products over
   * a block never drop below the kernels' few-row threshold unless the whole matrix does). With writeBack, each
   * block is copied back after its parts.
   */
  function streamRows(src: Float32Array, off: number, R: number, len: number, p: number,
    fn: (r0: number, n: number, at: number) => number[][], scratch: Scratch | null, writeBack = false): void {
    const bf = blockFloats(len);
    pipeline(blocks(R, len).map(([r0, n], i) => {
      const at = p + 4 * bf * (i & 1);
      return {
        copyIn: () => A.put(at, src, off + r0 * len, off + (r0 + n) * len),
        parts: () => fn(r0, n, at),
        copyOut: writeBack ? () => A.get(at, src, off + r0 * len, n * len) : undefined,
      };
    }), scratch);
  }
  /** streamRows' blocks of rows [0, R): [first row, rows]. */
  function blocks(R: number, len: number): Array<[number, number]> {
    const nb = blockRows(len), out: Array<[number, number]> = [];
    for (let r0 = 0; r0 < R;) {
      const n = R - r0 - nb < 8 ? R - r0 : nb;
      out.push([r0, n]);
      r0 += n;
    }
    return out;
  }

  function groupedForward(rt: Routing, xs: Float32Array, s: number, w: Float32Array, bias: Float32Array,
    m: number, ys: Float32Array, packed = false): void {
    if (m <= 0) return;
    const ms = m * s;
    const res = packed && !inPlace(w) && rt.nodeCount > 0 ? residentNodes(rt, w, ms) : null;
    A.reset();
    const L = nodeList(rt, 0, rt.nodeCount);
    if (!L) return;
    // where node t's matrix is read: in place (an array of the module's memory, or a resident copy), else null
    // (copied, a batch of nodes or a streamed block at a time); a node of few rows goes through rowsNT (one read
    // stream of U), every other through gemm, either way
    const nodeAt = inPlace(w) ? (t: number) => addr(w, t * ms) : res !== null ? (t: number) => res[t] : null;
    const biasAt = inPlace(bias) ? (t: number) => addr(bias, t * m) : null;
    const rows = L.hi - L.lo, per = nodeAt !== null ? L.count : Math.min(L.count, nodesPerBatch(ms + m));
    const px = A.alloc(4 * rows * s), pw = nodeAt === null ? A.alloc(4 * Math.max(per * ms, 2 * blockFloats(s))) : 0;
    const pb = A.alloc(4 * m), py = A.alloc(4 * rows * m);
    // each thread's scratch, for gemm (nodes of SMALL_M rows and more; rowsNT needs none): for the widest part of
    // a node's product (the node of fewest rows)
    const scratch = L.maxRows >= SMALL_M ? scratchFor(k.gemmScratchBytes(L.maxRows, widest(m, work(2 * L.minRows * ms, 4 * ms)), s)) : null;
    A.commit();
    A.put(px, xs, L.lo * s, L.hi * s);
    A.put(py, ys, L.lo * m, L.hi * m);
    const addBias = (g: number): void => {
      const nr = rt.end[g] - rt.start[g];
      if (nr <= 0) return;
      if (!biasAt) putSlots(rt, g, 1, bias, m, pb);
      k.addRowVector(py + 4 * (rt.start[g] - L.lo) * m, nr, m, biasAt ? biasAt(rt.node[g]) : pb);
    };
    for (let b = 0; b < L.count; b += per) {
      const n = Math.min(per, L.count - b);
      const r0 = rt.start[b] - L.lo, nr = rt.end[b] - rt.start[b];
      if (nodeAt === null && per === 1 && nr < SMALL_M && s > 0) {
        // y += x Uᵀ a block of U's rows (y's columns) at a time, then the bias, as the kernel does
        const x = px + 4 * r0 * s, y = py + 4 * r0 * m;
        streamRows(w, rt.node[b] * ms, m, s, pw, (j0, nj, at) => parts(nj, work(2 * nr * nj * s, 0), 4).map(([j, c]) =>
          [OP_ROWS, -1, nr, c, s, x, s, at + 4 * j * s, s, y + 4 * (j0 + j), m, 1]), scratch);
        addBias(b);
        continue;
      }
      if (nodeAt === null) putSlots(rt, b, n, w, ms, pw);
      // y += x Uᵀ for each node, its columns split between threads (or many few-row nodes each whole); then each job's biases
      nodeJobs(rt, b, n, (g, share) => {
        if (s <= 0) return [];
        const nr = rt.end[g] - rt.start[g], x = px + 4 * (rt.start[g] - L.lo) * s, y = py + 4 * (rt.start[g] - L.lo) * m;
        const u = nodeAt !== null ? nodeAt(rt.node[g]) : pw + 4 * (g - b) * ms;
        return share(m, work(2 * nr * ms, 4 * ms)).map(([j, nj]) => nr < SMALL_M
          ? [OP_ROWS, -1, nr, nj, s, x, s, u + 4 * j * s, s, y + 4 * j, m, 1]
          : [OP_GEMM, 12, nr, nj, s, x, s, 1, u + 4 * j * s, 1, s, y + 4 * j, m, 1, 0]);
      }, scratch, (g0, g1) => {
        for (let g = g0; g < g1; g++) addBias(g);
      });
    }
    A.get(py, ys, L.lo * m, rows * m);
  }

  function groupedBackwardInput(rt: Routing, dys: Float32Array, m: number, w: Float32Array, s: number,
    dxs: Float32Array, g0 = 0, g1 = rt.nodeCount): void {
    if (s <= 0 || m <= 0) return;
    A.reset();
    const L = nodeList(rt, g0, g1);
    if (!L) return;
    const ms = m * s, rows = L.hi - L.lo, here = inPlace(w), per = here ? L.count : Math.min(L.count, nodesPerBatch(ms));
    const py = A.alloc(4 * rows * m), pw = here ? 0 : A.alloc(4 * Math.max(per * ms, 2 * blockFloats(s))), px = A.alloc(4 * rows * s);
    // each thread's scratch: for the widest part of a node's product (a streamed block's few-row products need none)
    const scratch = scratchFor(k.gemmScratchBytes(L.maxRows, widest(s, work(2 * L.minRows * ms, 4 * ms)), m));
    A.commit();
    A.put(py, dys, L.lo * m, L.hi * m);
    A.put(px, dxs, L.lo * s, L.hi * s);
    for (let b = 0; b < L.count; b += per) {
      const n = Math.min(per, L.count - b), g = g0 + b;
      const r0 = rt.start[g] - L.lo, nr = rt.end[g] - rt.start[g];
      if (!here && per === 1 && nr < SMALL_M) {
        // dx += dy U a block of U's rows (the sum's index; blocks of a multiple of 8 rows keep the kernel's sums) at a time
        const dy = py + 4 * r0 * m, dx = px + 4 * r0 * s;
        streamRows(w, rt.node[g] * ms, m, s, pw, (p0, np, at) => parts(s, work(2 * nr * np * s, 0), 4).map(([j, c]) =>
          [OP_GEMM, 12, nr, c, np, dy + 4 * p0, m, 1, at + 4 * j, s, 1, dx + 4 * j, s, 1, 0]), scratch);
        continue;
      }
      if (!here) putSlots(rt, g, n, w, ms, pw);
      // dx += dy U for each node (in place, or copied), dx's columns split between threads (or many few-row nodes each whole)
      nodeJobs(rt, g, n, (h, share) => {
        const nr = rt.end[h] - rt.start[h], dy = py + 4 * (rt.start[h] - L.lo) * m, dx = px + 4 * (rt.start[h] - L.lo) * s;
        const u = here ? addr(w, rt.node[h] * ms) : pw + 4 * (h - g) * ms;
        return share(s, work(2 * nr * ms, 4 * ms)).map(([j, sj]) => [OP_GEMM, 12, nr, sj, m, dy, m, 1, u + 4 * j, s, 1, dx + 4 * j, s, 1, 0]);
      }, scratch);
    }
    A.get(px, dxs, L.lo * s, rows * s);
  }

  function groupedBackwardWeight(rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number,
    dw: Float32Array, dbias: Float32Array): void {
    weightGradients(rt, dys, m, xs, s, dw, dbias, null);
  }

  /**
   * The backend's groupedBackwardWeightStep: each batch of nodes' weight gradients are made in linear memory
   * from zero (dw holds zeros at the listed nodes) and the step is applied from there, w, m and v streamed
   * through the update buffers (or, where they are in the module's memory and nodes go one at a time, each node's
   * gradient and step made whole on one thread: wholeSteps); dw is neither copied in nor out, nor cleared. The same
   * kernels on the same values as groupedBackwardWeight followed by adamUpdate / sgdUpdate, so the same bits.
   */
  function groupedBackwardWeightStep(rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number,
    w: Float32Array, dw: Float32Array, dbias: Float32Array, st: WeightStep): void {
    checkWeightStep(st);
    weightGradients(rt, dys, m, xs, s, dw, dbias, { w, st });
  }

  const composedPathStep = composePathWeightStep({ groupedBackwardWeight, addRowVector, adamUpdate, sgdUpdate });
  /**
   * The backend's pathWeightStep: where the weights, the optimizer's state and the bias gradients are in the module's
   * memory, each thread takes blocks of rows of every entry's table and runs the tree on them (assembly/optim.ts,
   * pathStep), so that no gradient reaches memory; else the composition of its products, adds and update. The same
   * kernels per element as the composition (gemm zeroed then accumulated, the float32 update, adds into zeros), so
   * the same bits.
   */
  function pathWeightStep(rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number, w: Float32Array,
    dw: Float32Array, dbias: Float32Array, st: WeightStep, entry: Int32Array, parent: Int32Array, at: Int32Array, count: number): void {
    checkWeightStep(st, 'pathWeightStep');
    const adam = st.kind === 'adam', L = nodeList(rt, 0, rt.nodeCount);
    if (!L || count === 0 || m * s === 0 || !inPlace(w) || !inPlace(st.m) || (adam && !inPlace(st.v!)) || !inPlace(dbias)) {
      composedPathStep(rt, dys, m, xs, s, w, dw, dbias, st, entry, parent, at, count);
      return;
    }
    const level = new Int32Array(count);
    let levels = 1;
    for (let e = 0; e < count; e++) {
      level[e] = parent[e] < 0 ? 0 : level[parent[e]] + 1;
      levels = Math.max(levels, level[e] + 1);
    }
    if (levels > 32) { // the kernel keeps a bit per depth
      composedPathStep(rt, dys, m, xs, s, w, dw, dbias, st, entry, parent, at, count);
      return;
    }
    A.reset();
    // blocks of bh rows, a last one of fewer than 8 merged into the one before (the kernel's rule, nodeStep's)
    const ms = m * s, rows = L.hi - L.lo, bh = blockRows(s), blockCount = blocks(m, s).length;
    const py = A.alloc(4 * rows * m), px = A.alloc(4 * rows * s), tab = A.alloc(24 * count), pc = A.alloc(24 * count), hp = A.alloc(40);
    const bufferBytes = Math.ceil(4 * levels * (bh + 7) * s / 64) * 64;
    const scratch = scratchFor(bufferBytes + 64 + k.gemmScratchBytes(bh + 7, s, L.maxRows));
    A.commit();
    A.put(py, dys, L.lo * m, L.hi * m);
    A.put(px, xs, L.lo * s, L.hi * s);
    const t32 = A.i32, t0 = tab >>> 2;
    for (let e = 0; e < count; e++) {
      const o = entry[e] * ms, g = at[e];
      t32.set([addr(w, o), addr(st.m, o), adam ? addr(st.v!, o) : 0, g >= 0 ? rt.start[g] - L.lo : 0,
        g >= 0 ? rt.end[g] - rt.start[g] : -1, level[e]], t0 + 6 * e);
    }
    slotScalars(pc, count, (q) => entry[q], st.steps, st.decayScale, st.weightDecay, adam ? [st.beta1, st.beta2] : null);
    stepSettings(hp, st);
    pathSteps++;
    const T = Math.min(threadsNow(), blockCount);
    run(Array.from({ length: T }, (_, q) => [OP_PATH_STEP, 12, tab, count, m, s, bh, Math.floor(blockCount * q / T),
      Math.floor(blockCount * (q + 1) / T), py, px, pc, hp, levels, 0]), scratch);
    for (let g = 0; g < rt.nodeCount; g++) {
      const nr = rt.end[g] - rt.start[g];
      if (nr > 0) k.addColumnSums(py + 4 * (rt.start[g] - L.lo) * m, nr, m, addr(dbias, rt.node[g] * m));
    }
  }

  /**
   * dU_t (+)= dys[r]ᵀ xs[r] into dw, or, with `step`, the step applied to w from the gradients in linear memory.
   * dw and dbias are read and written in place where they live in the module's memory (then nothing is copied),
   * with the kernel calls of the copied path, so the same bits.
   */
  function weightGradients(rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number,
    dw: Float32Array, dbias: Float32Array, step: { w: Float32Array; st: WeightStep } | null): void {
    if (m <= 0) return;
    A.reset();
    const L = nodeList(rt, 0, rt.nodeCount);
    if (!L) {
      // no rows: zero gradients, which the listed nodes' step still applies (decay, moments)
      if (step) applyWeightStep({ adamUpdate, sgdUpdate }, step.w, dw, m * s, rt.node, rt.nodeCount, step.st);
      return;
    }
    const ms = m * s, rows = L.hi - L.lo, dwHere = !step && inPlace(dw), dbHere = inPlace(dbias);
    // nodes go in batches (copied into the buffer together) or one at a time with few rows in blocks of dU's rows
    const batch = Math.min(L.count, nodesPerBatch(ms + m)), per = dwHere ? L.count : batch;
    const py = A.alloc(4 * rows * m), px = A.alloc(4 * rows * s);
    const pw = dwHere ? 0 : A.alloc(4 * Math.max(per * ms, 2 * blockFloats(s))), pb = dbHere ? 0 : A.alloc(4 * per * m);
    // per node: a gemm of M = m, N = s, K = rows of the node (at most all of them)
    // each thread's scratch: for the widest part of a node's product, or of a streamed block's (at most all of s,
    // over K < SMALL_M rows)
    const nbRows = Math.min(m, blockFloats(s) / Math.max(1, s));
    const scratch = scratchFor(Math.max(k.gemmScratchBytes(m, widest(s, work(2 * L.minRows * ms, 0)), L.maxRows),
      k.gemmScratchBytes(nbRows, s, SMALL_M)));
    const pu = step ? updateBuffers(per, ms, step.st) : null;
    const whole = step && per === 1 ? wholeSteps(rt, L.count, ms, step) : null;
    const pcWhole = whole ? A.alloc(24 * whole.count) : 0, hp = whole ? A.alloc(40) : 0;
    const nb = blockRows(s);
    const wholeScratch = whole ? scratchFor(4 * (nb + 7) * s + 64 + k.gemmScratchBytes(nb + 7, s, whole.maxRows)) : null;
    A.commit();
    A.put(py, dys, L.lo * m, L.hi * m);
    A.put(px, xs, L.lo * s, L.hi * s);
    if (whole) {
      // the nodes each thread steps whole, claimed as they come: gradient and update a block of rows at a time
      const st = step!.st, adam = st.kind === 'adam', list = whole.list;
      nodeSteps += whole.count;
      slotScalars(pcWhole, whole.count, (q) => rt.node[list[q]], st.steps, st.decayScale, st.weightDecay, adam ? [st.beta1, st.beta2] : null);
      stepSettings(hp, st);
      run(Array.from(list.subarray(0, whole.count), (g, q) => {
        const r0 = rt.start[g] - L.lo, o = rt.node[g] * ms;
        return [OP_NODE_STEP, 11, m, s, rt.end[g] - rt.start[g], py + 4 * r0 * m, px + 4 * r0 * s, addr(step!.w, o), addr(st.m, o),
          adam ? addr(st.v!, o) : 0, pcWhole + (adam ? 24 : 8) * q, hp, nb, 0];
      }), wholeScratch);
    }
    /**
     * The products dU (+)= dyᵀ x of node g (its rows) into du: for a node of few rows alone in its batch, a block of
     * dU's rows at a time. With a step, each job zeroes its part of du first (gemm's accumulateOrZero 2: the bits of
     * a filled buffer, without a fill on this thread).
     */
    const acc = step ? 2 : 1;
    const nodeParts = (g: number, du: number, share = parts): number[][] => {
      const nr = rt.end[g] - rt.start[g], dy = py + 4 * (rt.start[g] - L.lo) * m, x = px + 4 * (rt.start[g] - L.lo) * s;
      if (batch === 1 && nr < SMALL_M) {
        return blocks(m, s).flatMap(([j0, nj]) => parts(s, work(2 * nr * nj * s, 0)).map(([j, c]) =>
          [OP_GEMM, 12, nj, c, nr, dy + 4 * j0, 1, m, x + 4 * j, s, 1, du + 4 * (j0 * s + j), s, acc, 0]));
      }
      return share(s, work(2 * nr * ms, 0)).map(([j, sj]) => [OP_GEMM, 12, m, sj, nr, dy, 1, m, x + 4 * j, s, 1, du + 4 * j, s, acc, 0]);
    };
    /** dc += Σ dy over node g's rows, with dc at `at` (or, where dbias is in place, there). */
    const biasSums = (g: number, at: number): void => {
      const nr = rt.end[g] - rt.start[g];
      if (nr > 0) k.addColumnSums(py + 4 * (rt.start[g] - L.lo) * m, nr, m, dbHere ? addr(dbias, rt.node[g] * m) : at);
    };
    /** biasSums of a node alone in its batch, its dc copied in and out of the buffer where dbias is not in place. */
    const nodeBias = (g: number): void => {
      if (!dbHere) putSlots(rt, g, 1, dbias, m, pb);
      biasSums(g, pb);
      if (!dbHere) getSlots(rt, g, 1, dbias, m, pb);
    };
    for (let b = 0; b < L.count; b += per) {
      const n = Math.min(per, L.count - b), g = b;
      const nr = rt.end[g] - rt.start[g];
      if (whole?.has[g]) {
        nodeBias(g);
        continue;
      }
      if (!dwHere && per === 1 && nr < SMALL_M && s > 0) {
        // dU += dyᵀ x a block of dU's rows at a time (read, updated, written back), then dc as the kernel does;
        // with a step, the blocks are made in place in linear memory from zero (each job zeroes its own)
        if (step) run(nodeParts(g, pw), scratch);
        else {
          const r0 = rt.start[g] - L.lo, dy = py + 4 * r0 * m, x = px + 4 * r0 * s;
          streamRows(dw, rt.node[g] * ms, m, s, pw, (j0, nj, at) => parts(s, work(2 * nr * nj * s, 0), 4).map(([j, c]) =>
            [OP_GEMM, 12, nj, c, nr, dy + 4 * j0, 1, m, x + 4 * j, s, 1, at + 4 * j, s, 1, 0]), scratch, true);
        }
        nodeBias(g);
        if (step) stepSlots(rt, g, 1, ms, pw, step.w, step.st, pu!);
        continue;
      }
      if (!step && !dwHere) putSlots(rt, b, n, dw, ms, pw);
      // a listed node without rows has no job to zero its gradient: its step applies zeros (as the reference's)
      if (step) for (let g = b; g < b + n; g++) if (rt.end[g] <= rt.start[g]) A.f32.fill(0, (pw >>> 2) + (g - b) * ms, (pw >>> 2) + (g - b + 1) * ms);
      if (!dbHere) putSlots(rt, b, n, dbias, m, pb);
      // dU += dyᵀ x for each node, dU's columns split between threads (each node has its own dU: one job), then
      // dc += Σ dy
      nodeJobs(rt, b, n, (g, share) => nodeParts(g, dwHere ? addr(dw, rt.node[g] * ms) : pw + 4 * (g - b) * ms, share), scratch, null, false);
      for (let g = b; g < b + n; g++) biasSums(g, pb + 4 * (g - b) * m);
      if (step) stepSlots(rt, b, n, ms, pw, step.w, step.st, pu!);
      else if (!dwHere) getSlots(rt, b, n, dw, ms, pw);
      if (!dbHere) getSlots(rt, b, n, dbias, m, pb);
    }
  }

  /**
   * The listed nodes (of rt's first `count`, which go one at a time) whose fused step one thread makes whole
   * (nodeStep), where the weights and the optimizer's state are in the module's memory: each node with rows whose
   * work (product and update) is at most a thread's share of the list's; a bigger one is split between the threads
   * as before. Null where none.
   */
  function wholeSteps(rt: Routing, count: number, ms: number, step: { w: Float32Array; st: WeightStep }):
    { list: Int32Array; count: number; has: Uint8Array; maxRows: number } | null {
    const st = step.st;
    if (!inPlace(step.w) || !inPlace(st.m) || (st.kind === 'adam' && !inPlace(st.v!))) return null;
    const cost = (g: number): number => {
      const nr = rt.end[g] - rt.start[g];
      return nr > 0 ? work(2 * nr * ms, 0) + UPDATE_NS * ms : 0;
    };
    let total = 0;
    for (let g = 0; g < count; g++) total += cost(g);
    const T = threadsNow(), list = new Int32Array(count), has = new Uint8Array(count);
    let n = 0, maxRows = 0;
    for (let g = 0; g < count; g++) {
      const c = cost(g);
      if (c > 0 && c * T <= total) {
        list[n++] = g;
        has[g] = 1;
        maxRows = Math.max(maxRows, rt.end[g] - rt.start[g]);
      }
    }
    return n > 0 ? { list, count: n, has, maxRows } : null;
  }

  /** The five f64 at byte address hp that nodeStep and pathStep read: 1 for Adam (0 for SGD), lr, β1 or μ, β2, ε. */
  function stepSettings(hp: number, st: WeightStep): void {
    const adam = st.kind === 'adam';
    A.f64.set([adam ? 1 : 0, st.lr, adam ? st.beta1 : st.momentum, st.beta2, st.eps], hp >>> 3);
  }

  /**
   * Bumps the step counts of n slots (slot(q), q < n) and writes their scalars as src/kernels/optim.ts computes them,
   * in float64 at byte address p: λ_s per slot for SGD; with Adam's betas, λ_s, 1 / (1 − β1^t), 1 / (1 − β2^t).
   */
  function slotScalars(p: number, n: number, slot: (q: number) => number, steps: Int32Array, decayScale: Float32Array | null,
    weightDecay: number, betas: [number, number] | null): void {
    const f64 = A.f64, c0 = p >>> 3, per = betas ? 3 : 1;
    for (let q = 0; q < n; q++) {
      const s = slot(q), t = ++steps[s];
      f64[c0 + per * q] = decayScale ? weightDecay * decayScale[s] : 0;
      if (betas) {
        f64[c0 + 3 * q + 1] = 1 / (1 - betas[0] ** t);
        f64[c0 + 3 * q + 2] = 1 / (1 - betas[1] ** t);
      }
    }
  }

  /**
   * Space for stepSlots: two pieces (a pipeline's two buffers) of w, m and v (UPDATE_FLOATS floats each, or a slot)
   * and per-slot scalars for `per` slots.
   */
  interface UpdateBuffers { sets: number[][]; pc: number }
  function updateBuffers(per: number, size: number, st: WeightStep): UpdateBuffers {
    const n = Math.min(size, UPDATE_FLOATS), arrays = st.kind === 'adam' ? 3 : 2;
    const set = (): number[] => Array.from({ length: arrays }, () => A.alloc(4 * n));
    return { sets: [set(), set()], pc: A.alloc(24 * per) };
  }

  /**
   * The step `st` of the n slots rt.node[g0 …) of w (size floats each) with their gradients consecutive at byte
   * address pg, w and the optimizer's state streamed through `pu` a piece at a time (a pipeline: a piece is copied
   * while the one before is updated); the per-slot scalars as adamUpdate and sgdUpdate compute them.
   */
  function stepSlots(rt: Routing, g0: number, n: number, size: number, pg: number, w: Float32Array, st: WeightStep,
    pu: UpdateBuffers): void {
    const adam = st.kind === 'adam';
    slotScalars(pu.pc, n, (q) => rt.node[g0 + q], st.steps, st.decayScale, st.weightDecay, adam ? [st.beta1, st.beta2] : null);
    const arrays = adam ? [w, st.m, st.v!] : [w, st.m], here = arrays.map(inPlace), pieces: Block[] = [];
    // arrays in the module's memory are updated in place, whole slots at once; the others a piece at a time
    const piece = here.every(Boolean) ? Math.max(1, size) : UPDATE_FLOATS;
    for (let q = 0; q < n; q++) {
      const t = rt.node[g0 + q];
      for (let e0 = 0; e0 < size; e0 += piece) {
        const len = Math.min(piece, size - e0), o = t * size + e0, g = pg + 4 * (q * size + e0);
        const buf = pu.sets[pieces.length & 1], ptrs = arrays.map((a, i) => here[i] ? addr(a, o) : buf[i]), [pw, pm, pv] = ptrs;
        pieces.push({
          copyIn: () => arrays.forEach((a, i) => here[i] || A.put(ptrs[i], a, o, o + len)),
          parts: () => parts(len, UPDATE_NS * len, 4).map(([e, c]) => adam
            ? [OP_ADAM, -1, pw + 4 * e, g + 4 * e, pm + 4 * e, pv + 4 * e, c, 1, pu.pc + 24 * q, st.lr, st.beta1, st.beta2, st.eps, 0]
            : [OP_SGD, -1, pw + 4 * e, g + 4 * e, pm + 4 * e, c, 1, pu.pc + 8 * q, st.lr, st.momentum, 0]),
          copyOut: () => arrays.forEach((a, i) => here[i] || A.get(ptrs[i], a, o, len)),
        });
      }
    }
    pipeline(pieces);
  }

  /**
   * Lays the arrays out in the arena (a length in floats each; null: room only, for an output) with the given
   * inputs copied in, and returns their addresses, in order: the elementwise ops' staging.
   */
  function stage(...arrays: Array<[Float32Array | null, number]>): number[] {
    A.reset();
    const at = arrays.map(([, n]) => A.alloc(4 * n));
    A.commit();
    arrays.forEach(([a, n], i) => a && A.put(at[i], a, 0, n));
    return at;
  }

  function addRowVector(y: Float32Array, rows: number, cols: number, v: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    if (inPlace(y) && inPlace(v)) {
      // split between the threads: one row (a path sum's gradient, a node's table) by its columns, else by rows
      const py = addr(y, 0), pv = addr(v, 0);
      if (rows === 1) return run(parts(cols, ADD_NS * cols).map(([j, c]) => [OP_ADD_ROW, -1, py + 4 * j, 1, c, pv + 4 * j]));
      return run(parts(rows, ADD_NS * rows * cols).map(([r, c]) => [OP_ADD_ROW, -1, py + 4 * r * cols, c, cols, pv]));
    }
    const [py, pv] = stage([y, rows * cols], [v, cols]);
    k.addRowVector(py, rows, cols, pv);
    A.get(py, y, 0, rows * cols);
  }

  /** out = a + b: in place where the three arrays are in the module's memory (the path sums' tables), else staged. */
  function addArrays(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void {
    if (count <= 0) return;
    if (inPlace(a) && inPlace(b) && inPlace(out)) {
      const pa = addr(a, 0), pb = addr(b, 0), po = addr(out, 0);
      return run(parts(count, ADD_NS * count).map(([e, c]) => [OP_ADD, -1, pa + 4 * e, pb + 4 * e, po + 4 * e, c]));
    }
    binary(k.addArrays, a, b, out, count);
  }

  /**
   * addPaths on arrays in the module's memory: each thread runs every entry over its columns a block at a time
   * (assembly/elementwise.ts, addPathsCols), so that only the written sums go to memory; else a chain of addArrays.
   */
  function addPaths(w: Float32Array, size: number, node: Int32Array, parent: Int32Array, outAt: Int32Array, count: number,
    out: Float32Array): void {
    if (size <= 0 || count <= 0) return;
    if (!inPlace(w) || !inPlace(out)) return addPathsWith(addArrays, w, size, node, parent, outAt, count, out);
    const { slot, slots } = pathSlots(parent, count);
    const block = Math.max(1024, Math.floor(Math.min(PATH_BLOCK, PATH_SCRATCH / Math.max(1, slots)) / 64) * 64);
    A.reset();
    const at = [node, parent, slot, outAt].map(() => A.alloc(4 * count));
    const scratch = scratchFor(4 * Math.max(1, slots) * block);
    A.commit();
    [node, parent, slot, outAt].forEach((a, i) => A.i32.set(a.subarray(0, count), at[i] >>> 2));
    const pw = addr(w, 0), po = addr(out, 0);
    run(parts(size, ADD_NS * size * count).map(([c0, n]) =>
      [OP_PATHS, 10, pw, size, at[0], at[1], at[2], at[3], count, po, c0, c0 + n, 0, block]), scratch);
  }

  function addColumnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    const [px, po] = stage([x, rows * cols], [out, cols]);
    k.addColumnSums(px, rows, cols, po);
    A.get(po, out, 0, cols);
  }

  function rowDots(a: Float32Array, b: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void {
    if (rows <= 0) return;
    const [pa, pb, po] = stage([a, rows * cols], [b, rows * cols], [out, rows]);
    k.rowDots(pa, pb, rows, cols, po, accumulate ? 1 : 0);
    A.get(po, out, 0, rows);
  }

  function scaleRows(x: Float32Array, rows: number, cols: number, scale: Float32Array, y: Float32Array): void {
    if (rows <= 0 || cols <= 0) return;
    const [px, pg] = stage([x, rows * cols], [scale, rows]);
    k.scaleRows(px, rows, cols, pg, px);
    A.get(px, y, 0, rows * cols);
  }

  /** y = f(x) over `count` elements through wasm. */
  function unary(fn: (x: number, y: number, count: number) => void, x: Float32Array, y: Float32Array, count: number): void {
    if (count <= 0) return;
    const [px, py] = stage([x, count], [null, count]);
    fn(px, py, count);
    A.get(py, y, 0, count);
  }
  function binary(fn: (y: number, dy: number, dx: number, count: number) => void,
    y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void {
    if (count <= 0) return;
    const [py, pg, pd] = stage([y, count], [dy, count], [null, count]);
    fn(py, pg, pd, count);
    A.get(pd, dx, 0, count);
  }

  function softmaxCrossEntropy(logits: Float32Array, rows: number, cols: number, labels: Int32Array,
    dlogits: Float32Array | null): { loss: number; correct: number } {
    if (rows <= 0) return { loss: 0, correct: 0 };
    const n = rows * cols;
    A.reset();
    const pl = A.alloc(4 * n), plab = A.alloc(4 * rows), pd = dlogits ? A.alloc(4 * n) : 0, pout = A.alloc(16);
    A.commit();
    A.put(pl, logits, 0, n);
    A.i32.set(labels.subarray(0, rows), plab >>> 2);
    k.softmaxCrossEntropy(pl, rows, cols, plab, pd, pout);
    if (dlogits) A.get(pd, dlogits, 0, n);
    return { loss: A.f64[pout >>> 3], correct: A.i32[(pout >>> 2) + 2] };
  }

  /** [min, max] of idx[0..count). */
  function idxRange(idx: Int32Array, count: number): [number, number] {
    let lo = idx[0], hi = idx[0];
    for (let i = 1; i < count; i++) {
      const v = idx[i];
      if (v < lo) lo = v; else if (v > hi) hi = v;
    }
    return [lo, hi];
  }

  function gatherRows(src: Float32Array, srcStride: number, srcOffset: number, idx: Int32Array, count: number,
    cols: number, dst: Float32Array): void {
    if (count <= 0 || cols <= 0) return;
    const [r0, r1] = idxRange(idx, count);
    const lo = r0 * srcStride + srcOffset, hi = r1 * srcStride + srcOffset + cols;
    if (hi - lo > 2 * count * cols) {
      // rows spread over a large source (a batch drawn from a whole dataset): copied row by row here, since
      // moving their span into the linear memory would copy the dataset for every batch (a training epoch of the
      // default model spent 16 of its 37 s doing that)
      for (let i = 0; i < count; i++) {
        const o = idx[i] * srcStride + srcOffset;
        dst.set(src.subarray(o, o + cols), i * cols);
      }
      return;
    }
    A.reset();
    const ps = A.alloc(4 * (hi - lo)), pi = A.alloc(4 * count), pd = A.alloc(4 * count * cols);
    A.commit();
    A.put(ps, src, lo, hi);
    A.i32.set(idx.subarray(0, count), pi >>> 2);
    // the kernel addresses row idx[i] at base + 4·idx[i]·stride; base may lie below ps (wraps as i32)
    k.gatherRows((ps + 4 * (srcOffset - lo)) | 0, srcStride, pi, count, cols, pd);
    A.get(pd, dst, 0, count * cols);
  }

  function scatterRows(src: Float32Array, cols: number, idx: Int32Array, count: number, dst: Float32Array,
    dstStride: number, dstOffset: number, accumulate: boolean): void {
    if (count <= 0 || cols <= 0) return;
    const [r0, r1] = idxRange(idx, count);
    const lo = r0 * dstStride + dstOffset, hi = r1 * dstStride + dstOffset + cols;
    A.reset();
    const ps = A.alloc(4 * count * cols), pi = A.alloc(4 * count), pd = A.alloc(4 * (hi - lo));
    A.commit();
    A.put(ps, src, 0, count * cols);
    A.i32.set(idx.subarray(0, count), pi >>> 2);
    A.put(pd, dst, lo, hi); // rows and columns outside the scatter come back unchanged
    k.scatterRows(ps, cols, pi, count, (pd + 4 * (dstOffset - lo)) | 0, dstStride, accumulate ? 1 : 0);
    A.get(pd, dst, lo, hi - lo);
  }

  /**
   * Runs an elementwise optimizer update over the listed slots with the slots streamed through two sets of
   * buffers, one per array (UPDATE_FLOATS floats each), so that the kernel reads and writes in cache and only
   * the JS arrays cross memory: whole slots in batches when a slot fits, else each slot in pieces, a batch copied
   * while the one before is updated (pipeline). The first `written` arrays are copied back after each batch.
   * partsOf(q, n, size, ptrs) gives the parts that update n slots of `size` floats from listed slot q on, in the
   * buffers at ptrs (a piece: n = 1, the piece's size, slot q's scalars); the update is per element, so pieces give
   * the same results as whole slots.
   */
  function updateSlots(slots: Int32Array, count: number, slotSize: number, arrays: Float32Array[], written: number,
    sets: number[][], partsOf: (q: number, n: number, size: number, ptrs: number[]) => number[][]): void {
    const here = arrays.map(inPlace);
    const copy = (ptrs: number[], n: number, size: number, at: (t: number) => number, back: boolean): void => {
      const f32 = A.f32;
      for (let i = 0; i < (back ? written : arrays.length); i++) {
        if (here[i]) continue;
        const arr = arrays[i], d0 = ptrs[i] >>> 2;
        for (let t = 0; t < n; t++) {
          const o = at(t);
          if (back) arr.set(f32.subarray(d0 + t * size, d0 + (t + 1) * size), o);
          else f32.set(arr.subarray(o, o + size), d0 + t * size);
        }
      }
    };
    if (here.every(Boolean)) {
      // every array in the module's memory: each slot's parts in place, nothing copied
      run(Array.from({ length: count }, (_, q) => partsOf(q, 1, slotSize, arrays.map((a) => addr(a, slots[q] * slotSize)))).flat());
      return;
    }
    const batches: Block[] = [];
    const add = (q: number, n: number, size: number, at: (t: number) => number): void => {
      // an array in place is addressed there (then a batch is one slot, or a piece of one)
      const ptrs = arrays.map((a, i) => here[i] ? addr(a, at(0)) : sets[batches.length & 1][i]);
      batches.push({
        copyIn: () => copy(ptrs, n, size, at, false),
        parts: () => partsOf(q, n, size, ptrs),
        copyOut: () => copy(ptrs, n, size, at, true),
      });
    };
    const per = here.some(Boolean) ? 0 : Math.floor(UPDATE_FLOATS / slotSize);
    if (per >= 1) {
      for (let q = 0; q < count; q += per) add(q, Math.min(per, count - q), slotSize, (t) => slots[q + t] * slotSize);
    } else {
      for (let q = 0; q < count; q++) {
        for (let e0 = 0; e0 < slotSize; e0 += UPDATE_FLOATS) add(q, 1, Math.min(UPDATE_FLOATS, slotSize - e0), () => slots[q] * slotSize + e0);
      }
    }
    pipeline(batches);
  }

  // The optimizers' per-slot scalars (step counts, λ_s, bias corrections) are computed here exactly as in
  // src/kernels/optim.ts; the element updates run in wasm on the listed slots only. Slots must be distinct
  // (they are: Param.touched lists each slot once).
  function sgdUpdate(w: Float32Array, g: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array,
    count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, mu: number,
    clearGrad = false): void {
    if (count <= 0) return;
    const n = Math.min(count * slotSize, Math.max(slotSize, UPDATE_FLOATS));
    A.reset();
    const sets = [0, 1].map(() => [A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n)]), pl = A.alloc(8 * count);
    A.commit();
    slotScalars(pl, count, (q) => slots[q], steps, decayScale, weightDecay, null);
    if (slotSize <= 0) return;
    const clear = clearGrad && inPlace(g) ? 1 : 0;
    updateSlots(slots, count, slotSize, [w, v, g], 2, sets, (q, c, size, [pw, pv, pg]) => updateParts(c, size).map(([t, e, nt, n]) => {
      const o = 4 * (t * size + e);
      return [OP_SGD, -1, pw + o, pg + o, pv + o, n, nt, pl + 8 * (q + t), lr, mu, clear];
    }));
    if (clearGrad && !clear) clearSlots(g, slots, count, slotSize);
  }

  function adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, slotSize: number,
    slots: Int32Array, count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number,
    b1: number, b2: number, eps: number, clearGrad = false): void {
    if (count <= 0) return;
    const n = Math.min(count * slotSize, Math.max(slotSize, UPDATE_FLOATS));
    A.reset();
    const sets = [0, 1].map(() => [A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n)]), pc = A.alloc(24 * count);
    A.commit();
    slotScalars(pc, count, (q) => slots[q], steps, decayScale, weightDecay, [b1, b2]);
    if (slotSize <= 0) return;
    const clear = clearGrad && inPlace(g) ? 1 : 0;
    updateSlots(slots, count, slotSize, [w, m, v, g], 3, sets, (q, c, size, [pw, pm, pv, pg]) => updateParts(c, size).map(([t, e, nt, n]) => {
      const o = 4 * (t * size + e);
      return [OP_ADAM, -1, pw + o, pg + o, pm + o, pv + o, n, nt, pc + 24 * (q + t), lr, b1, b2, eps, clear];
    }));
    if (clearGrad && !clear) clearSlots(g, slots, count, slotSize);
  }

  const checked = withArgumentChecks({
    name: 'wasm',
    floats, release,
    gemmStrided, gemmNT, gemmNN, gemmTN,
    groupedForward, groupedBackwardInput, groupedBackwardWeight,
    groupedBackwardWeightStep,
    pathWeightStep,
    routedForward: composeRoutedForward({ gatherRows, groupedForward, scatterRows }),
    packNodes, packedFloats,
    addRowVector, addArrays, addPaths, addColumnSums, rowDots, scaleRows,
    reluForward: (x, y, count) => unary(k.reluForward, x, y, count),
    reluBackward: (y, dy, dx, count) => binary(k.reluBackward, y, dy, dx, count),
    tanhForward: (x, y, count) => unary(k.tanhForward, x, y, count),
    tanhBackward: (y, dy, dx, count) => binary(k.tanhBackward, y, dy, dx, count),
    softmaxCrossEntropy,
    gatherRows, scatterRows,
    sgdUpdate, adamUpdate,
    // SIMD128 without FMA: a node of 8 rows saves more in products than its tables cost (path-sums.ts, collapseFrom)
    collapseRows: 8,
  });
  return Object.assign(checked, {
    setThreads(n: number): number {
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new TreegateError(`treegate wasm backend: threads must be a whole number ≥ 1, got ${shown(n)}`, 'pass 1 for one thread');
      }
      return team ? team.setThreads(n) : 1;
    },
    info: () => ({ threads: threadsNow(), maxThreads: team?.maxThreads ?? 1, memoryBytes: k.memory.buffer.byteLength, memoryLimit: maxBytes,
      workerParts: team?.workerParts ?? 0, workersUp: team?.workersUp ?? 0, nodeSteps, pathSteps }),
    close: () => team?.close(),
    whenStarted: (timeoutMs = 10_000) => (team ? team.whenStarted(timeoutMs) : Promise.resolve()),
  });
}

/** Compiles wasm bytes synchronously (fine in Node and workers; browsers limit sync compiles to small modules). */
export function compileWasmSync(bytes: Uint8Array | ArrayBuffer): object {
  checkMagic(bytes, null);
  try {
    return new (wasmApi().Module)(bytes);
  } catch (e) {
    throw e instanceof TreegateError ? e : policyError(e) ?? notOurs(`it does not compile (${(e as Error).message})`);
  }
}

/**
 * Bytes that are not WebAssembly at all are named by what they start with: an HTML page where the module should be
 * is what a dev server or a single-page app's fallback serves for a missing file, not a stale build.
 */
function checkMagic(bytes: Uint8Array | ArrayBuffer, response: Response | null): void {
  // (a view by isView, not instanceof: an ArrayBuffer of another realm, a worker's or an iframe's, is no view)
  const head = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, Math.min(4, bytes.byteLength))
    : new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  if (head.length === 4 && head[0] === 0 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d) return;
  const text = Array.from(head, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('');
  const type = response?.headers?.get('content-type');
  const from = response?.url ? ` from ${response.url}` : '';
  const html = /^\s*</.test(text) || /html/i.test(type ?? '');
  throw new TreegateError(`treegate wasm backend: the module given${from} is not WebAssembly: ` +
    `${head.length === 0 ? 'it is empty' : `it starts with ${JSON.stringify(text)}, not "\\0asm"`}${type ? `, served as ${type}` : ''}` +
    `${html ? ' (an HTML page: a server answers so for a file it does not have)' : ''}`,
  'serve wasm/treegate.wasm or wasm/treegate-threads.wasm (the package\'s treegate/treegate.wasm and treegate/treegate-threads.wasm) at that URL, ' +
    "e.g. copied next to the page or in a bundler's public folder, or pass the module's bytes");
}

/**
 * A page whose Content-Security-Policy allows no WebAssembly: the module is fine, the page is not. Browsers refuse
 * at compile time (Chromium: "… violates the following Content Security Policy directive … 'wasm-unsafe-eval'",
 * earlier "Wasm code generation disallowed by embedder"; Firefox: "… blocked by CSP") or when instantiating.
 */
function policyError(e: unknown): TreegateError | null {
  const message = (e as Error)?.message ?? String(e);
  if (!/Content Security Policy|unsafe-eval|\bCSP\b|disallowed by embedder/i.test(message)) return null;
  return new TreegateError(`treegate wasm backend: the page's Content-Security-Policy forbids compiling WebAssembly (${message})`,
    "add 'wasm-unsafe-eval' to its script-src (and blob: to its worker-src, for the web workers of treegate-threads.wasm)");
}

/** The error for bytes or a module that are not treegate's kernels: why, and which files are. */
function notOurs(why: string): TreegateError {
  return new TreegateError(`treegate wasm backend: the module given is not treegate's kernels: ${why}`,
    "pass the bytes (or a Response) of wasm/treegate.wasm or wasm/treegate-threads.wasm, the package's treegate/treegate.wasm " +
    'and treegate/treegate-threads.wasm (a stale build of them in treegate\'s repository: npm run build:wasm)');
}

/**
 * Builds the backend from a fetch Response, or the module's bytes, asynchronously:
 * the path for browsers and bundlers (no file system access). With treegate-threads.wasm and a `host` that
 * starts workers (browser.ts makes one in a cross-origin isolated page), its kernels run on threads.
 */
export async function loadWasmBackendAsync(source: Response | PromiseLike<Response> | ArrayBuffer | Uint8Array, options: WasmOptions = {},
  host: ThreadHost | null = null): Promise<WasmBackend> {
  checkWasmOptions(options); // a bad option fails before the response is read
  if (source && typeof (source as PromiseLike<Response>).then === 'function') {
    // fetch(url) as it is, not awaited
    try {
      source = await source;
    } catch (e) {
      throw new TreegateError(`treegate wasm backend: fetching the module failed (${(e as Error).message})`,
        "check that the URL serves wasm/treegate.wasm or wasm/treegate-threads.wasm (the package's treegate/…)");
    }
  }
  let bytes: ArrayBuffer | Uint8Array;
  // bytes by their tag, not instanceof: an ArrayBuffer of another realm (an iframe's, a worker's) is bytes too
  if (ArrayBuffer.isView(source) || Object.prototype.toString.call(source) === '[object ArrayBuffer]') {
    bytes = source as ArrayBuffer | Uint8Array;
    checkMagic(bytes, null);
  } else if (source && typeof (source as Response).arrayBuffer === 'function') {
    const r = source as Response;
    if (r.ok === false) {
      // the file asked for: the threads module, or the one-thread module
      const file = r.url && /treegate-threads\.wasm(\?|#|$)/.test(r.url) ? 'treegate-threads.wasm' : 'treegate.wasm';
      throw new TreegateError(`treegate wasm backend: fetching the module${r.url ? ` from ${r.url}` : ''} failed (HTTP ${r.status})`,
        `serve wasm/${file} (the package's treegate/${file}) at that URL, or pass its bytes`);
    }
    bytes = await r.arrayBuffer();
    checkMagic(bytes, r);
  } else {
    throw new TreegateError(`treegate wasm backend: expected the module as a Response, an ArrayBuffer or a Uint8Array, got ${shown(source)}`,
      "pass fetch(url) of wasm/treegate.wasm, or its bytes");
  }
  let module: object;
  try {
    module = await wasmApi().compile(bytes);
  } catch (e) {
    throw policyError(e) ?? notOurs(`it does not compile (${(e as Error).message})`);
  }
  return createWasmBackend(module, options, host);
}
