#!/usr/bin/env python3
"""Trains the word-bigram model that refines tokenops' self-information scorer.

Reads English prose from the shared corpus (public-domain novels and plays: see
$TOKENOPS_DATA_DIR/corpus/README.md), splits it with exactly the segmentation the compressor uses
(``tokenops._core.compress_word_list``), counts bigrams and writes a pruned model:

* vocabulary: the ``--vocab`` most frequent words (plus ``<s>`` and ``<num>``);
* bigrams: pairs inside the vocabulary seen at least ``--min-count`` times;
* per word: its count as a left context and its number of distinct successors, both taken from
  the *unpruned* counts, so that absolute discounting backs off with the right weight.

Usage: python scripts/train_compress_ngram.py [--out python/tokenops/compress/data/bigram_en.txt.gz]
It is deterministic: the same corpus gives the same file (gzip mtime fixed at 0).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
from collections import Counter
from pathlib import Path

from tokenops import _core
from tokenops._paths import write_atomic

FILES = ["en_moby_dick.txt", "en_war_and_peace.txt", "en_shakespeare.txt"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = Path(__file__).resolve().parents[1]
    ap.add_argument("--data", default=os.environ.get("TOKENOPS_DATA_DIR", root.parent / "shared" / "data"))
    ap.add_argument("--out", default=root / "python/tokenops/compress/data/bigram_en.txt.gz")
    ap.add_argument("--vocab", type=int, default=12000)
    ap.add_argument("--min-count", type=int, default=4)
    ap.add_argument("--discount", type=float, default=0.75)
    args = ap.parse_args()
    if args.vocab < 1:
        ap.error(f"--vocab must be >= 1, got {args.vocab}")
    if args.min_count < 1:
        ap.error(f"--min-count must be >= 1, got {args.min_count}")
    if not 0 < args.discount < 1:  # the loader refuses any other discount
        ap.error(f"--discount must be in (0, 1), got {args.discount}")
    for name in FILES:
        if not (Path(args.data) / "corpus" / name).is_file():
            ap.error(f"{Path(args.data) / 'corpus' / name} not found; pass --data <shared data folder>")
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        ap.error(f"--out {out}: must be a file path in an existing folder")

    uni: Counter[str] = Counter()
    left: Counter[str] = Counter()
    bi: Counter[tuple[str, str]] = Counter()
    for name in FILES:
        text = (Path(args.data) / "corpus" / name).read_text(encoding="utf-8")
        words = _core.compress_word_list(text)
        uni.update(words)
        for a, b in zip(words, words[1:]):
            if b == "<s>":
                continue
            bi[(a, b)] += 1
            left[a] += 1
        print(f"{name}: {len(words):,} words")
    successors: Counter[str] = Counter(a for (a, _b) in bi)
    vocab = [w for w, _ in sorted(uni.items(), key=lambda kv: (-kv[1], kv[0])) if left[w] > 0][: args.vocab]
    ids = {w: i for i, w in enumerate(vocab)}
    kept = sorted(
        ((ids[a], ids[b], c) for (a, b), c in bi.items() if c >= args.min_count and a in ids and b in ids)
    )
    buf = io.StringIO()
    buf.write("tokenops-bigram 1\n")
    buf.write(f"discount {args.discount}\n")
    buf.write(f"unigrams {len(vocab)}\n")
    for w in vocab:
        buf.write(f"{w}\t{left[w]}\t{successors[w]}\n")
    buf.write(f"bigrams {len(kept)}\n")
    for a, b, c in kept:
        buf.write(f"{a}\t{b}\t{c}\n")
    raw = buf.getvalue().encode("utf-8")
    gz_buf = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    write_atomic(out, gz_buf.getvalue())  # the default --out is the shipped model: never half-written
    print(f"wrote {out}: {len(vocab):,} words, {len(kept):,} bigrams, {out.stat().st_size:,} bytes")
    print("sha256", hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
