#include "tokenops/compress/relevance.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace tokenops::compress {

namespace {

constexpr std::string_view kStopwords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours", "'s", "s", "t", "does", "did", "many", "much", "name",
    "tell", "according", "whose", "get", "got", "said", "also", "one"};

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

template <std::size_t N>
bool one_of(std::string_view w, const std::string_view (&list)[N]) {
  for (auto s : list)
    if (s == w) return true;
  return false;
}

constexpr std::string_view kMonths[] = {"january", "february", "march",     "april",
                                        "may",     "june",     "july",      "august",
                                        "september", "october", "november", "december"};
// "one" is left out: "one of the ..." is everywhere
constexpr std::string_view kNumberWords[] = {
    "two",    "three",  "four",   "five",  "six",     "seven",    "eight",   "nine",  "ten",
    "eleven", "twelve", "twenty", "thirty", "forty",  "fifty",    "hundred", "thousand",
    "million", "billion", "dozen", "half"};
constexpr std::string_view kDateNouns[] = {"year", "date", "day", "month", "century", "decade", "time"};
constexpr std::string_view kNumberNouns[] = {"percentage", "percent", "number", "amount",
                                             "price",      "cost",    "age",    "population"};
constexpr std::string_view kHowNumber[] = {"many", "much",  "long", "old",  "far",
                                           "big",  "large", "often", "tall", "high"};
constexpr std::string_view kWhWords[] = {"what", "which", "when",  "who", "whom",
                                         "whose", "where", "why",  "how"};

// 1000-2099, optionally with a plural "s" ("1990s")
bool is_year(std::string_view w) {
  if (w.size() == 5 && w.back() == 's') w.remove_suffix(1);
  if (w.size() != 4) return false;
  for (char c : w)
    if (c < '0' || c > '9') return false;
  return (w[0] == '1') || (w[0] == '2' && w[1] == '0');
}

}  // namespace

bool is_stopword(std::string_view w) noexcept {
  for (auto s : kStopwords)
    if (s == w) return true;
  return false;
}

std::string light_stem(std::string_view w) {
  std::string s(w);
  if (ends_with(s, "'s")) s.resize(s.size() - 2);
  for (unsigned char c : s)
    if (c >= 0x80) return s;
  const std::size_t n = s.size();
  if (n > 4 && ends_with(s, "ies")) return s.substr(0, n - 3) + "y";
  if (n > 4 && (ends_with(s, "sses") || ends_with(s, "xes") || ends_with(s, "ches") ||
                ends_with(s, "shes")))
    return s.substr(0, n - 2);
  if (n > 3 && s.back() == 's' && !ends_with(s, "ss") && !ends_with(s, "us") && !ends_with(s, "is"))
    return s.substr(0, n - 1);
  if (n > 5 && ends_with(s, "ing")) return s.substr(0, n - 3);
  if (n > 4 && ends_with(s, "ed") && !ends_with(s, "eed")) return s.substr(0, n - 2);
  return s;
}

AnswerType question_answer_type(std::string_view question) {
  const Segmentation seg = segment(question);
  std::vector<std::string> words;
  std::string f;
  for (const Unit& u : seg.units) {
    if (u.kind != UnitKind::Word && u.kind != UnitKind::Number) continue;
    fold_case(question.substr(u.start, u.end - u.start), f);
    words.push_back(f);
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (!one_of(w, kWhWords)) continue;
    std::string_view next = i + 1 < words.size() ? std::string_view(words[i + 1]) : std::string_view();
    if (w == "when") return kAnswerDate;
    if (w == "who" || w == "whom" || w == "whose") return kAnswerPerson;
    if (w == "where") return kAnswerPlace;
    if (w == "how") return one_of(next, kHowNumber) ? kAnswerNumber : kAnswerNone;
    if (w == "what" || w == "which") {
      std::string_view sing = next;
      while (!sing.empty() && sing.back() == 's') sing.remove_suffix(1);  // "years", "days"
      if (one_of(next, kDateNouns) || one_of(sing, kDateNouns)) return kAnswerDate;
      if (one_of(next, kNumberNouns)) return kAnswerNumber;
    }
    return kAnswerNone;  // the first wh-word decides ("what happens when ...": none)
  }
  return kAnswerNone;
}

std::vector<std::uint8_t> chunk_answer_types(std::string_view text, const Segmentation& seg,
                                             std::uint8_t want) {
  const auto& u = seg.units;
  std::vector<std::uint8_t> out(seg.chunks.size(), 0);
  const bool dates = want & kAnswerDate, numbers = want & kAnswerNumber,
             names = want & (kAnswerPerson | kAnswerPlace);
  if (!dates && !numbers && !names) return out;
  std::string f;
  for (std::size_t c = 0; c < seg.chunks.size(); ++c) {
    const Chunk& ch = seg.chunks[c];
    std::uint8_t t = 0;
    std::uint32_t run = 0;  // consecutive capitalised entity words
    for (std::uint32_t k = ch.first; k < ch.last && (t & want) != want; ++k) {
      const std::string_view w = text.substr(u[k].start, u[k].end - u[k].start);
      const bool digit = (u[k].flags & kHasDigit) != 0;
      if (u[k].kind == UnitKind::Number || digit) {
        t |= kAnswerNumber;
        if (dates && is_year(w)) t |= kAnswerDate;
      }
      // month and number words are at most 9 bytes ("september")
      if (u[k].kind == UnitKind::Word && w.size() <= 9 && (dates || numbers)) {
        fold_case(w, f);
        if (dates && (u[k].flags & kCapital) && one_of(f, kMonths)) {
          // a month next to a number: "14 November", "November 14", "November of 2001"
          for (std::uint32_t m : {k - 1, k + 1, k + 2})
            if (m >= ch.first && m < ch.last && m != k && u[m].kind == UnitKind::Number)
              t |= kAnswerDate;
        }
        if (numbers && one_of(f, kNumberWords)) t |= kAnswerNumber;
      }
      if (u[k].kind == UnitKind::Word && (u[k].flags & kEntity) && (u[k].flags & kCapital) && !digit) {
        if (++run >= 2) t |= kAnswerPerson | kAnswerPlace;
      } else {
        run = 0;
      }
    }
    out[c] = t & want;
  }
  return out;
}

void unit_terms(std::string_view text, const Segmentation& seg, std::uint32_t first,
                std::uint32_t last, bool drop_stopwords, std::vector<std::string>& out) {
  std::string f;
  for (std::uint32_t k = first; k < last; ++k) {
    const Unit& u = seg.units[k];
    if (u.kind == UnitKind::Url) {
      // a path, e-mail address or bare domain with a path is one unit, but a question names its
      // parts ("main.cpp" in src/main.cpp, "python" in docs.python.org/3/library): its ASCII
      // letter-digit runs are terms too. Web URLs (a scheme, "www.") stay term-less as they
      // always were: indexing them too lost an LEval natural_question item at 3x (Wikipedia
      // pages end in reference lists full of URLs whose words match questions).
      const std::string_view t = text.substr(u.start, u.end - u.start);
      if (t.find("://") != std::string_view::npos || t.rfind("www.", 0) == 0 || t.rfind("WWW.", 0) == 0 ||
          t.rfind("mailto:", 0) == 0)
        continue;
      for (std::size_t i = 0; i < t.size();) {
        auto alnum = [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        };
        if (!alnum(t[i])) {
          ++i;
          continue;
        }
        std::size_t j = i;
        while (j < t.size() && alnum(t[j])) ++j;
        fold_case(t.substr(i, j - i), f);
        i = j;
        if (f == "http" || f == "https" || f == "www" || (drop_stopwords && is_stopword(f))) continue;
        out.push_back(light_stem(f));
      }
      continue;
    }
    if (u.kind != UnitKind::Word && u.kind != UnitKind::Number && u.kind != UnitKind::Char)
      continue;
    fold_case(text.substr(u.start, u.end - u.start), f);
    if (drop_stopwords && is_stopword(f)) continue;
    out.push_back(light_stem(f));
  }
}

std::vector<std::string> text_terms(std::string_view text, bool drop_stopwords) {
  Segmentation seg = segment(text);
  std::vector<std::string> out;
  unit_terms(text, seg, 0, static_cast<std::uint32_t>(seg.units.size()), drop_stopwords, out);
  return out;
}

std::vector<float> bm25(const std::vector<std::string>& query,
                        const std::vector<std::vector<std::string>>& docs, float k1, float b) {
  std::vector<float> scores(docs.size(), 0.0f);
  if (docs.empty() || query.empty()) return scores;
  std::unordered_map<std::string_view, std::uint32_t> qid;
  for (const auto& q : query) qid.try_emplace(q, static_cast<std::uint32_t>(qid.size()));
  const std::size_t nq = qid.size();
  std::vector<std::uint32_t> df(nq, 0), tf(nq, 0);
  std::vector<std::uint32_t> seen(nq, 0xFFFFFFFFu);
  double total_len = 0;
  for (std::size_t d = 0; d < docs.size(); ++d) {
    total_len += docs[d].size();
    for (const auto& t : docs[d]) {
      auto it = qid.find(t);
      if (it != qid.end() && seen[it->second] != d) {
        seen[it->second] = static_cast<std::uint32_t>(d);
        ++df[it->second];
      }
    }
  }
  const double avgdl = std::max(total_len / docs.size(), 1.0);
  const double n = static_cast<double>(docs.size());
  std::vector<double> idf(nq);
  for (std::size_t q = 0; q < nq; ++q) idf[q] = std::log((n - df[q] + 0.5) / (df[q] + 0.5) + 1.0);
  // query term multiplicity
  std::vector<std::uint32_t> qtf(nq, 0);
  for (const auto& q : query) ++qtf[qid[q]];
  for (std::size_t d = 0; d < docs.size(); ++d) {
    std::fill(tf.begin(), tf.end(), 0u);
    bool any = false;
    for (const auto& t : docs[d]) {
      auto it = qid.find(t);
      if (it != qid.end()) {
        ++tf[it->second];
        any = true;
      }
    }
    if (!any) continue;
    const double norm = k1 * (1.0 - b + b * docs[d].size() / avgdl);
    double s = 0;
    for (std::size_t q = 0; q < nq; ++q)
      if (tf[q]) s += qtf[q] * idf[q] * tf[q] * (k1 + 1.0) / (tf[q] + norm);
    scores[d] = static_cast<float>(s);
  }
  return scores;
}

void Bm25Relevance::score_chunks(const ScoreContext& ctx, std::vector<float>& out) const {
  const auto& seg = ctx.seg;
  const std::size_t nc = seg.chunks.size();
  out.assign(nc, 0.0f);
  std::vector<std::string> query = text_terms(ctx.question, true);
  if (query.empty()) query = text_terms(ctx.question, false);
  if (query.empty() || nc == 0) return;
  // sentences, and the lines they sit in (a newline unit separates lines)
  std::vector<std::vector<std::string>> sent(nc);
  std::vector<std::uint32_t> line_of(nc, 0);
  std::vector<std::vector<std::string>> lines(1);
  for (std::size_t c = 0; c < nc; ++c) {
    const Chunk& ch = seg.chunks[c];
    const bool newline = ch.last - ch.first == 1 && seg.units[ch.first].kind == UnitKind::Newline;
    if (newline && !lines.back().empty()) lines.emplace_back();
    unit_terms(ctx.text, seg, ch.first, ch.last, false, sent[c]);
    line_of[c] = static_cast<std::uint32_t>(lines.size() - 1);
    lines.back().insert(lines.back().end(), sent[c].begin(), sent[c].end());
  }
  std::vector<float> s = bm25(query, sent);
  // A line far longer than a paragraph (a text whose layout is not carried by newlines, e.g. a
  // scraped page on one line) is scored as overlapping windows of about `window_terms` terms
  // (whole sentences, stride half a window), as in fixed-window passage retrieval; a sentence
  // takes the best window holding it.
  const std::size_t W = opt_.window_terms;
  std::vector<float> p(nc, 0.0f);
  if (W == 0) {
    const std::vector<float> pl = bm25(query, lines);
    for (std::size_t c = 0; c < nc; ++c) p[c] = pl[line_of[c]];
  } else {
    std::vector<std::vector<std::string>> pass;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pass_span;  // chunk range [first, last)
    for (std::size_t c0 = 0; c0 < nc;) {
      std::size_t c1 = c0;
      while (c1 < nc && line_of[c1] == line_of[c0]) ++c1;  // chunks of one line: [c0, c1)
      const std::size_t len = lines[line_of[c0]].size();
      if (len <= 2 * W) {
        pass.push_back(lines[line_of[c0]]);
        pass_span.emplace_back(static_cast<std::uint32_t>(c0), static_cast<std::uint32_t>(c1));
      } else {
        for (std::size_t a = c0; a < c1;) {
          std::vector<std::string> w;
          std::size_t b = a, next = c1;
          while (b < c1 && w.size() < W) {
            w.insert(w.end(), sent[b].begin(), sent[b].end());
            ++b;
            if (next == c1 && w.size() >= W / 2 && b < c1) next = b;
          }
          pass.push_back(std::move(w));
          pass_span.emplace_back(static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b));
          if (b >= c1) break;
          a = std::max(next, a + 1);
        }
      }
      c0 = c1;
    }
    const std::vector<float> pw = bm25(query, pass);
    for (std::size_t i = 0; i < pass.size(); ++i)
      for (std::uint32_t c = pass_span[i].first; c < pass_span[i].second; ++c) p[c] = std::max(p[c], pw[i]);
  }
  auto normalise = [](std::vector<float>& v) {
    float m = 0;
    for (float x : v) m = std::max(m, x);
    if (m > 0)
      for (float& x : v) x /= m;
  };
  normalise(s);
  normalise(p);
  for (std::size_t c = 0; c < nc; ++c) {
    float nb = 0;
    if (c > 0) nb = std::max(nb, s[c - 1]);
    if (c + 1 < nc) nb = std::max(nb, s[c + 1]);
    out[c] = opt_.sentence_weight * std::max(s[c], opt_.neighbour_weight * nb) +
             opt_.paragraph_weight * p[c];
  }
}

}  // namespace tokenops::compress
