#pragma once
// A native sentence embedder: the BERT encoder forward pass (float32, Eigen) of a
// sentence-transformers model such as all-MiniLM-L6-v2, its WordPiece tokenizer, and the pooling
// and normalisation that sentence-transformers applies. No Python, no PyTorch.
//
// Public, stable API used by the router, cache and compression modules:
//
//   auto emb = tokenops::embed::Embedder::load("/path/to/all-MiniLM-L6-v2");
//   std::vector<std::string_view> texts = {"how do I reset my card PIN?", "PIN reset"};
//   std::vector<float> v = emb->embed(texts);        // texts.size() x emb->dim(), row-major
//
// An Embedder is immutable after load() and safe to share across threads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/io/bert_config.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/embed/wordpiece.hpp"

namespace tokenops::embed {

/// What a loaded model is.
struct ModelInfo {
  std::string path;                 // the model directory
  io::BertConfig config;            // from config.json
  std::size_t dim = 0;              // embedding width (hidden_size)
  std::size_t max_tokens = 0;       // ids per text incl. [CLS]/[SEP]; longer texts are truncated
  io::PoolingMode pooling = io::PoolingMode::kMean;
  bool normalize = false;           // L2-normalised output (a Normalize module)
};

struct EmbedOptions {
  /// Texts per forward pass. Texts are sorted by length first, so a batch holds texts of similar
  /// length; tokens are packed without padding.
  std::size_t batch_size = 32;
  /// Worker threads; 0 = all hardware threads. Results are identical for any value.
  int num_threads = 0;
  /// Asked before each batch and before each layer of a batch (Ctrl-C); once it says true the
  /// rest is skipped and rows are left unwritten (the caller discards the result).
  text::StopFn stop{};
};

class Embedder {
 public:
  /// Loads a sentence-transformers model directory:
  ///   config.json, model.safetensors, tokenizer.json (or vocab.txt [+ tokenizer_config.json]),
  ///   optionally sentence_bert_config.json, modules.json, 1_Pooling/config.json.
  /// A missing file raises IoError naming it and the expected layout; malformed files raise
  /// InvalidArgument naming the file (and the tensor, for weights).
  static std::shared_ptr<const Embedder> load(const std::string& model_dir);

  ~Embedder();
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  std::size_t dim() const noexcept;
  std::size_t max_tokens() const noexcept;
  const ModelInfo& info() const noexcept;
  const WordPieceTokenizer& tokenizer() const noexcept;

  /// [CLS] word pieces [SEP], truncated to max_tokens(). Validates UTF-8.
  std::vector<std::uint32_t> tokenize(std::string_view text) const;

  /// Embeds texts (UTF-8, validated: InvalidArgument naming the text index and byte offset) into
  /// `out`, row-major texts.size() x dim().
  void embed(std::span<const std::string_view> texts, float* out, const EmbedOptions& opt = {}) const;
  std::vector<float> embed(std::span<const std::string_view> texts, const EmbedOptions& opt = {}) const;

  /// Embeds already-tokenized inputs (each [CLS] ... [SEP], at most max_tokens() ids, every id
  /// < vocab size; InvalidArgument otherwise).
  void embed_ids(std::span<const std::vector<std::uint32_t>> ids, float* out,
                 const EmbedOptions& opt = {}) const;

  struct Weights;

 private:
  Embedder();
  void run(std::span<const std::vector<std::uint32_t>> ids, float* out, const EmbedOptions& opt) const;

  ModelInfo info_;
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::unique_ptr<Weights> weights_;
};

}  // namespace tokenops::embed
