"""Agent-workflow cost simulator (C++ core ``tokenops::budget``).

A :class:`Workflow` is a sequence of :class:`Step` s whose token counts are distributions. A
:class:`Policy` says how it runs: context policy (stateless steps, full history resent, rolling
summary, last-k turns, tool-result truncation), model per step (routing mix), iteration caps, a
token budget (summarize / escalate / stop), batch vs real-time prices, output caps and prompt
caching. :func:`simulate` runs it Monte-Carlo (seeded; identical for any thread count) or
deterministically (every distribution at its mean) and returns a :class:`SimulationResult` with
DataFrames and plots.

Prefix caching follows each provider's documented behaviour: OpenAI caches automatically from
1,024 tokens in 128-token increments; Anthropic reads what an explicit breakpoint wrote (5-minute
or 1-hour TTL; writes cost 1.25x / 2x); Gemini caches implicitly; DeepSeek caches on disk in 64-token
units. A cache expires when the gap between calls exceeds its TTL; a dynamic timestamp placed
before the static prefix makes nothing cacheable; summarising or sliding a last-k window changes
everything after the static prefix.

Explicit (Anthropic) caching puts its breakpoint where the next call stops resending the same
prompt, so a call writes only what a later call can read: the static prefix when the context is
``stateless``, when a full ``last_k`` window is about to slide, and for a summary call (the history
it summarises is replaced); the whole prompt while the history only grows (``full_history``,
``rolling_summary``, whose summary call resends the prompt before it). A breakpoint always at the
end of the prompt priced the support workflow (stateless) on claude-sonnet-4-5 at $0.656 instead
of $0.578: ``price_on_models(tokenops.examples.support_workflow(), ["claude-sonnet-4-5"])``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from .._args import check_seed, check_threads, is_int, is_real
from .._core import check_distribution, simulate_workflow
from ..pricing.engine import today_days
from ..pricing.catalog import Catalog
from ..pricing.usage import BUCKETS

# --------------------------------------------------------------------------------------------
# distributions
# --------------------------------------------------------------------------------------------


_DIST_KINDS = ("const", "uniform", "normal", "lognormal", "poisson")


@dataclass(frozen=True)
class Dist:
    """A token-count distribution; samples are rounded and clipped to [lo, hi].

    Checked when made (ValueError naming the parameter): counts cannot be negative, so a negative
    constant, uniform low or mean (which the clipping turned into a silent 0) is refused, as are
    a constant outside [lo, hi], a negative standard deviation and bounds outside [0, 1e15].
    """

    kind: str = "const"
    a: float = 0.0
    b: float = 0.0
    lo: float = 0.0
    hi: float = 1e15

    def __post_init__(self) -> None:
        if self.kind not in _DIST_KINDS:
            raise ValueError(f"Dist kind must be one of {', '.join(_DIST_KINDS)}, not {self.kind!r}")
        for name in ("a", "b", "lo", "hi"):
            v = getattr(self, name)
            if not is_real(v):
                raise TypeError(f"{self.kind} distribution: {name} must be a number, not {type(v).__name__}")
        # the core's check, the one the simulator applies (named errors, nothing clipped silently)
        check_distribution(self.spec(), f"{self.kind} distribution")

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "a": float(self.a), "b": float(self.b), "lo": float(self.lo), "hi": float(self.hi)}

    @property
    def mean(self) -> float:
        m = (self.a + self.b) / 2 if self.kind == "uniform" else self.a
        # half away from zero, as the simulator's std::round (round() is half to even: 2.5 -> 2)
        r = math.floor(m) + (1 if m - math.floor(m) >= 0.5 else 0)
        return float(min(max(r, self.lo), self.hi))


def const(x: float) -> Dist:
    return Dist("const", x)


def uniform(low: float, high: float) -> Dist:
    return Dist("uniform", low, high)


def normal(mean: float, sd: float, lo: float = 0, hi: float = 1e15) -> Dist:
    return Dist("normal", mean, sd, lo, hi)


def lognormal(mean: float, sd: float, lo: float = 0, hi: float = 1e15) -> Dist:
    """Log-normal with the given mean and standard deviation (of the distribution itself)."""
    return Dist("lognormal", mean, sd, lo, hi)


def poisson(mean: float, lo: float = 0, hi: float = 1e15) -> Dist:
    return Dist("poisson", mean, 0, lo, hi)


DistLike = Union[Dist, int, float]


def _dist(x: DistLike, where: str) -> Dist:
    if isinstance(x, Dist):
        return x
    if not is_real(x):
        raise TypeError(f"{where} must be a number or a Dist, not {type(x).__name__}")
    if not 0 <= x <= _MAX_TOKENS:  # NaN fails too
        raise ValueError(f"{where} must be in [0, {_MAX_TOKENS:.0e}], got {x}")
    return const(float(x))


# --------------------------------------------------------------------------------------------
# workflow and policy
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    calls: DistLike = 1
    user_input: DistLike = 0
    retrieved: DistLike = 0
    tool_output: DistLike = 0
    output: DistLike = 0
    reasoning: DistLike = 0
    gap_seconds: DistLike = 0
    p_success: float = 1.0
    max_retries: int = 0
    light: bool = False  # a light step (routing candidates for a small model)
    dynamic_prefix: bool = False  # a timestamp before the static prefix


@dataclass(frozen=True)
class Workflow:
    """An agent workflow: its steps in order, the static prefix every call resends (system prompt,
    tool schemas) and how context carries between calls (``context``: ``stateless``,
    ``full_history``, ``rolling_summary`` or ``last_k``). Token sizes are ints or :class:`Dist`."""

    name: str
    steps: tuple[Step, ...]
    system_prompt: DistLike = 0
    tool_schema: DistLike = 0
    context: str = "full_history"  # stateless | full_history | rolling_summary | last_k
    description: str = ""

    def __post_init__(self) -> None:
        # A generator was consumed by the first pass over it (the core then saw no steps).
        if isinstance(self.steps, (str, bytes, Mapping)) or not hasattr(self.steps, "__iter__"):
            raise TypeError(f"Workflow.steps must be a sequence of Step, not {type(self.steps).__name__}")
        object.__setattr__(self, "steps", tuple(self.steps))

    def with_context(self, context: str) -> Workflow:
        """The same workflow with another context strategy (see the class docstring)."""
        return replace(self, context=context)


@dataclass(frozen=True)
class Policy:
    name: str = "baseline"
    routing: Mapping[str, str | Mapping[str, float]] = field(default_factory=dict)  # step -> model or mix
    route_light_to: str | None = None  # every Step.light step runs on this model
    iteration_cap: int | Mapping[str, int] | None = None
    # Per-task tokens. on_budget: what happens when a call (a summary call included) would pass
    # it: "stop" fails the task before that call (a hard cap); "escalate" moves that call and the
    # rest of the task to escalate_to, unbudgeted; "summarize" summarises the history and from
    # then on keeps it under summary_threshold (a trigger for compaction, not a cap: the tokens
    # already spent stay spent, and the compaction's own summary calls are not checked).
    token_budget: int | None = None
    on_budget: str = "stop"  # summarize | escalate | stop
    escalate_to: str | None = None
    batch: bool = False  # batch-API prices (service_tier="batch")
    output_cap: int | None = None
    context: str | None = None  # overrides the workflow's context policy
    # rolling_summary: the history is summarised right before a call that would resend more than
    # summary_threshold tokens of it (never after the task's last call), to summary_tokens
    summary_threshold: int = 30_000
    summary_tokens: int = 1_500
    last_k: int = 4
    tool_truncate: int | None = None
    # auto (provider behaviour) | off | 1h (Anthropic 1-hour writes: for the run's models with
    # explicit caching; the others keep their automatic caching; ValueError if none has it)
    cache: str = "auto"


_CONTEXTS = ("stateless", "full_history", "rolling_summary", "last_k")

# Prefix-cache behaviour per provider (documented minimums, increments and TTLs).
_CACHE_BY_PROVIDER: dict[str, dict[str, Any]] = {
    "openai": {"cache": "automatic", "cache_min_tokens": 1024, "cache_increment": 128, "cache_ttl_seconds": 300},
    "azure": {"cache": "automatic", "cache_min_tokens": 1024, "cache_increment": 128, "cache_ttl_seconds": 300},
    "anthropic": {"cache": "explicit", "cache_min_tokens": 1024, "cache_increment": 1, "cache_ttl_seconds": 300},
    "gemini": {"cache": "automatic", "cache_min_tokens": 1024, "cache_increment": 1, "cache_ttl_seconds": 300},
    "deepseek": {"cache": "automatic", "cache_min_tokens": 64, "cache_increment": 64, "cache_ttl_seconds": 3600},
    "xai": {"cache": "automatic", "cache_min_tokens": 1024, "cache_increment": 1, "cache_ttl_seconds": 300},
}


def _cache_family(provider: str, key: str) -> str | None:
    p = provider.lower()
    k = key.lower()
    if "claude" in k:  # Anthropic's explicit caching wherever Claude is served (azure_ai, bedrock...)
        return "anthropic"
    if p.startswith("vertex_ai") and "gemini" in k:
        return "gemini"
    for fam in _CACHE_BY_PROVIDER:
        if p == fam or p.startswith(fam):
            return fam
    return None


def _anthropic_cache_min(key: str) -> int:
    """Anthropic's minimum cacheable prompt per model (prompt-caching docs): 4,096 tokens for
    Claude Haiku 4.5 and Opus 4.5 / 4.6, 2,048 for Haiku 3 / 3.5, 1,024 for the others."""
    k = key.lower()
    if re.search(r"haiku-[4-9]|[4-9][-.]\d+-haiku|opus-4[-.][5-9]|opus-[5-9]|[4-9][-.][5-9]-opus", k):
        return 4096
    if "haiku" in k:
        return 2048
    return 1024


def sim_model(name: str, catalog: Catalog | None = None, *, service_tier: str = "standard",
              cache: str = "auto") -> dict[str, Any]:
    """The simulator's view of a catalogue model: float64 USD per token per bucket (base row and
    the first long-context cliff tier of ``service_tier``) and its provider's cache behaviour.

    ``cache="1h"`` (Anthropic 1-hour cache writes) raises ValueError for a model whose caching is
    not explicit (OpenAI, Gemini... cache automatically, with no 1-hour write to buy)."""
    return _sim_model(name, catalog, service_tier, cache, strict=True)


def _sim_model(name: str, catalog: Catalog | None, service_tier: str, cache: str, *,
               strict: bool) -> dict[str, Any]:
    """``sim_model``; with ``strict=False``, ``cache="1h"`` on a model without explicit caching
    keeps its provider's caching (a run or table mixing Claude with other models)."""
    if cache not in _CACHE_MODES:
        raise ValueError(f"cache must be 'auto', 'off' or '1h', not {cache!r}")
    cat = catalog if catalog is not None else Catalog.default()
    info = cat.resolve(name)
    rows = [r for r in info.rows if r["tier"] == service_tier and r["mode"] == "cliff"]
    base = [r for r in rows if r["threshold"] == 0]
    if not base:
        if any(r["tier"] == service_tier and r["mode"] != "cliff" for r in info.rows):
            raise ValueError(f"model {info.key!r} is priced by input-range bands (the band of each request's "
                             "input prices all of it), which the simulator does not model; simulate a model "
                             "with flat or long-context-cliff prices")
        tiers = sorted({r["tier"] for r in info.rows})
        raise ValueError(f"model {info.key!r} has no {service_tier} prices (has: {', '.join(tiers) or 'none'})")
    # the rows in effect today, as tokenops.cost prices by default (not ones dated ahead)
    today = today_days()
    rows = [r for r in rows if r["effective_from"] <= today < r["effective_to"]]
    current = [r for r in rows if r["threshold"] == 0]
    if not current:
        raise ValueError(f"model {info.key!r} has no {service_tier} price row in effect today")
    base_row = max(current, key=lambda r: r["effective_from"])
    prices = base_row["prices"]
    if "input_text" not in prices or "output_text" not in prices:
        raise ValueError(f"model {info.key!r} lacks input/output token prices; cannot simulate it")

    def vec(p: Mapping[str, Any], fallback: Mapping[str, Any]) -> list[float]:
        out = []
        for b in BUCKETS:
            v = p.get(b) or fallback.get(b)
            if v is None and b == "reasoning":
                v = p.get("output_text") or fallback.get("output_text")
            out.append(float(v["usd"]) if v else 0.0)
        return out

    # limits: the input limit (LiteLLM's max_input_tokens), the max output, and the input + output
    # window: the catalogue's total window where it states one (genai-prices: gpt-5 400k), else
    # the input limit, as most models share one window (gpt-4o, gpt-4.1, o3, Claude, Gemini);
    # LiteLLM cannot tell gpt-5's 272k input cap inside a 400k window from that
    spec: dict[str, Any] = {"name": info.key, "price": vec(prices, {}), "threshold": 0,
                            "max_input": int(info.context_window or 0), "max_output": int(info.max_output or 0),
                            "context_window": int(info.total_window or info.context_window or 0)}
    above = sorted((r for r in rows if r["threshold"] > 0), key=lambda r: r["threshold"])
    if above:
        spec["threshold"] = int(above[0]["threshold"])
        spec["price_above"] = vec(above[0]["prices"], prices)
    fam = _cache_family(info.provider, info.key)
    if cache == "1h" and (fam is None or "cache_read" not in prices
                          or _CACHE_BY_PROVIDER[fam]["cache"] != "explicit"):
        how = "has no prompt caching" if fam is None or "cache_read" not in prices else \
            f"caches automatically ({fam})"
        if not strict:
            return _sim_model(name, catalog, service_tier, "auto", strict=True)
        raise ValueError(f"cache='1h' (1-hour cache writes) needs a model with explicit caching "
                         f"(Anthropic Claude); {info.key!r} {how}, so a 1-hour write cannot be priced "
                         "for it: use cache='auto' (or 'off')")
    if cache == "off" or fam is None or "cache_read" not in prices:
        spec["cache"] = "none"
    else:
        spec.update(_CACHE_BY_PROVIDER[fam])
        if fam == "anthropic":
            spec["cache_min_tokens"] = _anthropic_cache_min(info.key)
        if fam == "gemini" and "pro" in info.key.lower():
            spec["cache_min_tokens"] = 2048
        if spec["cache"] == "explicit":
            want = "cache_write_1h" if cache == "1h" else "cache_write_5m"
            if want not in prices:
                raise ValueError(f"model {info.key!r} has no {want} price; cannot simulate explicit caching")
            if cache == "1h":
                spec["cache_write_1h"] = True
                spec["cache_ttl_seconds"] = 3600
    return spec


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------

_TOKEN_COLS = ("input_text", "cache_read", "cache_write", "output_text", "reasoning")


@dataclass(repr=False)
class SimulationResult:
    """What ``simulate`` returns: per-task costs, tokens and outcomes (``tasks``, ``trace``,
    ``summary()``), the KPIs as properties and plots."""

    workflow: Workflow
    policy: Policy
    models: list[str]
    n: int
    seed: int
    deterministic: bool
    raw: dict[str, Any]

    # ---- per-task frame
    @property
    def tasks(self) -> Any:
        import pandas as pd

        tok = self.raw["tokens"]
        ix = {b: i for i, b in enumerate(BUCKETS)}
        df = pd.DataFrame({
            "cost": self.raw["cost"],
            "completed": self.raw["completed"].astype(bool),
            "calls": self.raw["calls"],
            "input_text": tok[:, ix["input_text"]],
            "cache_read": tok[:, ix["cache_read"]],
            "cache_write": tok[:, ix["cache_write_5m"]] + tok[:, ix["cache_write_1h"]],
            "output_text": tok[:, ix["output_text"]],
            "reasoning": tok[:, ix["reasoning"]],
            "context_peak": self.raw["context_peak"],
            "context_overflow": self.raw["overflow"].astype(bool),
        })
        df["input_tokens"] = df["input_text"] + df["cache_read"] + df["cache_write"]
        df["output_tokens"] = df["output_text"] + df["reasoning"]
        df["total_tokens"] = df["input_tokens"] + df["output_tokens"]
        return df

    def __repr__(self) -> str:  # the dataclass repr printed the workflow and the raw arrays (4 KB)
        mode = "deterministic" if self.deterministic else f"seed={self.seed}"
        return (f"<SimulationResult {self.workflow.name!r} on {', '.join(self.models)}: n={self.n} ({mode}), "
                f"${self.cost_per_task:.4g}/task, completion {self.completion_rate:.1%}, "
                f"{self.calls_per_task:.3g} calls/task>")

    @property
    def completion_rate(self) -> float:
        """Share of tasks that completed."""
        return float(self.raw["completed"].mean())

    @property
    def overflow_rate(self) -> float:
        """Share of tasks that failed because a prompt exceeded its model's context window."""
        return float(self.raw["overflow"].mean())

    @property
    def cost_per_task(self) -> float:
        """Mean USD per task, failed tasks included."""
        return float(self.raw["cost"].mean())

    @property
    def cost_per_completed_task(self) -> float:
        """Total spend (failed attempts included) divided by the number of completed tasks."""
        done = int(self.raw["completed"].sum())
        return float(self.raw["cost"].sum() / done) if done else float("inf")

    @property
    def calls_per_task(self) -> float:
        """Mean model calls per task (retries included)."""
        return float(self.raw["calls"].mean())

    @property
    def tokens_per_task(self) -> float:
        """Mean input + output tokens per task (cache reads and writes included)."""
        return float(self.tasks["total_tokens"].mean())

    @property
    def total_calls(self) -> int:
        return int(self.raw["total_calls"])

    def summary(self) -> Any:
        """mean / p50 / p95 / p99 of tokens by type, calls and cost per task."""
        import pandas as pd

        df = self.tasks
        cols = [*_TOKEN_COLS, "input_tokens", "output_tokens", "total_tokens", "calls", "cost"]
        rows = {}
        for c in cols:
            v = df[c].to_numpy(dtype=float)
            rows[c] = {"mean": v.mean(), "p50": np.percentile(v, 50), "p95": np.percentile(v, 95),
                       "p99": np.percentile(v, 99)}
        out = pd.DataFrame(rows).T
        out.loc["cost_per_completed_task"] = [self.cost_per_completed_task] + [np.nan] * 3
        out.loc["completion_rate"] = [self.completion_rate] + [np.nan] * 3
        out.loc["context_overflow_rate"] = [self.overflow_rate] + [np.nan] * 3
        return out

    def step_share(self) -> Any:
        """Mean cost per task by step (summaries separately) and its share of the total."""
        import pandas as pd

        names = [s.name for s in self.workflow.steps] + ["(summaries)"]
        mean = self.raw["step_cost"].mean(axis=0)
        tot = mean.sum()
        df = pd.DataFrame({"step": names, "cost_per_task": mean, "share": mean / tot if tot else mean * 0})
        return df[(df["cost_per_task"] > 0) | (df["step"] != "(summaries)")].reset_index(drop=True)

    @property
    def trace(self) -> Any:
        """Every call of task 0, with the cumulative input (the compounding context)."""
        import pandas as pd

        cols = ["step", "iteration", "attempt", "model", "input_tokens", "output_tokens", "cache_read",
                "cache_write", "cost", "summary"]
        df = pd.DataFrame(self.raw["trace"], columns=cols)
        names = [s.name for s in self.workflow.steps]
        df["step"] = [names[i] for i in df["step"]]
        df["model"] = [self.models[i] for i in df["model"]]
        df.insert(0, "call", np.arange(1, len(df) + 1))
        df["tokens"] = df["input_tokens"] + df["output_tokens"]
        df["cumulative_input"] = df["input_tokens"].cumsum()
        df["cumulative_tokens"] = df["tokens"].cumsum()
        return df

    def growth_fit(self) -> dict[str, float]:
        """Least-squares fits of cumulative input vs call number: linear and quadratic R²."""
        tr = self.trace
        if len(tr) < 4:
            # A quadratic passes through any 3 points: R² = 1 would say nothing.
            raise ValueError(f"growth_fit needs a trace of at least 4 calls, this one has {len(tr)}")
        x = tr["call"].to_numpy(float)
        y = tr["cumulative_input"].to_numpy(float)
        out: dict[str, float] = {}
        for deg, nm in ((1, "linear"), (2, "quadratic")):
            coef = np.polyfit(x, y, deg)
            resid = y - np.polyval(coef, x)
            ss = ((y - y.mean()) ** 2).sum()
            # No input at all: nothing grows, R² is undefined (NaN), not a perfect fit.
            out[f"r2_{nm}"] = float(1 - (resid**2).sum() / ss) if ss else float("nan")
            if deg == 2:
                out["quadratic_coef"] = float(coef[0])
        return out

    # ---- plots
    def plot_cost_distribution(self, ax: Any = None, bins: int = 60) -> Any:
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 3.5))[1]
        ax.hist(self.raw["cost"], bins=bins, color="#4c72b0", alpha=0.85)
        ax.axvline(self.cost_per_task, color="k", ls="--", lw=1, label=f"mean ${self.cost_per_task:.4f}")
        ax.axvline(self.cost_per_completed_task, color="#c44e52", lw=1.5,
                   label=f"per completed ${self.cost_per_completed_task:.4f}")
        ax.set_xlabel("cost per task (USD)")
        ax.set_ylabel("tasks")
        ax.set_title(f"{self.workflow.name}: {self.policy.name}")
        ax.legend(fontsize=8)
        return ax

    def plot_step_share(self, ax: Any = None) -> Any:
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 3.5))[1]
        df = self.step_share()
        ax.barh(df["step"], df["share"] * 100, color="#55a868")
        ax.set_xlabel("share of cost (%)")
        ax.invert_yaxis()
        return ax

    def plot_cumulative_input(self, ax: Any = None, label: str | None = None) -> Any:
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 3.5))[1]
        tr = self.trace
        ax.plot(tr["call"], tr["cumulative_input"] / 1000, marker="o", label=label or self.policy.name)
        ax.set_xlabel("call")
        ax.set_ylabel("cumulative input (k tokens)")
        ax.legend(fontsize=8)
        return ax


def compare(results: Mapping[str, SimulationResult]) -> Any:
    """One row per policy: cost per task and per completed task, completion rate, tokens."""
    import pandas as pd

    if not isinstance(results, Mapping):
        raise TypeError(f"compare takes a dict {{policy name: SimulationResult}}, not {type(results).__name__}")
    if not results:
        raise ValueError("compare needs at least one SimulationResult")
    rows = []
    for name, r in results.items():
        if not isinstance(r, SimulationResult):
            raise TypeError(f"results[{name!r}] must be a SimulationResult, not {type(r).__name__}")
        t = r.tasks
        rows.append({
            "policy": name,
            "cost_per_task": r.cost_per_task,
            "cost_per_completed_task": r.cost_per_completed_task,
            "p95_cost": float(np.percentile(r.raw["cost"], 95)),
            "completion_rate": r.completion_rate,
            "calls_per_task": r.calls_per_task,
            "input_tokens": float(t["input_tokens"].mean()),
            "cache_read": float(t["cache_read"].mean()),
            "output_tokens": float(t["output_tokens"].mean()),
        })
    df = pd.DataFrame(rows).set_index("policy")
    base = df["cost_per_completed_task"].iloc[0]
    # The first policy is the reference; if it completes nothing (inf) or costs nothing, a ratio
    # to it means nothing: NaN rather than 0.0x.
    ok = np.isfinite(base) and base > 0
    df["vs_first"] = df["cost_per_completed_task"] / base if ok else np.nan
    return df


def plot_comparison(df: Any, ax: Any = None) -> Any:
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    ax.barh(df.index, df["cost_per_completed_task"], color="#8172b2")
    for i, v in enumerate(df["cost_per_completed_task"]):
        ax.text(v, i, f" ${v:.4f}", va="center", fontsize=8)
    ax.set_xlabel("cost per completed task (USD)")
    ax.invert_yaxis()
    return ax


def price_on_models(workflow: Workflow, models: Sequence[str], *, policy: Policy | None = None,
                    catalog: Catalog | None = None) -> Any:
    """The workflow run deterministically on each model: calls, tokens and cost per task, with
    the provider's prompt caching and without it. With ``Policy(cache="1h")`` a model without
    explicit caching (OpenAI, Gemini...) is priced with its own automatic caching
    (``cache_mode`` says which mode each row used)."""
    import pandas as pd

    if isinstance(models, str):
        models = [models]
    models = list(models)
    if not models:
        raise ValueError("price_on_models needs at least one model name")
    rows = []
    for m in models:
        base = policy or Policy()
        if base.cache == "1h" and not _sim_model(m, catalog, "standard", "1h", strict=False).get("cache_write_1h"):
            base = replace(base, cache="auto")  # no 1-hour writes to buy for this model
        on = simulate(workflow, model=m, n=1, deterministic=True, policy=base, catalog=catalog)
        off = simulate(workflow, model=m, n=1, deterministic=True, policy=replace(base, cache="off"), catalog=catalog)
        rows.append({"model": on.models[0], "calls": on.calls_per_task, "tokens": on.tokens_per_task,
                     "cached_tokens": float(on.tasks["cache_read"].iloc[0]), "cost_no_cache": off.cost_per_task,
                     "cost_with_cache": on.cost_per_task, "cache_mode": base.cache})
    return pd.DataFrame(rows).set_index("model")


def policy_study(workflow: Workflow, model: str, policies: Mapping[str, Policy], *, n: int = 20_000, seed: int = 0,
                 catalog: Catalog | None = None, num_threads: int = 0) -> dict[str, SimulationResult]:
    """Runs the same Monte-Carlo tasks (same seed) under each policy."""
    if not isinstance(policies, Mapping):
        raise TypeError(f"policies must be a mapping name -> Policy, not {type(policies).__name__}")
    return {name: simulate(workflow, model=model, n=n, seed=seed, policy=p, catalog=catalog, num_threads=num_threads)
            for name, p in policies.items()}


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def _policy_int(pol: Policy, name: str, *, minimum: int, optional: bool, maximum: int | None = None) -> None:
    v = getattr(pol, name)
    if v is None and optional:
        return
    if not is_int(v):
        raise TypeError(f"Policy.{name} must be an int{' or None' if optional else ''}, not {type(v).__name__}")
    top = _MAX_TOKENS if maximum is None else maximum
    if not minimum <= v <= top:
        shown = f"{top:.0e}" if top == _MAX_TOKENS else str(top)
        raise ValueError(f"Policy.{name} must be in [{minimum}, {shown}], got {v}")


def _check_policy(pol: Policy, step_names: set[str]) -> None:
    """Named errors for policy values the simulator would misread (a negative summary size
    grew the context it should shrink; an unknown cache mode was ignored)."""
    for name in ("token_budget", "output_cap", "tool_truncate"):
        _policy_int(pol, name, minimum=1, optional=True)
    _policy_int(pol, "summary_threshold", minimum=1, optional=False)
    _policy_int(pol, "summary_tokens", minimum=0, optional=False)
    _policy_int(pol, "last_k", minimum=1, optional=False, maximum=_MAX_INT32)
    if not isinstance(pol.batch, (bool, np.bool_)):
        # "no" is truthy: it priced every call at batch rates.
        raise TypeError(f"Policy.batch must be a bool, not {type(pol.batch).__name__}")
    if pol.route_light_to is not None and not isinstance(pol.route_light_to, str):
        # A list or a number was ignored: the light steps stayed on the default model.
        raise TypeError(f"Policy.route_light_to must be a model name (str) or None, not "
                        f"{type(pol.route_light_to).__name__}")
    if pol.escalate_to is not None and not isinstance(pol.escalate_to, str):
        raise TypeError(f"Policy.escalate_to must be a model name (str) or None, not {type(pol.escalate_to).__name__}")
    if not isinstance(pol.routing, Mapping):
        raise TypeError(f"Policy.routing must be a mapping step -> model name or {{model: weight}}, not "
                        f"{type(pol.routing).__name__}")
    caps = pol.iteration_cap if isinstance(pol.iteration_cap, Mapping) else {"*": pol.iteration_cap}
    for step, cap in caps.items():
        if step != "*" and step not in step_names:
            raise ValueError(f"iteration_cap names unknown step {step!r}; steps: {', '.join(sorted(step_names))}")
        if cap is None:
            continue
        if not is_int(cap) or not 1 <= cap <= _MAX_INT32:
            raise ValueError(f"iteration_cap must be an int in [1, {_MAX_INT32}] (or None for no cap), got {cap!r}")
    if pol.cache not in _CACHE_MODES:
        raise ValueError(f"Policy.cache must be 'auto', 'off' or '1h', not {pol.cache!r}")
    if pol.on_budget == "escalate" and not pol.escalate_to:
        raise ValueError("on_budget='escalate' needs escalate_to (the model to escalate to)")
    if pol.on_budget != "stop" and pol.token_budget is None:
        # on_budget says what happens when the token budget is reached: without one it never acts
        raise ValueError(f"on_budget={pol.on_budget!r} needs token_budget (the per-task budget it acts on)")

    for step, route in pol.routing.items():
        if isinstance(route, Mapping):
            for m, x in route.items():
                if not isinstance(m, str):
                    raise TypeError(f"routing[{step!r}] model names must be str, got {m!r}")
                if not is_real(x):
                    raise TypeError(f"routing[{step!r}] weight for {m!r} must be a number, not {type(x).__name__}")
            w = [float(x) for x in route.values()]
            # weights are relative: the core divides them by the largest (finite weights whose
            # sum is inf, 1e308 + 1e308, sent every task to the last model)
            if not w or not all(np.isfinite(x) and x >= 0 for x in w) or max(w) <= 0:
                raise ValueError(f"routing[{step!r}] weights must be finite, >= 0 and not all 0, got {dict(route)}")
        elif not isinstance(route, str):
            raise TypeError(f"routing[{step!r}] must be a model name or a {{model: weight}} mix, "
                            f"not {type(route).__name__}")


# Policy.cache / sim_model(cache=): provider behaviour, no caching, Anthropic 1-hour writes.
_CACHE_MODES = ("auto", "off", "1h")
# Largest token count a policy or distribution may name: the simulator adds counts over calls
# and tasks in int64, so counts stay far below 2^63.
_MAX_TOKENS = 10**15
# Retries of one step call: beyond this a task could run for ever (each retry is a call).
_MAX_RETRIES = 1000
# Counts the core reads as a C int (last_k, iteration caps).
_MAX_INT32 = 2**31 - 1
# Tasks per simulate() call (the result holds one row per task).
_MAX_TASKS = 10**8


def simulate(workflow: Workflow, model: str = "gpt-4o", n: int = 10_000, seed: int = 0,
             deterministic: bool = False, policy: Policy | None = None, catalog: Catalog | None = None,
             num_threads: int = 0) -> SimulationResult:
    """Runs ``n`` tasks of ``workflow`` on ``model`` under ``policy``.

    ``deterministic=True`` puts every distribution at its mean and every call succeeds (one task
    is enough). Monte-Carlo runs are reproducible from ``seed`` and identical for any
    ``num_threads``.
    """
    if not isinstance(workflow, Workflow):
        raise TypeError(f"workflow must be a tokenops.budget.Workflow, not {type(workflow).__name__}")
    pol = Policy() if policy is None else policy
    if not isinstance(pol, Policy):
        raise TypeError(f"policy must be a tokenops.budget.Policy, not {type(pol).__name__}")
    if not is_int(n) or not 1 <= n <= _MAX_TASKS:
        raise ValueError(f"n must be an integer in [1, {_MAX_TASKS:.0e}], got {n!r}")
    seen: set[str] = set()
    for i, st in enumerate(workflow.steps):
        if not isinstance(st, Step):
            raise TypeError(f"workflow.steps[{i}] must be a tokenops.budget.Step, not {type(st).__name__}")
        if not isinstance(st.name, str) or not st.name:
            raise TypeError(f"workflow.steps[{i}].name must be a non-empty str, not {st.name!r}")
        if st.name in seen:
            # routing, iteration caps and the per-step report are keyed by name
            raise ValueError(f"workflow.steps[{i}] repeats the step name {st.name!r}; step names must be unique")
        seen.add(st.name)
    seed = check_seed(seed)
    if not isinstance(deterministic, (bool, np.bool_)):
        # "no" is truthy: it ran every distribution at its mean
        raise TypeError(f"deterministic must be a bool, not {type(deterministic).__name__}")
    context = pol.context or workflow.context
    if context not in _CONTEXTS:
        raise ValueError(f"context must be one of {', '.join(_CONTEXTS)}, not {context!r}")
    if pol.on_budget not in ("summarize", "escalate", "stop"):
        raise ValueError(f"on_budget must be summarize, escalate or stop, not {pol.on_budget!r}")
    _check_policy(pol, seen)
    if pol.on_budget == "summarize" and context == "stateless":
        # each call sends only its own input: there is no history to summarise, so it acted as "stop"
        raise ValueError("on_budget='summarize' has no history to summarise with context 'stateless'; "
                         "use on_budget='stop' or 'escalate', or a context that keeps history")
    if (context == "rolling_summary" or pol.on_budget == "summarize") and pol.summary_tokens >= pol.summary_threshold:
        # every summary would be larger than the history it replaces
        raise ValueError(f"Policy.summary_tokens ({pol.summary_tokens}) must be smaller than summary_threshold "
                         f"({pol.summary_threshold}) with context 'rolling_summary' or on_budget='summarize': a "
                         "summary replaces the history above the threshold")
    tier = "batch" if pol.batch else "standard"
    if not isinstance(model, str):
        # A list used to run on its first name only, silently; an empty one raised IndexError.
        raise TypeError(f"model must be one model name (str), not {type(model).__name__}; to mix models "
                        "use Policy(routing={step: {model: weight}}) or route_light_to, to compare "
                        "models use price_on_models(workflow, models) or one simulate() per model")
    default = model
    names: list[str] = []
    specs: list[dict[str, Any]] = []

    by_name: dict[str, int] = {}  # a name users pass -> its model's index
    by_key: dict[str, int] = {}   # a catalogue key -> its model's index

    def index_of(name: str) -> int:
        if name not in by_name:
            # cache="1h": 1-hour writes for the models that have them (a Claude/GPT routing mix
            # keeps GPT's automatic caching); ValueError below if no model of the run has them.
            spec = _sim_model(name, catalog, tier, pol.cache, strict=False)
            # Two names of one catalogue model (claude-sonnet-4-5, anthropic/claude-sonnet-4-5)
            # are one model with one prompt cache: a step routed to the alias read nothing.
            if spec["name"] not in by_key:
                by_key[spec["name"]] = len(specs)
                specs.append(spec)
                names.append(name)
            by_name[name] = by_key[spec["name"]]
        return by_name[name]

    default_idx = index_of(default)
    for k in pol.routing:
        if k not in seen:
            raise ValueError(f"routing names unknown step {k!r}; steps: {', '.join(sorted(seen))}")
    steps = []
    for st in workflow.steps:
        d: dict[str, Any] = {"name": st.name}
        for f in ("calls", "user_input", "retrieved", "tool_output", "output", "reasoning", "gap_seconds"):
            d[f] = _dist(getattr(st, f), f"step {st.name!r}.{f}").spec()
        if not is_real(st.p_success) or not 0.0 <= st.p_success <= 1.0:
            raise ValueError(f"step {st.name!r}.p_success must be a number in [0, 1], got {st.p_success!r}")
        for flag in ("light", "dynamic_prefix"):
            if not isinstance(getattr(st, flag), (bool, np.bool_)):
                raise TypeError(f"step {st.name!r}.{flag} must be a bool, not {type(getattr(st, flag)).__name__}")
        d["p_success"] = float(st.p_success)
        if not is_int(st.max_retries):
            raise TypeError(f"step {st.name!r}.max_retries must be an int, not {type(st.max_retries).__name__}")
        if not 0 <= st.max_retries <= _MAX_RETRIES:
            raise ValueError(f"step {st.name!r}.max_retries must be in [0, {_MAX_RETRIES}], got {st.max_retries}")
        d["max_retries"] = int(st.max_retries)
        d["dynamic_prefix"] = bool(st.dynamic_prefix)
        route = pol.routing.get(st.name)
        if route is None and st.light and pol.route_light_to:
            route = pol.route_light_to
        if isinstance(route, str):
            d["route"] = [(index_of(route), 1.0)]
        elif isinstance(route, Mapping):
            d["route"] = [(index_of(m), float(w)) for m, w in route.items()]
        cap = pol.iteration_cap
        if isinstance(cap, Mapping):
            cap = cap.get(st.name, cap.get("*"))  # "*": every step not named
        d["iteration_cap"] = int(cap or 0)
        steps.append(d)
    wf = {
        "system_prompt": _dist(workflow.system_prompt, "system_prompt").spec(),
        "tool_schema": _dist(workflow.tool_schema, "tool_schema").spec(),
        "steps": steps,
        "context": context,
        "summary_threshold": int(pol.summary_threshold),
        "summary_tokens": int(pol.summary_tokens),
        "last_k": int(pol.last_k),
        "tool_truncate": int(pol.tool_truncate or 0),
        "output_cap": int(pol.output_cap or 0),
        "token_budget": int(pol.token_budget or 0),
        "on_budget": pol.on_budget,
        "escalate_model": index_of(pol.escalate_to) if pol.escalate_to else -1,
        "default_model": default_idx,
    }
    if pol.cache == "1h" and not any(sp.get("cache_write_1h") for sp in specs):
        # It was accepted and ignored: the result priced 5-minute or automatic caching.
        raise ValueError(f"Policy(cache='1h') asks for 1-hour cache writes, but no model of this run has "
                         f"explicit caching (Anthropic Claude): {', '.join(names)}. Use cache='auto'.")
    raw = simulate_workflow(wf, specs, int(n), seed, bool(deterministic), check_threads(num_threads))
    return SimulationResult(workflow=workflow, policy=pol, models=list(names), n=int(n), seed=int(seed),
                            deterministic=bool(deterministic), raw=raw)


__all__ = [
    "Dist", "Policy", "SimulationResult", "Step", "Workflow", "compare", "const", "lognormal", "normal",
    "plot_comparison", "poisson", "policy_study", "price_on_models", "sim_model", "simulate", "uniform",
]
