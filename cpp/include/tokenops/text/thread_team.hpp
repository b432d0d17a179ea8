#pragma once
// A team of worker threads that lives for one batch call and runs many short parallel sections
// (an OpenMP-style "parallel for" without OpenMP). Each section hands out task indices from an
// atomic counter; the caller works too and returns once every task is done (workers that have not
// joined a section by the time its tasks are all taken skip it). Workers spin briefly
// between sections before sleeping, so back-to-back sections (one per layer of a network) cost
// microseconds, not a thread start. Exceptions thrown by tasks are captured and rethrown once
// from run(). Which thread runs a task never changes what the task computes, so results do not
// depend on the team size.
#include <atomic>
#include <condition_variable>
#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace tokenops::text {

class ThreadTeam {
 public:
  /// `threads` counts the calling thread; 0 or 1 = run everything on the caller. Fewer workers
  /// are started if the system refuses more threads (size() says how many).
  explicit ThreadTeam(std::size_t threads) {
    if (threads < 2) return;
    workers_.reserve(threads - 1);
    // A thread that cannot be started (beyond the system's limit) is not an error: the team is
    // smaller, with the same results; an exception escaping here would leave running workers
    // pointing at a team that never existed.
    for (std::size_t t = 1; t < threads; ++t) {
      try {
        workers_.emplace_back([this] { worker(); });
      } catch (const std::system_error&) {
        break;
      }
    }
  }
  ~ThreadTeam() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  std::size_t size() const noexcept { return workers_.size() + 1; }

  /// Calls fn(i) for every i in [0, n) across the team; returns when all calls have finished.
  /// The caller works too and never waits for a worker that has not joined the section (one that
  /// is asleep or descheduled): it closes the section once no task is left and waits only for the
  /// workers inside it, so a loaded machine or a slow wake-up costs nothing on small sections.
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
    const std::size_t gen = generation_.load(std::memory_order_relaxed) + 1;
    open_.store(gen, std::memory_order_seq_cst);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.store(gen, std::memory_order_release);
    }
    wake_.notify_all();
    try {
      work();
    } catch (...) {
      // Only a thread being ended gets here (pthread_exit's forced unwind, which work() passes
      // on): the workers still inside the section use this stack frame, so wait for them first.
      close();
      throw;
    }
    close();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Close the section: a worker that joins from now on sees it closed and leaves it untouched.
  // (seq_cst on both sides: either the worker sees the close or this sees its `active_`.)
  void close() noexcept {
    open_.store(0, std::memory_order_seq_cst);
    for (int spin = 0; active_.load(std::memory_order_seq_cst) != 0; ++spin) {
      if (spin > 256) std::this_thread::yield();  // a descheduled worker needs the core
    }
  }

  void work() {
    for (;;) {
      std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) return;
      try {
        call_(fn_, i);
#if defined(__GLIBCXX__)
      } catch (abi::__forced_unwind&) {
        // pthread_exit / pthread_cancel ending this thread (an embedding runtime shutting down):
        // not a task error; it must continue (swallowing it aborts the process).
        next_.store(n_, std::memory_order_relaxed);
        throw;
#endif
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
      for (int spin = 0; gen == seen && spin < 4000; ++spin) {
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
      if (stop_.load(std::memory_order_relaxed)) return;
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (open_.load(std::memory_order_seq_cst) == gen) work();  // else: closed, or a later one
      active_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<std::size_t> generation_{0};
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> open_{0};    // generation of the section taking workers; 0: closed
  std::atomic<std::size_t> active_{0};  // workers inside a section
  std::size_t n_ = 0;
  void (*call_)(void*, std::size_t) = nullptr;
  void* fn_ = nullptr;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

}  // namespace tokenops::text
