import { readFileSync } from 'node:fs';
import { TreegateError } from '../core/errors.js';
import type { Report } from '../report/html.js';
import { treeStatsProblem } from '../report/run-files.js';
import { isObject } from '../core/errors.js';
import { ACCURACY_VARIANTS, accuracyReport } from './accuracy.js';
import type { ExperimentResult } from './common.js';
import { GATING_VARIANTS, gatingReport, usageEpochs } from './gating.js';
import { MEMORIZATION_KINDS, memorizationReport } from './memorization.js';
import { SPEED_KINDS, speedReport } from './speed.js';
import { MAX_DEPTH } from '../layers/tree.js';

/**
 * An experiment's results.json read back, and its report made from it alone: `treegate report` renders a run's
 * page again (with today's charts) from the file it wrote, and docs/results' images come from the committed files.
 */

/** What a setting must be: a whole number ≥ 1, a number > 0 or ≥ 0, a depth, text, a list of them, or a CSV file read (csv); '?' where it may be absent. */
type Want = 'count' | 'positive' | 'nonneg' | 'depth' | 'string' | 'depths' | 'depths?' | 'positives' | 'strings' | 'strings?' | 'positive?' | 'csv?' | 'gating?';
/** An aggregate key: a depth, a rate, or one of the names the report draws. */
type KeyWant = 'depth' | 'positive' | readonly string[];
/** A metric: a fraction in [0, 1], a number ≥ 0, any finite number; '?' where a configuration may lack it (null). */
type MetricWant = 'fraction' | 'nonneg' | 'any' | 'fraction?' | 'nonneg?';

interface Spec {
  /** the settings the report reads (dotted: train.epochs) */
  settings: Record<string, Want>;
  keys: Record<string, KeyWant>;
  metrics: Record<string, MetricWant>;
  report: (r: ExperimentResult) => Report;
}

const names = (vs: ReadonlyArray<{ name: string }>) => vs.map((v) => v.name);

const SPECS: Record<string, Spec> = {
  memorization: {
    settings: { examples: 'count', inputSize: 'count', classes: 'count', depths: 'depths', lrs: 'positives', 'train.epochs': 'count', 'train.batchSize': 'count', model: 'string' },
    keys: { kind: MEMORIZATION_KINDS, k: 'depth', lr: 'positive' },
    metrics: { fitted: 'fraction', parameters: 'nonneg', macsInference: 'nonneg', trainUsPerExample: 'nonneg', inferUsPerExample: 'nonneg', balance: 'fraction?' },
    report: memorizationReport,
  },
  accuracy: {
    // (depths and gating: --resume's)
    settings: { datasets: 'strings', depths: 'depths', 'train.epochs': 'count', 'train.batchSize': 'count', 'train.lr': 'positive', 'train.weightDecay': 'nonneg', limit: 'positive?', data: 'csv?', gating: 'gating?', model: 'string',
      variants: 'strings?' },
    keys: { variant: names(ACCURACY_VARIANTS), k: 'depth' },
    metrics: { testAccuracy: 'fraction', trainAccuracy: 'fraction', gap: 'any', parameters: 'nonneg', macsInference: 'nonneg?', balance: 'fraction?', deadLeaves: 'nonneg?' },
    report: accuracyReport,
  },
  gating: {
    // (depths: the report's and --resume's; results of before --depths record one depth, read as a list of it: olderGating)
    settings: { depths: 'depths', 'train.epochs': 'count', limit: 'positive?', data: 'csv?', model: 'string' },
    keys: { k: 'depth', gating: names(GATING_VARIANTS) },
    metrics: { testAccuracy: 'fraction', balance: 'fraction', deadLeaves: 'nonneg' },
    report: gatingReport,
  },
  speed: {
    // (width and batch: the report's and --resume's; depths: --resume's, where recorded)
    settings: { width: 'count', batch: 'count', depths: 'depths?', denseCap: 'count', rounds: 'count', layer: 'string' },
    keys: { kind: SPEED_KINDS, k: 'depth' },
    metrics: { parameters: 'nonneg', macsInference: 'nonneg', inferUsPerExample: 'nonneg', stepUsPerExample: 'nonneg', capped: 'fraction',
      inferVsDense: 'nonneg?', stepVsDense: 'nonneg?' },
    report: speedReport,
  },
};

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isDepth = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_DEPTH;
const isDepths = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isDepth);

const WANTS: Record<Want, [string, (v: unknown) => boolean]> = {
  count: ['a whole number ≥ 1', (v) => Number.isInteger(v) && (v as number) >= 1],
  positive: ['a number > 0', (v) => finite(v) && v > 0],
  nonneg: ['a number ≥ 0', (v) => finite(v) && v >= 0],
  'positive?': ['absent or a number > 0', (v) => v === undefined || (finite(v) && v > 0)],
  depth: [`a depth (a whole number in [0, ${MAX_DEPTH}])`, isDepth],
  string: ['text', (v) => typeof v === 'string'],
  depths: ['a list of depths', isDepths],
  'depths?': ['absent or a list of depths', (v) => v === undefined || isDepths(v)],
  positives: ['a list of numbers > 0', (v) => Array.isArray(v) && v.length > 0 && v.every((x) => finite(x) && x > 0)],
  strings: ['a list of names', (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')],
  'strings?': ['absent or a list of names', (v) => v === undefined || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'))],
  'gating?': ['absent or a gating source, units or projection', (v) => v === undefined || v === 'units' || v === 'projection'],
  // (--resume reads the files again)
  'csv?': ['absent or the CSV files read, { csv, testCsv?, labelColumn? (a name, or a column from 0), header? }', (v) => v === undefined || (isObject(v)
    && Object.keys(v).every((k) => ['csv', 'testCsv', 'labelColumn', 'header'].includes(k)) && typeof v.csv === 'string' && ['undefined', 'string'].includes(typeof v.testCsv)
    && (v.labelColumn === undefined || typeof v.labelColumn === 'string' || (Number.isInteger(v.labelColumn) && (v.labelColumn as number) >= 0))
    && ['undefined', 'boolean'].includes(typeof v.header))],
};

/** A metric's range, whether or not a configuration may lack it ('?'). */
const METRICS: Record<'fraction' | 'nonneg' | 'any', [string, (v: number) => boolean]> = {
  fraction: ['in [0, 1]', (v) => v >= 0 && v <= 1],
  nonneg: ['≥ 0', (v) => v >= 0],
  any: ['finite', () => true],
};

/** The spec of an experiment name, or undefined (own keys only: 'constructor' is no experiment). */
const specOf = (name: unknown): Spec | undefined => (typeof name === 'string' && Object.hasOwn(SPECS, name) ? SPECS[name] : undefined);

/** The report of an experiment's results, whichever experiment it is. */
export function experimentReport(r: ExperimentResult): Report {
  const spec = specOf(r.experiment);
  if (!spec) throw new TreegateError(`no experiment '${r.experiment}'`, `the experiments are ${Object.keys(SPECS).join(', ')}`);
  return spec.report(r);
}

/**
 * Reads an experiment's results.json: everything its report reads must be there, of the right kind and in range;
 * anything else is an error naming the file and the field. Standard deviations saved as null (one seed) and
 * metrics a configuration lacks (a dense model's balance) become NaN again.
 */
export function readExperimentResult(path: string): ExperimentResult {
  const hint = 'pass the results.json that `treegate experiment` wrote (a training run: its folder)';
  const fail = (what: string): never => { throw new TreegateError(`${path}: ${what}`, hint); };
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    // the parser's message quotes the text it choked on: printable characters only
    const why = e instanceof SyntaxError ? `not valid JSON (${e.message.replace(/[^\x20-\x7e]/g, '?')})` : `cannot read it: ${(e as Error).message}`;
    throw new TreegateError(`${path}: ${why}`, hint);
  }
  if (!isObject(r)) return fail('not a JSON object');
  const spec = specOf(r.experiment);
  if (!spec) return fail(`experiment is ${JSON.stringify(r.experiment)}, expected one of ${Object.keys(SPECS).join(', ')}`);
  if (typeof r.quick !== 'boolean') fail('quick is not true or false');
  if (!Array.isArray(r.seeds) || r.seeds.length === 0 || !r.seeds.every((s) => Number.isInteger(s))) fail('seeds is not a list of whole numbers');
  const seeds = r.seeds as number[];
  for (const f of ['date', 'command']) if (typeof r[f] !== 'string') fail(`${f} is not a string`);
  if (r.seconds !== undefined && !(typeof r.seconds === 'number' && Number.isFinite(r.seconds) && r.seconds >= 0)) {
    fail('seconds is not a number of seconds ≥ 0');
  }
  const i = r.interrupted;
  if (i !== undefined && !(isObject(i) && Array.isArray(i.seeds) && i.seeds.every((s) => Number.isInteger(s)) &&
    seeds.every((s) => (i.seeds as unknown[]).includes(s)) && Number.isInteger(i.droppedRuns) && (i.droppedRuns as number) >= 0)) {
    fail('interrupted is not { seeds (the seeds asked for, a list of whole numbers holding those of seeds), droppedRuns (a whole number ≥ 0) }');
  }
  const sp = r.splits;
  if (sp !== undefined && !(isObject(sp) && Object.keys(sp).length === 3 && ['train', 'validation', 'test'].every((k) => Number.isInteger(sp[k]) && (sp[k] as number) >= 0))) {
    fail('splits is not { train, validation, test }, each a whole number ≥ 0 of examples');
  }
  if (r.resumedWith !== undefined && !(Array.isArray(r.resumedWith) && r.resumedWith.every((c) => typeof c === 'string'))) {
    fail('resumedWith is not a list of commands (strings)');
  }
  const pv = r.provenance;
  if (pv !== undefined && !(isObject(pv) && typeof pv.treegate === 'string' && ['commit', 'code', 'mnist', 'csv', 'testCsv'].every((f) => pv[f] === undefined || typeof pv[f] === 'string'))) {
    fail('provenance is not { treegate, commit?, code?, mnist?, csv?, testCsv? } (strings)');
  }
  const m = r.machine;
  if (!isObject(m) || !['cpu', 'node', 'backend'].every((f) => typeof m[f] === 'string') || !['cores', 'memoryGiB'].every((f) => finite(m[f]))) {
    return fail('machine is not { cpu, cores, memoryGiB, node, backend }');
  }
  if (m.threads !== undefined && !(Number.isInteger(m.threads) && (m.threads as number) >= 1)) fail('machine.threads is not a whole number ≥ 1');
  const settings = r.settings;
  if (!isObject(settings)) return fail('settings is not an object');
  if (r.experiment === 'gating') olderGating(r, settings, fail);
  for (const [key, want] of Object.entries(spec.settings)) {
    const value = key.split('.').reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), settings);
    const [what, ok] = WANTS[want];
    if (!ok(value)) fail(`settings.${key} is ${JSON.stringify(value) ?? 'missing'}, expected ${what}`);
  }
  if (!Array.isArray(r.runs) || r.runs.length === 0 || !r.runs.every(isObject)) return fail('runs is not a list of objects');
  const keyOk = (want: KeyWant, v: unknown) => (want === 'depth' ? isDepth(v) : want === 'positive' ? finite(v) && v > 0 : want.includes(v as string));
  const keyWhat = (want: KeyWant) => (want === 'depth' ? 'a depth' : want === 'positive' ? 'a number > 0' : `one of ${want.join(', ')}`);
  const keys: Record<string, KeyWant> = r.experiment === 'accuracy' ? { ...spec.keys, dataset: settings.datasets as string[] } : spec.keys;
  const rows = (name: 'aggregate' | 'best') => {
    const list = r[name];
    if (!Array.isArray(list) || list.length === 0) return fail(`${name} is not a list of configurations`);
    list.forEach((a: unknown, i) => {
      const at = `${name}[${i}]`;
      if (!isObject(a) || !isObject(a.stats) || !Number.isInteger(a.seeds)) return fail(`${at} is not { seeds, stats, … }`);
      for (const [k, want] of Object.entries(keys)) if (!keyOk(want, a[k])) fail(`${at}.${k} is ${JSON.stringify(a[k]) ?? 'missing'}, expected ${keyWhat(want)}`);
      for (const [metric, want] of Object.entries(spec.metrics)) {
        const st = a.stats[metric], [range, inRange] = METRICS[want.replace('?', '') as keyof typeof METRICS];
        if (st === undefined && want.endsWith('?')) continue; // a metric added since the file was written
        if (!isObject(st)) return fail(`${at}.stats.${metric} is not { mean, std, min, max }`);
        // null: NaN as JSON writes it, for a metric the configuration lacks (all four) or the std of one seed
        const lacking = want.endsWith('?') && ['mean', 'min', 'max'].every((f) => st[f] === null);
        for (const f of ['mean', 'min', 'max']) {
          if (!lacking && !(finite(st[f]) && inRange(st[f] as number))) fail(`${at}.stats.${metric}.${f} is ${JSON.stringify(st[f]) ?? 'missing'}, expected a number ${range}`);
        }
        if (!(st.std === null || (finite(st.std) && st.std >= 0))) fail(`${at}.stats.${metric}.std is ${JSON.stringify(st.std) ?? 'missing'}, expected a number ≥ 0 or null`);
      }
      for (const st of Object.values(a.stats)) if (isObject(st)) for (const f of Object.keys(st)) if (st[f] === null) st[f] = NaN;
    });
  };
  rows('aggregate');
  if (r.experiment === 'memorization') rows('best');
  if (r.experiment === 'gating') checkGating(r, settings, seeds, fail);
  return r as unknown as ExperimentResult;
}

/**
 * Gating's results written before it took --depths (up to 2026-12-07) ran one depth, `settings.depth`, and their runs,
 * aggregate and usage do not name it: they are read as a run of that depth alone is written now (`settings.depths`,
 * each run and configuration's `k`, the usage under its depth), so that the report and --resume read one layout.
 */
function olderGating(r: Record<string, unknown>, settings: Record<string, unknown>, fail: (what: string) => never): void {
  if (settings.depths !== undefined || settings.depth === undefined) return;
  const k = settings.depth;
  if (!isDepth(k)) fail(`settings.depth is ${JSON.stringify(k)}, expected a depth (a whole number in [0, ${MAX_DEPTH}])`);
  settings.depths = [k];
  delete settings.depth;
  const withK = (list: unknown) => (Array.isArray(list) ? list.map((x) => (isObject(x) && x.k === undefined ? { ...x, k } : x)) : list);
  r.runs = withK(r.runs);
  r.aggregate = withK(r.aggregate);
  if (isObject(r.usage) && Object.values(r.usage).every(Array.isArray)) r.usage = { [String(k)]: r.usage };
}

/**
 * The gating report's per-seed epoch columns and leaf usage: one run per depth, variant and seed, every epoch, in
 * range (a run's dead leaves and usage of its depth's 2^k leaves).
 */
function checkGating(r: Record<string, unknown>, settings: Record<string, unknown>, seeds: number[], fail: (what: string) => never): void {
  const epochs = (settings.train as { epochs: number }).epochs, depths = settings.depths as number[];
  const runs = r.runs as Array<Record<string, unknown>>;
  for (const k of depths) {
    for (const v of GATING_VARIANTS) {
      for (const seed of seeds) {
        if (!runs.some((run) => run.gating === v.name && run.seed === seed && run.k === k)) fail(`runs has no run of '${v.name}' at k = ${k} for seed ${seed}`);
      }
    }
  }
  runs.forEach((run, i) => {
    if (!depths.includes(run.k as number)) fail(`runs[${i}].k is ${JSON.stringify(run.k) ?? 'missing'}, expected one of settings.depths, ${depths.join(', ')}`);
    const leaves = 2 ** (run.k as number);
    const columns: Array<[string, string, (x: number) => boolean]> = [
      ['balanceByEpoch', 'a balance in [0, 1]', (x) => x >= 0 && x <= 1],
      ['deadByEpoch', `a count of dead leaves in [0, ${leaves}]`, (x) => Number.isInteger(x) && x >= 0 && x <= leaves],
    ];
    for (const [column, what, ok] of columns) {
      const v = run[column], parts = typeof v === 'string' ? v.split(' ') : [];
      if (parts.length !== epochs || !parts.every((p) => p !== '' && ok(Number(p)))) {
        fail(`runs[${i}].${column} is ${JSON.stringify(v) ?? 'missing'}, expected ${epochs} values (one per epoch, space-separated), each ${what}`);
      }
    }
  });
  if (r.usage === undefined) return;
  const usage = r.usage;
  if (!isObject(usage)) return fail('usage is not an object of depths');
  // (every epoch's, or of a run of more than USAGE_EPOCHS every few, with the first and the last)
  const recorded = usageEpochs(Array.from({ length: epochs }, (_, i) => ({ epoch: i + 1 }))).map((e) => e.epoch);
  for (const k of depths) {
    const atK = usage[k], leaves = 2 ** k;
    if (!isObject(atK)) return fail(`usage['${k}'] is not an object of variants (the first seed's leaf usage at k = ${k})`);
    for (const v of GATING_VARIANTS) {
      const list = atK[v.name];
      if (!Array.isArray(list) || list.length !== recorded.length) {
        return fail(`usage['${k}']['${v.name}'] is not a list of ${recorded.length} epochs${recorded.length < epochs ? ` (every few of the ${epochs})` : ''}`);
      }
      list.forEach((e: unknown, i) => {
        const at = `usage['${k}']['${v.name}'][${i}]`;
        if (!isObject(e) || e.epoch !== recorded[i]) fail(`${at}.epoch is not ${recorded[i]}`);
        const stats = (e as Record<string, unknown>).stats, problem = treeStatsProblem(stats);
        if (problem) fail(`${at}.stats ${problem}`);
        if (!Array.isArray((stats as { usage?: unknown }).usage)) fail(`${at}.stats has no usage (the gating report draws it)`);
        if ((stats as { leaves: number }).leaves !== leaves) fail(`${at}.stats has ${(stats as { leaves: number }).leaves} leaves, expected 2^${k} = ${leaves}`);
      });
    }
  }
}
