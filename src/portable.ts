/**
 * The part of the API that runs anywhere JavaScript does (Node, browsers, bundlers): no file system,
 * no native addon. src/index.ts (Node) and src/browser.ts add what their platform has.
 */
export { TreegateError } from './core/errors.js';
export { Rng } from './core/rng.js';
export { matrix, type Matrix } from './core/tensor.js';

export { backend, backendNames, registerBackend, setBackend, jsBackend, type Backend } from './kernels/backend.js';
export { Routing, nodeCount, nodeDepth } from './kernels/routing.js';
export { createWasmBackend, loadWasmBackendAsync } from './kernels/wasm/core.js';

export { Activation } from './layers/activation.js';
export { Dense } from './layers/dense.js';
export { TreeGated, type TreeOptions } from './layers/tree.js';
export { Param } from './layers/param.js';
export { Model, mlpConfig, type InputNormalization, type MlpOptions, type ModelConfig, type TreeStats } from './layers/model.js';
export type {
  ActivationConfig, ActivationFn, DenseConfig, GatingSource, Layer, LayerConfig, LeafUsage, Macs, Mode, NodeInit, TreeConfig,
} from './layers/layer.js';

export { Optimizer, learningRate, type OptimizerConfig, type OptimizerKind, type ScheduleKind } from './train/optim.js';
export { train, type EpochMetrics, type LabeledData, type StepInfo, type TrainOptions } from './train/trainer.js';

export { computeNormalization, normalize, normalizeInPlace, splitValidation, subset, takeFirst, type Dataset, type Normalization } from './data/dataset.js';
export { readIdx } from './data/idx.js';

export { decodeModel, encodeModel, MODEL_FORMAT } from './io/model-codec.js';
export { decodeSafetensors, encodeSafetensors, type TensorEntry } from './io/safetensors.js';
