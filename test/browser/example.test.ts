/// <reference lib="dom" />
/**
 * The browser example (examples/browser): built as `npm run example:browser` builds it, served as it serves it,
 * and run in headless Chromium. Cross-origin isolated, the page loads the threads module and its kernels run on
 * web workers; served without the two headers it loads the one-thread module. Either way it trains, draws its
 * decision regions, reports a test accuracy that shows it learned the spirals, and offers the model as a
 * download: the same bytes both ways, which decode to the model the page describes. Without /usr/bin/chromium
 * it is skipped on a developer machine and fails under CI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
// @ts-expect-error: a plain .mjs script of the example, without types
import { buildExample, serveExample } from '../../examples/browser/serve.mjs';
import { decodeModel } from '../../src/io/model-codec.js';
import { underCI } from '../ci.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : underCI ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
const OUT = mkdtempSync(join(tmpdir(), 'treegate-example-'));
after(() => rmSync(OUT, { recursive: true, force: true }));

interface PageRun { result: Record<string, unknown>; errors: string[]; regionShares: number[]; status: string; log: string; hidden: boolean; bytes: number[]; cores: number }

async function runPage(browser: Browser, isolated: boolean): Promise<PageRun> {
  const server: Server = await serveExample(OUT, 0, { isolated });
  const address = server.address();
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`);
    await page.waitForFunction(() => (window as unknown as { treegateExample?: unknown }).treegateExample !== undefined, null, { timeout: 200_000 });
    const result = await page.evaluate(() => (window as unknown as { treegateExample: Record<string, unknown> }).treegateExample);
    const seen = await page.evaluate(async () => {
      // each class's region tint (main.ts: 35% of the class colour on white, rounded as ImageData rounds) and the
      // share of the canvas it covers: every class must own a good part of it
      const canvas = document.getElementById('plot') as HTMLCanvasElement;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const tints = [[0, 114, 178], [230, 159, 0], [0, 158, 115]].map((c) => Array.from(new Uint8ClampedArray(c.map((v) => 255 - (255 - v) * 0.35))));
      const counts = tints.map(() => 0);
      let samples = 0;
      for (let i = 0; i < px.length; i += 4 * 7, samples++) {
        tints.forEach((t, c) => { if (px[i] === t[0] && px[i + 1] === t[1] && px[i + 2] === t[2]) counts[c]++; });
      }
      const regionShares = counts.map((n) => n / samples);
      const link = document.getElementById('download') as HTMLAnchorElement;
      const bytes = link.href ? Array.from(new Uint8Array(await (await fetch(link.href)).arrayBuffer())) : [];
      return {
        regionShares, hidden: link.hidden, bytes, cores: navigator.hardwareConcurrency,
        status: document.getElementById('status')!.textContent ?? '', log: document.getElementById('log')!.textContent ?? '',
      };
    });
    await page.close();
    return { result, errors, ...seen };
  } finally {
    server.close();
  }
}

test('the browser example trains in Chromium (web workers where isolated), draws its regions and offers the same model either way', { skip, timeout: 400_000 }, async () => {
  await buildExample(OUT);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const runs = { isolated: await runPage(browser, true), plain: await runPage(browser, false) };
    for (const [name, r] of Object.entries(runs)) {
      assert.equal(r.result.failed, undefined, `${name}: the page failed: ${String(r.result.failed)}`);
      assert.deepEqual(r.errors, [], name);
      assert.equal(r.result.backend, 'wasm');
      assert.ok(Number(r.result.accuracy) >= 0.95, `${name}: test accuracy ${String(r.result.accuracy)}: the model learned the spirals`);
      assert.ok(r.regionShares.every((share) => share >= 0.1), `${name}: every class's region is drawn (shares of the canvas ${r.regionShares.join(', ')})`);
      assert.match(r.status, /^epoch 40 of 40: loss [\d.]+, training accuracy [\d.]+% — done$/);
      assert.match(r.log, /parameters; [\d,]+ multiply-adds per example at inference\ntrained 40 epochs in [\d.]+ s \(and drew them in [\d.]+ s\); test accuracy [\d.]+% on 900 new points; the tree's 16 leaves on them: balance [\d.]+, \d+ never used\n$/);
      assert.equal(r.hidden, false, `${name}: the download link is shown`);
    }
    const { isolated, plain } = runs;
    assert.match(isolated.log, /^backend wasm \(treegate-threads\.wasm\), kernels on \d+ threads?\n/);
    if (isolated.cores > 1) assert.ok(Number(isolated.result.workerParts) > 0, 'the web workers ran parts of the products');
    assert.match(plain.log, /^backend wasm \(treegate\.wasm\), kernels on 1 thread: the page is not cross-origin isolated/);
    const sha = (b: number[]) => createHash('sha256').update(Uint8Array.from(b)).digest('hex');
    assert.equal(sha(isolated.bytes), sha(plain.bytes), 'the same model bytes on web workers and on one thread');
    const model = decodeModel(Uint8Array.from(isolated.bytes), 'the downloaded model');
    assert.equal(model.parameterCount(), Number(/([\d,]+) parameters/.exec(isolated.log)![1].replace(/,/g, '')));
  } finally {
    await browser.close();
  }
});
