"""Cross-source price reports: where LiteLLM and genai-prices disagree, and which LiteLLM entries
have gaps (caching models without cache-read or 1-hour cache-write prices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .catalog import Catalog, ModelInfo

# genai-prices provider id -> LiteLLM providers that sell the same first-party model
_PROVIDER_MAP: dict[str, tuple[str, ...]] = {
    "openai": ("openai",),
    "anthropic": ("anthropic",),
    "google": ("gemini", "vertex_ai-language-models"),
    "deepseek": ("deepseek",),
    "x-ai": ("xai",),
    "mistral": ("mistral",),
    "groq": ("groq",),
    "cohere": ("cohere_chat", "cohere"),
    "fireworks": ("fireworks_ai",),
    "together": ("together_ai",),
    "perplexity": ("perplexity",),
    "aws": ("bedrock", "bedrock_converse"),
    "azure": ("azure",),
}
_COMPARED = ("input_text", "output_text", "cache_read", "cache_write_5m", "cache_write_1h")


def _base_prices(info: ModelInfo, threshold: int = 0) -> dict[str, Decimal]:
    rows = [r for r in info.rows if r["tier"] == "standard" and r["mode"] == "cliff" and r["threshold"] == threshold]
    if not rows:
        return {}
    row = max(rows, key=lambda r: r["effective_from"])
    return {b: Decimal(p["exact"]) for b, p in row["prices"].items()}


def _litellm_match(lite: Catalog, provider: str, model_id: str) -> ModelInfo | None:
    wanted = _PROVIDER_MAP.get(provider)
    if not wanted:
        return None
    prefixes = {"gemini": "gemini/", "xai": "xai/", "deepseek": "deepseek/", "mistral": "mistral/",
                "groq": "groq/", "fireworks_ai": "fireworks_ai/", "together_ai": "together_ai/",
                "perplexity": "perplexity/", "azure": "azure/", "anthropic": "", "openai": "", "cohere_chat": "",
                "cohere": "", "bedrock": "", "bedrock_converse": "", "vertex_ai-language-models": ""}
    for p in wanted:
        for cand in (prefixes.get(p, "") + model_id, model_id):
            idx = lite._core.find_key(cand)
            if idx is not None:
                info = lite._info(int(idx))
                if info.provider == p:
                    return info
    return None


def disagreement_report(litellm: Catalog | None = None, other: Catalog | None = None) -> Any:
    """Rows where LiteLLM and genai-prices price the same model differently (USD per million).

    Models are paired by provider and model id; each standard-tier bucket is compared exactly.
    ``kind`` is "differs" (both priced, different numbers), "missing_in_litellm" or
    "missing_in_other".
    """
    import pandas as pd

    lite = litellm if litellm is not None else Catalog.from_snapshot()
    gen = other if other is not None else Catalog.from_genai_prices()
    rows = []
    million = Decimal(10) ** 6  # USD per token -> USD per million tokens
    for info in gen.entries():
        provider, _, model_id = info.key.partition("/")
        li = _litellm_match(lite, provider, model_id)
        if li is None:
            continue
        a, b = _base_prices(li), _base_prices(info)
        for bucket in _COMPARED:
            pa, pb = a.get(bucket), b.get(bucket)
            if pa is None and pb is None:
                continue
            if pa is not None and pb is not None and pa == pb:
                continue
            kind = "differs" if pa is not None and pb is not None else (
                "missing_in_litellm" if pa is None else "missing_in_other")
            rows.append({
                "model": li.key, "other_model": info.key, "bucket": bucket, "kind": kind,
                "litellm_usd_per_mtok": float(pa * million) if pa is not None else None,
                "other_usd_per_mtok": float(pb * million) if pb is not None else None,
                "ratio": float(pa / pb) if pa is not None and pb else None,
            })
    return pd.DataFrame(rows, columns=["model", "other_model", "bucket", "kind", "litellm_usd_per_mtok",
                                       "other_usd_per_mtok", "ratio"])


def litellm_gaps_report(litellm: Catalog | None = None) -> Any:
    """LiteLLM chat entries that support prompt caching but lack a cache-read price, or (for
    Claude models, which bill 1-hour cache writes at 2x input) a 1-hour cache-write price —
    where LiteLLM bills those tokens at $0."""
    import pandas as pd

    lite = litellm if litellm is not None else Catalog.from_snapshot()
    rows = []
    for info in lite.entries():
        if info.mode not in ("chat", "responses"):
            continue
        prices = _base_prices(info)
        if not prices:
            continue
        caches = info.supports_prompt_caching or "cache_read" in prices or "cache_write_5m" in prices
        if not caches:
            continue
        missing = []
        if "cache_read" not in prices:
            missing.append("cache_read")
        if "claude" in info.key.lower():
            if "cache_write_5m" not in prices:
                missing.append("cache_write_5m")
            if "cache_write_1h" not in prices:
                missing.append("cache_write_1h")
        for m in missing:
            rows.append({"model": info.key, "provider": info.provider, "missing": m,
                         "supports_prompt_caching": info.supports_prompt_caching})
    return pd.DataFrame(rows, columns=["model", "provider", "missing", "supports_prompt_caching"])
