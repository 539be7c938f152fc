/**
 * The progress bars' line and ETA (train's and experiment's), as pure functions: cli-progress's own format draws a
 * 40-character bar whatever the terminal's width, and an 80-column terminal cut the line's end off (the ETA first);
 * its ETA starts again at each bar.start(), and train restarts its bar after each epoch's line.
 */

/**
 * `${before}[bar]${after}` in at most `columns` − 1 characters (a line that fills the last column wraps on some
 * terminals; `columns` undefined, as process.stderr.columns off a terminal, counts as 80): the bar takes what the
 * text leaves, 10 to 40 characters (callers pad the figures that change as a bar runs, so that it keeps its width;
 * `afterWidth`, where larger than `after`'s length, is the width the bar leaves `after`); text too long for even
 * 10 is cut at its end, with '…'. `progress` is in [0, 1].
 */
export function progressLine(before: string, progress: number, after: string, columns: number | undefined, afterWidth = after.length): string {
  const width = lineWidth(columns);
  const size = Math.min(40, Math.max(10, width - before.length - Math.max(after.length, afterWidth) - 2));
  const done = Math.round(Math.min(1, Math.max(0, progress)) * size);
  const line = `${before}[${'█'.repeat(done)}${'░'.repeat(size - done)}]${after}`;
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** Characters a progress line may take: one less than the terminal's columns (80 off a terminal). */
const lineWidth = (columns: number | undefined) => Math.max(1, (columns || 80) - 1);

/**
 * Train's bar: `epoch E/N [bar] P% | loss L | acc A | eta T`, its figures padded, so that the bar keeps its width.
 * A terminal too narrow for all of it drops the accuracy, then the loss, rather than cut the ETA off.
 */
export function trainLine(epoch: number, epochs: number, progress: number, loss: string, acc: string, eta: string, columns: number | undefined): string {
  const before = `epoch ${String(epoch).padStart(String(epochs).length)}/${epochs} `, p = percent(progress), t = eta.padEnd(6);
  const forms = [
    ` ${p} | loss ${loss.padEnd(6)} | acc ${acc.padEnd(6)} | eta ${t}`,
    ` ${p} | loss ${loss.padEnd(6)} | eta ${t}`,
    `${p} eta ${t}`,
  ];
  // (the first that leaves the bar its 10 characters and brackets)
  const after = forms.find((f) => before.length + f.length + 12 <= lineWidth(columns)) ?? forms[forms.length - 1];
  return progressLine(before, progress, after, columns);
}

/**
 * An experiment's bar: `NAME [bar] D/T UNIT | eta T | LABEL`, its count and ETA padded, so that the bar keeps its
 * width while a run goes on; `labelWidth` (the widest label shown so far) keeps it as the next run's label, of
 * another length, comes. A label too long is cut.
 */
export function experimentLine(name: string, done: number, total: number, unit: string, eta: string, label: string, columns: number | undefined,
  labelWidth = label.length): string {
  const after = ` ${String(done).padStart(String(total).length)}/${total} ${unit} | eta ${eta.padEnd(6)} | `;
  return progressLine(`${name} `, total > 0 ? done / total : 0, after + label, columns, after.length + labelWidth);
}

/** A progress in [0, 1] as a whole percent, padded to 100%'s width. */
const percent = (progress: number) => `${String(Math.floor(Math.min(1, Math.max(0, progress)) * 100)).padStart(3)}%`;

/**
 * Seconds left once `step` of `total` steps is done at `now` (ms), at the pace since `from`: the step and the time
 * at which this process began counting (a resumed run's earlier steps, done by another process, do not count).
 * null before a step has been counted.
 */
export function etaSeconds(from: { step: number; ms: number }, step: number, now: number, total: number): number | null {
  const steps = step - from.step;
  return steps > 0 ? (now - from.ms) / 1000 / steps * (total - step) : null;
}

/** An ETA for a progress line: 45s, 3m07s, 2h05m (at most 6 characters below 100 hours); '-' where there is none yet. */
export function etaText(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds), two = (n: number) => String(n).padStart(2, '0');
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${two(s % 60)}s` : `${Math.floor(s / 3600)}h${two(Math.floor(s % 3600 / 60))}m`;
}
