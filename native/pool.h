// A tiny persistent thread pool: run(n, fn) calls fn(0..n-1) with fn(0) on the
// calling thread and fn(i) on worker i (or on the caller, below), and returns
// when all are done.
// One run at a time: a run that finds the pool busy (a call from another JavaScript thread, worker_threads)
// runs its tasks on its own thread. A task that throws (std::bad_alloc) does not end the process: the run
// waits for its other tasks and rethrows the first exception on the calling thread.
//
// Waits spin, then block. A worker that finished a task keeps polling for the
// next one for kSpinWork, yielding the core to any other runnable thread
// every few microseconds (spinUntil), and only then blocks on a condition variable; the caller polls
// for the workers' completion for kSpinDone before blocking. A blocked worker
// on this virtual machine takes 70–230 µs to wake (its idle CPU is halted), a
// polling one about a microsecond, and the calls of a training step come a
// few hundred microseconds apart. Blocking waits use the mutex and the
// predicates, so a missed wake-up cannot hang; spinning only skips them.
//
// Calls that find the workers asleep (requests a few milliseconds apart) must
// not pay for their wake-up: waking a blocked worker cost the caller 31 µs on
// this VM (the notify; 6 µs when the caller had been idle too) and the worker
// ran 80 µs later, so a 1×512×512 leaf product every 2 ms took 114–117 µs on
// two threads against 53–56 µs on one. So (1) a task is claimed under the
// mutex by whoever starts it: once the caller has run fn(0) it runs every task
// whose worker has not started yet; and (2) a small run (`work`, the caller's
// work over its threshold for threads, below kWakeSize) that finds a worker
// asleep runs on the caller alone, without waking anyone, unless the previous
// run ended under kBurst ago (calls in quick succession: wake them once). A
// task's result does not depend on the thread that runs it. runTogether(n, fn)
// keeps every task on its own thread, for measurements of threads at once.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tg {

class Pool {
 public:
  explicit Pool(int workers) {
    for (int w = 0; w < workers; w++) threads_.emplace_back([this, w] { loop(w + 1); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
      gen_++;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return (int)threads_.size() + 1; }

  // Work of a run at which waking a sleeping worker pays, in units of the caller's threshold for threads (the
  // waker's 31 µs plus the worker's 80 µs against half of the work: about 160 µs of one thread's work).
  static constexpr double kWakeSize = 16;

  void run(int n, const std::function<void(int)>& fn, double work = kWakeSize) { start(n, fn, false, work); }
  void runTogether(int n, const std::function<void(int)>& fn) { start(n, fn, true, kWakeSize); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::microseconds kSpinWork{1000}, kSpinDone{500}, kBurst{300};

  void start(int n, const std::function<void(int)>& fn, bool together, double work) {
    bool idle = false;
    if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {  // another thread's run holds the pool
      for (int i = 0; i < n; i++) fn(i);
      return;
    }
    struct Release {
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};
    bool alone = n <= 1 || threads_.empty();
    if (!alone) {
      n = std::min(n, size());
      std::lock_guard<std::mutex> l(m_);
      alone = !together && sleeping_ > 0 && work < kWakeSize && Clock::now() - lastEnd_ > kBurst;
      if (!alone) {
        fn_ = &fn;
        active_ = n;
        claimed_ = 1;  // task 0: this thread
        pending_ = n - 1;
        gen_++;
      }
    }
    if (alone) {
      for (int i = 0; i < n; i++) fn(i);
      lastEnd_ = Clock::now();
      return;
    }
    wake_.notify_all();
    attempt(fn, 0);
    if (!together)
      for (int i = 1; i < n; i++)
        if (claim(i)) {
          attempt(fn, i);
          pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    spinUntil([this] { return pending_.load(std::memory_order_acquire) == 0; }, kSpinDone);
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [this] { return pending_ == 0; });
    fn_ = nullptr;
    lastEnd_ = Clock::now();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));  // the workers are done with fn
  }

  // Runs task i, keeping the first exception of the run for the caller (a worker's would end the process).
  void attempt(const std::function<void(int)>& fn, int i) {
    try {
      fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> l(m_);
      if (!error_) error_ = std::current_exception();
    }
  }

  // Claims task i of the current run if nobody has started it (call with m_ unlocked).
  bool claim(int i) {
    std::lock_guard<std::mutex> l(m_);
    if (claimed_ >> i & 1) return false;
    claimed_ |= uint64_t{1} << i;
    return true;
  }

  // Polls `ready` until it holds or `limit` has passed: kPolls polls a pause instruction apart (7 µs in all on a Zen 3
  // core), then the core is yielded to any other runnable thread, and so on. Yielding on every poll made each poll a system call, and a
  // run's two waits (the worker's for the task, the caller's for the worker) cost 1.3 µs in all against 0.7–0.8
  // this way (an empty 2-thread readProbe, development A/B at 32, 256 and 2048 polls per yield).
  static constexpr int kPolls = 256;
  static void relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  template <typename F>
  static void spinUntil(F&& ready, std::chrono::microseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
      for (int i = 0; i < kPolls; i++) {
        if (ready()) return;
        relax();
      }
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > end) return;
    }
  }

  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      spinUntil([&] { return gen_.load(std::memory_order_acquire) != seen; }, kSpinWork);
      const std::function<void(int)>* fn;
      {
        std::unique_lock<std::mutex> l(m_);
        if (gen_ == seen) {
          sleeping_++;
          wake_.wait(l, [&] { return gen_ != seen; });
          sleeping_--;
        }
        seen = gen_;
        if (stop_) return;
        if (id >= active_ || (claimed_ >> id & 1)) continue;  // not in this run, or the caller took it
        claimed_ |= uint64_t{1} << id;
        fn = fn_;
      }
      attempt(*fn, id);
      {
        std::lock_guard<std::mutex> l(m_);
        pending_--;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> busy_{false};  // a run is in progress (lastEnd_ and the fields below belong to it)
  std::mutex m_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> pending_{0};
  int active_ = 0;
  uint64_t claimed_ = 0;  // bit i: task i of the current run has been started (at most 64 threads)
  int sleeping_ = 0;      // workers blocked on wake_
  Clock::time_point lastEnd_{};  // end of the last run (the caller's thread only)
  bool stop_ = false;
  std::exception_ptr error_;  // the first exception a task of the current run threw
};

}  // namespace tg
