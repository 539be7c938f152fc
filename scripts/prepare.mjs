#!/usr/bin/env node
/**
 * npm's `prepare` script: `npm run build` (TypeScript → dist/, the wasm modules), which `npm ci` and `npm install`
 * run in a checkout. `npx treegate` in a checkout runs it too: npx does not run a project's own command from the
 * project, so it installs the checkout into its cache as a link and runs the checkout's `prepare` and `install`
 * scripts there, in place, once per checkout path (about 15 s of rebuilding before the command's first line).
 * Under npm exec (npx), where the build's outputs are there, this builds nothing: `npm run build` rebuilds after a
 * change to the sources, as later npx runs, which run no scripts, have always needed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = ['dist/index.js', 'dist/browser.js', 'dist/cli/main.js', 'wasm/treegate.wasm', 'wasm/treegate-threads.wasm'];
if (process.env.npm_command === 'exec' && outputs.every((f) => existsSync(join(root, f)))) process.exit(0);
// the package manager that started this (npm_execpath: npm's script, run by this node; another manager's program,
// such as bun's, run as it is), else the npm on the PATH
const pm = process.env.npm_execpath;
const r = pm && /\.[cm]?js$/.test(pm) ? spawnSync(process.execPath, [pm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync(pm || 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (r.error) console.error(`prepare: could not run npm run build: ${r.error.message}`);
process.exit(r.status ?? 1);
