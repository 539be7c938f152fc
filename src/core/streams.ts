import type { Stats } from 'node:fs';

/** A character device or a named pipe (/dev/null, a FIFO, a shell's `<(…)`): read or written once, never replaced. */
export function isStream(st: Stats): boolean {
  return st.isCharacterDevice() || st.isFIFO();
}
