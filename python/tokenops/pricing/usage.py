"""Usage normalisation: provider response ``usage`` objects -> tokenops' disjoint buckets.

Every API reports tokens with its own containment rules (is ``cached`` part of ``prompt``? is
reasoning part of ``completion``?). They are declared once, in :data:`API_SEMANTICS`; the
normaliser only follows that table. Buckets (see :data:`BUCKETS`) are disjoint: input buckets add
up to everything billed as input, output buckets to everything billed as output.

==========================  ===========================================  ==========================================
API                         input                                        output
==========================  ===========================================  ==========================================
openai_chat                 prompt_tokens ⊇ cached_tokens, audio_tokens  completion_tokens ⊇ reasoning, audio
(and LiteLLM ``Usage``)     image_tokens, cache_creation_tokens (split
                            5m / 1h by cache_creation_token_details)
openai_responses            input_tokens ⊇ cached_tokens, image_tokens   output_tokens ⊇ reasoning, image_tokens
openai_images               input_tokens ⊇ cached, text, image_tokens    output_tokens ⊇ text_tokens; the rest is
                                                                         image (the Images API outputs images)
openai_realtime             input_tokens ⊇ text/audio/image_tokens;      output_tokens ⊇ text/audio_tokens
                            cached_tokens ⊂ them (cached_tokens_details
                            splits cached text / audio / image)
bedrock_converse            inputTokens + cacheReadInputTokens +         outputTokens (totalTokens = all four)
                            cacheWriteInputTokens
anthropic_messages          input_tokens + cache_read + cache_creation   output_tokens (thinking included)
                            (cache_creation split 5m / 1h); server tools
gemini                      promptTokenCount ⊇ cachedContentTokenCount;  candidatesTokenCount (IMAGE / AUDIO
                            + toolUsePromptTokenCount; AUDIO and IMAGE   modalities split out) + thoughtsTokenCount
                            modalities split out                         (thoughts billed on top, as output)
deepseek                    prompt_cache_hit + prompt_cache_miss         completion_tokens ⊇ reasoning_tokens
xai                         prompt_tokens ⊇ cached_tokens (text_tokens   completion_tokens + reasoning_tokens
                            includes cached); num_sources_used           (reasoning reported on top; LiteLLM's
                                                                         Usage folds it in: total_tokens =
                                                                         prompt + completion tells them apart)
==========================  ===========================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._args import INT64_MAX

BUCKETS: tuple[str, ...] = (
    "input_text",
    "input_audio",
    "input_image",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output_text",
    "reasoning",
    "output_audio",
    "output_image",
    "request",
    "web_search",
)
INPUT_BUCKETS = BUCKETS[:6]
OUTPUT_BUCKETS = BUCKETS[6:10]


@dataclass(frozen=True)
class ApiSemantics:
    """How one API reports usage. Paths are dotted (``prompt_tokens_details.cached_tokens``).

    ``input_total``/``output_total`` include the ``*_inside`` parts; ``*_on_top`` parts are billed
    in addition to the total. What remains of a total after its inside parts is text.
    """

    name: str
    detect_any: tuple[str, ...]  # any of these top-level keys marks the shape
    input_total: str | None
    input_inside: Mapping[str, str] = field(default_factory=dict)
    input_on_top: Mapping[str, str] = field(default_factory=dict)
    output_total: str | None = None
    output_inside: Mapping[str, str] = field(default_factory=dict)
    output_on_top: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, str] = field(default_factory=dict)  # request / web_search counts
    cache_write_total: str | None = None  # all cache writes, split by cache_write_split
    cache_write_split: tuple[str, str] | None = None  # (5m path, 1h path)
    cache_write_inside: bool = False  # cache writes are part of input_total (else billed on top)
    # path -> top-level key that carries the same count (LiteLLM's Usage sets both, and its
    # constructor lets the top-level key win); when both are present they must agree.
    same_as: Mapping[str, str] = field(default_factory=dict)
    modality_details: str | None = None  # Gemini: list of {modality, tokenCount}
    cached_modality_details: str | None = None
    output_modality_details: str | None = None
    output_rest: str = "output_text"
    total: str | None = None  # a total of every count (checked when present)
    known: tuple[str, ...] = ()  # other top-level keys of this shape (not counts)
    notes: str = ""


API_SEMANTICS: dict[str, ApiSemantics] = {
    "openai_chat": ApiSemantics(
        name="openai_chat",
        detect_any=("prompt_tokens", "completion_tokens"),
        input_total="prompt_tokens",
        input_inside={
            "cache_read": "prompt_tokens_details.cached_tokens",
            "input_audio": "prompt_tokens_details.audio_tokens",
            "input_image": "prompt_tokens_details.image_tokens",
        },
        cache_write_total="prompt_tokens_details.cache_creation_tokens",
        cache_write_split=(
            "prompt_tokens_details.cache_creation_token_details.ephemeral_5m_input_tokens",
            "prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens",
        ),
        cache_write_inside=True,
        same_as={
            "prompt_tokens_details.cached_tokens": "cache_read_input_tokens",
            "prompt_tokens_details.cache_creation_tokens": "cache_creation_input_tokens",
        },
        output_total="completion_tokens",
        output_inside={
            "reasoning": "completion_tokens_details.reasoning_tokens",
            "output_audio": "completion_tokens_details.audio_tokens",
            "output_image": "completion_tokens_details.image_tokens",
        },
        # LiteLLM's Usage carries Anthropic's (and OpenAI's) built-in web searches here;
        # litellm.cost_per_token ignores them (completion_cost adds them), the exact mode bills them.
        counts={"web_search": "server_tool_use.web_search_requests"},
        notes="OpenAI Chat Completions: cached and audio tokens are part of prompt_tokens; "
        "reasoning and audio tokens are part of completion_tokens. LiteLLM's Usage (any provider, "
        "e.g. its Anthropic adapter) has the same shape: prompt_tokens also contains the cache writes "
        "(prompt_tokens_details.cache_creation_tokens = top-level cache_creation_input_tokens, split "
        "5m/1h by prompt_tokens_details.cache_creation_token_details) and the cache reads "
        "(cached_tokens = top-level cache_read_input_tokens).",
    ),
    "openai_responses": ApiSemantics(
        name="openai_responses",
        detect_any=("input_tokens_details", "output_tokens_details"),
        input_total="input_tokens",
        input_inside={"cache_read": "input_tokens_details.cached_tokens",
                      "input_image": "input_tokens_details.image_tokens"},
        output_total="output_tokens",
        output_inside={"reasoning": "output_tokens_details.reasoning_tokens",
                       "output_image": "output_tokens_details.image_tokens"},
        known=("total_tokens",),
        notes="OpenAI Responses API: cached and image tokens ⊂ input_tokens, reasoning and image "
        "tokens ⊂ output_tokens.",
    ),
    "openai_images": ApiSemantics(
        name="openai_images",
        detect_any=("input_tokens_details",),
        input_total="input_tokens",
        input_inside={"cache_read": "input_tokens_details.cached_tokens",
                      "input_image": "input_tokens_details.image_tokens"},
        output_total="output_tokens",
        output_inside={"output_text": "output_tokens_details.text_tokens",
                       "output_image": "output_tokens_details.image_tokens"},
        output_rest="output_image",
        known=("total_tokens",),
        notes="OpenAI Images API (gpt-image-*): input_tokens = text_tokens + image_tokens "
        "(input_tokens_details); output tokens are image tokens unless output_tokens_details "
        "names text_tokens.",
    ),
    "openai_realtime": ApiSemantics(
        name="openai_realtime",
        detect_any=("input_token_details", "output_token_details"),
        input_total="input_tokens",
        output_total="output_tokens",
        output_inside={"output_audio": "output_token_details.audio_tokens"},
        total="total_tokens",
        known=("total_tokens",),
        notes="OpenAI Realtime (response.done usage): input_tokens = text + audio + image tokens "
        "(input_token_details); cached_tokens are part of them, split by cached_tokens_details "
        "(cached text / audio / image), and billed as cache reads; output_tokens = text + audio.",
    ),
    "bedrock_converse": ApiSemantics(
        name="bedrock_converse",
        detect_any=("inputTokens", "outputTokens"),
        input_total="inputTokens",
        input_on_top={"cache_read": "cacheReadInputTokens"},
        cache_write_total="cacheWriteInputTokens",
        output_total="outputTokens",
        total="totalTokens",
        notes="Amazon Bedrock Converse: cacheReadInputTokens and cacheWriteInputTokens are billed on top "
        "of inputTokens; totalTokens = inputTokens + outputTokens + both cache counts.",
    ),
    "anthropic_messages": ApiSemantics(
        name="anthropic_messages",
        detect_any=("cache_creation_input_tokens", "cache_read_input_tokens", "server_tool_use", "input_tokens"),
        input_total="input_tokens",
        input_on_top={"cache_read": "cache_read_input_tokens"},
        cache_write_total="cache_creation_input_tokens",
        cache_write_split=("cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens"),
        output_total="output_tokens",
        counts={"web_search": "server_tool_use.web_search_requests"},
        notes="Anthropic Messages: input_tokens excludes cache reads and writes, which are billed on top; "
        "cache_creation splits writes into 5-minute and 1-hour TTLs; output_tokens includes thinking.",
    ),
    "gemini": ApiSemantics(
        name="gemini",
        detect_any=("promptTokenCount", "prompt_token_count", "candidatesTokenCount", "candidates_token_count"),
        input_total="promptTokenCount",
        input_inside={"cache_read": "cachedContentTokenCount"},
        input_on_top={"input_text": "toolUsePromptTokenCount"},
        output_total="candidatesTokenCount",
        output_on_top={"reasoning": "thoughtsTokenCount"},
        modality_details="promptTokensDetails",
        cached_modality_details="cacheTokensDetails",
        output_modality_details="candidatesTokensDetails",
        known=("totalTokenCount", "toolUsePromptTokensDetails", "trafficType", "responseTokenCount",
               "responseTokensDetails"),
        notes="Gemini / Vertex usageMetadata: cachedContentTokenCount ⊂ promptTokenCount; "
        "toolUsePromptTokenCount and thoughtsTokenCount are billed on top (thoughts at the output rate); "
        "AUDIO / IMAGE prompt tokens go to input_audio / input_image (less their cached part, "
        "cacheTokensDetails), TEXT/VIDEO/DOCUMENT to input_text; IMAGE / AUDIO candidate tokens "
        "(candidatesTokensDetails) go to output_image / output_audio, the rest to output_text. The Live "
        "API's responseTokenCount / responseTokensDetails stand for candidatesTokenCount / "
        "candidatesTokensDetails.",
    ),
    "deepseek": ApiSemantics(
        name="deepseek",
        detect_any=("prompt_cache_hit_tokens", "prompt_cache_miss_tokens"),
        input_total="prompt_tokens",
        input_inside={"cache_read": "prompt_cache_hit_tokens"},
        output_total="completion_tokens",
        output_inside={"reasoning": "completion_tokens_details.reasoning_tokens"},
        known=("prompt_tokens_details", "total_tokens"),  # DeepSeek's cached_tokens = prompt_cache_hit_tokens
        notes="DeepSeek: prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens; "
        "reasoning ⊂ completion_tokens.",
    ),
    "xai": ApiSemantics(
        name="xai",
        detect_any=("num_sources_used",),
        input_total="prompt_tokens",
        input_inside={
            "cache_read": "prompt_tokens_details.cached_tokens",
            "input_audio": "prompt_tokens_details.audio_tokens",
            "input_image": "prompt_tokens_details.image_tokens",
        },
        output_total="completion_tokens",
        output_on_top={"reasoning": "completion_tokens_details.reasoning_tokens"},
        counts={"web_search": "num_sources_used"},
        notes="xAI: cached ⊂ prompt_tokens (prompt_tokens_details.text_tokens counts cached tokens too, "
        "so it is ignored); reasoning_tokens are reported on top of completion_tokens; "
        "num_sources_used counts Live Search sources.",
    ),
}

_SNAKE = {  # Gemini Python SDK field names
    "prompt_token_count": "promptTokenCount",
    "candidates_token_count": "candidatesTokenCount",
    "cached_content_token_count": "cachedContentTokenCount",
    "thoughts_token_count": "thoughtsTokenCount",
    "tool_use_prompt_token_count": "toolUsePromptTokenCount",
    "total_token_count": "totalTokenCount",
    "prompt_tokens_details": "promptTokensDetails",
    "cache_tokens_details": "cacheTokensDetails",
    "candidates_tokens_details": "candidatesTokensDetails",
    "tool_use_prompt_tokens_details": "toolUsePromptTokensDetails",
    "response_token_count": "responseTokenCount",
    "response_tokens_details": "responseTokensDetails",
    "traffic_type": "trafficType",
    "token_count": "tokenCount",
}


@dataclass(frozen=True)
class Usage:
    """Normalised usage (disjoint bucket counts). Build with :func:`normalize_usage`."""

    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output_text: int = 0
    reasoning: int = 0
    output_audio: int = 0
    output_image: int = 0
    request: int = 0
    web_search: int = 0
    api: str = "tokenops"

    def __post_init__(self) -> None:
        for b in BUCKETS:
            # Stored as a Python int: a numpy int64 kept here would wrap (with only a warning)
            # when totals are summed.
            object.__setattr__(self, b, _check_count(getattr(self, b), b))

    def counts(self) -> list[int]:
        return [getattr(self, b) for b in BUCKETS]

    @property
    def input_tokens(self) -> int:
        return sum(getattr(self, b) for b in INPUT_BUCKETS)

    @property
    def output_tokens(self) -> int:
        return sum(getattr(self, b) for b in OUTPUT_BUCKETS)

    def as_dict(self) -> dict[str, int]:
        return {b: getattr(self, b) for b in BUCKETS}


def _check_count(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if hasattr(v, "__index__") and not isinstance(v, bool):  # numpy integers
            v = int(v)
        else:
            raise TypeError(f"usage field '{name}' must be an integer token count, got {type(v).__name__} {v!r}")
    if v < 0:
        raise ValueError(f"usage field '{name}' must be >= 0, got {v}")
    if v > INT64_MAX:  # the core counts tokens in int64
        raise ValueError(f"usage field '{name}' = {v} is too large (at most 2**63 - 1 tokens)")
    return int(v)


def _to_dict(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        # pydantic SDK objects (google-genai, openai, anthropic): mode="json" turns enums such as
        # google-genai's MediaModality.AUDIO into their values ("AUDIO")
        try:
            return dump(mode="json")
        except Exception:  # noqa: BLE001 - not pydantic v2, or a field JSON cannot hold
            pass
    for attr in ("model_dump", "dict", "to_dict"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                return fn()
            except TypeError:
                continue
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise TypeError(f"usage must be a dict or a provider usage object, not {type(obj).__name__}")


def _get(d: Mapping[str, Any], path: str) -> Any:
    cur: Any = d
    for part in path.split("."):
        if cur is None:
            return None
        if not isinstance(cur, Mapping):
            cur = _to_dict(cur)
        cur = cur.get(part)
    return cur


def _count(d: Mapping[str, Any], path: str | None) -> int:
    if path is None:
        return 0
    v = _get(d, path)
    if v is None:
        return 0
    return _check_count(v, path)


def _unwrap(usage: Any) -> tuple[Mapping[str, Any], str | None]:
    """Accepts a usage dict, a whole response dict, or an SDK object; returns (usage, hint)."""
    d = _to_dict(usage)
    if "usageMetadata" in d:
        return _to_dict(d["usageMetadata"]), "gemini"
    if "usage_metadata" in d:
        return _to_dict(d["usage_metadata"]), "gemini"
    if "usage" in d and isinstance(d.get("usage"), (Mapping, object)) and d.get("usage") is not None:
        hint = None
        if d.get("type") == "message":
            hint = "anthropic_messages"
        elif d.get("object") == "response":
            hint = "openai_responses"
        elif d.get("object") in ("chat.completion", "chat.completion.chunk"):
            hint = "openai_chat"
        elif d.get("object") == "realtime.response":
            hint = "openai_realtime"
        u = _to_dict(d["usage"])
        if hint == "openai_responses" and _images_usage(u):
            hint = "openai_images"
        return u, hint
    if d.get("type") == "response.done" and d.get("response") is not None:  # a Realtime event
        r = _to_dict(d["response"])
        if r.get("usage") is not None:
            return _to_dict(r["usage"]), "openai_realtime"
    return d, None


# A response's service tier -> tokenops' tier. OpenAI reports "default" for the standard tier;
# Anthropic's usage.service_tier is "standard", "priority" or "batch".
_RESPONSE_TIERS = {"default": "standard", "standard": "standard", "flex": "flex", "priority": "priority",
                   "batch": "batch"}


def response_service_tier(usage: Any) -> str | None:
    """The service tier a whole response (or an Anthropic usage) says it was served at, as a
    tokenops tier (standard, batch, flex, priority); None when it does not say. A tier tokenops
    cannot price per token (OpenAI's "scale") is a ValueError."""
    if isinstance(usage, Usage):
        return None
    d = _to_dict(usage)
    if not isinstance(d, Mapping):
        return None
    found: list[tuple[str, Any]] = []
    if d.get("service_tier") is not None:
        found.append(("service_tier", d["service_tier"]))
    for key in ("usage", "response"):  # a whole response; a Realtime response.done event
        inner = d.get(key)
        if inner is not None:
            inner = _to_dict(inner)
            if isinstance(inner, Mapping) and inner.get("service_tier") is not None:
                found.append((f"{key}.service_tier", inner["service_tier"]))
    tiers = set()
    for where, v in found:
        v = getattr(v, "value", v)
        if isinstance(v, str) and v.lower() == "auto":  # the request's setting echoed: says nothing
            continue
        if not isinstance(v, str) or v.lower() not in _RESPONSE_TIERS:
            raise ValueError(f"the response's {where} is {v!r}, which tokenops cannot price per token "
                             f"(known: {', '.join(_RESPONSE_TIERS)}); price its usage alone with an "
                             "explicit service_tier=")
        tiers.add(_RESPONSE_TIERS[v.lower()])
    if len(tiers) > 1:
        raise ValueError(f"the response names two service tiers: {found}")
    return tiers.pop() if tiers else None


def _images_usage(usage: Mapping[str, Any]) -> bool:
    """OpenAI Images API usage: input_tokens_details splits text_tokens / image_tokens (the
    Responses API's holds cached_tokens only) and output_tokens_details, if any, has no
    reasoning_tokens."""
    det = usage.get("input_tokens_details")
    if det is None:
        return False
    det = _to_dict(det)
    out = usage.get("output_tokens_details")
    out = _to_dict(out) if out is not None else {}
    return isinstance(det, Mapping) and ("text_tokens" in det or "image_tokens" in det) and \
        not (isinstance(out, Mapping) and "reasoning_tokens" in out)


def detect_api(usage: Mapping[str, Any]) -> str:
    """Names the API whose usage shape this is; ValueError listing the known shapes if none."""
    keys = set(usage)
    if keys & set(BUCKETS) and keys <= set(BUCKETS) | {"api"}:
        return "tokenops"
    if keys & set(BUCKETS):
        # {"input_text": 1, "prompt_tokens": 2} read as openai_chat ignored input_text
        raise ValueError(f"usage mixes tokenops bucket names {sorted(keys & set(BUCKETS))} with other fields "
                         f"{sorted(keys - set(BUCKETS) - {'api'})}; give either buckets or one API's usage")
    for name in ("gemini", "deepseek", "xai", "openai_realtime", "bedrock_converse"):
        if keys & set(API_SEMANTICS[name].detect_any):
            return name
    if keys & set(API_SEMANTICS["openai_responses"].detect_any):
        return "openai_images" if _images_usage(usage) else "openai_responses"
    if "prompt_tokens" in keys or "completion_tokens" in keys:
        return "openai_chat"
    if "input_tokens" in keys or "output_tokens" in keys:
        # Anthropic and the Responses API share input/output_tokens; without details they agree.
        return "anthropic_messages"
    raise ValueError(
        f"unknown usage shape with keys {sorted(keys)}; known APIs: {', '.join(API_SEMANTICS)} "
        f"(or tokenops buckets {', '.join(BUCKETS)}). Pass api=... to name it."
    )


def _primary_fields(spec: ApiSemantics) -> set[str]:
    """The top-level keys that carry an API's main counts (a usage of that API has one of them);
    secondary keys shared with other APIs (LiteLLM's copies of Anthropic's cache fields,
    server_tool_use) do not make another API's usage this one."""
    paths = [spec.input_total, spec.output_total, spec.modality_details, *spec.detect_any]
    return {p.split(".")[0] for p in paths if p}


def _known_fields(spec: ApiSemantics) -> set[str]:
    """Every top-level key of an API's usage that this normaliser reads or knows."""
    paths = [spec.input_total, spec.output_total, spec.modality_details, spec.cached_modality_details,
             spec.output_modality_details, spec.cache_write_total, spec.total, *spec.detect_any, *spec.known,
             *spec.input_inside.values(), *spec.input_on_top.values(), *spec.output_inside.values(),
             *spec.output_on_top.values(), *spec.counts.values(), *spec.same_as.values(),
             *(spec.cache_write_split or ())]
    return {p.split(".")[0] for p in paths if p}


def _refuse_unknown_details(d: Mapping[str, Any], spec: ApiSemantics) -> None:
    """A ``*_details`` / ``*Details`` key this API's shape does not have splits counts some other
    way (OpenAI Realtime's input_token_details, read as Anthropic's usage, billed its audio as
    text): refuse rather than misread."""
    known = _known_fields(spec)
    extra = sorted(k for k in d if isinstance(k, str) and k not in known and
                   (k.endswith("_details") or k.endswith("Details")) and d[k] is not None)
    if extra:
        raise ValueError(f"usage field(s) {extra} are not part of the {spec.name} usage shape, so their "
                         f"token split would be ignored; is this another API's usage? Known APIs: "
                         f"{', '.join(API_SEMANTICS)} (pass api=... to name one)")


def _count_same(d: Mapping[str, Any], spec: ApiSemantics, path: str | None) -> int:
    """``_count`` that also reads the key :attr:`ApiSemantics.same_as` names for ``path``."""
    alt = spec.same_as.get(path) if path is not None else None
    if alt is None:
        return _count(d, path)
    a, b = _get(d, path), _get(d, alt)  # type: ignore[arg-type]
    if b is None:
        return _count(d, path)
    nb = _check_count(b, alt)
    if a is not None and _check_count(a, path) != nb:  # type: ignore[arg-type]
        raise ValueError(f"usage '{path}' ({a}) and '{alt}' ({b}) disagree; for {spec.name} they count "
                         "the same tokens")
    return nb


def _field_name(spec: ApiSemantics, path: str) -> str:
    """``'path'``, with the top-level key that carries the same count (``same_as``) if any."""
    alt = spec.same_as.get(path)
    return f"'{path}'" + (f" / '{alt}'" if alt else "")


def _cache_writes(d: Mapping[str, Any], spec: ApiSemantics) -> tuple[int, int]:
    """(5-minute, 1-hour) cache writes. Without a 5m/1h split every write is a 5-minute write."""
    assert spec.cache_write_total is not None
    total = _count_same(d, spec, spec.cache_write_total)
    split = spec.cache_write_split
    if split is None or _get(d, split[0].rsplit(".", 1)[0]) is None or \
            (_get(d, split[0]) is None and _get(d, split[1]) is None):
        # no split, or a split object holding no values (LiteLLM bills such writes at $0; they
        # are 5-minute writes here, in both modes)
        return total, 0
    w5, w1 = _count(d, split[0]), _count(d, split[1])
    # A split with a zero total is taken as is in Anthropic's usage (writes billed on top); where the
    # writes are part of the prompt total (LiteLLM's Usage) the split must match the total exactly.
    if (total or spec.cache_write_inside) and w5 + w1 != total:
        where = _field_name(spec, spec.cache_write_total)
        raise ValueError(f"usage '{split[0]}' + '{split[1]}' = {w5 + w1} but {where} = {total}; "
                         "the 5-minute and 1-hour writes must add up to all cache writes")
    return w5, w1


def normalize_usage(usage: Any, api: str | None = None, provider: str | None = None) -> Usage:
    """Converts a provider usage object (dict, SDK object, whole response) into :class:`Usage`.

    ``api`` names the shape (a key of :data:`API_SEMANTICS`, or ``"tokenops"``); by default it is
    detected from the keys, with ``provider`` (e.g. ``"xai"``) resolving OpenAI-compatible shapes.
    """
    if isinstance(usage, Usage):
        return usage
    d, hint = _unwrap(usage)
    if api is None:
        api = hint or detect_api(d)
        if api == "openai_chat" and provider in API_SEMANTICS and provider in ("xai", "deepseek"):
            api = provider
    if api == "tokenops":
        unknown = set(d) - set(BUCKETS) - {"api"}
        if unknown:
            raise ValueError(f"unknown usage fields {sorted(unknown)}; buckets are {', '.join(BUCKETS)}")
        return Usage(**{k: _check_count(v, k) for k, v in d.items() if k != "api"})
    if api not in API_SEMANTICS:
        raise ValueError(f"unknown usage api {api!r}; known: {', '.join(API_SEMANTICS)}, tokenops")
    spec = API_SEMANTICS[api]
    if api == "gemini":
        d = {_SNAKE.get(k, k): v for k, v in d.items()}
    if api == "xai":
        spec = _xai_spec(d, spec)
    _refuse_unknown_details(d, spec)
    if d and not set(d) & _primary_fields(spec):
        # e.g. api="openai_chat" on an Anthropic usage: every bucket would read 0 ($0)
        raise ValueError(
            f"usage has none of the {api} fields ({', '.join(sorted(_primary_fields(spec)))}); "
            f"got keys {sorted(d)}. Is it another API's usage? Leave api=None to detect it."
        )
    out = dict.fromkeys(BUCKETS, 0)
    writes: dict[str, int] = {}
    if spec.cache_write_total is not None:
        writes["cache_write_5m"], writes["cache_write_1h"] = _cache_writes(d, spec)

    def inside(total_path: str | None, parts: Mapping[str, str], text_bucket: str,
               extra: Mapping[str, int] | None = None) -> None:
        total = _count(d, total_path)
        rest = total
        named = [(b, f"'{p}'", _count_same(d, spec, p)) for b, p in parts.items()]
        if extra:  # cache writes inside the prompt total (LiteLLM's Usage)
            w = _field_name(spec, spec.cache_write_total)  # type: ignore[arg-type]
            named += [(b, f"{w} ({b})", n) for b, n in extra.items() if n]
        for bucket, label, n in named:
            if n > rest:
                raise ValueError(
                    f"usage field {label} ({n}) exceeds what is left of '{total_path}' ({rest}); "
                    f"for {spec.name}, it is part of {total_path}"
                )
            out[bucket] += n
            rest -= n
        out[text_bucket] += rest

    if spec.name == "gemini":
        _gemini(d, spec, out)
    elif spec.name == "openai_realtime":
        _realtime_input(d, out)
    else:
        inside(spec.input_total, spec.input_inside, "input_text", writes if spec.cache_write_inside else None)
    for bucket, path in spec.input_on_top.items():
        out[bucket] += _count(d, path)
    if not spec.cache_write_inside:
        for bucket, n in writes.items():
            out[bucket] += n
    if spec.name != "gemini":
        inside(spec.output_total, spec.output_inside, spec.output_rest)
    for bucket, path in spec.output_on_top.items():
        out[bucket] += _count(d, path)
    for bucket, path in spec.counts.items():
        out[bucket] += _count(d, path)
    if spec.total is not None and _get(d, spec.total) is not None:
        total = _count(d, spec.total)
        billed = sum(out[b] for b in INPUT_BUCKETS + OUTPUT_BUCKETS)
        if total != billed:
            raise ValueError(f"usage '{spec.total}' = {total}, but the {spec.name} counts add up to {billed} "
                             f"({spec.notes})")
    return Usage(**out, api=spec.name)


def _xai_spec(d: Mapping[str, Any], spec: ApiSemantics) -> ApiSemantics:
    """xAI's own usage reports reasoning on top of completion_tokens; LiteLLM's Usage for xAI has
    folded it in (total_tokens == prompt_tokens + completion_tokens then, which is how LiteLLM's
    xAI cost calculator tells the two apart). Live Search sources: LiteLLM stores them in
    prompt_tokens_details.web_search_requests, xAI in num_sources_used (LiteLLM's order); a
    server_tool_use.web_search_requests count is read when neither is there."""
    prompt, completion = _count(d, "prompt_tokens"), _count(d, "completion_tokens")
    total = _get(d, "total_tokens")
    folded = total is not None and _check_count(total, "total_tokens") == prompt + completion
    counts = dict(spec.counts)
    for path in ("prompt_tokens_details.web_search_requests", "num_sources_used",
                 "server_tool_use.web_search_requests"):
        if _get(d, path) is not None:
            counts["web_search"] = path
            break
    if folded:
        return replace(spec, output_inside={**spec.output_inside, **spec.output_on_top}, output_on_top={},
                       counts=counts)
    return replace(spec, counts=counts)


def _modality(item: Any) -> str:
    """A modality name (TEXT, AUDIO, IMAGE...) from a dict value or an SDK enum member
    (google-genai's MediaModality.AUDIO, whose str() is "MediaModality.AUDIO")."""
    m = getattr(item, "value", item)
    return str(m if m is not None else "").upper()


def _by_modality(d: Mapping[str, Any], path: str | None) -> tuple[dict[str, int], bool]:
    """Token counts of a Gemini ``*TokensDetails`` list by modality, and whether the list is there."""
    details = _get(d, path) if path else None
    if details is None:
        return {}, False
    if isinstance(details, (str, bytes)) or not hasattr(details, "__iter__"):
        raise TypeError(f"usage '{path}' must be a list of {{modality, tokenCount}}, not {type(details).__name__}")
    n: dict[str, int] = {}
    for i, item in enumerate(details):
        item = _to_dict(item)
        m = _modality(item.get("modality"))
        n[m] = n.get(m, 0) + _check_count(item.get("tokenCount", item.get("token_count", 0)) or 0,
                                          f"{path}[{i}].tokenCount")
    return n, True


def _gemini(d: Mapping[str, Any], spec: ApiSemantics, out: dict[str, int]) -> None:
    """Gemini input (promptTokenCount, with its cached part and AUDIO / IMAGE modalities) and
    output (candidatesTokenCount, or the Live API's responseTokenCount, with its IMAGE / AUDIO
    modalities). TEXT, VIDEO, DOCUMENT and unnamed modalities are text."""
    total = _count(d, spec.input_total)
    cached = _count(d, "cachedContentTokenCount")
    if cached > total:
        raise ValueError(f"usage 'cachedContentTokenCount' ({cached}) exceeds 'promptTokenCount' ({total})")
    prompt, _ = _by_modality(d, spec.modality_details)
    cache, has_cache_details = _by_modality(d, spec.cached_modality_details)
    audio, image = prompt.get("AUDIO", 0), prompt.get("IMAGE", 0)
    c_audio, c_image = cache.get("AUDIO", 0), cache.get("IMAGE", 0)
    if audio + image > total:
        raise ValueError(f"usage promptTokensDetails: AUDIO ({audio}) + IMAGE ({image}) tokens exceed "
                         f"promptTokenCount ({total})")
    if c_audio > audio or c_image > image or c_audio + c_image > cached:
        raise ValueError(f"usage cacheTokensDetails (AUDIO {c_audio}, IMAGE {c_image}) is inconsistent with "
                         f"promptTokensDetails (AUDIO {audio}, IMAGE {image}) and cachedContentTokenCount "
                         f"({cached})")
    audio, image = audio - c_audio, image - c_image  # not cached
    text = total - cached - audio - image
    if text < 0:
        if has_cache_details:
            raise ValueError(f"usage promptTokenCount ({total}) is less than cachedContentTokenCount ({cached}) "
                             f"plus the uncached AUDIO ({audio}) and IMAGE ({image}) tokens")
        # Implicit caching without cacheTokensDetails: the cached tokens that are not text were
        # image (then audio) tokens.
        take = min(-text, image)
        image -= take
        audio -= -text - take
        text = 0
    out["cache_read"] += cached
    out["input_audio"] += audio
    out["input_image"] += image
    out["input_text"] += text

    cand, resp = _get(d, "candidatesTokenCount"), _get(d, "responseTokenCount")
    if cand is not None and resp is not None and _check_count(cand, "candidatesTokenCount") != \
            _check_count(resp, "responseTokenCount"):
        raise ValueError(f"usage 'candidatesTokenCount' ({cand}) and 'responseTokenCount' ({resp}) disagree")
    total_path = "candidatesTokenCount" if cand is not None else "responseTokenCount"
    completion = _count(d, total_path)
    det_path = spec.output_modality_details
    if _get(d, det_path or "") is None and _get(d, "responseTokensDetails") is not None:
        det_path = "responseTokensDetails"
    cand_mod, _ = _by_modality(d, det_path)
    o_image, o_audio = cand_mod.get("IMAGE", 0), cand_mod.get("AUDIO", 0)
    if o_image + o_audio > completion:
        raise ValueError(f"usage {det_path}: IMAGE ({o_image}) + AUDIO ({o_audio}) tokens exceed "
                         f"'{total_path}' ({completion})")
    out["output_image"] += o_image
    out["output_audio"] += o_audio
    out["output_text"] += completion - o_image - o_audio


def _realtime_input(d: Mapping[str, Any], out: dict[str, int]) -> None:
    """OpenAI Realtime input: input_tokens = text + audio + image tokens; cached_tokens are part of
    them (cached_tokens_details: cached text / audio / image) and billed as cache reads."""
    total = _count(d, "input_tokens")
    det = "input_token_details"
    text, audio, image = (_get(d, f"{det}.{k}") for k in ("text_tokens", "audio_tokens", "image_tokens"))
    audio_n, image_n = _count(d, f"{det}.audio_tokens"), _count(d, f"{det}.image_tokens")
    if text is not None:
        parts = _count(d, f"{det}.text_tokens") + audio_n + image_n
        if parts != total:
            raise ValueError(f"usage {det} text_tokens + audio_tokens + image_tokens = {parts} but "
                             f"input_tokens = {total}; for openai_realtime they add up to input_tokens")
    elif audio_n + image_n > total:
        raise ValueError(f"usage {det} audio_tokens + image_tokens = {audio_n + image_n} exceed "
                         f"input_tokens ({total})")
    cached = _count(d, f"{det}.cached_tokens")
    cd = f"{det}.cached_tokens_details"
    c_text, c_audio, c_image = (_count(d, f"{cd}.{k}") for k in ("text_tokens", "audio_tokens", "image_tokens"))
    if _get(d, cd) is not None and c_text + c_audio + c_image != cached:
        raise ValueError(f"usage {cd} adds up to {c_text + c_audio + c_image} but cached_tokens = {cached}")
    if _get(d, cd) is None and cached:
        # Without the split, the cached tokens are taken from text first, then audio, then image.
        rest = cached
        c_text = min(rest, total - audio_n - image_n)
        rest -= c_text
        c_audio = min(rest, audio_n)
        c_image = rest - c_audio
    if c_audio > audio_n or c_image > image_n or cached > total:
        raise ValueError(f"usage {cd} (audio {c_audio}, image {c_image}) or cached_tokens ({cached}) exceed "
                         f"the {det} counts (audio {audio_n}, image {image_n}, input_tokens {total})")
    out["cache_read"] += cached
    out["input_audio"] += audio_n - c_audio
    out["input_image"] += image_n - c_image
    out["input_text"] += total - audio_n - image_n - (cached - c_audio - c_image)
    if out["input_text"] < 0:
        raise ValueError(f"usage {cd}: cached text tokens exceed the {det} text tokens")
