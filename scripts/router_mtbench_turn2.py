"""MT-Bench in-domain cross-fit with each training fold's turn-2 texts added as training rows
(an idea for issue 5's MT-Bench target, not adopted): the router still scores turn 1 only.

    TOKENOPS_DATA_DIR=../shared/data python scripts/router_mtbench_turn2.py   (~10 s; embeds with
    the native MiniLM, cached)

Training rows per fold, MiniLM embedding features: "base" the turn-1 texts with the mean label of
both turns (the protocol's rows); "t2same" plus the turn-2 texts with the same label; "t2own" turn
1 and turn 2 each with its own turn's label; "t1own" turn 1 with its own turn's label; "concat"
plus turn 1 + turn 2 joined. APGR (code's trapezoid) on the 72 questions, 5 folds, seed 0.
"""

from __future__ import annotations

import json

import numpy as np

from tokenops._paths import data_dir
from tokenops.router import data, embedding as E, evaluation as ev
from tokenops.router.train import fit_router


def main() -> None:
    b = data.load_routellm("mt-bench")
    root = data_dir() / "routing" / "routellm" / "routellm" / "evals" / "mt_bench"
    turns = {q["question_id"]: q["turns"] for q in map(json.loads, (root / "question.jsonl").open())}
    score: dict[tuple[int, int, str], float] = {}
    for j in map(json.loads, (root / "judgements.jsonl").open()):
        score[(j["question_id"], j["turn"], j["model"])] = float(j["score"])
    t2 = [turns[i][1] for i in b.ids]

    def own(turn: int) -> np.ndarray:
        return np.array([[(score[(i, turn, data.STRONG)] - 1) / 9, (score[(i, turn, data.WEAK)] - 1) / 9]
                         for i in b.ids])

    q1, q2, Q = own(1), own(2), b.quality01
    emb1, emb2 = E.embed_cached(b.prompts), E.embed_cached(t2)
    embc = E.embed_cached([a + "\n" + c for a, c in zip(b.prompts, t2)])
    fc = E.embedding_feature_config()
    fid = ev.fold_ids(b.prompts, 5, 0)

    def run(family: str, mode: str, **hp: object) -> float:
        params = {**ev.DEFAULT_HP.get(family, {}), **hp}
        sc = np.full(len(b), np.nan)
        for f in range(5):
            tr, te = np.flatnonzero(fid != f), np.flatnonzero(fid == f)
            ps, qq, em = [b.prompts[i] for i in tr], Q[tr], emb1[tr]
            if mode == "t2same":
                ps, qq, em = ps + [t2[i] for i in tr], np.vstack([qq, Q[tr]]), np.vstack([em, emb2[tr]])
            elif mode == "t2own":
                ps, qq, em = ps + [t2[i] for i in tr], np.vstack([q1[tr], q2[tr]]), np.vstack([em, emb2[tr]])
            elif mode == "t1own":
                qq = q1[tr]
            elif mode == "concat":
                ps = ps + [b.prompts[i] + "\n" + t2[i] for i in tr]
                qq, em = np.vstack([qq, Q[tr]]), np.vstack([em, embc[tr]])
            r = fit_router(family, ps, qq, ["strong", "weak"], strong="strong", weak="weak", features=fc,
                           embeddings=em, seed=0, **params).load()
            sc[te] = r.score([b.prompts[i] for i in te], embeddings=emb1[te])
        return ev.routellm_report(b, {"x": sc}).rows[0].apgr

    modes = ["base", "t2same", "t2own", "t1own", "concat"]
    print(f"{'family':<16}" + "".join(f"{m:>9}" for m in modes))
    for fam, hp in [("knn", {}), ("knn", {"k": 30}), ("logistic", {}), ("irt", {})]:
        label = fam + ("" if not hp else f" k={hp['k']}")
        print(f"{label:<16}" + "".join(f"{run(fam, m, **hp):>9.3f}" for m in modes))


if __name__ == "__main__":
    main()
