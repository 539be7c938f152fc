// The argument helpers of args.h that are not inline.
#include "args.h"

#include <algorithm>
#include <vector>

namespace tg {

bool repeats(const int32_t* ids, int64_t n) {
  std::vector<int32_t> v(ids, ids + n);
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

}  // namespace tg
