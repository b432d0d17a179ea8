"""What an HNSW snapshot saves when a process opens a large file cache: N entries of random
384-d unit vectors (what MiniLM gives; no model is run) in one partition, index="auto".

    python scripts/cache_snapshot_latency.py [--entries 100000] [--dir /tmp]

For each of persist_index False and True, opens the file, makes the first semantic look-up (which
reads the vectors and, without a snapshot, starts building the graph in the background) and
waits until the index is HNSW; then times close (which writes the snapshot). docs/cache.md
quotes it.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

import tokenops


class RandomEmbedder:
    name, dim = "random-384", 384

    def embed(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--dir", default=None, help="where the cache file goes (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = Path(d) / "cache.sqlite"
        c = tokenops.Cache(path, embedder=RandomEmbedder(), guards=(), persist_index=False)
        t = time.perf_counter()
        for s in range(0, args.entries, 10_000):
            n = min(10_000, args.entries - s)
            c.put_many([f"q {i}" for i in range(s, s + n)], list(range(s, s + n)))
        c.close()
        print(f"{args.entries:,} entries written in {time.perf_counter() - t:.1f} s")
        for persist in (False, True, True):
            c = tokenops.Cache(path, embedder=RandomEmbedder(), guards=(), persist_index=persist)
            t = time.perf_counter()
            hit = c.get("q 17 again")
            first = time.perf_counter() - t
            (part,) = c._partitions.values()
            part.index.wait()
            ready = time.perf_counter() - t
            st = next(iter(c.stats()["indexes"].values()))
            t = time.perf_counter()
            c.close()
            closed = time.perf_counter() - t
            snap = sorted(path.with_name(path.name + ".index").glob("*.faiss"))
            size = f", snapshot {snap[0].stat().st_size / 1e6:.0f} MB" if snap else ""
            print(f"persist_index={persist}: first look-up {first:.2f} s, HNSW ready {ready:.2f} s "
                  f"(restored: {st['restored']}, kind {st['kind']}, hit {hit is not None}), "
                  f"close {closed:.2f} s{size}")


if __name__ == "__main__":
    main()
