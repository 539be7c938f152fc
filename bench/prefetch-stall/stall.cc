// Can a node's arithmetic hide another node's weight reads? One 128×512×512 product with its operands in cache
// (the forward kernel of native/kernels_impl.h, in 16 column panels of 32), and between its panels a cold region
// of R MB is touched piece by piece in one of four ways; afterwards the region is read in full with vector loads.
// Prints, per way, the product's time (what the touching cost the arithmetic) and the later read's time (what it
// saved). Medians of 40 rounds, each on a different region of a 512 MB pool; one thread. Run by run.sh.
//   modes: none; prefetch every line (prefetcht1, 64 per 4 KB page); prefetch a page's first two lines;
//   load a page's first two lines (both of the last start the hardware prefetcher on the page)
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
#define TG_W 16
namespace k {
#include "impl.h"  // native/kernels_impl.h without its Kernels table (run.sh)
}
using namespace k;

int main(int argc, char** argv) {
  const int64_t m = 512, s = 512, ms = m * s, rows = 128;
  std::vector<float> pool((size_t)512 * ms, 1e-3f), x(rows * s, 0.5f), y(rows * m), w(ms, 1e-3f);
  const int64_t poolFloats = (int64_t)pool.size();
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  const char* names[] = {"none", "prefetch every line", "prefetch 2 lines / page", "load 2 lines / page"};
  volatile float sink = 0;
  int64_t off = 0;
  for (int a = 1; a < argc; a++) {
    const int64_t region = std::atoll(argv[a]) << 20, pages = region / 4096;
    std::printf("# region %lld MB\n", (long long)(region >> 20));
    double base = 0, baseRead = 0;
    for (int mode = 0; mode < 4; mode++) {
      std::vector<double> tp, tr;
      for (int round = 0; round < 40; round++) {
        off = (off + 37 * ms + 4096) % (poolFloats - region / 4 - 1024);
        off -= off % 1024;
        const char* reg = reinterpret_cast<const char*>(pool.data() + off);
        const double t0 = now();
        for (int j = 0; j < 16; j++) {
          gemm(rows, 32, s, x.data(), s, 1, w.data() + j * 32 * s, 1, s, y.data() + j * 32, m, true);
          for (int64_t pg = pages * j / 16; pg < pages * (j + 1) / 16; pg++) {
            const char* p = reg + pg * 4096;
            if (mode == 1) for (int l = 0; l < 64; l++) __builtin_prefetch(p + l * 64, 0, 2);
            if (mode == 2) { __builtin_prefetch(p, 0, 2); __builtin_prefetch(p + 64, 0, 2); }
            if (mode == 3) sink = sink + *reinterpret_cast<const float*>(p) + *reinterpret_cast<const float*>(p + 64);
          }
        }
        const double t1 = now();
        __m512 acc = _mm512_setzero_ps();
        for (int64_t i = 0; i < region / 4; i += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(reinterpret_cast<const float*>(reg) + i));
        sink = sink + _mm512_reduce_add_ps(acc);
        tp.push_back(t1 - t0);
        tr.push_back(now() - t1);
      }
      std::sort(tp.begin(), tp.end());
      std::sort(tr.begin(), tr.end());
      const double p = tp[20], r = tr[20];
      if (mode == 0) { base = p; baseRead = r; }
      std::printf("%-24s product %7.1f us (%+6.1f)   later read %7.1f us (%+6.1f), %5.1f GB/s\n", names[mode], p * 1e6,
                  (p - base) * 1e6, r * 1e6, (r - baseRead) * 1e6, region / r / 1e9);
    }
  }
}
