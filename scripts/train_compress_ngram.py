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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    print(f"wrote {out}: {len(vocab):,} words, {len(kept):,} bigrams, {out.stat().st_size:,} bytes")
    print("sha256", hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
