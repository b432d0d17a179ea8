"""How tokenops behaves in a long-running service or notebook, next to tiktoken where it has the
same thing. Each case runs in a fresh Python process.

    TOKENOPS_DATA_DIR=../shared/data python benchmarks/responsiveness.py

1. Ctrl-C: SIGALRM raising KeyboardInterrupt 1.0 s into a long batch; seconds until the call
   raises it (a call that checks only when it returns raises it when the whole batch is done).
2. First calls from 8 threads at once vs from 1: wall time and the process's peak RSS (the
   shared default models and catalogue are built once either way).
3. ``tokenops.cost`` per call for a model with an OpenAI tokenizer and one without.
"""

from __future__ import annotations

import subprocess
import sys

PRELUDE = """
import os, resource, signal, threading, time
import tokenops
from tokenops._paths import data_dir
big = (data_dir() / "corpus" / "en_war_and_peace.txt").read_text(encoding="utf-8")
"""

INTERRUPT = """
signal.signal(signal.SIGALRM, signal.default_int_handler)
fn = {fn}
t0 = time.perf_counter()
signal.setitimer(signal.ITIMER_REAL, 1.0)
try:
    fn()
    print("finished", time.perf_counter() - t0)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - t0)
"""

INTERRUPT_CASES = {
    "tokenops count_batch (150 x War and Peace, 2 threads)":
        "lambda: tokenops.get_encoding('cl100k_base').count_batch([big] * 150, num_threads=2)",
    "tokenops encode_batch (100 x, 2 threads)":
        "lambda: tokenops.get_encoding('cl100k_base').encode_batch([big] * 100, num_threads=2)",
    "tiktoken encode_batch (100 x, 2 threads)":
        "(lambda te: lambda: te.encode_batch([big] * 100, num_threads=2))("
        "(__import__('tokenops.tokenizer.reference', fromlist=['x']).prime_tiktoken_cache(), "
        "__import__('tiktoken').get_encoding('cl100k_base'))[1])",
    "tokenops compress_batch (60 x 300k chars, 2 threads)":
        "lambda: tokenops.compress_batch([big[:300_000]] * 60, rate=0.5, num_threads=2)",
    "tokenops compress (13 MB, one text)":
        "(lambda t: lambda: tokenops.compress(t, rate=0.3))(big * 4)",
    "tokenops pack (30,000 passages)":
        "(lambda ps: lambda: tokenops.pack(ps, 'Who is Pierre and Natasha?', budget=1_000_000))("
        "[big[i * 500:(i + 1) * 500] for i in range(6000)] * 5)",
    "tokenops simulate (support workflow, 3M tasks)":
        "(lambda w: lambda: tokenops.simulate(w, n=3_000_000))(tokenops.examples.support_workflow())",
    "tokenops cost_batch (40M rows, exact, 2 threads)":
        "(lambda np: (lambda u: lambda: tokenops.cost_batch('gpt-4o', u, num_threads=2))("
        "{'input_text': np.full(40_000_000, 1000), 'output_text': np.full(40_000_000, 200)}))("
        "__import__('numpy'))",
    "tokenops Router.default().score (4M prompts, 2 threads)":
        "(lambda r, ps: lambda: r.score(ps, num_threads=2))(tokenops.Router.default(), "
        "[big[i:i + 300] for i in range(0, 300 * 10_000, 300)] * 400)",
    "tokenops Embedder.embed (3,000 texts of ~200 tokens)":
        "(lambda e: lambda: e.embed([('The whale swam across the ocean number %d. ' % i) * 20 "
        "for i in range(3000)]))(tokenops.Embedder.load())",
}

HERD = """
n = {n}
text = "The whale swam across the ocean. " * 50
def first_calls():
    tokenops.compress(text, rate=0.5)
    tokenops.cost("gpt-4o", {{"prompt_tokens": 10, "completion_tokens": 5}})
t0 = time.perf_counter()
ts = [threading.Thread(target=first_calls) for _ in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

COST = """
cat = tokenops.Catalog.default()
for m in ("gpt-4o", "claude-3-7-sonnet-20250219"):
    u = {"prompt_tokens": 5, "completion_tokens": 7}
    tokenops.cost(m, u, catalog=cat)
    t0 = time.perf_counter()
    for _ in range(2000):
        tokenops.cost(m, u, catalog=cat)
    print(m, (time.perf_counter() - t0) / 2000 * 1e6)
"""


def run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        return "failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return r.stdout.strip()


def main() -> None:
    print("Ctrl-C (SIGALRM raising KeyboardInterrupt at 1.0 s):")
    for name, fn in INTERRUPT_CASES.items():
        out = run(INTERRUPT.format(fn=fn))
        what, _, secs = out.partition(" ")
        print(f"  {name:<58} {what} after {float(secs):.1f} s" if secs else f"  {name:<58} {out}")
    print("first calls (compress + cost) from N threads at once: seconds, peak RSS MiB")
    for n in (1, 8):
        secs, rss = run(HERD.format(n=n)).split()
        print(f"  {n} thread(s): {float(secs):.2f} s, {float(rss):.0f} MiB")
    print("tokenops.cost per call:")
    for line in run(COST).splitlines():
        m, us = line.rsplit(" ", 1)
        print(f"  {m:<30} {float(us):.0f} us")


if __name__ == "__main__":
    main()
