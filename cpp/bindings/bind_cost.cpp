// Binding of the cost module: the price catalogue, per-call pricing in both modes, and batch
// pricing over numpy columns (GIL released).
#include <cmath>
#include <memory>
#include <string>

#include "common.hpp"
#include "tokenops/cost/catalog.hpp"
#include "tokenops/cost/engine.hpp"
#include "tokenops/io/price_files.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::bindings {

using cost::Catalog;
using CatalogPtr = std::shared_ptr<Catalog>;

namespace {

cost::Usage to_usage(const py::handle& counts) {
  cost::Usage u;
  py::sequence s = py::reinterpret_borrow<py::sequence>(counts);
  if (s.size() != static_cast<std::size_t>(cost::kNumBuckets))
    throw py::value_error("usage must have " + std::to_string(cost::kNumBuckets) + " bucket counts");
  for (int b = 0; b < cost::kNumBuckets; ++b) u.n[b] = s[static_cast<std::size_t>(b)].cast<std::int64_t>();
  return u;
}

py::object price_dict(const cost::Price& p) {
  if (!p.set) return py::none();
  py::dict d;
  d["usd"] = p.usd;
  d["exact"] = cost::atto_to_string(p.atto);  // exact USD per unit as a decimal string
  d["inexact"] = p.inexact;
  return d;
}

py::dict entry_dict(const cost::ModelEntry& e) {
  py::dict d;
  d["key"] = e.key;
  d["provider"] = e.provider;
  d["mode"] = e.mode;
  d["aliases"] = e.aliases;
  d["context_window"] = e.context_window;
  d["max_output"] = e.max_output;
  d["total_window"] = e.total_window;
  d["modalities"] = e.modalities;
  d["tokenizer"] = e.tokenizer;
  d["deprecation_date"] = e.deprecation_date;
  d["source"] = e.source;
  d["checked_date"] = e.checked_date;
  d["supports_prompt_caching"] = e.supports_prompt_caching;
  py::list rows;
  for (const auto& r : e.rows) {
    py::dict rd;
    rd["tier"] = cost::service_tier_name(r.tier);
    rd["threshold"] = r.threshold;
    rd["upper"] = r.upper;
    rd["mode"] = r.mode == cost::TierMode::Cliff ? "cliff" : "band";
    rd["label"] = r.label;
    rd["effective_from"] = r.effective_from;
    rd["effective_to"] = r.effective_to;
    py::dict prices;
    for (int b = 0; b < cost::kNumBuckets; ++b)
      if (r.prices[b].set) prices[cost::bucket_name(b)] = price_dict(r.prices[b]);
    rd["prices"] = prices;
    rows.append(rd);
  }
  d["rows"] = rows;
  py::dict lf;
  for (int k = 0; k < cost::kNumLitellmFields; ++k)
    if (e.litellm.has(k)) lf[cost::litellm_field_key(k)] = e.litellm.v[k];
  d["litellm_fields"] = lf;
  py::dict mult;
  for (const auto& m : e.multipliers) mult[py::str(m.key)] = m.value;
  d["multipliers"] = mult;
  py::dict unmodelled;  // kind -> {field, usd, exact}
  for (const auto& u : e.unmodelled) {
    py::dict ud;
    ud["field"] = u.field;
    ud["usd"] = u.price.usd;
    ud["exact"] = cost::atto_to_string(u.price.atto);
    unmodelled[py::str(u.kind)] = ud;
  }
  d["unmodelled"] = unmodelled;
  return d;
}

// LiteLLM's Usage as a dict of counts (tokenops.pricing.usage.litellm_usage_view) -> LitellmUsage.
cost::LitellmUsage to_litellm_usage(const py::dict& d) {
  cost::LitellmUsage u;
  auto get = [&](const char* k) -> std::int64_t {
    if (!d.contains(k)) throw py::value_error(std::string("LiteLLM usage view lacks '") + k + "'");
    return d[k].cast<std::int64_t>();
  };
  u.prompt_tokens = get("prompt_tokens");
  u.completion_tokens = get("completion_tokens");
  u.has_prompt_details = d.contains("has_prompt_details") && d["has_prompt_details"].cast<bool>();
  u.text = get("text_tokens");
  u.cache_hit = get("cached_tokens");
  u.cc_5m = get("cache_write_5m");
  u.cc_1h = get("cache_write_1h");
  u.audio = get("audio_tokens");
  u.image = get("image_tokens");
  u.c_text = get("completion_text_tokens");
  u.c_reasoning = get("reasoning_tokens");
  u.c_audio = get("completion_audio_tokens");
  u.c_image = get("completion_image_tokens");
  u.web_search = get("web_search");
  auto opt = [&](const char* k) -> std::int64_t { return d.contains(k) ? d[k].cast<std::int64_t>() : 0; };
  u.citation = opt("citation_tokens");
  u.image_count = opt("image_count");
  u.reasoning_on_top = d.contains("reasoning_on_top") && d["reasoning_on_top"].cast<bool>();
  return u;
}

py::tuple make_catalog(io::PriceImport imp, const std::string& source, const std::string& checked) {
  py::list problems;
  for (const auto& p : imp.problems) problems.append(py::make_tuple(p.key, p.field, p.message));
  CatalogPtr cat;
  {
    GilRelease release;
    cat = std::make_shared<Catalog>(std::move(imp.entries), source, checked);
  }
  return py::make_tuple(cat, problems);
}

const std::int64_t* column(const py::dict& cols, const char* name, std::size_t n,
                           std::vector<py::array_t<std::int64_t>>& keep) {
  if (!cols.contains(name)) return nullptr;
  py::object obj = cols[name];
  if (obj.is_none()) return nullptr;
  auto arr = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw py::type_error(std::string("usage column '") + name + "' must be an integer array");
  if (arr.ndim() != 1 || static_cast<std::size_t>(arr.size()) != n)
    throw py::value_error(std::string("usage column '") + name + "' must be 1-D with " + std::to_string(n) + " rows");
  keep.push_back(arr);
  return keep.back().data();
}

}  // namespace

void bind_cost(py::module_& m) {
  py::class_<Catalog, CatalogPtr>(m, "CoreCatalog", "Immutable native price catalogue; thread-safe.")
      .def_static(
          "from_litellm_json",
          [](py::bytes data, const std::string& source, const std::string& checked) {
            std::string_view content = data;
            io::PriceImport imp;
            {
              GilRelease release;
              imp = io::parse_litellm_prices(content, source, checked);
            }
            return make_catalog(std::move(imp), source, checked);
          },
          py::arg("data"), py::arg("source"), py::arg("checked_date"))
      .def_static(
          "from_genai_json",
          [](py::bytes data, const std::string& source, const std::string& checked) {
            std::string_view content = data;
            io::PriceImport imp;
            {
              GilRelease release;
              imp = io::parse_genai_prices(content, source, checked);
            }
            return make_catalog(std::move(imp), source, checked);
          },
          py::arg("data"), py::arg("source"), py::arg("checked_date"))
      .def("__len__", &Catalog::size)
      .def_property_readonly("source", &Catalog::source)
      .def_property_readonly("checked_date", &Catalog::checked_date)
      .def("keys",
           [](const Catalog& c) {
             py::list out;
             for (const auto& e : c.entries()) out.append(e.key);
             return out;
           })
      .def("entry", [](const Catalog& c, std::size_t i) { return entry_dict(c.entry(i)); }, py::arg("index"))
      .def("resolve",
           [](const Catalog& c, const std::string& name) {
             auto r = c.resolve(name);
             return py::make_tuple(r.index, r.matched_by);
           },
           py::arg("name"))
      .def("find_key",
           [](const Catalog& c, const std::string& key) -> py::object {
             auto r = c.find_key(key);
             if (!r) return py::none();
             return py::int_(*r);
           },
           py::arg("key"))
      .def("close_matches", &Catalog::close_matches, py::arg("name"), py::arg("k") = 5)
      .def("litellm_target",
           [](const Catalog& c, const std::string& name) {
             auto t = cost::litellm_target(c, name);
             py::dict d;
             d["route"] = cost::litellm_route_name(t.route);
             d["index"] = t.route == cost::LitellmRoute::Unmapped ? py::object(py::none()) : py::object(py::int_(t.index));
             d["provider"] = t.route_provider;
             d["model_arg"] = t.model_arg;
             return d;
           },
           py::arg("name"))
      .def("price_exact",
           [](const Catalog& c, std::size_t index, const py::handle& counts, const std::string& tier, std::int32_t date,
              const std::string& inference_geo, const std::string& speed) {
             cost::Usage u = to_usage(counts);
             cost::ServiceTier st = cost::service_tier_from_name(tier);
             const auto& e = c.entry(index);
             cost::ExactCost r;
             {
               GilRelease release;
               r = cost::price_exact(e, u, st, date, cost::CallContext{inference_geo, speed});
             }
             py::list lines;
             for (const auto& l : r.lines)
               lines.append(py::make_tuple(cost::bucket_name(l.bucket), l.units, cost::atto_to_string(l.price_atto),
                                           cost::atto_to_string(l.cost_atto), l.row, l.note));
             return py::make_tuple(cost::atto_to_string(r.total_atto), lines, r.row);
           },
           py::arg("index"), py::arg("counts"), py::arg("tier"), py::arg("date"), py::arg("inference_geo") = "",
           py::arg("speed") = "")
      .def("price_litellm",
           [](const Catalog& c, const std::string& name, const py::handle& counts, const std::string& tier,
              const py::object& view, const std::string& inference_geo, const std::string& speed) {
             cost::Usage u = to_usage(counts);
             cost::ServiceTier st = cost::service_tier_from_name(tier);
             cost::LitellmUsage lu;
             const bool has_view = !view.is_none();
             if (has_view) lu = to_litellm_usage(view.cast<py::dict>());
             cost::LitellmTarget t;
             cost::LitellmCost r;
             const cost::CallContext call{inference_geo, speed};
             {
               GilRelease release;
               t = cost::litellm_target(c, name);
               if (has_view) {
                 r = cost::price_litellm(c, t, lu, st, call);
               } else if (!call.empty()) {
                 cost::validate_usage(u);
                 r = cost::price_litellm(c, t, cost::litellm_usage_of(u), st, call);
               } else {
                 r = cost::price_litellm(c, t, u, st);
               }
             }
             py::dict parts, units;
             for (int b = 0; b < cost::kNumBuckets; ++b)
               if (!std::isnan(r.parts[b])) {
                 parts[cost::bucket_name(b)] = r.parts[b];
                 units[cost::bucket_name(b)] = r.units[b];
               }
             py::dict d;
             d["units"] = units;
             d["multiplier"] = r.multiplier;
             d["prompt"] = r.prompt;
             d["completion"] = r.completion;
             d["total"] = r.total;
             d["parts"] = parts;
             d["tier"] = r.tier;
             d["route"] = cost::litellm_route_name(t.route);
             d["index"] = t.index;
             d["provider"] = t.route_provider;
             return d;
           },
           py::arg("name"), py::arg("counts"), py::arg("tier"), py::arg("view") = py::none(),
           py::arg("inference_geo") = "", py::arg("speed") = "")
      .def(
          "price_batch",
          [](const Catalog& c, const std::string& mode, const std::vector<std::string>& names, const py::object& codes,
             const py::dict& cols, std::size_t n, const std::string& tier, std::int32_t date, int num_threads,
             bool split, const py::object& contexts) {
            cost::Mode md;
            if (mode == "litellm") md = cost::Mode::Litellm;
            else if (mode == "exact") md = cost::Mode::Exact;
            else throw py::value_error("mode must be 'litellm' or 'exact', not '" + mode + "'");
            cost::ServiceTier st = cost::service_tier_from_name(tier);
            std::vector<std::pair<std::string, std::string>> ctx;  // (inference_geo, speed) per name
            if (!contexts.is_none()) {
              ctx = contexts.cast<std::vector<std::pair<std::string, std::string>>>();
              if (ctx.size() != names.size()) throw py::value_error("contexts must hold one (inference_geo, speed) per model");
            }
            std::vector<cost::BatchModel> models;
            for (std::size_t k = 0; k < names.size(); ++k) {
              const std::string& nm = names[k];
              cost::BatchModel bm;
              if (!ctx.empty()) bm.call = cost::CallContext{ctx[k].first, ctx[k].second};
              if (md == cost::Mode::Litellm) {
                bm.target = cost::litellm_target(c, nm);
                if (bm.target.route == cost::LitellmRoute::Unmapped)
                  throw NotFound("LiteLLM cannot map model '" + nm + "'; close matches: " +
                                 [&] {
                                   std::string s;
                                   for (auto& k : c.close_matches(nm, 5)) s += (s.empty() ? "" : ", ") + k;
                                   return s;
                                 }());
              } else {
                bm.index = c.resolve(nm).index;
              }
              models.push_back(std::move(bm));
            }
            py::array_t<std::int32_t> code_arr;
            const std::int32_t* code_ptr = nullptr;
            if (!codes.is_none()) {
              code_arr = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>::ensure(codes);
              if (!code_arr || code_arr.ndim() != 1 || static_cast<std::size_t>(code_arr.size()) != n)
                throw py::value_error("model codes must be a 1-D integer array with one code per row");
              code_ptr = code_arr.data();
            } else if (names.size() != 1) {
              throw py::value_error("several models need a model code per row");
            }
            std::vector<py::array_t<std::int64_t>> keep;
            keep.reserve(cost::kNumBuckets);
            std::array<const std::int64_t*, cost::kNumBuckets> ptrs{};
            for (int b = 0; b < cost::kNumBuckets; ++b) ptrs[b] = column(cols, cost::bucket_name(b), n, keep);
            for (auto item : cols) {
              std::string k = py::str(item.first);
              cost::bucket_from_name(k);  // unknown column names raise ValueError listing buckets
            }
            std::vector<double> total(n), prompt(split ? n : 0), completion(split ? n : 0);
            bool sum_overflow = false;  // the per-row totals stand; only the exact grand sum is lost
            const cost::i128 grand = interruptible([&](const text::StopFn& stop) {
              return cost::price_batch(c, md, models, code_ptr, ptrs, n, st, date, num_threads, total.data(),
                                       split ? prompt.data() : nullptr, split ? completion.data() : nullptr, stop,
                                       &sum_overflow);
            });
            py::object p = split ? py::object(to_numpy(std::move(prompt))) : py::object(py::none());
            py::object q = split ? py::object(to_numpy(std::move(completion))) : py::object(py::none());
            return py::make_tuple(to_numpy(std::move(total)), p, q,
                                  sum_overflow ? py::object(py::none()) : py::object(py::str(cost::atto_to_string(grand))));
          },
          py::arg("mode"), py::arg("names"), py::arg("codes"), py::arg("columns"), py::arg("n"), py::arg("tier"),
          py::arg("date"), py::arg("num_threads") = 0, py::arg("split") = false, py::arg("contexts") = py::none());

  m.def("cost_bucket_names", [] {
    py::list out;
    for (int b = 0; b < cost::kNumBuckets; ++b) out.append(cost::bucket_name(b));
    return out;
  });
  m.def("parse_iso_date", [](const std::string& s, const std::string& field) { return cost::parse_iso_date(s, field); },
        py::arg("date"), py::arg("field") = "date");
}

}  // namespace tokenops::bindings
