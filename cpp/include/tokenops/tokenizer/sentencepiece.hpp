#pragma once
// SentencePiece BPE models (a `tokenizer.model` protobuf), as Mistral's v1/v2/v3/v7 tokenizers
// and Llama 2 use them: the input is normalised (spaces escaped as U+2581 "▁", a dummy "▁"
// prepended), split into characters (user-defined pieces matched whole and frozen), then the
// adjacent pair whose concatenation is a piece of the highest score merges first (leftmost among
// equal scores), as sentencepiece's bpe_model.cc does; characters left outside the vocabulary
// become their UTF-8 bytes' <0xXX> pieces (byte_fallback) or <unk>. No Python in here.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/tokenizer/byte_table.hpp"

namespace tokenops::tokenizer {

class SentencePieceBpe {
 public:
  using Id = std::uint32_t;
  enum Type : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  struct Piece {
    std::string text;
    float score = 0;
    int type = kNormal;
  };

  SentencePieceBpe();

  /// Parses a serialised ModelProto. Throws InvalidArgument naming `source` for a file that is
  /// not one, or for what tokenops does not implement (another model type or normalizer,
  /// whitespace removal, suffix whitespace, unused pieces).
  static std::shared_ptr<const SentencePieceBpe> from_model_proto(std::string_view data, std::string_view source);

  /// Ids of `text` (valid UTF-8), as SentencePieceProcessor.encode(text) without BOS / EOS.
  void encode(std::string_view text, std::vector<Id>& out) const;
  std::size_t count(std::string_view text) const;
  /// Text of ids, as SentencePieceProcessor.decode: control pieces are dropped, byte pieces
  /// joined into bytes (with replace_invalid, each byte that starts no valid UTF-8 character
  /// becomes U+FFFD, as there), "▁" read as a space, the dummy prefix's "▁" removed. Throws
  /// InvalidArgument for an id out of range.
  std::string decode(const Id* ids, std::size_t n, bool replace_invalid = true) const;

  std::size_t size() const noexcept { return pieces_.size(); }
  const Piece& piece(Id id) const { return pieces_.at(id); }
  Id unk_id() const noexcept { return unk_id_; }
  int bos_id() const noexcept { return bos_id_; }
  int eos_id() const noexcept { return eos_id_; }
  bool byte_fallback() const noexcept { return byte_fallback_; }

 private:
  template <class Emit>
  void run(std::string_view text, Emit&& emit) const;
  template <class Emit>
  void run_ids(std::string_view text, Emit&& emit) const;  // run, unknown runs collapsed
  struct Scratch {  // per call: the arrays of merge_segment, kept across its segments
    struct Pair {
      float score;
      std::uint32_t left, right, size;
    };
    std::vector<std::uint32_t> len;
    std::vector<std::int32_t> prev, next;
    std::vector<Pair> heap;
  };
  template <class Emit>
  void merge_segment(const std::string& norm, const std::uint32_t* start, const std::uint32_t* len,
                     std::size_t n, Scratch& scratch, Emit&& emit) const;
  template <class Emit>
  void emit_symbol(std::string_view s, Emit&& emit) const;

  std::uint64_t serial_;  // process-unique: tags this model's entries in the per-thread word memo
  std::vector<Piece> pieces_;
  ByteTable mergeable_;  // normal and user-defined pieces -> id
  std::array<std::vector<Id>, 256> user_by_first_;      // user-defined pieces by first byte, longest first
  std::array<Id, 256> byte_ids_{};
  std::vector<std::int16_t> byte_of_;  // per id: the byte of a <0xXX> piece, -1 for others
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool escape_whitespaces_ = true;
  bool split_words_ = false;  // no piece holds a non-"▁" character followed by "▁"
  std::vector<bool> ascii_pairs_ = std::vector<bool>(128 * 128, false);  // a piece holds a then b
  Id unk_id_ = 0;
  int bos_id_ = -1, eos_id_ = -1;
  std::string unk_surface_ = " \xE2\x81\x87 ";
};

}  // namespace tokenops::tokenizer
