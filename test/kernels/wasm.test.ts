/**
 * The `wasm` backend (assembly/ → wasm/treegate-threads.wasm, which loadWasmBackend loads in Node, and the plain
 * wasm/treegate.wasm of pages that are not cross-origin isolated: every kernel test below runs on both) against the
 * js reference, function by function, over shape tables chosen to
 * cross the kernel's blocking: the 4×8 micro-tile (sizes 1, 3, 4, 5, 7, 8, 9, …), the
 * few-rows path (M < 8), the KC = 512 depth blocks and MC = 128 row blocks;
 * plus K = 0, offsets ≠ 0, padded strides, accumulate on/off, and trees with
 * k = 0, one leaf holding every example, empty leaves and empty batches.
 * Float32 SIMD sums differ from the float64 reference by rounding only, so
 * products use tolerances that grow with K; the ops that round once in the
 * same order as the reference are checked bit for bit. Finally a TreeGated
 * layer and a whole Model give the same results under setBackend('wasm') (the threads module).
 *
 * Needs wasm/treegate.wasm (npm run build, or node scripts/build-wasm.mjs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { jsBackend, registerBackend, setBackend, type Backend } from '../../src/kernels/backend.js';
import { DEFAULT_WASM_URL, loadWasmBackend, loadWasmBackendAsync } from '../../src/kernels/wasm/index.js';
import { compileWasmSync, createWasmBackend, type WasmOptions } from '../../src/kernels/wasm/core.js';
import { TreegateError } from '../../src/core/errors.js';
import { matrix } from '../../src/core/tensor.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Model, type ModelConfig } from '../../src/layers/model.js';
import { Optimizer } from '../../src/train/optim.js';
import {
  assertBitEqual, assertClose, near, pathNode, projectionBatch, randomArray, randomMatrix, Rng, route, unitsBatch,
} from '../helpers.js';
import { readFileSync } from 'node:fs';

const wasm: Backend = loadWasmBackend();
const js = jsBackend;

/**
 * The kernel tests below run on both modules: the threads module (what Node loads; worker threads on a shared
 * memory) and the plain one (what a page that is not cross-origin isolated loads: its own memory, whose views
 * detach when it grows, and one thread), built from the same sources.
 */
const MODULES: Array<[string, Backend]> = [
  ['wasm', wasm],
  ['wasm (plain module)', createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_URL))))],
];
function onEachModule(fn: (wasm: Backend, label: string) => void): void {
  for (const [label, be] of MODULES) fn(be, label);
}

/** Float32 sums of K products of O(1) values in another order: ~√K·ε relative to the terms' magnitude, with margin. */
function tolFor(K: number): { rtol: number; atol: number } {
  return { rtol: 1e-4, atol: 2e-6 * Math.max(1, K) };
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

test('wasm: loadWasmBackend gives a complete backend named wasm; explicit bytes and the async loader work too', async () => {
  assert.equal(wasm.name, 'wasm');
  for (const key of Object.keys(js) as Array<keyof Backend>) {
    if (key !== 'name' && key !== 'collapseRows') assert.equal(typeof wasm[key], 'function', `wasm backend lacks ${key}`);
  }
  assert.equal(wasm.collapseRows, 8);
  const bytes = readFileSync(new URL('../../wasm/treegate.wasm', import.meta.url));
  const fromBytes = loadWasmBackend(new Uint8Array(bytes));
  const fromAsync = await loadWasmBackendAsync(new Uint8Array(bytes));
  const fromBuffer = await loadWasmBackendAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const fromResponse = await loadWasmBackendAsync(new Response(bytes, { headers: { 'content-type': 'application/wasm' } }));
  for (const be of [fromBytes, fromAsync, fromBuffer, fromResponse]) {
    const c = new Float32Array(1);
    be.gemmNN(1, 1, 2, new Float32Array([2, 3]), 0, new Float32Array([5, 7]), 0, c, 0, false);
    assert.equal(c[0], 31);
  }
  await assert.rejects(loadWasmBackendAsync(new Response('missing', { status: 404 })), /HTTP 404/);
  // a DataView of the bytes is bytes; a Response read already, or a Request, is named as such
  const view = await loadWasmBackendAsync(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as Uint8Array);
  view.close();
  const used = new Response(bytes);
  await used.arrayBuffer();
  await assert.rejects(loadWasmBackendAsync(used), /the Response's body was read already \(pass a new one/);
  await assert.rejects(loadWasmBackendAsync(new Request('http://x.test/treegate.wasm') as unknown as Response), /expected the module as a Response, got .* \(a Request\?\)/);
  assert.throws(() => loadWasmBackend(new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9])));
  // residentBytes: a number of bytes ≥ 0, checked by every loader before anything is built
  for (const bad of [-1, Number.NaN, Infinity, '1e9' as unknown as number]) {
    const message = /residentBytes must be a number of bytes ≥ 0/;
    assert.throws(() => loadWasmBackend(new Uint8Array(bytes), { residentBytes: bad }), message);
    await assert.rejects(loadWasmBackendAsync(new Uint8Array(bytes), { residentBytes: bad }), message);
  }
  assert.equal(loadWasmBackend(new Uint8Array(bytes), { residentBytes: 0 }).name, 'wasm');
  // bytes that are not treegate's kernels, a misspelt option, a source of another type: TreegateErrors that say so
  const treegateError = (re: RegExp) => (e: unknown) => e instanceof TreegateError && re.test(e.message);
  const notOurs = /not treegate's kernels: it does not compile/;
  const broken = new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]); // wasm's magic, then no module
  assert.throws(() => loadWasmBackend(broken), treegateError(notOurs));
  await assert.rejects(loadWasmBackendAsync(broken), treegateError(notOurs));
  // bytes that are no WebAssembly at all are named by what they start with; an HTML page is what a server sends
  // for a file it does not have (a dev server's fallback), not a stale build
  const noWasm = /the module given is not WebAssembly: it starts with "\.\.\.\.", not "\\0asm"/;
  assert.throws(() => loadWasmBackend(new Uint8Array(10)), treegateError(noWasm));
  await assert.rejects(loadWasmBackendAsync(new Uint8Array(10)), treegateError(noWasm));
  await assert.rejects(loadWasmBackendAsync(new Uint8Array(0)), treegateError(/not WebAssembly: it is empty/));
  assert.throws(() => loadWasmBackend('/some/treegate.wasm' as never), treegateError(/loadWasmBackend takes the module's bytes, got "\/some\/treegate\.wasm" \(pass readFileSync\(path\)/));
  // createWasmBackend takes a compiled module; its bytes are loadWasmBackend's (a module of another realm is one too)
  assert.throws(() => createWasmBackend(bytes), treegateError(/createWasmBackend takes a compiled WebAssembly\.Module, got a \w+ of \d+ elements \(compile the bytes first .*loadWasmBackend/));
  const foreignModule = runInNewContext('new WebAssembly.Module(b)', { b: bytes }) as object;
  assert.equal(createWasmBackend(foreignModule).name, 'wasm');
  const page = new Response('<!doctype html><html></html>', { headers: { 'content-type': 'text/html' } });
  await assert.rejects(loadWasmBackendAsync(page),
    treegateError(/not WebAssembly: it starts with "<!do", not "\\0asm", served as text\/html \(an HTML page: a server answers so for a file it does not have\).*public folder/s));
  // a URL that is the package's name as the code wrote it (esbuild leaves new URL('treegate/…', import.meta.url) so): said
  const unresolved = { ok: false, status: 404, url: 'http://127.0.0.1:8090/treegate/treegate-threads.wasm', arrayBuffer: async () => new ArrayBuffer(0) };
  await assert.rejects(loadWasmBackendAsync(unresolved as unknown as Response), treegateError(
    /from http:\/\/127\.0\.0\.1:8090\/treegate\/treegate-threads\.wasm failed \(HTTP 404\) \(serve wasm\/treegate-threads\.wasm, the package's treegate\/treegate-threads\.wasm, at that URL, or pass its bytes; the URL is the package's name as written: .*\(esbuild\) left it so/));
  const served = { ...unresolved, ok: true, status: 200, url: 'http://h/app/treegate/treegate.wasm', headers: new Headers({ 'content-type': 'text/html' }),
    arrayBuffer: async () => new TextEncoder().encode('<!doctype html>').buffer };
  await assert.rejects(loadWasmBackendAsync(served as unknown as Response), treegateError(/served as text\/html .*public folder, or pass the module's bytes; the URL is the package's name as written/s));
  const elsewhere = { ...unresolved, url: 'http://h/assets/treegate.wasm' };
  await assert.rejects(loadWasmBackendAsync(elsewhere as unknown as Response), (e: Error) => e instanceof TreegateError && !/package's name as written/.test(e.message));
  // an ArrayBuffer of another realm (an iframe's, a worker's) is bytes too, as is a view with an offset
  const foreign = runInNewContext(`new ArrayBuffer(${bytes.byteLength})`) as ArrayBuffer;
  new Uint8Array(foreign).set(bytes);
  assert.equal(loadWasmBackend(foreign).name, 'wasm');
  assert.equal((await loadWasmBackendAsync(foreign)).name, 'wasm');
  const padded = new Uint8Array(bytes.byteLength + 3);
  padded.set(bytes, 3);
  assert.equal((await loadWasmBackendAsync(padded.subarray(3))).name, 'wasm');
  // fetch(url) as it is, not awaited: the Response it resolves to
  assert.equal((await loadWasmBackendAsync(Promise.resolve(new Response(new Uint8Array(bytes))))).name, 'wasm');
  await assert.rejects(loadWasmBackendAsync(Promise.reject(new TypeError('fetch failed'))), treegateError(/fetching the module failed \(fetch failed\)/));
  const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]); // a valid module that exports nothing
  await assert.rejects(loadWasmBackendAsync(empty), treegateError(/not treegate's kernels: it does not export 'heapBase'/));
  await assert.rejects(loadWasmBackendAsync(new Uint8Array(bytes), { thread: 2 } as WasmOptions), treegateError(/unknown setting "thread".*residentBytes, threads/s));
  await assert.rejects(loadWasmBackendAsync(42 as unknown as Uint8Array), treegateError(/expected the module as a Response, an ArrayBuffer or a Uint8Array, got 42/));
  assert.throws(() => loadWasmBackend(new Uint8Array(bytes), 'fast' as WasmOptions), treegateError(/options must be an object, got "fast"/));
});

// ---------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------

/** [M, N, K] */
const GEMM_SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 1, 0], [3, 5, 0], [9, 17, 0], [1, 7, 5], [7, 1, 5], [5, 7, 1], [1, 1, 9], [1, 33, 300],
  [2, 4, 3], [4, 8, 2], [3, 5, 7], [7, 9, 13], [8, 8, 8], [9, 9, 9], [8, 16, 4], [16, 8, 257], [17, 23, 31],
  [33, 1, 40], [1, 40, 33], [37, 65, 129], [130, 20, 9], [129, 17, 300], [64, 64, 512],
  // fewer rows than columns: gemmNT runs as Cᵀ = W Aᵀ (A packed, W read in place, tile stored transposed),
  // with edge tiles in both directions, several KC blocks, and more than MC = 128 rows of W
  [8, 16, 4], [12, 300, 513], [24, 260, 40], [45, 131, 17],
  // few rows, C = A Wᵀ: W streamed in blocks of 4·⌊8192 / K⌋ columns, last block ragged
  [1, 1001, 33], [3, 230, 300], [7, 9, 4000],
  // 5–7 rows of C = A Wᵀ take the transposed packed path; more than one KC block without the transposition
  [5, 40, 20], [6, 13, 600], [33, 20, 1030],
  // transposed C = A Wᵀ with W streamed in blocks of 4·⌊8192 / K⌋ rows: 60-row blocks, and 44 with a ragged last one
  [9, 150, 700],
  // a short sum (K < 8) over B's rows (the weight gradient of a node of few examples) and at most 4 rows against B's
  // rows (the input gradient of one): the unpacked kernels, odd widths and tails
  [64, 37, 1], [200, 45, 3], [17, 513, 5], [130, 20, 7], [2, 37, 300], [4, 131, 65], [3, 1, 17],
];


for (const v of ['NT', 'NN', 'TN'] as const) {
  onEachModule((wasm, label) => test(`${label}: gemm${v} matches js over the shape table (offsets, accumulate on/off, nothing outside C written)`, () => {
    const rng = new Rng(1001);
    const fw = v === 'NT' ? wasm.gemmNT : v === 'NN' ? wasm.gemmNN : wasm.gemmTN;
    const fj = v === 'NT' ? js.gemmNT : v === 'NN' ? js.gemmNN : js.gemmTN;
    for (const [M, N, K] of GEMM_SHAPES) {
      for (const [ao, bo, co] of [[0, 0, 0], [3, 5, 7]]) {
        for (const accumulate of [false, true]) {
          const a = randomArray(rng, ao + M * K + 4), b = randomArray(rng, bo + K * N + 4), c = randomArray(rng, co + M * N + 4);
          const aCopy = a.slice(), bCopy = b.slice(), ref = c.slice();
          fj(M, N, K, a, ao, b, bo, ref, co, accumulate);
          fw(M, N, K, a, ao, b, bo, c, co, accumulate);
          const what = `wasm gemm${v} M=${M} N=${N} K=${K} offsets=${ao},${bo},${co} accumulate=${accumulate}`;
          assertClose(c.subarray(co, co + M * N), ref.subarray(co, co + M * N), tolFor(K), what);
          assertBitEqual(c.subarray(0, co), ref.subarray(0, co), `${what}: C before the offset`);
          assertBitEqual(c.subarray(co + M * N), ref.subarray(co + M * N), `${what}: C after the window`);
          assertBitEqual(a, aCopy, `${what}: A unchanged`);
          assertBitEqual(b, bCopy, `${what}: B unchanged`);
          if (K === 0) assertBitEqual(c, ref, `${what}: K = 0 exact`);
        }
      }
    }
  }));
}

onEachModule((wasm, label) => test(`${label}: gemmStrided with general strides (column-major A, every other column of B, padded C rows)`, () => {
  const rng = new Rng(1002);
  for (const [M, N, K] of GEMM_SHAPES) {
    for (const accumulate of [false, true]) {
      const ao = 2, ars = 1, acs = M + 2;
      const bo = 1, brs = 2 * N + 1, bcs = 2;
      const co = 5, crs = N + 3;
      const a = randomArray(rng, ao + K * acs + 3), b = randomArray(rng, bo + K * brs + 3), c = randomArray(rng, co + M * crs + 3);
      const ref = c.slice();
      js.gemmStrided(M, N, K, a, ao, ars, acs, b, bo, brs, bcs, ref, co, crs, accumulate);
      wasm.gemmStrided(M, N, K, a, ao, ars, acs, b, bo, brs, bcs, c, co, crs, accumulate);
      const what = `wasm gemmStrided M=${M} N=${N} K=${K} accumulate=${accumulate}`;
      const inWindow = new Uint8Array(c.length);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) inWindow[co + i * crs + j] = 1;
      const win: number[] = [], winRef: number[] = [];
      for (let e = 0; e < c.length; e++) {
        if (inWindow[e]) { win.push(c[e]); winRef.push(ref[e]); }
        else if (!Object.is(c[e], ref[e])) assert.fail(`${what}: element ${e} outside the C window changed from ${ref[e]} to ${c[e]}`);
      }
      assertClose(win, winRef, tolFor(K), what);
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: gemm over row-major operands with row strides wider than the matrix (sub-matrix views)`, () => {
  const rng = new Rng(1003);
  for (const [M, N, K] of [[5, 9, 7], [20, 24, 300], [3, 40, 11]] as const) {
    // A = columns 3..3+K of a (M, K+6) matrix, B = rows of a (K, N+2) matrix, both NN-style
    const lda = K + 6, ldb = N + 2;
    const a = randomArray(rng, M * lda), b = randomArray(rng, K * ldb), c = randomArray(rng, M * N);
    const ref = c.slice();
    js.gemmStrided(M, N, K, a, 3, lda, 1, b, 0, ldb, 1, ref, 0, N, true);
    wasm.gemmStrided(M, N, K, a, 3, lda, 1, b, 0, ldb, 1, c, 0, N, true);
    assertClose(c, ref, tolFor(K), `wasm gemmStrided views M=${M} N=${N} K=${K}`);
  }
}));

onEachModule((wasm, label) => test(`${label}: large products stay accurate (float32 accumulation over 1024 terms)`, () => {
  const rng = new Rng(1004);
  const M = 19, N = 37, K = 1024;
  const a = randomArray(rng, M * K), b = randomArray(rng, N * K);
  const ref = new Float32Array(M * N), c = new Float32Array(M * N);
  js.gemmNT(M, N, K, a, 0, b, 0, ref, 0, false);
  wasm.gemmNT(M, N, K, a, 0, b, 0, c, 0, false);
  // sums of 1024 unit normals: |C| ~ 32, float32 error ~ √K·ε·32
  assertClose(c, ref, { rtol: 1e-4, atol: 1e-4 }, 'wasm gemmNT K=1024');
}));

// ---------------------------------------------------------------------------
// Grouped products
// ---------------------------------------------------------------------------

interface Case { k: number; m: number; s: number; leaves: number[]; what: string }

function groupedCases(): Case[] {
  const rng = new Rng(2001);
  const out: Case[] = [];
  for (let k = 0; k <= 4; k++) {
    for (const [m, s] of [[1, 1], [3, 5], [8, 8], [9, 17], [20, 7], [5, 33]]) {
      const L = 2 ** k;
      out.push({ k, m, s, leaves: Array.from({ length: 37 }, () => rng.int(L)), what: 'random' });
      out.push({ k, m, s, leaves: Array(21).fill(L - 1), what: 'all in the last leaf' });
      out.push({ k, m, s, leaves: Array(19).fill(0), what: 'all in the first leaf' });
      out.push({ k, m, s, leaves: Array.from({ length: 23 }, (_, i) => (i * 3) % L).filter((l) => L === 1 || l !== (L >> 1)), what: 'empty leaves' });
      out.push({ k, m, s, leaves: [rng.int(L)], what: 'one example' });
      out.push({ k, m, s, leaves: [], what: 'empty batch' });
    }
  }
  // many rows per node: the packed path with several MC row blocks and edge tiles
  out.push({ k: 1, m: 24, s: 40, leaves: Array.from({ length: 300 }, () => rng.int(2)), what: 'large nodes' });
  out.push({ k: 0, m: 70, s: 530, leaves: Array(140).fill(0), what: 'k=0, s > KC' });
  // fewer rows than outputs: the forward product runs transposed (rows packed, U read in place)
  out.push({ k: 1, m: 200, s: 48, leaves: Array.from({ length: 60 }, () => rng.int(2)), what: 'rows < m' });
  // node weights are streamed through a 32 768-float buffer: three small nodes per batch (ragged last batch);
  // larger nodes one at a time, those with fewer than 8 rows a block of 64 rows of U at a time (ragged last
  // block), and with 165 rows of 200 a last block of 5 rows merged into the first
  out.push({ k: 2, m: 100, s: 100, leaves: Array.from({ length: 30 }, () => rng.int(4)), what: 'three nodes per streamed batch' });
  out.push({ k: 2, m: 300, s: 500, leaves: Array.from({ length: 20 }, () => rng.int(4)), what: 'large nodes, few-row ones streamed by rows' });
  out.push({ k: 1, m: 165, s: 200, leaves: Array.from({ length: 6 }, () => rng.int(2)), what: 'streamed rows, short last block merged' });
  // 1–7 rows per leaf, K with a tail past its steps of 8 and 4 (resident tables: rowsNT)
  for (const s of [3, 31, 47]) {
    out.push({ k: 3, m: 13, s, leaves: [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7], what: '1–7 rows per leaf' });
  }
  return out;
}


/** Node slots on no example's path must stay bit-identical. */
function checkUntouched(actual: Float32Array, before: Float32Array, size: number, used: Set<number>, what: string): void {
  for (let t = 0; t * size < before.length; t++) {
    if (used.has(t)) continue;
    assertBitEqual(actual.subarray(t * size, (t + 1) * size), before.subarray(t * size, (t + 1) * size), `${what}: node ${t} off every path`);
  }
}

function usedNodes(leaves: number[], k: number): Set<number> {
  const used = new Set<number>();
  for (const L of leaves) for (let d = 0; d <= k; d++) used.add(pathNode(L, d, k));
  return used;
}

onEachModule((wasm, label) => test(`${label}: groupedForward matches js (k = 0..4, one leaf, empty leaves, one example, empty batch, large nodes)`, () => {
  const rng = new Rng(2002);
  for (const c of groupedCases()) {
    const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
    const rt = route(leaves, k);
    const xs = randomArray(rng, N * s), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
    const ys = randomArray(rng, N * m), ref = ys.slice();
    const xs0 = xs.slice(), w0 = w.slice(), b0 = bias.slice();
    js.groupedForward(rt, xs, s, w, bias, m, ref);
    wasm.groupedForward(rt, xs, s, w, bias, m, ys);
    const what = `wasm groupedForward k=${k} m=${m} s=${s} N=${N} ${c.what}`;
    assertClose(ys, ref, tolFor((k + 1) * (s + 1)), what);
    assertBitEqual(xs, xs0, `${what}: xs unchanged`);
    assertBitEqual(w, w0, `${what}: w unchanged`);
    assertBitEqual(bias, b0, `${what}: bias unchanged`);
  }
}));

onEachModule((wasm, label) => test(`${label}: a node of 1–7 rows gives each row the bits it gets alone (the few-row kernel groups rows in threes and pairs)`, () => {
  const rng = new Rng(2005);
  // K = s: no step of 8 (3, 5), one step of 4 and none of 8 (5), every K mod 8 from 1 to 7, several blocks (512)
  for (const s of [3, 5, 12, 14, 31, 47, 49, 50, 512]) {
    const m = 13, w = wasm.floats(m * s), bias = wasm.floats(m);
    w.set(randomArray(rng, m * s));
    bias.set(randomArray(rng, m));
    for (let M = 1; M <= 7; M++) {
      // in place (the backend's arrays): every row of the node through the few-row kernel in one call
      const xs = wasm.floats(M * s), ys = wasm.floats(M * m);
      xs.set(randomArray(rng, M * s));
      ys.fill(0);
      wasm.groupedForward(route(Array(M).fill(0), 0), xs, s, w, bias, m, ys);
      for (let i = 0; i < M; i++) {
        const x1 = wasm.floats(s), y1 = wasm.floats(m);
        x1.set(xs.subarray(i * s, (i + 1) * s));
        y1.fill(0);
        wasm.groupedForward(route([0], 0), x1, s, w, bias, m, y1);
        assertBitEqual(ys.subarray(i * m, (i + 1) * m), y1, `s=${s}: row ${i} of a node of ${M} rows against the row alone`);
      }
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: routedForward matches js (a column block of wider x rows; y set and added)`, () => {
  const rng = new Rng(2005);
  for (const c of groupedCases()) {
    const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
    const rt = route(leaves, k);
    const n = s + 4, x = randomArray(rng, N * n), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
    for (const acc of [false, true]) {
      const y0 = randomArray(rng, N * m);
      const [xr, xw, sr, sw, yr, yw] = [new Float32Array(N * s), new Float32Array(N * s), new Float32Array(N * m),
        new Float32Array(N * m), y0.slice(), y0.slice()];
      js.routedForward(rt, x, n, 3, xr, s, w, bias, m, sr, yr, acc);
      wasm.routedForward(rt, x, n, 3, xw, s, w, bias, m, sw, yw, acc);
      const what = `wasm routedForward k=${k} m=${m} s=${s} N=${N} ${c.what} acc=${acc}`;
      assertBitEqual(xw, xr, `${what}: xs`);
      assertClose(yw, yr, tolFor((k + 1) * (s + 1)), what);
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: packed (resident) tables: the forward matches js, follows packNodes after a change, and falls back when the slab is too small`, () => {
  const rng = new Rng(2006);
  const bytes = readFileSync(new URL('../../wasm/treegate.wasm', import.meta.url));
  // a slab of 64 KB: the small cases stay resident (and evict each other), the large nodes are copied per call;
  // none: every node copied per call
  const small = createWasmBackend(compileWasmSync(new Uint8Array(bytes)), { residentBytes: 65536 });
  const none = createWasmBackend(compileWasmSync(new Uint8Array(bytes)), { residentBytes: 0 });
  for (const be of [wasm, small, none]) {
    for (const c of groupedCases()) {
      const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
      const rt = route(leaves, k);
      const xs = randomArray(rng, N * s), w = randomArray(rng, T * m * s), bias = randomArray(rng, T * m);
      const what = `wasm packed forward k=${k} m=${m} s=${s} N=${N} ${c.what}${be === small ? ' (64 KB slab)' : be === none ? ' (no slab)' : ''}`;
      for (let round = 0; round < 3; round++) {
        const table = be.packNodes(w, T, m, s);
        for (let call = 0; call < 2; call++) { // the second call reads the resident copy
          const ys = randomArray(rng, N * m), ref = ys.slice();
          js.groupedForward(rt, xs, s, w, bias, m, ref);
          be.groupedForward(rt, xs, s, table, bias, m, ys, true);
          assertClose(ys, ref, tolFor((k + 1) * (s + 1)), `${what} round ${round} call ${call}`);
        }
        for (let i = 0; i < w.length; i++) w[i] += 0.25; // the tables change: packNodes again before the next use
      }
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: groupedBackwardInput matches js, for all nodes and for each depth range g0..g1 (incl. empty ranges)`, () => {
  const rng = new Rng(2003);
  for (const c of groupedCases()) {
    const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
    const rt = route(leaves, k);
    const dys = randomArray(rng, N * m), w = randomArray(rng, T * m * s);
    const what = `wasm groupedBackwardInput k=${k} m=${m} s=${s} N=${N} ${c.what}`;
    const dxs = randomArray(rng, N * s), ref = dxs.slice();
    js.groupedBackwardInput(rt, dys, m, w, s, ref);
    wasm.groupedBackwardInput(rt, dys, m, w, s, dxs);
    assertClose(dxs, ref, tolFor((k + 1) * m), what);
    for (let d = 0; d <= k; d++) {
      const g0 = rt.depthStart[d], g1 = rt.depthStart[d + 1];
      const part = randomArray(rng, N * s), partRef = part.slice();
      js.groupedBackwardInput(rt, dys, m, w, s, partRef, g0, g1);
      wasm.groupedBackwardInput(rt, dys, m, w, s, part, g0, g1);
      assertClose(part, partRef, tolFor(m), `${what} depth ${d} (nodes ${g0}..${g1})`);
    }
    const none = randomArray(rng, N * s), noneRef = none.slice();
    wasm.groupedBackwardInput(rt, dys, m, w, s, none, 0, 0);
    assertBitEqual(none, noneRef, `${what}: empty node range`);
  }
}));

onEachModule((wasm, label) => test(`${label}: groupedBackwardWeight matches js; nodes off every path stay bit-identical`, () => {
  const rng = new Rng(2004);
  for (const c of groupedCases()) {
    const { k, m, s, leaves } = c, N = leaves.length, T = 2 ** (k + 1) - 1;
    const rt = route(leaves, k);
    const dys = randomArray(rng, N * m), xs = randomArray(rng, N * s);
    const dw = randomArray(rng, T * m * s), dbias = randomArray(rng, T * m);
    const dw0 = dw.slice(), db0 = dbias.slice(), refW = dw.slice(), refB = dbias.slice();
    js.groupedBackwardWeight(rt, dys, m, xs, s, refW, refB);
    wasm.groupedBackwardWeight(rt, dys, m, xs, s, dw, dbias);
    const what = `wasm groupedBackwardWeight k=${k} m=${m} s=${s} N=${N} ${c.what}`;
    assertClose(dw, refW, tolFor(N), `${what}: dU`);
    assertBitEqual(dbias, refB, `${what}: dc (row-order float32 sums, like the reference)`);
    const used = usedNodes(leaves, k);
    checkUntouched(dw, dw0, m * s, used, `${what}: dU`);
    checkUntouched(dbias, db0, m, used, `${what}: dc`);
  }
}));

// ---------------------------------------------------------------------------
// Elementwise ops
// ---------------------------------------------------------------------------

const COUNTS = [0, 1, 2, 3, 4, 5, 7, 8, 17, 1000];

onEachModule((wasm, label) => test(`${label}: addRowVector and addColumnSums are bit-identical to js (odd widths, one row, no rows)`, () => {
  const rng = new Rng(3001);
  for (const rows of [0, 1, 3, 64]) {
    for (const cols of [1, 3, 4, 5, 9, 16, 21, 33]) {
      const y = randomArray(rng, rows * cols + 2), v = randomArray(rng, cols), ref = y.slice();
      js.addRowVector(ref, rows, cols, v);
      wasm.addRowVector(y, rows, cols, v);
      assertBitEqual(y, ref, `addRowVector rows=${rows} cols=${cols}`);
      const x = randomArray(rng, rows * cols), out = randomArray(rng, cols + 2), outRef = out.slice();
      js.addColumnSums(x, rows, cols, outRef);
      wasm.addColumnSums(x, rows, cols, out);
      assertBitEqual(out, outRef, `addColumnSums rows=${rows} cols=${cols}`);
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: rowDots and scaleRows are bit-identical to js (odd widths, odd rows, no rows, no columns; accumulate, in place)`, () => {
  const rng = new Rng(3002);
  for (const rows of [0, 1, 2, 3, 64]) {
    for (const cols of [0, 1, 3, 4, 5, 33, 257]) {
      for (const acc of [false, true]) {
        const a = randomArray(rng, rows * cols), b = randomArray(rng, rows * cols), out = randomArray(rng, rows + 1), ref = out.slice();
        js.rowDots(a, b, rows, cols, ref, acc);
        wasm.rowDots(a, b, rows, cols, out, acc);
        assertBitEqual(out, ref, `rowDots rows=${rows} cols=${cols} accumulate=${acc}`);
      }
      const x = randomArray(rng, rows * cols), scale = randomArray(rng, rows), y = new Float32Array(rows * cols), yRef = y.slice();
      js.scaleRows(x, rows, cols, scale, yRef);
      wasm.scaleRows(x, rows, cols, scale, y);
      assertBitEqual(y, yRef, `scaleRows rows=${rows} cols=${cols}`);
      wasm.scaleRows(x, rows, cols, scale, x);
      assertBitEqual(x, yRef, `scaleRows in place rows=${rows} cols=${cols}`);
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: relu forward/backward, tanh backward and addArrays are bit-identical to js; tanh forward within ~7 ulp (max abs error 4.2e-7 measured)`, () => {
  const rng = new Rng(3002);
  for (const n of COUNTS) {
    const x = randomArray(rng, n + 3, 3);
    if (n > 4) { x[0] = 0; x[1] = -0; x[2] = NaN; x[3] = 1e-30; x[4] = -1e-30; }
    const y = randomArray(rng, n + 3), yRef = y.slice();
    js.reluForward(x, yRef, n);
    wasm.reluForward(x, y, n);
    assertBitEqual(y, yRef, `reluForward n=${n}`);
    const dy = randomArray(rng, n + 3), dx = randomArray(rng, n + 3), dxRef = dx.slice();
    js.reluBackward(yRef, dy, dxRef, n);
    wasm.reluBackward(yRef, dy, dx, n);
    assertBitEqual(dx, dxRef, `reluBackward n=${n}`);
    const sum = randomArray(rng, n + 3), sumRef = sum.slice();
    js.addArrays(x, dy, sumRef, n);
    wasm.addArrays(x, dy, sum, n);
    assertBitEqual(sum, sumRef, `addArrays n=${n} (the entries past n untouched)`);
    const t = randomArray(rng, n + 3), tRef = t.slice();
    js.tanhForward(x, tRef, n);
    wasm.tanhForward(x, t, n);
    assertClose(t, tRef, { rtol: 5e-7, atol: 1e-7 }, `tanhForward n=${n}`);
    const g = randomArray(rng, n + 3), gRef = g.slice();
    js.tanhBackward(tRef, dy, gRef, n);
    wasm.tanhBackward(tRef, dy, g, n);
    assertBitEqual(g, gRef, `tanhBackward n=${n}`);
  }
}));

onEachModule((wasm, label) => test(`${label}: tanhForward over a dense sweep of [−12, 12], tiny values, ±∞ and NaN`, () => {
  const xs: number[] = [];
  for (let v = -12; v <= 12; v += 1 / 512) xs.push(v);
  xs.push(1e-3, -1e-3, 4e-4, 3.9e-4, 1e-7, -1e-7, 0, -0, 1e-40, 7.99, 8.01, 50, -50, Infinity, -Infinity, NaN);
  const x = Float32Array.from(xs), y = new Float32Array(x.length), ref = new Float32Array(x.length);
  js.tanhForward(x, ref, x.length);
  wasm.tanhForward(x, y, x.length);
  assertClose(y, ref, { rtol: 5e-7, atol: 1e-7 }, 'tanhForward sweep');
  const z = new Float32Array([-0, 0, -0, -1e-30, 5]), tz = new Float32Array(5);
  wasm.tanhForward(z, tz, 5);
  assert.ok(Object.is(tz[0], -0) && Object.is(tz[1], 0) && Object.is(tz[2], -0), 'tanh keeps the sign of zero');
}));

test('wasm: the elementwise kernels write their count of floats and nothing past it (the module\'s exports called directly: the backend copies back only the count, so an overrun would go unseen through it)', () => {
  const ex = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(DEFAULT_WASM_URL))).exports as Record<string, unknown>;
  const F = new Float32Array((ex.memory as WebAssembly.Memory).buffer);
  const call = (name: string, ...args: number[]) => (ex[name] as (...a: number[]) => void)(...args);
  // 16 floats each from a cache line past the module's static data: two inputs, then the output and what follows it
  const x = Math.ceil((ex.heapBase as () => number)() / 64) * 64, b = x + 64, out = x + 128, SENTINEL = 777;
  const rng = new Rng(3010);
  for (let n = 0; n <= 9; n++) {
    const xv = randomArray(rng, 16, 2), bv = randomArray(rng, 16);
    F.set(xv, x >>> 2);
    F.set(bv, b >>> 2);
    // [kernel, its arguments, the reference into a count of floats, bit for bit (or within tanh's ulps)]
    const ops: Array<[string, number[], (y: Float32Array) => void, boolean]> = [
      ['reluForward', [x, out, n], (y) => js.reluForward(xv, y, n), true],
      ['reluBackward', [x, b, out, n], (y) => js.reluBackward(xv, bv, y, n), true],
      ['tanhForward', [x, out, n], (y) => js.tanhForward(xv, y, n), false],
      ['tanhBackward', [x, b, out, n], (y) => js.tanhBackward(xv, bv, y, n), true],
      ['addArrays', [x, b, out, n], (y) => js.addArrays(xv, bv, y, n), true],
    ];
    for (const [name, args, reference, exact] of ops) {
      F.fill(SENTINEL, out >>> 2, (out >>> 2) + 16);
      call(name, ...args);
      const got = F.slice(out >>> 2, (out >>> 2) + 16), ref = new Float32Array(n);
      reference(ref);
      if (exact) assertBitEqual(got.subarray(0, n), ref, `${name} n=${n}`);
      else assertClose(got.subarray(0, n), ref, { rtol: 5e-7, atol: 1e-7 }, `${name} n=${n}`);
      assertBitEqual(got.subarray(n), new Float32Array(16 - n).fill(SENTINEL), `${name} n=${n}: the floats past the count`);
    }
  }
});

onEachModule((wasm, label) => test(`${label}: softmaxCrossEntropy matches js (loss, correct count, dlogits; with and without dlogits; 0 rows)`, () => {
  const rng = new Rng(3003);
  for (const rows of [0, 1, 5, 64]) {
    for (const cols of [2, 3, 10, 17]) {
      const logits = randomArray(rng, rows * cols, 4);
      if (rows > 1) logits[cols + 1] = logits[cols]; // a tie: the first maximum wins in both
      const labels = Int32Array.from({ length: rows }, () => rng.int(cols));
      const dl = randomArray(rng, rows * cols), dlRef = dl.slice();
      const r = wasm.softmaxCrossEntropy(logits, rows, cols, labels, dl);
      const e = js.softmaxCrossEntropy(logits, rows, cols, labels, dlRef);
      const what = `softmaxCrossEntropy rows=${rows} cols=${cols}`;
      assert.equal(r.correct, e.correct, `${what}: correct`);
      assertClose([r.loss], [e.loss], { rtol: 1e-12, atol: 1e-12 }, `${what}: loss`);
      assertClose(dl, dlRef, { rtol: 1e-6, atol: 1e-9 }, `${what}: dlogits`);
      const r2 = wasm.softmaxCrossEntropy(logits, rows, cols, labels, null);
      assert.equal(r2.correct, e.correct);
      assertClose([r2.loss], [e.loss], { rtol: 1e-12, atol: 1e-12 }, `${what}: loss without dlogits`);
    }
  }
}));

onEachModule((wasm, label) => test(`${label}: gatherRows and scatterRows are bit-identical to js (strides, offsets, repeated rows, accumulate)`, () => {
  const rng = new Rng(3004);
  for (const count of [0, 1, 5, 40]) {
    for (const [cols, stride, offset] of [[1, 1, 0], [3, 7, 2], [8, 8, 0], [5, 16, 11]]) {
      const srcRows = 50;
      const idx = Int32Array.from({ length: count + 2 }, () => 3 + rng.int(srcRows - 3));
      const src = randomArray(rng, srcRows * stride);
      const dst = randomArray(rng, count * cols + 3), dstRef = dst.slice();
      js.gatherRows(src, stride, offset, idx, count, cols, dstRef);
      wasm.gatherRows(src, stride, offset, idx, count, cols, dst);
      assertBitEqual(dst, dstRef, `gatherRows count=${count} cols=${cols} stride=${stride} offset=${offset}`);
      for (const accumulate of [false, true]) {
        const from = randomArray(rng, count * cols);
        const out = randomArray(rng, srcRows * stride), outRef = out.slice();
        js.scatterRows(from, cols, idx, count, outRef, stride, offset, accumulate);
        wasm.scatterRows(from, cols, idx, count, out, stride, offset, accumulate);
        assertBitEqual(out, outRef, `scatterRows count=${count} cols=${cols} stride=${stride} offset=${offset} accumulate=${accumulate}`);
      }
    }
  }
  // a permutation, as the tree layer uses it
  const perm = Int32Array.from({ length: 30 }, (_, i) => (i * 7) % 30);
  const x = randomArray(rng, 30 * 12), g = new Float32Array(30 * 4), gRef = new Float32Array(30 * 4);
  js.gatherRows(x, 12, 8, perm, 30, 4, gRef);
  wasm.gatherRows(x, 12, 8, perm, 30, 4, g);
  assertBitEqual(g, gRef, 'gatherRows permutation');
  // a batch drawn from a large dataset: the rows' span is far more than the rows (copied row by row), and the
  // same rows packed close together (the span moved into the linear memory)
  const data = randomArray(rng, 5000 * 9);
  for (const batch of [Int32Array.of(4999, 0, 2500, 17, 17), Int32Array.of(12, 10, 11, 13, 10)]) {
    const d = new Float32Array(5 * 6), dRef = new Float32Array(5 * 6);
    js.gatherRows(data, 9, 2, batch, 5, 6, dRef);
    wasm.gatherRows(data, 9, 2, batch, 5, 6, d);
    assertBitEqual(d, dRef, `gatherRows batch ${Array.from(batch).join(',')}`);
  }
}));

/**
 * Adam in float32 as the wasm kernels compute it (assembly/optim.ts; native's adamSlot, in the same order, comes out
 * 1 ulp away in places, as its compiler builds it, so native.test.ts checks it against js with a large ε instead):
 * the settings and per-slot scalars rounded to float32 once, then one rounded operation at a time in the reference's
 * order. Each is exact here: a float32 operation on float32 values computed in float64 and rounded once gives the
 * float32 result.
 */
function adamF32(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array,
  count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, b1: number, b2: number,
  eps: number, clearGrad: boolean): void {
  const f = Math.fround, lr1 = f(lr), b11 = f(b1), b21 = f(b2), a11 = f(1 - b1), a21 = f(1 - b2), eps1 = f(eps);
  for (let q = 0; q < count; q++) {
    const s = slots[q], t = ++steps[s];
    const l = f(decayScale ? weightDecay * decayScale[s] : 0), c1 = f(1 / (1 - b1 ** t)), c2 = f(1 / (1 - b2 ** t));
    for (let e = s * slotSize; e < (s + 1) * slotSize; e++) {
      const ge = g[e], we = w[e];
      const me = f(f(b11 * m[e]) + f(a11 * ge)), ve = f(f(b21 * v[e]) + f(f(a21 * ge) * ge));
      m[e] = me;
      v[e] = ve;
      w[e] = f(we - f(lr1 * f(f(f(me * c1) / f(f(Math.sqrt(f(ve * c2))) + eps1)) + f(l * we))));
    }
    if (clearGrad) g.fill(0, s * slotSize, (s + 1) * slotSize);
  }
}

onEachModule((wasm, label) => test(`${label}: sgdUpdate is bit-identical to js; adamUpdate to Adam in float32, and close to js (listed slots only, per-slot steps, decay on/off)`, () => {
  const rng = new Rng(3005);
  // slots are streamed 16 384 floats per array at a time: 5000 gives batches of 3 slots, 20 001 two pieces of one;
  // Adam takes four weights per step, then one: 6, 7 and 11 end in tails of 2 and 3
  for (const slotSize of [1, 2, 3, 6, 7, 8, 11, 17, 5000, 20001]) {
    for (const decay of [false, true]) {
      const slotsTotal = 12, n = slotsTotal * slotSize;
      const decayScale = decay ? Float32Array.from({ length: slotsTotal }, (_, t) => 0.5 ** (t % 4)) : null;
      for (const list of [[], [0], [7, 2, 11, 5], Array.from({ length: slotsTotal }, (_, t) => t)]) {
        const slots = Int32Array.from(list), count = list.length;
        const what = `slotSize=${slotSize} decay=${decay} slots=[${list.join(',')}]`;
        // SGD, three steps with fresh gradients (momentum state carries over)
        const w = randomArray(rng, n), v = randomArray(rng, n, 0.1), steps = Int32Array.from({ length: slotsTotal }, () => rng.int(5));
        const wr = w.slice(), vr = v.slice(), sr = steps.slice();
        for (let it = 0; it < 3; it++) {
          const g = randomArray(rng, n), gw = g.slice(), clear = it === 2; // the last step clears its gradients
          js.sgdUpdate(wr, g, vr, slotSize, slots, count, sr, decayScale, 0.05, 1e-3, 0.9, clear);
          wasm.sgdUpdate(w, gw, v, slotSize, slots, count, steps, decayScale, 0.05, 1e-3, 0.9, clear);
          assertBitEqual(gw, g, `sgd ${what}: gradient after step ${it + 1} (clear ${clear})`);
        }
        assertBitEqual(w, wr, `sgd ${what}: w`);
        assertBitEqual(v, vr, `sgd ${what}: v`);
        assert.deepEqual([...steps], [...sr], `sgd ${what}: steps`);
        // Adam
        const aw = randomArray(rng, n), am = randomArray(rng, n, 0.1), av = randomArray(rng, n, 0.1).map(Math.abs);
        const asteps = Int32Array.from({ length: slotsTotal }, () => rng.int(5));
        const awr = aw.slice(), amr = am.slice(), avr = av.slice(), asr = asteps.slice();
        const aw32 = aw.slice(), am32 = am.slice(), av32 = av.slice(), as32 = asteps.slice();
        for (let it = 0; it < 3; it++) {
          const g = randomArray(rng, n), gw = g.slice(), g32 = g.slice(), clear = it === 2;
          js.adamUpdate(awr, g, amr, avr, slotSize, slots, count, asr, decayScale, 1e-3, 1e-2, 0.9, 0.999, 1e-8, clear);
          adamF32(aw32, g32, am32, av32, slotSize, slots, count, as32, decayScale, 1e-3, 1e-2, 0.9, 0.999, 1e-8, clear);
          wasm.adamUpdate(aw, gw, am, av, slotSize, slots, count, asteps, decayScale, 1e-3, 1e-2, 0.9, 0.999, 1e-8, clear);
          assertBitEqual(gw, g, `adam ${what}: gradient after step ${it + 1} (clear ${clear})`);
        }
        assertBitEqual(aw, aw32, `adam ${what}: w as float32 Adam`);
        assertBitEqual(am, am32, `adam ${what}: m as float32 Adam`);
        assertBitEqual(av, av32, `adam ${what}: v as float32 Adam`);
        assertClose(aw, awr, { rtol: 1e-5, atol: 1e-6 }, `adam ${what}: w against the float64 reference`);
        assertClose(am, amr, { rtol: 1e-5, atol: 1e-7 }, `adam ${what}: m against the float64 reference`);
        assertClose(av, avr, { rtol: 1e-5, atol: 1e-8 }, `adam ${what}: v against the float64 reference`);
        assert.deepEqual([...asteps], [...asr], `adam ${what}: steps`);
      }
    }
  }
}));

// ---------------------------------------------------------------------------
// Layers and models under setBackend('wasm')
// ---------------------------------------------------------------------------

registerBackend(wasm);

/** Runs f under the named backend, restoring js afterwards. */
function under<T>(name: string, f: () => T): T {
  setBackend(name);
  try {
    return f();
  } finally {
    setBackend('js');
  }
}


test('wasm: a TreeGated layer gives the same forward (train and infer) and gradients as under js', () => {
  for (const gating of ['units', 'projection'] as const) {
    for (const [N, n, m, k, blocks] of [[1, 8, 3, 2, 1], [50, 24, 16, 3, 2], [200, 64, 40, 4, 1], [33, 12, 9, 0, 3]] as const) {
      const run = (name: string) => under(name, () => {
        const rng = new Rng(4001);
        const layer = new TreeGated({ inputSize: n, outputSize: m, depth: k, blocks, gating, nodeInit: 'small' }).init(rng);
        for (const b of layer.bias) for (let i = 0; i < b.data.length; i++) b.data[i] = rng.normal();
        const x = gating === 'units'
          ? unitsBatch(rng, layer, N, () => rng.int(2 ** k))
          : projectionBatch(rng, layer, N, 0.05);
        const yInfer = layer.forward(x, 'infer').data.slice();
        const y = layer.forward(x, 'train').data.slice();
        const dy = randomMatrix(rng, N, m);
        const dx = layer.backward(dy, true)!.data.slice();
        return { y, yInfer, dx, dW: layer.weight.map((p) => p.grad.slice()), db: layer.bias.map((p) => p.grad.slice()) };
      });
      const r = run('wasm'), e = run('js');
      const what = `TreeGated ${gating} N=${N} n=${n} m=${m} k=${k} blocks=${blocks}`;
      assertClose(r.y, e.y, near(e.y, 1e-4), `${what}: train forward`);
      assertClose(r.yInfer, e.yInfer, near(e.yInfer, 1e-4), `${what}: infer forward (collapsed)`);
      assertClose(r.dx, e.dx, near(e.dx, 1e-4), `${what}: dx`);
      for (let j = 0; j < blocks; j++) {
        assertClose(r.dW[j], e.dW[j], near(e.dW[j], 1e-4), `${what}: dU block ${j}`);
        assertClose(r.db[j], e.db[j], near(e.db[j], 1e-4), `${what}: dc block ${j}`);
      }
    }
  }
});

test('wasm: Model.lossAndGrad gives the same loss, accuracy and gradients as under js (dense, trees, relu, tanh, straight-through)', () => {
  const cfg: ModelConfig = {
    inputSize: 20,
    numClasses: 5,
    layers: [
      { kind: 'dense', inputSize: 20, outputSize: 32 },
      { kind: 'activation', fn: 'relu' },
      { kind: 'tree', inputSize: 32, outputSize: 24, depth: 3, blocks: 2, gating: 'units', gateUnits: [1, 5, 9], nodeInit: 'small' },
      { kind: 'activation', fn: 'tanh' },
      { kind: 'tree', inputSize: 24, outputSize: 16, depth: 2, blocks: 1, gating: 'projection', nodeInit: 'small', straightThrough: true },
      { kind: 'activation', fn: 'relu' },
      { kind: 'dense', inputSize: 16, outputSize: 5 },
    ],
  };
  const N = 96;
  const run = (name: string) => under(name, () => {
    const model = new Model(cfg, new Rng(5001));
    const rng = new Rng(5002);
    const x = matrix(N, cfg.inputSize, randomArray(rng, N * cfg.inputSize));
    const labels = Int32Array.from({ length: N }, () => rng.int(cfg.numClasses));
    model.clearGrad();
    const r = model.lossAndGrad(x, labels);
    const ev = model.evaluate(x, labels, 40);
    const grads = model.params().map((p) => ({ name: p.name, g: p.grad.slice() }));
    // two Adam steps: the optimizer's lazy updates run on the backend too
    const opt = new Optimizer(model.params(), { kind: 'adam', weightDecay: 1e-3 });
    opt.step(1e-2);
    model.clearGrad();
    const r2 = model.lossAndGrad(x, labels);
    opt.step(1e-2);
    const weights = model.params().map((p) => p.data.slice());
    return { r, ev, grads, r2, weights };
  });
  const w = run('wasm'), e = run('js');
  assert.equal(w.r.correct, e.r.correct, 'correct count');
  assertClose([w.r.loss], [e.r.loss], { rtol: 1e-5, atol: 1e-6 }, 'loss');
  assertClose([w.ev.loss, w.ev.accuracy], [e.ev.loss, e.ev.accuracy], { rtol: 1e-5, atol: 1e-6 }, 'evaluate (collapsed inference)');
  assert.equal(w.grads.length, e.grads.length);
  for (let i = 0; i < e.grads.length; i++) {
    assertClose(w.grads[i].g, e.grads[i].g, near(e.grads[i].g, 2e-4), `gradient of ${e.grads[i].name}`);
  }
  assertClose([w.r2.loss], [e.r2.loss], { rtol: 1e-4, atol: 1e-5 }, 'loss after one Adam step');
  for (let i = 0; i < e.weights.length; i++) {
    // Adam normalizes each step to ~lr, so tiny gradient differences can move a weight by up to ~lr·(relative noise)
    assertClose(w.weights[i], e.weights[i], { rtol: 1e-3, atol: 1e-3 }, `weights of ${e.grads[i].name} after two Adam steps`);
  }
});

test('wasm: calls of growing size grow the linear memory and keep working afterwards', () => {
  const rng = new Rng(6001);
  for (const [M, N, K] of [[4, 4, 4], [300, 700, 900], [5, 6, 7]] as const) {
    const a = randomArray(rng, M * K), b = randomArray(rng, K * N);
    const c = new Float32Array(M * N), ref = new Float32Array(M * N);
    js.gemmNN(M, N, K, a, 0, b, 0, ref, 0, false);
    wasm.gemmNN(M, N, K, a, 0, b, 0, c, 0, false);
    assertClose(c, ref, tolFor(K), `gemmNN ${M}×${N}×${K} after growth`);
  }
});
