#pragma once
// Internal: the weights and the forward pass of the BERT encoder (not a public header).
#include <Eigen/Core>
#include <Eigen/StdVector>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tokenops/io/bert_config.hpp"
#include "tokenops/io/safetensors.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/text/thread_team.hpp"

namespace tokenops::embed::internal {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVec = Eigen::Matrix<float, 1, Eigen::Dynamic>;

// A linear layer's weight, transposed to [in, out] (y = x * wt + b). When `out` is a multiple of
// 16 it is kept only pre-packed for the GEMM kernel: panels of 16 output columns, each panel
// [in][16] contiguous, so the kernel streams the weights sequentially. Otherwise `wt` is kept
// and Eigen's GEMM is used.
struct Linear {
  Eigen::Index in = 0, out = 0;
  RowMat wt;  // [in, out], only when out % 16 != 0
  std::vector<float, Eigen::aligned_allocator<float>> packed;  // [out / 16][in][16]
  void set(const RowMat& transposed);
};

struct LayerWeights {
  Linear wqkv;  // [H, 3H]: query, key, value side by side
  RowVec bqkv;  // [3H]
  Linear wo;    // [H, H]
  RowVec bo, ln1_g, ln1_b;
  Linear wi;    // [H, I]
  RowVec bi;
  Linear wout;  // [I, H]
  RowVec bout, ln2_g, ln2_b;
};

struct EncoderWeights {
  io::BertConfig cfg;
  std::shared_ptr<const io::SafetensorsFile> file;  // keeps the word embeddings mapped
  std::span<const float> word;                      // [V, H], zero-copy from the mapping
  RowMat pos;                                       // [P, H] (+ token type 0 folded in)
  RowVec ln_g, ln_b;
  std::vector<LayerWeights> layers;
  io::PoolingMode pooling = io::PoolingMode::kMean;
  bool normalize = false;

  /// Reads and checks every tensor (names with or without a "bert." prefix).
  static std::unique_ptr<EncoderWeights> load(std::shared_ptr<const io::SafetensorsFile> file,
                                              const io::BertConfig& cfg);
};

/// Scratch buffers of one forward pass; reused across batches on one thread.
struct Workspace {
  RowMat x, qkv, ctx, tmp, inter, scores;
};

/// Encodes a batch of id sequences (each [CLS] ... [SEP]) packed without padding, writing one
/// pooled (and, if configured, L2-normalised) row of width H per sequence to out[i].
/// With a team, the GEMM column chunks and attention heads run in parallel; the partition into
/// tasks is fixed, so the result is bit-identical with or without one.
/// `stop` (optional) is asked before each layer: when it answers true the pass ends early and
/// `out` holds no result (the caller discards it; Ctrl-C within one layer of a large batch).
void forward(const EncoderWeights& w, std::span<const std::vector<std::uint32_t>* const> seqs,
             std::span<float* const> out, Workspace& ws, text::ThreadTeam* team,
             const text::StopFn* stop = nullptr);

}  // namespace tokenops::embed::internal
