#pragma once
// Unicode general categories, pinned to one Unicode version (see scripts/gen_unicode_tables.py),
// and the character classes the pre-tokenizers need.
#include <array>
#include <cstdint>
#include <string_view>

namespace tokenops::text {

enum class GeneralCategory : std::uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No,
  Pc, Pd, Ps, Pe, Pi, Pf, Po, Sm, Sc, Sk, So,
  Zs, Zl, Zp, Cc, Cf, Cs, Co,
};

/// The Unicode version the tables were generated from.
const char* unicode_version() noexcept;

GeneralCategory general_category(char32_t cp) noexcept;

/// Character-class bits used by the BPE pre-tokenizers.
enum CharClass : std::uint8_t {
  kLetter = 1u << 0,      // \p{L}
  kNumber = 1u << 1,      // \p{N}
  kSpace = 1u << 2,       // \s  (Unicode White_Space)
  kMark = 1u << 3,        // \p{M}
  kUpperish = 1u << 4,    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]  (o200k)
  kLowerish = 1u << 5,    // [\p{Ll}\p{Lm}\p{Lo}\p{M}]        (o200k)
  kCrLf = 1u << 6,        // \r or \n
};

/// Class bits of a code point (table lookup; ASCII is a direct array access).
std::uint8_t char_class(char32_t cp) noexcept;

namespace detail {
constexpr std::array<std::uint8_t, 128> make_ascii_classes() {
  std::array<std::uint8_t, 128> t{};
  for (int cp = 0; cp < 128; ++cp) {
    std::uint8_t c = 0;
    if (cp >= 'a' && cp <= 'z') c = kLetter | kLowerish;
    if (cp >= 'A' && cp <= 'Z') c = kLetter | kUpperish;
    if (cp >= '0' && cp <= '9') c = kNumber;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) c = kSpace;
    if (cp == '\r' || cp == '\n') c |= kCrLf;
    t[cp] = c;
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 128> kAsciiClass = make_ascii_classes();
}  // namespace detail

namespace detail {
extern const std::uint8_t* const kBmpClass;  // char_class of U+0000..U+FFFF (64 KiB)
}  // namespace detail

/// char_class with the ASCII range answered from a constexpr array.
inline std::uint8_t char_class_fast(char32_t cp) noexcept {
  return cp < 128 ? detail::kAsciiClass[cp] : char_class(cp);
}

/// char_class answered inline from a direct table for the BMP (CJK, Cyrillic, ... in one load).
inline std::uint8_t char_class_bmp(char32_t cp) noexcept {
  return cp < 0x10000 ? detail::kBmpClass[cp] : char_class(cp);
}

/// The run of Unicode White_Space (Rust's char::is_whitespace; what Hugging Face's added-token
/// lstrip / rstrip take) that ends at `end` / starts at `begin` of valid UTF-8 `t`: returns where
/// it starts (not before `lo`) / where it ends.
std::size_t white_space_run_start(std::string_view t, std::size_t lo, std::size_t end) noexcept;
std::size_t white_space_run_end(std::string_view t, std::size_t begin) noexcept;

}  // namespace tokenops::text
