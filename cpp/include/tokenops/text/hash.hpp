#pragma once
// Fast non-cryptographic hashing of byte strings, and duplicate detection without node-based
// containers (used by loaders of 100k+ entry vocabularies).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenops::text {

/// Little-endian packing of the first min(len, 8) bytes of p, zero padded; reads only [p, p+len).
[[gnu::always_inline]] inline std::uint64_t load_head(const unsigned char* p, std::size_t len) noexcept {
  if (len >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  if (len >= 4) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + len - 4, 4);
    return std::uint64_t(lo) | (std::uint64_t(hi) << (8 * (len - 4)));
  }
  if (len == 0) return 0;
  return std::uint64_t(p[0]) | (std::uint64_t(p[len >> 1]) << (8 * (len >> 1))) |
         (std::uint64_t(p[len - 1]) << (8 * (len - 1)));
}

[[gnu::always_inline]] inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

/// MurmurHash3's 64-bit finaliser: a bijective mixer for integer keys.
inline std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

/// Hash of p[0, len) given its head (load_head(p, len)).
[[gnu::always_inline]] inline std::uint64_t hash_bytes(const unsigned char* p, std::size_t len, std::uint64_t head) noexcept {
  std::uint64_t h = head ^ (len * 0x9E3779B97F4A7C15ull);
  if (len > 8) {
    std::size_t i = 8;
    for (; i + 8 <= len; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      h = mix64(h) ^ w;
    }
    if (i < len) {
      std::uint64_t w;
      std::memcpy(&w, p + len - 8, 8);  // overlapping tail; len > 8 keeps this in bounds
      h = mix64(h) ^ w;
    }
  }
  return mix64(h);
}

inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return hash_bytes(p, s.size(), load_head(p, s.size()));
}

/// Indices (later, earlier) of the first key equal to an earlier key, or (npos, npos).
std::pair<std::size_t, std::size_t> find_duplicate(const std::vector<std::string_view>& keys);

}  // namespace tokenops::text
