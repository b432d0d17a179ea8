"""``python -m tokenops.router.crossfit``: cross-fitted router scores for a RouteLLM benchmark.

Writes one score per evaluation prompt (columns ``prompt``, ``score``; higher = more likely to
need the strong model), each from a router trained on the other folds only (in-domain protocol).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .train import FAMILIES


def check_out_path(ap: argparse.ArgumentParser, out: str | Path, what: str = "a file path",
                   flag: str = "--out") -> Path:
    """``out`` as a Path, checked before minutes of work rather than after: its folder exists
    and is writable, and it is not a folder itself; ``ap.error`` (exit 2) otherwise. Shared by
    the router CLIs."""
    path = Path(out)
    out_dir = path.resolve().parent
    if not out_dir.is_dir():
        ap.error(f"{flag}: the folder {out_dir} does not exist")
    if path.is_dir():
        ap.error(f"{flag}: {out} is a folder; give {what}")
    if not os.access(out_dir, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        ap.error(f"{flag}: {out} cannot be written")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenops.router.crossfit", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", required=True, choices=["mmlu", "gsm8k", "mt-bench"])
    ap.add_argument("--router", required=True, choices=list(FAMILIES),
                    help="router family (knn needs the native embedder)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="CSV path (columns: prompt, score)")
    ap.add_argument("--data-dir", default=None, help="tokenops data folder (default: $TOKENOPS_DATA_DIR)")
    args = ap.parse_args(argv)
    if args.folds < 2:
        ap.error(f"--folds must be >= 2, got {args.folds}")
    if not 0 <= args.seed < 2**32:
        ap.error(f"--seed must be in [0, 2**32), got {args.seed}")
    check_out_path(ap, args.out, "a CSV file path")

    import pandas as pd

    from .data import load_routellm
    from .evaluation import crossfit_scores

    try:
        bench = load_routellm(args.benchmark, args.data_dir)
    except (OSError, ValueError) as e:
        print(f"{ap.prog}: error: {e}", file=sys.stderr)
        return 2
    emb = None
    if args.router == "knn":
        from .embedding import embed_prompts

        emb = embed_prompts(bench.prompts)
    try:
        scores = crossfit_scores(bench, args.router, args.folds, args.seed, embeddings=emb,
                                 features=_knn_features() if args.router == "knn" else None,
                                 progress=True)
        pd.DataFrame({"prompt": bench.prompts, "score": scores}).to_csv(args.out, index=False)
    except (OSError, ValueError) as e:  # e.g. more folds than distinct prompts
        print(f"{ap.prog}: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(scores)} cross-fitted scores ({args.router}, {args.folds} folds, seed "
          f"{args.seed}, in-domain) to {args.out}")
    return 0


def _knn_features():  # pragma: no cover - needs the embedder
    from .embedding import embedding_feature_config

    return embedding_feature_config()


if __name__ == "__main__":
    sys.exit(main())
