#include "tokenops/compress/compressor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tokenops/compress/redundancy.hpp"
#include "tokenops/compress/relevance.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::compress {

namespace {

constexpr float kForced = std::numeric_limits<float>::infinity();

bool word_like(const Unit& u) {
  return u.kind == UnitKind::Word || u.kind == UnitKind::Number || u.kind == UnitKind::Url ||
         u.kind == UnitKind::Code;
}

// Whether the dropped text between two kept units held whitespace (so they were separate tokens).
bool gap_has_space(std::string_view text, std::uint32_t from, std::uint32_t to) {
  for (std::uint32_t i = from; i < to && i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return true;
  }
  return false;
}

std::string_view content(std::string_view text, const Unit& u) {
  return text.substr(u.start, u.end - u.start);
}

// Whether a punctuation unit ends with an opening bracket or quote, after which a word may touch
// ("(" [dropped] "3" reads "(3").
bool ends_with_opener(std::string_view p) {
  if (p.empty()) return false;
  const char c = p.back();
  if (c == '(' || c == '[' || c == '{' || c == '<' || c == '"' || c == '\'') return true;
  return p.ends_with("\xE2\x80\x9C") /* “ */ || p.ends_with("\xE2\x80\x98") /* ‘ */ ||
         p.ends_with("\xC2\xAB") /* « */ || p.ends_with("\xC2\xBF") /* ¿ */ ||
         p.ends_with("\xC2\xA1") /* ¡ */ || p.ends_with("\xE3\x80\x8C") /* 「 */;
}

// Whether kept unit k is punctuation that leads into a kept number right after it, with no space
// between ("-" "5", "+" "3", "." "5", "$" "4"): across a gap it takes a space before it as a
// word does ("120" [dropped " ("] "-5%" must not read "120-5%"). A closing bracket or quote
// is no lead ("John" [dropped " (the elder)"] ")" ... stays as it was).
bool sign_of_number(std::string_view text, const Segmentation& seg,
                    const std::vector<std::uint8_t>& kept, std::size_t k) {
  const Unit& u = seg.units[k];
  if (u.kind != UnitKind::Punct || k + 1 >= seg.units.size() || !kept[k + 1]) return false;
  const Unit& next = seg.units[k + 1];
  if (next.ws != next.start || !(next.flags & kHasDigit) || !word_like(next)) return false;
  const char c = text[u.start];
  return !(c == ')' || c == ']' || c == '}' || c == '>' || c == '"' || c == '\'');
}

// Per-unit token counts: each token of the whole text's encoding is attributed to the unit
// (whitespace included) holding its first byte, so the counts add up to the text's count.
std::vector<std::uint32_t> unit_token_counts(const tokenizer::Encoding& enc,
                                             const std::vector<tokenizer::Rank>& ids,
                                             const Segmentation& seg) {
  std::vector<std::uint32_t> cost(seg.units.size(), 0);
  if (seg.units.empty()) return cost;
  std::size_t pos = 0, k = 0;
  for (tokenizer::Rank id : ids) {
    while (k + 1 < seg.units.size() && seg.units[k].end <= pos) ++k;
    ++cost[k];
    pos += enc.token_bytes(id).size();
  }
  return cost;
}

}  // namespace

std::size_t budget_tolerance(std::size_t target) noexcept {
  return std::max<std::size_t>(5, static_cast<std::size_t>(std::floor(0.01 * target)));
}

std::vector<float> percentiles(const std::vector<float>& v) {
  const std::size_t n = v.size();
  std::vector<float> out(n, 0.5f);
  if (n < 2) return out;
  std::vector<std::uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](std::uint32_t a, std::uint32_t b) { return v[a] < v[b]; });
  if (v[idx.front()] == v[idx.back()]) return out;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && v[idx[j + 1]] == v[idx[i]]) ++j;
    const float r = static_cast<float>((i + j) * 0.5 / (n - 1));
    for (std::size_t m = i; m <= j; ++m) out[idx[m]] = r;
    i = j + 1;
  }
  return out;
}

std::string assemble(std::string_view text, const Segmentation& seg,
                     const std::vector<std::uint8_t>& kept) {
  std::string out;
  out.reserve(text.size());
  std::int64_t prev = -1;
  for (std::size_t k = 0; k < seg.units.size(); ++k) {
    const Unit& u = seg.units[k];
    if (!kept[k]) continue;
    // a kept run of line breaks next to a gap is at most "\n\n", without the spaces inside it
    // (the run is cut in units of two breaks; see segment)
    const bool squeeze = u.kind == UnitKind::Newline &&
                         ((k > 0 && !kept[k - 1]) || (k + 1 < seg.units.size() && !kept[k + 1]));
    if (prev == static_cast<std::int64_t>(k) - 1) {
      out.append(text.substr(u.ws, u.start - u.ws));
    } else if (prev >= 0) {
      // across a gap, two words never touch ("1/4" "32" must not become "1/432")
      const Unit& p = seg.units[prev];
      if (p.kind == UnitKind::Newline) {
        // the line's first kept unit starts the line: no leftover indentation
      } else if (u.ws < u.start) {
        out.append(text.substr(u.ws, u.start - u.ws));
      } else if ((word_like(u) || sign_of_number(text, seg, kept, k)) &&
                 (word_like(p) || gap_has_space(text, p.end, u.start) ||
                  (p.kind == UnitKind::Punct && !ends_with_opener(content(text, p))))) {
        // "2024." [dropped " :"] "0" must not become "2024.0", nor "1998." [dropped "["] "3"
        // [dropped "]"] "1998.3": both are other numbers; nor "120" [dropped " ("] "-5%"
        // "120-5%", a range
        out.push_back(' ');
      }
    }
    if (squeeze) {
      for (char c : content(text, u))
        if (c != ' ' && c != '\t') out.push_back(c);
    } else {
      out.append(content(text, u));
    }
    prev = static_cast<std::int64_t>(k);
  }
  return out;
}

Compressor::Compressor(std::shared_ptr<const tokenizer::Encoding> encoding,
                       std::vector<Weighted<UnitScorer>> unit_scorers,
                       std::vector<Weighted<ChunkScorer>> chunk_scorers)
    : enc_(std::move(encoding)),
      unit_scorers_(std::move(unit_scorers)),
      chunk_scorers_(std::move(chunk_scorers)) {
  TOKENOPS_CHECK(enc_ != nullptr, InvalidArgument, "Compressor needs an encoding");
  for (const auto& s : unit_scorers_)
    TOKENOPS_CHECK(s.scorer && std::isfinite(s.weight) && s.weight >= 0, InvalidArgument,
                   "unit scorer weights must be finite and >= 0");
  for (const auto& s : chunk_scorers_)
    TOKENOPS_CHECK(s.scorer && std::isfinite(s.weight) && s.weight >= 0, InvalidArgument,
                   "chunk scorer weights must be finite and >= 0");
}

CompressResult Compressor::compress(std::string_view text, const CompressOptions& opt) const {
  const bool has_rate = opt.rate != 0.0;
  const bool has_target = opt.target_tokens != -1;
  TOKENOPS_CHECK(!(has_rate && has_target), InvalidArgument,
                 "give either rate or target_tokens, not both");
  if (has_rate)
    TOKENOPS_CHECK(std::isfinite(opt.rate) && opt.rate > 0.0 && opt.rate <= 1.0, InvalidArgument,
                   "rate must be in (0, 1] (the fraction of tokens to keep), got ", opt.rate);
  if (has_target)
    TOKENOPS_CHECK(opt.target_tokens > 0, InvalidArgument,
                   "target_tokens must be a positive token count, got ", opt.target_tokens);
  TOKENOPS_CHECK(std::isfinite(opt.chunk_slack) && opt.chunk_slack >= 1.0f, InvalidArgument,
                 "chunk_slack must be >= 1, got ", opt.chunk_slack);
  TOKENOPS_CHECK(std::isfinite(opt.answer_type_weight) && opt.answer_type_weight >= 0.0f,
                 InvalidArgument, "answer_type_weight must be a finite number >= 0 (0 = off), got ",
                 opt.answer_type_weight);

  CompressResult r;
  // empty text: an empty result in every mode ("" is no JSON document, but nothing to compress)
  if (text.empty()) return r;
  std::vector<tokenizer::Rank> ids;
  enc_->encode_ordinary(text, ids);
  const std::size_t total = ids.size();
  r.original_tokens = total;
  std::size_t target;
  if (has_target) target = static_cast<std::size_t>(opt.target_tokens);
  else target = static_cast<std::size_t>(std::llround((has_rate ? opt.rate : 0.5) * total));
  target = std::max<std::size_t>(target, 1);  // (text is not empty: total >= 1)
  r.target_tokens = target;

  SegmentOptions so;
  so.json = opt.json;
  so.protected_spans = opt.protected_spans;
  r.seg = segment(text, so);
  const auto& units = r.seg.units;
  const std::size_t n = units.size(), nc = r.seg.chunks.size();
  r.unit_tokens = unit_token_counts(*enc_, ids, r.seg);
  r.kept.assign(n, 1);
  r.unit_scores.assign(n, 0.0f);
  r.chunk_scores.assign(nc, 0.0f);
  r.duplicate_of.assign(nc, -1);
  if (target >= total) {  // nothing to do: the text comes back unchanged
    r.text = std::string(text);
    r.compressed_tokens = total;
    r.within_tolerance = true;
    return r;
  }

  // ---- scores ----
  ScoreContext ctx{text, r.seg, opt.question, opt.stop ? &opt.stop : nullptr};
  // Asked after each scorer: a long scorer (classifier, embedder) stops part-way on its own, and
  // its partial scores must not go on to the fine stage.
  if (ctx.stopped()) return r;
  std::vector<float> tmp;
  for (const auto& ws : unit_scorers_) {
    if (ws.weight == 0) continue;
    tmp.assign(n, 0.0f);
    ws.scorer->score_units(ctx, tmp);
    if (ctx.stopped()) return r;
    std::vector<float> p = percentiles(tmp);
    for (std::size_t k = 0; k < n; ++k) r.unit_scores[k] += ws.weight * p[k];
  }
  bool question = false;
  for (char c : opt.question) question |= !(c == ' ' || c == '\n' || c == '\t' || c == '\r');
  auto& cpri = r.chunk_scores;
  for (const auto& ws : chunk_scorers_) {
    if (ws.weight == 0 || (!question && ws.scorer->needs_question())) continue;
    tmp.assign(nc, 0.0f);
    ws.scorer->score_chunks(ctx, tmp);
    if (ctx.stopped()) return r;
    float m = 0;
    for (float x : tmp) m = std::max(m, x);
    if (m > 0)
      for (std::size_t c = 0; c < nc; ++c) cpri[c] += ws.weight * tmp[c] / m;
  }
  if (question)
    for (std::size_t c = 0; c < nc; ++c)
      cpri[c] += opt.position_weight * (1.0f - static_cast<float>(c) / static_cast<float>(nc));
  if (question && opt.answer_type_weight > 0) {
    // answer-type prior: "when" -> chunks with a date, "who" -> with a name, "how many" -> with
    // a number (question_answer_type); decided by the question's text alone
    const AnswerType want = question_answer_type(opt.question);
    if (want != kAnswerNone) {
      const std::vector<std::uint8_t> has = chunk_answer_types(text, r.seg, want);
      for (std::size_t c = 0; c < nc; ++c)
        if (has[c]) cpri[c] += opt.answer_type_weight;
    }
  }
  if (opt.dedup) {
    RedundancyOptions ro;
    ro.stop = opt.stop;
    r.duplicate_of = find_duplicate_chunks(text, r.seg, ro);
    if (ctx.stopped()) return r;
    for (std::size_t c = 0; c < nc; ++c)
      if (r.duplicate_of[c] >= 0) cpri[c] = -1.0f;
  }

  // ---- what must survive ----
  auto is_force_token = [&](const Unit& u) {
    if (u.kind == UnitKind::Newline) {
      for (const auto& t : opt.force_tokens)
        if (t == "\n") return true;
      return false;
    }
    std::string_view c = content(text, u);
    for (const auto& t : opt.force_tokens)
      if (t == c) return true;
    return false;
  };
  // hard: kept for what the unit is (protected, structure, a number, code, an entity); a force
  // token that is only a force token ("." "\n") may still go with its sentence or as a repeat.
  std::vector<std::uint8_t> ftok(n, 0), forced(n, 0), must(n, 0), hard(n, 0);
  for (std::size_t k = 0; k < n; ++k) {
    const Unit& u = units[k];
    ftok[k] = is_force_token(u);
    must[k] = (u.flags & (kProtected | kStructure)) != 0;
    // (a code block is kept by force_code, not by the digits somewhere in it: force_code=False
    // must let a long block holding one number be cut)
    hard[k] = must[k] || (opt.force_digits && (u.flags & kHasDigit) && u.kind != UnitKind::Code) ||
              (opt.force_code && (u.kind == UnitKind::Url || u.kind == UnitKind::Code)) ||
              (opt.force_entities && (u.flags & kEntity));
    forced[k] = hard[k] || ftok[k];
  }

  // ---- coarse stage: chunks ----
  std::vector<std::uint64_t> ccost(nc, 0);
  std::vector<std::uint8_t> cmust(nc, 0), cforced(nc, 0), alive(nc, 1);
  for (std::size_t c = 0; c < nc; ++c) {
    const Chunk& ch = r.seg.chunks[c];
    bool only_newline = true;
    for (std::uint32_t k = ch.first; k < ch.last; ++k) {
      ccost[c] += r.unit_tokens[k];
      cmust[c] |= must[k];
      cforced[c] |= hard[k];
      only_newline &= units[k].kind == UnitKind::Newline;
    }
    cmust[c] |= only_newline;
    // a run of blank lines costs what its first unit costs: the rest go as repeats
    if (only_newline && ch.last > ch.first) ccost[c] = r.unit_tokens[ch.first];
  }
  const double coarse_budget = static_cast<double>(target) * opt.chunk_slack;
  if (question) {
    std::vector<std::uint32_t> order(nc);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return cpri[a] > cpri[b]; });
    double used = 0;
    for (std::size_t c = 0; c < nc; ++c) {
      alive[c] = cmust[c];
      if (cmust[c]) used += ccost[c];
    }
    for (std::uint32_t c : order) {
      if (alive[c]) continue;
      if (used + ccost[c] <= coarse_budget) {
        alive[c] = 1;
        used += ccost[c];
      }
    }
  } else if (opt.dedup) {
    double excess = static_cast<double>(total) - coarse_budget;
    for (std::size_t c = nc; c-- > 0 && excess > 0;) {
      // whole duplicates go while that does not undershoot the budget; the fine stage ranks
      // the units of the rest last
      // (a duplicate holding digits, code or URLs stays: forced units are never dropped
      // without a question)
      if (r.duplicate_of[c] >= 0 && !cmust[c] && !cforced[c] && ccost[c] <= excess) {
        alive[c] = 0;
        excess -= ccost[c];
      }
    }
  }

  // ---- fine stage: items (atomic groups or single units) ----
  std::vector<std::uint32_t> item_of(n);
  std::vector<std::uint32_t> group_item(r.seg.n_groups, 0xFFFFFFFFu);
  struct Item {
    float score = -std::numeric_limits<float>::infinity();
    std::uint64_t cost = 0;
    bool forced = false;
    bool alive = false;
    bool dead = false;  // outside the coarse stage's chunks
    std::uint32_t first = 0;
  };
  std::vector<Item> items;
  items.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    const Unit& u = units[k];
    std::uint32_t it;
    if (u.group != kNoGroup && group_item[u.group] != 0xFFFFFFFFu) {
      it = group_item[u.group];
    } else {
      it = static_cast<std::uint32_t>(items.size());
      items.emplace_back();
      items.back().first = static_cast<std::uint32_t>(k);
      if (u.group != kNoGroup) group_item[u.group] = it;
    }
    item_of[k] = it;
    Item& I = items[it];
    const float dup_penalty = r.duplicate_of[u.chunk] >= 0 ? 100.0f : 0.0f;
    const float s = r.unit_scores[k] + opt.chunk_weight * std::max(cpri[u.chunk], 0.0f) - dup_penalty;
    I.score = std::max(I.score, s);
    I.cost += r.unit_tokens[k];
    I.alive |= alive[u.chunk] != 0;
    I.forced |= forced[k] != 0;
    if (must[k]) I.alive = true;
  }
  // Items outside the chunks the coarse stage kept are candidates after every kept-chunk unit
  // (forced or not), so that the budget's boundary is filled from the next-best chunks.
  constexpr float kDeadPenalty = 50.0f;
  for (auto& I : items) {
    if (I.alive) continue;
    I.score -= kDeadPenalty;
    I.forced = false;
    I.alive = true;
    I.dead = true;
  }
  for (std::size_t k = 0; k < n; ++k) {
    const Item& I = items[item_of[k]];
    const float dup_penalty = r.duplicate_of[units[k].chunk] >= 0 ? 100.0f : 0.0f;
    r.unit_scores[k] = I.forced ? kForced
                                : r.unit_scores[k] +
                                      opt.chunk_weight * std::max(cpri[units[k].chunk], 0.0f) -
                                      dup_penalty - (I.dead ? kDeadPenalty : 0.0f);
  }

  std::vector<std::uint8_t> sel(items.size(), 0);
  std::vector<std::uint8_t> unit_sel(n, 0);  // single units of a group split by the last fill
  std::vector<std::uint32_t> cand;
  std::uint64_t est = 0;
  for (std::uint32_t i = 0; i < items.size(); ++i) {
    if (items[i].forced) {
      sel[i] = 1;
      est += items[i].cost;
    } else {
      cand.push_back(i);
    }
  }
  std::stable_sort(cand.begin(), cand.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return items[a].score > items[b].score; });

  // a force token that is punctuation ("." "?"; not "\n", not a word the caller forces): it goes
  // with its sentence. A forced word is never dropped with its sentence (it used to be, like "."
  // is: force_tokens=["beta", "zeta", "kappa"] at 3 tokens gave "kappa lambda").
  auto soft = [&](std::size_t k) {
    return opt.drop_consecutive && ftok[k] && units[k].kind == UnitKind::Punct && !hard[k];
  };
  bool no_soft = false;  // the last resort below: no soft force token at all
  auto materialise = [&]() {
    for (std::size_t k = 0; k < n; ++k) r.kept[k] = (sel[item_of[k]] | unit_sel[k]) && !(no_soft && soft(k));
    if (!opt.drop_consecutive) return;
    // force tokens whose sentence lost every other unit go with it
    for (std::size_t c = 0; c < nc; ++c) {
      const Chunk& ch = r.seg.chunks[c];
      bool other = false, any_ftok = false;
      for (std::uint32_t k = ch.first; k < ch.last; ++k) {
        if (!r.kept[k]) continue;
        if (soft(k)) any_ftok = true;
        else other = true;
      }
      if (any_ftok && !other)
        for (std::uint32_t k = ch.first; k < ch.last; ++k)
          if (!hard[k]) r.kept[k] = 0;
    }
    // consecutive duplicates of force tokens
    std::int64_t prev = -1;
    for (std::size_t k = 0; k < n; ++k) {
      if (!r.kept[k]) continue;
      if (prev >= 0 && ftok[k] && ftok[prev] && !hard[k]) {
        const Unit& a = units[prev];
        const Unit& b = units[k];
        const bool same = (a.kind == UnitKind::Newline && b.kind == UnitKind::Newline) ||
                          (a.kind != UnitKind::Newline && content(text, a) == content(text, b));
        if (same) {
          r.kept[k] = 0;
          continue;
        }
      }
      prev = static_cast<std::int64_t>(k);
    }
  };

  // The selection is a prefix of the candidates in score order. Per-unit counts miss merges
  // across gaps (and dropped duplicates of force tokens), so the prefix length is found by
  // secant steps on measured counts: each round assembles the text, counts it with the target
  // encoding and moves the prefix by (target - achieved) / (achieved / estimated).
  std::vector<double> cum(cand.size() + 1, 0.0);
  for (std::size_t i = 0; i < cand.size(); ++i) cum[i + 1] = cum[i] + items[cand[i]].cost;
  auto prefix_for = [&](double est_budget) {  // largest k with cum[k] <= est_budget
    auto it = std::upper_bound(cum.begin(), cum.end(), est_budget);
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, (it - cum.begin()) - 1));
  };
  auto set_prefix = [&](std::size_t k) {
    for (std::size_t i = 0; i < cand.size(); ++i) sel[cand[i]] = i < k;
  };
  const std::size_t tol = budget_tolerance(target);
  std::size_t achieved = 0;
  double measured_scale = 1.0;  // of the last measure()
  auto measure = [&]() {
    materialise();
    r.text = assemble(text, r.seg, r.kept);
    achieved = enc_->count_ordinary(r.text);
    std::uint64_t est_kept = 0;
    for (std::size_t k = 0; k < n; ++k)
      if (r.kept[k]) est_kept += r.unit_tokens[k];
    measured_scale = est_kept > 0 ? static_cast<double>(achieved) / static_cast<double>(est_kept) : 1.0;
    return measured_scale;
  };
  std::size_t k = prefix_for(static_cast<double>(target) - static_cast<double>(est));
  set_prefix(k);
  for (int round = 0; round < 10; ++round) {
    const double scale = std::clamp(measure(), 0.2, 5.0);
    if (achieved <= target && target - achieved <= tol) break;
    const double delta = (static_cast<double>(target) - static_cast<double>(achieved) - tol / 2.0) / scale;
    std::size_t next = prefix_for(cum[k] + delta);
    if (next == k) {
      if (achieved > target) {
        if (k == 0) break;
        next = k - 1;
      } else {
        if (k == cand.size()) break;
        next = k + 1;
      }
    }
    k = next;
    set_prefix(k);
  }
  // Largest m < m0 whose selection (set(m)) counts at most the target, found by galloping down
  // from m0 and bisecting, so O(log n) measurements instead of one per step (stepping down one
  // candidate at a time measured the whole text each time: quadratic on a JSON array of 30,000
  // strings, where the forced structure alone sits near the target). Ends with set(m) measured.
  auto shrink_to_fit = [&](std::size_t m0, auto&& set) {
    std::size_t bad = m0, step = 1, good = 0;
    bool found = false;
    while (bad > 0) {
      const std::size_t m = bad > step ? bad - step : 0;
      set(m);
      measure();
      if (achieved <= target) {
        good = m;
        found = true;
        break;
      }
      bad = m;
      step *= 2;
    }
    if (!found) return std::size_t{0};  // even m = 0 is over: forced units alone exceed it
    while (bad - good > 1) {
      const std::size_t mid = good + (bad - good) / 2;
      set(mid);
      measure();
      if (achieved <= target) good = mid;
      else bad = mid;
    }
    set(good);
    measure();
    return good;
  };
  // never end above the target while something can still go
  measure();
  if (achieved > target && k > 0) k = shrink_to_fit(k, set_prefix);
  // A large item at the boundary can leave room: fill it with smaller ones that fit, and with the
  // best units of an (unforced) group that does not fit whole (a Title-Case run of 96 words was one
  // group, larger than the budget: nothing came back).
  // Nothing kept is never "within tolerance" while something fits (a budget under the tolerance
  // of 5 tokens left "" behind).
  // A fill's estimate counts the force tokens ("." "?") that a sentence's first kept unit brings
  // back; an entry that still measures over is left out and the fill goes on with the rest in a
  // further pass (the first fill kept one item that "fit" by estimate, measured over with its
  // ".", and shrinking then dropped everything: target 6 gave "" while 5 and 7 gave text).
  // soft force tokens per chunk: kept only while the chunk keeps some other unit (materialise)
  std::vector<std::uint64_t> chunk_soft(nc, 0);
  for (std::size_t k = 0; k < n; ++k)  // (outside the coarse stage's chunks nothing is forced)
    if (soft(k) && items[item_of[k]].forced) chunk_soft[units[k].chunk] += r.unit_tokens[k];
  std::vector<std::uint32_t> item_start, item_units;
  std::vector<std::uint8_t> rejected_item, rejected_unit, chunk_live;
  std::vector<std::int64_t> extra;  // entries: an item (>= 0) or a single unit (-1 - unit)
  std::vector<std::uint32_t> us, new_chunks;
  // us = the units of item it, best score first (the fill and the last resort try them alone)
  auto units_by_score = [&](std::uint32_t it) {
    us.assign(item_units.begin() + item_start[it], item_units.begin() + item_start[it + 1]);
    std::stable_sort(us.begin(), us.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return r.unit_scores[a] > r.unit_scores[b]; });
  };
  auto set_extra = [&](std::size_t m) {
    for (std::size_t i = 0; i < extra.size(); ++i) {
      if (extra[i] >= 0) sel[static_cast<std::size_t>(extra[i])] = i < m;
      else unit_sel[static_cast<std::size_t>(-1 - extra[i])] = i < m;
    }
  };
  {
    // the units of each item (CSR)
    item_start.assign(items.size() + 1, 0);
    item_units.resize(n);
    for (std::size_t k = 0; k < n; ++k) ++item_start[item_of[k] + 1];
    for (std::size_t i = 0; i < items.size(); ++i) item_start[i + 1] += item_start[i];
    std::vector<std::uint32_t> fillp(item_start.begin(), item_start.end() - 1);
    for (std::size_t k = 0; k < n; ++k) item_units[fillp[item_of[k]]++] = static_cast<std::uint32_t>(k);
    rejected_item.assign(items.size(), 0);
    rejected_unit.assign(n, 0);
  }
  // (the selection is measured here: each step above and each pass ends with a measure())
  // Up to kExactFill tokens the fill goes on while any room is left (each step re-counts the
  // output, which is cheap at that size), so that a larger target never keeps less; above it,
  // it stops within the tolerance, as re-counting a long output 20 times doubled the time of a
  // 50k-token prompt.
  constexpr std::size_t kExactFill = 2048;
  const bool exact_fill = target <= kExactFill;
  // The fill (passes, then the top-up): run after the prefix above, and again when the
  // punctuation riders had to go (no_soft), which frees room for content units.
  auto fill = [&]() {
    // tokens measured per estimated token: for the first pass the kept text's, then what the
    // previous pass's additions measured (units that merge with kept neighbours cost less than
    // the kept text's average: CJK characters between forced numbers measured 0.2-0.3 of their
    // estimate against an average of 1.8, so each pass filled a fifth of the room)
    double scale = std::clamp(measured_scale, 0.2, 5.0);
    for (int pass = 0; pass < 4 && (target > achieved + (exact_fill ? 0 : tol) || achieved == 0); ++pass) {
      chunk_live.assign(nc, 0);
      for (std::size_t k = 0; k < n; ++k)
        if (r.kept[k] && !soft(k)) chunk_live[units[k].chunk] = 1;
      // the soft force tokens of the chunks that units [b, e) of item_units would bring back
      auto comeback = [&](const std::uint32_t* b, const std::uint32_t* e) {
        std::uint64_t c = 0;
        new_chunks.clear();
        for (const std::uint32_t* p = b; p != e; ++p) {
          const std::uint32_t ch = units[*p].chunk;
          if (chunk_live[ch] || std::find(new_chunks.begin(), new_chunks.end(), ch) != new_chunks.end())
            continue;
          new_chunks.push_back(ch);
          c += no_soft ? 0 : chunk_soft[ch];
        }
        return c;
      };
      auto make_live = [&]() {
        for (std::uint32_t ch : new_chunks) chunk_live[ch] = 1;
      };
      const double slack = pass == 0 && achieved > 0 ? tol / 2.0 : 0.0;
      const double room = (static_cast<double>(target) - static_cast<double>(achieved) - slack) / scale;
      double added = 0;
      extra.clear();
      for (std::size_t i = 0; i < cand.size() && added < room; ++i) {
        const std::uint32_t it = cand[i];
        if (sel[it] || rejected_item[it]) continue;
        const std::uint32_t* b = item_units.data() + item_start[it];
        const std::uint32_t* e = item_units.data() + item_start[it + 1];
        const double cost = static_cast<double>(items[it].cost + comeback(b, e));
        if (added + cost <= room) {
          sel[it] = 1;
          make_live();
          extra.push_back(it);
          added += cost;
          continue;
        }
        if (e - b < 2) continue;
        units_by_score(it);
        for (std::uint32_t u : us) {
          if (unit_sel[u] || rejected_unit[u]) continue;
          const double c = static_cast<double>(r.unit_tokens[u] + comeback(&u, &u + 1));
          if (added + c > room) continue;
          unit_sel[u] = 1;
          make_live();
          extra.push_back(-1 - static_cast<std::int64_t>(u));
          added += c;
        }
      }
      if (extra.empty()) {
        if (slack > 0) continue;  // nothing fits the room less the slack: try the whole room
        break;
      }
      const std::size_t before = achieved;
      measure();
      if (achieved > before && added > 0)
        scale = std::clamp(static_cast<double>(achieved - before) / added, 0.2, 5.0);
      if (achieved > target) {
        // keep the longest prefix that fits; the entry that tipped it over is out, the ones after
        // it are candidates again in the next pass
        const std::size_t good = shrink_to_fit(extra.size(), set_extra);
        if (extra[good] >= 0) rejected_item[static_cast<std::size_t>(extra[good])] = 1;
        else rejected_unit[static_cast<std::size_t>(-1 - extra[good])] = 1;
      }
    }
    // Top-up (up to kExactFill tokens): while room is left, the best single unit whose estimate
    // fits it and that measures within the target is added, up to kTopUp measurements. The passes
    // above stop at the first entry that tips the count over, so a larger target could come back
    // shorter than a smaller one ("8 9." at 6 tokens, "8 unseen 9." at 5): 95 of 6,510 runs on real
    // passages before, 0 after (scripts/compression_monotone.py).
    if (exact_fill && achieved < target && achieved > 0) {
      constexpr int kTopUp = 16;
      std::vector<std::uint8_t> live(nc, 0), saved_kept;
      std::string saved_text;
      for (int tries = 0; tries < kTopUp && achieved < target;) {
        std::fill(live.begin(), live.end(), 0);
        for (std::size_t k = 0; k < n; ++k)
          if (r.kept[k] && !soft(k)) live[units[k].chunk] = 1;
        const std::uint64_t room = target - achieved;
        std::int64_t pick = -1;
        for (std::size_t i = 0; i < cand.size() && pick < 0; ++i) {
          const std::uint32_t it = cand[i];
          if (sel[it]) continue;
          units_by_score(it);
          for (std::uint32_t u : us) {
            if (unit_sel[u] || rejected_unit[u] || r.kept[u]) continue;
            const std::uint64_t c =
                r.unit_tokens[u] + (live[units[u].chunk] || no_soft ? 0 : chunk_soft[units[u].chunk]);
            if (c > room) continue;
            pick = u;
            break;
          }
        }
        if (pick < 0) break;
        ++tries;
        const std::size_t before = achieved;
        const double before_scale = measured_scale;
        saved_kept = r.kept;
        saved_text = r.text;
        unit_sel[static_cast<std::size_t>(pick)] = 1;
        measure();
        if (achieved > target || achieved < before) {  // a merge can also shorten: no gain
          unit_sel[static_cast<std::size_t>(pick)] = 0;
          rejected_unit[static_cast<std::size_t>(pick)] = 1;
          r.kept.swap(saved_kept);
          r.text.swap(saved_text);
          achieved = before;
          measured_scale = before_scale;
        }
      }
    }
  };
  fill();
  // Last resort, when nothing but force tokens is kept while the budget has room: one unit alone,
  // the best that measures within the target, if need be without its sentence's "." or "?"
  // (target_tokens=1 on "Please summarise the meeting." gave "": "meeting." is 2 tokens).
  if (achieved < target) {
    bool content_kept = false;
    for (std::size_t k = 0; k < n && !content_kept; ++k)
      content_kept = r.kept[k] && !(ftok[k] && units[k].kind == UnitKind::Punct) &&
                     units[k].kind != UnitKind::Newline;
    constexpr int kMaxTries = 32;
    int tries = 0;
    bool changed = false;
    for (std::size_t i = 0; i < cand.size() && !content_kept && tries < kMaxTries; ++i) {
      const std::uint32_t it = cand[i];
      if (sel[it]) continue;
      units_by_score(it);
      for (std::uint32_t u : us) {
        if (unit_sel[u] || ftok[u] || units[u].kind == UnitKind::Newline || r.unit_tokens[u] > target)
          continue;
        if (tries++ == kMaxTries) break;
        changed = true;
        unit_sel[u] = 1;
        measure();
        if (achieved > target) {
          no_soft = true;
          measure();
        }
        if (achieved <= target) {
          content_kept = true;
          changed = false;
          break;
        }
        unit_sel[u] = 0;
        no_soft = false;
      }
    }
    if (changed) measure();  // back to the selection before the tries
  }
  r.compressed_tokens = achieved;
  const std::size_t diff = achieved > target ? achieved - target : target - achieved;
  r.within_tolerance = diff <= tol;
  if (achieved > target) {
    bool any_free = false;
    for (std::size_t k = 0; k < n; ++k) any_free |= r.kept[k] && !items[item_of[k]].forced;
    if (!any_free && !no_soft) {
      // the forced units alone are over: the punctuation force tokens that ride with the kept
      // sentences go first (forced words, numbers, code and protected spans stay)
      bool any_soft = false;
      for (std::size_t k = 0; k < n && !any_soft; ++k) any_soft = r.kept[k] && soft(k);
      if (any_soft) {
        no_soft = true;
        measure();
        // the room the riders leave goes to content units: a target between the forced units
        // without and with their riders kept the bare forced units, up to 10 tokens short
        if (achieved < target) fill();
        r.compressed_tokens = achieved;
        const std::size_t d2 = achieved > target ? achieved - target : target - achieved;
        r.within_tolerance = d2 <= tol;
      }
    }
    r.forced_over_budget = !any_free && achieved > target;
  }
  return r;
}

std::vector<CompressResult> Compressor::compress_batch(const std::vector<std::string_view>& texts,
                                                       const std::vector<std::string_view>& questions,
                                                       const CompressOptions& options,
                                                       int num_threads) const {
  TOKENOPS_CHECK(questions.empty() || questions.size() == texts.size(), InvalidArgument,
                 "questions must be empty or one per text: got ", questions.size(), " for ",
                 texts.size(), " texts");
  std::vector<CompressResult> out(texts.size());
  text::parallel_for(texts.size(), text::resolve_threads(num_threads, texts.size()),
                     [&](std::size_t i) {
                       CompressOptions o = options;
                       if (!questions.empty()) o.question = std::string(questions[i]);
                       out[i] = compress(texts[i], o);
                     });
  return out;
}

}  // namespace tokenops::compress
