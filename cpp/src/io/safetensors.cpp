#include "tokenops/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_preview.hpp"
#include "tokenops/io/json_depth.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::io {

namespace {

struct DtypeRow {
  const char* name;
  Dtype dtype;
  std::size_t size;
};
constexpr DtypeRow kDtypes[] = {
    {"BOOL", Dtype::BOOL, 1}, {"U8", Dtype::U8, 1},   {"I8", Dtype::I8, 1},
    {"U16", Dtype::U16, 2},   {"I16", Dtype::I16, 2}, {"F16", Dtype::F16, 2},
    {"BF16", Dtype::BF16, 2}, {"U32", Dtype::U32, 4}, {"I32", Dtype::I32, 4},
    {"F32", Dtype::F32, 4},   {"U64", Dtype::U64, 8}, {"I64", Dtype::I64, 8},
    {"F64", Dtype::F64, 8},
};

std::string shape_str(const std::vector<std::size_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Multiplies with overflow detection.
bool mul_ok(std::size_t a, std::size_t b, std::size_t& out) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  out = a * b;
  return true;
}

constexpr std::size_t kMaxHeader = 100u << 20;  // the reference rejects headers above 100 MB

}  // namespace

std::size_t dtype_size(Dtype d) noexcept {
  for (const auto& r : kDtypes)
    if (r.dtype == d) return r.size;
  return 0;
}

const char* dtype_name(Dtype d) noexcept {
  for (const auto& r : kDtypes)
    if (r.dtype == d) return r.name;
  return "?";
}

std::size_t TensorInfo::numel() const noexcept {
  std::size_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->source_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(detail::concat("cannot open safetensors file ", path, ": ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(detail::concat(path, " is not a regular file"));
  }
  f->size_ = static_cast<std::size_t>(st.st_size);
  if (f->size_ > 0) {
    void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw IoError(detail::concat("cannot mmap ", path, ": ", std::strerror(err)));
    }
    f->map_ = m;
    f->base_ = static_cast<const std::byte*>(m);
  }
  ::close(fd);
  f->parse();
  return f;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::from_buffer(std::string buffer,
                                                                    std::string source) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->source_ = std::move(source);
  f->buffer_ = std::move(buffer);
  f->base_ = reinterpret_cast<const std::byte*>(f->buffer_.data());
  f->size_ = f->buffer_.size();
  f->parse();
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

void SafetensorsFile::parse() {
  const std::string& src = source_;
  TOKENOPS_CHECK(size_ >= 8, InvalidArgument, src, ": not a safetensors file (", size_,
                 " bytes; the format starts with an 8-byte header length)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(base_[i]);
  TOKENOPS_CHECK(n <= kMaxHeader, InvalidArgument, src, ": header length ", n,
                 " is implausible (> 100 MB); the file is not safetensors or is corrupt");
  TOKENOPS_CHECK(n <= size_ - 8, InvalidArgument, src, ": truncated file: the header claims ", n,
                 " bytes but only ", size_ - 8, " follow the length prefix");
  data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = size_ - data_start_;
  std::string_view header(reinterpret_cast<const char*>(base_ + 8), static_cast<std::size_t>(n));

  nlohmann::json j;
  check_json_depth(header, src);
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(detail::concat(src, ": the safetensors header is not valid JSON (", e.what(), ")"));
  }
  TOKENOPS_CHECK(j.is_object(), InvalidArgument, src, ": the safetensors header must be a JSON object");

  std::vector<const TensorInfo*> by_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      TOKENOPS_CHECK(v.is_object(), InvalidArgument, src, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        TOKENOPS_CHECK(m.value().is_string(), InvalidArgument, src, ": __metadata__[\"", m.key(),
                       "\"] must be a string");
        meta_.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    auto where = [&] { return detail::concat(src, ": tensor '", name, "'"); };
    TOKENOPS_CHECK(v.is_object(), InvalidArgument, where(), " must be described by an object");
    TOKENOPS_CHECK(v.contains("dtype") && v["dtype"].is_string(), InvalidArgument, where(),
                   " has no string 'dtype'");
    TOKENOPS_CHECK(v.contains("shape") && v["shape"].is_array(), InvalidArgument, where(),
                   " has no 'shape' array");
    TOKENOPS_CHECK(v.contains("data_offsets") && v["data_offsets"].is_array() &&
                       v["data_offsets"].size() == 2,
                   InvalidArgument, where(), " needs 'data_offsets' = [begin, end]");
    TensorInfo t;
    t.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    bool found = false;
    for (const auto& r : kDtypes)
      if (dt == r.name) {
        t.dtype = r.dtype;
        found = true;
      }
    TOKENOPS_CHECK(found, InvalidArgument, where(), " has unsupported dtype '", dt, "'");
    std::size_t numel = 1;
    for (const auto& d : v["shape"]) {
      TOKENOPS_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<long long>() >= 0),
                     InvalidArgument, where(), " has a shape entry that is not a non-negative integer: ", json_preview(d));
      auto dim = d.get<std::uint64_t>();
      TOKENOPS_CHECK(mul_ok(numel, static_cast<std::size_t>(dim), numel), InvalidArgument, where(),
                     " has a shape whose element count overflows");
      t.shape.push_back(static_cast<std::size_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      TOKENOPS_CHECK(o.is_number_unsigned() || (o.is_number_integer() && o.get<long long>() >= 0),
                     InvalidArgument, where(), " has a data offset that is not a non-negative integer: ", json_preview(o));
    t.begin = static_cast<std::size_t>(v["data_offsets"][0].get<std::uint64_t>());
    t.end = static_cast<std::size_t>(v["data_offsets"][1].get<std::uint64_t>());
    TOKENOPS_CHECK(t.begin <= t.end, InvalidArgument, where(), " has data_offsets [", t.begin, ", ",
                   t.end, "] with begin > end");
    std::size_t nbytes = 0;
    TOKENOPS_CHECK(mul_ok(numel, dtype_size(t.dtype), nbytes), InvalidArgument, where(),
                   " is too large");
    TOKENOPS_CHECK(t.end - t.begin == nbytes, InvalidArgument, where(), ": shape ", shape_str(t.shape),
                   " of ", dt, " needs ", nbytes, " bytes but data_offsets [", t.begin, ", ", t.end,
                   "] span ", t.end - t.begin);
    TOKENOPS_CHECK(t.end <= data_size, InvalidArgument, where(), " ends at byte ", t.end,
                   " of the data region but the file holds only ", data_size,
                   " bytes after the header (truncated file?)");
    auto [pos, inserted] = tensors_.emplace(name, std::move(t));
    TOKENOPS_CHECK(inserted, InvalidArgument, where(), " is listed twice");
    by_offset.push_back(&pos->second);
  }

  // The tensors must tile [0, data_size) exactly: no overlap, no hole, no trailing bytes.
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::size_t cursor = 0;
  for (const TensorInfo* t : by_offset) {
    TOKENOPS_CHECK(t->begin >= cursor, InvalidArgument, src, ": tensor '", t->name,
                   "' overlaps the previous tensor (starts at byte ", t->begin, ", previous ends at ",
                   cursor, ")");
    TOKENOPS_CHECK(t->begin == cursor, InvalidArgument, src, ": hole in the data region before tensor '",
                   t->name, "' (bytes ", cursor, "..", t->begin, " belong to no tensor)");
    cursor = t->end;
  }
  TOKENOPS_CHECK(cursor == data_size, InvalidArgument, src, ": ", data_size - cursor,
                 " trailing bytes after the last tensor (the data region holds ", data_size,
                 " bytes, the tensors cover ", cursor, ")");

  // F32 tensors that are not 4-byte aligned in memory get an aligned private copy now, so that
  // f32() stays const and thread-safe.
  for (const auto& [name, t] : tensors_) {
    if (t.dtype != Dtype::F32) continue;
    const std::byte* p = base_ + data_start_ + t.begin;
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) == 0) continue;
    std::vector<float> copy(t.numel());
    if (!copy.empty()) std::memcpy(copy.data(), p, t.end - t.begin);
    aligned_copies_.emplace(name, std::move(copy));
  }
}

bool SafetensorsFile::contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }

const TensorInfo& SafetensorsFile::info(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw NotFound(detail::concat(source_, ": no tensor named '", name, "' (the file holds ",
                                  tensors_.size(), " tensors)"));
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

std::span<const std::byte> SafetensorsFile::bytes(std::string_view name) const {
  const TensorInfo& t = info(name);
  return {base_ + data_start_ + t.begin, t.end - t.begin};
}

std::span<const float> SafetensorsFile::f32(std::string_view name,
                                            std::initializer_list<std::size_t> expected_shape) const {
  return f32(name, std::vector<std::size_t>(expected_shape));
}

std::span<const float> SafetensorsFile::f32(std::string_view name,
                                            const std::vector<std::size_t>& expected_shape) const {
  const TensorInfo& t = info(name);
  TOKENOPS_CHECK(t.dtype == Dtype::F32, InvalidArgument, source_, ": tensor '", name,
                 "' has dtype ", dtype_name(t.dtype), ", expected F32");
  TOKENOPS_CHECK(t.shape == expected_shape, InvalidArgument, source_, ": tensor '", name,
                 "' has shape ", shape_str(t.shape), ", expected ", shape_str(expected_shape));
  std::span<const float> out;
  auto copy = aligned_copies_.find(name);
  if (copy != aligned_copies_.end()) {
    out = {copy->second.data(), copy->second.size()};
  } else if (t.numel() != 0) {
    out = {reinterpret_cast<const float*>(base_ + data_start_ + t.begin), t.numel()};
  }
  // A NaN or infinity in a weight makes every output NaN (or wrong) without an error; a
  // corrupt or badly converted file is refused by name. (Exponent bits all ones = inf/NaN.)
  std::size_t bad = out.size();
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u;
    std::memcpy(&u, &out[i], 4);
    if ((u & 0x7F800000u) == 0x7F800000u) {
      bad = i;
      break;
    }
  }
  TOKENOPS_CHECK(bad == out.size(), InvalidArgument, source_, ": tensor '", name,
                 "' holds a non-finite value (", out.empty() ? 0.0f : out[bad], ") at flat index ", bad);
  return out;
}

}  // namespace tokenops::io
