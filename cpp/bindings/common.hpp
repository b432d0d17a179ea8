#pragma once
// Helpers shared by the bind_*.cpp files (the only place that includes pybind11).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "tokenops/text/parallel.hpp"

namespace tokenops::bindings {

namespace py = pybind11;

/// Releases the GIL for a scope, like py::gil_scoped_release, except at interpreter shutdown: a
/// daemon thread still inside a call when Python finalizes would be ended by CPython with
/// pthread_exit when it asks for the GIL back, and that forced unwind through a noexcept
/// destructor aborts the process ("terminate called without an active exception"; pybind11
/// #2215). Such a thread waits for the process to exit instead, as CPython 3.14 does with its
/// own threads. The main thread, which runs the finalization, takes the GIL back as usual.
class GilRelease {
 public:
  GilRelease() noexcept : state_(PyEval_SaveThread()) {}
  // noexcept(false): a thread that checked just before the shutdown began, and then waited for
  // the GIL, is still ended by pthread_exit; its forced unwind must be able to leave here (the
  // pybind11 dispatcher rethrows it) instead of terminating the process.
  ~GilRelease() noexcept(false) {
    park_if_finalizing();
    PyEval_RestoreThread(state_);
  }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

  /// Call before taking the GIL on a thread that released it (see above).
  static void park_if_finalizing() noexcept;
  /// Records the interpreter's main thread (module initialisation, GIL held).
  static void init_main_thread();

 private:
  PyThreadState* state_;
};

/// Lets a long batch that runs with the GIL released notice Ctrl-C (Jupyter's "interrupt"): the
/// calling thread, when it is the main thread (the only one Python runs signal handlers on),
/// checks for signals between tasks every 100 ms, taking the GIL briefly; once a handler raised,
/// the tasks left are skipped and raise_if_stopped() raises its exception (KeyboardInterrupt).
class Interrupts {
 public:
  Interrupts();  // GIL held
  /// Between tasks, from any thread of the batch (GIL released): true once the batch must stop.
  bool stop();
  /// GIL held, after the batch: raises the signal handler's exception if it stopped the batch.
  void raise_if_stopped() const;

 private:
  bool main_;
  std::thread::id caller_;
  std::chrono::steady_clock::time_point next_;
  std::atomic<bool> stopped_{false};
};

/// Runs fn(stop) with the GIL released and returns its result; `stop` is the Ctrl-C check a core
/// call asks between chunks (its text::StopFn hook). Raises the handler's exception
/// (KeyboardInterrupt) when it stopped the call, discarding the partial result.
template <class Fn>
auto interruptible(Fn&& fn) {
  Interrupts intr;
  const tokenops::text::StopFn stop = [&intr] { return intr.stop(); };
  decltype(fn(stop)) out;
  {
    GilRelease release;
    out = fn(stop);
  }
  intr.raise_if_stopped();
  return out;
}

/// A UTF-8 view of a Python str. Lone surrogates (which have no UTF-8 form) are replaced by
/// U+FFFD first, as tiktoken does. Keeps the replacement string alive while the view is used.
class Utf8 {
 public:
  Utf8() = default;
  explicit Utf8(const py::handle& obj, const char* what = "text", long index = -1);
  std::string_view view() const noexcept { return view_; }

 private:
  py::object keep_;
  std::string_view view_;
};

/// Converts a sequence of str into UTF-8 views (TypeError naming the first non-str index).
std::vector<Utf8> utf8_list(const py::handle& seq, const char* what = "texts");

/// A str's code units, captured with the GIL held, readable without it while the caller keeps
/// `keep` alive: a tuple snapshot of the sequence holding a reference to every str (str objects are
/// immutable; the snapshot means another Python thread emptying the caller's list while the GIL is
/// released cannot free a text a worker is reading). ASCII strings are their own UTF-8; others are
/// transcoded by `utf8()` on the worker thread, so batch calls do not serialise on the GIL.
struct StrRef {
  const void* data = nullptr;
  std::size_t length = 0;
  int unit_size = 1;
  bool ascii = true;
  /// The UTF-8 text; uses `scratch` when transcoding is needed.
  std::string_view utf8(std::string& scratch) const;
};
std::vector<StrRef> str_refs(const py::handle& seq, py::tuple& keep, const char* what = "texts");

/// vector<uint32_t> -> Python list[int]. With `cache` (a list indexed by id holding None or the
/// int object for that id, filled on demand), ints are shared instead of allocated per token.
py::list to_list(const std::vector<std::uint32_t>& v, const py::handle& cache = py::handle());

/// Moves a vector into a 1-D numpy array without copying (the capsule owns the buffer).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {sizeof(T)}, heap->data(), owner);
}

/// Reads a sequence of non-negative ints (list, tuple or numpy array) as token ids.
std::vector<std::uint32_t> to_ids(const py::handle& seq, const char* what = "tokens");

void bind_text(py::module_& m);
void bind_tokenizer(py::module_& m);
void bind_sentencepiece(py::module_& m);
void bind_router(py::module_& m);
void bind_compress(py::module_& m);
void bind_embed(py::module_& m);
void bind_cost(py::module_& m);
void bind_budget(py::module_& m);
void bind_cache(py::module_& m);

}  // namespace tokenops::bindings
