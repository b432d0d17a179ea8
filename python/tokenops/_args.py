"""Checks for the integer arguments that every package hands to the native core (thread counts,
seeds, token ids), so oversized or mistyped values get a clear error instead of pybind11's
"incompatible function arguments"; and for lists of texts. Also how provider SDK objects are read
as dicts (``sdk_dict``)."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Mapping
from typing import Any

# The native side caps threads at the work size and starts fewer if the system refuses; beyond
# this a request is certainly a mistake, so it is clamped rather than passed on.
MAX_THREADS = 1024
# Token counts and budgets are int64 in the core; a larger budget means "everything" anyway.
INT64_MAX = 2**63 - 1


def as_int(value: object, name: str) -> int:
    """``value`` as a Python int (numpy integers accepted); TypeError for bools and non-integers."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def check_threads(num_threads: object, name: str = "num_threads", *, negative_ok: bool = True) -> int:
    """A thread count for the core: 0 = all cores (so are negatives, unless ``negative_ok`` is
    False: then ValueError), clamped to MAX_THREADS. None is 0 (tiktoken hands None to
    ThreadPoolExecutor: its default)."""
    if num_threads is None:
        return 0
    n = as_int(num_threads, name)
    if n < 0 and not negative_ok:
        raise ValueError(f"{name} must be >= 0 (0 = all cores), got {n}")
    return 0 if n < 0 else min(n, MAX_THREADS)


def check_seed(seed: object, limit: int = 2**64) -> int:
    """A seed as an int in [0, limit); ValueError naming it otherwise."""
    s = as_int(seed, "seed")
    if not 0 <= s < limit:
        raise ValueError(f"seed must be an integer in [0, 2**{limit.bit_length() - 1}), got {s}")
    return s


def is_real(value: object) -> bool:
    """A real number: a Python or numpy int or float, not a bool (numpy registers its integer
    and floating types as numbers.Real; numpy.bool_ is not one)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value: object, name: str) -> int:
    """``value`` as an int >= 1: TypeError for non-integers, ValueError below 1."""
    n = as_int(value, name)
    if n < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    return n


def not_a_mapping(texts: object, name: str) -> None:
    """A dict where a list of texts is expected is a TypeError: iterating it reads its keys."""
    if isinstance(texts, Mapping):
        raise TypeError(f"{name} must be a list of str, not a {type(texts).__name__}")


def sdk_dict(obj: object, **kw: object) -> Mapping | None:
    """A provider SDK object (pydantic v2: openai, anthropic, google-genai) as its JSON-mode dict
    (``model_dump(mode="json", **kw)``: enums such as google-genai's MediaModality.AUDIO become
    their values), or None when ``obj`` is not one or cannot be dumped that way."""
    dump = getattr(obj, "model_dump", None)
    if not callable(dump):
        return None
    try:
        d = dump(mode="json", **kw)
    except Exception:  # noqa: BLE001 - not pydantic v2, or a field JSON cannot hold
        return None
    return d if isinstance(d, Mapping) else None


def message_dict(message: Any) -> Any:
    """A chat message as a mapping. SDK message objects (openai's ``ChatCompletionMessage``, which
    OpenAI's function-calling guide appends to the history as it is) are read through
    ``model_dump``: their null fields are absent, and a tool-calling message without text keeps
    ``content: None``. Anything else is returned unchanged (and refused by the caller)."""
    if isinstance(message, Mapping):
        return message
    d = sdk_dict(message, exclude_none=True)
    if d is None or "role" not in d:
        return message
    d = dict(d)
    d.setdefault("content", None)
    return d
