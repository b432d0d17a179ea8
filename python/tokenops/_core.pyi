"""
tokenops native core (C++). Use the `tokenops` package, not this module directly.
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['CoreEncoding', 'CoreStreamDecoder', 'clear_bpe_memo', 'find_invalid_utf8', 'general_category', 'unicode_version']
class CoreEncoding:
    """
    Immutable native BPE encoding; thread-safe, GIL released.
    """
    @staticmethod
    def from_hf_json(name: str, data: bytes, source: str) -> CoreEncoding:
        ...
    @staticmethod
    def from_tiktoken(name: str, pretokenizer: str, data: bytes, specials: dict, source: str) -> CoreEncoding:
        ...
    def count(self, text: typing.Any, allowed: typing.Any) -> int:
        ...
    def count_batch(self, texts: typing.Any, allowed: typing.Any, disallowed: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], typing.Any]:
        """
        Returns (int64 counts, None) or (_, the first disallowed special token found).
        """
    def decode_bytes(self, tokens: typing.Any) -> bytes:
        ...
    def decode_single_token_bytes(self, token: typing.SupportsInt | typing.SupportsIndex) -> bytes:
        ...
    def decode_tokens_bytes(self, tokens: typing.Any) -> list:
        ...
    def encode(self, text: typing.Any, allowed: typing.Any, int_cache: typing.Any = None) -> list:
        ...
    def encode_batch(self, texts: typing.Any, allowed: typing.Any, disallowed: typing.Any, num_threads: typing.SupportsInt | typing.SupportsIndex, int_cache: typing.Any = None) -> tuple[list, typing.Any]:
        """
        Returns (token lists, None) or (_, the first disallowed special token found).
        """
    def encode_ordinary(self, text: typing.Any, int_cache: typing.Any = None) -> list:
        ...
    def encode_single_piece(self, data: bytes) -> list:
        ...
    def encode_single_piece_reference(self, data: bytes) -> list:
        """
        BPE of one piece with the plain heap merge (test oracle).
        """
    def encode_single_token(self, data: bytes) -> int:
        ...
    def encode_to_numpy(self, text: typing.Any, allowed: typing.Any) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def find_special(self, text: typing.Any, candidates: typing.Any) -> typing.Any:
        """
        The first special token (among candidates) whose text occurs in text, or None.
        """
    def token_byte_values(self) -> list:
        ...
    def truncate(self, text: typing.Any, max_tokens: typing.SupportsInt | typing.SupportsIndex, allowed: typing.Any, keep_end: bool) -> str:
        ...
    @property
    def max_token_value(self) -> int:
        ...
    @property
    def memory_bytes(self) -> int:
        ...
    @property
    def merge_mode(self) -> bool:
        ...
    @property
    def n_mergeable(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def pretokenizer(self) -> str:
        ...
    @property
    def specials(self) -> dict:
        ...
class CoreStreamDecoder:
    def __init__(self, encoding: CoreEncoding) -> None:
        ...
    def flush(self) -> bytes:
        ...
    def push(self, tokens: typing.Any) -> bytes:
        ...
    @property
    def pending(self) -> int:
        ...
def clear_bpe_memo() -> None:
    """
    Empties the calling thread's memo of BPE results (for cold-cache benchmarks).
    """
def find_invalid_utf8(data: bytes) -> typing.Any:
    """
    Offset of the first byte that is not valid UTF-8, or None.
    """
def general_category(codepoint: typing.SupportsInt | typing.SupportsIndex) -> str:
    """
    Unicode general category of a code point, from the core's tables.
    """
def unicode_version() -> str:
    """
    Unicode version of the character tables compiled into the core.
    """
__version__: str = '0.1.0'
