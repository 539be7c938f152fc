/// <reference lib="dom" />
/**
 * The report tests' headless Chromium (Debian's `chromium`, which .ci/run installs; driven by playwright-core),
 * launched once per test file that imports this, and a temporary folder per file. Every chart of a page must have
 * rendered an SVG with its traces, and the console must show no error. Without /usr/bin/chromium the browser checks
 * are skipped on a developer machine and fail under CI (CI=true), where .ci/run must have installed it.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { underCI } from '../ci.js';

export const TMP = mkdtempSync(join(tmpdir(), 'treegate-report-'));
const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
let browser: Browser | null = null;

before(async () => {
  if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  rmSync(TMP, { recursive: true, force: true });
});

export const skip = haveChromium ? false : underCI ? false : `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;

/** A new page of the file's Chromium, with these options (a colour scheme). */
export function browserPage(options?: Parameters<Browser['newPage']>[0]): Promise<Page> {
  assert.ok(browser, `Chromium is needed at ${CHROMIUM}: .ci/run installs it with apt-get`);
  return browser.newPage(options);
}

/** Opens the page; returns the console errors and, per chart div, whether it rendered and how many traces it drew. */
async function openInChromium(path: string): Promise<{ errors: string[]; charts: Array<{ id: string; svg: boolean; traces: number; drawn: number }> }> {
  const page = await browserPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  await page.waitForFunction(() => Array.from(document.querySelectorAll('div.chart')).every((d) => d.querySelector('svg.main-svg')), null, { timeout: 20_000 }).catch(() => {});
  const charts = await page.evaluate(() => Array.from(document.querySelectorAll('div.chart')).map((d) => ({
    id: d.id,
    svg: !!d.querySelector('svg.main-svg'),
    traces: ((d as unknown as { data?: unknown[] }).data ?? []).length,
    // drawn marks: scatter traces, bars, heatmap images
    drawn: d.querySelectorAll('g.trace, g.point, g.hm image, image').length,
  })));
  await page.close();
  return { errors, charts };
}

/** The page's charts all drawn (at least minCharts of them), no console error. */
export async function checkPage(path: string, what: string, minCharts: number): Promise<void> {
  const { errors, charts } = await openInChromium(path);
  assert.deepEqual(errors, [], `${what}: console errors`);
  assert.ok(charts.length >= minCharts, `${what}: ${charts.length} charts, expected at least ${minCharts}`);
  for (const c of charts) {
    assert.ok(c.svg, `${what}: chart ${c.id} did not render`);
    assert.ok(c.traces > 0 && c.drawn > 0, `${what}: chart ${c.id} has ${c.traces} traces, ${c.drawn} drawn marks`);
  }
}
