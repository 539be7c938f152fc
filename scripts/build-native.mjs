// Builds the native backend (build/Release/treegate_native.node) with node-gyp,
// run by `npm ci` (the package's install script) and `npm run build:native`.
// A failed build never fails the install: treegate then falls back to the
// WebAssembly backend and says so once. TREEGATE_NATIVE=off skips the build
// (and the addon at run time); TREEGATE_NATIVE_BUILD=fail makes the build fail,
// to test the fallback.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'treegate_native.node');
// why the last build did not make the addon, for the line treegate prints at run time (npm shows a dependency's
// install output only with --foreground-scripts)
const why = join(root, 'build', 'native-not-built.txt');

function skip(reason) {
  // NOTE: remove a stale addon so a failed rebuild cannot leave an old one in use
  rmSync(addon, { force: true });
  try {
    mkdirSync(dirname(why), { recursive: true });
    writeFileSync(why, `${reason}\n`);
  } catch { /* the line below says it all the same */ }
  console.log(`treegate: native backend not built (${reason}); the wasm backend will be used`);
  process.exit(0);
}
try {
  rmSync(why, { force: true });
} catch { /* a build that succeeds makes the addon, which treegate looks for first */ }

if (process.env.TREEGATE_NATIVE === 'off') skip('TREEGATE_NATIVE=off');
if (process.env.TREEGATE_NATIVE_BUILD === 'fail') skip('TREEGATE_NATIVE_BUILD=fail');
if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`no build recipe for ${process.platform}`);

// node-gyp ships with npm; npm tells scripts where (npm_config_node_gyp), else look beside node.
const candidates = [
  process.env.npm_config_node_gyp,
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean);
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) skip('node-gyp not found');

// Node's headers from this machine: where npm_config_nodedir says, beside node (nodejs.org's archives, nvm, the
// node images) or under /usr (Debian's nodejs). node-gyp would download them without --nodedir; nothing is
// downloaded at install, so without them the addon is not built.
// (an empty npm_config_nodedir, an .npmrc's `nodedir=`, names none)
const nodeDir = process.env.npm_config_nodedir
  || [join(dirname(process.execPath), '..'), '/usr'].find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
if (!nodeDir) {
  skip(`Node's headers are not on this machine (no include/node/node_api.h beside ${process.execPath} or under /usr); ` +
    'install them (on Debian they come with the nodejs or libnode-dev package) or name their folder with npm_config_nodedir, then run npm rebuild treegate');
}
const args = [gyp, 'configure', 'build', '--jobs', '2', `--nodedir=${nodeDir}`];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0 || !existsSync(addon)) {
  const last = `${r.stderr ?? ''}`.trim().split('\n').filter((l) => /error/i.test(l)).slice(-3).join(' | ');
  skip(`node-gyp failed${last ? `: ${last}` : ''}`);
}
console.log(`treegate: native backend built (${addon})`);
