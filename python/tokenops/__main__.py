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


def _refresh_prices(args: argparse.Namespace) -> int:
    from .pricing.catalog import SNAPSHOT_NAME, refresh_default

    version = None
    label = None
    checked = args.checked_date
    if args.from_installed_litellm:
        from importlib import metadata
        from importlib.util import find_spec
        from pathlib import Path

        spec = find_spec("litellm")
        if spec is None or not spec.submodule_search_locations:
            print("litellm is not installed", file=sys.stderr)
            return 2
        version = metadata.version("litellm")
        src = Path(list(spec.submodule_search_locations)[0]) / "model_prices_and_context_window_backup.json"
        label = f"LiteLLM v{version} model_prices_and_context_window_backup.json (installed package)"
    elif args.from_snapshot:
        from ._paths import data_dir

        ddir = data_dir(required=True)
        assert ddir is not None
        src = ddir / "pricing" / SNAPSHOT_NAME
        version = "1.83.2"
        label = ("LiteLLM v1.83.2 model_prices_and_context_window.json "
                 "(git blob 35fa2206761449e9b63475b863b65e6d058f3ebd)")
        checked = checked or "2026-04-30"
    elif args.source:
        src = args.source
    else:
        print("give a LiteLLM JSON path, --from-installed-litellm or --from-snapshot", file=sys.stderr)
        return 2
    prov = refresh_default(src, args.out, source_label=label, checked_date=checked, litellm_version=version)
    print(f"wrote {prov['models']} models from {prov['source']} (checked {prov['checked_date']}) "
          f"to {args.out or 'the package'}; sha256 {prov['file_sha256'][:16]}...")
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
    rp = sub.add_parser("refresh-prices", help="rebuild the packaged price catalogue from a newer LiteLLM JSON")
    rp.add_argument("source", nargs="?", help="path to model_prices_and_context_window.json")
    rp.add_argument("--from-installed-litellm", action="store_true", help="use the installed litellm's bundled JSON")
    rp.add_argument("--from-snapshot", action="store_true", help="use the shared data snapshot (LiteLLM v1.83.2)")
    rp.add_argument("--out", default=None, help="output folder (default: the package's pricing/data)")
    rp.add_argument("--checked-date", default=None, help="ISO date the prices were checked (default: today)")
    rp.set_defaults(func=_refresh_prices)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
