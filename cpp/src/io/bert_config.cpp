#include "tokenops/io/bert_config.hpp"

#include <nlohmann/json.hpp>

#include "json_preview.hpp"
#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::io {

using nlohmann::json;

namespace {

json parse_json(std::string_view text, std::string_view source) {
  check_json_depth(text, source);  // a value nested 100k deep would overflow the stack when copied
  try {
    json j = json::parse(text);
    TOKENOPS_CHECK(j.is_object() || j.is_array(), InvalidArgument, source, ": expected a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": not valid JSON (", e.what(), ")"));
  }
}

// Runs a parser body; a JSON value of an unexpected type or a missing element (json::exception
// from .at() / .value() / get<>) becomes an InvalidArgument naming the file, not a RuntimeError.
template <class F>
auto json_guard(std::string_view source, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": unexpected JSON content (", e.what(), ")"));
  }
}

std::size_t get_size(const json& j, const char* key, std::string_view source, bool required,
                     std::size_t fallback = 0) {
  if (!j.contains(key) || j[key].is_null()) {
    TOKENOPS_CHECK(!required, InvalidArgument, source, ": missing field \"", key, "\"");
    return fallback;
  }
  const json& v = j[key];
  TOKENOPS_CHECK(v.is_number_integer() && v.get<long long>() >= 0, InvalidArgument, source,
                 ": field \"", key, "\" must be a non-negative integer, got ", json_preview(v));
  return static_cast<std::size_t>(v.get<long long>());
}

bool get_bool(const json& j, const char* key, std::string_view source, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  TOKENOPS_CHECK(j[key].is_boolean(), InvalidArgument, source, ": field \"", key,
                 "\" must be true or false, got ", json_preview(j[key]));
  return j[key].get<bool>();
}

std::string get_string(const json& j, const char* key, std::string_view source, std::string fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (v.is_object() && v.contains("content") && v["content"].is_string())  // AddedToken form
    return v["content"].get<std::string>();
  TOKENOPS_CHECK(v.is_string(), InvalidArgument, source, ": field \"", key, "\" must be a string, got ",
                 json_preview(v));
  return v.get<std::string>();
}

[[noreturn]] void unsupported(std::string_view source, const std::string& what) {
  throw InvalidArgument(detail::concat(source, ": unsupported tokenizer: ", what,
                                       " (tokenops embeds with BERT WordPiece tokenizers: model.type "
                                       "\"WordPiece\", a BertNormalizer and a BertPreTokenizer)"));
}

}  // namespace

BertConfig parse_bert_config(std::string_view json_text, std::string_view source) {
  return json_guard(source, [&]() -> BertConfig {
  json j = parse_json(json_text, source);
  TOKENOPS_CHECK(j.is_object(), InvalidArgument, source, ": expected a JSON object");
  BertConfig c;
  c.model_type = get_string(j, "model_type", source, "bert");
  c.vocab_size = get_size(j, "vocab_size", source, true);
  c.hidden_size = get_size(j, "hidden_size", source, true);
  c.num_hidden_layers = get_size(j, "num_hidden_layers", source, true);
  c.num_attention_heads = get_size(j, "num_attention_heads", source, true);
  c.intermediate_size = get_size(j, "intermediate_size", source, true);
  c.max_position_embeddings = get_size(j, "max_position_embeddings", source, true);
  c.type_vocab_size = get_size(j, "type_vocab_size", source, false, 2);
  if (j.contains("layer_norm_eps")) {
    TOKENOPS_CHECK(j["layer_norm_eps"].is_number() && j["layer_norm_eps"].get<double>() > 0, InvalidArgument,
                   source, ": field \"layer_norm_eps\" must be a positive number");
    c.layer_norm_eps = j["layer_norm_eps"].get<double>();
  }
  // Carried as written: each model checks the activations it implements (the Embedder runs
  // "gelu" only, the token classifier also the tanh forms "gelu_new" / "gelu_pytorch_tanh").
  c.hidden_act = get_string(j, "hidden_act", source, "gelu");
  TOKENOPS_CHECK(c.model_type == "bert", InvalidArgument, source, ": model_type \"", c.model_type,
                 "\" is not supported (tokenops embeds with BERT encoders: model_type \"bert\")");
  const std::string pos = get_string(j, "position_embedding_type", source, "absolute");
  TOKENOPS_CHECK(pos == "absolute", InvalidArgument, source, ": position_embedding_type \"", pos,
                 "\" is not supported (only \"absolute\")");
  TOKENOPS_CHECK(c.num_attention_heads > 0 && c.hidden_size % c.num_attention_heads == 0,
                 InvalidArgument, source, ": hidden_size ", c.hidden_size,
                 " is not a multiple of num_attention_heads ", c.num_attention_heads);
  TOKENOPS_CHECK(c.hidden_size > 0 && c.intermediate_size > 0 && c.num_hidden_layers > 0 &&
                     c.vocab_size > 0 && c.max_position_embeddings >= 2 && c.type_vocab_size > 0,
                 InvalidArgument, source, ": sizes must be positive (and max_position_embeddings >= 2)");
  return c;
  });
}

WordPieceSpec parse_wordpiece_tokenizer_json(std::string_view json_text, std::string_view source) {
  return json_guard(source, [&]() -> WordPieceSpec {
  json j = parse_json(json_text, source);
  TOKENOPS_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), InvalidArgument, source,
                 ": no \"model\" object");
  const json& m = j["model"];
  if (m.value("type", "") != "WordPiece") unsupported(source, "model.type is not \"WordPiece\"");
  WordPieceSpec s;
  s.unk_token = get_string(m, "unk_token", source, "[UNK]");
  s.continuing_subword_prefix = get_string(m, "continuing_subword_prefix", source, "##");
  s.max_input_chars_per_word = get_size(m, "max_input_chars_per_word", source, false, 100);
  TOKENOPS_CHECK(m.contains("vocab") && m["vocab"].is_object(), InvalidArgument, source,
                 ": model.vocab must be an object {token: id}");
  const json& v = m["vocab"];
  s.vocab.assign(v.size(), std::string());
  std::vector<char> seen(v.size(), 0);
  for (auto it = v.begin(); it != v.end(); ++it) {
    TOKENOPS_CHECK(it.value().is_number_integer(), InvalidArgument, source, ": model.vocab[\"", it.key(),
                   "\"] must be an integer id");
    long long id = it.value().get<long long>();
    TOKENOPS_CHECK(id >= 0 && static_cast<std::size_t>(id) < v.size() && !seen[id], InvalidArgument, source,
                   ": model.vocab ids must be 0..", v.size() - 1, " without duplicates (token \"",
                   it.key(), "\" has id ", id, ")");
    seen[id] = 1;
    s.vocab[id] = it.key();
  }
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    TOKENOPS_CHECK(j["added_tokens"].is_array(), InvalidArgument, source, ": added_tokens must be an array");
    for (const auto& a : j["added_tokens"]) {
      TOKENOPS_CHECK(a.is_object(), InvalidArgument, source, ": added_tokens entries must be objects ",
                     "{\"id\": ..., \"content\": ...}, got ", json_preview(a));
      const std::string content = get_string(a, "content", source, "");
      if (content.empty()) continue;
      if (get_bool(a, "normalized", source, false) || get_bool(a, "single_word", source, false) ||
          get_bool(a, "lstrip", source, false) || get_bool(a, "rstrip", source, false))
        unsupported(source, "added token \"" + content + "\" with normalized/single_word/lstrip/rstrip");
      long long id = -1;
      if (a.contains("id")) {
        TOKENOPS_CHECK(a["id"].is_number_integer() && a["id"].get<long long>() >= 0 &&
                           a["id"].get<long long>() < (1ll << 32),
                       InvalidArgument, source, ": added token \"", content, "\" has id ", json_preview(a["id"]),
                       " (expected an integer in [0, 2^32))");
        id = a["id"].get<long long>();
      }
      s.added_tokens.push_back(content);
      s.added_ids.push_back(id);
    }
  }
  // Normalizer: BertNormalizer (the usual) or none.
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const json& n = j["normalizer"];
    if (n.value("type", "") != "BertNormalizer") unsupported(source, "normalizer.type is not \"BertNormalizer\"");
    s.clean_text = get_bool(n, "clean_text", source, true);
    s.handle_chinese_chars = get_bool(n, "handle_chinese_chars", source, true);
    s.lowercase = get_bool(n, "lowercase", source, true);
    if (n.contains("strip_accents") && !n["strip_accents"].is_null())
      s.strip_accents = get_bool(n, "strip_accents", source, false);
  } else {
    s.clean_text = s.handle_chinese_chars = s.lowercase = false;
    s.strip_accents = false;
  }
  if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null() ||
      j["pre_tokenizer"].value("type", "") != "BertPreTokenizer")
    unsupported(source, "pre_tokenizer.type is not \"BertPreTokenizer\"");
  // Post-processor: [CLS] $A [SEP].
  if (j.contains("post_processor") && !j["post_processor"].is_null()) {
    const json& p = j["post_processor"];
    const std::string type = p.value("type", "");
    if (type == "BertProcessing") {
      TOKENOPS_CHECK(p.contains("cls") && p["cls"].is_array() && p.contains("sep") && p["sep"].is_array(),
                     InvalidArgument, source, ": post_processor needs cls and sep");
      s.cls_token = p.at("cls").at(0).get<std::string>();
      s.sep_token = p.at("sep").at(0).get<std::string>();
    } else if (type == "TemplateProcessing") {
      const json& single = p.at("single");
      TOKENOPS_CHECK(single.is_array() && single.size() == 3 && single[0].contains("SpecialToken") &&
                         single[1].contains("Sequence") && single[2].contains("SpecialToken"),
                     InvalidArgument, source,
                     ": post_processor.single must be [SpecialToken, Sequence A, SpecialToken]");
      s.cls_token = single.at(0).at("SpecialToken").at("id").get<std::string>();
      s.sep_token = single.at(2).at("SpecialToken").at("id").get<std::string>();
    } else {
      unsupported(source, "post_processor.type \"" + type + "\"");
    }
  } else {
    // Hugging Face then adds no [CLS]/[SEP]; the BERT pipeline here always does.
    unsupported(source, "no post_processor (the text would get no [CLS] / [SEP])");
  }
  return s;
  });
}

WordPieceSpec parse_vocab_txt(std::string_view vocab_text, std::string_view vocab_source,
                              std::string_view tokenizer_config_json, std::string_view config_source) {
  return json_guard(config_source, [&]() -> WordPieceSpec {
  WordPieceSpec s;
  {
    const std::size_t bad = text::find_invalid_utf8(vocab_text);
    TOKENOPS_CHECK(bad == std::string_view::npos, InvalidArgument, vocab_source,
                   ": not valid UTF-8 (invalid byte at offset ", bad, "); a vocab.txt is UTF-8 text");
  }
  std::size_t pos = 0;
  while (pos < vocab_text.size()) {
    std::size_t nl = vocab_text.find('\n', pos);
    if (nl == std::string_view::npos) nl = vocab_text.size();
    std::string_view line = vocab_text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // transformers' load_vocab strips trailing "\n" only (rstrip("\n")); keep the rest verbatim.
    s.vocab.emplace_back(line);
    pos = nl + 1;
  }
  TOKENOPS_CHECK(!s.vocab.empty(), InvalidArgument, vocab_source, ": empty vocabulary");
  if (!tokenizer_config_json.empty()) {
    json c = parse_json(tokenizer_config_json, config_source);
    s.lowercase = get_bool(c, "do_lower_case", config_source, true);
    s.handle_chinese_chars = get_bool(c, "tokenize_chinese_chars", config_source, true);
    if (c.contains("strip_accents") && !c["strip_accents"].is_null())
      s.strip_accents = get_bool(c, "strip_accents", config_source, false);
    s.unk_token = get_string(c, "unk_token", config_source, s.unk_token);
    s.cls_token = get_string(c, "cls_token", config_source, s.cls_token);
    s.sep_token = get_string(c, "sep_token", config_source, s.sep_token);
    for (const char* key : {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
      std::string t = get_string(c, key, config_source, "");
      if (!t.empty()) s.added_tokens.push_back(t);
    }
    if (c.contains("model_max_length") && c["model_max_length"].is_number_integer() &&
        c["model_max_length"].get<long long>() > 0 && c["model_max_length"].get<long long>() < (1ll << 40))
      s.model_max_length = static_cast<std::size_t>(c["model_max_length"].get<long long>());
  } else {
    s.added_tokens = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
  }
  return s;
  });
}

SentenceConfig parse_sentence_config(std::string_view sentence_bert_config_json,
                                     std::string_view modules_json, std::string_view pooling_config_json,
                                     std::string_view source) {
  return json_guard(source, [&]() -> SentenceConfig {
  SentenceConfig s;
  const std::string src(source);
  if (!sentence_bert_config_json.empty()) {
    const std::string f = src + "/sentence_bert_config.json";
    json j = parse_json(sentence_bert_config_json, f);
    s.max_seq_length = get_size(j, "max_seq_length", f, false, 0);
    s.do_lower_case = get_bool(j, "do_lower_case", f, false);
  }
  if (!modules_json.empty()) {
    const std::string f = src + "/modules.json";
    json j = parse_json(modules_json, f);
    TOKENOPS_CHECK(j.is_array(), InvalidArgument, f, ": expected a JSON array of modules");
    for (const auto& mod : j) {
      const std::string type = get_string(mod, "type", f, "");
      auto ends_with = [&](std::string_view suffix) {
        return type.size() >= suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (ends_with(".Pooling")) {
        // sentence-transformers reads the pooling config from the module's own folder
        const std::string path = get_string(mod, "path", f, "1_Pooling");
        TOKENOPS_CHECK(path == "1_Pooling" || path == "1_Pooling/", InvalidArgument, f,
                       ": the Pooling module is at \"", path, "\"; tokenops reads 1_Pooling/config.json "
                       "(move it there, or the pooling it applies would differ)");
        continue;
      }
      if (ends_with(".Transformer")) continue;
      if (ends_with(".Normalize")) {
        s.normalize = true;
        continue;
      }
      throw InvalidArgument(detail::concat(f, ": module type \"", type,
                                           "\" is not supported (tokenops runs Transformer -> Pooling "
                                           "[-> Normalize] pipelines)"));
    }
  }
  if (!pooling_config_json.empty()) {
    const std::string f = src + "/1_Pooling/config.json";
    json j = parse_json(pooling_config_json, f);
    bool mean = false, cls = false, mx = false, sqrt_len = false;
    if (j.contains("pooling_mode")) {  // sentence-transformers >= 6: "mean" | "cls" | "max" | [...]
      // References, not copies: a copy recurses through the whole value.
      const json& given = j["pooling_mode"];
      const json& m = given.is_array() && given.size() == 1 ? given[0] : given;
      TOKENOPS_CHECK(m.is_string(), InvalidArgument, f, ": pooling_mode ", json_preview(m),
                     " is not supported (one of \"mean\", \"cls\", \"max\")");
      const std::string mode = m.get<std::string>();
      mean = mode == "mean";
      cls = mode == "cls";
      mx = mode == "max";
      TOKENOPS_CHECK(mean || cls || mx, InvalidArgument, f, ": pooling_mode \"", mode,
                     "\" is not supported (one of \"mean\", \"cls\", \"max\")");
    } else {
      mean = get_bool(j, "pooling_mode_mean_tokens", f, false);
      cls = get_bool(j, "pooling_mode_cls_token", f, false);
      mx = get_bool(j, "pooling_mode_max_tokens", f, false);
      sqrt_len = get_bool(j, "pooling_mode_mean_sqrt_len_tokens", f, false);
      // modes tokenops does not run: refused even beside a supported one (sentence-transformers
      // would concatenate the poolings: a wider vector)
      for (const char* k : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
        TOKENOPS_CHECK(!get_bool(j, k, f, false), InvalidArgument, f, ": ", k,
                       " = true is not supported (mean, cls or max pooling only)");
    }
    TOKENOPS_CHECK(int(mean) + int(cls) + int(mx) == 1 && !sqrt_len, InvalidArgument, f,
                   ": exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, "
                   "pooling_mode_max_tokens must be true (combined and sqrt-length pooling are not supported)");
    TOKENOPS_CHECK(get_bool(j, "include_prompt", f, true), InvalidArgument, f,
                   ": include_prompt = false is not supported");
    s.pooling = mean ? PoolingMode::kMean : cls ? PoolingMode::kCls : PoolingMode::kMax;
  }
  return s;
  });
}

}  // namespace tokenops::io
