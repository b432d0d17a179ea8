// Binding of the embed module: tokenops._core.CoreEmbedder and the BERT normalizer (for tests).
#include <algorithm>
#include <memory>
#include <span>
#include <string>

#include "common.hpp"
#include "tokenops/embed/embedder.hpp"
#include "tokenops/embed/wordpiece.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::bindings {

using embed::Embedder;
// pybind11 holders cannot be shared_ptr<const T>; the core object is immutable regardless.
using EmbedderPtr = std::shared_ptr<Embedder>;

namespace {

const char* pooling_name(io::PoolingMode p) {
  switch (p) {
    case io::PoolingMode::kMean:
      return "mean";
    case io::PoolingMode::kCls:
      return "cls";
    case io::PoolingMode::kMax:
      return "max";
  }
  return "?";
}

py::array_t<float> as_matrix(std::vector<float>&& v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)},
                            {static_cast<py::ssize_t>(cols * sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
                            heap->data(), owner);
}

}  // namespace

void bind_embed(py::module_& m) {
  py::class_<Embedder, EmbedderPtr>(m, "CoreEmbedder")
      .def_static(
          "load",
          [](const std::string& path) {
            GilRelease release;
            return std::const_pointer_cast<Embedder>(Embedder::load(path));
          },
          py::arg("path"))
      .def_property_readonly("dim", &Embedder::dim)
      .def_property_readonly("max_tokens", &Embedder::max_tokens)
      .def_property_readonly("vocab_size", [](const Embedder& e) { return e.tokenizer().vocab_size(); })
      .def("info",
           [](const Embedder& e) {
             const auto& i = e.info();
             py::dict d;
             // as os.fsdecode does (a directory name need not be UTF-8)
             PyObject* p = PyUnicode_DecodeFSDefaultAndSize(i.path.data(), static_cast<Py_ssize_t>(i.path.size()));
             if (p == nullptr) throw py::error_already_set();
             d["path"] = py::reinterpret_steal<py::object>(p);
             d["dim"] = i.dim;
             d["max_tokens"] = i.max_tokens;
             d["pooling"] = pooling_name(i.pooling);
             d["normalize"] = i.normalize;
             d["num_layers"] = i.config.num_hidden_layers;
             d["num_heads"] = i.config.num_attention_heads;
             d["intermediate_size"] = i.config.intermediate_size;
             d["vocab_size"] = i.config.vocab_size;
             d["max_position_embeddings"] = i.config.max_position_embeddings;
             d["lowercase"] = e.tokenizer().normalizer().lowercase;
             d["strip_accents"] = e.tokenizer().normalizer().strip_accents;
             return d;
           })
      .def(
          "embed",
          [](const Embedder& e, const py::handle& texts, std::size_t batch_size, int num_threads) {
            std::vector<Utf8> owned = utf8_list(texts, "texts");
            std::vector<std::string_view> views;
            views.reserve(owned.size());
            for (const auto& u : owned) views.push_back(u.view());
            // One call over all texts (each thread runs whole batches when there are enough);
            // Ctrl-C is asked before every batch.
            std::vector<float> out(views.size() * e.dim());
            interruptible([&](const text::StopFn& stop) {
              e.embed(std::span<const std::string_view>(views), out.data(),
                      embed::EmbedOptions{batch_size, num_threads, stop});
              return true;
            });
            return as_matrix(std::move(out), views.size(), e.dim());
          },
          py::arg("texts"), py::arg("batch_size"), py::arg("num_threads"))
      .def(
          "tokenize",
          [](const Embedder& e, const py::handle& text) {
            Utf8 u(text, "text");
            std::vector<std::uint32_t> ids;
            {
              GilRelease release;
              ids = e.tokenize(u.view());
            }
            return to_list(ids);
          },
          py::arg("text"))
      .def(
          "tokenize_batch",
          [](const Embedder& e, const py::handle& texts) {
            std::vector<Utf8> owned = utf8_list(texts, "texts");
            std::vector<std::vector<std::uint32_t>> ids(owned.size());
            {
              GilRelease release;
              for (std::size_t i = 0; i < owned.size(); ++i) ids[i] = e.tokenize(owned[i].view());
            }
            py::list out(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) out[i] = to_list(ids[i]);
            return out;
          },
          py::arg("texts"))
      .def("id_to_token", [](const Embedder& e, std::uint32_t id) { return e.tokenizer().id_to_token(id); })
      .def("token_to_id", [](const Embedder& e, const std::string& t) { return e.tokenizer().token_to_id(t); });

  m.def(
      "bert_normalize",
      [](const py::handle& text, bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase) {
        Utf8 u(text, "text");
        embed::BertNormalizerOptions o{clean_text, handle_chinese_chars, strip_accents, lowercase};
        std::u32string out = embed::bert_normalize(u.view(), o);
        std::string utf8;
        for (char32_t c : out) text::append_utf8(utf8, c);
        return py::str(utf8);
      },
      py::arg("text"), py::arg("clean_text") = true, py::arg("handle_chinese_chars") = true,
      py::arg("strip_accents") = true, py::arg("lowercase") = true);
  m.def("bert_tables_source", &embed::bert_tables_source);
}

}  // namespace tokenops::bindings
