#include "tokenops/cost/catalog.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cstring>
#include <optional>
#include <set>

#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::cost {

namespace {

// Longest model name looked up: catalogue keys are under 100 characters; a longer "name" is a
// mistake (a prompt passed as the model...), and the rewrites and edit distances below grow
// with its length.
constexpr std::size_t kMaxModelName = 512;

void check_name_length(std::string_view name) {
  if (name.size() <= kMaxModelName) return;
  std::size_t cut = 40;  // quote the start, cut on a UTF-8 character boundary
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  throw InvalidArgument(detail::concat("model name is ", name.size(), " bytes long (at most ",
                                       kMaxModelName, "); is it a model name? It starts with '",
                                       name.substr(0, cut), "...'"));
}

constexpr const char* kBucketNames[kNumBuckets] = {
    "input_text",  "input_audio", "input_image",  "cache_read",   "cache_read_audio", "cache_write_5m",
    "cache_write_1h", "output_text", "reasoning", "output_audio", "output_image",     "request",
    "web_search"};

constexpr const char* kLitellmKeys[kNumLitellmFields] = {
    "input_cost_per_token",
    "input_cost_per_token_flex",
    "input_cost_per_token_priority",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_200k_tokens",
    "cache_read_input_token_cost",
    "cache_read_input_token_cost_above_200k_tokens",
    "cache_read_input_token_cost_above_272k_tokens",
    "cache_read_input_token_cost_flex",
    "cache_read_input_token_cost_priority",
    "cache_creation_input_token_cost_above_1hr",
    "input_cost_per_character",
    "input_cost_per_token_above_128k_tokens",
    "input_cost_per_token_above_200k_tokens",
    "input_cost_per_token_above_272k_tokens",
    "input_cost_per_audio_token",
    "input_cost_per_image_token",
    "input_cost_per_image",
    "input_cost_per_video_per_second",
    "input_cost_per_token_batches",
    "output_cost_per_token_batches",
    "output_cost_per_token",
    "output_cost_per_token_flex",
    "output_cost_per_token_priority",
    "output_cost_per_audio_token",
    "output_cost_per_reasoning_token",
    "output_cost_per_token_above_128k_tokens",
    "output_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_272k_tokens",
    "output_cost_per_second",
    "output_cost_per_image_token",
    "citation_cost_per_token",
    "input_cost_per_second",
    "search_context_cost_per_query.search_context_size_low",
    "search_context_cost_per_query.search_context_size_medium",
    "search_context_cost_per_query.search_context_size_high",
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// re.sub(r"-\d+$", "", s)
std::string strip_trailing_number(std::string_view s) {
  std::size_t i = s.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
  if (i < s.size() && i > 0 && s[i - 1] == '-') return std::string(s.substr(0, i - 1));
  return std::string(s);
}

// re.sub(r"(:[^:]+){3}$", "", s)
std::string strip_finetune(std::string_view s) {
  std::size_t end = s.size();
  for (int k = 0; k < 3; ++k) {
    if (end == 0) return std::string(s);
    std::size_t colon = s.rfind(':', end - 1);
    if (colon == std::string_view::npos || colon + 1 >= end) return std::string(s);
    end = colon;
  }
  return std::string(s.substr(0, end));
}

const std::set<std::string>& bedrock_cross_region_prefixes() {
  static const std::set<std::string> s = {"us", "eu", "apac", "jp", "au", "ca", "global", "us-gov"};
  return s;
}

bool is_aws_region(std::string_view s) {
  // e.g. us-east-1, eu-central-1, ap-northeast-1, us-gov-west-1
  if (s.size() < 9) return false;
  if (!std::isdigit(static_cast<unsigned char>(s.back()))) return false;
  return std::count(s.begin(), s.end(), '-') >= 2;
}

// LiteLLM's get_bedrock_base_model (routing prefixes, cross-region prefixes, regions).
std::string bedrock_base_model(std::string_view m) {
  std::string model(m);
  for (const char* rp : {"bedrock/converse/", "bedrock/invoke/", "bedrock/", "converse/", "invoke/"}) {
    if (starts_with(model, rp)) {
      model = model.substr(std::strlen(rp));
      break;
    }
  }
  auto dot = model.find('.');
  if (dot != std::string::npos && bedrock_cross_region_prefixes().count(model.substr(0, dot)))
    return model.substr(dot + 1);
  auto slash = model.find('/');
  if (slash != std::string::npos && is_aws_region(model.substr(0, slash))) return model.substr(slash + 1);
  return model;
}

std::string litellm_strip(std::string_view model, const std::string& provider) {
  if (provider == "bedrock" || provider == "bedrock_converse") return bedrock_base_model(model);
  if (provider == "vertex_ai" || provider == "gemini" || provider == "databricks")
    return strip_trailing_number(model);
  if (model.find("ft:") != std::string_view::npos) return strip_finetune(model);
  return std::string(model);
}

bool litellm_provider_match(const std::string& entry_provider, const std::string& p) {
  if (p.empty() || entry_provider == p) return true;
  if (p == "vertex_ai" && starts_with(entry_provider, "vertex_ai")) return true;
  if (p == "fireworks_ai" && starts_with(entry_provider, "fireworks_ai")) return true;
  if (starts_with(p, "bedrock") && starts_with(entry_provider, "bedrock")) return true;
  if (p == "litellm_proxy") return true;
  if (p == "azure_ai" && (entry_provider == "azure" || entry_provider == "openai")) return true;
  if (p == "github") return true;
  return false;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

// --------------------------------------------------------------------------------------------
// NameRegex: a Python-`re` subset compiled to an NFA and run as a Thompson / Pike simulation.
// --------------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kMaxPatternBytes = 1000;
constexpr std::size_t kMaxProgram = 2000;  // NFA instructions (real patterns need under 50)
constexpr int kMaxRepeat = 1000;           // a bound of {n,m}
constexpr int kMaxGroupDepth = 50;
constexpr int kInf = -1;

// Class escapes (\d \w \s and their complements) as bits.
enum ClassBits : std::uint8_t {
  kDigit = 1,
  kNotDigit = 2,
  kWord = 4,
  kNotWord = 8,
  kSpaceCls = 16,
  kNotSpace = 32
};

// Python's str semantics: \d is Unicode Nd; \w is alphanumeric (L*, N*) or '_'; \s is
// str.isspace() (Unicode White_Space and U+001C..U+001F).
bool py_digit(char32_t c) {
  if (c < 128) return c >= '0' && c <= '9';
  return c < 0x110000 && text::general_category(c) == text::GeneralCategory::Nd;
}
bool py_word(char32_t c) {
  if (c < 128) return std::isalnum(static_cast<int>(c)) || c == '_';
  if (c >= 0x110000) return false;
  using G = text::GeneralCategory;
  switch (text::general_category(c)) {
    case G::Lu: case G::Ll: case G::Lt: case G::Lm: case G::Lo: case G::Nd: case G::Nl: case G::No: return true;
    default: return false;
  }
}
bool py_space(char32_t c) {
  if (c >= 0x1C && c <= 0x1F) return true;
  return c < 0x110000 && (text::char_class(c) & text::kSpace) != 0;
}

}  // namespace

struct NameRegex::Program {
  struct CharSet {
    std::vector<std::pair<char32_t, char32_t>> ranges;
    std::uint8_t classes = 0;
    bool negated = false;
    bool contains(char32_t c) const {
      bool in = false;
      for (const auto& r : ranges)
        if (c >= r.first && c <= r.second) {
          in = true;
          break;
        }
      if (!in && classes) {
        const bool d = (classes & (kDigit | kNotDigit)) ? py_digit(c) : false;
        const bool w = (classes & (kWord | kNotWord)) ? py_word(c) : false;
        const bool s = (classes & (kSpaceCls | kNotSpace)) ? py_space(c) : false;
        in = ((classes & kDigit) && d) || ((classes & kNotDigit) && !d) || ((classes & kWord) && w) ||
             ((classes & kNotWord) && !w) || ((classes & kSpaceCls) && s) || ((classes & kNotSpace) && !s);
      }
      return in != negated;
    }
  };
  enum Op : std::uint8_t { kSet, kAny, kSplit, kJmp, kAssert, kMatch };
  enum Assert : std::uint8_t { kBol, kEol, kBot, kEot, kWordB, kNotWordB };
  struct Inst {
    Op op;
    int x = 0, y = 0;  // kSet: set index; kSplit: targets; kJmp: target; kAssert: kind
  };
  std::vector<CharSet> sets;
  std::vector<Inst> code;
};

namespace {

using Prog = NameRegex::Program;

// The parsed pattern.
struct Node {
  enum Kind : std::uint8_t { Empty, Set, Any, Assert, Cat, Alt, Rep } kind = Empty;
  int arg = 0;             // Set: set index; Assert: kind
  int min = 0, max = 0;    // Rep (max kInf: unbounded)
  std::vector<Node> kids;  // Cat, Alt: the parts; Rep: the one repeated
};

class RegexParser {
 public:
  RegexParser(std::string_view pattern, Prog& prog) : p_(pattern), prog_(prog) {}

  Node parse() {
    Node n = alternation(0);
    if (i_ < p_.size()) fail(")", "unbalanced parenthesis");  // a ')' with no '(' before it
    return n;
  }

 private:
  std::string_view p_;
  Prog& prog_;
  std::size_t i_ = 0;
  std::set<std::string> group_names_;

  // The pattern for a message, cut to 100 bytes on a UTF-8 boundary.
  std::string shown() const {
    if (p_.size() <= 100) return std::string(p_);
    std::size_t cut = 100;
    while (cut > 0 && (static_cast<unsigned char>(p_[cut]) & 0xC0) == 0x80) --cut;
    return std::string(p_.substr(0, cut)) + "...";
  }
  [[noreturn]] void fail(std::string_view what, std::string_view why) const {
    throw InvalidArgument(detail::concat("regex '", shown(), "': ", why, " ('", what.substr(0, 40),
                                         "' at position ", i_, ")"));
  }
  [[noreturn]] void unsupported(std::string_view what, std::string_view feature) const {
    throw InvalidArgument(detail::concat("regex '", shown(), "': ", feature, " ('", what, "' at position ", i_,
                                         ") is not supported in price-file match rules; tokenops "
                                         "implements literals, classes, groups, alternation, "
                                         "quantifiers and the anchors ^ $ \\A \\Z \\b \\B"));
  }

  bool more() const { return i_ < p_.size(); }
  char peek() const { return p_[i_]; }

  // The code point at i_ (the pattern is valid UTF-8); advances past it.
  char32_t next_cp() {
    int len = 1;
    const char32_t c = text::decode_utf8(reinterpret_cast<const unsigned char*>(p_.data()) + i_, len);
    i_ += static_cast<std::size_t>(len);
    return c;
  }

  int add_set(Prog::CharSet s) {
    prog_.sets.push_back(std::move(s));
    return static_cast<int>(prog_.sets.size() - 1);
  }
  Node set_node(Prog::CharSet s) {
    Node n;
    n.kind = Node::Set;
    n.arg = add_set(std::move(s));
    return n;
  }
  static Prog::CharSet single(char32_t c) {
    Prog::CharSet s;
    s.ranges.push_back({c, c});
    return s;
  }

  Node alternation(int depth) {
    std::vector<Node> alts;
    alts.push_back(concatenation(depth));
    while (more() && peek() == '|') {
      ++i_;
      alts.push_back(concatenation(depth));
    }
    if (alts.size() == 1) return std::move(alts.front());
    Node n;
    n.kind = Node::Alt;
    n.kids = std::move(alts);
    return n;
  }

  Node concatenation(int depth) {
    Node cat;
    cat.kind = Node::Cat;
    bool last_repeatable = false;  // the previous item exists and is not an anchor
    bool last_repeated = false;
    while (more() && peek() != '|' && peek() != ')') {
      const std::size_t at = i_;
      if (auto q = quantifier()) {
        if (last_repeated) fail(p_.substr(at, i_ - at), "multiple repeat");
        if (!last_repeatable) fail(p_.substr(at, i_ - at), "nothing to repeat");
        if (more() && peek() == '+') unsupported(p_.substr(at, i_ + 1 - at), "a possessive quantifier");
        if (more() && peek() == '?') ++i_;  // lazy: the same yes / no answer for a search
        Node rep;
        rep.kind = Node::Rep;
        rep.min = q->first;
        rep.max = q->second;
        rep.kids.push_back(std::move(cat.kids.back()));
        cat.kids.back() = std::move(rep);
        last_repeated = true;
        continue;
      }
      // an anchor cannot be repeated (Python: "nothing to repeat"); a group holding one can
      const char c = peek();
      const bool anchor = c == '^' || c == '$' ||
                          (c == '\\' && i_ + 1 < p_.size() && std::string_view("AZbB").find(p_[i_ + 1]) != std::string_view::npos);
      cat.kids.push_back(atom(depth));
      last_repeatable = !anchor;
      last_repeated = false;
    }
    if (cat.kids.empty()) return Node{};
    if (cat.kids.size() == 1) return std::move(cat.kids.front());
    return cat;
  }

  // A quantifier at i_ ({min, max}), consumed; nullopt (nothing consumed) when there is none.
  // As in Python, a '{' that does not start {n}, {n,}, {,m}, {n,m} or {,} is a literal.
  std::optional<std::pair<int, int>> quantifier() {
    const char c = peek();
    if (c == '*' || c == '+' || c == '?') {
      ++i_;
      return std::pair<int, int>{c == '+' ? 1 : 0, c == '?' ? 1 : kInf};
    }
    if (c != '{') return std::nullopt;
    std::size_t j = i_ + 1;
    auto digits = [&]() {
      const std::size_t s = j;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') ++j;
      return p_.substr(s, j - s);
    };
    if (j < p_.size() && p_[j] == '}') return std::nullopt;  // "{}" is two literals
    const std::string_view lo = digits();
    std::string_view hi = lo;
    bool comma = false;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      comma = true;
      hi = digits();
    }
    if (j >= p_.size() || p_[j] != '}') return std::nullopt;
    const std::size_t at = i_;
    i_ = j + 1;
    auto value = [&](std::string_view d) {
      int v = 0;
      for (const char ch : d) {
        v = v * 10 + (ch - '0');
        if (v > kMaxRepeat)
          throw InvalidArgument(detail::concat("regex '", shown(), "': the repeat count in '", p_.substr(at, i_ - at),
                                               "' is above ", kMaxRepeat, " (not supported in match rules)"));
      }
      return v;
    };
    const int mn = lo.empty() ? 0 : value(lo);
    const int mx = comma && hi.empty() ? kInf : value(hi);
    if (mx != kInf && mx < mn) fail(p_.substr(at, i_ - at), "min repeat greater than max repeat");
    return std::pair<int, int>{mn, mx};
  }

  Node assertion(int kind) {
    Node n;
    n.kind = Node::Assert;
    n.arg = kind;
    return n;
  }

  Node atom(int depth) {
    const std::size_t at = i_;
    const char c = peek();
    switch (c) {
      case '(': return group(depth);
      case '[': return char_class();
      case '.': {
        ++i_;
        Node n;
        n.kind = Node::Any;
        return n;
      }
      case '^': ++i_; return assertion(Prog::kBol);
      case '$': ++i_; return assertion(Prog::kEol);
      case '\\': {
        ++i_;
        if (!more()) fail("\\", "bad escape (end of pattern)");
        const char e = peek();
        switch (e) {
          case 'A': ++i_; return assertion(Prog::kBot);
          case 'Z': ++i_; return assertion(Prog::kEot);
          case 'b': ++i_; return assertion(Prog::kWordB);
          case 'B': ++i_; return assertion(Prog::kNotWordB);
          default: break;
        }
        Prog::CharSet s;
        if (class_escape(s)) return set_node(std::move(s));
        i_ = at;
        return set_node(single(escape(false)));
      }
      default: break;
    }
    return set_node(single(next_cp()));  // a literal (including a '{' that is no quantifier, ']' and '}')
  }

  Node group(int depth) {
    const std::size_t at = i_;
    ++i_;  // '('
    if (depth + 1 > kMaxGroupDepth)
      throw InvalidArgument(detail::concat("regex '", shown(), "': groups nest deeper than ", kMaxGroupDepth,
                                           " levels (not supported in match rules)"));
    if (more() && peek() == '?') {
      ++i_;
      if (!more()) fail("(?", "unexpected end of pattern");
      const char k = peek();
      if (k == ':') {
        ++i_;
      } else if (k == 'P' && i_ + 1 < p_.size() && p_[i_ + 1] == '<') {
        i_ += 2;
        const std::size_t s = i_;
        while (more() && peek() != '>') ++i_;
        if (!more()) fail(p_.substr(at), "missing >, unterminated name");
        const std::string_view name = p_.substr(s, i_ - s);
        bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
        for (const char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
        if (!ok) fail(name, "bad or unsupported (non-ASCII) group name");
        if (!group_names_.emplace(name).second) fail(name, "redefinition of group name");
        ++i_;  // '>'
      } else {
        std::string_view what = p_.substr(at, std::min<std::size_t>(4, p_.size() - at));
        const char* feature = k == '=' || k == '!' || k == '<' ? "lookaround"
                              : k == 'P'                      ? "a backreference or other (?P extension"
                              : k == '>'                      ? "an atomic group"
                              : k == '#'                      ? "a comment group"
                              : k == '('                      ? "a conditional group"
                                                              : "an inline flag";
        unsupported(what, feature);
      }
    }
    Node inner = alternation(depth + 1);
    if (!more() || peek() != ')') {
      i_ = at;
      fail("(", "missing ), unterminated subpattern");
    }
    ++i_;
    return inner;
  }

  // \d \D \w \W \s \S at i_ (just after the backslash): adds the class to `s` and consumes it.
  bool class_escape(Prog::CharSet& s) {
    std::uint8_t bit = 0;
    switch (peek()) {
      case 'd': bit = kDigit; break;
      case 'D': bit = kNotDigit; break;
      case 'w': bit = kWord; break;
      case 'W': bit = kNotWord; break;
      case 's': bit = kSpaceCls; break;
      case 'S': bit = kNotSpace; break;
      default: return false;
    }
    ++i_;
    s.classes |= bit;
    return true;
  }

  // The code point of a character escape; i_ is at the backslash. `in_class`: \b is backspace.
  char32_t escape(bool in_class) {
    const std::size_t at = i_;
    ++i_;  // '\'
    if (!more()) fail("\\", "bad escape (end of pattern)");
    const char e = peek();
    auto hex = [&](int n) -> char32_t {
      ++i_;
      char32_t v = 0;
      for (int k = 0; k < n; ++k) {
        if (!more() || !std::isxdigit(static_cast<unsigned char>(peek())))
          fail(p_.substr(at, i_ - at), "incomplete escape");
        const char h = peek();
        v = v * 16 + static_cast<char32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        ++i_;
      }
      if (v > 0x10FFFF) fail(p_.substr(at, i_ - at), "bad escape");
      return v;
    };
    switch (e) {
      case 'n': ++i_; return '\n';
      case 't': ++i_; return '\t';
      case 'r': ++i_; return '\r';
      case 'f': ++i_; return '\f';
      case 'v': ++i_; return '\v';
      case 'a': ++i_; return '\a';
      case 'x': return hex(2);
      case 'u': return hex(4);
      case 'U': return hex(8);
      case 'b':
        if (in_class) {
          ++i_;
          return '\b';
        }
        break;
      default: break;
    }
    if (e >= '0' && e <= '9') unsupported(p_.substr(at, 2), "a backreference or octal escape");
    if (e == 'N') unsupported(p_.substr(at, 2), "a named character escape");
    if (std::isalpha(static_cast<unsigned char>(e))) {
      i_ = at;
      fail(p_.substr(at, 2), "bad escape");
    }
    return next_cp();  // an escaped punctuation or non-ASCII character stands for itself
  }

  Node char_class() {
    const std::size_t at = i_;
    ++i_;  // '['
    Prog::CharSet s;
    if (more() && peek() == '^') {
      s.negated = true;
      ++i_;
    }
    bool first = true;
    while (true) {
      if (!more()) {
        i_ = at;
        fail("[", "unterminated character set");
      }
      if (peek() == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      // one item: a class escape, or a character that may start a range
      const std::size_t item = i_;
      char32_t lo;
      if (peek() == '\\') {
        ++i_;
        if (!more()) fail("\\", "bad escape (end of pattern)");
        if (class_escape(s)) {
          if (i_ + 1 < p_.size() && peek() == '-' && p_[i_ + 1] != ']')
            fail(p_.substr(item, i_ + 2 - item), "bad character range");
          continue;
        }
        i_ = item;
        lo = escape(true);
      } else {
        lo = next_cp();
      }
      char32_t hi = lo;
      if (i_ + 1 < p_.size() && peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;  // '-'
        if (peek() == '\\') {
          const std::size_t e = i_;
          ++i_;
          Prog::CharSet probe;
          if (more() && class_escape(probe)) fail(p_.substr(item, i_ - item), "bad character range");
          i_ = e;
          hi = escape(true);
        } else {
          hi = next_cp();
        }
        if (hi < lo) fail(p_.substr(item, i_ - item), "bad character range");
      }
      s.ranges.push_back({lo, hi});
    }
    return set_node(std::move(s));
  }
};

// Instructions `n` compiles to (saturating at kMaxProgram + 1).
std::size_t program_size(const Node& n) {
  constexpr std::size_t kOver = kMaxProgram + 1;
  auto cap = [](std::size_t v) { return v < kOver ? v : kOver; };
  switch (n.kind) {
    case Node::Empty: return 0;
    case Node::Set: case Node::Any: case Node::Assert: return 1;
    case Node::Cat: {
      std::size_t s = 0;
      for (const auto& k : n.kids) s = cap(s + program_size(k));
      return s;
    }
    case Node::Alt: {
      std::size_t s = 2 * (n.kids.size() - 1);
      for (const auto& k : n.kids) s = cap(s + program_size(k));
      return s;
    }
    case Node::Rep: {
      const std::size_t k = program_size(n.kids.front());
      const std::size_t mn = static_cast<std::size_t>(n.min);
      std::size_t s = cap(k * mn);
      if (n.max == kInf) return cap(s + k + 2);
      return cap(s + static_cast<std::size_t>(n.max - n.min) * (k + 1));
    }
  }
  return 0;
}

void emit(const Node& n, std::vector<Prog::Inst>& code) {
  auto here = [&] { return static_cast<int>(code.size()); };
  switch (n.kind) {
    case Node::Empty: return;
    case Node::Set: code.push_back({Prog::kSet, n.arg, 0}); return;
    case Node::Any: code.push_back({Prog::kAny, 0, 0}); return;
    case Node::Assert: code.push_back({Prog::kAssert, n.arg, 0}); return;
    case Node::Cat:
      for (const auto& k : n.kids) emit(k, code);
      return;
    case Node::Alt: {
      std::vector<std::size_t> jumps;
      for (std::size_t a = 0; a < n.kids.size(); ++a) {
        if (a + 1 < n.kids.size()) {
          const std::size_t split = code.size();
          code.push_back({Prog::kSplit, here() + 1, 0});
          emit(n.kids[a], code);
          jumps.push_back(code.size());
          code.push_back({Prog::kJmp, 0, 0});
          code[split].y = here();
        } else {
          emit(n.kids[a], code);
        }
      }
      for (const std::size_t j : jumps) code[j].x = here();
      return;
    }
    case Node::Rep: {
      const Node& k = n.kids.front();
      for (int r = 0; r < n.min; ++r) emit(k, code);
      if (n.max == kInf) {
        const int loop = here();
        code.push_back({Prog::kSplit, loop + 1, 0});
        emit(k, code);
        code.push_back({Prog::kJmp, loop, 0});
        code[static_cast<std::size_t>(loop)].y = here();
        return;
      }
      std::vector<std::size_t> splits;
      for (int r = n.min; r < n.max; ++r) {
        splits.push_back(code.size());
        code.push_back({Prog::kSplit, here() + 1, 0});
        emit(k, code);
      }
      for (const std::size_t s : splits) code[s].y = here();
      return;
    }
  }
}

}  // namespace

NameRegex::NameRegex(std::string_view pattern) : pattern_(pattern) {
  if (const std::size_t bad = text::find_invalid_utf8(pattern); bad != std::string_view::npos)
    throw InvalidArgument(detail::concat("regex pattern is not valid UTF-8 (byte ", bad, ")"));
  if (pattern.size() > kMaxPatternBytes) {
    std::size_t cut = 60;
    while (cut > 0 && (static_cast<unsigned char>(pattern[cut]) & 0xC0) == 0x80) --cut;
    throw InvalidArgument(detail::concat("regex '", pattern.substr(0, cut), "...' is ", pattern.size(),
                                         " bytes long (at most ", kMaxPatternBytes, " in a match rule)"));
  }
  auto prog = std::make_shared<Program>();
  const Node root = RegexParser(pattern, *prog).parse();
  const std::size_t size = program_size(root) + 1;
  if (size > kMaxProgram)
    throw InvalidArgument(detail::concat("regex '", pattern, "' compiles to more than ", kMaxProgram,
                                         " NFA states (repeat counts multiply); not supported in match rules"));
  prog->code.reserve(size);
  emit(root, prog->code);
  prog->code.push_back({Program::kMatch, 0, 0});
  prog_ = std::move(prog);
}

bool NameRegex::search(std::string_view name) const {
  // The name's code points; a byte that is not valid UTF-8 becomes U+DC80..U+DCFF (Python's
  // surrogateescape), which only '.' and negated classes match.
  std::vector<char32_t> cps;
  cps.reserve(name.size());
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  const bool valid = text::is_valid_utf8(name);
  for (std::size_t i = 0; i < name.size();) {
    if (!valid) {
      const int want = text::utf8_seq_len(p[i]);
      const std::size_t bad = text::find_invalid_utf8(name.substr(i, std::min<std::size_t>(4, name.size() - i)));
      if (bad != std::string_view::npos && bad < static_cast<std::size_t>(want)) {
        cps.push_back(0xDC00 + p[i]);
        ++i;
        continue;
      }
    }
    int len = 1;
    cps.push_back(text::decode_utf8(p + i, len));
    i += static_cast<std::size_t>(len);
  }
  const std::vector<Program::Inst>& code = prog_->code;
  const std::size_t n = cps.size();
  auto assertion = [&](int kind, std::size_t i) {
    switch (kind) {
      case Program::kBol: case Program::kBot: return i == 0;
      case Program::kEot: return i == n;
      case Program::kEol: return i == n || (i + 1 == n && cps[i] == '\n');
      case Program::kWordB: case Program::kNotWordB: {
        if (n == 0) return false;  // Python: neither \b nor \B matches in an empty string
        const bool before = i > 0 && py_word(cps[i - 1]);
        const bool after = i < n && py_word(cps[i]);
        return (before != after) == (kind == Program::kWordB);
      }
    }
    return false;
  };
  // Thread lists: the instructions waiting to read the character at the current position.
  struct List {
    std::vector<int> pcs;
    std::vector<std::size_t> mark;  // mark[pc] == stamp: pc already added for this position
    std::size_t stamp = 0;
  };
  List cur, nxt;
  cur.mark.assign(code.size(), 0);
  nxt.mark.assign(code.size(), 0);
  std::vector<int> stack;
  bool matched = false;
  std::size_t stamp = 0;
  auto add = [&](List& l, int pc0, std::size_t i) {
    stack.push_back(pc0);
    while (!stack.empty()) {
      const int pc = stack.back();
      stack.pop_back();
      if (l.mark[static_cast<std::size_t>(pc)] == l.stamp) continue;
      l.mark[static_cast<std::size_t>(pc)] = l.stamp;
      const auto& in = code[static_cast<std::size_t>(pc)];
      switch (in.op) {
        case Program::kJmp: stack.push_back(in.x); break;
        case Program::kSplit: stack.push_back(in.y); stack.push_back(in.x); break;
        case Program::kAssert: if (assertion(in.x, i)) stack.push_back(pc + 1); break;
        case Program::kMatch: matched = true; break;
        case Program::kSet: case Program::kAny: l.pcs.push_back(pc); break;
      }
    }
  };
  cur.stamp = ++stamp;
  for (std::size_t i = 0;; ++i) {
    add(cur, 0, i);  // a match may start at every position (re.search)
    if (matched) return true;
    if (i == n) return false;
    nxt.pcs.clear();
    nxt.stamp = ++stamp;
    const char32_t c = cps[i];
    for (const int pc : cur.pcs) {
      const auto& in = code[static_cast<std::size_t>(pc)];
      const bool ok = in.op == Program::kAny ? c != '\n' : prog_->sets[static_cast<std::size_t>(in.x)].contains(c);
      if (ok) add(nxt, pc + 1, i + 1);
    }
    if (matched) return true;
    std::swap(cur, nxt);
  }
}

MatchRule MatchRule::make_regex(std::string pattern) {
  MatchRule r;
  r.kind = Regex;
  r.regex = std::make_shared<const NameRegex>(pattern);
  r.value = std::move(pattern);
  return r;
}

bool MatchRule::matches(std::string_view name) const {
  switch (kind) {
    case Equals: return name == value;
    case StartsWith: return starts_with(name, value);
    case EndsWith: return ends_with(name, value);
    case Contains: return name.find(value) != std::string_view::npos;
    case Regex: return regex ? regex->search(name) : NameRegex(value).search(name);
    case Or:
      for (const auto& c : children)
        if (c.matches(name)) return true;
      return false;
    case And:
      for (const auto& c : children)
        if (!c.matches(name)) return false;
      return !children.empty();
  }
  return false;
}

const char* bucket_name(int b) {
  TOKENOPS_CHECK(b >= 0 && b < kNumBuckets, InvalidArgument, "bucket index ", b, " out of range");
  return kBucketNames[b];
}

int bucket_from_name(std::string_view name) {
  for (int b = 0; b < kNumBuckets; ++b)
    if (name == kBucketNames[b]) return b;
  std::string names;
  for (int b = 0; b < kNumBuckets; ++b) names += std::string(b ? ", " : "") + kBucketNames[b];
  throw InvalidArgument(detail::concat("unknown usage bucket '", name, "'; known buckets: ", names));
}

const char* service_tier_name(ServiceTier t) {
  switch (t) {
    case ServiceTier::Standard: return "standard";
    case ServiceTier::Batch: return "batch";
    case ServiceTier::Flex: return "flex";
    case ServiceTier::Priority: return "priority";
  }
  return "standard";
}

ServiceTier service_tier_from_name(std::string_view name) {
  if (name == "standard" || name == "default" || name == "auto" || name.empty()) return ServiceTier::Standard;
  if (name == "batch" || name == "batches") return ServiceTier::Batch;
  if (name == "flex") return ServiceTier::Flex;
  if (name == "priority") return ServiceTier::Priority;
  throw InvalidArgument(detail::concat("unknown service_tier '", name,
                                       "'; use one of standard, batch, flex, priority"));
}

const char* litellm_field_key(int f) {
  TOKENOPS_CHECK(f >= 0 && f < kNumLitellmFields, InvalidArgument, "field index ", f, " out of range");
  return kLitellmKeys[f];
}

Price make_price(double value, int scale_exp) {
  Price p;
  TOKENOPS_CHECK(std::isfinite(value), InvalidArgument, "price must be a finite number, got ", value);
  TOKENOPS_CHECK(value >= 0, InvalidArgument, "price must be >= 0, got ", value);
  if (value == 0) value = 0.0;  // -0.0 passes the check above; its sign must not reach the digits
  p.set = true;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  // d[.ddd]e[+-]XX
  std::size_t epos = s.find('e');
  std::string digits;
  int point_digits = 0;
  bool after_point = false;
  for (std::size_t i = 0; i < epos; ++i) {
    if (s[i] == '.') {
      after_point = true;
      continue;
    }
    digits.push_back(s[i]);
    if (after_point) ++point_digits;
  }
  int exp10 = 0;
  std::from_chars(s.data() + epos + 1 + (s[epos + 1] == '+' ? 1 : 0), s.data() + s.size(), exp10);
  // value = digits * 10^(exp10 - point_digits); atto = value * 10^(18 + scale_exp)
  {
    std::string dec = digits + "e" + std::to_string(exp10 - point_digits + scale_exp);
    std::from_chars(dec.data(), dec.data() + dec.size(), p.usd);  // correctly rounded
  }
  int shift = exp10 - point_digits + static_cast<int>(kAttoPerUsdExp) + scale_exp;
  i128 mant = 0;
  for (char c : digits) mant = mant * 10 + (c - '0');
  if (shift >= 0) {
    TOKENOPS_CHECK(shift <= 20, InvalidArgument, "price ", value, " is too large");
    for (int k = 0; k < shift; ++k) mant *= 10;
    p.atto = mant;
  } else {
    i128 div = 1;
    int k = 0;
    for (; k < -shift && k < 38; ++k) div *= 10;
    if (k < -shift) {
      p.atto = 0;
    } else {
      i128 q = mant / div, r = mant % div;
      if (2 * r > div || (2 * r == div && (q & 1))) ++q;  // round half to even
      p.atto = q;
    }
    p.inexact = true;
    // a positive price below the atto-USD resolution would be billed at $0 in exact mode
    TOKENOPS_CHECK(mant == 0 || p.atto != 0, InvalidArgument, "price ", value,
                   " is positive but below 1e-18 USD per unit (the resolution of exact prices)");
  }
  return p;
}

std::int32_t parse_iso_date(std::string_view s, std::string_view field) {
  // Exactly YYYY-MM-DD: ten characters, digits where digits belong, a day that exists in that
  // month (leap years included). "2O26-09-01", "2025-02-30" and "2025-01-01junk" are refused.
  int y = 0, m = 0, d = 0;
  bool ok = s.size() == 10 && s[4] == '-' && s[7] == '-';
  for (std::size_t i = 0; ok && i < s.size(); ++i) {
    if (i != 4 && i != 7) ok = s[i] >= '0' && s[i] <= '9';
  }
  if (ok) {
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    static constexpr int kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    ok = y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= kDays[m - 1] && !(m == 2 && d == 29 && !leap);
  }
  TOKENOPS_CHECK(ok, InvalidArgument, field, ": '", s, "' is not an ISO date (YYYY-MM-DD) that exists");
  // days_from_civil (Howard Hinnant)
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

std::string litellm_route_provider(std::string_view p) {
  if (starts_with(p, "vertex_ai")) return "vertex_ai";
  if (p == "bedrock_converse") return "bedrock";
  if (p == "ai21") return "ai21_chat";
  if (p == "azure_text") return "azure";
  if (p == "text-completion-openai") return "text-completion-openai";
  return std::string(p);
}

namespace {
// One name per provider across the catalogue sources and the prefixes users write: LiteLLM's
// providers (fireworks_ai, bedrock_converse, vertex_ai-*, gemini, together_ai, xai) and
// genai-prices' (fireworks, aws, google, together, x-ai). Gemini's API and Vertex are one
// family (Google), as genai-prices has them.
std::string provider_family(std::string_view provider) {
  std::string p = lower(provider);
  if (starts_with(p, "vertex_ai") || p == "gemini" || p == "google") return "google";
  if (p == "aws" || p == "bedrock" || p == "bedrock_converse" || p == "bedrock_mantle") return "bedrock";
  if (p == "fireworks_ai" || p == "fireworks_ai-embedding-models") return "fireworks";
  if (p == "cohere_chat") return "cohere";
  if (p == "codestral" || p == "text-completion-codestral") return "mistral";
  if (p == "zhipuai") return "zai";
  if (p == "palm") return "google";
  if (p == "together_ai") return "together";
  if (p == "x-ai") return "xai";
  if (p == "azure_text") return "azure";
  if (p == "moonshotai") return "moonshot";
  if (p == "voyageai") return "voyage";
  if (p == "text-completion-openai") return "openai";
  return p;
}
// The family that makes a model, from its name ("claude-..." -> anthropic), or "".
std::string maker_of(std::string_view name) {
  std::string n = lower(name);
  if (const auto slash = n.rfind('/'); slash != std::string::npos) n = n.substr(slash + 1);
  struct Rule {
    const char* prefix;
    const char* family;
  };
  for (const Rule& r : {Rule{"claude", "anthropic"}, Rule{"gpt-", "openai"}, Rule{"chatgpt", "openai"},
                        Rule{"o1", "openai"}, Rule{"o3", "openai"}, Rule{"o4", "openai"}, Rule{"gemini", "google"},
                        Rule{"gemma", "google"}, Rule{"grok", "xai"}, Rule{"deepseek", "deepseek"},
                        Rule{"mistral", "mistral"}, Rule{"mixtral", "mistral"}, Rule{"codestral", "mistral"},
                        Rule{"magistral", "mistral"}, Rule{"ministral", "mistral"}, Rule{"pixtral", "mistral"},
                        Rule{"command", "cohere"}})
    if (starts_with(n, r.prefix)) return r.family;
  return "";
}
bool first_party(const std::string& family) {
  for (const char* f : {"openai", "anthropic", "google", "deepseek", "xai", "mistral", "cohere", "moonshot",
                        "zhipuai", "minimax", "perplexity", "ai21", "amazon", "meta_llama"})
    if (family == f) return true;
  return false;
}
// 0: the provider that makes the model, 1: another first-party provider, 2: a reseller.
int preference(const std::string& family, std::string_view name) {
  if (family == maker_of(name)) return 0;
  return first_party(family) ? 1 : 2;
}
}  // namespace

Catalog::Catalog(std::vector<ModelEntry> entries, std::string source, std::string checked_date)
    : entries_(std::move(entries)), source_(std::move(source)), checked_date_(std::move(checked_date)) {
  by_key_.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    TOKENOPS_CHECK(by_key_.emplace(e.key, i).second, InvalidArgument, "duplicate catalogue key '",
                   e.key, "'");
    by_lower_.emplace(lower(e.key), i);
    family_.push_back(provider_family(e.provider));
    auto& sp = spellings_[family_.back()];
    if (std::find(sp.begin(), sp.end(), lower(e.provider)) == sp.end()) sp.push_back(lower(e.provider));
  }
  // An alias two entries share goes to the first first-party one, else the first one (a bare
  // "o4-mini" was Azure's entry because Azure's came first in genai-prices' file).
  for (std::size_t i = 0; i < entries_.size(); ++i)
    for (const auto& a : entries_[i].aliases) {
      std::string la = lower(a);
      if (by_lower_.count(la)) continue;
      auto [it, fresh] = by_alias_.emplace(la, i);
      if (!fresh && preference(family_[i], la) < preference(family_[it->second], la)) it->second = i;
    }
}

std::optional<std::size_t> Catalog::find_key(std::string_view key) const {
  auto it = by_key_.find(std::string(key));
  if (it != by_key_.end()) return it->second;
  auto jt = by_lower_.find(lower(key));
  if (jt != by_lower_.end()) return jt->second;
  return std::nullopt;
}

std::optional<Match> Catalog::try_resolve(std::string_view name) const { return resolve_in(name, true); }

std::optional<Match> Catalog::resolve_in(std::string_view name, bool same_provider) const {
  if (name.empty()) return std::nullopt;
  check_name_length(name);
  if (auto it = by_key_.find(std::string(name)); it != by_key_.end()) return Match{it->second, "exact"};
  const std::string ln = lower(name);
  if (auto it = by_lower_.find(ln); it != by_lower_.end()) return Match{it->second, "case-insensitive"};
  if (auto it = by_alias_.find(ln); it != by_alias_.end()) return Match{it->second, "alias"};

  // A leading provider of this catalogue restricts the entries a rewrite may land on.
  std::string want;
  if (const auto slash = ln.find('/'); same_provider && slash != std::string::npos) {
    const std::string fam = provider_family(ln.substr(0, slash));
    if (spellings_.count(fam)) want = fam;
  }
  auto ok = [&](std::size_t i) { return want.empty() || family_[i] == want; };
  auto probe = [&](const std::string& cand) -> std::optional<std::size_t> {
    if (auto it = by_lower_.find(cand); it != by_lower_.end() && ok(it->second)) return it->second;
    if (auto it = by_alias_.find(cand); it != by_alias_.end() && ok(it->second)) return it->second;
    return std::nullopt;
  };
  // Candidate rewrites, most specific first.
  std::vector<std::string> cands;
  std::string s = ln;
  // provider/model -> model, also nested (openrouter/anthropic/x keeps its own key if present).
  std::vector<std::string> stripped{s};
  while (true) {
    auto slash = stripped.back().find('/');
    if (slash == std::string::npos) break;
    stripped.push_back(stripped.back().substr(slash + 1));
  }
  // Every name with provider prefixes stripped is tried as it is before any rewrite of a longer
  // one: "bedrock/eu.anthropic.claude-..." is the regional key "eu.anthropic.claude-...", not the
  // base model that stripping the inference-profile prefix from the whole name gives.
  cands = stripped;
  for (const auto& base : stripped) {
    std::string b = bedrock_base_model(base);
    cands.push_back(b);
    // Vertex "@version" -> "-version" and without it.
    if (auto at = b.find('@'); at != std::string::npos) {
      std::string v = b.substr(0, at);
      cands.push_back(v + "-" + b.substr(at + 1));
      cands.push_back(v);
    }
    // Bedrock "-v1:0" / ":0" suffixes and "anthropic." vendor prefix.
    std::string nb = b;
    if (auto colon = nb.rfind(':'); colon != std::string::npos) nb = nb.substr(0, colon);
    if (ends_with(nb, "-v1") || ends_with(nb, "-v2")) nb = nb.substr(0, nb.size() - 3);
    cands.push_back(nb);
    for (const char* vendor : {"anthropic.", "meta.", "mistral.", "amazon.", "cohere.", "ai21.", "deepseek.", "openai.", "qwen."})
      if (starts_with(nb, vendor)) cands.push_back(nb.substr(std::strlen(vendor)));
  }
  for (const auto& c : cands) {
    if (c == ln) continue;
    if (auto idx = probe(c)) return Match{*idx, "normalized:" + c};
  }
  // The provider's own spelling of the name ("fireworks_ai/kimi-k3" is genai-prices'
  // "fireworks/kimi-k3"; the bare "kimi-k3" is another provider's alias).
  if (!want.empty())
    for (const auto& c : cands)
      for (const auto& sp : spellings_.at(want))
        if (auto idx = probe(sp + "/" + c)) return Match{*idx, "normalized:" + sp + "/" + c};
  // Match rules (genai-prices style), on the name and on the name without provider prefixes;
  // the model's maker first, then first-party providers (a bare "o4-mini" matched Azure's rule
  // before OpenAI's).
  for (int pass = 0; pass < 3; ++pass)
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (!ok(i) || preference(family_[i], stripped.back()) != pass) continue;
      for (const auto& rule : entries_[i].match)
        for (const auto& base : stripped)
          if (rule.matches(base)) return Match{i, "match-rule"};
    }
  // Provider-qualified keys: "claude-3-7-sonnet-20250219" given as "anthropic.claude-..."
  for (const auto& c : cands)
    for (const char* pfx : {"anthropic/", "openai/", "gemini/", "xai/", "deepseek/", "mistral/"})
      if (auto idx = probe(std::string(pfx) + c)) return Match{*idx, std::string("normalized:") + pfx + c};
  return std::nullopt;
}

Match Catalog::resolve(std::string_view name) const {
  TOKENOPS_CHECK(!name.empty(), InvalidArgument, "model name is empty");
  if (auto m = try_resolve(name)) return *m;
  if (auto other = resolve_in(name, false)) {
    const ModelEntry& e = entries_[other->index];
    const std::string ln = lower(name);
    throw NotFound(detail::concat(
        "model '", name, "': the price catalogue (", source_, ") has no price of provider '",
        ln.substr(0, ln.find('/')), "' for it; '", e.key, "' is the same model at provider '", e.provider,
        "', whose price tokenops does not substitute (providers price a model differently). Pass '", e.key,
        "' to use that price, or add the provider's price to the catalogue."));
  }
  auto close = close_matches(name, 5);
  std::string list;
  for (std::size_t i = 0; i < close.size(); ++i) list += (i ? ", " : "") + std::string("'") + close[i] + "'";
  throw NotFound(detail::concat("unknown model '", name, "' in the price catalogue (", source_,
                                "); close matches: ", list.empty() ? "none" : list,
                                ". Pass a catalogue key, or add the model's prices to the catalogue."));
}

std::vector<std::string> Catalog::close_matches(std::string_view name, std::size_t k) const {
  check_name_length(name);
  std::string ln = lower(name);
  std::string base = ln.substr(ln.rfind('/') == std::string::npos ? 0 : ln.rfind('/') + 1);
  std::vector<std::pair<double, std::size_t>> scored;
  scored.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    std::string key = lower(entries_[i].key);
    std::string kb = key.substr(key.rfind('/') == std::string::npos ? 0 : key.rfind('/') + 1);
    double d = static_cast<double>(std::min(edit_distance(ln, key), edit_distance(base, kb)));
    if (kb.find(base) != std::string::npos || base.find(kb) != std::string::npos) d -= 0.5;
    d += 0.001 * static_cast<double>(key.size());  // prefer shorter (canonical) keys on ties
    scored.emplace_back(d, i);
  }
  std::size_t n = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(entries_[scored[i].second].key);
  return out;
}

std::optional<std::size_t> Catalog::litellm_lookup(std::string_view model, const std::string& p) const {
  std::string split, combined, stripped, combined_stripped;
  std::string m(model);
  if (!p.empty() && starts_with(m, p + "/")) {
    split = m.substr(p.size() + 1);
    combined = m;
    stripped = litellm_strip(split, p);
  } else {
    split = m;
    combined = p + "/" + m;
    stripped = litellm_strip(m, p);
  }
  combined_stripped = p + "/" + stripped;
  for (const std::string* cand : {&combined, &m, &combined_stripped, &stripped, &split}) {
    auto idx = find_key(*cand);
    if (idx && litellm_provider_match(entries_[*idx].provider, p)) return idx;
  }
  return std::nullopt;
}

Catalog::LitellmResolution Catalog::litellm_resolve(std::string_view name) const {
  check_name_length(name);
  LitellmResolution r;
  std::string n(name);
  r.model_arg = n;  // also named by the "cannot map model" error when no provider matches
  // The route provider: a known provider prefix, else the entry's own provider.
  std::set<std::string> providers;
  auto slash = n.find('/');
  if (slash != std::string::npos) {
    std::string prefix = n.substr(0, slash);
    for (const auto& e : entries_)
      if (litellm_route_provider(e.provider) == prefix || e.provider == prefix) {
        r.route_provider = prefix;
        break;
      }
  }
  if (r.route_provider.empty()) {
    auto idx = find_key(n);
    if (!idx) return r;
    r.route_provider = litellm_route_provider(entries_[*idx].provider);
  }
  r.model_arg = n;
  if (slash != std::string::npos) {
    // get_llm_provider's own rewrites of three prefixes; after the first two the price lookup fails:
    // "ai21/<chat model>" is routed to ai21_chat (the entries say ai21), and
    // "azure/<Cohere or Mistral chat model>" to openai with the whole name as the model
    // (_is_non_openai_azure_model): cost_per_token raises "This model isn't mapped yet".
    const std::string rest = n.substr(slash + 1);
    auto key_of = [&](const std::string& k, const char* provider) {
      auto it = by_key_.find(k);
      return it != by_key_.end() && entries_[it->second].provider == provider ? &entries_[it->second] : nullptr;
    };
    if (r.route_provider == "ai21") {
      const ModelEntry* e = key_of(rest, "ai21");
      if (e && e->mode == "chat") r.route_provider = "ai21_chat";
    } else if (r.route_provider == "cohere" && key_of(rest, "cohere_chat")) {
      // "cohere/<chat model>" goes to cohere_chat (handle_cohere_chat_model_custom_llm_provider),
      // where the price lookup finds it (it was refused as unmapped; LiteLLM prices it)
      r.route_provider = "cohere_chat";
    } else if (r.route_provider == "azure" && (key_of(rest, "cohere_chat") || key_of("mistral/" + rest, "mistral"))) {
      r.route_provider = "openai";
      r.index = litellm_lookup(n, r.route_provider);
      return r;
    }
  }
  if (r.route_provider == "vertex_ai" && slash != std::string::npos) {
    r.model_arg = n.substr(slash + 1);
  } else if (slash != std::string::npos && !by_key_.count(n) && by_key_.count(n.substr(slash + 1))) {
    // cost_per_token looks the model up before routing: a "provider/key" that is no key itself
    // but whose rest is one is priced as that key ("bedrock/eu.anthropic..." -> the regional
    // "eu.anthropic..." entry, not its base model)
    r.model_arg = n.substr(slash + 1);
  }
  r.index = litellm_lookup(r.model_arg, r.route_provider);
  return r;
}

}  // namespace tokenops::cost
