"""count_messages / count_tools against the OpenAI cookbook's published worked examples."""

from __future__ import annotations

import pytest

import tokenops

COOKBOOK_MESSAGES = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                    "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


def test_cookbook_messages_example():
    # Published: 129 prompt tokens for gpt-3.5-turbo / gpt-4 (cl100k), 124 for gpt-4o (o200k).
    for model in ("gpt-3.5-turbo", "gpt-4-0613", "gpt-4"):
        r = tokenops.count_messages(COOKBOOK_MESSAGES, model=model)
        assert r.tokens == 129 and r.kind == "estimate" and r.encoding == "cl100k_base"
    for model in ("gpt-4o", "gpt-4o-mini"):
        r = tokenops.count_messages(COOKBOOK_MESSAGES, model=model)
        assert r.tokens == 124 and r.encoding == "o200k_base"
    assert len(r.per_message) == 6 and int(r) == 124


def test_cookbook_tools_example():
    # Published: 105 prompt tokens for gpt-3.5-turbo / gpt-4, 101 for gpt-4o / gpt-4o-mini.
    for model in ("gpt-3.5-turbo", "gpt-4"):
        assert tokenops.count_tools(WEATHER_TOOLS, model=model, messages=WEATHER_MESSAGES).tokens == 105
    for model in ("gpt-4o", "gpt-4o-mini"):
        r = tokenops.count_tools(WEATHER_TOOLS, model=model, messages=WEATHER_MESSAGES)
        assert r.tokens == 101 and r.kind == "estimate"
        assert r.tools == 101 - tokenops.count_messages(WEATHER_MESSAGES, model=model).tokens


def test_models_without_public_tokenizer_are_labelled_approximations():
    for model in ("claude-sonnet-4-5", "anthropic/claude-3-5-haiku", "gemini-2.5-pro", "vertex_ai/gemini-2.0-flash"):
        r = tokenops.count_messages(WEATHER_MESSAGES, model=model)
        assert r.kind == "approximation" and not r.exact
        assert any("no public tokenizer" in n for n in r.notes)


def test_content_parts_and_bad_input():
    parts = [{"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": "x"}}]}]
    r = tokenops.count_messages(parts, model="gpt-4o")
    assert r.tokens == tokenops.count_messages([{"role": "user", "content": "Describe"}], model="gpt-4o").tokens
    assert any("image" in n for n in r.notes)
    with pytest.raises(TypeError):
        tokenops.count_messages("hello", model="gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        tokenops.count_messages(["hello"], model="gpt-4o")  # type: ignore[list-item]
    with pytest.raises(KeyError):
        tokenops.count_messages(WEATHER_MESSAGES, model="some-unknown-model")
    with pytest.raises(ValueError, match=r"tools\[0\]"):
        tokenops.count_tools([{"type": "function"}], model="gpt-4o")


def test_open_models_with_their_own_chat_template_are_approximations():
    # Llama-3 has an exact public tokenizer, but its chat template is not OpenAI's: the cookbook
    # constants are a guess for it, so the count was mislabelled an "estimate".
    for model in ("llama-3-8b", "meta-llama/Meta-Llama-3-8B-Instruct"):
        r = tokenops.count_messages(WEATHER_MESSAGES, model=model)
        assert r.kind == "approximation" and r.encoding == "llama3"
        assert any("chat template" in n for n in r.notes)
        assert not any("cookbook formula over the model's exact encoding" in n for n in r.notes)
        t = tokenops.count_tools(WEATHER_TOOLS, model=model, messages=WEATHER_MESSAGES)
        assert t.kind == "approximation" and any("renders tools" in n for n in t.notes)
    # OpenAI models keep the estimate label
    assert tokenops.count_messages(WEATHER_MESSAGES, model="gpt-oss-120b").kind == "estimate"
    assert tokenops.count_tools(WEATHER_TOOLS, model="gpt-4o").kind == "estimate"


def test_model_name_case_media_parts_and_int_comparison():
    m = [{"role": "user", "content": "hi", "name": "bob"}]
    assert tokenops.count_messages(m, model="GPT-3.5-Turbo-0301") == tokenops.count_messages(m, model="gpt-3.5-turbo-0301").tokens
    t_lower = tokenops.count_tools(WEATHER_TOOLS, model="gpt-4o")
    t_upper = tokenops.count_tools(WEATHER_TOOLS, model="GPT-4o")
    assert t_upper.tokens == t_lower.tokens and t_upper.notes == t_lower.notes
    # gpt-oss (o200k_harmony) uses the o200k tool constants, like gpt-4o
    assert tokenops.count_tools(WEATHER_TOOLS, model="gpt-oss-20b").tokens == t_lower.tokens
    # base64 audio / file payloads are media, not text
    audio = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGR" + "A" * 3995, "format": "wav"}}]}]
    r = tokenops.count_messages(audio, model="gpt-4o")
    assert r.tokens == tokenops.count_messages([{"role": "user", "content": ""}], model="gpt-4o").tokens
    assert any("input_audio parts are not counted" in n for n in r.notes)
    calls = [{"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function",
              "function": {"name": "f", "arguments": "{}"}}]}]
    assert any("rough" in n for n in tokenops.count_messages(calls, model="gpt-4o").notes)
    # the cookbook pattern: compare a count with an int
    c = tokenops.count_messages(COOKBOOK_MESSAGES, model="gpt-4")
    assert c == 129 and c != 128 and c <= 129 and c > 128
    assert c != 129.0  # not a float
    with pytest.raises(TypeError):
        c < "129"  # noqa: B015
