/**
 * What train and experiment show while they run (src/cli/progress-line.ts, src/cli/train-display.ts): the progress
 * bar's line fits the terminal's width, whatever the text beside the bar; its ETA is the pace of this process's steps
 * so far, over the epochs (train's bar starts again after each epoch's line); an epoch's line gives its own time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etaSeconds, etaText, experimentLine, progressLine, trainLine } from '../../src/cli/progress-line.js';
import { smoothed, trainDisplay } from '../../src/cli/train-display.js';
import type { EpochMetrics } from '../../src/train/trainer.js';

const bar = (line: string) => /\[([█░]*)\]/.exec(line)![1];

test('progressLine: the bar takes what the text leaves (10 to 40 characters); the line never reaches the last column', () => {
  const before = 'epoch 3/10 ', after = ' 42% | loss 0.1234 | acc 0.9876 | eta 1m05s';
  for (const columns of [40, 80, 200]) {
    const line = progressLine(before, 0.42, after, columns);
    assert.ok(line.length <= columns - 1, `${columns} columns: ${line.length} characters`);
  }
  // 80 columns: 79 less the text (54 characters) and the brackets leave the bar 23; 200 leave it its usual 40
  assert.equal(progressLine(before, 0.25, after, 80), `${before}[${'█'.repeat(6)}${'░'.repeat(17)}]${after}`);
  assert.equal(bar(progressLine(before, 0.42, after, 200)).length, 40);
  assert.equal(progressLine(before, 1, after, undefined), progressLine(before, 1, after, 80), 'no width: 80 columns');
  // 40 columns: a 10-character bar, the text cut at the end
  const narrow = progressLine(before, 0.42, after, 40);
  assert.equal(narrow.length, 39);
  assert.ok(narrow.startsWith(`${before}[${'█'.repeat(4)}${'░'.repeat(6)}] 42% | loss`) && narrow.endsWith('…'), narrow);
});

test('progressLine: a long label is cut at its end, the bar kept at 10 characters', () => {
  const label = 'fashion seed 12 k=10 dense-equal-params '.repeat(5);
  for (const columns of [40, 80, 200]) {
    const line = progressLine('accuracy ', 0.25, ` 30/120 runs | eta 12m30s | ${label}`, columns);
    assert.equal(line.length, columns - 1);
    assert.ok(line.endsWith('…'));
    assert.equal(bar(line).length, 10);
    if (columns >= 80) assert.ok(line.includes(' 30/120 runs | eta 12m30s | fashion'), 'the text is cut at its end');
  }
  assert.equal(progressLine('x', 0, 'y', 1), '…', 'a terminal one column wide');
});

test("an experiment's bar keeps its width while a run goes on, and cuts a long label", () => {
  const widths = new Set<number>();
  for (const [done, eta] of [[0, '-'], [9, '45s'], [10, '3m07s'], [99, '2h05m'], [120, '0s']] as const) {
    const line = experimentLine('accuracy', done, 120, 'runs', eta, 'mnist seed 2 k=4 tree', 80);
    assert.ok(line.length <= 79 && line.endsWith(' | mnist seed 2 k=4 tree'), line);
    assert.ok(line.includes(` ${String(done).padStart(3)}/120 runs | eta ${eta}`), line);
    widths.add(bar(line).length);
  }
  assert.deepEqual([...widths], [18]);
  const cut = experimentLine('accuracy', 3, 120, 'runs', '45s', 'fashion seed 12 k=10 dense-equal-params '.repeat(3), 80);
  assert.ok(cut.length === 79 && cut.endsWith('…') && bar(cut).length === 10, cut);
});

test("an experiment's bar keeps its width as run labels of other lengths come, given the widest so far", () => {
  const labels = ['mnist seed 1 k=4 tree', 'mnist seed 1 k=4 dense-equal', 'mnist seed 2 k=4 tree', 'done'];
  let widest = 0;
  const lines = labels.map((label, i) => experimentLine('accuracy', i, 120, 'runs', '45s', label, 80, widest = Math.max(widest, label.length)));
  // the second label is the longest: from it on, one width; the lines end with their own label, not padding
  assert.deepEqual(lines.map((l) => bar(l).length), [18, 11, 11, 11]);
  lines.forEach((l, i) => assert.ok(l.endsWith(` | ${labels[i]}`) && l.length <= 79, l));
  // without the widest label, the bar grows back for a shorter one
  assert.equal(bar(experimentLine('accuracy', 2, 120, 'runs', '45s', labels[2], 80)).length, 18);
});

test("train's bar in a narrow terminal drops the accuracy, then the loss, and keeps its ETA", () => {
  const at = (columns: number) => trainLine(3, 10, 0.42, '0.1234', '0.9876', '1m05s', columns);
  assert.match(at(80), /^epoch  3\/10 \[[█░]+\]  42% \| loss 0\.1234 \| acc 0\.9876 \| eta 1m05s $/);
  assert.match(at(60), /^epoch  3\/10 \[[█░]+\]  42% \| loss 0\.1234 \| eta 1m05s $/);
  assert.match(at(40), /^epoch  3\/10 \[[█░]{10}\] 42% eta 1m05s $/);
  assert.match(trainLine(10, 10, 1, '0.1234', '0.9876', '0s', 40), /^epoch 10\/10 \[█{10}\]100% eta 0s    $/);
  for (const columns of [30, 40, 55, 56, 60, 68, 69, 80, 120]) {
    const line = at(columns);
    assert.ok(line.length <= columns - 1, `${columns} columns: ${line}`);
    if (columns >= 40) assert.ok(line.includes('eta 1m05s'), `${columns} columns: ${line}`);
  }
});

test("etaSeconds: this process's time per step, times the steps left; a resumed run counts only its own steps", () => {
  // 10 steps in 5 s: 0.5 s a step, 90 left
  assert.equal(etaSeconds({ step: 0, ms: 1000 }, 10, 6000, 100), 45);
  // resumed at step 600 of 1000: 100 steps in 20 s here, 300 left (the first 600 took another process's time)
  assert.equal(etaSeconds({ step: 600, ms: 0 }, 700, 20_000, 1000), 60);
  assert.equal(etaSeconds({ step: 600, ms: 0 }, 600, 20_000, 1000), null, 'no step counted yet');
  assert.equal(etaSeconds({ step: 0, ms: 0 }, 100, 9000, 100), 0, 'done');
  assert.deepEqual([null, 0, 44.6, 59.6, 187, 3599.6, 7500].map(etaText), ['-', '0s', '45s', '1m00s', '3m07s', '1h00m', '2h05m']);
});

/** A terminal of `columns` columns for cli-progress: the lines it draws (escape sequences left out). */
function terminal(columns: number) {
  const lines: string[] = [];
  const stream = { isTTY: true, columns, write: (s: string) => { if (!s.startsWith('\x1B') && s !== '\n') lines.push(s); return true; } };
  return { stream: stream as unknown as NodeJS.WriteStream, lines };
}

const epoch = (n: number): EpochMetrics => ({ epoch: n, step: 50 * n, lr: 1e-3, trainLoss: 0.5, trainAccuracy: 0.9, validationLoss: null, validationAccuracy: null, trees: [], seconds: n });

test("train's bar fits 80 columns, keeps its width and ends with its ETA, which goes on over the epochs", () => {
  // a step a second: at step n of 100, 100 − n seconds left (none before the first step's end, the clock's start);
  // ten epochs of 10 steps, so that the epoch, the percent and the ETA change their count of digits
  const t = terminal(80), said: string[] = [];
  let ms = 0;
  const d = trainDisplay(10, true, (line) => said.push(line), { stream: t.stream, now: () => ms });
  try {
    for (let step = 1; step <= 100; step++) {
      ms = step * 1000;
      d.step({ epoch: Math.ceil(step / 10), step, totalSteps: 100, loss: 0.123456, accuracy: 0.98765, lr: 1e-3, skipped: false });
      if (step % 10 === 0) d.epoch(epoch(step / 10), step / 10 - 1);
    }
  } finally {
    d.stop();
  }
  assert.equal(said.length, 10);
  assert.ok(t.lines.length >= 10, `${t.lines.length} lines drawn`);
  const bars = new Set<number>();
  for (const line of t.lines) {
    assert.ok(line.length < 80, `${line.length} characters: ${line}`);
    const [, percent, eta] = /^epoch +\d+\/10 \[[█░]+\] +(\d+)% \| loss [-\d.]+ +\| acc [-\d.]+ +\| eta (\S+) *$/.exec(line) ?? assert.fail(line);
    const step = Number(percent);
    assert.equal(eta, etaText(step > 1 ? 100 - step : null), line);
    bars.add(bar(line).length);
  }
  assert.deepEqual([...bars], [bars.values().next().value], `one bar width: ${[...bars]}`);
  assert.ok(t.lines.some((l) => /^epoch  6\/10 .* 50% .* eta 50s *$/.test(l)), 'the bar drawn again after an epoch\'s line');
});

test('a run of more than 100 epochs prints a line every few epochs, the first and the last, and says so first', () => {
  for (const [epochs, lines] of [[100, 100], [101, 52], [250, 85]] as const) {
    const said: string[] = [];
    const d = trainDisplay(epochs, false, (line) => said.push(line));
    for (let e = 1; e <= epochs; e++) d.epoch({ ...epoch(e), seconds: e }, e - 1);
    const shown = said.filter((l) => l.startsWith('epoch ')).map((l) => Number(/^epoch (\d+)\//.exec(l)![1]));
    assert.equal(shown.length, lines, `${epochs} epochs`);
    assert.deepEqual([shown[0], shown.at(-1)], [1, epochs]);
    if (epochs > 100) {
      const every = Math.ceil(epochs / 100);
      assert.equal(said[0], `treegate: a line every ${every} epochs of the ${epochs}, the first and the last (metrics.jsonl and treegate report hold each)`);
      assert.deepEqual(shown.slice(1, 3), [every, 2 * every]);
    } else assert.equal(said.length, epochs, 'no note');
  }
  // a run that stops early (--patience) prints its last epoch's line where lines are thinned
  const said: string[] = [];
  const d = trainDisplay(250, false, (line) => said.push(line));
  for (let e = 1; e <= 37; e++) d.epoch({ ...epoch(e), seconds: e }, e - 1, e === 37);
  assert.deepEqual(said.filter((l) => l.startsWith('epoch ')).map((l) => Number(/^epoch (\d+)\//.exec(l)![1])), [1, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 37]);
});

test("an epoch's line gives the epoch's time and the run's so far, in ms below a second", () => {
  const said: string[] = [];
  const d = trainDisplay(3, false, (line) => said.push(line));
  d.epoch({ ...epoch(1), seconds: 0.0123 }, 0);
  d.epoch({ ...epoch(2), seconds: 0.98 }, 0.0123);
  // a resumed run's first epoch: from the epoch before it, which another process ran
  d.epoch({ ...epoch(3), seconds: 14.8 }, 11.6);
  assert.deepEqual(said.map((l) => / \(([^)]*)\)$/.exec(l)?.[1]), ['epoch 12 ms, 12 ms in', 'epoch 968 ms, 980 ms in', 'epoch 3.2 s, 14.8 s in']);
});

test("train's bar shows the smoothed loss and accuracy, each its own, and draws a run's last step where the total is no multiple of 10", () => {
  // 13 steps: drawn at step 10 and at the last, 13 (100%); the loss and accuracy each the same every step, so their
  // averages are those values (an accuracy averaged from the first loss would show 0.25 pulled towards 0.75)
  const t = terminal(80);
  const d = trainDisplay(1, true, () => {}, { stream: t.stream, now: () => 0 });
  try {
    for (let step = 1; step <= 13; step++) d.step({ epoch: 1, step, totalSteps: 13, loss: 0.25, accuracy: 0.75, lr: 1e-3, skipped: false });
  } finally {
    d.stop();
  }
  const last = t.lines.filter((l) => /^epoch/.test(l)).at(-1) ?? assert.fail(`no bar drawn: ${t.lines.join(' / ')}`);
  assert.match(last, / 100% \| loss 0\.2500 +\| acc 0\.7500 /, last);
});

test("the bar's moving average corrects its start: a short run's figure is its recent batches', not its first", () => {
  // 60 steps, the first at loss 2.3, the rest at 0.04: the first batch weighs 0.02 · 0.98^59 / (1 − 0.98^60) ≈ 0.9%
  // (started at the first value, it had weighed 0.98^59 ≈ 30%, and the bar read 0.72)
  const s = smoothed();
  assert.equal(s.text(), '-', 'no figure before a step');
  s.add(2.3);
  assert.ok(Math.abs(s.value() - 2.3) < 1e-12, 'one step: its own value');
  for (let i = 1; i < 60; i++) s.add(0.04);
  const expected = (0.02 * 0.98 ** 59 * 2.3 + (1 - 0.98 ** 59) * 0.04) / (1 - 0.98 ** 60);
  assert.ok(Math.abs(s.value() - expected) < 1e-12 && s.value() < 0.06, String(s.value()));
  // a constant stays itself (to the shown decimals), over a long run too (0.98^t underflows to 0)
  const c = smoothed();
  for (let i = 0; i < 50_000; i++) c.add(0.25);
  assert.equal(c.text(), '0.2500');
});

test("a skipped step's non-finite loss leaves the bar's figures as they were", () => {
  const t = terminal(80);
  const d = trainDisplay(1, true, () => {}, { stream: t.stream, now: () => 0 });
  try {
    for (let step = 1; step <= 20; step++) d.step({ epoch: 1, step, totalSteps: 20, loss: step === 15 ? NaN : 0.5, accuracy: step === 15 ? 0 : 0.5, lr: 1e-3, skipped: step === 15 });
  } finally {
    d.stop();
  }
  const last = t.lines.filter((l) => /^epoch/.test(l)).at(-1) ?? assert.fail('no bar drawn');
  assert.match(last, / 100% \| loss 0\.5000 +\| acc 0\.5000 /, last);
});

test("an epoch's time of exactly a second is in seconds, not 1000 ms", () => {
  const said: string[] = [];
  const d = trainDisplay(1, false, (line) => said.push(line));
  d.epoch({ ...epoch(1), seconds: 1 }, 0);
  assert.match(said[0], / \(epoch 1\.0 s, 1\.0 s in\)$/, said[0]);
});

test('the bar of an experiment with nothing to count is empty, not missing; a percent is floored (99.5% is not done); an ETA past any count is -; a terminal too narrow for any form cuts the shortest', () => {
  assert.equal(bar(experimentLine('speed', 0, 0, 'runs', '-', 'x', 80)), '░'.repeat(40));
  assert.match(trainLine(3, 10, 0.995, '0.1234', '0.9876', '5s', 80), /\]  99% \| loss/);
  assert.deepEqual([Infinity, NaN].map(etaText), ['-', '-']);
  // 36 columns: no form leaves the bar its 10 characters; the line is cut in the shortest form's text
  assert.equal(trainLine(3, 10, 0.42, '0.1234', '0.9876', '1m05s', 36), 'epoch  3/10 [████░░░░░░] 42% eta 1…');
});

test("an epoch's line gives each routed layer's balance to three places and its dead leaves", () => {
  const said: string[] = [];
  const d = trainDisplay(1, false, (line) => said.push(line));
  d.epoch({ ...epoch(1), trees: [{ layer: 2, kind: 'tree', leaves: 8, blocks: 1, balance: 0.71234, deadLeaves: 1, usage: [[1, 0, 1, 1, 1, 1, 1, 1]] }] } as EpochMetrics, 0);
  assert.match(said[0], /, layer 2 balance 0\.712 dead 1 \(epoch/, said[0]);
});

test("a line said under the bar comes after the bar shows the last step, not the last step drawn (every 10)", () => {
  const t = terminal(80), said: string[] = [];
  const d = trainDisplay(1, true, (line) => { said.push(line); t.lines.push(`said: ${line}`); }, { stream: t.stream, now: () => 0 });
  try {
    for (let step = 1; step <= 7; step++) d.step({ epoch: 1, step, totalSteps: 100, loss: 0.5, accuracy: 0.5, lr: 1e-3, skipped: false });
    d.say('a line');
  } finally {
    d.stop();
  }
  const at = t.lines.indexOf('said: a line');
  const drawn = t.lines.slice(0, at).filter((l) => /^epoch/.test(l)).at(-1) ?? assert.fail(t.lines.join(' / '));
  assert.match(drawn, /\]   7% \|/, drawn);
});
