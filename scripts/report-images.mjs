#!/usr/bin/env node
// Saves every chart of a treegate HTML report, with its caption, as a PNG (headless Chromium via playwright-core), for
// documents that cannot embed the interactive page:
//   node scripts/report-images.mjs runs/experiments/memorization/report.html docs/results/memorization [1,2]
// writes docs/results/memorization-1.png, -2.png, … in the order of the charts on the page (only the charts
// numbered in the third argument, where there is one).
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [page, prefix, pick] = process.argv.slice(2);
const picked = pick === undefined ? null : pick.split(',').map(Number);
if (!page || !prefix || picked?.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: node scripts/report-images.mjs REPORT.html OUT-PREFIX [CHART-NUMBERS, e.g. 1,3]');
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const p = await browser.newPage({ viewport: { width: 900, height: 800 }, colorScheme: 'light' });
  await p.goto(pathToFileURL(resolve(page)).href);
  await p.waitForFunction(() => Array.from(document.querySelectorAll('div.chart')).every((d) => d.querySelector('svg.main-svg')));
  // each chart's figure: the plot and the caption under it (what its bars are, what it measures)
  const charts = await p.$$('figure');
  if (picked?.some((n) => n > charts.length)) throw new Error(`${page} has ${charts.length} charts; asked for ${pick}`);
  for (let i = 0; i < charts.length; i++) {
    if (picked && !picked.includes(i + 1)) continue;
    await charts[i].screenshot({ path: `${prefix}-${i + 1}.png` });
    console.log(`${prefix}-${i + 1}.png`);
  }
} finally {
  await browser.close();
}
