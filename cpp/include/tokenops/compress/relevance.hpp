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

/// Answer types of the answer-type prior (bit flags, so a chunk can hold several).
enum AnswerType : std::uint8_t {
  kAnswerNone = 0,
  kAnswerDate = 1u << 0,    // a year (1000-2099, "1990s") or a month name next to a number
  kAnswerNumber = 1u << 1,  // a number, a word with a digit, or a number word ("three", "million")
  kAnswerPerson = 1u << 2,  // two or more consecutive capitalised words of an entity-like span
  kAnswerPlace = 1u << 3,   // the same spans (no gazetteer: a place looks like a name)
};

/// The answer type a question asks for, from its first wh-word (a classic QA heuristic):
/// "when", "what/which year|date|day|month|century|decade|time" -> date; "who/whom/whose" ->
/// person; "where" -> place; "how many|much|long|old|far|big|large|often|tall|high" and
/// "what/which percentage|percent|number|amount|price|cost|age|population" -> number; anything
/// else (including "what happens when ...", whose first wh-word is "what") -> kAnswerNone.
/// Reads the question only (English).
AnswerType question_answer_type(std::string_view question);

/// Per chunk, the AnswerType bits among `want` of the candidates it holds (from its units:
/// kinds, digit, capital and entity flags, month and number words). A chunk's scan stops once
/// every wanted bit is found, so asking for one type costs less than asking for all.
std::vector<std::uint8_t> chunk_answer_types(std::string_view text, const Segmentation& seg,
                                             std::uint8_t want = kAnswerDate | kAnswerNumber |
                                                                 kAnswerPerson | kAnswerPlace);

class Bm25Relevance final : public ChunkScorer {
 public:
  explicit Bm25Relevance(Bm25Options options = {}) : opt_(options) {}
  std::string name() const override { return "bm25"; }
  void score_chunks(const ScoreContext& ctx, std::vector<float>& out) const override;

 private:
  Bm25Options opt_;
};

}  // namespace tokenops::compress
