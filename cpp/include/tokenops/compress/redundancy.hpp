#pragma once
// Redundancy: 64-bit SimHash (Charikar 2002) over word 3-shingles. A chunk whose fingerprint is
// within `max_hamming` bits of an earlier chunk's is a near-duplicate (repeated boilerplate, a
// passage retrieved twice) and is the first thing the compressor drops. Candidate pairs come
// from 4 bands of 16 bits (two fingerprints within 3 bits agree exactly on at least one band), so
// the pass is linear in the number of chunks. A chunk is compared with at most the first and the
// last 256 earlier chunks of each band's bucket: every one in normal text, where a bucket holds a
// few; template-like lines (log lines differing in one id) crowd their buckets, and comparing
// with all of them was quadratic.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/compress/segment.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::compress {

std::uint64_t simhash(const std::vector<std::string>& terms);

struct RedundancyOptions {
  int max_hamming = 3;       // at most 3 (the banding guarantees recall up to 3)
  std::size_t min_terms = 4; // shorter chunks are only matched exactly
  text::StopFn stop;         // asked every 4,096 chunks (Ctrl-C): once true, the pass returns what
                             // it found so far and the caller must give up; empty: never stop
};

/// For every chunk, the index of the earlier chunk it duplicates, or -1.
std::vector<std::int32_t> find_duplicate_chunks(std::string_view text, const Segmentation& seg,
                                                const RedundancyOptions& options = {});

/// Same for a list of free texts (passages).
std::vector<std::int32_t> find_duplicate_texts(const std::vector<std::string_view>& texts,
                                               const RedundancyOptions& options = {});

}  // namespace tokenops::compress
