"""Single-query latency of the exact FAISS index tokenops.Cache searches (IndexIDMap2 over
IndexFlatIP, 384-d unit vectors), by partition size, with FAISS's default OpenMP threads and
with one; the cost of removing one vector from it; and the native MiniLM embedding of one short
query beside it. docs/cache.md quotes it.

    python scripts/faiss_flat_latency.py [--sizes 3000,10000,20000,100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

import tokenops


def median_ms(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="3000,10000,20000,100000")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    default_threads = faiss.omp_get_max_threads()
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, default OpenMP threads {default_threads}")
    for n in (int(x) for x in args.sizes.split(",")):
        x = rng.standard_normal((n, 384)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
        index.add_with_ids(x, np.arange(n, dtype=np.int64))
        q = x[:1].copy()
        row = []
        for threads in (default_threads, 1):
            faiss.omp_set_num_threads(threads)
            row.append(median_ms(lambda: index.search(q, 1), args.repeat))
        faiss.omp_set_num_threads(default_threads)
        gone = iter(range(0, n, max(1, n // (args.repeat + 1))))
        rm = median_ms(lambda: index.remove_ids(np.array([next(gone)], dtype=np.int64)), args.repeat)
        print(f"N={n:>7,}: search {row[0]:.2f} ms ({default_threads} threads), {row[1]:.2f} ms (1 thread); "
              f"remove_ids of one vector {rm:.2f} ms (what tokenops.cache.index avoids with tombstones)")
    emb = tokenops.Embedder.load()
    ms = median_ms(lambda: emb.embed(["How do I reset my PIN on the banking app?"]), args.repeat)
    print(f"embedding one short query (all-MiniLM-L6-v2, native): {ms:.2f} ms")


if __name__ == "__main__":
    main()
