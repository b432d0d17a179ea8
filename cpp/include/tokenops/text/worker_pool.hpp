#pragma once
// Worker teams that outlive a call, for batch APIs that users call over and over (token counts of
// each request's messages). Starting threads costs tens of microseconds per call, more than a
// small batch's work, and a fresh thread starts with empty per-thread caches (the tokenizer's BPE
// memo); a pooled worker is already running and keeps its caches warm between calls.
//
// One team per team size, created on first use and kept for the life of the process (never
// destroyed, so no exit-time join can hang). A team serves one call at a time: a call that finds
// its team busy (another Python thread in a batch call) gets a ThreadTeam of its own for that call.
// After fork() the child starts new teams: the parent's worker threads do not exist there.
#include <cstddef>
#include <memory>
#include <mutex>

#include "tokenops/text/thread_team.hpp"

namespace tokenops::text {

class PooledTeam {
 public:
  /// A team of `threads` threads counting the caller (see ThreadTeam); threads < 2 runs on the caller.
  explicit PooledTeam(std::size_t threads);
  PooledTeam(const PooledTeam&) = delete;
  PooledTeam& operator=(const PooledTeam&) = delete;

  ThreadTeam& team() noexcept { return *team_; }
  /// True when the team is a pooled one that outlives this lease (for tests).
  bool pooled() const noexcept { return !own_; }

 private:
  std::unique_lock<std::mutex> lease_;
  std::unique_ptr<ThreadTeam> own_;
  ThreadTeam* team_ = nullptr;
};

}  // namespace tokenops::text
