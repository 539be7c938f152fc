/**
 * Lazy optimizer updates, plain TypeScript reference: only the listed slots
 * (tree nodes touched by the batch) change. Each slot counts its own steps in
 * `steps`, incremented here; λ_s = weightDecay · decayScale[s] (0 without a
 * decayScale). Per element of a listed slot, g the gradient, w the weight:
 *   sgd:  v ← μ v + g;                   w ← w − lr·(v + λ_s w)
 *   adam: m ← β1 m + (1−β1) g;  u ← β2 u + (1−β2) g²;  t ← ++steps[s]
 *         w ← w − lr·( (m / (1−β1^t)) / (√(u / (1−β2^t)) + ε) + λ_s w )
 * With `clearGrad`, each listed slot's gradient is zeroed once applied (the optimizer
 * step's own clearing, so that no separate pass over the gradients is needed).
 * A moment or velocity below float32's smallest normal (2^−126) is stored as 0 (flushTiny).
 */

/**
 * 0 for |x| < 2^−126, else x (NaN stays NaN). A unit whose gradient stays 0 (a dead ReLU, a leaf no example reaches
 * for a while) decays its Adam first moment, or SGD velocity, by β1 or μ a step; from about the 800th such step it
 * would pass through float32's subnormals for 150 more, and arithmetic on subnormals costs Intel cores a microcode
 * assist per element: the default MNIST run's epochs took 1.9 s, then 5.5, 7.8, 9.3 and 9.2 s on an Intel Xeon, with
 * 12% of its tree's first moments subnormal. Every backend flushes alike (native/kernels_impl.h, assembly/optim.ts).
 */
export function flushTiny(x: number): number {
  return Math.abs(x) < TINY ? 0 : x;
}
const TINY = 2 ** -126;

export function sgdUpdate(w: Float32Array, g: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array,
  count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, mu: number,
  clearGrad = false): void {
  for (let q = 0; q < count; q++) {
    const s = slots[q];
    steps[s]++;
    const lam = decayScale ? weightDecay * decayScale[s] : 0;
    for (let e = s * slotSize, to = e + slotSize; e < to; e++) {
      const ve = flushTiny(mu * v[e] + g[e]);
      v[e] = ve;
      w[e] = w[e] - lr * (ve + lam * w[e]);
    }
    if (clearGrad) g.fill(0, s * slotSize, (s + 1) * slotSize);
  }
}

export function adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, slotSize: number,
  slots: Int32Array, count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number,
  b1: number, b2: number, eps: number, clearGrad = false): void {
  for (let q = 0; q < count; q++) {
    const s = slots[q];
    const t = ++steps[s];
    const lam = decayScale ? weightDecay * decayScale[s] : 0;
    const c1 = 1 / (1 - b1 ** t), c2 = 1 / (1 - b2 ** t);
    for (let e = s * slotSize, to = e + slotSize; e < to; e++) {
      const ge = g[e];
      const me = flushTiny(b1 * m[e] + (1 - b1) * ge);
      const ve = flushTiny(b2 * v[e] + (1 - b2) * ge * ge);
      m[e] = me;
      v[e] = ve;
      w[e] = w[e] - lr * ((me * c1) / (Math.sqrt(ve * c2) + eps) + lam * w[e]);
    }
    if (clearGrad) g.fill(0, s * slotSize, (s + 1) * slotSize);
  }
}
