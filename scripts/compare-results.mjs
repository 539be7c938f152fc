#!/usr/bin/env node
// Compares two results.json files of one experiment (`treegate experiment <name>` writes them; an earlier one from
// git: `git show REV:docs/results/memorization.json > old.json`), row by row of their aggregates (the rows of the same
// configuration: kind, k, lr, dataset, variant …): the headline metric's mean in percentage points (memorization's
// fitted fraction, accuracy's and gating's test accuracy) and the training time per example, new ÷ old. Prints one
// line per row, then the largest metric difference (over every row, and over memorization's best-learning-rate rows)
// and the time ratios' median and range.
//   node scripts/compare-results.mjs OLD.json NEW.json
import { readFileSync } from 'node:fs';

const [oldPath, newPath] = process.argv.slice(2);
if (!oldPath || !newPath) {
  console.error('usage: node scripts/compare-results.mjs OLD.json NEW.json');
  process.exit(2);
}
// a gating file of before --depths (settings.depth, one number; rows without k) gets its depth on every row, so that
// its rows meet those of a newer file of that depth
const read = (p) => {
  const r = JSON.parse(readFileSync(p, 'utf8'));
  const depth = r.experiment === 'gating' ? r.settings?.depth : undefined;
  if (typeof depth === 'number') for (const row of r.aggregate ?? []) row.k ??= depth;
  return r;
};
const [a, b] = [read(oldPath), read(newPath)];
if (a.experiment !== b.experiment) {
  console.error(`compare-results: ${oldPath} is of ${a.experiment}, ${newPath} of ${b.experiment}`);
  process.exit(2);
}
/** A row's configuration: every field but its statistics, as one key. */
const key = (row) => JSON.stringify(Object.entries(row).filter(([k]) => k !== 'stats' && k !== 'seeds').sort());
const metric = (stats) => (stats.fitted ?? stats.testAccuracy)?.mean;
const time = (stats) => stats.trainUsPerExample?.mean;
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function compare(rowsA, rowsB) {
  const old = new Map(rowsA.map((r) => [key(r), r]));
  const out = [];
  for (const r of rowsB) {
    const o = old.get(key(r));
    if (!o) continue;
    const points = 100 * (metric(r.stats) - metric(o.stats)), ratio = time(r.stats) / time(o.stats);
    out.push({ config: Object.fromEntries(JSON.parse(key(r))), points, ratio });
  }
  return out;
}

const summary = (what, rows) => {
  if (rows.length === 0) return `${what}: no row of one configuration in both files`;
  const worst = rows.reduce((w, r) => (Math.abs(r.points) > Math.abs(w.points) ? r : w));
  const ratios = rows.map((r) => r.ratio).filter(Number.isFinite);
  return `${what} (${rows.length} row${rows.length === 1 ? '' : 's'}): metric differs by at most ${Math.abs(worst.points).toFixed(2)} points ` +
    `(${JSON.stringify(worst.config)}); ` + (ratios.length === 0 ? 'no training times (the experiment records none)'
    : `training time new ÷ old: median ${median(ratios).toFixed(2)}, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`);
};

const all = compare(a.aggregate ?? [], b.aggregate ?? []);
for (const r of all) console.log(`${JSON.stringify(r.config)}: ${r.points >= 0 ? '+' : ''}${r.points.toFixed(2)} points${Number.isFinite(r.ratio) ? `, time ×${r.ratio.toFixed(2)}` : ''}`);
console.log(summary('every row', all));
if (a.best && b.best) console.log(summary('best learning rates', compare(a.best, b.best)));
