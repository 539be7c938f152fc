/**
 * node --import tsx bench/verdicts.ts SAVED-RUN...
 *
 * Issue 3's targets across saved `npm run bench -- --json` runs, one column a run (named by its file): the
 * verdicts `npm run bench` printed as its last table, judged again here by the same code (bench/targets.ts) from
 * each run's JSON line. The tree layer's rows are judged twice: against the bounds the run used (the larger of
 * the issue's figures and this machine's, as the bench does), and against the rate at which each row's own group
 * read memory in the same run (the tables' "achieved at that rate" column), the one of the two a planner may want
 * where a machine reads memory below the issue's 54 GB/s. Prints a Markdown table for docs/benchmarks.md.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseBenchOutput } from './chart.js';
import { judgeTargets, type RunFigures, type Verdict } from './targets.js';
import type { FigureRow } from './tree.js';

/** A saved run as judgeTargets reads it (plainRun: the command and mode of the time target). */
export function runFigures(text: string, what: string): RunFigures {
  const j = parseBenchOutput(text, what);
  return { sections: j.results, seconds: j.seconds, plainRun: j.command === 'npm run bench -- --json' && j.mode === 'quick' };
}

/** The same run with each tree figure read against its group's read rate (null where the run has none). */
export function atReadRate(run: RunFigures): RunFigures | null {
  const tree = run.sections.tree;
  const rows = (tree?.data as { rows?: FigureRow[] } | undefined)?.rows;
  if (!tree || !Array.isArray(rows) || rows.some((r) => typeof r.probeAchieved !== 'number')) return null;
  const data = { ...(tree.data as object), rows: rows.map((r) => ({ ...r, achieved: r.probeAchieved as number })) };
  return { ...run, sections: { ...run.sections, tree: { ...tree, data } } };
}

const short = (v: Verdict): string => (v.status === 'not measured' ? '–' : v.status);

/** The Markdown table: a row per target, a column per run. */
export function verdictMatrix(runs: Array<{ name: string; run: RunFigures }>): string {
  const judged = runs.map(({ run }) => ({ plain: judgeTargets(run), rate: atReadRate(run) }));
  const rateOf = judged.map((j) => (j.rate ? judgeTargets(j.rate) : null));
  const targets = judged[0].plain.map((v) => v.target);
  const lines = [`| target | ${runs.map((r) => r.name).join(' | ')} |`, `|---|${runs.map(() => '---|').join('')}`];
  targets.forEach((target) => {
    const cells = judged.map((j, r) => {
      const v = j.plain.find((q) => q.target === target);
      if (!v) return 'not in this run';
      if (!target.startsWith('tree layer ≥ 70%') || v.status === 'not measured') return short(v);
      const w = rateOf[r]?.find((q) => q.target === target);
      return `${short(v)}; at the read rate: ${w ? short(w) : 'not recorded'}`;
    });
    lines.push(`| ${target} | ${cells.join(' | ')} |`);
  });
  const met = judged.map((j) => j.plain.filter((v) => v.status === 'met').length);
  const metRate = rateOf.map((vs) => (vs ? vs.filter((v) => v.status === 'met').length : 'not recorded'));
  lines.push(`| met, of ${targets.length} | ${met.map((m, r) => `${m}; at the read rate: ${metRate[r]}`).join(' | ')} |`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node --import tsx bench/verdicts.ts SAVED-RUN... (files saved from `npm run bench -- --json`)');
    process.exit(2);
  }
  try {
    console.log(verdictMatrix(files.map((f) => ({ name: basename(f).replace(/\.(txt|json)$/, ''), run: runFigures(readFileSync(f, 'utf8'), f) }))));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}
