/**
 * A/B of two builds of the wasm kernels on the tree layer (n = m = 512, N = 256 examples gating on units 0…k−1,
 * every node's weights random): both modules loaded in one process as two backends (each with its own memory and
 * worker threads), a layer made on each from the same draws, calls alternating between them (the order swapped
 * every round), medians compared, and the largest difference between their outputs. Run by run.sh, which builds
 * the two revisions; the bench's sections run one build per process, where this machine's drift between runs
 * hides differences of 10–20%. The module loaded second ran up to 1.15× faster than the first with the same build
 * in both (2026-12-02, Zen 5, the collapsed inference and forward at k = 2–4): LOAD=new-first loads NEW first,
 * and run.sh runs both orders and gives the geometric mean of their ratios.
 *   node --import tsx bench/wasm-ab/ab.ts OLD.wasm NEW.wasm [forms] [k list]
 * forms (comma-separated): forward (train forward), backward (the backward pass with the input gradient, after the
 * gradients are cleared and an untimed train forward), infer (collapsed inference, N = 256), infer1 (collapsed inference of one example).
 * ROUNDS (default 15) sets the rounds, CALLS (default 3) the timed calls per round after one untimed (infer1: 20 times
 * as many).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { Rng } from '../../src/core/rng.js';
import { matrix, type Matrix } from '../../src/core/tensor.js';
import { registerBackend, setBackend } from '../../src/kernels/backend.js';
import { loadWasmBackend } from '../../src/kernels/wasm/index.js';
import { TreeGated } from '../../src/layers/tree.js';

const [oldPath, newPath, formList = 'forward,backward,infer,infer1', kList = '4,6,8'] = process.argv.slice(2);
if (!oldPath || !newPath) {
  console.error('usage: ab.ts OLD.wasm NEW.wasm [forms] [k list]');
  process.exit(2);
}
const n = 512, m = 512, N = 256, ROUNDS = Number(process.env.ROUNDS ?? 15), CALLS = Number(process.env.CALLS ?? 3);
const names = ['old', 'new'];
const newFirst = process.env.LOAD === 'new-first';
for (const i of newFirst ? [1, 0] : [0, 1]) {
  const be = loadWasmBackend(new Uint8Array(readFileSync([oldPath, newPath][i])));
  Object.defineProperty(be, 'name', { value: `wasm-${names[i]}` });
  registerBackend(be);
}
const rng = new Rng(23);
const random = (rows: number, cols: number, scale = 1): Matrix =>
  matrix(rows, cols, Float32Array.from({ length: rows * cols }, () => rng.normal() * scale));
const x = random(N, n), dy = random(N, m, 1e-3), x1 = random(1, n);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

type Form = (L: TreeGated) => Float32Array;
/** each form's call, what runs untimed before each, and its calls per round in units of CALLS (short calls: more) */
const FORMS: Record<string, { timed: Form; before?: (L: TreeGated) => void; scale?: number }> = {
  forward: { timed: (L) => L.forward(x, 'train').data },
  backward: {
    before: (L) => {
      for (const p of L.params()) p.clearGrad(); // a fresh gradient, as each training step starts with
      L.forward(x, 'train');
    },
    timed: (L) => L.backward(dy, true)!.data,
  },
  infer: { timed: (L) => L.forward(x, 'infer').data },
  infer1: { timed: (L) => L.forward(x1, 'infer').data, scale: 20 },
};
const forms = formList.split(',');
for (const f of forms) if (!FORMS[f]) throw new Error(`unknown form '${f}' (forms: ${Object.keys(FORMS).join(', ')})`);

console.log(`wasm A/B, ${new Date().toISOString()}, node ${process.version}, ${newFirst ? 'new' : 'old'} loaded first\n  old ${oldPath}\n  new ${newPath}`);
console.log('| form | k | old | new | old ÷ new | max abs difference |\n|---|---:|---:|---:|---:|---:|');
for (const k of kList.split(',').map(Number)) {
  const draws = rng.fork().getState(), weights = rng.fork().getState();
  const layers = names.map((name) => {
    setBackend(`wasm-${name}`);
    const L = new TreeGated({ inputSize: n, outputSize: m, depth: k, gating: 'units', gateUnits: Array.from({ length: k }, (_, d) => d) })
      .init(Rng.fromState(draws));
    const w = L.weight[0].data, r = Rng.fromState(weights);
    for (let i = 0; i < w.length; i++) w[i] = r.normal() * 0.05;
    L.weight[0].version++;
    return L;
  });
  for (const f of forms) {
    const { timed, before, scale = 1 } = FORMS[f], calls = CALLS * scale;
    const times: number[][] = [[], []], outs: Float32Array[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const i of round % 2 ? [1, 0] : [0, 1]) {
        setBackend(`wasm-${names[i]}`);
        const L = layers[i];
        before?.(L);
        timed(L);
        let t = 0;
        for (let c = 0; c < calls; c++) {
          before?.(L);
          const t0 = now();
          outs[i] = timed(L);
          t += now() - t0;
        }
        times[i].push(t / calls);
      }
    }
    const [a, b] = times.map(median);
    let diff = 0;
    for (let e = 0; e < outs[0].length; e++) diff = Math.max(diff, Math.abs(outs[0][e] - outs[1][e]));
    console.log(`| ${f} | ${k} | ${a.toFixed(3)} ms | ${b.toFixed(3)} ms | ${(a / b).toFixed(3)}× | ${diff.toExponential(2)} |`);
    if (process.env.AB_JSON) appendFileSync(process.env.AB_JSON, `${JSON.stringify({ form: f, k, old: a, new: b })}\n`);
  }
  for (const L of layers) L.dispose();
}
