"""Training routers in Python (numpy / scikit-learn) on per-query outcomes, exported to router
files that the C++ core runs. Features always come from the C++ extractor, so training and
inference see exactly the same numbers."""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from .._args import check_seed, is_int, is_real
from .core import FeatureConfig, Router, check_costs, dense_signal_names, featurize
from ._file import router_file_bytes, save_router_file

FAMILIES = ("logistic", "linear", "mlp", "mf", "irt", "knn")
#: families that need sentence embeddings
EMBEDDING_FAMILIES = ("knn",)

#: default feature configuration per family (lexical; embedding families add the embedder)
FAMILY_FEATURES: dict[str, FeatureConfig] = {
    "logistic": FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=True, dense_weight=0.3),
    "linear": FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=True, dense_weight=0.3),
    "mlp": FeatureConfig(hash_bits=12, word_ngrams=(1, 1), dense=True, dense_weight=1.0),
    "mf": FeatureConfig(hash_bits=14, word_ngrams=(1, 2), dense=True, dense_weight=0.3),
    "irt": FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=True, dense_weight=0.3),
    "knn": FeatureConfig(hash_bits=0, word_ngrams=(0, 0), dense=False, encoding=None),
}


@dataclass
class TrainedRouter:
    """A router's config and tensors, ready to save or to load into the C++ core."""

    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    embed: Any = None

    def to_bytes(self) -> bytes:
        return router_file_bytes(self.config, self.tensors)

    def save(self, path: str | Path) -> Path:
        return save_router_file(path, self.config, self.tensors)

    def load(self) -> Router:
        return Router.from_bytes(self.to_bytes(), f"<trained {self.config['family']}>", self.embed)


_DENSE_CLIP_SD = 4.0  # dense signals are clipped to mean +- this many deviations (and the range)


@dataclass
class _Design:
    """Training design matrix [hashed | standardised dense | embedding] plus its file config."""

    Z: Any  # scipy CSR
    features: dict[str, Any]


def _design(prompts: Sequence[str], cfg: FeatureConfig, embeddings: np.ndarray | None,
            num_threads: int = 0) -> _Design:
    from scipy import sparse

    X, D = featurize(prompts, cfg, num_threads=num_threads)
    blocks = [X]
    feat: dict[str, Any] = {
        "encoding": (cfg.encoding or "") if cfg.dense else "",
        "hash_bits": cfg.hash_bits,
        "word_ngram_min": cfg.word_ngrams[0], "word_ngram_max": cfg.word_ngrams[1],
        "char_ngram_min": cfg.char_ngrams[0], "char_ngram_max": cfg.char_ngrams[1],
        "dense": cfg.dense, "dense_names": [], "dense_mean": [], "dense_scale": [],
        "dense_min": [], "dense_max": [],
        "embedder": cfg.embedder or "", "embedding_dim": cfg.embedding_dim if cfg.embedder else 0,
        "embed_tail_chars": cfg.embed_tail_chars if cfg.embedder else 0,
    }
    if cfg.dense:
        # Each signal is clipped to the training rows' range, narrowed to mean +- 4 standard
        # deviations, here and by the scorer: a router sees no value it was not fitted on (an
        # all-CJK prompt for a router trained on English would otherwise sit hundreds of
        # deviations out and saturate the score), and a handful of outlying rows cannot dictate
        # a signal's weight. A signal constant in training (e.g. no Cyrillic) has no effect.
        D = np.asarray(D, dtype=np.float32)
        mean, std = D.mean(axis=0, dtype=np.float64), D.std(axis=0, dtype=np.float64)
        lo = np.float32(np.maximum(D.min(axis=0), mean - _DENSE_CLIP_SD * std))
        hi = np.float32(np.minimum(D.max(axis=0), mean + _DENSE_CLIP_SD * std))
        hi = np.maximum(hi, lo)
        D = np.clip(D, lo, hi)  # standardised with the unclipped moments: |z| <= 4 * dense_weight
        std[std < 1e-6] = 1.0
        scale = std / cfg.dense_weight
        feat["dense_names"] = dense_signal_names()
        feat["dense_mean"] = [float(v) for v in np.float32(mean)]
        feat["dense_scale"] = [float(v) for v in np.float32(scale)]
        feat["dense_min"] = [float(v) for v in lo]
        feat["dense_max"] = [float(v) for v in hi]
        Dz = (D - np.float32(mean)) / np.float32(scale)
        blocks.append(sparse.csr_matrix(Dz.astype(np.float32)))
    if cfg.embedder:
        if embeddings is None:
            raise ValueError(f"feature config uses the embedder {cfg.embedder!r}: pass embeddings")
        E = np.asarray(embeddings, dtype=np.float32)
        if E.shape != (len(prompts), cfg.embedding_dim):
            raise ValueError(f"embeddings have shape {E.shape}, expected "
                             f"({len(prompts)}, {cfg.embedding_dim})")
        if not np.all(np.isfinite(E)):
            raise ValueError("embeddings hold NaN or inf")
        blocks.append(sparse.csr_matrix(E))
    Z = sparse.hstack(blocks, format="csr", dtype=np.float32)
    return _Design(Z, feat)


def _clean_quality(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2:
        raise ValueError(f"quality matrix must be (n_prompts, n_models), got shape {Q.shape}")
    if np.any(np.isinf(Q)):
        i, j = (int(x) for x in np.argwhere(np.isinf(Q))[0])
        raise ValueError(f"quality[{i}, {j}] is {Q[i, j]}; quality lies in [0, 1] (NaN marks an unknown outcome)")
    mask = ~np.isnan(Q)
    if np.any(Q[mask] < 0) or np.any(Q[mask] > 1):
        raise ValueError("quality values must lie in [0, 1] (normalise judge scores first)")
    return np.where(mask, Q, 0.0), mask


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class _Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float) -> None:
        self.p, self.lr, self.t = params, lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            mh = self.m[k] / (1 - b1 ** self.t)
            vh = self.v[k] / (1 - b2 ** self.t)
            self.p[k] -= self.lr * mh / (np.sqrt(vh) + 1e-8)


def _fit_logistic(Z: Any, Qv: np.ndarray, mask: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    W = np.zeros((Z.shape[1], Qv.shape[1]), np.float64)
    b = np.zeros(Qv.shape[1], np.float64)
    for m in range(Qv.shape[1]):
        rows = np.flatnonzero(mask[:, m])
        q = Qv[rows, m]
        Zm = Z[rows]
        if np.all(q == q[0]) and q[0] in (0.0, 1.0):  # one class only: constant predictor
            b[m] = 8.0 if q[0] == 1.0 else -8.0
            continue
        clf = LogisticRegression(C=C, max_iter=3000, tol=1e-5)
        if np.all((q == 0.0) | (q == 1.0)):
            clf.fit(Zm, q)  # 0/1 outcomes: the soft-label form below reduces to this
        else:
            # soft labels q in [0, 1]: each row once as a success with weight q and once as a
            # failure with weight 1 - q (the cross-entropy of q against the prediction)
            Xs = sparse.vstack([Zm, Zm], format="csr")
            y = np.r_[np.ones(len(q)), np.zeros(len(q))]
            w = np.r_[q, 1.0 - q]
            keep = w > 0
            clf.fit(Xs[keep], y[keep], sample_weight=w[keep])
        W[:, m] = clf.coef_[0]
        b[m] = clf.intercept_[0]
    return W, b


def _fit_mf(Z: Any, Qv: np.ndarray, mask: np.ndarray, pair: tuple[int, int] | None, dim: int,
            l2: float, iters: int, lr: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, F = Z.shape
    M = Qv.shape[1]
    p = {"W1": rng.normal(0, 0.1, (F, dim)), "P": rng.normal(0, 1.0, (M, dim)),
         "w2": rng.normal(0, 1.0, dim), "b": np.zeros(M)}
    opt = _Adam(p, lr)
    ZT = Z.T.tocsr()
    if pair is not None:
        s, w = pair
        both = mask[:, s] & mask[:, w]
        y = np.where(both, (Qv[:, s] - Qv[:, w] + 1.0) / 2.0, 0.5)
        wt = both / max(1, both.sum())
    for _ in range(iters):
        E = np.asarray(Z @ p["W1"])
        nrm = np.maximum(np.linalg.norm(p["P"], axis=1, keepdims=True), 1e-12)
        Pn = p["P"] / nrm
        G = Pn * p["w2"]  # (M, d)
        z = E @ G.T + p["b"]  # (n, M)
        dz = np.zeros_like(z)
        if pair is not None:
            t = _sigmoid(z[:, s] - z[:, w])
            g = (t - y) * wt
            dz[:, s], dz[:, w] = g, -g
        else:
            t = _sigmoid(z)
            dz = mask * (t - Qv) / np.maximum(1, mask.sum(axis=0))
        dE = dz @ G
        grads = {"W1": np.asarray(ZT @ dE) + l2 * p["W1"]}
        EP = dz.T @ E  # (M, d): sum_i dz_im E_i
        grads["w2"] = np.sum(EP * Pn, axis=0)
        dPn = EP * p["w2"]
        grads["P"] = (dPn - Pn * np.sum(Pn * dPn, axis=1, keepdims=True)) / nrm
        grads["b"] = dz.sum(axis=0)
        opt.step(grads)
    return p


def _fit_irt(Z: Any, Qv: np.ndarray, mask: np.ndarray, l2: float, iters: int, lr: float,
             seed: int) -> dict[str, np.ndarray]:
    n, F = Z.shape
    M = Qv.shape[1]
    base = np.clip((Qv * mask).sum(0) / np.maximum(1, mask.sum(0)), 0.02, 0.98)
    p = {"W": np.zeros((F, 2)), "c": np.array([0.0, 0.5413]), "theta": np.log(base / (1 - base))}
    opt = _Adam(p, lr)
    ZT = Z.T.tocsr()
    cnt = np.maximum(1, mask.sum())
    for _ in range(iters):
        y = np.asarray(Z @ p["W"]) + p["c"]
        dif, pre = y[:, 0], y[:, 1]
        a = np.logaddexp(0, pre)
        z = a[:, None] * (p["theta"][None, :] - dif[:, None])
        t = _sigmoid(z)
        dz = mask * (t - Qv) / cnt
        g_theta = (dz * a[:, None]).sum(0)
        g_dif = -(dz * a[:, None]).sum(1)
        g_a = (dz * (p["theta"][None, :] - dif[:, None])).sum(1)
        g_pre = g_a * _sigmoid(pre)
        dy = np.stack([g_dif, g_pre], axis=1)
        opt.step({"W": np.asarray(ZT @ dy) + l2 * p["W"], "c": dy.sum(0), "theta": g_theta})
    return p


def _single_threaded_blas(fn: Any) -> Any:
    """Runs ``fn`` with BLAS limited to one thread: router training makes many small vector
    operations (L-BFGS over 2^16 weights, Adam steps) where BLAS threads only add
    synchronisation; on a loaded 2-core machine the cross-fit of MMLU took 60 s with the
    default threads and 17 s with one."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
            return fn(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


# The hyper-parameters each family reads (anything else passed to fit_router is a typo).
_HYPER_PARAMS: dict[str, dict[str, str]] = {
    "logistic": {"C": "pos"},
    "linear": {"alpha": "pos0"},
    "mlp": {"hidden": "layers", "alpha": "pos0", "lr": "pos", "max_iter": "count"},
    "mf": {"dim": "count", "l2": "pos0", "iters": "count", "lr": "pos"},
    "irt": {"l2": "pos0", "iters": "count", "lr": "pos"},
    "knn": {"k": "count"},
}


def _check_hyper_params(family: str, hp: Mapping[str, Any]) -> None:
    known = _HYPER_PARAMS.get(family, {})
    for name, value in hp.items():
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            takes = ", ".join(known) or "none"
            raise TypeError(f"fit_router got an unknown hyper-parameter {name!r} for family {family!r}{hint}; "
                            f"it takes: {takes}")
        kind = known[name]
        if kind == "layers":
            sizes = (value,) if is_int(value) else value
            ok = isinstance(sizes, (tuple, list)) and len(sizes) > 0 and all(is_int(h) and h >= 1 for h in sizes)
        elif kind == "count":
            ok = is_int(value) and 1 <= value <= 10**7
        else:
            ok = is_real(value) and np.isfinite(value) and (value > 0 or (kind == "pos0" and value == 0))
        if not ok:
            want = {"layers": "a tuple of positive ints", "count": "a positive int",
                    "pos": "a finite number > 0", "pos0": "a finite number >= 0"}[kind]
            raise ValueError(f"hyper-parameter {name}={value!r} for family {family!r} must be {want}")


def _layers(value: Any) -> tuple[int, ...]:
    return (int(value),) if is_int(value) else tuple(int(h) for h in value)


def _model_index(models: list[str], name: Any, role: str) -> int:
    if name in models:
        return models.index(name)
    close = difflib.get_close_matches(str(name), models, n=3)
    hint = f"; close: {', '.join(close)}" if close else ""
    raise ValueError(f"{role}={name!r} is not one of the models ({', '.join(models)}){hint}")


@_single_threaded_blas
def fit_router(
    family: str,
    prompts: Sequence[str],
    quality: np.ndarray,
    models: Sequence[str],
    *,
    strong: str | None = None,
    weak: str | None = None,
    task: str = "binary",
    features: FeatureConfig | None = None,
    embeddings: np.ndarray | None = None,
    embed: Any = None,
    costs: Sequence[float] | None = None,
    description: str = "",
    binary_score: str | None = None,
    seed: int = 0,
    num_threads: int = 0,
    **hp: Any,
) -> TrainedRouter:
    """Trains one router family on per-prompt outcomes.

    quality: (n_prompts, n_models) in [0, 1] (NaN = unknown). For ``task="binary"`` give the
    ``strong`` and ``weak`` model names; the router's score is then the predicted quality gain
    of the strong model (logistic, linear, mlp, irt, knn) or RouteLLM's win rate (mf). An
    ``task="nway"`` router may name a ``strong``/``weak`` pair too (both or neither): it then
    also gives that binary score. ``costs``: one finite cost >= 0 per model (or None).
    ``embeddings``: one row per prompt, only with a feature config naming the embedder.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown router family {family!r}; choose one of {', '.join(FAMILIES)}")
    if task not in ("binary", "nway"):
        raise ValueError(f"task must be 'binary' or 'nway', got {task!r}")
    seed = check_seed(seed, 2**32)  # sklearn's random_state range
    _check_hyper_params(family, hp)
    if isinstance(prompts, (str, bytes)):
        raise TypeError("prompts must be a sequence of prompt strings, not one string (it would train on characters)")
    ps = list(prompts)
    bad = next((i for i, p in enumerate(ps) if not isinstance(p, str)), None)
    if bad is not None:
        raise TypeError(f"prompts[{bad}] must be a str, not {type(ps[bad]).__name__}")
    if isinstance(models, (str, bytes)):
        raise TypeError("models must be a sequence of model names, not one string")
    models = list(models)
    if not all(isinstance(m, str) for m in models) or len(set(models)) != len(models):
        raise ValueError(f"models must be distinct names (str), got {models!r}")
    if len(ps) < 2 or not models:
        raise ValueError(f"fit_router needs at least 2 prompts and 1 model, got {len(ps)} and {len(models)}")
    Qv, mask = _clean_quality(quality)
    if Qv.shape != (len(ps), len(models)):
        raise ValueError(f"quality has shape {Qv.shape}, expected ({len(ps)}, {len(models)})")
    # checked before training (a bad cost was only refused when the trained router was loaded)
    file_costs = check_costs(costs, models, "there are", "one cost per model, or costs=None for none",
                             "a router with it would not load: ")
    cfg = features or FAMILY_FEATURES[family]
    if family == "knn":
        if embeddings is None:
            raise ValueError("the knn family needs embeddings (pass embeddings= from the embedder)")
        if cfg.embedder is None:
            raise ValueError("the knn family needs a FeatureConfig naming the embedder")
    if embeddings is not None:
        if not cfg.embedder:
            # they were ignored: a lexical router was trained while the caller believed otherwise
            raise ValueError(
                f"this {family} router's feature config names no embedder (its features are "
                "lexical), so it would not use embeddings; drop embeddings=, or pass features= "
                "naming the embedder (e.g. tokenops.router.embedding.embedding_feature_config())")
        shape = np.shape(embeddings)
        if len(shape) != 2:
            raise ValueError("embeddings must be a 2-D array (one row per prompt), got shape "
                             f"{shape}")
        if shape[0] != len(ps):
            raise ValueError(f"embeddings have {shape[0]} rows but there are {len(ps)} prompts "
                             "(one embedding row per prompt)")
    si = wi = -1
    if task == "nway" and (strong is not None or weak is not None):
        # kept: an N-way router file may name a strong/weak pair (it then has a binary score too)
        if strong is None or weak is None:
            raise ValueError("give both strong= and weak= (an N-way router may name a pair for its "
                             "binary score) or neither")
        si, wi = _model_index(models, strong, "strong"), _model_index(models, weak, "weak")
        if si == wi:
            raise ValueError(f"strong and weak must be different models, both are {strong!r}")
    if task == "binary":
        if strong is None or weak is None:
            raise ValueError("a binary router needs strong= and weak= model names")
        si, wi = _model_index(models, strong, "strong"), _model_index(models, weak, "weak")
        if si == wi:
            raise ValueError(f"strong and weak must be different models, both are {strong!r}")
        both = int((mask[:, si] & mask[:, wi]).sum())
        if both < 2:
            raise ValueError(f"only {both} prompt(s) have known quality for both {strong!r} and {weak!r}; "
                             "a binary router needs at least 2")
    # every family but linear fits each model's column (an all-NaN one crashed in numpy/sklearn)
    empty = [m for j, m in enumerate(models) if not mask[:, j].any()]
    if empty:
        raise ValueError(f"model(s) {', '.join(map(repr, empty))} have no known quality (all NaN); "
                         "drop them or give outcomes")
    design = _design(ps, cfg, embeddings, num_threads=num_threads)
    Z = design.Z
    config: dict[str, Any] = {
        "family": "linear" if family == "logistic" else family, "task": task, "models": models,
        "costs": file_costs,
        "strong": si, "weak": wi, "output_link": "sigmoid", "binary_score": "diff",
        "activation": "relu", "knn_k": 0, "description": description,
        "features": design.features,
    }
    tensors: dict[str, np.ndarray] = {}
    if family == "logistic":
        W, b = _fit_logistic(Z, Qv, mask, hp.get("C", 1.0))
        tensors = {"W": W, "b": b}
    elif family == "linear":
        from sklearn.linear_model import Ridge

        alpha = hp.get("alpha", 1.0)
        config["output_link"] = "identity"
        if task == "binary":
            both = mask[:, si] & mask[:, wi]
            r = Ridge(alpha=alpha).fit(Z[both], Qv[both, si] - Qv[both, wi])
            config["binary_score"] = "single"
            tensors = {"W": r.coef_.reshape(-1, 1), "b": np.array([r.intercept_])}
        else:
            W = np.zeros((Z.shape[1], len(models)))
            b = np.zeros(len(models))
            for m in range(len(models)):
                r = Ridge(alpha=alpha).fit(Z[mask[:, m]], Qv[mask[:, m], m])
                W[:, m], b[m] = r.coef_, r.intercept_
            tensors = {"W": W, "b": b}
    elif family == "mlp":
        from sklearn.neural_network import MLPRegressor

        Y = np.where(mask, Qv, np.nanmean(np.where(mask, Qv, np.nan), axis=0))
        reg = MLPRegressor(hidden_layer_sizes=_layers(hp.get("hidden", (64,))), alpha=hp.get("alpha", 1e-3),
                           learning_rate_init=hp.get("lr", 1e-3), max_iter=hp.get("max_iter", 200),
                           early_stopping=False, random_state=seed)
        reg.fit(Z, Y)
        config["output_link"] = "identity"
        for i, (w, b) in enumerate(zip(reg.coefs_, reg.intercepts_)):
            tensors[f"W{i}"] = w
            tensors[f"b{i}"] = b
    elif family == "mf":
        p = _fit_mf(Z, Qv, mask, (si, wi) if task == "binary" else None, hp.get("dim", 16),
                    hp.get("l2", 1e-4), hp.get("iters", 300), hp.get("lr", 0.01), seed)
        config["binary_score"] = "sigmoid_diff"
        tensors = {"W1": p["W1"], "P": p["P"], "w2": p["w2"], "b": p["b"]}
    elif family == "irt":
        p = _fit_irt(Z, Qv, mask, hp.get("l2", 1e-4), hp.get("iters", 300), hp.get("lr", 0.02), seed)
        tensors = {"W": p["W"], "c": p["c"], "theta": p["theta"]}
    elif family == "knn":
        fill = np.nanmean(np.where(mask, Qv, np.nan), axis=0)
        config["output_link"] = "identity"
        config["knn_k"] = int(hp.get("k", 20))
        tensors = {"keys": np.asarray(embeddings, np.float32), "values": np.where(mask, Qv, fill)}
    if binary_score is not None:
        # "need" = q_strong * (1 - q_weak) is a probability only over sigmoid outputs (an mlp's
        # identity output gave negative scores); mf scores its win rate only
        if (config["binary_score"] == "single" or (family == "mf" and binary_score != "sigmoid_diff")
                or (binary_score == "need" and config["output_link"] != "sigmoid")):
            raise ValueError(f"binary_score={binary_score!r} does not apply to family {family!r}")
        config["binary_score"] = binary_score
    return TrainedRouter(config, {k: np.asarray(v, np.float32) for k, v in tensors.items()}, embed)
