#include "tokenops/tokenizer/hf.hpp"

#include "tokenops/text/error.hpp"

namespace tokenops::tokenizer {

namespace {
// Patterns as they appear in tokenizer.json files and tiktoken's openai_public.py.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kR50kPossessive =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";
constexpr std::string_view kCl100k =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}  // namespace

PreTokenizer pretokenizer_for_hf_pattern(std::string_view pattern, std::string_view source) {
  if (pattern.empty() || pattern == kGpt2 || pattern == kR50kPossessive) return PreTokenizer::R50K;
  // "<source>: " names the file; a pattern from a file can be any length, so it is quoted cut short
  const std::string where = source.empty() ? std::string() : ::tokenops::detail::concat(source, ": ");
  std::string quoted(pattern);
  if (pattern.size() > 200) {
    std::size_t cut = 200;  // on a UTF-8 character boundary
    while (cut > 0 && (static_cast<unsigned char>(pattern[cut]) & 0xC0) == 0x80) --cut;
    quoted = ::tokenops::detail::concat(pattern.substr(0, cut), "... (", pattern.size(), " bytes)");
  }
  if (pattern == kCl100k)
    throw InvalidArgument(::tokenops::detail::concat(
        where, "pre-tokenizer regex '", pattern, "' is tiktoken's possessive cl100k pattern, which Hugging "
        "Face tokenizers (Oniguruma) reads differently: there '\\p{N}{1,3}+' means "
        "'(?:\\p{N}{1,3})+', a whole digit run, where tiktoken splits digits in threes. tokenops "
        "does not implement that reading; load the .tiktoken rank file for cl100k's behaviour, or "
        "use the non-possessive pattern ('\\p{N}{1,3}', as the Llama-3 tokenizer.json spells it)"));
  if (pattern == kLlama3) return PreTokenizer::LLAMA3;
  if (pattern == kO200k) return PreTokenizer::O200K;
  throw InvalidArgument(::tokenops::detail::concat(
      where, "unsupported pre-tokenizer regex '", quoted,
      "': tokenops implements the GPT-2/r50k, cl100k, Llama-3 and o200k patterns by hand "
      "(no regex engine at run time)"));
}

std::shared_ptr<const Encoding> encoding_from_hf(std::string name, const io::HfBpeModel& model,
                                                 std::string_view source) {
  EncodingSpec spec;
  spec.pretokenizer = pretokenizer_for_hf_pattern(
      model.split_pattern, source.empty() ? ::tokenops::detail::concat("tokenizer.json '", name, "'") : std::string(source));
  spec.name = std::move(name);
  spec.tokens = model.token_bytes;
  spec.ids = model.token_ids;
  spec.merges.reserve(model.merges.size());
  for (const auto& m : model.merges) spec.merges.push_back({m[0], m[1], m[2]});
  spec.ignore_merges = model.ignore_merges;
  spec.merge_mode = true;  // a merge list drives BPE even when it is empty (bytes only)
  for (const auto& a : model.added_tokens)
    spec.specials.push_back({a.content, a.id, !a.special, a.lstrip, a.rstrip});
  return std::make_shared<const Encoding>(std::move(spec));
}

}  // namespace tokenops::tokenizer
