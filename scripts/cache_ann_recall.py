"""Exact vs HNSW search in the semantic cache, on real questions: recall, agreement of hit
decisions, latency and build time. docs/cache.md quotes it.

    TOKENOPS_DATA_DIR=../shared/data python scripts/cache_ann_recall.py [--n 100000] [--queries 2000]

Stored: the first ``--n`` distinct questions of GPTCache's QQP pairs (``text_a`` of every pair,
then ``text_b`` of the non-duplicate pairs, in file order), embedded with tokenops' native
MiniLM. Queries: ``text_b`` of duplicate pairs whose ``text_a`` is stored (a paraphrase of a cached
question: the case a semantic cache exists for) and ``text_b`` of non-duplicate pairs whose
``text_a`` is stored; never a stored question itself. Both indexes are
``tokenops.cache.index.VectorIndex`` (what ``Cache`` uses), one FAISS thread.
For each ``ef_search``: recall@1 (HNSW returns the exact nearest entry), and at the cache's
threshold (0.9) whether the cache would serve the same entry (hit/miss and which entry), over
all queries and over the exact index's hits only; median ms per query. Embeddings are kept in
``--embeddings`` (an .npz) so a second run skips the 2-4 minutes of embedding. ``--cache`` also
times ``tokenops.Cache`` end to end with each index (get, and a put that evicts under
``max_entries``; the query embedding left out).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np

import tokenops
from tokenops.cache import evaluate as ev
from tokenops.cache.index import VectorIndex


def embed(texts: list[str], path: Path) -> np.ndarray:
    if path.exists():
        z = np.load(path, allow_pickle=False)
        if list(z["texts"]) == texts:
            return z["vectors"]
    e = tokenops.Embedder.load()
    out = []
    t = time.perf_counter()
    for i in range(0, len(texts), 2000):
        out.append(e.embed(texts[i:i + 2000]))
        print(f"  embedded {min(i + 2000, len(texts)):,} / {len(texts):,} ({time.perf_counter() - t:.0f} s)",
              flush=True)
    v = np.vstack(out).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.savez(path, texts=np.array(texts), vectors=v)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=2000, help="per kind (duplicate, non-duplicate)")
    ap.add_argument("--ef", default="32,64,128,256")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--embeddings", default="/tmp/tokenops_cache_ann.npz")
    ap.add_argument("--cache", action="store_true", help="also time tokenops.Cache end to end")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)

    df = ev.load_qqp()
    stored: dict[str, int] = {}
    for t in list(df["text_a"]) + list(df.loc[df["label"] == 0, "text_b"]):
        if len(stored) >= args.n:
            break
        if t and t not in stored:
            stored[t] = len(stored)
    queries: list[tuple[str, str]] = []  # (query, kind)
    for label, kind in ((1, "duplicate"), (0, "non-duplicate")):
        rows = df[(df["label"] == label) & df["text_a"].isin(stored) & ~df["text_b"].isin(stored)]
        seen: set[str] = set()
        for q in rows["text_b"]:
            if q and q not in seen:
                seen.add(q)
                queries.append((q, kind))
            if len(seen) >= args.queries:
                break
    texts = list(stored) + [q for q, _ in queries]
    print(f"{len(stored):,} stored questions, {len(queries):,} queries "
          f"({sum(k == 'duplicate' for _, k in queries):,} paraphrases of a stored one)")
    vecs = embed(texts, Path(args.embeddings))
    base, qv = vecs[:len(stored)], vecs[len(stored):]
    ids = np.arange(1, len(stored) + 1, dtype=np.int64)

    flat = VectorIndex(base.shape[1], "flat")
    flat.add(ids, base)
    t = time.perf_counter()
    hnsw = VectorIndex(base.shape[1], "hnsw")
    hnsw.add(ids, base)  # a graph this large is built in the background
    hnsw.wait()
    print(f"HNSW build: {time.perf_counter() - t:.1f} s for {len(ids):,} vectors (M 32, efConstruction 80, 1 thread)")

    def run(index: VectorIndex) -> tuple[np.ndarray, np.ndarray, float]:
        best_id = np.zeros(len(qv), dtype=np.int64)
        best_sim = np.zeros(len(qv), dtype=np.float32)
        times = []
        for i, q in enumerate(qv):
            t0 = time.perf_counter()
            s, j = index.search(q, 1)
            times.append(time.perf_counter() - t0)
            best_id[i], best_sim[i] = j[0], s[0]
        return best_id, best_sim, float(np.median(times) * 1e3)

    f_id, f_sim, f_ms = run(flat)
    f_hit = f_sim >= args.threshold
    print(f"exact (flat): {f_ms:.2f} ms per query; {int(f_hit.sum()):,} of {len(qv):,} queries at cosine "
          f">= {args.threshold} (a semantic hit before guards)")
    print(f"{'ef_search':>9} {'ms/query':>9} {'speed-up':>8} {'recall@1':>9} {'same decision':>14} "
          f"{'hits kept':>10} {'new hits':>9}")
    for ef in (int(x) for x in args.ef.split(",")):
        hnsw.ef_search = ef
        h_id, h_sim, h_ms = run(hnsw)
        same_nn = (h_id == f_id) | np.isclose(h_sim, f_sim, atol=1e-6)
        h_hit = h_sim >= args.threshold
        same_decision = (h_hit == f_hit) & (~f_hit | same_nn)
        kept = int((f_hit & h_hit & same_nn).sum())
        new = int((h_hit & ~f_hit).sum())  # impossible: an approximate search never finds a nearer one
        print(f"{ef:>9} {h_ms:>9.3f} {f_ms / h_ms:>7.1f}x {same_nn.mean():>9.4f} {same_decision.mean():>14.4f} "
              f"{kept:>5}/{int(f_hit.sum()):<4} {new:>9}")
    if args.cache:
        cache_latency(list(stored), base, [q for q, _ in queries], qv, args)


class Precomputed:
    """An embedder that returns the vectors computed above (so the timings below leave the
    2.9 ms of embedding a query out, and both caches see the same vectors)."""

    name, dim = "all-MiniLM-L6-v2", 384

    def __init__(self, texts: list[str], vecs: np.ndarray) -> None:
        from tokenops.cache.core import normalize_prompt  # what the cache embeds

        self.row = {normalize_prompt(t): i for i, t in enumerate(texts)}
        self.vecs = vecs

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.vecs[[self.row[t] for t in texts]]


def cache_latency(stored: list[str], base: np.ndarray, queries: list[str], qv: np.ndarray,
                  args: argparse.Namespace) -> None:
    """tokenops.Cache end to end (SQLite, index, guards; embedding excluded), flat vs auto."""
    import tempfile

    emb = Precomputed(stored + queries, np.vstack([base, qv]))
    print(f"\ntokenops.Cache with {len(stored):,} entries (SQLite file, default guards), ms, median:")
    for kind in ("flat", "auto"):
        with tempfile.TemporaryDirectory() as d:
            c = tokenops.Cache(Path(d) / "c.sqlite", embedder=emb, index=kind, max_entries=len(stored))
            t = time.perf_counter()
            c.put_many(stored, list(range(len(stored))))
            fill = time.perf_counter() - t
            c.get(queries[0])  # a writer does not load the index: the first search reads it
            part = next(iter(c._partitions.values()))
            part.index.wait()
            gets = []
            for q in queries[:1000]:
                t0 = time.perf_counter()
                c.get(q)
                gets.append(time.perf_counter() - t0)
            puts = []  # each evicts the least recently used entry
            for i, q in enumerate(queries[1000:1200]):
                t0 = time.perf_counter()
                c.put(q, -i)
                puts.append(time.perf_counter() - t0)
            info = c.stats()["indexes"]
            c.close()
            print(f"  index={kind!r:7} fill {fill:5.1f} s  get {np.median(gets) * 1e3:6.2f}  evicting put "
                  f"{np.median(puts) * 1e3:6.2f} (mean {np.mean(puts) * 1e3:6.2f})  {list(info.values())[0]}")


if __name__ == "__main__":
    main()
