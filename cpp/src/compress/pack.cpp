#include "tokenops/compress/pack.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "tokenops/compress/redundancy.hpp"
#include "tokenops/compress/relevance.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::compress {

namespace {

using Tf = std::unordered_map<std::string, float>;

Tf unit_vector(const std::vector<std::string>& terms) {
  Tf tf;
  for (const auto& t : terms) tf[t] += 1.0f;
  double n = 0;
  for (auto& [_, v] : tf) n += double(v) * v;
  const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  for (auto& [_, v] : tf) v *= inv;
  return tf;
}

float cosine(const Tf& a, const Tf& b) {
  const Tf& s = a.size() < b.size() ? a : b;
  const Tf& l = a.size() < b.size() ? b : a;
  float dot = 0;
  for (const auto& [k, v] : s) {
    auto it = l.find(k);
    if (it != l.end()) dot += v * it->second;
  }
  return dot;
}

}  // namespace

PackResult pack(const tokenizer::Encoding& enc, const std::vector<std::string_view>& passages,
                std::string_view question, const std::vector<float>& extra,
                const PackOptions& opt) {
  const std::size_t n = passages.size();
  TOKENOPS_CHECK(extra.empty() || extra.size() == n, InvalidArgument,
                 "extra relevance must have one value per passage: got ", extra.size(), " for ", n);
  TOKENOPS_CHECK(opt.mmr_lambda >= 0 && opt.mmr_lambda <= 1, InvalidArgument,
                 "mmr_lambda must be in [0, 1], got ", opt.mmr_lambda);
  TOKENOPS_CHECK(opt.cost_power >= 0 && opt.cost_power <= 2, InvalidArgument,
                 "cost_power must be in [0, 2], got ", opt.cost_power);
  for (float x : extra)
    TOKENOPS_CHECK(std::isfinite(x), InvalidArgument, "extra relevance must be finite, got ", x);
  PackResult r;
  r.tokens.resize(n);
  r.relevance.assign(n, 0.0f);
  r.duplicate_of.assign(n, -1);
  if (n == 0) return r;

  std::vector<std::vector<std::string>> terms(n);
  for (std::size_t i = 0; i < n; ++i) {
    r.tokens[i] = static_cast<std::uint32_t>(enc.count_ordinary(passages[i]));
    terms[i] = text_terms(passages[i], false);
  }
  std::vector<std::string> query = text_terms(question, true);
  if (query.empty()) query = text_terms(question, false);
  std::vector<float> b = bm25(query, terms);
  float bm = 0, em = 0;
  for (float x : b) bm = std::max(bm, x);
  for (float x : extra) em = std::max(em, std::fabs(x));
  for (std::size_t i = 0; i < n; ++i) {
    float v = bm > 0 ? opt.bm25_weight * b[i] / bm : 0.0f;
    if (!extra.empty() && em > 0) v += opt.extra_weight * extra[i] / em;
    r.relevance[i] = v;
  }
  if (opt.dedup) r.duplicate_of = find_duplicate_texts(passages);

  std::vector<Tf> vec(n);
  for (std::size_t i = 0; i < n; ++i) vec[i] = unit_vector(terms[i]);
  const std::size_t sep = opt.separator.empty() ? 0 : enc.count_ordinary(opt.separator);
  double mean_cost = 0;
  for (auto t : r.tokens) mean_cost += t;
  mean_cost = std::max(mean_cost / n, 1.0);

  std::vector<std::uint8_t> chosen(n, 0);
  std::vector<float> max_sim(n, 0.0f);
  std::vector<std::uint32_t> picked;
  std::size_t used = 0;
  for (;;) {
    std::int64_t best = -1;
    double best_v = -1e300;
    for (std::size_t i = 0; i < n; ++i) {
      if (chosen[i] || r.duplicate_of[i] >= 0) continue;
      const std::size_t add = r.tokens[i] + (picked.empty() ? 0 : sep);
      if (used + add > opt.budget) continue;
      const double mmr = opt.mmr_lambda * r.relevance[i] - (1.0 - opt.mmr_lambda) * max_sim[i];
      const double scale = std::pow(std::max(r.tokens[i], 1u) / mean_cost, opt.cost_power);
      const double v = mmr >= 0 ? mmr / scale : mmr * scale;
      if (v > best_v) {
        best_v = v;
        best = static_cast<std::int64_t>(i);
      }
    }
    if (best < 0) break;
    chosen[best] = 1;
    used += r.tokens[best] + (picked.empty() ? 0 : sep);
    picked.push_back(static_cast<std::uint32_t>(best));
    for (std::size_t i = 0; i < n; ++i)
      if (!chosen[i]) max_sim[i] = std::max(max_sim[i], cosine(vec[i], vec[best]));
  }

  auto order_and_join = [&]() {
    std::vector<std::uint32_t> out = picked;
    if (opt.reorder) {
      std::stable_sort(out.begin(), out.end(), [&](std::uint32_t a, std::uint32_t b2) {
        return r.relevance[a] > r.relevance[b2];
      });
      std::vector<std::uint32_t> front, back;
      for (std::size_t k = 0; k < out.size(); ++k) (k % 2 == 0 ? front : back).push_back(out[k]);
      out = front;
      out.insert(out.end(), back.rbegin(), back.rend());
    } else {
      std::sort(out.begin(), out.end());
    }
    std::string text;
    for (std::size_t k = 0; k < out.size(); ++k) {
      if (k) text += opt.separator;
      text += passages[out[k]];
    }
    r.selected = std::move(out);
    r.text = std::move(text);
    r.total_tokens = enc.count_ordinary(r.text);
  };
  order_and_join();
  // joining can merge tokens across the separator; drop the least relevant pick if over
  while (r.total_tokens > opt.budget && !picked.empty()) {
    auto worst = std::min_element(picked.begin(), picked.end(), [&](std::uint32_t a, std::uint32_t b2) {
      return r.relevance[a] < r.relevance[b2];
    });
    picked.erase(worst);
    order_and_join();
  }
  return r;
}

}  // namespace tokenops::compress
