/**
 * The part of the API that runs anywhere JavaScript does (Node, browsers, bundlers): no file system,
 * no native addon. src/index.ts (Node) and src/browser.ts add what their platform has.
 */
export { OutOfMemoryError, TreegateError } from './core/errors.js';
export { Rng } from './core/rng.js';
export { matrix, type Matrix } from './core/tensor.js';

export { backend, backendNames, registerBackend, setBackend, jsBackend, type Backend } from './kernels/backend.js';
export { Routing, nodeCount, nodeDepth } from './kernels/routing.js';
export type { PackNodes, RoutedForward } from './kernels/grouped.js';
export type { GroupedBackwardWeightStep, PathWeightStep, WeightStep } from './kernels/weight-step.js';
export type { ThreadHost, WorkerData } from './kernels/wasm/threads.js';
export { createWasmBackend, loadWasmBackendAsync, type WasmBackend, type WasmOptions } from './kernels/wasm/core.js';

export { Activation } from './layers/activation.js';
export { Dense } from './layers/dense.js';
export { TreeGated, type TreeOptions } from './layers/tree.js';
export { MixtureOfExperts, type MoeOptions } from './layers/moe.js';
export { Param } from './layers/param.js';
export { denseOfEqualParams, parameterCount } from './layers/equal-params.js';
export { Model, mlpConfig, paramShapes, type DataInfo, type Evaluation, type InputNormalization, type MlpOptions, type ModelConfig, type Prediction, type TreeStats } from './layers/model.js';
export { isRouted } from './layers/layer.js';
export type {
  ActivationConfig, ActivationFn, DenseConfig, EarlyStep, GatingSource, Layer, LayerConfig, LeafUsage, Macs, MoeConfig, Mode, NodeInit, RoutedLayer, TreeConfig,
} from './layers/layer.js';

export { Optimizer, learningRate, type AdamConfig, type OptimizerConfig, type OptimizerKind, type ScheduleKind, type SgdConfig } from './train/optim.js';
export {
  train, epochsWithoutGain, findNonFinite, NonFiniteError, plateauCuts, PLATEAU_DEFAULTS, Trainer, TRAIN_OPTION_DEFAULTS, type EpochMetrics, type LabeledData, type NonFinitePolicy, type ResolvedTrainOptions, type StepInfo, type TrainOptions, type TrainProgress, type TrainResult,
} from './train/trainer.js';

export { computeNormalization, normalize, normalizeInPlace, normalizeInputs, splitValidation, subset, takeFirst, type Dataset, type Normalization, type Split } from './data/dataset.js';
export { readIdx } from './data/idx.js';
export { coarseWarning, parseCsv, type CoarseColumn, type CsvData, type CsvOptions } from './data/csv.js';
export { makeMemorization, MEMORIZATION_DEFAULTS, type MemorizationOptions } from './data/memorization.js';

export { decodeModel, encodeModel, encodeModelParts, modelFromTensors, MODEL_FORMAT } from './io/model-codec.js';
export { CHECKPOINT_FORMAT, decodeCheckpoint, encodeCheckpoint, encodeCheckpointParts, type DecodedCheckpoint, type RunState, type RunToSave } from './io/checkpoint-codec.js';
export { bytesSource, decodeSafetensors, encodeSafetensors, joinParts, readSafetensors, safetensorsParts, type ByteSource, type FileBytes, type StoredTensor, type TensorEntry } from './io/safetensors.js';
