"""tokenops.compress: API, budgets, protection, bad input, batch/thread determinism, packing."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
import tokenops
from tokenops.compress import Compressor, compress, compress_batch, pack, pack_chat
from tokenops.compress import evaluate as ev

REPO = Path(__file__).resolve().parents[2]
TINY_BERT = REPO / "tests" / "fixtures" / "embed" / "tiny_bert"

PROSE = (
    "The committee met on 12 March 2024 in Geneva. It was a very long meeting and the room was warm. "
    "The budget of $4.5 million was approved by the members of the board. Everyone was tired and the "
    "coffee was cold. Dr. Maria Lopez of the World Health Organization presented the report on "
    "https://example.org/report?id=7 to the delegates. The weather in the city was grey and it rained "
    "in the afternoon. The next meeting is planned for June.\n"
)


@pytest.fixture(scope="module")
def comp() -> Compressor:
    return Compressor("gpt-4o")


@pytest.fixture(scope="module")
def nq_doc(data_dir: Path) -> tuple[str, str, str]:
    items = ev.load_leval("natural_question", data_dir / "compression")
    it = items[0]
    return it.context, it.question, it.answers[0]


def test_import_is_light() -> None:
    code = (
        "import sys, tokenops; "
        "bad = [m for m in ('wordfreq', 'pandas', 'matplotlib', 'IPython') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0


def test_module_is_callable_and_result_fields() -> None:
    text = PROSE * 4
    r = tokenops.compress(text, rate=0.5)
    assert r is not None and isinstance(r.text, str)
    enc = tokenops.encoding_for_model("gpt-4o")
    assert r.original_tokens == enc.count(text)
    assert r.compressed_tokens == enc.count(r.text)
    assert r.target_tokens == round(0.5 * r.original_tokens)
    assert r.within_tolerance and r.compressed_tokens <= r.target_tokens
    assert r.ratio == pytest.approx(r.original_tokens / r.compressed_tokens)
    assert r.rate == pytest.approx(1 / r.ratio)
    assert len(r.units) == len(r.scores) == len(r.kept_mask)
    assert "".join(u.text for u in r.units if u.kept).replace(" ", "") in r.text.replace(" ", "").replace("\n", "") or True
    html = r._repr_html_()
    assert "line-through" in html and "#d7f5d7" in html
    assert tokenops.compress.pack is pack  # the module keeps its attributes


@pytest.mark.parametrize("rate", [0.8, 0.5, 0.33, 0.2])
def test_achieved_count_within_tolerance(comp: Compressor, nq_doc: tuple[str, str, str], rate: float) -> None:
    text = nq_doc[0][:20000]
    for question in (None, nq_doc[1]):
        r = comp.compress(text, question, rate=rate, force_digits=False)
        tol = max(5, int(0.01 * r.target_tokens))
        assert r.compressed_tokens <= r.target_tokens
        assert r.target_tokens - r.compressed_tokens <= tol, (rate, question, r)
        assert r.within_tolerance


def test_target_tokens_and_unchanged_when_budget_exceeds_text(comp: Compressor) -> None:
    r = comp.compress(PROSE * 5, target_tokens=120)
    assert r.compressed_tokens <= 120 and r.within_tolerance
    same = comp.compress(PROSE, target_tokens=10_000)
    assert same.text == PROSE and same.ratio == 1.0
    assert comp.compress(PROSE, rate=1.0).text == PROSE


def test_digits_urls_force_tokens_and_protected_spans(comp: Compressor) -> None:
    text = PROSE * 3
    for rate in (0.6, 0.4):
        # dedup off: the repeated paragraphs would otherwise go first, as duplicates
        r = comp.compress(text, rate=rate, protect=["the coffee was cold"], dedup=False)
        for must in ("12", "2024", "4.5", "https://example.org/report?id=7", "the coffee was cold"):
            assert r.text.count(must) == text.count(must), (must, rate, r.text)
        assert r.text.rstrip().endswith((".", "\n"))
    digits_in = re.findall(r"\d", text)
    assert re.findall(r"\d", comp.compress(text, rate=0.3, dedup=False).text) == digits_in


def test_entities_are_never_cut(comp: Compressor) -> None:
    r = comp.compress(PROSE * 3, rate=0.4)
    kept_entity_units = [u for u in r.units if "entity" in u.flags]
    # an entity span is kept or dropped whole: "World Health Organization" never loses a word
    assert ("World Health Organization" in r.text) or ("Health" not in r.text)
    assert kept_entity_units


def test_json_escaped_letters_stay_in_their_words() -> None:
    # json.dumps escapes non-ASCII by default: "K\\u00f6ln" is one word, as "Köln" is (each escape
    # was a punctuation unit, so words lost letters: "Z rich", "nstliche", "ln")
    desc = ("Die Konferenz in Zürich über künstliche Intelligenz fand im Frühjahr statt. Viele Teilnehmer aus "
            "München, Köln und Genf diskutierten über Datenschutz und die Zukunft der Forschung. ") * 3
    words = set(desc.replace(".", " ").replace(",", " ").split())
    for rate in (0.2, 0.3, 0.5):
        r = compress(json.dumps({"description": desc, "zh": "中文的句子很长。" * 4, "e": "😀 ok 😀" * 3}),
                     rate=rate, structure="json")
        d = json.loads(r.text)
        assert set(d["description"].replace(".", " ").replace(",", " ").split()) <= words, rate
        assert set(d["zh"]) <= set("中文的句子很长。") and set(d["e"]) <= set("😀 ok")
    # a connector after an escaped letter is read after that letter, not after the escape's last
    # hex digit ("Caf\\u00e9,2024" was one unit, as if "9,2024" were a number)
    units = [u.text for u in compress(json.dumps({"k": "Café,2024 und mehr"}), rate=0.9, structure="json").units]
    assert "Caf\\u00e9" in units and "2024" in units
    # escaped CJK characters are character units; an escaped surrogate pair is one unit
    r = compress(json.dumps({"t": "中文" * 40 + " 😀"}), rate=0.5, structure="json")
    assert "\\u4e2d" in [u.text for u in r.units] and "\\ud83d\\ude00" in [u.text for u in r.units]
    # a long word of escapes is cut between escapes, never inside one
    r = compress(json.dumps({"k": "é" * 200 + " word" * 60}), rate=0.3, structure="json")
    assert json.loads(r.text)["k"].strip("é ").replace("word", "").strip() == ""


def test_json_structure_mode_keeps_valid_json(comp: Compressor, data_dir: Path) -> None:
    doc = {
        "title": "Quarterly report of the northern region and its many subsidiaries",
        "summary": "Revenue grew in every quarter, driven by strong demand and the new product line. "
        "Costs were flat. \"Quoted\" text and unicode caf\u00e9 \u6771\u4eac stay intact.",
        "items": [{"name": "widget", "note": "a very small but quite useful part of the machine"}] * 3,
        "n": 42,
        "ok": True,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    for rate in (0.8, 0.6, 0.4):
        r = comp.compress(text, rate=rate, structure="json")
        out = json.loads(r.text)  # valid JSON
        assert set(out) == set(doc) and out["n"] == 42 and out["ok"] is True
        assert len(out["items"]) == 3
    with pytest.raises(ValueError, match="invalid JSON"):
        comp.compress('{"a": [1, 2}', structure="json")
    with pytest.raises(ValueError, match="structure"):
        comp.compress(text, structure="xml")


def test_cjk_is_compressed_per_character(data_dir: Path) -> None:
    text = (data_dir / "corpus" / "zh_classics_plain.txt").read_text("utf-8")[:3000]
    c = Compressor("gpt-4o", language="zh", bigram=False)
    r = c.compress(text, rate=0.5)
    assert r.within_tolerance
    chars = [u for u in r.units if u.kind == "char"]
    assert chars and all(len(u.text) == 1 for u in chars)
    # output is a subsequence of the original characters (no character split or invented)
    it = iter(text)
    assert all(ch in it for ch in r.text if not ch.isspace())


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        ({"target_tokens": 0}, ValueError, "positive"),
        ({"target_tokens": -3}, ValueError, "positive"),
        ({"rate": 0.0}, ValueError, r"\(0, 1\]"),
        ({"rate": 1.5}, ValueError, r"\(0, 1\]"),
        ({"rate": -0.2}, ValueError, r"\(0, 1\]"),
        ({"rate": float("nan")}, ValueError, r"\(0, 1\]"),
        ({"rate": 0.5, "target_tokens": 10}, ValueError, "not both"),
        ({"rate": "0.5"}, TypeError, "rate"),
        ({"target_tokens": 2.5}, TypeError, "target_tokens"),
    ],
)
def test_bad_budgets(kwargs: dict, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        compress(PROSE, **kwargs)


def test_bad_text_inputs() -> None:
    with pytest.raises(TypeError, match="decode"):
        compress(b"\xff\xfe invalid utf-8 bytes", rate=0.5)
    for bad in (None, 42, ["a"]):
        with pytest.raises(TypeError, match="text must be str"):
            compress(bad, rate=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="question must be str"):
        compress(PROSE, question=3, rate=0.5)  # type: ignore[arg-type]
    empty = compress("", rate=0.5)
    assert empty.text == "" and empty.original_tokens == 0 and empty.compressed_tokens == 0
    # lone surrogates (no UTF-8 form) are replaced, never a crash
    r = compress("abc \ud800 def " * 20, rate=0.5)
    assert isinstance(r.text, str)
    with pytest.raises(KeyError, match="unknown model"):
        compress(PROSE, rate=0.5, model="no-such-model-xyz")
    with pytest.raises(TypeError):
        compress_batch("not a list", rate=0.5)


def test_duplicates_are_dropped_first(comp: Compressor) -> None:
    footer = "This message and any attachments are confidential and intended only for the addressee.\n"
    other = ("Sales in the southern stores rose after the holiday campaign. The warehouse moved to a "
             "larger site near the port, and delivery times fell for most customers.\n")
    text = footer + PROSE + footer + other + footer
    r = comp.compress(text, rate=0.75)
    assert r.text.count("confidential") == 1
    assert (r._raw["duplicate_of"] >= 0).sum() >= 2


def test_batch_matches_single_for_any_thread_count(comp: Compressor, nq_doc: tuple[str, str, str]) -> None:
    texts = [nq_doc[0][i * 3000 : (i + 1) * 3000] for i in range(8)]
    qs = [nq_doc[1]] * len(texts)
    one = comp.compress_batch(texts, qs, rate=0.4, num_threads=1)
    four = comp.compress_batch(texts, qs, rate=0.4, num_threads=4)
    assert [r.text for r in one] == [r.text for r in four]
    assert [r.text for r in one] == [comp.compress(t, q, rate=0.4).text for t, q in zip(texts, qs)]
    with pytest.raises(ValueError, match="one entry per text"):
        comp.compress_batch(texts, qs[:2], rate=0.4)


def test_concurrent_calls_from_threads(comp: Compressor, nq_doc: tuple[str, str, str]) -> None:
    text = nq_doc[0][:15000]
    expected = comp.compress(text, nq_doc[1], rate=0.3).text
    results: list[str] = []
    errors: list[Exception] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(comp.compress(text, nq_doc[1], rate=0.3).text)
        except Exception as e:  # noqa: BLE001  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 12 and set(results) == {expected}


def test_question_aware_keeps_the_answer(comp: Compressor, nq_doc: tuple[str, str, str]) -> None:
    text, q, a = nq_doc
    r = comp.compress(text, q, rate=0.2)
    assert ev.survives([a], r.text)


def test_pack_and_lost_in_the_middle(data_dir: Path) -> None:
    items = ev.load_nq_positions(n_questions=5, positions=(10,), root=data_dir / "compression")
    kept = 0
    for it in items:
        total = tokenops.encoding_for_model("gpt-4o").count(it.context)
        p = pack(it.passages, it.question, total // 4, separator="\n")
        assert p.total_tokens <= total // 4
        gold = it.gold_position - 1
        if p.relevance[gold] == p.relevance.max():
            assert gold in p.selected  # the most relevant passage is always packed
        kept += gold in p.selected
        r = pack(it.passages, it.question, total // 4, reorder=True, separator="\n")
        assert r.selected[0] == int(r.relevance.argmax())
    assert kept >= 4  # one of these 5 asks "season 5 of ruby" of a page on "RWBY ... fifth Volume"
    with pytest.raises(ValueError, match="budget"):
        pack(["a"], "q", -1)
    with pytest.raises(TypeError):
        pack("a single string", "q", 10)
    dup = pack(["same words here again", "other text", "same words here again"], "same words", 100)
    assert 2 not in dup.selected and dup.duplicate_of[2] == 0
    emb = pack(["cats purr", "dogs bark"], "kittens", 100, extra_relevance=[0.9, 0.1])
    assert emb.selected
    tiny = tokenops.Embedder.load(TINY_BERT)
    with_emb = pack(["cats purr", "dogs bark", "birds sing"], "kittens", 4, embedder=tiny)
    assert with_emb.total_tokens <= 4 and len(with_emb.selected) == 1
    assert with_emb.relevance.max() > 0  # BM25 alone finds nothing for "kittens"


def _chat(turns: int, question: str, answer: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(turns):
        msgs.append({"role": "user", "content": question.format(i=i)})
        msgs.append({"role": "assistant", "content": f"Answer {i}: " + answer})
    return msgs


def test_pack_chat() -> None:
    msgs = _chat(30, "Question {i}: tell me about topic number {i} in detail please.", "some detailed explanation " * 10)
    full = tokenops.count_messages(msgs).tokens
    out = pack_chat(msgs, 400)
    assert out.tokens <= 400 and out.original_tokens == full
    assert out.messages[0] == msgs[0]
    assert out.messages[-1] == msgs[-1] and out.messages[-2] == msgs[-2]
    assert out.summary and out.messages[1]["content"] == out.summary
    assert pack_chat(msgs, full + 10).messages == msgs
    # no messages: the reply priming count_messages counts (it read 0)
    assert pack_chat([], 10).tokens == tokenops.count_messages([]).tokens == 3
    with pytest.raises(ValueError, match="budget"):
        pack_chat(msgs, 0)
    with pytest.raises(ValueError, match="keep_last"):
        pack_chat(msgs, 20, keep_last=2)
    no_summary = pack_chat(msgs, 400, summary=None)
    assert no_summary.summary is None and no_summary.tokens <= 400


def test_embedding_relevance_scorer_runs_natively() -> None:
    emb = tokenops.Embedder.load(TINY_BERT)
    c = Compressor("gpt-4o", embedder=emb, embed_weight=1.0, bm25_weight=0.0, info_weight=0.0)
    r = c.compress(PROSE * 2, "who presented the report", rate=0.5)
    assert r.within_tolerance
    scores = r.chunk_scores
    assert scores.max() > scores.min()  # embeddings separate the sentences
    with pytest.raises(TypeError, match="embedder"):
        Compressor("gpt-4o", embedder="nonsense-object")


def test_bigram_model_is_checked(tmp_path: Path) -> None:
    from tokenops.compress import models

    bad = tmp_path / "m.txt"
    bad.write_text("tokenops-bigram 1\ndiscount 0.5\nunigrams 1\nword\t0\t1\nbigrams 0\n")
    with pytest.raises(ValueError, match="positive"):
        models.bigram_model(bad)
    with pytest.raises(ValueError, match="sha256"):
        models.bigram_model(models.BIGRAM_EN, sha256="0" * 64)
    with pytest.raises(FileNotFoundError, match="train_compress_ngram"):
        models.bigram_model(tmp_path / "missing.txt")
    m = models.bigram_model()
    assert m.n_words > 1000 and m.n_bigrams > 1000


def test_bigram_model_is_reproducible(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "bigram.txt.gz"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train_compress_ngram.py"), "--data", str(data_dir), "--out", str(out)],
        check=True, capture_output=True,
    )
    from tokenops.compress import models

    assert out.read_bytes() == models.BIGRAM_EN.read_bytes()


CLASSIFIER = REPO / "tests" / "fixtures" / "compress" / "tiny_token_classifier"


def test_token_classifier_matches_transformers() -> None:
    """Parity with transformers' BertForTokenClassification (fixture regenerated by
    tests/fixtures/compress/regenerate_token_classifier.py)."""
    import numpy as np
    from tokenops.compress import models

    c = models.token_classifier(CLASSIFIER)
    ref = np.load(CLASSIFIER.parent / "tiny_token_classifier_reference.npz")
    n = len([k for k in ref.files if k.startswith("ids_")])
    assert n >= 3 and c.n_labels == 2
    for i in range(n):
        got = c.logits(ref[f"ids_{i}"])
        np.testing.assert_allclose(got, ref[f"logits_{i}"], atol=1e-5)
    with pytest.raises(ValueError, match="vocab"):
        c.logits([2, 999_999, 3])
    with pytest.raises(FileNotFoundError):
        models.token_classifier(REPO / "no-such-model")
    with pytest.raises(OSError, match="config.json"):
        models.token_classifier(REPO / "tests")


def test_token_classifier_scores_units_in_the_compressor() -> None:
    c = Compressor("gpt-4o", classifier=CLASSIFIER, classifier_weight=1.0, info_weight=0.0)
    text = PROSE * 6  # longer than the model's 64 positions: several windows
    r = c.compress(text, rate=0.5, dedup=False)
    assert r.within_tolerance
    words = [u for u in r.units if u.kind == "word" and u.score != float("inf")]
    assert len({round(u.score, 4) for u in words}) > 10  # the model's probabilities vary per word
    same = Compressor("gpt-4o", classifier=CLASSIFIER, info_weight=0.0).compress(text, rate=0.5, dedup=False)
    assert same.text == r.text  # deterministic


def test_bm25_window_scores_long_lines_in_windows() -> None:
    # one line of 40 sentences, the question's rare word in sentence 3 only: with windows the
    # sentences next to it outrank far ones; scored whole, the line adds the same to every one
    sents = ["The zeppelin landed near the old harbour wall today. " if i == 3
             else "Workers painted the long fence beside the quiet road again. " for i in range(40)]
    text = "".join(sents)
    q = "Where did the zeppelin land?"
    whole = Compressor("gpt-4o", bm25_sentence=0.0, bm25_paragraph=1.0, info_weight=0.0)
    win = Compressor("gpt-4o", bm25_sentence=0.0, bm25_paragraph=1.0, info_weight=0.0, bm25_window=40)
    a = whole.compress(text, q, rate=0.3, position_weight=0.0, dedup=False).chunk_scores
    b = win.compress(text, q, rate=0.3, position_weight=0.0, dedup=False).chunk_scores
    assert len(set(a.round(6).tolist())) == 1
    assert b[4] > 0 and b[30] == 0
    with pytest.raises(ValueError, match="bm25_window"):
        Compressor("gpt-4o", bm25_window=-1)
    with pytest.raises(ValueError, match="bm25_window"):
        Compressor("gpt-4o", bm25_window=2.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- tester findings (fix-d)
def _rome_chat() -> list[dict[str, str]]:
    return [{"role": "system", "content": "sys"}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "Tell me about Rome, part %d. " % i * 5}
        for i in range(40)
    ]


def test_pack_chat_takes_every_model_count_messages_takes() -> None:
    # The extractive summary resolved the model with compress's map: KeyError for a Claude name
    # that count_messages counts (as a labelled approximation over o200k_base).
    msgs = _rome_chat()
    counted = tokenops.count_messages(msgs, model="claude-sonnet-4-5")
    out = pack_chat(msgs, budget=500, model="claude-sonnet-4-5")
    assert out.summary and out.tokens <= 500 and out.original_tokens == counted.tokens
    assert out.kind == "approximation" and any("no public tokenizer" in n for n in out.notes)
    assert out.tokens == tokenops.count_messages(out.messages, model="claude-sonnet-4-5").tokens
    # same encoding (o200k_base) as gpt-4o, so the same packing; only the label differs
    gpt = pack_chat(msgs, budget=500, model="gpt-4o")
    assert gpt.messages == out.messages and gpt.kind == "estimate"
    fits = pack_chat(msgs[:3], budget=10_000, model="gemini-2.5-pro")
    assert fits.dropped == [] and fits.kind == "approximation"
    with pytest.raises(KeyError, match="no tokenizer is known"):
        pack_chat(msgs, budget=500, model="no-such-model-xyz")


def test_compress_and_pack_take_models_without_a_public_tokenizer() -> None:
    # A Claude/Gemini name is counted as count_messages counts it (o200k_base), labelled.
    text = PROSE * 3
    claude = tokenops.compress(text, rate=0.4, model="claude-sonnet-4-5")
    o200k = tokenops.compress(text, rate=0.4, model="o200k_base")
    assert claude.text == o200k.text and claude.compressed_tokens == o200k.compressed_tokens
    assert any("no public tokenizer" in n for n in claude.notes) and o200k.notes == ()
    assert tokenops.compress(text, rate=0.4, model="gpt-4o").notes == ()
    passages = ["Paris is the capital of France.", "Bananas are yellow.", "France borders Spain."]
    p = tokenops.pack(passages, "What is the capital of France?", budget=50, model="gemini-2.5-pro")
    assert 0 in p.selected and any("no public tokenizer" in n for n in p.notes)
    with pytest.raises(KeyError, match="unknown model or encoding 'no-such-model-xyz'"):
        tokenops.compress(text, rate=0.4, model="no-such-model-xyz")


def test_compress_batch_takes_none_for_a_row_without_a_question(comp: Compressor) -> None:
    texts = [PROSE * 3, PROSE * 2 + "Who presented the report?\n", PROSE]
    qs = [None, "Who presented the report?", None]
    single = [comp.compress(t, q, rate=0.4) for t, q in zip(texts, qs)]
    for threads in (1, 3):
        batch = comp.compress_batch(texts, qs, rate=0.4, num_threads=threads)
        assert [r.text for r in batch] == [r.text for r in single]
        assert [r.compressed_tokens for r in batch] == [r.compressed_tokens for r in single]
    assert [r.text for r in compress_batch(texts, qs, rate=0.4)] == [r.text for r in single]
    # all None is the same as no questions
    assert [r.text for r in comp.compress_batch(texts, [None] * 3, rate=0.4)] == \
        [r.text for r in comp.compress_batch(texts, None, rate=0.4)]
    # an empty list used to mean "no questions" for any number of texts
    with pytest.raises(ValueError, match="one entry per text"):
        comp.compress_batch(texts, [], rate=0.4)
    with pytest.raises(TypeError, match="must be str"):
        comp.compress_batch(texts, [None, 3, None], rate=0.4)  # type: ignore[list-item]


def test_pack_spends_no_tokens_on_passages_unrelated_to_the_question() -> None:
    passages = ["Paris is the capital of France.", "Bananas are yellow.", "France borders Spain."]
    r = pack(passages, "What is the capital of France?", 100)
    assert r.relevance[1] == 0 and r.selected == [0, 2] and "Bananas" not in r.text
    assert r.total_tokens == tokenops.encoding_for_model("gpt-4o").count(r.text)
    filled = pack(passages, "What is the capital of France?", 100, fill_irrelevant=True)
    assert filled.selected == [0, 1, 2]
    # no passage relates to the question: nothing to rank by, the passages are taken as they fit
    assert pack(passages, "", 100).selected == [0, 1, 2]
    assert pack(passages, "zebra", 100).selected == [0, 1, 2]
    # the irrelevant passage is no candidate at all: MMR had ranked it above a redundant relevant
    # one, which then no longer fitted (dropping it after the selection left budget unused)
    a = ("The capital of France is Paris, a large city on the Seine river with many museums and "
         "famous old bridges.")
    a2 = "The capital city on the Seine river with many museums and famous old bridges and large parks is lovely."
    q = "What is the capital of France?"
    for budget in range(44, 49):
        r = pack([a, a2, "Zebras run."], q, budget)
        assert r.selected == pack([a, a2], q, budget).selected == [0, 1], budget
        assert r.total_tokens <= budget


def test_signs_and_currencies_stay_with_their_numbers() -> None:
    filler = "The weather was quite pleasant and many people went outside to enjoy the park. "
    for s in ("The low was −40 degrees.", "A loss of -$5 today.", "A loss of $-7 today.",
              "Change −3.5% today.", "Price 5€ today.", "Cost ₹300 now.", "Range 10–20 pages.",
              "Host 2001:db8::1 today.", "Power 2**10 today."):
        number = next(w for w in s.split() if any(c.isdigit() for c in w)).rstrip(".")
        for rate in (0.3, 0.08):
            out = compress(filler * 3 + s + " " + filler * 10, rate=rate).text
            assert number in out, (s, rate, out)


def test_user_perceived_characters_are_never_split() -> None:
    units = compress("🇺🇸 flag and 🇩🇪🇫🇷 flags", rate=1.0).units
    assert [u.text for u in units if u.kind == "punct"] == ["🇺🇸", "🇩🇪", "🇫🇷"]
    assert [u.text for u in compress("คำ ຄຳ", rate=1.0).units] == ["คำ", "ຄຳ"]  # Thai / Lao SARA AM
    assert [u.text for u in compress("ស្រី ស", rate=1.0).units] == ["ស្រី", "ស"]  # Khmer coeng + consonant
    # words longer than 64 bytes are cut into pieces, never before a combining mark or inside a
    # conjunct (virama + consonant)
    for word in ("a\u0301" * 200, "क्ष" * 40, "e\u0301\u0323" * 100):
        for u in compress(word, rate=1.0).units:
            assert not unicodedata.combining(u.text[0]) and u.text[0] not in "\u094d", (word[:4], u.text[:4])
            assert u.text[-1] != "\u094d"
        out = compress(word + " filler words here", rate=0.3).text
        assert not unicodedata.combining(out[0])


def test_long_punctuation_runs_are_cut_not_dropped() -> None:
    for text in ("!" * 200, "," * 500, "." * 100_000, "-" * 3000):
        r = compress(text, rate=0.5)
        assert 0 < r.compressed_tokens <= r.original_tokens, text[:3]
        assert set(r.text) == {text[0]}
        assert r.within_tolerance, (text[:3], r.compressed_tokens, r.target_tokens)


def test_force_tokens_must_be_single_units() -> None:
    text = "Anna Pavlovna spoke. " * 20
    assert compress(text, rate=0.5, force_tokens=[".", "\n", "Anna", "??"]).text
    for bad in ("Anna Pavlovna", "", " .", ". ", "\n\n", "e.g. x"):
        with pytest.raises(ValueError, match="protect"):
            compress(text, rate=0.5, force_tokens=[bad])
    kept = compress(text, rate=0.3, protect=["Anna Pavlovna"]).text
    assert kept.count("Anna Pavlovna") == 20


def test_pack_chat_summary_reads_content_lists_and_tool_calls() -> None:
    msgs = [
        {"role": "system", "content": "You are a bank assistant."},
        {"role": "user", "content": [{"type": "text", "text": "My account number is 12345 and my name is Zed Quill. " * 5}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup_account", "arguments": '{"id": 12345}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "balance 99"},
        {"role": "assistant", "content": "Noted. " * 60},
        {"role": "user", "content": "What is my account number?"},
    ]
    r = pack_chat(msgs, 150, keep_last=1)
    assert r.summary and "12345" in r.summary and r.tokens <= 150
    assert "lookup_account" in r.summary


def test_pack_is_fast_on_many_passages_and_checks_extra_relevance_range(data_dir: Path) -> None:
    text = (data_dir / "corpus" / "en_war_and_peace.txt").read_text(encoding="utf-8")
    ps = [text[i * 500:(i + 1) * 500] for i in range(3000)]
    r = pack(ps, "Who is Pierre and Natasha?", budget=100_000)
    assert len(r.selected) > 500 and r.total_tokens <= 100_000
    # the MMR choice is a deterministic function of the inputs
    assert pack(ps, "Who is Pierre and Natasha?", budget=100_000).selected == r.selected
    with pytest.raises(ValueError, match="float32 range"):
        pack(ps[:3], "q", 100, extra_relevance=[1.0, -1e308, 0.0])


def test_batch_errors_name_the_text_and_deep_json_says_depth() -> None:
    with pytest.raises(ValueError, match=r"texts\[1\]: invalid JSON"):
        compress_batch(['{"a": "b c"}', "oops"], structure="json", rate=0.5)
    with pytest.raises(ValueError, match="deeper than 512 levels"):
        compress("[" * 1000 + '"x"' + "]" * 1000, rate=0.5, structure="json")


def test_pack_chat_just_over_budget_drops_little_for_its_summary() -> None:
    msgs = _chat(20, "Question {i}: what about topic {i}?", "a fairly short reply " * 3)
    full = tokenops.count_messages(msgs).tokens
    r = pack_chat(msgs, full - 1)
    assert r.tokens <= full - 1
    assert len(r.dropped) <= 2, (len(r.dropped), r.summary)
    # far over the budget the summary still gets its room
    small = pack_chat(msgs, full // 3)
    assert small.summary and small.tokens <= full // 3


# ----------------------------------------------------------------------------- review fixes
_FILLER = "This is some generic filler prose that talks about nothing in particular and can be removed easily. "


def test_numbers_never_merge_across_a_dropped_bracket() -> None:
    # "1998.[3]" lost its brackets and read "1998.3" (a new decimal); citation markers are now
    # one atomic group, and a word after kept punctuation across a gap gets a space
    text = _FILLER * 3 + "The firm was founded in 1998.[3] Revenue reached 45.[4] It cost $5.[1] " + _FILLER * 3
    for kwargs in ({}, {"force_tokens": []}, {"force_digits": False}):
        out = compress(text, rate=0.4, **kwargs).text
        for merged in ("1998.3", "45.4", "$5.1"):
            assert merged not in out, (kwargs, out)
    out = compress(text, rate=0.4).text
    assert "1998.[3]" in out and "45.[4]" in out and "$5.[1]" in out
    assert ev.number_retention(text, out) == 1.0


@pytest.mark.parametrize("text", [
    " ".join(w.capitalize() for w in ("the history of the roman empire from its founding to the fall of constantinople " * 6).split()),
    "NOTICE " + "ALL EMPLOYEES MUST WEAR SAFETY GOGGLES IN THE LAB AT EVERY TIME " * 8 + ".",
])
def test_title_case_and_all_caps_text_is_compressed_not_emptied(text: str) -> None:
    # one entity group of 96 words was larger than the budget: the result was "" (0 tokens)
    r = compress(text, rate=0.5)
    assert r.within_tolerance and not r.forced_over_budget, (r.compressed_tokens, r.target_tokens)
    assert r.compressed_tokens >= r.target_tokens - max(5, r.target_tokens // 100)
    # with force_entities the Title-Case groups are at most 6 words, so they still fit
    assert compress(text, rate=0.5, force_entities=True).compressed_tokens > 0


def test_a_budget_under_the_tolerance_still_keeps_something() -> None:
    r = compress("Alpha Beta Gamma Delta Epsilon Zeta", target_tokens=4)
    assert 0 < r.compressed_tokens <= 4, r.text


def test_fenced_code_follows_commonmark() -> None:
    code = "   ```python\n   def add(x, y):\n       if x:\n           return x + y\n       return y\n   ```\n"
    out = compress(_FILLER * 6 + "\n1. Define the helper:\n" + code + _FILLER * 6, rate=0.2).text
    assert code.strip() in out  # the closing fence indented 3 spaces closes the block
    # a stray ``` in prose does not pair with the next block's opening fence
    text = "Type ``` to open a block. " + _FILLER * 6 + "\n```\ndef f(a):\n    return a\n```\n" + _FILLER * 3
    r = compress(text, rate=0.3)
    assert "```\ndef f(a):\n    return a\n```" in r.text and not r.forced_over_budget
    assert [u.text for u in r.units if u.kind == "code"] == ["```\ndef f(a):\n    return a\n```"]
    # a 4-backtick block does not close at an inner 3-backtick line
    block = "````markdown\n```\nprint(1)\n```\nsome words inside the example block\n````"
    assert block in compress(_FILLER * 6 + "\n" + block + "\n" + _FILLER * 6, rate=0.3).text
    # CommonMark's other fence: ~~~ (its info string may hold backticks); a ``` line does not close it
    tilde = "~~~python `x`\ndef total(items):\n```\n    return sum(i.price for i in items)\n~~~"
    r = compress(_FILLER * 6 + "\n\n" + tilde + "\n\n" + _FILLER * 6, rate=0.15)
    assert tilde in r.text and [u.text for u in r.units if u.kind == "code"] == [tilde]
    # an unclosed ~~~ line is only its own line; ~~strikethrough~~ is prose
    r = compress("~~~~\n" + _FILLER * 6 + "~~old~~ " + _FILLER * 6, rate=0.3)
    assert [u.text for u in r.units if u.kind == "code"] == ["~~~~"] and not r.forced_over_budget


def test_blank_lines_holding_spaces_are_cut() -> None:
    # 300 blank lines holding spaces were one forced unit: 300 tokens of whitespace, every word gone
    r = compress(_FILLER * 10 + "\n" + "   \n" * 300 + _FILLER * 10, rate=0.3)
    assert not r.forced_over_budget and r.within_tolerance
    assert "   \n" not in r.text and "\n\n\n" not in r.text
    assert r.text.count("filler") >= 5


def test_non_decimal_numerals_are_digits() -> None:
    text = " ".join("Mix ½ cup of flour with ¾ cup of milk and 1 egg." for _ in range(30))
    out = compress(text, rate=0.3).text
    assert out.count("½") == out.count("¾") == out.count("1") == 30
    for numeral in ("Ⅻ", "②", "m²"):
        assert numeral in compress(_FILLER * 4 + f"see {numeral} here. " + _FILLER * 4, rate=0.2).text
    # U+2044 FRACTION SLASH joins numbers like "/" does
    assert "5⁄8 inch" in compress("Cut a 5⁄8 inch board. " + _FILLER * 4, rate=0.3).text


def test_unspaced_script_numbers_keep_their_point() -> None:
    thai = "ราคาน้ำมันวันนี้อยู่ที่ ๓๒.๕๐ บาทต่อลิตร และเพิ่มขึ้นจากเมื่อวาน " * 8
    r = compress(thai, rate=0.3, force_tokens=[])
    assert r.text.count("๓๒.๕๐") == 8 and "๓๒๕๐" not in r.text
    # one unit, as word() makes of "32.50" (the point was a unit of its own)
    assert [u.text for u in r.units].count("๓๒.๕๐") == 8


def test_pack_chat_keeps_anthropic_tool_use_and_result_together() -> None:
    long = "Here is a long discussion about the weather and many other topics. " * 8
    msgs: list[dict] = [{"role": "system", "content": "You are helpful."}]
    for _ in range(4):
        msgs += [{"role": "user", "content": long}, {"role": "assistant", "content": long}]
    msgs += [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
                                          {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny. " + long}]},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "Thanks!"},
    ]
    call, result = 10, 11
    for budget in (200, 250, 300, 400):
        c = pack_chat(msgs, budget=budget, keep_last=3, model="claude-sonnet-4-5")
        kept = set(range(len(msgs))) - set(c.dropped)
        assert (call in kept) == (result in kept), (budget, c.dropped)
        assert c.tokens <= budget
    # keep_last reaching the result pulls in its call, or raises when the pair does not fit
    with pytest.raises(ValueError, match="with the tool calls they answer"):
        pack_chat(msgs, budget=150, keep_last=3, model="claude-sonnet-4-5")
    # the extractive summary reads tool calls and results
    c = pack_chat(msgs[:12] + [{"role": "user", "content": "ok"}] * 2, budget=120, keep_last=1)
    assert call in c.dropped and result in c.dropped
    assert c.summary is not None and "get_weather" in c.summary
    # a result that answers another call is not tied to this one
    big_call = {"role": "assistant", "content": [{"type": "text", "text": long * 2},
                                                 {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    other = msgs[:10] + [big_call, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                                                  "content": "x"}]}]
    c = pack_chat(other, budget=100, keep_last=1, model="claude-sonnet-4-5")
    assert call in c.dropped and 11 not in c.dropped


def test_many_backticks_without_newlines_compress() -> None:
    # one newline search per backtick made this quadratic (11.6 s at 800k); the time is measured
    # by `python benchmarks/compression.py --scaling`, never asserted here
    r = compress("a` " * 50_000, rate=0.5)
    # "` a`" pairs are inline code spans, forced: over budget, and said so
    assert r.forced_over_budget and 0 < r.compressed_tokens < r.original_tokens


def test_run_survival_takes_contexts_shorter_than_the_ratio() -> None:
    # round(2 / 5) = 0 tokens was passed on as the target and raised
    df = ev.run_survival([ev.QAItem("Paris.", "Where?", ["Paris"], 0)], ev.default_methods(), ratios=(5.0,))
    assert (df["target"] == 1).all() and len(df) == len(ev.default_methods())


def test_empty_text_is_an_empty_result_in_json_mode_too() -> None:
    for structure in (None, "json"):
        r = compress("", rate=0.5, structure=structure)
        assert r.text == "" and r.original_tokens == 0 and r.within_tolerance
    with pytest.raises(ValueError, match="invalid JSON"):
        compress("  ", rate=0.5, structure="json")


def test_mailto_links_stay_whole() -> None:
    filler = "This is some generic filler prose that talks about nothing in particular and can be removed easily. "
    for rate in (0.5, 0.3, 0.2):
        r = compress(filler * 6 + "Write to mailto:bob@example.com for access. " + filler * 6, rate=rate)
        assert "mailto:bob@example.com" in r.text, (rate, r.text)
        # one URL unit, kept whole (its "mailto:" was a droppable word and a colon)
        assert [(u.text, u.kind) for u in r.units if "@" in u.text] == [("mailto:bob@example.com", "url")]


# ------------------------------------------------------------------------- review of issue 6
_SHORT = [
    "The World Health Organization Regional Office Europe.",
    "Please summarise the meeting.",
    "Is it raining?",
    "It rains.",
    "اللغة العربية هي أكثر اللغات السامية تحدثاً وإحدى أكثر اللغات انتشاراً في العالم.",
    "в нашем городе является одним из лучших мест.",
    "Revenue was 120 million dollars (-5% compared with the previous year).",
]


def test_compress_never_returns_empty_while_a_unit_fits(comp: Compressor) -> None:
    # A sentence's first kept unit brings its "." back, which the fill's estimate left out: the
    # unit "fit", measured over, and shrinking dropped everything ("" at target 6 while 5 and 7
    # gave text; "" at rate 0.3 with within_tolerance True; "" at target 1 before a "." or "?").
    r = compress("The World Health Organization Regional Office Europe.", target_tokens=6)
    assert r.text and r.compressed_tokens == 6, r.text
    r = compress("Please summarise the meeting.", rate=0.3)
    assert r.text == "meeting." and r.within_tolerance
    assert compress("Please summarise the meeting.", target_tokens=1).text == "meeting"
    for text in _SHORT:
        total = comp.count(text)
        for target in range(1, total):
            for question in (None, "what about it?"):
                r = comp.compress(text, question, target_tokens=target, force_digits=False)
                assert 0 < r.compressed_tokens <= target, (text, target, question, r.text)
                assert r.within_tolerance, (text, target, question, r.compressed_tokens)


def test_emoji_heavy_text_lands_within_tolerance() -> None:
    # the fill kept tol/2 of slack and stopped with an 11-token unit and a 4-token one left over
    text = "👨‍👩‍👧‍👦 family 🇯🇵 flag " * 100
    for target in (552, 567, 582, 597):
        r = compress(text, target_tokens=target)
        assert r.within_tolerance and r.compressed_tokens <= target, (target, r.compressed_tokens)


def test_lowercase_words_of_other_scripts_are_no_entities() -> None:
    # the mixed-case check stepped one byte into a two-byte letter and read continuation bytes
    for text in ("в нашем городе является одним из лучших мест", "η πόλη μας είναι μεγάλη",
                 "هذا كتاب جميل جدا", "שלום עולם יפה מאוד"):
        units = compress(text, rate=0.5).units
        assert not [u.text for u in units if "entity" in u.flags], text
    flagged = [u.text for u in compress("мы любим Москву и iPhone", rate=0.5).units if "entity" in u.flags]
    assert flagged == ["Москву", "iPhone"]


def test_signs_never_glue_to_a_number_across_a_dropped_bracket() -> None:
    r = compress("Revenue was 120 million dollars (-5% compared with the previous financial year of the company).",
                 rate=0.3)
    # (the number keeps its scale word, "120 million", since the protection audit)
    assert re.search(r"120 million (\w+ )*-5%", r.text) and "million-5" not in r.text, r.text
    r = compress("The reading was 20 degrees [+3 at night according to the local weather service of the region].",
                 rate=0.3)
    # (the fill may keep "degrees" between them: "20 degrees +3 local.")
    assert "20+3" not in r.text and re.search(r"20 (\w+ )*\+3", r.text), r.text


def test_template_lines_dedup_and_pack_many_passages() -> None:
    # Quadratic before (near-identical lines crowded the band buckets; every pick of pack scanned
    # every passage); timed in benchmarks, checked here for their results only. The short lines
    # differ in 3 of their 9 shingles (not near-duplicates: under 8 shared), the long ones are.
    tail = " served from the cache of the west region"

    def letters(i: int) -> str:  # ids without digits: lines whose numbers differ are other facts
        out = ""
        while True:
            out += chr(ord("a") + i % 26)
            i //= 26
            if not i:
                return out

    lines = [f"2024-01-01 12:00:00 INFO request user={letters(i)} path=/api/items status=200{tail if i % 2 else ''}"
             for i in range(20_000)]
    r = compress("\n".join(lines), rate=0.3)
    assert r.within_tolerance or r.forced_over_budget
    dup = [int(d) for d in r._raw["duplicate_of"]]  # per chunk: the earlier near-duplicate, or -1
    assert any(d >= 0 for d in dup) and all(d < c for c, d in enumerate(dup))
    ps = [f"p {i} cats dogs" for i in range(20_000)]
    every = pack(ps, "cats", 10**9, dedup=False)
    assert every.selected == list(range(20_000)) and every.total_tokens <= 10**9
    reordered = pack(ps[:300], "cats", 10**9, dedup=False, reorder=True)
    assert sorted(reordered.selected) == list(range(300))
    assert pack(ps, "cats", 10).total_tokens <= 10


def test_pack_fills_the_room_joining_leaves() -> None:
    # ".\n\n" is one token: every pick was charged a separator, so the budget was under-filled
    ps = [f"Cats sleep in the garden number {10 + i}." for i in range(40)]
    enc = tokenops.encoding_for_model("gpt-4o")
    t = enc.count(ps[0])
    budget = 10 * t + 5
    r = pack(ps, "cats", budget, dedup=False)
    assert r.total_tokens <= budget and r.total_tokens == enc.count(r.text)
    # one passage more than charging t + 1 per passage allows
    assert len(r.selected) > 1 + (budget - t) // (t + 1)


def _gsm8k_chat(data_dir: Path) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (data_dir / "compression" / "gsm8k" / "test.jsonl").open()][:30]
    msgs = [{"role": "system", "content": "You are a math tutor."}]
    for row in rows:
        msgs += [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
    return msgs


def test_pack_chat_summary_is_readable(data_dir: Path) -> None:
    # The summary forced every digit: a history of worked answers holds more digits than the
    # summary's room, and it came back as a prefix of bare numbers ("16. $2.\n16 3 4 16-3-4=9 9.").
    msgs = _gsm8k_chat(data_dir)
    r = pack_chat(msgs, 1500)
    assert r.tokens <= 1500 and r.summary
    body = r.summary.split("\n", 1)[1]
    lines = body.split("\n")
    words = re.findall(r"[^\W\d_]{3,}", body)
    numbers = re.findall(r"\d+", body)
    assert len(words) > 2 * len(numbers), body
    # every line of the summary starts with the role of the message it comes from
    assert all(line.startswith(("user: ", "assistant: ")) for line in lines), body
    # the history's sentences survive whole more often than not (a word salad has none)
    sources = {m["content"] for m in msgs[1:]}
    assert any(len(s) > 40 and any(s in src for src in sources)
               for line in lines for s in re.split(r"(?<=[.?!])\s", line.split(": ", 1)[1])), body


def test_pack_chat_summary_role_follows_the_api_shape() -> None:
    long = "Here is a long discussion about the weather and many other topics. " * 8
    anth: list[dict] = []
    for i in range(6):
        anth += [{"role": "user", "content": [{"type": "text", "text": f"turn {i} " + long}]},
                 {"role": "assistant", "content": [{"type": "text", "text": "answer " + long}]}]
    anth.append({"role": "user", "content": "final question?"})
    # Anthropic's Messages API has no system role in the list (and wants a user message first)
    for model in ("claude-sonnet-4-5", "gpt-4o"):
        c = pack_chat(anth if model.startswith("claude") else anth + [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
            400, keep_last=2, model=model)
        assert c.summary and c.messages[0] == {"role": "user", "content": c.summary}
        assert all(m["role"] != "system" for m in c.messages)
    # OpenAI-shaped (a system message in the list), or a role asked for: as before
    with_system = [{"role": "system", "content": "Be brief."}] + anth
    c = pack_chat(with_system, 400, keep_last=2, model="claude-sonnet-4-5")
    assert c.messages[1] == {"role": "system", "content": c.summary}
    plain = [{"role": m["role"], "content": m["content"][0]["text"] if isinstance(m["content"], list) else m["content"]}
             for m in anth]
    assert pack_chat(plain, 400, keep_last=2).messages[0]["role"] == "system"
    assert pack_chat(anth, 400, keep_last=2, model="claude-sonnet-4-5", summary_role="system").messages[0]["role"] == "system"


def test_pack_chat_for_claude_starts_with_a_user_message_without_a_summary() -> None:
    # filling backwards can stop mid-turn; with no user-role summary in front, a leading
    # assistant reply would make Anthropic's API refuse the request
    turn = "Some words about the weather and the harbour today, nothing more. " * 2
    msgs: list[dict] = []
    for i in range(6):
        msgs += [{"role": "user", "content": f"question {i} " + turn},
                 {"role": "assistant", "content": f"answer {i} " + turn}]
    seen_strip = False
    for budget in range(60, 400, 7):
        for summary in (None, ""):
            try:
                c = pack_chat(msgs, budget, model="claude-sonnet-4-5", keep_last=1, summary=summary)
            except ValueError:
                continue
            if c.messages and c.messages[0]["role"] != "user":
                # only when the forced last message is itself the first kept one
                assert c.messages == [msgs[-1]]
            assert c.tokens <= budget
            # what is left out is exactly what is missing
            assert [m for i, m in enumerate(msgs) if i not in c.dropped] == c.messages
            full = pack_chat(msgs, budget, model="gpt-4o", keep_last=1, summary=summary)
            seen_strip |= full.messages[0]["role"] == "assistant" and len(full.messages) > 1
    assert seen_strip  # the OpenAI shape keeps the leading assistant reply; Claude's did not
    # a history that itself starts with an assistant message keeps its own shape
    own = [{"role": "assistant", "content": "Hello, how can I help?"}] + msgs
    c = pack_chat(own, 10_000, model="claude-sonnet-4-5", summary=None)
    assert c.messages[0]["role"] == "assistant"


def test_pack_never_picks_blank_passages() -> None:
    ps = ["Paris is the capital of France.", "", "   \n ", "Lyon is a city in France."]
    for question in ("", "capital of France", "zzz"):
        for budget in (5, 12, 30, 1000):
            r = pack(ps, question, budget)
            assert 1 not in r.selected and 2 not in r.selected
            assert not r.text.startswith("\n") and not r.text.endswith("\n")
            assert r.total_tokens <= budget


def test_compress_called_as_the_module_shows_its_signature_and_takes_frequencies(monkeypatch):
    import inspect

    import tokenops
    from tokenops.compress import api, models

    params = inspect.signature(tokenops.compress).parameters
    assert list(params)[:5] == ["text", "question", "rate", "target_tokens", "model"]
    assert "frequencies" in params
    text = "The committee approved the budget of 4.2 million dollars after a long debate. " * 5
    r = tokenops.compress(text, rate=0.5, frequencies="bigram")
    assert 0 < r.compressed_tokens <= r.original_tokens and "4.2" in r.text
    # without wordfreq the default names the extra and the way around it, which works
    monkeypatch.setitem(sys.modules, "wordfreq", None)
    monkeypatch.setattr(models, "_FREQ", {})
    monkeypatch.setattr(api, "_DEFAULT", {})
    with pytest.raises(ImportError, match=r"frequencies='bigram'"):
        tokenops.compress(text, rate=0.5)
    assert tokenops.compress(text, rate=0.5, frequencies="bigram").text


def test_pack_chat_summary_labels_survive_a_code_block():
    # a fenced code block is one unit holding newlines; lines after it were counted too early and
    # the assistant's sentences were labelled "user:"
    import tokenops

    msgs = [{"role": "user", "content": "Here is my script, please check it:\n```\nimport os\nprint(os.getcwd())\nx = 1\ny = 2\n```"},
            {"role": "assistant", "content": "Your script prints the working directory. Cats are wonderful pets and many people keep cats."},
            {"role": "user", "content": "Thanks. Do dogs like cats?"},
            {"role": "assistant", "content": "Dogs and cats can get along if they are introduced slowly."},
            {"role": "user", "content": "Tell me more about cats and dogs"},
            {"role": "assistant", "content": "Sure."}]
    for budget in (60, 70, 80, 120):
        summary = tokenops.pack_chat(msgs, budget, keep_last=2).summary or ""
        for line in summary.split("\n"):
            if "Cats are wonderful" in line or "working directory" in line:
                assert line.startswith("assistant:"), (budget, summary)
            if "Do dogs like cats" in line:
                assert line.startswith("user:"), (budget, summary)


def test_answer_type_prior_breaks_a_relevance_tie(comp: Compressor) -> None:
    # two sentences with the same BM25 score (one question term each, the same length): the
    # position prior alone keeps the first; a "when" question keeps the dated one, a "who"
    # question the one with a name
    text = ("The film came out in the spring before the summer holidays. "
            "The film came out on 14 November 2001 after long delays.")
    q = "When did the film come out?"
    off = comp.compress(text, q, target_tokens=16, answer_type_weight=0.0)
    on = comp.compress(text, q, target_tokens=16)  # default answer_type_weight=0.15
    assert "spring" in off.text and "2001" not in off.text, off.text
    assert "14 November 2001" in on.text and "spring" not in on.text, on.text
    assert on.chunk_scores[1] - off.chunk_scores[1] == pytest.approx(0.15, abs=1e-6)
    assert on.chunk_scores[0] == off.chunk_scores[0]
    # compress_batch and the module-level call take the option too
    assert [r.text for r in comp.compress_batch([text, text], [q, q], target_tokens=16,
                                                answer_type_weight=0.0)] == [off.text] * 2
    assert compress(text, q, target_tokens=16).text == on.text
    cast = ("The mother was played by an actress from the local theatre group. "
            "The mother was played by Phylicia Rashad for eight whole seasons.")
    assert "Phylicia Rashad" in comp.compress(cast, "Who played the mother?", target_tokens=16).text
    assert "Phylicia" not in comp.compress(cast, "Who played the mother?", target_tokens=16,
                                           answer_type_weight=0.0).text
    # (16 tokens: the dated sentence is 15, the other 12, so one fits)
    # a question that asks for no type ("why") and no question at all: the prior changes nothing
    for question in ("Why did the film come out?", None):
        a = comp.compress(text, question, target_tokens=16, answer_type_weight=5.0)
        b = comp.compress(text, question, target_tokens=16, answer_type_weight=0.0)
        assert a.text == b.text and (a.chunk_scores == b.chunk_scores).all()


def test_answer_type_prior_keeps_the_harry_potter_release_date(data_dir: Path) -> None:
    # LEval natural_question: "when did the first harry potter movie cone out" -> 14 November
    # 2001, lost by BM25 + position at 3x and 5x (the sentence shares no term with the question;
    # docs/compression.md, per-item misses), kept with the answer-type prior
    items = ev.load_leval("natural_question", data_dir / "compression")
    it = next(i for i in items if i.question.startswith("when did the first harry potter movie"))
    c = Compressor("gpt-4o")
    total = c.count(it.context)
    for ratio in (3, 5):
        target = round(total / ratio)
        assert ev.survives(it.answers, c.compress(it.context, it.question, target_tokens=target).text)
        assert not ev.survives(it.answers, c.compress(it.context, it.question, target_tokens=target,
                                                      answer_type_weight=0.0).text)


# ------------------------------------------------------- protection audit: facts that changed
@pytest.fixture(scope="module")
def moby(data_dir: Path) -> str:
    """The first paragraph of Moby-Dick's first chapter, on one line: real prose to cut."""
    text = (data_dir / "corpus" / "en_moby_dick.txt").read_text(encoding="utf-8")
    start = text.index("Call me Ishmael")
    return " ".join(text[start : text.index("\n\n", start)].split()) + " "


@pytest.mark.parametrize(
    "fact",
    ["$4.5 million", "May 12, 2024", "12 May 2024", "500 million", "2.3 million", "5 per cent",
     "5 < 7", "x ≠ 3", "1/4*32 = 8", "3 <= 4", "10 % 3 = 1"],
)
def test_numbers_keep_their_scale_word_month_and_operators(moby: str, fact: str) -> None:
    # "$4.5 million" came back "$4.5", "May 12, 2024" "12 2024", "5 < 7" "5 7"
    for rate in (0.6, 0.3):
        for text in (f"The fact is {fact} today. " + moby, moby + f"The fact is {fact} today. " + moby):
            out = compress(text, rate=rate).text
            assert fact in out, (fact, rate, out)


@pytest.mark.parametrize("address", ["a+b@x.com", "user.name+tag@example.co.uk", "x%y@host.org"])
def test_email_addresses_keep_plus_and_percent(moby: str, address: str) -> None:
    # 'a+b@x.com' came back 'b@x.com': another valid address
    for rate in (0.3, 0.15):
        r = compress(f"Contact {address} now. " + moby, rate=rate)
        assert address in r.text, (rate, r.text)
        assert [(u.text, u.kind) for u in r.units if "@" in u.text] == [(address, "url")]


@pytest.mark.parametrize(
    "link",
    ["``git log --oneline``", "s3://bucket/key", "file:///etc/passwd", "ftp://ftp.x.org/pub/a.txt",
     "git@github.com:o/r.git", "docs.python.org/3/library", "/usr/local/bin/tool", "~/notes.txt",
     "./run.sh", "src/main.cpp"],
)
def test_inline_code_uris_and_paths_stay_whole(moby: str, link: str) -> None:
    for rate in (0.3, 0.15):
        r = compress(f"See {link} first. " + moby, rate=rate)
        assert link in r.text, (rate, r.text)
        assert [u.kind for u in r.units if u.text == link] in (["url"], ["code"])


def test_indented_code_after_a_blank_line_is_code(moby: str) -> None:
    code = "    for line in open(path):\n        total += len(line)\n\n    print(total)"
    r = compress(moby + "\n\n" + code + "\n\n" + moby, rate=0.3)
    assert "\n" + code + "\n" in r.text, r.text
    assert [u.text for u in r.units if u.kind == "code"] == [code]
    # without the blank line the indented lines continue the paragraph: prose, compressed
    poem = "Tyger Tyger, burning bright,\n    In the forests of the night;\n    What immortal hand or eye,\n"
    r = compress(moby + "\n" + poem + moby, rate=0.3)
    assert not [u for u in r.units if u.kind == "code"]
    # a prompt indented as a whole (a triple-quoted string) is prose, blank lines or not
    indented = "\n\n".join("    " + p for p in (moby, moby, moby))
    r = compress(indented, rate=0.3)
    assert not [u for u in r.units if u.kind == "code"] and not r.forced_over_budget
    # a list item's next paragraph is prose too
    item = "- " + moby + "\n\n    " + moby
    assert not [u for u in compress(item, rate=0.3).units if u.kind == "code"]


# ---- force tokens the caller names: kept whatever happens to their sentence ----

_GREEK = "Alpha beta gamma delta. Epsilon zeta eta theta. Iota kappa lambda mu."
_ALICE = "Alice met the old friend yesterday. Bob left early today. Then everyone went home, said Alice to Bob."


def test_forced_words_survive_their_sentence() -> None:
    # drop_consecutive=True (the default) dropped a forced word with the rest of its sentence:
    # target 3 gave "kappa lambda", 6 gave "Epsilon zeta"; target 5 on _ALICE "Alice yesterday"
    words = ["beta", "zeta", "kappa"]
    for target in range(1, 19):
        for dc in (True, False):
            r = compress(_GREEK, target_tokens=target, force_tokens=words, drop_consecutive=dc)
            assert all(re.search(rf"\b{w}\b", r.text) for w in words), (target, dc, r.text)
            assert r.forced_over_budget == (r.compressed_tokens > target), (target, r)
    r = compress(_GREEK, target_tokens=3, force_tokens=words)
    assert r.text == "beta zeta kappa" and r.forced_over_budget
    assert compress(_GREEK, target_tokens=6, force_tokens=words).text.count(" ") >= 2
    for target in range(1, 22):
        r = compress(_ALICE, target_tokens=target, force_tokens=["Alice", "Bob"])
        assert r.text.count("Alice") == 2 and r.text.count("Bob") == 2, (target, r.text)
    assert compress(_ALICE, target_tokens=4, force_tokens=["Alice", "Bob"]).text == "Alice Bob Alice Bob"


def test_room_left_by_dropped_punctuation_riders_is_filled() -> None:
    # Numbers are forced; their sentences' "?" / "." ride along. Between the forced numbers
    # alone (106 tokens) and the numbers with their riders (116), the riders go and nothing
    # else came back: targets 106-115 all gave the same 106 tokens (112-115 out of tolerance).
    # Now the room goes to content words: each target is hit exactly.
    text = ("eta beta zeta lambda delta.\n 61817 tau kappa nu iota 90548 97200 96865 36816 99899 mu mu "
            "epsilon? gamma 25207 zeta 83546 tau beta tau beta 8374? 69151 sigma alpha pi omicron 54413 "
            "82981 epsilon nu xi eta 98928 88574 delta! eta iota zeta 51996. 59373 delta epsilon? iota "
            "beta 89260 41251? beta pi omicron mu zeta 76956 18148 43701 mu lambda beta 21478! 51747 "
            "epsilon 62661 beta rho kappa lambda 14242 63069 lambda 15206 xi. epsilon tau gamma 11098 "
            "28975 1030 72939? tau eta mu 34199 zeta mu 92014 68920 eta 52161?")
    digits = re.findall(r"\d+", text)
    for target in range(104, 120):
        r = compress(text, target_tokens=target, model="gpt-4o")
        assert re.findall(r"\d+", r.text) == digits, target
        if target >= 106:
            assert r.compressed_tokens == target and r.within_tolerance and not r.forced_over_budget, \
                (target, r.compressed_tokens)
        else:  # the numbers alone are 106 tokens
            assert r.compressed_tokens == 106 and r.forced_over_budget
    # random texts of this shape: test_compress_properties.py::test_every_target_near_the_floor_of_digit_text_is_met


def test_refill_after_riders_go_uses_what_its_additions_measure() -> None:
    # CJK sentences with forced numbers, target > 2048 (the fill stops within the tolerance):
    # the forced numbers measure 1.8x their estimate, the CJK characters added between them
    # 0.2-0.3x, and a pass scaled by the average filled a fifth of its room; 4 passes left
    # targets 100-225 above the floor of 4,343 at 42-82 tokens above it, out of tolerance.
    rng = random.Random(3)
    chars = list("数据模型的是在了不和有大这主中人上为们地个用工时要动国产以我到他会作来分生对于学下级义就年阶"
                 "发成部民可出能方进同行面说种过命度革而多子后自社加小机也经力线本电高量长党得实家定深法表着水理化心")
    text = "".join("".join(rng.choice(chars) if rng.random() > 0.2 else str(rng.randint(1, 999))
                           for _ in range(rng.randint(4, 20))) + rng.choice(["。", "？", "."])
                   for _ in range(1000))
    floor = compress(text, target_tokens=1).compressed_tokens
    assert floor > 2048
    out = []
    for target in range(floor + 25, floor + 300, 25):
        r = compress(text, target_tokens=target)
        if not (r.within_tolerance and r.compressed_tokens <= target):
            out.append((target - floor, r.compressed_tokens - floor))
    assert not out, (floor, out)


def test_drop_consecutive_only_drops_a_repeat_of_the_previous_kept_force_token() -> None:
    # LLMLingua-2: a force token equal to the previous kept force token, with nothing else kept
    # between, goes; with drop_consecutive=False every one stays
    text = "Alice spoke first. Alice spoke again. Then Bob spoke. Alice Alice!"
    r = compress(text, target_tokens=5, force_tokens=["Alice", "."])
    assert r.text == "Alice. Alice. Alice", r.text  # ". ." and "Alice Alice" collapse
    r = compress(text, target_tokens=5, force_tokens=["Alice", "."], drop_consecutive=False)
    assert r.text.count("Alice") == 4 and r.text.count(".") == 3, r.text
    # punctuation force tokens still go with a dropped sentence; with a forced word kept in the
    # sentence its "." stays, unless the forced units alone are over the budget
    r = compress(_GREEK, target_tokens=8, force_tokens=["\n", "?", "!", ".", "beta", "zeta", "kappa"])
    assert r.text == "beta. zeta. kappa.", r.text
    r = compress(_GREEK, target_tokens=5, force_tokens=["\n", "?", "!", ".", "beta", "zeta", "kappa"])
    assert r.text == "beta zeta kappa" and not r.forced_over_budget, r.text
    r = compress(_GREEK, target_tokens=3, force_tokens=["\n", "?", "!", ".", "beta", "zeta", "kappa"])
    assert r.text == "beta zeta kappa" and r.forced_over_budget, r.text


def _monotone_texts() -> list[tuple[str, str]]:
    items = ev.load_nq_positions(n_questions=4, positions=(1,), n_docs=3)
    texts = [(p, "") for it in items for p in it.passages]
    texts += [(it.passages[0], it.question) for it in items]
    mb = ev.load_meetingbank()
    texts += [(mb[0].context[:2500], ""), (mb[50].context[:2500], mb[50].question)]
    return texts


def test_a_larger_target_never_keeps_fewer_tokens(comp: Compressor, data_dir: Path) -> None:
    # The fill stopped at the first entry that measured over, so a larger target could come back
    # shorter: "8 9." at 6 tokens after "8 unseen 9." at 5 (95 of 6,510 runs on real passages;
    # scripts/compression_monotone.py runs the full set)
    import random

    rng = random.Random(0)
    for text, question in _monotone_texts():
        words = [w for w in text.split() if w.isalpha()]
        for force in (None, rng.sample(words, 3)):
            kw = {} if force is None else {"force_tokens": force}
            prev = (0, 0)
            for target in list(range(1, 30)) + list(range(30, 120, 9)):
                r = comp.compress(text, question, target_tokens=target, **kw)
                assert r.compressed_tokens >= prev[1], (text[:40], force, prev, target, r.text)
                prev = (target, r.compressed_tokens)
    for text, force in ((_GREEK, ["beta", "zeta", "kappa"]), (_ALICE, ["Alice", "Bob"])):
        counts = [compress(text, target_tokens=t, force_tokens=force).compressed_tokens for t in range(1, 25)]
        assert counts == sorted(counts), counts


def test_near_duplicate_passages_are_found_and_distinct_ones_are_not(data_dir: Path) -> None:
    # SimHash within 3 bits caught 9 of 50 NQ passages with one word changed and none with three
    # (scripts/compression_near_dup.py measures recall and false positives on the real sets)
    import gzip
    import random

    with gzip.open(ev._root(None) / "nq_open_oracle" / "nq-open-oracle.jsonl.gz", "rt", encoding="utf-8") as f:
        passages = list(dict.fromkeys(json.loads(line)["ctxs"][0]["text"] for line in f))[:300]
    rng = random.Random(1)
    vocab = sorted({w for p in passages for w in p.split() if w.isalpha()})

    def edit(p: str, k: int) -> str:
        w = p.split()
        for i in rng.sample(range(len(w)), k):
            w[i] = rng.choice([v for v in vocab[:50] if v.lower() != w[i].lower()])
        return " ".join(w)

    for p in [p for p in passages if len(p.split()) >= 60][:40]:  # ~100-word passages
        for q in (edit(p, 1), edit(p, 3), edit(p, 5), " ".join(p.split()[:-5]), "Source: Wikipedia. " + p):
            assert pack([p, q], "what", 10**6).duplicate_of[1] == 0, (p, q)
    # distinct passages (these 300 hold no near copies) are never flagged
    assert (pack(passages, "what", 10**9).duplicate_of < 0).all()


def test_a_passage_that_adds_to_an_earlier_one_is_no_duplicate() -> None:
    # Found by the pack property test: shingle Jaccard 27/40 >= 0.5, but the second passage holds
    # the first plus the sentence that answers the question; near-duplicates must also be of
    # similar size (min_size_ratio 0.8), so it is kept, and duplicate_of agrees with selected
    a = "Dr. Maria Lopez of the WHO presented https://example.org/r?id=7 to delegates. It rained. It rained."
    b = "The committee met on 12 March 2024 in Geneva. " + a
    r = pack([a, b], "Where did the committee meet?", 40)
    assert r.selected == [1] and list(r.duplicate_of) == [-1, -1]
    # with the first passage relevant too, both are kept (neither repeats the other)
    r = pack([a, b], "Where did Maria Lopez present?", 1000)
    assert r.selected == [0, 1] and list(r.duplicate_of) == [-1, -1]
    # an edited copy of similar size still is one
    c = a.replace("delegates", "the delegates")
    assert pack([a, c], "Maria Lopez", 1000).duplicate_of[1] == 0


def test_relevance_reads_the_parts_of_links_and_paths(data_dir: Path) -> None:
    # a link or path is one kept-whole unit; BM25 read nothing inside it, so a question naming a
    # file or a site found no passage
    text = (data_dir / "corpus" / "en_moby_dick.txt").read_text(encoding="utf-8")
    paras = [p.replace("\n", " ") for p in text[20_000:60_000].split("\n\n") if len(p) > 200][:12]
    for fact, question in (("The entry point lives in src/main.cpp and reads its settings at start-up.",
                            "what does main.cpp do"),
                           ("Read docs.python.org/3/library/asyncio.html before starting.",
                            "where are the asyncio docs")):
        doc = "\n\n".join(paras[:6] + [fact] + paras[6:])
        r = compress(doc, question, rate=0.2)
        link = fact.split()[4] if "main.cpp" in fact else fact.split()[1]
        assert link in r.text, (link, r.text[:300])


def test_review_findings_on_the_audit_fixes() -> None:
    # 1. template sentences that differ in their numbers are other facts, not near-duplicates:
    #    the Q3 sentence was dropped as a copy of the Q1 one, whatever the question
    tmpl = ("In {q} the company reported revenue of {r} million dollars, an increase of {p} percent compared "
            "with the same period last year, driven mainly by strong demand for its cloud services in Europe, "
            "North America and Asia, while operating costs stayed broadly flat and headcount remained stable "
            "across all business units.")
    ps = [tmpl.format(q=q, r=r, p=p) for q, r, p in [("Q1", 120, 5), ("Q2", 135, 7), ("Q3", 151, 9), ("Q4", 170, 12)]]
    r = pack(ps, "What was the revenue in Q3?", 200)
    assert list(r.duplicate_of) == [-1] * 4 and 2 in r.selected
    assert "151 million" in compress(" ".join(ps), "What was the revenue in Q3?", rate=0.5).text
    # 2. indented paragraphs of prose after a blank line are no code block: they can be cut
    t = ("Article 1\n\n    All human beings are born free and equal in dignity and rights. They are endowed "
         "with reason and conscience and should act towards one another in a spirit of brotherhood.\n\n"
         "Article 2\n\n    Everyone is entitled to all the rights and freedoms set forth in this Declaration, "
         "without distinction of any kind, such as race, colour, sex, language, religion, political or other "
         "opinion.\n")
    r = compress(t, rate=0.3)
    assert not r.forced_over_budget and r.within_tolerance, (r.compressed_tokens, r.target_tokens)
    #    and a code block holding a number can be cut when force_code is off (digits don't force it)
    code = "class Scaler:\n\n    def scale(self, x):\n        return x * 2\n\n    def shift(self, x):\n        return x + 10\n"
    body = "Here is the helper module we use.\n\n" + code.split("\n\n", 1)[1] * 20
    assert compress(body, rate=0.5, force_code=False).compressed_tokens < 0.6 * compress(body, rate=1.0).compressed_tokens
    # 3. a path or domain followed by CJK text ends where the CJK text starts
    rest = "文件中的函数，然后运行程序。" + "这是一个很长的句子，用来说明压缩器应该能够删除其中的一些字词。" * 6
    for link in ("src/main.cpp", "docs.python.org/3/library", "https://example.org/a"):
        r = compress("请查看 " + link + rest, rate=0.3)
        assert not r.forced_over_budget and link in r.text, r.text
