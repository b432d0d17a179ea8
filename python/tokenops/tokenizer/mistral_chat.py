"""Exact prompt tokens of a chat request to a Mistral model: the token ids mistral-common's
``MistralTokenizer.encode_chat_completion`` builds (Mistral's reference, which Mistral's API and
vLLM's ``tokenizer_mode="mistral"`` run), reproduced over tokenops' own tokenizers.

Templates (mistral-common's instruct tokenizer versions) and the vocabularies they run on:

* ``v1`` (``mistral_v1``: Mistral 7B v0.1/v0.2, Mixtral 8x7B): ``<s>[INST] {system}\\n\\n{user}
  [/INST]{assistant}</s>``, the markers encoded as text; the system prompt opens the first user
  turn; tools and tool messages are not part of this template.
* ``v2`` (``mistral_v2``), ``v3`` (``mistral_v3`` and ``tekken``): control tokens ``[INST]``,
  ``[/INST]``; the system prompt opens the *last* user turn; tool schemas sit in
  ``[AVAILABLE_TOOLS]...[/AVAILABLE_TOOLS]`` before it; calls are ``[TOOL_CALLS]`` + JSON and
  results ``[TOOL_RESULTS]`` + JSON ``[/TOOL_RESULTS]`` (v2 leaves the calls and results before
  the last user turn out; v3 keeps them, with their call ids).
* ``v7`` (``mistral_v7``: Large 24.11): system messages in place, as
  ``[SYSTEM_PROMPT]...[/SYSTEM_PROMPT]``; tool results as ``[TOOL_RESULTS]{id}[TOOL_CONTENT]
  {content}[/TOOL_RESULTS]``; an assistant turn may hold text and calls.

Before encoding, messages are normalised as mistral-common does: consecutive messages of one
role are merged (texts joined by a blank line), system messages gathered (v1-v3), tool-call
arguments and (v1-v3) tool results parsed as JSON where they are JSON, and an empty user turn is
put first when the conversation does not start with one (v1-v3).

Only text is counted: image, audio and thinking parts raise ValueError (their tokens depend on
encoders tokenops does not implement for Mistral). The parity suite
(``tests/python/test_mistral_chat.py``) checks the ids against mistral-common on every template.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from .._args import message_dict, sdk_dict
from .core import get_encoding
from .registry import encoding_name_for_model
from .sentencepiece import load_cached, sentencepiece_name_for_model

# vocabulary -> the instruct template mistral-common pairs it with (MistralTokenizer.v1/v2/v3/v7)
TEMPLATE_OF_VOCABULARY = {"mistral_v1": "v1", "mistral_v2": "v2", "mistral_v3": "v3", "tekken": "v3",
                          "mistral_v7": "v7"}

_JOIN = "\n\n"  # mistral-common joins merged messages and text chunks with a blank line
_ROLES = ("system", "developer", "user", "assistant", "tool")


@functools.lru_cache(maxsize=1024)
def mistral_vocabulary_for_model(model: str) -> str | None:
    """The vocabulary (a key of :data:`TEMPLATE_OF_VOCABULARY`) of a Mistral model name whose
    chat template tokenops reproduces, or None. By name only (no vocabulary is loaded), and
    remembered: ``count_messages`` asks it for every model on every call."""
    name = sentencepiece_name_for_model(model)
    if name is not None:
        return name
    try:
        return "tekken" if encoding_name_for_model(model) == "tekken" else None
    except KeyError:
        return None


@dataclass
class _Msg:
    role: str
    content: Any  # str | None | list[str] (text chunks)
    index: int  # position in the caller's list
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    prefix: bool = False
    # a merged turn: (position, own text) of each message it was made of, for their shares
    members: list[tuple[int, str]] | None = None


def _aggregate(contents: Sequence[Any]) -> str:
    """mistral-common's ``_aggregate_content_chunks_impl`` for text-only contents: text chunks of
    one message and texts of different messages both joined by a blank line, empties skipped."""
    parts: list[str] = []
    for content in contents:
        if not content:
            continue
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(t for t in content if t)
    return _JOIN.join(parts)


_TOO_DEEP = "nests too deeply for JSON (Python's recursion limit); no API request holds such data"


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError:
        raise ValueError(f"a tool-call argument or tool result {_TOO_DEEP}") from None


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:
        raise ValueError(f"{what} {_TOO_DEEP}") from None
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serialisable data ({e})") from None


def _normalised_json_text(text: str | None) -> str:
    # mistral-common's _normalize_json_content: "" or None -> "{}", JSON re-serialised
    if not text:
        return "{}"
    try:
        return _dumps(json.loads(text), "a tool-call argument or tool result")
    except json.JSONDecodeError:
        return text
    except RecursionError:
        raise ValueError(f"a tool-call argument or tool result {_TOO_DEEP}") from None


def _parse_message(i: int, message: Any) -> _Msg:
    message = message_dict(message)  # SDK message objects as dicts
    if not isinstance(message, Mapping):
        raise TypeError(f"messages[{i}] must be a dict, not {type(message).__name__}")
    role = message.get("role")
    if role not in _ROLES:
        raise ValueError(f"messages[{i}] has role {role!r}; a Mistral chat takes {', '.join(_ROLES)}")
    if role == "developer":
        role = "system"
    if message.get("reasoning_content") is not None or message.get("reasoning") is not None:
        raise ValueError(f"messages[{i}] carries reasoning, which these Mistral templates (v1-v7) do not encode")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        if isinstance(content, (bytes, bytearray)) or not isinstance(content, Sequence):
            raise TypeError(f"messages[{i}]['content'] must be a str or a list of text parts, "
                            f"not {type(content).__name__}")
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise ValueError(f"messages[{i}]['content'][{j}] is a {kind!r} part; only text parts are "
                                 "counted for Mistral chat templates (image and audio tokens are not)")
            text = part.get("text")
            if not isinstance(text, str):
                raise TypeError(f"messages[{i}]['content'][{j}]['text'] must be a str, not {type(text).__name__}")
            texts.append(text)
        content = texts
    calls = None
    if role == "assistant" and message.get("tool_calls") is not None:
        raw = message["tool_calls"]
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
            raise TypeError(f"messages[{i}]['tool_calls'] must be a list, not {type(raw).__name__}")
        calls = []
        for j, call in enumerate(raw):
            if not isinstance(call, Mapping):
                call = sdk_dict(call, exclude_none=True)
            fn = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
                raise ValueError(f"messages[{i}]['tool_calls'][{j}] needs a function with a str name")
            args = fn.get("arguments")
            if isinstance(args, Mapping):
                try:  # FunctionCall's validator
                    args = json.dumps(args)
                except RecursionError:
                    raise ValueError(f"messages[{i}]['tool_calls'][{j}] arguments {_TOO_DEEP}") from None
                except (TypeError, ValueError) as e:
                    raise TypeError(f"messages[{i}]['tool_calls'][{j}] arguments must be JSON data ({e})") from None
            elif args is None:
                args = "{}"
            elif not isinstance(args, str):
                raise TypeError(f"messages[{i}]['tool_calls'][{j}] arguments must be a JSON str or a dict, "
                                f"not {type(args).__name__}")
            cid = call.get("id")
            if cid is None:
                cid = "null"
            if not isinstance(cid, str):
                raise TypeError(f"messages[{i}]['tool_calls'][{j}]['id'] must be a str, not {type(cid).__name__}")
            calls.append({"name": fn["name"], "arguments": _normalised_json_text(args), "id": cid})
    tool_call_id = message.get("tool_call_id")
    if role == "tool":
        if not isinstance(tool_call_id, str):
            raise ValueError(f"messages[{i}] is a tool message without a str tool_call_id")
    name = message.get("name")
    return _Msg(role, content, i, calls, tool_call_id if role == "tool" else None,
                name if isinstance(name, str) else None, bool(message.get("prefix", False)) and role == "assistant")


def _tool_dicts(tools: Sequence[Any] | None) -> list[dict[str, Any]]:
    """``Tool.model_dump(exclude={"function": {"strict"}})`` of OpenAI-shaped tools."""
    if tools is None:
        return []
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise TypeError("tools must be a list of {'type': 'function', 'function': {...}} dicts")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise TypeError(f"tools[{i}] must be a dict, not {type(tool).__name__}")
        if tool.get("type", "function") != "function":
            raise ValueError(f"tools[{i}] has type {tool.get('type')!r}; Mistral tools are functions")
        fn = tool.get("function")
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tools[{i}] has no function name (expected {{'function': {{'name': ...}}}})")
        desc = fn.get("description")
        params = fn.get("parameters")
        if desc is not None and not isinstance(desc, str):
            raise TypeError(f"tools[{i}] description must be a str, not {type(desc).__name__}")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"tools[{i}] parameters must be a JSON-schema dict, not {type(params).__name__}")
        out.append({"type": "function", "function": {"name": fn["name"], "description": desc or "",
                                                      "parameters": dict(params) if params else {}}})
    return out


def _members(group: list[_Msg]) -> list[tuple[int, str]] | None:
    return [(m.index, _aggregate([m.content])) for m in group] if len(group) > 1 else None


class MistralChatTemplate:
    """One of mistral-common's instruct templates over a tokenops vocabulary.

    ``encode(messages, tools)`` gives the ids of the whole prompt (BOS first), ``count`` their
    number with a share per message. Messages and tools are OpenAI-shaped dicts (or SDK objects)."""

    def __init__(self, vocabulary: str) -> None:
        if vocabulary not in TEMPLATE_OF_VOCABULARY:
            raise KeyError(f"unknown Mistral vocabulary {vocabulary!r}; known: {', '.join(TEMPLATE_OF_VOCABULARY)}")
        self.vocabulary = vocabulary
        self.version = TEMPLATE_OF_VOCABULARY[vocabulary]
        self._text: Callable[[str], list[int]]
        if vocabulary == "tekken":
            enc = get_encoding("tekken")
            self._text = enc.encode_ordinary
            special: Callable[[str], int] = enc.encode_single_token
        else:
            sp = load_cached(vocabulary)
            self._text = sp.encode
            pieces = {sp.id_to_piece(t): t for t in range(min(sp.n_vocab, 1100))}

            def special(name: str) -> int:
                return pieces[name]
        self.bos = special("<s>")
        self.eos = special("</s>")
        if self.version != "v1":
            names = ["[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
                     "[/TOOL_RESULTS]", "[TOOL_CALLS]"]
            if self.version == "v7":
                names += ["[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]"]
            self._sp = {n: special(n) for n in names}

    def __repr__(self) -> str:
        return f"<MistralChatTemplate {self.version} over {self.vocabulary!r}>"

    # ------------------------------------------------------------------ normalisation
    def _normalise(self, messages: Sequence[Any]) -> tuple[str | None, list[int], list[_Msg]]:
        """(system prompt, indices of the system messages, instruct messages)."""
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise TypeError("messages must be a list of dicts like {'role': 'user', 'content': '...'}")
        if not messages:
            raise ValueError("a Mistral chat request needs at least one message")
        msgs = [_parse_message(i, m) for i, m in enumerate(messages)]
        v7 = self.version == "v7"
        system_prompt = None
        system_idx = [m.index for m in msgs if m.role == "system"]
        if not v7:
            texts = [_aggregate([m.content]) for m in msgs if m.role == "system" and m.content]
            system_prompt = _JOIN.join(texts) if texts else None
        out: list[_Msg] = []
        group: list[_Msg] = []

        def flush() -> None:
            if not group:
                return
            role = group[0].role
            if role == "tool":
                for m in group:
                    content = _aggregate([m.content])
                    out.append(_Msg("tool", content if v7 else _normalised_json_text(content), m.index,
                                    tool_call_id=m.tool_call_id, name=m.name))
            elif role == "assistant":
                calls: list[dict[str, Any]] = []
                for m in group:
                    if not v7 and m.tool_calls and m.content:
                        raise ValueError(f"messages[{m.index}]: tool calls and content cannot be used together "
                                         f"in one assistant message of the Mistral {self.version} template")
                    calls.extend(m.tool_calls or [])
                out.append(_Msg("assistant", _aggregate([m.content for m in group]), group[0].index,
                                calls or None, prefix=any(m.prefix for m in group),
                                members=_members(group)))
            elif role == "user":
                out.append(_Msg("user", _aggregate([m.content for m in group]), group[0].index,
                                members=_members(group)))
            elif v7:
                out.extend(_Msg("system", _aggregate([m.content]), m.index) for m in group)
            group.clear()

        for m in msgs:
            if group and m.role != group[0].role:
                flush()
            group.append(m)
        flush()
        if not out or (not v7 and out[0].role != "user"):
            out.insert(0, _Msg("user", "", -1))
        return system_prompt, system_idx, out

    # ------------------------------------------------------------------ encoding
    def _encode(self, messages: Sequence[Any], tools: Sequence[Any] | None
                ) -> tuple[list[tuple[int, list[int]]], int, dict[int, list[tuple[int, str]]]]:
        """The prompt as (owner, ids) segments, owner a message index or -1 (BOS, tool schemas,
        an inserted empty turn); the number of tool-schema tokens; and the members of each
        merged turn, by the owner of its segment."""
        system_prompt, system_idx, msgs = self._normalise(messages)
        tool_list = _tool_dicts(tools)
        text = self._text
        sp = getattr(self, "_sp", {})
        v = self.version
        users = [k for k, m in enumerate(msgs) if m.role == "user"]
        first_user, last_user = (users[0], users[-1]) if users else (-1, -1)
        segs: list[tuple[int, list[int]]] = [(-1, [self.bos])]
        merged = {m.index: m.members for m in msgs if m.members}
        tool_tokens = 0
        for k, m in enumerate(msgs):
            if m.role == "user":
                content = m.content or ""
                sys_here = bool(system_prompt) and (k == first_user if v == "v1" else k == last_user)
                if v == "v1":
                    body = f"{system_prompt}{_JOIN}{content}" if sys_here else content
                    ids = text(f"[INST] {body} [/INST]")
                else:
                    if k == last_user and tool_list:
                        schema = [sp["[AVAILABLE_TOOLS]"],
                                  *text(_dumps(tool_list, "tools")), sp["[/AVAILABLE_TOOLS]"]]
                        tool_tokens = len(schema)
                        segs.append((-1, schema))
                    body = f"{system_prompt}{_JOIN}{content}" if sys_here else content
                    ids = [sp["[INST]"], *text(body), sp["[/INST]"]]
                if sys_here and system_idx:
                    # the system prompt's share: its own text and the blank line after it
                    share = min(len(ids), len(text(system_prompt + _JOIN)))
                    segs.append((system_idx[0], ids[:share]))
                    ids = ids[share:]
                segs.append((m.index, ids))
            elif m.role == "system":  # v7 only
                segs.append((m.index, [sp["[SYSTEM_PROMPT]"], *text(m.content), sp["[/SYSTEM_PROMPT]"]]))
            elif m.role == "tool":
                if v == "v1":
                    raise ValueError(f"messages[{m.index}]: the Mistral v1 template has no tool messages")
                if v == "v2" and k < last_user:
                    continue  # v2 drops the results before the last user turn
                if v == "v7":
                    ids = [sp["[TOOL_RESULTS]"], *text(m.tool_call_id or ""), sp["[TOOL_CONTENT]"],
                           *text(m.content), sp["[/TOOL_RESULTS]"]]
                else:
                    if v == "v2":
                        result: Any = [{"name": m.name, "content": _json_or_text(m.content)}]
                    else:
                        result = {"content": _json_or_text(m.content), "call_id": m.tool_call_id}
                    ids = [sp["[TOOL_RESULTS]"], *text(_dumps(result, f"messages[{m.index}] content")),
                           sp["[/TOOL_RESULTS]"]]
                segs.append((m.index, ids))
            else:  # assistant
                segs.append((m.index, self._assistant(m, k < last_user)))
        return segs, tool_tokens, merged

    def _assistant(self, m: _Msg, before_last_user: bool) -> list[int]:
        v = self.version
        text = self._text
        if not m.content and not m.tool_calls:
            raise ValueError(f"messages[{m.index}]: an assistant message needs content or tool calls")
        if v == "v1":
            if m.tool_calls:
                raise ValueError(f"messages[{m.index}]: the Mistral v1 template has no tool calls")
            ids = text(m.content)
        else:
            if v != "v7" and m.tool_calls and m.content:
                raise ValueError(f"messages[{m.index}]: tool calls and content cannot be used together in one "
                                 f"assistant turn of the Mistral {v} template")
            ids = []
            if m.tool_calls and v == "v2" and before_last_user:
                return []  # v2 leaves calls before the last user turn out, with their EOS
            if m.content:
                ids = text(m.content.rstrip(" "))
            if m.tool_calls:
                calls = []
                for c in m.tool_calls:
                    call: dict[str, Any] = {"name": c["name"], "arguments": _json_or_text(c["arguments"])}
                    if v != "v2" and c["id"] and c["id"] != "null":
                        call["id"] = c["id"]
                    calls.append(call)
                ids = ids + [self._sp["[TOOL_CALLS]"], *text(_dumps(calls, f"messages[{m.index}] tool calls"))]
        if not m.prefix:
            ids.append(self.eos)
        return ids

    def encode(self, messages: Sequence[Any], tools: Sequence[Any] | None = None) -> list[int]:
        """The prompt's token ids, as mistral-common's ``encode_chat_completion(...).tokens``."""
        segs, _, _ = self._encode(messages, tools)
        return [t for _, ids in segs for t in ids]

    def count(self, messages: Sequence[Any], tools: Sequence[Any] | None = None
              ) -> tuple[int, list[int], int]:
        """(prompt tokens, each message's share, tool-schema tokens). A message's share is the
        tokens of the turn it opens; in a turn merged from several messages each later message
        gets the tokens of its own text and the first one the rest (markers, joins, calls); a
        system prompt's text goes to the first system message; the BOS token and the tool
        schemas belong to no message. The shares add up to the total less those, but only
        approximately over a subset: dropping a message can merge turns or move the system
        prompt."""
        segs, tool_tokens, merged = self._encode(messages, tools)
        per = [0] * len(messages)
        total = 0
        for owner, ids in segs:
            total += len(ids)
            if owner < 0:
                continue
            members = merged.pop(owner, None)  # the turn's own segment (the system share is another)
            if members is None:
                per[owner] += len(ids)
                continue
            rest = len(ids)
            for index, text in reversed(members[1:]):
                own = min(rest, len(self._text(text)) if text else 0)
                per[index] += own
                rest -= own
            per[owner] += rest
        return total, per, tool_tokens


_TEMPLATES: dict[str, MistralChatTemplate] = {}
_LOCK = threading.Lock()


def mistral_template(vocabulary: str) -> MistralChatTemplate:
    """The template of a vocabulary, built once per process."""
    t = _TEMPLATES.get(vocabulary)
    if t is None:
        with _LOCK:
            t = _TEMPLATES.get(vocabulary)
            if t is None:
                t = _TEMPLATES[vocabulary] = MistralChatTemplate(vocabulary)
    return t
