"""Single-thread encode_ordinary speed of whichever tokenops build is imported, for comparing two
builds run alternately (the machine's load drifts, so alternate them and compare rounds):

    pip install --no-build-isolation --no-deps --target /tmp/old .   # in a checkout of the old commit
    for i in 1 2 3; do
      PYTHONPATH=/tmp/old python benchmarks/tokenizer_ab.py --label old
      python benchmarks/tokenizer_ab.py --label new
    done

Every timed run starts with cold BPE memos (as benchmarks/tokenizer.py); prints the best of
--repeat runs per (encoding, file) in MB/s.
"""

from __future__ import annotations

import argparse
import time

import tokenops
from tokenops import _core
from tokenops._paths import data_dir

FILES = "multilingual_udhr.txt,zh_classics_plain.txt,en_moby_dick.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="this build")
    ap.add_argument("--files", default=FILES, help="comma-separated files of the shared corpus")
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    ap.add_argument("--repeat", type=int, default=4)
    a = ap.parse_args()
    corpus = data_dir() / "corpus"
    row = []
    for name in a.encodings.split(","):
        enc = tokenops.get_encoding(name)
        for f in a.files.split(","):
            text = (corpus / f).read_text(encoding="utf-8")
            nb = len(text.encode())
            best = 0.0
            for _ in range(a.repeat):
                _core.clear_bpe_memo()
                t0 = time.perf_counter()
                enc.encode_ordinary(text)
                best = max(best, nb / (time.perf_counter() - t0) / 1e6)
            row.append(f"{name.split('_')[0]} {f.split('.')[0]} {best:.1f}")
    print(f"{a.label:>10}: " + " | ".join(row))


if __name__ == "__main__":
    main()
