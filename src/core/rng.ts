import { check, shown, TreegateError } from './errors.js';
/**
 * Seeded PRNG: xoshiro128** (Blackman & Vigna) seeded through splitmix32.
 * Integer arithmetic only, so a seed gives the same stream on every JS engine;
 * the whole state is four uint32 and can be saved and restored.
 */
export class Rng {
  private s: Uint32Array;
  private spare: number | null = null; // second Box–Muller value

  /**
   * A number seeds the generator (through splitmix32); an array is its raw state, four integers in [0, 2^32) as
   * getState() returns them (fork and fromState use it), not a seed: a weak state such as [1, 0, 0, 0] gives a poor
   * start.
   */
  constructor(seed: number | readonly number[]) {
    this.s = new Uint32Array(4);
    check(seed !== undefined, 'an Rng needs a seed', 'seed it with an integer: new Rng(42) (the same seed gives the same model, bit for bit)');
    if (typeof seed === 'number') {
      // seed >>> 0 would quietly turn 1.5 into 1 and NaN into 0: two seeds, one stream
      check(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32, `a seed must be an integer in [0, 2^32), got ${shown(seed)}`);
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        // splitmix32
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
    } else {
      check(Array.isArray(seed) && seed.length === 4 && seed.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32),
        `an Rng state must be four integers in [0, 2^32), got ${Array.isArray(seed) && seed.length <= 8 ? `[${seed.map((x) => shown(x)).join(', ')}]` : shown(seed)}`, 'seed it with one integer instead: new Rng(42)');
      for (let i = 0; i < 4; i++) this.s[i] = seed[i];
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling). */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296 && Number.isInteger(n))) throw new TreegateError(`Rng.int(n) draws from [0, n): n must be an integer in [1, 2^32], got ${shown(n)}`);
    if (n === 1) return 0;
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    check(Number.isSafeInteger(n) && n >= 0 && n <= 2 ** 31 - 1, `Rng.permutation(n) permutes 0..n−1: n must be an integer in [0, 2^31), got ${shown(n)}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** A new generator whose stream is independent of this one (seeded from it). */
  fork(): Rng {
    return new Rng([this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32()]);
  }

  /** The full state, for checkpoints. */
  getState(): { s: number[]; spare: number | null } {
    return { s: Array.from(this.s), spare: this.spare };
  }

  static fromState(state: { s: number[]; spare: number | null }): Rng {
    check(typeof state === 'object' && state !== null && (state.spare === null || Number.isFinite(state.spare)),
      `an Rng state must be { s, spare } with spare null or a finite number, got ${shown(state)}`, 'pass what getState() returned');
    const r = new Rng(state.s);
    r.spare = state.spare;
    return r;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
