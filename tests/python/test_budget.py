"""Workflow simulator: the seed example, compounding context, caching behaviour per provider,
policies, determinism across threads, outputs and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tokenops
from tokenops.budget import Policy, Step, Workflow, compare, lognormal, price_on_models, sim_model, simulate


@pytest.fixture(scope="module")
def wf() -> Workflow:
    return tokenops.examples.support_workflow()


def test_seed_example_deterministic(wf: Workflow) -> None:
    r = tokenops.simulate(wf, model="gpt-4o", n=1, deterministic=True)
    assert r.calls_per_task == 12
    assert r.tokens_per_task == 180_000
    tr = r.trace
    per_call = (tr["input_tokens"] + tr["output_tokens"]).tolist()
    assert per_call == [8000, 10000, 10000, 16000, 16000, 16000, 20000, 20000, 20000, 20000, 12000, 12000]
    assert list(tr["step"].unique()) == ["planning", "tool_selection", "retrieval", "troubleshooting",
                                         "validation_final"]
    # priced at gpt-4o's exact rates: no caching below 1,024-token repeats... the static prefix repeats
    assert r.cost_per_task == pytest.approx(float(tr["cost"].sum()))


def test_full_history_grows_quadratically(wf: Workflow) -> None:
    r = tokenops.simulate(wf.with_context("full_history"), model="gpt-4o", n=1, deterministic=True)
    tr = r.trace
    inputs = tr["input_tokens"].to_numpy()
    assert np.all(np.diff(inputs) > 0)  # every call resends everything before it
    cum = tr["cumulative_input"].to_numpy()
    assert np.all(np.diff(cum, 2) > 0)  # convex: cumulative input grows faster than linearly
    fit = r.growth_fit()
    assert fit["r2_quadratic"] > 0.999 and fit["r2_quadratic"] > fit["r2_linear"] and fit["quadratic_coef"] > 0
    stateless = tokenops.simulate(wf, model="gpt-4o", n=1, deterministic=True)
    assert tr["cumulative_input"].iloc[-1] > 4 * stateless.trace["cumulative_input"].iloc[-1]


def test_openai_caches_in_128_token_increments(wf: Workflow) -> None:
    r = tokenops.simulate(wf.with_context("full_history"), model="gpt-4o", n=1, deterministic=True)
    reads = r.trace["cache_read"].to_numpy()
    assert reads[0] == 0 and np.all(reads[1:] > 0) and np.all(reads % 128 == 0)
    off = tokenops.simulate(wf.with_context("full_history"), model="gpt-4o", n=1, deterministic=True,
                            policy=Policy(cache="off"))
    assert off.trace["cache_read"].sum() == 0 and off.cost_per_task > r.cost_per_task


def test_anthropic_writes_then_reads_and_ttl_expiry() -> None:
    steps = (Step("a", calls=3, user_input=3000, output=100, gap_seconds=10),)
    w = Workflow("t", steps, system_prompt=2000, tool_schema=0, context="full_history")
    r = simulate(w, model="claude-haiku-4-5", n=1, deterministic=True)
    tr = r.trace
    assert tr["cache_write"].iloc[0] == tr["input_tokens"].iloc[0]  # first call writes its prompt
    assert tr["cache_read"].iloc[1] == tr["input_tokens"].iloc[0]  # next reads exactly that prefix
    assert tr["cache_write"].iloc[1] == tr["input_tokens"].iloc[1] - tr["input_tokens"].iloc[0]
    slow = Workflow("t", (Step("a", calls=3, user_input=3000, output=100, gap_seconds=400),),
                    system_prompt=2000, context="full_history")
    expired = simulate(slow, model="claude-haiku-4-5", n=1, deterministic=True)
    assert expired.trace["cache_read"].sum() == 0  # 5-minute TTL lapsed between calls
    hour = simulate(slow, model="claude-haiku-4-5", n=1, deterministic=True, policy=Policy(cache="1h"))
    assert hour.trace["cache_read"].iloc[1:].min() > 0
    # minimum cacheable length: Haiku 4.5 needs 4,096 tokens
    tiny = Workflow("t", (Step("a", calls=2, user_input=500, output=10),), system_prompt=1000, context="full_history")
    assert simulate(tiny, model="claude-haiku-4-5", n=1, deterministic=True).trace["cache_read"].sum() == 0


def test_dynamic_timestamp_breaks_the_prefix() -> None:
    w = Workflow("t", (Step("a", calls=4, user_input=3000, output=100, dynamic_prefix=True),),
                 system_prompt=2000, context="full_history")
    assert simulate(w, model="gpt-4o", n=1, deterministic=True).trace["cache_read"].sum() == 0


def test_policies_change_cost_as_expected(wf: Workflow) -> None:
    full = wf.with_context("full_history")
    base = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3, policy=Policy(cache="off"))
    cached = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3)
    routed = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3,
                      policy=Policy(route_light_to="claude-haiku-4-5", cache="off"))
    capped = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3,
                      policy=Policy(iteration_cap={"troubleshooting": 2}, cache="off"))
    summary = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3,
                       policy=Policy(context="rolling_summary", summary_threshold=30_000, cache="off"))
    lastk = simulate(full, model="claude-sonnet-4-5", n=4000, seed=3, policy=Policy(context="last_k", last_k=2))
    for r in (cached, routed, summary):
        assert r.cost_per_completed_task < base.cost_per_completed_task
    assert capped.calls_per_task < base.calls_per_task and capped.cost_per_task < base.cost_per_task
    # a cap of 2 on a loop that needs Poisson(4) iterations fails most tasks: per completed task it backfires
    assert capped.cost_per_completed_task > base.cost_per_completed_task
    assert capped.completion_rate < base.completion_rate  # tasks that needed more iterations fail
    assert summary.tasks["context_peak"].max() < base.tasks["context_peak"].max()
    assert (summary.step_share()["step"] == "(summaries)").any()
    assert lastk.tasks["context_peak"].mean() < base.tasks["context_peak"].mean()
    assert "claude-haiku-4-5" in routed.models
    df = compare({"base": base, "cached": cached, "routed": routed})
    assert list(df.index) == ["base", "cached", "routed"] and df.loc["base", "vs_first"] == 1.0


def test_budget_actions_and_output_cap(wf: Workflow) -> None:
    full = wf.with_context("full_history")
    stop = simulate(full, model="gpt-4o", n=2000, seed=1, policy=Policy(token_budget=300_000, on_budget="stop"))
    free = simulate(full, model="gpt-4o", n=2000, seed=1)
    assert stop.completion_rate < free.completion_rate
    assert stop.cost_per_completed_task > stop.cost_per_task  # failed attempts are paid for
    summ = simulate(full, model="gpt-4o", n=2000, seed=1,
                    policy=Policy(token_budget=300_000, on_budget="summarize", summary_tokens=2000))
    assert summ.completion_rate > stop.completion_rate
    # summarize is a trigger for compaction, not a cap: one summary when the budget is passed,
    # then another only when the history grows past summary_threshold (a summary call came
    # before every later call: 4 more calls on this loop)
    loop = Workflow("loop", steps=(Step("a", calls=10, user_input=2000, output=500),), system_prompt=1000,
                    context="full_history")
    tr = simulate(loop, model="gpt-4o", n=1, deterministic=True,
                  policy=Policy(token_budget=60_000, on_budget="summarize", summary_tokens=500,
                                summary_threshold=8000)).trace
    # (the history passes the threshold again after the last call: no summary that nothing reads)
    assert list(tr["iteration"]) == [0, 1, 2, 3, 4, 5, -1, 6, 7, 8, 9]
    assert list(tr["input_tokens"])[6:9] == [16000, 3500, 6000]  # 1000 + 500 summary + 2000 fresh
    esc = simulate(full, model="gpt-4o-mini", n=2000, seed=1,
                   policy=Policy(token_budget=200_000, on_budget="escalate", escalate_to="gpt-4o"))
    assert "gpt-4o" in esc.models and esc.completion_rate == pytest.approx(free.completion_rate, abs=0.02)
    capped = simulate(full, model="gpt-4o", n=2000, seed=1, policy=Policy(output_cap=1200))
    assert capped.completion_rate < free.completion_rate


def test_batch_prices(wf: Workflow) -> None:
    rt = simulate(wf, model="gpt-4o", n=1, deterministic=True, policy=Policy(cache="off"))
    bt = simulate(wf, model="gpt-4o", n=1, deterministic=True, policy=Policy(cache="off", batch=True))
    assert bt.cost_per_task == pytest.approx(rt.cost_per_task / 2)
    with pytest.raises(ValueError, match="batch"):
        simulate(wf, model="claude-3-7-sonnet-20250219", n=1, policy=Policy(batch=True))


def test_monte_carlo_reproducible_and_thread_independent(wf: Workflow) -> None:
    full = wf.with_context("full_history")
    a = simulate(full, model="claude-sonnet-4-5", n=5000, seed=7, num_threads=1)
    b = simulate(full, model="claude-sonnet-4-5", n=5000, seed=7, num_threads=2)
    c = simulate(full, model="claude-sonnet-4-5", n=5000, seed=8, num_threads=2)
    assert np.array_equal(a.raw["cost"], b.raw["cost"]) and np.array_equal(a.raw["tokens"], b.raw["tokens"])
    assert not np.array_equal(a.raw["cost"], c.raw["cost"])
    s = a.summary()
    assert list(s.columns) == ["mean", "p50", "p95", "p99"]
    assert s.loc["cost", "p50"] <= s.loc["cost", "p95"] <= s.loc["cost", "p99"]
    assert 0.7 < a.completion_rate < 1.0
    share = a.step_share()
    assert share["share"].sum() == pytest.approx(1.0)
    assert share.set_index("step")["share"].idxmax() == "troubleshooting"


def test_plots(wf: Workflow) -> None:
    import matplotlib

    matplotlib.use("Agg")
    r = simulate(wf, model="gpt-4o", n=500, seed=0)
    assert r.plot_cost_distribution() is not None
    assert r.plot_step_share() is not None
    assert r.plot_cumulative_input() is not None


def test_bad_input_names_the_problem(wf: Workflow) -> None:
    with pytest.raises(ValueError, match="p_success"):
        simulate(Workflow("x", (Step("s", p_success=1.5),)), model="gpt-4o", n=1)
    with pytest.raises(ValueError, match="output"):
        simulate(Workflow("x", (Step("s", output=-3),)), model="gpt-4o", n=1)
    with pytest.raises(ValueError, match="standard deviation"):
        simulate(Workflow("x", (Step("s", output=lognormal(100, -1)),)), model="gpt-4o", n=1)
    with pytest.raises(ValueError, match="n must"):
        simulate(wf, model="gpt-4o", n=0)
    with pytest.raises(ValueError, match="context"):
        simulate(wf, model="gpt-4o", n=1, policy=Policy(context="everything"))
    with pytest.raises(ValueError, match="routing names unknown step"):
        simulate(wf, model="gpt-4o", n=1, policy=Policy(routing={"plan": "gpt-4o-mini"}))
    with pytest.raises(KeyError, match="close matches"):
        simulate(wf, model="gpt-4o-mimi", n=1)
    with pytest.raises(TypeError):
        simulate("support", model="gpt-4o", n=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        simulate(Workflow("x", (Step(5),)), model="gpt-4o", n=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeats the step name 's'"):
        simulate(Workflow("x", (Step("s"), Step("s"))), model="gpt-4o", n=1)
    with pytest.raises(ValueError, match="needs token_budget"):
        simulate(wf, model="gpt-4o", n=1, policy=Policy(on_budget="escalate", escalate_to="gpt-4o-mini"))
    with pytest.raises(ValueError, match="smaller than summary_threshold"):
        simulate(wf, model="gpt-4o", n=1,
                 policy=Policy(context="rolling_summary", summary_threshold=100, summary_tokens=5000))


def test_sim_model_uses_catalogue_prices() -> None:
    m = sim_model("claude-sonnet-4-5")
    assert m["cache"] == "explicit" and m["threshold"] == 200_000
    assert m["price"][0] == 3e-06 and m["price_above"][0] == 6e-06
    o = sim_model("gpt-4o")
    assert (o["cache"], o["cache_min_tokens"], o["cache_increment"]) == ("automatic", 1024, 128)


# ------------------------------------------------------------------------- tester findings (fix-d)
@pytest.mark.parametrize(("make", "expect"), [
    (lambda: tokenops.budget.const(-1000), r"const distribution: the value must be in \[0, 1e\+15\]"),
    (lambda: tokenops.budget.uniform(-500, 100), "uniform distribution: low must be >= 0"),
    (lambda: tokenops.budget.uniform(300, 100), "uniform distribution: low > high"),
    (lambda: tokenops.budget.normal(-1000, 10), "normal distribution: mean must be >= 0"),
    (lambda: tokenops.budget.lognormal(-5, 1), "lognormal distribution: mean must be >= 0"),
    (lambda: tokenops.budget.poisson(-2), "poisson distribution: mean must be >= 0"),
    (lambda: tokenops.budget.normal(100, 10, lo=-5), "need 0 <= lo <= hi"),
    (lambda: tokenops.budget.Dist("const", 5, 0, 0, 3), r"value must be in \[0, 3\]"),
    (lambda: tokenops.budget.Dist("gamma", 5), "Dist kind must be one of"),
    (lambda: tokenops.budget.const(float("nan")), "must be finite"),
])
def test_a_negative_or_clipped_distribution_is_refused_when_made(make, expect: str) -> None:
    # const(-1000) was clipped to 0 tokens by the core, silently (the number -1000 raised).
    with pytest.raises(ValueError, match=expect):
        make()


def test_cache_1h_on_a_model_without_1h_writes_raises(wf: Workflow) -> None:
    # It was accepted and ignored: gpt-4o priced its automatic caching as if nothing was asked.
    with pytest.raises(ValueError, match=r"cache='1h'.*no model of this run has explicit caching.*gpt-4o"):
        simulate(wf, "gpt-4o", n=1, deterministic=True, policy=Policy(cache="1h"))
    with pytest.raises(ValueError, match="caches automatically"):
        sim_model("gpt-4o", cache="1h")
    # A Claude model with 1-hour prices takes it; a GPT model routed beside it keeps its automatic
    # caching (its cost is the same as under cache="auto").
    w = Workflow("t", (Step("a", calls=3, user_input=3000, output=100, gap_seconds=400),
                       Step("b", calls=3, user_input=3000, output=100, gap_seconds=400)),
                 system_prompt=2000, context="full_history")
    mix = {"b": "gpt-4o"}
    hour = simulate(w, "claude-haiku-4-5", n=1, deterministic=True, policy=Policy(cache="1h", routing=mix))
    auto = simulate(w, "claude-haiku-4-5", n=1, deterministic=True, policy=Policy(routing=mix))

    def gpt_cost(r: tokenops.budget.SimulationResult) -> float:
        return float(r.trace.loc[r.trace["model"] == "gpt-4o", "cost"].sum())

    assert gpt_cost(hour) == gpt_cost(auto) > 0
    assert hour.trace.loc[hour.trace["model"] == "claude-haiku-4-5", "cache_read"].iloc[1:].min() > 0


def test_stateless_anthropic_caching_writes_only_what_a_later_call_reads(wf: Workflow) -> None:
    # Every stateless call rereads only the 5,000-token static prefix; before the breakpoint
    # followed what the next call resends, each wrote all its new material at 1.25x ($0.656
    # with caching vs $0.578 with the breakpoint after the prefix).
    r = simulate(wf, "claude-sonnet-4-5", n=1, deterministic=True)
    writes = r.trace["cache_write"].tolist()
    assert writes[0] == 5_000 and sum(writes[1:]) == 0
    # and caching never makes a sliding last-k window dearer than no caching
    lk = price_on_models(wf.with_context("last_k"), ["claude-sonnet-4-5"]).iloc[0]
    assert lk["cost_with_cache"] <= lk["cost_no_cache"]


def test_rolling_summary_call_reads_the_prompt_cached_before_it() -> None:
    # The call that pushes the history over the threshold is resent whole by the summary call that
    # follows, so it caches its prompt and the summary reads all of it.
    w = Workflow("t", (Step("a", calls=6, user_input=3000, output=500, gap_seconds=10),),
                 system_prompt=4000, context="rolling_summary")
    r = simulate(w, "claude-sonnet-4-5", n=1, deterministic=True,
                 policy=Policy(summary_threshold=9000, summary_tokens=1500))
    tr = r.trace.reset_index(drop=True)
    k = int(np.flatnonzero(tr["summary"].to_numpy())[0])
    before, summary = tr.iloc[k - 1], tr.iloc[k]
    assert before["cache_read"] + before["cache_write"] == before["input_tokens"]  # all cached
    assert summary["cache_read"] == before["input_tokens"]
    # and the summary call writes nothing past the static prefix (its history is replaced)
    assert summary["cache_write"] == 0


def test_price_on_models_with_1h_cache_prices_other_providers_with_their_own_caching() -> None:
    w = Workflow("t", (Step("a", calls=3, user_input=3000, output=100, gap_seconds=400),), system_prompt=2000)
    t = price_on_models(w, ["claude-opus-4-5", "gpt-4o"], policy=Policy(cache="1h"))
    assert list(t["cache_mode"]) == ["1h", "auto"]
    auto = price_on_models(w, ["gpt-4o"]).iloc[0]
    assert t.loc["gpt-4o", "cost_with_cache"] == auto["cost_with_cache"]


def test_anthropic_minimum_cacheable_length_per_model() -> None:
    # Anthropic's prompt-caching docs: 4,096 for Haiku 4.5 and Opus 4.5 / 4.6, 2,048 for Haiku 3 /
    # 3.5, 1,024 for the others. A 3,000-token prefix caches on Sonnet 4.5 and Haiku 3 only.
    w = Workflow("t", (Step("a", calls=3, user_input=10, output=10),), system_prompt=3000, context="stateless")
    reads = {m: simulate(w, model=m, n=1, deterministic=True).trace["cache_read"].sum()
             for m in ("claude-haiku-4-5", "claude-opus-4-5", "claude-3-haiku-20240307", "claude-sonnet-4-5")}
    assert reads["claude-haiku-4-5"] == 0 and reads["claude-opus-4-5"] == 0
    assert reads["claude-3-haiku-20240307"] == 2 * 3000 and reads["claude-sonnet-4-5"] == 2 * 3000
    assert sim_model("claude-3-haiku-20240307")["cache_min_tokens"] == 2048
    assert sim_model("claude-opus-4-1")["cache_min_tokens"] == 1024


def test_claude_caches_explicitly_on_every_provider_and_aliases_share_a_cache() -> None:
    # azure_ai/claude-* was taken for OpenAI-style automatic caching (cache writes never charged)
    spec = sim_model("azure_ai/claude-sonnet-4-5")
    assert spec["cache"] == "explicit" and spec["cache_min_tokens"] == 1024
    # two names of one catalogue model are one model with one cache
    wf = Workflow("w", (Step("a", calls=2, user_input=3000, output=100),
                        Step("b", calls=2, user_input=3000, output=100)), system_prompt=2000, context="full_history")
    plain = simulate(wf, model="claude-sonnet-4-5", n=1, deterministic=True)
    alias = simulate(wf, model="claude-sonnet-4-5", n=1, deterministic=True,
                     policy=Policy(routing={"b": "anthropic/claude-sonnet-4-5"}))
    assert alias.cost_per_task == pytest.approx(plain.cost_per_task)
    assert len(alias.models) == 1


def test_context_window_and_max_output_are_enforced() -> None:
    # a 1M-token prompt on a 128k model is rejected by the API: the task fails, the call is not billed
    huge = Workflow("w", (Step("s", user_input=1_000_000, output=100),), context="stateless")
    r = simulate(huge, model="gpt-4o", n=1, deterministic=True)
    assert r.completion_rate == 0.0 and r.overflow_rate == 1.0 and r.cost_per_task == 0.0
    assert bool(r.tasks["context_overflow"].iloc[0])
    # growing history: calls stop at the window, never priced above it
    grow = Workflow("w", (Step("s", calls=40, user_input=5000, output=100),), context="full_history")
    g = simulate(grow, model="gpt-4o", n=1, deterministic=True)
    assert g.overflow_rate == 1.0 and g.trace["input_tokens"].max() <= 128_000
    assert len(g.trace) == 128_000 // 5100
    # output beyond the model's max output (16,384 on gpt-4o) is cut: the call counts as truncated
    long_out = Workflow("w", (Step("s", user_input=100, output=20_000),), context="stateless")
    lo = simulate(long_out, model="gpt-4o", n=1, deterministic=True)
    assert lo.trace["output_tokens"].iloc[0] == 16_384 and lo.completion_rate == 0.0 and lo.overflow_rate == 0.0
    ok = Workflow("w", (Step("s", user_input=100, output=16_000),), context="stateless")
    assert simulate(ok, model="gpt-4o", n=1, deterministic=True).completion_rate == 1.0


def test_input_limit_and_total_window_are_separate_limits(data_dir) -> None:
    # gpt-5 is a 272k input cap inside a 400k window (128k max output): with genai-prices, which
    # states the total window, a 250k prompt with a 30k answer fits
    g = tokenops.Catalog.from_genai_prices()
    assert g.resolve("gpt-5").total_window == 400_000
    big = Workflow("big", steps=(Step("s", user_input=250_000, output=30_000),), context="stateless")
    r = simulate(big, model="gpt-5", n=1, deterministic=True, catalog=g)
    assert r.completion_rate == 1.0 and r.overflow_rate == 0.0
    assert r.trace["output_tokens"].iloc[0] == 30_000
    near = Workflow("w", (Step("s", user_input=380_000, output=30_000),), context="stateless")
    n = simulate(near, model="gpt-5", n=1, deterministic=True, catalog=g)
    assert n.trace["output_tokens"].iloc[0] == 20_000 and n.completion_rate == 0.0 and n.overflow_rate == 0.0
    # LiteLLM lists per-side limits only; its max_input_tokens is taken as the shared window, which
    # most models have: gpt-4o's 128k holds prompt and answer together
    shared = Workflow("w", (Step("s", user_input=120_000, output=16_000),), context="stateless")
    s = simulate(shared, model="gpt-4o", n=1, deterministic=True)
    assert s.trace["output_tokens"].iloc[0] == 8_000 and s.completion_rate == 0.0
    # the input limit still rejects a longer prompt, and max_output still cuts
    over = Workflow("w", (Step("s", user_input=280_000, output=10),), context="stateless")
    assert simulate(over, model="gpt-5", n=1, deterministic=True).overflow_rate == 1.0
    cut = Workflow("w", (Step("s", user_input=1000, output=130_000),), context="stateless")
    assert simulate(cut, model="gpt-5", n=1, deterministic=True).trace["output_tokens"].iloc[0] == 128_000


def test_policy_and_distribution_mistakes_are_refused() -> None:
    from tokenops import budget as b

    wf = tokenops.examples.support_workflow()
    with pytest.raises(ValueError, match="stateless"):
        simulate(wf, n=10, policy=Policy(token_budget=120_000, on_budget="summarize"))
    with pytest.raises(TypeError, match="deterministic"):
        simulate(wf, n=10, deterministic="no")  # type: ignore[arg-type]
    # iteration_cap {"*": n} caps every step not named
    w = Workflow("w", (Step("s", calls=5, user_input=10),), context="stateless")
    capped = simulate(w, n=1, deterministic=True, policy=Policy(iteration_cap={"*": 1}))
    assert capped.calls_per_task == 1 and capped.completion_rate == 0.0
    # parameters outside [lo, hi] were clipped silently; a lognormal too wide gave INT64_MIN tokens
    for bad in (lambda: b.Dist("normal", 5000, 0, 0, 1000), lambda: b.Dist("poisson", 5000, 0, 0, 1000),
                lambda: b.Dist("uniform", 0, 10, 100, 1000), lambda: b.uniform(0, 1e300),
                lambda: b.lognormal(1000, 1e155), lambda: b.lognormal(1e-170, 1.0)):
        with pytest.raises(ValueError):
            bad()
    wide = Workflow("w", (Step("s", user_input=b.lognormal(1000, 1e6), output=10),), context="stateless")
    assert (simulate(wide, model="gpt-4o", n=200, seed=1).tasks["input_text"] >= 0).all()
    # Python's mean rounds as the simulator does (half away from zero)
    assert b.const(2.5).mean == 3.0 and b.uniform(0, 5).mean == 3.0
    with pytest.raises(TypeError, match="dict"):
        compare([simulate(w, n=1, deterministic=True)])  # type: ignore[arg-type]
    gen = Workflow("w", (s for s in (Step("s", user_input=10),)), context="stateless")
    assert simulate(gen, n=1, deterministic=True).calls_per_task == 1


def test_simulation_result_repr_is_one_line_of_kpis() -> None:
    r = simulate(tokenops.examples.support_workflow(), model="gpt-4o", n=200, seed=0)
    text = repr(r)
    assert "\n" not in text and len(text) < 200, text
    assert "gpt-4o" in text and f"{r.completion_rate:.1%}" in text and "n=200" in text


# ------------------------------------------------------------------------- reviewer findings (fix-sim)
def test_reasoning_is_cut_at_max_output_and_at_the_window() -> None:
    # o3: 100k max output, 200k window; max_output_tokens includes reasoning. The reasoning was kept
    # whole and billed (150,000 reasoning tokens; 240,000 tokens in the 200k window).
    wf = Workflow("w", (Step("s", user_input=1000, output=500, reasoning=150_000),), context="stateless")
    r = simulate(wf, model="o3", n=1, deterministic=True)
    t = r.tasks.iloc[0]
    assert (t["output_text"], t["reasoning"]) == (0, 100_000)
    assert r.completion_rate == 0.0 and r.overflow_rate == 0.0  # cut: truncated, not rejected
    wide = Workflow("w", (Step("s", user_input=190_000, output=500, reasoning=50_000),), context="stateless")
    w = simulate(wide, model="o3", n=1, deterministic=True)
    t = w.tasks.iloc[0]
    assert (t["total_tokens"], t["reasoning"], t["output_text"]) == (200_000, 10_000, 0)
    assert w.completion_rate == 0.0
    # reasoning that fits leaves the answer what remains
    part = Workflow("w", (Step("s", user_input=1000, output=5000, reasoning=98_000),), context="stateless")
    t = simulate(part, model="o3", n=1, deterministic=True).tasks.iloc[0]
    assert (t["reasoning"], t["output_text"], bool(t["completed"])) == (98_000, 2_000, False)


def _three_steps() -> Workflow:
    # 3k in + 1k out each; the history (8k) passes a 5k threshold before the third call, whose
    # summary (8k prompt + 500) would take the task from 12k to 20.5k tokens
    return Workflow("w", tuple(Step(n, user_input=3000, output=1000) for n in "abc"), context="rolling_summary")


def test_summary_calls_pass_the_token_budget_check() -> None:
    pol = Policy(summary_threshold=5000, summary_tokens=500, token_budget=12_000, on_budget="stop")
    stop = simulate(_three_steps(), model="gpt-4o", n=1, deterministic=True, policy=pol)
    # a hard cap: the task stops before the summary (it was paid, 20,500 tokens on a 12,000 budget)
    assert stop.tokens_per_task == 12_000 and stop.completion_rate == 0.0
    assert not stop.trace["summary"].any() and stop.calls_per_task == 2
    # the reviewer's two-step repro: within budget, completed, no summary after the last call
    two = Workflow("w", (Step("a", user_input=3000, output=1000), Step("b", user_input=3000, output=1000)),
                   context="rolling_summary")
    r = simulate(two, model="gpt-4o", n=1, deterministic=True, policy=pol)
    assert (r.tokens_per_task, r.completion_rate) == (12_000, 1.0)
    # escalate: the summary is made by the stronger model, which finishes the task
    esc = simulate(_three_steps(), model="gpt-4o-mini", n=1, deterministic=True,
                   policy=replace(pol, on_budget="escalate", escalate_to="gpt-4o"))
    tr = esc.trace
    assert esc.completion_rate == 1.0 and list(tr["summary"]) == [False, False, True, False]
    assert list(tr["model"]) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o"]
    # summarize: a summary is what the budget asks for; compaction goes on (the task used to stop
    # at the next call, after paying the summary)
    summ = simulate(_three_steps(), model="gpt-4o", n=1, deterministic=True,
                    policy=replace(pol, on_budget="summarize"))
    assert summ.completion_rate == 1.0 and int(summ.trace["summary"].sum()) == 1


def test_no_summary_is_paid_that_no_call_reads() -> None:
    # the only call is truncated (gpt-4o's 128k window leaves 7,999 tokens): the task fails and a
    # $0.185 summary was billed after it
    wf = Workflow("w", (Step("only", user_input=120_000, output=8_000),), system_prompt=1, context="rolling_summary")
    r = simulate(wf, model="gpt-4o", n=1, deterministic=True)
    assert r.completion_rate == 0.0 and not r.trace["summary"].any() and len(r.trace) == 1
    assert r.cost_per_task == pytest.approx(float(r.trace["cost"].iloc[0]))
    # the history passes the threshold after the task's last call: no summary; a summary comes
    # right before the next call that would resend it
    loop = Workflow("w", (Step("a", calls=2, user_input=20_000, output=1000),), context="rolling_summary")
    assert not simulate(loop, model="gpt-4o", n=1, deterministic=True).trace["summary"].any()
    more = simulate(replace(loop, steps=(Step("a", calls=3, user_input=20_000, output=1000),)),
                    model="gpt-4o", n=1, deterministic=True).trace
    assert list(more["summary"]) == [False, False, True, False]
    assert list(more["input_tokens"]) == [20_000, 41_000, 42_000, 1_500 + 20_000]


def test_route_weights_whose_sum_is_infinite_split_by_weight() -> None:
    # each weight finite, their sum inf: every task went to the last model
    wf = Workflow("w", (Step("s", user_input=1000, output=100),), context="stateless")
    mini = simulate(wf, model="gpt-4o-mini", n=1, deterministic=True, policy=Policy(cache="off")).cost_per_task
    pol = Policy(cache="off", routing={"s": {"gpt-4o": 1e308, "gpt-4o-mini": 1e308}})
    r = simulate(wf, model="gpt-4o", n=4000, seed=5, policy=pol)
    share = float((r.raw["cost"] == mini).mean())
    assert 0.45 < share < 0.55, share
    with pytest.raises(ValueError, match="not all 0"):
        simulate(wf, model="gpt-4o", n=1, policy=Policy(routing={"s": {"gpt-4o": 0, "gpt-4o-mini": 0}}))


def test_cache_ttl_is_measured_from_the_previous_calls_start() -> None:
    # The entry is written or refreshed when a call's prompt is processed (its start). A call
    # takes 1 s + 600 output tokens at 60/s = 11 s: a 288 s gap after it is 299 s after its start
    # (a hit on gpt-4o's 5-minute cache), a 290 s gap 301 s (a miss); from its end both hit.
    def second_read(gap: int) -> int:
        w = Workflow("w", (Step("a", calls=2, user_input=100, output=600, gap_seconds=gap),), system_prompt=2048,
                     context="stateless")
        return int(simulate(w, model="gpt-4o", n=1, deterministic=True).trace["cache_read"].iloc[1])

    assert second_read(288) == 2048
    assert second_read(290) == 0
