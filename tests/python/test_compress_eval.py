"""tokenops.compress.evaluate: metrics, baselines, the issue's quality targets that are cheap to
check, and the evaluation notebook executed top to bottom."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenops.compress import Compressor
from tokenops.compress import evaluate as ev

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def comp() -> Compressor:
    return Compressor("gpt-4o")


def test_squad_normalisation_and_survival() -> None:
    assert ev.normalize_answer("The  Eiffel-Tower, in PARIS!") == "eiffeltower in paris"
    assert ev.normalize_answer("an apple a day") == "apple day"
    assert ev.survives(["the Pacific Ocean"], "It borders pacific ocean waters.")
    assert not ev.survives(["Atlantic"], "It borders the Pacific.")
    assert not ev.survives([""], "anything")


def test_number_retention() -> None:
    assert ev.number_retention("a 1 b 2 c 2", "1 2 2") == 1.0
    assert ev.number_retention("a 1 b 2 c 2", "1 2") == pytest.approx(2 / 3)
    assert ev.number_retention("no numbers", "") == 1.0
    assert ev.number_retention("3.14 and 1,000", "3 14 1000") == 0.0


def test_split_sentences_round_trips() -> None:
    for t in ["", "One. Two? Three!", "a\n\nb. c", "...leading dots. x", "no end", 'He said "hi." Then left.']:
        assert "".join(ev.split_sentences(t)) == t


def test_baselines_respect_the_budget(comp: Compressor) -> None:
    base = ev.Baselines(comp.encoding)
    items = ev.load_leval("multidoc_qa")[:3]
    for it in items:
        n = comp.count(it.context)
        for b in (n // 2, n // 5):
            for out in (base.truncate(it.context, b), base.random_drop(it.context, b),
                        base.overlap_selector(it.context, it.question, b)):
                assert comp.count(out) <= b
    # the overlap selector keeps the sentence sharing the question's words
    text = "Cats sleep a lot. The Eiffel Tower is in Paris. Dogs bark."
    assert "Eiffel" in base.overlap_selector(text, "Where is the Eiffel Tower?", 9)


def test_overlap_selector_uses_its_budget() -> None:
    # each sentence's trailing space was counted as a token of its own: at 1x it dropped
    # sentences (11 of 20 tokens); the summed counts now match the text's
    comp = Compressor("gpt-4o")
    base = ev.Baselines(comp.encoding)
    text = "The capital of France is Paris. Cats sleep. Dogs bark a lot at night in the city."
    assert base.overlap_selector(text, "What is the capital of France?", comp.count(text)) == text
    for it in ev.load_meetingbank()[:5]:
        sents, counts, _ = base._sentences(it.context)
        assert "".join(sents) == it.context
        assert abs(sum(counts) - comp.count(it.context)) <= 0.01 * comp.count(it.context)


def test_run_survival_refuses_settings_of_one_label(comp: Compressor) -> None:
    items = ev.load_meetingbank()[:1]
    with pytest.raises(ValueError, match="same setting label twice"):
        ev.run_survival(items, {"truncation": ev.default_methods(comp)["truncation"]}, ratios=(3, 3.0000001))
    with pytest.raises(ValueError, match="compressor is for 'gpt-4o'"):
        ev.default_methods(comp, model="gpt-4")


def test_nq_prompts_have_distinct_distractors_and_no_label_answers() -> None:
    items = ev.load_nq_positions(n_questions=200, positions=(10,))
    labels = ev.normalize_answer(" ".join(f"Document [{k}]" for k in range(1, 21)))
    for it in items:
        texts = [p.split(") ", 1)[1] for p in it.passages]
        assert len(set(texts)) == len(texts)  # a passage came twice in 3 of the 60 default prompts
        assert not any(a and f" {a} " in f" {labels} " for a in map(ev.normalize_answer, it.answers))
        assert ev.survives(it.answers, it.passages[9]) and not any(ev.survives(it.answers, p) for p in
                                                                     it.passages[:9] + it.passages[10:])


def test_gsm8k_numbers_all_kept_with_force_digits(comp: Compressor) -> None:
    df = ev.gsm8k_number_retention(comp, ratios=(2.0, 3.0, 5.0))
    assert (df["tokenops"] == 1.0).all()
    assert (df["truncation"] < 1.0).all()
    # at 5x tokenops goes over budget for the numbers; the baselines get the same tokens
    five = df[df.ratio == "5x"].iloc[0]
    assert five.forced_over_budget and five.achieved > five.target
    demos = ev.load_gsm8k_demos()
    assert five.truncation == ev.number_retention(demos, comp.encoding.truncate(demos, int(five.achieved)))


def test_position_controlled_nq_target(comp: Compressor) -> None:
    """Issue target: question-aware packing keeps the gold answer in >= 90% of prompts at every
    gold position at 4x (on a 30-question sample here; the notebook runs 60)."""
    items = ev.load_nq_positions(n_questions=30)
    df = ev.run_survival(items, {"pack": ev.pack_method()}, ratios=(4.0,), dataset="nq20")
    by_pos = df.groupby("gold_position")["survived"].mean()
    assert len(by_pos) == 5
    assert by_pos.min() >= 0.9, by_pos


def test_run_survival_and_tables(comp: Compressor) -> None:
    items = ev.load_meetingbank()[:20]
    df = ev.run_survival(items, ev.default_methods(comp), ratios=(3.0,), budgets=(500,), dataset="mb")
    assert set(df["method"]) == {"tokenops", "tokenops (no question)", "truncation", "random drop", "overlap selector"}
    t = ev.survival_table(df)
    assert t.shape[1] == 5 and ((t >= 0) & (t <= 1)).all().all()
    m = ev.margin_table(df)
    assert {"margin", "best baseline"} <= set(m.columns)
    s = ev.summarize(df)
    tok = s[s.method == "tokenops"]
    assert (tok["over_budget"] == 0).all()
    assert (tok["achieved_ratio"] >= tok["requested_ratio"] * 0.98).all()


def test_notebook_executes() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(REPO / "notebooks" / "compression_eval.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "proxy" in outputs and "pack at 4x" in outputs
    assert "Traceback" not in outputs
