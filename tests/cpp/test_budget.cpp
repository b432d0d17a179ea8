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

namespace {

Workflow one_step(double user, double out, double reasoning, ContextPolicy ctx = ContextPolicy::Stateless) {
  Workflow wf;
  wf.context = ctx;
  Step s;
  s.name = "s";
  s.user_input = c(user);
  s.output = c(out);
  s.reasoning = c(reasoning);
  wf.steps.push_back(s);
  return wf;
}

std::int64_t task_tokens(const SimResult& r, std::size_t task = 0) {
  std::int64_t t = 0;
  for (int b = 0; b < SimResult::kTok; ++b) t += r.tokens[task * SimResult::kTok + b];
  return t;
}

std::size_t summaries(const SimResult& r) {
  return static_cast<std::size_t>(
      std::count_if(r.trace.begin(), r.trace.end(), [](const SimResult::Call& x) { return x.summary; }));
}

}  // namespace

TEST(Simulator, ReasoningCountsAgainstMaxOutputAndTheWindow) {
  // o3's limits: 200k window, 100k max output. The reasoning was kept whole and billed.
  SimModel m = model(CacheSpec::None);
  m.context_window = 200000;
  m.max_input = 200000;
  m.max_output = 100000;
  auto r = simulate(one_step(1000, 500, 150000), {m}, 1, 0, true, 1);
  EXPECT_EQ(r.tokens[cost::kReasoning], 100000);
  EXPECT_EQ(r.tokens[cost::kOutputText], 0);
  EXPECT_EQ(r.completed[0], 0);  // cut: truncated
  EXPECT_EQ(r.trace.at(0).output, 100000);
  // the window: a 190k prompt leaves 10k for reasoning and answer together
  auto w = simulate(one_step(190000, 500, 50000), {m}, 1, 0, true, 1);
  EXPECT_EQ(w.tokens[cost::kReasoning], 10000);
  EXPECT_EQ(w.tokens[cost::kOutputText], 0);
  EXPECT_EQ(task_tokens(w), 200000);
  EXPECT_EQ(w.completed[0], 0);
  EXPECT_EQ(w.overflow[0], 0);
  // reasoning that fits leaves the answer what remains
  auto a = simulate(one_step(1000, 5000, 98000), {m}, 1, 0, true, 1);
  EXPECT_EQ(a.tokens[cost::kReasoning], 98000);
  EXPECT_EQ(a.tokens[cost::kOutputText], 2000);
  EXPECT_EQ(a.completed[0], 0);
  EXPECT_EQ(simulate(one_step(1000, 2000, 98000), {m}, 1, 0, true, 1).completed[0], 1);
}

TEST(Simulator, SummaryCallsPassTheTokenBudgetCheck) {
  // Three calls of 3k in + 1k out; the history (8k) passes the 5k threshold before the third,
  // whose summary (8k prompt + 500) would take the task from 12k to 20.5k tokens.
  Workflow wf;
  wf.context = ContextPolicy::RollingSummary;
  wf.summary_threshold = 5000;
  wf.summary_tokens = 500;
  wf.token_budget = 12000;
  for (const char* name : {"a", "b", "c"}) {
    Step s;
    s.name = name;
    s.user_input = c(3000);
    s.output = c(1000);
    wf.steps.push_back(s);
  }
  SimModel small = model(CacheSpec::None), big = model(CacheSpec::None);
  for (auto& p : big.price) p *= 4;
  wf.on_budget = BudgetAction::Stop;  // a hard cap: the task stops before the summary
  auto stop = simulate(wf, {small}, 1, 0, true, 1);
  EXPECT_EQ(stop.completed[0], 0);
  EXPECT_EQ(task_tokens(stop), 12000);
  EXPECT_EQ(summaries(stop), 0u);
  EXPECT_EQ(stop.calls[0], 2);
  wf.on_budget = BudgetAction::Escalate;  // the summary and the rest of the task on the stronger model
  wf.escalate_model = 1;
  auto esc = simulate(wf, {small, big}, 1, 0, true, 1);
  EXPECT_EQ(esc.completed[0], 1);
  ASSERT_EQ(esc.trace.size(), 4u);
  EXPECT_TRUE(esc.trace[2].summary);
  EXPECT_EQ(esc.trace[2].model, 1);
  EXPECT_EQ(esc.trace[3].model, 1);
  wf.on_budget = BudgetAction::Summarize;  // a summary is what the budget asks for: compaction goes on
  wf.escalate_model = -1;
  auto sum = simulate(wf, {small}, 1, 0, true, 1);
  EXPECT_EQ(sum.completed[0], 1);
  EXPECT_EQ(summaries(sum), 1u);
  EXPECT_EQ(sum.calls[0], 4);
}

TEST(Simulator, NoSummaryIsPaidThatNoCallReads) {
  SimModel m = model(CacheSpec::None);
  m.context_window = 128000;
  m.max_output = 16384;
  // the only call is truncated (the window leaves 7,999 tokens): the task fails, nothing follows
  Workflow wf = one_step(120000, 8000, 0, ContextPolicy::RollingSummary);
  wf.system_prompt = c(1);
  wf.summary_threshold = 30000;
  wf.summary_tokens = 1500;
  auto r = simulate(wf, {m}, 1, 0, true, 1);
  EXPECT_EQ(r.completed[0], 0);
  ASSERT_EQ(r.trace.size(), 1u);
  EXPECT_FALSE(r.trace[0].summary);
  EXPECT_EQ(r.step_cost[1], 0.0);  // the summaries' column
  // the history passes the threshold after the last call: no summary; with a third call, the
  // summary comes right before it
  Workflow loop = one_step(20000, 1000, 0, ContextPolicy::RollingSummary);
  loop.summary_threshold = 30000;
  loop.summary_tokens = 1500;
  loop.steps[0].calls = c(2);
  auto two = simulate(loop, {m}, 1, 0, true, 1);
  EXPECT_EQ(two.trace.size(), 2u);
  EXPECT_EQ(summaries(two), 0u);
  loop.steps[0].calls = c(3);
  auto three = simulate(loop, {m}, 1, 0, true, 1);
  ASSERT_EQ(three.trace.size(), 4u);
  EXPECT_TRUE(three.trace[2].summary);
  EXPECT_EQ(three.trace[2].input, 42000);
  EXPECT_EQ(three.trace[3].input, 1500 + 20000);
  EXPECT_FALSE(three.trace[3].summary);
}

TEST(Simulator, RouteWeightsWhoseSumIsInfiniteSplitEvenly) {
  // each weight finite, their sum inf: every task went to the last model
  Workflow wf = one_step(1000, 100, 0);
  wf.steps[0].route = {{0, 1e308}, {1, 1e308}};
  SimModel a = model(CacheSpec::None), b = model(CacheSpec::None);
  for (auto& p : b.price) p *= 2;
  const double cost_a = simulate(one_step(1000, 100, 0), {a}, 1, 0, true, 1).cost[0];
  auto r = simulate(wf, {a, b}, 4000, 5, false, 1);
  const auto on_a = std::count(r.cost.begin(), r.cost.end(), cost_a);
  EXPECT_GT(on_a, 1800);
  EXPECT_LT(on_a, 2200);
  Workflow zero = wf;  // all 0: no model to pick
  zero.steps[0].route = {{0, 0.0}, {1, 0.0}};
  EXPECT_THROW(simulate(zero, {a, b}, 4, 0, false, 1), InvalidArgument);
}

TEST(Simulator, CacheTtlIsMeasuredFromThePreviousCallsStart) {
  // The entry is written (or refreshed) when a call's prompt is processed, at its start. A call
  // takes 1 s + 600 tokens at 60/s = 11 s: a 288 s gap after it is 299 s after its start (hit),
  // a 290 s gap 301 s (miss); from the call's end both would hit.
  SimModel m = model(CacheSpec::Automatic);  // 5-minute TTL, 1,024-token minimum, 128-token units
  Workflow wf = one_step(100, 600, 0);
  wf.system_prompt = c(2048);
  wf.steps[0].calls = c(2);
  wf.steps[0].gap_seconds = c(288);
  auto hit = simulate(wf, {m}, 1, 0, true, 1);
  ASSERT_EQ(hit.trace.size(), 2u);
  EXPECT_EQ(hit.trace[1].cache_read, 2048);
  wf.steps[0].gap_seconds = c(290);
  auto miss = simulate(wf, {m}, 1, 0, true, 1);
  ASSERT_EQ(miss.trace.size(), 2u);
  EXPECT_EQ(miss.trace[1].cache_read, 0);
}
