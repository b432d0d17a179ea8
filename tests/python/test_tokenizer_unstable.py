"""encode_with_unstable and _encode_bytes against tiktoken (same algorithm, token for token), their
documented properties, and their bad-input behaviour; decode_bytes_batch."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops

PARITY = ["r50k_base", "cl100k_base", "o200k_base", "llama3"]

# Short texts biased to what makes a tail unstable: letters, digits, spaces, newlines, punctuation,
# CJK and accented letters, and the occasional special-token text.
TEXT = st.lists(
    st.one_of(
        st.sampled_from(["hello", " world", "fanta", "  ", "\n", "\n\n", " \n", "\t", "'s", "123", "4",
                         "(", ")", ".", "!", "数据", "é", "\u3000", "\u00a0", " fo", "<|endoftext|>"]),
        st.text(min_size=1, max_size=3),
    ),
    max_size=6,
).map("".join)


def _same(ours, theirs):
    assert ours[0] == theirs[0]
    assert sorted(map(tuple, ours[1])) == sorted(set(map(tuple, theirs[1])))


@pytest.mark.parametrize("name", PARITY)
def test_encode_with_unstable_fixed_texts_match_tiktoken(tk, name):
    enc, ref = tokenops.get_encoding(name), tk(name)
    for text in ["hello fanta", "hello world", "a\n\n ", "print('x')  ", "数据科学", "", " ", "x \u3000",
                 "The year 2024", "don't", "hello <|endoftext|>", "<|endoftext|>", "a" * 200]:
        for allowed in (set(), "all"):
            if not allowed and "<|endoftext|>" in text and "<|endoftext|>" in enc.special_tokens_set:
                with pytest.raises(ValueError, match="disallowed special token"):
                    enc.encode_with_unstable(text)
                continue
            _same(enc.encode_with_unstable(text, allowed_special=allowed),
                  ref.encode_with_unstable(text, allowed_special=allowed))


def test_encode_with_unstable_tiktoken_docstring_example():
    """tiktoken's docstring: gpt2 'hello fanta' -> ([31373], [(277, 4910), (5113, 265), ..., (8842,)])."""
    stable, completions = tokenops.get_encoding("r50k_base").encode_with_unstable("hello fanta")
    assert stable == [31373]
    assert {(277, 4910), (5113, 265), (8842,)} <= set(map(tuple, completions))
    assert completions == sorted(completions) and len(set(map(tuple, completions))) == len(completions)


@pytest.mark.parametrize("name", PARITY)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_encode_with_unstable_matches_tiktoken(tk, name, text):
    _same(tokenops.get_encoding(name).encode_with_unstable(text, allowed_special="all"),
          tk(name).encode_with_unstable(text, allowed_special="all"))


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "gpt2"])
@settings(max_examples=30, deadline=None)
@given(text=TEXT)
def test_encode_with_unstable_properties(name, text):
    """tiktoken's documented contract, also for the merge-list (Hugging Face) gpt2 encoding:
    the stable tokens spell a prefix of the text, and each completion continues them so that the
    text is a prefix of the result."""
    enc = tokenops.get_encoding(name)
    stable, completions = enc.encode_with_unstable(text, disallowed_special=())
    raw = text.encode()
    assert raw.startswith(enc.decode_bytes(stable))
    assert stable == enc.encode(text, disallowed_special=())[: len(stable)]
    for seq in completions:
        assert seq and enc.decode_bytes(stable + seq).startswith(raw)
    if raw and enc.decode_bytes(stable) != raw:
        assert completions  # an unstable tail always has a completion: its own tokens' start


def test_encode_with_unstable_bad_input():
    enc = tokenops.get_encoding("cl100k_base")
    with pytest.raises(TypeError):
        enc.encode_with_unstable(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="last piece is 2000 bytes long"):
        enc.encode_with_unstable("a" * 2000)
    # The limit is on the unstable tail only: a long text with a short last piece is fine.
    text = "word " * 20_000 + "end"
    stable, completions = enc.encode_with_unstable(text)
    assert stable == enc.encode(text)[:-1] and completions


def test_encode_with_unstable_first_use_from_many_threads(data_dir):
    """The byte-ordered token index is built once, on first use, even when 8 threads ask at once."""
    path = data_dir / "tokenizers" / "cl100k_base.tiktoken"
    fresh = tokenops.Encoding.from_tiktoken_file(path, name="fresh", pretokenizer="cl100k",
                                                 special_tokens={"<|endoftext|>": 100257})
    want = tokenops.get_encoding("cl100k_base").encode_with_unstable("hello fanta")
    results, barrier = [None] * 8, threading.Barrier(8)

    def run(i):
        barrier.wait()
        results[i] = fresh.encode_with_unstable("hello fanta")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == want for r in results)


def test_encode_bytes_tiktoken_vectors():
    """tiktoken's tests/test_encoding.py::test_encode_bytes."""
    enc = tokenops.get_encoding("cl100k_base")
    assert enc._encode_bytes(b" \xec\x8b\xa4\xed") == [62085]
    for i in range(10):
        raw = b"\x80" * i
        assert enc.decode_bytes(enc._encode_bytes(raw)) == raw


@pytest.mark.parametrize("name", PARITY)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.binary(max_size=40), TEXT.map(str.encode).flatmap(
    lambda b: st.integers(0, len(b)).map(lambda k: b[:k]))))
def test_encode_bytes_matches_tiktoken(tk, name, raw):
    """Random bytes and valid text cut at any byte (mid-character too)."""
    enc = tokenops.get_encoding(name)
    ours = enc._encode_bytes(raw)
    assert ours == tk(name)._encode_bytes(raw)
    assert enc.decode_bytes(ours) == raw


def test_encode_bytes_types():
    enc = tokenops.get_encoding("o200k_base")
    assert enc._encode_bytes(bytearray(b"hi \xe4\xb8")) == enc._encode_bytes(b"hi \xe4\xb8")
    assert enc._encode_bytes(memoryview(b"hello")) == enc.encode("hello")
    assert enc._encode_bytes(b"") == []
    with pytest.raises(TypeError, match="expects bytes"):
        enc._encode_bytes("text")  # type: ignore[arg-type]


def test_decode_bytes_batch_and_num_threads():
    enc = tokenops.get_encoding("cl100k_base")
    batch = [enc.encode("hello"), [], enc._encode_bytes(b"x\xff")]
    assert enc.decode_bytes_batch(batch) == [b"hello", b"", b"x\xff"]
    assert enc.decode_batch(batch, num_threads=2) == ["hello", "", "x\ufffd"]
    with pytest.raises(KeyError):
        enc.decode_bytes_batch([[10**7]])
