// Micro-benchmark of router scoring without Python: bench_router <router file> <prompts file>
// [repeat] [tiktoken rank file for the router's encoding]. The prompts file holds prompts
// separated by NUL bytes. Prints µs per prompt for feature extraction alone and for
// Router::score (one thread, batch API). Useful under perf/callgrind.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "tokenops/io/router_file.hpp"
#include "bench_util.hpp"
#include "tokenops/router/router.hpp"

using namespace tokenops;

using bench::slurp;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <router file> <NUL-separated prompts> [repeat] [o200k rank file]\n",
                 argv[0]);
    return 2;
  }
  const int repeat = argc > 3 ? std::atoi(argv[3]) : 20;
  io::RouterFile file = io::parse_router_file(slurp(argv[1]), argv[1]);
  std::shared_ptr<const tokenizer::Encoding> enc;
  if (!file.features.encoding.empty() && file.features.dense) {
    if (argc < 5) {
      std::fprintf(stderr, "this router counts tokens with %s: pass its rank file\n",
                   file.features.encoding.c_str());
      return 2;
    }
    enc = std::make_shared<tokenizer::Encoding>(bench::tiktoken_spec(argv[4], "o200k", file.features.encoding));
  }
  router::Router r(std::move(file), enc);
  const std::string all = slurp(argv[2]);
  router::Batch batch;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = all.find('\0', i);
    if (j == std::string::npos) j = all.size();
    batch.texts.emplace_back(all.data() + i, j - i);
    bytes += j - i;
    i = j + 1;
  }
  const double n = static_cast<double>(batch.texts.size());
  double best_feat = 1e30, best_score = 1e30, sink = 0;
  router::SparseFeatures sp;
  router::FeatureScratch scratch;
  std::vector<float> dense(r.features().dense_dim());
  for (int rep = 0; rep < repeat; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (auto t : batch.texts) {
      r.features().extract(t, r.features().sparse_dim() ? &sp : nullptr,
                           dense.empty() ? nullptr : dense.data(), true, scratch);
      sink += static_cast<double>(sp.size());
    }
    auto t1 = std::chrono::steady_clock::now();
    const auto s = r.score(batch, 1);
    auto t2 = std::chrono::steady_clock::now();
    sink += s[0];
    best_feat = std::min(best_feat, std::chrono::duration<double>(t1 - t0).count());
    best_score = std::min(best_score, std::chrono::duration<double>(t2 - t1).count());
  }
  std::printf("%zu prompts, mean %.0f bytes, best of %d (checksum %.3f)\n", batch.texts.size(),
              static_cast<double>(bytes) / n, repeat, sink);
  std::printf("features only: %.3f us/prompt\nscore (batch): %.3f us/prompt\n",
              best_feat / n * 1e6, best_score / n * 1e6);
  return 0;
}
