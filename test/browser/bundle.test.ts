/**
 * The browser entry (src/browser.ts, the package's "browser" export) bundles for the web with no
 * Node built-ins, and the bundle works on its own: it loads the wasm backend from the module's bytes,
 * trains a small tree-gated model and round-trips it through the model codec.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('src/browser.ts bundles for the browser without Node built-ins, and the bundle trains on the wasm backend', async () => {
  const r = await build({
    entryPoints: [join(ROOT, 'src/browser.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
  });
  assert.equal(r.errors.length, 0);
  const code = r.outputFiles[0].text;
  assert.doesNotMatch(code, /["']node:|require\(["'](fs|path|module|url)["']\)/, 'the browser bundle reaches for Node built-ins');
  const dir = mkdtempSync(join(tmpdir(), 'treegate-browser-'));
  try {
    const file = join(dir, 'treegate.browser.mjs');
    writeFileSync(file, code);
    const tg = await import(pathToFileURL(file).href);
    const wasmPath = join(ROOT, 'build/treegate.wasm');
    // fetch reads no file: URLs in Node: a clear error naming what to pass instead
    await assert.rejects(tg.useWasm(pathToFileURL(wasmPath)), /fetch cannot read a file: URL \(pass the module's bytes/);
    const be = await tg.useWasm(new Uint8Array(readFileSync(wasmPath)));
    assert.equal(be.name, 'wasm');
    assert.equal(tg.backend().name, 'wasm');
    // a separable toy problem: class = sign of the first feature
    const rng = new tg.Rng(4), N = 256, D = 8;
    const x = new Float32Array(N * D).map(() => rng.normal());
    const y = Int32Array.from({ length: N }, (_, i) => (x[i * D] > 0 ? 1 : 0));
    const model = new tg.Model(tg.mlpConfig({ inputSize: D, numClasses: 2, hidden: [16], treeLayers: [2], depth: 2, gating: 'projection' }), rng.fork());
    const data = { x: tg.matrix(N, D, x), y };
    const { history } = tg.train(model, data, null, { epochs: 5, batchSize: 32, lr: 0.01, schedule: 'constant', optimizer: { kind: 'adam' } }, rng.fork());
    assert.ok(history[4].trainLoss < history[0].trainLoss, `loss ${history[0].trainLoss} → ${history[4].trainLoss}`);
    assert.ok(model.evaluate(data.x, y).accuracy > 0.9);
    const again = tg.decodeModel(tg.encodeModel(model), 'memory');
    assert.deepEqual(again.toConfig(), model.toConfig());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
