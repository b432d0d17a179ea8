#pragma once
// Guards against false semantic-cache hits: two prompts whose embeddings are close can still ask
// different things ("What is 15% of 80?" / "What is 15% of 90?", "Is Python slow?" / "Is Java
// slow?", "Which foods are not vegan?" / "Which foods are vegan?"). A guard compares a lexical
// signature of the two prompts and vetoes the hit when they disagree on something an embedding
// blurs: the numbers, a negation, a named entity, a quoted payload.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::cache {

/// Guard bits; a mismatch result is the OR of the guards that failed.
enum GuardBits : std::uint32_t {
  kGuardNumbers = 1u << 0,   // the sets of numbers differ ("1,000" == "1000", "3.10" != "3.1", "5am" != "5pm")
  kGuardNegation = 1u << 1,  // one is negated (not, no, never, n't, without, ...), the other not
  kGuardEntities = 1u << 2,  // a capitalised name / acronym of one is not a word of the other
  kGuardQuoted = 1u << 3,    // a "double-quoted", “curly-quoted” or `code` span of one prompt is
                             // neither quoted in the other nor part of its text (case folded)
  kGuardAll = kGuardNumbers | kGuardNegation | kGuardEntities | kGuardQuoted,
};

/// What the guards compare, extracted once per prompt.
struct Signature {
  std::vector<std::string> numbers;   // normalised digit runs, sorted, unique
  std::vector<std::string> entities;  // case-folded (ASCII) names and acronyms, sorted, unique
  std::vector<std::string> words;     // every word, case-folded (ASCII), sorted, unique
  std::vector<std::string> quoted;    // contents of quoted spans, folded (below), sorted, unique
  std::string folded;                 // the text, ASCII case folded, whitespace runs as one space
  bool negated = false;
};

/// The signature of UTF-8 text (InvalidArgument on invalid UTF-8). Linear in the text length.
Signature signature(std::string_view text);

/// Bits of the guards in `guards` that fail between the two signatures (0: the hit may stand).
std::uint32_t mismatch(const Signature& a, const Signature& b, std::uint32_t guards) noexcept;

/// The same from texts.
std::uint32_t mismatch(std::string_view a, std::string_view b, std::uint32_t guards);

}  // namespace tokenops::cache
