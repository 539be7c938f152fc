#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.h"
#define TG_W 4
namespace tg { namespace generic {
#include "kernels_impl.h"
} }
