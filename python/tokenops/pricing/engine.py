"""``tokenops.cost``: what a call costs, in two modes.

``mode="exact"`` prices the normalised usage with tokenops' price rows in integer atto-USD
(1e-18 USD) and returns an exact :class:`decimal.Decimal` total; it fixes LiteLLM's known bugs
(see ``docs/cost.md``) and never returns a silent $0: a bucket with tokens but no price raises.

``mode="litellm"`` reproduces ``litellm.cost_per_token`` / ``completion_cost`` bit for bit
(float64, LiteLLM's operation order, its provider routing and its bugs) over the same price JSON.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from .._args import INT64_MAX, check_threads
from .catalog import Catalog, check_model_name
from .usage import (BUCKETS, CALL_FIELDS, call_value, DETAIL_KINDS, INPUT_BUCKETS, Usage, _to_dict, _unwrap, litellm_usage_view,
                    normalize_usage, response_service_tier)

_MODES = ("litellm", "exact")


@dataclass(frozen=True)
class CostLine:
    bucket: str
    units: int
    price_per_unit: Decimal | float | None  # exact Decimal (exact mode) or float (litellm)
    cost: Decimal | float
    row: str = ""
    note: str = ""


@dataclass(frozen=True)
class CostBreakdown:
    """The cost of one call: total, its split by bucket, and which price row applied."""

    model: str  # the catalogue key that priced it
    requested: str  # the name that was passed
    matched_by: str
    mode: str
    service_tier: str
    total: float
    total_exact: Decimal | None
    prompt: float | None
    completion: float | None
    lines: list[CostLine]
    row: str  # price row / tier label ("standard", "standard >200000", "above_200k_tokens"...)
    route: str = ""  # litellm: which provider cost function LiteLLM dispatches to
    usage: Usage | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __float__(self) -> float:
        return self.total

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [
                {"bucket": ln.bucket, "units": ln.units, "price_per_unit": ln.price_per_unit,
                 "cost": float(ln.cost), "row": ln.row, "note": ln.note}
                for ln in self.lines
            ]
        )

    def __str__(self) -> str:
        tot = str(self.total_exact) if self.total_exact is not None else repr(self.total)
        head = f"{self.requested} -> {self.model} [{self.mode}, {self.service_tier}, {self.row or 'base'}]: ${tot}"
        body = "\n".join(f"  {ln.bucket:<15}{ln.units:>12,}  ${ln.cost}  {ln.note}".rstrip() for ln in self.lines)
        return head + ("\n" + body if body else "")


def today_days() -> int:
    """Today's date (UTC) as days since 1970-01-01: the day prices default to."""
    return (_dt.datetime.now(_dt.timezone.utc).date() - _dt.date(1970, 1, 1)).days


def _date_days(when: Any) -> int:
    if when is None:
        # today's prices: a catalogue row that only takes effect later (genai-prices dates some
        # announced changes ahead) must not price today's traffic
        return today_days()
    if isinstance(when, str):
        from .._core import parse_iso_date

        return int(parse_iso_date(when, "date"))
    if isinstance(when, _dt.datetime):
        when = when.date()
    if isinstance(when, _dt.date):
        return (when - _dt.date(1970, 1, 1)).days
    raise TypeError(f"date must be None, an ISO string or a datetime.date, not {type(when).__name__}")


def _check_tier(service_tier: Any) -> None:
    if not isinstance(service_tier, str):
        raise TypeError(f"service_tier must be a str (standard, batch, flex, priority), not "
                        f"{type(service_tier).__name__}")


def _call_tier(usage: Any, service_tier: str, mode: str = "exact") -> str:
    """The tier a call is priced at: ``service_tier``, or for "auto" the tier the response names
    (standard when it names none). An explicit tier that contradicts the response's is a ValueError."""
    served = response_service_tier(usage, mode)
    if service_tier == "auto":
        return served or "standard"
    if served is not None and served != service_tier:
        raise ValueError(f"service_tier={service_tier!r} contradicts the response, which was served at the "
                         f"{served!r} tier; leave service_tier out to use the response's")
    return service_tier


def _check_mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'litellm' or 'exact', not {mode!r}")
    return mode


def _catalog_for(mode: str, catalog: Catalog | None) -> Catalog:
    cat = catalog if catalog is not None else Catalog.default()
    if mode == "litellm" and cat.kind != "litellm":
        # LiteLLM's calculator reads LiteLLM's fields; on another catalogue every price is absent
        # and it would answer $0.
        raise ValueError(
            f"mode='litellm' reproduces LiteLLM's cost calculator and needs a LiteLLM catalogue "
            f"(Catalog.default(), from_litellm, from_installed_litellm); this one is {cat.kind!r}: "
            "use mode='exact'"
        )
    return cat


def cost(model: str, usage: Any, mode: str = "exact", catalog: Catalog | None = None, *,
         service_tier: str = "auto", api: str | None = None, date: Any = None) -> CostBreakdown:
    """Prices one call.

    ``usage`` is a provider usage object or whole response (OpenAI Chat/Responses/Images/Realtime,
    Anthropic Messages, Gemini/Vertex ``usageMetadata``, Bedrock Converse, DeepSeek, xAI), a dict
    of tokenops buckets, or a :class:`Usage`. ``service_tier`` is standard, batch, flex or
    priority; the default, ``"auto"``, is the tier the response names (OpenAI's ``service_tier``,
    Anthropic's ``usage.service_tier``), else standard, and an explicit tier that contradicts the
    response's is a ValueError. ``date`` selects the price rows in effect on that day (default:
    today, UTC).
    """
    _check_mode(mode)
    _check_tier(service_tier)
    if not isinstance(usage, Usage):
        usage = _to_dict(usage)  # once: a pydantic response is dumped for the tier and the counts
    service_tier = _call_tier(usage, service_tier, mode)
    cat = _catalog_for(mode, catalog)
    check_model_name(model)
    info = None
    provider = None
    if mode == "exact":
        info = cat.resolve(model)
        provider = info.provider
    provider = provider or _provider_hint(model)
    if mode == "exact":
        u = normalize_usage(usage, api=api, provider=provider)
        assert info is not None
        idx, how = cat._core.resolve(model)
        total_s, lines, row = cat._core.price_exact(idx, u.counts(), service_tier, _date_days(date),
                                                    u.inference_geo, u.speed)
        total = Decimal(total_s)
        cl = [CostLine(b, n, Decimal(p), Decimal(c), r, note) for b, n, p, c, r, note in lines]
        cl = _detail_notes(cl, u, info.unmodelled)
        if u.citation_tokens:
            line = _citation_line(cat, idx, info, u.citation_tokens, service_tier)
            cl.append(line)
            total += line.cost
        prompt = float(sum((ln.cost for ln in cl if ln.bucket in INPUT_BUCKETS + ("citation",)), Decimal(0)))
        completion = float(total) - prompt
        return CostBreakdown(model=info.key, requested=model, matched_by=how, mode=mode, service_tier=service_tier,
                             total=float(total), total_exact=total, prompt=prompt, completion=completion, lines=cl,
                             row=row, usage=u, source=info.source,
                             notes=list(dict.fromkeys(ln.note for ln in cl if ln.note)))
    target = _litellm_target(cat, model, service_tier)
    # LiteLLM's own reading of a Gemini usageMetadata or an OpenAI-shaped (LiteLLM) Usage, where
    # it differs from tokenops' buckets (see litellm_usage_view)
    u: Usage | None
    try:
        u, err = normalize_usage(usage, api=api, provider=provider), None
    except ValueError as e:
        u, err = None, e
    view = litellm_usage_view(usage, api if api is not None else (u.api if u is not None else None),
                              provider=provider)
    if u is None and view is not None and view.get("api") in _OPENAI_COMPATIBLE:
        # A count DeepSeek's / xAI's / Perplexity's own usage does not have (audio, cache writes...)
        # is refused by exact mode; LiteLLM's Usage holds it and prices it: the view says how, the
        # OpenAI reading of the buckets only labels the lines.
        try:
            u = normalize_usage(usage, api="openai_chat")
        except ValueError:
            u = None
    if u is None:
        # LiteLLM's Gemini adapter writes a negative text_tokens under implicit caching of a
        # non-text prompt; its Usage is priced as it is (tokenops' buckets cannot hold it)
        if view is None or (view["text_tokens"] >= 0 and view.get("api") not in _OPENAI_COMPATIBLE):
            assert err is not None
            raise err
        u = _usage_of_view(view, usage)
    if target["route"] == "perplexity" and service_tier != "batch":
        own = _perplexity_total_cost(usage)
        if own is not None:  # LiteLLM returns Perplexity's own usage.cost.total_cost as it is
            note = "LiteLLM Perplexity: usage.cost.total_cost, as Perplexity reported it (no catalogue price)"
            entry = cat._core.entry(int(target["index"]))
            return CostBreakdown(model=entry["key"], requested=model, matched_by="litellm", mode=mode,
                                 service_tier=service_tier, total=0.0 + own, total_exact=None, prompt=0.0,
                                 completion=own, lines=[CostLine("completion", u.output_tokens, None, own,
                                                                 service_tier, note)],
                                 row=service_tier, route="perplexity", usage=u,
                                 source=cat.provenance.get("source", ""), notes=[note])
    r = cat._core.price_litellm(model, u.counts(), service_tier, view, u.inference_geo, u.speed)
    entry = cat._core.entry(int(r["index"]))
    cl = _litellm_lines(r, u, target, entry["litellm_fields"], view)
    return CostBreakdown(model=entry["key"], requested=model, matched_by="litellm", mode=mode,
                         service_tier=service_tier, total=r["total"], total_exact=None, prompt=r["prompt"],
                         completion=r["completion"], lines=cl, row=r["tier"], route=r["route"], usage=u,
                         source=cat.provenance.get("source", ""),
                         notes=list(dict.fromkeys(ln.note for ln in cl if ln.note)))


_OPENAI_COMPATIBLE = ("xai", "deepseek", "perplexity")


def _perplexity_total_cost(usage: Any) -> float | None:
    """Perplexity's own ``usage.cost.total_cost`` (LiteLLM's Perplexity calculator returns it as
    the completion cost, prompt 0, when it is there); None when the usage carries none."""
    if isinstance(usage, Usage):
        return None
    d, _ = _unwrap(usage)
    c = d.get("cost") if isinstance(d, Mapping) else None
    if not isinstance(c, dict) or c.get("total_cost") is None:
        return None
    return float(c["total_cost"])


def _citation_line(cat: Catalog, idx: int, info: Any, n: int, service_tier: str) -> CostLine:
    """Exact mode: Perplexity's citation tokens at the model's citation price (LiteLLM
    ``citation_cost_per_token``, genai-prices ``output_citation_mtok``); a ValueError where the
    catalogue lists none or the tier is not standard (never $0)."""
    entry = cat._core.entry(idx)
    price: Decimal | None = None
    field = ""
    um = (info.unmodelled or {}).get("output_citation")
    if um:
        price, field = Decimal(um["exact"]), um["field"]
    elif "citation_cost_per_token" in entry["litellm_fields"]:
        price, field = Decimal(repr(entry["litellm_fields"]["citation_cost_per_token"])), "citation_cost_per_token"
    if price is None or service_tier != "standard":
        why = "lists no citation price" if price is None else f"lists a citation price for the standard tier only"
        raise ValueError(f"usage has {n} citation_tokens but the catalogue entry {info.key!r} {why} "
                         f"({service_tier} tier); tokenops never prices them at $0")
    return CostLine("citation", n, price, price * n, service_tier, f"Perplexity citation tokens ({field})")


def _litellm_target(cat: Catalog, model: str, service_tier: str) -> Mapping[str, Any]:
    """How LiteLLM routes ``model``; the KeyError of :func:`_litellm_unmapped` if it cannot."""
    target = cat._core.litellm_target(model)
    if target["route"] == "unmapped":
        raise _litellm_unmapped(cat, model, target, service_tier)
    return target


def _litellm_unmapped(cat: Catalog, model: str, target: Mapping[str, Any], service_tier: str) -> KeyError:
    """The KeyError for a name LiteLLM's ``cost_per_token`` cannot map (it raises "This model isn't
    mapped yet"). LiteLLM's batch path swallows that error and answers $0; tokenops raises in every
    tier, from ``cost`` and ``cost_batch`` alike."""
    provider = target.get("provider") or ""
    where = f"provider {provider!r}" if provider else "no provider matches it"
    msg = (f"LiteLLM cannot map model {model!r} ({where}): its cost_per_token raises "
           "\"This model isn't mapped yet\", so mode='litellm' has no LiteLLM price to reproduce")
    if service_tier == "batch":
        msg += " (for batch, LiteLLM's batch_cost_calculator swallows that error and answers $0; tokenops does not)"
    same = {model.lower()}
    try:
        info = cat.resolve(model)
    except KeyError:
        info = None
    if info is not None:
        same.add(info.key.lower())
        msg += f". The catalogue lists it as {info.key!r} (provider {info.provider!r})"
        msg += f", but LiteLLM looks it up under provider {provider!r}" if provider else ""
        msg += ": price it with mode='exact'"
    # Suggest only names LiteLLM can map, never the name that failed.
    close = [k for k in cat.close_matches(model, 25)
             if k.lower() not in same and cat._core.litellm_target(k)["route"] != "unmapped"][:5]
    msg += f"; close matches LiteLLM can price: {close}" if close else "; no close match LiteLLM can price"
    return KeyError(msg)


# LiteLLM routes that price the prompt and the completion each as a whole (no per-bucket parts).
_WHOLE_ROUTE_NOTES = {
    "simple": "LiteLLM prices every token of this side at the base price (no cache, reasoning or audio rates)",
    "vertex": "LiteLLM Vertex _handle_128k_pricing: every token of this side at one price (cache, reasoning "
              "and audio rates ignored)",
    "vertex(cost_per_character)": "LiteLLM Vertex _handle_128k_pricing: every token of this side at one price "
                                  "(cache, reasoning and audio rates ignored)",
    "dashscope": "LiteLLM DashScope: this side priced through its tiered bands (cache reads and reasoning "
                 "at their band rates)",
    "perplexity": "LiteLLM Perplexity: every token of this side at the base price",
    "zero": "LiteLLM's cost_per_token prices this model at $0 per token",
    "azure(per second)": "LiteLLM's cost_per_token prices this model per second, not per token: $0 for tokens",
    "per second": "LiteLLM's cost_per_token prices this model per second/unit, not per token: $0 for tokens",
}


def _detail_notes(lines: list[CostLine], u: Usage, unmodelled: Mapping[str, Any]) -> list[CostLine]:
    """Exact mode: tokens billed inside a bucket (Gemini VIDEO prompt tokens in input_text...) get
    a note on that bucket's line where the catalogue lists a price of their own, which tokenops
    does not model (genai-prices' input_video_mtok...)."""
    if not u.detail or not unmodelled:
        return lines
    notes: dict[str, list[str]] = {}
    for kind, n in u.detail:
        price = unmodelled.get(kind)
        if not price:
            continue
        bucket = DETAIL_KINDS[kind]
        notes.setdefault(bucket, []).append(
            f"{n} of these are {kind.replace('_', ' ')} tokens, billed at the {bucket} rate; the catalogue lists "
            f"{price['field']} = {price['exact']} USD per token, which tokenops does not model")
    out = []
    for ln in lines:
        extra = notes.pop(ln.bucket, None)
        if extra:
            ln = CostLine(ln.bucket, ln.units, ln.price_per_unit, ln.cost, ln.row,
                          "; ".join(([ln.note] if ln.note else []) + extra))
        out.append(ln)
    return out


def _usage_of_view(view: Mapping[str, Any], raw: Any) -> Usage:
    """Buckets for a LiteLLM Usage that tokenops' normaliser refuses (its text_tokens < 0): its
    parts as they are, text 0."""
    d = _to_dict(raw)
    geo, speed = (d.get(k) if isinstance(d, Mapping) else None for k in ("inference_geo", "speed"))
    return Usage(input_audio=view["audio_tokens"], input_image=view["image_tokens"], cache_read=view["cached_tokens"],
                 cache_write_5m=view["cache_write_5m"], cache_write_1h=view["cache_write_1h"],
                 output_text=max(0, view["completion_tokens"] - view["reasoning_tokens"]
                                 - view["completion_audio_tokens"] - view["completion_image_tokens"]),
                 reasoning=view["reasoning_tokens"], output_audio=view["completion_audio_tokens"],
                 output_image=view["completion_image_tokens"], api="openai_chat",
                 inference_geo=geo if isinstance(geo, str) else "", speed=speed if isinstance(speed, str) else "")


def _litellm_lines(r: Mapping[str, Any], u: Usage, target: Mapping[str, Any],
                   fields: Mapping[str, float], view: Mapping[str, Any] | None = None) -> list[CostLine]:
    """Breakdown lines of a LiteLLM-mode price whose costs add up to the total and whose units are
    the tokens each line prices. Where LiteLLM's generic calculator ran, one line per bucket; where
    LiteLLM prices a side as a whole (batch, Vertex 128k, simple, per-second...), one ``prompt`` and
    one ``completion`` line carrying all the tokens of that side."""
    parts: Mapping[str, float] = r["parts"]
    units: Mapping[str, int] = r.get("units", {})
    tier = r["tier"]
    n = u.as_dict()
    prompt_units = view["prompt_tokens"] if view is not None else u.input_tokens
    completion_units = view["completion_tokens"] if view is not None else u.output_tokens
    mult_note = f"x{r['multiplier']!r} (LiteLLM's Anthropic inference_geo / speed multiplier)" \
        if r.get("multiplier", 1.0) != 1.0 else ""
    lines: list[CostLine] = []
    if not parts:
        prompt, completion = r["prompt"], r["completion"]
        if tier == "batch":  # cost_calculator.batch_cost_calculator
            half = "half the real-time price"
            p_note = ("LiteLLM batch: input_cost_per_token_batches" if "input_cost_per_token_batches" in fields
                      else f"LiteLLM batch: {half} (cache reads at half the cache-read price)")
            c_note = ("LiteLLM batch: output_cost_per_token_batches" if "output_cost_per_token_batches" in fields
                      else f"LiteLLM batch: {half}")
            return [CostLine("prompt", prompt_units, None, prompt, tier, p_note),
                    CostLine("completion", completion_units, None, completion, tier, c_note)]
        note = _WHOLE_ROUTE_NOTES.get(r["route"], f"LiteLLM {r['route']} path: this side priced as a whole")
        extra: list[CostLine] = []
        if r["route"] == "perplexity":
            reasoning = view["reasoning_tokens"] if view is not None else u.reasoning
            searches = view["web_search"] if view is not None else u.web_search
            citations = view.get("citation_tokens", 0) if view is not None else u.citation_tokens
            rate = fields.get("output_cost_per_reasoning_token")
            if reasoning and rate is not None:
                extra.append(CostLine("reasoning", reasoning, rate, reasoning * rate, tier,
                                      "LiteLLM Perplexity bills reasoning tokens at output_cost_per_reasoning_token, "
                                      "on top of completion_tokens"))
            low = fields.get("search_context_cost_per_query.search_context_size_low")
            if searches and low is not None:
                extra.append(CostLine("web_search", searches, low / 1000, searches * (low / 1000), tier,
                                      "LiteLLM Perplexity: prompt_tokens_details.web_search_requests x "
                                      "search_context_size_low / 1000"))
            completion -= sum(float(ln.cost) for ln in extra)
            crate = fields.get("citation_cost_per_token")
            if citations and crate is not None:
                cite = CostLine("citation", citations, crate, citations * crate, tier,
                                "LiteLLM Perplexity: citation_tokens x citation_cost_per_token")
                extra.append(cite)
                prompt -= float(cite.cost)
        return [CostLine("prompt", prompt_units, None, prompt, tier, note),
                CostLine("completion", completion_units, None, completion, tier, note), *extra]
    for b in INPUT_BUCKETS:
        k = units.get(b, n[b])
        if b in parts and (k or parts[b]):
            note = "LiteLLM prices these at $0" if k and not parts[b] else ""
            if b == "cache_read" and n["cache_read_audio"]:
                audio = (f"includes {n['cache_read_audio']} cached audio tokens (cache_read_audio), which "
                         "LiteLLM prices at the cache-read rate")
                note = (note + "; " if note else "") + audio
            if b == "input_text" and view is not None and k < 0:
                note = (f"LiteLLM's Usage has text_tokens = {k} (its Gemini adapter subtracts the cached tokens from "
                        "the TEXT tokens); LiteLLM prices them as they are")
            if mult_note and b != "cache_read" and not b.startswith("cache_write"):
                note = (note + "; " if note else "") + mult_note
            lines.append(CostLine(b, k, None, parts[b], tier, note))
    unpriced = prompt_units - sum(units.get(b, 0) for b in INPUT_BUCKETS if b in parts)
    if view is not None and unpriced > 0:
        lines.append(CostLine("prompt", unpriced, None, 0.0, tier,
                              "prompt tokens LiteLLM's Usage counts in prompt_tokens but in no priced part "
                              "(e.g. Gemini VIDEO tokens): LiteLLM prices them at $0"))
    arg = str(target.get("model_arg", "")).lower()
    if target.get("provider") == "azure_ai" and ("model-router" in arg or "model_router" in arg):
        # LiteLLM adds azure_ai/model_router's input price for every prompt token, on top.
        flat = r["prompt"] - sum(float(ln.cost) for ln in lines)
        if flat:
            lines.append(CostLine("prompt", u.input_tokens, None, flat, tier,
                                  "LiteLLM azure_ai model-router: flat price per prompt token, on top"))
    output_parts = ("reasoning", "output_audio", "output_image")  # inside completion_tokens
    breakdown = [b for b in output_parts if b in parts]
    text_units = units.get("output_text", u.output_tokens - sum(n[b] for b in breakdown))
    if "output_text" in parts and (text_units or parts["output_text"]):
        folded = [f"{n[b]} {b}" for b in output_parts if b not in breakdown and n[b]]
        note = (f"includes {', '.join(folded)} tokens, which LiteLLM's {r['route']} path prices at the output "
                "text rate") if folded and (view is None or r["route"] == "xai") else ""
        if text_units and not parts["output_text"]:
            note = "LiteLLM prices these at $0"
        if mult_note:
            note = (note + "; " if note else "") + mult_note
        lines.append(CostLine("output_text", text_units, None, parts["output_text"], tier, note))
    for b in breakdown:
        lines.append(CostLine(b, units.get(b, n[b]), None, parts[b], tier, mult_note))
    return lines


def _provider_hint(model: str) -> str | None:
    m = model.lower()
    if m.startswith(("xai/", "grok")):
        return "xai"
    if m.startswith(("deepseek/", "deepseek-")):
        return "deepseek"
    if m.startswith("perplexity/"):
        return "perplexity"
    return None


def cost_batch(model: str | Sequence[str] | Any, usage: Mapping[str, Any] | Any, mode: str = "exact",
               catalog: Catalog | None = None, *, service_tier: str = "standard", date: Any = None,
               num_threads: int = 0, split: bool = False) -> Any:
    """Prices many calls in C++ (GIL released). ``usage`` maps bucket names to integer columns
    (numpy arrays, pandas Series, or a DataFrame with bucket-named columns); ``model`` is one name
    or one name per row. Optional string columns ``inference_geo`` and ``speed`` (None / NaN / ""
    when a call did not report one) apply the per-call multipliers as :func:`cost` does for a
    usage that carries them (Anthropic: x1.1 for US-only inference, x6 for fast mode). Returns a float64 numpy array of totals (USD), or with ``split=True`` a
    tuple (total, prompt, completion) (litellm mode). ``.exact_total`` of the result frame is not
    kept; use :func:`cost_batch_exact_sum` for the exact grand total.
    """
    if split and mode != "litellm":
        # Only LiteLLM mode computes the prompt/completion split natively; exact mode would
        # return zeros for both columns.
        raise ValueError(f"cost_batch(split=True) needs mode='litellm' (got mode={mode!r}); "
                         "for exact per-bucket costs call tokenops.cost per row")
    total, prompt, completion, _ = _batch(model, usage, mode, catalog, service_tier, date, num_threads, split)
    if split:
        return total, prompt, completion
    return total


def cost_batch_exact_sum(model: Any, usage: Any, catalog: Catalog | None = None, *, service_tier: str = "standard",
                         date: Any = None, num_threads: int = 0) -> Decimal:
    """The exact grand total (Decimal USD) of :func:`cost_batch` in exact mode."""
    grand = _batch(model, usage, "exact", catalog, service_tier, date, num_threads, False)[3]
    if grand is None:
        raise ValueError("the exact grand total exceeds what tokenops can represent (about 1.7e20 USD); "
                         "the per-row totals of cost_batch are still available")
    return Decimal(grand)


def _batch(model: Any, usage: Any, mode: str, catalog: Catalog | None, service_tier: str, date: Any,
           num_threads: int, split: bool) -> tuple[Any, Any, Any, str]:
    _check_mode(mode)
    _check_tier(service_tier)
    cat = _catalog_for(mode, catalog)
    cols: dict[str, Any] = {}
    call: dict[str, Any] = {}  # inference_geo / speed columns (per-call price multipliers)
    if hasattr(usage, "columns") and hasattr(usage, "__getitem__"):  # DataFrame
        names = [c for c in usage.columns if c in BUCKETS]
        unknown = [c for c in usage.columns if c not in BUCKETS and c not in CALL_FIELDS]
        if unknown and not names:
            raise ValueError(f"no usage bucket columns in {list(usage.columns)}; buckets are {', '.join(BUCKETS)}")
        for c in unknown:
            _refuse_usage_like_column(c)
        items = [(c, usage[c].to_numpy()) for c in names]
        call = {c: usage[c].to_numpy() for c in CALL_FIELDS if c in usage.columns}
    elif isinstance(usage, Mapping):
        items = [(k, v) for k, v in usage.items() if k not in CALL_FIELDS]
        call = {k: v for k, v in usage.items() if k in CALL_FIELDS}
    else:
        raise TypeError("usage must be a mapping of bucket -> column or a DataFrame")
    n = None
    for k, v in items:
        if k not in BUCKETS:
            raise ValueError(f"unknown usage column {k!r}; buckets are {', '.join(BUCKETS)}")
        arr = np.asarray(v)
        if arr.ndim != 1:
            raise ValueError(f"usage column {k!r} must be 1-D")
        if arr.dtype.kind == "O" and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in arr):
            # Python ints too large for int64 land in an object array: name the first one.
            big = [i for i, x in enumerate(arr) if not -INT64_MAX - 1 <= x <= INT64_MAX]
            if big:
                raise ValueError(f"usage column {k!r} row {big[0]} = {arr[big[0]]} is too large "
                                 "(at most 2**63 - 1 tokens)")
            arr = arr.astype(np.int64)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float64, copy=False)  # float16 / float32 overflowed comparing with 2**63
            if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
                bad = int(np.flatnonzero(~np.isfinite(arr) | (arr != np.floor(arr)))[0])
                raise ValueError(f"usage column {k!r} row {bad} = {arr[bad]!r} is not an integer token count")
            if np.any(arr >= 2.0**63):  # the cast to int64 would wrap
                bad = int(np.flatnonzero(arr >= 2.0**63)[0])
                raise ValueError(f"usage column {k!r} row {bad} = {arr[bad]!r} is too large (at most 2**63 - 1 tokens)")
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and len(arr) and arr.max() > INT64_MAX:
            bad = int(np.flatnonzero(arr > INT64_MAX)[0])
            raise ValueError(f"usage column {k!r} row {bad} = {arr[bad]} is too large (at most 2**63 - 1 tokens)")
        elif arr.dtype.kind not in "iu":
            raise TypeError(f"usage column {k!r} must hold integers, not {arr.dtype}")
        if n is None:
            n = len(arr)
        elif len(arr) != n:
            raise ValueError(f"usage column {k!r} has {len(arr)} rows, expected {n}")
        cols[k] = np.ascontiguousarray(arr, dtype=np.int64)
    if n is None:
        raise ValueError("usage has no columns")
    if isinstance(model, str):
        names_list, codes = [model], None
    elif model is None or not hasattr(model, "__len__"):
        raise TypeError(f"model must be a model name or one name per row, not {type(model).__name__}")
    else:
        names_list, codes = _factorize(model, n)
    for nm in names_list:
        check_model_name(nm)
        if mode == "litellm":
            _litellm_target(cat, nm, service_tier)
    contexts = None
    if call:
        names_list, codes, contexts = _with_call_fields(names_list, codes, call, n)
    return cat._core.price_batch(mode, names_list, codes, cols, n, service_tier, _date_days(date),
                                 check_threads(num_threads), split, contexts)


def _call_column(name: str, col: Any, n: int) -> tuple[list[str], Any]:
    """(unique values, int32 code per row) of an inference_geo / speed column: strings, with
    None / NaN / "" for "not reported"."""
    arr = np.asarray(col, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"usage column {name!r} must be 1-D")
    if len(arr) != n:
        raise ValueError(f"usage column {name!r} has {len(arr)} rows, expected {n}")
    try:
        import pandas as pd
        raw, uniq = pd.factorize(arr)  # None / NaN -> -1
        uniq = list(uniq)
    except ImportError:  # pragma: no cover - pandas is optional
        seen: dict[Any, int] = {}
        raw = np.array([-1 if v is None or (isinstance(v, float) and v != v) else seen.setdefault(v, len(seen))
                        for v in arr.tolist()], dtype=np.int64)
        uniq = list(seen)
    vals: list[str] = [""]
    remap = np.zeros(len(uniq) + 1, dtype=np.int64)  # raw code + 1 -> index in vals
    for j, v in enumerate(uniq):
        v = call_value(v, lambda: f"usage column {name!r} row {int(np.flatnonzero(raw == j)[0])}")
        if v not in vals:
            vals.append(v)
        remap[j + 1] = vals.index(v)
    return vals, remap[np.asarray(raw, dtype=np.int64) + 1]


def _with_call_fields(names: list[str], codes: Any, call: Mapping[str, Any], n: int
                      ) -> tuple[list[str], Any, list[tuple[str, str]]]:
    """One batch model per (model, inference_geo, speed) that occurs, as cost() prices each call
    with the multipliers its usage names (Anthropic: x1.1 US-only inference, x6 fast mode)."""
    geo_vals, geo = _call_column("inference_geo", call["inference_geo"], n) if "inference_geo" in call \
        else ([""], np.zeros(n, dtype=np.int64))
    speed_vals, speed = _call_column("speed", call["speed"], n) if "speed" in call else ([""], np.zeros(n, dtype=np.int64))
    model = np.zeros(n, dtype=np.int64) if codes is None else np.asarray(codes, dtype=np.int64)
    key = (model * len(geo_vals) + geo) * len(speed_vals) + speed
    uniq, inv = np.unique(key, return_inverse=True)
    out_names, contexts = [], []
    for k in uniq.tolist():
        m, rest = divmod(k, len(geo_vals) * len(speed_vals))
        g, sp = divmod(rest, len(speed_vals))
        out_names.append(names[m])
        contexts.append((geo_vals[g], speed_vals[sp]))
    return out_names, inv.astype(np.int32), contexts


_USAGE_WORDS = ("token", "input", "output", "prompt", "completion", "cache", "cached", "reasoning",
                "audio", "image", "request", "search")


def _refuse_usage_like_column(col: Any) -> None:
    """A DataFrame may carry other columns (model, latency, ...), but one whose name looks like a
    token count (``prompt_tokens``, ``output_token``) would be priced at $0 without a word: refuse."""
    name = str(col)
    low = name.lower()
    close = difflib.get_close_matches(low, BUCKETS, n=1, cutoff=0.6)
    if close or any(w in low for w in _USAGE_WORDS):
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"usage column {name!r} is not a usage bucket{hint}; it would be priced at $0. "
                         f"Rename it to one of {', '.join(BUCKETS)} or drop it "
                         "(other columns, such as a model name, are ignored)")


def _factorize(model: Any, n: int) -> tuple[list[str], Any]:
    """(unique names, int32 code per row). A pandas Categorical is used as is; other sequences
    are factorized with pandas when it is installed (fast), else numpy."""
    cat = getattr(model, "cat", None)
    if cat is not None and hasattr(cat, "codes"):  # Series with category dtype
        model = model.values
    if hasattr(model, "codes") and hasattr(model, "categories"):  # pandas.Categorical
        codes = np.asarray(model.codes)
        if len(codes) != n:
            raise ValueError(f"model has {len(codes)} rows, usage has {n}")
        if (codes < 0).any():
            raise ValueError(f"model is missing at row {int(np.flatnonzero(codes < 0)[0])}")
        return _str_names(model.categories, codes), codes.astype(np.int32)
    if len(model) != n:
        raise ValueError(f"model has {len(model)} rows, usage has {n}")
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        uniq, inv = np.unique(np.asarray(model, dtype=object), return_inverse=True)
        return _str_names(uniq, inv), inv.astype(np.int32)
    codes, uniq = pd.factorize(np.asarray(model, dtype=object))
    if (codes < 0).any():
        raise ValueError(f"model is missing at row {int(np.flatnonzero(codes < 0)[0])}")
    return _str_names(uniq, codes), codes.astype(np.int32)


def _str_names(uniq: Any, codes: Any) -> list[str]:
    """The unique model names, each a str (a bytes or int name is a TypeError naming its first
    row, as cost() raises, instead of an unknown-model error for its str() form)."""
    out = list(uniq)
    for i, x in enumerate(out):
        if not isinstance(x, str):
            row = int(np.flatnonzero(np.asarray(codes) == i)[0])
            raise TypeError(f"model names must be str; row {row} holds {type(x).__name__} {x!r}")
    return out
