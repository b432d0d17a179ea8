#include <gtest/gtest.h>

#include <algorithm>

#include "tokenops/budget/simulator.hpp"
#include "tokenops/text/error.hpp"

using namespace tokenops;
using namespace tokenops::budget;

namespace {

Dist c(double v) { return Dist{Dist::Const, v}; }

Workflow seed_workflow() {
  Workflow wf;
  wf.system_prompt = c(2000);
  wf.tool_schema = c(3000);
  wf.context = ContextPolicy::Stateless;
  auto step = [](const char* name, double calls, double user, double retrieved, double tool, double out, double reas) {
    Step s;
    s.name = name;
    s.calls = c(calls);
    s.user_input = c(user);
    s.retrieved = c(retrieved);
    s.tool_output = c(tool);
    s.output = c(out);
    s.reasoning = c(reas);
    return s;
  };
  wf.steps = {step("planning", 1, 2400, 0, 0, 600, 0), step("tool_selection", 2, 4200, 0, 0, 800, 0),
              step("retrieval", 3, 1000, 9000, 0, 1000, 0), step("troubleshooting", 4, 1000, 4000, 8500, 1000, 500),
              step("validation_final", 2, 5000, 0, 0, 2000, 0)};
  wf.steps[3].calls = Dist{Dist::Poisson, 4, 0, 1, 12};
  wf.steps[3].tool_output = Dist{Dist::LogNormal, 8500, 4000};
  wf.steps[3].p_success = 0.9;
  wf.steps[3].max_retries = 2;
  return wf;
}

SimModel model(CacheSpec::Kind cache) {
  SimModel m;
  m.price[cost::kInputText] = 2.5e-6;
  m.price[cost::kCacheRead] = 1.25e-6;
  m.price[cost::kOutputText] = 1e-5;
  m.price[cost::kReasoning] = 1e-5;
  m.price_above = m.price;
  m.cache.kind = cache;
  m.cache.increment = 128;
  return m;
}

}  // namespace

TEST(Simulator, DeterministicSeedExample) {
  auto r = simulate(seed_workflow(), {model(CacheSpec::None)}, 1, 0, true, 1);
  EXPECT_EQ(r.calls[0], 12);
  std::int64_t tokens = 0;
  for (auto t : r.tokens) tokens += t;
  EXPECT_EQ(tokens, 180000);
  ASSERT_EQ(r.trace.size(), 12u);
  EXPECT_EQ(r.trace[0].input + r.trace[0].output, 8000);
  EXPECT_EQ(r.trace[11].input + r.trace[11].output, 12000);
}

TEST(Simulator, FullHistoryCompoundsAndCachesIn128TokenIncrements) {
  Workflow wf = seed_workflow();
  wf.context = ContextPolicy::FullHistory;
  auto r = simulate(wf, {model(CacheSpec::Automatic)}, 1, 0, true, 1);
  ASSERT_EQ(r.trace.size(), 12u);
  for (std::size_t i = 1; i < r.trace.size(); ++i) {
    EXPECT_GT(r.trace[i].input, r.trace[i - 1].input);
    EXPECT_EQ(r.trace[i].cache_read % 128, 0);
    EXPECT_GT(r.trace[i].cache_read, 0);
  }
}

TEST(Simulator, IdenticalForAnyThreadCountAndSeeded) {
  Workflow wf = seed_workflow();
  wf.context = ContextPolicy::FullHistory;
  auto a = simulate(wf, {model(CacheSpec::Explicit)}, 3000, 42, false, 1);
  auto b = simulate(wf, {model(CacheSpec::Explicit)}, 3000, 42, false, 4);
  auto d = simulate(wf, {model(CacheSpec::Explicit)}, 3000, 43, false, 4);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.completed, b.completed);
  EXPECT_NE(a.cost, d.cost);
  // the stop hook (Ctrl-C) is asked between chunks of tasks: never firing changes nothing
  int asked = 0;
  auto s = simulate(wf, {model(CacheSpec::Explicit)}, 3000, 42, false, 1, [&] { ++asked; return false; });
  EXPECT_EQ(s.cost, a.cost);
  EXPECT_GT(asked, 1);
  auto z = simulate(wf, {model(CacheSpec::Explicit)}, 3000, 42, false, 2, [] { return true; });
  EXPECT_EQ(std::count(z.calls.begin(), z.calls.end(), 0), 3000);
}

TEST(Simulator, BadParametersNameTheProblem) {
  Workflow wf = seed_workflow();
  wf.steps[1].p_success = 1.5;
  try {
    simulate(wf, {model(CacheSpec::None)}, 10, 0, false, 1);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tool_selection"), std::string::npos);
  }
  Workflow w2 = seed_workflow();
  w2.steps[0].output = Dist{Dist::Normal, 100, -1};
  EXPECT_THROW(simulate(w2, {model(CacheSpec::None)}, 10, 0, false, 1), InvalidArgument);
  EXPECT_THROW(simulate(seed_workflow(), {}, 10, 0, false, 1), InvalidArgument);
}

TEST(Simulator, ContextWindowRejectsAndMaxOutputCuts) {
  Workflow wf = seed_workflow();
  wf.context = ContextPolicy::FullHistory;
  SimModel m = model(CacheSpec::None);
  m.context_window = 30000;  // the history passes it during troubleshooting
  auto r = simulate(wf, {m}, 1, 0, true, 1);
  EXPECT_EQ(r.overflow[0], 1);
  EXPECT_EQ(r.completed[0], 0);
  for (const auto& c : r.trace) EXPECT_LE(c.input + c.output, 30000);  // nothing over the window is priced
  EXPECT_LT(r.trace.size(), 12u);
  SimModel capped = model(CacheSpec::None);
  capped.max_output = 900;  // validation_final wants 2000
  auto o = simulate(seed_workflow(), {capped}, 1, 0, true, 1);
  EXPECT_EQ(o.overflow[0], 0);
  EXPECT_EQ(o.completed[0], 0);
  EXPECT_EQ(o.trace.back().output, 900);
}

TEST(Simulator, LogNormalTooWideAndMeansOutsideTheirBoundsAreRefused) {
  Workflow wf = seed_workflow();
  wf.steps[0].user_input = Dist{Dist::LogNormal, 1000, 1e155};
  EXPECT_THROW(simulate(wf, {model(CacheSpec::None)}, 4, 0, false, 1), InvalidArgument);
  Workflow w2 = seed_workflow();
  w2.steps[0].user_input = Dist{Dist::Normal, 5000, 0, 0, 1000};
  EXPECT_THROW(simulate(w2, {model(CacheSpec::None)}, 4, 0, false, 1), InvalidArgument);
}

TEST(Simulator, InputLimitAndTotalWindowAreSeparateLimits) {
  // gpt-5: 272k input, 128k output, 400k window. A 250k prompt with a 30k answer fits; it used
  // to be cut to the 22k the input limit "left".
  Workflow wf;
  wf.context = ContextPolicy::Stateless;
  Step s;
  s.name = "s";
  s.user_input = Dist{Dist::Const, 250000};
  s.output = Dist{Dist::Const, 30000};
  wf.steps.push_back(s);
  SimModel m = model(CacheSpec::None);
  m.max_input = 272000;
  m.max_output = 128000;
  auto r = simulate(wf, {m}, 1, 0, true, 1);
  EXPECT_EQ(r.completed[0], 1);
  EXPECT_EQ(r.trace.at(0).output, 30000);
  m.context_window = 270000;  // a total window the catalogue knows still cuts the answer
  auto w = simulate(wf, {m}, 1, 0, true, 1);
  EXPECT_EQ(w.completed[0], 0);
  EXPECT_EQ(w.trace.at(0).output, 20000);
  SimModel small = model(CacheSpec::None);
  small.max_input = 200000;  // the prompt itself is over the input limit: rejected, unbilled
  auto o = simulate(wf, {small}, 1, 0, true, 1);
  EXPECT_EQ(o.overflow[0], 1);
  EXPECT_TRUE(o.trace.empty());
}
