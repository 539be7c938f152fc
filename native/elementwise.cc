// The addon's elementwise, row and reduction ops of training (src/kernels/elementwise.ts), and the path sums of the
// tree layer's collapsed nodes (addPaths).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "addon.h"

namespace tg {

// Runs f(e0, e1) over the elements [0, n), split between the threads at multiples of 16 from kParallelGather
// elements on: an elementwise pass over arrays in memory (a path sum's table, a collapsed node's gradient), which
// both cores read faster than one.
template <typename F>
void byElements(int64_t n, F&& f) {
  const int nt = n < kParallelGather ? 1 : threads;
  if (nt <= 1) return f(0, n);
  pool->run(nt, [&](int t) { f(n * t / nt / 16 * 16, t + 1 == nt ? n : n * (t + 1) / nt / 16 * 16); }, (double)n / kParallelGather);
}

// addRowVector(y, rows, cols, v): y[i, :] += v
napi_value AddRowVector(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 y = checked(env, v[0], "y", (wide)rows * cols), b = checked(env, v[3], "v", cols);
    // elements [i0, i1) of y, row by row (the path sums add a child's weight gradient, one row of a node's table)
    auto add = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1;) {
        const int64_t r = i / cols, j0 = i - r * cols, j1 = std::min(cols, j0 + (i1 - i));
        isa->addInto(y.p + r * cols + j0, b.p + j0, j1 - j0, false);
        i += j1 - j0;
      }
    };
    byElements(rows * cols, add);
    return undefined(env);
  });
}

// addArrays(a, b, out, count): out = a + b
napi_value AddArrays(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t n = i64(env, v[3], "count");
    F32 a = checked(env, v[0], "a", n), b = checked(env, v[1], "b", n), o = checked(env, v[2], "out", n);
    // out may be a or b (in place): each element is read before it is written either way
    auto add = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) o.p[i] = a.p[i] + b.p[i];
    };
    byElements(n, add);
    return undefined(env);
  });
}

// Table size (floats) from which addPaths writes its sums with non-temporal stores: a path sum's table (512×512:
// 2^18), which the next tables' reads would push out of the caches before it is read.
constexpr int64_t kStreamTables = 1 << 18;
// Floats of scratch a thread of addPaths keeps its blocks of the entries' sums in (the live ones: the blocks of the
// tables read from memory go through L2 beside it): 192 KB.
constexpr int64_t kPathScratch = 49152;
static thread_local std::vector<float> pathScratch;

// addPaths(w, size, node, parent, outAt, count, out): the sums of tables along tree paths (src/kernels/paths.ts),
// a block of columns at a time (isa->addPathsCols), the columns split between threads.
napi_value AddPaths(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[7];
    argv(env, info, 7, v);
    const int64_t size = i64(env, v[1], "size"), count = i64(env, v[5], "count");
    const I32 nodeIn = i32(env, v[2], "node"), parentIn = i32(env, v[3], "parent"), outAtIn = i32(env, v[4], "outAt");
    if (nodeIn.n < count || parentIn.n < count || outAtIn.n < count) throw ArgError{"node, parent and outAt need count entries"};
    const F32 w = f32(env, v[0], "w"), out = f32(env, v[6], "out");
    // copies, checked: the kernels must read what was checked, even where an index array shares memory with out
    const std::vector<int32_t> nodeV(nodeIn.p, nodeIn.p + count), parentV(parentIn.p, parentIn.p + count),
        outAtV(outAtIn.p, outAtIn.p + count);
    const I32 node{const_cast<int32_t*>(nodeV.data()), count}, parent{const_cast<int32_t*>(parentV.data()), count},
        outAt{const_cast<int32_t*>(outAtV.data()), count};
    for (int64_t e = 0; e < count; e++) {
      if (node.p[e] < 0 || ((wide)node.p[e] + 1) * size > w.n) throw ArgError{"node[" + std::to_string(e) + "] is out of range"};
      if (parent.p[e] >= e) throw ArgError{"parent[" + std::to_string(e) + "] must come before its child"};
      const int32_t o = outAt.p[e];
      if (o >= 0 && ((wide)o + 1) * size > out.n) throw ArgError{"outAt[" + std::to_string(e) + "] is out of range"};
    }
    {
      std::vector<int32_t> outs;
      for (int64_t e = 0; e < count; e++) if (outAt.p[e] >= 0) outs.push_back(outAt.p[e]);
      if (repeats(outs.data(), (int64_t)outs.size())) throw ArgError{"outAt repeats a table"};
    }
    if (size > 0 && out.p < w.p + w.n && w.p < out.p + out.n) throw ArgError{"out overlaps w"};
    if (size == 0 || count == 0) return undefined(env);
    // scratch slots: an entry with children holds one from its sum until its last child is added (which may reuse it)
    std::vector<int64_t> last(count, -1);
    for (int64_t e = 0; e < count; e++) if (parent.p[e] >= 0) last[parent.p[e]] = e;
    std::vector<int32_t> slot(count, -1), freed;
    int32_t slots = 0;
    for (int64_t e = 0; e < count; e++) {
      const int32_t p = parent.p[e];
      if (p >= 0 && last[p] == e) freed.push_back(slot[p]);
      if (last[e] < 0) continue;
      if (freed.empty()) slot[e] = slots++;
      else {
        slot[e] = freed.back();
        freed.pop_back();
      }
    }
    const int64_t block = std::max<int64_t>(1024, std::min<int64_t>(16384, kPathScratch / std::max<int32_t>(1, slots)) / 64 * 64);
    const bool stream = size >= kStreamTables;
    auto cols = [&](int64_t c0, int64_t c1) {
      if (c1 <= c0) return;
      pathScratch.resize((size_t)std::max<int32_t>(1, slots) * block);
      isa->addPathsCols(w.p, size, node.p, parent.p, slot.data(), outAt.p, count, out.p, c0, c1, pathScratch.data(), block, stream);
    };
    const int64_t work = size * count, nt = work < kParallelGather ? 1 : threads;
    if (nt <= 1) cols(0, size);
    else pool->run(nt, [&](int t) { cols(size * t / nt / 64 * 64, t + 1 == nt ? size : size * (t + 1) / nt / 64 * 64); }, (double)work / kParallelGather);
    return undefined(env);
  });
}

// addColumnSums(x, rows, cols, out): out[j] += Σ_i x[i, j]
napi_value AddColumnSums(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 x = checked(env, v[0], "x", (wide)rows * cols), o = checked(env, v[3], "out", cols);
    columnSums(x.p, rows, cols, o.p);
    return undefined(env);
  });
}

// rowDots(a, b, rows, cols, out, accumulate): out[r] (+)= Σ_j a[r, j]·b[r, j], summed in double in the order of j
// (as the reference), four rows at a time so that their sums' adds overlap.
napi_value RowDots(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[6];
    argv(env, info, 6, v);
    const int64_t rows = i64(env, v[2], "rows"), cols = i64(env, v[3], "cols");
    F32 a = checked(env, v[0], "a", (wide)rows * cols), b = checked(env, v[1], "b", (wide)rows * cols), o = checked(env, v[4], "out", rows);
    const bool acc = boolean(env, v[5], "accumulate");
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      double s[4];
      for (int q = 0; q < 4; q++) s[q] = acc ? o.p[r + q] : 0.0;
      const float *a0 = a.p + r * cols, *b0 = b.p + r * cols;
      for (int64_t j = 0; j < cols; j++)
        for (int q = 0; q < 4; q++) s[q] += (double)a0[q * cols + j] * (double)b0[q * cols + j];
      for (int q = 0; q < 4; q++) o.p[r + q] = (float)s[q];
    }
    for (; r < rows; r++) {
      double s = acc ? o.p[r] : 0.0;
      for (int64_t j = 0; j < cols; j++) s += (double)a.p[r * cols + j] * (double)b.p[r * cols + j];
      o.p[r] = (float)s;
    }
    return undefined(env);
  });
}

// scaleRows(x, rows, cols, scale, y): y[r, :] = scale[r]·x[r, :] (y may be x)
napi_value ScaleRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[5];
    argv(env, info, 5, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 x = checked(env, v[0], "x", (wide)rows * cols), g = checked(env, v[3], "scale", rows), y = checked(env, v[4], "y", (wide)rows * cols);
    for (int64_t r = 0; r < rows; r++) {
      const float s = g.p[r];
      for (int64_t j = 0; j < cols; j++) y.p[r * cols + j] = s * x.p[r * cols + j];
    }
    return undefined(env);
  });
}

// unary(kind, x, y, count) forward: 0 relu, 1 tanh; binary(kind, y, dy, dx, count) backward from the output y
napi_value Unary(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const int64_t kind = i64(env, v[0], "kind"), n = i64(env, v[3], "count");
    F32 x = checked(env, v[1], "x", n), y = checked(env, v[2], "y", n);
    // relu lets NaN through (x < 0 ? 0 : x), as the reference does, so that training sees it in the loss
    if (kind == 0) for (int64_t i = 0; i < n; i++) y.p[i] = x.p[i] < 0 ? 0.f : x.p[i];
    else for (int64_t i = 0; i < n; i++) y.p[i] = std::tanh(x.p[i]);
    return undefined(env);
  });
}

napi_value UnaryBackward(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[5];
    argv(env, info, 5, v);
    const int64_t kind = i64(env, v[0], "kind"), n = i64(env, v[4], "count");
    F32 y = checked(env, v[1], "y", n), dy = checked(env, v[2], "dy", n), dx = checked(env, v[3], "dx", n);
    // dy read whatever y is, so that the select vectorizes: a load under the condition stayed a branch, mispredicted
    // on random signs (33× slower at 65 536 floats)
    if (kind == 0) for (int64_t i = 0; i < n; i++) {
      const float d = dy.p[i];
      dx.p[i] = y.p[i] > 0 ? d : 0.f;
    }
    // in double, as the reference: in float, 1 − y² loses most of its digits where tanh saturates (|y| near 1)
    else for (int64_t i = 0; i < n; i++) dx.p[i] = (float)((double)dy.p[i] * (1.0 - (double)y.p[i] * (double)y.p[i]));
    return undefined(env);
  });
}

// softmaxCrossEntropy(logits, rows, cols, labels, dlogits | null, out: Float64Array(2) = [mean loss, correct])
napi_value SoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[6];
    argv(env, info, 6, v);
    const int64_t rows = i64(env, v[1], "rows"), cols = i64(env, v[2], "cols");
    F32 z = checked(env, v[0], "logits", (wide)rows * cols);
    const I32 labelsIn = i32(env, v[3], "labels");
    if (labelsIn.n < rows) throw ArgError{"labels: fewer than rows"};
    const Ids labels(labelsIn, rows);
    napi_valuetype t;
    napi_typeof(env, v[4], &t);
    F32 dz = t == napi_null ? F32{nullptr, 0} : checked(env, v[4], "dlogits", (wide)rows * cols);
    bool is = false;
    napi_is_typedarray(env, v[5], &is);
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    if (is) napi_get_typedarray_info(env, v[5], &type, &len, &data, nullptr, nullptr);
    if (!is || type != napi_float64_array || len < 2) throw ArgError{"out must be a Float64Array of 2"};
    double loss = 0, correct = 0;
    for (int64_t r = 0; r < rows; r++) {
      const float* zr = z.p + r * cols;
      const int32_t y = labels.p[r];
      if (y < 0 || y >= cols) throw ArgError{"label out of range"};
      double mx = -INFINITY;
      int64_t arg = 0;
      for (int64_t j = 0; j < cols; j++) if (zr[j] > mx) { mx = zr[j]; arg = j; }
      double sum = 0;
      for (int64_t j = 0; j < cols; j++) sum += std::exp(zr[j] - mx);
      loss += std::log(sum) - (zr[y] - mx);
      if (arg == y) correct++;
      if (dz.p)
        for (int64_t j = 0; j < cols; j++) dz.p[r * cols + j] = (float)((std::exp(zr[j] - mx) / sum - (j == y ? 1 : 0)) / rows);
    }
    ((double*)data)[0] = rows > 0 ? loss / rows : 0;
    ((double*)data)[1] = correct;
    return undefined(env);
  });
}

// gatherRows(src, srcStride, srcOffset, idx, count, cols, dst): dst[i, :] = src[idx[i]*stride + offset + :]
napi_value GatherRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[7];
    argv(env, info, 7, v);
    const int64_t stride = i64(env, v[1], "srcStride"), off = i64(env, v[2], "srcOffset"), count = i64(env, v[4], "count"),
                  cols = i64(env, v[5], "cols");
    F32 src = f32(env, v[0], "src"), dst = checked(env, v[6], "dst", (wide)count * cols);
    const I32 idxIn = i32(env, v[3], "idx");
    if (idxIn.n < count) throw ArgError{"idx shorter than count"};
    if (cols == 0) return undefined(env);  // nothing to copy (and an empty array's memory may be null)
    const Ids idx(idxIn, count);
    for (int64_t i = 0; i < count; i++)
      if (idx.p[i] < 0 || (wide)idx.p[i] * stride + off + cols > src.n) throw ArgError{"gather index out of range"};
    auto rows = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) std::memcpy(dst.p + i * cols, src.p + idx.p[i] * stride + off, cols * sizeof(float));
    };
    // Every destination row has one writer, so large gathers split across the threads (256×512 floats in a
    // forward pass: 0.08 ms on one thread in the layer, 0.03 ms on two; the layer's forward 4–7% faster at k = 1).
    const int nt = count * cols < kParallelGather ? 1 : threads;
    if (nt <= 1) rows(0, count);
    else pool->run(nt, [&](int t) { rows(count * t / nt, count * (t + 1) / nt); }, (double)(count * cols) / kParallelGather);
    return undefined(env);
  });
}

// scatterRows(src, cols, idx, count, dst, dstStride, dstOffset, accumulate): dst[idx[i]*stride + offset + :] (+)= src[i, :]
napi_value ScatterRows(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[8];
    argv(env, info, 8, v);
    const int64_t cols = i64(env, v[1], "cols"), count = i64(env, v[3], "count"), stride = i64(env, v[5], "dstStride"),
                  off = i64(env, v[6], "dstOffset");
    const bool acc = boolean(env, v[7], "accumulate");
    F32 src = checked(env, v[0], "src", (wide)count * cols), dst = f32(env, v[4], "dst");
    const I32 idxIn = i32(env, v[2], "idx");
    if (idxIn.n < count) throw ArgError{"idx shorter than count"};
    if (cols == 0) return undefined(env);  // nothing to copy (and an empty array's memory may be null)
    const Ids idx(idxIn, count);
    for (int64_t i = 0; i < count; i++)
      if (idx.p[i] < 0 || (wide)idx.p[i] * stride + off + cols > dst.n) throw ArgError{"scatter index out of range"};
    for (int64_t i = 0; i < count; i++) {
      float* d = dst.p + idx.p[i] * stride + off;
      const float* s = src.p + i * cols;
      if (acc) for (int64_t j = 0; j < cols; j++) d[j] += s[j];
      else std::memcpy(d, s, cols * sizeof(float));
    }
    return undefined(env);
  });
}

}  // namespace tg
