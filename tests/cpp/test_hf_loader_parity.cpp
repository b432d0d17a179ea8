// Hugging Face tokenizer.json files that loaded with ids HF never gives, or were refused though HF
// reads them plainly (the Python side, with HF tokenizers 0.23.3's ids and a live check, is
// tests/python/test_hf_loader_parity.py).
#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/utf8.hpp"
#include "tokenops/tokenizer/encoding.hpp"
#include "tokenops/tokenizer/hf.hpp"

using namespace tokenops;
using tokenizer::Rank;

namespace {

// JSON string of a UTF-8 string holding no '"', '\\' or control characters.
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string byte_char(int b) {
  std::string s;
  text::append_utf8(s, io::byte_to_unicode_table()[b]);
  return s;
}

// A tokenizer.json: the 256 byte tokens (id = byte), `extra_vocab` ("\"ab\": 256, ..." or
// empty), the merges as written, the added tokens as written, ByteLevel pre-tokenizer.
std::string tiny_json(const std::string& extra_vocab, const std::string& merges,
                      const std::string& added = "", const std::string& pre_tokenizer = "") {
  std::string vocab;
  for (int b = 0; b < 256; ++b) {
    const std::string c = byte_char(b);
    if (c == "\"" || c == "\\") vocab += "\"\\" + c + "\": " + std::to_string(b) + ",";
    else vocab += quoted(c) + ": " + std::to_string(b) + ",";
  }
  vocab += extra_vocab;
  if (vocab.back() == ',') vocab.pop_back();
  const std::string pre = pre_tokenizer.empty()
                              ? R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})"
                              : pre_tokenizer;
  return R"({"added_tokens": [)" + added + R"(], "normalizer": null, "pre_tokenizer": )" + pre +
         R"(, "model": {"type": "BPE", "dropout": null, "vocab": {)" + vocab + R"(}, "merges": [)" +
         merges + "]}}";
}

std::string added_token(const std::string& content, int id, bool special, bool single_word = false,
                        bool lstrip = false, bool rstrip = false) {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return R"({"id": )" + std::to_string(id) + R"(, "content": ")" + content + R"(", "single_word": )" +
         b(single_word) + R"(, "lstrip": )" + b(lstrip) + R"(, "rstrip": )" + b(rstrip) +
         R"(, "normalized": )" + b(!special) + R"(, "special": )" + b(special) + "}";
}

std::vector<Rank> encode_all(const tokenizer::Encoding& e, const std::string& text) {
  std::vector<Rank> out;
  e.encode(text, tokenizer::SpecialMask(e.specials().size(), 1), out);
  return out;
}

std::string message_of(const std::string& json) {
  try {
    tokenizer::encoding_from_hf("t", io::parse_hf_tokenizer_json(json, "t.json"), "t.json");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST(HfLoaderParity, DuplicateMergeTakesItsLastRank) {
  // HF's BpeBuilder::build keeps a repeated pair's last rank: 'a b' ranks after 'b c' here
  const auto model = io::parse_hf_tokenizer_json(
      tiny_json(R"("ab": 256, "bc": 257)", R"(["a", "b"], ["b", "c"], "a b")"), "t.json");
  ASSERT_EQ(model.merges.size(), 2u);
  EXPECT_EQ(model.merges[0][2], 257u);  // b c first
  EXPECT_EQ(model.merges[1][2], 256u);
  const auto enc = tokenizer::encoding_from_hf("t", model, "t.json");
  EXPECT_EQ(encode_all(*enc, "abc"), (std::vector<Rank>{97, 257}));  // HF 0.23.3: [97, 257]
}

TEST(HfLoaderParity, AddedTokenInTheVocabTakesTheVocabId) {
  const auto model = io::parse_hf_tokenizer_json(
      tiny_json(R"("<eos>": 256)", "", added_token("<eos>", 300, true)), "t.json");
  ASSERT_EQ(model.added_tokens.size(), 1u);
  EXPECT_EQ(model.added_tokens[0].id, 256u);
  EXPECT_EQ(model.token_ids.size(), 256u);  // '<eos>' is no mergeable token
  const auto enc = tokenizer::encoding_from_hf("t", model, "t.json");
  EXPECT_EQ(encode_all(*enc, "a<eos>"), (std::vector<Rank>{97, 256}));  // HF 0.23.3: [97, 256]
}

TEST(HfLoaderParity, OneByteAddedTokenSharesItsByteTokensId) {
  const auto model = io::parse_hf_tokenizer_json(
      tiny_json(R"("xy": 256)", R"(["x", "y"])", added_token("x", 120, false)), "t.json");
  EXPECT_EQ(model.token_ids.size(), 257u);  // the byte 'x' stays mergeable
  const auto enc = tokenizer::encoding_from_hf("t", model, "t.json");
  std::vector<Rank> out;
  enc->encode_ordinary("xyx", out);  // not special: matched everywhere, as in HF
  EXPECT_EQ(out, (std::vector<Rank>{120, 121, 120}));  // HF 0.23.3: [120, 121, 120]
  EXPECT_EQ(enc->token_bytes(120), "x");
  // a special token may share an id only with the mergeable token of the same bytes
  tokenizer::EncodingSpec spec;
  spec.name = "shared";
  for (int b = 0; b < 256; ++b) {
    spec.tokens.emplace_back(1, static_cast<char>(b));
    spec.ids.push_back(static_cast<Rank>(b));
  }
  spec.specials.push_back({"x", 120});
  EXPECT_NO_THROW(tokenizer::Encoding{spec});
  spec.specials[0] = {"<x>", 120};
  EXPECT_THROW(tokenizer::Encoding{spec}, InvalidArgument);
}

TEST(HfLoaderParity, RefusalsNameWhatHfWouldReadDifferently) {
  // an added token whose vocab entry stands for other bytes (é = the byte 0xE9 there)
  const std::string e_acute = "\xC3\xA9";
  EXPECT_NE(message_of(tiny_json("", "", added_token(e_acute, 233, false)))
                .find("added_tokens[0] ('" + e_acute + "') is also model.vocab['" + e_acute +
                      "'] (id 233), which byte-level BPE reads as the bytes 0xe9"),
            std::string::npos);
  // a special token with single_word
  EXPECT_NE(message_of(tiny_json("", "", added_token("foo", 256, true, true)))
                .find("added_tokens[0] ('foo', special) sets single_word"),
            std::string::npos);
  // a Split with an empty regex is not ByteLevel's GPT-2 regex
  EXPECT_NE(message_of(tiny_json("", "", "",
                                 R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ""},)"
                                 R"( "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "use_regex": false}]})"))
                .find("a Split pre-tokenizer with an empty Regex"),
            std::string::npos);
  // an added token HF numbers like a vocab entry: 'x' moved to 256 = len(model.vocab)
  std::string gap = tiny_json("", "", added_token("<eos>", 257, true));
  gap.replace(gap.find(R"("x": 120)"), 8, R"("x": 256)");
  EXPECT_NE(message_of(gap).find("added_tokens[0] ('<eos>') is numbered 256 by Hugging Face"),
            std::string::npos);
  // a repeat with other flags
  EXPECT_NE(message_of(tiny_json("", "", added_token("<a>", 256, true) + ", " + added_token("<a>", 257, false)))
                .find("added_tokens[1] ('<a>') repeats added_tokens[0] with other"),
            std::string::npos);
  // strip flags whose result depends on HF's match order
  EXPECT_NE(message_of(tiny_json("", "", added_token("<r>", 256, true, false, false, true) + ", " +
                                             added_token(" x", 257, true)))
                .find("added_tokens[0] ('<r>') sets rstrip and added_tokens[1] (' x') starts with white space"),
            std::string::npos);
  EXPECT_NE(message_of(tiny_json("", "", added_token("<l>", 256, true, false, true) + ", " +
                                             added_token("y ", 257, false)))
                .find("added_tokens[0] ('<l>', normalized: false) sets lstrip and added_tokens[1] ('y ', "
                      "normalized: true) ends with white space"),
            std::string::npos);
  // a byte without its token
  std::string missing = tiny_json("", "");
  missing.replace(missing.find(R"("x": 120,)"), 9, "");
  EXPECT_NE(message_of(missing).find("model.vocab has no token for the byte 0x78 ('x')"), std::string::npos);
}

TEST(HfLoaderParity, AddedTokensAreNumberedAsHfNumbersThem) {
  // the file's ids (98: the vocab's 'b'; 400) only draw a warning in HF; it numbers tokens that
  // are not vocab keys len(model.vocab), + 1, ... in list order, and skips empty ones and repeats
  const auto model = io::parse_hf_tokenizer_json(
      tiny_json(R"("<v>": 300)", "",
                added_token("", 5, true) + ", " + added_token("<eos>", 98, true) + ", " +
                    added_token("<v>", 7, true) + ", " + added_token("<eos>", 98, true) + ", " +
                    added_token("<b>", 400, false)),
      "t.json");
  ASSERT_EQ(model.added_tokens.size(), 3u);
  EXPECT_EQ(model.added_tokens[0].id, 257u);
  EXPECT_EQ(model.added_tokens[1].id, 300u);
  EXPECT_EQ(model.added_tokens[2].id, 258u);
  const auto enc = tokenizer::encoding_from_hf("t", model, "t.json");
  EXPECT_EQ(encode_all(*enc, "b<eos><b><v>"), (std::vector<Rank>{98, 257, 258, 300}));  // HF 0.23.3
}

TEST(HfLoaderParity, LstripAndRstripTakeWhiteSpaceIntoTheToken) {
  const auto model = io::parse_hf_tokenizer_json(
      tiny_json(R"("\u0120b": 256)", R"(["\u0120", "b"])",
                added_token("<m>", 257, true, false, true, true) + ", " + added_token("<l>", 258, false, false, true)),
      "t.json");
  EXPECT_TRUE(model.added_tokens[0].lstrip && model.added_tokens[0].rstrip);
  const auto enc = tokenizer::encoding_from_hf("t", model, "t.json");
  // HF 0.23.3: [97, 257, 98] and [98, 258, 256]; U+3000 and U+00A0 are White_Space too
  EXPECT_EQ(encode_all(*enc, "a  <m>  b"), (std::vector<Rank>{97, 257, 98}));
  EXPECT_EQ(encode_all(*enc, "a\xE3\x80\x80<m>\xC2\xA0\nb"), (std::vector<Rank>{97, 257, 98}));
  EXPECT_EQ(encode_all(*enc, "b <l> b"), (std::vector<Rank>{98, 258, 256}));
  std::vector<Rank> out;
  enc->encode("a <m> b", tokenizer::SpecialMask(enc->specials().size(), 0), out);  // '<m>' not allowed
  EXPECT_EQ(out, (std::vector<Rank>{97, 32, 60, 109, 62, 256}));
  // a prefix of two tokens keeps the spaces '<m>' took in
  EXPECT_EQ(enc->truncate_prefix("a  <m>  b", 2, tokenizer::SpecialMask(enc->specials().size(), 1)), 8u);
}

TEST(HfLoaderParity, SettingsThatChangeNothingInHfLoad) {
  std::string j = tiny_json("", "");
  j.replace(j.find(R"("dropout": null)"), 15, R"("dropout": 0.0, "byte_fallback": true)");
  j.replace(j.find(R"("normalizer": null)"), 18, R"("normalizer": {"type": "Sequence", "normalizers": []})");
  EXPECT_EQ(message_of(j), "(loaded)");
  // a trainer's special token in the vocab, outside the byte-level alphabet
  EXPECT_EQ(message_of(tiny_json(R"("<im start>": 256)", "", added_token("<im start>", 256, true))),
            "(loaded)");
}
TEST(HfLoaderParity, UnstableTailFollowsACutOffNonSpecialAddedToken) {
  // '<tool_call>' (not special) is matched in all text: "x<tool" may become x + <tool_call>
  const auto enc = tokenizer::encoding_from_hf(
      "t", io::parse_hf_tokenizer_json(tiny_json("", "", added_token("<tool_call>", 256, false)), "t.json"),
      "t.json");
  const tokenizer::SpecialMask none(enc->specials().size(), 0);
  const auto u = enc->encode_with_unstable("x<tool", none);
  EXPECT_EQ(u.tokens, (std::vector<Rank>{120}));
  EXPECT_NE(std::find(u.completions.begin(), u.completions.end(), std::vector<Rank>{256}), u.completions.end());
  for (const auto& c : u.completions) {  // every completion spells the text's rest
    std::vector<Rank> all = u.tokens;
    all.insert(all.end(), c.begin(), c.end());
    EXPECT_EQ(enc->decode_bytes(all.data(), all.size()).rfind("x<tool", 0), 0u);
  }
  // a text that ends with no prefix of it is unchanged: tiktoken's last piece only
  EXPECT_EQ(enc->encode_with_unstable("x<abc", none).tokens, (std::vector<Rank>{120, 60}));
}
