#include "tokenops/tokenizer/tekken.hpp"

#include <utility>

#include "tokenops/text/error.hpp"

namespace tokenops::tokenizer {

std::shared_ptr<const Encoding> encoding_from_tekken(std::string name, io::TekkenModel model,
                                                     std::string_view source) {
  if (model.pattern != kTekkenPattern) {
    std::string shown = model.pattern.substr(0, 200);
    throw InvalidArgument(::tokenops::detail::concat(
        source, ": unsupported tekken pre-tokenizer pattern '", shown, model.pattern.size() > 200 ? "...'" : "'",
        ": tokenops implements the pattern of the published tekken files by hand (no regex engine at run time)"));
  }
  EncodingSpec spec;
  spec.name = std::move(name);
  spec.pretokenizer = PreTokenizer::TEKKEN;
  spec.tokens.reserve(model.tokens.size());
  spec.ids.reserve(model.tokens.size());
  for (auto& t : model.tokens) {
    spec.tokens.push_back(std::move(t.bytes));
    spec.ids.push_back(t.rank);
  }
  for (auto& s : model.specials) spec.specials.push_back({std::move(s.text), s.id});
  return std::make_shared<const Encoding>(std::move(spec));
}

}  // namespace tokenops::tokenizer
