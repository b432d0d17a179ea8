#include "tokenops/budget/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "tokenops/text/error.hpp"
#include "tokenops/text/parallel.hpp"

namespace tokenops::budget {

using cost::kCacheRead;
using cost::kCacheWrite1h;
using cost::kCacheWrite5m;
using cost::kInputText;
using cost::kNumBuckets;
using cost::kOutputText;
using cost::kReasoning;

double Dist::mean() const {
  double m = 0;
  switch (kind) {
    case Const: m = a; break;
    case Uniform: m = (a + b) / 2; break;
    case Normal:
    case LogNormal:
    case Poisson: m = a; break;
  }
  return std::clamp(std::round(m), lo, hi);
}

namespace {

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr double kMaxSample = 1e15;

// a + b for the per-task token tallies; InvalidArgument instead of a wrapped (negative) count.
std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  TOKENOPS_CHECK(!__builtin_add_overflow(a, b, &r), InvalidArgument,
                 "simulate: a task's token counts exceed 2^63 - 1; check the distributions' sizes and the "
                 "calls per step");
  return r;
}

}  // namespace

void check_dist(const Dist& d, const std::string& where) {
  TOKENOPS_CHECK(std::isfinite(d.a) && std::isfinite(d.b), InvalidArgument, where,
                 ": parameters must be finite, got ", d.a, ", ", d.b);
  TOKENOPS_CHECK(d.lo >= 0 && d.lo <= d.hi, InvalidArgument, where,  // (NaN fails too)
                 ": need 0 <= lo <= hi (token counts cannot be negative), got lo=", d.lo, ", hi=", d.hi);
  // Samples are clipped to [lo, hi] and become int64: hi bounds them (1e15 tokens is already
  // far beyond any context window; past 2^63 the conversion is undefined).
  TOKENOPS_CHECK(d.hi <= kMaxSample, InvalidArgument, where, ": hi must be <= 1e15 (got ", d.hi, ")");
  // Parameters outside the counts' range would be clipped to lo or hi, silently (const(-1000)
  // became 0 tokens): refused.
  switch (d.kind) {
    case Dist::Const:
      TOKENOPS_CHECK(d.lo <= d.a && d.a <= d.hi, InvalidArgument, where, ": the value must be in [", d.lo,
                     ", ", d.hi, "] (token counts cannot be negative), got ", d.a);
      break;
    case Dist::Uniform:
      TOKENOPS_CHECK(d.a >= 0, InvalidArgument, where,
                     ": low must be >= 0 (token counts cannot be negative), got ", d.a);
      TOKENOPS_CHECK(d.a <= d.b, InvalidArgument, where, ": low > high (", d.a, " > ", d.b, ")");
      // uniform(0, 1e300) sampled 1e15 every time, normal(5000, lo=0, hi=1000) always 1000
      TOKENOPS_CHECK(d.lo <= d.a && d.b <= d.hi, InvalidArgument, where, ": [low, high] = [", d.a, ", ", d.b,
                     "] must lie within [lo, hi] = [", d.lo, ", ", d.hi, "] (samples are clipped to it)");
      break;
    default:
      TOKENOPS_CHECK(d.a >= 0, InvalidArgument, where,
                     ": mean must be >= 0 (token counts cannot be negative), got ", d.a);
      TOKENOPS_CHECK(d.lo <= d.a && d.a <= d.hi, InvalidArgument, where, ": the mean ", d.a,
                     " must lie within [lo, hi] = [", d.lo, ", ", d.hi, "] (samples are clipped to it)");
      if (d.kind != Dist::Poisson)
        TOKENOPS_CHECK(d.b >= 0, InvalidArgument, where, ": standard deviation must be >= 0, got ", d.b);
      if (d.kind == Dist::LogNormal && d.a > 0) {
        // The log-space parameters sample() derives; sd/mean beyond ~1e150 (or a mean near
        // 1e-170) overflows them to inf and every sample became NaN, then INT64_MIN tokens.
        const double sigma2 = std::log1p((d.b * d.b) / (d.a * d.a));
        const double mu = std::log(d.a) - sigma2 / 2;
        TOKENOPS_CHECK(std::isfinite(sigma2) && std::isfinite(mu), InvalidArgument, where,
                       ": mean ", d.a, " and standard deviation ", d.b,
                       " are too far apart for a log-normal (sd / mean must stay below ~1e150)");
      }
  }
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
  s_ = splitmix(x);
}

std::uint64_t Rng::next() { return splitmix(s_); }

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  double r = std::sqrt(-2.0 * std::log(u1));
  double th = 6.283185307179586 * u2;
  spare_ = r * std::sin(th);
  has_spare_ = true;
  return r * std::cos(th);
}

std::int64_t Rng::sample(const Dist& d) {
  double v = 0;
  switch (d.kind) {
    case Dist::Const: v = d.a; break;
    case Dist::Uniform: v = d.a + (d.b - d.a) * uniform(); break;
    case Dist::Normal: v = d.a + d.b * normal(); break;
    case Dist::LogNormal: {
      if (d.a <= 0) {
        v = 0;
        break;
      }
      // parameterised by the mean and sd of the distribution itself
      double var = d.b * d.b, m2 = d.a * d.a;
      double sigma2 = std::log1p(var / m2);
      double mu = std::log(d.a) - sigma2 / 2;
      v = std::exp(mu + std::sqrt(sigma2) * normal());
      break;
    }
    case Dist::Poisson: {
      if (d.a < 30) {
        double L = std::exp(-d.a), p = 1.0;
        std::int64_t k = 0;
        do {
          ++k;
          p *= uniform();
        } while (p > L);
        v = static_cast<double>(k - 1);
      } else {
        v = d.a + std::sqrt(d.a) * normal();
      }
      break;
    }
  }
  // check_dist keeps every parameter (and the log-normal's mu, sigma) finite, so v is never NaN;
  // an infinite draw (exp overflow at a ~1e-300 uniform) is clamped to hi before the cast. (A
  // per-draw isfinite test here cost a quarter of the simulator's speed.)
  return static_cast<std::int64_t>(std::clamp(std::round(v), d.lo, d.hi));
}

namespace {

// A task drawing more calls than this (huge `calls`, or retries that never succeed) is a mistake
// in the workflow; simulating it would run for hours and grow the trace without bound.
constexpr std::int64_t kMaxCallsPerTask = 1'000'000;

struct CacheState {
  bool valid = false;
  std::uint64_t version = 0;
  std::int64_t prompt_len = 0;
  double last_time = -1e300;
};

struct TaskRunner {
  const Workflow& wf;
  const std::vector<SimModel>& models;
  bool det;
  SimResult& res;
  // per model: the longest prompt the API takes (the smaller of max_input and the context
  // window, where known; 0: no limit)
  const std::vector<std::int64_t>& prompt_limit;

  int pick_model(const Step& st, Rng& rng) const {
    if (st.route.empty()) return wf.default_model;
    if (st.route.size() == 1) return st.route[0].model;
    const RouteChoice* best = &st.route[0];  // the heaviest route (the first of equals)
    for (const auto& r : st.route)
      if (r.weight > best->weight) best = &r;
    if (det) return best->model;  // deterministic: the heaviest route
    // Weights relative to the largest (> 0, simulate() checks): finite weights whose sum is inf
    // (1e308 + 1e308) sent every task to the last model.
    const double top = best->weight;
    double tot = 0;
    for (const auto& r : st.route) tot += r.weight / top;
    double u = rng.uniform() * tot;
    for (const auto& r : st.route) {
      const double w = r.weight / top;
      if (u < w) return r.model;
      u -= w;
    }
    return st.route.back().model;
  }

  std::int64_t draw(Rng& rng, const Dist& d) const {
    return det ? static_cast<std::int64_t>(d.mean()) : rng.sample(d);
  }

  void run(std::size_t task, std::uint64_t seed) {
    Rng rng(seed, task);
    const std::size_t S = wf.steps.size();
    std::int64_t* tok = &res.tokens[task * SimResult::kTok];
    double* scost = &res.step_cost[task * (S + 1)];
    double cost_total = 0;
    std::int64_t calls = 0, peak = 0;
    const bool tracing = task == 0;
    const std::int64_t* limits = prompt_limit.data();

    const std::int64_t P = draw(rng, wf.system_prompt) + draw(rng, wf.tool_schema);
    std::int64_t H = 0;
    std::deque<std::int64_t> turns;
    std::uint64_t version = 1;
    std::vector<CacheState> cache(models.size());
    double now = 0;
    std::int64_t task_tokens = 0;
    int escalated = -1;
    bool completed = true;
    bool compacting = false;  // on_budget summarize fired: the history is kept under summary_threshold
    bool overflow = false;
    const bool rolling = wf.context == ContextPolicy::RollingSummary;
    const bool full_history = wf.context == ContextPolicy::FullHistory;  // (last_k never compacts)
    // a history longer than this is summarised before the next call (rolling summary, compaction)
    const std::int64_t summarise_above =
        wf.summary_threshold > 0 ? wf.summary_threshold : std::numeric_limits<std::int64_t>::max();
    // A prompt the model cannot take: the API rejects the request (nothing billed), the task fails.
    auto too_long = [&](int m, std::int64_t prompt) {
      const std::int64_t w = limits[m];
      if (w > 0 && prompt > w) {
        overflow = true;
        completed = false;
      }
      return overflow;
    };

    // One priced model call; returns its cost. `reusable` is the prefix of the prompt that the
    // next call will send unchanged: explicit (Anthropic) caching puts its breakpoint there, so
    // it writes only what a later call can read (the static prefix when the context is stateless,
    // or is about to slide or be summarised; the whole prompt while it only grows).
    auto call = [&](int m, std::int64_t ctx, std::int64_t reusable, std::int64_t out, std::int64_t reasoning,
                    bool dynamic_prefix, int step_idx, int iteration, int attempt, bool is_summary) {
      const SimModel& sm = models[static_cast<std::size_t>(m)];
      CacheState& cs = cache[static_cast<std::size_t>(m)];
      std::int64_t match = 0;
      if (!dynamic_prefix && cs.valid && now - cs.last_time <= sm.cache.ttl_seconds) {
        match = (cs.version == version && wf.context != ContextPolicy::Stateless) ? std::min(cs.prompt_len, ctx)
                                                                                  : std::min(P, ctx);
      }
      std::int64_t read = 0, write = 0;
      switch (sm.cache.kind) {
        case CacheSpec::None: break;
        case CacheSpec::Automatic:
          if (match >= sm.cache.min_tokens) read = (match / sm.cache.increment) * sm.cache.increment;
          if (ctx >= sm.cache.min_tokens && !dynamic_prefix) {
            cs = CacheState{true, version, ctx, now};
          }
          break;
        case CacheSpec::Explicit: {
          if (match >= sm.cache.min_tokens) read = match;
          const std::int64_t bp = std::min(reusable, ctx);  // the cache breakpoint
          if (bp >= sm.cache.min_tokens && bp > read && !dynamic_prefix) {
            write = bp - read;
            cs = CacheState{true, version, bp, now};
          } else if (read > 0) {
            cs.last_time = now;
          }
          break;
        }
      }
      std::array<std::int64_t, kNumBuckets> n{};
      n[kInputText] = ctx - read - write;
      n[kCacheRead] = read;
      n[sm.cache.write_1h ? kCacheWrite1h : kCacheWrite5m] = write;
      n[kOutputText] = out;
      n[kReasoning] = reasoning;
      const auto& price = (sm.threshold > 0 && ctx > sm.threshold) ? sm.price_above : sm.price;
      double c = 0;
      // only the buckets a simulated call fills, in bucket order (the others hold 0 and would add
      // 0.0: the sum is the same)
      static constexpr int kFilled[] = {kInputText, kCacheRead, kCacheWrite5m, kCacheWrite1h, kOutputText, kReasoning};
      for (int b : kFilled) {
        tok[b] = checked_add(tok[b], n[b]);
        c += static_cast<double>(n[b]) * price[b];
      }
      cost_total += c;
      scost[is_summary ? S : static_cast<std::size_t>(step_idx)] += c;
      ++calls;
      TOKENOPS_CHECK(calls <= kMaxCallsPerTask, InvalidArgument, "simulate: a task made more than ",
                     kMaxCallsPerTask, " model calls (step '",
                     is_summary ? std::string("summary") : wf.steps[static_cast<std::size_t>(step_idx)].name,
                     "'); check the steps' calls distributions, max_retries and p_success");
      peak = std::max(peak, ctx);
      task_tokens = checked_add(task_tokens, checked_add(ctx, checked_add(out, reasoning)));
      if (tracing)
        res.trace.push_back({step_idx, iteration, attempt, m, ctx, out + reasoning, read, write, c, is_summary});
      now += sm.seconds_per_call + static_cast<double>(out + reasoning) / std::max(1.0, sm.output_tokens_per_second);
    };

    auto summarize = [&](int m, int step_idx) {  // false: the history no longer fits the model
      if (too_long(m, P + H)) return false;
      call(m, P + H, P, wf.summary_tokens, 0, false, step_idx, -1, 0, true);  // H is replaced next
      H = wf.summary_tokens;
      turns.assign(1, H);
      ++version;
      return true;
    };

    for (std::size_t s = 0; s < S && completed; ++s) {
      const Step& st = wf.steps[s];
      // `calls` is the number of iterations this task needs; a cap below it leaves the task
      // unresolved (its calls are still paid for).
      std::int64_t iters = draw(rng, st.calls);
      bool unresolved = false;
      if (st.iteration_cap > 0 && iters > st.iteration_cap) {
        iters = st.iteration_cap;
        unresolved = true;
      }
      int m = pick_model(st, rng);
      if (escalated >= 0) m = escalated;
      for (std::int64_t it = 0; it < iters && completed; ++it) {
        for (int attempt = 0;; ++attempt) {
          now += static_cast<double>(draw(rng, st.gap_seconds));
          std::int64_t tool = draw(rng, st.tool_output);
          if (wf.tool_truncate > 0) tool = std::min(tool, wf.tool_truncate);
          const std::int64_t fresh = draw(rng, st.user_input) + draw(rng, st.retrieved) + tool;  // <= 3e15
          std::int64_t out = draw(rng, st.output);
          std::int64_t reasoning = draw(rng, st.reasoning);
          const double u = det ? 0.0 : rng.uniform();
          // Rolling summary (and the compaction on_budget="summarize" starts): the history is
          // summarised right before a call that would resend more than summary_threshold of it, so
          // no summary is paid that no call reads (after the task's last call, or after a call
          // that failed it). The summary call is made by this call's model and, like any call,
          // passes the token budget's check: "stop" fails the task before it, "escalate" moves
          // it (and the rest of the task) to the stronger model; under "summarize" a summary is
          // what the budget asks for, so it is made and compaction goes on from there.
          if (H > summarise_above && (rolling || (compacting && full_history))) [[unlikely]] {
            if (wf.token_budget > 0 && escalated < 0 && !compacting &&
                checked_add(task_tokens, checked_add(checked_add(P, H), wf.summary_tokens)) > wf.token_budget) {
              if (wf.on_budget == BudgetAction::Summarize) {
                compacting = true;
              } else if (wf.on_budget == BudgetAction::Escalate && wf.escalate_model >= 0) {
                escalated = wf.escalate_model;  // the stronger model finishes the task, unbudgeted
                m = escalated;
              } else {
                completed = false;  // Stop: the summary would pass the budget
                break;
              }
            }
            if (!summarize(m, static_cast<int>(s))) break;
          }
          std::int64_t ctx = checked_add(P + fresh, wf.context == ContextPolicy::Stateless ? 0 : H);
          if (wf.token_budget > 0 && escalated < 0 && !compacting &&
              checked_add(task_tokens, checked_add(ctx, out + reasoning)) > wf.token_budget) {
            // The budget is a trigger, not a cap, for summarize: the history is summarised once
            // and from then on again only when it grows past summary_threshold, as a rolling
            // summary does (a summarised history cannot lower the tokens already spent: a
            // summary call came before every later call of the task).
            if (wf.on_budget == BudgetAction::Summarize && wf.context != ContextPolicy::Stateless &&
                H > wf.summary_tokens) {
              if (!summarize(m, static_cast<int>(s))) break;
              ctx = P + H + fresh;
              compacting = true;
            } else if (wf.on_budget == BudgetAction::Escalate && wf.escalate_model >= 0) {
              escalated = wf.escalate_model;  // the stronger model finishes the task, unbudgeted
              m = escalated;
            } else {
              completed = false;  // Stop (or nothing left to summarise)
              break;
            }
          }
          // too_long's test, written out: called here, the lambda (it writes `completed` and
          // `overflow` by reference) cost a quarter of the simulator's speed
          // (cpp/bench/bench_simulator: 10.4 vs 14 M calls/s)
          const SimModel& sm = models[static_cast<std::size_t>(m)];
          const std::int64_t limit = limits[m];
          if (limit > 0 && ctx > limit) {
            overflow = true;  // the API rejects the request: nothing billed, the task fails
            completed = false;
            break;
          }
          bool truncated = false;
          if (wf.output_cap > 0 && out > wf.output_cap) {
            out = wf.output_cap;
            truncated = true;
          }
          if (sm.max_output > 0 || sm.context_window > 0) {
            // The model's own limits on what it generates in this call, reasoning included (as
            // OpenAI's max_output_tokens counts reasoning tokens): the reasoning comes first and
            // is cut to the room, the answer gets what the reasoning leaves. Either cut truncates
            // the call. (The reasoning was kept whole and billed: 150k reasoning tokens on o3,
            // whose max output is 100k; 240k tokens in its 200k window.)
            std::int64_t room = sm.max_output > 0 ? sm.max_output : std::numeric_limits<std::int64_t>::max();
            if (sm.context_window > 0) room = std::min(room, sm.context_window - ctx);
            room = std::max<std::int64_t>(room, 0);  // (ctx <= the window here: the prompt check above)
            if (out + reasoning > room) {
              reasoning = std::min(reasoning, room);
              out = std::min(out, room - reasoning);
              truncated = true;
            }
          }
          // What the next call resends unchanged (see `call`): this whole prompt (the history
          // only grows; a summary call made before the next call resends it too), unless the
          // context is stateless or this call's turn makes the last-k window slide.
          std::int64_t reusable = ctx;
          if (wf.context == ContextPolicy::Stateless ||
              (wf.context == ContextPolicy::LastK && static_cast<int>(turns.size()) >= wf.last_k))
            reusable = P;
          call(m, ctx, reusable, out, reasoning, st.dynamic_prefix, static_cast<int>(s), static_cast<int>(it),
               attempt, false);
          const bool ok = !truncated && (det || u < st.p_success);
          if (wf.context != ContextPolicy::Stateless) {
            const std::int64_t turn = fresh + out;
            H = checked_add(H, turn);
            if (wf.context == ContextPolicy::LastK) {
              turns.push_back(turn);
              if (static_cast<int>(turns.size()) > wf.last_k) {
                H -= turns.front();
                turns.pop_front();
                ++version;  // the window slid: everything after the static prefix changed
              }
            }
          }
          if (ok) break;
          if (attempt >= st.max_retries) {
            completed = false;
            break;
          }
        }
      }
      if (unresolved) completed = false;
    }
    res.cost[task] = cost_total;
    res.calls[task] = calls;
    res.completed[task] = completed ? 1 : 0;
    res.context_peak[task] = peak;
    res.overflow[task] = overflow ? 1 : 0;
  }
};

}  // namespace

SimResult simulate(const Workflow& wf, const std::vector<SimModel>& models, std::size_t n, std::uint64_t seed,
                   bool deterministic, int num_threads, const text::StopFn& stop) {
  TOKENOPS_CHECK(!models.empty(), InvalidArgument, "simulate: no models");
  TOKENOPS_CHECK(!wf.steps.empty(), InvalidArgument, "simulate: the workflow has no steps");
  TOKENOPS_CHECK(n > 0 && n <= 100'000'000, InvalidArgument, "simulate: n must be in 1..1e8, got ", n);
  check_dist(wf.system_prompt, "system_prompt");
  check_dist(wf.tool_schema, "tool_schema");
  auto check_model = [&](int m, const std::string& where) {
    TOKENOPS_CHECK(m >= 0 && static_cast<std::size_t>(m) < models.size(), InvalidArgument, where,
                   ": model index ", m, " out of range");
  };
  check_model(wf.default_model, "default model");
  if (wf.on_budget == BudgetAction::Escalate) check_model(wf.escalate_model, "escalate_to");
  TOKENOPS_CHECK(wf.last_k >= 0, InvalidArgument, "last_k must be >= 0");
  for (const auto& st : wf.steps) {
    const std::string w = "step '" + st.name + "'";
    for (auto* d : {&st.calls, &st.user_input, &st.retrieved, &st.tool_output, &st.output, &st.reasoning, &st.gap_seconds})
      check_dist(*d, w);
    TOKENOPS_CHECK(st.p_success >= 0 && st.p_success <= 1, InvalidArgument, w, ": p_success must be in [0, 1], got ",
                   st.p_success);
    TOKENOPS_CHECK(st.max_retries >= 0, InvalidArgument, w, ": max_retries must be >= 0");
    bool any_weight = false;
    for (const auto& r : st.route) {
      check_model(r.model, w);
      TOKENOPS_CHECK(r.weight >= 0 && std::isfinite(r.weight), InvalidArgument, w,
                     ": route weights must be finite and >= 0, got ", r.weight);
      any_weight = any_weight || r.weight > 0;
    }
    TOKENOPS_CHECK(st.route.empty() || any_weight, InvalidArgument, w,
                   ": route weights are all 0; give at least one model a weight > 0");
  }
  for (const auto& m : models) {
    for (int b = 0; b < kNumBuckets; ++b)
      TOKENOPS_CHECK(std::isfinite(m.price[b]) && m.price[b] >= 0, InvalidArgument, "model '", m.name,
                     "': price for ", cost::bucket_name(b), " must be finite and >= 0");
    TOKENOPS_CHECK(m.cache.increment >= 1 && m.cache.min_tokens >= 0, InvalidArgument, "model '", m.name,
                   "': bad cache spec");
  }
  SimResult res;
  res.n = n;
  res.n_steps = wf.steps.size();
  res.tokens.assign(n * SimResult::kTok, 0);
  res.cost.assign(n, 0.0);
  res.step_cost.assign(n * (res.n_steps + 1), 0.0);
  res.calls.assign(n, 0);
  res.completed.assign(n, 0);
  res.context_peak.assign(n, 0);
  res.overflow.assign(n, 0);
  std::vector<std::int64_t> prompt_limit;
  for (const auto& m : models) {
    std::int64_t w = m.context_window;
    if (m.max_input > 0 && (w == 0 || m.max_input < w)) w = m.max_input;
    prompt_limit.push_back(w);
  }
  const std::size_t chunk = 256;
  const std::size_t nchunks = (n + chunk - 1) / chunk;
  text::parallel_for(nchunks, text::resolve_threads(num_threads, nchunks), [&](std::size_t c) {
    if (stop && stop()) return;
    TaskRunner runner{wf, models, deterministic, res, prompt_limit};
    // Only the chunk holding task 0 traces; other chunks never touch res.trace.
    for (std::size_t t = c * chunk; t < std::min(n, (c + 1) * chunk); ++t) runner.run(t, seed);
  });
  std::uint64_t total = 0;
  for (auto c : res.calls) total += static_cast<std::uint64_t>(c);
  res.total_calls = total;
  return res;
}

}  // namespace tokenops::budget
