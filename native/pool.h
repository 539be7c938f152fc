// A tiny persistent thread pool: run(n, fn) calls fn(0..n-1) with fn(0) on the
// calling thread and the rest on workers, and returns when all are done.
// NOTE: one run at a time (JS calls the addon from one thread).
//
// Waits spin, then block. A worker that finished a task keeps polling for the
// next one for kSpinWork, yielding the core to any other runnable thread on
// every poll, and only then blocks on a condition variable; the caller polls
// for the workers' completion for kSpinDone before blocking. A blocked worker
// on this virtual machine takes 70–120 µs to wake (its idle CPU is halted), a
// polling one about a microsecond, and the calls of a training step come a
// few hundred microseconds apart. Blocking waits use the mutex and the
// predicates, so a missed wake-up cannot hang; spinning only skips them.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
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

  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 1 || threads_.empty()) {
      for (int i = 0; i < n; i++) fn(i);
      return;
    }
    n = std::min(n, size());
    {
      std::lock_guard<std::mutex> l(m_);
      fn_ = &fn;
      active_ = n;
      pending_ = n - 1;
      gen_++;
    }
    wake_.notify_all();
    fn(0);
    spinUntil([this] { return pending_.load(std::memory_order_acquire) == 0; }, kSpinDone);
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  static constexpr std::chrono::microseconds kSpinWork{1000}, kSpinDone{500};

  // Polls `ready` until it holds or `limit` has passed, yielding the core on every poll.
  template <typename F>
  static void spinUntil(F&& ready, std::chrono::microseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
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
        wake_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
        if (id >= active_) continue;
        fn = fn_;
      }
      (*fn)(id);
      {
        std::lock_guard<std::mutex> l(m_);
        pending_--;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> pending_{0};
  int active_ = 0;
  bool stop_ = false;
};

}  // namespace tg
