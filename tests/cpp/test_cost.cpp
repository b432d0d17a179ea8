#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tokenops/cost/catalog.hpp"
#include "tokenops/cost/engine.hpp"
#include "tokenops/io/price_files.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
using namespace tokenops::cost;

namespace {

const char* kPrices = R"({
  "sample_spec": {"input_cost_per_token": "docs", "litellm_provider": "x"},
  "gpt-5": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.25e-06,
            "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-07,
            "input_cost_per_token_flex": 6.25e-07, "output_cost_per_token_flex": 5e-06,
            "cache_read_input_token_cost_flex": 6.25e-08, "max_input_tokens": 272000},
  "claude-3-7-sonnet-20250219": {"litellm_provider": "anthropic", "mode": "chat",
            "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_creation_input_token_cost": 3.75e-06, "cache_read_input_token_cost": 3e-07,
            "supports_prompt_caching": true},
  "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat",
            "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_creation_input_token_cost": 3.75e-06, "cache_read_input_token_cost": 3e-07,
            "cache_creation_input_token_cost_above_1hr": 6e-06,
            "input_cost_per_token_above_200k_tokens": 6e-06, "output_cost_per_token_above_200k_tokens": 2.25e-05,
            "cache_read_input_token_cost_above_200k_tokens": 6e-07},
  "anthropic.claude-3-5-sonnet-20240620-v1:0": {"litellm_provider": "bedrock", "mode": "chat",
            "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05},
  "bad-string": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "0.000001"},
  "bad-tier": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06,
            "input_cost_per_token_above_abck_tokens": 2e-06},
  "dashscope/qwen-flash": {"litellm_provider": "dashscope", "mode": "chat", "input_cost_per_token": 5e-08,
            "output_cost_per_token": 4e-07, "tiered_pricing": [
              {"input_cost_per_token": 5e-08, "output_cost_per_token": 4e-07, "range": [0, 256000.0]},
              {"input_cost_per_token": 2.5e-07, "output_cost_per_token": 2e-06, "range": [256000.0, 1000000.0]}]},
  "xai/grok-2-vision-1212": {"litellm_provider": "xai", "mode": "chat", "input_cost_per_image": 2e-06,
            "input_cost_per_token": 2e-06, "output_cost_per_token": 1e-05}
})";

Catalog load() {
  auto imp = io::parse_litellm_prices(kPrices, "test.json", "2026-04-30");
  return Catalog(std::move(imp.entries), "test.json", "2026-04-30");
}

Usage usage(std::initializer_list<std::pair<int, std::int64_t>> kv) {
  Usage u;
  for (auto [b, n] : kv) u.n[b] = n;
  return u;
}

}  // namespace

TEST(Price, ExactDecimalFromShortestRepr) {
  EXPECT_EQ(atto_to_string(make_price(2.5e-06).atto), "0.0000025");
  EXPECT_EQ(atto_to_string(make_price(3.75e-08).atto), "0.0000000375");
  EXPECT_FALSE(make_price(3.75e-08).inexact);
  EXPECT_EQ(atto_to_string(make_price(2.5, -6).atto), "0.0000025");  // $2.50 per million
  EXPECT_EQ(atto_to_string(make_price(0.01, -3).atto), "0.00001");   // $0.01 per thousand
  EXPECT_THROW(make_price(-1.0), InvalidArgument);
  EXPECT_EQ(atto_to_string(static_cast<i128>(54399) * 1000000000000ll), "0.054399");
}

TEST(Import, MalformedRowsAreSkippedAndNamed) {
  auto imp = io::parse_litellm_prices(kPrices, "test.json", "");
  EXPECT_EQ(imp.entries.size(), 6u);
  ASSERT_EQ(imp.problems.size(), 2u);
  std::string all = imp.problems[0].key + imp.problems[0].message + imp.problems[1].key + imp.problems[1].message;
  EXPECT_NE(all.find("bad-string"), std::string::npos);
  EXPECT_NE(all.find("input_cost_per_token"), std::string::npos);
  EXPECT_NE(all.find("bad-tier"), std::string::npos);
  EXPECT_NE(all.find("abck"), std::string::npos);
  EXPECT_THROW(io::parse_litellm_prices("{not json", "x", ""), InvalidArgument);
}

TEST(Catalog, ResolvesUserNamesAndListsCloseMatches) {
  Catalog c = load();
  EXPECT_EQ(c.entry(c.resolve("gpt-5").index).key, "gpt-5");
  EXPECT_EQ(c.entry(c.resolve("openai/gpt-5").index).key, "gpt-5");
  EXPECT_EQ(c.entry(c.resolve("GPT-5").index).key, "gpt-5");
  EXPECT_EQ(c.entry(c.resolve("anthropic/claude-3-7-sonnet-20250219").index).key, "claude-3-7-sonnet-20250219");
  EXPECT_EQ(c.entry(c.resolve("bedrock/us-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0").index).key,
            "anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(c.entry(c.resolve("us.anthropic.claude-3-5-sonnet-20240620-v1:0").index).key,
            "anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(c.entry(c.resolve("vertex_ai/claude-3-7-sonnet@20250219").index).key, "claude-3-7-sonnet-20250219");
  try {
    c.resolve("gpt-6");
    FAIL() << "expected NotFound";
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("'gpt-5'"), std::string::npos) << e.what();
  }
}

TEST(Exact, WorkedExamplesFromLitellmIssues) {
  Catalog c = load();
  // LiteLLM #15945: gpt-5, prompt 9126 (4864 cached), completion 3197.
  auto r = price_exact(c.entry(*c.find_key("gpt-5")), usage({{kInputText, 9126 - 4864}, {kCacheRead, 4864}, {kOutputText, 3197}}),
                       ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(r.total_atto), "0.0379055");
  // LiteLLM #9812: Anthropic input 3, cache creation 12304, output 550.
  auto a = price_exact(c.entry(*c.find_key("claude-3-7-sonnet-20250219")),
                       usage({{kInputText, 3}, {kCacheWrite5m, 12304}, {kOutputText, 550}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(a.total_atto), "0.054399");
}

TEST(Exact, NeverASilentZero) {
  Catalog c = load();
  const auto& e = c.entry(*c.find_key("claude-3-7-sonnet-20250219"));
  EXPECT_THROW(price_exact(e, usage({{kInputText, 10}, {kCacheWrite1h, 100}}), ServiceTier::Standard, 0), InvalidArgument);
  EXPECT_THROW(price_exact(e, usage({{kInputText, 10}}), ServiceTier::Flex, 0), InvalidArgument);
  Usage neg;
  neg.n[kOutputText] = -1;
  EXPECT_THROW(price_exact(e, neg, ServiceTier::Standard, 0), InvalidArgument);
  // reasoning without its own price is billed at the output rate, with a note
  auto r = price_exact(e, usage({{kReasoning, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(r.total_atto), "0.015");
  EXPECT_FALSE(r.lines.at(0).note.empty());
}

TEST(Exact, LongContextCliffAndFlex) {
  Catalog c = load();
  const auto& s = c.entry(*c.find_key("claude-sonnet-4-5"));
  auto lo = price_exact(s, usage({{kInputText, 200000}, {kOutputText, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(lo.total_atto), "0.615");  // 200k is not above 200k
  auto hi = price_exact(s, usage({{kInputText, 200001}, {kOutputText, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(hi.total_atto), "1.222506");  // whole request repriced
  auto w1h = price_exact(s, usage({{kCacheWrite1h, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(w1h.total_atto), "0.006");
  const auto& g = c.entry(*c.find_key("gpt-5"));
  auto flex = price_exact(g, usage({{kInputText, 1000000}}), ServiceTier::Flex, 0);
  EXPECT_EQ(atto_to_string(flex.total_atto), "0.625");
}

TEST(Exact, InputRangeBandsPriceTheWholeRequest) {
  // DashScope tiered_pricing: the band the request's input count falls in prices every token
  // (Alibaba's tiers are keyed by input length; LiteLLM's progressive split gave 0.0238 here).
  Catalog c = load();
  const auto& q = c.entry(*c.find_key("dashscope/qwen-flash"));
  auto m = price_exact(q, usage({{kInputText, 300000}, {kOutputText, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(m.total_atto), "0.077");  // 300k at 0.25/M + 1k output at 2/M
  EXPECT_EQ(m.row, "band 256000-1000000");
  auto lo = price_exact(q, usage({{kInputText, 256000}, {kOutputText, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(lo.total_atto), "0.0132");  // 256k is not above 256k: first band
  // cache reads count towards the band and, without a band cache price, take its input rate
  auto cr = price_exact(q, usage({{kInputText, 256000}, {kCacheRead, 1}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(cr.total_atto), "0.06400025");
  // the LiteLLM mirror keeps LiteLLM's progressive bands
  auto lit = price_litellm(c, litellm_target(c, "dashscope/qwen-flash"), usage({{kInputText, 300000}}),
                           ServiceTier::Standard);
  EXPECT_DOUBLE_EQ(lit.total, 256000 * 5e-08 + 44000 * 2.5e-07);
  // batch totals agree with price_exact
  std::vector<std::int64_t> in{300000, 256000}, out{1000, 1000};
  std::array<const std::int64_t*, kNumBuckets> cols{};
  cols[kInputText] = in.data();
  cols[kOutputText] = out.data();
  std::vector<BatchModel> models{{*c.find_key("dashscope/qwen-flash"), litellm_target(c, "dashscope/qwen-flash"), {}}};
  std::vector<double> tot(2);
  i128 sum = price_batch(c, Mode::Exact, models, nullptr, cols, 2, ServiceTier::Standard, 0, 1, tot.data(), nullptr,
                         nullptr, {});
  EXPECT_EQ(atto_to_string(sum), "0.0902");
}

TEST(Exact, ImageTokensWithoutAnImagePriceUseTheTextRate) {
  Catalog c = load();
  const auto& s = c.entry(*c.find_key("claude-sonnet-4-5"));
  auto r = price_exact(s, usage({{kInputText, 100}, {kInputImage, 900}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(r.total_atto), "0.003");
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_NE(r.lines[1].note.find("input text rate"), std::string::npos) << r.lines[1].note;
  // above the long-context threshold, at the long-context text rate
  auto hi = price_exact(s, usage({{kInputText, 200000}, {kInputImage, 1}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(hi.total_atto), "1.200006");
  // audio keeps its own price: none -> error
  EXPECT_THROW(price_exact(s, usage({{kInputAudio, 1}}), ServiceTier::Standard, 0), InvalidArgument);
  // a model priced per image (not per token) is refused
  const auto& g = c.entry(*c.find_key("xai/grok-2-vision-1212"));
  EXPECT_THROW(price_exact(g, usage({{kInputImage, 10}}), ServiceTier::Standard, 0), InvalidArgument);
}

TEST(Litellm, MirrorsOperationOrderBitForBit) {
  Catalog c = load();
  auto t = litellm_target(c, "gpt-5");
  ASSERT_EQ(t.route, LitellmRoute::Generic);
  auto r = price_litellm(c, t, usage({{kInputText, 9126 - 4864}, {kCacheRead, 4864}, {kOutputText, 3197}}),
                         ServiceTier::Standard);
  EXPECT_EQ(r.total, 0.03790550000000001);  // LiteLLM issue #15945, exactly as LiteLLM prints it
  auto a = price_litellm(c, litellm_target(c, "claude-3-7-sonnet-20250219"),
                         usage({{kInputText, 3}, {kCacheWrite5m, 12304}, {kOutputText, 550}}), ServiceTier::Standard);
  EXPECT_EQ(a.total, 0.054399);
  // LiteLLM prices 1-hour writes at $0 when the field is missing (a bug exact mode refuses).
  auto z = price_litellm(c, litellm_target(c, "claude-3-7-sonnet-20250219"), usage({{kCacheWrite1h, 1000}}),
                         ServiceTier::Standard);
  EXPECT_EQ(z.total, 0.0);
  EXPECT_THROW(price_litellm(c, litellm_target(c, "nope-model"), usage({{kInputText, 1}}), ServiceTier::Standard),
               NotFound);
}

TEST(Batch, IdenticalForAnyThreadCount) {
  Catalog c = load();
  const std::size_t n = 50000;
  std::vector<std::int64_t> in(n), cached(n), out(n);
  std::vector<std::int32_t> codes(n);
  for (std::size_t i = 0; i < n; ++i) {
    in[i] = static_cast<std::int64_t>((i * 7919) % 300000);
    cached[i] = static_cast<std::int64_t>((i * 104729) % 5000);
    out[i] = static_cast<std::int64_t>((i * 31) % 4000);
    codes[i] = static_cast<std::int32_t>(i % 2);
  }
  std::array<const std::int64_t*, kNumBuckets> cols{};
  cols[kInputText] = in.data();
  cols[kCacheRead] = cached.data();
  cols[kOutputText] = out.data();
  for (Mode mode : {Mode::Litellm, Mode::Exact}) {
    std::vector<BatchModel> models(2);
    models[0].index = *c.find_key("gpt-5");
    models[0].target = litellm_target(c, "gpt-5");
    models[1].index = *c.find_key("claude-sonnet-4-5");
    models[1].target = litellm_target(c, "claude-sonnet-4-5");
    std::vector<double> t1(n), t4(n);
    i128 g1 = price_batch(c, mode, models, codes.data(), cols, n, ServiceTier::Standard, 0, 1, t1.data(), nullptr, nullptr);
    i128 g4 = price_batch(c, mode, models, codes.data(), cols, n, ServiceTier::Standard, 0, 4, t4.data(), nullptr, nullptr);
    EXPECT_EQ(t1, t4);
    EXPECT_TRUE(g1 == g4);
    // A stop hook that never fires changes nothing; one that fires at once leaves the rows
    // unpriced (the bindings raise KeyboardInterrupt instead of returning them).
    std::vector<double> ts(n, -1.0);
    int asked = 0;
    i128 gs = price_batch(c, mode, models, codes.data(), cols, n, ServiceTier::Standard, 0, 1, ts.data(), nullptr,
                          nullptr, [&] { ++asked; return false; });
    EXPECT_EQ(ts, t1);
    EXPECT_TRUE(gs == g1);
    EXPECT_GT(asked, 1);  // asked between chunks, not once per call
    std::fill(ts.begin(), ts.end(), -1.0);
    for (int threads : {1, 3}) {
      gs = price_batch(c, mode, models, codes.data(), cols, n, ServiceTier::Standard, 0, threads, ts.data(),
                       nullptr, nullptr, [] { return true; });
      EXPECT_TRUE(gs == 0) << threads;
      EXPECT_EQ(std::count(ts.begin(), ts.end(), -1.0), static_cast<long>(n)) << threads;
    }
    // per-row API agrees with the batch
    Usage u;
    u.n[kInputText] = in[123];
    u.n[kCacheRead] = cached[123];
    u.n[kOutputText] = out[123];
    if (mode == Mode::Litellm)
      EXPECT_EQ(t1[123], price_litellm(c, models[1].target, u, ServiceTier::Standard).total);
    else
      EXPECT_EQ(t1[123], atto_to_double(price_exact(c.entry(models[1].index), u, ServiceTier::Standard, 0).total_atto));
  }
  in[77] = -5;
  std::vector<BatchModel> one(1);
  one[0].target = litellm_target(c, "gpt-5");
  std::vector<double> t(n);
  EXPECT_THROW(price_batch(c, Mode::Litellm, one, nullptr, cols, n, ServiceTier::Standard, 0, 2, t.data(), nullptr, nullptr),
               InvalidArgument);
}

TEST(GenaiPrices, TiersDatesAndMatchRules) {
  const char* doc = R"([{"id": "anthropic", "models": [
     {"id": "claude-opus-4-6", "match": {"or": [{"starts_with": "claude-opus-4-6"}, {"equals": "opus"}]},
      "prices": {"input_mtok": {"base": 5, "tiers": [{"start": 200000, "price": 10}]}, "output_mtok": 25,
                 "cache_write_1h_mtok": 10}},
     {"id": "dated", "match": {"equals": "dated"},
      "prices": [{"prices": {"input_mtok": 1, "output_mtok": 2}},
                 {"constraint": {"start_date": "2026-03-13"}, "prices": {"input_mtok": 3, "output_mtok": 4}}]},
     {"id": "broken", "prices": {"input_mtok": "cheap"}},
     {"id": "badtier", "prices": {"input_mtok": {"base": 1, "tiers": [{"start": "200k", "price": 2}]}}}
  ]}])";
  auto imp = io::parse_genai_prices(doc, "genai", "");
  ASSERT_EQ(imp.entries.size(), 2u);
  ASSERT_EQ(imp.problems.size(), 2u);
  EXPECT_NE(imp.problems[0].message.find("input_mtok"), std::string::npos);
  EXPECT_NE(imp.problems[1].message.find("threshold"), std::string::npos);
  Catalog c(std::move(imp.entries), "genai", "");
  auto m = c.resolve("claude-opus-4-6-20260101");
  EXPECT_EQ(m.matched_by, "match-rule");
  const auto& e = c.entry(m.index);
  EXPECT_EQ(atto_to_string(price_exact(e, usage({{kInputText, 200001}}), ServiceTier::Standard, 0).total_atto), "2.00001");
  const auto& d = c.entry(c.resolve("dated").index);
  const std::int32_t before = parse_iso_date("2026-01-01", "d"), after = parse_iso_date("2026-06-01", "d");
  EXPECT_EQ(atto_to_string(price_exact(d, usage({{kInputText, 1000000}}), ServiceTier::Standard, before).total_atto), "1");
  EXPECT_EQ(atto_to_string(price_exact(d, usage({{kInputText, 1000000}}), ServiceTier::Standard, after).total_atto), "3");
  EXPECT_THROW(parse_iso_date("2026-13-01", "when"), InvalidArgument);
}

TEST(Price, AttoToDoubleIsCorrectlyRounded) {
  // Compare with the decimal string parsed by from_chars (correctly rounded) over many values.
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    i128 a = static_cast<i128>(x >> (i % 40));
    if (i % 3 == 0) a *= 1000003;
    std::string s = atto_to_string(a);
    double want = std::stod(s);
    ASSERT_EQ(atto_to_double(a), want) << s;
  }
  EXPECT_EQ(atto_to_double(static_cast<i128>(37905500) * 1000000000ll), 0.0379055);
}

TEST(Dates, OnlyRealIsoDatesParse) {
  EXPECT_EQ(parse_iso_date("1970-01-01", "d"), 0);
  EXPECT_EQ(parse_iso_date("2024-02-29", "d"), parse_iso_date("2024-02-28", "d") + 1);
  EXPECT_EQ(parse_iso_date("2000-03-01", "d"), parse_iso_date("2000-02-29", "d") + 1);
  for (const char* bad : {"2O26-09-01", "2025-02-30", "2025-02-29", "1900-02-29", "2025-04-31", "2025-13-01",
                          "2025-00-10", "2025-01-00", "2025-01-01junk", "2025-01-01T00:00:00Z", "2025-1-01",
                          " 2025-01-01", "+025-01-01", "2025-01-+1", "0000-01-01", ""}) {
    EXPECT_THROW(parse_iso_date(bad, "d"), InvalidArgument) << bad;
  }
}

namespace {
const char* kCallPrices = R"({
  "claude-opus-4-6": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 5e-06,
            "output_cost_per_token": 2.5e-05, "cache_read_input_token_cost": 5e-07,
            "cache_creation_input_token_cost": 6.25e-06, "provider_specific_entry": {"us": 1.1, "fast": 6.0}},
  "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
            "output_cost_per_token": 1.5e-05},
  "gemini/gemini-3.1-flash-lite-preview": {"litellm_provider": "gemini", "mode": "chat",
            "input_cost_per_token": 2.5e-07, "input_cost_per_audio_token": 5e-07, "output_cost_per_token": 1.5e-06,
            "cache_read_input_token_cost": 2.5e-08, "cache_read_input_token_cost_per_audio_token": 5e-08},
  "gpt-realtime": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 4e-06,
            "input_cost_per_audio_token": 3.2e-05, "cache_read_input_token_cost": 4e-07,
            "cache_creation_input_audio_token_cost": 4e-07, "output_cost_per_token": 1.6e-05},
  "gemini/gemini-2.5-flash": {"litellm_provider": "gemini", "mode": "chat", "input_cost_per_token": 3e-07,
            "output_cost_per_token": 2.5e-06, "cache_read_input_token_cost": 3e-08}
})";
Catalog load_call() {
  auto imp = io::parse_litellm_prices(kCallPrices, "call.json", "");
  EXPECT_TRUE(imp.problems.empty());
  return Catalog(std::move(imp.entries), "call.json", "");
}
}  // namespace

TEST(Exact, InferenceGeoAndFastModeMultiplyEveryTokenPrice) {
  Catalog c = load_call();
  const auto& e = c.entry(*c.find_key("claude-opus-4-6"));
  // Anthropic's bill: 1.1 x (1000 x $5/M + 500 x $25/M) for US-only inference
  auto us = price_exact(e, usage({{kInputText, 1000}, {kOutputText, 500}}), ServiceTier::Standard, 0, {"us", ""});
  EXPECT_EQ(atto_to_string(us.total_atto), "0.01925");
  EXPECT_NE(us.lines.at(0).note.find("x1.1"), std::string::npos) << us.lines.at(0).note;
  // cache reads and writes too ("all token pricing categories"); fast mode stacks (6 x 1.1)
  auto both = price_exact(e, usage({{kCacheRead, 1000}, {kCacheWrite5m, 1000}}), ServiceTier::Standard, 0,
                          {"US", "fast"});
  EXPECT_EQ(atto_to_string(both.total_atto), "0.04455");  // 6.6 x (0.0005 + 0.00625)
  for (const char* geo : {"", "global", "not_available"}) {
    auto g = price_exact(e, usage({{kInputText, 1000}}), ServiceTier::Standard, 0, {geo, "standard"});
    EXPECT_EQ(atto_to_string(g.total_atto), "0.005") << geo;
  }
  // a geo / speed the entry lists no multiplier for is never priced at 1x silently
  const auto& s = c.entry(*c.find_key("claude-sonnet-4-5"));
  EXPECT_THROW(price_exact(s, usage({{kInputText, 1}}), ServiceTier::Standard, 0, {"us", ""}), InvalidArgument);
  EXPECT_THROW(price_exact(e, usage({{kInputText, 1}}), ServiceTier::Standard, 0, {"eu", ""}), InvalidArgument);
  EXPECT_THROW(price_exact(e, usage({{kInputText, 1}}), ServiceTier::Standard, 0, {"", "warp"}), InvalidArgument);
}

TEST(Litellm, AnthropicMultiplierLeavesCacheCostsAlone) {
  // llms/anthropic/cost_calculation.cost_per_token: (prompt - cache) x m + cache; completion x m
  Catalog c = load_call();
  const auto t = litellm_target(c, "claude-opus-4-6");
  LitellmUsage lu = litellm_usage_of(usage({{kInputText, 1000}, {kCacheRead, 2000}, {kOutputText, 500}}));
  auto r = price_litellm(c, t, lu, ServiceTier::Standard, {"us", "fast"});
  const double m = 1.0 * 1.1 * 6.0;
  const double cache = 2000.0 * 5e-07;
  const double prompt = (1000.0 * 5e-06 + cache - cache) * m + cache;
  EXPECT_EQ(r.prompt, prompt);
  EXPECT_EQ(r.completion, 500.0 * 2.5e-05 * m);
  EXPECT_EQ(r.multiplier, m);
  // a model without the entry: LiteLLM's .get(geo, 1.0)
  LitellmUsage plain = litellm_usage_of(usage({{kInputText, 1000}}));
  EXPECT_EQ(price_litellm(c, litellm_target(c, "claude-sonnet-4-5"), plain, ServiceTier::Standard, {"us", ""}).total,
            0.003);
}

TEST(Litellm, ExplicitTextTokensAreKeptAsLitellmKeepsThem) {
  Catalog c = load_call();
  const auto t = litellm_target(c, "gemini/gemini-2.5-flash");
  LitellmUsage v;  // Gemini TEXT 400 + VIDEO 600: LiteLLM prices the 400 text tokens only
  v.prompt_tokens = 1000;
  v.has_prompt_details = true;
  v.text = 400;
  v.completion_tokens = 200;
  auto r = price_litellm(c, t, v, ServiceTier::Standard);
  EXPECT_EQ(r.prompt, 400 * 3e-07);
  EXPECT_EQ(r.units[kInputText], 400);
  v.text = -200;  // implicit caching of an image prompt: text 400 - cached 600
  v.cache_hit = 600;
  v.image = 600;
  auto n = price_litellm(c, t, v, ServiceTier::Standard);
  EXPECT_EQ(n.prompt, -200 * 3e-07 + 600 * 3e-08 + 600 * 3e-07);
  v.text = 0;  // not set: the remainder, clamped at 0
  EXPECT_EQ(price_litellm(c, t, v, ServiceTier::Standard).units[kInputText], 0);
}

TEST(Exact, CachedAudioHasItsOwnPriceOrTheCacheReadRateWithANote) {
  Catalog c = load_call();
  const auto& g = c.entry(*c.find_key("gemini/gemini-3.1-flash-lite-preview"));
  auto r = price_exact(g, usage({{kCacheRead, 1000}, {kCacheReadAudio, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(r.total_atto), "0.000075");  // 1000 x 2.5e-8 + 1000 x 5e-8
  // OpenAI Realtime rows spell the cached audio price cache_creation_input_audio_token_cost
  const auto& rt = c.entry(*c.find_key("gpt-realtime"));
  EXPECT_EQ(atto_to_string(price_exact(rt, usage({{kCacheReadAudio, 1000000}}), ServiceTier::Standard, 0).total_atto),
            "0.4");
  const auto& f = c.entry(*c.find_key("gemini/gemini-2.5-flash"));
  auto fb = price_exact(f, usage({{kCacheReadAudio, 1000}}), ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(fb.total_atto), "0.00003");
  EXPECT_NE(fb.lines.at(0).note.find("cache-read rate"), std::string::npos);
  // LiteLLM prices every cache hit at the cache-read price
  auto lit = price_litellm(c, litellm_target(c, "gemini/gemini-3.1-flash-lite-preview"),
                           usage({{kCacheRead, 1000}, {kCacheReadAudio, 1000}}), ServiceTier::Standard);
  EXPECT_EQ(lit.prompt, 2000 * 2.5e-08);
}

TEST(Import, NonFiniteLiteralsMakeTheirRowAProblemNotTheFile) {
  // Python's json.dump writes NaN / Infinity, and LiteLLM's json.load reads them back.
  const char* doc = R"({
    "a": {"litellm_provider": "openai", "input_cost_per_token": NaN, "output_cost_per_token": 1e-06},
    "b": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
          "supports_vision": NaN, "note": "NaN and Infinity in a string stay text"},
    "c": {"litellm_provider": "openai", "input_cost_per_token": -Infinity},
    "d": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "max_input_tokens": Infinity}})";
  auto imp = io::parse_litellm_prices(doc, "nan.json", "");
  ASSERT_EQ(imp.entries.size(), 1u);
  EXPECT_EQ(imp.entries[0].key, "b");
  ASSERT_EQ(imp.problems.size(), 3u);
  EXPECT_EQ(imp.problems[0].key, "a");
  EXPECT_NE(imp.problems[0].message.find("got NaN"), std::string::npos) << imp.problems[0].message;
  EXPECT_NE(imp.problems[1].message.find("-Infinity"), std::string::npos) << imp.problems[1].message;
  EXPECT_NE(imp.problems[2].message.find("max_input_tokens"), std::string::npos) << imp.problems[2].message;
}

TEST(GenaiPrices, CachedAudioIsABucketAndOtherPricesAreKeptForNotes) {
  const char* doc = R"([{"id": "google", "models": [
     {"id": "gemini-2.5-flash", "context_window": 1048576,
      "prices": {"input_mtok": 0.3, "input_audio_mtok": 1, "cache_read_mtok": 0.03, "cache_audio_read_mtok": 0.1,
                 "output_mtok": 2.5, "input_video_mtok": {"base": 0.5, "tiers": [{"start": 200000, "price": 1}]}}}
  ]}])";
  auto imp = io::parse_genai_prices(doc, "genai", "");
  ASSERT_TRUE(imp.problems.empty());
  Catalog c(std::move(imp.entries), "genai", "");
  const auto& e = c.entry(c.resolve("gemini-2.5-flash").index);
  EXPECT_EQ(e.total_window, 1048576);
  // the reviewer's example: 500 text + 500 audio + 1000 cached audio + 1000 output
  auto r = price_exact(e, usage({{kInputText, 500}, {kInputAudio, 500}, {kCacheReadAudio, 1000}, {kOutputText, 1000}}),
                       ServiceTier::Standard, 0);
  EXPECT_EQ(atto_to_string(r.total_atto), "0.00325");
  ASSERT_EQ(e.unmodelled.size(), 1u);
  EXPECT_EQ(e.unmodelled[0].kind, "input_video");
  EXPECT_EQ(atto_to_string(e.unmodelled[0].price.atto), "0.0000005");
}
