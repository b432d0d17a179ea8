#include "tokenops/text/hash.hpp"

namespace tokenops::text {

std::pair<std::size_t, std::size_t> find_duplicate(const std::vector<std::string_view>& keys) {
  constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t cap = 16;
  while (cap < keys.size() * 2 + 1) cap <<= 1;
  std::vector<std::uint32_t> slots(cap, 0);  // index + 1; 0 = empty
  const std::size_t mask = cap - 1;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::size_t i = hash_bytes(keys[k]) & mask;
    while (slots[i] != 0) {
      if (keys[slots[i] - 1] == keys[k]) return {k, slots[i] - 1};
      i = (i + 1) & mask;
    }
    slots[i] = static_cast<std::uint32_t>(k + 1);
  }
  return {npos, npos};
}

}  // namespace tokenops::text
