/**
 * bench/verdicts.ts: issue 3's targets across saved runs, judged again from each run's JSON line, the tree rows
 * also at the rate their own group read memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { judgeTargets } from '../../bench/targets.js';
import { atReadRate, runFigures, verdictMatrix } from '../../bench/verdicts.js';

const saved = fileURLToPath(new URL('../../bench/saved/2026-12-06-xeon-1950.txt', import.meta.url));
const text = readFileSync(saved, 'utf8');

test('a saved run judged again gives the verdicts the run printed', () => {
  const recorded = (JSON.parse(text.split('\n').reverse().find((l) => l.startsWith('{'))!) as { targets: Array<{ target: string; status: string }> }).targets;
  const again = judgeTargets(runFigures(text, saved));
  assert.deepEqual(again.map((v) => [v.target, v.status]), recorded.map((v) => [v.target, v.status]));
});

test('at the read rate, each tree figure is read against its own group\'s rate; the other targets are unchanged', () => {
  const run = runFigures(text, saved);
  const rate = atReadRate(run);
  assert.ok(rate);
  const plain = judgeTargets(run), again = judgeTargets(rate);
  for (const [i, v] of plain.entries()) {
    if (!v.target.startsWith('tree layer ≥ 70%')) assert.deepEqual(again[i], v);
  }
  // native's optimizer step: under 70% of the bound at 54 GB/s at k = 3–6 and 8–10, over it at its groups' rates
  const step = (vs: typeof plain) => vs.find((v) => v.target.endsWith('optimizer step, native'))!.status;
  assert.equal(step(plain), 'missed');
  assert.equal(step(again), 'met');
  const matrix = verdictMatrix([{ name: 'xeon-1950', run }]);
  assert.match(matrix, /^\| target \| xeon-1950 \|$/m);
  assert.match(matrix, /optimizer step, native \| missed; at the read rate: met \|$/m);
  assert.match(matrix, /^\| met, of 24 \| 9; at the read rate: 11 \|$/m);
});

test('a run without the read rates says so in the tree rows, and is judged as it was', () => {
  const j = JSON.parse(text.split('\n').reverse().find((l) => l.startsWith('{'))!);
  for (const r of j.results.tree.data.rows) r.probeAchieved = null;
  const run = runFigures(JSON.stringify(j), 'edited');
  assert.equal(atReadRate(run), null);
  const matrix = verdictMatrix([{ name: 'a', run }]);
  assert.match(matrix, /optimizer step, native \| missed; at the read rate: not recorded \|$/m);
  assert.match(matrix, /^\| met, of 24 \| 9; at the read rate: not recorded \|$/m);
  assert.throws(() => runFigures('no json here', 'x.txt'), /x\.txt holds no JSON line/);
});

test('docs/benchmarks.md\'s table of the targets across the machines is what bench/verdicts.ts prints from the saved runs', () => {
  const names = ['2026-12-04-zen5-0701', '2026-12-05-zen4-1349', '2026-12-05-zen4-1917', '2026-12-05-zen4-1950', '2026-12-06-xeon-1538', '2026-12-06-xeon-1950',
    '2026-12-07-zen5-1441', '2026-12-07-zen5-1544', '2026-12-08-zen3-0216', '2026-12-08-zen3-0258'];
  const runs = names.map((name) => {
    const path = fileURLToPath(new URL(`../../bench/saved/${name}.txt`, import.meta.url));
    return { name, run: runFigures(readFileSync(path, 'utf8'), path) };
  });
  const doc = readFileSync(fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)), 'utf8');
  assert.ok(doc.includes(verdictMatrix(runs)), 'rerun the command above the table in docs/benchmarks.md and paste its output');
});
