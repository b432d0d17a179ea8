#pragma once
// Router inference: decides per prompt whether the strong (frontier) model is needed, or which of
// N models to call. Weights come from a router file (io/router_file.hpp) trained in Python.
//
// Families (the head that turns features x = [sparse | dense | embedding] into K outputs):
//   linear : z = W^T x + b                                      (logistic with output_link=sigmoid)
//   mlp    : z = W_L^T act(... act(W_0^T x + b_0) ...) + b_L    (act = relu | tanh)
//   mf     : z_m = w2^T (v_m ⊙ W1^T x) + b_m, v_m L2-normalised  (RouteLLM's matrix factorisation;
//            binary_score=sigmoid_diff gives sigma(w2^T((v_s - v_w) ⊙ W1^T x)) exactly)
//   irt    : z_m = softplus(a(x)) * (theta_m - d(x)), [d, a] = W^T x + c   (2-parameter IRT)
//   knn    : q_m = mean of model m's quality over the k nearest training prompts (cosine on the
//            embedding block)
// Outputs q = link(z) (sigmoid or identity; IRT always sigmoid; kNN identity).
// Binary score: single (q_0), diff (q_strong - q_weak), need (q_strong * (1 - q_weak): P(the
// strong model succeeds where the weak one fails), or sigmoid_diff (sigma(z_strong - z_weak)).
// N-way routing: argmax_m lambda * q_m - cost_m (ties: the lower index).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/io/router_file.hpp"
#include "tokenops/router/features.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::router {

/// Batch input: prompts plus (when the router has an embedding block) a row-major n x E matrix
/// of their embeddings.
struct Batch {
  std::vector<std::string_view> texts;
  const float* embeddings = nullptr;
  std::size_t embedding_rows = 0;
  std::size_t embedding_cols = 0;
};

class Router {
 public:
  Router(io::RouterFile file, std::shared_ptr<const tokenizer::Encoding> encoding);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  const io::RouterFile& file() const noexcept { return file_; }
  const FeatureExtractor& features() const noexcept { return features_; }
  std::size_t n_outputs() const noexcept { return n_out_; }
  bool needs_embedding() const noexcept { return features_.embedding_dim() > 0; }

  /// Binary scores (higher = the strong model is more likely needed), one per prompt.
  /// `stop` (optional) is asked between chunks of prompts; once it says true the call returns
  /// early with unspecified values for the prompts not reached (the caller discards them).
  std::vector<double> score(const Batch& batch, int num_threads, const text::StopFn& stop = {}) const;
  /// Per-output values q (n x K, row-major): per-model predicted quality for N-way routers.
  std::vector<double> outputs(const Batch& batch, int num_threads, const text::StopFn& stop = {}) const;
  /// N-way decision per prompt: argmax_m lambda * q_m - costs[m] (costs: one per model; empty =
  /// the file's costs).
  std::vector<std::int32_t> route(const Batch& batch, double lambda, const std::vector<double>& costs,
                                  int num_threads, const text::StopFn& stop = {}) const;

  struct Head;  // family-specific inference (defined in router.cpp)

 private:
  void check_batch(const Batch& batch) const;
  template <class Fn>
  void for_each(const Batch& batch, int num_threads, const text::StopFn& stop, Fn&& fn) const;

  io::RouterFile file_;
  std::shared_ptr<const tokenizer::Encoding> encoding_;
  FeatureExtractor features_;
  std::size_t n_out_ = 0;
  std::unique_ptr<const Head> head_;
};

}  // namespace tokenops::router
