"""Exactness of the tokenizer against its references: the corpus goldens (tiktoken ids for every
file), tiktoken's own test vectors, tiktoken itself on random Unicode (hypothesis), Hugging Face
tokenizers on the GPT-2 tokenizer.json, every code point of the Unicode tables, and the plain
heap BPE on long pieces."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops

ENCODINGS = ["r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony", "llama3", "gpt2"]


def _corpus_files(data_dir):
    golden = json.loads((data_dir / "corpus" / "golden_token_counts.json").read_text())
    return golden


@pytest.mark.parametrize("enc_name", ["cl100k_base", "o200k_base"])
def test_corpus_goldens(data_dir, enc_name):
    """Every corpus file (adversarial included): token count and sha256 of the id stream."""
    golden = _corpus_files(data_dir)
    enc = tokenops.get_encoding(enc_name)
    assert len(golden) >= 27
    for fname, info in golden.items():
        text = (data_dir / "corpus" / fname).read_bytes().decode("utf-8")
        ids = enc.encode_to_numpy(text, disallowed_special=())
        assert len(ids) == info[enc_name]["tokens"], fname
        digest = hashlib.sha256(ids.astype("<u4").tobytes()).hexdigest()
        assert digest == info[enc_name]["ids_sha256_u32le"], fname
        assert enc.count(text, disallowed_special=()) == len(ids), fname


def test_tiktoken_vectors():
    """Vectors from tiktoken's tests/test_encoding.py and the OpenAI cookbook."""
    g = tokenops.get_encoding("gpt2")
    r = tokenops.get_encoding("r50k_base")
    p = tokenops.get_encoding("p50k_base")
    c = tokenops.get_encoding("cl100k_base")
    o = tokenops.get_encoding("o200k_base")
    for e in (g, r, p):
        assert e.encode("hello world") == [31373, 995]
    assert [g.encode("0" * n) for n in (1, 2, 3, 4, 9, 16, 17)] == [
        [15], [405], [830], [2388], [10535, 830], [25645], [8269, 10535, 830]
    ]
    assert c.encode("hello world") == [15339, 1917]
    assert c.encode("rer") == [38149]
    assert c.encode("'rer") == [2351, 81]
    assert c.encode("today\n ") == [31213, 198, 220]
    assert c.encode("today\n \n") == [31213, 27907]
    assert c.encode("today\n  \n") == [31213, 14211]
    assert c.encode(" \x850") == [220, 126, 227, 15]
    assert c.encode("👍") == [9468, 239, 235]
    assert c.encode("hello <|endoftext|>", allowed_special="all") == [15339, 220, 100257]
    assert g.encode("hello <|endoftext|>", allowed_special="all") == [31373, 220, 50256]
    assert o.encode("hello world") == [24912, 2375]
    assert c.encode("お誕生日おめでとう") == [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]
    assert o.encode("お誕生日おめでとう") == [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]
    assert c.decode([15339, 1917]) == "hello world"


# Text biased toward the characters that decide pre-token boundaries.
_interesting = st.sampled_from(
    list(" \t\n\r\x0b\x0c\x85\xa0\u2028\u3000'’sStTdDmMlLvVeErRſ0123456789٣१½Ⅻ.,!?/-_=<>|{}\"")
    + ["\u0301", "\u0903", "\u20dd", "ǅ", "ʰ", "中", "文", "あ", "한", "😀", "👍🏽", "\u200d", "\ufeff", "A", "a", "Ω", "ω"]
)
_interesting_text = st.lists(_interesting, max_size=60).map("".join)
_text = st.one_of(
    st.text(max_size=80),
    _interesting_text,
    st.lists(st.one_of(st.text(max_size=8), _interesting_text), max_size=10).map("".join),
)


@pytest.mark.parametrize("enc_name", ENCODINGS)
def test_random_unicode_matches_tiktoken(tk, enc_name):
    ref = tk(enc_name)
    ours = tokenops.get_encoding(enc_name)

    @settings(max_examples=400, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_text)
    def check(s):
        ids = ours.encode_ordinary(s)
        assert ids == ref.encode_ordinary(s)
        assert ours.decode(ids) == s
        assert ours.count_ordinary(s) == len(ids)

    check()


# Long runs of one ASCII class (the pre-tokenizers scan them 16 or 32 bytes at a time), each ended
# by a character that decides the piece boundary: a non-ASCII letter, mark, number or space, an
# apostrophe, a digit, punctuation, a line break. Runs of 0 to 100 bytes cross one, two or three
# blocks, and the text may end right after one.
_run = st.tuples(
    st.sampled_from(
        ["a", "Z", "aZ", "Za", "abcXYZ", " ", "\t", "  \r\n", " \n", "\n", "0", "-", ".,", "'"]
    ),
    st.integers(min_value=0, max_value=100),
).map(lambda t: (t[0] * t[1])[: t[1]])
_stop = st.sampled_from(
    list("'’sStT \t\r\n\x0b\x85\xa0\u3000é\u0301ǅʰ中٣½.!/_\"A0a")
    + ["'s", "'ll", "'RE", "ſ", "😀", ""]
)
_long_runs = st.lists(st.tuples(_run, _stop).map("".join), min_size=1, max_size=12).map("".join)


@pytest.mark.parametrize("enc_name", ["r50k_base", "cl100k_base", "o200k_base", "llama3"])
def test_long_ascii_runs_match_tiktoken(tk, enc_name):
    ref = tk(enc_name)
    ours = tokenops.get_encoding(enc_name)

    @settings(max_examples=600, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_long_runs, st.integers(min_value=0, max_value=40))
    def check(s, cut):
        for t in (s, s[cut:], s[: max(0, len(s) - cut)]):
            assert ours.encode_ordinary(t) == ref.encode_ordinary(t)

    check()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_round_trip_all_str(s):
    for name in ("cl100k_base", "o200k_base", "r50k_base", "llama3"):
        enc = tokenops.get_encoding(name)
        assert enc.decode(enc.encode(s, disallowed_special=())) == s
        assert enc.decode_bytes(enc.encode_ordinary(s)) == s.encode("utf-8")


def _probe(c: str) -> str:
    # c next to letters of both cases, digits, spaces, newlines, apostrophes and itself.
    return f"a{c}b {c}1{c}{c}A{c}a{c}\n{c} {c}x'{c}s {c}'s\t{c}{c}{c}/{c}\r\n"


@pytest.mark.parametrize("enc_name", ["r50k_base", "cl100k_base", "o200k_base", "llama3"])
def test_unicode_tables_every_code_point(tk, enc_name):
    """The pinned Unicode tables (scripts/gen_unicode_tables.py) agree with the reference regex
    engine on every code point, each probed in several contexts."""
    ref = tk(enc_name)
    ours = tokenops.get_encoding(enc_name)
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]
    bad = []
    step = 512
    for i in range(0, len(cps), step):
        chunk = "".join(_probe(chr(cp)) for cp in cps[i:i + step])
        if ours.encode_ordinary(chunk) != ref.encode_ordinary(chunk):
            bad.extend(cp for cp in cps[i:i + step]
                       if ours.encode_ordinary(_probe(chr(cp))) != ref.encode_ordinary(_probe(chr(cp))))
    assert not bad, [hex(b) for b in bad[:20]]


def test_gpt2_tokenizer_json_matches_hf_tokenizers(data_dir):
    tokenizers = pytest.importorskip("tokenizers")
    path = data_dir / "tokenizers" / "gpt2" / "tokenizer.json"
    hf = tokenizers.Tokenizer.from_file(str(path))
    ours = tokenops.Encoding.from_hf_tokenizer_json(path, name="gpt2-hf")
    assert ours._core.merge_mode
    for fname in ["en_moby_dick.txt", "multilingual_udhr.txt", "unicode_emoji_test.txt",
                  "code_python.txt", "edge_cases_unicode.txt", "zh_tang_poems.json"]:
        text = (data_dir / "corpus" / fname).read_bytes().decode("utf-8")[:200_000]
        want = hf.encode(text, add_special_tokens=False).ids
        assert ours.encode(text, allowed_special="all") == want, fname

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(_text)
    def check(s):
        assert ours.encode(s, allowed_special="all") == hf.encode(s, add_special_tokens=False).ids

    check()


def test_gpt2_registry_equals_r50k_ranks():
    """gpt2 (merge-list BPE from tokenizer.json) and r50k_base (rank BPE) agree."""
    g = tokenops.get_encoding("gpt2")
    r = tokenops.get_encoding("r50k_base")
    rng = random.Random(7)
    for _ in range(200):
        s = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x400, 0x4FF), rng.randint(0x4E00, 0x4FFF)]))
                    for _ in range(rng.randint(1, 300)))
        assert g.encode_ordinary(s) == r.encode_ordinary(s)


@pytest.mark.parametrize("enc_name", ["cl100k_base", "o200k_base", "llama3", "gpt2"])
def test_long_pieces_chunked_equals_heap_reference(enc_name):
    """Pieces longer than 64 bytes use the chunked algorithm; it must equal the plain heap merge."""
    core = tokenops.get_encoding(enc_name)._core
    rng = random.Random(11)
    alphabets = [b"ab", b"abcdefghijklmnopqrstuvwxyz", b" \t\n\r", bytes(range(256)), b"^", b"0123456789"]
    for trial in range(600):
        n = rng.randint(65, 2500)
        kind = trial % 8
        if kind < len(alphabets):
            b = bytes(rng.choice(alphabets[kind]) for _ in range(n))
        elif kind == 6:
            b = (rng.choice(["ab", "aab", "  \n", "==", "的", "😀", "\u0301"]) * n).encode()[:n]
        else:
            b = "".join(chr(rng.randint(0x4E00, 0x4F00)) for _ in range(n // 3)).encode()
        assert core.encode_single_piece(b) == core.encode_single_piece_reference(b), (trial, b[:40])


@pytest.mark.parametrize("enc_name", ["cl100k_base", "o200k_base"])
def test_worst_case_inputs_complete_and_match(tk, enc_name):
    """Inputs that make regex engines backtrack or BPE go quadratic: exact, and they finish."""
    ours, ref = tokenops.get_encoding(enc_name), tk(enc_name)
    rng = random.Random(3)
    cases = {
        "caret": "^" * 1_000_000,
        "a": "a" * 1_000_000,
        "cjk": "".join(chr(rng.randint(0x4E00, 0x9FFE)) for _ in range(200_000)),
        "json": json.dumps([{"k" + str(i): [i, "v" * (i % 7), None, True]} for i in range(20_000)],
                           separators=(",", ":")),
        "base64": __import__("base64").b64encode(rng.randbytes(300_000)).decode(),
    }
    for label, text in cases.items():
        ids = ours.encode_to_numpy(text)
        assert ids.dtype == np.uint32
        assert ids.tolist() == ref.encode_ordinary(text), label


def _complete_fragment(tok: bytes, rng: random.Random) -> str | None:
    """A valid UTF-8 string containing `tok`: leading continuation bytes get a lead byte (and
    middle bytes) in front, a trailing incomplete character gets its continuation bytes."""
    i = 0
    while i < len(tok) and tok[i] & 0xC0 == 0x80:
        i += 1
    for _ in range(20):
        head = b""
        if i == 1:
            head = rng.choice([bytes([rng.randint(0xC2, 0xDF)]),
                               bytes([rng.randint(0xE4, 0xE9), rng.randint(0x80, 0xBF)]),
                               bytes([0xF0, rng.randint(0x90, 0xBF), rng.randint(0x80, 0xBF)])])
        elif i == 2:
            head = rng.choice([bytes([rng.randint(0xE4, 0xE9)]), bytes([0xF0, rng.randint(0x90, 0xBF)])])
        elif i == 3:
            head = b"\xf0"
        body = head + tok
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                continue  # the head did not fit these continuation bytes; try another
        for _ in range(3):
            body += bytes([rng.randint(0x80, 0xBF)])
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data":
                    break
    return None


@pytest.mark.parametrize("enc_name", ["cl100k_base", "o200k_base"])
def test_character_level_bpe_start_equals_byte_level_reference(enc_name):
    """Non-ASCII pieces start BPE from per-character tokens where that is provably exact
    (Encoding::build_char_starts). Exercise exactly the cases its guards exist for: every
    vocabulary token that crosses a character boundary with a partial character, and tokens
    spanning several non-ASCII characters, each completed to valid UTF-8 and put between random
    neighbours (CJK, kana, Cyrillic, Devanagari, Latin, emoji), against the byte-level heap merge."""
    enc = tokenops.get_encoding(enc_name)
    core = enc._core
    rng = random.Random(17)
    pool = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会"
            "ありがとうございますカタカナーテスト" "привет мир" "नमस्ते दुनिया" "éàüßçñ" "abc XY"
            "😀🙂👍🏽" "ქართული" "한국어" "ไทย" "עברית" "العربية")
    crossing, multi = [], []
    for t in enc.token_byte_values():
        if all(b < 0x80 for b in t):
            continue
        try:
            s = t.decode("utf-8")
            if len(s) >= 2:
                multi.append(t)
        except UnicodeDecodeError:
            if not (len(t) <= 3 and (t[0] & 0xC0 == 0x80 or len(t) == 1)):
                crossing.append(t)
    rng.shuffle(multi)
    cases = crossing + multi[:4000]
    checked = 0
    for t in cases:
        frag = _complete_fragment(t, rng)
        if frag is None:
            continue
        for _ in range(3):
            s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 3))) + frag + \
                "".join(rng.choice(pool) for _ in range(rng.randint(0, 3)))
            b = s.encode("utf-8")
            while len(b) > 64:
                s = s[1:] if rng.random() < 0.5 and s[1:].find(frag) >= 0 else s[:-1]
                if frag not in s:
                    break
                b = s.encode("utf-8")
            if len(b) > 64 or len(b) < 2:
                continue
            assert core.encode_single_piece(b) == core.encode_single_piece_reference(b), (t, s)
            checked += 1
    for _ in range(20000):  # plain random non-ASCII runs
        s = "".join(rng.choice(pool) for _ in range(rng.randint(1, 30)))
        b = s.encode("utf-8")[:64]
        while b and (b[-1] & 0xC0 == 0x80 or b[-1] >= 0xC0):
            try:
                b.decode("utf-8")
                break
            except UnicodeDecodeError:
                b = b[:-1]
        assert core.encode_single_piece(b) == core.encode_single_piece_reference(b), s
    assert checked > 1000
