#pragma once
// Hand-written pre-tokenizers, one per pattern family of the supported encodings. No regex engine
// and no backtracking: each function finds the end of the piece that starts at `pos` by the same
// leftmost-first rules as the reference pattern, in time linear in the length of the piece. The
// patterns (verbatim from tiktoken's openai_public.py and Meta's llama3 tokenizer.py):
//
//  R50K   '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
//  CL100K '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
//         |\s++$|\s*[\r\n]|\s+(?!\S)|\s
//  LLAMA3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
//         |\s*[\r\n]+|\s+(?!\S)|\s+          (= CL100K without the \s++$ alternative)
//  O200K  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//         |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//         |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  TEKKEN O200K without the contraction suffixes and with single digits (\p{N} for \p{N}{1,3}):
//         Mistral's tekken tokenizers (mistral_common's tekken_*.json "pattern")
//
// The character classes come from tables pinned to the Unicode version of the reference regex
// engine (text/unicode.hpp); tests/python/test_unicode_tables.py checks every code point.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::tokenizer {

enum class PreTokenizer : std::uint8_t { R50K = 0, CL100K = 1, LLAMA3 = 2, O200K = 3, TEKKEN = 4 };

/// Parses a family name ("r50k", "cl100k", "llama3", "o200k", "tekken"); throws InvalidArgument
/// otherwise.
PreTokenizer pretokenizer_from_name(std::string_view name);
const char* pretokenizer_name(PreTokenizer p) noexcept;

namespace pretok {

using text::kCrLf;
using text::kLetter;
using text::kLowerish;
using text::kMark;
using text::kNumber;
using text::kSpace;
using text::kUpperish;

/// A cursor over valid UTF-8 that yields (class bits, byte length) of the code point at i.
struct Text {
  const unsigned char* s;
  std::size_t n;

  struct Char {
    std::uint8_t cls;
    std::uint8_t len;
    char32_t cp;
  };

  [[gnu::always_inline]] inline Char at(std::size_t i) const noexcept {
    unsigned char b = s[i];
    if (b < 0x80) return {text::detail::kAsciiClass[b], 1, b};
    int len;
    char32_t cp = text::decode_utf8(s + i, len);
    return {text::char_class_bmp(cp), static_cast<std::uint8_t>(len), cp};
  }
  inline std::uint8_t cls(std::size_t i) const noexcept { return i < n ? at(i).cls : 0; }
};

constexpr std::uint8_t kLN = kLetter | kNumber;

// Punctuation-like: not \s, not \p{L}, not \p{N}.
inline bool is_punct(std::uint8_t c) noexcept { return (c & (kSpace | kLN)) == 0; }

inline bool is_s_ci(char32_t c) noexcept { return c == 's' || c == 'S' || c == 0x017F; }
inline bool ieq(char32_t c, char lower) noexcept {
  return c == static_cast<char32_t>(lower) || c == static_cast<char32_t>(lower - 32);
}

/// Length in bytes of a contraction at i (starting with '\''), or 0. `ci`: case-insensitive as
/// in (?i:...), where 's' also matches U+017F LATIN SMALL LETTER LONG S (Unicode simple folding).
inline std::size_t contraction(const Text& t, std::size_t i, bool ci) noexcept {
  if (i + 1 >= t.n || t.s[i] != '\'') return 0;
  Text::Char c1 = t.at(i + 1);
  char32_t a = c1.cp;
  if (ci) {
    if (is_s_ci(a) || ieq(a, 'd') || ieq(a, 'm') || ieq(a, 't')) return 1 + c1.len;
  } else if (a == 's' || a == 'd' || a == 'm' || a == 't') {
    return 2;
  }
  std::size_t j = i + 1 + c1.len;
  if (j >= t.n) return 0;
  unsigned char b = t.s[j];  // second letter of ll/ve/re is ASCII in every case variant
  if (ci) {
    if ((ieq(a, 'l') && (b == 'l' || b == 'L')) || (ieq(a, 'v') && (b == 'e' || b == 'E')) ||
        (ieq(a, 'r') && (b == 'e' || b == 'E')))
      return j + 1 - i;
  } else if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e')) {
    return 3;
  }
  return 0;
}

/// End of the maximal run of characters whose class intersects `mask`, starting at i.
inline std::size_t run(const Text& t, std::size_t i, std::uint8_t mask) noexcept {
  while (i < t.n) {
    unsigned char b = t.s[i];
    if (b < 0x80) {
      if (!(text::detail::kAsciiClass[b] & mask)) break;
      ++i;
      continue;
    }
    Text::Char c = t.at(i);
    if (!(c.cls & mask)) break;
    i += c.len;
  }
  return i;
}

/// Whitespace run starting at i (t.s[i] is whitespace): returns its end and, through the
/// out-parameters, the start of its last character and the end of its last \r or \n (0 if none).
inline std::size_t space_run(const Text& t, std::size_t i, std::size_t& last_start,
                             std::size_t& last_crlf_end) noexcept {
  last_crlf_end = 0;
  last_start = i;
  while (i < t.n) {
    Text::Char c = t.at(i);
    if (!(c.cls & kSpace)) break;
    last_start = i;
    i += c.len;
    if (c.cls & kCrLf) last_crlf_end = i;
  }
  return i;
}


/// \p{N}{1,3} at pos (c0 is the number at pos).
inline std::size_t digits_1_3(const Text& t, std::size_t pos, const Text::Char& c0) noexcept {
  std::size_t i = pos + c0.len;
  for (int k = 1; k < 3 && i < t.n; ++k) {
    Text::Char c = t.at(i);
    if (!(c.cls & kNumber)) break;
    i += c.len;
  }
  return i;
}

/// ` ?[^\s\p{L}\p{N}]+` then the trailing run of [\r\n] (plus '/' for o200k), or 0 when the
/// alternative does not match at pos.
template <bool kSlash>
inline std::size_t punct_piece(const Text& t, std::size_t pos, const Text::Char& c0) noexcept {
  std::size_t q = pos;
  if (c0.cp == ' ' && pos + 1 < t.n && is_punct(t.cls(pos + 1))) q = pos + 1;
  if (q == pos && !is_punct(c0.cls)) return 0;
  std::size_t i = q;
  while (i < t.n) {
    Text::Char c = t.at(i);
    if (!is_punct(c.cls)) break;
    i += c.len;
  }
  while (i < t.n && (t.s[i] == '\r' || t.s[i] == '\n' || (kSlash && t.s[i] == '/'))) ++i;
  return i;
}

// ------------------------------------------------------------------------------------------
// ASCII fast paths. Each returns the end of the piece at pos when the decision only involves
// ASCII bytes, and 0 when it meets a byte >= 0x80 (the general path then redoes the piece).
// ------------------------------------------------------------------------------------------
constexpr std::uint8_t kNonAscii = 0x80;

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b) t[b] = b < 128 ? text::detail::kAsciiClass[b] : kNonAscii;
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kByteClass = make_byte_classes();

// Runs of one ASCII byte class (lower case, upper case, letters, white space), found a block at
// a time: one compare per byte and a count of trailing ones, instead of a loop whose exit (the
// word's unpredictable length) the branch predictor misses once per piece. Blocks are read only
// where they lie wholly inside the text; the bytes after the last full block take the plain loop,
// which is also the whole implementation in builds without SSE2.
#if defined(__AVX2__)
constexpr std::size_t kBlock = 32;
using BlockBits = std::uint32_t;
using BlockVec = __m256i;
[[gnu::always_inline]] inline BlockVec load_block(const unsigned char* p) noexcept {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
/// Bit k set when lo <= p[k] <= hi (unsigned).
[[gnu::always_inline]] inline BlockBits in_range(BlockVec v, unsigned char lo,
                                                 unsigned char hi) noexcept {
  const __m256i x = _mm256_sub_epi8(v, _mm256_set1_epi8(static_cast<char>(lo)));
  const __m256i top = _mm256_set1_epi8(static_cast<char>(hi - lo));
  const __m256i m = _mm256_cmpeq_epi8(_mm256_min_epu8(x, top), x);
  return static_cast<BlockBits>(_mm256_movemask_epi8(m));
}
[[gnu::always_inline]] inline BlockVec fold_case(BlockVec v) noexcept {
  return _mm256_or_si256(v, _mm256_set1_epi8(0x20));
}
[[gnu::always_inline]] inline BlockBits equal_to(BlockVec v, unsigned char c) noexcept {
  return static_cast<BlockBits>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(static_cast<char>(c)))));
}
#elif defined(__SSE2__)
constexpr std::size_t kBlock = 16;
using BlockBits = std::uint32_t;
using BlockVec = __m128i;
[[gnu::always_inline]] inline BlockVec load_block(const unsigned char* p) noexcept {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
[[gnu::always_inline]] inline BlockBits in_range(BlockVec v, unsigned char lo,
                                                 unsigned char hi) noexcept {
  const __m128i x = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>(lo)));
  const __m128i top = _mm_set1_epi8(static_cast<char>(hi - lo));
  const __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, top), x);
  return static_cast<BlockBits>(_mm_movemask_epi8(m));
}
[[gnu::always_inline]] inline BlockVec fold_case(BlockVec v) noexcept {
  return _mm_or_si128(v, _mm_set1_epi8(0x20));
}
[[gnu::always_inline]] inline BlockBits equal_to(BlockVec v, unsigned char c) noexcept {
  return static_cast<BlockBits>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(c)))));
}
#else
constexpr std::size_t kBlock = 0;
#endif
#if defined(__AVX2__) || defined(__SSE2__)
/// Length of the run of set bits from bit 0 (kBlock when all are set).
[[gnu::always_inline]] inline std::size_t ones_run(BlockBits bits) noexcept {
  const std::uint64_t x = ~static_cast<std::uint64_t>(bits);  // bit kBlock and up: zero-ended
  return static_cast<std::size_t>(__builtin_ctzll(x));
}
#endif

/// The byte sets spanned a block at a time.
enum class Span : std::uint8_t { kLower, kUpper, kAlpha };

template <Span S>
[[gnu::always_inline]] inline bool in_span(unsigned char b) noexcept {
  if constexpr (S == Span::kLower) return b >= 'a' && b <= 'z';
  else if constexpr (S == Span::kUpper) return b >= 'A' && b <= 'Z';
  else return static_cast<unsigned char>((b | 0x20) - 'a') < 26;
}

/// End of the run of bytes of set S that starts at i.
template <Span S>
[[gnu::always_inline]] inline std::size_t span(const unsigned char* s, std::size_t n,
                                               std::size_t i) noexcept {
#if defined(__AVX2__) || defined(__SSE2__)
  while (i + kBlock <= n) {
    const BlockVec v = load_block(s + i);
    BlockBits bits;
    if constexpr (S == Span::kLower) bits = in_range(v, 'a', 'z');
    else if constexpr (S == Span::kUpper) bits = in_range(v, 'A', 'Z');
    else bits = in_range(fold_case(v), 'a', 'z');
    const std::size_t k = ones_run(bits);
    if (k < kBlock) return i + k;
    i += kBlock;
  }
#endif
  while (i < n && in_span<S>(s[i])) ++i;
  return i;
}

/// End of the run of ASCII bytes whose class intersects mask; sets `stop` to the class of the
/// byte that ended it (kNonAscii for a non-ASCII byte, 0 at the end of the text).
[[gnu::always_inline]] inline std::size_t ascii_run(const Text& t, std::size_t i, std::uint8_t mask,
                                                    std::uint8_t& stop) noexcept {
  while (i < t.n) {
    const std::uint8_t c = kByteClass[t.s[i]];
    if (!(c & mask)) {
      stop = c;
      return i;
    }
    ++i;
  }
  stop = 0;
  return i;
}

inline bool is_ascii_punct(std::uint8_t c) noexcept { return c != kNonAscii && is_punct(c); }

/// Contraction at i (t.s[i] == '\''), ASCII only: returns its length, 0 if none, -1 to bail.
inline long ascii_contraction(const Text& t, std::size_t i, bool ci) noexcept {
  if (i + 1 >= t.n) return 0;
  const unsigned char a = t.s[i + 1];
  if (a >= 0x80) return ci ? -1 : 0;  // U+017F folds to 's' under (?i)
  return static_cast<long>(contraction(t, i, ci));
}

/// Punctuation run ([^\s\p{L}\p{N}]+) from i over ASCII; returns 0 to bail.
[[gnu::always_inline]] inline std::size_t ascii_punct_run(const Text& t, std::size_t i) noexcept {
  while (i < t.n) {
    const std::uint8_t c = kByteClass[t.s[i]];
    if (c == kNonAscii) return 0;
    if (c & (kSpace | kLN)) break;
    ++i;
  }
  return i;
}

/// ASCII \p{N}{1,3} at pos; 0 to bail.
inline std::size_t ascii_digits_1_3(const Text& t, std::size_t pos) noexcept {
  std::size_t i = pos + 1;
  for (int k = 1; k < 3 && i < t.n; ++k) {
    const std::uint8_t c = kByteClass[t.s[i]];
    if (c == kNonAscii) return 0;
    if (!(c & kNumber)) break;
    ++i;
  }
  return i;
}

/// ASCII version of punct_piece: the piece end, 0 if the alternative does not match, or
/// SIZE_MAX to bail.
template <bool kSlash>
inline std::size_t ascii_punct_piece(const Text& t, std::size_t pos, unsigned char b0,
                                     std::uint8_t c0) noexcept {
  std::size_t q = pos;
  if (b0 == ' ' && pos + 1 < t.n && is_ascii_punct(kByteClass[t.s[pos + 1]])) q = pos + 1;
  if (q == pos && !is_punct(c0)) return 0;
  std::size_t i = ascii_punct_run(t, q);
  if (i == 0) return static_cast<std::size_t>(-1);
  while (i < t.n && (t.s[i] == '\r' || t.s[i] == '\n' || (kSlash && t.s[i] == '/'))) ++i;
  return i;
}

/// Whitespace run over ASCII from pos: returns its end, or 0 to bail (a non-ASCII byte follows,
/// which could be whitespace). last_start / crlf_end as in space_run.
[[gnu::always_inline]] inline std::size_t ascii_space_run(const Text& t, std::size_t pos,
                                                          std::size_t& last_start,
                                                          std::size_t& crlf_end) noexcept {
  std::size_t i = pos;
  crlf_end = 0;
  // Most runs are a byte or two (a space before a word, a line break) and end in the plain
  // loop; longer ones (indentation) go on a block at a time.
  for (const std::size_t head_end = pos + 2 < t.n ? pos + 2 : t.n; i < head_end; ++i) {
    const std::uint8_t c = kByteClass[t.s[i]];
    if (c == kNonAscii) return 0;
    if (!(c & kSpace)) {
      last_start = i - 1;
      return i;
    }
    if (c & kCrLf) crlf_end = i + 1;
  }
#if defined(__AVX2__) || defined(__SSE2__)
  while (i + kBlock <= t.n) {
    const BlockVec v = load_block(t.s + i);
    const std::size_t k = ones_run(equal_to(v, ' ') | in_range(v, 0x09, 0x0D));
    const std::uint64_t crlf = (equal_to(v, '\r') | equal_to(v, '\n')) &
                               ((std::uint64_t{1} << k) - 1);  // k <= 32
    if (crlf) crlf_end = i + 64 - static_cast<std::size_t>(__builtin_clzll(crlf));
    i += k;
    if (k < kBlock) {
      if (t.s[i] >= 0x80) return 0;
      last_start = i - 1;
      return i;
    }
  }
#endif
  while (i < t.n) {
    const std::uint8_t c = kByteClass[t.s[i]];
    if (c == kNonAscii) return 0;
    if (!(c & kSpace)) break;
    if (c & kCrLf) crlf_end = i + 1;
    ++i;
  }
  last_start = i - 1;
  return i;
}

// ------------------------------------------------------------------------------------------
// R50K (gpt2, r50k_base, p50k_base, p50k_edit)
// ------------------------------------------------------------------------------------------
inline std::size_t fast_r50k(const Text& t, std::size_t pos) noexcept {
  const unsigned char b0 = t.s[pos];
  const std::uint8_t c0 = kByteClass[b0];
  if (c0 == kNonAscii) return 0;
  std::uint8_t stop;
  if (b0 == '\'') {
    if (std::size_t k = contraction(t, pos, false)) return pos + k;
  }
  std::size_t q = pos;
  std::uint8_t cls = c0;
  if (b0 == ' ' && pos + 1 < t.n) {
    const std::uint8_t c1 = kByteClass[t.s[pos + 1]];
    if (c1 == kNonAscii) return 0;
    q = pos + 1;
    cls = c1;
    if (!(c1 & kLetter) && !(c1 & kNumber) && !is_punct(c1)) {
      q = pos;
      cls = c0;
    }
  }
  if (cls & kLetter) {
    const std::size_t e = ascii_run(t, q, kLetter, stop);
    return stop == kNonAscii ? 0 : e;
  }
  if (cls & kNumber) {
    const std::size_t e = ascii_run(t, q, kNumber, stop);
    return stop == kNonAscii ? 0 : e;
  }
  if (is_punct(cls)) return ascii_punct_run(t, q);
  std::size_t last_start, crlf;
  const std::size_t j = ascii_space_run(t, pos, last_start, crlf);
  if (j == 0) return 0;
  if (j == t.n) return j;
  if (last_start > pos) return last_start;
  return pos + 1;
}

inline std::size_t next_r50k(const Text& t, std::size_t pos) noexcept {
  if (std::size_t e = fast_r50k(t, pos)) return e;
  Text::Char c0 = t.at(pos);
  if (c0.cp == '\'') {
    if (std::size_t k = contraction(t, pos, false)) return pos + k;
  }
  std::size_t q = pos;
  std::uint8_t cls = c0.cls;
  if (c0.cp == ' ' && pos + 1 < t.n) {
    std::uint8_t c1 = t.cls(pos + 1);
    if (c1 & kLetter) return run(t, pos + 1, kLetter);
    if (c1 & kNumber) return run(t, pos + 1, kNumber);
    if (is_punct(c1)) {
      q = pos + 1;
      cls = c1;
    }
  }
  if (cls & kLetter) return run(t, q, kLetter);
  if (cls & kNumber) return run(t, q, kNumber);
  if (is_punct(cls)) {
    std::size_t i = q;
    while (i < t.n) {
      Text::Char c = t.at(i);
      if (!is_punct(c.cls)) break;
      i += c.len;
    }
    return i;
  }
  // Whitespace: \s++$ | \s+(?!\S) | \s
  std::size_t last_start, crlf;
  std::size_t j = space_run(t, pos, last_start, crlf);
  if (j == t.n) return j;
  if (last_start > pos) return last_start;
  return pos + c0.len;
}

// ------------------------------------------------------------------------------------------
// CL100K and LLAMA3
// ------------------------------------------------------------------------------------------
template <bool kEndRule>
inline std::size_t fast_cl100k(const Text& t, std::size_t pos) noexcept {
  const unsigned char b0 = t.s[pos];
  const std::uint8_t c0 = kByteClass[b0];
  if (c0 == kNonAscii) return 0;
  if (b0 == '\'') {
    const long k = ascii_contraction(t, pos, true);
    if (k < 0) return 0;
    if (k > 0) return pos + static_cast<std::size_t>(k);
  }
  if (c0 & kLetter) {
    const std::size_t e = span<Span::kAlpha>(t.s, t.n, pos + 1);
    return e < t.n && t.s[e] >= 0x80 ? 0 : e;
  }
  if (!(c0 & (kLN | kCrLf)) && pos + 1 < t.n) {
    const std::uint8_t c1 = kByteClass[t.s[pos + 1]];
    if (c1 == kNonAscii) return 0;
    if (c1 & kLetter) {
      const std::size_t e = span<Span::kAlpha>(t.s, t.n, pos + 2);
      return e < t.n && t.s[e] >= 0x80 ? 0 : e;
    }
  }
  if (c0 & kNumber) return ascii_digits_1_3(t, pos);
  if (std::size_t e = ascii_punct_piece<false>(t, pos, b0, c0))
    return e == static_cast<std::size_t>(-1) ? 0 : e;
  std::size_t last_start, crlf;
  const std::size_t j = ascii_space_run(t, pos, last_start, crlf);
  if (j == 0) return 0;
  if (kEndRule && j == t.n) return j;
  if (crlf) return crlf;
  if (j == t.n) return j;
  if (last_start > pos) return last_start;
  return pos + 1;
}

template <bool kEndRule>
inline std::size_t next_cl100k(const Text& t, std::size_t pos) noexcept {
  if (std::size_t e = fast_cl100k<kEndRule>(t, pos)) return e;
  Text::Char c0 = t.at(pos);
  if (c0.cp == '\'') {
    if (std::size_t k = contraction(t, pos, true)) return pos + k;
  }
  if (c0.cls & kLetter) return run(t, pos + c0.len, kLetter);
  if (!(c0.cls & (kLN | kCrLf)) && pos + c0.len < t.n) {
    Text::Char c1 = t.at(pos + c0.len);
    if (c1.cls & kLetter) return run(t, pos + c0.len + c1.len, kLetter);
  }
  if (c0.cls & kNumber) return digits_1_3(t, pos, c0);
  if (std::size_t e = punct_piece<false>(t, pos, c0)) return e;
  std::size_t last_start, crlf;
  std::size_t j = space_run(t, pos, last_start, crlf);
  if (kEndRule && j == t.n) return j;  // \s++$
  if (crlf) return crlf;               // \s*[\r\n]
  if (j == t.n) return j;              // \s+(?!\S) at the end
  if (last_start > pos) return last_start;
  return pos + c0.len;                 // \s
}

// ------------------------------------------------------------------------------------------
// O200K (o200k_base, o200k_harmony) and TEKKEN (kTekken: no contraction suffix, one digit)
// ------------------------------------------------------------------------------------------
constexpr std::uint8_t kPrefixExcluded = kLN | kCrLf;  // [^\r\n\p{L}\p{N}]

/// (?i:'s|'t|'re|'ve|'m|'ll|'d)? at i (none for TEKKEN).
template <bool kTekken>
inline std::size_t o200k_suffix(const Text& t, std::size_t i) noexcept {
  if (!kTekken && i < t.n && t.s[i] == '\'') return i + contraction(t, i, true);
  return i;
}

/// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ then the suffix, from s; 0 = no match.
template <bool kTekken>
inline std::size_t o200k_alt1(const Text& t, std::size_t s) noexcept {
  std::size_t i = s;
  std::size_t last_lower_end = 0;  // end of the last char in the upper run that is also lowerish
  while (i < t.n) {
    Text::Char c = t.at(i);
    if (!(c.cls & kUpperish)) break;
    i += c.len;
    if (c.cls & kLowerish) last_lower_end = i;
  }
  if (i < t.n && (t.cls(i) & kLowerish)) return o200k_suffix<kTekken>(t, run(t, i, kLowerish));
  if (last_lower_end) return o200k_suffix<kTekken>(t, last_lower_end);
  return 0;
}

/// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* then the suffix, from s; 0 = no match.
template <bool kTekken>
inline std::size_t o200k_alt2(const Text& t, std::size_t s) noexcept {
  std::size_t i = run(t, s, kUpperish);
  if (i == s) return 0;
  return o200k_suffix<kTekken>(t, run(t, i, kLowerish));
}

/// ASCII-only o200k letter alternatives from s: [A-Z]*[a-z]+ or [A-Z]+[a-z]*, then the
/// contraction suffix (not for TEKKEN). Returns 0 for no match, SIZE_MAX to bail.
template <bool kTekken>
inline std::size_t fast_o200k_word(const Text& t, std::size_t s) noexcept {
  constexpr std::size_t kBail = static_cast<std::size_t>(-1);
  // Most calls (a space or punctuation that may prefix a word) see no ASCII letter here: answer
  // those from the one byte (neither alternative matches, or bail on a non-ASCII character).
  const unsigned char b = t.s[s];
  if (!in_span<Span::kAlpha>(b)) return b >= 0x80 ? kBail : 0;
  // [A-Z]* then [a-z]*: when the upper-case run stops at a non-ASCII byte, the lower-case run
  // is empty and stops at the same byte, so one check after both covers it.
  std::size_t i;
#if defined(__AVX2__) || defined(__SSE2__)
  if (s + kBlock <= t.n) {
    // One block usually holds the whole word: both runs from the same two masks.
    const BlockVec v = load_block(t.s + s);
    const std::size_t u = ones_run(in_range(v, 'A', 'Z'));
    const std::size_t e = u + ones_run(in_range(v, 'a', 'z') >> (u & (kBlock - 1)));
    i = e < kBlock ? s + e : span<Span::kLower>(t.s, t.n, span<Span::kUpper>(t.s, t.n, s));
  } else
#endif
  {
    i = span<Span::kLower>(t.s, t.n, span<Span::kUpper>(t.s, t.n, s));
  }
  if (i < t.n && t.s[i] >= 0x80) return kBail;
  // Both alternatives end at i (> s: t.s[s] is a letter), as no ASCII letter is both cases.
  if (!kTekken && i < t.n && t.s[i] == '\'') {
    const long k = ascii_contraction(t, i, true);
    if (k < 0) return kBail;
    i += static_cast<std::size_t>(k);
  }
  return i;
}

template <bool kTekken>
inline std::size_t fast_o200k(const Text& t, std::size_t pos) noexcept {
  constexpr std::size_t kBail = static_cast<std::size_t>(-1);
  const unsigned char b0 = t.s[pos];
  const std::uint8_t c0 = kByteClass[b0];
  if (c0 == kNonAscii) return 0;
  if (c0 & kLetter) {
    const std::size_t e = fast_o200k_word<kTekken>(t, pos);
    return e == kBail ? 0 : e;
  }
  if (!(c0 & kPrefixExcluded)) {
    // Prefix candidate (space, punctuation, tab...): a word may follow it.
    if (pos + 1 < t.n) {
      const std::size_t e = fast_o200k_word<kTekken>(t, pos + 1);
      if (e == kBail) return 0;
      if (e) return e;
    }
  }
  if (c0 & kNumber) return kTekken ? pos + 1 : ascii_digits_1_3(t, pos);
  if (std::size_t e = ascii_punct_piece<true>(t, pos, b0, c0))
    return e == static_cast<std::size_t>(-1) ? 0 : e;
  std::size_t last_start, crlf;
  const std::size_t j = ascii_space_run(t, pos, last_start, crlf);
  if (j == 0) return 0;
  if (crlf) return crlf;
  if (j == t.n) return j;
  if (last_start > pos) return last_start;
  return j;
}

template <bool kTekken = false>
inline std::size_t next_o200k(const Text& t, std::size_t pos) noexcept {
  if (std::size_t e = fast_o200k<kTekken>(t, pos)) return e;
  Text::Char c0 = t.at(pos);
  // Alternatives 1 and 2, each first with the optional prefix character taken, then without it.
  const bool can_prefix = !(c0.cls & kPrefixExcluded);
  if ((c0.cls & (kUpperish | kLowerish)) || can_prefix) {
    if (can_prefix)
      if (std::size_t e = o200k_alt1<kTekken>(t, pos + c0.len)) return e;
    if (std::size_t e = o200k_alt1<kTekken>(t, pos)) return e;
    if (can_prefix)
      if (std::size_t e = o200k_alt2<kTekken>(t, pos + c0.len)) return e;
    if (std::size_t e = o200k_alt2<kTekken>(t, pos)) return e;
  }
  if (c0.cls & kNumber) return kTekken ? pos + c0.len : digits_1_3(t, pos, c0);
  if (std::size_t e = punct_piece<true>(t, pos, c0)) return e;
  std::size_t last_start, crlf;
  std::size_t j = space_run(t, pos, last_start, crlf);
  if (crlf) return crlf;                    // \s*[\r\n]+
  if (j == t.n) return j;                   // \s+(?!\S) at the end
  if (last_start > pos) return last_start;  // \s+(?!\S)
  return j;                                 // \s+
}

}  // namespace pretok

/// End (byte offset) of the pre-token that starts at `pos` in valid UTF-8 text[0, n).
inline std::size_t next_piece(PreTokenizer p, const unsigned char* s, std::size_t n,
                              std::size_t pos) noexcept {
  pretok::Text t{s, n};
  switch (p) {
    case PreTokenizer::R50K:
      return pretok::next_r50k(t, pos);
    case PreTokenizer::CL100K:
      return pretok::next_cl100k<true>(t, pos);
    case PreTokenizer::LLAMA3:
      return pretok::next_cl100k<false>(t, pos);
    case PreTokenizer::TEKKEN:
      return pretok::next_o200k<true>(t, pos);
    case PreTokenizer::O200K:
    default:
      return pretok::next_o200k(t, pos);
  }
}

/// Calls fn(begin, end) for every pre-token of valid UTF-8 text, in order.
template <PreTokenizer P, class Fn>
inline void for_each_piece(const unsigned char* s, std::size_t n, Fn&& fn) {
  pretok::Text t{s, n};
  std::size_t pos = 0;
  while (pos < n) {
    std::size_t end;
    if constexpr (P == PreTokenizer::R50K) end = pretok::next_r50k(t, pos);
    else if constexpr (P == PreTokenizer::CL100K) end = pretok::next_cl100k<true>(t, pos);
    else if constexpr (P == PreTokenizer::LLAMA3) end = pretok::next_cl100k<false>(t, pos);
    else if constexpr (P == PreTokenizer::TEKKEN) end = pretok::next_o200k<true>(t, pos);
    else end = pretok::next_o200k(t, pos);
    fn(pos, end);
    pos = end;
  }
}

}  // namespace tokenops::tokenizer
