// Node-API entry points of the native backend. Each function checks that every
// index it will touch lies inside the typed arrays it was given, then runs the
// kernel on the arrays' own memory (no copies). The plain TypeScript kernels in
// src/kernels/ are the specification (see test/kernels/native.test.ts).
// This file: loading (the instruction set, the thread pool), the entry points' registration, and the machine
// figures and thread controls the benchmarks and tests use. The kernels' entry points are in products.cc,
// weights.cc and elementwise.cc (their declarations: addon.h).
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "addon.h"

namespace tg {

const Kernels* isa = &generic::kernels;
std::unique_ptr<Pool> pool;
int threads = 1;

namespace {

const char* isaName = "generic";
const char* prefetchName = "l2";  // where the few-row products prefetch a node's weights

// An AMD processor of family 26 (Zen 5), from CPUID: the vendor of leaf 0, the family of leaf 1 (base plus extended).
bool amdFamily26() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163) return false;  // AuthenticAMD
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return ((a >> 8) & 0xf) + ((a >> 20) & 0xff) == 26;
#else
  return false;
#endif
}

// The widest instruction set the CPU has; TREEGATE_NATIVE_ISA=avx2 or generic picks a narrower one (the tests
// check every compiled variant against the reference on machines that have the wider one).
void selectIsa() {
  __builtin_cpu_init();
  const char* want = std::getenv("TREEGATE_NATIVE_ISA");
  const std::string w = want ? want : "";
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  if (w == "generic") return;
  if (avx512 && w != "avx2") {
    // the few-row products prefetch into L1 on a Zen 5 and into L2 elsewhere ("Prefetch hints" in kernels_impl.h);
    // TREEGATE_NATIVE_PREFETCH=l1 or l2 picks one (the tests check both against the reference)
    const char* pf = std::getenv("TREEGATE_NATIVE_PREFETCH");
    const std::string p = pf ? pf : "";
    const bool l1 = p == "l1" || (p != "l2" && amdFamily26());
    isa = l1 ? &avx512l1::kernels : &avx512::kernels;
    isaName = "avx512";
    prefetchName = l1 ? "l1" : "l2";
  } else if (avx2) {
    isa = &avx2::kernels;
    isaName = "avx2";
  }
}

// ---- machine figures for the benchmarks ------------------------------------

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// machine(): { isa, threads, peakGflops1, peakGflopsAll, readGBs1, readGBsAll } measured in ~0.3 s.
napi_value Machine(napi_env env, napi_callback_info) {
  return guard(env, [&] {
    auto peak = [](int nt) {
      std::atomic<double> total{0};
      pool->runTogether(nt, [&](int t) {
        double flops = 0;
        const double t0 = seconds();
        while (seconds() - t0 < 0.1) flops += isa->fmaBurn(200000, 1.0f + t);
        const double rate = flops / (seconds() - t0) / 1e9;
        double prev = total.load();
        while (!total.compare_exchange_weak(prev, prev + rate)) {}
      });
      return total.load();
    };
    // Read bandwidth of nt threads together: each reads its share of a buffer far past the caches, all at once;
    // the figure is the bytes over the wall time from the first thread's start to the last one's end (best of
    // three). Summing each thread's own rate instead overstated two threads by up to 1.5–2× on this VM, where
    // the threads' reads often do not overlap in time.
    auto bandwidth = [](int nt) {
      const int64_t n = 64 << 20;  // 256 MB of floats
      std::vector<float> buf(n, 1.0f);
      double best = 0;
      for (int rep = 0; rep < 3; rep++) {
        const double t0 = seconds();
        pool->runTogether(nt, [&](int t) {
          const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
          volatile double sink = isa->readSum(buf.data() + lo, hi - lo);
          (void)sink;
        });
        best = std::max(best, n * 4.0 / (seconds() - t0) / 1e9);
      }
      return best;
    };
    napi_value o, x;
    napi_create_object(env, &o);
    napi_create_string_utf8(env, isaName, NAPI_AUTO_LENGTH, &x);
    napi_set_named_property(env, o, "isa", x);
    napi_create_string_utf8(env, prefetchName, NAPI_AUTO_LENGTH, &x);
    napi_set_named_property(env, o, "prefetch", x);
    napi_create_int32(env, pool->size(), &x);
    napi_set_named_property(env, o, "threads", x);
    napi_create_double(env, peak(1), &x);
    napi_set_named_property(env, o, "peakGflops1", x);
    napi_create_double(env, peak(pool->size()), &x);
    napi_set_named_property(env, o, "peakGflopsAll", x);
    napi_create_double(env, bandwidth(1), &x);
    napi_set_named_property(env, o, "readGBs1", x);
    napi_create_double(env, bandwidth(pool->size()), &x);
    napi_set_named_property(env, o, "readGBsAll", x);
    return o;
  });
}

// readProbe(buf, offset, count, threads): the sum of buf[offset, offset + count), read by `threads` threads of the
// pool (at most all of them) in contiguous shares at once. Benchmarks time it for the read rate of memory at that
// moment (bench/tree.ts); the sum keeps the reads from being left out.
napi_value ReadProbe(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[4];
    argv(env, info, 4, v);
    const F32 buf = f32(env, v[0], "buf");
    const int64_t off = i64(env, v[1], "offset"), count = i64(env, v[2], "count"), want = i64(env, v[3], "threads");
    if (off + count > buf.n) throw ArgError{"readProbe: offset + count is past the end of buf"};
    if (want < 1) throw ArgError{"readProbe: threads must be at least 1"};
    const int nt = (int)std::min<int64_t>(want, pool->size());
    std::vector<double> part(nt, 0.0);
    pool->runTogether(nt, [&](int t) {
      const int64_t lo = count * t / nt, hi = count * (t + 1) / nt;
      part[t] = isa->readSum(buf.p + off + lo, hi - lo);
    });
    double sum = 0;
    for (double x : part) sum += x;
    napi_value r;
    napi_create_double(env, sum, &r);
    return r;
  });
}

// lineOffset(buffer): the bytes from the start of an ArrayBuffer to the first cache line (64 bytes) in it. The native
// backend's floats() views its arrays from there (src/kernels/native/index.ts): a node's table then starts on a line,
// and no vector load of it splits two lines. (Node's own arrays start 16 bytes past one.)
napi_value LineOffset(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[1];
    argv(env, info, 1, v);
    bool isBuffer = false;
    napi_is_arraybuffer(env, v[0], &isBuffer);
    if (!isBuffer) throw ArgError{"lineOffset: expected an ArrayBuffer"};
    void* data = nullptr;
    size_t length = 0;
    napi_get_arraybuffer_info(env, v[0], &data, &length);
    napi_value r;
    napi_create_int32(env, (int32_t)((64 - reinterpret_cast<uintptr_t>(data) % 64) % 64), &r);
    return r;
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[1];
    argv(env, info, 1, v);
    const int64_t n = i64(env, v[0], "threads");
    threads = (int)std::max<int64_t>(1, std::min<int64_t>(n, pool->size()));
    napi_value r;
    napi_create_int32(env, threads, &r);
    return r;
  });
}

// parallelStress(calls, work, lateMicros): `calls` runs of one task per thread back to back, each of the given
// work (in units of the threshold for threads: below Pool::kWakeSize a run that finds a worker asleep stays on this
// thread); with lateMicros > 0 the caller's task spins 100 µs and the others lateMicros, so that a worker runs a task
// that outlasts the caller's polling, and the caller blocks until that worker's notify. Returns the number of tasks run, which must be calls × threads whoever ran them.
napi_value ParallelStress(napi_env env, napi_callback_info info) {
  return guard(env, [&] {
    napi_value v[3];
    argv(env, info, 3, v);
    const int64_t calls = i64(env, v[0], "calls");
    const double work = num(env, v[1], "work");
    const int64_t late = i64(env, v[2], "lateMicros");
    if (late < 0 || late > 1000000) throw ArgError{"lateMicros must be in [0, 1000000]"};
    std::atomic<int64_t> count{0};
    for (int64_t i = 0; i < calls; i++) {
      pool->run(pool->size(), [&](int t) {
        // the caller's task takes 100 µs, time for a woken worker to claim its own before the caller would steal it
        const int64_t spin = late == 0 ? 0 : t == 0 ? 100 : late;
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin);
        while (std::chrono::steady_clock::now() < until) {}
        count++;
      }, work);
    }
    napi_value r;
    napi_create_double(env, (double)count.load(), &r);
    return r;
  });
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, x;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, isaName, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, o, "isa", x);
  napi_create_string_utf8(env, prefetchName, NAPI_AUTO_LENGTH, &x);
  napi_set_named_property(env, o, "prefetch", x);
  napi_create_int32(env, pool->size(), &x);
  napi_set_named_property(env, o, "maxThreads", x);
  napi_create_int32(env, threads, &x);
  napi_set_named_property(env, o, "threads", x);
  napi_create_int32(env, (int32_t)isa->nr, &x);
  napi_set_named_property(env, o, "panel", x);
  napi_create_int32(env, (int32_t)isa->chainRowsNT, &x);
  napi_set_named_property(env, o, "chainRowsNT", x);
  return o;
}

napi_value Init(napi_env env, napi_value exports) {
  // Once per process: each worker_thread that loads the addon runs Init again, and must neither make a second pool
  // (two loading at once both found none) nor set back the thread count a setThreads chose.
  static std::once_flag once;
  std::call_once(once, [] {
    selectIsa();
    // a thread per online CPU; TREEGATE_NATIVE_THREADS=n (1–64, checked by the loader in JS) sizes the pool at n
    // whatever the CPUs, so that a machine of few cores can check how the kernels split work among more threads
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    if (const char* want = std::getenv("TREEGATE_NATIVE_THREADS"); want && *want) hw = (unsigned)std::max(1, std::atoi(want));
    pool = std::make_unique<Pool>((int)std::min(hw, 64u) - 1);
    threads = pool->size();
  });
  napi_property_descriptor d[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedForward", nullptr, GroupedForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"routedForward", nullptr, RoutedForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"packNodes", nullptr, PackNodes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardInput", nullptr, GroupedBackwardInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardWeight", nullptr, GroupedBackwardWeight, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupedBackwardWeightStep", nullptr, GroupedBackwardWeightStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pathWeightStep", nullptr, PathWeightStep, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addRowVector", nullptr, AddRowVector, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addArrays", nullptr, AddArrays, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addPaths", nullptr, AddPaths, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"addColumnSums", nullptr, AddColumnSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rowDots", nullptr, RowDots, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scaleRows", nullptr, ScaleRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unaryBackward", nullptr, UnaryBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxCrossEntropy", nullptr, SoftmaxCrossEntropy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gatherRows", nullptr, GatherRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"scatterRows", nullptr, ScatterRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"machine", nullptr, Machine, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"readProbe", nullptr, ReadProbe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lineOffset", nullptr, LineOffset, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"parallelStress", nullptr, ParallelStress, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

}  // namespace
}  // namespace tg

NAPI_MODULE(NODE_GYP_MODULE_NAME, tg::Init)
