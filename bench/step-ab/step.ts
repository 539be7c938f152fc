/**
 * One side of bench/step-ab/run.sh: in the checkout it runs in (its own src/ and build/), the tree layer's training
 * step as train() runs it (forward, backward with the optimizer's step fused in, then the step of the rest) and the
 * separate optimizer step (lazy Adam over the touched nodes, clearing their gradients), 512 wide, N = 256, units
 * gating on standard normal inputs (balanced random bits), at each k; prints one JSON line of medians (ms).
 *   node --import tsx bench/step-ab/step.ts BACKEND K_LIST REPEATS
 */
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { setBackend } from '../../src/kernels/backend.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Optimizer } from '../../src/train/optim.js';

const [backend = 'wasm', kList = '2,4,6,8', repeatsArg = '9'] = process.argv.slice(2);
registerAvailableBackends();
setBackend(backend);
const n = 512, N = 256, repeats = Number(repeatsArg);
const rng = new Rng(5);
const x = matrix(N, n, Float32Array.from({ length: N * n }, () => rng.normal()));
const dy = matrix(N, n, Float32Array.from({ length: N * n }, () => rng.normal() * 1e-3));
const median = (v: number[]): number => {
  const o = [...v].sort((a, b) => a - b), h = o.length >> 1;
  return o.length % 2 ? o[h] : (o[h - 1] + o[h]) / 2;
};
const rows: Array<{ k: number; train: number; step: number }> = [];
for (const k of kList.split(',').map(Number)) {
  const L = new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'units', gateUnits: Array.from({ length: k }, (_, d) => d) })
    .init(rng);
  const opt = new Optimizer(L.params(), { kind: 'adam' });
  const train: number[] = [], step: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    L.forward(x, 'train');
    L.backward(dy, true, opt.early(1e-4));
    opt.step(1e-4);
    const t1 = performance.now();
    L.forward(x, 'train');
    L.backward(dy, true);
    const t2 = performance.now();
    opt.step(1e-4);
    const t3 = performance.now();
    if (r === 0) continue; // the first of each: warm-up
    train.push(t1 - t0);
    step.push(t3 - t2);
  }
  rows.push({ k, train: median(train), step: median(step) });
  opt.dispose();
  L.dispose();
}
console.log(JSON.stringify(rows));
process.exit(0);
