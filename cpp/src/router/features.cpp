#include "tokenops/router/features.hpp"
#include "tokenops/text/hash.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::router {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kWordSeed = 0x5eed0002ull * kGolden;
constexpr std::uint64_t kCharSeed = 0x5eed0100ull;

using text::fmix64;
constexpr unsigned char lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}
constexpr bool is_space(unsigned char c) noexcept {
  return c == ' ' || (c >= 0x09 && c <= 0x0D);
}
inline std::uint32_t code_of(std::uint64_t h, std::uint32_t mask) noexcept {
  return (static_cast<std::uint32_t>(h) & mask) | (static_cast<std::uint32_t>(h >> 63) << 31);
}

enum Dense : int {
  kLogTokens, kLogChars, kLogWords, kLogLines, kCodeFences, kCodeSymbolShare, kCodeKeywords,
  kMathSymbols, kMathKeywords, kDigitShare, kLogNumbers, kQuestions, kMultistep, kNumberedLines,
  kCreative, kLatinShare, kCjkShare, kCyrillicShare, kArabicShare, kOtherScriptShare, kUpperShare,
  kEmpty, kNumDense
};

enum Group : std::uint8_t { kNone = 0, kCode = 1, kMath = 2, kMultiStep = 3, kCreativeGroup = 4 };

struct Keyword {
  const char* word;
  Group group;
};

constexpr Keyword kKeywords[] = {
    {"def", kCode}, {"class", kCode}, {"return", kCode}, {"function", kCode}, {"import", kCode},
    {"include", kCode}, {"print", kCode}, {"var", kCode}, {"const", kCode}, {"let", kCode},
    {"public", kCode}, {"void", kCode}, {"int", kCode}, {"struct", kCode}, {"lambda", kCode},
    {"python", kCode}, {"javascript", kCode}, {"java", kCode}, {"sql", kCode}, {"html", kCode},
    {"css", kCode}, {"code", kCode}, {"program", kCode}, {"script", kCode}, {"algorithm", kCode},
    {"implement", kCode}, {"compile", kCode}, {"debug", kCode}, {"bug", kCode}, {"array", kCode},
    {"regex", kCode}, {"api", kCode}, {"json", kCode}, {"loop", kCode},
    {"solve", kMath}, {"equation", kMath}, {"calculate", kMath}, {"compute", kMath},
    {"integral", kMath}, {"derivative", kMath}, {"probability", kMath}, {"prove", kMath},
    {"sum", kMath}, {"product", kMath}, {"percent", kMath}, {"percentage", kMath},
    {"average", kMath}, {"ratio", kMath}, {"total", kMath}, {"area", kMath}, {"volume", kMath},
    {"number", kMath}, {"value", kMath}, {"expression", kMath}, {"simplify", kMath},
    {"evaluate", kMath}, {"matrix", kMath}, {"theorem", kMath},
    {"step", kMultiStep}, {"steps", kMultiStep}, {"first", kMultiStep}, {"then", kMultiStep},
    {"next", kMultiStep}, {"finally", kMultiStep}, {"after", kMultiStep}, {"before", kMultiStep},
    {"each", kMultiStep}, {"explain", kMultiStep}, {"why", kMultiStep}, {"reason", kMultiStep},
    {"reasoning", kMultiStep}, {"derive", kMultiStep}, {"compare", kMultiStep},
    {"analyze", kMultiStep}, {"justify", kMultiStep}, {"therefore", kMultiStep},
    {"write", kCreativeGroup}, {"story", kCreativeGroup}, {"poem", kCreativeGroup},
    {"essay", kCreativeGroup}, {"blog", kCreativeGroup}, {"email", kCreativeGroup},
    {"letter", kCreativeGroup}, {"imagine", kCreativeGroup}, {"pretend", kCreativeGroup},
    {"describe", kCreativeGroup}, {"compose", kCreativeGroup}, {"draft", kCreativeGroup},
    {"character", kCreativeGroup}, {"role", kCreativeGroup}, {"roleplay", kCreativeGroup},
    {"persuasive", kCreativeGroup}, {"creative", kCreativeGroup},
};
constexpr std::size_t kMaxKeywordLength = 11;  // "probability"

constexpr bool is_math_symbol(char32_t cp) noexcept {
  switch (cp) {
    case '=': case '+': case '^': case '*': case '/': case '<': case '>': case '%': case '$':
    case '\\': case 0xB1: case 0xD7: case 0xF7: case 0xB2: case 0xB3:
      return true;
    default:
      return (cp >= 0x2200 && cp <= 0x22FF) || (cp >= 0x2070 && cp <= 0x209F) ||
             (cp >= 0x27C0 && cp <= 0x27EF) || (cp >= 0x2980 && cp <= 0x2AFF);
  }
}
constexpr bool is_code_symbol(unsigned char c) noexcept {
  switch (c) {
    case ';': case '{': case '}': case '(': case ')': case '[': case ']': case '_': case '#':
      return true;
    default:
      return false;
  }
}

// Per-byte tables. `word` = the lowercased byte for word bytes (ASCII letters/digits and every
// byte >= 0x80), 0 otherwise. `inc` packs eight 8-bit counters that one add per byte updates;
// they are flushed into wide counters every 255 bytes.
enum Field : int { fDigit, fUpper, fLatin, fSpace, fNewline, fCodeSym, fMathSym, fQuestion };
struct ByteTables {
  std::array<unsigned char, 256> word{};
  std::array<std::uint64_t, 256> inc{};
};
constexpr ByteTables make_tables() {
  ByteTables t{};
  for (int b = 0; b < 256; ++b) {
    const auto c = static_cast<unsigned char>(b);
    const bool digit = c >= '0' && c <= '9';
    const bool up = c >= 'A' && c <= 'Z';
    const bool low = c >= 'a' && c <= 'z';
    if (digit || up || low || c >= 0x80) t.word[b] = lower(c);
    std::uint64_t inc = 0;
    auto set = [&](Field f) { inc |= std::uint64_t{1} << (8 * f); };
    if (digit) set(fDigit);
    if (up) set(fUpper);
    if (up || low) set(fLatin);
    if (is_space(c)) set(fSpace);
    if (c == '\n') set(fNewline);
    if (is_code_symbol(c)) set(fCodeSym);
    if (c < 0x80 && is_math_symbol(c)) set(fMathSym);
    if (c == '?') set(fQuestion);
    t.inc[b] = inc;
  }
  return t;
}
constexpr ByteTables kTables = make_tables();

/// Counters of one pass (the dense block's raw material).
struct Counts {
  std::size_t field[8] = {};
  std::size_t words = 0, numbers = 0, fences = 0, numbered = 0;
  std::size_t cont = 0, nonascii_bytes = 0;  // UTF-8 continuation bytes of decoded characters
  std::size_t math_na = 0, question_na = 0, upper_na = 0;
  std::size_t latin_na = 0, cjk = 0, cyr = 0, arabic = 0, other = 0;
  std::size_t groups[5] = {};
};

/// Length of the UTF-8 sequence led by b (1 for ASCII and for bytes that cannot lead one).
inline int utf8_length(unsigned char b) noexcept {
  return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 1;
}

/// A non-ASCII character starting at p[i]: decoded (when complete and well-formed) and classified.
void non_ascii(const unsigned char* p, std::size_t i, std::size_t n, Counts& c) noexcept {
  const int len = utf8_length(p[i]);
  if (len == 1 || i + static_cast<std::size_t>(len) > n) return;
  char32_t cp = p[i] & (0x7F >> len);
  for (int j = 1; j < len; ++j) {
    if ((p[i + j] & 0xC0) != 0x80) return;
    cp = (cp << 6) | (p[i + j] & 0x3F);
  }
  c.cont += static_cast<std::size_t>(len - 1);
  if (cp == 0xFF1F) ++c.question_na;
  if (is_math_symbol(cp)) ++c.math_na;
  if ((cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x1E00 && cp <= 0x1EFF)) {
    ++c.latin_na;
    if (text::general_category(cp) == text::GeneralCategory::Lu) ++c.upper_na;
  } else if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
             (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
             (cp >= 0xF900 && cp <= 0xFAFF)) {
    ++c.cjk;
  } else if (cp >= 0x0400 && cp <= 0x052F) {
    ++c.cyr;
    if (text::general_category(cp) == text::GeneralCategory::Lu) ++c.upper_na;
  } else if ((cp >= 0x0600 && cp <= 0x06FF) || (cp >= 0x0750 && cp <= 0x077F)) {
    ++c.arabic;
  } else if (text::char_class(cp) & text::kLetter) {
    ++c.other;
  }
}

/// A line starting at p[j] that opens with [ \t\r]* digits then '.' or ')'.
inline bool numbered_line(const unsigned char* p, std::size_t j, std::size_t n) noexcept {
  while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r')) ++j;
  if (j >= n || p[j] < '0' || p[j] > '9') return false;
  while (j < n && p[j] >= '0' && p[j] <= '9') ++j;
  return j < n && (p[j] == '.' || p[j] == ')');
}

}  // namespace

std::uint64_t word_hash(std::string_view w) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(w.data());
  std::uint64_t h = kWordSeed;
  std::size_t i = 0;
  for (; i + 8 <= w.size(); i += 8) {
    std::uint64_t c = 0;
    for (int j = 7; j >= 0; --j) c = (c << 8) | p[i + j];
    h = fmix64(h ^ c);
  }
  std::uint64_t tail = 0;
  for (std::size_t j = w.size(); j > i; --j) tail = (tail << 8) | p[j - 1];
  return fmix64(h ^ tail ^ (w.size() * kGolden));
}

const std::vector<std::string>& dense_signal_names() {
  static const std::vector<std::string> names = {
      "log_tokens", "log_chars", "log_words", "log_lines", "code_fences", "code_symbol_share",
      "code_keywords", "math_symbols", "math_keywords", "digit_share", "log_numbers", "questions",
      "multistep_markers", "numbered_lines", "creative_keywords", "latin_share", "cjk_share",
      "cyrillic_share", "arabic_share", "other_script_share", "upper_share", "empty"};
  return names;
}

namespace {
// (x - mean) / scale of dense signal k, refused when it overflows float: a file's tiny
// (positive, finite) scale would otherwise give a silent inf
float standardise(float x, const io::RouterFeatureSpec& s, std::size_t k) {
  const float z = (x - s.dense_mean[k]) / s.dense_scale[k];
  TOKENOPS_CHECK(std::isfinite(z), InvalidArgument, "router features: the dense signal '",
                 dense_signal_names()[k], "' standardises to a non-finite value (dense_scale ",
                 s.dense_scale[k], " is too small); retrain or fix the router file");
  return z;
}
}  // namespace

FeatureExtractor::FeatureExtractor(const io::RouterFeatureSpec& spec,
                                   std::shared_ptr<const tokenizer::Encoding> encoding)
    : spec_(spec), encoding_(std::move(encoding)) {
  TOKENOPS_CHECK(spec_.hash_bits >= 0 && spec_.hash_bits <= 24, InvalidArgument,
                 "router features: hash_bits must be in [0, 24], got ", spec_.hash_bits);
  TOKENOPS_CHECK(spec_.word_ngram_min >= 0 && spec_.word_ngram_max >= spec_.word_ngram_min &&
                     spec_.word_ngram_max <= 4,
                 InvalidArgument, "router features: word n-gram range [", spec_.word_ngram_min,
                 ", ", spec_.word_ngram_max, "] must satisfy 0 <= min <= max <= 4");
  TOKENOPS_CHECK(spec_.char_ngram_min >= 0 && spec_.char_ngram_max >= spec_.char_ngram_min &&
                     spec_.char_ngram_max <= 8,
                 InvalidArgument, "router features: char n-gram range [", spec_.char_ngram_min,
                 ", ", spec_.char_ngram_max, "] must satisfy 0 <= min <= max <= 8");
  TOKENOPS_CHECK(spec_.embedding_dim >= 0, InvalidArgument,
                 "router features: embedding_dim must be >= 0, got ", spec_.embedding_dim);
  TOKENOPS_CHECK(spec_.embedding_dim == 0 || !spec_.embedder.empty(), InvalidArgument,
                 "router features: an embedding block needs the embedder's name");
  if (spec_.word_ngram_min == 0) spec_.word_ngram_max = 0;
  if (spec_.char_ngram_min == 0) spec_.char_ngram_max = 0;
  mask_ = spec_.hash_bits > 0 ? static_cast<std::uint32_t>((std::uint64_t{1} << spec_.hash_bits) - 1) : 0;
  if (spec_.dense) {
    const auto& names = dense_signal_names();
    TOKENOPS_CHECK(spec_.dense_names == names, InvalidArgument,
                   "router features: the file's dense signal names do not match this tokenops "
                   "build's (", names.size(), " signals); retrain the router with this version");
    TOKENOPS_CHECK(spec_.dense_mean.size() == names.size() && spec_.dense_scale.size() == names.size(),
                   InvalidArgument, "router features: dense_mean/dense_scale must have ",
                   names.size(), " entries");
    for (std::size_t i = 0; i < names.size(); ++i)
      TOKENOPS_CHECK(std::isfinite(spec_.dense_mean[i]) && std::isfinite(spec_.dense_scale[i]) &&
                         spec_.dense_scale[i] > 0,
                     InvalidArgument, "router features: dense standardisation for '", names[i],
                     "' must be finite with a positive scale");
    TOKENOPS_CHECK((spec_.dense_min.empty() && spec_.dense_max.empty()) ||
                       (spec_.dense_min.size() == names.size() && spec_.dense_max.size() == names.size()),
                   InvalidArgument, "router features: dense_min/dense_max must both be absent or have ",
                   names.size(), " entries");
    for (std::size_t i = 0; i < spec_.dense_min.size(); ++i)
      TOKENOPS_CHECK(std::isfinite(spec_.dense_min[i]) && std::isfinite(spec_.dense_max[i]) &&
                         spec_.dense_min[i] <= spec_.dense_max[i],
                     InvalidArgument, "router features: dense range for '", names[i],
                     "' must be finite with min <= max, got [", spec_.dense_min[i], ", ",
                     spec_.dense_max[i], "]");
    for (std::size_t i = 0; i < spec_.dense_min.size(); ++i) {
      // clipped signals lie in [min, max]: both ends must standardise to finite floats
      standardise(spec_.dense_min[i], spec_, i);
      standardise(spec_.dense_max[i], spec_, i);
    }
    TOKENOPS_CHECK(spec_.encoding.empty() || encoding_ != nullptr, InvalidArgument,
                   "router features: the router needs the tokenizer '", spec_.encoding,
                   "' for its token-count signal, but none was given");
    exact_tokens_ = !spec_.encoding.empty() && encoding_ != nullptr;
  }
  // keyword table: 2-way buckets, slot = high bits of (hash * multiplier); the multiplier is
  // the first (deterministic) one that puts at most two keywords in every bucket, so a lookup
  // is two compares and no probing
  constexpr std::size_t kBuckets = std::size_t{1} << kKeywordBits;
  for (std::uint64_t trial = 0;; ++trial) {
    TOKENOPS_CHECK(trial < 10000, InvalidArgument, "router features: no keyword table layout found");
    kw_mult_ = kGolden * (2 * trial + 1);
    kw_keys_.assign(2 * kBuckets, 0);
    kw_group_.assign(2 * kBuckets, 0);
    bool ok = true;
    for (const auto& kw : kKeywords) {
      const std::uint64_t h = word_hash(kw.word) | 1u;  // never 0 (the empty marker)
      const std::size_t b = 2 * static_cast<std::size_t>((h * kw_mult_) >> (64 - kKeywordBits));
      const std::size_t slot = kw_keys_[b] == 0 ? b : kw_keys_[b + 1] == 0 ? b + 1 : 2 * kBuckets;
      if (slot == 2 * kBuckets) {
        ok = false;
        break;
      }
      kw_keys_[slot] = h;
      kw_group_[slot] = kw.group;
    }
    if (ok) break;
  }
}

int FeatureExtractor::keyword_group(std::uint64_t word_hash) const noexcept {
  const std::uint64_t h = word_hash | 1u;
  const std::size_t b = 2 * static_cast<std::size_t>((h * kw_mult_) >> (64 - kKeywordBits));
  const int g0 = kw_keys_[b] == h ? kw_group_[b] : 0;
  const int g1 = kw_keys_[b + 1] == h ? kw_group_[b + 1] : 0;
  return g0 | g1;
}

namespace detail {

void byte_bitmaps_scalar(const unsigned char* p, std::size_t n, std::uint64_t* word,
                         std::uint64_t* digit, std::uint64_t* high) noexcept {
  const std::size_t blocks = (n + 63) / 64;
  for (std::size_t k = 0; k < blocks; ++k) {
    std::uint64_t w = 0, d = 0, h = 0;
    const std::size_t lo = k * 64, hi = std::min(n, lo + 64);
    for (std::size_t i = lo; i < hi; ++i) {
      const unsigned char b = p[i];
      const std::uint64_t bit = std::uint64_t{1} << (i - lo);
      if (kTables.word[b]) w |= bit;
      if (b >= '0' && b <= '9') d |= bit;
      if (b >= 0x80) h |= bit;
    }
    word[k] = w;
    digit[k] = d;
    high[k] = h;
  }
}

#if defined(__SSE2__)
namespace {
/// 16 flags (one per byte) of lo <= x <= hi, unsigned.
inline __m128i in_range(__m128i x, unsigned char lo, unsigned char hi) noexcept {
  const __m128i t = _mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(128 - lo)));
  return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + (hi - lo) + 1)));
}
}  // namespace
#endif

void byte_bitmaps(const unsigned char* p, std::size_t n, std::uint64_t* word, std::uint64_t* digit,
                  std::uint64_t* high) noexcept {
#if defined(__SSE2__)
  const std::size_t blocks = (n + 63) / 64;
  alignas(16) unsigned char pad[64];
  for (std::size_t k = 0; k < blocks; ++k) {
    const unsigned char* src = p + k * 64;
    if (k * 64 + 64 > n) {  // last partial block: zero padding is neither word, digit nor high
      std::memset(pad, 0, sizeof pad);
      std::memcpy(pad, src, n - k * 64);
      src = pad;
    }
    std::uint64_t w = 0, d = 0, h = 0;
    for (int j = 0; j < 4; ++j) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * j));
      const __m128i dig = in_range(x, '0', '9');
      const __m128i alpha = in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z');
      const auto hm = static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(x)));
      const auto dm = static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(dig)));
      const auto am = static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(alpha)));
      w |= (hm | dm | am) << (16 * j);
      d |= dm << (16 * j);
      h |= hm << (16 * j);
    }
    word[k] = w;
    digit[k] = d;
    high[k] = h;
  }
#else
  byte_bitmaps_scalar(p, n, word, digit, high);
#endif
}

}  // namespace detail

namespace {

/// Bytes [0, len) of p (len <= 8) as a little-endian word, zero padded; reads only [p, p+len)
/// unless `can_overread` (then 8 bytes are read and masked).
inline std::uint64_t load_le(const unsigned char* p, std::size_t len, bool can_overread) noexcept {
  std::uint64_t v = 0;
  if (can_overread) {
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return len >= 8 ? v : v & ((std::uint64_t{1} << (8 * len)) - 1);
  }
  for (std::size_t j = len; j > 0; --j) v = (v << 8) | p[j - 1];
  return v;
}

/// ASCII-lowercases the word bytes packed in v (ASCII letters/digits, bytes >= 0x80, zeros):
/// a byte 010xxxxx (upper case) gets bit 5 set.
inline std::uint64_t lower8(std::uint64_t v) noexcept {
  return v | ((v >> 1) & ~v & ~(v >> 2) & 0x2020202020202020ull);
}

}  // namespace

namespace {

/// The dense signals from one pass's counters; `exact` counts tokens when given, `stdz`
/// standardises when given.
void finish_dense(std::string_view text, const Counts& c, const tokenizer::Encoding* exact,
                  const io::RouterFeatureSpec* stdz, float* dense) {
  const std::size_t n = text.size();
  double f[kNumDense];
  const std::size_t cps = n - c.cont;
  const double cc = cps > 0 ? static_cast<double>(cps) : 1.0;
  const std::size_t digits = c.field[fDigit];
  const std::size_t ascii_bytes = n - c.nonascii_bytes;
  const std::size_t punct = ascii_bytes - c.field[fLatin] - digits - c.field[fSpace];
  double tokens;
  if (exact)
    tokens = static_cast<double>(exact->count_ordinary(text));
  else
    tokens = static_cast<double>(c.words) + 0.2 * static_cast<double>(digits) +
             0.3 * static_cast<double>(c.nonascii_bytes) + 1.15 * static_cast<double>(punct);
  f[kLogTokens] = std::log1p(tokens);
  f[kLogChars] = std::log1p(static_cast<double>(cps));
  f[kLogWords] = std::log1p(static_cast<double>(c.words));
  f[kLogLines] = std::log1p(static_cast<double>(n ? c.field[fNewline] + 1 : 0));
  f[kCodeFences] = std::log1p(static_cast<double>(c.fences));
  f[kCodeSymbolShare] = static_cast<double>(c.field[fCodeSym]) / cc;
  f[kCodeKeywords] = std::log1p(static_cast<double>(c.groups[kCode]));
  f[kMathSymbols] = std::log1p(static_cast<double>(c.field[fMathSym] + c.math_na));
  f[kMathKeywords] = std::log1p(static_cast<double>(c.groups[kMath]));
  f[kDigitShare] = static_cast<double>(digits) / cc;
  f[kLogNumbers] = std::log1p(static_cast<double>(c.numbers));
  f[kQuestions] = std::log1p(static_cast<double>(c.field[fQuestion] + c.question_na));
  f[kMultistep] = std::log1p(static_cast<double>(c.groups[kMultiStep]));
  f[kNumberedLines] = std::log1p(static_cast<double>(c.numbered));
  f[kCreative] = std::log1p(static_cast<double>(c.groups[kCreativeGroup]));
  f[kLatinShare] = static_cast<double>(c.field[fLatin] + c.latin_na) / cc;
  f[kCjkShare] = static_cast<double>(c.cjk) / cc;
  f[kCyrillicShare] = static_cast<double>(c.cyr) / cc;
  f[kArabicShare] = static_cast<double>(c.arabic) / cc;
  f[kOtherScriptShare] = static_cast<double>(c.other) / cc;
  f[kUpperShare] = static_cast<double>(c.field[fUpper] + c.upper_na) / cc;
  f[kEmpty] = cps == c.field[fSpace] ? 1.0 : 0.0;
  for (int k = 0; k < kNumDense; ++k) dense[k] = static_cast<float>(f[k]);
  if (stdz) {
    if (!stdz->dense_min.empty())
      for (int k = 0; k < kNumDense; ++k)
        dense[k] = std::min(std::max(dense[k], stdz->dense_min[k]), stdz->dense_max[k]);
    for (int k = 0; k < kNumDense; ++k) dense[k] = standardise(dense[k], *stdz, static_cast<std::size_t>(k));
  }
}

}  // namespace

namespace {
// True when the text is only Unicode White_Space (or empty): such a prompt has no content, and
// all of them get the empty prompt's features (a lone "\n" or NBSP scored differently).
bool is_blank(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    const auto l = static_cast<std::size_t>(text::utf8_seq_len(p[i]));
    if (i + l > s.size() || (l == 1 ? p[i] >= 0x80 : !text::is_valid_utf8(s.substr(i, l)))) return false;
    int len;
    if (!(text::char_class_fast(text::decode_utf8(p + i, len)) & text::kSpace)) return false;
    i += l;
  }
  return true;
}

/// Sum over buckets of (signed count)^2 for codes[0, n): the squared L2 norm of a block where
/// each occurrence adds +-1 (a bucket's count c goes to c + s, adding 2cs + 1 to the sum).
/// Up to 2^18 buckets the counts live in a per-thread array indexed by bucket (zeroed again
/// before returning); wider blocks use a small open-addressed table in the caller's scratch.
std::int64_t signed_sumsq(const std::uint32_t* code, std::size_t n, std::size_t dim,
                          std::vector<std::uint64_t>& table) {
  TOKENOPS_CHECK(n < (std::size_t{1} << 31), InvalidArgument,
                 "router features: a prompt with ", n, " n-grams is too long (limit 2^31)");
  std::int64_t sum = 0;
  if (dim <= (std::size_t{1} << 18)) {
    thread_local std::vector<std::int32_t> counts;
    if (counts.size() < dim) counts.resize(dim);
    std::int32_t* c = counts.data();
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint32_t b = code[k] & 0x7FFFFFFFu;
      const std::int32_t s = 1 - 2 * static_cast<std::int32_t>(code[k] >> 31);
      sum += 2 * static_cast<std::int64_t>(c[b]) * s + 1;
      c[b] += s;
    }
    for (std::size_t k = 0; k < n; ++k) c[code[k] & 0x7FFFFFFFu] = 0;
    return sum;
  }
  int shift = 60;  // slot = top bits of a Fibonacci hash of the bucket; 16 slots at least
  while ((std::size_t{1} << (64 - shift)) < 2 * n) --shift;
  const std::size_t cap = std::size_t{1} << (64 - shift), mask = cap - 1;
  if (table.size() < cap) table.resize(cap);
  std::uint64_t* t = table.data();
  std::memset(t, 0, cap * sizeof(std::uint64_t));
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint32_t bucket = code[k] & 0x7FFFFFFFu;
    const std::int64_t s = 1 - 2 * static_cast<std::int64_t>(code[k] >> 31);
    const std::uint64_t key = (static_cast<std::uint64_t>(bucket) + 1) << 32;
    std::size_t i = static_cast<std::size_t>((bucket * 0x9E3779B97F4A7C15ull) >> shift);
    while ((t[i] & ~0xFFFFFFFFull) != key && t[i] != 0) i = (i + 1) & mask;
    const auto c = static_cast<std::int32_t>(static_cast<std::uint32_t>(t[i]));
    sum += 2 * c * s + 1;
    t[i] = key | static_cast<std::uint32_t>(static_cast<std::int32_t>(c + s));
  }
  return sum;
}

float unit_value(std::int64_t sumsq) noexcept {
  return sumsq > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(sumsq))) : 0.0f;
}
}  // namespace

void FeatureExtractor::extract(std::string_view text, SparseFeatures* sparse, float* dense,
                               bool standardise, FeatureScratch& scratch) const {
  if (is_blank(text)) text = text.substr(0, 0);  // (keeps a non-null data pointer for memchr)
  const bool want_dense = dense != nullptr && spec_.dense;
  const bool want_words = sparse != nullptr && spec_.word_ngram_max > 0 && mask_ != 0;
  const bool want_chars = sparse != nullptr && spec_.char_ngram_max > 0 && mask_ != 0;
  if (sparse) sparse->clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const int gmin = spec_.word_ngram_min, gmax = spec_.word_ngram_max;

  if (want_words || want_dense) {
    // 1. bitmaps of word, digit and non-ASCII bytes (SIMD where available)
    const std::size_t blocks = (n + 63) / 64;
    auto& bits = scratch.bits;
    if (bits.size() < 3 * blocks) bits.resize(3 * blocks);
    std::uint64_t* wb = bits.data();
    std::uint64_t* db = wb + blocks;
    std::uint64_t* hb = db + blocks;
    detail::byte_bitmaps(p, n, wb, db, hb);

    // 2. word boundaries: starts[j] and ends[j] (one past the last byte), in order
    auto& bounds = scratch.bounds;
    if (bounds.size() < n + 2) bounds.resize(n + 2);  // at most (n + 1) / 2 words
    std::uint32_t* starts = bounds.data();
    std::uint32_t* ends = starts + (n + 2) / 2;
    std::size_t words = 0, n_ends = 0, numbers = 0;
    std::uint64_t carry_w = 0, carry_d = 0;  // bit 63 of the previous block
    for (std::size_t k = 0; k < blocks; ++k) {
      const std::uint64_t m = wb[k];
      const std::uint64_t next = k + 1 < blocks ? (wb[k + 1] & 1) : 0;
      std::uint64_t st = m & ~((m << 1) | carry_w);
      std::uint64_t en = m & ~((m >> 1) | (next << 63));
      carry_w = m >> 63;
      const auto base = static_cast<std::uint32_t>(k * 64);
      while (st) {
        starts[words++] = base + static_cast<std::uint32_t>(std::countr_zero(st));
        st &= st - 1;
      }
      while (en) {
        ends[n_ends++] = base + static_cast<std::uint32_t>(std::countr_zero(en)) + 1;
        en &= en - 1;
      }
      const std::uint64_t d = db[k];
      numbers += static_cast<std::size_t>(std::popcount(d & ~((d << 1) | carry_d)));
      carry_d = d >> 63;
    }

    // 3. each word's hash -> keyword group and n-gram codes
    std::uint32_t* out = nullptr;
    if (want_words) {
      const std::size_t bound = words * static_cast<std::size_t>(gmax - gmin + 1);
      if (sparse->code.size() < bound) sparse->code.resize(bound);
      out = sparse->code.data();
    }
    std::size_t n_out = 0;
    std::size_t groups[5] = {};
    std::uint64_t prev[3] = {0, 0, 0};  // hashes of the last three words (prev[0] = latest)
    for (std::size_t j = 0; j < words; ++j) {
      std::size_t at = starts[j];
      const std::size_t len = ends[j] - at;
      std::uint64_t h = kWordSeed;
      std::size_t left = len;
      for (; left >= 8; left -= 8, at += 8) h = fmix64(h ^ lower8(load_le(p + at, 8, true)));
      const std::uint64_t tail = left ? lower8(load_le(p + at, left, at + 8 <= n)) : 0;
      const std::uint64_t hw = fmix64(h ^ tail ^ (len * kGolden));
      if (want_dense && len <= kMaxKeywordLength) ++groups[keyword_group(hw)];
      if (out) {
        if (gmin == 1) out[n_out++] = code_of(hw, mask_);
        for (int g = std::max(gmin, 2); g <= gmax && j + 1 >= static_cast<std::size_t>(g); ++g) {
          std::uint64_t x = prev[g - 2];  // the first word of the g-gram
          for (int i = g - 3; i >= 0; --i) x = fmix64(x * kGolden + prev[i] + static_cast<std::uint64_t>(g));
          out[n_out++] = code_of(fmix64(x * kGolden + hw + static_cast<std::uint64_t>(g)), mask_);
        }
      }
      prev[2] = prev[1];
      prev[1] = prev[0];
      prev[0] = hw;
    }
    if (want_words) {
      sparse->n_word = n_out;  // = sum over g of max(0, words - g + 1)
      sparse->word_value = unit_value(signed_sumsq(out, n_out, sparse_dim(), scratch.counts));
    }

    // 4. the dense signals: byte-class counters (branch-free), then the rare bytes
    if (want_dense) {
      Counts c;
      for (std::size_t i = 0; i < n;) {
        const std::size_t block_end = std::min(n, i + 255);
        std::uint64_t packed = 0;
        for (; i < block_end; ++i) packed += kTables.inc[p[i]];
        for (int f = 0; f < 8; ++f) c.field[f] += (packed >> (8 * f)) & 0xFF;
      }
      for (std::size_t k = 0; k < blocks; ++k) {
        c.nonascii_bytes += static_cast<std::size_t>(std::popcount(hb[k]));
        for (std::uint64_t h = hb[k]; h; h &= h - 1) {
          const std::size_t i = k * 64 + static_cast<std::size_t>(std::countr_zero(h));
          if (p[i] >= 0xC0) non_ascii(p, i, n, c);
        }
      }
      if (numbered_line(p, 0, n)) ++c.numbered;
      if (c.field[fNewline])
        for (const void* q = std::memchr(p, '\n', n); q != nullptr;) {
          const std::size_t i = static_cast<std::size_t>(static_cast<const unsigned char*>(q) - p) + 1;
          if (numbered_line(p, i, n)) ++c.numbered;
          q = i < n ? std::memchr(p + i, '\n', n - i) : nullptr;
        }
      for (const void* q = n ? std::memchr(p, '`', n) : nullptr; q != nullptr;) {
        const std::size_t i = static_cast<std::size_t>(static_cast<const unsigned char*>(q) - p);
        if (i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`' && (i == 0 || p[i - 1] != '`')) ++c.fences;
        q = i + 1 < n ? std::memchr(p + i + 1, '`', n - i - 1) : nullptr;
      }
      std::copy(std::begin(groups), std::end(groups), std::begin(c.groups));
      c.words = words;
      c.numbers = numbers;
      finish_dense(text, c, exact_tokens_ ? encoding_.get() : nullptr,
                   standardise ? &spec_ : nullptr, dense);
    }
  }
  if (want_chars) char_ngrams(text, *sparse, scratch);
}

void FeatureExtractor::char_ngrams(std::string_view text, SparseFeatures& out,
                                   FeatureScratch& scratch) const {
  // normalised copy: ASCII lowercase, whitespace runs -> one space, trimmed
  std::string& t = scratch.text;
  if (t.size() < text.size()) t.resize(text.size());
  std::size_t n = 0;
  bool pending_space = false;
  for (unsigned char c : text) {
    if (is_space(c)) {
      pending_space = n > 0;
      continue;
    }
    if (pending_space) {
      t[n++] = ' ';
      pending_space = false;
    }
    t[n++] = static_cast<char>(lower(c));
  }
  const auto* s = reinterpret_cast<const unsigned char*>(t.data());
  std::size_t total = 0;
  for (int g = spec_.char_ngram_min; g <= spec_.char_ngram_max; ++g)
    if (n >= static_cast<std::size_t>(g)) total += n - static_cast<std::size_t>(g) + 1;
  if (total == 0) return;
  const std::size_t base = out.n_word;
  if (out.code.size() < base + total) out.code.resize(base + total);
  std::uint32_t* dst = out.code.data() + base;
  for (int g = spec_.char_ngram_min; g <= spec_.char_ngram_max; ++g) {
    if (n < static_cast<std::size_t>(g)) continue;
    const std::uint64_t seed = (kCharSeed + static_cast<std::uint64_t>(g)) * kGolden;
    const std::uint64_t keep = g == 8 ? ~0ull : ((1ull << (8 * g)) - 1);
    for (std::size_t k = 0; k + static_cast<std::size_t>(g) <= n; ++k) {
      std::uint64_t x = 0;
      if (k + 8 <= n) {
        std::uint64_t w;
        std::memcpy(&w, s + k, 8);
        if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
        x = w & keep;
      } else {
        for (int j = g - 1; j >= 0; --j) x = (x << 8) | s[k + static_cast<std::size_t>(j)];
      }
      *dst++ = code_of(fmix64(x ^ seed), mask_);
    }
  }
  out.n_char = total;
  out.char_value = unit_value(signed_sumsq(out.code.data() + base, total, sparse_dim(), scratch.counts));
}

void FeatureExtractor::dense_raw(std::string_view text, float* out) const {
  FeatureScratch scratch;
  extract(text, nullptr, out, false, scratch);
}

void FeatureExtractor::dense(std::string_view text, float* out) const {
  FeatureScratch scratch;
  extract(text, nullptr, out, true, scratch);
}

}  // namespace tokenops::router
