import { InvalidArgumentError } from 'commander';

/** Commander argument parsers that reject bad values with a message naming the fix. */
export function int(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`}.`);
    }
    return n;
  };
}

export function num(min: number, max = Infinity, exclusiveMin = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max) {
      throw new InvalidArgumentError(`expected a number ${exclusiveMin ? '>' : '≥'} ${min}${max === Infinity ? '' : ` and ≤ ${max}`}.`);
    }
    return n;
  };
}

export function intList(min: number) {
  return (v: string): number[] => {
    if (v.trim() === '' || v === 'none') return [];
    const parse = int(min);
    return v.split(',').map((s) => parse(s.trim()));
  };
}

export function choice<T extends string>(...values: T[]) {
  return (v: string): T => {
    if (!(values as string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return v as T;
  };
}
