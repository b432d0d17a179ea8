#pragma once
// The word-bigram model file that scripts/train_compress_ngram.py writes (plain text):
//
//   tokenops-bigram 1
//   discount <D>
//   unigrams <N>
//   <word>\t<count>\t<distinct successors>      (N lines; the line index is the word id)
//   bigrams <M>
//   <id1>\t<id2>\t<count>                       (M lines)
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

struct BigramData {
  double discount = 0.75;
  std::vector<std::string> words;
  std::vector<std::uint32_t> counts;
  std::vector<std::uint32_t> successors;
  std::vector<std::array<std::uint32_t, 3>> bigrams;  // (id1, id2, count)
};

/// Parses the file contents; InvalidArgument naming `source` and the line on any malformation.
BigramData parse_bigram_model(std::string_view content, std::string_view source);

}  // namespace tokenops::io
