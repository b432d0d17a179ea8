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
                            modalities split out (cached AUDIO:          (thoughts billed on top, as output)
                            cache_read_audio)
deepseek                    prompt_cache_hit + prompt_cache_miss (hit =  completion_tokens ⊇ reasoning_tokens
                            prompt_tokens_details.cached_tokens)
perplexity                  prompt_tokens; citation_tokens billed at     completion_tokens + reasoning_tokens
                            their own price; num_search_queries          (reasoning on top)
xai                         prompt_tokens ⊇ cached_tokens (text_tokens   completion_tokens + reasoning_tokens
                            includes cached); num_sources_used           (reasoning reported on top; LiteLLM's
                                                                         Usage folds it in: total_tokens =
                                                                         prompt + completion tells them apart)
==========================  ===========================================  ==========================================
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .._args import INT64_MAX, sdk_dict

BUCKETS: tuple[str, ...] = (
    "input_text",
    "input_audio",
    "input_image",
    "cache_read",
    "cache_read_audio",
    "cache_write_5m",
    "cache_write_1h",
    "output_text",
    "reasoning",
    "output_audio",
    "output_image",
    "request",
    "web_search",
)
INPUT_BUCKETS = BUCKETS[:7]
OUTPUT_BUCKETS = BUCKETS[7:11]
# Per-call fields a usage may carry besides its counts: Anthropic's usage.inference_geo ("us":
# US-only inference) and usage.speed ("fast": fast mode), each a price multiplier.
CALL_FIELDS: tuple[str, ...] = ("inference_geo", "speed")
# Token counts a provider reports apart that tokenops bills inside a bucket (Usage.detail):
# kind -> the bucket that holds them.
DETAIL_KINDS: dict[str, str] = {"input_video": "input_text", "output_video": "output_text",
                                "cache_read_image": "cache_read"}


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
    # path -> other key(s) that carry the same count (LiteLLM's Usage sets both, and its
    # constructor lets the top-level key win); when both are present they must agree.
    same_as: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
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
        # DeepSeek reports its cache hits twice (prompt_tokens_details.cached_tokens too); an
        # OpenAI-compatible client or LiteLLM's Usage may keep only one copy
        same_as={"prompt_cache_hit_tokens": ("prompt_tokens_details.cached_tokens", "cache_read_input_tokens")},
        output_total="completion_tokens",
        output_inside={"reasoning": "completion_tokens_details.reasoning_tokens"},
        known=("prompt_tokens_details", "total_tokens"),
        notes="DeepSeek: prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens; the hits are "
        "also prompt_tokens_details.cached_tokens (either is read; both must agree); reasoning ⊂ "
        "completion_tokens.",
    ),
    "perplexity": ApiSemantics(
        name="perplexity",
        detect_any=("num_search_queries", "search_context_size"),  # or a perplexity/ model's usage
        input_total="prompt_tokens",
        output_total="completion_tokens",
        output_on_top={"reasoning": "reasoning_tokens"},
        # LiteLLM's Usage keeps reasoning in completion_tokens_details and its Perplexity adapter
        # copies num_search_queries to prompt_tokens_details.web_search_requests
        same_as={"reasoning_tokens": "completion_tokens_details.reasoning_tokens",
                 "num_search_queries": ("prompt_tokens_details.web_search_requests", "search_queries")},
        counts={"web_search": "num_search_queries"},
        known=("total_tokens", "citation_tokens", "search_context_size", "cost", "prompt_tokens_details",
               "completion_tokens_details"),
        notes="Perplexity: reasoning_tokens (Sonar Deep Research) are billed on top of completion_tokens; "
        "num_search_queries counts billed search queries; citation_tokens are billed at their own price.",
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
        same_as={"prompt_tokens_details.cached_tokens": "cache_read_input_tokens"},
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
    cache_read_audio: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output_text: int = 0
    reasoning: int = 0
    output_audio: int = 0
    output_image: int = 0
    request: int = 0
    web_search: int = 0
    api: str = "tokenops"
    # Anthropic's usage.inference_geo / usage.speed ("" when the usage does not say): price multipliers
    inference_geo: str = ""
    speed: str = ""
    # Perplexity's citation_tokens: billed at the model's citation price (no bucket of their own)
    citation_tokens: int = 0
    # ((kind, count), ...): tokens the provider reports apart and tokenops bills inside a bucket
    # (see DETAIL_KINDS: Gemini VIDEO prompt tokens are input_text...); a cost result notes them
    # where the catalogue lists a price of their own
    detail: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for b in BUCKETS:
            # Stored as a Python int: a numpy int64 kept here would wrap (with only a warning)
            # when totals are summed.
            object.__setattr__(self, b, _check_count(getattr(self, b), b))
        object.__setattr__(self, "citation_tokens", _check_count(self.citation_tokens, "citation_tokens"))
        for f in CALL_FIELDS:
            v = getattr(self, f)
            if v is None:
                object.__setattr__(self, f, "")
            elif not isinstance(v, str):
                raise TypeError(f"usage field '{f}' must be a str, got {type(v).__name__} {v!r}")
        det = self.detail.items() if isinstance(self.detail, Mapping) else self.detail
        out: dict[str, int] = {}
        for item in det:
            kind, n = item
            if kind not in DETAIL_KINDS:
                raise ValueError(f"usage detail kind {kind!r} is not one of {', '.join(DETAIL_KINDS)}")
            out[kind] = out.get(kind, 0) + _check_count(n, f"detail.{kind}")
        object.__setattr__(self, "detail", tuple(sorted((k, n) for k, n in out.items() if n)))

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
    d = sdk_dict(obj)  # pydantic SDK objects (google-genai, openai, anthropic)
    if d is not None:
        return d
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


# Gemini / Vertex usageMetadata.trafficType -> tokenops' tier, as the provider bills it. Provisioned
# Throughput is paid by subscription, not per token: a ValueError (like OpenAI's "scale").
_GEMINI_TRAFFIC = {"ON_DEMAND": "standard", "ON_DEMAND_PRIORITY": "priority", "ON_DEMAND_FLEX": "flex",
                   "TRAFFIC_TYPE_UNSPECIFIED": None}
# ... and as LiteLLM's completion_cost maps it (cost_calculator._GEMINI_TRAFFIC_TYPE_TO_SERVICE_TIER);
# any other value is no tier (standard).
_LITELLM_GEMINI_TRAFFIC = {"ON_DEMAND_PRIORITY": "priority", "FLEX": "flex", "BATCH": "flex"}


def _traffic_type(d: Mapping[str, Any]) -> tuple[str, Any] | None:
    """(where, value) of a Gemini trafficType in a response, its usageMetadata, or the
    usageMetadata itself (camelCase or the SDK's snake_case)."""
    for key in ("usageMetadata", "usage_metadata", None):
        inner = d if key is None else d.get(key)
        if inner is None:
            continue
        inner = _to_dict(inner)
        if not isinstance(inner, Mapping):
            continue
        for k in ("trafficType", "traffic_type"):
            if inner.get(k) is not None:
                return (f"{key}.{k}" if key else k), inner[k]
    return None


def response_service_tier(usage: Any, mode: str = "exact") -> str | None:
    """The service tier a whole response (or an Anthropic usage, or a Gemini usageMetadata) says
    it was served at, as a tokenops tier (standard, batch, flex, priority); None when it does not
    say. A tier tokenops cannot price per token (OpenAI's "scale", Gemini's Provisioned
    Throughput) is a ValueError. Gemini's trafficType is read as the provider bills it
    (ON_DEMAND_PRIORITY: priority, ON_DEMAND_FLEX: flex), or with ``mode="litellm"`` as LiteLLM's
    ``completion_cost`` maps it (ON_DEMAND_PRIORITY: priority, FLEX / BATCH: flex, else none)."""
    if isinstance(usage, Usage):
        return None
    d = _to_dict(usage)
    if not isinstance(d, Mapping):
        return None
    found: list[tuple[str, Any]] = []
    traffic = _traffic_type(d)
    if traffic is not None:
        where, v = traffic
        v = str(getattr(v, "value", v)).upper()
        if v.startswith("TRAFFICTYPE."):  # str() of a google-genai enum member
            v = v.split(".", 1)[1]
        if mode == "litellm":
            tier = _LITELLM_GEMINI_TRAFFIC.get(v)
        elif v in _GEMINI_TRAFFIC:
            tier = _GEMINI_TRAFFIC[v]
        else:
            raise ValueError(f"the response's {where} is {v!r}, which tokenops cannot price per token (known: "
                             f"{', '.join(k for k in _GEMINI_TRAFFIC)}; PROVISIONED_THROUGHPUT is billed by "
                             "subscription); price its counts without the trafficType field and an explicit "
                             "service_tier=")
        if tier is not None:
            found.append((where, tier))
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
    if keys & set(BUCKETS) and keys <= set(BUCKETS) | {"api", *CALL_FIELDS}:
        return "tokenops"
    if keys & set(BUCKETS):
        # {"input_text": 1, "prompt_tokens": 2} read as openai_chat ignored input_text
        others = sorted(keys - set(BUCKETS) - {"api", *CALL_FIELDS})
        raise ValueError(f"usage mixes tokenops bucket names {sorted(keys & set(BUCKETS))} with other fields "
                         f"{others}; give either buckets or one API's usage")
    for name in ("gemini", "deepseek", "xai", "perplexity", "openai_realtime", "bedrock_converse"):
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
             *spec.output_on_top.values(), *spec.counts.values(), *_alts_all(spec),
             *(spec.cache_write_split or ())]
    return {p.split(".")[0] for p in paths if p}


def _alts(spec: ApiSemantics, path: str | None) -> tuple[str, ...]:
    """The other keys :attr:`ApiSemantics.same_as` names for ``path`` (none: ())."""
    alt = spec.same_as.get(path) if path is not None else None
    if alt is None:
        return ()
    return (alt,) if isinstance(alt, str) else tuple(alt)


def _alts_all(spec: ApiSemantics) -> list[str]:
    return [a for p in spec.same_as for a in _alts(spec, p)]


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


_COUNT_KEY = re.compile(r"(?:_tokens?|Tokens?|TokenCount|_token_count)$")


def _refuse_unknown_counts(d: Mapping[str, Any], spec: ApiSemantics) -> None:
    """A top-level token count that is a near-miss of a field this shape reads (a misspelled
    ``completion_token``, ``input_token`` or ``cache_read_input_token``) would be billed at $0
    without a word: refuse it. Other counts a provider adds (Moonshot's ``cached_tokens`` inside
    ``prompt_tokens``, Perplexity's ``citation_tokens``) are left alone."""
    import difflib

    known = sorted(_known_fields(spec))
    for k in d:
        if (not isinstance(k, str) or k in known or not _COUNT_KEY.search(k)
                or not isinstance(d[k], (int, float)) or isinstance(d[k], bool) or d[k] == 0):
            continue
        near = difflib.get_close_matches(k, known, n=1, cutoff=0.85)
        if near:
            raise ValueError(f"usage field '{k}' is not a {spec.name} field; did you mean '{near[0]}'? "
                             f"As written its {d[k]} tokens would cost $0")


def _count_same(d: Mapping[str, Any], spec: ApiSemantics, path: str | None) -> int:
    """``_count`` that also reads the keys :attr:`ApiSemantics.same_as` names for ``path``: the
    count is whichever of them is present; two present that disagree are a ValueError."""
    alts = _alts(spec, path)
    if not alts:
        return _count(d, path)
    found = [(p, _check_count(v, p)) for p in (path, *alts) if (v := _get(d, p)) is not None]  # type: ignore[arg-type]
    if not found:
        return 0
    for p, n in found[1:]:
        if n != found[0][1]:
            raise ValueError(f"usage '{found[0][0]}' ({found[0][1]}) and '{p}' ({n}) disagree; for {spec.name} "
                             "they count the same tokens")
    return found[-1][1]


def _field_name(spec: ApiSemantics, path: str) -> str:
    """``'path'``, with the other keys that carry the same count (``same_as``) if any."""
    return " / ".join(f"'{p}'" for p in (path, *_alts(spec, path)))


def _call_field(d: Mapping[str, Any], key: str) -> str:
    """A per-call string field (inference_geo, speed): "" when absent or null."""
    return call_value(d.get(key), f"usage field '{key}'")


def call_value(v: Any, where: str | Callable[[], str]) -> str:
    """One value of a per-call field (inference_geo, speed; an SDK enum is read by its value):
    "" for None, else a str; TypeError naming ``where`` (or what it returns) otherwise."""
    v = getattr(v, "value", v)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise TypeError(f"{where() if callable(where) else where} must be a string (or None), "
                        f"got {type(v).__name__} {v!r}")
    return v


def _refuse_dropped(d: Mapping[str, Any], spec: ApiSemantics) -> None:
    """An OpenAI-compatible usage read with a provider's own shape (DeepSeek's, xAI's): a count
    the OpenAI shape reads that the provider's does not would be dropped (billed as text, or not at
    all); refuse it rather than misprice."""
    chat = API_SEMANTICS["openai_chat"]
    read = {spec.input_total, spec.output_total, spec.cache_write_total, *spec.input_inside.values(),
            *spec.input_on_top.values(), *spec.output_inside.values(), *spec.output_on_top.values(),
            *spec.counts.values(), *_alts_all(spec), *(spec.cache_write_split or ())}
    paths = [*chat.input_inside.values(), chat.cache_write_total, *_alts_all(chat), *chat.output_inside.values(),
             *chat.counts.values()]
    for p in paths:
        if p and p not in read and _get(d, p):
            raise ValueError(f"usage field '{p}' = {_get(d, p)} is not part of the {spec.name} usage shape this "
                             f"model's provider reports ({spec.notes}); it would be dropped. Pass api='openai_chat' "
                             "if this is an OpenAI-style usage")


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
    switched = False
    if api is None:
        api = hint or detect_api(d)
        if api == "openai_chat" and provider in API_SEMANTICS and provider in ("xai", "deepseek", "perplexity"):
            api = provider
            switched = True
    if api == "tokenops":
        unknown = set(d) - set(BUCKETS) - {"api", *CALL_FIELDS}
        if unknown:
            raise ValueError(f"unknown usage fields {sorted(unknown)}; buckets are {', '.join(BUCKETS)}")
        return Usage(**{k: _check_count(v, k) for k, v in d.items() if k in BUCKETS},
                     **{k: _call_field(d, k) for k in CALL_FIELDS})
    if api not in API_SEMANTICS:
        raise ValueError(f"unknown usage api {api!r}; known: {', '.join(API_SEMANTICS)}, tokenops")
    spec = API_SEMANTICS[api]
    if api == "gemini":
        d = {_SNAKE.get(k, k): v for k, v in d.items()}
    if api == "xai":
        spec = _xai_spec(d, spec)
    if switched or api == "deepseek":
        # DeepSeek's own usage (prompt_cache_hit_tokens) may carry OpenAI-style details too
        _refuse_dropped(d, spec)
    _refuse_unknown_details(d, spec)
    if d and not set(d) & _primary_fields(spec):
        # e.g. api="openai_chat" on an Anthropic usage: every bucket would read 0 ($0)
        raise ValueError(
            f"usage has none of the {api} fields ({', '.join(sorted(_primary_fields(spec)))}); "
            f"got keys {sorted(d)}. Is it another API's usage? Leave api=None to detect it."
        )
    _refuse_unknown_counts(d, spec)
    out = dict.fromkeys(BUCKETS, 0)
    detail: dict[str, int] = {}
    calls = {k: _call_field(d, k) for k in CALL_FIELDS} if spec.name in ("anthropic_messages", "openai_chat") else {}
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
        _gemini(d, spec, out, detail)
    elif spec.name == "openai_realtime":
        _realtime_input(d, out, detail)
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
        out[bucket] += _count_same(d, spec, path)
    for bucket, path in spec.counts.items():
        out[bucket] += _count_same(d, spec, path)
    citation = _count(d, "citation_tokens") if spec.name == "perplexity" else 0
    if spec.total is not None and _get(d, spec.total) is not None:
        total = _count(d, spec.total)
        billed = sum(out[b] for b in INPUT_BUCKETS + OUTPUT_BUCKETS)
        if total != billed:
            raise ValueError(f"usage '{spec.total}' = {total}, but the {spec.name} counts add up to {billed} "
                             f"({spec.notes})")
    if spec.name == "openai_images" and _get(d, "input_tokens_details.text_tokens") is not None:
        # input_tokens = text_tokens + image_tokens: text is what is left after the image tokens,
        # so a text_tokens the rest cannot hold would be billed as nothing
        text_n = _count(d, "input_tokens_details.text_tokens")
        image_n = _count(d, "input_tokens_details.image_tokens")
        if text_n + image_n > _count(d, "input_tokens"):
            raise ValueError(f"usage input_tokens_details text_tokens ({text_n}) + image_tokens ({image_n}) "
                             f"exceed input_tokens ({_count(d, 'input_tokens')}); {spec.notes}")
    if spec.name == "deepseek" and _get(d, "prompt_cache_miss_tokens") is not None and \
            _get(d, "prompt_tokens") is not None:
        hit, miss = out["cache_read"], _count(d, "prompt_cache_miss_tokens")
        if hit + miss != _count(d, "prompt_tokens"):
            raise ValueError(f"usage prompt_cache_hit_tokens ({hit}) + prompt_cache_miss_tokens ({miss}) != "
                             f"prompt_tokens ({_count(d, 'prompt_tokens')}); {spec.notes}")
    return Usage(**out, api=spec.name, detail=tuple(detail.items()), citation_tokens=citation, **calls)


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
    m = str(getattr(item, "value", item) if item is not None else "").upper()
    return m.rsplit(".", 1)[1] if "." in m else m  # "MediaModality.AUDIO" written out as a str


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


def _gemini(d: Mapping[str, Any], spec: ApiSemantics, out: dict[str, int], detail: dict[str, int]) -> None:
    """Gemini input (promptTokenCount, with its cached part and AUDIO / IMAGE modalities) and
    output (candidatesTokenCount, or the Live API's responseTokenCount, with its IMAGE / AUDIO
    modalities). TEXT, VIDEO, DOCUMENT and unnamed modalities are text (VIDEO counted in
    ``detail``); cached AUDIO tokens are cache_read_audio."""
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
        c_image += take
        audio -= -text - take
        c_audio += -text - take
        text = 0
    out["cache_read"] += cached - c_audio
    out["cache_read_audio"] += c_audio
    out["input_audio"] += audio
    out["input_image"] += image
    out["input_text"] += text
    video = prompt.get("VIDEO", 0) - cache.get("VIDEO", 0)
    if video > 0:
        detail["input_video"] = detail.get("input_video", 0) + min(video, text)
    if c_image:
        detail["cache_read_image"] = detail.get("cache_read_image", 0) + c_image

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
    o_video = min(cand_mod.get("VIDEO", 0), completion - o_image - o_audio)
    if o_video > 0:
        detail["output_video"] = detail.get("output_video", 0) + o_video


def _realtime_input(d: Mapping[str, Any], out: dict[str, int], detail: dict[str, int]) -> None:
    """OpenAI Realtime input: input_tokens = text + audio + image tokens; cached_tokens are part of
    them (cached_tokens_details: cached text / audio / image) and billed as cache reads (cached
    audio as cache_read_audio)."""
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
    out["cache_read"] += cached - c_audio
    out["cache_read_audio"] += c_audio
    if c_image:
        detail["cache_read_image"] = detail.get("cache_read_image", 0) + c_image
    out["input_audio"] += audio_n - c_audio
    out["input_image"] += image_n - c_image
    out["input_text"] += total - audio_n - image_n - (cached - c_audio - c_image)
    if out["input_text"] < 0:
        raise ValueError(f"usage {cd}: cached text tokens exceed the {det} text tokens")


# ---------------------------------------------------------------------------------------------
# LiteLLM's own reading (mode="litellm")
# ---------------------------------------------------------------------------------------------

def _signed(d: Mapping[str, Any], path: str) -> int:
    """An integer count that may be negative (LiteLLM's Gemini adapter can write text_tokens < 0)."""
    v = _get(d, path)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        if hasattr(v, "__index__"):
            v = int(v)
        else:
            raise TypeError(f"usage field '{path}' must be an integer token count, got {type(v).__name__} {v!r}")
    if abs(v) > INT64_MAX:
        raise ValueError(f"usage field '{path}' = {v} is too large")
    return int(v)


def litellm_usage_view(usage: Any, api: str | None = None, provider: str | None = None) -> dict[str, Any] | None:
    """LiteLLM's ``Usage`` for this usage, as its cost code reads it (the counts
    ``CoreCatalog.price_litellm(view=...)`` takes), where it can differ from tokenops' buckets:

    * a raw Gemini / Vertex ``usageMetadata``: what LiteLLM's Gemini adapter
      (``VertexGeminiConfig._calculate_usage``) builds: ``prompt_tokens`` = promptTokenCount
      (toolUsePromptTokenCount left out), explicit ``text_tokens`` = TEXT + DOCUMENT (VIDEO tokens
      in no priced part), less cachedContentTokenCount under implicit caching (negative when the
      cached tokens were not text), thoughts inside candidatesTokenCount when the total says so;
    * an OpenAI-Chat-shaped usage (LiteLLM's own ``Usage``): its explicit
      ``prompt_tokens_details.text_tokens`` / ``completion_tokens_details.text_tokens``, which
      LiteLLM keeps as they are unless 0 (or double-counting cache hits).

    * DeepSeek's, xAI's and Perplexity's usage (OpenAI-compatible; ``provider`` picks the shape of
      an OpenAI-shaped one, as :func:`normalize_usage` does): LiteLLM's ``Usage`` keeps every
      OpenAI detail they carry (audio, cache writes: priced at their own rate, $0 without one);
      DeepSeek's ``prompt_cache_hit_tokens`` are its cached tokens; xAI's reasoning is on top of
      ``completion_tokens`` unless ``total_tokens`` = prompt + completion; Perplexity's
      ``citation_tokens`` and searches (``prompt_tokens_details.web_search_requests``, where its
      adapter copies ``num_search_queries``; ``server_tool_use`` is not read).

    None for other shapes (their buckets say what LiteLLM reads)."""
    if isinstance(usage, Usage):
        return None
    d, hint = _unwrap(usage)
    if api is None:
        try:
            api = hint or detect_api(d)
        except ValueError:
            return None
        if api == "openai_chat" and provider in ("xai", "deepseek", "perplexity"):
            api = provider
    if api == "gemini":
        return _litellm_gemini_view({_SNAKE.get(k, k): v for k, v in d.items()})
    if api in ("openai_chat", "xai", "deepseek", "perplexity"):
        return _litellm_chat_view(d, api)
    return None


def _litellm_chat_view(d: Mapping[str, Any], api: str = "openai_chat") -> dict[str, Any]:
    spec = API_SEMANTICS["openai_chat"]
    ptd = _get(d, "prompt_tokens_details")
    has = bool(_to_dict(ptd)) if ptd is not None else False
    # LiteLLM's Usage constructor makes prompt_tokens_details from these top-level fields too
    has = has or any(isinstance(d.get(k), int) and not isinstance(d.get(k), bool)
                     for k in ("cache_read_input_tokens", "cache_creation_input_tokens", "prompt_cache_hit_tokens"))
    w5, w1 = _cache_writes(d, spec)
    det = "completion_tokens_details"
    if api == "deepseek":  # prompt_cache_hit_tokens = cached_tokens = cache_read_input_tokens (must agree)
        cached = _count_same(d, API_SEMANTICS["deepseek"], "prompt_cache_hit_tokens")
    else:
        cached = _count_same(d, spec, "prompt_tokens_details.cached_tokens")
    prompt, completion = _count(d, "prompt_tokens"), _count(d, "completion_tokens")
    reasoning = _count(d, f"{det}.reasoning_tokens")
    if api == "perplexity" and not reasoning:  # Usage(reasoning_tokens=...) moves it into the details
        reasoning = _count(d, "reasoning_tokens")
    # Perplexity: LiteLLM's adapter copies num_search_queries (or search_queries) here
    searches = _get(d, "prompt_tokens_details.web_search_requests")
    if searches is None and api == "perplexity":
        searches = next((v for k in ("num_search_queries", "search_queries") if (v := _get(d, k)) is not None), None)
    total = _get(d, "total_tokens")
    return {
        "api": api,
        "citation_tokens": _count(d, "citation_tokens") if api in ("perplexity", "openai_chat") else 0,
        "image_count": _count(d, "prompt_tokens_details.image_count"),
        # xAI's own usage: reasoning on top of completion_tokens (LiteLLM: total_tokens != prompt + completion)
        "reasoning_on_top": api == "xai" and (_check_count(total, "total_tokens") if total is not None else 0)
        != prompt + completion,
        **{
        "prompt_tokens": prompt, "completion_tokens": completion,
        "has_prompt_details": has,
        "text_tokens": _signed(d, "prompt_tokens_details.text_tokens"),
        "cached_tokens": cached,
        "cache_write_5m": w5, "cache_write_1h": w1,
        "audio_tokens": _count(d, "prompt_tokens_details.audio_tokens"),
        "image_tokens": _count(d, "prompt_tokens_details.image_tokens"),
        "completion_text_tokens": _count(d, f"{det}.text_tokens"),
        "reasoning_tokens": reasoning,
        "completion_audio_tokens": _count(d, f"{det}.audio_tokens"),
        "completion_image_tokens": _count(d, f"{det}.image_tokens"),
        # read by LiteLLM's Perplexity calculator only (server_tool_use is not)
        "web_search": _check_count(searches, "prompt_tokens_details.web_search_requests") if searches is not None else 0,
        }}


def _litellm_gemini_view(d: Mapping[str, Any]) -> dict[str, Any]:
    """A line-by-line mirror of LiteLLM 1.85.7's VertexGeminiConfig._calculate_usage and the
    Usage constructor it calls, reduced to the counts the cost code reads."""
    def by_modality(path: str, names: Mapping[str, str]) -> dict[str, int] | None:
        n, present = _by_modality(d, path)
        if not present:
            return None
        out: dict[str, int] = {}
        for m, c in n.items():
            key = names.get(m)
            if key is not None:
                out[key] = out.get(key, 0) + c
        return out

    cached = _count(d, "cachedContentTokenCount") if _get(d, "cachedContentTokenCount") is not None else None
    response_tokens = _count(d, "responseTokenCount")
    rtd: dict[str, int] | None = None
    resp = by_modality("responseTokensDetails", {"TEXT": "text", "AUDIO": "audio", "DOCUMENT": "text"})
    if resp is not None:
        rtd = resp
    cand_det = by_modality("candidatesTokensDetails", {"TEXT": "text", "AUDIO": "audio", "IMAGE": "image",
                                                       "VIDEO": "video", "DOCUMENT": "text"})
    if cand_det is not None:
        rtd = rtd if rtd is not None else {}
        for k, v in cand_det.items():
            rtd[k] = rtd.get(k, 0) + v
    cand = _count(d, "candidatesTokenCount")
    if cand > 0:
        rtd = rtd if rtd is not None else {}
        if "text" not in rtd:
            rtd["text"] = cand - rtd.get("image", 0) - rtd.get("audio", 0) - rtd.get("video", 0)
    names = {"AUDIO": "audio", "TEXT": "text", "IMAGE": "image", "VIDEO": "video", "DOCUMENT": "text"}
    prompt = by_modality("promptTokensDetails", names) or {}
    cache_det = by_modality("cacheTokensDetails", names)
    cache = cache_det or {}
    p_text, p_audio, p_image = prompt.get("text"), prompt.get("audio"), prompt.get("image")
    if "text" in cache and p_text is not None:
        p_text -= cache["text"]
    elif cached is not None and p_text is not None and cache_det is None:
        p_text -= cached  # implicit caching: LiteLLM takes every cached token from the text
    if "audio" in cache and p_audio is not None:
        p_audio -= cache["audio"]
    if "image" in cache and p_image is not None:
        p_image -= cache["image"]
    reasoning = _count(d, "thoughtsTokenCount") if _get(d, "thoughtsTokenCount") is not None else None
    if reasoning is not None:
        rtd = rtd if rtd is not None else {}
        rtd["reasoning"] = reasoning
    completion = response_tokens or cand
    inclusive = _count(d, "promptTokenCount") + cand == _count(d, "totalTokenCount")
    if not inclusive and reasoning:
        completion = reasoning + completion
    if reasoning and rtd is not None and "text" not in rtd:  # Usage(reasoning_tokens=...) fills it in
        rtd["text"] = max(0, completion - reasoning - rtd.get("image", 0) - rtd.get("audio", 0))
    rtd = rtd or {}
    return {
        "prompt_tokens": _count(d, "promptTokenCount"), "completion_tokens": completion,
        "has_prompt_details": True,  # the adapter always sets prompt_tokens_details
        "text_tokens": p_text or 0, "cached_tokens": cached or 0, "cache_write_5m": 0, "cache_write_1h": 0,
        "audio_tokens": p_audio or 0, "image_tokens": p_image or 0,
        "completion_text_tokens": rtd.get("text", 0) or 0, "reasoning_tokens": rtd.get("reasoning", 0) or 0,
        "completion_audio_tokens": rtd.get("audio", 0) or 0, "completion_image_tokens": rtd.get("image", 0) or 0,
        "web_search": 0,
    }
