#pragma once
// Context packing: choose retrieved passages under a token budget. Relevance is BM25 against the
// question (plus any extra per-passage relevance the caller supplies, e.g. embedding cosine),
// taken per token (value / (tokens / mean tokens)^cost_power), with maximal marginal relevance
// (Carbonell & Goldstein 1998) against the passages already chosen, over term-frequency cosine.
// Near-duplicates (redundancy.hpp: shingle Jaccard, MinHash) are never packed twice. Optionally the chosen passages are
// reordered so that the most relevant sit at the edges of the prompt ("lost in the middle",
// Liu et al. 2023): 1st, 3rd, 5th ... from the front, 2nd, 4th ... from the back. The joined text
// is counted; when it counts less than the passages and separators it was chosen on (".\n\n" is
// one token), the room left takes further picks.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/text/parallel.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::compress {

struct PackOptions {
  std::size_t budget = 0;           // tokens for the joined passages (separators included)
  float mmr_lambda = 0.7f;          // 1: relevance only; 0: diversity only
  float cost_power = 0.5f;          // 0: ignore length; 1: relevance per token
  float bm25_weight = 1.0f;         // weight of BM25 (normalised by its maximum)
  float extra_weight = 1.0f;        // weight of the caller's extra relevance
  bool reorder = false;             // most relevant at the edges
  bool dedup = true;                // skip near-duplicate passages
  std::string separator = "\n\n";
  text::StopFn stop;                // asked during the near-duplicate pass and before each step of
                                    // the picking (Ctrl-C); empty: never stop
};

struct PackResult {
  std::vector<std::uint32_t> selected;     // passage indices, in output order
  std::vector<float> relevance;            // per passage (combined, before MMR)
  std::vector<std::uint32_t> tokens;       // per passage
  std::vector<std::int32_t> duplicate_of;  // per passage
  std::string text;                        // the selected passages joined by the separator
  std::size_t total_tokens = 0;            // tokens of `text`
};

/// `extra_relevance` is empty or one value per passage.
PackResult pack(const tokenizer::Encoding& enc, const std::vector<std::string_view>& passages,
                std::string_view question, const std::vector<float>& extra_relevance,
                const PackOptions& options);

}  // namespace tokenops::compress
