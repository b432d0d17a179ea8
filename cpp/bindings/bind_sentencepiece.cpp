#include <memory>
#include <string>

#include "common.hpp"
#include "tokenops/tokenizer/sentencepiece.hpp"

namespace tokenops::bindings {

using tokenizer::SentencePieceBpe;
using SpPtr = std::shared_ptr<SentencePieceBpe>;  // holders cannot be shared_ptr<const T>

void bind_sentencepiece(py::module_& m) {
  py::class_<SentencePieceBpe, SpPtr>(m, "CoreSentencePiece",
                                      "Immutable native SentencePiece BPE model; thread-safe, GIL released.")
      .def_static("from_model",
                  [](py::bytes data, const std::string& source) {
                    std::string_view content = data;
                    GilRelease release;
                    return std::const_pointer_cast<SentencePieceBpe>(
                        SentencePieceBpe::from_model_proto(content, source));
                  },
                  py::arg("data"), py::arg("source"))
      .def_property_readonly("size", &SentencePieceBpe::size)
      .def_property_readonly("unk_id", &SentencePieceBpe::unk_id)
      .def_property_readonly("bos_id", &SentencePieceBpe::bos_id)
      .def_property_readonly("eos_id", &SentencePieceBpe::eos_id)
      .def_property_readonly("byte_fallback", &SentencePieceBpe::byte_fallback)
      .def("piece", [](const SentencePieceBpe& s, std::uint32_t id) {
             if (id >= s.size()) throw py::index_error("token id " + std::to_string(id) + " is out of range");
             const auto& p = s.piece(id);
             return py::make_tuple(py::str(p.text), p.score, p.type);
           },
           py::arg("id"))
      .def("encode",
           [](const SentencePieceBpe& s, const py::handle& text, const py::handle& int_cache) {
             Utf8 t(text);
             std::vector<std::uint32_t> out;
             {
               GilRelease release;
               s.encode(t.view(), out);
             }
             return to_list(out, int_cache);
           },
           py::arg("text"), py::arg("int_cache") = py::none())
      .def("count",
           [](const SentencePieceBpe& s, const py::handle& text) {
             Utf8 t(text);
             GilRelease release;
             return s.count(t.view());
           },
           py::arg("text"))
      .def("decode_bytes",
           [](const SentencePieceBpe& s, const py::handle& ids, bool replace_invalid) {
             std::vector<std::uint32_t> v = to_ids(ids);
             std::string out;
             {
               GilRelease release;
               out = s.decode(v.data(), v.size(), replace_invalid);
             }
             return py::bytes(out);
           },
           py::arg("ids"), py::arg("replace_invalid") = false);
}

}  // namespace tokenops::bindings
