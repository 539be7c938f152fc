#!/usr/bin/env node
// Builds the browser example (esbuild bundles main.ts, which imports treegate as an app would, through the
// package's "browser" export) into examples/browser/dist with index.html and both wasm modules, then serves
// that folder with the headers that make the page cross-origin isolated, so that the kernels run on web workers.
// It bundles dist/ (what `npm ci` and `npm run build` make), not src/:
//   npm run example:browser                  (then open http://127.0.0.1:8080/)
//   npm run example:browser -- --port 9000
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const FILES = ['index.html', 'app.js', 'treegate-threads.wasm', 'treegate.wasm'];
const ROOT = join(HERE, '..', '..');

/** The page, its script and the wasm module in `out`. */
export async function buildExample(out = join(HERE, 'dist')) {
  mkdirSync(out, { recursive: true });
  const { build } = await import('esbuild'); // a devDependency: loaded here so that a missing one gets the hint below
  await build({
    entryPoints: [join(HERE, 'main.ts')], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
    outfile: join(out, 'app.js'), logLevel: 'warning', absWorkingDir: ROOT,
  });
  copyFileSync(join(HERE, 'index.html'), join(out, 'index.html'));
  // the threads module for a cross-origin isolated page, the one-thread module for any other
  for (const f of FILES.slice(2)) copyFileSync(join(ROOT, 'wasm', f), join(out, f));
  return out;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves the page's files from `dir`, cross-origin isolated unless told not to; resolves with the server once it listens. */
export function serveExample(dir, port = 8080, { host = '127.0.0.1', isolated = true } = {}) {
  const server = createServer((req, res) => {
    let path;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname; // without a query or a fragment
    } catch {
      res.writeHead(400).end();
      return;
    }
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (name === 'favicon.ico') {
      res.writeHead(204).end(); // none, and no 404 in the console
      return;
    }
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (!FILES.includes(name) || !type) {
      res.writeHead(404).end();
      return;
    }
    // shared memory for the web workers: the page must be cross-origin isolated
    const isolation = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
    res.writeHead(200, { 'content-type': type, ...isolation }).end(readFileSync(join(dir, name)));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      server.on('error', (e) => console.error(`example:browser: ${e.message}`)); // a later error is reported, not fatal
      ok(server);
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const usage = 'usage: npm run example:browser -- [--port N] [--no-isolation]   (N: a whole number in 0–65535, default 8080; 0 picks a free one;\n' +
    '  --no-isolation serves the page without the two headers of cross-origin isolation: one thread, treegate.wasm)';
  let port, isolated;
  try {
    const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, 'no-isolation': { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) throw new Error(`--port ${JSON.stringify(values.port)} is not a port`);
    port = Number(values.port);
    isolated = !values['no-isolation'];
  } catch (e) {
    console.error(`example:browser: ${e.message}\n${usage}`);
    process.exit(2);
  }
  try {
    const dir = await buildExample();
    const server = await serveExample(dir, port, { isolated });
    console.log(`treegate browser example: http://127.0.0.1:${server.address().port}/ (${isolated ? 'cross-origin isolated: web workers' : 'not isolated: one thread'}; Ctrl-C stops)`);
  } catch (e) {
    console.error(`example:browser: ${e.code === 'EADDRINUSE' ? `port ${port} is in use; pass --port N` : e.message}`);
    if (e.code !== 'EADDRINUSE') console.error('example:browser: `npm ci` installs esbuild and builds what the example needs (dist/, wasm/*.wasm); after editing src/, `npm run build`');
    process.exit(1);
  }
}
