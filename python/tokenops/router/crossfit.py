"""``python -m tokenops.router.crossfit``: cross-fitted router scores for a RouteLLM benchmark.

Writes one score per evaluation prompt (columns ``prompt``, ``score``; higher = more likely to
need the strong model), each from a router trained on the other folds only (in-domain protocol).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from .train import FAMILIES

#: Seeds the router CLIs accept: [0, 2**32), the range every router family takes (fit_router's,
#: sklearn's random_state), so a seed that folds the data also trains every model.
SEED_LIMIT = 2**32
_MAX_WALK = 100_000  # files looked at when checking an output against a data tree


def check_args(ap: argparse.ArgumentParser, folds: int, seed: int) -> None:
    """``--folds`` and ``--seed`` as the router CLIs take them; ``ap.error`` (exit 2) otherwise."""
    if folds < 2:
        ap.error(f"--folds must be >= 2, got {folds}")
    if not 0 <= seed < SEED_LIMIT:
        ap.error(f"--seed must be in [0, 2**32), got {seed}")


def check_data_dir(ap: argparse.ArgumentParser, data_dir: str | Path | None) -> Path:
    """The routing data folder of ``data_dir`` (or of $TOKENOPS_DATA_DIR), checked before any
    work; ``ap.error`` (exit 2) when there is none."""
    from .data import _routing_dir

    if data_dir is not None and not Path(data_dir).is_dir():
        ap.error(f"--data-dir: {data_dir} is not a folder; give the tokenops data folder "
                 "(the one holding routing/)")
    try:
        return _routing_dir(data_dir)
    except (OSError, ValueError) as e:
        ap.error(f"--data-dir: {e}")


def report_error(ap: argparse.ArgumentParser, e: BaseException) -> int:
    """Prints a user mistake found during the work as one ``error:`` line; returns 2."""
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    print(f"{ap.prog}: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return 2


def _inside(path: Path, root: Path) -> bool:
    """``path`` is ``root`` or lies under it, as written or with links resolved."""
    for p, r in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (path.resolve(), root.resolve())):
        if p == r or r in p.parents:
            return True
    return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare the paths
        pass
    try:
        return os.path.abspath(a) == os.path.abspath(b) or a.resolve() == b.resolve()
    except (OSError, RuntimeError):  # a symlink loop: no file of ours
        return False


def _a_file_of(path: Path, root: Path) -> bool:
    """``path`` is (a hard or symbolic link to) a file under ``root``."""
    try:
        st = path.stat()
    except OSError:
        return False
    seen = 0
    for folder, _, files in os.walk(root, followlinks=True):
        for name in files:
            seen += 1
            if seen > _MAX_WALK:
                return False
            try:
                other = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return True
    return False


def check_out_path(ap: argparse.ArgumentParser, out: str | Path, what: str = "a file path",
                   flag: str = "--out", *, data_dir: str | Path | None = None,
                   inputs: Iterable[str | Path] = ()) -> Path:
    """``out`` as a Path, checked before minutes of work rather than after: its folder exists
    and is writable, it is not a folder itself, and it is none of the run's inputs (a file of
    the data folder's ``routing/`` tree, or one of ``inputs``); ``ap.error`` (exit 2) otherwise.
    Shared by the router CLIs."""
    if str(out) == "":
        ap.error(f"{flag}: give {what}, not an empty string")
    path = Path(out)
    try:
        out_dir = path.resolve().parent
    except (OSError, RuntimeError) as e:  # a symlink loop
        ap.error(f"{flag}: {out} cannot be resolved ({e})")
    if not out_dir.is_dir():
        ap.error(f"{flag}: the folder {out_dir} does not exist")
    if path.is_dir():
        ap.error(f"{flag}: {out} is a folder; give {what}")
    for src in inputs:
        if _same_file(path, Path(src)):
            ap.error(f"{flag} is an input file: {out} is {src}, which this run reads; "
                     "write the output elsewhere")
    try:
        from .data import _routing_dir

        routing: Path | None = _routing_dir(data_dir)
    except (OSError, ValueError):  # no data folder: the loading reports it
        routing = None
    if routing is not None and (_inside(path, routing) or _a_file_of(path, routing)):
        ap.error(f"{flag} is an input file: {out} lies in the routing data this run reads "
                 f"({routing}); write the output elsewhere")
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
    ap.add_argument("--seed", type=int, default=0, help="in [0, 2**32)")
    ap.add_argument("--out", required=True, help="CSV path (columns: prompt, score)")
    ap.add_argument("--data-dir", default=None, help="tokenops data folder (default: $TOKENOPS_DATA_DIR)")
    args = ap.parse_args(argv)
    check_args(ap, args.folds, args.seed)
    check_data_dir(ap, args.data_dir)
    out = check_out_path(ap, args.out, "a CSV file path", data_dir=args.data_dir)

    import pandas as pd

    from .._paths import write_atomic
    from .data import load_routellm
    from .evaluation import crossfit_scores

    try:
        bench = load_routellm(args.benchmark, args.data_dir)
        emb = None
        if args.router == "knn":
            from .embedding import embed_prompts

            emb = embed_prompts(bench.prompts)  # OSError when the embedder is unavailable
        scores = crossfit_scores(bench, args.router, args.folds, args.seed, embeddings=emb,
                                 features=_knn_features() if args.router == "knn" else None,
                                 progress=True)
    except (OSError, ValueError, KeyError) as e:  # e.g. more folds than distinct prompts
        return report_error(ap, e)
    text = pd.DataFrame({"prompt": bench.prompts, "score": scores}).to_csv(index=False)
    try:
        # the whole file or nothing: a run that fails writing leaves an existing file as it was
        write_atomic(out, text.encode("utf-8"))
    except OSError as e:
        return report_error(ap, OSError(f"--out: cannot write {out}: {e.strerror or e}"))
    print(f"wrote {len(scores)} cross-fitted scores ({args.router}, {args.folds} folds, seed "
          f"{args.seed}, in-domain) to {args.out}")
    return 0


def _knn_features():  # pragma: no cover - needs the embedder
    from .embedding import embedding_feature_config

    return embedding_feature_config()


if __name__ == "__main__":
    sys.exit(main())
