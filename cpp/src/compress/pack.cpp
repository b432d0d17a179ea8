#include "tokenops/compress/pack.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "tokenops/compress/redundancy.hpp"
#include "tokenops/compress/relevance.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/unicode.hpp"

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
  // an empty or all-white-space passage is never a candidate: it would add only a separator
  std::vector<char> blank(n);
  for (std::size_t i = 0; i < n; ++i) {
    r.tokens[i] = static_cast<std::uint32_t>(enc.count_ordinary(passages[i]));
    terms[i] = text_terms(passages[i], false);
    blank[i] = text::white_space_run_end(passages[i], 0) == passages[i].size();
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
  if (opt.dedup) {
    RedundancyOptions ro;
    ro.stop = opt.stop;
    r.duplicate_of = find_duplicate_texts(passages, ro);
    if (opt.stop && opt.stop()) return r;
  }

  // L2-normalised term vectors, sorted by term id
  std::unordered_map<std::string, std::uint32_t> term_ids;
  std::vector<SparseVec> vec(n);
  for (std::size_t i = 0; i < n; ++i) vec[i] = unit_vector(terms[i], term_ids);
  const std::size_t sep = opt.separator.empty() ? 0 : enc.count_ordinary(opt.separator);
  double mean_cost = 0;
  for (auto t : r.tokens) mean_cost += t;
  mean_cost = std::max(mean_cost / n, 1.0);
  std::vector<double> scale(n);
  for (std::size_t i = 0; i < n; ++i)
    scale[i] = std::pow(std::max(r.tokens[i], 1u) / mean_cost, opt.cost_power);

  std::vector<std::uint32_t> picked;
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

  // Everything fits: the picks are every passage whatever their order, and the order of the
  // picks matters only to break ties of relevance when reordering (and to choose what to drop
  // when the joined text runs over, which is checked). Greedy MMR would compare every pick with
  // every passage sharing a term.
  {
    std::size_t need = 0;
    std::vector<float> rel;
    for (std::size_t i = 0; i < n; ++i) {
      if (r.duplicate_of[i] >= 0 || blank[i]) continue;
      need += r.tokens[i] + (picked.empty() ? 0 : sep);
      picked.push_back(static_cast<std::uint32_t>(i));
      if (opt.reorder) rel.push_back(r.relevance[i]);
    }
    std::sort(rel.begin(), rel.end());
    const bool untied = std::adjacent_find(rel.begin(), rel.end()) == rel.end();
    if (need <= opt.budget && untied) {
      order_and_join();
      if (r.total_tokens <= opt.budget) return r;
    }
    picked.clear();
  }

  // Greedy MMR: each step picks the passage of highest value (ties: the lower index) among those
  // that fit; a passage leaves once chosen or once it no longer fits (the room only shrinks).
  // Lazy evaluation (as in CELF, Leskovec et al. 2007): a passage's value only falls as passages
  // similar to it are picked, so the heap holds values from the last evaluation, upper bounds
  // of the current ones; the top is brought up to date (its similarity to the picks made since)
  // and picked when it stays on top. The picks are those of evaluating every passage at every
  // step (which cost O(passages) per pick, plus a walk of every passage sharing a term with the
  // pick: quadratic when the budget fits many passages, 20,000 passages: 9.8 s).
  std::vector<float> max_sim(n, 0.0f);
  std::vector<std::uint32_t> seen(n, 0);  // picks each passage's max_sim covers
  auto value = [&](std::uint32_t i) {
    const double mmr = opt.mmr_lambda * r.relevance[i] - (1.0 - opt.mmr_lambda) * max_sim[i];
    return mmr >= 0 ? mmr / scale[i] : mmr * scale[i];
  };
  // per term: (pick number, weight) of the picks holding it, in pick order
  std::vector<std::vector<std::pair<std::uint32_t, float>>> pick_postings(term_ids.size());
  std::vector<float> pick_max(term_ids.size(), 0.0f);  // per term: the picks' largest weight
  std::vector<float> dot;                               // per pick: scratch
  std::vector<std::uint32_t> touched;
  // Brings max_sim[i] up to date. The cosine with each pick is summed over the common terms in
  // term-id order. No pick's cosine with i exceeds the same sum over pick_max (every product and
  // partial sum >= 0, and float rounding is monotone), so once max_sim reaches that bound the
  // picks since the last evaluation cannot raise it and are not compared: when all passages
  // share a term and fit, comparing every pair was quadratic again.
  auto catch_up = [&](std::uint32_t i) {
    const auto from = seen[i];
    seen[i] = static_cast<std::uint32_t>(picked.size());
    float bound = 0.0f;
    for (const auto& [t, w] : vec[i]) bound += pick_max[t] * w;
    if (max_sim[i] >= bound) return;
    for (const auto& [t, w] : vec[i]) {
      const auto& pl = pick_postings[t];
      auto it = std::lower_bound(pl.begin(), pl.end(), std::make_pair(from, -1.0f));
      for (; it != pl.end(); ++it) {
        if (dot[it->first] == 0.0f) touched.push_back(it->first);
        dot[it->first] += it->second * w;
      }
    }
    for (std::uint32_t p : touched) {
      max_sim[i] = std::max(max_sim[i], dot[p]);
      dot[p] = 0.0f;
    }
    touched.clear();
  };
  using Entry = std::pair<double, std::uint32_t>;  // (value, passage)
  auto below = [](const Entry& a, const Entry& b) {  // heap order: highest value, then lowest index
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  };
  std::vector<Entry> heap, deferred;
  for (std::size_t i = 0; i < n; ++i)
    if (r.duplicate_of[i] < 0 && !blank[i]) heap.emplace_back(value(static_cast<std::uint32_t>(i)), static_cast<std::uint32_t>(i));
  std::make_heap(heap.begin(), heap.end(), below);
  std::size_t used = 0;
  auto select = [&]() {  // picks until nothing fits; false when stopped
    while (!heap.empty()) {
      if (opt.stop && opt.stop()) return false;  // the caller raises: no point joining a partial pick
      std::pop_heap(heap.begin(), heap.end(), below);
      const std::uint32_t i = heap.back().second;
      const std::size_t add = r.tokens[i] + (picked.empty() ? 0 : sep);
      if (used + add > opt.budget) {
        deferred.push_back(heap.back());
        heap.pop_back();
        continue;
      }
      if (seen[i] < picked.size()) {
        catch_up(i);
        heap.back().first = value(i);
        std::push_heap(heap.begin(), heap.end(), below);
        continue;
      }
      heap.pop_back();
      used += add;
      const auto number = static_cast<std::uint32_t>(picked.size());
      picked.push_back(i);
      dot.push_back(0.0f);
      for (const auto& [t, w] : vec[i]) {
        pick_postings[t].emplace_back(number, w);
        pick_max[t] = std::max(pick_max[t], w);
      }
    }
    return true;
  };
  if (!select()) return r;
  order_and_join();
  // Joining merges tokens across the separator (".\n\n" is one token): the joined text counts
  // less than the sum the picks were made on, and the room left can take more passages (each
  // pick used to be charged a separator and the budget was under-filled). Bounded: each round
  // joins and counts the text once.
  for (int round = 0; round < 4 && !picked.empty() && r.total_tokens < used && !deferred.empty(); ++round) {
    used = r.total_tokens;
    const std::size_t before = picked.size();
    for (const Entry& e : deferred) heap.push_back(e);
    deferred.clear();
    std::make_heap(heap.begin(), heap.end(), below);
    if (!select()) return r;
    if (picked.size() == before) break;
    order_and_join();
  }
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
