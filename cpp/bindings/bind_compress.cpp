// Binding of tokenops::compress: scorer models, the Compressor and pack(). Inputs are converted
// with the GIL held, the work runs with it released.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "tokenops/compress/compressor.hpp"
#include "tokenops/compress/classifier.hpp"
#include "tokenops/compress/embedding.hpp"
#include "tokenops/compress/info.hpp"
#include "tokenops/compress/pack.hpp"
#include "tokenops/compress/relevance.hpp"
#include "tokenops/compress/segment.hpp"
#include "tokenops/io/ngram_file.hpp"
#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::bindings {

using compress::CompressOptions;
using compress::CompressResult;
using compress::Compressor;
using EncodingPtr = std::shared_ptr<tokenizer::Encoding>;
using FreqPtr = std::shared_ptr<compress::FrequencyTable>;
using BigramPtr = std::shared_ptr<compress::BigramModel>;
using CompressorPtr = std::shared_ptr<Compressor>;
using ClassifierPtr = std::shared_ptr<compress::TokenClassifier>;

namespace {

struct Options {
  CompressOptions opt;
  std::vector<std::string> protect;  // substrings protected wherever they occur
};

Options make_options(double rate, std::int64_t target_tokens, const py::handle& force_tokens,
                     bool force_digits, bool force_entities, bool force_code, bool drop_consecutive,
                     bool json, const py::handle& protect, const py::handle& protect_spans,
                     float chunk_slack, float chunk_weight, float position_weight,
                     float answer_type_weight, bool dedup) {
  Options o;
  o.opt.rate = rate;
  o.opt.target_tokens = target_tokens;
  o.opt.force_tokens.clear();
  for (const auto& t : utf8_list(force_tokens, "force_tokens")) {
    // A force token is matched against whole units (a word, a number, a punctuation mark, "\n"):
    // one that is several units (or none) could never match, which would be silent.
    const std::string_view v = t.view();
    if (v != "\n") {
      const compress::Segmentation seg = compress::segment(v);
      if (seg.units.size() != 1 || seg.units[0].start != 0 || seg.units[0].end != v.size() ||
          v.back() == ' ' || v.back() == '\t' ||
          seg.units[0].kind == compress::UnitKind::Newline)
        throw py::value_error(
            "force token " + py::repr(py::str(v.data(), v.size())).cast<std::string>() +
            " is not one word, number or punctuation mark (or \"\\n\"), so it could never match "
            "a unit of the text; use protect=[...] to keep a phrase");
    }
    o.opt.force_tokens.emplace_back(v);
  }
  o.opt.force_digits = force_digits;
  o.opt.force_entities = force_entities;
  o.opt.force_code = force_code;
  o.opt.drop_consecutive = drop_consecutive;
  o.opt.json = json;
  for (const auto& t : utf8_list(protect, "protect")) {
    if (t.view().empty()) throw py::value_error("protect strings must not be empty");
    o.protect.emplace_back(t.view());
  }
  for (py::handle h : protect_spans) {
    auto pair = h.cast<std::pair<std::int64_t, std::int64_t>>();
    if (pair.first < 0 || pair.second < pair.first || pair.second > 0xFFFFFFFFll)
      throw py::value_error("protect_spans: bad byte range (" + std::to_string(pair.first) + ", " +
                            std::to_string(pair.second) + ")");
    o.opt.protected_spans.emplace_back(static_cast<std::uint32_t>(pair.first),
                                       static_cast<std::uint32_t>(pair.second));
  }
  o.opt.chunk_slack = chunk_slack;
  o.opt.chunk_weight = chunk_weight;
  o.opt.position_weight = position_weight;
  o.opt.answer_type_weight = answer_type_weight;
  o.opt.dedup = dedup;
  return o;
}

// Protected substrings -> byte spans of every occurrence in `text`.
CompressOptions resolve(const Options& o, std::string_view text) {
  CompressOptions opt = o.opt;
  for (const auto& p : o.protect) {
    for (std::size_t pos = text.find(p); pos != std::string_view::npos; pos = text.find(p, pos + p.size()))
      opt.protected_spans.emplace_back(static_cast<std::uint32_t>(pos),
                                       static_cast<std::uint32_t>(pos + p.size()));
  }
  return opt;
}

template <class T>
py::array_t<T> column(const std::vector<compress::Unit>& units, T compress::Unit::*field) {
  std::vector<T> v(units.size());
  for (std::size_t i = 0; i < units.size(); ++i) v[i] = units[i].*field;
  return to_numpy(std::move(v));
}

py::dict to_dict(CompressResult&& r) {
  py::dict d;
  d["text"] = py::str(r.text.data(), r.text.size());
  d["original_tokens"] = r.original_tokens;
  d["compressed_tokens"] = r.compressed_tokens;
  d["target_tokens"] = r.target_tokens;
  d["within_tolerance"] = r.within_tolerance;
  d["forced_over_budget"] = r.forced_over_budget;
  const auto& u = r.seg.units;
  d["unit_ws"] = column(u, &compress::Unit::ws);
  d["unit_start"] = column(u, &compress::Unit::start);
  d["unit_end"] = column(u, &compress::Unit::end);
  d["unit_chunk"] = column(u, &compress::Unit::chunk);
  d["unit_group"] = column(u, &compress::Unit::group);
  d["unit_flags"] = column(u, &compress::Unit::flags);
  std::vector<std::uint8_t> kinds(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) kinds[i] = static_cast<std::uint8_t>(u[i].kind);
  d["unit_kind"] = to_numpy(std::move(kinds));
  d["unit_tokens"] = to_numpy(std::move(r.unit_tokens));
  d["unit_scores"] = to_numpy(std::move(r.unit_scores));
  d["kept"] = to_numpy(std::move(r.kept));
  d["chunk_scores"] = to_numpy(std::move(r.chunk_scores));
  d["duplicate_of"] = to_numpy(std::move(r.duplicate_of));
  return d;
}

#define TOKENOPS_COMPRESS_ARGS                                                                 \
  py::arg("rate") = 0.0, py::arg("target_tokens") = -1, py::arg("force_tokens"),               \
      py::arg("force_digits") = true, py::arg("force_entities") = false,                       \
      py::arg("force_code") = true, py::arg("drop_consecutive") = true, py::arg("json") = false, \
      py::arg("protect"), py::arg("protect_spans"), py::arg("chunk_slack") = 1.0f,            \
      py::arg("chunk_weight") = 1.0f, py::arg("position_weight") = 0.15f,                   \
      py::arg("answer_type_weight") = 0.15f, py::arg("dedup") = true

}  // namespace

void bind_compress(py::module_& m) {
  py::class_<compress::FrequencyTable, FreqPtr>(m, "CoreFrequencyTable",
                                                "Unigram word probabilities (immutable).")
      .def(py::init([](const py::handle& words, const std::vector<double>& freqs, double floor) {
             std::vector<std::string> w;
             for (const auto& u : utf8_list(words, "words")) w.emplace_back(u.view());
             GilRelease release;
             return std::make_shared<compress::FrequencyTable>(w, freqs, floor);
           }),
           py::arg("words"), py::arg("freqs"), py::arg("floor") = 0.0)
      .def("bits", [](const compress::FrequencyTable& t, const py::handle& word) {
             Utf8 w(word, "word");
             std::string f;
             compress::fold_case(w.view(), f);
             return t.bits(f);
           })
      .def("__len__", &compress::FrequencyTable::size);

  py::class_<compress::BigramModel, BigramPtr>(m, "CoreBigramModel",
                                               "Word-bigram model with absolute discounting.")
      .def(py::init([](py::bytes data, const std::string& source) {
             std::string_view v = data;
             GilRelease release;
             return std::make_shared<compress::BigramModel>(io::parse_bigram_model(v, source));
           }),
           py::arg("data"), py::arg("source"))
      .def_property_readonly("n_words", &compress::BigramModel::n_words)
      .def_property_readonly("n_bigrams", &compress::BigramModel::n_bigrams);

  py::class_<compress::TokenClassifier, ClassifierPtr>(
      m, "CoreTokenClassifier", "BERT token-classification scorer (immutable, thread-safe).")
      .def_static("load",
                  [](const std::string& path, int keep_label) {
                    GilRelease release;
                    return std::const_pointer_cast<compress::TokenClassifier>(
                        compress::TokenClassifier::load(path, keep_label));
                  },
                  py::arg("path"), py::arg("keep_label") = 1)
      .def_property_readonly("n_labels", &compress::TokenClassifier::n_labels)
      .def_property_readonly("max_tokens", &compress::TokenClassifier::max_tokens)
      .def("encode",
           [](const compress::TokenClassifier& c, const py::handle& text) {
             Utf8 t(text, "text");
             return c.tokenizer().encode(t.view(), c.max_tokens());
           },
           py::arg("text"), "[CLS] word pieces [SEP] of text.")
      .def("logits",
           [](const compress::TokenClassifier& c, const py::handle& ids) {
             std::vector<std::uint32_t> v = to_ids(ids, "ids");
             std::vector<float> out;
             {
               GilRelease release;
               out = c.logits(v);
             }
             const auto rows = static_cast<py::ssize_t>(v.size());
             const auto cols = static_cast<py::ssize_t>(c.n_labels());
             return to_numpy(std::move(out)).reshape({rows, cols});
           },
           py::arg("ids"), "Logits [len(ids), n_labels] of one [CLS] ... [SEP] sequence.");

  py::class_<Compressor, CompressorPtr>(m, "CoreCompressor",
                                        "Budgeted prompt compressor (immutable, thread-safe).")
      .def(py::init([](EncodingPtr enc, FreqPtr freq, BigramPtr bigram, float info_weight,
                       float bm25_weight, float bm25_sentence, float bm25_paragraph,
                       float bm25_neighbour, std::uint32_t bm25_window,
                       std::shared_ptr<embed::Embedder> embedder,
                       float embed_weight, int embed_threads, ClassifierPtr classifier,
                       float classifier_weight) {
             std::vector<compress::Weighted<compress::UnitScorer>> us;
             if (freq || bigram)
               us.push_back({std::make_shared<compress::SelfInformation>(freq, bigram), info_weight});
             if (classifier) us.push_back({classifier, classifier_weight});
             compress::Bm25Options bo;
             bo.sentence_weight = bm25_sentence;
             bo.paragraph_weight = bm25_paragraph;
             bo.neighbour_weight = bm25_neighbour;
             bo.window_terms = bm25_window;
             std::vector<compress::Weighted<compress::ChunkScorer>> cs;
             cs.push_back({std::make_shared<compress::Bm25Relevance>(bo), bm25_weight});
             if (embedder)
               cs.push_back({std::make_shared<compress::EmbeddingRelevance>(embedder, embed_threads),
                             embed_weight});
             return std::make_shared<Compressor>(enc, std::move(us), std::move(cs));
           }),
           py::arg("encoding"), py::arg("freq").none(true), py::arg("bigram").none(true),
           py::arg("info_weight") = 1.0f, py::arg("bm25_weight") = 1.0f,
           py::arg("bm25_sentence") = 0.5f, py::arg("bm25_paragraph") = 0.5f,
           py::arg("bm25_neighbour") = 0.3f, py::arg("bm25_window") = 0u, py::arg("embedder").none(true) = nullptr,
           py::arg("embed_weight") = 1.0f, py::arg("embed_threads") = 0,
           py::arg("classifier").none(true) = nullptr, py::arg("classifier_weight") = 1.0f)
      .def("compress",
           [](const Compressor& c, const py::handle& text, const py::handle& question, double rate,
              std::int64_t target_tokens, const py::handle& force_tokens, bool force_digits,
              bool force_entities, bool force_code, bool drop_consecutive, bool json,
              const py::handle& protect, const py::handle& protect_spans, float chunk_slack,
              float chunk_weight, float position_weight, float answer_type_weight, bool dedup) {
             Utf8 t(text, "text");
             Utf8 q;
             if (!question.is_none()) q = Utf8(question, "question");
             Options o = make_options(rate, target_tokens, force_tokens, force_digits,
                                      force_entities, force_code, drop_consecutive, json, protect,
                                      protect_spans, chunk_slack, chunk_weight, position_weight,
                                      answer_type_weight, dedup);
             // Ctrl-C: seen between stages and embedding / classifier batches
             CompressResult r = interruptible([&](const text::StopFn& stop) {
               CompressOptions opt = resolve(o, t.view());
               opt.question = std::string(q.view());
               opt.stop = stop;
               return c.compress(t.view(), opt);
             });
             return to_dict(std::move(r));
           },
           py::arg("text"), py::arg("question").none(true), TOKENOPS_COMPRESS_ARGS)
      .def("compress_batch",
           [](const Compressor& c, const py::handle& texts, const py::handle& questions,
              double rate, std::int64_t target_tokens, const py::handle& force_tokens,
              bool force_digits, bool force_entities, bool force_code, bool drop_consecutive,
              bool json, const py::handle& protect, const py::handle& protect_spans,
              float chunk_slack, float chunk_weight, float position_weight,
              float answer_type_weight, bool dedup, int num_threads) {
             std::vector<Utf8> ts = utf8_list(texts, "texts");
             std::vector<Utf8> qs;
             if (!questions.is_none()) qs = utf8_list(questions, "questions");
             if (!qs.empty() && qs.size() != ts.size())
               throw py::value_error("questions must have one entry per text: got " +
                                     std::to_string(qs.size()) + " for " +
                                     std::to_string(ts.size()) + " texts");
             Options o = make_options(rate, target_tokens, force_tokens, force_digits,
                                      force_entities, force_code, drop_consecutive, json, protect,
                                      protect_spans, chunk_slack, chunk_weight, position_weight,
                                      answer_type_weight, dedup);
             std::vector<CompressResult> rs(ts.size());
             Interrupts intr;  // Ctrl-C stops the batch between texts
             {
               GilRelease release;
               text::parallel_for(ts.size(), text::resolve_threads(num_threads, ts.size()),
                                  [&](std::size_t i) {
                                    if (intr.stop()) return;
                                    try {
                                      CompressOptions opt = resolve(o, ts[i].view());
                                      if (!qs.empty()) opt.question = std::string(qs[i].view());
                                      rs[i] = c.compress(ts[i].view(), opt);
                                    } catch (const ::tokenops::InvalidArgument& e) {  // name the text
                                      throw ::tokenops::InvalidArgument(
                                          ::tokenops::detail::concat("texts[", i, "]: ", e.what()));
                                    }
                                  });
             }
             intr.raise_if_stopped();
             py::list out(rs.size());
             for (std::size_t i = 0; i < rs.size(); ++i) out[i] = to_dict(std::move(rs[i]));
             return out;
           },
           py::arg("texts"), py::arg("questions").none(true), TOKENOPS_COMPRESS_ARGS,
           py::arg("num_threads") = 0)
      .def("count", [](const Compressor& c, const py::handle& text) {
        Utf8 t(text, "text");
        GilRelease release;
        return c.count(t.view());
      });

  m.def("compress_word_list",
        [](const py::handle& text) {
          Utf8 t(text, "text");
          std::vector<std::string> words;
          {
            GilRelease release;
            words = compress::word_list(t.view());
          }
          return words;
        },
        py::arg("text"), "Lower-cased words of text per compress' segmentation, '<s>' at sentence starts.");

  m.def("compress_terms",
        [](const py::handle& text, bool drop_stopwords) {
          Utf8 t(text, "text");
          return compress::text_terms(t.view(), drop_stopwords);
        },
        py::arg("text"), py::arg("drop_stopwords") = false);

  m.def("compress_pack",
        [](EncodingPtr enc, const py::handle& passages, const py::handle& question,
           std::int64_t budget, const std::vector<double>& extra, float mmr_lambda,
           float cost_power, float bm25_weight, float extra_weight, bool reorder, bool dedup,
           const py::handle& separator) {
          if (budget < 0) throw py::value_error("budget must be >= 0, got " + std::to_string(budget));
          std::vector<Utf8> ps = utf8_list(passages, "passages");
          Utf8 q(question, "question");
          std::vector<std::string_view> views;
          for (const auto& p : ps) views.push_back(p.view());
          compress::PackOptions o;
          o.budget = static_cast<std::size_t>(budget);
          o.mmr_lambda = mmr_lambda;
          o.cost_power = cost_power;
          o.bm25_weight = bm25_weight;
          o.extra_weight = extra_weight;
          o.reorder = reorder;
          o.dedup = dedup;
          o.separator = std::string(Utf8(separator, "separator").view());  // lone surrogates -> U+FFFD
          std::vector<float> extra_relevance(extra.size());
          for (std::size_t i = 0; i < extra.size(); ++i) {
            if (std::isfinite(extra[i]) && std::fabs(extra[i]) > std::numeric_limits<float>::max())
              throw py::value_error("extra relevance at index " + std::to_string(i) + " is " +
                                    py::repr(py::float_(extra[i])).cast<std::string>() +
                                    ", outside the float32 range the packer computes in");
            extra_relevance[i] = static_cast<float>(extra[i]);
          }
          compress::PackResult r = interruptible([&](const text::StopFn& stop) {  // before each pick
            o.stop = stop;
            return compress::pack(*enc, views, q.view(), extra_relevance, o);
          });
          py::dict d;
          d["selected"] = to_list(r.selected);
          d["relevance"] = to_numpy(std::move(r.relevance));
          d["tokens"] = to_numpy(std::move(r.tokens));
          d["duplicate_of"] = to_numpy(std::move(r.duplicate_of));
          d["text"] = py::str(r.text.data(), r.text.size());
          d["total_tokens"] = r.total_tokens;
          return d;
        },
        py::arg("encoding"), py::arg("passages"), py::arg("question"), py::arg("budget"),
        py::arg("extra_relevance"), py::arg("mmr_lambda") = 0.7f, py::arg("cost_power") = 0.5f,
        py::arg("bm25_weight") = 1.0f, py::arg("extra_weight") = 1.0f, py::arg("reorder") = false,
        py::arg("dedup") = true, py::arg("separator") = py::str("\n\n"));
}

}  // namespace tokenops::bindings
