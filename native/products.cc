// The addon's matrix products: the threaded GEMM, packing node tables into panels, and the grouped products over
// sorted node ranges whose output rows each have one writer (forward, routed forward, input gradient; DESIGN §2).
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

void gemmPar(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
             int64_t bcs, float* c, int64_t crs, bool acc, int nt) {
  if (nt <= 1 || partCost(M) * N * K < kParallelMacs) return isa->gemm(M, N, K, a, ars, acs, b, brs, bcs, c, crs, acc);
  // Split the longer side: each thread packs the operand it does not split (all of B in a row split), so
  // splitting columns when N ≥ M packs less (256×1024×1024, 2 threads: 3.5 → 3.2 ms of CPU time).
  const double work = (double)(partCost(M) * N * K) / kParallelMacs;
  if (M >= 48 * nt && M > N) {  // split rows
    pool->run(nt, [&](int t) {
      const int64_t i0 = M * t / nt, i1 = M * (t + 1) / nt;
      isa->gemm(i1 - i0, N, K, a + i0 * ars, ars, acs, b, brs, bcs, c + i0 * crs, crs, acc);
    }, work);
  } else if (acs == 1 && M >= 128) {
    // The in-place kernels (panelRows: B packed a 32-column panel at a time, A read in place), many rows: columns
    // in chunks of at least 64, on multiples of 32, each thread taking the next chunk as it finishes one, so that
    // a core running slower than the other (this VM's second core at times ran single-thread products at half
    // the first's speed: 99 against 199 GFLOP/s at 256×1024×1024 under `taskset`) takes fewer. The same sums
    // (chunks start on panel boundaries), the same panels packed in all. Thirty-fifth session, Zen 5, a
    // development program alternating the two splits in one process (medians of 20–40 calls, 20 runs over two
    // minutes): at 256×1024×1024 0.98–1.02× with the cores even; in 10 of the 20 runs the static split took about
    // twice its usual time, and there the chunks read 1.15–1.37× in 7 and 0.99–1.02× in 3 (both slow: as if one
    // core were gone). At 256×512×512 0.98–1.03×. At 32 rows the chunks cost 0.90–0.93× (hence the floor).
    const int64_t step = std::max<int64_t>(64, N / (4 * nt) / 32 * 32);
    std::atomic<int64_t> next{0};
    pool->run(nt, [&](int) {
      for (int64_t j0; (j0 = next.fetch_add(step, std::memory_order_relaxed)) < N;)
        isa->gemm(M, std::min(step, N - j0), K, a, ars, acs, b + j0 * bcs, brs, bcs, c + j0, crs, acc);
    }, work);
  } else {  // split columns, on multiples of 32
    pool->run(nt, [&](int t) {
      const int64_t j0 = (N * t / nt) / 32 * 32, j1 = t == nt - 1 ? N : (N * (t + 1) / nt) / 32 * 32;
      if (j1 > j0) isa->gemm(M, j1 - j0, K, a, ars, acs, b + j0 * bcs, brs, bcs, c + j0, crs, acc);
    }, work);
  }
}

napi_value Gemm(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[15];
    argv(env, info, 15, v);
    const int64_t M = i64(env, v[0], "M"), N = i64(env, v[1], "N"), K = i64(env, v[2], "K");
    F32 a = f32(env, v[3], "a"), b = f32(env, v[7], "b"), c = f32(env, v[11], "c");
    const int64_t ao = i64(env, v[4], "ao"), ars = i64(env, v[5], "ars"), acs = i64(env, v[6], "acs");
    const int64_t bo = i64(env, v[8], "bo"), brs = i64(env, v[9], "brs"), bcs = i64(env, v[10], "bcs");
    const int64_t co = i64(env, v[12], "co"), crs = i64(env, v[13], "crs");
    const bool acc = boolean(env, v[14], "accumulate");
    within(a, extent(ao, M, ars, K, acs), "gemm A");
    within(b, extent(bo, K, brs, N, bcs), "gemm B");
    within(c, extent(co, M, crs, N, 1), "gemm C");
    // (each element of C has one writer: the threads split C, and rows that overlap would share elements)
    if (M > 1 && crs < N) throw ArgError{"gemm C: rows of " + std::to_string(N) + " floats at a row stride of " + std::to_string(crs) + " overlap"};
    gemmPar(M, N, K, a.p + ao, ars, acs, b.p + bo, brs, bcs, c.p + co, crs, acc, threads);
    return undefined(env);
  });
}

// Floats of one node's packed tables (packNodes): its m rows of s in panels of nr, zero-padded to a multiple of nr.
int64_t packedFloats(int64_t m, int64_t s) { return (m + isa->nr - 1) / isa->nr * isa->nr * s; }

// packNodes(w, T, m, s, out): node tables (T, m, s) → out, T · packedFloats(m, s) floats, for the forward
// products' packed flag.
napi_value PackNodes(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[5];
    argv(env, info, 5, v);
    F32 w = f32(env, v[0], "w"), out = f32(env, v[4], "out");
    const int64_t T = i64(env, v[1], "T"), m = i64(env, v[2], "m"), s = i64(env, v[3], "s");
    tableSize("packNodes", m, s);  // (before packedFloats, whose product would wrap past it)
    const int64_t per = packedFloats(m, s);
    if ((wide)T * m * s > w.n) throw ArgError{"packNodes: w holds fewer than T·m·s floats"};
    if ((wide)T * per > out.n) throw ArgError{"packNodes: out holds fewer than T·packedFloats(m, s) floats"};
    const int nt = T > 1 && T * m * s >= kParallelGather ? threads : 1;
    pool->run(nt, [&](int th) {
      for (int64_t t = T * th / nt; t < T * (th + 1) / nt; t++) isa->packPanels(m, s, w.p + t * m * s, out.p + t * per);
    });
    return undefined(env);
  });
}

// ---- grouped products over sorted node ranges (DESIGN §2) -------------------

Ranges ranges(napi_env env, napi_value* v, int64_t nodes, int64_t rows) {
  const I32 node = i32(env, v[0], "node"), start = i32(env, v[1], "start"), end = i32(env, v[2], "end");
  const int64_t g0 = i64(env, v[3], "g0"), g1 = i64(env, v[4], "g1");
  if (g1 > node.n || g1 > start.n || g1 > end.n || g0 > g1) throw ArgError{"node range out of bounds"};
  Ranges r{Ids(node, g1), Ids(start, g1), Ids(end, g1), g0, g1};
  for (int64_t g = r.g0; g < r.g1; g++) {
    if (r.node.p[g] < 0 || r.node.p[g] >= nodes) throw ArgError{"node id out of range"};
    if (r.start.p[g] < 0 || r.start.p[g] > r.end.p[g] || r.end.p[g] > rows) throw ArgError{"row range out of bounds"};
  }
  return r;
}

namespace {

// Grouped products over threads, by columns: the output columns are split between the threads, on multiples of
// `unit` (32, or the panel width of packed tables), and every thread runs every node over all of its rows for
// its columns. A row's sums are the same as on one thread (each element is summed by the kernel its node's row
// count picks, in that kernel's order), and each node's weights are read once in all, half by each thread; but
// the input gradient, which reads a node's weights row by row, then reads half rows (0.83–0.86× at k = 6–8,
// N = 256, addon-ab), and gathering and scattering take runs of their own. byRows uses it where a row split
// would be uneven.
// pre(a, e) and post(a, e) run on shares of the rows before and after the products (gather, scatter).
struct NoRows {
  void operator()(int64_t, int64_t) const {}
};
constexpr int64_t FEW_ROWS = 16;
template <typename F, typename Pre = NoRows, typename Post = NoRows>
void byColumns(const Ranges& r, int64_t N, int64_t cols, int64_t unit, int64_t macsPerRow, F&& f, Pre&& pre = {},
               Post&& post = {}) {
  int64_t whole = 0;
  for (int64_t g = r.g0; g < r.g1; g++) whole += partCost(r.end.p[g] - r.start.p[g]);
  const int64_t groups = (cols + unit - 1) / unit;
  const int nt = whole * macsPerRow < kParallelMacs ? 1 : (int)std::min<int64_t>(threads, groups);
  const double work = (double)(whole * macsPerRow) / kParallelMacs;
  constexpr bool rows = !std::is_same_v<std::decay_t<Pre>, NoRows> || !std::is_same_v<std::decay_t<Post>, NoRows>;
  // a few rows are gathered and scattered on this thread: a handshake costs more than their copy
  const int rowThreads = N <= FEW_ROWS ? 1 : nt;
  if constexpr (rows) pool->run(rowThreads, [&](int t) { pre(N * t / rowThreads, N * (t + 1) / rowThreads); }, work);
  pool->run(nt, [&](int t) {
    const int64_t j0 = std::min(cols, groups * t / nt * unit), j1 = std::min(cols, groups * (t + 1) / nt * unit);
    if (j1 <= j0) return;
    for (int64_t g = r.g0; g < r.g1; g++)
      if (r.end.p[g] > r.start.p[g]) f(r.node.p[g], r.start.p[g], r.end.p[g], j0, j1);
  }, work);
  if constexpr (rows) pool->run(rowThreads, [&](int t) { post(N * t / rowThreads, N * (t + 1) / rowThreads); }, work);
}

// Split points 0 = R_0 ≤ … ≤ R_nt = N of the sorted rows, one range per thread, for grouped products where each
// row has one writer (forward, input gradient). A split inside a node's range makes two threads read its
// weights, so the points are chosen by cost, not by row count: thread t's cost is Σ_nodes partCost(rows of the
// node in its range), and R_t minimizes max(cost of [R_{t−1}, R_t), cost of [R_t, N) / (threads left)).
// Costs of all R at once: each node adds a piecewise-linear function of R, built from jumps and slope changes.
// A point may cut a node of at least `chain` rows only into pieces of at least `chain` rows, and so may two
// points in turn (until 2026-12-04 only each point's distance from the node's ends was kept, and three threads
// could cut 64 rows into 24 + 16 + 24 under the input gradient's 24: other bits than one thread's) (kernels.h:
// isa->chainRowsNT for the forward, kChainRowsNN for the input gradient): each piece then sums its rows in the order
// the whole node would, and a smaller node's rows are summed alike however it is cut. So a row's sums are the
// same on any number of threads, and the model does not depend on the thread count.
std::vector<int64_t> splitPoints(const Ranges& r, int64_t N, int nt, int64_t chain) {
  // cuttable[x]: x is at least `chain` rows from both ends of every node of `chain` rows or more it falls inside;
  // inside[x]: x falls strictly inside such a node, so the next point must lie `chain` rows on, or at x itself
  // (an empty range), else the piece between the two would be shorter than `chain`
  std::vector<char> cuttable(N + 1, 1), inside(N + 1, 0);
  for (int64_t g = r.g0; g < r.g1; g++) {
    const int64_t a = r.start.p[g], e = r.end.p[g];
    if (e - a < chain) continue;
    for (int64_t x = a + 1; x < a + chain; x++) cuttable[x] = 0;
    for (int64_t x = e - chain + 1; x < e; x++) cuttable[x] = 0;
    for (int64_t x = a + 1; x < e; x++) inside[x] = 1;
  }
  // right[R] = Σ partCost(rows of the node in [R, N)), left[R] = the same for [lo, R)
  auto profile = [&](int64_t lo, bool fromLeft) {
    std::vector<int64_t> jump(N + 2, 0), slope(N + 2, 0), f(N + 1, 0);
    for (int64_t g = r.g0; g < r.g1; g++) {
      const int64_t s = std::max<int64_t>(r.start.p[g], lo), e = r.end.p[g], n = e - s;
      if (n <= 0) continue;
      // in distance d = rows of the node covered (1 … n): partCost rises to ROWS_PER_READ at d = 1, then +1 per row
      // past ROWS_PER_READ; positions: left R = s + d, right R = e − d
      if (fromLeft) {
        jump[s + 1] += ROWS_PER_READ;
        if (n > ROWS_PER_READ) { slope[s + ROWS_PER_READ + 1] += 1; slope[e + 1] -= 1; }
      } else {
        jump[N - (e - 1)] += ROWS_PER_READ;  // mirrored: index N − R
        if (n > ROWS_PER_READ) { slope[N - (e - ROWS_PER_READ - 1)] += 1; slope[N - s + 1] -= 1; }
      }
    }
    int64_t v = 0, sl = 0;
    for (int64_t i = 0; i <= N; i++) {
      sl += slope[i];
      v += jump[i] + sl;
      f[fromLeft ? i : N - i] = v;
    }
    return f;
  };
  const std::vector<int64_t> right = profile(0, false);
  std::vector<int64_t> R(nt + 1, N);
  R[0] = 0;
  for (int t = 1; t < nt; t++) {
    const std::vector<int64_t> left = profile(R[t - 1], true);
    int64_t best = R[t - 1], bestCost = INT64_MAX;
    const int64_t next = inside[R[t - 1]] ? R[t - 1] + chain : R[t - 1];
    for (int64_t x = R[t - 1]; x <= N; x++) {
      if (!cuttable[x] || (x > R[t - 1] && x < next)) continue;
      const int64_t c = std::max(left[x] * (nt - t), right[x]);  // left·(threads left) vs the rest
      if (c < bestCost) { bestCost = c; best = x; }
    }
    R[t] = best;
  }
  return R;
}

// Grouped products over threads, by rows: thread t takes rows [R_t, R_{t+1}) of splitPoints (pre, every node's
// share of them with fr(node, a, e), post) when that split is even (no thread over 55% of the cost), else the
// products run byColumns with fc(node, a, e, j0, j1). Either way a row's sums do not depend on the thread count
// (the chain rule of splitPoints; the columns' shares), so neither does the model. At N = 256 the rows split
// evenly; a batch of 64 routed by a trained tree often does not under the chain rule (its two depth-1 nodes hold
// 20 and 44 rows, say), and there the rows split cost a training epoch about 10% (development A/B of the
// default `treegate train` over eight alternating runs each) where the columns cost nothing.
template <typename FR, typename FC, typename Pre = NoRows, typename Post = NoRows>
void byRows(const Ranges& r, int64_t N, int64_t cols, int64_t unit, int64_t macsPerRow, int64_t chain, FR&& fr, FC&& fc,
            Pre&& pre = {}, Post&& post = {}) {
  int64_t whole = 0;
  for (int64_t g = r.g0; g < r.g1; g++) whole += partCost(r.end.p[g] - r.start.p[g]);
  const int nt = whole * macsPerRow < kParallelMacs ? 1 : threads;
  if (nt == 1) {
    pre(0, N);
    for (int64_t g = r.g0; g < r.g1; g++)
      if (r.end.p[g] > r.start.p[g]) fr(r.node.p[g], r.start.p[g], r.end.p[g]);
    post(0, N);
    return;
  }
  const std::vector<int64_t> R = splitPoints(r, N, nt, chain);
  int64_t worst = 0;
  for (int t = 0; t < nt; t++) {
    int64_t c = 0;
    for (int64_t g = r.g0; g < r.g1; g++)
      c += partCost(std::min<int64_t>(r.end.p[g], R[t + 1]) - std::max<int64_t>(r.start.p[g], R[t]));
    worst = std::max(worst, c);
  }
  if (20 * worst > 11 * whole) return byColumns(r, N, cols, unit, macsPerRow, fc, pre, post);
  pool->run(nt, [&](int t) {
    pre(R[t], R[t + 1]);
    for (int64_t g = r.g0; g < r.g1; g++) {
      const int64_t s = std::max<int64_t>(r.start.p[g], R[t]), e = std::min<int64_t>(r.end.p[g], R[t + 1]);
      if (e > s) fr(r.node.p[g], s, e);
    }
    post(R[t], R[t + 1]);
  }, (double)(whole * macsPerRow) / kParallelMacs);
}

// groupedForward(node, start, end, g0, g1, xs, s, w, bias, m, ys, N, packed): ys[r] += xs[r] U_tᵀ + c_t
// routedForward(node, start, end, g0, g1, xs, s, w, bias, m, ys, N, perm, x, xStride, xOffset, y, accumulate, packed):
// the same with ys zeroed first, between xs[r] = x[perm[r]·xStride + xOffset, s columns] and
// y[perm[r]·m, m columns] (+)= ys[r], the threads gathering and scattering shares of the rows (perm must be a
// permutation: a repeated row is rejected, as two threads would write it). Threads: byRows.
// Both take a last argument `packed`: w holds the node tables as packNodes lays them out.
napi_value forward(napi_env env, napi_callback_info info, bool routed) {
  return guard(env, [&] {
    napi_value v[19];
    argv(env, info, routed ? 19 : 13, v);
    const bool packed = boolean(env, v[routed ? 18 : 12], "packed");
    F32 xs = f32(env, v[5], "xs"), w = f32(env, v[7], "w"), bias = f32(env, v[8], "bias"), ys = f32(env, v[10], "ys");
    const int64_t s = i64(env, v[6], "s"), m = i64(env, v[9], "m"), N = i64(env, v[11], "N");
    nodeSize("grouped forward", m, s);
    if ((wide)N * s > xs.n || (wide)N * m > ys.n) throw ArgError{"grouped forward: buffers too small"};
    const int64_t T = std::min(w.n / (packed ? packedFloats(m, s) : m * s), bias.n / m);  // m·s ≥ 1, and ≤ 2^40 (nodeSize)
    Ranges r = ranges(env, v, T, N);
    Ids perm;
    F32 x{nullptr, 0}, y{nullptr, 0};
    int64_t xStride = 0, xOff = 0;
    bool yAcc = false;
    if (routed) {
      const I32 permIn = i32(env, v[12], "perm");
      x = f32(env, v[13], "x");
      xStride = i64(env, v[14], "xStride");
      xOff = i64(env, v[15], "xOffset");
      y = f32(env, v[16], "y");
      yAcc = boolean(env, v[17], "accumulate");
      if (permIn.n < N) throw ArgError{"perm shorter than N"};
      perm = Ids(permIn, N);
      for (int64_t i = 0; i < N; i++) {
        if (perm.p[i] < 0 || (wide)perm.p[i] * xStride + xOff + s > x.n) throw ArgError{"routed forward: perm index out of range of x"};
        if (((wide)perm.p[i] + 1) * m > y.n) throw ArgError{"routed forward: perm index out of range of y"};
      }
      // the threads scatter to y[perm[r]]: each row of y must have one writer, whatever its index
      if (repeats(perm.p, N)) throw ArgError{"routed forward: perm repeats a row (it must be a permutation)"};
    }
    // node t's rows [a, e), output columns [j0, j1)
    auto node = [&](int32_t t, int64_t a, int64_t e, int64_t j0, int64_t j1) {
      if (packed) isa->packedRows(e - a, j1 - j0, s, xs.p + a * s, s, w.p + t * packedFloats(m, s) + j0 * s, ys.p + a * m + j0, m, true);
      else isa->gemm(e - a, j1 - j0, s, xs.p + a * s, s, 1, w.p + t * m * s + j0 * s, 1, s, ys.p + a * m + j0, m, true);
      for (int64_t i = a; i < e; i++) isa->addInto(ys.p + i * m + j0, bias.p + t * m + j0, j1 - j0, false);
    };
    const int64_t unit = packed ? isa->nr : 32;
    auto nodeRows = [&](int32_t t, int64_t a, int64_t e) { node(t, a, e, 0, m); };
    if (!routed) {
      byRows(r, N, m, unit, m * s, isa->chainRowsNT, nodeRows, node);
      return undefined(env);
    }
    // a thread's rows: gathered and their outputs zeroed before its first node, scattered after its last
    auto gatherZero = [&](int64_t a, int64_t e) {
      for (int64_t i = a; i < e; i++) std::memcpy(xs.p + i * s, x.p + perm.p[i] * xStride + xOff, s * sizeof(float));
      std::fill(ys.p + a * m, ys.p + e * m, 0.f);
    };
    auto scatter = [&](int64_t a, int64_t e) {
      for (int64_t i = a; i < e; i++) {
        float* d = y.p + perm.p[i] * m;
        const float* src = ys.p + i * m;
        if (yAcc) for (int64_t j = 0; j < m; j++) d[j] += src[j];
        else std::memcpy(d, src, m * sizeof(float));
      }
    };
    byRows(r, N, m, unit, m * s, isa->chainRowsNT, nodeRows, node, gatherZero, scatter);
    return undefined(env);
  });
}

}  // namespace

napi_value GroupedForward(napi_env env, napi_callback_info info) { return forward(env, info, false); }
napi_value RoutedForward(napi_env env, napi_callback_info info) { return forward(env, info, true); }

// groupedBackwardInput(node, start, end, g0, g1, dys, m, w, s, dxs, N): dxs[r] += dys[r] U_t
napi_value GroupedBackwardInput(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[11];
    argv(env, info, 11, v);
    F32 dys = f32(env, v[5], "dys"), w = f32(env, v[7], "w"), dxs = f32(env, v[9], "dxs");
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[10], "N");
    nodeSize("grouped backward input", m, s);
    if ((wide)N * s > dxs.n || (wide)N * m > dys.n) throw ArgError{"grouped backward input: buffers too small"};
    Ranges r = ranges(env, v, w.n / (m * s), N);
    byRows(r, N, s, 32, m * s, kChainRowsNN,
      [&](int32_t t, int64_t a, int64_t e) { isa->gemm(e - a, s, m, dys.p + a * m, m, 1, w.p + t * m * s, s, 1, dxs.p + a * s, s, true); },
      [&](int32_t t, int64_t a, int64_t e, int64_t j0, int64_t j1) {
        isa->gemm(e - a, j1 - j0, m, dys.p + a * m, m, 1, w.p + t * m * s + j0, s, 1, dxs.p + a * s + j0, s, true);
      });
    return undefined(env);
  });
}

}  // namespace tg
