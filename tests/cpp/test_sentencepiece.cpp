// GoogleTest suite for the formats beside tiktoken's: SentencePiece BPE models (a hand-made
// ModelProto: score ties, frozen user-defined pieces, byte fallback, merges across "▁", bad
// files) and Mistral's tekken JSON (fields, ids, errors). The Python suite proves parity with
// the sentencepiece library and mistral-common on their real files; these run under the
// sanitizers.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tokenops/io/tekken_file.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/tokenizer/sentencepiece.hpp"
#include "tokenops/tokenizer/tekken.hpp"

using namespace tokenops;
using tokenizer::SentencePieceBpe;

namespace {

std::string varint(std::uint64_t n) {
  std::string out;
  do {
    unsigned char b = n & 0x7F;
    n >>= 7;
    out += static_cast<char>(b | (n ? 0x80 : 0));
  } while (n);
  return out;
}
std::string field(int num, int wire, const std::string& payload) {
  std::string key = varint((std::uint64_t(num) << 3) | wire);
  return wire == 2 ? key + varint(payload.size()) + payload : key + payload;
}
std::string piece(const std::string& text, float score, int type) {
  std::string f(4, '\0');
  std::memcpy(f.data(), &score, 4);
  return field(1, 2, field(1, 2, text) + field(2, 5, f) + field(3, 0, varint(type)));
}
std::string model(int model_type = 2, bool remove_ws = false) {
  std::string m = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3);
  const char* chars[] = {"\xE2\x96\x81", "a", "b", "c"};
  for (int i = 0; i < 4; ++i) m += piece(chars[i], -10.0f - i, 1);
  m += piece("ab", -1, 1) + piece("bc", -1, 1) + piece("abc", -0.5f, 1) + piece("\xE2\x96\x81" "a", -2, 1) +
       piece("[X]", 0, 4);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m += piece(name, 0, 6);
  }
  m += field(2, 2, field(3, 0, varint(model_type)) + field(35, 0, varint(1)));
  m += field(3, 2, field(1, 2, "identity") + field(3, 0, varint(1)) + field(4, 0, varint(remove_ws)) +
                       field(5, 0, varint(1)));
  return m;
}
std::vector<std::uint32_t> enc(const SentencePieceBpe& m, const std::string& s) {
  std::vector<std::uint32_t> out;
  m.encode(s, out);
  return out;
}

}  // namespace

TEST(SentencePiece, MergesByScoreThenLeftmost) {
  auto m = SentencePieceBpe::from_model_proto(model(), "hand.model");
  // ids: 0 <unk>, 1 <s>, 2 </s>, 3 ▁, 4 a, 5 b, 6 c, 7 ab, 8 bc, 9 abc, 10 ▁a, 11 [X], 12.. bytes
  EXPECT_EQ(enc(*m, "abc"), (std::vector<std::uint32_t>{3, 9}));   // ▁ + (ab, bc tie: ab first) + c -> abc
  EXPECT_EQ(enc(*m, "bc a"), (std::vector<std::uint32_t>{3, 8, 10}));
  EXPECT_EQ(enc(*m, "a[X]b"), (std::vector<std::uint32_t>{10, 11, 5}));  // [X] whole, frozen
  EXPECT_EQ(enc(*m, "z"), (std::vector<std::uint32_t>{3, 12 + 'z'}));    // byte fallback
  EXPECT_EQ(enc(*m, ""), (std::vector<std::uint32_t>{}));
  EXPECT_EQ(m->count("abc abc"), 4u);
  const std::vector<std::uint32_t> ids = enc(*m, "bc a[X]z");
  EXPECT_EQ(m->decode(ids.data(), ids.size()), "bc a[X]z");
  const std::uint32_t bad = 9999;
  EXPECT_THROW(m->decode(&bad, 1), InvalidArgument);
}

TEST(SentencePiece, UnsupportedAndBrokenModelsAreNamed) {
  auto expect = [](const std::string& data, const char* what) {
    try {
      SentencePieceBpe::from_model_proto(data, "x.model");
      FAIL() << "no error for " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("x.model"), std::string::npos) << e.what();
    }
  };
  expect(model(1), "not BPE");
  expect(model(2, true), "remove_extra_whitespaces");
  expect("", "no pieces");
  expect(std::string("\x0a\xff\xff\xff\xff\x0f", 6), "length past the end");
  expect(std::string("\x0a\x01\x08", 3), "truncated varint");
  expect(std::string("\x0b", 1), "unsupported wire type");
  std::string m = model();
  expect(m.substr(0, m.size() / 2), "");  // cut anywhere: an error, never a crash
}

TEST(Tekken, ParsesIdsAndSpecialsAndRefusesBadFields) {
  auto b64 = [](const std::string& s) {
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
      const unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
      out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
    }
    if (s.size() - i == 1) {
      const unsigned v = (unsigned char)s[i] << 16;
      out += {a[v >> 18], a[(v >> 12) & 63], '=', '='};
    } else if (s.size() - i == 2) {
      const unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8;
      out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], '='};
    }
    return out;
  };
  std::string vocab;
  for (int i = 0; i < 256; ++i)
    vocab += "{\"rank\": " + std::to_string(i) + ", \"token_bytes\": \"" + b64(std::string(1, char(i))) +
             "\", \"token_str\": null},";
  vocab += "{\"rank\": 256, \"token_bytes\": \"" + b64("ab") + "\", \"token_str\": \"ab\"}";
  std::string pattern;
  for (char c : tokenizer::kTekkenPattern) pattern += (c == '\\') ? std::string("\\\\") : std::string(1, c);
  auto file = [&](int vocab_size) {
    return "{\"config\": {\"pattern\": \"" + pattern + "\", \"num_vocab_tokens\": 257, \"default_vocab_size\": " +
           std::to_string(vocab_size) + ", \"default_num_special_tokens\": 3}, \"vocab\": [" + vocab +
           "], \"special_tokens\": [{\"rank\": 0, \"token_str\": \"<unk>\"}, {\"rank\": 1, \"token_str\": \"<s>\"}]}";
  };
  const io::TekkenModel m = io::parse_tekken_json(file(260), "t.json");
  ASSERT_EQ(m.tokens.size(), 257u);
  EXPECT_EQ(m.tokens[256].bytes, "ab");
  EXPECT_EQ(m.tokens[256].rank, 259u);
  ASSERT_EQ(m.specials.size(), 3u);
  EXPECT_EQ(m.specials[1].text, "<s>");
  auto e = tokenizer::encoding_from_tekken("t", m, "t.json");
  std::vector<tokenizer::Rank> out;
  e->encode_ordinary("abab 2024", out);
  EXPECT_EQ(out, (std::vector<tokenizer::Rank>{259, 259, ' ' + 3u, '2' + 3u, '0' + 3u, '2' + 3u, '4' + 3u}));
  EXPECT_THROW(io::parse_tekken_json("{\"config\": 5, \"vocab\": []}", "t.json"), InvalidArgument);
  EXPECT_THROW(io::parse_tekken_json("[[[", "t.json"), InvalidArgument);
  EXPECT_EQ(m.specials[2].text, "<SPECIAL_2>");
  EXPECT_THROW(io::parse_tekken_json(file(999), "t.json"), InvalidArgument);  // more than the vocabulary
}
