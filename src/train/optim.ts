import { check, checkKeys, checkNumber, checkPositive, TreegateError } from '../core/errors.js';
import { backend, floatsFor, releaseFloats } from '../kernels/backend.js';
import { applyWeightStep, type WeightStep } from '../kernels/weight-step.js';
import type { EarlyStep } from '../layers/layer.js';
import type { Param } from '../layers/param.js';

export type OptimizerKind = 'sgd' | 'adam';

/**
 * The floats training holds for `parameters` parameters: the weights, their gradients and the optimizer's state
 * (Adam's two moments, SGD's momentum). train's memory check and the experiments' count a model so.
 */
export function trainingFloats(parameters: number, kind: OptimizerKind): number {
  return parameters * (kind === 'adam' ? 4 : 3);
}

/** SGD with momentum: `{ kind: 'sgd', momentum?, weightDecay? }`. */
export interface SgdConfig {
  kind: 'sgd';
  /** SGD momentum μ (default 0.9) */
  momentum?: number;
  /** decoupled weight decay λ; a slot is decayed by λ·decayScale[slot] (γ^depth for tree nodes) */
  weightDecay?: number;
}

/** Adam (AdamW-style decoupled decay): `{ kind: 'adam', beta1?, beta2?, eps?, weightDecay? }`. */
export interface AdamConfig {
  kind: 'adam';
  /** Adam β1, β2, ε (defaults 0.9, 0.999, 1e-8) */
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay λ; a slot is decayed by λ·decayScale[slot] (γ^depth for tree nodes) */
  weightDecay?: number;
}

/** The optimizer of a training run: `{ kind: 'adam' }` or `{ kind: 'sgd' }`, each with its own settings (the other kind's are type errors, and refused at run time). */
export type OptimizerConfig = SgdConfig | AdamConfig;

/**
 * SGD with momentum and Adam (AdamW-style decoupled decay), with lazy updates:
 * a step visits only the slots (tree nodes) that the batch touched, so its
 * cost does not grow with untouched capacity. Each slot counts its own steps,
 * and Adam's bias correction uses that count, as sparse optimizers do.
 * Untouched slots — weights and optimizer state — stay bit-identical.
 *
 * The updates are the usual SGD (momentum, weight decay) and Adam ones, per slot as above; the backend in use
 * runs them (its sgdUpdate and adamUpdate kernels).
 */
export class Optimizer {
  readonly kind: OptimizerKind;
  readonly momentum: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  #state: Array<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }> | null = null;
  #disposed = false;

  /**
   * `options.lazy`: the moments are made at their first use, or taken from adoptState, rather than now (a resumed
   * run's Trainer: the checkpoint's moments become the optimizer's without a second copy of them in memory).
   */
  constructor(readonly params: Param[], config: OptimizerConfig, options: { lazy?: boolean } = {}) {
    // read as any object: what JavaScript callers and JSON pass is checked here, whatever its type says
    const cfg = config as { kind: unknown; momentum?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };
    check(typeof cfg === 'object' && cfg !== null, 'the optimizer config must be an object', "pass e.g. { kind: 'adam' }");
    checkKeys(cfg, ['kind', 'momentum', 'beta1', 'beta2', 'eps', 'weightDecay'], 'optimizer config');
    if (cfg.kind !== 'sgd' && cfg.kind !== 'adam') {
      throw new TreegateError(`unknown optimizer '${String(cfg.kind)}'`, 'use sgd or adam');
    }
    this.kind = cfg.kind;
    // settings of the other optimizer would be ignored: refused, so that nobody believes they took effect
    check(cfg.kind === 'sgd' || cfg.momentum === undefined, 'momentum is a setting of sgd, not adam', 'drop it, or use sgd');
    check(cfg.kind === 'adam' || (cfg.beta1 === undefined && cfg.beta2 === undefined && cfg.eps === undefined),
      'beta1, beta2 and eps are settings of adam, not sgd', 'drop them, or use adam');
    this.momentum = checkNumber(cfg.momentum ?? 0.9, 'momentum', 0, 1);
    check(this.momentum < 1, 'momentum must be below 1', 'use e.g. 0.9');
    this.beta1 = checkNumber(cfg.beta1 ?? 0.9, 'beta1', 0, 1);
    this.beta2 = checkNumber(cfg.beta2 ?? 0.999, 'beta2', 0, 1);
    check(this.beta1 < 1 && this.beta2 < 1, 'Adam betas must be below 1', 'use e.g. beta1: 0.9, beta2: 0.999');
    // above 0: a slot's gradient of zeros makes 0 / (0 + eps), NaN with eps 0
    this.eps = checkPositive(cfg.eps ?? 1e-8, 'epsilon', 'a weight whose gradients are all zero is divided by it: use e.g. eps: 1e-8');
    this.weightDecay = checkNumber(cfg.weightDecay ?? 0, 'weight decay', 0);
    check(typeof options === 'object' && options !== null, 'the optimizer options must be an object', 'pass e.g. { lazy: true }, or leave them out');
    checkKeys(options, ['lazy'], 'optimizer options');
    // made before the model's gradients (at its first backward pass), so that where the wasm backend's memory cannot
    // hold everything, the moments, which the fused step reads in place, are the ones it holds
    if (!options.lazy) this.made();
  }

  /** The state, made (zeros) at its first use. */
  private made(): Array<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }> {
    if (this.#state) return this.#state;
    return (this.#state = this.params.map((p) => ({
      m: floatsFor(`${p.name}'s ${this.kind === 'adam' ? 'first moment' : 'momentum'}`, p.size),
      v: this.kind === 'adam' ? floatsFor(`${p.name}'s second moment`, p.size) : null,
      steps: new Int32Array(p.numSlots),
    })));
  }

  /**
   * This step's update of single parameters, for layers that apply it during backward as soon as a weight
   * gradient is complete (Trainer: the routed layers' node weights, whose gradients then never reach memory on
   * the native backend). A parameter updated so has no touched slots left, so step(lr) passes over it; the
   * result is the same. Parameters not given to this optimizer get no update (weightStep returns null).
   */
  early(lr: number): EarlyStep {
    this.alive();
    checkNumber(lr, 'learning rate', 0);
    return {
      weightStep: (p: Param): WeightStep | null => {
        const i = this.params.indexOf(p);
        return i < 0 ? null : this.weightStep(i, lr);
      },
    };
  }

  /** The step of params[i] with learning rate lr: its state and this optimizer's settings. */
  private weightStep(i: number, lr: number): WeightStep {
    const st = this.made()[i];
    return {
      kind: this.kind, m: st.m, v: st.v, steps: st.steps, decayScale: this.params[i].decayScale, lr, weightDecay: this.weightDecay,
      beta1: this.beta1, beta2: this.beta2, eps: this.eps, momentum: this.momentum,
    };
  }

  /** Whether the state exists: made (at its first use, or at once unless lazy), loaded or adopted. */
  get hasState(): boolean {
    return this.#state !== null;
  }

  /** Per param: first moment / momentum, second moment (Adam), steps taken per slot. */
  get state(): ReadonlyArray<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }> {
    this.alive();
    return this.made();
  }

  /** A disposed optimizer has no moments left: a clear error rather than one from a kernel. */
  private alive(): void {
    check(!this.#disposed, 'this optimizer was disposed (Optimizer.dispose gave its arrays back)', 'make a new optimizer (and load its state from a checkpoint to go on)');
  }

  /** Gives the moments' arrays back to the backend that made them (see Model.dispose); the optimizer cannot step afterwards. */
  dispose(): void {
    this.#disposed = true;
    for (const st of this.#state ?? []) {
      releaseFloats(st.m);
      if (st.v) releaseFloats(st.v);
      st.m = new Float32Array(0);
      if (st.v) st.v = new Float32Array(0);
    }
  }

  /** Replaces the state (moments and per-slot step counts) with a saved one of the same shapes (checkpoints). */
  loadState(states: ReadonlyArray<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }>): void {
    this.checkState(states);
    const state = this.state;
    states.forEach((s, i) => {
      const st = state[i];
      st.m.set(s.m);
      if (s.v) st.v!.set(s.v);
      st.steps.set(s.steps);
    });
  }

  /**
   * As loadState, but the arrays become this optimizer's own where it has made none yet (a lazy one): no second
   * copy of the moments. The caller must not use them afterwards. decodeCheckpoint makes them with the backend's
   * floats(), as the optimizer would.
   */
  adoptState(states: ReadonlyArray<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }>): void {
    this.alive();
    if (this.#state) {
      this.loadState(states);
      return;
    }
    this.checkState(states);
    this.#state = states.map((s) => ({ m: s.m, v: s.v, steps: Int32Array.from(s.steps) }));
  }

  /** A saved state fits this optimizer: one entry per parameter, of its sizes, for its kind. */
  private checkState(states: ReadonlyArray<{ m: Float32Array; v: Float32Array | null; steps: Int32Array }>): void {
    this.alive();
    check(states.length === this.params.length, `optimizer state for ${states.length} parameters, the model has ${this.params.length}`);
    states.forEach((s, i) => {
      const p = this.params[i];
      check(s.m.length === p.size && s.steps.length === p.numSlots, `optimizer state of ${p.name} does not match its shape`);
      check((s.v === null) === (this.kind === 'sgd') && (!s.v || s.v.length === p.size),
        `optimizer state of ${p.name} is for ${s.v ? 'adam' : 'sgd'}, the run uses ${this.kind}`);
    });
  }

  /**
   * Applies the gradients of touched slots with learning rate `lr` and zeroes them as it goes (the
   * kernels clear each gradient element once read, which saves a pass over them): afterwards no slot is
   * touched and every gradient is zero.
   */
  step(lr: number): void {
    this.alive();
    checkNumber(lr, 'learning rate', 0);
    const be = backend();
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      check(!p.disposed, `${p.name} was disposed (its model's dispose() gave its arrays back): this optimizer's model cannot train`,
        'make or load a new model, and an optimizer of its parameters');
      if (p.touchedCount === 0) continue;
      applyWeightStep(be, p.data, p.grad, p.slotSize, p.touched, p.touchedCount, this.weightStep(i, lr));
      p.gradsCleared();
      p.version++;
    }
  }

}

export type ScheduleKind = 'constant' | 'cosine' | 'plateau';

/**
 * Learning rate at step `t` of `total`: constant, or cosine decay from lr to 0; 'plateau' is lr here, cut by the
 * Trainer from the validation accuracy of the epochs before (plateauCuts).
 */
export function learningRate(kind: ScheduleKind, lr: number, t: number, total: number): number {
  if (kind === 'constant' || kind === 'plateau') return lr;
  if (kind === 'cosine') return total > 0 ? 0.5 * lr * (1 + Math.cos((Math.PI * Math.min(t, total)) / total)) : lr;
  throw new TreegateError(`unknown learning-rate schedule '${kind as string}'`, 'use constant, cosine or plateau');
}
