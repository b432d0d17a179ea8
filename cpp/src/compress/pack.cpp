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

// A passage's term-frequency vector, L2-normalised: (term id, weight), sorted by term id.
using SparseVec = std::vector<std::pair<std::uint32_t, float>>;

SparseVec unit_vector(const std::vector<std::string>& terms,
                      std::unordered_map<std::string, std::uint32_t>& ids) {
  std::vector<std::uint32_t> t;
  t.reserve(terms.size());
  for (const auto& s : terms) t.push_back(ids.try_emplace(s, static_cast<std::uint32_t>(ids.size())).first->second);
  std::sort(t.begin(), t.end());
  SparseVec v;
  for (std::size_t k = 0; k < t.size();) {
    std::size_t e = k;
    while (e < t.size() && t[e] == t[k]) ++e;
    v.emplace_back(t[k], static_cast<float>(e - k));
    k = e;
  }
  double n = 0;
  for (auto& [_, w] : v) n += double(w) * w;
  const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.0f;
  for (auto& [_, w] : v) w *= inv;
  return v;
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

  // Term vectors and an inverted index (postings in passage order): after each pick, the cosine
  // of every passage sharing a term with it is summed over the pick's terms in term-id order,
  // touching only those passages (was: a hash-map cosine with every passage, per pick).
  std::unordered_map<std::string, std::uint32_t> term_ids;
  std::vector<SparseVec> vec(n);
  for (std::size_t i = 0; i < n; ++i) vec[i] = unit_vector(terms[i], term_ids);
  std::vector<std::vector<std::pair<std::uint32_t, float>>> postings(term_ids.size());
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& [t, w] : vec[i]) postings[t].emplace_back(static_cast<std::uint32_t>(i), w);
  const std::size_t sep = opt.separator.empty() ? 0 : enc.count_ordinary(opt.separator);
  double mean_cost = 0;
  for (auto t : r.tokens) mean_cost += t;
  mean_cost = std::max(mean_cost / n, 1.0);
  std::vector<double> scale(n);
  for (std::size_t i = 0; i < n; ++i)
    scale[i] = std::pow(std::max(r.tokens[i], 1u) / mean_cost, opt.cost_power);

  // Candidates in passage order (ties go to the first); a passage leaves once chosen or once it
  // no longer fits (the room only shrinks).
  std::vector<std::uint32_t> alive;
  for (std::size_t i = 0; i < n; ++i)
    if (r.duplicate_of[i] < 0) alive.push_back(static_cast<std::uint32_t>(i));
  std::vector<std::uint8_t> chosen(n, 0);
  std::vector<float> max_sim(n, 0.0f), dot(n, 0.0f);
  std::vector<std::uint32_t> picked, touched;
  std::size_t used = 0;
  while (!alive.empty()) {
    if (opt.stop && opt.stop()) return r;  // the caller raises: no point joining a partial pick
    std::int64_t best = -1;
    double best_v = -1e300;
    std::size_t live = 0;
    for (std::uint32_t i : alive) {
      const std::size_t add = r.tokens[i] + (picked.empty() ? 0 : sep);
      if (used + add > opt.budget) continue;
      alive[live++] = i;
      const double mmr = opt.mmr_lambda * r.relevance[i] - (1.0 - opt.mmr_lambda) * max_sim[i];
      const double v = mmr >= 0 ? mmr / scale[i] : mmr * scale[i];
      if (v > best_v) {
        best_v = v;
        best = static_cast<std::int64_t>(i);
      }
    }
    alive.resize(live);
    if (best < 0) break;
    chosen[best] = 1;
    used += r.tokens[best] + (picked.empty() ? 0 : sep);
    picked.push_back(static_cast<std::uint32_t>(best));
    alive.erase(std::find(alive.begin(), alive.end(), static_cast<std::uint32_t>(best)));
    for (const auto& [t, wb] : vec[best])
      for (const auto& [i, wi] : postings[t]) {
        if (chosen[i]) continue;
        if (dot[i] == 0.0f) touched.push_back(i);
        dot[i] += wb * wi;
      }
    for (std::uint32_t i : touched) {
      max_sim[i] = std::max(max_sim[i], dot[i]);
      dot[i] = 0.0f;
    }
    touched.clear();
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
