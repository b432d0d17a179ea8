"""Exact and semantic response caches with guards against false hits.

A :class:`Cache` answers a prompt it has seen before without calling the model. Two levels:

* **exact**: the same prompt (after Unicode NFC and whitespace normalisation), model and
  parameters: a hash look-up in SQLite;
* **semantic**: a prompt whose sentence embedding (tokenops' native MiniLM) is within
  ``threshold`` cosine of a cached one, in the same *partition* (namespace, model, parameters and,
  for chat prompts, every message but the last user message and that message's non-text parts,
  such as images), and that no **guard** vetoes. A prompt longer than the embedder reads
  (``max_tokens`` word pieces: the rest is truncated) is matched exactly only.

Guards (C++, ``tokenops/cache/guard.hpp``) catch what an embedding blurs: ``"numbers"`` (the sets
of numbers differ: "iPhone 12" vs "iPhone 13"), ``"negation"`` (one is negated), and, opt-in,
``"quoted"`` (a quoted or code span of one is not in the other: "Translate \\"I love cats\\"" vs
"... \\"I love dogs\\"") and ``"entities"`` (a capitalised name or acronym of one is not a word
of the other). The default is :data:`DEFAULT_GUARDS` (the first two).

Entries persist in SQLite when a ``path`` is given (WAL journal, one transaction per write,
``synchronous=NORMAL``: a crash of the application loses at most the write in flight; a power
loss or OS crash may also lose the last commits, never the file); vectors are searched with FAISS (``faiss-cpu``): an exact
scan, or HNSW once a partition holds ``hnsw_from`` entries (:mod:`tokenops.cache.index`). A cache file records the embedder it was built with and refuses
to mix vectors of another one.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import os
import sqlite3
import threading
import time
import unicodedata
import warnings
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from .. import _core
from .._args import check_threads, is_real, positive_int, sdk_dict
from .._sqlite import access_error, cannot_open, immediate, use_wal
from .index import (
    HNSW_EF_CONSTRUCTION,
    HNSW_FROM,
    HNSW_M,
    VectorIndex,
    check_kind,
    faiss_module,
    read_snapshot,
    read_snapshot_header,
    write_snapshot,
)

if TYPE_CHECKING:
    from ..embed import Embedder

GUARDS: tuple[str, ...] = ("numbers", "negation", "entities", "quoted")
_GUARD_BITS = {
    "numbers": _core.CACHE_GUARD_NUMBERS,
    "negation": _core.CACHE_GUARD_NEGATION,
    "entities": _core.CACHE_GUARD_ENTITIES,
    "quoted": _core.CACHE_GUARD_QUOTED,
}
# The defaults are the guards that the public paraphrase sets support (notebooks/
# semantic_cache_eval.ipynb, docs/cache.md): "numbers" gains precision at equal recall on QQP and
# MRPC; "negation" is about neutral there and catches opposite questions at cosine 0.95.
# "quoted" and "entities" are opt-in: on MRPC and the OSSChat clusters the quoted guard lowers
# precision at equal recall / costs right answers (one side quotes a term, the other does not),
# and entities vetoes 20% of the QQP duplicates and 61% of the MRPC paraphrases (spelling
# variants, a name added for context), while at cosine 0.9 the embedding already separates most
# swapped names ("Python" / "Java" 0.46).
DEFAULT_GUARDS: tuple[str, ...] = ("numbers", "negation")
DEFAULT_THRESHOLD = 0.9
SCHEMA_VERSION = 1

Prompt = Union[str, Sequence[Any]]


# ------------------------------------------------------------------------------------ guards
def _guard_mask(guards: Sequence[str] | str | None) -> int:
    if guards is None:
        return 0
    if isinstance(guards, str):
        guards = (guards,)
    mask = 0
    for g in guards:
        if not isinstance(g, str) or g not in _GUARD_BITS:
            raise ValueError(f"unknown cache guard {g!r}; the guards are {', '.join(GUARDS)}")
        mask |= _GUARD_BITS[g]
    return mask


def guard_names(bits: int) -> tuple[str, ...]:
    """The names of the guards whose bits are set in ``bits`` (a :func:`guard_batch` value)."""
    return tuple(g for g in GUARDS if int(bits) & _GUARD_BITS[g])


def guard(prompt: str, cached_prompt: str, guards: Sequence[str] | None = DEFAULT_GUARDS) -> tuple[str, ...]:
    """The guards (of ``guards``) that veto serving ``cached_prompt``'s response for ``prompt``;
    an empty tuple means the hit may stand.

    >>> guard("What is 15% of 80?", "What is 15% of 90?")
    ('numbers',)
    >>> guard("How do I learn Python?", "How do I learn Java?", guards=GUARDS)
    ('entities',)
    """
    return guard_names(_core.cache_guard(prompt, cached_prompt, _guard_mask(guards)))


def guard_batch(
    prompts: Sequence[str],
    cached_prompts: Sequence[str],
    guards: Sequence[str] | None = DEFAULT_GUARDS,
    *,
    num_threads: int = 0,
) -> np.ndarray:
    """:func:`guard` over pairs: a uint32 array of failed-guard bits (``guard_names`` decodes one;
    numbers 1, negation 2, entities 4, quoted 8), computed in C++ with the GIL released."""
    return _core.cache_guard_batch(
        prompts, cached_prompts, _guard_mask(guards), check_threads(num_threads)
    )


def signature(prompt: str) -> dict[str, Any]:
    """What the guards compare in ``prompt``: its numbers, entities, quoted spans and negation."""
    return dict(_core.cache_signature(prompt))


# ------------------------------------------------------------------------------------ prompts
def normalize_prompt(text: str) -> str:
    """The exact-match form of a prompt: Unicode NFC, whitespace runs as one space, trimmed.
    Case and punctuation are kept (they can change the answer)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _message_dict(m: Any, i: int) -> Mapping[str, Any]:
    if isinstance(m, Mapping):
        return m
    d = sdk_dict(m, exclude_none=True)
    if d is None:
        raise TypeError(
            f"prompt[{i}] must be a chat message (a dict with 'role' and 'content', or an SDK "
            f"message object), not {type(m).__name__}"
        )
    return d


def _content_text(content: Any, i: int) -> tuple[str, list[Any] | None]:
    """(text, parts): the text of a message's content, and, when it holds anything else (an
    image, audio, a file...), its parts with the text parts reduced to their type: those are
    not embedded, so they must match exactly."""
    if isinstance(content, str):
        return content, None
    if isinstance(content, Sequence):  # OpenAI / Anthropic content parts: the text parts
        texts, parts, other = [], [], False
        for p in content:
            p = p if isinstance(p, Mapping) else (sdk_dict(p, exclude_none=True) or {"unknown": repr(p)})
            if p.get("type") in ("text", "input_text") and isinstance(p.get("text"), str):
                texts.append(p["text"])
                parts.append({"type": p["type"]})
            else:
                other = True
                parts.append(p)
        return "\n".join(texts), parts if other else None
    raise TypeError(f"prompt[{i}]['content'] must be a str or a list of content parts")


def _split_prompt(prompt: Prompt) -> tuple[str, str]:
    """(context, text): ``text`` is what is embedded and guarded (the prompt, or the last user
    message of a chat), ``context`` everything else, which must match exactly."""
    if isinstance(prompt, str):
        return "", prompt
    if isinstance(prompt, (bytes, bytearray)):
        raise TypeError("prompt must be str or a list of chat messages, not bytes; decode it first")
    if not isinstance(prompt, Sequence) or isinstance(prompt, Mapping):
        raise TypeError(
            f"prompt must be str or a list of chat messages, not {type(prompt).__name__}"
        )
    messages = [_message_dict(m, i) for i, m in enumerate(prompt)]
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None)
    if last is None:
        raise ValueError("a chat prompt needs a message with role 'user' (its last one is what is matched)")
    text, parts = _content_text(messages[last].get("content"), last)
    final = {k: v for k, v in messages[last].items() if k != "content"}
    if parts is not None:  # an image (or other non-text part) is context: it must match exactly
        final["content"] = parts
    rest = messages[:last] + [final] + messages[last + 1 :]
    return _canonical(rest, "chat messages"), text


def _prompt_text(prompt: Prompt) -> str:
    """The prompt as stored: the str, or the chat messages as JSON."""
    if isinstance(prompt, str):
        return prompt
    msgs = [_message_dict(m, i) for i, m in enumerate(prompt)]
    return _canonical(msgs, "chat messages", ensure_ascii=True)  # ASCII: stores any str


def _dumps(obj: Any, what: str, **kw: Any) -> str:
    """json.dumps, its errors as a TypeError that starts with ``what``."""
    try:
        return json.dumps(obj, **kw)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: {e}") from None
    except RecursionError:
        raise TypeError(f"{what}: it is nested too deeply for JSON") from None


def _canonical(obj: Any, what: str, *, ensure_ascii: bool = False) -> str:
    return _dumps(obj, f"{what} must be JSON-serialisable", sort_keys=True, ensure_ascii=ensure_ascii,
                  separators=(",", ":"))


def _check_str_keys(obj: Any, what: str) -> None:
    """JSON writes a key 1 as "1": a mapping with a non-str key anywhere in ``obj`` is refused,
    so that two different requests cannot share one canonical form."""
    stack, seen = [obj], set()
    while stack:
        o = stack.pop()
        if isinstance(o, (Mapping, list, tuple)):
            if id(o) in seen:  # a cycle (json.dumps names it) or a shared part
                continue
            seen.add(id(o))
        if isinstance(o, Mapping):
            for k, v in o.items():
                if not isinstance(k, str):
                    raise TypeError(f"{what} keys must be str (JSON would write {k!r} as a string and "
                                    f"mix it up with one), got {type(k).__name__} {k!r}")
                stack.append(v)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)


def _check_cost(c: Any, i: int) -> float | None:
    if c is None:
        return None
    if isinstance(c, bool) or not isinstance(c, (int, float, Decimal)):
        raise TypeError(f"costs[{i}] must be a number or None, not {type(c).__name__}")
    f = float(c)
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"costs[{i}] must be a finite amount >= 0, got {c!r}")
    return f


def _no_nul(value: str, name: str) -> None:
    """The namespace and the model enter a key as raw text between NUL separators: a NUL in one
    would let ("a", "b\\x00c") and ("a\\x00b", "c") share a key, one tenant served another's
    entries (the params and the chat context enter as JSON, which escapes it)."""
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character ('\\x00'), got {value!r}")


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _stream_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A streamed answer is keyed apart from a whole one (its stored form is a list of chunks)."""
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping, not {type(params).__name__}")
    return {**(params or {}), "stream": True}


def _stored_chunks(hit: CacheHit) -> list[Any]:
    if not isinstance(hit.response, list):
        raise ValueError(f"the cached entry {hit.key[:12]}... under stream=True is not a list of chunks "
                         "(it was stored by put(), not by get_or_stream); delete it or key it apart")
    return hit.response


def _chunk_dicts(chunks: list[Any]) -> list[Any]:
    """The chunks as stored: SDK objects as their JSON dicts."""
    out = []
    for c in chunks:
        d = sdk_dict(c)
        out.append(d if d is not None else c)
    return out


def _chunk_cost(cost: Any, chunks: list[Any]) -> Any:
    """``cost`` for the stored chunks: a number as given; a function is applied to the chunks as
    the stream gave them (SDK objects), not to their stored dicts."""
    return (lambda _stored: cost(chunks)) if callable(cost) else cost


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class CacheHit:
    """A cached response served for a prompt."""

    response: Any
    kind: str  # "exact" or "semantic"
    similarity: float  # cosine of the two prompts' embeddings; 1.0 for an exact hit
    cached_prompt: str  # the matched text (the prompt, or the last user message of a chat)
    key: str
    created_at: float  # time.time() when it was stored
    hits: int  # times it was served, this one included


@dataclass(frozen=True)
class Lookup:
    """What a look-up found, for inspecting near misses: the hit (or None), the nearest cached
    prompt in the partition and its similarity, and the guards that vetoed candidates above the
    threshold."""

    hit: CacheHit | None
    nearest_prompt: str | None
    similarity: float | None
    rejected_by: tuple[str, ...]


_SNAPSHOT_MIN_CHANGES = 1024  # close() rewrites a snapshot once this many vectors (or 1%) changed


@dataclass
class _Partition:
    index: VectorIndex
    max_id: int = 0  # rows up to this id are in the index (ids only grow: AUTOINCREMENT)
    # how the snapshot on disk relates to the index: index.changes and index.rebuilds when the
    # snapshot was the index (None: no snapshot of this index)
    snapshot_changes: int | None = None
    snapshot_rebuilds: int = 0
    restored: bool = False  # the index came from a snapshot

    def snapshot_lag(self) -> float:
        """Vectors added or removed since the snapshot (inf: none, or the graph was rebuilt)."""
        if self.snapshot_changes is None or self.index.rebuilds != self.snapshot_rebuilds:
            return math.inf
        return self.index.changes - self.snapshot_changes


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    partition TEXT NOT NULL,
    exact_key TEXT NOT NULL UNIQUE,
    prompt TEXT NOT NULL,
    text TEXT NOT NULL,
    response TEXT NOT NULL,
    embedding BLOB,
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    cost REAL
);
CREATE INDEX IF NOT EXISTS entries_partition ON entries (partition);
CREATE INDEX IF NOT EXISTS entries_namespace_lru ON entries (namespace, last_used_at, id);
"""

# Entries per namespace, kept by triggers in the same transactions as the rows, so that a put with
# max_entries does not count the table (it did: 12 ms per put at 100k entries).
_COUNTS = [
    "CREATE TABLE counts (namespace TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    "INSERT INTO counts (namespace, n) SELECT namespace, COUNT(*) FROM entries GROUP BY namespace",
    "CREATE TRIGGER entries_counted AFTER INSERT ON entries BEGIN"
    " INSERT INTO counts (namespace, n) VALUES (NEW.namespace, 1)"
    " ON CONFLICT (namespace) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER entries_uncounted AFTER DELETE ON entries BEGIN"
    " UPDATE counts SET n = n - 1 WHERE namespace = OLD.namespace; END",
]
# every table, index and trigger of a complete file (one that lacks some is completed when opened)
_NAMES = {"meta", "entries", "counts", "entries_partition", "entries_namespace_lru",
          "entries_counted", "entries_uncounted"}


class Cache:
    """An exact + semantic response cache (see the module docstring).

    >>> cache = tokenops.Cache()                       # in memory; Cache("cache.sqlite") persists
    >>> cache.put("How do I reset my PIN?", "Settings > Security > Reset PIN", model="gpt-4o")
    >>> hit = cache.get("how can I reset my PIN", model="gpt-4o")
    >>> hit.kind, round(hit.similarity, 2)

    ``embedder``: ``"default"`` (all-MiniLM-L6-v2, native), an :class:`~tokenops.Embedder`, or
    ``None`` for an exact-only cache. ``threshold``: the cosine a semantic hit needs.
    ``guards``: the lexical vetoes (default :data:`DEFAULT_GUARDS`: numbers, negation;
    :data:`GUARDS` adds quoted and entities; ``()`` for none). ``ttl``: seconds an entry
    is served (older ones are not served and are removed on access). ``max_entries``: keeps the
    most recently used entries of a namespace when a put would exceed it. ``top_k``: how many
    candidates above the threshold, nearest first, a look-up may try when guards veto the nearer
    ones (default 1: a vetoed nearest neighbour is a miss; on the OSSChat clusters, trying 4
    served two answers of other clusters and gained none of the right one).
    ``index``: how a partition's vectors are searched: ``"flat"`` (exact scan, linear in the
    entries), ``"hnsw"`` (FAISS HNSW, approximate) or ``"auto"`` (flat until a partition holds
    ``hnsw_from`` entries, then HNSW; see :mod:`tokenops.cache.index` and docs/cache.md for its
    measured recall). ``persist_index``: a file cache keeps each HNSW graph in a snapshot
    beside its file (``<path>.index/``), written by :meth:`close` (or :meth:`save_index`) and
    read by the next process that opens the file instead of building the graph again; a
    snapshot that no longer matches the file is checked against its rows, or ignored.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | str | None = "default",
        threshold: float = DEFAULT_THRESHOLD,
        guards: Sequence[str] | None = DEFAULT_GUARDS,
        ttl: float | None = None,
        max_entries: int | None = None,
        top_k: int = 1,
        namespace: str = "default",
        index: str = "auto",
        hnsw_from: int = HNSW_FROM,
        persist_index: bool = True,
    ) -> None:
        if not is_real(threshold) or not -1.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold!r}")
        if ttl is not None and (not is_real(ttl) or not 0 < float(ttl) < math.inf):
            raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
        max_entries = None if max_entries is None else positive_int(max_entries, "max_entries")
        top_k = positive_int(top_k, "top_k")
        if not isinstance(namespace, str):
            raise TypeError(f"namespace must be str, not {type(namespace).__name__}")
        try:
            namespace.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"namespace is not valid Unicode: it holds a lone surrogate ({namespace[e.start]!r} at "
                             f"index {e.start}), which cannot be stored") from None
        _no_nul(namespace, "namespace")
        self.threshold = float(threshold)
        self._guards = tuple(guards or ())
        self._mask = _guard_mask(self._guards)
        self.ttl = None if ttl is None else float(ttl)
        self.max_entries = max_entries
        self.top_k = top_k
        self.index_kind = check_kind(index)
        self.hnsw_from = positive_int(hnsw_from, "hnsw_from")
        if not isinstance(persist_index, bool):
            raise TypeError(f"persist_index must be a bool, not {type(persist_index).__name__}")
        self.persist_index = persist_index
        self.namespace = namespace
        if embedder == "default":
            from ..embed import Embedder  # noqa: PLC0415

            embedder = Embedder.load()
        elif isinstance(embedder, str):
            raise ValueError(f"embedder must be 'default', an Embedder or None, not {embedder!r}")
        self.embedder = embedder
        # the word pieces the embedder reads ([CLS] and [SEP] included), when it says: a longer
        # text is truncated, so its vector shows only its beginning (None: an embedder that does
        # not say, trusted to see the whole text)
        window = getattr(embedder, "max_tokens", None)
        self._window = int(window) if is_real(window) and callable(getattr(embedder, "count_tokens", None)) \
            else None
        if embedder is not None:
            faiss_module()  # fail now, not at the first put
        self._lock = threading.RLock()
        self._partitions: dict[str, _Partition] = {}
        self._stats = {"lookups": 0, "exact_hits": 0, "semantic_hits": 0, "guard_rejections": 0,
                       "expired": 0, "misses": 0, "puts": 0, "saved_cost": 0.0}
        self.path = None if path is None else Path(os.fspath(path)).expanduser()
        try:
            self._db = sqlite3.connect(
                ":memory:" if self.path is None else str(self.path), check_same_thread=False,
            )  # default isolation: a write opens a transaction, `with self._db` commits it
        except sqlite3.Error as e:
            raise OSError(f"cannot open the cache file {self.path}: {e}") from None
        try:
            self._open_file()
        except sqlite3.DatabaseError as e:
            self._db.close()
            if access_error(e):  # read-only, locked, I/O: not a verdict on the file
                raise cannot_open("cache file", self.path, e) from None
            raise ValueError(
                f"{self.path} is not a tokenops cache file (SQLite said: {e}); pass another path"
            ) from None
        except BaseException:
            self._db.close()
            raise

    @property
    def guards(self) -> tuple[str, ...]:
        """The guards this cache applies (fixed when it is made; make another Cache on the same
        file for other guards)."""
        return self._guards

    def _layout(self) -> tuple[set[str], set[str], dict[str, str]]:
        """(tables, every schema name, meta) of the file as it is now."""
        rows = self._db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
        tables = {n for t, n in rows if t == "table"}
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        return tables, {n for _, n in rows}, meta

    def _refuse_foreign(self, tables: set[str], meta: Mapping[str, str]) -> None:
        if tables and (not {"meta", "entries"} <= tables or (meta and meta.get("format") != "tokenops.cache")):
            raise ValueError(
                f"{self.path} is an SQLite database of something else (tables: "
                f"{', '.join(sorted(tables))}); a cache needs a file of its own"
            )

    def _open_file(self) -> None:
        """Checks that the file is a cache (or new) before anything is written to it, then makes
        what it lacks (all of it for a new file; the counts of one written before they existed)
        in one write transaction, checked again under the lock: two processes opening a new
        file at once make it once, and neither sees it half made."""
        tables, names, meta = self._layout()
        self._refuse_foreign(tables, meta)
        if self.path is not None:
            use_wal(self._db)
            # each hit updates its counters: FULL would fsync every look-up (0.2-4 ms on disk)
            self._db.execute("PRAGMA synchronous=NORMAL")
        if not (_NAMES <= names and meta):
            with immediate(self._db):
                tables, names, meta = self._layout()
                self._refuse_foreign(tables, meta)
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                if "counts" not in tables:
                    for stmt in _COUNTS:
                        self._db.execute(stmt)
                if not meta:
                    self._db.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("format", "tokenops.cache"), ("schema_version", str(SCHEMA_VERSION)),
                         ("embedder", self._embedder_id())],
                    )
        self._check_meta()

    # ---------------------------------------------------------------- file metadata
    def _embedder_id(self) -> str:
        e = self.embedder
        return "none" if e is None else f"{e.name}/{e.dim}"

    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise ValueError(
                f"cache file {self.path} has schema version {version}; this tokenops reads "
                f"version {SCHEMA_VERSION}"
            )
        self._file_embedder = self._stored_embedder(meta)
        if self.embedder is not None and self._file_embedder == "none":
            # a file without vectors becomes semantic only while it is empty: checked and
            # changed under the write lock, so that an exact-only cache sharing the file cannot
            # store an entry between the two (its puts read the embedder under the same lock)
            with immediate(self._db):
                stored = self._stored_embedder()
                if stored == "none":
                    n = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
                    if n:
                        raise ValueError(
                            f"cache file {self.path} was filled without an embedder ({n} entries have "
                            "no vectors); open it with embedder=None, or use a new file for a semantic cache"
                        )
                    self._db.execute("UPDATE meta SET value = ? WHERE key = 'embedder'",
                                     (self._embedder_id(),))
            self._file_embedder = self._embedder_id() if stored == "none" else stored
        if self.embedder is not None and self._file_embedder != self._embedder_id():
            raise ValueError(
                f"cache file {self.path} holds embeddings of {self._file_embedder}, not of "
                f"{self._embedder_id()}: open it with that embedder, or with embedder=None "
                "for exact hits only"
            )

    def _stored_embedder(self, meta: Mapping[str, str] | None = None) -> str:
        """The embedder the file's vectors are of ("none": a file without vectors)."""
        if meta is None:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            return "none" if row is None else str(row[0])
        return meta.get("embedder", "none")

    # ---------------------------------------------------------------- keys
    def _keys(self, prompt: Prompt, model: str | None, params: Mapping[str, Any] | None) -> tuple[str, str, str]:
        if model is not None and not isinstance(model, str):
            raise TypeError(f"model must be str or None, not {type(model).__name__}")
        _no_nul(model or "", "model")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict or None, not {type(params).__name__}")
        context, text = _split_prompt(prompt)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(
                f"the prompt holds a lone surrogate ({text[e.start]!r} at index {e.start}), which is "
                "not text and cannot be stored; clean it first, e.g. "
                "s.encode('utf-8', 'replace').decode()"
            ) from None
        text = normalize_prompt(text)
        _check_str_keys(params or {}, "params")
        partition = _sha(self.namespace, model or "", _canonical(params or {}, "params"), context)
        return partition, _sha(partition, text), text

    # ---------------------------------------------------------------- vectors
    def _embed(self, texts: list[str]) -> np.ndarray:
        assert self.embedder is not None
        v = np.ascontiguousarray(self.embedder.embed(texts), dtype=np.float32)
        want = (len(texts), int(self.embedder.dim))
        if v.shape != want:
            raise ValueError(f"the embedder {self._embedder_id()} returned vectors of shape {v.shape} for "
                             f"{len(texts)} texts; a cache needs shape {want}")
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"the embedder {self._embedder_id()} returned a vector that is not finite "
                             f"(NaN or inf) for {texts[i][:80]!r}; nothing was stored or looked up")
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        if not (norms > 0).all():
            i = int(np.argmin(norms[:, 0]))
            raise ValueError(f"the embedder {self._embedder_id()} returned the zero vector for "
                             f"{texts[i][:80]!r} (it has no direction, so no cosine); nothing was "
                             "stored or looked up")
        return v / norms

    def _partition(self, partition: str, known: Mapping[int, np.ndarray] | None = None) -> _Partition:
        """The partition's vector index, brought up to date with the file: rows added since it was
        last read (by this object or by another process sharing the file) are added; rows deleted
        elsewhere are skipped when a search meets them. ``known``: vectors of new rows this object
        just wrote (id -> vector), which need not be read back."""
        p = self._partitions.get(partition)
        if p is None:
            assert self.embedder is not None
            p = _Partition(VectorIndex(self.embedder.dim, self.index_kind, hnsw_from=self.hnsw_from))
            self._partitions[partition] = p
            if self._snapshots_on() and self.index_kind != "flat":
                self._restore(partition, p)
        known = known or {}
        new_ids = [r[0] for r in self._db.execute(
            "SELECT id FROM entries WHERE partition = ? AND id > ? AND embedding IS NOT NULL",
            (partition, p.max_id),
        )]
        if new_ids:
            unknown = [i for i in new_ids if i not in known]
            read = {}
            for start in range(0, len(unknown), 500):
                chunk = unknown[start:start + 500]
                read.update(self._db.execute(
                    f"SELECT id, embedding FROM entries WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall())
            ids, vecs = [], []
            for i in new_ids:
                v = known.get(i)
                if v is None:
                    blob = read.get(i)
                    if blob is None:  # deleted meanwhile
                        continue
                    v = np.frombuffer(blob, dtype=np.float32)
                ids.append(i)
                vecs.append(v)
            if ids:
                p.index.add(np.array(ids, dtype=np.int64), np.vstack(vecs))
            p.max_id = max(new_ids)
        return p

    # ---------------------------------------------------------------- index snapshots
    def _snapshots_on(self) -> bool:
        return self.persist_index and self.path is not None and self.embedder is not None

    @property
    def index_dir(self) -> Path | None:
        """Where the HNSW snapshots of a file cache live (``<path>.index``); None in memory."""
        return None if self.path is None else self.path.with_name(self.path.name + ".index")

    def _snapshot_path(self, partition: str) -> Path:
        assert self.index_dir is not None
        return self.index_dir / f"{partition}.faiss"

    def _epoch(self, create: bool) -> str | None:
        """A random id of this cache file, kept in its meta table: a snapshot is of this file
        only (a new file at the same path restarts the row ids)."""
        q = "SELECT value FROM meta WHERE key = 'index_epoch'"
        row = self._db.execute(q).fetchone()
        if row is None and create:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('index_epoch', ?)",
                                 (os.urandom(16).hex(),))
            row = self._db.execute(q).fetchone()
        return None if row is None else str(row[0])

    def _row_keys(self, partition: str, max_id: int) -> dict[int, int]:
        """id -> a 64-bit key of the row's exact key, for the partition's rows up to max_id."""
        return {r[0]: int(r[1][:16], 16) for r in self._db.execute(
            "SELECT id, exact_key FROM entries WHERE partition = ? AND id <= ? AND embedding IS NOT NULL",
            (partition, max_id))}

    def _restore(self, partition: str, p: _Partition) -> None:
        """Adopts the partition's snapshot if it is of this file (its epoch, no row id above the
        file's highest, every id it shares with the file naming the same row: a file restored
        from a copy reuses ids), this embedder and partition: its ids deleted since become
        tombstones and rows it lacks are read from the file, so the index answers as one built
        from the rows. Anything else leaves ``p`` empty (built from the file's vectors)."""
        path = self._snapshot_path(partition)
        if not path.is_file():
            return
        try:
            head, index, keys = read_snapshot(path)
        except (OSError, ValueError) as e:
            warnings.warn(f"tokenops cache: the index snapshot {path} is not used ({e}); the index is "
                          "built from the cache file's vectors", RuntimeWarning, stacklevel=4)
            return
        want = {"epoch": self._epoch(create=False), "partition": partition,
                "embedder": self._embedder_id(), "dim": int(self.embedder.dim), "kind": "hnsw"}
        max_id = head.get("max_id")
        if any(head.get(k) != v for k, v in want.items()) or not isinstance(max_id, int) or \
                isinstance(max_id, bool) or max_id < 0:
            return  # of another file (or embedder): the next save replaces it
        seq = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'entries'").fetchone()
        if max_id > (seq[0] if seq else 0):
            return  # it saw rows this file never had: the file is an older copy
        rows = self._row_keys(partition, max_id)
        ids = faiss_module().vector_to_array(index.id_map).astype(np.int64).tolist()
        if len(keys) != len(ids) or any(i in rows and rows[i] != int(k) for i, k in zip(ids, keys)):
            return  # an id it holds names another row now
        have = set(ids)
        dead = have - rows.keys()
        try:
            p.index.adopt(index, dead)
        except ValueError as e:
            warnings.warn(f"tokenops cache: the index snapshot {path} is not used ({e}); the index is "
                          "built from the cache file's vectors", RuntimeWarning, stacklevel=4)
            return
        missing = sorted(rows.keys() - have)  # rows the snapshot never saw (deleted in a later state)
        for start in range(0, len(missing), 500):
            read = self._db.execute(
                f"SELECT id, embedding FROM entries WHERE id IN ({','.join('?' * len(missing[start:start + 500]))})",
                missing[start:start + 500]).fetchall()
            if read:
                p.index.add(np.array([r[0] for r in read], dtype=np.int64),
                            np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in read]))
        p.max_id, p.restored = max_id, True
        # the file on disk is this index but for its tombstones and the rows read after it
        p.snapshot_changes = p.index.changes - len(missing) - len(dead)
        p.snapshot_rebuilds = p.index.rebuilds

    def save_index(self, *, min_changes: int = 0) -> int:
        """Writes a snapshot of every loaded partition's HNSW graph that changed since it was read
        or written (a graph still being built is skipped); returns how many were written.
        :meth:`close` calls it with ``min_changes`` = max(1,024, 1% of the vectors): a graph
        that has a snapshot is written again only once that many vectors were added or removed
        since (or it was rebuilt), since the next process adds the newer rows itself (~0.5 ms
        each) faster than a 100,000-vector snapshot is rewritten (~1 s)."""
        with self._lock:
            if not self._snapshots_on():
                return 0
            todo = []
            for part, p in self._partitions.items():
                p.index.poll()
                lag = p.snapshot_lag()
                need = max(1, min_changes, p.index.ntotal // 100 if min_changes else 0)
                if p.index.kind == "hnsw" and not p.index.building and lag >= need:
                    todo.append((part, p))
            if not todo:
                return 0
            epoch = self._epoch(create=True)
            assert self.index_dir is not None
            self.index_dir.mkdir(exist_ok=True)
            for part, p in todo:
                head = {"epoch": epoch, "partition": part, "namespace": self.namespace,
                        "embedder": self._embedder_id(), "dim": int(self.embedder.dim), "kind": "hnsw",
                        "M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "max_id": int(p.max_id),
                        "vectors": p.index.ntotal, "written_at": time.time()}
                rows = self._row_keys(part, p.max_id)
                keys = np.array([rows.get(i, 0) for i in p.index.stored_ids().tolist()], dtype=np.uint64)
                write_snapshot(self._snapshot_path(part), head, p.index.serialize(), keys)
                p.snapshot_changes, p.snapshot_rebuilds = p.index.changes, p.index.rebuilds
            return len(todo)

    def _drop_snapshots(self) -> None:
        """Removes the snapshots of this namespace's partitions (after :meth:`clear`)."""
        d = self.index_dir
        if d is None or not d.is_dir():
            return
        for f in d.glob("*.faiss"):
            try:
                if read_snapshot_header(f).get("namespace") == self.namespace:
                    f.unlink(missing_ok=True)
            except (OSError, ValueError):
                continue

    def _drop_ids(self, ids: Sequence[int], partitions: Sequence[str]) -> None:
        by_part: dict[str, list[int]] = {}
        for pid, part in zip(ids, partitions):
            by_part.setdefault(part, []).append(int(pid))
        for part, pids in by_part.items():
            p = self._partitions.get(part)
            if p is not None:
                p.index.remove(pids)

    # ---------------------------------------------------------------- writes
    def put(
        self,
        prompt: Prompt,
        response: Any,
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        cost: float | None = None,
    ) -> str:
        """Stores ``response`` (anything JSON can hold; SDK response objects are stored as their
        JSON dict) for ``prompt``; replaces an entry with the same exact key. Returns the key.

        ``cost``: what the call that produced the response cost (e.g. USD from
        ``tokenops.cost(response)``); each hit on the entry then counts it as saved
        (:meth:`stats`, :meth:`savings`)."""
        return self.put_many([prompt], [response], model=model, params=params,
                             costs=None if cost is None else [cost])[0]

    def put_many(
        self,
        prompts: Sequence[Prompt],
        responses: Sequence[Any],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        costs: Sequence[float | None] | None = None,
    ) -> list[str]:
        """:meth:`put` for many prompts, embedded in one batch and written in one transaction."""
        if isinstance(prompts, str) or isinstance(responses, str):
            raise TypeError("put_many takes lists of prompts and responses; use put for one")
        self._refuse_vectorless_write()
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        costs = [None] * len(prompts) if costs is None else list(costs)
        if len(costs) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(costs)} costs")
        costs = [_check_cost(c, i) for i, c in enumerate(costs)]
        keyed = [self._keys(p, model, params) for p in prompts]
        stored = []
        for i, r in enumerate(responses):
            d = sdk_dict(r)
            stored.append(_dumps(d if d is not None else r,
                                 f"responses[{i}] cannot be stored: it must be JSON-serialisable",
                                 allow_nan=False))
        # a key repeated within the batch: its last response wins
        last = {k[1]: i for i, k in enumerate(keyed)}
        order = sorted(last.values())
        vecs = (self._embed([keyed[i][2] for i in order])
                if self.embedder is not None and order else None)
        now = time.time()
        with self._lock:
            with self._db:
                # the write lock first: another process sharing the file may not insert one of
                # these keys between the read of the entries replaced and the insert
                self._db.execute("BEGIN IMMEDIATE")
                if self.embedder is None:  # another process may have made the file semantic
                    self._file_embedder = self._stored_embedder()
                    self._refuse_vectorless_write()
                old = []
                for i in order:
                    old += self._db.execute(
                        "SELECT id, partition FROM entries WHERE exact_key = ?", (keyed[i][1],)
                    ).fetchall()
                self._db.executemany("DELETE FROM entries WHERE id = ?", [(r[0],) for r in old])
                written: dict[str, dict[int, np.ndarray]] = {}
                for j, i in enumerate(order):
                    part, key, text = keyed[i]
                    cur = self._db.execute(
                        "INSERT INTO entries (namespace, partition, exact_key, prompt, text, response,"
                        " embedding, created_at, last_used_at, hits, cost)"
                        " VALUES (?,?,?,?,?,?,?,?,?,0,?)",
                        (self.namespace, part, key, _prompt_text(prompts[i]), text, stored[i],
                         None if vecs is None else vecs[j].tobytes(), now, now, costs[i]),
                    )
                    if vecs is not None:
                        written.setdefault(part, {})[int(cur.lastrowid)] = vecs[j]
            self._drop_ids([r[0] for r in old], [r[1] for r in old])
            for part, known in written.items():  # a loaded index learns the new vectors now (not
                if part in self._partitions:      # re-read at the next search); one not loaded is
                    self._partition(part, known)  # read at its first search, not by a writer
            self._stats["puts"] += len(keyed)
            if self.max_entries is not None:
                self._evict()
        return [k[1] for k in keyed]

    def _refuse_vectorless_write(self) -> None:
        if self.embedder is None and self._file_embedder != "none":
            raise ValueError(
                f"{self.path} is a semantic cache ({self._file_embedder}): entries written without "
                "vectors would never be found by its semantic level; open it with that embedder "
                "to write (embedder=None reads it)"
            )

    def _evict(self) -> None:
        n = self._count()
        excess = n - int(self.max_entries or n)
        if excess <= 0:
            return
        rows = self._db.execute(
            "SELECT id, partition FROM entries WHERE namespace = ? ORDER BY last_used_at, id LIMIT ?",
            (self.namespace, excess),
        ).fetchall()
        with self._db:
            self._db.executemany("DELETE FROM entries WHERE id = ?", [(r[0],) for r in rows])
        self._drop_ids([r[0] for r in rows], [r[1] for r in rows])

    # ---------------------------------------------------------------- reads
    def get(
        self, prompt: Prompt, *, model: str | None = None, params: Mapping[str, Any] | None = None
    ) -> CacheHit | None:
        """The cached response for ``prompt`` (exact first, then semantic), or None."""
        return self.lookup(prompt, model=model, params=params).hit

    def get_many(
        self,
        prompts: Sequence[Prompt],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[CacheHit | None]:
        """:meth:`get` for many prompts (the misses of the exact level embedded in one batch)."""
        return [r.hit for r in self.lookup_many(prompts, model=model, params=params)]

    def lookup(
        self, prompt: Prompt, *, model: str | None = None, params: Mapping[str, Any] | None = None
    ) -> Lookup:
        """:meth:`get` with the reasons: the nearest cached prompt, its similarity, and the
        guards that vetoed candidates above the threshold."""
        return self.lookup_many([prompt], model=model, params=params)[0]

    def lookup_many(
        self,
        prompts: Sequence[Prompt],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[Lookup]:
        if isinstance(prompts, str):
            raise TypeError("lookup_many takes a list of prompts; use lookup for one")
        keyed = [self._keys(p, model, params) for p in prompts]
        out: list[Lookup | None] = [None] * len(keyed)
        now = time.time()
        pending = []
        with self._lock:
            for i, (part, key, _text) in enumerate(keyed):
                self._stats["lookups"] += 1
                row = self._db.execute(
                    "SELECT id, text, response, created_at, hits, exact_key, cost FROM entries WHERE exact_key = ?",
                    (key,),
                ).fetchone()
                if row is not None and self._expired(row[3], now):
                    self._expire(row[0], part)
                    row = None
                if row is not None:
                    self._stats["exact_hits"] += 1
                    out[i] = Lookup(self._serve(row, "exact", 1.0, now), row[1], 1.0, ())
                elif self.embedder is not None and self._seen_whole(_text) and self._has_vectors(part):
                    pending.append(i)  # an empty partition is a miss without embedding
        if pending and self.embedder is not None:
            vecs = self._embed([keyed[i][2] for i in pending])  # outside the lock: the slow part
            with self._lock:
                for i, v in zip(pending, vecs):
                    out[i] = self._semantic(keyed[i][0], keyed[i][2], v, now)
        with self._lock:
            for i in range(len(out)):
                if out[i] is None:
                    out[i] = Lookup(None, None, None, ())
                if out[i].hit is None:  # type: ignore[union-attr]
                    self._stats["misses"] += 1
        return out  # type: ignore[return-value]

    def _seen_whole(self, text: str) -> bool:
        """Whether the embedder reads all of ``text``. A longer one is truncated to its first
        ``max_tokens`` word pieces: two prompts that share a long beginning (a document, then
        different questions) get the same vector, so such a prompt is matched exactly only, and
        a stored one is no semantic candidate. A text that fills the window exactly counts as
        truncated (the two cannot be told apart)."""
        if self._window is None:
            return True
        assert self.embedder is not None
        return int(self.embedder.count_tokens(text)) < self._window

    def _has_vectors(self, partition: str) -> bool:
        p = self._partitions.get(partition)
        if p is not None and len(p.index):
            return True
        return self._db.execute(
            "SELECT 1 FROM entries WHERE partition = ? AND embedding IS NOT NULL LIMIT 1", (partition,)
        ).fetchone() is not None

    def get_or_call(
        self,
        prompt: Prompt,
        call: Callable[[], Any],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        cost: float | Callable[[Any], float | None] | None = None,
    ) -> tuple[Any, CacheHit | None]:
        """The cached response for ``prompt``, or ``call()``'s, stored before it is returned:
        ``(response, hit)`` with ``hit`` None when ``call`` ran (a cached SDK object comes back
        as its JSON dict). ``cost``: a number, or a
        function of the fresh response (``lambda r: float(tokenops.cost(r).total)``).

        >>> answer, hit = cache.get_or_call(prompt, lambda: client.chat.completions.create(
        ...     model="gpt-4o", messages=[{"role": "user", "content": prompt}]), model="gpt-4o")
        """
        if not callable(call):
            raise TypeError(f"call must be a function of no arguments, not {type(call).__name__}")
        hit = self.get(prompt, model=model, params=params)
        if hit is not None:
            return hit.response, hit
        response = call()
        self._store_fresh(prompt, response, model, params, cost)
        return response, None

    def get_or_stream(
        self,
        prompt: Prompt,
        call: Callable[[], Iterable[Any]],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        cost: float | Callable[[list[Any]], float | None] | None = None,
    ) -> tuple[Iterator[Any], CacheHit | None]:
        """:meth:`get_or_call` for a streamed response: ``(chunks, hit)``. On a hit, ``chunks``
        replays the cached chunks (as JSON dicts); on a miss, ``call()`` starts the stream and
        ``chunks`` yields its chunks as they arrive, storing them all once the stream has been
        read to its end (a stream abandoned or failing part-way is not stored, so a cut answer is
        never served). Streamed entries are keyed apart from whole responses (``stream=True`` is
        added to ``params``). ``cost``: a number, or a function of the list of chunks as the
        stream gave them, e.g. with ``stream_options={"include_usage": True}`` (the last chunk
        carries the usage): ``lambda chunks: float(tokenops.cost("gpt-4o", chunks[-1]).total)``.

        >>> chunks, hit = cache.get_or_stream(prompt, lambda: client.chat.completions.create(
        ...     model="gpt-4o", messages=[{"role": "user", "content": prompt}], stream=True),
        ...     model="gpt-4o")
        >>> for chunk in chunks: ...
        """
        if not callable(call):
            raise TypeError(f"call must be a function of no arguments, not {type(call).__name__}")
        params = _stream_params(params)
        hit = self.get(prompt, model=model, params=params)
        if hit is not None:
            return iter(_stored_chunks(hit)), hit
        stream = call()
        if not isinstance(stream, Iterable) or isinstance(stream, (str, bytes, Mapping)):
            raise TypeError(f"call() must return an iterable of chunks (a stream), not {type(stream).__name__}")

        def chunks() -> Iterator[Any]:
            seen: list[Any] = []
            for chunk in stream:
                seen.append(chunk)
                yield chunk
            self._store_fresh(prompt, _chunk_dicts(seen), model, params, _chunk_cost(cost, seen))

        return chunks(), None

    async def aget_or_stream(
        self,
        prompt: Prompt,
        call: Callable[[], Any],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        cost: float | Callable[[list[Any]], float | None] | None = None,
    ) -> tuple[AsyncIterator[Any], CacheHit | None]:
        """:meth:`get_or_stream` for asyncio: ``call()`` returns an async iterable of chunks, or
        an awaitable of one (``lambda: client.chat.completions.create(..., stream=True)`` of an
        ``AsyncOpenAI`` client); the look-up and the store run in a worker thread."""
        if not callable(call):
            raise TypeError(f"call must be a function of no arguments, not {type(call).__name__}")
        params = _stream_params(params)
        hit = await self.aget(prompt, model=model, params=params)
        if hit is not None:
            stored = _stored_chunks(hit)

            async def replay() -> AsyncIterator[Any]:
                for chunk in stored:
                    yield chunk

            return replay(), hit
        stream = call()
        if inspect.isawaitable(stream):
            stream = await stream
        if not isinstance(stream, AsyncIterable):
            raise TypeError(f"call() must give an async iterable of chunks (a stream), not {type(stream).__name__}")

        async def chunks() -> AsyncIterator[Any]:
            seen: list[Any] = []
            async for chunk in stream:
                seen.append(chunk)
                yield chunk
            await asyncio.to_thread(self._store_fresh, prompt, _chunk_dicts(seen), model, params,
                                    _chunk_cost(cost, seen))

        return chunks(), None

    def _store_fresh(self, prompt: Prompt, response: Any, model: str | None,
                     params: Mapping[str, Any] | None, cost: Any) -> None:
        """Stores a response just paid for; a failure to price or store it is a warning, never
        an exception that would lose the response."""
        try:
            c = cost(response) if callable(cost) else cost
            self.put(prompt, response, model=model, params=params, cost=c)
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"the response was not cached: {type(e).__name__}: {e}", RuntimeWarning,
                          stacklevel=3)

    # ---------------------------------------------------------------- asyncio
    async def aget(
        self, prompt: Prompt, *, model: str | None = None, params: Mapping[str, Any] | None = None
    ) -> CacheHit | None:
        """:meth:`get` for asyncio code: runs in a worker thread (the embedding and the search
        release the GIL), so the event loop is not blocked."""
        return await asyncio.to_thread(self.get, prompt, model=model, params=params)

    async def aput(self, prompt: Prompt, response: Any, **kwargs: Any) -> str:
        """:meth:`put` for asyncio code (in a worker thread); the same keyword arguments."""
        return await asyncio.to_thread(self.put, prompt, response, **kwargs)

    async def aget_or_call(
        self,
        prompt: Prompt,
        call: Callable[[], Awaitable[Any]],
        *,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
        cost: float | Callable[[Any], float | None] | None = None,
    ) -> tuple[Any, CacheHit | None]:
        """:meth:`get_or_call` with an async ``call`` (``lambda: client.chat.completions.create(
        ...)`` of an ``AsyncOpenAI`` client): the look-up and the store run in a worker thread,
        the call on the event loop."""
        if not callable(call):
            raise TypeError(f"call must be a function of no arguments, not {type(call).__name__}")
        hit = await self.aget(prompt, model=model, params=params)
        if hit is not None:
            return hit.response, hit
        response = await call()
        await asyncio.to_thread(self._store_fresh, prompt, response, model, params, cost)
        return response, None

    def savings(self) -> dict[str, Any]:
        """What this namespace's entries saved, from the stored counts (all sessions that used the
        file): entries, hits served, and the cost of those hits for entries stored with a cost."""
        with self._lock:
            n, hits, saved = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(hits), 0), COALESCE(SUM(hits * cost), 0.0)"
                " FROM entries WHERE namespace = ?", (self.namespace,)).fetchone()
        return {"entries": int(n), "hits": int(hits), "saved_cost": float(saved)}

    def _expired(self, created_at: float, now: float) -> bool:
        return self.ttl is not None and now - created_at > self.ttl

    def _expire(self, pid: int, partition: str) -> None:
        self._bookkeeping("DELETE FROM entries WHERE id = ?", (pid,), "the expired entry was not deleted")
        self._drop_ids([pid], [partition])
        self._stats["expired"] += 1

    def _bookkeeping(self, sql: str, params: Sequence[Any], what: str) -> None:
        """A write a look-up makes on the side (a hit's count and last use, an expired entry's
        deletion). When the file cannot be written (read-only, locked by another process past the
        busy timeout, full), the look-up still answers, with a RuntimeWarning: what it found is
        in the file, only this bookkeeping is lost."""
        try:
            with self._db:
                self._db.execute(sql, params)
        except sqlite3.OperationalError as e:
            if not access_error(e):
                raise
            warnings.warn(f"tokenops cache: {what} ({self.path}: {e})", RuntimeWarning, stacklevel=5)

    def _serve(self, row: Sequence[Any], kind: str, similarity: float, now: float) -> CacheHit:
        pid, text, response, created_at, hits, key, cost = row
        if cost is not None:
            self._stats["saved_cost"] += float(cost)
        self._bookkeeping("UPDATE entries SET hits = hits + 1, last_used_at = ? WHERE id = ?", (now, pid),
                          "the hit is served, but its count and last use were not recorded")
        return CacheHit(json.loads(response), kind, float(similarity), text, key,
                        float(created_at), int(hits) + 1)

    def _semantic(self, partition: str, text: str, vec: np.ndarray, now: float) -> Lookup:
        p = self._partition(partition)
        while True:
            sims, ids = p.index.search(vec, self.top_k)
            rows = [self._db.execute(
                "SELECT id, text, response, created_at, hits, exact_key, cost FROM entries WHERE id = ?",
                (int(pid),),
            ).fetchone() for pid in ids]
            gone = [int(pid) for pid, row in zip(ids, rows) if row is None]
            if not gone:
                break
            # deleted by another user of the file (or replaced: its new row is in the index, and
            # may be next): tombstoned, and the search runs again without them
            p.index.remove(gone)
        nearest, best = None, None
        rejected: list[str] = []
        for sim, row in zip(sims, rows):
            if nearest is None:
                nearest, best = row[1], float(sim)
            if sim < self.threshold:
                break
            if self._expired(row[3], now):
                self._expire(row[0], partition)
                continue
            if not self._seen_whole(row[1]):  # its vector shows only its beginning
                continue
            failed = _core.cache_guard(text, row[1], self._mask) if self._mask else 0
            if failed:
                rejected.extend(g for g in guard_names(failed) if g not in rejected)
                self._stats["guard_rejections"] += 1
                continue
            self._stats["semantic_hits"] += 1
            return Lookup(self._serve(row, "semantic", float(sim), now), nearest, best, tuple(rejected))
        return Lookup(None, nearest, best, tuple(rejected))

    # ---------------------------------------------------------------- housekeeping
    def delete(self, key: str) -> bool:
        """Removes the entry with this key (from :meth:`put` or a hit); True if there was one."""
        with self._lock:
            row = self._db.execute("SELECT id, partition FROM entries WHERE exact_key = ?", (key,)).fetchone()
            if row is None:
                return False
            with self._db:
                self._db.execute("DELETE FROM entries WHERE id = ?", (row[0],))
            self._drop_ids([row[0]], [row[1]])
            return True

    def clear(self) -> int:
        """Removes every entry of this cache's namespace; returns how many."""
        with self._lock:
            with self._db:
                n = self._db.execute("DELETE FROM entries WHERE namespace = ?", (self.namespace,)).rowcount
            self._drop_partitions()
            self._drop_snapshots()
            return int(n)

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        row = self._db.execute("SELECT n FROM counts WHERE namespace = ?", (self.namespace,)).fetchone()
        return 0 if row is None else int(row[0])

    def stats(self) -> dict[str, Any]:
        """Counts since this object was made: lookups, exact and semantic hits, guard rejections
        (vetoed candidates), expired entries, misses, puts, the hit rate, and ``saved_cost`` (the
        stored cost of every hit served; see :meth:`savings` for the file's totals); and
        ``indexes``: per partition loaded, its index kind, live vectors, tombstones and whether
        a new graph is being built in the background, and whether it was restored from a
        snapshot (``persist_index``)."""
        with self._lock:
            s: dict[str, Any] = dict(self._stats)
            s["indexes"] = {part: {"kind": p.index.kind, "vectors": len(p.index),
                                   "tombstones": p.index.ntotal - len(p.index),
                                   "building": p.index.building, "restored": p.restored}
                            for part, p in self._partitions.items()}
        s["hit_rate"] = (s["exact_hits"] + s["semantic_hits"]) / s["lookups"] if s["lookups"] else 0.0
        return s

    def _drop_partitions(self) -> None:
        for p in self._partitions.values():
            p.index.close()  # a background build of a dropped index would run on for nothing
        self._partitions.clear()

    def close(self) -> None:
        """Writes the changed HNSW snapshots (``persist_index``), then closes the file."""
        with self._lock:
            try:
                self.save_index(min_changes=_SNAPSHOT_MIN_CHANGES)
            except (OSError, ValueError, sqlite3.Error) as e:  # the rows are safe; only a snapshot is lost
                warnings.warn(f"tokenops cache: the index snapshot was not written ({e}); the next "
                              "process builds the index from the file", RuntimeWarning, stacklevel=2)
            finally:  # whatever happened to the snapshot (MemoryError...), the file is closed
                self._db.close()
                self._drop_partitions()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self.path is None else str(self.path)
        return (f"Cache({where!r}, embedder={self._embedder_id()!r}, threshold={self.threshold}, "
                f"guards={self._guards!r}, namespace={self.namespace!r})")
