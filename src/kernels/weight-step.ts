import { TreegateError } from '../core/errors.js';
import { addRowVector } from './elementwise.js';
import { groupedBackwardWeight } from './grouped.js';
import { adamUpdate, sgdUpdate } from './optim.js';
import type { Routing } from './routing.js';

/** One parameter's optimizer step (the settings and state of optim.ts's updates), made by the trainer's optimizer. */
export interface WeightStep {
  readonly kind: 'adam' | 'sgd';
  /** Adam's first moment, or SGD's momentum */
  readonly m: Float32Array;
  /** Adam's second moment; null for SGD */
  readonly v: Float32Array | null;
  /** steps taken per slot (bumped for each slot updated) */
  readonly steps: Int32Array;
  readonly decayScale: Float32Array | null;
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly momentum: number;
}

/**
 * The weight gradient of every listed node, dU_t = dys[r]ᵀ xs[r], applied at once by `step` to the node weights
 * w (the bias gradient dc_t += Σ_r dys[r] is added as by groupedBackwardWeight). `dw` is the weights' gradient
 * array and must hold zeros at the listed nodes; it holds zeros there again afterwards. The result is that of
 * groupedBackwardWeight into dw followed by adamUpdate / sgdUpdate of the listed nodes, bit for bit; the native
 * backend applies each node's gradient as soon as it is made, from cache, and never writes it to dw.
 */
export type GroupedBackwardWeightStep = (rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number,
  w: Float32Array, dw: Float32Array, dbias: Float32Array, step: WeightStep) => void;

/**
 * The optimizer step of a tree of nodes, each with its weight gradient (the tree layer's collapsed nodes and their
 * frontier: src/layers/path-sums.ts). Entry e < count is node entry[e], a child of entry parent[e] (< 0 for a root),
 * listed depth first: each entry's subtree right after it, so parent[e] is e − 1 or one of e − 1's ancestors (the fast
 * backends keep one sum per depth of the tree, which a tree listed breadth first, as addPaths may take it, would mix
 * between subtrees; every backend refuses one). Where at[e] ≥ 0 its gradient is the product
 * dU = dys[r]ᵀ xs[r] over the rows of rt's range at[e], which must be node entry[e] and have no child entries (every
 * range of rt is one entry's); else it is the sum of its children's gradients. Each range's bias gradient
 * dc_t += Σ_r dys[r] is added as by groupedBackwardWeight. `dw` must hold zeros at the entries' nodes and holds zeros
 * there again afterwards. The result is that of groupedBackwardWeight of rt into dw, each entry's gradient added into
 * its parent's (deepest first), and adamUpdate / sgdUpdate of the entries' nodes, bit for bit; the native backend
 * (and wasm, where the arrays are in its memory) makes each gradient a block of rows at a time in cache and never
 * writes it to dw.
 */
export type PathWeightStep = (rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number, w: Float32Array,
  dw: Float32Array, dbias: Float32Array, step: WeightStep, entry: Int32Array, parent: Int32Array, at: Int32Array, count: number) => void;

/**
 * Throws a TreegateError naming the problem (and op, the fused step that was given it) if `st` is not a step the
 * kernels can apply (every backend checks it).
 */
export function checkWeightStep(st: WeightStep, op = 'groupedBackwardWeightStep'): WeightStep {
  // each field read once, into the copy the op is given: a getter read again mid-op could change a setting, or call
  // the backend while it runs (the wasm backend's scratch memory is one call's)
  const { kind, m, v, steps, decayScale } = st;
  const settings = { lr: st.lr, weightDecay: st.weightDecay, beta1: st.beta1, beta2: st.beta2, eps: st.eps, momentum: st.momentum };
  if (kind !== 'adam' && kind !== 'sgd') throw new TreegateError(`${op}: unknown optimizer '${kind as string}'`);
  if (kind === 'adam' && !(v instanceof Float32Array)) throw new TreegateError(`${op}: adam needs its second moment v`);
  for (const [k, x] of Object.entries(settings)) {
    if (typeof x !== 'number') throw new TreegateError(`${op}: ${k} must be a number`);
  }
  return { kind, m, v, steps, decayScale, ...settings };
}

type Updates = { adamUpdate: typeof adamUpdate; sgdUpdate: typeof sgdUpdate };

/** `st` applied to the slots slots[0, count) of w with gradient g, clearing g there (a backend's adamUpdate or sgdUpdate). */
export function applyWeightStep(k: Updates, w: Float32Array, g: Float32Array, slotSize: number, slots: Int32Array, count: number,
  st: WeightStep): void {
  if (st.kind === 'adam') {
    k.adamUpdate(w, g, st.m, st.v!, slotSize, slots, count, st.steps, st.decayScale, st.lr, st.weightDecay, st.beta1, st.beta2, st.eps, true);
  } else {
    k.sgdUpdate(w, g, st.m, slotSize, slots, count, st.steps, st.decayScale, st.lr, st.weightDecay, st.momentum, true);
  }
}

/** groupedBackwardWeightStep as a backend's groupedBackwardWeight followed by its update (the reference). */
function composeWeightStep(k: Updates & { groupedBackwardWeight: typeof groupedBackwardWeight }): GroupedBackwardWeightStep {
  return (rt, dys, m, xs, s, w, dw, dbias, st) => {
    k.groupedBackwardWeight(rt, dys, m, xs, s, dw, dbias, new Uint8Array(rt.nodeCount).fill(1));
    applyWeightStep(k, w, dw, m * s, rt.node, rt.nodeCount, st);
  };
}

export const groupedBackwardWeightStep = composeWeightStep({ groupedBackwardWeight, adamUpdate, sgdUpdate });

/** pathWeightStep as a backend's groupedBackwardWeight, addRowVector and update (the reference). */
export function composePathWeightStep(k: Updates & { groupedBackwardWeight: typeof groupedBackwardWeight; addRowVector: typeof addRowVector }): PathWeightStep {
  return (rt, dys, m, xs, s, w, dw, dbias, st, entry, parent, _at, count) => {
    k.groupedBackwardWeight(rt, dys, m, xs, s, dw, dbias, new Uint8Array(rt.nodeCount).fill(1));
    addIntoParents(k.addRowVector, dw, m * s, entry, parent, count);
    applyWeightStep(k, w, dw, m * s, entry, count, st);
  };
}

/**
 * Each entry's table of g (`size` floats per node) added into its parent's, children before their parents: the sums
 * of pathWeightStep's tree (entries listed parents first), by `add` (a backend's addRowVector).
 */
export function addIntoParents(add: typeof addRowVector, g: Float32Array, size: number, entry: Int32Array, parent: Int32Array,
  count: number): void {
  const table = (e: number): Float32Array => g.subarray(entry[e] * size, (entry[e] + 1) * size);
  for (let e = count - 1; e >= 0; e--) if (parent[e] >= 0) add(table(parent[e]), 1, size, table(e));
}

export const pathWeightStep = composePathWeightStep({ groupedBackwardWeight, addRowVector, adamUpdate, sgdUpdate });
