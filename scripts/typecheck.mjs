// npm run typecheck: the four TypeScript projects, checked two at a time (tsc keeps to one core): the library with its
// tests and benchmarks, the browser example, and the package's types as a Node and as a browser project import them
// (test/types, which read dist/: run after npm run build). Each project's output is printed when it ends; the exit
// status is 1 where any failed.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// the largest first (about 11 s of the 19 on a 2-core Zen 5; the three others 2–4 s each)
const projects = [['tsconfig.json', '--noEmit'], ['examples/browser', '--noEmit'], ['test/types/tsconfig.node.json'], ['test/types/tsconfig.browser.json']];

function check([project, ...flags]) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [tsc, '-p', project, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', (e) => { out += `${e.message}\n`; });
    child.on('close', (code) => {
      process.stdout.write(out);
      if (code !== 0) process.stderr.write(`typecheck: tsc -p ${project} failed (exit ${code})\n`);
      done(code === 0);
    });
  });
}

let next = 0, ok = true;
async function worker() {
  while (next < projects.length) ok = (await check(projects[next++])) && ok;
}
await Promise.all(Array.from({ length: Math.min(2, availableParallelism()) }, worker));
process.exitCode = ok ? 0 : 1;
