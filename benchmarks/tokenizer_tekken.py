"""Mistral's tekken: tokenops against mistral-common's own Tekkenizer (tiktoken inside), on the
same bytes of each corpus category as benchmarks/tokenizer.py, after an exactness gate.

    pip install mistral-common
    TOKENOPS_DATA_DIR=../shared/data python benchmarks/tokenizer_tekken.py [--repeat 5]

Single-thread encode of the text (Tekkenizer.encode(text, bos=False, eos=False) and tokenops'
encode_ordinary), the engines interleaved round by round, each round cold (tokenops' BPE memos
cleared); MB/s and the ratio. Also the load time of each (file read, JSON parse, tables).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import tokenops
from tokenops._paths import data_dir

from tokenizer import CATEGORIES, MAX_CHARS, best_times  # noqa: E402 (benchmarks/ is the script's folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import mistral_common
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    path = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"
    t0 = time.perf_counter()
    ref = Tekkenizer.from_file(path)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = tokenops.Encoding.from_tekken_file(path)
    t_ours = time.perf_counter() - t0
    print(f"load: tokenops {t_ours * 1e3:.0f} ms, mistral-common Tekkenizer {t_ref * 1e3:.0f} ms")
    corpus = data_dir() / "corpus"
    print(f"{'category':<14}{'tokenops MB/s':>15}{'mistral-common MB/s':>21}{'ratio':>8}")
    for cat, files in CATEGORIES.items():
        text = "".join((corpus / f).read_text(encoding="utf-8") for f in files)[:MAX_CHARS]
        ids = ours.encode_ordinary(text)
        if ids != ref.encode(text, bos=False, eos=False):
            raise SystemExit(f"{cat}: ids differ from mistral-common; not timing")
        mb = len(text.encode()) / 1e6
        best = best_times({"ours": lambda: ours.encode_ordinary(text),
                           "ref": lambda: ref.encode(text, bos=False, eos=False)}, args.repeat)
        print(f"{cat:<14}{mb / best['ours']:>15.1f}{mb / best['ref']:>21.1f}{best['ref'] / best['ours']:>7.2f}x")


if __name__ == "__main__":
    main()
