#pragma once
// Question-aware relevance from the native sentence embedder (tokenops::embed, e.g.
// all-MiniLM-L6-v2): the cosine similarity between the question and each chunk, clipped at 0.
// Chunks without any word (punctuation, newlines) score 0 and are not embedded.
#include <memory>
#include <string>

#include "tokenops/compress/scorer.hpp"
#include "tokenops/embed/embedder.hpp"

namespace tokenops::compress {

class EmbeddingRelevance final : public ChunkScorer {
 public:
  /// `num_threads` is passed to the embedder (0 = all cores; results do not depend on it).
  explicit EmbeddingRelevance(std::shared_ptr<const embed::Embedder> embedder, int num_threads = 0);
  std::string name() const override { return "embedding"; }
  void score_chunks(const ScoreContext& ctx, std::vector<float>& out) const override;

 private:
  std::shared_ptr<const embed::Embedder> emb_;
  int num_threads_;
};

}  // namespace tokenops::compress
