"""Live governance of a running LLM application: a ledger of calls, KPIs, budgets, quotas and
anomaly alerts.

* :class:`Ledger` — an append-only SQLite record of every call, priced exactly by
  :func:`tokenops.cost` (or at a cost known from elsewhere: ``record(..., cost=)``, and
  :func:`external_cost` reads the one an OpenRouter or LiteLLM response reports), with task
  outcomes; :meth:`Ledger.kpis` gives cost per completed task
  (all tasks' cost, failures included, over the successes), success rate, tokens and calls per
  task, p50 / p95 cost per task, cache hit rate and savings, cost share by model, by user /
  model / step / tag.
* :class:`Governor` — per-task budgets (calls, i.e. iterations, tokens, USD) and per-user or
  global :class:`Quota` s over rolling windows, checked before a call with an estimate from the
  tokenizer and the cost engine, and after it is recorded; :class:`BudgetExceeded` names the limit,
  its value, the usage and the task and user. ``with gov.task("t1", user="ana") as t:`` scopes a
  task's calls.
* Anomaly rules (:class:`TaskAnomaly`, :class:`SpendRate`) — robust z-scores (median / MAD)
  against the last finished tasks or the preceding windows, with warm-up; :class:`Alert` s go to
  the ledger and to callbacks.

:func:`replay_kpis` replays RouterBench's real outcomes (11 models, ARC / MBPP / Winogrande)
through a ledger for these KPIs per model and routing policy; :func:`cost_check` compares the
cost engine with RouterBench's own costs.

The offline counterpart, which simulates a workflow's cost before it runs, is
:func:`tokenops.simulate`.
"""

from __future__ import annotations

from .anomaly import Alert, SpendRate, TaskAnomaly, robust_z
from .governor import BudgetExceeded, BudgetWarning, Governor, Quota, TaskScope, Violation
from .ledger import KPIs, Call, Ledger, external_cost, percentile
from .replay import Policy, cost_check, default_policies, load_routerbench_calls, replay, replay_kpis

__all__ = [
    "Alert",
    "BudgetExceeded",
    "BudgetWarning",
    "Call",
    "Governor",
    "KPIs",
    "Ledger",
    "Policy",
    "Quota",
    "SpendRate",
    "TaskAnomaly",
    "TaskScope",
    "Violation",
    "cost_check",
    "default_policies",
    "external_cost",
    "load_routerbench_calls",
    "percentile",
    "replay",
    "replay_kpis",
    "robust_z",
]
