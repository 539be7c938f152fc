/**
 * Elementwise and reduction ops of training, plain TypeScript reference.
 * Buffers are row-major (N, m); `count` = N·m where no shape is needed.
 */

/** y[i, :] += bias for every row. */
export function addRowVector(y: Float32Array, rows: number, cols: number, v: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) y[o + j] += v[j];
  }
}

/** out[j] += Σ_i x[i, j] (bias gradient). */
export function addColumnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[j] += x[o + j];
  }
}

/**
 * out[r] (+)= Σ_j a[r, j] · b[r, j] for r < rows: the dot product of each row of a with the same row of b
 * (the straight-through gradient's dy · z per example). Summed in float64 in the order of j, from out[r]
 * where `accumulate` (each product of two float32 values is exact there), rounded to float32 once.
 */
export function rowDots(a: Float32Array, b: Float32Array, rows: number, cols: number, out: Float32Array, accumulate: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = accumulate ? out[r] : 0;
    for (let j = 0; j < cols; j++) s += a[o + j] * b[o + j];
    out[r] = s;
  }
}

/** y[r, :] = scale[r] · x[r, :] for r < rows (y may be x): a mixture's gates applied to its experts' outputs. */
export function scaleRows(x: Float32Array, rows: number, cols: number, scale: Float32Array, y: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols, g = scale[r];
    for (let j = 0; j < cols; j++) y[o + j] = g * x[o + j];
  }
}

/** out = a + b, elementwise over count floats (the tree layer's path sums: src/layers/path-sums.ts). */
export function addArrays(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) out[i] = a[i] + b[i];
}

/**
 * y = x < 0 ? 0 : x. NaN passes through (as x > 0 ? x : 0 would not): a NaN
 * weight or input must reach the loss, where training detects it, instead
 * of hiding behind the ReLU while it spreads into the gradients.
 */
export function reluForward(x: Float32Array, y: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

/** dx = dy · [y > 0] (y the ReLU output). */
export function reluBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

export function tanhForward(x: Float32Array, y: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) y[i] = Math.tanh(x[i]);
}

/** dx = dy · (1 − y²) (y the tanh output). */
export function tanhBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

/**
 * Mean softmax cross-entropy over `rows` examples of `cols` logits; writes
 * dlogits = (softmax − onehot) / rows when `dlogits` is given. Returns the
 * mean loss (float64) and the count of correct argmax predictions.
 */
export function softmaxCrossEntropy(logits: Float32Array, rows: number, cols: number, labels: Int32Array,
  dlogits: Float32Array | null): { loss: number; correct: number } {
  let loss = 0, correct = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity, arg = 0;
    for (let j = 0; j < cols; j++) if (logits[o + j] > max) { max = logits[o + j]; arg = j; }
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logits[o + j] - max);
    const y = labels[r];
    loss += Math.log(sum) - (logits[o + y] - max);
    if (arg === y) correct++;
    if (dlogits) {
      for (let j = 0; j < cols; j++) dlogits[o + j] = (Math.exp(logits[o + j] - max) / sum - (j === y ? 1 : 0)) / rows;
    }
  }
  return { loss: rows > 0 ? loss / rows : 0, correct };
}

/** dst[i, :] = src[idx[i], :] for i < count. */
export function gatherRows(src: Float32Array, srcStride: number, srcOffset: number, idx: Int32Array, count: number,
  cols: number, dst: Float32Array): void {
  for (let i = 0; i < count; i++) {
    const so = idx[i] * srcStride + srcOffset, d = i * cols;
    for (let j = 0; j < cols; j++) dst[d + j] = src[so + j];
  }
}

/** dst[idx[i], :] (+)= src[i, :] for i < count. */
export function scatterRows(src: Float32Array, cols: number, idx: Int32Array, count: number, dst: Float32Array,
  dstStride: number, dstOffset: number, accumulate: boolean): void {
  for (let i = 0; i < count; i++) {
    const d = idx[i] * dstStride + dstOffset, so = i * cols;
    if (accumulate) for (let j = 0; j < cols; j++) dst[d + j] += src[so + j];
    else for (let j = 0; j < cols; j++) dst[d + j] = src[so + j];
  }
}
