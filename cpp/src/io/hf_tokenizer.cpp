#include "tokenops/io/hf_tokenizer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "json_preview.hpp"
#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::io {

using nlohmann::json;

const std::array<char32_t, 256>& byte_to_unicode_table() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    std::array<bool, 256> direct{};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) t[b] = direct[b] ? char32_t(b) : char32_t(256 + n++);
    return t;
  }();
  return table;
}

namespace {

std::unordered_map<char32_t, unsigned char> unicode_to_byte() {
  std::unordered_map<char32_t, unsigned char> m;
  const auto& t = byte_to_unicode_table();
  for (int b = 0; b < 256; ++b) m[t[b]] = static_cast<unsigned char>(b);
  return m;
}

// Maps a byte-level vocabulary string back to raw bytes; false if a character is not in the map.
bool byte_level_decode(const std::string& s, const std::unordered_map<char32_t, unsigned char>& m,
                       std::string& out) {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  while (i < s.size()) {
    int len;
    char32_t cp = text::decode_utf8(p + i, len);
    auto it = m.find(cp);
    if (it == m.end()) return false;
    out.push_back(static_cast<char>(it->second));
    i += len;
  }
  return true;
}

// "0xe9" / "0x20 0x74 0x68 0x65" for error messages (the first 16 bytes, then "...").
std::string hex_bytes(std::string_view b) {
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < 16; ++i) {
    const auto c = static_cast<unsigned char>(b[i]);
    out += i == 0 ? "0x" : " 0x";
    out += "0123456789abcdef"[c >> 4];
    out += "0123456789abcdef"[c & 15];
  }
  if (b.size() > 16) out += " ...";
  return out;
}

[[noreturn]] void unsupported(std::string_view source, const std::string& what) {
  throw InvalidArgument(detail::concat(source, ": unsupported tokenizer.json: ", what,
                                       " (tokenops loads byte-level BPE models: model.type "
                                       "\"BPE\" with a ByteLevel pre-tokenizer)"));
}

/// True when a match of `a` (a normalized: false token) and one of `b` (normalized: true) can
/// share a byte in some text without `b` lying inside `a`: `a` inside `b` (or equal), or a proper
/// suffix of one is a prefix of the other. `b` strictly inside `a` is safe: HF finds `a` first
/// and `b` only outside it; leftmost-longest over both picks `a` there too, since a match of
/// `b` that starts first and reaches into `a` would be one of the straddles refused here, and
/// one that starts with `a` is shorter.
bool tokens_overlap(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return false;
  if (b.find(a) != std::string_view::npos) return true;
  for (std::size_t k = 1; k < std::min(a.size(), b.size()); ++k)
    if (a.substr(a.size() - k) == b.substr(0, k) || b.substr(b.size() - k) == a.substr(0, k))
      return true;
  return false;
}

/// The first pair (normalized: false token, normalized: true token) that can overlap in some
/// text (tokens_overlap), or {nullptr, nullptr}. Every pair is compared, so a file with thousands
/// of added tokens of both kinds is refused up front instead of taking minutes (20,000 of each
/// took a minute).
std::pair<const HfAddedToken*, const HfAddedToken*> first_overlap(const std::vector<HfAddedToken>& tokens,
                                                                   std::string_view source) {
  // The pairwise check's work from the real lengths: per pair two substring searches
  // (|a| + |b|) and the suffix/prefix loop (about min(|a|, |b|)^2 / 4 byte compares). Measured:
  // 3,000 x 3,000 tokens of 30 bytes (2.6e9) take 0.45 s.
  std::vector<double> lt;  // lengths of the normalized: true tokens, sorted
  double nf = 0, sum_f = 0;
  for (const auto& t : tokens) {
    if (t.normalized) {
      lt.push_back(static_cast<double>(t.content.size()));
    } else {
      nf += 1;
      sum_f += static_cast<double>(t.content.size());
    }
  }
  std::sort(lt.begin(), lt.end());
  std::vector<double> sq(lt.size() + 1, 0.0);  // prefix sums of squared lengths
  double sum_t = 0;
  for (std::size_t i = 0; i < lt.size(); ++i) {
    sq[i + 1] = sq[i] + lt[i] * lt[i];
    sum_t += lt[i];
  }
  const double nt = static_cast<double>(lt.size());
  double work = nt * sum_f + nf * sum_t;
  for (const auto& a : tokens) {
    if (a.normalized) continue;
    const double la = static_cast<double>(a.content.size());
    const std::size_t k = static_cast<std::size_t>(std::lower_bound(lt.begin(), lt.end(), la) - lt.begin());
    work += (sq[k] + (nt - static_cast<double>(k)) * la * la) / 4;
  }
  if (work > 2e10)
    throw InvalidArgument(detail::concat(
        source, ": ", static_cast<std::uint64_t>(nf), " added tokens with normalized: false and ",
        static_cast<std::uint64_t>(nt), " with normalized: true are too many to check that no two of different "
        "kinds overlap (Hugging Face matches the first kind before the second, an order tokenops does not "
        "implement)"));
  for (const auto& a : tokens) {
    if (a.normalized) continue;
    for (const auto& b : tokens)
      if (b.normalized && tokens_overlap(a.content, b.content)) return {&a, &b};
  }
  return {nullptr, nullptr};
}

/// Whether the first (last) character of a UTF-8 string is Unicode White_Space, the spaces HF's
/// lstrip / rstrip take into an added token.
bool starts_with_white_space(std::string_view s) { return text::white_space_run_end(s, 0) > 0; }
bool ends_with_white_space(std::string_view s) { return text::white_space_run_start(s, 0, s.size()) < s.size(); }

/// lstrip / rstrip pairs whose result depends on the order HF matches in, which tokenops does
/// not follow (it takes the leftmost-longest match of all added tokens, then strips): an rstrip
/// token followed by one that starts with white space (HF has already found that one inside the
/// spaces it strips, and emits overlapping pieces), and an lstrip normalized: false token after
/// a normalized: true one that ends with white space (HF strips the space away before it looks
/// for the second kind). Returns a message, or "" when there is none.
std::string strip_conflict(const std::vector<HfAddedToken>& tokens, const std::vector<std::size_t>& index) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t rstrip = kNone, space_first = kNone, lstrip_nf = kNone, nt_space_last = kNone;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const HfAddedToken& t = tokens[i];
    if (t.rstrip && rstrip == kNone) rstrip = i;
    if (space_first == kNone && starts_with_white_space(t.content)) space_first = i;
    if (t.lstrip && !t.normalized && lstrip_nf == kNone) lstrip_nf = i;
    if (t.normalized && nt_space_last == kNone && ends_with_white_space(t.content)) nt_space_last = i;
  }
  if (rstrip != kNone && space_first != kNone)
    return detail::concat("added_tokens[", index[rstrip], "] ('", tokens[rstrip].content,
                          "') sets rstrip and added_tokens[", index[space_first], "] ('",
                          tokens[space_first].content, "') starts with white space");
  if (lstrip_nf != kNone && nt_space_last != kNone)
    return detail::concat("added_tokens[", index[lstrip_nf], "] ('", tokens[lstrip_nf].content,
                          "', normalized: false) sets lstrip and added_tokens[", index[nt_space_last], "] ('",
                          tokens[nt_space_last].content, "', normalized: true) ends with white space");
  return {};
}

bool is_null_or_empty(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return true;
  if (j[key].is_string()) return j[key].get<std::string>().empty();
  return false;
}

// Validates the pre-tokenizer: ByteLevel(use_regex) alone, or Sequence[Split(Regex), ByteLevel].
// `pt_or_null` is the pre_tokenizer field, or nullptr when the file has none.
void read_pre_tokenizer(const json* pt_or_null, std::string_view source, HfBpeModel& model) {
  if (pt_or_null == nullptr || pt_or_null->is_null()) unsupported(source, "no pre_tokenizer");
  const json& pt = *pt_or_null;
  const std::string type = pt.value("type", "");
  auto check_byte_level = [&](const json& bl, bool want_regex) {
    if (bl.value("add_prefix_space", false))
      unsupported(source, "ByteLevel.add_prefix_space = true");
    const bool use_regex = bl.value("use_regex", true);
    if (use_regex != want_regex)
      unsupported(source, want_regex ? "ByteLevel without its regex and no Split before it"
                                      : "a Split pre-tokenizer followed by ByteLevel(use_regex)");
  };
  if (type == "ByteLevel") {
    check_byte_level(pt, true);
    model.split_pattern.clear();
    return;
  }
  if (type == "Sequence") {
    const json& list = pt.at("pretokenizers");
    if (!list.is_array() || list.size() != 2)
      unsupported(source, "a pre_tokenizer Sequence that is not [Split, ByteLevel]");
    const json& split = list[0];
    if (split.value("type", "") != "Split") unsupported(source, "first pre-tokenizer is not Split");
    if (split.value("behavior", "") != "Isolated" || split.value("invert", false))
      unsupported(source, "Split behavior other than Isolated");
    const json& pat = split.at("pattern");
    if (!pat.contains("Regex")) unsupported(source, "Split with a String pattern");
    model.split_pattern = pat.at("Regex").get<std::string>();
    // "" stands for ByteLevel's own regex (GPT-2's) in split_pattern; an empty Split regex is
    // something else to HF (it matches the empty string everywhere: "a b" -> a, ' ', b)
    if (model.split_pattern.empty()) unsupported(source, "a Split pre-tokenizer with an empty Regex");
    if (list[1].value("type", "") != "ByteLevel")
      unsupported(source, "second pre-tokenizer is not ByteLevel");
    check_byte_level(list[1], false);
    return;
  }
  unsupported(source, "pre_tokenizer type '" + type + "'");
}

// A token id: a JSON integer in [0, 2^32). nlohmann's get<uint32_t> would wrap 2^32 + 5 to 5,
// truncate 3.7 to 3 and turn -1 into 4294967295.
std::uint32_t token_id(const json& v, std::string_view source, const std::string& where) {
  if (!v.is_number_unsigned())
    throw InvalidArgument(detail::concat(source, ": ", where, " = ", json_preview(v),
                                         " is not a non-negative integer id"));
  const auto id = v.get<std::uint64_t>();
  if (id > 0xFFFFFFFFull)
    throw InvalidArgument(detail::concat(source, ": ", where, " = ", id,
                                         " is too large for a token id (ids are 32-bit)"));
  return static_cast<std::uint32_t>(id);
}

}  // namespace

HfBpeModel parse_hf_tokenizer_json(std::string_view json_text, std::string_view source) {
  // nlohmann parses any depth, but copying or destroying a value nested 100k deep overflowed the
  // stack (a pre_tokenizer of 200,000 brackets crashed the process): refuse it before parsing.
  check_json_depth(json_text, source);
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {  // syntax errors, and numbers beyond double (1e400)
    throw InvalidArgument(detail::concat(source, ": not valid JSON: ", e.what()));
  }
  HfBpeModel model;
  const char* part = "model";  // the part being read, named when a field has the wrong JSON type
  try {
    if (!root.is_object() || !root.contains("model"))
      throw InvalidArgument(detail::concat(source, ": no 'model' field; is this a tokenizer.json?"));
    const json& m = root["model"];
    const std::string type = m.value("type", "BPE");
    if (type != "BPE") unsupported(source, "model.type '" + type + "'");
    // Settings that change nothing in HF load: dropout 0 or null (HF skips dropout then), an empty
    // normalizer Sequence, byte_fallback when every byte has its token (checked with the bytes).
    const bool byte_fallback = m.value("byte_fallback", false);
    // (find, not value("dropout", json()): value() returns a copy of the whole subtree)
    if (const auto d = m.find("dropout");
        d != m.end() && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0))
      unsupported(source, detail::concat("model.dropout = ", json_preview(*d),
                                         " (only 0 or null: dropout skips merges at random)"));
    if (!is_null_or_empty(m, "continuing_subword_prefix"))
      unsupported(source, "model.continuing_subword_prefix");
    if (!is_null_or_empty(m, "end_of_word_suffix")) unsupported(source, "model.end_of_word_suffix");
    if (const auto n = root.find("normalizer"); n != root.end() && !n->is_null()) {
      const auto list = n->find("normalizers");
      if (!(n->is_object() && n->value("type", "") == "Sequence" && list != n->end() &&
            list->is_array() && list->empty()))
        unsupported(source, "a normalizer");
    }
    model.ignore_merges = m.value("ignore_merges", false);
    part = "pre_tokenizer";
    const auto pt = root.find("pre_tokenizer");  // (a reference: value() would copy the subtree)
    read_pre_tokenizer(pt == root.end() ? nullptr : &*pt, source, model);

    part = "model.vocab";
    const json& vocab = m.at("vocab");
    if (!vocab.is_object()) throw InvalidArgument(detail::concat(source, ": model.vocab is not an object"));
    std::unordered_map<std::string, std::uint32_t> ids;
    ids.reserve(vocab.size() * 2);
    for (auto it = vocab.begin(); it != vocab.end(); ++it)
      ids.emplace(it.key(),
                  token_id(it.value(), source, detail::concat("model.vocab['", it.key(), "']")));
    // Added tokens become special tokens (SpecialToken::always for "special": false ones).
    if (root.contains("added_tokens") && !root["added_tokens"].is_null() &&
        !root["added_tokens"].is_array())
      throw InvalidArgument(detail::concat(source, ": added_tokens must be a list, got ",
                                           json_preview(root["added_tokens"])));
    part = "added_tokens";
    // content -> index into model.added_tokens, for the ones whose content is a model.vocab key
    std::unordered_map<std::string_view, std::size_t> added_in_vocab;
    // index into model.added_tokens -> its index in the file's added_tokens list (for messages)
    std::vector<std::size_t> file_index;
    if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
      std::size_t k = 0;
      // HF numbers the added tokens itself, in list order (AddedVocabulary::add_tokens); the
      // file's ids are only compared with its numbering to draw a warning. A model.vocab key
      // keeps its vocab id, a repeated content the first one's; the others are numbered
      // len(model.vocab), len(model.vocab) + 1, ... (measured on HF 0.23.3: a vocab key's id,
      // even a larger one, does not move the count).
      std::unordered_map<std::string, std::size_t> seen;  // content -> index in model.added_tokens
      // id -> model.vocab key, for the ids HF's numbering can reach: only a vocab with gaps in
      // its ids has one at or above its size (real files have none, and skip the map)
      std::unordered_map<std::uint32_t, std::string_view> vocab_key;
      for (const auto& [key, id] : ids)
        if (id >= ids.size()) vocab_key.emplace(id, key);
      std::uint64_t next = ids.size();
      for (const json& a : root["added_tokens"]) {
        if (!a.is_object() || !a.contains("id") || !a.contains("content") || !a["content"].is_string())
          throw InvalidArgument(detail::concat(source, ": added_tokens[", k,
                                               "] needs a string 'content' and an 'id'"));
        const std::uint32_t file_id = token_id(a["id"], source, detail::concat("added_tokens[", k, "].id"));
        HfAddedToken t{a["content"].get<std::string>(), file_id, a.value("special", false), false};
        t.normalized = a.value("normalized", !t.special);  // HF's AddedToken default
        t.lstrip = a.value("lstrip", false);
        t.rstrip = a.value("rstrip", false);
        const bool single_word = a.value("single_word", false);
        if (t.content.empty()) {  // HF skips an empty added token (it takes no id)
          ++k;
          continue;
        }
        // single_word is not implemented (HF skips a match inside a word without looking for
        // a shorter one there); a match of a special token may be skipped, so it is refused on
        // both kinds. lstrip / rstrip are applied as HF does (Encoding::run_segments).
        if (single_word)
          throw InvalidArgument(detail::concat(source, ": added_tokens[", k, "] ('", t.content,
                                               t.special ? "', special" : "', not special",
                                               ") sets single_word, which tokenops does not implement"));
        if (const auto d = seen.find(t.content); d != seen.end()) {
          // HF ignores an exact repeat; a repeat with other flags replaces the first one's flags
          // under its id, and a special one anywhere makes the content special
          const HfAddedToken& first = model.added_tokens[d->second];
          if (first.special == t.special && first.normalized == t.normalized &&
              first.lstrip == t.lstrip && first.rstrip == t.rstrip) {
            ++k;
            continue;
          }
          throw InvalidArgument(detail::concat(
              source, ": added_tokens[", k, "] ('", t.content, "') repeats added_tokens[",
              file_index[d->second], "] with other special / normalized / lstrip / rstrip flags "
              "(Hugging Face keeps one id and mixes the two); remove one of them"));
        }
        // HF numbers an added token that is already a model.vocab key by the vocab (its
        // AddedVocabulary looks the content up in the model first), so the vocab id is the one
        // it emits; any other gets the next number, whatever the file says.
        if (const auto v = ids.find(t.content); v != ids.end()) {
          t.id = v->second;
        } else {
          if (next > 0xFFFFFFFFull)
            throw InvalidArgument(detail::concat(source, ": added_tokens[", k, "] ('", t.content,
                                                 "') would be numbered ", next,
                                                 ", too large for a token id (ids are 32-bit)"));
          t.id = static_cast<std::uint32_t>(next++);
          // model.vocab with gaps in its ids: HF's number can be a vocab entry's, and HF then
          // emits it for both (an added token that is a vocab key loses its match to this one)
          if (const auto c = vocab_key.find(t.id); c != vocab_key.end())
            throw InvalidArgument(detail::concat(
                source, ": added_tokens[", k, "] ('", t.content, "') is numbered ", t.id,
                " by Hugging Face (len(model.vocab) + the added tokens before it that are not "
                "vocab keys; the file says ", file_id, "), which model.vocab gives to '", c->second,
                "': one id would mean two tokens; number model.vocab 0..n-1 without gaps"));
        }
        seen.emplace(t.content, model.added_tokens.size());
        file_index.push_back(k);
        model.added_tokens.push_back(t);
        ++k;
      }
      for (std::size_t i = 0; i < model.added_tokens.size(); ++i)
        if (ids.count(model.added_tokens[i].content) != 0)
          added_in_vocab.emplace(model.added_tokens[i].content, i);
      // HF matches the normalized: false tokens first and the normalized: true ones only in
      // the text left between them; tokenops takes the leftmost-longest match over all added
      // tokens, which is the same unless a token of one kind can overlap one of the other.
      if (const auto [a, b] = first_overlap(model.added_tokens, source); a != nullptr)
        throw InvalidArgument(detail::concat(
            source, ": added tokens '", a->content, "' (normalized: false) and '", b->content,
            "' (normalized: true) overlap; Hugging Face matches the first kind before the "
            "second, an order tokenops does not implement"));
      if (const std::string c = strip_conflict(model.added_tokens, file_index); !c.empty())
        throw InvalidArgument(detail::concat(source, ": ", c, ": Hugging Face's result depends on the "
                                             "order it matches in, which tokenops does not implement"));
    }
    // The mergeable tokens: the vocab, less the entries that are added tokens (GPT-2's
    // <|endoftext|>; a trainer's special tokens, which need not be in the byte-level alphabet).
    // A one-byte added token that is its own byte token (added "x", vocab "x") stays mergeable:
    // byte-level BPE needs all 256 bytes, and the special shares the id (Encoding allows that
    // when the bytes are the same).
    const auto inverse = unicode_to_byte();
    std::string bytes;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const std::uint32_t id = ids.at(it.key());
      const bool decoded = byte_level_decode(it.key(), inverse, bytes);
      if (const auto a = added_in_vocab.find(it.key()); a != added_in_vocab.end()) {
        if (!decoded) continue;  // not byte-level: only ever the added token
        if (bytes != it.key())
          throw InvalidArgument(detail::concat(
              source, ": added_tokens[", file_index[a->second], "] ('", it.key(), "') is also model.vocab['",
              it.key(), "'] (id ", id, "), which byte-level BPE reads as the bytes ",
              hex_bytes(bytes), ", not the token's text; Hugging Face emits id ", id,
              " for both, and tokenops gives "
              "an id one meaning: remove the added token, or give it a content of its own"));
        if (bytes.size() > 1) continue;
      } else {
        if (!decoded)
          throw InvalidArgument(detail::concat(source, ": model.vocab key '", it.key(),
                                               "' is not in the byte-level alphabet"));
      }
      model.token_bytes.push_back(bytes);
      model.token_ids.push_back(id);
    }
    // Byte-level BPE starts from the 256 byte tokens; HF leaves a byte without one out of the
    // ids (or emits unk_token), which tokenops does not do. With all of them, byte_fallback
    // changes nothing (HF falls back to <0x..> tokens only for a character that has no token,
    // and ByteLevel turns text into the 256 byte characters); without one it is refused as such.
    std::array<bool, 256> has_byte{};
    for (const auto& b : model.token_bytes)
      if (b.size() == 1) has_byte[static_cast<unsigned char>(b[0])] = true;
    for (int b = 0; b < 256; ++b)
      if (!has_byte[b]) {
        std::string ch;
        text::append_utf8(ch, byte_to_unicode_table()[b]);
        if (byte_fallback)
          unsupported(source, detail::concat("model.byte_fallback = true with no model.vocab token for "
                                             "the byte ", hex_bytes(std::string(1, static_cast<char>(b))),
                                             " ('", ch, "')"));
        throw InvalidArgument(detail::concat(
            source, ": model.vocab has no token for the byte ", hex_bytes(std::string(1, static_cast<char>(b))),
            " ('", ch, "'); Hugging Face leaves such a byte out of the ids (or emits unk_token), tokenops "
            "needs all 256 byte tokens"));
      }
    part = "model.merges";
    const json& merges = m.at("merges");
    if (!merges.is_array()) throw InvalidArgument(detail::concat(source, ": model.merges is not a list"));
    model.merges.reserve(merges.size());
    for (std::size_t k = 0; k < merges.size(); ++k) {
      std::string a, b;
      const json& e = merges[k];
      if (e.is_string()) {
        const std::string s = e.get<std::string>();
        const std::size_t sp = s.find(' ', 1);
        if (sp == std::string::npos)
          throw InvalidArgument(detail::concat(source, ": model.merges[", k, "] = '", s,
                                               "' is not 'left right'"));
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (e.is_array() && e.size() == 2) {
        a = e[0].get<std::string>();
        b = e[1].get<std::string>();
      } else {
        throw InvalidArgument(detail::concat(source, ": model.merges[", k, "] has an unknown form"));
      }
      auto ia = ids.find(a), ib = ids.find(b), ir = ids.find(a + b);
      if (ia == ids.end() || ib == ids.end() || ir == ids.end())
        throw InvalidArgument(detail::concat(source, ": model.merges[", k, "] ('", a, "', '", b,
                                             "') uses or makes a token missing from model.vocab"));
      model.merges.push_back({ia->second, ib->second, ir->second});
    }
    // A pair listed twice takes the rank of its LAST occurrence in HF (BpeBuilder::build collects
    // (pair -> (rank, new id)) into a hash map, later entries overwriting earlier ones). Dropping
    // the earlier occurrences keeps every other pair's relative order, which is all BPE reads.
    std::unordered_map<std::uint64_t, std::size_t> last;
    last.reserve(model.merges.size() * 2);
    for (std::size_t k = 0; k < model.merges.size(); ++k)
      last[(std::uint64_t(model.merges[k][0]) << 32) | model.merges[k][1]] = k;
    if (last.size() != model.merges.size()) {
      std::size_t out = 0;
      for (std::size_t k = 0; k < model.merges.size(); ++k)
        if (last[(std::uint64_t(model.merges[k][0]) << 32) | model.merges[k][1]] == k)
          model.merges[out++] = model.merges[k];
      model.merges.resize(out);
    }
  } catch (const json::exception& e) {
    // nlohmann's text names no field ("cannot use value() with array"): name the part read
    std::string what = e.what();
    if (const auto close = what.find("] "); what.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
      what = what.substr(close + 2);
    throw InvalidArgument(detail::concat(source, ": malformed tokenizer.json: a field of ", part,
                                         " has the wrong JSON type or is missing (", what, ")"));
  }
  return model;
}

}  // namespace tokenops::io
