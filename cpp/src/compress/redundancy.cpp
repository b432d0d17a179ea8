#include "tokenops/compress/redundancy.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

// The facts of a text: the sorted, distinct hashes of its terms that hold a digit ("120",
// "q3", "2024"). A text is a near-duplicate of an earlier one only when it holds no fact the
// earlier one lacks: template sentences ("In Q3 the company reported revenue of 151 million
// dollars, ...") are what a question tells apart, and the later ones were dropped as copies of
// the first; a copy with a number cut off adds nothing and still goes.
std::vector<std::uint64_t> sorted_distinct(std::vector<std::uint64_t> h) {
  std::sort(h.begin(), h.end());
  h.erase(std::unique(h.begin(), h.end()), h.end());
  return h;
}

std::vector<std::uint64_t> facts_of(const std::vector<std::string>& terms) {
  std::vector<std::uint64_t> h;
  for (const auto& t : terms)
    if (t.find_first_of("0123456789") != std::string::npos) h.push_back(mix(fnv1a(t)));
  return sorted_distinct(std::move(h));
}

// MinHash: kHashes permutations of the (already mixed) shingle hashes, h -> a_i * h + b_i mod 2^64
// with odd a_i (a bijection each), grouped in kBands bands of kRows; two sets share a band's key
// with probability J^kRows, so a pair becomes a candidate with probability 1 - (1 - J^2)^16.
constexpr int kRows = 2;
constexpr int kBands = 16;
constexpr int kHashes = kRows * kBands;

struct Permutations {
  std::array<std::uint64_t, kHashes> a{}, b{};
  Permutations() {
    std::uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < kHashes; ++i) {
      a[i] = mix(s += 0x9e3779b97f4a7c15ull) | 1u;
      b[i] = mix(s += 0x9e3779b97f4a7c15ull);
    }
  }
};

std::array<std::uint64_t, kBands> band_keys(const std::vector<std::uint64_t>& shingles,
                                            const Permutations& p) {
  std::array<std::uint64_t, kHashes> mins;
  mins.fill(std::numeric_limits<std::uint64_t>::max());
  for (std::uint64_t h : shingles)
    for (int i = 0; i < kHashes; ++i) mins[i] = std::min(mins[i], p.a[i] * h + p.b[i]);
  std::array<std::uint64_t, kBands> keys;
  for (int b = 0; b < kBands; ++b) {
    std::uint64_t k = static_cast<std::uint64_t>(b) + 1;
    for (int r = 0; r < kRows; ++r) k = mix(k ^ mins[b * kRows + r]);
    keys[b] = k;
  }
  return keys;
}

// Bucket entries compared per band: the first and the last kProbe of a bucket. Unrelated texts
// share a band key only through common shingles, so a bucket of ordinary text holds a handful
// and every entry is compared; template-like lines (log lines that differ in a few fields) crowd
// the same buckets, and comparing every entry made the pass quadratic (200,000 log lines: 100 s).
// Such a line is compared with the oldest and the newest representatives of its buckets only,
// so a near-duplicate of a representative in the middle of a crowded bucket can go unnoticed.
// At most kVerify candidates (the earliest and the latest half) are checked exactly: a chunk with
// more than a handful of candidates is template-like, and a near-duplicate of it among them
// shares many bands with it and is seen early (200,000 log lines with several varying fields:
// 1.1 s in all with this cap, 18 s without, timed once with a throw-away C++ driver).
constexpr std::size_t kProbe = 8;
constexpr std::size_t kVerify = 32;

std::size_t shared_count(const std::uint64_t* a, std::size_t na, const std::uint64_t* b, std::size_t nb) {
  std::size_t i = 0, j = 0, both = 0;
  while (i < na && j < nb) {
    const std::uint64_t x = a[i], y = b[j];
    both += x == y;
    i += x <= y;
    j += y <= x;
  }
  return both;
}

// Buckets of representatives (documents not found to be duplicates), in order: an open-addressing
// table from a (band, key) slot to its bucket's first and last node, each bucket a doubly linked
// list of nodes. Flat arrays: most buckets hold one entry, and a node-based map with a vector
// per bucket spent its time allocating and chasing pointers.
class Buckets {
 public:
  struct Entry {
    std::uint64_t slot = 0;
    std::int32_t first = -1, last = -1;  // first == -1: empty
  };
  struct Node {
    std::int32_t doc, next, prev;
  };
  const Entry* find(std::uint64_t slot) const {
    if (table_.empty()) return nullptr;
    for (std::size_t i = slot & mask_;; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.first < 0) return nullptr;
      if (e.slot == slot) return &e;
    }
  }
  void append(std::uint64_t slot, std::int32_t doc) {
    if (2 * (used_ + 1) > table_.size()) grow();
    const auto node = static_cast<std::int32_t>(nodes_.size());
    Entry& e = probe(slot);
    if (e.first < 0) {
      ++used_;
      e = Entry{slot, node, node};
      nodes_.push_back(Node{doc, -1, -1});
    } else {
      nodes_.push_back(Node{doc, -1, e.last});
      nodes_[static_cast<std::size_t>(e.last)].next = node;
      e.last = node;
    }
  }
  const Node& node(std::int32_t i) const { return nodes_[static_cast<std::size_t>(i)]; }

 private:
  Entry& probe(std::uint64_t slot) {
    for (std::size_t i = slot & mask_;; i = (i + 1) & mask_) {
      Entry& e = table_[i];
      if (e.first < 0 || e.slot == slot) return e;
    }
  }
  void grow() {
    std::vector<Entry> old(table_.empty() ? 1024 : 2 * table_.size());
    old.swap(table_);
    mask_ = table_.size() - 1;
    for (const Entry& e : old)
      if (e.first >= 0) probe(e.slot) = e;
  }
  std::vector<Entry> table_;
  std::vector<Node> nodes_;
  std::size_t mask_ = 0, used_ = 0;
};

std::vector<std::int32_t> dedup(const std::vector<std::vector<std::string>>& docs,
                                const RedundancyOptions& opt) {
  TOKENOPS_CHECK(std::isfinite(opt.min_jaccard) && opt.min_jaccard > 0.0 && opt.min_jaccard <= 1.0,
                 InvalidArgument, "min_jaccard must be in (0, 1], got ", opt.min_jaccard);
  TOKENOPS_CHECK(std::isfinite(opt.min_size_ratio) && opt.min_size_ratio >= 0.0 && opt.min_size_ratio <= 1.0,
                 InvalidArgument, "min_size_ratio must be in [0, 1], got ", opt.min_size_ratio);
  static const Permutations perms;
  std::vector<std::int32_t> dup(docs.size(), -1);
  Buckets buckets;
  std::unordered_map<std::uint64_t, std::int32_t> exact;
  // representatives' shingle sets, one after another (one cache miss per comparison)
  std::vector<std::uint64_t> pool;
  std::vector<std::size_t> set_at(docs.size(), 0), set_len(docs.size(), 0);
  std::vector<std::uint64_t> fact_pool;  // representatives' facts, one after another
  std::vector<std::size_t> fact_at(docs.size(), 0), fact_len(docs.size(), 0);
  std::vector<std::int32_t> cand, seen(docs.size(), -1);
  std::array<std::uint64_t, kBands> slot;
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
    std::vector<std::uint64_t> s = shingle_set(t);
    if (s.size() < opt.min_shared) continue;  // can share no min_shared shingles: exact only
    const std::vector<std::uint64_t> f = facts_of(t);
    const auto keys = band_keys(s, perms);
    cand.clear();
    auto take = [&](std::int32_t node) {
      const auto c = buckets.node(node).doc;
      if (seen[static_cast<std::size_t>(c)] == id) return;  // a candidate through another band
      seen[static_cast<std::size_t>(c)] = id;
      cand.push_back(c);
    };
    for (int b = 0; b < kBands; ++b) {
      slot[b] = mix(keys[b] + static_cast<std::uint64_t>(b) * 0x9e3779b97f4a7c15ull);
      const Buckets::Entry* found = buckets.find(slot[b]);
      if (found == nullptr) continue;
      // the first kProbe nodes, then the last kProbe before them (walking back)
      std::int32_t head = found->first;
      std::size_t k = 0;
      for (; head >= 0 && k < kProbe; head = buckets.node(head).next, ++k) take(head);
      if (head < 0) continue;  // the whole bucket was taken
      const std::int32_t stop = buckets.node(head).prev;
      std::int32_t tail = found->last;
      for (k = 0; tail != stop && k < kProbe; tail = buckets.node(tail).prev, ++k) take(tail);
    }
    std::sort(cand.begin(), cand.end());
    if (cand.size() > kVerify)  // the earliest and the latest kVerify / 2
      cand.erase(cand.begin() + kVerify / 2, cand.end() - kVerify / 2);
    for (std::int32_t c : cand) {  // the earliest candidate that meets the threshold
      const std::uint64_t* o = pool.data() + set_at[static_cast<std::size_t>(c)];
      const std::size_t on = set_len[static_cast<std::size_t>(c)];
      // |a & b| <= min(|a|, |b|): sizes far apart cannot reach the threshold (and are no
      // near-duplicates by min_size_ratio either)
      const double lo = static_cast<double>(std::min(s.size(), on));
      const double hi = static_cast<double>(std::max(s.size(), on));
      if (lo < std::max(opt.min_jaccard, opt.min_size_ratio) * hi) continue;
      {  // a fact the earlier text lacks (another number): no duplicate
        const std::uint64_t* e = fact_pool.data() + fact_at[static_cast<std::size_t>(c)];
        if (!std::includes(e, e + fact_len[static_cast<std::size_t>(c)], f.begin(), f.end())) continue;
      }
      const std::size_t both = shared_count(s.data(), s.size(), o, on);
      if (both >= opt.min_shared &&
          static_cast<double>(both) >= opt.min_jaccard * static_cast<double>(s.size() + on - both)) {
        dup[d] = c;
        break;
      }
    }
    if (dup[d] >= 0) continue;
    for (int b = 0; b < kBands; ++b) buckets.append(slot[b], id);
    set_at[d] = pool.size();
    fact_at[d] = fact_pool.size();
    fact_len[d] = f.size();
    fact_pool.insert(fact_pool.end(), f.begin(), f.end());
    set_len[d] = s.size();
    pool.insert(pool.end(), s.begin(), s.end());
  }
  return dup;
}

}  // namespace

std::vector<std::uint64_t> shingle_set(const std::vector<std::string>& terms) {
  std::vector<std::uint64_t> out;
  if (terms.size() < 3) {
    for (const auto& t : terms) out.push_back(mix(fnv1a(t)));
  } else {
    out.reserve(terms.size() - 2);
    // a separator byte between terms, so ("ab", "c") and ("a", "bc") differ
    for (std::size_t i = 0; i + 3 <= terms.size(); ++i)
      out.push_back(mix(fnv1a(terms[i + 2], fnv1a("\x1f", fnv1a(terms[i + 1], fnv1a("\x1f", fnv1a(terms[i])))))));
  }
  return sorted_distinct(std::move(out));
}

std::size_t shared(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  return shared_count(a.data(), a.size(), b.data(), b.size());
}

double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  const std::size_t both = shared(a, b);
  return static_cast<double>(both) / static_cast<double>(a.size() + b.size() - both);
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
