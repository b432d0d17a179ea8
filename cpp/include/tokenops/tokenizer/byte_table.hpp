#pragma once
// ByteTable: an immutable open-addressing hash map from byte strings to uint32 values, built for
// the BPE hot loop. Each slot keeps the first 8 bytes of its key inline, so keys of up to 8 bytes
// (most tokens) are found with one cache-line access; longer keys compare their tail in the arena.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/text/hash.hpp"

namespace tokenops::tokenizer {

namespace detail {
using text::hash_bytes;
using text::load_head;
}  // namespace detail

class ByteTable {
 public:
  static constexpr std::uint32_t kMissing = 0xFFFFFFFFu;

  /// A lookup split in two halves so callers can issue the memory access for several keys
  /// (prefetch) before they need the answers.
  struct Probe {
    std::uint64_t head;
    std::uint64_t hash;  // full 64-bit hash of the key (index = hash & mask)
  };

  ByteTable() = default;

  /// Builds the table; keys must be distinct (checked by the caller).
  void build(const std::vector<std::string_view>& keys, const std::vector<std::uint32_t>& values);

  [[gnu::always_inline]] Probe probe(const unsigned char* p, std::size_t len) const noexcept {
    const std::uint64_t head = detail::load_head(p, len);
    return {head, detail::hash_bytes(p, len, head)};
  }
  /// probe() of a key of len >= 1 bytes at p when p[0, 8) may be read (the key lies inside a
  /// longer text): the head is one load and a mask, without probe()'s branches on the length.
  [[gnu::always_inline]] Probe probe_padded(const unsigned char* p,
                                             std::size_t len) const noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::size_t keep = len < 8 ? len : 8;  // a conditional move: no branch to mispredict
    const std::uint64_t head = w & (~std::uint64_t{0} >> (64 - 8 * keep));
    return {head, detail::hash_bytes(p, len, head)};
  }
  void prefetch(const Probe& pr) const noexcept { __builtin_prefetch(&slots_[pr.hash & mask_]); }

  /// One-bit-per-hash membership filter (16 bits per key, ~6% false positives) small enough to
  /// stay in L2: lets the BPE loop reject most non-tokens without touching the big table.
  [[gnu::always_inline]] bool may_contain(const Probe& pr) const noexcept {
    const std::uint64_t b = (pr.hash >> 32) & filter_mask_;
    return (filter_[b >> 6] >> (b & 63)) & 1u;
  }

  [[gnu::always_inline]] std::uint32_t find(const Probe& pr, const unsigned char* p,
                                            std::size_t len) const noexcept {
    std::size_t i = pr.hash & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.len == len && s.head == pr.head) {
        if (len <= 8 || tail_equal(tails_[i], p + 8, len - 8)) return s.value;
      } else if (s.len == 0) {
        return kMissing;
      }
      i = (i + 1) & mask_;
    }
  }
  std::uint32_t find(const unsigned char* p, std::size_t len) const noexcept {
    return find(probe(p, len), p, len);
  }
  bool tail_equal(std::uint32_t off, const unsigned char* p, std::size_t n) const noexcept {
    const unsigned char* a = arena_.data() + off;
    if (n <= 8) return text::load_head(a, n) == text::load_head(p, n);
    return std::memcmp(a, p, n) == 0;
  }
  std::uint32_t find(std::string_view s) const noexcept {
    return find(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  std::size_t size() const noexcept { return size_; }
  std::size_t memory_bytes() const noexcept {
    return slots_.capacity() * sizeof(Slot) + tails_.capacity() * sizeof(std::uint32_t) +
           filter_.capacity() * sizeof(std::uint64_t) +
           arena_.capacity();
  }

 private:
  struct Slot {
    std::uint64_t head = 0;   // first 8 bytes of the key, zero padded
    std::uint32_t len = 0;    // 0 marks an empty slot (empty keys are not stored)
    std::uint32_t value = 0;
  };
  std::vector<Slot> slots_{1};
  std::vector<std::uint64_t> filter_{0};
  std::uint64_t filter_mask_ = 0;
  std::vector<std::uint32_t> tails_;  // per slot: offset of key bytes [8, len) in arena_
  std::vector<unsigned char> arena_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tokenops::tokenizer
