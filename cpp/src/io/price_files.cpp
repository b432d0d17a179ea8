#include "tokenops/io/price_files.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "json_preview.hpp"
#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::io {

using nlohmann::json;
using namespace tokenops::cost;

namespace {

struct RowProblem : std::runtime_error {
  std::string field;
  RowProblem(std::string f, const std::string& msg) : std::runtime_error(msg), field(std::move(f)) {}
};

// LiteLLM's JSON is read by Python's json module, which accepts the NaN / Infinity / -Infinity
// literals json.dump writes for non-finite floats. They are not JSON: before parsing, each one
// outside a string becomes this marker string, so the row that holds it is reported (a NaN price
// is a malformed row) instead of the whole file failing to parse.
constexpr std::string_view kNonFinite = "\x01tokenops-nonfinite:";

bool is_nonfinite_marker(const json& v) {
  return v.is_string() && v.get_ref<const std::string&>().rfind(kNonFinite, 0) == 0;
}

std::string type_name(const json& v) {
  if (is_nonfinite_marker(v)) return v.get_ref<const std::string&>().substr(kNonFinite.size());
  if (v.is_string()) return "string '" + v.get<std::string>() + "'";
  return std::string(v.type_name());
}

double number(const json& v, const std::string& field) {
  if (is_nonfinite_marker(v))
    throw RowProblem(field, "field '" + field + "' must be a finite price >= 0, got " + type_name(v));
  if (!v.is_number())
    throw RowProblem(field, "field '" + field + "' must be a number, got " + type_name(v));
  double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) throw RowProblem(field, "field '" + field + "' must be a finite price >= 0");
  return d;
}

// LiteLLM base field -> bucket
const std::map<std::string, int>& litellm_bucket_fields() {
  static const std::map<std::string, int> m = {
      {"input_cost_per_token", kInputText},
      {"input_cost_per_audio_token", kInputAudio},
      {"input_cost_per_image_token", kInputImage},
      {"cache_read_input_token_cost", kCacheRead},
      {"cache_creation_input_token_cost", kCacheWrite5m},
      {"cache_creation_input_token_cost_above_1hr", kCacheWrite1h},
      {"output_cost_per_token", kOutputText},
      {"output_cost_per_reasoning_token", kReasoning},
      {"output_cost_per_audio_token", kOutputAudio},
      {"output_cost_per_image_token", kOutputImage},
      {"input_cost_per_request", kRequest},
      // cached audio prompt tokens (both spellings occur: Gemini, OpenAI Realtime)
      {"cache_read_input_token_cost_per_audio_token", kCacheReadAudio},
      {"cache_read_input_audio_token_cost", kCacheReadAudio},
  };
  return m;
}

// LiteLLM prices of tokens tokenops bills inside another bucket (kept as notes).
const std::map<std::string, std::string>& litellm_unmodelled_fields() {
  static const std::map<std::string, std::string> m = {
      {"cache_read_input_image_token_cost", "cache_read_image"},
  };
  return m;
}

// Parses "200k" / "128" / "1m" -> tokens; throws RowProblem naming the field.
std::int64_t parse_threshold(std::string_view t, const std::string& field) {
  std::int64_t mult = 1;
  std::string_view num = t;
  if (!num.empty() && (num.back() == 'k' || num.back() == 'K')) {
    mult = 1000;
    num.remove_suffix(1);
  } else if (!num.empty() && (num.back() == 'm' || num.back() == 'M')) {
    mult = 1000000;
    num.remove_suffix(1);
  }
  std::int64_t v = 0;
  auto r = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || r.ec != std::errc() || r.ptr != num.data() + num.size() || v <= 0)
    throw RowProblem(field, "field '" + field + "': tier threshold '" + std::string(t) +
                                "' does not parse (expected e.g. 200k or 128000)");
  // Thresholds are token counts; anything past 10^15 tokens is a malformed file (and v * mult
  // must not overflow).
  if (v > 1000000000000000 / mult)
    throw RowProblem(field, "field '" + field + "': tier threshold '" + std::string(t) +
                                "' is too large (more than 10^15 tokens)");
  return v * mult;
}

ServiceTier tier_suffix(std::string& field) {
  auto strip = [&](const char* suf) {
    std::string s = suf;
    if (field.size() > s.size() && field.compare(field.size() - s.size(), s.size(), s) == 0) {
      field.resize(field.size() - s.size());
      return true;
    }
    return false;
  };
  if (strip("_flex")) return ServiceTier::Flex;
  if (strip("_priority")) return ServiceTier::Priority;
  if (strip("_batches")) return ServiceTier::Batch;
  return ServiceTier::Standard;
}

PriceRow& row_for(std::vector<PriceRow>& rows, ServiceTier tier, std::int64_t threshold) {
  for (auto& r : rows)
    if (r.tier == tier && r.threshold == threshold && r.mode == TierMode::Cliff) return r;
  PriceRow r;
  r.tier = tier;
  r.threshold = threshold;
  r.label = service_tier_name(tier);
  if (threshold) r.label += " >" + std::to_string(threshold);
  rows.push_back(std::move(r));
  return rows.back();
}

void read_litellm_fields(const json& e, LitellmFields& f) {
  for (int k = 0; k < kNumLitellmFields; ++k) {
    std::string key = litellm_field_key(k);
    auto dot = key.find('.');
    const json* v = nullptr;
    if (dot != std::string::npos) {
      auto it = e.find(key.substr(0, dot));
      if (it != e.end() && it->is_object()) {
        auto jt = it->find(key.substr(dot + 1));
        if (jt != it->end()) v = &*jt;
      }
    } else {
      auto it = e.find(key);
      if (it != e.end()) v = &*it;
    }
    if (!v || v->is_null()) continue;
    f.v[k] = number(*v, key);
    if (k == kL_input) f.input_is_int = v->is_number_integer();
    if (k == kL_output) f.output_is_int = v->is_number_integer();
  }
  f.has_input = f.has(kL_input);
  f.has_output = f.has(kL_output);
  auto tp = e.find("tiered_pricing");
  if (tp != e.end() && !tp->is_null()) {
    if (!tp->is_array()) throw RowProblem("tiered_pricing", "field 'tiered_pricing' must be a list, got " + type_name(*tp));
    f.has_tiered = true;
    for (std::size_t i = 0; i < tp->size(); ++i) {
      const json& t = (*tp)[i];
      std::string where = "tiered_pricing[" + std::to_string(i) + "]";
      if (!t.is_object()) throw RowProblem(where, where + " must be an object");
      LitellmTier lt;
      auto r = t.find("range");
      if (r != t.end() && !r->is_null()) {
        if (!r->is_array() || r->size() != 2)
          throw RowProblem("tiered_pricing", where + ".range must be [start, end] (input tokens), got " +
                                                 (is_nonfinite_marker(*r) ? type_name(*r) : json_preview(*r)));
        auto bound = [&](const json& v, const char* which) {  // a token count, not a price
          const std::string field = where + ".range[" + which + "]";
          if (!v.is_number() || is_nonfinite_marker(v))
            throw RowProblem("tiered_pricing", field + " must be a token count, got " + type_name(v));
          const double d = v.get<double>();
          if (!(d >= 0)) throw RowProblem("tiered_pricing", field + " must be a token count >= 0, got " + json_preview(v));
          return d;
        };
        lt.has_range = true;
        lt.lo = bound((*r)[0], "0");
        lt.hi = bound((*r)[1], "1");
      } else if (t.find("max_results_range") == t.end()) {
        // (LiteLLM's search providers list per-query prices by max_results_range: not token bands)
        throw RowProblem("tiered_pricing", where + " has no 'range' (the [start, end] of input tokens it prices), "
                                           "so which requests it prices is unknown");
      }
      auto get = [&](const char* k) {
        auto it = t.find(k);
        return (it == t.end() || it->is_null()) ? static_cast<double>(NAN) : number(*it, where + "." + k);
      };
      lt.input = get("input_cost_per_token");
      lt.output = get("output_cost_per_token");
      lt.cache_read = get("cache_read_input_token_cost");
      lt.reasoning = get("output_cost_per_reasoning_token");
      f.tiered.push_back(lt);
    }
  }
}

void build_litellm_rows(const json& e, ModelEntry& m) {
  const auto& fields = litellm_bucket_fields();
  for (auto it = e.begin(); it != e.end(); ++it) {
    std::string key = it.key();
    if (it->is_null()) continue;
    if (key == "search_context_cost_per_query") {
      if (!it->is_object()) throw RowProblem(key, "field '" + key + "' must be an object, got " + type_name(*it));
      auto med = it->find("search_context_size_medium");
      if (med != it->end() && !med->is_null()) {
        PriceRow& r = row_for(m.rows, ServiceTier::Standard, 0);
        r.prices[kWebSearch] = make_price(number(*med, key + ".search_context_size_medium"));
      }
      continue;
    }
    if (key == "provider_specific_entry") {
      // Anthropic's per-call multipliers: {"us": 1.1, "fast": 6.0}
      if (!it->is_object()) throw RowProblem(key, "field '" + key + "' must be an object, got " + type_name(*it));
      for (auto jt = it->begin(); jt != it->end(); ++jt) {
        if (jt->is_null()) continue;
        const std::string fk = key + "." + jt.key();
        CallMultiplier cm;
        cm.key = jt.key();
        cm.value = number(*jt, fk);
        cm.exact = make_price(cm.value);
        m.multipliers.push_back(std::move(cm));
      }
      continue;
    }
    if (key.find("cost") == std::string::npos) continue;
    if (auto um = litellm_unmodelled_fields().find(key); um != litellm_unmodelled_fields().end()) {
      m.unmodelled.push_back({um->second, key, make_price(number(*it, key))});
      continue;
    }
    std::string f = key;
    ServiceTier tier = tier_suffix(f);
    std::int64_t threshold = 0;
    // "<base>_above_<N>_tokens" (the 1-hour cache write is "<...>_above_1hr", not a tier)
    auto pos = f.rfind("_above_");
    if (pos != std::string::npos && f.size() > 7 && f.compare(f.size() - 7, 7, "_tokens") == 0) {
      std::string t = f.substr(pos + 7, f.size() - 7 - (pos + 7));
      std::string base = f.substr(0, pos);
      if (!fields.count(base)) continue;  // e.g. per-character or per-second tiers: not token buckets
      threshold = parse_threshold(t, key);
      f = base;
    }
    auto fb = fields.find(f);
    if (fb == fields.end()) {
      // Any other *cost* field must still be a number (or an object/list LiteLLM defines).
      if (!it->is_number() && !it->is_object() && !it->is_array() && !it->is_boolean())
        throw RowProblem(key, "field '" + key + "' must be a number, got " + type_name(*it));
      continue;
    }
    double v = number(*it, key);
    PriceRow& r = row_for(m.rows, tier, threshold);
    r.prices[fb->second] = make_price(v);
  }
  // DeepSeek rows (and others copied from them) spell the cache-read price
  // "input_cost_per_token_cache_hit", some without "cache_read_input_token_cost": that is the
  // provider's price of a cache hit. (LiteLLM's calculator reads only the latter and bills such
  // hits at $0; mode="litellm" reproduces that, the exact mode bills the listed price.)
  // OpenAI / Azure Realtime rows list the price of cached audio input as
  // "cache_creation_input_audio_token_cost" (OpenAI bills no cache writes: gpt-realtime's audio
  // input is $32/M, its cached audio input $0.40/M, the value there): the cached-audio read price
  // where no cache_read_input_audio_token_cost gives one.
  auto cca = e.find("cache_creation_input_audio_token_cost");
  if (cca != e.end() && !cca->is_null()) {
    const double v = number(*cca, "cache_creation_input_audio_token_cost");
    PriceRow& r = row_for(m.rows, ServiceTier::Standard, 0);
    if (!r.prices[kCacheReadAudio].set) r.prices[kCacheReadAudio] = make_price(v);
  }
  auto hit = e.find("input_cost_per_token_cache_hit");
  if (hit != e.end() && !hit->is_null()) {
    const double v = number(*hit, "input_cost_per_token_cache_hit");
    PriceRow& r = row_for(m.rows, ServiceTier::Standard, 0);
    if (!r.prices[kCacheRead].set) r.prices[kCacheRead] = make_price(v);
  }
  // DashScope / Volcengine tiered_pricing: input-range bands. The provider prices the whole
  // request (input, cache reads, output, reasoning) at the band its input token count falls in
  // (LiteLLM's dashscope_tiered prices each count through the bands progressively instead; its
  // own fields, kept in m.litellm, still drive mode="litellm").
  std::vector<const LitellmTier*> bands;  // the input-token bands, by start
  for (const auto& t : m.litellm.tiered)
    if (t.has_range) bands.push_back(&t);
  std::stable_sort(bands.begin(), bands.end(), [](const LitellmTier* a, const LitellmTier* b) { return a->lo < b->lo; });
  if (!bands.empty()) {
    // Every input token count must fall in exactly one band: bands of whole token counts, from
    // token 0, each starting where the one before ends. (A gap billed its requests at another
    // band's price, LiteLLM's progressive count skips the tokens in it; a bound past int64 was
    // cast to a garbage threshold.)
    auto band = [](const LitellmTier& t) { return detail::concat("[", t.lo, ", ", t.hi, "]"); };
    for (const LitellmTier* t : bands) {
      for (const double v : {t->lo, t->hi})
        if (v > 1e15 || v != std::floor(v))
          throw RowProblem("tiered_pricing", detail::concat("tiered_pricing band ", band(*t), ": ", v,
                                                            " is not a whole token count in [0, 1e15]"));
      if (!(t->lo < t->hi))
        throw RowProblem("tiered_pricing", detail::concat("tiered_pricing band ", band(*t),
                                                          " is empty or reversed (its start must be below its end)"));
    }
    // Bands must start at token 0: a request with fewer input tokens than the first band's start
    // would be priced by no row (a silent $0 for a small request).
    if (bands.front()->lo > 0)
      throw RowProblem("tiered_pricing", detail::concat("tiered_pricing bands start at ", bands.front()->lo,
                                                        " tokens; no band prices the tokens below"));
    for (std::size_t i = 1; i < bands.size(); ++i) {
      const LitellmTier& a = *bands[i - 1];
      const LitellmTier& b = *bands[i];
      if (b.lo > a.hi)
        throw RowProblem("tiered_pricing", detail::concat("tiered_pricing bands ", band(a), " and ", band(b),
                                                          " leave a gap: no band prices input of more than ", a.hi,
                                                          " and at most ", b.lo, " tokens"));
      if (b.lo < a.hi)
        throw RowProblem("tiered_pricing", detail::concat("tiered_pricing bands ", band(a), " and ", band(b),
                                                          " overlap: input of more than ", b.lo, " and at most ",
                                                          a.hi, " tokens falls in both"));
    }
    for (const LitellmTier* tp : bands) {
      const LitellmTier& t = *tp;
      PriceRow r;
      r.mode = TierMode::Band;
      r.threshold = static_cast<std::int64_t>(t.lo);
      r.upper = static_cast<std::int64_t>(t.hi);
      r.label = "band " + std::to_string(r.threshold) + "-" + std::to_string(r.upper);
      if (!std::isnan(t.input)) r.prices[kInputText] = make_price(t.input);
      if (!std::isnan(t.output)) r.prices[kOutputText] = make_price(t.output);
      if (!std::isnan(t.cache_read)) r.prices[kCacheRead] = make_price(t.cache_read);
      if (!std::isnan(t.reasoning)) r.prices[kReasoning] = make_price(t.reasoning);
      m.rows.push_back(std::move(r));
    }
    // The bands supersede the flat base row's token prices.
    std::vector<PriceRow> kept;
    for (auto& r : m.rows)
      if (!(r.mode == TierMode::Cliff && r.threshold == 0 && r.tier == ServiceTier::Standard)) kept.push_back(std::move(r));
    m.rows = std::move(kept);
  }
}

std::vector<std::string> string_list(const json& e, const char* key) {
  std::vector<std::string> out;
  auto it = e.find(key);
  if (it != e.end() && it->is_array())
    for (const auto& s : *it)
      if (s.is_string() && !is_nonfinite_marker(s)) out.push_back(s.get<std::string>());
  return out;
}

std::int64_t int_field(const json& e, const char* key) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return 0;
  if (!it->is_number())
    throw RowProblem(key, std::string("field '") + key + "' must be a " +
                              (is_nonfinite_marker(*it) ? "whole token count" : "number") + ", got " + type_name(*it));
  // A token limit: a whole number in [0, 10^15]. (Casting a larger double to int64 is undefined;
  // a negative limit is meaningless.)
  const double v = it->get<double>();
  if (!(v >= 0 && v <= 1e15) || v != std::floor(v))
    throw RowProblem(key, detail::concat("field '", key, "' must be a whole token count in [0, 1e15], got ", json_preview(*it)));
  return static_cast<std::int64_t>(v);
}

// A literal mark_nonfinite replaced: where its marker string ends in the marked text, and how
// many bytes the markers up to and including it added.
struct Mark {
  std::size_t marked_end;
  std::size_t added;
  std::string_view literal;  // NaN, Infinity or -Infinity
};

std::string marker_string(std::string_view literal) {  // as written in the marked JSON text
  return detail::concat('"', "\\u0001", kNonFinite.substr(1), literal, '"');
}

// nlohmann's message for a syntax error in the marked text, told about the text the user wrote:
// the position mapped back, each marker string spelled as the literal it replaced (the message
// showed "\u0001tokenops-nonfinite:NaN" for a file that says NaNx).
std::string unmarked_message(const json::parse_error& e, std::string_view original, const std::vector<Mark>& marks) {
  std::string msg = e.what();
  std::size_t added = 0;
  std::string_view last;  // the literal whose marker ends where the parser stopped, if one does
  for (const Mark& mk : marks) {
    if (mk.marked_end > e.byte) break;
    added = mk.added;
    last = mk.marked_end == e.byte ? mk.literal : std::string_view();
  }
  const std::size_t pos = std::min(original.size(), e.byte > added ? e.byte - added : 0);
  const std::string_view read = original.substr(0, pos);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(read.begin(), read.end(), '\n'));
  const std::size_t nl = read.rfind('\n');
  const std::size_t column = nl == std::string_view::npos ? pos : pos - nl - 1;
  if (const std::size_t at = msg.find("parse error at line "); at != std::string::npos)
    if (const std::size_t colon = msg.find(": ", at); colon != std::string::npos)
      msg.replace(at, colon - at, detail::concat("parse error at line ", line, ", column ", column));
  if (!last.empty())
    if (const std::size_t s = msg.find("unexpected string literal"); s != std::string::npos)
      msg.replace(s, 25, detail::concat("unexpected '", last, "'"));
  for (const std::string_view lit : {"NaN", "Infinity", "-Infinity"}) {
    const std::string m = marker_string(lit);
    for (std::size_t s = msg.find(m); s != std::string::npos; s = msg.find(m, s + lit.size()))
      msg.replace(s, m.size(), lit);
  }
  return msg;
}

// `marks` / `original`: the literals mark_nonfinite replaced in `original` to make `text`.
json parse_json(std::string_view text, std::string_view source, std::string_view original = {},
                const std::vector<Mark>& marks = {}) {
  // nlohmann parses any depth, but copying or recursing through a value nested 40,000 deep
  // overflowed the stack: refuse it first.
  check_json_depth(text, source);
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {  // syntax errors, and numbers beyond double (1e400)
    throw InvalidArgument(detail::concat(source, ": not valid JSON: ",
                                         marks.empty() ? std::string(e.what()) : unmarked_message(e, original, marks)));
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": not valid JSON: ", e.what()));
  }
}

// Replaces the NaN / Infinity / -Infinity literals outside strings by kNonFinite marker strings
// (see there), recording each in `marks`; `text` itself when it has none.
std::string_view mark_nonfinite(std::string_view text, std::string& buf, std::vector<Mark>& marks) {
  marks.clear();
  if (text.find("NaN") == std::string_view::npos && text.find("Infinity") == std::string_view::npos) return text;
  buf.clear();
  buf.reserve(text.size() + 64);
  bool in_string = false, escaped = false, changed = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      buf.push_back(c);
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      buf.push_back(c);
      continue;
    }
    std::string_view lit;
    for (std::string_view l : {"NaN", "Infinity", "-Infinity"})
      if (text.compare(i, l.size(), l) == 0) {
        lit = l;
        break;
      }
    if (lit.empty()) {
      buf.push_back(c);
      continue;
    }
    const std::size_t before = buf.size();
    buf += marker_string(lit);
    const std::size_t added = (marks.empty() ? 0 : marks.back().added) + (buf.size() - before) - lit.size();
    marks.push_back({buf.size(), added, lit});
    i += lit.size() - 1;
    changed = true;
  }
  return changed ? std::string_view(buf) : text;
}

}  // namespace

PriceImport parse_litellm_prices(std::string_view text, std::string_view source, std::string_view checked_date) {
  std::string buf;
  std::vector<Mark> marks;
  const std::string_view marked = mark_nonfinite(text, buf, marks);
  json doc = parse_json(marked, source, text, marks);
  TOKENOPS_CHECK(doc.is_object(), InvalidArgument, source,
                 ": a LiteLLM price file is a JSON object mapping model names to fields");
  PriceImport out;
  out.entries.reserve(doc.size());
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() == "sample_spec") continue;
    ModelEntry m;
    m.key = it.key();
    try {
      const json& e = *it;
      // a name no lookup can take (model names are non-empty, without NUL)
      if (m.key.empty() || m.key.find('\0') != std::string::npos)
        throw RowProblem("", "model name is empty or contains NUL; no lookup can reach it");
      if (!e.is_object()) throw RowProblem("", "entry must be an object, got " + type_name(e));
      auto lp = e.find("litellm_provider");
      if (lp == e.end() || !lp->is_string() || is_nonfinite_marker(*lp))
        throw RowProblem("litellm_provider", "field 'litellm_provider' missing or not a string");
      m.provider = lp->get<std::string>();
      auto md = e.find("mode");
      if (md != e.end() && md->is_string() && !is_nonfinite_marker(*md)) m.mode = md->get<std::string>();
      m.context_window = int_field(e, "max_input_tokens");
      if (!m.context_window) m.context_window = int_field(e, "max_tokens");
      m.max_output = int_field(e, "max_output_tokens");
      m.modalities = string_list(e, "supported_modalities");
      for (auto& s : string_list(e, "supported_output_modalities")) m.modalities.push_back("output:" + s);
      auto dd = e.find("deprecation_date");
      if (dd != e.end() && dd->is_string() && !is_nonfinite_marker(*dd)) m.deprecation_date = dd->get<std::string>();
      auto pc = e.find("supports_prompt_caching");
      m.supports_prompt_caching = pc != e.end() && pc->is_boolean() && pc->get<bool>();
      m.source = std::string(source);
      m.checked_date = std::string(checked_date);
      read_litellm_fields(e, m.litellm);
      build_litellm_rows(e, m);
    } catch (const RowProblem& p) {
      out.problems.push_back({m.key, p.field, p.what()});
      continue;
    } catch (const Error& p) {
      out.problems.push_back({m.key, "", p.what()});
      continue;
    }
    out.entries.push_back(std::move(m));
  }
  return out;
}

// --------------------------------------------------------------------------------------------
// genai-prices
// --------------------------------------------------------------------------------------------

namespace {

// or / and clauses nest at most this deep (genai-prices nests two levels).
constexpr std::size_t kMaxMatchDepth = 32;

// Reads a match clause. `path` holds the parts of its place ("match", ".or[2]", ...), joined only
// for a message: a place string built at every level was quadratic in the depth (800 MB at 20,000
// levels), and the recursion one C++ frame per level.
MatchRule read_match(const json& j, std::vector<std::string>& path) {
  auto where = [&] {
    std::string w;
    for (const auto& p : path) w += p;
    return w;
  };
  if (path.size() > kMaxMatchDepth)
    throw RowProblem("match", detail::concat(where(), ": or / and clauses nest deeper than ", kMaxMatchDepth, " levels"));
  if (!j.is_object() || j.size() != 1) throw RowProblem(where(), where() + " must be an object with one clause");
  MatchRule r;
  const auto first = j.begin();
  const std::string& k = first.key();
  const json& v = first.value();
  if (k == "or" || k == "and") {
    r.kind = k == "or" ? MatchRule::Or : MatchRule::And;
    if (!v.is_array()) throw RowProblem(where(), where() + "." + k + " must be a list");
    for (std::size_t i = 0; i < v.size(); ++i) {
      path.push_back(detail::concat(".", k, "[", i, "]"));
      r.children.push_back(read_match(v[i], path));
      path.pop_back();
    }
    return r;
  }
  if (!v.is_string()) throw RowProblem(where(), where() + "." + k + " must be a string");
  if (k == "regex") {
    // compiled once, here: a pattern tokenops cannot match safely is this row's problem
    // (an invalid one was kept and silently matched nothing)
    try {
      return MatchRule::make_regex(v.get<std::string>());
    } catch (const InvalidArgument& e) {
      throw RowProblem(where() + ".regex", where() + ".regex: " + e.what());
    }
  }
  // genai-prices compares both sides lower-cased (ClauseEquals: text.lower() == equals.lower());
  // the name is lower-cased at look-up, so the pattern is here ("GLM-5.2" matched nothing)
  r.value = v.get<std::string>();
  for (char& c : r.value)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (k == "equals") r.kind = MatchRule::Equals;
  else if (k == "starts_with") r.kind = MatchRule::StartsWith;
  else if (k == "ends_with") r.kind = MatchRule::EndsWith;
  else if (k == "contains") r.kind = MatchRule::Contains;
  else throw RowProblem(where(), where() + ": unknown match clause '" + k + "'");
  return r;
}

const std::map<std::string, std::pair<int, int>>& genai_fields() {  // field -> (bucket, scale exp)
  static const std::map<std::string, std::pair<int, int>> m = {
      {"input_mtok", {kInputText, -6}},         {"output_mtok", {kOutputText, -6}},
      {"cache_read_mtok", {kCacheRead, -6}},    {"cache_write_mtok", {kCacheWrite5m, -6}},
      {"cache_write_1h_mtok", {kCacheWrite1h, -6}}, {"input_audio_mtok", {kInputAudio, -6}},
      {"output_audio_mtok", {kOutputAudio, -6}}, {"input_image_mtok", {kInputImage, -6}},
      {"output_image_mtok", {kOutputImage, -6}}, {"output_reasoning_mtok", {kReasoning, -6}},
      {"requests_kcount", {kRequest, -3}},      {"web_searches_kcount", {kWebSearch, -3}},
      {"cache_audio_read_mtok", {kCacheReadAudio, -6}},
  };
  return m;
}

// genai-prices prices of tokens tokenops bills inside another bucket: field -> kind
const std::map<std::string, std::string>& genai_unmodelled_fields() {
  static const std::map<std::string, std::string> m = {
      {"cache_image_read_mtok", "cache_read_image"},
      {"input_video_mtok", "input_video"},
      {"output_video_mtok", "output_video"},
      {"output_citation_mtok", "output_citation"},
  };
  return m;
}

void add_genai_prices(const json& prices, std::int32_t from, std::int32_t to, ModelEntry& m, const std::string& where) {
  if (!prices.is_object()) throw RowProblem(where, where + " must be an object");
  const auto& fields = genai_fields();
  auto make_row = [&](std::int64_t threshold) -> PriceRow& {
    for (auto& r : m.rows)
      if (r.threshold == threshold && r.effective_from == from) return r;
    PriceRow r;
    r.effective_from = from;
    r.effective_to = to;
    r.threshold = threshold;
    r.label = threshold ? "standard >" + std::to_string(threshold) : "standard";
    m.rows.push_back(r);
    return m.rows.back();
  };
  make_row(0);
  for (auto it = prices.begin(); it != prices.end(); ++it) {
    auto f = fields.find(it.key());
    const std::string fw = where + "." + it.key();
    if (f == fields.end()) {
      // video, cached image, citation tokens: billed in another bucket, the price kept for notes
      auto um = genai_unmodelled_fields().find(it.key());
      if (um == genai_unmodelled_fields().end()) continue;
      const json* base = &*it;
      if (it->is_object()) {
        auto b = it->find("base");
        if (b == it->end()) throw RowProblem(fw, fw + " must be a number or {base, tiers}");
        base = &*b;
      }
      const Price p = make_price(number(*base, it->is_object() ? fw + ".base" : fw), -6);
      bool seen = false;
      for (auto& u : m.unmodelled)
        if (u.kind == um->second) {
          u.price = p;  // a later (dated) price entry: the latest wins
          seen = true;
        }
      if (!seen) m.unmodelled.push_back({um->second, it.key(), p});
      continue;
    }
    if (it->is_object()) {
      auto base = it->find("base");
      auto tiers = it->find("tiers");
      if (base == it->end() || tiers == it->end() || !tiers->is_array())
        throw RowProblem(fw, fw + " must be a number or {base, tiers}");
      make_row(0).prices[f->second.first] = make_price(number(*base, fw + ".base"), f->second.second);
      for (std::size_t i = 0; i < tiers->size(); ++i) {
        const json& t = (*tiers)[i];
        auto st = t.find("start");
        auto pr = t.find("price");
        if (!t.is_object() || st == t.end() || pr == t.end())
          throw RowProblem(fw, fw + ".tiers[" + std::to_string(i) + "] must be {start, price}");
        if (!st->is_number_integer() || st->get<std::int64_t>() <= 0)
          throw RowProblem(fw, fw + ".tiers[" + std::to_string(i) + "].start: tier threshold " + type_name(*st) +
                                   " does not parse (expected a positive integer)");
        make_row(st->get<std::int64_t>()).prices[f->second.first] =
            make_price(number(*pr, fw + ".tiers.price"), f->second.second);
      }
    } else {
      make_row(0).prices[f->second.first] = make_price(number(*it, fw), f->second.second);
    }
  }
}

}  // namespace

PriceImport parse_genai_prices(std::string_view text, std::string_view source, std::string_view checked_date) {
  json doc = parse_json(text, source);
  TOKENOPS_CHECK(doc.is_array(), InvalidArgument, source, ": genai-prices data.json is a list of providers");
  PriceImport out;
  std::unordered_set<std::string> keys;  // the entries' keys, for the duplicate check
  for (const auto& prov : doc) {
    if (!prov.is_object() || !prov.contains("id") || !prov["id"].is_string() || !prov.contains("models")) {
      out.problems.push_back({"?", "id", "provider without id/models skipped"});
      continue;
    }
    const std::string pid = prov["id"].get<std::string>();
    for (const auto& mj : prov["models"]) {
      ModelEntry m;
      m.key = pid + "/" + (mj.contains("id") && mj["id"].is_string() ? mj["id"].get<std::string>() : "?");
      try {
        if (!mj.is_object() || !mj.contains("id") || !mj["id"].is_string()) throw RowProblem("id", "model without a string id");
        m.provider = pid;
        m.mode = "chat";
        m.source = std::string(source);
        m.checked_date = std::string(checked_date);
        m.context_window = int_field(mj, "context_window");
        m.total_window = m.context_window;  // genai-prices' context window covers input and output
        if (const auto mt = mj.find("match"); mt != mj.end()) {
          std::vector<std::string> path{"match"};
          m.match.push_back(read_match(*mt, path));
        }
        m.aliases.push_back(mj["id"].get<std::string>());
        auto prices_it = mj.find("prices");  // (const operator[] on a missing key is undefined)
        if (prices_it == mj.end()) throw RowProblem("prices", "model without prices");
        const json& prices = *prices_it;
        if (prices.is_array()) {
          // ConditionalPrice list: the last matching entry wins; date constraints become ranges.
          // A time-of-day entry (DeepSeek's: the standard price from 00:30 to 16:30 UTC over an
          // off-peak price the rest of the day) matches every date, so it wins over every entry
          // before it; tokenops prices without a time of day, so its price is taken all day and
          // the rows say so in their label (the price outside the window is never used).
          struct Cand {
            std::size_t index;
            std::int32_t from;
            std::string window;  // "HH:MM:SSZ-HH:MM:SSZ" for a time-of-day entry
          };
          std::vector<Cand> cands;
          for (std::size_t i = 0; i < prices.size(); ++i) {
            const json& cp = prices[i];
            if (!cp.is_object() || !cp.contains("prices"))
              throw RowProblem("prices", "each entry of a prices list must be an object with \"prices\", got " +
                                             json_preview(cp));
            // (a pointer: `cond ? cp["constraint"] : json()` copied the whole constraint value)
            static const json kNoConstraint;
            const auto ct = cp.find("constraint");
            const json& c = ct == cp.end() ? kNoConstraint : *ct;
            std::int32_t from = std::numeric_limits<std::int32_t>::min();
            std::string window;
            if (c.is_object() && c.contains("start_date")) {
              if (!c["start_date"].is_string()) throw RowProblem("constraint.start_date", "constraint.start_date must be a date string");
              from = parse_iso_date(c["start_date"].get<std::string>(), "constraint.start_date");
            } else if (c.is_object() && (c.contains("start_time") || c.contains("end_time"))) {
              auto t = [&](const char* k) {
                if (!c.contains(k) || !c[k].is_string())
                  throw RowProblem(std::string("constraint.") + k, std::string("constraint.") + k + " must be a time string");
                return c[k].get<std::string>();
              };
              window = t("start_time") + "-" + t("end_time");
              cands.clear();
            } else if (!c.is_null()) {
              throw RowProblem("constraint", "unknown price constraint " + json_preview(c));
            }
            cands.push_back({i, from, window});
          }
          for (const auto& cd : cands) {
            std::int32_t to = std::numeric_limits<std::int32_t>::max();
            for (const auto& o : cands)
              if (o.from > cd.from && o.from < to) to = o.from;
            const std::size_t before = m.rows.size();
            add_genai_prices(prices[cd.index]["prices"], cd.from, to, m, "prices[" + std::to_string(cd.index) + "]");
            if (!cd.window.empty())
              for (std::size_t r = before; r < m.rows.size(); ++r)
                m.rows[r].label += " (the " + cd.window + " price, all day: time of day is not modelled)";
          }
        } else {
          add_genai_prices(prices, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(), m,
                           "prices");
        }
      } catch (const RowProblem& p) {
        out.problems.push_back({m.key, p.field, p.what()});
        continue;
      } catch (const Error& p) {
        out.problems.push_back({m.key, "", p.what()});
        continue;
      } catch (const json::exception& p) {  // a value of an unexpected JSON type
        out.problems.push_back({m.key, "", p.what()});
        continue;
      }
      if (!keys.insert(m.key).second) {  // (a scan of every earlier entry: quadratic, 38 s for 100k models)
        out.problems.push_back({m.key, "id", "duplicate model id; first definition kept"});
        continue;
      }
      out.entries.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace tokenops::io
