import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { TreegateError } from '../core/errors.js';
import { experimentReport, readExperimentResult } from '../experiments/results.js';
import { checkWritableFile, writeFileAtomic } from '../io/atomic.js';
import { renderReport, type Report } from '../report/html.js';
import { trainingReport } from '../report/training.js';
import { pathArg } from './options.js';

/**
 * The report of what `dir` holds: a training run's folder (metrics.jsonl), or an experiment's (results.json), or
 * an experiment's results file itself.
 */
function reportOf(path: string): { report: Report; folder: string } {
  if (!existsSync(path)) throw new TreegateError(`${path} does not exist`, 'pass the --out folder of treegate train or treegate experiment');
  if (statSync(path).isFile()) {
    if (basename(path) === 'metrics.jsonl') return { report: trainingReport(dirname(path)), folder: dirname(path) };
    return { report: experimentReport(readExperimentResult(path)), folder: dirname(path) };
  }
  if (existsSync(join(path, 'metrics.jsonl'))) return { report: trainingReport(path), folder: path };
  if (existsSync(join(path, 'results.json'))) return { report: experimentReport(readExperimentResult(join(path, 'results.json'))), folder: path };
  throw new TreegateError(`${path} holds neither metrics.jsonl (a training run) nor results.json (an experiment)`,
    'pass the --out folder of treegate train or treegate experiment');
}

export function reportCommand(): Command {
  return new Command('report')
    .description('render the HTML report of a training run (learning curves, balance over time, leaf usage heatmaps) or of an experiment, from the files it wrote')
    .argument('<path>', 'the --out folder of treegate train (metrics.jsonl) or of treegate experiment (results.json), or an experiment\'s results file')
    .option('--out <file>', 'where to write the page (default report.html in that folder)', pathArg)
    .action((path: string, o: { out?: string }) => {
      const { report, folder } = reportOf(resolve(path));
      const out = resolve(o.out ?? join(folder, 'report.html'));
      const page = renderReport(report);
      checkWritableFile(out); // its folder created if missing, as train's --out is
      writeFileAtomic(out, page);
      console.log(`wrote ${out}`);
    });
}
