"""Loaders for the shipped routing outcome data (see shared/data/routing/README.md): RouteLLM's
MMLU / GSM8K / MT-Bench evaluation files (GPT-4 vs Mixtral) and the RouterBench subset (ARC,
MBPP, Winogrande x 11 models). Needs pandas."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
ROUTELLM_BENCHMARKS = ("mmlu", "gsm8k", "mt-bench")
ROUTERBENCH_TASKS = ("arc-challenge", "mbpp", "winogrande")
_RB_FILES = {"arc-challenge": "arc_challenge", "mbpp": "mbpp", "winogrande": "winograde"}

#: USD per 1M tokens (input, output), as stated in the data README (RouteLLM paper App. D).
ROUTELLM_PRICES = {STRONG: (10.0, 30.0), WEAK: (0.24, 0.24)}
#: RouterBench routers/common.py TOKEN_COSTS constants N (written N / 10_000_000 per token):
#: (prompt, completion).
ROUTERBENCH_TOKEN_COSTS = {
    "mistralai/mixtral-8x7b-chat": (0.6, 0.6), "mistralai/mistral-7b-chat": (0.2, 0.2),
    "meta/code-llama-instruct-34b-chat": (0.776, 0.776), "WizardLM/WizardLM-13B-V1.2": (0.3, 0.3),
    "zero-one-ai/Yi-34B-Chat": (0.8, 0.8), "gpt-3.5-turbo-1106": (1.0, 2.0),
    "claude-instant-v1": (0.8, 2.4), "claude-v1": (8.0, 24.0), "claude-v2": (8.0, 24.0),
    "gpt-4-1106-preview": (10.0, 30.0), "meta/llama-2-70b-chat": (0.9, 0.9),
}


def _routing_dir(data_dir: str | Path | None = None) -> Path:
    from .._paths import data_dir as _dd

    base = Path(data_dir) if data_dir is not None else _dd(required=True)
    d = base / "routing"
    if not d.is_dir():
        raise FileNotFoundError(f"routing data not found at {d}; set TOKENOPS_DATA_DIR")
    return d


@dataclass
class PairBenchmark:
    """One RouteLLM benchmark after decontamination (RouteLLM's benchmarks.py semantics).

    prompts: what the router sees (MT-Bench: turn 1). q_strong / q_weak: per-prompt quality on
    the benchmark's own scale (MMLU/GSM8K: 1.0/0.0 correct; MT-Bench: mean GPT-4 judge score of
    both turns). scale: 100 for accuracy in percent, 1 for judge scores (RouteLLM's reporting).
    """

    name: str
    prompts: list[str]
    q_strong: np.ndarray
    q_weak: np.ndarray
    scale: float
    ids: list = field(default_factory=list)
    responses_strong: list[str] | None = None
    responses_weak: list[str] | None = None
    n_dropped: int = 0

    @property
    def quality01(self) -> np.ndarray:
        """(n, 2) quality in [0, 1] for training (columns: strong, weak)."""
        q = np.stack([self.q_strong, self.q_weak], axis=1).astype(np.float64)
        return (q - 1.0) / 9.0 if self.name == "mt-bench" else q

    def __len__(self) -> int:
        return len(self.prompts)

    def per_query_costs(self, encoding: str = "cl100k_base") -> tuple[float, float]:
        """Mean USD per query of (strong, weak) with ROUTELLM_PRICES: input = the prompt's token
        count; output = the models' own responses where the data has them (GSM8K), else 1 token
        (MMLU answers with a letter) or 500 tokens (MT-Bench answers: an assumption, stated)."""
        from ..tokenizer import get_encoding

        enc = get_encoding(encoding)
        tin = float(np.mean(enc.count_batch(self.prompts, disallowed_special=())))
        if self.responses_strong is not None and self.responses_weak is not None:
            out_s = float(np.mean(enc.count_batch(self.responses_strong, disallowed_special=())))
            out_w = float(np.mean(enc.count_batch(self.responses_weak, disallowed_special=())))
        else:
            out_s = out_w = 1.0 if self.name == "mmlu" else 500.0
        (si, so), (wi, wo) = ROUTELLM_PRICES[STRONG], ROUTELLM_PRICES[WEAK]
        return (tin * si + out_s * so) / 1e6, (tin * wi + out_w * wo) / 1e6


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _read_csv(path: Path, **kw: object) -> "pd.DataFrame":
    """pandas.read_csv naming the file in a one-line ValueError for anything that is not CSV
    text (a missing file stays an OSError, which names it)."""
    import pandas as pd

    try:
        return pd.read_csv(path, **kw)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({_one_line(e)})") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise ValueError(f"{path}: not a CSV file ({_one_line(e)})") from None


def _read_jsonl(path: Path) -> "pd.DataFrame":
    import pandas as pd

    try:
        return pd.read_json(path, lines=True)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({_one_line(e)})") from None
    except ValueError as e:
        raise ValueError(f"{path}: not a JSON-lines file ({_one_line(e)})") from None


def _need_columns(df: "pd.DataFrame", columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
                         f"has {[str(c) for c in df.columns]}")


def _as_float(v: object) -> float:
    """A cell as a float: True/False (as read, or as text) are 1/0; NaN for a blank or text that
    is no number."""
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, str):
        t = v.strip()
        if t.lower() in ("true", "false"):
            return float(t.lower() == "true")
        try:
            return float(t)
        except ValueError:
            return float("nan")
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _outcomes(df: "pd.DataFrame", column: str, path: Path, *, missing_ok: bool = False,
              what: str = "outcome", first: int = 2, unit: str = "row",
              only: np.ndarray | None = None) -> np.ndarray:
    """``df[column]`` as floats; ValueError naming the file, the row (``first`` is the number of
    the first one: 2 under a CSV header) and the cell for one that is not a finite number (a
    blank is allowed, as NaN, where ``missing_ok``). ``only`` limits the check to those rows."""
    import pandas as pd

    col = df[column]
    if col.dtype.kind in "biuf":
        vals = col.to_numpy(dtype=np.float64)
    else:
        vals = np.array([_as_float(v) for v in col], dtype=np.float64)
    bad = ~np.isfinite(vals)
    if missing_ok:
        bad &= ~col.isna().to_numpy()  # a blank cell: the outcome is unknown
    if only is not None:
        bad &= only
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = col.iloc[i]
        blank = not isinstance(raw, str) and bool(pd.isna(raw))
        cell = "is blank" if blank else f"{raw if isinstance(raw, str) else str(raw)!r} is not a finite number"
        raise ValueError(f"{path}: {unit} {i + first}: {what} {column!r} {cell}; every {unit} needs "
                         f"a finite {what}{' or a blank' if missing_ok else ''}")
    return vals


def load_routellm(benchmark: str, data_dir: str | Path | None = None) -> PairBenchmark:
    """Loads 'mmlu', 'gsm8k' or 'mt-bench', dropping the contaminated prompts as RouteLLM does.
    ValueError naming the file (and row) for a file without the expected columns or with an
    outcome that is not a finite number."""
    import pandas as pd

    if benchmark not in ROUTELLM_BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {ROUTELLM_BENCHMARKS}")
    root = _routing_dir(data_dir) / "routellm" / "routellm" / "evals"
    if benchmark in ("mmlu", "gsm8k"):
        if benchmark == "mmlu":
            files = sorted((root / "mmlu" / "responses").glob("mmlu_*.csv"))
            if len(files) != 57:
                raise FileNotFoundError(f"expected 57 MMLU response files in {root / 'mmlu'}, found {len(files)}")
            cols = ["prompt", STRONG, WEAK]
        else:
            files = [root / "gsm8k" / "gsm8k_responses.csv"]
            cols = ["prompt", STRONG, WEAK, STRONG + "_response", WEAK + "_response"]
        frames = []
        for f in files:
            part = _read_csv(f)
            _need_columns(part, cols, f)
            part = part[cols].copy()
            for m in (STRONG, WEAK):
                part[m] = _outcomes(part, m, f)
            frames.append(part)
        df = pd.concat(frames, ignore_index=True)
        cpath = root / benchmark / "contaminated_prompts.jsonl"
        cont = _read_jsonl(cpath)
        _need_columns(cont, ["eval_prompt"], cpath)
        n0 = len(df)
        df = df[~df["prompt"].isin(cont["eval_prompt"].tolist())].reset_index(drop=True)
        if benchmark == "mmlu":
            return PairBenchmark("mmlu", df["prompt"].tolist(), df[STRONG].to_numpy(float),
                                 df[WEAK].to_numpy(float), 100.0, list(range(len(df))),
                                 n_dropped=n0 - len(df))
        return PairBenchmark("gsm8k", df["prompt"].tolist(), df[STRONG].to_numpy(float),
                             df[WEAK].to_numpy(float), 100.0, list(range(len(df))),
                             df[STRONG + "_response"].fillna("").astype(str).tolist(),
                             df[WEAK + "_response"].fillna("").astype(str).tolist(), n0 - len(df))
    qpath, jpath = root / "mt_bench" / "question.jsonl", root / "mt_bench" / "judgements.jsonl"
    cpath = root / "mt_bench" / "contaminated_prompts.jsonl"
    q, j, cont = _read_jsonl(qpath), _read_jsonl(jpath), _read_jsonl(cpath)
    _need_columns(q, ["question_id", "turns"], qpath)
    _need_columns(j, ["question_id", "model", "score"], jpath)
    _need_columns(cont, ["eval_prompt"], cpath)
    for i, t in enumerate(q["turns"]):
        if not (isinstance(t, list) and len(t) >= 2 and all(isinstance(x, str) for x in t[:2])):
            raise ValueError(f"{qpath}: line {i + 1}: 'turns' must be a list of at least 2 texts")
    j = j.assign(score=_outcomes(j, "score", jpath, what="judge score", first=1, unit="line"))
    bad = cont["eval_prompt"].tolist()
    n0 = len(q)
    t1, t2 = q["turns"].map(lambda t: t[0]), q["turns"].map(lambda t: t[1])
    q = q[~(t1.isin(bad) | t2.isin(bad))].reset_index(drop=True)
    counts = j.groupby(["question_id", "model"]).size()
    if not (counts == 2).all():
        raise ValueError("MT-Bench judgements: expected exactly 2 turns per (question, model)")
    mean = j.groupby(["question_id", "model"])["score"].mean().unstack()
    ids = q["question_id"].tolist()
    for m in (STRONG, WEAK):
        have = set(mean.index[mean[m].notna()]) if m in mean.columns else set()
        lacking = [i for i in ids if i not in have]
        if lacking:
            raise ValueError(f"{jpath}: no judgements of {m} for question(s) {lacking[:5]}")
    return PairBenchmark("mt-bench", q["turns"].map(lambda t: t[0]).tolist(),
                         mean.loc[ids, STRONG].to_numpy(float), mean.loc[ids, WEAK].to_numpy(float),
                         1.0, ids, n_dropped=n0 - len(q))


@dataclass
class RouterBenchSplit:
    """RouterBench rows (train or test) for one or more tasks."""

    prompts: list[str]
    tasks: np.ndarray          # eval_name per row
    sample_ids: list[str]
    models: list[str]
    quality: np.ndarray        # (n, M) 0/1, NaN = missing
    cost: np.ndarray           # (n, M) USD total_cost of that call
    oracle: list[str]
    responses: np.ndarray | None = None  # (n, M) object: the model's response text ("" if blank)

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, mask: np.ndarray) -> "RouterBenchSplit":
        idx = np.flatnonzero(mask)
        return RouterBenchSplit([self.prompts[i] for i in idx], self.tasks[idx],
                                [self.sample_ids[i] for i in idx], self.models,
                                self.quality[idx], self.cost[idx], [self.oracle[i] for i in idx],
                                None if self.responses is None else self.responses[idx])


def _prompt_text(cell: str) -> str:
    try:
        v = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return str(cell)
    return "".join(v) if isinstance(v, list) else str(v)


def load_routerbench(split: str, tasks: tuple[str, ...] = ROUTERBENCH_TASKS,
                     data_dir: str | Path | None = None) -> RouterBenchSplit:
    """Loads the shipped RouterBench subset ('train' or 'test'), RouterDC's split; ``responses``
    holds each model's response text (the CSV's Python-list literal, joined)."""
    import pandas as pd

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(tasks, str):
        tasks = (tasks,)  # one task name, not its characters
    root = _routing_dir(data_dir) / "routerbench_subset" / "datasets" / "routerbench_zs"
    frames = []
    models: list[str] | None = None
    for t in tasks:
        if t not in _RB_FILES:
            raise ValueError(f"unknown RouterBench task {t!r}; choose from {ROUTERBENCH_TASKS}")
        path = root / f"{_RB_FILES[t]}_{split}.csv"
        part = _read_csv(path, index_col=0)
        ms = [str(c).replace("|model_response", "") for c in part.columns if str(c).endswith("|model_response")]
        if not ms:
            raise ValueError(f"{path}: no '<model>|model_response' columns; not a RouterBench file")
        if models is not None and ms != models:
            raise ValueError(f"{path}: its models {ms} differ from the other tasks' {models}")
        models = ms
        _need_columns(part, ["sample_id", "prompt", "eval_name", "oracle_model_to_route_to",
                             *ms, *(m + "|total_cost" for m in ms)], path)
        # a blank outcome is a missing one (NaN: skipped where used); text or inf is an error,
        # and so is a cost that is not a finite number where the outcome is known
        quality = np.column_stack([_outcomes(part, m, path, missing_ok=True) for m in ms])
        cost = np.column_stack([_outcomes(part, m + "|total_cost", path, what="cost",
                                          only=np.isfinite(quality[:, k])) for k, m in enumerate(ms)])
        part = part.assign(**{m: quality[:, k] for k, m in enumerate(ms)},
                           **{m + "|total_cost": cost[:, k] for k, m in enumerate(ms)})
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    models = models or []
    return RouterBenchSplit(
        prompts=df["prompt"].map(_prompt_text).tolist(),
        tasks=df["eval_name"].to_numpy(str),
        sample_ids=df["sample_id"].astype(str).tolist(),
        models=models,
        quality=df[models].to_numpy(float),
        cost=df[[m + "|total_cost" for m in models]].to_numpy(float),
        oracle=df["oracle_model_to_route_to"].astype(str).tolist(),
        responses=np.column_stack([df[m + "|model_response"].fillna("").map(_prompt_text).to_numpy(object)
                                   for m in models]) if models else None,
    )


def routerbench_token_costs(models: list[str]) -> np.ndarray:
    """Per-model routing cost as RouterBench's routers use it: prompt + completion price per
    token (its TOKEN_COSTS constants, N / 10_000_000)."""
    if isinstance(models, str):
        models = [models]
    unknown = [m for m in models if m not in ROUTERBENCH_TOKEN_COSTS]
    if unknown:
        raise KeyError(f"no RouterBench token cost for model(s) {unknown}; known: {sorted(ROUTERBENCH_TOKEN_COSTS)}")
    return np.array([(ROUTERBENCH_TOKEN_COSTS[m][0] + ROUTERBENCH_TOKEN_COSTS[m][1]) / 10_000_000
                     for m in models])


#: Sources of GPT-4-1106 vs Mixtral-8x7B outcome rows: RouteLLM's three benchmarks and the
#: RouterBench subset (its gpt-4-1106-preview and mixtral-8x7b-chat columns, train + test).
PAIR_SOURCES = (*ROUTELLM_BENCHMARKS, "routerbench")
ROUTERBENCH_STRONG_WEAK = ("gpt-4-1106-preview", "mistralai/mixtral-8x7b-chat")


def routerbench_pair(split: RouterBenchSplit) -> tuple[np.ndarray, np.ndarray]:
    """(strong, weak) quality of a RouterBench split's GPT-4-1106 and Mixtral-8x7B-chat columns and
    the mask of rows where both are known (the rows pair_rows keeps, in order)."""
    q = split.quality[:, [split.models.index(m) for m in ROUTERBENCH_STRONG_WEAK]]
    return q, np.all(np.isfinite(q), axis=1)


def pair_rows(sources: tuple[str, ...] | list[str] = PAIR_SOURCES, data_dir: str | Path | None = None,
              ) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Prompts and (strong, weak) quality in [0, 1] from the named sources (see PAIR_SOURCES),
    with the number of rows each gave. RouteLLM's contaminated prompts are dropped; RouterBench
    rows missing either model's outcome are skipped."""
    if isinstance(sources, str):
        sources = (sources,)  # one source name, not its characters
    unknown = [s for s in sources if s not in PAIR_SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; choose from {list(PAIR_SOURCES)}")
    prompts: list[str] = []
    qs: list[np.ndarray] = []
    counts: dict[str, int] = {}
    for name in sources:
        if name == "routerbench":
            for split in ("train", "test"):
                rb = load_routerbench(split, data_dir=data_dir)
                q, ok = routerbench_pair(rb)
                prompts += [p for p, k in zip(rb.prompts, ok) if k]
                qs.append(q[ok])
                counts[f"routerbench/{split}"] = int(ok.sum())
        else:
            b = load_routellm(name, data_dir)
            prompts += b.prompts
            qs.append(b.quality01)
            counts[f"routellm/{name}"] = len(b)
    return prompts, (np.vstack(qs) if qs else np.zeros((0, 2))), counts
