#include "tokenops/compress/redundancy.hpp"

#include <array>
#include <bit>
#include <unordered_map>

#include "tokenops/compress/relevance.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::compress {

namespace {

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

std::uint64_t exact_hash(const std::vector<std::string>& terms) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& t : terms) h = fnv1a(t, h) * 31 + 7;
  return mix(h);
}

std::vector<std::int32_t> dedup(const std::vector<std::vector<std::string>>& docs,
                                const RedundancyOptions& opt) {
  TOKENOPS_CHECK(opt.max_hamming >= 0 && opt.max_hamming <= 3, InvalidArgument,
                 "max_hamming must be in [0, 3], got ", opt.max_hamming);
  std::vector<std::int32_t> dup(docs.size(), -1);
  std::array<std::unordered_multimap<std::uint16_t, std::int32_t>, 4> bands;
  std::unordered_map<std::uint64_t, std::int32_t> exact;
  std::vector<std::uint64_t> fp(docs.size(), 0);
  for (std::size_t d = 0; d < docs.size(); ++d) {
    const auto& t = docs[d];
    if (t.empty()) continue;
    const auto id = static_cast<std::int32_t>(d);
    auto [it, fresh] = exact.try_emplace(exact_hash(t), id);
    if (!fresh) {
      dup[d] = it->second;
      continue;
    }
    if (t.size() < opt.min_terms) continue;
    fp[d] = simhash(t);
    for (int b = 0; b < 4 && dup[d] < 0; ++b) {
      auto key = static_cast<std::uint16_t>(fp[d] >> (16 * b));
      auto range = bands[b].equal_range(key);
      for (auto r = range.first; r != range.second; ++r) {
        if (std::popcount(fp[d] ^ fp[r->second]) <= opt.max_hamming) {
          dup[d] = r->second;
          break;
        }
      }
    }
    if (dup[d] < 0)
      for (int b = 0; b < 4; ++b) bands[b].emplace(static_cast<std::uint16_t>(fp[d] >> (16 * b)), id);
  }
  return dup;
}

}  // namespace

std::uint64_t simhash(const std::vector<std::string>& terms) {
  std::array<int, 64> v{};
  auto add = [&](std::uint64_t h) {
    for (int i = 0; i < 64; ++i) v[i] += ((h >> i) & 1) ? 1 : -1;
  };
  if (terms.size() < 3) {
    for (const auto& t : terms) add(mix(fnv1a(t)));
  } else {
    for (std::size_t i = 0; i + 3 <= terms.size(); ++i)
      add(mix(fnv1a(terms[i + 2], fnv1a(terms[i + 1], fnv1a(terms[i])))));
  }
  std::uint64_t out = 0;
  for (int i = 0; i < 64; ++i)
    if (v[i] > 0) out |= (1ull << i);
  return out;
}

std::vector<std::int32_t> find_duplicate_chunks(std::string_view text, const Segmentation& seg,
                                                const RedundancyOptions& options) {
  std::vector<std::vector<std::string>> docs(seg.chunks.size());
  for (std::size_t c = 0; c < seg.chunks.size(); ++c)
    unit_terms(text, seg, seg.chunks[c].first, seg.chunks[c].last, false, docs[c]);
  return dedup(docs, options);
}

std::vector<std::int32_t> find_duplicate_texts(const std::vector<std::string_view>& texts,
                                               const RedundancyOptions& options) {
  std::vector<std::vector<std::string>> docs;
  docs.reserve(texts.size());
  for (auto t : texts) docs.push_back(text_terms(t, false));
  return dedup(docs, options);
}

}  // namespace tokenops::compress
