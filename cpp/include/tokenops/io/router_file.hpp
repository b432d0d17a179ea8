#pragma once
// Router files: the trained weights of a tokenops router plus its feature configuration and the
// embedder it expects. Layout is safetensors (8-byte little-endian header length, a JSON header
// naming each tensor's dtype/shape/byte range, then raw little-endian data) so numpy, the
// `safetensors` package and this reader all agree. The header's "__metadata__" holds
// {"format": "tokenops-router", "format_version": "1", "config": "<JSON text>"}.
// This reader returns plain data; router/ turns it into an immutable Router.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

/// The router file format version this build reads and writes.
inline constexpr int kRouterFormatVersion = 3;  // 2: word hash of router/features.hpp; 3: L2-normalised n-gram blocks

struct RouterTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // row-major, float32 (F32 on disk)
  std::size_t rows() const noexcept { return shape.empty() ? 1 : static_cast<std::size_t>(shape[0]); }
  std::size_t cols() const noexcept {
    return shape.size() < 2 ? 1 : static_cast<std::size_t>(shape[1]);
  }
};

/// How prompts become features (see router/features.hpp for what each part means).
struct RouterFeatureSpec {
  std::string encoding;            // tokenizer for the token-count signal ("" = none)
  int hash_bits = 0;               // sparse hashed block of 2^hash_bits buckets (0 = none)
  int word_ngram_min = 1, word_ngram_max = 2;  // 0 = no word n-grams
  int char_ngram_min = 0, char_ngram_max = 0;  // 0 = no character n-grams
  bool dense = false;              // the length/structure signals
  std::vector<std::string> dense_names;  // must equal the extractor's list (checked at load)
  std::vector<float> dense_mean, dense_scale;  // standardisation learned in training
  // Range of each raw dense signal in the training rows: a prompt's signals are clipped to it
  // before standardising, so a prompt unlike any training row (an all-CJK one for a router
  // trained on English) is not extrapolated. Empty in files written before it existed: no clip.
  std::vector<float> dense_min, dense_max;
  std::string embedder;            // embedder name ("" = no embedding block)
  int embedding_dim = 0;
  int embed_tail_chars = 0;        // embed only the last N characters of a prompt (0 = all)
};

struct RouterFile {
  int format_version = kRouterFormatVersion;
  std::string family;                // linear | mlp | mf | irt | knn
  std::string task = "binary";       // binary | nway
  std::vector<std::string> models;   // output order of per-model heads
  std::vector<double> costs;         // USD per query (or per token) for N-way routing; may be empty
  int strong = -1, weak = -1;        // indices into models for the binary score
  std::string output_link = "sigmoid";  // sigmoid | identity (per-output link of the head)
  std::string binary_score = "single";  // single | diff | need | sigmoid_diff
  std::string activation = "relu";   // mlp hidden activation: relu | tanh
  int knn_k = 0;
  std::string description;           // what it was trained on (free text)
  RouterFeatureSpec features;
  std::map<std::string, RouterTensor> tensors;
};

/// Parses router file bytes. Throws InvalidArgument naming the problem for anything malformed,
/// another format version or an unknown field value.
RouterFile parse_router_file(std::string_view bytes, std::string_view source);

/// Serialises a RouterFile into the same layout (used by tests and tools; Python writes its own).
std::string serialize_router_file(const RouterFile& file);

}  // namespace tokenops::io
