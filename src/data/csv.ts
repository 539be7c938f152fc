import { check, checkKeys, shown, TreegateError } from '../core/errors.js';
import { matrix } from '../core/tensor.js';
import type { Dataset } from './dataset.js';

/**
 * A CSV dataset: the examples, the class names (index = class), the feature names (from the header, or col1…),
 * whether the file had a header line, the label column's name there (null without a header or a label column), and
 * each example's line in the file (from 1), for messages about an example found later.
 */
export interface CsvData {
  data: Dataset; labels: string[]; features: string[]; header: boolean; labelName: string | null; lines: Int32Array;
  /** the label's 0-based column in the file's lines (-1: none, with labelColumn null) */
  labelColumn: number;
  /** the feature columns float32 keeps too coarsely to tell their values apart (see coarseColumns); usually none */
  coarse: CoarseColumn[];
  /** what to tell the file's user about how it was read (empty columns at the end of its lines, ignored); usually none */
  warnings: string[];
}

/** A feature column whose float32 values keep little of its spread: a large offset and a small spread. */
export interface CoarseColumn {
  /** the feature's 0-based index (its column in the file, the label's left out) and name */
  feature: number; name: string;
  /** over the file's values as written (float64): the mean, the (population) standard deviation */
  mean: number; std: number;
  /** the step between float32 values at the column's largest magnitude */
  step: number;
}

/** How parseCsv and readCsv read a file: which column holds the label, and what the file must match (a model's features and classes). */
export interface CsvOptions {
  // (each may be given as undefined, as a model's optional fields give it: `featureNames: model.config.data?.features`)
  /**
   * the known classes (e.g. from the training file): a label outside them is an error; default: collected from this file.
   * Where they are a model's (matching 'model') and none of them is a number, a file whose every label is a number reads
   * them as class numbers, 0 … C − 1 (Kaggle's Fashion-MNIST files), with a warning; a number out of range is an error
   */
  labels?: string[] | undefined;
  /** the label column: a 0-based index, a header name, 'last' (default), or null: none (features alone, to predict) */
  labelColumn?: number | string | null | undefined;
  /**
   * with labelColumn null: where a model's file of labelled examples (its held-out test file, say) is given for its
   * features alone, the column its labels are in (0-based, or 'last'). A file that does not read as features alone
   * but does read with its labels there, each of them one of `labels`, is read so (its labels left for the caller to
   * ignore), and a warning says so; otherwise the error is that of features alone.
   */
  labelsIfPresent?: number | 'last' | undefined;
  /** the feature columns the file must have (a model's input size): a file of another width is an error saying so */
  features?: number | undefined;
  /** the feature names the columns must have, in order, where the file has a header (the training file's) */
  featureNames?: string[] | undefined;
  /** what `labels` and `features` came from, for the messages: 'model' (default) or 'training file' (a test file's) */
  matching?: 'model' | 'training file' | undefined;
  /**
   * whether the first line is a header: true where it is (column names that are numbers, such as years; refused where
   * the line reads as an example), false where it is an example; default: it is a header where none of its feature
   * cells is a number, or where they are `featureNames` and one of them is not a number or its label cell is none of
   * `labels` (names that are all numbers must be told otherwise)
   */
  header?: boolean | undefined;
}

/** How to say that the first line is a header whose names are numbers. */
const HEADER_HINT = '--header, header: true in the API';

/** A cell that stands for a missing value (empty, NaN, NA, n/a, null, None, -, ?): a gap, not a word. */
const isGap = (c: string): boolean => /^\s*$|^[+-]?nan$|^n\/?a$|^null$|^none$|^-$|^\?$/i.test(c);
/** How to read the labels from a column other than the last. */
const LABEL_COLUMN_HINT = 'train --label-column NAME or NUMBER (1 is the first), labelColumn in the API';
const CSV_HINT = 'expected numeric features and one label column per line, separated by commas (or tabs, or semicolons), an optional header line first';
const FEATURES_HINT = 'expected numeric features per line, separated by commas (or tabs, or semicolons), an optional header line first';
const cellCount = (n: number) => `${n} cell${n === 1 ? '' : 's'}`;
const quoted = (names: string[], max = 8) => `${names.slice(0, max).map((n) => `'${n}'`).join(', ')}${names.length > max ? ', …' : ''}`;

/**
 * The cells of a line that holds quotes, as RFC 4180 and R's write.csv write them: a cell in double quotes may hold
 * separators, and "" for a quote; spaces around a cell are dropped. A quoted cell that runs past the line is refused.
 */
function quotedCells(line: string, at: string, sep: string): string[] {
  const cells: string[] = [];
  const blank = (ch: string | undefined) => ch === ' ' || (ch === '\t' && sep !== '\t');
  let i = 0;
  for (;;) {
    while (blank(line[i])) i++;
    if (line[i] === '"') {
      let v = '';
      for (i++; ; i++) {
        if (i >= line.length) throw new TreegateError(`${at}: a quoted cell has no closing quote`, 'a quoted cell must end on its line (line breaks inside cells are not supported)');
        if (line[i] === '"') {
          if (line[i + 1] !== '"') break;
          i++;
        }
        v += line[i];
      }
      for (i++; blank(line[i]); i++);
      if (i < line.length && line[i] !== sep) throw new TreegateError(`${at}: text after a quoted cell's closing quote`, 'a cell is either quoted whole or not at all');
      cells.push(v.trim());
    } else {
      const end = line.indexOf(sep, i);
      const cell = line.slice(i, end < 0 ? line.length : end);
      if (cell.includes('"')) throw new TreegateError(`${at}: a quote inside an unquoted cell`, 'quote the whole cell, and write a quote inside it as ""');
      cells.push(cell.trim());
      i = end < 0 ? line.length : end;
    }
    if (i >= line.length) return cells;
    i++; // past the separator
  }
}

/**
 * Parses CSV text (UTF-8, lines ending in LF, CRLF or CR): one example per line, cells separated by commas (or, where
 * the first line holds none outside quotes, by tabs; or by semicolons wherever it holds one, with decimal commas; or by
 * X where the first line is sep=X (or "sep=X"), as Excel writes, for X a comma, a semicolon or a tab; spaces
 * around cells ignored; a cell may be quoted, as in RFC 4180, within its line), every line with the same number of cells,
 * empty lines and lines of empty cells alone skipped, columns empty on every line at the end of the lines dropped
 * (these two said in `warnings`). The first line is a header when none of its feature cells is a number. Features must be finite numbers within float32's range.
 * Labels are strings; where every label is a number, a class is named by its
 * value ('1' and '1.0' are class '1'). Classes are numbered in the order of
 * `opts.labels` when given, else in sorted order (numerically when every label
 * is a number), so the same file always gives the same numbering; a file of whole numbers alone, for a model's
 * classes that are names and no numbers, gives its class numbers (CsvOptions.labels). Mistakes
 * that would pass for data (a continuous target, pandas' row index or column
 * numbers, a header whose column names are numbers, a header naming a column 'label' other than the last where the
 * labels are read from the last) are refused. Errors name the file, line and column.
 */
export function parseCsv(text: string, source: string, opts: CsvOptions = {}): CsvData {
  check(typeof text === 'string', `parseCsv takes the file's text, got ${shown(text)}`, "pass readFileSync(path, 'utf8'), or use readCsv(path)");
  checkKeys(opts, ['labels', 'labelColumn', 'labelsIfPresent', 'features', 'featureNames', 'matching', 'header'], 'CSV options');
  if (opts.labelsIfPresent !== undefined) {
    const { labelsIfPresent: at, ...features } = opts;
    check(opts.labelColumn === null && opts.labels !== undefined && opts.features !== undefined,
      'CSV options: labelsIfPresent goes with labelColumn null, and the labels and features a model has');
    try {
      return parseCsv(text, source, features);
    } catch (alone) {
      if (!(alone instanceof TreegateError)) throw alone;
      let read: CsvData;
      try {
        read = parseCsv(text, source, { ...features, labelColumn: at });
      } catch {
        throw alone;
      }
      const name = read.labelName === null ? '' : ` ('${read.labelName}')`;
      read.warnings.push(`${source}: column ${read.labelColumn + 1}${name} holds the model's classes, a label column: it is left out ` +
        '(treegate eval measures accuracy on a labelled file)');
      return read;
    }
  }
  check(opts.header === undefined || typeof opts.header === 'boolean', `CSV options: header must be true or false, got ${shown(opts.header)}`,
    'leave it out to tell a header by its cells');
  check(opts.labels === undefined || (Array.isArray(opts.labels) && opts.labels.every((l) => typeof l === 'string')),
    `CSV options: labels must be the class names, an array of strings, got ${shown(opts.labels)}`);
  // gzip's magic number (0x1f 0x8b; the second byte is no UTF-8 character): no CSV text starts with a control character
  if (text.charCodeAt(0) === 0x1f && (text.charCodeAt(1) === 0x8b || text.charCodeAt(1) === 0xfffd)) {
    throw new TreegateError(`${source}: the file is gzip-compressed, not CSV text`,
      'decompress it first (gunzip -k FILE); predict and eval also read --csv <(zcat FILE)');
  }
  // UTF-16 (a spreadsheet's "Unicode text") read as UTF-8 has a NUL in every other byte: no CSV text has one
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    throw new TreegateError(`${source}:${text.slice(0, nul).split(/\r\n|\r|\n/).length}: a NUL byte: the file is not UTF-8 text (UTF-16, which some programs save as "Unicode text", has one in every other byte)`,
      'save it as CSV UTF-8, or convert it: iconv -f UTF-16 -t UTF-8 FILE > converted.csv');
  }
  // a UTF-8 byte order mark (Excel's "CSV UTF-8") is not part of the first cell; lines end with LF, CRLF or CR alone
  // (classic Mac OS)
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r\n|\r|\n/);
  // Excel's separator line: a first line of sep=X alone names the separator, X, and holds no data ("sep=X" in quotes,
  // as a program that quotes every cell writes it, too)
  const sepLine = /^(?:sep=(.)|"sep=(.)")$/.exec(lines[0]), told = sepLine?.[1] ?? sepLine?.[2];
  if (told !== undefined && told !== ',' && told !== ';' && told !== '\t') {
    throw new TreegateError(`${source}:1: the first line, ${JSON.stringify(lines[0])}, names ${JSON.stringify(told)} as the separator (as Excel's separator line does): the CSV reader takes commas, semicolons or tabs`,
      'save the file separated by commas (or semicolons, or tabs), with that line sep=, (or sep=;) or none');
  }
  // the separator, from the first line outside its quoted cells: a tab where it holds no comma (a TSV file), a
  // semicolon where it holds one (a spreadsheet's export in locales that write decimal commas, read as points), else a
  // comma; the separator line's where there is one
  const start = told === undefined ? 0 : 1;
  const bare = (lines.find((l, i) => i >= start && l.trim() !== '') ?? '').replace(/"[^"]*"/g, '');
  const sep = told ?? (bare.includes('\t') && !bare.includes(',') ? '\t' : bare.includes(';') ? ';' : ',');
  const sepName = sep === '\t' ? 'a tab' : sep === ';' ? 'a semicolon' : 'a comma';
  let lineNo = start;
  // a semicolon file writes its decimals with commas or with points, not both: beside 2,5 a 1.234 is as likely a
  // thousands separator (1234) as a decimal point, so the mix is refused, naming one of each
  const seen: { comma?: string; point?: string } = {};
  const decimals = (c: string, col: number): string => {
    const comma = /^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$/.test(c);
    // (a point counts in a cell of digits and points alone: 1.5, 1.234.567, not a name such as 2.5mm)
    if (!comma && (seen.point !== undefined || !/^[+-]?[\d.]*\.\d+(?:[eE][+-]?\d+)?$/.test(c))) return c;
    seen[comma ? 'comma' : 'point'] ??= `'${c}' (line ${lineNo}, column ${col + 1})`;
    if (seen.comma !== undefined && seen.point !== undefined) {
      throw new TreegateError(`${source}: a semicolon-separated file with decimal commas, ${seen.comma}, and points, ${seen.point}: a point could be a thousands separator`,
        'write every decimal alike: with commas (1,5; no thousands separators) or with points (1.5)');
    }
    return comma ? c.replace(',', '.') : c;
  };
  const split = (line: string, at: number): string[] => line.includes('"') ? quotedCells(line, `${source}:${at}`, sep) : line.split(sep).map((c) => c.trim());
  // columns empty on every line, the header's cell too, at the end of the lines (a spreadsheet's formatted empty
  // columns: 1,2,setosa,,): as many as the line with the fewest empty cells at its end has, dropped from every line
  // and said once (a line that does not end with an empty cell, as most files' first, ends the search)
  let emptyEnd = Infinity;
  for (let i = lineNo; i < lines.length && emptyEnd > 0; i++) {
    if (lines[i].trim() === '') continue;
    let cells: string[];
    try {
      cells = split(lines[i], i + 1);
    } catch {
      break; // (a malformed line: the reading below names it)
    }
    let e = 0;
    while (e < cells.length && cells[cells.length - 1 - e] === '') e++;
    if (e < cells.length) emptyEnd = Math.min(emptyEnd, e); // (a line of empty cells alone is skipped below)
  }
  if (!Number.isFinite(emptyEnd)) emptyEnd = 0;
  // lines of empty cells alone (,,,, as a spreadsheet exports the empty rows below its data): skipped as blank lines
  // are, and counted, for a warning
  const emptyRows: number[] = [];
  const next = (): string[] | null => {
    while (lineNo < lines.length) {
      const line = lines[lineNo++];
      if (line.trim() === '') continue;
      const all = split(line, lineNo);
      if (all.every((c) => c === '')) {
        emptyRows.push(lineNo);
        continue;
      }
      const cells = emptyEnd > 0 ? all.slice(0, all.length - emptyEnd) : all;
      return sep === ';' ? cells.map(decimals) : cells;
    }
    return null;
  };
  const emptyRowsSaid = (): string => `${emptyRows.length === 1 ? 'a line' : `${emptyRows.length} lines`} of empty cells alone (` +
    `line${emptyRows.length === 1 ? '' : 's'} ${emptyRows.slice(0, 3).join(', ')}${emptyRows.length > 3 ? ', …' : ''})`;
  const warnings: string[] = [];
  const labelled = opts.labelColumn !== null;
  check(opts.matching === undefined || opts.matching === 'model' || opts.matching === 'training file',
    `CSV options: matching must be 'model' or 'training file', got ${shown(opts.matching)}`);
  const takes = opts.matching === 'training file' ? 'the training file has' : 'the model takes';
  // whose columns and classes the file must match: a model's are its training data's (a CSV file's, or MNIST's pixels)
  const whose = opts.matching === 'training file' ? "the training file's" : "the model's";
  const hint = labelled ? CSV_HINT : FEATURES_HINT;
  const first = next(), firstAt = lineNo;
  if (!first) throw new TreegateError(`${source}: the file has no data lines${emptyRows.length > 0 ? `, only ${emptyRowsSaid()}` : ''}`, hint);
  const width = first.length;
  // (the columns dropped, as the file numbers them)
  const dropped = emptyEnd === 1 ? `its last column (${width + 1}) is` : `its last ${emptyEnd} columns (${width + 1}–${width + emptyEnd}) are`;
  if (emptyEnd > 0) warnings.push(`${source}: ${dropped} empty on every line: ignored`);
  const ignored = emptyEnd > 0 ? ` (${dropped} empty on every line, and ignored)` : '';
  const isNumber = (c: string) => Number.isFinite(decimal(c));
  if (width < 2 && labelled) throw new TreegateError(`${source}:${lineNo}: a line has ${cellCount(width)}${ignored}, need at least one feature and a label`, CSV_HINT);
  if (!labelled && opts.features !== undefined && width !== opts.features) {
    // a header names the column that is not the model's (a column too many), or the model's features it lacks (too
    // few), where the model records its features' names
    const names = opts.featureNames, named = names && first.every((c) => !isNumber(c));
    const extra = named && width > opts.features ? first.findIndex((c) => !names.includes(c)) : -1;
    const missing = named && width < opts.features ? names.filter((n) => !first.includes(n)) : [];
    throw new TreegateError(`${source}:${lineNo}: lines have ${cellCount(width)}${ignored}, and ${takes} ${opts.features} features`,
      extra >= 0 ? `column ${extra + 1} ('${first[extra]}') is not one of the model's features (${quoted(names!)}): remove it`
        : missing.length > 0 && missing.length < names!.length
          ? `the header names no column ${quoted(missing, 4)}, ${missing.length === 1 ? 'one' : 'some'} of the model's features (${quoted(names!, 8)}): give the file each of them, in the same order`
        : width === opts.features + 1
          ? "one column too many: if it holds the labels, name its column with predict's or eval's --label-column N (predict leaves it out; eval measures accuracy on a labelled file), or remove it"
          : `give the file ${whose} ${opts.features} feature columns, in the same order`);
  }
  const labelLast = opts.labelColumn === undefined || opts.labelColumn === 'last';
  // in a training file (its classes not given), a word in a feature column where the last cell, the label by
  // default, is a number: most likely the class labels (not a mistyped number: no digits, nor NaN or Infinity)
  const labelsHere = (cells: string[], c: number): string =>
    labelLast && labelled && opts.labels === undefined && /\p{L}/u.test(cells[c]) && !/\d|^[+-]?(nan|inf(inity)?)$/i.test(cells[c]) && isNumber(cells[width - 1])
      ? `; if column ${c + 1} holds the class labels, name it: ${LABEL_COLUMN_HINT}` : '';
  if (labelled && opts.features !== undefined && width !== opts.features + 1) {
    // a header that names the features lacks those it leaves out (a feature column missing, not the label)
    const names = opts.featureNames;
    const missing = names && first.every((c) => !isNumber(c)) ? names.filter((n) => !first.includes(n)) : [];
    throw new TreegateError(`${source}:${lineNo}: lines have ${cellCount(width)}${ignored}, and ${takes} ${opts.features} features and a label`,
      missing.length > 0 && missing.length < names!.length
        ? `the header names no column ${quoted(missing, 4)}, ${missing.length === 1 ? 'one' : 'some'} of ${whose} features (${quoted(names!, 8)}): give the file each of them, in the same order, and the label`
        : width === opts.features
          ? `each line needs its label too, ${labelLast ? 'in the last cell' : 'in its column'}: the file looks like features alone (treegate predict takes those, given no --label-column)`
          : `give the file ${whose} ${opts.features} feature columns, in the same order, and the label${labelLast ? ' last' : ''}`);
  }
  // the label column, resolved against the header if there is one
  const spec = opts.labelColumn === undefined ? 'last' : opts.labelColumn;
  let labelCol: number;
  if (spec === null) labelCol = -1;
  else if (spec === 'last') labelCol = width - 1;
  else if (typeof spec === 'number') labelCol = spec;
  else {
    labelCol = first.indexOf(spec);
    check(opts.header !== false, `${source}: the label column is named '${spec}', and the file is read without a header (header: false)`,
      'name the label column by its 0-based index');
    // a first line of more than one number is data (a header's feature names are no numbers), unless it is said to be a header
    check(labelCol >= 0 || opts.header === true || first.filter(isNumber).length < 2,
      `${source}: no header line to find the label column '${spec}' in (the first line holds numbers)`,
      `name the label column by its number (--label-column N, 1 is the first; a 0-based index in the API); if the first line is a header whose names are numbers, say so (${HEADER_HINT})`);
    if (labelCol < 0) {
      // a name spelled otherwise in case only (or spaces around it) is named
      const alike = first.filter((name) => name.toLowerCase() === spec.trim().toLowerCase());
      throw new TreegateError(`${source}: no column named '${spec}' in the header${alike.length > 0 ? `; did you mean '${alike[0]}'?` : ''}`, `columns: ${first.join(', ')}`);
    }
    const again = first.indexOf(spec, labelCol + 1);
    if (again >= 0) {
      throw new TreegateError(`${source}: columns ${labelCol + 1} and ${again + 1} are both named '${spec}', the label column`,
        'rename one of them, or name the label column by its number (--label-column N, 1 is the first; a 0-based index in the API)');
    }
  }
  if (labelled && (!Number.isInteger(labelCol) || labelCol < 0 || labelCol >= width)) {
    throw new TreegateError(`${source}: the label column is number ${labelCol + 1} (0-based index ${labelCol}), and the lines have ${cellCount(width)}${ignored}`,
      `name a column 1 … ${width} (--label-column; the API's labelColumn takes 0-based indices, 0 … ${width - 1}); a column whose name is a number is named by its position`);
  }
  // lines that end with the separator (as some exporters write them): an empty last cell where the labels are looked
  // for by default, and the labels read as a feature column
  check(!(spec === 'last' && width > 1 && first[width - 1].trim() === '' && first[width - 2].trim() !== ''),
    `${source}:${lineNo}: the first line ends with ${sepName}, which leaves an empty last cell, where the labels are looked for (the last column)`,
    `remove the ${sepName.slice(2)} at the end of each line, or name the label column (--label-column; labelColumn in the API)`);
  const featureCells = first.filter((_, c) => c !== labelCol);
  // (a later file of a model whose training file's header named columns by numbers: the same names)
  const known = opts.featureNames, named = known !== undefined && known.length === featureCells.length && featureCells.every((c, i) => c === known[i]);
  // names that are all numbers could as well be an example's values (a model of binary features named 0, 1): not
  // guessed, unless the line's label cell is none of the classes the file must hold (the label column's name, as in the
  // held-out file train writes): as an example, the line could not be read
  const labelCell = labelled ? first[labelCol] : undefined;
  const noClass = labelCell !== undefined && opts.labels !== undefined &&
    !opts.labels.some((l) => l === labelCell || (isNumber(l) && isNumber(labelCell) && decimal(l) === decimal(labelCell)));
  check(!named || opts.header !== undefined || noClass || !featureCells.every(isNumber),
    `${source}:${lineNo}: the first line holds the model's feature names (${quoted(featureCells, 4)}), which are numbers: it may be the header or an example`,
    'say which: --header or --no-header (header: true or false in the API)');
  const header = opts.header ?? (named || featureCells.every((c) => !isNumber(c)));
  if (!header && opts.header === undefined) {
    // a mixed first line, neither a header nor data: mostly names, a header with a numeric name (named at its
    // column); else data with a cell that is no number (a line said to be data is read as one below)
    const names = featureCells.filter((c) => !isNumber(c)).length;
    const odd = names > featureCells.length / 2 ? featureCells.findIndex(isNumber) : featureCells.findIndex((c) => !isNumber(c));
    // (a data line whose only non-numbers are missing values is read as data: its error counts such rows)
    // (so is one whose only non-numbers are empty cells, however many: a spreadsheet's empty columns, no names)
    if (names > 0 && !((names <= featureCells.length / 2 || featureCells.every((c) => isNumber(c) || c === '')) && featureCells.every((c) => isNumber(c) || isGap(c)))) {
      const col = labelCol >= 0 && odd >= labelCol ? odd + 1 : odd;
      if (names > featureCells.length / 2) {
        throw new TreegateError(`${source}:${lineNo}: the first line reads as a header but for column ${col + 1}, '${first[col]}', a number`,
          `if it is a header, say so (${HEADER_HINT}) or rename that column; if the line is data, make all its feature cells numbers`);
      }
      throw new TreegateError(`${source}:${lineNo}, column ${col + 1}: '${first[col]}' is not a number`,
        `features must be finite numbers; a header line must have no numeric feature cells, or be said to be one (${HEADER_HINT})${labelsHere(first, col)}`);
    }
  }
  const features = header ? featureCells : featureCells.map((_, i) => `col${i + 1}`);
  const labelName = header && labelCol >= 0 ? first[labelCol] : null;
  // a header that names another column than the last 'label', where the labels are read from the last (Kaggle's MNIST
  // and Fashion-MNIST files, label,pixel1,…,pixel784): read so, the last pixel would be the class and the labels a
  // feature. (A header checked against the model's or training file's feature names is refused there.)
  const isLabel = (c: string) => /^label$/i.test(c);
  const labelElsewhere = header && labelled && spec === 'last' && opts.featureNames === undefined && !isLabel(first[labelCol]) ? first.findIndex(isLabel) : -1;
  if (labelElsewhere >= 0) {
    throw new TreegateError(`${source}:${lineNo}: column ${labelElsewhere + 1} is named '${first[labelElsewhere]}', and the labels are read from the last column, '${first[labelCol]}'`,
      opts.labels === undefined ? `name the label column: ${LABEL_COLUMN_HINT}; or rename that column if it holds no labels`
        : `the labels are in the last column ${opts.matching === 'training file' ? 'of the training file: move column'
          : `of the model's training data: read them from this file's column with eval's, inspect's or predict's --label-column ${labelElsewhere + 1}, or move it`} ` +
          "to the end of each line (Kaggle's MNIST and Fashion-MNIST files put it first), or rename it if it holds no labels");
  }
  // pandas' to_csv() writes the row index as a first column without a name ('Unnamed: 0' once read and saved
  // again), as R's write.csv() writes the row names
  if (header && (first[0] === '' || first[0] === 'Unnamed: 0') && labelCol !== 0) {
    throw new TreegateError(`${source}:${lineNo}: the first column is named '${first[0]}': a row index, as pandas' to_csv() and R's write.csv() write one, not a feature`,
      'write the file with to_csv(index=False) in pandas or write.csv(row.names = FALSE) in R, or remove the column');
  }
  if (header) {
    // a model records its features' names, and a later file's columns are matched against them: each must be one
    const seen = new Map<string, number>();
    for (const [i, f] of features.entries()) {
      if (seen.has(f)) {
        throw f === ''
          ? new TreegateError(`${source}:${lineNo}: feature columns ${seen.get(f)! + 1} and ${i + 1} have no name in the header`,
            "give every column its own name (a spreadsheet's empty columns: remove them)")
          : new TreegateError(`${source}:${lineNo}: feature columns ${seen.get(f)! + 1} and ${i + 1} are both named '${f}'`, 'give every column its own name');
      }
      seen.set(f, i);
    }
  }
  const names = opts.featureNames;
  if (header && names) {
    const c = features.findIndex((f, i) => f !== names[i]);
    if (c >= 0 || names.length !== features.length) {
      const at = c >= 0 ? c : Math.min(names.length, features.length);
      // the training file's features in their order with one column more: in a labelled file, the label in another
      // column than the training file's (say that, not that the first feature is out of place: every feature after
      // the label's column would be); in a file of features alone, a label column left in
      const moved = first.length === names.length + 1 ? first.findIndex((_, j) => j !== labelCol && first.filter((_, i) => i !== j).every((f, i) => f === names[i])) : -1;
      if (moved >= 0 && !labelled) {
        throw new TreegateError(`${source}:${lineNo}: column ${moved + 1}, '${first[moved]}', is not one of the model's features (${quoted(names)}): a label column?`,
          'give the features alone, in their order: drop that column');
      }
      if (moved >= 0) {
        throw new TreegateError(`${source}:${lineNo}: the label is column ${labelCol + 1} in the training file, and this file's column ${labelCol + 1} is '${first[labelCol]}', a feature; ` +
          `its column ${moved + 1}, '${first[moved]}', is not one of the features: the label?`,
        `columns are matched by position: put the label in column ${labelCol + 1}, as in the training file, the features around it in their order (${quoted(names)})`);
      }
      throw new TreegateError(`${source}:${lineNo}: feature column ${at + 1} is named '${features[at] ?? '(none)'}', the training file's is '${names[at] ?? '(none)'}'`,
        `columns are matched by position: give the file ${labelled ? "the training file's columns" : "the model's feature columns"} in their order (${quoted(names)}${labelLast || !labelled ? '' : `, the label in column ${labelCol + 1}`})` +
        (opts.header === true ? '; the first line is read as a header (--header; of --test-csv too): a file without one needs the header line' : ''));
    }
  }
  const D = labelled ? width - 1 : width;
  let rows = 0;
  const values: number[] = [];
  const rawLabels: string[] = [];
  const lineOf: number[] = [];
  // cells that are not finite numbers (empty ones, NaN): the first, and how many rows and which columns have one, so
  // that the error says whether a row or two or a whole column is to blame (thrown once the file is read)
  let bad: { at: number; col: number; cells: string[]; rows: number; columns: Set<number>; empty: Map<number, number> } | null = null;
  // rows whose label cell is empty: the first, and how many (thrown once the file is read, as bad cells are)
  let noLabel: { at: number; rows: number } | null = null;
  const listed = (cols: number[]): string => (cols.length > 8 ? `${cols.slice(0, 8).join(', ')}, … (${cols.length})` : cols.join(', '));
  const badCells = (): TreegateError => {
    const { at, col, cells, rows: n, columns, empty } = bad!;
    const cols = [...columns].sort((a, b) => a - b).map((c) => c + 1);
    const more = n > 1 || cols.length > 1
      ? `; ${n === rows ? `every one of the ${rows} rows read has` : `${n} of the ${rows} rows read ha${n === 1 ? 's' : 've'}`} such a cell, in column${cols.length > 1 ? 's' : ''} ${listed(cols)}` : '';
    const gap = isGap(cells[col]);
    // a column with no value on any row (a spreadsheet's empty column between others; those at the end are dropped)
    const blank = [...empty].filter(([, k]) => k === rows && rows > 1).map(([c]) => c + 1).sort((a, b) => a - b);
    const removal = blank.length === 0 ? '' : `; column${blank.length > 1 ? 's' : ''} ${listed(blank)} ${blank.length > 1 ? 'are' : 'is'} empty on every row: ` +
      `remove ${blank.length > 1 ? 'them' : 'it'} (a spreadsheet's empty column?)`;
    return new TreegateError(`${source}:${at}, column ${col + 1}: '${cells[col]}' is not a finite number${more}`,
      `features must be finite decimal numbers such as 3, -0.25 or 1e-3 (no empty cells, NaN, Infinity, or hexadecimal 0x… that JavaScript would read)` +
      (removal !== '' && blank.length === cols.length ? removal
        : `${removal}${gap ? `; missing values: drop those rows or fill those cells first (pandas: df.dropna(), or df.fillna(…))` : ''}`) +
      // (a decimal comma outside a semicolon file: a tab-separated export of such a locale)
      (sep !== ';' && /^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$/.test(cells[col]) ? `; decimal commas are read in semicolon-separated files only: write decimal points, or separate the cells with semicolons` : '') +
      labelsHere(cells, col));
  };
  const labelColumnSaid = () => `column ${labelCol + 1}${header ? `, '${first[labelCol]}'` : ''}`;
  const missingLabels = (): TreegateError => {
    const { at, rows: n } = noLabel!;
    if (n === rows && rows > 1) {
      return new TreegateError(`${source}:${at}: the label column, ${labelColumnSaid()}, is empty on every row`,
        opts.labels !== undefined ? `give every line its label in column ${labelCol + 1}, as ${opts.matching === 'training file' ? 'the training file has them' : "the model's training file had them"}`
          : labelLast ? `the labels are looked for in the last column: if they are in another, name it (${LABEL_COLUMN_HINT}); a column that holds nothing is best removed`
          : 'give every line its label, or name the column that holds them');
    }
    return new TreegateError(`${source}:${at}: the label (column ${labelCol + 1}) is empty${n > 1 ? `; ${n} of the ${rows} rows read have none` : ''}`,
      labelCol === width - 1 ? `every line needs a label in its last cell (${sepName} at the end of a line leaves it empty)` : 'every line needs a label');
  };
  // (the first problem first: a label column with nothing in it, else the bad cells, else the rows without a label)
  const firstProblem = (): TreegateError => (noLabel !== null && (bad === null || noLabel.rows === rows) ? missingLabels() : badCells());
  const take = (cells: string[], at: number): void => {
    if ((bad !== null || noLabel !== null) && cells.length !== width) throw firstProblem();
    if (cells.length !== width) {
      const trailing = cells.length === width + 1 && cells[width].trim() === '';
      throw new TreegateError(`${source}:${at}: ragged row: ${cells.length + emptyEnd} cells, the first line has ${width + emptyEnd}${trailing ? ` (this line ends with ${sepName}, which starts an empty cell)` : ''}`,
        trailing ? `remove the ${sepName.slice(2)} at the end of each line` : 'every line needs the same number of cells');
    }
    let finite = true;
    for (let c = 0; c < width; c++) {
      if (c === labelCol) continue;
      const v = decimal(cells[c]);
      if (!Number.isFinite(v)) {
        if (bad === null) bad = { at, col: c, cells, rows: 0, columns: new Set(), empty: new Map() };
        if (finite) bad.rows++;
        bad.columns.add(c);
        if (cells[c] === '') bad.empty.set(c, (bad.empty.get(c) ?? 0) + 1);
        finite = false;
        continue;
      }
      if (bad !== null) continue; // (the file is refused: its values are not kept)
      if (!Number.isFinite(Math.fround(v))) {
        throw new TreegateError(`${source}:${at}, column ${c + 1}: '${cells[c]}' is beyond the float32 range (±3.4e38)`, 'features are stored as float32: rescale the column');
      }
      values.push(v);
    }
    rows++;
    if (labelled && cells[labelCol] === '') {
      noLabel ??= { at, rows: 0 };
      noLabel.rows++;
    }
    if (bad !== null || noLabel !== null) return;
    lineOf.push(at);
    if (labelled) rawLabels.push(cells[labelCol]);
  };
  if (!header) take(first, lineNo);
  for (let cells = next(); cells; cells = next()) take(cells, lineNo);
  if (emptyRows.length > 0) warnings.push(`${source}: ${emptyRowsSaid()}: skipped, as blank lines are`);
  if (bad !== null || noLabel !== null) throw firstProblem();
  if (opts.header === true && featureCells.every(isNumber)) {
    // a line said to be the header that reads as an example: a fraction among its names, or its label a class of the
    // other lines (header: true on a file without a header line would drop its first example)
    const fraction = featureCells.find((c) => !/^[+-]?\d+$/.test(c));
    const label = labelled ? first[labelCol] : undefined;
    check(fraction === undefined && (label === undefined || !rawLabels.includes(label)),
      `${source}:${firstAt}: the first line, said to be the header, reads as an example (${fraction !== undefined ? `'${fraction}' is a fraction` : `its label '${label}' is a class of other lines`})`,
      'drop --header (header: true) for a file without a header line');
  }
  const N = rows;
  if (N === 0) throw new TreegateError(`${source}: the file has a header but no examples${emptyRows.length > 0 ? `, only ${emptyRowsSaid()}` : ''}`, hint);
  // a column named as an identifier that numbers the rows (0 or 1, 2, 3, … in file order): a row's name, not
  // something about it, which a model would memorize (in a file sorted by class, the class itself)
  if (header && N > 2) {
    for (const [c, f] of features.entries()) {
      if (!/^(id|index|idx|row|row[ _-]?(id|number|no)|#)$/i.test(f.trim())) continue;
      const start = values[c];
      if ((start !== 0 && start !== 1) || !Array.from({ length: N }, (_, r) => values[r * D + c]).every((v, r) => v === start + r)) continue;
      throw new TreegateError(`${source}:${firstAt}: feature column ${c + 1}, '${f}', numbers the rows (${start}, ${start + 1}, ${start + 2}, …): an identifier, not a feature`,
        'remove the column (or rename it, if it is a measurement that happens to count the rows)');
    }
  }
  // pandas' DataFrame(X).to_csv() names unnamed columns 0, 1, …: a header, though every cell is a number. With
  // labels (whose column may have a name), its label cell is then a class no other line has; without, the line
  // alone is the sign, where it counts from 0
  const counts = (start: number) => featureCells.every((c, i) => c === String(i + start));
  // (three columns at least: a first example of one or two small whole numbers is too likely)
  const columnNumbers = !header && N > 1 && D >= 3 && (counts(0) || (labelled && counts(1)));
  if (!labelled) {
    if (columnNumbers) {
      throw new TreegateError(`${source}:${firstAt}: this line reads 0, 1, …, ${D - 1}: column numbers, as pandas writes for unnamed columns, not an example`,
        'give the columns names (df.columns = [...]), write the file without the header line (header=False), or remove the line');
    }
    const labels = opts.labels ?? [];
    // no labels were read: every y is 0, a class of a dataset of at least one
    return { data: { name: source, x: matrix(N, D, Float32Array.from(values)), y: new Int32Array(N), numClasses: Math.max(labels.length, 1) }, labels, features, header, labelName, lines: Int32Array.from(lineOf), labelColumn: labelCol, coarse: coarseColumns(values, N, features), warnings };
  }
  // a header whose feature names are numbers reads as data: its label cell is then the one word among numbers
  const isInt = (l: string) => /^-?\d+$/.test(l);
  if (!header && N > 1 && !isNumber(rawLabels[0]) && rawLabels.slice(1).every(isNumber)) {
    throw new TreegateError(`${source}:${firstAt}: this line looks like a header with numeric column names (its label '${rawLabels[0]}' is a word, every other label a number)`,
      `if it is a header, say so (${HEADER_HINT}) or give the feature columns names that are not numbers; else remove the line`);
  }
  if (columnNumbers && !rawLabels.slice(1).includes(rawLabels[0])) {
    throw new TreegateError(`${source}:${firstAt}: this line's features read ${featureCells[0]}, ${featureCells[1] ?? '…'}, …, and no other line has its label '${rawLabels[0]}': column numbers, as pandas writes for unnamed columns, not an example`,
      'give the columns names (df.columns = [...]), write the file without the header line (header=False), or remove the line');
  }
  // a header of numeric column names over word labels: its label cell is a word that no other line has, beside word
  // classes that all recur, or one class (a class of one example, which a model could not learn, if the line were data;
  // the file read so would be of one class and this line's)
  if (!header && !opts.labels && N >= 10 && !isNumber(rawLabels[0]) && !rawLabels.slice(1).includes(rawLabels[0])) {
    const seen = new Map<string, number>();
    for (const l of rawLabels.slice(1)) seen.set(l, (seen.get(l) ?? 0) + 1);
    if ([...seen.keys()].every((l) => !isNumber(l)) && [...seen.values()].every((n) => n >= 2)) {
      throw new TreegateError(`${source}:${firstAt}: this line's label '${rawLabels[0]}' is on no other line, though every other class recurs: ` +
        `a header whose column names are numbers (${featureCells.slice(0, 3).join(', ')}${featureCells.length > 3 ? ', …' : ''}), not an example`,
        `if it is a header, say so (${HEADER_HINT}) or give the feature columns names that are not numbers; if the line is an example, its class of one example could not be learnt: add more of it`);
    }
  }
  // numeric labels name their class by value: '1' and '1.0' are one class, named '1'
  const numeric = rawLabels.every(isNumber);
  const key = (l: string) => (numeric && isNumber(l) && Math.abs(decimal(l)) < 2 ** 53 ? String(decimal(l)) : l);
  let labels: string[];
  if (opts.labels) labels = opts.labels;
  else {
    labels = [...new Set(rawLabels.map(key))];
    const allInt = labels.every(isInt);
    labels.sort(numeric ? (a, b) => decimal(a) - decimal(b) : undefined);
    if (labels.length < 2) throw new TreegateError(`${source}: every example has the label '${labels[0]}'`, 'a classifier needs at least two classes');
    // numbers as labels, more of them than classes come: fractional ones past 20, whole ones past a quarter of the
    // examples (and 100)
    if (numeric && labels.length > (allInt ? Math.max(100, N / 4) : 20)) {
      throw new TreegateError(`${source}: the label column holds ${labels.length} distinct ${allInt ? 'whole' : 'fractional'} numbers among ${N} examples: a continuous target, not classes`,
        `treegate classifies: bin the values into classes (or, if the class labels are in another column, name it: ${LABEL_COLUMN_HINT})`);
    }
  }
  // a file of class numbers for a model whose classes are names (Kaggle's Fashion-MNIST CSV files, 0–9, for a model
  // that names its classes 'T-shirt/top' …): where none of the model's classes is a number and every label is one,
  // they are read as class numbers 0 … C − 1, said in a warning. Class names that are numbers (a file's 3, 5, 7) are
  // matched as names below, and so is a file of names and numbers (its numbers are no class); a test file is matched
  // to its training file's classes by name alone
  const namedClasses = opts.labels !== undefined && opts.matching !== 'training file' && labels.every((l) => !isNumber(l));
  const classNumbers = namedClasses && labels.length > 0 && rawLabels.every(isNumber);
  const numbered = (c: number) => `${c} '${labels[c]}'`;
  const classList = labels.length > 2 ? `${numbered(0)} … ${numbered(labels.length - 1)}` : labels.map((_, c) => numbered(c)).join(', ');
  // a label names its class as written, else by value (a model's classes written before labels were by value, or
  // made through the API, may hold '1' and '1.0' apart: then each matches itself only)
  const exact = new Map(labels.map((l, i) => [l, i]));
  const byValue = new Map<string, number>();
  labels.forEach((l, i) => byValue.set(key(l), byValue.has(key(l)) ? -1 : i));
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    if (classNumbers) {
      const c = decimal(rawLabels[i]);
      if (!Number.isInteger(c) || c < 0 || c >= labels.length) {
        throw new TreegateError(`${source}:${lineOf[i]}: the label '${rawLabels[i]}' is no class number of ${whose} (0–${labels.length - 1}): ` +
          "the labels are numbers, none of the model's class names, and are read as class numbers",
        `its classes: ${classList}; give each example its class number, or its class name`);
      }
      y[i] = c;
      continue;
    }
    const v = byValue.get(key(rawLabels[i]));
    const c = exact.get(rawLabels[i]) ?? (v === -1 ? undefined : v);
    if (c === undefined) {
      throw new TreegateError(`${source}:${lineOf[i]}: the label '${rawLabels[i]}' is not one of ${whose} classes`,
        `its classes: ${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}` +
        // (a file of names and numbers for a model whose classes are names: numbers are class numbers only in a file of them alone)
        (namedClasses && isNumber(rawLabels[i]) ? '; labels that are numbers are read as class numbers only where every label is one' : '') +
        // (a first line read as an example: a header of numeric column names, 1990,2000,species)
        (i === 0 && !header && N > 1 && !isNumber(rawLabels[0]) ? `; if the first line is a header whose column names are numbers, say so (${HEADER_HINT})` : ''));
    }
    y[i] = c;
  }
  if (classNumbers) {
    const lo = y.reduce((a, c) => Math.min(a, c), Infinity), hi = y.reduce((a, c) => Math.max(a, c), -Infinity);
    warnings.push(`${source}: the labels are numbers (${lo === hi ? `all ${lo}` : `${lo}–${hi}`}), none of the model's class names: read as class numbers (${classList})`);
  }
  return { data: { name: source, x: matrix(N, D, Float32Array.from(values)), y, numClasses: labels.length }, labels, features, header, labelName, lines: Int32Array.from(lineOf), labelColumn: labelCol, coarse: coarseColumns(values, N, features), warnings };
}

/** Fewer float32 steps than this in a column's standard deviation make it coarse (rounding moves a value up to 1% of it). */
const COARSE_STEPS = 50;

/**
 * The feature columns of `values` (N rows of features.length, row-major, as written) that float32, in which a model
 * reads its inputs (docs/format.md §4), keeps to steps of more than 1/COARSE_STEPS of their standard deviation: a
 * large offset and a small spread, such as timestamps in seconds over an hour (1.7e9 ± 1000, kept to steps of 128),
 * whose differences the model would partly or wholly lose. Columns that do not vary are not among them.
 */
export function coarseColumns(values: readonly number[], N: number, features: readonly string[]): CoarseColumn[] {
  const D = features.length, out: CoarseColumn[] = [];
  for (let c = 0; c < D; c++) {
    let sum = 0, big = 0;
    for (let r = 0; r < N; r++) {
      sum += values[r * D + c];
      big = Math.max(big, Math.abs(values[r * D + c]));
    }
    const mean = sum / N;
    let ss = 0;
    for (let r = 0; r < N; r++) ss += (values[r * D + c] - mean) ** 2;
    const std = Math.sqrt(ss / N), step = float32Step(big);
    if (std > 0 && std < COARSE_STEPS * step) out.push({ feature: c, name: features[c], mean, std, step });
  }
  return out;
}

/** The step between consecutive float32 values at magnitude v (subnormals' below 2^-126). */
function float32Step(v: number): number {
  if (!(v >= 2 ** -126)) return 2 ** -149;
  let e = Math.floor(Math.log2(v));
  if (2 ** e > v) e--; // log2's rounding at a power of two
  else if (2 ** (e + 1) <= v) e++;
  return 2 ** (e - 23);
}

/**
 * What to tell a user of the coarse columns of `source` (coarseColumns), or null where there are none: each column
 * named with its spread and float32's step there, and how to keep its values apart (`training`: a file to train
 * on; else one to test or predict on, for a model already trained).
 */
export function coarseWarning(source: string, coarse: readonly CoarseColumn[], training = true): string | null {
  if (coarse.length === 0) return null;
  const g = (v: number) => Number(v.toPrecision(3)).toString();
  const each = coarse.slice(0, 3).map((c) => `column '${c.name}' (about ${g(c.mean)}, standard deviation ${g(c.std)}) to steps of ${g(c.step)}` +
    (c.step >= c.std ? `, ${g(c.step / c.std)}× its standard deviation` : `, 1/${Math.round(c.std / c.step)} of its standard deviation`));
  const more = coarse.length > 3 ? `, and ${coarse.length - 3} more column${coarse.length > 4 ? 's' : ''}` : '';
  return `${source}: models read features as float32 (about 7 significant digits), which keeps ${each.join('; ')}${more}: ` +
    `the values lose ${coarse.some((c) => c.step >= c.std) ? 'most' : 'some'} of their differences. ` +
    (training ? `Subtract an offset from ${coarse.length > 1 ? 'such a column' : 'the column'} (such as its smallest value) or change its unit before training`
      : 'A model trained on such a column with an offset subtracted, or in another unit, needs the same done here');
}

/**
 * A CSV cell's or a command-line value's number where it is written as a decimal (an optional sign, digits with an
 * optional point, an optional exponent), else NaN: Number() alone would also read '0x10' as 16, '0b1' as 1, '' as 0.
 */
export function decimal(cell: string): number {
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cell) ? Number(cell) : Number.NaN;
}

/** A CSV cell as written: as it is, or quoted where it holds a comma, a quote or a line break. */
export function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The shortest decimal that reads back as this float32 (parseCsv stores float32): '0.1', not 0.10000000149011612. */
export function float32Text(v: number): string {
  for (let p = 1; p < 9; p++) {
    const t = Number(v.toPrecision(p));
    if (Math.fround(t) === v) return String(t);
  }
  return String(Number(v.toPrecision(9)));
}

/**
 * A dataset as a CSV file parseCsv reads back to the same floats and classes: the features, then the class name;
 * a header line first where `features` names the columns, the label column named `labelName` ('label' by default),
 * at `labelColumn` (0-based; default the last, as the file it came from had it).
 */
export function formatCsv(data: Dataset, labels: readonly string[], features: readonly string[] | null, labelName = 'label', labelColumn = data.x.cols): string {
  const { rows, cols, data: x } = data.x;
  const lines = features ? [[...features.slice(0, labelColumn), labelName, ...features.slice(labelColumn)].map(csvCell).join(',')] : [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < cols; c++) cells.push(float32Text(x[r * cols + c]));
    cells.splice(labelColumn, 0, csvCell(labels[data.y[r]]));
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}
