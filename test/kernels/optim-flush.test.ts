/**
 * flushTiny (src/kernels/optim.ts): an optimizer's moment or velocity that falls below float32's smallest normal,
 * 2^−126, is stored as 0 on every backend, so that a unit whose gradient stays 0 never leaves subnormals in its
 * state (each costs Intel cores a microcode assist per operation); NaN is not hidden by it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsBackend } from '../../src/kernels/backend.js';
import { kernelBackends, useThreads } from '../kernel-backends.js';

const { backends } = kernelBackends();
const TINY = 2 ** -126, SLOT = 37, STEPS = 1200;

/** the count of subnormal values (nonzero, below 2^−126 in magnitude) in `a` */
function subnormals(a: Float32Array): number {
  let n = 0;
  for (const x of a) if (x !== 0 && Math.abs(x) < TINY) n++;
  return n;
}

/** one slot's state after a first step of gradients `g0`, then STEPS steps of zero gradient */
function decay(kind: 'adam' | 'sgd', step: (g: Float32Array, st: { w: Float32Array; m: Float32Array; v: Float32Array; steps: Int32Array }) => void) {
  const st = { w: new Float32Array(SLOT).fill(0.5), m: new Float32Array(SLOT), v: new Float32Array(SLOT), steps: new Int32Array(1) };
  const g0 = Float32Array.from({ length: SLOT }, (_, e) => (e % 2 ? -1 : 1) * 10 ** -(e % 9)); // 1 … 1e-8
  let seen = 0;
  step(g0, st);
  const zero = new Float32Array(SLOT);
  for (let t = 0; t < STEPS; t++) {
    step(zero, st);
    seen += subnormals(st.m) + subnormals(st.v);
  }
  return { st, seen, kind };
}

test('the unflushed recurrences do pass through float32 subnormals within the steps the test runs', () => {
  // m ← 0.9 m, from the smallest first step below (0.1 · 1e-8), and v ← 0.9 v (sgd's velocity) from 1e-8
  let m = Math.fround(0.1 * 1e-8), hit = false;
  for (let t = 0; t < STEPS && !hit; t++) {
    m = Math.fround(0.9 * m);
    hit = m !== 0 && m < TINY;
  }
  assert.ok(hit, 'the test would pass without any flushing');
});

for (const { be, threads, label } of backends) {
  const name = label ?? be.name;
  test(`${name}: adamUpdate and sgdUpdate store a moment or velocity below 2^-126 as 0, never a subnormal; NaN stays NaN`, () => {
    for (const n of threads) {
      useThreads(be, n);
      const slots = new Int32Array([0]);
      const adam = decay('adam', (g, st) => be.adamUpdate(st.w, g, st.m, st.v, SLOT, slots, 1, st.steps, null, 1e-3, 0, 0.9, 0.999, 1e-8));
      const sgd = decay('sgd', (g, st) => be.sgdUpdate(st.w, g, st.v, SLOT, slots, 1, st.steps, null, 1e-3, 0, 0.9));
      for (const { st, seen, kind } of [adam, sgd]) {
        assert.equal(seen, 0, `${name}, ${n} threads, ${kind}: subnormal state after some step`);
        assert.ok(st.w.every(Number.isFinite), `${name}, ${kind}: weights finite`);
      }
      // the first moments and velocities all decayed to exactly 0; Adam's second moments (β2 = 0.999) did not
      assert.ok(adam.st.m.every((x) => x === 0), `${name}, ${n} threads: every first moment flushed to 0`);
      assert.ok(sgd.st.v.every((x) => x === 0), `${name}, ${n} threads: every velocity flushed to 0`);
      assert.ok(adam.st.v.some((x) => x > 0), `${name}: second moments still decaying`);

      // the threshold is 2^-126 exactly: a state that decays to just above it is kept, one just below it is 0
      // (vector lanes and the tail alike: the two alternate)
      const near = (e: number) => Math.fround((TINY / 0.9) * (e % 2 ? 1 - 2 ** -10 : 1 + 2 ** -10));
      const kept = (a: Float32Array, what: string) => a.forEach((x, e) => {
        if (e % 2) assert.equal(x, 0, `${name}, ${n} threads, ${what}[${e}] = ${x}: under 2^-126, flushed`);
        else assert.ok(x >= TINY && x < 1.01 * TINY, `${name}, ${n} threads, ${what}[${e}] = ${x}: over 2^-126, kept`);
      });
      const bv = Float32Array.from({ length: SLOT }, (_, e) => near(e));
      be.sgdUpdate(new Float32Array(SLOT), new Float32Array(SLOT), bv, SLOT, slots, 1, new Int32Array(1), null, 0, 0, 0.9);
      kept(bv, 'sgd velocity');
      const bm = Float32Array.from({ length: SLOT }, (_, e) => near(e));
      be.adamUpdate(new Float32Array(SLOT), new Float32Array(SLOT), bm, new Float32Array(SLOT).fill(1), SLOT, slots, 1, new Int32Array(1), null, 0, 0, 0.9, 0.999, 1e-8);
      kept(bm, 'adam first moment');

      // a NaN gradient makes its moments and weight NaN, not 0
      const w = new Float32Array(SLOT).fill(0.5), m = new Float32Array(SLOT), v = new Float32Array(SLOT), g = new Float32Array(SLOT);
      g[0] = NaN; g[SLOT - 1] = NaN; // a vector lane and the tail
      be.adamUpdate(w, g, m, v, SLOT, slots, 1, new Int32Array(1), null, 1e-3, 0, 0.9, 0.999, 1e-8);
      for (const e of [0, SLOT - 1]) assert.ok(Number.isNaN(m[e]) && Number.isNaN(v[e]) && Number.isNaN(w[e]), `${name}: adam NaN kept at ${e}`);
      const sv = new Float32Array(SLOT), sw = new Float32Array(SLOT).fill(0.5);
      be.sgdUpdate(sw, g, sv, SLOT, slots, 1, new Int32Array(1), null, 1e-3, 0, 0.9);
      for (const e of [0, SLOT - 1]) assert.ok(Number.isNaN(sv[e]) && Number.isNaN(sw[e]), `${name}: sgd NaN kept at ${e}`);
    }
  });
}

for (const { be, threads, label } of backends) {
  const name = label ?? be.name;
  test(`${name}: a moment or velocity of exactly 2^-126 is kept (flushTiny's test is |x| < 2^-126, as js's), the largest subnormal below it flushed, in vector lanes and the tail`, () => {
    // β1 = 0 (Adam) and μ = 0 (SGD) make the first moment and the velocity the gradient itself, β2 = 0 the second
    // moment its square (2^-63 squared is 2^-126 exactly); lr = 0 leaves the weights. Even elements (the tail's
    // included: SLOT is 37) are ±2^-126, odd ones the largest subnormal, 2^-126 − 2^-149.
    const slots = new Int32Array([0]), sub = TINY - 2 ** -149;
    const g = Float32Array.from({ length: SLOT }, (_, e) => (e % 4 < 2 ? 1 : -1) * (e % 2 ? sub : TINY));
    const g2 = Float32Array.from({ length: SLOT }, (_, e) => (e % 4 < 2 ? 1 : -1) * (e % 2 ? 2 ** -63 * (1 - 2 ** -24) : 2 ** -63));
    const want = (e: number, x: number, what: string) => {
      if (e % 2) assert.equal(x, 0, `${what}[${e}] = ${x}: the largest subnormal, flushed`);
      else assert.equal(Math.abs(x), TINY, `${what}[${e}] = ${x}: 2^-126 exactly, kept`);
    };
    for (const n of threads) {
      useThreads(be, n);
      const what = `${name}, ${n} threads`;
      const run = (on: typeof be) => {
        const sv = new Float32Array(SLOT), sw = new Float32Array(SLOT).fill(0.5);
        on.sgdUpdate(sw, g.slice(), sv, SLOT, slots, 1, new Int32Array(1), null, 0, 0, 0);
        const m = new Float32Array(SLOT), v = new Float32Array(SLOT);
        on.adamUpdate(new Float32Array(SLOT).fill(0.5), g.slice(), m, v, SLOT, slots, 1, new Int32Array(1), null, 0, 0, 0, 0.999, 1e-8);
        const m2 = new Float32Array(SLOT), v2 = new Float32Array(SLOT);
        on.adamUpdate(new Float32Array(SLOT).fill(0.5), g2.slice(), m2, v2, SLOT, slots, 1, new Int32Array(1), null, 0, 0, 0.9, 0, 1e-8);
        return { sv, m, v2 };
      };
      const got = run(be), ref = run(jsBackend);
      got.sv.forEach((x, e) => want(e, x, `${what}: sgd velocity`));
      got.m.forEach((x, e) => want(e, x, `${what}: adam first moment`));
      got.v2.forEach((x, e) => want(e, x, `${what}: adam second moment`));
      for (const key of ['sv', 'm', 'v2'] as const) assert.deepEqual(Array.from(got[key]), Array.from(ref[key]), `${what}: ${key} against js`);
    }
  });
}
