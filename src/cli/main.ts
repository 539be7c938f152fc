#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { OutOfMemoryError, TreegateError } from '../core/errors.js';
import { evalCommand, inspectCommand } from './evaluate.js';
import { predictCommand } from './predict.js';
import { experimentCommand } from './experiment.js';
import { reportCommand } from './report-command.js';
import { trainCommand } from './train.js';
import { outOfMemoryHint, refuseOppositeFlags, VERSION } from './options.js';
import { sourceStack } from './stack.js';

/** Exit code for every error a user can fix (bad option, bad file, bad data). */
const USAGE_EXIT = 2;

/** package.json, from src/cli and from dist/cli alike */
// commander's messages ("error: unknown option …") in the form of treegate's own
const output = { outputError: (text: string, write: (s: string) => void) => write(text.startsWith('error:') ? `treegate: ${text}` : text) };

const program = new Command('treegate')
  .description('tree-gated conditional computation (Cho & Bengio 2014): train, evaluate, predict with and inspect models, run experiments, render reports')
  .version(VERSION)
  .option('--verbose', 'print stack traces with errors')
  .showHelpAfterError('(run with --help for usage)')
  .configureOutput(output)
  .exitOverride();
for (const c of [trainCommand(), evalCommand(), predictCommand(), inspectCommand(), reportCommand(), experimentCommand()]) {
  program.addCommand(refuseOppositeFlags(c).exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput(output));
}

/**
 * An allocation the machine refused (a typed array, a wasm memory): the run asks for more memory than this
 * process may have, which the user fixes with smaller settings, not a bug.
 */
function isOutOfMemory(e: unknown): boolean {
  return e instanceof RangeError && /Array buffer allocation failed|could not allocate memory|Out of memory/i.test(e.message);
}

// a failed write of the messages (a reader of `2>&1 | head` gone) has nowhere to be told: the run goes on without them
process.stderr.on('error', () => {});
// a failed write of the results is an error (a full disk), except a reader that has gone (`| head`): then stop quietly
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  process.stderr.write(`treegate: error: cannot write to standard output: ${e.message}\n`);
  process.exit(USAGE_EXIT);
});

const verbose = process.argv.includes('--verbose');
// `treegate help NAME` or `treegate NAME --help` of no command: commander would print the main help and exit 0
const words = process.argv.slice(2).filter((a) => a !== '--verbose');
const asked = words[0] === 'help' ? words[1] : words[0];
if (asked !== undefined && asked !== 'help' && !asked.startsWith('-') && !program.commands.some((c) => c.name() === asked)) {
  process.stderr.write(`treegate: error: unknown command '${asked}' (the commands: ${program.commands.map((c) => c.name()).join(', ')})\n`);
  process.exit(USAGE_EXIT);
}
// `treegate help help`: commander prints the main help as an error (stderr, exit 1); it is a request for help
if (words[0] === 'help' && words[1] === 'help') {
  program.outputHelp();
  process.exit(0);
}
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has printed its message already; help and version exit 0. `npm start --out DIR` gives npm the
    // option and treegate its value: an argument train does not take (in treegate's own checkout: a project whose
    // start script runs treegate has its own way of passing options)
    if (e.code === 'commander.excessArguments' && process.env.npm_lifecycle_event === 'start' && process.env.npm_package_name === 'treegate') {
      process.stderr.write('treegate: npm reads the options before -- as its own: pass treegate\'s after it, e.g. npm start -- --out DIR\n');
    }
    process.exit(e.exitCode === 0 ? 0 : USAGE_EXIT);
  }
  if (e instanceof OutOfMemoryError || isOutOfMemory(e)) {
    process.stderr.write(`treegate: error: out of memory: ${e instanceof OutOfMemoryError ? `${e.problem}: ` : ''}the model or data do not fit in the memory ` +
      `this process may use (${outOfMemoryHint(words)})\n`);
    if (verbose) process.stderr.write(`${sourceStack(String((e as Error).stack))}\n`);
    process.exit(USAGE_EXIT);
  }
  if (e instanceof TreegateError) {
    process.stderr.write(`treegate: error: ${e.message}\n`);
    if (verbose) process.stderr.write(`${sourceStack(String(e.stack))}\n`);
    process.exit(USAGE_EXIT);
  }
  process.stderr.write(`treegate: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (verbose) process.stderr.write(`${e instanceof Error ? sourceStack(String(e.stack)) : ''}\n`);
  else process.stderr.write('(run with --verbose for the stack trace; this is a bug, please report it)\n');
  process.exit(1);
}
