/**
 * The elementwise and reduction ops of training on every kernel backend at each of its thread counts
 * (kernelVariants: js; wasm and native on 1 and 2 threads, or 1, 3 and 4 under TREEGATE_NATIVE_THREADS=4) against js, at
 * degenerate sizes and around the fast backends' thread splits (native splits 65 536 floats and more between its
 * threads), with the arrays plain or made by the backend's floats() (wasm: in its memory, read in place). The ops
 * whose js is one rounding per float (adds, products, relu, copies) must give js's bits; the sums, tanh and the
 * softmax cross-entropy agree within a few ulps. Every thread count of a backend gives the bits of its first.
 */
import { test } from 'node:test';
import type { Backend } from '../../src/kernels/backend.js';
import { jsBackend } from '../../src/kernels/backend.js';
import { kernelVariants } from '../kernel-backends.js';
import { assertBitEqual, assertClose, randomArray, Rng } from '../helpers.js';

/** float counts: none, one, odd, and each side of native's thread split */
const COUNTS = [0, 1, 17, 65535, 65536, 70001];
/** rows × cols: no rows, no columns, one row of many columns (split by columns), many rows of one column, square */
const SHAPES = [[0, 5], [4, 0], [1, 1], [17, 3], [1, 70001], [65537, 1], [300, 301]];
/** the ops whose sums or transcendental functions may round otherwise than js's float64 (softmaxCrossEntropy: both) */
const CLOSE = /^(addColumnSums|rowDots|tanh|softmaxCrossEntropy)/;

/** Every op's outputs on `be`, keyed by op and size; `here`: inputs and outputs made by be.floats(). */
function outputs(be: Backend, here: boolean): Map<string, Float32Array> {
  const rng = new Rng(31), out = new Map<string, Float32Array>();
  const made: Float32Array[] = [];
  const arr = (a: Float32Array): Float32Array => {
    if (!here) return a.slice();
    const o = be.floats(a.length);
    o.set(a);
    made.push(o);
    return o;
  };
  const keep = (key: string, a: Float32Array) => out.set(key, a.slice());
  for (const n of COUNTS) {
    const x = randomArray(rng, n, 3);
    if (n >= 5) x.set([0, -0, 1e-30, -1e-30, 40]);
    const a = arr(x), b = arr(randomArray(rng, n)), y = arr(randomArray(rng, n));
    be.addArrays(a, b, y, n);
    keep(`addArrays n=${n}`, y);
    const inPlace = arr(a);
    be.addArrays(inPlace, b, inPlace, n);
    keep(`addArrays in place n=${n}`, inPlace);
    be.reluForward(a, y, n);
    keep(`reluForward n=${n}`, y);
    const dx = arr(new Float32Array(n));
    be.reluBackward(y, b, dx, n);
    keep(`reluBackward n=${n}`, dx);
    be.tanhForward(a, y, n);
    keep(`tanhForward n=${n}`, y);
    // (from the same tanh outputs on every backend: 1 − y² near |y| = 1 would magnify the forward's last bit)
    be.tanhBackward(arr(Float32Array.from(x, Math.tanh)), b, dx, n);
    keep(`tanhBackward n=${n}`, dx);
  }
  // relu at ±0, NaN, ±∞ and subnormals in every position of 1–9 floats, so that each value meets the SIMD lanes and
  // the scalar tail alike: −0 stays −0 and NaN passes the forward (x < 0 ? 0 : x), the backward's y > 0 lets neither through
  const SPECIALS = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 2, -2];
  for (let n = 1; n <= 9; n++) {
    for (let shift = 0; shift < SPECIALS.length; shift++) {
      const x = arr(Float32Array.from({ length: n }, (_, i) => SPECIALS[(i + shift) % SPECIALS.length]));
      const y = arr(new Float32Array(n + 1).fill(7)), dx = arr(new Float32Array(n + 1).fill(7));
      be.reluForward(x, y, n);
      keep(`reluForward specials n=${n} shift=${shift}`, y);
      be.reluBackward(x, arr(Float32Array.from({ length: n }, (_, i) => i + 1)), dx, n);
      keep(`reluBackward specials n=${n} shift=${shift}`, dx);
    }
  }
  for (const [rows, cols] of SHAPES) {
    const what = `${rows}×${cols}`;
    const x = arr(randomArray(rng, rows * cols)), v = arr(randomArray(rng, cols)), scale = arr(randomArray(rng, rows));
    const y = arr(randomArray(rng, rows * cols));
    be.addRowVector(y, rows, cols, v);
    keep(`addRowVector ${what}`, y);
    const sums = arr(randomArray(rng, cols));
    be.addColumnSums(x, rows, cols, sums);
    keep(`addColumnSums ${what}`, sums);
    for (const accumulate of [false, true]) {
      const dots = arr(randomArray(rng, rows));
      be.rowDots(x, y, rows, cols, dots, accumulate);
      keep(`rowDots ${what} accumulate=${accumulate}`, dots);
    }
    be.scaleRows(x, rows, cols, scale, y);
    keep(`scaleRows ${what}`, y);
    be.scaleRows(y, rows, cols, scale, y);
    keep(`scaleRows in place ${what}`, y);
    // every row twice over, out of order, from a column block at an offset of rows one wider; added back the same way
    const idx = Int32Array.from({ length: 2 * rows }, (_, i) => (i * 7919) % Math.max(rows, 1));
    const wide = arr(randomArray(rng, rows * (cols + 1))), gathered = arr(randomArray(rng, 2 * rows * cols));
    be.gatherRows(wide, cols + 1, 1, idx, 2 * rows, cols, gathered);
    keep(`gatherRows ${what}`, gathered);
    for (const accumulate of [false, true]) {
      const dst = arr(randomArray(rng, rows * (cols + 1)));
      be.scatterRows(gathered, cols, idx.subarray(0, rows), rows, dst, cols + 1, 1, accumulate);
      keep(`scatterRows ${what} accumulate=${accumulate}`, dst);
    }
    // the same rows spread over a source and a destination 8× their size (wasm copies these row by row, not as a span)
    const spread = idx.map((r) => 8 * r + (r % 3)), sparse = arr(randomArray(rng, 8 * rows * (cols + 1)));
    be.gatherRows(sparse, cols + 1, 1, spread, 2 * rows, cols, gathered);
    keep(`gatherRows spread ${what}`, gathered);
    for (const accumulate of [false, true]) {
      const dst = arr(randomArray(rng, 8 * rows * (cols + 1)));
      be.scatterRows(gathered, cols, spread.subarray(0, rows), rows, dst, cols + 1, 1, accumulate);
      keep(`scatterRows spread ${what} accumulate=${accumulate}`, dst);
    }
    if (cols > 0) {
      // the labels of every class in turn; logits of a few units, so that the exponentials span a wide range
      const labels = Int32Array.from({ length: rows }, (_, i) => (i * 31) % cols);
      const logits = arr(randomArray(rng, rows * cols, 4)), dlogits = arr(randomArray(rng, rows * cols));
      const r = be.softmaxCrossEntropy(logits, rows, cols, labels, dlogits);
      // (times rows: dlogits are (softmax − onehot) / rows, below the tolerance's atol at 300 rows)
      keep(`softmaxCrossEntropy ${what}: dlogits × rows`, dlogits.map((v) => v * rows));
      keep(`softmaxCrossEntropy ${what}: loss and correct`, Float32Array.of(r.loss, r.correct));
    }
  }
  made.forEach((a) => be.release(a));
  return out;
}

const expected = outputs(jsBackend, false);
const first = new Map<string, Map<string, Float32Array>>();

// (js is the reference here, not a row of its own, which could not fail: its ops are checked against their
// definitions through the layers' numerical gradients, test/layers/gradcheck.test.ts)
for (const { be, label, use } of kernelVariants().filter((v) => v.be !== jsBackend)) {
  for (const here of [false, true]) {
    const arrays = here ? 'arrays from its floats()' : 'plain arrays';
    test(`${label}: elementwise ops and reductions against js at degenerate sizes and around the thread splits, ${arrays}`, () => {
      use();
      const got = outputs(be, here), key = `${be.name} ${label.replace(/threads=\d+/, '')} ${here}`;
      for (const [op, want] of expected) {
        const a = got.get(op)!;
        if (CLOSE.test(op)) assertClose(a, want, { rtol: 2e-6, atol: 1e-6 }, `${label}, ${arrays}: ${op}`);
        else assertBitEqual(a, want, `${label}, ${arrays}: ${op}`);
      }
      // the first thread count's bits are every other count's
      const base = first.get(key);
      if (!base) first.set(key, got);
      else for (const [op, a] of got) assertBitEqual(a, base.get(op)!, `${label}, ${arrays}: ${op} against the first thread count`);
    });
  }
}
