#include "tokenops/embed/wordpiece.hpp"

#include <algorithm>
#include <array>

#include "tokenops/text/error.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::embed {

namespace {

struct BertMapping {
  char32_t cp;
  std::uint16_t offset;
  std::uint8_t len;
};
struct BertCcc {
  char32_t cp;
  std::uint8_t ccc;
};

#include "bert_unicode_data.inc"

constexpr char32_t kHangulS = 0xAC00, kHangulCount = 11172;

inline std::uint16_t lookup_bits(char32_t cp) noexcept {
  if (cp > 0x10FFFF) return 0;
  return kBertStage2[(std::uint32_t(kBertStage1[cp >> kBertBlockShift]) << kBertBlockShift) |
                     (cp & ((1u << kBertBlockShift) - 1))];
}

const std::array<std::uint16_t, 128>& ascii_bits() {
  static const std::array<std::uint16_t, 128> t = [] {
    std::array<std::uint16_t, 128> a{};
    for (char32_t c = 0; c < 128; ++c) a[c] = lookup_bits(c);
    return a;
  }();
  return t;
}

inline std::uint16_t bits_of(char32_t cp) noexcept { return cp < 128 ? ascii_bits()[cp] : lookup_bits(cp); }

template <std::size_t N>
const BertMapping* find_mapping(const BertMapping (&table)[N], char32_t cp) noexcept {
  const BertMapping* it = std::lower_bound(std::begin(table), std::end(table), cp,
                                           [](const BertMapping& m, char32_t c) { return m.cp < c; });
  return (it != std::end(table) && it->cp == cp) ? it : nullptr;
}

inline std::uint8_t ccc_of(char32_t cp) noexcept {
  const BertCcc* it = std::lower_bound(std::begin(kCcc), std::end(kCcc), cp,
                                       [](const BertCcc& m, char32_t c) { return m.cp < c; });
  return (it != std::end(kCcc) && it->cp == cp) ? it->ccc : 0;
}

// Streams code points through BertNormalizer: clean_text -> handle_chinese_chars -> NFD + accent
// filter -> lowercase, calling sink(cp) for each output code point. NFD's canonical reordering
// buffers runs of non-starters.
template <class Sink>
class NormalizerStream {
 public:
  NormalizerStream(const BertNormalizerOptions& o, Sink& sink) : opt_(o), sink_(sink) {}

  void push(char32_t c) {
    std::uint16_t b = bits_of(c);
    if (opt_.clean_text) {
      if (b & kBertControl) return;
      if (b & kBertNormSpace) {
        c = U' ';
        b = bits_of(c);
      }
    }
    if (opt_.handle_chinese_chars && (b & kBertChinese)) {
      decompose(U' ', bits_of(U' '));
      decompose(c, b);
      decompose(U' ', bits_of(U' '));
      return;
    }
    decompose(c, b);
  }

  void finish() { flush(); }

 private:
  void decompose(char32_t c, std::uint16_t b) {
    if (!opt_.strip_accents) {
      finalize(c, b);
      return;
    }
    if (!(b & kBertDecomposes)) {
      reorder(c, b);
      return;
    }
    if (c >= kHangulS && c < kHangulS + kHangulCount) {
      const char32_t s = c - kHangulS;
      const char32_t lead = 0x1100 + s / 588, vowel = 0x1161 + (s % 588) / 28, trail = 0x11A7 + s % 28;
      reorder(lead, bits_of(lead));
      reorder(vowel, bits_of(vowel));
      if (trail != 0x11A7) reorder(trail, bits_of(trail));
      return;
    }
    const BertMapping* m = find_mapping(kDecomp, c);
    if (!m) {  // cannot happen with consistent tables
      reorder(c, b);
      return;
    }
    for (std::uint8_t i = 0; i < m->len; ++i) {
      char32_t d = kDecompPool[m->offset + i];
      reorder(d, bits_of(d));
    }
  }

  void reorder(char32_t c, std::uint16_t b) {
    if (b & kBertNonStarter) {
      pending_.push_back({c, ccc_of(c)});
      return;
    }
    flush();
    finalize(c, b);
  }

  void flush() {
    if (pending_.empty()) return;
    if (pending_.size() > 1)
      std::stable_sort(pending_.begin(), pending_.end(),
                       [](const Pending& a, const Pending& b) { return a.ccc < b.ccc; });
    for (const auto& p : pending_) finalize(p.cp, bits_of(p.cp));
    pending_.clear();
  }

  void finalize(char32_t c, std::uint16_t b) {
    if (opt_.strip_accents && (b & kBertMark)) return;
    if (opt_.lowercase && (b & kBertHasLower)) {
      const BertMapping* m = find_mapping(kLower, c);
      if (m) {
        for (std::uint8_t i = 0; i < m->len; ++i) sink_(kLowerPool[m->offset + i]);
        return;
      }
    }
    sink_(c);
  }

  struct Pending {
    char32_t cp;
    std::uint8_t ccc;
  };
  const BertNormalizerOptions& opt_;
  Sink& sink_;
  std::vector<Pending> pending_;
};

}  // namespace

std::uint16_t bert_char_bits(char32_t cp) noexcept { return bits_of(cp); }

const char* bert_tables_source() noexcept { return TOKENOPS_BERT_TABLES_SOURCE; }

std::u32string bert_normalize(std::string_view utf8, const BertNormalizerOptions& opt) {
  text::require_valid_utf8(utf8);
  std::u32string out;
  auto sink = [&](char32_t c) { out.push_back(c); };
  NormalizerStream<decltype(sink)> ns(opt, sink);
  const auto* p = reinterpret_cast<const unsigned char*>(utf8.data());
  std::size_t i = 0;
  while (i < utf8.size()) {
    int len;
    char32_t c = text::decode_utf8(p + i, len);
    ns.push(c);
    i += static_cast<std::size_t>(len);
  }
  ns.finish();
  return out;
}

WordPieceTokenizer::WordPieceTokenizer(const io::WordPieceSpec& spec) {
  TOKENOPS_CHECK(!spec.vocab.empty(), InvalidArgument, "WordPiece vocabulary is empty");
  TOKENOPS_CHECK(spec.vocab.size() < (1ull << 32), InvalidArgument, "WordPiece vocabulary too large");
  vocab_ = spec.vocab;
  max_chars_per_word_ = spec.max_input_chars_per_word;
  norm_.clean_text = spec.clean_text;
  norm_.handle_chinese_chars = spec.handle_chinese_chars;
  norm_.lowercase = spec.lowercase;
  norm_.strip_accents = spec.strip_accents.value_or(spec.lowercase);
  const std::string& prefix = spec.continuing_subword_prefix;
  for (std::size_t id = 0; id < vocab_.size(); ++id) {
    const std::string& tok = vocab_[id];
    const auto uid = static_cast<std::uint32_t>(id);
    // Like the reference's HashMap built from the vocab, a later duplicate wins.
    first_[tok] = uid;
    max_first_bytes_ = std::max(max_first_bytes_, tok.size());
    // An empty prefix (Hugging Face allows it): a continuation is looked up as it is, among
    // all tokens, so cont_ is first_ (every multi-piece word became [UNK]).
    if (tok.size() > prefix.size() && tok.compare(0, prefix.size(), prefix) == 0) {
      cont_[tok.substr(prefix.size())] = uid;
      max_cont_bytes_ = std::max(max_cont_bytes_, tok.size() - prefix.size());
    }
  }
  for (std::size_t k = 0; k < spec.added_tokens.size(); ++k) {
    const std::string& t = spec.added_tokens[k];
    const long long given = k < spec.added_ids.size() ? spec.added_ids[k] : -1;
    if (t.empty()) continue;
    auto it = first_.find(t);
    std::uint32_t id;
    if (it != first_.end()) {
      TOKENOPS_CHECK(given < 0 || static_cast<std::uint32_t>(given) == it->second, InvalidArgument,
                     "added token \"", t, "\" has id ", given, " but the vocabulary gives it id ", it->second);
      id = it->second;
    } else if (given >= 0) {
      // A token added by fine-tuning lives only in added_tokens, with an id past the vocabulary
      // (the embedding table was resized): it was split into pieces as plain text.
      TOKENOPS_CHECK(static_cast<std::size_t>(given) >= vocab_.size(), InvalidArgument,
                     "added token \"", t, "\" has id ", given, ", which the vocabulary gives to \"",
                     vocab_[static_cast<std::size_t>(given)], "\"");
      id = static_cast<std::uint32_t>(given);
      auto [slot, fresh] = added_names_.emplace(id, t);
      TOKENOPS_CHECK(fresh || slot->second == t, InvalidArgument, "added tokens \"", slot->second, "\" and \"",
                     t, "\" share id ", id);
    } else {
      continue;  // no id anywhere (a vocab.txt special token it lacks): nothing to match
    }
    added_.emplace_back(t, id);
    added_first_byte_[static_cast<unsigned char>(t[0])] = true;
    max_added_id_ = std::max<std::size_t>(max_added_id_, id);
  }
  auto special = [&](const std::string& t, const char* what) {
    auto it = first_.find(t);
    TOKENOPS_CHECK(it != first_.end(), InvalidArgument, "the ", what, " token \"", t,
                   "\" is not in the WordPiece vocabulary");
    return it->second;
  };
  unk_ = special(spec.unk_token, "unknown");
  cls_ = special(spec.cls_token, "[CLS]");
  sep_ = special(spec.sep_token, "[SEP]");
}

const std::string& WordPieceTokenizer::id_to_token(std::uint32_t id) const {
  if (id >= vocab_.size()) {
    auto it = added_names_.find(id);
    TOKENOPS_CHECK(it != added_names_.end(), NotFound, "token id ", id, " is out of range (vocabulary size ",
                   vocab_.size(), ")");
    return it->second;
  }
  return vocab_[id];
}

long WordPieceTokenizer::token_to_id(std::string_view token) const {
  auto it = first_.find(token);
  if (it != first_.end()) return static_cast<long>(it->second);
  for (const auto& [tok, id] : added_)
    if (tok == token) return static_cast<long>(id);
  return -1;
}

void WordPieceTokenizer::wordpiece(std::string_view word, std::size_t n_chars,
                                   std::vector<std::uint32_t>& out) const {
  if (n_chars > max_chars_per_word_) {
    out.push_back(unk_);
    return;
  }
  const std::size_t mark = out.size();
  std::size_t start = 0;
  while (start < word.size()) {
    const bool first = start == 0;
    const Map& map = first ? first_ : cont_;
    std::size_t end = std::min(word.size(), start + (first ? max_first_bytes_ : max_cont_bytes_));
    while (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
    bool found = false;
    while (end > start) {
      auto it = map.find(word.substr(start, end - start));
      if (it != map.end()) {
        out.push_back(it->second);
        found = true;
        break;
      }
      do {
        --end;
      } while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (!found) {
      out.resize(mark);
      out.push_back(unk_);
      return;
    }
    start = end;
  }
}

void WordPieceTokenizer::encode_pieces(std::string_view text, std::vector<std::uint32_t>& out,
                                       std::size_t max_pieces) const {
  if (max_pieces == 0) return;
  const std::size_t base = out.size();
  if (added_.empty()) {
    encode_segment(text, out, base, max_pieces);
    return;
  }
  // Split on added tokens first (leftmost-longest match in the raw text, as the reference does).
  std::size_t seg = 0, i = 0;
  while (i < text.size()) {
    std::size_t best = 0;
    std::uint32_t best_id = 0;
    if (added_first_byte_[static_cast<unsigned char>(text[i])]) {
      for (const auto& [tok, id] : added_) {
        if (tok.size() > best && text.compare(i, tok.size(), tok) == 0) {
          best = tok.size();
          best_id = id;
        }
      }
    }
    if (best == 0) {
      ++i;
      continue;
    }
    if (!encode_segment(text.substr(seg, i - seg), out, base, max_pieces)) return;
    out.push_back(best_id);
    if (out.size() - base >= max_pieces) return;
    i += best;
    seg = i;
  }
  encode_segment(text.substr(seg), out, base, max_pieces);
}

bool WordPieceTokenizer::encode_segment(std::string_view text, std::vector<std::uint32_t>& out,
                                        std::size_t base, std::size_t max_pieces) const {
  std::string word;
  std::size_t word_chars = 0;
  bool done = false;  // enough pieces: ignore the rest of the text
  auto end_word = [&] {
    if (word.empty()) return;
    wordpiece(word, word_chars, out);
    word.clear();
    word_chars = 0;
    if (out.size() - base >= max_pieces) {
      out.resize(base + max_pieces);
      done = true;
    }
  };
  auto sink = [&](char32_t c) {
    if (done) return;
    const std::uint16_t b = bits_of(c);
    if (b & kBertSplitSpace) {
      end_word();
    } else if (b & kBertSplitPunct) {
      end_word();
      text::append_utf8(word, c);
      word_chars = 1;
      end_word();
    } else {
      if (c < 0x80)
        word.push_back(static_cast<char>(c));
      else
        text::append_utf8(word, c);
      ++word_chars;
    }
  };
  NormalizerStream<decltype(sink)> ns(norm_, sink);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size() && !done) {
    int len;
    char32_t c = text::decode_utf8(p + i, len);
    ns.push(c);
    i += static_cast<std::size_t>(len);
  }
  if (!done) {
    ns.finish();
    end_word();
  }
  return !done;
}

std::vector<std::uint32_t> WordPieceTokenizer::encode(std::string_view text, std::size_t max_length) const {
  text::require_valid_utf8(text);
  TOKENOPS_CHECK(max_length >= 2, InvalidArgument, "max_length must be at least 2 ([CLS] and [SEP]), got ",
                 max_length);
  std::vector<std::uint32_t> ids;
  ids.push_back(cls_);
  encode_pieces(text, ids, max_length == kAll ? kAll : max_length - 2);
  ids.push_back(sep_);
  return ids;
}

}  // namespace tokenops::embed
