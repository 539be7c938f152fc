// Argument checks of the addon's Node-API entry points: every typed array, count, stride and flag a function is given
// is read through these, which throw ArgError (a RangeError in JavaScript, through guard) for anything the plain
// TypeScript reference would not accept.
#pragma once
#include <node_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

// Sizes, strides, offsets and counts are at most 2^40 (no typed array is longer), and every bound below is
// computed in 128 bits (`wide`): a product of three such values cannot wrap around, so no check can pass an
// index that lies outside its array.
constexpr int64_t MAX_INDEX = int64_t(1) << 40;
using wide = __int128;

struct ArgError {
  std::string msg;
};

struct F32 {
  float* p;
  int64_t n;
};
struct I32 {
  int32_t* p;
  int64_t n;
};

// A node product's tables are m×s: either one 0 is an empty node, refused as the reference refuses it (before the
// buffer checks, whose "too small" would not say why).
inline void nodesNotEmpty(const char* op, int64_t m, int64_t s) {
  if (m == 0 || s == 0) throw ArgError{std::string(op) + ": the nodes are " + std::to_string(m) + "×" + std::to_string(s) + ": empty"};
}

// The m·s floats of a node's table, refused past 2^40 (no typed array holds more): so that no size, count or divisor
// computed from it wraps around (m = s = 2^32 made m·s 0, a division by zero where the row count N = 0 let every buffer
// check pass).
inline int64_t tableSize(const char* op, int64_t m, int64_t s) {
  if ((wide)m * s > MAX_INDEX) throw ArgError{std::string(op) + ": nodes of " + std::to_string(m) + "×" + std::to_string(s) + " floats, more than any array holds"};
  return m * s;
}
// A node product's table size, its nodes not empty (nodesNotEmpty) and not past any array (tableSize).
inline int64_t nodeSize(const char* op, int64_t m, int64_t s) {
  nodesNotEmpty(op, m, s);
  return tableSize(op, m, s);
}

inline napi_value* argv(napi_env env, napi_callback_info info, size_t want, napi_value* buf) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, buf, nullptr, nullptr);
  if (argc < want) throw ArgError{"expected " + std::to_string(want) + " arguments"};
  return buf;
}

inline double num(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw ArgError{std::string(what) + " must be a number"};
  return d;
}


inline int64_t i64(napi_env env, napi_value v, const char* what) {
  double d = num(env, v, what);
  if (d != std::floor(d) || d < 0 || d > (double)MAX_INDEX) throw ArgError{std::string(what) + " must be an integer in [0, 2^40]"};
  return (int64_t)d;
}

// A flag: true, false, or undefined (false). Anything else is an error: the reference reads JavaScript
// truthiness, so 1 or "no" would mean true there and must not quietly mean false here.
inline bool boolean(napi_env env, napi_value v, const char* what) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_undefined) return false;
  if (type != napi_boolean) throw ArgError{std::string(what) + " must be true or false"};
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

template <typename T, napi_typedarray_type TYPE>
T typed(napi_env env, napi_value v, const char* what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) throw ArgError{std::string(what) + " must be a typed array"};
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
  if (type != TYPE) throw ArgError{std::string(what) + " has the wrong element type"};
  return T{(decltype(T::p))data, (int64_t)length};
}
struct U8 {
  uint8_t* p;
  int64_t n;
};
struct F64 {
  double* p;
  int64_t n;
};
inline F32 f32(napi_env env, napi_value v, const char* what) { return typed<F32, napi_float32_array>(env, v, what); }
inline I32 i32(napi_env env, napi_value v, const char* what) { return typed<I32, napi_int32_array>(env, v, what); }

// An index list the call reads while it writes its outputs: its first n entries, copied out of the typed array before
// they are checked. Read in place, a list sharing memory with an output (two views of one ArrayBuffer: an op's outputs
// must not overlap its inputs, but nothing stops a caller) was changed by the call's own writes after its check, and
// sent later writes past their array; the reference only misplaces writes inside its arrays.
struct Ids {
  std::vector<int32_t> v;
  const int32_t* p = nullptr;
  int64_t n = 0;
  Ids() = default;
  Ids(const I32& a, int64_t count) : v(a.p, a.p + count), p(v.data()), n(count) {}
  Ids(Ids&&) = default;  // a moved vector keeps its buffer, so p stays valid
  Ids& operator=(Ids&&) = default;
  Ids(const Ids&) = delete;
};

// An optional typed-array argument: {nullptr, 0} for null or undefined.
template <typename T, napi_typedarray_type TYPE>
T optional(napi_env env, napi_value v, const char* what) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) return T{nullptr, 0};
  return typed<T, TYPE>(env, v, what);
}

// Largest index of a strided rows × cols view, or -1 if empty.
inline wide extent(int64_t off, int64_t rows, int64_t rs, int64_t cols, int64_t cs) {
  if (rows <= 0 || cols <= 0) return -1;
  return off + (wide)(rows - 1) * rs + (wide)(cols - 1) * cs;
}
inline void within(const F32& a, wide last, const char* what) {
  if (last >= a.n) throw ArgError{std::string(what) + ": a strided index is past the end (" + std::to_string(a.n) + ")"};
}

// Whether a list of ids holds one twice (a sorted copy: O(n log n) in the ids listed, whatever their range).
// Out of line (args.cc): inlined into its callers, its vector set off GCC 12's -Wfree-nonheap-object.
bool repeats(const int32_t* ids, int64_t n);

inline napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <typename F>
napi_value guard(napi_env env, F&& f) {
  try {
    return f();
  } catch (const ArgError& e) {
    napi_throw_range_error(env, nullptr, ("treegate native: " + e.msg).c_str());
    return nullptr;
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, ("treegate native: " + std::string(e.what())).c_str());
    return nullptr;
  }
}

// A float array of at least `need` elements.
inline F32 checked(napi_env env, napi_value v, const char* what, wide need) {
  F32 a = f32(env, v, what);
  if (need > a.n) {
    const std::string n = need > INT64_MAX ? std::string("more than 2^63") : std::to_string((int64_t)need);
    throw ArgError{std::string(what) + ": needs " + n + " elements, has " + std::to_string(a.n)};
  }
  return a;
}

}  // namespace tg
