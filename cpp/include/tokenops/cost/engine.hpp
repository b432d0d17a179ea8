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

/// What a response says about how the whole call was served, beyond its token counts:
/// Anthropic's usage.inference_geo ("global", "us", "not_available") and usage.speed
/// ("standard", "fast"). Empty: not reported. Each is a price multiplier the catalogue entry
/// lists (ModelEntry::multipliers, LiteLLM's provider_specific_entry).
struct CallContext {
  std::string inference_geo;
  std::string speed;
  bool empty() const { return inference_geo.empty() && speed.empty(); }
};

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
/// model, the bucket and the tier. `ctx` multiplies every token price (not per-request or
/// per-search fees) by the entry's multiplier for the inference geo / speed it names, as the
/// provider bills them (Anthropic: 1.1x for US-only inference, 6x for fast mode, cache reads and
/// writes included); a geo or speed the entry lists no multiplier for is an InvalidArgument.
ExactCost price_exact(const ModelEntry& e, const Usage& u, ServiceTier tier, std::int32_t date,
                      const CallContext& ctx = {});

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
  std::array<std::int64_t, kNumBuckets> units{};  // the token count each part multiplies
  double multiplier = 1.0;                // Anthropic geo / speed multiplier LiteLLM applied
  std::string tier;                       // e.g. "above_200k_tokens" when a threshold fired
  LitellmCost() { parts.fill(NAN); }
};

/// LiteLLM's `Usage` object as its cost code reads it. Built from tokenops buckets (the counts
/// LiteLLM would derive from them), or given as is where LiteLLM's own Usage says something the
/// buckets cannot hold: an explicit prompt `text_tokens` below what the other parts leave (Gemini
/// VIDEO tokens, which LiteLLM leaves unpriced) or negative (its implicit-caching subtraction),
/// a prompt_tokens without Gemini's toolUsePromptTokenCount.
struct LitellmUsage {
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  bool has_prompt_details = false;  // usage.prompt_tokens_details is set
  std::int64_t text = 0;            // prompt_tokens_details.text_tokens (0: not set; may be < 0)
  std::int64_t cache_hit = 0, cc_5m = 0, cc_1h = 0, audio = 0, image = 0;
  std::int64_t c_text = 0;          // completion_tokens_details.text_tokens (0: not set)
  std::int64_t c_reasoning = 0, c_audio = 0, c_image = 0;
  std::int64_t web_search = 0;      // prompt_tokens_details.web_search_requests (Perplexity's searches)
  std::int64_t citation = 0;        // usage.citation_tokens (Perplexity)
  std::int64_t image_count = 0;     // prompt_tokens_details.image_count (Vertex: images, not tokens)
  // xAI: completion_tokens_details.reasoning_tokens are not part of completion_tokens
  // (total_tokens != prompt + completion, xAI's own usage); LiteLLM's xAI calculator adds them
  bool reasoning_on_top = false;
};
/// The LiteLLM Usage LiteLLM builds for these buckets (cache reads of audio are cache reads).
LitellmUsage litellm_usage_of(const Usage& u);

/// Service tier as LiteLLM sees it: Standard -> None, Flex/Priority -> "flex"/"priority",
/// Batch -> call_type="retrieve_batch" (batch_cost_calculator). `call` carries the usage's
/// inference_geo / speed (LiteLLM's Anthropic route multiplies by provider_specific_entry).
LitellmCost price_litellm(const Catalog& cat, const LitellmTarget& t, const Usage& u, ServiceTier tier);
LitellmCost price_litellm(const Catalog& cat, const LitellmTarget& t, const LitellmUsage& u, ServiceTier tier,
                          const CallContext& call = {});

/// Batch pricing over columns. `model_codes[i]` indexes `models` (names resolved once); each of
/// the kNumBuckets column pointers may be null (zeros). Writes totals (USD float64) to
/// `out_total`, and for mode litellm the prompt/completion split when non-null. For exact mode
/// `out_total` is the exact atto total rounded once to float64; the exact grand total is returned
/// (a grand total beyond i128 sets *sum_overflow and returns 0, or throws when it is null; a row
/// beyond i128 always throws).
enum class Mode : std::uint8_t { Litellm = 0, Exact };
struct BatchModel {
  std::size_t index = 0;      // exact: entry index
  LitellmTarget target;       // litellm
  CallContext call;           // the rows' inference_geo / speed (price multipliers)
};
i128 price_batch(const Catalog& cat, Mode mode, const std::vector<BatchModel>& models,
                 const std::int32_t* model_codes, const std::array<const std::int64_t*, kNumBuckets>& cols,
                 std::size_t n, ServiceTier tier, std::int32_t date, int num_threads, double* out_total,
                 double* out_prompt, double* out_completion, const text::StopFn& stop = {},
                 bool* sum_overflow = nullptr);

/// i128 atto-USD -> decimal string "0.054399" (exact) and -> nearest float64.
std::string atto_to_string(i128 atto);
double atto_to_double(i128 atto);

}  // namespace tokenops::cost
