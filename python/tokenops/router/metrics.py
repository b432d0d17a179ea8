"""Evaluation metrics with the published definitions.

RouteLLM (lm-sys/RouteLLM routellm/evals/{benchmarks,evaluate}.py): thresholds are the
``num_results + 1`` edges of ``pd.qcut(scores, num_results)`` (linear-interpolated quantiles);
edge i routes to the strong model when score >= edge (score > edge for the last edge). The
curve is (strong-call %, quality). PGR = (q - q_weak) / (q_strong - q_weak); APGR as in the
code = trapezoid area of the curve over strong-call share, normalised by the strong/weak areas;
APGR as in the paper = mean PGR at 10%, 20%, ..., 100% strong calls; CPT(x%) = np.interp of the
quality x% of the way from weak to strong on the curve sorted by call share. (RouteLLM's qcut
raises on duplicate edges; here duplicate edges are kept, "including duplicates" as its comment
says.)

RouterBench (withmartian/routerbench evaluation/AIQ.py): a router's (total cost, performance)
points -> non-decreasing upper convex hull -> extended flat to the largest cost among the
routers compared -> trapezoid area / that cost = AIQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def _trapz(y: np.ndarray, x: np.ndarray) -> float:
    y, x = np.asarray(y, float), np.asarray(x, float)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0)) if len(x) > 1 else 0.0


# ------------------------------------------------------------------------------------------
# RouteLLM
# ------------------------------------------------------------------------------------------

def quantile_thresholds(scores: np.ndarray, num_results: int = 10) -> np.ndarray:
    """The bin edges ``pd.qcut(scores, num_results, retbins=True)`` returns (duplicates kept)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError("scores must be a non-empty 1-D array")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores hold {int(np.sum(~np.isfinite(s)))} NaN/inf values")
    q = np.linspace(0, 1, num_results + 1)
    # pandas' qcut nudges levels that are not exact in binary up by one ulp; do the same so the
    # edges are bit-identical to pd.qcut(..., retbins=True)
    np.putmask(q, num_results * q != np.arange(num_results + 1), np.nextafter(q, 1))
    return np.quantile(s, q)


def routellm_curve(scores: np.ndarray, q_strong: np.ndarray, q_weak: np.ndarray,
                   num_results: int = 10, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, strong-call %, quality * scale) at the quantile thresholds, in threshold order."""
    s = np.asarray(scores, dtype=np.float64)
    qs, qw = np.asarray(q_strong, float), np.asarray(q_weak, float)
    if not (len(s) == len(qs) == len(qw)):
        raise ValueError("scores, q_strong and q_weak must have the same length")
    th = quantile_thresholds(s, num_results)
    pct, qual = [], []
    for i, t in enumerate(th):
        sel = s >= t if i != len(th) - 1 else s > t
        pct.append(sel.mean() * 100.0)
        qual.append(np.where(sel, qs, qw).mean() * scale)
    return th, np.array(pct), np.array(qual)


@dataclass
class RouteLLMMetrics:
    method: str
    apgr: float          # code's trapezoid APGR
    apgr_mean10: float   # mean PGR at 10%, ..., 100% strong calls (the paper's description; RouteLLM's evaluate.py integrates the trapezoid)
    cpt20: float
    cpt50: float
    cpt80: float
    strong_pct: np.ndarray
    quality: np.ndarray


def routellm_metrics(method: str, strong_pct: np.ndarray, quality: np.ndarray, weak_q: float,
                     strong_q: float) -> RouteLLMMetrics:
    order = np.argsort(np.asarray(strong_pct), kind="stable")
    x = np.asarray(strong_pct, float)[order]
    y = np.asarray(quality, float)[order]
    if strong_q == weak_q:
        raise ValueError("strong and weak quality are equal; PGR is undefined")
    auc = _trapz(y, x / 100)
    weak_auc = _trapz(np.full(len(x), weak_q), x / 100)
    strong_auc = _trapz(np.full(len(x), strong_q), x / 100)
    apgr = (auc - weak_auc) / (strong_auc - weak_auc)
    pgr10 = [(np.interp(c, x, y) - weak_q) / (strong_q - weak_q) for c in range(10, 101, 10)]
    cpt = [float(np.interp(p * (strong_q - weak_q) + weak_q, y, x)) for p in (0.2, 0.5, 0.8)]
    return RouteLLMMetrics(method, float(apgr), float(np.mean(pgr10)), *cpt, x, y)


def optimal_quality(q_strong: np.ndarray, q_weak: np.ndarray, strong_fraction: float,
                    graded: bool) -> float:
    """RouteLLM's get_optimal_accuracy: for 0/1 outcomes weak-correct + min(calls, #gains)
    (calls = n * fraction, not rounded); for graded scores (MT-Bench) the int(n * fraction)
    questions with the largest positive gain go to the strong model. Same scale as inputs.
    One difference: RouteLLM's MT-Bench optimal curve runs over all 80 questions while sizing
    the strong-call budget from the 72 uncontaminated ones; this runs over the questions it is
    given (the uncontaminated ones in the MT-Bench evaluation), so the two curves differ by up to
    0.06 points (below RouteLLM's at 0-10% and 60-100% strong calls, slightly above it at 20-50%). It is a reference curve, not part of APGR or CPT."""
    qs, qw = np.asarray(q_strong, float), np.asarray(q_weak, float)
    n = len(qs)
    if qs.ndim != 1 or qs.shape != qw.shape or n == 0:
        raise ValueError(f"q_strong and q_weak must be non-empty 1-D arrays of one length, got "
                         f"shapes {qs.shape} and {qw.shape}")
    if isinstance(strong_fraction, bool) or not np.isfinite(strong_fraction) or not 0 <= strong_fraction <= 1:
        raise ValueError(f"strong_fraction must be in [0, 1], got {strong_fraction!r}")
    if not graded:
        gains = np.sum((qw == 0) & (qs == 1))
        return float((np.sum(qw == 1) + min(n * strong_fraction, gains)) / n)
    diff = qs - qw
    k = int(n * strong_fraction)
    order = np.argsort(-diff, kind="stable")
    npos = int(np.sum(diff > 0))
    take = order[: min(k, npos)]
    out = qw.copy()
    out[take] = qs[take]
    return float(out.mean())


def random_router_scores(n: int, seed: int) -> np.ndarray:
    """RouteLLM's random router: an independent U(0, 1) score per prompt."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, n)


def strong_share_for_quality(strong_pct: np.ndarray, quality: np.ndarray, target: float) -> float:
    """Smallest strong-call share (%) at which the (interpolated) curve reaches ``target``."""
    order = np.argsort(strong_pct, kind="stable")
    x, y = np.asarray(strong_pct, float)[order], np.asarray(quality, float)[order]
    if y[0] >= target:
        return float(x[0])
    for i in range(1, len(x)):
        if y[i] >= target:
            if y[i] == y[i - 1]:
                return float(x[i])
            return float(x[i - 1] + (target - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return float("nan")


# ------------------------------------------------------------------------------------------
# RouterBench
# ------------------------------------------------------------------------------------------

def nondecreasing_convex_hull(points: np.ndarray) -> np.ndarray:
    """RouterBench's get_non_descreasing_convex_hull_of: the upper concave envelope of the
    points evaluated at each distinct x (the largest y where x repeats), then cut where it starts
    to decrease (points lower than their predecessor are dropped)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError("points must be a non-empty (n, 2) array of (cost, performance)")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points hold NaN or inf")
    xs = np.unique(pts[:, 0])
    ymax = np.array([pts[pts[:, 0] == x, 1].max() for x in xs])
    # upper hull (monotone chain) over the distinct-x maxima
    hull: list[int] = []
    for i in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (xs[b] - xs[a]) * (ymax[i] - ymax[a]) - (ymax[b] - ymax[a]) * (xs[i] - xs[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    env = np.interp(xs, xs[hull], ymax[hull])
    env = np.maximum(env, ymax)  # exact at hull vertices; guards rounding
    keep = [0]
    for i in range(1, len(xs)):
        if env[i] >= env[i - 1]:
            keep.append(i)
        else:
            break
    # RouterBench drops each point lower than its (original) predecessor; on a concave sequence
    # that is everything after the first decrease.
    return np.stack([xs[keep], env[keep]], axis=1)


def aiq(curves: Sequence[np.ndarray]) -> list[float]:
    """RouterBench calc_AIQ for routers compared together: each curve is an (n, 2) array of
    (total_cost, performance) points."""
    if len(curves) == 0:
        raise ValueError("aiq needs at least one curve")
    hulls = [nondecreasing_convex_hull(c) for c in curves]
    for i, c in enumerate(curves):
        if np.min(np.asarray(c, float)[:, 0]) < 0:
            raise ValueError(f"curve {i} has a negative total cost (costs must be >= 0)")
    max_x = max(float(h[:, 0].max()) for h in hulls)
    if max_x <= 0:
        raise ValueError("AIQ needs a positive cost")
    out = []
    for h in hulls:
        ext = np.vstack([h, [max_x, h[-1, 1]]])
        out.append(_trapz(ext[:, 1], ext[:, 0]) / max_x)
    return out


#: RouterBench's willingness-to-pay grid (utils.py WILLINGNESS_TO_PAY), 32 values.
WILLINGNESS_TO_PAY = (
    1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.005, 0.01, 0.1, 0.5, 1.0, 1.5, 2.0, 10.0,
    50.0, 100.0, 500.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 7500.0, 10000.0, 25000.0, 50000.0,
    75000.0, 100000.0, 1e6, 1e9,
)


def routing_point(choice: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[float, float]:
    """(total cost, mean performance) of routing prompt i to model choice[i] (NaN quality
    skipped as pandas' mean does)."""
    idx = np.arange(len(choice))
    q = quality[idx, choice]
    return float(np.sum(cost[idx, choice])), float(np.nanmean(q))


def lambda_sweep(pred_quality: np.ndarray, token_costs: np.ndarray, quality: np.ndarray,
                 cost: np.ndarray, grid: Sequence[float] = WILLINGNESS_TO_PAY) -> np.ndarray:
    """RouterBench routing: for each lambda, argmax_m lambda*q_hat_m - cost_m (first max on
    ties, as pandas idxmax), then the (total cost, performance) point; shape (len(grid), 2)."""
    pq, tc = np.asarray(pred_quality, float), np.asarray(token_costs, float)
    q, c = np.asarray(quality, float), np.asarray(cost, float)
    if pq.ndim != 2 or tc.shape != (pq.shape[1],) or q.shape != pq.shape or c.shape != pq.shape:
        raise ValueError(f"pred_quality, quality and cost must be (n, models) arrays of one shape and "
                         f"token_costs (models,), got {pq.shape}, {q.shape}, {c.shape} and {tc.shape}")
    for name, a in (("pred_quality", pq), ("token_costs", tc), ("grid", np.asarray(grid, float))):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds NaN or inf")
    pred_quality, token_costs, quality, cost = pq, tc, q, c
    pts = []
    for lam in grid:
        choice = np.argmax(lam * pred_quality - token_costs[None, :], axis=1)
        pts.append(routing_point(choice, quality, cost))
    return np.array(pts)
