#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.h"
#define TG_W 8
namespace tg { namespace avx2 {
#include "kernels_impl.h"
} }
