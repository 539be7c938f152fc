/**
 * Spawning the `treegate` CLI from the repository root for the end-to-end tests (CLI_ARGS: the compiled CLI where it
 * is fresh, else src/cli/main.ts under tsx), with a temporary folder per file.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI_ARGS, ROOT } from '../cli-command.js';

export { CLI_ARGS, ROOT };

const TMP = mkdtempSync(join(tmpdir(), 'treegate-cli-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

let tmpCount = 0;
export function tmp(name: string): string {
  return join(TMP, `${++tmpCount}-${name}`);
}

export interface CliResult { status: number | null; stdout: string; stderr: string }

export function cli(...args: string[]): CliResult {
  return cliEnv({}, ...args);
}

export function cliEnv(env: Record<string, string>, ...args: string[]): CliResult {
  return cliWith({ env }, ...args);
}

/** The CLI with `input` on its standard input (piped, then closed). */
export function cliStdin(input: string | Uint8Array, ...args: string[]): CliResult {
  return cliWith({ input }, ...args);
}

function cliWith(o: { env?: Record<string, string>; input?: string | Uint8Array }, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [...CLI_ARGS, ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...o.env },
    ...(o.input !== undefined ? { input: o.input } : {}),
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** How the CLI's hints name the command that started it here (`treegateCommand`): node, its flags and the script. */
export const HINT_CLI = ['node', ...CLI_ARGS].join(' ');

/** A command line a hint printed, run by the shell in the repository root (as a user pastes it). */
export function shellLine(line: string): CliResult {
  const r = spawnSync('sh', ['-c', line], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI as a child process that the test can signal. */
export function cliChild(env: Record<string, string>, ...args: string[]): ChildProcess {
  return spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd: ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function describeRun(r: CliResult): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The JSON object of a --json run: stdout must hold it alone (the lines for people go to stderr). */
export function lastJson(r: CliResult): Record<string, any> {
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1, `stdout holds the JSON object alone: ${r.stdout.slice(0, 300)}`);
  return JSON.parse(lines[0]) as Record<string, any>;
}

/** Exit code 2, nothing on stdout, exactly one error line on stderr (the first) matching `re`, no stack trace. */
export function expectUsageError(args: string[], re: RegExp): CliResult {
  const r = cli(...args);
  assert.equal(r.status, 2, `${args.join(' ')}: ${describeRun(r)}`);
  assert.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /^(treegate: )?error: /.test(l));
  assert.equal(errors.length, 1, `${args.join(' ')}: one error line: ${r.stderr}`);
  assert.equal(lines[0], errors[0], `${args.join(' ')}: the error comes first: ${r.stderr}`);
  assert.match(errors[0], re, `${args.join(' ')}`);
  assert.ok(!r.stderr.includes('    at '), `${args.join(' ')}: no stack trace: ${r.stderr}`);
  assert.ok(!/internal error/.test(r.stderr), r.stderr);
  return r;
}

/** `s` as a regular expression that matches it literally (a path in an expected message). */
export function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A CSV file of `rows` examples: the class first (three, named), then five features around a centre of its class;
 * seeded, so that every test reads the same file.
 */
export function blobsCsv(path: string, rows = 300, seed = 1): string {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const lines = ['kind,a,b,c,d,e'];
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    lines.push([`class${c}`, ...[0, 1, 2, 3, 4].map((j) => (c * (j % 2 ? 1 : -1) + (next() - 0.5) * 3).toFixed(3))].join(','));
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
