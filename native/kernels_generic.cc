#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>
#define TG_W 4
namespace tg { namespace generic {
#include "kernels_impl.h"
} }
