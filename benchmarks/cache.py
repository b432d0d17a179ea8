#!/usr/bin/env python3
"""tokenops.Cache side by side with GPTCache (0.1.x, the semantic cache users compare with), in
one run, on the same embeddings.

GPTCache's default embedding (an ONNX albert model) is a download; here BOTH caches embed with
tokenops' native MiniLM (``tokenops.Embedder``), through one dict memo filled before anything is
timed, so the timings are of each cache's own machinery (storage, vector search, evaluation, hit
decision) and the hit decisions differ only by that machinery. GPTCache is configured the way its
docs do it: ``init_similar_cache`` with ``manager_factory("sqlite,faiss")`` (SQLite through
SQLAlchemy + a FAISS ``IDMap,Flat`` L2 index, files in a temp dir), ``SearchDistanceEvaluation()``
(max_distance 4.0), ``get_prompt`` pre-processing, the ``gptcache.adapter.api`` ``put``/``get``
calls, top_k 1 (VectorBase's default) and defaults elsewhere (``auto_flush=20``: every 20th put
writes the FAISS index to disk; a get reads through SQLAlchemy and commits ``last_access``, a hit
also writes a report row). Its LRU eviction is given room for every entry
(``eviction_params={"max_size": ...}``: the default 1,000 would evict at N=10,000, and
``manager_factory``'s own ``max_size`` argument does not reach it). tokenops.Cache writes a SQLite
file in the same kind of temp dir, default settings (guards on, top_k 1). FAISS runs on one
OpenMP thread for both (``--faiss-threads``): a single query gains nothing from more at these
sizes, and on a shared machine FAISS's OpenMP team makes each search wait milliseconds for a
descheduled worker.

Threshold mapping. GPTCache normalises vectors (``SSDataManager.import_data``/``search``),
FAISS METRIC_L2 returns the squared distance d = |a - b|^2 = 2 - 2 cos for unit vectors, and
``SearchDistanceEvaluation`` scores 4.0 - clamp(d, 0, 4.0); ``adapter.adapt`` serves when
score >= (max - min) * similarity_threshold = 4 * t. So a hit needs cos >= 2t - 1, and a tokenops
cosine threshold c is GPTCache ``similarity_threshold = (1 + c) / 2`` (0.9 -> 0.95). The run
checks d = 2 - 2 cos on its own vectors and prints the largest deviation.

1. Latency: caches bulk-loaded with N entries (Banking77 train texts, shuffled with the seed),
   then, round by round with the two libraries alternating which goes first: put of new prompts
   (QQP questions), get that hits semantically (Banking77 test texts whose nearest cached text is
   >= 0.92 cosine and that no tokenops guard vetoes), get that misses (nearest < 0.85), get of a
   cached prompt verbatim ("exact"; tokenops answers it from its exact level without embedding,
   GPTCache's semantic cache embeds and searches it), plus the exact-only configurations
   (tokenops ``Cache(embedder=None)``; GPTCache's default ``Cache().init()``: an in-memory map with
   ``ExactMatchEvaluation``, pickled to a file every 20 puts, so not durable per write). Per-call
   times exclude embedding (memo); the embedding time of one query (``Embedder.embed_one``) is
   timed apart, and the "+ embed" columns add it where the call embeds. Ratio = tokenops /
   GPTCache (< 1: tokenops faster). The main run keeps the files on tmpfs (/dev/shm), which times
   the machinery; a second, smaller run keeps them on disk (the system temp dir), where every
   durable commit waits for the disk (both caches commit on a hit, GPTCache on a miss too).
2. Decisions at matched thresholds (cosine 0.8, 0.85, 0.9, 0.95): the OSSChat clusters protocol
   (members 1..n-1 of each cluster put with the cluster id as the answer, member 0 queried: tp =
   hit with the right cluster, fp = hit with another) and a MeanCache QQP test-split stream
   (a seeded sample of pairs in random order; put question1, then query question2: a hit on the
   pair's own question1 is a true hit for a duplicate pair and a false hit for a non-duplicate
   pair; a hit on another pair's question1 is counted apart, as "other"), for tokenops with its
   guards, tokenops without guards, tokenops with guards and top_k 4 (a vetoed nearest
   candidate passes the look-up on to the next one above the threshold), and GPTCache.

Embeddings are computed once and kept under tokenops' cache folder (``embed_cached``), so only the
first run pays for them (printed).

    pip install gptcache==0.1.44 sqlalchemy faiss-cpu      # or: pip install tokenops[bench]
    python benchmarks/cache.py [--quick] [--sizes 1000,10000] [--rounds 5] [--qqp-pairs 3000]
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

THRESHOLDS = (0.8, 0.85, 0.9, 0.95)
DIFFER = "answers differing, tokenops no guards vs GPTCache"
LATENCY_THRESHOLD = 0.9  # tokenops' default; GPTCache similarity_threshold 0.95


def gptcache_threshold(cos: float) -> float:
    """GPTCache ``similarity_threshold`` that serves exactly the hits with cosine >= ``cos``
    (SearchDistanceEvaluation over FAISS squared L2 of unit vectors; see the module docstring)."""
    return (1.0 + cos) / 2.0


# ------------------------------------------------------------------------------------ data
# Through tokenops.cache.evaluate's loaders (sha256-checked against the data README), as the
# notebook reads them.
def first_distinct(questions: Any, n: int, exclude: set[str]) -> list[str]:
    """The first ``n`` distinct non-blank strings of ``questions`` not in ``exclude``."""
    out: list[str] = []
    seen = set(exclude)
    for q in questions:
        if q.strip() and q not in seen:
            seen.add(q)
            out.append(q)
            if len(out) >= n:
                break
    return out


# ------------------------------------------------------------------------------------ embeddings
class Memo:
    """Text -> unit float32 vector, filled before timing; both caches read it. A text missing
    from it is embedded on the spot and counted (the run reports the count; it should be 0)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.vec: dict[str, np.ndarray] = {}
        self.misses = 0

    def add(self, groups: list[list[str]], progress: bool) -> float:
        """Embeds each group (kept as one entry of tokenops' embedding cache, so a group that does
        not change between runs is read back), then the normalised forms not seen yet."""
        from tokenops.cache import normalize_prompt
        from tokenops.router.embedding import embed_cached

        t0 = time.perf_counter()
        # tokenops embeds the normalised prompt (NFC, whitespace runs collapsed); GPTCache the raw
        # one. Both forms go in, so neither cache ever embeds inside a timed call.
        norm = [normalize_prompt(t) for g in groups for t in g]
        for texts in [*groups, norm]:
            todo = list(dict.fromkeys(t for t in texts if t not in self.vec))
            if todo:
                for t, v in zip(todo, embed_cached(todo, self.embedder, progress=progress)):
                    self.vec[t] = v
        return time.perf_counter() - t0

    def one(self, text: str) -> np.ndarray:
        v = self.vec.get(text)
        if v is None:
            self.misses += 1
            v = self.vec[text] = np.asarray(self.embedder.embed([text])[0], dtype=np.float32)
        return v

    def matrix(self, texts: list[str]) -> np.ndarray:
        m = np.vstack([self.one(t) for t in texts]).astype(np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


class MemoEmbedder:
    """What tokenops.Cache needs of an Embedder (name, dim, embed), answered from the memo."""

    def __init__(self, memo: Memo) -> None:
        self._memo = memo
        self.name = memo.embedder.name
        self.dim = memo.embedder.dim

    def embed(self, texts: list[str], **_: Any) -> np.ndarray:
        return np.vstack([self._memo.one(t) for t in texts])


class GPTCacheEmbedding:
    """GPTCache's BaseEmbedding interface (to_embeddings, dimension) over the same memo."""

    def __init__(self, memo: Memo) -> None:
        self._memo = memo
        self.dimension = memo.embedder.dim

    def to_embeddings(self, data: str, **_: Any) -> np.ndarray:
        return self._memo.one(data)


# ------------------------------------------------------------------------------------ caches
class Tokenops:
    name = "tokenops"

    def __init__(self, folder: Path, memo: Memo | None, threshold: float, guards: bool = True,
                 top_k: int | None = None) -> None:
        import tokenops

        kw: dict[str, Any] = {} if guards else {"guards": ()}
        if top_k is not None:
            kw["top_k"] = top_k
        self.cache = tokenops.Cache(folder / "tokenops.sqlite",
                                    embedder=None if memo is None else MemoEmbedder(memo),
                                    threshold=threshold, **kw)

    def set_threshold(self, cos: float) -> None:
        self.cache.threshold = cos

    def load(self, prompts: list[str], answers: list[str]) -> None:
        self.cache.put_many(prompts, answers)

    def put(self, prompt: str, answer: str) -> None:
        self.cache.put(prompt, answer)

    def get(self, prompt: str) -> str | None:
        hit = self.cache.get(prompt)
        return None if hit is None else hit.response


class GPTCache:
    name = "GPTCache"

    def __init__(self, folder: Path, memo: Memo | None, threshold: float, capacity: int) -> None:
        from gptcache import Cache, Config
        from gptcache.adapter.api import get, init_similar_cache, put
        from gptcache.manager import get_data_manager, manager_factory
        from gptcache.processor.pre import get_prompt

        self._put, self._get = put, get
        self.cache = Cache()
        if memo is None:  # GPTCache's default cache: exact match over an in-memory map
            self.cache.init(pre_embedding_func=get_prompt,
                            data_manager=get_data_manager(data_path=str(folder / "data_map.txt"),
                                                          max_size=capacity))
            return
        from gptcache.similarity_evaluation import SearchDistanceEvaluation

        emb = GPTCacheEmbedding(memo)
        dm = manager_factory("sqlite,faiss", data_dir=str(folder),
                             vector_params={"dimension": emb.dimension},
                             eviction_params={"max_size": capacity})
        init_similar_cache(cache_obj=self.cache, embedding=emb, data_manager=dm,
                           evaluation=SearchDistanceEvaluation(),
                           config=Config(similarity_threshold=gptcache_threshold(threshold)))

    def set_threshold(self, cos: float) -> None:
        self.cache.config.similarity_threshold = gptcache_threshold(cos)

    def load(self, prompts: list[str], answers: list[str]) -> None:
        self.cache.import_data(prompts, answers)

    def put(self, prompt: str, answer: str) -> None:
        self._put(prompt, answer, cache_obj=self.cache)

    def get(self, prompt: str) -> str | None:
        return self._get(prompt, cache_obj=self.cache)


# ------------------------------------------------------------------------------------ helpers
def timed(fn: Callable[[str], Any], arg: str, out: list[float]) -> Any:
    t = time.perf_counter_ns()
    r = fn(arg)
    out.append((time.perf_counter_ns() - t) / 1e3)
    return r


def us(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ 1. latency
def commit_ms(folder: Path, journal: str) -> float:
    """Median time of a one-row SQLite INSERT + commit in ``folder`` (default synchronous=FULL)
    with this journal mode: what one durable write costs on this file system."""
    path = folder / f"probe-{journal}.sqlite"
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute(f"PRAGMA journal_mode={journal}")
        db.execute("CREATE TABLE t (x TEXT)")
        ts = []
        for i in range(30):
            t = time.perf_counter()
            with db:
                db.execute("INSERT INTO t VALUES (?)", (str(i),))
            ts.append(time.perf_counter() - t)
    finally:
        db.close()
        for f in folder.glob(f"probe-{journal}.sqlite*"):
            f.unlink()
    return statistics.median(ts) * 1e3


KINDS = {  # operation: does the call embed? (tokenops, GPTCache)
    "put": (True, True),
    "get hit (semantic)": (True, True),
    "get miss": (True, True),
    "get exact (same prompt)": (False, True),
    "exact-only cache: put": (False, False),
    "exact-only cache: get hit": (False, False),
}


def latency(sizes: list[int], rounds: int, per: int, seed: int, memo: Memo, pool: list[str],
            tests: list[str], extra: list[str], folder: Path, embed_us: float) -> None:
    """Prints one table: per-call medians (means) of each operation for both libraries at each N."""
    import tokenops

    rng = random.Random(seed)
    rows = []
    notes = []
    unexpected: dict[str, int] = {}

    def count(what: str) -> None:
        unexpected[what] = unexpected.get(what, 0) + 1

    T = memo.matrix(tests)
    for n in sizes:
        fill = pool[:n]
        F = memo.matrix(fill)
        fill_set = set(fill)
        sims = T @ F.T
        best = sims.argmax(axis=1)
        top = sims[np.arange(len(tests)), best]
        # semantic hits: nearest cached text >= 0.92 (clear of the 0.9 threshold for float
        # differences between the two searches) and no tokenops guard against it
        cand = [i for i in range(len(tests)) if top[i] >= 0.92 and tests[i] not in fill_set]
        vetoes = tokenops.cache.guard_batch([tests[i] for i in cand], [fill[best[i]] for i in cand])
        hit_q = [tests[i] for i, v in zip(cand, vetoes) if v == 0]
        miss_q = [tests[i] for i in range(len(tests)) if top[i] < 0.85]
        if len(hit_q) < per or len(miss_q) < per:
            raise SystemExit(f"N={n}: only {len(hit_q)} hit and {len(miss_q)} miss queries; "
                             "lower --calls")
        need = rounds * per

        def draws(xs: list[str]) -> list[list[str]]:  # each round its own queries where there are enough
            seq = rng.sample(xs, need) if len(xs) >= need else [rng.choice(xs) for _ in range(need)]
            return [seq[r * per:(r + 1) * per] for r in range(rounds)]

        hit_r, miss_r, exact_r = draws(hit_q), draws(miss_q), draws(fill)
        put_r = [extra[r * per:(r + 1) * per] for r in range(rounds)]
        answers = [f"answer {i}" for i in range(n)]

        libs: dict[str, Any] = {}
        exact_libs: dict[str, Any] = {}
        once: dict[str, float] = {}
        for cls in (Tokenops, GPTCache):
            room = () if cls is Tokenops else (4 * n,)  # GPTCache's LRU capacity
            sem = cls(_mkdir(folder / f"n{n}-{cls.name}"), memo, LATENCY_THRESHOLD, *room)
            t = time.perf_counter()
            sem.load(fill, answers)
            once[f"{cls.name} load"] = time.perf_counter() - t
            first: list[float] = []
            timed(sem.get, hit_q[0], first)  # tokenops reads the partition's vectors back here
            once[f"{cls.name} first"] = first[0]
            for q in hit_q[:3] + miss_q[:3] + fill[:3]:  # warm-up, untimed
                sem.get(q)
            ex = cls(_mkdir(folder / f"n{n}-{cls.name}-exact"), None, LATENCY_THRESHOLD, *room)
            ex.load(fill, answers)
            ex.get(fill[0])
            libs[cls.name], exact_libs[cls.name] = sem, ex

        times: dict[tuple[str, str], list[float]] = {(lib, k): [] for lib in libs for k in KINDS}
        for r in range(rounds):
            for lib in (["tokenops", "GPTCache"] if r % 2 == 0 else ["GPTCache", "tokenops"]):
                sem, ex = libs[lib], exact_libs[lib]
                for i, q in enumerate(put_r[r]):
                    timed(lambda p: sem.put(p, f"new {r}.{i}"), q, times[(lib, "put")])
                for q in hit_r[r]:
                    if timed(sem.get, q, times[(lib, "get hit (semantic)")]) is None:
                        count(f"{lib}: a semantic-hit query missed")
                for q in miss_r[r]:
                    if timed(sem.get, q, times[(lib, "get miss")]) is not None:
                        count(f"{lib}: a miss query hit")
                for q in exact_r[r]:
                    if timed(sem.get, q, times[(lib, "get exact (same prompt)")]) is None:
                        count(f"{lib}: an exact query missed")
                for i, q in enumerate(put_r[r]):
                    timed(lambda p: ex.put(p, f"new {r}.{i}"), q, times[(lib, "exact-only cache: put")])
                for q in exact_r[r]:
                    if timed(ex.get, q, times[(lib, "exact-only cache: get hit")]) is None:
                        count(f"{lib}: an exact-only query missed")
        for k, (emb_a, emb_b) in KINDS.items():
            a, b = times[("tokenops", k)], times[("GPTCache", k)]
            ma, mb = statistics.median(a), statistics.median(b)
            ea, eb = ma + (embed_us if emb_a else 0.0), mb + (embed_us if emb_b else 0.0)
            rows.append([f"{n:,}", k, f"{us(ma)} ({us(statistics.fmean(a))})",
                         f"{us(mb)} ({us(statistics.fmean(b))})", f"{ma / mb:.2f}",
                         f"{us(ea)} / {us(eb)}", f"{ea / eb:.2f}"])
        la, lb = once["tokenops load"] / n * 1e6, once["GPTCache load"] / n * 1e6
        rows.append([f"{n:,}", "bulk load, per entry (put_many / import_data)", us(la), us(lb),
                     f"{la / lb:.2f}", "", ""])
        fa, fb = once["tokenops first"], once["GPTCache first"]
        rows.append([f"{n:,}", "first get after the bulk load", us(fa), us(fb), f"{fa / fb:.2f}",
                     "", ""])
        notes.append(f"N={n:,}: {len(hit_q)} semantic-hit and {len(miss_q)} miss queries to draw from")
    print(md_table(["N", "operation", "tokenops µs", "GPTCache µs", "ratio",
                    "+ embed: tokenops / GPTCache µs", "ratio + embed"], rows))
    print(f"\n{'; '.join(notes)} (Banking77 test); {rounds} rounds x {per} calls of each kind "
          f"and library. Unexpected outcomes (a hit query that missed etc.): {unexpected or 'none'}.")


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


# ------------------------------------------------------------------------------------ 2. decisions
def decision_caches(tmp: Path, tag: str, memo: Memo, capacity: int) -> dict[str, Any]:
    return {
        "tokenops + guards": Tokenops(_mkdir(tmp / f"{tag}-tg"), memo, THRESHOLDS[0], guards=True),
        "tokenops, no guards": Tokenops(_mkdir(tmp / f"{tag}-tn"), memo, THRESHOLDS[0], guards=False),
        # a vetoed nearest candidate passes the look-up on (the default top_k 1 makes it a miss)
        "tokenops + guards, top_k 4": Tokenops(_mkdir(tmp / f"{tag}-t4"), memo, THRESHOLDS[0], top_k=4),
        "GPTCache": GPTCache(_mkdir(tmp / f"{tag}-g"), memo, THRESHOLDS[0], capacity),
    }


def osschat(clusters: list[list[str]], memo: Memo, tmp: Path) -> None:
    caches = decision_caches(tmp, "oss", memo, 10_000)
    # counts[name][t] = [tp, fp, miss]; answers: per name, per t, per query (for agreement)
    counts = {name: {t: [0, 0, 0] for t in THRESHOLDS} for name in caches}
    served: dict[str, dict[float, list[Any]]] = {name: {t: [] for t in THRESHOLDS} for name in caches}
    for c in caches.values():
        prompts = [q for cl in clusters for q in cl[1:]]
        ids = [str(k) for k, cl in enumerate(clusters) for _ in cl[1:]]
        for p, a in zip(prompts, ids):
            c.put(p, a)
    for name, c in caches.items():
        for t in THRESHOLDS:
            c.set_threshold(t)
            for k, cl in enumerate(clusters):
                got = c.get(cl[0])
                served[name][t].append(got)
                counts[name][t][2 if got is None else 0 if got == str(k) else 1] += 1
    n_put = sum(len(cl) - 1 for cl in clusters)
    print(f"\n### OSSChat clusters: {len(clusters)} clusters, {n_put} questions put, "
          f"{len(clusters)} queried; tp / fp / miss\n")
    rows = []
    for t in THRESHOLDS:
        diff = sum(a != b for a, b in zip(served["tokenops, no guards"][t], served["GPTCache"][t]))
        rows.append([f"{t}", f"{gptcache_threshold(t):.3f}"] +
                    ["{} / {} / {}".format(*counts[name][t]) for name in caches] + [str(diff)])
    print(md_table(["cosine", "GPTCache threshold", *caches, DIFFER], rows))


def qqp_stream(pairs: list[tuple[str, str, int]], memo: Memo, tmp: Path) -> None:
    caches = decision_caches(tmp, "qqp", memo, 4 * len(pairs) + 10)
    counts = {name: {t: {"true": 0, "false": 0, "other": 0} for t in THRESHOLDS} for name in caches}
    differ = {t: 0 for t in THRESHOLDS}
    t0 = time.perf_counter()
    for i, (q1, q2, label) in enumerate(pairs):
        for c in caches.values():
            c.put(q1, str(i))
        for t in THRESHOLDS:
            got = {}
            for name, c in caches.items():
                c.set_threshold(t)
                r = got[name] = c.get(q2)
                if r is None:
                    continue
                kind = "other" if r != str(i) else "true" if label else "false"
                counts[name][t][kind] += 1
            differ[t] += got["tokenops, no guards"] != got["GPTCache"]
    secs = time.perf_counter() - t0
    pos = sum(p[2] for p in pairs)
    print(f"\n### MeanCache QQP test-split stream: {len(pairs):,} pairs ({pos:,} duplicates), "
          "put question1 then "
          f"get question2 ({secs:.0f} s for all); true hits / false hits / other-entry hits, "
          "precision = true / (true + false), recall = true / duplicates\n")
    rows = []
    for t in THRESHOLDS:
        row = [f"{t}", f"{gptcache_threshold(t):.3f}"]
        for name in caches:
            k = counts[name][t]
            prec = k["true"] / (k["true"] + k["false"]) if k["true"] + k["false"] else float("nan")
            row.append(f"{k['true']} / {k['false']} / {k['other']} "
                       f"(P {prec:.3f}, R {k['true'] / pos:.3f})")
        rows.append(row + [str(differ[t])])
    print(md_table(["cosine", "GPTCache threshold", *caches, DIFFER], rows))


def mapping_check(memo: Memo, texts: list[str], tmp: Path) -> float:
    """Largest |GPTCache's FAISS distance - (2 - 2 cos)| over a few queries against ``texts``."""
    g = GPTCache(_mkdir(tmp / "check"), memo, 0.9, 10 * len(texts) + 10)
    g.load(texts, [str(i) for i in range(len(texts))])
    M = memo.matrix(texts)
    worst = 0.0
    for q in texts[:20]:
        v = memo.one(q)
        for dist, pid in g.cache.data_manager.search(v, top_k=5):
            row = g.cache.data_manager.get_scalar_data((dist, pid))
            j = int(row.answers[0].answer)
            cos = float(M[j] @ (v / np.linalg.norm(v)))
            worst = max(worst, abs(float(dist) - (2 - 2 * cos)))
    return worst


# ------------------------------------------------------------------------------------ main
def _default_fast_dir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes and samples")
    ap.add_argument("--sizes", default="1000,10000", help="cache sizes N for the latency section")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=100, help="calls of each kind per round and library")
    ap.add_argument("--dir", default=_default_fast_dir(),
                    help="where the cache files of the main runs go (default /dev/shm: no fsync cost)")
    ap.add_argument("--disk-dir", default=tempfile.gettempdir(),
                    help="where the files of the on-disk latency run go")
    ap.add_argument("--disk-sizes", default="1000", help="N of the on-disk latency run ('' to skip)")
    ap.add_argument("--disk-rounds", type=int, default=3)
    ap.add_argument("--disk-calls", type=int, default=20)
    ap.add_argument("--qqp-pairs", type=int, default=3000,
                    help="MeanCache test pairs sampled (of 9,042)")
    ap.add_argument("--embed-samples", type=int, default=50)
    ap.add_argument("--faiss-threads", type=int, default=1,
                    help="OpenMP threads of FAISS (both caches search with it); 0 keeps FAISS's default")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.rounds, args.calls, args.qqp_pairs, args.embed_samples = "200", 2, 10, 100, 5
        args.disk_sizes, args.disk_rounds, args.disk_calls = "200", 1, 5
    sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    disk_sizes = [int(x) for x in str(args.disk_sizes).split(",") if x.strip()]

    # GPTCache pip-installs a missing dependency at run time (``pip install`` of whatever pip is
    # on PATH, gptcache.utils.dependency_control): check them first and stop instead.
    missing = [m for m in ("gptcache", "sqlalchemy", "faiss") if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"benchmarks/cache.py compares with GPTCache and needs {', '.join(missing)}: "
                         "pip install gptcache==0.1.44 sqlalchemy faiss-cpu (or tokenops[bench])")
    import faiss
    import gptcache

    import tokenops
    from tokenops._paths import data_dir
    from tokenops.cache import evaluate as ev

    if args.faiss_threads > 0:
        # One query at a time gains nothing from threads at these sizes, and on a busy machine
        # FAISS's OpenMP team makes a search wait for a descheduled worker (milliseconds).
        faiss.omp_set_num_threads(args.faiss_threads)

    t_start = time.perf_counter()
    data_dir(required=True)  # says where it looked when the data is missing
    fast = Path(tempfile.mkdtemp(prefix="tokenops-cache-bench-", dir=args.dir))
    disk = Path(tempfile.mkdtemp(prefix="tokenops-cache-bench-", dir=args.disk_dir))
    # registered before any GPTCache object: atexit runs last-in first-out, and GPTCache's own
    # atexit hook (set by Cache.init) writes its files into these folders
    for d in (fast, disk):
        atexit.register(shutil.rmtree, d, ignore_errors=True)

    rng = random.Random(args.seed)
    train = ev.load_banking77("train")["text"].tolist()
    shuffled = list(train)
    rng.shuffle(shuffled)
    if max(sizes + disk_sizes) > len(train):
        raise SystemExit(f"Banking77 train has {len(train)} texts; sizes must not exceed it")
    pool = shuffled[: max(sizes + disk_sizes)]
    tests = ev.load_banking77("test")["text"].tolist()
    if args.quick:
        tests = tests[:300]
    n_puts = max(args.rounds * args.calls, args.disk_rounds * args.disk_calls)
    extra = first_distinct(ev.load_qqp()["text_a"], n_puts, set(pool))  # GPTCache's QQP questions
    mc = list(ev.load_meancache_qqp().itertuples(index=False, name=None))
    picked = random.Random(args.seed).sample(range(len(mc)), min(args.qqp_pairs, len(mc)))
    pairs = [mc[i] for i in picked]
    clusters = ev._clusters(ev.load_osschat())

    emb = tokenops.Embedder.load()
    memo = Memo(emb)
    print(f"# tokenops.Cache vs GPTCache {gptcache.__version__} (faiss {faiss.__version__}, "
          f"{faiss.omp_get_max_threads()} OpenMP thread(s), {os.cpu_count()} cores), one process, "
          f"seed {args.seed}{' (--quick)' if args.quick else ''}\n")
    emb_s = memo.add([pool if args.quick else train, tests, extra, [t for p in pairs for t in p[:2]],
                      [q for cl in clusters for q in cl]], progress=not args.quick)
    print(f"Both caches embed with tokenops' {emb.name} ({emb.dim} d) through one memo: "
          f"{len(memo.vec):,} texts, {emb_s:.1f} s to embed them or read them from tokenops' embedding "
          "cache (not timed below).")
    sample = rng.sample(tests, min(args.embed_samples, len(tests)))
    emb.embed_one(sample[0])
    et: list[float] = []
    for q in sample:
        timed(emb.embed_one, q, et)
    embed_us = statistics.median(et)

    worst = mapping_check(memo, pool[:200], fast)
    print(f"Threshold mapping check: GPTCache's FAISS distance against 2 - 2 cos of the unit vectors, "
          f"largest deviation {worst:.1e}, so similarity_threshold = (1 + cos) / 2.")

    print(f"\n## 1. Latency per call, without embedding: µs, median (mean); threshold cosine "
          f"{LATENCY_THRESHOLD} (GPTCache similarity_threshold "
          f"{gptcache_threshold(LATENCY_THRESHOLD):.3f})\n")
    print(f"Embedding one query (tokenops.Embedder.embed_one, median of {len(et)}): "
          f"**{us(embed_us)} µs**, added in the '+ embed' columns where the call embeds "
          "(GPTCache's semantic cache embeds an exact repeat too; tokenops answers it from its "
          "exact level). Ratio = tokenops / GPTCache.\n")
    for folder, ns, rounds, calls in ((fast, sizes, args.rounds, args.calls),
                                      (disk, disk_sizes, args.disk_rounds, args.disk_calls)):
        if not ns:
            continue
        t = time.perf_counter()
        wal, rollback = commit_ms(folder, "WAL"), commit_ms(folder, "DELETE")
        print(f"### Files in {folder.parent} (one SQLite row insert + commit here: WAL {wal:.3f} ms, "
              f"rollback journal {rollback:.3f} ms)\n")
        latency(ns, rounds, calls, args.seed, memo, pool, tests, extra, folder, embed_us)
        print(f"({time.perf_counter() - t:.0f} s)\n")

    print(f"## 2. Hit decisions at matched thresholds (same embeddings; tokenops top_k 1 unless said, GPTCache "
          f"top_k 1; files in {fast.parent})")
    osschat(clusters, memo, fast)
    qqp_stream(pairs, memo, fast)
    print(f"\nMemo misses (texts embedded inside a cache call; should be 0): {memo.misses}. "
          f"Total run {time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
