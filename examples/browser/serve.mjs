#!/usr/bin/env node
// Builds the browser example (esbuild bundles main.ts, which imports treegate as an app would, through the
// package's "browser" export) into examples/browser/dist with index.html and treegate-threads.wasm, then serves
// that folder with the headers that make the page cross-origin isolated, so that the kernels run on web workers:
//   npm run build && npm run example:browser      (then open http://127.0.0.1:8080)
//   node examples/browser/serve.mjs --port 9000
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

/** The page, its script and the wasm module in `out`. */
export async function buildExample(out = join(HERE, 'dist')) {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(HERE, 'main.ts')], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
    outfile: join(out, 'app.js'), logLevel: 'warning', absWorkingDir: ROOT,
  });
  copyFileSync(join(HERE, 'index.html'), join(out, 'index.html'));
  copyFileSync(join(ROOT, 'build', 'treegate-threads.wasm'), join(out, 'treegate-threads.wasm'));
  return out;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves the three files of `dir`, cross-origin isolated; resolves with the server once it listens. */
export function serveExample(dir, port = 8080, host = '127.0.0.1') {
  const server = createServer((req, res) => {
    const name = req.url === '/' ? 'index.html' : (req.url ?? '').slice(1);
    if (name === 'favicon.ico') {
      res.writeHead(204).end(); // none, and no 404 in the console
      return;
    }
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (!['index.html', 'app.js', 'treegate-threads.wasm'].includes(name) || !type) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': type,
      // shared memory for the web workers: the page must be cross-origin isolated
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp',
    }).end(readFileSync(join(dir, name)));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node examples/browser/serve.mjs [--port N]   (N: 0–65535, default 8080)');
    process.exit(2);
  }
  try {
    const dir = await buildExample();
    const server = await serveExample(dir, port);
    console.log(`treegate browser example: http://127.0.0.1:${server.address().port}/ (Ctrl-C stops)`);
  } catch (e) {
    console.error(`example:browser: ${e.code === 'EADDRINUSE' ? `port ${port} is in use; pass --port N` : e.message}`);
    if (e.code !== 'EADDRINUSE') console.error('example:browser: `npm run build` makes what the example needs (dist/, build/treegate-threads.wasm)');
    process.exit(1);
  }
}
