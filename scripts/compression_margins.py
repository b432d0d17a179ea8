"""Answer-span survival of tokenops vs truncation and the overlap selector at 3x and 5x on every
evaluation set, plus question-aware packing at 4x on position-controlled NQ.

    python scripts/compression_margins.py                     # defaults
    python scripts/compression_margins.py --bm25-window 64    # windowed paragraph BM25
    python scripts/compression_margins.py --misses            # per-item misses of tokenops
    python scripts/compression_margins.py --embed-weight 1 --sets "LEval natural_question"
                                                              # + MiniLM cosine (~8 min for NQ)

Needs $TOKENOPS_DATA_DIR/compression (see docs/compression.md). About 20 s on 2 cores.
"""

from __future__ import annotations

import argparse

import pandas as pd
from tokenops.compress import Compressor
from tokenops.compress import evaluate as ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bm25-window", type=int, default=0)
    ap.add_argument("--position-weight", type=float, default=0.15)
    ap.add_argument("--misses", action="store_true", help="list the items tokenops loses")
    ap.add_argument("--embed-weight", type=float, default=0.0,
                    help="add the native MiniLM cosine to BM25 with this weight (0: off, the default)")
    ap.add_argument("--sets", default="", help="comma-separated subset of the evaluation sets")
    a = ap.parse_args()
    try:  # the Compressor checks its own options: a mistake is one line, exit 2
        Compressor("gpt-4o", bm25_window=a.bm25_window).compress("a b. c d.", "b", target_tokens=3,
                                                                 position_weight=a.position_weight)
    except (ValueError, TypeError) as e:
        ap.error(str(e))
    emb = {"embedder": "default", "embed_weight": a.embed_weight} if a.embed_weight > 0 else {}
    comp = Compressor("gpt-4o", bm25_window=a.bm25_window, **emb)
    methods = {
        "tokenops": lambda it, b: comp.compress(it.context, it.question, target_tokens=b,
                                                position_weight=a.position_weight).text,
    }
    methods.update((k, f) for k, f in ev.default_methods(comp).items() if k in ("truncation", "overlap selector"))
    sets = {
        "LEval natural_question": ev.load_leval("natural_question"),
        "LEval multidoc_qa": ev.load_leval("multidoc_qa"),
        "MeetingBank QA": ev.load_meetingbank(),
        "NQ 20 passages": ev.load_nq_positions(n_questions=60),
    }
    if a.sets:
        want = [w.strip() for w in a.sets.split(",") if w.strip()]
        unknown = [w for w in want if w not in sets]
        if unknown:
            ap.error(f"--sets: unknown {unknown}; the sets are {list(sets)}")
        sets = {k: v for k, v in sets.items() if k in want}
    df = pd.concat([ev.run_survival(items, methods, ratios=(3, 5), dataset=name) for name, items in sets.items()],
                   ignore_index=True)
    pd.set_option("display.width", 200)
    print(ev.margin_table(df).round(3).to_string(index=False))
    if "NQ 20 passages" in sets:
        d4 = ev.run_survival(sets["NQ 20 passages"],
                             {"pack": ev.pack_method(), "pack, fill_irrelevant": ev.pack_method(fill_irrelevant=True)},
                             ratios=(4,), dataset="NQ 20 passages")
        print("\npack at 4x, survival by gold position:")
        print(ev.position_table(d4).round(3).to_string())
        print("mean packed tokens:", d4.groupby("method", sort=False)["achieved"].mean().round(1).to_dict())
    if a.misses:
        for name, items in sets.items():
            for setting in ("3x", "5x"):
                d = df[(df.dataset == name) & (df.setting == setting)]
                t = d.pivot_table(index="item", columns="method", values="survived")
                lost = t[t["tokenops"] == 0]
                print(f"\n{name} {setting}: tokenops loses {len(lost)} of {len(t)}")
                for i, row in lost.iterrows():
                    it = items[int(i)]
                    print(f"  item {i}: truncation {'keeps' if row['truncation'] else 'loses'}; "
                          f"q={it.question!r} a={it.answers[0]!r}")


if __name__ == "__main__":
    main()
