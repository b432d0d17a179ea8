#include "tokenops/compress/embedding.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>

#include "tokenops/text/error.hpp"

namespace tokenops::compress {

EmbeddingRelevance::EmbeddingRelevance(std::shared_ptr<const embed::Embedder> embedder, int num_threads)
    : emb_(std::move(embedder)), num_threads_(num_threads) {
  TOKENOPS_CHECK(emb_ != nullptr, InvalidArgument, "EmbeddingRelevance needs an embedder");
}

void EmbeddingRelevance::score_chunks(const ScoreContext& ctx, std::vector<float>& out) const {
  const auto& seg = ctx.seg;
  out.assign(seg.chunks.size(), 0.0f);
  std::vector<std::string_view> texts{ctx.question};
  std::vector<std::size_t> which;
  for (std::size_t c = 0; c < seg.chunks.size(); ++c) {
    const Chunk& ch = seg.chunks[c];
    bool words = false;
    for (std::uint32_t k = ch.first; k < ch.last && !words; ++k) {
      const auto kind = seg.units[k].kind;
      words = kind == UnitKind::Word || kind == UnitKind::Number || kind == UnitKind::Char ||
              kind == UnitKind::Code || kind == UnitKind::Url;
    }
    if (!words) continue;
    const std::uint32_t a = seg.units[ch.first].start, b = seg.units[ch.last - 1].end;
    texts.push_back(ctx.text.substr(a, b - a));
    which.push_back(c);
  }
  if (which.empty()) return;
  embed::EmbedOptions opt;
  opt.num_threads = num_threads_;
  if (ctx.stop) opt.stop = *ctx.stop;  // the embedder asks it before every batch (Ctrl-C)
  const std::size_t d = emb_->dim();
  std::vector<float> v(texts.size() * d);
  emb_->embed(std::span<const std::string_view>(texts), v.data(), opt);
  if (ctx.stopped()) return;  // rows of skipped batches were never written
  auto norm = [&](std::size_t i) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += double(v[i * d + j]) * v[i * d + j];
    return std::sqrt(s);
  };
  const double qn = norm(0);
  if (qn == 0) return;
  for (std::size_t i = 0; i < which.size(); ++i) {
    double dot = 0;
    for (std::size_t j = 0; j < d; ++j) dot += double(v[j]) * v[(i + 1) * d + j];
    const double n = norm(i + 1);
    out[which[i]] = n > 0 ? static_cast<float>(std::max(0.0, dot / (qn * n))) : 0.0f;
  }
}

}  // namespace tokenops::compress
