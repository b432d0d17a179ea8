#include "tokenops/text/utf8.hpp"

#include "tokenops/text/error.hpp"

namespace tokenops::text {

std::size_t find_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t w;
      __builtin_memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80) return i;
      i += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (i + 2 >= n) return i;
      unsigned char b1 = p[i + 1];
      if ((b1 & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return i;
      if (b == 0xE0 && b1 < 0xA0) return i;  // overlong
      if (b == 0xED && b1 >= 0xA0) return i;  // surrogate
      i += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (i + 3 >= n) return i;
      unsigned char b1 = p[i + 1];
      if ((b1 & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 || (p[i + 3] & 0xC0) != 0x80) return i;
      if (b == 0xF0 && b1 < 0x90) return i;  // overlong
      if (b == 0xF4 && b1 >= 0x90) return i;  // > U+10FFFF
      i += 4;
    } else {
      return i;
    }
  }
  return std::string_view::npos;
}

void require_valid_utf8(std::string_view s, const char* what) {
  std::size_t bad = find_invalid_utf8(s);
  TOKENOPS_CHECK(bad == std::string_view::npos, InvalidArgument, what,
                 " is not valid UTF-8: invalid byte 0x", std::hex,
                 static_cast<unsigned>(static_cast<unsigned char>(s[bad])), std::dec, " at offset ",
                 bad, " (decode it with errors='replace' first, or pass bytes to a bytes API)");
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void append_ucs_as_utf8(std::string& out, const void* data, std::size_t length, int unit_size) {
  auto unit = [&](std::size_t i) -> char32_t {
    switch (unit_size) {
      case 1:
        return static_cast<const std::uint8_t*>(data)[i];
      case 2:
        return static_cast<const std::uint16_t*>(data)[i];
      default:
        return static_cast<const std::uint32_t*>(data)[i];
    }
  };
  out.reserve(out.size() + length * (unit_size == 1 ? 2 : 3));
  for (std::size_t i = 0; i < length; ++i) {
    char32_t cp = unit(i);
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      if (cp <= 0xDBFF && i + 1 < length) {
        const char32_t lo = unit(i + 1);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          ++i;
          append_utf8(out, cp);
          continue;
        }
      }
      cp = 0xFFFD;
    }
    append_utf8(out, cp);
  }
}

std::size_t complete_utf8_prefix(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  // Look back at most 3 bytes for a lead byte whose sequence is cut off by the end.
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char b = p[n - back];
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (b < 0x80) return n;            // ASCII: everything complete
    int need = utf8_seq_len(b);
    if (b < 0xC2 || b > 0xF4) return n;  // not a valid lead byte: treat as complete junk
    if (static_cast<std::size_t>(need) <= back) return n;
    // Held back only if it can still complete: the byte after the lead must be in the lead's
    // range (E0 A0-BF, ED 80-9F, F0 90-BF, F4 80-8F), or "\xe0\x80" waited for bytes that
    // could never make it a character (a decoder replaces it at once).
    if (back >= 2) {
      const unsigned char c = p[n - back + 1];
      const unsigned char lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
      const unsigned char hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
      if (c < lo || c > hi) return n;
    }
    return n - back;
  }
  return n;
}

}  // namespace tokenops::text
