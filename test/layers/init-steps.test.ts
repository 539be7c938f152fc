/**
 * initSteps (src/layers/init.ts): a layer's init drawn in steps of at most INIT_STEP values, so that a caller may do
 * other work between them (the speed experiment asks whether to stop); the same values as init, bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { Dense } from '../../src/layers/dense.js';
import { INIT_STEP } from '../../src/layers/init.js';
import { MixtureOfExperts } from '../../src/layers/moe.js';
import { TreeGated } from '../../src/layers/tree.js';

type Initialized = { params(): Array<{ data: Float32Array }>; init(rng: Rng): unknown; initSteps(rng: Rng): Iterable<void> };

const layers: Array<[string, () => Initialized]> = [
  ['dense', () => new Dense(5, 3)],
  ['tree, projection gating, small nodes', () => new TreeGated({ inputSize: 6, outputSize: 4, depth: 2, gating: 'projection', nodeInit: 'small' })],
  ['tree, units gating, zero nodes', () => new TreeGated({ inputSize: 6, outputSize: 4, depth: 2 })],
  ['tree of 3 blocks', () => new TreeGated({ inputSize: 6, outputSize: 4, depth: 1, blocks: 3, gating: 'projection', nodeInit: 'small' })],
  ['flat of 2 blocks', () => new TreeGated({ kind: 'flat', inputSize: 6, outputSize: 4, depth: 2, blocks: 2, gating: 'projection' })],
  ['depth 0', () => new TreeGated({ inputSize: 6, outputSize: 4, depth: 0 })],
  ['moe', () => new MixtureOfExperts({ inputSize: 6, outputSize: 4, experts: 3 })],
];

test('initSteps gives init\'s weights, bit for bit, and leaves the generator where init leaves it', () => {
  for (const [name, make] of layers) {
    const a = make(), b = make(), ra = new Rng(7), rb = new Rng(7);
    a.init(ra);
    let steps = 0;
    for (const _ of b.initSteps(rb)) steps++;
    assert.ok(steps >= 1, name);
    a.params().forEach((p, i) => assert.deepEqual(new Uint32Array(p.data.buffer, p.data.byteOffset, p.data.length),
      new Uint32Array(b.params()[i].data.buffer, b.params()[i].data.byteOffset, b.params()[i].data.length), `${name}: ${i}`));
    assert.equal(ra.normal(), rb.normal(), `${name}: the same draws taken`);
  }
});

test('initSteps yields after every INIT_STEP values at most (a layer of 2·INIT_STEP + 1 weights: 3 steps)', () => {
  const dense = new Dense(1, 2 * INIT_STEP + 1);
  let steps = 0;
  for (const _ of dense.initSteps(new Rng(1))) steps++;
  assert.equal(steps, 3);
});

/** The root mean square of a[from, to): the sample standard deviation of values drawn about 0. */
function rms(a: Float32Array, from = 0, to = a.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += a[i] * a[i];
  return Math.sqrt(sum / (to - from));
}

test('init scales: a tree\'s root He normal over the layer\'s whole fan-in n (each block\'s too, not its width s), the nodes below it zero or 0.1× that (small); a flat layer\'s leaves, dense weights and experts He normal; biases zero', () => {
  const n = 64, m = 64, B = 4, s = n / B, ms = m * s, he = Math.sqrt(2 / n);
  const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got / want - 1) < 0.1, `${what}: ${got}, expected ${want}`);
  for (const nodeInit of ['zero', 'small'] as const) {
    const tree = new TreeGated({ inputSize: n, outputSize: m, depth: 2, blocks: B, nodeInit }).init(new Rng(11));
    for (let j = 0; j < B; j++) {
      const w = tree.weight[j].data;
      near(rms(w, 0, ms), he, `${nodeInit}: block ${j}'s root`);
      if (nodeInit === 'zero') assert.ok(w.subarray(ms).every((v) => v === 0), `block ${j}: the nodes below the root zero`);
      else near(rms(w, ms), 0.1 * he, `small: block ${j}'s nodes below the root`);
      assert.ok(tree.bias[j].data.every((v) => v === 0));
    }
  }
  const flat = new TreeGated({ kind: 'flat', inputSize: n, outputSize: m, depth: 2, blocks: B }).init(new Rng(12));
  for (let L = 0; L < 4; L++) near(rms(flat.weight[1].data, L * ms, (L + 1) * ms), he, `flat: leaf ${L}`);
  near(rms(new Dense(n, m).init(new Rng(13)).weight.data), he, 'dense');
  const moe = new MixtureOfExperts({ inputSize: n, outputSize: m, experts: 16 }).init(new Rng(14));
  near(rms(moe.weight.data), he, 'experts');
  near(rms(moe.router.data), Math.sqrt(0.1 / n), 'router');
});
