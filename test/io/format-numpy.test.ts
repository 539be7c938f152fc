/**
 * docs/format.md's numpy code, run as a reader would paste it (scripts/format-numpy-check.py), on models of every
 * layer kind and gating: its logits must agree with treegate's own to float32 rounding, and its classes with
 * treegate's. Needs python3 with numpy (.ci/run installs Debian's python3-numpy); elsewhere it skips without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { underCI } from '../ci.js';
import { cli, describeRun, ROOT, tmp } from '../cli/run.js';

// the python3 on the PATH, else Debian's, whose python3-numpy .ci/run installs (a PATH may name another one first)
const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0);
const skip = python ? false : underCI ? false : 'no python3 with numpy (apt-get install python3-numpy; .ci/run does)';

const MODELS: Record<string, string[]> = {
  'a tree, projection gating': ['--hidden', '64', '--depth', '3'],
  // units gating on ReLU outputs (exact zeros: "strictly greater" decides them), two blocks, flat leaves, two routed layers
  'flat leaves, units gating, two blocks, two routed layers': ['--hidden', '64,32', '--tree-layers', '1,2', '--layer', 'flat', '--gating', 'units', '--blocks', '2', '--depth', '2'],
  'a mixture of experts, top 2, tanh': ['--hidden', '64', '--layer', 'moe', '--experts', '4', '--top-k', '2', '--activation', 'tanh'],
};

test('format.md\'s numpy code reads every layer kind as treegate does: logits to float32 rounding, the same classes', { skip }, () => {
  const n = 300;
  for (const [what, args] of Object.entries(MODELS)) {
    const out = tmp(`numpy-${what.replace(/\W+/g, '-')}`);
    const trained = cli('train', ...args, '--limit', '3000', '--epochs', '1', '--no-progress', '--out', out);
    assert.equal(trained.status, 0, describeRun(trained));
    const r = spawnSync(python ?? 'python3', [join(ROOT, 'scripts', 'format-numpy-check.py'), join(out, 'model.safetensors'), String(n)], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${what}: ${r.stderr}`);
    const m = /\(([\d.e+-]+) of its example's largest \|logit\|\); relative difference median ([\d.e+-]+), .*predicted classes agree on (\d+) of (\d+)/.exec(r.stdout);
    assert.ok(m, `${what}: ${r.stdout}`);
    const [median, agree] = [Number(m[2]), Number(m[3])];
    assert.equal(Number(m[4]), n);
    // (a gate within rounding of 0 may send an example another way, and a near-tie of logits may flip a class: rare)
    assert.ok(median < 1e-5, `${what}: median relative difference ${median}`);
    assert.ok(agree >= n - 3, `${what}: classes agree on ${agree} of ${n}`);
  }
});
