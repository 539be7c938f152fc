/**
 * Where the tree layer's training step spends its time, backend call by backend call: not part of `npm run bench`.
 *   node --import tsx bench/step-profile/profile.ts [native|wasm|js] [k] [steps] [--random] [--forward]
 * Runs the step as train() runs it (forward, backward with the optimizer's step fused in, then the step of the rest;
 * with --forward, the training forward pass alone, the weights unchanged between calls) on the bench's layer (512 wide, N = 256, units gating on standard normal inputs; with --random, eight batches in
 * turn instead of one), and wraps every function of the backend with a timer on every other step; prints the median
 * unwrapped step and, per backend function, its calls and milliseconds per wrapped step (largest first). The timers
 * add about a microsecond per call, so the wrapped calls' sum comes out a little over the unwrapped step.
 */
import { Rng } from '../../src/core/rng.js';
import { matrix } from '../../src/core/tensor.js';
import { getBackend, setBackend } from '../../src/kernels/backend.js';
import { registerAvailableBackends } from '../../src/kernels/select.js';
import { TreeGated } from '../../src/layers/tree.js';
import { Optimizer } from '../../src/train/optim.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const [name = 'native', kArg = '4', stepsArg = '40'] = args;
const k = Number(kArg), steps = Number(stepsArg), N = 256, n = 512;
const available = registerAvailableBackends();
const usage = 'usage: node --import tsx bench/step-profile/profile.ts [native|wasm|js] [k 0…12] [steps ≥ 2] [--random] [--forward]';
const forwardOnly = process.argv.includes('--forward');
const problem = !available.includes(name) ? `backend '${name}' is not available here (loaded: ${available.join(', ')})`
  : !(Number.isInteger(k) && k >= 0 && k <= 12) ? `k must be a whole number from 0 to 12, got '${kArg}'`
    : !(Number.isInteger(steps) && steps >= 2) ? `steps must be a whole number ≥ 2, got '${stepsArg}'` : null;
if (problem) {
  console.error(`step-profile: ${problem}\n${usage}`);
  process.exit(2);
}
setBackend(name);
const be = getBackend(name)! as unknown as Record<string, unknown>;
const times = new Map<string, number[]>();
let timing = false;
for (const [f, fn] of Object.entries(be)) {
  if (typeof fn !== 'function' || f === 'floats' || f === 'release') continue;
  be[f] = (...a: unknown[]): unknown => {
    if (!timing) return fn.apply(be, a);
    const t = performance.now();
    const r = fn.apply(be, a);
    const list = times.get(f) ?? [];
    list.push(performance.now() - t);
    times.set(f, list);
    return r;
  };
}
const rng = new Rng(23);
const batches = Array.from({ length: process.argv.includes('--random') ? 8 : 1 }, () =>
  matrix(N, n, Float32Array.from({ length: N * n }, () => rng.normal())));
const dy = matrix(N, n, Float32Array.from({ length: N * n }, () => rng.normal() * 1e-3));
const layer = new TreeGated({ inputSize: n, outputSize: n, depth: k, gating: 'units', gateUnits: Array.from({ length: k }, (_, d) => d) })
  .init(rng);
const opt = new Optimizer(layer.params(), { kind: 'adam' });
let b = 0;
const step = (): void => {
  layer.forward(batches[b++ % batches.length], 'train');
  if (forwardOnly) return;
  layer.backward(dy, true, opt.early(1e-4));
  opt.step(1e-4);
};
for (let i = 0; i < 4; i++) step(); // warm-up: pages touched, tables sized
const plain: number[] = [];
for (let i = 0; i < steps; i++) {
  timing = i % 2 === 1;
  const t = performance.now();
  step();
  if (!timing) plain.push(performance.now() - t);
}
const wrapped = Math.floor(steps / 2);
const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log(`${name}, k = ${k}, N = ${N}, ${n}×${n} nodes${batches.length > 1 ? ', 8 batches in turn' : ''}: ` +
  `${forwardOnly ? 'training forward' : 'step'} ${median(plain).toFixed(3)} ms (median of ${plain.length} unwrapped), ${new Date().toISOString()}`);
const unit = forwardOnly ? 'pass' : 'step';
console.log(`| backend function | calls per ${unit} | ms per ${unit} |\n|---|---:|---:|`);
let sum = 0;
for (const [f, v] of [...times].sort((x, y) => y[1].reduce((p, q) => p + q) - x[1].reduce((p, q) => p + q))) {
  const per = v.reduce((p, q) => p + q, 0) / wrapped;
  sum += per;
  console.log(`| ${f} | ${(v.length / wrapped).toFixed(1)} | ${per.toFixed(3)} |`);
}
console.log(`| (sum of the wrapped calls) | | ${sum.toFixed(3)} |`);
opt.dispose();
layer.dispose();
