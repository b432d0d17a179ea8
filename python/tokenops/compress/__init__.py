"""Prompt compression and context packing (C++ core, GIL released).

``tokenops.compress(text, question=None, rate=None, target_tokens=None, model="gpt-4o", *,
language="en", frequencies="wordfreq", **options)`` is this module called as a function
(``help(tokenops.compress.compress)`` for its options).

``compress`` keeps what matters of a prompt under a token budget of the target model;
``pack`` chooses retrieved passages for a question; ``pack_chat`` fits a conversation.
``tokenops.compress.evaluate`` measures answer-span survival against baselines.
"""

import inspect as _inspect
import sys as _sys
import types as _types

from .api import (
    DEFAULT_FORCE_TOKENS,
    CompressionResult,
    Compressor,
    Unit,
    compress,
    compress_batch,
    default_compressor,
)
from .pack import ChatPackResult, PackResult, pack, pack_chat

__all__ = [
    "DEFAULT_FORCE_TOKENS",
    "ChatPackResult",
    "CompressionResult",
    "Compressor",
    "PackResult",
    "Unit",
    "compress",
    "compress_batch",
    "default_compressor",
    "pack",
    "pack_chat",
]


class _CallableModule(_types.ModuleType):
    """``tokenops.compress`` is both this subpackage and the function: calling the module calls
    :func:`compress` (so ``tokenops.compress(text, rate=0.33)`` and ``tokenops.compress.pack``
    both work)."""

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return compress(*args, **kwargs)

    # inspect.signature(tokenops.compress) and Jupyter's tokenops.compress? show compress's
    __call__.__signature__ = _inspect.signature(compress).replace(  # type: ignore[attr-defined]
        parameters=[_inspect.Parameter("self", _inspect.Parameter.POSITIONAL_ONLY),
                    *_inspect.signature(compress).parameters.values()])


_sys.modules[__name__].__class__ = _CallableModule
