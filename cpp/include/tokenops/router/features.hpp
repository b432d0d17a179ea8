#pragma once
// Router features: what a prompt looks like to a router, computed in one pass over its bytes.
//
//  * sparse block (2^hash_bits buckets): hashed word n-grams and hashed character n-grams.
//    Words are maximal runs of ASCII letters/digits and non-ASCII bytes, ASCII-lowercased; a
//    word's hash folds its bytes in 8-byte little-endian chunks through fmix64 (see
//    word_hash()), n-grams of words chain those hashes. Character n-grams are taken over the
//    bytes of the lowercased text with whitespace runs collapsed to one space. Each occurrence
//    adds sign(h) * v to bucket h mod 2^hash_bits (signed hashing as in scikit-learn's
//    HashingVectorizer), with one v per kind (word, character) chosen so that kind's summed
//    buckets have unit L2 norm: v = 1 / sqrt(sum over buckets of (signed count)^2), as
//    HashingVectorizer(norm="l2") per block. A prompt repeating one n-gram c times thus weighs
//    like one occurrence, and scoring still streams over the occurrences without sorting.
//  * dense block: the length and structure signals named in dense_signal_names(), then
//    standardised with the mean/scale stored in the router file. `log_tokens` is the exact
//    token count of the file's tokenizer when it names one, else estimate_tokens()'s estimate
//    (same pass, no tokenizer; what the shipped routers use, to stay within a few µs).
//  * embedding block: supplied by the caller (the native embedder), not computed here.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/io/router_file.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::router {

/// Names of the dense signals, in the order the extractor writes them.
const std::vector<std::string>& dense_signal_names();

/// One prompt's sparse block, allocation-free once warm: `code` is a buffer that only grows;
/// its first size() entries are the n-gram occurrences (word n-grams first, then character
/// n-grams), each `bucket | sign << 31`. A bucket may repeat (values add up).
struct SparseFeatures {
  std::vector<std::uint32_t> code;
  std::size_t n_word = 0, n_char = 0;
  float word_value = 0.0f, char_value = 0.0f;  // |value| of one word / character n-gram

  std::size_t size() const noexcept { return n_word + n_char; }
  std::uint32_t index(std::size_t k) const noexcept { return code[k] & 0x7FFFFFFFu; }
  float value(std::size_t k) const noexcept {
    const float v = k < n_word ? word_value : char_value;
    return (code[k] >> 31) ? -v : v;
  }
  void clear() noexcept {
    n_word = n_char = 0;
    word_value = char_value = 0.0f;
  }
};

/// Per-thread scratch space (reuse one per thread; it only grows).
struct FeatureScratch {
  std::string text;                    // normalised text for character n-grams
  std::vector<std::uint64_t> bits;     // byte-class bitmaps
  std::vector<std::uint32_t> bounds;   // word starts and ends
  std::vector<std::uint64_t> counts;   // open-addressed (bucket + 1) << 32 | signed count
};

/// Immutable feature extractor; thread-safe (all methods const, scratch kept by the caller).
class FeatureExtractor {
 public:
  /// `encoding` is required when the spec's dense block is on and names an encoding.
  FeatureExtractor(const io::RouterFeatureSpec& spec,
                   std::shared_ptr<const tokenizer::Encoding> encoding);

  const io::RouterFeatureSpec& spec() const noexcept { return spec_; }
  std::size_t sparse_dim() const noexcept { return spec_.hash_bits > 0 ? (std::size_t{1} << spec_.hash_bits) : 0; }
  std::size_t dense_dim() const noexcept { return spec_.dense ? dense_signal_names().size() : 0; }
  std::size_t embedding_dim() const noexcept { return static_cast<std::size_t>(spec_.embedding_dim); }
  /// Total feature width: sparse | dense | embedding.
  std::size_t dim() const noexcept { return sparse_dim() + dense_dim() + embedding_dim(); }

  /// One pass over `text` (UTF-8; invalid bytes are counted, never read past the end): the
  /// sparse block into `*sparse` and the standardised (`standardise`) or raw dense signals into
  /// dense[0 .. dense_dim()), each when non-null and enabled by the spec.
  void extract(std::string_view text, SparseFeatures* sparse, float* dense, bool standardise,
               FeatureScratch& scratch) const;

  /// Hashed n-grams of `text` into `out`.
  void sparse(std::string_view text, SparseFeatures& out, FeatureScratch& scratch) const {
    extract(text, &out, nullptr, false, scratch);
  }
  /// Raw (unstandardised) dense signals of `text` into out[0 .. dense_signal_names().size()).
  void dense_raw(std::string_view text, float* out) const;
  /// Standardised dense signals (what the heads see).
  void dense(std::string_view text, float* out) const;

 private:
  io::RouterFeatureSpec spec_;
  std::shared_ptr<const tokenizer::Encoding> encoding_;
  std::uint32_t mask_ = 0;
  bool exact_tokens_ = false;
  // keyword hashes -> keyword group in 2-way buckets (0 = empty slot); see the constructor
  static constexpr int kKeywordBits = 9;
  std::uint64_t kw_mult_ = 0;
  std::vector<std::uint64_t> kw_keys_;
  std::vector<std::uint8_t> kw_group_;
  int keyword_group(std::uint64_t word_hash) const noexcept;
  void char_ngrams(std::string_view text, SparseFeatures& out, FeatureScratch& scratch) const;
};

/// The hash of one word's bytes (already lowercased), as the sparse block and the keyword
/// table use it: h = seed; h = fmix64(h ^ chunk) for each full 8-byte little-endian chunk;
/// then fmix64(h ^ tail ^ len * 0x9E3779B97F4A7C15) with the remaining 0-7 bytes zero-padded.
std::uint64_t word_hash(std::string_view lowered_word) noexcept;

namespace detail {
/// Bit i of word[i / 64] / digit[i / 64] / high[i / 64]: byte i is a word byte (ASCII letter or
/// digit, or >= 0x80) / an ASCII digit / >= 0x80; (n + 63) / 64 words each. byte_bitmaps uses
/// SSE2 where the target has it; the scalar version is its reference (tests compare them).
void byte_bitmaps(const unsigned char* p, std::size_t n, std::uint64_t* word, std::uint64_t* digit,
                  std::uint64_t* high) noexcept;
void byte_bitmaps_scalar(const unsigned char* p, std::size_t n, std::uint64_t* word,
                         std::uint64_t* digit, std::uint64_t* high) noexcept;
}  // namespace detail

}  // namespace tokenops::router
