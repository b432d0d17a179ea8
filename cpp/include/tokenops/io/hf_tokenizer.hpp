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
  // The id HF emits, whatever the file says: model.vocab's when the content is a vocab key, else
  // HF's own numbering in list order (the vocab size, then the largest id so far + 1)
  std::uint32_t id;
  bool special;
  bool normalized = false;  // HF matches normalized: false tokens first, then the others
  bool lstrip = false;      // the match takes the White_Space before it (HF's lstrip)
  bool rstrip = false;      // ... and after it (rstrip)
};

struct HfBpeModel {
  // The mergeable tokens: model.vocab decoded back to raw bytes, less the entries that are added
  // tokens (a one-byte one stays: it is the byte's token, with the same id)
  std::vector<std::string> token_bytes;
  std::vector<std::uint32_t> token_ids;
  // (left id, right id, result id) in rank order; a pair listed twice is kept at its last place,
  // the rank HF gives it
  std::vector<std::array<std::uint32_t, 3>> merges;
  std::vector<HfAddedToken> added_tokens;
  // The Split pre-tokenizer's regex; "" = ByteLevel alone, with its built-in GPT-2 regex (an
  // empty Split regex is refused: HF reads it differently)
  std::string split_pattern;
  bool ignore_merges = false;
};

/// Parses the JSON text of a tokenizer.json. Throws InvalidArgument naming the field for anything
/// malformed or unsupported (non-BPE models, normalizers, dropout > 0, byte_fallback with bytes
/// missing from the vocab, add_prefix_space, single_word on an added token, an added token HF
/// numbers like a vocab entry or repeats with other flags, lstrip / rstrip pairs whose result
/// depends on HF's match order, an empty Split regex...; docs/tokenizer.md lists them). Settings
/// that change nothing in Hugging Face tokenizers load: dropout 0, an empty normalizer Sequence,
/// byte_fallback with all 256 byte tokens in the vocab. Added tokens get HF's ids, not the file's.
HfBpeModel parse_hf_tokenizer_json(std::string_view json_text, std::string_view source);

/// GPT-2's byte -> printable code point map (bytes_to_unicode), used by byte-level vocabularies.
const std::array<char32_t, 256>& byte_to_unicode_table();

}  // namespace tokenops::io
