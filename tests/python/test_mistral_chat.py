"""Mistral chat templates: token-for-token parity with mistral-common's own
``MistralTokenizer.encode_chat_completion`` (v1, v2, v3 over SentencePiece and tekken, v7) on
hand-written and random conversations with system prompts, merged turns, tool schemas, tool calls
and results, prefixes and the shared corpus' texts; ``count_messages`` / ``count_tools`` labelled
exact for Mistral models; the inputs the templates refuse."""

from __future__ import annotations

import json
import random
import string
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenops
from tokenops._paths import data_dir
from tokenops.tokenizer.mistral_chat import MistralChatTemplate, mistral_template, mistral_vocabulary_for_model

pytest.importorskip("mistral_common", reason="the tests install mistral-common (the reference)")
from mistral_common.protocol.instruct.request import ChatCompletionRequest  # noqa: E402
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer  # noqa: E402

VOCABS = {"mistral_v1": MistralTokenizer.v1, "mistral_v2": MistralTokenizer.v2, "mistral_v3": MistralTokenizer.v3,
          "tekken": lambda: MistralTokenizer.v3(is_tekken=True), "mistral_v7": MistralTokenizer.v7}
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city (°C).",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                        "unit": {"type": "string", "enum": ["c", "f"]}},
                       "required": ["city"]}}},
    {"type": "function", "function": {"name": "search-docs", "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "description": "什么 — words"}, "k": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "noop", "description": None, "parameters": None}},
]


@pytest.fixture(scope="module")
def refs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {v: f() for v, f in VOCABS.items()}


def reference(ref, messages, tools=None):
    """mistral-common's ids, or None where it refuses the request."""
    prefix = bool(messages) and messages[-1].get("role") == "assistant" and bool(messages[-1].get("prefix"))
    plain = [{k: v for k, v in m.items() if k != "prefix"} for m in messages]
    try:
        req = ChatCompletionRequest.from_openai(plain, tools=tools, continue_final_message=prefix)
        return ref.encode_chat_completion(req).tokens
    except Exception:  # noqa: BLE001 - any refusal: the case is not one a user can send
        return None


CASES = {
    "one turn": ([{"role": "user", "content": "Hello there!  "}], None),
    "system and history": ([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
                            {"role": "assistant", "content": "Hello. "}, {"role": "user", "content": "2+2?"}], None),
    "merged turns and text parts": ([
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": ""},
                                     {"type": "text", "text": "c"}]},
        {"role": "assistant", "content": "x"}, {"role": "assistant", "content": "y"},
        {"role": "user", "content": "z"}], None),
    "system messages between turns": ([
        {"role": "user", "content": "a"}, {"role": "system", "content": "S1"}, {"role": "user", "content": "b"},
        {"role": "developer", "content": "S2"}, {"role": "user", "content": "c"}], None),
    "assistant first": ([{"role": "system", "content": "sys"}, {"role": "assistant", "content": "I start"},
                         {"role": "user", "content": "ok"}], None),
    "tools, calls and results": ([
        {"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "abcDEF123", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather",
         "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 C."}, {"role": "user", "content": "And Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "xyzXYZ789", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
        {"role": "tool", "tool_call_id": "xyzXYZ789", "name": "get_weather", "content": "not json"}], TOOLS),
    "prefix": ([{"role": "user", "content": "Write"}, {"role": "assistant", "content": "Once upon", "prefix": True}],
               None),
    "markers as text": ([{"role": "user", "content": "[INST] <s> [/INST] </s> [TOOL_CALLS]"}], None),
}


@pytest.mark.parametrize("vocab", list(VOCABS))
@pytest.mark.parametrize("case", list(CASES))
def test_written_conversations(refs, vocab, case):
    messages, tools = CASES[case]
    want = reference(refs[vocab], messages, tools)
    t = mistral_template(vocab)
    if want is None:  # v1 has no tools: both refuse
        assert vocab == "mistral_v1" and case == "tools, calls and results"
        with pytest.raises(ValueError, match="v1 template has no tool"):
            t.encode(messages, tools)
        return
    assert t.encode(messages, tools) == want
    total, per, _ = t.count(messages, tools)
    assert total == len(want) and len(per) == len(messages) and sum(per) <= total


# ------------------------------------------------------------------ random conversations
def _pool() -> list[str]:
    root = data_dir() / "corpus"
    texts = []
    rng = random.Random(7)
    for name in ("en_moby_dick.txt", "code_python.txt", "multilingual_udhr.txt", "zh_classics_plain.txt",
                 "unicode_emoji_test.txt", "edge_cases_unicode.txt", "code_rust.txt"):
        body = (root / name).read_text(encoding="utf-8")
        for _ in range(40):
            a = rng.randrange(len(body))
            texts.append(body[a:a + rng.choice((1, 8, 40, 200, 900))])
    texts += ["", " ", "  trailing  ", "\n\n", "ok", "[INST] hi [/INST]", "<s></s>", "{\"a\": [1, 2.50, \"é\"]}",
              "null", "42", "[TOOL_RESULTS]", "\t\tindent", "end with space ", "NaN"]
    return texts


POOL = _pool()


def _id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(9))


def _args(rng: random.Random):
    r = rng.random()
    if r < 0.4:
        return {"city": rng.choice(POOL)[:30], "n": rng.randint(-5, 10 ** 6), "x": rng.choice([1.5, 2.0, None, True])}
    if r < 0.7:
        return json.dumps({"q": rng.choice(POOL)[:50]}, ensure_ascii=rng.random() < 0.5)
    if r < 0.85:
        return rng.choice(["", "{}", "[1, 2]", "not json {"])
    return None


def _content(rng: random.Random):
    if rng.random() < 0.2:
        return [{"type": "text", "text": rng.choice(POOL)} for _ in range(rng.randint(1, 3))]
    return rng.choice(POOL)


def random_conversation(rng: random.Random, version: str):
    msgs: list[dict] = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": _content(rng) or "Be helpful."})
    turns = rng.randint(1, 4)
    for turn in range(turns):
        msgs.append({"role": "user", "content": _content(rng)})
        if rng.random() < 0.2:
            msgs.append({"role": "user", "content": _content(rng)})
        if rng.random() < 0.1:
            msgs.append({"role": "system", "content": rng.choice(POOL) or "Note."})
            msgs.append({"role": "user", "content": _content(rng)})
        last = turn == turns - 1
        if version != "v1" and rng.random() < 0.45:
            calls = [{"id": _id(rng), "type": "function",
                      "function": {"name": rng.choice(["get_weather", "search-docs", "noop"]), "arguments": _args(rng)}}
                     for _ in range(1 if version == "v2" else rng.randint(1, 3))]
            content = (rng.choice(POOL) or "calling") if version == "v7" and rng.random() < 0.3 else None
            msgs.append({"role": "assistant", "content": content, "tool_calls": calls})
            for c in calls:
                result = rng.choice([json.dumps({"ok": True, "v": rng.random()}), rng.choice(POOL), "", "[1, 2]"])
                msgs.append({"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"], "content": result})
            if last:  # a request ends with a user or tool message
                break
            msgs.append({"role": "assistant", "content": rng.choice(POOL) or "Done."})
        elif not last:
            msgs.append({"role": "assistant", "content": rng.choice(POOL) or "Sure."})
            if rng.random() < 0.15:
                msgs.append({"role": "assistant", "content": rng.choice(POOL) or "More."})
    if rng.random() < 0.1 and msgs[-1]["role"] == "user":
        msgs.append({"role": "assistant", "content": rng.choice(POOL) or "Once", "prefix": True})
    tools = rng.sample(TOOLS, rng.randint(0, 3)) if version != "v1" or rng.random() < 0.2 else None
    return msgs, tools or None


@pytest.mark.parametrize("vocab", list(VOCABS))
def test_random_conversations(refs, vocab):
    t = mistral_template(vocab)
    rng = random.Random(sum(map(ord, vocab)))
    compared = 0
    for _ in range(250):
        messages, tools = random_conversation(rng, t.version)
        want = reference(refs[vocab], messages, tools)
        if want is None:
            continue
        assert t.encode(messages, tools) == want, (messages, tools)
        assert tokenops.count_messages(messages, {"mistral_v1": "open-mixtral-8x7b", "mistral_v2": "mistral-large-2402",
                                                  "mistral_v3": "mistral-large-2407", "tekken": "open-mistral-nemo",
                                                  "mistral_v7": "mistral-large-2411"}[vocab]).tokens == (
            t.count(messages)[0])
        compared += 1
    # the generator builds requests mistral-common accepts
    assert compared >= 240, compared


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(VOCABS)), st.text(max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_random_unicode(refs, vocab, system, user, assistant):
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user},
                {"role": "assistant", "content": assistant or "x"}, {"role": "user", "content": user + assistant}]
    want = reference(refs[vocab], messages)
    if want is not None:
        assert mistral_template(vocab).encode(messages) == want


# ------------------------------------------------------------------ count_messages / count_tools
def test_count_messages_is_exact_for_mistral_models(refs):
    messages, tools = CASES["tools, calls and results"]
    for model, vocab in [("mistral-large-2411", "mistral_v7"), ("mistral/open-mistral-nemo", "tekken"),
                         ("mistralai/Mistral-7B-Instruct-v0.3", "mistral_v3"), ("codestral-2405", "mistral_v3"),
                         ("mistral-large-2402", "mistral_v2")]:
        assert mistral_vocabulary_for_model(model) == vocab
        want = reference(refs[vocab], messages, tools)
        c = tokenops.count_tools(tools, model, messages)
        assert c.kind == "exact" and c.exact and c.encoding == vocab and c.tokens == len(want)
        without = reference(refs[vocab], messages)
        m = tokenops.count_messages(messages, model)
        assert m.exact and m.tokens == len(without) and c.tools == len(want) - len(without)
        assert "mistral-common" in m.notes[0]
        alone = tokenops.count_tools(tools, model)
        assert alone.tokens == alone.tools == c.tools
    simple = [{"role": "user", "content": "Hello"}]
    assert tokenops.count_messages(simple, "open-mixtral-8x7b").tokens == len(reference(refs["mistral_v1"], simple))
    assert tokenops.count_tools(TOOLS, "open-mixtral-8x7b").tokens == 0  # v1 has no tool schemas
    # OpenAI models keep the cookbook estimate; models without a template stay approximations
    assert tokenops.count_messages(simple, "gpt-4o").kind == "estimate"
    assert not tokenops.count_messages(simple, "gpt-4o").exact
    assert mistral_vocabulary_for_model("mistral-small-latest") is None
    assert tokenops.count_messages(simple, "mistral-small-latest").kind == "approximation"


def test_refusals():
    t = mistral_template("mistral_v7")
    with pytest.raises(ValueError, match="at least one message"):
        t.encode([])
    with pytest.raises(ValueError, match="role 'bot'"):
        t.encode([{"role": "bot", "content": "x"}])
    with pytest.raises(ValueError, match="image_url"):
        tokenops.count_messages([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
                                "mistral-large-2411")
    with pytest.raises(ValueError, match="tool_call_id"):
        t.encode([{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}])
    with pytest.raises(ValueError, match="content or tool calls"):
        t.encode([{"role": "user", "content": "x"}, {"role": "assistant", "content": ""},
                  {"role": "user", "content": "y"}])
    with pytest.raises(ValueError, match="cannot be used together"):
        mistral_template("mistral_v3").encode([{"role": "user", "content": "x"}, {"role": "assistant", "content": "a",
                                               "tool_calls": [{"id": "abcdefghi", "function": {"name": "f"}}]}])
    with pytest.raises(TypeError, match="content"):
        t.encode([{"role": "user", "content": 5}])
    with pytest.raises(ValueError, match="reasoning"):
        t.encode([{"role": "user", "content": "x"}, {"role": "assistant", "content": "a", "reasoning_content": "r"},
                  {"role": "user", "content": "y"}])
    with pytest.raises(KeyError, match="known"):
        MistralChatTemplate("mistral_v9")
    with pytest.raises(TypeError):
        tokenops.count_messages([{"role": "user", "content": "x"}], model=7)


@pytest.mark.parametrize("model", ["open-mixtral-8x7b", "mistral-large-2402", "open-mistral-nemo", "mistral-large-2411"])
def test_pack_chat_fits_exact_mistral_counts(model):
    """Mistral's templates merge turns and move the system prompt, so per-message shares add up
    only approximately; pack_chat's result is still within budget by the exact count."""
    from tokenops.compress import pack_chat

    rng = random.Random(3)
    msgs = [{"role": "system", "content": "You are a helpful assistant. Answer in English."}]
    for i in range(31):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": rng.choice(POOL[:280]) or "x"})
    for budget in (60, 150, 400):
        for summary in ("extractive", None):
            r = pack_chat(msgs, budget, model=model, summary=summary)
            assert r.kind == "exact"
            assert r.tokens == tokenops.count_messages(r.messages, model).tokens <= budget
            assert r.messages[0] == msgs[0] and r.messages[-1] == msgs[-1]


def test_openai_sdk_message_objects_count_like_their_dicts():
    chat = pytest.importorskip("openai.types.chat")
    tc_mod = pytest.importorskip("openai.types.chat.chat_completion_message_function_tool_call")
    call = tc_mod.ChatCompletionMessageFunctionToolCall(
        id="abcDEF123", type="function", function=tc_mod.Function(name="get_weather", arguments='{"city": "Paris"}'))
    sdk = chat.ChatCompletionMessage(role="assistant", content=None, tool_calls=[call])
    plain = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    user = {"role": "user", "content": "Weather in Paris?"}
    tool = {"role": "tool", "tool_call_id": "abcDEF123", "content": "18C, sunny"}
    for model in ("mistral-large-2411", "open-mistral-nemo", "mistral-large-2402"):
        want = tokenops.count_messages([user, plain, tool], model)
        got = tokenops.count_messages([user, sdk, tool], model)
        assert got.exact and got.tokens == want.tokens and got.per_message == want.per_message


def test_deep_or_odd_json_is_a_clear_error():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    user = {"role": "user", "content": "x"}
    tools = [{"type": "function", "function": {"name": "f", "parameters": deep}}]
    with pytest.raises(ValueError, match="nests too deeply"):
        tokenops.count_tools(tools, "mistral-large-2411", [user])
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "abcdefghi", "function": {
        "name": "f", "arguments": "[" * 100_000 + "]" * 100_000}}]}
    with pytest.raises(ValueError, match="nests too deeply"):
        tokenops.count_messages([user, call, {"role": "tool", "tool_call_id": "abcdefghi", "content": "1"}],
                                "mistral-large-2407")
    odd = [{"type": "function", "function": {"name": "f", "parameters": {"default": object()}}}]
    with pytest.raises(TypeError, match="JSON"):
        tokenops.count_tools(odd, "mistral-large-2411", [user])


def test_merged_turns_share_their_tokens_and_pack_chat_recounts_few_times(monkeypatch):
    # 2,000 user messages in a row are one [INST] turn: its tokens were all the first message's,
    # so pack_chat thought the others free, kept them all, and then dropped one per exact
    # recount (9.5 s for 4,000 messages)
    import importlib

    pack_mod = importlib.import_module("tokenops.compress.pack")  # the module, not the function
    msgs = [{"role": "user", "content": f"hello world number {i} is here"} for i in range(2000)]
    t = mistral_template("mistral_v7")
    total, per, _ = t.count(msgs)
    assert total == len(t.encode(msgs)) == sum(per) + 1  # + BOS
    own = mistral_template("mistral_v7")._text(msgs[5]["content"])
    assert per[5] == len(own) and per[0] > per[5]
    calls = []
    real = pack_mod.count_messages

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(pack_mod, "count_messages", counting)
    r = pack_mod.pack_chat(msgs, 1000, model="mistral-large-2411", summary=None)
    assert r.tokens == tokenops.count_messages(r.messages, "mistral-large-2411").tokens <= 1000
    assert len(r.messages) > 50 and len(calls) <= 4, len(calls)
