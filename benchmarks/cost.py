"""Pricing and simulation throughput, side by side with LiteLLM in one run.

    python benchmarks/cost.py                 # 1M rows for both tokenops and the LiteLLM loop
    python benchmarks/cost.py --litellm-rows 100000   # time LiteLLM on the first 100k rows only

1. Pricing 1M usage rows (4 models, cached prompts, reasoning): tokenops.cost_batch (C++, mode
   "litellm" and "exact") vs a Python loop over litellm.cost_per_token on the same rows. The
   LiteLLM loop's results are compared with tokenops' litellm mode (must be bit-identical).
2. Simulator: the support workflow with full history and caching, simulated calls per second on
   one thread (and on all threads).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def make_rows(n: int, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    models = np.array(["gpt-4o", "gpt-5", "claude-sonnet-4-5", "gemini/gemini-2.5-pro"])[rng.integers(0, 4, n)]
    prompt = rng.integers(100, 300_000, n)
    cached = (prompt * rng.uniform(0, 0.9, n)).astype(np.int64)
    cols = {
        "input_text": prompt - cached,
        "cache_read": cached,
        "output_text": rng.integers(10, 4000, n),
        "reasoning": np.where(rng.uniform(size=n) < 0.3, rng.integers(0, 3000, n), 0),
    }
    return models, cols


def bench_pricing(n: int, litellm_rows: int) -> None:
    import litellm
    import pandas as pd
    import tokenops
    from tokenops.pricing import Catalog

    cat = Catalog.from_installed_litellm()
    models, cols = make_rows(n)
    tokenops.cost_batch(models[:1000], {k: v[:1000] for k, v in cols.items()}, mode="litellm", catalog=cat)
    cat_models = pd.Categorical(models)  # model names as a categorical column: no per-call factorize
    t0 = time.perf_counter()
    tokenops.cost_batch(cat_models, cols, mode="litellm", catalog=cat, num_threads=1)
    t_cat = time.perf_counter() - t0
    t0 = time.perf_counter()
    lit_tok = tokenops.cost_batch(models, cols, mode="litellm", catalog=cat)
    t_lit = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokenops.cost_batch(models, cols, mode="exact", catalog=cat, num_threads=1)
    t_exact1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokenops.cost_batch(models, cols, mode="litellm", catalog=cat, num_threads=1)
    t_lit1 = time.perf_counter() - t0

    m = min(n, litellm_rows)
    inp, cr, out, rs = (cols[k][:m].tolist() for k in ("input_text", "cache_read", "output_text", "reasoning"))
    names = models[:m].tolist()
    from litellm.types.utils import Usage

    res = np.empty(m)
    # LiteLLM prices a Usage object; building one per row is timed apart, so the ratio below
    # compares pricing with pricing (the objects ready, as in an app that has them already).
    t0 = time.perf_counter()
    usages = [Usage(prompt_tokens=inp[i] + cr[i], completion_tokens=out[i] + rs[i],
                    total_tokens=inp[i] + cr[i] + out[i] + rs[i],
                    prompt_tokens_details={"cached_tokens": cr[i]} if cr[i] else None,
                    completion_tokens_details={"reasoning_tokens": rs[i]} if rs[i] else None)
              for i in range(m)]
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(m):
        p, c = litellm.cost_per_token(model=names[i], usage_object=usages[i])
        res[i] = p + c
    t_peer = time.perf_counter() - t0
    identical = bool(np.array_equal(res, lit_tok[:m]))
    peer_per_row = t_peer / m
    from importlib.metadata import version

    print(f"== pricing {n:,} usage rows (4 models; litellm {version('litellm')})")
    print(f"  litellm.cost_per_token loop : {peer_per_row * 1e6:8.2f} us/row  ({m:,} rows in {t_peer:.1f} s; "
          f"building the Usage objects first took another {t_build / m * 1e6:.2f} us/row, not counted)")
    print(f"  tokenops mode=litellm (all threads) : {t_lit / n * 1e9:8.1f} ns/row  ({t_lit * 1e3:.0f} ms)")
    print(f"  tokenops mode=litellm (1 thread)    : {t_lit1 / n * 1e9:8.1f} ns/row  ({t_lit1 * 1e3:.0f} ms)")
    print(f"  tokenops mode=exact   (1 thread)    : {t_exact1 / n * 1e9:8.1f} ns/row  ({t_exact1 * 1e3:.0f} ms)")
    print(f"  tokenops mode=litellm (1 thread, categorical models): {t_cat / n * 1e9:8.1f} ns/row")
    print(f"  results bit-identical to LiteLLM on the {m:,} compared rows: {identical}")
    print(f"  speed-up vs LiteLLM: {peer_per_row / (t_lit / n):,.0f}x (all threads), "
          f"{peer_per_row / (t_lit1 / n):,.0f}x (1 thread, litellm mode), "
          f"{peer_per_row / (t_exact1 / n):,.0f}x (1 thread, exact mode), "
          f"{peer_per_row / (t_cat / n):,.0f}x (1 thread, categorical models)")


def bench_simulator(tasks: int) -> None:
    import tokenops

    wf = tokenops.examples.support_workflow().with_context("full_history")
    tokenops.simulate(wf, model="claude-sonnet-4-5", n=1000, seed=0, num_threads=1)  # warm up
    print(f"== simulator: support workflow, full history, Anthropic caching, {tasks:,} tasks")
    for threads in (1, 0):
        t0 = time.perf_counter()
        r = tokenops.simulate(wf, model="claude-sonnet-4-5", n=tasks, seed=0, num_threads=threads)
        dt = time.perf_counter() - t0
        label = "1 thread " if threads == 1 else "all threads"
        print(f"  {label}: {r.total_calls:,} calls in {dt:.2f} s = {r.total_calls / dt / 1e6:.2f} M simulated calls/s "
              f"(target >= 1 M/s on one core: {r.total_calls / dt / 1e6:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--litellm-rows", type=int, default=1_000_000)
    ap.add_argument("--tasks", type=int, default=200_000)
    a = ap.parse_args()
    bench_pricing(a.rows, a.litellm_rows)
    bench_simulator(a.tasks)


if __name__ == "__main__":
    main()
