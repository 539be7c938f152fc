// A tiny persistent thread pool: run(n, fn) calls fn(0..n-1) with fn(0) on the
// calling thread and the rest on parked workers, and returns when all are done.
// NOTE: one run at a time (JS calls the addon from one thread); waits use a
// mutex and condition variables, so a missed wake-up cannot hang.
#pragma once
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
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
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
  uint64_t gen_ = 0;
  int active_ = 0, pending_ = 0;
  bool stop_ = false;
};

}  // namespace tg
