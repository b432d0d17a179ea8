// GCC 12 reports false -Wmaybe-uninitialized warnings inside Eigen's AVX-512 packet code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "encoder.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unsupported/Eigen/SpecialFunctions>

#include "tokenops/text/error.hpp"

namespace tokenops::embed::internal {

namespace {

using ConstRowMap = Eigen::Map<const RowMat>;

RowMat load_matrix(const io::SafetensorsFile& f, const std::string& name, std::size_t rows, std::size_t cols) {
  auto s = f.f32(name, {rows, cols});
  return ConstRowMap(s.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}

RowVec load_vector(const io::SafetensorsFile& f, const std::string& name, std::size_t n) {
  auto s = f.f32(name, {n});
  return Eigen::Map<const RowVec>(s.data(), static_cast<Eigen::Index>(n));
}

// GEMM output columns per task: the unit of intra-op parallelism. Fixed, so that the arithmetic
// (and hence every bit of the result) does not depend on the number of threads.
constexpr Eigen::Index kColChunk = 128;
constexpr Eigen::Index kRowChunk = 64;

}  // namespace

std::unique_ptr<EncoderWeights> EncoderWeights::load(std::shared_ptr<const io::SafetensorsFile> file,
                                                     const io::BertConfig& cfg) {
  auto w = std::make_unique<EncoderWeights>();
  w->cfg = cfg;
  w->file = file;
  const io::SafetensorsFile& f = *file;
  std::string p;
  if (!f.contains("embeddings.word_embeddings.weight") && f.contains("bert.embeddings.word_embeddings.weight"))
    p = "bert.";
  const std::size_t H = cfg.hidden_size, I = cfg.intermediate_size;
  w->word = f.f32(p + "embeddings.word_embeddings.weight", {cfg.vocab_size, H});
  w->pos = load_matrix(f, p + "embeddings.position_embeddings.weight", cfg.max_position_embeddings, H);
  RowMat type = load_matrix(f, p + "embeddings.token_type_embeddings.weight", cfg.type_vocab_size, H);
  w->pos.rowwise() += type.row(0);  // every token has token_type_id 0
  w->ln_g = load_vector(f, p + "embeddings.LayerNorm.weight", H);
  w->ln_b = load_vector(f, p + "embeddings.LayerNorm.bias", H);
  for (std::size_t l = 0; l < cfg.num_hidden_layers; ++l) {
    const std::string L = p + "encoder.layer." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.wqkv.resize(static_cast<Eigen::Index>(3 * H), static_cast<Eigen::Index>(H));
    lw.bqkv.resize(static_cast<Eigen::Index>(3 * H));
    const char* parts[] = {"query", "key", "value"};
    for (int k = 0; k < 3; ++k) {
      lw.wqkv.middleRows(k * static_cast<Eigen::Index>(H), static_cast<Eigen::Index>(H)) =
          load_matrix(f, L + "attention.self." + parts[k] + ".weight", H, H);
      lw.bqkv.segment(k * static_cast<Eigen::Index>(H), static_cast<Eigen::Index>(H)) =
          load_vector(f, L + "attention.self." + parts[k] + ".bias", H);
    }
    lw.wo = load_matrix(f, L + "attention.output.dense.weight", H, H);
    lw.bo = load_vector(f, L + "attention.output.dense.bias", H);
    lw.ln1_g = load_vector(f, L + "attention.output.LayerNorm.weight", H);
    lw.ln1_b = load_vector(f, L + "attention.output.LayerNorm.bias", H);
    lw.wi = load_matrix(f, L + "intermediate.dense.weight", I, H);
    lw.bi = load_vector(f, L + "intermediate.dense.bias", I);
    lw.wout = load_matrix(f, L + "output.dense.weight", H, I);
    lw.bout = load_vector(f, L + "output.dense.bias", H);
    lw.ln2_g = load_vector(f, L + "output.LayerNorm.weight", H);
    lw.ln2_b = load_vector(f, L + "output.LayerNorm.bias", H);
    w->layers.push_back(std::move(lw));
  }
  return w;
}

namespace {

// y = x * W^T + b (optionally + residual, optionally GELU), by fixed column chunks.
enum class Epilogue { kBias, kBiasGelu, kBiasResidual };

template <class Par>
void linear(const RowMat& x, const RowMat& w, const RowVec& b, RowMat& y, Epilogue ep, const RowMat* residual,
            Par& par) {
  const Eigen::Index n = w.rows();
  const Eigen::Index chunks = (n + kColChunk - 1) / kColChunk;
  y.resize(x.rows(), n);
  par(static_cast<std::size_t>(chunks), [&](std::size_t c) {
    const Eigen::Index c0 = static_cast<Eigen::Index>(c) * kColChunk;
    const Eigen::Index cn = std::min(kColChunk, n - c0);
    auto out = y.middleCols(c0, cn);
    out.noalias() = x * w.middleRows(c0, cn).transpose();
    out.rowwise() += b.segment(c0, cn);
    if (ep == Epilogue::kBiasResidual) out += residual->middleCols(c0, cn);
    if (ep == Epilogue::kBiasGelu) {
      // GELU, exact erf form as in HF BERT: 0.5 * x * (1 + erf(x / sqrt(2))).
      auto a = out.array();
      a = 0.5f * a * (1.0f + (a * 0.70710678118654752f).erf());
    }
  });
}

template <class Par>
void layer_norm(RowMat& x, const RowVec& g, const RowVec& b, float eps, Par& par) {
  const Eigen::Index rows = x.rows();
  const Eigen::Index chunks = (rows + kRowChunk - 1) / kRowChunk;
  par(static_cast<std::size_t>(chunks), [&](std::size_t c) {
    const Eigen::Index r0 = static_cast<Eigen::Index>(c) * kRowChunk;
    const Eigen::Index r1 = std::min(rows, r0 + kRowChunk);
    for (Eigen::Index r = r0; r < r1; ++r) {
      auto row = x.row(r).array();
      const float mean = row.mean();
      row -= mean;
      const float var = row.square().mean();
      row = row * (1.0f / std::sqrt(var + eps)) * g.array() + b.array();
    }
  });
}

}  // namespace

template <class Par>
void forward_impl(const EncoderWeights& w, std::span<const std::vector<std::uint32_t>* const> seqs,
                  std::span<float* const> out, Workspace& ws, Par& par) {
  const auto& cfg = w.cfg;
  const Eigen::Index H = static_cast<Eigen::Index>(cfg.hidden_size);
  const Eigen::Index heads = static_cast<Eigen::Index>(cfg.num_attention_heads);
  const Eigen::Index d = H / heads;
  const float eps = static_cast<float>(cfg.layer_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::size_t n = seqs.size();
  std::vector<Eigen::Index> offset(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offset[i + 1] = offset[i] + static_cast<Eigen::Index>(seqs[i]->size());
  const Eigen::Index T = offset[n];

  // Embeddings: word + position (+ token type 0, folded into pos), then LayerNorm.
  ws.x.resize(T, H);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& ids = *seqs[i];
    for (std::size_t t = 0; t < ids.size(); ++t) {
      const Eigen::Index r = offset[i] + static_cast<Eigen::Index>(t);
      ws.x.row(r) = Eigen::Map<const RowVec>(w.word.data() + static_cast<std::size_t>(ids[t]) * cfg.hidden_size, H) +
                    w.pos.row(static_cast<Eigen::Index>(t));
    }
  }
  layer_norm(ws.x, w.ln_g, w.ln_b, eps, par);

  for (const LayerWeights& lw : w.layers) {
    linear(ws.x, lw.wqkv, lw.bqkv, ws.qkv, Epilogue::kBias, nullptr, par);
    ws.ctx.resize(T, H);
    // Attention, one task per (sequence, head); each sequence attends only to itself, so no
    // padding and no mask are needed.
    par(n * static_cast<std::size_t>(heads), [&](std::size_t task) {
      const std::size_t i = task / static_cast<std::size_t>(heads);
      const Eigen::Index h = static_cast<Eigen::Index>(task % static_cast<std::size_t>(heads));
      const Eigen::Index o = offset[i], len = offset[i + 1] - offset[i];
      auto q = ws.qkv.block(o, h * d, len, d);
      auto k = ws.qkv.block(o, H + h * d, len, d);
      auto v = ws.qkv.block(o, 2 * H + h * d, len, d);
      RowMat s(len, len);
      s.noalias() = (q * k.transpose()) * scale;
      for (Eigen::Index r = 0; r < len; ++r) {
        auto row = s.row(r).array();
        const float mx = row.maxCoeff();
        row = (row - mx).exp();
        row /= row.sum();
      }
      ws.ctx.block(o, h * d, len, d).noalias() = s * v;
    });
    linear(ws.ctx, lw.wo, lw.bo, ws.tmp, Epilogue::kBiasResidual, &ws.x, par);
    layer_norm(ws.tmp, lw.ln1_g, lw.ln1_b, eps, par);
    linear(ws.tmp, lw.wi, lw.bi, ws.inter, Epilogue::kBiasGelu, nullptr, par);
    linear(ws.inter, lw.wout, lw.bout, ws.x, Epilogue::kBiasResidual, &ws.tmp, par);
    layer_norm(ws.x, lw.ln2_g, lw.ln2_b, eps, par);
  }

  // Pooling (+ L2 normalisation, as torch.nn.functional.normalize: x / max(|x|, 1e-12)).
  par(n, [&](std::size_t i) {
    const Eigen::Index o = offset[i], len = offset[i + 1] - offset[i];
    Eigen::Map<RowVec> dst(out[i], H);
    auto rows = ws.x.middleRows(o, len);
    switch (w.pooling) {
      case io::PoolingMode::kMean:
        dst = rows.colwise().sum() / static_cast<float>(len);
        break;
      case io::PoolingMode::kCls:
        dst = rows.row(0);
        break;
      case io::PoolingMode::kMax:
        dst = rows.colwise().maxCoeff();
        break;
    }
    if (w.normalize) dst /= std::max(dst.norm(), 1e-12f);
  });
}

void forward(const EncoderWeights& w, std::span<const std::vector<std::uint32_t>* const> seqs,
             std::span<float* const> out, Workspace& ws, text::ThreadTeam* team) {
  if (team && team->size() > 1) {
    auto par = [team](std::size_t n, auto&& fn) { team->run(n, fn); };
    forward_impl(w, seqs, out, ws, par);
  } else {
    auto serial = [](std::size_t n, auto&& fn) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
    };
    forward_impl(w, seqs, out, ws, serial);
  }
}

}  // namespace tokenops::embed::internal
