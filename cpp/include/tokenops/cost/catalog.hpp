#pragma once
// The price catalogue: model entries, price rows and name lookup. Immutable after construction
// and shared read-only across threads (like tokenizer::Encoding).
//
// Two views of a price live side by side in each entry:
//  * `rows`: tokenops' own model (buckets x service tier x long-context tier x effective date),
//    with every price kept as an exact decimal (integer atto-USD per unit, 1e-18 USD). mode="exact"
//    prices from these.
//  * `litellm`: the float64 fields LiteLLM's cost code can see (the keys of its ModelInfoBase),
//    exactly as parsed from its JSON. mode="litellm" mirrors LiteLLM's operation order over these.
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tokenops::cost {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

/// Money and prices in exact integer atto-USD (1 USD = 1e18). A price per token of $2.50/M is
/// 2'500'000'000'000 atto-USD per token; 1e12 tokens at $100/token still fit an i128.
inline constexpr std::int64_t kAttoPerUsdExp = 18;

/// Disjoint usage buckets. Input buckets sum to what the provider bills as input, output buckets
/// to what it bills as output; `request` and `web_search` are counts of billable events.
enum Bucket : int {
  kInputText = 0,
  kInputAudio,
  kInputImage,
  kCacheRead,
  kCacheReadAudio,  // cached audio prompt tokens (Gemini, OpenAI Realtime): their own cache-read price
  kCacheWrite5m,
  kCacheWrite1h,
  kOutputText,
  kReasoning,
  kOutputAudio,
  kOutputImage,
  kRequest,
  kWebSearch,
  kNumBuckets
};
const char* bucket_name(int b);
/// Bucket by name ("input_text", "cache_read"...); throws InvalidArgument listing the names.
int bucket_from_name(std::string_view name);
inline bool is_input_bucket(int b) { return b <= kCacheWrite1h; }

enum class ServiceTier : std::uint8_t { Standard = 0, Batch, Flex, Priority };
const char* service_tier_name(ServiceTier t);
ServiceTier service_tier_from_name(std::string_view name);  // InvalidArgument if unknown

/// How a long-context tier applies. Cliff: when the request's input exceeds the threshold, the
/// whole request is priced at the tier (LiteLLM, Gemini, Anthropic 1M context). Band: input-range
/// bands (DashScope / Volcengine `tiered_pricing`, keyed by the request's input tokens); the band
/// the input token count falls in, (threshold, upper], prices every bucket of the request.
enum class TierMode : std::uint8_t { Cliff = 0, Band };

/// One exact price per unit. `set` is false when the source gives no price for the bucket.
struct Price {
  bool set = false;
  bool inexact = false;  // the decimal had more than 18 fractional digits and was rounded
  i128 atto = 0;         // atto-USD per unit
  double usd = 0.0;      // the same price as the source's float64 (for display)
};

/// A price row: one service tier, one long-context tier, one effective date range.
struct PriceRow {
  std::int32_t effective_from = std::numeric_limits<std::int32_t>::min();  // days since 1970-01-01
  std::int32_t effective_to = std::numeric_limits<std::int32_t>::max();    // exclusive
  ServiceTier tier = ServiceTier::Standard;
  std::int64_t threshold = 0;  // applies when input tokens > threshold (0: base row)
  std::int64_t upper = 0;      // bands only: end of the band's input range (0: open)
  TierMode mode = TierMode::Cliff;
  std::array<Price, kNumBuckets> prices{};
  std::string label;  // e.g. "standard", "priority >272k", "band 256000-1000000"
};

/// The float64 fields LiteLLM's cost code reads (ModelInfoBase keys; NaN = None).
enum LitellmField : int {
  kL_input = 0,
  kL_input_flex,
  kL_input_priority,
  kL_cache_creation,
  kL_cache_creation_above_200k,
  kL_cache_read,
  kL_cache_read_above_200k,
  kL_cache_read_above_272k,
  kL_cache_read_flex,
  kL_cache_read_priority,
  kL_cache_creation_above_1hr,
  kL_input_per_character,
  kL_input_above_128k,
  kL_input_above_200k,
  kL_input_above_272k,
  kL_input_audio,
  kL_input_image_token,
  kL_input_per_image,
  kL_input_video_per_second,
  kL_input_batches,
  kL_output_batches,
  kL_output,
  kL_output_flex,
  kL_output_priority,
  kL_output_audio,
  kL_output_reasoning,
  kL_output_above_128k,
  kL_output_above_200k,
  kL_output_above_272k,
  kL_output_per_second,
  kL_output_image_token,
  kL_citation,
  kL_input_per_second,
  kL_search_low,     // search_context_cost_per_query.search_context_size_low
  kL_search_medium,  // search_context_cost_per_query.search_context_size_medium
  kL_search_high,
  kNumLitellmFields
};
/// The JSON key of a LiteLLM field ("input_cost_per_token"...).
const char* litellm_field_key(int f);

struct LitellmTier {  // one element of LiteLLM's `tiered_pricing` list (DashScope)
  double lo = 0, hi = 0;
  bool has_range = false;
  double input = NAN, output = NAN, cache_read = NAN, reasoning = NAN;
};

struct LitellmFields {
  std::array<double, kNumLitellmFields> v;
  bool has_input = false;   // input_cost_per_token key present and not null
  bool has_output = false;
  bool input_is_int = false;   // JSON integer (LiteLLM keeps ints; only matters for 0)
  bool output_is_int = false;
  std::vector<LitellmTier> tiered;
  bool has_tiered = false;
  LitellmFields() { v.fill(NAN); }
  bool has(int f) const { return !std::isnan(v[f]); }
};

/// A price the source lists for tokens tokenops bills inside another bucket (genai-prices'
/// input_video_mtok / output_video_mtok / cache_image_read_mtok / output_citation_mtok, LiteLLM's
/// cache_read_input_image_token_cost...). Kept so that a cost result can say when such tokens
/// were billed at the rate of the bucket that holds them.
struct UnmodelledPrice {
  std::string kind;   // input_video, output_video, cache_read_image, output_citation
  std::string field;  // the source's field name
  Price price;        // per unit (the base price where the source tiers it)
};

/// A price multiplier the provider applies to a whole call (LiteLLM's provider_specific_entry:
/// Anthropic's US-only inference {"us": 1.1} and fast mode {"fast": 6.0}).
struct CallMultiplier {
  std::string key;  // "us", "fast", ...
  double value = 1.0;
  Price exact;      // the same value as an exact decimal (atto units of 1)
};

/// A compiled `regex` match clause: genai-prices' ClauseRegex, `re.search(pattern, name)` of
/// Python's `re` (Unicode str semantics: `.` is any code point but LF, `$` also matches before a
/// final LF, `\d \w \s` are Unicode classes).
///
/// Only the part of that syntax a name-matching rule needs is accepted: literals and escapes,
/// `.`, classes `[...]` (ranges, negation, `\d \w \s \D \W \S`), groups `(...)`, `(?:...)`,
/// `(?P<name>...)`, alternation, the quantifiers `* + ? {n} {n,} {,m} {n,m}` (greedy or lazy),
/// and the anchors `^ $ \A \Z \b \B`. Lookaround, backreferences, inline flags, possessive
/// quantifiers and atomic groups are refused, as is any pattern Python's `re` rejects; the
/// constructor's InvalidArgument says which part, as it does for a pattern over 1,000 bytes, a
/// repeat count over 1,000 or more than 2,000 NFA states. (Every regex of the genai-prices data
/// is inside this subset.) Matching simulates the pattern's NFA over the name's code points: time
/// O(len(name) x pattern size), no backtracking. std::regex, used before, backtracked: "(a+)+$"
/// on 25 a's and a '!' took 6.5 s, twice that per added character.
class NameRegex {
 public:
  explicit NameRegex(std::string_view pattern);
  /// True when the pattern matches somewhere in `name` (UTF-8; invalid bytes match no class
  /// but `.` and negated classes).
  bool search(std::string_view name) const;
  const std::string& pattern() const noexcept { return pattern_; }

  struct Program;  // the compiled NFA (catalog.cpp)

 private:
  std::string pattern_;
  std::shared_ptr<const Program> prog_;
};

/// A name-matching rule (genai-prices' `match` clauses): equals / starts_with / ends_with /
/// contains / regex over the model name, combined with or / and.
struct MatchRule {
  enum Kind : std::uint8_t { Equals, StartsWith, EndsWith, Contains, Regex, Or, And } kind = Equals;
  std::string value;
  std::vector<MatchRule> children;
  std::shared_ptr<const NameRegex> regex;  // kind == Regex: `value` compiled (see make_regex)
  bool matches(std::string_view name) const;
  /// A Regex rule with its pattern compiled once; throws InvalidArgument for a pattern
  /// NameRegex refuses. (A Regex rule built without it compiles `value` on every match.)
  static MatchRule make_regex(std::string pattern);
};

struct ModelEntry {
  std::string key;       // the catalogue key, e.g. "gpt-4o", "anthropic.claude-3-7-sonnet-20250219-v1:0"
  std::string provider;  // the source's provider field (LiteLLM's litellm_provider)
  std::string mode;      // chat, embedding, responses, ...
  std::vector<std::string> aliases;
  std::int64_t context_window = 0;  // the input limit the source lists (LiteLLM max_input_tokens)
  std::int64_t max_output = 0;
  std::int64_t total_window = 0;  // input + output limit where the source states it (0: unknown)
  std::vector<std::string> modalities;
  std::string tokenizer;
  std::string deprecation_date;
  std::string source;        // e.g. "litellm v1.83.2 model_prices_and_context_window.json"
  std::string checked_date;  // the date the price was checked (ISO)
  bool supports_prompt_caching = false;
  std::vector<PriceRow> rows;
  std::vector<MatchRule> match;  // optional match rules (empty: key and aliases only)
  std::vector<CallMultiplier> multipliers;  // per-call multipliers (inference geo, speed)
  std::vector<UnmodelledPrice> unmodelled;
  LitellmFields litellm;
  const CallMultiplier* multiplier(std::string_view key) const {
    for (const auto& m : multipliers)
      if (m.key == key) return &m;
    return nullptr;
  }
};

/// A problem met while importing a price file: one bad row, skipped; the rest is kept.
struct ImportProblem {
  std::string key;
  std::string field;
  std::string message;
};

/// A lookup result: the entry index and how the name was matched.
struct Match {
  std::size_t index;
  std::string matched_by;  // "exact", "case-insensitive", "alias", "strip-prefix", ...
};

class Catalog {
 public:
  Catalog(std::vector<ModelEntry> entries, std::string source, std::string checked_date);

  std::size_t size() const noexcept { return entries_.size(); }
  const ModelEntry& entry(std::size_t i) const { return entries_.at(i); }
  const std::vector<ModelEntry>& entries() const noexcept { return entries_; }
  const std::string& source() const noexcept { return source_; }
  const std::string& checked_date() const noexcept { return checked_date_; }

  /// Exact key (then case-insensitive key) or nullopt.
  std::optional<std::size_t> find_key(std::string_view key) const;
  /// Resolves the names users pass: exact key, case-insensitive, aliases, provider prefixes
  /// (openai/, anthropic/, azure/, bedrock/<region>/, vertex_ai/, gemini/...), Bedrock
  /// cross-region prefixes (us., eu., apac., global.), Vertex "@" versions, "-v1:0" suffixes.
  /// Throws NotFound naming the model and listing close matches.
  /// A name whose first path component is a provider of this catalogue ("fireworks_ai/...",
  /// "bedrock/...", "google/...") resolves to an entry of that provider only: another
  /// provider's price for the same model is not substituted (it was, silently:
  /// fireworks/.../deepseek-v4-pro got DeepSeek's first-party price); resolve's error names it.
  /// Bare names prefer first-party providers among match rules.
  Match resolve(std::string_view name) const;
  std::optional<Match> try_resolve(std::string_view name) const;
  /// Up to `k` keys closest to `name` (edit distance on normalised names).
  std::vector<std::string> close_matches(std::string_view name, std::size_t k = 5) const;

  /// LiteLLM's entry resolution for mode="litellm": the route provider LiteLLM derives for a
  /// model name and the entry its get_model_info() returns (nullopt where LiteLLM raises).
  struct LitellmResolution {
    std::string route_provider;
    std::string model_arg;  // the model string LiteLLM passes on (prefix stripped for vertex_ai)
    std::optional<std::size_t> index;
  };
  LitellmResolution litellm_resolve(std::string_view name) const;

 private:
  std::optional<std::size_t> litellm_lookup(std::string_view model, const std::string& provider) const;
  std::optional<Match> resolve_in(std::string_view name, bool same_provider) const;
  std::vector<std::string> family_;  // per entry: its provider's family (provider_family)
  std::unordered_map<std::string, std::vector<std::string>> spellings_;  // family -> its provider names
  std::vector<ModelEntry> entries_;
  std::string source_;
  std::string checked_date_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::unordered_map<std::string, std::size_t> by_lower_;
  std::unordered_map<std::string, std::size_t> by_alias_;
};

/// Normalises LiteLLM's litellm_provider to the provider its router uses
/// (vertex_ai-language-models -> vertex_ai, bedrock_converse -> bedrock, ...).
std::string litellm_route_provider(std::string_view litellm_provider);

/// Converts a float64 price, scaled by 10^scale_exp (e.g. 1e-6 for $/M), to exact atto-USD via
/// its shortest round-trip decimal (the digits written in the price file).
Price make_price(double value, int scale_exp = 0);

/// Days since 1970-01-01 for an ISO date "YYYY-MM-DD" (InvalidArgument naming `field` if bad).
std::int32_t parse_iso_date(std::string_view s, std::string_view field);

}  // namespace tokenops::cost
