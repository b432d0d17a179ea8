#pragma once
// Build an Encoding from a Hugging Face byte-level BPE tokenizer.json.
#include <memory>
#include <string_view>

#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::tokenizer {

/// Maps a Split regex from a tokenizer.json to the hand-written pre-tokenizer that implements it
/// ("" = ByteLevel's built-in GPT-2 regex). Throws InvalidArgument for patterns we do not have.
PreTokenizer pretokenizer_for_hf_pattern(std::string_view pattern);

std::shared_ptr<const Encoding> encoding_from_hf(std::string name, const io::HfBpeModel& model);

}  // namespace tokenops::tokenizer
