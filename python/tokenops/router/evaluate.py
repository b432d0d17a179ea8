"""``python -m tokenops.router.evaluate``: RouteLLM-protocol metrics of router scores.

Give one or more score CSVs (``prompt``, ``score``; e.g. from ``tokenops.router.crossfit``) and
the benchmark; prints APGR (the trapezoid of RouteLLM's evaluate.py, the one its published rows
use, and a 10-point right-sum), CPT(20/50/80%)
for each, the random router (mean of 10 seeds), the optimal router's row (a reference ceiling),
the always-weak and always-strong qualities (the header line), and RouteLLM's published rows. ``--plot`` saves the quality-vs-strong-calls figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tokenops.router.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", required=True, choices=["mmlu", "gsm8k", "mt-bench"])
    ap.add_argument("--scores", nargs="+", required=True, metavar="CSV",
                    help="score files; the method name is the file stem (or NAME=path)")
    ap.add_argument("--plot", default=None, help="save the curve plot here (PNG)")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)

    import pandas as pd

    from .crossfit import check_data_dir, check_out_path, report_error
    from .data import load_routellm
    from .evaluation import routellm_report

    specs = [_parse_spec(spec) for spec in args.scores]
    check_data_dir(ap, args.data_dir)
    if args.plot is not None:  # checked before the work, not after the report
        from matplotlib.backend_bases import FigureCanvasBase

        if args.plot == "":
            ap.error("--plot: give an image file path (e.g. curves.png), not an empty string")
        fmt = Path(args.plot).suffix.lower().lstrip(".")
        if fmt not in FigureCanvasBase.get_supported_filetypes():
            ap.error(f"--plot: {args.plot!r} has no image format suffix matplotlib writes (e.g. .png, .svg, .pdf)")
        # a score file given as --plot too would be replaced by the figure
        check_out_path(ap, args.plot, "an image file path", "--plot", data_dir=args.data_dir,
                       inputs=[path for _, path in specs])
    try:
        bench = load_routellm(args.benchmark, args.data_dir)
        scores = {}
        for name, path in specs:
            if name in scores:
                raise ValueError(f"two score files are both named {name!r}; name them with NAME=path")
            scores[name] = _read_scores(path, bench.prompts, args.benchmark)
    except (OSError, ValueError, KeyError) as e:
        return report_error(ap, e)
    rep = routellm_report(bench, scores)
    print(f"{args.benchmark}: {len(bench)} prompts after decontamination ({bench.n_dropped} dropped); "
          f"weak {rep.weak_quality:.3f}, strong {rep.strong_quality:.3f}. Routers trained in-domain "
          "(cross-fitted); RouteLLM's published rows are out-of-domain routers.")
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(rep.table().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name in scores:
        try:
            cs = rep.cost_saving_at(name)
        except ValueError as e:
            print(f"{name}: {e}")
            continue
        print(f"{name}: reaches 95% of strong quality with {cs['strong_share'] * 100:.1f}% strong calls")
    if args.plot is not None:
        import io

        import matplotlib

        from .._paths import write_atomic

        matplotlib.use("Agg")
        ax = rep.plot()
        buf = io.BytesIO()
        try:
            ax.figure.savefig(buf, format=Path(args.plot).suffix.lower().lstrip("."), dpi=120,
                              bbox_inches="tight")
            # the whole image or nothing: a failed write leaves an existing file as it was
            write_atomic(Path(args.plot), buf.getvalue())
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            return report_error(ap, ValueError(f"--plot: cannot write {args.plot}: {why}"))
        print(f"saved {args.plot}")
    return 0


def _parse_spec(spec: str) -> tuple[str, str]:
    """(method name, path) of a --scores argument: NAME=path on the first '=' (a path may hold
    '=': runs/lr=0.1/s.csv); an existing file is a path whatever it holds."""
    if Path(spec).is_file() or "=" not in spec:
        return Path(spec).stem, spec
    name, _, path = spec.partition("=")
    return name or Path(path).stem, path


def _read_scores(path: str, prompts: list[str], benchmark: str) -> "np.ndarray":
    """One finite score per benchmark prompt from a CSV (prompt, score); ValueError naming the
    file and the row for anything else."""
    import numpy as np
    import pandas as pd

    try:
        # prompts as written: "NA", "null" or "" are prompts, not missing values; "1.50" stays
        # and scores as written, so an error shows the cell's text
        df = pd.read_csv(path, dtype={"prompt": str, "score": str}, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as e:
        raise ValueError(f"{path}: not a CSV file ({' '.join(str(e).split())})") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({' '.join(str(e).split())})") from None
    if not {"prompt", "score"} <= set(df.columns):
        raise ValueError(f"{path}: needs columns 'prompt' and 'score', has {list(df.columns)}")
    num = pd.to_numeric(df["score"].replace("", np.nan), errors="coerce")
    bad = np.flatnonzero(num.isna().to_numpy() | ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{path}: row {i + 2}: score {df['score'].iloc[i]!r} is not a finite number")
    lookup: dict[str, float] = {}
    for prompt, score in zip(df["prompt"].astype(str), num.astype(float)):
        if prompt in lookup and lookup[prompt] != score:
            raise ValueError(f"{path}: the prompt {prompt[:60]!r} has two different scores "
                             f"({lookup[prompt]} and {score})")
        lookup[prompt] = score
    missing = [p for p in prompts if p not in lookup]
    if missing:
        raise ValueError(f"{path}: {len(missing)} of {len(prompts)} {benchmark} prompts have no score")
    return np.array([lookup[p] for p in prompts])


if __name__ == "__main__":
    sys.exit(main())
