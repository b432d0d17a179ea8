#pragma once
// Shared by the native micro-benchmarks: reading files and a tiktoken rank file's EncodingSpec.
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "tokenops/io/tiktoken_file.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::bench {

inline std::string slurp(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// The spec of a tiktoken rank file with the named pre-tokenizer (no special tokens).
inline tokenizer::EncodingSpec tiktoken_spec(const char* rank_file, const char* pretokenizer,
                                             std::string name = "bench") {
  tokenizer::EncodingSpec spec;
  spec.name = std::move(name);
  spec.pretokenizer = tokenizer::pretokenizer_from_name(pretokenizer);
  for (auto& e : io::parse_tiktoken_ranks(slurp(rank_file), rank_file)) {
    spec.tokens.push_back(e.bytes);
    spec.ids.push_back(e.rank);
  }
  return spec;
}

}  // namespace tokenops::bench
