/**
 * `npm run check:bundlers` as a test: Vite and webpack 5 build an app that imports the packed treegate and names its
 * wasm modules as literal `new URL('treegate/treegate.wasm', import.meta.url)`; both must emit the modules byte for
 * byte, and the built pages must load them in Chromium (plain and cross-origin isolated, at the site's root and
 * under a path). The script installs the two bundlers from the npm registry into a temporary folder.
 *
 * Without the registry (or without /usr/bin/chromium) it is skipped on a developer machine and fails under CI
 * (CI=true), where .ci/run has both.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { underCI } from '../ci.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

/** Why the test cannot run here (outside CI only), or null; asked when the test runs, not when the file loads. */
function why(): string | null {
  if (!existsSync(CHROMIUM)) return `no ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
  const ping = spawnSync('npm', ['ping', '--silent'], { encoding: 'utf8', timeout: 30_000 });
  return ping.status === 0 ? null : 'the npm registry cannot be reached (npm ping failed): the bundlers cannot be installed';
}

test('Vite and webpack bundle the packed browser build and emit its wasm modules, which the built pages load', (t) => {
  const reason = why();
  if (reason && !underCI) {
    t.skip(reason);
    return;
  }
  assert.equal(reason, null, `under CI: ${reason}`);
  const r = spawnSync(process.execPath, ['scripts/check-bundlers.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  // every build emitted both modules, and every page (2 Vite builds and 2 webpack roots, each plain and isolated) loaded one
  assert.equal(r.stdout.match(/both modules, byte for byte/g)?.length, 4, r.stdout);
  assert.equal(r.stdout.match(/page (not isolated|cross-origin isolated): served treegate(-threads)?\.wasm; title "ok wasm /g)?.length, 8, r.stdout);
  assert.match(r.stdout, /check-bundlers: both bundlers emitted the wasm modules from literal URLs/);
});
