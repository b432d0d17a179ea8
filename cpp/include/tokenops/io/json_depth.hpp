#pragma once
// A nesting limit for every JSON document the loaders read. nlohmann's parser accepts any depth,
// but copying or recursing through a value 100k levels deep overflows the C stack (a 400 KB
// tokenizer.json of brackets crashed the process). Real vocabulary, model-config, price and
// router files nest fewer than 20 levels.
#include <cstddef>
#include <string_view>

namespace tokenops::io {

inline constexpr std::size_t kMaxJsonDepth = 256;

/// Throws InvalidArgument naming `source` when `text` (JSON) nests arrays / objects deeper than
/// kMaxJsonDepth. Linear, no allocation; strings (and their escapes) are skipped. Syntax errors
/// are left to the parser.
void check_json_depth(std::string_view text, std::string_view source);

}  // namespace tokenops::io
