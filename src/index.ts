/**
 * treegate — tree-structured conditional weight layers (Cho & Bengio 2014), for Node.
 * Everything in src/portable.ts, plus the native and file-system parts. Importing this module makes
 * the first kernel call pick the fastest backend (native, else wasm, else js); see README.md.
 */
export * from './portable.js';

export { registerAvailableBackends, selectBackend, type BackendChoice } from './kernels/select.js';
export { machine, nativeBackend, type MachineFigures } from './kernels/native/index.js';
export { loadWasmBackend } from './kernels/wasm/index.js';

export { loadMnist } from './data/mnist.js';
export { prepareMnist, mnistTestSet, type PreparedData, type PrepareOptions } from './data/prepare.js';

export { loadModel, saveModel } from './io/model-file.js';
export { writeFileAtomic } from './io/atomic.js';
