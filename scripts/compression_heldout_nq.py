"""The answer-type prior on 20-passage NQ prompts the prior was NOT tuned on: a fresh draw of
nq-open-oracle questions (--seed, default 1), less any question of the evaluation's own draw
(seed 0, 60 questions), each at gold positions 1, 5, 10, 15, 20. Prints answer-span survival at 3x
and 5x for tokenops with answer_type_weight 0 and the default, next to the two baselines.

    python scripts/compression_heldout_nq.py [--seed 1] [--questions 260]     # ~20 s

Needs $TOKENOPS_DATA_DIR/compression (see docs/compression.md).
"""

from __future__ import annotations

import argparse

from tokenops.compress import Compressor
from tokenops.compress import evaluate as ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1, help="the draw's seed (0 is the tuned draw)")
    ap.add_argument("--questions", type=int, default=260, help="questions drawn before the tuned ones are removed")
    a = ap.parse_args()
    if a.seed == 0:
        ap.error("--seed 0 is the draw the prior was tuned on")
    tuned = {it.question for it in ev.load_nq_positions(n_questions=60)}
    items = [it for it in ev.load_nq_positions(n_questions=a.questions, seed=a.seed) if it.question not in tuned]
    comp = Compressor("gpt-4o")
    methods = {
        f"tokenops, answer_type_weight={w}": (
            lambda it, b, w=w: comp.compress(it.context, it.question, target_tokens=b, answer_type_weight=w).text)
        for w in (0.0, 0.15)
    }
    methods.update((k, f) for k, f in ev.default_methods(comp).items() if k in ("truncation", "overlap selector"))
    df = ev.run_survival(items, methods, ratios=(3, 5), dataset=f"NQ 20 passages, held-out draw (seed {a.seed})")
    print(f"{len({it.question for it in items})} questions x 5 gold positions = {len(items)} prompts, "
          f"none from the tuned draw")
    print(df.groupby(["setting", "method"])["survived"].mean().unstack().round(4).to_string())


if __name__ == "__main__":
    main()
