#include "tokenops/io/json_spans.hpp"

#include <cctype>
#include <string>

#include "tokenops/text/error.hpp"

namespace tokenops::io {

namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  std::vector<JsonStringSpan> run() {
    skip_ws();
    value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the JSON value");
    return std::move(spans_);
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw InvalidArgument(detail::concat("invalid JSON at byte ", i_, ": ", what,
                                         " (structure-preserving mode needs valid JSON; pass "
                                         "structure=None to compress it as plain text)"));
  }
  bool eof() const { return i_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[i_]; }
  void skip_ws() {
    while (!eof() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c, const char* what) {
    if (peek() != c) fail(what);
    ++i_;
  }
  void literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) fail("unknown literal (expected true, false or null)");
    i_ += word.size();
  }
  void string(bool is_key) {
    expect('"', "expected '\"'");
    const std::size_t begin = i_;
    for (;;) {
      if (eof()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') break;
      if (c < 0x20) fail("control character inside a string (escape it)");
      if (c == '\\') {
        ++i_;
        if (eof()) fail("unterminated escape");
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (i_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_ + k])))
              fail("bad \\u escape");
          }
          i_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) fail("bad escape");
      }
      ++i_;
    }
    spans_.push_back({static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(i_), is_key});
    ++i_;
  }
  void number() {
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++i_;
    } else {
      fail("bad number");
    }
    if (peek() == '.') {
      ++i_;
      if (!(peek() >= '0' && peek() <= '9')) fail("bad fraction");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!(peek() >= '0' && peek() <= '9')) fail("bad exponent");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
  }
  void value(int depth) {
    if (depth > 512)
      throw InvalidArgument(detail::concat("JSON nested deeper than 512 levels at byte ", i_,
                                           ": over the structure-preserving mode's depth limit (the "
                                           "JSON may be valid); pass structure=None to compress it "
                                           "as plain text"));
    const char c = peek();
    if (c == '{') {
      ++i_;
      skip_ws();
      if (peek() == '}') {
        ++i_;
        return;
      }
      for (;;) {
        skip_ws();
        string(true);
        skip_ws();
        expect(':', "expected ':' after an object key");
        skip_ws();
        value(depth + 1);
        skip_ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "expected ',' or '}'");
        return;
      }
    }
    if (c == '[') {
      ++i_;
      skip_ws();
      if (peek() == ']') {
        ++i_;
        return;
      }
      for (;;) {
        skip_ws();
        value(depth + 1);
        skip_ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(']', "expected ',' or ']'");
        return;
      }
    }
    if (c == '"') return string(false);
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail(eof() ? "unexpected end of input" : "unexpected character");
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::vector<JsonStringSpan> spans_;
};

}  // namespace

std::vector<JsonStringSpan> json_string_spans(std::string_view text) { return Scanner(text).run(); }

}  // namespace tokenops::io
