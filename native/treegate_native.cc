// Node-API entry points of the native backend. Each function checks that every
// index it will touch lies inside the typed arrays it was given, then runs the
// kernel on the arrays' own memory (no copies). The plain TypeScript kernels in
// src/kernels/ are the specification (see test/kernels/native.test.ts).
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace tg {
namespace {

const Kernels* isa = &generic::kernels;
const char* isaName = "generic";
std::unique_ptr<Pool> pool;
int threads = 1;

// The widest instruction set the CPU has; TREEGATE_NATIVE_ISA=avx2 or generic picks a narrower one (the tests
// check every compiled variant against the reference on machines that have the wider one).
void selectIsa() {
  __builtin_cpu_init();
  const char* want = std::getenv("TREEGATE_NATIVE_ISA");
  const std::string w = want ? want : "";
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  if (w == "generic") return;
  if (avx512 && w != "avx2") {
    isa = &avx512::kernels;
    isaName = "avx512";
  } else if (avx2) {
    isa = &avx2::kernels;
    isaName = "avx2";
  }
}

// ---- argument helpers ------------------------------------------------------

struct ArgError {
  std::string msg;
};

struct F32 {
  float* p;
  int64_t n;
};
struct I32 {
  int32_t* p;
  int64_t n;
};

napi_value* argv(napi_env env, napi_callback_info info, size_t want, napi_value* buf) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, buf, nullptr, nullptr);
  if (argc < want) throw ArgError{"expected " + std::to_string(want) + " arguments"};
  return buf;
}

double num(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw ArgError{std::string(what) + " must be a number"};
  return d;
}

// Sizes, strides, offsets and counts are at most 2^40 (no typed array is longer), and every bound below is
// computed in 128 bits (`wide`): a product of three such values cannot wrap around, so no check can pass an
// index that lies outside its array.
constexpr int64_t MAX_INDEX = int64_t(1) << 40;
using wide = __int128;

int64_t i64(napi_env env, napi_value v, const char* what) {
  double d = num(env, v, what);
  if (d != std::floor(d) || d < 0 || d > (double)MAX_INDEX) throw ArgError{std::string(what) + " must be an integer in [0, 2^40]"};
  return (int64_t)d;
}

// A flag: true, false, or undefined (false). Anything else is an error: the reference reads JavaScript
// truthiness, so 1 or "no" would mean true there and must not quietly mean false here.
bool boolean(napi_env env, napi_value v, const char* what) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_undefined) return false;
  if (type != napi_boolean) throw ArgError{std::string(what) + " must be true or false"};
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

template <typename T, napi_typedarray_type TYPE>
T typed(napi_env env, napi_value v, const char* what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) throw ArgError{std::string(what) + " must be a typed array"};
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
  if (type != TYPE) throw ArgError{std::string(what) + " has the wrong element type"};
  return T{(decltype(T::p))data, (int64_t)length};
}
struct U8 {
  uint8_t* p;
  int64_t n;
};
struct F64 {
  double* p;
  int64_t n;
};
F32 f32(napi_env env, napi_value v, const char* what) { return typed<F32, napi_float32_array>(env, v, what); }
I32 i32(napi_env env, napi_value v, const char* what) { return typed<I32, napi_int32_array>(env, v, what); }

// An optional typed-array argument: {nullptr, 0} for null or undefined.
template <typename T, napi_typedarray_type TYPE>
T optional(napi_env env, napi_value v, const char* what) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) return T{nullptr, 0};
  return typed<T, TYPE>(env, v, what);
}

// Largest index of a strided rows × cols view, or -1 if empty.
wide extent(int64_t off, int64_t rows, int64_t rs, int64_t cols, int64_t cs) {
  if (rows <= 0 || cols <= 0) return -1;
  return off + (wide)(rows - 1) * rs + (wide)(cols - 1) * cs;
}
void within(const F32& a, wide last, const char* what) {
  if (last >= a.n) throw ArgError{std::string(what) + ": a strided index is past the end (" + std::to_string(a.n) + ")"};
}

// Whether a list of ids holds one twice (a sorted copy: O(n log n) in the ids listed, whatever their range).
bool repeats(const int32_t* ids, int64_t n) {
  std::vector<int32_t> v(ids, ids + n);
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <typename F>
napi_value guard(napi_env env, F&& f) {
  try {
    return f();
  } catch (const ArgError& e) {
    napi_throw_range_error(env, nullptr, ("treegate native: " + e.msg).c_str());
    return nullptr;
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, ("treegate native: " + std::string(e.what())).c_str());
    return nullptr;
  }
}

// ---- threaded GEMM ---------------------------------------------------------

// Cost of a node's product over r rows, in units of reading its weights: bound by that read up to about
// ROWS_PER_READ rows, by multiply-adds beyond (the direct few-row kernels at ~150 GFLOP/s against 27 GB/s).
constexpr int64_t ROWS_PER_READ = 12;
int64_t partCost(int64_t r) { return r <= 0 ? 0 : std::max(ROWS_PER_READ, r); }

// Work below which a call stays on one thread, in multiply-adds, with partCost rows so that a few-row product
// counts its weight read. A thread handshake costs 2–9 µs (measured by parallelStress); a 512×512
// matrix-vector product took 19 µs on one thread and 11 µs on two with its 1 MB of weights in cache, 56 and
// 36 µs from memory (development A/B of the two builds, interleaved).
constexpr int64_t kParallelMacs = 1 << 20;
// Optimizer elements: each one is 7 memory accesses, so one 512×512 slot is worth two threads.
constexpr int64_t kParallelElements = 1 << 18;
// The pool's work hint (Pool::run, in units of about 10 µs of one thread's work) for an update of n elements:
// kParallelElements of them move 7.3 MB, about 270 µs at one thread's 27 GB/s. (Counted as one unit, an update
// of under 16 such slots ran on the calling thread alone when the workers slept: 3.27–3.33 ms for 15 slots of
// 512×512, against 1.81–1.84 ms on both threads; benchmark-history.md, thirty-first session.)
inline double updateWork(int64_t n) { return 27.0 * (double)n / kParallelElements; }
// out[j] += Σ_i x[i, j] over `rows` rows of `cols` floats, row by row (the bias gradients' sums, addColumnSums): one add
// per element and row, in row order, on the instruction set's vectors.
inline void columnSums(const float* x, int64_t rows, int64_t cols, float* out) {
  for (int64_t i = 0; i < rows; i++) isa->addInto(out, x + i * cols, cols, false);
}
// Gathered floats, and the elements of addArrays and addRowVector: a copy or an add is about one access per element.
constexpr int64_t kParallelGather = 1 << 16;

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
    const int64_t T = i64(env, v[1], "T"), m = i64(env, v[2], "m"), s = i64(env, v[3], "s"), per = packedFloats(m, s);
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

struct Ranges {
  I32 node, start, end;
  int64_t g0, g1;
};

Ranges ranges(napi_env env, napi_value* v, int64_t nodes, int64_t rows) {
  Ranges r{i32(env, v[0], "node"), i32(env, v[1], "start"), i32(env, v[2], "end"), i64(env, v[3], "g0"), i64(env, v[4], "g1")};
  if (r.g1 > r.node.n || r.g1 > r.start.n || r.g1 > r.end.n || r.g0 > r.g1) throw ArgError{"node range out of bounds"};
  for (int64_t g = r.g0; g < r.g1; g++) {
    if (r.node.p[g] < 0 || r.node.p[g] >= nodes) throw ArgError{"node id out of range"};
    if (r.start.p[g] < 0 || r.start.p[g] > r.end.p[g] || r.end.p[g] > rows) throw ArgError{"row range out of bounds"};
  }
  return r;
}

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
// A point may cut a node of at least `chain` rows only into pieces of at least `chain` rows (kernels.h:
// isa->chainRowsNT for the forward, kChainRowsNN for the input gradient): each piece then sums its rows in the order
// the whole node would, and a smaller node's rows are summed alike however it is cut. So a row's sums are the
// same on any number of threads, and the model does not depend on the thread count.
std::vector<int64_t> splitPoints(const Ranges& r, int64_t N, int nt, int64_t chain) {
  std::vector<char> cuttable(N + 1, 1);
  for (int64_t g = r.g0; g < r.g1; g++) {
    const int64_t a = r.start.p[g], e = r.end.p[g];
    if (e - a < chain) continue;
    for (int64_t x = a + 1; x < a + chain; x++) cuttable[x] = 0;
    for (int64_t x = e - chain + 1; x < e; x++) cuttable[x] = 0;
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
    for (int64_t x = R[t - 1]; x <= N; x++) {
      if (!cuttable[x]) continue;
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
    if ((wide)N * s > xs.n || (wide)N * m > ys.n || m * s == 0) throw ArgError{"grouped forward: buffers too small"};
    const int64_t T = std::min(w.n / (packed ? packedFloats(m, s) : m * s), bias.n / m);  // m·s ≤ w.n after the check above
    Ranges r = ranges(env, v, T, N);
    I32 perm{nullptr, 0};
    F32 x{nullptr, 0}, y{nullptr, 0};
    int64_t xStride = 0, xOff = 0;
    bool yAcc = false;
    if (routed) {
      perm = i32(env, v[12], "perm");
      x = f32(env, v[13], "x");
      xStride = i64(env, v[14], "xStride");
      xOff = i64(env, v[15], "xOffset");
      y = f32(env, v[16], "y");
      yAcc = boolean(env, v[17], "accumulate");
      if (perm.n < N) throw ArgError{"perm shorter than N"};
      std::vector<bool> seen(N, false);  // the threads scatter to y[perm[r]]: each row of y must have one writer
      for (int64_t i = 0; i < N; i++) {
        if (perm.p[i] < 0 || (wide)perm.p[i] * xStride + xOff + s > x.n) throw ArgError{"routed forward: perm index out of range of x"};
        if (((wide)perm.p[i] + 1) * m > y.n) throw ArgError{"routed forward: perm index out of range of y"};
        if (perm.p[i] < N) {
          if (seen[perm.p[i]]) throw ArgError{"routed forward: perm repeats a row (it must be a permutation)"};
          seen[perm.p[i]] = true;
        }
      }
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
napi_value GroupedForward(napi_env env, napi_callback_info info) { return forward(env, info, false); }
napi_value RoutedForward(napi_env env, napi_callback_info info) { return forward(env, info, true); }

// groupedBackwardInput(node, start, end, g0, g1, dys, m, w, s, dxs, N): dxs[r] += dys[r] U_t
napi_value GroupedBackwardInput(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[11];
    argv(env, info, 11, v);
    F32 dys = f32(env, v[5], "dys"), w = f32(env, v[7], "w"), dxs = f32(env, v[9], "dxs");
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[10], "N");
    if ((wide)N * s > dxs.n || (wide)N * m > dys.n || m * s == 0) throw ArgError{"grouped backward input: buffers too small"};
    Ranges r = ranges(env, v, w.n / (m * s), N);
    byRows(r, N, s, 32, m * s, kChainRowsNN,
      [&](int32_t t, int64_t a, int64_t e) { isa->gemm(e - a, s, m, dys.p + a * m, m, 1, w.p + t * m * s, s, 1, dxs.p + a * s, s, true); },
      [&](int32_t t, int64_t a, int64_t e, int64_t j0, int64_t j1) {
        isa->gemm(e - a, j1 - j0, m, dys.p + a * m, m, 1, w.p + t * m * s + j0, s, 1, dxs.p + a * s + j0, s, true);
      });
    return undefined(env);
  });
}

// Shared by groupedBackwardWeight and groupedBackwardWeightStep: checks the buffers and runs node(g, nt) for each
// node g of the list, which writes the weight gradient dU_t = dys[r]ᵀ xs[r] of node t (on nt threads) and does with it
// what its caller wants, after adding dc_t += Σ_r dys[r] here. Nodes are split across threads (each node has one
// writer); a node too big for that is split inside its product instead, on all threads.
template <typename F>
void backwardWeight(napi_env env, napi_value* v, const F32& dw, F&& node) {
  F32 dys = f32(env, v[5], "dys"), xs = f32(env, v[7], "xs"), db = f32(env, v[10], "dbias");
  const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[11], "N");
  if ((wide)N * s > xs.n || (wide)N * m > dys.n || m * s == 0) throw ArgError{"grouped backward weight: buffers too small"};
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

thread_local std::vector<float> stepGrad;  // a node's gradient in groupedBackwardWeightStep (one thread's)

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
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), size = m * s;
    napi_value sv[6] = {v[9], v[12], v[13], v[14], v[15], v[16]};
    const NodeStep st(env, sv, size);
    backwardWeight(env, v, st.w, [&](int64_t, int32_t t, int64_t K, const float* dy, const float* x, int nt) {
      if ((int64_t)stepGrad.size() < size) stepGrad.resize(size);
      float* c = stepGrad.data();
      const int32_t step = ++st.steps.p[t];
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

thread_local std::vector<float> pathGrad;  // one thread's gradient blocks in pathWeightStep, one per depth of the tree

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
    const int64_t m = i64(env, v[6], "m"), s = i64(env, v[8], "s"), N = i64(env, v[11], "N"), size = m * s;
    napi_value sv[6] = {v[9], v[12], v[13], v[14], v[15], v[16]};
    const NodeStep st(env, sv, size);
    if ((wide)N * s > xs.n || (wide)N * m > dys.n || size == 0) throw ArgError{"path weight step: buffers too small"};
    const int64_t T = std::min(st.w.n / size, db.n / m);
    const Ranges r = ranges(env, v, T, N);
    const I32 entry = i32(env, v[17], "entry"), parent = i32(env, v[18], "parent"), at = i32(env, v[19], "at");
    const int64_t count = i64(env, v[20], "count");
    if (count > entry.n || count > parent.n || count > at.n) throw ArgError{"count past the entry lists"};
    const int64_t R = r.g1 - r.g0;
    std::vector<int32_t> level(count), children(count), used(R);
    int32_t levels = 0;
    for (int64_t e = 0; e < count; e++) {
      const int32_t t = entry.p[e], p = parent.p[e], a = at.p[e];
      if (t < 0 || t >= T) throw ArgError{"entry node id out of range"};
      if (p >= e) throw ArgError{"a parent must come before its child (parent[e] < e, or < 0 for a root)"};
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
    for (int64_t e = 0; e < count; e++) step[e] = ++st.steps.p[entry.p[e]];
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
    const int64_t bh = std::max(q, (std::min(hi, std::max(lo, mean)) + q - 1) / q * q), blocks = (m + bh - 1) / bh, span = bh * s;
    const int nt = (int)std::min<int64_t>(count * size < kParallelElements ? 1 : threads, blocks);
    pool->run(nt, [&](int th) {
      if ((int64_t)pathGrad.size() < levels * span) pathGrad.resize(levels * span);
      float* buf = pathGrad.data();
      std::vector<char> started(levels, 0);  // whether a buffer holds a sum its children began
      for (int64_t b = blocks * th / nt; b < blocks * (th + 1) / nt; b++) {
        const int64_t i0 = b * bh, n = std::min(bh, m - i0) * s;
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
  I32 slots = i32(env, v[1], "slots"), steps = i32(env, v[3], "steps");
  const int64_t count = i64(env, v[2], "count");
  if (count > slots.n) throw ArgError{"slot count past the slot list"};
  for (const F32* s : state) if (s->n < w.n) throw ArgError{"optimizer state smaller than the weights"};
  if (g.n < w.n) throw ArgError{"gradient smaller than the weights"};
  for (int64_t q = 0; q < count; q++) {
    const int32_t s = slots.p[q];
    if (s < 0 || s >= steps.n || ((wide)s + 1) * slotSize > w.n || (decay.p && s >= decay.n)) throw ArgError{"slot out of range"};
  }
  if (repeats(slots.p, count)) throw ArgError{"slot listed twice"};  // its elements would be updated by two threads at once
  std::vector<int32_t> t(count);
  for (int64_t q = 0; q < count; q++) t[q] = ++steps.p[slots.p[q]];
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

// ---- elementwise ops of training (src/kernels/elementwise.ts) -----------------

F32 checked(napi_env env, napi_value v, const char* what, wide need) {
  F32 a = f32(env, v, what);
  if (need > a.n) {
    const std::string n = need > INT64_MAX ? std::string("more than 2^63") : std::to_string((int64_t)need);
    throw ArgError{std::string(what) + ": needs " + n + " elements, has " + std::to_string(a.n)};
  }
  return a;
}

// Runs f(e0, e1) over the elements [0, n), split between the threads at multiples of 16 from kParallelGather
// elements on: an elementwise pass over arrays in memory (a path sum's table, a collapsed node's gradient), which
// both cores read faster than one.
template <typename F>
void byElements(int64_t n, F&& f) {
  const int nt = n < kParallelGather ? 1 : threads;
  if (nt <= 1) return f(0, n);
  pool->run(nt, [&](int t) { f(n * t / nt / 16 * 16, t + 1 == nt ? n : n * (t + 1) / nt / 16 * 16); }, (double)n / kParallelGather);
}

// addRowVector(y, rows, cols, v): y[i, :] += v
napi_value AddRowVector(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 y = checked(env, v[0], "y", (wide)rows * cols), b = checked(env, v[3], "v", cols);
    // elements [i0, i1) of y, row by row (the path sums add a child's weight gradient, one row of a node's table)
    auto add = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1;) {
        const int64_t r = i / cols, j0 = i - r * cols, j1 = std::min(cols, j0 + (i1 - i));
        isa->addInto(y.p + r * cols + j0, b.p + j0, j1 - j0, false);
        i += j1 - j0;
      }
    };
    byElements(rows * cols, add);
    return undefined(env);
  });
}

// addArrays(a, b, out, count): out = a + b
napi_value AddArrays(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t n = i64(env, v[3], "count");
    F32 a = checked(env, v[0], "a", n), b = checked(env, v[1], "b", n), o = checked(env, v[2], "out", n);
    // out may be a or b (in place): each element is read before it is written either way
    auto add = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) o.p[i] = a.p[i] + b.p[i];
    };
    byElements(n, add);
    return undefined(env);
  });
}

// Table size (floats) from which addPaths writes its sums with non-temporal stores: a path sum's table (512×512:
// 2^18), which the next tables' reads would push out of the caches before it is read.
constexpr int64_t kStreamTables = 1 << 18;
// Floats of scratch a thread of addPaths keeps its blocks of the entries' sums in (the live ones: the blocks of the
// tables read from memory go through L2 beside it): 192 KB.
constexpr int64_t kPathScratch = 49152;
thread_local std::vector<float> pathScratch;

// addPaths(w, size, node, parent, outAt, count, out): the sums of tables along tree paths (src/kernels/paths.ts),
// a block of columns at a time (isa->addPathsCols), the columns split between threads.
napi_value AddPaths(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[7];
    argv(env, info, 7, v);
    const int64_t size = i64(env, v[1], "size"), count = i64(env, v[5], "count");
    const I32 nodeIn = i32(env, v[2], "node"), parentIn = i32(env, v[3], "parent"), outAtIn = i32(env, v[4], "outAt");
    if (nodeIn.n < count || parentIn.n < count || outAtIn.n < count) throw ArgError{"node, parent and outAt need count entries"};
    const F32 w = f32(env, v[0], "w"), out = f32(env, v[6], "out");
    // copies, checked: the kernels must read what was checked, even where an index array shares memory with out
    const std::vector<int32_t> nodeV(nodeIn.p, nodeIn.p + count), parentV(parentIn.p, parentIn.p + count),
        outAtV(outAtIn.p, outAtIn.p + count);
    const I32 node{const_cast<int32_t*>(nodeV.data()), count}, parent{const_cast<int32_t*>(parentV.data()), count},
        outAt{const_cast<int32_t*>(outAtV.data()), count};
    for (int64_t e = 0; e < count; e++) {
      if (node.p[e] < 0 || ((wide)node.p[e] + 1) * size > w.n) throw ArgError{"node[" + std::to_string(e) + "] is out of range"};
      if (parent.p[e] >= e) throw ArgError{"parent[" + std::to_string(e) + "] must come before its child"};
      const int32_t o = outAt.p[e];
      if (o >= 0 && ((wide)o + 1) * size > out.n) throw ArgError{"outAt[" + std::to_string(e) + "] is out of range"};
    }
    {
      std::vector<int32_t> outs;
      for (int64_t e = 0; e < count; e++) if (outAt.p[e] >= 0) outs.push_back(outAt.p[e]);
      if (repeats(outs.data(), (int64_t)outs.size())) throw ArgError{"outAt repeats a table"};
    }
    if (size > 0 && out.p < w.p + w.n && w.p < out.p + out.n) throw ArgError{"out overlaps w"};
    if (size == 0 || count == 0) return undefined(env);
    // scratch slots: an entry with children holds one from its sum until its last child is added (which may reuse it)
    std::vector<int64_t> last(count, -1);
    for (int64_t e = 0; e < count; e++) if (parent.p[e] >= 0) last[parent.p[e]] = e;
    std::vector<int32_t> slot(count, -1), freed;
    int32_t slots = 0;
    for (int64_t e = 0; e < count; e++) {
      const int32_t p = parent.p[e];
      if (p >= 0 && last[p] == e) freed.push_back(slot[p]);
      if (last[e] < 0) continue;
      if (freed.empty()) slot[e] = slots++;
      else {
        slot[e] = freed.back();
        freed.pop_back();
      }
    }
    const int64_t block = std::max<int64_t>(1024, std::min<int64_t>(16384, kPathScratch / std::max<int32_t>(1, slots)) / 64 * 64);
    const bool stream = size >= kStreamTables;
    auto cols = [&](int64_t c0, int64_t c1) {
      if (c1 <= c0) return;
      pathScratch.resize((size_t)std::max<int32_t>(1, slots) * block);
      isa->addPathsCols(w.p, size, node.p, parent.p, slot.data(), outAt.p, count, out.p, c0, c1, pathScratch.data(), block, stream);
    };
    const int64_t work = size * count, nt = work < kParallelGather ? 1 : threads;
    if (nt <= 1) cols(0, size);
    else pool->run(nt, [&](int t) { cols(size * t / nt / 64 * 64, t + 1 == nt ? size : size * (t + 1) / nt / 64 * 64); }, (double)work / kParallelGather);
    return undefined(env);
  });
}

// addColumnSums(x, rows, cols, out): out[j] += Σ_i x[i, j]
napi_value AddColumnSums(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 x = checked(env, v[0], "x", (wide)rows * cols), o = checked(env, v[3], "out", cols);
    columnSums(x.p, rows, cols, o.p);
    return undefined(env);
  });
}

// rowDots(a, b, rows, cols, out, accumulate): out[r] (+)= Σ_j a[r, j]·b[r, j], summed in double in the order of j
// (as the reference), four rows at a time so that their sums' adds overlap.
napi_value RowDots(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[6];
    argv(env, info, 6, v);
    const int64_t rows = i64(env, v[2], "rows"), cols = i64(env, v[3], "cols");
    F32 a = checked(env, v[0], "a", (wide)rows * cols), b = checked(env, v[1], "b", (wide)rows * cols), o = checked(env, v[4], "out", rows);
    const bool acc = boolean(env, v[5], "accumulate");
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      double s[4];
      for (int q = 0; q < 4; q++) s[q] = acc ? o.p[r + q] : 0.0;
      const float *a0 = a.p + r * cols, *b0 = b.p + r * cols;
      for (int64_t j = 0; j < cols; j++)
        for (int q = 0; q < 4; q++) s[q] += (double)a0[q * cols + j] * (double)b0[q * cols + j];
      for (int q = 0; q < 4; q++) o.p[r + q] = (float)s[q];
    }
    for (; r < rows; r++) {
      double s = acc ? o.p[r] : 0.0;
      for (int64_t j = 0; j < cols; j++) s += (double)a.p[r * cols + j] * (double)b.p[r * cols + j];
      o.p[r] = (float)s;
    }
    return undefined(env);
  });
}

// scaleRows(x, rows, cols, scale, y): y[r, :] = scale[r]·x[r, :] (y may be x)
napi_value ScaleRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[5];
    argv(env, info, 5, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 x = checked(env, v[0], "x", (wide)rows * cols), g = checked(env, v[3], "scale", rows), y = checked(env, v[4], "y", (wide)rows * cols);
    for (int64_t r = 0; r < rows; r++) {
      const float s = g.p[r];
      for (int64_t j = 0; j < cols; j++) y.p[r * cols + j] = s * x.p[r * cols + j];
    }
    return undefined(env);
  });
}

// unary(kind, x, y, count) forward: 0 relu, 1 tanh; binary(kind, y, dy, dx, count) backward from the output y
napi_value Unary(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t kind = i64(env, v[0], "kind"), n = i64(env, v[3], "count");
    F32 x = checked(env, v[1], "x", n), y = checked(env, v[2], "y", n);
    // relu lets NaN through (x < 0 ? 0 : x), as the reference does, so that training sees it in the loss
    if (kind == 0) for (int64_t i = 0; i < n; i++) y.p[i] = x.p[i] < 0 ? 0.f : x.p[i];
    else for (int64_t i = 0; i < n; i++) y.p[i] = std::tanh(x.p[i]);
    return undefined(env);
  });
}

napi_value UnaryBackward(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[5];
    argv(env, info, 5, v);
    const int64_t kind = i64(env, v[0], "kind"), n = i64(env, v[4], "count");
    F32 y = checked(env, v[1], "y", n), dy = checked(env, v[2], "dy", n), dx = checked(env, v[3], "dx", n);
    // dy read whatever y is, so that the select vectorizes: a load under the condition stayed a branch, mispredicted
    // on random signs (33× slower at 65 536 floats)
    if (kind == 0) for (int64_t i = 0; i < n; i++) {
      const float d = dy.p[i];
      dx.p[i] = y.p[i] > 0 ? d : 0.f;
    }
    // in double, as the reference: in float, 1 − y² loses most of its digits where tanh saturates (|y| near 1)
    else for (int64_t i = 0; i < n; i++) dx.p[i] = (float)((double)dy.p[i] * (1.0 - (double)y.p[i] * (double)y.p[i]));
    return undefined(env);
  });
}

// softmaxCrossEntropy(logits, rows, cols, labels, dlogits | null, out: Float64Array(2) = [mean loss, correct])
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[6];
    argv(env, info, 6, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 z = checked(env, v[0], "logits", (wide)rows * cols);
    I32 labels = i32(env, v[3], "labels");
    if (labels.n < rows) throw ArgError{"labels: fewer than rows"};
    napi_valuetype t;
    napi_typeof(env, v[4], &t);
    F32 dz = t == napi_null ? F32{nullptr, 0} : checked(env, v[4], "dlogits", (wide)rows * cols);
    bool is = false;
    napi_is_typedarray(env, v[5], &is);
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    if (is) napi_get_typedarray_info(env, v[5], &type, &len, &data, nullptr, nullptr);
    if (!is || type != napi_float64_array || len < 2) throw ArgError{"out must be a Float64Array of 2"};
    double loss = 0, correct = 0;
    for (int64_t r = 0; r < rows; r++) {
      const float* zr = z.p + r * cols;
      const int32_t y = labels.p[r];
      if (y < 0 || y >= cols) throw ArgError{"label out of range"};
      double mx = -INFINITY;
      int64_t arg = 0;
      for (int64_t j = 0; j < cols; j++) if (zr[j] > mx) { mx = zr[j]; arg = j; }
      double sum = 0;
      for (int64_t j = 0; j < cols; j++) sum += std::exp(zr[j] - mx);
      loss += std::log(sum) - (zr[y] - mx);
      if (arg == y) correct++;
      if (dz.p)
        for (int64_t j = 0; j < cols; j++) dz.p[r * cols + j] = (float)((std::exp(zr[j] - mx) / sum - (j == y ? 1 : 0)) / rows);
    }
    ((double*)data)[0] = rows > 0 ? loss / rows : 0;
    ((double*)data)[1] = correct;
    return undefined(env);
  });
}

// gatherRows(src, srcStride, srcOffset, idx, count, cols, dst): dst[i, :] = src[idx[i]*stride + offset + :]
napi_value GatherRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[7];
    argv(env, info, 7, v);
    const int64_t stride = i64(env, v[1], "srcStride"), off = i64(env, v[2], "srcOffset"), count = i64(env, v[4], "count"),
                  cols = i64(env, v[5], "cols");
    F32 src = f32(env, v[0], "src"), dst = checked(env, v[6], "dst", (wide)count * cols);
    I32 idx = i32(env, v[3], "idx");
    if (idx.n < count) throw ArgError{"idx shorter than count"};
    for (int64_t i = 0; i < count; i++)
      if (cols > 0 && (idx.p[i] < 0 || (wide)idx.p[i] * stride + off + cols > src.n)) throw ArgError{"gather index out of range"};
    auto rows = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) std::memcpy(dst.p + i * cols, src.p + idx.p[i] * stride + off, cols * sizeof(float));
    };
    // Every destination row has one writer, so large gathers split across the threads (256×512 floats in a
    // forward pass: 0.08 ms on one thread in the layer, 0.03 ms on two; the layer's forward 4–7% faster at k = 1).
    const int nt = count * cols < kParallelGather ? 1 : threads;
    if (nt <= 1) rows(0, count);
    else pool->run(nt, [&](int t) { rows(count * t / nt, count * (t + 1) / nt); }, (double)(count * cols) / kParallelGather);
    return undefined(env);
  });
}

// scatterRows(src, cols, idx, count, dst, dstStride, dstOffset, accumulate): dst[idx[i]*stride + offset + :] (+)= src[i, :]
napi_value ScatterRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[8];
    argv(env, info, 8, v);
    const int64_t cols = i64(env, v[1], "cols"), count = i64(env, v[3], "count"), stride = i64(env, v[5], "dstStride"),
                  off = i64(env, v[6], "dstOffset");
    const bool acc = boolean(env, v[7], "accumulate");
    F32 src = checked(env, v[0], "src", (wide)count * cols), dst = f32(env, v[4], "dst");
    I32 idx = i32(env, v[2], "idx");
    if (idx.n < count) throw ArgError{"idx shorter than count"};
    for (int64_t i = 0; i < count; i++)
      if (cols > 0 && (idx.p[i] < 0 || (wide)idx.p[i] * stride + off + cols > dst.n)) throw ArgError{"scatter index out of range"};
    for (int64_t i = 0; i < count; i++) {
      float* d = dst.p + idx.p[i] * stride + off;
      const float* s = src.p + i * cols;
      if (acc) for (int64_t j = 0; j < cols; j++) d[j] += s[j];
      else std::memcpy(d, s, cols * sizeof(float));
    }
    return undefined(env);
  });
}

// ---- machine figures for the benchmarks ------------------------------------

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// machine(): { isa, threads, peakGflops1, peakGflopsAll, readGBs1, readGBsAll } measured in ~0.3 s.
napi_value Machine(napi_env env, napi_callback_info) {
  return guard(env, [&] {
    auto peak = [](int nt) {
      std::atomic<double> total{0};
      pool->runTogether(nt, [&](int t) {
        double flops = 0;
        const double t0 = seconds();
        while (seconds() - t0 < 0.1) flops += isa->fmaBurn(200000, 1.0f + t);
        const double rate = flops / (seconds() - t0) / 1e9;
        double prev = total.load();
        while (!total.compare_exchange_weak(prev, prev + rate)) {}
      });
      return total.load();
    };
    // Read bandwidth of nt threads together: each reads its share of a buffer far past the caches, all at once;
    // the figure is the bytes over the wall time from the first thread's start to the last one's end (best of
    // three). Summing each thread's own rate instead overstated two threads by up to 1.5–2× on this VM, where
    // the threads' reads often do not overlap in time.
    auto bandwidth = [](int nt) {
      const int64_t n = 64 << 20;  // 256 MB of floats
      std::vector<float> buf(n, 1.0f);
      double best = 0;
      for (int rep = 0; rep < 3; rep++) {
        const double t0 = seconds();
        pool->runTogether(nt, [&](int t) {
          const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
          volatile double sink = isa->readSum(buf.data() + lo, hi - lo);
          (void)sink;
        });
        best = std::max(best, n * 4.0 / (seconds() - t0) / 1e9);
      }
      return best;
    };
    napi_value o, x;
    napi_create_object(env, &o);
    napi_create_string_utf8(env, isaName, NAPI_AUTO_LENGTH, &x);
    napi_set_named_property(env, o, "isa", x);
    napi_create_int32(env, pool->size(), &x);
    napi_set_named_property(env, o, "threads", x);
    napi_create_double(env, peak(1), &x);
    napi_set_named_property(env, o, "peakGflops1", x);
    napi_create_double(env, peak(pool->size()), &x);
    napi_set_named_property(env, o, "peakGflopsAll", x);
    napi_create_double(env, bandwidth(1), &x);
    napi_set_named_property(env, o, "readGBs1", x);
    napi_create_double(env, bandwidth(pool->size()), &x);
    napi_set_named_property(env, o, "readGBsAll", x);
    return o;
  });
}

// readProbe(buf, offset, count, threads): the sum of buf[offset, offset + count), read by `threads` threads of the
// pool (at most all of them) in contiguous shares at once. Benchmarks time it for the read rate of memory at that
// moment (bench/tree.ts); the sum keeps the reads from being left out.
napi_value ReadProbe(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const F32 buf = f32(env, v[0], "buf");
    const int64_t off = i64(env, v[1], "offset"), count = i64(env, v[2], "count"), want = i64(env, v[3], "threads");
    if (off + count > buf.n) throw ArgError{"readProbe: offset + count is past the end of buf"};
    if (want < 1) throw ArgError{"readProbe: threads must be at least 1"};
    const int nt = (int)std::min<int64_t>(want, pool->size());
    std::vector<double> part(nt, 0.0);
    pool->runTogether(nt, [&](int t) {
      const int64_t lo = count * t / nt, hi = count * (t + 1) / nt;
      part[t] = isa->readSum(buf.p + off + lo, hi - lo);
    });
    double sum = 0;
    for (double x : part) sum += x;
    napi_value r;
    napi_create_double(env, sum, &r);
    return r;
  });
}

// lineOffset(buffer): the bytes from the start of an ArrayBuffer to the first cache line (64 bytes) in it. The native
// backend's floats() views its arrays from there (src/kernels/native/index.ts): a node's table then starts on a line,
// and no vector load of it splits two lines. (Node's own arrays start 16 bytes past one.)
napi_value LineOffset(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[1];
    argv(env, info, 1, v);
    bool isBuffer = false;
    napi_is_arraybuffer(env, v[0], &isBuffer);
    if (!isBuffer) throw ArgError{"lineOffset: expected an ArrayBuffer"};
    void* data = nullptr;
    size_t length = 0;
    napi_get_arraybuffer_info(env, v[0], &data, &length);
    napi_value r;
    napi_create_int32(env, (int32_t)((64 - reinterpret_cast<uintptr_t>(data) % 64) % 64), &r);
    return r;
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[1];
    argv(env, info, 1, v);
    const int64_t n = i64(env, v[0], "threads");
    threads = (int)std::max<int64_t>(1, std::min<int64_t>(n, pool->size()));
    napi_value r;
    napi_create_int32(env, threads, &r);
    return r;
  });
}

// parallelStress(calls, work, lateMicros): `calls` runs of one task per thread back to back, each of the given
// work (in units of the threshold for threads: below Pool::kWakeSize a run that finds a worker asleep stays on this
// thread); with lateMicros > 0 the caller's task spins 100 µs and the others lateMicros, so that a worker runs a task
// that outlasts the caller's polling, and the caller blocks until that worker's notify. Returns the number of tasks run, which must be calls × threads whoever ran them.
napi_value ParallelStress(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[3];
    argv(env, info, 3, v);
    const int64_t calls = i64(env, v[0], "calls");
    const double work = num(env, v[1], "work");
    const int64_t late = i64(env, v[2], "lateMicros");
    if (late < 0 || late > 1000000) throw ArgError{"lateMicros must be in [0, 1000000]"};
    std::atomic<int64_t> count{0};
    for (int64_t i = 0; i < calls; i++) {
      pool->run(pool->size(), [&](int t) {
        // the caller's task takes 100 µs, time for a woken worker to claim its own before the caller would steal it
        const int64_t spin = late == 0 ? 0 : t == 0 ? 100 : late;
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin);
        while (std::chrono::steady_clock::now() < until) {}
        count++;
      }, work);
    }
    napi_value r;
    napi_create_double(env, (double)count.load(), &r);
    return r;
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, x;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, isaName, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, o, "isa", x);
  napi_create_int32(env, pool->size(), &x);
  napi_set_named_property(env, o, "maxThreads", x);
  napi_create_int32(env, threads, &x);
  napi_set_named_property(env, o, "threads", x);
  napi_create_int32(env, (int32_t)isa->nr, &x);
  napi_set_named_property(env, o, "panel", x);
  napi_create_int32(env, (int32_t)isa->chainRowsNT, &x);
  napi_set_named_property(env, o, "chainRowsNT", x);
  return o;
}

napi_value Init(napi_env env, napi_value exports) {
  selectIsa();
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  if (!pool) pool = std::make_unique<Pool>((int)std::min(hw, 64u) - 1);
  threads = pool->size();
  napi_property_descriptor d[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedForward", nullptr, GroupedForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"routedForward", nullptr, RoutedForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"packNodes", nullptr, PackNodes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardInput", nullptr, GroupedBackwardInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardWeight", nullptr, GroupedBackwardWeight, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardWeightStep", nullptr, GroupedBackwardWeightStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pathWeightStep", nullptr, PathWeightStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addRowVector", nullptr, AddRowVector, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addArrays", nullptr, AddArrays, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addPaths", nullptr, AddPaths, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addColumnSums", nullptr, AddColumnSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rowDots", nullptr, RowDots, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scaleRows", nullptr, ScaleRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unaryBackward", nullptr, UnaryBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxCrossEntropy", nullptr, SoftmaxCrossEntropy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gatherRows", nullptr, GatherRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scatterRows", nullptr, ScatterRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"machine", nullptr, Machine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readProbe", nullptr, ReadProbe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lineOffset", nullptr, LineOffset, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"parallelStress", nullptr, ParallelStress, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

}  // namespace
}  // namespace tg

NAPI_MODULE(NODE_GYP_MODULE_NAME, tg::Init)
