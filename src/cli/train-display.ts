/**
 * What `treegate train` shows while it trains, on standard error: a progress bar (on a terminal, unless
 * --no-progress) with smoothed loss and accuracy, a line per epoch (of a run of more than MAX_EPOCH_LINES epochs, a
 * line every few, the first and the last), a warning per skipped step; any other line goes through say(), which takes
 * the bar down first so that the line is not drawn over.
 */
import cliProgress from 'cli-progress';
import type { EpochMetrics, StepInfo } from '../train/trainer.js';
import { shownEpoch } from '../report/training.js';
import { etaSeconds, etaText, trainLine } from './progress-line.js';

export interface TrainDisplay {
  /** a line under the bar (the bar shows the last step first, then comes down) */
  say(line: string): void;
  /** after each step: the bar and the smoothed loss and accuracy, a skipped step's warning */
  step(s: StepInfo): void;
  /**
   * after each epoch: its line; `began`: the run's seconds when the epoch began (the epoch before it's, 0 for the
   * first); `last`: the run's last epoch, printed where lines are thinned (one that ends a run early, --patience)
   */
  epoch(e: EpochMetrics, began: number, last?: boolean): void;
  /** the bar comes down (it comes back at the next step) */
  stop(): void;
}

/** The most epoch lines a run prints: a small file's run of thousands of epochs prints every few (metrics.jsonl and the report hold each). */
export const MAX_EPOCH_LINES = 100;

/** A time on an epoch's line: ms below a second (a small CSV run's epochs take a few), as the training report writes it. */
const time = (s: number) => (s < 1 ? `${(1000 * s).toFixed(0)} ms` : `${s.toFixed(1)} s`);

/**
 * An exponential moving average that weighs each new value 0.02 (about the last 50), its start's bias corrected as
 * Adam's moments are: after t values, the sum of 0.02 · 0.98^(t − i) · value_i over 1 − 0.98^t. Started at the first
 * value instead, a 60-step run's figure was still 30% its untrained first batch's. `text()`: 4 decimals, '-' before
 * any value.
 */
export function smoothed(): { add(v: number): void; value(): number; text(): string } {
  let sum = 0, decay = 1;
  const value = () => (decay === 1 ? NaN : sum / (1 - decay));
  return {
    add: (v) => {
      sum = 0.98 * sum + 0.02 * v;
      decay *= 0.98;
    },
    value,
    text: () => (decay === 1 ? '-' : value().toFixed(4)),
  };
}

/** `stream`: where the bar is drawn, `now`: the clock of its ETA, in ms (a test's stand-ins for the terminal and the time). */
export function trainDisplay(epochs: number, showBar: boolean, log: (line: string) => void,
  { stream = process.stderr, now = () => performance.now() }: { stream?: NodeJS.WriteStream; now?: () => number } = {}): TrainDisplay {
  const bar = showBar && stream.isTTY
    ? new cliProgress.SingleBar({
      // the whole line fits the terminal's width (the bar takes what the text leaves, its figures padded so that the
      // bar keeps its width); the ETA is ours: cli-progress's starts again with each bar.start(), after each epoch's line
      format: (_options, params, p) => trainLine(p.epoch, epochs, params.progress, p.loss, p.acc, p.eta, params.maxWidth),
      stream, hideCursor: true, clearOnComplete: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  // the bar draws every 10 steps; it shows the last step before a line is printed under it, and again after
  let shown = { step: 0, epoch: 1, loss: '-', acc: '-', eta: '-' };
  const loss = smoothed(), acc = smoothed();
  const every = Math.ceil(epochs / MAX_EPOCH_LINES);
  if (every > 1) log(`treegate: a line every ${every} epochs of the ${epochs}, the first and the last (metrics.jsonl and treegate report hold each)`);
  // the ETA's pace: the steps this process has taken since its first (a resumed run's earlier ones took another's time)
  let from: { step: number; ms: number } | null = null;
  const say = (line: string) => {
    if (bar?.isActive) {
      bar.update(shown.step, { epoch: shown.epoch, loss: shown.loss, acc: shown.acc, eta: shown.eta });
      bar.stop();
    }
    log(line);
  };
  return {
    say,
    step: (s) => {
      if (s.skipped) say(`treegate: warning: non-finite loss at step ${s.step}: step skipped, learning rate halved`);
      // a skipped step's loss is not finite: the figures are the steps' that counted
      if (Number.isFinite(s.loss)) {
        loss.add(s.loss);
        acc.add(s.accuracy);
      }
      if (!bar) return;
      if (!bar.isActive) bar.start(s.totalSteps, s.step - 1, { epoch: s.epoch, loss: shown.loss, acc: shown.acc, eta: shown.eta });
      from ??= { step: s.step, ms: now() };
      shown = { step: s.step, epoch: s.epoch, loss: loss.text(), acc: acc.text(), eta: etaText(etaSeconds(from, s.step, now(), s.totalSteps)) };
      if (s.step % 10 === 0 || s.step === s.totalSteps) bar.update(s.step, { epoch: s.epoch, loss: shown.loss, acc: shown.acc, eta: shown.eta });
    },
    epoch: (e, began, last = false) => {
      if (!shownEpoch(e.epoch, epochs, MAX_EPOCH_LINES) && !last) return;
      say(`epoch ${e.epoch}/${epochs}: ${Number.isNaN(e.trainLoss) ? 'every training step skipped' : `train loss ${e.trainLoss.toFixed(4)} acc ${e.trainAccuracy.toFixed(4)}`}` +
        (e.validationAccuracy === null ? '' : `, validation loss ${e.validationLoss!.toFixed(4)} acc ${e.validationAccuracy.toFixed(4)}`) +
        e.trees.map((t) => `, layer ${t.layer} balance ${t.balance.toFixed(3)} dead ${t.deadLeaves}`).join('') +
        ` (epoch ${time(e.seconds - began)}, ${time(e.seconds)} in)`);
    },
    stop: () => bar?.stop(),
  };
}
