#pragma once
// The cost engine: mode "exact" (integer atto-USD over tokenops' price rows) and mode "litellm"
// (float64, LiteLLM's operation order over the fields its cost code reads), per call and batched.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenops/text/parallel.hpp"
#include "tokenops/cost/catalog.hpp"

namespace tokenops::cost {

/// Normalised usage: disjoint buckets (see Bucket). Build it from provider responses with the
/// Python usage table (tokenops.pricing.usage); counts must be >= 0.
struct Usage {
  std::array<std::int64_t, kNumBuckets> n{};
  std::int64_t input_total() const {
    std::int64_t s = 0;
    for (int b = 0; b <= kCacheWrite1h; ++b) s += n[b];
    return s;
  }
  std::int64_t output_total() const { return n[kOutputText] + n[kReasoning] + n[kOutputAudio] + n[kOutputImage]; }
};

/// Throws InvalidArgument naming the bucket when a count is negative.
void validate_usage(const Usage& u);

struct CostLine {
  int bucket = 0;
  std::int64_t units = 0;
  i128 price_atto = 0;  // per unit
  i128 cost_atto = 0;
  std::string row;   // the price row's label ("standard", "standard >200k", ...)
  std::string note;  // a documented fallback, e.g. "reasoning billed at the output rate"
};

struct ExactCost {
  i128 total_atto = 0;
  std::vector<CostLine> lines;
  std::string row;  // label of the row that priced the request
};

/// Prices `u` with the entry's rows for `tier` on `date` (days since epoch; rows effective then).
/// Throws InvalidArgument when a bucket with tokens has no price (never a silent $0), naming the
/// model, the bucket and the tier.
ExactCost price_exact(const ModelEntry& e, const Usage& u, ServiceTier tier, std::int32_t date);

/// LiteLLM routes (which of its provider cost functions cost_per_token dispatches to).
enum class LitellmRoute : std::uint8_t {
  Generic = 0,        // generic_cost_per_token with service_tier
  GenericNoTier,      // anthropic, deepseek: service_tier not passed on
  Vertex,             // google cost_per_token (128k handling, then generic)
  VertexNoTier,       // vertex models routed through cost_per_character (tier dropped)
  Simple,             // databricks / fireworks_ai: prompt*in, completion*out
  Perplexity,
  Dashscope,
  Xai,
  Zero,               // lemonade
  AzurePerSecond,     // azure entries with output_cost_per_second: 0 for response_time_ms=0
  OtherPerSecond,     // unknown providers with no token prices: per-second costs x 0 ms
  Unmapped            // LiteLLM raises "This model isn't mapped yet"
};
const char* litellm_route_name(LitellmRoute r);

/// A model name resolved the way LiteLLM's cost_per_token resolves it.
struct LitellmTarget {
  LitellmRoute route = LitellmRoute::Unmapped;
  std::size_t index = 0;           // the catalogue entry get_model_info() returns
  std::string route_provider;      // custom_llm_provider LiteLLM derives
  std::string model_arg;
  double router_flat_input = NAN;  // azure_ai model-router flat cost per input token
};
LitellmTarget litellm_target(const Catalog& cat, std::string_view model);

struct LitellmCost {
  double prompt = 0.0;
  double completion = 0.0;
  double total = 0.0;  // prompt + completion, as completion_cost() adds them
  std::array<double, kNumBuckets> parts;  // per-bucket contributions (NaN: not separately priced)
  std::string tier;                       // e.g. "above_200k_tokens" when a threshold fired
  LitellmCost() { parts.fill(NAN); }
};

/// Service tier as LiteLLM sees it: Standard -> None, Flex/Priority -> "flex"/"priority",
/// Batch -> call_type="retrieve_batch" (batch_cost_calculator).
LitellmCost price_litellm(const Catalog& cat, const LitellmTarget& t, const Usage& u, ServiceTier tier);

/// Batch pricing over columns. `model_codes[i]` indexes `models` (names resolved once); each of
/// the kNumBuckets column pointers may be null (zeros). Writes totals (USD float64) to
/// `out_total`, and for mode litellm the prompt/completion split when non-null. For exact mode
/// `out_total` is the exact atto total rounded once to float64; the exact grand total is returned.
enum class Mode : std::uint8_t { Litellm = 0, Exact };
struct BatchModel {
  std::size_t index = 0;      // exact: entry index
  LitellmTarget target;       // litellm
};
i128 price_batch(const Catalog& cat, Mode mode, const std::vector<BatchModel>& models,
                 const std::int32_t* model_codes, const std::array<const std::int64_t*, kNumBuckets>& cols,
                 std::size_t n, ServiceTier tier, std::int32_t date, int num_threads, double* out_total,
                 double* out_prompt, double* out_completion, const text::StopFn& stop = {});

/// i128 atto-USD -> decimal string "0.054399" (exact) and -> nearest float64.
std::string atto_to_string(i128 atto);
double atto_to_double(i128 atto);

}  // namespace tokenops::cost
