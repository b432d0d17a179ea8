// Where the time of an encode goes: bench_bpe_pieces <rank file> <cl100k|o200k> <text> [repeat]
// Pre-tokenizes the text, counts the pieces that are tokens and those that need BPE (and how many
// of those are distinct), then times, best of `repeat`, a cold encode of the whole text and the
// BPE of each distinct non-token piece once (what an encode with a perfect memo could not avoid).
// Deterministic under `valgrind --tool=callgrind` with repeat 1: compare the inclusive
// instructions of Encoding::encode_ordinary (whole text) and Encoding::encode_single_piece (the
// distinct pieces) between two builds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "tokenops/tokenizer/encoding.hpp"
#include "tokenops/tokenizer/pretokenize.hpp"

using namespace tokenops;
using Clock = std::chrono::steady_clock;

using bench::slurp;

static double ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <rank file> <cl100k|o200k> <text> [repeat]\n", argv[0]);
    return 2;
  }
  const int repeat = argc > 4 ? std::max(1, std::atoi(argv[4])) : 5;
  tokenizer::Encoding enc(bench::tiktoken_spec(argv[1], argv[2]));
  const std::string text = slurp(argv[3]);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());

  std::vector<std::string_view> need;  // pieces that are not tokens, in text order
  std::size_t pieces = 0;
  auto visit = [&](std::size_t a, std::size_t b) {
    ++pieces;
    const std::string_view v(text.data() + a, b - a);
    if (v.size() > 1 && enc.token_id(v) == tokenizer::kNoRank) need.push_back(v);
  };
  if (enc.pretokenizer() == tokenizer::PreTokenizer::O200K)
    tokenizer::for_each_piece<tokenizer::PreTokenizer::O200K>(s, text.size(), visit);
  else
    tokenizer::for_each_piece<tokenizer::PreTokenizer::CL100K>(s, text.size(), visit);
  const std::unordered_set<std::string_view> uniq(need.begin(), need.end());
  const std::vector<std::string_view> distinct(uniq.begin(), uniq.end());
  std::size_t distinct_bytes = 0;
  for (auto v : distinct) distinct_bytes += v.size();
  std::printf("pieces %zu, not tokens %zu, distinct %zu (mean %.1f bytes)\n", pieces, need.size(),
              distinct.size(), distinct.empty() ? 0.0 : double(distinct_bytes) / distinct.size());

  std::vector<tokenizer::Rank> out;
  out.reserve(text.size());
  double best_full = 1e300, best_distinct = 1e300;
  std::size_t tokens = 0, distinct_tokens = 0;
  for (int r = 0; r < repeat; ++r) {
    out.clear();
    tokenizer::Encoding::clear_memos();
    const auto t0 = Clock::now();
    enc.encode_ordinary(text, out);
    const auto t1 = Clock::now();
    tokens = out.size();
    out.clear();
    const auto t2 = Clock::now();
    for (auto v : distinct) enc.encode_single_piece(v, out);
    const auto t3 = Clock::now();
    distinct_tokens = out.size();
    best_full = std::min(best_full, ms(t0, t1));
    best_distinct = std::min(best_distinct, ms(t2, t3));
  }
  std::printf("cold encode of the text: %.2f ms (%zu tokens, %.1f MB/s)\n", best_full, tokens,
              text.size() / best_full / 1e3);
  std::printf("BPE of the distinct non-token pieces once: %.2f ms (%zu tokens, %.0f ns/piece), "
              "%.0f%% of the encode\n",
              best_distinct, distinct_tokens, distinct.empty() ? 0.0 : best_distinct * 1e6 / distinct.size(),
              100.0 * best_distinct / best_full);
  // The same BPE with warm caches: a small subset of the pieces, run many times (its table
  // lines stay in cache), against the cold single pass above. The difference is what waiting on
  // memory costs.
  if (const char* sub = std::getenv("WARM_SUBSET")) {
    const std::size_t k = std::min<std::size_t>(std::strtoul(sub, nullptr, 10), distinct.size());
    double best = 1e300;
    for (int r = 0; r < 20; ++r) {
      out.clear();
      const auto a = Clock::now();
      for (std::size_t i = 0; i < k; ++i) enc.encode_single_piece(distinct[i], out);
      best = std::min(best, ms(a, Clock::now()));
    }
    std::printf("warm subset of %zu pieces: %.0f ns/piece\n", k, best * 1e6 / k);
  }
  return 0;
}
