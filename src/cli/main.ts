#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { TreegateError } from '../core/errors.js';
import { evalCommand, inspectCommand } from './evaluate.js';
import { experimentCommand } from './experiment.js';
import { reportCommand } from './report-command.js';
import { trainCommand } from './train.js';

/** Exit code for every error a user can fix (bad option, bad file, bad data). */
const USAGE_EXIT = 2;

const program = new Command('treegate')
  .description('tree-gated conditional computation (Cho & Bengio 2014): train, evaluate and inspect models, run experiments, render reports')
  .version('0.1.0')
  .option('--verbose', 'print stack traces with errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
for (const c of [trainCommand(), evalCommand(), inspectCommand(), reportCommand(), experimentCommand()]) {
  program.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
}

const verbose = process.argv.includes('--verbose');
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander has printed its message already; help and version exit 0
    process.exit(e.exitCode === 0 ? 0 : USAGE_EXIT);
  }
  if (e instanceof TreegateError) {
    process.stderr.write(`treegate: error: ${e.message}\n`);
    if (verbose) process.stderr.write(`${e.stack}\n`);
    process.exit(USAGE_EXIT);
  }
  process.stderr.write(`treegate: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (verbose) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
  else process.stderr.write('(run with --verbose for the stack trace; this is a bug, please report it)\n');
  process.exit(1);
}
