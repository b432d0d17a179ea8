"""Replay of RouterBench outcomes as production traffic through a :class:`~tokenops.govern.Ledger`,
for the TokenOps KPIs on real outcomes: cost per completed task (failures charged to successes),
success rate, cost per task and its p50 / p95, per model and per routing policy.

Each RouterBench prompt is a task; serving it with model ``m`` is one call; the task succeeds when
``m``'s quality is 1. RouterBench gives each call's USD cost but no token counts, so the calls are
re-counted here: the prompt's input tokens and the response's output tokens, with the model's
own encoding for the OpenAI models (exact text tokens; the chat framing, a few tokens per
message, is not counted) and with ``o200k_base`` as a labelled **approximation** for models
without a public tokenizer in tokenops (Claude, Mistral, Llama-2, Yi, WizardLM), as
:func:`tokenops.count_messages` does. The counts are priced by the tokenops catalogue (exact
mode), through the catalogue entries of :data:`ROUTERBENCH_PRICES` (some are a same-price sibling
or the provider's size class: see ``how``). :func:`cost_check` compares that cost with
RouterBench's own ``total_cost`` per model (which is cl100k_base token counts times its price
list, for every model).

Needs pandas (imported inside the functions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ledger import Ledger

if TYPE_CHECKING:
    import pandas as pd

STRONG = "gpt-4-1106-preview"
#: RouterBench's oracle label for a prompt no model answered correctly.
NO_MODEL_CORRECT = "no_model_correct"
#: RouterBench model -> (tokenops catalogue key that prices it, how the entry relates to it).
#: RouterBench priced the open models at Together AI's per-size serverless prices of early 2024
#: (its routers/common.py); LiteLLM, hence the catalogue, keeps those as size classes.
ROUTERBENCH_PRICES: dict[str, tuple[str, str]] = {
    "gpt-4-1106-preview": ("gpt-4-1106-preview", "same model"),
    "gpt-3.5-turbo-1106": ("gpt-3.5-turbo-1106", "same model"),
    "claude-instant-v1": ("anthropic.claude-instant-v1", "same model (Bedrock id)"),
    "claude-v1": ("anthropic.claude-v1", "same model (Bedrock id)"),
    "claude-v2": ("anthropic.claude-v2:1", "Claude 2.1 entry (Claude 2.0 has none; same list price)"),
    "mistralai/mixtral-8x7b-chat": ("together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1", "same model (Together AI)"),
    "mistralai/mistral-7b-chat": ("together-ai-4.1b-8b", "Together AI size class 4.1B-8B"),
    "WizardLM/WizardLM-13B-V1.2": ("together-ai-8.1b-21b", "Together AI size class 8.1B-21B"),
    "meta/code-llama-instruct-34b-chat": ("together-ai-21.1b-41b", "Together AI size class 21.1B-41B"),
    "zero-one-ai/Yi-34B-Chat": ("together-ai-21.1b-41b", "Together AI size class 21.1B-41B"),
    "meta/llama-2-70b-chat": ("together-ai-41.1b-80b", "Together AI size class 41.1B-80B"),
}
_RB_TIME = 1_709_251_200.0  # 2024-03-01 00:00 UTC, when RouterBench was published
#: Columns of :func:`load_routerbench_calls` (one row per prompt x model).
CALL_COLUMNS = ("task", "sample_id", "eval_name", "model", "success", "input_tokens", "output_tokens",
                "tokens_exact", "routerbench_cost", "oracle")
_REPLAY_COLUMNS = ("task", "model", "success", "input_tokens", "output_tokens", "oracle")
#: KPI columns :func:`replay_kpis` returns, in order.
KPI_COLUMNS = ("policy", "kind", "tasks", "success_rate", "calls_per_task", "task_cost", "cost_per_task",
               "cost_per_completed_task", "p50_cost_per_task", "p95_cost_per_task")


def count_tokens(texts: Sequence[str], model: str) -> tuple[Any, bool]:
    """Token counts of ``texts`` for ``model`` (int64 numpy array) and whether they are exact:
    the model's own encoding where tokenops knows it (OpenAI models), else ``o200k_base`` as an
    approximation (the model's tokenizer is not public or not shipped)."""
    from ..tokenizer import encoding_for_model, get_encoding

    try:
        enc, exact = encoding_for_model(model), True
    except KeyError:
        enc, exact = get_encoding("o200k_base"), False
    return enc.count_batch(list(texts), disallowed_special=()), exact


def load_routerbench_calls(split: str = "test", data_dir: str | Path | None = None) -> pd.DataFrame:
    """The RouterBench subset as calls: one row per (prompt, model) with its outcome, token
    counts and RouterBench's cost. ``split``: "train", "test" or "all" (3,178 prompts).

    Columns (:data:`CALL_COLUMNS`): ``task`` (row number, unique; ``sample_id`` is not),
    ``sample_id``, ``eval_name``, ``model`` (RouterBench's name), ``success`` (quality == 1),
    ``input_tokens`` / ``output_tokens`` (prompt / response, :func:`count_tokens`),
    ``tokens_exact`` (False: approximate counts), ``routerbench_cost`` (its ``total_cost``,
    USD) and ``oracle`` (RouterBench's oracle label). Prompts with a missing quality for any
    model are dropped (28 ARC rows: 20 train, 8 test), so every policy sees the same tasks.
    """
    import numpy as np
    import pandas as pd

    from ..router.data import load_routerbench

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    parts = [load_routerbench(s, data_dir=data_dir) for s in (("train", "test") if split == "all" else (split,))]
    frames = []
    offset = 0
    for rb in parts:
        unknown = [m for m in rb.models if m not in ROUTERBENCH_PRICES]
        if unknown:
            raise KeyError(f"RouterBench model(s) {unknown} have no catalogue entry in ROUTERBENCH_PRICES")
        assert rb.responses is not None
        keep = np.isfinite(rb.quality).all(axis=1)
        rows = np.flatnonzero(keep)
        prompts = [rb.prompts[i] for i in rows]
        n = len(rows)
        for k, m in enumerate(rb.models):
            n_in, exact = count_tokens(prompts, m)
            n_out, _ = count_tokens([str(t) for t in rb.responses[rows, k]], m)
            frames.append(pd.DataFrame({
                "task": np.arange(offset, offset + n), "sample_id": [rb.sample_ids[i] for i in rows],
                "eval_name": rb.tasks[rows], "model": m, "success": rb.quality[rows, k] == 1.0,
                "input_tokens": n_in, "output_tokens": n_out, "tokens_exact": exact,
                "routerbench_cost": rb.cost[rows, k], "oracle": [rb.oracle[i] for i in rows]}))
        offset += n
    return pd.concat(frames, ignore_index=True)[list(CALL_COLUMNS)]


@dataclass(frozen=True)
class Policy:
    """A routing policy: which models serve a task, in order, given every model's outcome on it.

    * ``always``: ``models[0]`` serves every task.
    * ``oracle``: RouterBench's oracle label (among the models with the best quality, the
      cheapest); a prompt no model answers (``no_model_correct``) goes to ``models[0]`` and fails.
      It needs the answers in advance: an upper bound, not a deployable router.
    * ``cascade``: ``models[0]`` first; when it failed, ``models[1]`` too (both calls are paid).
      Escalating exactly on failure assumes a **perfect verifier**, so this is an upper bound of
      a real cascade.

    The task's outcome is the outcome of the last model called.
    """

    name: str
    kind: str
    models: tuple[str, ...]

    def __post_init__(self) -> None:
        need = {"always": 1, "oracle": 1, "cascade": 2}
        if self.kind not in need:
            raise ValueError(f"unknown policy kind {self.kind!r}; choose from {sorted(need)}")
        if len(self.models) != need[self.kind]:
            raise ValueError(f"a {self.kind!r} policy takes {need[self.kind]} model(s), got {list(self.models)}")

    @classmethod
    def always(cls, model: str) -> Policy:
        return cls(f"always {model}", "always", (model,))

    @classmethod
    def oracle(cls, fallback: str = "mistralai/mistral-7b-chat") -> Policy:
        return cls("RouterBench oracle", "oracle", (fallback,))

    @classmethod
    def cascade(cls, cheap: str, strong: str = STRONG) -> Policy:
        return cls(f"cascade {cheap} -> {strong} (perfect verifier)", "cascade", (cheap, strong))

    def route(self, success: dict[str, bool], oracle: str = NO_MODEL_CORRECT) -> list[str]:
        """The models called for a task whose per-model outcomes are ``success``."""
        if self.kind == "always":
            return [self.models[0]]
        if self.kind == "oracle":
            return [self.models[0] if oracle == NO_MODEL_CORRECT else oracle]
        cheap, strong = self.models
        return [cheap] if success[cheap] else [cheap, strong]


def default_policies(models: Iterable[str] = tuple(ROUTERBENCH_PRICES)) -> list[Policy]:
    """Always-m for every model, RouterBench's oracle, and cascades to GPT-4 from Mistral-7B,
    Mixtral-8x7B and GPT-3.5."""
    out = [Policy.always(m) for m in models]
    out.append(Policy.oracle())
    out += [Policy.cascade(c) for c in ("mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat",
                                        "gpt-3.5-turbo-1106")]
    return out


def replay(calls: pd.DataFrame, policies: Sequence[Policy], ledger: Ledger | None = None, *,
           start: float | None = None) -> Ledger:
    """Records every policy's calls and task outcomes into ``ledger`` (default: a new in-memory
    one) and returns it. Each call is tagged ``policy`` (its name) and ``routerbench_model``; its
    usage (``input_tokens`` / ``output_tokens``) is priced by the ledger with the catalogue entry
    of :data:`ROUTERBENCH_PRICES` (a model missing there is priced under its own name). Task ids
    are ``"<policy>#<task>"``. Calls are made at ``start`` + 1 s each (2024-03-01 UTC, RouterBench's
    time, by default), so the prices are those of that day."""
    missing = [c for c in _REPLAY_COLUMNS if c not in calls.columns]
    if missing:
        raise ValueError(f"calls lacks column(s) {missing}; build it with load_routerbench_calls()")
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be unique, got {names}")
    ledger = Ledger() if ledger is None else ledger
    by_task: dict[Any, dict[str, tuple[bool, int, int]]] = {}
    oracle_of: dict[Any, str] = {}
    for row in calls.itertuples(index=False):
        by_task.setdefault(row.task, {})[row.model] = (bool(row.success), int(row.input_tokens), int(row.output_tokens))
        oracle_of[row.task] = str(row.oracle)
    t = _RB_TIME if start is None else float(start)
    for p in policies:
        for task, outcomes in by_task.items():
            ok = {m: v[0] for m, v in outcomes.items()}
            try:
                route = p.route(ok, oracle_of[task])
            except KeyError as e:
                raise KeyError(f"policy {p.name!r} needs the outcome of {e} on task {task!r}, which calls "
                               "lacks") from None
            tid = f"{p.name}#{task}"
            for m in route:
                if m not in outcomes:
                    raise KeyError(f"policy {p.name!r} routes task {task!r} to {m!r}, which has no outcome for it")
                _, n_in, n_out = outcomes[m]
                t += 1.0
                ledger.record({"prompt_tokens": n_in, "completion_tokens": n_out},
                              model=ROUTERBENCH_PRICES.get(m, (m, ""))[0], task=tid, at=t,
                              tags={"policy": p.name, "routerbench_model": m})
            ledger.finish_task(tid, success=outcomes[route[-1]][0], at=t)
    return ledger


def replay_kpis(calls: pd.DataFrame, policies: Sequence[Policy] | None = None,
                ledger: Ledger | None = None) -> pd.DataFrame:
    """Replays ``policies`` (default :func:`default_policies` over the models of ``calls``) and
    returns ``ledger.kpis(by="policy")`` as a DataFrame, one row per policy in the given order,
    columns :data:`KPI_COLUMNS` (money as exact ``Decimal``)."""
    if policies is None:
        present = set(calls["model"])
        policies = [p for p in default_policies([m for m in ROUTERBENCH_PRICES if m in present])
                    if all(m in present for m in p.models)]
    led = replay(calls, policies, ledger)
    k = led.kpis(by="policy")
    kinds = {p.name: p.kind for p in policies}
    df = k.loc[[p.name for p in policies]].reset_index()
    df["kind"] = df["policy"].map(kinds)
    return df[list(KPI_COLUMNS)].reset_index(drop=True)


def cost_check(calls: pd.DataFrame, ledger: Ledger | None = None) -> pd.DataFrame:
    """Per model: the catalogue entry that priced it (``how``), whether its token counts are
    exact, its tokens, tokenops' cost of every call in ``calls`` (exact ``Decimal``),
    RouterBench's ``total_cost`` sum, their ratio (tokenops / RouterBench) and the largest
    per-call difference in USD. (RouterBench's ``total_cost`` is cl100k_base counts of prompt and
    response times its price list for every model, so the o200k_base approximation and the
    catalogue's price, where it differs, show in the ratio.)"""
    import pandas as pd

    led = ledger if ledger is not None else Ledger()
    rows = []
    for m, g in calls.groupby("model", sort=False):
        key, how = ROUTERBENCH_PRICES.get(m, (m, "own name"))
        ours = [led.price({"prompt_tokens": int(a), "completion_tokens": int(b)}, key, at=_RB_TIME).total_exact
                for a, b in zip(g["input_tokens"], g["output_tokens"])]
        total = sum(ours, Decimal(0))
        theirs = g["routerbench_cost"].to_numpy(float)
        rows.append({"model": m, "catalogue_entry": key, "how": how,
                     "tokens": "exact" if bool(g["tokens_exact"].all()) else "approximate (o200k_base)",
                     "input_tokens": int(g["input_tokens"].sum()), "output_tokens": int(g["output_tokens"].sum()),
                     "tokenops_cost": total, "routerbench_cost": float(theirs.sum()),
                     "ratio": float(total) / float(theirs.sum()) if theirs.sum() else float("nan"),
                     "max_call_diff": max((abs(float(a) - b) for a, b in zip(ours, theirs)), default=0.0)})
    return pd.DataFrame(rows)
