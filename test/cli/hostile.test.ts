/**
 * Issue 5, acceptance 3: each reader the CLI exposes — model files (eval),
 * checkpoints (train --resume), MNIST IDX files (train --data-dir), CSV files
 * (train --dataset csv) — fed a truncated file, a header claiming a 2^40-element
 * tensor (where the format has a header) and random bytes: exit 2 with one
 * message naming the file, and a peak memory (max RSS, from /usr/bin/time)
 * within 100 MB of the same command's on a missing file. The wall time is
 * printed as a diagnostic, never asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { defaultMnistDir, MNIST_FILES } from '../../src/data/mnist.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { CLI_ARGS, ROOT, tmp } from './run.js';
import { underCI } from '../ci.js';

const TIME = '/usr/bin/time';
const skip = existsSync(TIME) ? false : underCI ? false : `no ${TIME} (apt-get install time; .ci/run does)`;

/** Runs the CLI under /usr/bin/time; returns exit code, stderr (without time's line) and max RSS in MB. */
function measured(...args: string[]): { status: number | null; stderr: string; rssMB: number; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(TIME, ['-f', 'maxrss-kb %M', process.execPath, ...CLI_ARGS, ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
  });
  const m = /maxrss-kb (\d+)\s*$/.exec(r.stderr);
  assert.ok(m, `no max RSS in: ${r.stderr}`);
  return { status: r.status, stderr: r.stderr.slice(0, m.index), rssMB: Number(m[1]) / 1024, seconds: (performance.now() - t0) / 1000 };
}

function header40(): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify({
    __metadata__: { format: 'treegate-model/1', config: '{}' },
    'layers.0.weight': { dtype: 'F32', shape: [1048576, 1048576], data_offsets: [0, 4398046511104] },
  }));
  const b = new Uint8Array(8 + h.length + 64);
  new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
  b.set(h, 8);
  return b;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed), b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

test('hostile files: each reader exits 2 with a message, within 100 MB of its baseline memory', { skip, timeout: 300_000 }, (t) => {
  const dir = tmp('hostile');
  mkdirSync(dir);
  const valid = encodeSafetensors([{ name: 'x', shape: [4], data: new Float32Array(4) }], { format: 'treegate-model/1', config: '{}' });
  const idxHeader40 = new Uint8Array(20);
  idxHeader40[2] = 0x08;
  idxHeader40[3] = 4;
  for (let d = 0; d < 4; d++) new DataView(idxHeader40.buffer).setUint32(4 + 4 * d, 1024, false);
  const trainImages = readFileSync(join(defaultMnistDir(), MNIST_FILES.trainImages));

  // each reader: how to point the CLI at a file, and its hostile files
  // baseline: the same command failing before it reads anything (a missing file or folder)
  const missing = join(dir, 'missing');
  const readers: Array<{ name: string; run: (file: string) => string[]; baseline: string[]; files: Record<string, Uint8Array> }> = [
    {
      name: 'model file', run: (f) => ['eval', '--model', f], baseline: ['eval', '--model', missing],
      files: { truncated: valid.subarray(0, valid.length - 7), 'header claiming 2^40 elements': header40(), 'random bytes': randomBytes(4096, 1) },
    },
    {
      name: 'checkpoint', run: (f) => {
        const run = join(dir, `resume-${f.replace(/\W/g, '')}`);
        mkdirSync(join(run, 'checkpoints'), { recursive: true });
        copyFileSync(f, join(run, 'checkpoints', 'step-000000001.safetensors'));
        return ['train', '--resume', run];
      },
      baseline: ['train', '--resume', missing],
      files: { truncated: valid.subarray(0, 5), 'header claiming 2^40 elements': header40(), 'random bytes': randomBytes(4096, 2) },
    },
    {
      name: 'IDX', run: (f) => {
        const data = join(dir, `idx-${f.replace(/\W/g, '')}`);
        mkdirSync(data, { recursive: true });
        for (const name of Object.values(MNIST_FILES)) copyFileSync(join(defaultMnistDir(), name), join(data, name));
        copyFileSync(f, join(data, MNIST_FILES.trainImages));
        return ['train', '--data-dir', data, '--out', join(dir, 'out')];
      },
      baseline: ['train', '--data-dir', missing, '--out', join(dir, 'out')],
      files: { truncated: trainImages.subarray(0, 100_000), 'header claiming 2^40 elements': idxHeader40, 'random bytes': randomBytes(4096, 3) },
    },
    {
      name: 'CSV', run: (f) => ['train', '--dataset', 'csv', '--csv', f, '--out', join(dir, 'out')],
      baseline: ['train', '--dataset', 'csv', '--csv', missing, '--out', join(dir, 'out')],
      files: { truncated: new TextEncoder().encode('a,b,label\n1,2,x\n3,4,y\n5,'), 'random bytes': randomBytes(4096, 4) },
    },
  ];
  for (const reader of readers) {
    const base = measured(...reader.baseline);
    assert.equal(base.status, 2, `${reader.name} baseline: ${base.stderr}`);
    for (const [what, bytes] of Object.entries(reader.files)) {
      const file = join(dir, `${reader.name.replace(/\W/g, '')}-${what.replace(/\W/g, '')}`);
      writeFileSync(file, bytes);
      const r = measured(...reader.run(file));
      t.diagnostic(`${reader.name}, ${what}: exit ${r.status} in ${r.seconds.toFixed(2)} s, max RSS ${r.rssMB.toFixed(0)} MB (baseline ${base.rssMB.toFixed(0)} MB)`);
      assert.equal(r.status, 2, `${reader.name}, ${what}: ${r.stderr}`);
      assert.match(r.stderr, /^treegate: (warning: .*\n)?(treegate: )?error: /m, `${reader.name}, ${what}: one error line: ${r.stderr}`);
      assert.ok(!/internal error|    at /.test(r.stderr), `${reader.name}, ${what}: no crash: ${r.stderr}`);
      assert.ok(r.rssMB - base.rssMB < 100, `${reader.name}, ${what}: max RSS ${r.rssMB} MB vs ${base.rssMB} MB without the file`);
    }
  }
});
