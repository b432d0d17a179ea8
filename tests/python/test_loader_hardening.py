"""Bad input to the C++ loaders: the HF tokenizer.json reader, the LiteLLM and genai-prices price
readers and the tiktoken rank reader. Each case used to crash the process (stack overflow on
deeply nested JSON), hang (a backtracking regex, a quadratic duplicate check), load a silently
wrong catalogue (LiteLLM tiered_pricing bands with gaps) or raise an unreadable message. Cases
that crashed or hung run in a subprocess, so that the old behaviour fails the test instead of
killing or stalling pytest; the timeouts are generous limits for work that now takes
milliseconds, not timings."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import tokenops
from tokenops.pricing.catalog import Catalog

DATA = Path(os.environ.get("TOKENOPS_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
GPT2_JSON = DATA / "tokenizers" / "gpt2" / "tokenizer.json"
GENAI_JSON = DATA / "pricing" / "genai_prices" / "data.json"


def run_isolated(code: str, timeout: float = 60) -> str:
    """Runs `code` in a fresh interpreter; returns its stdout. Fails on a crash, a non-zero exit
    or a hang past `timeout` seconds."""
    try:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, "TOKENOPS_DATA_DIR": str(DATA)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s")
    assert p.returncode == 0, f"exit status {p.returncode}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"
    return p.stdout


def deep(n: int) -> str:
    return "[" * n + "]" * n


def genai_file(tmp_path: Path, models: list[dict], name: str = "data.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps([{"id": "zzqprov", "models": models}]))
    return p


# ------------------------------------------------------------------------------ HF tokenizer.json
needs_gpt2 = pytest.mark.skipif(not GPT2_JSON.is_file(), reason="no gpt2 tokenizer.json in the data folder")


@needs_gpt2
@pytest.mark.parametrize("field", ["pre_tokenizer", "dropout", "unknown_extra"])
def test_hf_tokenizer_json_nested_200000_deep_is_a_value_error(tmp_path: Path, field: str) -> None:
    # 200,000 brackets in one field crashed the process (stack overflow while copying the value).
    d = json.loads(GPT2_JSON.read_text(encoding="utf-8"))
    if field == "dropout":
        d["model"]["dropout"] = "@X@"
    else:
        d[field] = "@X@"
    path = tmp_path / "deep_tokenizer.json"
    path.write_text(json.dumps(d).replace('"@X@"', deep(200_000)))
    out = run_isolated(f"""
        import tokenops
        try:
            tokenops.Encoding.from_hf_tokenizer_json({str(path)!r})
        except ValueError as e:
            print("ValueError:", e)
    """)
    assert "ValueError:" in out and "nested deeper than 256 levels" in out and "deep_tokenizer.json" in out, out


@needs_gpt2
def test_hf_unsupported_pre_tokenizer_regex_names_the_file(tmp_path: Path) -> None:
    d = json.loads(GPT2_JSON.read_text(encoding="utf-8"))
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "x" * 5000 + r"\w+"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    path = tmp_path / "odd_regex_tokenizer.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="unsupported pre-tokenizer regex") as e:
        tokenops.Encoding.from_hf_tokenizer_json(path)
    msg = str(e.value)
    assert "odd_regex_tokenizer.json" in msg
    assert "(5003 bytes)" in msg and len(msg) < 1000  # the pattern is quoted cut short


# ------------------------------------------------------------------------------ genai-prices: depth
def test_genai_prices_match_nested_40000_deep_is_a_value_error(tmp_path: Path) -> None:
    # 20,000 levels took 800 MB (a path string per level); 40,000 crashed the process.
    m = {"id": "m", "match": "@X@", "prices": {"input_mtok": 1}}
    s = json.dumps([{"id": "p", "models": [m]}]).replace(
        '"@X@"', '{"or": [' * 40000 + '{"equals": "x"}' + "]}" * 40000)
    path = tmp_path / "deep_match.json"
    path.write_text(s)
    _assert_genai_load_refused_as_too_deep(path)


def test_genai_prices_constraint_nested_200000_deep_is_a_value_error(tmp_path: Path) -> None:
    c = [{"id": "m", "prices": [{"prices": {"input_mtok": 1}, "constraint": "@X@"}]}]
    path = tmp_path / "deep_constraint.json"
    path.write_text(json.dumps([{"id": "p", "models": c}]).replace('"@X@"', deep(200_000)))
    _assert_genai_load_refused_as_too_deep(path)


def _assert_genai_load_refused_as_too_deep(path: Path) -> None:
    out = run_isolated(f"""
        from tokenops.pricing.catalog import Catalog
        try:
            Catalog.from_genai_prices({str(path)!r})
        except ValueError as e:
            print("ValueError:", e)
    """)  # in a child process: it was a segfault
    assert "ValueError:" in out and "nested deeper than 256 levels" in out, out


def test_genai_prices_match_clauses_nested_past_32_levels_are_a_row_problem(tmp_path: Path) -> None:
    clause: dict = {"equals": "zzq-deep"}
    for _ in range(60):  # 120 JSON levels: under the file limit, far past any real match rule
        clause = {"or": [clause]}
    ok: dict = {"equals": "zzq-ok"}
    for _ in range(10):
        ok = {"and": [ok]}
    cat = Catalog.from_genai_prices(genai_file(tmp_path, [
        {"id": "deep", "match": clause, "prices": {"input_mtok": 1}},
        {"id": "fine", "match": ok, "prices": {"input_mtok": 1}}]))
    assert [(p.key, p.field) for p in cat.problems] == [("zzqprov/deep", "match")]
    assert "nest deeper than 32 levels" in cat.problems[0].message
    assert ".or[0]" in cat.problems[0].message
    assert cat.resolve("zzq-ok").key == "zzqprov/fine"


# ------------------------------------------------------------------------------ genai-prices: scale
def test_genai_prices_with_300000_models_in_one_provider_loads(tmp_path: Path) -> None:
    # The duplicate-id check scanned every earlier entry: 100,000 models took 38 s, 300,000 ~6 min.
    models = [{"id": f"m{i}", "prices": {"input_mtok": 1}} for i in range(300_000)]
    models.append({"id": "m17", "prices": {"input_mtok": 2}})
    path = genai_file(tmp_path, models)
    out = run_isolated(f"""
        from tokenops.pricing.catalog import Catalog
        c = Catalog.from_genai_prices({str(path)!r})
        print(len(c), [(p.key, p.message) for p in c.problems])
    """)
    assert out.strip() == "300000 [('zzqprov/m17', 'duplicate model id; first definition kept')]"


# ------------------------------------------------------------------------------ genai-prices: regex
def test_a_backtracking_regex_match_rule_resolves_in_linear_time(tmp_path: Path) -> None:
    # std::regex backtracked: 6.5 s for 25 a's and a '!', twice that per added character.
    path = genai_file(tmp_path, [{"id": "m", "match": {"regex": "(a+)+$"}, "prices": {"input_mtok": 1}},
                                 {"id": "n", "match": {"regex": "^(x|x)*(y|yy)*$"}, "prices": {"input_mtok": 1}}])
    out = run_isolated(f"""
        from tokenops.pricing.catalog import Catalog
        c = Catalog.from_genai_prices({str(path)!r})
        print(c.problems)
        for name in ["a" * 60 + "!", "x" * 200 + "y" * 200 + "z", "a" * 400 + "!"]:
            try:
                print(c.resolve(name).key)
            except KeyError:
                print("unknown")
        print(c.resolve("b" + "a" * 500).key, c.resolve("x" * 200 + "y" * 300).key)
    """)
    assert out.split("\n")[:5] == ["[]", "unknown", "unknown", "unknown", "zzqprov/m zzqprov/n"]


@pytest.mark.parametrize("pattern,why", [
    ("((", "missing ), unterminated subpattern"),
    ("a)", "unbalanced parenthesis"),
    ("[a-", "unterminated character set"),
    ("*x", "nothing to repeat"),
    ("a**", "multiple repeat"),
    ("x{3,2}", "min repeat greater than max repeat"),
    (r"\q", "bad escape"),
    ("(?=gpt)", "lookaround"),
    ("(?i)gpt", "an inline flag"),
    (r"(a)\1", "backreference"),
    ("a*+", "possessive"),
    ("(?>a)", "atomic group"),
    ("a{2000}", "above 1000"),
    ("(a{1000}){1000}", "more than 2000 NFA states"),
])
def test_a_bad_or_unsupported_regex_is_a_row_problem(tmp_path: Path, pattern: str, why: str) -> None:
    # "((" loaded with no problem reported and silently never matched.
    cat = Catalog.from_genai_prices(genai_file(tmp_path, [
        {"id": "bad", "match": {"or": [{"equals": "zzq-bad"}, {"regex": pattern}]}, "prices": {"input_mtok": 1}},
        {"id": "good", "match": {"regex": "^zzq-good"}, "prices": {"input_mtok": 1}}]))
    assert [(p.key, p.field) for p in cat.problems] == [("zzqprov/bad", "match.or[1].regex")]
    assert why in cat.problems[0].message and pattern in cat.problems[0].message
    assert cat.resolve("zzq-good-2").key == "zzqprov/good"


def _forms(name: str) -> list[str]:
    """The names a match rule sees for `name` in Catalog.resolve: lower-cased, then with each
    leading 'provider/' removed in turn."""
    forms = [name.lower()]
    while "/" in forms[-1]:
        forms.append(forms[-1].split("/", 1)[1])
    return forms


def _check_parity(tmp_path: Path, patterns: list[str], names: list[str]) -> int:
    """For each pattern, a one-model catalogue; resolve(name) must succeed exactly where Python's
    re.search matches a form of the name. Patterns tokenops refuses must be ones Python refuses
    or uses a feature outside the subset. Returns how many patterns were compared."""
    compared = 0
    for i, pat in enumerate(patterns):
        path = genai_file(tmp_path, [{"id": "zzq-only", "match": {"regex": pat}, "prices": {"input_mtok": 1}}],
                          name=f"p{i}.json")
        cat = Catalog.from_genai_prices(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "possible nested set" ([[a])
                rx = re.compile(pat)
        except re.error:
            rx = None
        if cat.problems:
            assert rx is None or re.search(r"\(\?[^:P]|\(\?P[^<]|\\[0-9N]|[*+?}]\+|\{\d{4,}", pat), (pat, cat.problems)
            continue
        assert rx is not None, f"tokenops accepted {pat!r}, which Python's re rejects"
        compared += 1
        for n in names:
            if n == "zzq-only":
                continue
            want = any(rx.search(f) for f in _forms(n))
            try:
                got = cat.resolve(n).key == "zzqprov/zzq-only"
            except KeyError:
                got = False
            assert got == want, (pat, n, want)
    return compared


def test_regex_match_rules_agree_with_python_re_on_the_real_patterns(tmp_path: Path) -> None:
    if not GENAI_JSON.is_file():
        pytest.skip("no genai-prices data")
    found: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "regex" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads(GENAI_JSON.read_text(encoding="utf-8")))
    patterns = sorted(set(found))
    assert len(patterns) >= 10
    rnd = random.Random(7)
    names = ["grok-4.3-20250101", "grok-4.3-2025010", "grok-4.3-202501011", "grok-4x3-20250101", "x-ai/grok-4.5-20260101",
             "openrouter/x-ai/grok-4.3-12345678", "gpt-5.6-luna-2026-01-02", "gpt-5-6-sol-2026-01-02", "gpt-5.6-terra-2026-1-02",
             "google/gemini-3.5-flash-20260101", "gemini-3.5-flash-2", "gemini-3.5-flash-x", "o1", "o3-mini", "o4", "o2",
             "xo1", "ministral-8b", "codestral", "devstral-small", "magistral", "mistral", "pixtral", "stral",
             # Python's $ matches before a final newline; \d matches any Unicode decimal digit
             "grok-4.3-20250101\n", "grok-4.3-20250101\n\n", "gpt-5.6-sol-\u0662\u0660\u0662\u0666-01-02",
             "grok-4.5-\uff12\uff10\uff12\uff16\uff10\uff11\uff10\uff11"]
    alphabet = "gpt-5.6lunasolterragrok4.3x-ai/gemini flash0123456789o1-3-4ministralcodedevmagi\n\u0663"
    for _ in range(300):
        base = rnd.choice(names[:24])
        k = rnd.randrange(len(base) + 1)
        names.append(base[:k] + "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 4))) + base[k + rnd.randint(0, 3):])
    names = [n for n in dict.fromkeys(names) if n.strip("/")]
    assert _check_parity(tmp_path, patterns, names) == len(patterns)  # every real pattern is supported
    cat = Catalog.from_genai_prices(GENAI_JSON)  # and the real file loads every rule
    assert cat.problems == []
    assert cat.resolve("grok-4.3-20260315").key == "x-ai/grok-4.3"
    assert cat.resolve("x-ai/grok-4.5-20260315").key == "x-ai/grok-4.5"


def test_regex_match_rules_agree_with_python_re_on_generated_patterns(tmp_path: Path) -> None:
    rnd = random.Random(12345)
    atoms = ["a", "b", "-", ".", r"\.", r"\d", r"\D", r"\w", r"\W", r"\s", "[ab]", "[^a]", "[a-c]", r"[\d.]", "[]a]",
             "[a-]", r"\b", r"\B", "^", "$", r"\A", r"\Z", "é", r"\x61", r"\u00e9", "{", "}", "{1", "x{}", "\n", r"\n", " "]
    quants = ["", "", "", "*", "+", "?", "{2}", "{1,}", "{,2}", "{0,1}", "*?", "+?", "??", "{1,3}?"]

    def gen(depth: int) -> str:
        parts = []
        for _ in range(rnd.randint(1, 4)):
            if depth < 3 and rnd.random() < 0.25:
                inner = "|".join(gen(depth + 1) for _ in range(rnd.randint(1, 3)))
                part = "(" + rnd.choice(["", "?:", "?P<g%d>" % rnd.randint(0, 9)]) + inner + ")"
            else:
                part = rnd.choice(atoms)
            # an anchor with a quantifier is an error in Python: kept to one case in ten
            anchor = part in ("^", "$", r"\A", r"\Z", r"\b", r"\B")
            parts.append(part + (rnd.choice(quants) if not anchor or rnd.random() < 0.1 else ""))
        return "".join(parts)

    # hand-written edge cases, then random ones (including ones Python refuses: nothing to
    # repeat after an anchor, multiple repeats, redefined group names)
    patterns = ["(^)*a", "x{,}", "x{,2}y", "[]]", "[a-]", r"\_", "a{00002}", "[[a]", "x{1,2,3}", "(|a)b", "a|", "()",
                "(a*)*b", "(a|ab)(c|bcd)(d*)", "(?:a|b)*c", "^$", "$", r"\B", r"\b", r"\Ba", r"a\Z", "a$"]
    patterns += [gen(0) for _ in range(400)]
    letters = "ab-.é\n 1\u0663_"
    names = ["a", "b", "ab", "ba", "abc", "abcd", "a.b", "a-b", "é", "a\n", "\n", " ", "x{}", "x{1,2,3}", "{1", "]a",
             "1", "\u0663", "_"]
    names += ["".join(rnd.choice(letters) for _ in range(rnd.randint(1, 8))) for _ in range(60)]
    names = [n for n in dict.fromkeys(names) if n]
    assert _check_parity(tmp_path, patterns, names) > 300


# ------------------------------------------------------------------------------ LiteLLM tiered_pricing
_ROW = {"litellm_provider": "dashscope", "mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


def _tiered(tiers: list[dict]) -> Catalog:
    return Catalog.from_litellm(json.dumps({"m": dict(_ROW, tiered_pricing=tiers)}).encode())


def _band(lo: float, hi: float, price: float = 1e-6) -> dict:
    return {"range": [lo, hi], "input_cost_per_token": price, "output_cost_per_token": 2 * price}


@pytest.mark.parametrize("tiers,words", [
    # a 3,000-token request was billed at the first band's price, with a misleading note
    ([_band(0, 1000), _band(5000, 9000)], "leave a gap: no band prices input of more than 1000 and at most 5000 tokens"),
    ([_band(0, 1000), _band(500, 9000)], "overlap"),
    ([_band(0, 1000), _band(1000, 1000)], "is empty or reversed"),
    ([_band(0, 5000), _band(5000, 1000)], "is empty or reversed"),
    # bounds past int64 were cast (undefined): a band "1000-9223372036854775808", one at INT64_MIN
    ([_band(0, 1000), _band(1000, 9.3e18)], "is not a whole token count in [0, 1e15]"),
    ([_band(0, 1e19)], "is not a whole token count in [0, 1e15]"),
    ([_band(0, 1000.5), _band(1000.5, 5000)], "is not a whole token count"),
    # an entry without a range was skipped, yet the flat rows were deleted: a model with no price
    ([_band(0, 1000), {"input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6}], "has no 'range'"),
    ([{"input_cost_per_token": 3e-6}], "has no 'range'"),
    ([_band(0, 1000), {"range": [1000], "input_cost_per_token": 1e-6}], "range must be [start, end]"),
    ([_band(0, 1000), _band(-5, 1000)], "tiered_pricing[1].range[0] must be a token count >= 0, got -5"),
])
def test_malformed_tiered_pricing_bands_are_a_row_problem(tiers: list[dict], words: str) -> None:
    cat = _tiered(tiers)
    assert [(p.key, p.field) for p in cat.problems] == [("m", "tiered_pricing")]
    assert words in cat.problems[0].message
    assert "m" not in cat


def test_well_formed_bands_and_search_tiers_still_load() -> None:
    cat = _tiered([_band(1000, 5000, 2e-6), _band(0, 1000)])  # any order
    assert cat.problems == []
    r = tokenops.cost("m", {"input_text": 3000}, catalog=cat)
    assert r.row == "band 1000-5000" and r.notes == []
    # LiteLLM's search providers tier a per-query price by max_results_range: not token bands,
    # and the flat prices stay
    search = dict(_ROW, tiered_pricing=[{"input_cost_per_query": 0.005, "max_results_range": [0, 25]},
                                        {"input_cost_per_query": 0.025, "max_results_range": [26, 100]}])
    cat = Catalog.from_litellm(json.dumps({"s": search}).encode())
    assert cat.problems == []
    assert str(tokenops.cost("s", {"input_text": 1000}, catalog=cat).total_exact) == "0.001"


# ------------------------------------------------------------------------------ messages
def test_a_bad_rank_in_a_cr_only_tiktoken_file_gives_a_short_message(tmp_path: Path) -> None:
    # Lines ending in a bare CR are one line: the rank field was the whole rest of the file, and
    # the message quoted all of it (1.68 MB for cl100k).
    import base64
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)] * 40
    path = tmp_path / "cr_only.tiktoken"
    path.write_bytes("\r".join(lines).encode() + b"\r")
    with pytest.raises(ValueError, match="line 1: rank '0") as e:
        tokenops.Encoding.from_tiktoken_file(path, pretokenizer="r50k")
    msg = str(e.value)
    assert len(msg) < 600, len(msg)
    assert "cr_only.tiktoken" in msg and "bare CR" in msg and "bytes)" in msg


def test_a_litellm_syntax_error_next_to_nan_shows_what_the_file_says() -> None:
    # The message showed the internal marker "\u0001tokenops-nonfinite:NaN".
    text = '{"m1": {"litellm_provider": "openai", "input_cost_per_token": NaNx}}'
    with pytest.raises(ValueError) as e:
        Catalog.from_litellm(text.encode(), name="prices.json")
    msg = str(e.value)
    assert "tokenops-nonfinite" not in msg and "\\u0001" not in msg and "\x01" not in msg
    assert "prices.json: not valid JSON" in msg and "'NaNx'" in msg
    assert f"line 1, column {text.index('NaNx') + 4}" in msg  # where the user's text has it
    two = '{"m1": {"a": NaN Infinity}}'
    with pytest.raises(ValueError) as e:
        Catalog.from_litellm(two.encode(), name="p.json")
    assert "unexpected 'Infinity'" in str(e.value) and f"column {two.index('Infinity') + 8}" in str(e.value)
    # non-finite values in a well-formed file are still reported as the rows' problems
    ok = '{"m1": {"litellm_provider": "openai", "input_cost_per_token": NaN}}'
    cat = Catalog.from_litellm(ok.encode())
    assert [p.field for p in cat.problems] == ["input_cost_per_token"] and "got NaN" in cat.problems[0].message


def test_match_clauses_compare_lower_cased_on_both_sides_as_genai_prices(tmp_path: Path) -> None:
    # genai-prices' ClauseEquals / StartsWith / EndsWith / Contains lower-case the pattern and the
    # name; tokenops lower-cased only the name, so its 127 mixed-case clauses ("GLM-5.2") never
    # matched. (Its regex clauses lower-case the name only, as here.)
    m = [{"id": f"m{i}", "match": {k: v}, "prices": {"input_mtok": i + 1}}
         for i, (k, v) in enumerate((("equals", "GLM-X"), ("starts_with", "Foo-"), ("ends_with", "-BAR"),
                                     ("contains", "Mid")))]
    p = tmp_path / "data.json"
    p.write_text(json.dumps([{"id": "p", "models": m}]))
    c = Catalog.from_genai_prices(p)
    assert not c.problems
    for name, key in (("GLM-X", "p/m0"), ("glm-x", "p/m0"), ("FOO-1", "p/m1"), ("x-bar", "p/m2"), ("aMIDb", "p/m3")):
        info = c.resolve(name)
        assert (info.key, info.matched_by) == (key, "match-rule"), name
    real = Catalog.from_genai_prices(GENAI_JSON)
    info = real.resolve("GLM-5.1-20260406")  # only a mixed-case equals clause names it
    assert (info.key, info.matched_by) == ("zhipuai/GLM-5.1", "match-rule")
