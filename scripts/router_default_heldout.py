"""How well the shipped default router generalises to prompts it never saw.

``Router.default()`` is trained on every shipped GPT-4-1106 vs Mixtral-8x7B row (RouteLLM MMLU,
GSM8K, MT-Bench and the RouterBench subset), so scoring those benchmarks with it says nothing
about new prompts. This script trains the same recipe (``build_default.fit_default``) once per
RouteLLM benchmark with that benchmark left out, scores the benchmark, and prints RouteLLM's
metrics (APGR, CPT) next to the random router and RouteLLM's best published router, which was
also trained out-of-domain.

    python scripts/router_default_heldout.py              # 10-40 seconds on 2 cores
    python scripts/router_default_heldout.py --variants   # + other recipes held out the same way

``--variants`` also embeds the 14k MMLU prompts with MiniLM once (4-7 minutes on 2 cores; cached
under tokenops' cache folder afterwards). Needs $TOKENOPS_DATA_DIR/routing.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace

import numpy as np

from tokenops.router.build_default import DEFAULT_FEATURES, heldout_rows, heldout_scores
from tokenops.router.data import load_routellm
from tokenops.router.evaluation import routellm_report
from tokenops.router.train import fit_router

BENCHMARKS = ("mt-bench", "gsm8k", "mmlu")


def variants() -> None:
    from tokenops.router.embedding import embed_cached, embedding_feature_config, pair_rows_embeddings

    # per benchmark, once: (bench, training prompts, quality, counts, sources) and the training
    # rows' embeddings, row for row
    held = {b: heldout_rows(b) for b in BENCHMARKS}
    emb = {b: embed_cached(held[b][0].prompts, progress=True) for b in BENCHMARKS}
    train_emb = {b: pair_rows_embeddings(held[b][4], progress=True) for b in BENCHMARKS}
    need = dict(binary_score="need")
    recipes = {  # name: (family, features, uses embeddings, hyper-parameters)
        "default recipe": ("logistic", DEFAULT_FEATURES, False, dict(need, C=1.0)),
        "dense signals only": ("logistic", replace(DEFAULT_FEATURES, hash_bits=0), False, dict(need, C=1.0)),
        "C 0.1": ("logistic", DEFAULT_FEATURES, False, dict(need, C=0.1)),
        "dense weight 1": ("logistic", replace(DEFAULT_FEATURES, dense_weight=1.0), False, dict(need, C=1.0)),
        "word unigrams": ("logistic", replace(DEFAULT_FEATURES, word_ngrams=(1, 1)), False, dict(need, C=1.0)),
        "char 3-5-grams + dense": ("logistic", replace(DEFAULT_FEATURES, word_ngrams=(0, 0), char_ngrams=(3, 5)),
                                   False, dict(need, C=1.0)),
        "MiniLM, logistic": ("logistic", embedding_feature_config(384), True, dict(need, C=1.0)),
        "MiniLM + dense, logistic": ("logistic", embedding_feature_config(384, dense=True), True, dict(need, C=1.0)),
        "MiniLM, kNN k 100": ("knn", embedding_feature_config(384), True, dict(k=100)),
        "MiniLM + dense, MLP": ("mlp", embedding_feature_config(384, dense=True), True,
                                dict(hidden=(32,), alpha=1e-2, max_iter=60)),
    }
    print("held-out APGR (trapezoid) of other recipes: " + " / ".join(BENCHMARKS) + " (mean)")
    for name, (family, features, with_emb, hp) in recipes.items():
        out = []
        for b in BENCHMARKS:
            bench, P, Q, _, _ = held[b]
            router = fit_router(family, P, Q, ["s", "w"], strong="s", weak="w", features=features,
                                embeddings=train_emb[b] if with_emb else None, **hp).load()
            s = router.score(bench.prompts, embeddings=emb[b] if with_emb else None)
            out.append(routellm_report(bench, {name: s}).rows[0].apgr)
        print(f"  {name:26s} " + " / ".join(f"{x:.3f}" for x in out) + f" ({np.mean(out):.3f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", action="store_true", help="also hold out other recipes (embeds MMLU once)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*converge.*")
    for name in BENCHMARKS:
        bench = load_routellm(name)
        scores, counts = heldout_scores(name)
        rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        rep = routellm_report(bench, {"default recipe, benchmark held out": scores})
        print(f"== {name} ({len(bench):,} prompts); trained on {rows}")
        cols = ["method", "APGR (trapezoid, code)", "CPT(50%)", "CPT(80%)"]
        print(rep.table()[cols].round(3).to_string(index=False))
        print()
    if a.variants:
        variants()


if __name__ == "__main__":
    main()
