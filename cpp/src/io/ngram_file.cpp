#include "tokenops/io/ngram_file.hpp"

#include <charconv>
#include <cmath>

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
  std::uint64_t header(std::string_view line, std::string_view key) const {
    if (line.substr(0, key.size() + 1) != std::string(key) + " ")
      fail("expected '" + std::string(key) + " <n>'");
    return number(line.substr(key.size() + 1));
  }
  bool done() const { return pos_ >= s_.size(); }

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
  try {
    d.discount = std::stod(std::string(dl.substr(9)));
  } catch (const std::exception&) {
    in.fail("bad discount");
  }
  if (!(d.discount > 0.0 && d.discount < 1.0)) in.fail("discount must be in (0, 1)");
  const std::uint64_t n = in.header(in.next(), "unigrams");
  if (n > 10'000'000) in.fail("too many unigrams");
  d.words.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto f = split_tabs(in.next());
    if (f.size() != 3 || f[0].empty()) in.fail("expected '<word>\\t<count>\\t<successors>'");
    d.words.emplace_back(f[0]);
    d.counts.push_back(static_cast<std::uint32_t>(in.number(f[1])));
    d.successors.push_back(static_cast<std::uint32_t>(in.number(f[2])));
    if (d.counts.back() == 0) in.fail("unigram count must be positive");
  }
  const std::uint64_t m = in.header(in.next(), "bigrams");
  if (m > 100'000'000) in.fail("too many bigrams");
  d.bigrams.reserve(m);
  for (std::uint64_t i = 0; i < m; ++i) {
    auto f = split_tabs(in.next());
    if (f.size() != 3) in.fail("expected '<id1>\\t<id2>\\t<count>'");
    std::uint64_t a = in.number(f[0]), b = in.number(f[1]), c = in.number(f[2]);
    if (a >= n || b >= n) in.fail("word id out of range");
    if (c == 0 || c > d.counts[a]) in.fail("bigram count must be in [1, count(id1)]");
    d.bigrams.push_back({static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b),
                         static_cast<std::uint32_t>(c)});
  }
  return d;
}

}  // namespace tokenops::io
