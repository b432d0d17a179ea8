"""Model-file loaders (embedder, token classifier, router files, bigram models): each test
reproduces a crash, a silently accepted wrong file or an error that did not name the file, and
asserts a ValueError naming the file and the problem. Probes that could crash the interpreter
run in a subprocess."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import tokenops
from tokenops import Router
from tokenops.compress import Compressor, models
from tokenops.router.core import DEFAULT_ROUTER_PATH

REPO = Path(__file__).resolve().parents[2]
TINY_BERT = REPO / "tests" / "fixtures" / "embed" / "tiny_bert"
CLASSIFIER = REPO / "tests" / "fixtures" / "compress" / "tiny_token_classifier"
CLASSIFIER_REF = CLASSIFIER.parent / "tiny_token_classifier_reference.npz"


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_json(p: Path, edit: Callable[[Any], None]) -> None:
    j = json.loads(p.read_text(encoding="utf-8"))
    edit(j)
    p.write_text(json.dumps(j), encoding="utf-8")


# ------------------------------------------------------------------------- embedder
def test_deeply_nested_pooling_mode_is_a_value_error_not_a_crash(tmp_path: Path) -> None:
    # 150k levels in 1_Pooling/config.json: the parser copied the subtree level by level and
    # overflowed the stack (segfault). Run in a subprocess so that a crash fails only this test.
    model = _copy(TINY_BERT, tmp_path / "model")
    depth = 150_000
    (model / "1_Pooling" / "config.json").write_text(
        '{"pooling_mode": ' + "[" * depth + '"mean"' + "]" * depth + "}", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import tokenops
            try:
                tokenops.Embedder.load({str(model)!r})
            except ValueError as e:
                print("ValueError:", e)
            """)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    assert r.returncode == 0, f"the interpreter died (return code {r.returncode}): {r.stderr[-2000:]}"
    assert "ValueError:" in r.stdout
    assert str(model / "1_Pooling" / "config.json") in r.stdout
    assert "nested deeper than 256" in r.stdout


def test_embedder_refuses_an_activation_it_does_not_run(tmp_path: Path) -> None:
    model = _copy(TINY_BERT, tmp_path / "model")
    _edit_json(model / "config.json", lambda j: j.update(hidden_act="gelu_new"))
    with pytest.raises(ValueError, match=r"config\.json: hidden_act \"gelu_new\" is not supported by the Embedder"):
        tokenops.Embedder.load(model)


def test_embedder_layer_count_mismatch_names_the_file(tmp_path: Path) -> None:
    model = _copy(TINY_BERT, tmp_path / "model")
    _edit_json(model / "config.json", lambda j: j.update(num_hidden_layers=1))
    with pytest.raises(ValueError, match="num_hidden_layers = 1 but the weights hold more layers") as info:
        tokenops.Embedder.load(model)
    assert str(model / "model.safetensors") in str(info.value)


# ------------------------------------------------------------------------- token classifier
def _read_safetensors(p: Path) -> dict[str, np.ndarray]:
    raw = p.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32"
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(t["shape"]).astype(np.float64)
    return out


def _gelu_erf(x: np.ndarray) -> np.ndarray:  # transformers ACT2FN["gelu"]
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:  # ACT2FN["gelu_new"] (NewGELUActivation), ["gelu_pytorch_tanh"]
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * np.power(x, 3.0))))


def _reference_logits(w: dict[str, np.ndarray], cfg: dict[str, Any], ids: np.ndarray,
                      act: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """BertForTokenClassification's forward pass in float64 numpy (the test oracle)."""
    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]

    def ln(x: np.ndarray, g: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[g + ".weight"] + w[g + ".bias"]

    def lin(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    t = len(ids)
    x = (w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][:t]
         + w["bert.embeddings.token_type_embeddings.weight"][0])
    x = ln(x, "bert.embeddings.LayerNorm")
    for layer in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{layer}."
        q, k, v = (lin(x, p + "attention.self." + n) for n in ("query", "key", "value"))
        d = q.shape[1] // heads
        ctx = np.empty_like(q)
        for h in range(heads):
            s = q[:, h * d:(h + 1) * d] @ k[:, h * d:(h + 1) * d].T / math.sqrt(d)
            s = np.exp(s - s.max(1, keepdims=True))
            ctx[:, h * d:(h + 1) * d] = (s / s.sum(1, keepdims=True)) @ v[:, h * d:(h + 1) * d]
        x = ln(x + lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        x = ln(x + lin(act(lin(x, p + "intermediate.dense")), p + "output.dense"), p + "output.LayerNorm")
    return lin(x, "classifier")


def _write_safetensors(p: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, Any] = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def test_token_classifier_runs_the_tanh_gelu_it_advertises(tmp_path: Path) -> None:
    # parse_bert_config refused every hidden_act but "gelu", so "gelu_new" and
    # "gelu_pytorch_tanh" never loaded. transformers is not a test dependency: the oracle is a
    # numpy forward pass, itself checked against transformers' logits stored with the fixture.
    cfg = json.loads((CLASSIFIER / "config.json").read_text())
    weights = _read_safetensors(CLASSIFIER / "model.safetensors")
    ref = np.load(CLASSIFIER_REF)
    n = len([k for k in ref.files if k.startswith("ids_")])
    assert n >= 3
    for i in range(n):
        exact = _reference_logits(weights, cfg, ref[f"ids_{i}"], _gelu_erf)
        np.testing.assert_allclose(exact, ref[f"logits_{i}"], atol=1e-4)  # the oracle is BERT
    # The fixture's activations sit where the two GELUs agree to ~1e-5 in the logits. Moved to
    # x ~ -3 (intermediate bias), where tanh and erf GELU differ by ~10%, with the MLP output
    # scaled to the size of the residual, the choice of activation changes the logits by O(0.1).
    rng = np.random.default_rng(0)
    w = dict(weights)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{layer}."
        w[p + "intermediate.dense.weight"] = weights[p + "intermediate.dense.weight"] * 0.1
        w[p + "intermediate.dense.bias"] = -3.0 + 0.3 * rng.standard_normal(cfg["intermediate_size"])
        w[p + "output.dense.weight"] = weights[p + "output.dense.weight"] * 250.0
    w = {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}
    model = _copy(CLASSIFIER, tmp_path / "model")
    _write_safetensors(model / "model.safetensors", w)
    ids_list = [ref[f"ids_{i}"] for i in range(n)]
    exact = [_reference_logits(w, cfg, ids, _gelu_erf) for ids in ids_list]
    tanh = [_reference_logits(w, cfg, ids, _gelu_tanh) for ids in ids_list]
    assert max(np.abs(a - b).max() for a, b in zip(exact, tanh)) > 5e-3  # the test tells them apart
    for act, want in [("gelu", exact), ("gelu_new", tanh), ("gelu_pytorch_tanh", tanh)]:
        _edit_json(model / "config.json", lambda j: j.update(hidden_act=act))
        c = models.token_classifier(model)
        for ids, expected in zip(ids_list, want):
            np.testing.assert_allclose(c.logits(ids), expected, atol=1e-4, err_msg=act)


def test_token_classifier_names_the_config_for_an_unknown_activation(tmp_path: Path) -> None:
    model = _copy(CLASSIFIER, tmp_path / "model")
    _edit_json(model / "config.json", lambda j: j.update(hidden_act="silu"))
    with pytest.raises(ValueError, match=r"config\.json: hidden_act \"silu\" is not supported by the token "
                                         r"classifier \(gelu, gelu_new, gelu_pytorch_tanh\)"):
        models.token_classifier(model)


def _add_token(tok: Path, token_id: int) -> None:
    _edit_json(tok, lambda j: j["added_tokens"].append(
        {"id": token_id, "content": "<extra>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}))


def test_token_classifier_checks_added_token_ids_at_load(tmp_path: Path) -> None:
    # id 10**6 loaded; compress() then failed on the first text holding "<extra>" with
    # "token id 1000000 >= vocab size", naming no file.
    model = _copy(CLASSIFIER, tmp_path / "model")
    _add_token(model / "tokenizer.json", 10**6)
    pattern = r"tokenizer\.json: an added token has id 1000000 but .*config\.json says vocab_size = 1000"
    with pytest.raises(ValueError, match=pattern):
        models.token_classifier(model)
    with pytest.raises(ValueError, match=pattern):
        Compressor("gpt-4o", classifier=model, classifier_weight=1.0, info_weight=0.0)


def test_token_classifier_tokenizer_errors_name_the_file(tmp_path: Path) -> None:
    model = _copy(CLASSIFIER, tmp_path / "model")
    _edit_json(model / "tokenizer.json", lambda j: j["added_tokens"][0].update(id=5))  # [PAD] is 0
    with pytest.raises(ValueError, match=r"tokenizer\.json: added token \"\[PAD\]\" has id 5") as info:
        models.token_classifier(model)
    assert str(model / "tokenizer.json") in str(info.value)


# ------------------------------------------------------------------------- router files
def _default_router_parts() -> tuple[dict[str, Any], dict[str, Any], bytes]:
    good = DEFAULT_ROUTER_PATH.read_bytes()
    hlen = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + hlen])
    return header, json.loads(header["__metadata__"]["config"]), good[8 + hlen:]


def _router_bytes(header: dict[str, Any], cfg: dict[str, Any], data: bytes) -> bytes:
    header = dict(header)
    header["__metadata__"] = dict(header["__metadata__"], config=json.dumps(cfg))
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def test_router_tensor_shape_count_cannot_wrap() -> None:
    # [2**32, 2**32, 4] wrapped to 0 elements before the size check: data_offsets [end, end]
    # matched and the router loaded and scored.
    header, cfg, data = _default_router_parts()
    header["Z"] = {"dtype": "F32", "shape": [2**32, 2**32, 4], "data_offsets": [len(data), len(data)]}
    with pytest.raises(ValueError, match=r"x\.router: tensor 'Z' is too large"):
        Router.from_bytes(_router_bytes(header, cfg, data), "x.router")
    header["Z"]["shape"] = [0, 4]  # an empty tensor is fine
    assert Router.from_bytes(_router_bytes(header, cfg, data), "x.router").score(["hi"]).shape == (1,)


@pytest.mark.parametrize("field", ["dense_mean", "dense_scale", "dense_min", "dense_max"])
def test_router_number_lists_refuse_booleans(field: str) -> None:
    header, cfg, data = _default_router_parts()
    n = len(cfg["features"][field])
    assert n > 0
    cfg["features"][field] = [True] * n
    with pytest.raises(ValueError, match=rf"x\.router: router config field '{field}' item 0 must be a number, got true"):
        Router.from_bytes(_router_bytes(header, cfg, data), "x.router")


def test_router_costs_refuse_booleans() -> None:
    header, cfg, data = _default_router_parts()
    cfg["costs"] = [False] * len(cfg["models"])
    with pytest.raises(ValueError, match=r"x\.router: router config field 'costs' item 0 must be a number, got false"):
        Router.from_bytes(_router_bytes(header, cfg, data), "x.router")


# ------------------------------------------------------------------------- bigram models
BIGRAM_OK = ("tokenops-bigram 1\ndiscount 0.5\nunigrams 3\nnew\t10\t2\nyork\t5\t1\ncity\t4\t1\n"
             "bigrams 2\n0\t1\t8\n1\t2\t3\n")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (BIGRAM_OK.replace("new\t10", f"new\t{2**32}"), rf"line 4: unigram count {2**32} does not fit in 32 bits"),
        (BIGRAM_OK.replace("new\t10", f"new\t{2**32 + 5}"), rf"line 4: unigram count {2**32 + 5} does not fit"),
        (BIGRAM_OK.replace("york\t5\t1", f"york\t5\t{2**32 + 1}"), r"line 5: successor count 4294967297 does not fit"),
        (BIGRAM_OK.replace("discount 0.5", "discount 0.5abc"), r"line 2: bad discount '0\.5abc'"),
        (BIGRAM_OK.replace("city", "york"), r"line 6: duplicate word 'york' \(first on line 5\)"),
        (BIGRAM_OK.replace("york\t5\t1", "york\t5\t9"), r"line 5: successor count 9 must be in \[1, count = 5\]"),
        (BIGRAM_OK.replace("bigrams 2", "bigrams 3") + "1\t0\t1\n",
         r"line 10: word 1 \('york'\) has more bigrams than its successor count 1"),
        (BIGRAM_OK.replace("bigrams 2", "bigrams 3") + "0\t1\t1\n", r"line 10: duplicate bigram 0 1"),
        (BIGRAM_OK + "0\t2\t1\n", r"line 10: unexpected content after the 2 bigrams"),
    ],
    ids=["count-2^32", "count-2^32+5", "successors-2^32+1", "discount-suffix", "duplicate-word",
         "successors-above-count", "successors-below-listed", "duplicate-bigram", "trailing-junk"],
)
def test_bad_bigram_files_name_the_line(tmp_path: Path, text: str, pattern: str) -> None:
    p = tmp_path / "m.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bigram model .*m\.txt " + pattern):
        models.bigram_model(p)


def test_bigram_count_above_32_bits_is_not_read_as_its_low_bits(tmp_path: Path) -> None:
    # 2**32 + 5 loaded as a count of 5; the shipped model and a well-formed file still load.
    p = tmp_path / "m.txt"
    p.write_text(BIGRAM_OK.replace("york\t5", f"york\t{2**32 + 5}"), encoding="utf-8")
    with pytest.raises(ValueError, match="does not fit in 32 bits"):
        models.bigram_model(p)
    ok = tmp_path / "ok.txt"
    ok.write_text(BIGRAM_OK, encoding="utf-8")
    assert models.bigram_model(ok).n_words == 3
    assert models.bigram_model().n_words == 12000
