#pragma once
// Monte-Carlo simulator of agent workflows whose context compounds: steps with token
// distributions, context policies, provider prefix-cache behaviour, routing / caps / token budget
// policies, priced per call. Each task draws from its own counter-based RNG stream (seed, task
// index), so results are identical for any thread count.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenops/text/parallel.hpp"
#include "tokenops/cost/catalog.hpp"

namespace tokenops::budget {

/// A token-count distribution. Samples are rounded to integers and clipped to [lo, hi].
struct Dist {
  enum Kind : std::uint8_t { Const = 0, Uniform, Normal, LogNormal, Poisson } kind = Const;
  double a = 0;  // Const: value; Uniform: low; Normal/LogNormal: mean; Poisson: mean
  double b = 0;  // Uniform: high; Normal/LogNormal: standard deviation
  double lo = 0;
  double hi = 1e15;
  double mean() const;  // the value used in deterministic mode (rounded)
};

/// InvalidArgument ("<where>: ...") for a distribution the simulator cannot sample honestly:
/// non-finite parameters, bounds outside [0, 1e15], or parameters that clipping to [lo, hi] would
/// silently change (a negative constant, uniform low or mean; a constant outside [lo, hi]).
void check_dist(const Dist& d, const std::string& where);

/// Counter-based RNG (SplitMix64 stream), cheap to seed per task.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream);
  std::uint64_t next();
  double uniform();  // [0, 1)
  double normal();
  std::int64_t sample(const Dist& d);

 private:
  std::uint64_t s_;
  double spare_ = 0;
  bool has_spare_ = false;
};

/// Provider prefix-cache behaviour.
struct CacheSpec {
  enum Kind : std::uint8_t { None = 0, Automatic, Explicit } kind = None;
  std::int64_t min_tokens = 1024;  // minimum cacheable prefix
  std::int64_t increment = 1;      // cached length is a multiple of this (OpenAI: 128)
  double ttl_seconds = 300;        // expiry after the last use
  bool write_1h = false;           // Explicit: writes are 1-hour (else 5-minute)
};

/// A model as the simulator prices it: float64 USD per token per bucket, optional cliff tier.
struct SimModel {
  std::string name;
  std::array<double, cost::kNumBuckets> price{};
  std::int64_t threshold = 0;  // 0: no long-context tier
  std::array<double, cost::kNumBuckets> price_above{};
  CacheSpec cache;
  double output_tokens_per_second = 60;
  double seconds_per_call = 1.0;
  // 0: unknown. A prompt over max_input (or over the whole context window) is rejected by the
  // API (the task fails there, unbilled); output beyond max_output, or beyond what the context
  // window leaves after the prompt, is cut (truncated). Reasoning tokens count against both
  // limits (OpenAI's max_output_tokens includes them): the reasoning is cut to the room first,
  // the answer gets what it leaves. context_window is the input + output limit; max_input the
  // input limit (LiteLLM's max_input_tokens, e.g. gpt-5: 272k input, 128k output, 400k window).
  std::int64_t context_window = 0;
  std::int64_t max_output = 0;
  std::int64_t max_input = 0;
};

struct RouteChoice {
  int model = 0;
  double weight = 1;  // finite, >= 0, relative to the step's other routes (not all 0)
};

struct Step {
  std::string name;
  Dist calls{Dist::Const, 1};  // iterations this step needs per task (loops)
  Dist user_input;
  Dist retrieved;
  Dist tool_output;  // tool results fed to the call
  Dist output;
  Dist reasoning;
  Dist gap_seconds;  // wall time before each call (tool execution, user)
  double p_success = 1.0;
  int max_retries = 0;
  bool dynamic_prefix = false;  // a timestamp before the static prefix: nothing is cacheable
  std::vector<RouteChoice> route;  // model mix for this step (empty: the workflow's default)
  int iteration_cap = 0;           // 0: none; a task needing more iterations fails
};

enum class ContextPolicy : std::uint8_t { Stateless = 0, FullHistory, RollingSummary, LastK };
enum class BudgetAction : std::uint8_t { Summarize = 0, Escalate, Stop };

struct Workflow {
  Dist system_prompt;
  Dist tool_schema;
  std::vector<Step> steps;
  ContextPolicy context = ContextPolicy::FullHistory;
  // RollingSummary: the history is summarised right before a call that would resend more than
  // this (never after a task's last call); the summary call is checked against token_budget.
  std::int64_t summary_threshold = 0;
  std::int64_t summary_tokens = 1000;  // size of a summary
  int last_k = 4;                      // LastK: turns kept
  std::int64_t tool_truncate = 0;      // 0: no truncation of tool results
  std::int64_t output_cap = 0;         // 0: none; a capped output fails the call
  std::int64_t token_budget = 0;       // per task, 0: none; every call (summary calls too) is checked
  BudgetAction on_budget = BudgetAction::Stop;
  int escalate_model = -1;
  int default_model = 0;
};

/// Per-task results, one row per task, and (for small runs) a per-call trace.
struct SimResult {
  static constexpr int kTok = cost::kNumBuckets;
  std::size_t n = 0;
  std::size_t n_steps = 0;
  std::vector<std::int64_t> tokens;   // n x kTok
  std::vector<double> cost;           // n
  std::vector<double> step_cost;      // n x (n_steps + 1); last column: summaries
  std::vector<std::int64_t> calls;    // n
  std::vector<std::uint8_t> completed;  // n
  std::vector<std::int64_t> context_peak;  // n: largest prompt
  std::vector<std::uint8_t> overflow;      // n: 1 if a prompt exceeded its model's context window
  // Trace of task 0: one row per call.
  struct Call {
    int step;
    int iteration;
    int attempt;
    int model;
    std::int64_t input;  // prompt tokens
    std::int64_t output;
    std::int64_t cache_read, cache_write;
    double cost;
    bool summary;
  };
  std::vector<Call> trace;
  std::uint64_t total_calls = 0;
};

/// Runs `n` tasks. `deterministic` replaces every distribution by its mean and every probability
/// by its expectation's outcome (success). Throws InvalidArgument naming a bad parameter.
/// `stop` (optional, Ctrl-C) is asked between chunks of 256 tasks; once it says true the tasks
/// not reached stay zero (the caller discards the result).
SimResult simulate(const Workflow& wf, const std::vector<SimModel>& models, std::size_t n, std::uint64_t seed,
                   bool deterministic, int num_threads, const text::StopFn& stop = {});

}  // namespace tokenops::budget
