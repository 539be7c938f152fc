/**
 * addPaths (the tree layer's path-sum tables, src/kernels/paths.ts): the js reference against sums made
 * independently (each entry's path walked from its root, float32 adds), and every fast backend against the
 * reference bit for bit, over a table of programs (empty, one root, a chain deeper than the tree layer's, a path
 * sums' tree depth first and breadth first, a forest, entries that write nothing) and table sizes (empty, one
 * float, odd, split between threads, the size from which native writes with non-temporal stores and past it),
 * with outputs at every float offset of a 64-byte line, arrays in the wasm module's memory and outside it; and
 * the errors of bad programs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { jsBackend, type Backend } from '../../src/kernels/backend.js';
import { addPathsWith, pathSlots } from '../../src/kernels/paths.js';
import { addArrays } from '../../src/kernels/elementwise.js';
import { nativeBackend } from '../../src/kernels/native/index.js';
import { collapseFrom } from '../../src/layers/path-sums.js';
import { compileWasmSync, createWasmBackend } from '../../src/kernels/wasm/core.js';
import { DEFAULT_WASM_THREADS_URL, DEFAULT_WASM_URL, loadWasmBackend, nodeThreadHost } from '../../src/kernels/wasm/index.js';
import { assertBitEqual, randomArray, Rng } from '../helpers.js';

interface Program { name: string; node: number[]; parent: number[]; outAt: number[]; tables: number }

/** A path sums' tree: depths 0–2 collapsed, their children at depth 3 written (as planPaths lists it, depth first). */
function pathTree(order: 'depth' | 'breadth'): Program {
  const collapsed = new Set([0, 1, 2, 3, 4, 5, 6]);
  const kids = (t: number) => [2 * t + 1, 2 * t + 2];
  const list: Array<[number, number]> = []; // [node, parent node]
  if (order === 'depth') {
    const visit = (t: number, p: number): void => {
      list.push([t, p]);
      if (collapsed.has(t)) for (const c of kids(t)) visit(c, t);
    };
    visit(0, -1);
  } else {
    let level = [0];
    list.push([0, -1]);
    while (level.length > 0) {
      const next: number[] = [];
      for (const t of level) if (collapsed.has(t)) for (const c of kids(t)) { list.push([c, t]); next.push(c); }
      level = next;
    }
  }
  const index = new Map(list.map(([t], e) => [t, e]));
  let tables = 0;
  const outAt = list.map(([t]) => (collapsed.has(t) ? -1 : tables++));
  return { name: `path sums, ${order} first`, node: list.map(([t]) => t), parent: list.map(([, p]) => (p < 0 ? -1 : index.get(p)!)), outAt, tables };
}

const PROGRAMS: Program[] = [
  { name: 'empty', node: [], parent: [], outAt: [], tables: 0 },
  { name: 'one root, written', node: [3], parent: [-1], outAt: [0], tables: 1 },
  { name: 'a root and two children', node: [0, 1, 2], parent: [-1, 0, 0], outAt: [-1, 1, 0], tables: 2 },
  { name: 'a chain of 12, each written', node: [0, 1, 3, 7, 15, 16, 8, 4, 9, 2, 5, 6], parent: [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    outAt: [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0], tables: 12 },
  pathTree('depth'),
  pathTree('breadth'),
  { name: 'a forest, the same table twice, an entry that writes nothing', node: [5, 6, 5, 1, 2, 2], parent: [-1, -1, 0, 1, 2, 3],
    outAt: [-1, 0, -1, 1, 2, -1], tables: 3 },
];
const SIZES = [0, 1, 5, 17, 1000, 70001, 1 << 18, (1 << 18) + 7];
const BIG = 1 << 18;

/** Each entry's sum from its path, root first, in float32: the specification the reference is checked against. */
function independent(w: Float32Array, size: number, p: Program, out: Float32Array): void {
  p.node.forEach((_, e) => {
    if (p.outAt[e] < 0) return;
    const path: number[] = [];
    for (let a = e; a >= 0; a = p.parent[a]) path.unshift(p.node[a]);
    for (let i = 0; i < size; i++) {
      let s = w[path[0] * size + i];
      for (const t of path.slice(1)) s = Math.fround(s + w[t * size + i]);
      out[p.outAt[e] * size + i] = s;
    }
  });
}

const ints = (v: number[]) => Int32Array.from(v);
const nodes = (p: Program) => Math.max(0, ...p.node) + 1;

test('addPaths: the js reference is the root-first sum of each path', () => {
  const rng = new Rng(31);
  for (const p of PROGRAMS) for (const size of [0, 1, 5, 1000]) {
    const w = randomArray(rng, nodes(p) * size), expect = randomArray(rng, p.tables * size + 3), got = expect.slice();
    independent(w, size, p, expect);
    jsBackend.addPaths(w, size, ints(p.node), ints(p.parent), ints(p.outAt), p.node.length, got);
    assertBitEqual(got, expect, `${p.name}, size ${size} (the floats past the tables untouched)`);
  }
});

test('addPaths: scratch slots are reused down a path (depth first needs the depth, breadth first more)', () => {
  const depth = pathTree('depth'), breadth = pathTree('breadth');
  assert.equal(pathSlots(ints(depth.parent), depth.node.length).slots, 3);
  assert.equal(pathSlots(ints(breadth.parent), breadth.node.length).slots, 4);
  const chain = PROGRAMS[3];
  assert.equal(pathSlots(ints(chain.parent), chain.node.length).slots, 1, 'each entry of a chain takes over its parent\'s slot');
});

test('addPaths over whole tables: an entry that writes nothing and has no children gives its scratch table back', () => {
  // a root and 20 children of it that write nothing, then one that is written: one scratch table serves them all
  const n = 22, size = 5, rng = new Rng(41);
  const p: Program = { name: 'many unwritten leaves', node: Array.from({ length: n }, (_, e) => e), parent: [-1, ...new Array(n - 1).fill(0)],
    outAt: [...new Array(n - 1).fill(-1), 0], tables: 1 };
  const w = randomArray(rng, n * size), expect = new Float32Array(size), got = new Float32Array(size);
  independent(w, size, p, expect);
  const scratch = new Set<Float32Array>();
  addPathsWith((a, b, out, count) => {
    if (out.buffer !== got.buffer) scratch.add(out);
    addArrays(a, b, out, count);
  }, w, size, ints(p.node), ints(p.parent), ints(p.outAt), n, got);
  assertBitEqual(got, expect, 'the written sum');
  assert.equal(scratch.size, 1, 'scratch tables made');
});

const nb = nativeBackend();
const threaded = createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_THREADS_URL))), { threads: 2 }, nodeThreadHost);
const FAST: Array<[string, Backend | null, boolean]> = [
  ['native', nb, false],
  ['wasm, two threads, arrays in its memory', threaded, true],
  ['wasm, two threads, ordinary arrays', threaded, false],
  ['wasm, one thread', loadWasmBackend(undefined, { threads: 1 }), true],
  // what a page that is not cross-origin isolated loads: its own memory, one thread
  ['wasm, plain module', createWasmBackend(compileWasmSync(new Uint8Array(readFileSync(DEFAULT_WASM_URL)))), false],
];

test('addPaths: native on one thread gives the reference\'s bits (each thread runs a block of columns of its own)', { skip: nb ? false : 'native addon unavailable' }, () => {
  const rng = new Rng(39), p = pathTree('depth'), was = nb!.info().threads;
  nb!.setThreads(1);
  try {
    for (const size of [70001, (1 << 18) + 7]) {
      const w = randomArray(rng, nodes(p) * size), ref = randomArray(rng, p.tables * size + 5), out = ref.slice();
      jsBackend.addPaths(w, size, ints(p.node), ints(p.parent), ints(p.outAt), p.node.length, ref.subarray(1));
      nb!.addPaths(w, size, ints(p.node), ints(p.parent), ints(p.outAt), p.node.length, out.subarray(1));
      assertBitEqual(out, ref, `native, one thread: size ${size}`);
    }
  } finally {
    nb!.setThreads(was);
  }
});

test('collapseFrom: each backend\'s default threshold, and an impossible one is an error', () => {
  assert.equal(collapseFrom(jsBackend), 8);
  assert.equal(collapseFrom(threaded), 8);
  if (nb) assert.equal(collapseFrom(nb), 32);
  for (const bad of [0, -1, NaN]) {
    assert.throws(() => collapseFrom({ ...jsBackend, name: 'custom', collapseRows: bad }), /backend custom: collapseRows must be a number ≥ 1/, `collapseRows ${bad}`);
  }
});

for (const [name, be, inMemory] of FAST) {
  test(`addPaths: ${name} gives the reference's bits`, { skip: be ? false : 'native addon unavailable' }, () => {
    const rng = new Rng(37);
    const make = (n: number): Float32Array => (inMemory ? be!.floats(n) : new Float32Array(n));
    for (const p of PROGRAMS) for (const size of SIZES) {
      if (size >= BIG && p.name.includes('breadth')) continue; // the depth-first tree covers it
      const w = make(nodes(p) * size);
      w.set(randomArray(rng, w.length));
      // outputs at float offsets 0…15 for the large tables (where native streams), else 0 and 3
      for (const at of size >= BIG && p.tables <= 2 ? Array.from({ length: 16 }, (_, i) => i) : [0, 3]) {
        const ref = randomArray(rng, at + p.tables * size + 5), out = make(ref.length);
        out.set(ref);
        jsBackend.addPaths(w, size, ints(p.node), ints(p.parent), ints(p.outAt), p.node.length, ref.subarray(at));
        be!.addPaths(w, size, ints(p.node), ints(p.parent), ints(p.outAt), p.node.length, out.subarray(at));
        assertBitEqual(out, ref, `${name}: ${p.name}, size ${size}, out ${at} floats in (the floats around the tables untouched)`);
        be!.release(out);
      }
      be!.release(w);
    }
  });
}

test('addPaths: a bad program is an error that names it, on every backend', () => {
  const w = new Float32Array(4 * 8), out = new Float32Array(2 * 8);
  const cases: Array<[string, () => [Int32Array, Int32Array, Int32Array, number, Float32Array], RegExp]> = [
    ['a parent after its child', () => [ints([0, 1]), ints([1, -1]), ints([0, 1]), 2, out], /parent\[0\].*before its child/],
    ['a parent that is itself', () => [ints([0, 1]), ints([-1, 1]), ints([0, 1]), 2, out], /parent\[1\].*before its child/],
    ['a table past w', () => [ints([0, 4]), ints([-1, 0]), ints([0, 1]), 2, out], /node\[1\].*out of range/],
    ['a sum past out', () => [ints([0, 1]), ints([-1, 0]), ints([0, 2]), 2, out], /outAt\[1\].*out of range/],
    ['two sums to one table', () => [ints([0, 1]), ints([-1, 0]), ints([1, 1]), 2, out], /outAt repeats/],
    ['out overlapping w', () => [ints([0, 1]), ints([-1, 0]), ints([0, 1]), 2, w.subarray(8)], /out overlaps w/],
  ];
  for (const be of [jsBackend, threaded, ...(nb ? [nb] : [])]) {
    for (const [what, args, message] of cases) {
      const [node, parent, outAt, count, o] = args();
      assert.throws(() => be.addPaths(w, 8, node, parent, outAt, count, o), message, `${be.name}: ${what}`);
    }
  }
});
