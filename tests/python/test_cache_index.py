"""The semantic cache's vector index (tokenops.cache.index.VectorIndex): exact and HNSW search,
deletions as tombstones, compaction, the flat -> HNSW switch; and Cache(index=...)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("faiss")

import tokenops  # noqa: E402
from tokenops.cache import index as vi  # noqa: E402
from tokenops.cache.index import VectorIndex  # noqa: E402


def unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(base: np.ndarray, ids: np.ndarray, live: np.ndarray, q: np.ndarray, k: int):
    sims = base[live] @ q
    order = np.argsort(-sims, kind="stable")[:k]
    return sims[order], ids[live][order]


def test_flat_search_is_exact_and_skips_tombstones():
    base, ids = unit(600), np.arange(10, 610, dtype=np.int64)
    index = VectorIndex(32, "flat")
    index.add(ids, base)
    dead = ids[::7]
    index.remove(dead.tolist())
    live = ~np.isin(ids, dead)
    assert len(index) == int(live.sum()) and index.ntotal == 600  # tombstones, not removed yet
    for q in unit(50, seed=1):
        s, j = index.search(q, 5)
        es, ej = brute(base, ids, live, q, 5)
        assert list(j) == list(ej)
        np.testing.assert_allclose(s, es, rtol=1e-5, atol=1e-6)
        assert not np.isin(j, dead).any()


def test_tombstones_are_compacted_and_results_stay_exact(monkeypatch):
    monkeypatch.setattr(vi, "_COMPACT_MIN", 50)
    base, ids = unit(400), np.arange(1, 401, dtype=np.int64)
    index = VectorIndex(32, "flat")
    index.add(ids, base)
    index.remove(range(1, 100))  # 99 < max(50, 400 // 4): tombstones
    assert index.rebuilds == 0 and index.ntotal == 400 and len(index) == 301
    index.remove([100])  # 100: compacted
    assert index.rebuilds == 1 and index.ntotal == len(index) == 300
    live = ids > 100
    for q in unit(20, seed=2):
        assert list(index.search(q, 3)[1]) == list(brute(base, ids, live, q, 3)[1])
    index.remove([5, 150])  # 5 was compacted away already: ignored; 150 a new tombstone
    assert len(index) == 299 and index.ntotal == 300


def test_search_never_returns_more_than_the_live_vectors():
    index = VectorIndex(32, "flat")
    assert index.search(unit(1)[0], 3)[1].size == 0
    index.add(np.array([1, 2], dtype=np.int64), unit(2))
    index.remove([1])
    s, j = index.search(unit(1, seed=3)[0], 5)
    assert list(j) == [2] and s.shape == (1,)
    index.remove([2])
    assert index.search(unit(1, seed=3)[0], 5)[1].size == 0


def test_auto_switches_to_hnsw_and_finds_stored_vectors():
    base, ids = unit(1500, d=48), np.arange(1, 1501, dtype=np.int64)
    index = VectorIndex(48, "auto", hnsw_from=1000)
    index.add(ids[:900], base[:900])
    assert index.kind == "flat"
    index.add(ids[900:], base[900:])
    assert index.kind == "hnsw" and len(index) == 1500 and index.rebuilds == 1
    found = sum(int(index.search(base[i], 1)[1][0]) == ids[i] for i in range(0, 1500, 5))
    assert found >= 297  # of 300: a stored vector is its own nearest neighbour (HNSW: near-certain)
    # tombstones in HNSW: never returned, and the graph is rebuilt once they pile up
    index.remove(ids[:200].tolist())
    for i in range(0, 200, 10):
        assert int(index.search(base[i], 1)[1][0]) not in set(ids[:200].tolist())
    index.remove(ids[200:400].tolist())  # 400 >= max(1024, 1500 // 4)? no: still tombstones
    assert index.ntotal == 1500 and len(index) == 1100
    index.remove(ids[400:1100].tolist())  # 1100 >= 1024: rebuilt
    assert index.kind == "hnsw" and index.ntotal == len(index) == 400 and index.rebuilds == 2
    assert all(int(index.search(base[i], 1)[1][0]) == ids[i] for i in range(1100, 1500, 40))


def test_hnsw_agrees_with_the_exact_index_on_near_duplicates():
    base, ids = unit(3000, d=64, seed=4), np.arange(1, 3001, dtype=np.int64)
    flat, hnsw = VectorIndex(64, "flat"), VectorIndex(64, "hnsw")
    flat.add(ids, base)
    hnsw.add(ids, base)
    noise = np.random.default_rng(5).standard_normal((200, 64)).astype(np.float32) * 0.02
    qs = base[:200] + noise
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    same = sum(int(flat.search(q, 1)[1][0]) == int(hnsw.search(q, 1)[1][0]) for q in qs)
    assert same >= 198


def test_bad_arguments():
    with pytest.raises(ValueError, match="index must be one of"):
        VectorIndex(8, "ivf")
    index = VectorIndex(8, "flat")
    with pytest.raises(ValueError, match="shape"):
        index.add(np.array([1, 2], dtype=np.int64), unit(3, d=8))
    index.add(np.array([1, 2], dtype=np.int64), unit(2, d=8))
    with pytest.raises(ValueError, match="already in the index"):
        index.add(np.array([2], dtype=np.int64), unit(1, d=8))
    with pytest.raises(ValueError, match="already in the index"):
        index.add(np.array([7, 7], dtype=np.int64), unit(2, d=8))
    assert len(index) == 2 and index.ntotal == 2  # a refused add stores nothing
    index.remove([2, 99])  # 99 was never stored: ignored
    assert len(index) == 1 and index.ntotal == 2


@pytest.mark.parametrize("kind", ["flat", "hnsw", "auto"])
def test_cache_serves_the_same_hits_with_every_index(kind, embedder, tmp_path):
    questions = ["How do I reset my PIN?", "What is the capital of France?",
                 "How can I cancel my subscription?", "Why was my card declined?",
                 "How long does a transfer take?"]
    c = tokenops.Cache(tmp_path / "c.sqlite", embedder=embedder, index=kind, hnsw_from=3)
    c.put_many(questions, list(range(5)))
    hit = c.get("how can I reset my PIN")
    assert hit is not None and hit.kind == "semantic" and hit.response == 0
    assert c.get("Tell me a joke about penguins") is None
    part = c.stats()["indexes"]
    assert len(part) == 1
    (info,) = part.values()
    assert info["kind"] == ("flat" if kind == "flat" else "hnsw") and info["vectors"] == 5
    # deleted and evicted entries are never served
    c.delete(hit.key)
    assert c.get("how can I reset my PIN") is None
    assert next(iter(c.stats()["indexes"].values()))["tombstones"] == 1
    # another process sharing the file deletes a row: the search meets it and skips it
    other = tokenops.Cache(tmp_path / "c.sqlite", embedder=embedder, index=kind)
    assert other.delete(c.get("What is the capital of France?").key)
    assert c.get("what's the capital city of France") is None
    # reopened: the index is rebuilt from the file
    c.close()
    with tokenops.Cache(tmp_path / "c.sqlite", embedder=embedder, index=kind, hnsw_from=3) as again:
        hit = again.get("why did my card get declined")
        assert hit is not None and hit.response == 3


def test_eviction_of_a_semantic_cache_leaves_no_evicted_entry_searchable(embedder, monkeypatch):
    monkeypatch.setattr(vi, "_COMPACT_MIN", 4)
    c = tokenops.Cache(embedder=embedder, max_entries=4)
    qs = [f"What is the weather like in city number {w}?" for w in
          ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")]
    for i, q in enumerate(qs):
        c.put(q, i)
        if i == 0:
            c.lookup("an unrelated question")  # loads the index: later puts feed it, evictions tombstone it
    assert len(c) == 4
    info = next(iter(c.stats()["indexes"].values()))
    assert info["vectors"] == 4 and info["tombstones"] <= 3  # compacted at 4 tombstones
    for i, q in enumerate(qs):
        hit = c.get(q)  # the evicted six: a miss or a semantic hit on a kept entry, never themselves
        if i >= 6:
            assert hit is not None and hit.kind == "exact" and hit.response == i
        else:
            assert hit is None or (hit.kind == "semantic" and hit.response >= 6)
    assert c.stats()["exact_hits"] == 4


@pytest.fixture
def gate(monkeypatch):
    """Background builds wait for ``gate.set()`` before they start adding vectors."""
    event = threading.Event()
    run = vi._Build._run

    def gated(self, vecs):
        event.wait(30)
        run(self, vecs)

    monkeypatch.setattr(vi._Build, "_run", gated)
    yield event
    event.set()


def test_background_build_carries_over_what_changed_while_it_ran(gate):
    base, ids = unit(3000, d=48, seed=6), np.arange(1, 3001, dtype=np.int64)
    index = VectorIndex(48, "auto", hnsw_from=2000, inline_build=100)
    index.add(ids[:2500], base[:2500])  # crosses hnsw_from: a background build starts
    assert index.building and index.kind == "flat"
    # meanwhile the flat index serves exactly, takes new vectors and deletions
    index.add(ids[2500:], base[2500:])
    index.remove(ids[:300].tolist())       # built into the graph, deleted since
    index.remove(ids[2900:].tolist())      # added after the copy, deleted since
    live = (ids > 300) & (ids <= 2900)
    q = base[1000]
    assert int(index.search(q, 1)[1][0]) == 1001 and index.kind == "flat"
    gate.set()
    assert index.wait(30)
    assert not index.building and index.kind == "hnsw" and index.rebuilds == 1
    assert len(index) == int(live.sum()) == 2600
    assert index.ntotal == 2900  # 2,500 built + 400 carried over; the 300 deleted are tombstones
    for i in list(range(0, 300, 30)) + list(range(2900, 3000, 10)):
        assert int(index.search(base[i], 1)[1][0]) != ids[i]  # deleted: never returned
    found = sum(int(index.search(base[i], 1)[1][0]) == ids[i] for i in range(300, 2900, 13))
    assert found >= 198  # of 200, including vectors added while the graph was built


def test_a_failed_background_build_keeps_the_flat_index(monkeypatch):
    def broken(self, vecs):
        self.error = MemoryError("no room for the graph")
        self.done.set()

    monkeypatch.setattr(vi._Build, "_run", broken)
    base, ids = unit(500), np.arange(1, 501, dtype=np.int64)
    index = VectorIndex(32, "hnsw", inline_build=10)
    index.add(ids, base)
    with pytest.warns(RuntimeWarning, match="no room for the graph"):
        index.wait(5)
    assert index.kind == "flat" and len(index) == 500
    assert int(index.search(base[7], 1)[1][0]) == 8


def test_vectors_added_during_a_build_are_copied_not_referenced(gate):
    base, ids = unit(2020, d=16, seed=7), np.arange(1, 2021, dtype=np.int64)
    index = VectorIndex(16, "hnsw", inline_build=100)
    index.add(ids[:2000], base[:2000])
    assert index.building
    buf_ids, buf_vecs = ids[2000:2010].copy(), base[2000:2010].copy()
    index.add(buf_ids, buf_vecs)
    buf_ids[:], buf_vecs[:] = ids[2010:], base[2010:]  # the caller reuses its arrays
    index.add(buf_ids, buf_vecs)
    gate.set()
    assert index.wait(30) and index.kind == "hnsw"
    assert index.ntotal == len(index) == 2020  # each carried-over vector once
    assert all(int(index.search(base[i], 1)[1][0]) == ids[i] for i in range(2000, 2020))


def test_tombstones_made_during_a_build_are_compacted_at_the_swap(gate, monkeypatch):
    monkeypatch.setattr(vi, "_COMPACT_MIN", 100)
    base, ids = unit(2000, d=16, seed=8), np.arange(1, 2001, dtype=np.int64)
    index = VectorIndex(16, "hnsw", inline_build=1000)
    index.add(ids, base)
    assert index.building
    index.remove(range(1, 1201))  # 60% deleted while the graph is built: no compaction yet
    assert index.building and index.kind == "flat"
    gate.set()
    assert index.wait(30)
    # swapped in with 1,200 tombstones of 2,000 vectors, then compacted (800 live: inline)
    assert index.kind == "hnsw" and index.rebuilds == 2 and index.ntotal == len(index) == 800
    assert all(int(index.search(base[i], 1)[1][0]) == ids[i] for i in range(1200, 2000, 40))


class HashEmbedder:
    """Deterministic 16-d vectors from a text's hash (no model: fast for thousands of entries)."""

    name, dim = "hash-test", 16

    def embed(self, texts):
        return np.array([np.random.default_rng(abs(hash(t))).standard_normal(16) for t in texts],
                        dtype=np.float32)


@pytest.mark.parametrize("drop", ["close", "clear"])
def test_cache_close_and_clear_stop_a_background_build(drop, gate):
    c = tokenops.Cache(embedder=HashEmbedder(), index="hnsw", guards=[])
    n = vi.INLINE_BUILD + 1
    c.put_many([f"question {i}" for i in range(n)], list(range(n)))
    c.lookup("another question")  # the first search reads the partition: a background build starts
    (part,) = c._partitions.values()
    build = part.index._build
    assert build is not None and build.thread.is_alive()
    assert c.stats()["indexes"][next(iter(c._partitions))]["building"] is True
    if drop == "close":
        c.close()
    else:
        assert c.clear() == n and len(c) == 0
    assert build.stop and part.index._build is None
    gate.set()
    build.thread.join(30)
    assert not build.thread.is_alive() and build.index.ntotal == 0  # stopped before its first chunk


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_an_entry_replaced_by_another_process_is_served_at_the_first_lookup(kind, embedder, tmp_path):
    path = tmp_path / "c.sqlite"
    c = tokenops.Cache(path, embedder=embedder, index=kind)
    c.put_many(["How do I reset my PIN?", "What is the capital of France?"], ["old", "Paris"])
    assert c.get("how can I reset my PIN").response == "old"
    other = tokenops.Cache(path, embedder=embedder, index=kind)
    other.put("How do I reset my PIN?", "new")  # its old row deleted, a new row with the same vector
    hit = c.get("how can I reset my PIN")  # the stale row is met first, tombstoned, searched past
    assert hit is not None and hit.kind == "semantic" and hit.response == "new"
    assert next(iter(c.stats()["indexes"].values()))["tombstones"] == 1


def test_a_failed_switch_keeps_the_vectors_and_the_flat_index(monkeypatch):
    def no_memory(self, kind, *, inline=False):
        raise MemoryError("no room for the copy")

    base, ids = unit(300), np.arange(1, 301, dtype=np.int64)
    index = VectorIndex(32, "auto", hnsw_from=100)
    with monkeypatch.context() as m:
        m.setattr(VectorIndex, "_rebuild", no_memory)
        with pytest.warns(RuntimeWarning, match="no room for the copy"):
            index.add(ids[:200], base[:200])  # crosses hnsw_from: the switch fails
    assert index.kind == "flat" and len(index) == 200
    assert int(index.search(base[150], 1)[1][0]) == 151
    index.add(ids[200:], base[200:])  # the next add switches (no "already in the index")
    assert index.kind == "hnsw" and len(index) == 300


def test_a_fork_during_a_build_abandons_it_in_the_child(gate):
    base, ids = unit(400), np.arange(1, 401, dtype=np.int64)
    index = VectorIndex(32, "hnsw", inline_build=10)
    index.add(ids, base)
    assert index.building
    vi._forked()  # what os.register_at_fork runs in a child (its builder thread does not exist)
    with pytest.warns(RuntimeWarning, match="forked"):
        index.poll()
    assert not index.building and index.kind == "flat" and len(index) == 400
    gate.set()
