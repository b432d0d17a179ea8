#pragma once
// A validating JSON scanner (RFC 8259) that reports where the string values sit, so that the
// compressor can shorten their contents while keeping every key, bracket, quote and literal.
#include <cstdint>
#include <string_view>
#include <vector>

namespace tokenops::io {

struct JsonStringSpan {
  std::uint32_t begin = 0;  // first byte after the opening quote
  std::uint32_t end = 0;    // the closing quote
  bool is_key = false;      // an object key (never shortened)
};

/// Byte ranges of every string's contents, in order. Throws InvalidArgument naming the byte
/// offset when `text` is not one valid JSON value (whitespace around it allowed). The text must
/// be valid UTF-8 (checked by the caller).
std::vector<JsonStringSpan> json_string_spans(std::string_view text);

}  // namespace tokenops::io
