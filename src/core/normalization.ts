/**
 * Preprocessing applied to raw inputs: x = (raw·scale − mean) / std (docs/format.md §4). `mean` and `std` are one
 * number for every feature (MNIST's pixels), or a list of one per feature (a CSV's columns, whose scales differ).
 */
export interface InputNormalization { scale: number; mean: number | number[]; std: number | number[] }

/** The settings of a normalization: what a model file's normalization keeps of its object, other keys dropped. */
export const NORMALIZATION_KEYS: readonly string[] = ['scale', 'mean', 'std'];

/**
 * Smallest standard deviation a normalization may hold (avoids division by ~0); a feature whose spread is smaller is
 * taken as one that does not vary. Well below any spread of measured values in their units (a column of
 * nanometres in metres, 1e-9, is standardized as any other), and above float32's subnormals.
 */
export const MIN_STD = 1e-30;

/**
 * What is wrong with `nz` as the normalization of `inputSize` features, in words naming the field
 * (`normalization.std[3] is 0, must be …`); undefined where nothing is. `whose` names what has the features.
 */
export function normalizationProblem(nz: unknown, inputSize: number, whose = 'the model has'): string | undefined {
  if (typeof nz !== 'object' || nz === null || Array.isArray(nz)) return 'normalization is not an object';
  const n = nz as Record<string, unknown>;
  const unknown = Object.keys(n).filter((key) => !NORMALIZATION_KEYS.includes(key));
  if (unknown.length > 0) {
    return `normalization has the unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => JSON.stringify(key)).join(', ')} (its settings are ${NORMALIZATION_KEYS.join(', ')})`;
  }
  const number = (v: unknown, min: number) => typeof v === 'number' && Number.isFinite(v) && v >= min;
  const must = (min: number) => `must be a finite number${min > -Infinity ? ` ≥ ${min}` : ''}`;
  const shown = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v) ?? 'missing');
  // a scale of 0 maps every input to one point, a negative one mirrors them: neither is a normalization
  if (!number(n.scale, -Infinity) || (n.scale as number) <= 0) return `normalization.scale is ${shown(n.scale)}, must be a finite number > 0`;
  for (const [field, min] of [['mean', -Infinity], ['std', MIN_STD]] as const) {
    const v = n[field];
    if (Array.isArray(v)) {
      if (v.length !== inputSize) return `normalization.${field} holds ${v.length} values, ${whose} ${inputSize} features (one each, or one number for all)`;
      const bad = v.findIndex((e) => !number(e, min));
      if (bad >= 0) return `normalization.${field}[${bad}] is ${shown(v[bad])}, ${must(min)}`;
    } else if (!number(v, min)) {
      return `normalization.${field} is ${shown(v)}, ${must(min)} or a list of one per feature`;
    }
  }
  return undefined;
}

/** A normalization's `mean` or `std` as one value per feature (the same number repeated where it is one). */
export function perFeature(v: number | number[], features: number): Float64Array {
  return typeof v === 'number' ? new Float64Array(features).fill(v) : Float64Array.from(v);
}

/** A copy that shares no array with `nz`. */
export function copyNormalization(nz: InputNormalization): InputNormalization {
  const copy = (v: number | number[]) => (typeof v === 'number' ? v : [...v]);
  return { scale: nz.scale, mean: copy(nz.mean), std: copy(nz.std) };
}
