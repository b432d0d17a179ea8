// Binding of the budget module: the workflow simulator. Specs arrive as plain dicts (built by
// tokenops.budget), are converted with the GIL held, and the simulation runs with it released.
#include <string>

#include "common.hpp"
#include "tokenops/budget/simulator.hpp"
#include "tokenops/text/error.hpp"

namespace tokenops::bindings {

namespace {

using budget::Dist;

Dist to_dist(const py::handle& h, const std::string& where) {
  if (h.is_none()) return Dist{};
  if (PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr())) {
    Dist d;
    d.a = h.cast<double>();
    return d;
  }
  if (!py::isinstance<py::dict>(h)) throw py::type_error(where + " must be a number or a distribution dict");
  py::dict d = py::reinterpret_borrow<py::dict>(h);
  Dist out;
  std::string kind = d.contains("kind") ? d["kind"].cast<std::string>() : "const";
  if (kind == "const") out.kind = Dist::Const;
  else if (kind == "uniform") out.kind = Dist::Uniform;
  else if (kind == "normal") out.kind = Dist::Normal;
  else if (kind == "lognormal") out.kind = Dist::LogNormal;
  else if (kind == "poisson") out.kind = Dist::Poisson;
  else throw py::value_error(where + ": unknown distribution kind '" + kind + "'");
  out.a = d.contains("a") ? d["a"].cast<double>() : 0.0;
  out.b = d.contains("b") ? d["b"].cast<double>() : 0.0;
  if (d.contains("lo")) out.lo = d["lo"].cast<double>();
  if (d.contains("hi")) out.hi = d["hi"].cast<double>();
  return out;
}

template <class T>
T get(const py::dict& d, const char* k, T def) {
  return d.contains(k) && !d[k].is_none() ? d[k].cast<T>() : def;
}

}  // namespace

void bind_budget(py::module_& m) {
  m.def(
      "check_distribution",
      [](const py::dict& spec, const std::string& where) { budget::check_dist(to_dist(spec, where), where); },
      py::arg("spec"), py::arg("where"),
      "ValueError naming `where` for a distribution the simulator refuses (see budget::check_dist).");
  m.def(
      "simulate_workflow",
      [](const py::dict& wfd, const py::list& modeld, std::size_t n, std::uint64_t seed, bool deterministic,
         int num_threads) {
        budget::Workflow wf;
        wf.system_prompt = to_dist(wfd["system_prompt"], "system_prompt");
        wf.tool_schema = to_dist(wfd["tool_schema"], "tool_schema");
        std::string ctx = get<std::string>(wfd, "context", "full_history");
        if (ctx == "stateless") wf.context = budget::ContextPolicy::Stateless;
        else if (ctx == "full_history") wf.context = budget::ContextPolicy::FullHistory;
        else if (ctx == "rolling_summary") wf.context = budget::ContextPolicy::RollingSummary;
        else if (ctx == "last_k") wf.context = budget::ContextPolicy::LastK;
        else throw py::value_error("unknown context policy '" + ctx + "'");
        wf.summary_threshold = get<std::int64_t>(wfd, "summary_threshold", 0);
        wf.summary_tokens = get<std::int64_t>(wfd, "summary_tokens", 1000);
        wf.last_k = get<int>(wfd, "last_k", 4);
        wf.tool_truncate = get<std::int64_t>(wfd, "tool_truncate", 0);
        wf.output_cap = get<std::int64_t>(wfd, "output_cap", 0);
        wf.token_budget = get<std::int64_t>(wfd, "token_budget", 0);
        std::string act = get<std::string>(wfd, "on_budget", "stop");
        if (act == "summarize") wf.on_budget = budget::BudgetAction::Summarize;
        else if (act == "escalate") wf.on_budget = budget::BudgetAction::Escalate;
        else if (act == "stop") wf.on_budget = budget::BudgetAction::Stop;
        else throw py::value_error("on_budget must be summarize, escalate or stop, not '" + act + "'");
        wf.escalate_model = get<int>(wfd, "escalate_model", -1);
        wf.default_model = get<int>(wfd, "default_model", 0);
        for (auto item : wfd["steps"].cast<py::list>()) {
          py::dict sd = item.cast<py::dict>();
          budget::Step st;
          st.name = get<std::string>(sd, "name", "step");
          const std::string w = "step '" + st.name + "'";
          st.calls = to_dist(sd["calls"], w + ".calls");
          st.user_input = to_dist(sd["user_input"], w + ".user_input");
          st.retrieved = to_dist(sd["retrieved"], w + ".retrieved");
          st.tool_output = to_dist(sd["tool_output"], w + ".tool_output");
          st.output = to_dist(sd["output"], w + ".output");
          st.reasoning = to_dist(sd["reasoning"], w + ".reasoning");
          st.gap_seconds = to_dist(sd["gap_seconds"], w + ".gap_seconds");
          st.p_success = get<double>(sd, "p_success", 1.0);
          st.max_retries = get<int>(sd, "max_retries", 0);
          st.dynamic_prefix = get<bool>(sd, "dynamic_prefix", false);
          st.iteration_cap = get<int>(sd, "iteration_cap", 0);
          if (sd.contains("route"))
            for (auto r : sd["route"].cast<py::list>()) {
              auto t = r.cast<py::tuple>();
              st.route.push_back({t[0].cast<int>(), t[1].cast<double>()});
            }
          wf.steps.push_back(std::move(st));
        }
        std::vector<budget::SimModel> models;
        for (auto item : modeld) {
          py::dict md = item.cast<py::dict>();
          budget::SimModel sm;
          sm.name = get<std::string>(md, "name", "model");
          auto price = md["price"].cast<std::vector<double>>();
          auto above = get<std::vector<double>>(md, "price_above", price);
          if (price.size() != cost::kNumBuckets || above.size() != cost::kNumBuckets)
            throw py::value_error("model '" + sm.name + "': price vectors must have one entry per bucket");
          std::copy(price.begin(), price.end(), sm.price.begin());
          std::copy(above.begin(), above.end(), sm.price_above.begin());
          sm.threshold = get<std::int64_t>(md, "threshold", 0);
          std::string ck = get<std::string>(md, "cache", "none");
          if (ck == "none") sm.cache.kind = budget::CacheSpec::None;
          else if (ck == "automatic") sm.cache.kind = budget::CacheSpec::Automatic;
          else if (ck == "explicit") sm.cache.kind = budget::CacheSpec::Explicit;
          else throw py::value_error("model '" + sm.name + "': unknown cache kind '" + ck + "'");
          sm.cache.min_tokens = get<std::int64_t>(md, "cache_min_tokens", 1024);
          sm.cache.increment = get<std::int64_t>(md, "cache_increment", 1);
          sm.cache.ttl_seconds = get<double>(md, "cache_ttl_seconds", 300.0);
          sm.cache.write_1h = get<bool>(md, "cache_write_1h", false);
          sm.output_tokens_per_second = get<double>(md, "output_tokens_per_second", 60.0);
          sm.seconds_per_call = get<double>(md, "seconds_per_call", 1.0);
          sm.context_window = get<std::int64_t>(md, "context_window", 0);
          sm.max_output = get<std::int64_t>(md, "max_output", 0);
          sm.max_input = get<std::int64_t>(md, "max_input", 0);
          if (sm.context_window < 0 || sm.max_output < 0 || sm.max_input < 0)
            throw py::value_error("model '" + sm.name +
                                  "': context_window, max_input and max_output must be >= 0 (0: unknown)");
          models.push_back(std::move(sm));
        }
        budget::SimResult r = interruptible([&](const text::StopFn& stop) {  // Ctrl-C: between chunks of 256 tasks
          return budget::simulate(wf, models, n, seed, deterministic, num_threads, stop);
        });
        py::dict out;
        auto tokens = to_numpy(std::move(r.tokens));
        out["tokens"] = tokens.reshape({static_cast<py::ssize_t>(r.n), static_cast<py::ssize_t>(budget::SimResult::kTok)});
        out["cost"] = to_numpy(std::move(r.cost));
        auto sc = to_numpy(std::move(r.step_cost));
        out["step_cost"] = sc.reshape({static_cast<py::ssize_t>(r.n), static_cast<py::ssize_t>(r.n_steps + 1)});
        out["calls"] = to_numpy(std::move(r.calls));
        out["completed"] = to_numpy(std::move(r.completed));
        out["context_peak"] = to_numpy(std::move(r.context_peak));
        out["overflow"] = to_numpy(std::move(r.overflow));
        out["total_calls"] = r.total_calls;
        py::list trace;
        for (const auto& c : r.trace)
          trace.append(py::make_tuple(c.step, c.iteration, c.attempt, c.model, c.input, c.output, c.cache_read,
                                      c.cache_write, c.cost, c.summary));
        out["trace"] = trace;
        return out;
      },
      py::arg("workflow"), py::arg("models"), py::arg("n"), py::arg("seed"), py::arg("deterministic"),
      py::arg("num_threads") = 0);
}

}  // namespace tokenops::bindings
