"""Token accounting for chat messages and tool (function) schemas.

OpenAI models: the per-message and per-function constants published in the OpenAI cookbook
("How to count tokens with tiktoken", sections 6 and 7) over the model's exact encoding. These are
*estimates* of the prompt tokens the API bills: the formatting is not documented and may change.
Models without a public tokenizer (Anthropic Claude, Google Gemini...) get an explicitly labelled
*approximation* computed with o200k_base; use the provider's count-tokens endpoint for exact
numbers. Mistral models whose vocabulary tokenops has (Mistral 7B, Mixtral, NeMo, Large 24.07 /
24.11, Codestral 24.05, Pixtral 12B...) are counted *exactly*: the ids of Mistral's own chat
template (mistral-common's ``encode_chat_completion``, reproduced in :mod:`.mistral_chat`).
Other open models with a public vocabulary but their own chat template (Llama-3) are counted
with their exact encoding and the cookbook constants, labelled an *approximation*.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._args import message_dict as _message_dict
from .core import Encoding, encoding_for_model, get_encoding
from .images import DETAILS, ImageSize, image_size_from_data, image_tokens, max_image_tokens
from .mistral_chat import mistral_template, mistral_vocabulary_for_model
from .sentencepiece import sentencepiece_name_for_model

REPLY_PRIMING = 3  # every reply is primed with <|start|>assistant<|message|>

# Cookbook section 7 constants: (func_init, prop_init, prop_key, enum_init, enum_item, func_end)
_TOOL_CONSTANTS_O200K = (7, 3, 3, -3, 3, 12)  # published for gpt-4o, gpt-4o-mini
_TOOL_CONSTANTS_CL100K = (10, 3, 3, -3, 3, 12)  # published for gpt-3.5-turbo, gpt-4

# Encodings of OpenAI models, whose chat format the cookbook formula describes.
_OPENAI_ENCODINGS = frozenset({"o200k_base", "o200k_harmony", "cl100k_base", "p50k_base", "p50k_edit",
                               "r50k_base", "gpt2"})

_NON_OPENAI_PREFIXES = (
    "claude", "anthropic/", "bedrock/anthropic", "gemini", "google/", "vertex_ai/", "mistral",
    "command", "cohere/", "deepseek", "grok", "xai/",
)


@dataclass(frozen=True, eq=False)
class TokenCount:
    """A prompt-token count for messages and/or tools.

    ``kind`` is ``"exact"`` (the model's own chat template over its own vocabulary: Mistral
    models), ``"estimate"`` (OpenAI's published formula over the model's exact tokenizer) or
    ``"approximation"`` (no public tokenizer for the model, counted with ``encoding``; or a model
    whose chat template is not OpenAI's, such as Llama-3).

    It compares, adds and subtracts as its ``tokens`` (``count <= budget``, ``sum(counts)``,
    ``budget - count``, with ints, numpy integers or other counts), and a format spec formats the
    tokens (``f"{count:,}"``); ``same_as`` compares every field.
    """

    tokens: int
    kind: str
    model: str
    encoding: str
    per_message: tuple[int, ...] = ()
    tools: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    images: int = 0  # of ``tokens``: image inputs, by the provider's sizing rule (images.py)

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    def __int__(self) -> int:
        return self.tokens

    def __index__(self) -> int:
        return self.tokens

    def same_as(self, other: TokenCount) -> bool:
        """Field-by-field equality (model, encoding, notes... as well as tokens)."""
        return isinstance(other, TokenCount) and vars(self) == vars(other)

    # By tokens, with every operator written out: two counts of equal tokens for different models
    # were neither <= nor >= each other under total_ordering over a field-by-field ==.
    def __eq__(self, other: object) -> bool:
        o = _as_count(other, raise_=False)
        return NotImplemented if o is None else self.tokens == o

    def __hash__(self) -> int:
        return hash(self.tokens)

    def __lt__(self, other: object) -> bool:
        return self.tokens < _as_count(other)

    def __le__(self, other: object) -> bool:
        return self.tokens <= _as_count(other)

    def __gt__(self, other: object) -> bool:
        return self.tokens > _as_count(other)

    def __ge__(self, other: object) -> bool:
        return self.tokens >= _as_count(other)

    def __add__(self, other: object) -> int:
        o = _as_count(other, raise_=False)
        return NotImplemented if o is None else self.tokens + o

    __radd__ = __add__

    # the room a count leaves in a context window or budget: ``budget - count``
    def __sub__(self, other: object) -> int:
        o = _as_count(other, raise_=False)
        return NotImplemented if o is None else self.tokens - o

    def __rsub__(self, other: object) -> int:
        o = _as_count(other, raise_=False)
        return NotImplemented if o is None else o - self.tokens

    def __format__(self, spec: str) -> str:
        # f"{count:,} tokens" formats the tokens; a plain f"{count}" stays the repr
        return format(self.tokens, spec) if spec else str(self)


def _as_count(other: object, raise_: bool = True) -> int | None:
    if isinstance(other, TokenCount):
        return other.tokens
    if isinstance(other, numbers.Integral) and not isinstance(other, (bool, np.bool_)):
        return int(other)
    if not raise_:
        return None
    raise TypeError(f"a TokenCount compares with an int or a TokenCount, not {type(other).__name__}")


def _resolve(model: str) -> tuple[Encoding, str, str]:
    if not isinstance(model, str):
        raise TypeError(f"model must be str, not {type(model).__name__}")
    try:  # a public tokenizer first: Mistral's tekken models also match the "mistral" prefix below
        enc = encoding_for_model(model)
    except KeyError:
        enc = None
    if enc is None:
        low = model.lower()
        # "claude" / "gemini" anywhere, as image_tokens matches them: Bedrock's
        # us.anthropic.claude-...-v2:0 and anthropic.claude-... ids were a KeyError here
        if sentencepiece_name_for_model(model) is not None:
            # Mixtral 8x7B, Mistral 7B...: count_messages counts their chats exactly with their
            # SentencePiece vocabulary; plain-text callers (compress, pack_chat's summary) take
            # tiktoken-style encodings, so o200k_base stands in here
            return get_encoding("o200k_base"), "approximation", (
                f"{model}'s SentencePiece vocabulary is not an Encoding; text counted with o200k_base "
                "(count_messages counts its chat requests exactly)"
            )
        if "claude" in low or "gemini" in low or any(low.startswith(p) or ("/" + p) in low
                                                      for p in _NON_OPENAI_PREFIXES):
            return get_encoding("o200k_base"), "approximation", (
                f"{model} has no public tokenizer; counted with o200k_base. Use the provider's "
                "count-tokens API for billing-grade numbers."
            )
        raise KeyError(
            f"no tokenizer is known for model {model!r}; pass an OpenAI model name "
            "(gpt-4o, gpt-4.1, gpt-3.5-turbo...) or a claude-/gemini- name for an approximation"
        )
    if enc.name not in _OPENAI_ENCODINGS:
        # An open model with a public vocabulary (Llama-3): the text tokens are exact, but its chat
        # template (<|start_header_id|>role<|end_header_id|>...<|eot_id|>) is not OpenAI's, so the
        # cookbook's per-message constants are a guess for it.
        return enc, "approximation", (
            f"{model} uses its own chat template; message text counted with its exact encoding "
            f"({enc.name}) plus OpenAI's cookbook per-message constants, which that template does "
            "not follow. Apply the model's chat template for exact numbers."
        )
    return enc, "estimate", "OpenAI cookbook formula over the model's exact encoding"


def _per_message_constants(model: str) -> tuple[int, int]:
    # gpt-3.5-turbo-0301 used 4 tokens per message and -1 per name; every later model 3 and 1.
    low = model.lower()  # model names match in any case, as in encoding_for_model
    if "gpt-3.5-turbo-0301" in low or "gpt-35-turbo-0301" in low:  # the Azure name of the same model
        return 4, -1
    return 3, 1


_ROUGH_JSON = "non-text message fields are counted as compact JSON (rough)"
# Parts billed by their media (duration, pages), never as the characters of their payload.
_MEDIA_PARTS = ("input_audio", "audio", "file", "input_file", "document")


class _Acc:
    """What counting one request collects besides text: notes and image tokens."""

    def __init__(self, model: str, image_size: ImageSize) -> None:
        self.model = model
        self.image_size = image_size
        self.notes: list[str] = []
        self.images = 0


def _image_source(part: Mapping[str, Any], where: str) -> tuple[str | None, str | None, Any]:
    """(url, base64 data, detail) of an image part in the OpenAI Chat Completions
    (``image_url``), Responses (``input_image``) or Anthropic (``image`` + ``source``) shape."""
    kind = part.get("type")
    url: Any = None
    data: Any = None
    detail: Any = part.get("detail")
    if kind == "image_url":
        spec = part.get("image_url")
        if isinstance(spec, str):
            url, detail = spec, "auto"
        elif isinstance(spec, Mapping):
            url, detail = spec.get("url"), spec.get("detail")
        else:
            raise TypeError(f"{where}.image_url must be a dict with a 'url', not {type(spec).__name__}")
    elif kind == "input_image":
        url = part.get("image_url") or part.get("file_id")
    elif isinstance(part.get("source"), Mapping):
        src = part["source"]
        detail = "high"
        if src.get("type") == "base64":
            data = src.get("data")
        else:
            url = src.get("url") or src.get("file_id")
    elif "image" in part:
        data = part["image"]
    else:
        raise ValueError(f"{where} is an image part without an image (expected image_url, source or image)")
    # a null or non-str source was counted at the ceiling, silently
    if url is None and data is None:
        raise ValueError(f"{where} is an image part without an image (its url / data is missing)")
    if url is not None and not isinstance(url, str):
        raise TypeError(f"{where}: image url must be a str, not {type(url).__name__}")
    if data is not None and not isinstance(data, str):
        raise TypeError(f"{where}: image data must be a base64 str, not {type(data).__name__}")
    return url, data, detail


def _image_tokens(part: Mapping[str, Any], acc: _Acc, where: str) -> int:
    url, data, detail = _image_source(part, where)
    if detail is None:
        detail = "auto"
    if detail not in DETAILS:
        raise ValueError(f"{where}: image detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    try:
        ceiling = max_image_tokens(acc.model, detail)
    except KeyError:
        acc.notes.append(f"image parts are not counted: no image-token rule is known for {acc.model}")
        return 0
    acc.notes.append("image inputs: the provider's published sizing rule (estimate)")
    if detail == "auto" and image_tokens(2048, 2048, acc.model, "low") != image_tokens(2048, 2048, acc.model, "high"):
        # only where detail changes the count (OpenAI's tile rule; Claude, Gemini and the patch
        # models ignore it)
        acc.notes.append("image detail 'auto' counted as 'high' (the API chooses; 'high' costs more)")
    size = None
    if data is None and isinstance(url, str) and url[:5].lower() == "data:":
        data = url
    if data is not None:
        try:
            size = image_size_from_data(data)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    elif acc.image_size is not None:
        if callable(acc.image_size):
            size = acc.image_size(url)
        elif isinstance(acc.image_size, Mapping):
            size = acc.image_size.get(url)
        else:
            size = acc.image_size
        if size is not None and (isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2):
            raise TypeError(f"image_size must give a (width, height) pair, got {size!r} for {where}")
    if size is not None:
        try:
            return image_tokens(size[0], size[1], acc.model, detail)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None
    if ceiling is None:  # no ceiling (Gemini tiles): the smallest image
        acc.notes.append("an image of unknown size is counted as one 258-token tile, the least it "
                         "can cost; pass image_size= for its real size")
        return image_tokens(1, 1, acc.model, detail)
    if image_tokens(1, 1, acc.model, detail) == ceiling:
        return ceiling  # every size costs the same (detail 'low' on the tile rule): nothing to note
    acc.notes.append("an image of unknown size (a URL or file id) is counted at the most one image "
                     "can cost; pass image_size= (a (width, height), a dict by URL or a function of "
                     "the URL) for its real size")
    return ceiling


def _value_text(value: Any, acc: _Acc, where: str) -> str:
    notes = acc.notes
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts = []
        for j, part in enumerate(value):
            if isinstance(part, Mapping) and part.get("type") in ("text", "input_text", "output_text"):
                text = part.get("text")
                if text is None:  # a JSON null text is empty, not the word "None"
                    text = ""
                if not isinstance(text, str):
                    raise TypeError(f"{where}[{j}].text must be a str, not {type(text).__name__}")
                parts.append(text)
            elif isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image", "image"):
                acc.images += _image_tokens(part, acc, f"{where}[{j}]")
            elif isinstance(part, Mapping) and part.get("type") in _MEDIA_PARTS:
                # base64 media is billed by duration / pages, not as its text: counting the
                # payload's characters gave hundreds of thousands of tokens for a recording
                notes.append(f"{part['type']} parts are not counted (billed by their media, not as text)")
            elif isinstance(part, Mapping) and part.get("type") == "tool_result" and "content" in part:
                # Anthropic: a tool's result holds text and images (computer-use screenshots),
                # counted as parts; its base64 used to be tokenized as text (2.8M tokens for one)
                rest = {k: v for k, v in part.items() if k != "content"}
                notes.append(_ROUGH_JSON)
                parts.append(_json_text(rest, f"{where}[{j}]"))
                if part["content"] is not None:
                    parts.append(_value_text(part["content"], acc, f"{where}[{j}].content"))
            elif isinstance(part, Mapping) and isinstance(part.get("source"), Mapping):
                notes.append(f"{part.get('type')} parts with a source are not counted (billed by their media)")
            else:
                notes.append(_ROUGH_JSON)
                parts.append(_json_text(part, f"{where}[{j}]"))
        return "".join(parts)
    if value is None:
        return ""
    notes.append(_ROUGH_JSON)
    return _json_text(value, where)


def _json_text(value: Any, where: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where} must be text or JSON-serialisable data ({e})") from None
    except RecursionError:
        raise ValueError(f"{where} nests too deeply to be serialised as JSON (Python's recursion "
                         "limit); no API request holds such content") from None


def count_messages(
    messages: Sequence[Mapping[str, Any]], model: str = "gpt-4o", *, image_size: ImageSize = None
) -> TokenCount:
    """Prompt tokens of a Chat Completions ``messages`` list (OpenAI cookbook formula).

    For a Mistral model whose vocabulary tokenops has (``open-mixtral-8x7b``,
    ``mistral-large-2411``, ``open-mistral-nemo``...) the count is exact (``kind="exact"``): the
    model's own chat template, as mistral-common's ``encode_chat_completion`` builds it
    (:mod:`tokenops.tokenizer.mistral_chat`); text parts only.

    Image parts are counted by the provider's sizing rule (:func:`tokenops.image_tokens`); the
    size of a base64 ``data:`` image is read from its header. For an image given by URL or file
    id, ``image_size`` supplies it: a ``(width, height)`` for every such image, a dict by URL, or
    a function of the URL returning ``(width, height)`` or None. An image whose size stays unknown
    is counted at the most one image can cost on ``model`` (a note says so)."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError("messages must be a list of dicts like {'role': 'user', 'content': '...'}")
    mistral = _mistral(model)
    if mistral is not None:
        return _count_mistral(mistral, model, messages, None)
    enc, kind, note = _resolve(model)
    per_msg, per_name = _per_message_constants(model)
    acc = _Acc(model, image_size)
    acc.notes.append(note)
    counts = []
    for i, message in enumerate(messages):
        message = _message_dict(message)
        if not isinstance(message, Mapping):
            raise TypeError(f"messages[{i}] must be a dict, not {type(message).__name__}")
        n = per_msg
        before = acc.images
        for key, value in message.items():
            if value is None:  # a JSON null field (name: null, content: null with tool calls) is absent
                continue
            n += enc.count_ordinary(_value_text(value, acc, f"messages[{i}][{key!r}]"))
            if key == "name":
                n += per_name
        counts.append(n + acc.images - before)
    total = sum(counts) + REPLY_PRIMING
    return TokenCount(total, kind, model, enc.name, tuple(counts), 0, tuple(dict.fromkeys(acc.notes)),
                      acc.images)


def _mistral(model: Any) -> str | None:
    if not isinstance(model, str):
        raise TypeError(f"model must be str, not {type(model).__name__}")
    return mistral_vocabulary_for_model(model)


def _count_mistral(vocabulary: str, model: str, messages: Sequence[Any] | None,
                   tools: Sequence[Any] | None) -> TokenCount:
    t = mistral_template(vocabulary)
    notes = [f"exact: Mistral's {t.version} chat template over {vocabulary} (the ids mistral-common's "
             "encode_chat_completion gives)"]
    if messages is None:  # the tool schemas alone, as they sit before the last user turn
        if t.version == "v1":
            n = 0
            notes.append("the v1 template has no tool schemas")
        else:
            n = t.count([{"role": "user", "content": ""}], tools)[2]
        return TokenCount(n, "exact", model, vocabulary, (), n, tuple(notes))
    if t.version == "v1" and tools:
        notes.append("the v1 template has no tool schemas: tools add no tokens")
    total, per, tool_tokens = t.count(messages, tools)
    return TokenCount(total, "exact", model, vocabulary, tuple(per), tool_tokens, tuple(notes))


def _schema_text(value: Any) -> str:
    """A schema field as the text the cookbook counts; a JSON null (None) is an absent field,
    not the word "None"."""
    return "" if value is None else str(value)


def _properties_tokens(enc: Encoding, props: Mapping[str, Any], where: str, consts: tuple[int, int, int],
                       nested: list[bool], depth: int) -> int:
    """The cookbook's per-property tokens of ``props``, and, beyond it, of the properties nested in
    an object property or in an array's ``items`` (they were not counted at all)."""
    if depth > 64:
        raise ValueError(f"{where}: schema nested more than 64 levels deep")
    prop_key, enum_init, enum_item = consts
    n = 0
    for key, spec in props.items():
        n += prop_key
        spec = spec or {}
        if not isinstance(spec, Mapping):
            raise TypeError(f"{where} property {key!r} must be a dict, not {type(spec).__name__}")
        if "enum" in spec:
            if isinstance(spec["enum"], (str, bytes)) or not isinstance(spec["enum"], Sequence):
                raise TypeError(f"{where} property {key!r}: enum must be a list")
            n += enum_init
            for item in spec["enum"]:
                # A non-string enum value (null, true, 3) reaches the model as JSON.
                text = item if isinstance(item, str) else _json_text(item, f"{where} property {key!r} enum item")
                n += enum_item + enc.count_ordinary(text)
        p_desc = _schema_text(spec.get("description"))
        if p_desc.endswith("."):
            p_desc = p_desc[:-1]
        n += enc.count_ordinary(f"{key}:{_schema_text(spec.get('type'))}:{p_desc}")
        items = spec.get("items")
        for sub in (spec, items if isinstance(items, Mapping) else None):
            inner = sub.get("properties") if sub is not None else None
            if isinstance(inner, Mapping) and inner:
                nested.append(True)
                n += _properties_tokens(enc, inner, f"{where} property {key!r}", consts, nested, depth + 1)
    return n


def count_tools(
    tools: Sequence[Mapping[str, Any]],
    model: str = "gpt-4o",
    messages: Sequence[Mapping[str, Any]] | None = None,
    *,
    image_size: ImageSize = None,
) -> TokenCount:
    """Prompt tokens added by a ``tools`` list (function schemas), plus ``messages`` if given,
    with the cookbook's per-function and per-property constants; for Mistral models, exactly,
    as their template places the schemas (``[AVAILABLE_TOOLS]`` before the last user turn)."""
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        raise TypeError("tools must be a list of {'type': 'function', 'function': {...}} dicts")
    mistral = _mistral(model)
    if mistral is not None:
        return _count_mistral(mistral, model, messages, tools)
    enc, kind, note = _resolve(model)
    notes = [note]
    if enc.name in ("o200k_base", "o200k_harmony"):
        func_init, prop_init, prop_key, enum_init, enum_item, func_end = _TOOL_CONSTANTS_O200K
        if kind == "estimate" and not model.lower().startswith(("gpt-4o", "openai/gpt-4o")):
            notes.append("tool constants were published for gpt-4o/gpt-4o-mini; reused for this model")
    else:
        func_init, prop_init, prop_key, enum_init, enum_item, func_end = _TOOL_CONSTANTS_CL100K
    if enc.name not in _OPENAI_ENCODINGS:
        notes.append(f"tool schemas counted with OpenAI's cookbook constants; {model} renders tools "
                     "with its own chat template")
    consts = (prop_key, enum_init, enum_item)
    nested: list[bool] = []  # set when a property holds properties of its own
    n = 0
    for i, tool in enumerate(tools):
        fn = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or "name" not in fn:
            raise ValueError(f"tools[{i}] has no function name (expected {{'function': {{'name': ...}}}})")
        if not isinstance(fn["name"], str):
            raise TypeError(f"tools[{i}] function name must be str, not {type(fn['name']).__name__}")
        n += func_init
        desc = _schema_text(fn.get("description"))
        if desc.endswith("."):
            desc = desc[:-1]
        n += enc.count_ordinary(f"{fn['name']}:{desc}")
        # OpenAI's "parameters", or Anthropic's "input_schema" (the same JSON schema)
        params = fn.get("parameters") or fn.get("input_schema") or {}
        if not isinstance(params, Mapping):
            raise TypeError(f"tools[{i}] parameters must be a JSON-schema dict, not {type(params).__name__}")
        props = params.get("properties") or {}
        if not isinstance(props, Mapping):
            raise TypeError(f"tools[{i}] parameters.properties must be a dict, not {type(props).__name__}")
        if props:
            n += prop_init + _properties_tokens(enc, props, f"tools[{i}]", consts, nested, 0)
    if nested:
        notes.append("nested schema properties (objects, arrays of objects) counted with the cookbook's "
                     "per-property constants; its formula covers top-level properties only")
    if tools:
        n += func_end
    msg = count_messages(messages, model, image_size=image_size) if messages is not None else None
    total = n + (msg.tokens if msg else 0)
    per_message = msg.per_message if msg else ()
    if msg:
        notes.extend(msg.notes)
    return TokenCount(total, kind, model, enc.name, per_message, n, tuple(dict.fromkeys(notes)),
                      msg.images if msg else 0)
