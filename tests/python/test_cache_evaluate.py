"""tokenops.cache.evaluate: loaders on the shared data (row counts from its README), metric
definitions against scikit-learn, guard sweeps, and the stream protocols through the real Cache
on hand-made clusters with a fake embedder whose geometry is set by hand."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("faiss")

from tokenops.cache import GUARDS, guard
from tokenops.cache import evaluate as ev

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ loaders
def test_meancache_qqp(data_dir):
    df = ev.load_meancache_qqp()
    assert list(df.columns) == ["text_a", "text_b", "label"]
    assert len(df) == 9042 and int(df.label.sum()) == 4521
    assert df.text_a.map(type).eq(str).all() and df.text_b.map(type).eq(str).all()


def test_meancache_rows_are_in_the_full_qqp_file(data_dir):
    full = ev.load_qqp()
    assert len(full) == 80854 and int(full.label.sum()) == 30141
    assert full.id.tolist() == list(range(80854))
    assert len(set(full.text_a) | set(full.text_b)) == 137551
    pairs = set(zip(full.text_a, full.text_b, full.label))
    mean = ev.load_meancache_qqp()
    assert all(p in pairs for p in zip(mean.text_a, mean.text_b, mean.label))


def test_qqp_sample_is_reproducible_and_a_subset(data_dir):
    a, b, c = (
        ev.load_qqp(sample=500, seed=3),
        ev.load_qqp(sample=500, seed=3),
        ev.load_qqp(sample=500, seed=4),
    )
    assert len(a) == 500 and a.equals(b) and not a.equals(c)
    assert a.id.is_monotonic_increasing and a.id.is_unique
    full = ev.load_qqp()
    assert full.set_index("id").loc[a.id].reset_index().equals(a)
    with pytest.raises(ValueError, match="sample must be an int"):
        ev.load_qqp(sample=80855)
    with pytest.raises(ValueError, match="sample must be an int"):
        ev.load_qqp(sample=True)


def test_mrpc(data_dir):
    df = ev.load_mrpc()
    assert len(df) == 1725 and int(df.label.sum()) == 1147 and int((df.label == 0).sum()) == 578
    assert not df.text_a.iloc[0].startswith("\ufeff")
    assert df.text_a.iloc[0].startswith("PCCW's chief operating officer")
    assert df.id_a.str.isdigit().all() and df.id_b.str.isdigit().all()


def test_gptcache_mock(data_dir):
    df = ev.load_gptcache_mock()
    assert list(df.columns) == ["origin", "similar"] and len(df) == 999
    assert df.origin.nunique() == 964  # the duplicates the protocol's docstring speaks of


@pytest.mark.parametrize(("split", "rows"), [("train", 10003), ("test", 3080)])
def test_banking77(data_dir, split, rows):
    df = ev.load_banking77(split)
    assert list(df.columns) == ["text", "category"] and len(df) == rows
    names = json.loads((data_dir / "cache" / "banking77" / "categories.json").read_text())
    assert len(names) == 77 and set(df.category) == set(names)


def test_osschat(data_dir):
    df = ev.load_osschat()
    assert list(df.columns) == ["cluster", "member", "text"] and len(df) == 607
    clusters = ev._clusters(df)
    assert len(clusters) == 233
    sizes = Counter(len(c) for c in clusters)
    assert sizes == {2: 177, 3: 28, 4: 13, 5: 6, 6: 3, 7: 1, 9: 2, 10: 1, 16: 1, 18: 1}
    raw = json.loads(
        (data_dir / "cache" / "osschat_user_questions" / "cluster_user_questions.json").read_text()
    )
    assert clusters == raw


def test_missing_file_names_path_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENOPS_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        ev.load_meancache_qqp()
    msg = str(e.value)
    assert str(tmp_path / "cache" / "meancache_qqp_test" / "test.csv") in msg
    assert "TOKENOPS_DATA_DIR" in msg
    with pytest.raises(FileNotFoundError, match="TOKENOPS_DATA_DIR"):
        ev.load_osschat(root=tmp_path / "elsewhere")


def test_corrupt_file_fails_its_sha256(tmp_path, data_dir):
    src = data_dir / "cache" / "gptcache_mock" / "mock_data.json"
    dst = tmp_path / "gptcache_mock" / "mock_data.json"
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    assert len(ev.load_gptcache_mock(root=tmp_path)) == 999
    dst.write_bytes(src.read_bytes().replace(b"Hugging Face", b"Hugging-Face", 1))
    with pytest.raises(ValueError, match="sha256"):
        ev.load_gptcache_mock(root=tmp_path)
    assert len(ev.load_gptcache_mock(root=tmp_path, verify=False)) == 999


def test_bad_loader_arguments():
    with pytest.raises(ValueError, match="split must be"):
        ev.load_banking77("dev")
    with pytest.raises(ValueError, match="unknown cache evaluation file"):
        ev.data_path("squad")


def test_evaluate_imports_no_pandas():
    code = "import sys, tokenops.cache.evaluate; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------ metrics
def test_sweep_matches_sklearn_on_random_arrays():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for trial in range(20):
        n = int(rng.integers(5, 60))
        y = rng.integers(0, 2, n)
        s = np.round(rng.random(n), 2)  # ties at the threshold are hits
        vetoed = rng.random(n) < 0.2 if trial % 2 else None
        ts = [0.0, 0.25, 0.5, 0.73, 1.0]
        table = ev.sweep(s, y, ts, vetoed=vetoed)
        for t, row in zip(ts, table.itertuples()):
            pred = ((s >= t) & ~(np.zeros(n, bool) if vetoed is None else vetoed)).astype(int)
            tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
            assert (row.tp, row.fp, row.fn, row.tn, row.hits) == (tp, fp, fn, tn, tp + fp)
            assert ev.confusion(s, y, t, vetoed) == (tp, fp, fn, tn)
            np.testing.assert_allclose(row.precision, skm.precision_score(y, pred, zero_division=np.nan))
            np.testing.assert_allclose(row.recall, skm.recall_score(y, pred, zero_division=np.nan))
            np.testing.assert_allclose(row.f1, skm.f1_score(y, pred, zero_division=np.nan))
            fhr = fp / (fp + tn) if fp + tn else np.nan
            np.testing.assert_allclose(row.false_hit_rate, fhr)


def test_sweep_by_hand():
    s = [0.95, 0.9, 0.85, 0.8, 0.7]
    y = [1, 0, 1, 0, 1]
    row = ev.sweep(s, y, [0.85]).iloc[0]
    # hits: 0.95 (tp), 0.9 (fp), 0.85 (tp); 0.8 tn; 0.7 fn
    assert (row.tp, row.fp, row.fn, row.tn) == (2, 1, 1, 1)
    assert row.precision == pytest.approx(2 / 3) and row.recall == pytest.approx(2 / 3)
    assert row.f1 == pytest.approx(2 / 3) and row.false_hit_rate == pytest.approx(1 / 2)
    none = ev.sweep(s, y, [0.99]).iloc[0]
    assert none.hits == 0 and np.isnan(none.precision) and none.recall == 0 and none.f1 == 0
    empty = ev.sweep([0.5], [0], [0.9]).iloc[0]  # no duplicates, no hits: nothing to score
    assert np.isnan(empty.precision) and np.isnan(empty.recall) and np.isnan(empty.f1)
    assert empty.false_hit_rate == 0
    vet = ev.sweep(s, y, [0.85], vetoed=[False, True, False, False, False]).iloc[0]
    assert (vet.tp, vet.fp, vet.false_hit_rate) == (2, 0, 0.0)


def test_sweep_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        ev.sweep([0.1, 0.2], [1], [0.5])
    with pytest.raises(ValueError, match="0 or 1"):
        ev.sweep([0.1, 0.2], [1, 2], [0.5])
    with pytest.raises(ValueError, match="vetoed has 1 entries"):
        ev.sweep([0.1, 0.2], [1, 0], [0.5], vetoed=[True])


def test_precision_at_recall_picks_the_best_threshold_reaching_the_recall():
    table = pd.DataFrame(
        {
            "guards": ["none"] * 3 + ["g"] * 2,
            "threshold": [0.7, 0.8, 0.9, 0.7, 0.8],
            "precision": [0.6, 0.7, 0.9, 0.8, 0.85],
            "recall": [0.9, 0.6, 0.3, 0.5, 0.4],
        }
    )
    got = ev.precision_at_recall(table, (0.5, 0.6, 0.95)).set_index(["guards", "recall_at_least"])
    assert got.loc[("none", 0.5), "precision"] == 0.7 and got.loc[("none", 0.5), "threshold"] == 0.8
    assert got.loc[("g", 0.5), "precision"] == 0.8
    assert np.isnan(got.loc[("g", 0.6), "precision"]) and np.isnan(got.loc[("none", 0.95), "precision"])


# ------------------------------------------------------------------------------------ a fake embedder
class FakeEmbedder:
    """Embeds known texts as given vectors (unit-normalised); counts the texts it embeds."""

    name = "fake"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {k: np.asarray(v, np.float32) / np.linalg.norm(v) for k, v in vectors.items()}
        self.dim = len(next(iter(vectors.values())))
        self.calls: list[list[str]] = []

    def embed(self, texts, **kwargs):
        self.calls.append(list(texts))
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def _unit(angle_deg: float, axis: int = 0, dim: int = 6) -> list[float]:
    """A vector at ``angle_deg`` from basis vector ``axis`` towards ``axis + 1``: its cosine
    with the basis vector is cos(angle)."""
    v = [0.0] * dim
    a = np.deg2rad(angle_deg)
    v[axis], v[(axis + 1) % dim] = float(np.cos(a)), float(np.sin(a))
    return v


def test_pair_scores_embed_each_string_once():
    fake = FakeEmbedder({"a": [1, 0], "b": [1, 1], "c": [0, 2]})
    s = ev.pair_scores(["a", "a", "b"], ["b", "c", "c"], fake)
    np.testing.assert_allclose(s, [np.sqrt(0.5), 0.0, np.sqrt(0.5)], atol=1e-6)
    assert sorted(t for call in fake.calls for t in call) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="differ in length"):
        ev.pair_scores(["a"], [], fake)
    with pytest.raises(TypeError, match=r"text_b\[0\] is int"):
        ev.pair_scores(["a"], [3], fake)
    with pytest.raises(TypeError, match="embed"):
        ev.pair_scores(["a"], ["b"], object())


def test_guard_bits_and_guarded_sweep():
    a = [
        "What is 15% of 80?",
        "Which foods are not vegan?",
        "How do I learn Python?",
        "How do I learn Python?",
    ]
    b = ["What is 15% of 90?", "Which foods are vegan?", "How do I learn Java?", "how can i learn python"]
    bits = ev.pair_guard_bits(a, b)
    for x, y, bit in zip(a, b, bits):
        assert ev.guard_mask(guard(x, y, guards=GUARDS)) == int(bit)
    assert ev.guard_mask(["numbers"]) & int(bits[0]) and not int(bits[3])
    scores, labels = np.array([0.95, 0.95, 0.95, 0.95]), np.array([0, 0, 0, 1])
    table = ev.guarded_sweep(scores, labels, bits, [0.9])
    assert set(table.guards) == {"none", *GUARDS, "default"}
    by = table.set_index("guards")
    # the default guards (numbers, negation) leave the Python / Java pair, entities vetoes it
    assert by.loc["none", "fp"] == 3 and by.loc["default", "fp"] == 1 and by.loc["default", "tp"] == 1
    assert by.loc["numbers", "fp"] == 2 and by.loc["negation", "fp"] == 2 and by.loc["entities", "fp"] == 2
    assert by.loc["default", "vetoed"] == 0.5
    plain = ev.sweep(scores, labels, [0.9])
    assert (
        table[table.guards == "none"].drop(columns=["guards", "vetoed"]).reset_index(drop=True).equals(plain)
    )
    with pytest.raises(ValueError, match="unknown cache guard"):
        ev.guard_mask(["dates"])


def test_evaluate_pairs_end_to_end_with_a_fake_embedder():
    vec = {"q1": _unit(0), "q2": _unit(10), "q3": _unit(40), "q4": _unit(0, 2)}
    pairs = pd.DataFrame({"text_a": ["q1", "q1", "q1"], "text_b": ["q2", "q3", "q4"], "label": [1, 1, 0]})
    table = ev.evaluate_pairs(pairs, FakeEmbedder(vec), [0.9, 0.7], configs={"none": ()})
    # cosines: cos 10 deg = 0.985, cos 40 deg = 0.766, 0
    assert table.tp.tolist() == [1, 2] and table.fp.tolist() == [0, 0] and table.fn.tolist() == [1, 0]


# ------------------------------------------------------------------------------------ protocols
def _osschat_fixture():
    # cluster a: its query is 10 degrees from its member (cos 0.985)
    # cluster b: its query is 30 degrees from its own member (cos 0.866) but 20 degrees (cos 0.940)
    #            from cluster a's member: above 0.94 a miss, from 0.94 down to 0.866 an fp
    # cluster c: a lone query on an axis of its own; cluster e's lone query sits on the same
    #            axis, so e would hit c if the protocol inserted queries or misses
    # cluster d: its query differs from its member only in a number (cos 1): the numbers guard
    #            vetoes it
    vec = {
        "qa": _unit(0),
        "ma": _unit(10),
        "qb": _unit(30),
        "mb": _unit(60),
        "qc": _unit(0, 3),
        "qe": _unit(0, 3),
        "qd is 5": _unit(0, 2),
        "qd is 6": _unit(0, 2),
    }
    clusters = [["qa", "ma"], ["qb", "mb"], ["qc"], ["qd is 5", "qd is 6"], ["qe"]]
    return clusters, FakeEmbedder(vec)


def test_osschat_protocol_by_hand():
    clusters, fake = _osschat_fixture()
    got = ev.osschat_protocol(
        clusters, (0.99, 0.95, 0.9), fake, configs={"none": (), "numbers": ("numbers",)}
    )
    rows = {(r.guards, r.threshold): (r.tp, r.fp, r.miss) for r in got.itertuples()}
    # qd hits its member (cos 1) at every threshold without guards; qa hits ma from 0.985 down
    assert rows[("none", 0.99)] == (1, 0, 4)
    assert rows[("none", 0.95)] == (2, 0, 3)
    assert rows[("none", 0.9)] == (2, 1, 2)  # qb takes ma (0.940)
    assert rows[("numbers", 0.99)] == (0, 0, 5)
    assert rows[("numbers", 0.9)] == (1, 1, 3)
    assert set(got.queries) == {5}
    # the memo embedder embeds every text at most once over the six caches
    seen = Counter(t for call in fake.calls for t in call)
    assert max(seen.values()) == 1


def test_osschat_protocol_takes_the_loader_frame():
    clusters, fake = _osschat_fixture()
    frame = pd.DataFrame(
        [(c, m, q) for c, cl in enumerate(clusters) for m, q in enumerate(cl)],
        columns=["cluster", "member", "text"],
    ).sample(frac=1, random_state=0)
    a = ev.osschat_protocol(frame, (0.9,), fake, configs={"none": ()})
    b = ev.osschat_protocol(clusters, (0.9,), fake, configs={"none": ()})
    assert a.equals(b)
    with pytest.raises(ValueError, match="cluster 1 must be a non-empty list"):
        ev.osschat_protocol([["a"], []], (0.9,), fake)


def test_gptcache_mock_protocol_by_hand():
    vec = {
        "o0": _unit(0),
        "s0": _unit(10),
        "dup": _unit(0, 2),
        "s1": _unit(5, 2),
        "s2": _unit(5, 2),
        "o3": _unit(0, 4),
        "s3": _unit(60, 4),
    }
    # rows 1 and 2 share their origin text: the later put (id 2) answers for both
    pairs = pd.DataFrame({"origin": ["o0", "dup", "dup", "o3"], "similar": ["s0", "s1", "s2", "s3"]})
    got = ev.gptcache_mock_protocol(pairs, (0.95, 0.4), FakeEmbedder(vec), configs={"none": ()})
    assert got[["threshold", "positive", "negative", "miss"]].values.tolist() == [
        [0.95, 2, 1, 1],
        [0.4, 3, 1, 0],
    ]


def test_banking77_stream_by_hand():
    # intents A and B on orthogonal axes; "b-like-a" is intent B but embeds next to A
    vec = {
        "a1": _unit(0),
        "a2": _unit(5),
        "a3": _unit(8),
        "b1": _unit(0, 2),
        "b2": _unit(6, 2),
        "b-like-a": _unit(3),
    }
    queries = pd.DataFrame(
        {"text": ["a1", "b1", "a2", "b-like-a", "b2", "a3"], "category": ["A", "B", "A", "B", "B", "A"]}
    )
    got = ev.banking77_stream(queries, (0.99, 0.9), FakeEmbedder(vec), seed=None, configs={"none": ()})
    by = got.set_index("threshold")
    # 0.9: a1 miss, b1 miss, a2 hit (A), b-like-a hit (A: wrong), b2 hit (B), a3 hit (A)
    assert (by.loc[0.9, "hits"], by.loc[0.9, "wrong_hits"], by.loc[0.9, "entries"]) == (4, 1, 2)
    assert by.loc[0.9, "hit_rate"] == pytest.approx(4 / 6) and by.loc[0.9, "wrong_hit_rate"] == 0.25
    # 0.99 (8.1 degrees): a2 (5 deg from a1), b-like-a (3 from a1), b2 (6 from b1), a3 (8 from a1)
    assert (by.loc[0.99, "hits"], by.loc[0.99, "wrong_hits"]) == (4, 1)
    first = ev.banking77_stream(queries, (0.9,), FakeEmbedder(vec), n=2, seed=None, configs={"none": ()})
    assert (first.queries[0], first.hits[0], first.entries[0]) == (2, 0, 2)
    shuffled = [
        ev.banking77_stream(queries, (0.9,), FakeEmbedder(vec), seed=s, configs={"none": ()}) for s in (1, 1)
    ]
    assert shuffled[0].equals(shuffled[1])
    with pytest.raises(ValueError, match="n must be an int"):
        ev.banking77_stream(queries, (0.9,), FakeEmbedder(vec), n=7)


def test_published_tables_are_the_readme_tables(data_dir):
    readme = (data_dir / "cache" / "README.md").read_text(encoding="utf-8")
    mock_line = readme.replace(" positive / ", "/").replace(" negative / ", "/")
    for r in ev.OSSCHAT_PUBLISHED:
        assert f"| {r['tp']} | {r['fp']} | {r['miss']} |" in readme
    for r in ev.GPTCACHE_MOCK_PUBLISHED:
        assert f"{r['gptcache_threshold']} → {r['positive']}/{r['negative']}/{r['miss']}" in mock_line
    for name, (rel, digest) in ev.FILES.items():
        assert f"`{digest}`" in readme and rel.split("/")[-1] in readme, name


def test_plot_precision_recall():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    table = ev.guarded_sweep([0.9, 0.8, 0.7], [1, 0, 1], [0, 1, 0], [0.75, 0.85])
    ax = ev.plot_precision_recall(table)
    assert [line.get_label() for line in ax.get_lines()] == ["guards: none", "guards: default"]
    with pytest.raises(ValueError, match="no rows for guard configuration 'x'"):
        ev.plot_precision_recall(table, configs=("x",))


# ------------------------------------------------------------------------------------ notebook
def test_semantic_cache_notebook_runs(data_dir, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(REPO / "notebooks" / "semantic_cache_eval.ipynb", as_version=4)
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "MeanCache QQP test split: 9,042 pairs, 4,521 duplicates" in text
    assert "Published (GPTCache, albert-small" in text and "notebook ran in" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
