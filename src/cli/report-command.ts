import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { checkWritableFile, writeFileAtomic } from '../io/atomic.js';
import { renderReport } from '../report/html.js';
import { trainingReport } from '../report/training.js';
import { pathArg } from './options.js';

export function reportCommand(): Command {
  return new Command('report')
    .description('render the HTML report of a training run: learning curves, balance over time, leaf usage heatmaps')
    .argument('<dir>', 'the --out folder of treegate train (holds metrics.jsonl)')
    .option('--out <file>', 'where to write the page (default DIR/report.html)', pathArg)
    .action((dir: string, o: { out?: string }) => {
      const d = resolve(dir);
      const path = resolve(o.out ?? join(d, 'report.html'));
      const page = renderReport(trainingReport(d));
      checkWritableFile(path); // its folder created if missing, as train's --out is
      writeFileAtomic(path, page);
      console.log(`wrote ${path}`);
    });
}
