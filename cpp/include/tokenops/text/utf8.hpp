#pragma once
// UTF-8 helpers: validation at the boundary, and fast decoding of already-validated text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenops::text {

/// Index of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlongs, no
/// surrogates, nothing above U+10FFFF), or `npos` when the whole input is valid.
std::size_t find_invalid_utf8(std::string_view s) noexcept;

inline bool is_valid_utf8(std::string_view s) noexcept {
  return find_invalid_utf8(s) == std::string_view::npos;
}

/// Throws InvalidArgument naming the byte offset when `s` is not valid UTF-8.
void require_valid_utf8(std::string_view s, const char* what = "text");

/// Length in bytes of the UTF-8 sequence introduced by lead byte `b` (1 for continuation bytes).
inline int utf8_seq_len(unsigned char b) noexcept {
  if (b < 0x80) return 1;
  if (b < 0xE0) return b < 0xC0 ? 1 : 2;
  if (b < 0xF0) return 3;
  return 4;
}

/// Decode the code point starting at `p` in valid UTF-8; stores its byte length in `len`.
inline char32_t decode_utf8(const unsigned char* p, int& len) noexcept {
  unsigned char b = p[0];
  if (b < 0x80) {
    len = 1;
    return b;
  }
  if (b < 0xE0) {
    len = 2;
    return (char32_t(b & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b < 0xF0) {
    len = 3;
    return (char32_t(b & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  len = 4;
  return (char32_t(b & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
         (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

/// Append the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

/// Length of the longest prefix of `s` that ends on a code point boundary and holds only complete
/// sequences (bytes of a trailing incomplete sequence are excluded). Invalid bytes count as
/// complete single bytes so that callers never stall on them.
std::size_t complete_utf8_prefix(std::string_view s) noexcept;

/// Transcodes fixed-width code units (1, 2 or 4 bytes each, as in CPython's PEP 393 strings) to
/// UTF-8, appending to out. A high surrogate followed by a low one becomes the astral character
/// they encode and any other surrogate becomes U+FFFD: the result of Python's
/// text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"), which tiktoken applies.
void append_ucs_as_utf8(std::string& out, const void* data, std::size_t length, int unit_size);

}  // namespace tokenops::text
