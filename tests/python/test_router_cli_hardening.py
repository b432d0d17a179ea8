"""The router command-line tools (crossfit, evaluate, nway, build_default, embedding) and the
routing data loaders under them: outputs are written whole or not at all, a run never writes
over one of its inputs, bad arguments and bad data files give one ``error:`` line and exit 2
(never a traceback), and outcomes that are not finite numbers are refused by name and row."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas")

EVALS = ("routing", "routellm", "routellm", "evals")
STRONG = "gpt-4-1106-preview"


def _data_copy(tmp: Path, data_dir: Path, copy: tuple[str, ...] = (), link: tuple[str, ...] = ()) -> Path:
    """A minimal data folder under ``tmp``: the RouteLLM benchmark folders in ``copy`` copied
    (so a test may change them), those in ``link`` and the RouterBench subset as symlinks."""
    d = tmp / "data"
    evals = d.joinpath(*EVALS)
    evals.mkdir(parents=True)
    src = data_dir.joinpath(*EVALS)
    for name in copy:
        shutil.copytree(src / name, evals / name)
        for f in (evals / name).rglob("*"):
            f.chmod(0o755 if f.is_dir() else 0o644)
        (evals / name).chmod(0o755)
    for name in link:
        (evals / name).symlink_to(src / name)
    (d / "routing" / "routerbench_subset").symlink_to(data_dir / "routing" / "routerbench_subset")
    return d


def _run_limited(limit: int, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python *args`` with files capped at ``limit`` bytes (ulimit -f): a write past it fails
    with EFBIG, as on a full disk or quota."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          preexec_fn=cap, cwd=cwd, env=dict(os.environ))


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "error:" in err, err


def _mt_scores(tmp: Path, data_dir: Path, name: str = "s.csv") -> Path:
    import pandas as pd

    from tokenops.router.data import load_routellm

    b = load_routellm("mt-bench", data_dir)
    path = tmp / name
    pd.DataFrame({"prompt": b.prompts, "score": np.linspace(0, 1, len(b))}).to_csv(path, index=False)
    return path


def _no_work(*a: object, **k: object) -> None:
    raise AssertionError("started the work before checking the arguments")


# ---- 1. outputs are atomic: a failing write leaves the old file as it was ------------------------

def test_crossfit_out_is_replaced_whole_or_not_at_all(tmp_path: Path, data_dir: Path) -> None:
    keep = tmp_path / "keep.csv"
    keep.write_text("prompt,score\nmine,1\n")
    r = _run_limited(4096, "-m", "tokenops.router.crossfit", "--benchmark", "mt-bench", "--router",
                     "logistic", "--out", str(keep), "--data-dir", str(data_dir))
    assert keep.read_text() == "prompt,score\nmine,1\n", r.stderr  # was cut to its first 4096 bytes
    assert r.returncode == 2, r.stderr
    _no_traceback(r.stderr)
    assert "cannot write" in r.stderr and "keep.csv" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]  # no temporary file left


def test_evaluate_plot_is_replaced_whole_or_not_at_all(tmp_path: Path, data_dir: Path) -> None:
    scores = _mt_scores(tmp_path, data_dir)
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"my picture")
    r = _run_limited(scores.stat().st_size + 1024, "-m", "tokenops.router.evaluate", "--benchmark",
                     "mt-bench", "--scores", str(scores), "--plot", str(keep), "--data-dir", str(data_dir))
    assert keep.read_bytes() == b"my picture", r.stderr  # was cut to a part of the figure
    assert r.returncode == 2, r.stderr
    _no_traceback(r.stderr)
    assert "--plot: cannot write" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png", "s.csv"]


_FAKE_EMBEDDING_RUN = """
import sys
import numpy as np
from tokenops.router import embedding as m

class Fake:
    name, path, dim = "fake", None, 384

m.load_embedder = lambda: Fake()
m._shipped_prompt_sets = lambda data_dir=None: {"toy": (["a", "b"], 0)}
m.embed_cached = lambda prompts, emb, **k: np.ones((4000, 384), np.float32)
sys.exit(m.main(["--write", sys.argv[1]]))
"""


def test_embedding_write_replaces_a_fixture_whole_or_not_at_all(tmp_path: Path) -> None:
    from tokenops.router.core import embedding_texts
    from tokenops.router.embedding import cache_key

    class Fake:
        name, path, dim = "fake", None, 384

    fixture = tmp_path / "fx" / f"{cache_key(embedding_texts(['a', 'b'], 0), Fake())}.npy"
    fixture.parent.mkdir()
    fixture.write_bytes(b"my fixture")
    r = _run_limited(64 << 10, "-c", _FAKE_EMBEDDING_RUN, str(fixture.parent))
    assert fixture.read_bytes() == b"my fixture", r.stderr  # np.save in place cut it to 64 KiB
    assert r.returncode == 2, r.stderr
    _no_traceback(r.stderr)
    assert [p.name for p in fixture.parent.iterdir()] == [fixture.name]
    r = _run_limited(64 << 20, "-c", _FAKE_EMBEDDING_RUN, str(fixture.parent))  # room: it is replaced
    assert r.returncode == 0, r.stderr
    assert np.load(fixture).shape == (4000, 384) and np.load(fixture).dtype == np.float16


# ---- 2. an output that is one of the run's inputs is refused --------------------------------------

def test_crossfit_refuses_to_write_over_its_data(tmp_path: Path, data_dir: Path, capsys) -> None:
    from tokenops.router import crossfit

    d = _data_copy(tmp_path, data_dir, copy=("mt_bench",))
    question = d.joinpath(*EVALS, "mt_bench", "question.jsonl")
    before = question.read_bytes()
    link = tmp_path / "q.jsonl"
    link.symlink_to(question)
    hard = tmp_path / "hard.jsonl"
    os.link(question, hard)
    for out in (question, link, hard, d / "routing" / "new.csv"):
        with pytest.raises(SystemExit) as e:
            crossfit.main(["--benchmark", "mt-bench", "--router", "logistic", "--out", str(out),
                           "--data-dir", str(d)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "error: --out is an input file" in err, err
    assert question.read_bytes() == before
    assert not (d / "routing" / "new.csv").exists()


def test_build_default_and_nway_refuse_to_write_over_their_data(tmp_path: Path, data_dir: Path,
                                                               monkeypatch, capsys) -> None:
    from tokenops.router import build_default, data, nway

    d = _data_copy(tmp_path, data_dir, copy=("gsm8k",))
    responses = d.joinpath(*EVALS, "gsm8k", "gsm8k_responses.csv")
    before = responses.read_bytes()
    monkeypatch.setattr(build_default, "training_rows", _no_work)
    monkeypatch.setattr(data, "load_routerbench", _no_work)
    rb = d / "routing" / "routerbench_subset" / "datasets" / "routerbench_zs" / "mbpp_train.csv"
    for main, out in ((build_default.main, responses), (nway.main, rb), (nway.main, responses)):
        with pytest.raises(SystemExit) as e:
            main(["--out", str(out), "--data-dir", str(d)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "error: --out is an input file" in err, err
    assert responses.read_bytes() == before


def test_evaluate_refuses_a_plot_that_is_a_score_file(tmp_path: Path, data_dir: Path, capsys) -> None:
    from tokenops.router import evaluate

    scores = _mt_scores(tmp_path, data_dir, "sc.png")  # a CSV, whatever its name
    before = scores.read_bytes()
    for spec, plot in ((str(scores), str(scores)), (f"m={scores}", str(tmp_path / "." / "sc.png"))):
        with pytest.raises(SystemExit) as e:
            evaluate.main(["--benchmark", "mt-bench", "--scores", spec, "--plot", plot,
                           "--data-dir", str(data_dir)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "error: --plot is an input file" in err, err
    assert scores.read_bytes() == before


# ---- 3. outcomes that are not finite numbers are refused, naming the file and row ----------------

def _gsm8k_with(tmp_path: Path, data_dir: Path, value: object, row: int = 3) -> Path:
    import pandas as pd

    d = _data_copy(tmp_path, data_dir, copy=("gsm8k",), link=("mmlu", "mt_bench"))
    path = d.joinpath(*EVALS, "gsm8k", "gsm8k_responses.csv")
    df = pd.read_csv(path)
    df[STRONG] = df[STRONG].astype(object)
    df.loc[row, STRONG] = value
    df.to_csv(path, index=False)
    return d


@pytest.mark.parametrize("value, shown", [(None, "is blank"), ("inf", "'inf' is not a finite number"),
                                          ("maybe", "'maybe' is not a finite number")])
def test_load_routellm_refuses_non_finite_outcomes(tmp_path: Path, data_dir: Path, value, shown) -> None:
    from tokenops.router.data import load_routellm

    d = _gsm8k_with(tmp_path, data_dir, value)
    with pytest.raises(ValueError, match=rf"gsm8k_responses\.csv: row 5: outcome '{STRONG}' {shown}"):
        load_routellm("gsm8k", d)


def test_router_clis_refuse_a_blank_outcome(tmp_path: Path, data_dir: Path, capsys) -> None:
    from tokenops.router import crossfit, evaluate

    d = _gsm8k_with(tmp_path, data_dir, None)
    scores = tmp_path / "s.csv"
    scores.write_text("prompt,score\nx,1\n")
    out = tmp_path / "out.csv"
    assert crossfit.main(["--benchmark", "gsm8k", "--router", "logistic", "--out", str(out),
                          "--data-dir", str(d)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "row 5" in err and "is blank" in err and not out.exists()
    assert evaluate.main(["--benchmark", "gsm8k", "--scores", str(scores), "--data-dir", str(d)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "gsm8k_responses.csv: row 5" in err


def test_mt_bench_judgements_must_be_finite(tmp_path: Path, data_dir: Path) -> None:
    import json

    from tokenops.router.data import load_routellm

    d = _data_copy(tmp_path, data_dir, copy=("mt_bench",))
    path = d.joinpath(*EVALS, "mt_bench", "judgements.jsonl")
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["score"] = None  # the judge gave no score: the other turn's was taken as the mean
    lines[0] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"judgements\.jsonl: line 1: judge score 'score' is blank"):
        load_routellm("mt-bench", d)


def test_routerbench_outcomes_may_be_blank_but_not_text_or_infinite(tmp_path: Path, data_dir: Path) -> None:
    import pandas as pd

    from tokenops.router.data import load_routerbench

    src = data_dir / "routing" / "routerbench_subset" / "datasets" / "routerbench_zs" / "mbpp_test.csv"
    d = tmp_path / "data" / "routing" / "routerbench_subset" / "datasets" / "routerbench_zs"
    d.mkdir(parents=True)
    df = pd.read_csv(src, index_col=0)
    df[STRONG] = df[STRONG].astype(object)
    for value, msg in (("inf", "'inf' is not a finite number"), ("yes", "'yes' is not a finite number")):
        df.loc[df.index[1], STRONG] = value
        df.to_csv(d / "mbpp_test.csv")
        with pytest.raises(ValueError, match=rf"mbpp_test\.csv: row 3: outcome '{STRONG}' {msg}"):
            load_routerbench("test", tasks="mbpp", data_dir=tmp_path / "data")
    df.loc[df.index[1], STRONG] = None  # a blank outcome is a missing one, as in ARC
    df.to_csv(d / "mbpp_test.csv")
    rb = load_routerbench("test", tasks="mbpp", data_dir=tmp_path / "data")
    assert np.isnan(rb.quality[1, rb.models.index(STRONG)]) and np.isfinite(rb.quality[0]).all()


# ---- 4. nway checks its arguments first and reports errors in one line -------------------------

def test_nway_checks_arguments_before_loading(tmp_path: Path, monkeypatch, capsys) -> None:
    from tokenops.router import crossfit, data, nway

    monkeypatch.setattr(data, "load_routerbench", _no_work)
    out = str(tmp_path / "sel.json")
    for args, msg in ((["--folds", "0"], "--folds must be >= 2, got 0"),
                      (["--seed", "-1"], "--seed must be in [0, 2**32), got -1"),
                      (["--seed", str(2**32)], f"--seed must be in [0, 2**32), got {2**32}"),
                      (["--data-dir", str(tmp_path / "nonexist")], "--data-dir:")):
        with pytest.raises(SystemExit) as e:
            nway.main(["--out", out, *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err, err
    # crossfit takes the same seeds (every router family takes [0, 2**32))
    with pytest.raises(SystemExit) as e:
        crossfit.main(["--benchmark", "mt-bench", "--router", "logistic", "--out", out, "--seed", str(2**32)])
    assert e.value.code == 2 and f"--seed must be in [0, 2**32), got {2**32}" in capsys.readouterr().err
    assert not (tmp_path / "sel.json").exists()


def test_nway_reports_a_data_error_in_one_line(tmp_path: Path, data_dir: Path, capsys) -> None:
    from tokenops.router import nway

    d = _data_copy(tmp_path, data_dir)
    (d / "routing" / "routerbench_subset").unlink()  # the RouterBench files are missing
    assert nway.main(["--out", str(tmp_path / "sel.json"), "--data-dir", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m tokenops.router.nway: error:") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "sel.json").exists()


# ---- 5. embedding --write ------------------------------------------------------------------------

def test_embedding_cli_checks_arguments_before_loading(tmp_path: Path, monkeypatch, capsys) -> None:
    from tokenops.router import embedding

    monkeypatch.setattr(embedding, "load_embedder", _no_work)
    monkeypatch.setattr(embedding, "_shipped_prompt_sets", _no_work)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.csv").write_text("mine\n")
    cases = [([""], "not an empty string"),  # wrote into the working folder
             ([str(tmp_path / "s.csv")], "is not a folder"),
             ([str(tmp_path / "s.csv" / "sub")], "is not a folder"),
             ([str(tmp_path / "new"), "--data-dir", str(tmp_path / "nonexist")], "--data-dir:")]
    if os.geteuid() != 0:  # root writes into read-only folders
        (tmp_path / "ro").mkdir(mode=0o555)
        cases.append(([str(tmp_path / "ro" / "x")], "cannot be written"))
    for args, msg in cases:
        with pytest.raises(SystemExit) as e:
            embedding.main(["--write", *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err, err
    assert not (tmp_path / "new").exists()  # was created before the data folder was checked
    assert (tmp_path / "s.csv").read_text() == "mine\n"


def test_embedding_cli_reports_errors_in_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from tokenops.router import embedding

    def missing(data_dir=None):
        raise FileNotFoundError(f"routing data not found at {tmp_path}")

    monkeypatch.setattr(embedding, "load_embedder", lambda: object())
    monkeypatch.setattr(embedding, "_shipped_prompt_sets", missing)
    assert embedding.main(["--write", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "error: routing data not found" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "new").exists()


# ---- 6. crossfit --router knn without an embedder ----------------------------------------------

def test_crossfit_knn_without_an_embedder_is_an_error_line(tmp_path: Path, data_dir: Path,
                                                           monkeypatch, capsys) -> None:
    from tokenops.router import crossfit

    (tmp_path / "fakeemb").mkdir()  # no config.json
    monkeypatch.setenv("TOKENOPS_EMBEDDER_PATH", str(tmp_path / "fakeemb"))
    assert crossfit.main(["--benchmark", "mt-bench", "--router", "knn", "--out", str(tmp_path / "s.csv"),
                          "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "config.json" in err and not (tmp_path / "s.csv").exists()


# ---- 7. data files without the expected columns ------------------------------------------------

def test_data_files_without_the_columns_are_named(tmp_path: Path, data_dir: Path, monkeypatch, capsys) -> None:
    from tokenops.router import build_default, crossfit, evaluate
    from tokenops.router.data import load_routellm, load_routerbench

    d = _data_copy(tmp_path, data_dir, copy=("gsm8k",), link=("mmlu", "mt_bench"))
    d.joinpath(*EVALS, "gsm8k", "gsm8k_responses.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"gsm8k_responses\.csv: missing column\(s\) 'prompt', "
                                         rf"'{STRONG}'.*has \['a', 'b'\]"):
        load_routellm("gsm8k", d)
    scores = tmp_path / "s.csv"
    scores.write_text("prompt,score\nx,1\n")
    out = tmp_path / "out"
    runs = ((crossfit.main, ["--benchmark", "gsm8k", "--router", "logistic", "--out", str(out)]),
            (evaluate.main, ["--benchmark", "gsm8k", "--scores", str(scores)]),
            (build_default.main, ["--out", str(out)]))
    for main, args in runs:
        assert main([*args, "--data-dir", str(d)]) == 2
        err = capsys.readouterr().err
        assert "error:" in err and "missing column(s) 'prompt'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "s.csv"]

    rb = tmp_path / "rb" / "routing" / "routerbench_subset" / "datasets" / "routerbench_zs"
    rb.mkdir(parents=True)
    src = data_dir / "routing" / "routerbench_subset" / "datasets" / "routerbench_zs" / "mbpp_test.csv"
    text = src.read_text(encoding="utf-8")
    (rb / "mbpp_test.csv").write_text(text.replace(",eval_name,", ",task,", 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"mbpp_test\.csv: missing column\(s\) 'eval_name'"):
        load_routerbench("test", tasks="mbpp", data_dir=tmp_path / "rb")


# ---- 8. smaller things -----------------------------------------------------------------------------

def test_evaluate_messages_are_one_line_and_show_the_text(tmp_path: Path, data_dir: Path, capsys) -> None:
    from tokenops.router import evaluate

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("prompt,score\na,1\nb,2,3\n")
    inf = _mt_scores(tmp_path, data_dir, "inf.csv")
    inf.write_text(inf.read_text().replace(",0.0\n", ",inf\n", 1))
    for path, msg in ((ragged, "ragged.csv: not a CSV file (Error tokenizing data."),
                      (inf, "inf.csv: row 2: score 'inf' is not a finite number")):
        assert evaluate.main(["--benchmark", "mt-bench", "--scores", str(path), "--data-dir", str(data_dir)]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.splitlines()) == 1, err
    with pytest.raises(SystemExit) as e:  # was skipped: no plot, and no word of it
        evaluate.main(["--benchmark", "mt-bench", "--scores", str(inf), "--plot", "", "--data-dir", str(data_dir)])
    assert e.value.code == 2 and "--plot: give an image file path" in capsys.readouterr().err
