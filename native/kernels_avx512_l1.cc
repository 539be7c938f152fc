#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

// The AVX-512 kernels with the few-row products prefetching into L1 instead of L2 (the Zen 5's choice: "Prefetch
// hints" in kernels_impl.h).
#include "kernels.h"
#define TG_W 16
#define TG_FEW_ROWS_LOCALITY 3
namespace tg { namespace avx512l1 {
#include "kernels_impl.h"
} }
