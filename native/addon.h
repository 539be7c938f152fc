// What the addon's source files share: the instruction set and thread pool chosen at load (addon.cc), the cost
// model that decides how many threads a call runs on, the node ranges of the grouped products, and the Node-API
// entry points each file defines (registered in addon.cc's Init).
#pragma once
#include <node_api.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "args.h"
#include "kernels.h"
#include "pool.h"

namespace tg {

extern const Kernels* isa;  // the kernels of the widest instruction set the CPU has (TREEGATE_NATIVE_ISA narrows it)
extern std::unique_ptr<Pool> pool;
extern int threads;  // threads the calls run on (setThreads), at most the pool's

// ---- when a call runs on more than one thread --------------------------------

// Cost of a node's product over r rows, in units of reading its weights: bound by that read up to about
// ROWS_PER_READ rows, by multiply-adds beyond (the direct few-row kernels at ~150 GFLOP/s against 27 GB/s).
constexpr int64_t ROWS_PER_READ = 12;
inline int64_t partCost(int64_t r) { return r <= 0 ? 0 : std::max(ROWS_PER_READ, r); }

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
// A step count's next value, wrapping at 2^31 as the reference's Int32Array does (a signed overflow is undefined in C++).
inline int32_t nextStep(int32_t& step) { return step = (int32_t)((uint32_t)step + 1u); }
// Gathered floats, and the elements of addArrays and addRowVector: a copy or an add is about one access per element.
constexpr int64_t kParallelGather = 1 << 16;

// C = A B (strided, as gemm) on up to nt threads of the pool (products.cc).
void gemmPar(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
             int64_t bcs, float* c, int64_t crs, bool acc, int nt);

// The node list [g0, g1) of a grouped call: node ids and their sorted row ranges [start, end) (products.cc: ranges
// copies them (Ids) and checks them against the node and row counts).
struct Ranges {
  Ids node, start, end;
  int64_t g0, g1;
};
Ranges ranges(napi_env env, napi_value* v, int64_t nodes, int64_t rows);

// ---- entry points ---------------------------------------------------------------

// products.cc: matrix products and the grouped products whose rows have one writer
napi_value Gemm(napi_env env, napi_callback_info info);
napi_value PackNodes(napi_env env, napi_callback_info info);
napi_value GroupedForward(napi_env env, napi_callback_info info);
napi_value RoutedForward(napi_env env, napi_callback_info info);
napi_value GroupedBackwardInput(napi_env env, napi_callback_info info);
// weights.cc: weight gradients, the steps fused with them, and the lazy optimizer updates
napi_value GroupedBackwardWeight(napi_env env, napi_callback_info info);
napi_value GroupedBackwardWeightStep(napi_env env, napi_callback_info info);
napi_value PathWeightStep(napi_env env, napi_callback_info info);
napi_value AdamUpdate(napi_env env, napi_callback_info info);
napi_value SgdUpdate(napi_env env, napi_callback_info info);
// elementwise.cc: the elementwise, row and reduction ops of training
napi_value AddRowVector(napi_env env, napi_callback_info info);
napi_value AddArrays(napi_env env, napi_callback_info info);
napi_value AddPaths(napi_env env, napi_callback_info info);
napi_value AddColumnSums(napi_env env, napi_callback_info info);
napi_value RowDots(napi_env env, napi_callback_info info);
napi_value ScaleRows(napi_env env, napi_callback_info info);
napi_value Unary(napi_env env, napi_callback_info info);
napi_value UnaryBackward(napi_env env, napi_callback_info info);
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info);
napi_value GatherRows(napi_env env, napi_callback_info info);
napi_value ScatterRows(napi_env env, napi_callback_info info);

}  // namespace tg
