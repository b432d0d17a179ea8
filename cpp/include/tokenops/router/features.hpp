#pragma once
// Router features: what a prompt looks like to a router, computed in one pass over its bytes.
//
//  * sparse block (2^hash_bits buckets): hashed word n-grams (ASCII-lowercased runs of letters,
//    digits and non-ASCII bytes) and hashed character n-grams (bytes of the lowercased text with
//    whitespace runs collapsed to one space). Each occurrence adds sign(h) / sqrt(N) to bucket
//    h mod 2^hash_bits, where N is the number of n-grams of that kind in the prompt (signed
//    hashing as in scikit-learn's HashingVectorizer; the 1/sqrt(N) makes the block length-free
//    and lets scoring stream without sorting).
//  * dense block: the length and structure signals named in dense_signal_names(), then
//    standardised with the mean/scale stored in the router file.
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

/// One prompt's sparse block: (bucket, value) pairs; a bucket may repeat (values add up).
struct SparseFeatures {
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  void clear() {
    index.clear();
    value.clear();
  }
};

/// Per-call scratch space (reuse one per thread to avoid allocations).
struct FeatureScratch {
  std::string text;
  std::vector<std::uint64_t> words;
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

  /// Hashed n-grams of `text` (valid UTF-8) into `out` (cleared first).
  void sparse(std::string_view text, SparseFeatures& out, FeatureScratch& scratch) const;
  /// Raw (unstandardised) dense signals of `text` into out[0 .. dense_signal_names().size()).
  void dense_raw(std::string_view text, float* out) const;
  /// Standardised dense signals (what the heads see).
  void dense(std::string_view text, float* out) const;

 private:
  io::RouterFeatureSpec spec_;
  std::shared_ptr<const tokenizer::Encoding> encoding_;
  std::uint32_t mask_ = 0;
  // open-addressing table of keyword hashes -> keyword group (0 = empty slot)
  std::vector<std::uint64_t> kw_keys_;
  std::vector<std::uint8_t> kw_group_;
  int keyword_group(std::uint64_t word_hash) const noexcept;
};

/// 64-bit hash of bytes (FNV-1a followed by a murmur3 finaliser), seeded; stable across platforms.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept;

}  // namespace tokenops::router
