#include "tokenops/io/ngram_file.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "tokenops/text/error.hpp"

namespace tokenops::io {

namespace {

class Lines {
 public:
  Lines(std::string_view s, std::string_view source) : s_(s), source_(source) {}
  std::string_view next() {
    if (pos_ >= s_.size()) fail("unexpected end of file");
    std::size_t e = s_.find('\n', pos_);
    if (e == std::string_view::npos) e = s_.size();
    std::string_view line = s_.substr(pos_, e - pos_);
    pos_ = e + 1;
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgument(detail::concat("bigram model ", source_, " line ", line_no_, ": ", what,
                                         " (regenerate it with scripts/train_compress_ngram.py)"));
  }
  std::uint64_t number(std::string_view field) const {
    std::uint64_t v = 0;
    auto r = std::from_chars(field.data(), field.data() + field.size(), v);
    if (r.ec != std::errc() || r.ptr != field.data() + field.size())
      fail("expected a non-negative integer, got '" + std::string(field) + "'");
    return v;
  }
  // A count stored as uint32: a larger value would be truncated (2^32 + 5 read as 5).
  std::uint32_t count32(std::string_view field, const char* what) const {
    const std::uint64_t v = number(field);
    if (v > std::numeric_limits<std::uint32_t>::max())
      fail(std::string(what) + " " + std::string(field) + " does not fit in 32 bits (at most 4294967295)");
    return static_cast<std::uint32_t>(v);
  }
  std::uint64_t header(std::string_view line, std::string_view key) const {
    if (line.substr(0, key.size() + 1) != std::string(key) + " ")
      fail("expected '" + std::string(key) + " <n>'");
    return number(line.substr(key.size() + 1));
  }
  bool done() const { return pos_ >= s_.size(); }
  std::size_t line_no() const { return line_no_; }

 private:
  std::string_view s_, source_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
};

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> f;
  std::size_t p = 0;
  for (;;) {
    std::size_t t = line.find('\t', p);
    f.push_back(line.substr(p, t == std::string_view::npos ? std::string_view::npos : t - p));
    if (t == std::string_view::npos) break;
    p = t + 1;
  }
  return f;
}

}  // namespace

BigramData parse_bigram_model(std::string_view content, std::string_view source) {
  Lines in(content, source);
  BigramData d;
  if (in.next() != "tokenops-bigram 1") in.fail("not a tokenops-bigram 1 file");
  std::string_view dl = in.next();
  if (dl.substr(0, 9) != "discount ") in.fail("expected 'discount <D>'");
  {
    // The whole field must be the number: std::stod would read "0.5abc" as 0.5.
    const std::string_view f = dl.substr(9);
    auto r = std::from_chars(f.data(), f.data() + f.size(), d.discount);
    if (f.empty() || r.ec != std::errc() || r.ptr != f.data() + f.size())
      in.fail("bad discount '" + std::string(f) + "' (expected a decimal number)");
  }
  if (!(d.discount > 0.0 && d.discount < 1.0)) in.fail("discount must be in (0, 1)");
  const std::uint64_t n = in.header(in.next(), "unigrams");
  if (n > 10'000'000) in.fail("too many unigrams");
  d.words.reserve(n);
  std::unordered_map<std::string_view, std::size_t> word_line;  // word -> line it is defined on
  word_line.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto f = split_tabs(in.next());
    if (f.size() != 3 || f[0].empty()) in.fail("expected '<word>\\t<count>\\t<successors>'");
    auto [seen, fresh] = word_line.emplace(f[0], in.line_no());
    if (!fresh)
      in.fail("duplicate word '" + std::string(f[0]) + "' (first on line " + std::to_string(seen->second) + ")");
    const std::uint32_t count = in.count32(f[1], "unigram count");
    const std::uint32_t successors = in.count32(f[2], "successor count");
    if (count == 0) in.fail("unigram count must be positive");
    // The count is the word's total as a left context and the successors are the distinct words
    // that followed it, so 1 <= successors <= count.
    if (successors == 0 || successors > count)
      in.fail("successor count " + std::to_string(successors) + " must be in [1, count = " +
              std::to_string(count) + "]");
    d.words.emplace_back(f[0]);
    d.counts.push_back(count);
    d.successors.push_back(successors);
  }
  const std::uint64_t m = in.header(in.next(), "bigrams");
  if (m > 100'000'000) in.fail("too many bigrams");
  d.bigrams.reserve(m);
  std::unordered_set<std::uint64_t> pairs;
  pairs.reserve(m);
  std::vector<std::uint32_t> listed(n, 0);  // bigrams listed per left word
  std::vector<std::uint64_t> total(n, 0);   // and their summed counts
  for (std::uint64_t i = 0; i < m; ++i) {
    auto f = split_tabs(in.next());
    if (f.size() != 3) in.fail("expected '<id1>\\t<id2>\\t<count>'");
    std::uint64_t a = in.number(f[0]), b = in.number(f[1]), c = in.number(f[2]);
    if (a >= n || b >= n) in.fail("word id out of range");
    if (c == 0 || c > d.counts[a]) in.fail("bigram count must be in [1, count(id1)]");
    if (!pairs.insert((a << 32) | b).second)
      in.fail("duplicate bigram " + std::to_string(a) + " " + std::to_string(b));
    if (++listed[a] > d.successors[a])
      in.fail("word " + std::to_string(a) + " ('" + d.words[a] + "') has more bigrams than its successor count " +
              std::to_string(d.successors[a]));
    total[a] += c;
    if (total[a] > d.counts[a])
      in.fail("the bigram counts of word " + std::to_string(a) + " ('" + d.words[a] + "') sum to " +
              std::to_string(total[a]) + ", more than its count " + std::to_string(d.counts[a]));
    d.bigrams.push_back({static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b),
                         static_cast<std::uint32_t>(c)});
  }
  while (!in.done())
    if (!in.next().empty()) in.fail("unexpected content after the " + std::to_string(m) + " bigrams");
  return d;
}

}  // namespace tokenops::io
