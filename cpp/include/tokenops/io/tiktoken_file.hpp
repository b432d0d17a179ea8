#pragma once
// Parser for tiktoken's `.tiktoken` rank files (also Llama-3's tokenizer.model): one
// `base64(token bytes) SP rank LF` per line; the rank is both the token id and its merge priority.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

struct RankEntry {
  std::string bytes;
  std::uint32_t rank;
};

/// Decodes standard base64 (RFC 4648 alphabet, '=' padding). Returns false on any invalid input.
bool base64_decode(std::string_view in, std::string& out);

/// Parses a rank file. `source` names the file in error messages. Ranks may appear in any order
/// but must be unique, and together with `reserved_ids` (ids of special tokens that may sit in
/// the rank space, like p50k's <|endoftext|> = 50256) must cover 0..max without gaps.
/// Throws InvalidArgument naming the line for bad base64, a bad rank, a duplicate rank or token,
/// or a gap.
std::vector<RankEntry> parse_tiktoken_ranks(std::string_view content, std::string_view source,
                                            const std::vector<std::uint32_t>& reserved_ids = {});

}  // namespace tokenops::io
