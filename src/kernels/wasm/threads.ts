/**
 * Worker threads for the `wasm` backend: a team of threads running a job's kernel calls at once on a shared
 * WebAssembly memory (wasm/treegate-threads.wasm imports it). No Node-only imports here: the host that starts
 * the workers is passed in (src/kernels/wasm/index.ts: node:worker_threads; src/browser.ts: web workers).
 *
 * A job is a list of kernel calls (its parts), each a row: the kernel's index, the argument that takes scratch
 * memory (-1: none), then the arguments. The calling thread writes the rows to a
 * control block at the bottom of the heap, bumps the job's generation, wakes the workers, and claims parts
 * itself like any worker: every thread takes the next unclaimed part (a compare-and-swap on one word holding
 * the generation and the next part) until none is left, then the caller waits until all parts are done. So the
 * caller never waits for a worker that has not claimed anything: a worker still starting, asleep, or slow to
 * wake costs parallelism, not progress, and a job finishes on the calling thread alone if it must. A worker
 * catches what a part throws and counts the part done with an error flag, which the caller turns into an Error.
 *
 * Which thread runs which part changes from run to run; the results do not, since a job's split into parts
 * depends only on its shapes and the thread count, and parts write disjoint outputs. A part that needs scratch
 * memory names the argument: each thread passes its own slice of the job's scratch there.
 */

/** Slots per part: the kernel, its scratch argument, up to 14 arguments. */
export const ARGS = 16;
/** Parts per job at most. */
export const MAX_PARTS = 256;
/** Bytes of the control block (header, then MAX_PARTS rows of ARGS float64s). */
export const CONTROL_BYTES = 64 + 8 * ARGS * MAX_PARTS;
/** Threads at most (the caller and 63 workers). */
const MAX_THREADS = 64;

// Int32 words of the control block
const NEXT = 0; // (generation << PART_BITS) | next unclaimed part (WRITING while a job is being written)
const DONE = 1; // parts finished in this generation
const PARTS = 2;
const FAILED = 3; // the op of a part that threw, plus 1 (0: none)
const SCRATCH_LO = 4; // scratch base address (bytes), low and high 16 bits (the memory is under 4 GiB)
const SCRATCH_HI = 5;
const SCRATCH_EACH = 6; // scratch bytes per thread / 64
const EPOCH = 7; // workers started in another epoch stop (close())
const WORKED = 8; // parts the workers have run, in all (info(): whether the threads do anything)
const READY = 9; // workers of this epoch that are up (their module instantiated): whenStarted()
/** Bits of NEXT for the part; the rest (21 bits) count jobs, so a stale compare-and-swap needs 2^21 jobs to pass. */
const PART_BITS = 10;
const PART_MASK = (1 << PART_BITS) - 1;
/** The part field while a job is written: above every part count, so nothing is claimed. */
const WRITING = PART_MASK;
const GENERATIONS = 1 << (31 - PART_BITS);
/**
 * A job whose claimed parts have not moved for this long is reported, and its team runs every later job on the
 * calling thread (a part still running there could otherwise count itself done in a later job). A part is one
 * kernel call on a share of one product: ten minutes would be a share of some 20 TFLOP at wasm's rates.
 */
const STALL_MS = 600_000;

/** Scratch memory of a job: `bytes` for each thread that may run a part, from byte address `at`. */
export interface Scratch { at: number; bytes: number }

/** What the host needs to start a worker: it runs workerSource() with these as its data. */
export interface WorkerData {
  module: object;
  memory: object;
  control: number;
  names: readonly string[];
  tid: number;
  /** The team's epoch when the worker started: it stops when the team's epoch moves on (close()). */
  epoch: number;
}

/** Starts workers (Node's loader: node:worker_threads, unref'd so that they never keep a process alive; a page's: web workers). */
export interface ThreadHost {
  /** Threads this machine runs at once for this process (the caller included): Node's usableCores(), a page's hardwareConcurrency. */
  readonly cores: number;
  start(data: WorkerData): void;
  /** Why a worker could not start (a page's Content-Security-Policy refusing it), or null: whenStarted stops waiting. */
  failure?(): string | null;
}

/**
 * A worker's program, as source defining `run(data: WorkerData)`: instantiate the module on the shared memory,
 * then claim parts of every job posted, until the team's epoch moves on (close()). Spins for up to `spinMs` after
 * a job before sleeping, since the next job usually follows within microseconds (a block of a streamed product).
 * The host appends the call: Node's `run(require('node:worker_threads').workerData)` (src/kernels/wasm/index.ts),
 * a browser's run on the first message (src/browser.ts).
 */
export function workerSource(spinMs = 1): string {
  return `'use strict';
function run({ module, memory, control, names, tid, epoch }) {
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = names.map((n) => ex[n]);
  const I = new Int32Array(memory.buffer, control, 16);
  const F = new Float64Array(memory.buffer, control + 64, ${ARGS * MAX_PARTS});
  if (Atomics.load(I, ${EPOCH}) === epoch) Atomics.add(I, ${READY}, 1);
  // a job is new when its generation differs from the last one this worker claimed in, and it is written
  const fresh = (c, seen) => (c >>> ${PART_BITS}) !== seen && (c & ${PART_MASK}) !== ${WRITING};
  let seen = -1; // the job being posted when this worker started is one to help with too
  while (Atomics.load(I, ${EPOCH}) === epoch) {
    let c = Atomics.load(I, ${NEXT});
    if (!fresh(c, seen)) {
      const until = performance.now() + ${spinMs};
      while (!fresh(c = Atomics.load(I, ${NEXT}), seen) && performance.now() < until) {}
      if (!fresh(c, seen)) {
        // close() moves the epoch before it stores its word and notifies: a worker that read that word sees it
        if (Atomics.load(I, ${EPOCH}) !== epoch) break;
        Atomics.wait(I, ${NEXT}, c); // until the word changes: a post notifies, and close()
        continue;
      }
    }
    const gen = c >>> ${PART_BITS};
    seen = gen;
    for (;;) {
      c = Atomics.load(I, ${NEXT});
      // a job posted after close() is not this worker's (close() moves the epoch before that job's word is stored)
      if ((c >>> ${PART_BITS}) !== gen || Atomics.load(I, ${EPOCH}) !== epoch) break;
      const p = c & ${PART_MASK}, parts = Atomics.load(I, ${PARTS});
      if (p >= parts) break;
      if (Atomics.compareExchange(I, ${NEXT}, c, c + 1) !== c) continue;
      // everything after the claim inside the try: a part that fails anywhere still counts done, or its caller would wait
      const o = p * ${ARGS}, op = F[o];
      try {
        const fn = fns[op], sa = F[o + 1], n = fn.length, a = new Array(n);
        for (let i = 0; i < n; i++) a[i] = F[o + 2 + i];
        if (sa >= 0) a[sa] = Atomics.load(I, ${SCRATCH_LO}) + Atomics.load(I, ${SCRATCH_HI}) * 65536 + tid * Atomics.load(I, ${SCRATCH_EACH}) * 64;
        fn.apply(null, a);
      } catch (e) { Atomics.store(I, ${FAILED}, op + 1); }
      Atomics.add(I, ${WORKED}, 1);
      if (Atomics.add(I, ${DONE}, 1) + 1 === parts) Atomics.notify(I, ${DONE});
    }
  }
}
`;
}

/** One part ([kernel, scratch argument or -1, arguments …]) on this thread, its scratch argument set to `scratch`. */
export function callPart(fns: ReadonlyArray<(...a: number[]) => void>, r: number[], scratch: number): void {
  const args = r.slice(2);
  if (r[1] >= 0) args[r[1]] = scratch;
  fns[r[0]](...args);
}

/** The calling thread's side of the team. */
export class Team {
  private readonly I: Int32Array;
  private readonly F: Float64Array;
  private readonly fns: Array<(...a: number[]) => void>;
  private gen = 0;
  private started = 0;
  private wanted: number;
  private pending: { rows: number[][]; scratch: Scratch | null; posted: boolean } | null = null;
  /** A job stalled: no more jobs are posted (a stalled part may still count itself done). */
  private broken = false;
  private epoch = 0;
  private readonly canBlock: boolean;

  /**
   * `control`: CONTROL_BYTES at this byte address of `memory` (which must be shared) that nothing else uses;
   * `fns`: the calling thread's kernel exports, in the order of `names`.
   */
  constructor(private readonly memory: { buffer: ArrayBufferLike }, private readonly control: number,
    private readonly module: object, private readonly names: readonly string[],
    fns: Array<(...a: number[]) => void>, private readonly host: ThreadHost, threads: number) {
    this.I = new Int32Array(memory.buffer, control, 16);
    this.F = new Float64Array(memory.buffer, control + 64, ARGS * MAX_PARTS);
    this.fns = fns;
    this.wanted = Math.min(threads, this.maxThreads);
    // a browser's main thread may not block in Atomics.wait: it spins instead (a job's wait is short)
    try {
      Atomics.wait(this.I, DONE, -1, 0);
      this.canBlock = true;
    } catch {
      this.canBlock = false;
    }
  }

  /** Parts the workers have run since the team began (the calling thread's are not counted). */
  get workerParts(): number {
    return Atomics.load(this.I, WORKED);
  }

  /** Workers up now (their module instantiated, waiting for parts). */
  get workersUp(): number {
    return Atomics.load(this.I, READY);
  }

  /** Threads jobs are split for now (1: every kernel runs on the calling thread). */
  get threads(): number {
    return this.wanted;
  }

  /** The most threads setThreads gives: the host's cores, at most MAX_THREADS. */
  get maxThreads(): number {
    return Math.max(1, Math.min(MAX_THREADS, Math.floor(this.host.cores)));
  }

  /** Sets the threads jobs are split for, capped at maxThreads; returns the count set. */
  setThreads(n: number): number {
    this.wanted = Math.max(1, Math.min(n, this.maxThreads));
    return this.wanted;
  }

  /** Threads that may run a part (so many scratch slices a job needs): the workers started and the caller. */
  get slots(): number {
    return Math.max(this.started, this.wanted - 1) + 1;
  }

  /** Runs the parts (rows [kernel index, scratch argument or -1, arguments …]) on the team: post, then wait. */
  run(rows: number[][], scratch: Scratch | null = null): void {
    if (rows.length === 1 || this.wanted <= 1) {
      for (const r of rows) this.call(r, scratch ? scratch.at : 0);
      return;
    }
    this.post(rows, scratch);
    this.wait();
  }

  /**
   * Posts a job to the workers and returns at once: the calling thread can copy the next block meanwhile, and
   * must call wait() before it posts again or touches what the parts write. With `scratch`, each part's scratch
   * argument is the running thread's slice: scratch.at + slot · scratch.bytes (a 64-byte multiple; `slots`
   * slices must be there). On one thread the parts wait for wait().
   */
  post(rows: number[][], scratch: Scratch | null = null): void {
    if (this.pending) throw new Error('treegate wasm backend: a job was posted before the last one was waited for');
    if (rows.length === 0) return;
    if (rows.length > MAX_PARTS) throw new Error(`treegate wasm backend: a job of ${rows.length} parts (at most ${MAX_PARTS})`);
    for (const r of rows) if (r.length > ARGS) throw new Error(`treegate wasm backend: a part of ${r.length} numbers (at most ${ARGS})`);
    if (scratch && scratch.bytes % 64 !== 0) throw new Error('treegate wasm backend: scratch slices must be 64-byte multiples');
    if (this.wanted <= 1 || this.broken) {
      this.pending = { rows, scratch, posted: false };
      return;
    }
    this.startWorkers();
    const I = this.I, F = this.F;
    this.gen = (this.gen + 1) % GENERATIONS;
    // a new generation with nothing to claim while the job is written: a worker that read the last job's word
    // fails its compare-and-swap, one that reads this one finds no part
    Atomics.store(I, NEXT, (this.gen << PART_BITS) | WRITING);
    for (let p = 0; p < rows.length; p++) {
      const r = rows[p];
      for (let i = 0; i < r.length; i++) F[p * ARGS + i] = r[i];
    }
    Atomics.store(I, PARTS, rows.length);
    Atomics.store(I, DONE, 0);
    Atomics.store(I, FAILED, 0);
    if (scratch) {
      Atomics.store(I, SCRATCH_LO, scratch.at % 65536);
      Atomics.store(I, SCRATCH_HI, Math.floor(scratch.at / 65536));
      Atomics.store(I, SCRATCH_EACH, scratch.bytes / 64);
    }
    this.pending = { rows, scratch, posted: true };
    Atomics.store(I, NEXT, this.gen << PART_BITS);
    Atomics.notify(I, NEXT);
  }

  /**
   * Finishes the posted job (if any): claims the parts no worker has taken, as the workers do (this thread is
   * slot 0), then waits for the rest. A part that throws still counts as done, and the error waits until every
   * part is, so that no worker is still writing when the caller goes on.
   */
  wait(): void {
    const job = this.pending;
    if (!job) return;
    this.pending = null;
    const { rows, scratch } = job;
    if (!job.posted) {
      for (const r of rows) this.call(r, scratch ? scratch.at : 0);
      return;
    }
    const I = this.I;
    let error: unknown = null;
    for (;;) {
      const c = Atomics.load(I, NEXT);
      const p = c & PART_MASK;
      if (p >= rows.length) break;
      if (Atomics.compareExchange(I, NEXT, c, c + 1) !== c) continue;
      try {
        this.call(rows[p], scratch ? scratch.at : 0);
      } catch (e) {
        error ??= e;
      }
      if (Atomics.add(I, DONE, 1) + 1 === rows.length) Atomics.notify(I, DONE);
    }
    // the parts the workers claimed (they count every part done, even one that throws)
    let seen = -1, since = Date.now();
    for (let spins = 0; ; spins++) {
      const d = Atomics.load(I, DONE);
      if (d >= rows.length) break;
      if (d !== seen) {
        seen = d;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        this.broken = true;
        throw new Error(`treegate wasm backend: a worker thread made no progress for ${STALL_MS / 1000} s; ` +
          'this backend runs on the calling thread alone from now on');
      }
      if (spins > 2000 && this.canBlock) Atomics.wait(I, DONE, d, 100);
    }
    if (error) throw error;
    const failed = Atomics.load(I, FAILED);
    if (failed) throw new Error(`treegate wasm backend: ${this.names[failed - 1]} failed on a worker thread`);
  }

  private call(r: number[], scratch: number): void {
    callPart(this.fns, r, scratch);
  }

  /**
   * Stops the workers (they finish what they have claimed and leave, releasing their instances; the memory goes
   * when the backend does). Later jobs start new workers if the thread count is above 1.
   */
  close(): void {
    this.wait();
    this.epoch++;
    Atomics.store(this.I, EPOCH, this.epoch);
    // a new word, so that a worker about to sleep on the last one returns at once; nothing to claim in it
    this.gen = (this.gen + 1) % GENERATIONS;
    Atomics.store(this.I, NEXT, (this.gen << PART_BITS) | WRITING);
    Atomics.notify(this.I, NEXT);
    Atomics.store(this.I, READY, 0);
    this.started = 0;
  }

  /**
   * Starts the workers for the thread count and resolves once they are up, or after `timeoutMs` (a worker still
   * starting then only leaves its parts to the others). A page needs it: its web workers start only once the page
   * yields, so a long synchronous call right after the backend was made would run on the page's thread alone.
   */
  async whenStarted(timeoutMs: number): Promise<void> {
    this.startWorkers();
    const until = Date.now() + timeoutMs;
    while (Atomics.load(this.I, READY) < this.started && Date.now() < until && !this.host.failure?.()) await new Promise((ok) => setTimeout(ok, 2));
  }

  /** Starts workers up to the thread count (they claim parts as soon as they are up; nobody waits for them). */
  private startWorkers(): void {
    while (this.started < this.wanted - 1) {
      this.started++;
      this.host.start({ module: this.module, memory: this.memory, control: this.control, names: this.names, tid: this.started,
        epoch: this.epoch });
    }
  }
}
