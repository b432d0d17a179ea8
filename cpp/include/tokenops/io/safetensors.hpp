#pragma once
// Memory-mapped reader for the safetensors format
// (https://github.com/huggingface/safetensors#format): an 8-byte little-endian header length N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then
// the tensor bytes. Offsets are relative to the end of the header; the tensors must tile the data
// region exactly (no holes, no overlaps), as the reference implementation requires.
//
// Every malformed or mismatched input raises tokenops::InvalidArgument (IoError when the file
// cannot be opened) with the file and, where one is involved, the tensor name in the message.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokenops::io {

enum class Dtype : std::uint8_t { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

/// Element size in bytes.
std::size_t dtype_size(Dtype d) noexcept;
/// The safetensors spelling ("F32", "I64", ...).
const char* dtype_name(Dtype d) noexcept;

struct TensorInfo {
  std::string name;
  Dtype dtype;
  std::vector<std::size_t> shape;
  std::size_t begin;  // byte offset inside the data region
  std::size_t end;
  std::size_t numel() const noexcept;
};

/// A read-only view of one file's tensors. Immutable after construction; safe to share across
/// threads. The mapping lives as long as the object.
class SafetensorsFile {
 public:
  /// Maps and validates `path`.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  /// Validates an in-memory buffer (kept alive by the object). `source` names it in messages.
  static std::shared_ptr<const SafetensorsFile> from_buffer(std::string buffer, std::string source);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& source() const noexcept { return source_; }
  bool contains(std::string_view name) const;
  /// Throws NotFound naming the tensor and the file.
  const TensorInfo& info(std::string_view name) const;
  /// All tensors, sorted by name.
  std::vector<std::string> names() const;
  const std::map<std::string, std::string, std::less<>>& metadata() const noexcept { return meta_; }

  /// Raw bytes of a tensor.
  std::span<const std::byte> bytes(std::string_view name) const;

  /// A float32 tensor as a flat row-major array, after checking its dtype is F32 and its shape is
  /// `expected_shape` (throws InvalidArgument naming the tensor, the expected and the found shape).
  /// Zero-copy when the data is 4-byte aligned in the mapping (the normal case); otherwise the
  /// values were copied once, at open time, into storage owned by this object.
  std::span<const float> f32(std::string_view name,
                             std::initializer_list<std::size_t> expected_shape) const;
  std::span<const float> f32(std::string_view name,
                             const std::vector<std::size_t>& expected_shape) const;

 private:
  SafetensorsFile() = default;
  void parse();

  std::string source_;
  const std::byte* base_ = nullptr;  // start of the file contents
  std::size_t size_ = 0;
  std::size_t data_start_ = 0;  // 8 + header length
  void* map_ = nullptr;         // mmap'd region (nullptr when backed by buffer_)
  std::string buffer_;
  std::map<std::string, TensorInfo, std::less<>> tensors_;
  std::map<std::string, std::string, std::less<>> meta_;
  std::map<std::string, std::vector<float>, std::less<>> aligned_copies_;  // misaligned F32 only
};

}  // namespace tokenops::io
