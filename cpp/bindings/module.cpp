// tokenops._core: the pybind11 module. Each core module has its bind_<module>.cpp; this file
// registers them and maps the core's exception hierarchy onto Python exceptions.
#include <cstring>

#include "common.hpp"
#include "tokenops/text/error.hpp"

namespace py = pybind11;

namespace {
// Sets a Python exception from a core message. Messages may quote bytes of a malformed input file
// that are not valid UTF-8; PyErr_SetString would then raise UnicodeDecodeError instead (losing the
// file name and the reason), so such bytes are decoded with backslash escapes.
void set_error(PyObject* type, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "backslashreplace");
  if (msg == nullptr) return;  // MemoryError is already set
  PyErr_SetObject(type, msg);
  Py_DECREF(msg);
}
}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "tokenops native core (C++). Use the `tokenops` package, not this module directly.";
#ifdef TOKENOPS_VERSION
  m.attr("__version__") = TOKENOPS_VERSION;
#endif
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tokenops::InvalidArgument& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const tokenops::NotFound& e) {
      set_error(PyExc_KeyError, e.what());
    } catch (const tokenops::IoError& e) {
      set_error(PyExc_OSError, e.what());
    } catch (const tokenops::Error& e) {
      set_error(PyExc_RuntimeError, e.what());
    }
  });
  tokenops::bindings::GilRelease::init_main_thread();
  tokenops::bindings::bind_text(m);
  tokenops::bindings::bind_tokenizer(m);
  tokenops::bindings::bind_sentencepiece(m);
  tokenops::bindings::bind_router(m);
  tokenops::bindings::bind_compress(m);
  tokenops::bindings::bind_embed(m);
  tokenops::bindings::bind_cost(m);
  tokenops::bindings::bind_budget(m);
  tokenops::bindings::bind_cache(m);
}
