/**
 * The progress bars' line (train's and experiment's), as a pure function: cli-progress's own format draws a
 * 40-character bar whatever the terminal's width, and an 80-column terminal cut the line's end off (the ETA first).
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

