"""Shared fixtures: the data directory (../shared/data by default) and reference peers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TOKENOPS_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
os.environ.setdefault("TOKENOPS_DATA_DIR", str(DATA))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"shared data not found at {DATA}; set TOKENOPS_DATA_DIR")
    return DATA


@pytest.fixture(scope="module")
def tk():
    """tiktoken's Encoding for a name (built once per module from the shared rank files), or a skip
    when tiktoken is not installed."""
    pytest.importorskip("tiktoken")
    from tokenops.tokenizer import reference

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = reference.tiktoken_encoding(name)
        return cache[name]

    yield get
    reference.cleanup()


@pytest.fixture(scope="module")
def embedder():
    """The native all-MiniLM-L6-v2 (the cache tests' default embedder)."""
    import tokenops

    try:
        return tokenops.Embedder.load()
    except OSError as e:  # pragma: no cover - the test install always has the model
        pytest.skip(f"no embedding model: {e}")
