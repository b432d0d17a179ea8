"""``python -m tokenops.router.evaluate``: RouteLLM-protocol metrics of router scores.

Give one or more score CSVs (``prompt``, ``score``; e.g. from ``tokenops.router.crossfit``) and
the benchmark; prints APGR (the code's trapezoid and the paper's 10-point mean), CPT(20/50/80%)
for each, the random router (mean of 10 seeds), always-weak/strong and optimal references, and
RouteLLM's published rows. ``--plot`` saves the quality-vs-strong-calls figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenops.router.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", required=True, choices=["mmlu", "gsm8k", "mt-bench"])
    ap.add_argument("--scores", nargs="+", required=True, metavar="CSV",
                    help="score files; the method name is the file stem (or NAME=path)")
    ap.add_argument("--plot", default=None, help="save the curve plot here (PNG)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)

    import numpy as np
    import pandas as pd

    from .data import load_routellm
    from .evaluation import routellm_report

    bench = load_routellm(args.benchmark, args.data_dir)
    scores = {}
    for spec in args.scores:
        name, _, path = spec.rpartition("=")
        name = name or Path(path).stem
        df = pd.read_csv(path)
        if not {"prompt", "score"} <= set(df.columns):
            raise SystemExit(f"{path}: needs columns 'prompt' and 'score'")
        lookup = dict(zip(df["prompt"].astype(str), df["score"].astype(float)))
        missing = [p for p in bench.prompts if p not in lookup]
        if missing:
            raise SystemExit(f"{path}: {len(missing)} of {len(bench)} {args.benchmark} prompts have no score")
        s = np.array([lookup[p] for p in bench.prompts])
        if not np.all(np.isfinite(s)):
            raise SystemExit(f"{path}: scores hold NaN/inf")
        scores[name] = s
    rep = routellm_report(bench, scores)
    print(f"{args.benchmark}: {len(bench)} prompts after decontamination ({bench.n_dropped} dropped); "
          f"weak {rep.weak_quality:.3f}, strong {rep.strong_quality:.3f}. Routers trained in-domain "
          "(cross-fitted); RouteLLM's published rows are out-of-domain routers.")
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(rep.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name in scores:
        cs = rep.cost_saving_at(name)
        print(f"{name}: reaches 95% of strong quality with {cs['strong_share'] * 100:.1f}% strong calls")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = rep.plot()
        ax.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"saved {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
