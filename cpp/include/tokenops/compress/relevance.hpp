#pragma once
// Question-aware relevance with BM25 (Robertson/Sparck Jones, k1 = 1.2, b = 0.75, the "+1" idf of
// Lucene and rank_bm25's BM25Okapi-style term weighting without its negative idf).
// Sentences and the lines (paragraphs) holding them are both scored; a sentence's relevance
// mixes the two so that the sentence next to the matching words survives with them.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/compress/scorer.hpp"

namespace tokenops::compress {

/// Lower-cased, lightly stemmed terms of units [first, last) (words, numbers, characters).
/// With `drop_stopwords`, English function words are skipped (used for questions).
void unit_terms(std::string_view text, const Segmentation& seg, std::uint32_t first,
                std::uint32_t last, bool drop_stopwords, std::vector<std::string>& out);

/// Terms of a free text (segmented on the fly).
std::vector<std::string> text_terms(std::string_view text, bool drop_stopwords);

/// A light English stemmer (plural and -ing/-ed endings); other strings unchanged.
std::string light_stem(std::string_view folded);

bool is_stopword(std::string_view folded) noexcept;

/// BM25 score of every document (a list of terms) for the query terms, with idf computed over
/// these documents. Scores are >= 0.
std::vector<float> bm25(const std::vector<std::string>& query,
                        const std::vector<std::vector<std::string>>& docs, float k1 = 1.2f,
                        float b = 0.75f);

struct Bm25Options {
  float sentence_weight = 0.5f;   // sentence-level BM25 (normalised by its max)
  float paragraph_weight = 0.5f;  // BM25 of the line holding the sentence (normalised)
  float neighbour_weight = 0.3f;  // share of the best neighbouring sentence's score
  /// Lines longer than 2x this many terms are scored as overlapping windows of this size
  /// (whole sentences, stride half a window); 0 (default): lines are always scored whole.
  /// Off by default: it helps transcripts without newlines and hurts single-line Wikipedia
  /// pages (docs/compression.md).
  std::uint32_t window_terms = 0;
};

class Bm25Relevance final : public ChunkScorer {
 public:
  explicit Bm25Relevance(Bm25Options options = {}) : opt_(options) {}
  std::string name() const override { return "bm25"; }
  void score_chunks(const ScoreContext& ctx, std::vector<float>& out) const override;

 private:
  Bm25Options opt_;
};

}  // namespace tokenops::compress
