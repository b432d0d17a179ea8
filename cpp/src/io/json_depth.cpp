#include "tokenops/io/json_depth.hpp"

#include "tokenops/text/error.hpp"

namespace tokenops::io {

void check_json_depth(std::string_view text, std::string_view source) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw InvalidArgument(detail::concat(source, ": JSON nested deeper than ", kMaxJsonDepth,
                                             " levels (at byte ", i, "); not a file tokenops reads"));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace tokenops::io
