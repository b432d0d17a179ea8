"""tokenops.Embedder: parity with sentence-transformers (committed fixtures), tokenizer parity
with Hugging Face `tokenizers` (corpus, every code point, random Unicode), API and bad input."""

from __future__ import annotations

import hashlib
import os
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokenops
from tokenops import _core
from tokenops.embed import cosine_similarity, default_model_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "embed"
sys.path.insert(0, str(FIXTURES))
from parity_texts import select_texts  # noqa: E402


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()


@pytest.fixture(scope="module")
def emb() -> tokenops.Embedder:
    try:
        default_model_path()
    except FileNotFoundError as exc:
        pytest.fail(f"the default embedding model is not installed: {exc}")
    return tokenops.Embedder.load()


@pytest.fixture(scope="module")
def tiny() -> tokenops.Embedder:
    return tokenops.Embedder.load(FIXTURES / "tiny_bert")


@pytest.fixture(scope="module")
def hf_tokenizer(emb):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(emb.path / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(emb.max_tokens)
    return tok


@pytest.fixture(scope="module")
def parity_texts(data_dir) -> list[tuple[str, str]]:
    return select_texts(data_dir)


# ---------------------------------------------------------------------------------------------
# Parity with sentence-transformers (PyTorch CPU), from fixtures made by regenerate.py
# ---------------------------------------------------------------------------------------------
def _check_sources(ref, items) -> list[str]:
    assert list(ref["sources"]) == [s for s, _ in items], "parity text selection changed"
    changed = [s for (s, t), h in zip(items, ref["sha256"]) if _sha(t) != h]
    assert not changed, f"shared data changed under the fixture: {changed[:5]}"
    return [t for _, t in items]


def test_minilm_matches_sentence_transformers(emb, parity_texts):
    ref = np.load(FIXTURES / "minilm_reference.npz")
    texts = _check_sources(ref, parity_texts)
    assert len(texts) >= 1000
    kinds = {s.split("#")[0] for s, _ in parity_texts}
    assert {"cache/banking77/test.csv", "routing/mmlu", "corpus/multilingual_udhr.txt",
            "synthetic"} <= kinds
    assert max(emb.count_tokens(t) for t in texts) == emb.max_tokens  # long inputs truncated
    got = emb.embed(texts, batch_size=32)
    want = ref["embeddings"]
    assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.99999, (cos.min(), texts[worst][:80])
    diff = np.abs(got - want).max()
    assert diff <= 1e-4, diff
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # One text per forward pass takes the small-batch GEMM kernel instead of Eigen's GEMM.
    one = emb.embed(texts[:300], batch_size=1)
    assert np.abs(one - want[:300]).max() <= 1e-4
    assert ((one * want[:300]).sum(1)).min() >= 0.99999


def test_other_bert_shape_loads_from_config(tiny, parity_texts):
    """A cased 2-layer, hidden-32, CLS-pooled, unnormalised model with max_seq_length 48."""
    ref = np.load(FIXTURES / "tiny_bert_reference.npz")
    texts = _check_sources(ref, parity_texts[::6])
    assert (tiny.dim, tiny.max_tokens) == (32, 48)
    assert tiny.info["pooling"] == "cls" and not tiny.info["normalize"]
    assert not tiny.info["lowercase"]
    assert [tiny.tokenize(t) for t in texts] == [json.loads(x) for x in ref["ids"]]
    got = tiny.embed(texts)
    want = ref["embeddings"]
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert cos.min() >= 0.99999
    assert np.abs(got - want).max() <= 1e-4


# ---------------------------------------------------------------------------------------------
# Tokenizer parity with Hugging Face tokenizers
# ---------------------------------------------------------------------------------------------
def test_tokenizer_matches_hf_on_shared_corpus(emb, hf_tokenizer, data_dir):
    lines: list[str] = []
    for p in sorted((data_dir / "corpus").glob("*.txt")):
        lines += p.read_text(encoding="utf-8", errors="replace").splitlines()
    lines += [t for _, t in select_texts(data_dir)]
    assert len(lines) > 100_000
    ours = emb._core.tokenize_batch(lines)
    ref = [e.ids for e in hf_tokenizer.encode_batch(lines)]
    bad = [i for i, (a, b) in enumerate(zip(ours, ref)) if a != b]
    assert not bad, [lines[i][:60] for i in bad[:5]]


@pytest.mark.parametrize("lowercase,strip", [(True, True), (False, False), (True, False), (False, True)])
def test_normalizer_tables_match_hf_on_every_code_point(lowercase, strip):
    from tokenizers.normalizers import BertNormalizer

    ref = BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=strip,
                         lowercase=lowercase)
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    block = 4096
    for i in range(0, len(cps), block):
        chunk = "\n".join(chr(c) for c in cps[i:i + block])  # \n keeps code points apart
        ours = _core.bert_normalize(chunk, True, True, strip, lowercase)
        assert ours == ref.normalize_str(chunk), hex(cps[i])


_SPICY = st.sampled_from(
    list("aé東京ß İΣς\u0301\u0316\u0334\u0345\u094d\u200d\u200b\t\n\x00\ufffd.,!?'\"$")
    + ["[CLS]", "[SEP]", "[MASK]", "##", "x" * 101, "\u1100\u1161", "\uac00", "\U0001f600"]
)


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=60) | st.lists(_SPICY | st.text(max_size=3), max_size=30).map("".join))
def test_tokenizer_matches_hf_on_random_unicode(emb, hf_tokenizer, text):
    assert emb.tokenize(text) == hf_tokenizer.encode(text).ids


def test_tokenize_inspection(emb):
    assert emb.tokens("Hello, World!") == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert emb.tokenize("") == [101, 102]
    ids = emb.tokenize("word " * 1000)
    assert len(ids) == emb.max_tokens == 256 and ids[0] == 101 and ids[-1] == 102


# ---------------------------------------------------------------------------------------------
# API, threads, bad input
# ---------------------------------------------------------------------------------------------
def test_api_shapes(emb):
    assert (emb.dim, emb.max_tokens) == (384, 256)
    out = emb.embed([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    v = emb.embed_one("hello")
    assert v.shape == (384,)
    np.testing.assert_array_equal(v, emb.embed(["hello"])[0])
    assert emb.embed(("a", "b")).shape == (2, 384)
    assert emb.embed(np.array(["a", "b"])).shape == (2, 384)
    assert emb.embed(iter(["a", "b"])).shape == (2, 384)
    assert "all-MiniLM" in repr(emb) or "Embedder(" in repr(emb)


def test_identical_for_any_thread_count_and_batch_split(emb, parity_texts):
    texts = [t for _, t in parity_texts[:150]]
    for bs in (1, 7, 32):
        one = emb.embed(texts, batch_size=bs, num_threads=1)
        for threads in (2, 3, 0):
            np.testing.assert_array_equal(emb.embed(texts, batch_size=bs, num_threads=threads), one)
    a = emb.embed(texts, batch_size=1)
    b = emb.embed(texts, batch_size=64)
    assert np.abs(a - b).max() < 1e-5


def test_concurrent_calls_release_the_gil(emb, parity_texts):
    texts = [t for _, t in parity_texts[:64]]
    want = emb.embed(texts, num_threads=1)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(emb.embed(texts, num_threads=1))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(results) == 12
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_bad_input(emb):
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, not int"):
        emb.embed(["ok", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] must be str, not NoneType"):
        emb.embed([None])
    with pytest.raises(TypeError, match="not a single str"):
        emb.embed("just one")
    with pytest.raises(ValueError, match="batch_size"):
        emb.embed(["a"], batch_size=0)
    # a negative thread count means all cores, as in every other batch call
    np.testing.assert_array_equal(emb.embed(["a"], num_threads=-1), emb.embed(["a"], num_threads=1))
    with pytest.raises(TypeError, match="must be a str, a list of str"):
        emb.similarity(None, ["x"])
    with pytest.raises(TypeError, match="num_threads"):
        emb.embed(["a"], num_threads=1.5)
    # Lone surrogates have no UTF-8 form: replaced by U+FFFD (which BERT drops), like tiktoken.
    np.testing.assert_array_equal(emb.embed(["a\ud800b"]), emb.embed(["ab"]))
    with pytest.raises(ValueError, match="NaN"):
        cosine_similarity([np.nan, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="dimension mismatch"):
        cosine_similarity(np.ones(3), np.ones(4))


def test_missing_or_broken_model_files(tmp_path, monkeypatch):
    src = FIXTURES / "tiny_bert"
    shutil.copytree(src, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(OSError, match=r"model\.safetensors.*expected a sentence-transformers"):
        tokenops.Embedder.load(tmp_path / "m")
    data = (src / "model.safetensors").read_bytes()
    (tmp_path / "m" / "model.safetensors").write_bytes(data[:-64])
    with pytest.raises(ValueError, match=r"tensor '.*'"):
        tokenops.Embedder.load(tmp_path / "m")
    (tmp_path / "m" / "config.json").unlink()
    with pytest.raises(OSError, match=r"config\.json"):
        tokenops.Embedder.load(tmp_path / "m")
    with pytest.raises(OSError, match="does not exist"):
        tokenops.Embedder.load(tmp_path / "nowhere")
    # The environment variable overrides the default model.
    monkeypatch.setenv("TOKENOPS_EMBEDDER_PATH", str(src))
    assert tokenops.Embedder.load().dim == 32
    monkeypatch.setenv("TOKENOPS_EMBEDDER_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="TOKENOPS_EMBEDDER_PATH"):
        tokenops.Embedder.load()


def test_similarity_helpers(emb):
    s = emb.similarity("How do I reset my card PIN?", ["I forgot my PIN number", "the weather is nice"])
    assert s.shape == (1, 2)
    assert s[0, 0] > s[0, 1] + 0.2
    assert emb.similarity("same text", "same text")[0, 0] == pytest.approx(1.0, abs=1e-5)
    v = emb.embed(["a", "b", "c"])
    np.testing.assert_allclose(emb.similarity(v, v), v @ v.T, atol=1e-6)
    assert emb.similarity([], ["a"]).shape == (0, 1)
    np.testing.assert_allclose(cosine_similarity([3.0, 4.0], [[3.0, 4.0], [0.0, 0.0]]), [[1.0, 0.0]])


def test_import_does_not_pull_heavy_dependencies():
    code = (
        "import sys, tokenops; tokenops.Embedder;"
        "bad = [m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime',"
        " 'tokenizers') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _tiny_copy(tmp_path, edit) -> Path:
    d = tmp_path / "m"
    shutil.copytree(FIXTURES / "tiny_bert", d)
    j = json.loads((d / "tokenizer.json").read_text())
    edit(j)
    (d / "tokenizer.json").write_text(json.dumps(j))
    return d


def _hf_ids(d: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(d / "tokenizer.json")).encode(text).ids


def test_added_token_outside_the_vocab_uses_its_own_id(tmp_path):
    # A fine-tuned model keeps its added tokens only in added_tokens, with ids past model.vocab:
    # they were split into pieces as plain text (HF matches them whole).
    def edit(j):
        vocab = j["model"]["vocab"]
        last = max(vocab, key=vocab.get)
        del vocab[last]
        j["added_tokens"].append({"id": 999, "content": "<ent>", "single_word": False, "lstrip": False,
                                  "rstrip": False, "normalized": False, "special": True})

    d = _tiny_copy(tmp_path, edit)
    e = tokenops.Embedder.load(d)
    for text in ("x <ent> y", "<ent><ent>", "no entity here", "a<ent>b"):
        assert e.tokenize(text) == _hf_ids(d, text), text
    assert e.tokens("x <ent> y")[2] == "<ent>"
    # an id past config.json's vocab_size has no embedding row: refused at load, naming the file
    d2 = _tiny_copy(tmp_path / "b", lambda j: j["added_tokens"].append(
        {"id": 1000, "content": "<new>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}))
    with pytest.raises(ValueError, match=r"added token has id 1000 but config\.json says vocab_size = 1000"):
        tokenops.Embedder.load(d2)
    # an added token whose id the vocabulary gives to another token
    d3 = _tiny_copy(tmp_path / "c", lambda j: j["added_tokens"].append(
        {"id": 5, "content": "<clash>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}))
    with pytest.raises(ValueError, match=r"tokenizer\.json: added token \"<clash>\" has id 5"):
        tokenops.Embedder.load(d3)


def test_empty_continuing_subword_prefix_matches_hf(tmp_path):
    def edit(j):
        j["model"]["continuing_subword_prefix"] = ""

    d = _tiny_copy(tmp_path, edit)
    e = tokenops.Embedder.load(d)
    for text in ("unaffable tokenization", "hello world", "qwertyuiop zxcv"):
        assert e.tokenize(text) == _hf_ids(d, text), text


def test_tokenizer_json_shapes_hf_rejects_or_treats_otherwise(tmp_path):
    d = _tiny_copy(tmp_path, lambda j: j.__setitem__("post_processor", None))
    with pytest.raises(ValueError, match="no post_processor"):
        tokenops.Embedder.load(d)
    d2 = _tiny_copy(tmp_path / "b", lambda j: j.__setitem__("added_tokens", [5, "x"]))
    with pytest.raises(ValueError, match="added_tokens entries must be objects"):
        tokenops.Embedder.load(d2)


def test_similarity_refuses_none_items_and_non_utf8_paths_load(emb, tmp_path):
    with pytest.raises(TypeError, match="NoneType"):
        emb.similarity(np.array(["hello", None], dtype=object), "None")
    d = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xffdir")
    shutil.copytree(FIXTURES / "tiny_bert", d)
    e = tokenops.Embedder.load(d)
    assert e.embed(["hi"]).shape == (1, 32) and e.info["path"] == d


def test_similarity_refuses_vectors_that_are_not_real_numbers(emb):
    # complex vectors lost their imaginary parts (a ComplexWarning only) and bools were read as
    # 0 / 1; a list of texts holding None failed with "could not convert string to float: 'hello'"
    v = emb.embed(["hello"])[0]
    for bad in (v.astype(np.complex64) + 1j, v > 0, np.array([v, v], dtype=object).astype(str)):
        with pytest.raises(TypeError, match="must be numeric vectors"):
            cosine_similarity(bad, v)
    with pytest.raises(TypeError, match="holds NoneType items"):
        emb.similarity(["hello", None], "None")
    np.testing.assert_allclose(cosine_similarity(v.astype(np.float16), [list(v)]), [[1.0]], atol=1e-3)
    assert emb.similarity(np.arange(3), np.arange(3)).shape == (1, 1)


def _model_copy(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(default_model_path(), d)
    return d


def test_pooling_configs_tokenops_cannot_follow_are_refused(tmp_path):
    # a Pooling module elsewhere than 1_Pooling was read from 1_Pooling anyway (mean instead of
    # the module's CLS); weightedmean / lasttoken beside mean were dropped (sentence-transformers
    # concatenates them: a 768-wide vector)
    d = _model_copy(tmp_path)
    mods = json.loads((d / "modules.json").read_text())
    mods[1]["path"] = "pool"
    (d / "modules.json").write_text(json.dumps(mods))
    with pytest.raises(ValueError, match=r'Pooling module is at "pool"'):
        tokenops.Embedder.load(d)
    mods[1]["path"] = "1_Pooling"
    (d / "modules.json").write_text(json.dumps(mods))
    for flag in ("pooling_mode_lasttoken", "pooling_mode_weightedmean_tokens"):
        (d / "1_Pooling" / "config.json").write_text(json.dumps(
            {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True, flag: True}))
        with pytest.raises(ValueError, match=f"{flag} = true is not supported"):
            tokenops.Embedder.load(d)


def test_without_modules_json_the_sentence_transformers_defaults_apply(tmp_path):
    # sentence-transformers then builds transformer + mean pooling and reads neither
    # sentence_bert_config.json (max_seq_length 256) nor 1_Pooling: the tokenizer's 512 applies
    d = _model_copy(tmp_path)
    assert tokenops.Embedder.load(d).max_tokens == 256
    (d / "modules.json").unlink()
    assert tokenops.Embedder.load(d).max_tokens == 512


def test_nul_in_the_model_path_and_extreme_vectors():
    with pytest.raises(ValueError, match="null byte"):
        tokenops.Embedder.load(str(default_model_path()) + "\x00junk")
    # finite float64 values float32 cannot hold are scaled before the cast
    assert cosine_similarity(np.array([1e-46, 0, 0]), np.array([1.0, 0, 0]))[0, 0] == pytest.approx(1.0)
    assert cosine_similarity(np.full(3, 1e300), np.ones(3))[0, 0] == pytest.approx(1.0)
