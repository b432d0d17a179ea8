"""Cache.get_or_stream / aget_or_stream: streamed responses stored once complete, replayed on hits."""

from __future__ import annotations

import asyncio

import pytest

import tokenops
from tokenops import Cache


def chunks_of(text: str) -> list[dict]:
    return [{"choices": [{"delta": {"content": w}}]} for w in text.split(" ")]


class Calls:
    """A stand-in streaming endpoint: counts calls; can fail or be cut part-way."""

    def __init__(self, text: str, fail_at: int | None = None) -> None:
        self.text, self.fail_at, self.n = text, fail_at, 0

    def __call__(self):
        self.n += 1
        return self._gen()

    def _gen(self):
        for i, c in enumerate(chunks_of(self.text)):
            if self.fail_at is not None and i == self.fail_at:
                raise ConnectionError("stream cut by the network")
            yield c


def test_a_complete_stream_is_stored_and_replayed():
    c = Cache(embedder=None)
    call = Calls("Settings then Security then Reset PIN")
    chunks, hit = c.get_or_stream("How do I reset my PIN?", call, model="gpt-4o", cost=0.002)
    assert hit is None and call.n == 1
    assert len(c) == 0  # nothing stored before the stream is read
    assert list(chunks) == chunks_of(call.text)
    assert len(c) == 1
    chunks, hit = c.get_or_stream("How do I reset my PIN?", call, model="gpt-4o")
    assert hit is not None and hit.kind == "exact" and call.n == 1
    assert list(chunks) == chunks_of(call.text)
    assert c.savings()["saved_cost"] == pytest.approx(0.002)


def test_an_abandoned_or_failed_stream_is_not_stored():
    c = Cache(embedder=None)
    call = Calls("one two three four")
    chunks, _ = c.get_or_stream("q", call)
    next(chunks)
    chunks.close()  # the reader stopped part-way: a cut answer must never be served
    assert len(c) == 0
    broken = Calls("one two three four", fail_at=2)
    chunks, _ = c.get_or_stream("q", broken)
    with pytest.raises(ConnectionError):
        list(chunks)
    assert len(c) == 0
    chunks, hit = c.get_or_stream("q", call)
    assert hit is None and call.n == 2 and list(chunks) == chunks_of(call.text) and len(c) == 1


def test_streamed_and_whole_answers_are_keyed_apart():
    c = Cache(embedder=None)
    c.put("q", {"whole": "answer"}, model="m")
    call = Calls("streamed answer")
    chunks, hit = c.get_or_stream("q", call, model="m")
    assert hit is None and call.n == 1
    list(chunks)
    assert c.get("q", model="m").response == {"whole": "answer"}
    assert c.get("q", model="m", params={"stream": True}).response == chunks_of("streamed answer")
    # an entry put by hand under stream=True that is no list of chunks: a clear error
    c.put("q2", "not chunks", params={"stream": True})
    with pytest.raises(ValueError, match="not a list of chunks"):
        c.get_or_stream("q2", call)


def test_sdk_chunks_are_stored_as_dicts_and_priced_from_the_stream():
    chunk_t = pytest.importorskip("openai.types.chat").ChatCompletionChunk
    raw = [
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
         "choices": [{"index": 0, "delta": {"content": "Paris"}, "finish_reason": None}]},
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
         "choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}},
    ]
    objs = [chunk_t.model_validate(r) for r in raw]
    seen = []

    def cost(chunks):
        seen.append(chunks)
        return float(tokenops.cost("gpt-4o", chunks[-1]).total)

    c = Cache(embedder=None)
    chunks, _ = c.get_or_stream("capital of France?", lambda: iter(objs), model="gpt-4o", cost=cost)
    assert list(chunks) == objs  # the fresh stream yields the SDK objects themselves
    assert seen == [objs]  # cost saw them as the stream gave them
    replay, hit = c.get_or_stream("capital of France?", lambda: iter(()), model="gpt-4o")
    stored = list(replay)
    assert hit is not None and all(isinstance(d, dict) for d in stored)
    assert stored[0]["choices"][0]["delta"]["content"] == "Paris" and stored[1]["usage"]["completion_tokens"] == 100
    assert [chunk_t.model_validate(d) for d in stored] == objs  # the dicts rebuild the same chunks
    assert c.savings()["saved_cost"] == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)


def test_a_paraphrase_replays_the_stream(embedder):
    c = Cache(embedder=embedder)
    list(c.get_or_stream("How do I reset my PIN?", Calls("Settings then Security"))[0])
    chunks, hit = c.get_or_stream("how can I reset my PIN", Calls("never called"))
    assert hit is not None and hit.kind == "semantic" and list(chunks) == chunks_of("Settings then Security")


def test_async_streams():
    async def agen(text, fail_at=None):
        for i, ch in enumerate(chunks_of(text)):
            if fail_at is not None and i == fail_at:
                raise ConnectionError("cut")
            await asyncio.sleep(0)
            yield ch

    async def create(text):  # like AsyncOpenAI: the call is awaited, then iterated
        return agen(text)

    async def main():
        c = Cache(embedder=None)
        s, hit = await c.aget_or_stream("q", lambda: agen("a b", fail_at=1))
        with pytest.raises(ConnectionError):
            [x async for x in s]
        assert len(c) == 0
        s, hit = await c.aget_or_stream("q", lambda: create("a b c"), cost=0.5)
        first = [x async for x in s]
        s2, hit2 = await c.aget_or_stream("q", lambda: create("never"))
        return first, hit, [x async for x in s2], hit2, len(c)

    first, hit, again, hit2, n = asyncio.run(main())
    assert hit is None and first == chunks_of("a b c")
    assert hit2 is not None and again == first and n == 1


def test_bad_calls():
    c = Cache(embedder=None)
    with pytest.raises(TypeError, match="function of no arguments"):
        c.get_or_stream("q", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of chunks"):
        c.get_or_stream("q", lambda: {"a": 1})
    with pytest.raises(TypeError, match="params must be a mapping"):
        c.get_or_stream("q", lambda: iter(()), params=[("a", 1)])  # type: ignore[arg-type]

    async def main():
        with pytest.raises(TypeError, match="async iterable"):
            await c.aget_or_stream("q", lambda: [1, 2])

    asyncio.run(main())
