"""Router evaluation under RouteLLM's and RouterBench's protocols (library functions behind the
CLIs and notebooks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._args import as_int, check_seed, is_real, positive_int
from . import metrics as M
from .data import PairBenchmark, RouterBenchSplit, routerbench_token_costs
from .train import FAMILY_FEATURES, FeatureConfig, fit_router

#: RouteLLM's best published router per benchmark (by APGR), from the paper (Ong et al.,
#: "RouteLLM: Learning to Route LLMs with Preference Data", arXiv 2406.18665v4, Tables 1-3):
#: (label, APGR, CPT(50%), CPT(80%)), CPT in % strong calls. Those routers were trained
#: out-of-domain on Chatbot Arena preference data plus augmentation, not cross-fitted in-domain.
ROUTELLM_PUBLISHED: dict[str, list[tuple[str, float, float, float]]] = {
    "mt-bench": [("RouteLLM best published: Matrix Factorization (D_arena + D_judge)", 0.802, 13.40, 31.31)],
    "mmlu": [("RouteLLM best published: SW Ranking (D_arena + D_gold)", 0.603, 35.40, 71.55)],
    "gsm8k": [("RouteLLM best published: Causal LLM (D_arena + D_judge)", 0.622, 33.64, 63.26)],
}

#: in-domain hyper-parameters per benchmark size (chosen once, documented; not tuned per fold)
DEFAULT_HP: dict[str, dict[str, Any]] = {
    "logistic": {"C": 1.0},
    "linear": {"alpha": 1.0},
    "mlp": {"hidden": (32,), "alpha": 1e-2, "max_iter": 60},
    "mf": {"dim": 16, "iters": 150, "lr": 0.01, "l2": 1e-4},
    "irt": {"iters": 200, "lr": 0.02, "l2": 1e-4},
    "knn": {"k": 20},
}


def fold_ids(prompts: Sequence[str], folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold of each row: unique prompts are shuffled with numpy's default_rng(seed) and dealt
    round-robin into ``folds`` folds, so equal prompts always share a fold."""
    folds = as_int(folds, "folds")
    seed = check_seed(seed)
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    uniq, inv = np.unique(np.asarray(prompts, dtype=object).astype(str), return_inverse=True)
    if len(uniq) < folds:
        raise ValueError(f"{len(uniq)} distinct prompts cannot fill {folds} folds")
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of_unique = np.empty(len(uniq), dtype=np.int64)
    fold_of_unique[perm] = np.arange(len(uniq)) % folds
    return fold_of_unique[inv]


def _refuse_evaluation_prompts(bench: PairBenchmark, prompts: Sequence[str], what: str, why: str) -> None:
    seen = set(bench.prompts)
    shared = sum(p in seen for p in prompts)
    if shared:
        raise ValueError(f"{shared} {what} are {bench.name} evaluation prompts: {why}")


def crossfit_scores(bench: PairBenchmark, family: str, folds: int = 5, seed: int = 0, *,
                    features: FeatureConfig | None = None, embeddings: np.ndarray | None = None,
                    extra: tuple[list[str], np.ndarray] | None = None, progress: bool = False,
                    **hp: Any) -> np.ndarray:
    """Cross-fitted binary scores: each prompt is scored (by the C++ router) with a model trained
    on the other folds only. ``extra`` = (prompts, quality01 (n, 2)) adds out-of-benchmark rows
    to every fold's training set (never scored)."""
    if extra is not None:
        # an evaluation prompt among the extra rows would be scored by a model trained on its
        # own label in every fold (GSM8K APGR 0.646 -> 0.972)
        _refuse_evaluation_prompts(bench, extra[0], "extra training prompt(s)",
                                   "they would leak into every fold (leave the benchmark out of extra)")
    fid = fold_ids(bench.prompts, folds, seed)
    Q = bench.quality01
    params = {**DEFAULT_HP.get(family, {}), **hp}
    scores = np.full(len(bench), np.nan)
    it = range(folds)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"{bench.name} {family}")
    for f in it:
        tr, te = np.flatnonzero(fid != f), np.flatnonzero(fid == f)
        ps = [bench.prompts[i] for i in tr]
        q = Q[tr]
        emb_tr = embeddings[tr] if embeddings is not None else None
        if extra is not None:
            ps = ps + list(extra[0])
            q = np.vstack([q, extra[1]])
        router = fit_router(family, ps, q, ["strong", "weak"], strong="strong", weak="weak",
                            features=features, embeddings=emb_tr, seed=seed, **params).load()
        emb_te = embeddings[te] if embeddings is not None else None
        scores[te] = router.score([bench.prompts[i] for i in te],
                                  embeddings=emb_te if router.needs_embedding else None)
    return scores


def out_of_domain_scores(bench: PairBenchmark, family: str, prompts: Sequence[str], quality01: np.ndarray, *,
                         features: FeatureConfig | None = None, embeddings: np.ndarray | None = None,
                         bench_embeddings: np.ndarray | None = None, seed: int = 0,
                         **hp: Any) -> np.ndarray:
    """Scores every prompt of ``bench`` with one router trained only on other rows (``prompts``,
    ``quality01`` (n, 2) strong/weak, e.g. from :func:`tokenops.router.data.pair_rows`), as
    RouteLLM's published routers were. Refuses training rows that are evaluation prompts."""
    _refuse_evaluation_prompts(bench, prompts, "training prompt(s)",
                               "that is not out-of-domain (leave the benchmark out of the sources)")
    params = {**DEFAULT_HP.get(family, {}), **hp}
    router = fit_router(family, list(prompts), quality01, ["strong", "weak"], strong="strong", weak="weak",
                        features=features, embeddings=embeddings, seed=seed, **params).load()
    return router.score(bench.prompts, embeddings=bench_embeddings if router.needs_embedding else None)


@dataclass
class RouteLLMReport:
    benchmark: str
    rows: list[M.RouteLLMMetrics]
    weak_quality: float
    strong_quality: float
    optimal_pct: np.ndarray
    optimal_quality: np.ndarray
    published: list[tuple[str, float, float, float]]

    def table(self) -> Any:
        import pandas as pd

        recs = [{"method": r.method, "APGR (trapezoid, code)": r.apgr,
                 "APGR (mean PGR at 10..100%)": r.apgr_mean10, "CPT(20%)": r.cpt20,
                 "CPT(50%)": r.cpt50, "CPT(80%)": r.cpt80} for r in self.rows]
        # the optimal curve's own metrics: the ceiling any router's row can reach
        o = M.routellm_metrics("optimal (reference)", self.optimal_pct, self.optimal_quality,
                               self.weak_quality, self.strong_quality)
        recs.append({"method": o.method, "APGR (trapezoid, code)": o.apgr,
                     "APGR (mean PGR at 10..100%)": o.apgr_mean10, "CPT(20%)": o.cpt20,
                     "CPT(50%)": o.cpt50, "CPT(80%)": o.cpt80})
        for name, apgr, cpt50, cpt80 in self.published:
            recs.append({"method": name, "APGR (trapezoid, code)": apgr, "CPT(50%)": cpt50,
                         "CPT(80%)": cpt80})
        return pd.DataFrame(recs)

    def cost_saving_at(self, method: str, fraction_of_strong: float = 0.95,
                       cost_strong: float = 1.0, cost_weak: float = 0.0) -> dict[str, float]:
        """Strong-call share needed to reach ``fraction_of_strong`` x the strong model's quality,
        and the cost saving vs always-strong given per-query costs of each model."""
        r = next((r for r in self.rows if r.method == method), None)
        if r is None:
            raise KeyError(f"no method {method!r} in this report; it has {[r.method for r in self.rows]}")
        if not (np.isfinite(fraction_of_strong) and fraction_of_strong > 0):
            raise ValueError(f"fraction_of_strong must be a positive number, got {fraction_of_strong!r}")
        if not (np.isfinite(cost_strong) and cost_strong > 0) or not (np.isfinite(cost_weak) and cost_weak >= 0):
            raise ValueError(f"cost_strong must be > 0 and cost_weak >= 0, got {cost_strong!r} and {cost_weak!r}")
        target = fraction_of_strong * self.strong_quality
        share = 0.0 if self.weak_quality >= target else M.strong_share_for_quality(r.strong_pct, r.quality, target) / 100
        if not np.isfinite(share):
            raise ValueError(f"{method} never reaches {fraction_of_strong:g} x the strong model's quality "
                             f"({target:.4g}; its best is {float(np.max(r.quality)):.4g})")
        cost = share * cost_strong + (1 - share) * cost_weak
        return {"strong_share": share, "cost_saving": 1 - cost / cost_strong, "target_quality": target}

    def plot(self, ax: Any = None) -> Any:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        for r in self.rows:
            ax.plot(r.strong_pct, r.quality, marker=".", label=r.method)
        ax.plot(self.optimal_pct, self.optimal_quality, marker="x", label="optimal")
        ax.axhline(self.weak_quality, color="grey", ls="--", label="always weak (Mixtral)")
        ax.axhline(self.strong_quality, color="red", ls="--", label="always strong (GPT-4)")
        ax.axhline(0.95 * self.strong_quality, color="red", ls=":", lw=0.8, label="95% of GPT-4")
        ax.set_xlabel("Strong model calls (%)")
        ax.set_ylabel("Quality")
        ax.set_title(f"{self.benchmark} (in-domain, 5-fold cross-fit)")
        ax.legend(fontsize=7)
        return ax


def routellm_report(bench: PairBenchmark, scores: dict[str, np.ndarray], num_results: int = 10,
                    random_seeds: int = 10) -> RouteLLMReport:
    """Metrics of each router's scores, plus the random router (averaged over seeds), and the
    always-weak/strong and optimal references, with RouteLLM's published rows."""
    num_results = positive_int(num_results, "num_results")
    random_seeds = positive_int(random_seeds, "random_seeds")
    sc = bench.scale
    weak_q = float(bench.q_weak.mean() * sc)
    strong_q = float(bench.q_strong.mean() * sc)
    rows = []
    for name, s in scores.items():
        s = np.asarray(s, float)
        if len(s) != len(bench):
            raise ValueError(f"{name}: {len(s)} scores for {len(bench)} prompts")
        _, pct, q = M.routellm_curve(s, bench.q_strong, bench.q_weak, num_results, sc)
        rows.append(M.routellm_metrics(name, pct, q, weak_q, strong_q))
    rand = []
    for seed in range(random_seeds):
        _, pct, q = M.routellm_curve(M.random_router_scores(len(bench), seed), bench.q_strong,
                                     bench.q_weak, num_results, sc)
        rand.append(M.routellm_metrics("random", pct, q, weak_q, strong_q))
    avg = M.RouteLLMMetrics(
        f"random (mean of {random_seeds} seeds)", *(float(np.mean([getattr(r, k) for r in rand]))
                                                    for k in ("apgr", "apgr_mean10", "cpt20", "cpt50", "cpt80")),
        np.mean([r.strong_pct for r in rand], axis=0), np.mean([r.quality for r in rand], axis=0))
    rows.append(avg)
    graded = bench.name == "mt-bench"
    opt_pct = np.arange(0, 101, 10, dtype=float)
    opt_q = np.array([M.optimal_quality(bench.q_strong, bench.q_weak, p / 100, graded) * sc for p in opt_pct])
    return RouteLLMReport(bench.name, rows, weak_q, strong_q, opt_pct, opt_q,
                          ROUTELLM_PUBLISHED.get(bench.name, []))


def bootstrap_apgr(bench: PairBenchmark, scores: np.ndarray, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95, num_results: int = 10) -> tuple[float, float, float]:
    """How noisy a router's APGR is on this benchmark: the prompts are resampled with
    replacement ``n_boot`` times (scores fixed), the APGR (code's trapezoid form) recomputed on
    each resample; returns (APGR on the full set, lower, upper) of the percentile interval."""
    s = np.asarray(scores, float)
    if len(s) != len(bench):
        raise ValueError(f"{len(s)} scores for {len(bench)} prompts")
    n_boot = positive_int(n_boot, "n_boot")
    num_results = positive_int(num_results, "num_results")
    _check_level(level)
    sc = bench.scale
    rng = np.random.default_rng(seed)

    def one(idx: np.ndarray) -> float:
        qs, qw = bench.q_strong[idx], bench.q_weak[idx]
        _, pct, q = M.routellm_curve(s[idx], qs, qw, num_results, sc)
        return M.routellm_metrics("x", pct, q, float(qw.mean() * sc), float(qs.mean() * sc)).apgr

    full = one(np.arange(len(s)))
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(s), len(s))
        if bench.q_strong[idx].mean() == bench.q_weak[idx].mean():
            continue  # PGR undefined on this resample
        vals.append(one(idx))
    if not vals:
        raise ValueError(f"none of the {n_boot} resamples has a quality gap between the models (PGR undefined)")
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(full), float(lo), float(hi)


def _check_level(level: Any) -> None:
    if not is_real(level) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")


# ------------------------------------------------------------------------------------------
# RouterBench (N-way)
# ------------------------------------------------------------------------------------------

@dataclass
class RouterBenchReport:
    task: str
    curves: dict[str, np.ndarray]   # name -> (k, 2) (total cost, performance)
    aiq: dict[str, float]
    models: list[str]

    def table(self) -> Any:
        import pandas as pd

        rows = []
        for name, c in self.curves.items():
            best = c[np.argmax(c[:, 1])]
            rows.append({"router": name, "AIQ": self.aiq[name], "max performance": best[1],
                         "cost at max performance": best[0]})
        return pd.DataFrame(rows).sort_values("AIQ", ascending=False).reset_index(drop=True)

    def plot(self, ax: Any = None) -> Any:
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        for name, c in self.curves.items():
            if name.startswith("model:"):
                continue
            h = M.nondecreasing_convex_hull(c)
            ax.plot(h[:, 0], h[:, 1], marker=".", label=f"{name} (AIQ {self.aiq[name]:.3f})")
        singles = [(n, c[0]) for n, c in self.curves.items() if n.startswith("model:")]
        for n, p in singles:
            ax.scatter([p[0]], [p[1]], s=12)
            ax.annotate(n[6:].split("/")[-1], p, fontsize=6)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_xlabel("total cost on the test split (USD)")
        ax.set_ylabel("performance")
        ax.set_title(f"RouterBench {self.task}")
        ax.legend(fontsize=7)
        return ax


def dedupe_sample_ids(split: RouterBenchSplit) -> RouterBenchSplit:
    """RouterBench evaluates after drop_duplicates(subset=['sample_id'])."""
    _, first = np.unique(np.asarray(split.sample_ids), return_index=True)
    mask = np.zeros(len(split), bool)
    mask[first] = True
    return split.subset(mask)


def routerbench_report(task: str, test: RouterBenchSplit, predicted: dict[str, np.ndarray],
                       random_seeds: int = 10) -> RouterBenchReport:
    """AIQ of each predictor's lambda sweep vs the Zero router (convex hull of the single
    models), the Oracle and a random router, all on one task's deduplicated test rows."""
    random_seeds = positive_int(random_seeds, "random_seeds")
    mask = test.tasks == task
    if not mask.any():
        raise ValueError(f"unknown task {task!r}; this split has {', '.join(sorted(set(map(str, test.tasks))))}")
    for name, pred in predicted.items():
        shape = np.shape(pred)
        if len(shape) != 2 or shape != (len(test), len(test.models)):
            raise ValueError(f"predicted[{name!r}] has shape {shape}; expected one row per row of the split "
                             f"and one column per model: ({len(test)}, {len(test.models)})")
    t = dedupe_sample_ids(test.subset(mask))
    keep = np.isin(np.asarray(test.sample_ids)[mask], t.sample_ids)
    tok = routerbench_token_costs(t.models)
    curves: dict[str, np.ndarray] = {}
    idx = np.flatnonzero(mask)
    # rows of `t` in order of first occurrence among the task's rows
    _, first = np.unique(np.asarray(test.sample_ids)[idx], return_index=True)
    order = np.sort(first)
    for name, pred in predicted.items():
        p = np.asarray(pred)[idx][order]
        curves[name] = M.lambda_sweep(p, tok, t.quality, t.cost)
    def baseline(name: str, curve: np.ndarray) -> None:
        if name in curves:  # a predictor of that name was overwritten by the baseline, silently
            raise ValueError(f"predicted[{name!r}]: that name is taken by a baseline of the report; rename it")
        curves[name] = curve

    single = np.array([M.routing_point(np.full(len(t), m), t.quality, t.cost) for m in range(len(t.models))])
    baseline("Zero router (convex hull of single models)", single)
    orc = []
    for i in range(len(t)):
        name = t.oracle[i]
        orc.append(t.models.index(name) if name in t.models else int(np.argmin(tok)))
    ocost = np.array([t.cost[i, orc[i]] if t.oracle[i] in t.models else 0.0 for i in range(len(t))])
    oq = np.array([t.quality[i, orc[i]] if t.oracle[i] in t.models else 0.0 for i in range(len(t))])
    baseline("Oracle", np.array([[ocost.sum(), np.nanmean(oq)]]))
    rpts = []
    for s in range(random_seeds):
        ch = np.random.default_rng(s).integers(0, len(t.models), len(t))
        rpts.append(M.routing_point(ch, t.quality, t.cost))
    baseline(f"random (mean of {random_seeds} seeds)", np.array([np.mean(rpts, axis=0)]))
    for m, name in enumerate(t.models):
        baseline(f"model:{name}", single[m:m + 1])
    names = list(curves)
    vals = M.aiq([curves[n] for n in names])
    return RouterBenchReport(task, curves, dict(zip(names, vals)), t.models)


def fit_nway(family: str, train: RouterBenchSplit, *, embeddings: np.ndarray | None = None,
             features: FeatureConfig | None = None, seed: int = 0, **hp: Any) -> Any:
    """An N-way router trained on RouterBench train rows (per-model quality)."""
    params = {**DEFAULT_HP.get(family, {}), **hp}
    return fit_router(family, train.prompts, train.quality, train.models, task="nway",
                      costs=list(routerbench_token_costs(train.models)), features=features,
                      embeddings=embeddings, seed=seed,
                      description="RouterBench subset train split (ARC, MBPP, Winogrande)", **params)
