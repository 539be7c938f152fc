#!/usr/bin/env node
/**
 * `npm run check:bundlers`: builds one small app with Vite and with webpack 5, each importing treegate's browser
 * build from the package `npm pack` makes and naming the wasm modules as literal
 * `new URL('treegate/treegate.wasm', import.meta.url)` (and the threads module alike), then checks that each
 * bundler emitted both modules byte for byte and, where Chromium is at /usr/bin/chromium, that the built page loads
 * its module (useWasm resolves) when served plain and cross-origin isolated. Vite builds twice: for the site's root,
 * and with `--base /sub/` for a site served under a path (the module's URL then carries the base); webpack's build
 * is loaded at the root and under /sub/ (its publicPath 'auto' follows the script's URL).
 *
 * It installs the two bundlers, at the versions below, from the npm registry into a temporary folder (not into the
 * project), and the package is unpacked there as node_modules/treegate (its browser build imports no package), so
 * nothing else is installed. It needs dist/ and wasm/*.wasm (`npm ci` or `npm run build`); test/browser/bundlers.test.ts
 * runs it in `npm test` (about 20 s with the bundlers in npm's cache). `--keep` leaves the folder for a look.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const VITE = '8.4.1';
const WEBPACK = '5.113.0';
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CHROMIUM = '/usr/bin/chromium';
const keep = process.argv.includes('--keep');

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

for (const f of ['dist/browser.js', 'wasm/treegate.wasm', 'wasm/treegate-threads.wasm']) {
  if (!existsSync(join(ROOT, f))) {
    console.error(`check-bundlers: ${f} is missing: run npm ci (or npm run build) first`);
    process.exit(2);
  }
}
const modules = Object.fromEntries(['treegate.wasm', 'treegate-threads.wasm'].map((f) => [sha256(readFileSync(join(ROOT, 'wasm', f))), f]));

const dir = mkdtempSync(join(tmpdir(), 'treegate-bundlers-'));
const failures = [];
try {
  // the package as an app installs it, unpacked without its dependencies (the browser build needs none)
  const tgz = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], ROOT).trim().split('\n').pop();
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  console.log(`check-bundlers: installing vite@${VITE} and webpack@${WEBPACK} in ${app}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', `vite@${VITE}`, `webpack@${WEBPACK}`], app);
  // after npm install, which would remove a package it did not install
  mkdirSync(join(app, 'node_modules', 'treegate'));
  run('tar', ['-xzf', join(dir, tgz), '-C', join(app, 'node_modules', 'treegate'), '--strip-components=1'], dir);

  // one literal new URL(…) per module: the form both bundlers resolve through the package's exports
  mkdirSync(join(app, 'src'));
  writeFileSync(join(app, 'src', 'main.js'), `import { useWasm, backend } from 'treegate/browser';
const url = globalThis.crossOriginIsolated
  ? new URL('treegate/treegate-threads.wasm', import.meta.url)
  : new URL('treegate/treegate.wasm', import.meta.url);
useWasm(url).then(() => { document.title = 'ok ' + backend().name + ' ' + url.pathname; },
  (e) => { document.title = 'fail ' + (e && e.message || e); });
`);
  const page = (script) => `<!doctype html><html><head><meta charset="utf-8"><title>pending</title><link rel="icon" href="data:,"></head><body><script type="module" src="${script}"></script></body></html>\n`;
  writeFileSync(join(app, 'index.html'), page('/src/main.js'));
  writeFileSync(join(app, 'webpack.mjs'), `import webpack from 'webpack';
import { resolve } from 'node:path';
webpack({ mode: 'production', target: 'web', devtool: false, entry: './src/main.js',
  output: { path: resolve('dist-webpack'), filename: 'main.js', clean: true } }, (err, stats) => {
  if (err || stats.hasErrors()) { console.error(err ?? stats.toString('errors-only')); process.exit(1); }
  if (stats.hasWarnings()) console.error(stats.toString('errors-warnings'));
});
`);

  const builds = [
    { name: `vite ${VITE}`, out: join(app, 'dist-vite'), build: () => run(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', 'dist-vite', '--logLevel', 'warn'], app) },
    { name: `vite ${VITE} --base /sub/`, base: '/sub/', out: join(app, 'dist-vite-sub'),
      build: () => run(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--base', '/sub/', '--outDir', 'dist-vite-sub', '--logLevel', 'warn'], app) },
    { name: `webpack ${WEBPACK}`, out: join(app, 'dist-webpack'), build: () => {
      const log = run(process.execPath, ['webpack.mjs'], app);
      writeFileSync(join(app, 'dist-webpack', 'index.html'), page('./main.js'));
      return log;
    } },
    // webpack's publicPath 'auto' takes the script's own URL: the same build served under a path
    { name: `webpack ${WEBPACK}, served under /sub/`, base: '/sub/', out: join(app, 'dist-webpack'), build: () => '' },
  ];
  const chromium = existsSync(CHROMIUM) ? createRequire(join(ROOT, 'package.json'))('playwright-core').chromium : null;
  for (const b of builds) {
    const log = b.build().trim();
    if (log) console.log(`${b.name} said:\n${log}`);
    const emitted = [];
    const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.wasm') && emitted.push(join(d, e.name))));
    walk(b.out);
    const found = emitted.map((f) => modules[sha256(readFileSync(f))]).filter(Boolean).sort();
    const both = found.length === 2 && found[0] !== found[1];
    console.log(`${b.name}: emitted ${emitted.length} .wasm file(s)${emitted.length ? ': ' + emitted.map((f) => f.slice(b.out.length + 1)).join(', ') : ''}; ${both ? 'both modules, byte for byte' : 'NOT both modules'}`);
    if (!both) failures.push(`${b.name}: did not emit both modules`);
    if (!chromium) continue;
    for (const isolated of [false, true]) {
      const base = b.base ?? '/';
      const { title, served } = await loadPage(chromium, b.out, isolated, base);
      const want = isolated ? 'treegate-threads.wasm' : 'treegate.wasm';
      // the title ends with the module's URL path: under the base where there is one
      const ok = title.startsWith('ok wasm') && title.includes(` ${base}`) && served.length === 1 && served[0] === want;
      console.log(`${b.name}, page ${isolated ? 'cross-origin isolated' : 'not isolated'}: served ${served.join(', ') || 'no module'}; title "${title}"`);
      if (!ok) failures.push(`${b.name}: the ${isolated ? 'isolated' : 'plain'} page did not load ${want}`);
    }
  }
  if (!chromium) console.log(`check-bundlers: no ${CHROMIUM}: the built pages were not loaded`);
} finally {
  if (keep) console.log(`check-bundlers: left ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`check-bundlers: ${failures.length} failure(s):\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('check-bundlers: both bundlers emitted the wasm modules from literal URLs');

/**
 * Serves `root` over HTTP at the path `base` (with COOP/COEP where `isolated`; 404 outside the base), opens it in
 * headless Chromium, and returns the page's title once useWasm settled and which of treegate's modules the server
 * sent (known by their bytes).
 */
async function loadPage(chromium, root, isolated, base) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const served = [];
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (!pathname.startsWith(base)) {
      res.writeHead(404).end();
      return;
    }
    const path = join(root, pathname.slice(base.length));
    const file = existsSync(path) && statSync(path).isFile() ? path : join(root, 'index.html');
    if (file.endsWith('.wasm')) served.push(modules[sha256(readFileSync(file))] ?? file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream',
      ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}) });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const p = await browser.newPage();
    await p.goto(`http://127.0.0.1:${server.address().port}${base}`);
    await p.waitForFunction(() => document.title !== 'pending', null, { timeout: 30000 }).catch(() => {});
    return { title: await p.title(), served };
  } finally {
    await browser.close();
    server.close();
  }
}
