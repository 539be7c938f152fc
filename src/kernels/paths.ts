/**
 * The tree layer's path-sum tables (src/layers/path-sums.ts) as one op, plain TypeScript reference, and what the
 * fast backends share to run it a block of columns at a time.
 */
import { addArrays } from './elementwise.js';

/**
 * Sums of tables along the paths of a tree (the tree layer's path sums: src/layers/path-sums.ts). w holds tables of
 * `size` floats; entry e < count is table node[e] added to the sum of entry parent[e] (parents before their
 * children: parent[e] < e; table node[e] alone where parent[e] < 0), and where outAt[e] ≥ 0 its sum is written to
 * out[outAt[e]·size …). Each element is summed from the root down, as a chain of addArrays over whole tables would
 * (the same bits); a backend may instead run every entry over one block of columns at a time, so that only the
 * written sums go to memory. out must not overlap w.
 */
export function addPaths(w: Float32Array, size: number, node: Int32Array, parent: Int32Array, outAt: Int32Array,
  count: number, out: Float32Array): void {
  addPathsWith(addArrays, w, size, node, parent, outAt, count, out);
}

/**
 * addPaths over whole tables, each entry's sum made by `add` (a backend's addArrays) into its table of out, or into
 * a scratch table while its children need it (a scratch table is reused once its last child is made: in
 * depth-first order, the tree's depth of them).
 */
export function addPathsWith(add: typeof addArrays, w: Float32Array, size: number, node: Int32Array, parent: Int32Array,
  outAt: Int32Array, count: number, out: Float32Array): void {
  const sums: Array<Float32Array | null> = new Array(count).fill(null);
  const scratch = new Set<Float32Array>(), free: Float32Array[] = [];
  const children = new Int32Array(count);
  for (let e = 0; e < count; e++) if (parent[e] >= 0) children[parent[e]]++;
  for (let e = 0; e < count; e++) {
    const t = w.subarray(node[e] * size, (node[e] + 1) * size), p = parent[e];
    const o = outAt[e] >= 0 ? out.subarray(outAt[e] * size, (outAt[e] + 1) * size) : null;
    let sum = t;
    if (p >= 0) {
      if (children[e] > 0 || !o) {
        sum = free.pop() ?? new Float32Array(size);
        scratch.add(sum);
      } else sum = o;
      add(sums[p]!, t, sum, size);
      if (--children[p] === 0) {
        if (scratch.has(sums[p]!)) free.push(sums[p]!);
        sums[p] = null;
      }
    }
    if (o && o !== sum) o.set(sum);
    if (children[e] > 0) sums[e] = sum;
    else if (scratch.has(sum)) free.push(sum); // an entry that writes nothing and has no children
  }
}

/**
 * Scratch slots for a blocked addPaths: an entry with children holds one (slot[e] ≥ 0) from its sum until its last
 * child is added, and that child may take it over (adding in place); `slots` in all. In depth-first order the
 * slots needed are the tree's depth.
 */
export function pathSlots(parent: Int32Array, count: number): { slot: Int32Array; slots: number } {
  const last = new Int32Array(count).fill(-1), slot = new Int32Array(count).fill(-1), freed: number[] = [];
  for (let e = 0; e < count; e++) if (parent[e] >= 0) last[parent[e]] = e;
  let slots = 0;
  for (let e = 0; e < count; e++) {
    const p = parent[e];
    if (p >= 0 && last[p] === e) freed.push(slot[p]);
    if (last[e] >= 0) slot[e] = freed.length > 0 ? freed.pop()! : slots++;
  }
  return { slot, slots };
}
