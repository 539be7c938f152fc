// Blocked, packed single-precision GEMM with one register-blocked micro-kernel
// for every layout (NT, NN, TN and any strides): panels of A (MR rows) and B
// (NR columns) are packed contiguous by p, so the micro-kernel streams them.
// Included by kernels_<isa>.cc with TG_W (floats per vector) defined.
// NOTE: no -ffast-math: sums keep IEEE semantics (NaN and Inf propagate).
// The including file includes <algorithm>, <cstdint>, <cstring> and <vector> first.

namespace {

constexpr int W = TG_W;
typedef float vf __attribute__((vector_size(W * 4)));
constexpr int MR = 6;        // rows of C per micro-tile
constexpr int NR = 2 * W;    // columns of C per micro-tile (two vectors)
constexpr int64_t KC = 256;  // depth of a packed block (A panel + B panel stay in L1/L2)
constexpr int64_t MC = 120;  // rows of A packed at once (multiple of MR)
constexpr int64_t NC = 2048; // columns of B packed at once (multiple of NR)

inline vf load(const float* p) { vf v; std::memcpy(&v, p, sizeof v); return v; }
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
typedef int vi __attribute__((vector_size(W * 4)));

// Masks of the butterfly transpose: at stage h (W/2, …, 1), rows i and i + h swap their off-diagonal
// h-blocks. lo[s] builds row i, hi[s] builds row i + h (two-source shuffles: lanes ≥ W read the second row).
struct TransposeMasks {
  vi lo[8], hi[8];
  TransposeMasks() {
    int s = 0;
    for (int h = W / 2; h >= 1; h /= 2, s++)
      for (int l = 0; l < W; l++) {
        lo[s][l] = (l & h) == 0 ? l : W + l - h;
        hi[s][l] = (l & h) == 0 ? l + h : W + l;
      }
  }
};
const TransposeMasks masks;

// In-register transpose of the W×W block whose row j is r[j].
inline void transpose(vf* r) {
  int s = 0;
  for (int h = W / 2; h >= 1; h /= 2, s++)
    for (int i = 0; i < W; i++)
      if ((i & h) == 0) {
        const vf a = r[i], b = r[i + h];
        r[i] = __builtin_shuffle(a, b, masks.lo[s]);
        r[i + h] = __builtin_shuffle(a, b, masks.hi[s]);
      }
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

// Ap[panel][p][0..MR): rows i0.. of A for p in [0, kc), zero-padded past M.
void packA(const float* a, int64_t ars, int64_t acs, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ip);
    float* dst = ap + ip * kc;
    for (int64_t i = 0; i < rows; i++) {
      const float* src = a + (i0 + ip + i) * ars + p0 * acs;
      for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = src[p * acs];
    }
    for (int64_t i = rows; i < MR; i++)
      for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = 0.f;
  }
}

// C tile (rows × cols ≤ MR × NR) (+)= Ap · Bp over kc; `acc` false on the first p-block when not accumulating.
inline void micro(int64_t kc, const float* ap, const float* bp, float* c, int64_t crs, int64_t rows, int64_t cols, bool acc) {
  vf c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int64_t p = 0; p < kc; p++) {
    const vf b0 = load(bp), b1 = load(bp + W);
    vf a;
    a = ap[0] - (vf){}; c00 += a * b0; c01 += a * b1;
    a = ap[1] - (vf){}; c10 += a * b0; c11 += a * b1;
    a = ap[2] - (vf){}; c20 += a * b0; c21 += a * b1;
    a = ap[3] - (vf){}; c30 += a * b0; c31 += a * b1;
    a = ap[4] - (vf){}; c40 += a * b0; c41 += a * b1;
    a = ap[5] - (vf){}; c50 += a * b0; c51 += a * b1;
    ap += MR;
    bp += NR;
  }
  vf r[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (rows == MR && cols == NR) {
    for (int i = 0; i < MR; i++) {
      float* ci = c + i * crs;
      if (acc) { store(ci, load(ci) + r[i][0]); store(ci + W, load(ci + W) + r[i][1]); }
      else { store(ci, r[i][0]); store(ci + W, r[i][1]); }
    }
    return;
  }
  alignas(64) float t[MR][NR];
  for (int i = 0; i < MR; i++) { store(t[i], r[i][0]); store(t[i] + W, r[i][1]); }
  for (int64_t i = 0; i < rows; i++) {
    float* ci = c + i * crs;
    if (acc) for (int64_t j = 0; j < cols; j++) ci[j] += t[i][j];
    else for (int64_t j = 0; j < cols; j++) ci[j] = t[i][j];
  }
}

// Rows of C as dot products when both A rows and B columns are contiguous (acs = 1, brs = 1: the NT form),
// for few rows: C(i, j) = a_i · b_j. Columns outside, rows inside, so each group of four B columns is read
// from memory once and reused from L1 for every row (a 1-row node reads its weights exactly once).
void dotRows(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, const float* b, int64_t bcs, float* c, int64_t crs, bool acc) {
  int64_t j = 0;
  for (; j + 4 <= N; j += 4) {
    const float *b0 = b + j * bcs, *b1 = b0 + bcs, *b2 = b1 + bcs, *b3 = b2 + bcs;
    int64_t i = 0;
    for (; i + 2 <= M; i += 2) {
      const float *a0 = a + i * ars, *a1 = a0 + ars;
      vf s00 = {}, s01 = {}, s02 = {}, s03 = {}, s10 = {}, s11 = {}, s12 = {}, s13 = {};
      int64_t p = 0;
      for (; p + W <= K; p += W) {
        // NOTE: prefetch the next four columns: these loops are bound by memory latency, not FMAs
        __builtin_prefetch(b0 + 4 * bcs + p); __builtin_prefetch(b1 + 4 * bcs + p);
        __builtin_prefetch(b2 + 4 * bcs + p); __builtin_prefetch(b3 + 4 * bcs + p);
        const vf x0 = load(a0 + p), x1 = load(a1 + p);
        const vf y0 = load(b0 + p), y1 = load(b1 + p), y2 = load(b2 + p), y3 = load(b3 + p);
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      float r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int l = 0; l < W; l++) {
        r[0] += s00[l]; r[1] += s01[l]; r[2] += s02[l]; r[3] += s03[l];
        r[4] += s10[l]; r[5] += s11[l]; r[6] += s12[l]; r[7] += s13[l];
      }
      for (; p < K; p++) {
        r[0] += a0[p] * b0[p]; r[1] += a0[p] * b1[p]; r[2] += a0[p] * b2[p]; r[3] += a0[p] * b3[p];
        r[4] += a1[p] * b0[p]; r[5] += a1[p] * b1[p]; r[6] += a1[p] * b2[p]; r[7] += a1[p] * b3[p];
      }
      float *c0 = c + i * crs + j, *c1 = c0 + crs;
      for (int q = 0; q < 4; q++) {
        c0[q] = acc ? c0[q] + r[q] : r[q];
        c1[q] = acc ? c1[q] + r[4 + q] : r[4 + q];
      }
    }
    for (; i < M; i++) {
      const float* a0 = a + i * ars;
      vf s0 = {}, s1 = {}, s2 = {}, s3 = {};
      int64_t p = 0;
      for (; p + W <= K; p += W) {
        __builtin_prefetch(b0 + 4 * bcs + p); __builtin_prefetch(b1 + 4 * bcs + p);
        __builtin_prefetch(b2 + 4 * bcs + p); __builtin_prefetch(b3 + 4 * bcs + p);
        const vf x = load(a0 + p);
        s0 += x * load(b0 + p); s1 += x * load(b1 + p); s2 += x * load(b2 + p); s3 += x * load(b3 + p);
      }
      float r[4] = {0, 0, 0, 0};
      for (int l = 0; l < W; l++) { r[0] += s0[l]; r[1] += s1[l]; r[2] += s2[l]; r[3] += s3[l]; }
      for (; p < K; p++) { r[0] += a0[p] * b0[p]; r[1] += a0[p] * b1[p]; r[2] += a0[p] * b2[p]; r[3] += a0[p] * b3[p]; }
      float* c0 = c + i * crs + j;
      for (int q = 0; q < 4; q++) c0[q] = acc ? c0[q] + r[q] : r[q];
    }
  }
  for (; j < N; j++) {
    const float* bj = b + j * bcs;
    for (int64_t i = 0; i < M; i++) {
      const float* ai = a + i * ars;
      vf sv = {};
      int64_t p = 0;
      for (; p + W <= K; p += W) sv += load(ai + p) * load(bj + p);
      float r = 0;
      for (int l = 0; l < W; l++) r += sv[l];
      for (; p < K; p++) r += ai[p] * bj[p];
      float* ci = c + i * crs + j;
      *ci = acc ? *ci + r : r;
    }
  }
}

// One to three rows of C with B rows contiguous (bcs = 1): B streamed row by row in memory order
// (c_i += a_ip · B[p, :]), the rows of C staying in L1: reads the weights once at full bandwidth.
void rowsAxpy(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
              float* c, int64_t crs, bool acc) {
  if (!acc) for (int64_t i = 0; i < M; i++) std::fill(c + i * crs, c + i * crs + N, 0.f);
  const int64_t NW = N - N % W;
  for (int64_t p = 0; p < K; p++) {
    const float* bp = b + p * brs;
    for (int64_t i = 0; i < M; i++) {
      const float x = a[i * ars + p * acs];
      const vf xv = x - (vf){};
      float* ci = c + i * crs;
      for (int64_t j = 0; j < NW; j += W) store(ci + j, load(ci + j) + xv * load(bp + j));
      for (int64_t j = NW; j < N; j++) ci[j] += x * bp[j];
    }
  }
}

thread_local std::vector<float> packBufA, packBufB;

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* a, int64_t ars, int64_t acs, const float* b, int64_t brs,
          int64_t bcs, float* c, int64_t crs, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (int64_t i = 0; i < M; i++) std::fill(c + i * crs, c + i * crs + N, 0.f);
    return;
  }
  // Few rows: packing B would cost as much as the product itself; stream B once instead.
  if (M < 12 && acs == 1 && brs == 1) return dotRows(M, N, K, a, ars, b, bcs, c, crs, accumulate);
  if (M < 4 && bcs == 1) return rowsAxpy(M, N, K, a, ars, acs, b, brs, c, crs, accumulate);
  const int64_t ncMax = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
  const int64_t mcMax = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  if ((int64_t)packBufB.size() < KC * ncMax) packBufB.resize(KC * ncMax);
  if ((int64_t)packBufA.size() < KC * mcMax) packBufA.resize(KC * mcMax);
  float* bp = packBufB.data();
  float* ap = packBufA.data();
  for (int64_t j0 = 0; j0 < N; j0 += NC) {
    const int64_t nc = std::min(NC, N - j0);
    for (int64_t p0 = 0; p0 < K; p0 += KC) {
      const int64_t kc = std::min(KC, K - p0);
      const bool acc = accumulate || p0 > 0;
      packB(b, brs, bcs, p0, kc, j0, nc, bp);
      for (int64_t i0 = 0; i0 < M; i0 += MC) {
        const int64_t mc = std::min(MC, M - i0);
        packA(a, ars, acs, i0, mc, p0, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t cols = std::min<int64_t>(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t rows = std::min<int64_t>(MR, mc - ir);
            micro(kc, ap + ir * kc, bp + jr * kc, c + (i0 + ir) * crs + j0 + jr, crs, rows, cols, acc);
          }
        }
      }
    }
  }
}

// FMA throughput: 16 independent vector chains, `iters` rounds; returns the number of flops done.
double fmaBurn(int64_t iters, float seed) {
  // NOTE: distinct starting values, or the compiler merges identical chains.
  vf a0 = seed - (vf){}, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7;
  vf a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11, a12 = a0 + 12, a13 = a0 + 13, a14 = a0 + 14, a15 = a0 + 15;
  const vf m = 0.999999f - (vf){}, c = 1e-7f - (vf){};
  for (int64_t i = 0; i < iters; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
    a12 = a12 * m + c; a13 = a13 * m + c; a14 = a14 * m + c; a15 = a15 * m + c;
  }
  vf s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
  volatile float sink = s[0];
  (void)sink;
  return 2.0 * 16 * W * (double)iters;
}

// Lazy optimizer updates over one slot [e0, e1) (formulas in src/kernels/optim.ts), in float32 vectors.
// a1 = 1 − β1 and a2 = 1 − β2 come rounded from float64 (1 − 0.999f in float32 is off by 1e-5).
void adamSlot(float* w, const float* g, float* m, float* v, int64_t e0, int64_t e1, float lr, float lam, float b1, float b2,
              float a1, float a2, float eps, float c1, float c2) {
  const vf B1 = b1 - (vf){}, B2 = b2 - (vf){}, A1 = a1 - (vf){}, A2 = a2 - (vf){};
  const vf LR = lr - (vf){}, LAM = lam - (vf){}, EPS = eps - (vf){}, C1 = c1 - (vf){}, C2 = c2 - (vf){};
  int64_t e = e0;
  for (; e + W <= e1; e += W) {
    const vf ge = load(g + e);
    const vf me = B1 * load(m + e) + A1 * ge;
    const vf ve = B2 * load(v + e) + A2 * ge * ge;
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
    const float me = b1 * m[e] + a1 * ge;
    const float ve = b2 * v[e] + a2 * ge * ge;
    m[e] = me;
    v[e] = ve;
    w[e] = w[e] - lr * ((me * c1) / (__builtin_sqrtf(ve * c2) + eps) + lam * w[e]);
  }
}

void sgdSlot(float* w, const float* g, float* v, int64_t e0, int64_t e1, float lr, float lam, float mu) {
  const vf LR = lr - (vf){}, LAM = lam - (vf){}, MU = mu - (vf){};
  int64_t e = e0;
  for (; e + W <= e1; e += W) {
    const vf ve = MU * load(v + e) + load(g + e);
    store(v + e, ve);
    const vf we = load(w + e);
    store(w + e, we - LR * (ve + LAM * we));
  }
  for (; e < e1; e++) {
    const float ve = mu * v[e] + g[e];
    v[e] = ve;
    w[e] = w[e] - lr * (ve + lam * w[e]);
  }
}

extern const Kernels kernels = {gemm, adamSlot, sgdSlot, fmaBurn};
