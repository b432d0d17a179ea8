"""SentencePiece BPE (Mistral v1 / v2 / v3 / v7, as mistral-common ships them): token-for-token
parity with the sentencepiece library itself (its C++ encoder is the reference) on the whole
shared corpus, random Unicode, hand-made models that exercise score ties, frozen user-defined
pieces, byte fallback and merges across "▁"; decoding; bad files."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops
from tokenops import SentencePieceEncoding
from tokenops.tokenizer.sentencepiece import MISTRAL_MODELS

spm = pytest.importorskip("sentencepiece", reason="the tests install sentencepiece (the reference)")
mistral = pytest.importorskip("mistral_common", reason="the tests install mistral-common (the files)")
DATA = Path(mistral.__file__).parent / "data"


@pytest.fixture(scope="module", params=sorted(MISTRAL_MODELS))
def pair(request):
    name = request.param
    ours = SentencePieceEncoding.load(name)
    ref = spm.SentencePieceProcessor(model_file=str(DATA / MISTRAL_MODELS[name][0]))
    return ours, ref


@pytest.mark.slow
def test_corpus_matches_sentencepiece(pair, data_dir):
    ours, ref = pair
    files = sorted((data_dir / "corpus").rglob("*.txt")) + sorted((data_dir / "corpus").glob("*.json"))
    assert len(files) > 20
    for f in files:
        text = f.read_text(encoding="utf-8")
        ids = ours.encode(text)
        assert ids == ref.encode(text), f.name
        assert ours.count(text) == len(ids)
        assert ours.decode(ids) == ref.decode(ids), f.name


_interesting = st.sampled_from(
    list(" \t\n\r\x0b\x0c\x85\xa0\u2028\u3000'’sStT0123456789٣.,!?/-_=<>|{}\"▁")
    + ["\u0301", "中", "文", "あ", "한", "😀", "👍🏽", "\u200d", "\U0001f9ff", "\U000e0001", "[INST]", "<s>",
       "[REFERENCE_DOC_3]", "[TOOL_CALLS]", "  ", "naïve"]
)
_text = st.one_of(st.text(max_size=80), st.lists(_interesting, max_size=40).map("".join))


def test_random_unicode_matches_sentencepiece(pair):
    ours, ref = pair

    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(_text)
    def check(s):
        ids = ours.encode(s)
        assert ids == ref.encode(s)
        assert ours.decode(ids) == ref.decode(ids)

    check()


def test_mistral_v1_basics():
    e = SentencePieceEncoding.load("mistral_v1")
    assert e.n_vocab == 32000 and e.bos_token_id == 1 and e.eos_token_id == 2
    assert e.encode("Hello world", add_bos=True, add_eos=True) == [1, 22557, 1526, 2]
    assert e.encode("") == [] and e.count("") == 0
    assert e.id_to_piece(22557) == "▁Hello"
    assert e.decode([1, 22557, 1526, 2]) == "Hello world"  # control tokens drop out
    assert pickle.loads(pickle.dumps(e)).encode("naïve 😀") == e.encode("naïve 😀")
    with pytest.raises(TypeError, match="text must be str"):
        e.encode(b"bytes")
    with pytest.raises(ValueError, match="out of range"):
        e.decode([32000])
    with pytest.raises(KeyError, match="known: mistral_v1"):
        SentencePieceEncoding.load("llama2")


# ------------------------------------------------------------------ hand-made models
def _varint(n: int) -> bytes:
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num: int, wire: int, payload: bytes) -> bytes:
    key = _varint((num << 3) | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def _model(pieces, *, model_type=2, byte_fallback=True, normalizer="identity", remove_ws=False) -> bytes:
    """A ModelProto: pieces (text, score, type), then the 256 byte pieces when byte_fallback."""
    allp = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)] + list(pieces)
    if byte_fallback:
        allp += [(f"<0x{b:02X}>", 0.0, 6) for b in range(256)]
    out = b""
    for text, score, typ in allp:
        body = _field(1, 2, text.encode()) + _field(2, 5, struct.pack("<f", score)) + _field(3, 0, _varint(typ))
        out += _field(1, 2, body)
    trainer = _field(3, 0, _varint(model_type)) + _field(35, 0, _varint(int(byte_fallback)))
    norm = (_field(1, 2, normalizer.encode()) + _field(3, 0, _varint(1)) + _field(4, 0, _varint(int(remove_ws)))
            + _field(5, 0, _varint(1)))
    return out + _field(2, 2, trainer) + _field(3, 2, norm)


def _both(proto: bytes, tmp_path: Path):
    p = tmp_path / "m.model"
    p.write_bytes(proto)
    return SentencePieceEncoding.from_file(p), spm.SentencePieceProcessor(model_proto=proto)


_CHARS = ["▁", "a", "b", "c", "é"]
_PIECES = [(c, -10.0 - i, 1) for i, c in enumerate(_CHARS)] + [
    ("ab", -1.0, 1), ("bc", -1.0, 1),        # equal scores: the leftmost pair merges first
    ("abc", -0.5, 1), ("▁a", -2.0, 1), ("a▁", -1.5, 1),  # "a▁" joins across a space
    ("▁▁", -3.0, 1), ("cab", -0.7, 1), ("[X]", 0.0, 4),  # "[X]" user-defined: matched whole, frozen
]


@pytest.mark.parametrize("byte_fallback", [True, False])
def test_hand_made_model_matches_sentencepiece(tmp_path, byte_fallback):
    # without byte fallback a run of unknown characters is one <unk> (it was one per character)
    ours, ref = _both(_model(_PIECES, byte_fallback=byte_fallback), tmp_path)

    @settings(max_examples=500, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(["a", "b", "c", " ", "é", "[X]", "[X", "z", "中"]), max_size=30).map("".join))
    def check(s):
        assert ours.encode(s) == ref.encode(s)
        assert ours.decode(ours.encode(s)) == ref.decode(ref.encode(s))

    check()
    assert ours.encode("abc") == ref.encode("abc")
    assert ours.count("zz a 中文") == len(ref.encode("zz a 中文"))


def test_decode_matches_sentencepiece_on_any_ids(pair):
    # the dummy prefix's space comes off a normal piece only (not <unk>'s surface nor a byte
    # piece), and each byte that starts no valid UTF-8 character is one U+FFFD, as in sentencepiece
    ours, ref = pair
    n = ours.n_vocab

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.one_of(st.integers(0, n - 1), st.integers(3, 300)), max_size=12))
    def check(ids):
        assert ours.decode(ids) == ref.decode(ids)

    check()
    for ids in ([0], [35], [35, 68], [229, 153], [243, 162, 155], [1, 35, 2], [0, 22557]):
        assert ours.decode(ids) == ref.decode(ids), ids


@pytest.mark.parametrize("kw, message", [
    ({"model_type": 1}, "model_type 1, not BPE"),
    ({"normalizer": "nmt_nfkc"}, "normalizer 'nmt_nfkc'"),
    ({"remove_ws": True}, "remove_extra_whitespaces"),
])
def test_models_tokenops_does_not_implement_are_named(tmp_path, kw, message):
    p = tmp_path / "m.model"
    p.write_bytes(_model(_PIECES, **kw))
    with pytest.raises(ValueError, match=message):
        SentencePieceEncoding.from_file(p)


def test_a_single_character_control_piece_is_refused(tmp_path):
    # sentencepiece reads such a character as the control piece; tokenops does not implement that
    p = tmp_path / "m.model"
    p.write_bytes(_model(_PIECES + [("x", 0.0, 3)]))
    with pytest.raises(ValueError, match="control or unknown piece .* 'x' is a single character"):
        SentencePieceEncoding.from_file(p)


def test_bad_model_files_are_value_errors(tmp_path):
    p = tmp_path / "bad.model"
    for data, message in [(b"", "no pieces"), (b"\x0a\xff\xff\xff\xff\x0f", "length past the end"),
                          (b"\x0b", "unsupported wire type"), (b"\x0a\x01\x08", "truncated varint"),
                          (_model(_PIECES, byte_fallback=False)[:-3], "not a SentencePiece model|no pieces")]:
        p.write_bytes(data)
        with pytest.raises(ValueError, match=message):
            SentencePieceEncoding.from_file(p)
    data = bytearray((DATA / "tokenizer.model.v1").read_bytes())
    data[1000] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is not Mistral's mistral_v1 tokenizer"):
        SentencePieceEncoding.load("mistral_v1", path=p)
    with pytest.raises(FileNotFoundError, match="Looked in"):
        SentencePieceEncoding.load("mistral_v1", path=tmp_path / "missing.model")


def test_exported_from_the_package():
    assert tokenops.SentencePieceEncoding is SentencePieceEncoding


def test_model_names_map_to_mistral_tokenizers():
    for model, name in [("open-mixtral-8x7b", "mistral_v1"), ("mistral/open-mistral-7b", "mistral_v1"),
                        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral_v1"), ("open-mixtral-8x22b", "mistral_v3"),
                        ("openrouter/mistral-large-2407", "mistral_v3"), ("mistral-large-2411", "mistral_v7"),
                        ("mistral-small-2402", "mistral_v2")]:
        enc = SentencePieceEncoding.for_model(model)
        assert enc.name == name, model
        assert enc is SentencePieceEncoding.for_model(model)  # loaded once
        assert enc.count_ordinary("Bonjour, ça va ?") == len(enc.encode("Bonjour, ça va ?"))
    with pytest.raises(KeyError, match="no SentencePiece tokenizer is known"):
        SentencePieceEncoding.for_model("open-mistral-nemo")  # tekken: tokenops.encoding_for_model
