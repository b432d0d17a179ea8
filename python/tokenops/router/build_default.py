"""``python -m tokenops.router.build_default``: retrains the shipped default router.

Binary logistic router: score = P(the strong model is needed) = P(GPT-4 correct) * (1 - P(weak
correct)), from two logistic heads, over hashed word 1-2-grams (2^16 buckets) + the dense
length/structure signals (token count estimated in the same pass, no tokenizer), on ALL shipped outcome data: RouteLLM MMLU (14,037), GSM8K (1,307) and MT-Bench (72, judge scores
rescaled to [0, 1]) for gpt-4-1106-preview vs Mixtral-8x7B-Instruct, plus the RouterBench subset
(ARC-Challenge, MBPP, Winogrande; train and test) for gpt-4-1106-preview vs mixtral-8x7b-chat.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .core import FeatureConfig

DEFAULT_FEATURES = FeatureConfig(hash_bits=16, word_ngrams=(1, 2), dense=True, dense_weight=0.3,
                                 encoding=None)
DESCRIPTION = ("tokenops default router v3: logistic P(strong needed) = P(GPT-4 correct) * "
               "(1 - P(weak correct)) over hashed word 1-2-grams (unit L2 norm) + length/structure signals; trained on "
               "RouteLLM MMLU+GSM8K+MT-Bench (GPT-4-1106 vs Mixtral-8x7B) and the RouterBench subset "
               "ARC/MBPP/Winogrande (GPT-4-1106 vs Mixtral-8x7B chat), all rows.")


def training_rows(data_dir: str | None = None) -> tuple[list[str], np.ndarray, dict[str, int]]:
    from .data import pair_rows

    return pair_rows(data_dir=data_dir)


def _check_card_path(out: Path) -> Path:
    """The card's path, ``<out>.json``; ValueError when writing it would replace something that
    is not a router card (``--out notes`` would overwrite ``notes.json``)."""
    if out.suffix == ".json":  # the card goes to <out>.json: it would overwrite the router
        raise ValueError(f"--out {out}: the router file must not end in .json (its card is written there)")
    card = out.with_suffix(".json")
    if card.is_dir():
        raise ValueError(f"--out {out}: its card path {card} is a folder")
    if card.exists():
        try:
            old = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            old = None
        if not (isinstance(old, dict) and {"file", "sha256", "description"} <= set(old)):
            raise ValueError(f"--out {out}: refusing to overwrite {card}, which is not a router "
                             "card (the card is written next to the router file, as <out>.json)")
    return card


def fit_default(prompts: list[str], quality01: np.ndarray, C: float = 1.0, description: str = DESCRIPTION):
    """The default router's recipe (family, features, score, C) fitted on the given rows:
    ``quality01`` is (n, 2), GPT-4's and Mixtral's quality in [0, 1]. Returns the trained router
    (``.load()`` gives a :class:`tokenops.Router`)."""
    from .train import fit_router

    return fit_router("logistic", list(prompts), quality01, ["gpt-4-1106-preview", "weak (Mixtral-8x7B)"],
                      strong="gpt-4-1106-preview", weak="weak (Mixtral-8x7B)",
                      features=DEFAULT_FEATURES, description=description, binary_score="need", C=C)


def heldout_rows(benchmark: str, data_dir: str | None = None):
    """The benchmark ('mmlu', 'gsm8k' or 'mt-bench') and the training rows of every other shipped
    source: ``(bench, prompts, quality01, counts, sources)``, rows in ``sources`` order. Refuses
    training rows that are evaluation prompts of the benchmark."""
    from .data import PAIR_SOURCES, ROUTELLM_BENCHMARKS, load_routellm, pair_rows
    from .evaluation import _refuse_evaluation_prompts

    if benchmark not in ROUTELLM_BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose from {list(ROUTELLM_BENCHMARKS)}")
    bench = load_routellm(benchmark, data_dir)
    sources = tuple(s for s in PAIR_SOURCES if s != benchmark)
    prompts, q, counts = pair_rows(sources, data_dir=data_dir)
    _refuse_evaluation_prompts(bench, prompts, "training prompt(s)", "that is not held out")
    return bench, prompts, q, counts, sources


def heldout_scores(benchmark: str, data_dir: str | None = None, C: float = 1.0
                   ) -> tuple[np.ndarray, dict[str, int]]:
    """How the default router generalises: its recipe trained on every shipped source except
    ``benchmark`` ('mmlu', 'gsm8k' or 'mt-bench'), then scored on that benchmark's prompts, which
    it never saw. Returns the scores (one per prompt of ``load_routellm(benchmark)``) and the
    training rows per source. Refuses a training set that holds an evaluation prompt."""
    bench, prompts, q, counts, _ = heldout_rows(benchmark, data_dir)
    router = fit_default(prompts, q, C=C, description=f"default recipe, {benchmark} held out").load()
    return router.score(bench.prompts), counts


def build(out: str | Path, data_dir: str | None = None, C: float = 1.0) -> dict:
    """Trains the default router and writes it to ``out`` and its card to ``<out>.json``, each
    atomically (the installed copy is ``tokenops.router.core.DEFAULT_ROUTER_PATH``)."""
    from .._paths import write_atomic

    out = Path(out)
    card_path = _check_card_path(out)  # before the training, not after
    prompts, q, counts = training_rows(data_dir)
    tr = fit_default(prompts, q, C=C)
    out.parent.mkdir(parents=True, exist_ok=True)
    tr.save(out)
    card = {"file": out.name, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
            "description": DESCRIPTION, "training_rows": counts, "total_rows": len(prompts),
            "family": "logistic", "C": C, "hash_bits": DEFAULT_FEATURES.hash_bits}
    write_atomic(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    return card


def main(argv: list[str] | None = None) -> int:
    from .crossfit import check_data_dir, check_out_path, report_error

    ap = argparse.ArgumentParser(prog="python -m tokenops.router.build_default", description=__doc__)
    # no default: the installed package's copy (core.DEFAULT_ROUTER_PATH) is shared by everyone
    # using that environment; a source checkout's is python/tokenops/router/data/
    ap.add_argument("--out", type=Path, required=True,
                    help="router file to write; its card goes to <out>.json (e.g. "
                         "python/tokenops/router/data/default_router.safetensors of a checkout)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    # before the training, not after; the routing data it reads is never an output
    check_data_dir(ap, args.data_dir)
    check_out_path(ap, args.out, "a router file path", data_dir=args.data_dir)
    try:
        card = build(args.out, args.data_dir)
    except (OSError, ValueError, KeyError) as e:
        return report_error(ap, e)
    print(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
