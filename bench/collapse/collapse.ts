/**
 * DESIGN §2's "alternative worth measuring": training on path sums (src/layers/path-sums.ts) against one product
 * per node. Not part of `npm run bench`; run
 *   node --import tsx bench/collapse/collapse.ts [--backends native,wasm] [--cases 256,64,4/512,256,4]
 * (about 8 minutes; js, whose 512-wide trees of depth 8 and more take minutes a step, with the cases it can run:
 * `--backends js --cases 256,64,4/512,256,2/512,256,4`). For each backend and layer, the tree's training step as train() runs it for a hidden layer
 * (forward, then backward with the input gradient and Adam's step fused in) with `collapseRows` = ∞ (one product per
 * node), 4, 8, 16, 32, 64 and 128, on one layer and one batch, interleaved, medians of the repeats (the step's learning
 * rate is 1e-6, so the weights barely move); the backend's default (collapseFrom: 32 on native, 8 on wasm and js) is
 * marked, and added where it is none of these. A setting over N (nothing collapses) is left out. Before the timing,
 * each setting's forward output and input gradient are compared with the per-node ones (largest difference over the
 * largest value).
 */
import { Rng } from '../../src/core/rng.js';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends, threadControl } from '../../src/kernels/select.js';
import { fmtMs, measure, timeRatio, type Candidate } from '../../src/experiments/timing.js';
import { collapseFrom } from '../../src/layers/path-sums.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Optimizer } from '../../src/train/optim.js';

/** width (n = m), examples N, depth k: the tree bench's layer, and the default model's tree layer (256 wide, batch 64, k = 4) */
const CASES = [[512, 256, 2], [512, 256, 4], [512, 256, 6], [512, 256, 8], [512, 256, 10], [512, 1024, 6], [256, 64, 4]] as const;
const SETTINGS = [Infinity, 4, 8, 16, 32, 64, 128];

function normal(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * scale;
  return matrix(rows, cols, a);
}

/** Largest |a − b| over the largest |b|. */
function difference(a: Float32Array, b: Float32Array): number {
  let d = 0, big = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    big = Math.max(big, Math.abs(b[i]));
  }
  return d / Math.max(big, 1e-30);
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--backends');
  const available = registerAvailableBackends();
  const names = arg > 0 ? process.argv[arg + 1].split(',') : available.filter((b) => b !== 'js');
  for (const b of names) if (!available.includes(b)) throw new Error(`backend '${b}' is not available (loaded: ${available.join(', ')})`);
  const casesArg = process.argv.indexOf('--cases');
  const cases = casesArg > 0 ? (process.argv[casesArg + 1] ?? '').split('/').map((c) => {
    const v = c.split(',').map(Number);
    if (v.length !== 3 || !v.every((x, i) => Number.isInteger(x) && x >= (i < 2 ? 1 : 0))) {
      throw new Error(`--cases: '${c}' is not width,N,k (width and N ≥ 1, k ≥ 0; cases separated by /)`);
    }
    return v as [number, number, number];
  }) : CASES;
  console.log(`training on path sums vs one product per node, ${new Date().toISOString()}, node ${process.version}`);
  console.log('| backend (threads) | width, N, k | collapseRows | forward | backward with the step | training step | ÷ per node | difference y / dx |');
  console.log('|---|---|---|---:|---:|---:|---:|---|');
  for (const name of names) {
    const be = setBackend(name);
    const threads = threadControl(be)?.info().threads ?? 1;
    for (const [width, N, k] of cases) {
      const rng = new Rng(1);
      // units gating on standard normal inputs: balanced random bits, as in the tree bench
      const x = normal(rng, N, width), dy = normal(rng, N, width, 1e-3);
      const layer = new TreeGated({ inputSize: width, outputSize: width, depth: k, nodeInit: 'small' }).init(new Rng(2));
      const opt = new Optimizer(layer.params(), { kind: 'adam' });
      const pass = (c: number): { y: Float32Array; dx: Float32Array } => {
        layer.collapseRows = c;
        const y = layer.forward(x, 'train').data.slice(), dx = layer.backward(dy, true)!.data.slice();
        for (const p of layer.params()) p.clearGrad();
        return { y, dx };
      };
      const ref = pass(Infinity);
      // the settings that collapse something here (none collapses over N rows), and the backend's default
      const byDefault = collapseFrom(be);
      const settings = [Infinity, ...[...new Set([...SETTINGS.slice(1), byDefault])].filter((c) => c <= N).sort((a, b) => a - b)];
      const diff = settings.map((c, i) => {
        if (i === 0) return '–';
        const { y, dx } = pass(c);
        return `${difference(y, ref.y).toExponential(1)} / ${difference(dx, ref.dx).toExponential(1)}`;
      });
      // one layer for every setting (a 512-wide tree of depth 10 holds 8 GB with its gradient and Adam's state)
      const cands: Candidate[] = settings.map((c) => ({
        name: String(c),
        before: () => void (layer.collapseRows = c),
        run: (lap) => {
          layer.forward(x, 'train');
          lap('forward');
          layer.backward(dy, true, opt.early(1e-6)); // the input gradient too: the tree is a hidden layer
          opt.step(1e-6); // the biases
          lap('backward');
        },
      }));
      const res = await measure(cands, { budgetMs: 1500, minRepeats: 5, maxRepeats: 15 });
      res.forEach((r, i) => {
        const c = settings[i];
        console.log(`| ${name} (${threads}) | ${width}, ${N}, ${k} | ${c === Infinity ? '∞ (per node)' : c === byDefault ? `${c} (default)` : c} | ` +
          `${fmtMs(r.phases.forward.ms)} | ${fmtMs(r.phases.backward.ms)} | ${fmtMs(r.ms)} | ${timeRatio(r, res[0]).toFixed(2)}× | ${diff[i]} |`);
      });
      layer.dispose();
    }
  }
}

await main();
