#include "tokenops/io/router_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json_preview.hpp"
#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::io {

using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxHeader = 100u << 20;

template <class T>
T get_field(const json& j, const char* key, std::string_view source, const T& fallback,
            bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    TOKENOPS_CHECK(!required, InvalidArgument, source, ": router config lacks the field '", key,
                   "'");
    return fallback;
  }
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": router config field '", key,
                                         "' has the wrong type (", e.what(), ")"));
  }
}

// Integer fields: nlohmann's get<int> wraps values beyond int (2^32 + 18 would read as 18) and a
// float such as 1e308 converts with undefined behaviour, so a malformed file could load as a
// different, valid-looking router. Only integers that fit in int are accepted.
template <>
int get_field<int>(const json& j, const char* key, std::string_view source, const int& fallback,
                   bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    TOKENOPS_CHECK(!required, InvalidArgument, source, ": router config lacks the field '", key,
                   "'");
    return fallback;
  }
  const bool fits =
      (it->is_number_unsigned() &&
       it->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) ||
      (it->is_number_integer() && !it->is_number_unsigned() &&
       it->get<std::int64_t>() >= std::numeric_limits<int>::min() &&
       it->get<std::int64_t>() <= std::numeric_limits<int>::max());
  TOKENOPS_CHECK(fits, InvalidArgument, source, ": router config field '", key,
                 "' must be an integer that fits in 32 bits, got ", json_preview(*it));
  return static_cast<int>(it->get<std::int64_t>());
}

// Number lists: nlohmann's get<float>/get<double> converts true/false to 1/0, so a list of
// booleans (or a value beyond float's range, which becomes inf) would load as valid-looking
// statistics. Only JSON numbers that are finite in the target type are accepted.
template <class T>
std::vector<T> get_number_list(const json& j, const char* key, std::string_view source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  TOKENOPS_CHECK(it->is_array(), InvalidArgument, source, ": router config field '", key,
                 "' must be a list of numbers, got ", json_preview(*it));
  std::vector<T> out;
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    TOKENOPS_CHECK(v.is_number(), InvalidArgument, source, ": router config field '", key, "' item ", i,
                   " must be a number, got ", json_preview(v));
    const double x = v.get<double>();
    TOKENOPS_CHECK(std::isfinite(x) && std::abs(x) <= static_cast<double>(std::numeric_limits<T>::max()),
                   InvalidArgument, source, ": router config field '", key, "' item ", i, " is not a finite ",
                   sizeof(T) == 4 ? "float32" : "float64", " (", json_preview(v), ")");
    out.push_back(static_cast<T>(x));
  }
  return out;
}

void check_one_of(const std::string& value, std::initializer_list<const char*> allowed,
                  const char* field, std::string_view source) {
  for (const char* a : allowed)
    if (value == a) return;
  std::string list;
  for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
  throw InvalidArgument(detail::concat(source, ": router config field '", field, "' is '", value,
                                       "'; expected one of ", list));
}

}  // namespace

RouterFile parse_router_file(std::string_view bytes, std::string_view source) {
  TOKENOPS_CHECK(bytes.size() >= 8, InvalidArgument, source,
                 ": not a router file (shorter than the 8-byte header length)");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  TOKENOPS_CHECK(header_len <= kMaxHeader && header_len <= bytes.size() - 8, InvalidArgument,
                 source, ": not a router file (header length ", header_len,
                 " does not fit in the file of ", bytes.size(), " bytes)");
  json header;
  check_json_depth(bytes.substr(8, header_len), source);
  try {
    header = json::parse(bytes.substr(8, header_len));
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": router file header is not valid JSON (",
                                         e.what(), ")"));
  }
  TOKENOPS_CHECK(header.is_object(), InvalidArgument, source,
                 ": router file header must be a JSON object");
  auto meta_it = header.find("__metadata__");
  TOKENOPS_CHECK(meta_it != header.end() && meta_it->is_object(), InvalidArgument, source,
                 ": safetensors file without tokenops router metadata (no __metadata__); is this "
                 "a router file written by tokenops.router.save_router?");
  const json& meta = *meta_it;
  // safetensors metadata values are strings; anything else is named, not a json type_error.
  auto meta_string = [&](const char* key) {
    auto f = meta.find(key);
    if (f == meta.end()) return std::string();
    TOKENOPS_CHECK(f->is_string(), InvalidArgument, source, ": __metadata__.", key,
                   " must be a string, got ", json_preview(*f));
    return f->get<std::string>();
  };
  const std::string format = meta_string("format");
  TOKENOPS_CHECK(format == "tokenops-router", InvalidArgument, source, ": __metadata__.format is '", format,
                 "', expected 'tokenops-router'");
  const std::string version = meta_string("format_version");
  TOKENOPS_CHECK(version == std::to_string(kRouterFormatVersion), InvalidArgument, source,
                 ": router file format version '", version, "' is not supported; this tokenops "
                 "reads version ", kRouterFormatVersion,
                 ". Retrain the router or upgrade tokenops.");
  json cfg;
  std::string cfg_text = meta_string("config");
  if (cfg_text.empty()) cfg_text = "null";
  check_json_depth(cfg_text, detail::concat(source, ": __metadata__.config"));
  try {
    cfg = json::parse(cfg_text);
  } catch (const json::exception& e) {
    throw InvalidArgument(detail::concat(source, ": __metadata__.config is not valid JSON (",
                                         e.what(), ")"));
  }
  TOKENOPS_CHECK(cfg.is_object(), InvalidArgument, source,
                 ": __metadata__.config must be a JSON object");

  RouterFile f;
  f.format_version = kRouterFormatVersion;
  f.family = get_field<std::string>(cfg, "family", source, "", true);
  check_one_of(f.family, {"linear", "mlp", "mf", "irt", "knn"}, "family", source);
  f.task = get_field<std::string>(cfg, "task", source, "binary");
  check_one_of(f.task, {"binary", "nway"}, "task", source);
  f.models = get_field<std::vector<std::string>>(cfg, "models", source, {}, true);
  for (std::size_t i = 0; i < f.models.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      TOKENOPS_CHECK(f.models[i] != f.models[j], InvalidArgument, source, ": router config 'models' lists '",
                     f.models[i], "' twice (entries ", j, " and ", i, "); a route names one model");
  f.costs = get_number_list<double>(cfg, "costs", source);
  f.strong = get_field<int>(cfg, "strong", source, -1);
  f.weak = get_field<int>(cfg, "weak", source, -1);
  f.output_link = get_field<std::string>(cfg, "output_link", source, "sigmoid");
  check_one_of(f.output_link, {"sigmoid", "identity"}, "output_link", source);
  f.binary_score = get_field<std::string>(cfg, "binary_score", source, "single");
  check_one_of(f.binary_score, {"single", "diff", "sigmoid_diff", "need"}, "binary_score", source);
  f.activation = get_field<std::string>(cfg, "activation", source, "relu");
  check_one_of(f.activation, {"relu", "tanh"}, "activation", source);
  f.knn_k = get_field<int>(cfg, "knn_k", source, 0);
  f.description = get_field<std::string>(cfg, "description", source, "");
  for (double c : f.costs)
    TOKENOPS_CHECK(std::isfinite(c) && c >= 0, InvalidArgument, source,
                   ": router config 'costs' must be finite and non-negative, got ", c);

  auto fit = cfg.find("features");
  TOKENOPS_CHECK(fit != cfg.end() && fit->is_object(), InvalidArgument, source,
                 ": router config lacks the object 'features'");
  const json& fj = *fit;
  RouterFeatureSpec& fs = f.features;
  fs.encoding = get_field<std::string>(fj, "encoding", source, "");
  fs.hash_bits = get_field<int>(fj, "hash_bits", source, 0);
  fs.word_ngram_min = get_field<int>(fj, "word_ngram_min", source, 0);
  fs.word_ngram_max = get_field<int>(fj, "word_ngram_max", source, 0);
  fs.char_ngram_min = get_field<int>(fj, "char_ngram_min", source, 0);
  fs.char_ngram_max = get_field<int>(fj, "char_ngram_max", source, 0);
  fs.dense = get_field<bool>(fj, "dense", source, false);
  fs.dense_names = get_field<std::vector<std::string>>(fj, "dense_names", source, {});
  fs.dense_mean = get_number_list<float>(fj, "dense_mean", source);
  fs.dense_scale = get_number_list<float>(fj, "dense_scale", source);
  fs.dense_min = get_number_list<float>(fj, "dense_min", source);
  fs.dense_max = get_number_list<float>(fj, "dense_max", source);
  fs.embedder = get_field<std::string>(fj, "embedder", source, "");
  fs.embedding_dim = get_field<int>(fj, "embedding_dim", source, 0);
  fs.embed_tail_chars = get_field<int>(fj, "embed_tail_chars", source, 0);
  TOKENOPS_CHECK(fs.embed_tail_chars >= 0, InvalidArgument, source,
                 ": features.embed_tail_chars must be >= 0, got ", fs.embed_tail_chars);

  const std::size_t data_start = 8 + header_len;
  const std::size_t data_len = bytes.size() - data_start;
  struct Span {
    std::uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const json& t = it.value();
    TOKENOPS_CHECK(t.is_object(), InvalidArgument, source, ": tensor '", it.key(),
                   "' header entry must be an object");
    auto dt = t.find("dtype");
    TOKENOPS_CHECK(dt != t.end() && dt->is_string() && dt->get<std::string>() == "F32", InvalidArgument, source,
                   ": tensor '", it.key(), "' has dtype ", dt == t.end() ? std::string("(none)") : json_preview(*dt),
                   "; router files store \"F32\"");
    RouterTensor tensor;
    std::vector<std::uint64_t> offsets;
    try {
      // Whole numbers only: get<> would truncate 2.7 to 2 and cast 1e300 (undefined behaviour).
      for (const char* key : {"shape", "data_offsets"}) {
        const json& arr = t.at(key);
        TOKENOPS_CHECK(arr.is_array(), InvalidArgument, source, ": tensor '", it.key(), "' ", key,
                       " must be a list of integers, got ", json_preview(arr));
        for (const auto& v : arr)
          TOKENOPS_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0),
                         InvalidArgument, source, ": tensor '", it.key(), "' ", key,
                         " entries must be non-negative integers, got ", json_preview(v));
      }
      tensor.shape = t.at("shape").get<std::vector<std::int64_t>>();
      offsets = t.at("data_offsets").get<std::vector<std::uint64_t>>();
    } catch (const json::exception& e) {
      throw InvalidArgument(detail::concat(source, ": tensor '", it.key(),
                                           "' lacks a valid shape/data_offsets (", e.what(), ")"));
    }
    TOKENOPS_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && offsets[1] <= data_len,
                   InvalidArgument, source, ": tensor '", it.key(),
                   "' data_offsets fall outside the file (truncated file?)");
    spans.push_back({offsets[0], offsets[1], it.key()});
    // The element count is checked before each multiply: testing the product afterwards lets it
    // wrap first ([2^32, 2^32, 4] wraps to 0 and would match data_offsets [end, end]).
    constexpr std::uint64_t kMaxCount = 1ull << 40;
    std::uint64_t count = 1;
    for (auto d : tensor.shape) {
      TOKENOPS_CHECK(d >= 0 && d < static_cast<std::int64_t>(kMaxCount), InvalidArgument, source, ": tensor '",
                     it.key(), "' has an invalid dimension ", d);
      const auto ud = static_cast<std::uint64_t>(d);
      TOKENOPS_CHECK(ud == 0 || count <= (kMaxCount - 1) / ud, InvalidArgument, source, ": tensor '", it.key(),
                     "' is too large (its shape holds 2^40 elements or more)");
      count *= ud;
    }
    TOKENOPS_CHECK(offsets[1] - offsets[0] == count * 4, InvalidArgument, source, ": tensor '",
                   it.key(), "' holds ", offsets[1] - offsets[0], " bytes but its shape needs ",
                   count * 4);
    tensor.data.resize(count);
    const char* src = bytes.data() + data_start + offsets[0];
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint32_t u = 0;
      for (int b = 3; b >= 0; --b) u = (u << 8) | static_cast<unsigned char>(src[4 * i + b]);
      float v;
      std::memcpy(&v, &u, 4);
      TOKENOPS_CHECK(std::isfinite(v), InvalidArgument, source, ": tensor '", it.key(),
                     "' holds a non-finite value (", v, ") at flat index ", i);
      tensor.data[i] = v;
    }
    f.tensors.emplace(it.key(), std::move(tensor));
  }
  // As safetensors: the tensors tile the data region exactly (no overlap, hole or trailing
  // bytes), so no two tensors share bytes and nothing in the file goes unread.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  for (const Span& sp : spans) {
    TOKENOPS_CHECK(sp.begin >= cursor, InvalidArgument, source, ": tensor '", sp.name,
                   "' overlaps the previous tensor (starts at byte ", sp.begin,
                   ", previous ends at ", cursor, ")");
    TOKENOPS_CHECK(sp.begin == cursor, InvalidArgument, source, ": hole in the data region before tensor '",
                   sp.name, "' (bytes ", cursor, "..", sp.begin, " belong to no tensor)");
    cursor = sp.end;
  }
  TOKENOPS_CHECK(cursor == data_len, InvalidArgument, source, ": ", data_len - cursor,
                 " trailing bytes after the last tensor (the data region holds ", data_len,
                 " bytes, the tensors cover ", cursor, ")");
  return f;
}

std::string serialize_router_file(const RouterFile& f) {
  json fj = {{"encoding", f.features.encoding},
             {"hash_bits", f.features.hash_bits},
             {"word_ngram_min", f.features.word_ngram_min},
             {"word_ngram_max", f.features.word_ngram_max},
             {"char_ngram_min", f.features.char_ngram_min},
             {"char_ngram_max", f.features.char_ngram_max},
             {"dense", f.features.dense},
             {"dense_names", f.features.dense_names},
             {"dense_mean", f.features.dense_mean},
             {"dense_scale", f.features.dense_scale},
             {"dense_min", f.features.dense_min},
             {"dense_max", f.features.dense_max},
             {"embedder", f.features.embedder},
             {"embedding_dim", f.features.embedding_dim},
             {"embed_tail_chars", f.features.embed_tail_chars}};
  json cfg = {{"family", f.family},       {"task", f.task},
              {"models", f.models},       {"costs", f.costs},
              {"strong", f.strong},       {"weak", f.weak},
              {"output_link", f.output_link}, {"binary_score", f.binary_score},
              {"activation", f.activation}, {"knn_k", f.knn_k},
              {"description", f.description}, {"features", fj}};
  json header = json::object();
  header["__metadata__"] = {{"format", "tokenops-router"},
                            {"format_version", std::to_string(f.format_version)},
                            {"config", cfg.dump()}};
  std::uint64_t offset = 0;
  for (const auto& [name, t] : f.tensors) {
    const std::uint64_t n = t.data.size() * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  std::uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((hl >> (8 * i)) & 0xFF));
  out += h;
  for (const auto& [name, t] : f.tensors) {
    for (float v : t.data) {
      std::uint32_t u;
      std::memcpy(&u, &v, 4);
      for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((u >> (8 * b)) & 0xFF));
    }
  }
  return out;
}

}  // namespace tokenops::io
