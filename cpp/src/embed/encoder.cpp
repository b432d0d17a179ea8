// GCC 12 reports false -Wmaybe-uninitialized warnings inside Eigen's AVX-512 packet code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "encoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <type_traits>
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

// A PyTorch Linear weight [out, in], transposed to [in, out].
RowMat load_linear(const io::SafetensorsFile& f, const std::string& name, std::size_t out, std::size_t in) {
  return load_matrix(f, name, out, in).transpose();
}

RowVec load_vector(const io::SafetensorsFile& f, const std::string& name, std::size_t n) {
  auto s = f.f32(name, {n});
  return Eigen::Map<const RowVec>(s.data(), static_cast<Eigen::Index>(n));
}

// The units of intra-op parallelism. A GEMM over many tokens is split into blocks of kGemmRows
// rows (each multiplies by the whole weight matrix); over few tokens, into blocks of kColChunk
// output columns. The split depends only on the shapes, never on the thread count, so the
// arithmetic (and every bit of the result) is the same for any number of threads.
constexpr Eigen::Index kColChunk = 64;
constexpr Eigen::Index kGemmRows = 128;
constexpr Eigen::Index kRowChunk = 64;

}  // namespace

void Linear::set(const RowMat& transposed) {
  in = transposed.rows();
  out = transposed.cols();
  if (out % 16 != 0) {
    wt = transposed;
    return;
  }
  packed.resize(static_cast<std::size_t>(in * out));
  float* dst = packed.data();
  for (Eigen::Index p = 0; p < out; p += 16)
    for (Eigen::Index k = 0; k < in; ++k)
      for (Eigen::Index j = 0; j < 16; ++j) *dst++ = transposed(k, p + j);
}

std::unique_ptr<EncoderWeights> EncoderWeights::load(std::shared_ptr<const io::SafetensorsFile> file,
                                                     const io::BertConfig& cfg) {
  const io::SafetensorsFile& f = *file;
  // The forward pass below runs the exact (erf) GELU only; a tanh-approximation or other
  // activation would load and embed with the wrong function, silently. config.json sits beside
  // model.safetensors in a model directory.
  TOKENOPS_CHECK(cfg.hidden_act == "gelu", InvalidArgument,
                 (std::filesystem::path(f.source()).parent_path() / "config.json").string(),
                 ": hidden_act \"", cfg.hidden_act,
                 "\" is not supported by the Embedder (only \"gelu\", the exact erf form)");
  auto w = std::make_unique<EncoderWeights>();
  w->cfg = cfg;
  w->file = file;
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
    RowMat qkv(static_cast<Eigen::Index>(H), static_cast<Eigen::Index>(3 * H));
    lw.bqkv.resize(static_cast<Eigen::Index>(3 * H));
    const char* parts[] = {"query", "key", "value"};
    for (int k = 0; k < 3; ++k) {
      qkv.middleCols(k * static_cast<Eigen::Index>(H), static_cast<Eigen::Index>(H)) =
          load_linear(f, L + "attention.self." + parts[k] + ".weight", H, H);
      lw.bqkv.segment(k * static_cast<Eigen::Index>(H), static_cast<Eigen::Index>(H)) =
          load_vector(f, L + "attention.self." + parts[k] + ".bias", H);
    }
    lw.wqkv.set(qkv);
    lw.wo.set(load_linear(f, L + "attention.output.dense.weight", H, H));
    lw.bo = load_vector(f, L + "attention.output.dense.bias", H);
    lw.ln1_g = load_vector(f, L + "attention.output.LayerNorm.weight", H);
    lw.ln1_b = load_vector(f, L + "attention.output.LayerNorm.bias", H);
    lw.wi.set(load_linear(f, L + "intermediate.dense.weight", I, H));
    lw.bi = load_vector(f, L + "intermediate.dense.bias", I);
    lw.wout.set(load_linear(f, L + "output.dense.weight", H, I));
    lw.bout = load_vector(f, L + "output.dense.bias", H);
    lw.ln2_g = load_vector(f, L + "output.LayerNorm.weight", H);
    lw.ln2_b = load_vector(f, L + "output.LayerNorm.bias", H);
    w->layers.push_back(std::move(lw));
  }
  // A config.json that names fewer layers than the weights hold would run a truncated model
  // (different embeddings, no error): refuse it.
  const std::string extra = p + "encoder.layer." + std::to_string(cfg.num_hidden_layers) + ".attention.self.query.weight";
  TOKENOPS_CHECK(!f.contains(extra), InvalidArgument, f.source(), ": config.json num_hidden_layers = ",
                 cfg.num_hidden_layers, " but the weights hold more layers (", extra,
                 "); the config does not belong to these weights");
  return w;
}

namespace {

// y = x * W^T + b (optionally + residual, optionally GELU), by fixed column chunks.
enum class Epilogue { kBias, kBiasGelu, kBiasResidual };

// Small-batch kernel: y[r, c0:c0+16*P] = x[r, :] * wt[:, c0:...] for R rows at once, with the
// R x P accumulators held in vector registers and each 16-wide slice of a weight row loaded once
// per R rows. The sum over k runs in order, so the result depends only on the shapes. GCC vector
// extensions: AVX-512 with -march=native, plain SSE otherwise.
typedef float v16f __attribute__((vector_size(64)));

template <int R>
void micro_kernel(const float* x, Eigen::Index ldx, Eigen::Index K, const float* wt, Eigen::Index ldw,
                  float* y, Eigen::Index ldy) {
  v16f acc[R];
  for (int r = 0; r < R; ++r) acc[r] = v16f{};
  for (Eigen::Index k = 0; k < K; ++k) {
    v16f w;
    std::memcpy(&w, wt + k * ldw, sizeof(w));
    for (int r = 0; r < R; ++r) acc[r] += x[r * ldx + k] * w;
  }
  for (int r = 0; r < R; ++r) std::memcpy(y + r * ldy, &acc[r], sizeof(v16f));
}

// y[r0:r0+rn, c0:c0+cn] = x[r0:r0+rn, :] * W[:, c0:c0+cn] with W pre-packed; c0, cn multiples of 16.
void packed_gemm(const RowMat& x, const Linear& w, RowMat& y, Eigen::Index r0, Eigen::Index rn, Eigen::Index c0,
                 Eigen::Index cn) {
  const Eigen::Index T = r0 + rn, K = x.cols(), ldy = y.cols();
  for (Eigen::Index c = c0; c < c0 + cn; c += 16) {
    const float* panel = w.packed.data() + c * K;  // panel c / 16 starts at (c / 16) * K * 16
    Eigen::Index r = r0;
    auto run = [&](auto rows) {
      constexpr int R = decltype(rows)::value;
      for (; r + R <= T; r += R) micro_kernel<R>(x.data() + r * K, K, K, panel, 16, y.data() + r * ldy + c, ldy);
    };
    if (rn <= 16) {  // one pass over the weights for a short text
      run(std::integral_constant<int, 16>{});
      run(std::integral_constant<int, 8>{});
    } else {
      run(std::integral_constant<int, 12>{});
    }
    run(std::integral_constant<int, 4>{});
    run(std::integral_constant<int, 1>{});
  }
}

template <class Par>
void linear(const RowMat& x, const Linear& w, const RowVec& b, RowMat& y, Epilogue ep, const RowMat* residual,
            Par& par) {
  const Eigen::Index n = w.out, t = x.rows();
  y.resize(t, n);
  auto block = [&](Eigen::Index r0, Eigen::Index rn, Eigen::Index c0, Eigen::Index cn) {
    auto out = y.block(r0, c0, rn, cn);
    if (!w.packed.empty())
      packed_gemm(x, w, y, r0, rn, c0, cn);
    else
      out.noalias() = x.middleRows(r0, rn) * w.wt.middleCols(c0, cn);
    out.rowwise() += b.segment(c0, cn);
    if (ep == Epilogue::kBiasResidual) out += residual->block(r0, c0, rn, cn);
    if (ep == Epilogue::kBiasGelu) {
      // GELU, exact erf form as in HF BERT: 0.5 * x * (1 + erf(x / sqrt(2))).
      auto a = out.array();
      a = 0.5f * a * (1.0f + (a * 0.70710678118654752f).erf());
    }
  };
  if (t >= 2 * kGemmRows) {
    const Eigen::Index chunks = (t + kGemmRows - 1) / kGemmRows;
    par(static_cast<std::size_t>(chunks), [&](std::size_t c) {
      const Eigen::Index r0 = static_cast<Eigen::Index>(c) * kGemmRows;
      block(r0, std::min(kGemmRows, t - r0), 0, n);
    });
  } else {
    const Eigen::Index chunks = (n + kColChunk - 1) / kColChunk;
    par(static_cast<std::size_t>(chunks), [&](std::size_t c) {
      const Eigen::Index c0 = static_cast<Eigen::Index>(c) * kColChunk;
      block(0, t, c0, std::min(kColChunk, n - c0));
    });
  }
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
                  std::span<float* const> out, Workspace& ws, Par& par, const text::StopFn* stop) {
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
    if (stop && *stop && (*stop)()) return;  // the caller discards this batch
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

  // Pooling (+ L2 normalisation, as torch.nn.functional.normalize: x / max(|x|, 1e-12)). Computed
  // in an Eigen-aligned vector, not in place: Eigen's vectorised reductions peel differently for
  // differently aligned buffers, and the caller's buffer must not change a single bit.
  par(n, [&](std::size_t i) {
    const Eigen::Index o = offset[i], len = offset[i + 1] - offset[i];
    RowVec v(H);
    auto rows = ws.x.middleRows(o, len);
    switch (w.pooling) {
      case io::PoolingMode::kMean:
        v = rows.colwise().sum() / static_cast<float>(len);
        break;
      case io::PoolingMode::kCls:
        v = rows.row(0);
        break;
      case io::PoolingMode::kMax:
        v = rows.colwise().maxCoeff();
        break;
    }
    if (w.normalize) v /= std::max(v.norm(), 1e-12f);
    std::copy(v.data(), v.data() + H, out[i]);
  });
}

void forward(const EncoderWeights& w, std::span<const std::vector<std::uint32_t>* const> seqs,
             std::span<float* const> out, Workspace& ws, text::ThreadTeam* team,
             const text::StopFn* stop) {
  if (team && team->size() > 1) {
    auto par = [team](std::size_t n, auto&& fn) { team->run(n, fn); };
    forward_impl(w, seqs, out, ws, par, stop);
  } else {
    auto serial = [](std::size_t n, auto&& fn) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
    };
    forward_impl(w, seqs, out, ws, serial, stop);
  }
}

}  // namespace tokenops::embed::internal
