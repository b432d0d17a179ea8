"""The ledger: an append-only SQLite record of LLM calls, task outcomes and alerts, and the
TokenOps KPIs computed from it.

Every call is priced when it is recorded, with :func:`tokenops.cost` in exact mode (provider
responses, SDK objects, usage dicts and :class:`~tokenops.Usage` are accepted as the cost engine
accepts them; an unknown model is the engine's ``KeyError``, never a $0 row), at the prices in
effect on the call's day, unless the caller gives the call's cost (``record(..., cost=)``: a
price known from elsewhere, e.g. :func:`external_cost` of an OpenRouter or LiteLLM response);
the row's ``priced_by`` says which ("tokenops" or "external"). Tokens are stored by bucket (input
text / audio / image, cache reads, cache writes, output text, reasoning...) and the cost as an
exact decimal, in text.

Rows are never updated or deleted: SQLite triggers refuse it, also from another program. Each
write is one transaction (``BEGIN IMMEDIATE``; WAL journal for a file), so a crash loses at most
the write in flight and several processes may share one file.

Beside the record, one mutable table holds the *reservations* of calls in flight
(:meth:`Ledger.reserve`): the estimates a :class:`~tokenops.govern.Governor` holds between a
call's check and its record, shared by every process using the file. A reservation is deleted when
its call is recorded (in the same transaction), when it is released, when it expires, or at the
next write once its owner process is found dead on this host.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._args import INT64_MAX, is_real
from .._sqlite import access_error, cannot_open, immediate, use_wal
from ..pricing.catalog import Catalog, check_model_name
from ..pricing.engine import CostBreakdown, _call_tier, _check_tier, _provider_hint, cost
from ..pricing.usage import BUCKETS, INPUT_BUCKETS, OUTPUT_BUCKETS, Usage, _to_dict, normalize_usage
from ._checks import DECIMAL_CONTEXT, check_id, count, exact_decimals, money, timestamp, window_seconds

SCHEMA_VERSION = 1
KIND = "tokenops-ledger"
RESERVED_TAGS = ("task", "user", "model", "step")
_CTX = DECIMAL_CONTEXT  # quotients (cost per task...): 34 significant digits, whatever the caller's context
SERVICE_TIERS = ("standard", "batch", "flex", "priority")
# How a call was priced. Added after the first release: a file made before gets the column when it
# is opened (ALTER TABLE under the write lock), its rows reading 'tokenops', which is how they were
# priced. The schema version stays 1: the change is additive, so an earlier tokenops still opens
# and writes such a file (its rows take the default, again truthfully).
_PRICED_BY_COLUMN = ("priced_by TEXT NOT NULL DEFAULT 'tokenops' "
                     "CHECK (priced_by IN ('tokenops', 'external'))")
# The cost again as an integer of 1e-12 USD, when it is one (NULL otherwise): lets a quota check
# sum a window's costs in SQL, exactly, instead of reading every call of the window (timings in
# docs/govern.md). `cost` stays the record; rows without cost_pico (made before the column, by an
# older tokenops, or with more decimals) are summed from `cost` in Python.
_COST_PICO_COLUMN = "cost_pico INTEGER"
_PICO = Decimal(10) ** 12
_PICO_MAX = 2 ** 62  # a sum of many stays far from int64 overflow (which falls back anyway)


def _trimmed(d: Decimal) -> Decimal:
    """``d`` without trailing zeros after the point, in plain notation (0.010500000000 -> 0.0105)."""
    n = d.normalize()
    return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n  # type: ignore[operator]


def _pico(cost: Decimal) -> int | None:
    """``cost`` in whole 1e-12 USD, or None when it has more decimals or is too large."""
    p = cost * _PICO
    if p != p.to_integral_value() or abs(p) >= _PICO_MAX:
        return None
    return int(p)

# The calls in flight (Ledger.reserve): mutable (rows are deleted when the call is recorded or
# released, or once stale), so outside the append-only tables and their triggers. Added after the
# first release: a file made before gets it when it is opened (CREATE TABLE IF NOT EXISTS under the
# write lock). The schema version stays 1: the change is additive, and an earlier tokenops, which
# reads and writes only the tables it knows, still opens and writes such a file (it neither sees
# nor makes reservations there: its governors hold theirs in their own process).
# Covering indexes of a quota's window sums (usage_since): the sums read the index alone, not the
# rows.
# They replace the (at) and (user, at) indexes of files made before them, which they extend.
_USAGE_INDEXES = [
    "CREATE INDEX IF NOT EXISTS calls_at_usage ON calls (at, tokens, cost_pico)",
    "CREATE INDEX IF NOT EXISTS calls_user_at_usage ON calls (user, at, tokens, cost_pico)",
    "DROP INDEX IF EXISTS calls_at",
    "DROP INDEX IF EXISTS calls_user_at",
]
_RESERVATIONS = """CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT,
    user TEXT,
    calls INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
)"""

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    task TEXT,
    user TEXT,
    step TEXT,
    model TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    service_tier TEXT NOT NULL,
    {buckets},
    citation_tokens INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost TEXT NOT NULL,
    cache_hit INTEGER NOT NULL,
    saved_cost TEXT,
    tags TEXT NOT NULL,
    {priced_by},
    {cost_pico}
);
CREATE INDEX calls_task ON calls (task);
CREATE TABLE outcomes (task TEXT PRIMARY KEY, success INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX outcomes_at ON outcomes (at);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    task TEXT,
    user TEXT,
    value TEXT NOT NULL,
    median TEXT NOT NULL,
    z REAL NOT NULL,
    threshold REAL NOT NULL,
    history INTEGER NOT NULL,
    message TEXT NOT NULL
);
""".format(buckets=",\n    ".join(f"{b} INTEGER NOT NULL" for b in BUCKETS), priced_by=_PRICED_BY_COLUMN,
           cost_pico=_COST_PICO_COLUMN)
_TRIGGERS = [
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'the tokenops ledger is append-only: {t} rows are never {verb}'); END"
    for t in ("calls", "outcomes", "alerts", "meta") for op, verb in (("UPDATE", "updated"), ("DELETE", "deleted"))
]
# INSERT OR REPLACE deletes the row it conflicts with without firing DELETE triggers (SQLite runs
# them on REPLACE only with recursive_triggers on), so an insert that names an existing key is
# refused before the conflict is resolved. Added on open to files made before these triggers.
_INSERT_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_replace BEFORE INSERT ON {t} "
    f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {k} = NEW.{k}) "
    f"BEGIN SELECT RAISE(ABORT, 'the tokenops ledger is append-only: {t} rows are never replaced'); END"
    for t, k in (("calls", "id"), ("outcomes", "task"), ("alerts", "id"), ("meta", "key"))
]


@dataclass(frozen=True)
class Call:
    """One recorded call, as :meth:`Ledger.record` stored it."""

    id: int
    at: float
    task: str | None
    user: str | None
    step: str | None
    model: str  # the catalogue key (for an externally priced model the catalogue lacks: the model as given)
    requested_model: str
    tokens: int  # input + output tokens billed (cache reads and writes, reasoning included)
    input_tokens: int
    output_tokens: int
    cost: Decimal  # exact USD; 0 for a cache hit
    cache_hit: bool
    saved_cost: Decimal | None
    tags: Mapping[str, str]
    priced_by: str = "tokenops"  # "tokenops" (the cost engine) or "external" (record's cost=)
    breakdown: CostBreakdown | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class KPIs:
    """TokenOps KPIs of a ledger (see :meth:`Ledger.kpis` for the exact definitions)."""

    calls: int
    tokens: int
    cost: Decimal
    cache_hits: int
    cache_hit_rate: float | None
    saved_cost: Decimal
    cache_hits_without_saving: int
    cached_input_share: float | None
    untasked_cost: Decimal
    cost_by_model: dict[str, Decimal]
    cost_share_by_model: dict[str, float]
    tasks: int
    succeeded: int
    failed: int
    open_tasks: int
    success_rate: float | None
    task_cost: Decimal
    cost_per_completed_task: Decimal | None
    cost_per_task: Decimal | None
    tokens_per_task: float | None
    calls_per_task: float | None
    p50_cost_per_task: Decimal | None
    p95_cost_per_task: Decimal | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@exact_decimals
def percentile(values: list[Decimal], q: Decimal) -> Decimal | None:
    """The q-quantile (0 <= q <= 1) with linear interpolation between order statistics
    (numpy's default ``"linear"`` method), in exact decimals; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    frac = pos - lo
    if frac == 0 or lo + 1 >= len(xs):
        return xs[lo]
    return _CTX.add(xs[lo], _CTX.multiply(xs[lo + 1] - xs[lo], frac))


def _totals(rows: list[tuple[Any, ...]]) -> tuple[int, int, Decimal]:
    """(calls, tokens, exact cost) of (tokens, cost text, ...) rows."""
    return len(rows), sum(r[0] for r in rows), sum((Decimal(r[1]) for r in rows), Decimal(0))


def _of_user(sql: str, params: list[Any], user: str | None, all_users: bool) -> tuple[str, list[Any]]:
    """``sql`` (a WHERE clause's end) narrowed to the rows of ``user``, unless ``all_users``."""
    return (sql, params) if all_users else (sql + " AND user IS ?", [*params, user])


def _usd(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _div(a: Decimal, b: int) -> Decimal | None:
    return _CTX.divide(a, Decimal(b)) if b else None


def _model_of(response: Any) -> str | None:
    """The model a whole response names (OpenAI / Anthropic ``model``, Gemini ``modelVersion``)."""
    if response is None or isinstance(response, Usage):
        return None
    try:
        d = _to_dict(response)
    except TypeError:
        return None
    for key in ("model", "modelVersion", "model_version"):
        v = d.get(key) if isinstance(d, Mapping) else None
        if isinstance(v, str) and v:
            return v
    return None


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` of a mapping, ``obj.name`` of an object; None when absent."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _reported(value: Any, where: str) -> Decimal | None:
    """A reported cost: a number (int, float, Decimal, numpy scalar) as exact USD; None for
    anything else (absent, a str, a bool, a dict...: not a shape tokenops knows)."""
    if isinstance(value, bool) or not (isinstance(value, Decimal) or is_real(value)):
        return None
    return money(value, where)


def external_cost(response: Any) -> Decimal | None:
    """The USD cost a response reports for itself, as an exact Decimal, or None when it reports
    none. Pass it to :meth:`Ledger.record` as ``cost=`` (or to :meth:`TaskScope.call` as
    ``cost_of=external_cost``). Read, first found wins:

    * ``usage.cost`` (a dict key or an attribute; a number): OpenRouter's usage accounting, the
      cost of the call in credits (1 credit = 1 USD), as OpenRouter billed it; LiteLLM also puts
      its own computed cost there when ``litellm.include_cost_in_streaming_usage`` is set. A
      bare usage (a mapping or object with ``prompt_tokens`` or ``completion_tokens`` and a
      numeric ``cost``) is read the same way.
    * ``_hidden_params["response_cost"]`` of a LiteLLM response (``ModelResponse`` and LiteLLM's
      other response types; a dict or LiteLLM's ``HiddenParams``): the cost LiteLLM computed with
      its own price map. LiteLLM leaves it None when it could not price the call, and sets 0.0
      for a hit of LiteLLM's own cache.

    Every other shape gives None, and so does a ``cost`` that is not a number (a str, a bool, a
    breakdown dict such as Perplexity's ``usage.cost``): nothing is guessed. A number that is not
    a valid amount (negative, NaN, infinite) is a ValueError. Floats are read by their shortest
    repr (0.00012 is ``Decimal('0.00012')``).
    """
    if response is None or isinstance(response, Usage):
        return None
    usage = _field(response, "usage")
    if usage is not None:
        c = _reported(_field(usage, "cost"), "usage.cost")
        if c is not None:
            return c
    elif _field(response, "prompt_tokens") is not None or _field(response, "completion_tokens") is not None:
        c = _reported(_field(response, "cost"), "usage cost")
        if c is not None:
            return c
    hidden = None if isinstance(response, Mapping) else getattr(response, "_hidden_params", None)
    if hidden is not None:
        return _reported(_field(hidden, "response_cost"), "_hidden_params['response_cost']")
    return None


def _set_aside_cost_details(d: Any) -> Any:
    """``d`` (a response or usage as a dict) without OpenRouter's ``usage.cost_details``: USD
    (``upstream_inference_cost``...), not tokens, which the usage normaliser would refuse as an
    unknown ``*_details`` split. Used for an externally priced call only: the cost engine keeps
    refusing it."""
    if not isinstance(d, Mapping):
        return d
    u = d.get("usage")
    if u is None:
        return {k: v for k, v in d.items() if k != "cost_details"} if "cost_details" in d else d
    u = _to_dict(u)
    if isinstance(u, Mapping) and "cost_details" in u:
        return {**d, "usage": {k: v for k, v in u.items() if k != "cost_details"}}
    return d


def _check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise TypeError(f"tags must be a dict of str -> str, not {type(tags).__name__}")
    out = {}
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"tags must map str to str; got {k!r}: {type(v).__name__} {v!r}")
        if k in RESERVED_TAGS:
            raise ValueError(f"tag {k!r} is reserved (it is a column of the ledger: {', '.join(RESERVED_TAGS)}); "
                             "pass it as its own argument or rename the tag")
        out[k] = v
    return dict(sorted(out.items()))


_OWNER: tuple[int, str] | None = None  # (pid, owner) of this process; made again in a forked child


def _host() -> str:
    """This host as an owner names it: the host name, and on Linux the PID namespace (two
    containers with one host name but their own PIDs are two hosts)."""
    try:
        ns = os.readlink("/proc/self/ns/pid")  # 'pid:[4026531836]'
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}/{ns.replace(':', '')}"


def _owner() -> str:
    """'host:pid:random token': who holds a reservation (the token tells a reused pid apart)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        _OWNER = (pid, f"{_host()}:{pid}:{secrets.token_hex(8)}")
    return _OWNER[1]


def _dead(owner: str) -> bool:
    """True when ``owner``'s process is known to be gone: it ran on this host and its pid no
    longer exists (``os.kill(pid, 0)``; POSIX only: on Windows that call would end the process).
    A process on another host, or one this one may not signal, counts as alive."""
    host, pid, _token = owner.rsplit(":", 2)
    if os.name != "posix" or host != _owner().rsplit(":", 2)[0] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, under another user
        return False
    return False


class Ledger:
    """An append-only record of LLM calls, task outcomes and alerts (see the module docstring).

    >>> ledger = tokenops.govern.Ledger()               # in memory; Ledger("calls.sqlite") persists
    >>> ledger.record({"prompt_tokens": 1000, "completion_tokens": 200}, model="gpt-4o", task="t1", user="ana")
    >>> ledger.finish_task("t1", success=True)
    >>> ledger.kpis().cost_per_completed_task             # Decimal('0.0045')

    ``catalog``: the price catalogue (default: the shipped one). ``clock``: the time source for
    calls recorded without ``at`` (seconds since the epoch; tests pass a fake clock).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, catalog: Catalog | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if catalog is not None and not isinstance(catalog, Catalog):
            raise TypeError(f"catalog must be a tokenops.Catalog or None, not {type(catalog).__name__}")
        if not callable(clock):
            raise TypeError(f"clock must be a function returning seconds since the epoch, not {type(clock).__name__}")
        self.catalog = catalog
        self.clock = clock
        self._lock = threading.RLock()
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file path or None, not {type(path).__name__}")
        self.path = None if path is None else Path(os.fspath(path)).expanduser()
        if self.path is not None and self.path.is_dir():
            raise ValueError(f"{self.path} is a directory, not a ledger file; pass a file path")
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                       check_same_thread=False, isolation_level=None, timeout=30.0)
        except sqlite3.Error as e:
            raise OSError(f"cannot open the ledger file {self.path}: {e}") from None
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            self._db.close()
            if access_error(e):  # read-only, locked, I/O: not a verdict on the file
                raise cannot_open("ledger file", self.path, e) from None
            raise ValueError(f"{self.path} is not a tokenops ledger file (SQLite said: {e}); pass another path") from None
        except ValueError:
            self._db.close()
            raise

    def _open(self) -> None:
        db = self._db
        with immediate(db):
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            tables.discard("sqlite_sequence")
            if not tables:
                for stmt in [s for s in _TABLES.split(";\n") if s.strip()] + _TRIGGERS:
                    db.execute(stmt)
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                               [("kind", KIND), ("schema_version", str(SCHEMA_VERSION))])
            else:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
                if meta.get("kind") != KIND:
                    raise ValueError(f"{self.path} is an SQLite file but not a tokenops ledger (tables: "
                                     f"{', '.join(sorted(tables))}); pass another path")
                if meta.get("schema_version") != str(SCHEMA_VERSION):
                    raise ValueError(f"ledger {self.path} has schema version {meta.get('schema_version')}; "
                                     f"this tokenops reads version {SCHEMA_VERSION}")
                columns = {r[1] for r in db.execute("PRAGMA table_info(calls)")}
                if "priced_by" not in columns:
                    db.execute(f"ALTER TABLE calls ADD COLUMN {_PRICED_BY_COLUMN}")  # a file made before it
                if "cost_pico" not in columns:
                    db.execute(f"ALTER TABLE calls ADD COLUMN {_COST_PICO_COLUMN}")  # old rows: NULL
            for stmt in _INSERT_TRIGGERS:
                db.execute(stmt)
            db.execute(_RESERVATIONS)  # a file made before the table gets it
            for stmt in _USAGE_INDEXES:  # and a file made before cost_pico, these
                db.execute(stmt)
        if self.path is not None:
            use_wal(db)

    def _now(self) -> float:
        """The ledger's clock, checked: a clock that gives NaN, a negative or a non-number would
        put every call outside every window (quotas would pass) and every reservation out of
        force, so it is a ValueError / TypeError naming clock()."""
        return timestamp(self.clock(), "clock()")

    # ------------------------------------------------------------------ writes
    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Runs ``fn`` in one IMMEDIATE transaction (other writers wait; all or nothing), after
        deleting the stale reservations (expired, or of a dead process)."""
        with self._lock, immediate(self._db):
            self._drop_stale(self._db)
            return fn(self._db)

    def _drop_stale(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM reservations WHERE expires_at <= ?", (self._now(),))
        dead = [o for (o,) in db.execute("SELECT DISTINCT owner FROM reservations") if _dead(o)]
        if dead:
            db.execute(f"DELETE FROM reservations WHERE owner IN ({', '.join('?' * len(dead))})", dead)

    # ------------------------------------------------------------------ reservations
    @exact_decimals
    def reserve(self, check: Callable[[], Any], *, task: str | None = None, user: str | None = None,
                tokens: int = 0, cost: Any = 0, ttl: float = 600.0) -> int:
        """Holds one call in flight (``tokens``, ``cost`` USD, of ``task`` and ``user``) until
        :meth:`release` or :meth:`record` with ``release=`` deletes it, or for ``ttl`` seconds of
        the ledger's clock at most; returns its id. ``check()`` runs first, in the same write
        transaction: it sees what is recorded and reserved as of now (``task_usage``,
        ``usage_since``, :meth:`reserved`), and other writers, in this process or another, wait
        until the reservation is stored, so two of them cannot both pass their check on the same
        remaining budget. An exception from ``check`` refuses the call: nothing is held."""
        task = check_id(task, "task")
        user = check_id(user, "user")
        n = count(tokens, "tokens")
        c = money(cost, "cost")
        life = window_seconds(ttl, "ttl")

        def write(db: sqlite3.Connection) -> int:
            check()
            now = self._now()
            cur = db.execute("INSERT INTO reservations (task, user, calls, tokens, cost, owner, created_at, "
                             "expires_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
                             (task, user, n, str(c), _owner(), now, now + life))
            return int(cur.lastrowid)

        return int(self._write(write))

    def release(self, reservation: int) -> None:
        """Deletes a reservation (:meth:`reserve`) whose call was not recorded; one already gone
        (released, expired, dropped) is no error."""
        self._write(lambda db: db.execute("DELETE FROM reservations WHERE id = ?", (reservation,)))

    @exact_decimals
    def reserved(self, *, task: str | None = None, user: str | None = None,
                 all_users: bool = False) -> tuple[int, int, Decimal]:
        """(calls, tokens, exact cost) held in flight by every process using this ledger: the
        live reservations of ``task`` when given, else of ``user`` (None: calls without a user) or
        of everyone with ``all_users``. Expired ones and those of a process found dead on this
        host are left out (the next write deletes them)."""
        sql, params = "SELECT tokens, cost, owner FROM reservations WHERE expires_at > ?", [self._now()]
        if task is not None:
            sql, params = sql + " AND task = ?", [*params, task]
        else:
            sql, params = _of_user(sql, params, user, all_users)
        rows = self._query(sql, params)
        dead = {o for o in {r[2] for r in rows} if _dead(o)}
        return _totals([r for r in rows if r[2] not in dead])

    def price(self, usage: Any, model: str, *, at: float | None = None, service_tier: str = "auto",
              api: str | None = None) -> CostBreakdown:
        """The exact cost of one call (``tokenops.cost`` at the prices of ``at``'s day, UTC)."""
        import datetime as dt

        day = None if at is None else dt.datetime.fromtimestamp(at, dt.timezone.utc).date()
        return cost(model, usage, "exact", self.catalog, service_tier=service_tier, api=api, date=day)

    @exact_decimals
    def record(self, response: Any = None, *, model: str | None = None, task: str | None = None,
               user: str | None = None, step: str | None = None, tags: Mapping[str, str] | None = None,
               cache_hit: bool = False, saved_cost: Any = None, cost: Any = None, at: Any = None,
               service_tier: str = "auto", api: str | None = None, release: int | None = None) -> Call:
        """Prices and stores one call; returns the stored :class:`Call`.

        ``response``: a provider response or usage (as :func:`tokenops.cost` takes it). ``model``:
        the model called; by default the one the response names (``model`` / ``modelVersion``).
        ``cache_hit=True``: the call was answered from a response cache, so nothing was billed: the
        row's tokens and cost are 0 and ``saved_cost`` is what the call would have cost (by default
        the price of ``response``, the cached answer's usage; None when neither is given: a hit
        whose saving is unknown, counted apart by the KPIs). ``at``: when the call was made
        (seconds since the epoch or an aware datetime; default: the ledger's clock); the call is
        priced at that day's prices.

        ``cost``: the call's cost in USD when it is known from elsewhere (a self-hosted or
        fine-tuned model the catalogue lacks, a negotiated price, :func:`external_cost` of an
        OpenRouter or LiteLLM response); a Decimal, int, str or float (by its shortest repr),
        >= 0. It is stored exactly as given, with ``priced_by = "external"``, and the catalogue
        is not asked for a price: a model it does not know is stored under the name given, one
        it knows under its catalogue key. The tokens are still read from ``response`` as the
        cost engine reads them (a usage it cannot read is the same error; OpenRouter's
        ``usage.cost_details``, which holds USD, is set aside); with ``response=None`` the row
        has 0 tokens (a bill with no token usage, e.g. an image generation). ``cost`` with
        ``cache_hit=True`` is a ValueError: a hit bills nothing (``saved_cost`` is for what it
        avoided).

        A task belongs to one user (a call of a task with another user is a ValueError) and takes
        no calls once finished (ValueError): a late call would change a closed task's cost.

        ``release``: the id of the call's reservation (:meth:`reserve`), deleted in the same
        transaction as the call is stored (when storing fails, it stays: :meth:`release` it).
        """
        if not isinstance(cache_hit, bool):
            raise TypeError(f"cache_hit must be a bool, not {type(cache_hit).__name__}")
        task = check_id(task, "task")
        user = check_id(user, "user")
        step = check_id(step, "step")
        tag_map = _check_tags(tags)
        t = self._now() if at is None else timestamp(at, "at")
        if model is None:
            model = _model_of(response)
            if model is None:
                raise TypeError("record() needs model=: the response does not name its model")
        elif not isinstance(model, str):
            raise TypeError(f"model must be a str, not {type(model).__name__} {model!r}")
        saved = None if saved_cost is None else money(saved_cost, "saved_cost")
        if saved is not None and not cache_hit:
            raise ValueError("saved_cost is the cost a cache hit avoided; pass cache_hit=True with it")
        external = None if cost is None else money(cost, "cost")
        if external is not None and cache_hit:
            raise ValueError("cost= is what a call billed and a cache hit bills nothing: record the hit without "
                             "cost= (saved_cost= is what it avoided)")
        breakdown: CostBreakdown | None = None
        counts = dict.fromkeys(BUCKETS, 0)
        citation = 0
        if external is not None:
            key, tier, read = self._unpriced(response, model, service_tier, api)
            if read is not None:
                counts = read.as_dict()
                citation = read.citation_tokens
        elif response is None:
            if not cache_hit:
                raise TypeError("record() needs the call's response or usage (None is accepted only "
                                "with cache_hit=True or cost=)")
            key = (self.catalog or Catalog.default()).resolve(model).key  # unknown model: KeyError
            tier = "standard" if service_tier == "auto" else service_tier
        else:
            breakdown = self.price(response, model, at=t, service_tier=service_tier, api=api)
            key, tier = breakdown.model, breakdown.service_tier
            if cache_hit:
                if saved is None:
                    saved = breakdown.total_exact
            else:
                u = breakdown.usage if breakdown.usage is not None else normalize_usage(response, api=api)
                counts = u.as_dict()
                citation = u.citation_tokens
        if external is not None:
            total = external
        else:
            total = Decimal(0) if cache_hit or breakdown is None else breakdown.total_exact
        assert total is not None
        priced_by = "tokenops" if external is None else "external"
        n_in = sum(counts[b] for b in INPUT_BUCKETS) + citation
        n_out = sum(counts[b] for b in OUTPUT_BUCKETS)
        if n_in + n_out > INT64_MAX:  # SQLite's integers are 64-bit
            raise ValueError(f"the call's token count ({n_in + n_out:,}) is more than a ledger can store "
                             "(2**63 - 1); is the usage right?")
        row = {"at": t, "task": task, "user": user, "step": step, "model": key, "requested_model": model,
               "service_tier": tier, **counts, "citation_tokens": citation, "tokens": n_in + n_out,
               "cost": str(total), "cache_hit": int(cache_hit), "saved_cost": None if saved is None else str(saved),
               "tags": json.dumps(tag_map, sort_keys=True), "priced_by": priced_by,
               "cost_pico": _pico(total)}

        def write(db: sqlite3.Connection) -> int:
            if task is not None:
                done = db.execute("SELECT success FROM outcomes WHERE task = ?", (task,)).fetchone()
                if done is not None:
                    raise ValueError(f"task {task!r} is already finished ({'success' if done[0] else 'failure'}); "
                                     "a finished task takes no more calls: use a new task id")
                owner = db.execute("SELECT user FROM calls WHERE task = ? LIMIT 1", (task,)).fetchone()
                if owner is not None and owner[0] != user:
                    raise ValueError(f"task {task!r} belongs to user {owner[0]!r}, not {user!r}")
            cols = ", ".join(row)
            cur = db.execute(f"INSERT INTO calls ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            if release is not None:
                db.execute("DELETE FROM reservations WHERE id = ?", (release,))
            return int(cur.lastrowid)

        rid = self._write(write)
        return Call(id=rid, at=t, task=task, user=user, step=step, model=key, requested_model=model,
                    tokens=n_in + n_out, input_tokens=n_in, output_tokens=n_out, cost=total, cache_hit=cache_hit,
                    saved_cost=saved, tags=tag_map, priced_by=priced_by, breakdown=breakdown)

    def _unpriced(self, response: Any, model: str, service_tier: str,
                  api: str | None) -> tuple[str, str, Usage | None]:
        """(model key, service tier, usage) of an externally priced call, read as the cost engine
        reads them but without a price: the catalogue key when the catalogue knows ``model``, else
        ``model`` itself; the tier the response names (else standard) unless ``service_tier``
        names one (contradicting the response: ValueError); the usage normalised with the
        model's provider as the engine does (None for no response)."""
        check_model_name(model)
        _check_tier(service_tier)
        if service_tier != "auto" and service_tier not in SERVICE_TIERS:
            raise ValueError(f"unknown service_tier {service_tier!r}; use one of {', '.join(SERVICE_TIERS)}")
        try:
            info = (self.catalog or Catalog.default()).resolve(model)
            key, provider = info.key, info.provider
        except KeyError:  # not in the catalogue: fine, the caller priced it
            key, provider = model, None
        provider = provider or _provider_hint(model)
        if response is None:
            return key, "standard" if service_tier == "auto" else service_tier, None
        d = response if isinstance(response, Usage) else _set_aside_cost_details(_to_dict(response))
        return key, _call_tier(d, service_tier), normalize_usage(d, api=api, provider=provider)

    def finish_task(self, task: str, success: bool = True, *, at: Any = None, allow_no_calls: bool = False) -> None:
        """Records a task's outcome, once (a second outcome is a ValueError; nothing is rewritten).
        A task with no recorded call is a ValueError (a mistyped id would count a success that
        never ran) unless ``allow_no_calls``."""
        task = check_id(task, "task", optional=False)
        if not isinstance(success, bool):
            raise TypeError(f"success must be a bool, not {type(success).__name__}")
        t = self._now() if at is None else timestamp(at, "at")

        def write(db: sqlite3.Connection) -> None:
            done = db.execute("SELECT success FROM outcomes WHERE task = ?", (task,)).fetchone()
            if done is not None:
                raise ValueError(f"task {task!r} is already finished ({'success' if done[0] else 'failure'}); "
                                 "an outcome is recorded once")
            if not allow_no_calls and db.execute("SELECT 1 FROM calls WHERE task = ? LIMIT 1", (task,)).fetchone() is None:
                raise ValueError(f"task {task!r} has no recorded calls (a typo?); pass allow_no_calls=True to "
                                 "record the outcome of a task that made none")
            db.execute("INSERT INTO outcomes (task, success, at) VALUES (?, ?, ?)", (task, int(success), t))

        self._write(write)

    def _add_alert(self, alert: Any) -> None:
        self._write(lambda db: db.execute(
            "INSERT INTO alerts (at, kind, scope, task, user, value, median, z, threshold, history, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (alert.at, alert.kind, alert.scope, alert.task, alert.user, str(alert.value), str(alert.median),
             alert.z, alert.threshold, alert.history, alert.message)))

    # ------------------------------------------------------------------ reads
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def task_outcome(self, task: str) -> bool | None:
        """True / False once the task is finished, None while it is open (or unknown)."""
        r = self._query("SELECT success FROM outcomes WHERE task = ?", (check_id(task, "task", optional=False),))
        return None if not r else bool(r[0][0])

    @exact_decimals
    def task_usage(self, task: str) -> tuple[int, int, Decimal]:
        """(calls, tokens, exact cost) recorded for ``task`` so far."""
        rows = self._query("SELECT tokens, cost FROM calls WHERE task = ?", (check_id(task, "task", optional=False),))
        return _totals(rows)

    @exact_decimals
    def usage_since(self, since: float, user: str | None = None, *, until: float | None = None,
                    all_users: bool = False) -> tuple[int, int, Decimal]:
        """(calls, tokens, exact cost) of calls made at ``since`` < t <= ``until`` (default: no
        upper bound): of ``user`` (None: calls without a user), or of everyone with ``all_users``."""
        where, params = "at > ?", [since]
        if until is not None:
            where += " AND at <= ?"
            params.append(until)
        where, params = _of_user(where, params, user, all_users)
        try:  # counts, tokens and the integer costs summed by SQLite; the rest read from `cost`
            n, tokens, pico, n_pico = self._query(
                f"SELECT COUNT(*), COALESCE(SUM(tokens), 0), COALESCE(SUM(cost_pico), 0), COUNT(cost_pico)"
                f" FROM calls WHERE {where}", params)[0]
        except sqlite3.OperationalError as e:  # integer overflow of SUM: every cost from its text
            if "overflow" not in str(e):
                raise
            return _totals(self._query(f"SELECT tokens, cost FROM calls WHERE {where}", params))
        total = Decimal(pico).scaleb(-12)
        if n_pico < n:
            rest = self._query(f"SELECT cost FROM calls WHERE {where} AND cost_pico IS NULL", params)
            total += sum((Decimal(r[0]) for r in rest), Decimal(0))
        return int(n), int(tokens), _trimmed(total)

    @exact_decimals
    def window_sums(self, until: float, window: float, n: int, user: str | None = None, *,
                    all_users: bool = False) -> list[tuple[int, Decimal]]:
        """(tokens, exact cost) of the calls in each of ``n`` consecutive windows ending at
        ``until``: entry i sums the calls made at until - (i+1)·window < t <= until - i·window
        (t in window i when floor((until - t) / window) = i), of ``user`` or of everyone with
        ``all_users``. SQLite bins and sums them over the usage index."""
        since = until - n * window
        where, params = _of_user("at > ? AND at <= ?", [since, until], user, all_users)
        tokens, cost = [0] * n, [Decimal(0)] * n
        bin_of = "CAST((? - at) / ? AS INTEGER)"
        try:
            rows = self._query(f"SELECT {bin_of} AS i, COALESCE(SUM(tokens), 0), COALESCE(SUM(cost_pico), 0), "
                               f"COUNT(*), COUNT(cost_pico) FROM calls WHERE {where} GROUP BY i",
                               [until, window, *params])
        except sqlite3.OperationalError as e:  # integer overflow of SUM: every cost from its text
            if "overflow" not in str(e):
                raise
            rows = None
        if rows is None or any(r[3] != r[4] for r in rows):  # some cost only as text (or overflow)
            text_rows = self._query(f"SELECT {bin_of}, tokens, cost, cost_pico FROM calls WHERE {where}"
                                    + ("" if rows is None else " AND cost_pico IS NULL"),
                                    [until, window, *params])
            for i, t, c, _ in text_rows:
                if 0 <= i < n:
                    if rows is None:
                        tokens[i] += t
                    cost[i] += Decimal(c)
        for i, t, pico, _, _ in rows or ():
            if 0 <= i < n:  # float rounding at the far edge
                tokens[i] += int(t)
                cost[i] += Decimal(pico).scaleb(-12)
        return [(t, _trimmed(c)) for t, c in zip(tokens, cost)]

    @exact_decimals
    def finished_totals(self, n: int, *, exclude: str | None = None) -> list[tuple[Decimal, int]]:
        """(exact cost, tokens) of the last ``n`` finished tasks, latest finish first (ties: the
        latest recorded outcome), ``exclude`` left out."""
        last = self._query("SELECT task FROM outcomes WHERE task IS NOT ? ORDER BY at DESC, rowid DESC LIMIT ?",
                           (exclude, n))
        tasks = [r[0] for r in last]
        totals = {t: [Decimal(0), 0] for t in tasks}
        if tasks:
            rows = self._query(f"SELECT task, cost, tokens FROM calls WHERE task IN ({', '.join('?' * len(tasks))})",
                               tasks)
            for task, c, n_tok in rows:
                totals[task][0] += Decimal(c)
                totals[task][1] += n_tok
        return [(totals[t][0], totals[t][1]) for t in tasks]

    def first_call_at(self, user: str | None = None, *, all_users: bool = False) -> float | None:
        """When the first call (of ``user``, or of anyone) was made; None if there is none."""
        if all_users:
            r = self._query("SELECT MIN(at) FROM calls")
        else:
            r = self._query("SELECT MIN(at) FROM calls WHERE user IS ?", (user,))
        return r[0][0]

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM calls")[0][0])

    def calls(self, *, since: Any = None, until: Any = None, task: str | None = None, user: str | None = None) -> Any:
        """The calls (since <= at < until) as a pandas DataFrame, one row per call in recording
        order: id, at (seconds), time (UTC), task, user, step, model, requested_model,
        service_tier, one column per token bucket, citation_tokens, tokens, cost and saved_cost
        (exact ``Decimal`` objects), cache_hit, tags (a dict) and priced_by ("tokenops": the cost
        engine priced the call; "external": ``record(..., cost=)`` gave its cost)."""
        import pandas as pd

        where, params = self._window("at", since, until)
        for name, v in (("task", task), ("user", user)):
            if v is not None:
                where.append(f"{name} = ?")
                params.append(check_id(v, name))
        cur = self._db_cursor(f"SELECT * FROM calls{_where(where)} ORDER BY id", params)
        cols, rows = cur
        df = pd.DataFrame(rows, columns=cols)
        df.insert(2, "time", pd.to_datetime(df["at"], unit="s", utc=True))
        df["cost"] = [Decimal(c) for c in df["cost"]]
        df["saved_cost"] = [_usd(c) for c in df["saved_cost"]]
        df["cache_hit"] = df["cache_hit"].astype(bool)
        df["tags"] = [json.loads(t) for t in df["tags"]]
        return df.drop(columns="cost_pico")  # `cost` again, for the window sums

    def tasks(self) -> Any:
        """One row per task: task, user, calls, tokens, cost (exact ``Decimal``), cache_hits,
        first_at / last_at (its calls), status ("success", "failure" or "open") and finished_at."""
        import pandas as pd

        out = self._task_table()
        return pd.DataFrame(out, columns=["task", "user", "calls", "tokens", "cost", "cache_hits", "first_at",
                                          "last_at", "status", "finished_at"])

    def alerts(self) -> Any:
        """The alerts recorded by a :class:`~tokenops.govern.Governor`, as a pandas DataFrame."""
        import pandas as pd

        cols, rows = self._db_cursor("SELECT * FROM alerts ORDER BY id", [])
        return pd.DataFrame(rows, columns=cols)

    def _db_cursor(self, sql: str, params: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            cur = self._db.execute(sql, tuple(params))
            return [d[0] for d in cur.description], cur.fetchall()

    @exact_decimals
    def _task_table(self) -> list[tuple[Any, ...]]:
        rows = self._query("SELECT task, user, tokens, cost, cache_hit, at FROM calls WHERE task IS NOT NULL ORDER BY id")
        outcomes = {t: (s, a) for t, s, a in self._query("SELECT task, success, at FROM outcomes")}
        agg: dict[str, list[Any]] = {}
        for task, user, tokens, c, hit, at in rows:
            a = agg.setdefault(task, [task, user, 0, 0, Decimal(0), 0, at, at])
            a[2] += 1
            a[3] += tokens
            a[4] += Decimal(c)
            a[5] += hit
            a[7] = max(a[7], at)
        for task in outcomes.keys() - agg.keys():  # finished with allow_no_calls
            agg[task] = [task, None, 0, 0, Decimal(0), 0, None, None]
        out = []
        for task, a in agg.items():
            o = outcomes.get(task)
            status = "open" if o is None else ("success" if o[0] else "failure")
            out.append((*a, status, None if o is None else o[1]))
        return out

    @staticmethod
    def _window(col: str, since: Any, until: Any) -> tuple[list[str], list[Any]]:
        where, params = [], []
        if since is not None:
            where.append(f"{col} >= ?")
            params.append(timestamp(since, "since"))
        if until is not None:
            where.append(f"{col} < ?")
            params.append(timestamp(until, "until"))
        return where, params

    # ------------------------------------------------------------------ KPIs
    @exact_decimals
    def kpis(self, *, since: Any = None, until: Any = None, by: str | None = None) -> Any:
        """TokenOps KPIs. Without ``by``: a :class:`KPIs`; with ``by``: a pandas DataFrame, one
        row per group (index: the group), the same fields as columns.

        Definitions (exact decimals for money; quotients to 34 significant digits):

        * Call metrics cover the calls made at ``since`` <= at < ``until``: ``calls``, ``tokens``,
          ``cost`` (their exact sum), ``cache_hits`` and ``cache_hit_rate`` (calls recorded with
          ``cache_hit=True`` / calls), ``saved_cost`` (sum of the hits' saved costs;
          ``cache_hits_without_saving`` counts the hits whose saving was not given),
          ``cached_input_share`` (provider prompt-cache reads / input tokens), ``untasked_cost``
          (calls with no task), ``cost_by_model`` and ``cost_share_by_model`` (catalogue keys; for an
          externally priced model the catalogue lacks, the name given). Every stored cost counts,
          engine-priced or given with ``record(..., cost=)``.
        * Task metrics cover the tasks *finished* at ``since`` <= finished < ``until``, each with
          all of its calls whenever made: ``tasks`` (finished, those that made no call included),
          ``succeeded``, ``failed``,
          ``success_rate`` = succeeded / tasks, ``task_cost`` = the cost of every call of those
          tasks, failed ones included, and **``cost_per_completed_task`` = task_cost /
          succeeded**: the TokenOps definition, which charges the cost of failures to the tasks
          that succeeded (None when none did). ``cost_per_task`` = task_cost / tasks;
          ``tokens_per_task`` and ``calls_per_task`` are means over finished tasks;
          ``p50_cost_per_task`` / ``p95_cost_per_task`` are quantiles of the finished tasks'
          costs with linear interpolation (numpy's default). ``open_tasks``: tasks with calls in
          the window and no outcome yet (their calls are in the call metrics, not the task ones).

        ``by``: "user", "model", "step" or a tag name. A group's task metrics count the calls of
        the group only: for "user" these are whole tasks (a task has one user); for "model",
        "step" or a tag, a task counts in every group it has a call in, with that group's share of
        its cost (so ``cost_per_completed_task`` of a model is what that model cost per completed
        task it worked on). Calls without the attribute form the group None.
        """
        if by is not None and not isinstance(by, str):
            raise TypeError(f"by must be None, 'user', 'model', 'step' or a tag name, not {type(by).__name__}")
        if by == "task":
            raise ValueError("by='task' is one row per task: use ledger.tasks()")
        w_calls, p_calls = self._window("at", since, until)
        w_out, p_out = w_calls, p_calls  # calls and outcomes: the same window on their `at`
        finished = {t: bool(s) for t, s in self._query(f"SELECT task, success FROM outcomes{_where(w_out)}", p_out)}
        cond_calls = " AND ".join(w_calls) if w_calls else "1"
        out_sub = f"SELECT task FROM outcomes{_where(w_out)}"
        sql = (f"SELECT task, user, step, model, tags, tokens, cost, cache_hit, saved_cost, cache_read, "
               f"cache_read_audio, {' + '.join(INPUT_BUCKETS)} + citation_tokens, ({cond_calls}) AS in_window "
               f"FROM calls WHERE ({cond_calls}) OR task IN ({out_sub})")
        rows = self._query(sql, p_calls + p_calls + p_out)
        if by is None:
            return _summarise(rows, finished, every_finished_task=True)
        groups: dict[Any, list[tuple[Any, ...]]] = {}
        for r in rows:
            if by in ("user", "model", "step"):
                key = r[{"user": 1, "model": 3, "step": 2}[by]]
            else:
                key = json.loads(r[4]).get(by)
            groups.setdefault(key, []).append(r)
        import pandas as pd

        table = {k: _summarise(v, finished).as_dict() for k, v in groups.items()}
        order = sorted(table, key=lambda k: (k is None, "" if k is None else str(k)))
        df = pd.DataFrame([table[k] for k in order], index=pd.Index(order, name=by, dtype=object))
        return df

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({'memory' if self.path is None else str(self.path)!r})"


def _where(conds: list[str]) -> str:
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def _summarise(rows: list[tuple[Any, ...]], finished: Mapping[str, bool], *,
               every_finished_task: bool = False) -> KPIs:
    """KPIs of call rows (see Ledger.kpis): (task, user, step, model, tags, tokens, cost,
    cache_hit, saved_cost, cache_read, cache_read_audio, input_tokens, in_window).
    ``every_finished_task``: the task metrics count every task of ``finished``, also one that
    made no call (finished with ``allow_no_calls``, e.g. a scope refused at its first check);
    a group's (``by=``) count only the tasks with a call in the group."""
    calls = tokens = hits = unsaved = cached = inputs = 0
    total = saved = untasked = Decimal(0)
    by_model: dict[str, Decimal] = {}
    per_task: dict[str, list[Any]] = {}  # task -> [cost, tokens, calls]
    open_tasks: set[str] = set()
    if every_finished_task:
        for task in finished:
            per_task[task] = [Decimal(0), 0, 0]
    for task, _user, _step, model, _tags, n, c, hit, sc, cr, cra, n_in, in_window in rows:
        c = Decimal(c)
        if in_window:
            calls += 1
            tokens += n
            total += c
            by_model[model] = by_model.get(model, Decimal(0)) + c
            cached += cr + cra
            inputs += n_in
            if hit:
                hits += 1
                if sc is None:
                    unsaved += 1
                else:
                    saved += Decimal(sc)
            if task is None:
                untasked += c
            elif task not in finished:
                open_tasks.add(task)
        if task is not None and task in finished:
            a = per_task.setdefault(task, [Decimal(0), 0, 0])
            a[0] += c
            a[1] += n
            a[2] += 1
    n_tasks = len(per_task)
    ok = sum(1 for t in per_task if finished[t])
    task_cost = sum((a[0] for a in per_task.values()), Decimal(0))
    costs = [a[0] for a in per_task.values()]
    return KPIs(
        calls=calls, tokens=tokens, cost=total, cache_hits=hits, cache_hit_rate=hits / calls if calls else None,
        saved_cost=saved, cache_hits_without_saving=unsaved, cached_input_share=cached / inputs if inputs else None,
        untasked_cost=untasked, cost_by_model=dict(sorted(by_model.items())),
        cost_share_by_model={m: float(_CTX.divide(c, total)) for m, c in sorted(by_model.items())} if total else {},
        tasks=n_tasks, succeeded=ok, failed=n_tasks - ok, open_tasks=len(open_tasks),
        success_rate=ok / n_tasks if n_tasks else None, task_cost=task_cost,
        cost_per_completed_task=_div(task_cost, ok), cost_per_task=_div(task_cost, n_tasks),
        tokens_per_task=sum(a[1] for a in per_task.values()) / n_tasks if n_tasks else None,
        calls_per_task=sum(a[2] for a in per_task.values()) / n_tasks if n_tasks else None,
        p50_cost_per_task=percentile(costs, Decimal("0.5")), p95_cost_per_task=percentile(costs, Decimal("0.95")),
    )
