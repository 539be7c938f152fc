import type { Matrix } from '../core/tensor.js';
import type { WeightStep } from '../kernels/weight-step.js';
import type { Param } from './param.js';

/**
 * The optimizer's step of this batch, offered to layers during backward (the trainer's fused step): a layer may
 * apply it to a parameter as soon as that parameter's gradient is complete (and its weights no longer needed by
 * the backward pass), instead of leaving the gradient for the optimizer's step.
 */
export interface EarlyStep {
  /** p's update in this step; null where p is not the optimizer's (a frozen parameter), which then keeps its gradient */
  weightStep(p: Param): WeightStep | null;
}

/** How a forward pass runs: `train` caches what backward needs; `infer` may use collapsed tables. */
export type Mode = 'train' | 'infer';

export type ActivationFn = 'relu' | 'tanh';
export type GatingSource = 'units' | 'projection';
export type NodeInit = 'zero' | 'small';

export interface DenseConfig { kind: 'dense'; inputSize: number; outputSize: number }
export interface ActivationConfig { kind: 'activation'; fn: ActivationFn }
/**
 * A routed layer: `tree` sums the nodes on the path (DESIGN §1); `flat` is the
 * ablation with 2^k independent leaf matrices picked by the same bits, no sharing.
 */
export interface TreeConfig {
  kind: 'tree' | 'flat';
  inputSize: number;
  outputSize: number;
  depth: number;
  blocks: number;
  gating: GatingSource;
  /** units gating: indices within each block's input slice, one per depth (default 0..k−1) */
  gateUnits?: number[];
  /** initialization of non-root nodes (default zero) */
  nodeInit?: NodeInit;
  /** per-depth decay factor γ: node at depth d is decayed by λ·γ^d (default 1; flat: every leaf by λ·γ^k) */
  decayGamma?: number;
  /** projection gating: train the gaters with a straight-through estimator (default false: they stay at their initial values) */
  straightThrough?: boolean;
}
/** Mixture of experts (DESIGN §3 baseline): E experts, top-K softmax gating, load-balancing loss weight α. */
export interface MoeConfig { kind: 'moe'; inputSize: number; outputSize: number; experts: number; topK: number; balanceWeight: number }
/** A layer's config, by its kind (docs/format.md §3). */
export type LayerConfig = DenseConfig | ActivationConfig | TreeConfig | MoeConfig;

const TREE_KEYS = ['kind', 'inputSize', 'outputSize', 'depth', 'blocks', 'gating', 'gateUnits', 'nodeInit', 'decayGamma', 'straightThrough'];
/** The fields of each kind of layer config (a model's constructor refuses others; a model file's reader drops them). */
export const LAYER_KEYS: Readonly<Record<LayerConfig['kind'], readonly string[]>> = {
  dense: ['kind', 'inputSize', 'outputSize'],
  activation: ['kind', 'fn'],
  tree: TREE_KEYS,
  flat: TREE_KEYS,
  moe: ['kind', 'inputSize', 'outputSize', 'experts', 'topK', 'balanceWeight'],
};

/** Multiply-adds per example. */
export interface Macs { training: number; inference: number }

/** Leaf usage of a tree-gated layer: counts per block and leaf, since the last reset. */
export interface LeafUsage { blocks: number; leaves: number; counts: Float64Array[] }

export interface Layer {
  readonly kind: LayerConfig['kind'];
  readonly inputSize: number;
  readonly outputSize: number;
  config(): LayerConfig;
  params(): Param[];
  /** (N, inputSize) → (N, outputSize). The returned matrix is owned by the layer and reused by the next call. */
  forward(x: Matrix, mode: Mode): Matrix;
  /**
   * Given dL/dy for the last `train` forward, accumulates parameter gradients and returns dL/dx (or null). With
   * `early`, a layer may instead apply this step's update to parameters that hold no gradient yet (EarlyStep).
   */
  backward(dy: Matrix, needInputGrad: boolean, early?: EarlyStep): Matrix | null;
  parameterCount(): number;
  macs(): Macs;
  /**
   * Gives its parameters' arrays and its inference tables back to the backend that made them (Param.dispose);
   * the layer cannot run afterwards.
   */
  dispose(): void;
}

/** A layer that routes each example to some of its leaves (tree, flat) or experts (moe). */
export interface RoutedLayer extends Layer {
  leafUsage(): LeafUsage;
  resetUsage(): void;
  /** Sets the counts (a checkpoint's): one array per block, one count per leaf. */
  restoreUsage(counts: ArrayLike<number>[]): void;
}

/** Whether a layer routes examples (tree, flat, moe): it counts leaf usage, which reports and checkpoints keep. */
export function isRouted(l: Layer): l is RoutedLayer {
  return typeof (l as Partial<RoutedLayer>).leafUsage === 'function';
}
