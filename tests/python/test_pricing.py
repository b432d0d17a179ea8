"""Price catalogue, usage normalisation (real provider response shapes), cost(), cost_batch(),
reports, the packaged catalogue and its refresh, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import tokenops
from tokenops.pricing import (
    API_SEMANTICS,
    BUCKETS,
    Catalog,
    Usage,
    cost_batch_exact_sum,
    normalize_usage,
)
from tokenops.pricing.reports import disagreement_report, litellm_gaps_report


@pytest.fixture(scope="module")
def snap(data_dir: Path) -> Catalog:
    return Catalog.from_snapshot(data_dir)


# ------------------------------------------------------------------ usage shapes (real responses)

OPENAI_CHAT = {  # Chat Completions response, gpt-4o with cached prompt and audio
    "id": "chatcmpl-abc", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
    "usage": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
              "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
}
OPENAI_RESPONSES = {  # Responses API, o-series reasoning
    "object": "response", "model": "o4-mini",
    "usage": {"input_tokens": 75, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1186,
              "output_tokens_details": {"reasoning_tokens": 1024}, "total_tokens": 1261},
}
ANTHROPIC = {  # Messages API with 5m/1h cache writes and web search
    "type": "message", "model": "claude-sonnet-4-5-20250929",
    "usage": {"input_tokens": 21, "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 12000,
              "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
              "output_tokens": 393, "server_tool_use": {"web_search_requests": 2}, "service_tier": "standard"},
}
GEMINI = {  # generateContent usageMetadata
    "usageMetadata": {"promptTokenCount": 12000, "candidatesTokenCount": 800, "totalTokenCount": 13950,
                      "cachedContentTokenCount": 8000, "thoughtsTokenCount": 1100, "toolUsePromptTokenCount": 50,
                      "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11000},
                                              {"modality": "AUDIO", "tokenCount": 1000}],
                      "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 8000}]},
}
DEEPSEEK = {"prompt_tokens": 1200, "completion_tokens": 400, "total_tokens": 1600, "prompt_cache_hit_tokens": 1024,
            "prompt_cache_miss_tokens": 176, "completion_tokens_details": {"reasoning_tokens": 250}}
XAI = {"prompt_tokens": 3000, "completion_tokens": 120, "total_tokens": 3920, "num_sources_used": 3,
       "prompt_tokens_details": {"text_tokens": 3000, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 2048},
       "completion_tokens_details": {"reasoning_tokens": 800, "audio_tokens": 0}}


def test_usage_table_declares_each_api() -> None:
    assert set(API_SEMANTICS) == {"openai_chat", "openai_responses", "openai_images", "openai_realtime",
                                  "anthropic_messages", "gemini", "bedrock_converse", "deepseek", "xai",
                                  "perplexity"}
    for spec in API_SEMANTICS.values():
        assert spec.notes


def test_openai_chat_and_responses() -> None:
    u = normalize_usage(OPENAI_CHAT)
    assert (u.api, u.input_text, u.cache_read, u.output_text) == ("openai_chat", 86, 1920, 300)
    r = normalize_usage(OPENAI_RESPONSES)
    assert (r.api, r.input_text, r.reasoning, r.output_text) == ("openai_responses", 75, 1024, 162)


def test_anthropic_split_and_server_tools() -> None:
    u = normalize_usage(ANTHROPIC)
    assert u.api == "anthropic_messages"
    assert (u.input_text, u.cache_read, u.cache_write_5m, u.cache_write_1h) == (21, 12000, 1000, 2000)
    assert (u.output_text, u.web_search) == (393, 2)
    # no split object: all writes are 5-minute writes
    plain = normalize_usage({"input_tokens": 3, "cache_creation_input_tokens": 12304, "output_tokens": 550})
    assert (plain.cache_write_5m, plain.cache_write_1h) == (12304, 0)


def test_gemini_camel_and_snake_case() -> None:
    u = normalize_usage(GEMINI)
    assert u.api == "gemini"
    assert (u.cache_read, u.input_audio, u.input_text) == (8000, 1000, 3000 + 50)
    assert (u.output_text, u.reasoning) == (800, 1100)
    snake = normalize_usage({"prompt_token_count": 100, "candidates_token_count": 20, "thoughts_token_count": 5,
                             "cached_content_token_count": 40})
    assert (snake.input_text, snake.cache_read, snake.output_text, snake.reasoning) == (60, 40, 20, 5)


def test_deepseek_and_xai() -> None:
    d = normalize_usage(DEEPSEEK)
    assert (d.api, d.input_text, d.cache_read, d.output_text, d.reasoning) == ("deepseek", 176, 1024, 150, 250)
    x = normalize_usage(XAI)
    assert (x.api, x.input_text, x.cache_read, x.output_text, x.reasoning, x.web_search) == ("xai", 952, 2048, 120, 800, 3)


def test_bad_usage_names_the_field() -> None:
    with pytest.raises(ValueError, match="prompt_tokens"):
        normalize_usage({"prompt_tokens": -5, "completion_tokens": 1})
    with pytest.raises(TypeError, match="completion_tokens"):
        normalize_usage({"prompt_tokens": 5, "completion_tokens": 1.5})
    with pytest.raises(TypeError, match="input_text"):
        Usage(input_text="12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown usage shape"):
        normalize_usage({"tokens_in": 5, "tokens_out": 1})
    with pytest.raises(ValueError, match="cached_tokens"):
        normalize_usage({"prompt_tokens": 100, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 200}})
    with pytest.raises(ValueError, match="unknown usage api"):
        normalize_usage({"prompt_tokens": 1}, api="cohere_v9")


# ------------------------------------------------------------------ lookup and catalogue


@pytest.mark.parametrize("name,key", [
    ("gpt-4o", "gpt-4o"),
    ("openai/gpt-4o", "gpt-4o"),
    ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
    ("anthropic/claude-3-7-sonnet-20250219", "claude-3-7-sonnet-20250219"),
    ("bedrock/us-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("vertex_ai/claude-3-7-sonnet@20250219", "vertex_ai/claude-3-7-sonnet@20250219"),
    ("claude-3-7-sonnet@20250219", "claude-3-7-sonnet-20250219"),
    ("azure/gpt-4o", "azure/gpt-4o"),
    ("gemini/gemini-2.5-pro", "gemini/gemini-2.5-pro"),
    # a provider-prefixed regional key is that key, not the base model its region prefix hides
    ("bedrock/eu.anthropic.claude-3-5-haiku-20241022-v1:0", "eu.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("bedrock/converse/au.anthropic.claude-sonnet-4-5-20250929-v1:0", "au.anthropic.claude-sonnet-4-5-20250929-v1:0"),
])
def test_lookup_by_the_names_users_pass(snap: Catalog, name: str, key: str) -> None:
    assert snap.resolve(name).key == key


def test_unknown_model_lists_close_matches_never_zero(snap: Catalog) -> None:
    with pytest.raises(KeyError, match="gpt-4o-mini"):
        tokenops.cost("gpt-4o-mimi", {"prompt_tokens": 10, "completion_tokens": 1}, catalog=snap)
    with pytest.raises(KeyError, match="close matches"):
        tokenops.cost("gpt-4o-mimi", {"prompt_tokens": 10, "completion_tokens": 1}, mode="litellm", catalog=snap)


def test_entry_metadata_and_rows(snap: Catalog) -> None:
    info = snap.resolve("claude-sonnet-4-5")
    assert info.provider == "anthropic" and info.context_window >= 200_000 and info.supports_prompt_caching
    assert "LiteLLM v1.83.2" in info.source and info.checked_date == "2026-04-30"
    assert snap.resolve("openai/gpt-4o").tokenizer == "o200k_base"
    tiers = {(r["tier"], r["threshold"]) for r in info.rows}
    assert ("standard", 0) in tiers and ("standard", 200_000) in tiers
    base = next(r for r in info.rows if r["tier"] == "standard" and r["threshold"] == 0)
    assert "cache_write_1h" not in base["prices"]  # a LiteLLM gap (see litellm_gaps_report)
    opus = snap.resolve("claude-opus-4-5")
    base = next(r for r in opus.rows if r["tier"] == "standard" and r["threshold"] == 0)
    assert base["prices"]["cache_write_1h"]["exact"] == "0.00001"


def test_default_catalogue_has_provenance_and_checks_sha() -> None:
    cat = Catalog.default()
    assert len(cat) > 2500 and not cat.problems
    prov = cat.provenance
    assert prov["litellm_version"] == "1.83.2" and prov["checked_date"] == "2026-04-30"
    assert prov["source_sha256"] == "ae0584b2c6865b159ae62feaa8a643b5865677ce8018a797141af67e9f0011b5"


def test_refresh_command_rebuilds_catalogue(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "pricing" / "tokencost" / "model_prices.json"  # an older LiteLLM file
    out = tmp_path / "cat"
    proc = subprocess.run([sys.executable, "-m", "tokenops", "refresh-prices", str(src), "--out", str(out),
                           "--checked-date", "2025-09-01"], capture_output=True, text=True, check=True)
    assert "wrote" in proc.stdout
    from tokenops.pricing.catalog import load_packaged

    cat = load_packaged(out)
    assert cat.provenance["checked_date"] == "2025-09-01" and "gpt-4o" in cat
    # a tampered file is refused
    data_file = out / cat.provenance["file"]
    data = data_file.read_bytes()
    data_file.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ValueError, match="sha256"):
        load_packaged(out)


def test_malformed_rows_never_take_the_catalogue_down(tmp_path: Path) -> None:
    doc = {
        "good-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6,
                       "output_cost_per_token": 2e-6},
        "string-price": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"},
        "bad-threshold": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6,
                          "input_cost_per_token_above_lots_tokens": 2e-6},
    }
    p = tmp_path / "prices.json"
    p.write_text(json.dumps(doc))
    cat = Catalog.from_litellm(p)
    assert cat.keys() == ["good-model"]
    msgs = {pr.key: pr.message for pr in cat.problems}
    assert "input_cost_per_token" in msgs["string-price"] and "cheap" in msgs["string-price"]
    assert "lots" in msgs["bad-threshold"]
    with pytest.raises(ValueError, match="string-price"):
        Catalog.from_litellm(p, strict=True)
    p.write_text("{oops")
    with pytest.raises(ValueError, match="not valid JSON"):
        Catalog.from_litellm(p)


# ------------------------------------------------------------------ cost()


def test_exact_breakdown_and_tiers(snap: Catalog) -> None:
    r = tokenops.cost("gpt-4o", OPENAI_CHAT, catalog=snap)
    assert r.mode == "exact" and isinstance(r.total_exact, Decimal)
    assert r.total_exact == Decimal(86) * Decimal("0.0000025") + 1920 * Decimal("0.00000125") + 300 * Decimal("0.00001")
    assert {ln.bucket for ln in r.lines} == {"input_text", "cache_read", "output_text"}
    lo = tokenops.cost("claude-sonnet-4-5", {"input_text": 200_000, "output_text": 10}, catalog=snap)
    hi = tokenops.cost("claude-sonnet-4-5", {"input_text": 200_001, "output_text": 10}, catalog=snap)
    assert lo.row == "standard" and hi.row == "standard >200000"
    assert hi.total_exact > 2 * lo.total_exact * Decimal("0.99")
    batch = tokenops.cost("gpt-4o", {"input_text": 1_000_000}, catalog=snap, service_tier="batch")
    assert batch.total_exact == Decimal("1.25")
    flex = tokenops.cost("gpt-5", {"input_text": 1_000_000}, catalog=snap, service_tier="flex")
    assert flex.total_exact == Decimal("0.625")
    with pytest.raises(ValueError, match="service_tier"):
        tokenops.cost("gpt-4o", {"input_text": 1}, catalog=snap, service_tier="turbo")
    with pytest.raises(ValueError, match="mode"):
        tokenops.cost("gpt-4o", {"input_text": 1}, catalog=snap, mode="approx")


def test_anthropic_response_end_to_end(snap: Catalog) -> None:
    r = tokenops.cost("anthropic/claude-opus-4-5", ANTHROPIC, catalog=snap)
    want = (21 * Decimal("0.000005") + 12000 * Decimal("0.0000005") + 1000 * Decimal("0.00000625")
            + 2000 * Decimal("0.00001") + 393 * Decimal("0.000025") + 2 * Decimal("0.01"))
    assert r.total_exact == want
    # LiteLLM's cost_per_token leaves the web-search fee out
    lit = tokenops.cost("anthropic/claude-opus-4-5", ANTHROPIC, catalog=snap, mode="litellm")
    assert lit.total == pytest.approx(float(want - 2 * Decimal("0.01")), rel=1e-12)
    # claude-sonnet-4-5 has no 1-hour write price in LiteLLM v1.83.2: exact mode refuses to guess
    with pytest.raises(ValueError, match="cache_write_1h"):
        tokenops.cost("anthropic/claude-sonnet-4-5", ANTHROPIC, catalog=snap)


def test_batch_matches_per_row_and_threads(snap: Catalog) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    cols = {"input_text": rng.integers(0, 300_000, n), "cache_read": rng.integers(0, 5000, n),
            "output_text": rng.integers(0, 4000, n), "reasoning": rng.integers(0, 2000, n)}
    models = rng.choice(["gpt-4o", "claude-sonnet-4-5", "gemini/gemini-2.5-pro", "openai/gpt-5"], n)
    for mode in ("exact", "litellm"):
        one = tokenops.cost_batch(models, cols, mode=mode, catalog=snap, num_threads=1)
        two = tokenops.cost_batch(models, cols, mode=mode, catalog=snap, num_threads=2)
        assert np.array_equal(one, two)
        for i in (0, 17, 999, n - 1):
            u = {b: int(v[i]) for b, v in cols.items()}
            assert one[i] == tokenops.cost(str(models[i]), u, mode=mode, catalog=snap).total
    exact_sum = cost_batch_exact_sum(models, cols, catalog=snap)
    assert abs(float(exact_sum) - tokenops.cost_batch(models, cols, catalog=snap).sum()) < 1e-6


def test_batch_accepts_dataframe_and_rejects_bad_columns(snap: Catalog) -> None:
    import pandas as pd

    df = pd.DataFrame({"input_text": [100, 200], "output_text": [10, 20], "note": ["a", "b"]})
    out = tokenops.cost_batch("gpt-4o", df, catalog=snap)
    assert out.shape == (2,) and out[1] > out[0]
    with pytest.raises(ValueError, match="row 1"):
        tokenops.cost_batch("gpt-4o", {"input_text": np.array([5, -1])}, catalog=snap)
    with pytest.raises(ValueError, match="not an integer"):
        tokenops.cost_batch("gpt-4o", {"input_text": np.array([5.0, 1.5])}, catalog=snap)
    with pytest.raises(ValueError, match="unknown usage column"):
        tokenops.cost_batch("gpt-4o", {"tokens": np.array([5])}, catalog=snap)
    with pytest.raises(KeyError):
        tokenops.cost_batch("no-such-model-xyz", {"input_text": np.array([5])}, catalog=snap)


# ------------------------------------------------------------------ breakdown lines

LINE_GRID = [
    {"input_text": 1200, "output_text": 300},
    {"input_text": 4262, "cache_read": 4864, "output_text": 3197},
    {"input_text": 100, "cache_write_5m": 1000, "cache_write_1h": 2000, "cache_read": 500, "output_text": 50},
    {"input_text": 500, "output_text": 200, "reasoning": 1500},
    {"input_text": 150_000, "cache_read": 60_000, "output_text": 2000, "reasoning": 100},
    {"input_text": 280_000, "cache_read": 1000, "output_text": 1000},
    {"input_text": 100, "input_audio": 50, "input_image": 70, "output_text": 20, "output_audio": 30, "output_image": 5},
    {"input_text": 10, "output_text": 5, "reasoning": 7, "web_search": 2, "request": 1},
]
LINE_TIERS = ("standard", "batch", "flex", "priority")


def _litellm_rate(fields: dict[str, float], bucket: str) -> float:
    """LiteLLM generic_cost_per_token's per-token price of a bucket (standard tier, no long-context
    tier): written out here from LiteLLM's source, independently of the C++ mirror."""
    inp = fields.get("input_cost_per_token", 0.0)
    out = fields.get("output_cost_per_token", 0.0) or fields.get("output_cost_per_image_token", 0.0)
    return {
        "input_text": inp, "cache_read": fields.get("cache_read_input_token_cost", 0.0),
        "cache_write_5m": fields.get("cache_creation_input_token_cost", 0.0),
        "cache_write_1h": fields.get("cache_creation_input_token_cost_above_1hr", 0.0),
        "input_audio": fields.get("input_cost_per_audio_token", 0.0),
        "input_image": fields.get("input_cost_per_image_token", inp), "output_text": out,
        "reasoning": fields.get("output_cost_per_reasoning_token", out),
        "output_audio": fields.get("output_cost_per_audio_token", out),
        "output_image": fields.get("output_cost_per_image_token", out),
    }[bucket]


@pytest.mark.parametrize("mode", ["exact", "litellm"])
def test_lines_add_up_to_the_total_and_count_what_they_price(snap: Catalog, mode: str) -> None:
    checked = priced_per_bucket = 0
    for key in snap.keys()[::3]:
        for g in LINE_GRID:
            u = Usage(**g)
            for tier in LINE_TIERS:
                try:
                    r = tokenops.cost(key, u, mode=mode, catalog=snap, service_tier=tier)
                except KeyError:  # LiteLLM cannot map it: refused, never $0
                    assert mode == "litellm" and snap._core.litellm_target(key)["route"] == "unmapped"
                    continue
                except ValueError as e:  # exact mode: a bucket with tokens and no price
                    assert mode == "exact" and "price" in str(e), e
                    continue
                checked += 1
                where = (key, g, tier, [(ln.bucket, ln.units, ln.cost) for ln in r.lines])
                if mode == "exact":
                    assert sum((ln.cost for ln in r.lines), Decimal(0)) == r.total_exact, where
                    units = dict.fromkeys(BUCKETS, 0)
                    for ln in r.lines:
                        units[ln.bucket] += ln.units
                    # every token in exactly one line; a request without a per-request fee has none
                    assert all(units[b] == getattr(u, b) for b in BUCKETS if b != "request" or units[b]), where
                    continue
                assert abs(sum(float(ln.cost) for ln in r.lines) - r.total) <= 1e-12 * abs(r.total), where
                assert r.lines or r.total == 0.0, where
                fine = {ln.bucket: ln for ln in r.lines if ln.bucket in BUCKETS}
                whole = {ln.bucket: ln for ln in r.lines if ln.bucket in ("prompt", "completion")}
                assert len(fine) + len(whole) == len(r.lines), where
                for b, ln in fine.items():
                    if b != "output_text":
                        assert ln.units == getattr(u, b), where
                if "prompt" in whole:  # the whole prompt side (or a flat price on every prompt token)
                    assert whole["prompt"].units == u.input_tokens, where
                if "completion" in whole:
                    assert whole["completion"].units == u.output_tokens, where
                    continue
                # per-bucket lines (LiteLLM's generic calculator): output_text holds what it prices
                # at the text rate, i.e. every output token not priced on its own line
                out_lines = [ln for b, ln in fine.items() if b in BUCKETS[7:11]]
                assert sum(ln.units for ln in out_lines) == u.output_tokens or not out_lines, where
                if tier == "standard" and r.row == "" and "prompt" not in whole:
                    fields = snap.resolve(r.model).litellm_fields  # the entry LiteLLM priced
                    for b, ln in fine.items():  # units x LiteLLM's price for that bucket
                        if b not in ("request", "web_search"):
                            assert ln.cost == pytest.approx(ln.units * _litellm_rate(fields, b), rel=1e-12,
                                                            abs=0), where
                            priced_per_bucket += 1
    assert checked > (10_000 if mode == "litellm" else 2_000), checked
    assert mode == "exact" or priced_per_bucket > 5_000


def test_litellm_lines_name_what_they_price(snap: Catalog) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
             "prompt_tokens_details": {"cached_tokens": 400}}
    r = tokenops.cost("gpt-4o", usage, mode="litellm", catalog=snap, service_tier="batch")
    f = snap.resolve("gpt-4o").litellm_fields
    assert r.total == 1000 * f["input_cost_per_token_batches"] + 100 * f["output_cost_per_token_batches"] > 0
    frame = r.to_frame()
    assert list(frame["bucket"]) == ["prompt", "completion"] and list(frame["units"]) == [1000, 100]
    assert frame["cost"].sum() == pytest.approx(r.total, rel=1e-12)
    assert frame["note"][0] == "LiteLLM batch: input_cost_per_token_batches"
    half = tokenops.cost("claude-sonnet-4-5", usage, mode="litellm", catalog=snap, service_tier="batch")
    assert half.total == 600 * 0.000003 / 2 + 400 * 0.0000003 / 2 + 100 * 0.000015 / 2
    assert [ln.units for ln in half.lines] == [1000, 100] and "half the real-time price" in half.lines[0].note
    assert sum(ln.cost for ln in half.lines) == pytest.approx(half.total, rel=1e-12)
    xai = tokenops.cost("xai/grok-3-mini", {"prompt_tokens": 1000, "completion_tokens": 100,
                                            "completion_tokens_details": {"reasoning_tokens": 500}},
                        mode="litellm", catalog=snap)
    out = next(ln for ln in xai.lines if ln.bucket == "output_text")
    rate = snap.resolve("xai/grok-3-mini").litellm_fields["output_cost_per_token"]
    assert (out.units, out.cost) == (600, 600 * rate)  # reasoning on top, priced at the output rate
    assert "500 reasoning" in out.note
    assert sum(ln.cost for ln in xai.lines) == pytest.approx(xai.total, rel=1e-12)


@pytest.mark.parametrize("model", ["jamba-1.5-large", "j2-ultra", "azure/gpt-35-turbo-instruct-0914"])
@pytest.mark.parametrize("tier", LINE_TIERS)
def test_litellm_unmapped_model_raises_in_every_tier(snap: Catalog, model: str, tier: str) -> None:
    usage = {"input_text": 300_000, "output_text": 2000}
    with pytest.raises(KeyError) as one:
        tokenops.cost(model, usage, mode="litellm", catalog=snap, service_tier=tier)
    with pytest.raises(KeyError) as many:
        tokenops.cost_batch(model, {k: [v] for k, v in usage.items()}, mode="litellm", catalog=snap,
                            service_tier=tier)
    msg = one.value.args[0]
    assert msg == many.value.args[0]
    assert f"cannot map model '{model}'" in msg and "mode='exact'" in msg
    close = msg.split("close matches LiteLLM can price: ")[1]
    assert f"'{model}'" not in close  # the name that failed is not offered as its own match
    for name in eval(close):  # noqa: S307 - a list literal we wrote
        assert snap._core.litellm_target(name)["route"] != "unmapped"
    if tier == "standard":  # the catalogue prices it: exact mode works
        assert tokenops.cost(model, usage, catalog=snap).total > 0


def test_litellm_usage_with_cache_writes_is_split(snap: Catalog) -> None:
    # LiteLLM's Usage (its Anthropic adapter): prompt_tokens = input + cache writes + cache reads.
    usage = {"prompt_tokens": 3000, "completion_tokens": 100, "total_tokens": 3100,
             "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 1500,
             "prompt_tokens_details": {"cached_tokens": 1500}}
    u = normalize_usage(usage)
    assert u.api == "openai_chat"
    assert (u.input_text, u.cache_read, u.cache_write_5m, u.cache_write_1h) == (500, 1500, 1000, 0)
    r = tokenops.cost("claude-sonnet-4-5", usage, catalog=snap)
    assert r.total_exact == 500 * Decimal("0.000003") + 1500 * Decimal("0.0000003") + 1000 * Decimal("0.00000375") \
        + 100 * Decimal("0.000015")
    split = dict(usage, prompt_tokens_details={"cached_tokens": 1500, "cache_creation_tokens": 1000,
                                               "cache_creation_token_details": {"ephemeral_5m_input_tokens": 400,
                                                                                "ephemeral_1h_input_tokens": 600}})
    s = normalize_usage(split)
    assert (s.input_text, s.cache_write_5m, s.cache_write_1h) == (500, 400, 600)
    with pytest.raises(ValueError, match="must add up to all cache writes"):
        normalize_usage(dict(split, cache_creation_input_tokens=900,
                             prompt_tokens_details=dict(split["prompt_tokens_details"], cache_creation_tokens=900)))
    with pytest.raises(ValueError, match="disagree"):
        normalize_usage(dict(usage, cache_read_input_tokens=1400))
    with pytest.raises(ValueError, match="cache_creation_input_tokens.*exceeds what is left of 'prompt_tokens'"):
        normalize_usage({"prompt_tokens": 3, "completion_tokens": 5, "cache_creation_input_tokens": 100})


# ------------------------------------------------------------------ reports


def test_reports(snap: Catalog, data_dir: Path) -> None:
    genai = Catalog.from_genai_prices(data_dir / "pricing" / "genai_prices" / "data.json")
    assert len(genai) > 1000 and not genai.problems
    assert genai.resolve("gpt-4o-2024-08-06").key == "openai/gpt-4o"  # via its match rules
    dis = disagreement_report(snap, genai)
    assert set(dis["kind"]) <= {"differs", "missing_in_litellm", "missing_in_other"}
    assert (dis["kind"] == "differs").sum() > 5
    row = dis[dis["kind"] == "differs"].iloc[0]
    assert row["litellm_usd_per_mtok"] != row["other_usd_per_mtok"]
    gaps = litellm_gaps_report(snap)
    assert {"cache_read", "cache_write_1h"} <= set(gaps["missing"])
    claude = gaps[(gaps["missing"] == "cache_write_1h")]["model"]
    assert any("claude" in m for m in claude)


def test_import_tokenops_stays_light() -> None:
    code = "import sys, tokenops; print(any(m in sys.modules for m in ('pandas', 'matplotlib', 'litellm')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_bucket_names_match_core() -> None:
    from tokenops import _core

    assert tuple(_core.cost_bucket_names()) == BUCKETS


def test_another_apis_usage_under_api_openai_chat_is_refused_not_zero() -> None:
    # An Anthropic usage carries cache_read_input_tokens / cache_creation_input_tokens, which
    # LiteLLM's Usage also has; they must not make it pass for an OpenAI Chat usage ($0).
    anth = {"input_tokens": 1200, "output_tokens": 300, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 1}}
    with pytest.raises(ValueError, match="none of the openai_chat fields"):
        tokenops.cost("claude-sonnet-4-5", anth, api="openai_chat")
    assert tokenops.cost("claude-sonnet-4-5", anth).total > 0


def test_a_cache_write_split_without_values_is_unsplit() -> None:
    u = {"prompt_tokens": 15021, "completion_tokens": 393, "cache_creation_input_tokens": 3000,
         "prompt_tokens_details": {"cached_tokens": 12000, "cache_creation_tokens": 3000,
                                   "cache_creation_token_details": {"ephemeral_5m_input_tokens": None,
                                                                    "ephemeral_1h_input_tokens": None}}}
    r = tokenops.cost("claude-opus-4-5", u)
    assert (r.usage.cache_write_5m, r.usage.cache_write_1h, r.usage.input_text) == (3000, 0, 21)


def test_genai_time_of_day_price_is_labelled_not_silently_discounted(data_dir: Path) -> None:
    genai = Catalog.from_genai_prices(data_dir / "pricing" / "genai_prices" / "data.json", strict=True)
    r = tokenops.cost("deepseek/deepseek-reasoner", {"input_text": 10**6, "output_text": 10**6}, catalog=genai)
    # the 00:30-16:30 UTC (standard) price, not the off-peak discount (0.135 / 0.55 per Mtok)
    assert str(r.total_exact) == "2.74"
    assert all("time of day is not modelled" in line.row for line in r.lines)


def test_litellm_mode_refuses_counts_a_float64_cannot_hold(snap: Catalog) -> None:
    with pytest.raises(ValueError, match="2\\^53"):
        tokenops.cost("gpt-4o", {"output_text": 2**63 - 1}, mode="litellm", catalog=snap)
    with pytest.raises(ValueError, match="row 1"):
        tokenops.cost_batch("gpt-4o", {"output_text": np.array([5, 2**60])}, mode="litellm", catalog=snap)
    assert tokenops.cost("gpt-4o", {"output_text": 2**63 - 1}, catalog=snap).total_exact > 0


def test_mixed_usage_and_non_str_batch_model_names_are_refused(snap: Catalog) -> None:
    with pytest.raises(ValueError, match="mixes tokenops bucket names"):
        tokenops.cost("gpt-4o", {"input_text": 1, "prompt_tokens": 2}, catalog=snap)
    for names in ([b"gpt-4o", "gpt-4o"], [1, 2]):
        with pytest.raises(TypeError, match="row 0"):
            tokenops.cost_batch(names, {"input_text": np.array([1, 2])}, catalog=snap)


def test_prices_default_to_todays_row_not_one_dated_ahead(data_dir: Path) -> None:
    import datetime as dt

    genai = Catalog.from_genai_prices(data_dir / "pricing" / "genai_prices" / "data.json")
    u = {"input_text": 10**6}
    m = "google/gemini-3.6-flash"  # 0.75 / Mtok, 1.5 from 2027-01-01 in this data
    assert str(tokenops.cost(m, u, catalog=genai, date="2026-06-01").total_exact) == "0.75"
    assert str(tokenops.cost(m, u, catalog=genai, date="2027-06-01").total_exact) == "1.5"
    today = dt.datetime.now(dt.timezone.utc).date()
    assert tokenops.cost(m, u, catalog=genai).total_exact == tokenops.cost(m, u, catalog=genai, date=today).total_exact


def test_price_files_with_unreachable_names_or_sub_atto_prices_are_problems(tmp_path: Path) -> None:
    p = tmp_path / "prices.json"
    p.write_text(json.dumps({
        "": {"litellm_provider": "openai", "input_cost_per_token": 1e-6},
        "a\u0000b": {"litellm_provider": "openai", "input_cost_per_token": 1e-6},
        "tiny": {"litellm_provider": "openai", "input_cost_per_token": 1e-25, "output_cost_per_token": 1e-6},
        "ok": {"litellm_provider": "openai", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
    }), encoding="utf-8")
    cat = Catalog.from_litellm(p)
    assert len(cat) == 1 and {pr.key for pr in cat.problems} == {"", "a\u0000b", "tiny"}
    assert any("below 1e-18" in pr.message for pr in cat.problems)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float16 column warned "overflow encountered in cast"
        out = tokenops.cost_batch("ok", {"input_text": np.array([3, 5], dtype=np.float16)}, catalog=cat)
    assert list(out) == [3e-06, 5e-06]


# ------------------------------------------------------------------ review fixes: usage shapes and tiers

D = Decimal


def test_gemini_candidate_modalities_are_priced_as_image_and_audio_output(snap: Catalog) -> None:
    # A Gemini image model's 1,290 IMAGE candidate tokens are output_image (3e-5), not output text.
    resp = {"usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 1290, "totalTokenCount": 2290,
                              "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]}}
    r = tokenops.cost("gemini/gemini-2.5-flash-image", resp, catalog=snap)
    assert (r.usage.output_image, r.usage.output_text) == (1290, 0)
    assert r.total_exact == 1000 * D("0.0000003") + 1290 * D("0.00003") == D("0.039")
    u = normalize_usage({"usageMetadata": {
        "promptTokenCount": 100, "candidatesTokenCount": 900, "thoughtsTokenCount": 7,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 500}, {"modality": "AUDIO", "tokenCount": 300},
                                    {"modality": "TEXT", "tokenCount": 100}]}})
    assert (u.output_image, u.output_audio, u.output_text, u.reasoning) == (500, 300, 100, 7)
    # the Live API names the same counts responseTokenCount / responseTokensDetails
    live = normalize_usage({"promptTokenCount": 10, "responseTokenCount": 400,
                            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 390}]})
    assert (live.output_audio, live.output_text) == (390, 10)
    with pytest.raises(ValueError, match="exceed 'candidatesTokenCount'"):
        normalize_usage({"promptTokenCount": 1, "candidatesTokenCount": 10,
                         "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 11}]})


def test_gemini_prompt_images_are_input_image_less_their_cached_part() -> None:
    u = normalize_usage({"promptTokenCount": 3000, "candidatesTokenCount": 1, "cachedContentTokenCount": 1200,
                         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000},
                                                 {"modality": "IMAGE", "tokenCount": 1500},
                                                 {"modality": "AUDIO", "tokenCount": 500}],
                         "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 700},
                                                {"modality": "IMAGE", "tokenCount": 500}]})
    assert (u.input_text, u.input_image, u.input_audio, u.cache_read) == (300, 1000, 500, 1200)
    # implicit caching without cacheTokensDetails: cached tokens beyond the text are image tokens
    v = normalize_usage({"promptTokenCount": 3000, "candidatesTokenCount": 1, "cachedContentTokenCount": 1200,
                         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000},
                                                 {"modality": "IMAGE", "tokenCount": 2000}]})
    assert (v.input_text, v.input_image, v.cache_read) == (0, 1800, 1200)


class _MediaModality(str, __import__("enum").Enum):  # stands in for google.genai.types.MediaModality
    TEXT = "TEXT"
    AUDIO = "AUDIO"
    IMAGE = "IMAGE"


def test_google_genai_sdk_modality_enums() -> None:
    assert str(_MediaModality.AUDIO) == "MediaModality.AUDIO" or str(_MediaModality.AUDIO).endswith(".AUDIO")
    raw = {"prompt_token_count": 1100, "candidates_token_count": 600,
           "prompt_tokens_details": [{"modality": _MediaModality.TEXT, "token_count": 100},
                                     {"modality": _MediaModality.AUDIO, "token_count": 1000}],
           "candidates_tokens_details": [{"modality": _MediaModality.IMAGE, "token_count": 600}]}
    u = normalize_usage(raw)
    assert (u.input_audio, u.input_text, u.output_image, u.output_text) == (1000, 100, 600, 0)
    from pydantic import BaseModel

    class ModalityTokenCount(BaseModel):
        modality: _MediaModality
        token_count: int

    class UsageMetadata(BaseModel):
        prompt_token_count: int
        candidates_token_count: int
        prompt_tokens_details: list[ModalityTokenCount]
        candidates_tokens_details: list[ModalityTokenCount]

    class GenerateContentResponse(BaseModel):
        usage_metadata: UsageMetadata

    sdk = GenerateContentResponse(usage_metadata=UsageMetadata(**raw))
    assert normalize_usage(sdk) == u
    assert normalize_usage(sdk.usage_metadata, api="gemini") == u


def test_dashscope_and_volcengine_bands_price_the_whole_request_by_its_input(snap: Catalog) -> None:
    # qwen3-max: (0, 32k] 1.2/6, (32k, 128k] 2.4/12, (128k, 252k] 3/15 USD per M (input / output)
    r = tokenops.cost("dashscope/qwen3-max", {"input_text": 100_000, "output_text": 1000}, catalog=snap)
    assert r.total_exact == 100_000 * D("0.0000024") + 1000 * D("0.000012") == D("0.252")
    assert r.row == "band 32000-128000" and {ln.row for ln in r.lines} == {"band 32000-128000"}
    # LiteLLM prices each count through the bands progressively; mode="litellm" still does
    lit = tokenops.cost("dashscope/qwen3-max", {"input_text": 100_000, "output_text": 1000}, catalog=snap,
                        mode="litellm")
    assert lit.total == 0.20759999999999998
    edge = tokenops.cost("dashscope/qwen3-max", {"input_text": 32_000, "output_text": 100}, catalog=snap)
    assert edge.total_exact == 32_000 * D("0.0000012") + 100 * D("0.000006")
    past = tokenops.cost("dashscope/qwen3-max", {"input_text": 31_000, "cache_read": 1001, "reasoning": 10},
                         catalog=snap)  # the band counts every input token, cached ones too
    assert past.row == "band 32000-128000"
    assert past.total_exact == 32_001 * D("0.0000024") + 10 * D("0.000012")
    assert any("input rate" in n for n in past.notes) and any("output rate" in n for n in past.notes)
    over = tokenops.cost("dashscope/qwen3-max", {"input_text": 260_000}, catalog=snap)
    assert over.total_exact == 260_000 * D("0.000003") and "upper bound" in over.notes[0]
    v = tokenops.cost("volcengine/doubao-seed-2-0-pro-260215", {"input_text": 40_000, "output_text": 2000},
                      catalog=snap)
    assert v.total_exact == 40_000 * D("0.0000007") + 2000 * D("0.0000035")
    assert cost_batch_exact_sum("dashscope/qwen3-max", {"input_text": [100_000], "output_text": [1000]},
                                         catalog=snap) == D("0.252")
    assert snap.resolve("dashscope/qwen3-max").rows[0]["mode"] == "band"


def test_image_prompt_tokens_without_an_image_price_use_the_text_rate(snap: Catalog) -> None:
    # LiteLLM's Gemini Usage reports image tokens apart; gemini-2.5-flash lists no image price.
    u = {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"image_tokens": 500}}
    r = tokenops.cost("gemini/gemini-2.5-flash", u, catalog=snap)
    assert r.total_exact == 1000 * D("0.0000003") + 10 * D("0.0000025")
    line = next(ln for ln in r.lines if ln.bucket == "input_image")
    assert line.units == 500 and "input text rate" in line.note and line.note in r.notes
    # above 200k the image tokens are repriced with the text (long-context rate)
    big = {"prompt_tokens": 250_000, "completion_tokens": 0, "prompt_tokens_details": {"image_tokens": 50_000}}
    assert tokenops.cost("gemini/gemini-2.5-pro", big, catalog=snap).total_exact == 250_000 * D("0.0000025")
    assert cost_batch_exact_sum("gemini/gemini-2.5-pro", {"input_text": [200_000], "input_image": [50_000]},
                                         catalog=snap) == 250_000 * D("0.0000025")
    # audio has its own (higher) rate: a model without an audio price still refuses
    with pytest.raises(ValueError, match="input_audio"):
        tokenops.cost("gpt-4o", {"prompt_tokens": 100, "completion_tokens": 1,
                                 "prompt_tokens_details": {"audio_tokens": 50}}, catalog=snap)
    # a model that lists only a per-image price is refused, not priced per token
    with pytest.raises(ValueError, match="input_cost_per_image"):
        tokenops.cost("xai/grok-2-vision-1212", {"input_text": 10, "input_image": 1000}, catalog=snap)


REALTIME = {"input_tokens": 1200, "output_tokens": 600, "total_tokens": 1800,
            "input_token_details": {"text_tokens": 200, "audio_tokens": 1000, "image_tokens": 0, "cached_tokens": 800,
                                    "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 700,
                                                              "image_tokens": 0}},
            "output_token_details": {"text_tokens": 100, "audio_tokens": 500}}


def test_openai_realtime_usage(snap: Catalog) -> None:
    u = normalize_usage(REALTIME)
    assert (u.api, u.input_text, u.input_audio, u.cache_read, u.cache_read_audio, u.output_text, u.output_audio) == \
        ("openai_realtime", 100, 300, 100, 700, 100, 500)
    r = tokenops.cost("gpt-4o-realtime-preview", REALTIME, catalog=snap)
    assert r.total_exact == (100 * D("0.000005") + 300 * D("0.00004") + 800 * D("0.0000025")
                             + 100 * D("0.00002") + 500 * D("0.00008")) == D("0.0565")
    event = {"type": "response.done", "response": {"object": "realtime.response", "usage": REALTIME}}
    assert tokenops.cost("gpt-4o-realtime-preview", event, catalog=snap).total_exact == D("0.0565")
    with pytest.raises(ValueError, match="cached_tokens_details adds up"):
        normalize_usage(dict(REALTIME, input_token_details=dict(REALTIME["input_token_details"], cached_tokens=801)))
    with pytest.raises(ValueError, match="add up to input_tokens"):
        normalize_usage(dict(REALTIME, input_tokens=1300))


def test_details_an_api_does_not_have_are_refused_not_misread() -> None:
    with pytest.raises(ValueError, match=r"input_token_details.+not part of the anthropic_messages"):
        normalize_usage(REALTIME, api="anthropic_messages")
    with pytest.raises(ValueError, match="modality_details"):
        normalize_usage({"input_tokens": 10, "output_tokens": 1, "modality_details": {"audio": 5}})
    with pytest.raises(ValueError, match="cacheDetails"):
        normalize_usage({"inputTokens": 10, "outputTokens": 1, "cacheDetails": [{"ttl": "1h", "inputTokens": 5}]})


def test_images_and_responses_image_tokens(snap: Catalog) -> None:
    img = {"input_tokens": 500, "output_tokens": 4160, "total_tokens": 4660,
           "input_tokens_details": {"text_tokens": 50, "image_tokens": 450}}
    r = tokenops.cost("gpt-image-1.5", img, catalog=snap)
    assert (r.usage.api, r.usage.input_text, r.usage.input_image, r.usage.output_image) == \
        ("openai_images", 50, 450, 4160)
    assert r.total_exact == 50 * D("0.000005") + 450 * D("0.000008") + 4160 * D("0.000032") == D("0.13697")
    # text_tokens + image_tokens past input_tokens: the text tokens would be billed as none
    # (10 input tokens, 4 text + 10 image priced 10 image and 0 text before)
    bad = {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"text_tokens": 4, "image_tokens": 10}}
    with pytest.raises(ValueError, match=r"text_tokens \(4\) \+ image_tokens \(10\) exceed input_tokens \(10\)"):
        tokenops.cost("gpt-image-1.5", bad, catalog=snap)
    split = dict(img, output_tokens_details={"text_tokens": 160, "image_tokens": 4000})
    s = normalize_usage(split)
    assert (s.output_text, s.output_image) == (160, 4000)
    resp = {"object": "response", "usage": {
        "input_tokens": 900, "input_tokens_details": {"cached_tokens": 100, "image_tokens": 300},
        "output_tokens": 700, "output_tokens_details": {"reasoning_tokens": 200, "image_tokens": 400}}}
    v = normalize_usage(resp)
    assert (v.api, v.input_text, v.cache_read, v.input_image, v.output_text, v.reasoning, v.output_image) == \
        ("openai_responses", 500, 100, 300, 100, 200, 400)


def test_a_responses_service_tier_is_priced_and_checked(snap: Catalog) -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    flex = {"object": "chat.completion", "service_tier": "flex", "usage": usage}
    r = tokenops.cost("gpt-5", flex, catalog=snap)
    assert r.service_tier == "flex" and r.total_exact == 1000 * D("0.000000625") + 100 * D("0.000005")
    assert tokenops.cost("gpt-5", flex, catalog=snap, service_tier="flex").total_exact == r.total_exact
    default = tokenops.cost("gpt-5", dict(flex, service_tier="default"), catalog=snap)
    assert default.service_tier == "standard" and default.total_exact == D("0.00225")
    with pytest.raises(ValueError, match="contradicts the response"):
        tokenops.cost("gpt-5", flex, catalog=snap, service_tier="standard")
    with pytest.raises(ValueError, match="scale"):
        tokenops.cost("gpt-5", dict(flex, service_tier="scale"), catalog=snap)
    anth = {"type": "message", "usage": {"input_tokens": 1000, "output_tokens": 100, "service_tier": "batch"}}
    b = tokenops.cost("vertex_ai/claude-sonnet-4-5", anth, catalog=snap)
    assert b.service_tier == "batch" and b.total_exact == 1000 * D("0.0000015") + 100 * D("0.0000075")
    with pytest.raises(ValueError, match="contradicts"):
        tokenops.cost("vertex_ai/claude-sonnet-4-5", anth["usage"], catalog=snap, service_tier="priority")
    assert tokenops.cost("gpt-5", usage, catalog=snap).service_tier == "standard"
    assert tokenops.cost("gpt-5", flex, catalog=snap, service_tier="auto").service_tier == "flex"
    assert tokenops.cost("gpt-5", dict(flex, service_tier="auto"), catalog=snap).service_tier == "standard"


def test_bedrock_converse_usage(snap: Catalog) -> None:
    usage = {"inputTokens": 100, "outputTokens": 50, "totalTokens": 1150, "cacheReadInputTokens": 800,
             "cacheWriteInputTokens": 200}
    want = 100 * D("0.0000008") + 800 * D("0.00000008") + 200 * D("0.000001") + 50 * D("0.000004")
    for u in (usage, {"output": {}, "stopReason": "end_turn", "usage": usage}):
        r = tokenops.cost("anthropic.claude-3-5-haiku-20241022-v1:0", u, catalog=snap)
        assert (r.usage.api, r.usage.input_text, r.usage.cache_read, r.usage.cache_write_5m, r.usage.output_text) == \
            ("bedrock_converse", 100, 800, 200, 50)
        assert r.total_exact == want
    with pytest.raises(ValueError, match="totalTokens"):
        normalize_usage(dict(usage, totalTokens=350))


# ------------------------------------------------------------------ per-call multipliers, provider quirks

def test_anthropic_inference_geo_and_fast_mode_multiply_the_bill(snap: Catalog) -> None:
    # Anthropic bills US-only inference (usage.inference_geo "us") at 1.1x and fast mode
    # (usage.speed "fast") at 6x every token price, cache reads and writes included.
    resp = {"type": "message", "model": "claude-opus-4-6",
            "usage": {"input_tokens": 1000, "output_tokens": 500, "inference_geo": "us"}}
    for cat in (snap, Catalog.default()):  # the shipped catalogue keeps provider_specific_entry
        r = tokenops.cost("claude-opus-4-6", resp, catalog=cat)
        assert r.total_exact == D("1.1") * (1000 * D("0.000005") + 500 * D("0.000025")) == D("0.01925")
        assert (r.usage.inference_geo, r.usage.speed) == ("us", "")
        assert all("x1.1 (inference_geo 'us')" in ln.note for ln in r.lines)
        assert tokenops.cost("claude-opus-4-6", resp, catalog=cat, mode="litellm").total == 0.019250000000000003
    both = {"input_tokens": 100, "cache_read_input_tokens": 1000, "output_tokens": 10, "inference_geo": "US",
            "speed": "fast"}
    r = tokenops.cost("claude-opus-4-6", both, catalog=snap)
    assert r.total_exact == D("6.6") * (100 * D("0.000005") + 1000 * D("0.0000005") + 10 * D("0.000025"))
    for geo in ("global", "not_available", None):
        plain = tokenops.cost("claude-opus-4-6", {"input_tokens": 1000, "output_tokens": 500, "inference_geo": geo},
                              catalog=snap)
        assert plain.total_exact == D("0.0175")
    # a model whose entry lists no multiplier is refused, not priced at 1x
    with pytest.raises(ValueError, match="lists no 'us' multiplier"):
        tokenops.cost("claude-sonnet-4-5", {"input_tokens": 1, "output_tokens": 1, "inference_geo": "us"}, catalog=snap)
    with pytest.raises(TypeError, match="inference_geo"):
        tokenops.cost("claude-opus-4-6", {"input_tokens": 1, "output_tokens": 1, "inference_geo": 7}, catalog=snap)
    # bucket dicts and Usage objects carry them too
    u = Usage(input_text=1000, output_text=500, inference_geo="us")
    assert tokenops.cost("claude-opus-4-6", u, catalog=snap).total_exact == D("0.01925")
    assert tokenops.cost("claude-opus-4-6", {"input_text": 1000, "output_text": 500, "speed": "fast"},
                         catalog=snap).total_exact == D("0.105")



def test_cost_batch_applies_inference_geo_and_speed_columns(snap: Catalog) -> None:
    # A log with Anthropic's per-call fields: cost_batch prices each row as cost() prices the
    # same usage (the columns were ignored: rows billed at 1.1x / 6x came out at 1x).
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"model": ["claude-opus-4-6", "claude-opus-4-6", "claude-opus-4-6", "claude-sonnet-4-5",
                                 "claude-opus-4-6"],
                       "input_text": [1000, 2000, 100, 300, 50], "cache_read": [0, 0, 1000, 0, 5],
                       "output_text": [100, 200, 10, 30, 7],
                       "inference_geo": ["us", None, "US", "global", float("nan")],
                       "speed": ["", "fast", "fast", None, "standard"]})
    for mode in ("exact", "litellm"):
        got = tokenops.cost_batch(df["model"], df, mode=mode, catalog=snap)
        want = [tokenops.cost(m, {"input_text": int(a), "cache_read": int(c), "output_text": int(o),
                                  **({"inference_geo": g} if isinstance(g, str) else {}),
                                  **({"speed": s} if isinstance(s, str) else {})}, catalog=snap, mode=mode).total
                for m, a, c, o, g, s in zip(df.model, df.input_text, df.cache_read, df.output_text,
                                            df.inference_geo, df.speed)]
        assert got.tolist() == want, mode
    assert tokenops.cost_batch("claude-opus-4-6", df.iloc[:2], catalog=snap).tolist() == [
        float(D("1.1") * (1000 * D("0.000005") + 100 * D("0.000025"))), float(6 * (2000 * D("0.000005") + 200 * D("0.000025")))]
    assert cost_batch_exact_sum("claude-opus-4-6", df.iloc[:1], catalog=snap) == D("0.00825")
    # a mapping of columns works alike; a multiplier the entry lacks and a non-string value are refused
    cols = {"input_text": [1000], "output_text": [100], "speed": ["fast"]}
    assert tokenops.cost_batch("claude-opus-4-6", cols, catalog=snap)[0] == float(6 * D("0.0075"))
    with pytest.raises(ValueError, match="lists no 'us' multiplier"):
        tokenops.cost_batch("claude-sonnet-4-5", {"input_text": [1], "inference_geo": ["us"]}, catalog=snap)
    with pytest.raises(TypeError, match="'inference_geo' row 1 must be a string"):
        tokenops.cost_batch("claude-opus-4-6", {"input_text": [1, 2], "inference_geo": ["us", 7]}, catalog=snap)
    with pytest.raises(ValueError, match="'speed' has 2 rows, expected 1"):
        tokenops.cost_batch("claude-opus-4-6", {"input_text": [1], "speed": ["fast", "fast"]}, catalog=snap)

def test_deepseek_openai_shaped_usage_reads_its_cached_tokens(snap: Catalog) -> None:
    # An OpenAI-compatible client keeps only prompt_tokens_details.cached_tokens; DeepSeek's own
    # prompt_cache_hit_tokens is the same count.
    u = {"prompt_tokens": 5000, "completion_tokens": 800, "total_tokens": 5800,
         "prompt_tokens_details": {"cached_tokens": 3000}}
    r = tokenops.cost("deepseek/deepseek-chat", u, catalog=snap)
    assert (r.usage.api, r.usage.input_text, r.usage.cache_read) == ("deepseek", 2000, 3000)
    assert r.total_exact == 2000 * D("0.00000028") + 3000 * D("0.000000028") + 800 * D("0.00000042") == D("0.00098")
    assert tokenops.cost("deepseek/deepseek-chat", u, catalog=snap, mode="litellm").total == 0.00098
    both = dict(u, prompt_cache_hit_tokens=3000, prompt_cache_miss_tokens=2000)
    assert tokenops.cost("deepseek/deepseek-chat", both, catalog=snap).total_exact == D("0.00098")
    with pytest.raises(ValueError, match="disagree"):
        normalize_usage(dict(both, prompt_cache_hit_tokens=2999, prompt_cache_miss_tokens=2001))
    with pytest.raises(ValueError, match="prompt_cache_miss_tokens"):
        normalize_usage(dict(both, prompt_cache_miss_tokens=1000))
    # a count DeepSeek's shape has no place for is refused, not dropped
    with pytest.raises(ValueError, match="cache_creation_tokens.+dropped"):
        tokenops.cost("deepseek/deepseek-chat", dict(u, prompt_tokens_details={"cached_tokens": 3000,
                                                                              "cache_creation_tokens": 100}),
                      catalog=snap)
    # xAI: LiteLLM's top-level cache_read_input_tokens is the same count as cached_tokens
    x = normalize_usage({"prompt_tokens": 3000, "completion_tokens": 100, "cache_read_input_tokens": 2048},
                        provider="xai")
    assert (x.api, x.input_text, x.cache_read) == ("xai", 952, 2048)


def test_gemini_traffic_type_prices_its_tier(snap: Catalog) -> None:
    m = "gemini/gemini-3-pro-preview"
    resp = {"usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 500, "totalTokenCount": 1500,
                              "trafficType": "ON_DEMAND_PRIORITY"}}
    r = tokenops.cost(m, resp, catalog=snap)
    assert r.service_tier == "priority" and r.total_exact == D("0.0144")
    assert tokenops.cost(m, resp, catalog=snap, mode="litellm").total == 0.0144
    assert tokenops.cost(m, resp["usageMetadata"], catalog=snap).service_tier == "priority"
    snake = {"usage_metadata": {"prompt_token_count": 1000, "candidates_token_count": 500,
                                "traffic_type": "ON_DEMAND_PRIORITY"}}
    assert tokenops.cost(m, snake, catalog=snap).total_exact == D("0.0144")
    with pytest.raises(ValueError, match="contradicts"):
        tokenops.cost(m, resp, catalog=snap, service_tier="standard")
    on_demand = {"usageMetadata": dict(resp["usageMetadata"], trafficType="ON_DEMAND")}
    assert tokenops.cost(m, on_demand, catalog=snap).service_tier == "standard"
    # Provisioned Throughput is billed by subscription: refused, like OpenAI's "scale"
    with pytest.raises(ValueError, match="PROVISIONED_THROUGHPUT"):
        tokenops.cost(m, {"usageMetadata": dict(resp["usageMetadata"], trafficType="PROVISIONED_THROUGHPUT")},
                      catalog=snap)
    # LiteLLM's completion_cost maps only ON_DEMAND_PRIORITY (and FLEX / BATCH); mode="litellm" follows it
    flex = {"usageMetadata": dict(resp["usageMetadata"], trafficType="ON_DEMAND_FLEX")}
    assert tokenops.cost(m, flex, catalog=snap, mode="litellm").service_tier == "standard"
    with pytest.raises(ValueError, match="no flex price row"):  # Google bills flex; the catalogue has no flex price
        tokenops.cost(m, flex, catalog=snap)


def test_cached_audio_is_its_own_bucket(data_dir: Path, snap: Catalog) -> None:
    g = Catalog.from_genai_prices()  # gemini-2.5-flash: cache_read_mtok 0.03, cache_audio_read_mtok 0.10
    resp = {"usageMetadata": {"promptTokenCount": 2000, "cachedContentTokenCount": 1000, "candidatesTokenCount": 1000,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 1500}, {"modality": "TEXT", "tokenCount": 500}],
            "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 1000}]}}
    r = tokenops.cost("gemini-2.5-flash", resp, catalog=g)
    assert (r.usage.cache_read, r.usage.cache_read_audio, r.usage.input_audio) == (0, 1000, 500)
    assert r.total_exact == 500 * D("0.0000003") + 500 * D("0.000001") + 1000 * D("0.0000001") \
        + 1000 * D("0.0000025") == D("0.00325")
    # a LiteLLM entry without a cached-audio price: the cache-read rate, with a note
    lit = tokenops.cost("gemini/gemini-2.5-flash", resp, catalog=snap)
    line = next(ln for ln in lit.lines if ln.bucket == "cache_read_audio")
    assert line.price_per_unit == D("0.00000003") and "cache-read rate" in line.note
    # LiteLLM prices every cache hit at its cache-read price
    assert tokenops.cost("gemini/gemini-2.5-flash", resp, catalog=snap, mode="litellm").total == \
        ((500 * 3e-07 + 1000 * 3e-08) + 500 * 1e-06) + 1000 * 2.5e-06
    # implicit caching without cacheTokensDetails: cached tokens beyond the text were audio
    v = normalize_usage({"promptTokenCount": 2000, "cachedContentTokenCount": 800, "candidatesTokenCount": 1,
                         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 500},
                                                 {"modality": "AUDIO", "tokenCount": 1500}]})
    assert (v.input_text, v.cache_read, v.cache_read_audio, v.input_audio) == (0, 500, 300, 1200)


def test_video_tokens_billed_as_text_are_noted_where_the_catalogue_prices_them(data_dir: Path) -> None:
    g = Catalog.from_genai_prices()
    info = g.resolve("gemini-3.1-flash-live-preview")
    assert "input_video" in info.unmodelled
    resp = {"usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 10,
                              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 400},
                                                      {"modality": "VIDEO", "tokenCount": 600}]}}
    r = tokenops.cost("gemini-3.1-flash-live-preview", resp, catalog=g)
    assert r.usage.detail == (("input_video", 600),)
    line = next(ln for ln in r.lines if ln.bucket == "input_text")
    assert line.units == 1000 and "600 of these are input video tokens" in line.note
    assert "input_video_mtok" in line.note and line.note in r.notes


def test_non_finite_literals_in_a_litellm_file(tmp_path: Path) -> None:
    # json.dump writes NaN / Infinity and LiteLLM's json.load reads them: the file loads, a NaN
    # price is a malformed row (skipped, named), a NaN elsewhere is ignored like any unread field.
    good = {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    doc = {"good-model": dict(good, supports_vision=float("nan")),
           "nan-price": dict(good, input_cost_per_token=float("nan")),
           "inf-price": dict(good, output_cost_per_token=float("inf"))}
    p = tmp_path / "prices.json"
    p.write_text(json.dumps(doc))
    assert "NaN" in p.read_text() and "Infinity" in p.read_text()
    cat = Catalog.from_litellm(p)
    assert cat.keys() == ["good-model"]
    msgs = {pr.key: pr.message for pr in cat.problems}
    assert "got NaN" in msgs["nan-price"] and "Infinity" in msgs["inf-price"]
    # refresh-prices refuses malformed rows (naming them), and ships a NaN-free file otherwise
    out = tmp_path / "cat"
    proc = subprocess.run([sys.executable, "-m", "tokenops", "refresh-prices", str(p), "--out", str(out),
                           "--checked-date", "2026-01-01"], capture_output=True, text=True)
    assert proc.returncode == 2 and "nan-price" in proc.stderr and "not JSON" not in proc.stderr
    p.write_text(json.dumps({"good-model": dict(good, supports_vision=float("nan"), mode=float("nan")),
                             "other": good}))
    from tokenops.pricing.catalog import load_packaged, refresh_default

    refresh_default(p, out, checked_date="2026-01-01")
    cat = load_packaged(out)
    assert len(cat) == 2 and not cat.problems
    import gzip

    assert b"NaN" not in gzip.decompress((out / cat.provenance["file"]).read_bytes())


@pytest.mark.parametrize(("model", "usage", "field"), [
    ("gpt-4o", {"prompt_tokens": 1000, "completion_token": 10}, "completion_token"),
    ("claude-sonnet-4-5", {"input_token": 1000, "output_tokens": 10}, "input_token"),
    ("claude-sonnet-4-5", {"output_tokens": 10, "cache_read_input_token": 100000}, "cache_read_input_token"),
])
def test_a_misspelled_token_count_is_refused_not_billed_at_zero(model, usage, field):
    with pytest.raises(ValueError, match=rf"'{field}' is not a .* field; did you mean '{field}s'\?"):
        tokenops.cost(model, usage)
    # counts a provider adds that are no near-miss pass as before (Moonshot's cached_tokens sits
    # inside prompt_tokens; Perplexity's citation_tokens)
    assert tokenops.cost("gpt-4o", {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010,
                                    "cached_tokens": 50, "citation_tokens": 5}).total > 0


def test_costs_beyond_int128_are_an_error_never_a_wrapped_total() -> None:
    # $20 per token x (2**63 - 1) tokens wrapped to -1.6e20 USD; 2**62 cached tokens at $2**32 too
    doc = {"m": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 20.0,
                 "output_cost_per_token": 20.0, "cache_read_input_token_cost": 4294967296.0}}
    cat = Catalog.from_litellm(json.dumps(doc).encode())
    for u in ({"prompt_tokens": 2**63 - 1, "completion_tokens": 0},
              {"prompt_tokens": 2**62, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 2**62}}):
        with pytest.raises(ValueError, match="exceeds what tokenops can represent"):
            tokenops.cost("m", u, catalog=cat)
    with pytest.raises(ValueError, match="exceeds what tokenops can represent"):
        tokenops.cost_batch("m", {"input_text": [2**63 - 1]}, catalog=cat)
    # a real price: each row fits, their exact sum does not; the rows stand, the sum is refused
    import numpy as np

    rows = {"output_text": np.full(300_000, 2**63 - 1, dtype=np.int64)}
    totals = tokenops.cost_batch("claude-3-opus-20240229", rows)
    assert (totals > 6.9e14).all() and (totals < 7e14).all()
    with pytest.raises(ValueError, match="exact grand total exceeds"):
        cost_batch_exact_sum("claude-3-opus-20240229", rows)


def test_a_provider_prefix_never_gets_another_providers_price(data_dir: Path) -> None:
    # fireworks/.../deepseek-v4-pro was priced at DeepSeek's first-party rate, bedrock/ and azure/
    # Claude names at Anthropic's; the prefix's provider is searched, and a name it lacks is an
    # error naming the other provider's entry
    g = Catalog.from_genai_prices(data_dir / "pricing" / "genai_prices" / "data.json")
    u = {"input_text": 10000, "cache_read": 5000, "output_text": 2000}
    fw = tokenops.cost("fireworks/accounts/fireworks/models/deepseek-v4-pro", u, catalog=g)
    assert fw.model.startswith("fireworks/")
    assert fw.total_exact != tokenops.cost("deepseek/deepseek-v4-pro", u, catalog=g).total_exact
    assert tokenops.cost("openai/o4-mini-deep-research-2025-06-26", u, catalog=g).model == "openai/o4-mini-deep-research"
    d = Catalog.default()
    for name in ("bedrock/claude-sonnet-4-5", "azure/claude-sonnet-4-5", "fireworks_ai/deepseek-v3"):
        with pytest.raises(KeyError, match="whose price tokenops does not substitute"):
            tokenops.cost(name, u, catalog=d)
    # same provider (or a vendor prefix that is no provider): as before; LiteLLM's cohere_chat is
    # Cohere, genai-prices' fireworks is LiteLLM's fireworks_ai
    assert tokenops.cost("openai/gpt-4o", u, catalog=d).model == "gpt-4o"
    assert tokenops.cost("cohere/command-r-plus", {"input_text": 1000, "output_text": 100}, catalog=d).model == "command-r-plus"
    assert tokenops.cost("fireworks_ai/kimi-k3", u, catalog=g).model == "fireworks/kimi-k3"
    assert tokenops.cost("vertex_ai/gemini-2.5-pro", u, catalog=d).model == "gemini-2.5-pro"
    assert tokenops.cost("bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", u, catalog=d).model == \
        "anthropic.claude-sonnet-4-5-20250929-v1:0"
    # bare names: the model's maker before resellers (Azure's o4-mini came first in the file)
    for name, key in (("o4-mini", "openai/o4-mini"), ("o1", "openai/o1"), ("grok-3", "x-ai/grok-3")):
        assert tokenops.cost(name, u, catalog=g).model == key


def test_missing_price_error_names_a_catalogue_that_has_it():
    # A user journey: claude-sonnet-4-5 with 1-hour cache writes (LiteLLM v1.83.2 lists no 1h write
    # price for it). The error said only "Add the price to the catalogue." with no way to do so;
    # genai-prices has the price, and cost() takes catalog=.
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 100,
             "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60}}
    with pytest.raises(ValueError, match="cache_write_1h") as ei:
        tokenops.cost("claude-sonnet-4-5", usage)
    assert "catalog=Catalog.from_genai_prices()" in str(ei.value)
    assert "Catalog.from_litellm(path)" in str(ei.value)
    # and the catalogue it names prices it: 10 in x $3 + 5 out x $15 + 40 5m writes x $3.75 +
    # 60 1h writes x $6 per million
    from decimal import Decimal

    from tokenops.pricing import Catalog

    r = tokenops.cost("claude-sonnet-4-5", usage, catalog=Catalog.from_genai_prices())
    assert r.total_exact == Decimal("0.000615")
