// GCC 12 reports false -Wmaybe-uninitialized warnings inside Eigen's AVX-512 packet code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "tokenops/compress/classifier.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenops/text/error.hpp"

namespace tokenops::compress {

namespace fs = std::filesystem;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVec = Eigen::Matrix<float, 1, Eigen::Dynamic>;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError(detail::concat("cannot read ", p.string()));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

RowMat matrix(const io::SafetensorsFile& f, const std::string& name, std::size_t r, std::size_t c) {
  auto s = f.f32(name, {r, c});
  return Eigen::Map<const RowMat>(s.data(), static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
}

RowVec vector(const io::SafetensorsFile& f, const std::string& name, std::size_t n) {
  auto s = f.f32(name, {n});
  return Eigen::Map<const RowVec>(s.data(), static_cast<Eigen::Index>(n));
}

void layer_norm(RowMat& x, const RowVec& g, const RowVec& b, float eps) {
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    auto row = x.row(i);
    const float mean = row.mean();
    row.array() -= mean;
    const float var = row.squaredNorm() / static_cast<float>(row.size());
    row *= 1.0f / std::sqrt(var + eps);
    row = row.cwiseProduct(g) + b;
  }
}

}  // namespace

struct TokenClassifier::Weights {
  struct Layer {
    RowMat wq, wk, wv, wo, wi, wout;
    RowVec bq, bk, bv, bo, ln1_g, ln1_b, bi, bout, ln2_g, ln2_b;
  };
  io::BertConfig cfg;
  RowMat word, pos;  // pos has token type 0 folded in
  RowVec ln_g, ln_b;
  std::vector<Layer> layers;
  RowMat wc;
  RowVec bc;
  std::size_t max_len = 512;
  bool tanh_gelu = false;
};

TokenClassifier::TokenClassifier() = default;
TokenClassifier::~TokenClassifier() = default;

std::shared_ptr<const TokenClassifier> TokenClassifier::load(const std::string& model_dir, int keep_label) {
  const fs::path dir(model_dir);
  auto need = [&](const char* name) {
    fs::path p = dir / name;
    if (!fs::is_regular_file(p))
      throw IoError(detail::concat("token-classifier directory ", model_dir, " has no ", name,
                                   " (expected a Hugging Face BertForTokenClassification save: "
                                   "config.json, model.safetensors, tokenizer.json or vocab.txt)"));
    return p;
  };
  std::shared_ptr<TokenClassifier> tc(new TokenClassifier());
  tc->w_ = std::make_unique<Weights>();
  Weights& w = *tc->w_;
  w.cfg = io::parse_bert_config(read_text(need("config.json")), (dir / "config.json").string());
  const auto& cfg = w.cfg;
  // transformers' ACT2FN: "gelu" is the exact erf form; "gelu_new" (NewGELUActivation) and
  // "gelu_pytorch_tanh" (gelu(approximate="tanh")) are both
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), which logits() runs.
  TOKENOPS_CHECK(cfg.hidden_act == "gelu" || cfg.hidden_act == "gelu_new" ||
                     cfg.hidden_act == "gelu_pytorch_tanh",
                 InvalidArgument, (dir / "config.json").string(), ": hidden_act \"", cfg.hidden_act,
                 "\" is not supported by the token classifier (gelu, gelu_new, gelu_pytorch_tanh)");
  w.tanh_gelu = cfg.hidden_act != "gelu";
  io::WordPieceSpec spec;
  const bool from_json = fs::is_regular_file(dir / "tokenizer.json");
  const std::string tok_file = (dir / (from_json ? "tokenizer.json" : "vocab.txt")).string();
  if (from_json)
    spec = io::parse_wordpiece_tokenizer_json(read_text(dir / "tokenizer.json"), tok_file);
  else
    spec = io::parse_vocab_txt(read_text(need("vocab.txt")), tok_file, "", "");
  TOKENOPS_CHECK(spec.vocab.size() <= cfg.vocab_size, InvalidArgument, model_dir, ": the tokenizer has ",
                 spec.vocab.size(), " tokens but config.json says vocab_size = ", cfg.vocab_size);
  try {
    tc->tok_ = std::make_unique<embed::WordPieceTokenizer>(spec);
  } catch (const InvalidArgument& ex) {
    throw InvalidArgument(detail::concat(tok_file, ": ", ex.what()));  // name the file at fault
  }
  // An added token past the vocabulary needs a row of the embedding table too: refused here,
  // naming the file, rather than when a text holding it is first scored.
  TOKENOPS_CHECK(tc->tok_->id_bound() <= cfg.vocab_size, InvalidArgument, tok_file, ": an added token has id ",
                 tc->tok_->id_bound() - 1, " but ", (dir / "config.json").string(), " says vocab_size = ",
                 cfg.vocab_size, " (the embedding table has no row for it)");

  auto file = io::SafetensorsFile::open(need("model.safetensors").string());
  const io::SafetensorsFile& f = *file;
  const std::string p = f.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  TOKENOPS_CHECK(f.contains("classifier.weight"), InvalidArgument, model_dir,
                 "/model.safetensors has no classifier.weight: not a token-classification model");
  const std::size_t H = cfg.hidden_size, I = cfg.intermediate_size;
  TOKENOPS_CHECK(cfg.num_attention_heads > 0 && H % cfg.num_attention_heads == 0, InvalidArgument,
                 model_dir, ": hidden_size ", H, " is not a multiple of num_attention_heads");
  w.word = matrix(f, p + "embeddings.word_embeddings.weight", cfg.vocab_size, H);
  w.pos = matrix(f, p + "embeddings.position_embeddings.weight", cfg.max_position_embeddings, H);
  RowMat type = matrix(f, p + "embeddings.token_type_embeddings.weight", cfg.type_vocab_size, H);
  w.pos.rowwise() += type.row(0);
  w.ln_g = vector(f, p + "embeddings.LayerNorm.weight", H);
  w.ln_b = vector(f, p + "embeddings.LayerNorm.bias", H);
  for (std::size_t l = 0; l < cfg.num_hidden_layers; ++l) {
    const std::string L = p + "encoder.layer." + std::to_string(l) + ".";
    Weights::Layer y;
    y.wq = matrix(f, L + "attention.self.query.weight", H, H);
    y.bq = vector(f, L + "attention.self.query.bias", H);
    y.wk = matrix(f, L + "attention.self.key.weight", H, H);
    y.bk = vector(f, L + "attention.self.key.bias", H);
    y.wv = matrix(f, L + "attention.self.value.weight", H, H);
    y.bv = vector(f, L + "attention.self.value.bias", H);
    y.wo = matrix(f, L + "attention.output.dense.weight", H, H);
    y.bo = vector(f, L + "attention.output.dense.bias", H);
    y.ln1_g = vector(f, L + "attention.output.LayerNorm.weight", H);
    y.ln1_b = vector(f, L + "attention.output.LayerNorm.bias", H);
    y.wi = matrix(f, L + "intermediate.dense.weight", I, H);
    y.bi = vector(f, L + "intermediate.dense.bias", I);
    y.wout = matrix(f, L + "output.dense.weight", H, I);
    y.bout = vector(f, L + "output.dense.bias", H);
    y.ln2_g = vector(f, L + "output.LayerNorm.weight", H);
    y.ln2_b = vector(f, L + "output.LayerNorm.bias", H);
    w.layers.push_back(std::move(y));
  }
  const std::string extra = p + "encoder.layer." + std::to_string(cfg.num_hidden_layers) + ".attention.self.query.weight";
  TOKENOPS_CHECK(!f.contains(extra), InvalidArgument, model_dir, ": config.json num_hidden_layers = ",
                 cfg.num_hidden_layers, " but model.safetensors holds more layers (", extra, ")");
  const auto& ci = f.info("classifier.weight");
  TOKENOPS_CHECK(ci.shape.size() == 2 && ci.shape[1] == H && ci.shape[0] >= 2, InvalidArgument,
                 model_dir, ": classifier.weight must be [n_labels >= 2, hidden_size]");
  w.wc = matrix(f, "classifier.weight", ci.shape[0], H);
  w.bc = vector(f, "classifier.bias", ci.shape[0]);
  TOKENOPS_CHECK(keep_label >= 0 && static_cast<std::size_t>(keep_label) < ci.shape[0], InvalidArgument,
                 "keep_label ", keep_label, " is outside the model's ", ci.shape[0], " labels");
  tc->keep_label_ = keep_label;
  w.max_len = std::min<std::size_t>(cfg.max_position_embeddings, 512);
  return tc;
}

std::size_t TokenClassifier::n_labels() const noexcept { return static_cast<std::size_t>(w_->wc.rows()); }
std::size_t TokenClassifier::max_tokens() const noexcept { return w_->max_len; }

std::vector<float> TokenClassifier::logits(std::span<const std::uint32_t> ids) const {
  const Weights& w = *w_;
  const auto T = static_cast<Eigen::Index>(ids.size());
  TOKENOPS_CHECK(ids.size() >= 1 && ids.size() <= w.max_len, InvalidArgument, "a sequence of ",
                 ids.size(), " ids is outside [1, ", w.max_len, "]");
  const auto H = static_cast<Eigen::Index>(w.cfg.hidden_size);
  const auto nh = static_cast<Eigen::Index>(w.cfg.num_attention_heads);
  const Eigen::Index d = H / nh;
  const float eps = static_cast<float>(w.cfg.layer_norm_eps);
  RowMat x(T, H);
  for (Eigen::Index t = 0; t < T; ++t) {
    TOKENOPS_CHECK(ids[t] < w.cfg.vocab_size, InvalidArgument, "token id ", ids[t], " >= vocab size");
    x.row(t) = w.word.row(ids[t]) + w.pos.row(t);
  }
  layer_norm(x, w.ln_g, w.ln_b, eps);
  RowMat q, k, v, ctx(T, H), s;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (const auto& y : w.layers) {
    q = (x * y.wq.transpose()).rowwise() + y.bq;
    k = (x * y.wk.transpose()).rowwise() + y.bk;
    v = (x * y.wv.transpose()).rowwise() + y.bv;
    for (Eigen::Index h = 0; h < nh; ++h) {
      s = q.middleCols(h * d, d) * k.middleCols(h * d, d).transpose() * scale;
      for (Eigen::Index i = 0; i < T; ++i) {
        auto row = s.row(i);
        row.array() -= row.maxCoeff();
        row = row.array().exp().matrix();
        row /= row.sum();
      }
      ctx.middleCols(h * d, d) = s * v.middleCols(h * d, d);
    }
    RowMat a = (ctx * y.wo.transpose()).rowwise() + y.bo;
    x += a;
    layer_norm(x, y.ln1_g, y.ln1_b, eps);
    RowMat inter = (x * y.wi.transpose()).rowwise() + y.bi;
    if (w.tanh_gelu) {
      inter = inter.unaryExpr([](float z) {
        return 0.5f * z * (1.0f + std::tanh(0.7978845608028654f * (z + 0.044715f * z * z * z)));
      });
    } else {
      inter = inter.unaryExpr([](float z) { return 0.5f * z * (1.0f + std::erf(z * 0.7071067811865476f)); });
    }
    RowMat o = (inter * y.wout.transpose()).rowwise() + y.bout;
    x += o;
    layer_norm(x, y.ln2_g, y.ln2_b, eps);
  }
  RowMat lg = (x * w.wc.transpose()).rowwise() + w.bc;
  return std::vector<float>(lg.data(), lg.data() + lg.size());
}

void TokenClassifier::score_units(const ScoreContext& ctx, std::vector<float>& out) const {
  const auto& units = ctx.seg.units;
  out.assign(units.size(), 0.5f);
  const std::size_t L = n_labels(), cap = max_tokens() - 2;
  // pieces of each unit (capped so one long URL cannot fill a window)
  std::vector<std::vector<std::uint32_t>> pieces(units.size());
  for (std::size_t u = 0; u < units.size(); ++u) {
    if (units[u].kind == UnitKind::Newline) continue;
    tok_->encode_pieces(ctx.text.substr(units[u].start, units[u].end - units[u].start), pieces[u],
                        std::min<std::size_t>(cap, 64));
  }
  std::size_t u = 0;
  std::vector<std::uint32_t> ids;
  while (u < units.size()) {
    if (ctx.stopped()) return;  // one window per check (Ctrl-C)
    ids.assign(1, tok_->cls_id());
    const std::size_t first = u;
    while (u < units.size() && ids.size() + pieces[u].size() <= cap + 1) {
      ids.insert(ids.end(), pieces[u].begin(), pieces[u].end());
      ++u;
    }
    if (u == first) ++u;  // cannot happen with the cap, but never loop forever
    ids.push_back(tok_->sep_id());
    const std::vector<float> lg = logits(ids);
    std::size_t pos = 1;
    for (std::size_t k = first; k < u; ++k) {
      if (pieces[k].empty()) continue;
      double sum = 0;
      for (std::size_t i = 0; i < pieces[k].size(); ++i, ++pos) {
        const float* r = &lg[pos * L];
        const float m = *std::max_element(r, r + L);
        double z = 0;
        for (std::size_t j = 0; j < L; ++j) z += std::exp(r[j] - m);
        sum += std::exp(r[keep_label_] - m) / z;
      }
      out[k] = static_cast<float>(sum / pieces[k].size());
    }
  }
}

}  // namespace tokenops::compress
