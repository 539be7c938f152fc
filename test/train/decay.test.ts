/**
 * Weight decay of every layer kind, on every backend (a file of its own: test/backends.ts makes the fastest backend
 * the default, which optim.test.ts's js-only tests must not get): a flat layer's leaves are decayed by λ·γ^depth, a
 * tree's nodes by λ·γ^d, experts and dense weights by λ; biases, gates and routers not at all.
 */
import assert from 'node:assert/strict';
import { mlpConfig, Model } from '../../src/layers/model.js';
import { test } from 'node:test';
import { Optimizer } from '../../src/train/optim.js';
import { Trainer } from '../../src/train/trainer.js';
import { testOnEveryBackend } from '../backends.js';
import { assertClose, randomMatrix, Rng } from '../helpers.js';

testOnEveryBackend('weight decay of every layer kind, SGD and Adam: a flat layer\'s leaves by λ·γ^depth, experts and dense weights by λ, biases not', () => {
  const rng = new Rng(61);
  const D = 6, lambda = 0.05, gamma = 1.7, lr = 0.1;
  for (const kind of ['sgd', 'adam'] as const) for (const options of [
    { inputSize: D, numClasses: 3, hidden: [8], treeLayers: [2], routed: 'flat' as const, depth: 2, gating: 'projection' as const, decayGamma: gamma },
    { inputSize: D, numClasses: 3, hidden: [8], treeLayers: [2], routed: 'tree' as const, depth: 2, gating: 'projection' as const, decayGamma: gamma, nodeInit: 'small' as const },
    { inputSize: D, numClasses: 3, hidden: [8], treeLayers: [2], routed: 'moe' as const, depth: 0, experts: 4, topK: 1 },
  ]) {
    const model = new Model(mlpConfig(options), rng.fork());
    const x = randomMatrix(rng, 12, D), y = Int32Array.from({ length: 12 }, (_, i) => i % 3);
    const opt = new Optimizer(model.params(), kind === 'sgd' ? { kind, momentum: 0, weightDecay: lambda } : { kind, weightDecay: lambda });
    model.clearGrad();
    model.lossAndGrad(x, y);
    const before = model.params().map((p) => ({ w: p.data.slice(), g: p.grad.slice(), touched: new Set(p.touched.subarray(0, p.touchedCount)) }));
    opt.step(lr);
    model.params().forEach((p, i) => {
      const { w, g, touched } = before[i], z = p.slotSize;
      assert.equal(p.decayScale !== null, p.name.endsWith('.weight'), `${options.routed}: ${p.name} is decayed where it is a layer's weight`);
      for (let s = 0; s < p.numSlots; s++) {
        // where a kind's node at depth d is decayed by γ^d: flat leaves all sit at the depth, a tree's nodes at theirs
        const scale = p.decayScale ? p.decayScale[s] : 0;
        if (p.decayScale && options.routed !== 'moe' && p.name.startsWith('layers.2.')) {
          const depth = options.routed === 'flat' ? options.depth : Math.floor(Math.log2(s + 1));
          assert.equal(scale, Math.fround(gamma ** depth), `${options.routed}: ${p.name} slot ${s} decay scale`);
        } else if (p.decayScale) {
          assert.equal(scale, 1, `${options.routed}: ${p.name} slot ${s} decayed by λ`);
        }
        const lam = Math.fround(lambda * scale);
        // Adam's first step, bias-corrected: m̂ = g, v̂ = g², so the step is g / (|g| + ε) besides the decay
        const step = (ge: number) => (kind === 'sgd' ? ge : ge / (Math.abs(ge) + 1e-8));
        const expected = Float32Array.from(w.subarray(s * z, (s + 1) * z), (we, e) => (touched.has(s) ? we - lr * (step(g[s * z + e]) + lam * we) : we));
        assertClose(p.data.subarray(s * z, (s + 1) * z), expected, { rtol: 1e-6, atol: 1e-7 }, `${kind}, ${options.routed}: ${p.name} slot ${s}`);
      }
    });
    assert.ok(before.some((b, i) => model.params()[i].decayScale && b.touched.size > 0 && b.w.some((v) => v !== 0)), 'test bug: nothing decayed');
  }
});

test('a weight decay whose product with the learning rate (and the largest decay scale) reaches 1 is refused, naming the largest that is not', () => {
  const rng = new Rng(62);
  const data = { x: randomMatrix(rng, 16, 6), y: Int32Array.from({ length: 16 }, (_, i) => i % 3) };
  const config = (decayGamma: number) => mlpConfig({ inputSize: 6, numClasses: 3, hidden: [8], treeLayers: [2], depth: 3, gating: 'projection', decayGamma });
  const trainer = (decayGamma: number, lr: number, weightDecay: number) =>
    new Trainer(new Model(config(decayGamma), rng.fork()), data, null, { lr, optimizer: { kind: 'adam', weightDecay } }, rng.fork());
  assert.throws(() => trainer(1, 1e-3, 1e300), /weight decay 1e\+300 at learning rate 0\.001 would multiply weights by 1 − lr·λ = -1e\+297 at each step: they would grow/);
  assert.throws(() => trainer(1, 0.1, 15), (e: unknown) => /their sign would flip at every step/.test(String(e)) && /a weight decay below 10 here/.test(String(e)));
  // γ = 2 at depth 3: the deepest nodes are decayed 8 times as much
  assert.throws(() => trainer(2, 0.1, 2), /and the deepest nodes' decay scale 8 would multiply weights by 1 − lr·λ = -0\.6/);
  assert.throws(() => trainer(1, 0.1, 10), /= 0 at each step: they would be zeroed at every step/);
  // 1 / (0.0015 · 1) = 666.67: the largest decay named is rounded down, 666, not up to 667
  assert.throws(() => trainer(1, 0.0015, 700), /a weight decay below 666 here/);
  trainer(1, 0.0015, 666);
  trainer(2, 0.1, 1.2); // 0.96 a step at the deepest nodes: allowed
  trainer(1, 0.1, 9.9);
});
