#pragma once
// Encoding: an immutable byte-level BPE tokenizer (tiktoken rank-based BPE, or Hugging Face
// merge-list BPE) with a hand-written pre-tokenizer and special tokens. Safe to share across
// threads: every method is const and keeps its scratch space on the stack or in locals.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/tokenizer/byte_table.hpp"
#include "tokenops/tokenizer/pretokenize.hpp"

namespace tokenops::tokenizer {

using Rank = std::uint32_t;
constexpr Rank kNoRank = 0xFFFFFFFFu;

struct SpecialToken {
  std::string text;
  Rank id;
  /// A Hugging Face added token that is not special ("special": false): matched in all text,
  /// encode_ordinary included, as HF does; never one of the special tokens the API reports.
  bool always = false;
  /// Hugging Face's lstrip / rstrip: a match takes the run of Unicode White_Space just before
  /// (lstrip, back to the previous match) or after it (rstrip) into the token, as HF's
  /// AddedVocabulary does; those spaces then decode to nothing.
  bool lstrip = false;
  bool rstrip = false;
};

/// Everything needed to build an Encoding. In rank mode (merges empty) the id of each mergeable
/// token is also its merge priority, as in tiktoken. In merge mode (Hugging Face BPE), `merges`
/// lists (left id, right id, result id) in priority order.
struct EncodingSpec {
  std::string name;
  PreTokenizer pretokenizer = PreTokenizer::CL100K;
  std::vector<std::string> tokens;  // bytes of each mergeable token
  std::vector<Rank> ids;            // id of each mergeable token
  std::vector<SpecialToken> specials;
  std::vector<std::array<Rank, 3>> merges;
  bool merge_mode = false;     // merge-list BPE (HF) even with no merges; else ranks (tiktoken)
  bool ignore_merges = false;  // HF: a piece that is itself a token is emitted without merging
};

/// Which special tokens `encode` may emit: one flag per entry of Encoding::specials().
using SpecialMask = std::vector<std::uint8_t>;

class Encoding {
 public:
  explicit Encoding(EncodingSpec spec);

  const std::string& name() const noexcept { return name_; }
  PreTokenizer pretokenizer() const noexcept { return pretok_; }
  bool merge_mode() const noexcept { return merge_mode_; }
  const std::vector<SpecialToken>& specials() const noexcept { return specials_; }
  std::size_t n_mergeable() const noexcept { return n_mergeable_; }
  Rank max_token_value() const noexcept { return max_token_; }
  std::size_t memory_bytes() const noexcept;

  /// Empties every thread's memo of BPE results (benchmarks use it to time cold runs): the
  /// calling thread's now, each other thread's (pooled batch workers) before its next lookup.
  static void clear_memos() noexcept;

  // ---- encoding (text must be valid UTF-8; the binding guarantees it) ----
  void encode_ordinary(std::string_view text, std::vector<Rank>& out) const;
  /// Encodes text, emitting the special tokens allowed by `allowed` (others are plain text).
  void encode(std::string_view text, const SpecialMask& allowed, std::vector<Rank>& out) const;
  std::size_t count_ordinary(std::string_view text) const;
  std::size_t count(std::string_view text, const SpecialMask& allowed) const;
  /// BPE of raw bytes as one piece (no pre-tokenization, no special tokens).
  void encode_single_piece(std::string_view bytes, std::vector<Rank>& out) const;
  /// The same with the plain O(n log n) heap merge for every length: the reference the chunked
  /// long-piece algorithm is tested against.
  void encode_single_piece_reference(std::string_view bytes, std::vector<Rank>& out) const;
  /// Id of a token given its exact bytes (mergeable or special); kNoRank when absent.
  Rank token_id(std::string_view bytes) const noexcept;
  /// BPE of raw bytes with no pre-tokenizer and no whole-token shortcut (tiktoken's
  /// byte_pair_encode): what a piece would encode to if the pre-tokenizer left it whole.
  void byte_pair_encode(std::string_view bytes, std::vector<Rank>& out) const;

  /// tiktoken's encode_with_unstable (cpp/src/tokenizer/unstable.cpp): the tokens that stay the
  /// same whatever text is appended, and every token sequence the unstable rest could start with
  /// once more text follows (sorted, without repeats). `text` is valid UTF-8.
  struct Unstable {
    std::vector<Rank> tokens;
    std::vector<std::vector<Rank>> completions;
  };
  Unstable encode_with_unstable(std::string_view text, const SpecialMask& allowed) const;
  /// tiktoken's _encode_bytes: encodes bytes that may end in (or hold) invalid UTF-8. The valid
  /// prefix is encoded as text; the tokens of its last piece and the bytes after it are re-encoded
  /// together by byte_pair_encode.
  void encode_bytes(std::string_view bytes, std::vector<Rank>& out) const;
  /// Mergeable token ids ordered by their bytes (built on first use, thread-safe).
  const std::vector<Rank>& tokens_by_bytes() const;

  /// Byte length of the longest prefix of `text` (a token-boundary cut on a UTF-8 character
  /// boundary) whose encoding has at most max_tokens tokens.
  std::size_t truncate_prefix(std::string_view text, std::size_t max_tokens,
                              const SpecialMask& allowed) const;
  /// Byte offset where the shortest suffix with at most max_tokens tokens starts (same rules).
  std::size_t truncate_suffix_start(std::string_view text, std::size_t max_tokens,
                                    const SpecialMask& allowed) const;

  // ---- special tokens ----
  struct SpecialMatch {
    std::size_t pos = std::string_view::npos;  // npos: none found
    std::size_t index = 0;                     // index into specials()
  };
  /// Leftmost occurrence at or after `from` of a special token whose mask flag is set
  /// (all of them when mask is null).
  SpecialMatch find_special(std::string_view text, std::size_t from,
                            const SpecialMask* mask) const noexcept;

  // ---- decoding ----
  bool has_token(Rank id) const noexcept {
    return id < dec_len_.size() && dec_len_[id] != kNoRank;
  }
  std::string_view token_bytes(Rank id) const;  // throws NotFound
  std::string decode_bytes(const Rank* ids, std::size_t n) const;  // throws NotFound
  /// Byte length of the decoding of ids without materialising it; throws NotFound.
  std::size_t decoded_length(const Rank* ids, std::size_t n) const;

 private:
  template <class Emit>
  void bpe(const unsigned char* p, std::size_t len, Emit&& emit) const;
  template <class Emit>
  void bpe_memo(const unsigned char* p, std::size_t len, std::uint64_t hash, Emit&& emit) const;
  template <class Emit>
  void bpe_small(const unsigned char* p, std::size_t len, Emit&& emit) const;
  /// Merge-list models: merges linked parts (end/prev/tok indexed by byte offset).
  template <class Emit>
  void bpe_run(const unsigned char* p, std::size_t len, std::uint32_t* end, std::uint32_t* prev,
               Rank* tok, Emit&& emit) const;
  /// Rank mode: merges the m parts starting at pos[0..m) (pos[m] = the piece's length, tok[i]
  /// the token of part i) in tiktoken's order; the arrays are kept compact (one entry per part).
  template <class Emit>
  void bpe_parts(const unsigned char* p, std::uint32_t* pos, Rank* tok, std::size_t m,
                 Emit&& emit) const;
  /// Rank mode, valid UTF-8 of at most kSmallPiece bytes: BPE started from per-character
  /// tokens where that is exact; false (nothing emitted) for invalid UTF-8.
  template <class Emit>
  bool bpe_chars(const unsigned char* p, std::size_t len, Emit&& emit) const;
  void build_char_starts(const std::vector<std::string_view>& keys, const std::vector<Rank>& ids);
  bool crosses(std::uint32_t left, std::uint32_t right) const noexcept;
  template <class Emit>
  void bpe_large(const unsigned char* p, std::size_t len, Emit&& emit) const;
  template <class Emit>
  void bpe_long(const unsigned char* p, std::size_t len, Emit&& emit) const;
  /// True when BPE of bytes(a) + bytes(b) is exactly [a, b]; stores that BPE in `out` if given.
  bool pair_encoding(Rank a, Rank b, std::vector<Rank>* out) const;
  bool compatible(Rank a, Rank b) const;
  template <class Emit>
  void run_ordinary(std::string_view text, Emit&& emit) const;
  template <class Emit>
  void run_plain(std::string_view text, Emit&& emit) const;  // BPE pieces only, no added tokens
  template <class Emit>
  void run_segments(std::string_view text, const SpecialMask& mask, Emit&& emit) const;
  SpecialMask with_always(const SpecialMask& allowed) const;
  template <class Emit>
  void run_with_specials(std::string_view text, const SpecialMask& allowed, Emit&& emit) const;
  template <PreTokenizer P, class Emit>
  void run_pieces(const unsigned char* s, std::size_t n, Emit&& emit) const;

  // Priority and result of merging the adjacent tokens (a: bytes [p, p+la), id ta) and
  // (b: bytes [p+la, p+la+lb), id tb). Returns kNoRank priority when they do not merge.
  inline std::uint64_t pair(const unsigned char* p, std::size_t len, Rank ta, Rank tb) const noexcept;

  std::string name_;
  std::uint64_t serial_;  // process-unique identity, tags this encoding's entries in BPE memos
  PreTokenizer pretok_;
  bool merge_mode_ = false;
  bool ignore_merges_ = false;
  std::size_t n_mergeable_ = 0;
  Rank max_token_ = 0;

  ByteTable table_;                     // mergeable token bytes -> id
  std::vector<std::uint8_t> whole_ok_;  // merge mode: a piece equal to token i encodes as [i]
  std::array<Rank, 256> byte_id_{};     // id of each single-byte token
  std::vector<Rank> pair2_;             // rank mode: id of each 2-byte token (65536 entries)
  std::vector<Rank> utf8_3_;            // rank mode: id of each 3-byte UTF-8 character token

  // Rank mode: BPE start of each character U+0080..U+FFFF (see build_char_starts).
  struct CharStart {
    Rank t0 = 0, t1 = 0;    // tokens of the character's solo BPE (t1 only when n == 2)
    std::uint8_t n = 0;     // 1 or 2 tokens; 0: start from bytes (no solo merge, or unsafe)
    std::uint8_t len0 = 0;  // byte length of t0
    std::uint8_t lead = 0;  // bit k-1: its k-byte suffix begins a boundary-crossing token
    std::uint8_t tail = 0;  // bit j-1: its j-byte prefix ends a boundary-crossing token
    std::uint8_t cross = 0; // follows / precedes a partial character inside some token
  };
  std::array<std::uint8_t, 128> ascii_cross_{};  // the same for ASCII characters
  std::vector<CharStart> char_start_;
  // (left unit, right unit) pairs, one of them a partial character, adjacent inside a token.
  std::vector<std::uint64_t> cross_keys_;
  std::size_t cross_mask_ = 0;

  // merge mode: (left << 32 | right) -> (priority << 32 | result), open addressing
  std::vector<std::uint64_t> merge_keys_;
  std::vector<std::uint64_t> merge_vals_;
  std::size_t merge_mask_ = 0;

  std::vector<SpecialToken> specials_;
  std::array<std::uint8_t, 256> special_first_{};  // first bytes of special tokens
  std::vector<std::uint8_t> special_prefix2_ = std::vector<std::uint8_t>(65536, 0);
  bool has_short_special_ = false;                 // a one-byte special token exists
  SpecialMask always_;                             // the always-matched added tokens
  bool has_always_ = false;
  int single_first_ = -1;                          // the only first byte, if there is one
  std::vector<std::size_t> special_lengths_;       // distinct lengths, longest first
  ByteTable special_table_;                        // special text -> index into specials_

  std::string dec_bytes_;
  std::vector<std::uint32_t> dec_off_;
  std::vector<std::uint32_t> dec_len_;

  // Unstable-token support (unstable.cpp).
  std::size_t last_segment_start(std::string_view text, const SpecialMask& allowed) const;
  std::size_t last_piece_tokens(std::string_view text, const SpecialMask& allowed) const;
  /// Where the text after special match `m` starts: past the token, and past the white space
  /// after it when the token has rstrip.
  std::size_t after_special(std::string_view text, const SpecialMatch& m) const;
  std::size_t widen_over_spaces(const Rank* tokens, std::size_t n, std::size_t last) const;
  struct Lazy;
  static std::shared_ptr<Lazy> make_lazy();
  std::shared_ptr<Lazy> lazy_ = make_lazy();  // its contents are built on first use
};

/// Incremental decoder for token streams: returns text as soon as it forms complete UTF-8
/// characters and holds back a trailing incomplete sequence until the next push or flush.
class StreamDecoder {
 public:
  explicit StreamDecoder(std::shared_ptr<const Encoding> enc) : enc_(std::move(enc)) {}
  /// Appends the bytes of `ids` and returns the bytes that are ready (complete characters).
  std::string push(const Rank* ids, std::size_t n);
  /// Returns whatever is held back (possibly an incomplete sequence) and resets.
  std::string flush();
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  std::shared_ptr<const Encoding> enc_;
  std::string pending_;
};

}  // namespace tokenops::tokenizer
