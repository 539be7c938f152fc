// A/B of two versions of native/kernels_impl.h in one process (AVX-512): a node's product, 512×512, in the
// form given (0 NT forward, 1 NN input gradient, 2 TN weight gradient), for a table of row counts, the weights
// read from memory (a different node of a 256 MB pool each call) or from cache (the same node). Each of 40
// rounds times both versions back to back; the medians are compared. Built and run by run.sh, which also
// swaps the two versions' order (the first in a round measured up to ±15% apart from the second on this VM).
// One node on one thread: confirm a win with bench/addon-ab (both threads, the layer's routings) before keeping it.
// The buffers are std::vectors, which glibc places 16 bytes past a cache line at these sizes, as Node places most
// Float32Arrays (the addon's operands): the kernels see the alignment they get in the layer.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>
#include <immintrin.h>
// the thresholds kernels_impl.h reads from native/kernels.h (the addon includes it inside namespace tg)
#include "kernels.h"
using tg::kChainRowsNN;
using tg::kChainRowsNT;
#ifndef TG_W  // run.sh sets it: 16 for the AVX-512 kernels, 8 for the AVX2 ones
#define TG_W 16
#endif
namespace va {
#include VA
}
namespace vb {
#include VB
}

typedef void (*Gemm)(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t, float*,
                     int64_t, bool);
const int64_t m = 512, s = 512, ms = m * s;

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: ab FORM(0|1|2) mem|cache [rows...]\n"); return 2; }
  const int form = std::atoi(argv[1]);
  const bool mem = argv[2][0] == 'm';
  std::vector<int64_t> rows;
  for (int i = 3; i < argc; i++) rows.push_back(std::atoll(argv[i]));
  if (rows.empty()) rows = {1, 8, 12, 16, 20, 24, 32, 40, 48, 64, 128, 256};
  const int nodes = mem ? 256 : 1;
  std::vector<float> pool((size_t)nodes * ms, 1e-3f), x(256 * s, 0.5f), y(256 * m, 0.25f);
  unsigned next = 0;
  auto call = [&](Gemm g, int64_t r) {
    float* w = pool.data() + (size_t)((next++ * 7919u) % nodes) * ms;
    if (form == 0) g(r, m, s, x.data(), s, 1, w, 1, s, y.data(), m, true);
    else if (form == 1) g(r, s, m, y.data(), m, 1, w, s, 1, x.data(), s, true);
    else g(m, s, r, y.data(), 1, m, x.data(), s, 1, w, s, true);
  };
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  for (int64_t r : rows) {
    std::vector<double> t[2];
    for (int round = 0; round < 40; round++)
      for (int v = 0; v < 2; v++) {
        const Gemm g = v == 0 ? (Gemm)va::gemm : (Gemm)vb::gemm;
        const int reps = (int)std::max<int64_t>(3, 2000 / r);
        const double t0 = now();
        for (int i = 0; i < reps; i++) call(g, r);
        t[v].push_back((now() - t0) / reps);
      }
    for (auto& v : t) std::sort(v.begin(), v.end());
    const double a = t[0][t[0].size() / 2], b = t[1][t[1].size() / 2];
    std::printf("%s %s rows %3lld: first %8.1f us, second %8.1f us, first/second %.3f\n", form == 0 ? "NT" : form == 1 ? "NN" : "TN",
                mem ? "memory" : "cache", (long long)r, a * 1e6, b * 1e6, a / b);
  }
}
