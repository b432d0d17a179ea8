#include "tokenops/compress/info.hpp"

#include <algorithm>
#include <cmath>

#include "tokenops/text/error.hpp"

namespace tokenops::compress {

FrequencyTable::FrequencyTable(const std::vector<std::string>& words,
                               const std::vector<double>& freqs, double floor) {
  TOKENOPS_CHECK(words.size() == freqs.size(), InvalidArgument, "frequency table: ", words.size(),
                 " words but ", freqs.size(), " frequencies");
  TOKENOPS_CHECK(!words.empty(), InvalidArgument, "frequency table is empty");
  prob_.reserve(words.size());
  double smallest = 1.0;
  std::string folded;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const double f = freqs[i];
    TOKENOPS_CHECK(f > 0.0 && f <= 1.0 && std::isfinite(f), InvalidArgument,
                   "frequency of word '", words[i], "' must be in (0, 1], got ", f);
    fold_case(words[i], folded);
    auto [it, inserted] = prob_.try_emplace(folded, static_cast<float>(f));
    if (!inserted) it->second += static_cast<float>(f);
    smallest = std::min(smallest, f);
  }
  floor_ = floor > 0.0 ? floor : smallest / 10.0;
  unknown_bits_ = static_cast<float>(-std::log2(floor_));
}

double FrequencyTable::prob(std::string_view folded) const noexcept {
  auto it = prob_.find(folded);
  return it == prob_.end() ? floor_ : static_cast<double>(it->second);
}

float FrequencyTable::bits(std::string_view folded) const noexcept {
  return static_cast<float>(-std::log2(prob(folded)));
}

BigramModel::BigramModel(const io::BigramData& d)
    : counts_(d.counts), successors_(d.successors), discount_(d.discount) {
  ids_.reserve(d.words.size());
  double total = 0;
  for (std::size_t i = 0; i < d.words.size(); ++i) {
    ids_.emplace(d.words[i], static_cast<std::uint32_t>(i));
    total += d.counts[i];
  }
  total_ = std::max(total, 1.0);
  pairs_.reserve(d.bigrams.size());
  for (const auto& b : d.bigrams) pairs_[(std::uint64_t(b[0]) << 32) | b[1]] = b[2];
}

double BigramModel::unigram(std::string_view word) const noexcept {
  auto it = ids_.find(word);
  return it == ids_.end() ? 0.5 / total_ : counts_[it->second] / total_;
}

double BigramModel::prob(std::string_view prev, std::string_view word, double p_backoff) const noexcept {
  auto ip = ids_.find(prev);
  if (ip == ids_.end()) return p_backoff;
  const std::uint32_t a = ip->second;
  const double c = counts_[a];
  double seen = 0.0;
  auto iw = ids_.find(word);
  if (iw != ids_.end()) {
    auto ib = pairs_.find((std::uint64_t(a) << 32) | iw->second);
    if (ib != pairs_.end()) seen = std::max(ib->second - discount_, 0.0) / c;
  }
  const double lambda = std::min(1.0, discount_ * successors_[a] / c);
  return seen + lambda * p_backoff;
}

SelfInformation::SelfInformation(std::shared_ptr<const FrequencyTable> freq,
                                 std::shared_ptr<const BigramModel> bigram)
    : freq_(std::move(freq)), bigram_(std::move(bigram)) {
  TOKENOPS_CHECK(freq_ || bigram_, InvalidArgument,
                 "self-information needs a frequency table or a bigram model");
}

float SelfInformation::word_bits(std::string_view prev, std::string_view word) const noexcept {
  double p = freq_ ? freq_->prob(word) : bigram_->unigram(word);
  if (bigram_) p = bigram_->prob(prev, word, p);
  return static_cast<float>(-std::log2(std::max(p, 1e-12)));
}

void SelfInformation::score_units(const ScoreContext& ctx, std::vector<float>& out) const {
  const auto& units = ctx.seg.units;
  out.assign(units.size(), 0.0f);
  const float high = freq_ ? freq_->unknown_bits() : 30.0f;
  std::string prev = "<s>", cur;
  std::uint32_t chunk = 0xFFFFFFFFu;
  for (std::size_t k = 0; k < units.size(); ++k) {
    const Unit& u = units[k];
    if (u.chunk != chunk) {
      chunk = u.chunk;
      prev = "<s>";
    }
    switch (u.kind) {
      case UnitKind::Word:
      case UnitKind::Char:
        fold_case(ctx.text.substr(u.start, u.end - u.start), cur);
        out[k] = word_bits(prev, cur);
        prev.swap(cur);
        break;
      case UnitKind::Number:
        out[k] = high;
        prev = "<num>";
        break;
      case UnitKind::Url:
      case UnitKind::Code:
        out[k] = high;
        break;
      case UnitKind::Newline:
        out[k] = 4.0f;
        break;
      case UnitKind::Punct:
        out[k] = 2.0f;
        break;
    }
  }
}

}  // namespace tokenops::compress
