"""mode="litellm" is bit-for-bit LiteLLM: every chat model of the installed LiteLLM's own price
JSON x a grid of usage shapes x service tiers, compared with litellm.cost_per_token; plus the
worked examples of LiteLLM issues #15945 and #9812 and completion_cost() on real responses."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # price from the bundled JSON, no network
litellm = pytest.importorskip("litellm")
import tokenops
from litellm.types.utils import Usage as LUsage
from tokenops.pricing import BUCKETS, Catalog

# LiteLLM's provider lookup for these starts an OAuth device login (network): not a pricing path.
_NEEDS_LOGIN = ("github_copilot", "chatgpt")

GRID = [
    {"input_text": 1200, "output_text": 300},  # plain
    {"input_text": 4262, "cache_read": 4864, "output_text": 3197},  # cached (OpenAI)
    {"input_text": 3, "cache_write_5m": 12304, "output_text": 550},  # cache write 5m (Anthropic)
    {"input_text": 100, "cache_write_5m": 1000, "cache_write_1h": 2000, "cache_read": 500, "output_text": 50},  # 5m + 1h
    {"input_text": 500, "output_text": 200, "reasoning": 1500},  # reasoning
    {"input_text": 150_000, "cache_read": 60_000, "output_text": 2000, "reasoning": 100},  # > 128k / 200k
    {"input_text": 210_000, "output_text": 1000},  # > 200k
    {"input_text": 280_000, "cache_read": 1000, "output_text": 1000},  # > 272k / 256k
    {"input_text": 100, "input_audio": 50, "input_image": 70, "output_text": 20, "output_audio": 30},  # audio / image
    {"input_text": 0, "output_text": 0},  # empty
]
TIERS = [None, "flex", "priority", "batch"]


def litellm_usage(d: dict[str, int]) -> LUsage:
    """The LiteLLM Usage object for tokenops buckets (OpenAI-style totals: cached ⊂ prompt)."""
    prompt = sum(d.get(b, 0) for b in BUCKETS[:7])
    completion = sum(d.get(b, 0) for b in BUCKETS[7:11])
    ptd: dict = {}
    if d.get("cache_read"):
        ptd["cached_tokens"] = d["cache_read"]
    w5, w1 = d.get("cache_write_5m", 0), d.get("cache_write_1h", 0)
    if w5 or w1:
        ptd["cache_creation_tokens"] = w5 + w1
        if w1:
            ptd["cache_creation_token_details"] = {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}
    if d.get("input_audio"):
        ptd["audio_tokens"] = d["input_audio"]
    if d.get("input_image"):
        ptd["image_tokens"] = d["input_image"]
    ctd: dict = {}
    for b, k in (("reasoning", "reasoning_tokens"), ("output_audio", "audio_tokens"), ("output_image", "image_tokens")):
        if d.get(b):
            ctd[k] = d[b]
    return LUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                  prompt_tokens_details=ptd or None, completion_tokens_details=ctd or None)


def litellm_cost(model: str, d: dict[str, int], tier: str | None) -> tuple[float, float]:
    if tier == "batch":
        return litellm.cost_per_token(model=model, usage_object=litellm_usage(d), call_type="retrieve_batch")
    return litellm.cost_per_token(model=model, usage_object=litellm_usage(d), service_tier=tier)


@pytest.fixture(scope="module")
def installed() -> Catalog:
    return Catalog.from_installed_litellm(strict=True)


def test_every_chat_model_bit_for_bit(installed: Catalog) -> None:
    names = [k for k, v in litellm.model_cost.items()
             if v.get("mode") == "chat" and v.get("litellm_provider") not in _NEEDS_LOGIN]
    assert len(names) > 1500
    routable, unroutable = [], []
    for k in names:
        try:
            litellm.cost_per_token(model=k, prompt_tokens=1, completion_tokens=1)
            routable.append(k)
        except Exception:  # noqa: BLE001 - LiteLLM raises bare Exception for unmapped models
            unroutable.append(k)
    # LiteLLM itself cannot cost a few of its own keys (its get_llm_provider rejects them).
    assert len(unroutable) < 0.03 * len(names), unroutable
    compared = 0
    mismatches = []
    for k in routable:
        for g in GRID:
            counts = tokenops.Usage(**g)
            for tier in TIERS:
                want = litellm_cost(k, g, tier)
                got = tokenops.cost(k, counts, mode="litellm", catalog=installed, service_tier=tier or "standard")
                compared += 1
                if (got.prompt, got.completion, got.total) != (want[0], want[1], want[0] + want[1]):
                    mismatches.append((k, g, tier, want, (got.prompt, got.completion), got.route))
    assert not mismatches, f"{len(mismatches)} of {compared} differ; first: {mismatches[:5]}"
    assert compared > 50_000


def test_issue_15945_gpt5_cached_prompt(installed: Catalog) -> None:
    usage = {"prompt_tokens": 9126, "completion_tokens": 3197, "total_tokens": 12323,
             "prompt_tokens_details": {"cached_tokens": 4864}}
    r = tokenops.cost("gpt-5", usage, mode="litellm", catalog=installed)
    assert r.total == 0.03790550000000001  # the value quoted in the issue, bit for bit
    p, c = litellm.cost_per_token(model="gpt-5", usage_object=LUsage(**usage))
    assert r.total == p + c
    exact = tokenops.cost("gpt-5", usage, mode="exact", catalog=installed)
    assert str(exact.total_exact) == "0.0379055"


def test_issue_9812_anthropic_cache_creation(installed: Catalog) -> None:
    usage = {"input_tokens": 3, "cache_creation_input_tokens": 12304, "cache_read_input_tokens": 0,
             "output_tokens": 550}
    exact = tokenops.cost("claude-3-7-sonnet-20250219", usage, mode="exact", catalog=installed)
    assert str(exact.total_exact) == "0.054399"  # Anthropic's billing console in the issue
    lit = tokenops.cost("claude-3-7-sonnet-20250219", usage, mode="litellm", catalog=installed)
    want = litellm.cost_per_token(model="claude-3-7-sonnet-20250219", usage_object=LUsage(
        prompt_tokens=12307, completion_tokens=550, total_tokens=12857, cache_creation_input_tokens=12304,
        cache_read_input_tokens=0))
    assert lit.total == want[0] + want[1] == 0.054399


@pytest.mark.parametrize("model,usage", [
    ("gpt-4o", {"input_text": 1000, "cache_read": 1024, "output_text": 200}),
    ("claude-sonnet-4-5", {"input_text": 10, "cache_write_5m": 2000, "cache_read": 3000, "output_text": 400}),
    ("gemini/gemini-2.5-pro", {"input_text": 250_000, "output_text": 1000, "reasoning": 500}),
    ("deepseek/deepseek-chat", {"input_text": 700, "cache_read": 300, "output_text": 50}),
])
def test_completion_cost_on_model_response(installed: Catalog, model: str, usage: dict[str, int]) -> None:
    from litellm import ModelResponse

    resp = ModelResponse(model=model, usage=litellm_usage(usage))
    want = litellm.completion_cost(completion_response=resp, model=model)
    got = tokenops.cost(model, tokenops.Usage(**usage), mode="litellm", catalog=installed)
    assert got.total == want


def test_exact_mode_fixes_litellm_gaps(installed: Catalog) -> None:
    # LiteLLM prices 1-hour cache writes at $0 where the JSON lacks the field; exact mode refuses.
    name = next(k for k, v in litellm.model_cost.items()
                if "claude" in k and v.get("cache_creation_input_token_cost") and
                not v.get("cache_creation_input_token_cost_above_1hr") and v.get("litellm_provider") == "anthropic")
    u = tokenops.Usage(input_text=10, cache_write_1h=100_000)
    lit = tokenops.cost(name, u, mode="litellm", catalog=installed)
    assert lit.total == pytest.approx(10 * litellm.model_cost[name]["input_cost_per_token"])
    with pytest.raises(ValueError, match="cache_write_1h"):
        tokenops.cost(name, u, mode="exact", catalog=installed)


# ------------------------------------------------------------------ real LiteLLM Usage / ModelResponse objects

def _provider_usages() -> list[tuple[str, str, LUsage]]:
    """(label, model, usage) as LiteLLM's own provider adapters build them from raw responses."""
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig
    from litellm.llms.bedrock.chat.converse_transformation import AmazonConverseConfig
    from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig

    anth = AnthropicConfig()
    conv = AmazonConverseConfig()
    gem = VertexGeminiConfig._calculate_usage
    split = {"input_tokens": 21, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 12000,
             "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
             "output_tokens": 393}
    return [
        ("anthropic 5m+1h writes", "claude-opus-4-5", anth.calculate_usage(split, None)),
        ("anthropic 5m+1h writes, no 1h price", "claude-sonnet-4-5", anth.calculate_usage(split, None)),
        ("anthropic writes, no split", "claude-sonnet-4-5", anth.calculate_usage(
            {k: v for k, v in split.items() if k != "cache_creation"}, None)),
        ("anthropic only 5m", "claude-haiku-4-5", anth.calculate_usage(
            dict(split, cache_creation={"ephemeral_5m_input_tokens": 3000, "ephemeral_1h_input_tokens": 0}), None)),
        ("anthropic no cache", "anthropic/claude-3-7-sonnet-20250219",
         anth.calculate_usage({"input_tokens": 1500, "output_tokens": 200}, None)),
        ("anthropic above 200k", "claude-sonnet-4-5", anth.calculate_usage(
            {"input_tokens": 190_000, "cache_creation_input_tokens": 20_000, "cache_read_input_tokens": 5000,
             "output_tokens": 100}, None)),
        ("bedrock converse cache", "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0", conv._transform_usage(
            {"inputTokens": 500, "outputTokens": 100, "totalTokens": 2600, "cacheReadInputTokens": 1000,
             "cacheWriteInputTokens": 1000})),
        ("bedrock converse no cache", "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
         conv._transform_usage({"inputTokens": 500, "outputTokens": 100, "totalTokens": 600})),
        ("gemini cached + thoughts", "gemini/gemini-2.5-pro", gem({"usageMetadata": {
            "promptTokenCount": 12000, "candidatesTokenCount": 800, "totalTokenCount": 13900,
            "cachedContentTokenCount": 8000, "thoughtsTokenCount": 1100,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12000}]}})),
        ("gemini plain", "gemini/gemini-2.5-flash", gem({"usageMetadata": {
            "promptTokenCount": 900, "candidatesTokenCount": 80, "totalTokenCount": 980}})),
        ("openai cached + reasoning", "gpt-5", LUsage(
            prompt_tokens=9126, completion_tokens=3197, total_tokens=12323,
            prompt_tokens_details={"cached_tokens": 4864}, completion_tokens_details={"reasoning_tokens": 1000})),
        ("openai plain", "gpt-4o", LUsage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100)),
        ("deepseek cache hit", "deepseek/deepseek-chat", LUsage(
            prompt_tokens=1200, completion_tokens=400, total_tokens=1600, prompt_cache_hit_tokens=1024,
            prompt_cache_miss_tokens=176)),
        ("litellm top-level cache fields", "claude-sonnet-4-5", LUsage(
            prompt_tokens=3000, completion_tokens=100, total_tokens=3100, cache_creation_input_tokens=1000,
            cache_read_input_tokens=1500, prompt_tokens_details={"cached_tokens": 1500})),
    ]


@pytest.mark.parametrize("tier", TIERS)
def test_real_litellm_usage_objects_bit_for_bit(installed: Catalog, tier: str | None) -> None:
    from litellm import ModelResponse

    cases = _provider_usages()
    for label, model, usage in cases:
        want = litellm_cost_obj(model, usage, tier)
        got = tokenops.cost(model, usage, mode="litellm", catalog=installed, service_tier=tier or "standard")
        assert (got.prompt, got.completion) == want, (label, tier)
        assert got.total == want[0] + want[1]
        assert sum(float(ln.cost) for ln in got.lines) == pytest.approx(got.total, rel=1e-12, abs=0)
        if tier is None:  # completion_cost on the whole response, handed to tokenops as is
            resp = ModelResponse(model=model, usage=usage)
            assert tokenops.cost(model, resp, mode="litellm", catalog=installed).total == \
                litellm.completion_cost(completion_response=resp, model=model) == got.total, label


def litellm_cost_obj(model: str, usage: LUsage, tier: str | None) -> tuple[float, float]:
    if tier == "batch":
        return litellm.cost_per_token(model=model, usage_object=usage, call_type="retrieve_batch")
    return litellm.cost_per_token(model=model, usage_object=usage, service_tier=tier)


def test_real_litellm_usage_exact_mode_bills_cache_writes(installed: Catalog) -> None:
    cases = {label: (model, usage) for label, model, usage in _provider_usages()}
    model, usage = cases["anthropic 5m+1h writes"]
    r = tokenops.cost(model, usage, catalog=installed)
    d = Decimal
    assert r.total_exact == 21 * d("0.000005") + 12000 * d("0.0000005") + 1000 * d("0.00000625") \
        + 2000 * d("0.00001") + 393 * d("0.000025")
    assert (r.usage.cache_write_5m, r.usage.cache_write_1h) == (1000, 2000)
    # LiteLLM prices those 2,000 1-hour writes at $0 where its JSON has no 1-hour price; exact refuses
    model, usage = cases["anthropic 5m+1h writes, no 1h price"]
    with pytest.raises(ValueError, match="cache_write_1h"):
        tokenops.cost(model, usage, catalog=installed)
    model, usage = cases["litellm top-level cache fields"]
    assert str(tokenops.cost(model, usage, catalog=installed).total_exact) == "0.0072"
    assert sum(litellm.cost_per_token(model=model, usage_object=usage)) == 0.0072
    for label in ("anthropic writes, no split", "bedrock converse cache", "anthropic above 200k"):
        model, usage = cases[label]
        r = tokenops.cost(model, usage, catalog=installed)
        assert r.usage.cache_write_5m == usage.prompt_tokens_details.cache_creation_tokens > 0, label
        want = sum(litellm.cost_per_token(model=model, usage_object=usage))
        assert float(r.total_exact) == pytest.approx(want, rel=1e-12), label  # LiteLLM agrees here


def test_real_litellm_usage_web_searches(installed: Catalog) -> None:
    # LiteLLM's Anthropic adapter keeps server_tool_use.web_search_requests on its Usage:
    # cost_per_token leaves the searches out (mode="litellm" follows it), completion_cost adds
    # them, and so does the exact mode (it used to drop them silently).
    from litellm import ModelResponse
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig

    model = "claude-sonnet-4-5"
    usage = AnthropicConfig().calculate_usage(
        {"input_tokens": 1000, "output_tokens": 100, "server_tool_use": {"web_search_requests": 2}}, None)
    assert tokenops.cost(model, usage, mode="litellm", catalog=installed).total == \
        sum(litellm.cost_per_token(model=model, usage_object=usage))
    r = tokenops.cost(model, usage, catalog=installed)
    assert r.usage.web_search == 2
    assert float(r.total_exact) == pytest.approx(
        litellm.completion_cost(completion_response=ModelResponse(model=model, usage=usage), model=model),
        rel=1e-12)
    assert r.total_exact > Decimal(str(sum(litellm.cost_per_token(model=model, usage_object=usage))))


def test_litellm_answers_zero_for_unmapped_batch_models_tokenops_raises(installed: Catalog) -> None:
    # LiteLLM's batch_cost_calculator swallows "This model isn't mapped yet" and answers $0;
    # at the standard tier the same model raises. tokenops raises in both (documented deviation).
    assert litellm.cost_per_token(model="jamba-1.5-large", prompt_tokens=300_000, completion_tokens=2000,
                                  call_type="retrieve_batch") == (0.0, 0.0)
    with pytest.raises(Exception, match="isn't mapped yet"):
        litellm.cost_per_token(model="jamba-1.5-large", prompt_tokens=300_000, completion_tokens=2000)
    for tier in ("standard", "batch"):
        with pytest.raises(KeyError, match=r"cannot map model .+jamba-1\.5-large"):
            tokenops.cost("jamba-1.5-large", {"input_text": 300_000, "output_text": 2000}, mode="litellm",
                          catalog=installed, service_tier=tier)


def test_bedrock_region_prefixed_names_price_as_their_regional_key(installed: Catalog) -> None:
    # "bedrock/eu.anthropic.claude-..." is LiteLLM's cross-region inference name: cost_per_token
    # prices it with the regional key "eu.anthropic.claude-...", not the base model's price.
    regions = ("us.", "eu.", "apac.", "au.", "jp.", "global.", "ca.", "us-gov.")
    keys = [k for k, v in litellm.model_cost.items()
            if v.get("mode") == "chat" and str(v.get("litellm_provider", "")).startswith("bedrock")
            and k.startswith(regions)]
    assert len(keys) > 50
    u = {"input_text": 1000, "output_text": 100}
    compared = 0
    for k in keys:
        name = "bedrock/" + k
        assert installed.resolve(name).key in (name, k), name  # some also have a bedrock/ key
        try:
            want = litellm.cost_per_token(model=name, prompt_tokens=1000, completion_tokens=100)
        except Exception:  # noqa: BLE001 - names LiteLLM cannot route
            continue
        got = tokenops.cost(name, u, mode="litellm", catalog=installed)
        assert (got.prompt, got.completion) == want, name
        compared += 1
    assert compared > 50


def test_xai_usage_with_reasoning_folded_in_by_litellm(installed: Catalog) -> None:
    # LiteLLM's Usage for xAI folds reasoning into completion_tokens (total = prompt + completion);
    # xAI's own usage reports it on top. Both must price the same 100 + 1000 output tokens.
    folded = {"prompt_tokens": 100, "completion_tokens": 1100, "total_tokens": 1200,
              "completion_tokens_details": {"reasoning_tokens": 1000}}
    raw = {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 1200,
           "completion_tokens_details": {"reasoning_tokens": 1000}}
    m = "xai/grok-3-mini"
    for usage in (folded, raw):
        want = sum(litellm.cost_per_token(model=m, usage_object=LUsage(**usage)))
        assert tokenops.cost(m, usage, catalog=installed, mode="litellm").total == want
        exact = tokenops.cost(m, LUsage(**usage), catalog=installed)
        assert (exact.usage.output_text, exact.usage.reasoning) == (100, 1000)
        assert float(exact.total_exact) == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------------ raw provider responses, read as LiteLLM reads them

_GEMINI_RAW = [  # (model, raw generateContent response): LiteLLM's Gemini adapter builds its Usage from these
    ("gemini/gemini-2.5-flash-image", {"usageMetadata": {
        "promptTokenCount": 1000, "candidatesTokenCount": 1290, "totalTokenCount": 2290,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]}}),
    ("gemini/gemini-2.5-flash-image", {"usageMetadata": {
        "promptTokenCount": 1000, "candidatesTokenCount": 1300, "thoughtsTokenCount": 40, "totalTokenCount": 2340,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400}, {"modality": "IMAGE", "tokenCount": 600}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 10}, {"modality": "IMAGE", "tokenCount": 1290}]}}),
    ("gemini/gemini-3.1-flash-live-preview", {"usageMetadata": {
        "promptTokenCount": 1200, "candidatesTokenCount": 500, "totalTokenCount": 1700,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 300}, {"modality": "IMAGE", "tokenCount": 700},
                                {"modality": "AUDIO", "tokenCount": 200}],
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 450}, {"modality": "TEXT", "tokenCount": 50}]}}),
    ("gemini/gemini-2.5-flash", {"usageMetadata": {
        "promptTokenCount": 3000, "candidatesTokenCount": 80, "cachedContentTokenCount": 1500, "totalTokenCount": 3080,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2000}, {"modality": "IMAGE", "tokenCount": 1000}]}}),
    ("gemini/gemini-2.5-pro", {"usageMetadata": {
        "promptTokenCount": 250_000, "candidatesTokenCount": 900, "thoughtsTokenCount": 300, "totalTokenCount": 251_200,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 200_000}, {"modality": "IMAGE", "tokenCount": 50_000}]}}),
]


@pytest.mark.parametrize("tier", TIERS)
def test_raw_gemini_and_converse_responses_bit_for_bit(installed: Catalog, tier: str | None) -> None:
    # tokenops reads the raw response (IMAGE / AUDIO modalities split out); LiteLLM's own adapters
    # build their Usage from the same response; the litellm-mode prices must be identical.
    from litellm.llms.bedrock.chat.converse_transformation import AmazonConverseConfig
    from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig

    cases = [(m, r, VertexGeminiConfig._calculate_usage(r)) for m, r in _GEMINI_RAW]
    converse = {"inputTokens": 500, "outputTokens": 100, "totalTokens": 2600, "cacheReadInputTokens": 1000,
                "cacheWriteInputTokens": 1000}
    cases.append(("bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0", {"usage": converse},
                  AmazonConverseConfig()._transform_usage(converse)))
    for model, raw, lusage in cases:
        want = litellm_cost_obj(model, lusage, tier)
        got = tokenops.cost(model, raw, mode="litellm", catalog=installed, service_tier=tier or "standard")
        assert (got.prompt, got.completion) == want, (model, raw, tier)
    image = tokenops.cost(*_GEMINI_RAW[0], mode="litellm", catalog=installed)
    assert image.usage.output_image == 1290 and image.total == 0.0003 + 1290 * 3e-05


# ------------------------------------------------------------------ per-call multipliers and provider quirks

def test_anthropic_inference_geo_and_speed_bit_for_bit(installed: Catalog) -> None:
    # llms/anthropic/cost_calculation.cost_per_token multiplies by provider_specific_entry
    # ({"us": 1.1, "fast": 6.0}): (prompt - cache reads/writes) x m + cache, completion x m.
    from litellm import ModelResponse
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig

    anth = AnthropicConfig()
    base = {"input_tokens": 1000, "output_tokens": 500}
    cached = {"input_tokens": 21, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 12000,
              "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
              "output_tokens": 393}
    compared = 0
    for model in ("claude-opus-4-6", "claude-opus-4-7", "anthropic/claude-opus-4-6", "claude-sonnet-4-5"):
        for raw in (base, cached, dict(base, input_tokens=190_000, cache_read_input_tokens=20_000)):
            for geo in (None, "us", "US", "global", "not_available", "eu"):
                for speed in (None, "fast", "standard"):
                    usage = dict(raw, inference_geo=geo) if geo is not None else dict(raw)
                    lusage = anth.calculate_usage(usage, None, speed=speed)
                    want = litellm.cost_per_token(model=model, usage_object=lusage)
                    # the raw Anthropic usage (speed as the response reports it) and LiteLLM's Usage
                    raw_usage = dict(usage, speed=speed) if speed is not None else usage
                    for u in (raw_usage, lusage):
                        got = tokenops.cost(model, u, mode="litellm", catalog=installed)
                        assert (got.prompt, got.completion) == want, (model, usage, speed)
                    compared += 1
    assert compared == 4 * 3 * 6 * 3
    lu = anth.calculate_usage({"input_tokens": 1000, "output_tokens": 500, "inference_geo": "us"}, None)
    got = tokenops.cost("claude-opus-4-6", lu, mode="litellm", catalog=installed)
    assert got.total == sum(litellm.cost_per_token(model="claude-opus-4-6", usage_object=lu)) == 0.019250000000000003
    assert got.total == litellm.completion_cost(completion_response=ModelResponse(model="claude-opus-4-6", usage=lu),
                                                model="claude-opus-4-6")
    assert sum(float(ln.cost) for ln in got.lines) == pytest.approx(got.total, rel=1e-12)
    assert str(tokenops.cost("claude-opus-4-6", lu, catalog=installed).total_exact) == "0.01925"


def test_deepseek_openai_shaped_usage_bit_for_bit(installed: Catalog) -> None:
    u = {"prompt_tokens": 5000, "completion_tokens": 800, "total_tokens": 5800,
         "prompt_tokens_details": {"cached_tokens": 3000}}
    for model in ("deepseek/deepseek-chat", "deepseek/deepseek-reasoner"):
        want = litellm.cost_per_token(model=model, usage_object=LUsage(**u))
        for usage in (u, LUsage(**u)):
            got = tokenops.cost(model, usage, mode="litellm", catalog=installed)
            assert (got.prompt, got.completion) == want, model
        exact = tokenops.cost(model, u, catalog=installed)
        assert exact.usage.cache_read == 3000
        assert float(exact.total_exact) == pytest.approx(sum(want), rel=1e-12)
    assert sum(litellm.cost_per_token(model="deepseek/deepseek-chat", usage_object=LUsage(**u))) == 0.00098


def test_gemini_traffic_type_as_completion_cost_maps_it(installed: Catalog) -> None:
    from litellm import ModelResponse
    from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig

    for model in ("gemini/gemini-3-pro-preview", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash"):
        for traffic in ("ON_DEMAND_PRIORITY", "ON_DEMAND", "FLEX", "BATCH", "ON_DEMAND_FLEX"):
            resp = {"usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 500, "totalTokenCount": 1500,
                                      "trafficType": traffic}}
            mr = ModelResponse(model=model, usage=VertexGeminiConfig._calculate_usage(resp))
            mr._hidden_params = {"custom_llm_provider": "gemini",
                                 "provider_specific_fields": {"traffic_type": traffic}}
            want = litellm.completion_cost(completion_response=mr, model=model)
            assert tokenops.cost(model, resp, mode="litellm", catalog=installed).total == want, (model, traffic)


_GEMINI_LITELLM_QUIRKS = [  # raw usageMetadata where LiteLLM's Usage differs from the real bill
    # VIDEO prompt tokens: LiteLLM keeps the explicit TEXT count, the 600 video tokens are priced at $0
    {"promptTokenCount": 1000, "candidatesTokenCount": 200,
     "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400}, {"modality": "VIDEO", "tokenCount": 600}]},
    # toolUsePromptTokenCount: not in LiteLLM's prompt_tokens
    {"promptTokenCount": 1000, "candidatesTokenCount": 200, "toolUsePromptTokenCount": 300},
    # implicit caching of an image prompt: LiteLLM's text_tokens = 400 - 600 = -200
    {"promptTokenCount": 1000, "candidatesTokenCount": 200, "cachedContentTokenCount": 600,
     "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400}, {"modality": "IMAGE", "tokenCount": 600}]},
    # thoughts inside candidatesTokenCount (total = prompt + candidates) and output video
    {"promptTokenCount": 900, "candidatesTokenCount": 700, "thoughtsTokenCount": 300, "totalTokenCount": 1600,
     "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 100}, {"modality": "VIDEO", "tokenCount": 300}]},
    # video and audio, explicitly cached audio, over 200k
    {"promptTokenCount": 260_000, "candidatesTokenCount": 900, "cachedContentTokenCount": 10_000,
     "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 150_000}, {"modality": "VIDEO", "tokenCount": 90_000},
                             {"modality": "AUDIO", "tokenCount": 20_000}],
     "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 10_000}]},
    # the Live API
    {"promptTokenCount": 500, "responseTokenCount": 400, "toolUsePromptTokenCount": 50,
     "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 390}, {"modality": "TEXT", "tokenCount": 10}]},
]


@pytest.mark.parametrize("tier", TIERS)
def test_gemini_video_tool_use_and_implicit_cache_quirks_bit_for_bit(installed: Catalog, tier: str | None) -> None:
    from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig

    for model in ("gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash", "gemini/gemini-3.1-flash-live-preview",
                  "vertex_ai/gemini-2.5-pro", "gemini/gemini-2.5-flash-image"):
        for um in _GEMINI_LITELLM_QUIRKS:
            lu = VertexGeminiConfig._calculate_usage({"usageMetadata": um})
            want = litellm_cost_obj(model, lu, tier)
            for usage in ({"usageMetadata": um}, lu):  # the raw response and LiteLLM's own Usage
                got = tokenops.cost(model, usage, mode="litellm", catalog=installed, service_tier=tier or "standard")
                assert (got.prompt, got.completion) == want, (model, um, tier, type(usage).__name__)
                assert sum(float(ln.cost) for ln in got.lines) == pytest.approx(got.total, rel=1e-9, abs=1e-15)
    # the reviewer's numbers
    m = "gemini/gemini-2.5-pro"
    assert tokenops.cost(m, {"usageMetadata": _GEMINI_LITELLM_QUIRKS[0]}, mode="litellm", catalog=installed).total \
        == 0.0025
    lu = VertexGeminiConfig._calculate_usage({"usageMetadata": _GEMINI_LITELLM_QUIRKS[2]})
    assert tokenops.cost(m, lu, mode="litellm", catalog=installed).total == 0.002575
    # the exact mode bills what Google bills: video at the text rate, tool-use prompt tokens as input
    exact = tokenops.cost(m, {"usageMetadata": _GEMINI_LITELLM_QUIRKS[0]}, catalog=installed)
    assert exact.total_exact == 1000 * Decimal("0.00000125") + 200 * Decimal("0.00001")
    tool = tokenops.cost(m, {"usageMetadata": _GEMINI_LITELLM_QUIRKS[1]}, catalog=installed)
    assert tool.usage.input_text == 1300


# ------------------------------------------------------------------ differential-fuzz regressions (LiteLLM 1.85.7)

def _lite(model: str, usage: dict, tier: str | None = None) -> tuple[float, float]:
    if tier == "batch":
        return litellm.cost_per_token(model=model, usage_object=LUsage(**usage), call_type="retrieve_batch")
    return litellm.cost_per_token(model=model, usage_object=LUsage(**usage), service_tier=tier)


def _same(installed: Catalog, model: str, usage: dict, tier: str | None = None) -> None:
    want = _lite(model, usage, tier)
    for u in (usage, LUsage(**usage)):
        got = tokenops.cost(model, u, mode="litellm", catalog=installed, service_tier=tier or "standard")
        assert (got.prompt, got.completion) == want, (model, usage, tier)
        assert got.total == want[0] + want[1]
        assert sum(float(ln.cost) for ln in got.lines) == pytest.approx(got.total, rel=1e-12, abs=1e-15)


_PPLX_RAW = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "citation_tokens": 500,
             "num_search_queries": 3, "reasoning_tokens": 2000}


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
     "prompt_tokens_details": {"web_search_requests": 3}},   # where LiteLLM's adapter stores the searches
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
     "server_tool_use": {"web_search_requests": 3}},         # not read by LiteLLM's Perplexity calculator
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "citation_tokens": 500},
    {"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
     "completion_tokens_details": {"reasoning_tokens": 200}},
])
@pytest.mark.parametrize("model", ["perplexity/sonar", "perplexity/sonar-deep-research"])
def test_perplexity_searches_and_citations_bit_for_bit(installed: Catalog, model: str, usage: dict) -> None:
    _same(installed, model, usage)


def test_perplexity_raw_usage_read_as_litellms_adapter_builds_it(installed: Catalog) -> None:
    # Perplexity's own usage: num_search_queries -> prompt_tokens_details.web_search_requests (the
    # adapter), citation_tokens and reasoning_tokens (on top of completion_tokens) kept
    m = "perplexity/sonar-deep-research"
    want = (0.002 + 500 * 2e-06, 100 * 8e-06 + 2000 * 3e-06 + 3 * (0.005 / 1000))
    got = tokenops.cost(m, _PPLX_RAW, mode="litellm", catalog=installed)
    assert (got.prompt, got.completion) == want
    ptd = {"web_search_requests": 3}
    assert (got.prompt, got.completion) == _lite(m, {**_PPLX_RAW, "prompt_tokens_details": ptd})
    # Perplexity's own cost object: LiteLLM returns its total_cost as the completion cost
    with_cost = {**_PPLX_RAW, "cost": {"total_cost": 0.0248}}
    got = tokenops.cost(m, with_cost, mode="litellm", catalog=installed)
    assert (got.prompt, got.completion) == _lite(m, with_cost) == (0.0, 0.0248)


def test_perplexity_exact_mode_bills_searches_citations_and_reasoning(installed: Catalog) -> None:
    r = tokenops.cost("perplexity/sonar-deep-research", _PPLX_RAW, catalog=installed)
    u = r.usage
    assert (u.input_text, u.output_text, u.reasoning, u.web_search, u.citation_tokens) == (1000, 100, 2000, 3, 500)
    # 1000 x $2/M + 100 x $8/M + 2000 x $3/M + 500 citations x $2/M + 3 searches x $5/1000
    assert r.total_exact == Decimal("0.002") + Decimal("0.0008") + Decimal("0.006") + Decimal("0.001") + Decimal("0.015")
    assert any(ln.bucket == "citation" and ln.units == 500 for ln in r.lines)
    with pytest.raises(ValueError, match="citation"):  # no citation price listed: refused, never $0
        tokenops.cost("perplexity/sonar", {"prompt_tokens": 10, "completion_tokens": 1, "citation_tokens": 5},
                      catalog=installed)


@pytest.mark.parametrize("tier", TIERS)
def test_xai_raw_reasoning_and_explicit_text_tokens(installed: Catalog, tier: str | None) -> None:
    # xAI's own usage (reasoning on top): batch_cost_calculator bills completion_tokens only
    _same(installed, "xai/grok-3-mini", {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 1200,
                                         "completion_tokens_details": {"reasoning_tokens": 1000}}, tier)
    # an explicit prompt text_tokens without cached tokens is kept (LiteLLM's double-count guard needs cache hits)
    _same(installed, "xai/grok-4", {"prompt_tokens": 2000, "completion_tokens": 10, "total_tokens": 2010,
                                    "prompt_tokens_details": {"text_tokens": 2000, "image_tokens": 1500}}, tier)


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "prompt_cache_hit_tokens": 600,
     "prompt_cache_miss_tokens": 400, "prompt_tokens_details": {"audio_tokens": 100}},
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
     "prompt_tokens_details": {"cached_tokens": 600, "audio_tokens": 100}},
    {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "prompt_cache_hit_tokens": 600,
     "prompt_cache_miss_tokens": 400, "prompt_tokens_details": {"cache_creation_tokens": 300}},
])
def test_deepseek_details_priced_as_litellm_refused_in_exact_mode(installed: Catalog, usage: dict) -> None:
    _same(installed, "deepseek/deepseek-chat", usage)
    with pytest.raises(ValueError, match="not part of the deepseek usage shape"):
        tokenops.cost("deepseek/deepseek-chat", usage, catalog=installed)


@pytest.mark.parametrize("name", ["ai21/jamba-1.5", "ai21/jamba-1.5-large@001", "ai21/jamba-mini-1.7",
                                  "azure/command-r-plus", "azure/mistral-large-2402", "azure/mistral-large-latest"])
def test_names_litellm_routes_but_cannot_price_are_refused(installed: Catalog, name: str) -> None:
    litellm.get_llm_provider(model=name)  # accepted by the provider lookup...
    with pytest.raises(Exception, match="isn't mapped yet"):  # ...but not by the price lookup
        litellm.cost_per_token(model=name, prompt_tokens=10, completion_tokens=10)
    with pytest.raises(KeyError, match="cannot map"):
        tokenops.cost(name, {"prompt_tokens": 10, "completion_tokens": 10}, mode="litellm", catalog=installed)
    tokenops.cost(name, {"prompt_tokens": 10, "completion_tokens": 10}, catalog=installed)  # exact mode prices them


def test_cohere_prefixed_chat_models_route_to_cohere_chat(installed: Catalog) -> None:
    # get_llm_provider sends "cohere/<chat model>" to cohere_chat, where it is priced (tokenops
    # refused it as unmapped)
    for name in ("cohere/command-r", "cohere/command-r-plus"):
        _same(installed, name, {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100})


@pytest.mark.parametrize("ptd", [{"image_count": 2}, {"image_count": 2, "text_tokens": 700}])
def test_image_count_keeps_text_at_zero(installed: Catalog, ptd: dict) -> None:
    _same(installed, "gemini/gemini-2.5-flash",
          {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "prompt_tokens_details": ptd})
