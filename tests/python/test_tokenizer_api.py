"""The Encoding API: tiktoken-compatible semantics, counting, batching, truncation, streaming,
loading, thread safety and bad input."""

from __future__ import annotations

import base64
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import tokenops
from tokenops.tokenizer.load import VocabularyFileError

SAMPLES = [
    "",
    "hello world",
    "Hello, World! It's 2026; we've   got  3.14159 apples\n\n and\t\ttabs  \n",
    "naïve café — 東京タワー 👍🏽 مرحبا Привет",
    "def f(x):\n    return x**2  # comment\n",
    '{"key": [1, 2, {"nested": "value"}], "emoji": "🤖"}',
    "<|endoftext|> is special; so is <|fim_prefix|> and <|endofprompt|>",
]


@pytest.fixture(scope="module")
def enc():
    return tokenops.get_encoding("cl100k_base")


def test_registry_names_and_models():
    names = tokenops.list_encoding_names()
    for n in ["gpt2", "r50k_base", "p50k_base", "p50k_edit", "cl100k_base", "o200k_base", "o200k_harmony", "llama3"]:
        assert n in names
    assert tokenops.encoding_for_model("gpt-4o").name == "o200k_base"
    assert tokenops.encoding_for_model("gpt-4o-2024-08-06").name == "o200k_base"
    assert tokenops.encoding_for_model("openai/gpt-4.1-mini").name == "o200k_base"
    assert tokenops.encoding_for_model("gpt-4-0613").name == "cl100k_base"
    assert tokenops.encoding_for_model("gpt-3.5-turbo").name == "cl100k_base"
    assert tokenops.encoding_for_model("text-davinci-003").name == "p50k_base"
    assert tokenops.encoding_for_model("gpt-oss-120b").name == "o200k_harmony"
    assert tokenops.get_encoding("cl100k_base") is tokenops.get_encoding("cl100k_base")


def test_unknown_names_raise_keyerror_listing_known():
    with pytest.raises(KeyError, match="cl100k_base"):
        tokenops.get_encoding("cl200k_base")
    with pytest.raises(KeyError, match="gpt-4o"):
        tokenops.encoding_for_model("gpt-4oo")
    with pytest.raises(TypeError):
        tokenops.get_encoding(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "o200k_harmony", "r50k_base", "p50k_edit", "llama3"])
def test_special_token_semantics_match_tiktoken(tk, name):
    ours, ref = tokenops.get_encoding(name), tk(name)
    assert ours.n_vocab == ref.n_vocab
    assert ours.max_token_value == ref.max_token_value
    assert ours.special_tokens_set == ref.special_tokens_set
    if "<|endoftext|>" in ref.special_tokens_set:
        assert ours.eot_token == ref.eot_token
    else:  # llama3: tiktoken has no eot for it; ours answers <|end_of_text|>
        assert ours.eot_token == ours.encode_single_token("<|end_of_text|>")
    policies = [
        {},
        {"allowed_special": "all"},
        {"disallowed_special": ()},
        {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()},
        {"allowed_special": {"<|endoftext|>"}},
    ]
    for text in SAMPLES:
        for kw in policies:
            try:
                want = ref.encode(text, **kw)
            except ValueError as exc:
                with pytest.raises(ValueError) as got:
                    ours.encode(text, **kw)
                assert str(got.value) == str(exc)
                continue
            assert ours.encode(text, **kw) == want
            assert ours.count(text, **kw) == len(want)
            assert ours.encode_to_numpy(text, **kw).tolist() == want


def test_harmony_shared_special_id_decodes_like_tiktoken(tk):
    ours, ref = tokenops.get_encoding("o200k_harmony"), tk("o200k_harmony")
    assert ours.decode_single_token_bytes(200018) == ref.decode_single_token_bytes(200018)
    s = "<|endofprompt|><|reserved_200018|><|start|>user<|message|>hi<|end|>"
    assert ours.encode(s, allowed_special="all") == ref.encode(s, allowed_special="all")


def test_decode_family_matches_tiktoken(tk, enc):
    ref = tk("cl100k_base")
    for text in SAMPLES:
        ids = enc.encode(text, disallowed_special=())
        assert enc.decode(ids) == ref.decode(ids) == text
        assert enc.decode_bytes(ids) == ref.decode_bytes(ids)
        assert enc.decode_tokens_bytes(ids) == ref.decode_tokens_bytes(ids)
        assert enc.decode_with_offsets(ids) == ref.decode_with_offsets(ids)
    partial = enc.encode("👍")[:2]
    assert enc.decode(partial) == ref.decode(partial)
    assert enc.decode(partial, errors="ignore") == ""
    assert enc.encode_single_token("hello") == ref.encode_single_token("hello")
    assert enc.encode_single_token("<|endoftext|>") == 100257
    with pytest.raises(KeyError):
        enc.encode_single_token("definitely not one token")
    assert enc.token_byte_values() == ref.token_byte_values()


def test_invalid_token_ids(enc):
    with pytest.raises(KeyError, match="Invalid token"):
        enc.decode([15339, 100256])  # unassigned gap in cl100k
    with pytest.raises(KeyError):
        enc.decode_single_token_bytes(10**9)
    with pytest.raises(ValueError, match="not a valid token id"):
        enc.decode([-1])
    with pytest.raises(TypeError):
        enc.decode(["a"])  # type: ignore[list-item]
    assert enc.decode(np.array([15339, 1917], dtype=np.int64)) == "hello world"


def test_lone_surrogates_like_tiktoken(tk, enc):
    ref = tk("cl100k_base")
    cases = ["\ud800", "a\udfffb", "😀\ud83d", "\ud83d\ude00", "x\udc00\ud800y", "é\ud800", "中\udfff"]
    for s in cases:
        assert enc.encode(s) == ref.encode(s)
        assert enc.encode_ordinary(s) == ref.encode_ordinary(s)
        assert enc.count(s) == len(ref.encode(s))
    # The batch path transcodes Python's internal representation itself, in worker threads.
    assert enc.encode_batch(cases, num_threads=2) == [ref.encode(s) for s in cases]
    assert enc.count_batch(cases).tolist() == [len(ref.encode(s)) for s in cases]


def test_bad_text_types(enc):
    for bad in [b"bytes", None, 3, ["list"]]:
        with pytest.raises(TypeError):
            enc.encode(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            enc.count(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        enc.encode_batch(["ok", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        enc.count_batch("not a list")  # type: ignore[arg-type]


def test_batch_identical_for_any_thread_count(data_dir, enc):
    text = (data_dir / "corpus" / "multilingual_udhr.txt").read_text(encoding="utf-8")[:300_000]
    docs = [text[i:i + 997] for i in range(0, len(text), 997)] + SAMPLES[:-1]
    single = [enc.encode(d) for d in docs]
    for threads in (1, 2, 3, 8):
        assert enc.encode_batch(docs, num_threads=threads) == single
        assert enc.encode_ordinary_batch(docs, num_threads=threads) == single
        arrays = enc.encode_batch_to_numpy(docs, num_threads=threads)
        assert all(a.dtype == np.uint32 for a in arrays)
        assert [a.tolist() for a in arrays] == single
        counts = enc.count_batch(docs, num_threads=threads)
        assert counts.dtype == np.int64
        assert counts.tolist() == [len(s) for s in single]
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_batch(["fine", "<|endoftext|>"])
    assert enc.encode_batch(["<|endoftext|>"], allowed_special="all") == [[100257]]
    assert enc.encode_batch([]) == []
    assert enc.count_batch([]).tolist() == []
    assert enc.encode_batch_to_numpy([]) == []
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_batch_to_numpy(["fine", "<|endoftext|>"])
    assert [a.tolist() for a in enc.encode_batch_to_numpy(["<|endoftext|>"], allowed_special="all")] == [[100257]]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        enc.encode_batch_to_numpy(["ok", 5])  # type: ignore[list-item]


def test_batch_reports_the_first_disallowed_special_for_any_thread_count(enc):
    # Workers find specials in any order; the error must name the lowest-index text's token.
    docs = [f"document {i} " * 20 for i in range(600)]
    docs[400] = "x <|fim_prefix|> y"
    docs[450] = "<|endoftext|>"
    for threads in (1, 2, 3):
        with pytest.raises(ValueError, match=r"'<\|fim_prefix\|>'"):
            enc.encode_batch(docs, num_threads=threads)
        with pytest.raises(ValueError, match=r"'<\|fim_prefix\|>'"):
            enc.count_batch(docs, num_threads=threads)
    # Any iterable of str is accepted (it is snapshotted before the GIL is released).
    assert enc.encode_batch(iter(["a b", "c"]), num_threads=2) == [enc.encode("a b"), enc.encode("c")]
    assert enc.count_batch(("a b", "c"), num_threads=2).tolist() == [enc.count("a b"), enc.count("c")]


def test_batch_survives_the_list_being_emptied_by_another_thread(enc):
    # The texts exist only in the list; as soon as the call has read it, another thread empties the
    # list and allocates new strings while the batch runs with the GIL released. The call works on
    # a snapshot holding a reference to every text, so it never reads freed memory.
    import threading

    def make():
        return ["".join(chr(0x4E00 + (i * 7 + k) % 20000) for k in range(300)) + f" {i}" for i in range(3000)]

    read = threading.Event()

    class Texts(list):
        def __iter__(self):
            yield from list.__iter__(self)
            read.set()  # the call has taken every text

    expected = enc.encode_batch(make(), num_threads=1)
    for threads in (1, 2):
        read.clear()
        docs = Texts(make())
        junk = []

        def clobber():
            read.wait(10)
            docs.clear()
            junk.extend("x" * 1500 + str(i) for i in range(3000))

        t = threading.Thread(target=clobber)
        t.start()
        try:
            got = enc.encode_batch(docs, num_threads=threads)
        finally:
            t.join()
        assert read.is_set() and docs == [] and len(junk) == 3000
        assert got == expected


def test_batch_worker_threads_are_reused_and_fork_safe(enc):
    # Batch calls share a pooled team of worker threads; after fork() the child (which has none of
    # the parent's threads) must build its own instead of waiting for workers that do not exist.
    import os
    import threading

    docs = [f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(2000)]
    expected = [enc.encode(d) for d in docs]
    before = threading.active_count()
    for _ in range(5):
        assert enc.encode_batch(docs, num_threads=2) == expected
        assert enc.count_batch(docs, num_threads=2).tolist() == [len(x) for x in expected]
    assert threading.active_count() == before  # native workers are not Python threads
    pid = os.fork()
    if pid == 0:  # child: exit status 0 only if both calls finish with the right answer
        ok = enc.encode_batch(docs, num_threads=2) == expected and \
            enc.count_batch(docs, num_threads=2).tolist() == [len(x) for x in expected]
        os._exit(0 if ok else 1)
    import time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("batch call in a forked child hung")


def test_encode_to_numpy_does_not_copy(enc):
    arr = enc.encode_to_numpy("hello world " * 100)
    assert arr.dtype == np.uint32 and arr.ndim == 1
    assert not arr.flags.owndata  # the buffer belongs to the native vector (capsule)
    assert arr.tolist() == enc.encode("hello world " * 100)


def test_count_never_materialises_and_agrees(data_dir):
    for name in ("cl100k_base", "o200k_base", "llama3", "gpt2"):
        e = tokenops.get_encoding(name)
        for fname in ("code_rust.txt", "zh_song_ci.json", "unicode_emoji_test.txt"):
            text = (data_dir / "corpus" / fname).read_text(encoding="utf-8")[:100_000]
            assert e.count_ordinary(text) == len(e.encode_ordinary(text))


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_truncate(name):
    e = tokenops.get_encoding(name)
    text = "Tokens cost money: 東京タワー 👍🏽 naïve café. " * 20 + "the end"
    total = e.count(text)
    for n in [0, 1, 2, 3, 5, 17, 50, total - 1, total, total + 10]:
        head = e.truncate(text, n)
        assert text.startswith(head)
        assert e.count(head) <= n
        if n >= total:
            assert head == text
        tail = e.truncate(text, n, keep="end")
        assert text.endswith(tail)
        assert e.count(tail) <= n
        if n >= total:
            assert tail == text
    # Cuts happen at token boundaries: the kept prefix decodes from a prefix of the ids.
    ids = e.encode(text)
    head = e.truncate(text, 40)
    assert e.encode(head) == ids[: len(e.encode(head))]
    # A cut inside a multi-byte character backs off to a whole character.
    multi = next(c for c in "👍🫠𝔘𓀀" if e.count(c) > 1)
    assert e.truncate(multi, 1) == ""
    assert e.truncate(multi + "a", e.count(multi)) == multi
    with pytest.raises(ValueError):
        e.truncate(text, -1)
    with pytest.raises(ValueError):
        e.truncate(text, 3, keep="middle")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        e.truncate(text, 2.5)  # type: ignore[arg-type]


def test_stream_decoder_holds_back_incomplete_utf8(enc):
    text = "Streaming: 東京 👍🏽 مرحبا — done."
    ids = enc.encode(text)
    dec = enc.stream_decoder()
    pieces = [dec.push(i) for i in ids]
    pieces.append(dec.flush())
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    assert any(p == "" for p in pieces)  # some tokens end inside a character
    dec2 = enc.stream_decoder()
    assert dec2.push(enc.encode("👍")[:2]) == ""
    assert dec2.pending_bytes > 0
    assert dec2.flush() == "\ufffd"


def test_shared_encoder_thread_stress(data_dir):
    enc = tokenops.get_encoding("o200k_base")
    text = (data_dir / "corpus" / "en_shakespeare.txt").read_text(encoding="utf-8")
    docs = [text[i:i + 5000] for i in range(0, 400_000, 5000)]
    want = [enc.encode_ordinary(d) for d in docs]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(len(docs)):
                d = docs[(j + k) % len(docs)]
                assert enc.encode_ordinary(d) == want[(j + k) % len(docs)]
                assert enc.count_ordinary(d) == len(want[(j + k) % len(docs)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "thread hung"
    assert not errors, errors[0]
    with ThreadPoolExecutor(4) as ex:
        assert list(ex.map(enc.encode_ordinary, docs)) == want


def test_pickle_registered_encoding():
    e = tokenops.get_encoding("o200k_base")
    assert pickle.loads(pickle.dumps(e)) is e


# ------------------------------------------------------------------ loading and bad files
def _write_ranks(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "custom.tiktoken"
    p.write_text("\n".join(lines) + "\n")
    return p


def _byte_lines(n: int = 256) -> list[str]:
    return [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(n)]


def test_custom_rank_file_loads(tmp_path):
    lines = _byte_lines() + [f"{base64.b64encode(b'ab').decode()} 256"]
    e = tokenops.Encoding.from_tiktoken_file(_write_ranks(tmp_path, lines), pretokenizer="cl100k")
    assert e.encode("abab") == [256, 256]
    assert e.decode([256, 99]) == "abc"


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda ls: ls + ["!!!notbase64 256"], r"line 257: invalid base64"),
        (lambda ls: ls + [f"{base64.b64encode(b'ab').decode()} 12x"], r"line 257: rank '12x'"),
        (lambda ls: ls + [f"{base64.b64encode(b'ab').decode()} 255"], r"duplicate rank 255"),
        (lambda ls: ls + [f"{base64.b64encode(b'ab').decode()} 300"], r"rank 300 leaves a gap"),
        (lambda ls: ls + [f"{base64.b64encode(b'a').decode()} 256"], r"line 257: duplicate token"),
        (lambda ls: ls + ["onlyonefield"], r"line 257: expected"),
        (lambda ls: ls[1:] + [f"{base64.b64encode(b'ab').decode()} 0"], r"single byte 0x0"),
        (lambda ls: [], r"holds no ranks"),
    ],
)
def test_malformed_rank_files(tmp_path, mutate, match):
    p = _write_ranks(tmp_path, mutate(_byte_lines()))
    with pytest.raises(ValueError, match=match):
        tokenops.Encoding.from_tiktoken_file(p)


def test_unknown_pretokenizer(tmp_path):
    with pytest.raises(ValueError, match="unknown pre-tokenizer"):
        tokenops.Encoding.from_tiktoken_file(_write_ranks(tmp_path, _byte_lines()), pretokenizer="bert")


def test_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tt"))
    monkeypatch.setenv("TOKENOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TOKENOPS_OFFLINE", "1")
    from tokenops.tokenizer.core import _build

    with pytest.raises(VocabularyFileError) as exc:
        _build("cl100k_base", None)
    msg = str(exc.value)
    assert str(tmp_path / "tokenizers" / "cl100k_base.tiktoken") in msg
    assert "TOKENOPS_OFFLINE" in msg
    with pytest.raises(FileNotFoundError):
        tokenops.get_encoding("cl100k_base", path=tmp_path / "nope.tiktoken")
    with pytest.raises(VocabularyFileError, match="Llama 3 Community License"):
        _build("llama3", None)


def test_corrupt_file_is_rejected(tmp_path, monkeypatch, data_dir):
    (tmp_path / "tokenizers").mkdir()
    src = (data_dir / "tokenizers" / "r50k_base.tiktoken").read_bytes()
    (tmp_path / "tokenizers" / "r50k_base.tiktoken").write_bytes(src[:-20] + b"\n")
    monkeypatch.setenv("TOKENOPS_DATA_DIR", str(tmp_path))
    from tokenops.tokenizer.core import _build

    with pytest.raises(VocabularyFileError, match="sha256"):
        _build("r50k_base", None)
    # a file that is there but wrong is also a ValueError (a missing one is FileNotFoundError)
    with pytest.raises(ValueError, match="is corrupt or not the expected file"):
        _build("r50k_base", None)
    with pytest.raises(ValueError, match="is not the 'cl100k_base' vocabulary"):
        tokenops.get_encoding("cl100k_base", path=data_dir / "tokenizers" / "o200k_base.tiktoken")


def test_corrupt_tiktoken_cache_entry_is_named(tmp_path, monkeypatch, data_dir):
    from tokenops.tokenizer.core import _build
    from tokenops.tokenizer.load import tiktoken_cache_key
    from tokenops.tokenizer.registry import ENCODINGS

    cache = tmp_path / "tt"
    cache.mkdir()
    bad = cache / tiktoken_cache_key(ENCODINGS["cl100k_base"].url)
    bad.write_bytes((data_dir / "tokenizers" / "cl100k_base.tiktoken").read_bytes()[:1000])
    (tmp_path / "no-data").mkdir()  # a data folder without the file
    monkeypatch.setenv("TOKENOPS_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("TOKENOPS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TOKENOPS_OFFLINE", "1")
    with pytest.raises(VocabularyFileError) as exc:
        _build("cl100k_base", None)
    assert f"{bad} (present but corrupt: sha256 mismatch; delete it)" in str(exc.value)


def test_special_tokens_set_is_a_copy():
    enc = tokenops.get_encoding("cl100k_base")
    s = enc.special_tokens_set
    s -= {"<|endoftext|>"}
    assert "<|endoftext|>" in enc.special_tokens_set and enc.special_tokens_set is not enc.special_tokens_set
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode("<|endoftext|>")
    assert tokenops.encoding_for_model("gpt-4").encode("<|endoftext|>", allowed_special="all") == [100257]


def test_tiktoken_cache_folder_is_used(tmp_path, monkeypatch, data_dir):
    from tokenops.tokenizer.core import _build
    from tokenops.tokenizer.load import tiktoken_cache_key
    from tokenops.tokenizer.registry import ENCODINGS

    cache = tmp_path / "tt"
    cache.mkdir()
    (cache / tiktoken_cache_key(ENCODINGS["r50k_base"].url)).write_bytes(
        (data_dir / "tokenizers" / "r50k_base.tiktoken").read_bytes()
    )
    monkeypatch.setenv("TOKENOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("TOKENOPS_OFFLINE", "1")
    e = _build("r50k_base", None)
    assert str(cache) in e.source
    assert e.encode("hello world") == [31373, 995]


def test_malformed_tokenizer_json(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        tokenops.Encoding.from_hf_tokenizer_json(bad)
    bad.write_text('{"model": {"type": "WordPiece", "vocab": {}}}')
    with pytest.raises(ValueError, match="WordPiece"):
        tokenops.Encoding.from_hf_tokenizer_json(bad)


def test_import_is_light_and_offline():
    code = (
        "import socket\n"
        "def deny(*a, **k):\n    raise RuntimeError('network at import')\n"
        "socket.socket.connect = deny\n"
        "import sys, tokenops\n"
        "heavy = [m for m in ('pandas', 'matplotlib', 'sklearn', 'torch', 'tiktoken', 'faiss') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


_DAEMON_AT_EXIT = r"""
import sys, threading, time
import numpy as np
import tokenops
enc = tokenops.get_encoding("cl100k_base")
router = tokenops.Router.default()
text = "hello world " * 3000
what = sys.argv[1]
def loop():
    while True:
        if what == "encode": enc.encode(text)
        elif what == "count": enc.count(text)
        elif what == "batch": enc.encode_batch([text] * 64, num_threads=2)
        elif what == "score": router.score([text] * 20, num_threads=1)
        elif what == "cost": tokenops.cost_batch("gpt-4o", {"input_text": np.arange(200_000), "output_text": np.arange(200_000)}, num_threads=1)
threading.Thread(target=loop, daemon=True).start()
time.sleep(0.3)
"""


@pytest.mark.parametrize("what", ["encode", "count", "batch", "score", "cost"])
def test_interpreter_exits_cleanly_with_a_daemon_thread_inside_a_call(what: str, tmp_path) -> None:
    # At shutdown CPython ends a daemon thread that asks for the GIL back with pthread_exit; its
    # forced unwind through pybind11's noexcept gil_scoped_release aborted the process (rc 134,
    # "terminate called without an active exception") in 3 of 3 runs of each case.
    script = tmp_path / "daemon.py"
    script.write_text(_DAEMON_AT_EXIT)
    for _ in range(3):
        r = subprocess.run([sys.executable, str(script), what], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])


def test_objects_travel_to_worker_processes_or_say_why_not(tmp_path) -> None:
    # multiprocessing (spawn) pickles what it sends: a Router goes by value, the default Catalog
    # and an Embedder by reference; a Compressor or a custom Catalog says what to do instead.
    r = tokenops.Router.default()
    r2 = pickle.loads(pickle.dumps(r))
    texts = ["Prove that sqrt(2) is irrational.", "hi"]
    np.testing.assert_array_equal(r2.score(texts), r.score(texts))
    assert pickle.loads(pickle.dumps(tokenops.Catalog.default())) is tokenops.Catalog.default()
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(tokenops.Compressor("gpt-4o"))
    emb = tokenops.Embedder.load()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).embed(texts), emb.embed(texts))
    custom = tokenops.Catalog.from_snapshot() if hasattr(tokenops.Catalog, "from_snapshot") else None
    if custom is not None:
        with pytest.raises(TypeError, match="only Catalog.default"):
            pickle.dumps(custom)


@pytest.mark.parametrize("name", ["r50k_base", "cl100k_base", "o200k_base", "llama3"])
def test_extending_tiktoken_recipe_works_from_our_attributes(tk, name):
    # tiktoken's README "Extending tiktoken": a tiktoken.Encoding built from another encoding's
    # _pat_str, _mergeable_ranks and _special_tokens
    import tiktoken

    tk(name)  # primes tiktoken's cache / skips without tiktoken
    ours = tokenops.get_encoding(name)
    theirs = tiktoken.Encoding(name=f"ext_{name}", pat_str=ours._pat_str, mergeable_ranks=ours._mergeable_ranks,
                               special_tokens={**ours._special_tokens, "<|im_start|>": ours.n_vocab + 10})
    for text in SAMPLES:
        assert theirs.encode_ordinary(text) == ours.encode_ordinary(text) == ours._encode_only_native_bpe(text)


def test_token_containers_and_paths_get_clear_errors(enc, tmp_path):
    for bad in (None, 5, "abc", b"abc"):
        with pytest.raises(TypeError, match="list of int token ids"):
            enc.decode(bad)
    with pytest.raises(TypeError, match=r"batch\[0\]"):
        enc.decode_batch([None])
    with pytest.raises(TypeError, match="batch must be a list"):
        enc.decode_batch("abc")
    with pytest.raises(VocabularyFileError, match="is a directory"):
        tokenops.get_encoding("cl100k_base", path=tmp_path)


def test_stacked_provider_prefixes_and_unknown_encoding_error_types():
    for name in ("openrouter/openai/gpt-4o", "azure/openai/gpt-4o", "OpenRouter/OpenAI/gpt-4o"):
        assert tokenops.encoding_name_for_model(name) == "o200k_base"
    assert tokenops.count_messages([{"role": "user", "content": "hi"}], model="openrouter/openai/gpt-4o") > 0
    # an unknown encoding is a KeyError and, as in tiktoken, a ValueError
    for exc in (KeyError, ValueError):
        with pytest.raises(exc, match="Unknown encoding"):
            tokenops.get_encoding("foo")


def test_allowed_special_iterators_are_read_once():
    enc = tokenops.get_encoding("cl100k_base")
    eot = "<|endoftext|>"
    # a generator was used up by the first pass and the default disallowed check went quiet
    assert enc.encode(eot, allowed_special=iter([eot])) == [100257]
    assert enc.count(eot, allowed_special=(x for x in [eot])) == 1
    assert enc.encode_batch([eot], allowed_special=iter([eot])) == [[100257]]
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode(eot, allowed_special=iter([]))


def test_encode_single_token_keyerror_holds_bytes():
    enc = tokenops.get_encoding("cl100k_base")
    with pytest.raises(KeyError) as info:
        enc.encode_single_token("hello world, no such token")
    assert info.value.args[0] == b"hello world, no such token"


def test_custom_encodings_pickle_by_value(data_dir, tmp_path):
    import shutil

    rank = data_dir / "tokenizers" / "cl100k_base.tiktoken"
    own = tokenops.Encoding.from_tiktoken_file(rank, name="mine", pretokenizer="cl100k",
                                               special_tokens={"<|endoftext|>": 100257})
    by_path = tokenops.get_encoding("cl100k_base", path=rank)
    shutil.copy(data_dir / "tokenizers" / "gpt2" / "tokenizer.json", tmp_path / "tokenizer.json")
    hf = tokenops.Encoding.from_hf_tokenizer_json(tmp_path / "tokenizer.json", name="g")
    text = "Pickled encodings travel by value <|endoftext|> ok"
    for enc in (own, by_path, hf):
        back = pickle.loads(pickle.dumps(enc))
        assert back.name == enc.name and back.special_tokens_set == enc.special_tokens_set
        assert back.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    (tmp_path / "tokenizer.json").unlink()  # by value: the file is not read again
    assert pickle.loads(pickle.dumps(hf)).encode("ok") == hf.encode("ok")


def test_stream_decoder_emits_sequences_that_cannot_complete_at_once():
    enc = tokenops.get_encoding("cl100k_base")
    a, b = enc.encode_single_token(b"\xe0"), enc.encode_single_token(b"\x80")
    dec = enc.stream_decoder()
    assert dec.push([a]) == ""          # E0 may still become a character
    assert dec.push([b]) == "\ufffd\ufffd"  # E0 80 never will: replaced at once, as Python's decoder
    assert dec.flush() == ""


def test_hf_non_special_added_tokens_match_everywhere_as_in_hf(data_dir, tmp_path):
    import json

    from tokenizers import Tokenizer

    j = json.loads((data_dir / "tokenizers" / "gpt2" / "tokenizer.json").read_text())
    j["added_tokens"].append({"id": 50257, "content": "    ", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": False})
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    ours = tokenops.Encoding.from_hf_tokenizer_json(p)
    hf = Tokenizer.from_file(str(p))
    for text in ("a    b", "def f():\n    return 1\n        x", "no run here", "     five"):
        assert ours.encode(text) == hf.encode(text).ids, text
        assert ours.encode_ordinary(text) == hf.encode(text).ids and ours.count(text) == len(hf.encode(text).ids)
    assert "    " not in ours.special_tokens_set and "<|endoftext|>" in ours.special_tokens_set
    assert ours.decode(ours.encode("a    b")) == "a    b"
    # lstrip takes the white space before a match into the token, as in HF (it was refused)
    j["added_tokens"][-1]["lstrip"] = True
    p.write_text(json.dumps(j))
    ours, hf = tokenops.Encoding.from_hf_tokenizer_json(p), Tokenizer.from_file(str(p))
    for text in ("a    b", "a      b", "def f():\n    return 1\n        x", "\t    x"):
        assert ours.encode(text) == hf.encode(text).ids, text


def _gpt2_json(data_dir):
    import json

    return json.loads((data_dir / "tokenizers" / "gpt2" / "tokenizer.json").read_text())


def test_hf_file_with_tiktokens_possessive_cl100k_split_is_refused(data_dir, tmp_path):
    # Hugging Face (Oniguruma) reads \p{N}{1,3}+ as (?:\p{N}{1,3})+: "2024" is one piece there,
    # two ('202', '4') in tiktoken; tokenops refuses the file instead of splitting like tiktoken
    import json

    j = _gpt2_json(data_dir)
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": tokenops.get_encoding("cl100k_base")._pat_str},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    with pytest.raises(ValueError, match=r"possessive cl100k pattern.*whole digit run"):
        tokenops.Encoding.from_hf_tokenizer_json(p)


def test_hf_file_without_merges_encodes_bytes_as_hf(data_dir, tmp_path):
    # an empty merge list is still merge-list BPE (bytes only), not a tiktoken rank table
    import json

    from tokenizers import Tokenizer

    j = _gpt2_json(data_dir)
    j["model"]["merges"] = []
    p = tmp_path / "tokenizer.json"
    for ignore in (False, True):
        j["model"]["ignore_merges"] = ignore
        p.write_text(json.dumps(j))
        ours, hf = tokenops.Encoding.from_hf_tokenizer_json(p), Tokenizer.from_file(str(p))
        assert ours._core.merge_mode
        for text in ("hello world", " helloqx", "naïve 2024"):
            assert ours.encode_ordinary(text) == hf.encode(text, add_special_tokens=False).ids, (ignore, text)


def test_hf_overlapping_added_tokens_of_both_normalized_kinds_are_refused(data_dir, tmp_path):
    import json

    def tok(i, content, normalized):
        return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": normalized, "special": False}

    j = _gpt2_json(data_dir)
    base = list(j["added_tokens"])
    p = tmp_path / "tokenizer.json"
    j["added_tokens"] = base + [tok(50257, "<ab", True), tok(50258, "b>", False)]
    p.write_text(json.dumps(j))
    with pytest.raises(ValueError, match=r"added tokens 'b>' \(normalized: false\) and '<ab' \(normalized: true\) overlap"):
        tokenops.Encoding.from_hf_tokenizer_json(p)
    # same kind, or no possible overlap: loads, and matches HF
    from tokenizers import Tokenizer

    j["added_tokens"] = base + [tok(50257, "<ab", True), tok(50258, "cd>", False)]
    p.write_text(json.dumps(j))
    ours, hf = tokenops.Encoding.from_hf_tokenizer_json(p), Tokenizer.from_file(str(p))
    for text in ("<ab>", "x<abcd> cd>", "<a b>"):
        assert ours.encode_ordinary(text) == hf.encode(text, add_special_tokens=False).ids, text
    # thousands of each kind: refused up front (the pairwise check took a minute), while a few
    # hundred of each still load in well under a second
    many = [tok(50257 + 2 * i + k, f"<{'xy'[k]}{i:05d}{'-' * 22}>", bool(k)) for i in range(20000) for k in (0, 1)]
    j["added_tokens"] = base + many
    p.write_text(json.dumps(j))
    with pytest.raises(ValueError, match=r"20000 added tokens with normalized: false and 2000\d with normalized: true"):
        tokenops.Encoding.from_hf_tokenizer_json(p)
    # a few long tokens of each kind are cheap to check: the guard reads the real lengths
    long_ones = [tok(50257, "<" + "x" * 1000 + ">", False), tok(50258, "<" + "y" * 1000 + ">", True)]
    j["added_tokens"] = base + long_ones + [tok(50259 + i, f"<z{i:05d}>", bool(i % 2)) for i in range(600)]
    p.write_text(json.dumps(j))
    assert tokenops.Encoding.from_hf_tokenizer_json(p).encode("<z00007>", allowed_special="all") == [50259 + 7]
    j["added_tokens"] = base + many[:600]
    p.write_text(json.dumps(j))
    assert tokenops.Encoding.from_hf_tokenizer_json(p).encode(f"a<x00007{'-' * 22}>b", allowed_special="all")[1] == 50257 + 14


def test_hf_added_tokens_of_the_wrong_type_are_named(data_dir, tmp_path):
    import json

    j = _gpt2_json(data_dir)
    j["added_tokens"] = {"<|endoftext|>": 50256}
    p = tmp_path / "tokenizer.json"
    p.write_text(json.dumps(j))
    with pytest.raises(ValueError, match="added_tokens must be a list"):
        tokenops.Encoding.from_hf_tokenizer_json(p)
    # a field of the wrong JSON type names the part it sits in (nlohmann's text names none)
    j = _gpt2_json(data_dir)
    j["pre_tokenizer"] = [1, 2]
    p.write_text(json.dumps(j))
    with pytest.raises(ValueError, match=r"a field of pre_tokenizer has the wrong JSON type or is missing \(cannot use"):
        tokenops.Encoding.from_hf_tokenizer_json(p)


def test_non_utf8_paths_and_lone_surrogates_get_clear_results(data_dir, tmp_path):
    import os
    import shutil

    src = data_dir / "tokenizers" / "r50k_base.tiktoken"
    raw = os.fsencode(tmp_path) + b"/caf\xe9.tiktoken"
    shutil.copy(src, raw)
    ref = tokenops.get_encoding("r50k_base")
    for path in (raw, os.fsdecode(raw)):
        e = tokenops.Encoding.from_tiktoken_file(path, pretokenizer="r50k")
        assert e.encode_ordinary("hello 2024") == ref.encode_ordinary("hello 2024")
        assert "caf" in e.name
    hf_raw = os.fsencode(tmp_path) + b"/tok\xe9.json"
    shutil.copy(data_dir / "tokenizers" / "gpt2" / "tokenizer.json", hf_raw)
    assert tokenops.Encoding.from_hf_tokenizer_json(hf_raw).encode_ordinary("hi") == ref.encode_ordinary("hi")
    with pytest.raises(ValueError, match="name .*lone surrogate"):
        tokenops.Encoding.from_tiktoken_file(src, pretokenizer="r50k", name="x\ud800")
    with pytest.raises(ValueError, match="special token .*lone surrogate"):
        tokenops.Encoding.from_tiktoken_file(src, pretokenizer="r50k", special_tokens={"\ud800": 60000})
    # a string no special token can equal is simply not allowed anything (as in tiktoken)
    cl = tokenops.get_encoding("cl100k_base")
    assert cl.encode("x", allowed_special={"\ud800"}) == cl.encode("x")


def test_truncate_keeps_lone_surrogates_and_decode_takes_empty_and_object_arrays() -> None:
    enc = tokenops.get_encoding("cl100k_base")
    t = "ab\ud800cd ef\udfff gh"
    assert enc.truncate(t, 10**6) == t  # it came back with U+FFFD in place of the surrogates
    for n in range(len(enc.encode(t)) + 1):
        head, tail = enc.truncate(t, n), enc.truncate(t, n, keep="end")
        assert t.startswith(head) and t.endswith(tail)
        assert len(enc.encode(head)) <= n and len(enc.encode(tail)) <= n
    # tiktoken decodes these: an empty output array is float64; object arrays of ints
    assert enc.decode(np.array([])) == "" and enc.decode_bytes(np.array([], dtype=np.float32)) == b""
    assert enc.decode(np.array(enc.encode("hello world"), dtype=object)) == "hello world"
    with pytest.raises(TypeError):
        enc.decode(np.array([1.5, 2.0]))
    with pytest.raises(TypeError):
        enc.decode(np.array(["a", 1], dtype=object))
    # num_threads=None is the default thread count, as tiktoken's ThreadPoolExecutor reads it
    assert enc.encode_batch(["a", "b c"], num_threads=None) == [enc.encode("a"), enc.encode("b c")]


def test_truncate_keeps_surrogate_pairs_whole_and_within_budget() -> None:
    # The core reads a high + low surrogate pair as the one character it encodes (tiktoken's
    # utf-16 round trip); the cut was mapped back one code point per character, so a text that
    # fit lost its last character, pairs were split and results went over max_tokens.
    import random

    rng = random.Random(0)
    alphabet = ["x", " ", "y", "\ud83d\ude00", "\ud83d", "\ude00", "é", "東", "\U0001F600", "ab"]
    for name in ("cl100k_base", "o200k_base"):
        enc = tokenops.get_encoding(name)
        assert enc.truncate("x\ud83d\ude00y", 5) == "x\ud83d\ude00y"
        assert enc.truncate("x\ud83d\ude00y", 5, keep="end") == "x\ud83d\ude00y"
        assert enc.truncate("\ud83d\ude00", 5) == "\ud83d\ude00"
        for _ in range(300):
            t = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            total = enc.count(t)
            for n in range(total + 1):
                for keep in ("start", "end"):
                    out = enc.truncate(t, n, keep=keep)
                    assert (t.startswith(out) if keep == "start" else t.endswith(out)), (t, n, keep)
                    assert enc.count(out) <= n, (t, n, keep, out)
                    cut = len(out) if keep == "start" else len(t) - len(out)
                    assert not (0 < cut < len(t) and "\ud800" <= t[cut - 1] <= "\udbff"
                                and "\udc00" <= t[cut] <= "\udfff"), (t, n, keep)  # a pair split
                    if n == total:
                        assert out == t


def test_stream_decoder_checks_its_arguments_and_keeps_undecodable_bytes_in_the_error() -> None:
    enc = tokenops.get_encoding("cl100k_base")
    dec = enc.stream_decoder()
    for bad in (b"hello", "hello", bytearray(b"hi"), {1: 2}, {1, 2}):
        with pytest.raises(TypeError, match="push takes"):
            dec.push(bad)  # bytes were read as one id per byte
    assert dec.push(iter(enc.encode("ok"))) == "ok"  # any other iterable of ids is fine
    with pytest.raises(LookupError):
        enc.stream_decoder(errors="bogus")  # at once, not at the first invalid byte
    with pytest.raises(TypeError):
        enc.stream_decoder(errors=None)  # type: ignore[arg-type]
    strict = enc.stream_decoder(errors="strict")
    with pytest.raises(UnicodeDecodeError) as info:
        strict.push([enc.encode_single_token(b"\xff"), *enc.encode("hello")])
    assert info.value.object == b"\xffhello"  # what the decoder handed on is in the error
    with pytest.raises(UnicodeEncodeError):  # tiktoken's type, still a ValueError
        enc.encode_single_token("\ud800")


def test_special_token_id_collision_names_the_token(data_dir):
    p = data_dir / "tokenizers" / "r50k_base.tiktoken"
    with pytest.raises(ValueError, match=r"special token #0 '<x>' reuses token id 5, which another token already has"):
        tokenops.Encoding.from_tiktoken_file(p, name="x", pretokenizer="r50k", special_tokens={"<x>": 5})
