"""Anomaly rules: a task that costs far more than the tasks before it, and spend-rate spikes.

Both use the robust (modified) z-score of Iglewicz and Hoaglin over a history ``h``::

    med = median(h); mad = median(|h_i - med|)
    z = 0.6745 * (x - med) / mad                   if mad > 0
    z = (x - med) / (1.253314 * mean(|h_i - med|))   if mad == 0 and that mean > 0
    z = 0 if x == med, +inf if x > med, -inf if x < med   when every h_i equals med

(0.6745 = the standard normal's 75th percentile and 1.253314 = sqrt(pi / 2), so both scales
estimate the standard deviation on normal data.) An alert fires when z > threshold (one-sided:
unusually *high* cost or tokens) and is never raised during warm-up, while the history is shorter
than the rule asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .._args import is_real
from ._checks import count, money, window_seconds

METRICS = ("cost", "tokens")


def median(values: Sequence[float]) -> float:
    """The median (the mean of the two middle values of an even count)."""
    xs = sorted(values)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def robust_z(x: float, history: Sequence[float]) -> tuple[float, float, float]:
    """(z, median, scale) of ``x`` against ``history`` (see the module docstring); scale is the
    MAD, or 1.253314 x the mean absolute deviation where the MAD is 0 (0 when both are)."""
    if not history:
        raise ValueError("robust_z needs a non-empty history")
    h = [float(v) for v in history]
    x = float(x)
    med = median(h)
    dev = [abs(v - med) for v in h]
    mad = median(dev)
    if mad > 0:
        return 0.6745 * (x - med) / mad, med, mad
    mean_ad = sum(dev) / len(dev)
    if mean_ad > 0:
        return (x - med) / (1.253314 * mean_ad), med, 1.253314 * mean_ad
    return (0.0 if x == med else math.copysign(math.inf, x - med)), med, 0.0


def _threshold(v: Any) -> float:
    if not is_real(v) or not math.isfinite(float(v)) or float(v) <= 0:
        raise ValueError(f"threshold must be a positive finite z-score, got {v!r}")
    return float(v)


def _metric(v: Any) -> str:
    if v not in METRICS:
        raise ValueError(f"metric must be 'cost' or 'tokens', not {v!r}")
    return str(v)


@dataclass(frozen=True)
class TaskAnomaly:
    """A task whose running ``metric`` (cost or tokens of its calls so far) has a robust z-score
    above ``threshold`` against the totals of the last ``history`` finished tasks (by finishing
    time, successes and failures, the task itself excluded). Checked after every call of a task,
    so a runaway loop is caught before the task ends; at most one alert per task and rule. No
    alert while fewer than ``min_history`` tasks have finished."""

    metric: str = "cost"
    history: int = 50
    min_history: int = 20
    threshold: float = 3.5

    def __post_init__(self) -> None:
        _metric(self.metric)
        count(self.history, "history", positive=True)
        count(self.min_history, "min_history", positive=True)
        if self.min_history > self.history:
            raise ValueError(f"min_history ({self.min_history}) cannot exceed history ({self.history})")
        object.__setattr__(self, "threshold", _threshold(self.threshold))

    @property
    def kind(self) -> str:
        return f"task_{self.metric}"


@dataclass(frozen=True)
class SpendRate:
    """A spend-rate spike: the ``metric`` (cost or tokens) of the calls in the rolling ``window``
    ending at a call, t - window < at <= t, against the same sums over the ``history`` windows
    before it ((t - (i+1) window, t - i window] for i = 1..history), with the robust z-score.
    ``scope``: "global" (all calls) or "user" (the calling user's calls). Warm-up: no alert until
    the scope's first call is at least history + 1 windows old. ``floor``: no alert while the
    window's sum is below it (a first few cents after a quiet day is no spike). After an alert,
    none for the same scope and rule until one window has passed."""

    window: Any = "hour"
    history: int = 24
    threshold: float = 3.5
    metric: str = "cost"
    scope: str = "global"
    floor: Any = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", window_seconds(self.window))
        count(self.history, "history", positive=True)
        object.__setattr__(self, "threshold", _threshold(self.threshold))
        _metric(self.metric)
        if self.scope not in ("global", "user"):
            raise ValueError(f"scope must be 'global' or 'user', not {self.scope!r}")
        if self.metric == "cost":
            object.__setattr__(self, "floor", money(self.floor, "floor"))
        else:
            object.__setattr__(self, "floor", count(self.floor, "floor"))

    @property
    def kind(self) -> str:
        return f"spend_rate_{self.metric}"


@dataclass(frozen=True)
class Alert:
    """One anomaly: what was measured (``value``), the history's median and robust ``z``."""

    kind: str  # "task_cost", "task_tokens", "spend_rate_cost", "spend_rate_tokens"
    scope: str  # "task", "user" or "global"
    at: float
    task: str | None
    user: str | None
    value: Decimal | int
    median: float
    z: float
    threshold: float
    history: int  # how many tasks / windows the history held
    message: str
