import { check, checkInt } from '../core/errors.js';
import { mlpConfig, paramShapes, type MlpOptions } from './model.js';

/** Parameters of an MLP config, counted from its shapes (without building its weights). */
export function parameterCount(o: MlpOptions): number {
  return paramShapes(mlpConfig(o)).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

/**
 * The dense MLP of equal parameters: every hidden width of `o` scaled by one
 * factor, the smallest whose parameter count reaches `target` (bisection on
 * the factor, widths rounded). With no hidden layer there is nothing to widen.
 */
export function denseOfEqualParams(o: MlpOptions, target: number): MlpOptions {
  checkInt(target, 'parameter count of the dense MLP', 1);
  check(typeof o === 'object' && o !== null && Array.isArray(o.hidden), 'denseOfEqualParams takes the options mlpConfig takes ({ inputSize, numClasses, hidden, … })',
    'pass the options, not the config mlpConfig made from them');
  const dense = { ...o, treeLayers: [] as number[], routed: undefined };
  if (o.hidden.length === 0) return dense;
  const at = (f: number) => o.hidden.map((h) => Math.max(1, Math.round(h * f)));
  let lo = 0, hi = 1;
  while (parameterCount({ ...dense, hidden: at(hi) }) < target) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (parameterCount({ ...dense, hidden: at(mid) }) < target) lo = mid;
    else hi = mid;
  }
  return { ...dense, hidden: at(hi) };
}
