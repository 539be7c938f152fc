#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>
#define TG_W 16
namespace tg { namespace avx512 {
#include "kernels_impl.h"
} }
