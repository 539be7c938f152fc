/**
 * The progress bars' line and ETA (train's and experiment's), as pure functions: cli-progress's own format draws a
 * 40-character bar whatever the terminal's width, and an 80-column terminal cut the line's end off (the ETA first);
 * its ETA starts again at each bar.start(), and train restarts its bar after each epoch's line.
 */

/**
 * `${before}[bar]${after}` in at most `columns` − 1 characters (a line that fills the last column wraps on some
 * terminals; `columns` undefined, as process.stderr.columns off a terminal, counts as 80): the bar takes what the
 * text leaves, 10 to 40 characters; text too long for even 10 is cut at its end, with '…'. `progress` is in [0, 1].
 */
export function progressLine(before: string, progress: number, after: string, columns: number | undefined): string {
  const width = Math.max(1, (columns || 80) - 1);
  const size = Math.min(40, Math.max(10, width - before.length - after.length - 2));
  const done = Math.round(Math.min(1, Math.max(0, progress)) * size);
  const line = `${before}[${'█'.repeat(done)}${'░'.repeat(size - done)}]${after}`;
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/**
 * Seconds left once `step` of `total` steps is done at `now` (ms), at the pace since `from`: the step and the time
 * at which this process began counting (a resumed run's earlier steps, done by another process, do not count).
 * null before a step has been counted.
 */
export function etaSeconds(from: { step: number; ms: number }, step: number, now: number, total: number): number | null {
  const steps = step - from.step;
  return steps > 0 ? (now - from.ms) / 1000 / steps * (total - step) : null;
}

/** An ETA for a progress line: 45s, 3m07s, 2h05m; '-' where there is none yet. */
export function etaText(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds), two = (n: number) => String(n).padStart(2, '0');
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${two(s % 60)}s` : `${Math.floor(s / 3600)}h${two(Math.floor(s % 3600 / 60))}m`;
}
