#include "tokenops/cost/engine.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <mutex>

#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::cost {

namespace {

bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

}  // namespace

void validate_usage(const Usage& u) {
  for (int b = 0; b < kNumBuckets; ++b)
    TOKENOPS_CHECK(u.n[b] >= 0, InvalidArgument, "usage field '", bucket_name(b), "' must be >= 0, got ",
                   u.n[b]);
  // The input and output totals choose tiers and feed LiteLLM's formulas: they must fit too.
  std::int64_t in = 0, out = 0;
  for (int b = 0; b <= kCacheWrite1h; ++b)
    TOKENOPS_CHECK(!__builtin_add_overflow(in, u.n[b], &in), InvalidArgument,
                   "usage: the input token counts add up to more than 2^63 - 1");
  for (int b : {kOutputText, kReasoning, kOutputAudio, kOutputImage})
    TOKENOPS_CHECK(!__builtin_add_overflow(out, u.n[b], &out), InvalidArgument,
                   "usage: the output token counts add up to more than 2^63 - 1");
}

// LiteLLM's Usage holds prompt/completion totals as Python ints that its calculators turn into
// floats; beyond 2^53 a float64 no longer holds every count (and casting one back to int64
// overflowed into a negative cost). Exact mode has no such limit.
namespace {
constexpr std::int64_t kMaxExactDouble = std::int64_t{1} << 53;  // float64 holds every count up to it

void validate_litellm_range(const Usage& u) {
  validate_usage(u);
  TOKENOPS_CHECK(u.input_total() <= kMaxExactDouble && u.output_total() <= kMaxExactDouble, InvalidArgument,
                 "litellm mode computes in float64 as LiteLLM does: input or output tokens above 2^53 (",
                 kMaxExactDouble, ") are out of its range; use mode='exact'");
}
}  // namespace

const char* litellm_route_name(LitellmRoute r) {
  switch (r) {
    case LitellmRoute::Generic: return "generic";
    case LitellmRoute::GenericNoTier: return "generic(no service tier)";
    case LitellmRoute::Vertex: return "vertex";
    case LitellmRoute::VertexNoTier: return "vertex(cost_per_character)";
    case LitellmRoute::Simple: return "simple";
    case LitellmRoute::Perplexity: return "perplexity";
    case LitellmRoute::Dashscope: return "dashscope";
    case LitellmRoute::Xai: return "xai";
    case LitellmRoute::Zero: return "zero";
    case LitellmRoute::AzurePerSecond: return "azure(per second)";
    case LitellmRoute::OtherPerSecond: return "per second";
    case LitellmRoute::Unmapped: return "unmapped";
  }
  return "?";
}

// ------------------------------------------------------------------------------------------
// mode = "exact"
// ------------------------------------------------------------------------------------------

namespace {

// Checked i128 arithmetic: a cost beyond i128 (~1.7e20 USD in atto-USD) is an error, never a
// wrapped (negative) total. A price of $20 per token times 2**63 - 1 tokens wrapped to -1.6e20.
[[noreturn]] void cost_out_of_range() {
  throw InvalidArgument(
      "the cost exceeds what tokenops can represent exactly (about 1.7e20 USD): a token count or a "
      "price is far beyond any real bill");
}
i128 mul_checked(i128 a, i128 b) {
  i128 r;
  if (__builtin_mul_overflow(a, b, &r)) cost_out_of_range();
  return r;
}
i128 add_checked(i128 a, i128 b) {
  i128 r;
  if (__builtin_add_overflow(a, b, &r)) cost_out_of_range();
  return r;
}

i128 gcd128(i128 a, i128 b) {
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a < 0 ? -a : a;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The multiplier key of a usage's inference_geo, lower-cased, as Anthropic's cost calculation
// reads it: "" for none and for the geos billed at the base price (global, not_available).
std::string geo_key(std::string_view geo) {
  std::string g = ascii_lower(geo);
  return g == "global" || g == "not_available" ? std::string() : g;
}

// The call's price multiplier as an exact fraction num/den (Anthropic: US-only inference, fast
// mode), from the entry's multipliers; 1/1 when the call names none.
struct ExactMultiplier {
  i128 num = 1, den = 1;
  std::string note;
  bool active() const { return num != den; }
};

ExactMultiplier exact_multiplier(const ModelEntry& e, const CallContext& ctx) {
  ExactMultiplier m;
  auto apply = [&](const std::string& key, const char* field, const std::string& value) {
    const CallMultiplier* cm = e.multiplier(key);
    if (!cm)
      throw InvalidArgument(detail::concat(
          "usage has ", field, " '", value, "', which the provider bills at a price multiplier, but model '", e.key,
          "' lists no '", key, "' multiplier (LiteLLM's provider_specific_entry); tokenops does not guess a price. "
          "Price it with a catalogue that lists the multiplier (Catalog.default(), Catalog.from_installed_litellm())"));
    i128 num = cm->exact.atto, den = 1;
    for (int i = 0; i < kAttoPerUsdExp; ++i) den *= 10;
    const i128 g = gcd128(num, den);
    num /= g;
    den /= g;
    m.num *= num;
    m.den *= den;
    const i128 g2 = gcd128(m.num, m.den);
    m.num /= g2;
    m.den /= g2;
    m.note += detail::concat(m.note.empty() ? "" : "; ", "x", atto_to_string(cm->exact.atto), " (", field, " '", value,
                             "')");
  };
  if (const std::string g = geo_key(ctx.inference_geo); !g.empty()) apply(g, "inference_geo", ctx.inference_geo);
  if (!ctx.speed.empty()) {
    const std::string sp = ascii_lower(ctx.speed);
    if (sp == "fast") apply("fast", "speed", ctx.speed);
    else if (sp != "standard")
      throw InvalidArgument(detail::concat("usage speed '", ctx.speed, "' is not one tokenops knows "
                                           "(standard, fast); it cannot tell what the provider billed"));
  }
  return m;
}

// price * num / den, rounded half to even to a whole atto-USD (prices are per unit).
i128 scale_price(i128 price, const ExactMultiplier& m, bool& rounded) {
  const i128 prod = mul_checked(price, m.num);
  i128 q = prod / m.den;
  const i128 r = prod % m.den;
  if (r != 0) {
    rounded = true;
    const i128 twice = 2 * r;
    if (twice > m.den || (twice == m.den && (q & 1))) ++q;
  }
  return q;
}

}  // namespace

ExactCost price_exact(const ModelEntry& e, const Usage& u, ServiceTier tier, std::int32_t date,
                      const CallContext& ctx) {
  validate_usage(u);
  const ExactMultiplier mult = exact_multiplier(e, ctx);
  const std::int64_t input_total = u.input_total();
  const PriceRow* base = nullptr;
  const PriceRow* cliff = nullptr;
  std::vector<const PriceRow*> bands;
  std::vector<std::string> have_tiers;
  std::int64_t standard_cliff = 0;  // the standard tier's long-context threshold that applies
  for (const auto& r : e.rows) {
    if (date < r.effective_from || date >= r.effective_to) continue;
    std::string tn = service_tier_name(r.tier);
    if (std::find(have_tiers.begin(), have_tiers.end(), tn) == have_tiers.end()) have_tiers.push_back(tn);
    if (r.tier == ServiceTier::Standard && tier != ServiceTier::Standard && r.mode != TierMode::Band &&
        r.threshold > 0 && input_total > r.threshold)
      standard_cliff = std::max(standard_cliff, r.threshold);
    if (r.tier != tier) continue;
    if (r.mode == TierMode::Band) {
      bands.push_back(&r);
    } else if (r.threshold == 0) {
      if (!base || r.effective_from >= base->effective_from) base = &r;
    } else if (input_total > r.threshold) {
      if (!cliff || r.threshold > cliff->threshold ||
          (r.threshold == cliff->threshold && r.effective_from >= cliff->effective_from))
        cliff = &r;
    }
  }
  if (!base && bands.empty()) {
    std::string avail;
    for (std::size_t i = 0; i < have_tiers.size(); ++i) avail += (i ? ", " : "") + have_tiers[i];
    throw InvalidArgument(detail::concat("model '", e.key, "' has no ", service_tier_name(tier),
                                         " price row", e.rows.empty() ? "" : " on that date",
                                         " (available tiers: ", avail.empty() ? "none" : avail,
                                         "); tokenops does not guess a price"));
  }
  std::sort(bands.begin(), bands.end(), [](auto* a, auto* b) { return a->threshold < b->threshold; });

  // Input-range bands: the band the request's input token count falls in prices every bucket
  // (the last band whose lower bound is below the input; the first band for an empty prompt).
  const PriceRow* band = bands.empty() ? nullptr : bands.front();
  std::string band_note;
  for (const PriceRow* r : bands)
    if (input_total > r->threshold) band = r;
  if (band && band->upper > 0 && input_total > band->upper)
    band_note = detail::concat("input (", input_total, " tokens) is above the last band's upper bound (",
                               band->upper, "); that band's prices used");

  ExactCost out;
  out.row = cliff ? cliff->label : (base ? base->label : band->label);
  auto price_of = [&](int b, std::string& row, std::string& note) -> const Price* {
    if (cliff && cliff->prices[b].set) {
      row = cliff->label;
      return &cliff->prices[b];
    }
    if (base && base->prices[b].set) {
      row = base->label;
      if (cliff) {
        note = "no long-context price for this bucket; base price used";
      } else if (standard_cliff > 0) {
        // e.g. Gemini's batch rows: the catalogue lists no batch price above 200k input tokens
        // although the standard tier has one; the provider's bill may be higher.
        note = detail::concat("the ", service_tier_name(tier), " tier lists no price above ",
                              standard_cliff, " input tokens (the standard tier does); ",
                              service_tier_name(tier), " base price used");
      }
      return &base->prices[b];
    }
    return nullptr;
  };
  // Image prompt tokens without an image price: Gemini (and OpenAI's chat models) bill them at
  // the input text rate, and LiteLLM's Usage reports them apart (prompt_tokens_details.image_tokens).
  // A model whose only image price is per image (LiteLLM's input_cost_per_image) is refused instead.
  const bool image_at_text_rate = !e.litellm.has(kL_input_per_image);
  const char* image_note = "no input_image price; image tokens billed at the input text rate";
  // Cached audio without its own price: the cache-read price (LiteLLM prices every cache hit so;
  // a provider whose cached audio costs more than cached text is under-billed, and the note says so).
  const char* audio_cache_note = "no cache_read_audio price; cached audio billed at the cache-read rate";
  auto no_image_price = [&]() {
    return InvalidArgument(detail::concat(
        "model '", e.key, "' has no input_image price (", service_tier_name(tier), " tier) but usage has ",
        u.n[kInputImage], " input_image units, and its catalogue entry prices images per image "
        "(input_cost_per_image), not per token; tokenops does not convert. Add input_cost_per_image_token."));
  };
  for (int b = 0; b < kNumBuckets; ++b) {
    const std::int64_t units = u.n[b];
    if (units == 0) continue;
    if (band && b != kRequest && b != kWebSearch) {
      int pb = b;
      std::string note = band_note;
      auto also = [&](const char* what) { note = note.empty() ? what : note + "; " + what; };
      if (!band->prices[b].set && b == kReasoning) {
        pb = kOutputText;
        also("reasoning billed at the output rate");
      } else if (!band->prices[b].set && b == kCacheRead) {
        pb = kInputText;
        also("no cache-read price in the band; input rate used");
      } else if (!band->prices[b].set && b == kInputImage) {
        if (!image_at_text_rate) throw no_image_price();
        pb = kInputText;
        also(image_note);
      } else if (!band->prices[b].set && b == kCacheReadAudio) {
        pb = band->prices[kCacheRead].set ? kCacheRead : kInputText;
        also(pb == kCacheRead ? audio_cache_note : "no cache-read price in the band; input rate used");
      }
      TOKENOPS_CHECK(band->prices[pb].set, InvalidArgument, "model '", e.key, "' has no ", bucket_name(b),
                     " price in band '", band->label, "' but usage has ", units, " ", bucket_name(b),
                     " units; tokenops never prices them at $0. Add the price to the catalogue, or price the call with one that lists it (catalog=Catalog.from_genai_prices(), Catalog.from_installed_litellm(), or Catalog.from_litellm(path) of a JSON holding the price).");
      i128 unit = band->prices[pb].atto;
      if (mult.active()) {
        bool rounded = false;
        unit = scale_price(unit, mult, rounded);
        also(mult.note.c_str());
        if (rounded) also("multiplied price rounded to 1e-18 USD");
      }
      CostLine line{b, units, unit, mul_checked(unit, units), band->label, note};
      out.total_atto = add_checked(out.total_atto, line.cost_atto);
      out.lines.push_back(std::move(line));
      continue;
    }
    std::string row, note;
    const Price* p = price_of(b, row, note);
    if (!p && b == kReasoning) {
      p = price_of(kOutputText, row, note);
      note = "reasoning billed at the output rate";
    }
    if (!p && b == kInputImage) {
      if (!image_at_text_rate && (base || cliff)) throw no_image_price();
      std::string n2;
      p = price_of(kInputText, row, n2);
      note = n2.empty() ? image_note : std::string(image_note) + "; " + n2;
    }
    if (!p && b == kCacheReadAudio) {
      std::string n2;
      p = price_of(kCacheRead, row, n2);
      note = n2.empty() ? audio_cache_note : std::string(audio_cache_note) + "; " + n2;
    }
    if (!p && b == kRequest) continue;  // no per-request fee for this model
    if (!p)
      throw InvalidArgument(detail::concat(
          "model '", e.key, "' has no ", bucket_name(b), " price (", service_tier_name(tier), " tier) but usage has ",
          units, " ", bucket_name(b), " units; tokenops never prices them at $0. Add the price to the catalogue, or price the call with one that lists it (catalog=Catalog.from_genai_prices(), Catalog.from_installed_litellm(), or Catalog.from_litellm(path) of a JSON holding the price)."));
    i128 unit = p->atto;
    if (mult.active() && b != kRequest && b != kWebSearch) {
      bool rounded = false;
      unit = scale_price(unit, mult, rounded);
      note = note.empty() ? mult.note : note + "; " + mult.note;
      if (rounded) note += "; multiplied price rounded to 1e-18 USD";
    }
    CostLine line{b, units, unit, mul_checked(unit, units), row, note};
    out.total_atto = add_checked(out.total_atto, line.cost_atto);
    out.lines.push_back(std::move(line));
  }
  return out;
}

// Fast path for batches: the rows applicable to (entry, tier, date) resolved once, then a total
// per usage row without allocating. Input-range bands and geo / speed multipliers fall back to
// price_exact.
struct ExactPlan {
  const ModelEntry* e = nullptr;
  const PriceRow* base = nullptr;
  std::vector<const PriceRow*> cliffs;  // by threshold, descending
  bool per_row = false;  // input-range bands or a call multiplier: price_exact prices each row
  bool image_at_text_rate = false;  // no per-image price: image tokens at the input text rate
  ServiceTier tier = ServiceTier::Standard;
  std::int32_t date = 0;
  CallContext call;  // a geo / speed multiplier: every row goes through price_exact
};

namespace {

ExactPlan make_plan(const ModelEntry& e, ServiceTier tier, std::int32_t date, const CallContext& call) {
  ExactPlan p;
  p.e = &e;
  p.tier = tier;
  p.date = date;
  p.call = call;
  p.per_row = exact_multiplier(e, call).active();  // raises for a multiplier the entry lacks
  p.image_at_text_rate = !e.litellm.has(kL_input_per_image);
  for (const auto& r : e.rows) {
    if (date < r.effective_from || date >= r.effective_to || r.tier != tier) continue;
    if (r.mode == TierMode::Band) {
      p.per_row = true;
    } else if (r.threshold == 0) {
      if (!p.base || r.effective_from >= p.base->effective_from) p.base = &r;
    } else {
      p.cliffs.push_back(&r);
    }
  }
  std::stable_sort(p.cliffs.begin(), p.cliffs.end(), [](const PriceRow* a, const PriceRow* b) {
    return a->threshold > b->threshold || (a->threshold == b->threshold && a->effective_from > b->effective_from);
  });
  return p;
}

i128 plan_total(const ExactPlan& p, const Usage& u) {
  if (p.per_row || !p.base) return price_exact(*p.e, u, p.tier, p.date, p.call).total_atto;
  validate_usage(u);
  const std::int64_t input_total = u.input_total();
  const PriceRow* cliff = nullptr;
  for (const PriceRow* r : p.cliffs)
    if (input_total > r->threshold) {
      cliff = r;
      break;
    }
  auto pick = [&](int k) -> const Price* {
    return (cliff && cliff->prices[k].set) ? &cliff->prices[k] : p.base->prices[k].set ? &p.base->prices[k] : nullptr;
  };
  i128 total = 0;
  for (int b = 0; b < kNumBuckets; ++b) {
    const std::int64_t units = u.n[b];
    if (units == 0) continue;
    // price_exact's fallbacks, without its notes (image rows went to it one by one)
    const Price* pr = pick(b);
    if (!pr && b == kReasoning) pr = pick(kOutputText);
    if (!pr && b == kInputImage && p.image_at_text_rate) pr = pick(kInputText);
    if (!pr && b == kCacheReadAudio) pr = pick(kCacheRead);
    if (!pr) {
      if (b == kRequest) continue;
      return price_exact(*p.e, u, p.tier, p.date, p.call).total_atto;  // raises the descriptive error
    }
    total = add_checked(total, mul_checked(pr->atto, units));
  }
  return total;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// mode = "litellm": a line-by-line mirror of litellm/litellm_core_utils/llm_cost_calc/utils.py
// (generic_cost_per_token, _get_token_base_cost, _calculate_input_cost,
// calculate_cache_writing_cost), cost_calculator.cost_per_token's provider routing, and the
// provider modules it dispatches to, for the pinned LiteLLM version.
// ------------------------------------------------------------------------------------------

namespace {

enum class LTier { None, Flex, Priority };

struct LView {  // LiteLLM's Usage object (LitellmUsage), with its totals as the floats LiteLLM computes with
  double prompt_tokens, completion_tokens;
  std::int64_t prompt_i, completion_i;
  std::int64_t cache_hit, cache_creation, cc_5m, cc_1h, text, audio, image;
  std::int64_t c_text, c_reasoning, c_audio, c_image;
  bool has_prompt_details;
  std::int64_t web_search, citation, image_count;
  bool reasoning_on_top;
};

LView make_view(const LitellmUsage& u) {
  LView v{};
  v.prompt_i = u.prompt_tokens;
  v.completion_i = u.completion_tokens;
  v.prompt_tokens = static_cast<double>(u.prompt_tokens);
  v.completion_tokens = static_cast<double>(u.completion_tokens);
  v.has_prompt_details = u.has_prompt_details;
  v.cache_hit = u.cache_hit;
  v.cc_5m = u.cc_5m;
  v.cc_1h = u.cc_1h;
  v.cache_creation = u.cc_5m + u.cc_1h;
  v.audio = u.audio;
  v.image = u.image;
  v.text = u.text;
  v.c_text = u.c_text;
  v.c_reasoning = u.c_reasoning;
  v.c_audio = u.c_audio;
  v.c_image = u.c_image;
  v.web_search = u.web_search;
  v.citation = u.citation;
  v.image_count = u.image_count;
  v.reasoning_on_top = u.reasoning_on_top;
  return v;
}

// _get_cost_per_unit with the service-tier key: the tier's field if the tier key is one of
// ModelInfoBase's, else (or when None) the base field. NaN = None.
double tiered(const LitellmFields& f, int base, LTier t) {
  int k = -1;
  if (t == LTier::Flex) {
    if (base == kL_input) k = kL_input_flex;
    else if (base == kL_output) k = kL_output_flex;
    else if (base == kL_cache_read) k = kL_cache_read_flex;
  } else if (t == LTier::Priority) {
    if (base == kL_input) k = kL_input_priority;
    else if (base == kL_output) k = kL_output_priority;
    else if (base == kL_cache_read) k = kL_cache_read_priority;
  }
  if (k >= 0 && f.has(k)) return f.v[k];
  return f.v[base];
}

double or_default(double v, double d) { return std::isnan(v) ? d : v; }

// model_info["input_cost_per_token"]: None -> 0 in ModelInfoBase.
double base_input(const LitellmFields& f) { return f.has(kL_input) ? f.v[kL_input] : 0.0; }
double base_output(const LitellmFields& f) { return f.has(kL_output) ? f.v[kL_output] : 0.0; }

// calculate_cost_component: usage * cost when cost is set and usage > 0, else 0.0
double component(double cost, std::int64_t usage) {
  if (!std::isnan(cost) && usage > 0) return static_cast<double>(usage) * cost;
  return 0.0;
}

// kDetail: also fill the per-bucket parts and units (the batch loop needs only the totals)
template <bool kDetail>
void generic(const LitellmFields& f0, const LView& v, LTier t, LitellmCost& out, double& cache_cost) {
  // ModelInfoBase turns a missing input/output price into 0.
  LitellmFields const& f = f0;
  // ---- _get_token_base_cost
  double prompt_base = or_default(tiered(f, kL_input, t), 0.0);
  if (t == LTier::None) prompt_base = base_input(f);
  double completion_base = or_default(tiered(f, kL_output, t), 0.0);
  if (t == LTier::None) completion_base = base_output(f);
  if (completion_base == 0.0 && f.has(kL_output_image_token)) completion_base = f.v[kL_output_image_token];
  double cache_creation = or_default(f.v[kL_cache_creation], 0.0);
  double cache_creation_1h = or_default(f.v[kL_cache_creation_above_1hr], 0.0);
  double cache_read = or_default(tiered(f, kL_cache_read, t), 0.0);
  // thresholds in sorted(reverse=True) order of their keys: 272k, 200k, 128k
  struct Th { double th; int in, outk, cc, cr; const char* name; };
  static const Th ths[] = {
      {272000.0, kL_input_above_272k, kL_output_above_272k, -1, kL_cache_read_above_272k, "above_272k_tokens"},
      {200000.0, kL_input_above_200k, kL_output_above_200k, kL_cache_creation_above_200k, kL_cache_read_above_200k,
       "above_200k_tokens"},
      {128000.0, kL_input_above_128k, kL_output_above_128k, -1, -1, "above_128k_tokens"}};
  for (const auto& th : ths) {
    if (!f.has(th.in)) continue;
    if (v.prompt_tokens > th.th) {
      prompt_base = f.v[th.in];
      completion_base = or_default(f.v[th.outk], completion_base);
      if (th.cc >= 0) cache_creation = or_default(f.v[th.cc], cache_creation);
      if (th.cr >= 0) cache_read = or_default(f.v[th.cr], cache_read);
      out.tier = th.name;
      break;
    }
  }
  // ---- generic_cost_per_token: text_tokens
  // No prompt_tokens_details: every prompt token is text. An explicit text_tokens is kept as it
  // is (below the rest for Gemini VIDEO tokens, negative after LiteLLM's implicit-cache
  // subtraction) unless it is 0 or, with cache hits, the parts add up to more than prompt_tokens;
  // then it is prompt - cached - audio - creation - image, clamped at 0. A text_tokens of 0 is
  // kept when the details count images (image_count, Vertex): those prompts are priced per image.
  std::int64_t text = v.has_prompt_details ? v.text : v.prompt_i;
  const std::int64_t details = text + v.cache_hit + v.audio + v.cache_creation + v.image;
  if ((text == 0 && v.image_count == 0) || (v.cache_hit > 0 && details > v.prompt_i))
    text = std::max<std::int64_t>(0, v.prompt_i - v.cache_hit - v.audio - v.cache_creation - v.image);
  // ---- _calculate_input_cost
  double pc = static_cast<double>(text) * prompt_base;
  if constexpr (kDetail) out.parts[kInputText] = static_cast<double>(text) * prompt_base;
  if constexpr (kDetail) out.units[kInputText] = text;
  double cr = static_cast<double>(v.cache_hit) * cache_read;
  pc += cr;
  if constexpr (kDetail) out.parts[kCacheRead] = cr;
  if constexpr (kDetail) out.units[kCacheRead] = v.cache_hit;
  cache_cost = cr;  // _compute_cache_only_cost: cache reads and writes
  if (v.audio) {
    double c = component(tiered(f, kL_input_audio, t), v.audio);
    pc += c;
    if constexpr (kDetail) out.parts[kInputAudio] = c;
    if constexpr (kDetail) out.units[kInputAudio] = v.audio;
  }
  if (v.image) {
    double cost = f.has(kL_input_image_token) ? f.v[kL_input_image_token] : base_input(f);
    double c = component(cost, v.image);
    pc += c;
    if constexpr (kDetail) out.parts[kInputImage] = c;
    if constexpr (kDetail) out.units[kInputImage] = v.image;
  }
  if (v.cache_creation) {
    double total = 0.0;
    total += static_cast<double>(v.cc_5m) * cache_creation;
    total += static_cast<double>(v.cc_1h) * cache_creation_1h;
    pc += total;
    cache_cost += total;
    if constexpr (kDetail) out.parts[kCacheWrite5m] = static_cast<double>(v.cc_5m) * cache_creation;
    if constexpr (kDetail) out.parts[kCacheWrite1h] = static_cast<double>(v.cc_1h) * cache_creation_1h;
    if constexpr (kDetail) out.units[kCacheWrite5m] = v.cc_5m;
    if constexpr (kDetail) out.units[kCacheWrite1h] = v.cc_1h;
  }
  if (v.image_count) {  // input_cost_per_image per image (no price: 0), in the input_image part
    double c = component(f.v[kL_input_per_image], v.image_count);
    pc += c;
    if constexpr (kDetail) out.parts[kInputImage] = (std::isnan(out.parts[kInputImage]) ? 0.0 : out.parts[kInputImage]) + c;
  }
  // ---- output: an explicit completion text_tokens is kept; 0 means the remainder (with a
  // reasoning / audio / image breakdown) or every completion token
  std::int64_t text_out = v.c_text;
  bool is_total = false;
  bool breakdown = v.c_image > 0 || v.c_audio > 0 || v.c_reasoning > 0;
  if (text_out == 0) {
    if (breakdown) {
      text_out = std::max<std::int64_t>(0, v.completion_i - v.c_reasoning - v.c_audio - v.c_image);
    } else {
      text_out = v.completion_i;
      is_total = true;
    }
  }
  double cc = static_cast<double>(text_out) * completion_base;
  if constexpr (kDetail) out.parts[kOutputText] = cc;
  if constexpr (kDetail) out.units[kOutputText] = text_out;
  if (!is_total && v.c_audio > 0) {
    double c = static_cast<double>(v.c_audio) * or_default(f.v[kL_output_audio], completion_base);
    cc += c;
    if constexpr (kDetail) out.parts[kOutputAudio] = c;
    if constexpr (kDetail) out.units[kOutputAudio] = v.c_audio;
  }
  if (!is_total && v.c_reasoning > 0) {
    double c = static_cast<double>(v.c_reasoning) * or_default(f.v[kL_output_reasoning], completion_base);
    cc += c;
    if constexpr (kDetail) out.parts[kReasoning] = c;
    if constexpr (kDetail) out.units[kReasoning] = v.c_reasoning;
  }
  if (!is_total && v.c_image > 0) {
    double c = static_cast<double>(v.c_image) * or_default(f.v[kL_output_image_token], completion_base);
    cc += c;
    if constexpr (kDetail) out.parts[kOutputImage] = c;
    if constexpr (kDetail) out.units[kOutputImage] = v.c_image;
  }
  out.prompt = pc;
  out.completion = cc;
}

// vertex_ai/cost_calculator._handle_128k_pricing
void vertex_128k(const LitellmFields& f, const LView& v, LitellmCost& out) {
  if (v.prompt_tokens > 128000 && f.has(kL_input_above_128k)) {
    out.prompt = v.prompt_tokens * f.v[kL_input_above_128k];
    out.tier = "above_128k_tokens";
  } else {
    out.prompt = v.prompt_tokens * base_input(f);
  }
  if (v.completion_tokens > 128000 && f.has(kL_output_above_128k))
    out.completion = v.completion_tokens * f.v[kL_output_above_128k];
  else
    out.completion = v.completion_tokens * base_output(f);
}

double dashscope_tiered(double tokens, const std::vector<LitellmTier>& tiers, int which, int fallback) {
  auto get = [](const LitellmTier& t, int w) {
    switch (w) {
      case 0: return t.input;
      case 1: return t.output;
      case 2: return t.cache_read;
      case 3: return t.reasoning;
    }
    return static_cast<double>(NAN);
  };
  auto cpt = [&](const LitellmTier& t) {
    double c = get(t, which);
    if (std::isnan(c) || c == 0.0) {
      double fb = fallback >= 0 ? get(t, fallback) : NAN;
      return std::isnan(fb) ? 0.0 : fb;
    }
    return c;
  };
  if (tiers.empty() || tokens <= 0) return 0.0;
  std::vector<LitellmTier> sorted = tiers;
  std::stable_sort(sorted.begin(), sorted.end(), [](const LitellmTier& a, const LitellmTier& b) {
    return (a.has_range ? a.lo : 0.0) < (b.has_range ? b.lo : 0.0);
  });
  double total = 0.0, processed = 0.0;
  for (const auto& t : sorted) {
    if (processed >= tokens) break;
    if (!t.has_range) continue;
    if (tokens <= t.lo) continue;
    double start = std::max(t.lo, processed), end = std::min(t.hi, tokens);
    if (end > start) {
      total += (end - start) * cpt(t);
      processed = end;
    }
  }
  if (processed < tokens) total += (tokens - processed) * cpt(sorted.back());
  return total;
}

}  // namespace

LitellmTarget litellm_target(const Catalog& cat, std::string_view model) {
  LitellmTarget t;
  auto r = cat.litellm_resolve(model);
  t.route_provider = r.route_provider;
  t.model_arg = r.model_arg;
  if (!r.index) return t;
  t.index = *r.index;
  const auto& p = r.route_provider;
  const auto& f = cat.entry(t.index).litellm;
  if (p == "vertex_ai") {
    const std::string& m = r.model_arg;
    bool by_token = contains(m, "claude") || contains(m, "llama") || contains(m, "mistral") ||
                    contains(m, "jamba") || contains(m, "codestral") || contains(m, "gemma") ||
                    contains(m, "gemini-2");
    t.route = by_token ? LitellmRoute::Vertex : LitellmRoute::VertexNoTier;
  } else if (p == "anthropic" || p == "deepseek") {
    t.route = LitellmRoute::GenericNoTier;
  } else if (p == "bedrock" || p == "openai" || p == "gemini") {
    t.route = LitellmRoute::Generic;
  } else if (p == "databricks" || p == "fireworks_ai") {
    t.route = LitellmRoute::Simple;
  } else if (p == "azure") {
    t.route = f.has(kL_output_per_second) ? LitellmRoute::AzurePerSecond : LitellmRoute::Generic;
  } else if (p == "perplexity") {
    t.route = LitellmRoute::Perplexity;
  } else if (p == "xai") {
    t.route = LitellmRoute::Xai;
  } else if (p == "lemonade") {
    t.route = LitellmRoute::Zero;
  } else if (p == "dashscope") {
    t.route = LitellmRoute::Dashscope;
  } else if (p == "azure_ai") {
    t.route = LitellmRoute::Generic;
    const std::string lm = ascii_lower(r.model_arg);
    if (contains(lm, "model-router") || contains(lm, "model_router")) {
      if (auto k = cat.find_key("azure_ai/model_router")) {
        double v = cat.entry(*k).litellm.v[kL_input];
        if (!std::isnan(v) && v > 0) t.router_flat_input = v;
      }
    }
  } else {
    bool priced = (f.has(kL_input) && f.v[kL_input] > 0) || (f.has(kL_output) && f.v[kL_output] > 0);
    t.route = priced ? LitellmRoute::Generic : LitellmRoute::OtherPerSecond;
  }
  return t;
}

LitellmUsage litellm_usage_of(const Usage& u) {
  LitellmUsage v;
  v.prompt_tokens = u.input_total();
  v.completion_tokens = u.output_total();
  v.cache_hit = u.n[kCacheRead] + u.n[kCacheReadAudio];  // LiteLLM has one cache-hit count
  v.cc_5m = u.n[kCacheWrite5m];
  v.cc_1h = u.n[kCacheWrite1h];
  v.audio = u.n[kInputAudio];
  v.image = u.n[kInputImage];
  v.text = u.n[kInputText];
  v.has_prompt_details = v.cache_hit || v.cc_5m || v.cc_1h || v.audio || v.image;
  v.c_reasoning = u.n[kReasoning];
  v.c_audio = u.n[kOutputAudio];
  v.c_image = u.n[kOutputImage];
  v.web_search = u.n[kWebSearch];
  return v;
}

namespace {
template <bool kDetail>
LitellmCost price_litellm_view(const Catalog& cat, const LitellmTarget& t, const LView& v, ServiceTier tier,
                               const CallContext* call);

// the view LiteLLM's Usage for these buckets gives (the batch loop's per-row path; both are
// inlined here)
LView view_of(const Usage& u) { return make_view(litellm_usage_of(u)); }
}  // namespace

LitellmCost price_litellm(const Catalog& cat, const LitellmTarget& t, const Usage& u, ServiceTier tier) {
  validate_litellm_range(u);
  // the cache-read part holds both cache-read buckets (LiteLLM prices every cache hit alike)
  return price_litellm_view<true>(cat, t, view_of(u), tier, nullptr);
}

LitellmCost price_litellm(const Catalog& cat, const LitellmTarget& t, const LitellmUsage& lu, ServiceTier tier,
                          const CallContext& call) {
  {
    for (std::int64_t c : {lu.prompt_tokens, lu.completion_tokens, lu.cache_hit, lu.cc_5m, lu.cc_1h, lu.audio, lu.image,
                           lu.c_text, lu.c_reasoning, lu.c_audio, lu.c_image, lu.web_search,
                           lu.citation, lu.image_count})
      TOKENOPS_CHECK(c >= 0 && c <= kMaxExactDouble, InvalidArgument,
                     "LiteLLM usage counts must be in [0, 2^53] (litellm mode computes in float64), got ", c);
    TOKENOPS_CHECK(lu.text >= -kMaxExactDouble && lu.text <= kMaxExactDouble, InvalidArgument,
                   "LiteLLM usage text_tokens out of range: ", lu.text);
  }
  return price_litellm_view<true>(cat, t, make_view(lu), tier, call.empty() ? nullptr : &call);
}

namespace {
template <bool kDetail>
LitellmCost price_litellm_view(const Catalog& cat, const LitellmTarget& t, const LView& v, ServiceTier tier,
                               const CallContext* call) {
  LitellmCost out;
  if (t.route == LitellmRoute::Unmapped && tier == ServiceTier::Batch && !t.route_provider.empty()) {
    out.tier = "batch";  // batch_cost_calculator swallows get_model_info's error and returns (0, 0)
    return out;
  }
  if (t.route == LitellmRoute::Unmapped)
    throw NotFound(detail::concat("LiteLLM cannot map model '", t.model_arg.empty() ? "?" : t.model_arg,
                                  "' (provider '", t.route_provider, "'): it raises \"This model isn't mapped yet\""));
  const auto& f = cat.entry(t.index).litellm;
  LTier lt = tier == ServiceTier::Flex ? LTier::Flex : tier == ServiceTier::Priority ? LTier::Priority : LTier::None;

  if (tier == ServiceTier::Batch) {  // cost_calculator.batch_cost_calculator
    double in_b = or_default(f.v[kL_input_batches], 0.0), in = base_input(f);
    double out_b = or_default(f.v[kL_output_batches], 0.0), outp = base_output(f);
    double pc = 0.0, cc = 0.0;
    if (in_b != 0.0) {
      pc = v.prompt_tokens * in_b;
    } else if (in != 0.0) {
      pc = static_cast<double>(v.prompt_i - v.cache_hit) * in / 2;
      pc += component(f.v[kL_cache_read], v.cache_hit) / 2;
    }
    if (out_b != 0.0) cc = v.completion_tokens * out_b;
    else if (outp != 0.0) cc = v.completion_tokens * outp / 2;
    out.prompt = pc;
    out.completion = cc;
    out.tier = "batch";
    out.total = pc + cc;
    return out;
  }

  double cache_cost = 0.0;
  switch (t.route) {
    case LitellmRoute::Generic: generic<kDetail>(f, v, lt, out, cache_cost); break;
    case LitellmRoute::GenericNoTier: generic<kDetail>(f, v, LTier::None, out, cache_cost); break;
    case LitellmRoute::Vertex:
    case LitellmRoute::VertexNoTier:
      if (f.has(kL_input_above_128k) || f.has(kL_output_above_128k))
        vertex_128k(f, v, out);
      else
        generic<kDetail>(f, v, t.route == LitellmRoute::Vertex ? lt : LTier::None, out, cache_cost);
      break;
    case LitellmRoute::Simple:
      out.prompt = v.prompt_tokens * base_input(f);
      out.completion = v.completion_tokens * base_output(f);
      break;
    case LitellmRoute::Perplexity: {
      // llms/perplexity/cost_calculator.cost_per_token (usage.cost.total_cost is handled in Python)
      out.prompt = v.prompt_tokens * base_input(f);
      if (v.citation > 0 && f.has(kL_citation)) out.prompt += static_cast<double>(v.citation) * f.v[kL_citation];
      out.completion = v.completion_tokens * base_output(f);
      if (v.c_reasoning > 0 && f.has(kL_output_reasoning))
        out.completion += static_cast<double>(v.c_reasoning) * f.v[kL_output_reasoning];
      if (v.web_search > 0 && f.has(kL_search_low))
        out.completion += static_cast<double>(v.web_search) * (f.v[kL_search_low] / 1000);
      break;
    }
    case LitellmRoute::Dashscope: {
      double text = v.prompt_tokens - static_cast<double>(v.cache_hit);
      double comp = v.completion_tokens - static_cast<double>(v.c_reasoning);
      if (f.has_tiered && !f.tiered.empty()) {
        out.prompt = dashscope_tiered(text, f.tiered, 0, -1) +
                     dashscope_tiered(static_cast<double>(v.cache_hit), f.tiered, 2, 0);
        out.completion = dashscope_tiered(comp, f.tiered, 1, -1) +
                         dashscope_tiered(static_cast<double>(v.c_reasoning), f.tiered, 3, 1);
      } else {
        double in = or_default(f.v[kL_input], 0.0);
        double cache = f.has(kL_cache_read) ? f.v[kL_cache_read] : in;
        out.prompt = (text * in) + (static_cast<double>(v.cache_hit) * cache);
        double o = or_default(f.v[kL_output], 0.0);
        double r = f.has(kL_output_reasoning) ? f.v[kL_output_reasoning] : o;
        out.completion = (comp * o) + (static_cast<double>(v.c_reasoning) * r);
      }
      break;
    }
    case LitellmRoute::Xai: {
      // total_tokens == prompt + completion ("already normalised"): completion_tokens kept as is,
      // completion details dropped, so reasoning is billed at the output rate.
      // Otherwise (xAI's own usage) the reasoning tokens are added to completion_tokens.
      LView x = v;
      if (v.reasoning_on_top) {
        x.completion_i = v.completion_i + v.c_reasoning;
        x.completion_tokens = static_cast<double>(x.completion_i);
      }
      x.c_text = x.c_reasoning = x.c_audio = x.c_image = 0;
      generic<kDetail>(f, x, LTier::None, out, cache_cost);
      break;
    }
    case LitellmRoute::Zero:
    case LitellmRoute::AzurePerSecond:
    case LitellmRoute::OtherPerSecond:
      out.prompt = 0.0;
      out.completion = 0.0;
      break;
    case LitellmRoute::Unmapped: break;
  }
  if (!std::isnan(t.router_flat_input)) out.prompt += v.prompt_tokens * t.router_flat_input;
  if (call && t.route == LitellmRoute::GenericNoTier && t.route_provider == "anthropic") {
    // llms/anthropic/cost_calculation.cost_per_token: provider_specific_entry multipliers for
    // usage.inference_geo (unless global / not_available) and usage.speed == "fast", applied to
    // the prompt cost less its cache reads and writes, and to the completion cost.
    const ModelEntry& e = cat.entry(t.index);
    double multiplier = 1.0;
    if (const std::string g = geo_key(call->inference_geo); !g.empty()) {
      const CallMultiplier* m = e.multiplier(g);
      multiplier *= m ? m->value : 1.0;
    }
    if (call->speed == "fast") {
      const CallMultiplier* m = e.multiplier("fast");
      multiplier *= m ? m->value : 1.0;
    }
    if (multiplier != 1.0) {
      out.prompt = (out.prompt - cache_cost) * multiplier + cache_cost;
      out.completion *= multiplier;
      out.multiplier = multiplier;
      if constexpr (kDetail)
        for (int b : {kInputText, kInputAudio, kInputImage, kOutputText, kReasoning, kOutputAudio, kOutputImage})
          if (!std::isnan(out.parts[b])) out.parts[b] *= multiplier;
    }
  }
  out.total = out.prompt + out.completion;
  return out;
}
}  // namespace

// ------------------------------------------------------------------------------------------
// batch
// ------------------------------------------------------------------------------------------

i128 price_batch(const Catalog& cat, Mode mode, const std::vector<BatchModel>& models,
                 const std::int32_t* model_codes, const std::array<const std::int64_t*, kNumBuckets>& cols,
                 std::size_t n, ServiceTier tier, std::int32_t date, int num_threads, double* out_total,
                 double* out_prompt, double* out_completion, const text::StopFn& stop, bool* sum_overflow) {
  TOKENOPS_CHECK(!models.empty() || n == 0, InvalidArgument, "no models given");
  std::atomic<bool> overflow{false};  // of the grand total only: each row's total is checked
  auto add_sum = [&](i128 a, i128 b) {
    i128 r;
    if (__builtin_add_overflow(a, b, &r)) {
      if (!sum_overflow) cost_out_of_range();
      overflow.store(true, std::memory_order_relaxed);
      return i128{0};
    }
    return r;
  };
  // Validate once up front so errors name the first bad row deterministically.
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t code = model_codes ? model_codes[i] : 0;
    TOKENOPS_CHECK(code >= 0 && static_cast<std::size_t>(code) < models.size(), InvalidArgument,
                   "model code at row ", i, " is ", code, "; expected 0..", models.size() - 1);
    Usage u;
    for (int b = 0; b < kNumBuckets; ++b) {
      u.n[b] = cols[b] ? cols[b][i] : 0;
      if (u.n[b] < 0)
        throw InvalidArgument(detail::concat("usage column '", bucket_name(b), "' row ", i, " is ", u.n[b],
                                             "; token counts must be >= 0"));
    }
    if (mode == Mode::Litellm) {
      try {
        validate_litellm_range(u);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument(detail::concat("row ", i, ": ", e.what()));
      }
    }
  }
  std::vector<ExactPlan> plans;
  if (mode == Mode::Exact) {
    plans.reserve(models.size());
    for (const auto& m : models) plans.push_back(make_plan(cat.entry(m.index), tier, date, m.call));
  }
  const std::size_t chunk = 8192;
  const std::size_t nchunks = (n + chunk - 1) / chunk;
  std::vector<i128> partial(nchunks, 0);
  const std::size_t threads = text::resolve_threads(num_threads, nchunks);
  text::parallel_for(nchunks, threads, [&](std::size_t c) {
    if (stop && stop()) return;  // the caller discards the partial results
    const std::size_t lo = c * chunk, hi = std::min(n, lo + chunk);
    i128 acc = 0;
    Usage u;
    for (std::size_t i = lo; i < hi; ++i) {
      for (int b = 0; b < kNumBuckets; ++b) u.n[b] = cols[b] ? cols[b][i] : 0;
      const std::size_t code = model_codes ? static_cast<std::size_t>(model_codes[i]) : 0;
      const BatchModel& m = models[code];
      if (mode == Mode::Litellm) {
        // validated above; totals only (no per-bucket parts)
        LitellmCost r = price_litellm_view<false>(cat, m.target, view_of(u), tier, m.call.empty() ? nullptr : &m.call);
        out_total[i] = r.total;
        if (out_prompt) out_prompt[i] = r.prompt;
        if (out_completion) out_completion[i] = r.completion;
      } else {
        const i128 t = plan_total(plans[code], u);
        out_total[i] = atto_to_double(t);
        acc = add_sum(acc, t);
      }
    }
    partial[c] = acc;
  });
  i128 total = 0;
  for (auto p : partial) total = add_sum(total, p);
  if (overflow.load()) {
    *sum_overflow = true;
    return 0;
  }
  return total;
}

std::string atto_to_string(i128 atto) {
  bool neg = atto < 0;
  u128 a = neg ? static_cast<u128>(-atto) : static_cast<u128>(atto);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(a % 10)));
    a /= 10;
  } while (a);
  while (digits.size() <= static_cast<std::size_t>(kAttoPerUsdExp)) digits.push_back('0');
  std::reverse(digits.begin(), digits.end());
  std::string ip = digits.substr(0, digits.size() - kAttoPerUsdExp);
  std::string fp = digits.substr(digits.size() - kAttoPerUsdExp);
  while (!fp.empty() && fp.back() == '0') fp.pop_back();
  std::string s = (neg ? "-" : "") + ip;
  if (!fp.empty()) s += "." + fp;
  return s;
}

double atto_to_double(i128 atto) {
  // Correctly rounded atto / 10^18: divide by 5^18 with enough quotient bits, round to 53 bits
  // half-to-even using the remainder as sticky bit, then scale by 2^-18 (exact).
  if (atto == 0) return 0.0;
  const bool neg = atto < 0;
  const u128 a = neg ? static_cast<u128>(-atto) : static_cast<u128>(atto);
  auto bitlen = [](u128 x) {
    int n = 0;
    while (x) {
      x >>= 1;
      ++n;
    }
    return n;
  };
  constexpr u128 kFive18 = 3814697265625ull;  // 5^18, 42 bits
  const int la = bitlen(a);
  const int s = 62 - (la - 42);
  if (s < 0 || la + s > 126) {  // beyond $1e13: exact decimal string path
    std::string str = atto_to_string(atto);
    double d = 0;
    std::from_chars(str.data(), str.data() + str.size(), d);
    return d;
  }
  const u128 num = a << s;
  const u128 q = num / kFive18;
  const bool sticky = (num % kFive18) != 0;
  const int lq = bitlen(q);
  const int drop = lq > 53 ? lq - 53 : 0;
  u128 keep = q >> drop;
  if (drop > 0) {
    const u128 rem = q & ((static_cast<u128>(1) << drop) - 1);
    const u128 half = static_cast<u128>(1) << (drop - 1);
    if (rem > half || (rem == half && (sticky || (keep & 1)))) ++keep;
  }
  const double r = std::ldexp(static_cast<double>(keep), drop - s - 18);
  return neg ? -r : r;
}

}  // namespace tokenops::cost
