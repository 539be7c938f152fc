// The addon's weight gradients of the grouped products, the optimizer steps fused with them (each node's gradient
// applied from cache as it is made), and the lazy optimizer updates of listed slots (src/kernels/optim.ts).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "addon.h"

namespace tg {

namespace {

// Shared by groupedBackwardWeight and groupedBackwardWeightStep: checks the buffers and runs node(g, nt) for each
// node g of the list, which writes the weight gradient dU_t = dys[r]ᵀ xs[r] of node t (on nt threads) and does with it
// what its caller wants, after adding dc_t += Σ_r dys[r] here. Nodes are split across threads (each node has one
// writer); a node too big for that is split inside its product instead, on all threads.
template <typename F>
void backwardWeight(napi_env env, napi_value* v, const F32& dw, F&& node) {
  F32 dys = f32(env, v[5], "dys"), xs = f32(env, v[7], "xs"), db = f32(env, v[10], "dbias");
  const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[11], "N");
  nodeSize("grouped backward weight", m, s);
  if ((wide)N * s > xs.n || (wide)N * m > dys.n) throw ArgError{"grouped backward weight: buffers too small"};
  const int64_t T = std::min(dw.n / (m * s), db.n / m);
  Ranges r = ranges(env, v, T, N);
  if (repeats(r.node.p + r.g0, r.g1 - r.g0)) throw ArgError{"node listed twice"};  // its gradient would have two writers
  auto one = [&](int64_t g, int nt) {
    const int32_t t = r.node.p[g];
    const int64_t a = r.start.p[g], e = r.end.p[g];
    node(g, t, e - a, dys.p + a * m, xs.p + a * s, nt);
    columnSums(dys.p + a * m, e - a, m, db.p + t * m);
  };
  // Balance by partCost: a 1-row node costs about as much as a 12-row one (read and write its gradient).
  // A node costing more than a thread's share is split inside its product; the rest run whole, in
  // contiguous runs of about equal cost, one run per thread.
  int64_t total = 0;
  for (int64_t g = r.g0; g < r.g1; g++) total += partCost(r.end.p[g] - r.start.p[g]);
  int64_t work = 0;
  for (int64_t g = r.g0; g < r.g1; g++) work += (r.end.p[g] - r.start.p[g]) * m * s;
  const int nt = work < kParallelMacs ? 1 : threads;
  std::vector<int64_t> whole;
  int64_t wholeCost = 0;
  for (int64_t g = r.g0; g < r.g1; g++) {
    const int64_t c = partCost(r.end.p[g] - r.start.p[g]);
    if (nt > 1 && c * nt > total) one(g, nt);
    else { whole.push_back(g); wholeCost += c; }
  }
  pool->run(nt, [&](int t) {
    int64_t acc = 0;
    for (int64_t g : whole) {
      const int64_t c = partCost(r.end.p[g] - r.start.p[g]);
      const int owner = wholeCost == 0 ? 0 : (int)std::min<int64_t>(nt - 1, (acc + c / 2) * nt / wholeCost);
      acc += c;
      if (owner == t) one(g, 1);
    }
  }, (double)work / kParallelMacs);
}

}  // namespace

// groupedBackwardWeight(node, start, end, g0, g1, dys, m, xs, s, dw, dbias, N, fresh):
// dU_t += dys[r]ᵀ xs[r], dc_t += Σ_r dys[r]. fresh (optional, per group): 1 where dU_t holds zeros, so that it is
// overwritten instead of added to. With plain stores: on the Zen 5 VM, streaming a node's gradient of few rows to
// memory with non-temporal stores (as the twelfth to thirty-sixth sessions did; 1.2–1.4× faster than adding into it
// on the Zen 3) wrote 25–27 GB/s, plain stores 37–39 (bench/write-rate/rate.ts), and the overwrite ran 1.21–1.61×
// faster at k = 5–10, the same at k = 0–4 (bash bench/addon-ab/run.sh HEAD . backward-weight-fresh, thirty-seventh
// session).
napi_value GroupedBackwardWeight(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[13];
    argv(env, info, 13, v);
    const F32 dw = f32(env, v[9], "dw");
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s");
    const U8 fresh = optional<U8, napi_uint8_array>(env, v[12], "fresh");
    if (fresh.p && fresh.n < i64(env, v[4], "g1")) throw ArgError{"fresh shorter than the node list"};
    backwardWeight(env, v, dw, [&](int64_t g, int32_t t, int64_t K, const float* dy, const float* x, int nt) {
      float* c = dw.p + t * m * s;
      gemmPar(m, s, K, dy, 1, m, x, s, 1, c, s, !(fresh.p && fresh.p[g]), nt);
    });
    return undefined(env);
  });
}

// Adam's bias corrections 1 / (1 − β^t) of a slot's t-th step, as adamUpdate and groupedBackwardWeightStep use them.
inline float biasCorrection(double beta, int32_t t) { return (float)(1 / (1 - std::pow(beta, t))); }

// The optimizer step of groupedBackwardWeightStep and pathWeightStep, from their arguments w (v[0]) and mState,
// vState, steps, decayScale, hp (v[1 … 5]); hp = [kind (0 adam, 1 sgd), lr, weightDecay, β1, β2, ε, μ]; vState null
// for sgd. `size` floats per node.
struct NodeStep {
  F32 w, ms, vs, d;
  I32 steps;
  int64_t size;
  bool adam;
  double lr, wd, b1, b2, eps, mu;
  NodeStep(napi_env env, napi_value* v, int64_t size)
      : w(f32(env, v[0], "w")), ms(f32(env, v[1], "mState")), vs(optional<F32, napi_float32_array>(env, v[2], "vState")),
        d(optional<F32, napi_float32_array>(env, v[4], "decayScale")), steps(i32(env, v[3], "steps")), size(size) {
    const F64 hp = typed<F64, napi_float64_array>(env, v[5], "hp");
    if (hp.n < 7) throw ArgError{"hp: needs 7 settings"};
    if (hp.p[0] != 0 && hp.p[0] != 1) throw ArgError{"unknown optimizer (hp[0] must be 0 for adam or 1 for sgd)"};
    adam = hp.p[0] == 0;
    lr = hp.p[1], wd = hp.p[2], b1 = hp.p[3], b2 = hp.p[4], eps = hp.p[5], mu = hp.p[6];
    if (adam && !vs.p) throw ArgError{"adam needs its second moment v"};
    if (ms.n < w.n || (adam && vs.n < w.n)) throw ArgError{"optimizer state smaller than the weights"};
    if (size > 0 && (steps.n < w.n / size || (d.p && d.n < w.n / size))) throw ArgError{"steps or decayScale shorter than the node count"};
  }
  // the n elements of node t's slot from element `off` on, at the slot's step `step`, their gradient at g[0, n)
  void update(int32_t t, int32_t step, const float* g, int64_t off, int64_t n) const {
    const int64_t base = t * size + off;
    const float lam = d.p ? (float)(wd * d.p[t]) : 0.f;
    float* gm = const_cast<float*>(g);  // read only: the kernels write g only to clear it, and clear is false
    if (adam)
      isa->adamSlot(w.p + base, gm, ms.p + base, vs.p + base, 0, n, (float)lr, lam, (float)b1, (float)b2, (float)(1 - b1),
                    (float)(1 - b2), (float)eps, biasCorrection(b1, step), biasCorrection(b2, step), false);
    else isa->sgdSlot(w.p + base, gm, ms.p + base, 0, n, (float)lr, lam, (float)mu, false);
  }
};

static thread_local std::vector<float> stepGrad;  // a node's gradient in groupedBackwardWeightStep (one thread's)

// groupedBackwardWeightStep(node, start, end, g0, g1, dys, m, xs, s, w, dbias, N, mState, vState, steps, decayScale,
// hp): the optimizer step (NodeStep) of every listed node's weights with its gradient dys[r]ᵀ xs[r], node by node as
// each gradient is made, so that the gradient stays in cache and never reaches memory; dc_t += Σ_r dys[r] as
// groupedBackwardWeight. The same weights and state as groupedBackwardWeight into zeroed gradients followed by
// adamUpdate / sgdUpdate of the listed nodes: the same products (a gradient overwritten, as where `fresh`), the same
// per-slot update kernels on pieces that start on multiples of 64 elements.
napi_value GroupedBackwardWeightStep(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[17];
    argv(env, info, 17, v);
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), size = nodeSize("grouped backward weight", m, s);
    napi_value sv[6] = {v[9], v[12], v[13], v[14], v[15], v[16]};
    const NodeStep st(env, sv, size);
    backwardWeight(env, v, st.w, [&](int64_t, int32_t t, int64_t K, const float* dy, const float* x, int nt) {
      if ((int64_t)stepGrad.size() < size) stepGrad.resize(size);
      float* c = stepGrad.data();
      const int32_t step = nextStep(st.steps.p[t]);
      if (nt == 1) {
        isa->gemm(m, s, K, dy, 1, m, x, s, 1, c, s, false);
        st.update(t, step, c, 0, size);
        return;
      }
      gemmPar(m, s, K, dy, 1, m, x, s, 1, c, s, false, nt);
      pool->run(nt, [&](int th) {  // split as adamUpdate splits a slot: on multiples of 64 elements
        const int64_t e0 = size * th / nt / 64 * 64, e1 = th == nt - 1 ? size : size * (th + 1) / nt / 64 * 64;
        if (e1 > e0) st.update(t, step, c + e0, e0, e1 - e0);
      }, updateWork(size));
    });
    return undefined(env);
  });
}

static const char* const DEPTH_FIRST =
    "the entries must be listed depth first: an entry's parent is the entry before it or one of that entry's ancestors (each subtree right after its root)";
static thread_local std::vector<float> pathGrad;  // one thread's gradient blocks in pathWeightStep, one per depth of the tree

// pathWeightStep(node, start, end, g0, g1, dys, m, xs, s, w, dbias, N, mState, vState, steps, decayScale, hp, entry,
// parent, at, count): the optimizer step (NodeStep) of a tree of nodes, each with its weight gradient: entry e < count
// is node entry[e], a child of entry parent[e] (parents before their children, parent[e] < e; < 0 for a root, as
// addPaths lists them); where at[e] ≥ 0 its gradient is the product dys[r]ᵀ xs[r] over the rows of range g0 + at[e]
// (which must be node entry[e] and have no child entries; every range of the list is one entry's), else the sum of
// its children's gradients. dc_t += Σ_r dys[r] for each range's node, as groupedBackwardWeight. The tree layer's
// collapsed nodes and their frontier (src/layers/path-sums.ts).
// Each thread takes blocks of rows of every node's table (bh rows, bh·s a multiple of 64 elements): per block, the
// entries deepest first, each entry's gradient made in a buffer of its depth (the product, or the sum its children
// added there) and applied, then added into its parent's buffer. No gradient reaches memory: the step reads and
// writes the weights and state once. The same weights and state as groupedBackwardWeight of the ranges into zeroed
// gradients, each parent's gradient summed from its children's (addRowVector, into zeros) and adamUpdate /
// sgdUpdate of the entries' nodes: the same products per element, sums in the same order (two children's sum does
// not depend on their order), and update pieces that start on multiples of 64 elements.
napi_value PathWeightStep(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[21];
    argv(env, info, 21, v);
    F32 dys = f32(env, v[5], "dys"), xs = f32(env, v[7], "xs"), db = f32(env, v[10], "dbias");
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[11], "N"), size = nodeSize("path weight step", m, s);
    napi_value sv[6] = {v[9], v[12], v[13], v[14], v[15], v[16]};
    const NodeStep st(env, sv, size);
    if ((wide)N * s > xs.n || (wide)N * m > dys.n) throw ArgError{"path weight step: buffers too small"};
    const int64_t T = std::min(st.w.n / size, db.n / m);
    const Ranges r = ranges(env, v, T, N);
    const I32 entryIn = i32(env, v[17], "entry"), parentIn = i32(env, v[18], "parent"), atIn = i32(env, v[19], "at");
    const int64_t count = i64(env, v[20], "count");
    if (count > entryIn.n || count > parentIn.n || count > atIn.n) throw ArgError{"count past the entry lists"};
    const Ids entry(entryIn, count), parent(parentIn, count), at(atIn, count);
    const int64_t R = r.g1 - r.g0;
    std::vector<int32_t> level(count), children(count), used(R), path;
    int32_t levels = 0;
    for (int64_t e = 0; e < count; e++) {
      const int32_t t = entry.p[e], p = parent.p[e], a = at.p[e];
      if (t < 0 || t >= T) throw ArgError{"entry node id out of range"};
      if (p >= e) throw ArgError{"a parent must come before its child (parent[e] < e, or < 0 for a root)"};
      // depth first: the buffers below hold one sum per depth, which a subtree listed elsewhere would mix with another's
      while (!path.empty() && path.back() != p) path.pop_back();
      if (p >= 0 && path.empty()) throw ArgError{DEPTH_FIRST};
      path.push_back((int32_t)e);
      if (a < -1 || a >= R) throw ArgError{"at out of the node list"};
      if (a >= 0 && (r.node.p[r.g0 + a] != t || used[a]++)) throw ArgError{"an entry's range must be its own node's, once"};
      level[e] = p < 0 ? 0 : level[p] + 1;
      if (p >= 0) children[p]++;
      levels = std::max(levels, level[e] + 1);
    }
    for (int64_t e = 0; e < count; e++)
      if (at.p[e] >= 0 && children[e]) throw ArgError{"an entry with a range has no children"};
    for (int64_t g = 0; g < R; g++)
      if (!used[g]) throw ArgError{"every range of the node list must be an entry's"};
    if (repeats(entry.p, count)) throw ArgError{"node listed twice"};  // its step would be taken twice
    std::vector<int32_t> step(count);
    for (int64_t e = 0; e < count; e++) step[e] = nextStep(st.steps.p[entry.p[e]]);
    for (int64_t g = r.g0; g < r.g1; g++)
      columnSums(dys.p + (int64_t)r.start.p[g] * m, r.end.p[g] - r.start.p[g], m, db.p + (int64_t)r.node.p[g] * m);
    // Blocks of bh rows, bh·s a multiple of 64 (each update piece starts on one): about as many rows as the products
    // have on average, in 32–256 KB. Deep products (the frontier of a shallow tree) run near the FMA peak only on
    // blocks of that height, where 16-row blocks took 1.10–1.13× longer at k = 1–2 (512 wide, N = 256); few-row ones
    // gain nothing from taller blocks, whose buffers would leave L2.
    int64_t q = 64, rows = 0;
    while (q > 1 && s % (64 / q * 2) == 0) q /= 2;
    for (int64_t g = r.g0; g < r.g1; g++) rows += r.end.p[g] - r.start.p[g];
    const int64_t mean = R ? rows / R : 0, lo = 8192 / s, hi = std::max<int64_t>(lo, 65536 / s);
    int64_t bh = std::max(q, (std::min(hi, std::max(lo, mean)) + q - 1) / q * q);
    // A block's product must sum as the whole node's does in groupedBackwardWeight: the TN form sums in other pieces
    // under kPackedRowsTN rows (kernels.h). Where the node has that many rows, so does every block: at least
    // kPackedRowsTN, the last one taking in a shorter rest (up to 2·bh − 1 rows).
    const bool packedTN = m >= kPackedRowsTN;
    if (packedTN) bh = std::max(bh, (kPackedRowsTN + q - 1) / q * q);
    const int64_t blocks = packedTN ? std::max<int64_t>(1, m / bh) : (m + bh - 1) / bh;
    const int64_t span = std::max(bh, m - (blocks - 1) * bh) * s;
    const int nt = (int)std::min<int64_t>(count * size < kParallelElements ? 1 : threads, blocks);
    pool->run(nt, [&](int th) {
      if ((int64_t)pathGrad.size() < levels * span) pathGrad.resize(levels * span);
      float* buf = pathGrad.data();
      std::vector<char> started(levels, 0);  // whether a buffer holds a sum its children began
      for (int64_t b = blocks * th / nt; b < blocks * (th + 1) / nt; b++) {
        const int64_t i0 = b * bh, n = (b == blocks - 1 ? m - i0 : bh) * s;
        for (int64_t e = count - 1; e >= 0; e--) {
          const int32_t L = level[e], a = at.p[e];
          float* g = buf + L * span;
          if (a >= 0) {
            const int64_t r0 = r.start.p[r.g0 + a], K = r.end.p[r.g0 + a] - r0;
            isa->gemm(n / s, s, K, dys.p + r0 * m + i0, 1, m, xs.p + r0 * s, s, 1, g, s, false);
          } else if (!started[L]) std::fill(g, g + n, 0.f);
          started[L] = 0;
          st.update(entry.p[e], step[e], g, i0 * s, n);
          if (L == 0) continue;
          isa->addInto(buf + (L - 1) * span, g, n, !started[L - 1]);
          started[L - 1] = 1;
        }
      }
    });
    return undefined(env);
  });
}

// ---- lazy optimizer updates (src/kernels/optim.ts) ---------------------------

// Shared by adamUpdate and sgdUpdate: checks the slot list, bumps each slot's step count, and splits slots over threads.
template <typename F>
void forSlots(napi_env env, napi_value* v, const F32& w, const F32& g, std::vector<const F32*> state, const F32& decay, F&& f) {
  const int64_t slotSize = i64(env, v[0], "slotSize");
  const I32 slotsIn = i32(env, v[1], "slots"), steps = i32(env, v[3], "steps");
  const int64_t count = i64(env, v[2], "count");
  if (count > slotsIn.n) throw ArgError{"slot count past the slot list"};
  const Ids slots(slotsIn, count);
  for (const F32* s : state) if (s->n < w.n) throw ArgError{"optimizer state smaller than the weights"};
  if (g.n < w.n) throw ArgError{"gradient smaller than the weights"};
  for (int64_t q = 0; q < count; q++) {
    const int32_t s = slots.p[q];
    if (s < 0 || s >= steps.n || ((wide)s + 1) * slotSize > w.n || (decay.p && s >= decay.n)) throw ArgError{"slot out of range"};
  }
  if (repeats(slots.p, count)) throw ArgError{"slot listed twice"};  // its elements would be updated by two threads at once
  std::vector<int32_t> t(count);
  for (int64_t q = 0; q < count; q++) t[q] = nextStep(steps.p[slots.p[q]]);
  // Elements, not slots, are split across threads (one slot, k = 0, would leave a thread idle); split points
  // fall on multiples of 64 elements into a slot so that each element takes the same vector or scalar path.
  const int64_t total = count * slotSize;
  if (total == 0) return;
  const int nt = total < kParallelElements ? 1 : threads;
  auto split = [&](int th) {
    const int64_t x = total * th / nt;
    return x / slotSize * slotSize + x % slotSize / 64 * 64;
  };
  pool->run(nt, [&](int th) {
    const int64_t lo = split(th), hi = split(th + 1);
    for (int64_t q = lo / slotSize; q < count && q * slotSize < hi; q++) {
      const int64_t base = (int64_t)slots.p[q] * slotSize;
      const int64_t e0 = std::max(lo, q * slotSize) - q * slotSize, e1 = std::min(hi, (q + 1) * slotSize) - q * slotSize;
      if (e1 > e0) f(slots.p[q], base + e0, base + e1, t[q]);
    }
  }, updateWork(total));
}

// adamUpdate(w, g, m, v, slotSize, slots, count, steps, decayScale, lr, weightDecay, b1, b2, eps, clearGrad)
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[15];
    argv(env, info, 15, v);
    const bool clear = boolean(env, v[14], "clearGrad");
    F32 w = f32(env, v[0], "w"), g = f32(env, v[1], "g"), m = f32(env, v[2], "m"), u = f32(env, v[3], "v");
    const double lr = num(env, v[9], "lr"), wd = num(env, v[10], "weightDecay");
    const double b1 = num(env, v[11], "b1"), b2 = num(env, v[12], "b2"), eps = num(env, v[13], "eps");
    // decay per slot, read before threads start (N-API calls stay on this thread)
    const F32 d = optional<F32, napi_float32_array>(env, v[8], "decayScale");
    napi_value sv[4] = {v[4], v[5], v[6], v[7]};
    forSlots(env, sv, w, g, {&m, &u}, d, [&](int32_t s, int64_t e0, int64_t e1, int32_t t) {
      const float lam = d.p ? (float)(wd * d.p[s]) : 0.f;
      isa->adamSlot(w.p, g.p, m.p, u.p, e0, e1, (float)lr, lam, (float)b1, (float)b2, (float)(1 - b1), (float)(1 - b2), (float)eps,
                    biasCorrection(b1, t), biasCorrection(b2, t), clear);
    });
    return undefined(env);
  });
}

// sgdUpdate(w, g, v, slotSize, slots, count, steps, decayScale, lr, weightDecay, mu, clearGrad)
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[12];
    argv(env, info, 12, v);
    const bool clear = boolean(env, v[11], "clearGrad");
    F32 w = f32(env, v[0], "w"), g = f32(env, v[1], "g"), u = f32(env, v[2], "v");
    const double lr = num(env, v[8], "lr"), wd = num(env, v[9], "weightDecay"), mu = num(env, v[10], "mu");
    const F32 d = optional<F32, napi_float32_array>(env, v[7], "decayScale");
    napi_value sv[4] = {v[3], v[4], v[5], v[6]};
    forSlots(env, sv, w, g, {&u}, d, [&](int32_t s, int64_t e0, int64_t e1, int32_t) {
      isa->sgdSlot(w.p, g.p, u.p, e0, e1, (float)lr, d.p ? (float)(wd * d.p[s]) : 0.f, (float)mu, clear);
    });
    return undefined(env);
  });
}

}  // namespace tg
