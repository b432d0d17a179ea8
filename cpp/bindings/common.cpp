#include "common.hpp"

#include <chrono>
#include <string>
#include <thread>

#include "tokenops/text/utf8.hpp"

namespace tokenops::bindings {

Utf8::Utf8(const py::handle& obj, const char* what, long index) {
  if (!PyUnicode_Check(obj.ptr())) {
    std::string msg = std::string(what);
    if (index >= 0) msg += "[" + std::to_string(index) + "]";
    msg += " must be str, not " + std::string(Py_TYPE(obj.ptr())->tp_name);
    throw py::type_error(msg);
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
  if (data == nullptr) {
    // Lone surrogates: re-encode through UTF-16 with replacement, exactly as tiktoken does.
    PyErr_Clear();
    py::object fixed = obj.attr("encode")("utf-16", "surrogatepass").attr("decode")("utf-16", "replace");
    data = PyUnicode_AsUTF8AndSize(fixed.ptr(), &size);
    if (data == nullptr) throw py::error_already_set();
    keep_ = std::move(fixed);
  }
  if (!keep_) keep_ = py::reinterpret_borrow<py::object>(obj);  // the view lives in obj's UTF-8 cache
  view_ = std::string_view(data, static_cast<std::size_t>(size));
}

std::vector<Utf8> utf8_list(const py::handle& seq, const char* what) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single " +
                         Py_TYPE(seq.ptr())->tp_name);
  py::sequence s = py::reinterpret_borrow<py::sequence>(seq);
  std::vector<Utf8> out;
  out.reserve(s.size());
  long i = 0;
  for (py::handle item : s) out.emplace_back(item, what, i++);
  return out;
}

std::string_view StrRef::utf8(std::string& scratch) const {
  if (ascii) return std::string_view(static_cast<const char*>(data), length);
  scratch.clear();
  text::append_ucs_as_utf8(scratch, data, length, unit_size);
  return scratch;
}

std::vector<StrRef> str_refs(const py::handle& seq, py::tuple& keep, const char* what) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single " +
                         Py_TYPE(seq.ptr())->tp_name);
  PyObject* snapshot = PySequence_Tuple(seq.ptr());
  if (snapshot == nullptr) {
    if (!PyErr_ExceptionMatches(PyExc_TypeError)) throw py::error_already_set();
    PyErr_Clear();
    throw py::type_error(std::string(what) + " must be a list of str, not " + Py_TYPE(seq.ptr())->tp_name);
  }
  keep = py::reinterpret_steal<py::tuple>(snapshot);
  std::vector<StrRef> out;
  out.reserve(keep.size());
  long i = 0;
  for (py::handle item : keep) {
    PyObject* o = item.ptr();
    if (!PyUnicode_Check(o))
      throw py::type_error(std::string(what) + "[" + std::to_string(i) + "] must be str, not " +
                           Py_TYPE(o)->tp_name);
    StrRef r;
    r.data = PyUnicode_DATA(o);
    r.length = static_cast<std::size_t>(PyUnicode_GET_LENGTH(o));
    r.unit_size = static_cast<int>(PyUnicode_KIND(o));
    r.ascii = PyUnicode_IS_ASCII(o);
    out.push_back(r);
    ++i;
  }
  return out;
}

namespace {
unsigned long g_main_thread = 0;  // PyThread_get_thread_ident() of threading.main_thread()

bool interpreter_finalizing() noexcept {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}
}  // namespace

void GilRelease::init_main_thread() {
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

Interrupts::Interrupts()
    : main_(PyThread_get_thread_ident() == g_main_thread),
      caller_(std::this_thread::get_id()),
      next_(std::chrono::steady_clock::now() + std::chrono::milliseconds(100)) {}

bool Interrupts::stop() {
  if (stopped_.load(std::memory_order_relaxed)) return true;
  if (!main_ || std::this_thread::get_id() != caller_) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return false;
  next_ = now + std::chrono::milliseconds(100);
  GilRelease::park_if_finalizing();
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) stopped_.store(true, std::memory_order_relaxed);  // error stays set
  return stopped_.load(std::memory_order_relaxed);
}

void Interrupts::raise_if_stopped() const {
  if (stopped_.load(std::memory_order_relaxed)) throw py::error_already_set();
}

void GilRelease::park_if_finalizing() noexcept {
  if (!interpreter_finalizing() || PyThread_get_thread_ident() == g_main_thread) return;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));  // the process is exiting
}

py::list to_list(const std::vector<std::uint32_t>& v, const py::handle& cache) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(v.size()));
  if (!list) throw py::error_already_set();
  const bool cached = cache && PyList_CheckExact(cache.ptr());
  const Py_ssize_t cache_n = cached ? PyList_GET_SIZE(cache.ptr()) : 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    PyObject* x;
    if (static_cast<Py_ssize_t>(v[i]) < cache_n) {
      x = PyList_GET_ITEM(cache.ptr(), v[i]);
      if (x == Py_None) {
        x = PyLong_FromUnsignedLong(v[i]);
        if (!x) {
          Py_DECREF(list);
          throw py::error_already_set();
        }
        PyList_SetItem(cache.ptr(), v[i], x);  // steals x, releases the None
      }
      Py_INCREF(x);
    } else {
      x = PyLong_FromUnsignedLong(v[i]);
      if (!x) {
        Py_DECREF(list);
        throw py::error_already_set();
      }
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), x);
  }
  return py::reinterpret_steal<py::list>(list);
}

std::vector<std::uint32_t> to_ids(const py::handle& seq, const char* what) {
  std::vector<std::uint32_t> ids;
  if (py::isinstance<py::array>(seq)) {
    auto arr = py::reinterpret_borrow<py::array>(seq);
    if (arr.ndim() != 1) throw py::value_error(std::string(what) + " must be 1-dimensional");
    const char kind = arr.dtype().kind();
    if (kind != 'i' && kind != 'u')  // a float, bool or str array is not a list of ids
      throw py::type_error(std::string(what) + " must hold integers, not dtype " +
                           py::str(arr.dtype()).cast<std::string>());
    if (kind == 'u' && arr.itemsize() == 8) {  // values >= 2**63 would wrap to negatives in int64
      auto u = py::array_t<std::uint64_t, py::array::c_style>::ensure(arr);
      for (py::ssize_t i = 0; i < u.size(); ++i)
        if (u.data()[i] > 0xFFFFFFFFull)
          throw py::value_error(std::string(what) + "[" + std::to_string(i) + "] = " +
                                std::to_string(u.data()[i]) + " is not a valid token id");
    }
    auto conv = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    if (!conv) throw py::type_error(std::string(what) + " must hold integers");
    ids.reserve(conv.size());
    const std::int64_t* d = conv.data();
    for (py::ssize_t i = 0; i < conv.size(); ++i) {
      if (d[i] < 0 || d[i] > 0xFFFFFFFFll)
        throw py::value_error(std::string(what) + "[" + std::to_string(i) + "] = " +
                              std::to_string(d[i]) + " is not a valid token id");
      ids.push_back(static_cast<std::uint32_t>(d[i]));
    }
    return ids;
  }
  py::sequence s = py::reinterpret_borrow<py::sequence>(seq);
  ids.reserve(s.size());
  long i = 0;
  for (py::handle item : s) {
    py::object as_int;  // numpy integers (and other __index__ types) become Python ints, as in tiktoken
    py::handle value = item;
    if (!PyLong_Check(item.ptr())) {
      if (!PyIndex_Check(item.ptr()))
        throw py::type_error(std::string(what) + "[" + std::to_string(i) + "] must be int, not " +
                             Py_TYPE(item.ptr())->tp_name);
      as_int = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
      if (!as_int) throw py::error_already_set();
      value = as_int;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow || v < 0 || v > 0xFFFFFFFFll)
      throw py::value_error(std::string(what) + "[" + std::to_string(i) + "] = " +
                            py::str(item).cast<std::string>() + " is not a valid token id");
    ids.push_back(static_cast<std::uint32_t>(v));
    ++i;
  }
  return ids;
}

}  // namespace tokenops::bindings
