#include "tokenops/text/unicode.hpp"

#include "tokenops/text/utf8.hpp"

#include <array>
#include <cstdint>

namespace tokenops::text {
namespace {
#include "unicode_data.inc"

constexpr std::uint8_t class_of_category(GeneralCategory gc) {
  switch (gc) {
    case GeneralCategory::Lu:
    case GeneralCategory::Lt:
      return kLetter | kUpperish;
    case GeneralCategory::Ll:
      return kLetter | kLowerish;
    case GeneralCategory::Lm:
    case GeneralCategory::Lo:
      return kLetter | kUpperish | kLowerish;
    case GeneralCategory::Mn:
    case GeneralCategory::Mc:
    case GeneralCategory::Me:
      return kMark | kUpperish | kLowerish;
    case GeneralCategory::Nd:
    case GeneralCategory::Nl:
    case GeneralCategory::No:
      return kNumber;
    case GeneralCategory::Zs:
    case GeneralCategory::Zl:
    case GeneralCategory::Zp:
      return kSpace;
    default:
      return 0;
  }
}

constexpr std::array<std::uint8_t, 32> make_category_classes() {
  std::array<std::uint8_t, 32> t{};
  for (int i = 0; i < 30; ++i) t[i] = class_of_category(static_cast<GeneralCategory>(i));
  return t;
}
constexpr auto kCategoryClass = make_category_classes();

constexpr std::uint8_t raw_category(char32_t cp) noexcept {
  if (cp > 0x10FFFF) return 0;
  return kUnicodeStage2[(std::uint32_t(kUnicodeStage1[cp >> kUnicodeBlockShift])
                         << kUnicodeBlockShift) |
                        (cp & ((1u << kUnicodeBlockShift) - 1))];
}

// White_Space code points that are not Zs/Zl/Zp (PropList.txt): TAB..CR and NEL.
constexpr bool is_control_space(char32_t cp) noexcept {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x85;
}

constexpr std::uint8_t compute_class(char32_t cp) noexcept {
  std::uint8_t c = kCategoryClass[raw_category(cp)];
  if (is_control_space(cp)) c |= kSpace;
  if (cp == '\r' || cp == '\n') c |= kCrLf;
  return c;
}

// Class bits of the whole BMP, computed at compile time (no static-initialisation order issue).
constexpr std::array<std::uint8_t, 0x10000> make_bmp_classes() {
  std::array<std::uint8_t, 0x10000> t{};
  for (char32_t cp = 0; cp < 0x10000; ++cp) t[cp] = compute_class(cp);
  return t;
}
constexpr std::array<std::uint8_t, 0x10000> kBmpClassTable = make_bmp_classes();

}  // namespace

namespace detail {
const std::uint8_t* const kBmpClass = kBmpClassTable.data();
}  // namespace detail

const char* unicode_version() noexcept { return TOKENOPS_UNICODE_VERSION; }

GeneralCategory general_category(char32_t cp) noexcept {
  return static_cast<GeneralCategory>(raw_category(cp));
}

std::uint8_t char_class(char32_t cp) noexcept { return compute_class(cp); }

namespace {
bool white_space_at(std::string_view t, std::size_t i, int& len) noexcept {
  return (char_class_bmp(decode_utf8(reinterpret_cast<const unsigned char*>(t.data()) + i, len)) & kSpace) != 0;
}
}  // namespace

std::size_t white_space_run_start(std::string_view t, std::size_t lo, std::size_t end) noexcept {
  while (end > lo) {
    std::size_t j = end - 1;
    while (j > lo && (static_cast<unsigned char>(t[j]) & 0xC0) == 0x80) --j;
    int len = 0;
    if (!white_space_at(t, j, len)) break;
    end = j;
  }
  return end;
}

std::size_t white_space_run_end(std::string_view t, std::size_t begin) noexcept {
  int len = 0;
  while (begin < t.size() && white_space_at(t, begin, len)) begin += static_cast<std::size_t>(len);
  return begin;
}

}  // namespace tokenops::text
