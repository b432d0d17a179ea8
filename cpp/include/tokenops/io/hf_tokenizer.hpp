#pragma once
// Reader for Hugging Face `tokenizer.json` files of byte-level BPE models (GPT-2, RoBERTa-style,
// Llama-3, Qwen...). It returns plain data; tokenizer/ turns it into an Encoding.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

struct HfAddedToken {
  std::string content;
  std::uint32_t id;
  bool special;
  bool normalized = false;  // HF matches normalized: false tokens first, then the others
};

struct HfBpeModel {
  std::vector<std::string> token_bytes;  // byte-level vocab, decoded back to raw bytes
  std::vector<std::uint32_t> token_ids;
  std::vector<std::array<std::uint32_t, 3>> merges;  // (left id, right id, result id)
  std::vector<HfAddedToken> added_tokens;
  std::string split_pattern;  // the pre-tokenizer regex ("" = GPT-2's ByteLevel built-in regex)
  bool ignore_merges = false;
};

/// Parses the JSON text of a tokenizer.json. Throws InvalidArgument naming the field for anything
/// malformed or unsupported (non-BPE models, byte_fallback, normalizers, dropout...).
HfBpeModel parse_hf_tokenizer_json(std::string_view json_text, std::string_view source);

/// GPT-2's byte -> printable code point map (bytes_to_unicode), used by byte-level vocabularies.
const std::array<char32_t, 256>& byte_to_unicode_table();

}  // namespace tokenops::io
