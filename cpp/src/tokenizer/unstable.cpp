// tiktoken's encode_with_unstable and _encode_bytes: what the last piece of a text may become once
// more text follows (token healing, constrained completion), and encoding of bytes that are not
// valid UTF-8. Same algorithm as tiktoken's CoreBPE (_encode_unstable_native, _encode_bytes), so
// results agree with it token for token (tests/python/test_tokenizer_unstable.py).
#include <algorithm>
#include <mutex>
#include <set>

#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::tokenizer {

struct Encoding::Lazy {
  std::once_flag once;
  std::vector<Rank> by_bytes;  // mergeable token ids ordered by their bytes
};

std::shared_ptr<Encoding::Lazy> Encoding::make_lazy() { return std::make_shared<Lazy>(); }

const std::vector<Rank>& Encoding::tokens_by_bytes() const {
  std::call_once(lazy_->once, [this] {
    std::vector<std::uint8_t> special(dec_len_.size(), 0);
    for (const auto& s : specials_) special[s.id] = 1;
    std::vector<Rank> ids;
    ids.reserve(n_mergeable_);
    for (Rank id = 0; id < dec_len_.size(); ++id)
      if (dec_len_[id] != kNoRank && !special[id]) ids.push_back(id);
    const std::string_view all(dec_bytes_);
    std::sort(ids.begin(), ids.end(), [&](Rank a, Rank b) {
      return all.substr(dec_off_[a], dec_len_[a]) < all.substr(dec_off_[b], dec_len_[b]);
    });
    lazy_->by_bytes = std::move(ids);
  });
  return lazy_->by_bytes;
}

std::size_t Encoding::last_segment_start(std::string_view text, const SpecialMask& allowed_in) const {
  // The last segment is the text after the last allowed special token (and what an rstrip one
  // took); always-matched added tokens end segments too.
  const SpecialMask allowed = with_always(allowed_in);
  std::size_t start = 0;
  bool any = false;
  for (auto a : allowed) any |= (a != 0);
  if (any && !specials_.empty()) {
    for (;;) {
      const SpecialMatch m = find_special(text, start, &allowed);
      if (m.pos == std::string_view::npos) break;
      start = after_special(text, m);
    }
  }
  return start;
}

std::size_t Encoding::last_piece_tokens(std::string_view text, const SpecialMask& allowed) const {
  // When the text ends with a special token (or is empty) there is no last piece.
  const std::size_t start = last_segment_start(text, allowed);
  if (start >= text.size()) return 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + start;
  const std::size_t n = text.size() - start;
  std::size_t pos = 0, last = 0;
  while (pos < n) {
    last = pos;
    pos = next_piece(pretok_, s, n, pos);
  }
  std::vector<Rank> piece;
  encode_single_piece(text.substr(start + last), piece);
  return piece.size();
}

std::size_t Encoding::widen_over_spaces(const Rank* tokens, std::size_t n, std::size_t last) const {
  // tiktoken's "quick and dirty fix" for unstable splits of whitespace (cl100k's \s*[\r\n]+ can
  // turn "\n" + " " into "\n \n"): when the last piece starts with a token of spaces, tabs and
  // newlines only, the run of such tokens before it is unstable too.
  auto all_space = [&](Rank t) {
    for (const auto& s : specials_)
      if (s.id == t) return false;
    const std::string_view b = token_bytes(t);
    return std::all_of(b.begin(), b.end(), [](char c) { return c == ' ' || c == '\n' || c == '\t'; });
  };
  if (last > 0 && all_space(tokens[n - last]))
    while (last < n && all_space(tokens[n - last - 1])) ++last;
  return last;
}

namespace {
// The longest unstable tail encode_with_unstable accepts: it re-encodes prefix + candidate for
// every split of the tail and every token that continues it (tiktoken's algorithm, quadratic in
// the tail), so a tail of thousands of bytes would run for minutes.
constexpr std::size_t kMaxUnstableBytes = 1024;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

Encoding::Unstable Encoding::encode_with_unstable(std::string_view text,
                                                  const SpecialMask& allowed) const {
  Unstable r;
  encode(text, allowed, r.tokens);
  std::size_t last = last_piece_tokens(text, allowed);
  if (last == 0) return r;  // empty, or ends with a special token: nothing is unstable
  last = widen_over_spaces(r.tokens.data(), r.tokens.size(), last);
  std::size_t keep = r.tokens.size() - last;
  // A Hugging Face non-special added token ("always") is matched wherever it occurs, so a text
  // that ends with a proper prefix of one ("x<tool" of "<tool_call>") becomes that token once
  // the rest follows, and the text before it a segment of its own: the stable tokens are also
  // cut to the longest common prefix with that segment's tokens, and each such completion is
  // those tokens and the added token (the lstrip ones, which take white space that decodes to
  // nothing, are not followed: docs/tokenizer.md).
  struct Cut {
    std::size_t at;  // where the partial added token starts in the text
    std::size_t special;
    std::size_t head;  // index in heads: the tokens of the text before it, a segment of its own
  };
  std::vector<Cut> cuts;
  std::vector<std::vector<Rank>> heads;
  if (has_always_) {
    // only inside the last segment (after the last match): the text before it encodes the same
    const std::size_t seg = last_segment_start(text, allowed);
    for (std::size_t i = 0; i < specials_.size(); ++i) {
      const SpecialToken& s = specials_[i];
      if (!s.always || s.lstrip) continue;
      for (std::size_t l = std::min(s.text.size() - 1, text.size() - seg); l >= 1; --l)
        if (text.compare(text.size() - l, l, s.text, 0, l) == 0) cuts.push_back({text.size() - l, i, 0});
    }
    // (one encode per distinct start, not per token: a file may hold thousands of added tokens
    // that start with '<', and a text may end with '<')
    std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.at < b.at; });
    for (std::size_t k = 0; k < cuts.size(); ++k) {
      Cut& c = cuts[k];
      if (k > 0 && cuts[k - 1].at == c.at) {
        c.head = cuts[k - 1].head;
        continue;
      }
      c.head = heads.size();
      std::vector<Rank>& h = heads.emplace_back();
      encode(text.substr(0, c.at), allowed, h);
      std::size_t common = 0;
      while (common < keep && common < h.size() && h[common] == r.tokens[common]) ++common;
      keep = common;
    }
    last = r.tokens.size() - keep;
  }
  const std::string unstable = decode_bytes(r.tokens.data() + keep, last);
  TOKENOPS_CHECK(unstable.size() <= kMaxUnstableBytes, InvalidArgument,
                 "encode_with_unstable: the text's last piece is ", unstable.size(),
                 " bytes long (at most ", kMaxUnstableBytes,
                 "); completions are found by re-encoding it once per byte and candidate token, "
                 "which takes too long for a piece this long. Pass a shorter suffix of the text "
                 "or use encode()");
  r.tokens.resize(keep);  // (the unstable bytes are never empty: tokens have bytes)

  const std::vector<Rank>& sorted = tokens_by_bytes();
  const std::string_view all(dec_bytes_);
  auto bytes_of = [&](Rank t) { return all.substr(dec_off_[t], dec_len_[t]); };
  auto first_with_prefix = [&](std::string_view prefix) {
    return std::lower_bound(sorted.begin(), sorted.end(), prefix,
                            [&](Rank t, std::string_view key) { return bytes_of(t) < key; });
  };
  std::set<std::vector<Rank>> completions;
  // Single tokens that start with the unstable bytes (or equal them).
  for (auto it = first_with_prefix(unstable); it != sorted.end() && starts_with(bytes_of(*it), unstable); ++it)
    completions.insert({*it});
  // A token straddling the end of the text at every other position: the unstable bytes up to the
  // split, then a token that continues with the rest; re-encoded (pre-tokenized when it is valid
  // UTF-8, as more text could add a split), cut once the unstable bytes are covered.
  std::string possibility;
  std::vector<Rank> encoded;
  for (std::size_t i = 1; i < unstable.size(); ++i) {
    const std::string_view prefix = std::string_view(unstable).substr(0, i);
    const std::string_view suffix = std::string_view(unstable).substr(i);
    for (auto it = first_with_prefix(suffix); it != sorted.end() && starts_with(bytes_of(*it), suffix); ++it) {
      possibility.assign(prefix);
      possibility.append(bytes_of(*it));
      encoded.clear();
      if (text::is_valid_utf8(possibility)) encode_ordinary(possibility, encoded);
      else byte_pair_encode(possibility, encoded);
      std::vector<Rank> seq;
      std::size_t covered = 0;
      for (Rank t : encoded) {
        seq.push_back(t);
        covered += dec_len_[t];
        if (covered >= unstable.size()) break;
      }
      completions.insert(std::move(seq));
    }
  }
  // Whitespace at the end may split off once more text follows (\s+(?!\S)): the bytes before the
  // last character and the character itself, each encoded alone.
  if (unstable.size() > 1) {
    // bstr::decode_last_utf8: back over at most three continuation bytes, then one character
    // that must reach the end exactly.
    std::size_t start = unstable.size() - 1;
    const std::size_t limit = unstable.size() >= 4 ? unstable.size() - 4 : 0;
    while (start > limit && (static_cast<unsigned char>(unstable[start]) & 0xC0) == 0x80) --start;
    const std::string_view tail = std::string_view(unstable).substr(start);
    if (start > 0 && text::is_valid_utf8(tail)) {
      int len = 0;
      const char32_t cp = text::decode_utf8(reinterpret_cast<const unsigned char*>(tail.data()), len);
      const bool space = (text::char_class_fast(cp) & text::kSpace) != 0;  // White_Space
      if (static_cast<std::size_t>(len) == tail.size() && space) {
        std::vector<Rank> re;
        byte_pair_encode(std::string_view(unstable).substr(0, start), re);
        byte_pair_encode(tail, re);
        completions.insert(std::move(re));
      }
    }
  }
  // The partial added tokens completed: the head's tokens after the stable ones, then the token.
  for (const Cut& c : cuts) {
    const std::vector<Rank>& h = heads[c.head];
    std::vector<Rank> seq(h.begin() + static_cast<std::ptrdiff_t>(keep), h.end());
    seq.push_back(specials_[c.special].id);
    completions.insert(std::move(seq));
  }
  r.completions.assign(completions.begin(), completions.end());
  return r;
}

void Encoding::encode_bytes(std::string_view bytes, std::vector<Rank>& out) const {
  const std::size_t invalid = text::find_invalid_utf8(bytes);
  if (invalid == std::string_view::npos) {
    encode_ordinary(bytes, out);
    return;
  }
  // `invalid` is Rust's Utf8Error::valid_up_to: the valid prefix ends there.
  const std::size_t before = out.size();
  encode_ordinary(bytes.substr(0, invalid), out);
  std::size_t last = last_piece_tokens(bytes.substr(0, invalid), SpecialMask(specials_.size(), 0));
  last = widen_over_spaces(out.data() + before, out.size() - before, last);
  std::string rest;
  if (last > 0) {
    // The tokens of the last valid piece and the bytes after it, re-encoded together (what a
    // model sees when UTF-8 was cut mid-character).
    rest = decode_bytes(out.data() + out.size() - last, last);
    out.resize(out.size() - last);
  }
  rest.append(bytes.substr(invalid));
  encode_single_piece(rest, out);  // the token itself if it is one, else its BPE
}

}  // namespace tokenops::tokenizer
