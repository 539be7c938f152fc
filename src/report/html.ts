import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TreegateError } from '../core/errors.js';

/**
 * Self-contained HTML reports: one file with the plotting library (Plotly's
 * cartesian bundle, from the npm package) inlined, the data as JSON, and one
 * div per chart. Open it anywhere, offline.
 */

/** One Plotly trace (scatter / heatmap / bar); see https://plotly.com/javascript/reference/. */
export type Trace = Record<string, unknown>;

export interface Chart {
  /** short: a long one is clipped at the chart's width; say the rest in `note` */
  title: string;
  /** a sentence under the chart (escaped): what is measured, over what */
  note?: string;
  traces: Trace[];
  xTitle?: string;
  yTitle?: string;
  xLog?: boolean;
  yLog?: boolean;
  /** extra Plotly layout keys */
  layout?: Record<string, unknown>;
}

export interface Table { columns: string[]; rows: Array<Array<string | number>> }

export interface Section {
  heading: string;
  /** plain text paragraphs (escaped) */
  text?: string[];
  tables?: Table[];
  charts?: Chart[];
}

export interface Report {
  title: string;
  /** key facts shown under the title: command, date, machine … */
  meta: Record<string, string>;
  sections: Section[];
}

let plotlySource: string | null = null;

function plotly(): string {
  if (plotlySource === null) {
    try {
      const path = createRequire(import.meta.url).resolve('plotly.js-cartesian-dist-min');
      plotlySource = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TreegateError(`cannot load the plotting library: ${(e as Error).message}`, 'run `npm ci` to install plotly.js-cartesian-dist-min');
    }
  }
  return plotlySource;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

function tableHtml(t: Table): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(String(v))}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** The report as one HTML document; every chart is a `div.chart` that the inlined script fills. */
export function renderReport(r: Report): string {
  const charts: Array<{ id: string; data: Trace[]; layout: Record<string, unknown> }> = [];
  const sections = r.sections.map((s) => {
    const parts = [`<h2>${escapeHtml(s.heading)}</h2>`];
    for (const p of s.text ?? []) parts.push(`<p>${escapeHtml(p)}</p>`);
    for (const t of s.tables ?? []) parts.push(tableHtml(t));
    for (const c of s.charts ?? []) {
      const id = `chart-${charts.length + 1}`;
      charts.push({
        id, data: c.traces,
        layout: {
          // the legend under the plot, so that long series names do not narrow it
          title: { text: c.title }, height: 460, margin: { t: 50, l: 70, r: 20, b: 100 }, hovermode: 'closest',
          legend: { orientation: 'h', y: -0.22, x: 0 },
          xaxis: { title: { text: c.xTitle ?? '' }, type: c.xLog ? 'log' : '-' },
          yaxis: { title: { text: c.yTitle ?? '' }, type: c.yLog ? 'log' : '-' },
          ...c.layout,
        },
      });
      parts.push(`<div class="chart" id="${id}"></div>`);
      if (c.note) parts.push(`<p class="note">${escapeHtml(c.note)}</p>`);
    }
    return `<section>\n${parts.join('\n')}\n</section>`;
  });
  const meta = Object.entries(r.meta).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(r.title)}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { font-weight: 600; } dd { margin: 0; font-family: monospace; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } .chart { width: 100%; min-height: 460px; } .note { margin-top: 0; color: #555; font-size: 13px; }
</style>
<script>${plotly()}</script>
</head>
<body>
<h1>${escapeHtml(r.title)}</h1>
<dl>${meta}</dl>
${sections.join('\n')}
<script>
const charts = ${scriptJson(charts)};
for (const c of charts) Plotly.newPlot(c.id, c.data, c.layout, { responsive: true, displaylogo: false });
</script>
</body>
</html>
`;
}

/** Line traces with error bars: one trace per series, x sorted. */
export function seriesTraces(series: Array<{ name: string; x: number[]; y: number[]; err?: number[] }>): Trace[] {
  return series.map((s) => ({
    type: 'scatter', mode: 'lines+markers', name: s.name, x: s.x, y: s.y,
    ...(s.err ? { error_y: { type: 'data', array: s.err, visible: true } } : {}),
  }));
}
