// Micro-benchmark of the native tokenizer without Python: bench_tokenizer <rank file> <pattern>
// <text file> [repeat] [warm]. Prints MB/s for encode and count. Useful under perf/callgrind.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bench_util.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/tokenizer/encoding.hpp"

using namespace tokenops;

using bench::slurp;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <rank file> <r50k|cl100k|llama3|o200k> <text> [repeat] [warm]\n", argv[0]);
    return 2;
  }
  const int repeat = argc > 4 ? std::atoi(argv[4]) : 5;
  // Cold: every timed run starts with an empty BPE memo (as benchmarks/tokenizer.py does).
  const bool cold = !(argc > 5 && std::string(argv[5]) == "warm");
  tokenizer::EncodingSpec spec = bench::tiktoken_spec(argv[1], argv[2]);
  const auto tl0 = std::chrono::steady_clock::now();
  tokenizer::Encoding enc(std::move(spec));
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tl0).count();
  std::printf("build encoding (tables, rank file already parsed): %.1f ms\n", load_ms);
  const std::string text = slurp(argv[3]);
  double best_enc = 1e9, best_cnt = 1e9, best_pre = 1e9;
  std::size_t pieces = 0;
  std::size_t n = 0;
  for (int r = 0; r < repeat; ++r) {
    std::vector<tokenizer::Rank> out;
    if (cold) tokenizer::Encoding::clear_memos();
    auto t0 = std::chrono::steady_clock::now();
    enc.encode_ordinary(text, out);
    auto t1 = std::chrono::steady_clock::now();
    if (cold) tokenizer::Encoding::clear_memos();
    auto t1b = std::chrono::steady_clock::now();
    n = enc.count_ordinary(text);
    auto t2 = std::chrono::steady_clock::now();
    pieces = 0;
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    switch (enc.pretokenizer()) {
      case tokenizer::PreTokenizer::R50K:
        tokenizer::for_each_piece<tokenizer::PreTokenizer::R50K>(s, text.size(), [&](std::size_t, std::size_t) { ++pieces; });
        break;
      case tokenizer::PreTokenizer::CL100K:
        tokenizer::for_each_piece<tokenizer::PreTokenizer::CL100K>(s, text.size(), [&](std::size_t, std::size_t) { ++pieces; });
        break;
      case tokenizer::PreTokenizer::LLAMA3:
        tokenizer::for_each_piece<tokenizer::PreTokenizer::LLAMA3>(s, text.size(), [&](std::size_t, std::size_t) { ++pieces; });
        break;
      case tokenizer::PreTokenizer::O200K:
        tokenizer::for_each_piece<tokenizer::PreTokenizer::O200K>(s, text.size(), [&](std::size_t, std::size_t) { ++pieces; });
        break;
    }
    auto t3 = std::chrono::steady_clock::now();
    best_pre = std::min(best_pre, std::chrono::duration<double>(t3 - t2).count());
    best_enc = std::min(best_enc, std::chrono::duration<double>(t1 - t0).count());
    best_cnt = std::min(best_cnt, std::chrono::duration<double>(t2 - t1b).count());
  }
  const double mb = text.size() / 1e6;
  // Batch: 4 KB documents counted with 1 and 2 threads.
  std::vector<std::string_view> docs;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = std::min(text.size(), i + 4000);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    docs.emplace_back(text.data() + i, end - i);
    i = end;
  }
  for (int threads : {1, 2}) {
    double best = 1e9;
    for (int r = 0; r < repeat; ++r) {
      std::vector<std::size_t> counts(docs.size());
      if (cold) tokenizer::Encoding::clear_memos();  // every thread's memo starts empty
      auto t0 = std::chrono::steady_clock::now();
      text::parallel_for(docs.size(), threads, [&](std::size_t i) { counts[i] = enc.count_ordinary(docs[i]); });
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("batch count, %d thread(s): %.1f MB/s\n", threads, mb / best);
  }
  std::printf("%zu tokens %zu pieces  encode %.1f MB/s  count %.1f MB/s  pre-tokenize only %.1f MB/s\n",
              n, pieces, mb / best_enc, mb / best_cnt, mb / best_pre);
  return 0;
}
