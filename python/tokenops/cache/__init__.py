"""Response caches: exact and semantic, with guards against false hits.

>>> import tokenops
>>> cache = tokenops.Cache("cache.sqlite")           # exact + semantic (MiniLM, FAISS)
>>> cache.put("How do I reset my PIN?", "Settings > Security > Reset PIN", model="gpt-4o")
>>> cache.get("how can I reset my PIN?", model="gpt-4o")   # a CacheHit, kind "semantic"
>>> tokenops.cache.guard("What is 15% of 80?", "What is 15% of 90?")
('numbers',)

See :mod:`tokenops.cache.core` for what the guards check and how entries persist, and
:mod:`tokenops.cache.evaluate` for the hit-rate / false-hit evaluation on public paraphrase sets.
"""

from __future__ import annotations

from .core import (
    DEFAULT_GUARDS,
    DEFAULT_THRESHOLD,
    GUARDS,
    Cache,
    CacheHit,
    Lookup,
    guard,
    guard_batch,
    guard_names,
    normalize_prompt,
    signature,
)

__all__ = [
    "DEFAULT_GUARDS",
    "DEFAULT_THRESHOLD",
    "GUARDS",
    "Cache",
    "CacheHit",
    "Lookup",
    "guard",
    "guard_batch",
    "guard_names",
    "normalize_prompt",
    "signature",
]
