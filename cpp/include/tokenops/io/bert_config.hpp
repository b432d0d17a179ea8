#pragma once
// Readers for the small JSON/text files of a Hugging Face BERT-family sentence-transformers
// model directory: config.json, tokenizer.json (WordPiece), vocab.txt + tokenizer_config.json,
// sentence_bert_config.json, modules.json and 1_Pooling/config.json. They return plain data;
// embed/ builds the model from it. Every malformed field raises InvalidArgument naming the file
// and the field.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

/// config.json of a BERT-family encoder (BertModel and look-alikes with absolute positions).
struct BertConfig {
  std::string model_type;
  std::size_t vocab_size = 0;
  std::size_t hidden_size = 0;
  std::size_t num_hidden_layers = 0;
  std::size_t num_attention_heads = 0;
  std::size_t intermediate_size = 0;
  std::size_t max_position_embeddings = 0;
  std::size_t type_vocab_size = 0;
  double layer_norm_eps = 1e-12;
  /// As written in the file (default "gelu"); not checked here: each model refuses the
  /// activations it does not implement, naming the file.
  std::string hidden_act = "gelu";
};
BertConfig parse_bert_config(std::string_view json_text, std::string_view source);

/// A WordPiece tokenizer description (from tokenizer.json or vocab.txt + tokenizer_config.json).
struct WordPieceSpec {
  std::vector<std::string> vocab;  // id -> token
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;
  // BertNormalizer options.
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset: follows `lowercase`
  bool lowercase = true;
  std::size_t model_max_length = 0;   // 0: not given
  /// Added tokens matched verbatim in the raw text before normalisation ([CLS], [MASK]...): the
  /// text between them is tokenized on its own and a match becomes its id.
  std::vector<std::string> added_tokens;
  /// Their ids from tokenizer.json's added_tokens (parallel to added_tokens; -1: not given, as
  /// for vocab.txt). A token outside model.vocab has an id of its own (usually >= the vocab's size).
  std::vector<long long> added_ids;
};

/// Parses a tokenizer.json whose model is WordPiece with a BertNormalizer (or none), a
/// BertPreTokenizer and a [CLS] $A [SEP] post-processor (BertProcessing or TemplateProcessing).
WordPieceSpec parse_wordpiece_tokenizer_json(std::string_view json_text, std::string_view source);

/// Parses vocab.txt (one token per line, id = line number) and, if non-empty, the options of a
/// tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars, special tokens).
WordPieceSpec parse_vocab_txt(std::string_view vocab_text, std::string_view vocab_source,
                              std::string_view tokenizer_config_json, std::string_view config_source);

/// What the sentence-transformers files around the encoder say.
enum class PoolingMode : std::uint8_t { kMean, kCls, kMax };
struct SentenceConfig {
  std::size_t max_seq_length = 0;  // 0: not given (sentence_bert_config.json)
  bool do_lower_case = false;      // sentence_bert_config.json: lower-case before tokenizing
  PoolingMode pooling = PoolingMode::kMean;
  bool normalize = false;          // a Normalize module is listed in modules.json
};
/// Any of the texts may be empty (file absent): defaults apply.
SentenceConfig parse_sentence_config(std::string_view sentence_bert_config_json,
                                     std::string_view modules_json,
                                     std::string_view pooling_config_json, std::string_view source);

}  // namespace tokenops::io
