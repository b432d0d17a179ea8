#include <map>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tokenops/io/router_file.hpp"
#include "tokenops/router/features.hpp"
#include "tokenops/router/router.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
using router::Batch;
using router::Router;

namespace {

io::RouterFeatureSpec lexical_spec(int bits = 10) {
  io::RouterFeatureSpec s;
  s.hash_bits = bits;
  s.word_ngram_min = 1;
  s.word_ngram_max = 2;
  s.char_ngram_min = 3;
  s.char_ngram_max = 4;
  s.dense = true;
  s.dense_names = router::dense_signal_names();
  s.dense_mean.assign(s.dense_names.size(), 0.5f);
  s.dense_scale.assign(s.dense_names.size(), 2.0f);
  return s;
}

io::RouterTensor random_tensor(std::vector<std::int64_t> shape, std::mt19937& rng, float sd = 0.5f) {
  io::RouterTensor t;
  t.shape = shape;
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  std::normal_distribution<float> dist(0.0f, sd);
  t.data.resize(n);
  for (auto& v : t.data) v = dist(rng);
  return t;
}

std::size_t dim_of(const io::RouterFeatureSpec& s) {
  return (s.hash_bits ? (std::size_t{1} << s.hash_bits) : 0) + (s.dense ? s.dense_names.size() : 0) +
         static_cast<std::size_t>(s.embedding_dim);
}

io::RouterFile linear_file(int k = 2) {
  std::mt19937 rng(7);
  io::RouterFile f;
  f.family = "linear";
  f.task = "binary";
  f.models = {"strong", "weak"};
  f.strong = 0;
  f.weak = 1;
  f.output_link = "sigmoid";
  f.binary_score = k == 1 ? "single" : "diff";
  f.features = lexical_spec();
  const auto d = static_cast<std::int64_t>(dim_of(f.features));
  f.tensors["W"] = random_tensor({d, k}, rng);
  f.tensors["b"] = random_tensor({k}, rng);
  return f;
}

const std::vector<std::string> kPrompts = {
    "", "   ", "What is 2+2?", "Write a short poem about the sea.",
    "Solve for x: 3x + 5 = 20. Explain each step.", "```python\ndef f(x):\n    return x*x\n```",
    "東京の天気は？", "Привет, как дела?", "1. First do this\n2. Then that\nWhy?"};

Batch batch_of(const std::vector<std::string>& ps) {
  Batch b;
  for (const auto& p : ps) b.texts.push_back(p);
  return b;
}

}  // namespace

TEST(RouterFile, RoundTripsThroughSafetensorsLayout) {
  io::RouterFile f = linear_file();
  f.description = "unit test";
  f.costs = {1.0, 0.1};
  const std::string bytes = io::serialize_router_file(f);
  io::RouterFile g = io::parse_router_file(bytes, "mem");
  EXPECT_EQ(g.family, "linear");
  EXPECT_EQ(g.models, f.models);
  EXPECT_EQ(g.costs, f.costs);
  EXPECT_EQ(g.description, "unit test");
  EXPECT_EQ(g.features.hash_bits, 10);
  EXPECT_EQ(g.features.dense_names, router::dense_signal_names());
  ASSERT_EQ(g.tensors.size(), 2u);
  EXPECT_EQ(g.tensors.at("W").data, f.tensors.at("W").data);
  EXPECT_EQ(g.tensors.at("W").shape, f.tensors.at("W").shape);
}

TEST(RouterFile, RejectsOtherVersionsAndMalformedFiles) {
  io::RouterFile f = linear_file();
  for (int other : {io::kRouterFormatVersion - 1, io::kRouterFormatVersion + 1}) {
    f.format_version = other;
    const std::string bytes = io::serialize_router_file(f);
    try {
      io::parse_router_file(bytes, "other.router");
      FAIL() << "accepted a version-" << other << " file";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("version '" + std::to_string(other) + "' is not supported"),
                std::string::npos)
          << e.what();
    }
  }
  f.format_version = io::kRouterFormatVersion;
  std::string ok = io::serialize_router_file(f);
  EXPECT_THROW(io::parse_router_file(ok.substr(0, 5), "short"), InvalidArgument);
  EXPECT_THROW(io::parse_router_file(ok.substr(0, ok.size() - 4), "truncated"), InvalidArgument);
  std::string garbage = ok;
  garbage[8] = '!';
  EXPECT_THROW(io::parse_router_file(garbage, "garbage"), InvalidArgument);
  // a NaN weight is refused at load
  f.tensors["b"].data[0] = std::nanf("");
  EXPECT_THROW(io::parse_router_file(io::serialize_router_file(f), "nan"), InvalidArgument);
  // an unknown family is refused
  io::RouterFile h = linear_file();
  h.family = "transformer";
  EXPECT_THROW(io::parse_router_file(io::serialize_router_file(h), "fam"), InvalidArgument);
}

TEST(RouterFeatures, EmptyPromptHasDefinedFeatures) {
  router::FeatureExtractor fx(lexical_spec(), nullptr);
  router::SparseFeatures sp;
  router::FeatureScratch scratch;
  fx.sparse("", sp, scratch);
  EXPECT_EQ(sp.size(), 0u);
  std::vector<float> d(fx.dense_dim());
  fx.dense_raw("", d.data());
  const auto& names = router::dense_signal_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(std::isfinite(d[i])) << names[i];
    EXPECT_EQ(d[i], names[i] == "empty" ? 1.0f : 0.0f) << names[i];
  }
}

TEST(RouterFeatures, SignalsSeeStructure) {
  router::FeatureExtractor fx(lexical_spec(), nullptr);
  const auto& names = router::dense_signal_names();
  auto get = [&](const std::string& text, const std::string& name) {
    std::vector<float> d(fx.dense_dim());
    fx.dense_raw(text, d.data());
    return d[std::find(names.begin(), names.end(), name) - names.begin()];
  };
  EXPECT_GT(get("```\ncode\n```", "code_fences"), 0.0f);
  EXPECT_EQ(get("plain words", "code_fences"), 0.0f);
  EXPECT_FLOAT_EQ(get("a? b? c?", "questions"), std::log1p(3.0f));
  EXPECT_GT(get("Solve the equation and calculate", "math_keywords"), 0.0f);
  EXPECT_FLOAT_EQ(get("東京", "cjk_share"), 1.0f);
  EXPECT_FLOAT_EQ(get("Привет", "cyrillic_share"), 1.0f);
  EXPECT_GT(get("1. one\n2. two", "numbered_lines"), 0.0f);
  EXPECT_FLOAT_EQ(get("12 ab", "digit_share"), 2.0f / 5.0f);
}

TEST(RouterFeatures, SparseBlockIsLengthNormalisedAndCaseInsensitive) {
  router::FeatureExtractor fx(lexical_spec(), nullptr);
  router::SparseFeatures a, b;
  router::FeatureScratch s;
  fx.sparse("Hello   World", a, s);
  fx.sparse("hello world", b, s);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a.index(k), b.index(k));
    EXPECT_EQ(a.value(k), b.value(k));
  }
  // word block: 2 unigrams + 1 bigram -> each +-1/sqrt(3)
  EXPECT_EQ(a.n_word, 3u);
  EXPECT_NEAR(std::fabs(a.value(0)), 1.0 / std::sqrt(3.0), 1e-6);
}

TEST(RouterFeatures, SparseBlockHasUnitNormAfterSumming) {
  // a repeated n-gram sums in its bucket before each block (word, character) is scaled to unit
  // L2 norm, so "hi hi ... hi" (c times) weighs like "hi hi", however large c is
  // 10 bits: the per-thread count array; 20 bits: the open-addressed table
  for (int bits : {10, 20}) {
    router::FeatureExtractor fx(lexical_spec(bits), nullptr);
    router::FeatureScratch s;
    const auto block_norm = [](const router::SparseFeatures& sp, std::size_t lo, std::size_t hi) {
      std::map<std::uint32_t, double> bucket;
      for (std::size_t k = lo; k < hi; ++k) bucket[sp.index(k)] += sp.value(k);
      double sq = 0.0;
      for (const auto& [b, v] : bucket) sq += v * v;
      return std::sqrt(sq);
    };
    for (int c : {1, 2, 3, 100, 10000}) {
      std::string text;
      for (int i = 0; i < c; ++i) text += "hi ";
      router::SparseFeatures sp;
      fx.sparse(text, sp, s);
      ASSERT_EQ(sp.n_word, static_cast<std::size_t>(2 * c - 1));
      EXPECT_NEAR(block_norm(sp, 0, sp.n_word), 1.0, 1e-4) << c;
      if (sp.n_char) {
        EXPECT_NEAR(block_norm(sp, sp.n_word, sp.size()), 1.0, 1e-4) << c;
      }
    }
  }
}

TEST(RouterFeatures, WordUnigramsAreTheDocumentedWordHash) {
  io::RouterFeatureSpec spec;
  spec.hash_bits = 20;
  spec.word_ngram_min = spec.word_ngram_max = 1;
  router::FeatureExtractor fx(spec, nullptr);
  router::SparseFeatures sp;
  router::FeatureScratch s;
  // words of 1, 8, 9 and 17 bytes exercise the tail and the full 8-byte chunks
  fx.sparse("A, Abcdefgh; abcdefghi-ABCDEFGHIJKLMNOPQ café", sp, s);
  const std::vector<std::string> words = {"a", "abcdefgh", "abcdefghi", "abcdefghijklmnopq", "café"};
  ASSERT_EQ(sp.n_word, words.size());
  for (std::size_t k = 0; k < words.size(); ++k) {
    const std::uint64_t h = router::word_hash(words[k]);
    EXPECT_EQ(sp.index(k), static_cast<std::uint32_t>(h) & ((1u << 20) - 1)) << words[k];
    EXPECT_EQ(sp.value(k) < 0, (h >> 63) != 0) << words[k];
  }
}

TEST(RouterFeatures, OnePassEqualsSeparateCalls) {
  router::FeatureExtractor fx(lexical_spec(), nullptr);
  router::FeatureScratch s;
  for (const auto& p : kPrompts) {
    router::SparseFeatures a, b;
    std::vector<float> d1(fx.dense_dim()), d2(fx.dense_dim());
    fx.extract(p, &a, d1.data(), true, s);
    fx.sparse(p, b, s);
    fx.dense(p, d2.data());
    ASSERT_EQ(a.size(), b.size()) << p;
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a.code[k], b.code[k]);
    EXPECT_EQ(d1, d2) << p;
  }
}

TEST(RouterFeatures, SimdBitmapsEqualTheScalarReference) {
  std::mt19937 rng(11);
  for (std::size_t n : {0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000}) {
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng() & 0xFF);
    const std::size_t blocks = (n + 63) / 64;
    std::vector<std::uint64_t> a(3 * blocks + 1, 7), b(3 * blocks + 1, 7);
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    router::detail::byte_bitmaps(p, n, a.data(), a.data() + blocks, a.data() + 2 * blocks);
    router::detail::byte_bitmaps_scalar(p, n, b.data(), b.data() + blocks, b.data() + 2 * blocks);
    EXPECT_EQ(a, b) << n;
  }
}

TEST(RouterFeatures, TruncatedOrInvalidUtf8IsCountedNotOverread) {
  // heap copies sized exactly, so that AddressSanitizer sees any read past the end
  router::FeatureExtractor fx(lexical_spec(), nullptr);
  router::FeatureScratch s;
  for (std::string bad : {std::string("ab\xF0"), std::string("\xE6\x9D"), std::string("x \xC3"),
                          std::string("\x80\x80 \xFF"), std::string("\xF0\x9F\x98")}) {
    std::unique_ptr<char[]> buf(new char[bad.size()]);
    std::memcpy(buf.get(), bad.data(), bad.size());
    const std::string_view v(buf.get(), bad.size());
    router::SparseFeatures sp;
    std::vector<float> d(fx.dense_dim());
    fx.extract(v, &sp, d.data(), false, s);
    for (float x : d) EXPECT_TRUE(std::isfinite(x));
    EXPECT_GT(sp.size(), 0u);
  }
}

TEST(Router, LinearScoreMatchesManualDotProduct) {
  io::RouterFile f = linear_file();
  const auto W = f.tensors["W"].data;
  const auto bvec = f.tensors["b"].data;
  Router r(f, nullptr);
  const auto scores = r.score(batch_of(kPrompts), 1);
  const auto& fx = r.features();
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    router::SparseFeatures sp;
    router::FeatureScratch sc;
    fx.sparse(kPrompts[i], sp, sc);
    std::vector<float> d(fx.dense_dim());
    fx.dense(kPrompts[i], d.data());
    double z[2] = {bvec[0], bvec[1]};
    for (std::size_t j = 0; j < sp.size(); ++j)
      for (int k = 0; k < 2; ++k) z[k] += double(sp.value(j)) * W[sp.index(j) * 2 + k];
    for (std::size_t j = 0; j < d.size(); ++j)
      for (int k = 0; k < 2; ++k) z[k] += double(d[j]) * W[(fx.sparse_dim() + j) * 2 + k];
    const double expect = 1 / (1 + std::exp(-z[0])) - 1 / (1 + std::exp(-z[1]));
    EXPECT_NEAR(scores[i], expect, 1e-5) << kPrompts[i];
    EXPECT_TRUE(std::isfinite(scores[i]));
  }
}

TEST(Router, IdenticalAcrossThreadCounts) {
  Router r(linear_file(), nullptr);
  std::vector<std::string> many;
  for (int i = 0; i < 500; ++i) many.push_back(kPrompts[i % kPrompts.size()] + std::to_string(i * 7919));
  const auto one = r.score(batch_of(many), 1);
  for (int t : {2, 3, 8}) EXPECT_EQ(r.score(batch_of(many), t), one) << t << " threads";
}

TEST(Router, StopHookIsAskedBetweenChunks) {
  // The bindings' Ctrl-C check: asked between chunks of prompts, from any thread of the batch.
  Router r(linear_file(), nullptr);
  std::vector<std::string> many;
  for (int i = 0; i < 500; ++i) many.push_back(kPrompts[i % kPrompts.size()] + std::to_string(i));
  const auto all = r.score(batch_of(many), 1);
  std::atomic<int> asked{0};
  EXPECT_EQ(r.score(batch_of(many), 2, [&] { ++asked; return false; }), all);
  EXPECT_GT(asked.load(), 1);
  // Stopping after the third question leaves the later chunks unscored (zeros).
  int calls = 0;
  const auto part = r.score(batch_of(many), 1, [&] { return ++calls > 3; });
  EXPECT_EQ(std::count(part.begin(), part.end(), 0.0), static_cast<long>(many.size() - 3 * 32));
  for (std::size_t i = 0; i < 3 * 32; ++i) EXPECT_EQ(part[i], all[i]) << i;
}

TEST(Router, MatrixFactorisationFastPathEqualsTheFullForm) {
  std::mt19937 rng(3);
  io::RouterFile f;
  f.family = "mf";
  f.task = "binary";
  f.models = {"strong", "weak", "other"};
  f.strong = 0;
  f.weak = 1;
  f.output_link = "identity";  // outputs are the logits z_m
  f.binary_score = "sigmoid_diff";
  f.features = lexical_spec(8);
  const auto d = static_cast<std::int64_t>(dim_of(f.features));
  f.tensors["W1"] = random_tensor({d, 6}, rng);
  f.tensors["P"] = random_tensor({3, 6}, rng, 2.0f);
  f.tensors["w2"] = random_tensor({6}, rng);
  f.tensors["b"] = random_tensor({3}, rng);
  Router r(f, nullptr);
  const auto s = r.score(batch_of(kPrompts), 1);
  const auto z = r.outputs(batch_of(kPrompts), 1);
  for (std::size_t i = 0; i < kPrompts.size(); ++i)
    EXPECT_NEAR(s[i], 1 / (1 + std::exp(-(z[i * 3] - z[i * 3 + 1]))), 1e-5);
}

TEST(Router, KnnAveragesTheNearestNeighboursQuality) {
  io::RouterFile f;
  f.family = "knn";
  f.task = "nway";
  f.models = {"a", "b"};
  f.output_link = "identity";
  f.binary_score = "diff";
  f.knn_k = 2;
  f.features.embedder = "test-embedder";
  f.features.embedding_dim = 2;
  f.tensors["keys"] = {{4, 2}, {1, 0, 0, 1, -1, 0, 0.9f, 0.1f}};
  f.tensors["values"] = {{4, 2}, {1, 0, 0, 1, 0.5f, 0.5f, 0, 0}};
  Router r(f, nullptr);
  Batch b = batch_of({"x", "y"});
  std::vector<float> emb = {2, 0, 0, 3};  // nearest to row 0 + row 3; to row 1 + row 3
  b.embeddings = emb.data();
  b.embedding_rows = 2;
  b.embedding_cols = 2;
  const auto q = r.outputs(b, 1);
  EXPECT_DOUBLE_EQ(q[0], 0.5);
  EXPECT_DOUBLE_EQ(q[1], 0.0);
  EXPECT_DOUBLE_EQ(q[2], 0.0);
  EXPECT_DOUBLE_EQ(q[3], 0.5);
  EXPECT_EQ(r.route(b, 1.0, {0.0, 0.1}, 2), (std::vector<std::int32_t>{0, 1}));
  // wrong width, missing embeddings and NaN are clear errors
  b.embedding_cols = 1;
  EXPECT_THROW(r.outputs(b, 1), InvalidArgument);
  b.embedding_cols = 2;
  emb[1] = std::nanf("");
  EXPECT_THROW(r.outputs(b, 1), InvalidArgument);
  Batch none = batch_of({"x"});
  EXPECT_THROW(r.outputs(none, 1), InvalidArgument);
}

TEST(Router, ShapeMismatchIsAClearError) {
  io::RouterFile f = linear_file();
  f.features.hash_bits = 11;  // weights were sized for 10 bits
  try {
    Router r(f, nullptr);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'W'"), std::string::npos) << e.what();
  }
}
