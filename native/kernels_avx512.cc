#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.h"
#define TG_W 16
namespace tg { namespace avx512 {
#include "kernels_impl.h"
} }
