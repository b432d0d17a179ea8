#pragma once
// A team of worker threads that lives for one batch call and runs many short parallel sections
// (an OpenMP-style "parallel for" without OpenMP). Each section hands out task indices from an
// atomic counter; the caller works too and returns once every task is done. Workers spin briefly
// between sections before sleeping, so back-to-back sections (one per layer of a network) cost
// microseconds, not a thread start. Exceptions thrown by tasks are captured and rethrown once
// from run(). Which thread runs a task never changes what the task computes, so results do not
// depend on the team size.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tokenops::text {

class ThreadTeam {
 public:
  /// `threads` counts the calling thread; 0 or 1 = run everything on the caller.
  explicit ThreadTeam(std::size_t threads) {
    if (threads < 2) return;
    workers_.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) workers_.emplace_back([this] { worker(); });
  }
  ~ThreadTeam() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  std::size_t size() const noexcept { return workers_.size() + 1; }

  /// Calls fn(i) for every i in [0, n) across the team; returns when all calls have finished.
  template <class Fn>
  void run(std::size_t n, Fn&& fn) {
    if (n == 0) return;
    if (workers_.empty() || n == 1) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    auto* task = &fn;
    call_ = [](void* f, std::size_t i) { (*static_cast<decltype(task)>(f))(i); };
    fn_ = static_cast<void*>(task);
    n_ = n;
    error_ = nullptr;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(workers_.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    // Wait for the workers to leave this section (they may still be finishing a task).
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin > 4096) std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    for (;;) {
      std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) return;
      try {
        call_(fn_, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_, std::memory_order_relaxed);
        return;
      }
    }
  }

  void worker() {
    std::size_t seen = 0;
    for (;;) {
      // Spin a little for the next section, then sleep.
      std::size_t gen = generation_.load(std::memory_order_acquire);
      for (int spin = 0; gen == seen && spin < 20000; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        gen = generation_.load(std::memory_order_acquire);
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        gen = generation_.load(std::memory_order_acquire);
      }
      seen = gen;
      if (stop_) return;
      work();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<std::size_t> generation_{0};
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> pending_{0};
  std::size_t n_ = 0;
  void (*call_)(void*, std::size_t) = nullptr;
  void* fn_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace tokenops::text
