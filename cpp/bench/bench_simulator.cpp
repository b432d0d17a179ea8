// Throughput of the agent-workflow simulator without Python: bench_simulator [tasks] [repeat].
// The seed support workflow with full history and Anthropic-style explicit caching on one model,
// one thread; prints the best of `repeat` runs in simulated calls per second. Compare two builds
// (e.g. a change to Rng::sample) by running both binaries back to back.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include "tokenops/budget/simulator.hpp"
using namespace tokenops::budget;
namespace cost = tokenops::cost;
static Dist c(double v) { return Dist{Dist::Const, v}; }
int main(int argc, char** argv) {
  const std::size_t tasks = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 7;
  Workflow wf; wf.system_prompt = c(2000); wf.tool_schema = c(3000); wf.context = ContextPolicy::FullHistory;
  auto step = [](const char* n, double calls, double user, double ret, double tool, double out, double reas) {
    Step s; s.name = n; s.calls = c(calls); s.user_input = c(user); s.retrieved = c(ret); s.tool_output = c(tool);
    s.output = c(out); s.reasoning = c(reas); return s; };
  wf.steps = {step("planning", 1, 2400, 0, 0, 600, 0), step("tool_selection", 2, 4200, 0, 0, 800, 0),
              step("retrieval", 3, 1000, 9000, 0, 1000, 0), step("troubleshooting", 4, 1000, 4000, 8500, 1000, 500),
              step("validation_final", 2, 5000, 0, 0, 2000, 0)};
  wf.steps[3].calls = Dist{Dist::Poisson, 4, 0, 1, 12};
  wf.steps[3].tool_output = Dist{Dist::LogNormal, 8500, 4000};
  wf.steps[3].p_success = 0.9; wf.steps[3].max_retries = 2;
  SimModel m; m.price[cost::kInputText] = 3e-6; m.price[cost::kCacheRead] = 3e-7; m.price[cost::kCacheWrite5m] = 3.75e-6;
  m.price[cost::kOutputText] = 1.5e-5; m.price[cost::kReasoning] = 1.5e-5; m.price_above = m.price;
  m.cache.kind = CacheSpec::Explicit; m.cache.min_tokens = 1024; m.cache.increment = 1;
  double best = 1e9; std::uint64_t calls = 0;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    auto res = simulate(wf, {m}, tasks, 0, false, 1);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    calls = res.total_calls; best = std::min(best, dt / calls);
  }
  std::printf("%.2f M calls/s (%llu calls)\n", 1 / best / 1e6, (unsigned long long)calls);
}
