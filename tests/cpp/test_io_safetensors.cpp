#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tokenops/io/safetensors.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
using tokenops::io::SafetensorsFile;

namespace {

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

std::string make_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// Expects InvalidArgument whose message contains `needle`.
template <class Fn>
void expect_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    FAIL() << "expected an exception mentioning " << needle;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

const std::string kGood =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},"i":{"dtype":"I64","shape":[1],"data_offsets":[24,32]}})";

}  // namespace

TEST(Safetensors, ReadsTensorsAndMetadata) {
  std::string data = floats({1, 2, 3, 4}) + floats({5, 6}) + std::string(8, '\x07');
  auto f = SafetensorsFile::from_buffer(make_file(kGood, data), "mem");
  EXPECT_EQ(f->names(), (std::vector<std::string>{"b", "i", "w"}));
  EXPECT_EQ(f->metadata().at("format"), "pt");
  auto w = f->f32("w", {2, 2});
  ASSERT_EQ(w.size(), 4u);
  EXPECT_FLOAT_EQ(w[3], 4.0f);
  EXPECT_FLOAT_EQ(f->f32("b", {2})[1], 6.0f);
  EXPECT_EQ(f->info("i").dtype, io::Dtype::I64);
  EXPECT_EQ(f->bytes("i").size(), 8u);
}

TEST(Safetensors, ErrorsNameTheTensor) {
  std::string data = floats({1, 2, 3, 4}) + floats({5, 6}) + std::string(8, '\x07');
  auto f = SafetensorsFile::from_buffer(make_file(kGood, data), "mem");
  expect_error([&] { f->f32("w", {4}); }, "tensor 'w' has shape [2, 2], expected [4]");
  expect_error([&] { f->f32("i", {1}); }, "tensor 'i' has dtype I64, expected F32");
  EXPECT_THROW(f->info("missing"), NotFound);
}

TEST(Safetensors, RejectsTruncatedAndMalformedFiles) {
  std::string data = floats({1, 2, 3, 4}) + floats({5, 6}) + std::string(8, '\x07');
  std::string good = make_file(kGood, data);
  // Truncated data: the last tensor runs past the end.
  expect_error([&] { SafetensorsFile::from_buffer(good.substr(0, good.size() - 4), "mem"); }, "tensor 'i'");
  // Truncated header, too-short file, bad JSON.
  expect_error([&] { SafetensorsFile::from_buffer(good.substr(0, 20), "mem"); }, "truncated");
  expect_error([&] { SafetensorsFile::from_buffer("abc", "mem"); }, "not a safetensors file");
  expect_error([&] { SafetensorsFile::from_buffer(make_file("{nope", ""), "mem"); }, "not valid JSON");
  // Shape and offsets disagree.
  expect_error([&] {
    SafetensorsFile::from_buffer(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})),
                                 "mem");
  }, "tensor 'w': shape [3] of F32 needs 12 bytes");
  // Unknown dtype, negative shape, overlap, hole, trailing bytes.
  expect_error([&] {
    SafetensorsFile::from_buffer(make_file(R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", "x"), "mem");
  }, "unsupported dtype 'F8'");
  expect_error([&] {
    SafetensorsFile::from_buffer(make_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", floats({1})),
                                 "mem");
  }, "tensor 'w'");
  expect_error([&] {
    SafetensorsFile::from_buffer(
        make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                  floats({1, 2})),
        "mem");
  }, "overlaps");
  expect_error([&] {
    SafetensorsFile::from_buffer(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", floats({1, 2})),
                                 "mem");
  }, "hole");
  expect_error([&] {
    SafetensorsFile::from_buffer(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({1, 2})),
                                 "mem");
  }, "trailing bytes");
  // Huge header length.
  expect_error([&] { SafetensorsFile::from_buffer(le64(1ull << 40) + "{}", "mem"); }, "implausible");
}

TEST(Safetensors, MisalignedFloatsAreCopied) {
  // A 1-byte U8 tensor first puts the F32 tensor at an odd offset.
  std::string header = R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::string data = std::string(1, '\x01') + floats({1.5f, -2.5f});
  auto f = SafetensorsFile::from_buffer(make_file(header, data), "mem");
  auto w = f->f32("w", {2});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(w.data()) % alignof(float), 0u);
  EXPECT_FLOAT_EQ(w[0], 1.5f);
  EXPECT_FLOAT_EQ(w[1], -2.5f);
}

TEST(Safetensors, MemoryMapsFiles) {
  std::string path = ::testing::TempDir() + "tokenops_test.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    out << make_file(kGood, floats({1, 2, 3, 4}) + floats({5, 6}) + std::string(8, '\x07'));
  }
  auto f = SafetensorsFile::open(path);
  EXPECT_FLOAT_EQ(f->f32("w", {2, 2})[2], 3.0f);
  EXPECT_THROW(SafetensorsFile::open(path + ".missing"), IoError);
  std::remove(path.c_str());
}
