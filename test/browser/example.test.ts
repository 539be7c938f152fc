/// <reference lib="dom" />
/**
 * The browser example (examples/browser): built as `npm run example:browser` builds it, served as it serves it
 * (cross-origin isolated), and run in headless Chromium: the page trains its model on web workers, draws the
 * decision regions, reports a test accuracy that shows it learned the spirals, and offers the model as a download
 * that decodes to the same architecture. Without /usr/bin/chromium it is skipped on a developer machine and
 * fails under CI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
// @ts-expect-error: a plain .mjs script of the example, without types
import { buildExample, serveExample } from '../../examples/browser/serve.mjs';
import { decodeModel } from '../../src/io/model-codec.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : process.env.CI ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
const OUT = mkdtempSync(join(tmpdir(), 'treegate-example-'));
after(() => rmSync(OUT, { recursive: true, force: true }));

test('the browser example trains in Chromium on web workers, draws its regions and offers the model', { skip, timeout: 240_000 }, async () => {
  await buildExample(OUT);
  const server: Server = await serveExample(OUT, 0);
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { treegateExample?: unknown }).treegateExample !== undefined, null, { timeout: 200_000 });
    const r = await page.evaluate(() => (window as unknown as { treegateExample: Record<string, unknown> }).treegateExample);
    assert.equal(r.failed, undefined, `the page failed: ${String(r.failed)}`);
    assert.deepEqual(errors, []);
    assert.equal(r.backend, 'wasm');
    assert.ok(Number(r.threads) >= 2, `the isolated page runs the kernels on web workers too (threads ${String(r.threads)})`);
    assert.ok(Number(r.accuracy) >= 0.95, `test accuracy ${String(r.accuracy)}: the model learned the spirals`);
    const page2 = await page.evaluate(async () => {
      const canvas = document.getElementById('plot') as HTMLCanvasElement;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const colours = new Set<number>();
      for (let i = 0; i < px.length; i += 4 * 97) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      const link = document.getElementById('download') as HTMLAnchorElement;
      const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
      return { colours: colours.size, hidden: link.hidden, status: document.getElementById('status')!.textContent, log: document.getElementById('log')!.textContent, bytes: Array.from(bytes) };
    });
    assert.ok(page2.colours >= 3, `the regions are drawn (${page2.colours} colours sampled)`);
    assert.match(page2.status ?? '', /^epoch 40 of 40: loss /);
    assert.match(page2.log ?? '', /backend wasm, \d+ threads\n.*parameters.*\ntrained 40 epochs in [\d.]+ s; test accuracy [\d.]+%; the tree's 16 leaves/);
    assert.equal(page2.hidden, false);
    const model = decodeModel(new Uint8Array(page2.bytes), 'the downloaded model');
    assert.equal(model.config.layers.length > 0, true);
    assert.equal(model.parameterCount(), Number(/([\d,]+) parameters/.exec(page2.log ?? '')![1].replace(/,/g, '')));
  } finally {
    await browser.close();
    server.close();
  }
});
