"""How well the shipped default router generalises to prompts it never saw.

``Router.default()`` is trained on every shipped GPT-4-1106 vs Mixtral-8x7B row (RouteLLM MMLU,
GSM8K, MT-Bench and the RouterBench subset), so scoring those benchmarks with it says nothing
about new prompts. This script trains the same recipe (``build_default.fit_default``) once per
RouteLLM benchmark with that benchmark left out, scores the benchmark, and prints RouteLLM's
metrics (APGR, CPT) next to the random router and RouteLLM's best published router, which was
also trained out-of-domain.

    python scripts/router_default_heldout.py        # about 40 seconds on 2 cores

Needs $TOKENOPS_DATA_DIR/routing.
"""

from __future__ import annotations

import warnings

from tokenops.router.build_default import heldout_scores
from tokenops.router.data import load_routellm
from tokenops.router.evaluation import routellm_report


def main() -> None:
    warnings.filterwarnings("ignore", message=".*converge.*")
    for name in ("mt-bench", "gsm8k", "mmlu"):
        bench = load_routellm(name)
        scores, counts = heldout_scores(name)
        rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        rep = routellm_report(bench, {"default recipe, benchmark held out": scores})
        print(f"== {name} ({len(bench):,} prompts); trained on {rows}")
        cols = ["method", "APGR (trapezoid, code)", "CPT(50%)", "CPT(80%)"]
        print(rep.table()[cols].round(3).to_string(index=False))
        print()


if __name__ == "__main__":
    main()
