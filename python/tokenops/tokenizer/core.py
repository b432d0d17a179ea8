"""The Encoding class: tiktoken's API over the native core, plus counting, truncation and
streaming decoding."""

from __future__ import annotations

import codecs
import functools
import os
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbcSet
from typing import TYPE_CHECKING, Any, AbstractSet, Literal, NoReturn, Union

from .. import _core
from .._args import INT64_MAX, as_int, check_threads, not_a_mapping
from . import registry
from .registry import PATTERNS
from .load import read_hf_json, read_rank_file

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

AllowedSpecial = Union[Literal["all"], AbstractSet[str]]
DisallowedSpecial = Union[Literal["all"], Collection[str]]


def _raise_disallowed_special_token(token: str) -> NoReturn:
    # Same message as tiktoken so that code matching on it keeps working.
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


def _check_all(policy: str, name: str) -> None:
    """A str special-token policy must be "all" (any other str would be read as its characters)."""
    if policy != "all":
        raise TypeError(f"{name} must be 'all' or a set of strings, not the str {policy!r} "
                        f"(write {{{policy!r}}})")


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(
            f"text must be str, not {type(text).__name__}"
            + (" (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(text, bytes) else "")
        )


def _check_tokens(tokens: object, what: str = "tokens") -> object:
    if not hasattr(tokens, "dtype") and (tokens is None or isinstance(tokens, (str, bytes, bytearray)) or not (
            hasattr(tokens, "__len__") and hasattr(tokens, "__getitem__"))):
        raise TypeError(f"{what} must be a list of int token ids (or an integer array), not "
                        f"{type(tokens).__name__}")
    # numpy arrays reach the core through a forcecast to int64, which would silently turn floats
    # (1.7 -> 1), bools and digit strings into token ids; only integer arrays are token ids.
    kind = getattr(getattr(tokens, "dtype", None), "kind", None)
    if kind is not None and kind not in "iu":
        if getattr(tokens, "size", None) == 0:
            return []  # np.array([]) of an empty output is float64; tiktoken decodes it to ''
        if kind == "O":
            return list(tokens)  # each item is checked as a list's items are (ints only)
        raise TypeError(f"tokens must hold integers, not {tokens.dtype}")  # type: ignore[attr-defined]
    return tokens


def _batch_tokens(batch: object) -> list[object]:
    """Each token list of a decode batch, checked once (an error names ``batch[i]``)."""
    if batch is None or isinstance(batch, (str, bytes, bytearray)) or not hasattr(batch, "__iter__"):
        raise TypeError(f"batch must be a list of token lists, not {type(batch).__name__}")
    return [_check_tokens(t, f"batch[{i}]") for i, t in enumerate(batch)]


class Encoding:
    """A byte-level BPE encoding, token-for-token identical to its reference (tiktoken for the
    OpenAI encodings and Llama-3, Hugging Face tokenizers for tokenizer.json models).

    Thread-safe: one object may be shared by any number of threads; the heavy work runs in C++
    with the GIL released.
    """

    def __init__(self, core: _core.CoreEncoding, *, source: str = "") -> None:
        self._core = core
        self.name: str = core.name
        self.source = source
        self._special_tokens: dict[str, int] = dict(core.specials)
        self._special_token_values = frozenset(self._special_tokens.values())
        # what "all" means to the encoder; special_tokens_set hands out copies (as tiktoken), so
        # a caller's `s = enc.special_tokens_set; s -= {...}` never changes the shared encoder
        self._special_names = frozenset(self._special_tokens)
        self.max_token_value: int = core.max_token_value
        # Shared int objects for token ids, created on first use by the native list builder
        # (allocating one Python int per token is a third of the cost of encode()).
        self._ints: list[int | None] = [None] * (self.max_token_value + 1)
        # How an encoding not in the registry's cache is rebuilt when unpickled: its file's
        # bytes travel with it, as tiktoken pickles custom encodings by value.
        self._recipe: tuple[str, tuple[Any, ...]] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_tiktoken_file(
        cls,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        pretokenizer: str = "cl100k",
        special_tokens: dict[str, int] | None = None,
    ) -> Encoding:
        """Builds an encoding from a ``.tiktoken`` rank file and a pre-tokenizer family
        (``"r50k"``, ``"cl100k"``, ``"llama3"`` or ``"o200k"``)."""
        if not isinstance(pretokenizer, str):  # (the core names an unknown family)
            raise TypeError(f"pretokenizer must be a str such as 'cl100k', not {type(pretokenizer).__name__}")
        _check_name(name)
        if special_tokens is not None and not isinstance(special_tokens, Mapping):
            raise TypeError(f"special_tokens must be a dict str -> id, not {type(special_tokens).__name__}")
        specials = dict(special_tokens or {})
        for token, token_id in specials.items():
            if not isinstance(token, str):
                raise TypeError(f"special token names must be str, not {type(token).__name__}")
            _check_utf8(token, "special token")
            if isinstance(token_id, bool) or not hasattr(token_id, "__index__") or not 0 <= token_id < 2**32:
                raise ValueError(
                    f"special token {token!r} has id {token_id!r}; ids must be ints in [0, 2**32)"
                )
            specials[token] = int(token_id)
        data = open(path, "rb").read()  # noqa: SIM115
        where = _display_path(path)
        return cls._from_recipe("tiktoken", (name or os.path.basename(where), pretokenizer, data, specials, where))

    @classmethod
    def from_hf_tokenizer_json(cls, path: str | os.PathLike[str], *, name: str | None = None) -> Encoding:
        """Loads a Hugging Face byte-level BPE ``tokenizer.json`` (merge-list BPE; GPT-2,
        RoBERTa-style, Llama-3 HF...). Added tokens become special tokens."""
        _check_name(name)
        data = open(path, "rb").read()  # noqa: SIM115
        where = _display_path(path)
        return cls._from_recipe("hf", (name or where, data, where))

    @classmethod
    def from_tekken_file(cls, path: str | os.PathLike[str], *, name: str | None = None) -> Encoding:
        """Loads a Mistral tekken tokenizer file (``tekken*.json``, as ``mistral-common`` and
        Mistral's Hugging Face repositories ship them): token ids are Mistral's (rank + the
        special-token count), and its special tokens (``<s>``, ``[INST]``...) are the
        encoding's. ``encode_ordinary(text)`` equals mistral-common's
        ``Tekkenizer.encode(text, bos=False, eos=False)``."""
        _check_name(name)
        data = open(path, "rb").read()  # noqa: SIM115
        where = _display_path(path)
        return cls._from_recipe("tekken", (name or os.path.basename(where), data, where))

    @classmethod
    def _from_recipe(cls, kind: str, args: tuple[Any, ...]) -> Encoding:
        """An encoding of one's own file from the core's arguments (source last), remembered so
        that it pickles by value (``_rebuild``)."""
        build = {"tiktoken": _core.CoreEncoding.from_tiktoken, "hf": _core.CoreEncoding.from_hf_json,
                 "tekken": _core.CoreEncoding.from_tekken}[kind]
        enc = cls(build(*args), source=args[-1])
        enc._recipe = (kind, args)
        return enc

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    # ------------------------------------------------------------------ special-token policy
    def _special_sets(
        self, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> tuple[AbstractSet[str], AbstractSet[str], AbstractSet[str]]:
        """(allowed, disallowed special tokens, disallowed strings that are not special tokens).

        As tiktoken: "all" or a collection of strings each; a disallowed string raises when the
        text holds it, special token or not; a falsy ``disallowed_special`` disables the check.
        Unlike tiktoken, a str other than "all" is a TypeError (tiktoken raises for
        ``allowed_special`` and checks each character of a ``disallowed_special`` str)."""
        if isinstance(allowed_special, str):
            _check_all(allowed_special, "allowed_special")
            allowed_special = self._special_names
        elif allowed_special is None:
            raise TypeError("allowed_special must be 'all' or a set of special-token strings, not None")
        else:
            # once: an iterator was used up by the first pass over it, and the empty rest turned
            # the default disallowed check off ("<|endoftext|>" encoded as text, no error)
            allowed_special = frozenset(allowed_special)
        if isinstance(disallowed_special, str):
            _check_all(disallowed_special, "disallowed_special")
            specials = self._special_names
            return allowed_special, (specials - set(allowed_special) if allowed_special else specials), frozenset()
        if not disallowed_special:
            return allowed_special, frozenset(), frozenset()
        disallowed = set(disallowed_special)
        for s in disallowed:
            if not isinstance(s, str):
                raise TypeError(f"disallowed_special must hold str, not {type(s).__name__}")
            if not s:
                raise ValueError("disallowed_special holds an empty string (it would match every text)")
        extra = disallowed - self._special_names
        return allowed_special, disallowed - extra, extra

    def _first_disallowed(self, text: str, banned: AbstractSet[str], extra: AbstractSet[str]) -> str | None:
        """The leftmost disallowed string in ``text``, or None."""
        found = self._core.find_special(text, banned) if banned else None
        if extra:
            best = text.find(found) if found is not None else -1
            for s in extra:
                i = text.find(s)
                if i != -1 and (best == -1 or i < best):
                    best, found = i, s
        return found

    def _resolve_special(
        self, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial, text: str
    ) -> AbstractSet[str]:
        """The allowed special tokens for ``text``; raises if it holds a disallowed string."""
        allowed, banned, extra = self._special_sets(allowed_special, disallowed_special)
        if banned or extra:
            found = self._first_disallowed(text, banned, extra)
            if found is not None:
                _raise_disallowed_special_token(found)
        return allowed

    # ------------------------------------------------------------------ encoding
    def encode_ordinary(self, text: str) -> list[int]:
        """Encodes text, treating special-token strings as ordinary text."""
        _check_text(text)
        return self._core.encode_ordinary(text, self._ints)

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[int]:
        """Encodes text into token ids with tiktoken's special-token semantics: text matching a
        disallowed special token raises ValueError (all of them by default); allowed ones are
        emitted as their special id."""
        _check_text(text)
        allowed = self._resolve_special(allowed_special, disallowed_special, text)
        return self._core.encode(text, allowed or None, self._ints)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """tiktoken's ``encode_with_unstable``: the tokens that no text appended later can change,
        and every token sequence the rest can start with once text follows (for token healing
        and constrained completion). The completions are sorted and unique (tiktoken returns
        them in hash-set order)::

            stable, completions = enc.encode_with_unstable(text)
            assert text.encode().startswith(enc.decode_bytes(stable))
            assert all(enc.decode_bytes(stable + c).startswith(text.encode()) for c in completions)

        The completions are found by re-encoding the unstable tail once per byte and per token
        that continues it, as tiktoken does; a tail over 1,024 bytes (one huge last piece) raises
        ValueError instead of running for minutes. A text ending in a cut-off non-special added
        token of a Hugging Face file (``"x<tool"`` of ``<tool_call>``) gets completions holding
        that token; white space at the end that an ``lstrip`` added token would take is not
        followed (docs/tokenizer.md)."""
        _check_text(text)
        allowed = self._resolve_special(allowed_special, disallowed_special, text)
        return self._core.encode_with_unstable(text, allowed or None, self._ints)

    def _encode_bytes(self, text: bytes) -> list[int]:
        """tiktoken's ``_encode_bytes``: encodes bytes that may hold invalid UTF-8 (a stream cut
        mid-character). The valid prefix is encoded as text; its last piece's tokens and the
        bytes after it are encoded together by plain BPE."""
        if isinstance(text, (bytearray, memoryview)):
            text = bytes(text)
        if not isinstance(text, bytes):
            raise TypeError(f"_encode_bytes expects bytes, not {type(text).__name__}")
        return self._core.encode_bytes(text, self._ints)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> npt.NDArray[np.uint32]:
        """Like :meth:`encode` but returns a uint32 numpy array that owns the native buffer
        (no copy)."""
        _check_text(text)
        allowed = self._resolve_special(allowed_special, disallowed_special, text)
        return self._core.encode_to_numpy(text, allowed or None)

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int = 0) -> list[list[int]]:
        """Encodes many texts in parallel in C++ (``num_threads=0``: all cores)."""
        not_a_mapping(text, "text")
        result, _ = self._core.encode_batch(text, None, None, check_threads(num_threads), self._ints)
        return result

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int = 0,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[list[int]]:
        """Encodes many texts in parallel in C++; identical results for any ``num_threads``.
        Texts are converted, checked for disallowed special tokens and encoded in the worker
        threads with the GIL released."""
        text, allowed, disallowed = self._batch_specials(text, allowed_special, disallowed_special)
        result, bad = self._core.encode_batch(
            text, allowed or None, disallowed or None, check_threads(num_threads), self._ints
        )
        if bad is not None:
            _raise_disallowed_special_token(bad)
        return result

    def encode_batch_to_numpy(
        self,
        text: Sequence[str],
        *,
        num_threads: int = 0,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[npt.NDArray[np.uint32]]:
        """Like :meth:`encode_batch` but returns one uint32 numpy array per text, each owning its
        native buffer (no Python int is made: the form for dataset pipelines)."""
        text, allowed, disallowed = self._batch_specials(text, allowed_special, disallowed_special)
        result, bad = self._core.encode_batch_to_numpy(
            text, allowed or None, disallowed or None, check_threads(num_threads)
        )
        if bad is not None:
            _raise_disallowed_special_token(bad)
        return result

    def _batch_specials(
        self, text: Sequence[str], allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> tuple[Sequence[str], AbstractSet[str], AbstractSet[str]]:
        """(texts, allowed, disallowed) special tokens of a batch call; the workers check the texts for
        disallowed special tokens. Disallowed strings that are not special tokens (rare) are
        checked here, text by text, so the first offending text is reported as without them."""
        not_a_mapping(text, "text")
        allowed, banned, extra = self._special_sets(allowed_special, disallowed_special)
        if extra and not isinstance(text, (str, bytes)):
            try:
                text = tuple(text)  # an iterator is read once, here
            except TypeError:
                return text, allowed, banned  # the core names the problem
            for t in text:
                if isinstance(t, str):
                    found = self._first_disallowed(t, banned, extra)
                    if found is not None:
                        _raise_disallowed_special_token(found)
            return text, allowed, frozenset()
        return text, allowed, banned

    # ------------------------------------------------------------------ counting
    def count(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> int:
        """Number of tokens in ``text`` (== ``len(encode(text, ...))``) without building the
        id list."""
        _check_text(text)
        allowed = self._resolve_special(allowed_special, disallowed_special, text)
        return self._core.count(text, allowed or None)

    def count_ordinary(self, text: str) -> int:
        """Number of tokens of ``encode_ordinary(text)``."""
        _check_text(text)
        return self._core.count(text, None)

    def count_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int = 0,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> npt.NDArray[np.int64]:
        """Token counts of many texts, in parallel; returns an int64 numpy array."""
        text, allowed, disallowed = self._batch_specials(text, allowed_special, disallowed_special)
        counts, bad = self._core.count_batch(text, allowed or None, disallowed or None, check_threads(num_threads))
        if bad is not None:
            _raise_disallowed_special_token(bad)
        return counts

    def truncate(
        self,
        text: str,
        max_tokens: int,
        *,
        keep: Literal["start", "end"] = "start",
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> str:
        """The text of the first (``keep="start"``) or last (``keep="end"``) ``max_tokens`` tokens
        of ``text``'s encoding, cut back to whole characters: never more than ``max_tokens``
        tokens, but not always the longest such prefix (o200k: ``truncate("  3a", 1)`` is ``" "``
        though ``"  "`` is one token too)."""
        _check_text(text)
        max_tokens = as_int(max_tokens, "max_tokens")  # numpy integers too
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        if keep not in ("start", "end"):
            raise ValueError(f"keep must be 'start' or 'end', got {keep!r}")
        allowed = self._resolve_special(allowed_special, disallowed_special, text)
        # Any budget beyond the native size_t keeps the whole text (a str has fewer tokens).
        max_tokens = min(max_tokens, INT64_MAX)
        out = self._core.truncate(text, max_tokens, allowed or None, keep == "end")
        if text.startswith(out) if keep == "start" else text.endswith(out):
            return out
        return _same_cut(text, len(out), keep == "end")

    # ------------------------------------------------------------------ decoding
    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Concatenated bytes of the tokens (KeyError for an id not in the vocabulary)."""
        return self._core.decode_bytes(_check_tokens(tokens))

    def decode(self, tokens: Sequence[int], errors: str = "replace") -> str:
        """Decodes tokens into text; invalid UTF-8 is handled by ``errors`` (as bytes.decode)."""
        return self._core.decode_bytes(_check_tokens(tokens)).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        token = as_int(token, "token")
        if not 0 <= token < 2**32:  # the core takes 32-bit ids; same error as an unassigned id
            raise KeyError(f"Invalid token for decoding: {token}")
        return self._core.decode_single_token_bytes(token)

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        """The bytes of each token, one entry per id (a token may hold part of a character)."""
        return self._core.decode_tokens_bytes(_check_tokens(tokens))

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Text and, per token, the index of the first character holding bytes of it
        (tiktoken's definition)."""
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len = 0
        offsets = []
        for token in token_bytes:
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        text = b"".join(token_bytes).decode("utf-8", errors="strict")
        return text, offsets

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """Decodes each token list. ``num_threads`` is accepted (and checked) for tiktoken
        compatibility; the lists are decoded one after another, each in one native call."""
        check_threads(num_threads)
        return [self._core.decode_bytes(t).decode("utf-8", errors=errors) for t in _batch_tokens(batch)]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8) -> list[bytes]:
        """Bytes of each token list (``num_threads`` as in ``decode_batch``)."""
        check_threads(num_threads)
        return [self._core.decode_bytes(t) for t in _batch_tokens(batch)]

    def stream_decoder(self, errors: str = "replace") -> StreamDecoder:
        """A decoder for token streams that never emits half a character."""
        return StreamDecoder(self, errors=errors)

    # ------------------------------------------------------------------ vocabulary
    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """Id of the token whose bytes are exactly ``text_or_bytes`` (special tokens included);
        KeyError if there is none."""
        return self._core.encode_single_token(_token_bytes(text_or_bytes, "encode_single_token"))

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        return self._core.encode_single_piece(_token_bytes(text_or_bytes, "_encode_single_piece"))

    def token_byte_values(self) -> list[bytes]:
        """All mergeable token byte strings, sorted."""
        return self._core.token_byte_values()

    @property
    def eot_token(self) -> int:
        for name in ("<|endoftext|>", "<|end_of_text|>"):
            if name in self._special_tokens:
                return self._special_tokens[name]
        raise KeyError(f"encoding {self.name!r} has no end-of-text token")

    @property
    def special_tokens_set(self) -> set[str]:
        """The special tokens' strings: a new set each time, as tiktoken."""
        return set(self._special_names)

    def is_special_token(self, token: int) -> bool:
        return token in self._special_token_values

    @property
    def n_vocab(self) -> int:
        """``max_token_value + 1`` (as tiktoken)."""
        return self.max_token_value + 1

    @property
    def pretokenizer(self) -> str:
        return self._core.pretokenizer

    # tiktoken's private attributes that its "Extending tiktoken" recipe and other libraries read
    @property
    def _pat_str(self) -> str:
        """The pre-tokenizer regex this encoding implements (tiktoken's spelling of it)."""
        return PATTERNS[self._core.pretokenizer]

    @functools.cached_property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        """{token bytes: rank} as tiktoken holds it (ranks are the ids of a rank-file encoding)."""
        if self._core.merge_mode:
            raise AttributeError(f"encoding {self.name!r} is merge-list BPE (tokenizer.json): its ids "
                                 "are not tiktoken ranks")
        specials = self._special_token_values
        ranks: dict[bytes, int] = {}
        for i in range(self.max_token_value + 1):
            if i in specials:
                continue
            try:
                ranks[self._core.decode_single_token_bytes(i)] = i
            except KeyError:  # an id no token has
                continue
        return ranks

    def _encode_only_native_bpe(self, text: str) -> list[int]:
        """tiktoken's regex + BPE path without special-token handling: ``encode_ordinary``."""
        return self.encode_ordinary(text)

    @property
    def memory_bytes(self) -> int:
        """Approximate bytes held by the native tables."""
        return self._core.memory_bytes

    def __reduce__(self) -> tuple[object, tuple[Any, ...]]:
        # Registered encodings pickle by name (like tiktoken) and unpickle to the cached object;
        # others (a rank file of one's own, get_encoding(path=)) by value.
        if _CACHE.get(self.name) is self:
            return (get_encoding, (self.name,))
        if self._recipe is not None:
            return (_rebuild, self._recipe)
        raise TypeError(f"encoding {self.name!r} (loaded from {self.source}) cannot be pickled")


def _same_cut(text: str, n: int, from_end: bool) -> str:
    """The prefix (suffix) of ``text`` that the core's first (last) ``n`` characters stand for.
    The core reads text as tiktoken does (``encode("utf-16", "surrogatepass").decode("utf-16",
    "replace")``): a high + low surrogate pair is one character there, a lone surrogate one
    U+FFFD, so a pair is never split."""
    def high(c: str) -> bool:
        return "\ud800" <= c <= "\udbff"

    def low(c: str) -> bool:
        return "\udc00" <= c <= "\udfff"

    if from_end:
        j = len(text)
        for _ in range(n):
            j -= 2 if j >= 2 and low(text[j - 1]) and high(text[j - 2]) else 1
        return text[j:]
    i = 0
    for _ in range(n):
        i += 2 if i + 1 < len(text) and high(text[i]) and low(text[i + 1]) else 1
    return text[:i]


class StreamDecoder:
    """Incremental decoding of a token stream (e.g. an LLM response arriving token by token):
    ``push(ids)`` returns the text completed so far, holding back an incomplete UTF-8 sequence
    until the tokens that complete it arrive; ``flush()`` returns what is left."""

    def __init__(self, encoding: Encoding, errors: str = "replace") -> None:
        if not isinstance(errors, str):
            raise TypeError(f"errors must be a str such as 'replace' or 'strict', not {type(errors).__name__}")
        codecs.lookup_error(errors)  # LookupError now, not at the first invalid byte
        self._dec = _core.CoreStreamDecoder(encoding._core)
        self._errors = errors
        self._name = encoding.name

    def __repr__(self) -> str:
        return f"<StreamDecoder of {self._name!r}, errors={self._errors!r}>"

    def push(self, tokens: int | Iterable[int]) -> str:
        """Adds token ids (an int, a list or a numpy array); returns the text they complete."""
        if getattr(tokens, "ndim", None) == 0:  # a numpy integer scalar (or 0-d array)
            tokens = _check_tokens(tokens).reshape(1)  # type: ignore[attr-defined]
        elif isinstance(tokens, int):
            tokens = [tokens]
        elif hasattr(tokens, "dtype"):
            tokens = _check_tokens(tokens)  # numpy arrays go to the core as they are (like decode)
        elif isinstance(tokens, (str, bytes, bytearray, memoryview, Mapping, AbcSet)):
            # bytes would be read as ids (one per byte), a dict's keys or a set's arbitrary order
            raise TypeError(f"push takes a token id or a sequence of ids, not {type(tokens).__name__}")
        elif not isinstance(tokens, (list, tuple)):
            tokens = list(tokens)  # type: ignore[call-overload]
        # With errors="strict", invalid UTF-8 raises UnicodeDecodeError; the decoder has handed
        # those bytes on, and the exception's .object holds them (nothing else is dropped).
        return self._dec.push(tokens).decode("utf-8", errors=self._errors)

    def flush(self) -> str:
        """Ends the stream: the held-back bytes of an unfinished character, decoded with
        ``errors`` (U+FFFD by default)."""
        return self._dec.flush().decode("utf-8", errors=self._errors)

    @property
    def pending_bytes(self) -> int:
        return self._dec.pending


# ---------------------------------------------------------------------- registry access
_CACHE: dict[str, Encoding] = {}
_LOCK = threading.RLock()


def list_encoding_names() -> list[str]:
    """Names ``get_encoding`` knows (tiktoken's and the extra ones tokenops registers), sorted."""
    return sorted(registry.ENCODINGS)


def _rebuild(kind: str, args: tuple[Any, ...]) -> Encoding:
    """Unpickles an encoding from its recipe (see Encoding.__reduce__)."""
    if kind in ("tiktoken", "hf", "tekken"):
        return Encoding._from_recipe(kind, args)
    if kind != "registered":
        raise ValueError(f"unknown encoding recipe {kind!r}")
    enc = _build_ranks(*args)
    enc._recipe = (kind, args)
    return enc


def _build(name: str, path: str | os.PathLike[str] | None) -> Encoding:
    d = registry.ENCODINGS[name]
    if path is None:
        hf = read_hf_json(d)
        if hf is not None:
            data, src = hf
            enc = Encoding(_core.CoreEncoding.from_hf_json(name, data, src), source=src)
            return enc
    data, src = read_rank_file(d, path)
    enc = _build_ranks(name, data, src)
    if path is not None:
        enc._recipe = ("registered", (name, data, src))
    return enc


def _build_ranks(name: str, data: bytes, src: str) -> Encoding:
    d = registry.ENCODINGS[name]
    if d.fmt == "tekken":
        return Encoding(_core.CoreEncoding.from_tekken(name, data, src), source=src)
    core = _core.CoreEncoding.from_tiktoken(name, d.pretokenizer, data, d.special_tokens, src)
    if d.explicit_n_vocab is not None:
        n = core.n_mergeable + len(set(d.special_tokens.values()))
        if n != d.explicit_n_vocab or core.max_token_value != d.explicit_n_vocab - 1:
            raise ValueError(
                f"{src}: encoding {name!r} expects {d.explicit_n_vocab} tokens, the file gives "
                f"{core.n_mergeable} ranks + {len(d.special_tokens)} special tokens"
            )
    return Encoding(core, source=src)


class UnknownEncodingError(KeyError, ValueError):
    """An encoding name that is not registered: a KeyError (tokenops' convention for unknown
    names) that is also the ValueError tiktoken raises, so either ``except`` catches it."""


def get_encoding(encoding_name: str, *, path: str | os.PathLike[str] | None = None) -> Encoding:
    """The encoding with this name (``cl100k_base``, ``o200k_base``, ``llama3``...), loaded once
    and cached. ``path`` overrides where its vocabulary file is read from. KeyError (listing the
    known names) for an unknown name."""
    if not isinstance(encoding_name, str):
        raise TypeError(f"encoding name must be str, not {type(encoding_name).__name__}")
    if encoding_name not in registry.ENCODINGS:
        raise UnknownEncodingError(
            f"Unknown encoding {encoding_name!r}. Known encodings: "
            f"{', '.join(list_encoding_names())}"
        )
    if path is not None:
        return _build(encoding_name, path)
    with _LOCK:
        enc = _CACHE.get(encoding_name)
        if enc is None:
            enc = _build(encoding_name, None)
            _CACHE[encoding_name] = enc
        return enc


def encoding_for_model(model_name: str) -> Encoding:
    """The encoding a model uses (tiktoken's model map, plus provider prefixes such as
    ``openai/`` and Llama-3 names). KeyError with close matches if unknown."""
    return get_encoding(registry.encoding_name_for_model(model_name))


def _token_bytes(value: Any, fn: str) -> bytes:
    """str (as UTF-8) or bytes-like for the single-token look-ups; a named error otherwise."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as e:  # tiktoken's type (a ValueError), with what to do
            raise UnicodeEncodeError("utf-8", value, e.start, e.end,
                                     f"{fn}: a lone surrogate; pass bytes for tokens that are not "
                                     "valid UTF-8") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{fn} takes str or bytes, not {type(value).__name__}")


def _check_name(name: Any) -> None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if name is not None:
        _check_utf8(name, "name")


def _check_utf8(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what} {text!r} holds a lone surrogate at index {e.start}; "
                         "it must be valid Unicode text") from None


def _display_path(path: str | os.PathLike[str]) -> str:
    """The path as text for names and messages: undecodable bytes (a Latin-1 file name under a
    UTF-8 locale) become U+FFFD instead of lone surrogates the core cannot take."""
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
