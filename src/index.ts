/**
 * treegate — tree-structured conditional weight layers (Cho & Bengio 2014), for Node.
 * Everything in src/portable.ts, plus the native and file-system parts. Importing this module makes
 * the first kernel call pick the fastest backend (native, else wasm, else js); see README.md.
 */
export * from './portable.js';

export { registerAvailableBackends, selectBackend, setThreads, threadCount, type BackendChoice } from './kernels/select.js';
export { machine, nativeBackend, type MachineFigures, type NativeInfo } from './kernels/native/index.js';
export { loadWasmBackend, type WasmBackend } from './kernels/wasm/index.js';
// the browser's loader too, so that code written for a page also runs where a server build (SSR) takes this entry
export { useWasm } from './browser.js';

export { loadMnist, type MnistOptions } from './data/mnist.js';
export { DATASETS, dataInfo, datasetShape, prepareData, prepareMnist, mnistTestSet, type CsvSource, type DatasetName, type PreparedData, type PrepareOptions } from './data/prepare.js';
export { FASHION_CLASSES, loadFashionMnist } from './data/fashion.js';
export { readCsv, MAX_CSV_BYTES } from './data/csv-file.js';

export { loadModel, saveModel } from './io/model-file.js';
export { writeFileAtomic, type FileContents } from './io/atomic.js';
export { listCheckpoints, loadNewestCheckpoint, writeCheckpoint, type LoadedCheckpoint } from './io/checkpoint.js';
export { renderReport, type Chart, type Report, type Section, type Series, type Table, type Trace } from './report/html.js';
export { trainingReport, type TrainedRun } from './report/training.js';
export {
  aggregate, completeResult, fit, type AggRow, type ExperimentOptions, type ExperimentResult, type ExperimentRun, type FitResult, type Provenance, type Resumed, type Interruption, type Row,
  type Stat,
  type TrainSettings,
} from './experiments/common.js';
export { experimentReport, readExperimentResult } from './experiments/results.js';
export { runMemorization } from './experiments/memorization.js';
export { runAccuracy } from './experiments/accuracy.js';
export { runGating } from './experiments/gating.js';
export { runSpeed } from './experiments/speed.js';
