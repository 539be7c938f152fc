/**
 * The `wasm` backend on worker threads (wasm/treegate-threads.wasm, a shared memory; src/kernels/wasm/threads.ts):
 * every kernel gives the same bits on 1, 2, 3 and 4 threads over shapes that split (odd sizes, few rows, K past
 * the depth block, nodes of every depth sharing rows), a stress test of the handshake (thousands of jobs, thread
 * counts changing between them, pauses that let the workers fall asleep), a team whose workers never start (the
 * calling thread does every part), a part that fails, and the options' checks; the worker program's steps one by one
 * (workers help with the job posted as they start, a worker reading a job's word while it is written, a closed team's
 * workers neither counted up nor claiming, a worker's scratch slice, the caller woken by the last part, a caller that
 * may not block).
 *
 * A host claiming 4 cores runs 4 threads on this 2-core machine: more threads than cores, so the workers are
 * preempted mid-job, which is what the handshake must survive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { compileWasmSync, createWasmBackend, type WasmBackend } from '../../src/kernels/wasm/core.js';
import { DEFAULT_WASM_THREADS_URL, loadWasmBackend, nodeThreadHost } from '../../src/kernels/wasm/index.js';
import { ARGS, CONTROL_BYTES, MAX_PARTS, Team, workerSource, type ThreadHost } from '../../src/kernels/wasm/threads.js';
import { registerBackend, setBackend } from '../../src/kernels/backend.js';
import { TreegateError } from '../../src/core/errors.js';
import { Routing } from '../../src/kernels/routing.js';
import { assertBitEqual, randomArray, Rng, route, trainSmallModel, wasmTreeShapes } from '../helpers.js';

const module = compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL)));
const fourCores: ThreadHost = { cores: 4, start: nodeThreadHost.start };
const be: WasmBackend = createWasmBackend(module, { threads: 4 }, fourCores);
const COUNTS = [1, 2, 3, 4];

/** out(be) on each thread count, compared bit for bit with one thread's. */
function sameOnEveryCount(what: string, out: () => Float32Array[]): void {
  be.setThreads(1);
  const ref = out();
  for (const n of COUNTS.slice(1)) {
    assert.equal(be.setThreads(n), n);
    const got = out();
    got.forEach((g, i) => assertBitEqual(g, ref[i], `${what}, ${n} threads, output ${i}`));
  }
  be.setThreads(4);
}

test('wasm threads: the loader takes the shared-memory module and every core; threads are an option, checked', () => {
  const wasm = loadWasmBackend();
  assert.equal(wasm.info().maxThreads, Math.min(64, nodeThreadHost.cores));
  assert.equal(wasm.info().threads, wasm.info().maxThreads);
  assert.equal(loadWasmBackend(undefined, { threads: 1 }).info().threads, 1);
  assert.equal(wasm.setThreads(1000), wasm.info().maxThreads);
  for (const bad of [0, -1, 1.5, Number.NaN, '2' as unknown as number]) {
    assert.throws(() => loadWasmBackend(undefined, { threads: bad }), /threads must be a whole number ≥ 1/);
    assert.throws(() => wasm.setThreads(bad), /threads must be a whole number ≥ 1/);
  }
  // the plain module has its own memory: one thread, whatever the option says
  const plain = loadWasmBackend(new Uint8Array(readFileSync(new URL('../../wasm/treegate.wasm', import.meta.url))), { threads: 4 });
  assert.deepEqual([plain.info().threads, plain.info().maxThreads], [1, 1]);
  assert.equal(plain.setThreads(2), 1);
});

test('wasm threads: where a browser refuses a 4 GiB shared memory, a smaller one is made (same bits, calls past it named); refused all, the cause is named', (t) => {
  const api = WebAssembly as unknown as { Memory: unknown }, Memory = api.Memory;
  const g = globalThis as { crossOriginIsolated?: boolean };
  t.after(() => {
    api.Memory = Memory;
    delete g.crossOriginIsolated;
  });
  /** a browser that makes shared memories of at most `pages` pages, as iOS Safari refuses 2 GiB */
  const browserAllowing = (pages: number): void => {
    api.Memory = function refusing(d: { maximum?: number; shared?: boolean }) {
      if (d.shared && (d.maximum ?? 0) > pages) throw new RangeError('Out of memory');
      return new (Memory as new (d: object) => object)(d);
    };
  };
  g.crossOriginIsolated = true;
  browserAllowing(16384);
  const small = createWasmBackend(module, { threads: 2 }, nodeThreadHost);
  assert.equal(small.info().memoryLimit, 2 ** 30, 'a 1 GiB memory');
  api.Memory = Memory;
  const trained = (b: WasmBackend): { params: Float32Array[]; logits: Float32Array } => {
    registerBackend(b);
    setBackend('wasm');
    try {
      return trainSmallModel();
    } finally {
      setBackend('js');
    }
  };
  const got = trained(small), ref = trained(be);
  ref.params.forEach((w, i) => assertBitEqual(got.params[i], w, `parameter ${i}`));
  assertBitEqual(got.logits, ref.logits, 'logits');
  assert.equal(be.info().memoryLimit, 2 ** 32, 'Node gives 4 GiB');
  small.close();
  // a call whose operands do not fit in the smaller memory is an error that says so
  browserAllowing(4096);
  const tiny = createWasmBackend(module, {}, null);
  api.Memory = Memory;
  const K = 70 * 2 ** 20, a = new Float32Array(K), c = new Float32Array(1);
  assert.throws(() => tiny.gemmNT(1, 1, K, a, 0, a, 0, c, 0, false),
    /a call needs \d+ bytes of linear memory, more than the 256 MiB its memory may hold \(this browser refused more\)/);
  // resident copies of packed tables stop short of the calls' reserve: 56 leaves of 4 MiB would fill the 256 MiB, and
  // the call's 32 MiB of rows would not fit; they are copied per call instead, and give the same bits
  const s = 1024, m = 1024, leaves = 56, N = 4096, rt = new Routing();
  rt.leaf = Int32Array.from({ length: N }, (_, i) => i % leaves);
  rt.sort(N, 6, true);
  const rng = new Rng(5103), w = randomArray(rng, leaves * m * s, 0.01), bias = randomArray(rng, leaves * m), xs = randomArray(rng, N * s);
  const [copied, packed] = [false, true].map((p) => {
    const y = new Float32Array(N * m);
    tiny.groupedForward(rt, xs, s, w, bias, m, y, p);
    return y;
  });
  assertBitEqual(packed, copied, 'packed tables in a 256 MiB memory');
  assert.ok(tiny.info().memoryBytes <= 2 ** 28);
  // refused at every size: an isolated page is told to load the one-thread module; a page not isolated, why
  browserAllowing(0);
  assert.throws(() => createWasmBackend(module), (e: Error) => e instanceof TreegateError &&
    /needs a shared memory, and this browser or device refuses one of 4 GiB down to 256 MiB \(Out of memory\)/.test(e.message) &&
    /load treegate\.wasm on this device \(one thread, no shared memory/.test((e as TreegateError).hint ?? ''));
  g.crossOriginIsolated = false;
  assert.throws(() => createWasmBackend(module), (e: Error) => e instanceof TreegateError &&
    /needs a shared memory, which a page that is not cross-origin isolated cannot make/.test(e.message) &&
    /serve the page cross-origin isolated/.test((e as TreegateError).hint ?? ''));
});

test('wasm threads: products give the same bits on 1–4 threads (NT, NN, TN, strided; few rows, odd sizes, K > 512)', () => {
  const rng = new Rng(71);
  for (const [M, N, K] of [[1, 1000, 700], [3, 777, 513], [7, 333, 1030], [9, 300, 530], [64, 200, 100], [130, 97, 515],
    [256, 512, 512], [5, 4096, 64], [200, 13, 900], [0, 50, 50], [40, 40, 0]]) {
    const a = randomArray(rng, M * K + 3), b = randomArray(rng, N * K + 5), c0 = randomArray(rng, M * N + 2);
    for (const acc of [false, true]) {
      sameOnEveryCount(`gemm M=${M} N=${N} K=${K} acc=${acc}`, () => {
        const [nt, nn, tn, st] = [c0.slice(), c0.slice(), c0.slice(), c0.slice()];
        be.gemmNT(M, N, K, a, 3, b, 5, nt, 2, acc);
        be.gemmNN(M, N, K, a, 3, b, 5, nn, 2, acc);
        be.gemmTN(M, N, K, a, 3, b, 5, tn, 2, acc);
        if (M > 0 && N > 0) be.gemmStrided(M, N - 1, K, a, 3, K, 1, b, 5, 1, K, st, 2, N, acc); // C's rows padded by one
        return [nt, nn, tn, st];
      });
    }
  }
});

test('wasm threads: each thread\'s scratch holds its own part, not the whole product (memory does not grow with threads)', () => {
  const rng = new Rng(77);
  const M = 16, N = 4096, K = 2048, a = randomArray(rng, M * K), b = randomArray(rng, K * N);
  const bytes = (threads: number): number => {
    const x = createWasmBackend(module, { threads }, fourCores);
    x.gemmNN(M, N, K, a, 0, b, 0, new Float32Array(M * N), 0, false); // B (32 MB) packed whole on one thread
    const m = x.info().memoryBytes;
    x.close();
    return m;
  };
  const one = bytes(1), four = bytes(4);
  assert.ok(four < 1.25 * one, `4 threads: ${four >> 20} MiB of module memory against ${one >> 20} MiB on one`);
});

test('wasm threads: the grouped products give the same bits on 1–4 threads (nodes of every depth share rows)', () => {
  const rng = new Rng(72);
  for (const { what, k, m, s, rt } of wasmTreeShapes(rng)) {
    const T = 2 ** (k + 1) - 1, N = rt.end[0] ?? 0;
    const xs = randomArray(rng, N * s), dys = randomArray(rng, N * m), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
    const y0 = randomArray(rng, N * m), dx0 = randomArray(rng, N * s), dw0 = randomArray(rng, T * m * s), db0 = randomArray(rng, T * m);
    sameOnEveryCount(`grouped ${what}`, () => {
      const [y, yp, dx, dw, db] = [y0.slice(), y0.slice(), dx0.slice(), dw0.slice(), db0.slice()];
      be.groupedForward(rt, xs, s, w, bias, m, y);
      be.groupedForward(rt, xs, s, be.packNodes(w, T, m, s), bias, m, yp, true); // resident: gemm and rowsNT in place
      be.groupedBackwardInput(rt, dys, m, w, s, dx);
      be.groupedBackwardWeight(rt, dys, m, xs, s, dw, db);
      return [y, yp, dx, dw, db];
    });
  }
});

test('wasm threads: collapsed inference of one example splits its leaf between threads, same bits', () => {
  const rng = new Rng(73);
  const k = 6, m = 512, s = 512, T = 2 ** (k + 1) - 1, w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
  const table = be.packNodes(w, T, m, s);
  for (let i = 0; i < 6; i++) {
    const rt = route([rng.int(2 ** k)], k), x = randomArray(rng, s);
    sameOnEveryCount(`one example, call ${i}`, () => {
      const y = new Float32Array(m);
      be.groupedForward(rt, x, s, table, bias, m, y, true);
      return [y];
    });
  }
});

test('wasm threads: Adam and SGD updates give the same bits on 1–4 threads (large slots, many small ones)', () => {
  const rng = new Rng(74);
  for (const [slotSize, T, count] of [[262144, 4, 3], [5003, 60, 41], [100, 1200, 1000], [17, 9, 9]]) {
    // `count` distinct slots in a random order
    const order = Array.from({ length: T }, (_, i) => i);
    for (let i = T - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const listed = Int32Array.from(order.slice(0, count));
    const w0 = randomArray(rng, T * slotSize), g0 = randomArray(rng, T * slotSize), m0 = randomArray(rng, T * slotSize, 0.1);
    const v0 = randomArray(rng, T * slotSize, 0.1).map(Math.abs), decay = Float32Array.from({ length: T }, (_, t) => 1 / (1 + t));
    sameOnEveryCount(`updates slot=${slotSize} count=${count}`, () => {
      const [w, g, m, v, ws, gs, ms] = [w0.slice(), g0.slice(), m0.slice(), v0.slice(), w0.slice(), g0.slice(), m0.slice()];
      const steps = new Int32Array(T), steps2 = new Int32Array(T);
      for (let step = 0; step < 2; step++) {
        be.adamUpdate(w, g, m, v, slotSize, listed, count, steps, decay, 0.01, 0.05, 0.9, 0.999, 1e-8, false);
        be.sgdUpdate(ws, gs, ms, slotSize, listed, count, steps2, decay, 0.01, 0.05, 0.8, false);
      }
      return [w, m, v, ws, ms];
    });
  }
});

test('wasm threads: the handshake holds over thousands of jobs, changing thread counts and pauses (no hang, same bits)', async () => {
  // the workers up first: a job made while they start runs its parts on the calling thread (no handshake tested)
  await be.whenStarted();
  assert.equal(be.info().workersUp, 3, 'the team of 4 has its 3 workers');
  const before = be.info().workerParts;
  const rng = new Rng(75);
  const M = 48, N = 160, K = 96; // 1.5 MFLOP: split into 2–4 parts of ~20 µs
  const a = randomArray(rng, M * K), b = randomArray(rng, N * K), ref = new Float32Array(M * N);
  be.setThreads(1);
  be.gemmNT(M, N, K, a, 0, b, 0, ref, 0, false);
  const c = new Float32Array(M * N), nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 3000; i++) {
    if (i % 100 === 0) be.setThreads(1 + rng.int(4));
    if (i % 250 === 125) Atomics.wait(nap, 0, 0, 3); // the workers stop spinning and sleep
    c.fill(Number.NaN);
    be.gemmNT(M, N, K, a, 0, b, 0, c, 0, false);
    if (i % 50 === 0 || i === 2999) assertBitEqual(c, ref, `job ${i}`);
  }
  be.setThreads(4);
  // how many parts the workers take depends on when the OS runs them (the calling thread claims parts too, and
  // on a busy machine may claim all of a job's): some, or the handshake went untested. Where none did in the
  // 3000 jobs, more jobs on 4 threads, until one has (a machine whose workers never run fails here, not a slow one)
  for (let more = 0; be.info().workerParts === before && more < 100_000; more++) be.gemmNT(M, N, K, a, 0, b, 0, c, 0, false);
  assert.ok(be.info().workerParts > before, 'the workers ran no part of 100 000 jobs: the calling thread ran them all, and the handshake was not tested');
});

/** A team over its own shared memory, its kernels on this thread the module's exports. */
function team(host: ThreadHost, threads: number): { t: Team; f32: () => Float32Array; heap: number; rowsNT: number } {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const ex = new WebAssembly.Instance(module as WebAssembly.Module, { env: { memory } }).exports as Record<string, unknown>;
  const names = ['rowsNT'];
  const control = Math.ceil((ex.heapBase as () => number)() / 64) * 64;
  const t = new Team(memory, control, module, names, names.map((n) => ex[n] as (...a: number[]) => void), host, threads);
  return { t, f32: () => new Float32Array(memory.buffer), heap: control + CONTROL_BYTES, rowsNT: 0 };
}

test('wasm threads: a team whose workers never start runs every part on the calling thread', () => {
  const { t, f32, heap } = team({ cores: 4, start: () => { /* no worker */ } }, 4);
  const K = 64, rows = 40, x = heap, u = x + 4 * K, y = u + 4 * rows * K;
  const mem = f32();
  for (let i = 0; i < K; i++) mem[x / 4 + i] = 1;
  for (let r = 0; r < rows; r++) for (let i = 0; i < K; i++) mem[u / 4 + r * K + i] = r;
  // y[j] = Σ_i x[i] u[j][i] = K·j, each part one row of U
  t.run(Array.from({ length: rows }, (_, j) => [0, -1, 1, 1, K, x, K, u + 4 * j * K, K, y + 4 * j, rows, 0]));
  assert.deepEqual(Array.from(f32().subarray(y / 4, y / 4 + rows)), Array.from({ length: rows }, (_, j) => K * j));
});

test('wasm threads: a part that fails is an Error after every other part is done, and the team goes on', () => {
  const { t, f32, heap } = team(fourCores, 4);
  const K = 16, x = heap, u = x + 4 * K, y = u + 4 * 64 * K;
  const mem = f32();
  mem.fill(1, x / 4, u / 4 + 64 * K);
  const good = (j: number): number[] => [0, -1, 1, 1, K, x, K, u + 4 * j * K, K, y + 4 * j, 64, 0];
  const beyond = 2 ** 31; // past the memory's end: the part traps
  for (let round = 0; round < 20; round++) {
    const rows = Array.from({ length: 64 }, (_, j) => good(j));
    rows[round % 64] = [0, -1, 1, 1, K, beyond, K, u, K, y, 64, 0];
    assert.throws(() => t.run(rows), (e: Error) => /failed on a worker thread|out of bounds/.test(e.message));
    f32().fill(0, y / 4, y / 4 + 64);
    t.run(Array.from({ length: 64 }, (_, j) => good(j)));
    assert.ok(f32().subarray(y / 4, y / 4 + 64).every((v) => v === K), `round ${round}: the next job runs whole`);
  }
});

test('wasm threads: a part of more numbers than the job table holds is refused before anything runs', () => {
  // the table has ARGS numbers per part: a longer part would spill into the next part's, or past the table
  const { t, f32, heap } = team(fourCores, 4);
  const K = 4, x = heap, u = x + 4 * K, y = u + 4 * K;
  f32().fill(1, x / 4, u / 4 + K);
  f32()[y / 4] = 7;
  const part = [0, -1, 1, 1, K, x, K, u, K, y, 1, 0];
  const long = [...part, ...Array.from({ length: ARGS + 1 - part.length }, () => 0)];
  assert.throws(() => t.run([part, long]), new RegExp(`a part of ${ARGS + 1} numbers \\(at most ${ARGS}\\)`));
  assert.equal(f32()[y / 4], 7, 'nothing ran');
  t.run([part]);
  assert.equal(f32()[y / 4], K, 'the team goes on');
});

test('wasm threads: a model trained on 1 and on 4 threads is the same bit for bit (Adam steps fused as train() runs them)', () => {
  const run = (threads: number): { params: Float32Array[]; logits: Float32Array } => {
    registerBackend(be);
    setBackend('wasm');
    be.setThreads(threads);
    try {
      return trainSmallModel();
    } finally {
      setBackend('js');
      be.setThreads(4);
    }
  };
  const one = run(1), four = run(4);
  one.params.forEach((w, i) => assertBitEqual(four.params[i], w, `parameter ${i}`));
  assertBitEqual(four.logits, one.logits, 'inference logits');
});

test('wasm threads: close() stops the workers; the backend goes on, starting new ones when it splits work again', async () => {
  const workers: Worker[] = [];
  const host: ThreadHost = {
    cores: 3,
    start(data) {
      const w = new Worker(`${workerSource()}run(require('node:worker_threads').workerData);`, { eval: true, workerData: data, execArgv: [] });
      w.unref();
      workers.push(w);
    },
  };
  const b = createWasmBackend(module, { threads: 3 }, host);
  const rng = new Rng(76);
  const M = 48, N = 160, K = 96, a = randomArray(rng, M * K), w = randomArray(rng, N * K);
  const ref = new Float32Array(M * N), c = new Float32Array(M * N);
  be.setThreads(1);
  be.gemmNT(M, N, K, a, 0, w, 0, ref, 0, false);
  be.setThreads(4);
  // the workers are unref'd: a timer keeps the loop alive while their exits are awaited, and fails a hang
  const exited = async (ws: Worker[]): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(ws.map((x) => new Promise((r) => x.once('exit', r)))),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the workers did not stop within 20 s')), 20_000); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
  for (let round = 0; round < 6; round++) {
    b.gemmNT(M, N, K, a, 0, w, 0, c, 0, false);
    assert.equal(workers.length, 2 * (round + 1), 'two workers started for three threads');
    // the workers up and working (spinning, or asleep) when close() comes, as after any job of a long run
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 20; i++) b.gemmNT(M, N, K, a, 0, w, 0, c, 0, false);
    assertBitEqual(c, ref, `round ${round}`);
    const stopping = exited(workers.slice(2 * round));
    b.close();
    await stopping;
  }
  b.gemmNT(M, N, K, a, 0, w, 0, c, 0, false); // and new workers again
  assertBitEqual(c, ref, 'after close()');
  b.close();
});

test('wasm threads: a backend dropped without close() has its workers stopped once it is collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const host = watchedHost(3);
  // made and used in a scope of its own, so that nothing here holds it after
  const use = (): void => {
    const b = createWasmBackend(module, { threads: 3 }, host);
    const rng = new Rng(77);
    const M = 48, N = 160, K = 96;
    b.gemmNT(M, N, K, randomArray(rng, M * K), 0, randomArray(rng, N * K), 0, new Float32Array(M * N), 0, false);
  };
  use();
  assert.equal(host.workers.length, 2, 'two workers started for three threads');
  let left = host.workers.length;
  for (const w of host.workers) w.once('exit', () => { left--; });
  // the workers are unref'd: this loop keeps the process alive while it collects, and fails a hang
  const until = Date.now() + 20_000;
  while (left > 0 && Date.now() < until) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(left, 0, 'the dropped backend\'s workers stopped');
});

test('wasm threads: a part that fails on a worker before its kernel runs (no such kernel) still counts done: the call throws at once, it does not wait', () => {
  // (the worker read its part outside the try that counts a failed part done: the caller waited for it ten minutes)
  const at = (path: string) => JSON.stringify(new URL(`../../src/kernels/wasm/${path}`, import.meta.url).href);
  const src = `import { readFileSync } from 'node:fs';
    import { compileWasmSync } from ${at('core.ts')};
    import { DEFAULT_WASM_THREADS_URL, nodeThreadHost } from ${at('index.ts')};
    import { Team } from ${at('threads.ts')};
    const module = compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL)));
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
    const t = new Team(memory, Math.ceil(ex.heapBase() / 64) * 64, module, ['rowsNT'], [ex.rowsNT], { cores: 4, start: nodeThreadHost.start }, 4);
    await t.whenStarted(10000);
    let threw = 0;
    for (let i = 0; i < 20; i++) { try { t.run(Array.from({ length: 64 }, () => [7, -1])); } catch { threw++; } }
    console.log('threw ' + threw + ' of 20, workers ran ' + t.workerParts + ' parts');
    t.close();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /threw 20 of 20/);
});

test('wasm: the modules\' scratch sizes are exact past 2 GiB (a usize read as an i32 was negative there, and the arena reserved nothing)', () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const ex = new WebAssembly.Instance(module as WebAssembly.Module, { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
  assert.equal(ex.packedBBytes(2 ** 15, 2 ** 14), 2 ** 31);
  assert.equal(ex.packedBBytes(1, 2 ** 28), 2 ** 33, 'one column, padded to a panel: past 4 GiB, where a usize wrapped');
  assert.equal(ex.gemmScratchBytes(64, 2 ** 15, 2 ** 16), ex.gemmScratchBytes(64, 8, 1) - 32 + 2 ** 33);
});

test('wasm threads: a job\'s scratch is sliced for the caller and every worker (slots), and a job of MAX_PARTS parts runs whole (one more is refused)', () => {
  const { t, f32, heap } = team(fourCores, 4);
  // 4 threads: 3 workers and the caller, each its own slice; fewer threads later, the workers already started may still claim
  assert.equal(t.slots, 4);
  const K = 4, x = heap, u = x + 4 * K, y = u + 4 * K * MAX_PARTS;
  f32().fill(1, x / 4, u / 4 + K * MAX_PARTS);
  const part = (j: number): number[] => [0, -1, 1, 1, K, x, K, u + 4 * j * K, K, y + 4 * j, MAX_PARTS, 0];
  t.run(Array.from({ length: MAX_PARTS }, (_, j) => part(j)));
  assert.ok(f32().subarray(y / 4, y / 4 + MAX_PARTS).every((v) => v === K), 'every part of the largest job ran');
  assert.throws(() => t.run(Array.from({ length: MAX_PARTS + 1 }, (_, j) => part(j % MAX_PARTS))), new RegExp(`a job of ${MAX_PARTS + 1} parts \\(at most ${MAX_PARTS}\\)`));
  assert.equal(t.setThreads(2), 2);
  assert.equal(t.slots, 4, 'the 3 workers started still claim parts');
  assert.equal(new Team(new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true }), 0, module, [], [], fourCores, 2).slots, 2);
});

test('wasm threads: a part that fails on a worker is an Error naming its kernel', async () => {
  const { t, f32, heap } = team(fourCores, 4);
  await t.whenStarted(10_000);
  const K = 16, { rows, u, y } = onesJob(f32, heap, 64, K);
  rows[0] = [0, -1, 1, 1, K, 2 ** 31, K, u, K, y, 64, 0]; // past the memory's end: the part traps
  // posted, not waited for: the caller claims nothing until wait(), so the workers run every part, the failing one included
  const before = t.workerParts, sleeper = new Int32Array(new SharedArrayBuffer(4)), until = Date.now() + 20_000;
  t.post(rows);
  while (t.workerParts - before < rows.length && Date.now() < until) Atomics.wait(sleeper, 0, 0, 1);
  assert.equal(t.workerParts - before, rows.length, 'the workers ran every part');
  assert.throws(() => t.wait(), /^Error: treegate wasm backend: rowsNT failed on a worker thread$/);
  t.close();
});

test('wasm threads: a job posted before the last was waited for is refused; close() leaves no worker counted up; a fractional core count rounds down', async () => {
  const { t, f32, heap } = team(fourCores, 4);
  await t.whenStarted(60_000); // (at once on a quiet machine: a loaded one may take seconds to start three workers)
  assert.equal(t.workersUp, 3);
  const K = 4, { rows, y } = onesJob(f32, heap, 8, K);
  t.post(rows);
  assert.throws(() => t.post(rows), /a job was posted before the last one was waited for/);
  t.wait();
  assert.ok(f32().subarray(y / 4, y / 4 + 8).every((v) => v === K));
  t.close();
  assert.equal(t.workersUp, 0, 'closed: whenStarted waits for the next workers, not these');
  // a cgroup's quota of 2.5 CPUs: two threads, not three
  assert.equal(team({ cores: 2.5, start: () => {} }, 8).t.maxThreads, 2);
});

/** Workers of `spinMs` that the test can await the exit of (unref'd, as Node's host makes them). */
function watchedHost(cores: number, spinMs = 1): ThreadHost & { workers: Worker[] } {
  const workers: Worker[] = [];
  return {
    cores, workers,
    start(data) {
      const w = new Worker(`${workerSource(spinMs)}run(require('node:worker_threads').workerData);`, { eval: true, workerData: data, execArgv: [] });
      w.unref();
      workers.push(w);
    },
  };
}

/**
 * A job of `parts` dot products of ones over K floats at `heap` (kernel 0, rowsNT: each output is K), the ones written:
 * its rows and the byte addresses of its vectors and outputs.
 */
function onesJob(f32: () => Float32Array, heap: number, parts: number, K = 4): { rows: number[][]; u: number; y: number } {
  const x = heap, u = x + 4 * K, y = u + 4 * parts * K;
  f32().fill(1, x / 4, u / 4 + parts * K);
  return { rows: Array.from({ length: parts }, (_, j) => [0, -1, 1, 1, K, x, K, u + 4 * j * K, K, y + 4 * j, parts, 0]), u, y };
}

/** Sleeps until `done()` or `ms` have passed (the workers run meanwhile; this thread claims nothing). */
function sleepUntil(done: () => boolean, ms: number): void {
  const nap = new Int32Array(new SharedArrayBuffer(4)), until = Date.now() + ms;
  while (!done() && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
}

test('wasm threads: workers started for a job help with that job (the job posted as they start is theirs too)', () => {
  // posted, not waited for: the caller claims nothing until wait(), so the workers post() started must run every part
  const { t, f32, heap } = team(fourCores, 4);
  const K = 4, parts = 64, { rows, y } = onesJob(f32, heap, parts, K);
  t.post(rows);
  sleepUntil(() => t.workerParts === parts, 30_000);
  assert.equal(t.workerParts, parts, 'the workers that post() started ran the parts of its job');
  t.wait();
  assert.ok(f32().subarray(y / 4, y / 4 + parts).every((v) => v === K));
  t.close();
});

test('wasm threads: a worker spinning while a job is written waits for the whole job, and runs it', () => {
  // one worker that spins (for seconds) between jobs, so that it reads the job's word while the caller writes the rows:
  // it must take that word for the job it will be, not claim nothing of it and go back to sleep
  const host = watchedHost(2, 5_000);
  const { t, f32, heap } = team(host, 2);
  const parts = 256, { rows } = onesJob(f32, heap, parts);
  let before = 0;
  for (let job = 0; job < 200; job++) {
    t.post(rows);
    sleepUntil(() => t.workerParts - before === parts, 10_000);
    assert.equal(t.workerParts - before, parts, `job ${job}: the worker ran every part`);
    t.wait();
    before = t.workerParts;
  }
  t.close();
});

test('wasm threads: workers that come up after close() are not counted up (whenStarted waits for the next ones)', async () => {
  const host = watchedHost(4);
  const { t, f32, heap } = team(host, 4);
  // the job starts 3 workers and runs on this thread (they take tens of milliseconds to come up); close() comes before they are up
  t.run(onesJob(f32, heap, 8).rows);
  t.close();
  assert.equal(host.workers.length, 3);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(host.workers.map((w) => new Promise((r) => w.once('exit', r)))),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the workers did not stop within 20 s')), 20_000); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(t.workersUp, 0, 'the workers of the closed epoch came up and left: none is up');
});

test('wasm threads: a worker of a closed team claims no part of a later job, even while it spins', () => {
  // the first epoch's worker spins for seconds after its job; the job after close() starts no worker (the host starts one
  // alone): the old worker, still spinning, must leave that job to the caller (its slot may be a new worker's by then)
  const host = watchedHost(2, 5_000), start = host.start;
  let starts = 0;
  host.start = (data) => { if (starts++ === 0) start(data); };
  const { t, f32, heap } = team(host, 2);
  const K = 4, parts = 64, { rows, y } = onesJob(f32, heap, parts, K);
  t.post(rows);
  sleepUntil(() => t.workerParts === parts, 30_000);
  assert.equal(t.workerParts, parts, 'the worker is up and ran the first job');
  t.wait();
  t.close();
  f32().fill(0, y / 4, y / 4 + parts);
  t.post(rows);
  sleepUntil(() => t.workerParts > parts, 300);
  assert.equal(t.workerParts, parts, 'the closed team\'s worker claimed parts of the next epoch\'s job');
  t.wait();
  assert.ok(f32().subarray(y / 4, y / 4 + parts).every((v) => v === K));
  assert.equal(starts, 2);
});

test('wasm threads: the worker that finishes a job\'s last part wakes the caller asleep on it (not its 100 ms timeout)', async (t) => {
  const { t: team4, f32, heap } = team(fourCores, 4);
  await team4.whenStarted(60_000);
  const buffer = f32().buffer, wait = Atomics.wait, woke: string[] = [];
  t.after(() => { Atomics.wait = wait; team4.close(); });
  // how the caller's sleeps on the control block ended: 'ok' (notified), 'not-equal' or 'timed-out'
  Atomics.wait = ((a: Int32Array, i: number, v: number, ms?: number) => {
    const r = wait(a, i, v, ms);
    if (a.buffer === buffer) woke.push(r);
    return r;
  }) as typeof Atomics.wait;
  const rows = 256, s = 1024, parts = 3, x = heap, y = x + 4 * rows * s;
  f32().fill(1, x / 4, x / 4 + rows * s);
  // each part a product of 256 × 256 rows of 1024 (64 M multiply-adds: milliseconds), the parts claimed by the workers
  // while the caller naps, so that the caller, with nothing to claim, sleeps until the last one is done
  const job = Array.from({ length: parts }, (_, j) => [0, -1, rows, rows, s, x, s, x, s, y + 4 * j * rows * rows, rows, 0]);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 5; i++) {
    team4.post(job);
    wait(nap, 0, 0, 1);
    team4.wait();
  }
  assert.ok(f32().subarray(y / 4, y / 4 + parts * rows * rows).every((v) => v === s));
  assert.ok(woke.includes('ok'), `the caller's sleeps on the control block ended ${JSON.stringify(woke)}: none was woken`);
});

test('wasm threads: a worker\'s scratch argument is its own slice, scratch.at + slot · bytes (an address past 64 KiB, not a multiple of it)', async () => {
  // two threads: the caller (slot 0) and one worker (slot 1)
  const { t, f32, heap } = team(fourCores, 2);
  await t.whenStarted(60_000);
  const K = 4, x = heap, u = x + 4 * K, bytes = 128;
  f32().fill(1, x / 4, u / 4 + K);
  // the scratch argument of these parts is rowsNT's output (argument 7): a part writes x·u = K to the first float of its slice
  const at = Math.ceil((u + 4 * K + 65536 + 1000) / 64) * 64, end = at + 3 * 65536;
  assert.notEqual(at % 65536, 0);
  f32().fill(0, at / 4, end / 4);
  const rows = Array.from({ length: 64 }, () => [0, 7, 1, 1, K, x, K, u, K, 0, 1, 0]);
  // posted, not waited for: the caller claims nothing until wait(), so the worker runs every part
  const before = t.workerParts, nap = new Int32Array(new SharedArrayBuffer(4)), until = Date.now() + 20_000;
  t.post(rows, { at, bytes });
  while (t.workerParts - before < rows.length && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
  assert.equal(t.workerParts - before, rows.length, 'the worker ran every part');
  t.wait();
  const written: Array<[number, number]> = [];
  for (let i = at / 4; i < end / 4; i++) if (f32()[i] !== 0) written.push([i * 4 - at, f32()[i]]);
  assert.deepEqual(written, [[bytes, K]], 'the worker wrote K at scratch.at + bytes (its slice) alone: [offset, value]');
  t.close();
});

test('wasm threads: after a part failed on a worker, the next job runs without the error', async () => {
  const { t, f32, heap } = team(fourCores, 4);
  await t.whenStarted(60_000);
  const K = 16, { rows, u, y } = onesJob(f32, heap, 64, K);
  const failing = rows.slice();
  failing[0] = [0, -1, 1, 1, K, 2 ** 31, K, u, K, y, 64, 0]; // past the memory's end: the part traps
  const before = t.workerParts, nap = new Int32Array(new SharedArrayBuffer(4)), until = Date.now() + 20_000;
  t.post(failing);
  while (t.workerParts - before < rows.length && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
  assert.equal(t.workerParts - before, rows.length, 'the workers ran every part, the failing one included');
  assert.throws(() => t.wait(), /rowsNT failed on a worker thread/);
  f32().fill(0, y / 4, y / 4 + 64);
  t.run(rows);
  assert.ok(f32().subarray(y / 4, y / 4 + 64).every((v) => v === K));
  t.close();
});

test('wasm threads: a calling thread that may not block (a page\'s) spins while the workers finish their parts, calling no Atomics.wait', async (t) => {
  // Atomics.wait on the team's memory throws, as it does on a page's thread ("cannot be called in this context")
  const wait = Atomics.wait, shared: Array<ArrayBufferLike> = [];
  t.after(() => { Atomics.wait = wait; });
  Atomics.wait = ((a: Int32Array, i: number, v: number, ms?: number) => {
    if (shared.includes(a.buffer)) throw new TypeError('Atomics.wait cannot be called in this context');
    return wait(a, i, v, ms);
  }) as typeof Atomics.wait;
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  shared.push(memory.buffer);
  const ex = new WebAssembly.Instance(module as WebAssembly.Module, { env: { memory } }).exports as Record<string, unknown>;
  const control = Math.ceil((ex.heapBase as () => number)() / 64) * 64;
  const team4 = new Team(memory, control, module, ['rowsNT'], [ex.rowsNT as (...a: number[]) => void], fourCores, 4);
  await team4.whenStarted(60_000);
  const f32 = new Float32Array(memory.buffer), rows = 256, s = 1024, parts = 3, x = control + CONTROL_BYTES, y = x + 4 * rows * s;
  f32.fill(1, x / 4, x / 4 + rows * s);
  // parts of milliseconds claimed by the workers while the caller naps: the caller, with nothing to claim, waits for them
  const job = Array.from({ length: parts }, (_, j) => [0, -1, rows, rows, s, x, s, x, s, y + 4 * j * rows * rows, rows, 0]);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 5; i++) {
    f32.fill(0, y / 4, y / 4 + parts * rows * rows);
    team4.post(job);
    wait(nap, 0, 0, 1);
    team4.wait();
    assert.ok(f32.subarray(y / 4, y / 4 + parts * rows * rows).every((v) => v === s), `job ${i}`);
  }
  team4.close();
});
