/**
 * The loss and the lazy updates at their edges, on every kernel backend against js: softmax cross-entropy over
 * logits whose exponentials overflow or underflow float32 without the row maximum subtracted, one class, ties,
 * −∞ logits; sgd and adam over slots of size 0 (steps counted, no element written) and over an empty slot list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend } from '../../src/kernels/backend.js';
import { kernelVariants } from '../kernel-backends.js';
import { assertBitEqual, assertClose, randomArray, Rng } from '../helpers.js';

/** [label, cols, logits of each row (rows × cols), labels] */
const SOFTMAX_CASES: Array<[string, number, number[], number[]]> = [
  ['one class', 1, [0, 5, -1e30, 1e30, 88.7], [0, 0, 0, 0, 0]],
  ['exp overflows without the maximum subtracted', 3, [88, 89, 90, 100, 1000, 999, 3e38, 3e38, -3e38], [0, 1, 2]],
  ['exp underflows', 4, [-1e4, -1e4 + 1, -1e4 + 2, -1e4 - 50, -200, -150, -104, -88], [3, 0]],
  ['spread past float32', 2, [1e30, -1e30, -1e30, 1e30, 3.4e38, -3.4e38], [0, 0, 1]],
  ['all equal (a tie: the first is the prediction)', 5, [7, 7, 7, 7, 7, -2, -2, -2, -2, -2], [0, 4]],
  ['subnormal and signed zero', 3, [1e-45, -1e-45, 0, -0, 0, 1e-40], [2, 1]],
  ['−∞ beside finite logits', 3, [-Infinity, 0, 1, 2, -Infinity, -Infinity], [1, 0]],
];

for (const { be, label, use } of kernelVariants()) {
  if (be === jsBackend) continue;
  test(`${label}: softmaxCrossEntropy at extreme logits equals js (loss, correct count, dlogits, with and without dlogits)`, () => {
    use();
    for (const [what, cols, values, ys] of SOFTMAX_CASES) {
      const rows = ys.length, logits = Float32Array.from(values), labels = Int32Array.from(ys);
      const [dr, dn] = [new Float32Array(rows * cols), new Float32Array(rows * cols)];
      const e = jsBackend.softmaxCrossEntropy(logits, rows, cols, labels, dr);
      const r = be.softmaxCrossEntropy(logits, rows, cols, labels, dn);
      assert.ok(Number.isFinite(e.loss), `${what}: js's loss is finite (${e.loss})`);
      if (what.startsWith('all equal')) assert.equal(e.correct, 1, 'a tie: the first class is the prediction (row 0 right, row 1 not)');
      assert.equal(r.correct, e.correct, `${what}: correct count`);
      assertClose([r.loss], [e.loss], { rtol: 1e-6, atol: 1e-7 }, `${what}: loss`);
      assertClose(dn, dr, { rtol: 1e-5, atol: 1e-7 }, `${what}: dlogits`);
      const q = be.softmaxCrossEntropy(logits, rows, cols, labels, null);
      assert.equal(q.correct, e.correct, `${what}: correct count without dlogits`);
      assertClose([q.loss], [e.loss], { rtol: 1e-6, atol: 1e-7 }, `${what}: loss without dlogits`);
    }
    // one class over many rows (a row count past any vector width): the loss and gradient are exactly zero
    const rows = 37, logits = randomArray(new Rng(5101), rows, 1e3), d = new Float32Array(rows).fill(9);
    const r = be.softmaxCrossEntropy(logits, rows, 1, new Int32Array(rows), d);
    assert.deepEqual([r.loss, r.correct], [0, rows], 'one class: loss 0, every row correct');
    assertBitEqual(d, new Float32Array(rows), 'one class: dlogits 0');
  });

  test(`${label}: adam with gradients of the order of ε (√v̂ near ε): ε is added to the square root, not under it, as js does`, () => {
    use();
    // gradients ~1e-8 at the first steps (v̂ = g² then): √v̂ + ε is about 2e-8, √(v̂ + ε) 1e-4, four thousand times
    // more; slots of 7 weights: four a step, then a tail of 3
    const rng = new Rng(5103), slotSize = 7, slots = Int32Array.of(0, 1, 2), n = 3 * slotSize;
    const w = randomArray(rng, n), m = new Float32Array(n), v = new Float32Array(n);
    const [ref, got] = [0, 1].map(() => ({ w: w.slice(), m: m.slice(), v: v.slice(), steps: new Int32Array(3) }));
    for (let step = 0; step < 2; step++) {
      const g = randomArray(rng, n, 1e-8);
      for (const [b, s] of [[jsBackend, ref], [be, got]] as const) {
        b.adamUpdate(s.w, g.slice(), s.m, s.v, slotSize, slots, 3, s.steps, null, 1e-3, 0, 0.9, 0.999, 1e-8);
      }
    }
    const moved = ref.w.reduce((sum, x, i) => sum + Math.abs(x - w[i]), 0) / n;
    assert.ok(moved > 5e-4, `js: the weights moved by steps of the order of lr (on average ${moved})`);
    assertClose(got.w, ref.w, { rtol: 1e-6, atol: 1e-7 }, 'w');
    assertClose(got.m, ref.m, { rtol: 1e-5, atol: 1e-16 }, 'm');
    assertClose(got.v, ref.v, { rtol: 1e-5, atol: 1e-24 }, 'v');
  });

  test(`${label}: sgd and adam over slots of size 0 count steps and write nothing; an empty slot list changes nothing`, () => {
    use();
    const rng = new Rng(5102);
    for (const kind of ['sgd', 'adam'] as const) {
      for (const [slotSize, slots] of [[0, [0, 3, 1]], [0, []], [4, []]] as Array<[number, number[]]>) {
        const what = `${kind} slotSize=${slotSize} slots=[${slots}]`;
        const w = randomArray(rng, 16), g = randomArray(rng, 16), m = randomArray(rng, 16), v = randomArray(rng, 16).map(Math.abs);
        const decay = Float32Array.of(1, 0.5, 0.25, 2);
        const [ref, got] = [0, 1].map(() => ({ w: w.slice(), g: g.slice(), m: m.slice(), v: v.slice(), steps: Int32Array.of(2, 0, 5, 1) }));
        const list = Int32Array.from(slots);
        for (const [b, s] of [[jsBackend, ref], [be, got]] as const) {
          if (kind === 'sgd') b.sgdUpdate(s.w, s.g, s.m, slotSize, list, list.length, s.steps, decay, 0.1, 0.01, 0.9, true);
          else b.adamUpdate(s.w, s.g, s.m, s.v, slotSize, list, list.length, s.steps, decay, 0.1, 0.01, 0.9, 0.999, 1e-8, true);
        }
        for (const key of ['w', 'g', 'm', 'v'] as const) {
          assertBitEqual(got[key], ref[key], `${what}: ${key}`);
          assertBitEqual(got[key], key === 'w' ? w : key === 'g' ? g : key === 'm' ? m : v, `${what}: ${key} unchanged`);
        }
        assert.deepEqual([...got.steps], [...ref.steps], `${what}: steps`);
        assert.deepEqual([...got.steps], slots.length ? [3, 1, 5, 2] : [2, 0, 5, 1], `${what}: each listed slot counts a step`);
      }
    }
  });
}
