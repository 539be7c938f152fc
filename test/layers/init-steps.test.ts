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
