#pragma once
// ParallelFor in the manner of hnswlib: workers pull indices from an atomic counter, tiny inputs on
// the calling thread, exceptions captured in workers and rethrown once after the join. Results
// written by index are therefore identical for any thread count. It is a one-call ThreadTeam
// (thread_team.hpp), which also starts fewer threads if the system refuses more.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <thread>

#include "tokenops/text/thread_team.hpp"

namespace tokenops::text {

/// Number of worker threads to use: `requested` if > 0, else the hardware concurrency; never
/// more than the work items, nor more than 4 threads per core (at least 8). The work is CPU-bound,
/// so more threads only cost memory: a thousand 8 MiB stacks could exhaust a limited address
/// space, and a thread that then cannot allocate its thread-local data aborts the process.
inline std::size_t resolve_threads(int requested, std::size_t work_items) {
  const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t cap = std::max<std::size_t>(8, 4 * hw);
  std::size_t t = requested > 0 ? static_cast<std::size_t>(requested) : hw;
  return std::max<std::size_t>(1, std::min({t, work_items, cap}));
}

/// Asked between chunks of a long batch (from any of its threads); true once the caller wants the
/// batch abandoned (the bindings' Ctrl-C check). Empty: never stop.
using StopFn = std::function<bool()>;

/// Calls fn(i) for every i in [0, n), with dynamic work distribution across `threads` threads.
template <class Fn>
void parallel_for(std::size_t n, std::size_t threads, Fn&& fn) {
  if (n == 0) return;
  if (threads <= 1 || n == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  ThreadTeam team(std::min(threads, n));
  team.run(n, fn);
}

}  // namespace tokenops::text
