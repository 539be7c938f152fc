import { shown, TreegateError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { Routing } from './routing.js';
import { checkWeightStep } from './weight-step.js';

/**
 * A backend's ops behind the argument checks the native addon makes in C++ (native/args.h, and each entry point):
 * sizes, strides and offsets whole and ≥ 0, every index a call will touch inside its array, routings, permutations,
 * labels and optimizer slots in range. Without them the wasm kernels, which address one linear memory, read
 * or wrote the wrong places on bad arguments (a negative stride overwrote their cached tables), and the js
 * reference returned NaN or a result read past a row. Each check is O(1) or linear in the index lists, small
 * beside the op; errors are TreegateErrors naming the op and the argument. The op is given copies of the index lists
 * (ownInts) and of a weight step's settings (checkWeightStep), made before they are checked: an output sharing memory
 * with a list, or a getter read again mid-call, cannot change what was checked (native/args.h's Ids, likewise).
 */
export function withArgumentChecks(b: Backend): Backend {
  return {
    ...b,
    gemmStrided(M, N, K, a, ao, ars, acs, x, bo, brs, bcs, c, co, crs, accumulate) {
      const op = 'gemmStrided';
      ints(op, { M, N, K, ao, ars, acs, bo, brs, bcs, co, crs });
      view(op, 'a', a, ao, M, ars, K, acs);
      view(op, 'b', x, bo, K, brs, N, bcs);
      view(op, 'c', c, co, M, crs, N, 1);
      // (each element of C has one writer: the threads split C's columns, and rows that overlap would share them)
      if (M > 1 && crs < N) fail(op, `c: rows of ${N} floats at a row stride of ${crs} overlap`);
      flag(op, 'accumulate', accumulate);
      b.gemmStrided(M, N, K, a, ao, ars, acs, x, bo, brs, bcs, c, co, crs, accumulate);
    },
    gemmNT(M, N, K, a, ao, x, bo, c, co, accumulate) {
      gemm('gemmNT', M, N, K, a, ao, [M, K], x, bo, [N, K], c, co, accumulate);
      b.gemmNT(M, N, K, a, ao, x, bo, c, co, accumulate);
    },
    gemmNN(M, N, K, a, ao, x, bo, c, co, accumulate) {
      gemm('gemmNN', M, N, K, a, ao, [M, K], x, bo, [K, N], c, co, accumulate);
      b.gemmNN(M, N, K, a, ao, x, bo, c, co, accumulate);
    },
    gemmTN(M, N, K, a, ao, x, bo, c, co, accumulate) {
      gemm('gemmTN', M, N, K, a, ao, [K, M], x, bo, [K, N], c, co, accumulate);
      b.gemmTN(M, N, K, a, ao, x, bo, c, co, accumulate);
    },
    groupedForward(rt, xs, s, w, bias, m, ys, packed = false) {
      const op = 'groupedForward', r = routing(op, rt, w, packed ? b.packedFloats(m, s) : m * s, bias, s, m), N = r.n;
      floats(op, { xs: [xs, N * s], ys: [ys, N * m] });
      flag(op, 'packed', packed);
      b.groupedForward(r, xs, s, w, bias, m, ys, packed);
    },
    routedForward(rt, x, n, off, xs, s, w, bias, m, ys, y, accumulate, packed = false) {
      const op = 'routedForward', r = routing(op, rt, w, packed ? b.packedFloats(m, s) : m * s, bias, s, m), N = r.n;
      ints(op, { n, off });
      floats(op, { xs: [xs, N * s], ys: [ys, N * m] });
      flag(op, 'accumulate', accumulate);
      flag(op, 'packed', packed);
      floats(op, { x: [x, 0], y: [y, 0] });
      // each sorted row reads one row of x and writes one row of y: a permutation, inside both
      r.perm = indices(op, 'perm', rt.perm, N, (i) => i * n + off + s <= x.length && (i + 1) * m <= y.length);
      unique(op, 'perm rows', r.perm, N);
      b.routedForward(r, x, n, off, xs, s, w, bias, m, ys, y, accumulate, packed);
    },
    packNodes(w, T, m, s, out) {
      const op = 'packNodes';
      ints(op, { T, m, s });
      floats(op, { w: [w, T * m * s], ...(out === undefined ? {} : { out: [out, T * b.packedFloats(m, s)] }) });
      return b.packNodes(w, T, m, s, out);
    },
    groupedBackwardInput(rt, dys, m, w, s, dxs, g0, g1) {
      const op = 'groupedBackwardInput', r = routing(op, rt, w, m * s, null, s, m), N = r.n;
      floats(op, { dys: [dys, N * m], dxs: [dxs, N * s] });
      if (g0 !== undefined || g1 !== undefined) {
        const from = g0 ?? 0, to = g1 ?? rt.nodeCount;
        ints(op, { g0: from, g1: to });
        if (from > to || to > rt.nodeCount) fail(op, `node list [${from}, ${to}) is not inside the routing's ${rt.nodeCount} nodes`);
      }
      b.groupedBackwardInput(r, dys, m, w, s, dxs, g0, g1);
    },
    groupedBackwardWeight(rt, dys, m, xs, s, dw, dbias, fresh) {
      const op = 'groupedBackwardWeight', r = routing(op, rt, dw, m * s, dbias, s, m), N = r.n;
      floats(op, { dys: [dys, N * m], xs: [xs, N * s] });
      unique(op, 'node ids', r.node, r.nodeCount); // each node's gradient has one writer
      if (fresh !== undefined && !(fresh instanceof Uint8Array && fresh.length >= rt.nodeCount)) {
        fail(op, 'fresh must be a Uint8Array with an entry per node range');
      }
      b.groupedBackwardWeight(r, dys, m, xs, s, dw, dbias, fresh);
    },
    groupedBackwardWeightStep(rt, dys, m, xs, s, w, dw, dbias, st) {
      const op = 'groupedBackwardWeightStep', r = routing(op, rt, w, m * s, dbias, s, m), N = r.n;
      floats(op, { dys: [dys, N * m], xs: [xs, N * s] });
      const t = checkWeightStep(st);
      optimizerSlots(op, w, t.kind === 'adam' ? [dw, t.m, t.v!] : [dw, t.m], m * s, r.node, r.nodeCount, t.steps, t.decayScale, undefined);
      b.groupedBackwardWeightStep(r, dys, m, xs, s, w, dw, dbias, t);
    },
    pathWeightStep(rt, dys, m, xs, s, w, dw, dbias, st, entry, parent, at, count) {
      const op = 'pathWeightStep', r = routing(op, rt, w, m * s, dbias, s, m), N = r.n;
      floats(op, { dys: [dys, N * m], xs: [xs, N * s] });
      const t = checkWeightStep(st, op);
      ints(op, { count });
      const entries = optimizerSlots(op, w, t.kind === 'adam' ? [dw, t.m, t.v!] : [dw, t.m], m * s, entry, count, t.steps, t.decayScale, undefined);
      const tree = pathTree(op, r, entries, parent, at, count);
      b.pathWeightStep(r, dys, m, xs, s, w, dw, dbias, t, entries, tree.parent, tree.at, count);
    },
    addRowVector(y, rows, cols, v) {
      ints('addRowVector', { rows, cols });
      floats('addRowVector', { y: [y, rows * cols], v: [v, cols] });
      b.addRowVector(y, rows, cols, v);
    },
    addColumnSums(x, rows, cols, out) {
      ints('addColumnSums', { rows, cols });
      floats('addColumnSums', { x: [x, rows * cols], out: [out, cols] });
      b.addColumnSums(x, rows, cols, out);
    },
    rowDots(a, x, rows, cols, out, accumulate) {
      ints('rowDots', { rows, cols });
      floats('rowDots', { a: [a, rows * cols], b: [x, rows * cols], out: [out, rows] });
      flag('rowDots', 'accumulate', accumulate);
      b.rowDots(a, x, rows, cols, out, accumulate);
    },
    scaleRows(x, rows, cols, scale, y) {
      ints('scaleRows', { rows, cols });
      floats('scaleRows', { x: [x, rows * cols], scale: [scale, rows], y: [y, rows * cols] });
      b.scaleRows(x, rows, cols, scale, y);
    },
    reluForward: (x, y, count) => unary('reluForward', b.reluForward, x, y, count),
    tanhForward: (x, y, count) => unary('tanhForward', b.tanhForward, x, y, count),
    reluBackward: (y, dy, dx, count) => binary('reluBackward', b.reluBackward, y, dy, dx, count),
    addArrays(a, x, out, count) {
      ints('addArrays', { count });
      floats('addArrays', { a: [a, count], b: [x, count], out: [out, count] });
      b.addArrays(a, x, out, count);
    },
    addPaths(w, size, node, parent, outAt, count, out) {
      const op = 'addPaths';
      ints(op, { size, count });
      floats(op, { w: [w, 0], out: [out, 0] });
      const nodes = indices(op, 'node', node, count, (t) => (t + 1) * size <= w.length);
      const parents = ownInts(op, 'parent', parent, count), outs = ownInts(op, 'outAt', outAt, count);
      for (let e = 0; e < count; e++) {
        if (parents[e] >= e) fail(op, `parent[${e}] = ${parents[e]}: a parent must come before its child (parent[e] < e, or < 0 for a root)`);
      }
      const written = new Set<number>();
      for (let e = 0; e < count; e++) {
        const o = outs[e];
        if (o < 0) continue;
        if ((o + 1) * size > out.length) fail(op, `outAt[${e}] = ${o} is out of range (out holds ${out.length} floats, ${size} per table)`);
        if (written.has(o)) fail(op, `outAt repeats ${o}: each sum needs its own table of out`);
        written.add(o);
      }
      if (size > 0 && w.buffer === out.buffer && w.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < w.byteOffset + w.byteLength) {
        fail(op, 'out overlaps w: the sums must go to an array of their own');
      }
      b.addPaths(w, size, nodes, parents, outs, count, out);
    },
    tanhBackward: (y, dy, dx, count) => binary('tanhBackward', b.tanhBackward, y, dy, dx, count),
    softmaxCrossEntropy(logits, rows, cols, labels, dlogits) {
      const op = 'softmaxCrossEntropy';
      ints(op, { rows, cols });
      floats(op, { logits: [logits, rows * cols], ...(dlogits === null ? {} : { dlogits: [dlogits, rows * cols] }) });
      return b.softmaxCrossEntropy(logits, rows, cols, indices(op, 'labels', labels, rows, (l) => l < cols), dlogits);
    },
    gatherRows(src, srcStride, srcOffset, idx, count, cols, dst) {
      const op = 'gatherRows';
      ints(op, { srcStride, srcOffset, count, cols });
      floats(op, { src: [src, 0], dst: [dst, count * cols] });
      const rows = cols > 0 ? indices(op, 'idx', idx, count, (r) => r * srcStride + srcOffset + cols <= src.length) : idx;
      b.gatherRows(src, srcStride, srcOffset, rows, count, cols, dst);
    },
    scatterRows(src, cols, idx, count, dst, dstStride, dstOffset, accumulate) {
      const op = 'scatterRows';
      ints(op, { cols, count, dstStride, dstOffset });
      floats(op, { src: [src, count * cols], dst: [dst, 0] });
      flag(op, 'accumulate', accumulate);
      const rows = cols > 0 ? indices(op, 'idx', idx, count, (r) => r * dstStride + dstOffset + cols <= dst.length) : idx;
      b.scatterRows(src, cols, rows, count, dst, dstStride, dstOffset, accumulate);
    },
    sgdUpdate(w, g, v, slotSize, slots, count, steps, decayScale, lr, weightDecay, mu, clearGrad) {
      const own = optimizerSlots('sgdUpdate', w, [g, v], slotSize, slots, count, steps, decayScale, clearGrad);
      b.sgdUpdate(w, g, v, slotSize, own, count, steps, decayScale, lr, weightDecay, mu, clearGrad);
    },
    adamUpdate(w, g, m, v, slotSize, slots, count, steps, decayScale, lr, weightDecay, b1, b2, eps, clearGrad) {
      const own = optimizerSlots('adamUpdate', w, [g, m, v], slotSize, slots, count, steps, decayScale, clearGrad);
      b.adamUpdate(w, g, m, v, slotSize, own, count, steps, decayScale, lr, weightDecay, b1, b2, eps, clearGrad);
    },
  };
}

function unary(op: string, f: (x: Float32Array, y: Float32Array, count: number) => void, x: Float32Array, y: Float32Array, count: number): void {
  ints(op, { count });
  floats(op, { x: [x, count], y: [y, count] });
  f(x, y, count);
}

function binary(op: string, f: (y: Float32Array, dy: Float32Array, dx: Float32Array, count: number) => void,
  y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void {
  ints(op, { count });
  floats(op, { y: [y, count], dy: [dy, count], dx: [dx, count] });
  f(y, dy, dx, count);
}

function fail(op: string, what: string): never {
  throw new TreegateError(`${op}: ${what}`);
}

/** Each value a whole number ≥ 0 (a safe integer). */
function ints(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isSafeInteger(v) || v < 0) fail(op, `${name} must be a whole number ≥ 0, got ${shown(v)}`);
  }
}

/** Each array a Float32Array of at least the given length. */
function floats(op: string, arrays: Record<string, [unknown, number]>): void {
  for (const [name, [a, need]] of Object.entries(arrays)) {
    if (!(a instanceof Float32Array)) fail(op, `${name} must be a Float32Array`);
    if (a.length < need) fail(op, `${name} holds ${a.length} floats, needs ${need}`);
  }
}

function flag(op: string, name: string, v: unknown): void {
  if (typeof v !== 'boolean') fail(op, `${name} must be true or false, got ${shown(v)}`);
}

/** The strided rows × cols view at off lies inside a (nothing to check when it is empty). */
function view(op: string, name: string, a: unknown, off: number, rows: number, rs: number, cols: number, cs: number): void {
  floats(op, { [name]: [a, 0] });
  if (rows > 0 && cols > 0 && off + (rows - 1) * rs + (cols - 1) * cs >= (a as Float32Array).length) {
    fail(op, `${name}: the ${rows}×${cols} view at offset ${off} (strides ${rs}, ${cs}) runs past its ${(a as Float32Array).length} floats`);
  }
}

/** The contiguous products: a, b and c (M×N) as gemmStrided views of the given shapes. */
function gemm(op: string, M: number, N: number, K: number, a: Float32Array, ao: number, as: [number, number],
  x: Float32Array, bo: number, bs: [number, number], c: Float32Array, co: number, accumulate: boolean): void {
  ints(op, { M, N, K, ao, bo, co });
  view(op, 'a', a, ao, as[0], as[1], as[1], 1);
  view(op, 'b', x, bo, bs[0], bs[1], bs[1], 1);
  view(op, 'c', c, co, M, N, N, 1);
  flag(op, 'accumulate', accumulate);
}

/**
 * The first `count` entries of an Int32Array, copied before they are checked, for the op to read instead: an index
 * list that shares memory with one of the op's outputs (two views of one buffer, or both in the wasm backend's memory)
 * would otherwise change under the op's own writes after its check, and send later writes anywhere in the wasm
 * module's memory. Every backend reads the lists as they were when the call began.
 */
function ownInts(op: string, name: string, a: unknown, count: number): Int32Array {
  if (!(a instanceof Int32Array)) fail(op, `${name} must be an Int32Array`);
  if (a.length < count) fail(op, `${name} holds ${a.length} entries, needs ${count}`);
  return a.slice(0, count);
}

/** `count` entries of an Int32Array (a copy: ownInts), each ≥ 0 and accepted by `ok`. */
function indices(op: string, name: string, idx: unknown, count: number, ok: (v: number) => boolean): Int32Array {
  const own = ownInts(op, name, idx, count);
  for (let i = 0; i < count; i++) if (own[i] < 0 || !ok(own[i])) fail(op, `${name}[${i}] = ${own[i]} is out of range`);
  return own;
}

function unique(op: string, name: string, ids: Int32Array, count: number): void {
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    if (seen.has(ids[i])) fail(op, `${name} repeat ${ids[i]}`);
    seen.add(ids[i]);
  }
}

/**
 * A routing's node ranges, copied (ownInts; the op reads the copy, whose perm is routedForward's to copy): nodes
 * within the tables (`w` of `size` floats per node, `bias` of m per node), 0 ≤ start ≤ end ≤ N in order.
 */
function routing(op: string, rt: Routing, w: Float32Array, size: number, bias: Float32Array | null, s: number, m: number): Routing {
  const { nodeCount: G, n: N } = rt;
  ints(op, { s, m, N, nodeCount: G });
  floats(op, { w: [w, 0], ...(bias === null ? {} : { bias: [bias, 0] }) });
  if (s * m === 0) fail(op, `the nodes are ${m}×${s}: empty`);
  const T = Math.min(Math.floor(w.length / size), bias === null ? Infinity : Math.floor(bias.length / m));
  const few = (a: unknown) => !(a instanceof Int32Array) || a.length < G;
  if (few(rt.node) || few(rt.start) || few(rt.end)) fail(op, 'the routing lists fewer nodes than nodeCount');
  const node = rt.node.slice(0, G), start = rt.start.slice(0, G), end = rt.end.slice(0, G);
  for (let g = 0; g < G; g++) {
    if (node[g] < 0 || node[g] >= T) fail(op, `node ${node[g]} is not in the ${T} node tables`);
    if (start[g] < 0 || start[g] > end[g] || end[g] > N) fail(op, `node ${node[g]}'s rows [${start[g]}, ${end[g]}) are not inside [0, ${N})`);
  }
  return Object.assign(Object.create(Routing.prototype) as Routing, { nodeCount: G, n: N, depth: rt.depth, node, start, end, perm: rt.perm });
}

/**
 * pathWeightStep's tree: parents before their children; where at[e] ≥ 0, a range of rt with node entry[e] and no
 * child entries; every range of rt taken by one entry.
 */
function pathTree(op: string, rt: Routing, entry: Int32Array, parent: unknown, at: unknown, count: number): { parent: Int32Array; at: Int32Array } {
  const p = ownInts(op, 'parent', parent, count), r = ownInts(op, 'at', at, count), taken = new Uint8Array(rt.nodeCount), children = new Int32Array(count);
  const path: number[] = []; // the entries from a root down to the last one listed
  for (let e = 0; e < count; e++) {
    if (p[e] >= e) fail(op, `parent[${e}] = ${p[e]}: a parent must come before its child (parent[e] < e, or < 0 for a root)`);
    while (path.length > 0 && path[path.length - 1] !== p[e]) path.pop();
    if (p[e] >= 0 && path.length === 0) {
      fail(op, `parent[${e}] = ${p[e]}: the entries must be listed depth first (an entry's parent is the entry before it or one of that entry's ancestors: each subtree right after its root)`);
    }
    path.push(e);
    if (p[e] >= 0) children[p[e]]++;
    if (r[e] < 0) continue;
    if (r[e] >= rt.nodeCount) fail(op, `at[${e}] = ${r[e]} is not one of the routing's ${rt.nodeCount} ranges`);
    if (rt.node[r[e]] !== entry[e]) fail(op, `at[${e}] = ${r[e]} is node ${rt.node[r[e]]}'s range, not entry ${e}'s node ${entry[e]}`);
    if (taken[r[e]]++) fail(op, `range ${r[e]} is taken by two entries`);
  }
  for (let e = 0; e < count; e++) if (r[e] >= 0 && children[e] > 0) fail(op, `entry ${e} has a range and children: its gradient is one or the other`);
  const left = taken.indexOf(0);
  if (left >= 0) fail(op, `range ${left} (node ${rt.node[left]}) is no entry's: every range's gradient must be stepped`);
  return { parent: p, at: r };
}

function optimizerSlots(op: string, w: Float32Array, state: Float32Array[], slotSize: number, slots: Int32Array, count: number,
  steps: Int32Array, decayScale: Float32Array | null, clearGrad: boolean | undefined): Int32Array {
  ints(op, { slotSize, count });
  floats(op, { w: [w, 0], ...Object.fromEntries(state.map((a, i) => [`state ${i}`, [a, w.length]])) });
  if (!(steps instanceof Int32Array)) fail(op, 'steps must be an Int32Array');
  if (decayScale !== null && !(decayScale instanceof Float32Array)) fail(op, 'decayScale must be a Float32Array or null');
  if (clearGrad !== undefined) flag(op, 'clearGrad', clearGrad);
  const own = indices(op, 'slots', slots, count, (s) => s < steps.length && (s + 1) * slotSize <= w.length && (decayScale === null || s < decayScale.length));
  unique(op, 'slots', own, count); // a slot updated twice in one call would be applied once on some backends
  return own;
}
