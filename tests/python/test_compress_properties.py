"""Property tests of tokenops.compress / pack_chat on random mixed text (hypothesis): the reported
counts are exact, budgets hold unless the forced units alone exceed them, numbers and protected
spans survive, nothing is invented or split, JSON stays JSON, and batch equals single calls."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops
from tokenops.compress import Compressor
from tokenops.compress import evaluate as ev

_FRAGMENTS = [
    "The committee met on 12 March 2024 in Geneva.", "It rained.", "Budget: $4.5 million (approved).",
    "Dr. Maria Lopez of the WHO presented https://example.org/r?id=7 to delegates.",
    "naïve café résumé", "Привет, как дела?", "東京都の人口は約1400万人です。", "مرحبا بالعالم",
    "👍🏽 👨‍👩‍👧 🇫🇷", "e\u0301 a\u0308", "x = f(3, 4) / 2", "`inline code`", "```\nprint(1)\n```",
    "- item one\n- item two", "| a | b |\n|---|---|\n| 1 | 2 |", "<p>html <b>bold</b></p>",
    "3/4 10:30 -5e3 1,234.56 2024-01-01", "Why? Because!", "\n\n", "\t", "\r\n",
    "supercalifragilisticexpialidocious" * 3, "The quick brown fox jumps over the lazy dog.",
    "Numbers: 7, 8, 9 and 42.", "\"quoted\" and 'single'", "called `` Handmaids '' , into", "Use ``` here",
    "๑๒๓ ၁၂၃ ១២៣", "see https://example.com/item?id=12345 now",
    # review fixes: citations, indented and nested fences, blank lines holding spaces, non-decimal
    # numerals, unspaced-script decimals, Title-Case and all-caps runs
    "founded in 1998.[3] and 45.[4]", "1.\n   ```py\n   x = 1\n   ```\n", "````\n```\ninner\n```\n````",
    "   \n   \n   \n", "½ ¾ Ⅻ ② 5⁄8", "๓๒.๕๐ บาท", "The History Of The Roman Empire From Its Founding",
    "ALL EMPLOYEES MUST WEAR SAFETY GOGGLES",
]
_text = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=12), min_size=1, max_size=40).map(" ".join)
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def comp() -> Compressor:
    return Compressor("gpt-4o")


def _tolerance(target: int) -> int:
    return max(5, target // 100)


def _check(res: tokenops.compress.CompressionResult, text: str, enc: tokenops.Encoding) -> None:
    assert isinstance(res.text, str)
    assert res.compressed_tokens == enc.count(res.text, disallowed_special=())
    if not res.forced_over_budget:
        assert res.compressed_tokens <= res.target_tokens
    # nothing invented or reordered: no replacement character the input lacked, and the output's
    # non-space characters are a subsequence of the input's (units are kept in order; only
    # whitespace between them may change)
    assert ("\ufffd" in res.text) <= ("\ufffd" in text)
    src = iter(c for c in text if not c.isspace())
    assert all(any(c == d for d in src) for c in res.text if not c.isspace()), res.text


@_SETTINGS
@given(text=_text, rate=st.floats(0.1, 1.0))
def test_budget_counts_and_numbers_without_a_question(comp: Compressor, text: str, rate: float) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")
    res = comp.compress(text, rate=rate)
    _check(res, text, comp.encoding)
    assert res.original_tokens == comp.encoding.count(text, disallowed_special=())
    # without a question every forced unit survives: all numbers are kept
    assert ev.number_retention(text, res.text) == 1.0
    if rate == 1.0:
        assert res.text == text


@_SETTINGS
@given(text=_text, rate=st.floats(0.1, 0.9), question=st.sampled_from(["Where did the committee meet?", "budget",
                                                                       "東京", "code"]))
def test_budget_and_protected_spans_with_a_question(comp: Compressor, text: str, rate: float, question: str) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")
    protect = [f for f in ("Geneva", "Maria Lopez", "42") if f in text]
    res = comp.compress(text, question=question, rate=rate, protect=protect)
    _check(res, text, comp.encoding)
    for span in protect:
        assert span in res.text


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(_text, min_size=1, max_size=6))
def test_batch_equals_single_calls(comp: Compressor, texts: list[str]) -> None:
    texts = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    single = [comp.compress(t, rate=0.4).text for t in texts]
    for threads in (1, 2):
        assert [r.text for r in comp.compress_batch(texts, rate=0.4, num_threads=threads)] == single


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=10), inner, max_size=8),
    max_leaves=60,
)


@_SETTINGS
@given(doc=_json, rate=st.floats(0.2, 0.9))
def test_json_mode_keeps_valid_json(comp: Compressor, doc: object, rate: float) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    res = comp.compress(text, rate=rate, structure="json")
    json.loads(res.text)
    assert res.compressed_tokens == comp.encoding.count(res.text, disallowed_special=())


_message = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["user", "assistant"]), _text,
)


@_SETTINGS
@given(history=st.lists(_message, min_size=1, max_size=25), frac=st.floats(0.3, 1.0),
       tool_at=st.integers(0, 30))
def test_pack_chat_invariants(history: list[dict], frac: float, tool_at: int) -> None:
    msgs = [{"role": "system", "content": "be brief"}, *history]
    if tool_at < len(msgs) - 1:  # an assistant tool call and its reply
        msgs[tool_at + 1:tool_at + 1] = [
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                                   "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "result 7"},
        ]
    total = tokenops.count_messages(msgs).tokens
    budget = max(1, int(total * frac))
    try:
        r = tokenops.pack_chat(msgs, budget, keep_last=1, summary=None)
    except ValueError as e:
        assert "over the budget" in str(e)
        return
    assert r.tokens == tokenops.count_messages(r.messages).tokens <= budget
    kept = [i for i in range(len(msgs)) if i not in set(r.dropped)]
    assert [msgs[i] for i in kept] == r.messages  # original order, nothing rewritten
    assert 0 in kept and len(msgs) - 1 in kept  # the system message and the last message
    roles = [m["role"] for m in r.messages]
    for i, m in enumerate(r.messages):  # every tool reply follows its call
        if m["role"] == "tool":
            assert i > 0 and (roles[i - 1] == "tool" or r.messages[i - 1].get("tool_calls"))
        if m.get("tool_calls"):
            assert i + 1 < len(r.messages) and roles[i + 1] == "tool"


def test_kept_units_across_a_gap_do_not_fuse_into_another_number(comp: Compressor) -> None:
    # Found by the property test above: "2024." and "0" (its ":" dropped) were joined as "2024.0".
    text = "The committee met on 12 March 2024 in Geneva. :0"
    res = comp.compress(text, rate=0.25)
    assert "2024.0" not in res.text and ev.number_retention(text, res.text) == 1.0


@_SETTINGS
@given(passages=st.lists(_text, min_size=0, max_size=15), budget=st.integers(0, 400), reorder=st.booleans(),
       question=st.sampled_from(["Where did the committee meet?", "budget", "東京", ""]))
def test_pack_invariants(passages: list[str], budget: int, reorder: bool, question: str) -> None:
    passages = [p.encode("utf-8", "replace").decode("utf-8") for p in passages]
    r = tokenops.pack(passages, question, budget, reorder=reorder)
    assert len(set(r.selected)) == len(r.selected) and all(0 <= i < len(passages) for i in r.selected)
    assert r.text == "\n\n".join(passages[i] for i in r.selected)
    enc = tokenops.encoding_for_model("gpt-4o")
    assert r.total_tokens == enc.count(r.text, disallowed_special=()) <= budget
    if not reorder:
        assert r.selected == sorted(r.selected)
    assert not any(r.duplicate_of[i] >= 0 for i in r.selected)  # a near-duplicate is never kept


def test_property_fuzz_findings(comp: Compressor) -> None:
    filler = "The council approved the budget after a long meeting about the river. " * 30
    # a stray ``` in prose forced the rest of the text as code: nothing could be cut
    r = comp.compress("Use ``` to start a fence. " + filler, rate=0.3)
    assert not r.forced_over_budget and r.compressed_tokens <= r.target_tokens
    # an unclosed fence at a line start is only its own line
    r = comp.compress("```python\n" + filler, rate=0.3)
    assert not r.forced_over_budget and r.text.startswith("```python")
    # a number given as a force token keeps the protection of a number
    text = "The answer is 42. The sky is blue and wide. " * 10
    assert comp.compress(text, rate=0.2, force_tokens=["42"]).text.count("42") == 10
    # digits of unspaced scripts are digits
    for digits in ("๑๒๓", "໑໒໓", "༡༢༣", "၁၂၃", "១២៣"):
        t = f"The value is {digits} and the weather was grey and wet all day long. " * 5
        assert comp.compress(t, rate=0.3).text.count(digits) == 5, digits
    # URLs with digits survive force_digits even with force_code off
    t = "See https://example.com/item?id=12345 and call 555 now. " * 10
    assert comp.compress(t, rate=0.3, force_code=False).text.count("12345") == 10
    # protect= strings match without their edge whitespace
    r = comp.compress("Alpha beta gamma delta. " * 20, rate=0.3, protect=["gamma "])
    assert r.text.count("gamma") == 20
    with pytest.raises(ValueError, match="non-space text"):
        comp.compress("Alpha beta", rate=0.5, protect=["  "])
    # text that already fits comes back whole and counts as within tolerance (documented)
    r = comp.compress("The council approved the budget.", target_tokens=500)
    assert r.text == "The council approved the budget." and r.within_tolerance


def test_pack_chat_order_and_tiny_budgets() -> None:
    msgs = [{"role": "user", "content": "hello there " * 30}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "ok"}, {"role": "system", "content": "From now on answer in French."},
            {"role": "user", "content": "q"}]
    r = tokenops.pack_chat(msgs, 60, summary=None)
    assert [m["role"] for m in r.messages] == ["user", "assistant", "system", "user"]  # not hoisted
    with pytest.raises(ValueError, match="at least 3 tokens"):
        tokenops.pack_chat(msgs, 2, keep_last=0)


def _near_the_floor(text: str, below: int = 0, above: int = 40, step: int = 1, **kw):
    """(target, result) for every ``step``-th target from ``below`` under the forced floor (what
    target_tokens=1 keeps) to ``above`` over it, short of the original size."""
    r0 = tokenops.compress(text, target_tokens=1, **kw)
    floor = r0.compressed_tokens
    for target in range(max(1, floor - below), min(floor + above, r0.original_tokens), step):
        yield target, tokenops.compress(text, target_tokens=target, **kw)


def _met(r, target: int) -> bool:
    """Within tolerance and not over the target, unless the forced units alone are over (and
    forced_over_budget says so)."""
    if r.forced_over_budget:
        return r.compressed_tokens > target
    return r.within_tolerance and r.compressed_tokens <= target


_GREEK_WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau".split()


def test_every_target_near_the_floor_of_digit_text_is_met() -> None:
    # 300 seeded texts of words and forced numbers, every target from the floor to 40 above it:
    # 188 of 10,687 runs were out of tolerance when the punctuation riders went and nothing came
    # back (test_compress.py::test_room_left_by_dropped_punctuation_riders_is_filled)
    import random

    rng = random.Random(0)
    out, runs = [], 0
    for _ in range(300):
        text = " ".join(" ".join(rng.choice(_GREEK_WORDS) if rng.random() > 0.3 else str(rng.randint(1, 99999))
                                 for _ in range(rng.randint(3, 15))) + rng.choice([".", "!", "?", ".\n"])
                        for _ in range(rng.randint(2, 12)))
        for target, r in _near_the_floor(text):
            runs += 1
            if not (r.within_tolerance and r.compressed_tokens <= target):
                out.append((text, target, r.compressed_tokens))
    assert runs > 10000 and not out, (len(out), runs, out[:3])


def test_every_target_near_the_forced_floor_is_met() -> None:
    # Seeded sweep (not hypothesis: every target from a little under the forced floor to 40 above
    # it, on 150 texts dense with forced units): numbers, URLs, e-mail, paths, code spans,
    # Title-Case names, CJK runs, each with one option set. A target the kept units can reach is
    # met within tolerance and never exceeded; only forced units alone may exceed it, and then
    # forced_over_budget says so.
    import random

    rng = random.Random(0)
    cjk = "東京大学の研究者は新しい方法を発表した今日天気很好我们去公园吧"

    def unit() -> str:
        x = rng.random()
        if x < 0.15:
            return str(rng.randint(1, 99999))
        if x < 0.2:
            return rng.choice(["https://ex.com/a/b?x=1", "a+b@x.com", "src/main.cpp", "`f(x)`"])
        if x < 0.3:
            return rng.choice(["Alice Smith", "New York", "ACME Corp", "Dr. Who"])
        if x < 0.4:
            return "".join(rng.choice(cjk) for _ in range(rng.randint(1, 6)))
        return rng.choice(_GREEK_WORDS)

    bad, runs = [], 0
    for _ in range(150):
        text = " ".join(" ".join(unit() for _ in range(rng.randint(2, 14))) +
                        rng.choice([".", "!", "?", ".\n", "\n\n", ";"]) for _ in range(rng.randint(1, 15)))
        kw = rng.choice([{}, {"question": f"who is {rng.choice(_GREEK_WORDS)}?"}, {"force_digits": False},
                         {"protect": [text.split()[0]]}, {"force_tokens": ["beta", "."]}, {"model": "gpt-4"},
                         {"model": "claude-sonnet-4-5"}, {"drop_consecutive": False}])
        for target, r in _near_the_floor(text, below=5, **kw):
            runs += 1
            if not _met(r, target):
                bad.append((text[:80], kw, target, r.compressed_tokens, r.forced_over_budget))
    assert runs > 5000 and not bad, (len(bad), bad[:3])


def test_json_and_long_texts_near_the_forced_floor() -> None:
    # JSON in structure mode (every third target from 3 under the floor to 60 above it, 100
    # documents per seed) stays valid JSON and meets the target; so do texts of 300-900 sentences,
    # whose targets are above 2,048 tokens, where the fill stops within the 1% tolerance
    import random

    bad, invalid, runs = [], 0, 0
    for seed in (0, 1, 5):
        rng = random.Random(seed)

        def val(d: int):
            x = rng.random()
            if d > 3 or x < 0.5:
                return " ".join(rng.choice(_GREEK_WORDS) if rng.random() > 0.2 else str(rng.randint(1, 999))
                                for _ in range(rng.randint(1, 20)))
            if x < 0.6:
                return rng.randint(-5, 10**6)
            if x < 0.8:
                return [val(d + 1) for _ in range(rng.randint(0, 5))]
            return {f"k{i}_{rng.choice(_GREEK_WORDS)}": val(d + 1) for i in range(rng.randint(0, 5))}

        for _ in range(100):
            text = json.dumps({f"key{i}": val(0) for i in range(rng.randint(1, 6))},
                              ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
            for target, r in _near_the_floor(text, below=3, above=60, step=3, structure="json"):
                runs += 1
                try:
                    json.loads(r.text)
                except ValueError:
                    invalid += 1
                if not _met(r, target):
                    bad.append(("json", seed, target, r.compressed_tokens))
    assert runs > 4000 and invalid == 0 and not bad, (runs, invalid, bad[:3])
    long_runs = 0
    for seed in (0, 1):
        rng = random.Random(seed)
        for _ in range(6):
            text = " ".join(" ".join(rng.choice(_GREEK_WORDS) if rng.random() > rng.choice([0.2, 0.3, 0.5])
                                     else str(rng.randint(1, 99999)) for _ in range(rng.randint(3, 15))) +
                            rng.choice([".", "!", "?", ".\n"]) for _ in range(rng.randint(300, 900)))
            r0 = tokenops.compress(text, target_tokens=1)
            targets = [*range(r0.compressed_tokens, r0.compressed_tokens + 400, 17),
                       *(int(r0.original_tokens * f) for f in (0.5, 0.6, 0.8))]
            for target in (t for t in targets if t < r0.original_tokens):
                r = tokenops.compress(text, target_tokens=target)
                long_runs += 1
                if not _met(r, target):
                    bad.append(("long", seed, target, r.compressed_tokens))
    assert long_runs > 300 and not bad, (long_runs, bad[:3])
