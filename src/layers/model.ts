import { check, checkInt, checkKeys, isObject, shown, TreegateError } from '../core/errors.js';
import { copyNormalization, normalizationProblem, type InputNormalization } from '../core/normalization.js';
import { Rng } from '../core/rng.js';
import { checkFinite, checkLabels, checkShape, matrix, Scratch, type Matrix } from '../core/tensor.js';
import { backend } from '../kernels/backend.js';
import { Activation } from './activation.js';
import { Dense } from './dense.js';
import { isRouted, LAYER_KEYS, type EarlyStep, type Layer, type LayerConfig, type Macs, type Mode, type RoutedLayer } from './layer.js';
import { MixtureOfExperts, MOE_DEFAULTS } from './moe.js';
import type { Param } from './param.js';
import { blocksFix, MAX_DEPTH, TreeGated } from './tree.js';

export type { InputNormalization } from '../core/normalization.js';

/**
 * What a model was trained on, so that eval can find its test set: the dataset's name, its class names (index = class:
 * a CSV file's, Fashion-MNIST's; none for MNIST, whose classes are their numbers) and a CSV file's feature names (its
 * header's, in column order; where it had one). See dataInfo.
 */
export interface DataInfo {
  dataset: string; labels?: string[]; features?: string[];
  /** a CSV model's label column (0-based) in its files' lines, where it is not the last: eval and inspect read test files so */
  labelColumn?: number;
}

/**
 * A model, as `new Model(config, rng)` builds it and its file records it (docs/format.md §3): the layers in order,
 * with how its inputs are normalized and what it was trained on. `mlpConfig` makes one.
 */
export interface ModelConfig {
  inputSize: number;
  numClasses: number;
  normalization?: InputNormalization;
  data?: DataInfo;
  layers: LayerConfig[];
}
/** The fields of a model config and of its data info (the constructor refuses others; a model file's reader drops them). */
export const MODEL_KEYS: readonly string[] = ['inputSize', 'numClasses', 'normalization', 'data', 'layers'];
export const DATA_KEYS: readonly string[] = ['dataset', 'labels', 'features', 'labelColumn'];

/**
 * Balance and dead leaves of one routed layer (tree, flat or moe) over the leaf
 * counts since the last reset: balance is the entropy of leaf usage divided by
 * ln(leaves) (k·ln 2 for a tree), averaged over blocks; 1 with a single leaf.
 * Where no example was counted since the reset (as after a Trainer's last epoch,
 * which resets the counts: its history holds each epoch's stats), balance is NaN
 * and deadLeaves 0: there is nothing to judge.
 */
export interface TreeStats {
  /** the layer's number among the model's linear layers, from 1, as --tree-layers counts them (activations not counted) */
  layer: number; kind: 'tree' | 'flat' | 'moe';
  /** leaves (experts) of one block: 2^k (E) */
  leaves: number;
  blocks: number;
  /** the blocks' mean balance: each block's entropy of leaf usage over ln(leaves), in [0, 1] */
  balance: number;
  /** the leaves no example used, counted over all blocks × leaves (not of one block's leaves) */
  deadLeaves: number;
  /** per block, each leaf's count of examples */
  usage: number[][];
}

/**
 * What Model.evaluate returns: the mean cross-entropy loss, the fraction of examples classified right, and how many
 * examples' outputs overflowed float32 (inputs far outside what the model was trained on): those have no class, so
 * they count as wrong, and the loss is then not finite.
 */
export interface Evaluation {
  loss: number; accuracy: number; overflowed: number;
  /** each example's class, as predict gives it (−1 where its outputs overflowed) */
  classes: Int32Array;
}

/**
 * What Model.predict returns: each example's class (index) and its class probabilities (rows × classes, softmax).
 * `overflowed` counts the examples whose outputs overflowed float32 (inputs far outside what the model was trained
 * on): their class is −1 (none) and their probabilities are NaN.
 */
export interface Prediction { classes: Int32Array; probabilities: Matrix; overflowed: number }

/**
 * The class of the example whose logits are `logits[o … o + C)`: the largest logit (the first of equal ones), or −1
 * where the logits overflowed (a NaN among them, or a largest one that is infinite: no softmax to take).
 */
function classOf(logits: Float32Array, o: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (logits[o + c] > logits[o + best]) best = c;
  if (!Number.isFinite(logits[o + best])) return -1;
  for (let c = 0; c < C; c++) if (Number.isNaN(logits[o + c])) return -1;
  return best;
}

/** A stack of layers ending in class logits, trained with softmax cross-entropy. */
export class Model {
  readonly layers: Layer[];
  private dlogits = new Scratch();

  constructor(readonly config: ModelConfig, rng?: Rng) {
    check(isObject(config), 'a model config must be an object',
      'make one with mlpConfig(…), or as docs/format.md §3 lays it out');
    checkKeys(config, MODEL_KEYS, 'model config');
    check(rng === undefined || rng instanceof Rng, 'a model\'s second argument must be an Rng (its initialization), or nothing (zeros, for weights to load)');
    checkInt(config.inputSize, 'model input size', 1);
    checkInt(config.numClasses, 'model class count', 2);
    check(Array.isArray(config.layers) && config.layers.length > 0, 'model has no layers');
    if (config.normalization !== undefined) {
      // applied to every input the model reads from a file; a model file holding others would not load
      const problem = normalizationProblem(config.normalization, config.inputSize);
      check(problem === undefined, `model input ${problem}`);
    }
    const d = config.data;
    if (d !== undefined) {
      check(typeof d === 'object' && d !== null && typeof d.dataset === 'string', 'model data info needs a dataset name');
      checkKeys(d, DATA_KEYS, 'model data info');
      const strings = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((l) => typeof l === 'string');
      // a class name twice would make predictions ambiguous (features are matched by position: files of 2026-12-01
      // to 12-04 may name two alike)
      check(d.labels === undefined || (strings(d.labels, config.numClasses) && new Set(d.labels).size === config.numClasses),
        `model data info: labels must be ${config.numClasses} distinct strings, one per class`);
      check(d.features === undefined || strings(d.features, config.inputSize), `model data info: features must be ${config.inputSize} strings, one per input`);
      check(d.labelColumn === undefined || (Number.isInteger(d.labelColumn) && d.labelColumn >= 0 && d.labelColumn < config.inputSize),
        `model data info: labelColumn must be a column index in 0 … ${config.inputSize - 1} (the last column, ${config.inputSize}, is the default and not recorded), got ${shown(d.labelColumn)}`);
    }
    let width = config.inputSize;
    this.layers = config.layers.map((c, i) => {
      const name = `layers.${i}`;
      check(typeof c === 'object' && c !== null, `${name}: a layer config must be an object`);
      if (Object.hasOwn(LAYER_KEYS, c.kind)) checkKeys(c, LAYER_KEYS[c.kind], `${name} (${c.kind})`);
      if (c.kind !== 'activation' && Object.hasOwn(LAYER_KEYS, c.kind)) {
        checkInt(c.inputSize, `${name}: ${c.kind} input size`, 1);
        check(c.inputSize === width, `${name}: ${c.kind} input size ${c.inputSize} does not match the ${width} outputs before it`);
      }
      let layer: Layer;
      if (c.kind === 'dense') {
        layer = new Dense(c.inputSize, c.outputSize, name);
        if (rng) (layer as Dense).init(rng);
      } else if (c.kind === 'tree' || c.kind === 'flat') {
        layer = new TreeGated(c, name);
        if (rng) (layer as TreeGated).init(rng);
      } else if (c.kind === 'moe') {
        layer = new MixtureOfExperts(c, name);
        if (rng) (layer as MixtureOfExperts).init(rng);
      } else if (c.kind === 'activation') {
        layer = new Activation(c.fn, width);
      } else {
        throw new TreegateError(`${name}: unknown layer kind '${(c as { kind: unknown }).kind}'`, 'use dense, tree, flat, moe or activation');
      }
      width = layer.outputSize;
      return layer;
    });
    check(width === config.numClasses, `the last layer has ${width} outputs but the model has ${config.numClasses} classes`);
  }

  get inputSize(): number {
    return this.config.inputSize;
  }

  /** The model's config as its file records it (docs/format.md §3): `new Model(model.toConfig())` builds its like. */
  toConfig(): ModelConfig {
    const c: ModelConfig = { inputSize: this.config.inputSize, numClasses: this.config.numClasses, layers: this.layers.map((l) => l.config()) };
    if (this.config.normalization) c.normalization = copyNormalization(this.config.normalization);
    if (this.config.data) c.data = { ...this.config.data, ...(this.config.data.labels ? { labels: [...this.config.data.labels] } : {}),
      ...(this.config.data.features ? { features: [...this.config.data.features] } : {}) };
    return c;
  }

  /**
   * Gives every layer's arrays back to the backend that made them (Layer.dispose): on the wasm backend their
   * memory is reused at once rather than after a major collection. The model cannot run afterwards.
   */
  dispose(): void {
    for (const l of this.layers) l.dispose();
    this.disposed = true;
  }

  private disposed = false;
  /** A disposed model's layers have no parameters left: a clear error rather than one from a kernel. */
  private alive(): void {
    check(!this.disposed, 'this model was disposed (Model.dispose gave its arrays back)', 'make or load a new model');
  }

  /** Every parameter of every layer, in layer order: what an Optimizer takes and a model file holds (by name). */
  params(): Param[] {
    this.alive();
    return this.layers.flatMap((l) => l.params());
  }

  treeLayers(): Array<{ index: number; layer: TreeGated }> {
    const out: Array<{ index: number; layer: TreeGated }> = [];
    this.layers.forEach((l, index) => { if (l instanceof TreeGated) out.push({ index, layer: l }); });
    return out;
  }

  /** Layers that route examples (tree, flat, moe), with their indices. */
  routedLayers(): Array<{ index: number; layer: RoutedLayer }> {
    const out: Array<{ index: number; layer: RoutedLayer }> = [];
    this.layers.forEach((l, index) => { if (isRouted(l)) out.push({ index, layer: l }); });
    return out;
  }

  /**
   * (N, inputSize) → logits (N, numClasses); the result is reused by the next call. Inference checks that the
   * inputs are finite; training does not (per step): the Trainer names a non-finite input of a batch whose loss
   * is not finite.
   */
  forward(x: Matrix, mode: Mode): Matrix {
    this.alive();
    check(mode === 'train' || mode === 'infer', `forward: mode must be 'train' or 'infer', got ${shown(mode)}`);
    checkShape(x, this.inputSize, 'model input');
    if (mode === 'infer') checkFinite(x, 'model input');
    return this.run(x, mode);
  }

  /** forward through every layer, for callers that have checked x */
  private run(x: Matrix, mode: Mode): Matrix {
    let h = x;
    for (const l of this.layers) h = l.forward(h, mode);
    return h;
  }

  /** Backward from dL/dlogits through every layer; the first layer's input gradient is skipped. `early`: Layer.backward. */
  backward(dlogits: Matrix, early?: EarlyStep): void {
    let g: Matrix | null = dlogits;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i].backward(g, i > 0, early);
  }

  clearGrad(): void {
    for (const p of this.params()) p.clearGrad();
  }

  /**
   * Picks the gating units of every tree layer that still needs them (units
   * gating without explicit gateUnits) from a batch of training inputs, layer
   * by layer, so that each layer sees the routing of the ones below it.
   */
  chooseGateUnits(x: Matrix): void {
    this.alive();
    checkShape(x, this.inputSize, 'gating batch');
    let h = x;
    for (const l of this.layers) {
      if (l instanceof TreeGated && l.gateUnitsPending) l.chooseGateUnits(h);
      h = l.forward(h, 'infer');
    }
    this.resetUsage();
  }

  /**
   * One training forward + backward on a batch: gradients accumulate into
   * params; returns the mean loss (cross-entropy plus the auxiliary losses of
   * mixture-of-experts layers) and the correct count. With `early` (the
   * trainer's fused step), layers may apply the optimizer's step to some
   * parameters during backward (Layer.backward); not when the loss is not
   * finite, so that a caller can still drop the step.
   */
  lossAndGrad(x: Matrix, labels: Int32Array, early?: EarlyStep): { loss: number; correct: number } {
    checkLabels(labels, x.rows, this.config.numClasses, 'training batch');
    const logits = this.forward(x, 'train');
    const N = logits.rows, C = logits.cols;
    const dl = this.dlogits.get(N * C);
    const r = backend().softmaxCrossEntropy(logits.data, N, C, labels, dl);
    let aux = 0;
    for (const l of this.layers) if (l instanceof MixtureOfExperts) aux += l.auxLoss();
    const loss = r.loss + aux;
    this.backward(matrix(N, C, dl), Number.isFinite(loss) ? early : undefined);
    return { loss, correct: r.correct };
  }

  /**
   * Mean loss and accuracy in inference mode (collapsed trees), in batches. The loss is not finite where the model's
   * outputs overflow float32 on some example (inputs far outside what it was trained on).
   */
  evaluate(x: Matrix, labels: Int32Array, batchSize = 1000): Evaluation {
    this.alive();
    checkShape(x, this.inputSize, 'evaluation input');
    check(x.rows > 0, 'the evaluation set is empty', 'evaluate one example or more');
    checkLabels(labels, x.rows, this.config.numClasses, 'evaluation');
    checkInt(batchSize, 'evaluation batch size', 1);
    checkFinite(x, 'evaluation input');
    let loss = 0, correct = 0, overflowed = 0;
    const D = x.cols, classes = new Int32Array(x.rows);
    for (let b = 0; b < x.rows; b += batchSize) {
      const rows = Math.min(batchSize, x.rows - b);
      const xb = matrix(rows, D, x.data.subarray(b * D, (b + rows) * D));
      const logits = this.run(xb, 'infer'); // x checked above, once
      loss += backend().softmaxCrossEntropy(logits.data, rows, logits.cols, labels.subarray(b, b + rows), null).loss * rows;
      // the classes as predict gives them (an example whose outputs overflowed has none: it is not counted right)
      for (let r = 0; r < rows; r++) {
        const c = classes[b + r] = classOf(logits.data, r * logits.cols, logits.cols);
        if (c < 0) overflowed++;
        else if (c === labels[b + r]) correct++;
      }
    }
    if (overflowed > 0 || !Number.isFinite(loss)) this.checkWeightsFinite();
    return { loss: loss / x.rows, accuracy: correct / x.rows, overflowed, classes };
  }

  /**
   * Where outputs did not come out finite, whether the weights are the cause rather than the inputs: a non-finite
   * weight (a training run that diverged, weights changed by hand) is an error naming it.
   */
  private checkWeightsFinite(): void {
    for (const p of this.params()) {
      const i = p.data.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) {
        throw new TreegateError(`the model's weight ${p.name}[${i}] is ${p.data[i]}: its outputs are not finite, whatever the inputs`,
          'the model is damaged (a training run that diverged, or weights set by hand): train it again, or load a saved one');
      }
    }
  }

  /**
   * Collapsed-leaf inference for new examples (normalized inputs, as `forward` takes): each one's class, the largest
   * logit (the first of equal ones, as `evaluate` counts), and its class probabilities (softmax, rows × classes).
   */
  predict(x: Matrix, batchSize = 1000): Prediction {
    this.alive();
    checkShape(x, this.inputSize, 'prediction input');
    checkInt(batchSize, 'prediction batch size', 1);
    checkFinite(x, 'prediction input');
    const C = this.config.numClasses, D = x.cols;
    const classes = new Int32Array(x.rows), probabilities = matrix(x.rows, C);
    let overflowed = 0;
    for (let b = 0; b < x.rows; b += batchSize) {
      const rows = Math.min(batchSize, x.rows - b);
      const logits = this.run(matrix(rows, D, x.data.subarray(b * D, (b + rows) * D)), 'infer').data; // x checked above, once
      for (let r = 0; r < rows; r++) {
        const o = r * C, best = classOf(logits, o, C), p = probabilities.data.subarray((b + r) * C, (b + r + 1) * C);
        classes[b + r] = best;
        if (best < 0) {
          overflowed++;
          p.fill(NaN);
          continue;
        }
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(logits[o + c] - logits[o + best]);
        for (let c = 0; c < C; c++) p[c] = Math.exp(logits[o + c] - logits[o + best]) / sum;
      }
    }
    if (overflowed > 0) this.checkWeightsFinite();
    return { classes, probabilities, overflowed };
  }

  /** Weights and biases of every layer (gaters and routers included). */
  parameterCount(): number {
    this.alive();
    return this.layers.reduce((a, l) => a + l.parameterCount(), 0);
  }

  macs(): Macs {
    return this.layers.reduce((a, l) => {
      const m = l.macs();
      return { training: a.training + m.training, inference: a.inference + m.inference };
    }, { training: 0, inference: 0 });
  }

  resetUsage(): void {
    for (const { layer } of this.routedLayers()) layer.resetUsage();
  }

  /** The number of layers[index] among the linear layers, from 1 (--tree-layers' numbering; activations are not counted). */
  layerNumber(index: number): number {
    checkInt(index, 'layerNumber: the index into model.layers', 0, this.layers.length - 1);
    return this.layers.slice(0, index + 1).filter((l) => l.kind !== 'activation').length;
  }

  /** Balance and dead leaves of every routed layer since resetUsage (see TreeStats). */
  treeStats(): TreeStats[] {
    return this.routedLayers().map(({ index, layer }) => {
      const u = layer.leafUsage();
      const counted = u.counts.some((counts) => counts.some((c) => c > 0));
      let balance = counted ? 0 : NaN, dead = 0;
      for (const counts of counted ? u.counts : []) {
        const total = counts.reduce((a, b) => a + b, 0);
        let h = 0;
        for (const c of counts) {
          if (c === 0) dead++;
          else h -= (c / total) * Math.log(c / total);
        }
        balance += u.leaves === 1 ? 1 : total > 0 ? h / Math.log(u.leaves) : 0;
      }
      return {
        layer: this.layerNumber(index), kind: layer.kind as TreeStats['kind'], leaves: u.leaves, blocks: u.blocks, balance: balance / u.blocks,
        deadLeaves: dead, usage: u.counts.map((c) => Array.from(c)),
      };
    });
  }
}

/**
 * Names and shapes of a config's parameters, in Model.params() order, computed
 * without building the model (a file's config is checked against its tensors
 * before anything is allocated). Throws on a config whose sizes are not
 * positive integers or do not fit one array; layer options are checked when
 * the model is built.
 */
export function paramShapes(config: ModelConfig): Array<{ name: string; shape: number[] }> {
  const out: Array<{ name: string; shape: number[] }> = [];
  checkInt(config.inputSize, 'model input size', 1);
  checkInt(config.numClasses, 'model class count', 2);
  check(Array.isArray(config.layers), 'model config has no layer list');
  const dim = (v: unknown, what: string, max = 2 ** 31 - 1) => checkInt(v as number, what, 1, max);
  const size = (shape: number[], what: string) => {
    check(shape.reduce((a, b) => a * b, 1) <= 2 ** 31 - 1, `${what}: shape [${shape}] does not fit one array (at most 2^31 − 1 floats)`,
      'make the layer smaller: a shallower tree, fewer experts or narrower layers (--depth, --experts, --hidden)');
    return shape;
  };
  config.layers.forEach((c, i) => {
    const name = `layers.${i}`;
    check(typeof c === 'object' && c !== null, `${name}: not an object`);
    if (c.kind === 'dense') {
      const n = dim(c.inputSize, `${name}: input size`), m = dim(c.outputSize, `${name}: output size`);
      out.push({ name: `${name}.weight`, shape: size([m, n], name) }, { name: `${name}.bias`, shape: [m] });
    } else if (c.kind === 'tree' || c.kind === 'flat') {
      const n = dim(c.inputSize, `${name}: input size`), m = dim(c.outputSize, `${name}: output size`);
      const k = checkInt(c.depth, `${name}: depth`, 0, MAX_DEPTH), B = dim(c.blocks ?? 1, `${name}: blocks`, n);
      check(n % B === 0, `${name}: input size ${n} is not divisible by ${B} blocks`, blocksFix(n));
      const s = n / B, T = c.kind === 'flat' ? 2 ** k : 2 ** (k + 1) - 1;
      for (let j = 0; j < B; j++) {
        const p = `${name}.blocks.${j}`;
        out.push({ name: `${p}.weight`, shape: size([T, m, s], p) }, { name: `${p}.bias`, shape: size([T, m], p) });
        if (c.gating === 'projection') out.push({ name: `${p}.gate_weight`, shape: size([k, s], p) }, { name: `${p}.gate_bias`, shape: [k] });
      }
    } else if (c.kind === 'moe') {
      const n = dim(c.inputSize, `${name}: input size`), m = dim(c.outputSize, `${name}: output size`), E = dim(c.experts, `${name}: experts`, 2 ** 24);
      out.push({ name: `${name}.weight`, shape: size([E, m, n], name) }, { name: `${name}.bias`, shape: size([E, m], name) },
        { name: `${name}.router`, shape: size([E, n], name) });
    } else if (c.kind !== 'activation') {
      throw new TreegateError(`${name}: unknown layer kind '${(c as { kind: unknown }).kind}'`, 'use dense, tree, flat, moe or activation');
    }
  });
  return out;
}

/**
 * The settings mlpConfig turns into a model config: the widths, which linear layers are routed and how (tree, flat,
 * moe), the tree's depth, gating and blocks (the CLI's `train` options of the same names).
 */
export interface MlpOptions {
  inputSize: number;
  numClasses: number;
  /** widths of the hidden layers */
  hidden: readonly number[];
  /** 1-based indices of the linear layers that are routed (hidden.length + 1 is the output layer) */
  treeLayers: readonly number[];
  /** what the routed layers are (default tree) */
  routed?: 'tree' | 'flat' | 'moe';
  /** depth k of each routed layer's tree: 2^k leaves, k + 1 nodes on an example's path (0…24; moe: 2^k experts unless `experts` is given) */
  depth: number;
  /** moe: experts (default 2^depth, the leaves of the tree), experts per example (default 1), balance-loss weight (default 0.01) */
  experts?: number;
  topK?: number;
  balanceWeight?: number;
  /** input blocks per routed layer, each with its own bits and tree (default 1; must divide the layer's input width) */
  blocks?: number;
  /**
   * where the k bits come from (default 'units'): the signs of k of the layer's input units, or of a fixed random
   * projection of the input ('projection', the gaters trained only with `straightThrough`)
   */
  gating?: 'units' | 'projection';
  /** between the linear layers (default 'relu') */
  activation?: 'relu' | 'tanh';
  /** how the tree's non-root nodes start (default 'zero': the layer starts as its root, a dense layer) */
  nodeInit?: 'zero' | 'small';
  /** a node at depth d is weight-decayed by λ·γ^d (default 1) */
  decayGamma?: number;
  /** projection gating: train the gaters with a straight-through estimator (default false) */
  straightThrough?: boolean;
  /** how raw inputs are scaled (recorded in the config; prepareData computes it) */
  normalization?: InputNormalization;
}

const MLP_KEYS: readonly (keyof MlpOptions)[] = [
  'inputSize', 'numClasses', 'hidden', 'treeLayers', 'routed', 'depth', 'experts', 'topK', 'balanceWeight', 'blocks', 'gating',
  'activation', 'nodeInit', 'decayGamma', 'straightThrough', 'normalization',
];

/**
 * A message about an MLP's config in the terms of its options: `layers.N`, the index in Model.layers (where mlpConfig
 * puts each hidden layer's activation after it), becomes "layer L", as treeLayers (--tree-layers) numbers the linear
 * layers, and `.blocks.J` "(block J)". Other text is kept.
 */
export function mlpLayerNames(text: string): string {
  return text.replace(/\blayers\.(\d+)(?:\.blocks\.(\d+))?/g,
    (all, i: string, j: string | undefined) => (Number(i) % 2 === 0 ? `layer ${Number(i) / 2 + 1}${j === undefined ? '' : ` (block ${j})`}` : all));
}

/** Config of a multilayer perceptron whose chosen linear layers are tree-gated. */
export function mlpConfig(o: MlpOptions): ModelConfig {
  check(typeof o === 'object' && o !== null, `MLP options must be an object, got ${shown(o)}`);
  checkKeys(o, MLP_KEYS, 'MLP options');
  check(Array.isArray(o.hidden), `MLP options: hidden must be an array of widths, got ${shown(o.hidden)}`, 'give [] for no hidden layer');
  check(Array.isArray(o.treeLayers), `MLP options: treeLayers must be an array of layer indices, got ${shown(o.treeLayers)}`, 'give [] for no routed layer');
  // the depth of the routed layers: none to check where there is none (the dense MLP of denseOfEqualParams, made from a
  // mixture's options that give experts and no depth), or where a mixture's experts are given
  if (o.treeLayers.length > 0 && (o.routed !== 'moe' || o.experts === undefined)) checkInt(o.depth, 'MLP options: depth', 0, MAX_DEPTH);
  const oneOf = (key: keyof MlpOptions, values: readonly unknown[]) =>
    check(o[key] === undefined || values.includes(o[key]), `MLP options: ${key} must be ${values.map((v) => shown(v)).join(' or ')}, got ${shown(o[key])}`);
  oneOf('gating', ['units', 'projection']);
  oneOf('activation', ['relu', 'tanh']);
  oneOf('nodeInit', ['zero', 'small']);
  oneOf('straightThrough', [true, false]);
  check(o.routed === undefined || ['tree', 'flat', 'moe'].includes(o.routed), `unknown routed layer kind '${String(o.routed)}'`, 'use tree, flat or moe');
  // (as new Model checks them: here, so that a config is not made that no model takes)
  checkInt(o.inputSize, 'MLP options: inputSize (the model input size)', 1);
  checkInt(o.numClasses, 'MLP options: numClasses (the model class count)', 2);
  const widths = [o.inputSize, ...o.hidden, o.numClasses];
  for (const h of o.hidden) checkInt(h, 'hidden width', 1);
  for (const t of o.treeLayers) {
    checkInt(t, 'tree layer index', 1, widths.length - 1);
  }
  check(new Set(o.treeLayers).size === o.treeLayers.length, `tree layer indices repeat: ${o.treeLayers.join(', ')}`, 'name each routed layer once');
  const layers: LayerConfig[] = [];
  for (let i = 1; i < widths.length; i++) {
    const inputSize = widths[i - 1], outputSize = widths[i];
    if (o.treeLayers.includes(i) && o.routed === 'moe') {
      layers.push({
        kind: 'moe', inputSize, outputSize, experts: o.experts ?? 2 ** o.depth, topK: o.topK ?? MOE_DEFAULTS.topK, balanceWeight: o.balanceWeight ?? MOE_DEFAULTS.balanceWeight,
      });
    } else if (o.treeLayers.includes(i)) {
      layers.push({
        kind: o.routed === 'flat' ? 'flat' : 'tree', inputSize, outputSize, depth: o.depth, blocks: o.blocks ?? 1, gating: o.gating ?? 'units',
        nodeInit: o.nodeInit ?? 'zero', decayGamma: o.decayGamma ?? 1,
        ...(o.straightThrough ? { straightThrough: true } : {}),
      });
    } else {
      layers.push({ kind: 'dense', inputSize, outputSize });
    }
    if (i < widths.length - 1) layers.push({ kind: 'activation', fn: o.activation ?? 'relu' });
  }
  const cfg: ModelConfig = { inputSize: o.inputSize, numClasses: o.numClasses, layers };
  if (o.normalization) cfg.normalization = o.normalization;
  return cfg;
}
