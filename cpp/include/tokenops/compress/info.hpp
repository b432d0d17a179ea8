#pragma once
// Model-free self-information: I(w) = -log2 p(w), with p from word-frequency lists (the PyPI
// package wordfreq, read at run time by the Python layer) refined by a word-bigram model the
// project trains itself (scripts/train_compress_ngram.py): p(w | prev) by absolute discounting
// that backs off to the frequency list. Predictable words carry few bits and go first.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenops/compress/scorer.hpp"
#include "tokenops/io/ngram_file.hpp"

namespace tokenops::compress {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

/// Unigram probabilities of lower-cased words. Immutable.
class FrequencyTable {
 public:
  /// `freqs[i]` is the relative frequency of `words[i]` (in (0, 1]); words are lower-cased with
  /// fold_case. `floor` is the probability of an unknown word (defaults to the smallest listed /
  /// 10).
  FrequencyTable(const std::vector<std::string>& words, const std::vector<double>& freqs,
                 double floor = 0.0);
  /// -log2 p(word) for a folded word; the floor for unknown words.
  float bits(std::string_view folded) const noexcept;
  double prob(std::string_view folded) const noexcept;
  float unknown_bits() const noexcept { return unknown_bits_; }
  std::size_t size() const noexcept { return prob_.size(); }

 private:
  StringMap<float> prob_;
  double floor_ = 1e-9;
  float unknown_bits_ = 30.0f;
};

/// Word bigram counts with absolute discounting. Immutable.
class BigramModel {
 public:
  explicit BigramModel(const io::BigramData& data);
  /// p(w | prev) = max(c(prev,w) - D, 0)/c(prev) + D * N1+(prev)/c(prev) * p_backoff(w);
  /// p_backoff when prev is unknown.
  double prob(std::string_view prev, std::string_view word, double p_backoff) const noexcept;
  /// p(word) from the model's own unigram counts (used when no frequency list is given).
  double unigram(std::string_view word) const noexcept;
  std::size_t n_words() const noexcept { return counts_.size(); }
  std::size_t n_bigrams() const noexcept { return pairs_.size(); }

 private:
  StringMap<std::uint32_t> ids_;
  std::vector<std::uint32_t> counts_, successors_;
  std::unordered_map<std::uint64_t, std::uint32_t> pairs_;
  double discount_ = 0.75;
  double total_ = 1.0;
};

/// The self-information unit scorer. Either part may be null (not both).
class SelfInformation final : public UnitScorer {
 public:
  SelfInformation(std::shared_ptr<const FrequencyTable> freq, std::shared_ptr<const BigramModel> bigram);
  std::string name() const override { return "self_information"; }
  void score_units(const ScoreContext& ctx, std::vector<float>& out) const override;
  /// Bits of `word` after `prev` (both folded; prev "<s>" at a sentence start).
  float word_bits(std::string_view prev, std::string_view word) const noexcept;

 private:
  std::shared_ptr<const FrequencyTable> freq_;
  std::shared_ptr<const BigramModel> bigram_;
};

}  // namespace tokenops::compress
