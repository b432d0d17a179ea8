#include "tokenops/cache/guard.hpp"

#include <algorithm>
#include <array>

#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::cache {
namespace {

using text::GeneralCategory;

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

bool is_word_char(char32_t cp) {
  if (cp < 128) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  return (text::char_class_bmp(cp) & (text::kLetter | text::kNumber | text::kMark)) != 0;
}

bool is_upper(char32_t cp) {
  if (cp < 128) return cp >= 'A' && cp <= 'Z';
  GeneralCategory g = text::general_category(cp);
  return g == GeneralCategory::Lu || g == GeneralCategory::Lt;
}

bool is_lower(char32_t cp) {
  if (cp < 128) return cp >= 'a' && cp <= 'z';
  return text::general_category(cp) == GeneralCategory::Ll;
}

bool is_apostrophe(char32_t cp) { return cp == '\'' || cp == 0x2019; }

// Negation cues, case-folded; words ending in n't (and the apostrophe-less forms users type) too.
constexpr std::array<std::string_view, 13> kNegations = {
    "not", "no", "never", "nor", "neither", "none", "nobody", "nothing", "nowhere", "cannot",
    "without", "nope", "nah"};
constexpr std::array<std::string_view, 18> kBareNegations = {
    "dont", "cant", "wont", "isnt", "arent", "doesnt", "didnt", "wasnt", "werent", "shouldnt",
    "couldnt", "wouldnt", "havent", "hasnt", "hadnt", "aint", "mustnt", "neednt"};

bool is_negation(std::string_view w) {
  if (w.size() >= 3 && w.substr(w.size() - 3) == "n't") return true;
  for (auto n : kNegations)
    if (w == n) return true;
  for (auto n : kBareNegations)
    if (w == n) return true;
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// "1,000" -> "1000", "3.0" -> "3", "007" -> "7"; a fraction with a nonzero digit keeps its zeros
// ("3.10" is not "3.1": it may be a version) and a run with several dots is kept as written
// ("1.0.0", "10.0.0.1").
std::string normalise_number(std::string_view run) {
  std::string s;
  s.reserve(run.size());
  for (char c : run)
    if (c != ',') s.push_back(c);
  std::size_t dot = s.find('.');
  if (dot != std::string::npos && s.find('.', dot + 1) != std::string::npos) return s;
  if (dot != std::string::npos && s.find_first_not_of('0', dot + 1) == std::string::npos) s.resize(dot);
  std::size_t lead = 0;
  std::size_t int_end = std::min(s.find('.'), s.size());
  while (lead + 1 < int_end && s[lead] == '0') ++lead;
  return s.substr(lead);
}

// Numbers: digit runs with thousands groups (",ddd") and decimal points. A sign ("-5", U+2212
// minus) counts where the minus does not follow a letter or digit ("5-10" is a range, "GPT-4" a
// name); ".5" is 0.5; letters right after the digits are part of it ("5am" / "5pm", "10k",
// "GPT-4o"), lower-cased.
void scan_numbers(std::string_view t, std::vector<std::string>& out) {
  static constexpr std::string_view kMinus = "\xE2\x88\x92";
  auto word_at = [&](std::size_t k) { return is_digit(t[k]) || is_ascii_letter(t[k]); };
  std::size_t i = 0;
  while (i < t.size()) {
    if (!is_digit(t[i])) {
      ++i;
      continue;
    }
    std::size_t p = i;  // where the number starts: a "." or a minus after a non-word goes with it
    bool leading_dot = p >= 1 && t[p - 1] == '.' && (p < 2 || !word_at(p - 2));
    if (leading_dot) --p;
    bool negative = (p >= 1 && t[p - 1] == '-' && (p < 2 || !word_at(p - 2))) ||
                    (p >= 3 && t.compare(p - 3, 3, kMinus) == 0 && (p < 4 || !word_at(p - 4)));
    std::size_t j = i;
    bool fraction = leading_dot;
    while (j < t.size()) {
      if (is_digit(t[j])) {
        ++j;
      } else if (t[j] == ',' && !fraction && j + 3 < t.size() && is_digit(t[j + 1]) && is_digit(t[j + 2]) &&
                 is_digit(t[j + 3]) && (j + 4 == t.size() || !is_digit(t[j + 4]))) {
        j += 4;  // a thousands group: exactly three digits ("1,2" is two numbers)
      } else if (t[j] == '.' && j + 1 < t.size() && is_digit(t[j + 1])) {
        fraction = true;
        j += 1;
      } else {
        break;
      }
    }
    std::string run(t.substr(i, j - i));
    std::string num = normalise_number(leading_dot ? "0." + run : run);
    if (negative) num.insert(0, "-");
    while (j < t.size() && is_ascii_letter(t[j])) {  // "5am", "10k": the letters are part of it
      num.push_back(t[j] >= 'A' && t[j] <= 'Z' ? static_cast<char>(t[j] - 'A' + 'a') : t[j]);
      ++j;
    }
    out.push_back(std::move(num));
    i = j;
  }
}

// The text with every non-ASCII decimal digit (general category Nd: fullwidth "１２",
// Arabic-Indic, Devanagari...) as its ASCII digit, so the numbers guard reads "２０２４" as 2024.
// Unicode encodes each script's digits 0-9 as a contiguous run (the mathematical digits as five
// runs back to back), so a digit's value is its distance from the start of its block, mod 10.
std::string ascii_digits(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  std::size_t i = 0;
  while (i < t.size()) {
    auto b = static_cast<unsigned char>(t[i]);
    if (b < 0x80) {
      out.push_back(t[i++]);
      continue;
    }
    int len = 1;
    char32_t cp = text::decode_utf8(reinterpret_cast<const unsigned char*>(t.data() + i), len);
    if (text::general_category(cp) == GeneralCategory::Nd) {
      char32_t start = cp;
      while (start > 0 && cp - start < 64 && text::general_category(start - 1) == GeneralCategory::Nd) --start;
      out.push_back(static_cast<char>('0' + (cp - start) % 10));
    } else {
      out.append(t.substr(i, static_cast<std::size_t>(len)));
    }
    i += static_cast<std::size_t>(len);
  }
  return out;
}

// ASCII case folded, whitespace runs as one space, trimmed: how quoted spans are compared.
std::string fold(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  bool space = false;
  for (char c : t) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

bool is_alnum_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80;
}

std::size_t count_alnum(std::string_view t) {
  std::size_t n = 0;
  for (char c : t) n += is_alnum_byte(c) ? 1 : 0;
  return n;
}

// Quoted spans; a quotation that is the whole prompt (at most 3 letters or digits outside it, as
// in `"What is GitHub?"?`) is the question itself, not a payload, and is left out.
void scan_quoted(std::string_view t, std::vector<std::string>& out) {
  const std::size_t total_alnum = count_alnum(t);
  static constexpr std::string_view kOpenCurly = "\xE2\x80\x9C", kCloseCurly = "\xE2\x80\x9D";
  // A closing delimiter not found once is not found later either: remember it, so that a text of
  // unmatched openers stays linear.
  bool no_close[4] = {false, false, false, false};
  std::size_t i = 0;
  while (i < t.size()) {
    std::string_view open, close;
    int kind;
    if (t.compare(i, 3, "```") == 0) {
      open = close = "```";
      kind = 0;
    } else if (t[i] == '`') {
      open = close = "`";
      kind = 1;
    } else if (t[i] == '"') {
      open = close = "\"";
      kind = 2;
    } else if (t.compare(i, 3, kOpenCurly) == 0) {
      open = kOpenCurly;
      close = kCloseCurly;
      kind = 3;
    } else {
      ++i;
      continue;
    }
    std::size_t end = no_close[kind] ? std::string_view::npos : t.find(close, i + open.size());
    if (end == std::string_view::npos) {  // unmatched: not a quotation
      no_close[kind] = true;
      i += open.size();
      continue;
    }
    std::string_view raw = t.substr(i + open.size(), end - i - open.size());
    std::string inner = fold(raw);
    if (!inner.empty() && total_alnum - count_alnum(raw) > 3) out.push_back(std::move(inner));
    i = end + close.size();
  }
}

// Knuth-Morris-Pratt: linear in |hay| + |needle| whatever the input.
bool contains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  std::vector<std::size_t> fail(needle.size(), 0);
  for (std::size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = fail[k - 1];
    if (needle[i] == needle[k]) ++k;
    fail[i] = k;
  }
  for (std::size_t i = 0, k = 0; i < hay.size(); ++i) {
    while (k > 0 && hay[i] != needle[k]) k = fail[k - 1];
    if (hay[i] == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// Every quoted span of `a` is a quoted span of `b` or occurs in b's folded text (the same phrase
// quoted in one prompt and not in the other is no mismatch). At most kMaxChecks spans are looked
// for in the text (each look costs a pass over it); any beyond those is a mismatch.
bool quotes_covered(const Signature& a, const Signature& b) {
  constexpr int kMaxChecks = 64;
  int checks = 0;
  for (const auto& q : a.quoted) {
    if (std::binary_search(b.quoted.begin(), b.quoted.end(), q)) continue;
    if (++checks > kMaxChecks || !contains(b.folded, q)) return false;
  }
  return true;
}

// Words a period follows without ending the sentence: a lower-case single letter (the parts of
// "e.g.", "i.e.") and the usual English titles and "vs". Not "etc." (it often ends a sentence)
// nor a capital letter ("J. K. Rowling" and "I got an A. Great!" look alike).
bool is_abbreviation(const std::string& w) {
  if (w.size() == 1) return (w[0] >= 'a' && w[0] <= 'z');
  static constexpr std::string_view kWords[] = {"dr", "jr", "mr", "mrs", "ms", "prof", "sr", "st", "vs"};
  return std::find(std::begin(kWords), std::end(kWords), std::string_view(w)) != std::end(kWords);
}

bool sorted_includes(const std::vector<std::string>& haystack, const std::vector<std::string>& needles) {
  for (const auto& n : needles)
    if (!std::binary_search(haystack.begin(), haystack.end(), n)) return false;
  return true;
}

}  // namespace

Signature signature(std::string_view t) {
  text::require_valid_utf8(t, "prompt");
  Signature s;
  bool sentence_start = true;
  bool abbreviation = false;  // the last word, if it ends right here, is one a period does not end a sentence after
  std::size_t word_end = std::string::npos;
  std::size_t i = 0;
  while (i < t.size()) {
    int len = 1;
    char32_t cp = text::decode_utf8(reinterpret_cast<const unsigned char*>(t.data() + i), len);
    if (!is_word_char(cp)) {
      // "e.g. Python", "Dr. Smith", "J. K. Rowling": the period closes an abbreviation or an
      // initial, and the capitalised word after it is still a name
      const bool abbrev_period = cp == '.' && word_end == i && abbreviation;
      if ((cp == '.' && !abbrev_period) || cp == '!' || cp == '?' || cp == ':' || cp == ';' || cp == '\n' ||
          cp == 0x3002)
        sentence_start = true;
      i += static_cast<std::size_t>(len);
      continue;
    }
    // A word: word characters, with apostrophes between them.
    std::string lowered;
    std::size_t letters = 0, uppers = 0;
    bool inner_upper = false, first_upper = is_upper(cp), prev_lower = false;
    std::size_t j = i;
    while (j < t.size()) {
      int l = 1;
      char32_t c = text::decode_utf8(reinterpret_cast<const unsigned char*>(t.data() + j), l);
      if (is_apostrophe(c)) {
        int l2 = 1;
        std::size_t k = j + static_cast<std::size_t>(l);
        if (k >= t.size()) break;
        char32_t next = text::decode_utf8(reinterpret_cast<const unsigned char*>(t.data() + k), l2);
        if (!is_word_char(next)) break;
        lowered.push_back('\'');
        j = k;
        prev_lower = false;
        continue;
      }
      if (!is_word_char(c)) break;
      bool up = is_upper(c);
      if (up || is_lower(c)) ++letters;
      if (up) {
        ++uppers;
        if (prev_lower) inner_upper = true;
      }
      prev_lower = is_lower(c);
      if (c >= 'A' && c <= 'Z') {
        lowered.push_back(static_cast<char>(c - 'A' + 'a'));
      } else {
        lowered.append(t.substr(j, static_cast<std::size_t>(l)));
      }
      j += static_cast<std::size_t>(l);
    }
    // a possessive is its noun: "YAF's" / "YAF", "Python’s" / "python"
    if (lowered.size() > 2 && lowered.compare(lowered.size() - 2, 2, "'s") == 0) lowered.resize(lowered.size() - 2);
    bool acronym = letters >= 2 && uppers == letters;
    bool pronoun_i = lowered == "i" || lowered.rfind("i'", 0) == 0;
    const bool title = lowered.size() > 1 && is_abbreviation(lowered);  // "Dr", "Mrs": a title, not a name
    bool name = first_upper && !sentence_start && !pronoun_i && !title;
    if (acronym || inner_upper || name) s.entities.push_back(lowered);
    if (is_negation(lowered)) s.negated = true;
    abbreviation = title || (lowered.size() == 1 && !first_upper && is_abbreviation(lowered));  // "A." may end one
    word_end = j;
    s.words.push_back(std::move(lowered));
    sentence_start = false;
    i = j;
  }
  bool ascii = std::all_of(t.begin(), t.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  scan_numbers(ascii ? std::string(t) : ascii_digits(t), s.numbers);
  scan_quoted(t, s.quoted);
  s.folded = fold(t);
  sort_unique(s.numbers);
  sort_unique(s.entities);
  sort_unique(s.words);
  sort_unique(s.quoted);
  return s;
}

std::uint32_t mismatch(const Signature& a, const Signature& b, std::uint32_t guards) noexcept {
  std::uint32_t failed = 0;
  if ((guards & kGuardNumbers) && a.numbers != b.numbers) failed |= kGuardNumbers;
  if ((guards & kGuardNegation) && a.negated != b.negated) failed |= kGuardNegation;
  if ((guards & kGuardEntities) &&
      !(sorted_includes(b.words, a.entities) && sorted_includes(a.words, b.entities)))
    failed |= kGuardEntities;
  if ((guards & kGuardQuoted) && a.quoted != b.quoted && !(quotes_covered(a, b) && quotes_covered(b, a)))
    failed |= kGuardQuoted;
  return failed;
}

std::uint32_t mismatch(std::string_view a, std::string_view b, std::uint32_t guards) {
  return mismatch(signature(a), signature(b), guards);
}

}  // namespace tokenops::cache
