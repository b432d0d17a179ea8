"""Command line: ``python -m tokenops demo`` counts, prices, routes and compresses real text;
``python -m tokenops refresh-prices`` rebuilds the packaged price catalogue."""

from __future__ import annotations

import argparse
import os
import sys
import time


def _demo(args: argparse.Namespace) -> int:
    """Count, price, route and compress real text from the shared data folder."""
    from . import compress, cost, get_encoding
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
    names = list(dict.fromkeys(n.strip() for n in args.encodings.split(",") if n.strip()))  # each once
    if not names:
        raise ValueError(f"--encodings names no encoding (got {args.encodings!r}); e.g. cl100k_base,o200k_base")
    encs, load_ms = {}, {}
    for n in names:
        t0 = time.perf_counter()
        encs[n] = get_encoding(n)
        load_ms[n] = (time.perf_counter() - t0) * 1e3
    print(f"data: {ddir}\n")
    print("1. Tokens (exact; tiktoken-identical). Load: "
          + ", ".join(f"{n} {load_ms[n]:.0f} ms" for n in names))
    header = f"{'sample':<28}{'chars':>7}" + "".join(f"{n:>15}" for n in names)
    print(header)
    print("-" * len(header))
    texts = {}
    for label, (path, nchars) in samples.items():
        text = path.read_text(encoding="utf-8")[:nchars]
        texts[label] = text
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
    print(f"  token bytes: {enc.decode_tokens_bytes(ids)}")

    print("\n2. Cost of one call per sample (prompt = the sample, 500 output tokens), exact mode")
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
    print(f"{'sample':<28}" + "".join(f"{m:>20}" for m in models))
    o200k = get_encoding("o200k_base")
    for label, text in texts.items():
        usage = {"prompt_tokens": o200k.count(text, disallowed_special=()), "completion_tokens": 500}
        print(f"{label:<28}" + "".join(f"{'$' + format(cost(m, usage).total, '.6f'):>20}" for m in models))
    print("  (Claude and Gemini prompt sizes use o200k_base counts: their tokenizers are not public.)")

    print("\n3. Routing: P(the strong model is needed) from the shipped router (C++ inference)")
    from .router import Router
    from .router.data import load_routellm

    router = Router.default()
    try:
        prompts = load_routellm("gsm8k", ddir).prompts[:2] + load_routellm("mt-bench", ddir).prompts[:2]
    except ImportError as e:  # pandas reads the outcome files: the [router] extra
        prompts = ["What is 17*23?", "Prove that the square root of 2 is irrational, step by step."]
        print(f"  (RouteLLM prompts need {e.name or 'pandas'}: pip install 'tokenops[router]'; "
              "scoring two prompts of our own)")
    t0 = time.perf_counter()
    scores = router.score(prompts)
    us = (time.perf_counter() - t0) / len(prompts) * 1e6
    for p, s in zip(prompts, scores):
        short = " ".join(p.split())[:70]
        print(f"  {s:5.3f}  {short}")
    print(f"  ({us:.0f} µs per prompt including Python overhead)")

    print("\n4. Compression: keep what answers the question under a token budget")
    book = (corpus / "en_moby_dick.txt").read_text(encoding="utf-8")
    start = book.rfind("CHAPTER 1. Loomings.")  # the chapter itself, after the table of contents
    passage = book[start:start + 6000]
    question = "What does the narrator tell us to call him?"
    t0 = time.perf_counter()
    try:
        compress(passage, question=question, rate=0.25, model="gpt-4o")  # first call loads word stats
    except ImportError as e:  # the default word frequencies come from wordfreq: the [compress] extra
        print(f"  (skipped: {e})")
        return 0
    t1 = time.perf_counter()
    res = compress(passage, question=question, rate=0.25, model="gpt-4o")
    ms, first_ms = (time.perf_counter() - t1) * 1e3, (t1 - t0) * 1e3
    print(f"  {res.original_tokens:,} -> {res.compressed_tokens:,} tokens ({res.ratio:.1f}x) in {ms:.1f} ms"
          f" (first call {first_ms:.0f} ms); answer 'Ishmael' kept: {'Ishmael' in res.text}")
    print(f"  {res.text[:300]!r}...")
    return 0


def _refresh_prices(args: argparse.Namespace) -> int:
    from .pricing.catalog import SNAPSHOT_NAME, refresh_default

    version = None
    label = None
    checked = args.checked_date
    if sum(map(bool, (args.source, args.from_installed_litellm, args.from_snapshot))) > 1:
        # one was taken silently and the others ignored (a path given with --from-snapshot)
        raise ValueError("give exactly one source: a LiteLLM JSON path, --from-installed-litellm or --from-snapshot")
    if args.out is not None and not args.out.strip():
        raise ValueError("--out is empty (it wrote to the current folder and said 'the package')")
    if checked is not None:
        from datetime import date

        from .pricing.catalog import _iso_date_arg

        if _iso_date_arg(checked, "--checked-date") > date.today().isoformat():
            raise ValueError(f"--checked-date {checked} is in the future")
    if args.from_installed_litellm:
        from importlib import metadata
        from importlib.util import find_spec
        from pathlib import Path

        spec = find_spec("litellm")
        if spec is None or not spec.submodule_search_locations:
            raise ValueError("--from-installed-litellm: litellm is not installed")
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
        raise ValueError("give a LiteLLM JSON path, --from-installed-litellm or --from-snapshot")
    prov = refresh_default(src, args.out, source_label=label, checked_date=checked, litellm_version=version,
                           allow_shrink=args.allow_shrink)
    print(f"wrote {prov['models']} models from {prov['source']} (checked {prov['checked_date']}) "
          f"to {args.out or 'the package'}; sha256 {prov['file_sha256'][:16]}...")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="count, price, route and compress real texts from the data folder")
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
    rp.add_argument("--checked-date", default=None,
                    help="ISO date the prices were checked, not in the future (default: today; "
                         "2026-04-30 with --from-snapshot)")
    rp.add_argument("--allow-shrink", action="store_true",
                    help="accept a source with fewer than half the models of the catalogue it replaces")
    rp.set_defaults(func=_refresh_prices)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # the reader went away (`python -m tokenops demo | head`): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes stdout at exit)
        except OSError:
            pass
        return 0
    except (ValueError, TypeError, KeyError, OSError) as e:
        # A user mistake (a missing file, a bad date, a malformed source): one line, exit 2.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"tokenops {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
