#pragma once
// The budgeted selector with LLMLingua-2's semantics, on the target model's tokens:
//  1. segment into units (words, numbers, punctuation, newlines, CJK characters...) grouped in
//     chunks (sentences, lines) and atomic groups (entities, "$5", protected spans);
//  2. score units (weighted unit scorers, each normalised to percentiles) and chunks (weighted
//     chunk scorers such as BM25, normalised by their maximum, plus a small position prior and
//     an answer-type prior: "when" questions favour chunks with dates, "who" names...);
//     near-duplicate chunks get the lowest priority;
//  3. coarse stage: with a question, keep the best chunks up to `chunk_slack` x the budget;
//     without one, drop duplicate chunks only;
//  4. fine stage: force-keep protected/structural units, force tokens (\n ? ! .), words with
//     digits, URLs and code; then keep the highest-scoring units until the budget, in their
//     original order; drop consecutive duplicates of force tokens;
//  5. count the output with the target encoding and adjust until the count is within
//     max(1%, 5 tokens) below the target (or the forced units alone exceed it).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenops/text/parallel.hpp"
#include "tokenops/compress/scorer.hpp"
#include "tokenops/compress/segment.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::compress {

struct CompressOptions {
  double rate = 0.0;                // kept fraction of tokens, in (0, 1]; 0 = not set
  std::int64_t target_tokens = -1;  // token budget (> 0); -1 = not set
  std::string question;             // empty: no question-aware stage
  std::vector<std::string> force_tokens = {"\n", "?", "!", "."};
  bool force_digits = true;         // words containing a digit are always kept (fine stage)
  bool force_entities = false;      // entity-like spans always kept (they are atomic anyway)
  bool force_code = true;           // code blocks / inline code and URLs always kept
  bool drop_consecutive = true;     // drop a force token equal to the previous kept unit
  bool json = false;                // structure-preserving mode for JSON input
  std::vector<std::pair<std::uint32_t, std::uint32_t>> protected_spans;  // byte ranges
  float chunk_slack = 1.0f;         // coarse stage keeps up to this multiple of the budget
  float chunk_weight = 1.0f;        // weight of the chunk priority in the unit scores
  float position_weight = 0.15f;    // prior for earlier chunks (question-aware mode)
  /// Answer-type prior (question-aware mode): a chunk holding a candidate of the type the
  /// question's wh-word asks for (question_answer_type: date, number, person, place) gets this
  /// much added to its priority (relevance is normalised to at most 1). 0 turns it off.
  float answer_type_weight = 0.15f;
  bool dedup = true;                // near-duplicate chunks are dropped first
  text::StopFn stop;                // asked between stages and embedding batches (Ctrl-C): once
                                    // true, compress returns early and the caller discards it
};

struct CompressResult {
  std::string text;
  std::size_t original_tokens = 0;
  std::size_t compressed_tokens = 0;
  std::size_t target_tokens = 0;
  bool within_tolerance = true;     // |compressed - target| <= max(1% of target, 5) or unchanged
  bool forced_over_budget = false;  // the units that must survive alone exceed the target
  Segmentation seg;
  std::vector<std::uint32_t> unit_tokens;  // target-model tokens attributed to each unit
  std::vector<float> unit_scores;          // combined score of each unit (forced: +inf)
  std::vector<float> chunk_scores;         // combined chunk priority
  std::vector<std::int32_t> duplicate_of;  // per chunk: earlier chunk it duplicates, or -1
  std::vector<std::uint8_t> kept;          // per unit
};

/// Tolerance on the achieved token count: max(1% of the target, 5 tokens).
std::size_t budget_tolerance(std::size_t target) noexcept;

class Compressor {
 public:
  Compressor(std::shared_ptr<const tokenizer::Encoding> encoding,
             std::vector<Weighted<UnitScorer>> unit_scorers,
             std::vector<Weighted<ChunkScorer>> chunk_scorers);

  /// `text` must be valid UTF-8 (the binding checks). Throws InvalidArgument on a bad budget.
  CompressResult compress(std::string_view text, const CompressOptions& options) const;

  /// One result per text; questions empty or one per text. Identical for any thread count.
  std::vector<CompressResult> compress_batch(const std::vector<std::string_view>& texts,
                                             const std::vector<std::string_view>& questions,
                                             const CompressOptions& options, int num_threads) const;

  const tokenizer::Encoding& encoding() const noexcept { return *enc_; }
  /// Token count of text under the target encoding (ordinary text, no special tokens).
  std::size_t count(std::string_view text) const { return enc_->count_ordinary(text); }

 private:
  std::shared_ptr<const tokenizer::Encoding> enc_;
  std::vector<Weighted<UnitScorer>> unit_scorers_;
  std::vector<Weighted<ChunkScorer>> chunk_scorers_;
};

/// Reassembles the kept units: verbatim whitespace between neighbours, a single space (or
/// nothing, for unspaced scripts and punctuation) across a gap; a word after kept punctuation
/// (not an opening bracket or quote) across a gap gets a space, so no new number forms
/// ("1998." "3" -> "1998. 3"); a kept newline run next to a gap loses its inner spaces.
std::string assemble(std::string_view text, const Segmentation& seg,
                     const std::vector<std::uint8_t>& kept);

/// Rank percentiles in [0, 1] (ties share their mean rank); all 0.5 for constant input.
std::vector<float> percentiles(const std::vector<float>& v);

}  // namespace tokenops::compress
