#include "tokenops/router/features.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::router {

namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kWordSeed = 0x5eed0001ull;
constexpr std::uint64_t kCharSeed = 0x5eed0100ull;

inline std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}
inline std::uint64_t finish(std::uint64_t fnv, std::uint64_t seed) noexcept {
  return fmix64(fnv ^ (seed * kGolden));
}
inline unsigned char lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}
inline bool is_word_byte(unsigned char c) noexcept {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_space(unsigned char c) noexcept {
  return c == ' ' || (c >= 0x09 && c <= 0x0D);
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

bool is_math_symbol(char32_t cp) noexcept {
  switch (cp) {
    case '=': case '+': case '^': case '*': case '/': case '<': case '>': case '%': case '$':
    case '\\': case 0xB1: case 0xD7: case 0xF7: case 0xB2: case 0xB3:
      return true;
    default:
      return (cp >= 0x2200 && cp <= 0x22FF) || (cp >= 0x2070 && cp <= 0x209F) ||
             (cp >= 0x27C0 && cp <= 0x27EF) || (cp >= 0x2980 && cp <= 0x2AFF);
  }
}
bool is_code_symbol(char32_t cp) noexcept {
  switch (cp) {
    case ';': case '{': case '}': case '(': case ')': case '[': case ']': case '_': case '#':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) noexcept {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : bytes) h = (h ^ c) * kFnvPrime;
  return finish(h, seed);
}

const std::vector<std::string>& dense_signal_names() {
  static const std::vector<std::string> names = {
      "log_tokens", "log_chars", "log_words", "log_lines", "code_fences", "code_symbol_share",
      "code_keywords", "math_symbols", "math_keywords", "digit_share", "log_numbers", "questions",
      "multistep_markers", "numbered_lines", "creative_keywords", "latin_share", "cjk_share",
      "cyrillic_share", "arabic_share", "other_script_share", "upper_share", "empty"};
  return names;
}

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
    TOKENOPS_CHECK(spec_.encoding.empty() || encoding_ != nullptr, InvalidArgument,
                   "router features: the router needs the tokenizer '", spec_.encoding,
                   "' for its token-count signal, but none was given");
  }
  // keyword table (power-of-two open addressing, 4x oversized)
  std::size_t cap = 512;
  kw_keys_.assign(cap, 0);
  kw_group_.assign(cap, 0);
  for (const auto& kw : kKeywords) {
    std::uint64_t h = hash_bytes(kw.word, kWordSeed) | 1u;  // never 0 (the empty marker)
    std::size_t i = h & (cap - 1);
    while (kw_keys_[i] != 0 && kw_keys_[i] != h) i = (i + 1) & (cap - 1);
    kw_keys_[i] = h;
    kw_group_[i] = kw.group;
  }
}

int FeatureExtractor::keyword_group(std::uint64_t word_hash) const noexcept {
  const std::uint64_t h = word_hash | 1u;
  const std::size_t cap = kw_keys_.size();
  std::size_t i = h & (cap - 1);
  while (kw_keys_[i] != 0) {
    if (kw_keys_[i] == h) return kw_group_[i];
    i = (i + 1) & (cap - 1);
  }
  return 0;
}

void FeatureExtractor::sparse(std::string_view text, SparseFeatures& out,
                              FeatureScratch& scratch) const {
  out.clear();
  if (mask_ == 0 && spec_.hash_bits == 0) return;
  // normalised copy: ASCII lowercase, whitespace runs -> one space, trimmed
  std::string& t = scratch.text;
  t.clear();
  t.reserve(text.size());
  bool pending_space = false;
  for (unsigned char c : text) {
    if (is_space(c)) {
      pending_space = !t.empty();
      continue;
    }
    if (pending_space) {
      t.push_back(' ');
      pending_space = false;
    }
    t.push_back(static_cast<char>(lower(c)));
  }
  const auto* s = reinterpret_cast<const unsigned char*>(t.data());
  const std::size_t n = t.size();

  if (spec_.word_ngram_max > 0) {
    auto& words = scratch.words;
    words.clear();
    std::size_t i = 0;
    while (i < n) {
      if (!is_word_byte(s[i])) {
        ++i;
        continue;
      }
      std::uint64_t h = kFnvOffset;
      while (i < n && is_word_byte(s[i])) h = (h ^ s[i++]) * kFnvPrime;
      words.push_back(finish(h, kWordSeed));
    }
    std::size_t total = 0;
    for (int g = spec_.word_ngram_min; g <= spec_.word_ngram_max; ++g)
      if (words.size() >= static_cast<std::size_t>(g)) total += words.size() - g + 1;
    if (total > 0) {
      const float v = 1.0f / std::sqrt(static_cast<float>(total));
      for (int g = spec_.word_ngram_min; g <= spec_.word_ngram_max; ++g) {
        if (words.size() < static_cast<std::size_t>(g)) continue;
        for (std::size_t k = 0; k + g <= words.size(); ++k) {
          std::uint64_t h = words[k];
          for (int j = 1; j < g; ++j) h = fmix64(h * kGolden + words[k + j] + static_cast<std::uint64_t>(g));
          out.index.push_back(static_cast<std::uint32_t>(h) & mask_);
          out.value.push_back((h >> 63) ? -v : v);
        }
      }
    }
  }
  if (spec_.char_ngram_max > 0) {
    std::size_t total = 0;
    for (int g = spec_.char_ngram_min; g <= spec_.char_ngram_max; ++g)
      if (n >= static_cast<std::size_t>(g)) total += n - g + 1;
    if (total > 0) {
      const float v = 1.0f / std::sqrt(static_cast<float>(total));
      for (int g = spec_.char_ngram_min; g <= spec_.char_ngram_max; ++g) {
        if (n < static_cast<std::size_t>(g)) continue;
        const std::uint64_t seed = (kCharSeed + static_cast<std::uint64_t>(g)) * kGolden;
        const std::uint64_t keep = g == 8 ? ~0ull : ((1ull << (8 * g)) - 1);
        for (std::size_t k = 0; k + g <= n; ++k) {
          std::uint64_t x = 0;
          if (k + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, s + k, 8);
            if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
            x = w & keep;
          } else {
            for (int j = g - 1; j >= 0; --j) x = (x << 8) | s[k + j];
          }
          const std::uint64_t h = fmix64(x ^ seed);
          out.index.push_back(static_cast<std::uint32_t>(h) & mask_);
          out.value.push_back((h >> 63) ? -v : v);
        }
      }
    }
  }
}

void FeatureExtractor::dense_raw(std::string_view text, float* out) const {
  double f[kNumDense] = {};
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t cps = 0, words = 0, lines = n ? 1 : 0, fences = 0, code_sym = 0, math_sym = 0;
  std::size_t digits = 0, numbers = 0, questions = 0, numbered = 0, upper = 0, nonspace = 0;
  std::size_t latin = 0, cjk = 0, cyr = 0, arabic = 0, other = 0;
  std::size_t groups[5] = {};
  bool in_word = false, in_number = false, line_start = true;
  std::uint64_t wh = kFnvOffset;
  std::size_t i = 0;
  while (i < n) {
    int len = 1;
    const char32_t cp = text::decode_utf8(p + i, len);
    ++cps;
    const unsigned char b = p[i];
    // words (same definition as the sparse block) and keyword groups
    if (is_word_byte(b)) {
      if (!in_word) {
        in_word = true;
        wh = kFnvOffset;
      }
      for (int j = 0; j < len; ++j) wh = (wh ^ lower(p[i + j])) * kFnvPrime;
    } else if (in_word) {
      in_word = false;
      ++words;
      ++groups[keyword_group(finish(wh, kWordSeed))];
    }
    const bool digit = cp >= '0' && cp <= '9';
    if (digit) {
      ++digits;
      if (!in_number) ++numbers;
    }
    if (line_start && digit) {
      std::size_t j = i;
      while (j < n && p[j] >= '0' && p[j] <= '9') ++j;
      if (j < n && (p[j] == '.' || p[j] == ')')) ++numbered;
    }
    in_number = digit;
    if (cp == '\n') {
      ++lines;
      line_start = true;
    } else if (!(cp == ' ' || cp == '\t' || cp == '\r')) {
      line_start = false;
    }
    if (cp == '`' && i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`' && (i == 0 || p[i - 1] != '`'))
      ++fences;
    if (cp == '?' || cp == 0xFF1F) ++questions;
    if (is_code_symbol(cp)) ++code_sym;
    if (is_math_symbol(cp)) ++math_sym;
    if (!(cp < 128 && is_space(static_cast<unsigned char>(cp)))) ++nonspace;
    if (cp < 128) {
      if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) ++latin;
      if (cp >= 'A' && cp <= 'Z') ++upper;
    } else if ((cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x1E00 && cp <= 0x1EFF)) {
      ++latin;
      if (text::general_category(cp) == text::GeneralCategory::Lu) ++upper;
    } else if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
               (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
               (cp >= 0xF900 && cp <= 0xFAFF)) {
      ++cjk;
    } else if (cp >= 0x0400 && cp <= 0x052F) {
      ++cyr;
      if (text::general_category(cp) == text::GeneralCategory::Lu) ++upper;
    } else if ((cp >= 0x0600 && cp <= 0x06FF) || (cp >= 0x0750 && cp <= 0x077F)) {
      ++arabic;
    } else if (text::char_class(cp) & text::kLetter) {
      ++other;
    }
    i += static_cast<std::size_t>(len);
  }
  if (in_word) {
    ++words;
    ++groups[keyword_group(finish(wh, kWordSeed))];
  }
  double tokens;
  if (encoding_ != nullptr && !spec_.encoding.empty())
    tokens = static_cast<double>(encoding_->count_ordinary(text));
  else
    tokens = static_cast<double>(n) / 4.0;  // documented estimate when no tokenizer is named
  const double c = cps > 0 ? static_cast<double>(cps) : 1.0;
  f[kLogTokens] = std::log1p(tokens);
  f[kLogChars] = std::log1p(static_cast<double>(cps));
  f[kLogWords] = std::log1p(static_cast<double>(words));
  f[kLogLines] = std::log1p(static_cast<double>(lines));
  f[kCodeFences] = std::log1p(static_cast<double>(fences));
  f[kCodeSymbolShare] = code_sym / c;
  f[kCodeKeywords] = std::log1p(static_cast<double>(groups[kCode]));
  f[kMathSymbols] = std::log1p(static_cast<double>(math_sym));
  f[kMathKeywords] = std::log1p(static_cast<double>(groups[kMath]));
  f[kDigitShare] = digits / c;
  f[kLogNumbers] = std::log1p(static_cast<double>(numbers));
  f[kQuestions] = std::log1p(static_cast<double>(questions));
  f[kMultistep] = std::log1p(static_cast<double>(groups[kMultiStep]));
  f[kNumberedLines] = std::log1p(static_cast<double>(numbered));
  f[kCreative] = std::log1p(static_cast<double>(groups[kCreativeGroup]));
  f[kLatinShare] = latin / c;
  f[kCjkShare] = cjk / c;
  f[kCyrillicShare] = cyr / c;
  f[kArabicShare] = arabic / c;
  f[kOtherScriptShare] = other / c;
  f[kUpperShare] = upper / c;
  f[kEmpty] = nonspace == 0 ? 1.0 : 0.0;
  for (int k = 0; k < kNumDense; ++k) out[k] = static_cast<float>(f[k]);
}

void FeatureExtractor::dense(std::string_view text, float* out) const {
  dense_raw(text, out);
  const std::size_t d = dense_signal_names().size();
  for (std::size_t k = 0; k < d; ++k) out[k] = (out[k] - spec_.dense_mean[k]) / spec_.dense_scale[k];
}

}  // namespace tokenops::router
