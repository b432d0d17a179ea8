#pragma once
// Build an Encoding from Mistral's tekken tokenizer file (io/tekken_file.hpp).
#include <memory>
#include <string>
#include <string_view>

#include "tokenops/io/tekken_file.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::tokenizer {

/// The pre-tokenizer regex of every tekken file published so far (config.pattern).
inline constexpr std::string_view kTekkenPattern =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/// A rank-mode encoding (ids = rank + the special-token count, so merge priorities keep their
/// order) with the TEKKEN pre-tokenizer and the file's special tokens. Throws InvalidArgument
/// naming `source` for a pattern other than kTekkenPattern (no regex engine at run time).
std::shared_ptr<const Encoding> encoding_from_tekken(std::string name, io::TekkenModel model,
                                                     std::string_view source);

}  // namespace tokenops::tokenizer
