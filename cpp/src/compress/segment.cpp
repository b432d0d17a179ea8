#include "tokenops/compress/segment.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

#include "tokenops/io/json_spans.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::compress {

using text::GeneralCategory;

bool is_unspaced_script(char32_t cp) noexcept {
  return (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified ideographs
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // extension A
         (cp >= 0x20000 && cp <= 0x323AF) ||  // extensions B..H
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // compatibility ideographs
         (cp >= 0x3040 && cp <= 0x30FF) ||    // hiragana, katakana
         (cp >= 0x31F0 && cp <= 0x31FF) ||    // katakana phonetic extensions
         (cp >= 0xFF66 && cp <= 0xFF9F) ||    // half-width katakana
         (cp >= 0x0E00 && cp <= 0x0EFF) ||    // Thai, Lao
         (cp >= 0x0F00 && cp <= 0x0FFF) ||    // Tibetan
         (cp >= 0x1000 && cp <= 0x109F) ||    // Myanmar
         (cp >= 0x1780 && cp <= 0x17FF);      // Khmer
}

namespace {

// Longest word unit, in bytes: longer "words" are not language (natural words, even German
// compounds and chemical names, stay below it) and are cut into pieces; see Segmenter::word.
constexpr std::size_t kMaxWordBytes = 64;
constexpr std::size_t kMaxPunctRun = 16;

char32_t fold_cp(char32_t c) noexcept {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return 'i';
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    if (c == 0x178) return 0xFF;
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    return (c & 1) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c == 0x2019 || c == 0x2018) return '\'';
  return c;
}

bool is_hspace(char32_t cp) noexcept {
  if (cp == ' ' || cp == '\t' || cp == 0xFEFF || cp == 0x200B) return true;
  if (cp < 0x80) return false;
  return text::general_category(cp) == GeneralCategory::Zs;
}

bool is_newline(char32_t cp) noexcept {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x85 || cp == 0x2028 ||
         cp == 0x2029;
}

bool is_mark_like(char32_t cp) noexcept {
  // Thai / Lao SARA AM are letters (Lo) but grapheme-extending (SpacingMark); Hangul medial
  // vowel and final consonant jamo continue the syllable their initial starts.
  if (cp == 0x0E33 || cp == 0x0EB3 || (cp >= 0x1160 && cp <= 0x11FF) || (cp >= 0xD7B0 && cp <= 0xD7FF))
    return true;
  if (cp == 0x200D || cp == 0x200C || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F) ||
      (cp >= 0xE0100 && cp <= 0xE01EF))
    return true;
  if (cp < 0x300) return false;
  auto g = text::general_category(cp);
  return g == GeneralCategory::Mn || g == GeneralCategory::Mc || g == GeneralCategory::Me;
}

// Joins the character after it into one user-perceived character: ZWJ (emoji sequences) and
// the viramas that form conjuncts (UAX #29 GB9c's InCB=Linker; Khmer coeng, Myanmar stacker).
bool joins_next(char32_t cp) noexcept {
  return cp == 0x200D || cp == 0x094D || cp == 0x09CD || cp == 0x0ACD || cp == 0x0B4D ||
         cp == 0x0C4D || cp == 0x0D4D || cp == 0x17D2 || cp == 0x1039;
}

bool is_regional_indicator(char32_t cp) noexcept { return cp >= 0x1F1E6 && cp <= 0x1F1FF; }

bool is_alnum(char32_t cp) noexcept {
  return (text::char_class_fast(cp) & (text::kLetter | text::kNumber)) != 0;
}

bool is_digit(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return text::general_category(cp) == GeneralCategory::Nd;
}

// A numeral of any kind: decimal digits (Nd) and the other numbers (No: ½ ² ②, Nl: Ⅻ), which
// force_digits keeps too. Word kinds and number connectors still look at decimal digits only.
bool is_numeral(char32_t cp) noexcept { return (text::char_class_fast(cp) & text::kNumber) != 0; }  // \p{N}

bool is_upper(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  auto g = text::general_category(cp);
  return g == GeneralCategory::Lu || g == GeneralCategory::Lt;
}

bool is_lower(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  return text::general_category(cp) == GeneralCategory::Ll;
}

bool is_sentence_punct(char32_t cp) noexcept {
  return cp == '.' || cp == '!' || cp == '?' || cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F ||
         cp == 0xFF0E || cp == 0x0964 || cp == 0x06D4 || cp == 0x061F;
}

bool is_closer(char32_t cp) noexcept {
  return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == 0x201D || cp == 0x2019 ||
         cp == 0x300D || cp == 0x300F || cp == 0xFF09;
}

bool starts_with_ci(std::string_view s, std::size_t i, std::string_view prefix) {
  if (s.size() - i < prefix.size()) return false;
  for (std::size_t k = 0; k < prefix.size(); ++k) {
    char c = s[i + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != prefix[k]) return false;
  }
  return true;
}

// Whether w is one of the words of a list.
template <std::size_t N>
bool one_of(std::string_view w, const std::string_view (&list)[N]) {
  for (std::string_view k : list)
    if (w == k) return true;
  return false;
}

struct Cursor {
  const unsigned char* p;
  std::size_t n;
  char32_t at(std::size_t i, int& len) const {
    if (i >= n) {
      len = 0;
      return 0;
    }
    return text::decode_utf8(p + i, len);
  }
  char32_t at(std::size_t i) const {
    int len;
    return at(i, len);
  }
  // Code point ending just before i (i > 0).
  char32_t before(std::size_t i) const {
    if (i == 0) return 0;
    std::size_t k = i - 1;
    while (k > 0 && (p[k] & 0xC0) == 0x80) --k;
    int len;
    return text::decode_utf8(p + k, len);
  }
};

class Builder {
 public:
  Builder(std::string_view text, Segmentation& out) : s_(text), out_(out) {
    cur_.p = reinterpret_cast<const unsigned char*>(text.data());
    cur_.n = text.size();
  }

  /// Segments bytes [a, b); structure: every unit gets kStructure (JSON outside string values);
  /// json_string: inside a JSON string (escapes are atomic units).
  void run(std::size_t a, std::size_t b, bool structure, bool json_string) {
    std::size_t i = a;
    const std::uint8_t base = structure ? kStructure : 0;
    while (i < b) {
      int len;
      char32_t cp = cur_.at(i, len);
      if (is_hspace(cp)) {
        i += len;
        continue;
      }
      if (json_string && cp == '\\' && i + 1 < b) {
        int el;
        const char32_t ec = char_at(i, b, el, true);
        if (el >= 6 && is_unspaced_script(ec)) {
          emit(i, i + static_cast<std::size_t>(el), UnitKind::Char,
               static_cast<std::uint8_t>(base | (is_numeral(ec) ? kHasDigit : 0)));
          i += static_cast<std::size_t>(el);
          continue;
        }
        if (el >= 6 && (is_alnum(ec) || is_mark_like(ec))) {
          i = word(i, b, base, json_string);
          continue;
        }
        // any other escape is one unit: \uXXXX (an escaped surrogate pair, 12 bytes, as char_at
        // reads it) or a two-byte one
        const std::size_t j = i + (el >= 6 ? static_cast<std::size_t>(el) : 2);
        emit(i, j, UnitKind::Punct, base);
        if (s_[i + 1] == 'n') end_chunk();
        i = j;
        continue;
      }
      if (is_newline(cp)) {
        // A run of line breaks (with the spaces between them) is one chunk of Newline units of at
        // most two breaks each ("\r\n" is one): one is kept and the rest go as repeats of a force
        // token (one unit of 300 blank lines holding spaces was 300 tokens that had to stay).
        end_chunk();
        std::size_t j = i;
        int total_breaks = 0;
        while (true) {
          std::size_t p = j;
          while (p < b) {
            int l2;
            if (!is_hspace(cur_.at(p, l2))) break;
            p += static_cast<std::size_t>(l2);
          }
          if (p >= b || !is_newline(cur_.at(p))) break;
          std::size_t k = p, last = p;
          for (int breaks = 0; k < b && breaks < 2;) {
            int l2;
            const char32_t c2 = cur_.at(k, l2);
            if (is_newline(c2)) {
              k += static_cast<std::size_t>(l2);
              if (c2 == '\r' && k < b && s_[k] == '\n') ++k;
              ++breaks;
              ++total_breaks;
              last = k;
            } else if (is_hspace(c2)) {
              k += static_cast<std::size_t>(l2);
            } else {
              break;
            }
          }
          emit(p, last, UnitKind::Newline, base);
          j = last;
        }
        end_chunk();
        if (!structure && !json_string && total_breaks >= 2) {
          // after a blank line: an indented code block (its indentation is part of the unit)
          const std::size_t e = indented_block(i, j, b);
          if (e > j) {
            emit(j, e, UnitKind::Code, digit_flag(j, e, base));
            end_chunk();
            j = e;
          }
        }
        i = j;
        continue;
      }
      if (!structure && !json_string && cp == '~') {
        const std::size_t j = tilde_block(i, b);
        if (j > i) {
          end_chunk();
          emit(i, j, UnitKind::Code, digit_flag(i, j, base));
          end_chunk();
          i = j;
          continue;
        }
      }
      if (!structure && !json_string && cp == '`') {
        bool fence = false;
        std::size_t j = code_span(i, b, fence);
        if (j > i) {
          if (fence) end_chunk();
          emit(i, j, UnitKind::Code, digit_flag(i, j, base));
          if (fence) end_chunk();
          i = j;
          continue;
        }
      }
      if (!structure && cp < 0x80) {
        // web URLs, other URIs (s3://, file:///), e-mail addresses ("a+b@x.com"), scp-like
        // remotes (git@github.com:o/r.git), bare domains with a path, file paths: one unit each
        const std::size_t j = link_end(i, b, json_string);
        if (j > i) {
          emit(i, j, UnitKind::Url, digit_flag(i, j, base));
          i = j;
          continue;
        }
      }
      if (is_unspaced_script(cp)) {
        std::size_t j = absorb_marks(i + len, b);
        // Thai, Lao, Tibetan, Myanmar, Khmer digits are characters of unspaced scripts: still
        // digits, and a number of them is one unit with its separators, as word() makes of ASCII
        // numbers ("๓๒.๕๐" lost its point when the point was a unit of its own)
        if (is_digit(cp)) j = unspaced_number_end(j, b);
        emit(i, j, UnitKind::Char, static_cast<std::uint8_t>(base | (is_numeral(cp) ? kHasDigit : 0)));
        i = j;
        continue;
      }
      if (is_alnum(cp) || is_mark_like(cp)) {
        i = word(i, b, base, json_string);
        continue;
      }
      // punctuation or symbol; a run of one ASCII mark is one unit of at most kMaxPunctRun bytes
      // (a longer run is cut, so a budget smaller than the run keeps part of it; runs of ASCII
      // punctuation take several characters per token); a flag (two regional indicators) stays whole
      std::size_t j = i + len;
      if (cp < 0x80 && cp != '"' && cp != '\'' && cp != '(' && cp != ')') {
        while (j < b && j - i < kMaxPunctRun && static_cast<unsigned char>(s_[j]) == cp) ++j;
      } else if (is_regional_indicator(cp)) {
        int l2;
        if (is_regional_indicator(cur_.at(j, l2)) && j < b) j += static_cast<std::size_t>(l2);
      }
      j = absorb_marks(j, b);
      emit(i, j, UnitKind::Punct, base);
      if (is_sentence_punct(cp)) {
        // The sentence ends here when whitespace, a closer or the end follows; for CJK full
        // stops immediately.
        std::size_t k = j;
        while (k < b) {
          int l3;
          char32_t c3 = cur_.at(k, l3);
          if (!is_closer(c3)) break;
          k += l3;
        }
        char32_t nxt = cur_.at(k);
        if (k >= b || is_hspace(nxt) || is_newline(nxt) || cp >= 0x3000) {
          if (k > j) {
            emit(j, k, UnitKind::Punct, base);
            j = k;
          }
          out_.units.back().flags |= kSentenceEnd;
          end_chunk();
        }
      }
      i = j;
    }
  }

  void end_chunk() { new_chunk_ = true; }

  static int hex4(std::string_view s, std::size_t i) {  // value of 4 hex digits at i, -1 if not
    if (i + 4 > s.size()) return -1;
    int v = 0;
    for (std::size_t k = i; k < i + 4; ++k) {
      const char c = s[k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }

  /// Inside a JSON string, the character at i with a `\uXXXX` escape (or an escaped surrogate
  /// pair) read as the one character it spells, so an escaped letter is part of its word as the
  /// raw letter is (json.dumps escapes every non-ASCII character by default). len: bytes taken.
  char32_t char_at(std::size_t i, std::size_t b, int& len, bool json_string) const {
    if (!json_string || i + 6 > b || s_[i] != '\\' || s_[i + 1] != 'u') {
      if (i >= b) {
        len = 0;
        return 0;
      }
      return cur_.at(i, len);
    }
    const int hi = hex4(s_, i + 2);
    if (hi < 0) return cur_.at(i, len);
    len = 6;
    if (hi >= 0xD800 && hi <= 0xDBFF && i + 12 <= b && s_[i + 6] == '\\' && s_[i + 7] == 'u') {
      const int lo = hex4(s_, i + 8);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        len = 12;
        return 0x10000 + ((static_cast<char32_t>(hi) - 0xD800) << 10) + (static_cast<char32_t>(lo) - 0xDC00);
      }
    }
    return static_cast<char32_t>(hi);
  }

 private:
  // End of the marks (and joined characters) after j, at most `cap` code points of them.
  std::size_t absorb_marks(std::size_t j, std::size_t b, std::size_t cap = SIZE_MAX) const {
    for (std::size_t taken = 0; j < b && taken < cap; ++taken) {
      int l;
      char32_t c = cur_.at(j, l);
      if (joins_next(c)) {  // ZWJ or a virama joins the next character too
        j += l;
        if (j < b) {
          cur_.at(j, l);
          j += l;
        }
        continue;
      }
      if (!is_mark_like(c)) break;
      j += l;
    }
    return j;
  }

  // End of a number of an unspaced script's digits that continues at j: more digits, and
  // "." "," ":" between two digits.
  std::size_t unspaced_number_end(std::size_t j, std::size_t b) const {
    while (j < b) {
      int l;
      const char32_t c = cur_.at(j, l);
      if (is_unspaced_script(c) && is_digit(c)) {
        j = absorb_marks(j + static_cast<std::size_t>(l), b);
        continue;
      }
      if (c != '.' && c != ',' && c != ':') break;
      const char32_t next = cur_.at(j + 1);
      if (!(j + 1 < b && is_unspaced_script(next) && is_digit(next))) break;
      ++j;
    }
    return j;
  }

  // Whether i starts a line (after at most 3 spaces of indentation), where a fence may open.
  bool at_line_start(std::size_t i) const {
    std::size_t k = i;
    while (k > 0 && s_[k - 1] == ' ' && i - k < 3) --k;
    return k == 0 || s_[k - 1] == '\n';
  }

  // End of the line holding i (its '\n', or b). Cached: the segmenter moves forward, and a
  // search per backtick made a line of many backticks quadratic.
  std::size_t line_end(std::size_t i, std::size_t b) const {
    if (!(nl_from_ <= i && i <= nl_at_)) {
      const std::size_t nl = s_.find('\n', i);
      nl_at_ = nl == std::string_view::npos ? s_.size() : nl;
      nl_from_ = i;
    }
    return std::min(nl_at_, b);
  }

  // Every line that can close a fenced block: at most 3 spaces, a run of >= 3 backticks, then
  // nothing but spaces. Built once, on the first fence, with the suffix maximum of the runs.
  // Fence lines of character c ('`' or '~'; CommonMark: at most 3 spaces, then 3 or more of c,
  // then only spaces) as (start of the run, run length), in text order.
  void build_fences(char c) const {
    const int f = c == '~';
    fences_built_[f] = true;
    const std::size_t n = s_.size();
    for (std::size_t ls = 0;;) {
      std::size_t nl = s_.find('\n', ls);
      if (nl == std::string_view::npos) nl = n;
      std::size_t p = ls;
      while (p < nl && p - ls < 3 && s_[p] == ' ') ++p;
      std::size_t q = p;
      while (q < nl && s_[q] == c) ++q;
      if (q - p >= 3) {
        std::size_t r = q;
        while (r < nl && (s_[r] == ' ' || s_[r] == '\t' || s_[r] == '\r')) ++r;
        if (r == nl) fences_[f].emplace_back(p, q - p);
      }
      if (nl >= n) break;
      ls = nl + 1;
    }
    fence_max_[f].assign(fences_[f].size() + 1, 0);
    for (std::size_t k = fences_[f].size(); k-- > 0;)
      fence_max_[f][k] = std::max(fence_max_[f][k + 1], fences_[f][k].second);
  }

  // End of the fenced block whose opening fence (n >= 3 of c) starts at i and whose line ends at
  // eol: the end of the first later fence line of c at least n long, or eol when none closes it
  // (an unclosed fence is only its own line: running it to the end forced the rest of the text,
  // so nothing could be cut).
  std::size_t fence_end(char c, std::size_t n, std::size_t eol, std::size_t b) const {
    const int f = c == '~';
    if (!fences_built_[f]) build_fences(c);
    const auto& fences = fences_[f];
    std::size_t k = static_cast<std::size_t>(
        std::upper_bound(fences.begin(), fences.end(), std::make_pair(eol, SIZE_MAX)) - fences.begin());
    if (fence_max_[f][k] >= n) {
      // the fence lines skipped here lie inside the block: each is looked at once
      while (fences[k].second < n) ++k;
      const std::size_t end = fences[k].first + fences[k].second;
      if (end <= b) return end;
    }
    return eol;
  }

  // A ~~~ fenced code block at i (CommonMark's other fence; its info string may hold anything),
  // or i when there is none.
  std::size_t tilde_block(std::size_t i, std::size_t b) const {
    std::size_t n = 0;
    while (i + n < b && s_[i + n] == '~') ++n;
    if (n < 3 || !at_line_start(i)) return i;
    return fence_end('~', n, line_end(i, b), b);
  }

  // Start of the first run of exactly n backticks in [from, eol), or npos. The runs of >= 3
  // backticks of the line are indexed once (sorted by length, then position), so a line of many
  // unmatched runs stays linear.
  std::size_t inline_closer(std::size_t from, std::size_t n, std::size_t eol) const {
    if (runs_eol_ != eol || runs_from_ > from) {
      runs_.clear();
      runs_eol_ = eol;
      runs_from_ = from;
      for (std::size_t j = from; j < eol;) {
        if (s_[j] != '`') {
          ++j;
          continue;
        }
        std::size_t m = 0;
        while (j + m < eol && s_[j + m] == '`') ++m;
        if (m >= 3) runs_.emplace_back(m, j);
        j += m;
      }
      std::sort(runs_.begin(), runs_.end());
    }
    auto it = std::lower_bound(runs_.begin(), runs_.end(), std::make_pair(n, from));
    return (it != runs_.end() && it->first == n) ? it->second : std::string_view::npos;
  }

  // End of the code span starting at i (i itself when there is none); `block` says whether it
  // is a fenced block (its own chunk). A fence opens at a line start (at most 3 spaces) when no
  // backtick follows on its line, and runs to the first later line that is a backtick run at
  // least as long (at most 3 spaces before it, nothing after it), as in CommonMark. A run of
  // >= 3 backticks in mid-line is inline code closed by a run of the same length on its line,
  // or punctuation.
  std::size_t code_span(std::size_t i, std::size_t b, bool& block) const {
    block = false;
    std::size_t n = 0;
    while (i + n < b && s_[i + n] == '`') ++n;
    const std::size_t eol = line_end(i, b);
    const std::string_view line = s_.substr(0, eol);
    if (n == 2) {
      // ``code`` (which may hold single backticks) to the next run of exactly two on the line.
      // The two backticks are a unit of their own (LaTeX / Penn Treebank quotes: `` Handmaids '' ,
      // into `` Gilead '') without such a run, with a '' before it, or when a space follows them
      // and no backtick is inside (CommonMark's padding is for code that starts with a backtick:
      // `` `x` ``; tokenized text puts a space after every ``).
      const bool padded = i + 2 < eol && s_[i + 2] == ' ';
      bool inner_tick = false;
      for (std::size_t j = i + 2; j < eol;) {
        if (s_[j] == '\'' && j + 1 < eol && s_[j + 1] == '\'') break;
        if (s_[j] != '`') {
          ++j;
          continue;
        }
        std::size_t m = 0;
        while (j + m < eol && s_[j + m] == '`') ++m;
        if (m == 2) return (padded && !inner_tick) ? i + 2 : j + 2;
        inner_tick = true;
        j += m;
      }
      return i + 2;
    }
    if (n < 3) {
      // `code` to the next backtick on the same line
      const std::size_t j = line.find('`', i + 1);
      return j == std::string_view::npos ? i : j + 1;
    }
    if (at_line_start(i) && line.find('`', i + n) == std::string_view::npos) {
      block = true;
      return fence_end('`', n, eol, b);
    }
    const std::size_t j = inline_closer(i + n, n, eol);
    return j == std::string_view::npos ? i : j + n;
  }

  // `base` plus kHasDigit when [i, j) holds a digit (URLs and code keep their numbers under
  // force_digits even with force_code off).
  std::uint8_t digit_flag(std::size_t i, std::size_t j, std::uint8_t base) const {
    for (std::size_t k = i; k < j;) {
      int l;
      const char32_t c = cur_.at(k, l);
      if (is_numeral(c)) return static_cast<std::uint8_t>(base | kHasDigit);
      k += static_cast<std::size_t>(l > 0 ? l : 1);
    }
    return base;
  }

  // Indentation of the line starting at ls, in columns (a tab goes to the next multiple of 4);
  // `content` is set to where the line's content starts.
  std::size_t indent_cols(std::size_t ls, std::size_t e, std::size_t& content) const {
    std::size_t cols = 0, p = ls;
    for (; p < e && (s_[p] == ' ' || s_[p] == '\t'); ++p) cols = s_[p] == '\t' ? (cols / 4 + 1) * 4 : cols + 1;
    content = p;
    return cols;
  }

  // End of an indented code block whose first line starts at ls, right after a blank line (the
  // line-break run before it starts at `run`), or ls when it is none. As in CommonMark, its lines
  // are indented 4 columns or more, with blank lines between them, and it cannot follow a
  // paragraph directly. Indentation counts from the last line before the blank line (or from
  // the content of a list item on it: "- item" / "1. item" then a line indented 4 is the item's
  // next paragraph), so a prompt indented as a whole is no code; a text that starts indented is
  // none either. The block ends at the end of its last non-blank line.
  std::size_t indented_block(std::size_t run, std::size_t ls, std::size_t b) const {
    if (run == 0) return ls;
    const std::size_t nl = s_.rfind('\n', run - 1);
    const std::size_t ps = nl == std::string_view::npos ? 0 : nl + 1;
    std::size_t pc;
    std::size_t base = indent_cols(ps, run, pc);
    std::size_t q = pc;
    if (q < run && (s_[q] == '-' || s_[q] == '*' || s_[q] == '+')) {
      ++q;
    } else {
      std::size_t d = q;
      while (d < run && d - q < 9 && s_[d] >= '0' && s_[d] <= '9') ++d;
      if (d > q && d < run && (s_[d] == '.' || s_[d] == ')')) q = d + 1;
    }
    if (q > pc && q < run && (s_[q] == ' ' || s_[q] == '\t')) {  // a list item: its content column
      base += q - pc;
      for (; q < run && (s_[q] == ' ' || s_[q] == '\t'); ++q) base = s_[q] == '\t' ? (base / 4 + 1) * 4 : base + 1;
    }
    std::size_t end = ls;
    for (std::size_t p = ls; p < b;) {
      std::size_t e = s_.find('\n', p);
      const std::size_t eol = (e == std::string_view::npos || e > b) ? b : e;
      std::size_t c;
      const std::size_t cols = indent_cols(p, eol, c);
      e = eol;
      while (e > c && (s_[e - 1] == '\r' || s_[e - 1] == ' ' || s_[e - 1] == '\t')) --e;
      if (e > c) {  // not blank
        if (cols < base + 4) break;
        end = e;
      }
      if (eol >= b) break;
      p = eol + 1;
    }
    // ... and it must look like code: at least half its lines hold code punctuation, end with
    // ':', or are short commands (at most 6 words, no sentence punctuation at the end: "git
    // clone repo", "make -j2"); indented paragraphs of prose ("Article 1\n\n    All human
    // beings are born free and equal in dignity and rights. ...") stay prose the compressor can
    // cut
    std::size_t lines = 0, code_like = 0;
    for (std::size_t p = ls; p < end;) {
      std::size_t e = s_.find('\n', p);
      if (e == std::string_view::npos || e > end) e = end;
      std::size_t q = e;
      while (q > p && (s_[q - 1] == '\r' || s_[q - 1] == ' ' || s_[q - 1] == '\t')) --q;
      if (q > p && s_.substr(p, q - p).find_first_not_of(" \t") != std::string_view::npos) {
        ++lines;
        const std::string_view line = s_.substr(p, q - p);
        std::size_t words = 0;
        for (std::size_t k = 0; k < line.size(); ++k)
          words += line[k] != ' ' && line[k] != '\t' && (k == 0 || line[k - 1] == ' ' || line[k - 1] == '\t');
        const char last = line.back();
        const bool command = words <= 6 && last != '.' && last != ',' && last != '!' && last != '?' &&
                             last != '"' && last != '\'';
        if (line.find_first_of("(){}[]=;<>$|&`\\") != std::string_view::npos || last == ':' || command)
          ++code_like;
      }
      p = e + 1;
    }
    return 2 * code_like >= lines && lines > 0 ? end : ls;
  }

  static bool ascii_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool ascii_alnum(char c) noexcept { return ascii_alpha(c) || (c >= '0' && c <= '9'); }
  // a character of a path component: letters, digits, . _ - ~ + %
  static bool path_char(char c) noexcept {
    return ascii_alnum(c) || c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '%';
  }
  // RFC 5322 atext (the dot-atom's characters besides "."), without the backtick (inline code)
  static bool atext(char c) noexcept {
    return ascii_alnum(c) ||
           (c != 0 && std::string_view("!#$%&'*+/=?^_{|}~-").find(c) != std::string_view::npos);
  }

  // End of the host name at p (ASCII labels of letters, digits and hyphens joined by dots, at
  // least two, the last one starting with a letter), or p; `tld` gets the last label's start.
  std::size_t host_end(std::size_t p, std::size_t b, std::size_t& tld) const {
    const std::size_t lim = std::min(b, p + 253);
    std::size_t q = p, labels = 0;
    tld = p;
    while (q < lim && ascii_alnum(s_[q])) {
      std::size_t r = q;
      while (r < lim && (ascii_alnum(s_[r]) || s_[r] == '-')) ++r;
      while (r > q && s_[r - 1] == '-') --r;
      ++labels;
      tld = q;
      q = r;
      if (q + 1 < lim && s_[q] == '.' && ascii_alnum(s_[q + 1])) ++q;
      else break;
    }
    return (labels >= 2 && ascii_alpha(s_[tld])) ? q : p;
  }

  // End of a link-like unit starting at i (an ASCII character), or i: a web URL (http(s)://, ftp://, www., mailto:), a URI with any scheme
  // ("s3://", "file:///"), an e-mail address with RFC 5322 local-part characters ("a+b@x.com",
  // "user.name+tag@example.co.uk"), an scp-like remote ("git@github.com:o/r.git"), a bare domain
  // with a path ("docs.python.org/3/library"), a file path ("/etc/passwd", "~/x", "./run.sh",
  // "../a", "C:\dir", "src/main.cpp": a relative one needs an extension on its last part).
  std::size_t link_end(std::size_t i, std::size_t b, bool json_string) const {
    if (starts_with_ci(s_, i, "http://") || starts_with_ci(s_, i, "https://") ||
        starts_with_ci(s_, i, "ftp://") || starts_with_ci(s_, i, "www.") ||
        starts_with_ci(s_, i, "mailto:")) {  // (its "mailto:" could be dropped)
      const std::size_t j = url_end(i, b, json_string);
      if (j > i + 4) return j;
    }
    const char c = s_[i];
    if (c == '/' || c == '~' || c == '.') {
      // a path starts a word: after white space, an opening bracket or quote, or the start (not
      // after "=": "path=/api/items" in a log line stays words, which near-duplicate lines share)
      if (i > 0) {
        const char32_t pc = cur_.before(i);
        if (!(is_hspace(pc) || is_newline(pc) || pc == '(' || pc == '[' || pc == '{' || pc == '"' ||
              pc == '\'' || pc == '<' || pc == 0x201C || pc == 0x2018))
          return i;
      }
      std::size_t p = i + 1;
      if (c == '/') {
        // "/a/b": two segments at least, and a letter
        std::size_t segs = 1, q = p;
        bool letter = false;
        if (!(q < b && path_char(s_[q]))) return i;
        for (; q < b && q - i < 256 && (path_char(s_[q]) || s_[q] == '/'); ++q) {
          letter |= ascii_alpha(s_[q]);
          if (s_[q] == '/' && q + 1 < b && path_char(s_[q + 1])) ++segs;
        }
        if (segs < 2 || !letter) return i;
      } else {
        if (c == '.' && p < b && s_[p] == '.') ++p;  // "../"
        if (!(p + 1 < b && s_[p] == '/' && path_char(s_[p + 1]))) return i;  // "~/", "./"
      }
      const std::size_t j = url_end(i, b, json_string);
      return j > p + 1 ? j : i;
    }
    if (!ascii_alnum(c)) return i;
    // cheap test first: a word without ':', '@', '/' or '\' is none
    {
      bool mark = false;
      for (std::size_t q = i; q < b && q - i < 256; ++q) {
        const char d = s_[q];
        if (d == ':' || d == '@' || d == '/' || d == '\\') {
          mark = true;
          break;
        }
        if (static_cast<unsigned char>(d) <= ' ' || static_cast<unsigned char>(d) >= 0x7F) break;
      }
      if (!mark) return i;
    }
    // scheme://
    if (ascii_alpha(c)) {
      std::size_t q = i + 1;
      while (q < b && q - i < 32 && (ascii_alnum(s_[q]) || s_[q] == '+' || s_[q] == '.' || s_[q] == '-')) ++q;
      if (q + 3 < b && s_.compare(q, 3, "://") == 0 && !is_hspace(cur_.at(q + 3)) && !is_newline(cur_.at(q + 3))) {
        const std::size_t j = url_end(i, b, json_string);
        if (j > q + 3) return j;
      }
    }
    // e-mail address, or an scp-like remote (user@host:path)
    {
      std::size_t q = i;
      while (q < b && q - i < 64 && (atext(s_[q]) || s_[q] == '.')) ++q;
      if (q < b && s_[q] == '@' && s_[q - 1] != '.') {
        std::size_t tld;
        const std::size_t h = host_end(q + 1, b, tld);
        if (h > q + 1) {
          if (h + 1 < b && s_[h] == ':' && (path_char(s_[h + 1]) || s_[h + 1] == '/'))
            return std::max(h, url_end(i, b, json_string));
          return h;
        }
      }
    }
    // C:\dir
    if (!json_string && ascii_alpha(c) && i + 3 < b && s_[i + 1] == ':' && s_[i + 2] == '\\' &&
        path_char(s_[i + 3]))
      return url_end(i, b, json_string);
    // bare domain with a path: docs.python.org/3/library (its last label is letters only)
    {
      std::size_t tld;
      const std::size_t h = host_end(i, b, tld);
      bool letters = h > tld + 1;
      for (std::size_t q = tld; q < h && letters; ++q) letters = ascii_alpha(s_[q]);
      if (h > i && letters && h + 1 < b && s_[h] == '/' && path_char(s_[h + 1])) {
        const std::size_t j = url_end(i, b, json_string);
        if (j > h + 1) return j;
      }
    }
    // relative path with an extension: src/main.cpp (parts of path characters joined by "/",
    // none empty or ending in ".", a letter among them; the last one "name.ext", ext 1-8
    // letters or digits with a letter)
    {
      std::size_t q = i;
      while (q < b && q - i < 256 && (path_char(s_[q]) || s_[q] == '/')) ++q;
      while (q > i && s_[q - 1] == '.') --q;
      const std::string_view run = s_.substr(i, q - i);
      const std::size_t slash = run.rfind('/');
      if (slash == std::string_view::npos || slash + 1 >= run.size()) return i;
      bool ok = run.find("//") == std::string_view::npos && run.find("./") == std::string_view::npos &&
                std::any_of(run.begin(), run.end(), ascii_alpha);
      const std::size_t dot = run.rfind('.');
      if (!ok || dot == std::string_view::npos || dot < slash + 2 || run.size() - dot - 1 > 8) return i;
      bool ext_letter = false;
      for (std::size_t k = dot + 1; k < run.size() && ok; ++k) {
        ok = ascii_alnum(run[k]);
        ext_letter |= ascii_alpha(run[k]);
      }
      if (ok && ext_letter) return std::max(q, url_end(i, b, json_string));
    }
    return i;
  }

  std::size_t url_end(std::size_t i, std::size_t b, bool json_string) const {
    std::size_t j = i;
    int paren = 0;
    while (j < b) {
      int l;
      char32_t c = cur_.at(j, l);
      // CJK / Thai... text after a link has no space before it ("src/main.cpp文件中的函数"): the
      // link ends at the first character of an unspaced script or CJK / fullwidth punctuation
      if (is_hspace(c) || is_newline(c) || c == '<' || c == '>' || c == '"' || c == '`' ||
          (json_string && c == '\\') || is_unspaced_script(c) || (c >= 0x3000 && c <= 0x303F) ||
          (c >= 0xFF00 && c <= 0xFF65))
        break;
      if (c == '(') ++paren;
      if (c == ')') --paren;
      j += l;
    }
    // trailing punctuation belongs to the sentence, not the URL
    while (j > i) {
      char c = s_[j - 1];
      if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
          (c == ')' && paren < 0)) {
        if (c == ')') ++paren;
        --j;
      } else {
        break;
      }
    }
    return j;
  }

  std::size_t word(std::size_t i, std::size_t b, std::uint8_t base, bool json_string) {
    std::size_t j = i;
    bool digit = false, at = false, dot = false;
    char32_t prev = 0;  // the character before j, an escape read as what it spells
    while (j < b) {
      int l;
      char32_t c = char_at(j, b, l, json_string);
      if ((is_alnum(c) && !is_unspaced_script(c)) || is_mark_like(c)) {
        digit |= is_numeral(c);
        prev = c;
        j += l;
        continue;
      }
      if (j == i) break;
      // connectors inside a word: it's, e-mail, snake_case, e.g, 3.14, 1,000, 10:30, 1/2, a@b
      if (c == '\'' || c == 0x2019 || c == '-' || c == '_' || c == '.' || c == ',' || c == ':' ||
          c == '/' || c == '@' || c == '+') {
        int l2;
        char32_t next = char_at(j + l, b, l2, json_string);
        if (l2 == 0 || !(is_alnum(next) && !is_unspaced_script(next))) break;
        const bool digits = is_digit(prev) && is_digit(next);
        if ((c == ',' || c == ':' || c == '/' || c == '+') && !digits) break;
        if (c == '.' && !digits && !(is_alnum(prev) && is_alnum(next))) break;
        at |= c == '@';
        dot |= c == '.';
        prev = c;
        j += l;
        continue;
      }
      break;
    }
    int first_len;
    char32_t first = char_at(i, b, first_len, json_string);
    UnitKind kind = is_digit(first) ? UnitKind::Number : UnitKind::Word;
    if (at && dot) kind = UnitKind::Url;
    std::uint8_t flags = base;
    if (digit) flags |= kHasDigit;
    if (is_upper(first)) flags |= kCapital;
    if (j - i <= kMaxWordBytes) {
      emit(i, j, kind, flags);
      return j;
    }
    // A word longer than kMaxWordBytes (a hash, base64, a run of one letter...) is cut into
    // pieces at character boundaries, so that a budget smaller than the word keeps part of it
    // instead of nothing. A cut never strands a combining mark or a conjunct's second half (up
    // to 30 of them, the stream-safe limit, follow their base). Each piece has its own digit flag.
    std::size_t p = i;
    while (p < j) {
      std::size_t q = p;
      bool piece_digit = false;
      while (q < j && q - p < kMaxWordBytes) {
        int l;
        const char32_t c = char_at(q, j, l, json_string);  // an escape is never cut
        piece_digit |= is_numeral(c);
        // the character and what attaches to it (a joiner at q is taken with its partner); an
        // escape (6 or 12 bytes) is taken whole
        if (l >= 6) q += static_cast<std::size_t>(l);
        else q = absorb_marks(joins_next(c) ? q : q + static_cast<std::size_t>(l), j, 30);
      }
      std::uint8_t f = static_cast<std::uint8_t>(base | (piece_digit ? kHasDigit : 0));
      if (p == i && (flags & kCapital)) f |= kCapital;
      emit(p, q, kind, f);
      p = q;
    }
    return j;
  }

  void emit(std::size_t start, std::size_t end, UnitKind kind, std::uint8_t flags) {
    if (new_chunk_ || out_.chunks.empty()) {
      if (out_.chunks.empty() || out_.chunks.back().last > out_.chunks.back().first) {
        Chunk c;
        c.first = c.last = static_cast<std::uint32_t>(out_.units.size());
        out_.chunks.push_back(c);
      }
      new_chunk_ = false;
    }
    Unit u;
    u.ws = ws_;
    u.start = static_cast<std::uint32_t>(start);
    u.end = static_cast<std::uint32_t>(end);
    u.kind = kind;
    u.flags = flags;
    u.chunk = static_cast<std::uint32_t>(out_.chunks.size() - 1);
    out_.units.push_back(u);
    out_.chunks.back().last = static_cast<std::uint32_t>(out_.units.size());
    ws_ = static_cast<std::uint32_t>(end);
  }

  std::string_view s_;
  Segmentation& out_;
  Cursor cur_{};
  std::uint32_t ws_ = 0;
  bool new_chunk_ = true;
  // caches of code_span (see line_end, build_fences, inline_closer)
  mutable std::size_t nl_from_ = 1, nl_at_ = 0;
  // per fence character ([0] backticks, [1] tildes)
  mutable bool fences_built_[2] = {false, false};
  mutable std::vector<std::pair<std::size_t, std::size_t>> fences_[2];  // (run start, run length)
  mutable std::vector<std::size_t> fence_max_[2];
  mutable std::size_t runs_eol_ = SIZE_MAX, runs_from_ = 0;
  mutable std::vector<std::pair<std::size_t, std::size_t>> runs_;  // (run length, start)
};

struct Dsu {
  std::vector<std::uint32_t> parent;
  explicit Dsu(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  std::uint32_t find(std::uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

bool is_connector(std::string_view w) {
  return w == "of" || w == "de" || w == "del" || w == "da" || w == "van" || w == "von" ||
         w == "la" || w == "le" || w == "du" || w == "&" || w == "al" || w == "bin";
}

// Longest entity group, in words (connectors included): a longer run of capitalised words (a
// Title-Case heading, a list of names) is cut into groups of at most this many, so that a budget
// smaller than the run keeps part of it (one group of 96 Title-Case words left nothing).
constexpr std::size_t kMaxEntityWords = 6;

// Function words that make a run of all-caps words a shouted sentence ("ALL EMPLOYEES MUST WEAR
// ... IN THE LAB"), not a name.
bool is_function_word(std::string_view w) {
  static constexpr std::string_view kWords[] = {
      "a",    "all",  "an",   "and",  "are",  "as",    "at",   "be",     "by",   "can",
      "do",   "every", "for", "from", "has",  "have",  "if",   "in",     "is",   "it",
      "may",  "must", "no",   "not",  "on",   "or",    "our",  "shall",  "should", "that",
      "the",  "this", "to",   "was",  "we",   "were",  "will", "with",   "you",  "your"};
  return one_of(w, kWords);
}

bool all_caps(std::string_view w, const Cursor& cur, std::size_t start) {
  std::size_t letters = 0;
  for (std::size_t i = start; i < start + w.size();) {
    int l;
    char32_t c = cur.at(i, l);
    if (is_lower(c)) return false;
    if (is_upper(c)) ++letters;
    i += l;
  }
  return letters >= 2;
}

// Marks entity-like spans and numeric groups, joining them in the DSU.
void mark_entities(std::string_view s, Segmentation& seg, Dsu& dsu) {
  Cursor cur{reinterpret_cast<const unsigned char*>(s.data()), s.size()};
  auto& u = seg.units;
  const std::size_t n = u.size();
  auto text_of = [&](std::size_t k) { return s.substr(u[k].start, u[k].end - u[k].start); };
  auto chunk_start = [&](std::size_t k) {
    // first word of a sentence/line (ignoring opening quotes, bullets, brackets)
    std::size_t first = seg.chunks[u[k].chunk].first;
    for (std::size_t m = first; m < k; ++m)
      if (u[m].kind != UnitKind::Punct && u[m].kind != UnitKind::Newline) return false;
    return true;
  };
  auto capword = [&](std::size_t k) {
    if (u[k].kind != UnitKind::Word && u[k].kind != UnitKind::Number) return false;
    if (u[k].flags & kStructure) return false;
    if (u[k].flags & kCapital) return true;
    // mixed case (iPhone, eBay) or letters with digits (GPT4, COVID19)
    std::string_view w = text_of(k);
    bool upper_inside = false;
    // from the second code point on (stepping one byte decoded continuation bytes as letters:
    // lowercase Cyrillic, Greek, Arabic and Hebrew words were flagged as entities, and the last
    // byte's "sequence" read past the unit)
    int first_len = 0;
    cur.at(u[k].start, first_len);
    for (std::size_t i = u[k].start + static_cast<std::size_t>(std::max(first_len, 1)); i < u[k].end;) {
      int l;
      char32_t c = cur.at(i, l);
      upper_inside |= is_upper(c);
      i += l;
    }
    return upper_inside && !w.empty();
  };
  std::size_t k = 0;
  while (k < n) {
    if (!capword(k)) {
      ++k;
      continue;
    }
    std::size_t run_end = k + 1, caps = 1;
    for (std::size_t m = k + 1; m < n; ++m) {
      if (u[m].ws == u[m].start || u[m].chunk != u[k].chunk) break;  // needs a space before
      if (capword(m)) {
        ++caps;
        run_end = m + 1;
        continue;
      }
      std::string lw;
      fold_case(text_of(m), lw);
      if (is_connector(lw) && m + 1 < n && capword(m + 1) && u[m + 1].ws < u[m + 1].start) continue;
      break;
    }
    const bool single_ok = !chunk_start(k) || all_caps(text_of(k), cur, u[k].start) ||
                           (u[k].flags & kHasDigit) || !(u[k].flags & kCapital);
    // three or more all-caps words with a function word among them are shouting, not a name
    std::size_t upper_words = 0;
    bool function_word = false;
    for (std::size_t m = k; m < run_end; ++m) {
      // a one-letter "A" / "I" counts as all-caps here
      const std::string_view w = text_of(m);
      const bool caps_word = all_caps(w, cur, u[m].start) ||
                             (w.size() == 1 && w[0] >= 'A' && w[0] <= 'Z');
      if (!caps_word) continue;
      ++upper_words;
      std::string lw;
      fold_case(w, lw);
      function_word |= is_function_word(lw);
    }
    const bool shouting = upper_words >= 3 && function_word;
    if ((caps >= 2 || single_ok) && !shouting) {
      // groups of at most kMaxEntityWords; a connector never ends one
      for (std::size_t g = k; g < run_end;) {
        std::size_t e = std::min(run_end, g + kMaxEntityWords);
        while (e > g + 1 && !capword(e - 1)) --e;
        for (std::size_t m = g; m < e; ++m) {
          u[m].flags |= kEntity;
          if (m > g) dsu.unite(static_cast<std::uint32_t>(g), static_cast<std::uint32_t>(m));
        }
        g = e;
        while (g < run_end && !capword(g)) ++g;  // a connector left between two groups
      }
    }
    k = run_end;
  }
  // arithmetic between numbers stays whole: 1/4*32, 20+12=32, 3x4
  for (std::size_t m = 1; m + 1 < n; ++m) {
    if (u[m].kind != UnitKind::Punct || u[m].ws != u[m].start || u[m + 1].ws != u[m + 1].start)
      continue;
    if (!(u[m - 1].flags & kHasDigit) || !(u[m + 1].flags & kHasDigit)) continue;
    std::string_view p = text_of(m);
    // one operator, or a run of one (2001:db8::1, 2**10, 10//3)
    const bool ascii_op = p.find_first_not_of(p[0]) == std::string_view::npos &&
                          std::string_view("=*+-/x^:").find(p[0]) != std::string_view::npos;
    if (ascii_op || p == "\xC3\x97" || p == "\xC3\xB7" || p == "\xE2\x88\x92" /* − */ ||
        p == "\xE2\x80\x93" /* – */ || p == "\xE2\x81\x84" /* ⁄ fraction slash */) {
      dsu.unite(static_cast<std::uint32_t>(m - 1), static_cast<std::uint32_t>(m));
      dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 1));
    }
  }
  // spaced operators between numbers stay whole: 5 < 7, 32 = 8, x ≠ 3, 10 % 3, 5 <= 7 (one of the
  // operands may be a one-letter variable; the unspaced ones are joined above)
  auto operand = [&](std::size_t k) {
    if (u[k].flags & kHasDigit) return 2;
    const std::string_view w = text_of(k);
    return (u[k].kind == UnitKind::Word && w.size() == 1 && ((w[0] | 0x20) >= 'a' && (w[0] | 0x20) <= 'z')) ? 1 : 0;
  };
  auto is_operator = [](std::string_view p) {
    static constexpr std::string_view kOps[] = {
        "=", "==", "<", ">", "+", "-", "*", "/", "^", "%",
        "\xE2\x89\xA4" /* ≤ */, "\xE2\x89\xA5" /* ≥ */, "\xE2\x89\xA0" /* ≠ */, "\xE2\x89\x88" /* ≈ */,
        "\xE2\x88\x92" /* − */, "\xC3\x97" /* × */, "\xC3\xB7" /* ÷ */};
    return one_of(p, kOps);
  };
  for (std::size_t m = 1; m + 1 < n; ++m) {
    if (u[m].kind != UnitKind::Punct || u[m].chunk != u[m - 1].chunk) continue;
    std::string_view p = text_of(m);
    std::size_t last = m;  // "<=", ">=", "!=": two touching units
    if ((p == "<" || p == ">" || p == "!") && m + 2 < n && u[m + 1].ws == u[m + 1].start &&
        text_of(m + 1) == "=") {
      last = m + 1;
    } else if (!is_operator(p)) {
      continue;
    }
    const std::size_t r = last + 1;
    if (r >= n || u[r].chunk != u[m].chunk) continue;
    const int a = operand(m - 1), z = operand(r);
    if (a == 0 || z == 0 || a + z < 3) continue;  // a number on one side at least
    for (std::size_t k = m; k <= r; ++k)
      dsu.unite(static_cast<std::uint32_t>(m - 1), static_cast<std::uint32_t>(k));
  }
  // a number keeps its scale word (4.5 million, 3 bn, 20 percent, 5 per cent, 10 k) and a date
  // its month name (May 12, 2024; 12 May 2024; Jan 2020): English words, spaced from the number
  auto lower_word = [&](std::size_t k, std::string& w) {
    w.clear();
    if (u[k].kind != UnitKind::Word || (u[k].flags & kStructure) || u[k].end - u[k].start > 12) return false;
    fold_case(text_of(k), w);
    return true;
  };
  auto is_scale = [](std::string_view w) {
    static constexpr std::string_view kScale[] = {
        "hundred", "thousand", "million", "billion", "trillion", "hundreds", "thousands",
        "millions", "billions", "trillions", "percent", "pct", "bn", "mn", "mln", "m", "k", "tn"};
    return one_of(w, kScale);
  };
  auto is_month = [](std::string_view w) {
    static constexpr std::string_view kMonths[] = {
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec"};
    return one_of(w, kMonths);
  };
  auto number = [&](std::size_t k) { return u[k].kind == UnitKind::Number && !(u[k].flags & kStructure); };
  // k and k + 1 in one chunk, with white space between them
  auto spaced = [&](std::size_t k) {
    return k + 1 < n && u[k + 1].chunk == u[k].chunk && u[k + 1].ws < u[k + 1].start;
  };
  std::string w;
  for (std::size_t m = 0; m < n; ++m) {
    if (number(m) && spaced(m) && lower_word(m + 1, w)) {
      if (is_scale(w)) {
        dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 1));
      } else if (w == "per" && spaced(m + 1) && lower_word(m + 2, w) && w == "cent") {
        dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 1));
        dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 2));
      }
    }
    // a capitalised month name with the number before it and the one after it, and the year
    // after "May 12,"
    if (!(u[m].flags & kCapital) || !lower_word(m, w) || !is_month(w)) continue;
    if (m > 0 && number(m - 1) && spaced(m - 1))
      dsu.unite(static_cast<std::uint32_t>(m - 1), static_cast<std::uint32_t>(m));
    if (!(spaced(m) && number(m + 1))) continue;
    dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 1));
    if (m + 3 < n && text_of(m + 2) == "," && u[m + 2].ws == u[m + 2].start && spaced(m + 2) &&
        number(m + 3) && text_of(m + 3).size() == 4) {
      dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 2));
      dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 3));
    }
  }
  // citation markers stay whole: [3], [12], [1, 2], [4-6] (a dropped bracket let "1998.[3]"
  // become "1998.3")
  for (std::size_t m = 0; m + 2 < n; ++m) {
    if (u[m].kind != UnitKind::Punct || text_of(m) != "[") continue;
    bool number = false, closed = false;
    std::size_t q = m + 1;
    for (; q < n && q - m <= 16; ++q) {
      const std::string_view p = text_of(q);
      // no space inside, except after a comma
      if (u[q].ws != u[q].start && !(q > m + 1 && text_of(q - 1) == ",")) break;
      if (u[q].kind == UnitKind::Number) {
        number = true;
        continue;
      }
      if (p == "]") {
        closed = true;
        break;
      }
      if (u[q].kind != UnitKind::Punct || !(p == "," || p == "-" || p == "\xE2\x80\x93")) break;
    }
    if (!(number && closed)) continue;
    for (std::size_t r = m + 1; r <= q; ++r)
      dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(r));
    m = q;
  }
  // numbers with their sign/currency/percent: $5, -3, −3 (U+2212), -$5, $-5, 20%, 5°C, 5€
  auto one_cp = [&](std::size_t k, char32_t& cp) {
    int l;
    cp = cur.at(u[k].start, l);
    return l > 0 && u[k].start + static_cast<std::uint32_t>(l) == u[k].end;
  };
  auto is_currency = [&](std::size_t k) {
    char32_t cp;
    return one_cp(k, cp) && (cp == '$' || (cp >= 0x80 && text::general_category(cp) == GeneralCategory::Sc));
  };
  auto is_sign = [&](std::size_t k) {
    char32_t cp;
    return one_cp(k, cp) && (cp == '-' || cp == '+' || cp == '#' || cp == '~' || cp == 0x2212 ||
                             cp == 0xB1 || cp == 0xFE63 || cp == 0xFF0D || cp == 0xFF0B);
  };
  for (std::size_t m = 0; m < n; ++m) {
    if (u[m].kind != UnitKind::Number) continue;
    // up to two prefixes, each touching what follows it: a sign and a currency in either order
    for (std::size_t k = m, steps = 0; k > 0 && steps < 2; --k, ++steps) {
      if (u[k - 1].kind != UnitKind::Punct || u[k].ws != u[k].start) break;
      if (!is_sign(k - 1) && !is_currency(k - 1)) break;
      dsu.unite(static_cast<std::uint32_t>(k - 1), static_cast<std::uint32_t>(m));
    }
    if (m + 1 < n && u[m + 1].kind == UnitKind::Punct && u[m + 1].chunk == u[m].chunk) {
      // touching, or "20 %" spaced
      std::string_view p = text_of(m + 1);
      const bool touching = u[m + 1].ws == u[m + 1].start;
      if (p == "%" || (touching && (p == "\xC2\xB0" || p == "\xE2\x80\xB0" || is_currency(m + 1))))
        dsu.unite(static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m + 1));
    }
  }
}

}  // namespace

void fold_case(std::string_view word, std::string& out) {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(word.data());
  for (std::size_t i = 0; i < word.size();) {
    unsigned char b = p[i];
    if (b < 0x80) {
      out.push_back(static_cast<char>((b >= 'A' && b <= 'Z') ? b + 32 : b));
      ++i;
      continue;
    }
    int len = text::utf8_seq_len(b);
    if (i + len > word.size()) {  // defensive: copy a truncated tail as is
      out.append(word.substr(i));
      break;
    }
    char32_t c = text::decode_utf8(p + i, len);
    text::append_utf8(out, fold_cp(c));
    i += len;
  }
}

Segmentation segment(std::string_view text, const SegmentOptions& options) {
  TOKENOPS_CHECK(text.size() < 0xFFFFFFF0u, InvalidArgument, "text of ", text.size(),
                 " bytes is too long to compress (limit 4 GiB); split it first");
  Segmentation seg;
  seg.units.reserve(text.size() / 4 + 8);
  Builder b(text, seg);
  if (options.json) {
    std::vector<io::JsonStringSpan> spans = io::json_string_spans(text);
    std::size_t pos = 0;
    for (const auto& sp : spans) {
      // The quote before a value and the value's contents are separate regions; keys are
      // structure, quotes included.
      if (sp.is_key) continue;
      b.run(pos, sp.begin, /*structure=*/true, false);
      b.run(sp.begin, sp.end, /*structure=*/false, /*json_string=*/true);
      pos = sp.end;
    }
    b.run(pos, text.size(), true, false);
  } else {
    b.run(0, text.size(), false, false);
  }
  // Horizontal whitespace at the very end belongs to no unit: attach it to the last unit's
  // content so that the units tile the text.
  if (!seg.units.empty()) seg.units.back().end = static_cast<std::uint32_t>(text.size());
  if (!seg.chunks.empty() && seg.chunks.back().last == seg.chunks.back().first)
    seg.chunks.pop_back();

  Dsu dsu(seg.units.size());
  mark_entities(text, seg, dsu);
  // user-protected spans: every overlapping unit is protected and they go together
  for (const auto& [a, z] : options.protected_spans) {
    TOKENOPS_CHECK(a <= z && z <= text.size(), InvalidArgument, "protected span [", a, ", ", z,
                   ") is outside the text of ", text.size(), " bytes");
    if (a == z) continue;
    auto it = std::upper_bound(seg.units.begin(), seg.units.end(), a,
                               [](std::uint32_t v, const Unit& u) { return v < u.end; });
    std::uint32_t first = kNoGroup;
    for (; it != seg.units.end() && it->start < z; ++it) {
      if (it->end <= a) continue;
      it->flags |= kProtected;
      auto idx = static_cast<std::uint32_t>(it - seg.units.begin());
      if (first == kNoGroup) first = idx;
      else dsu.unite(first, idx);
    }
  }
  // compact group ids: only multi-unit groups get one
  std::vector<std::uint32_t> size(seg.units.size(), 0);
  for (std::uint32_t k = 0; k < seg.units.size(); ++k) ++size[dsu.find(k)];
  std::vector<std::uint32_t> id(seg.units.size(), kNoGroup);
  std::uint32_t next = 0;
  for (std::uint32_t k = 0; k < seg.units.size(); ++k) {
    std::uint32_t r = dsu.find(k);
    if (size[r] < 2) continue;
    if (id[r] == kNoGroup) id[r] = next++;
    seg.units[k].group = id[r];
  }
  seg.n_groups = next;
  return seg;
}

std::vector<std::string> word_list(std::string_view text) {
  Segmentation seg = segment(text);
  std::vector<std::string> out;
  out.reserve(seg.units.size());
  std::string w;
  for (const auto& c : seg.chunks) {
    out.emplace_back("<s>");
    for (std::uint32_t k = c.first; k < c.last; ++k) {
      const Unit& u = seg.units[k];
      if (u.kind == UnitKind::Number) {
        out.emplace_back("<num>");
      } else if (u.kind == UnitKind::Word || u.kind == UnitKind::Char) {
        fold_case(text.substr(u.start, u.end - u.start), w);
        out.push_back(w);
      }
    }
  }
  return out;
}

}  // namespace tokenops::compress
