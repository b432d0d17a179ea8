"""Bad-input audit: each test reproduces a crash, hang, silent wrong result or unclear error that
the audit found, and asserts the exception type and a useful message. Probes that can abort the
interpreter run in a subprocess."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tokenops
from tokenops import Catalog, Router
from tokenops.router.core import DEFAULT_ROUTER_PATH


def _run_isolated(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter (a crash shows as a negative return code)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
    )


# ------------------------------------------------------------------------- error messages
def test_invalid_utf8_in_a_price_file_gives_a_value_error_naming_the_file(tmp_path: Path) -> None:
    # nlohmann's parse error quotes the offending bytes; turning that message into a Python str
    # used to raise UnicodeDecodeError, losing the file name and the reason.
    p = tmp_path / "prices.json"
    p.write_bytes(b'{"m\xff": {"input_cost_per_token": 1e-6, "litellm_provider": "openai"}}')
    with pytest.raises(ValueError, match=r"prices\.json: not valid JSON.*\\xff"):
        Catalog.from_litellm(p)


def test_invalid_utf8_in_a_router_header_gives_a_value_error() -> None:
    data = struct.pack("<Q", 4) + b"\xff\xfe\x00{"
    with pytest.raises(ValueError, match="router file header is not valid JSON"):
        Router.from_bytes(data, "bad.router")


def test_invalid_utf8_in_tokenizer_json_gives_a_value_error(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_bytes(b"\xff\xfe{")
    with pytest.raises(ValueError, match="tokenizer.json: not valid JSON"):
        tokenops.Encoding.from_hf_tokenizer_json(p)


def test_litellm_unmapped_model_is_named_in_the_error() -> None:
    with pytest.raises(KeyError) as info:
        tokenops.cost("no-such-model-xyz", {"input_text": 1}, mode="litellm")
    assert "cannot map model 'no-such-model-xyz'" in info.value.args[0]


# ------------------------------------------------------------------------- threads
def test_count_batch_with_more_threads_than_the_system_allows_does_not_abort() -> None:
    # text::parallel_for let std::system_error escape while threads were joinable ->
    # std::terminate (SIGABRT). Address space is limited so thread creation fails early.
    r = _run_isolated(
        """
        import resource, tokenops
        enc = tokenops.get_encoding("cl100k_base")
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        counts = enc.count_batch(["a b"] * 3000, num_threads=3000)
        ids = enc.encode_batch(["a b"] * 3000, num_threads=3000)
        from tokenops.router import Router
        scores = Router.default().score(["a b"] * 96_000, num_threads=3000)
        print(int(counts.sum()), sum(map(len, ids)), len(scores))
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "6000 6000 96000"


# ------------------------------------------------------------------------- budget simulator
_SIM_PROBE = """
import tokenops
from tokenops import Step, Workflow, simulate
from tokenops.budget import poisson
try:
    # stateless: a growing history would stop at the model's context window first
    simulate(Workflow("w", (STEP,), context="stateless"), n=2, num_threads=1)
except ValueError as e:
    print("ValueError:", e)
"""


@pytest.mark.parametrize(
    ("step", "expect"),
    [
        # poisson(1e12): a trillion calls per task, the task loop ran for hours.
        ('Step("loop", calls=poisson(1e12), user_input=10, output=5)', "more than 1000000 model calls (step 'loop')"),
        # poisson(1e300) was clipped to 1e15 calls; a mean outside [lo, hi] is refused up front.
        ('Step("loop", calls=poisson(1e300), user_input=10, output=5)', "must lie within [lo, hi]"),
        # p_success=0 with a billion retries: the same (now refused before the run).
        ('Step("flaky", p_success=0.0, max_retries=10**9, user_input=10)', "max_retries must be in [0, 1000]"),
        # calls=1e300: the trace grew until std::bad_alloc (MemoryError); now refused up front.
        ('Step("a", calls=1e300, user_input=10)', "calls must be in [0, 1e+15]"),
    ],
)
def test_simulate_with_unbounded_calls_raises_instead_of_hanging(step: str, expect: str) -> None:
    try:
        r = _run_isolated(_SIM_PROBE.replace("STEP", step), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("simulate hung")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ValueError:") and expect in r.stdout, r.stdout


# ------------------------------------------------------------------------- tokenizer
@pytest.fixture(scope="module")
def enc() -> tokenops.Encoding:
    return tokenops.get_encoding("cl100k_base")


@pytest.mark.parametrize("arr", [np.array([1.7, 2.2]), np.array([True, False]), np.array(["1"])])
def test_decode_rejects_non_integer_numpy_arrays(enc: tokenops.Encoding, arr: np.ndarray) -> None:
    # These were force-cast to int64 and silently decoded (1.7 -> token 1).
    with pytest.raises(TypeError, match="tokens must hold integers"):
        enc.decode(arr)
    with pytest.raises(TypeError, match="tokens must hold integers"):
        enc.decode_bytes(arr)
    with pytest.raises(TypeError, match="tokens must hold integers"):
        enc.decode_tokens_bytes(arr)
    with pytest.raises(TypeError, match="tokens must hold integers"):
        enc.stream_decoder().push(arr)


def test_decode_still_takes_integer_numpy_arrays(enc: tokenops.Encoding) -> None:
    ids = enc.encode("hello world")
    for dtype in (np.int64, np.uint32, np.int32):
        assert enc.decode(np.array(ids, dtype=dtype)) == "hello world"


def test_truncate_with_a_budget_beyond_64_bits_keeps_the_text(enc: tokenops.Encoding) -> None:
    assert enc.truncate("hello world", 2**64) == "hello world"
    assert enc.truncate("hello world", 2**70, keep="end") == "hello world"


@pytest.mark.parametrize("bad", [-1, 2**40, "7"])
def test_from_tiktoken_file_checks_special_token_ids(tmp_path: Path, bad: object) -> None:
    p = tmp_path / "v.tiktoken"
    p.write_bytes(b"YQ== 0\n")
    with pytest.raises(ValueError, match=r"special token '<s>' has id .*ints in \[0, 2\*\*32\)"):
        tokenops.Encoding.from_tiktoken_file(p, special_tokens={"<s>": bad})  # type: ignore[dict-item]


# ------------------------------------------------------------------------- pricing
def test_usage_count_beyond_int64_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"'input_text' = 9223372036854775808 is too large"):
        tokenops.cost("gpt-4o", {"input_text": 2**63})
    with pytest.raises(ValueError, match="too large"):
        tokenops.cost("gpt-4o", {"input_text": 2**70}, mode="litellm")


# ------------------------------------------------------------------------- router
@pytest.fixture(scope="module")
def router() -> Router:
    return Router.default()


def test_route_batch_rejects_nan_threshold(router: Router) -> None:
    # route() checked the threshold; route_batch silently routed everything to the weak model.
    with pytest.raises(ValueError, match="threshold is NaN"):
        router.route_batch(["What is 2+2?"], float("nan"))


@pytest.mark.parametrize("thr", ["0.5", None])
def test_route_threshold_type_error_is_clear(router: Router, thr: object) -> None:
    with pytest.raises(TypeError, match="threshold must be a number"):
        router.route("hi", thr)  # type: ignore[arg-type]


def _router_with_config(**changes: object) -> bytes:
    good = DEFAULT_ROUTER_PATH.read_bytes()
    hlen = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + hlen])
    cfg = json.loads(header["__metadata__"]["config"])
    for path, value in changes.items():
        d = cfg
        keys = path.split("__")
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    header["__metadata__"]["config"] = json.dumps(cfg)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + good[8 + hlen:]


def test_router_file_integer_fields_do_not_wrap() -> None:
    # 2**32 + 18 used to read as hash_bits = 18: a corrupt file loaded as a valid router.
    data = _router_with_config(features__hash_bits=2**32 + 18)
    with pytest.raises(ValueError, match=r"'hash_bits' must be an integer that fits in 32 bits, got 4294967314"):
        Router.from_bytes(data, "r.router")
    with pytest.raises(ValueError, match="'strong' must be an integer"):
        Router.from_bytes(_router_with_config(strong=1e308), "r.router")


def test_router_file_round_trip_still_loads() -> None:
    r = Router.from_bytes(_router_with_config(), "r.router")
    assert r.score(["hello"]).shape == (1,)


# ------------------------------------------------------------------------- chat accounting
@pytest.mark.parametrize(
    ("function", "expect"),
    [
        ({"name": "f", "parameters": [1]}, "parameters must be a JSON-schema dict, not list"),
        ({"name": "f", "parameters": {"properties": ["a"]}}, "parameters.properties must be a dict"),
        ({"name": "f", "parameters": {"properties": {"a": "string"}}}, "property 'a' must be a dict, not str"),
        ({"name": "f", "parameters": {"properties": {"a": {"enum": None}}}}, "property 'a': enum must be a list"),
    ],
)
def test_count_tools_malformed_schema_is_a_type_error(function: dict, expect: str) -> None:
    # These raised AttributeError ("'list' object has no attribute 'get'") or a bare TypeError.
    with pytest.raises(TypeError, match=expect):
        tokenops.count_tools([{"type": "function", "function": function}], model="gpt-4o")


def test_core_decode_checks_numpy_dtypes_and_uint64_range() -> None:
    # The native layer itself (not only the Python wrapper) rejects non-integer arrays, and a
    # uint64 id >= 2**63 is reported as itself, not as a wrapped negative number.
    import numpy as np

    core = tokenops.get_encoding("cl100k_base")._core
    with pytest.raises(TypeError, match="must hold integers"):
        core.decode_bytes(np.array([1.7, 2.2]))
    with pytest.raises(ValueError, match=str(2**63 + 5)):
        core.decode_bytes(np.array([1, 2**63 + 5], dtype=np.uint64))
    assert core.decode_bytes(np.array([15339, 1917], dtype=np.uint16)) == b"hello world"


@pytest.mark.parametrize("kwargs", [{"position_weight": float("nan")}, {"chunk_weight": float("inf")},
                                    {"chunk_weight": -1.0}, {"chunk_slack": float("nan")},
                                    {"answer_type_weight": float("nan")}, {"answer_type_weight": -0.1},
                                    {"answer_type_weight": 1e40}])
def test_compress_rejects_non_finite_weights(kwargs) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        tokenops.compress("One sentence. Another one here.", rate=0.5, **kwargs)


@pytest.mark.parametrize("kwargs", [{"bm25_sentence": float("nan")}, {"bm25_paragraph": float("inf")},
                                    {"bm25_neighbour": -0.5}, {"embed_threads": -5}])
def test_compressor_rejects_bad_scorer_options(kwargs) -> None:
    from tokenops.compress import Compressor

    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Compressor(**kwargs)


def test_batch_of_none_names_the_argument() -> None:
    enc = tokenops.get_encoding("cl100k_base")
    for call in (enc.encode_batch, enc.count_batch, enc.encode_ordinary_batch, enc.encode_batch_to_numpy):
        with pytest.raises(TypeError, match="texts must be a list of str, not NoneType"):
            call(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- oversized native ints
def test_oversized_num_threads_is_clamped_not_a_pybind11_error(enc: tokenops.Encoding, router: Router) -> None:
    # Values beyond a C int reached pybind11 and failed with "incompatible function arguments".
    big = 2**40
    assert enc.encode_batch(["hello world"], num_threads=big) == [enc.encode("hello world")]
    assert enc.encode_ordinary_batch(["hello world"], num_threads=big) == [enc.encode("hello world")]
    assert list(enc.count_batch(["hello world"], num_threads=big)) == [2]
    assert enc.encode_batch_to_numpy(["hello world"], num_threads=big)[0].tolist() == enc.encode("hello world")
    assert tokenops.cost_batch("gpt-4o", {"input_text": np.array([1000])}, num_threads=big).shape == (1,)
    assert router.score(["hi"], num_threads=big).shape == (1,)
    assert len(router.route_batch(["hi"], 0.5, num_threads=big)) == 1
    assert len(tokenops.compress_batch(["One sentence. Another one."], rate=0.5, num_threads=big)) == 1
    # negatives keep meaning "all cores", as 0 does
    assert list(enc.count_batch(["hello world"], num_threads=-1)) == [2]


@pytest.mark.parametrize("bad", [True, 2.0, "4"])
def test_num_threads_of_the_wrong_type_is_a_type_error(enc: tokenops.Encoding, router: Router, bad: object) -> None:
    with pytest.raises(TypeError, match="num_threads must be an int"):
        enc.count_batch(["a"], num_threads=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="num_threads must be an int"):
        router.score(["a"], num_threads=bad)  # type: ignore[arg-type]


def test_embedder_oversized_num_threads_and_batch_size() -> None:
    e = tokenops.Embedder.load(Path(__file__).parents[1] / "fixtures" / "embed" / "tiny_bert")
    assert e.embed(["hello"], batch_size=2**70, num_threads=2**40).shape[0] == 1


@pytest.mark.parametrize(("seed", "err"), [(2**70, ValueError), (-1, ValueError), ("1", TypeError)])
def test_simulate_seed_out_of_range_is_a_clear_error(seed: object, err: type) -> None:
    from tokenops import Step, Workflow, simulate

    with pytest.raises(err, match="seed must be an int"):
        simulate(Workflow("w", (Step("a", user_input=10),)), n=2, seed=seed)  # type: ignore[arg-type]


def test_simulate_takes_any_64_bit_seed_and_huge_num_threads() -> None:
    from tokenops import Step, Workflow, simulate

    r = simulate(Workflow("w", (Step("a", user_input=10),)), n=2, seed=2**64 - 1, num_threads=2**40)
    assert r.n == 2


def test_router_training_seed_out_of_range_is_a_value_error() -> None:
    from tokenops.router.train import fit_router

    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\), got 1180591620717411303424"):
        fit_router("logistic", ["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]), ["s", "w"],
                   strong="s", weak="w", seed=2**70)


def test_compress_target_tokens_beyond_64_bits_keeps_the_text() -> None:
    text = "One sentence here. Another sentence there."
    assert tokenops.compress(text, target_tokens=2**70).text == text


@pytest.mark.parametrize("token", [-1, 2**32, 2**70])
def test_decode_single_token_bytes_out_of_range_names_the_id(enc: tokenops.Encoding, token: int) -> None:
    with pytest.raises(KeyError, match=f"Invalid token for decoding: {token}"):
        enc.decode_single_token_bytes(token)
    with pytest.raises(TypeError, match="token must be an int, not str"):
        enc.decode_single_token_bytes("5")  # type: ignore[arg-type]


# ------------------------------------------------------------------------- pack / pack_chat
_PASSAGES = ["The cat sat on the mat.", "Dogs bark loudly at night.", "Cats like fish."]
_CHAT = [{"role": "system", "content": "Be nice."}] + [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"Message {i} about cats and dogs and more words."}
    for i in range(20)
]


def test_pack_budget_beyond_64_bits_keeps_every_passage() -> None:
    # (fill_irrelevant: "Dogs bark loudly at night." has no relevance to "cat")
    for budget in (2**63, 2**70):
        assert tokenops.pack(_PASSAGES, "cat", budget, fill_irrelevant=True).selected == [0, 1, 2]
    assert tokenops.pack(_PASSAGES, "cat", np.int64(1000), fill_irrelevant=True).selected == [0, 1, 2]


@pytest.mark.parametrize(("kwargs", "err", "expect"), [
    ({"passages": None}, TypeError, "passages must be a list of str, not NoneType"),
    ({"separator": None}, TypeError, "separator must be str, not NoneType"),
    ({"bm25_weight": float("nan")}, ValueError, "bm25_weight must be a finite number"),
    ({"extra_weight": -1.0}, ValueError, r"extra_weight must be a finite number in \[0, 1e\+30\]"),
    ({"extra_relevance": ["x", "y", "z"]}, TypeError, "extra_relevance must be a sequence of numbers"),
])
def test_pack_bad_arguments_are_named(kwargs: dict, err: type, expect: str) -> None:
    # passages=None / separator=None gave "'NoneType' object is not iterable" and pybind11's
    # "incompatible function arguments"; bm25_weight=nan silently selected nothing.
    args = {"passages": _PASSAGES, "question": "cat", "budget": 50, **kwargs}
    with pytest.raises(err, match=expect):
        tokenops.pack(**args)


def test_pack_separator_with_a_lone_surrogate_is_replaced_like_passages() -> None:
    r = tokenops.pack(_PASSAGES, "cat", 1000, separator="\ud800", fill_irrelevant=True)
    assert r.text == "\ufffd".join(_PASSAGES)
    # the same when packing leaves out the passage unrelated to the question
    r = tokenops.pack(_PASSAGES + ["Cats \ud800 nap."], "cat", 1000, separator="\ud800")
    assert r.text == "\ufffd".join([_PASSAGES[0], _PASSAGES[2], "Cats \ufffd nap."])


@pytest.mark.parametrize(("kwargs", "err", "expect"), [
    ({"messages": [None]}, TypeError, r"messages\[0\] must be a dict"),
    ({"messages": ["hi"]}, TypeError, r"messages\[0\] must be a dict"),
    ({"keep_last": None}, TypeError, "keep_last must be an int"),
    ({"keep_last": 1.5}, TypeError, "keep_last must be an int"),
    ({"summary_tokens": -5}, ValueError, "summary_tokens must be >= 0"),
    ({"summary_tokens": float("nan")}, TypeError, "summary_tokens must be an int"),
    ({"summary": 5}, TypeError, "summary must be 'extractive', a str, a callable or None, not int"),
    ({"summary": lambda dropped: None}, TypeError, "summary callable must return str, not NoneType"),
    ({"summary_role": None}, TypeError, "summary_role must be str"),
    ({"summary_role": "sytem"}, ValueError, "summary_role must be one of 'auto', 'system'"),
])
def test_pack_chat_bad_arguments_are_named(kwargs: dict, err: type, expect: str) -> None:
    # summary_tokens=-5 returned 154 tokens for a budget of 150; summary=5 and summary_role=None
    # were silently accepted; a callable returning None put the text "None" in the prompt.
    args = {"messages": _CHAT, "budget": 150, **kwargs}
    with pytest.raises(err, match=expect):
        tokenops.pack_chat(**args)


def test_pack_chat_takes_numpy_and_huge_budgets() -> None:
    assert tokenops.pack_chat(_CHAT, np.int64(150)).tokens <= 150
    assert tokenops.pack_chat(_CHAT, 2**70).dropped == []


# ------------------------------------------------------------------------- audit of 2026-12-05
_OK_ROW = {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6,
           "output_cost_per_token": 2e-6}


def test_a_negative_zero_price_costs_nothing() -> None:
    # -0.0 passed the ">= 0" check and its sign was read as a digit: -$30 per token.
    cat = Catalog.from_litellm(json.dumps({"m": dict(_OK_ROW, input_cost_per_token=-0.0)}).encode())
    r = tokenops.cost("m", {"input_text": 1000, "output_text": 100}, catalog=cat)
    assert str(r.total_exact) == "0.0002"


def test_an_overflowing_tier_threshold_is_a_named_problem_not_a_negative_tier() -> None:
    # 9223372036854775m * 10^6 wrapped to a negative threshold: every request got the long tier.
    field = "input_cost_per_token_above_9223372036854775m_tokens"
    cat = Catalog.from_litellm(json.dumps({"m": dict(_OK_ROW, **{field: 5e-6})}).encode())
    assert [(p.key, p.field) for p in cat.problems] == [("m", field)]
    assert "too large" in cat.problems[0].message
    assert "m" not in cat


def test_cost_batch_split_needs_litellm_mode() -> None:
    # Exact mode returned zeros for the prompt and completion columns.
    usage = {"input_text": [1000], "output_text": [100]}
    with pytest.raises(ValueError, match="split=True.*litellm"):
        tokenops.cost_batch("gpt-4o", usage, split=True)
    total, prompt, completion = tokenops.cost_batch("gpt-4o", usage, split=True, mode="litellm")
    assert prompt[0] > 0 and completion[0] > 0 and total[0] == pytest.approx(prompt[0] + completion[0])


def test_saving_a_router_that_would_not_load_is_refused_and_keeps_the_old_file(tmp_path: Path) -> None:
    # A NaN or negative cost was written into the config; Router.load then rejected the file,
    # which had already replaced the user's good one.
    from tokenops.router.train import fit_router

    prompts = ["what is 2+2", "write a poem", "prove fermat", "hi there", "explain gravity", "sort a list"] * 3
    q = np.random.RandomState(0).rand(len(prompts), 3)
    path = tmp_path / "r.router"
    fit_router("logistic", prompts, q, ["a", "b", "c"], task="nway", costs=[1, 2, 3]).save(path)
    good = path.read_bytes()
    for costs, expect in (([float("nan"), 1, 2], "NaN or inf"), ([-1, 1, 2], "would not load.*non-negative")):
        with pytest.raises(ValueError, match=expect):
            fit_router("logistic", prompts, q, ["a", "b", "c"], task="nway", costs=costs).save(path)
        assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.router"]  # no temporary left behind
    Router.load(path)


def test_build_default_refuses_an_out_path_its_card_would_overwrite(tmp_path: Path) -> None:
    from tokenops.router.build_default import build

    with pytest.raises(ValueError, match=r"\.json"):
        build(out=tmp_path / "router.json")
    assert not any(tmp_path.iterdir())


def test_stream_decoder_takes_numpy_arrays_and_scalars_like_decode() -> None:
    # push() turned an array into numpy scalars, which the core rejected ("must be int").
    enc = tokenops.get_encoding("cl100k_base")
    text = "héllo wörld 👍"
    ids = enc.encode_to_numpy(text)
    dec = enc.stream_decoder()
    assert "".join(dec.push(t) for t in ids) + dec.flush() == text
    dec = enc.stream_decoder()
    assert dec.push(ids) + dec.flush() == text
    assert enc.stream_decoder().push(np.int64(ids[0])) == enc.decode([int(ids[0])])
    with pytest.raises(TypeError, match="integers"):
        enc.stream_decoder().push(np.array([1.5]))


def test_input_counts_adding_up_past_int64_are_refused() -> None:
    # Each bucket fit in int64 but their sum wrapped negative: the long-context tier was missed.
    usage = {"input_text": 2**62, "cache_read": 2**62}
    for mode in ("exact", "litellm"):
        with pytest.raises(ValueError, match="add up to more than 2\\^63"):
            tokenops.cost("claude-sonnet-4-5", usage, mode=mode)
        with pytest.raises(ValueError, match="add up to more than 2\\^63"):
            tokenops.cost_batch("claude-sonnet-4-5", {k: [v] for k, v in usage.items()}, mode=mode)
    assert tokenops.cost("claude-sonnet-4-5", {"input_text": 2**62}).row == "standard >200000"


def test_llama_3_prefix_does_not_claim_llama_30b() -> None:
    from tokenops.tokenizer.registry import encoding_name_for_model

    for name in ("llama-3", "llama-3.1-8b", "meta-llama/Meta-Llama-3-8B", "llama3-70b", "llama3.2"):
        assert encoding_name_for_model(name) == "llama3"
    for name in ("llama-30b", "llama-33b", "llama30b"):
        with pytest.raises(KeyError):
            encoding_name_for_model(name)


# --------------------------------------------------------------- tokenizer loading and specials
def _byte_level_alphabet() -> list[str]:
    """GPT-2's bytes_to_unicode: the printable stand-in of each byte, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(extra)) for b in range(256)]


def _tiny_hf_json(vocab_ids: dict, added: list | None = None) -> str:
    """A minimal byte-level BPE tokenizer.json: the 256 bytes (ids 0-255), then ``vocab_ids``
    (ids as given) and the merge 'a b' -> 'ab'."""
    vocab = {ch: i for i, ch in enumerate(_byte_level_alphabet())}
    vocab.update({k: v + 256 if isinstance(v, int) and 0 <= v < 2**31 else v for k, v in vocab_ids.items()
                  if k not in vocab or k == "ab"})
    return json.dumps({
        "model": {"type": "BPE", "vocab": vocab, "merges": ["a b"]},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "added_tokens": added or [],
    })


@pytest.mark.parametrize(("ab_id", "expect"), [
    (2**32 + 5, "too large for a token id"),   # used to wrap to 5
    (3.7, "not a non-negative integer id"),    # float ids
    (-1, "not a non-negative integer id"),
])
def test_hf_vocab_ids_are_checked_not_wrapped(tmp_path: Path, ab_id: object, expect: str) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": ab_id}))
    with pytest.raises(ValueError, match=r"model\.vocab\['ab'\].*" + expect):
        tokenops.Encoding.from_hf_tokenizer_json(p)


@pytest.mark.parametrize(("eos_id", "expect"), [
    (2**32 + 1, "added_tokens\\[0\\]\\.id .*too large for a token id"),  # wrapped to 1 (reused 'b')
    (2.9, "added_tokens\\[0\\]\\.id .*not a non-negative integer id"),   # truncated to 2
    (-3, "added_tokens\\[0\\]\\.id .*not a non-negative integer id"),
])
def test_hf_added_token_ids_are_checked(tmp_path: Path, eos_id: object, expect: str) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": 2},
                               [{"id": eos_id, "content": "<eos>", "special": True}]))
    with pytest.raises(ValueError, match=expect):
        tokenops.Encoding.from_hf_tokenizer_json(p)


def test_hf_huge_ids_are_named_or_not_used(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    # a huge vocab id an added token takes: named (dense decode tables: bad_alloc before)
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": 2, "<eos>": 2**31 - 2},
                               [{"id": 5, "content": "<eos>", "special": True}]))
    with pytest.raises(ValueError, match=r"token id 2147483902 is too large"):
        tokenops.Encoding.from_hf_tokenizer_json(p)
    # a huge file id of an added token that is no vocab key is not used: HF numbers it
    # len(model.vocab) = 257 (HF 0.23.3: "<eos>abab" -> [257, 258, 258])
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": 2}, [{"id": 2**31 - 2, "content": "<eos>", "special": True}]))
    assert tokenops.Encoding.from_hf_tokenizer_json(p).encode("<eos>abab", allowed_special="all") == [257, 258, 258]


def test_hf_added_token_without_content_is_named(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": 2}, [{"id": 3}]))
    with pytest.raises(ValueError, match=r"added_tokens\[0\] needs a string 'content'"):
        tokenops.Encoding.from_hf_tokenizer_json(p)


def test_hf_valid_tiny_file_still_loads(tmp_path: Path) -> None:
    p = tmp_path / "tokenizer.json"
    p.write_text(_tiny_hf_json({"a": 0, "b": 1, "ab": 2},
                               [{"id": 70000, "content": "<eos>", "special": True}]))
    e = tokenops.Encoding.from_hf_tokenizer_json(p)
    assert e.encode("abab") == [258, 258]
    assert e.decode(e.encode("x ab\u00e9")) == "x ab\u00e9"
    assert e.encode("<eos>", allowed_special="all") == [257]  # HF's number; the file says 70000


def test_a_sparse_huge_special_id_in_a_rank_file_is_named(tmp_path: Path) -> None:
    p = tmp_path / "tiny.tiktoken"
    import base64

    p.write_text("".join(f"{base64.b64encode(bytes([b])).decode()} {b}\n" for b in range(256)))
    with pytest.raises(ValueError, match="token id 2147483000 is too large"):
        tokenops.Encoding.from_tiktoken_file(p, special_tokens={"<x>": 2_147_483_000})


def test_get_encoding_with_path_checks_the_file_is_that_vocabulary(tmp_path: Path) -> None:
    from tokenops.tokenizer.load import VocabularyFileError

    ddir = Path(os.environ.get("TOKENOPS_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
    r50k = ddir / "tokenizers" / "r50k_base.tiktoken"
    if not r50k.is_file():
        pytest.skip("no r50k_base.tiktoken")
    # r50k's ranks under cl100k's name used to load, encoding text with the wrong vocabulary.
    with pytest.raises(VocabularyFileError, match="is not the 'cl100k_base' vocabulary.*from_tiktoken_file"):
        tokenops.get_encoding("cl100k_base", path=r50k)
    assert tokenops.get_encoding("r50k_base", path=r50k).encode("hello world") == [31373, 995]
    assert r50k.is_file()  # the user's file is left alone


def test_disallowed_strings_that_are_not_special_tokens_raise_like_tiktoken(enc: tokenops.Encoding) -> None:
    # tiktoken raises for any disallowed string the text holds; these were ignored.
    for call in (lambda **k: enc.encode("foo bar", **k), lambda **k: enc.count("foo bar", **k),
                 lambda **k: enc.encode_to_numpy("foo bar", **k), lambda **k: enc.truncate("foo bar", 1, **k),
                 lambda **k: enc.encode_batch(["x", "foo bar"], **k), lambda **k: enc.count_batch(["foo bar"], **k),
                 lambda **k: enc.encode_batch_to_numpy(iter(["foo bar"]), **k)):
        with pytest.raises(ValueError, match="disallowed special token 'foo'"):
            call(disallowed_special={"foo"})
    # the leftmost disallowed string is the one named, special token or not
    with pytest.raises(ValueError, match="token 'bar'"):
        enc.encode("bar <|endoftext|>", disallowed_special={"bar", "<|endoftext|>"})
    with pytest.raises(ValueError, match="token '<\\|endoftext\\|>'"):
        enc.encode("<|endoftext|> bar", disallowed_special={"bar", "<|endoftext|>"})
    assert enc.encode("x abc", disallowed_special={"foo"}) == [87, 40122]
    # an iterator batch is read once and still encoded
    assert enc.encode_batch(iter(["x abc"]), disallowed_special={"foo"}) == [[87, 40122]]


@pytest.mark.parametrize("kwargs", [{"allowed_special": "abc"}, {"disallowed_special": "<|endoftext|>"},
                                    {"allowed_special": None}])
def test_a_str_special_policy_other_than_all_is_a_type_error(enc: tokenops.Encoding, kwargs: dict) -> None:
    # A str was iterated as a set of characters ("<|endoftext|>" disallowed '<', '|', ...).
    with pytest.raises(TypeError, match="'all' or a"):
        enc.encode("x", **kwargs)
    with pytest.raises(TypeError, match="'all' or a"):
        enc.encode_batch(["x"], **kwargs)


def test_empty_disallowed_string_is_refused(enc: tokenops.Encoding) -> None:
    with pytest.raises(ValueError, match="empty string"):
        enc.encode("x", disallowed_special={""})


def test_count_tools_treats_a_null_description_as_absent() -> None:
    with_none = [{"type": "function", "function": {"name": "f", "description": None,
                                                   "parameters": {"type": "object", "properties": {
                                                       "x": {"type": None, "description": None}}}}}]
    without = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {}}}}}]
    assert tokenops.count_tools(with_none).tokens == tokenops.count_tools(without).tokens
    with pytest.raises(TypeError, match="function name must be str"):
        tokenops.count_tools([{"function": {"name": None}}])


# ------------------------------------------------------------------------- router files and metrics
def _router_with_offsets(offsets: dict[str, list[int]], extra: bytes = b"") -> bytes:
    good = DEFAULT_ROUTER_PATH.read_bytes()
    hlen = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + hlen])
    for name, off in offsets.items():
        header[name]["data_offsets"] = off
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + good[8 + hlen:] + extra


def test_router_file_tensors_must_not_overlap_or_leave_holes() -> None:
    good = DEFAULT_ROUTER_PATH.read_bytes()
    w_end = json.loads(good[8:8 + struct.unpack("<Q", good[:8])[0]])["W"]["data_offsets"][1]
    # 'b' reading the last 8 bytes of 'W' loaded: two tensors sharing bytes
    with pytest.raises(ValueError, match="tensor 'b' overlaps the previous tensor"):
        Router.from_bytes(_router_with_offsets({"b": [w_end - 8, w_end]}), "r.router")
    with pytest.raises(ValueError, match="hole in the data region before tensor 'b'"):
        Router.from_bytes(_router_with_offsets({"b": [w_end + 8, w_end + 16]}, b"\0" * 8), "r.router")
    with pytest.raises(ValueError, match="8 trailing bytes after the last tensor"):
        Router.from_bytes(_router_with_offsets({}, b"\0" * 8), "r.router")
    assert Router.from_bytes(_router_with_offsets({}), "r.router").score(["hi"]).shape == (1,)


def test_router_metric_helpers_check_their_arguments() -> None:
    from tokenops.router import calibrate, evaluation, metrics

    qs, qw = np.array([1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0])
    for frac in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="strong_fraction must be in \\[0, 1\\]"):
            metrics.optimal_quality(qs, qw, frac, False)
    with pytest.raises(ValueError, match="one length"):
        metrics.optimal_quality(qs, qw[:2], 0.5, True)
    with pytest.raises(ValueError, match="negative total cost"):
        metrics.aiq([np.array([[-1.0, 0.5], [2.0, 0.7]])])
    with pytest.raises(ValueError, match="at least one curve"):
        metrics.aiq([])
    pred, tok = np.array([[0.5, 0.9], [np.nan, 0.2]]), np.array([1.0, 2.0])
    q, c = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[1.0, 2.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="pred_quality holds NaN"):
        metrics.lambda_sweep(pred, tok, q, c)
    with pytest.raises(ValueError, match="token_costs \\(models,\\)"):
        metrics.lambda_sweep(np.nan_to_num(pred), tok[:1], q, c)
    assert metrics.lambda_sweep(np.nan_to_num(pred), tok, q, c).shape == (32, 2)
    with pytest.raises(ValueError, match="at least one model"):
        calibrate.simulate_cascade(q, c, [], 0.1)
    with pytest.raises(ValueError, match="outside \\[0, 2\\)"):
        calibrate.simulate_cascade(q, c, [0, 2], 0.1)
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        calibrate.simulate_cascade(q, c, [0, 1], 0.1, seeds=0)
    assert calibrate.simulate_cascade(q, c, [0, 1], 0.0).quality == 1.0
    with pytest.raises(TypeError, match="folds must be an int"):
        evaluation.fold_ids(["a", "b", "c"], folds=2.5)  # type: ignore[arg-type]
    rep = evaluation.RouteLLMReport("b", [], 0.5, 0.9, np.array([]), np.array([]), [])
    with pytest.raises(KeyError, match="no method 'knn'"):
        rep.cost_saving_at("knn")  # was a bare StopIteration


# ------------------------------------------------------------------------- compression
@pytest.mark.parametrize("text", ["x" * 4000, "Short intro. " + "ab" * 3000 + " tail words here",
                                  "A hash: " + "0f" * 2000])
def test_a_word_longer_than_the_budget_is_cut_not_dropped_whole(text: str) -> None:
    # One 500-token "word" left nothing (0 tokens for a 100-token budget).
    r = tokenops.compress(text, target_tokens=100, force_digits=False)
    assert r.within_tolerance, r
    assert 90 <= r.compressed_tokens <= 105
    assert r.text and all(piece in text for piece in r.text.split())


def test_natural_words_are_not_cut() -> None:
    units = tokenops.compress("Donaudampfschifffahrtsgesellschaftskapitän ist ein Wort.", rate=0.9).units
    assert "Donaudampfschifffahrtsgesellschaftskapitän" in [u.text for u in units]


def test_units_of_a_text_with_a_surrogate_pair_are_not_garbled() -> None:
    # "\ud83d\ude00" (two code points) is one 4-byte character to the core; the units were cut
    # from a 6-byte surrogatepass encoding, shifting every later unit.
    r = tokenops.compress("hello \ud83d\ude00 world and more words here \udc00 lone", rate=0.9)
    assert [u.text for u in r.units] == ["hello", "\U0001F600", "world", "and", "more", "words",
                                         "here", "\ufffd", "lone"]


# ------------------------------------------------------------------------- pricing
def test_exact_mode_bills_deepseeks_cache_hit_price() -> None:
    # deepseek-coder lists only input_cost_per_token_cache_hit (no cache_read_input_token_cost).
    row = dict(_OK_ROW, input_cost_per_token=1.4e-7, input_cost_per_token_cache_hit=1.4e-8)
    cat = Catalog.from_litellm(json.dumps({"m": row}).encode())
    r = tokenops.cost("m", {"input_text": 1000, "cache_read": 1000}, catalog=cat)
    assert [(ln.bucket, str(ln.cost)) for ln in r.lines] == [("input_text", "0.00014"), ("cache_read", "0.000014")]
    # cache_read_input_token_cost wins where both are listed
    both = dict(row, cache_read_input_token_cost=2e-8)
    cat = Catalog.from_litellm(json.dumps({"m": both}).encode())
    assert str(tokenops.cost("m", {"cache_read": 1000}, catalog=cat).total_exact) == "0.00002"
    # LiteLLM's own calculator reads only cache_read_input_token_cost: its $0 is reproduced
    lit = tokenops.cost("deepseek/deepseek-coder", {"input_text": 1000, "cache_read": 1000}, mode="litellm")
    assert dict((ln.bucket, ln.cost) for ln in lit.lines)["cache_read"] == 0.0


def test_a_service_tier_without_the_long_context_row_says_so() -> None:
    row = dict(_OK_ROW, input_cost_per_token=2e-6, input_cost_per_token_above_200k_tokens=4e-6,
               input_cost_per_token_batches=1e-6, output_cost_per_token_batches=6e-6)
    cat = Catalog.from_litellm(json.dumps({"m": row}).encode())
    r = tokenops.cost("m", {"input_text": 300_000, "output_text": 10}, catalog=cat, service_tier="batch")
    assert r.notes == ["the batch tier lists no price above 200000 input tokens (the standard tier does); "
                       "batch base price used"]
    assert tokenops.cost("m", {"input_text": 100_000}, catalog=cat, service_tier="batch").notes == []
    assert tokenops.cost("m", {"input_text": 300_000}, catalog=cat).row == "standard >200000"


def test_tiered_bands_that_do_not_start_at_zero_are_a_named_problem() -> None:
    # tokens below the first band were priced by nothing: $0 for any small request.
    row = dict(_OK_ROW, tiered_pricing=[{"range": [32000, 128000], "input_cost_per_token": 1e-6,
                                         "output_cost_per_token": 2e-6}])
    cat = Catalog.from_litellm(json.dumps({"m": row}).encode())
    assert [(p.key, p.field) for p in cat.problems] == [("m", "tiered_pricing")]
    assert "start at 32000" in cat.problems[0].message


def test_litellm_mode_needs_a_litellm_catalogue() -> None:
    try:
        genai = Catalog.from_genai_prices()
    except (FileNotFoundError, OSError):
        pytest.skip("no genai-prices data")
    # LiteLLM's calculator found no LiteLLM fields there and answered $0.
    with pytest.raises(ValueError, match="needs a LiteLLM catalogue.*genai-prices"):
        tokenops.cost("openai/gpt-4o", {"input_text": 1000}, catalog=genai, mode="litellm")
    with pytest.raises(ValueError, match="needs a LiteLLM catalogue"):
        tokenops.cost_batch("openai/gpt-4o", {"input_text": [1000]}, catalog=genai, mode="litellm")
    assert tokenops.cost("openai/gpt-4o", {"input_text": 1000}, catalog=genai).total > 0


def test_an_api_that_does_not_match_the_usage_is_refused() -> None:
    # api="openai_chat" on an Anthropic usage read every bucket as 0: $0.
    with pytest.raises(ValueError, match="none of the openai_chat fields.*input_tokens"):
        tokenops.cost("gpt-4o", {"input_tokens": 1000, "output_tokens": 10}, api="openai_chat")
    ok = tokenops.cost("gpt-4o", {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010},
                       api="openai_chat")
    assert ok.total > 0


def test_a_huge_model_name_is_refused_quickly() -> None:
    # 16,000 "provider/" prefixes took seconds (every suffix rewritten, edit distances to 2,600 keys).
    for mode in ("exact", "litellm"):
        with pytest.raises(ValueError, match="model name is 32006 bytes long"):
            tokenops.cost("a/" * 16000 + "gpt-4o", {"input_text": 1}, mode=mode)
    with pytest.raises(ValueError, match="bytes long"):
        tokenops.cost("\u00e9" * 300, {"input_text": 1})  # cut on a character boundary in the message


# ------------------------------------------------------------------------- embedder, simulator
def test_an_embedder_with_a_nan_weight_is_refused(tmp_path: Path) -> None:
    import shutil

    src = Path(__file__).resolve().parents[1] / "fixtures" / "embed" / "tiny_bert"
    shutil.copytree(src, tmp_path / "m")
    st = tmp_path / "m" / "model.safetensors"
    data = bytearray(st.read_bytes())
    hlen = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + hlen])
    name = next(k for k in header if k.endswith("LayerNorm.weight"))
    at = 8 + hlen + header[name]["data_offsets"][0] + 4 * 3
    data[at:at + 4] = struct.pack("<f", float("nan"))
    st.write_bytes(bytes(data))
    # every embedding came out NaN, silently
    with pytest.raises(ValueError, match=f"tensor '{name}' holds a non-finite value.*flat index 3"):
        tokenops.Embedder.load(tmp_path / "m")


def test_cosine_similarity_of_huge_and_tiny_vectors() -> None:
    from tokenops.embed import cosine_similarity

    # 1e20**2 overflowed float32: the norms were inf and the similarity 0 instead of 1
    for scale in (1e20, 1e-30, 1.0):
        v = np.array([3.0, 4.0, 0.0]) * scale
        assert cosine_similarity(v, v)[0, 0] == pytest.approx(1.0, abs=1e-6)
        assert cosine_similarity(v, -v)[0, 0] == pytest.approx(-1.0, abs=1e-6)
    assert cosine_similarity(np.zeros(3), np.ones(3))[0, 0] == 0.0


def test_simulate_refuses_token_counts_past_int64() -> None:
    from tokenops import Step, Workflow, simulate
    from tokenops.budget import Dist

    # 1e15 tokens per call over 20,000 calls of full history: the context wrapped negative (on a
    # model whose catalogue entry gives no context window; gpt-4o stops the task at 128k)
    wf = Workflow("w", (Step("a", calls=20_000, user_input=10**15, output=10),))
    with pytest.raises(ValueError, match="exceed 2\\^63 - 1"):
        simulate(wf, model="nscale/Qwen/QwQ-32B", n=1, deterministic=True)
    assert simulate(wf, model="gpt-4o", n=1, deterministic=True).overflow_rate == 1.0
    with pytest.raises(ValueError, match="hi must be <= 1e15"):
        simulate(Workflow("w", (Step("a", user_input=Dist("const", 5, 0, 0, 1e300)),)), n=1)


@pytest.mark.parametrize(("policy", "expect"), [
    ({"summary_tokens": -500}, "summary_tokens must be in \\[0"),   # grew the context it shrank
    ({"last_k": 0}, "last_k must be in \\[1"),
    ({"token_budget": -1}, "token_budget must be in \\[1"),
    ({"output_cap": 2.5}, "output_cap must be an int"),
    ({"cache": "on"}, "cache must be 'auto', 'off' or '1h'"),   # was ignored
    ({"iteration_cap": {"nope": 3}}, "iteration_cap names unknown step 'nope'"),
    ({"iteration_cap": -2}, "iteration_cap must be an int in"),
    ({"routing": {"a": {"gpt-4o": float("nan")}}}, "weights must be finite"),
    ({"on_budget": "escalate", "token_budget": 100}, "needs escalate_to"),
])
def test_policy_values_are_checked(policy: dict, expect: str) -> None:
    from tokenops import Policy, Step, Workflow, simulate

    with pytest.raises((ValueError, TypeError), match=expect):
        simulate(Workflow("w", (Step("a", user_input=10),)), n=1, policy=Policy(**policy))


# ------------------------------------------------------------------------- audit, third round
def test_cost_batch_frame_refuses_a_column_that_looks_like_a_count() -> None:
    # A misspelt bucket column was dropped without a word: its tokens cost $0.
    import pandas as pd

    for col, hint in (("output_token", "did you mean 'output_text'"), ("prompt_tokens", "not a usage bucket"),
                      ("cached_tokens", "not a usage bucket")):
        df = pd.DataFrame({"input_text": [100, 200], col: [10, 20]})
        with pytest.raises(ValueError, match=hint):
            tokenops.cost_batch("gpt-4o", df)
    # Columns unrelated to usage (a model name, a latency) are still ignored.
    df = pd.DataFrame({"input_text": [100, 200], "model": ["gpt-4o", "gpt-4o"], "latency_ms": [5, 6]})
    np.testing.assert_array_equal(tokenops.cost_batch("gpt-4o", df),
                                  tokenops.cost_batch("gpt-4o", {"input_text": np.array([100, 200])}))


@pytest.mark.parametrize("bad", ["2O26-09-01", "2025-02-30", "2025-02-29", "2025-01-01junk",
                                 "2025-1-01", "2025-04-31", "0000-01-01"])
def test_price_dates_must_exist(bad: str) -> None:
    # The parser read "2O26" as year 2 and "2025-02-30" as March 2: old price rows were chosen.
    with pytest.raises(ValueError, match="not an ISO date"):
        tokenops.cost("gpt-4o", {"input_text": 10}, date=bad)
    with pytest.raises(ValueError, match="not an ISO date"):
        tokenops.cost_batch("gpt-4o", {"input_text": np.array([10])}, date=bad)


def test_a_leap_day_is_a_date() -> None:
    import datetime

    a = tokenops.cost("gpt-4o", {"input_text": 10}, date="2024-02-29")
    b = tokenops.cost("gpt-4o", {"input_text": 10}, date=datetime.date(2024, 2, 29))
    assert a.total_exact == b.total_exact


def test_genai_price_file_with_an_impossible_start_date_names_the_row(tmp_path: Path, data_dir: Path) -> None:
    text = (data_dir / "pricing" / "genai_prices" / "data.json").read_text(encoding="utf-8")
    assert '"start_date":"2026-09-01"' in text
    p = tmp_path / "data.json"
    p.write_text(text.replace('"start_date":"2026-09-01"', '"start_date":"2026-09-31"'), encoding="utf-8")
    cat = Catalog.from_genai_prices(p)
    assert any("2026-09-31" in pr.message for pr in cat.problems)


def _litellm_file(path: Path, n: int) -> Path:
    path.write_text(json.dumps({f"m{i}": dict(_OK_ROW) for i in range(n)}))
    return path


def test_refresh_refuses_an_empty_or_shrunken_source_and_keeps_the_catalogue(tmp_path: Path) -> None:
    from tokenops.pricing.catalog import load_packaged, refresh_default

    out = tmp_path / "cat"
    refresh_default(_litellm_file(tmp_path / "full.json", 10), out, checked_date="2026-01-02")
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ValueError, match="no model rows"):
        refresh_default(tmp_path / "empty.json", out)
    with pytest.raises(ValueError, match="refusing to drop more than half"):
        refresh_default(_litellm_file(tmp_path / "small.json", 3), out)
    with pytest.raises(ValueError, match="not an ISO date"):
        refresh_default(tmp_path / "full.json", out, checked_date="notadate")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="JSON object"):
        refresh_default(tmp_path / "list.json", out)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # nothing lost, no temp files
    prov = refresh_default(tmp_path / "small.json", out, allow_shrink=True)
    assert prov["models"] == 3 and len(load_packaged(out)) == 3


def test_refresh_switches_catalogues_atomically_and_never_replaces_an_unreadable_one(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    import os as _os

    from tokenops.pricing import catalog as c

    out = tmp_path / "cat"
    c.refresh_default(_litellm_file(tmp_path / "full.json", 10), out, checked_date="2026-01-02")
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    # a crash anywhere in the next refresh leaves the old catalogue whole (the data and its
    # provenance were renamed one after the other: a kill between them broke Catalog.default())
    real = _os.replace
    for fail_at in (1, 2):
        calls = []

        def flaky(a, b, _n=fail_at, _calls=calls):
            _calls.append(b)
            if len(_calls) == _n:
                raise OSError("simulated crash")
            return real(a, b)

        monkeypatch.setattr(c.os, "replace", flaky)
        with pytest.raises(OSError, match="simulated crash"):
            c.refresh_default(_litellm_file(tmp_path / "other.json", 12), out, checked_date="2026-02-03")
        monkeypatch.setattr(c.os, "replace", real)
        assert len(c.load_packaged(out)) in (10, 12)  # old or new, never a broken mix
        assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]
    # an unreadable catalogue is not replaced by a tiny file without allow_shrink
    prov = json.loads((out / "provenance.json").read_text())
    (out / prov["file"]).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot be read"):
        c.refresh_default(_litellm_file(tmp_path / "one.json", 1), out)
    assert c.refresh_default(tmp_path / "one.json", out, allow_shrink=True)["models"] == 1
    assert before  # (the first catalogue existed)


def test_two_refreshes_at_once_never_remove_the_live_catalogue(tmp_path: Path, monkeypatch) -> None:
    # Refresh A installs new prices while refresh B re-applies the current ones (same content, so
    # the same file name X). B ran between A's switch and A's removal of the previous file (X):
    # provenance.json then named a file A deleted, and every Catalog.default() failed.
    from tokenops.pricing import catalog as c

    out = tmp_path / "cat"
    v1 = _litellm_file(tmp_path / "v1.json", 10)
    x = c.refresh_default(v1, out, checked_date="2026-01-02")["file"]
    real = c.write_atomic
    nested = []

    def write_then_run_b(dest, data):
        real(dest, data)
        if dest.name == c.PROVENANCE_FILE and not nested:
            nested.append(None)
            nested[0] = c.refresh_default(v1, out, checked_date="2026-01-02")  # B, re-entrant here

    monkeypatch.setattr(c, "write_atomic", write_then_run_b)
    c.refresh_default(_litellm_file(tmp_path / "v2.json", 12), out, checked_date="2026-02-03")  # A
    monkeypatch.setattr(c, "write_atomic", real)
    assert nested and nested[0]["file"] == x
    assert len(c.load_packaged(out)) == 10  # B's switch came last: its catalogue is live and whole
    assert (out / x).is_file()


def test_refreshes_from_two_processes_are_serialised(tmp_path: Path) -> None:
    out = tmp_path / "cat"
    srcs = [_litellm_file(tmp_path / f"s{i}.json", 10 + i) for i in range(2)]
    code = ("import sys; from pathlib import Path; from tokenops.pricing.catalog import refresh_default as r\n"
            "for _ in range(15):\n"
            "    for s in sys.argv[1:3]: r(s, Path(sys.argv[3]), checked_date='2026-01-02', allow_shrink=True)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(srcs[i]), str(srcs[1 - i]), str(out)],
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    from tokenops.pricing.catalog import load_packaged

    assert len(load_packaged(out)) in (10, 11)
    assert len([f for f in out.iterdir() if f.name.endswith(".json.gz")]) == 1  # no orphan, none missing


def test_refresh_prices_cli_reports_mistakes_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("{}")
    cases = [
        ([str(tmp_path / "empty.json")], "no model rows"),
        ([str(tmp_path / "missing.json")], "No such file"),
        ([str(_litellm_file(tmp_path / "ok.json", 2)), "--checked-date", "notadate"], "not an ISO date"),
    ]
    for args, msg in cases:
        r = subprocess.run([sys.executable, "-m", "tokenops", "refresh-prices", *args, "--out", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and msg in r.stderr and "refresh-prices: error" in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_usage_stores_python_ints() -> None:
    # numpy int64 counts were kept; their sums wrapped past 2**63 with only a RuntimeWarning.
    from tokenops.pricing import Usage

    u = Usage(input_text=np.int64(2**62), output_text=np.int64(2**62))
    assert type(u.input_text) is int and u.input_tokens + u.output_tokens == 2**63


@pytest.mark.parametrize("col", [np.array([2**63], dtype=np.uint64), np.array([2.0**64]),
                                 np.array([5, 2**70], dtype=object)])
def test_cost_batch_counts_beyond_int64_are_refused(col: np.ndarray) -> None:
    # uint64 and float columns were cast to int64 and wrapped (a negative or tiny count).
    with pytest.raises(ValueError, match="too large"):
        tokenops.cost_batch("gpt-4o", {"input_text": col})


def test_cost_batch_model_argument_is_checked() -> None:
    with pytest.raises(TypeError, match="model must be a model name"):
        tokenops.cost_batch(None, {"input_text": np.array([5])})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        tokenops.cost_batch(["gpt-4o\ud800"], {"input_text": np.array([5])})


def test_model_names_that_cannot_cross_to_the_core() -> None:
    cat = Catalog.default()
    for name, msg in (("gpt-4o\ud800", "lone surrogate"), ("gpt-4o\x00-mini", "NUL"), ("", "empty")):
        with pytest.raises(ValueError, match=msg):
            tokenops.cost(name, {"input_text": 1})
        with pytest.raises(ValueError, match=msg):
            cat.resolve(name)
        assert name not in cat
    with pytest.raises(ValueError, match="k must be >= 0"):
        cat.close_matches("gpt-4o", k=-1)
    with pytest.raises(TypeError, match="service_tier must be a str"):
        tokenops.cost("gpt-4o", {"input_text": 1}, service_tier=None)  # type: ignore[arg-type]
    assert len(cat.close_matches("gpt-4o", k=np.int64(2))) == 2


def test_litellm_token_limits_are_whole_counts() -> None:
    # A negative max_input_tokens was kept; 1e300 was cast to int64 (undefined behaviour).
    for value in (-5, 1e300, 12.5):
        cat = Catalog.from_litellm(json.dumps({"m": dict(_OK_ROW, max_input_tokens=value)}).encode())
        assert [(p.key, p.field) for p in cat.problems] == [("m", "max_input_tokens")]
        assert "whole token count" in cat.problems[0].message
    cat = Catalog.from_litellm(json.dumps({"m": dict(_OK_ROW, max_output_tokens=8192.0)}).encode())
    assert not cat.problems and cat.resolve("m").max_output == 8192


def test_simulate_takes_one_model_name() -> None:
    from tokenops import Step, Workflow, simulate

    wf = Workflow("w", (Step("a", user_input=10),))
    for model in (["gpt-4o", "gpt-4o-mini"], []):
        with pytest.raises(TypeError, match="one model name"):
            simulate(wf, model=model, n=1)  # type: ignore[arg-type]
    from tokenops.budget import price_on_models

    with pytest.raises(ValueError, match="at least one model"):
        price_on_models(wf, [])
    assert list(price_on_models(wf, "gpt-4o").index) == ["gpt-4o"]


def test_step_values_are_checked() -> None:
    from tokenops import Step, Workflow, simulate

    for retries, err, msg in ((2.5, TypeError, "max_retries must be an int"),
                              (10**20, ValueError, r"max_retries must be in \[0, 1000\]"),
                              (-1, ValueError, "max_retries must be in")):
        with pytest.raises(err, match=msg):
            simulate(Workflow("w", (Step("a", max_retries=retries),)), n=1)
    with pytest.raises(ValueError, match="user_input must be in"):
        simulate(Workflow("w", (Step("a", user_input=float("nan")),)), n=1)
    # numpy integers are numbers
    a = simulate(Workflow("w", (Step("a", calls=np.int64(3), user_input=np.int64(100)),)), n=1, deterministic=True)
    b = simulate(Workflow("w", (Step("a", calls=3, user_input=100),)), n=1, deterministic=True)
    assert a.cost_per_task == b.cost_per_task > 0


def test_growth_fit_needs_a_trace_it_can_fit() -> None:
    from tokenops import Step, Workflow, simulate

    short = simulate(Workflow("w", (Step("a", calls=3, user_input=100),)), n=1, deterministic=True)
    with pytest.raises(ValueError, match="at least 4 calls"):
        short.growth_fit()
    flat = simulate(Workflow("w", (Step("a", calls=6, output=10),), context="stateless"), n=1, deterministic=True)
    fit = flat.growth_fit()  # no input at all: nothing to fit, not a perfect fit
    assert np.isnan(fit["r2_linear"]) and np.isnan(fit["r2_quadratic"])


def test_compare_has_no_ratio_to_a_policy_that_completes_nothing() -> None:
    from tokenops import Step, Workflow, simulate
    from tokenops.budget import compare

    failing = simulate(Workflow("w", (Step("a", user_input=100, p_success=0.0),)), n=20)
    ok = simulate(Workflow("w", (Step("a", user_input=100),)), n=20)
    df = compare({"failing": failing, "ok": ok})
    assert np.isinf(df.loc["failing", "cost_per_completed_task"])
    assert df["vs_first"].isna().all()  # was 0.0x for "ok": infinitely cheaper than nothing
    with pytest.raises(ValueError, match="at least one"):
        compare({})


_P = ["what is 2+2", "prove fermat's last theorem", "hello", "write a poem", "sort a list"]
_Q = np.array([[1, 1], [1, 0], [1, 1], [1, 0.5], [0, 0]], float)


def test_fit_router_arguments_are_checked() -> None:
    from tokenops.router.train import fit_router

    def fit(family: str = "logistic", prompts: object = _P, quality: np.ndarray = _Q, **kw: object) -> object:
        kw.setdefault("strong", "s")
        kw.setdefault("weak", "w")
        return fit_router(family, prompts, quality, ["s", "w"], **kw)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="not one string"):
        fit(prompts="abcde")  # trained on five one-letter prompts
    with pytest.raises(TypeError, match=r"prompts\[1\] must be a str"):
        fit(prompts=["a", None, "c", "d", "e"])
    with pytest.raises(TypeError, match="unknown hyper-parameter 'aplha'.*did you mean 'alpha'"):
        fit("linear", aplha=2.0)  # was ignored: trained with alpha=1
    with pytest.raises(TypeError, match="unknown hyper-parameter 'k'"):
        fit("logistic", k=5)
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        fit("logistic", C=0)
    with pytest.raises(ValueError, match="must be a positive int"):
        fit("irt", iters=2.5)
    with pytest.raises(ValueError, match="strong='gpt' is not one of the models"):
        fit(strong="gpt")
    with pytest.raises(ValueError, match="different models"):
        fit(weak="s")
    inf = _Q.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"quality\[0, 0\] is inf"):
        fit(quality=inf)  # was read as "unknown"
    empty = _Q.copy()
    empty[:, 1] = np.nan
    for family in ("logistic", "irt", "mf"):
        with pytest.raises(ValueError, match="known quality for both"):
            fit(family, quality=empty)
        with pytest.raises(ValueError, match="have no known quality"):
            fit_router(family, _P, empty, ["s", "w"], task="nway")
    with pytest.warns(Warning):  # sklearn: not converged in 3 iterations
        one = fit("mlp", hidden=4, max_iter=3).load().score(["hi"])
        two = fit("mlp", hidden=(4,), max_iter=3).load().score(["hi"])
    np.testing.assert_array_equal(one, two)


def test_an_infinite_threshold_routes_everything_to_the_weak_model(router: Router) -> None:
    from tokenops.router.calibrate import threshold_for_quality

    thr, share, _ = threshold_for_quality([0.2, 0.9], [1.0, 1.0], [1.0, 1.0], 0.9)
    assert thr == np.inf and share == 0.0
    assert router.route("What is 2+2?", thr) == router.weak
    assert router.route_batch(["a", "b"], -np.inf) == [router.strong, router.strong]


def test_router_load_sha256_is_case_insensitive(tmp_path: Path) -> None:
    import hashlib

    digest = hashlib.sha256(DEFAULT_ROUTER_PATH.read_bytes()).hexdigest()
    assert Router.load(DEFAULT_ROUTER_PATH, sha256=digest.upper()).strong is not None
    with pytest.raises(ValueError, match="64 hex digits"):
        Router.load(DEFAULT_ROUTER_PATH, sha256="abc")
    with pytest.raises(ValueError, match="does not match"):
        Router.load(DEFAULT_ROUTER_PATH, sha256="0" * 64)


def _with_fewer_layers(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 2
    cfg["num_hidden_layers"] = 1
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def test_a_config_with_fewer_layers_than_the_weights_is_refused(tmp_path: Path) -> None:
    # The embedder ran the first layer only: different vectors, no error.
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    with pytest.raises(ValueError, match="num_hidden_layers = 1.*more layers"):
        tokenops.Embedder.load(_with_fewer_layers(fixtures / "embed" / "tiny_bert", tmp_path / "e"))
    from tokenops.compress import models

    with pytest.raises(ValueError, match="num_hidden_layers = 1.*more layers"):
        models.token_classifier(_with_fewer_layers(fixtures / "compress" / "tiny_token_classifier", tmp_path / "c"))


def test_chat_counts_treat_null_as_absent() -> None:
    base = tokenops.count_messages([{"role": "user", "content": "hi"}])
    # name: None added the per-name token; a null text part counted the word "None".
    assert tokenops.count_messages([{"role": "user", "content": "hi", "name": None}]).tokens == base.tokens
    parts = [{"type": "text", "text": "hi"}, {"type": "text", "text": None}]
    assert tokenops.count_messages([{"role": "user", "content": parts}]).tokens == base.tokens
    with pytest.raises(TypeError, match=r"messages\[1\]\['content'\] must be text or JSON"):
        tokenops.count_messages([{"role": "user", "content": "a"}, {"role": "user", "content": b"x"}])
    with pytest.raises(TypeError, match=r"messages\[0\]\['content'\] must be text or JSON"):
        tokenops.count_messages([{"role": "user", "content": {"a", "b"}}])
    with pytest.raises(TypeError, match=r"messages\[0\]\['content'\]\[0\].text must be a str"):
        tokenops.count_messages([{"role": "user", "content": [{"type": "text", "text": 5}]}])


def test_tool_enum_values_are_counted_as_json() -> None:
    enc = tokenops.get_encoding("o200k_base")

    def tools(enum: list[object]) -> list[dict[str, object]]:
        return [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
            "x": {"type": "string", "enum": enum}}}}}]

    a = tokenops.count_tools(tools(["a", None, True])).tools
    b = tokenops.count_tools(tools(["a", "b", "c"])).tools
    # null and true reach the model as JSON (not "None"/"True")
    assert a - b == enc.count("null") + enc.count("true") - 2 * enc.count("b")


def test_integer_arguments_accept_numpy_integers() -> None:
    enc = tokenops.get_encoding("cl100k_base")
    assert enc.truncate("hello world foo", np.int64(2)) == enc.truncate("hello world foo", 2)
    with pytest.raises(TypeError, match="encode_single_token takes str or bytes"):
        enc.encode_single_token(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        enc.encode_single_token("\ud800")
    assert enc.encode_single_token(bytearray(b"hello")) == enc.encode_single_token("hello")
    text = " ".join(["alpha beta gamma delta."] * 40)
    from tokenops.compress import Compressor

    a = Compressor(bm25_window=np.int64(8)).compress(text, question="gamma", target_tokens=40)
    b = Compressor(bm25_window=8).compress(text, question="gamma", target_tokens=40)
    assert a.text == b.text


# ------------------------------------------------------------------------- audit, fourth round
def _wf(**step: object) -> object:
    from tokenops import Step, Workflow

    return Workflow("w", (Step("a", **{"calls": 3, "user_input": 100, "output": 50, **step}),))


@pytest.mark.parametrize(("policy", "err", "msg"), [
    ({"batch": "no"}, TypeError, "Policy.batch must be a bool"),  # was truthy: batch prices
    ({"route_light_to": ["gpt-4o-mini"]}, TypeError, "route_light_to must be a model name"),  # ignored
    ({"route_light_to": 5}, TypeError, "route_light_to must be a model name"),
    ({"last_k": 2**40}, ValueError, r"Policy.last_k must be in \[1, 2147483647\]"),  # raw pybind cast error
    ({"iteration_cap": 2**40}, ValueError, r"iteration_cap must be an int in \[1, 2147483647\]"),
    ({"routing": [("a", "gpt-4o-mini")]}, TypeError, "Policy.routing must be a mapping"),  # AttributeError
    ({"routing": {"a": {"gpt-4o-mini": "x"}}}, TypeError, "weight for 'gpt-4o-mini' must be a number"),
])
def test_policy_types_are_checked(policy: dict, err: type, msg: str) -> None:
    from tokenops import Policy, simulate

    with pytest.raises(err, match=msg):
        simulate(_wf(light=True), n=2, policy=Policy(**policy))


def test_simulate_arguments_are_checked() -> None:
    from tokenops import Policy, Step, Workflow, simulate
    from tokenops.budget import policy_study, sim_model

    with pytest.raises(TypeError, match="policy must be a tokenops.budget.Policy"):
        simulate(_wf(), n=2, policy="cheap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 1e\+08\]"):
        simulate(_wf(), n=10**20)
    with pytest.raises(TypeError, match=r"workflow.steps\[0\] must be a tokenops.budget.Step"):
        simulate(Workflow("w", ("a",)), n=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p_success must be a number in"):
        simulate(_wf(p_success=None), n=2)
    with pytest.raises(TypeError, match="light must be a bool"):
        simulate(_wf(light="yes"), n=2)
    with pytest.raises(TypeError, match="policies must be a mapping"):
        policy_study(_wf(), "gpt-4o", [Policy()], n=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cache must be 'auto', 'off' or '1h'"):
        sim_model("gpt-4o", cache="bogus")  # was treated as "auto"
    light = simulate(_wf(light=True), n=2, policy=Policy(route_light_to="gpt-4o-mini"))
    assert light.models == ["gpt-4o", "gpt-4o-mini"]
    assert Step("a").light is False


def test_survival_answers_must_be_a_list() -> None:
    from tokenops.compress import evaluate as ev

    # "Paris" was matched character by character: it "survived" in a text about Lyon.
    with pytest.raises(TypeError, match="answers must be a list of str, not str"):
        ev.survives("Paris", "The capital of France is Lyon.")  # type: ignore[arg-type]
    it = ev.QAItem("The capital of France is Lyon. " * 5, "What is the capital?", "Paris", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="answers must be a list of str"):
        ev.run_survival([it], {"all": lambda it, b: it.context})
    assert not ev.survives(["Paris"], "The capital of France is Lyon.")


def test_survival_helpers_check_their_arguments(data_dir: Path) -> None:
    from tokenops.compress import evaluate as ev

    with pytest.raises(ValueError, match=r"positions must be ints in 1..n_docs \(20\), got 0"):
        ev.load_nq_positions(n_questions=1, positions=(0, 25), root=data_dir / "compression")
    it = ev.QAItem("Lyon is a city. Paris is the capital. " * 20, "What is the capital?", ["Paris"], 0)
    m = {"tokenops": lambda it, b: it.context, "truncation": lambda it, b: "", "overlap selector": lambda it, b: ""}
    for bad in (0, float("nan"), 0.5):
        with pytest.raises(ValueError, match="ratios must be finite numbers >= 1"):
            ev.run_survival([it], m, ratios=(bad,))
    empty = ev.run_survival([], m)
    assert ev.summarize(empty).empty  # was KeyError 'original'
    with pytest.raises(ValueError, match="no rows to compare"):
        ev.margin_table(empty)
    with pytest.raises(ValueError, match="no gold_position"):
        ev.position_table(ev.run_survival([it], m, ratios=(2,)))
    with pytest.raises(ValueError, match=r"method\(s\) \['nope'\] are not in the run"):
        ev.margin_table(ev.run_survival([it], m, ratios=(2,)), method="nope")


def test_pack_chat_keeps_tool_calls_with_their_replies() -> None:
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function", "function": {
        "name": "f", "arguments": json.dumps({"x": "a " * 40})}}]}
    msgs = [{"role": "user", "content": "hello there " * 30}, call,
            {"role": "tool", "tool_call_id": "1", "content": "result"}, {"role": "user", "content": "q"}]
    r = tokenops.pack_chat(msgs, 60, keep_last=1, summary=None)
    # The tool reply was kept without the call that asked for it (the API rejects that).
    assert [m["role"] for m in r.messages] == ["user"] and r.dropped == [0, 1, 2]
    unit_and_tail = tokenops.count_messages(msgs[1:]).tokens
    assert unit_and_tail < tokenops.count_messages(msgs).tokens
    r = tokenops.pack_chat(msgs, unit_and_tail, keep_last=1, summary=None)
    assert [m["role"] for m in r.messages] == ["assistant", "tool", "user"] and r.dropped == [0]
    r = tokenops.pack_chat(msgs, unit_and_tail, keep_last=2, summary=None)  # the tail reaches into the unit
    assert [m["role"] for m in r.messages] == ["assistant", "tool", "user"]
    with pytest.raises(ValueError, match=r"the last 2 messages \(with the tool calls they answer\) need"):
        tokenops.pack_chat(msgs, unit_and_tail - 1, keep_last=2, summary=None)


def test_pack_chat_empty_summary_adds_nothing() -> None:
    msgs = [{"role": "user", "content": "hello there " * 30}, {"role": "assistant", "content": "ok " * 30},
            {"role": "user", "content": "q"}]
    r = tokenops.pack_chat(msgs, 60, summary="")
    assert all(m["role"] != "system" for m in r.messages) and r.summary is None
    assert r.tokens == tokenops.pack_chat(msgs, 60, summary=None).tokens
    # "" sets no room aside for a summary it never makes (at 100 tokens it kept 6 turns, None 9)
    chat = [{"role": "system", "content": "You are helpful."}] + [
        {"role": ("user", "assistant")[i % 2], "content": f"message {i} about things"} for i in range(40)]
    for budget in (100, 200):
        assert tokenops.pack_chat(chat, budget, summary="") == tokenops.pack_chat(chat, budget, summary=None)


def test_pack_chat_extractive_summary_is_never_its_header_alone() -> None:
    # The summary of short turns came back as "Summary of the earlier conversation:\n" and no
    # more at every budget from 60 to 200: the labels put back on its lines went over its room,
    # the next target (lowered by the excess) was 1 token, which keeps nothing. 25-54 tokens of
    # the budget were left unused, and the header was sent as a message of its own.
    chat = [{"role": "system", "content": "You are helpful."}] + [
        {"role": ("user", "assistant")[i % 2], "content": f"message {i} about things"} for i in range(40)]
    for budget in (60, 100, 150, 200):
        for summary_tokens in (None, 40):
            r = tokenops.pack_chat(chat, budget, summary_tokens=summary_tokens)
            assert r.tokens <= budget
            assert r.summary is None or r.summary.split("\n", 1)[1].strip(), (budget, r.summary)
            assert all(not m["content"].startswith("Summary") or m["content"] == r.summary for m in r.messages)
    r = tokenops.pack_chat(chat, 100)
    assert r.summary and r.summary.split("\n", 1)[1].startswith(("user: ", "assistant: "))


def test_compress_options_are_checked_and_numpy_numbers_accepted() -> None:
    text = "hello world how are you. The cat sat on the mat. " * 4
    # 1e40 overflowed float32: every unit scored inf.
    with pytest.raises(ValueError, match=r"position_weight must be a finite number in \[0, 1e\+30\]"):
        tokenops.compress(text, question="cat", position_weight=1e40)
    with pytest.raises(ValueError, match="info_weight must be a finite number"):
        tokenops.Compressor(info_weight=1e40)
    base = tokenops.compress(text, rate=0.5)
    assert tokenops.compress(text, rate=np.float32(0.5)).text == base.text
    assert tokenops.compress(text, rate=0.5, chunk_slack=np.float32(2.0)).text == \
        tokenops.compress(text, rate=0.5, chunk_slack=2.0).text
    assert tokenops.compress(text, rate=0.5, force_tokens=None).text == tokenops.compress(text, rate=0.5, force_tokens=[]).text
    assert tokenops.compress(text, rate=0.5, protect=None).text == base.text
    with pytest.raises(TypeError, match="chunk_slack must be a number"):
        tokenops.compress(text, chunk_slack="2")  # type: ignore[arg-type]
    c = tokenops.Compressor(bm25_window=2**40)  # was a raw pybind error; longer than any text
    assert c.compress(text, question="cat", rate=0.5).text


def _nway_router() -> object:
    from tokenops.router.core import FeatureConfig
    from tokenops.router.train import fit_router

    rng = np.random.default_rng(0)
    ps = [f"prompt {i}" for i in range(40)]
    cfg = FeatureConfig(hash_bits=0, dense=False, embedder="t", embedding_dim=4)
    return fit_router("logistic", ps, (rng.random((40, 3)) > .5) * 1.0, ["a", "b", "c"], task="nway",
                      costs=[1.0, 2.0, 3.0], features=cfg, embeddings=rng.random((40, 4))).load()


def test_route_nway_and_embeddings_are_numbers() -> None:
    r = _nway_router()
    e = np.random.default_rng(1).random((1, 4))
    with pytest.raises(TypeError, match="lam must be a number"):
        r.route_nway(["x"], "1.0", embeddings=e)
    with pytest.raises(TypeError, match="costs must be a sequence of numbers"):
        r.route_nway(["x"], 1.0, costs="123", embeddings=e)  # read as [1, 2, 3]
    with pytest.raises(TypeError, match=r"costs\[1\] must be a number"):
        r.route_nway(["x"], 1.0, costs=[1, "2", 3], embeddings=e)
    for bad in (np.array([[1 + 5j] * 4]), np.array([["0.5"] * 4]), np.ones((1, 4), bool)):
        with pytest.raises(TypeError, match="embeddings must be a numeric"):
            r.predict_quality(["x"], embeddings=bad)
    assert r.route_nway(["x"], np.float32(1.0), costs=np.array([1.0, 2.0, 3.0]), embeddings=e)[0] in ("a", "b", "c")


def test_embed_cache_recomputes_bad_entries(tmp_path: Path) -> None:
    from tokenops.router.embedding import cache_key, embed_cached

    emb = tokenops.Embedder.load(Path(__file__).resolve().parents[1] / "fixtures" / "embed" / "tiny_bert")
    good = emb.embed(["hi 3"])
    np.save(tmp_path / f"{cache_key(['hi 3'], emb)}.npy", np.ones((1, emb.dim + 1), np.float32))  # wrong width
    np.testing.assert_allclose(embed_cached(["hi 3"], emb, cache_dir=tmp_path, fixtures=[]), good, atol=1e-6)
    (tmp_path / f"{cache_key(['hi 4'], emb)}.npy").write_bytes(b"\x93NUMPY garbage")  # unreadable
    assert embed_cached(["hi 4"], emb, cache_dir=tmp_path, fixtures=[]).shape == (1, emb.dim)
    nan = np.full((1, emb.dim), np.nan, np.float32)
    np.save(tmp_path / f"{cache_key(['hi 5'], emb)}.npy", nan)
    assert np.isfinite(embed_cached(["hi 5"], emb, cache_dir=tmp_path, fixtures=[])).all()


def test_router_report_helpers_check_their_arguments(data_dir: Path) -> None:
    from tokenops.router import data as d
    from tokenops.router import evaluation as ev
    from tokenops.router import nway

    b = d.load_routellm("gsm8k", data_dir)
    s = np.random.default_rng(0).random(len(b))
    with pytest.raises(ValueError, match="never reaches 5 x the strong model's quality"):
        ev.routellm_report(b, {"x": s}).cost_saving_at("x", fraction_of_strong=5)  # was NaN
    with pytest.raises(ValueError, match="num_results must be an int >= 1"):
        ev.routellm_report(b, {"x": s}, num_results=0)  # ZeroDivisionError
    with pytest.raises(ValueError, match="n_boot must be an int >= 1"):
        ev.bootstrap_apgr(b, s, n_boot=0)  # IndexError
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\)"):
        ev.bootstrap_apgr(b, s, n_boot=5, level=1.5)
    t = d.load_routerbench("test", data_dir=data_dir)
    with pytest.raises(ValueError, match="unknown task 'arc'; this split has arc-challenge"):
        ev.routerbench_report("arc", t, {})
    with pytest.raises(ValueError, match=r"predicted\['x'\] has shape \(5, 11\)"):
        ev.routerbench_report("mbpp", t, {"x": np.zeros((5, len(t.models)))})  # IndexError
    with pytest.raises(ValueError, match="n_boot must be an int >= 1"):
        nway.bootstrap_aiq_gain("mbpp", t, np.zeros((len(t), len(t.models))), n_boot=0)
    # one name is one task / source, not its characters
    assert set(d.load_routerbench("test", tasks="mbpp", data_dir=data_dir).tasks) == {"mbpp"}
    assert list(d.pair_rows("gsm8k", data_dir)[2]) == ["routellm/gsm8k"]
    with pytest.raises(KeyError, match="no RouterBench token cost for model"):
        d.routerbench_token_costs(["gpt-4o"])


def _cli(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


def test_router_evaluate_cli_reports_bad_score_files(tmp_path: Path, data_dir: Path) -> None:
    import pandas as pd
    from tokenops.router.data import load_routellm

    b = load_routellm("gsm8k", data_dir)
    s = np.random.default_rng(0).random(len(b))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pd.DataFrame({"prompt": b.prompts + b.prompts, "score": [*s, *(1 - s)]}).to_csv(tmp_path / "dup.csv", index=False)
    pd.DataFrame({"prompt": b.prompts, "score": s}).to_csv(tmp_path / "a" / "x.csv", index=False)
    pd.DataFrame({"prompt": b.prompts, "score": 1 - s}).to_csv(tmp_path / "b" / "x.csv", index=False)
    (tmp_path / "empty.csv").write_text("")
    pd.DataFrame({"prompt": b.prompts, "score": ["abc", *s[1:]]}).to_csv(tmp_path / "str.csv", index=False)
    (tmp_path / "latin1.csv").write_bytes(b"prompt,score\ncaf\xe9,0.5\n")
    cases = [
        ([str(tmp_path / "latin1.csv")], f"{tmp_path / 'latin1.csv'}: not UTF-8 text"),
        ([str(tmp_path / "dup.csv")], "has two different scores"),  # the last one won
        ([str(tmp_path / "a" / "x.csv"), str(tmp_path / "b" / "x.csv")], "both named 'x'"),  # one row shown
        ([str(tmp_path / "missing.csv")], "No such file"),
        ([str(tmp_path / "empty.csv")], "the file is empty"),
        ([str(tmp_path / "str.csv")], "row 2: score 'abc' is not a finite number"),
    ]
    for files, msg in cases:
        r = _cli("tokenops.router.evaluate", "--benchmark", "gsm8k", "--data-dir", str(data_dir), "--scores", *files)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_router_crossfit_cli_checks_arguments_before_training(tmp_path: Path) -> None:
    r = _cli("tokenops.router.crossfit", "--benchmark", "mt-bench", "--router", "logistic", "--folds", "1",
             "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "--folds must be >= 2" in r.stderr
    r = _cli("tokenops.router.crossfit", "--benchmark", "mt-bench", "--router", "logistic",
             "--out", str(tmp_path / "nowhere" / "s.csv"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_catalog_checked_date_is_a_date() -> None:
    with pytest.raises(ValueError, match="checked_date 'yesterday' is not an ISO date"):
        Catalog.from_litellm(b"{}", checked_date="yesterday")
    with pytest.raises(TypeError, match="checked_date must be an ISO date string"):
        Catalog.from_litellm(b"{}", checked_date=None)  # type: ignore[arg-type]
    assert Catalog.from_litellm(b"{}", checked_date="2026-01-02").provenance["checked_date"] == "2026-01-02"


def test_tokenizer_loader_and_decode_arguments(tmp_path: Path) -> None:
    enc = tokenops.get_encoding("cl100k_base")
    p = tmp_path / "v.tiktoken"
    p.write_bytes(b"YQ== 0\nYg== 1\n")
    with pytest.raises(TypeError, match="pretokenizer must be a str"):
        tokenops.Encoding.from_tiktoken_file(p, pretokenizer=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be a str"):
        tokenops.Encoding.from_tiktoken_file(p, name=5)  # type: ignore[arg-type]
    # numpy ints inside a list decode, as in tiktoken
    ids = enc.encode("Hello world")
    assert enc.decode(list(np.array(ids))) == "Hello world"
    assert enc.decode_batch([list(np.array(ids, dtype=np.uint32))]) == ["Hello world"]
    with pytest.raises(TypeError, match=r"must be int, not float"):
        enc.decode([9906.0])  # type: ignore[list-item]
    assert tokenops.encoding_name_for_model("GPT-4o") == tokenops.encoding_name_for_model("gpt-4o")


def test_similarity_takes_arrays_of_text() -> None:
    import pandas as pd

    emb = tokenops.Embedder.load(Path(__file__).resolve().parents[1] / "fixtures" / "embed" / "tiny_bert")
    want = emb.similarity(["hello", "world"], "hello")
    np.testing.assert_allclose(emb.similarity(np.array(["hello", "world"]), "hello"), want, atol=1e-6)
    np.testing.assert_allclose(emb.similarity(pd.Series(["hello", "world"]), "hello"), want, atol=1e-6)
    with pytest.raises(TypeError, match="bytes; decode it"):
        emb.similarity(b"hello", "hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="array of texts must be 1-D"):
        emb.similarity(np.array([["1"] * emb.dim]), "hi")  # digit strings became a vector


# ------------------------------------------------------------------------- loader fuzzing
_DEEP = "[" * 100_000 + "1" + "]" * 100_000  # 200 KB; dump() of it in an error message overflowed the stack
_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _safetensors_with_header(path: Path, edit: object) -> bytes:
    data = path.read_bytes()
    hlen = struct.unpack("<Q", data[:8])[0]
    text = edit(data[8:8 + hlen].decode())  # type: ignore[operator]
    raw = text.encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + data[8 + hlen:]


def _deep_cases(tmp: Path) -> list[tuple[str, str]]:
    """(code that loads a file whose bad field is nested 100,000 deep, expected message): every
    loader checks the nesting before parsing (io::check_json_depth)."""
    cases = []
    cfg_router = tmp / "deep.router"
    good = DEFAULT_ROUTER_PATH.read_bytes()
    hlen = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + hlen])
    cfg = json.loads(header["__metadata__"]["config"])
    cfg["knn_k"] = "__DEEP__"
    header["__metadata__"]["config"] = json.dumps(cfg).replace('"__DEEP__"', _DEEP)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    cfg_router.write_bytes(struct.pack("<Q", len(raw)) + raw + good[8 + hlen:])
    cases.append((f"tokenops.Router.load({str(cfg_router)!r})", "nested deeper than 256"))
    hf = tmp / "deep_tokenizer.json"
    hf.write_text('{"model":{"type":"BPE","vocab":{"a":' + _DEEP + '},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}')
    cases.append((f"tokenops.Encoding.from_hf_tokenizer_json({str(hf)!r})", "nested deeper than 256"))
    import shutil

    for name, edit, msg in (
        ("config", lambda d: (d / "config.json").write_text(
            (d / "config.json").read_text().replace('"hidden_size": 32', '"hidden_size": ' + _DEEP)), "nested deeper than 256"),
        ("shape", lambda d: (d / "model.safetensors").write_bytes(_safetensors_with_header(
            d / "model.safetensors", lambda h: h.replace('"shape":[', '"shape":[' + _DEEP + ",", 1))), "nested deeper than 256"),
    ):
        d = tmp / f"emb_{name}"
        shutil.copytree(_FIXTURES / "embed" / "tiny_bert", d)
        assert '"hidden_size": 32' in (d / "config.json").read_text()
        edit(d)
        cases.append((f"tokenops.Embedder.load({str(d)!r})", msg))
    return cases


def test_deeply_nested_values_in_loaded_files_are_named_not_a_crash(tmp_path: Path) -> None:
    for code, msg in _deep_cases(tmp_path):
        r = _run_isolated(f"""
            import tokenops
            try:
                {code}
                print("loaded")
            except ValueError as e:
                print("ValueError:", str(e)[:300])
            """)
        assert r.returncode == 0, (code, r.returncode, r.stderr[-500:])  # was SIGSEGV (-11)
        assert r.stdout.startswith("ValueError:") and msg in r.stdout and "[[[[" not in r.stdout, (code, r.stdout)


def test_numbers_beyond_double_are_value_errors_naming_the_file(tmp_path: Path) -> None:
    # nlohmann's out_of_range.406 escaped as a bare RuntimeError without the file name.
    hf = tmp_path / "t.json"
    hf.write_text('{"model":{"type":"BPE","vocab":{"a":1e400},"merges":[]}}')
    with pytest.raises(ValueError, match=r"t\.json: not valid JSON: .*number overflow"):
        tokenops.Encoding.from_hf_tokenizer_json(hf)
    with pytest.raises(ValueError, match="prices.json: not valid JSON: .*number overflow"):
        Catalog.from_litellm(b'{"m": {"input_cost_per_token": 1e400}}', name="prices.json")
    g = tmp_path / "data.json"
    g.write_text('[{"id": "p", "models": [{"id": "m", "prices": {"input_mtok": -1e400}}]}]')
    with pytest.raises(ValueError, match=r"data\.json: not valid JSON"):
        Catalog.from_genai_prices(g)


def test_router_metadata_and_dtype_must_be_strings() -> None:
    good = DEFAULT_ROUTER_PATH.read_bytes()
    for edit, msg in ((lambda h: h.replace('"format":"tokenops-router"', '"format":1'), r"__metadata__.format must be a string, got 1"),
                      (lambda h: h.replace('"format_version":"', '"format_version":["', 1).replace('","config"', '"],"config"', 1)
                       if '"format_version":"' in h else h, "format_version must be a string"),
                      (lambda h: h.replace('"dtype":"F32"', '"dtype":5', 1), r"has dtype 5; router files store \"F32\""),
                      # a fractional shape was truncated (2.7 -> 2)
                      (lambda h: re.sub(r'"shape":\[(\d+)', lambda m: f'"shape":[{m.group(1)}.7', h, count=1),
                       r"shape entries must be non-negative integers, got \d+\.7")):
        data = _safetensors_with_header(DEFAULT_ROUTER_PATH, edit)
        assert data != good
        with pytest.raises(ValueError, match=msg):
            Router.from_bytes(data, "r.router")


def test_genai_price_entries_of_the_wrong_shape_are_named_rows(tmp_path: Path) -> None:
    g = tmp_path / "data.json"
    g.write_text(json.dumps([{"id": "p", "models": [
        {"id": "a", "prices": [5]},  # was a RuntimeError (json type_error.305)
        {"id": "b"},  # no prices: const operator[] on a missing key (undefined behaviour)
        {"id": "c", "context_window": 1e300, "prices": {"input_mtok": 1, "output_mtok": 2}},  # UB cast
        {"id": "d", "prices": {"input_mtok": 1, "output_mtok": 2}},
    ]}]))
    cat = Catalog.from_genai_prices(g)
    probs = {p.key: p.message for p in cat.problems}
    assert "must be an object" in probs["p/a"] and "without prices" in probs["p/b"]
    assert "whole token count" in probs["p/c"]
    assert "p/d" in cat and len(cat) == 1


def test_compress_json_with_many_small_strings_is_not_quadratic() -> None:
    # 30,000 one-letter strings (120 KB): the budget search stepped down one candidate at a time,
    # re-counting the whole text each step: 106 s. A subprocess guards against a hang.
    text = "[" + ",".join(['"x"'] * 30_000) + ",1]"
    r = _run_isolated(f"""
        import json, tokenops
        text = {text!r}
        res = tokenops.compress(text, structure="json", rate=0.5)
        json.loads(res.text)
        print(res.compressed_tokens <= res.target_tokens + 5, res.original_tokens)
        """, timeout=90)
    assert r.returncode == 0 and r.stdout.split()[0] == "True", r.stderr[-500:]


def test_pack_chat_on_a_long_history_keeps_the_most_recent_turns() -> None:
    # Counting the whole kept list for every candidate message made this quadratic (43 s for
    # 8,000 messages); the per-message counts are now summed. Same selection rule as before.
    msgs = [{"role": "system", "content": "be brief"}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message number {i} about things"}
        for i in range(3000)]
    total = tokenops.count_messages(msgs).tokens
    r = tokenops.pack_chat(msgs, total // 2, summary=None)
    assert r.tokens == tokenops.count_messages(r.messages).tokens <= total // 2
    kept = [i for i in range(len(msgs)) if i not in set(r.dropped)]
    assert kept[0] == 0 and kept[1:] == list(range(kept[1], len(msgs)))  # system + a recent suffix
    # the next older message would not have fit (summary=None reserves nothing)
    assert r.tokens + tokenops.count_messages([msgs[kept[1] - 1]]).per_message[0] > total // 2
    s = tokenops.pack_chat(msgs, total // 2)
    assert s.tokens <= total // 2 and s.summary and s.messages[1]["content"] == s.summary


@pytest.mark.parametrize("edit", [
    lambda j: j["post_processor"]["single"][0]["SpecialToken"].pop("id"),  # read through a missing key (UB)
    lambda j: j["post_processor"].pop("single"),
    lambda j: j["post_processor"].update({"type": "BertProcessing", "cls": [], "sep": []}),  # element 0 of []
    lambda j: j.update({"normalizer": 5}),  # .value() on a number: a json type_error RuntimeError
    lambda j: j.update({"pre_tokenizer": [1]}),
])
def test_embedder_tokenizer_json_of_the_wrong_shape_is_a_value_error(tmp_path: Path, edit: object) -> None:
    import shutil

    d = tmp_path / "m"
    shutil.copytree(_FIXTURES / "embed" / "tiny_bert", d)
    j = json.loads((d / "tokenizer.json").read_text())
    edit(j)  # type: ignore[operator]
    (d / "tokenizer.json").write_text(json.dumps(j))
    r = _run_isolated(f"""
        import tokenops
        try:
            tokenops.Embedder.load({str(d)!r})
            print("loaded")
        except ValueError as e:
            print("ValueError:", str(e)[:200])
        """)
    assert r.returncode == 0 and r.stdout.startswith("ValueError:") and "tokenizer.json" in r.stdout, (r.stdout, r.stderr[-300:])


def test_refresh_prices_cli_refuses_ambiguous_or_odd_arguments(tmp_path: Path) -> None:
    ok = str(_litellm_file(tmp_path / "ok.json", 2))
    cases = [
        ([ok, "--from-snapshot"], "exactly one source"),          # the path was ignored
        (["--from-snapshot", "--from-installed-litellm"], "exactly one source"),
        ([ok, "--out", " "], "--out is empty"),                    # wrote to the current folder
        ([ok, "--checked-date", "2099-01-01"], "in the future"),
        ([ok, "--checked-date", "2026-13-01"], "not an ISO date"),
        ([], "give a LiteLLM JSON path"),
    ]
    for args, msg in cases:
        full = [sys.executable, "-m", "tokenops", "refresh-prices", *args]
        if "--out" not in args:
            full += ["--out", str(tmp_path / "o")]
        r = subprocess.run(full, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob("*.gz"))


def test_demo_into_a_closed_pipe_is_no_error() -> None:
    code = ("import subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-m', 'tokenops', 'demo'], stdout=subprocess.PIPE, "
            "stderr=subprocess.PIPE)\n"
            "p.stdout.readline(); p.stdout.close(); err = p.stderr.read().decode(); p.wait()\n"
            "print(p.returncode, 'error' in err)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.split() == ["0", "False"], r.stdout + r.stderr


def test_router_clis_report_output_and_plot_mistakes_before_working(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", *a], capture_output=True, text=True,  # noqa: E731
                                    timeout=300, cwd=tmp_path)
    r = run("tokenops.router.crossfit", "--benchmark", "mt-bench", "--router", "logistic", "--out", str(tmp_path))
    assert r.returncode == 2 and "is a folder" in r.stderr
    r = run("tokenops.router.crossfit", "--benchmark", "mt-bench", "--router", "logistic", "--folds", "1000",
            "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "cannot fill 1000 folds" in r.stderr and "Traceback" not in r.stderr
    r = run("tokenops.router.crossfit", "--benchmark", "mt-bench", "--router", "logistic",
            "--out", str(tmp_path / "lr=0.1.csv"))
    assert r.returncode == 0, r.stderr
    import pandas as pd

    df = pd.read_csv(tmp_path / "lr=0.1.csv")
    df.loc[len(df)] = ["NA", 0.5]  # a prompt spelled like a missing value
    df.to_csv(tmp_path / "lr=0.1.csv", index=False)
    for plot, msg in ((tmp_path / "nodir" / "a.png", "does not exist"), (tmp_path / "a.txt", "image format")):
        r = run("tokenops.router.evaluate", "--benchmark", "mt-bench", "--scores", str(tmp_path / "lr=0.1.csv"),
                "--plot", str(plot))
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr
    r = run("tokenops.router.evaluate", "--benchmark", "mt-bench", "--scores", str(tmp_path / "lr=0.1.csv"))
    assert r.returncode == 0 and "lr=0.1" in r.stdout, r.stderr


def test_atomic_writes_get_the_mode_open_would_give(tmp_path: Path) -> None:
    # mkstemp's 0600 made a catalogue refreshed by one user unreadable to the others
    import os

    from tokenops._paths import _umask, write_atomic

    old = os.umask(0o022)
    try:
        assert _umask() == 0o022
        write_atomic(tmp_path / "a.json", b"{}")
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        write_atomic(tmp_path / "a.json", b"[]")
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
        assert (tmp_path / "a.json").read_bytes() == b"[]"
    finally:
        os.umask(old)


def test_a_dict_is_not_read_as_its_keys_where_a_list_of_texts_is_expected() -> None:
    from tokenops.router import Router

    enc = tokenops.get_encoding("cl100k_base")
    for call in (enc.count_batch, enc.encode_batch, enc.encode_ordinary_batch):
        with pytest.raises(TypeError, match="must be a list of str, not a dict"):
            call({"a": "x"})
    with pytest.raises(TypeError, match="prompts must be a list of str, not a dict"):
        Router.default().score({"a": "b"})
    with pytest.raises(TypeError, match="texts must be a list of str, not a dict"):
        tokenops.Embedder.load().embed({"a": 1})


def test_compress_batch_does_not_read_a_dict_as_its_keys() -> None:
    # compress_batch({"a": 1}) compressed the key "a" as the one text; a dict of questions gave
    # its keys as the questions
    with pytest.raises(TypeError, match="texts must be a list of str, not a dict"):
        tokenops.compress_batch({"alpha beta gamma": 1})
    with pytest.raises(TypeError, match="questions must be a list of str, not a dict"):
        tokenops.compress_batch(["alpha beta gamma"], {"alpha?": "beta?"})


def test_constructing_router_or_embedder_directly_points_to_the_factories() -> None:
    from tokenops.router import Router

    with pytest.raises(TypeError, match=r"Router\.default\(\), Router\.load\(path\)"):
        Router()
    with pytest.raises(TypeError, match=r"Embedder\.load\(\)"):
        tokenops.Embedder()


def test_gzip_files_are_read_with_a_size_cap_and_errors_name_the_file(tmp_path: Path) -> None:
    import gzip
    import zlib

    from tokenops._paths import gunzip_limited

    bomb = tmp_path / "b.json.gz"
    with gzip.open(bomb, "wb") as f:  # a few KB on disk, 300 MiB inflated
        f.write(b'{"m":{"litellm_provider":"x"}')
        for _ in range(300):
            f.write(b" " * (1 << 20))
        f.write(b"}")
    with pytest.raises(ValueError, match=r"b\.json\.gz: decompresses to more than 256 MiB"):
        Catalog.from_litellm(bomb)
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"bad\.json\.gz: not valid gzip data"):
        Catalog.from_litellm(bad)
    good = gzip.compress(json.dumps({"m0": dict(_OK_ROW)}).encode())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(good[:-12])
    with pytest.raises(ValueError, match=r"cut\.json\.gz: the gzip data is truncated"):
        Catalog.from_litellm(cut)
    whole = tmp_path / "two.json.gz"  # two members, as gzip.decompress reads them
    half = json.dumps({"m0": dict(_OK_ROW)}).encode()
    whole.write_bytes(gzip.compress(half[:10]) + gzip.compress(half[10:]))
    assert len(Catalog.from_litellm(whole)) == 1
    assert gunzip_limited(zlib.compress(b"x", wbits=31), "w", limit=1) == b"x"
    with pytest.raises(ValueError, match="more than"):
        gunzip_limited(gzip.compress(b"xx"), "w", limit=1)


def test_packaged_catalogue_errors_name_the_provenance_file_and_cleanup_spares_it(tmp_path: Path) -> None:
    from tokenops.pricing import catalog as c

    out = tmp_path / "cat"
    c.refresh_default(_litellm_file(tmp_path / "full.json", 10), out, checked_date="2026-01-02")
    prov_path = out / c.PROVENANCE_FILE
    good = prov_path.read_text()
    for text, msg in (("[]", "must hold a JSON object"), ("{not json", "is not valid JSON"),
                      (good.replace("2026-01-02", "2026-13-02"), "checked_date")):
        prov_path.write_text(text)
        with pytest.raises(ValueError, match=msg) as info:
            c.load_packaged(out)
        assert str(prov_path) in str(info.value)
    # a provenance that names provenance.json (or the lock file) as its data file: the next
    # refresh deleted the provenance it had just written, and the catalogue was gone
    for name in (c.PROVENANCE_FILE, ".refresh-lock"):
        prov = json.loads(good)
        prov["file"] = name
        prov_path.write_text(json.dumps(prov))
        c.refresh_default(tmp_path / "full.json", out, checked_date="2026-01-02", allow_shrink=True)
        assert len(c.load_packaged(out)) == 10 and (out / ".refresh-lock").exists()


def test_refresh_refuses_to_replace_a_catalogue_whose_data_file_is_gone(tmp_path: Path) -> None:
    # a catalogue whose data file was lost (or a folder holding someone's own provenance.json)
    # counted as "no catalogue yet", so a 3-model source replaced it without --allow-shrink
    from tokenops.pricing import catalog as c

    out = tmp_path / "cat"
    prov = c.refresh_default(_litellm_file(tmp_path / "full.json", 10), out, checked_date="2026-01-02")
    (out / prov["file"]).unlink()
    with pytest.raises(ValueError, match="cannot be read"):
        c.refresh_default(_litellm_file(tmp_path / "small.json", 3), out)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / c.PROVENANCE_FILE).write_text('{"my": "notes"}')
    with pytest.raises(ValueError, match="cannot be read"):
        c.refresh_default(tmp_path / "small.json", mine)
    assert (mine / c.PROVENANCE_FILE).read_text() == '{"my": "notes"}'
    assert c.refresh_default(tmp_path / "small.json", out, allow_shrink=True)["models"] == 3


def test_demo_with_no_encoding_is_a_one_line_error() -> None:
    for arg in ("", ","):
        r = subprocess.run([sys.executable, "-m", "tokenops", "demo", "--encodings", arg],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "names no encoding" in r.stderr, r.stderr


def test_router_report_table_has_the_optimal_row(data_dir: Path) -> None:
    from tokenops.router import data as d
    from tokenops.router import evaluation as ev

    b = d.load_routellm("gsm8k", data_dir)
    gain = b.q_strong - b.q_weak
    rep = ev.routellm_report(b, {"gain": gain + 1e-9 * np.arange(len(b)), "random": np.random.default_rng(0).random(len(b))})
    t = rep.table().set_index("method")
    opt = t.loc["optimal (reference)"]
    # the optimal curve bounds every router: a router scoring by the true gain comes close to it
    assert opt["APGR (trapezoid, code)"] >= t.loc["gain", "APGR (trapezoid, code)"] - 1e-9
    assert opt["APGR (trapezoid, code)"] > t.loc["random", "APGR (trapezoid, code)"] + 0.2
    assert np.isfinite(opt[["CPT(20%)", "CPT(50%)", "CPT(80%)"]].astype(float)).all()


def test_count_messages_names_content_nested_too_deeply() -> None:
    # 100,000 nested lists raised a bare RecursionError from json.dumps
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValueError, match=r"messages\[0\]\['content'\].* nests too deeply"):
        tokenops.count_messages([{"role": "user", "content": deep}])
