#pragma once
// Segmentation of a prompt into the units the compressor keeps or drops.
//
// A unit is a word, a number, a punctuation mark, a newline run, a URL, a code block, or (for
// scripts written without spaces: Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan) one character
// with its combining marks. Units never split a UTF-8 sequence. Each unit owns the horizontal
// whitespace before it, so the concatenation of all units' [ws, end) ranges is the whole text
// (an indented code block's indentation is part of its content).
// Units are grouped into chunks (sentences, lines, code blocks) and into atomic groups that are
// kept or dropped as a whole (an entity-like run of at most 6 capitalised words, "$" + number +
// "%", a number with its scale word or month name, "5 < 7", a citation marker "[3]", a JSON
// escape sequence...).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::compress {

enum class UnitKind : std::uint8_t {
  Word,     // letters (and digits) of a spaced script
  Number,   // starts with a digit: 42, 3.14, 1,000, 2nd, 10am
  Punct,    // one punctuation / symbol character (or a run of the same one: "...", "---")
  Newline,  // up to two line breaks (with the spaces between them); a longer run is several units
  Char,     // one character of a script written without spaces (CJK, Thai...), marks included
  Url,      // http(s)://..., www...., other scheme://..., e-mail addresses, paths, domain/path
  Code,     // a fenced ``` block, an indented block after a blank line, inline `code` / ``code``
};

enum UnitFlag : std::uint8_t {
  kHasDigit = 1u << 0,    // contains a digit or other numeral (any script; Nd, No, Nl)
  kCapital = 1u << 1,     // starts with an upper-case letter
  kEntity = 1u << 2,      // part of an entity-like span (run of capitalised words, acronym)
  kStructure = 1u << 3,   // JSON structure (keys, brackets, quotes, literals) in JSON mode
  kSentenceEnd = 1u << 4, // the last unit of a sentence
  kProtected = 1u << 5,   // overlaps a span the caller marked as protected
};

constexpr std::uint32_t kNoGroup = 0xFFFFFFFFu;

struct Unit {
  std::uint32_t ws = 0;     // start of the horizontal whitespace before the unit
  std::uint32_t start = 0;  // first byte of the unit's content
  std::uint32_t end = 0;    // one past its last byte
  std::uint32_t chunk = 0;  // index of the chunk holding it
  std::uint32_t group = kNoGroup;  // atomic group: units with the same group go together
  UnitKind kind = UnitKind::Word;
  std::uint8_t flags = 0;
};

struct Chunk {
  std::uint32_t first = 0;  // first unit
  std::uint32_t last = 0;   // one past the last unit
};

struct SegmentOptions {
  bool json = false;  // treat the text as JSON: only string values are compressible
  /// Byte ranges [begin, end) the caller marks as protected (kept whole, always).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> protected_spans;
};

struct Segmentation {
  std::vector<Unit> units;
  std::vector<Chunk> chunks;
  std::uint32_t n_groups = 0;
};

/// Splits valid UTF-8 text (the caller validates) into units, chunks and atomic groups.
/// Throws InvalidArgument for invalid JSON in JSON mode or for texts over 4 GiB.
Segmentation segment(std::string_view text, const SegmentOptions& options = {});

/// True for code points of scripts written without spaces between words (compressed per char).
bool is_unspaced_script(char32_t cp) noexcept;

/// Lower-cases the letters of a word (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic; others
/// unchanged) and maps the typographic apostrophe to "'". Used for frequency and term lookups.
void fold_case(std::string_view word, std::string& out);

/// Words of `text` lower-cased by fold_case (Word, Number and Char units), in order. Used to train
/// the n-gram model with exactly the segmentation the compressor sees.
std::vector<std::string> word_list(std::string_view text);

}  // namespace tokenops::compress
