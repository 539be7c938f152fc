/// <reference lib="dom" />
/**
 * treegate in a browser, as a web developer uses it: an app that imports `treegate` is bundled by
 * esbuild for the browser (so the package's "browser" export condition picks dist/browser.js), served
 * over HTTP with the package's treegate.wasm, and run in headless Chromium (Debian's `chromium`,
 * which .ci/run installs; driven by playwright-core). The page loads the wasm backend from its URL,
 * trains a small tree-gated model, and round-trips it through the model and checkpoint codecs; the
 * same scenario run in Node on the same backend must give the same model bytes. A bundle that reaches
 * for a Node built-in, an export map that points the browser at the Node build, or a useWasm that
 * cannot fetch its module fails here. A second page, cross-origin isolated, loads treegate-threads.wasm: its
 * kernels run on web workers (one product's parts run there, with the bits of one thread) and the model bytes are
 * the same; the same page without isolation runs on one thread.
 *
 * Without /usr/bin/chromium the page check is skipped on a developer machine and fails under CI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Page } from 'playwright-core';
import { underCI } from '../ci.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : underCI ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
const APP = mkdtempSync(join(tmpdir(), 'treegate-app-'));

// The scenario, one module for the page and for Node: given the package and where its wasm module is,
// load the backend, train, save and load, and report what happened (the model as a SHA-256 of its bytes).
const SCENARIO = `
export async function scenario(tg, wasmSource) {
  const errors = {};
  try { await tg.useWasm('no-such-file.wasm'); } catch (e) { errors.missing = String(e.message); }
  const be = await tg.useWasm(wasmSource);
  const rng = new tg.Rng(4), N = 256, D = 8;
  const x = new Float32Array(N * D).map(() => rng.normal());
  const y = Int32Array.from({ length: N }, (_, i) => (x[i * D] > 0 ? 1 : 0));
  const model = new tg.Model(tg.mlpConfig({ inputSize: D, numClasses: 2, hidden: [16], treeLayers: [2], depth: 2, gating: 'projection' }), rng.fork());
  const data = { x: tg.matrix(N, D, x), y };
  const trainer = new tg.Trainer(model, data, null, { epochs: 5, batchSize: 32, lr: 0.01, schedule: 'constant', optimizer: { kind: 'adam' } }, rng.fork());
  while (!trainer.done) trainer.step();
  const history = trainer.progress.history;
  const bytes = tg.encodeModel(model);
  const again = tg.decodeModel(bytes, 'memory');
  const ckpt = tg.decodeCheckpoint(tg.encodeCheckpoint(model, trainer.optimizer, { progress: trainer.snapshot(), options: {}, metrics: [], extra: {} }), 'memory');
  try { model.evaluate(tg.matrix(2, D + 1, new Float32Array(2 * (D + 1))), new Int32Array(2)); } catch (e) { errors.shape = e.name + ': ' + e.message; }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return {
    backend: be.name, current: tg.backend().name,
    loss0: history[0].trainLoss, loss4: history[4].trainLoss, accuracy: model.evaluate(data.x, y).accuracy,
    sameConfig: JSON.stringify(again.toConfig()) === JSON.stringify(model.toConfig()),
    checkpointStep: ckpt.run.progress.step,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
    errors,
  };
}
`;

// The threads page's script: the scenario on the shared-memory module, then, where the page is cross-origin isolated,
// a new backend on 2 threads whose web worker is up when useWasm resolves (web workers start only once the page
// yields: a long synchronous call right after would otherwise run on the page's thread alone), and a product on 1
// and on 2 threads (until the workers have run a part of one).
const THREADS = `
(async () => {
  const r = await scenario(tg, 'treegate-threads.wasm');
  if (!crossOriginIsolated) {
    // threads asked for where no web worker can share the memory: a warning, and one thread
    const warnings = [], warn = console.warn;
    console.warn = (...a) => { warnings.push(a.join(' ')); };
    await tg.useWasm('treegate-threads.wasm', { threads: 2 });
    // the threads module with no thread count is how a page asks for threads: said too
    await tg.useWasm('treegate-threads.wasm');
    // a page that is no secure context (plain http from a LAN address) has its isolation headers ignored: said
    Object.defineProperty(window, 'isSecureContext', { value: false, configurable: true });
    await tg.useWasm('treegate-threads.wasm');
    delete window.isSecureContext;
    console.warn = warn;
    r.warnings = warnings;
    r.threads = { maxThreads: tg.backend().info().maxThreads };
    window.result = r;
    return;
  }
  const rng = new tg.Rng(9), M = 256, N = 512, K = 512;
  const a = new Float32Array(M * K).map(() => rng.normal()), w = new Float32Array(N * K).map(() => rng.normal());
  const one = new Float32Array(M * N), two = new Float32Array(M * N);
  // the plain module given threads: said, and one thread
  const warnings = [], warn = console.warn;
  console.warn = (...a) => { warnings.push(a.join(' ')); };
  await tg.useWasm('../treegate.wasm', { threads: 2 });
  console.warn = warn;
  r.plainModule = { warnings, maxThreads: tg.backend().info().maxThreads };
  // a browser that refuses shared memories past 512 MiB (as iOS Safari has refused 2 GiB): a smaller one, and a warning
  const Memory = WebAssembly.Memory, smallWarnings = [];
  WebAssembly.Memory = function (d) {
    if (d.shared && d.maximum > 8192) throw new RangeError('Out of memory');
    return new Memory(d);
  };
  console.warn = (...a) => { smallWarnings.push(a.join(' ')); };
  try {
    const small = await tg.useWasm('treegate-threads.wasm', { threads: 2 });
    r.smallMemory = { warnings: smallWarnings, memoryLimit: small.info().memoryLimit, maxThreads: small.info().maxThreads };
  } finally {
    console.warn = warn;
    WebAssembly.Memory = Memory;
  }
  const fresh = await tg.useWasm('treegate-threads.wasm', { threads: 2 });
  const beforeYield = fresh.info().workersUp;
  const be = tg.backend();
  be.setThreads(1);
  be.gemmNT(M, N, K, a, 0, w, 0, one, 0, false);
  be.setThreads(2);
  for (let i = 0; i < 200 && be.info().workerParts === 0; i++) {
    be.gemmNT(M, N, K, a, 0, w, 0, two, 0, false);
    await new Promise((ok) => setTimeout(ok, 20));
  }
  be.gemmNT(M, N, K, a, 0, w, 0, two, 0, false);
  r.threads = { maxThreads: be.info().maxThreads, workerParts: be.info().workerParts, beforeYield, same: one.every((v, i) => Object.is(v, two[i])) };
  window.result = r;
})().catch((e) => { window.result = { failed: String(e && e.stack || e) }; });
`;

// A page whose Content-Security-Policy refuses blob: workers (/strict/), and one that refuses WebAssembly (/no-wasm/):
// useWasm says so (a console warning and one thread, where it waited 10 s and went on as if on two; an error naming
// the policy, where it blamed the build); and a server's HTML page where the module should be is named as one.
const STRICT = `
(async () => {
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => { warnings.push(a.join(' ')); warn(...a); };
  const r = { warnings };
  try { await tg.useWasm('missing-page.wasm'); } catch (e) { r.htmlError = String(e.message); }
  try {
    const be = await tg.useWasm('treegate-threads.wasm', { threads: 2 });
    r.info = be.info();
    const a = new Float32Array(64 * 64).fill(1), c = new Float32Array(64 * 64);
    be.gemmNT(64, 64, 64, a, 0, a, 0, c, 0, false);
    r.product = c[0];
  } catch (e) { r.loadError = String(e.message); }
  window.result = r;
})().catch((e) => { window.result = { failed: String(e && e.stack || e) }; });
`;

let server: Server | null = null;
let base = '';

before(async () => {
  // the app: node_modules/treegate is this repository (built by npm test's build step), as npm would link it
  mkdirSync(join(APP, 'node_modules'));
  symlinkSync(ROOT, join(APP, 'node_modules', 'treegate'), 'dir');
  writeFileSync(join(APP, 'scenario.mjs'), SCENARIO);
  writeFileSync(join(APP, 'main.mjs'), `import * as tg from 'treegate';\nimport { scenario } from './scenario.mjs';\n` +
    `scenario(tg, 'treegate.wasm').then((r) => { window.result = r; }, (e) => { window.result = { failed: String(e && e.stack || e) }; });\n`);
  writeFileSync(join(APP, 'index.html'), '<!doctype html><html><body><script type="module" src="app.js"></script></body></html>');
  // the threads page: the same scenario on treegate-threads.wasm, then one product split between threads
  writeFileSync(join(APP, 'main-threads.mjs'), `import * as tg from 'treegate';\nimport { scenario } from './scenario.mjs';\n${THREADS}`);
  writeFileSync(join(APP, 'threads.html'), '<!doctype html><html><body><script type="module" src="app-threads.js"></script></body></html>');
  writeFileSync(join(APP, 'main-strict.mjs'), `import * as tg from 'treegate';\n${STRICT}`);
  writeFileSync(join(APP, 'strict.html'), '<!doctype html><html><body><script type="module" src="app-strict.js"></script></body></html>');
  const wasm = readFileSync(join(ROOT, 'wasm/treegate.wasm')), threadsWasm = readFileSync(join(ROOT, 'wasm/treegate-threads.wasm'));
  server = createServer((req, res) => {
    const files: Record<string, [string, () => Buffer]> = {
      '/': ['text/html', () => readFileSync(join(APP, 'index.html'))],
      '/app.js': ['text/javascript', () => readFileSync(join(APP, 'app.js'))],
      '/treegate.wasm': ['application/wasm', () => wasm],
      '/threads/': ['text/html', () => readFileSync(join(APP, 'threads.html'))],
      '/threads/app-threads.js': ['text/javascript', () => readFileSync(join(APP, 'app-threads.js'))],
      '/threads/treegate-threads.wasm': ['application/wasm', () => threadsWasm],
      '/plain/': ['text/html', () => readFileSync(join(APP, 'threads.html'))],
      '/plain/app-threads.js': ['text/javascript', () => readFileSync(join(APP, 'app-threads.js'))],
      '/plain/treegate-threads.wasm': ['application/wasm', () => threadsWasm],
    };
    for (const dir of ['/strict/', '/no-wasm/', '/trusted/']) {
      files[dir] = ['text/html', () => readFileSync(join(APP, 'strict.html'))];
      files[`${dir}app-strict.js`] = ['text/javascript', () => readFileSync(join(APP, 'app-strict.js'))];
      files[`${dir}treegate-threads.wasm`] = ['application/wasm', () => threadsWasm];
      // a single-page app's server: its page for any path it does not have
      files[`${dir}missing-page.wasm`] = ['text/html', () => readFileSync(join(APP, 'strict.html'))];
    }
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    // /threads/ is cross-origin isolated (shared memory, web workers on it); /plain/ is not
    const url = req.url ?? '';
    const isolated = /^\/(threads|strict|no-wasm|trusted)\//.test(url)
      ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
    const policy = url.startsWith('/strict/') ? { 'content-security-policy': "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'" }
      : url.startsWith('/no-wasm/') ? { 'content-security-policy': "script-src 'self'" }
        : url.startsWith('/trusted/') ? { 'content-security-policy': "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; require-trusted-types-for 'script'; trusted-types treegate" } : {};
    res.writeHead(200, { 'content-type': f[0], ...isolated, ...policy }).end(f[1]());
  });
  await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(() => {
  server?.close();
  rmSync(APP, { recursive: true, force: true });
});

test('an app importing treegate bundles for the browser through the package exports, with no Node built-ins', async () => {
  const r = await build({
    entryPoints: [join(APP, 'main.mjs')], bundle: true, platform: 'browser', format: 'esm', outfile: join(APP, 'app.js'),
    metafile: true, logLevel: 'silent', absWorkingDir: APP,
  });
  assert.equal(r.errors.length, 0);
  const inputs = Object.keys(r.metafile!.inputs);
  assert.ok(inputs.some((i) => i.endsWith('dist/browser.js')), `the browser condition must pick dist/browser.js; bundled: ${inputs.join(', ')}`);
  assert.ok(!inputs.some((i) => i.endsWith('dist/index.js')), 'the Node entry was bundled');
  const code = readFileSync(join(APP, 'app.js'), 'utf8');
  assert.doesNotMatch(code, /["']node:|require\(["'](fs|path|module|url|os|worker_threads)["']\)/, 'the browser bundle reaches for Node built-ins');
});

test('in Chromium the page loads the wasm backend from its URL, trains, saves and loads; Node gives the same model bytes', { skip }, async () => {
  assert.ok(existsSync(join(APP, 'app.js')), 'the bundle test runs first');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const consoleErrors: string[] = [];
  type Result = { failed?: string; backend: string; current: string; loss0: number; loss4: number; accuracy: number; sameConfig: boolean;
    checkpointStep: number; sha256: string; errors: Record<string, string> };
  let web: Result;
  try {
    const page: Page = await browser.newPage();
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 60_000 });
    web = await page.evaluate(() => (window as unknown as { result: Result }).result);
  } finally {
    await browser.close();
  }
  assert.equal(web.failed, undefined, `the page failed: ${web.failed}`);
  assert.deepEqual(consoleErrors, []);
  assert.equal(web.backend, 'wasm');
  assert.equal(web.current, 'wasm');
  assert.ok(web.loss4 < web.loss0 && web.accuracy > 0.9, `loss ${web.loss0} → ${web.loss4}, accuracy ${web.accuracy}`);
  assert.ok(web.sameConfig, 'decodeModel(encodeModel(model)) has the same config');
  assert.equal(web.checkpointStep, 40);
  // a missing module names its URL and the fix; a wrong shape is a TreegateError with its message, as in Node
  assert.match(web.errors.missing, new RegExp(`${base}/no-such-file\\.wasm failed \\(HTTP 404\\).*serve wasm/treegate\\.wasm`));
  assert.match(web.errors.shape, /^TreegateError: .*9/);
  // the same scenario in Node on the package's browser build, the module's bytes in place of its URL
  const tg = await import(pathToFileURL(join(ROOT, 'dist/browser.js')).href);
  const { scenario } = await import(pathToFileURL(join(APP, 'scenario.mjs')).href);
  const node: Result = await scenario(tg, new Uint8Array(readFileSync(join(ROOT, 'wasm/treegate.wasm'))));
  assert.equal(node.backend, 'wasm');
  assert.equal(web.sha256, node.sha256, 'the same seed gives the same model bytes in the browser and in Node (wasm backend)');
  // in Node a relative URL has no page to resolve against, and fetch reads no file: URLs: both say what to pass instead
  assert.match(node.errors.missing, /not a URL \(a relative one needs a page to resolve it against\).*absolute URL/);
  await assert.rejects(tg.useWasm(pathToFileURL(join(ROOT, 'wasm/treegate.wasm'))), /fetch cannot read a file: URL.*module's bytes/);
  // useWasm's options reach the backend: an impossible residentBytes is refused, 0 loads
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'wasm/treegate.wasm')));
  await assert.rejects(tg.useWasm(bytes, { residentBytes: -1 }), /residentBytes must be a number of bytes ≥ 0/);
  assert.equal((await tg.useWasm(bytes, { residentBytes: 0 })).name, 'wasm');
});

test('in a cross-origin isolated page treegate-threads.wasm runs on web workers: the same model bytes, one product split with the same bits; elsewhere one thread', { skip }, async () => {
  const r = await build({
    entryPoints: [join(APP, 'main-threads.mjs')], bundle: true, platform: 'browser', format: 'esm', outfile: join(APP, 'app-threads.js'),
    logLevel: 'silent', absWorkingDir: APP,
  });
  assert.equal(r.errors.length, 0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const run = async (path: string): Promise<Record<string, unknown>> => {
    const page: Page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 90_000 });
    const out = await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result);
    assert.deepEqual(errors, [], `${path}: page errors`);
    // the page made two backends (the scenario's, then one on 2 threads): useWasm stops the web workers of the one
    // before, so that one worker is left (each call left its workers running)
    for (let i = 0; i < 200 && page.workers().length > 1; i++) await new Promise((ok) => setTimeout(ok, 50));
    out.workersLeft = page.workers().length;
    return out;
  };
  try {
    const isolated = await run('/threads/');
    assert.equal(isolated.failed, undefined, `the isolated page failed: ${String(isolated.failed)}`);
    const threads = isolated.threads as { maxThreads: number; workerParts: number; beforeYield: number; same: boolean };
    assert.ok(threads.maxThreads >= 2, `threads: ${JSON.stringify(threads)}`);
    assert.ok(threads.workerParts > 0, 'the web workers ran parts of the product');
    assert.equal(threads.beforeYield, 1, 'the web worker of a backend on 2 threads is up when useWasm resolves');
    assert.ok(threads.same, 'the product on 2 threads has the bits of 1 thread');
    assert.equal(isolated.workersLeft, 1, 'the web workers of the backends useWasm replaced have stopped');
    const plainModule = isolated.plainModule as { warnings: string[]; maxThreads: number };
    assert.equal(plainModule.maxThreads, 1);
    assert.match(plainModule.warnings.join('\n'), /useWasm: 2 threads asked for, but the module given has no shared memory \(treegate\/treegate\.wasm\): pass treegate\/treegate-threads\.wasm/);
    const small = isolated.smallMemory as { warnings: string[]; memoryLimit: number; maxThreads: number };
    assert.deepEqual([small.memoryLimit, small.maxThreads >= 2], [2 ** 29, true], `a browser refusing 4 GiB: ${JSON.stringify(small)}`);
    assert.match(small.warnings.join('\n'), /useWasm: this browser refused a shared memory of 4 GiB; the wasm kernels' memory may grow to 512 MiB/);
    // the same model bytes as on one thread (Node, the package's browser build, the plain module)
    const tg = await import(pathToFileURL(join(ROOT, 'dist/browser.js')).href);
    const { scenario } = await import(pathToFileURL(join(APP, 'scenario.mjs')).href);
    const node = await scenario(tg, new Uint8Array(readFileSync(join(ROOT, 'wasm/treegate.wasm'))));
    assert.equal(isolated.sha256, node.sha256);
    // not isolated: Chromium still makes the shared memory, but no worker can have it: one thread, the same bytes
    const plain = await run('/plain/');
    assert.equal(plain.failed, undefined, `the plain page failed: ${String(plain.failed)}`);
    assert.equal((plain.threads as { maxThreads: number }).maxThreads, 1);
    assert.match((plain.warnings as string[]).join('\n'), /useWasm: 2 threads asked for, but the page is not cross-origin isolated \(serve it with Cross-Origin-Opener-Policy/);
    assert.match((plain.warnings as string[]).join('\n'), /useWasm: treegate-threads\.wasm loaded, but the page is not cross-origin isolated \(serve it with .*\): the kernels run on one thread/);
    assert.match((plain.warnings as string[])[2], /not cross-origin isolated: it is not a secure context \(http from an address other than localhost\), where browsers ignore the headers .*serve it over https, or from localhost/);
    assert.equal((plain.warnings as string[]).length, 3, 'one warning each');
    assert.equal(plain.sha256, node.sha256);
  } finally {
    await browser.close();
  }
});

test('a page\'s Content-Security-Policy that refuses the web workers or WebAssembly, and an HTML page for the module, are named', { skip }, async () => {
  const r = await build({
    entryPoints: [join(APP, 'main-strict.mjs')], bundle: true, platform: 'browser', format: 'esm', outfile: join(APP, 'app-strict.js'),
    logLevel: 'silent', absWorkingDir: APP,
  });
  assert.equal(r.errors.length, 0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  type Strict = { failed?: string; warnings: string[]; htmlError?: string; loadError?: string; info?: { threads: number; workersUp: number }; product?: number };
  const run = async (path: string): Promise<Strict> => {
    const page: Page = await browser.newPage();
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 90_000 });
    return page.evaluate(() => (window as unknown as { result: Strict }).result);
  };
  try {
    const strict = await run('/strict/');
    assert.equal(strict.failed, undefined, String(strict.failed));
    assert.equal(strict.loadError, undefined, String(strict.loadError));
    assert.match(strict.htmlError!, /missing-page\.wasm is not WebAssembly: it starts with "<!do", not "\\0asm", served as text\/html \(an HTML page/);
    // the workers' failure is seen, not waited out: the warning gives its reason, and the kernels run on one thread
    assert.equal(strict.warnings.length, 1, strict.warnings.join('\n'));
    assert.match(strict.warnings[0], /web workers could not start \(.+\): its kernels run on the page's thread alone.*worker-src blob:/);
    assert.deepEqual([strict.info!.threads, strict.product], [1, 64]);
    // a page that requires Trusted Types (and allows treegate's policy): the workers start, through the policy
    const trusted = await run('/trusted/');
    assert.equal(trusted.failed, undefined, String(trusted.failed));
    assert.deepEqual(trusted.warnings, []);
    assert.deepEqual([trusted.info!.threads > 1, trusted.info!.workersUp > 0, trusted.product], [true, true, 64]);
    const noWasm = await run('/no-wasm/');
    assert.equal(noWasm.failed, undefined, String(noWasm.failed));
    assert.match(noWasm.loadError!, /the page's Content-Security-Policy forbids compiling WebAssembly .*add 'wasm-unsafe-eval' to its script-src/);
  } finally {
    await browser.close();
  }
});

test('treegate/browser resolves under every condition set, require() and CommonJS resolvers included', async () => {
  const { createRequire } = await import('node:module');
  const req = createRequire(join(ROOT, 'package.json'));
  assert.equal(req.resolve('treegate/browser'), join(ROOT, 'dist', 'browser.js'));
  assert.equal(req.resolve('treegate'), join(ROOT, 'dist', 'index.js'));
});

test('useWasm in Node, asked for threads, says that web workers are for pages and runs on one thread', async () => {
  const tg = await import(pathToFileURL(join(ROOT, 'dist/browser.js')).href);
  const warnings: string[] = [], warn = console.warn;
  console.warn = (...a: unknown[]) => { warnings.push(a.join(' ')); };
  try {
    const b = await tg.useWasm(new Uint8Array(readFileSync(join(ROOT, 'wasm/treegate-threads.wasm'))), { threads: 2 });
    assert.equal(b.info().threads, 1);
    b.close();
  } finally {
    console.warn = warn;
  }
  assert.match(warnings.join('\n'), /useWasm: 2 threads asked for, but this is not a page \(in Node, loadWasmBackend from 'treegate' runs the wasm kernels on worker threads\): the kernels run on one thread/);
});
