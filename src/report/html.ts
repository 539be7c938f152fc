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
  /** a heading above the chart (it wraps on a narrow page); the chart's accessible name, with `note` */
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
  // scrolled sideways on a page narrower than the table, not widening the page
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
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
      const axis = (title: string | undefined, log: boolean | undefined, at: 'x' | 'y') => ({
        title: { text: log ? `${title ?? ''} (log scale)` : title ?? '' }, type: log ? 'log' : '-', automargin: true,
        ...(log ? logTicks(axisValues(c.traces, at)) : {}),
      });
      charts.push({
        id, data: dodge(c.traces, c.xLog),
        layout: withLayout({
          // the title is the figure's heading, not Plotly's (which is clipped at the chart's width); the legend under
          // the plot, so that long series names do not narrow it; colours told apart in colour-blind vision
          height: 460, margin: { t: 20, l: 70, r: 20, b: 100 }, hovermode: 'closest', colorway: PALETTE,
          legend: { orientation: 'h', y: -0.22, x: 0 },
          // automargin: a long last category label is not clipped; no zero line through the points of k = 0
          xaxis: { ...axis(c.xTitle, c.xLog, 'x'), zeroline: false },
          yaxis: axis(c.yTitle, c.yLog, 'y'),
        }, c.layout ?? {}),
      });
      // the chart with its heading and caption, one figure (what scripts/report-images.mjs saves); the heading and
      // caption name the chart for a screen reader
      const note = c.note ? `<figcaption class="note" id="${id}-note">${escapeHtml(c.note)}</figcaption>` : '';
      parts.push(`<figure><h3 id="${id}-title">${escapeHtml(c.title)}</h3>` +
        `<div class="chart" id="${id}" role="img" aria-labelledby="${id}-title"${note ? ` aria-describedby="${id}-note"` : ''}></div>${note}</figure>`);
    }
    return `<section>\n${parts.join('\n')}\n</section>`;
  });
  const meta = Object.entries(r.meta).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="treegate">
<title>${escapeHtml(r.title)}</title>
<style>
:root { color-scheme: light dark; }
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; background: #fff; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; } dt { font-weight: 600; } dd { margin: 0; font-family: monospace; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } .chart { width: 100%; min-height: 460px; } figure { margin: 0 0 1.5em; padding-bottom: .3em; }
figure h3 { font-size: 1.05em; font-weight: 600; margin: 1em 0 0; text-align: center; }
.note { margin: 0 1em; color: #555; font-size: 13px; } .scroll { overflow-x: auto; }
@media (prefers-color-scheme: dark) {
  body { color: #ddd; background: ${DARK_PAPER}; } h2 { border-color: #444; } th, td { border-color: #555; } th { background: #262626; }
  .note { color: #aaa; }
}
</style>
<script>${plotly()}</script>
</head>
<body>
<h1>${escapeHtml(r.title)}</h1>
<dl>${meta}</dl>
${sections.join('\n')}
<script>
const charts = ${scriptJson(charts)};
${DARK_THEME_JS}
const dark = matchMedia('(prefers-color-scheme: dark)').matches;
for (const c of charts) {
  const { data, layout } = dark ? darkTheme(c) : c;
  Plotly.newPlot(c.id, data, layout, { responsive: true, displaylogo: false });
}
</script>
</body>
</html>
`;
}

/** The page's background in dark mode (a reader whose system asks for dark pages), the charts' too. */
const DARK_PAPER = '#161616';

/**
 * The page's function `darkTheme({ data, layout })`: a chart's traces and layout for a dark page (the system's
 * setting, read when the page opens; the images in docs are taken in light mode). The background and text turn
 * dark and light, the grid dim; colours too dark to see on it (the palette's black, the greys of reference lines)
 * turn light wherever a trace or the layout names a colour (a heatmap's grey background for empty cells stays), and
 * the palette's blue, 3.5:1 against the dark paper, a lighter blue of the same hue (OKLCH lightness 0.62, as the
 * palette's green and vermillion: 5.0:1; still well apart from its sky blue), so that every colour of the palette
 * stands at least 4.5:1 from it, as text must.
 * Long arrays of numbers are passed through as they are. Plain JavaScript, for the page; tests run it through
 * `new Function`.
 */
export const DARK_THEME_JS = `function darkTheme(chart) {
  const light = { '#000': '#e8e8e8', '#000000': '#e8e8e8', '#555': '#b0b0b0', '#888': '#a0a0a0', '#0072b2': '#308dcf' };
  // colour: under a key that names one (color, colorway, bgcolor …); a name or a label is left as it is
  const walk = (v, colour) => typeof v === 'string' ? (colour ? light[v.toLowerCase()] ?? v : v)
    : Array.isArray(v) ? (typeof v[0] === 'number' ? v : v.map((x) => walk(x, colour)))
    : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, /color/i.test(k))])) : v;
  const axis = (a) => ({ ...a, gridcolor: '#333', zerolinecolor: '#555', linecolor: '#666' });
  const layout = walk(chart.layout, false);
  return {
    data: walk(chart.data, false),
    layout: { ...layout, paper_bgcolor: '${DARK_PAPER}', plot_bgcolor: layout.plot_bgcolor ?? '${DARK_PAPER}',
      font: { ...layout.font, color: '#ddd' }, xaxis: axis(layout.xaxis), yaxis: axis(layout.yaxis) },
  };
}`;

/**
 * The series' colours, in order: Okabe and Ito's palette, told apart in the common kinds of colour blindness (yellow,
 * faint on white, last). Layouts give it as `colorway`; a trace drawn apart from its series takes its colour from here.
 */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

/** A chart's own layout over the defaults: its axes and legend merged key by key into theirs, anything else replaced. */
export function withLayout(defaults: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(own)) {
    const d = out[k];
    const objects = [d, v].every((o) => typeof o === 'object' && o !== null && !Array.isArray(o));
    out[k] = objects && ['xaxis', 'yaxis', 'legend'].includes(k) ? { ...(d as object), ...(v as object) } : v;
  }
  return out;
}

/** A series: points, with error bars of ± err, or from lo to hi (a range that stays positive on a log axis). */
export interface Series { name: string; x: number[]; y: number[]; err?: number[]; lo?: number[]; hi?: number[] }

/**
 * Line traces with error bars: one trace per series. Series that coincide stay visible: each is drawn thinner,
 * with smaller markers of another shape, than the one before it (and their error bars apart: see `dodge`).
 */
export function seriesTraces(series: Series[]): Trace[] {
  const symbols = ['circle', 'square', 'diamond', 'triangle-up', 'cross', 'x'];
  return series.map((s, i) => {
    const under = series.length - 1 - i;
    const error_y = s.lo && s.hi
      ? { type: 'data', symmetric: false, array: s.hi.map((h, j) => h - s.y[j]), arrayminus: s.lo.map((l, j) => s.y[j] - l), visible: true }
      : s.err ? { type: 'data', array: s.err, visible: true } : undefined;
    return {
      // a long series (a training run's logged windows) as a line alone: markers would bury it
      type: 'scatter', mode: s.x.length > 60 ? 'lines' : 'lines+markers', name: s.name, x: s.x, y: s.y,
      marker: { symbol: symbols[i % symbols.length], size: 8 + 1.5 * under }, line: { width: 1.5 + 0.5 * under },
      ...(error_y ? { error_y } : {}),
    };
  });
}

/**
 * A chart's traces with their error bars kept apart (every chart's, as renderReport draws it): where two or more
 * traces with numeric x have error bars (series over seeds at the same x: tree and dense, two learning rates), each
 * is drawn a little to the side of the one before it, centred, so that no bar or point hides another's. The step
 * is 4% of the smallest step between one series' x values (those of two series may lie close: a tree's and a dense
 * layer's nearly equal parameter counts), steps under 1% of the axis's span left out (the points a series draws
 * at one count, as speed's at the width cap); on a log axis (`log`) of the steps between the values' logarithms,
 * the offset a factor (a sum there would move the small values far and the large ones not at all). Each moved
 * point hovers at its own x (its customdata, where the trace gives none). Other traces (reference lines, a single
 * series) are left as they are.
 */
export function dodge(traces: Trace[], log = false): Trace[] {
  const barred = traces.filter((t) => typeof t.error_y === 'object' && t.error_y !== null && (t.error_y as { visible?: boolean }).visible !== false &&
    Array.isArray(t.x) && (t.x as unknown[]).every((v) => typeof v === 'number' && (!log || v > 0)));
  if (barred.length < 2) return traces;
  const at = log ? Math.log10 : (v: number) => v;
  const step = 0.04 * smallestStep(barred.map((t) => (t.x as number[]).map(at)));
  if (step === 0) return traces;
  return traces.map((t) => {
    const i = barred.indexOf(t);
    if (i < 0) return t;
    const offset = step * (i - (barred.length - 1) / 2), x = t.x as number[];
    return {
      ...t, x: x.map((v) => (log ? v * 10 ** offset : v + offset)), customdata: t.customdata ?? x,
      hovertemplate: t.hovertemplate ?? `%{customdata}, %{y}${t.text ? '<br>%{text}' : ''}<extra>%{fullData.name}</extra>`,
    };
  });
}

/**
 * The smallest step between the distinct values of any one series, steps under 1% of the span of them all left out
 * (0 where none is longer); a loop, as for a long run's steps.
 */
function smallestStep(series: number[][]): number {
  const [lo, hi] = extent(series.flat());
  let step = Infinity;
  for (const values of series) {
    const xs = [...new Set(values)].sort((a, b) => a - b);
    for (let i = 1; i < xs.length; i++) if (xs[i] - xs[i - 1] > 0.01 * (hi - lo)) step = Math.min(step, xs[i] - xs[i - 1]);
  }
  return Number.isFinite(step) ? step : 0;
}

/** The positive finite values of the traces along one axis (x or y): what a log axis's ticks must span. */
function axisValues(traces: Trace[], axis: 'x' | 'y'): number[] {
  return traces.flatMap((t) => (Array.isArray(t[axis]) ? (t[axis] as unknown[]) : []))
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
}

/**
 * A dashed horizontal line at y across the x values, named in the legend (a label on the plot would sit on some
 * point): a chart's target or baseline.
 */
export function horizontalLine(y: number, xs: Iterable<number>, name: string, line: { color: string; width: number } = { color: '#888', width: 1 }): Trace {
  return { type: 'scatter', mode: 'lines', name, x: extent(xs), y: [y, y], line: { dash: 'dash', ...line }, hoverinfo: 'skip' };
}

/** A whole count with separators, for tables: 2,130,432. */
export const count = (v: number): string => Math.round(v).toLocaleString('en-US');

/** A number as a tick label: 0.05, 2, 500, 20k, 1.5M. */
function tickLabel(v: number): string {
  const units: Array<[number, string]> = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  // 999 999 is 1M, not 1000k
  for (const [u, suffix] of units) if (Number(v.toPrecision(3)) >= u) return `${Number((v / u).toPrecision(3))}${suffix}`;
  return String(Number(v.toPrecision(3)));
}

/** The smallest and largest of the values, [NaN, NaN] for none (a loop: spreading 100k values into Math.min overflows the stack). */
export function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [NaN, NaN];
}

/**
 * Ticks of a log axis over these values, every one labelled in full (Plotly's own labels its minor ticks with a
 * bare digit, so that a "5" between 10 and 100 reads as 5): the powers of ten where the values span more than
 * three decades, else 1, 2 and 5 per decade where four of those fall among the values, else every digit where two
 * do; none (Plotly's linear-looking labels) where the values are too close for that.
 */
export function logTicks(values: number[]): { tickvals?: number[]; ticktext?: string[] } {
  const [min, max] = extent(values);
  if (!(min > 0)) return {};
  const lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
  // [digits of each decade, ticks wanted among the values]: three labels over a decade and a half leave its ends unread
  const candidates: Array<[number[], number]> = Math.log10(max / min) > 3 ? [[[1], 2]] : [[[1, 2, 5], 4], [[1, 2, 3, 4, 5, 6, 7, 8, 9], 2]];
  for (const [steps, wanted] of candidates) {
    const tickvals: number[] = [];
    for (let e = lo; e <= hi; e++) for (const m of e < hi ? steps : [1]) tickvals.push(Number((m * 10 ** e).toPrecision(3)));
    if (tickvals.filter((t) => t >= min && t <= max).length >= wanted) return { tickvals, ticktext: tickvals.map(tickLabel) };
  }
  return {};
}
