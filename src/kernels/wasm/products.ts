/**
 * The wasm backend's products: GEMM (packed, or few rows against streamed weights), the grouped products over a
 * routing's nodes (forward, input gradient, weight gradient) and the fused training steps that apply the optimizer
 * to each node's weights as its gradient is made (groupedBackwardWeightStep, pathWeightStep).
 *
 * Copied operands read once by the kernel (the weights of few-row products and
 * of grouped products' nodes) are streamed
 * through one cache-sized buffer, a block at a time, so that the kernel reads
 * them from cache rather than from memory written just before.
 *
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
import { OP_GEMM, OP_NODE_STEP, OP_PACKED, OP_PATH_STEP, OP_ROWS, SMALL_M, span, STREAM_FLOATS, UPDATE_NS, work, type WasmContext } from './module.js';
import type { Routing } from '../routing.js';
import { applyWeightStep, composePathWeightStep, type WeightStep } from '../weight-step.js';
import type { Scratch } from './threads.js';
import type { elementwiseOps } from './elementwise.js';
import type { optimizerOps } from './optim.js';

/** The products on the module's kernels (ctx: createWasmBackend's context), with the ops they compose. */
export function productOps(ctx: WasmContext, ew: ReturnType<typeof elementwiseOps>, opt: ReturnType<typeof optimizerOps>) {
  const { k, A, threadsNow, scratchFor, run, pipeline, parts, widest, nodeJobs, inPlace, addr, residentNodes, counts } = ctx;
  const { addRowVector } = ew;
  const { stepSettings, slotScalars, updateBuffers, stepSlots, sgdUpdate, adamUpdate } = opt;
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
    weightGradients(rt, dys, m, xs, s, dw, dbias, { w, st }); // (st: checked.ts's checked copy)
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
    counts.pathSteps++;
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
      counts.nodeSteps += whole.count;
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

  return { gemmStrided, gemmNT, gemmNN, gemmTN, groupedForward, groupedBackwardInput, groupedBackwardWeight, groupedBackwardWeightStep, pathWeightStep };
}
