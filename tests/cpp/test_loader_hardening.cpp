// Bad input to the C++ loaders (the Python side is tests/python/test_loader_hardening.py): deeply
// nested JSON, backtracking or invalid regex match rules, LiteLLM tiered_pricing bands with gaps,
// and messages that quoted whole fields.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tokenops/cost/catalog.hpp"
#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/io/price_files.hpp"
#include "tokenops/io/tiktoken_file.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/tokenizer/hf.hpp"
#include "test_data.hpp"

using namespace tokenops;

namespace {

using test_data::data_dir;

std::string brackets(std::size_t n) { return std::string(n, '[') + std::string(n, ']'); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no InvalidArgument)";
}

// Python's re.search(pattern, name) for each pattern over kNames ('1': a match), from CPython 3.11.
struct RegexCase {
  const char* pattern;
  const char* hits;
};
const RegexCase kRegexCases[] = {
    {"^grok-4\\.3-\\d{8}$", "110100000000000000000000000000000000"},
    {"^o[134]", "000010000000000000000000000000000000"},
    {"(?:mi|code|dev|magi|mini)stral", "000000110000000000000000000000000000"},
    {"^gpt-5\\.6-luna-\\d{4}-\\d{2}-\\d{2}$", "000000000000100000000000000000000000"},
    {"(a+)+$", "000000000100010000000000000000000000"},
    {"^(x|x)*(y|yy)*$", "000000000011000000000100011000000000"},
    {"a$", "000000000100010000000000000000000000"},
    {"\\bgpt\\b", "000000000000100110000000000000000000"},
    {"\\Bpt", "000000000000100111000000000000000000"},
    {"[^a-c]x", "000000000011000000100100000000000000"},
    {"[]a]+z", "000000000000000000001000000000000000"},
    {"x{,2}y", "000000000011000000000100000000000000"},
    {"x{}", "000000000000000000000010000000000000"},
    {"a\\Z", "000000000100000000000000000000000000"},
    {"(?P<v>\\d+)k", "000000000000000000000001100000000000"},
    {".", "111111111111111111111111100111111111"},
    {"^$", "000000000000000000000000011000000000"},
    {"\\s", "010000000000011100000000001100000000"},
    {"\\w+\xc3""\xa9""", "000000000000000000000000000010000010"},
    {"[\\d.]{3}", "111100000000100000000001000001000000"},
    {"colou?r", "000000000000000000000000000000110000"},
    {"a{2,3}?b", "000000000000000000000000000000001000"},
    {"(|a)b", "000000100000000000000000000100001100"},
    {"\\x41\\u00e9", "000000000000000000000000000000000010"},
};
const std::vector<std::string> kNames = {
    "grok-4.3-20250101",
    "grok-4.3-20250101\x0a""",
    "grok-4.3-2025010",
    "grok-4.3-\xd9""\xa2""\xd9""\xa0""\xd9""\xa2""\xd9""\xa5""\xd9""\xa0""\xd9""\xa1""\xd9""\xa0""\xd9""\xa1""",
    "o1-mini",
    "xo1",
    "ministral-8b",
    "codestral",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "xxyy",
    "xxyyy",
    "gpt-5.6-luna-2026-01-02",
    "a\x0a""",
    "a\x0a""\x0a""",
    "gpt 4",
    "gpt-4",
    "apt",
    "dx",
    "ax",
    "]]az",
    "xxxy",
    "x{}",
    "128k",
    "\xd9""\xa1""\xd9""\xa2""k",
    "",
    "\x0a""",
    "a b",
    "caf\xc3""\xa9""",
    "1.2",
    "color",
    "colour",
    "aaab",
    "b",
    "A\xc3""\xa9""",
    "Ae"
};

}  // namespace

TEST(LoaderHardening, NameRegexAgreesWithPythonRe) {
  for (const auto& c : kRegexCases) {
    const cost::NameRegex rx(c.pattern);
    ASSERT_EQ(std::string(c.hits).size(), kNames.size());
    for (std::size_t i = 0; i < kNames.size(); ++i)
      EXPECT_EQ(rx.search(kNames[i]), c.hits[i] == '1') << "pattern '" << c.pattern << "' on '" << kNames[i] << "'";
  }
}

TEST(LoaderHardening, NameRegexIsLinearOnBacktrackingPatterns) {
  // std::regex took 6.5 s for "(a+)+$" on 25 a's and a '!', doubling with each further 'a'.
  const cost::NameRegex rx("(a+)+$");
  EXPECT_FALSE(rx.search(std::string(5000, 'a') + "!"));
  EXPECT_TRUE(rx.search(std::string(5000, 'a')));
  const cost::NameRegex nested("^((a|aa)*|b)*c$");
  EXPECT_FALSE(nested.search(std::string(3000, 'a') + "d"));
  // a rule made with make_regex holds the compiled pattern; an invalid one throws
  const auto rule = cost::MatchRule::make_regex("^o[134]");
  ASSERT_TRUE(rule.regex);
  EXPECT_TRUE(rule.matches("o3-mini"));
  EXPECT_FALSE(rule.matches("xo3"));
  EXPECT_THROW(cost::MatchRule::make_regex("(("), InvalidArgument);
}

TEST(LoaderHardening, NameRegexRefusesWhatItCannotMatchExactly) {
  for (const char* bad : {"((", "a)", "[a-", "*a", "a**", "x{3,2}", "\\q", "(?=a)", "(?<!a)b", "(?i)a", "(a)\\1",
                          "a*+", "(?>a)", "a{1001}", "(a{999}){999}", "[z-a]", "[\\d-z]", "\\x4", "^*", "(?P<n>a)(?P<n>b)"})
    EXPECT_THROW(cost::NameRegex{bad}, InvalidArgument) << bad;
  EXPECT_NE(message_of([] { cost::NameRegex r("(?=gpt)"); }).find("lookaround"), std::string::npos);
  EXPECT_NE(message_of([] { cost::NameRegex r("(("); }).find("missing ), unterminated subpattern"), std::string::npos);
  EXPECT_NE(message_of([] { cost::NameRegex r(std::string(2000, 'a')); }).find("2000 bytes long"), std::string::npos);
}

TEST(LoaderHardening, GenaiPricesRegexProblemsAndDepth) {
  const std::string file = R"([{"id": "p", "models": [
      {"id": "bad", "match": {"or": [{"equals": "x"}, {"regex": "(("}]}, "prices": {"input_mtok": 1}},
      {"id": "good", "match": {"regex": "^zz-good"}, "prices": {"input_mtok": 1}}]}])";
  const auto imp = io::parse_genai_prices(file, "data.json", "");
  ASSERT_EQ(imp.problems.size(), 1u);
  EXPECT_EQ(imp.problems[0].key, "p/bad");
  EXPECT_EQ(imp.problems[0].field, "match.or[1].regex");
  ASSERT_EQ(imp.entries.size(), 1u);
  ASSERT_TRUE(imp.entries[0].match[0].regex);
  // 40,000 levels of "or" crashed the process; the file is refused before it is read
  std::string deep;
  for (int i = 0; i < 40000; ++i) deep += R"({"or": [)";
  deep += R"({"equals": "x"})";
  for (int i = 0; i < 40000; ++i) deep += "]}";
  const std::string deep_file = R"([{"id": "p", "models": [{"id": "m", "match": )" + deep + R"(, "prices": {"input_mtok": 1}}]}])";
  EXPECT_NE(message_of([&] { io::parse_genai_prices(deep_file, "deep.json", ""); }).find("deep.json: JSON nested deeper than 256"),
            std::string::npos);
  const std::string deep_constraint =
      R"([{"id": "p", "models": [{"id": "m", "prices": [{"prices": {"input_mtok": 1}, "constraint": )" + brackets(100000) + "}]}]}]";
  EXPECT_THROW(io::parse_genai_prices(deep_constraint, "c.json", ""), InvalidArgument);
  // 40 levels of or / and fit the file limit but not a match rule's
  std::string nested = R"({"equals": "x"})";
  for (int i = 0; i < 40; ++i) nested = R"({"and": [)" + nested + "]}";
  const auto imp2 = io::parse_genai_prices(R"([{"id": "p", "models": [{"id": "m", "match": )" + nested +
                                               R"(, "prices": {"input_mtok": 1}}]}])",
                                           "n.json", "");
  ASSERT_EQ(imp2.problems.size(), 1u);
  EXPECT_NE(imp2.problems[0].message.find("nest deeper than 32 levels"), std::string::npos);
}

TEST(LoaderHardening, GenaiPricesDuplicateIdsAcrossManyModels) {
  std::string file = R"([{"id": "p", "models": [)";
  for (int i = 0; i < 50000; ++i) file += R"({"id": "m)" + std::to_string(i) + R"(", "prices": {"input_mtok": 1}},)";
  file += R"({"id": "m7", "prices": {"input_mtok": 2}}]}])";
  const auto imp = io::parse_genai_prices(file, "many.json", "");
  EXPECT_EQ(imp.entries.size(), 50000u);
  ASSERT_EQ(imp.problems.size(), 1u);
  EXPECT_EQ(imp.problems[0].key, "p/m7");
}

TEST(LoaderHardening, LitellmTieredBandsMustTileTheInputRange) {
  auto problems = [](const std::string& tiers) {
    const std::string file = R"({"m": {"litellm_provider": "dashscope", "mode": "chat", "input_cost_per_token": 1e-6,
                                "tiered_pricing": )" + tiers + "}}";
    return io::parse_litellm_prices(file, "t.json", "").problems;
  };
  const char* bad[] = {
      R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"range": [5000, 9000], "input_cost_per_token": 2e-6}])",
      R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"range": [500, 9000], "input_cost_per_token": 2e-6}])",
      R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"range": [1000, 9.3e18], "input_cost_per_token": 2e-6}])",
      R"([{"range": [0, 1e19], "input_cost_per_token": 1e-6}])",
      R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"input_cost_per_token": 2e-6}])",
      R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"range": [1000, 500], "input_cost_per_token": 2e-6}])",
  };
  for (const char* t : bad) {
    const auto p = problems(t);
    ASSERT_EQ(p.size(), 1u) << t;
    EXPECT_EQ(p[0].field, "tiered_pricing") << t;
  }
  EXPECT_TRUE(problems(R"([{"range": [0, 1000], "input_cost_per_token": 1e-6}, {"range": [1000, 9000], "input_cost_per_token": 2e-6}])")
                  .empty());
  EXPECT_TRUE(problems(R"([{"input_cost_per_query": 0.005, "max_results_range": [0, 25]}])").empty());
}

TEST(LoaderHardening, LitellmSyntaxErrorShowsTheUsersLiteral) {
  const std::string msg = message_of(
      [] { io::parse_litellm_prices(R"({"m1": {"litellm_provider": "openai", "input_cost_per_token": NaNx}})", "p.json", ""); });
  EXPECT_EQ(msg.find("tokenops-nonfinite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'NaNx'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 1, column 66"), std::string::npos) << msg;
}

TEST(LoaderHardening, HfTokenizerJsonDeepValuesAreRefused) {
  const std::string gpt2 = test_data::read_file(data_dir() + "/tokenizers/gpt2/tokenizer.json");
  // a pre_tokenizer of 200,000 brackets crashed the process
  std::string deep = gpt2;
  const std::size_t at = deep.find("\"pre_tokenizer\":");
  ASSERT_NE(at, std::string::npos);
  deep.insert(at, "\"zz\": " + brackets(200000) + ", ");
  EXPECT_NE(message_of([&] { io::parse_hf_tokenizer_json(deep, "deep.json"); }).find("deep.json: JSON nested deeper than 256"),
            std::string::npos);
  // a dropout nested 200 deep (under the file limit) is refused as unsupported, not copied
  std::string drop = gpt2;
  const std::size_t m = drop.find("\"dropout\": null");
  ASSERT_NE(m, std::string::npos);
  drop.replace(m, 15, "\"dropout\": " + brackets(200));
  EXPECT_NE(message_of([&] { io::parse_hf_tokenizer_json(drop, "d.json"); }).find("model.dropout"), std::string::npos);
}

TEST(LoaderHardening, HfUnsupportedRegexNamesTheFile) {
  io::HfBpeModel model;
  model.split_pattern = std::string(3000, 'x') + "\\w+";
  const std::string msg = message_of([&] { tokenizer::encoding_from_hf("enc", model, "/data/odd/tokenizer.json"); });
  EXPECT_EQ(msg.rfind("/data/odd/tokenizer.json: unsupported pre-tokenizer regex", 0), 0u) << msg;
  EXPECT_LT(msg.size(), 600u);
  EXPECT_NE(message_of([&] { tokenizer::encoding_from_hf("my-enc", model); }).find("tokenizer.json 'my-enc'"), std::string::npos);
}

TEST(LoaderHardening, TiktokenBadRankMessageIsShort) {
  std::string cr_only;
  for (int i = 0; i < 20000; ++i) cr_only += "YQ== " + std::to_string(i) + "\r";
  const std::string msg = message_of([&] { io::parse_tiktoken_ranks(cr_only, "cr.tiktoken"); });
  EXPECT_LT(msg.size(), 600u) << msg.size();
  EXPECT_NE(msg.find("cr.tiktoken line 1: rank '0\\rYQ== 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bare CR"), std::string::npos) << msg;
}
