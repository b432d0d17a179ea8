// tokenops._core: the pybind11 module. Each core module has its bind_<module>.cpp; this file
// registers them and maps the core's exception hierarchy onto Python exceptions.
#include "common.hpp"
#include "tokenops/text/error.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "tokenops native core (C++). Use the `tokenops` package, not this module directly.";
#ifdef TOKENOPS_VERSION
  m.attr("__version__") = TOKENOPS_VERSION;
#endif
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const tokenops::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const tokenops::NotFound& e) {
      PyErr_SetString(PyExc_KeyError, e.what());
    } catch (const tokenops::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const tokenops::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  tokenops::bindings::bind_text(m);
  tokenops::bindings::bind_tokenizer(m);
  tokenops::bindings::bind_router(m);
  tokenops::bindings::bind_compress(m);
  tokenops::bindings::bind_embed(m);
  tokenops::bindings::bind_cost(m);
  tokenops::bindings::bind_budget(m);
}
