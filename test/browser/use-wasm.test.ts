/**
 * useWasm's arguments in Node, with a page's globals stubbed (no browser needed): a relative URL resolves as fetch
 * resolves it, against the document's base URL; null options are no options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useWasm } from '../../src/browser.js';
import { DEFAULT_WASM_URL } from '../../src/kernels/wasm/index.js';

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
