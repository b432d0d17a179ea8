// GoogleTest suite for the tokenizer module: pre-tokenizers, BPE, special tokens, truncation,
// streaming decode, rank-file and tokenizer.json parsing, long-piece algorithm and bad input.
// Vocabulary files come from $TOKENOPS_DATA_DIR (default: ../shared/data beside the checkout).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/io/tiktoken_file.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/tokenizer/encoding.hpp"
#include "tokenops/tokenizer/hf.hpp"
#include "tokenops/tokenizer/pretokenize.hpp"
#include "test_data.hpp"

using namespace tokenops;
using tokenizer::Encoding;
using tokenizer::PreTokenizer;
using tokenizer::Rank;
using tokenizer::SpecialMask;

namespace {

using test_data::data_dir;
std::string slurp(const std::string& path) { return test_data::read_file(path); }

std::shared_ptr<const Encoding> load(const std::string& file, PreTokenizer p,
                                     std::vector<tokenizer::SpecialToken> specials = {}) {
  tokenizer::EncodingSpec spec;
  spec.name = file;
  spec.pretokenizer = p;
  spec.specials = std::move(specials);
  std::vector<std::uint32_t> reserved;
  for (const auto& s : spec.specials) reserved.push_back(s.id);
  for (auto& e : io::parse_tiktoken_ranks(slurp(data_dir() + "/tokenizers/" + file), file, reserved)) {
    spec.tokens.push_back(std::move(e.bytes));
    spec.ids.push_back(e.rank);
  }
  return std::make_shared<const Encoding>(std::move(spec));
}

const Encoding& cl100k() {
  static auto e = load("cl100k_base.tiktoken", PreTokenizer::CL100K,
                       {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}});
  return *e;
}
const Encoding& o200k() {
  static auto e = load("o200k_base.tiktoken", PreTokenizer::O200K, {{"<|endoftext|>", 199999}});
  return *e;
}
const Encoding& r50k() {
  static auto e = load("r50k_base.tiktoken", PreTokenizer::R50K, {{"<|endoftext|>", 50256}});
  return *e;
}

std::vector<Rank> enc(const Encoding& e, std::string_view s) {
  std::vector<Rank> out;
  e.encode_ordinary(s, out);
  return out;
}

std::vector<std::string> pieces(PreTokenizer p, std::string_view s) {
  std::vector<std::string> out;
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = tokenizer::next_piece(p, b, s.size(), pos);
    out.emplace_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(PreTokenizer, Cl100kSplits) {
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "I'm OK'S"), (V{"I", "'m", " OK", "'S"}));
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "12345"), (V{"123", "45"}));
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "x \n\n y"), (V{"x", " \n\n", " y"}));
  EXPECT_EQ(pieces(PreTokenizer::CL100K, "end  \n "), (V{"end", "  \n "}));  // \s++$
  EXPECT_EQ(pieces(PreTokenizer::CL100K, " !!\n\nx"), (V{" !!\n\n", "x"}));
}

TEST(PreTokenizer, Llama3DiffersOnlyWithoutTheEndOfTextRule) {
  EXPECT_EQ(pieces(PreTokenizer::LLAMA3, "end  \n "), (V{"end", "  \n", " "}));
  EXPECT_EQ(pieces(PreTokenizer::LLAMA3, "Hello world"), (V{"Hello", " world"}));
}

TEST(PreTokenizer, R50kSplits) {
  EXPECT_EQ(pieces(PreTokenizer::R50K, "Hello  world's 123"), (V{"Hello", " ", " world", "'s", " 123"}));
  EXPECT_EQ(pieces(PreTokenizer::R50K, "I'M"), (V{"I", "'", "M"}));  // case-sensitive contractions
}

TEST(PreTokenizer, O200kCaseAwareWords) {
  EXPECT_EQ(pieces(PreTokenizer::O200K, "HelloWorld"), (V{"Hello", "World"}));
  EXPECT_EQ(pieces(PreTokenizer::O200K, "HTTPServer"), (V{"HTTPServer"}));
  EXPECT_EQ(pieces(PreTokenizer::O200K, "don't"), (V{"don't"}));
  EXPECT_EQ(pieces(PreTokenizer::O200K, "a/b\n//c"), (V{"a", "/b", "\n", "//", "c"}));
  EXPECT_EQ(pieces(PreTokenizer::O200K, "x  \n "), (V{"x", "  \n", " "}));
}

// ASCII letter and white-space runs are scanned a block (16 or 32 bytes) at a time where a whole
// block lies inside the text: runs of every length up to 100 end at the right byte, also when the
// text ends inside or right after a block.
TEST(PreTokenizer, LongAsciiRunsAcrossBlocks) {
  const std::string e = "\xc3\xa9";    // é, a lower-case letter
  const std::string ideo = "\xe3\x80\x80";  // U+3000, white space
  for (std::size_t k = 0; k <= 100; ++k) {
    const std::string a(k, 'a'), A(k, 'A'), sp(k, ' ');
    SCOPED_TRACE(k);
    for (PreTokenizer p : {PreTokenizer::CL100K, PreTokenizer::LLAMA3, PreTokenizer::O200K}) {
      EXPECT_EQ(pieces(p, " " + a + e + "b!"), (V{" " + a + e + "b", "!"}));
      EXPECT_EQ(pieces(p, sp + "\n" + "x"), (V{sp + "\n", "x"}));
      EXPECT_EQ(pieces(p, sp + ideo + "x"), (k == 0 ? V{ideo + "x"} : V{sp, ideo + "x"}));
      if (k > 0) {
        EXPECT_EQ(pieces(p, a), (V{a}));
        EXPECT_EQ(pieces(p, "(" + a + "'ll"),
                  (p == PreTokenizer::O200K ? V{"(" + a + "'ll"} : V{"(" + a, "'ll"}));
        EXPECT_EQ(pieces(p, sp + "x" + a),
                  (k == 1 ? V{" x" + a} : V{std::string(k - 1, ' '), " x" + a}));
        EXPECT_EQ(pieces(p, "x" + sp), (V{"x", sp}));
      }
    }
    EXPECT_EQ(pieces(PreTokenizer::CL100K, A + a + "1"), (k == 0 ? V{"1"} : V{A + a, "1"}));
    V expected{"x", sp + "\r\n"};
    if (k > 1) expected.push_back(std::string(k - 1, ' '));
    expected.push_back(k == 0 ? "y" : " y");
    EXPECT_EQ(pieces(PreTokenizer::CL100K, "x" + sp + "\r\n" + sp + "y"), expected);
    for (std::size_t j : {0, 1, 5, 31, 32, 33, 70}) {
      const std::string lower(j, 'b');
      if (k + j == 0) continue;
      // With no lower-case letter between them, "Cd" continues the upper-case run.
      EXPECT_EQ(pieces(PreTokenizer::O200K, A + lower + "Cd"),
                (j == 0 ? V{A + "Cd"} : V{A + lower, "Cd"}));
      EXPECT_EQ(pieces(PreTokenizer::O200K, " " + A + lower + "'S" + e),
                (V{" " + A + lower + "'S", e}));
      V expected_nl{"x", sp + "\n"};
      if (j > 0) expected_nl.push_back(lower);
      EXPECT_EQ(pieces(PreTokenizer::O200K, "x" + sp + "\n" + lower), expected_nl);
    }
  }
}

TEST(PreTokenizer, TekkenIsO200kWithoutContractionsAndWithSingleDigits) {
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "HelloWorld"), (V{"Hello", "World"}));
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "don't"), (V{"don", "'t"}));
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "DON'T stop"), (V{"DON", "'T", " stop"}));
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "2024"), (V{"2", "0", "2", "4"}));
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "x٣١"), (V{"x", "٣", "١"}));  // any \p{N}, one each
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "a/b\n//c"), (V{"a", "/b", "\n", "//", "c"}));
  EXPECT_EQ(pieces(PreTokenizer::TEKKEN, "naïve's"), (V{"naïve", "'s"}));
  EXPECT_EQ(tokenops::tokenizer::pretokenizer_from_name("tekken"), PreTokenizer::TEKKEN);
}

TEST(Encoding, TiktokenVectors) {
  EXPECT_EQ(enc(cl100k(), "hello world"), (std::vector<Rank>{15339, 1917}));
  EXPECT_EQ(enc(cl100k(), "today\n \n"), (std::vector<Rank>{31213, 27907}));
  EXPECT_EQ(enc(cl100k(), "\xF0\x9F\x91\x8D"), (std::vector<Rank>{9468, 239, 235}));
  EXPECT_EQ(enc(o200k(), "hello world"), (std::vector<Rank>{24912, 2375}));
  EXPECT_EQ(enc(r50k(), "hello world"), (std::vector<Rank>{31373, 995}));
}

TEST(Encoding, RoundTripAndCount) {
  std::mt19937 rng(1);
  for (const Encoding* e : {&cl100k(), &o200k(), &r50k()}) {
    for (int t = 0; t < 200; ++t) {
      std::string s;
      const int n = rng() % 300;
      for (int i = 0; i < n; ++i) {
        const char32_t pool[] = {U'a', U'Z', U' ', U'\n', U'\'', U'7', 0xE9, 0x4E2D, 0x1F44D, 0x301, U'!'};
        char32_t cp = pool[rng() % (sizeof(pool) / sizeof(pool[0]))];
        text::append_utf8(s, cp);
      }
      auto ids = enc(*e, s);
      EXPECT_EQ(e->decode_bytes(ids.data(), ids.size()), s);
      EXPECT_EQ(e->count_ordinary(s), ids.size());
    }
  }
}

TEST(Encoding, SpecialTokens) {
  const Encoding& e = cl100k();
  tokenizer::SpecialMask none(e.specials().size(), 0), all(e.specials().size(), 1);
  std::vector<Rank> out;
  e.encode("hello <|endoftext|>", all, out);
  EXPECT_EQ(out, (std::vector<Rank>{15339, 220, 100257}));
  out.clear();
  e.encode("hello <|endoftext|>", none, out);
  EXPECT_EQ(out, enc(e, "hello <|endoftext|>"));
  auto m = e.find_special("ab <|fim_prefix|> <|endoftext|>", 0, nullptr);
  ASSERT_NE(m.pos, std::string_view::npos);
  EXPECT_EQ(m.pos, 3u);
  EXPECT_EQ(e.specials()[m.index].text, "<|fim_prefix|>");
  EXPECT_EQ(e.find_special("no specials < | here", 0, nullptr).pos, std::string_view::npos);
}

TEST(Encoding, DecodeErrors) {
  const Rank bad[] = {15339, 100256};
  EXPECT_THROW(cl100k().decode_bytes(bad, 2), NotFound);
  EXPECT_THROW(cl100k().token_bytes(500000), NotFound);
}

TEST(Encoding, TruncationCutsAtTokenAndCharBoundaries) {
  const Encoding& e = cl100k();
  tokenizer::SpecialMask none(e.specials().size(), 0);
  const std::string s = "naive caf\xC3\xA9 \xF0\x9F\x91\x8D and more words here";
  const std::size_t total = e.count_ordinary(s);
  for (std::size_t n = 0; n <= total + 2; ++n) {
    const std::size_t cut = e.truncate_prefix(s, n, none);
    EXPECT_TRUE(text::is_valid_utf8(std::string_view(s).substr(0, cut)));
    EXPECT_LE(e.count_ordinary(std::string_view(s).substr(0, cut)), n);
    const std::size_t start = e.truncate_suffix_start(s, n, none);
    EXPECT_TRUE(text::is_valid_utf8(std::string_view(s).substr(start)));
    EXPECT_LE(e.count_ordinary(std::string_view(s).substr(start)), n);
  }
  EXPECT_EQ(e.truncate_prefix(s, total, none), s.size());
  EXPECT_EQ(e.truncate_suffix_start(s, total, none), 0u);
}

TEST(StreamDecoder, HoldsBackIncompleteCharacters) {
  auto e = load("cl100k_base.tiktoken", PreTokenizer::CL100K);
  tokenizer::StreamDecoder d(e);
  auto ids = enc(*e, "\xF0\x9F\x91\x8D!");  // thumbs up: 3 tokens, then '!'
  std::string got;
  EXPECT_EQ(d.push(&ids[0], 1), "");
  EXPECT_GT(d.pending(), 0u);
  for (std::size_t i = 1; i < ids.size(); ++i) got += d.push(&ids[i], 1);
  got += d.flush();
  EXPECT_EQ(got, "\xF0\x9F\x91\x8D!");
}

TEST(Encoding, LongPiecesMatchHeapReference) {
  std::mt19937 rng(5);
  for (const Encoding* e : {&cl100k(), &o200k()}) {
    for (int t = 0; t < 120; ++t) {
      const std::size_t n = 65 + rng() % 3000;
      std::string s(n, ' ');
      const std::string alphabets[] = {"ab", " ", "\n \n", "^", "abcdefghijklmnopqrstuvwxyz", "0"};
      const std::string& a = alphabets[t % 6];
      for (auto& c : s) c = a[rng() % a.size()];
      if (t % 7 == 0)
        for (auto& c : s) c = static_cast<char>(rng() % 256);
      std::vector<Rank> x, y;
      e->encode_single_piece(s, x);
      e->encode_single_piece_reference(s, y);
      EXPECT_EQ(x, y) << "trial " << t;
    }
  }
}

TEST(Encoding, ShortPiecesMatchHeapReference) {
  // Pieces of 2-64 bytes take the compact-array merge loop: ties between equal ranks (repeated
  // letters), merges at the last pair, full 64-byte pieces and multi-byte characters.
  std::mt19937 rng(11);
  const std::vector<std::vector<std::string>> alphabets = {
      {"a"}, {"a", "b"}, {"a", "b", "c", " "}, {"\xC3\xA9", "\xC3\xA8", "e", "t"},
      {"\xE4\xBD\xA0", "\xE5\xA5\xBD", "\xE4\xB8\xAD"}, {"\xD0\xBF", "\xD1\x80", "\xD0\xB8", "\xD0\xB2"},
      {"0", "1", "9"}, {"\xF0\x9F\x91\x8D", "!", "\xE2\x80\x8D"}};
  for (const Encoding* e : {&cl100k(), &o200k()}) {
    for (int t = 0; t < 4000; ++t) {
      const std::size_t n = t % 13 == 0 ? 64 : 2 + rng() % 63;
      const auto& a = alphabets[t % alphabets.size()];
      std::string s;
      while (s.size() < n) s += a[rng() % a.size()];
      s.resize(n);  // may cut a character: raw bytes take the byte-level start
      if (t % 5 == 0)
        for (auto& c : s) c = static_cast<char>(rng() % 256);
      std::vector<Rank> x, y;
      e->encode_single_piece(s, x);
      e->encode_single_piece_reference(s, y);
      ASSERT_EQ(x, y) << "trial " << t << " length " << n;
    }
  }
}

TEST(Encoding, WorstCaseInputsFinish) {
  // Linear-time pre-tokenizers and the chunked long-piece BPE: these finish quickly and exactly
  // (the counts are the corpus goldens' for the same inputs).
  EXPECT_EQ(cl100k().count_ordinary(std::string(1000000, '^')), 250000u);
  EXPECT_EQ(o200k().count_ordinary(std::string(1000000, '^')), 125000u);
  EXPECT_EQ(cl100k().count_ordinary(std::string(200000, 'a')), 25000u);
  EXPECT_EQ(cl100k().count_ordinary(std::string(200000, ' ')), 1563u);
  EXPECT_EQ(cl100k().count_ordinary(std::string(100000, '\n')), 3125u);
}

TEST(RankFile, ParsesAndValidates) {
  std::string ok;
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b)), b64;
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned v = static_cast<unsigned char>(one[0]);
    b64 = {a[v >> 2], a[(v & 3) << 4], '=', '='};
    ok += b64 + " " + std::to_string(b) + "\n";
  }
  EXPECT_EQ(io::parse_tiktoken_ranks(ok, "t").size(), 256u);
  EXPECT_THROW(io::parse_tiktoken_ranks(ok + "@@@@ 256\n", "t"), InvalidArgument);
  EXPECT_THROW(io::parse_tiktoken_ranks(ok + "YWI= 255\n", "t"), InvalidArgument);   // dup rank
  EXPECT_THROW(io::parse_tiktoken_ranks(ok + "YWI= 300\n", "t"), InvalidArgument);   // gap
  EXPECT_NO_THROW(io::parse_tiktoken_ranks(ok + "YWI= 257\n", "t", {256}));         // reserved
  EXPECT_THROW(io::parse_tiktoken_ranks(ok + "YQ== 256\n", "t"), InvalidArgument);   // dup bytes
  EXPECT_THROW(io::parse_tiktoken_ranks("", "t"), InvalidArgument);
  try {
    io::parse_tiktoken_ranks(ok + "YWI= x1\n", "file.tiktoken");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("file.tiktoken line 257"), std::string::npos) << e.what();
  }
  std::string out;
  EXPECT_TRUE(io::base64_decode("aGVsbG8=", out));
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(io::base64_decode("aGVsbG8", out));
  EXPECT_FALSE(io::base64_decode("a=GV", out));
}

TEST(HfTokenizerJson, Gpt2LoadsInMergeModeAndMatchesRanks) {
  auto model = io::parse_hf_tokenizer_json(slurp(data_dir() + "/tokenizers/gpt2/tokenizer.json"), "gpt2");
  EXPECT_EQ(model.merges.size(), 50000u);
  auto hf = tokenizer::encoding_from_hf("gpt2", model);
  EXPECT_TRUE(hf->merge_mode());
  const std::string s = "Hello world, it's 2026! \xE6\x9D\xB1\xE4\xBA\xAC caf\xC3\xA9   x";
  EXPECT_EQ(enc(*hf, s), enc(r50k(), s));
}

TEST(HfTokenizerJson, RejectsUnsupportedAndMalformed) {
  EXPECT_THROW(io::parse_hf_tokenizer_json("{", "t"), InvalidArgument);
  EXPECT_THROW(io::parse_hf_tokenizer_json(R"({"model":{"type":"Unigram"}})", "t"), InvalidArgument);
  EXPECT_THROW(io::parse_hf_tokenizer_json(
                   R"({"model":{"type":"BPE","vocab":{},"merges":[],"byte_fallback":true},"pre_tokenizer":{"type":"ByteLevel"}})", "t"),
               InvalidArgument);
  EXPECT_THROW(tokenizer::pretokenizer_for_hf_pattern("\\w+"), InvalidArgument);
}

TEST(EncodingSpec, RejectsBrokenVocabularies) {
  tokenizer::EncodingSpec spec;
  spec.name = "broken";
  for (int b = 0; b < 255; ++b) {  // byte 0xFF missing
    spec.tokens.emplace_back(1, static_cast<char>(b));
    spec.ids.push_back(b);
  }
  EXPECT_THROW(Encoding{spec}, InvalidArgument);
  spec.tokens.emplace_back(1, static_cast<char>(255));
  spec.ids.push_back(10);  // id reused
  EXPECT_THROW(Encoding{spec}, InvalidArgument);
  spec.ids.back() = 255;
  spec.specials.push_back({"<|x|>", 3});  // special collides with a mergeable id
  EXPECT_THROW(Encoding{spec}, InvalidArgument);
  spec.specials.back().id = 256;
  EXPECT_NO_THROW(Encoding{spec});
}

namespace {
// 256 byte tokens (ranks 0..255) followed by `extra` in rank order.
std::shared_ptr<const Encoding> tiny_vocab(const std::vector<std::string>& extra) {
  tokenizer::EncodingSpec spec;
  spec.name = "tiny";
  spec.pretokenizer = tokenizer::PreTokenizer::CL100K;
  for (int b = 0; b < 256; ++b) {
    spec.tokens.emplace_back(1, static_cast<char>(b));
    spec.ids.push_back(static_cast<Rank>(b));
  }
  for (const auto& t : extra) {
    spec.tokens.push_back(t);
    spec.ids.push_back(static_cast<Rank>(spec.ids.size()));
  }
  return std::make_shared<const Encoding>(std::move(spec));
}

std::vector<Rank> single(const Encoding& e, const std::string& s, bool reference) {
  std::vector<Rank> out;
  if (reference) e.encode_single_piece_reference(s, out);
  else e.encode_single_piece(s, out);
  return out;
}
}  // namespace

// Non-ASCII pieces start BPE from per-character tokens only where that equals merging from
// bytes. These vocabularies break each of the two conditions on purpose (real ones never break
// (B) on its own), so a start that ignored either guard would give a different answer.
TEST(Encoding, CharacterStartGuardMultiCharRank) {
  // (B): "bé" (256) outranks the merge that makes "é" (258). From bytes: "ab" (257) goes
  // first, then "é": [ab, é]. Pre-merging "é" would make "bé" possible first: [a, bé].
  auto e = tiny_vocab({"b\xC3\xA9", "ab", "\xC3\xA9"});
  const std::string s = "ab\xC3\xA9";
  EXPECT_EQ(single(*e, s, true), (std::vector<Rank>{257, 258}));
  EXPECT_EQ(single(*e, s, false), single(*e, s, true));
  std::vector<Rank> ids;
  e->encode_ordinary(s, ids);
  EXPECT_EQ(ids, (std::vector<Rank>{257, 258}));
}

TEST(Encoding, CharacterStartGuardPartialCharacterTokens) {
  // (A): "\xA9b" (the tail of "é" plus "b", 256) merges before "é" (257): [0xC3, \xA9b].
  auto e = tiny_vocab({"\xA9" "b", "\xC3\xA9"});
  EXPECT_EQ(single(*e, "\xC3\xA9" "b", true), (std::vector<Rank>{0xC3, 256}));
  EXPECT_EQ(single(*e, "\xC3\xA9" "b", false), single(*e, "\xC3\xA9" "b", true));
  // ...and a token ending in a partial character: "a\xC3" (256) before "é" (257).
  auto f = tiny_vocab({"a\xC3", "\xC3\xA9"});
  EXPECT_EQ(single(*f, "a\xC3\xA9", true), (std::vector<Rank>{256, 0xA9}));
  EXPECT_EQ(single(*f, "a\xC3\xA9", false), single(*f, "a\xC3\xA9", true));
  // Where neither guard applies, the character start is used and still agrees.
  EXPECT_EQ(single(*f, "b\xC3\xA9\xC3\xA9", false), (std::vector<Rank>{'b', 257, 257}));
  // Invalid UTF-8 falls back to bytes.
  EXPECT_EQ(single(*f, "\xC3\xC3\xA9", false), single(*f, "\xC3\xC3\xA9", true));
}

TEST(Encoding, UnstableTailAndBytes) {
  // tiktoken's docstring: gpt2 (r50k) "hello fanta" -> ([31373], [(277, 4910), (5113, 265), ..., (8842,)]).
  const auto u = r50k().encode_with_unstable("hello fanta", SpecialMask(1, 0));
  EXPECT_EQ(u.tokens, (std::vector<Rank>{31373}));
  for (const auto& want : {std::vector<Rank>{277, 4910}, std::vector<Rank>{5113, 265}, std::vector<Rank>{8842}})
    EXPECT_NE(std::find(u.completions.begin(), u.completions.end(), want), u.completions.end());
  EXPECT_TRUE(std::is_sorted(u.completions.begin(), u.completions.end()));
  for (const auto& c : u.completions) {
    std::string s = r50k().decode_bytes(c.data(), c.size());
    EXPECT_EQ(s.rfind(" fanta", 0), 0u) << s;
  }
  // Ending with an allowed special token: nothing is unstable.
  const auto v = cl100k().encode_with_unstable("hi<|endoftext|>", SpecialMask{1, 0});
  EXPECT_EQ(v.tokens, (std::vector<Rank>{6151, 100257}));
  EXPECT_TRUE(v.completions.empty());
  EXPECT_THROW(cl100k().encode_with_unstable(std::string(2000, 'a'), SpecialMask(2, 0)), InvalidArgument);
  // tiktoken's test_encode_bytes, and invalid bytes round-trip.
  std::vector<Rank> out;
  cl100k().encode_bytes(" \xec\x8b\xa4\xed", out);
  EXPECT_EQ(out, (std::vector<Rank>{62085}));
  for (std::string raw : {std::string("\x80\x80\x80"), std::string("ab \xe4\xb8"), std::string("\xff")}) {
    out.clear();
    cl100k().encode_bytes(raw, out);
    EXPECT_EQ(cl100k().decode_bytes(out.data(), out.size()), raw);
  }
}
