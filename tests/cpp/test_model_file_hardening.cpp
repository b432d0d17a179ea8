// Model-file loaders refuse malformed files with InvalidArgument naming the file (and the field
// or line): deep JSON, shapes whose element count wraps, booleans read as numbers, counts that do
// not fit their type, duplicate or inconsistent entries, activations a model does not run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokenops/compress/classifier.hpp"
#include "tokenops/embed/embedder.hpp"
#include "tokenops/io/bert_config.hpp"
#include "tokenops/io/ngram_file.hpp"
#include "tokenops/io/router_file.hpp"
#include "tokenops/io/safetensors.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kTinyBert = fs::path(TOKENOPS_SOURCE_DIR) / "tests/fixtures/embed/tiny_bert";
const fs::path kTinyClassifier = fs::path(TOKENOPS_SOURCE_DIR) / "tests/fixtures/compress/tiny_token_classifier";

// Runs fn, expecting InvalidArgument whose message holds every needle.
template <class Fn>
void expect_invalid(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning " << *needles.begin();
  } catch (const InvalidArgument& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

std::string deep_array(std::size_t depth) { return std::string(depth, '[') + "\"mean\"" + std::string(depth, ']'); }

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

std::string safetensors_bytes(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

// A fresh copy of a fixture model directory.
fs::path copy_model(const fs::path& from, const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("tokenops_hardening_" + name);
  fs::remove_all(dir);
  fs::copy(from, dir, fs::copy_options::recursive);
  return dir;
}

void edit_json(const fs::path& p, const std::function<void(json&)>& edit) {
  json j = json::parse(read_file(p));
  edit(j);
  write_file(p, j.dump(2));
}

// A minimal router file: config + one 2x1 tensor "W", plus `extra` header entries (no data).
std::string router_bytes(const json& features, const json& extra = json::object()) {
  json cfg = {{"family", "linear"}, {"models", {"strong", "weak"}}, {"features", features}};
  json header = {{"__metadata__",
                  {{"format", "tokenops-router"},
                   {"format_version", std::to_string(io::kRouterFormatVersion)},
                   {"config", cfg.dump()}}},
                 {"W", {{"dtype", "F32"}, {"shape", {2, 1}}, {"data_offsets", {0, 8}}}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) header[it.key()] = it.value();
  return safetensors_bytes(header.dump(), std::string(8, '\0'));
}

const std::string kBigramOk =
    "tokenops-bigram 1\ndiscount 0.5\nunigrams 3\nnew\t10\t2\nyork\t5\t1\ncity\t4\t1\n"
    "bigrams 2\n0\t1\t8\n1\t2\t3\n";

}  // namespace

// ---------------------------------------------------------------------------- BERT configs
TEST(ModelFileHardening, DeepPoolingModeIsRefusedNotACrash) {
  // 150k levels used to overflow the stack (the parser copied the subtree level by level).
  expect_invalid([] { io::parse_sentence_config("", "", "{\"pooling_mode\": " + deep_array(150000) + "}", "/m"); },
                 {"/m/1_Pooling/config.json", "nested deeper"});
  // a one-element list still works
  auto s = io::parse_sentence_config("", "", R"({"pooling_mode": ["cls"]})", "/m");
  EXPECT_EQ(s.pooling, io::PoolingMode::kCls);
}

TEST(ModelFileHardening, DeepConfigJsonIsRefused) {
  expect_invalid([] { io::parse_bert_config("{\"x\": " + deep_array(100000) + "}", "cfg.json"); },
                 {"cfg.json", "nested deeper"});
}

TEST(ModelFileHardening, BertConfigCarriesTheActivation) {
  json j = json::parse(read_file(kTinyBert / "config.json"));
  for (const char* act : {"gelu_new", "gelu_pytorch_tanh", "relu"}) {
    j["hidden_act"] = act;
    EXPECT_EQ(io::parse_bert_config(j.dump(), "config.json").hidden_act, act);
  }
}

TEST(ModelFileHardening, EmbedderRefusesActivationsItDoesNotRun) {
  const fs::path dir = copy_model(kTinyBert, "embed_act");
  edit_json(dir / "config.json", [](json& j) { j["hidden_act"] = "gelu_new"; });
  expect_invalid([&] { embed::Embedder::load(dir.string()); },
                 {(dir / "config.json").string(), "gelu_new", "not supported by the Embedder"});
}

TEST(ModelFileHardening, EmbedderLayerCountErrorNamesTheFile) {
  const fs::path dir = copy_model(kTinyBert, "embed_layers");
  edit_json(dir / "config.json", [](json& j) { j["num_hidden_layers"] = 1; });
  expect_invalid([&] { embed::Embedder::load(dir.string()); },
                 {(dir / "model.safetensors").string(), "num_hidden_layers = 1", "more layers"});
}

// ---------------------------------------------------------------------------- token classifier
TEST(ModelFileHardening, ClassifierLoadsTanhGeluAndItDiffers) {
  const fs::path dir = copy_model(kTinyClassifier, "cls_act");
  auto exact = compress::TokenClassifier::load(kTinyClassifier.string());
  const std::vector<std::uint32_t> ids = {2, 100, 200, 300, 3};
  const auto a = exact->logits(ids);
  for (const char* act : {"gelu_new", "gelu_pytorch_tanh"}) {
    edit_json(dir / "config.json", [&](json& j) { j["hidden_act"] = act; });
    auto tanh = compress::TokenClassifier::load(dir.string());
    const auto b = tanh->logits(ids);
    ASSERT_EQ(a.size(), b.size());
    float diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
    EXPECT_GT(diff, 1e-6f) << act;  // another function ran
    EXPECT_LT(diff, 0.05f) << act;  // but a close approximation of the same one
  }
  edit_json(dir / "config.json", [](json& j) { j["hidden_act"] = "relu"; });
  expect_invalid([&] { compress::TokenClassifier::load(dir.string()); },
                 {(dir / "config.json").string(), "relu", "not supported"});
}

TEST(ModelFileHardening, ClassifierRefusesAddedTokenPastTheVocabularyAtLoad) {
  const fs::path dir = copy_model(kTinyClassifier, "cls_added");
  edit_json(dir / "tokenizer.json", [](json& j) {
    j["added_tokens"].push_back({{"id", 1000000}, {"content", "<extra>"}, {"single_word", false},
                                 {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  });
  expect_invalid([&] { compress::TokenClassifier::load(dir.string()); },
                 {(dir / "tokenizer.json").string(), "1000000", "vocab_size = 1000"});
}

TEST(ModelFileHardening, ClassifierTokenizerErrorsNameTheFile) {
  const fs::path dir = copy_model(kTinyClassifier, "cls_tok");
  edit_json(dir / "tokenizer.json", [](json& j) { j["added_tokens"][0]["id"] = 5; });  // [PAD] is id 0
  expect_invalid([&] { compress::TokenClassifier::load(dir.string()); },
                 {(dir / "tokenizer.json").string(), "[PAD]"});
}

// ---------------------------------------------------------------------------- router files
TEST(ModelFileHardening, RouterShapeCountIsCheckedBeforeItWraps) {
  // 2^32 * 2^32 * 4 wraps to 0 in 64 bits, which matched data_offsets [8, 8].
  const json huge = {{"Z", {{"dtype", "F32"}, {"shape", {1ull << 32, 1ull << 32, 4}}, {"data_offsets", {8, 8}}}}};
  expect_invalid([&] { io::parse_router_file(router_bytes(json::object(), huge), "r.router"); },
                 {"r.router", "'Z'", "too large"});
  // a zero-size tensor is still fine
  const json empty = {{"E", {{"dtype", "F32"}, {"shape", {0, 4}}, {"data_offsets", {8, 8}}}}};
  EXPECT_EQ(io::parse_router_file(router_bytes(json::object(), empty), "r.router").tensors.size(), 2u);
}

TEST(ModelFileHardening, RouterNumberListsRefuseBooleans) {
  for (const char* key : {"dense_mean", "dense_scale", "dense_min", "dense_max"}) {
    json features = {{key, {true, 1.0}}};
    expect_invalid([&] { io::parse_router_file(router_bytes(features), "r.router"); },
                   {"r.router", std::string("'") + key + "'", "must be a number", "true"});
  }
  json features = {{"dense_min", {0.5, 1e300}}};  // beyond float32: would load as inf
  expect_invalid([&] { io::parse_router_file(router_bytes(features), "r.router"); }, {"'dense_min'", "finite"});
  // costs (double) too
  json cfg = {{"family", "linear"}, {"models", {"a", "b"}}, {"costs", {false, 1}}, {"features", json::object()}};
  json header = {{"__metadata__",
                  {{"format", "tokenops-router"},
                   {"format_version", std::to_string(io::kRouterFormatVersion)},
                   {"config", cfg.dump()}}}};
  expect_invalid([&] { io::parse_router_file(safetensors_bytes(header.dump()), "r.router"); },
                 {"'costs'", "must be a number"});
  // numbers still load
  features = {{"dense_min", {0, 1.5}}};
  EXPECT_EQ(io::parse_router_file(router_bytes(features), "r.router").features.dense_min,
            (std::vector<float>{0.0f, 1.5f}));
}

TEST(ModelFileHardening, RouterDeepJsonIsRefused) {
  expect_invalid([] { io::parse_router_file(safetensors_bytes("{\"a\": " + deep_array(100000) + "}"), "r.router"); },
                 {"r.router", "nested deeper"});
  json cfg_deep = {{"__metadata__",
                    {{"format", "tokenops-router"},
                     {"format_version", std::to_string(io::kRouterFormatVersion)},
                     {"config", "{\"family\": " + deep_array(100000) + "}"}}}};
  expect_invalid([&] { io::parse_router_file(safetensors_bytes(cfg_deep.dump()), "r.router"); },
                 {"r.router", "config", "nested deeper"});
}

TEST(ModelFileHardening, SafetensorsDeepHeaderAndWrappingShape) {
  expect_invalid([] { io::SafetensorsFile::from_buffer(safetensors_bytes("{\"a\": " + deep_array(100000) + "}"), "w.st"); },
                 {"w.st", "nested deeper"});
  const json h = {{"Z", {{"dtype", "F32"}, {"shape", {1ull << 32, 1ull << 32, 4}}, {"data_offsets", {0, 0}}}}};
  expect_invalid([&] { io::SafetensorsFile::from_buffer(safetensors_bytes(h.dump()), "w.st"); },
                 {"w.st", "'Z'", "overflows"});
}

// ---------------------------------------------------------------------------- bigram files
TEST(ModelFileHardening, BigramCountsBeyond32BitsAreRefused) {
  std::string s = kBigramOk;
  s.replace(s.find("new\t10"), 6, "new\t4294967296");
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"b.txt", "line 4", "4294967296", "32 bits"});
  s = kBigramOk;
  s.replace(s.find("new\t10"), 6, "new\t4294967301");  // 2^32 + 5 used to load as 5
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 4", "4294967301", "32 bits"});
  s = kBigramOk;
  s.replace(s.find("york\t5\t1"), 8, "york\t5\t4294967297");
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 5", "4294967297", "32 bits"});
}

TEST(ModelFileHardening, BigramDiscountMustBeANumberEntirely) {
  std::string s = kBigramOk;
  s.replace(s.find("0.5"), 3, "0.5abc");
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"b.txt", "line 2", "0.5abc"});
}

TEST(ModelFileHardening, BigramDuplicateWordsAreRefused) {
  std::string s = kBigramOk;
  s.replace(s.find("city"), 4, "york");
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"b.txt", "line 6", "duplicate word 'york'", "line 5"});
}

TEST(ModelFileHardening, BigramSuccessorCountsAreChecked) {
  std::string s = kBigramOk;
  s.replace(s.find("york\t5\t1"), 8, "york\t5\t9");  // more distinct successors than its count
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 5", "successor count 9"});
  s = kBigramOk;
  s.replace(s.find("york\t5\t1"), 8, "york\t5\t0");
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 5", "successor count 0"});
  // york lists two successors but says it has one
  s = "tokenops-bigram 1\ndiscount 0.5\nunigrams 3\nnew\t10\t2\nyork\t5\t1\ncity\t4\t1\n"
      "bigrams 3\n0\t1\t8\n1\t2\t3\n1\t0\t1\n";
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 10", "successor count 1"});
}

TEST(ModelFileHardening, BigramDuplicatePairsAndOverfullCountsAreRefused) {
  std::string s = "tokenops-bigram 1\ndiscount 0.5\nunigrams 3\nnew\t10\t2\nyork\t5\t1\ncity\t4\t1\n"
                  "bigrams 2\n0\t1\t8\n0\t1\t1\n";
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 9", "duplicate bigram 0 1"});
  s = "tokenops-bigram 1\ndiscount 0.5\nunigrams 3\nnew\t10\t2\nyork\t5\t1\ncity\t4\t1\n"
      "bigrams 2\n0\t1\t8\n0\t2\t8\n";
  expect_invalid([&] { io::parse_bigram_model(s, "b.txt"); }, {"line 9", "sum to 16", "count 10"});
}

TEST(ModelFileHardening, BigramTrailingJunkIsRefused) {
  expect_invalid([] { io::parse_bigram_model(kBigramOk + "0\t2\t1\n", "b.txt"); },
                 {"b.txt", "line 10", "after the 2 bigrams"});
  expect_invalid([] { io::parse_bigram_model(kBigramOk + "\ngarbage", "b.txt"); }, {"line 11", "after the 2 bigrams"});
  // the well-formed file loads, also with a blank last line
  auto d = io::parse_bigram_model(kBigramOk, "ok.txt");
  EXPECT_EQ(d.words.size(), 3u);
  EXPECT_EQ(d.bigrams.size(), 2u);
  EXPECT_EQ(io::parse_bigram_model(kBigramOk + "\n", "ok.txt").words.size(), 3u);
}
