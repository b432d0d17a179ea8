"""Argument checks shared by the ledger, the governor and the anomaly rules: ids, timestamps,
money and limits, each refused with a message that names the argument and the value."""

from __future__ import annotations

import datetime as _dt
import functools
import math
from collections.abc import Callable
from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import Any, TypeVar

from .._args import INT64_MAX, is_int, is_real

WINDOWS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z, the last second a datetime holds
# Sums, comparisons and quotients of USD: 34 significant digits (exact for atto-USD amounts up to
# 10**16 USD), whatever the caller's context (an application may round its own decimals to 4).
DECIMAL_CONTEXT = Context(prec=34)
_F = TypeVar("_F", bound=Callable[..., Any])


def exact_decimals(fn: _F) -> _F:
    """Runs ``fn`` in :data:`DECIMAL_CONTEXT`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with localcontext(DECIMAL_CONTEXT):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_id(value: Any, name: str, *, optional: bool = True) -> str | None:
    """A task / user / step id: a non-empty str (None where ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str{' or None' if optional else ''}, not {type(value).__name__} {value!r}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{name} is not valid Unicode: it holds a lone surrogate ({value[e.start]!r} at index "
                         f"{e.start}), which cannot be stored; clean it first, e.g. "
                         "s.encode('utf-8', 'replace').decode()") from None
    return value


def timestamp(at: Any, name: str = "at") -> float:
    """Seconds since the Unix epoch from a number or a timezone-aware datetime."""
    if isinstance(at, _dt.datetime):
        if at.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware (datetime.now(timezone.utc)), got the naive {at!r}")
        return at.timestamp()
    if not is_real(at):
        raise TypeError(f"{name} must be seconds since the epoch or an aware datetime, not {type(at).__name__}")
    t = float(at)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be finite seconds since the epoch (>= 0), got {at!r}")
    if t > MAX_TIMESTAMP:  # a call is priced at its UTC day, which a datetime must hold
        raise ValueError(f"{name} must be seconds since the epoch before the year 10000 (<= {MAX_TIMESTAMP:.0f}), "
                         f"got {at!r}; milliseconds or nanoseconds? divide by 1e3 or 1e9")
    return t


def money(value: Any, name: str, *, positive: bool = False) -> Decimal:
    """USD as an exact Decimal from a Decimal, int, str or float (a float by its shortest repr,
    so 0.1 is Decimal('0.1')). NaN, infinities and negatives are refused, and zero too where
    ``positive``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number of USD, not bool")
    if isinstance(value, Decimal):
        d = value
    elif is_int(value):
        d = Decimal(int(value))
    elif is_real(value):
        d = Decimal(repr(float(value)))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{name} must be a number of USD, got the string {value!r}") from None
    else:
        raise TypeError(f"{name} must be a number of USD (Decimal, int, float or str), not {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"{name} must be a finite number of USD, got {value!r}")
    if d < 0 or (positive and d == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} USD, got {value!r}")
    return d


def count(value: Any, name: str, *, positive: bool = False) -> int:
    """A token or call count: an int (numpy ints too), >= 0 (> 0 where ``positive``)."""
    if not is_int(value):
        if is_real(value) and math.isnan(float(value)):
            raise ValueError(f"{name} must be an integer count, got NaN")
        raise TypeError(f"{name} must be an integer count, not {type(value).__name__} {value!r}")
    n = int(value)
    if n < 0 or (positive and n == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {n}")
    if n > INT64_MAX:
        raise ValueError(f"{name} = {n} is too large (at most 2**63 - 1)")
    return n


def window_seconds(window: Any, name: str = "window") -> float:
    """A rolling window: "minute" / "hour" / "day" or a positive number of seconds."""
    if isinstance(window, str):
        if window not in WINDOWS:
            raise ValueError(f"{name} must be 'minute', 'hour', 'day' or seconds, not {window!r}")
        return WINDOWS[window]
    if not is_real(window):
        raise TypeError(f"{name} must be 'minute', 'hour', 'day' or seconds, not {type(window).__name__}")
    w = float(window)
    if not (math.isfinite(w) and w > 0):
        raise ValueError(f"{name} must be a positive finite number of seconds, got {window!r}")
    return w

