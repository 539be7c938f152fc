/**
 * runSpeed stopped inside a depth: a deep layer's depth takes minutes to build and time, so the experiment asks
 * whether to stop (options.stopRequested) while it draws the layers' weights and before each call it times, not only
 * between depths; the seed it was on is left out, as any unfinished seed is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSpeed } from '../../src/experiments/speed.js';
import { measure, median, timeRatio, type Measurement } from '../../src/experiments/timing.js';

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

test('median sorts by value (10 after 9) and takes the middle two\'s mean of an even count; timeRatio pairs rounds where it can', () => {
  assert.equal(median([10, 9, 100]), 10);
  assert.equal(median([10, 9, 2, 100]), 9.5);
  assert.ok(Number.isNaN(median([])), 'no samples: NaN');
  // (only samples and ms are read)
  const m = (samples: number[], ms = median(samples)): Measurement => ({ name: 'm', repeats: samples.length, inner: 1, ms, phases: { total: { ms, minMs: Math.min(...samples), samples } } });
  // paired round by round: the median of 4/1, 1/2 and 9/3, not the ratio of the medians (4/2)
  assert.equal(timeRatio(m([4, 1, 9]), m([1, 2, 3])), 3);
  // as many rounds as the baseline's, or the ratio of the medians
  assert.equal(timeRatio(m([4, 6]), m([2, 3, 4])), 5 / 3);
  assert.ok(Number.isNaN(timeRatio(m([1]), m([1]), 'step')), 'a phase neither has');
});

test('measure: every candidate gets minRepeats samples where the budget asks fewer, no more than maxRepeats (its own where it sets them); with laps, a phase each, the total their sum', async () => {
  const spin = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end); };
  const [plain, lapped] = await measure([
    { name: 'plain', run: () => {}, minRepeats: 2, maxRepeats: 2 },
    // time after the last lap is not counted: the busy wait after 'b' is in no phase
    { name: 'lapped', run: (lap) => { lap('a'); lap('b'); spin(2); } },
  ], { minRepeats: 4, maxRepeats: 4, budgetMs: 0, minSampleMs: 0, warmupMs: 0 });
  assert.deepEqual([plain.repeats, plain.phases.total.samples.length, lapped.repeats, lapped.phases.a.samples.length], [2, 2, 4, 4]);
  assert.deepEqual(Object.keys(plain.phases), ['total']);
  assert.deepEqual(Object.keys(lapped.phases), ['a', 'b', 'total']);
  const { a, b, total } = lapped.phases;
  assert.deepEqual(total.samples, a.samples.map((x, i) => x + b.samples[i]), 'the total of each round is its phases\' sum');
  assert.equal(lapped.ms, median(total.samples));
});
