"""Cross-fitted APGR of the logistic router with the token-count signal counted exactly
(o200k_base) and estimated in the feature pass (the default): ``python scripts/router_exact_count.py``
(~1 minute on two cores). The README quotes its output."""

from __future__ import annotations

from dataclasses import replace

from tokenops.router.data import load_routellm
from tokenops.router.evaluation import crossfit_scores, routellm_report
from tokenops.router.train import FAMILY_FEATURES


def main() -> None:
    base = FAMILY_FEATURES["logistic"]
    for name in ("mt-bench", "gsm8k", "mmlu"):
        bench = load_routellm(name)
        scores = {label: crossfit_scores(bench, "logistic", 5, 0, features=replace(base, encoding=enc))
                  for label, enc in (("exact (o200k_base)", "o200k_base"), ("estimated", None))}
        rows = {r.method: r.apgr for r in routellm_report(bench, scores).rows}
        print(f"{name}: " + ", ".join(f"{k} {rows[k]:.3f}" for k in scores), flush=True)


if __name__ == "__main__":
    main()
