#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokenops/embed/embedder.hpp"
#include "tokenops/embed/wordpiece.hpp"
#include "tokenops/io/safetensors.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
using namespace tokenops::embed;
namespace fs = std::filesystem;

namespace {

io::WordPieceSpec small_spec() {
  io::WordPieceSpec s;
  s.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "able",
             "!", "hello", "world", "cafe", "東", "京", ",", "##s", "a", "##a"};
  s.added_tokens = {"[CLS]", "[SEP]", "[MASK]"};
  return s;
}

std::vector<std::uint32_t> pieces(const WordPieceTokenizer& t, std::string_view text,
                                  std::size_t max = WordPieceTokenizer::kAll) {
  std::vector<std::uint32_t> out;
  t.encode_pieces(text, out, max);
  return out;
}

const fs::path kTiny = fs::path(TOKENOPS_SOURCE_DIR) / "tests/fixtures/embed/tiny_bert";

}  // namespace

TEST(BertChars, TablesClassifyKnownCharacters) {
  EXPECT_TRUE(bert_char_bits(0x0301) & kBertMark);        // combining acute
  EXPECT_TRUE(bert_char_bits(0x00E9) & kBertDecomposes);  // é
  EXPECT_TRUE(bert_char_bits('!') & kBertSplitPunct);
  EXPECT_TRUE(bert_char_bits('$') & kBertSplitPunct);     // ASCII symbols count as punctuation
  EXPECT_TRUE(bert_char_bits(0x3000) & kBertSplitSpace);  // ideographic space
  EXPECT_TRUE(bert_char_bits(0x4E00) & kBertChinese);
  EXPECT_TRUE(bert_char_bits(0x0000) & kBertControl);
  EXPECT_TRUE(bert_char_bits(0x200B) & kBertControl);     // Cf is removed by clean_text
  EXPECT_TRUE(bert_char_bits('A') & kBertHasLower);
  EXPECT_FALSE(bert_char_bits('a') & (kBertSplitPunct | kBertSplitSpace | kBertControl));
  EXPECT_NE(std::string(bert_tables_source()).find("tokenizers"), std::string::npos);
}

TEST(BertChars, NormalizerStripsAccentsLowercasesAndReorders) {
  BertNormalizerOptions o;
  EXPECT_EQ(bert_normalize("Caf\xC3\xA9 \xC3\x85ngstr\xC3\xB6m", o), U"cafe angstrom");
  EXPECT_EQ(bert_normalize("a\tb\x01" "c", o), U"a bc");
  EXPECT_EQ(bert_normalize("\xE6\x9D\xB1\xE4\xBA\xAC", o), U" 東  京 ");
  o.strip_accents = false;
  o.lowercase = false;
  EXPECT_EQ(bert_normalize("Caf\xC3\xA9", o), U"Caf\u00E9");
  // With accent stripping, NFD runs first: both combining marks (Mn) go, the base letter stays.
  o.strip_accents = true;
  EXPECT_EQ(bert_normalize("A\xCC\x81\xCC\x96", o), U"A");
  EXPECT_EQ(bert_normalize("\xEA\xB0\x80", o), U"\u1100\u1161");  // Hangul syllable decomposes
}

TEST(WordPiece, GreedyLongestMatchWithContinuations) {
  WordPieceTokenizer t(small_spec());
  EXPECT_EQ(pieces(t, "unaffable"), (std::vector<std::uint32_t>{5, 6, 7}));
  EXPECT_EQ(pieces(t, "Hello, WORLD!"), (std::vector<std::uint32_t>{11, 16, 12, 10}));
  EXPECT_EQ(pieces(t, "Caf\xC3\xA9"), (std::vector<std::uint32_t>{13}));
  EXPECT_EQ(pieces(t, "\xE6\x9D\xB1\xE4\xBA\xAC"), (std::vector<std::uint32_t>{14, 15}));
  // A word with an unmatchable piece becomes one [UNK]; so does a word over 100 characters.
  EXPECT_EQ(pieces(t, "unx hello"), (std::vector<std::uint32_t>{1, 11}));
  std::vector<std::uint32_t> hundred(1, 18);  // "a" then 99 x "##a"
  hundred.insert(hundred.end(), 99, 19);
  EXPECT_EQ(pieces(t, std::string(100, 'a')), hundred);
  EXPECT_EQ(pieces(t, std::string(101, 'a')), (std::vector<std::uint32_t>{1}));
  EXPECT_TRUE(pieces(t, " \t\n").empty());
}

TEST(WordPiece, AddedTokensSpecialsAndTruncation) {
  WordPieceTokenizer t(small_spec());
  EXPECT_EQ(pieces(t, "hello[MASK]world"), (std::vector<std::uint32_t>{11, 4, 12}));
  EXPECT_EQ(t.encode("hello world"), (std::vector<std::uint32_t>{2, 11, 12, 3}));
  EXPECT_EQ(t.encode(""), (std::vector<std::uint32_t>{2, 3}));
  EXPECT_EQ(t.encode("hello world hello world", 4), (std::vector<std::uint32_t>{2, 11, 12, 3}));
  EXPECT_EQ(pieces(t, "unaffable", 2), (std::vector<std::uint32_t>{5, 6}));
  EXPECT_THROW(t.encode(std::string("\xFF", 1)), InvalidArgument);
  EXPECT_THROW(t.encode("x", 1), InvalidArgument);
  EXPECT_EQ(t.token_to_id("##able"), 7);
  EXPECT_EQ(t.token_to_id("nope"), -1);
  EXPECT_EQ(t.id_to_token(11), "hello");
  EXPECT_THROW(t.id_to_token(999), NotFound);
}

// A slow, obviously correct BERT forward pass (plain loops, double accumulation) as the oracle.
std::vector<float> naive_embed(const io::SafetensorsFile& f, const io::BertConfig& c,
                               const std::vector<std::uint32_t>& ids, bool cls_pool) {
  const std::size_t H = c.hidden_size, I = c.intermediate_size, T = ids.size();
  const std::size_t heads = c.num_attention_heads, d = H / heads;
  auto W = [&](const std::string& n, std::vector<std::size_t> shape) { return f.f32(n, shape); };
  auto ln = [&](std::vector<double>& x, const std::string& n) {
    auto g = W(n + ".weight", {H});
    auto b = W(n + ".bias", {H});
    for (std::size_t t = 0; t < T; ++t) {
      double mean = 0, var = 0;
      for (std::size_t k = 0; k < H; ++k) mean += x[t * H + k];
      mean /= H;
      for (std::size_t k = 0; k < H; ++k) var += (x[t * H + k] - mean) * (x[t * H + k] - mean);
      var /= H;
      for (std::size_t k = 0; k < H; ++k)
        x[t * H + k] = (x[t * H + k] - mean) / std::sqrt(var + c.layer_norm_eps) * g[k] + b[k];
    }
  };
  auto dense = [&](const std::vector<double>& x, std::size_t in, const std::string& n, std::size_t out) {
    auto w = W(n + ".weight", {out, in});
    auto b = W(n + ".bias", {out});
    std::vector<double> y(T * out);
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t o = 0; o < out; ++o) {
        double s = b[o];
        for (std::size_t k = 0; k < in; ++k) s += x[t * in + k] * w[o * in + k];
        y[t * out + o] = s;
      }
    return y;
  };
  std::vector<double> x(T * H);
  auto we = W("embeddings.word_embeddings.weight", {c.vocab_size, H});
  auto pe = W("embeddings.position_embeddings.weight", {c.max_position_embeddings, H});
  auto te = W("embeddings.token_type_embeddings.weight", {c.type_vocab_size, H});
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t k = 0; k < H; ++k) x[t * H + k] = double(we[ids[t] * H + k]) + pe[t * H + k] + te[k];
  ln(x, "embeddings.LayerNorm");
  for (std::size_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string L = "encoder.layer." + std::to_string(l) + ".";
    auto q = dense(x, H, L + "attention.self.query", H);
    auto k = dense(x, H, L + "attention.self.key", H);
    auto v = dense(x, H, L + "attention.self.value", H);
    std::vector<double> ctx(T * H, 0.0);
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < T; ++i) {
        std::vector<double> s(T);
        double mx = -1e300, sum = 0;
        for (std::size_t j = 0; j < T; ++j) {
          double dot = 0;
          for (std::size_t e = 0; e < d; ++e) dot += q[i * H + h * d + e] * k[j * H + h * d + e];
          s[j] = dot / std::sqrt(double(d));
          mx = std::max(mx, s[j]);
        }
        for (auto& z : s) sum += (z = std::exp(z - mx));
        for (std::size_t j = 0; j < T; ++j)
          for (std::size_t e = 0; e < d; ++e) ctx[i * H + h * d + e] += s[j] / sum * v[j * H + h * d + e];
      }
    auto a = dense(ctx, H, L + "attention.output.dense", H);
    for (std::size_t z = 0; z < a.size(); ++z) a[z] += x[z];
    ln(a, L + "attention.output.LayerNorm");
    auto inter = dense(a, H, L + "intermediate.dense", I);
    for (auto& z : inter) z = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
    auto o = dense(inter, I, L + "output.dense", H);
    for (std::size_t z = 0; z < o.size(); ++z) o[z] += a[z];
    ln(o, L + "output.LayerNorm");
    x = o;
  }
  std::vector<float> out(H);
  for (std::size_t kk = 0; kk < H; ++kk) {
    double s = 0;
    if (cls_pool) {
      s = x[kk];
    } else {
      for (std::size_t t = 0; t < T; ++t) s += x[t * H + kk];
      s /= T;
    }
    out[kk] = static_cast<float>(s);
  }
  return out;
}

TEST(Embedder, TinyModelMatchesNaiveReference) {
  auto e = Embedder::load(kTiny.string());
  EXPECT_EQ(e->dim(), 32u);
  EXPECT_EQ(e->max_tokens(), 48u);
  EXPECT_EQ(e->info().pooling, io::PoolingMode::kCls);
  EXPECT_FALSE(e->info().normalize);
  auto file = io::SafetensorsFile::open((kTiny / "model.safetensors").string());
  std::vector<std::string> texts = {"", "How do I activate my card?", "Is it 東京 or Tokyo?",
                                    std::string(300, 'x') + " long", "a b c d e f g h i j k l m n o p q r s t u v w x y z"};
  std::vector<std::string_view> views(texts.begin(), texts.end());
  auto got = e->embed(views, EmbedOptions{2, 1});
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto ids = e->tokenize(texts[i]);
    ASSERT_LE(ids.size(), 48u);
    auto want = naive_embed(*file, e->info().config, ids, true);
    for (std::size_t k = 0; k < 32; ++k) EXPECT_NEAR(got[i * 32 + k], want[k], 2e-4) << i << " " << k;
  }
}

TEST(Embedder, IdenticalForAnyThreadCountAndBatchOrder) {
  auto e = Embedder::load(kTiny.string());
  std::vector<std::string> texts;
  for (int i = 0; i < 70; ++i) texts.push_back("text number " + std::to_string(i) + std::string(i % 13, '!'));
  std::vector<std::string_view> views(texts.begin(), texts.end());
  auto one = e->embed(views, EmbedOptions{8, 1});
  for (int threads : {2, 3, 5}) {
    EXPECT_EQ(e->embed(views, EmbedOptions{8, threads}), one) << threads;
  }
  // One batch shared by a thread team (intra-op) equals the serial result bit for bit.
  auto big1 = e->embed(views, EmbedOptions{70, 1});
  EXPECT_EQ(e->embed(views, EmbedOptions{70, 4}), big1);
  // Other batch sizes give the same numbers up to float rounding.
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], big1[i], 1e-4);
  // embed_ids agrees with embed.
  std::vector<std::vector<std::uint32_t>> ids;
  for (auto v : views) ids.push_back(e->tokenize(v));
  std::vector<float> out(ids.size() * e->dim());
  e->embed_ids(ids, out.data(), EmbedOptions{8, 2});
  EXPECT_EQ(out, one);
  // ... whatever the alignment of the output buffer.
  std::vector<float> shifted(ids.size() * e->dim() + 1);
  e->embed_ids(ids, shifted.data() + 1, EmbedOptions{8, 1});
  EXPECT_TRUE(std::equal(one.begin(), one.end(), shifted.begin() + 1));
}

TEST(Embedder, StopIsAskedWithinABatch) {
  // one batch of every text: the stop hook is asked before each layer, not only per batch, so
  // Ctrl-C does not wait for a whole large batch
  auto e = Embedder::load(kTiny.string());
  std::vector<std::string_view> views = {"a b c", "d e", "f"};
  int asked = 0;
  EmbedOptions opt{64, 1};
  opt.stop = [&asked] { return ++asked >= 3; };
  e->embed(views, opt);
  EXPECT_EQ(asked, 3);  // before the batch, then before layers 1 and 2 (it stops there)
  asked = -1000;        // never true: asked once per layer plus once for the batch
  e->embed(views, opt);
  EXPECT_GE(asked + 1000, 2);
}

TEST(Embedder, BadInputAndMissingFiles) {
  auto e = Embedder::load(kTiny.string());
  std::vector<std::string_view> bad = {"ok", std::string_view("\xC3", 1)};
  try {
    e->embed(bad);
    FAIL();
  } catch (const InvalidArgument& ex) {
    EXPECT_NE(std::string(ex.what()).find("texts[1]"), std::string::npos) << ex.what();
  }
  EXPECT_THROW(e->embed(std::vector<std::string_view>{"x"}, EmbedOptions{0, 1}), InvalidArgument);
  EXPECT_THROW(e->embed(std::vector<std::string_view>{"x"}, EmbedOptions{1, -1}), InvalidArgument);
  EXPECT_TRUE(e->embed(std::vector<std::string_view>{}).empty());
  std::vector<std::vector<std::uint32_t>> ids = {{2, 5000, 3}};
  std::vector<float> out(32);
  EXPECT_THROW(e->embed_ids(ids, out.data()), InvalidArgument);

  // A model directory without model.safetensors names the file and the layout.
  fs::path dir = fs::path(::testing::TempDir()) / "tokenops_tiny_copy";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(kTiny / f, dir / f);
  try {
    Embedder::load(dir.string());
    FAIL();
  } catch (const IoError& ex) {
    const std::string msg = ex.what();
    EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
  }
  // A truncated weights file names the tensor that does not fit.
  {
    std::ifstream in(kTiny / "model.safetensors", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out_f(dir / "model.safetensors", std::ios::binary);
    out_f << all.substr(0, all.size() - 100);
  }
  try {
    Embedder::load(dir.string());
    FAIL();
  } catch (const InvalidArgument& ex) {
    EXPECT_NE(std::string(ex.what()).find("tensor '"), std::string::npos) << ex.what();
  }
  EXPECT_THROW(Embedder::load((dir / "nope").string()), IoError);
  fs::remove_all(dir);
}
