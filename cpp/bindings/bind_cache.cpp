// Cache guards: the lexical checks that veto a semantic-cache hit (tokenops/cache/guard.hpp).
#include "common.hpp"
#include "tokenops/cache/guard.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::bindings {

void bind_cache(py::module_& m) {
  m.attr("CACHE_GUARD_NUMBERS") = static_cast<std::uint32_t>(cache::kGuardNumbers);
  m.attr("CACHE_GUARD_NEGATION") = static_cast<std::uint32_t>(cache::kGuardNegation);
  m.attr("CACHE_GUARD_ENTITIES") = static_cast<std::uint32_t>(cache::kGuardEntities);
  m.attr("CACHE_GUARD_QUOTED") = static_cast<std::uint32_t>(cache::kGuardQuoted);
  m.def(
      "cache_signature",
      [](py::handle text) {
        Utf8 t(text, "prompt");
        cache::Signature s;
        {
          GilRelease release;
          s = cache::signature(t.view());
        }
        py::dict d;
        d["numbers"] = s.numbers;
        d["entities"] = s.entities;
        d["quoted"] = s.quoted;
        d["negated"] = s.negated;
        return d;
      },
      py::arg("text"), "What the cache guards compare in a prompt (numbers, entities, quoted spans, negation).");
  m.def(
      "cache_guard",
      [](py::handle a, py::handle b, std::uint32_t guards) {
        Utf8 ta(a, "prompt"), tb(b, "cached_prompt");
        GilRelease release;
        return cache::mismatch(ta.view(), tb.view(), guards);
      },
      py::arg("prompt"), py::arg("cached_prompt"), py::arg("guards"),
      "Bits of the guards that fail between two prompts (0: a hit may stand).");
  m.def(
      "cache_guard_batch",
      [](py::handle a, py::handle b, std::uint32_t guards, int num_threads) {
        std::vector<Utf8> as = utf8_list(a, "prompts"), bs = utf8_list(b, "cached_prompts");
        if (as.size() != bs.size())
          throw py::value_error("prompts and cached_prompts differ in length: " + std::to_string(as.size()) +
                                " vs " + std::to_string(bs.size()));
        std::vector<std::uint32_t> out(as.size());
        {
          GilRelease release;
          text::parallel_for(as.size(), text::resolve_threads(num_threads, as.size()), [&](std::size_t i) {
            out[i] = cache::mismatch(as[i].view(), bs[i].view(), guards);
          });
        }
        return to_numpy(std::move(out));
      },
      py::arg("prompts"), py::arg("cached_prompts"), py::arg("guards"), py::arg("num_threads") = 0,
      "cache_guard over pairs (a uint32 array of failed-guard bits), GIL released.");
}

}  // namespace tokenops::bindings
