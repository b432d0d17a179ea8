#!/usr/bin/env python3
"""Tokenizer throughput: tokenops against every peer that installs from PyPI, in one run.

    TOKENOPS_DATA_DIR=../shared/data python benchmarks/tokenizer.py [--encodings cl100k_base,o200k_base]

Peers: tiktoken, quicktok-v1, bpe-openai, tokendagger (needs libpcre2-dev) and Hugging Face
tokenizers (gpt2). Each peer first passes an exactness gate (ids identical to tokenops on the same
text); a peer that differs is reported and left out of the ratios. Times are the minimum of
--repeat runs, the engines interleaved round by round (the machine is shared and noisy; ratios
within one run are what to compare).
Every timed run starts with cold caches (tokenops' BPE memo cleared, a fresh quicktok instance,
whose piece cache otherwise makes a repeat over the same text up to 2x faster); --warm keeps all
caches across repeats instead.
Printed: MB/s and ratios for single-thread encode, count, encode_batch with 1 and 2 threads,
per-byte time of each adversarial file relative to prose, and load time / memory of o200k.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import tokenops
from tokenops import _core
from tokenops._paths import data_dir
from tokenops.tokenizer import reference

CATEGORIES = {
    "prose": ["en_moby_dick.txt"],
    "code": ["code_cpp.txt"],
    "multilingual": ["multilingual_udhr.txt"],
    "cjk": ["zh_classics_plain.txt"],
    "json": ["json_gigatoken_benchmark_results.json", "zh_tang_poems.json"],
    "emoji": ["unicode_emoji_test.txt"],
}
MAX_CHARS = 900_000  # bpe-openai refuses inputs of 1M characters or more


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# Engines that cache BPE results across calls (tokenops' per-thread memo, quicktok's piece cache)
# run faster on a text they have seen. By default every timed run starts cold (tokenops' memo is
# cleared, quicktok gets a fresh instance), as for a text never seen before; --warm keeps every
# engine's caches across the repeats instead (the same text again, e.g. a system prompt).
WARM = False
RESETS: list = []


def best_times(fns: dict, repeat: int) -> dict:
    """Min time of each function over `repeat` rounds, the engines interleaved round by round, so
    a burst of load from a neighbour on the shared machine hits every engine alike instead of
    one engine's whole series."""
    best = {k: float("inf") for k in fns}
    gc.disable()
    try:
        for _ in range(repeat):
            for k, fn in fns.items():
                if not WARM:
                    _core.clear_bpe_memo()
                    for reset in RESETS:
                        reset()
                t0 = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - t0)
    finally:
        gc.enable()
    return best


ALLOW_MISSING = False


def best_time(fn, repeat: int) -> float:
    return best_times({"fn": fn}, repeat)["fn"]


def load_peers(enc_name: str) -> dict[str, object]:
    peers: dict[str, object] = {}
    try:
        peers["tiktoken"] = reference.tiktoken_encoding(enc_name)
    except Exception as exc:  # noqa: BLE001
        print(f"  tiktoken unavailable: {exc}")
    try:
        import quicktok

        class QuickTok:
            """quicktok with its piece cache reset on demand (a fresh instance; load not timed)."""

            def __init__(self) -> None:
                self.tok = quicktok.Tokenizer(enc_name, "")

            def reset(self) -> None:
                self.tok = quicktok.Tokenizer(enc_name, "")

            def encode_ordinary(self, text):
                return self.tok.encode_ordinary(text)

            def count(self, text):
                return self.tok.count(text)

            def encode_batch(self, docs, threads, with_special):
                return self.tok.encode_batch(docs, threads, with_special)

        qt = QuickTok()
        RESETS.append(qt.reset)
        peers["quicktok-v1"] = qt
    except Exception as exc:  # noqa: BLE001
        print(f"  quicktok-v1 unavailable for {enc_name}: {exc}")
    try:
        import bpe_openai

        peers["bpe-openai"] = bpe_openai.get_encoding(enc_name)
    except Exception as exc:  # noqa: BLE001
        print(f"  bpe-openai unavailable for {enc_name}: {exc}")
    try:
        import tokendagger

        tk = reference.tiktoken_encoding(enc_name)
        peers["tokendagger"] = tokendagger.Encoding(
            enc_name, pat_str=tk._pat_str, mergeable_ranks=tk._mergeable_ranks,
            special_tokens=tk._special_tokens,
        )
    except Exception as exc:  # noqa: BLE001
        print(f"  tokendagger unavailable: {exc}")
    if enc_name == "gpt2":
        try:
            from tokenizers import Tokenizer

            hf = Tokenizer.from_file(str(data_dir(required=True) / "tokenizers/gpt2/tokenizer.json"))

            class HF:
                def encode_ordinary(self, text: str) -> list[int]:
                    return hf.encode(text, add_special_tokens=False).ids

                def encode_ordinary_batch(self, texts, num_threads=1):
                    return [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]

            peers["hf-tokenizers"] = HF()
        except Exception as exc:  # noqa: BLE001
            print(f"  HF tokenizers unavailable: {exc}")
    return peers


def peer_encode(name: str, peer: object, text: str) -> list[int]:
    return list(peer.encode_ordinary(text))  # type: ignore[attr-defined]


def peer_count(name: str, peer: object):
    if name == "quicktok-v1":
        return lambda t: peer.count(t)  # type: ignore[attr-defined]
    return None


def peer_batch(name: str, peer: object, threads: int):
    if name == "quicktok-v1":
        return lambda docs: peer.encode_batch(docs, threads, False)  # type: ignore[attr-defined]
    if name in ("tiktoken", "bpe-openai"):
        return lambda docs: peer.encode_ordinary_batch(docs, num_threads=threads)  # type: ignore[attr-defined]
    if name == "tokendagger":
        return lambda docs: peer.encode_batch(docs, num_threads=threads)  # type: ignore[attr-defined]
    return None


def split_docs(text: str, size: int = 4000) -> list[str]:
    docs, start = [], 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        docs.append(text[start:end])
        start = end
    return docs


def fmt_ratio(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.2f}x"


def run_encoding(enc_name: str, corpus: Path, repeat: int, results: dict, sections: set[str]) -> None:
    print(f"\n=== {enc_name} ===")
    RESETS.clear()
    ours = tokenops.get_encoding(enc_name)
    peers = load_peers(enc_name)
    wanted = {"tiktoken", "quicktok-v1", "bpe-openai", "tokendagger"} | ({"hf-tokenizers"} if enc_name == "gpt2" else set())
    missing = sorted(wanted - set(peers))
    if missing and not ALLOW_MISSING:
        # the README's tables name these peers: a run without them cannot reproduce the tables
        sys.exit(f"peers not installed for {enc_name}: {', '.join(missing)} (pip install 'tokenops[bench]'; "
                 "tokendagger also needs the libpcre2-dev package); --allow-missing-peers runs without them")
    texts = {
        cat: "".join(read(corpus / f) for f in files)[:MAX_CHARS] for cat, files in CATEGORIES.items()
    }
    # Exactness gate.
    valid: dict[str, set[str]] = {p: set() for p in peers}
    for cat, text in texts.items():
        ref = ours.encode_ordinary(text)
        for pname, peer in peers.items():
            try:
                ok = peer_encode(pname, peer, text) == ref
            except Exception as exc:  # noqa: BLE001
                # a refusal (bpe-openai's 200k-token chunk limit), not a different result
                print(f"  {pname} fails on {cat} ({exc}); excluded there")
                continue
            if ok:
                valid[pname].add(cat)
            else:
                print(f"  exactness gate: {pname} differs from tokenops on {cat}; excluded there")
    res = results.setdefault(enc_name, {})
    if "encode" in sections:
        single_thread_encode(ours, peers, valid, texts, repeat, res)
    if "count" in sections:
        count_section(ours, peers, valid, texts, repeat, res)
    if "batch" in sections:
        batch_section(ours, peers, valid, texts, repeat, res)
    if "adversarial" in sections:
        adversarial_section(ours, peers, texts, corpus, repeat, res)


def single_thread_encode(ours, peers, valid, texts, repeat, res) -> None:
    print(f"\nsingle-thread encode_ordinary (MB/s; ratio = tokenops / peer)")
    hdr = f"{'category':<14}{'MB':>6}{'tokenops':>10}" + "".join(f"{p:>22}" for p in peers)
    print(hdr)
    for cat, text in texts.items():
        mb = len(text.encode()) / 1e6
        fns = {"tokenops": lambda: ours.encode_ordinary(text)}
        for pname, peer in peers.items():
            if cat in valid[pname]:
                fns[pname] = (lambda pn, pr: lambda: peer_encode(pn, pr, text))(pname, peer)
        times = best_times(fns, repeat)
        t_ours = times["tokenops"]
        row = f"{cat:<14}{mb:>6.2f}{mb / t_ours:>10.1f}"
        res.setdefault("encode", {})[cat] = {"tokenops": mb / t_ours}
        for pname, peer in peers.items():
            if cat not in valid[pname]:
                row += f"{'excluded':>22}"
                continue
            t = times[pname]
            res["encode"][cat][pname] = mb / t
            row += f"{mb / t:>12.1f} {fmt_ratio(t / t_ours):>9}"
        print(row)


def count_section(ours, peers, valid, texts, repeat, res) -> None:
    print(f"\ncount (MB/s): tokenops count vs tokenops encode and quicktok count")
    for cat, text in texts.items():
        mb = len(text.encode()) / 1e6
        q = peers.get("quicktok-v1")
        fns = {"count": lambda: ours.count_ordinary(text), "encode": lambda: ours.encode_ordinary(text)}
        if q is not None and cat in valid["quicktok-v1"]:
            fns["quicktok"] = lambda: q.count(text)  # type: ignore[attr-defined]
        times = best_times(fns, repeat)
        t_count, t_enc = times["count"], times["encode"]
        row = f"{cat:<14}count {mb / t_count:8.1f}  encode {mb / t_enc:8.1f}  count/encode {t_enc / t_count:5.2f}x"
        res.setdefault("count", {})[cat] = {"tokenops": mb / t_count}
        if "quicktok" in fns:
            t_q = times["quicktok"]
            res["count"][cat]["quicktok-v1"] = mb / t_q
            row += f"  quicktok count {mb / t_q:8.1f} ({t_q / t_count:5.2f}x)"
        print(row)


# Peers whose batch call returns numpy arrays rather than lists of Python ints: they are compared
# with tokenops' encode_batch_to_numpy (same output form), the others with its list form.
NUMPY_BATCH = {"quicktok-v1"}


def _ours_for(pname: str) -> str:
    return "tokenops numpy" if pname in NUMPY_BATCH else "tokenops"


def batch_section(ours, peers, valid, texts, repeat, res) -> None:
    docs = [d for cat in ("prose", "code", "multilingual") for d in split_docs(texts[cat])]
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(f"\nencode_batch over {len(docs)} documents ({mb:.1f} MB), MB/s; quicktok returns numpy "
          "arrays and is compared with encode_batch_to_numpy, the others with lists")
    # All engines and both thread counts interleaved round by round (best_times).
    fns = {("tokenops", 1): lambda: ours.encode_ordinary_batch(docs, num_threads=1),
           ("tokenops", 2): lambda: ours.encode_ordinary_batch(docs, num_threads=2),
           ("tokenops numpy", 1): lambda: ours.encode_batch_to_numpy(docs, num_threads=1, disallowed_special=()),
           ("tokenops numpy", 2): lambda: ours.encode_batch_to_numpy(docs, num_threads=2, disallowed_special=())}
    for pname, peer in peers.items():
        f1, f2 = peer_batch(pname, peer, 1), peer_batch(pname, peer, 2)
        if f1 is None or f2 is None or not {"prose", "code", "multilingual"} <= valid[pname]:
            continue
        fns[(pname, 1)] = (lambda f: lambda: f(docs))(f1)
        fns[(pname, 2)] = (lambda f: lambda: f(docs))(f2)
    times = best_times(fns, repeat)
    res["batch"] = {}
    for name in ("tokenops", "tokenops numpy"):
        t1, t2 = times[(name, 1)], times[(name, 2)]
        print(f"  {name:<14} 1 thread {mb / t1:8.1f}   2 threads {mb / t2:8.1f}   scaling {t1 / t2:4.2f}x")
        res["batch"][name] = {"1": mb / t1, "2": mb / t2}
    for pname in peers:
        if (pname, 1) not in times:
            continue
        p1, p2 = times[(pname, 1)], times[(pname, 2)]
        t1, t2 = times[(_ours_for(pname), 1)], times[(_ours_for(pname), 2)]
        res["batch"][pname] = {"1": mb / p1, "2": mb / p2}
        print(
            f"  {pname:<14} 1 thread {mb / p1:8.1f}   2 threads {mb / p2:8.1f}   "
            f"{_ours_for(pname)}/peer: {p1 / t1:5.2f}x (1t) {p2 / t2:5.2f}x (2t)"
        )
    small_batch_section(ours, peers, valid, texts, repeat, res)


def small_batch_section(ours, peers, valid, texts, repeat, res) -> None:
    # What a service does per request: count or encode a few dozen short messages. Thread start-up
    # and cold per-thread caches dominate here, not throughput.
    prose = texts["prose"]
    msgs = [prose[i:i + 400] for i in range(0, 100 * 400, 400)]
    rounds = max(5, 2 * repeat)  # a cold round rebuilds quicktok (~0.7 s for o200k): keep it short
    print(f"\nsmall batch: {len(msgs)} messages of 400 characters, us per call (best of {rounds})")
    fns = {("tokenops", t): (lambda t: lambda: ours.encode_ordinary_batch(msgs, num_threads=t))(t)
           for t in (1, 2)}
    fns.update({("tokenops numpy", t): (lambda t: lambda: ours.encode_batch_to_numpy(msgs, num_threads=t, disallowed_special=()))(t)
                for t in (1, 2)})
    fns[("tokenops count", 2)] = lambda: ours.count_batch(msgs, num_threads=2)
    fns[("tokenops count", 1)] = lambda: ours.count_batch(msgs, num_threads=1)
    for pname, peer in peers.items():
        if "prose" not in valid[pname]:
            continue
        for t in (1, 2):
            f = peer_batch(pname, peer, t)
            if f is not None:
                fns[(pname, t)] = (lambda f: lambda: f(msgs))(f)
    times = best_times(fns, rounds)
    res["small_batch_us"] = {f"{k[0]} {k[1]}t": v * 1e6 for k, v in times.items()}
    for name in dict.fromkeys(k[0] for k in times):
        a, b = times[(name, 1)], times[(name, 2)]
        row = f"  {name:<15} 1 thread {a * 1e6:8.1f}   2 threads {b * 1e6:8.1f}   2t/1t speed {a / b:4.2f}x"
        if not name.startswith("tokenops"):
            o = _ours_for(name)
            row += f"   {o}/peer: {a / times[(o, 1)]:5.2f}x (1t) {b / times[(o, 2)]:5.2f}x (2t)"
        print(row)


def adversarial_section(ours, peers, texts, corpus, repeat, res) -> None:
    # Each file is timed interleaved with the prose text it is compared with (best_times), so a
    # burst of load from a neighbour cannot make a file look slow relative to a prose run
    # measured minutes earlier.
    prose = texts["prose"]
    pb = len(prose.encode())
    tk = peers.get("tiktoken")
    print(f"\nadversarial inputs: per-byte time relative to prose, each file timed interleaved with "
          f"prose ({max(1, repeat // 2)} rounds)")
    res["adversarial"] = {}
    for f in sorted((corpus / "adversarial").iterdir()):
        text = read(f)
        n = len(text.encode())
        fns = {"prose": lambda: ours.encode_ordinary(prose), "file": lambda: ours.encode_ordinary(text)}
        if tk is not None:
            fns["tk prose"] = lambda: tk.encode_ordinary(prose)  # type: ignore[attr-defined]
            fns["tk file"] = lambda: tk.encode_ordinary(text)  # type: ignore[attr-defined]
        t = best_times(fns, max(1, repeat // 2))
        prose_ns, ns = t["prose"] / pb * 1e9, t["file"] / n * 1e9
        row = f"  {f.name:<34} tokenops {ns:7.1f} ns/B = {ns / prose_ns:5.2f}x prose ({prose_ns:.1f})"
        res["adversarial"][f.name] = ns / prose_ns
        if tk is not None:
            tp, tns = t["tk prose"] / pb * 1e9, t["tk file"] / n * 1e9
            row += f"   | tiktoken {tns:8.1f} ns/B = {tns / tp:6.2f}x its prose"
        print(row)


MEM_SNIPPET = r"""
import os, sys, time, resource
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
which = sys.argv[1]
if which == 'tokenops':
    import tokenops
    from tokenops.tokenizer.load import read_rank_file
    from tokenops.tokenizer.registry import ENCODINGS
    data, _ = read_rank_file(ENCODINGS['o200k_base'])
    base = rss(); t0 = time.perf_counter()
    e = tokenops.get_encoding('o200k_base')
elif which == 'tiktoken':
    import tiktoken
    from tokenops.tokenizer import reference
    reference.prime_tiktoken_cache()
    base = rss(); t0 = time.perf_counter()
    e = tiktoken.get_encoding('o200k_base')
elif which == 'quicktok-v1':
    import quicktok
    base = rss(); t0 = time.perf_counter()
    e = quicktok.get_encoding('o200k_base')
e.encode_ordinary('warm up')
dt = time.perf_counter() - t0
print(f"{dt:.4f} {(rss() - base) / 1e6:.1f}")
"""


def load_and_memory() -> dict:
    print("\no200k_base load time and resident memory (fresh process each; includes reading the file)")
    out = {}
    for which in ("tokenops", "tiktoken", "quicktok-v1"):
        try:
            r = subprocess.run([sys.executable, "-c", MEM_SNIPPET, which], capture_output=True,
                               text=True, check=True, env=os.environ)
            dt, mb = r.stdout.split()
            out[which] = {"load_s": float(dt), "rss_mb": float(mb)}
            print(f"  {which:<12} load {float(dt) * 1e3:7.1f} ms   memory +{float(mb):6.1f} MB")
        except Exception as exc:  # noqa: BLE001
            print(f"  {which}: unavailable ({exc})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encodings", default="cl100k_base,o200k_base")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--warm", action="store_true",
                    help="keep every engine's caches across repeats (default: each run starts cold)")
    ap.add_argument("--sections", default="encode,count,batch,adversarial,load",
                    help="comma-separated subset of encode,count,batch,adversarial,load")
    ap.add_argument("--allow-missing-peers", action="store_true",
                    help="run even if a peer the README compares with is not installed (left out of the tables)")
    args = ap.parse_args()
    global WARM, ALLOW_MISSING
    WARM = args.warm
    ALLOW_MISSING = args.allow_missing_peers
    print("caches: " + ("warm (kept across repeats of the same text)" if WARM
                        else "cold (tokenops memo cleared, fresh quicktok instance, before every run)"))
    corpus = data_dir(required=True) / "corpus"
    results: dict = {}
    sections = set(args.sections.split(","))
    for name in args.encodings.split(","):
        run_encoding(name, corpus, args.repeat, results, sections)
    if "load" in sections:
        results["load_memory"] = load_and_memory()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
