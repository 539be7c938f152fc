import { TreegateError } from '../core/errors.js';
import { matrix } from '../core/tensor.js';
import type { Dataset } from './dataset.js';

/** A CSV dataset: the examples, the class names (index = class), and the feature names (from the header, or col1…). */
export interface CsvData { data: Dataset; labels: string[]; features: string[] }

export interface CsvOptions {
  /** the known classes (e.g. from the training file): a label outside them is an error; default: collected from this file */
  labels?: string[];
  /** the label column: a 0-based index, a header name, or 'last' (default) */
  labelColumn?: number | string;
}

const CSV_HINT = 'expected comma-separated numeric features and one label column per line, an optional header line first';

/**
 * Parses CSV text: one example per line, cells separated by commas (spaces
 * around cells ignored, no quoting), every line with the same number of cells,
 * empty lines skipped. The first line is a header when none of its feature
 * cells is a number. Features must be finite numbers within float32's range.
 * Labels are strings; classes are numbered in the order of `opts.labels` when
 * given, else in sorted order (numerically when every label is an integer), so
 * the same file always gives the same numbering. Errors name the file, line
 * and column.
 */
export function parseCsv(text: string, source: string, opts: CsvOptions = {}): CsvData {
  const lines = text.split(/\r?\n/);
  let lineNo = 0;
  const next = (): string[] | null => {
    while (lineNo < lines.length) {
      const line = lines[lineNo++];
      if (line.trim() === '') continue;
      if (line.includes('"')) {
        throw new TreegateError(`${source}:${lineNo}: quoted cells are not supported`, 'remove the quotes; cells must not contain commas');
      }
      return line.split(',').map((c) => c.trim());
    }
    return null;
  };
  const first = next(), firstAt = lineNo;
  if (!first) throw new TreegateError(`${source}: the file has no data lines`, CSV_HINT);
  const width = first.length;
  if (width < 2) throw new TreegateError(`${source}:${lineNo}: a line has ${width} cell, need at least one feature and a label`, CSV_HINT);
  const isNumber = (c: string) => c !== '' && Number.isFinite(Number(c));
  // the label column, resolved against the header if there is one
  const spec = opts.labelColumn ?? 'last';
  const headerGuess = first.some((c) => !isNumber(c));
  let labelCol: number;
  if (spec === 'last') labelCol = width - 1;
  else if (typeof spec === 'number') labelCol = spec;
  else {
    labelCol = headerGuess ? first.indexOf(spec) : -1;
    if (labelCol < 0) throw new TreegateError(`${source}: no column named '${spec}' in the header`, `columns: ${headerGuess ? first.join(', ') : '(no header line)'}`);
  }
  if (!Number.isInteger(labelCol) || labelCol < 0 || labelCol >= width) {
    throw new TreegateError(`${source}: label column ${labelCol} is out of range: lines have ${width} cells`, 'give a 0-based column index below the cell count');
  }
  const featureCells = first.filter((_, c) => c !== labelCol);
  const header = featureCells.every((c) => !isNumber(c));
  if (!header) {
    const bad = featureCells.findIndex((c) => !isNumber(c));
    if (bad >= 0) {
      // a mixed first line: neither a header nor data
      const col = bad >= labelCol ? bad + 1 : bad;
      throw new TreegateError(`${source}:${lineNo}, column ${col + 1}: '${first[col]}' is not a number`, 'features must be finite numbers; a header line must have no numeric feature cells');
    }
  }
  const features = header ? featureCells : featureCells.map((_, i) => `col${i + 1}`);
  const D = width - 1;
  const values: number[] = [];
  const rawLabels: string[] = [];
  const take = (cells: string[], at: number): void => {
    if (cells.length !== width) {
      throw new TreegateError(`${source}:${at}: ragged row: ${cells.length} cells, the first line has ${width}`, 'every line needs the same number of cells');
    }
    for (let c = 0; c < width; c++) {
      if (c === labelCol) continue;
      const v = Number(cells[c]);
      if (cells[c] === '' || !Number.isFinite(v)) {
        throw new TreegateError(`${source}:${at}, column ${c + 1}: '${cells[c]}' is not a finite number`, 'features must be finite numbers (no empty cells, NaN or Infinity)');
      }
      if (!Number.isFinite(Math.fround(v))) {
        throw new TreegateError(`${source}:${at}, column ${c + 1}: '${cells[c]}' is beyond the float32 range (±3.4e38)`, 'features are stored as float32: rescale the column');
      }
      values.push(v);
    }
    if (cells[labelCol] === '') throw new TreegateError(`${source}:${at}: the label (column ${labelCol + 1}) is empty`);
    rawLabels.push(cells[labelCol]);
  };
  if (!header) take(first, lineNo);
  for (let cells = next(); cells; cells = next()) take(cells, lineNo);
  const N = rawLabels.length;
  if (N === 0) throw new TreegateError(`${source}: the file has a header but no examples`, CSV_HINT);
  // a header whose feature names are numbers reads as data: its label cell is then the one word among integers
  const isInt = (l: string) => /^-?\d+$/.test(l);
  if (!header && N > 1 && !isInt(rawLabels[0]) && rawLabels.slice(1).every(isInt)) {
    throw new TreegateError(`${source}:${firstAt}: this line looks like a header with numeric column names (its label '${rawLabels[0]}' is a word, every other label an integer)`,
      'give the feature columns names that are not numbers, or remove the line');
  }
  let labels: string[];
  if (opts.labels) labels = opts.labels;
  else {
    labels = [...new Set(rawLabels)];
    const allInt = labels.every(isInt);
    labels.sort(allInt ? (a, b) => Number(a) - Number(b) : undefined);
    if (labels.length < 2) throw new TreegateError(`${source}: every example has the label '${labels[0]}'`, 'a classifier needs at least two classes');
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const c = index.get(rawLabels[i]);
    if (c === undefined) {
      throw new TreegateError(`${source}: example ${i + 1} has the label '${rawLabels[i]}', unknown to the model`,
        `known labels: ${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}`);
    }
    y[i] = c;
  }
  return { data: { name: source, x: matrix(N, D, Float32Array.from(values)), y, numClasses: labels.length }, labels, features };
}
