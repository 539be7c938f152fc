import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { check } from '../core/errors.js';
import { csvCell as cell } from '../data/csv.js';
import { csvSource, readCsv, STDIN_PATH, STDIN_PATH as STDOUT_PATH } from '../data/csv-file.js';
import { checkReplaceable, checkWritableFile, descriptorOf, removeCreatedOnFailure, sameFile, writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { counted } from '../report/summary.js';
import { backendOption, csvInputs, fileInFolder, headerOption, humanLines, labelColumnArg, labelColumnOf, pathArg, requireOptions, resultsThenSummary, threadsOption, useKernelsFirst, warnCsv, type KernelOptions } from './options.js';

interface PredictCliOptions extends KernelOptions {
  model: string; csv: string; header?: boolean; labelColumn?: string; out?: string; probabilities?: boolean; json?: boolean;
}


export function predictCommand(): Command {
  return requireOptions(new Command('predict')
    .description("classify new examples: a CSV file of features (a label column, where the model's, is left out), one class per line")
    .option('--model <path>', 'model.safetensors written by treegate train (or saved through the API) (required)', pathArg)
    .option('--csv <file>', "the examples: the model's features in its training order, comma-separated (or tab- or semicolon-separated), an optional header line; - reads standard input (required)", pathArg)
    .addOption(headerOption(true))
    .addOption(headerOption(false))
    .option('--label-column <column>', "the column of --csv that holds labels, left out: its header name, its number (1 is the first) or last (default: a file of one column more than the model's features has them where the model's training data had them, the last for models not trained on a CSV file)", labelColumnArg)
    .option('--out <file>', 'write the predictions there (CSV) instead of stdout; - is stdout; a path ending in /, or an existing folder, is a folder: predictions.csv in it', pathArg)
    .option('--probabilities', "add each class's probability (softmax of the logits), one column per class")
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print one JSON object on stdout (the other lines go to stderr)')
    .action((o: PredictCliOptions) => {
      // --out - is standard output, where the predictions go without --out (and so is its name by descriptor: written
      // through a path of its own, it would land beside what this process prints, or replace the shell's file)
      const named = o.out;
      if (o.out !== undefined && descriptorOf(o.out) === 1) o.out = STDOUT_PATH;
      if (o.out === STDOUT_PATH) {
        check(!o.json, `--out ${named} and --json both write to standard output`, `drop --out ${named} to print the JSON, or name a file with --out FILE`);
        o.out = undefined;
      }
      if (o.out !== undefined) {
        const out = o.out = fileInFolder(o.out, 'predictions.csv');
        check(o.csv === STDIN_PATH || !sameFile(out, o.csv), `--out ${out} is the input file`, 'write the predictions to another file');
        check(!sameFile(out, o.model), `--out ${out} is the model file`, 'write the predictions to another file');
        removeCreatedOnFailure(dirname(resolve(out))); // (a model or CSV refused below leaves no new folder)
        checkWritableFile(out, { inPlace: true });
      }
      const kernels = useKernelsFirst(o);
      const model = loadModel(o.model);
      const labels = model.config.data?.labels ?? Array.from({ length: model.config.numClasses }, (_, i) => String(i));
      // an existing --out is replaced only where it holds this model's predictions (its header line, with or
      // without --probabilities): a run's files or a data file named by mistake stay
      const headers = ['label', ['label', ...labels].map(cell).join(',')];
      if (o.out !== undefined) {
        checkReplaceable(o.out, Buffer.byteLength(headers[1], 'utf8') + 2, (head) => headers.includes(head.split('\n')[0].replace(/\r$/, '')), {
          problem: `--out ${o.out} exists and does not hold this model's predictions (its first line is not ${headers.map((h) => `'${h}'`).join(' or ')}): writing would replace it`,
          fix: 'write the predictions to another file, or remove that one first',
        });
      }
      const names = model.config.data?.features;
      // (a labelled file, such as the held-out test file train writes, has its label column left out: the one
      // --label-column names, which must hold the model's classes, as eval reads it; else the training data's, where
      // the file has a column more than the features)
      const read = readCsv(o.csv, {
        ...(o.labelColumn !== undefined ? { labelColumn: labelColumnOf(o.labelColumn) } : { labelColumn: null, labelsIfPresent: model.config.data?.labelColumn ?? 'last' }),
        labels, features: model.inputSize, ...(names ? { featureNames: names } : {}), header: o.header,
      });
      warnCsv(read);
      const raw = read.data.x;
      kernels.announce();
      const { classes, probabilities, overflowed } = model.predict(csvInputs(raw, model.config.normalization, csvSource(o.csv)));
      const C = labels.length;
      // (an example whose outputs overflowed has no class: null, an empty cell in the CSV)
      const predicted = Array.from(classes, (c) => (c < 0 ? null : labels[c]));
      const counts = new Array<number>(C).fill(0);
      for (const c of classes) if (c >= 0) counts[c]++;
      const summary = `predicted ${counted(classes.length, 'example')} of ${csvSource(o.csv)}: ` +
        [...labels.map((l, c) => `'${l}' ${counts[c]}`).filter((_, c) => counts[c] > 0), ...(overflowed > 0 ? [`none (overflowed) ${overflowed}`] : [])].join(', ');
      if (overflowed > 0) {
        process.stderr.write(`treegate: warning: the model's outputs overflow on ${overflowed} of the ${classes.length} examples: ` +
          'they have no class (an empty label; null with --json) and NaN probabilities (values far outside what the model was trained on?)\n');
      }
      // six significant digits: what a float32 probability holds, without its float64 tail
      const rows = (c: number) => Array.from(probabilities.data.subarray(c * C, (c + 1) * C), (p) => Number(p.toPrecision(6)));
      const csv = () => [
        ['label', ...(o.probabilities ? labels : [])].map(cell).join(','),
        ...predicted.map((l, i) => [l === null ? '' : cell(l), ...(o.probabilities ? rows(i).map((p) => String(p)) : [])].join(',')),
      ].join('\n') + '\n';
      if (o.out !== undefined) writeFileAtomic(o.out, csv());
      if (o.json) {
        resultsThenSummary(JSON.stringify({
          modelPath: resolve(o.model), csv: csvSource(o.csv, resolve), examples: classes.length, classes: labels, predictions: predicted, overflowed,
          ...(o.probabilities ? { probabilities: predicted.map((_, i) => rows(i)) } : {}),
          ...(o.out !== undefined ? { out: resolve(o.out) } : {}),
        }) + '\n', summary);
      } else if (o.out !== undefined) {
        humanLines(false)(`${summary}; wrote ${o.out}`);
      } else {
        resultsThenSummary(csv(), summary);
      }
    }), 'model', 'csv');
}
