/**
 * npm run bench -- [gemm|tree|kernels|peer-tree|epoch ...] [--json] [--quick|--full]
 *
 * Runs the selected benchmarks one after the other (default: all, --quick),
 * prints the machine, the date, the command and one table per figure group
 * on stdout, progress on stderr, and with --json one JSON object as the last
 * stdout line. Every figure is a median of interleaved repeats in this one
 * process and is printed next to a baseline measured in the same run.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { backend, setBackend } from '../src/kernels/backend.js';
import { setThreads } from '../src/kernels/select.js';
import {
  excludedBackends, onlyBackends,
  formatTable, loadBackends, machineInfo, machineLimits, oneLine, peerVersions,
  type BenchContext, type BenchResult,
} from './common.js';
import { runEpoch } from './epoch.js';
import { runGemm } from './gemm.js';
import { runKernels } from './kernels.js';
import { runPeerTree } from './peer-tree.js';
import { judgeTargets, targetsTable, type RunFigures } from './targets.js';
import { runTree } from './tree.js';

const BENCHES: Record<string, (ctx: BenchContext) => Promise<BenchResult>> = {
  gemm: runGemm,
  tree: runTree,
  kernels: runKernels,
  'peer-tree': runPeerTree,
  epoch: runEpoch,
};

const USAGE = `usage: npm run bench -- [${Object.keys(BENCHES).join('|')} ...] [--json] [--quick|--full] [--backends=js,wasm,native] [--threads=N]
  sections (all of them when none is named): gemm (GFLOP/s against onnxruntime-node and tfjs-backend-wasm),
  tree (the tree layer k = 0…10 against its roofline and dense baselines), kernels (the native kernels node by
  node), peer-tree (the tree layer against tfjs gather + matMul at k = 8), epoch (an MNIST epoch against
  tfjs-layers); --json: one JSON object as the last line of stdout; --quick (the default): shorter timing
  budgets, a 5 000-example epoch slice and dense layers of equal parameters up to 4096 wide; --full: longer
  budgets, the whole epoch, widths up to 65536; --backends: measure only these
  treegate backends; --threads: the native and wasm kernels' threads (default: every core; the GEMM section
  times 1 and 2 threads whatever this says). Draw a saved --json run as charts: npm run bench:chart -- OUTPUT.txt [REPORT.html]`;
const BACKENDS = ['js', 'wasm', 'native'];

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let json = false, quick = true, threads: number | null = null;
  const selected: string[] = [];
  for (const a of args) {
    if (a === '--json') json = true;
    else if (a === '--quick') quick = true;
    else if (a === '--full') quick = false;
    else if (a.startsWith('--backends=')) {
      const names = a.slice('--backends='.length).split(',');
      const unknown = names.filter((n) => !BACKENDS.includes(n));
      if (unknown.length) {
        process.stderr.write(`bench: unknown backend '${unknown.join(',')}' in ${a} (use ${BACKENDS.join(', ')})\n${USAGE}\n`);
        return 2;
      }
      onlyBackends(names);
    } else if (a.startsWith('--threads=')) {
      threads = Number(a.slice('--threads='.length));
      if (!Number.isSafeInteger(threads) || threads < 1 || threads > 64) {
        process.stderr.write(`bench: ${a} is not a thread count from 1 to 64\n${USAGE}\n`);
        return 2;
      }
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      return 0;
    } else if (a in BENCHES) {
      if (!selected.includes(a)) selected.push(a);
    } else {
      process.stderr.write(`bench: unknown argument '${a}'\n${USAGE}\n`);
      return 2;
    }
  }
  const names = selected.length ? selected : Object.keys(BENCHES);

  // gc between heavy groups (the tree bench allocates up to several GB at k = 10)
  setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc ??= runInNewContext('gc');

  const started = performance.now();
  const machine = machineInfo();
  const date = new Date().toISOString();
  const command = `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`;
  const backends = await loadBackends();
  if (threads !== null) setThreads(threads);
  const limits = await machineLimits();
  const peers = await peerVersions();
  const out = (s = ''): void => void process.stdout.write(s + '\n');
  out(`# treegate benchmarks (${quick ? 'quick' : 'full'})`);
  out('');
  out(`- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; node ${machine.node}`);
  out(`- date: ${date}`);
  out(`- command: ${command}`);
  out(`- treegate backends: ${backends.join(', ')}${['native', 'wasm'].filter((b) => !backends.includes(b))
    .map((b) => ` (${b}: ${excludedBackends().includes(b) ? 'excluded by --backends' : 'not available in this run'})`).join('')}`);
  out(`- peers: ${Object.entries(peers).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out(`- roofline limits: 1 thread ${(limits.flops / 1e9).toFixed(0)} GFLOP/s, ${(limits.bytes / 1e9).toFixed(1)} GB/s; all threads ${(limits.flopsAll / 1e9).toFixed(0)} GFLOP/s, ${(limits.bytesAll / 1e9).toFixed(1)} GB/s — ${limits.source}; the tree tables use the larger of these, a second measurement after the tree section and the GEMM section's fastest products (their notes)`);
  out('');

  const ctx: BenchContext = { quick, log: (s) => void process.stderr.write(s + '\n') };
  const initial = backend().name;
  const results: Record<string, BenchResult | { error: string }> = {};
  let failed = false;
  for (const name of names) {
    const t0 = performance.now();
    ctx.log(`bench: ${name} …`);
    try {
      const r = await BENCHES[name](ctx);
      results[name] = r;
      for (const t of r.tables) {
        out(formatTable(t));
        out('');
      }
      for (const n of r.notes) out(`- ${n}`);
      if (r.notes.length) out('');
    } catch (err) {
      failed = true;
      results[name] = { error: oneLine(err) };
      out(`### ${name}: FAILED — ${oneLine(err)}`);
      out('');
      if (err instanceof Error && err.stack) ctx.log(err.stack);
    } finally {
      setBackend(initial);
      (globalThis as { gc?: () => void }).gc?.();
    }
    ctx.log(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const seconds = (performance.now() - started) / 1000;
  const run: RunFigures = { sections: results, seconds, plainRun: selected.length === 0 && quick && excludedBackends().length === 0 };
  const targets = judgeTargets(run);
  out(formatTable(targetsTable(targets, run)));
  out('');
  out(`total time ${seconds.toFixed(1)} s`);
  if (json) {
    out(JSON.stringify({
      machine, date, command, mode: quick ? 'quick' : 'full', backends, peers, limits, seconds, targets,
      results: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, 'error' in r ? r : { tables: r.tables, data: r.data }])),
    }));
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
