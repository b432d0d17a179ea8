"""Threshold calibration and cascades.

* ``threshold_for_strong_share``: RouteLLM's calibration (routellm/calibrate_threshold.py): the
  threshold is the (1 - share) quantile of the router's scores on the user's own logged prompts,
  so that about ``share`` of that traffic goes to the strong model.
* ``threshold_for_quality``: on labelled prompts, the highest threshold (fewest strong calls)
  whose routed quality still meets a target.
* ``simulate_cascade``: try models cheapest first and escalate when a verifier rejects the
  answer; the verifier is the true correctness flipped with probability ``error_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._args import as_int, is_real


def _real(value: object, name: str) -> float:
    """A real number (Python or numpy int/float, or a 0-d numeric array), not a bool or str."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)  # type: ignore[arg-type]


def _finite_1d(values: object, name: str, *, bool_ok: bool = False) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers. Strings ("0.5" was parsed), complex
    and object arrays are a TypeError; so are bools unless ``bool_ok`` (0/1 outcomes)."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, not {type(values).__name__}")
    a = np.asarray(values)
    kinds = "biuf" if bool_ok else "iuf"
    if a.dtype.kind not in kinds:
        what = "bool" if a.dtype.kind == "b" else f"dtype {a.dtype}"
        raise TypeError(f"{name} must be an array of real numbers, not {what}")
    if a.ndim != 1:
        # a 2-D array was flattened into one list of scores
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        i = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name}[{i}] is {a[i]}; {name} must be finite")
    return a


def threshold_for_strong_share(scores: Sequence[float], strong_share: float) -> float:
    """The (1 - strong_share) quantile of ``scores``: routing score >= threshold to the strong
    model sends about ``strong_share`` of that traffic there (none for 0)."""
    strong_share = _real(strong_share, "strong_share")
    if not 0.0 <= strong_share <= 1.0:
        raise ValueError(f"strong_share must be in [0, 1], got {strong_share}")
    s = _finite_1d(scores, "scores")
    if len(s) == 0:
        raise ValueError("scores must be a non-empty array of finite values")
    if strong_share == 0.0:
        return float(np.inf)  # route() sends score >= threshold: none (the top quantile would send 1/n)
    return float(np.quantile(s, 1.0 - strong_share))


def threshold_for_quality(scores: Sequence[float], q_strong: Sequence[float],
                          q_weak: Sequence[float], target: float) -> tuple[float, float, float]:
    """(threshold, strong share, quality) with the fewest strong calls meeting ``target``
    when routing score >= threshold to the strong model. Raises if even all-strong misses it."""
    target = _real(target, "target")
    if not np.isfinite(target):
        raise ValueError(f"target quality must be finite, got {target}")
    s = _finite_1d(scores, "scores")
    qs = _finite_1d(q_strong, "q_strong", bool_ok=True)
    qw = _finite_1d(q_weak, "q_weak", bool_ok=True)
    if not (len(s) == len(qs) == len(qw)) or len(s) == 0:
        raise ValueError("scores, q_strong and q_weak must be non-empty and of equal length")
    order = np.argsort(-s, kind="stable")
    gain = (qs - qw)[order]
    base = qw.sum()
    n = len(s)
    cum = base + np.concatenate([[0.0], np.cumsum(gain)])  # quality sum with top-k strong
    # All strong is exactly q_strong's mean (the running sum drifted below it, so a target of
    # "always-strong quality" was refused); other cuts allow the same rounding slack.
    cum[n] = qs.sum()
    tol = 1e-12 * max(1.0, abs(float(target)))
    ss = s[order]
    for k in range(n + 1):
        # only cut between distinct scores (a threshold cannot split ties)
        if 0 < k < n and ss[k] == ss[k - 1]:
            continue
        if cum[k] / n >= target - tol:
            thr = float(np.inf) if k == 0 else float(ss[k - 1])
            return thr, k / n, float(cum[k] / n)
    raise ValueError(f"target quality {target} is above what always-strong reaches ({qs.mean():.4f})")


@dataclass
class CascadeResult:
    error_rate: float
    quality: float
    cost: float
    calls_per_query: float
    rows: int = 0  # rows simulated (those with every cascade model's outcome known)


def simulate_cascade(quality: np.ndarray, cost: np.ndarray, order: Sequence[int],
                     error_rate: float, seeds: int = 10) -> CascadeResult:
    """Cascade over models in ``order`` (cheapest first): each model's answer is paid for, the
    verifier accepts it when it is correct (0/1 quality >= 0.5), with its verdict flipped with
    probability ``error_rate``; the last model's answer is always kept. Means over ``seeds``.

    Rows where a model of ``order`` has no known quality or cost (NaN) are left out, as
    RouterBench's cascading router drops rows with missing values (``eval_df.dropna()``); an
    unknown answer is neither right nor wrong. ``CascadeResult.rows`` says how many were used."""
    Q = np.asarray(quality, float)
    C = np.asarray(cost, float)
    error_rate = _real(error_rate, "error_rate")  # True was 1.0, "0.1" a raw comparison error
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
    if Q.ndim != 2 or C.shape != Q.shape:
        raise ValueError(f"quality and cost must be (n, models) arrays of one shape, got {Q.shape} and {C.shape}")
    order = [as_int(m, "order item") for m in order]
    if not order:
        raise ValueError("order must name at least one model column")
    bad = [m for m in order if not 0 <= m < Q.shape[1]]
    if bad:
        raise ValueError(f"order holds model columns {bad} outside [0, {Q.shape[1]})")
    seeds = as_int(seeds, "seeds")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    known = ~np.isnan(Q[:, order]).any(axis=1) & ~np.isnan(C[:, order]).any(axis=1)
    if not known.any():
        raise ValueError("no row has a known quality and cost for every model of order")
    Q, C = Q[known], C[known]
    n = Q.shape[0]
    res_q, res_c, res_k = [], [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        done = np.zeros(n, bool)
        final_q = np.zeros(n)
        total_c = np.zeros(n)
        calls = np.zeros(n)
        for j, m in enumerate(order):
            active = ~done
            total_c[active] += C[active, m]
            calls[active] += 1
            q = Q[:, m]
            if j == len(order) - 1:
                final_q[active] = q[active]
                break
            correct = q >= 0.5
            flip = rng.random(n) < error_rate
            accept = active & (correct ^ flip)
            final_q[accept] = q[accept]
            done |= accept
        res_q.append(final_q.mean())
        res_c.append(total_c.sum())
        res_k.append(calls.mean())
    return CascadeResult(error_rate, float(np.mean(res_q)), float(np.mean(res_c)), float(np.mean(res_k)), n)
