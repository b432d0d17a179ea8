#pragma once
// The BERT WordPiece tokenizer, identical to Hugging Face `tokenizers` (BertNormalizer ->
// BertPreTokenizer -> WordPiece -> [CLS] ... [SEP]). Character classes come from tables generated
// from the reference itself (scripts/gen_bert_tables.py): the Rust crates behind it mix Unicode
// versions, so no single Unicode database reproduces it.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenops/io/bert_config.hpp"

namespace tokenops::embed {

/// Per-code-point behaviour of the BERT normalizer and pre-tokenizer.
enum BertCharBits : std::uint16_t {
  kBertControl = 1u << 0,     // removed by clean_text
  kBertNormSpace = 1u << 1,   // replaced by ' ' by clean_text
  kBertChinese = 1u << 2,     // surrounded by spaces by handle_chinese_chars
  kBertMark = 1u << 3,        // removed by accent stripping (after NFD)
  kBertDecomposes = 1u << 4,  // NFD maps it to other code points
  kBertHasLower = 1u << 5,    // lower-casing maps it to other code points
  kBertNonStarter = 1u << 6,  // canonical combining class != 0
  kBertSplitSpace = 1u << 7,  // the pre-tokenizer splits on it and drops it
  kBertSplitPunct = 1u << 8,  // the pre-tokenizer makes it a word of its own
};

std::uint16_t bert_char_bits(char32_t cp) noexcept;
/// Which reference the tables were generated from (e.g. "tokenizers 0.23.3").
const char* bert_tables_source() noexcept;

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

/// BertNormalizer on valid UTF-8, returning code points. (The tokenizer itself streams; this is
/// for tests and inspection.)
std::u32string bert_normalize(std::string_view utf8, const BertNormalizerOptions& opt);

/// An immutable WordPiece tokenizer; share it across threads freely.
class WordPieceTokenizer {
 public:
  static constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();

  explicit WordPieceTokenizer(const io::WordPieceSpec& spec);

  /// Word-piece ids of `text` (valid UTF-8, not checked here), without special tokens, stopping
  /// after `max_pieces` pieces. Appends to `out`.
  void encode_pieces(std::string_view text, std::vector<std::uint32_t>& out,
                     std::size_t max_pieces = kAll) const;

  /// [CLS] pieces [SEP], the pieces truncated so that the whole has at most `max_length` ids
  /// (>= 2). Validates UTF-8 (InvalidArgument naming the byte offset).
  std::vector<std::uint32_t> encode(std::string_view text, std::size_t max_length = kAll) const;

  std::size_t vocab_size() const noexcept { return vocab_.size(); }
  /// Ids this tokenizer can produce are below this (the vocabulary plus added tokens past it).
  std::size_t id_bound() const noexcept { return std::max(vocab_.size(), max_added_id_ + 1); }
  const std::string& id_to_token(std::uint32_t id) const;  // NotFound for an invalid id
  /// Id of a whole token (e.g. "[CLS]" or "##ing"), or -1.
  long token_to_id(std::string_view token) const;
  std::uint32_t cls_id() const noexcept { return cls_; }
  std::uint32_t sep_id() const noexcept { return sep_; }
  std::uint32_t unk_id() const noexcept { return unk_; }
  const BertNormalizerOptions& normalizer() const noexcept { return norm_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>>;

  void wordpiece(std::string_view word, std::size_t n_chars, std::vector<std::uint32_t>& out) const;
  /// Pieces of a text segment that holds no added token; returns false once max_pieces is hit.
  bool encode_segment(std::string_view text, std::vector<std::uint32_t>& out, std::size_t base,
                      std::size_t max_pieces) const;

  std::vector<std::string> vocab_;
  Map first_;   // pieces that start a word
  Map cont_;    // continuation pieces, stored without their prefix
  std::size_t max_first_bytes_ = 0;
  std::size_t max_cont_bytes_ = 0;
  std::size_t max_chars_per_word_ = 100;
  std::vector<std::pair<std::string, std::uint32_t>> added_;  // matched in raw text
  std::unordered_map<std::uint32_t, std::string> added_names_;  // added tokens past the vocabulary
  std::size_t max_added_id_ = 0;
  bool added_first_byte_[256] = {};
  std::uint32_t cls_ = 0, sep_ = 0, unk_ = 0;
  BertNormalizerOptions norm_;
};

}  // namespace tokenops::embed
