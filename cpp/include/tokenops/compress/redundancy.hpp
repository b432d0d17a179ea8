#pragma once
// Redundancy: near-duplicate chunks or passages by the Jaccard similarity of their word 3-shingle
// sets (terms as BM25 sees them: case-folded, lightly stemmed words and numbers, punctuation
// left out). Two texts are near-duplicates when that Jaccard is at least `min_jaccard` (0.5: one
// changed word in a 100-word passage gives about 0.94, five about 0.73, ten about 0.53; a cut-off
// tail or a short prefix keeps it above 0.9; distinct real passages stay below 0.3), and neither
// has more than 1.25x the other's shingles (`min_size_ratio`), and the later one holds no term
// with a digit that the earlier one lacks (template sentences that differ in their numbers
// are other facts; a copy with a number cut off adds nothing).
// Candidate
// pairs come from MinHash locality-sensitive hashing (32 min-hashes in 16 bands of 2: a pair at
// Jaccard 0.5 shares a band with probability 0.99, at 0.6 0.999, at 0.7 0.99999) and every
// candidate is checked with the exact Jaccard of the two shingle sets, so a flagged pair always
// meets the threshold; the pass is linear in the number of chunks. A chunk is compared with at
// most the first and the last 32 earlier chunks of each band's bucket: every one in ordinary
// text, where a bucket holds a few; template-like lines (log lines differing in one id) crowd
// their buckets, and comparing with all of them was quadratic. Identical term lists are matched
// exactly, whatever their length; shorter than `min_terms` terms, only those.
// (This replaced a 64-bit SimHash within 3 bits, which missed most edited passages: one changed
// word in 100 was caught in 9 of 50 NQ passages, three in none; scripts/compression_near_dup.py.)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenops/compress/segment.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::compress {

/// Sorted, distinct 64-bit hashes of the word 3-shingles of `terms` (of the terms themselves
/// when there are fewer than 3).
std::vector<std::uint64_t> shingle_set(const std::vector<std::string>& terms);

/// |a & b| of two sorted, distinct hash sets.
std::size_t shared(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);

/// Jaccard similarity |a & b| / |a | b| of two sorted, distinct hash sets (1 when both are empty).
double jaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);

struct RedundancyOptions {
  double min_jaccard = 0.5;   // in (0, 1]: shingle Jaccard at which two chunks are near-duplicates
  std::size_t min_shared = 8; // and at least this many shared shingles (a run of 10 words): short
                              // table rows with the same markup and other numbers share 4 of 8
  double min_size_ratio = 0.8; // and shingle counts within this ratio: a text that holds an
                              // earlier one plus more (a passage with the answer sentence added,
                              // J 27/40) is no duplicate of it, it says more
  std::size_t min_terms = 4;  // shorter chunks are only matched exactly
  text::StopFn stop;          // asked every 4,096 chunks (Ctrl-C): once true, the pass returns what
                              // it found so far and the caller must give up; empty: never stop
};

/// For every chunk, the index of the earlier chunk it duplicates, or -1. Only chunks that are
/// not duplicates themselves are matched against (the earliest one that meets the threshold is
/// reported).
std::vector<std::int32_t> find_duplicate_chunks(std::string_view text, const Segmentation& seg,
                                                const RedundancyOptions& options = {});

/// Same for a list of free texts (passages).
std::vector<std::int32_t> find_duplicate_texts(const std::vector<std::string_view>& texts,
                                               const RedundancyOptions& options = {});

}  // namespace tokenops::compress
