#pragma once
// A short, safe rendering of a JSON value for error messages. Primitives print as JSON (ASCII
// only, cut to 80 characters); arrays and objects print as their kind and size. Never a full
// dump: dump() recurses once per nesting level, and a value nested 100,000 deep (200 KB of
// input) overflowed the stack while building the error message.
#include <nlohmann/json.hpp>
#include <string>

namespace tokenops::io {

inline std::string json_preview(const nlohmann::json& v) {
  if (v.is_array()) return "an array of " + std::to_string(v.size()) + " items";
  if (v.is_object()) return "an object with " + std::to_string(v.size()) + " keys";
  std::string s = v.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace tokenops::io
