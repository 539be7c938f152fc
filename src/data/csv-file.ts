import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { osReason, TreegateError, unreadableHint } from '../core/errors.js';
import { isStream } from '../core/streams.js';
import { parseCsv, type CsvData, type CsvOptions } from './csv.js';

/** Larger files are refused before reading: they would not fit a float32 matrix in memory anyway. */
export const MAX_CSV_BYTES = 1 << 30;

/** The name of standard input among CSV paths (`-`, as command-line tools take it), and how messages call it. */
export const STDIN_PATH = '-';
const STDIN_NAME = 'standard input';

/** How a CSV path reads in messages and JSON output: standard input by its name, a file by its absolute path. */
export function csvSource(path: string, absolute: (p: string) => string = (p) => p): string {
  return path === STDIN_PATH ? STDIN_NAME : absolute(path);
}

/**
 * Whether `path` is read as a stream, once, to its end: standard input (`-`), a named pipe, or a pipe of the shell's
 * (`<(command)`, /dev/fd/N), as opposed to a file that can be read again. False where it cannot be examined.
 */
export function isStreamPath(path: string): boolean {
  if (path === STDIN_PATH) return true;
  try {
    return isStream(statSync(path));
  } catch {
    return false;
  }
}

/**
 * Reads a CSV file of numeric features plus a label column (see parseCsv); `-` reads standard input to its end, and
 * a pipe (named, or the shell's `<(command)`) is read to its end too.
 */
export function readCsv(path: string, opts: CsvOptions = {}): CsvData {
  if (path === STDIN_PATH) return parseCsv(readStream(0, STDIN_NAME), STDIN_NAME, opts);
  let size: number;
  try {
    const st = statSync(path);
    if (isStream(st)) return parseCsv(readPipe(path), path, opts);
    if (!st.isFile()) throw new TreegateError(`${path} is not a regular file`, 'pass a CSV file');
    size = st.size;
  } catch (e) {
    if (e instanceof TreegateError) throw e;
    throw cannotRead(path, e);
  }
  if (size > MAX_CSV_BYTES) throw new TreegateError(`${path}: ${size} bytes is over the 1 GiB limit of the CSV reader`, 'split the file or sample it');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  return parseCsv(utf8Text(bytes, path), path, opts);
}

/**
 * The bytes as UTF-8 text. A byte sequence that is not UTF-8 (a file saved as Latin-1 or Windows-1252, as some
 * spreadsheets save CSV) is an error naming its line, not a U+FFFD character in a class or column name that a later
 * file, in UTF-8, would not match. Bytes with a NUL among them go through as they are: parseCsv names UTF-16.
 */
function utf8Text(bytes: Buffer, source: string): string {
  if (bytes.includes(0)) return bytes.toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const text = bytes.toString('utf8'), at = text.indexOf('\uFFFD');
    const lines = text.slice(0, at).split(/\r\n|\r|\n/), line = lines[lines.length - 1];
    throw new TreegateError(`${source}:${lines.length}: the file is not UTF-8 text (after ${JSON.stringify(line.slice(-20))} comes a byte UTF-8 has no character for)`,
      'save it as CSV UTF-8, or convert it: iconv -f WINDOWS-1252 -t UTF-8 FILE > converted.csv (for a Latin-1 or Windows file)');
  }
}

/** A file that exists but cannot be read (permissions, a disk error), named with the OS's reason. */
function cannotRead(path: string, e: unknown): TreegateError {
  return new TreegateError(`cannot read CSV file ${path}: ${osReason(e)}`, unreadableHint(e));
}

function readPipe(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw cannotRead(path, e);
  }
  try {
    return readStream(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** A stream (standard input, a pipe, a redirected file or a terminal) to its end, as UTF-8 text, at most MAX_CSV_BYTES. */
function readStream(fd: number, name: string): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') { // a non-blocking pipe with nothing in it yet
        Atomics.wait(wait, 0, 0, 5);
        continue;
      }
      if (code === 'EOF') break; // (Windows: a closed pipe)
      throw new TreegateError(`cannot read CSV from ${name}: ${osReason(e)}`);
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_CSV_BYTES) throw new TreegateError(`${name}: over the 1 GiB limit of the CSV reader`, 'split the data or sample it');
    chunks.push(chunk.subarray(0, n));
  }
  return utf8Text(Buffer.concat(chunks, total), name);
}
