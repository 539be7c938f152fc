// treegate native kernels, compiled once per instruction set (see binding.gyp):
// kernels_avx512.cc, kernels_avx512_l1.cc and kernels_avx2.cc include kernels_impl.h inside their own
// namespace with their own vector width (and kernels_avx512_l1.cc its own prefetch hint). The plain TypeScript kernels in
// src/kernels/ are the specification; test/kernels/native.test.ts checks these
// against them over a table of shapes.
#pragma once
#include <cstdint>

namespace tg {

// Lazy optimizer updates of one slot [e0, e1) (formulas in src/kernels/optim.ts).
// `clear`: zero each gradient element once applied.
using AdamFn = void (*)(float* w, float* g, float* m, float* v, int64_t e0, int64_t e1, float lr, float lam,
                       float b1, float b2, float a1, float a2, float eps, float c1, float c2, bool clear);
using SgdFn = void (*)(float* w, float* g, float* v, int64_t e0, int64_t e1, float lr, float lam, float mu, bool clear);
// FMA throughput probe: returns the flops done.
using BurnFn = double (*)(int64_t iters, float seed);
// Read bandwidth probe: returns the sum of p[0, n) (so that the reads cannot be left out).
using ReadFn = double (*)(const float* p, int64_t n);
// C(i, j) (+)= Σ_p A(i, p) · B(p, j), with
//   A(i, p) = a[i*ars + p*acs], B(p, j) = b[p*brs + j*bcs], C(i, j) = c[i*crs + j].
using GemmFn = void (*)(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs,
                        const float* b, int64_t brs, int64_t bcs, float* c, int64_t crs, bool accumulate);

// The NT form on prepacked node tables (collapsed inference): packPanels lays w (N rows of K) out as panels of
// `nr` columns, ceil(N / nr)·nr·K floats; packedRows computes C(i, j) (+)= Σ_p A(i, p) · w[j*K + p] from them,
// with A(i, p) = a[i*ars + p].
using PackFn = void (*)(int64_t N, int64_t K, const float* w, float* panels);
using PackedFn = void (*)(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* panels, float* c,
                          int64_t crs, bool accumulate);

// Columns [c0, c1) of addPaths (src/kernels/paths.ts), a block of columns at a time, with scratch slots for the
// sums of entries that have children (slot[e]·block floats from scratch); non-temporal stores of out where `stream`.
using PathsFn = void (*)(const float* w, int64_t size, const int32_t* node, const int32_t* parent, const int32_t* slot,
                         const int32_t* outAt, int64_t count, float* out, int64_t c0, int64_t c1, float* scratch,
                         int64_t block, bool stream);

// dst[0, n) = (first ? 0 : dst) + src[0, n): addRowVector's adds, and a gradient added into its parent's in
// pathWeightStep (0 + x for the first child, not a copy, so that −0 becomes +0 as in an add into zeros).
using AddFn = void (*)(float* dst, const float* src, int64_t n, bool first);

// Row counts from which gemm sums each element of the NT form (forward: Kernels::chainRowsNT, one per instruction
// set) and of the NN form (input gradient: kChainRowsNN) in one chain over p, whatever the row count (below them:
// dot products, direct tiles, each summing in its own order, but also the same order for every row count under
// the threshold). A product split by rows between threads must keep every node's pieces on the same side as the
// whole node, or its rows would round differently with another thread count (splitPoints in products.cc).
constexpr int64_t kChainRowsNN = 24;
// Rows from which gemm packs the TN form (weight gradients: dU = dyᵀ x over a node's rows), summing each element in
// one chain per 256 steps; below, directRows sums it 16 steps at a time into C. A weight gradient made in blocks of
// rows (pathWeightStep) keeps its blocks on the whole node's side of this, so that its sums are the same.
constexpr int64_t kPackedRowsTN = 32;

// One instruction set's kernels (defined at the end of kernels_impl.h).
struct Kernels {
  GemmFn gemm;
  AdamFn adamSlot;
  SgdFn sgdSlot;
  BurnFn fmaBurn;
  ReadFn readSum;
  int64_t nr;  // panel width of packPanels
  int64_t chainRowsNT;  // rows from which the NT form sums in one chain over p (above)
  PackFn packPanels;
  PackedFn packedRows;
  PathsFn addPathsCols;
  AddFn addInto;
};
namespace avx512 { extern const Kernels kernels; }
namespace avx512l1 { extern const Kernels kernels; }  // (few-row prefetches into L1)
namespace avx2 { extern const Kernels kernels; }
namespace generic { extern const Kernels kernels; }

}  // namespace tg
