"""Command line: ``python -m tokenops demo`` counts and encodes a few real texts."""

from __future__ import annotations

import argparse
import sys
import time


def _demo(args: argparse.Namespace) -> int:
    from . import get_encoding
    from ._paths import data_dir

    ddir = data_dir(required=True)
    corpus = ddir / "corpus"
    samples = {
        "English prose (Moby-Dick)": (corpus / "en_moby_dick.txt", 4000),
        "Python code (tiktoken)": (corpus / "code_python.txt", 4000),
        "Multilingual (UDHR)": (corpus / "multilingual_udhr.txt", 4000),
        "Chinese classics": (corpus / "zh_classics_plain.txt", 2000),
        "Emoji sequences": (corpus / "unicode_emoji_test.txt", 2000),
    }
    names = args.encodings.split(",")
    encs = {}
    for n in names:
        t0 = time.perf_counter()
        encs[n] = get_encoding(n)
        encs[n].load_seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    print(f"data: {ddir}")
    print("load time: " + ", ".join(f"{n} {encs[n].load_seconds * 1e3:.0f} ms" for n in names))  # type: ignore[attr-defined]
    header = f"{'sample':<28}{'chars':>7}" + "".join(f"{n:>15}" for n in names)
    print(header)
    print("-" * len(header))
    for label, (path, nchars) in samples.items():
        text = path.read_text(encoding="utf-8")[:nchars]
        row = f"{label:<28}{len(text):>7}"
        for n in names:
            enc = encs[n]
            ids = enc.encode(text, disallowed_special=())
            assert enc.decode(ids) == text, "round trip failed"
            assert enc.count(text, disallowed_special=()) == len(ids)
            row += f"{len(ids):>15,}"
        print(row)
    enc = encs[names[0]]
    example = "tokenops counts tokens exactly: naïve café, 東京, 👍🏽."
    ids = enc.encode(example)
    print(f"\n{names[0]} encode({example!r})\n  -> {ids}")
    print(f"  pieces: {[enc.decode([i]) for i in ids]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="count and encode a few real texts with several encodings")
    demo.add_argument(
        "--encodings", default="cl100k_base,o200k_base,r50k_base,llama3",
        help="comma-separated encoding names",
    )
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
