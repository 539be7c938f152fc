/**
 * The native thread pool's stress scenarios, run in a child process by native.test.ts (a lost wake-up blocks
 * inside a native call, where the test runner's timeouts cannot fire; the parent kills this process instead).
 * Usage: node --import tsx test/kernels/pool-stress.ts handshake|blocking|sleeping — prints "<name>: ok".
 */
import assert from 'node:assert/strict';
import { loadAddon } from '../../src/kernels/native/index.js';
import { Rng } from '../helpers.js';

const addon = loadAddon();
if (!addon) throw new Error('the native addon is not built');
const threads = addon.info().maxThreads;

/** Busy for `ms`, as JavaScript between two kernel calls: long gaps let the workers stop polling and sleep. */
function busy(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) { /* busy */ }
}

const scenarios: Record<string, () => void> = {
  handshake: () => {
    const calls = 20000;
    assert.equal(addon.parallelStress(calls, 16, 0), calls * threads);
  },
  // The caller's task takes 100 µs and the worker's 0.2–3 ms, longer than the caller polls (0.5 ms): the caller
  // blocks on the pool's condition variable and only the worker's notify ends the call; gaps of 0–3 ms between
  // calls let the worker fall asleep (after 1 ms of polling), so that each run must wake it too.
  blocking: () => {
    const rng = new Rng(6);
    for (let i = 0; i < 150; i++) {
      busy(rng.uniform() * 3);
      const late = 200 + Math.floor(rng.uniform() * 2800);
      assert.equal(addon.parallelStress(1, 16, late), threads, `call ${i}, tasks of ${late} µs`);
    }
    assert.throws(() => addon.parallelStress(1, 16, 2_000_000), /lateMicros must be in \[0, 1000000\]/);
  },
  // Small runs (work 1) that find a worker asleep stay on the caller, large ones (work 16) wake it, and the caller
  // takes any task not yet started: every path must run each task exactly once and return.
  sleeping: () => {
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const gap = rng.uniform() * 3;
      busy(gap);
      const work = i % 3 === 0 ? 16 : 1, calls = 1 + (i % 4);
      assert.equal(addon.parallelStress(calls, work, 0), calls * threads, `call ${i}, gap ${gap.toFixed(2)} ms, work ${work}`);
    }
  },
};

const name = process.argv[2];
const run = scenarios[name];
if (!run) throw new Error(`unknown scenario '${name}' (${Object.keys(scenarios).join(', ')})`);
run();
console.log(`${name}: ok`);
