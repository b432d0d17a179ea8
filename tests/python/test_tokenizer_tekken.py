"""Mistral's tekken tokenizer (Mistral NeMo, Pixtral 12B, Ministral 8B): token-for-token parity
with mistral-common's own Tekkenizer (its wheel ships the tekken files; tests install it), on the
whole shared corpus, random Unicode, every code point and the worst-case inputs; the file format's
errors; the model map."""

from __future__ import annotations

import base64
import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops
from tokenops.tokenizer import registry

mistral = pytest.importorskip("mistral_common", reason="the tests install mistral-common (the reference)")
from mistral_common.tokens.tokenizers.tekken import Tekkenizer  # noqa: E402

TEKKEN = Path(mistral.__file__).parent / "data" / "tekken_240911.json"


@pytest.fixture(scope="module")
def ref():
    return Tekkenizer.from_file(TEKKEN)


@pytest.fixture(scope="module")
def ours():
    return tokenops.get_encoding("tekken")


def ref_ids(ref, text):
    return ref.encode(text, bos=False, eos=False)


def test_the_registered_file_is_mistral_commons(ours, ref):
    assert ours.n_vocab == ref.n_words == 131072 and ours.max_token_value == 131071
    assert registry.PATTERNS["tekken"] == json.loads(TEKKEN.read_text())["config"]["pattern"]
    # ids below 1,000 are Mistral's special tokens, in its order
    for i in (0, 1, 2, 3, 4, 9, 19, 20, 999):
        assert ours.decode_single_token_bytes(i).decode() == ref.id_to_piece(i)
    assert ours.special_tokens_set >= {"<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "<SPECIAL_999>"}
    # the 240718 file holds the same vocabulary (only its image config differs)
    other = tokenops.Encoding.from_tekken_file(TEKKEN.with_name("tekken_240718.json"))
    assert other.encode_ordinary("Mistral NeMo, 12B: 'tekken' ✓") == ours.encode_ordinary("Mistral NeMo, 12B: 'tekken' ✓")


def test_reference_vectors(ours, ref):
    # ids printed by mistral_common 1.13.1: Tekkenizer.from_file(tekken_240911.json)
    # .encode("Hello, world! 12345 [INST] <s>", bos=False, eos=False)
    assert ours.encode_ordinary("Hello, world! 12345 [INST] <s>") == [
        22177, 1044, 4304, 1033, 1032, 1049, 1050, 1051, 1052, 1053, 1766, 3174, 3074, 1093, 1534, 1115, 1062]
    for text in ["I'm here, it's 2024-12-08.", "l'homme qu'il aimait", "お誕生日おめでとう",
                 "naïve café 😀👍🏽", "def f(x):\n    return x**2  # ok\n", "\n\n\n  \t x", ""]:
        assert ours.encode_ordinary(text) == ref_ids(ref, text), text


def test_special_tokens_follow_tiktokens_api(ours, ref):
    text = "[INST] hi [/INST]"
    with pytest.raises(ValueError, match="disallowed special token"):
        ours.encode(text)
    assert ours.encode(text, disallowed_special=()) == ours.encode_ordinary(text) == ref_ids(ref, text)
    assert ours.encode(text, allowed_special={"[INST]", "[/INST]"}) == [3] + ref_ids(ref, " hi ") + [4]
    assert ours.decode([1, 3] + ref_ids(ref, "hi") + [4, 2]) == "<s>[INST]hi[/INST]</s>"


@pytest.mark.slow
def test_corpus_matches_mistral_common(ours, ref, data_dir):
    files = sorted((data_dir / "corpus").rglob("*.txt")) + sorted((data_dir / "corpus").glob("*.json"))
    assert len(files) > 20
    for f in files:
        text = f.read_text(encoding="utf-8")
        ids = ours.encode_ordinary(text)
        assert ids == ref_ids(ref, text), f.name
        assert ours.count(text, disallowed_special=()) == len(ids)
        assert ours.decode(ids) == text


_interesting = st.sampled_from(
    list(" \t\n\r\x0b\x0c\x85\xa0\u2028\u3000'’sStTdDmMlLvVeErRſ0123456789٣१½Ⅻ.,!?/-_=<>|{}\"")
    + ["\u0301", "\u0903", "ǅ", "ʰ", "中", "あ", "한", "😀", "👍🏽", "\u200d", "A", "a", "Ω", "ω", "[INST]"]
)
_text = st.one_of(st.text(max_size=80), st.lists(_interesting, max_size=60).map("".join))


def test_random_unicode_matches_mistral_common(ours, ref):
    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(_text)
    def check(s):
        ids = ours.encode_ordinary(s)
        assert ids == ref_ids(ref, s)
        assert ours.decode(ids) == s

    check()


@pytest.mark.slow
def test_every_code_point_matches_mistral_common(ours, ref):
    """The pinned Unicode tables and the TEKKEN scanner (no contractions, single digits) agree
    with the reference on every code point, each probed next to letters, digits, spaces,
    newlines and apostrophes."""
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]
    bad = []
    for i in range(0, len(cps), 512):
        chunk = "".join(f"a{chr(c)}b {chr(c)}1{chr(c)}{chr(c)}A{chr(c)}a\n{chr(c)} x'{chr(c)}s '{chr(c)}12/"
                        for c in cps[i:i + 512])
        if ours.encode_ordinary(chunk) != ref_ids(ref, chunk):
            bad.append(hex(cps[i]))
    assert not bad, bad[:20]


def test_worst_case_inputs(ours, ref):
    rng = random.Random(5)
    cases = {
        "caret": "^" * 300_000,
        "digits": "1234567890" * 30_000,
        "apostrophes": "'s" * 100_000,
        "cjk": "".join(chr(rng.randint(0x4E00, 0x9FFE)) for _ in range(100_000)),
        "base64": base64.b64encode(rng.randbytes(200_000)).decode(),
    }
    for label, text in cases.items():
        ids = ours.encode_to_numpy(text)
        assert ids.dtype == np.uint32 and ids.tolist() == ref_ids(ref, text), label


def test_model_names_map_to_tekken():
    for m in ("open-mistral-nemo", "mistral/open-mistral-nemo-2407", "ministral-8b-2410", "pixtral-12b-2409",
              "mistral-small-2409", "mistralai/Mistral-Nemo-Instruct-2407", "openrouter/mistralai/mistral-nemo",
              "mistralai/Pixtral-12B-2409"):
        assert tokenops.encoding_for_model(m).name == "tekken", m
    with pytest.raises(KeyError):
        tokenops.encoding_for_model("open-mixtral-8x7b")  # SentencePiece: not a tekken model


def test_an_encoding_from_a_tekken_file_pickles_by_value(tmp_path):
    p = tmp_path / "my_tekken.json"
    p.write_bytes(TEKKEN.read_bytes())
    enc = tokenops.Encoding.from_tekken_file(p)
    assert enc.name == "my_tekken.json"
    p.unlink()
    again = pickle.loads(pickle.dumps(enc))
    assert again.encode_ordinary("bonjour à tous") == enc.encode_ordinary("bonjour à tous")


def _tekken(tmp_path, **change):
    d = {"config": {"pattern": registry.PATTERNS["tekken"], "num_vocab_tokens": 258,
                    "default_vocab_size": 260, "default_num_special_tokens": 3, "version": "v3"},
         "vocab": [{"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None}
                   for i in range(256)]
         + [{"rank": 256, "token_bytes": base64.b64encode(b"ab").decode(), "token_str": "ab"},
            {"rank": 257, "token_bytes": base64.b64encode(b"abc").decode(), "token_str": "abc"}],
         "special_tokens": [{"rank": 0, "token_str": "<unk>", "is_control": True},
                            {"rank": 1, "token_str": "<s>", "is_control": True}]}
    for k, v in change.items():
        if k in d["config"]:
            d["config"][k] = v
        else:
            d[k] = v
    p = tmp_path / "t.json"
    p.write_text(json.dumps(d) if not isinstance(change.get("raw"), str) else change["raw"])
    return p


def test_a_small_tekken_file(tmp_path):
    enc = tokenops.Encoding.from_tekken_file(_tekken(tmp_path))
    # 257 of the 258 ranks are kept (default_vocab_size 260 - 3 special tokens); ids are rank + 3
    assert enc.encode_ordinary("abc") == [256 + 3, ord("c") + 3] and enc.n_vocab == 260
    assert enc.decode([0, 1, 2]) == "<unk><s><SPECIAL_2>"


@pytest.mark.parametrize("change, message", [
    ({"raw": "{not json"}, "not valid JSON"),
    ({"vocab": None}, "'vocab' must be a list"),
    ({"num_vocab_tokens": 300}, "num_vocab_tokens is 300 but 'vocab' has 258"),
    ({"default_vocab_size": 2}, "must exceed the 3 special tokens"),
    ({"default_num_special_tokens": -1}, "must be an integer"),
    ({"pattern": r"\p{L}+"}, "unsupported tekken pre-tokenizer pattern"),
    ({"special_tokens": [{"rank": 0, "token_str": "<s>"}, {"rank": 1, "token_str": "<s>"}]}, "listed twice"),
    ({"special_tokens": [{"rank": 5, "token_str": "<s>"}]}, "special_tokens\\[0\\] must be an object with 'rank' 0"),
])
def test_malformed_tekken_files_raise_naming_the_problem(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        tokenops.Encoding.from_tekken_file(_tekken(tmp_path, **change))


def test_bad_vocab_entries_name_the_entry(tmp_path):
    d = json.loads(_tekken(tmp_path).read_text())
    d["vocab"][7]["token_bytes"] = "***"
    (tmp_path / "b.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"vocab\[7\]\.token_bytes is not valid"):
        tokenops.Encoding.from_tekken_file(tmp_path / "b.json")
    d = json.loads(_tekken(tmp_path).read_text())
    d["vocab"][9]["rank"] = 10
    (tmp_path / "c.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"vocab\[9\] has rank 10"):
        tokenops.Encoding.from_tekken_file(tmp_path / "c.json")
    d = json.loads(_tekken(tmp_path).read_text())
    d["vocab"][256]["token_bytes"] = base64.b64encode(b"a").decode()
    (tmp_path / "d.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="same bytes"):
        tokenops.Encoding.from_tekken_file(tmp_path / "d.json")
    with pytest.raises(ValueError, match="is not the 'tekken' vocabulary"):
        tokenops.get_encoding("tekken", path=tmp_path / "d.json")


def test_count_messages_uses_tekken_for_the_models_that_have_it():
    # "mistral-nemo" matched the "mistral" prefix of the providers without a public tokenizer
    # and was counted with o200k_base, though encoding_for_model maps it to tekken; now its chat
    # template is reproduced too (test_mistral_chat.py): <s>[INST] text [/INST]
    msgs = [{"role": "user", "content": "Bonjour, ça va ? 2024"}]
    text = tokenops.get_encoding("tekken").count_ordinary(msgs[0]["content"])
    for model in ("open-mistral-nemo", "mistral-nemo", "mistral/open-mistral-nemo", "mistral-small-2409"):
        c = tokenops.count_messages(msgs, model=model)
        assert c.encoding == "tekken" and c.kind == "exact" and c.tokens == text + 3, model
    other = tokenops.count_messages(msgs, model="mistral-large-latest")  # no public tokenizer known here
    assert other.encoding == "o200k_base" and other.kind == "approximation"
