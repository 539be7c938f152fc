/**
 * The wasm backend's optimizer updates (sgdUpdate, adamUpdate: the slots listed, streamed through the arena where
 * the arrays are not in the module's memory, split between the threads by slots or elements) and the per-slot
 * scalars and settings that the fused steps of products.ts (nodeStep, pathStep, stepSlots) read.
 */
import { clearSlots, OP_ADAM, OP_SGD, UPDATE_FLOATS, UPDATE_NS, type Block, type WasmContext } from './module.js';
import type { WeightStep } from '../weight-step.js';
import type { Routing } from '../routing.js';

/** stepSlots' space: the pipeline's two sets of buffers and the per-slot scalars (updateBuffers). */
export interface UpdateBuffers { sets: number[][]; pc: number }

/** The optimizer updates on the module's kernels (ctx: createWasmBackend's context). */
export function optimizerOps(ctx: WasmContext) {
  const { A, run, pipeline, parts, updateParts, inPlace, addr } = ctx;
  /** The five f64 at byte address hp that nodeStep and pathStep read: 1 for Adam (0 for SGD), lr, β1 or μ, β2, ε. */
  function stepSettings(hp: number, st: WeightStep): void {
    const adam = st.kind === 'adam';
    A.f64.set([adam ? 1 : 0, st.lr, adam ? st.beta1 : st.momentum, st.beta2, st.eps], hp >>> 3);
  }

  /**
   * Bumps the step counts of n slots (slot(q), q < n) and writes their scalars as src/kernels/optim.ts computes them,
   * in float64 at byte address p: λ_s per slot for SGD; with Adam's betas, λ_s, 1 / (1 − β1^t), 1 / (1 − β2^t).
   */
  function slotScalars(p: number, n: number, slot: (q: number) => number, steps: Int32Array, decayScale: Float32Array | null,
    weightDecay: number, betas: [number, number] | null): void {
    const f64 = A.f64, c0 = p >>> 3, per = betas ? 3 : 1;
    for (let q = 0; q < n; q++) {
      const s = slot(q), t = ++steps[s];
      f64[c0 + per * q] = decayScale ? weightDecay * decayScale[s] : 0;
      if (betas) {
        f64[c0 + 3 * q + 1] = 1 / (1 - betas[0] ** t);
        f64[c0 + 3 * q + 2] = 1 / (1 - betas[1] ** t);
      }
    }
  }

  /**
   * Space for stepSlots: two pieces (a pipeline's two buffers) of w, m and v (UPDATE_FLOATS floats each, or a slot)
   * and per-slot scalars for `per` slots.
   */
  function updateBuffers(per: number, size: number, st: WeightStep): UpdateBuffers {
    const n = Math.min(size, UPDATE_FLOATS), arrays = st.kind === 'adam' ? 3 : 2;
    const set = (): number[] => Array.from({ length: arrays }, () => A.alloc(4 * n));
    return { sets: [set(), set()], pc: A.alloc(24 * per) };
  }

  /**
   * The step `st` of the n slots rt.node[g0 …) of w (size floats each) with their gradients consecutive at byte
   * address pg, w and the optimizer's state streamed through `pu` a piece at a time (a pipeline: a piece is copied
   * while the one before is updated); the per-slot scalars as adamUpdate and sgdUpdate compute them.
   */
  function stepSlots(rt: Routing, g0: number, n: number, size: number, pg: number, w: Float32Array, st: WeightStep,
    pu: UpdateBuffers): void {
    const adam = st.kind === 'adam';
    slotScalars(pu.pc, n, (q) => rt.node[g0 + q], st.steps, st.decayScale, st.weightDecay, adam ? [st.beta1, st.beta2] : null);
    const arrays = adam ? [w, st.m, st.v!] : [w, st.m], here = arrays.map(inPlace), pieces: Block[] = [];
    // arrays in the module's memory are updated in place, whole slots at once; the others a piece at a time
    const piece = here.every(Boolean) ? Math.max(1, size) : UPDATE_FLOATS;
    for (let q = 0; q < n; q++) {
      const t = rt.node[g0 + q];
      for (let e0 = 0; e0 < size; e0 += piece) {
        const len = Math.min(piece, size - e0), o = t * size + e0, g = pg + 4 * (q * size + e0);
        const buf = pu.sets[pieces.length & 1], ptrs = arrays.map((a, i) => here[i] ? addr(a, o) : buf[i]), [pw, pm, pv] = ptrs;
        pieces.push({
          copyIn: () => arrays.forEach((a, i) => here[i] || A.put(ptrs[i], a, o, o + len)),
          parts: () => parts(len, UPDATE_NS * len, 4).map(([e, c]) => adam
            ? [OP_ADAM, -1, pw + 4 * e, g + 4 * e, pm + 4 * e, pv + 4 * e, c, 1, pu.pc + 24 * q, st.lr, st.beta1, st.beta2, st.eps, 0]
            : [OP_SGD, -1, pw + 4 * e, g + 4 * e, pm + 4 * e, c, 1, pu.pc + 8 * q, st.lr, st.momentum, 0]),
          copyOut: () => arrays.forEach((a, i) => here[i] || A.get(ptrs[i], a, o, len)),
        });
      }
    }
    pipeline(pieces);
  }

  /**
   * Runs an elementwise optimizer update over the listed slots with the slots streamed through two sets of
   * buffers, one per array (UPDATE_FLOATS floats each), so that the kernel reads and writes in cache and only
   * the JS arrays cross memory: whole slots in batches when a slot fits, else each slot in pieces, a batch copied
   * while the one before is updated (pipeline). The first `written` arrays are copied back after each batch.
   * partsOf(q, n, size, ptrs) gives the parts that update n slots of `size` floats from listed slot q on, in the
   * buffers at ptrs (a piece: n = 1, the piece's size, slot q's scalars); the update is per element, so pieces give
   * the same results as whole slots.
   */
  function updateSlots(slots: Int32Array, count: number, slotSize: number, arrays: Float32Array[], written: number,
    sets: number[][], partsOf: (q: number, n: number, size: number, ptrs: number[]) => number[][]): void {
    const here = arrays.map(inPlace);
    const copy = (ptrs: number[], n: number, size: number, at: (t: number) => number, back: boolean): void => {
      const f32 = A.f32;
      for (let i = 0; i < (back ? written : arrays.length); i++) {
        if (here[i]) continue;
        const arr = arrays[i], d0 = ptrs[i] >>> 2;
        for (let t = 0; t < n; t++) {
          const o = at(t);
          if (back) arr.set(f32.subarray(d0 + t * size, d0 + (t + 1) * size), o);
          else f32.set(arr.subarray(o, o + size), d0 + t * size);
        }
      }
    };
    if (here.every(Boolean)) {
      // every array in the module's memory: each slot's parts in place, nothing copied
      run(Array.from({ length: count }, (_, q) => partsOf(q, 1, slotSize, arrays.map((a) => addr(a, slots[q] * slotSize)))).flat());
      return;
    }
    const batches: Block[] = [];
    const add = (q: number, n: number, size: number, at: (t: number) => number): void => {
      // an array in place is addressed there (then a batch is one slot, or a piece of one)
      const ptrs = arrays.map((a, i) => here[i] ? addr(a, at(0)) : sets[batches.length & 1][i]);
      batches.push({
        copyIn: () => copy(ptrs, n, size, at, false),
        parts: () => partsOf(q, n, size, ptrs),
        copyOut: () => copy(ptrs, n, size, at, true),
      });
    };
    const per = here.some(Boolean) ? 0 : Math.floor(UPDATE_FLOATS / slotSize);
    if (per >= 1) {
      for (let q = 0; q < count; q += per) add(q, Math.min(per, count - q), slotSize, (t) => slots[q + t] * slotSize);
    } else {
      for (let q = 0; q < count; q++) {
        for (let e0 = 0; e0 < slotSize; e0 += UPDATE_FLOATS) add(q, 1, Math.min(UPDATE_FLOATS, slotSize - e0), () => slots[q] * slotSize + e0);
      }
    }
    pipeline(batches);
  }

  // The optimizers' per-slot scalars (step counts, λ_s, bias corrections) are computed here exactly as in
  // src/kernels/optim.ts; the element updates run in wasm on the listed slots only. Slots must be distinct
  // (they are: Param.touched lists each slot once).
  function sgdUpdate(w: Float32Array, g: Float32Array, v: Float32Array, slotSize: number, slots: Int32Array,
    count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number, mu: number,
    clearGrad = false): void {
    if (count <= 0) return;
    const n = Math.min(count * slotSize, Math.max(slotSize, UPDATE_FLOATS));
    A.reset();
    const sets = [0, 1].map(() => [A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n)]), pl = A.alloc(8 * count);
    A.commit();
    slotScalars(pl, count, (q) => slots[q], steps, decayScale, weightDecay, null);
    if (slotSize <= 0) return;
    const clear = clearGrad && inPlace(g) ? 1 : 0;
    updateSlots(slots, count, slotSize, [w, v, g], 2, sets, (q, c, size, [pw, pv, pg]) => updateParts(c, size).map(([t, e, nt, n]) => {
      const o = 4 * (t * size + e);
      return [OP_SGD, -1, pw + o, pg + o, pv + o, n, nt, pl + 8 * (q + t), lr, mu, clear];
    }));
    if (clearGrad && !clear) clearSlots(g, slots, count, slotSize);
  }

  function adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, slotSize: number,
    slots: Int32Array, count: number, steps: Int32Array, decayScale: Float32Array | null, lr: number, weightDecay: number,
    b1: number, b2: number, eps: number, clearGrad = false): void {
    if (count <= 0) return;
    const n = Math.min(count * slotSize, Math.max(slotSize, UPDATE_FLOATS));
    A.reset();
    const sets = [0, 1].map(() => [A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n), A.alloc(4 * n)]), pc = A.alloc(24 * count);
    A.commit();
    slotScalars(pc, count, (q) => slots[q], steps, decayScale, weightDecay, [b1, b2]);
    if (slotSize <= 0) return;
    const clear = clearGrad && inPlace(g) ? 1 : 0;
    updateSlots(slots, count, slotSize, [w, m, v, g], 3, sets, (q, c, size, [pw, pm, pv, pg]) => updateParts(c, size).map(([t, e, nt, n]) => {
      const o = 4 * (t * size + e);
      return [OP_ADAM, -1, pw + o, pg + o, pm + o, pv + o, n, nt, pc + 24 * (q + t), lr, b1, b2, eps, clear];
    }));
    if (clearGrad && !clear) clearSlots(g, slots, count, slotSize);
  }

  return { stepSettings, slotScalars, updateBuffers, stepSlots, sgdUpdate, adamUpdate };
}
