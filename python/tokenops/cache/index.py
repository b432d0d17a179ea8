"""The vector index of one cache partition: FAISS, exact or HNSW, with deletions as tombstones.

A :class:`VectorIndex` holds unit vectors under int64 ids and answers "the k nearest by inner
product". Two kinds:

* ``"flat"``: FAISS ``IndexFlatIP``, an exact scan (cost linear in the entries: ~12 ms per query
  at 100k 384-d vectors on one core);
* ``"hnsw"``: FAISS ``IndexHNSWFlat`` (inner product, ``M`` links per node, ``ef_construction``,
  ``ef_search``), approximate: a query visits a few hundred vectors instead of all of them.

``kind="auto"`` is flat until the index holds ``hnsw_from`` live vectors, then it becomes HNSW
(and stays HNSW); ``kind="hnsw"`` becomes HNSW at its first vector. Building a graph costs ~0.2 ms
per vector on one core (100k vectors: 22 s), so a graph of more than ``INLINE_BUILD`` vectors (a
switch, a compaction, a partition loaded from a file) is built in a background thread while the
current index keeps serving (a flat index: exact results at the old speed); vectors
added and deleted meanwhile are carried over when the new graph is swapped in, at the next call
after it is ready. FAISS releases the GIL while it builds.

Deletions do not touch the FAISS index: FAISS's HNSW cannot remove a vector, and removing one
from a flat index shifts the whole array (14 ms at 100k entries). A deleted id becomes a
*tombstone*, left out of every search by an ``IDSelector``; when tombstones reach a quarter of
the vectors (and at least 1,024) the index is rebuilt from its live vectors (flat: a copy;
HNSW: a new graph). The vectors are kept by FAISS itself (both kinds store
them uncompressed), so a rebuild needs no other copy.

A graph can be written to a *snapshot* file (:func:`write_snapshot`: a JSON header with what it
was built from, then FAISS's serialisation, checked by length and CRC-32) and read back
(:func:`read_snapshot`), so a process that opens a large cache does not build its graph again
(:class:`~tokenops.cache.Cache` keeps them beside its file; docs/cache.md).
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import warnings
import weakref
import zlib
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("auto", "flat", "hnsw")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
HNSW_FROM = 20_000
INLINE_BUILD = 4096  # graphs up to this many vectors are built in the call (under ~1 s)
_COMPACT_MIN = 1024
_BUILD_CHUNK = 2000  # vectors per FAISS call in a background build (a stop is seen between them)


SNAPSHOT_FORMAT = 1
_MAGIC = b"tokenops vector index\n"
_HEADER_MAX = 1 << 16


def write_snapshot(path: str | os.PathLike[str], header: dict[str, Any], payload: np.ndarray,
                   keys: np.ndarray | None = None) -> None:
    """Writes ``payload`` (FAISS's serialisation, uint8) and ``keys`` (uint64, one per vector:
    what the vector was made from, for the reader to check) under a JSON ``header`` to ``path``,
    atomically: a temporary file in the same folder, flushed, then renamed over ``path``, so a
    reader never sees half a snapshot and two writers leave one whole file."""
    path = Path(path)
    keys = np.zeros(0, dtype=np.uint64) if keys is None else np.ascontiguousarray(keys, dtype=np.uint64)
    crc = zlib.crc32(memoryview(keys), zlib.crc32(memoryview(payload)))
    head = dict(header, format=SNAPSHOT_FORMAT, nbytes=int(payload.nbytes), nkeys=int(keys.size), crc32=crc)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC)
            f.write(json.dumps(head, sort_keys=True).encode() + b"\n")
            payload.tofile(f)
            keys.tofile(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_header(f: Any, path: Any) -> dict[str, Any]:
    if f.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(f"{path} is not a tokenops vector-index snapshot")
    line = f.readline(_HEADER_MAX)
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, dict) or not line.endswith(b"\n"):
        raise ValueError(f"{path}: the snapshot header is not a JSON object on one line")
    return head


def read_snapshot_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a snapshot file; ValueError if ``path`` is not one."""
    with open(path, "rb") as f:
        return _read_header(f, path)


def read_snapshot(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any, np.ndarray]:
    """(header, FAISS index, keys) of a snapshot file, read through one open file (a snapshot
    replaced meanwhile is read whole, old or new); ValueError naming the problem if it is of
    another format, truncated or corrupt (the caller then builds the index from the vectors)."""
    with open(path, "rb") as f:
        head = _read_header(f, path)
        if head.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{path}: snapshot format {head.get('format')!r}, this tokenops reads {SNAPSHOT_FORMAT}")
        nbytes, nkeys = head.get("nbytes"), head.get("nkeys")
        if not isinstance(nbytes, int) or not isinstance(nkeys, int) or nbytes < 0 or nkeys < 0:
            raise ValueError(f"{path}: the snapshot header lacks its sizes")
        payload = np.fromfile(f, dtype=np.uint8, count=nbytes)
        keys = np.fromfile(f, dtype=np.uint64, count=nkeys)
        extra = f.read(1)
    if payload.nbytes != nbytes or keys.size != nkeys or extra:
        raise ValueError(f"{path}: {payload.nbytes} bytes of index and {keys.size} keys where the header says "
                         f"{nbytes} and {nkeys}" + (" and more bytes follow" if extra else " (truncated?)"))
    if zlib.crc32(memoryview(keys), zlib.crc32(memoryview(payload))) != head.get("crc32"):
        raise ValueError(f"{path}: the index bytes do not match their CRC-32 (corrupt)")
    f = faiss_module()
    try:
        index = f.deserialize_index(payload)
    except RuntimeError as e:
        raise ValueError(f"{path}: FAISS cannot read the index ({str(e).splitlines()[0][:200]})") from None
    if keys.size and keys.size != index.ntotal:
        raise ValueError(f"{path}: {keys.size} keys for {index.ntotal} vectors")
    return head, index, keys


def check_kind(kind: object) -> str:
    """``kind`` if it names an index kind, else ValueError."""
    if kind not in KINDS:
        raise ValueError(f"index must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    return kind  # type: ignore[return-value]


def faiss_module() -> Any:
    try:
        import faiss  # noqa: PLC0415 - optional dependency, imported on first semantic use
    except ImportError:
        raise ImportError(
            "the semantic cache searches vectors with FAISS: pip install faiss-cpu "
            "(or tokenops[cache]); Cache(embedder=None) is an exact-only cache without it"
        ) from None
    return faiss


class _Build:
    """A graph built in a background thread from a copy of the live vectors."""

    def __init__(self, owner: VectorIndex, kind: str, ids: np.ndarray, vecs: np.ndarray) -> None:
        self.kind = kind
        self.ids = ids
        self.index = owner._new(kind)
        self.pending_ids: list[np.ndarray] = []   # added to the owner after the copy was taken
        self.pending_vecs: list[np.ndarray] = []
        self.error: BaseException | None = None
        self.stop = False
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(vecs,), daemon=True,
                                       name="tokenops-cache-index-build")
        _BUILDS.add(self)
        self.thread.start()

    def _run(self, vecs: np.ndarray) -> None:
        try:
            for s in range(0, len(self.ids), _BUILD_CHUNK):
                if self.stop:
                    return
                self.index.add_with_ids(vecs[s:s + _BUILD_CHUNK], self.ids[s:s + _BUILD_CHUNK])
        except BaseException as e:  # noqa: BLE001 - reported to the owner, which keeps serving
            self.error = e
        finally:
            self.done.set()


_BUILDS: weakref.WeakSet[_Build] = weakref.WeakSet()


def _forked() -> None:
    """In a child process the builder threads do not exist: their builds end as failed, so the
    owner warns and keeps its current index (a later switch or compaction builds again)."""
    for b in list(_BUILDS):
        if not b.done.is_set():
            b.error = RuntimeError("the process was forked while the index was being built")
            b.done.set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


@atexit.register
def _stop_builds() -> None:  # pragma: no cover - interpreter exit
    for b in list(_BUILDS):
        b.stop = True
    for b in list(_BUILDS):
        b.thread.join(timeout=5)


class VectorIndex:
    """Unit vectors under int64 ids; inner-product search; deletions as tombstones.

    Not thread-safe by itself: its owner serialises the calls (``Cache`` holds its lock)."""

    def __init__(self, dim: int, kind: str = "auto", *, hnsw_from: int = HNSW_FROM,
                 ef_search: int = HNSW_EF_SEARCH, inline_build: int = INLINE_BUILD) -> None:
        check_kind(kind)
        self.dim = int(dim)
        self.mode = kind
        self.hnsw_from = 1 if kind == "hnsw" else int(hnsw_from)
        self._ef_search = int(ef_search)
        self.inline_build = int(inline_build)
        self._faiss = faiss_module()
        self.kind = "flat"
        self._index = self._new("flat")
        self._live: set[int] = set()  # ids stored and not deleted
        self._dead: set[int] = set()  # ids still stored in FAISS but deleted (tombstones)
        self._params: Any = None  # search parameters excluding the tombstones (rebuilt lazily)
        self._keep: Any = None    # the selectors _params points to (SWIG does not own them)
        self._build: _Build | None = None
        self.rebuilds = 0
        self.version = 0  # changes with every add, removal and swap (what a snapshot has seen)
        self.changes = 0  # vectors added and removed so far (how far the index is from a snapshot)

    def _new(self, kind: str) -> Any:
        f = self._faiss
        if kind == "hnsw":
            base = f.IndexHNSWFlat(self.dim, HNSW_M, f.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            base = f.IndexFlatIP(self.dim)
        return f.IndexIDMap2(base)  # faiss' Python wrapper keeps base alive with it

    # ------------------------------------------------------------------ size
    @property
    def ntotal(self) -> int:
        """Vectors stored, tombstones included."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        """Live vectors (tombstones excluded)."""
        return len(self._live)

    @property
    def ef_search(self) -> int:
        """HNSW's efSearch: candidates a query keeps (more: better recall, slower)."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._ef_search = int(value)
        self._params = None  # the search parameters carry it

    @property
    def building(self) -> bool:
        """A graph is being built in the background (the current index serves meanwhile)."""
        return self._build is not None

    def stored_ids(self) -> np.ndarray:
        """The ids the FAISS index stores, in its order (tombstones included)."""
        return self._ids()

    def _ids(self) -> np.ndarray:
        return self._faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def _live_copy(self) -> tuple[np.ndarray, np.ndarray]:
        ids = self._ids()
        n = len(ids)
        vecs = (self._index.index.reconstruct_n(0, n) if n
                else np.zeros((0, self.dim), dtype=np.float32))
        if self._dead:
            keep = ~np.isin(ids, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
            ids, vecs = ids[keep], vecs[keep]
        return np.ascontiguousarray(ids), np.ascontiguousarray(vecs)

    # ------------------------------------------------------------------ snapshots
    def serialize(self) -> np.ndarray:
        """The current graph as FAISS's serialisation (uint8); tombstones included (a reader
        tells them from the file's rows). Only an HNSW index has a graph worth keeping."""
        if self.kind != "hnsw":
            raise ValueError(f"only an HNSW index is kept as a snapshot, this one is {self.kind}")
        return self._faiss.serialize_index(self._index)

    def adopt(self, index: Any, dead: set[int]) -> None:
        """Makes a read snapshot (an ``IndexIDMap2`` over ``IndexHNSWFlat`` of this dimension,
        inner product) the index of this still empty object; ``dead``: its ids deleted since."""
        f = self._faiss
        if self.ntotal or self._build is not None:
            raise ValueError("a snapshot is adopted by an empty index only")
        base = f.downcast_index(index.index) if isinstance(index, f.IndexIDMap2) else None
        if not isinstance(base, f.IndexHNSWFlat) or base.d != self.dim or \
                base.metric_type != f.METRIC_INNER_PRODUCT:
            raise ValueError(f"the snapshot is not an inner-product HNSW index of dimension {self.dim}")
        ids = f.vector_to_array(index.id_map).astype(np.int64, copy=False).tolist()
        self._index, self.kind = index, "hnsw"
        self._live = set(ids) - dead
        self._dead = set(ids) & dead
        self._params = None
        self.version += 1
        self._compact_if_due()

    # ------------------------------------------------------------------ writes
    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        self.poll()
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(ids), self.dim):
            raise ValueError(f"vectors must have shape ({len(ids)}, {self.dim}), got {vecs.shape}")
        if not len(ids):
            return
        new = ids.tolist()
        if len(set(new)) != len(new) or self._live.intersection(new):
            raise ValueError("an id is already in the index (ids must be unique)")
        if self._dead.intersection(new):  # ids are never reused (AUTOINCREMENT); if one were,
            self._rebuild(self.kind, inline=True)  # its old vector must go first
        self._index.add_with_ids(vecs, ids)
        self._live.update(new)
        self.version += 1
        self.changes += len(new)
        if self._build is not None:  # copies: the caller may reuse its arrays before the swap
            self._build.pending_ids.append(ids.copy())
            self._build.pending_vecs.append(vecs.copy())
        elif self.mode != "flat" and self.kind == "flat" and len(self) >= self.hnsw_from:
            self._try_rebuild("hnsw")  # the vectors are in: a failed switch must not undo that

    def remove(self, ids: Any) -> None:
        """Marks ids deleted (unknown ids are ignored); compacts when tombstones pile up."""
        self.poll()
        gone = self._live.intersection(int(i) for i in ids)
        if not gone:
            return
        self._live -= gone
        self._dead |= gone
        self._params = None
        self.version += 1
        self.changes += len(gone)
        self._compact_if_due()

    def _compact_if_due(self) -> None:
        """Rebuilds from the live vectors once tombstones reach a quarter of the stored ones (at
        least ``_COMPACT_MIN``); not while a build runs (:meth:`poll` checks again at the swap)."""
        if self._build is None and len(self._dead) >= max(_COMPACT_MIN, self.ntotal // 4):
            self._try_rebuild(self.kind)

    def _try_rebuild(self, kind: str) -> None:
        """A switch or compaction after the vectors and tombstones are recorded: if it fails
        (no memory for the copy, no thread), the current index stays, consistent, and says so."""
        try:
            self._rebuild(kind)
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"tokenops cache: rebuilding the index as {kind} failed ({e!r}); the "
                          f"{self.kind} index keeps serving", RuntimeWarning, stacklevel=3)

    def _rebuild(self, kind: str, *, inline: bool = False) -> None:
        """A new index of ``kind`` from the live vectors: now for a flat index or a small graph,
        else in the background (swapped in by :meth:`poll`)."""
        ids, vecs = self._live_copy()
        if not inline and kind == "hnsw" and len(ids) > self.inline_build:
            if self._build is None:
                self._build = _Build(self, kind, ids, vecs)
            return
        self.close()  # an inline rebuild supersedes a background one
        index = self._new(kind)
        if len(ids):
            index.add_with_ids(vecs, ids)
        self._index, self.kind = index, kind
        self._dead.clear()
        self._params = None
        self.rebuilds += 1
        self.version += 1

    def poll(self) -> None:
        """Swaps in a background build that has finished (vectors added meanwhile are added to
        it, those deleted meanwhile become its tombstones)."""
        b = self._build
        if b is None or not b.done.is_set():
            return
        self._build = None
        if b.error is not None or b.stop:
            warnings.warn(f"tokenops cache: building the {b.kind} index failed ({b.error!r}); "
                          f"the {self.kind} index keeps serving", RuntimeWarning, stacklevel=3)
            return
        index = b.index
        for pids, pvecs in zip(b.pending_ids, b.pending_vecs):
            alive = np.fromiter((i in self._live for i in pids.tolist()), dtype=bool, count=len(pids))
            if alive.any():
                index.add_with_ids(np.ascontiguousarray(pvecs[alive]), np.ascontiguousarray(pids[alive]))
        built = set(b.ids.tolist())
        self._index, self.kind = index, b.kind
        self._dead = built - self._live  # deleted while it was built
        self._params = None
        self.rebuilds += 1
        self.version += 1
        self._compact_if_due()  # deletions made during the build may already call for one

    def close(self) -> None:
        """Stops a background build (its work is dropped; the current index stays as it is).
        :class:`~tokenops.cache.Cache` calls it for the partitions it drops (``close``,
        ``clear``), so a build does not run on for nothing."""
        if self._build is not None:
            self._build.stop = True
            self._build = None

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for a background build and swaps it in (a compaction due at the swap may start
        another); False if it is still running."""
        b = self._build
        if b is not None and not b.done.wait(timeout):
            return False
        self.poll()
        return True

    # ------------------------------------------------------------------ reads
    def _search_params(self) -> Any:
        f = self._faiss
        if self._params is None:
            sel = None
            if self._dead:
                batch = f.IDSelectorBatch(np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
                sel = f.IDSelectorNot(batch)
                self._keep = (batch, sel)
            else:
                self._keep = None
            if self.kind == "hnsw":
                p = f.SearchParametersHNSW()
                p.efSearch = self._ef_search
            else:
                p = f.SearchParameters()
            if sel is not None:
                p.sel = sel
            self._params = p
        return self._params

    def search(self, vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest live vectors to one unit vector: (similarities, ids), nearest first;
        fewer than k when fewer live vectors exist (missing places are dropped)."""
        self.poll()
        live = len(self)
        if live <= 0 or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        q = np.ascontiguousarray(vec, dtype=np.float32).reshape(1, self.dim)
        sims, ids = self._index.search(q, min(int(k), live), params=self._search_params())
        ok = ids[0] >= 0
        return sims[0][ok], ids[0][ok]
