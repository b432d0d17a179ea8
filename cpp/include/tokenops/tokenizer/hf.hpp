#pragma once
// Build an Encoding from a Hugging Face byte-level BPE tokenizer.json.
#include <memory>
#include <string_view>

#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::tokenizer {

/// Maps a Split regex from a tokenizer.json to the hand-written pre-tokenizer that implements it
/// ("" = ByteLevel alone, its built-in GPT-2 regex: io::HfBpeModel::split_pattern's convention;
/// the reader refuses a Split whose regex is empty). Throws InvalidArgument for patterns we do not have;
/// the message starts with `source` (the file) when it is given.
PreTokenizer pretokenizer_for_hf_pattern(std::string_view pattern, std::string_view source = {});

/// `source` names the tokenizer.json in error messages; when empty, the encoding's `name` does
/// (tokenops' Python loader names an encoding after its file unless told otherwise).
std::shared_ptr<const Encoding> encoding_from_hf(std::string name, const io::HfBpeModel& model,
                                                 std::string_view source = {});

}  // namespace tokenops::tokenizer
