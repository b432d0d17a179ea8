#include "tokenops/text/worker_pool.hpp"

#include <unistd.h>

#include <atomic>

namespace tokenops::text {
namespace {

constexpr std::size_t kMaxPooledThreads = 64;  // larger teams are made per call

struct Slot {
  std::mutex busy;
  ThreadTeam* team = nullptr;  // created on first use, never destroyed
};

struct Pool {
  pid_t pid;
  Slot slots[kMaxPooledThreads + 1];
  explicit Pool(pid_t p) : pid(p) {}
};

std::atomic<Pool*> g_pool{nullptr};

Pool& pool() {
  const pid_t me = getpid();
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p != nullptr && p->pid == me) return *p;
  // First use, or first use in a forked child: the parent's pool (its mutexes may be held, its
  // threads are gone) is left as it is; a new one replaces it. No lock, so fork cannot leave one held.
  auto* fresh = new Pool(me);
  if (g_pool.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;  // another thread installed one first (p now holds it)
  return *p;
}

}  // namespace

PooledTeam::PooledTeam(std::size_t threads) {
  if (threads >= 2 && threads <= kMaxPooledThreads) {
    Slot& slot = pool().slots[threads];
    std::unique_lock<std::mutex> lease(slot.busy, std::try_to_lock);
    if (lease.owns_lock()) {
      if (slot.team == nullptr) slot.team = new ThreadTeam(threads);
      lease_ = std::move(lease);
      team_ = slot.team;
      return;
    }
  }
  own_ = std::make_unique<ThreadTeam>(threads);
  team_ = own_.get();
}

}  // namespace tokenops::text
