import { readFileSync, statSync } from 'node:fs';
import { osReason, TreegateError } from '../core/errors.js';
import { parseCsv, type CsvData, type CsvOptions } from './csv.js';

/** Larger files are refused before reading: they would not fit a float32 matrix in memory anyway. */
export const MAX_CSV_BYTES = 1 << 30;

/** Reads a CSV file of numeric features plus a label column (see parseCsv). */
export function readCsv(path: string, opts: CsvOptions = {}): CsvData {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new TreegateError(`${path} is not a regular file`, 'pass a CSV file');
    size = st.size;
  } catch (e) {
    if (e instanceof TreegateError) throw e;
    throw new TreegateError(`cannot read CSV file ${path}: ${osReason(e)}`);
  }
  if (size > MAX_CSV_BYTES) throw new TreegateError(`${path}: ${size} bytes is over the 1 GiB limit of the CSV reader`, 'split the file or sample it');
  return parseCsv(readFileSync(path, 'utf8'), path, opts);
}

