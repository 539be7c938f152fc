import type { Backend } from '../kernels/backend.js';
import type { Routing } from '../kernels/routing.js';
import type { EarlyStep } from './layer.js';
import type { Param } from './param.js';

/**
 * The node weights' and biases' gradients of a grouped layer (tree nodes, experts) from its sorted output
 * gradient dys and inputs xs; with `early`, where the weights hold no gradient yet and are the optimizer's, the
 * optimizer's step applied to each node's weights as its gradient is made (groupedBackwardWeightStep) instead.
 * Called after the input gradient has read the weights.
 */
export function nodeGradients(be: Backend, rt: Routing, dys: Float32Array, m: number, xs: Float32Array, s: number, w: Param,
  b: Param, early: EarlyStep | undefined): void {
  const step = early && w.touchedCount === 0 ? early.weightStep(w) : null;
  if (step) {
    be.groupedBackwardWeightStep(rt, dys, m, xs, s, w.data, w.grad, b.grad, step);
    w.version++;
  } else {
    be.groupedBackwardWeight(rt, dys, m, xs, s, w.grad, b.grad, w.freshFlags(rt.node, rt.nodeCount));
    for (let g = 0; g < rt.nodeCount; g++) w.touch(rt.node[g]);
  }
  for (let g = 0; g < rt.nodeCount; g++) b.touch(rt.node[g]);
}
