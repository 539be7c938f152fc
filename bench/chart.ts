/**
 * npm run bench:chart -- BENCH-OUTPUT [REPORT.html]
 *
 * Draws a saved `npm run bench -- --json` run (its whole stdout, or the JSON line alone) as a
 * self-contained HTML report: the tree layer's achieved fraction of its roofline bound against k for
 * each pass, with the 70% target and the ceiling of node-by-node execution (per-node bound ÷
 * roofline bound), the same against the per-node bound, its time against the dense layers, and the
 * GEMM figures of every engine. `node scripts/report-images.mjs REPORT.html PREFIX` saves the charts
 * as PNG files for docs/benchmarks.md.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TreegateError } from '../src/core/errors.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { horizontalLine, PALETTE, renderReport, seriesTraces, type Chart, type Report, type Trace } from '../src/report/html.js';

/** A tree-bench row as `bench/tree.ts` writes it into the JSON (only what the charts read). */
interface TreeRow {
  backend: string; k: number; figure: string; ms: number; boundMs: number; achieved: number;
  nodeBoundMs: number; nodeAchieved: number; vsDenseCompute: number;
}
interface GemmRow { shape: string; candidate: string; threads: number; gflops: number }
interface BenchJson {
  date: string; command: string; mode: string; seconds: number;
  machine: { cpu: string; cores: number; node: string };
  limits: { flopsAll: number; bytesAll: number; source: string };
  results: Record<string, { data?: unknown; error?: string }>;
}

const TARGET = 0.7;
/** Legends under the plot, so that a 900-pixel image keeps the plot wide. */
const LEGEND_BELOW = { legend: { orientation: 'h', x: 0, y: -0.22, yanchor: 'top' }, height: 520, margin: { t: 20, l: 70, r: 20, b: 140 } };

/** The run's JSON object: the last line of a saved stdout (or of the JSON alone) that starts with `{`. */
export function parseBenchOutput(text: string, what = 'the bench output'): BenchJson {
  const line = text.split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new TreegateError(`${what} holds no JSON line`, 'save the stdout of `npm run bench -- --json` (the JSON object is its last line)');
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new TreegateError(`${what}: its JSON line does not parse (${(e as Error).message})`, 'was the output cut short? rerun `npm run bench -- --json`');
  }
  const j = json as Partial<BenchJson>;
  if (typeof j !== 'object' || j === null || typeof j.results !== 'object' || typeof j.date !== 'string') {
    throw new TreegateError(`${what}: its JSON is not a treegate bench run (no date or results)`, 'save the stdout of `npm run bench -- --json`');
  }
  return j as BenchJson;
}

const pct = (v: number): number => Math.round(v * 1000) / 10;

/** The target's line: black, heavier than a baseline's (no series is drawn in black before the seventh). */
const hline = (y: number, xs: number[], name: string): Trace => horizontalLine(y, xs, name, { color: '#000', width: 1.5 });

/** What the tree charts' series are (bench/tree.ts's figures). */
const FIGURES_NOTE = 'N = 256 examples (N = 1 where named). forward; backward (with the input gradient); step (the optimizer\'s ' +
  'step of the touched nodes); train step (the three fused, as train() runs them); infer (on the collapsed leaves).';

function treeCharts(rows: TreeRow[]): Chart[] {
  const charts: Chart[] = [];
  const backends = [...new Set(rows.map((r) => r.backend))];
  const figures = [...new Set(rows.map((r) => r.figure))];
  const series = (be: string, value: (r: TreeRow) => number) => figures.map((f) => {
    const rs = rows.filter((r) => r.backend === be && r.figure === f).sort((a, b) => a.k - b.k);
    return { name: f, x: rs.map((r) => r.k), y: rs.map(value) };
  });
  for (const be of backends) {
    const fwd = rows.filter((r) => r.backend === be && r.figure === 'forward').sort((a, b) => a.k - b.k);
    const ks = rows.filter((r) => r.backend === be).map((r) => r.k);
    const ceiling: Trace = {
      type: 'scatter', mode: 'lines', name: 'node-by-node ceiling (forward: roofline ÷ per-node bound)',
      x: fwd.map((r) => r.k), y: fwd.map((r) => pct(r.boundMs / r.nodeBoundMs)), line: { dash: 'dot', color: '#555' },
    };
    charts.push({
      title: `${be}: fraction of the roofline bound, tree layer 512→512`, note: `${FIGURES_NOTE} 100% is the roofline bound: ` +
        'max(flops / peak, bytes / bandwidth), counting k + 1 products per example and every touched node read from memory. ' +
        'Points above it beat that count: path sums skip the collapsed nodes\' products, and a small tree\'s nodes stay in cache ' +
        'between repeats. Dashed: the 70% target; dotted: the best that one product per node could reach.',
      traces: [...seriesTraces(series(be, (r) => pct(r.achieved))), ceiling, hline(pct(TARGET), ks, `target ${pct(TARGET)}%`)],
      xTitle: 'tree depth k', yTitle: '% of the roofline bound',
      layout: { ...LEGEND_BELOW, yaxis: { title: { text: '% of the roofline bound' }, rangemode: 'tozero' }, xaxis: { title: { text: 'tree depth k' }, dtick: 1, zeroline: false } },
    });
    charts.push({
      title: `${be}: fraction of the per-node bound, tree layer 512→512`, note: `${FIGURES_NOTE} The per-node bound sums ` +
        'each touched node\'s own max(flops / peak, bytes / bandwidth): a product that overlaps only its own reads. Above 100% ' +
        'for the reasons of the roofline chart.',
      traces: [...seriesTraces(series(be, (r) => pct(r.nodeAchieved))), hline(100, ks, 'the per-node bound')],
      xTitle: 'tree depth k', yTitle: '% of the per-node bound',
      layout: { ...LEGEND_BELOW, yaxis: { title: { text: '% of the per-node bound' }, rangemode: 'tozero' }, xaxis: { title: { text: 'tree depth k' }, dtick: 1, zeroline: false } },
    });
    charts.push({
      title: `${be}: time ÷ the dense 512→512 layer of equal compute`, note: `${FIGURES_NOTE} Each point: the tree layer's time over ` +
        'the dense layer\'s for the same figure, timed in the same group of interleaved repeats.',
      traces: seriesTraces(series(be, (r) => r.vsDenseCompute)),
      xTitle: 'tree depth k', yTitle: 'time ÷ dense 512→512', yLog: true,
      layout: { ...LEGEND_BELOW, xaxis: { title: { text: 'tree depth k' }, dtick: 1, zeroline: false } },
    });
  }
  return charts;
}

function gemmChart(rows: GemmRow[]): Chart {
  const shapes = [...new Set(rows.map((r) => r.shape))];
  const candidates = [...new Set(rows.map((r) => r.candidate))];
  const engines = [...new Set(rows.map((r) => `${r.candidate}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`))];
  return {
    title: 'GEMM y = x Wᵀ, GFLOP/s (higher is better)',
    // dots, not bars: a bar's length on a log axis means nothing; one colour an engine, filled for all threads and
    // open for one, side by side at each shape
    traces: engines.map((e) => {
      const row = rows.find((r) => `${r.candidate}, ${r.threads} thread${r.threads > 1 ? 's' : ''}` === e)!;
      const color = PALETTE[candidates.indexOf(row.candidate) % PALETTE.length];
      return {
        type: 'scatter', mode: 'markers', name: e, x: shapes,
        marker: { color, size: 11, symbol: row.threads > 1 ? 'circle' : 'circle-open', line: { color, width: 2 } },
        y: shapes.map((s) => rows.find((r) => r.shape === s && `${r.candidate}, ${r.threads} thread${r.threads > 1 ? 's' : ''}` === e)?.gflops ?? null),
      };
    }),
    // a log axis: the plain-JS figures (about 1 GFLOP/s) beside native's (over 100) would not show on a linear one
    xTitle: 'shape M×N×K', yTitle: 'GFLOP/s', yLog: true,
    layout: { scattermode: 'group', scattergap: 0.3, ...LEGEND_BELOW },
  };
}

/** The report of one bench run; sections only for the benches the run has. */
export function benchReport(run: BenchJson): Report {
  const sections: Report['sections'] = [];
  const tree = run.results.tree?.data as { rows?: TreeRow[] } | undefined;
  if (tree?.rows?.length) {
    sections.push({
      heading: 'Tree-gated layer against its roofline',
      text: [
        'Each point is a median of interleaved repeats (the tables of the same run give the repeats). The roofline bound is max(flops / peak, bytes / bandwidth) over the nodes the batch touches; the per-node bound sums that node by node, as a product that hides only its own weight reads would take. The dotted line is their ratio: what node-by-node execution could reach at best.',
        `Bounds: ${Math.round(run.limits.flopsAll / 1e9)} GFLOP/s and ${(run.limits.bytesAll / 1e9).toFixed(1)} GB/s on all threads (${run.limits.source}).`,
      ],
      charts: treeCharts(tree.rows),
    });
  }
  const gemm = run.results.gemm?.data as { rows?: GemmRow[] } | undefined;
  if (gemm?.rows?.length) sections.push({ heading: 'Matrix products', charts: [gemmChart(gemm.rows)] });
  if (sections.length === 0) {
    throw new TreegateError('the bench run has neither tree nor gemm figures to draw', 'run `npm run bench -- tree gemm --json` (or the whole bench)');
  }
  return {
    title: 'treegate benchmarks',
    meta: {
      command: run.command, date: run.date, mode: run.mode, seconds: run.seconds.toFixed(0),
      machine: `${run.machine.cpu}, ${run.machine.cores} cores; node ${run.machine.node}`,
    },
    sections,
  };
}

function main(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h') || argv.length < 1 || argv.length > 2) {
    const usage = 'usage: npm run bench:chart -- BENCH-OUTPUT [REPORT.html]\n  BENCH-OUTPUT: the saved stdout of `npm run bench -- --json`; REPORT.html defaults to bench-report.html';
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(usage);
      return 0;
    }
    process.stderr.write(usage + '\n');
    return 2;
  }
  const [input, out = 'bench-report.html'] = argv;
  try {
    let text: string;
    try {
      text = readFileSync(input, 'utf8');
    } catch (e) {
      throw new TreegateError(`cannot read ${input}: ${(e as Error).message}`, 'pass the file holding the stdout of `npm run bench -- --json`');
    }
    writeFileAtomic(out, renderReport(benchReport(parseBenchOutput(text, input))));
    console.log(out);
    return 0;
  } catch (e) {
    if (!(e instanceof TreegateError)) throw e;
    process.stderr.write(`bench:chart: ${e.message}\n`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exit(main(process.argv.slice(2)));
