// Blocked, packed single-precision GEMM with one register-blocked micro-kernel
// for every layout (NT, NN, TN and any strides): panels of A (MR rows) and B
// (NR columns) are packed contiguous by p, so the micro-kernel streams them.
// Included by kernels_<isa>.cc with TG_W (floats per vector) defined.
// NOTE: no -ffast-math: sums keep IEEE semantics (NaN and Inf propagate).
// The including file includes <algorithm>, <cstdint>, <cstdlib>, <cstring>, <new>, <utility>, <vector> and <immintrin.h> (x86) first.

namespace {

constexpr int W = TG_W;
typedef float vf __attribute__((vector_size(W * 4)));
constexpr int MR = 6;        // rows of C per micro-tile
constexpr int NR = 2 * W;    // columns of C per micro-tile (two vectors)
constexpr int64_t KC = 256;  // depth of a packed block (A panel + B panel stay in L1/L2)
constexpr int64_t MC = 120;  // rows of A packed at once (multiple of MR)
constexpr int64_t NC = 2048; // columns of B packed at once (multiple of NR)
// Floats of a packed block of B (kc × nc) up to which the packed product walks C in memory order (see gemm): 512 KB.
// Fifteenth session, Zen 3 (AVX2), against walking C strip by strip from 32 rows on (in order under 32 rows before):
// the weight gradient of a 512×512 node (C = dyᵀ x over the node's rows; `bash bench/kernel-ab/run.sh … TN
// memory|cache`, both orders) 1.18–1.60× faster at 32–128 rows with C from memory, 1.02–1.09× from cache; at 256
// rows (kc = KC) 1.08× from memory but 0.99× from cache and 0.95–0.97× in the layer at k = 0, so full blocks stay
// strip by strip. In the layer (`bash bench/addon-ab/run.sh … backward-weight 0,1,2,3`): 1.00×, 1.01×, 1.14×,
// 1.46× at k = 0–3, 1.22× and 1.06× at k = 4, 5 (an earlier run).
constexpr int64_t MEMORY_ORDER_B = 131072;

inline vf load(const float* p) { vf v; std::memcpy(&v, p, sizeof v); return v; }
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
typedef int vi __attribute__((vector_size(W * 4)));

// Masks of the butterfly transpose: at stage h (W/2, …, 1), rows i and i + h swap their off-diagonal
// h-blocks. lo<h> builds row i, hi<h> builds row i + h (two-source shuffles: lanes ≥ W read the second row).
// NOTE: compile-time constants, so that the compiler picks the cheap lane shuffles they amount to.
template <int H, bool HI, size_t... L>
constexpr vi butterflyMask(std::index_sequence<L...>) {
  return vi{(int)((L & H) == 0 ? (HI ? L + H : L) : (HI ? W + L : W + L - H))...};
}
template <int H> constexpr vi lo = butterflyMask<H, false>(std::make_index_sequence<W>{});
template <int H> constexpr vi hi = butterflyMask<H, true>(std::make_index_sequence<W>{});

// In-register transpose of the W×W block whose row j is r[j].
template <int H = W / 2>
inline void transpose(vf* r) {
  for (int i = 0; i < W; i++)
    if ((i & H) == 0) {
      const vf a = r[i], b = r[i + H];
      r[i] = __builtin_shuffle(a, b, lo<H>);
      r[i + H] = __builtin_shuffle(a, b, hi<H>);
    }
  if constexpr (H > 1) transpose<H / 2>(r);
}

// Horizontal sums of W vectors at once: lane j of the result is the sum of the lanes of r[j]. The butterfly of
// transpose() with the two rows of every pair added instead of kept: shuffles are linear and rows i and i + h go
// through the same later steps, so adding early gives the sum of the transpose's rows in W − 1 pair steps.
template <int H = W / 2>
inline vf hsums(vf* r) {
  for (int i = 0; i < H; i++) r[i] = __builtin_shuffle(r[i], r[i + H], lo<H>) + __builtin_shuffle(r[i], r[i + H], hi<H>);
  if constexpr (H > 1) return hsums<H / 2>(r);
  else return r[0];
}

// Bp[panel][p][0..NR): columns j0.. of B for p in [0, kc), zero-padded past N.
void packB(const float* b, int64_t brs, int64_t bcs, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* bp) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    float* dst = bp + jp * kc;
    if (brs == 1) {  // B columns contiguous along p (the NT form): W×W blocks transposed in registers
      int64_t p = 0;
      if (cols == NR) {
        const int64_t kcW = kc - kc % W;
        for (int half = 0; half < 2; half++) {  // NOTE: one half at a time keeps W read streams, not 2W
          const float* src = b + p0 + (j0 + jp + half * W) * bcs;
          for (int64_t q0 = 0; q0 < kcW; q0 += W) {
            vf r[W];
            for (int j = 0; j < W; j++) r[j] = load(src + j * bcs + q0);
            transpose(r);
            for (int q = 0; q < W; q++) store(dst + (q0 + q) * NR + half * W, r[q]);
          }
        }
        p = kcW;
      }
      for (int64_t j = 0; j < cols; j++) {
        const float* src = b + p0 + (j0 + jp + j) * bcs;
        for (int64_t q = p; q < kc; q++) dst[q * NR + j] = src[q];
      }
      for (int64_t j = cols; j < NR; j++)
        for (int64_t q = 0; q < kc; q++) dst[q * NR + j] = 0.f;
      continue;
    }
    for (int64_t p = 0; p < kc; p++) {
      const float* src = b + (p0 + p) * brs + (j0 + jp) * bcs;
      float* d = dst + p * NR;
      if (bcs == 1 && cols == NR) std::memcpy(d, src, NR * sizeof(float));
      else {
        int64_t j = 0;
        for (; j < cols; j++) d[j] = src[j * bcs];
        for (; j < NR; j++) d[j] = 0.f;
      }
    }
  }
}

// Ap[panel][p][0..MR): rows i0.. of A for p in [0, kc), zero-padded past M. The panel is written in order, p by p,
// reading MR rows at once: MR contiguous floats per p when A's columns are contiguous (ars = 1: the weight
// gradient's dyᵀ), MR streams when its rows are (acs = 1). (Row by row, with strided writes, the packing took
// a sixth of the weight gradient's time at 256 examples.)
void packA(const float* a, int64_t ars, int64_t acs, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ip);
    float* dst = ap + ip * kc;
    const float* src[MR];
    for (int i = 0; i < MR; i++) src[i] = a + (i0 + ip + std::min<int64_t>(i, rows - 1)) * ars + p0 * acs;
    if (rows == MR) {
      for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++) dst[p * MR + i] = src[i][p * acs];
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++) dst[p * MR + i] = i < rows ? src[i][p * acs] : 0.f;
    }
  }
}

// A prefetch of the line at p into L2 only (the T1 hint; "Prefetch hints" below says where and why). A macro, not
// an inline function: an extra function changed GCC's inlining and unrolling of the kernels that call it.
#define PREFETCH_L2(p) __builtin_prefetch((p), 0, 2)
// The few-row kernels' prefetch of a node's weights ahead ("Prefetch hints" below): into L2 (locality 2), or into L1
// (3) where the file that includes this one sets TG_FEW_ROWS_LOCALITY (kernels_avx512_l1.cc).
#ifndef TG_FEW_ROWS_LOCALITY
#define TG_FEW_ROWS_LOCALITY 2
#endif
#define PREFETCH_FEW(p) __builtin_prefetch((p), 0, TG_FEW_ROWS_LOCALITY)

// Lines to prefetch while a tile computes (the next group of B): every W steps p, the lines at
// at + q·qs + p·ps for q < n, and the line after each where `two`.
struct Ahead {
  const float* at = nullptr;
  int64_t qs = 0, ps = 0;
  int n = 0;
  bool two = false;  // (the line after each: into L1)
  bool l2 = false;  // into L2 only (the T1 hint) instead of L1
};

// C tile (rows × cols ≤ R × NR) (+)= A · B over kc, with A(i, p) = a[i*ars + p*acs] and B(p, j) = b[p*brs + j]:
// packed panels (ars = 1, acs = MR, brs = NR, R = MR) or, for few rows, the operands in place. `acc` false: C = A·B.
// With PF, it prefetches `ah`'s lines. NOTE: always inlined so that the packed call site gets its constant strides
// back.
template <int R, bool PF = false>
__attribute__((always_inline)) inline void micro(int64_t kc, const float* a, int64_t ars, int64_t acs, const float* b,
                                                 int64_t brs, float* c, int64_t crs, int64_t rows, int64_t cols, bool acc,
                                                 const Ahead& ah = {}) {
  vf r0[R], r1[R];
  for (int i = 0; i < R; i++) r0[i] = r1[i] = (vf){};
  for (int64_t p = 0; p < kc; p++) {
    if (PF && ah.at && p % W == 0)
      for (int q = 0; q < ah.n; q++) {
        const float* l = ah.at + q * ah.qs + p * ah.ps;
        if (ah.l2) PREFETCH_L2(l);
        else __builtin_prefetch(l);
        if (ah.two) __builtin_prefetch(l + W);
      }
    const vf b0 = load(b), b1 = load(b + W);
    for (int i = 0; i < R; i++) {
      const vf x = a[i * ars] - (vf){};
      r0[i] += x * b0;
      r1[i] += x * b1;
    }
    a += acs;
    b += brs;
  }
  if (rows == R && cols == NR) {
    for (int i = 0; i < R; i++) {
      float* ci = c + i * crs;
      if (acc) { store(ci, load(ci) + r0[i]); store(ci + W, load(ci + W) + r1[i]); }
      else { store(ci, r0[i]); store(ci + W, r1[i]); }
    }
    return;
  }
  alignas(64) float t[R][NR];
  for (int i = 0; i < R; i++) { store(t[i], r0[i]); store(t[i] + W, r1[i]); }
  for (int64_t i = 0; i < rows; i++) {
    float* ci = c + i * crs;
    if (acc) for (int64_t j = 0; j < cols; j++) ci[j] += t[i][j];
    else for (int64_t j = 0; j < cols; j++) ci[j] = t[i][j];
  }
}

// micro<rows> for a row tile of 1 … TILE_MAX rows (the in-place kernels' tiles).
// NOTE: always inlined: directRows calls it every KB steps (a call there cost up to a fifth of its time).
constexpr int TILE_MAX = 14;

// Height of the in-place kernels' row tiles for M rows: tiles as even as possible, at most TILE_MAX rows
// (2·TILE_MAX accumulators need AVX-512's 32 vector registers; MR with 16). 8 rows as 6 + 2 ran 1.4× slower than
// as one tile of 8, 14 rows as 6 + 6 + 2 1.14× slower than as 7 + 7, and 9–14 rows as two tiles 1.08–1.25×
// slower than as one.
inline int64_t tileRows(int64_t M) {
  constexpr int64_t most = W >= 16 ? TILE_MAX : MR;
  const int64_t tiles = (M + most - 1) / most;
  return (M + tiles - 1) / tiles;
}
template <bool PF = false>
__attribute__((always_inline)) inline void microRows(int64_t rows, int64_t kc, const float* a, int64_t ars, int64_t acs,
                                                     const float* b, int64_t brs, float* c, int64_t crs, int64_t cols,
                                                     bool acc, const Ahead& ah = {}) {
  switch (rows) {
    case 14: return micro<14, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 13: return micro<13, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 12: return micro<12, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 11: return micro<11, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 10: return micro<10, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 9: return micro<9, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 8: return micro<8, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 7: return micro<7, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 6: return micro<6, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 5: return micro<5, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 4: return micro<4, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 3: return micro<3, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    case 2: return micro<2, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
    default: return micro<1, PF>(kc, a, ars, acs, b, brs, c, crs, rows, cols, acc, ah);
  }
}

// micro<R> over two strips of NR columns at once, for one to four rows: B(p, j) = b0[p·bs + j] for j < NR and
// b1[p·bs + j − NR] after (two packed panels, or one row of B in place with b1 = b0 + NR). With one to three
// rows micro<R> has too few accumulators to hide the multiply-add latency (one chain per row and vector);
// two strips double them, and give two read streams. Each element of C gets the same sum as micro<R> gives it.
// ONE: the second strip is at b0 + NR (a row of B in place: one pointer, constant offsets); else at b1 (two
// panels, two pointers). NOTE: the two-pointer form on the input gradient, and a one-pointer form with a
// runtime offset on the panels, took 1.04–1.10× the time from memory (kernel-ab's program, both orders).
template <int R, bool ONE>
__attribute__((always_inline)) inline void microTwo(int64_t kc, const float* a, int64_t ars, int64_t acs, const float* b0,
                                                    const float* b1, int64_t bs, float* c, int64_t crs, bool acc) {
  vf r[R][4];
  for (int i = 0; i < R; i++) for (int v = 0; v < 4; v++) r[i][v] = (vf){};
  for (int64_t p = 0; p < kc; p++) {
    const vf u0 = load(b0), u1 = load(b0 + W), u2 = load(ONE ? b0 + NR : b1), u3 = load(ONE ? b0 + NR + W : b1 + W);
    for (int i = 0; i < R; i++) {
      const vf x = a[i * ars] - (vf){};
      r[i][0] += x * u0;
      r[i][1] += x * u1;
      r[i][2] += x * u2;
      r[i][3] += x * u3;
    }
    a += acs;
    b0 += bs;
    if (!ONE) b1 += bs;
  }
  for (int i = 0; i < R; i++)
    for (int v = 0; v < 4; v++) {
      float* cv = c + i * crs + v * W;
      store(cv, acc ? load(cv) + r[i][v] : r[i][v]);
    }
}
template <bool ONE, typename... Args>
__attribute__((always_inline)) inline void microTwoRows(int64_t rows, Args... args) {
  switch (rows) {
    case 4: return microTwo<4, ONE>(args...);
    case 3: return microTwo<3, ONE>(args...);
    case 2: return microTwo<2, ONE>(args...);
    default: return microTwo<1, ONE>(args...);
  }
}

// Rows from which the NT form runs the broadcast and panel kernels (one chain over p per element) instead of dot
// products (kernels.h: Kernels::chainRowsNT). Under AVX2 six: its dot-product tiles (four rows of two columns,
// eight chains) stay far from the FMA peak, and broadcastRows takes 6–8 rows as one block of W lanes; fifteenth
// session, Zen 3, `bash bench/kernel-ab/run.sh HEAD . NT cache|memory 5 6 7 8` (both orders) 1.08–1.17× faster at
// 6–8 rows from cache and 1.09–1.14× from memory, 0.91–0.98× at 5. Under AVX-512, nine.
constexpr int64_t CHAIN_NT = W == 8 ? 6 : 9;

// Products with fewer rows than these read B in place with the few-row kernels: B is read once from memory (a
// node with few examples is bound by reading its weights). Crossovers measured with B read from memory (512×512,
// interleaved) against the kernel that panelRows replaced: the dot products of the NT form lose from ~9 rows
// (AVX-512; from 6 under AVX2: CHAIN_NT); the in-place micro-kernel of the NN form ties from 20 rows (16: 1.36×
// faster) and loses from 32 (panelRows against it: 0.78× at 16 rows, 1.0× at 20–24); for the forms panelRows
// does not take, it loses to packing from ~32.
constexpr int64_t DIRECT_NT = CHAIN_NT, DIRECT_NN = kChainRowsNN, DIRECT_OTHER = kPackedRowsTN;

// broadcastRows (rows as vector lanes) for up to 2·W rows whose last block of W rows is at least half full: its
// tiles waste few lanes there, while panelRows pays for transposing the panel and for reading it once per tile.
// Elsewhere panelRows. panelRows against broadcastRows, 512×512, weights from memory, A/B in one process in both
// orders (geometric mean): NT 0.84× at 12 rows, 0.95× at 16, 1.17× at 20, 1.05× at 24, 0.89× at 32, 1.26× at 40,
// 1.11× at 48, 1.02–1.08× at 64–256; NN 0.92× at 32, 1.02× at 24, 1.20× at 40, 1.07–1.20× at 48–256.
constexpr bool bcastTaken(int64_t M) { return M <= 2 * W && (M % W == 0 || M % W > W / 2); }

// Scratch floats for packed operands, aligned to a cache line so that no vector load from them splits a line
// (a std::vector's floats are aligned to 16 bytes only). Grown as needed, never shrunk; contents not kept.
struct PackBuf {
  float* p = nullptr;
  int64_t n = 0;
  float* get(int64_t want) {
    if (want > n) {
      std::free(p);
      n = std::max(want, 2 * n);
      p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
      if (!p) { n = 0; throw std::bad_alloc(); }
    }
    return p;
  }
  ~PackBuf() { std::free(p); }
};
thread_local PackBuf packBufA, packBufB;

// Prefetch hints. The few-row kernels, which read a node's weights from memory once (dotTile, bcastTile,
// streamStep, directRows), prefetch the weights ahead (PREFETCH_FEW): into L2 by default, into L1 in the AVX-512
// table compiled with TG_FEW_ROWS_LOCALITY 3 (kernels_avx512_l1.cc), which the addon picks on a Zen 5 (AMD family
// 26; TREEGATE_NATIVE_PREFETCH=l1 or l2 overrides it). Forty-sixth session, on a Zen 4 (AMD EPYC family 25 model 17,
// the processor of issue 3), against c89b216, which prefetched into L1:
// `bash bench/kernel-ab/run.sh c89b216 5f16bc5 NT|NN memory|cache 1 2 3 4 6 8 12 16 20` (both orders,
// geometric mean): NT from memory 1.49–1.66× at 3–8 rows, 1.09× at 12–16, 1.00–1.01× at 1–2 and 20 (one read
// stream, no prefetch: streamRowsOf); NN from memory 1.15× at one row, 1.41–2.09× at 2–8, 1.08–1.22× at 12–20;
// from cache both 0.97–1.05×. Through the addon (`bash bench/addon-ab/run.sh c89b216 5f16bc5
// forward,backward-input,infer 3,4,5,6,7,8,9,10`): forward 1.06–1.18× at k = 5–10, input gradient 1.09–1.22×
// at k = 6–10, 0.99–1.08× below; collapsed inference (packedRows, unchanged) 0.97–1.04×. On that VM the L1
// prefetches of four to eight streams side by side left reads and arithmetic serial (a 4–8-row node from
// memory took about the sum of its cache time and its read time). On the Zen 5 (family 26 model 2; sixty-fourth
// session, quiet machine) the same kernel-ab commands gave L2 the other way: NT from memory 0.84–0.89× at 3–8 rows
// (1.00× at 1–2 and 12–20), NN 0.81–0.95× at 4–20 rows (1.04–1.09× at 1–2); and this file's L1 table against
// 10a7f16's L2 (`bash bench/addon-ab/run.sh 10a7f16 <this commit> forward,backward-input 4,5,6,7,8,9`, two runs):
// forward 1.01–1.09× at k = 5–9, input gradient 1.04–1.23× at k = 4–9, the weight gradient (no such prefetch)
// 0.99–1.05×; `bash bench/step-ab/run.sh 10a7f16 <this commit> native 4,5,6,7,8`: the training step 1.05–1.09× at
// k = 6–8, 0.96–1.00× at 4–5. On the Zen 3 (family 25 model 1, AVX2; sixty-ninth session, quiet machine) the AVX2
// table with L1 against L2 (`bash bench/kernel-ab/run.sh HEAD . NT|NN memory 1 2 3 4 6 8 12 16 20`, the working tree's
// default locality set to 3; bench/saved/2026-12-08-zen3-prefetch.txt): NT 0.98–1.01×, NN 0.99–1.02× at every row
// count, so the AVX2 table keeps L2; Intel's (the Xeon of the fifty-fourth to sixty-third sessions) was not measured
// with L1 and keeps L2.
// panelRows keeps L1 prefetches (L2: 0.88–1.00× at 24–128 rows on the Zen 4), packedRows' tiles L2.

// Rows of floats at `p`, `stride` apart, that all start on a cache line (16 floats); and the stride of an aligned
// copy of rows of n floats.
inline bool onLines(const float* p, int64_t stride) { return reinterpret_cast<uintptr_t>(p) % 64 == 0 && stride % 16 == 0; }
constexpr int64_t lineStride(int64_t n) { return (n + 15) / 16 * 16; }

// Points a (rows of K floats, ars apart) at a copy in packBufA whose rows start on cache lines, followed by zero rows
// up to `rows` (dotRowsOf's padding of a last tile).
inline void linedRows(const float*& a, int64_t& ars, int64_t M, int64_t rows, int64_t K) {
  const int64_t stride = lineStride(K);
  float* t = packBufA.get(rows * stride);
  for (int64_t i = 0; i < rows; i++)
    if (i < M) std::memcpy(t + i * stride, a + i * ars, K * sizeof(float));
    else std::fill(t + i * stride, t + i * stride + K, 0.f);
  a = t;
  ars = stride;
}

// The NT form (acs = 1, brs = 1: rows of A and columns of B both contiguous along p) as dot products (under AVX-512
// one and two rows run streamRowsOf below, with the same sums): a tile of
// DA ≤ 4 rows of A against G columns of B (DA·G ≤ W vector accumulators: DC = W / 4 for tiles of four rows, 2·DC
// for a single row, whose four chains alone could not hide the multiply-add latency, and for AVX2's tiles of two
// rows, dotRowsOf), summed across lanes at
// once by hsums (whose sum of a vector does not depend on its slot). Column q of the next group is prefetched
// (into L2: "Prefetch hints" above) where bit q of `pf` is set. With PART, only the first `rows` rows of C are
// written (a tile run over rows padded past A's last one).
constexpr int DC = W >= 4 ? W / 4 : 1;
template <int DA, bool PART = false, int G = DC>
void dotTile(int64_t K, const float* a, int64_t ars, const float* const* b, const float* next, unsigned pf, int64_t bcs,
             float* c, int64_t crs, int64_t rows, int64_t cols, bool acc) {
  vf s[DA][G];
  for (int i = 0; i < DA; i++) for (int q = 0; q < G; q++) s[i][q] = (vf){};
  // NOTE: columns not to prefetch point at their own (cached) column: no branch in the loop
  const float* ahead[G];
  for (int q = 0; q < G; q++) ahead[q] = pf >> q & 1 ? next + q * bcs : b[q];
  const int64_t KW = K - K % W;
  for (int64_t p = 0; p < KW; p += W) {
    for (int q = 0; q < G; q++) PREFETCH_FEW(ahead[q] + p);
    vf x[DA];
    for (int i = 0; i < DA; i++) x[i] = load(a + i * ars + p);
    for (int q = 0; q < G; q++) {
      const vf y = load(b[q] + p);
      for (int i = 0; i < DA; i++) s[i][q] += x[i] * y;
    }
  }
  vf r[W];
  for (int l = 0; l < W; l++) r[l] = (vf){};
  for (int i = 0; i < DA; i++) for (int q = 0; q < G; q++) r[i * G + q] = s[i][q];
  alignas(64) float h[W];
  store(h, hsums(r));
  for (int i = 0; i < (PART ? rows : DA); i++) {
    float* ci = c + i * crs;
    for (int64_t q = 0; q < cols; q++) {
      float v = h[i * G + q];
      for (int64_t p = KW; p < K; p++) v += a[i * ars + p] * b[q][p];
      ci[q] = acc ? ci[q] + v : v;
    }
  }
}

// Columns outside, rows inside: each group of G columns of B is read from memory once and from L1 for the
// other rows (a 1-row node reads its weights exactly once). NOTE: the row blocks share the prefetching of the
// next group's columns (block b takes columns ≡ b mod blocks), so that memory stays busy while the later
// blocks compute from L1; left to the first block, the reads and the multiply-adds would not overlap.
// A last block of two or three rows runs as a 4-row tile over a copy of them padded with zero rows: the 2- and
// 3-row tiles took longer than the 4-row one (from cache 20 and 30 µs against 19 per 512×512 node; from memory
// up to 1.4× the 4-row time: 3, 6 and 7 rows 76–98 µs against 52–72 at 4 and 8). A row's sums do not depend on
// the tile it is in (its accumulators and their lane sums are the same).
// Under AVX2 (W = 8: 4-row tiles of two columns, whose eight chains and six loads per step left the tile far
// from the FMA peak) one to three rows run as tiles of two rows and one over four columns instead, no padding:
// twelfth session, on a Zen 3 (`bash bench/kernel-ab/run.sh caf9246 . NT memory 1 2 3 4`, both orders) 1.22–1.25×
// faster at two rows and 1.39× at three from memory (from cache 1.31–1.39× and 0.90×); in the layer
// (`bash bench/addon-ab/run.sh HEAD . forward 5,6,7,8,9`) 0.99–1.05×, 1.05× at k = 8 in two runs.
// The rows of A are copied (with that padding) into a buffer aligned to a cache line unless they start on one:
// Node's Float32Arrays mostly start 16 bytes past a line, and every load of a row would then split two lines.
// Eleventh session, `bash bench/kernel-ab/run.sh d66bbed <this commit> NT memory|cache 1 … 8` (both orders,
// geometric mean): prefetching one group ahead instead of two, the aligned copy and eight columns for one row
// (DC = 4 had been measured "no faster" with the two-group distance) together 1.08–1.25× from memory at 1–8 rows,
// 1.10–1.25× from cache; the copy alone 1.09–1.11× from memory at 5–7 rows, 0.99–1.02× at 1–4 and 8.
template <int G>
void dotRowsOf(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t bcs, float* c,
             int64_t crs, bool acc) {
  constexpr int64_t TR = 4 * G <= W ? 4 : 2;  // rows of a tile (single rows aside)
  const int64_t blocks = (M + TR - 1) / TR, full = M / TR * TR;
  const bool pad = TR == 4 && M - full >= 2;
  if (pad || !onLines(a, ars)) linedRows(a, ars, M, pad ? full + 4 : M, K);
  unsigned share[G] = {};
  for (int q = 0; q < G; q++) share[q % blocks] |= 1u << q;
  for (int64_t j = 0; j < N; j += G) {
    const int64_t cols = std::min<int64_t>(G, N - j);
    const float* bj[G];
    for (int q = 0; q < G; q++) bj[q] = b + std::min<int64_t>(j + q, N - 1) * bcs;  // a narrow tail repeats its last column
    const bool ahead = j + 2 * G <= N;
    const float* next = ahead ? b + (j + G) * bcs : b;
    for (int64_t i = 0; i < M; i += TR) {
      const float* ai = a + i * ars;
      const int64_t rows = std::min<int64_t>(TR, M - i);
      float* ci = c + i * crs + j;
      const unsigned pf = ahead && i / TR < G ? share[i / TR] : 0;
      if (rows == 1) dotTile<1, false, G>(K, ai, ars, bj, next, pf, bcs, ci, crs, 1, cols, acc);
      else if constexpr (TR == 4) {
        if (rows == 4) dotTile<4, false, G>(K, ai, ars, bj, next, pf, bcs, ci, crs, 4, cols, acc);
        else dotTile<4, true, G>(K, ai, ars, bj, next, pf, bcs, ci, crs, rows, cols, acc);
      } else {
        dotTile<2, false, G>(K, ai, ars, bj, next, pf, bcs, ci, crs, 2, cols, acc);
      }
    }
  }
}

// The same dot products with B's columns read whole, one after another: one read stream, where dotTile reads G
// columns side by side. Column j's R accumulators go to slots i·J + q of a block of J = W / R columns, summed at
// once by hsums: every element gets dotTile's sum (one accumulator over p in steps of W, the same lane sums, the
// same tail), so a node's rows round alike however the threads cut it.
// Why: a development program (thirty-third session, Zen 5) read 1 MB nodes from memory on one thread at 36 GB/s as
// one stream (29 µs a node) and at 15–19 GB/s as 4–16 rows side by side; dotTile, which reads 8 columns side by side
// with prefetches, took 37 µs per one-row node. A stream of rows that start 16 bytes past a cache line read at 0.6×
// the rate of one on lines. With the weights on lines (the native backend's floats()), `bash bench/kernel-ab/run.sh
// 88deb7f <this commit> NT memory|cache 1 2 3` (both orders, geometric mean, two runs): 1.17–1.19× and 1.21–1.27×
// from memory at one and two rows, 1.05× and 1.15× from cache; at 3 and 4 rows from cache 0.79× and 0.76× (R chains
// per column do not hide the multiply-add latency there), so dotTile keeps them. Under AVX2 (8 lanes: 64 steps a
// chain) one row read 0.50× from cache: only AVX-512 takes this path.
template <int R>
void streamRowsOf(int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t bcs, float* c, int64_t crs,
                  bool acc) {
  constexpr int J = W / R;
  const int64_t KW = K - K % W;
  alignas(64) float h[W];
  for (int64_t j0 = 0; j0 < N; j0 += J) {
    const int cols = (int)std::min<int64_t>(J, N - j0);
    vf r[W];
    for (int l = 0; l < W; l++) r[l] = (vf){};
    for (int q = 0; q < cols; q++) {
      const float* bq = b + (j0 + q) * bcs;
      vf sv[R];
      for (int i = 0; i < R; i++) sv[i] = (vf){};
      for (int64_t p = 0; p < KW; p += W) {
        const vf y = load(bq + p);
        for (int i = 0; i < R; i++) sv[i] += load(a + i * ars + p) * y;
      }
      for (int i = 0; i < R; i++) r[i * J + q] = sv[i];
    }
    store(h, hsums(r));
    for (int i = 0; i < R; i++) {
      float* ci = c + i * crs + j0;
      for (int q = 0; q < cols; q++) {
        float v = h[i * J + q];
        for (int64_t p = KW; p < K; p++) v += a[i * ars + p] * b[(j0 + q) * bcs + p];
        ci[q] = acc ? ci[q] + v : v;
      }
    }
  }
}

void dotRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t bcs, float* c,
             int64_t crs, bool acc) {
  if (W == 8 && M <= 3) return dotRowsOf<2 * DC>(M, N, K, a, ars, b, bcs, c, crs, acc);
  if (M > 2) return dotRowsOf<DC>(M, N, K, a, ars, b, bcs, c, crs, acc);
  if (!onLines(a, ars)) linedRows(a, ars, M, M, K);
  if (M == 1) streamRowsOf<1>(N, K, a, ars, b, bcs, c, crs, acc);
  else streamRowsOf<2>(N, K, a, ars, b, bcs, c, crs, acc);
}

// The NT form (forward) and the NN form (input gradient) for up to 2·W rows (bcastTaken), as Cᵀ = Bᵀ·Aᵀ: each
// element B(p, j) (a node's weight, read in place: B's columns contiguous in the NT form, its rows in the NN
// form) is broadcast against vectors of W rows of A, packed p-major in blocks of W rows (x[p·W + e]); the tile
// of C is transposed in registers and added to C. A tile is Q columns × V row blocks (Q·V = 16 accumulators):
// V = 2 where two row blocks are left (10 loads per 16 multiply-adds), else V = 1. Column q of the tile is read
// at g[q / 4] + (q % 4)·bcs: Q/4 bases and three index strides keep every address in a register. Columns
// outside, row blocks inside: a group of W columns of B is read from memory once (prefetched into L2 one group
// ahead by the first tile: W lines every W steps) and from cache after.
template <int Q, int V>
inline void bcastTile(int64_t K, const float* x, int64_t xstride, const float* bj, int64_t brs, int64_t bcs,
                      const float* next, int64_t nrs, int64_t ncs, float* c, int64_t crs, int64_t rows, int64_t cols,
                      bool acc) {
  constexpr int G = Q >= 4 ? Q / 4 : 1;
  vf r[V][Q];
  for (int v = 0; v < V; v++) for (int q = 0; q < Q; q++) r[v][q] = (vf){};
  const float* g[G];
  for (int h = 0; h < G; h++) g[h] = bj + 4 * h * bcs;
  const int64_t t1 = bcs, t2 = 2 * bcs, t3 = 3 * bcs;
  for (int64_t p0 = 0; p0 < K; p0 += W) {
    if (next) {  // the W lines the next group reads in these W steps: one per column (NT) or per step (NN)
      if (nrs == 1) for (int q = 0; q < W; q++) PREFETCH_FEW(next + q * ncs + p0);
      else for (int u = 0; u < W; u++) PREFETCH_FEW(next + (p0 + u) * nrs);
    }
    const int64_t n = std::min<int64_t>(K - p0, W);
    for (int64_t p = 0; p < n; p++) {
      vf xv[V];
      for (int v = 0; v < V; v++) xv[v] = load(x + v * xstride);
      x += W;
      for (int h = 0; h < G; h++) {
        const float* gh = g[h];
        for (int u = 0; u < (Q >= 4 ? 4 : Q); u++) {
          const float w = gh[u == 0 ? 0 : u == 1 ? t1 : u == 2 ? t2 : t3];
          for (int v = 0; v < V; v++) r[v][4 * h + u] += xv[v] * w;
        }
        g[h] = gh + brs;
      }
    }
  }
  for (int v = 0; v < V; v++) {
    vf t[W];
    for (int q = 0; q < W; q++) t[q] = q < Q ? r[v][q] : (vf){};
    transpose(t);
    const int64_t rv = std::min<int64_t>(W, rows - v * W);
    for (int64_t e = 0; e < rv; e++) {
      float* ce = c + (v * W + e) * crs;
      if (cols == W) store(ce, acc ? load(ce) + t[e] : t[e]);
      else {
        alignas(64) float h[W];
        store(h, t[e]);
        for (int64_t q = 0; q < cols; q++) ce[q] = acc ? ce[q] + h[q] : h[q];
      }
    }
  }
}

void broadcastRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t brs,
                   int64_t bcs, float* c, int64_t crs, bool acc) {
  const int64_t blocks = (M + W - 1) / W;
  float* ap = packBufA.get(blocks * K * W);
  const int64_t KW = K - K % W;
  for (int64_t ib = 0; ib < blocks; ib++) {
    float* dst = ap + ib * K * W;
    const int64_t rows = std::min<int64_t>(W, M - ib * W);
    const float* src[W];
    for (int e = 0; e < W; e++) src[e] = a + (ib * W + std::min<int64_t>(e, rows - 1)) * ars;
    for (int64_t p = 0; p < KW; p += W) {
      vf r[W];
      for (int e = 0; e < W; e++) r[e] = e < rows ? load(src[e] + p) : (vf){};
      transpose(r);
      for (int q = 0; q < W; q++) store(dst + (p + q) * W, r[q]);
    }
    for (int64_t p = KW; p < K; p++)
      for (int e = 0; e < W; e++) dst[p * W + e] = e < rows ? src[e][p] : 0.f;
  }
  constexpr int H = W / 2;  // columns of a two-block tile
  for (int64_t j = 0; j < N; j += W) {
    const int64_t cols = std::min<int64_t>(W, N - j);
    const float* bj = b + j * bcs;
    int64_t rs = brs, cs = bcs;
    if (cols < W) {  // a narrow last group: copied, zero-padded, to W columns
      float* t = packBufB.get(W * K);
      for (int q = 0; q < W; q++)
        for (int64_t p = 0; p < K; p++) t[q * K + p] = q < cols ? bj[p * brs + q * bcs] : 0.f;
      bj = t;
      rs = 1;
      cs = K;
    }
    const float* next = j + 2 * W <= N ? b + (j + W) * bcs : nullptr;
    for (int64_t ib = 0; ib < blocks; ib += 2) {
      const float* x = ap + ib * K * W;
      const int64_t rows = M - ib * W;
      float* cb = c + ib * W * crs + j;
      const float* pf = ib == 0 ? next : nullptr;
      if (ib + 1 < blocks) {
        bcastTile<H, 2>(K, x, K * W, bj, rs, cs, pf, brs, bcs, cb, crs, rows, std::min<int64_t>(H, cols), acc);
        if (cols > H) bcastTile<H, 2>(K, x, K * W, bj + H * cs, rs, cs, nullptr, brs, bcs, cb + H, crs, rows, cols - H, acc);
      } else {
        bcastTile<W, 1>(K, x, K * W, bj, rs, cs, pf, brs, bcs, cb, crs, rows, cols, acc);
      }
    }
  }
}

// The NT form (forward) and the NN form (input gradient) wherever broadcastRows would waste lanes (bcastTaken),
// B read once: each group of NR columns of B is copied into a panel (packB: transposed in registers in the NT
// form, row by row in the NN form), and the rows of A run over it in place, in balanced tiles of up to TILE_MAX
// rows (one broadcast per two multiply-adds: this processor issues about one broadcast per cycle), while the
// tiles prefetch the next group's lines between them. Each element of C is one chain over p, added to C at the
// end, as in broadcastRows: the choice between the two (and a split of the rows across threads) changes no
// rounding.
void panelRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t brs, int64_t bcs,
               float* c, int64_t crs, bool acc) {
  float* t = packBufB.get(K * NR);
  const int64_t DH = tileRows(M), tiles = (M + DH - 1) / DH;
  // the next group's lines for steps p … p + W − 1: one per column (NT) or two per row of B (NN)
  const int lines = brs == 1 ? NR : W;
  for (int64_t j = 0; j < N; j += NR) {
    const int64_t cols = std::min<int64_t>(NR, N - j);
    packB(b, brs, bcs, 0, K, j, cols, t);
    const float* next = j + 2 * NR <= N ? b + (j + NR) * bcs : nullptr;
    for (int64_t i = 0, tile = 0; i < M; i += DH, tile++) {
      const int64_t q0 = lines * tile / tiles, q1 = lines * (tile + 1) / tiles;  // the tiles share the lines
      Ahead ah;
      if (next) {
        if (brs == 1) ah = {next + q0 * bcs, bcs, 1, (int)(q1 - q0), false};
        else ah = {next + q0 * brs, brs, brs, (int)(q1 - q0), true};
      }
      microRows<true>(std::min<int64_t>(DH, M - i), K, a + i * ars, ars, 1, t, NR, c + i * crs + j, crs, cols, acc, ah);
    }
  }
}

// The NT form on node tables packed once (collapsed inference: leaf tables change only when the weights do).
// packPanels lays a node w (N rows of K, as the forward reads it) out as packB's panels of NR columns, p-major,
// zero-padded past N: panel q holds columns qNR … at w + q·NR·K. packedRows runs the rows of A over each panel
// in place in balanced tiles, as panelRows does after its copy, so a panel is one contiguous read. With one
// tile the hardware prefetcher keeps that read flowing: software prefetches made it slower (1–12 rows: 1.1–1.4×
// the time, one node from memory on one thread; 1.0–1.45× in collapsed inference at k = 5–7 on two threads).
// With several tiles the later ones read the panel from cache and would leave memory idle, so every tile
// prefetches its share of the next panel into L2 (at 16–64 rows 1.07–1.16× faster than into L1, 1.0–1.25×
// than none; development scripts, interleaved). Each element of C is one chain over p, as in panelRows and
// broadcastRows (from 9 rows, the same sums as the unpacked forward). Up to 4 rows run over two panels at once
// (microTwo): one 512×512 leaf on one thread (development program, medians of 30, two runs), from memory 2–4
// rows 47–49 µs where one panel at a time took 55–61, from cache 1.1× faster. Three rows take longer than four
// (from cache 18–21 µs against 11–14), also computed as four over a zero-padded copy and written as three,
// and also through a tile in L1: not explained, not fixed. Tiles of 4 rows over two panels
// at 8 and 12 rows gained from memory (70 → 60 µs at 8 rows) but lost from cache (20 → 24 µs: the second tile
// reads the 128 KB of panels back from L2).
void packPanels(int64_t N, int64_t K, const float* w, float* out) { packB(w, 1, K, 0, K, 0, N, out); }

// One row over four packed panels at once (four read streams, eight chains): under AVX2, collapsed inference of
// one example. Each element's chain and store are microTwo's, so the sums are the same. Twelfth session, Zen 3:
// `bash bench/kernel-ab/run.sh 01c5043 . NTP memory|cache 1` 1.08× from memory, 1.00× from cache; through the
// addon on two threads (a development script, a different 1 MB leaf per call) 1.05× in two runs. One panel at a
// time was 0.83×; prefetching in microTwo 0.79–0.82× (the history).
__attribute__((always_inline)) inline void microFour(int64_t kc, const float* a, const float* b, int64_t ps, float* c,
                                                     bool acc) {
  vf r[8];
  for (int v = 0; v < 8; v++) r[v] = (vf){};
  for (int64_t p = 0; p < kc; p++) {
    const vf x = a[p] - (vf){};
    for (int q = 0; q < 4; q++) {
      r[2 * q] += x * load(b + q * ps);
      r[2 * q + 1] += x * load(b + q * ps + W);
    }
    b += NR;
  }
  for (int v = 0; v < 8; v++) store(c + v * W, acc ? load(c + v * W) + r[v] : r[v]);
}

void packedRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* panels, float* c,
                int64_t crs, bool acc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!acc) for (int64_t i = 0; i < M; i++) std::fill(c + i * crs, c + i * crs + N, 0.f);
    return;
  }
  const int64_t DH = tileRows(M), tiles = (M + DH - 1) / DH;
  for (int64_t j = 0; j < N; j += NR) {
    const int64_t cols = std::min<int64_t>(NR, N - j);
    const float* panel = panels + j * K;
    const float* next = j + NR < N ? panel + NR * K : nullptr;
    if (W == 8 && M == 1 && j + 4 * NR <= N) {
      microFour(K, a, panel, NR * K, c + j, acc);
      j += 3 * NR;
      continue;
    }
    if (M <= 4 && j + 2 * NR <= N) {  // two full panels at once (microTwo)
      microTwoRows<false>(M, K, a, ars, (int64_t)1, panel, next, (int64_t)NR, c + j, crs, acc);
      j += NR;
      continue;
    }
    for (int64_t i = 0, tile = 0; i < M; i += DH, tile++) {
      const int64_t rows = std::min<int64_t>(DH, M - i);
      if (tiles == 1 || !next) {
        microRows(rows, K, a + i * ars, ars, 1, panel, NR, c + i * crs + j, crs, cols, acc);
        continue;
      }
      // the next panel's NR·W floats for steps p … p + W − 1 are NR lines: tile t takes lines q0 … q1 − 1
      const int64_t q0 = NR * tile / tiles, q1 = NR * (tile + 1) / tiles;
      const Ahead ah{next + q0 * W, W, NR, (int)(q1 - q0), false, true};
      microRows<true>(rows, K, a + i * ars, ars, 1, panel, NR, c + i * crs + j, crs, cols, acc, ah);
    }
  }
}

// B rows contiguous (bcs = 1, the NN and TN forms): the micro-kernel reads A and B in place, KB rows of B at a
// time (contiguous in memory) strip by strip of NR columns, adding into C, which stays in L1. Each strip
// prefetches its part of the next KB rows (into L2: "Prefetch hints" above). A column tail narrower than NR is
// copied zero-padded first, so that no load runs past B. A C that does not start on a cache line (Node's
// Float32Arrays mostly start 16 bytes past one) is computed in an aligned copy, since its rows are loaded and
// stored every KB steps: from memory
// 1.14× faster at 16 rows and 1.21× at 20 (0.98–1.06× at 1–12), from cache 1.02–1.20× at 1–16 (`bash
// bench/kernel-ab/run.sh d66bbed <this commit> NN …`, both orders).
constexpr int64_t KB = 16;

// Rows up to which directRows reads B in memory order (streamRowsNN), under AVX-512 and AVX2.
constexpr int64_t STREAM_NN = W >= 8 ? 8 : 0;

// P steps p … p + P − 1 of streamRowsNN for R rows: s_i (+)= Σ_q A(i, p + q)·B(p + q, ·), in order, from zero at the
// block's first step (START); at its last (END) the sums go into C instead of s. Prefetches B 4·P rows ahead into
// L2 (past B's end at the last rows: a prefetch does not fault).
template <int R, int P, bool START, bool END>
__attribute__((always_inline)) inline void streamStep(int64_t N, const float* a, int64_t ars, int64_t acs,
                                                      const float* bp, int64_t brs, float* s, int64_t ss, float* c,
                                                      int64_t crs, bool first) {
  vf x[P][R];
  for (int q = 0; q < P; q++)
    for (int i = 0; i < R; i++) x[q][i] = a[q * acs + i * ars] - (vf){};
  for (int64_t j = 0; j < N; j += W) {
    vf bv[P];
    for (int q = 0; q < P; q++) {
      PREFETCH_FEW(bp + (q + 4 * P) * brs + j);
      bv[q] = load(bp + q * brs + j);
    }
    for (int i = 0; i < R; i++) {
      vf r = (START ? (vf){} : load(s + i * ss + j)) + x[0][i] * bv[0];
      for (int q = 1; q < P; q++) r += x[q][i] * bv[q];
      if (!END) store(s + i * ss + j, r);
      else store(c + i * crs + j, first ? r : load(c + i * crs + j) + r);
    }
  }
}
// One block of kb ≤ KB steps: P at a time where the block is whole, else one at a time.
template <int R, int P>
void streamBlock(int64_t N, int64_t kb, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs, float* s,
                 int64_t ss, float* c, int64_t crs, bool first) {
  constexpr int Q = KB % P == 0 && KB >= 2 * P ? P : 1;
  if (kb == KB) {
    streamStep<R, Q, true, false>(N, a, ars, acs, b, brs, s, ss, c, crs, first);
    for (int64_t p = Q; p < KB - Q; p += Q)
      streamStep<R, Q, false, false>(N, a + p * acs, ars, acs, b + p * brs, brs, s, ss, c, crs, first);
    return streamStep<R, Q, false, true>(N, a + (KB - Q) * acs, ars, acs, b + (KB - Q) * brs, brs, s, ss, c, crs, first);
  }
  if (kb == 1) return streamStep<R, 1, true, true>(N, a, ars, acs, b, brs, s, ss, c, crs, first);
  streamStep<R, 1, true, false>(N, a, ars, acs, b, brs, s, ss, c, crs, first);
  for (int64_t p = 1; p < kb - 1; p++)
    streamStep<R, 1, false, false>(N, a + p * acs, ars, acs, b + p * brs, brs, s, ss, c, crs, first);
  streamStep<R, 1, false, true>(N, a + (kb - 1) * acs, ars, acs, b + (kb - 1) * brs, brs, s, ss, c, crs, first);
}

// The NN form (input gradient) for one to STREAM_NN rows, B read in memory order: each of a block's KB rows of B
// whole (one to four rows of C), or two rows of B at once (five to eight: half the loads and stores of s), its
// products added into a row of partial sums per row of C (s, in L1), which go into C at the block's last row. Each
// element of C gets directRows' sum: a chain over the block's steps from zero, then C plus that chain. s's rows are
// a line longer than N, so that a row's store and the next row's load (2 KB apart at N = 512) do not alias modulo
// 4 KB. C on lines, N a multiple of W. Thirty-fourth session, Zen 5, against directRows (`bash
// bench/kernel-ab/run.sh a82c036 <this commit> NN memory|cache 1 2 3 4 5 6 7 8`, both orders, two runs): from
// memory 1.37–1.59× at 1–3 rows, 1.20–1.54× at 4, 1.04–1.26× at 5–8; from cache 1.36–1.47× at one row, 0.81–1.14×
// at 2–4, 0.90–1.24× at 5–8. Through the addon (bench/addon-ab, backward-input) 1.11–1.25× at k = 6–9, 0.99–1.02×
// elsewhere. Measured and not kept: two rows of B at once at 1–4 rows, 0.7–1.0× from memory (two streams; but
// 1.05–1.24× from cache at 3–5); one at a time at 5–8 rows, 0.9–1.0× from memory; no prefetch, 0.5× at 8 rows;
// either form at 10–16 rows, 0.6–0.94×. The AVX2 build on the same machine (`ISA=avx2 bash bench/kernel-ab/run.sh
// 44e6470 <this commit> NN memory|cache 1 2 3 4 6 8`): from memory 0.99–1.34×, from cache 0.93–1.28×; the same
// model bits (sha256 f6b7641e… under TREEGATE_NATIVE_ISA=avx2); not measured on a machine without AVX-512.
void streamRowsNN(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b,
                  int64_t brs, float* c, int64_t crs, bool acc) {
  const int64_t ss = N + 16;
  float* s = packBufB.get(M * ss);
  for (int64_t p0 = 0; p0 < K; p0 += KB) {
    const int64_t kb = std::min(KB, K - p0);
    const bool first = !acc && p0 == 0;
    const float* ap = a + p0 * acs;
    const float* bp = b + p0 * brs;
    switch (M) {
      case 8: streamBlock<8, 2>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 7: streamBlock<7, 2>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 6: streamBlock<6, 2>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 5: streamBlock<5, 2>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 4: streamBlock<4, 1>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 3: streamBlock<3, 1>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      case 2: streamBlock<2, 1>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
      default: streamBlock<1, 1>(N, kb, ap, ars, acs, bp, brs, s, ss, c, crs, first); break;
    }
  }
}

void directRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
                float* c, int64_t crs, bool acc) {
  if (!onLines(c, crs)) {
    const int64_t stride = lineStride(N);
    float* t = packBufA.get(M * stride);
    if (acc) for (int64_t i = 0; i < M; i++) std::memcpy(t + i * stride, c + i * crs, N * sizeof(float));
    directRows(M, N, K, a, ars, acs, b, brs, t, stride, acc);
    for (int64_t i = 0; i < M; i++) std::memcpy(c + i * crs, t + i * stride, N * sizeof(float));
    return;
  }
  if (M <= STREAM_NN && N % W == 0) return streamRowsNN(M, N, K, a, ars, acs, b, brs, c, crs, acc);
  const int64_t NF = N - N % NR, tail = N - NF;
  float* t = nullptr;
  if (tail) {
    t = packBufB.get(K * NR);
    for (int64_t p = 0; p < K; p++)
      for (int64_t q = 0; q < NR; q++) t[p * NR + q] = q < tail ? b[p * brs + NF + q] : 0.f;
  }
  const int64_t DH = tileRows(M);
  for (int64_t p0 = 0; p0 < K; p0 += KB) {
    const int64_t kb = std::min(KB, K - p0);
    const bool first = !acc && p0 == 0;
    const float* ap = a + p0 * acs;
    for (int64_t j = 0; j < N; j += NR) {
      const int64_t cols = std::min<int64_t>(NR, N - j);
      const float* bj = cols < NR ? t + p0 * NR : b + p0 * brs + j;
      const int64_t bs = cols < NR ? NR : brs;
      if (cols == NR && p0 + 2 * KB <= K)
        for (int64_t p = 0; p < KB; p++) { PREFETCH_FEW(bj + (KB + p) * brs); PREFETCH_FEW(bj + (KB + p) * brs + W); }
      if (M <= 3 && j + 2 * NR <= NF) {  // two full strips at once (microTwo)
        if (p0 + 2 * KB <= K)
          for (int64_t p = 0; p < KB; p++) { PREFETCH_FEW(bj + (KB + p) * brs + NR); PREFETCH_FEW(bj + (KB + p) * brs + NR + W); }
        microTwoRows<true>(M, kb, ap, ars, acs, bj, bj + NR, brs, c + j, crs, !first);
        j += NR;
        continue;
      }
      for (int64_t i = 0; i < M; i += DH) {
        const int64_t rows = std::min<int64_t>(DH, M - i);
        const float* ai = ap + i * ars;
        float* ci = c + i * crs + j;
        microRows(rows, kb, ai, ars, acs, bj, bs, ci, crs, cols, !first);
      }
    }
  }
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
          int64_t bcs, float* c, int64_t crs, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (int64_t i = 0; i < M; i++) std::fill(c + i * crs, c + i * crs + N, 0.f);
    return;
  }
  // (bcs != 1: an NN product with one column also has brs == 1; it stays with directRows, as at any other width, so
  // that its rows sum alike under 24 rows however the threads cut a node)
  if (M < DIRECT_NT && acs == 1 && brs == 1 && bcs != 1) return dotRows(M, N, K, a, ars, b, bcs, c, crs, accumulate);
  if (M < DIRECT_NN && bcs == 1) return directRows(M, N, K, a, ars, acs, b, brs, c, crs, accumulate);
  // A's rows contiguous: the NT form (forward) and the NN form (input gradient); the TN form (weight gradient: many
  // rows, short p) is packed.
  if (acs == 1 && (brs == 1 || bcs == 1)) {
    if (bcastTaken(M)) return broadcastRows(M, N, K, a, ars, b, brs, bcs, c, crs, accumulate);
    return panelRows(M, N, K, a, ars, b, brs, bcs, c, crs, accumulate);
  }
  if (M < DIRECT_OTHER && bcs == 1) return directRows(M, N, K, a, ars, acs, b, brs, c, crs, accumulate);
  const int64_t ncMax = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
  const int64_t mcMax = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  float* bp = packBufB.get(KC * ncMax);
  float* ap = packBufA.get(KC * mcMax);
  for (int64_t j0 = 0; j0 < N; j0 += NC) {
    const int64_t nc = std::min(NC, N - j0);
    for (int64_t p0 = 0; p0 < K; p0 += KC) {
      const int64_t kc = std::min(KC, K - p0);
      const bool acc = accumulate || p0 > 0;
      packB(b, brs, bcs, p0, kc, j0, nc, bp);
      for (int64_t i0 = 0; i0 < M; i0 += MC) {
        const int64_t mc = std::min(MC, M - i0);
        packA(a, ars, acs, i0, mc, p0, kc, ap);
        // C is walked row block by row block, in memory order, where the block of B is shallower than a full KC
        // and fits in L2 (MEMORY_ORDER_B): B's panels then come from L2 for every row block, and C's lines are
        // read and written in order, which the prefetchers follow (a weight gradient over a node's rows, bound
        // by C's traffic). Otherwise strip by strip, so that a B panel stays in L1 across the A panels.
        const bool inOrder = kc < KC && kc * nc <= MEMORY_ORDER_B;
        const int64_t stripStep = inOrder ? nc : NR, blockStep = inOrder ? MR : mc;
        for (int64_t ib = 0; ib < mc; ib += blockStep)
          for (int64_t js = 0; js < nc; js += stripStep)
            for (int64_t jr = js; jr < std::min(nc, js + stripStep); jr += NR) {
              const int64_t cols = std::min<int64_t>(NR, nc - jr);
              for (int64_t ir = ib; ir < std::min(mc, ib + blockStep); ir += MR) {
                const int64_t rows = std::min<int64_t>(MR, mc - ir);
                micro<MR>(kc, ap + ir * kc, 1, MR, bp + jr * kc, NR, c + (i0 + ir) * crs + j0 + jr, crs, rows, cols, acc);
              }
            }
      }
    }
  }
}

// One thread's columns [c0, c1) of addPaths (src/kernels/paths.ts): every entry over one block of `block`
// columns at a time, the sum of an entry with children kept in scratch (at slot[e]·block floats; slot[e] < 0: none),
// so that of all the tables only the written sums go to memory, with non-temporal stores where `stream` (they are
// read only after every table is built). While an entry is added, the next entry's block is prefetched into L2:
// the tables are read a block at a time, one table after another, which the hardware prefetcher alone would
// follow only once each block had begun. The same sums as the reference (one add per element and entry).
void addPathsCols(const float* w, int64_t size, const int32_t* node, const int32_t* parent, const int32_t* slot,
                  const int32_t* outAt, int64_t count, float* out, int64_t c0, int64_t c1, float* scratch,
                  int64_t block, bool stream) {
  for (int64_t b0 = c0; b0 < c1; b0 += block) {
    const int64_t n = std::min(block, c1 - b0);
    for (int64_t e = 0; e < count; e++) {
      const float* t = w + node[e] * size + b0;
      const float* p = parent[e] >= 0 ? scratch + slot[parent[e]] * block : nullptr;
      float* sum = slot[e] >= 0 ? scratch + slot[e] * block : nullptr;
      float* o = outAt[e] >= 0 ? out + outAt[e] * size + b0 : nullptr;
      if (!sum && !o) continue;
      // the next entry's block, or the first entry's next block (itself at the last: a line already read)
      const float* next = e + 1 < count ? w + node[e + 1] * size + b0 : b0 + block < c1 ? w + node[0] * size + b0 + block : t;
      int64_t i = 0;
      auto one = [&](int64_t j) {
        const float v = p ? p[j] + t[j] : t[j];
        if (sum) sum[j] = v;
        if (o) o[j] = v;
      };
#if (defined(__AVX512F__) && TG_W == 16) || (defined(__AVX__) && TG_W == 8)
      if (o && stream) for (; i < n && (reinterpret_cast<uintptr_t>(o + i) & (W * 4 - 1)); i++) one(i);
#endif
      // one prefetch per 64 bytes, counted from where the vector loop starts (the alignment of o moves that start)
      for (const int64_t v0 = i; i + W <= n; i += W) {
        if (((i - v0) & 15) == 0) PREFETCH_L2(next + i);
        const vf v = p ? load(p + i) + load(t + i) : load(t + i);
        if (sum) store(sum + i, v);
        if (!o) continue;
#if defined(__AVX512F__) && TG_W == 16
        if (stream) _mm512_stream_ps(o + i, (__m512)v); else store(o + i, v);
#elif defined(__AVX__) && TG_W == 8
        if (stream) _mm256_stream_ps(o + i, (__m256)v); else store(o + i, v);
#else
        store(o + i, v);
#endif
      }
      for (; i < n; i++) one(i);
    }
  }
#if defined(__SSE__)
  if (stream) _mm_sfence();  // non-temporal stores are weakly ordered: complete them before out is read
#endif
}

// Read bandwidth probe: the sum of p[0, n), read with vector loads into 8 independent chains, so that the
// adds keep up with memory (a scalar loop of 4 chains is bound by the add latency near 27 GB/s on this machine).
double readSum(const float* p, int64_t n) {
  vf s[8];
  for (vf& v : s) v = (vf){};
  int64_t i = 0;
  for (; i + 8 * W <= n; i += 8 * W)
    for (int j = 0; j < 8; j++) s[j] += load(p + i + j * W);
  double t = 0;
  for (int j = 0; j < 8; j++)
    for (int e = 0; e < W; e++) t += s[j][e];
  for (; i < n; i++) t += p[i];
  return t;
}

// Independent chains of fmaBurn: enough to keep both FMA pipes busy (latency 4–5 cycles × 2 pipes), and few enough
// that they and the two constants stay in registers (16 vector registers without AVX-512: 16 chains spilled two of
// them, whose every step then went through the stack, and the AVX2 peak read about half of what GEMM reaches).
constexpr int kBurnChains = W == 16 ? 16 : 12;

// FMA throughput: kBurnChains independent vector chains, `iters` rounds; returns the number of flops done.
double fmaBurn(int64_t iters, float seed) {
  vf a[kBurnChains];
  for (int j = 0; j < kBurnChains; j++) a[j] = seed + j - (vf){};  // distinct values, or the compiler merges chains
  const vf m = 0.999999f - (vf){}, c = 1e-7f - (vf){};
  for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int j = 0; j < kBurnChains; j++) a[j] = a[j] * m + c;
  }
  vf s = a[0];
  for (int j = 1; j < kBurnChains; j++) s += a[j];
  volatile float sink = s[0];
  (void)sink;
  return 2.0 * kBurnChains * W * (double)iters;
}

// A moment or velocity below float32's smallest normal, 2^−126, becomes 0; NaN stays NaN (src/kernels/optim.ts,
// flushTiny: a unit whose gradient stays 0 decays its first moment by β1 a step through the subnormals, whose
// arithmetic costs Intel cores a microcode assist per element).
inline vf flushTiny(vf x) { return (vf)((vi)x & (((vi)x & 0x7fffffff) >= 0x00800000)); }
inline float flushTiny(float x) { return __builtin_fabsf(x) < 0x1p-126f ? 0.f : x; }

// Lazy optimizer updates over one slot [e0, e1) (formulas in src/kernels/optim.ts), in float32 vectors.
// a1 = 1 − β1 and a2 = 1 − β2 come rounded from float64 (1 − 0.999f in float32 is off by 1e-5).
// `clear` zeroes each gradient element once read (the step's own clearing of the gradients).
void adamSlot(float* w, float* g, float* m, float* v, int64_t e0, int64_t e1, float lr, float lam, float b1, float b2,
              float a1, float a2, float eps, float c1, float c2, bool clear) {
  const vf B1 = b1 - (vf){}, B2 = b2 - (vf){}, A1 = a1 - (vf){}, A2 = a2 - (vf){};
  const vf LR = lr - (vf){}, LAM = lam - (vf){}, EPS = eps - (vf){}, C1 = c1 - (vf){}, C2 = c2 - (vf){};
  int64_t e = e0;
  for (; e + W <= e1; e += W) {
    const vf ge = load(g + e);
    if (clear) store(g + e, (vf){});
    const vf me = flushTiny(B1 * load(m + e) + A1 * ge);
    const vf ve = flushTiny(B2 * load(v + e) + A2 * ge * ge);
    store(m + e, me);
    store(v + e, ve);
    const vf q = ve * C2;
    vf root;
    for (int l = 0; l < W; l++) root[l] = __builtin_sqrtf(q[l]);
    const vf we = load(w + e);
    store(w + e, we - LR * ((me * C1) / (root + EPS) + LAM * we));
  }
  for (; e < e1; e++) {
    const float ge = g[e];
    if (clear) g[e] = 0.f;
    const float me = flushTiny(b1 * m[e] + a1 * ge);
    const float ve = flushTiny(b2 * v[e] + a2 * ge * ge);
    m[e] = me;
    v[e] = ve;
    w[e] = w[e] - lr * ((me * c1) / (__builtin_sqrtf(ve * c2) + eps) + lam * w[e]);
  }
}

void sgdSlot(float* w, float* g, float* v, int64_t e0, int64_t e1, float lr, float lam, float mu, bool clear) {
  const vf LR = lr - (vf){}, LAM = lam - (vf){}, MU = mu - (vf){};
  int64_t e = e0;
  for (; e + W <= e1; e += W) {
    const vf ve = flushTiny(MU * load(v + e) + load(g + e));
    if (clear) store(g + e, (vf){});
    store(v + e, ve);
    const vf we = load(w + e);
    store(w + e, we - LR * (ve + LAM * we));
  }
  for (; e < e1; e++) {
    const float ve = flushTiny(mu * v[e] + g[e]);
    if (clear) g[e] = 0.f;
    v[e] = ve;
    w[e] = w[e] - lr * (ve + lam * w[e]);
  }
}

void addInto(float* dst, const float* src, int64_t n, bool first) {
  int64_t i = 0;
  if (first) {
    for (; i + W <= n; i += W) store(dst + i, load(src + i) + (vf){});
    for (; i < n; i++) dst[i] = 0.f + src[i];
  } else {
    for (; i + W <= n; i += W) store(dst + i, load(dst + i) + load(src + i));
    for (; i < n; i++) dst[i] += src[i];
  }
}

extern const Kernels kernels = {gemm, adamSlot, sgdSlot, fmaBurn, readSum, NR, CHAIN_NT, packPanels, packedRows, addPathsCols,
                                addInto};
