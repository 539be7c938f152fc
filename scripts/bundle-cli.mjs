#!/usr/bin/env node
/**
 * `npm run build`'s step after tsc: dist/cli/main.js, the `treegate` command, made one file with the modules it
 * imports (dist/'s own, commander's and cli-progress's), in place of tsc's module of the same name. Node then starts
 * the command without resolving, reading and compiling some 110 modules one at a time: `treegate --help` in 0.20 s
 * against 0.27 s, a small training run in 0.27 s against 0.35 s, on the 2-core Zen 5 (the tests start the command
 * some 560 times). The rest of dist/ stays as tsc wrote it: the library's modules, and the files the command reads
 * beside them.
 *
 * A module's `import.meta.url` is the URL of its own file in dist/, as before: the wasm modules, the native addon
 * and package.json are found relative to it. Nothing is minified; a linked source map leads back to src/.
 *
 * Where esbuild cannot load (a clone installed with --omit=optional, which leaves out its platform binary) the
 * command stays tsc's module, which works the same and starts slower, and this says so in one line.
 */
import { chmodSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error('bundle-cli: dist/cli/main.js is missing: run tsc -p tsconfig.build.json first (npm run build does)');
  process.exit(2);
}

// (its platform binary is found on the first call, not at import)
let esbuild;
try {
  esbuild = await import('esbuild');
  await esbuild.transform('', {});
} catch (e) {
  console.error(`bundle-cli: esbuild cannot run (${String(e.message).split('\n')[0]}): dist/cli/main.js stays tsc's module, which starts slower`);
  chmodSync(main, 0o755);
  process.exit(0);
}
const { build, transform } = esbuild;

/** Each dist/ module's import.meta.url made the URL of its file, from the bundle's own (dist/cli/main.js). */
const ownUrls = {
  name: 'own-urls',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async ({ path }) => {
      let code = await readFile(path, 'utf8');
      if (path.startsWith(join(root, 'dist')) && code.includes('import.meta.url')) {
        const rel = relative(dirname(main), path).split('\\').join('/');
        // (esbuild's define replaces the expression itself, not its letters inside strings and comments)
        code = (await transform(code, { define: { 'import.meta.url': '__moduleUrl' }, format: 'esm', loader: 'js' })).code;
        code = `const __moduleUrl = new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, import.meta.url).href;\n${code}`;
      }
      return { contents: code, loader: 'js' };
    });
  },
};

await build({
  entryPoints: [main],
  outfile: main,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // commander and cli-progress are CommonJS: their require() of Node's modules needs one in the bundle's scope
  banner: { js: "import { createRequire as __treegateCreateRequire } from 'node:module';\nconst require = __treegateCreateRequire(import.meta.url);" },
  plugins: [ownUrls],
  logLevel: 'warning',
});
chmodSync(main, 0o755);
