import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { check, TreegateError } from '../core/errors.js';
import type { Matrix } from '../core/tensor.js';
import { coarseWarning, decimal, type CsvData } from '../data/csv.js';
import { isStreamPath, STDIN_PATH } from '../data/csv-file.js';
import { normalizeInputs, type Normalization } from '../data/dataset.js';
import type { CsvSource } from '../data/prepare.js';
import { isFolder } from '../io/atomic.js';
import type { Backend } from '../kernels/backend.js';
import { selectBackend, setThreads, threadCount, type BackendChoice } from '../kernels/select.js';

/** treegate's version, package.json's (`--version`, and what an experiment's results record). */
export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Exit codes of a run stopped by a signal (train, experiment): 128 + the signal number, as shells report it. */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Commander argument parsers that reject bad values with a message naming the fix: an integer in [min, max]. */
export function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`}.`);
    }
    return n;
  };
}

/** A number in [min, max] (above min where `exclusiveMin`). */
export function num(min: number, max = Infinity, exclusiveMin = false) {
  return (v: string): number => {
    const n = decimal(v.trim());
    if (!Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max) {
      throw new InvalidArgumentError(`expected a finite number ${exclusiveMin ? '>' : '≥'} ${min}${max === Infinity ? '' : ` and ≤ ${max}`}.`);
    }
    return n;
  };
}

/** Comma-separated integers ≥ min, or "none" for an empty list; `example` shows one in the error. */
export function intList(min: number, example: string) {
  return (v: string): number[] => {
    if (v.trim() === 'none') return [];
    if (v.trim() === '') throw new InvalidArgumentError(`expected integers ≥ ${min}, comma-separated, or none.`);
    const parse = int(min);
    try {
      return v.split(',').map((s) => parse(s.trim()));
    } catch {
      throw new InvalidArgumentError(`expected integers ≥ ${min}, comma-separated (like ${example}), or none.`);
    }
  };
}

/** Comma-separated integers in [min, max], each once, at least one (--depths 0,2,4); `example` shows a list in the error. */
export function distinctInts(min: number, max: number, example: string) {
  return (v: string): number[] => {
    const parse = int(min, max);
    let ns: number[];
    try {
      ns = v.split(',').map((s) => parse(s.trim()));
    } catch {
      throw new InvalidArgumentError(`expected integers in [${min}, ${max}], comma-separated (like ${example}).`);
    }
    const twice = ns.find((n, i) => ns.indexOf(n) !== i);
    if (twice !== undefined) throw new InvalidArgumentError(`${twice} is given twice: give each value once.`);
    return ns;
  };
}

/** One rule of rejectIdle: `options` (attribute names) have no effect unless `applies`; `why` and `fix` explain. */
export interface IdleRule { options: string[]; applies: boolean; why: string; fix: string }

/**
 * Rejects options given on the command line that would change nothing (`--momentum` with `--optimizer adam`):
 * silently ignoring them would leave the user believing they took effect. Defaults are never rejected.
 */
export function rejectIdle(cmd: Command, rules: IdleRule[]): void {
  for (const r of rules) {
    if (r.applies) continue;
    // (the flag as given: --no-header where an option has both forms and its value is false)
    const flag = (name: string): string => {
      const forms = cmd.options.filter((opt) => opt.attributeName() === name);
      return (forms.find((opt) => opt.negate === (cmd.getOptionValue(name) === false)) ?? forms[0])?.long ?? name;
    };
    const idle = r.options.filter((name) => cmd.getOptionValueSource(name) === 'cli').map(flag);
    if (idle.length > 0) throw new TreegateError(`${idle.join(', ')} ${idle.length > 1 ? 'have' : 'has'} no effect ${r.why}`, r.fix);
  }
}

/** A file or folder option: an empty one (an unset variable in a script) is an error, not the current folder. */
export function pathArg(v: string): string {
  if (v.trim() === '') throw new InvalidArgumentError('expected a path, not an empty string.');
  // `--out --json` (the value left out) would otherwise write to a folder named --json
  if (/^--[a-z]/i.test(v)) throw new InvalidArgumentError(`expected a path, not an option (was the value left out?); write ./${v} for a file so named.`);
  return v;
}

/**
 * A file option's value that names a folder, as for cp: one that ends with a path separator (`--out pages/`; the
 * folder is made if missing) or an existing folder. The file goes in it, under `name` (the command's default file
 * name). Else the value.
 */
export function fileInFolder(v: string, name: string): string {
  return v.endsWith('/') || v.endsWith(sep) || isFolder(v) ? join(v, name) : v;
}

/** The CSV flags of the commands that train on a file (train, experiment): --csv, --test-csv, --label-column, --header. */
export interface CsvFlags { csv?: string; testCsv?: string; labelColumn?: string; header?: boolean }

/** --label-column: a header name, or a column number from 1 (kept as given: checkpoints save the options as typed). */
export function labelColumnArg(v: string): string {
  if (/^\d+$/.test(v) ? Number(v) < 1 || !Number.isSafeInteger(Number(v)) : v.trim() === '') throw new InvalidArgumentError('expected a header name or a column number from 1 (1 is the first column)');
  return v;
}

/**
 * --csv and --test-csv name files that `command` reads again (to resume, and an experiment once per seed) and
 * records: standard input and pipes, which can be read once, are refused.
 */
export function refuseStreamInputs(o: CsvFlags, command: string, why: string): void {
  for (const [flag, input] of [['--csv', o.csv], ['--test-csv', o.testCsv]] as const) {
    check(input === undefined || !isStreamPath(input),
      `${flag} ${input === STDIN_PATH ? '- (standard input)' : `${input} (a pipe or device)`} is not read by ${command}: ${why}`,
      `save the data to a file and name it with ${flag} FILE`);
  }
}

/** A --label-column as the CSV reader takes it: a number counts from 1 there, from 0 here; a name (or last) as it is. */
export function labelColumnOf(v: string): number | string {
  return /^\d+$/.test(v) ? Number(v) - 1 : v;
}

/** The CSV flags as prepareData reads them (a --label-column number counts from 1, PrepareOptions' labelColumn from 0); undefined without --csv. */
export function csvOptions(o: CsvFlags): CsvSource | undefined {
  if (o.csv === undefined) return undefined;
  return {
    csv: o.csv, ...(o.testCsv === undefined ? {} : { testCsv: o.testCsv }), ...(o.header ? { header: true } : {}),
    ...(o.labelColumn === undefined ? {} : { labelColumn: labelColumnOf(o.labelColumn) }),
  };
}

export function choice<T extends string>(...values: T[]) {
  return (v: string): T => {
    if (!(values as string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return v as T;
  };
}

/** The kernel options every command that computes takes: --backend and --threads. */
export interface KernelOptions { backend: BackendChoice; threads?: number }

export function backendOption(): Option {
  return new Option('--backend <name>', 'kernels: auto (native, else wasm, else js) | native | wasm | js')
    .argParser(choice<BackendChoice>('auto', 'native', 'wasm', 'js')).default('auto');
}

/**
 * --header and --no-header of the commands that read a model's CSV file (eval, predict, inspect): whether its first
 * line is the header; without either, it is where none of its feature cells is a number, or where it holds the
 * model's feature names and one of them is not a number or, in eval's and inspect's labelled file, its label cell is
 * none of the model's classes (names that are all numbers must be told otherwise).
 */
export function headerOption(header: boolean): Option {
  return header ? new Option('--header', '--csv: the first line is the header (needed where the column names are numbers, such as years)')
    : new Option('--no-header', '--csv: the first line is an example');
}

/**
 * An option given in both its forms (--header and --no-header) on one command line is an error: commander would take
 * the last, so that the line's meaning hung on the order of two flags that contradict each other.
 */
export function refuseOppositeFlags(cmd: Command): Command {
  const given = new Map<string, Set<string>>();
  for (const o of cmd.options) {
    if (!cmd.options.some((other) => other !== o && other.attributeName() === o.attributeName())) continue;
    cmd.on(`option:${o.name()}`, () => {
      const forms = given.get(o.attributeName()) ?? new Set<string>();
      given.set(o.attributeName(), forms.add(o.long!));
      if (forms.size > 1) throw new TreegateError(`${[...forms].join(' and ')} contradict each other`, 'give one of them');
    });
  }
  return cmd;
}

export function threadsOption(): Option {
  return new Option('--threads <n>', 'threads of the native and wasm kernels (default: the cores this process may use, its CPU affinity and container quota; js runs on one)').argParser(int(1, 64));
}

/**
 * useKernels before a command makes or loads its model (whose arrays are then made where the kernels run
 * fastest), with what it has to say held back until announce(): once the command's inputs are checked, so that
 * an error about them is the first line.
 */
export function useKernelsFirst(o: KernelOptions): { backend: Backend; threads: number; announce(): void } {
  const lines: string[] = [];
  const r = useKernels(o, (line) => lines.push(line));
  return { ...r, announce: () => { for (const line of lines.splice(0)) process.stderr.write(line + '\n'); } };
}

/**
 * Selects the kernels the options ask for, and their threads; says in one line where --threads cannot be
 * honored (another backend, or more threads than the machine runs). Returns the backend and its threads.
 */
function useKernels(o: KernelOptions, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): { backend: Backend; threads: number } {
  // an option that would have no effect is an error (README): js asked for by name runs on one thread
  check(!(o.backend === 'js' && o.threads !== undefined && o.threads > 1), `--threads ${o.threads} has no effect with --backend js, which runs on one thread`,
    'drop --threads, or choose --backend native or wasm');
  const backend = selectBackend(o.backend, log);
  if (o.threads !== undefined) {
    const got = setThreads(o.threads);
    if (backend.name === 'js') {
      if (o.threads > 1) log(`treegate: --threads ${o.threads} applies to the native and wasm backends; the js backend runs on one thread`);
    } else if (got < o.threads) {
      log(`treegate: --threads ${o.threads}: this process may run the ${backend.name} kernels on at most ${got} thread${got > 1 ? 's' : ''} (its CPUs and container quota)`);
    }
  }
  return { backend, threads: threadCount() };
}

/**
 * What to do about running out of memory, by command: a new training run can be made smaller; a resumed one cannot
 * (its options are the run's); eval, predict and inspect read the model they are given.
 */
export function outOfMemoryHint(args: readonly string[]): string {
  const command = args.find((a) => !a.startsWith('-'));
  if (command === 'train' && args.includes('--resume')) {
    return 'a resumed run needs what its training needed: the weights, their gradients and the optimizer state ' +
      '(with adam, four arrays of the weights\' size); resume it where more memory is free';
  }
  if (command === 'eval' || command === 'predict' || command === 'inspect') {
    return `the model does not fit: run ${command} where more memory is free${command === 'predict' ? ', or on a smaller --csv file' : ''}`;
  }
  // (speed's layers grow with --width, its batches with --batch, and every experiment's models with --depths;
  // quick mode's have the same deepest tree)
  if (command === 'experiment' && args.includes('--resume')) {
    return 'a resumed experiment keeps the settings it was started with: resume it where more memory is free, or start a smaller one';
  }
  if (command === 'experiment') {
    return `run the experiment where more memory is free, or with --quick${args.includes('speed') ? ', a lower --width or --batch' : ''}` +
      ', or shallower --depths';
  }
  return 'lower --hidden, --depth, --experts, --batch-size or --examples, or use --limit';
}

/**
 * A treegate command line as this process was started, for the hints that say what to run next (`treegate train
 * --resume DIR`): `npx treegate` under npx or from a project's node_modules/.bin, `treegate` from a global install,
 * else node with its flags and this script's path (a clone's dist/cli/main.js), which works from any folder.
 * Arguments are quoted for a POSIX shell (sh, bash, zsh).
 */
export function treegateCommand(...args: string[]): string {
  const script = process.argv[1] ?? 'treegate';
  // a project's node_modules/.bin is on the PATH of npm's scripts only: npx finds it from the project's folders
  const start = process.env.npm_command === 'exec' || /[\\/]node_modules[\\/]\.bin[\\/]/.test(script) ? ['npx', 'treegate']
    : script.split(/[\\/]/).pop() === 'treegate' ? ['treegate'] : ['node', ...process.execArgv, script];
  return [...start, ...args].map(shellWord).join(' ');
}

/** `s` as one word of a POSIX shell command: as it is where that is safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * Where a command's lines for people go: stdout, or stderr under --json, so that stdout holds the JSON object alone
 * (`treegate train --json | jq .testAccuracy`).
 */
export function humanLines(json: boolean | undefined): (line: string) => void {
  return json ? (line) => process.stderr.write(line + '\n') : (line) => process.stdout.write(line + '\n');
}

/**
 * Writes `text` (the results) to standard output, then `line` (the summary) to stderr once they are written: a
 * failed write (a full disk) is an error after which no line may say the results were given.
 */
export function resultsThenSummary(text: string, line: string): void {
  process.stdout.write(text, (e) => { if (!e) process.stderr.write(line + '\n'); });
}

/**
 * Marks options as required, checked once commander has parsed the line: its own required options are checked
 * before unknown ones, so a misspelt `--modle x` read "required option '--model <path>' not specified".
 */
export function requireOptions(cmd: Command, ...attributes: string[]): Command {
  return cmd.hook('preAction', (c) => {
    for (const a of attributes) {
      const option = c.options.find((o) => o.attributeName() === a);
      if (c.getOptionValue(a) === undefined) c.error(`error: required option '${option?.flags ?? a}' not specified`);
    }
  });
}

/**
 * Says on stderr what the reader of a CSV file read for eval, inspect or predict warns of (its `warnings`), and which
 * of its columns float32 keeps too coarsely (coarseWarning), if any.
 */
export function warnCsv(read: CsvData): void {
  const coarse = coarseWarning(read.data.name, read.coarse, false);
  for (const w of [...read.warnings, ...(coarse ? [coarse] : [])]) process.stderr.write(`treegate: warning: ${w}\n`);
}

/**
 * A CSV file's raw features as the model takes them (normalizeInputs), for eval, inspect and predict. Where the model
 * scales its raw inputs down tenfold or more (an MNIST model's 1/255) and every value of the file lies in [0, 1] already, says so on
 * stderr: values scaled before would be scaled twice, and the accuracy or predictions would be quietly wrong.
 */
export function csvInputs(raw: Matrix, norm: Normalization | undefined, source: string): Matrix {
  if (norm && norm.scale <= 0.1 && raw.data.length > 0) {
    let lo = Infinity, hi = -Infinity;
    for (const v of raw.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo >= 0 && hi <= 1 && hi > 0) {
      process.stderr.write(`treegate: warning: every value of ${source} lies in [0, 1], but the model multiplies its raw inputs by ${norm.scale} ` +
        `(it was trained on values up to about ${Number((1 / norm.scale).toPrecision(6))}, such as pixel bytes 0–255): if these were scaled ` +
        'already, give the unscaled values\n');
    }
  }
  return normalizeInputs(raw, norm, (row, col) => `${source}: example ${row + 1}, column ${col + 1}`);
}
