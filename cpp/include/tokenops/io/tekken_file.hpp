#pragma once
// Parser for Mistral's tekken tokenizer files (mistral_common's tekken_*.json): a tiktoken-style
// rank vocabulary in JSON. {"config": {"pattern", "num_vocab_tokens", "default_vocab_size",
// "default_num_special_tokens", "version"}, "vocab": [{"rank", "token_bytes" (base64),
// "token_str"}...], "special_tokens" (optional): [{"rank", "token_str", "is_control"}...]}.
// Mistral's Tekkenizer keeps the first default_vocab_size - default_num_special_tokens ranks and
// gives rank r the id r + default_num_special_tokens; ids below that are the special tokens
// (the file's list, or the default list of files that have none, then "<SPECIAL_{id}>" fillers).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/io/tiktoken_file.hpp"

namespace tokenops::io {

struct TekkenSpecial {
  std::string text;
  std::uint32_t id;
};

struct TekkenModel {
  std::string pattern;
  std::string version;
  std::uint32_t num_special = 0;
  std::vector<RankEntry> tokens;  // bytes and id (= rank + num_special), rank order
  std::vector<TekkenSpecial> specials;  // ids 0 .. num_special - 1
};

/// Parses a tekken JSON file; `source` names it in errors. Throws InvalidArgument naming the
/// problem: not JSON, missing or mistyped fields, ranks out of order, bad base64, duplicate
/// tokens or special texts, sizes that do not fit together.
TekkenModel parse_tekken_json(std::string_view json_text, std::string_view source);

}  // namespace tokenops::io
