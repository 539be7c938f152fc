/**
 * A web app's use of the package as its users compile it (test/types/tsconfig.browser.json: the DOM, no Node types,
 * skipLibCheck off, so that the browser build's .d.ts files are checked without @types/node): the wasm kernels from
 * a URL, training, the model offered as a download. Type-checked by `npm run typecheck`, never run.
 */
import { Model, Rng, Trainer, decodeModel, encodeModel, matrix, mlpConfig, useWasm, type WasmBackend } from 'treegate/browser';

const wasm: WasmBackend = await useWasm(new URL('treegate/treegate-threads.wasm', import.meta.url), { threads: 2 });
await wasm.whenStarted();
const rng = new Rng(1);
const model = new Model(mlpConfig({ inputSize: 2, numClasses: 3, hidden: [32], treeLayers: [1], depth: 3, gating: 'projection' }), rng.fork());
const x = matrix(4, 2, new Float32Array([0, 0, 1, 0, 0, 1, 1, 1])), y = new Int32Array([0, 1, 2, 1]);
const trainer = new Trainer(model, { x, y }, null, { epochs: 2, batchSize: 2 }, rng.fork());
while (!trainer.done) trainer.step();
const bytes = encodeModel(model);
const link = document.createElement('a');
link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
link.download = 'model.safetensors';
console.log(decodeModel(await (await fetch(link.href)).arrayBuffer(), 'download').predict(x).classes);
await useWasm(fetch('treegate.wasm'));
