"""HNSW snapshots of a file cache (Cache(persist_index=True)): written on close, adopted by the
next process only when they are of the same file, embedder and partition, and checked against
the file's rows (deleted rows become tombstones, rows the snapshot lacks are read)."""

from __future__ import annotations

import hashlib
import shutil
import warnings

import numpy as np
import pytest

import tokenops
from tokenops.cache import index as vi


class ShaEmbedder:
    """Deterministic 32-d vectors from a text's SHA-256, with "please " ignored: "please q 7" is a
    semantic (not exact) match of "q 7" at cosine 1.0."""

    name, dim = "sha-test", 32

    def embed(self, texts):
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.replace("please ", "").encode()).digest()[:8], "little")
            out.append(np.random.default_rng(seed).standard_normal(self.dim))
        return np.array(out, dtype=np.float32)


def open_cache(path, **kw):
    kw.setdefault("index", "hnsw")
    return tokenops.Cache(path, embedder=ShaEmbedder(), guards=(), **kw)


def semantic(c, i):
    """The response a semantic look-up of prompt i gets (None: a miss)."""
    hit = c.get(f"please q {i}")
    assert hit is None or hit.kind == "semantic"
    return None if hit is None else hit.response


def fill(path, n, start=0, **kw):
    c = open_cache(path, **kw)
    c.put_many([f"q {i}" for i in range(start, start + n)], list(range(start, start + n)))
    return c


def closed_with_snapshot(path, n, **kw):
    """A cache file of prompts 0..n-1 whose graph was loaded and written at close."""
    c = fill(path, n, **kw)
    semantic(c, 0)
    c.close()


def restored(c):
    """Whether the cache's (only) partition index came from a snapshot."""
    (st,) = c.stats()["indexes"].values()
    return st["restored"]


def key(c, i):
    """The exact key of prompt i (what put returned)."""
    return c._keys(f"q {i}", None, None)[1]


def snapshots(path):
    d = path.with_name(path.name + ".index")
    return sorted(d.glob("*.faiss")) if d.is_dir() else []


def test_a_closed_cache_leaves_a_snapshot_the_next_one_adopts(tmp_path):
    path = tmp_path / "c.sqlite"
    c = fill(path, 300)
    assert semantic(c, 5) == 5  # the partition is loaded: an HNSW graph
    assert c.stats()["indexes"][next(iter(c._partitions))]["restored"] is False
    c.close()
    (snap,) = snapshots(path)
    head = vi.read_snapshot_header(snap)
    assert head["vectors"] == 300 and head["kind"] == "hnsw" and head["embedder"] == "sha-test/32"
    c = open_cache(path)
    assert [semantic(c, i) for i in range(0, 300, 7)] == list(range(0, 300, 7))
    (st,) = c.stats()["indexes"].values()
    assert st == {"kind": "hnsw", "vectors": 300, "tombstones": 0, "building": False, "restored": True}
    mtime = snap.stat().st_mtime_ns
    c.close()  # unchanged since it was read: not written again
    assert snap.stat().st_mtime_ns == mtime


def test_rows_changed_after_the_snapshot_are_served_as_the_file_says(tmp_path):
    path = tmp_path / "c.sqlite"
    closed_with_snapshot(path, 200)
    other = open_cache(path, persist_index=False)  # another process: changes rows, keeps no snapshot
    for i in range(0, 50):
        assert other.delete(key(other, i))
    other.put_many([f"q {i}" for i in range(200, 260)], list(range(200, 260)))
    other.put("q 60", "replaced")  # a new row (new id) for an old prompt
    other.close()
    c = open_cache(path)
    assert [semantic(c, i) for i in (0, 10, 49)] == [None, None, None]
    assert [semantic(c, i) for i in (50, 61, 199, 200, 259)] == [50, 61, 199, 200, 259]
    assert semantic(c, 60) == "replaced"
    (st,) = c.stats()["indexes"].values()
    assert st["restored"] and st["vectors"] == 210 and st["tombstones"] == 51
    (snap,) = snapshots(path)
    c.close()  # 111 vectors from the snapshot: too few to rewrite it at close
    assert vi.read_snapshot_header(snap)["vectors"] == 200
    c = open_cache(path)
    assert semantic(c, 259) == 259 and semantic(c, 0) is None
    assert c.save_index() == 1  # asked for: written whatever the change
    assert vi.read_snapshot_header(snap)["vectors"] == 261
    c.close()


def test_close_rewrites_a_snapshot_once_enough_changed(tmp_path):
    path = tmp_path / "c.sqlite"
    closed_with_snapshot(path, 100)
    (snap,) = snapshots(path)
    c = open_cache(path)
    c.put_many([f"q {i}" for i in range(100, 1100)], list(range(100, 1100)))
    semantic(c, 0)
    c.close()  # 1,000 added: under 1,024, not rewritten
    assert vi.read_snapshot_header(snap)["vectors"] == 100
    c = open_cache(path)
    c.put_many([f"q {i}" for i in range(1100, 1130)], list(range(1100, 1130)))
    semantic(c, 0)
    c.close()  # 1,030 from the snapshot now
    assert vi.read_snapshot_header(snap)["vectors"] == 1130
    c = open_cache(path)
    assert [semantic(c, i) for i in (5, 1099, 1129)] == [5, 1099, 1129]
    c.close()


def newer_snapshot_older_file(tmp_path, n, added, deleted=0):
    """A cache file of prompts 0..n-1 put back after a later state (deleted first ones, `added`
    more) wrote its snapshot: the snapshot is newer than the file beside it."""
    path, copy = tmp_path / "c.sqlite", tmp_path / "copy.sqlite"
    closed_with_snapshot(path, n)
    shutil.copy(path, copy)
    c = open_cache(path)
    for i in range(deleted):
        assert c.delete(key(c, i))
    c.put_many([f"q {i}" for i in range(n, n + added)], list(range(n, n + added)))
    semantic(c, n)
    assert c.save_index() == 1
    c.close()
    shutil.copy(copy, path)
    return path


def test_an_older_copy_of_the_file_never_serves_the_snapshots_rows(tmp_path):
    # A snapshot newer than the file (the file restored from a copy) holds ids the file reuses
    # for other prompts: it must not be adopted, then or after the file catches up.
    path = newer_snapshot_older_file(tmp_path, 100, 30, deleted=20)  # ids 1..100 / snapshot 21..130
    c = open_cache(path)
    assert [semantic(c, i) for i in (0, 19, 20, 99)] == [0, 19, 20, 99]
    assert [semantic(c, i) for i in (100, 129)] == [None, None]
    assert restored(c) is False  # ids above the file's
    c.put_many([f"q {i}" for i in range(500, 530)], [f"new {i}" for i in range(500, 530)])  # ids 101..130 again
    assert semantic(c, 500) == "new 500" and semantic(c, 100) is None
    c.close()
    (snap,) = snapshots(path)
    c = open_cache(path)  # the snapshot written by that close is of this file: adopted
    assert semantic(c, 500) == "new 500" and semantic(c, 100) is None and semantic(c, 3) == 3
    assert restored(c) is True
    c.close()


def test_a_snapshot_whose_ids_name_other_rows_is_not_adopted(tmp_path):
    # The file caught up with the snapshot's highest id, but with other rows under those ids:
    # the per-id keys tell them apart.
    path = newer_snapshot_older_file(tmp_path, 50, 10)  # ids 1..50 / snapshot 1..60
    snap_bytes = snapshots(path)[0].read_bytes()
    other = open_cache(path, persist_index=False)  # another process, the partition never loaded
    other.put_many([f"q {i}" for i in range(700, 710)], [f"new {i}" for i in range(700, 710)])  # ids 51..60
    other.close()
    snapshots(path)[0].write_bytes(snap_bytes)  # the newer state's snapshot beside it
    c = open_cache(path)
    assert semantic(c, 50) is None and semantic(c, 700) == "new 700" and semantic(c, 5) == 5
    assert restored(c) is False
    c.close()


def test_a_new_file_at_the_same_path_ignores_the_old_snapshot(tmp_path):
    path = tmp_path / "c.sqlite"
    closed_with_snapshot(path, 100)
    assert snapshots(path)
    path.unlink()
    c = open_cache(path)  # a new file: its row ids start again at 1, for other prompts
    c.put_many([f"q {i}" for i in range(500, 600)], [f"new {i}" for i in range(500, 600)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # of another file: ignored without a warning
        assert semantic(c, 3) is None  # id 4 of the old file's graph is "q 503" here
        assert semantic(c, 503) == "new 503"
    assert restored(c) is False
    c.close()
    c = open_cache(path)
    assert semantic(c, 503) == "new 503" and restored(c)
    c.close()


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "format"])
def test_a_damaged_snapshot_warns_and_the_index_is_built_from_the_file(tmp_path, damage):
    path = tmp_path / "c.sqlite"
    closed_with_snapshot(path, 150)
    (snap,) = snapshots(path)
    data = bytearray(snap.read_bytes())
    if damage == "truncate":
        data = data[:len(data) - 100]
    elif damage == "flip":
        data[-500] ^= 0x40
    elif damage == "header":
        data[len(b"tokenops vector index\n")] = ord("[")
    else:
        data = data.replace(b'"format": 1', b'"format": 9', 1)
    snap.write_bytes(bytes(data))
    c = open_cache(path)
    with pytest.warns(RuntimeWarning, match="snapshot .* is not used"):
        assert semantic(c, 42) == 42
    assert [semantic(c, i) for i in range(0, 150, 10)] == list(range(0, 150, 10))
    assert restored(c) is False
    c.close()  # replaced by a good one
    c = open_cache(path)
    assert semantic(c, 7) == 7 and restored(c)
    c.close()


def test_no_snapshot_without_persist_index_or_for_a_flat_index_or_in_memory(tmp_path):
    path = tmp_path / "c.sqlite"
    c = fill(path, 50, persist_index=False)
    semantic(c, 1)
    c.close()
    assert snapshots(path) == []
    c = fill(path, 50, start=50, index="flat")
    semantic(c, 1)
    assert c.save_index() == 0
    c.close()
    assert snapshots(path) == []
    c = fill(None, 50)
    semantic(c, 1)
    assert c.save_index() == 0 and c.index_dir is None
    c.close()
    with pytest.raises(TypeError, match="persist_index must be a bool"):
        tokenops.Cache(path, embedder=ShaEmbedder(), persist_index="yes")


def test_clear_removes_the_namespace_snapshots_only(tmp_path):
    path = tmp_path / "c.sqlite"
    for ns in ("a", "b"):
        c = fill(path, 40, namespace=ns)
        semantic(c, 1)
        assert c.save_index() == 1 and c.save_index() == 0  # written once until it changes
        c.close()
    assert len(snapshots(path)) == 2
    c = open_cache(path, namespace="a")
    assert c.clear() == 40
    (left,) = snapshots(path)
    assert vi.read_snapshot_header(left)["namespace"] == "b"
    c.close()
    c = open_cache(path, namespace="b")
    assert semantic(c, 3) == 3 and restored(c)
    c.close()


def test_a_snapshot_that_cannot_be_written_warns_and_loses_nothing(tmp_path):
    path = tmp_path / "c.sqlite"
    c = fill(path, 30)
    semantic(c, 0)
    path.with_name(path.name + ".index").write_text("a file where the folder should be")
    with pytest.warns(RuntimeWarning, match="snapshot was not written"):
        c.close()
    c = open_cache(path)
    assert semantic(c, 29) == 29 and len(c) == 30
    with pytest.warns(RuntimeWarning, match="snapshot was not written"):
        c.close()


def test_snapshot_files_are_checked_before_faiss_reads_them(tmp_path):
    p = tmp_path / "x.faiss"
    p.write_bytes(b"not a snapshot at all")
    with pytest.raises(ValueError, match="not a tokenops vector-index snapshot"):
        vi.read_snapshot(p)
    index = vi.VectorIndex(8, "hnsw")
    index.add(np.arange(1, 11, dtype=np.int64),
              np.eye(10, 8, dtype=np.float32) + np.float32(0.01))
    vi.write_snapshot(p, {"kind": "hnsw"}, index.serialize())
    head, fi, keys = vi.read_snapshot(p)
    assert keys.size == 0
    other = vi.VectorIndex(8, "hnsw")
    other.adopt(fi, {3})
    assert len(other) == 9 and other.ntotal == 10 and other.kind == "hnsw"
    with pytest.raises(ValueError, match="dimension 16"):
        vi.VectorIndex(16, "hnsw").adopt(vi.read_snapshot(p)[1], set())
    with pytest.raises(ValueError, match="only an HNSW index"):
        vi.VectorIndex(8, "flat").serialize()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed
