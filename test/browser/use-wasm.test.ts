/**
 * useWasm's arguments in Node, with a page's globals stubbed (no browser needed): a relative URL resolves as fetch
 * resolves it, against the document's base URL; null options are no options; no warning where no threads are asked
 * for; a Worker constructor that throws (a refusing policy) is seen at once, and said.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useWasm } from '../../src/browser.js';
import { DEFAULT_WASM_THREADS_URL, DEFAULT_WASM_URL } from '../../src/kernels/wasm/index.js';

const bytes = readFileSync(DEFAULT_WASM_URL);

test('useWasm resolves a relative URL against the document\'s base URL (<base href>, a router\'s deep link), as fetch does', async () => {
  const g = globalThis as Record<string, unknown>, saved = { document: g.document, location: g.location, fetch: g.fetch };
  const asked: string[] = [];
  // a page at /users/42 of an app whose <base href="/">: fetch('treegate.wasm') reads /treegate.wasm
  g.document = { baseURI: 'http://app.test/' };
  g.location = { href: 'http://app.test/users/42' };
  g.fetch = async (url: URL) => {
    asked.push(String(url));
    return new Response(bytes, { headers: { 'content-type': 'application/wasm' } });
  };
  try {
    const be = await useWasm('treegate.wasm');
    assert.deepEqual(asked, ['http://app.test/treegate.wasm']);
    be.close();
    // a worker has no document: its location is the base
    delete g.document;
    await useWasm('treegate.wasm').then((b) => b.close());
    assert.equal(asked[1], 'http://app.test/users/treegate.wasm');
  } finally {
    Object.assign(g, saved);
    if (saved.document === undefined) delete g.document;
    if (saved.location === undefined) delete g.location;
  }
});

test('useWasm takes null options as none, as loadWasmBackend does', async () => {
  const be = await useWasm(bytes, null as unknown as undefined);
  assert.equal(be.info().threads, 1);
  be.close();
});
test('useWasm in Node warns of nothing where no more than one thread is asked for (the threads module with no count, or threads: 1)', async () => {
  const threadsBytes = readFileSync(DEFAULT_WASM_THREADS_URL);
  const warnings: string[] = [], warn = console.warn;
  console.warn = (...a: unknown[]) => { warnings.push(a.join(' ')); };
  try {
    // Node is no page: the threads module without a thread count is not a page asking for web workers, and one thread is what it gets
    for (const options of [undefined, { threads: 1 }]) {
      const b = await useWasm(threadsBytes, options);
      assert.equal(b.info().threads, 1);
      b.close();
    }
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings, []);
});

test('useWasm in a page whose browser refuses its web workers by throwing (as some do for a Content-Security-Policy) runs on one thread and says why', async () => {
  // a page's globals stubbed: cross-origin isolated, 4 cores, and a Worker constructor that throws as a refusing policy makes it
  const g = globalThis as Record<string, unknown>, saved = { crossOriginIsolated: g.crossOriginIsolated, navigator: g.navigator, Worker: g.Worker };
  g.crossOriginIsolated = true;
  g.navigator = { hardwareConcurrency: 4 };
  g.Worker = function refused() {
    throw new Error("Refused to create a worker from 'blob:x' because it violates the Content Security Policy directive: \"worker-src 'self'\"");
  };
  const warnings: string[] = [], warn = console.warn;
  console.warn = (...a: unknown[]) => { warnings.push(a.join(' ')); };
  const t0 = Date.now();
  try {
    const b = await useWasm(readFileSync(DEFAULT_WASM_THREADS_URL), { threads: 2 });
    assert.equal(b.info().threads, 1);
    b.close();
  } finally {
    console.warn = warn;
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete g[k]; else g[k] = v;
  }
  assert.ok(Date.now() - t0 < 5000, 'the refusal is seen at once, not waited out');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /web workers could not start \(Refused to create a worker .*worker-src 'self'.*\): its kernels run on the page's thread alone/);
});
