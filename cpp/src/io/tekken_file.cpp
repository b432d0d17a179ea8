#include "tokenops/io/tekken_file.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::io {

using nlohmann::json;

namespace {
// mistral_common's Tekkenizer.DEPRECATED_SPECIAL_TOKENS: the special tokens of a file (version
// v7 or older) that lists none, at ids 0..19.
constexpr const char* kDefaultSpecials[] = {
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
    "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]"};

std::uint32_t count_field(const json& obj, const char* key, std::string_view source, const char* where) {
  const auto it = obj.find(key);
  if (it == obj.end())
    throw InvalidArgument(detail::concat(source, ": ", where, " has no '", key, "'; is this a tekken file?"));
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > (1 << 24))
    throw InvalidArgument(detail::concat(source, ": ", where, ".", key, " must be an integer in [0, 2^24], not ",
                                         it->dump().substr(0, 60)));
  return static_cast<std::uint32_t>(it->get<std::int64_t>());
}
}  // namespace

TekkenModel parse_tekken_json(std::string_view json_text, std::string_view source) {
  check_json_depth(json_text, source);
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": not valid JSON: ", e.what()));
  }
  if (!root.is_object() || !root.contains("config") || !root.contains("vocab"))
    throw InvalidArgument(detail::concat(source, ": no 'config' and 'vocab'; is this a tekken file?"));
  const json& cfg = root["config"];
  if (!cfg.is_object()) throw InvalidArgument(detail::concat(source, ": 'config' must be an object"));
  TekkenModel m;
  if (!cfg.contains("pattern") || !cfg["pattern"].is_string())
    throw InvalidArgument(detail::concat(source, ": config.pattern must be a string"));
  m.pattern = cfg["pattern"].get<std::string>();
  m.version = cfg.contains("version") && cfg["version"].is_string() ? cfg["version"].get<std::string>() : "";
  const std::uint32_t n_vocab = count_field(cfg, "num_vocab_tokens", source, "config");
  const std::uint32_t vocab_size = count_field(cfg, "default_vocab_size", source, "config");
  m.num_special = count_field(cfg, "default_num_special_tokens", source, "config");
  const json& vocab = root["vocab"];
  if (!vocab.is_array()) throw InvalidArgument(detail::concat(source, ": 'vocab' must be a list"));
  if (vocab.size() != n_vocab)
    throw InvalidArgument(detail::concat(source, ": config.num_vocab_tokens is ", n_vocab, " but 'vocab' has ",
                                         vocab.size(), " entries"));
  if (vocab_size <= m.num_special || vocab_size - m.num_special > n_vocab)
    throw InvalidArgument(detail::concat(source, ": config.default_vocab_size ", vocab_size, " must exceed the ",
                                         m.num_special, " special tokens and hold at most the ", n_vocab,
                                         " vocabulary tokens after them"));
  // Mistral's Tekkenizer keeps the first default_vocab_size - default_num_special_tokens ranks.
  const std::uint32_t keep = vocab_size - m.num_special;
  m.tokens.reserve(keep);
  for (std::uint32_t r = 0; r < keep; ++r) {
    const json& e = vocab[r];
    if (!e.is_object() || !e.contains("rank") || !e.contains("token_bytes") || !e["token_bytes"].is_string() ||
        !e["rank"].is_number_integer())
      throw InvalidArgument(detail::concat(source, ": vocab[", r,
                                           "] must be an object with an integer 'rank' and a base64 'token_bytes'"));
    if (e["rank"].get<std::int64_t>() != r)
      throw InvalidArgument(detail::concat(source, ": vocab[", r, "] has rank ", e["rank"].get<std::int64_t>(),
                                           "; ranks must be 0, 1, 2... in order"));
    RankEntry t;
    if (!base64_decode(e["token_bytes"].get_ref<const std::string&>(), t.bytes) || t.bytes.empty())
      throw InvalidArgument(detail::concat(source, ": vocab[", r, "].token_bytes is not valid non-empty base64"));
    t.rank = r + m.num_special;
    m.tokens.push_back(std::move(t));
  }
  // Special tokens: the file's list, else the default one; the rest of the ids are fillers.
  std::vector<std::string> texts;
  const auto sp = root.find("special_tokens");
  if (sp != root.end() && !sp->is_null()) {
    if (!sp->is_array()) throw InvalidArgument(detail::concat(source, ": 'special_tokens' must be a list"));
    for (std::size_t i = 0; i < sp->size(); ++i) {
      const json& e = (*sp)[i];
      if (!e.is_object() || !e.contains("token_str") || !e["token_str"].is_string() || !e.contains("rank") ||
          !e["rank"].is_number_integer() || e["rank"].get<std::int64_t>() != static_cast<std::int64_t>(i))
        throw InvalidArgument(detail::concat(source, ": special_tokens[", i,
                                             "] must be an object with 'rank' ", i, " and a 'token_str'"));
      texts.push_back(e["token_str"].get<std::string>());
    }
  } else {
    for (const char* t : kDefaultSpecials) texts.emplace_back(t);
  }
  if (texts.size() > m.num_special)
    throw InvalidArgument(detail::concat(source, ": ", texts.size(), " special tokens but config.default_num_special_tokens is ",
                                         m.num_special));
  for (std::uint32_t i = static_cast<std::uint32_t>(texts.size()); i < m.num_special; ++i)
    texts.push_back(detail::concat("<SPECIAL_", i, ">"));
  std::unordered_set<std::string> distinct;
  for (std::uint32_t i = 0; i < m.num_special; ++i) {
    if (texts[i].empty() || !text::is_valid_utf8(texts[i]) || !distinct.insert(texts[i]).second)
      throw InvalidArgument(detail::concat(source, ": special token ", i, " is empty, not UTF-8 or listed twice"));
    m.specials.push_back({texts[i], i});
  }
  return m;
}

}  // namespace tokenops::io
