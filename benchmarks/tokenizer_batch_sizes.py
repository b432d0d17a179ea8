#!/usr/bin/env python3
"""Batch size vs threads: when do 2 threads pay for themselves?

    TOKENOPS_DATA_DIR=../shared/data python benchmarks/tokenizer_batch_sizes.py [--encoding cl100k_base]

Batches of 400-character prose messages (4k to 512k characters in all), each timed with 1 and 2
threads for tokenops' count_batch and encode_batch and tiktoken's encode_ordinary_batch, the
variants interleaved round by round (best of --repeat; the machine is shared and noisy, so compare
the ratios within a run). Caches are warm: a service counts similar messages call after call.
Printed: microseconds per call and the 2-thread speed-up (>1 = 2 threads faster).
"""

from __future__ import annotations

import argparse
import gc
import time

import tokenops
from tokenops._paths import data_dir
from tokenops.tokenizer import reference


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoding", default="cl100k_base")
    ap.add_argument("--repeat", type=int, default=60)
    args = ap.parse_args()
    text = (data_dir(required=True) / "corpus" / "en_war_and_peace.txt").read_text(encoding="utf-8")
    enc = tokenops.get_encoding(args.encoding)
    tk = reference.tiktoken_encoding(args.encoding)
    print(f"{args.encoding}: us per call, best of {args.repeat}; speed-up = 1-thread time / 2-thread time")
    for total in (4_000, 16_000, 64_000, 128_000, 512_000):
        docs = [text[i:i + 400] for i in range(0, total, 400)]
        assert enc.encode_ordinary_batch(docs) == tk.encode_ordinary_batch(docs)
        fns = {}
        for t in (1, 2):
            fns[("tokenops count", t)] = (lambda t: lambda: enc.count_batch(docs, num_threads=t))(t)
            fns[("tokenops encode", t)] = (lambda t: lambda: enc.encode_ordinary_batch(docs, num_threads=t))(t)
            fns[("tiktoken encode", t)] = (lambda t: lambda: tk.encode_ordinary_batch(docs, num_threads=t))(t)
        best = {k: float("inf") for k in fns}
        gc.disable()
        try:
            for _ in range(args.repeat):
                for k, fn in fns.items():
                    t0 = time.perf_counter()
                    fn()
                    best[k] = min(best[k], time.perf_counter() - t0)
        finally:
            gc.enable()
        row = f"{total:>8,} chars ({len(docs):>5} msgs)"
        for name in ("tokenops count", "tokenops encode", "tiktoken encode"):
            a, b = best[(name, 1)], best[(name, 2)]
            row += f" | {name} {a * 1e6:8.1f} / {b * 1e6:8.1f} ({a / b:4.2f}x)"
        print(row)


if __name__ == "__main__":
    main()
