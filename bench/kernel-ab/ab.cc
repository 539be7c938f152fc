// A/B of two versions of native/kernels_impl.h in one process (AVX-512, or AVX2): a node's product, 512×512, in
// the form given (0 NT forward, 1 NN input gradient, 2 TN weight gradient, 3 NT over the panels that each version's
// packPanels lays out: collapsed inference), for a table of row counts, the weights
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
using tg::kPackedRowsTN;
// revisions before the fifteenth session read the NT form's threshold from kernels.h, which no longer has it
namespace tg { constexpr int64_t kChainRowsNT = 9; }
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
  if (argc < 3) { std::fprintf(stderr, "usage: ab FORM(0|1|2|3) mem|cache [rows...]\n"); return 2; }
  const int form = std::atoi(argv[1]);
  const bool mem = argv[2][0] == 'm';
  std::vector<int64_t> rows;
  for (int i = 3; i < argc; i++) rows.push_back(std::atoll(argv[i]));
  if (rows.empty()) rows = {1, 8, 12, 16, 20, 24, 32, 40, 48, 64, 128, 256};
  const int nodes = mem ? 256 : 1;
  // the weights and panels start on a cache line, as the native backend's floats() lays out a layer's tables
  struct Lined {
    std::vector<float> store;
    float* p;
    Lined(size_t n, float v) : store(n + 16, v), p(store.data() + (16 - reinterpret_cast<uintptr_t>(store.data()) % 64 / 4) % 16) {}
    float* data() const { return p; }
  };
  Lined pool((size_t)nodes * ms, 1e-3f);
  std::vector<float> x(256 * s, 0.5f), y(256 * m, 0.25f);
  // form 3: each version's panels of every node (the packed layout may differ between versions)
  const int64_t pa = form == 3 ? (m + va::NR - 1) / va::NR * va::NR * s : 0, pb = form == 3 ? (m + vb::NR - 1) / vb::NR * vb::NR * s : 0;
  Lined panelsA((size_t)nodes * pa, 0.f), panelsB((size_t)nodes * pb, 0.f);
  for (int t = 0; form == 3 && t < nodes; t++) {
    va::packPanels(m, s, pool.data() + (size_t)t * ms, panelsA.data() + (size_t)t * pa);
    vb::packPanels(m, s, pool.data() + (size_t)t * ms, panelsB.data() + (size_t)t * pb);
  }
  unsigned next = 0;
  auto call = [&](int v, int64_t r) {
    const size_t node = (next++ * 7919u) % nodes;
    float* w = pool.data() + node * ms;
    const Gemm g = v == 0 ? (Gemm)va::gemm : (Gemm)vb::gemm;
    if (form == 0) g(r, m, s, x.data(), s, 1, w, 1, s, y.data(), m, true);
    else if (form == 1) g(r, s, m, y.data(), m, 1, w, s, 1, x.data(), s, true);
    else if (form == 2) g(m, s, r, y.data(), 1, m, x.data(), s, 1, w, s, true);
    else if (v == 0) va::packedRows(r, m, s, x.data(), s, panelsA.data() + node * pa, y.data(), m, true);
    else vb::packedRows(r, m, s, x.data(), s, panelsB.data() + node * pb, y.data(), m, true);
  };
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  for (int64_t r : rows) {
    std::vector<double> t[2];
    for (int round = 0; round < 40; round++)
      for (int v = 0; v < 2; v++) {
        const int reps = (int)std::max<int64_t>(3, 2000 / r);
        const double t0 = now();
        for (int i = 0; i < reps; i++) call(v, r);
        t[v].push_back((now() - t0) / reps);
      }
    for (auto& v : t) std::sort(v.begin(), v.end());
    const double a = t[0][t[0].size() / 2], b = t[1][t[1].size() / 2];
    std::printf("%s %s rows %3lld: first %8.1f us, second %8.1f us, first/second %.3f\n", form == 0 ? "NT" : form == 1 ? "NN" : form == 2 ? "TN" : "NTP",
                mem ? "memory" : "cache", (long long)r, a * 1e6, b * 1e6, a / b);
  }
}
