#pragma once
// A pluggable token-classification scorer: any BERT-family model saved by Hugging Face as
// BertForTokenClassification (config.json, model.safetensors with bert.* + classifier.*, and
// tokenizer.json or vocab.txt) -- the shape of LLMLingua-2's published BERT checkpoints. Each
// unit is split into word pieces, the pieces of consecutive units are packed into windows of at
// most the model's length, the encoder runs (float32, Eigen), and a unit's score is the mean
// probability of the "keep" label over its pieces (LLMLingua-2 merges sub-word probabilities
// into words the same way).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tokenops/compress/scorer.hpp"
#include "tokenops/embed/wordpiece.hpp"
#include "tokenops/io/bert_config.hpp"
#include "tokenops/io/safetensors.hpp"

namespace tokenops::compress {

class TokenClassifier final : public UnitScorer {
 public:
  /// Loads a model directory. `keep_label` is the index of the label meaning "keep" (1 for
  /// LLMLingua-2). IoError for a missing file, InvalidArgument for a malformed one.
  static std::shared_ptr<const TokenClassifier> load(const std::string& model_dir, int keep_label = 1);
  ~TokenClassifier() override;

  std::string name() const override { return "token_classifier"; }
  void score_units(const ScoreContext& ctx, std::vector<float>& out) const override;

  /// Logits [ids.size() x n_labels], row-major, of one sequence ([CLS] ... [SEP], at most
  /// max_tokens() ids).
  std::vector<float> logits(std::span<const std::uint32_t> ids) const;
  std::size_t n_labels() const noexcept;
  std::size_t max_tokens() const noexcept;
  const embed::WordPieceTokenizer& tokenizer() const noexcept { return *tok_; }

  struct Weights;

 private:
  TokenClassifier();
  std::unique_ptr<embed::WordPieceTokenizer> tok_;
  std::unique_ptr<Weights> w_;
  int keep_label_ = 1;
};

}  // namespace tokenops::compress
