import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { TreegateError } from '../core/errors.js';
import { experimentReport, readExperimentResult } from '../experiments/results.js';
import { checkReplaceable, checkWritableFile, removeCreatedOnFailure, writeFileAtomic } from '../io/atomic.js';
import { safetensorsFormat } from '../io/model-file.js';
import { MODEL_FORMAT } from '../io/model-codec.js';
import { CHECKPOINT_FORMAT } from '../io/checkpoint-codec.js';
import { listCheckpoints, loadNewestCheckpoint, type RunState } from '../io/checkpoint.js';
import { renderReport, type Report } from '../report/html.js';
import { trainingReport, unfinishedRunReport } from '../report/training.js';
import { fileInFolder, pathArg, treegateCommand } from './options.js';
import { trainedByOf } from './provenance.js';
import { backendsOf, runSettings, type TrainCliOptions } from './train-checks.js';

const PASS = 'pass the --out folder of treegate train (metrics.jsonl) or of treegate experiment (results.json), or an experiment\'s results file';

/**
 * The report of what `path` holds, and where it goes by default: a training run's folder (metrics.jsonl) or its
 * metrics.jsonl or result.json, an experiment's folder (results.json), or an experiment's results file (its page beside it,
 * named after it).
 */
function reportOf(path: string): { report: Report; page: string } {
  if (!existsSync(path)) throw new TreegateError(`${path} does not exist`, PASS);
  const st = statSync(path);
  if (st.isFile()) {
    // a training run's metrics.jsonl, or its result.json beside it: the run's folder
    const run = dirname(path);
    if (basename(path) === 'metrics.jsonl' || (basename(path) === 'result.json' && existsSync(join(run, 'metrics.jsonl')))) {
      return { report: trainingReport(run), page: join(run, 'report.html') };
    }
    if (basename(path) === 'result.json') {
      throw new TreegateError(`${path} is a training run's result, and ${run} holds no metrics.jsonl, which the report draws`, `pass the folder of a run that finished`);
    }
    const format = safetensorsFormat(path);
    if (format === MODEL_FORMAT) throw new TreegateError(`${path} is a model file, not a run's results`, `treegate inspect --model ${path} shows a model; report takes the folder of the run that wrote it`);
    if (format === CHECKPOINT_FORMAT) {
      const run = basename(dirname(path)) === 'checkpoints' ? dirname(dirname(path)) : undefined;
      throw new TreegateError(`${path} is a training checkpoint, not a run's results`, `report takes the folder of the run that wrote it${run ? `, ${run}` : ''}`);
    }
    return { report: experimentReport(readExperimentResult(path)), page: join(dirname(path), `${basename(path, extname(path))}.html`) };
  }
  if (!st.isDirectory()) throw new TreegateError(`${path} is neither a file nor a folder`, PASS);
  const metrics = existsSync(join(path, 'metrics.jsonl')), results = existsSync(join(path, 'results.json'));
  if (metrics && results) {
    throw new TreegateError(`${path} holds both metrics.jsonl (a training run) and results.json (an experiment)`, 'pass the one to render: the folder\'s metrics.jsonl or its results.json');
  }
  if (metrics) return { report: trainingReport(path), page: join(path, 'report.html') };
  if (results) return { report: experimentReport(readExperimentResult(join(path, 'results.json'))), page: join(path, 'report.html') };
  // a training run that has not finished has only its checkpoints (metrics.jsonl is written when it finishes): its
  // curves so far, from the newest that reads
  if (listCheckpoints(join(path, 'checkpoints')).length > 0) {
    const { path: checkpoint, run } = loadNewestCheckpoint(join(path, 'checkpoints'), (line) => console.error(line));
    console.error(`treegate: ${path} has not finished: the report shows it up to step ${run.progress.step}, ` +
      `its newest checkpoint; ${treegateCommand('train', '--resume', path)} finishes it`);
    return { report: unfinishedRunReport(path, checkpoint, run.metrics, run.progress.step, savedRunHeader(run)), page: join(path, 'report.html') };
  }
  if (existsSync(join(path, 'checkpoints'))) {
    throw new TreegateError(`${path} holds a checkpoints folder with no checkpoint, and no metrics.jsonl: a training run that stopped before its first checkpoint`,
      `train it again (${treegateCommand('train', '--out', path)} with its options), or pass a run that finished`);
  }
  throw new TreegateError(`${path} holds neither metrics.jsonl (a training run) nor results.json (an experiment)`, PASS);
}

/**
 * What a checkpoint says of how its run is trained, as result.json would say it (the report's header): the data,
 * epochs and seed, the settings, the commands, the backends and the treegate code that trained it so far.
 */
function savedRunHeader(run: RunState): Record<string, unknown> {
  const o = run.options as unknown as TrainCliOptions, { command, resumedWith } = run.extra, backends = backendsOf(run.extra), code = trainedByOf(run.extra);
  return {
    dataset: o.dataset, ...(o.dataset === 'csv' ? { csv: o.csv, ...(o.testCsv === undefined ? {} : { testCsv: o.testCsv }) } : {}), epochs: o.epochs, seed: o.seed,
    ...(backends.length > 0 ? { backend: backends.at(-1), ...(backends.length > 1 ? { backends } : {}) } : {}),
    settings: runSettings(run.options, o), command, resumedWith,
    ...(code.length > 0 ? { provenance: code.at(-1) } : {}), ...(code.length > 1 ? { trainedBy: code } : {}),
  };
}

/** What marks a page as a treegate report: its generator, or (pages drawn before 2026-12-06 named none) its style's first rule. */
const REPORT_MARKS = ['<meta name="generator" content="treegate">', 'body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px;'];

/**
 * Refuses to write the page over a file that is not a treegate report (the run's own files, a model, a page of the
 * user's own): only reports are replaced.
 */
function checkPage(page: string): void {
  checkReplaceable(page, 4096, (head) => head.toLowerCase().startsWith('<!doctype html>') && REPORT_MARKS.some((m) => head.includes(m)),
    { problem: `--out ${page} exists and is not a treegate report: writing the report would replace it`,
      fix: 'pass another --out, or remove that file first' });
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render the HTML report of a training run (learning curves, time per epoch, learning rate, balance, leaf usage; a run not finished up to its newest checkpoint) or of an experiment, from the files it wrote')
    .argument('<path>', 'the --out folder of treegate train (or its metrics.jsonl or result.json) or of treegate experiment (or its results.json)', pathArg)
    .option('--out <file>', 'where to write the page (default report.html in that folder; for a results file, its name with .html); a path ending in /, or an existing folder, is a folder to write it in', pathArg)
    .action((path: string, o: { out?: string }) => {
      const { report, page: byDefault } = reportOf(resolve(path));
      const page = resolve(o.out === undefined ? byDefault : fileInFolder(o.out, basename(byDefault)));
      checkPage(page);
      const html = renderReport(report);
      removeCreatedOnFailure(dirname(page)); // (a page that cannot be written leaves no new folder)
      checkWritableFile(page); // its folder created if missing, as train's --out is
      writeFileAtomic(page, html);
      console.log(`wrote ${page}`);
    });
}
