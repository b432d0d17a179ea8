"""tokenops.cache: guards, exact and semantic hits, persistence, expiry, eviction, bad input."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tokenops
from tokenops.cache import DEFAULT_GUARDS, GUARDS, Cache, guard, guard_batch, guard_names, normalize_prompt, signature

pytest.importorskip("faiss")


# ------------------------------------------------------------------------------------ guards
@pytest.mark.parametrize(
    ("a", "b", "failed"),
    [
        ("What is 15% of 80?", "What is 15% of 90?", ("numbers",)),
        ("What is 15% of 80?", "what's 15 percent of 80", ()),
        ("a 1,000-word essay", "a 1000 word essay", ()),
        ("２０２４年の売上は？", "2024年の売上は？", ()),  # fullwidth digits are numbers
        ("２０２４年の売上は？", "２０２５年の売上は？", ("numbers",)),
        ("Which foods are not vegan?", "Which foods are vegan?", ("negation",)),
        ("Why can't I sleep?", "why cant i sleep", ()),
        ("How do I learn Python?", "How do I learn Java?", ("entities",)),
        ("How do I learn Python?", "how can i learn python quickly", ()),
        ('Translate "I love cats" to French', 'Translate "I love dogs" to French', ("quoted",)),
        ("not 5 Paris", "6 London", ("numbers", "negation", "entities")),
        # what an embedding blurs in numbers (MiniLM cosines 0.98, 0.91, 0.96, 0.84)
        ("Set an alarm for 5am", "Set an alarm for 5pm", ("numbers",)),
        ("What is a salary of 10k in euros?", "What is a salary of 10M in euros?", ("numbers",)),
        ("What's new in Python 3.10?", "What's new in Python 3.1?", ("numbers",)),
        ("What is -5 squared?", "What is 5 squared?", ("numbers",)),
        ("Sort 1,2", "Sort 12", ("numbers",)),
        ("Is GPT-4 good?", "Is GPT 4 good?", ()),
        ("It costs 1,000,000", "It costs 1000000", ()),
    ],
)
def test_guard_cases(a, b, failed):
    assert guard(a, b, guards=GUARDS) == failed
    assert guard(b, a, guards=GUARDS) == failed  # symmetric
    assert guard(a, b) == tuple(g for g in failed if g in DEFAULT_GUARDS)  # quoted, entities opt-in
    assert guard(a, b, guards=()) == ()


def test_default_guards():
    assert DEFAULT_GUARDS == ("numbers", "negation")
    assert Cache(embedder=None).guards == DEFAULT_GUARDS


def test_guard_subsets_names_and_signature():
    assert guard("not 5 Paris", "6 London", guards=["numbers"]) == ("numbers",)
    assert guard("not 5 Paris", "6 London", guards="negation") == ("negation",)
    assert guard_names(1 | 8) == ("numbers", "quoted")
    sig = signature('Is the iPhone 12 "waterproof"? Not sure.')
    assert sig == {"numbers": ["12"], "entities": ["iphone"], "quoted": ["waterproof"], "negated": True}
    with pytest.raises(ValueError, match="unknown cache guard 'dates'"):
        guard("a", "b", guards=["dates"])
    with pytest.raises(TypeError):
        guard("a", 3)  # type: ignore[arg-type]


def test_guard_batch_matches_guard_for_any_thread_count():
    a = ["What is 15% of 80?", "Which foods are not vegan?", "How do I learn Python?", "x"] * 50
    b = ["What is 15% of 90?", "Which foods are vegan?", "how do i learn python", "x"] * 50
    want = [sum(1 << GUARDS.index(g) for g in guard(x, y, guards=GUARDS)) for x, y in zip(a, b)]
    for t in (1, 2, 4):
        got = guard_batch(a, b, guards=GUARDS, num_threads=t)
        assert got.dtype == np.uint32
        assert got.tolist() == want
    with pytest.raises(ValueError, match="differ in length"):
        guard_batch(["a"], ["a", "b"])
    with pytest.raises(TypeError):
        guard_batch(["a", 1], ["a", "b"])  # type: ignore[list-item]


def test_normalize_prompt():
    assert normalize_prompt("  Hello \n\t world  ") == "Hello world"
    assert normalize_prompt("cafe\u0301") == "caf\u00e9"  # NFC
    assert normalize_prompt("Hello") != normalize_prompt("hello")  # case kept


# ------------------------------------------------------------------------------------ exact
def test_exact_cache_without_embedder(tmp_path):
    c = Cache(embedder=None)
    key = c.put("How do I reset my PIN?", {"text": "Settings > Security", "tokens": 12}, model="gpt-4o")
    hit = c.get("  How do I   reset my PIN? ", model="gpt-4o")
    assert hit is not None and hit.kind == "exact" and hit.similarity == 1.0 and hit.key == key
    assert hit.response == {"text": "Settings > Security", "tokens": 12}
    assert hit.hits == 1 and c.get("How do I reset my PIN?", model="gpt-4o").hits == 2
    assert c.get("how do i reset my pin?", model="gpt-4o") is None  # no embedder: exact only
    assert c.get("How do I reset my PIN?", model="gpt-4o-mini") is None  # another model
    assert c.get("How do I reset my PIN?", model="gpt-4o", params={"temperature": 1}) is None
    assert c.get("How do I reset my PIN?") is None
    s = c.stats()
    assert (s["lookups"], s["exact_hits"], s["misses"], s["puts"]) == (6, 2, 4, 1)
    assert s["hit_rate"] == pytest.approx(2 / 6)


def test_params_are_canonical_and_namespaces_separate():
    c = Cache(embedder=None)
    c.put("q", "a", params={"temperature": 0, "max_tokens": 10})
    assert c.get("q", params={"max_tokens": 10, "temperature": 0}) is not None
    other = Cache(embedder=None, namespace="tenant-2")
    other._db = c._db  # one file, two namespaces
    assert other.get("q", params={"max_tokens": 10, "temperature": 0}) is None
    assert len(c) == 1 and len(other) == 0


def test_chat_prompts_match_on_the_last_user_message_within_the_same_context(embedder):
    c = Cache(embedder=embedder)
    sys1 = {"role": "system", "content": "You are a banking assistant."}
    sys2 = {"role": "system", "content": "You are a pirate."}
    c.put([sys1, {"role": "user", "content": "How do I reset my PIN?"}], "Settings > Security")
    hit = c.get([sys1, {"role": "user", "content": [{"type": "text", "text": "how can I reset my PIN"}]}])
    assert hit is not None and hit.kind == "semantic" and hit.cached_prompt == "How do I reset my PIN?"
    assert c.get([sys2, {"role": "user", "content": "How do I reset my PIN?"}]) is None
    assert c.get("How do I reset my PIN?") is None  # a bare str has no system prompt
    with pytest.raises(ValueError, match="role 'user'"):
        c.get([sys1])
    with pytest.raises(TypeError, match="chat message"):
        c.get([sys1, 3])


def test_images_and_other_non_text_parts_of_the_last_user_message_must_match():
    # the text of "What animal is this?" is the same; the pictures are not
    def ask(url):
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                             {"type": "text", "text": "What animal is this?"}]}]

    c = Cache(embedder=None)
    c.put(ask("https://example.com/cat.png"), "a cat")
    assert c.get(ask("https://example.com/dog.png")) is None
    assert c.get(ask("https://example.com/cat.png")).response == "a cat"
    anthropic = [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAA"}},
        {"type": "text", "text": "Describe the picture"}]}]
    c.put(anthropic, "picture one")
    anthropic[0]["content"][0]["source"]["data"] = "iVBORw0KGgoBBBB"
    assert c.get(anthropic) is None
    # text-only parts keep the key of the same text as a str (no new key for existing entries)
    c.put([{"role": "user", "content": "hello there"}], "hi")
    assert c.get([{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]).response == "hi"


# ------------------------------------------------------------------------------------ semantic
def test_semantic_hits_respect_threshold_and_guards(embedder):
    c = Cache(embedder=embedder, threshold=0.75)
    c.put_many(
        ["How do I reset my PIN?", "What is 15% of 80?", "Which foods are vegan?"],
        ["pin answer", "12", "vegan answer"],
    )
    queries = ["how can I reset my PIN", "What is 15% of 90?", "Which foods are not vegan?",
               "What is the weather in Paris?"]
    got = c.lookup_many(queries)
    sims = embedder.similarity(queries, ["How do I reset my PIN?", "What is 15% of 80?",
                                         "Which foods are vegan?", "How do I reset my PIN?"])
    assert got[0].hit is not None and got[0].hit.response == "pin answer"
    assert got[0].hit.similarity == pytest.approx(float(sims[0, 0]), abs=1e-5)
    assert got[0].hit.similarity >= 0.75
    assert got[1].hit is None and got[1].rejected_by == ("numbers",)
    assert got[1].similarity == pytest.approx(float(sims[1, 1]), abs=1e-5) and got[1].similarity >= 0.75
    assert got[2].hit is None and got[2].rejected_by == ("negation",)
    assert got[3].hit is None and got[3].rejected_by == () and got[3].similarity < 0.75
    # the same cache without guards serves the wrong answers: what the guards are for
    loose = Cache(embedder=embedder, threshold=0.75, guards=())
    loose.put_many(["What is 15% of 80?", "Which foods are vegan?"], ["12", "vegan answer"])
    assert [h.response for h in loose.get_many(queries[1:3])] == ["12", "vegan answer"]
    s = c.stats()
    assert (s["semantic_hits"], s["guard_rejections"], s["misses"]) == (1, 2, 3)


def test_a_vetoed_nearest_neighbour_is_a_miss_unless_top_k_allows_more(embedder):
    # "iPhone 12" is nearest (0.93) and fails `numbers`; "Can the iPhone 13 get wet?" (0.87) passes
    entries = [("Is the iPhone 12 waterproof?", "12: IP68"), ("Can the iPhone 13 get wet?", "13: IP68")]
    one, four = Cache(embedder=embedder, threshold=0.8), Cache(embedder=embedder, threshold=0.8, top_k=4)
    for c in (one, four):
        c.put_many([p for p, _ in entries], [r for _, r in entries])
    r1 = one.lookup("Is the iPhone 13 waterproof?")
    assert r1.hit is None and r1.rejected_by == ("numbers",)
    assert r1.nearest_prompt == "Is the iPhone 12 waterproof?" and r1.similarity > 0.9
    r4 = four.lookup("Is the iPhone 13 waterproof?")
    assert r4.hit is not None and r4.hit.response == "13: IP68" and r4.hit.kind == "semantic"
    # the Lookup names the nearest prompt (the vetoed one) with its similarity, the hit its own
    assert r4.nearest_prompt == "Is the iPhone 12 waterproof?" and r4.rejected_by == ("numbers",)
    assert r4.similarity > r4.hit.similarity >= 0.8


def test_prompts_longer_than_the_embedder_sees_are_matched_exactly_only(embedder):
    # MiniLM reads 256 word pieces: two prompts that share a long context and differ after it
    # have the same vector (cosine 1.0), so the semantic level cannot tell them apart
    doc = " ".join(["The quarterly report covers revenue growth across the European and Asian markets."] * 30)
    summarise = doc + "\n\nQuestion: summarise this report in one sentence."
    translate = doc + "\n\nQuestion: translate this report into French."
    assert embedder.similarity(summarise, translate)[0, 0] > 0.999
    c = Cache(embedder=embedder)
    c.put(summarise, "the summary", model="gpt-4o")
    assert c.get(summarise, model="gpt-4o").kind == "exact"  # the exact level still serves it
    assert c.get(" ".join(translate.split()), model="gpt-4o") is None
    assert c.get(translate, model="gpt-4o") is None
    # a short prompt that is the long entry's beginning is no match for it either
    assert c.get(doc[:400], model="gpt-4o") is None
    # prompts within the window still hit semantically, also beside a long entry
    c.put("How do I reset my PIN?", "pin answer", model="gpt-4o")
    assert c.get("how can I reset my PIN", model="gpt-4o").kind == "semantic"


class CountingEmbedder:
    """The real embedder, counting the texts it embeds."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.texts = inner, inner.name, inner.dim, 0

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_embeds_only_what_can_hit(embedder):
    spy = CountingEmbedder(embedder)
    c = Cache(embedder=spy)
    assert c.get("How do I reset my PIN?", model="gpt-4o") is None and spy.texts == 0  # empty
    c.put("How do I reset my PIN?", "x", model="gpt-4o")
    assert spy.texts == 1
    assert c.get("How do I reset my PIN?", model="gpt-4o").kind == "exact" and spy.texts == 1
    assert c.get("How do I reset my PIN?", model="o3") is None and spy.texts == 1  # other partition
    assert c.get("how can I reset my PIN", model="gpt-4o").kind == "semantic" and spy.texts == 2
    assert c.stats()["misses"] == 2


def test_guards_are_fixed_at_construction():
    c = Cache(embedder=None, guards=("numbers",))
    assert c.guards == ("numbers",)
    with pytest.raises(AttributeError):
        c.guards = ()  # type: ignore[misc]


def test_put_replaces_and_repeated_keys_in_a_batch_keep_the_last(embedder):
    c = Cache(embedder=embedder)
    c.put("q one", "old")
    c.put("q one", "new")
    assert len(c) == 1 and c.get("q one").response == "new"
    c.put_many(["q two", "q two", "q three"], ["a", "b", "c"])
    assert len(c) == 3 and c.get("q two").response == "b"
    # the vector index holds one vector per entry, also after replacing a loaded entry
    c.lookup("something else entirely")  # loads the partition's index
    part = next(iter(c._partitions.values()))
    assert len(part.index) == 3
    c.put("q three", "d")
    c.lookup("something else entirely")
    assert len(part.index) == 3 and c.get("q three").response == "d"


# ------------------------------------------------------------------------------------ storage
def test_persists_and_reopens(tmp_path, embedder):
    path = tmp_path / "cache.sqlite"
    with Cache(path, embedder=embedder) as c:
        c.put("How do I reset my PIN?", ["a", "list", 1])
    with Cache(path, embedder=embedder) as c:
        assert len(c) == 1
        assert c.get("how can I reset my PIN").response == ["a", "list", 1]
    with Cache(path, embedder=None) as c:  # exact-only view of a semantic file
        assert c.get("How do I reset my PIN?").kind == "exact"


def test_a_failed_put_changes_nothing(tmp_path):
    path = tmp_path / "c.sqlite"
    with Cache(path, embedder=None) as c:
        c.put("a", "old")
    con = sqlite3.connect(path)  # a write that fails half-way through the batch
    con.execute("CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.text = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    con.commit()
    con.close()
    with Cache(path, embedder=None) as c:
        with pytest.raises(sqlite3.DatabaseError, match="boom"):
            c.put_many(["a", "boom"], ["new", "x"])
        assert c.get("a").response == "old" and len(c) == 1  # the replaced entry is still there


def test_two_caches_share_one_file(tmp_path, embedder):
    # as two processes would: each sees the other's puts and deletes at the semantic level
    path = tmp_path / "shared.sqlite"
    a, b = Cache(path, embedder=embedder), Cache(path, embedder=embedder)
    a.put("How do I reset my PIN?", "pin")
    assert b.get("how can I reset my PIN").response == "pin"  # b loads the partition
    k = a.put("What are your opening hours?", "9 to 5")
    assert b.get("when are you open? what are your opening hours").response == "9 to 5"
    assert a.delete(k)
    assert b.get("when are you open? what are your opening hours") is None
    a.close()
    b.close()


def test_two_caches_putting_the_same_prompts_at_once(tmp_path):
    # as two processes answering the same question: each put replaces the other's entry; none
    # may fail on the unique key because the other committed between its read and its insert
    path = tmp_path / "shared.sqlite"
    caches = [Cache(path, embedder=None) for _ in range(4)]

    def work(t: int) -> int:
        for i in range(200):
            caches[t].put(f"question {i % 5}", f"{t}-{i}")
        return t

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(work, range(4), timeout=120)) == [0, 1, 2, 3]
    assert len(caches[0]) == 5 and caches[1].get("question 4").response.endswith("-199")
    for c in caches:
        c.close()


def _open_new_files_at_once(tmp_path, n_workers, rounds, open_one):
    """n_workers threads (each with its own connection, as processes would have) open the same
    new file at once, ``rounds`` times; the errors they met."""
    barrier = threading.Barrier(n_workers)

    def work(w: int) -> list[str]:
        errors = []
        for r in range(rounds):
            barrier.wait(timeout=60)
            try:
                open_one(tmp_path / f"{r}.sqlite", w)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")
        return errors

    with ThreadPoolExecutor(n_workers) as pool:
        return [e for errs in pool.map(work, range(n_workers), timeout=300) for e in errs]


def test_caches_opening_a_new_file_at_once_all_open_it(tmp_path):
    # each opener used to make the tables, the counts and the meta rows in separate steps: one
    # could see the file half made ("an SQLite database of something else (tables: meta)"), insert
    # the meta rows a second time ("UNIQUE constraint failed"), or meet the other's switch to WAL
    # ("database is locked"), each reported as "not a tokenops cache file"
    def open_one(path, w):
        with Cache(path, embedder=None) as c:
            c.put(f"question {w}", "answer")

    assert _open_new_files_at_once(tmp_path, 4, 40, open_one) == []
    for r in range(40):
        with Cache(tmp_path / f"{r}.sqlite", embedder=None) as c:
            assert len(c) == 4 and c.get("question 3").response == "answer"


def test_an_exact_only_cache_does_not_write_into_a_file_made_semantic_meanwhile(tmp_path, embedder):
    path = tmp_path / "c.sqlite"
    exact = Cache(path, embedder=None)  # a new file: no vectors yet
    semantic = Cache(path, embedder=embedder)  # empty, so it becomes a semantic file
    with pytest.raises(ValueError, match="is a semantic cache"):
        exact.put("q", "a")  # its entry would have no vector: never found by the semantic level
    assert exact.get("q") is None and len(semantic) == 0
    semantic.put("How do I reset my PIN?", "pin")
    assert exact.get("How do I reset my PIN?").response == "pin"  # it still reads the file
    exact.close()
    semantic.close()


def test_a_hit_is_served_when_the_file_cannot_take_its_hit_count(tmp_path, monkeypatch):
    # a look-up writes on the side (the hit count and last use; an expired entry's deletion):
    # with the file locked by another process's writer past the busy timeout (or read-only), the
    # look-up raised "database is locked" and the stored answer was lost to the caller
    path = tmp_path / "c.sqlite"
    with Cache(path, embedder=None, ttl=60) as c:
        c.put("q", "a")
    c = Cache(path, embedder=None, ttl=60)
    c._db.execute("PRAGMA busy_timeout = 0")  # so that the test need not wait out the timeout
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with pytest.warns(RuntimeWarning, match="the hit is served, but its count and last use were not recorded"):
        hit = c.get("q")
    assert hit is not None and hit.response == "a" and hit.hits == 1
    later = time.time() + 120
    monkeypatch.setattr("tokenops.cache.core.time.time", lambda: later)
    with pytest.warns(RuntimeWarning, match="the expired entry was not deleted"):
        assert c.get("q") is None  # expired: not served, whether or not it could be deleted
    writer.execute("ROLLBACK")
    writer.close()
    monkeypatch.undo()
    assert c.get("q").hits == 1  # the entry is intact; the lost count stays lost
    c.close()


def test_file_errors(tmp_path, embedder):
    bad = tmp_path / "not_a_cache.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a tokenops cache file"):
        Cache(bad, embedder=None)
    assert bad.read_bytes() == b"this is not sqlite" * 100  # untouched
    foreign = tmp_path / "app.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(ValueError, match="database of something else"):
        Cache(foreign, embedder=None)
    assert foreign.read_bytes() == before  # nothing written into the user's database
    with pytest.raises(OSError, match="cannot open the cache file"):
        Cache(tmp_path / "no" / "such" / "dir.sqlite", embedder=None)
    # a cache file SQLite cannot open (its -wal journal cannot be made: a folder stands in the
    # way, as a read-only folder or disk would) is not called a file of something else
    blocked = tmp_path / "blocked.sqlite"
    with Cache(blocked, embedder=None) as c:
        c.put("kept", "answer")
    (tmp_path / "blocked.sqlite-wal").mkdir()
    with pytest.raises(OSError, match="cannot open the cache file .*unable to open database file.*writable") as e:
        Cache(blocked, embedder=None)
    assert "not a tokenops cache" not in str(e.value)
    (tmp_path / "blocked.sqlite-wal").rmdir()
    with Cache(blocked, embedder=None) as c:
        assert c.get("kept").response == "answer"
    exact_only = tmp_path / "exact.sqlite"
    with Cache(exact_only, embedder=None) as c:
        c.put("q", "a")
    with pytest.raises(ValueError, match="without an embedder"):
        Cache(exact_only, embedder=embedder)
    with Cache(exact_only, embedder=None) as c:
        assert c.get("q").response == "a"  # still there
    other = tmp_path / "other.sqlite"
    with Cache(other, embedder=embedder) as c:
        c.put("q", "a")
    con = sqlite3.connect(other)
    con.execute("UPDATE meta SET value = 'some-other-model/768' WHERE key = 'embedder'")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="some-other-model/768"):
        Cache(other, embedder=embedder)


def test_ttl_and_eviction(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("tokenops.cache.core.time.time", lambda: now[0])
    c = Cache(embedder=None, ttl=60)
    c.put("q", "a")
    now[0] += 59
    assert c.get("q") is not None
    now[0] += 2
    assert c.get("q") is None and len(c) == 0 and c.stats()["expired"] == 1
    lru = Cache(embedder=None, max_entries=2)
    lru.put("a", 1)
    now[0] += 1
    lru.put("b", 2)
    now[0] += 1
    assert lru.get("a") is not None  # a is now the most recently used
    now[0] += 1
    lru.put("c", 3)
    assert len(lru) == 2 and lru.get("b") is None and lru.get("a") is not None


def test_get_or_call_and_savings(tmp_path, embedder):
    path = tmp_path / "c.sqlite"
    calls = []

    def call():
        calls.append(1)
        return {"choices": [{"message": {"content": "Settings > Security"}}], "usage": {"total_tokens": 40}}

    with Cache(path, embedder=embedder) as c:
        r1, h1 = c.get_or_call("How do I reset my PIN?", call, model="gpt-4o", cost=lambda r: 0.002)
        r2, h2 = c.get_or_call("how can I reset my PIN", call, model="gpt-4o", cost=0.002)
        r3, h3 = c.get_or_call("How do I reset my PIN?", call, model="gpt-4o")
        assert len(calls) == 1 and h1 is None and r1 == r2 == r3
        assert h2.kind == "semantic" and h3.kind == "exact" and h3.hits == 2
        assert c.stats()["saved_cost"] == pytest.approx(0.004)
    with Cache(path, embedder=embedder) as c:  # the file keeps the totals
        assert c.savings() == {"entries": 1, "hits": 2, "saved_cost": pytest.approx(0.004)}
        with pytest.raises(TypeError, match="call must be a function"):
            c.get_or_call("q", "not callable")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="finite amount >= 0"):
            c.put("q", "a", cost=-1)
        with pytest.raises(TypeError, match="must be a number"):
            c.put("q", "a", cost="0.1")  # type: ignore[arg-type]
        assert len(c) == 1


def test_get_or_call_never_loses_a_paid_response():
    c = Cache(embedder=None)
    with pytest.warns(RuntimeWarning, match="not cached"):
        r, hit = c.get_or_call("q", lambda: object.__new__(object))  # cannot be stored
    assert hit is None and type(r) is object and len(c) == 0

    def bad_cost(resp):
        raise ZeroDivisionError("pricing bug")

    with pytest.warns(RuntimeWarning, match="ZeroDivisionError"):
        r, hit = c.get_or_call("q2", lambda: "answer", cost=bad_cost)
    assert r == "answer" and hit is None


def test_an_exact_only_view_of_a_semantic_file_reads_but_does_not_write(tmp_path, embedder):
    path = tmp_path / "c.sqlite"
    with Cache(path, embedder=embedder) as c:
        c.put("How do I reset my PIN?", "x")
    with Cache(path, embedder=None) as c:
        assert c.get("How do I reset my PIN?").response == "x"
        with pytest.raises(ValueError, match="semantic cache"):
            c.put("new question", "y")
        assert len(c) == 1


def test_asyncio_helpers(embedder):
    c = Cache(embedder=embedder)
    calls = []

    async def llm():
        calls.append(1)
        await asyncio.sleep(0)
        return {"text": "Settings > Security"}

    async def main():
        r1, h1 = await c.aget_or_call("How do I reset my PIN?", llm, cost=0.001)
        r2, h2 = await c.aget_or_call("how can I reset my PIN", llm)
        # look-ups of several tasks at once share the cache safely
        hits = await asyncio.gather(*(c.aget("How do I reset my PIN?") for _ in range(8)))
        await c.aput("Another question", "another answer")
        return r1, h1, r2, h2, hits, await c.aget("Another question")

    r1, h1, r2, h2, hits, other = asyncio.run(main())
    assert len(calls) == 1 and h1 is None and r1 == r2 and h2.kind == "semantic"
    assert all(h.kind == "exact" for h in hits) and other.response == "another answer"
    assert c.stats()["saved_cost"] == pytest.approx(0.009)


def test_entry_counts_follow_every_write(tmp_path):
    path = tmp_path / "c.sqlite"
    a = Cache(path, embedder=None, max_entries=3)
    b = Cache(path, embedder=None, namespace="other")
    a.put_many(["q1", "q2", "q1"], [1, 2, 3])  # a repeated key is one entry
    b.put_many(["x", "y"], [1, 2])
    assert (len(a), len(b)) == (2, 2)
    a.put_many(["q3", "q4", "q5"], [3, 4, 5])  # over max_entries: the least recently used go
    assert len(a) == 3 and len(b) == 2
    b.delete(b.put("z", 0))
    assert len(b) == 2 and b.clear() == 2 and len(b) == 0 and len(a) == 3
    a.close()
    b.close()
    # a file written before the counts table existed gets it, filled from the rows
    con = sqlite3.connect(path)
    con.executescript("DROP TRIGGER entries_counted; DROP TRIGGER entries_uncounted; DROP TABLE counts;")
    con.close()
    with Cache(path, embedder=None, namespace="other") as c:
        assert len(c) == 0
    with Cache(path, embedder=None) as c:
        assert len(c) == 3
        c.put("q6", 6)
        assert len(c) == 4  # the triggers are back
    assert [r[0] for r in sqlite3.connect(path).execute("SELECT COUNT(*) FROM entries")] == [4]


def test_delete_and_clear(embedder):
    c = Cache(embedder=embedder)
    k = c.put("How do I reset my PIN?", "x")
    c.put("Another question", "y")
    assert c.delete(k) is True and c.delete(k) is False
    assert c.get("how can I reset my PIN") is None  # gone from the vector index too
    assert c.clear() == 1 and len(c) == 0


def test_threads_share_one_cache(embedder):
    c = Cache(embedder=embedder)

    def work(t: int) -> int:
        for i in range(15):
            c.put(f"question {t} number {i}", i)
            hit = c.get(f"question {t} number {i}")
            assert hit is not None and hit.response == i
        return t

    with ThreadPoolExecutor(4) as pool:  # map re-raises a worker's exception here
        assert sorted(pool.map(work, range(4))) == [0, 1, 2, 3]
    assert len(c) == 60


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": True}, ValueError, "threshold"),
        ({"ttl": 0}, ValueError, "ttl"),
        ({"ttl": float("inf")}, ValueError, "ttl"),
        ({"max_entries": 0}, ValueError, "max_entries"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"guards": ["typo"]}, ValueError, "unknown cache guard"),
        ({"embedder": "minilm"}, ValueError, "embedder"),
        ({"namespace": 3}, TypeError, "namespace"),
        # was accepted, then SQLite's UnicodeEncodeError at the first put, naming no argument
        ({"namespace": "tenant-\ud800"}, ValueError, "namespace is not valid Unicode: it holds a lone surrogate"),
        ({"index": "ivf"}, ValueError, "index must be one of"),
        ({"hnsw_from": 0}, ValueError, "hnsw_from"),
        ({"hnsw_from": 2.5}, TypeError, "hnsw_from"),
    ],
)
def test_bad_options(kwargs, exc, match):
    kwargs = {"embedder": None, **kwargs}
    with pytest.raises(exc, match=match):
        Cache(**kwargs)


class BrokenEmbedder:
    """The real embedder, with the vectors of some texts spoiled."""

    def __init__(self, inner, spoil):
        self.inner, self.name, self.dim, self.spoil, self.broken = inner, inner.name, inner.dim, spoil, set()

    def embed(self, texts):
        v = np.array(self.inner.embed(texts), dtype=np.float32)
        return self.spoil(v) if any(t in self.broken for t in texts) else v


@pytest.mark.parametrize(
    ("spoil", "match"),
    [
        (lambda v: np.full_like(v, np.nan), "not finite"),
        (lambda v: np.zeros_like(v), "zero vector"),
        (lambda v: v[:, :7], r"shape \(1, 7\).*\(1, 384\)"),
        (lambda v: v[:0], r"shape \(0, 384\).*\(1, 384\)"),
    ],
)
def test_an_embedder_that_returns_bad_vectors_is_refused_and_stores_nothing(embedder, spoil, match):
    e = BrokenEmbedder(embedder, spoil)
    c = Cache(embedder=e)
    c.put("How do I reset my PIN?", "pin")
    e.broken = {"What are your opening hours?", "how can I reset my PIN"}
    with pytest.raises(ValueError, match=match):
        c.put("What are your opening hours?", "9 to 5")
    with pytest.raises(ValueError, match=match):
        c.get("how can I reset my PIN")
    assert len(c) == 1
    e.broken = set()
    assert c.get("how can I reset my PIN").response == "pin"  # the index still works


def test_a_nul_in_the_namespace_or_model_is_refused(tmp_path):
    # the key hashed namespace NUL model NUL ...: namespace "tenant-a" with model "gpt\x00gpt-4o"
    # and namespace "tenant-a\x00gpt" with model "gpt-4o" had one key, so one tenant was served
    # the other's entry
    path = tmp_path / "c.sqlite"
    a = Cache(path, embedder=None, namespace="tenant-a")
    with pytest.raises(ValueError, match="model must not contain a NUL"):
        a.put("What is my balance?", "tenant a: 1,234 USD", model="gpt\x00gpt-4o")
    with pytest.raises(ValueError, match="model must not contain a NUL"):
        a.get("What is my balance?", model="gpt\x00gpt-4o")
    with pytest.raises(ValueError, match="namespace must not contain a NUL"):
        Cache(path, embedder=None, namespace="tenant-a\x00gpt")
    assert len(a) == 0
    a.close()


def test_params_keys_must_be_str():
    # JSON writes the key 1 as "1": {1: x} and {"1": x} would share entries
    c = Cache(embedder=None)
    c.put("q", "a", params={"1": 0.5})
    for bad in ({1: 0.5}, {"response_format": {"schema": {2: "x"}}}, {(1, 2): 3}):
        with pytest.raises(TypeError, match="params keys must be str"):
            c.get("q", params=bad)
    assert c.get("q", params={"1": 0.5}).response == "a"
    loop: dict = {"a": 1}
    loop["self"] = loop
    with pytest.raises(TypeError, match="params must be JSON-serialisable.*[Cc]ircular"):
        c.get("q", params=loop)


def test_deeply_nested_values_are_refused_with_a_clear_error():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    c = Cache(embedder=None)
    with pytest.raises(TypeError, match="responses\\[0\\] cannot be stored.*nested too deeply"):
        c.put("q", deep)
    with pytest.raises(TypeError, match="params must be JSON-serialisable.*nested too deeply"):
        c.put("q", "a", params={"x": deep})
    with pytest.raises(TypeError, match="chat messages must be JSON-serialisable.*nested too deeply"):
        c.put([{"role": "system", "content": "s", "x": deep}, {"role": "user", "content": "q"}], "a")
    assert len(c) == 0


def test_bad_prompts_and_responses():
    c = Cache(embedder=None)
    with pytest.raises(TypeError, match="not bytes"):
        c.put(b"q", "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prompt must be str"):
        c.get(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        c.put("a\ud800b", "x")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        c.put("q", object())
    with pytest.raises(TypeError, match="JSON-serialisable"):
        c.put("q", float("nan"))
    with pytest.raises(TypeError, match="model must be str"):
        c.put("q", "a", model=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        c.put_many(["a", "b"], ["x"])
    assert len(c) == 0  # nothing half-written
    c.put("q", "a\ud800 response")  # any str response round-trips
    assert c.get("q").response == "a\ud800 response"
    assert c.get("") is None
