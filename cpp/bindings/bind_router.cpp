// Binding for the router module: router files -> immutable Router; batch scoring with the GIL
// released; the feature extractor for training in Python.
#include <memory>
#include <string>

#include "common.hpp"
#include "tokenops/io/router_file.hpp"
#include "tokenops/router/features.hpp"
#include "tokenops/router/router.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/tokenizer/encoding.hpp"

namespace tokenops::bindings {

using router::Router;
using RouterPtr = std::shared_ptr<Router>;
using ExtractorPtr = std::shared_ptr<router::FeatureExtractor>;
using EncodingPtr = std::shared_ptr<tokenizer::Encoding>;

namespace {

template <class T>
py::array_t<T> to_numpy_2d(std::vector<T>&& v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)},
                        {static_cast<py::ssize_t>(cols * sizeof(T)), static_cast<py::ssize_t>(sizeof(T))},
                        heap->data(), owner);
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

/// Holds the converted inputs of one batch call (texts as UTF-8 views, embeddings as float32).
struct BatchInput {
  std::vector<Utf8> keep;
  FloatArray emb;
  router::Batch batch;
  BatchInput(const py::handle& texts, const py::handle& embeddings) {
    keep = utf8_list(texts, "prompts");
    batch.texts.reserve(keep.size());
    for (const auto& u : keep) batch.texts.push_back(u.view());
    if (!embeddings.is_none()) {
      emb = FloatArray::ensure(embeddings);
      if (!emb) throw py::type_error("embeddings must be a numeric array of shape (n, dim)");
      if (emb.ndim() != 2)
        throw py::value_error("embeddings must be 2-dimensional (n, dim), got " +
                              std::to_string(emb.ndim()) + " dimensions");
      batch.embeddings = emb.data();
      batch.embedding_rows = static_cast<std::size_t>(emb.shape(0));
      batch.embedding_cols = static_cast<std::size_t>(emb.shape(1));
    }
  }
};

RouterPtr router_from_bytes(py::bytes data, const std::string& source, const py::object& encoding) {
  std::string_view content = data;
  EncodingPtr enc;
  if (!encoding.is_none()) enc = encoding.cast<EncodingPtr>();
  GilRelease release;
  io::RouterFile file = io::parse_router_file(content, source);
  return std::make_shared<Router>(std::move(file), enc);
}

io::RouterFeatureSpec make_spec(int hash_bits, int wmin, int wmax, int cmin, int cmax, bool dense,
                                const std::string& encoding_name) {
  io::RouterFeatureSpec spec;
  spec.hash_bits = hash_bits;
  spec.word_ngram_min = wmin;
  spec.word_ngram_max = wmax;
  spec.char_ngram_min = cmin;
  spec.char_ngram_max = cmax;
  spec.encoding = encoding_name;
  spec.dense = dense;
  if (dense) {
    spec.dense_names = router::dense_signal_names();
    spec.dense_mean.assign(spec.dense_names.size(), 0.0f);
    spec.dense_scale.assign(spec.dense_names.size(), 1.0f);
  }
  return spec;
}

}  // namespace

void bind_router(py::module_& m) {
  m.attr("ROUTER_FORMAT_VERSION") = io::kRouterFormatVersion;
  m.def("router_dense_signal_names", &router::dense_signal_names,
        "Names of the router's dense length/structure signals, in order.");

  py::class_<router::FeatureExtractor, ExtractorPtr>(
      m, "CoreRouterFeatures", "Router feature extractor (hashed n-grams + dense signals).")
      .def(py::init([](int hash_bits, int wmin, int wmax, int cmin, int cmax, bool dense,
                       const py::object& encoding) {
             EncodingPtr enc;
             std::string name;
             if (!encoding.is_none()) {
               enc = encoding.cast<EncodingPtr>();
               name = enc->name();
             }
             return std::make_shared<router::FeatureExtractor>(
                 make_spec(hash_bits, wmin, wmax, cmin, cmax, dense, name), enc);
           }),
           py::arg("hash_bits"), py::arg("word_ngram_min"), py::arg("word_ngram_max"),
           py::arg("char_ngram_min"), py::arg("char_ngram_max"), py::arg("dense"),
           py::arg("encoding") = py::none())
      .def_property_readonly("sparse_dim", &router::FeatureExtractor::sparse_dim)
      .def_property_readonly("dense_dim", &router::FeatureExtractor::dense_dim)
      .def(
          "sparse_batch",
          [](const router::FeatureExtractor& fx, const py::handle& texts, int num_threads) {
            BatchInput in(texts, py::none());
            const std::size_t n = in.batch.texts.size();
            std::vector<router::SparseFeatures> rows(n);
            Interrupts intr;
            {
              GilRelease release;
              text::parallel_for(n, text::resolve_threads(num_threads, n), [&](std::size_t i) {
                if (intr.stop()) return;
                router::FeatureScratch scratch;
                fx.sparse(in.batch.texts[i], rows[i], scratch);
              });
            }
            intr.raise_if_stopped();
            std::vector<std::int64_t> indptr(n + 1, 0);
            for (std::size_t i = 0; i < n; ++i) indptr[i + 1] = indptr[i] + static_cast<std::int64_t>(rows[i].size());
            std::vector<std::int32_t> indices(static_cast<std::size_t>(indptr[n]));
            std::vector<float> values(indices.size());
            for (std::size_t i = 0; i < n; ++i) {
              const auto& r = rows[i];
              const auto at = static_cast<std::size_t>(indptr[i]);
              for (std::size_t k = 0; k < r.size(); ++k) {
                indices[at + k] = static_cast<std::int32_t>(r.index(k));
                values[at + k] = r.value(k);
              }
            }
            return py::make_tuple(to_numpy(std::move(indptr)), to_numpy(std::move(indices)),
                                  to_numpy(std::move(values)));
          },
          py::arg("texts"), py::arg("num_threads") = 0,
          "CSR parts (indptr, indices, values) of the hashed n-gram block; duplicates add up.")
      .def(
          "dense_raw_batch",
          [](const router::FeatureExtractor& fx, const py::handle& texts, int num_threads) {
            BatchInput in(texts, py::none());
            const std::size_t n = in.batch.texts.size(), d = router::dense_signal_names().size();
            std::vector<float> out(n * d);
            Interrupts intr;
            {
              GilRelease release;
              text::parallel_for(n, text::resolve_threads(num_threads, n), [&](std::size_t i) {
                if (!intr.stop()) fx.dense_raw(in.batch.texts[i], out.data() + i * d);
              });
            }
            intr.raise_if_stopped();
            return to_numpy_2d(std::move(out), n, d);
          },
          py::arg("texts"), py::arg("num_threads") = 0,
          "Unstandardised dense signals, shape (n, len(router_dense_signal_names())).");

  py::class_<Router, RouterPtr>(m, "CoreRouter", "Immutable native router; thread-safe, GIL released.")
      .def_static("from_bytes", &router_from_bytes, py::arg("data"), py::arg("source"),
                  py::arg("encoding") = py::none())
      .def_property_readonly("family", [](const Router& r) { return r.file().family; })
      .def_property_readonly("task", [](const Router& r) { return r.file().task; })
      .def_property_readonly("models", [](const Router& r) { return r.file().models; })
      .def_property_readonly("costs", [](const Router& r) { return r.file().costs; })
      .def_property_readonly("strong", [](const Router& r) { return r.file().strong; })
      .def_property_readonly("weak", [](const Router& r) { return r.file().weak; })
      .def_property_readonly("binary_score", [](const Router& r) { return r.file().binary_score; })
      .def_property_readonly("description", [](const Router& r) { return r.file().description; })
      .def_property_readonly("encoding_name", [](const Router& r) { return r.file().features.encoding; })
      .def_property_readonly("embedder", [](const Router& r) { return r.file().features.embedder; })
      .def_property_readonly("embedding_dim", [](const Router& r) { return r.file().features.embedding_dim; })
      .def_property_readonly("embed_tail_chars",
                             [](const Router& r) { return r.file().features.embed_tail_chars; })
      .def_property_readonly("n_outputs", &Router::n_outputs)
      .def_property_readonly("needs_embedding", &Router::needs_embedding)
      .def(
          "score",
          [](const Router& r, const py::handle& texts, const py::handle& embeddings, int num_threads) {
            BatchInput in(texts, embeddings);
            std::vector<double> out = interruptible(
                [&](const text::StopFn& stop) { return r.score(in.batch, num_threads, stop); });
            return to_numpy(std::move(out));
          },
          py::arg("texts"), py::arg("embeddings") = py::none(), py::arg("num_threads") = 0)
      .def(
          "outputs",
          [](const Router& r, const py::handle& texts, const py::handle& embeddings, int num_threads) {
            BatchInput in(texts, embeddings);
            std::vector<double> out = interruptible(
                [&](const text::StopFn& stop) { return r.outputs(in.batch, num_threads, stop); });
            return to_numpy_2d(std::move(out), in.batch.texts.size(), r.n_outputs());
          },
          py::arg("texts"), py::arg("embeddings") = py::none(), py::arg("num_threads") = 0)
      .def(
          "route",
          [](const Router& r, const py::handle& texts, double lam, const std::vector<double>& costs,
             const py::handle& embeddings, int num_threads) {
            BatchInput in(texts, embeddings);
            std::vector<std::int32_t> out = interruptible(
                [&](const text::StopFn& stop) { return r.route(in.batch, lam, costs, num_threads, stop); });
            return to_numpy(std::move(out));
          },
          py::arg("texts"), py::arg("lam"), py::arg("costs"), py::arg("embeddings") = py::none(),
          py::arg("num_threads") = 0);
}

}  // namespace tokenops::bindings
