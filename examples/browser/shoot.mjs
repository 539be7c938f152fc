#!/usr/bin/env node
/**
 * `node examples/browser/shoot.mjs [runs]`: builds the example as `npm run example:browser` does, serves it cross-origin
 * isolated (the threads module, web workers) and not (one thread), and runs the page in headless Chromium `runs`
 * times each way (default 3), alternating; prints the line each run's page logged ("trained 40 epochs in … s") and
 * the median training time each way, and saves the last isolated run's page as docs/example-browser.png (the
 * examples' README shows it). Needs /usr/bin/chromium and playwright-core (a devDependency). Keep the machine quiet.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample, serveExample } from './serve.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: node examples/browser/shoot.mjs [runs]   (runs: a whole number ≥ 1, default 3)');
  process.exit(2);
}
const { chromium } = createRequire(join(ROOT, 'package.json'))('playwright-core');
const out = mkdtempSync(join(tmpdir(), 'treegate-shoot-'));
const seconds = { isolated: [], plain: [] };
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  await buildExample(out);
  for (let r = 0; r < runs; r++) {
    for (const isolated of [true, false]) {
      const server = await serveExample(out, 0, { isolated });
      try {
        const page = await browser.newPage({ viewport: { width: 820, height: 820 } });
        await page.goto(`http://127.0.0.1:${server.address().port}/`);
        await page.waitForFunction(() => window.treegateExample !== undefined, null, { timeout: 300_000 });
        const log = await page.evaluate(() => document.getElementById('log').textContent);
        const trained = /trained 40 epochs in ([\d.]+) s.*/.exec(log);
        console.log(`${isolated ? 'isolated' : 'plain   '} run ${r + 1}: ${trained ? trained[0] : log}`);
        if (trained) seconds[isolated ? 'isolated' : 'plain'].push(Number(trained[1]));
        if (isolated && r === runs - 1) await page.screenshot({ path: join(ROOT, 'docs', 'example-browser.png'), fullPage: true });
        await page.close();
      } finally {
        server.close();
      }
    }
  }
} finally {
  await browser.close();
  rmSync(out, { recursive: true, force: true });
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
console.log(`median training time: isolated (web workers) ${median(seconds.isolated)} s, plain (one thread) ${median(seconds.plain)} s; ` +
  'screenshot: docs/example-browser.png');
