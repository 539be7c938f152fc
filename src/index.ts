/**
 * treegate — tree-structured conditional weight layers (Cho & Bengio 2014).
 * One entry point for the library; see README.md for a walk-through.
 */
export { TreegateError } from './core/errors.js';
export { Rng } from './core/rng.js';
export { matrix, type Matrix } from './core/tensor.js';

export { backend, backendNames, registerBackend, setBackend, jsBackend, type Backend } from './kernels/backend.js';
export { Routing, nodeCount, nodeDepth } from './kernels/routing.js';
export { registerAvailableBackends, selectBackend, type BackendChoice } from './kernels/select.js';
export { machine, nativeBackend, type MachineFigures } from './kernels/native/index.js';

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

export { computeNormalization, normalize, splitValidation, subset, takeFirst, type Dataset, type Normalization } from './data/dataset.js';
export { loadMnist } from './data/mnist.js';
export { prepareMnist, mnistTestSet, type PreparedData, type PrepareOptions } from './data/prepare.js';
export { readIdx } from './data/idx.js';

export { decodeModel, encodeModel, loadModel, saveModel, MODEL_FORMAT } from './io/model-file.js';
export { decodeSafetensors, encodeSafetensors, type TensorEntry } from './io/safetensors.js';
export { writeFileAtomic } from './io/atomic.js';
