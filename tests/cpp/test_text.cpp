#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"
#include "tokenops/text/worker_pool.hpp"

using namespace tokenops;
using namespace tokenops::text;

TEST(Utf8, ValidatesWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("hello world"));
  EXPECT_TRUE(is_valid_utf8("na\xC3\xAFve \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x91\x8D"));
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_EQ(find_invalid_utf8(std::string("ab\xFF", 3)), 2u);          // invalid byte
  EXPECT_EQ(find_invalid_utf8(std::string("\xC0\xAF", 2)), 0u);        // overlong
  EXPECT_EQ(find_invalid_utf8(std::string("\xED\xA0\x80", 3)), 0u);    // surrogate
  EXPECT_EQ(find_invalid_utf8(std::string("\xF4\x90\x80\x80", 4)), 0u);  // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8(std::string("abcdefgh\xE6\x9D", 10)), 8u);  // truncated
  EXPECT_THROW(require_valid_utf8(std::string("\x80", 1)), InvalidArgument);
}

TEST(Utf8, CompletePrefixHoldsBackIncompleteTail) {
  EXPECT_EQ(complete_utf8_prefix("abc"), 3u);
  EXPECT_EQ(complete_utf8_prefix(std::string("ab\xE6\x9D", 4)), 2u);
  EXPECT_EQ(complete_utf8_prefix(std::string("ab\xE6\x9D\xB1", 5)), 5u);
  EXPECT_EQ(complete_utf8_prefix(std::string("\xF0\x9F\x91", 3)), 0u);
}

TEST(Utf8, EncodeDecodeRoundTrip) {
  for (char32_t cp : {0x41u, 0xE9u, 0x6771u, 0x1F44Du, 0x10FFFFu}) {
    std::string s;
    append_utf8(s, cp);
    int len = 0;
    EXPECT_EQ(decode_utf8(reinterpret_cast<const unsigned char*>(s.data()), len), cp);
    EXPECT_EQ(static_cast<std::size_t>(len), s.size());
  }
}

TEST(Unicode, CategoriesAndClasses) {
  EXPECT_STREQ(unicode_version(), "16.0.0");
  EXPECT_EQ(general_category(U'a'), GeneralCategory::Ll);
  EXPECT_EQ(general_category(U'Q'), GeneralCategory::Lu);
  EXPECT_EQ(general_category(0x6771), GeneralCategory::Lo);
  EXPECT_EQ(general_category(0x0301), GeneralCategory::Mn);
  EXPECT_EQ(general_category(0x0663), GeneralCategory::Nd);
  EXPECT_TRUE(char_class(0x3000) & kSpace);   // ideographic space
  EXPECT_TRUE(char_class(0x85) & kSpace);     // NEL
  EXPECT_FALSE(char_class(0x200B) & kSpace);  // zero-width space is not White_Space
  EXPECT_TRUE(char_class('\n') & kCrLf);
  for (char32_t c = 0; c < 128; ++c) EXPECT_EQ(char_class_fast(c), char_class(c)) << static_cast<unsigned>(c);
}

TEST(Parallel, SameResultForAnyThreadCountAndRethrows) {
  std::vector<int> a(1000), b(1000);
  parallel_for(a.size(), 1, [&](std::size_t i) { a[i] = static_cast<int>(i * i % 97); });
  parallel_for(b.size(), 4, [&](std::size_t i) { b[i] = static_cast<int>(i * i % 97); });
  EXPECT_EQ(a, b);
  EXPECT_THROW(parallel_for(100, 3,
                            [](std::size_t i) {
                              if (i == 42) throw InvalidArgument("boom");
                            }),
               InvalidArgument);
}

TEST(PooledTeam, ReusesOneTeamPerSizeAndItsThreads) {
  auto run_ids = [](ThreadTeam& team) {
    std::set<std::thread::id> ids;
    std::mutex m;
    std::vector<int> out(4000);
    team.run(out.size(), [&](std::size_t i) {
      out[i] = static_cast<int>(i * 3 % 101);
      std::lock_guard<std::mutex> g(m);
      ids.insert(std::this_thread::get_id());
    });
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], static_cast<int>(i * 3 % 101));
    return ids;
  };
  ThreadTeam* first = nullptr;
  std::set<std::thread::id> seen;
  for (int call = 0; call < 20; ++call) {
    PooledTeam lease(3);
    EXPECT_TRUE(lease.pooled());
    EXPECT_EQ(lease.team().size(), 3u);
    if (first == nullptr) first = &lease.team();
    EXPECT_EQ(&lease.team(), first);  // the same team, so the same (warm) worker threads
    for (auto id : run_ids(lease.team())) seen.insert(id);
  }
  // The caller plus at most the team's two workers ever ran tasks, over all 20 calls.
  EXPECT_LE(seen.size(), 3u);
  EXPECT_TRUE(seen.count(std::this_thread::get_id()));
}

TEST(PooledTeam, BusyTeamGivesTheConcurrentCallItsOwnAndErrorsPropagate) {
  PooledTeam held(2);
  ASSERT_TRUE(held.pooled());
  PooledTeam other(2);  // the size-2 team is leased: this call gets a team of its own
  EXPECT_FALSE(other.pooled());
  std::atomic<int> sum{0};
  other.team().run(100, [&](std::size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 4950);
  EXPECT_THROW(held.team().run(50,
                               [](std::size_t i) {
                                 if (i == 7) throw InvalidArgument("boom");
                               }),
               InvalidArgument);
  sum = 0;
  held.team().run(100, [&](std::size_t i) { sum += static_cast<int>(i); });  // still usable
  EXPECT_EQ(sum.load(), 4950);
  EXPECT_FALSE(PooledTeam(1).pooled());  // one thread: the caller alone
}

TEST(PooledTeam, WorksInAForkedChild) {
  { PooledTeam warm(2); warm.team().run(10, [](std::size_t) {}); }  // the parent's team exists
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The parent's workers do not exist here; a lease must build a new team, not wait forever.
    std::atomic<int> sum{0};
    PooledTeam lease(2);
    lease.team().run(100, [&](std::size_t i) { sum += static_cast<int>(i); });
    _exit(sum.load() == 4950 && lease.pooled() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
