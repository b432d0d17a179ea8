"""Evaluation of the semantic cache on public paraphrase data: pairwise precision / recall /
false-hit-rate sweeps (with and without the lexical guards) and stream protocols run through the
real :class:`tokenops.Cache`, beside the numbers GPTCache published for the same data.

Data: ``$TOKENOPS_DATA_DIR/cache`` (see its README.md for provenance and schemas): the MeanCache
QQP test split, GPTCache's full QQP pairs, the MRPC test split, GPTCache's ``mock_data.json``,
Banking77 and the OSSChat user-question clusters. Every loader checks the file's sha256 against
the README and returns a pandas DataFrame (pandas is imported inside the functions, so
``import tokenops`` stays free of it).

Metric definitions (the data README's): a pair is a *hit* when its score is at least the
threshold (and, with guards, no guard vetoes it). precision = TP / (TP + FP) over hits,
recall = TP / (TP + FN) over label-1 pairs, F1 = 2TP / (2TP + FP + FN) (their harmonic mean, as
scikit-learn computes it), false-hit rate = FP / (FP + TN) over label-0 pairs. An empty
denominator gives NaN.

Stream protocols (what each source benchmark does, re-stated; no peer code is used):

* OSSChat (``wxywb/gptcache_osschat_benchmark`` main.py): put members 1..n-1 of every cluster
  (response: the cluster's index), then ``get`` member 0 of each cluster in turn. A hit whose
  response names the query's own cluster is a tp, any other hit an fp, no hit a miss (the source
  counts the exception of the un-keyed LLM call on a miss). Nothing is inserted on a miss.
* GPTCache mock data (``zilliztech/GPTCache`` examples/benchmark/benchmark_sqlite_faiss_onnx.py):
  put every ``origin`` (response: its row index), then ``get`` every ``similar``. Positive: the
  hit returns the row's own index; negative: any other hit; miss: no hit. 35 of the 999 origins
  repeat an earlier origin's text; GPTCache stores such duplicates as two entries, tokenops'
  exact key keeps one, so either way at most one of the rows sharing a text can be positive.
* Banking77 stream (the data README's proxy): queries arrive in a shuffled order; a miss puts
  the query with its intent as the response, a hit counts as wrong when the cached intent
  differs from the query's.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._args import is_int
from .._paths import DATA_ENV, data_dir, sha256_bytes

if TYPE_CHECKING:
    import pandas as pd

#: relative path under ``$TOKENOPS_DATA_DIR/cache`` and sha256, as the data README lists them
FILES: dict[str, tuple[str, str]] = {
    "meancache_qqp": (
        "meancache_qqp_test/test.csv",
        "735b832f72266b8b691c5563307913fe0d7593ed983c1bbb9422abb508ac2dfc",
    ),
    "qqp": (
        "qqp_gptcache/qqp_pairs.jsonl.gz",
        "6927286e454bc80060f1e7909deb1a2ec278d59508e506dd1bf15b6b2f72ba1b",
    ),
    "mrpc": (
        "mrpc/msr_paraphrase_test.txt",
        "cae7a353acddbc85899caece3a83f21659223c14f3cbcb9871ed0be74378fd56",
    ),
    "gptcache_mock": (
        "gptcache_mock/mock_data.json",
        "d52872b116568f654fb373ac782bfbcd01d67061764705a84303a0a67aae1ef4",
    ),
    "banking77_train": (
        "banking77/train.csv",
        "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b",
    ),
    "banking77_test": (
        "banking77/test.csv",
        "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d",
    ),
    "osschat": (
        "osschat_user_questions/cluster_user_questions.json",
        "df086dc888a3608807e4b0282133604a52e2097cc420b7492a7c064ae84aecd5",
    ),
}

#: The OSSChat benchmark README's table (GPTCache + ONNX paraphrase-albert-small embeddings).
OSSCHAT_PUBLISHED: tuple[dict[str, Any], ...] = (
    {"setup": "albert-small, distance(max_distance=4.0)", "threshold": 0.95, "tp": 170, "fp": 0, "miss": 63},
    {"setup": "albert-small, distance(max_distance=4.0)", "threshold": 0.5, "tp": 227, "fp": 6, "miss": 0},
    {"setup": "albert-small, onnx cross-encoder", "threshold": 0.5, "tp": 180, "fp": 3, "miss": 50},
    {"setup": "albert-small, kreciprocal(top_k=2)", "threshold": 0.5, "tp": 218, "fp": 1, "miss": 14},
)

#: GPTCache's published threshold table for mock_data.json (sqlite + faiss + onnx). Its
#: threshold is on GPTCache's distance-evaluation scale, not cosine similarity.
GPTCACHE_MOCK_PUBLISHED: tuple[dict[str, Any], ...] = (
    {"gptcache_threshold": 0.95, "positive": 425, "negative": 25, "miss": 549},
    {"gptcache_threshold": 0.9, "positive": 804, "negative": 77, "miss": 118},
    {"gptcache_threshold": 0.8, "positive": 904, "negative": 92, "miss": 3},
)

#: 0.5, 0.505, ..., 1.0
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.005 * i, 3) for i in range(101))


# ----------------------------------------------------------------------------- data
def data_path(name: str, root: str | os.PathLike[str] | None = None, *, verify: bool = True) -> Path:
    """The path of one evaluation file (a key of :data:`FILES`), checked to exist and, with
    ``verify``, to have the sha256 the data README lists. ``root`` is the ``cache`` folder
    (default: ``$TOKENOPS_DATA_DIR/cache``)."""
    if name not in FILES:
        raise ValueError(f"unknown cache evaluation file {name!r}; one of {sorted(FILES)}")
    rel, digest = FILES[name]
    if root is None:
        base = data_dir()
        if base is None:
            raise FileNotFoundError(
                f"tokenops data directory not found, so {rel} cannot be read: set {DATA_ENV} to "
                "the shared data folder (the one holding cache/), or pass root= (the cache/ folder)"
            )
        root = base / "cache"
    path = Path(root) / rel
    if not path.is_file():
        env = os.environ.get(DATA_ENV)
        raise FileNotFoundError(
            f"{path} not found ({DATA_ENV}={env!r}). The semantic-cache evaluation data lives in "
            f"$TOKENOPS_DATA_DIR/cache/{rel}; point {DATA_ENV} at the shared data folder or pass "
            "root= (the cache/ folder)"
        )
    if verify:
        got = sha256_bytes(path.read_bytes())
        if got != digest:
            raise ValueError(
                f"{path}: sha256 {got} is not the {digest} that the data README lists; "
                "the file is corrupt or a different version (pass verify=False to read it anyway)"
            )
    return path


def load_meancache_qqp(root: str | os.PathLike[str] | None = None, *, verify: bool = True) -> pd.DataFrame:
    """MeanCache's QQP test split (9,042 pairs, balanced): columns ``text_a``, ``text_b``,
    ``label`` (1 = duplicate), from ``question1``, ``question2``, ``is_duplicate``."""
    import pandas as pd

    df = pd.read_csv(
        data_path("meancache_qqp", root, verify=verify),
        dtype={"question1": str, "question2": str},
        keep_default_na=False,
    )
    return pd.DataFrame(
        {"text_a": df["question1"], "text_b": df["question2"], "label": df["is_duplicate"].astype(np.int64)}
    )


def load_qqp(
    sample: int | None = None,
    seed: int = 0,
    root: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
) -> pd.DataFrame:
    """GPTCache's full QQP pairs (80,854): columns ``id``, ``text_a``, ``text_b``, ``label``.
    ``sample``: that many rows drawn without replacement (numpy ``default_rng(seed)``), kept in
    file order."""
    import pandas as pd

    with gzip.open(data_path("qqp", root, verify=verify), "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    df = pd.DataFrame(rows, columns=["id", "text_a", "text_b", "label"])
    if sample is not None:
        if not is_int(sample) or not 0 <= sample <= len(df):
            raise ValueError(f"sample must be an int in [0, {len(df)}], got {sample!r}")
        keep = np.sort(np.random.default_rng(seed).choice(len(df), int(sample), replace=False))
        df = df.iloc[keep].reset_index(drop=True)
    return df


def load_mrpc(root: str | os.PathLike[str] | None = None, *, verify: bool = True) -> pd.DataFrame:
    """The MRPC test split (1,725 pairs): columns ``text_a``, ``text_b``, ``label``, ``id_a``,
    ``id_b``. The file is a TSV with a UTF-8 BOM and unescaped quotes inside the sentences."""
    import csv

    import pandas as pd

    with open(data_path("mrpc", root, verify=verify), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], [r for r in rows[1:] if r]
    if header != ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"] or any(len(r) != 5 for r in body):
        raise ValueError(
            "msr_paraphrase_test.txt: unexpected layout (want 5 tab-separated columns "
            "Quality, #1 ID, #2 ID, #1 String, #2 String)"
        )
    return pd.DataFrame(
        {
            "text_a": [r[3] for r in body],
            "text_b": [r[4] for r in body],
            "label": np.array([int(r[0]) for r in body], dtype=np.int64),
            "id_a": [r[1] for r in body],
            "id_b": [r[2] for r in body],
        }
    )


def load_gptcache_mock(root: str | os.PathLike[str] | None = None, *, verify: bool = True) -> pd.DataFrame:
    """GPTCache's ``mock_data.json`` (999 rows): columns ``origin``, ``similar``."""
    import pandas as pd

    data = json.loads(data_path("gptcache_mock", root, verify=verify).read_text(encoding="utf-8"))
    return pd.DataFrame(data, columns=["origin", "similar"])


def load_banking77(
    split: str = "test", root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> pd.DataFrame:
    """Banking77 ``train`` (10,003 rows) or ``test`` (3,080): columns ``text``, ``category``."""
    import pandas as pd

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return pd.read_csv(data_path(f"banking77_{split}", root, verify=verify), dtype=str, keep_default_na=False)


def load_osschat(root: str | os.PathLike[str] | None = None, *, verify: bool = True) -> pd.DataFrame:
    """The OSSChat user-question clusters (233 clusters, 607 questions), one row per question:
    columns ``cluster`` (index of the cluster in the file), ``member`` (index inside it; the
    source benchmark queries member 0) and ``text``."""
    import pandas as pd

    data = json.loads(data_path("osschat", root, verify=verify).read_text(encoding="utf-8"))
    rows = [(c, m, q) for c, cluster in enumerate(data) for m, q in enumerate(cluster)]
    return pd.DataFrame(rows, columns=["cluster", "member", "text"])


def _clusters(clusters: Any) -> list[list[str]]:
    """A list of clusters (lists of str) from one, or from :func:`load_osschat`'s frame."""
    if hasattr(clusters, "columns"):
        frame = clusters.sort_values(["cluster", "member"], kind="stable")
        return [list(g["text"]) for _, g in frame.groupby("cluster", sort=True)]
    out = [list(c) for c in clusters]
    for i, c in enumerate(out):
        if not c or not all(isinstance(q, str) for q in c):
            raise ValueError(f"cluster {i} must be a non-empty list of str")
    return out


# ----------------------------------------------------------------------------- metrics
def confusion(scores: Any, labels: Any, threshold: float, vetoed: Any = None) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) of the decision ``score >= threshold and not vetoed`` against ``labels``
    (1 = the pair may share an answer)."""
    hit, y = _hits(scores, labels, np.asarray([threshold], dtype=np.float64), vetoed)
    return _counts(hit[0], y)


def _hits(scores: Any, labels: Any, thresholds: np.ndarray, vetoed: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.size} vs {y.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    hit = s[None, :] >= thresholds[:, None]
    if vetoed is not None:
        v = np.asarray(vetoed, dtype=bool).ravel()
        if v.shape != s.shape:
            raise ValueError(f"vetoed has {v.size} entries for {s.size} scores")
        hit &= ~v[None, :]
    return hit, y.astype(bool)


def _counts(hit: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    tp = int(np.count_nonzero(hit & y))
    fp = int(np.count_nonzero(hit & ~y))
    return tp, fp, int(np.count_nonzero(y)) - tp, int(np.count_nonzero(~y)) - fp


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def sweep(
    scores: Any, labels: Any, thresholds: Iterable[float] = DEFAULT_THRESHOLDS, *, vetoed: Any = None
) -> pd.DataFrame:
    """One row per threshold: ``threshold, precision, recall, f1, false_hit_rate, hits, tp, fp,
    fn, tn`` for the decision ``score >= threshold`` (and not ``vetoed``), with the module's
    metric definitions (NaN where a denominator is empty)."""
    import pandas as pd

    t = np.asarray(list(thresholds), dtype=np.float64)
    hit, y = _hits(scores, labels, t, vetoed)
    rows = []
    for i, th in enumerate(t):
        tp, fp, fn, tn = _counts(hit[i], y)
        rows.append(
            {
                "threshold": float(th),
                "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn),
                "f1": _ratio(2 * tp, 2 * tp + fp + fn),
                "false_hit_rate": _ratio(fp, fp + tn),
                "hits": tp + fp,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
            }
        )
    return pd.DataFrame(rows)


def precision_at_recall(
    table: pd.DataFrame, recalls: Iterable[float] = (0.3, 0.4, 0.5, 0.6, 0.7)
) -> pd.DataFrame:
    """For each guard configuration of a :func:`guarded_sweep` table (or the single curve of a
    :func:`sweep` table) and each target recall: the best precision among the swept thresholds
    whose recall is at least the target, with that threshold and its recall (NaN where no
    threshold reaches the target). Compares configurations at equal recall, which a common
    threshold does not (a guard lowers recall as well as false hits)."""
    import pandas as pd

    groups = table.groupby("guards", sort=False) if "guards" in table.columns else [("none", table)]
    rows = []
    for name, part in groups:
        for r in recalls:
            ok = part[part["recall"] >= r].dropna(subset=["precision"])
            best = ok.loc[ok["precision"].idxmax()] if len(ok) else None
            rows.append(
                {
                    "guards": name,
                    "recall_at_least": float(r),
                    "precision": float("nan") if best is None else float(best["precision"]),
                    "recall": float("nan") if best is None else float(best["recall"]),
                    "threshold": float("nan") if best is None else float(best["threshold"]),
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- pairwise
def _default_embedder(embedder: Any) -> Any:
    if embedder is None or embedder == "default":
        from ..embed import Embedder

        return Embedder.load()
    if not callable(getattr(embedder, "embed", None)):
        raise TypeError(f"embedder must have an embed(texts) method, got {type(embedder).__name__}")
    return embedder


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(n == 0, 1, n)


def _embed_chunks(embedder: Any, texts: list[str], progress: bool) -> np.ndarray:
    step = 1024
    starts = range(0, len(texts), step)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="embedding", unit_scale=step, total=len(starts))
    parts = [np.asarray(embedder.embed(texts[i : i + step]), dtype=np.float32) for i in starts]
    return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)


def pair_scores(
    text_a: Sequence[str], text_b: Sequence[str], embedder: Any = None, *, progress: bool = False
) -> np.ndarray:
    """Cosine similarity of each (text_a[i], text_b[i]) under ``embedder`` (default: the bundled
    all-MiniLM-L6-v2); every distinct string is embedded once. float32, one score per pair."""
    a, b = _str_list(text_a, "text_a"), _str_list(text_b, "text_b")
    if len(a) != len(b):
        raise ValueError(f"text_a and text_b differ in length: {len(a)} vs {len(b)}")
    uniq = list(dict.fromkeys(a + b))
    index = {s: i for i, s in enumerate(uniq)}
    vecs = _unit(_embed_chunks(_default_embedder(embedder), uniq, progress).astype(np.float64))
    ia = np.fromiter((index[s] for s in a), np.int64, len(a))
    ib = np.fromiter((index[s] for s in b), np.int64, len(b))
    return np.einsum("ij,ij->i", vecs[ia], vecs[ib]).astype(np.float32)


def _str_list(texts: Any, name: str) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a list of str, not a single {type(texts).__name__}")
    out = list(texts)
    bad = next((i for i, s in enumerate(out) if not isinstance(s, str)), None)
    if bad is not None:
        raise TypeError(f"{name}[{bad}] is {type(out[bad]).__name__}, not str")
    return out


def guard_sets(defaults: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
    """The guard configurations a sweep compares: ``none``, each guard alone, ``default``."""
    from . import DEFAULT_GUARDS, GUARDS

    return {
        "none": (),
        **{g: (g,) for g in GUARDS},
        "default": tuple(DEFAULT_GUARDS if defaults is None else defaults),
    }


def guard_mask(guards: Iterable[str]) -> int:
    """The :func:`~tokenops.cache.guard_batch` bits of the named guards (ValueError for an
    unknown name)."""
    from .core import _guard_mask

    return _guard_mask(tuple(guards))


def pair_guard_bits(text_a: Sequence[str], text_b: Sequence[str], *, num_threads: int = 0) -> np.ndarray:
    """guard_batch over the pairs with every guard on: the bits (:func:`guard_mask`) of the
    guards that veto each pair (the guards are symmetric in the two texts)."""
    from . import GUARDS, guard_batch

    a, b = _str_list(text_a, "text_a"), _str_list(text_b, "text_b")
    return np.asarray(guard_batch(a, b, guards=GUARDS, num_threads=num_threads), dtype=np.uint32)


def guarded_sweep(
    scores: Any,
    labels: Any,
    bits: Any,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    *,
    configs: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """:func:`sweep` for each guard configuration (default :func:`guard_sets`), a hit standing
    only where none of the configuration's guards is set in ``bits`` (from
    :func:`pair_guard_bits`). Adds a ``guards`` column and the share of pairs ``vetoed``."""
    import pandas as pd

    bits = np.asarray(bits, dtype=np.uint32)
    t = list(thresholds)
    frames = []
    for name, guards in (guard_sets() if configs is None else configs).items():
        vetoed = (bits & np.uint32(guard_mask(guards))) != 0
        df = sweep(scores, labels, t, vetoed=vetoed)
        df.insert(0, "guards", name)
        df["vetoed"] = float(vetoed.mean()) if vetoed.size else float("nan")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def evaluate_pairs(
    pairs: pd.DataFrame,
    embedder: Any = None,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
    *,
    configs: Mapping[str, Sequence[str]] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Scores ``pairs`` (columns ``text_a``, ``text_b``, ``label``) and sweeps the thresholds
    for every guard configuration: :func:`pair_scores`, :func:`pair_guard_bits`,
    :func:`guarded_sweep`."""
    a, b = list(pairs["text_a"]), list(pairs["text_b"])
    scores = pair_scores(a, b, embedder, progress=progress)
    return guarded_sweep(
        scores, pairs["label"].to_numpy(), pair_guard_bits(a, b), thresholds, configs=configs
    )


# ----------------------------------------------------------------------------- stream protocols
class MemoEmbedder:
    """Wraps an embedder so that each distinct text is embedded once across many caches (the
    protocols build one Cache per threshold and guard setting over the same texts). ``warm``
    embeds a list in one batch; ``embed`` serves known texts from memory."""

    def __init__(self, embedder: Any = None) -> None:
        self.inner = _default_embedder(embedder)
        self._memo: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:  # dim, name, max_tokens... of the wrapped embedder
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def warm(self, texts: Iterable[str], *, progress: bool = False) -> None:
        """Embeds the texts not yet known, in one batch, as they are and in the whitespace-
        normalised form that :class:`~tokenops.Cache` embeds."""
        from .core import normalize_prompt

        both = (u for t in texts for u in (t, normalize_prompt(t)))
        new = [t for t in dict.fromkeys(both) if t not in self._memo]
        if new:
            self._memo.update(zip(new, _embed_chunks(self.inner, new, progress)))

    def embed(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        texts = _str_list(texts, "texts")
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if new:
            self._memo.update(zip(new, np.asarray(self.inner.embed(new, **kwargs), dtype=np.float32)))
        dim = next(iter(self._memo.values())).shape[0] if self._memo else 0
        if not texts:
            return np.zeros((0, dim), np.float32)
        return np.stack([self._memo[t] for t in texts])


def _memo(embedder: Any) -> MemoEmbedder:
    return embedder if isinstance(embedder, MemoEmbedder) else MemoEmbedder(embedder)


def _configs(configs: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    if configs is None:
        from . import DEFAULT_GUARDS

        return {"none": (), "default": tuple(DEFAULT_GUARDS)}
    return {k: tuple(v) for k, v in configs.items()}


def _over_grid(
    emb: MemoEmbedder,
    thresholds: Iterable[float],
    configs: Mapping[str, Sequence[str]] | None,
    run: Callable[[Any], dict[str, Any]],
) -> pd.DataFrame:
    """``run(cache)`` on a fresh Cache for every guard configuration and threshold; one row each."""
    import pandas as pd

    from .. import Cache

    rows = []
    with _single_thread_faiss():
        for name, guards in _configs(configs).items():
            for t in list(thresholds):
                cache = Cache(embedder=emb, threshold=float(t), guards=guards)
                try:
                    rows.append({"threshold": float(t), "guards": name, **run(cache)})
                finally:
                    cache.close()
    return pd.DataFrame(rows)


@contextlib.contextmanager
def _single_thread_faiss() -> Iterator[None]:
    """FAISS on one OpenMP thread for the duration (restored after). The protocols search one
    query at a time in small indexes, where FAISS's thread fan-out costs about 10x the search
    itself (4.9 vs 0.5 ms per query on 3,000 vectors, 2 shared cores)."""
    from .index import faiss_module

    faiss = faiss_module()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _insert_then_query(
    cache: Any, prompts: list[str], responses: list[str], queries: list[str], expected: list[str]
) -> tuple[int, int, int]:
    """Puts the prompts, then gets each query in turn (nothing inserted on a miss): (hits whose
    response is the query's expected one, other hits, misses)."""
    if prompts:
        cache.put_many(prompts, responses)
    right = wrong = miss = 0
    for q, want in zip(queries, expected):
        hit = cache.get(q)
        if hit is None:
            miss += 1
        elif hit.response == want:
            right += 1
        else:
            wrong += 1
    return right, wrong, miss


def osschat_protocol(
    clusters: Any,
    thresholds: Iterable[float] = (0.95, 0.9, 0.85, 0.8, 0.7, 0.5),
    embedder: Any = None,
    *,
    configs: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """The OSSChat benchmark's protocol (module docstring) through :class:`tokenops.Cache`, one
    fresh cache per threshold and guard configuration (default: none and the default guards).
    ``clusters``: :func:`load_osschat`'s frame or a list of lists of str. Rows: ``threshold,
    guards, tp, fp, miss, queries``."""
    groups = _clusters(clusters)
    emb = _memo(embedder)
    emb.warm(q for c in groups for q in c)
    prompts = [q for c in groups for q in c[1:]]
    responses = [str(i) for i, c in enumerate(groups) for _ in c[1:]]
    queries, expected = [c[0] for c in groups], [str(i) for i in range(len(groups))]

    def run(cache: Any) -> dict[str, Any]:
        tp, fp, miss = _insert_then_query(cache, prompts, responses, queries, expected)
        return {"tp": tp, "fp": fp, "miss": miss, "queries": len(queries)}

    return _over_grid(emb, thresholds, configs, run)


def gptcache_mock_protocol(
    pairs: pd.DataFrame,
    thresholds: Iterable[float] = (0.95, 0.9, 0.85, 0.8, 0.7),
    embedder: Any = None,
    *,
    configs: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """GPTCache's mock-data benchmark protocol (module docstring) through
    :class:`tokenops.Cache`: rows ``threshold, guards, positive, negative, miss``. Our threshold
    is cosine similarity; GPTCache's published one is on its distance-evaluation scale, so
    compare rows (how many positives for how many negatives), not threshold values."""
    origin, similar = _str_list(pairs["origin"], "origin"), _str_list(pairs["similar"], "similar")
    if len(origin) != len(similar):
        raise ValueError(f"origin and similar differ in length: {len(origin)} vs {len(similar)}")
    emb = _memo(embedder)
    emb.warm(origin + similar)
    ids = [str(i) for i in range(len(origin))]

    def run(cache: Any) -> dict[str, Any]:
        pos, neg, miss = _insert_then_query(cache, origin, ids, similar, ids)
        return {"positive": pos, "negative": neg, "miss": miss}

    return _over_grid(emb, thresholds, configs, run)


def banking77_stream(
    queries: pd.DataFrame,
    thresholds: Iterable[float] = (0.95, 0.9, 0.85, 0.8),
    embedder: Any = None,
    *,
    n: int | None = None,
    seed: int | None = 0,
    configs: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """A query stream over ``queries`` (columns ``text``, ``category``; e.g. the Banking77 test
    split): the first ``n`` rows (default all) of a ``default_rng(seed)`` permutation (``seed=None``:
    the rows in their given order) reach an empty cache that warms as they arrive (a miss puts the
    query with its intent as the response). Rows: ``threshold, guards, queries, hits, hit_rate,
    wrong_hits, wrong_hit_rate`` (wrong hits / hits) and ``entries`` (cache size at the end)."""
    texts, intents = _str_list(queries["text"], "text"), _str_list(queries["category"], "category")
    order = np.arange(len(texts)) if seed is None else np.random.default_rng(seed).permutation(len(texts))
    if n is not None:
        if not is_int(n) or not 0 <= n <= len(texts):
            raise ValueError(f"n must be an int in [0, {len(texts)}], got {n!r}")
        order = order[: int(n)]
    stream = [(texts[i], intents[i]) for i in order]
    emb = _memo(embedder)
    emb.warm(q for q, _ in stream)

    def run(cache: Any) -> dict[str, Any]:
        hits = wrong = 0
        for q, intent in stream:
            hit = cache.get(q)
            if hit is None:
                cache.put(q, intent)
            else:
                hits += 1
                wrong += hit.response != intent
        return {
            "queries": len(stream),
            "hits": hits,
            "hit_rate": _ratio(hits, len(stream)),
            "wrong_hits": wrong,
            "wrong_hit_rate": _ratio(wrong, hits),
            "entries": len(cache),
        }

    return _over_grid(emb, thresholds, configs, run)


def published_osschat() -> pd.DataFrame:
    """:data:`OSSCHAT_PUBLISHED` as a frame."""
    import pandas as pd

    return pd.DataFrame(list(OSSCHAT_PUBLISHED))


def published_gptcache_mock() -> pd.DataFrame:
    """:data:`GPTCACHE_MOCK_PUBLISHED` as a frame."""
    import pandas as pd

    return pd.DataFrame(list(GPTCACHE_MOCK_PUBLISHED))


def plot_precision_recall(
    table: pd.DataFrame,
    *,
    configs: Sequence[str] = ("none", "default"),
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Precision against recall, one line per guard configuration of a :func:`guarded_sweep`
    table, thresholds annotated at the ends. Returns the matplotlib Axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    for name in configs:
        part = table[table["guards"] == name].sort_values("threshold")
        if part.empty:
            raise ValueError(f"no rows for guard configuration {name!r} in the table")
        ax.plot(part["recall"], part["precision"], marker=".", label=f"guards: {name}")
        for _, row in part.iloc[[0, -1]].iterrows():
            ax.annotate(
                f"{row['threshold']:.2f}",
                (row["recall"], row["precision"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(3, 3),
            )
    ax.set_xlabel("recall (duplicates served from cache)")
    ax.set_ylabel("precision (hits that were duplicates)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
