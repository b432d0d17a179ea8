"""Per-task N-way routers for RouterBench, chosen by cross-validation on the TRAIN split only.

For each RouterBench task a small, fixed grid of per-model quality predictors (logistic, IRT and
kNN heads over the MiniLM embedding of the prompt's last ``NWAY_TAIL_CHARS`` characters, with
or without the dense length/structure signals) is trained on that task's train rows; every
candidate, every average of two candidates, and every scale of the predicted qualities in
``NWAY_SCALES`` (the scale shifts where RouterBench's fixed 32-value lambda grid falls; it is
equivalent to a unit of cost) is scored by 5-fold cross-validated AIQ on the train rows, and
the best is kept. The test split is never seen by the selection. Every component runs in the
C++ core; an ensemble averages their per-model outputs.

``python -m tokenops.router.nway --out FILE`` reruns the selection and writes the choice per
task (the notebook reads the committed copy,
``python/tokenops/router/data/routerbench_selection.json``; ``--out`` has no default, so a run
never overwrites an installed package's copy by accident).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._args import positive_int
from .data import ROUTERBENCH_TASKS, RouterBenchSplit, routerbench_token_costs
from .evaluation import fold_ids, routerbench_report

NWAY_TAIL_CHARS = 512
NWAY_SCALES = (1.0, 2.0, 4.0, 8.0, 16.0)
#: candidate predictors: name -> (family, dense signals?, hyper-parameters)
NWAY_CANDIDATES: dict[str, tuple[str, bool, dict[str, Any]]] = {
    "logistic[emb] C=0.1": ("logistic", False, {"C": 0.1}),
    "logistic[emb] C=1": ("logistic", False, {"C": 1.0}),
    "logistic[dense+emb] C=0.1": ("logistic", True, {"C": 0.1}),
    "logistic[dense+emb] C=1": ("logistic", True, {"C": 1.0}),
    "irt[emb] l2=1e-3": ("irt", False, {"l2": 1e-3, "iters": 300, "lr": 0.02}),
    "irt[emb] l2=1e-2": ("irt", False, {"l2": 1e-2, "iters": 300, "lr": 0.02}),
    "irt[dense+emb] l2=1e-3": ("irt", True, {"l2": 1e-3, "iters": 300, "lr": 0.02}),
    "irt[dense+emb] l2=1e-2": ("irt", True, {"l2": 1e-2, "iters": 300, "lr": 0.02}),
    "knn[emb] k=10": ("knn", False, {"k": 10}),
    "knn[emb] k=20": ("knn", False, {"k": 20}),
    "knn[emb] k=40": ("knn", False, {"k": 40}),
}
DEFAULT_SELECTION = Path(__file__).resolve().parent / "data" / "routerbench_selection.json"


def routerbench_embeddings(split: RouterBenchSplit, embedder: Any = None) -> np.ndarray:
    """MiniLM embeddings of the split's prompt tails (fixtures / cache first)."""
    from .embedding import embed_cached

    return embed_cached(split.prompts, embedder, tail_chars=NWAY_TAIL_CHARS)


def _fit_component(name: str, train: RouterBenchSplit, E: np.ndarray, seed: int = 0) -> Any:
    from .embedding import embedding_feature_config
    from .train import fit_router

    family, dense, hp = NWAY_CANDIDATES[name]
    cfg = embedding_feature_config(E.shape[1], dense=dense, tail_chars=NWAY_TAIL_CHARS)
    return fit_router(family, train.prompts, train.quality, train.models, task="nway",
                      costs=list(routerbench_token_costs(train.models)), features=cfg,
                      embeddings=E, seed=seed, description=f"RouterBench {name}", **hp).load()


@dataclass
class NwayRouter:
    """An average of C++ N-way routers, times a scale: predicted per-model quality."""

    components: list[Any]
    scale: float = 1.0

    def predict_quality(self, prompts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        P = np.mean([r.predict_quality(prompts, embeddings=embeddings if r.needs_embedding else None)
                     for r in self.components], axis=0)
        return P * self.scale


@dataclass
class NwaySelection:
    task: str
    components: tuple[str, ...]
    scale: float
    cv_aiq: float
    cv_zero_aiq: float
    table: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "components": list(self.components), "scale": self.scale,
                "cv_aiq": self.cv_aiq, "cv_zero_aiq": self.cv_zero_aiq}


def fit_selected(components: Sequence[str], scale: float, train: RouterBenchSplit, E: np.ndarray,
                 task: str, seed: int = 0) -> NwayRouter:
    """The chosen components trained on the task's train rows."""
    m = train.tasks == task
    sub = train.subset(m)
    return NwayRouter([_fit_component(c, sub, E[m], seed) for c in components], float(scale))


def select_nway(train: RouterBenchSplit, E: np.ndarray, task: str, folds: int = 5, seed: int = 0,
                candidates: Sequence[str] | None = None, scales: Sequence[float] = NWAY_SCALES,
                progress: bool = False) -> NwaySelection:
    """Chooses the component(s) and scale with the best cross-validated AIQ on ``task``'s train
    rows (folds by sample id, seed fixed; ties keep the earlier candidate)."""
    names = list(candidates or NWAY_CANDIDATES)
    fid = fold_ids(train.sample_ids, folds, seed)
    rows = np.flatnonzero(train.tasks == task)
    oof: dict[str, np.ndarray] = {}
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc=f"{task} candidates")
    for name in it:
        P = np.zeros((len(train), len(train.models)))
        for f in range(folds):
            a, b = rows[fid[rows] != f], rows[fid[rows] == f]
            keep = np.zeros(len(train), bool)
            keep[a] = True
            r = _fit_component(name, train.subset(keep), E[a], seed)
            P[b] = r.predict_quality([train.prompts[i] for i in b],
                                     embeddings=E[b] if r.needs_embedding else None)
        oof[name] = P
    combos: list[tuple[str, ...]] = [(n,) for n in names] + list(itertools.combinations(names, 2))
    zero = routerbench_report(task, train, {}).aiq["Zero router (convex hull of single models)"]
    best: tuple[float, tuple[str, ...], float] | None = None
    table = []
    for combo in combos:
        P = np.mean([oof[c] for c in combo], axis=0)
        for s in scales:
            a = routerbench_report(task, train, {"x": P * s}).aiq["x"]
            table.append({"components": " + ".join(combo), "scale": s, "cv_aiq": a})
            if best is None or a > best[0]:
                best = (a, combo, float(s))
    assert best is not None
    return NwaySelection(task, best[1], best[2], best[0], zero, table)


def bootstrap_aiq_gain(task: str, test: RouterBenchSplit, pred: np.ndarray, n_boot: int = 500,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """AIQ(router) - AIQ(Zero router) on the task's deduplicated test rows, and a percentile
    bootstrap interval over those rows (prompts resampled with replacement)."""
    from . import metrics as M
    from .evaluation import _check_level, dedupe_sample_ids

    n_boot = positive_int(n_boot, "n_boot")
    _check_level(level)
    mask = test.tasks == task
    if not mask.any():
        raise ValueError(f"unknown task {task!r}; this split has {', '.join(sorted(set(map(str, test.tasks))))}")
    if np.shape(pred) != (len(test), len(test.models)):
        raise ValueError(f"pred has shape {np.shape(pred)}; expected ({len(test)}, {len(test.models)}): "
                         "one row per row of the split, one column per model")
    idx = np.flatnonzero(mask)
    _, first = np.unique(np.asarray(test.sample_ids)[idx], return_index=True)
    order = np.sort(first)
    t = dedupe_sample_ids(test.subset(mask))
    p = np.asarray(pred)[idx][order]
    tok = routerbench_token_costs(t.models)

    def gain(sel: np.ndarray) -> float:
        q, c = t.quality[sel], t.cost[sel]
        curve = M.lambda_sweep(p[sel], tok, q, c)
        single = np.array([M.routing_point(np.full(len(sel), m), q, c) for m in range(len(t.models))])
        a, z = M.aiq([curve, single])
        return a - z

    full = gain(np.arange(len(t)))
    rng = np.random.default_rng(seed)
    vals = [gain(rng.integers(0, len(t), len(t))) for _ in range(n_boot)]
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(full), float(lo), float(hi)


def load_selection(path: str | Path = DEFAULT_SELECTION) -> dict[str, dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    return {d["task"]: d for d in data["selections"]}


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - minutes of training
    ap = argparse.ArgumentParser(prog="python -m tokenops.router.nway", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True,
                    help="selection JSON to write (the committed copy is python/tokenops/"
                         "router/data/routerbench_selection.json of a source checkout)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="in [0, 2**32)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    from .._paths import write_atomic
    from .crossfit import check_args, check_data_dir, check_out_path, report_error
    from .data import load_routerbench

    # every argument before minutes of loading and selection, not after
    check_args(ap, args.folds, args.seed)
    check_data_dir(ap, args.data_dir)
    out = check_out_path(ap, args.out, "a JSON file path", data_dir=args.data_dir)

    try:
        train = load_routerbench("train", data_dir=args.data_dir)
        E = routerbench_embeddings(train)
        sels = []
        for task in ROUTERBENCH_TASKS:
            s = select_nway(train, E, task, args.folds, args.seed, progress=True)
            print(f"{task}: {' + '.join(s.components)} x{s.scale:g}: CV AIQ {s.cv_aiq:.4f} "
                  f"(Zero router {s.cv_zero_aiq:.4f})")
            sels.append(s.to_json())
        doc = {"protocol": f"{args.folds}-fold CV AIQ on the RouterBench train split (seed {args.seed}), "
                           "per task; candidates and scales as in tokenops.router.nway",
               "embedding": f"all-MiniLM-L6-v2 of the last {NWAY_TAIL_CHARS} characters",
               "selections": sels}
        write_atomic(out, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    except (OSError, ValueError, KeyError) as e:  # e.g. more folds than a task's prompts
        return report_error(ap, e)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
