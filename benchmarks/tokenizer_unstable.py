"""encode_with_unstable and _encode_bytes next to tiktoken, same inputs, one run, interleaved.

    TOKENOPS_DATA_DIR=../shared/data python benchmarks/tokenizer_unstable.py [--repeat 5]

Prints the best time of each call (steady state: the first call, which also builds tokenops'
byte-ordered token index, is timed separately) and the ratio tiktoken / tokenops, after checking
that both give the same stable tokens and the same set of completions.
"""

from __future__ import annotations

import argparse
import time

import tokenops
from tokenops.tokenizer import reference

CASES = {
    "short word": "hello fanta",
    "sentence": "The quick brown fox jumps over the lazy dog. Supercalifragilistic",
    "code, 2 spaces": "def f(x):\n    return x  ",
    "'a' * 300": "a" * 300,
    "CJK": "数据科学",
}
BYTES = {"cut character": "naïve café 東京".encode()[:-1], "invalid byte": b"hello \xff world"}


def best(fn, repeat: int) -> float:
    t = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    args = ap.parse_args()
    for name in args.encodings.split(","):
        ours, ref = tokenops.get_encoding(name), reference.tiktoken_encoding(name)
        t0 = time.perf_counter()
        ours.encode_with_unstable("x")
        print(f"=== {name}: first call (builds the token index) {1e3 * (time.perf_counter() - t0):.1f} ms")
        ref.encode_with_unstable("x")
        print(f"{'case':<18}{'completions':>12}{'tokenops ms':>13}{'tiktoken ms':>13}{'ratio':>8}")
        for label, text in CASES.items():
            a, b = ours.encode_with_unstable(text), ref.encode_with_unstable(text)
            assert a[0] == b[0] and sorted(map(tuple, a[1])) == sorted(set(map(tuple, b[1]))), label
            t_ours = t_ref = float("inf")
            for _ in range(args.repeat):  # interleaved rounds
                t_ours = min(t_ours, best(lambda: ours.encode_with_unstable(text), 1))
                t_ref = min(t_ref, best(lambda: ref.encode_with_unstable(text), 1))
            print(f"{label:<18}{len(a[1]):>12}{1e3 * t_ours:>13.2f}{1e3 * t_ref:>13.2f}{t_ref / t_ours:>7.2f}x")
        for label, raw in BYTES.items():
            assert ours._encode_bytes(raw) == ref._encode_bytes(raw), label
            t_ours = best(lambda: ours._encode_bytes(raw), args.repeat * 20)
            t_ref = best(lambda: ref._encode_bytes(raw), args.repeat * 20)
            print(f"_encode_bytes {label:<14}{'':>2}{1e6 * t_ours:>10.1f} us{1e6 * t_ref:>10.1f} us{t_ref / t_ours:>7.2f}x")
    reference.cleanup()


if __name__ == "__main__":
    main()
