#pragma once
// ParallelFor in the manner of hnswlib: workers pull indices from an atomic counter, tiny inputs on the
// calling thread, exceptions captured in workers and rethrown once after join. Results written by
// index are therefore identical for any thread count.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace tokenops::text {

/// Number of worker threads to use: `requested` if > 0, else the hardware concurrency.
inline std::size_t resolve_threads(int requested, std::size_t work_items) {
  std::size_t t = requested > 0 ? static_cast<std::size_t>(requested)
                                : std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(t, work_items));
}

/// Calls fn(i) for every i in [0, n), with dynamic work distribution across `threads` threads.
template <class Fn>
void parallel_for(std::size_t n, std::size_t threads, Fn&& fn) {
  if (n == 0) return;
  if (threads <= 1 || n == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&]() {
    for (;;) {
      std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next.store(n, std::memory_order_relaxed);
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  // A thread that cannot be started (num_threads beyond the system's limit) is not an error: the
  // threads already running share its work (results are the same for any thread count), and an
  // exception escaping here would destroy joinable threads, which calls std::terminate.
  for (std::size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;
    }
  }
  worker();
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace tokenops::text
