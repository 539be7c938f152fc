/**
 * The one timing helper of the benchmarks (STYLE item 10). Every figure is the
 * median of interleaved repeats (A B C A B C …) in one process, so that noise
 * from other work on the machine hits all candidates alike, and is printed
 * next to a baseline measured in the same call.
 *
 * A candidate's `run` may mark the end of named phases with `lap(name)` (e.g.
 * forward, backward, step); each phase then gets its own per-repeat samples
 * and median (time after the last lap is not counted). Without laps the
 * whole call is one phase, 'total'.
 *
 * Repeats: after a warm-up, each candidate's cost is estimated and it gets
 * round(budgetMs / cost) repeats, clamped to [minRepeats, maxRepeats], so a
 * slow candidate gets fewer repeats than a fast one (the count is reported).
 * Fast calls are looped `inner` times per repeat so that a sample lasts at
 * least `minSampleMs` and the timer's resolution does not matter.
 */

export type Lap = (phase: string) => void;

export interface Candidate {
  name: string;
  /** the timed work; may be async (awaited inside the sample) */
  run: (lap: Lap) => void | Promise<void>;
  /** untimed, before every sample (e.g. select a backend, set threads, rebuild state) */
  before?: () => void | Promise<void>;
  /** floating-point operations of one call (for GFLOP/s); per phase if an object */
  flops?: number | Record<string, number>;
  /** overrides of the group's options for this candidate */
  maxRepeats?: number;
  minRepeats?: number;
}

export interface TimingOptions {
  /** time budget per candidate figure, ms (default 600) */
  budgetMs?: number;
  minRepeats?: number; // default 3
  maxRepeats?: number; // default 15
  /** minimum duration of one sample, ms: fast calls are looped (default 5) */
  minSampleMs?: number;
  /** warm-up: at least this many calls and this long, ms (defaults 1 and 150) */
  warmupCalls?: number;
  warmupMs?: number;
  /** prints progress lines (stderr) */
  log?: (s: string) => void;
}

export interface PhaseStats {
  /** median time of one call, ms */
  ms: number;
  minMs: number;
  /** per-repeat times of one call, ms, in run order */
  samples: number[];
  gflops?: number;
}

export interface Measurement {
  name: string;
  repeats: number;
  /** calls per sample */
  inner: number;
  phases: Record<string, PhaseStats>;
  /** the 'total' phase: sum of phases */
  ms: number;
  gflops?: number;
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** GFLOP/s of `flops` operations done in `ms` milliseconds. */
export const gflops = (flops: number, ms: number): number => flops / (ms * 1e6);

/**
 * Measures the candidates interleaved in one process. Returns one Measurement
 * per candidate, in the order given.
 */
export async function measure(cands: Candidate[], opts: TimingOptions = {}): Promise<Measurement[]> {
  const budget = opts.budgetMs ?? 600, minSample = opts.minSampleMs ?? 5;
  const warmCalls = opts.warmupCalls ?? 1, warmMs = opts.warmupMs ?? 150;
  const st = cands.map(() => ({ inner: 1, repeats: 0, done: 0, samples: new Map<string, number[]>() }));

  // Warm-up, candidate by candidate: at least warmCalls calls and warmMs, and two calls (the first may run before the
  // JIT: a peer's first call took 628 ms against 180 after, and sized its repeats alone) unless the first took over
  // a second; the fastest call estimates the cost.
  for (let c = 0; c < cands.length; c++) {
    const cand = cands[c];
    let calls = 0, spent = 0, best = Infinity;
    while (calls < Math.max(warmCalls, 2) || (spent < warmMs && calls < 1000)) {
      await cand.before?.();
      const t = await timeCall(cand, 1);
      spent += t.total;
      best = Math.min(best, t.total);
      calls++;
      // a slow call: two are enough (the first may have run before the JIT), one if it took over a second
      if (calls >= warmCalls && (t.total > 1000 || (calls >= 2 && t.total > warmMs))) break;
    }
    const s = st[c];
    s.inner = Math.max(1, Math.ceil(minSample / Math.max(best, 1e-3)));
    const lo = cand.minRepeats ?? opts.minRepeats ?? 3, hi = cand.maxRepeats ?? opts.maxRepeats ?? 15;
    s.repeats = Math.max(lo, Math.min(hi, Math.round(budget / Math.max(best * s.inner, 1e-3))));
    opts.log?.(`  warm ${cand.name}: ${fmtMs(best)} per call, ${s.repeats} repeats × ${s.inner} calls`);
  }

  // Interleaved repeats: round r runs every candidate that still needs one.
  const rounds = Math.max(...st.map((s) => s.repeats));
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < cands.length; c++) {
      const s = st[c];
      if (s.done >= s.repeats) continue;
      await cands[c].before?.();
      const t = await timeCall(cands[c], s.inner);
      for (const [phase, ms] of Object.entries(t.phases)) {
        if (!s.samples.has(phase)) s.samples.set(phase, []);
        s.samples.get(phase)!.push(ms / s.inner);
      }
      s.done++;
    }
  }

  return cands.map((cand, c) => {
    const s = st[c];
    const phases: Record<string, PhaseStats> = {};
    for (const [phase, samples] of s.samples) {
      const ms = median(samples);
      const f = typeof cand.flops === 'number' ? (phase === 'total' ? cand.flops : undefined) : cand.flops?.[phase];
      phases[phase] = { ms, minMs: Math.min(...samples), samples, ...(f ? { gflops: gflops(f, ms) } : {}) };
    }
    // total = per-repeat sum of phases
    if (!phases.total) {
      const names = [...s.samples.keys()];
      const sums = Array.from({ length: s.done }, (_, i) => names.reduce((a, p) => a + s.samples.get(p)![i], 0));
      phases.total = { ms: median(sums), minMs: Math.min(...sums), samples: sums };
    }
    const total = phases.total;
    const f = typeof cand.flops === 'number' ? cand.flops
      : cand.flops ? Object.values(cand.flops).reduce((a, b) => a + b, 0) : 0;
    return {
      name: cand.name, repeats: s.done, inner: s.inner, phases, ms: total.ms,
      ...(f ? { gflops: gflops(f, total.ms) } : {}),
    };
  });
}

/** One sample: `inner` calls; returns the time per phase summed over the calls, ms. */
async function timeCall(cand: Candidate, inner: number): Promise<{ total: number; phases: Record<string, number> }> {
  const phases: Record<string, number> = {};
  let mark = 0;
  const lap: Lap = (phase) => {
    const now = performance.now();
    phases[phase] = (phases[phase] ?? 0) + (now - mark);
    mark = now;
  };
  const t0 = performance.now();
  for (let i = 0; i < inner; i++) {
    let lapped = false;
    const lapOnce: Lap = (phase) => { lapped = true; lap(phase); };
    mark = performance.now();
    const p = cand.run(lapOnce);
    if (p) await p;
    // without laps the whole call is the phase 'total'; with laps, time after the last lap is not counted
    if (!lapped) phases.total = (phases.total ?? 0) + (performance.now() - mark);
  }
  return { total: performance.now() - t0, phases };
}

/**
 * Ratio of a candidate's time to a baseline's, for one phase: the median of
 * per-repeat ratios when both have the same number of repeats (the pairs ran
 * back to back), else the ratio of medians. > 1: the candidate is slower.
 */
export function timeRatio(cand: Measurement, base: Measurement, phase = 'total'): number {
  const a = cand.phases[phase], b = base.phases[phase];
  if (!a || !b) return NaN;
  if (a.samples.length === b.samples.length && a.samples.length > 0) {
    return median(a.samples.map((x, i) => x / b.samples[i]));
  }
  return a.ms / b.ms;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}
