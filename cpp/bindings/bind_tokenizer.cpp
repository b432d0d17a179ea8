#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "common.hpp"
#include "tokenops/io/hf_tokenizer.hpp"
#include "tokenops/io/tekken_file.hpp"
#include "tokenops/io/tiktoken_file.hpp"
#include "tokenops/text/parallel.hpp"
#include "tokenops/text/worker_pool.hpp"
#include "tokenops/tokenizer/encoding.hpp"
#include "tokenops/tokenizer/hf.hpp"
#include "tokenops/tokenizer/tekken.hpp"

namespace tokenops::bindings {

using tokenizer::Encoding;
using tokenizer::Rank;
using tokenizer::SpecialMask;
// pybind11 holders cannot be shared_ptr<const T>; the core object is immutable regardless.
using EncodingPtr = std::shared_ptr<Encoding>;

namespace {

SpecialMask make_mask(const Encoding& enc, const py::handle& allowed) {
  SpecialMask mask(enc.specials().size(), 0);
  if (allowed.is_none()) return mask;
  std::unordered_set<std::string> names;
  for (py::handle h : allowed) {
    if (!PyUnicode_Check(h.ptr()))
      throw py::type_error("special token names must be str, not " +
                           std::string(Py_TYPE(h.ptr())->tp_name));
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(h.ptr(), &size);
    if (utf8 == nullptr) {  // a lone surrogate: no special token (valid UTF-8) can equal it
      PyErr_Clear();
      continue;
    }
    names.emplace(utf8, static_cast<std::size_t>(size));
  }
  for (std::size_t k = 0; k < mask.size(); ++k) mask[k] = names.count(enc.specials()[k].text) ? 1 : 0;
  return mask;
}

EncodingPtr from_tiktoken(const std::string& name, const std::string& pretok, py::bytes data,
                          const py::dict& specials, const std::string& source) {
  tokenizer::EncodingSpec spec;
  spec.name = name;
  spec.pretokenizer = tokenizer::pretokenizer_from_name(pretok);
  std::vector<std::uint32_t> reserved;
  for (auto item : specials) {
    spec.specials.push_back({item.first.cast<std::string>(), item.second.cast<std::uint32_t>()});
    reserved.push_back(spec.specials.back().id);
  }
  std::string_view content = data;
  std::vector<io::RankEntry> entries;
  {
    GilRelease release;
    entries = io::parse_tiktoken_ranks(content, source, reserved);
  }
  spec.tokens.reserve(entries.size());
  spec.ids.reserve(entries.size());
  for (auto& e : entries) {
    spec.tokens.push_back(std::move(e.bytes));
    spec.ids.push_back(e.rank);
  }
  GilRelease release;
  return std::make_shared<Encoding>(std::move(spec));
}

EncodingPtr from_hf_json(const std::string& name, py::bytes data, const std::string& source) {
  std::string_view content = data;
  GilRelease release;
  io::HfBpeModel model = io::parse_hf_tokenizer_json(content, source);
  return std::const_pointer_cast<Encoding>(tokenizer::encoding_from_hf(name, model, source));
}

EncodingPtr from_tekken(const std::string& name, py::bytes data, const std::string& source) {
  std::string_view content = data;
  GilRelease release;
  return std::const_pointer_cast<Encoding>(
      tokenizer::encoding_from_tekken(name, io::parse_tekken_json(content, source), source));
}

py::bytes as_bytes(std::string_view s) { return py::bytes(s.data(), s.size()); }

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// The first (lowest-index) text holding a disallowed special token, found by the workers.
struct BatchProblem {
  std::size_t index = kNone;
  std::string text;
  std::mutex lock;
  py::object token() const { return index == kNone ? py::object(py::none()) : py::object(py::str(text)); }
};

// Batch text i as UTF-8 (transcoded in the calling worker), or false when it holds a disallowed
// special token: then the lowest such index and its token are recorded in `problem`.
struct BatchText {
  const Encoding& e;
  const std::vector<StrRef>& refs;
  const SpecialMask& banned;
  BatchProblem& problem;
  bool any_banned = false;
  BatchText(const Encoding& enc, const std::vector<StrRef>& r, const SpecialMask& b, BatchProblem& p)
      : e(enc), refs(r), banned(b), problem(p) {
    for (auto x : banned) any_banned |= (x != 0);
  }
  bool get(std::size_t i, std::string_view& t) const {
    thread_local std::string scratch;
    t = refs[i].utf8(scratch);
    if (!any_banned) return true;
    auto m = e.find_special(t, 0, &banned);
    if (m.pos == std::string_view::npos) return true;
    std::lock_guard<std::mutex> g(problem.lock);
    if (i < problem.index) {
      problem.index = i;
      problem.text = e.specials()[m.index].text;
    }
    return false;
  }
};

// Runs fn(i, utf8 text) over the batch on num_threads threads; texts are transcoded to UTF-8 in
// the workers and checked for disallowed special tokens first (then fn is skipped).
// Called with the GIL held; releases it while the batch runs. Ctrl-C stops the batch between
// texts and raises here.
template <class Fn>
void run_batch(const Encoding& e, const std::vector<StrRef>& refs, const SpecialMask& banned,
               int num_threads, BatchProblem& problem, Fn&& fn) {
  Interrupts intr;
  {
    GilRelease release;
    BatchText texts(e, refs, banned, problem);
    text::PooledTeam lease(text::resolve_threads(num_threads, refs.size()));
    lease.team().run(refs.size(), [&](std::size_t i) {
      if (intr.stop()) return;
      std::string_view t;
      if (texts.get(i, t)) fn(i, t);
    });
  }
  intr.raise_if_stopped();
}

// Encodes every text of the batch (GIL released); `problem` says if one held a banned special.
std::vector<std::vector<Rank>> encode_all(const Encoding& e, const std::vector<StrRef>& refs,
                                          const SpecialMask& mask, const SpecialMask& banned,
                                          int num_threads, BatchProblem& problem) {
  std::vector<std::vector<Rank>> outs(refs.size());
  run_batch(e, refs, banned, num_threads, problem, [&](std::size_t i, std::string_view t) {
    e.encode(t, mask, outs[i]);
  });
  return outs;
}

// encode_batch. With one thread: encode everything, then build the Python lists. With more, the
// calling thread encodes alongside the (pooled) workers and, between its own texts, turns the
// texts finished so far by any thread into Python lists (32k tokens at a time, GIL held), so that
// serial step (with storing ids, the encode/count gap: 1.09-1.25x) overlaps the workers' encoding
// instead of following it. Which thread encodes or converts a text never changes its result.
constexpr std::size_t kConvertChunkTokens = 1 << 15;

py::tuple encode_batch(const Encoding& e, const std::vector<StrRef>& refs, const SpecialMask& mask,
                       const SpecialMask& banned, int num_threads, const py::handle& int_cache) {
  const std::size_t n = refs.size();
  BatchProblem problem;
  py::list result(n);
  const std::size_t threads = text::resolve_threads(num_threads, n);
  if (threads <= 1) {
    std::vector<std::vector<Rank>> outs = encode_all(e, refs, mask, banned, 1, problem);
    if (problem.index != kNone) return py::make_tuple(py::none(), problem.token());
    for (std::size_t i = 0; i < n; ++i) result[i] = to_list(outs[i], int_cache);
    return py::make_tuple(result, py::none());
  }
  std::vector<std::vector<Rank>> outs(n);
  BatchText texts(e, refs, banned, problem);
  std::mutex ready_lock;
  std::vector<std::size_t> ready;  // encoded by a worker, not yet handed to the caller
  std::vector<std::size_t> batch;  // encoded, not yet converted (the caller's)
  std::size_t batch_tokens = 0;
  // With the GIL held: converts every text in `list` (an error stops the whole call).
  auto convert = [&](std::vector<std::size_t>& list) {
    for (std::size_t i : list) {
      result[i] = to_list(outs[i], int_cache);
      std::vector<Rank>().swap(outs[i]);  // peak memory: ids live in one form at a time
    }
    list.clear();
  };
  const std::thread::id caller = std::this_thread::get_id();
  Interrupts intr;
  {
    GilRelease release;
    text::PooledTeam lease(threads);
    lease.team().run(n, [&](std::size_t i) {
      if (intr.stop()) return;
      std::string_view t;
      const bool ok = texts.get(i, t);
      if (ok) e.encode(t, mask, outs[i]);
      if (std::this_thread::get_id() != caller) {
        if (ok) {
          std::lock_guard<std::mutex> g(ready_lock);
          ready.push_back(i);
        }
        return;
      }
      if (ok) {
        batch.push_back(i);
        batch_tokens += outs[i].size();
      }
      {
        std::lock_guard<std::mutex> g(ready_lock);
        for (std::size_t j : ready) batch_tokens += outs[j].size();
        batch.insert(batch.end(), ready.begin(), ready.end());
        ready.clear();
      }
      // Taking the GIL can wait for another busy Python thread (up to its switch interval), so
      // convert in chunks of many tokens, not per text. A problem discards the lists.
      if (problem.index != kNone || batch_tokens < kConvertChunkTokens) return;
      GilRelease::park_if_finalizing();  // (see GilRelease)
      py::gil_scoped_acquire acquire;
      convert(batch);
      batch_tokens = 0;
    });
  }
  intr.raise_if_stopped();
  if (problem.index != kNone) return py::make_tuple(py::none(), problem.token());
  // Every encoded text is in exactly one of: converted, `batch`, or `ready` (workers' last ones).
  batch.insert(batch.end(), ready.begin(), ready.end());
  convert(batch);
  return py::make_tuple(result, py::none());
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<Encoding, EncodingPtr>(m, "CoreEncoding",
                                    "Immutable native BPE encoding; thread-safe, GIL released.")
      .def_static("from_tiktoken", &from_tiktoken, py::arg("name"), py::arg("pretokenizer"),
                  py::arg("data"), py::arg("specials"), py::arg("source"))
      .def_static("from_hf_json", &from_hf_json, py::arg("name"), py::arg("data"),
                  py::arg("source"))
      .def_static("from_tekken", &from_tekken, py::arg("name"), py::arg("data"), py::arg("source"))
      .def_property_readonly("name", &Encoding::name)
      .def_property_readonly("pretokenizer",
                             [](const Encoding& e) { return tokenizer::pretokenizer_name(e.pretokenizer()); })
      .def_property_readonly("n_mergeable", &Encoding::n_mergeable)
      .def_property_readonly("max_token_value", &Encoding::max_token_value)
      .def_property_readonly("memory_bytes", &Encoding::memory_bytes)
      .def_property_readonly("merge_mode", &Encoding::merge_mode)
      .def_property_readonly("specials",
                             [](const Encoding& e) {
                               py::dict d;
                               for (const auto& s : e.specials())
                                 if (!s.always) d[py::str(s.text)] = s.id;  // not HF's non-special added tokens
                               return d;
                             })
      .def("encode_ordinary",
           [](const Encoding& e, const py::handle& text, const py::handle& int_cache) {
             Utf8 t(text);
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode_ordinary(t.view(), out);
             }
             return to_list(out, int_cache);
           },
           py::arg("text"), py::arg("int_cache") = py::none())
      .def("encode",
           [](const Encoding& e, const py::handle& text, const py::handle& allowed,
              const py::handle& int_cache) {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, allowed);
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode(t.view(), mask, out);
             }
             return to_list(out, int_cache);
           },
           py::arg("text"), py::arg("allowed"), py::arg("int_cache") = py::none())
      .def("encode_with_unstable",
           [](const Encoding& e, const py::handle& text, const py::handle& allowed,
              const py::handle& int_cache) {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, allowed);
             Encoding::Unstable r;
             {
               GilRelease release;
               r = e.encode_with_unstable(t.view(), mask);
             }
             py::list completions(r.completions.size());
             for (std::size_t i = 0; i < r.completions.size(); ++i)
               completions[i] = to_list(r.completions[i], int_cache);
             return py::make_tuple(to_list(r.tokens, int_cache), completions);
           },
           py::arg("text"), py::arg("allowed"), py::arg("int_cache") = py::none())
      .def("encode_bytes",
           [](const Encoding& e, py::bytes data, const py::handle& int_cache) {
             std::string_view v = data;
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode_bytes(v, out);
             }
             return to_list(out, int_cache);
           },
           py::arg("data"), py::arg("int_cache") = py::none())
      .def("encode_to_numpy",
           [](const Encoding& e, const py::handle& text, const py::handle& allowed) {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, allowed);
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode(t.view(), mask, out);
             }
             return to_numpy(std::move(out));
           },
           py::arg("text"), py::arg("allowed"))
      .def("count",
           [](const Encoding& e, const py::handle& text, const py::handle& allowed) {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, allowed);
             GilRelease release;
             return e.count(t.view(), mask);
           },
           py::arg("text"), py::arg("allowed"))
      .def("encode_batch",
           [](const Encoding& e, const py::handle& texts, const py::handle& allowed,
              const py::handle& disallowed, int num_threads, const py::handle& int_cache) {
             py::tuple keep;
             std::vector<StrRef> refs = str_refs(texts, keep);
             SpecialMask mask = make_mask(e, allowed), banned = make_mask(e, disallowed);
             return encode_batch(e, refs, mask, banned, num_threads, int_cache);
           },
           py::arg("texts"), py::arg("allowed"), py::arg("disallowed"), py::arg("num_threads"),
           py::arg("int_cache") = py::none(),
           "Returns (token lists, None) or (None, the first disallowed special token found).")
      .def("encode_batch_to_numpy",
           [](const Encoding& e, const py::handle& texts, const py::handle& allowed,
              const py::handle& disallowed, int num_threads) -> py::tuple {
             py::tuple keep;
             std::vector<StrRef> refs = str_refs(texts, keep);
             SpecialMask mask = make_mask(e, allowed), banned = make_mask(e, disallowed);
             BatchProblem problem;
             std::vector<std::vector<Rank>> outs = encode_all(e, refs, mask, banned, num_threads, problem);
             if (problem.index != kNone) return py::make_tuple(py::none(), problem.token());
             py::list result(outs.size());
             for (std::size_t i = 0; i < outs.size(); ++i) result[i] = to_numpy(std::move(outs[i]));
             return py::make_tuple(result, py::none());
           },
           py::arg("texts"), py::arg("allowed"), py::arg("disallowed"), py::arg("num_threads"),
           "Returns (uint32 arrays, None) or (None, the first disallowed special token found).")
      .def("count_batch",
           [](const Encoding& e, const py::handle& texts, const py::handle& allowed,
              const py::handle& disallowed, int num_threads) {
             py::tuple keep;
             std::vector<StrRef> refs = str_refs(texts, keep);
             SpecialMask mask = make_mask(e, allowed), banned = make_mask(e, disallowed);
             std::vector<std::int64_t> counts(refs.size());
             BatchProblem problem;
             run_batch(e, refs, banned, num_threads, problem, [&](std::size_t i, std::string_view t) {
               counts[i] = static_cast<std::int64_t>(e.count(t, mask));
             });
             return py::make_tuple(to_numpy(std::move(counts)), problem.token());
           },
           py::arg("texts"), py::arg("allowed"), py::arg("disallowed"), py::arg("num_threads"),
           "Returns (int64 counts, None) or (_, the first disallowed special token found).")
      .def("find_special",
           [](const Encoding& e, const py::handle& text, const py::handle& candidates) -> py::object {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, candidates);
             Encoding::SpecialMatch match;
             {
               GilRelease release;
               match = e.find_special(t.view(), 0, &mask);
             }
             if (match.pos == std::string_view::npos) return py::none();
             return py::str(e.specials()[match.index].text);
           },
           py::arg("text"), py::arg("candidates"),
           "The first special token (among candidates) whose text occurs in text, or None.")
      .def("truncate",
           [](const Encoding& e, const py::handle& text, std::size_t max_tokens,
              const py::handle& allowed, bool keep_end) {
             Utf8 t(text);
             SpecialMask mask = make_mask(e, allowed);
             std::string_view v = t.view();
             std::string_view kept;
             {
               GilRelease release;
               if (keep_end) kept = v.substr(e.truncate_suffix_start(v, max_tokens, mask));
               else kept = v.substr(0, e.truncate_prefix(v, max_tokens, mask));
             }
             return py::str(kept.data(), kept.size());
           },
           py::arg("text"), py::arg("max_tokens"), py::arg("allowed"), py::arg("keep_end"))
      .def("encode_single_piece",
           [](const Encoding& e, py::bytes data) {
             std::string_view v = data;
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode_single_piece(v, out);
             }
             return to_list(out);
           },
           py::arg("data"))
      .def("encode_single_piece_reference",
           [](const Encoding& e, py::bytes data) {
             std::string_view v = data;
             std::vector<Rank> out;
             {
               GilRelease release;
               e.encode_single_piece_reference(v, out);
             }
             return to_list(out);
           },
           py::arg("data"), "BPE of one piece with the plain heap merge (test oracle).")
      .def("encode_single_token",
           [](const Encoding& e, py::bytes data) {
             std::string_view v = data;
             Rank id = e.token_id(v);
             if (id == tokenizer::kNoRank) {  // KeyError(b'...') holding the bytes, as tiktoken
               PyErr_SetObject(PyExc_KeyError, data.ptr());
               throw py::error_already_set();
             }
             return id;
           },
           py::arg("data"))
      .def("decode_bytes",
           [](const Encoding& e, const py::handle& tokens) {
             std::vector<Rank> ids = to_ids(tokens);
             std::string out;
             {
               GilRelease release;
               out = e.decode_bytes(ids.data(), ids.size());
             }
             return as_bytes(out);
           },
           py::arg("tokens"))
      .def("decode_single_token_bytes",
           [](const Encoding& e, std::int64_t id) {
             if (id < 0 || id > 0xFFFFFFFFll || !e.has_token(static_cast<Rank>(id)))
               throw py::key_error("Invalid token for decoding: " + std::to_string(id));
             return as_bytes(e.token_bytes(static_cast<Rank>(id)));
           },
           py::arg("token"))
      .def("decode_tokens_bytes",
           [](const Encoding& e, const py::handle& tokens) {
             std::vector<Rank> ids = to_ids(tokens);
             py::list out(ids.size());
             for (std::size_t i = 0; i < ids.size(); ++i) out[i] = as_bytes(e.token_bytes(ids[i]));
             return out;
           },
           py::arg("tokens"))
      .def("token_byte_values", [](const Encoding& e) {
        const std::vector<Rank>& sorted = e.tokens_by_bytes();
        py::list out(sorted.size());
        for (std::size_t i = 0; i < sorted.size(); ++i) out[i] = as_bytes(e.token_bytes(sorted[i]));
        return out;
      });

  m.def("clear_bpe_memo", &Encoding::clear_memos,
        "Empties every thread's memo of BPE results, the batch workers' included (for cold-cache "
        "benchmarks).");

  py::class_<tokenizer::StreamDecoder>(m, "CoreStreamDecoder")
      .def(py::init([](const EncodingPtr& e) { return tokenizer::StreamDecoder(e); }), py::arg("encoding"))
      .def("push",
           [](tokenizer::StreamDecoder& d, const py::handle& tokens) {
             std::vector<Rank> ids = to_ids(tokens);
             return as_bytes(d.push(ids.data(), ids.size()));
           },
           py::arg("tokens"))
      .def("flush", [](tokenizer::StreamDecoder& d) { return as_bytes(d.flush()); })
      .def_property_readonly("pending", &tokenizer::StreamDecoder::pending);
}

}  // namespace tokenops::bindings
