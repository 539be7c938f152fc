/**
 * The `wasm` backend: WebAssembly SIMD128 kernels compiled from assembly/ by
 * scripts/build-wasm.mjs. This module has no Node-only imports (browsers and
 * bundlers can use it directly); src/kernels/wasm/index.ts adds the Node loader. This file instantiates the module,
 * schedules jobs on the worker team, keeps arrays in the module's memory and assembles the backend from its groups of
 * kernels, each made from one WasmContext (module.ts): products.ts, optim.ts, elementwise.ts.
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
 * Nodes of tables passed with `packed` that are not in place (inference tables of a model made on another
 * backend, which stay fixed between packNodes calls) are copied once into a resident slab between the heap
 * and the arena and read in place afterwards. packNodes
 * empties the slab (a layer is rebuilding its tables, so copies made so far may be stale), and so do nodes
 * that would not fit in `residentBytes` with the heap; nodes that cannot be resident (more than that in
 * one call, or the memory cannot grow) are copied per call. Collapsed inference at N = 256 against copying
 * every call, in one process: 1.04–1.12× at k = 2–5, 0.99–1.08× at k = 6–8 (development script, two runs
 * of 30 rounds; nodes of 8 rows and more).
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
import { composeRoutedForward, packedFloats, packNodes as plainPackNodes, type PackNodes } from '../grouped.js';
import { elementwiseOps } from './elementwise.js';
import { Heap } from './heap.js';
import {
  Arena, ARENA_RESERVE, KERNEL_NAMES, MAX_BYTES, mib, PAGE, PART_NS, SHARED_MAXIMA, SMALL_M, UPDATE_NS, wasmApi, WHOLE_NODES,
  type Block, type Kernels, type WasmContext, type WasmInstance, type WasmMemory,
} from './module.js';
import { optimizerOps } from './optim.js';
import { productOps } from './products.js';
import { callPart, CONTROL_BYTES, MAX_PARTS, Team, type Scratch, type ThreadHost } from './threads.js';

export { mib } from './module.js';

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
   * Its threads now and at most, whether its memory is shared (treegate-threads.wasm: threads can run on it where
   * the page or process can start them), the bytes of its module's memory (which never shrinks) and the most it may grow to
   * (wasm32's 4 GiB, or less where a browser refused a shared memory that large), the kernel calls its
   * worker threads have run so far (0 on one thread: whether the workers do anything), the workers up now, and the
   * nodes whose fused optimizer step one thread has made whole so far (nodeStep; whether that path runs), and the
   * pathWeightStep calls its kernel has run (pathStep; the others were composed).
   */
  info(): { threads: number; maxThreads: number; sharedMemory: boolean; memoryBytes: number; memoryLimit: number; workerParts: number; workersUp: number; nodeSteps: number; pathSteps: number };
  /**
   * Stops the worker threads this backend started (they hold its module instances and its memory). The backend
   * keeps working: a later call that splits its work starts new ones, unless setThreads(1) came first. A backend
   * dropped without it has its workers stopped once it is collected.
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
  // by its tag, not instanceof: a module compiled in another realm (an iframe, a worker) is one too
  if (Object.prototype.toString.call(module) !== '[object WebAssembly.Module]') {
    throw new TreegateError(`createWasmBackend takes a compiled WebAssembly.Module, got ${shown(module)}`,
      'compile the bytes first (new WebAssembly.Module(bytes) or await WebAssembly.compile(bytes)), or pass them to loadWasmBackend or loadWasmBackendAsync');
  }
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
        : 'serve the page cross-origin isolated (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp; over https or from localhost), or load treegate.wasm (one thread)');
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
  const counts = { nodeSteps: 0, pathSteps: 0 }; // info(): nodes whose fused step one thread made whole, pathWeightStep calls its kernel made

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

  const context: WasmContext = {
    k, A, team, threadsNow, scratchFor, run, pipeline, parts, widest, nodeJobs, updateParts, inPlace, addr, residentNodes, counts,
  };
  const ew = elementwiseOps(context), opt = optimizerOps(context), products = productOps(context, ew, opt);
  const { addRowVector, addArrays, addPaths, addColumnSums, rowDots, scaleRows, unary, binary, softmaxCrossEntropy, gatherRows, scatterRows } = ew;
  const { sgdUpdate, adamUpdate } = opt;
  const { gemmStrided, gemmNT, gemmNN, gemmTN, groupedForward, groupedBackwardInput, groupedBackwardWeight, groupedBackwardWeightStep, pathWeightStep } = products;
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
  const backend = Object.assign(checked, {
    setThreads(n: number): number {
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new TreegateError(`treegate wasm backend: threads must be a whole number ≥ 1, got ${shown(n)}`, 'pass 1 for one thread');
      }
      return team ? team.setThreads(n) : 1;
    },
    info: () => ({ threads: threadsNow(), maxThreads: team?.maxThreads ?? 1, sharedMemory: shared, memoryBytes: k.memory.buffer.byteLength, memoryLimit: maxBytes,
      workerParts: team?.workerParts ?? 0, workersUp: team?.workersUp ?? 0, ...counts }),
    close: () => team?.close(),
    whenStarted: (timeoutMs = 10_000) => (team ? team.whenStarted(timeoutMs) : Promise.resolve()),
  });
  if (team) dropped?.register(backend, team);
  return backend;
}

/**
 * Closes the workers of a backend collected without close() (one replaced by another of its name and dropped, or a
 * service's loadWasmBackend() per model): they would hold its module instances and its memory for the life of the
 * process. The team holds nothing of the backend, so the backend can be collected while its workers run.
 */
const dropped = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<Team>((team) => team.close()) : null;

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
  'serve wasm/treegate.wasm or wasm/treegate-threads.wasm, the package\'s treegate/treegate.wasm and treegate/treegate-threads.wasm, at that URL, ' +
    `e.g. copied next to the page or in a bundler's public folder, or pass the module's bytes${unresolved(response?.url)}`);
}

/**
 * For a URL that ends in treegate/treegate.wasm (or -threads): the package's name as the code wrote it, which a
 * bundler that rewrites new URL('treegate/…', import.meta.url) (Vite, webpack) turns into the file's URL and one that
 * does not (esbuild) leaves as a path of the page's server.
 */
function unresolved(url: string | undefined): string {
  return url && /\/treegate\/treegate(-threads)?\.wasm([?#]|$)/.test(new URL(url, 'http://x/').pathname)
    ? "; the URL is the package's name as written: a bundler that does not rewrite new URL('treegate/…', import.meta.url) " +
      '(esbuild) left it so: copy the file next to the page and pass its URL'
    : '';
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
    // (any view as its bytes: a DataView or another typed array passed the check and failed to compile)
    bytes = ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : source as ArrayBuffer;
    checkMagic(bytes, null);
  } else if (source && typeof (source as Response).arrayBuffer === 'function') {
    const r = source as Response;
    if (typeof (r as unknown as { ok?: unknown }).ok !== 'boolean') {
      // a Request has a body to read too, and its arrayBuffer() gave an empty module
      throw new TreegateError(`treegate wasm backend: expected the module as a Response, got ${shown(source)} (a Request?)`, 'pass fetch(request), or the bytes');
    }
    if (r.bodyUsed) throw new TreegateError('treegate wasm backend: the Response\'s body was read already', 'pass a new one: fetch the module again for each call');
    if (r.ok === false) {
      // the file asked for: the threads module, or the one-thread module
      const file = r.url && /treegate-threads\.wasm(\?|#|$)/.test(r.url) ? 'treegate-threads.wasm' : 'treegate.wasm';
      throw new TreegateError(`treegate wasm backend: fetching the module${r.url ? ` from ${r.url}` : ''} failed (HTTP ${r.status})`,
        `serve wasm/${file}, the package's treegate/${file}, at that URL, or pass its bytes${unresolved(r.url)}`);
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
