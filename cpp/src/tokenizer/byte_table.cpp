#include "tokenops/tokenizer/byte_table.hpp"

#include "tokenops/text/error.hpp"

namespace tokenops::tokenizer {

void ByteTable::build(const std::vector<std::string_view>& keys,
                      const std::vector<std::uint32_t>& values) {
  TOKENOPS_CHECK(keys.size() == values.size(), InvalidArgument, "ByteTable: ", keys.size(),
                 " keys but ", values.size(), " values");
  std::size_t cap = 16;
  while (cap < keys.size() * 2 + 1) cap <<= 1;
  slots_.assign(cap, Slot{});
  tails_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = keys.size();
  arena_.clear();
  std::size_t bits = 1024;
  while (bits < keys.size() * 16) bits <<= 1;
  filter_.assign(bits / 64, 0);
  filter_mask_ = bits - 1;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const auto* p = reinterpret_cast<const unsigned char*>(keys[k].data());
    const std::size_t len = keys[k].size();
    TOKENOPS_CHECK(len > 0, InvalidArgument, "ByteTable: empty key at index ", k);
    TOKENOPS_CHECK(len < 0xFFFFFFFFu, InvalidArgument, "ByteTable: key too long at index ", k);
    const std::uint64_t head = detail::load_head(p, len);
    const std::uint64_t hash = detail::hash_bytes(p, len, head);
    const std::uint64_t fb = (hash >> 32) & filter_mask_;
    filter_[fb >> 6] |= std::uint64_t{1} << (fb & 63);
    std::size_t i = hash & mask_;
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    Slot& s = slots_[i];
    s.head = head;
    s.len = static_cast<std::uint32_t>(len);
    s.value = values[k];
    if (len > 8) {
      tails_[i] = static_cast<std::uint32_t>(arena_.size());
      arena_.insert(arena_.end(), p + 8, p + len);
    }
  }
  arena_.shrink_to_fit();
}

}  // namespace tokenops::tokenizer
