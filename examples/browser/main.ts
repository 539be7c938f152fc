/// <reference lib="dom" />
/**
 * treegate in a web page: three interleaved spirals, a tree-gated MLP trained on them with the WebAssembly
 * kernels (on web workers where the page is cross-origin isolated), the decision regions drawn after every
 * epoch, and the trained model offered as a download. Built by `npm run example:browser` (see README.md).
 */
import { backend, encodeModel, matrix, mlpConfig, Model, Rng, Trainer, useWasm, type Matrix } from 'treegate';

const CLASSES = 3, PER_CLASS = 600, EPOCHS = 40, SEED = 1;
/** The decision regions: the model's class on a GRID × GRID lattice, drawn scaled up to the canvas. */
const GRID = 120;
/** One colour a spiral: blue, orange and bluish green of Okabe and Ito's palette, told apart in colour-blind vision. */
const COLORS: Array<[number, number, number]> = [[0, 114, 178], [230, 159, 0], [0, 158, 115]];

/** n points per arm of `CLASSES` spiral arms of one and a half turns in the unit disc, at random radii, with noise. */
function spirals(n: number, rng: Rng): { x: Matrix; y: Int32Array } {
  const x = new Float32Array(CLASSES * n * 2), y = new Int32Array(CLASSES * n);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < n; i++) {
      const r = 0.05 + 0.95 * rng.uniform(), angle = (2 * Math.PI * c) / CLASSES + 3 * Math.PI * r + 0.15 * rng.normal();
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

/** The lattice of inputs the regions are drawn from, row by row from the top left, in [-1, 1]². */
const lattice = (() => {
  const g = new Float32Array(GRID * GRID * 2);
  for (let gy = 0; gy < GRID; gy++) for (let gx = 0; gx < GRID; gx++) {
    g[2 * (gy * GRID + gx)] = (2 * gx) / (GRID - 1) - 1;
    g[2 * (gy * GRID + gx) + 1] = 1 - (2 * gy) / (GRID - 1);
  }
  return matrix(GRID * GRID, 2, g);
})();

/** The model's class at every lattice point, tinted and scaled up to the canvas, then the training points. */
function draw(model: Model, data: { x: Matrix; y: Int32Array }): void {
  const logits = model.forward(lattice, 'infer');
  model.resetUsage(); // the lattice is not data: keep it out of the leaf usage the model counts
  const cells = new ImageData(GRID, GRID);
  for (let p = 0; p < GRID * GRID; p++) {
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (logits.data[p * CLASSES + c] > logits.data[p * CLASSES + best]) best = c;
    const [r, g, b] = COLORS[best];
    cells.data.set([255 - (255 - r) * 0.35, 255 - (255 - g) * 0.35, 255 - (255 - b) * 0.35, 255], 4 * p);
  }
  const small = document.createElement('canvas');
  small.width = small.height = GRID;
  small.getContext('2d')!.putImageData(cells, 0, 0);
  const canvas = $<HTMLCanvasElement>('plot'), ctx = canvas.getContext('2d')!, W = canvas.width, H = canvas.height;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, W, H);
  for (let i = 0; i < data.y.length; i++) {
    const [r, g, b] = COLORS[data.y[i]];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(((data.x.data[2 * i] + 1) / 2) * (W - 1) - 1.5, ((1 - data.x.data[2 * i + 1]) / 2) * (H - 1) - 1.5, 3, 3);
  }
}

async function main(): Promise<void> {
  // web workers need a shared memory, which a browser gives only to a cross-origin isolated page (serve.mjs sends
  // the two headers): there the threads module, elsewhere the one-thread module; the same model bytes either way
  const file = crossOriginIsolated ? 'treegate-threads.wasm' : 'treegate.wasm';
  const wasm = await useWasm(new URL(file, import.meta.url));
  const { threads } = wasm.info();
  log(`backend ${backend().name} (${file}), kernels on ${threads} thread${threads > 1 ? 's' : ''}` +
    (crossOriginIsolated ? '' : ': the page is not cross-origin isolated, so no web workers (serve it with Cross-Origin-Opener-Policy: same-origin and ' +
      `Cross-Origin-Embedder-Policy: require-corp${isSecureContext ? '' : ', over https or from localhost: browsers ignore those headers on http elsewhere'})`));

  const rng = new Rng(SEED);
  const train = spirals(PER_CLASS, rng.fork()), test = spirals(PER_CLASS / 2, rng.fork());
  // 2 → 64 → 64 → 3, the second linear layer a depth-4 tree: 16 leaves, one 64×64 product per example
  const model = new Model(mlpConfig({ inputSize: 2, numClasses: CLASSES, hidden: [64, 64], treeLayers: [2], depth: 4, gating: 'projection' }), rng.fork());
  log(`${model.parameterCount().toLocaleString('en-US')} parameters; ${model.macs().inference.toLocaleString('en-US')} multiply-adds per example at inference`);
  const trainer = new Trainer(model, train, null, { epochs: EPOCHS, batchSize: 32, lr: 3e-3, schedule: 'cosine', optimizer: { kind: 'adam' } }, rng.fork());
  let training = 0, drawing = 0;
  while (!trainer.done) {
    const epoch = trainer.progress.epoch, t0 = performance.now();
    while (!trainer.done && trainer.progress.epoch === epoch) trainer.step();
    const t1 = performance.now();
    const e = trainer.progress.history[trainer.progress.history.length - 1];
    $('status').textContent = `epoch ${e.epoch} of ${EPOCHS}: loss ${e.trainLoss.toFixed(3)}, training accuracy ${(100 * e.trainAccuracy).toFixed(1)}%`;
    draw(model, train);
    training += t1 - t0;
    drawing += performance.now() - t1;
    // let the page paint this epoch: the next frame, or 50 ms where there is none (a hidden tab has no frames)
    await Promise.race([new Promise(requestAnimationFrame), new Promise((ok) => setTimeout(ok, 50))]);
  }
  model.resetUsage();
  const { accuracy } = model.evaluate(test.x, test.y);
  const stats = model.treeStats()[0]; // leaf usage over the test points
  log(`trained ${EPOCHS} epochs in ${(training / 1000).toFixed(1)} s (and drew them in ${(drawing / 1000).toFixed(1)} s); ` +
    `test accuracy ${(100 * accuracy).toFixed(1)}% on ${test.y.length} new points; the tree's ${stats.leaves} leaves on them: ` +
    `balance ${stats.balance.toFixed(2)}, ${stats.deadLeaves} never used`);

  const link = $<HTMLAnchorElement>('download');
  link.href = URL.createObjectURL(new Blob([encodeModel(model)], { type: 'application/octet-stream' }));
  link.hidden = false;
  $('status').textContent += ' — done';
  // for test/browser/example.test.ts, which runs this page headless (not something an app needs)
  (window as unknown as { treegateExample: unknown }).treegateExample = { accuracy, epochs: EPOCHS, backend: backend().name, threads, workerParts: wasm.info().workerParts };
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  $('status').textContent = `failed: ${message}`;
  log(`failed: ${message}`);
  (window as unknown as { treegateExample: unknown }).treegateExample = { failed: String(e instanceof Error ? e.stack : e) };
});
