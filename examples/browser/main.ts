/// <reference lib="dom" />
/**
 * treegate in a web page: three interleaved spirals, a tree-gated MLP trained on them with the WebAssembly
 * kernels (on web workers where the page is cross-origin isolated), the decision regions drawn after every
 * epoch, and the trained model offered as a download. Built by `npm run example:browser` (see README.md).
 */
import { backend, encodeModel, matrix, mlpConfig, Model, Rng, Trainer, useWasm, type Matrix } from 'treegate';

const CLASSES = 3, PER_CLASS = 600, EPOCHS = 40, SEED = 1;
const COLORS: Array<[number, number, number]> = [[228, 87, 46], [41, 128, 185], [39, 174, 96]];

/** n points per arm of `CLASSES` spiral arms in [-1, 1]², with noise; the label is the arm. */
function spirals(n: number, rng: Rng): { x: Matrix; y: Int32Array } {
  const x = new Float32Array(CLASSES * n * 2), y = new Int32Array(CLASSES * n);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < n; i++) {
      const r = i / n, angle = (2 * Math.PI * c) / CLASSES + 4 * r + 0.25 * rng.normal() * r;
      const row = c * n + i;
      x[2 * row] = r * Math.cos(angle);
      x[2 * row + 1] = r * Math.sin(angle);
      y[row] = c;
    }
  }
  return { x: matrix(CLASSES * n, 2, x), y };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = (line: string) => { $('log').textContent += `${line}\n`; };

/** The model's class at every pixel (one batch through the collapsed tree), tinted, then the training points. */
function draw(model: Model, data: { x: Matrix; y: Int32Array }): void {
  const canvas = $<HTMLCanvasElement>('plot'), ctx = canvas.getContext('2d')!;
  const W = canvas.width, H = canvas.height, grid = new Float32Array(W * H * 2);
  for (let py = 0; py < H; py++) for (let px = 0; px < W; px++) {
    grid[2 * (py * W + px)] = (2 * px) / (W - 1) - 1;
    grid[2 * (py * W + px) + 1] = 1 - (2 * py) / (H - 1);
  }
  const logits = model.forward(matrix(W * H, 2, grid), 'infer');
  const image = ctx.createImageData(W, H);
  for (let p = 0; p < W * H; p++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (logits.data[p * CLASSES + c] > logits.data[p * CLASSES + best]) best = c;
    const [r, g, b] = COLORS[best];
    image.data.set([255 - (255 - r) * 0.35, 255 - (255 - g) * 0.35, 255 - (255 - b) * 0.35, 255], 4 * p);
  }
  ctx.putImageData(image, 0, 0);
  for (let i = 0; i < data.y.length; i++) {
    const [r, g, b] = COLORS[data.y[i]];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(((data.x.data[2 * i] + 1) / 2) * (W - 1) - 1.5, ((1 - data.x.data[2 * i + 1]) / 2) * (H - 1) - 1.5, 3, 3);
  }
}

async function main(): Promise<void> {
  // the shared-memory module: web workers where the page is cross-origin isolated (serve.mjs sends the headers)
  const wasm = await useWasm(new URL('treegate-threads.wasm', location.href));
  const threads = wasm.info().maxThreads;
  log(`backend ${backend().name}, ${threads} thread${threads > 1 ? 's' : ''}${crossOriginIsolated ? '' : ' (the page is not cross-origin isolated)'}`);

  const rng = new Rng(SEED);
  const train = spirals(PER_CLASS, rng.fork()), test = spirals(PER_CLASS / 2, rng.fork());
  // 2 → 64 → 64 → 3, the second linear layer a depth-4 tree: 16 leaves, one 64×64 product per example
  const model = new Model(mlpConfig({ inputSize: 2, numClasses: CLASSES, hidden: [64, 64], treeLayers: [2], depth: 4, gating: 'projection' }), rng.fork());
  log(`${model.parameterCount().toLocaleString('en-US')} parameters; ${model.macs().inference.toLocaleString('en-US')} multiply-adds per example at inference`);
  const trainer = new Trainer(model, train, null, { epochs: EPOCHS, batchSize: 32, lr: 3e-3, schedule: 'cosine', optimizer: { kind: 'adam' } }, rng.fork());
  const t0 = performance.now();
  while (!trainer.done) {
    const epoch = trainer.progress.epoch;
    while (!trainer.done && trainer.progress.epoch === epoch) trainer.step();
    const e = trainer.progress.history[trainer.progress.history.length - 1];
    $('status').textContent = `epoch ${e.epoch} of ${EPOCHS}: loss ${e.trainLoss.toFixed(3)}, training accuracy ${(100 * e.trainAccuracy).toFixed(1)}%`;
    draw(model, train);
    await new Promise((ok) => setTimeout(ok, 0)); // let the page paint
  }
  const seconds = (performance.now() - t0) / 1000;
  const { accuracy } = model.evaluate(test.x, test.y);
  const stats = model.treeStats()[0];
  log(`trained ${EPOCHS} epochs in ${seconds.toFixed(1)} s; test accuracy ${(100 * accuracy).toFixed(1)}%; ` +
    `the tree's ${stats.leaves} leaves: balance ${stats.balance.toFixed(2)}, ${stats.deadLeaves} never used`);

  const bytes = encodeModel(model);
  const link = $<HTMLAnchorElement>('download');
  // encodeModel's bytes are a new ArrayBuffer (the type says ArrayBufferLike, which Blob's type refuses)
  link.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  link.hidden = false;
  (window as unknown as { treegateExample: unknown }).treegateExample = { accuracy, epochs: EPOCHS, backend: backend().name, threads, modelBytes: bytes.length };
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? e.message : String(e)}`);
  (window as unknown as { treegateExample: unknown }).treegateExample = { failed: String(e instanceof Error ? e.stack : e) };
});
