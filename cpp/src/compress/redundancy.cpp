#include "tokenops/compress/redundancy.hpp"

#include <algorithm>
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

// Bucket entries compared per band: the first and the last kProbe of a bucket. Unrelated
// fingerprints share a 16-bit band key with probability 2^-16, so a bucket of normal text holds a
// handful and every entry is compared (the same pairs as before); template-like lines (log lines
// that differ in one id) have fingerprints a few bits apart that crowd the same buckets, and
// comparing every entry made the pass quadratic (200,000 log lines: 100 s). Such a line is
// compared with the oldest and the newest representatives of its buckets only, so a near-
// duplicate of a representative in the middle of a crowded bucket can go unnoticed. (Entries
// are compared oldest first, so where several are near, the one reported can differ from the
// former hash-multimap order; whether a chunk is a duplicate does not.)
constexpr std::size_t kProbe = 256;

std::vector<std::int32_t> dedup(const std::vector<std::vector<std::string>>& docs,
                                const RedundancyOptions& opt) {
  TOKENOPS_CHECK(opt.max_hamming >= 0 && opt.max_hamming <= 3, InvalidArgument,
                 "max_hamming must be in [0, 3], got ", opt.max_hamming);
  std::vector<std::int32_t> dup(docs.size(), -1);
  // per band: 16-bit key -> representatives (documents not found to be duplicates) with their
  // fingerprints, in order
  std::array<std::unordered_map<std::uint16_t, std::vector<std::pair<std::uint64_t, std::int32_t>>>, 4> bands;
  std::unordered_map<std::uint64_t, std::int32_t> exact;
  for (std::size_t d = 0; d < docs.size(); ++d) {
    if ((d & 4095) == 4095 && opt.stop && opt.stop()) return dup;  // the caller gives up too
    const auto& t = docs[d];
    if (t.empty()) continue;
    const auto id = static_cast<std::int32_t>(d);
    auto [it, fresh] = exact.try_emplace(exact_hash(t), id);
    if (!fresh) {
      dup[d] = it->second;
      continue;
    }
    if (t.size() < opt.min_terms) continue;
    const std::uint64_t f = simhash(t);
    for (int b = 0; b < 4 && dup[d] < 0; ++b) {
      auto found = bands[b].find(static_cast<std::uint16_t>(f >> (16 * b)));
      if (found == bands[b].end()) continue;
      const auto& reps = found->second;
      const std::size_t head = std::min(reps.size(), kProbe);
      const std::size_t tail = reps.size() > 2 * kProbe ? reps.size() - kProbe : head;
      for (std::size_t i = 0; i < reps.size() && dup[d] < 0; i = (i + 1 == head ? tail : i + 1))
        if (std::popcount(f ^ reps[i].first) <= opt.max_hamming) dup[d] = reps[i].second;
    }
    if (dup[d] < 0)
      for (int b = 0; b < 4; ++b) bands[b][static_cast<std::uint16_t>(f >> (16 * b))].emplace_back(f, id);
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
