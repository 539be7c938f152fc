/**
 * What `npm pack` ships (package.json "files"): every export and the CLI are in the package, the wasm modules lie
 * outside build/ (node-gyp's folder, which `node-gyp rebuild` or `clean` deletes), and every relative link in the
 * shipped Markdown leads to a shipped file, but README's links to what stays in the repository (the benchmarks and
 * their reports, which README says lead out of the package).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** README's links that may lead out of the package: the repository's benchmarks and their reports. */
const REPOSITORY_ONLY = [/^bench\//, /^docs\/benchmarks\.md$/, /^docs\/benchmark-history\.md$/];

function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return new Set(pack!.files.map((f) => f.path));
}

const files = packedFiles();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string | Record<string, string>>>; bin: Record<string, string>;
};

/** Every file path a conditional export (nested objects of conditions) names. */
function exportTargets(e: unknown): string[] {
  if (typeof e === 'string') return [e];
  return Object.values(e as Record<string, unknown>).flatMap(exportTargets);
}

test('every export and the CLI are in the package', () => {
  const targets = [...Object.values(pkg.exports).flatMap(exportTargets), ...Object.values(pkg.bin)];
  for (const t of targets) assert.ok(files.has(normalize(t)), `${t} (package.json) is not in the package`);
});

test('the wasm modules are shipped outside build/, which node-gyp deletes', () => {
  for (const m of ['wasm/treegate.wasm', 'wasm/treegate-threads.wasm']) assert.ok(files.has(m), `${m} is not in the package`);
  assert.deepEqual([...files].filter((f) => f.startsWith('build/')), []);
});

test('relative links in the shipped Markdown lead to shipped files', () => {
  const broken: string[] = [];
  const docs = [...files].filter((f) => f.endsWith('.md'));
  assert.ok(docs.includes('README.md') && docs.includes('docs/design.md'), `the shipped Markdown: ${docs.join(', ')}`);
  for (const doc of docs) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    // [text](target) and [text](target#anchor), code spans and fenced blocks included: none of ours holds a link-like span
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split('#')[0]!;
      if (target === '' || /^[a-z]+:/i.test(target)) continue; // an anchor in the page, or an absolute URL
      const path = normalize(join(dirname(doc), target)).replace(/\/$/, '');
      if (doc === 'README.md' && REPOSITORY_ONLY.some((r) => r.test(path))) continue;
      const shipped = files.has(path) || [...files].some((f) => f.startsWith(path + '/'));
      if (!shipped) broken.push(`${doc}: ${m[1]}`);
    }
  }
  assert.deepEqual(broken, [], 'links to files the package does not hold');
});

test('the Markdown tables of README and docs/ have one line a row (a wrapped row renders as a row of its own)', () => {
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const wrapped: string[] = [];
  for (const doc of docs) {
    let fenced = false, inTable = false;
    for (const [i, line] of readFileSync(join(ROOT, doc), 'utf8').split('\n').entries()) {
      if (line.startsWith('```')) fenced = !fenced;
      if (fenced) continue;
      if (inTable && line.trim() !== '' && !line.startsWith('|')) wrapped.push(`${doc}:${i + 1}: ${line.slice(0, 60)}`);
      inTable = line.startsWith('|');
    }
  }
  assert.deepEqual(wrapped, [], 'lines that continue a table row');
});

test('an install that builds no addon leaves the reason for the line treegate prints at run time (npm hides a dependency\'s install output)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-native-build-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    copyFileSync(join(ROOT, 'scripts', 'build-native.mjs'), join(dir, 'scripts', 'build-native.mjs'));
    writeFileSync(join(dir, 'build', 'Release', 'treegate_native.node'), 'stale');
    const run = (env: Record<string, string>) => execFileSync(process.execPath, [join(dir, 'scripts', 'build-native.mjs')], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.match(run({ TREEGATE_NATIVE_BUILD: 'fail' }), /native backend not built \(TREEGATE_NATIVE_BUILD=fail\); the wasm backend will be used/);
    assert.equal(readFileSync(join(dir, 'build', 'native-not-built.txt'), 'utf8'), 'TREEGATE_NATIVE_BUILD=fail\n');
    assert.ok(!existsSync(join(dir, 'build', 'Release', 'treegate_native.node')), 'a stale addon is removed');
    run({ TREEGATE_NATIVE: 'off' });
    assert.equal(readFileSync(join(dir, 'build', 'native-not-built.txt'), 'utf8'), 'TREEGATE_NATIVE=off\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prepare builds under npm ci and install; under npx (npm exec) only where an output of the build is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'treegate-prepare-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(ROOT, 'scripts', 'prepare.mjs'), join(dir, 'scripts', 'prepare.mjs'));
    // a build that counts its runs
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'prepare-check', private: true,
      scripts: { build: 'node -e "require(\'node:fs\').appendFileSync(\'built\', \'x\')"' } }));
    const outputs = ['dist/index.js', 'dist/browser.js', 'dist/cli/main.js', 'wasm/treegate.wasm', 'wasm/treegate-threads.wasm'];
    for (const f of outputs) {
      mkdirSync(join(dir, dirname(f)), { recursive: true });
      writeFileSync(join(dir, f), '');
    }
    const builds = (npmCommand: string): number => {
      execFileSync(process.execPath, [join(dir, 'scripts', 'prepare.mjs')], { cwd: dir, env: { ...process.env, npm_command: npmCommand }, stdio: 'ignore' });
      return existsSync(join(dir, 'built')) ? readFileSync(join(dir, 'built'), 'utf8').length : 0;
    };
    assert.equal(builds('exec'), 0, 'npx with the outputs there');
    assert.equal(builds('ci'), 1);
    assert.equal(builds('install'), 2);
    rmSync(join(dir, 'wasm', 'treegate-threads.wasm'));
    assert.equal(builds('exec'), 3, 'npx with an output missing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no source file is hidden by .gitignore (a clone would lack it: CI builds from one)', (t) => {
  if (!existsSync(join(ROOT, '.git'))) {
    t.skip('not a git checkout');
    return;
  }
  // files of the source folders that git ignores, tracked (a pattern that matches them hides their next new sibling:
  // a fresh clone of the repository has every tracked file, so only this shows it there) or not; the browser
  // example's build output is meant to be ignored
  const folders = ['src', 'native', 'assembly', 'scripts', 'test', 'bench', 'examples', 'docs'];
  const ignored = (which: string) => execFileSync('git', ['ls-files', which, '--ignored', '--exclude-standard', '--', ...folders], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f !== '' && !f.startsWith('examples/browser/dist/'));
  assert.deepEqual(ignored('--cached'), [], 'tracked source files that .gitignore matches: a new file beside them would be left out of commits');
  assert.deepEqual(ignored('--others'), [], 'source files that .gitignore hides from commits');
});
