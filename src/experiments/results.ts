import { readFileSync } from 'node:fs';
import { TreegateError } from '../core/errors.js';
import type { Report } from '../report/html.js';
import { treeStatsProblem } from '../report/training.js';
import { accuracyReport, accuracySettings } from './accuracy.js';
import type { ExperimentResult } from './common.js';
import { gatingReport, gatingSettings } from './gating.js';
import { memorizationReport, memorizationSettings } from './memorization.js';
import { speedReport, speedSettings } from './speed.js';

/**
 * An experiment's results.json read back, and its report made from it alone: `treegate report` renders a run's
 * page again (with today's charts) from the file it wrote, and docs/results' images come from the committed files.
 */

interface Spec {
  /** the settings of each size: what a results file must hold (a setting undefined in that size may be absent) */
  settings: (quick: boolean) => object;
  /** text settings the run adds */
  text: string[];
  /** the key columns and metrics of the aggregate rows the report reads */
  keys: string[];
  metrics: string[];
  /** columns of the per-seed runs the report reads */
  runColumns: string[];
  report: (r: ExperimentResult) => Report;
}

const SPECS: Record<string, Spec> = {
  memorization: {
    settings: memorizationSettings, text: ['model'], keys: ['kind', 'k', 'lr'], runColumns: [], report: memorizationReport,
    metrics: ['fitted', 'parameters', 'macsInference', 'trainUsPerExample', 'inferUsPerExample', 'balance'],
  },
  accuracy: {
    settings: accuracySettings, text: ['model'], keys: ['dataset', 'variant', 'k'], runColumns: [], report: accuracyReport,
    metrics: ['testAccuracy', 'trainAccuracy', 'gap', 'parameters', 'balance', 'deadLeaves'],
  },
  gating: {
    settings: gatingSettings, text: ['model'], keys: ['gating'], runColumns: ['gating', 'balanceByEpoch', 'deadByEpoch'], report: gatingReport,
    metrics: ['testAccuracy', 'balance', 'deadLeaves'],
  },
  speed: {
    settings: speedSettings, text: ['layer'], keys: ['kind', 'k'], runColumns: [], report: speedReport,
    metrics: ['parameters', 'macsInference', 'inferUsPerExample', 'stepUsPerExample', 'capped'],
  },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kind = (v: unknown): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** The report of an experiment's results, whichever experiment it is. */
export function experimentReport(r: ExperimentResult): Report {
  const spec = SPECS[r.experiment];
  if (!spec) throw new TreegateError(`no experiment '${r.experiment}'`, `the experiments are ${Object.keys(SPECS).join(', ')}`);
  return spec.report(r);
}

/**
 * Reads an experiment's results.json: everything its report reads must be there, of the right kind; anything
 * else is an error naming the file and the field. Standard deviations saved as null (one seed) become NaN again.
 */
export function readExperimentResult(path: string): ExperimentResult {
  const hint = 'pass the results.json that `treegate experiment` wrote, unedited';
  const fail = (what: string): never => { throw new TreegateError(`${path}: ${what}`, hint); };
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TreegateError(`${path}: ${e instanceof SyntaxError ? `not valid JSON (${e.message})` : `cannot read it: ${(e as Error).message}`}`, hint);
  }
  if (!isObject(r)) return fail('not a JSON object');
  const spec = SPECS[r.experiment as string];
  if (!spec) return fail(`experiment is ${JSON.stringify(r.experiment)}, expected one of ${Object.keys(SPECS).join(', ')}`);
  if (typeof r.quick !== 'boolean') fail('quick is not true or false');
  if (!Array.isArray(r.seeds) || r.seeds.length === 0 || !r.seeds.every((s) => Number.isInteger(s))) fail('seeds is not a list of whole numbers');
  for (const f of ['date', 'command']) if (typeof r[f] !== 'string') fail(`${f} is not a string`);
  const m = r.machine;
  if (!isObject(m) || !['cpu', 'node', 'backend'].every((f) => typeof m[f] === 'string') || !['cores', 'memoryGiB'].every((f) => typeof m[f] === 'number')) {
    fail('machine is not { cpu, cores, memoryGiB, node, backend }');
  }
  // settings: every one of the run's size, of the same kind (one level into objects: train's epochs, batchSize …)
  const settings = r.settings;
  if (!isObject(settings)) return fail('settings is not an object');
  const check = (want: Record<string, unknown>, got: Record<string, unknown>, at: string) => {
    for (const [key, value] of Object.entries(want)) {
      if (value === undefined) continue;
      if (kind(got[key]) !== kind(value)) fail(`${at}${key} is ${kind(got[key])}, expected ${kind(value)}`);
      if (isObject(value)) check(value, got[key] as Record<string, unknown>, `${at}${key}.`);
    }
  };
  check(spec.settings(r.quick as boolean) as Record<string, unknown>, settings, 'settings.');
  for (const t of spec.text) if (typeof settings[t] !== 'string') fail(`settings.${t} is not a string`);
  if (!Array.isArray(r.runs) || !r.runs.every(isObject)) return fail('runs is not a list of objects');
  r.runs.forEach((run, i) => {
    for (const c of spec.runColumns) if (typeof run[c] !== 'string') fail(`runs[${i}].${c} is not a string`);
  });
  const rows = (name: 'aggregate' | 'best') => {
    const list = r[name];
    if (!Array.isArray(list) || list.length === 0) fail(`${name} is not a list of configurations`);
    (list as unknown[]).forEach((a, i) => {
      const at = `${name}[${i}]`;
      if (!isObject(a) || !isObject(a.stats) || !Number.isInteger(a.seeds)) return fail(`${at} is not { seeds, stats, … }`);
      for (const k of spec.keys) if (typeof a[k] !== 'string' && typeof a[k] !== 'number') fail(`${at}.${k} is missing`);
      for (const metric of spec.metrics) {
        const st = a.stats[metric];
        if (!isObject(st) || !['mean', 'std', 'min', 'max'].every((f) => typeof st[f] === 'number' || st[f] === null)) {
          fail(`${at}.stats.${metric} is not { mean, std, min, max }`);
        }
      }
      // a NaN (a metric a configuration does not have, the std of one seed) was written as null
      for (const st of Object.values(a.stats)) if (isObject(st)) for (const f of Object.keys(st)) if (st[f] === null) st[f] = NaN;
    });
  };
  rows('aggregate');
  if (r.experiment === 'memorization') rows('best');
  if (r.usage !== undefined) {
    if (!isObject(r.usage)) fail('usage is not an object of variants');
    for (const [variant, epochs] of Object.entries(r.usage as Record<string, unknown>)) {
      if (!Array.isArray(epochs)) return fail(`usage.${variant} is not a list of epochs`);
      epochs.forEach((e: unknown, i) => {
        if (!isObject(e) || !Number.isInteger(e.epoch)) fail(`usage.${variant}[${i}] has no epoch`);
        const problem = treeStatsProblem((e as Record<string, unknown>).stats);
        if (problem) fail(`usage.${variant}[${i}].stats ${problem}`);
      });
    }
  }
  return r as unknown as ExperimentResult;
}
