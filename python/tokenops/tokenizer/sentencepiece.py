"""SentencePiece BPE tokenizers (a ``tokenizer.model`` protobuf): Mistral's v1 / v2 / v3 / v7
(Mistral 7B, Mixtral 8x7B and 8x22B, Mistral Small / Large 24.02, Large 24.07 and 24.11,
Codestral 24.05) and other BPE models with the identity normalizer, such as Llama 2's.

The engine is tokenops' own C++ (``cpp/src/tokenizer/sentencepiece.cpp``), token-for-token equal
to the ``sentencepiece`` library's ``encode`` (tests/python/test_tokenizer_sentencepiece.py). It
is a separate class from :class:`~tokenops.Encoding` (byte-level BPE with a pre-tokenizer): it has
no special-token parsing (SentencePiece reads ``<s>`` or ``[INST]`` in text as text).
``count_messages`` / ``count_tools`` count the chat requests of these models exactly, with
Mistral's own templates over this engine (:mod:`.mistral_chat`); ``compress`` takes
tiktoken-style encodings and counts their plain text approximately with o200k_base.
:meth:`SentencePieceEncoding.for_model` maps Mistral model names to their tokenizer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import _core
from .._args import as_int
from .load import read_rank_file
from .registry import EncodingDef

# name -> (file in mistral-common's data folder, its sha256, what uses it)
MISTRAL_MODELS: dict[str, tuple[str, str, str]] = {
    "mistral_v1": ("tokenizer.model.v1",
                   "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055",
                   "Mistral 7B, Mixtral 8x7B (open-mistral-7b, open-mixtral-8x7b, mistral-medium-2312)"),
    "mistral_v2": ("mistral_instruct_tokenizer_240216.model.v2",
                   "37f00374dea48658ee8f5d0f21895b9bc55cb0103939607c8185bfd1c6ca1f89",
                   "mistral-small-2312/2402, mistral-large-2402, mistral-tiny-2312"),
    "mistral_v3": ("mistral_instruct_tokenizer_240323.model.v3",
                   "9addc8bdce5988448ae81b729336f43a81262160ae8da760674badab9d4c7d33",
                   "open-mixtral-8x22b, mistral-large-2407, codestral-2405, mistral-tiny-2407"),
    "mistral_v7": ("mistral_instruct_tokenizer_241114.model.v7",
                   "1b968b8dc352f42192367337c78ccc61e1eaddc6d641a579372d4f20694beb7a",
                   "mistral-large-2411"),
}


# Mistral API and Hugging Face model names -> the tokenizer they use (mistral_common's
# MODEL_NAME_TO_TOKENIZER_CLS and Mistral's tokenization guide). Exact names, any case.
MODEL_TO_SENTENCEPIECE: dict[str, str] = {
    "open-mistral-7b": "mistral_v1", "open-mixtral-8x7b": "mistral_v1", "mistral-medium-2312": "mistral_v1",
    "mistralai/mistral-7b-v0.1": "mistral_v1", "mistralai/mistral-7b-instruct-v0.1": "mistral_v1",
    "mistralai/mistral-7b-instruct-v0.2": "mistral_v1", "mistralai/mixtral-8x7b-v0.1": "mistral_v1",
    "mistralai/mixtral-8x7b-instruct-v0.1": "mistral_v1",
    "mistral-tiny-2312": "mistral_v2", "mistral-small-2312": "mistral_v2", "mistral-small-2402": "mistral_v2",
    "mistral-large-2402": "mistral_v2",
    "open-mixtral-8x22b": "mistral_v3", "open-mixtral-8x22b-2404": "mistral_v3", "mistral-tiny-2407": "mistral_v3",
    "mistral-large-2407": "mistral_v3", "codestral-2405": "mistral_v3", "codestral-mamba-2407": "mistral_v3",
    "mistralai/mixtral-8x22b-instruct-v0.1": "mistral_v3", "mistralai/mistral-7b-instruct-v0.3": "mistral_v3",
    "mistral-large-2411": "mistral_v7",
}


def sentencepiece_name_for_model(model: str) -> str | None:
    """The SentencePiece tokenizer (:data:`MISTRAL_MODELS`) a model name uses, or None; a
    ``mistral/``, ``openrouter/`` or ``together_ai/`` prefix is ignored."""
    name = model.lower()
    for prefix in ("openrouter/", "together_ai/", "mistral/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return MODEL_TO_SENTENCEPIECE.get(name)


class SentencePieceEncoding:
    """A SentencePiece BPE model: ``encode``, ``count``, ``decode``, batch forms; immutable and
    safe to share across threads (the native calls release the GIL)."""

    def __init__(self, core: Any, name: str, data: bytes, source: str) -> None:
        self._core = core
        self.name = name
        self.source = source
        self._data = data  # pickled by value, as tiktoken pickles custom encodings
        self._ints: list[int | None] = [None] * core.size

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, name: str | None = None) -> SentencePieceEncoding:
        """Loads a ``tokenizer.model``; ValueError naming the file for one that is not a
        SentencePiece BPE model tokenops implements."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        p = Path(path)
        return cls._from_bytes(p.read_bytes(), name or p.name, str(p))

    @classmethod
    def _from_bytes(cls, data: bytes, name: str, source: str) -> SentencePieceEncoding:
        return cls(_core.CoreSentencePiece.from_model(data, source), name, data, source)

    @classmethod
    def load(cls, name: str, *, path: str | os.PathLike[str] | None = None) -> SentencePieceEncoding:
        """One of Mistral's tokenizers by name (:data:`MISTRAL_MODELS`), read from ``path``,
        ``$TOKENOPS_DATA_DIR/tokenizers/<file>`` or the installed ``mistral-common`` wheel
        (found, never imported), sha256-checked: the search of every registered vocabulary
        (:func:`tokenops.tokenizer.load.read_rank_file`)."""
        if name not in MISTRAL_MODELS:
            raise KeyError(f"unknown SentencePiece tokenizer {name!r}; known: {', '.join(MISTRAL_MODELS)}")
        fname, sha, _ = MISTRAL_MODELS[name]
        d = EncodingDef(name, "sentencepiece", fname, sha, None, fmt="sentencepiece",
                        package_files=("mistral_common", "data", (fname,)),
                        license_note=f"It ships in the mistral-common wheel (pip install mistral-common), or "
                                     f"pass path= to its {fname}.")
        data, src = read_rank_file(d, path)
        return cls._from_bytes(data, name, src)

    @classmethod
    def for_model(cls, model: str) -> SentencePieceEncoding:
        """The tokenizer of a Mistral model that uses SentencePiece (:data:`MODEL_TO_SENTENCEPIECE`:
        ``open-mixtral-8x7b``, ``mistral/open-mistral-7b``, ``mistralai/Mixtral-8x7B-Instruct-v0.1``...),
        loaded once per process; KeyError for other names."""
        if not isinstance(model, str):
            raise TypeError(f"model must be str, not {type(model).__name__}")
        name = sentencepiece_name_for_model(model)
        if name is None:
            raise KeyError(f"no SentencePiece tokenizer is known for model {model!r}; known: "
                           f"{', '.join(sorted(MODEL_TO_SENTENCEPIECE))}")
        return load_cached(name)

    def __reduce__(self) -> Any:
        return (SentencePieceEncoding._from_bytes, (self._data, self.name, self.source))

    def __repr__(self) -> str:
        return f"<SentencePieceEncoding {self.name!r}>"

    # ------------------------------------------------------------------ properties
    @property
    def n_vocab(self) -> int:
        return int(self._core.size)

    @property
    def bos_token_id(self) -> int | None:
        return self._core.bos_id if self._core.bos_id >= 0 else None

    @property
    def eos_token_id(self) -> int | None:
        return self._core.eos_id if self._core.eos_id >= 0 else None

    def id_to_piece(self, token: int) -> str:
        t = as_int(token, "token")
        if t < 0:
            raise ValueError(f"token id {t} is negative")
        return self._core.piece(t)[0]

    # ------------------------------------------------------------------ encoding
    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of ``text`` (``SentencePieceProcessor.encode``), with the BOS / EOS ids
        around them if asked."""
        ids = self._core.encode(text, self._ints)
        if add_bos and self.bos_token_id is not None:
            ids.insert(0, self.bos_token_id)
        if add_eos and self.eos_token_id is not None:
            ids.append(self.eos_token_id)
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """:meth:`encode` without BOS / EOS (the name tiktoken-style code calls)."""
        return self.encode(text)

    def count(self, text: str) -> int:
        """``len(encode(text))`` without building the list."""
        return int(self._core.count(text))

    def count_ordinary(self, text: str) -> int:
        """:meth:`count` (the name tiktoken-style code calls)."""
        return self.count(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in _texts(texts)]

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count(t) for t in _texts(texts)]

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """The bytes of ``tokens`` (byte tokens as they are, even where they form no valid UTF-8)."""
        return self._core.decode_bytes(tokens)

    def decode(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens`` as ``SentencePieceProcessor.decode``: control tokens (``<s>``...)
        dropped, byte tokens joined (each byte that starts no valid UTF-8 character a U+FFFD, as
        there), the dummy prefix's leading space removed."""
        return self._core.decode_bytes(tokens, True).decode("utf-8")


_LOADED: dict[str, SentencePieceEncoding] = {}


def load_cached(name: str) -> SentencePieceEncoding:
    """:meth:`SentencePieceEncoding.load`, once per process and name."""
    enc = _LOADED.get(name)
    if enc is None:
        enc = _LOADED.setdefault(name, SentencePieceEncoding.load(name))
    return enc


def _texts(texts: Any) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"texts must be a list of str, not {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be str, not {type(t).__name__}")
    return list(texts)
