#pragma once
// Parsers for public LLM price tables into tokenops' catalogue model (cost::ModelEntry):
//  * LiteLLM's model_prices_and_context_window.json (a flat object key -> fields, USD per unit);
//  * pydantic genai-prices v2 data.json (providers -> models with match rules, USD per million).
// A malformed row (a string where a number belongs, a threshold that does not parse, a negative
// price) is skipped and reported as an ImportProblem naming the key and field; the rest is kept.
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/cost/catalog.hpp"

namespace tokenops::io {

struct PriceImport {
  std::vector<cost::ModelEntry> entries;
  std::vector<cost::ImportProblem> problems;
};

/// `source` names the file in messages and is stored as each entry's provenance;
/// `checked_date` is the date the prices were checked (ISO, may be empty).
PriceImport parse_litellm_prices(std::string_view json, std::string_view source, std::string_view checked_date);

/// genai-prices v2 data.json. Entry keys are "<provider id>/<model id>"; model match clauses
/// become MatchRules; date-constrained prices become rows with effective date ranges; tiered
/// prices become cliff rows.
PriceImport parse_genai_prices(std::string_view json, std::string_view source, std::string_view checked_date);

}  // namespace tokenops::io
