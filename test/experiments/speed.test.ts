/**
 * runSpeed stopped inside a depth: a deep layer's depth takes minutes to build and time, so the experiment asks
 * whether to stop (options.stopRequested) while it draws the layers' weights and before each call it times, not only
 * between depths; the seed it was on is left out, as any unfinished seed is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSpeed } from '../../src/experiments/speed.js';

test('a stop asked for at any point of a depth ends the run there: no run of that depth, its seed left out', async () => {
  // one depth (k = 0) per seed: asked once before it, once per step of its four layers' draws (five here), then
  // before each warm-up call and each of the two rounds of each timed call (inference and step, four layers each):
  // 38 times or more. Stopping at the n-th ask, for n from the first inside the depth to the last of those 38.
  for (const n of [2, 4, 6, 7, 12, 25, 38]) {
    let asks = 0;
    const logged: string[] = [];
    const r = await runSpeed({
      seeds: 2, quick: true, width: 8, batch: 4, depths: [0], override: { rounds: 2, budgetMs: 1 },
      progress: () => {}, log: (line) => logged.push(line), stopRequested: async () => ++asks >= n,
    }, [1, 2]);
    assert.equal(asks, n, `stop at ask ${n}: asked no more`);
    assert.deepEqual(logged, [], `stop at ask ${n}: no depth finished`);
    assert.deepEqual([r.seeds, r.runs, r.interrupted], [[], [], { seeds: [1, 2], droppedRuns: 0 }], `stop at ask ${n}`);
  }
});
