"""Reference implementations used by parity tests and benchmarks (optional dependencies).

``tiktoken_encoding(name)`` builds the *real* tiktoken Encoding for one of our encodings from the
same vocabulary files, without network access: OpenAI rank files are placed in a private tiktoken
cache folder under the sha1 of their public URL (the key tiktoken's ``load.py`` uses), Llama-3 is
built with Meta's pattern and special tokens exactly as ``llama3/tokenizer.py`` does, and gpt2
(whose ``encoder.json`` we do not have) uses tiktoken's r50k ranks with gpt2's definition.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .load import read_rank_file, tiktoken_cache_key
from .registry import ENCODINGS, PATTERNS


_primed: Path | None = None


def prime_tiktoken_cache() -> Path:
    """Copies our OpenAI rank files into a private tiktoken cache folder (once per process) and
    points ``TIKTOKEN_CACHE_DIR`` at it. Returns the folder."""
    global _primed
    if _primed is not None:
        return _primed
    folder = Path(tempfile.mkdtemp(prefix="tokenops-tiktoken-cache-"))
    for d in ENCODINGS.values():
        if d.url is None:
            continue
        target = folder / tiktoken_cache_key(d.url)
        if target.exists():
            continue
        data, _ = read_rank_file(d)
        target.write_bytes(data)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    _primed = folder
    return folder


def _ranks(name: str) -> dict[bytes, int]:
    import base64

    data, _ = read_rank_file(ENCODINGS[name])
    out = {}
    for line in data.splitlines():
        if line:
            tok, rank = line.split()
            out[base64.b64decode(tok)] = int(rank)
    return out


def tiktoken_encoding(name: str) -> Any:
    """The tiktoken Encoding for ``name`` (needs ``pip install tiktoken``)."""
    import tiktoken

    if name == "llama3":
        return tiktoken.Encoding(
            name="llama3",
            pat_str=PATTERNS["llama3"],
            mergeable_ranks=_ranks("llama3"),
            special_tokens=ENCODINGS["llama3"].special_tokens,
        )
    if name == "gpt2":
        return tiktoken.Encoding(
            name="gpt2",
            pat_str=PATTERNS["r50k"],
            mergeable_ranks=_ranks("r50k_base"),
            special_tokens={"<|endoftext|>": 50256},
            explicit_n_vocab=50257,
        )
    prime_tiktoken_cache()
    return tiktoken.get_encoding(name)


def cleanup() -> None:
    global _primed
    if _primed is not None:
        shutil.rmtree(_primed, ignore_errors=True)
        _primed = None
