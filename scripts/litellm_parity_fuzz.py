"""Seeded differential fuzz of ``tokenops.cost(mode="litellm")`` against LiteLLM's own
``litellm.cost_per_token`` (the pinned litellm==1.85.7 of the test extra), on random LiteLLM
``Usage`` objects over every chat / completion / responses model of LiteLLM's bundled price map
(plus provider-prefixed and stripped name variants).

    python scripts/litellm_parity_fuzz.py [--seed 12345] [--per-model 12] [--limit N]

Prints how many (model, usage, tier) pairs both sides priced, how many are the same float, the
mismatches by provider (first few in full), and the pairs only one side priced. No network:
LiteLLM reads its local price map. Usages are internally consistent (no part above its total):
tokenops refuses inconsistent ones, which LiteLLM prices (see docs/cost.md).
"""
import argparse
import collections
import copy
import logging
import os
import random
import sys
import time
import warnings

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
warnings.filterwarnings("ignore")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--seed", type=int, default=12345)
ap.add_argument("--per-model", type=int, default=12, help="usages per model name")
ap.add_argument("--limit", type=int, default=0, help="only this many model names (random sample)")
args = ap.parse_args()

import litellm  # noqa: E402
from litellm.types.utils import Usage as LUsage  # noqa: E402

import tokenops  # noqa: E402
from tokenops.pricing import Catalog  # noqa: E402

litellm.suppress_debug_info = True
logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
rng = random.Random(args.seed)
cat = Catalog.from_installed_litellm(strict=True)
MODES = ("chat", "completion", "responses", None)
models = [(k, v.get("litellm_provider")) for k, v in litellm.model_cost.items()
          if k != "sample_spec" and isinstance(v, dict) and v.get("mode") in MODES
          and v.get("litellm_provider") not in ("github_copilot", "chatgpt")]  # these need a login
variants = []
for k, p in models:
    variants.append((k, p))
    if p and "/" not in k and rng.random() < 0.3:
        variants.append((f"{p}/{k}", p))
    elif "/" in k and rng.random() < 0.15:
        variants.append((k.split("/", 1)[1], p))
if args.limit:
    variants = random.Random(args.seed + 1).sample(variants, args.limit)

THRESH = [128_000, 200_000, 256_000, 272_000, 32_000, 64_000, 1_000_000]


def rint(lo, hi):
    return rng.randint(lo, hi)


def gen_prompt():
    r = rng.random()
    if r < 0.08:
        return 0
    if r < 0.45:
        return rint(1, 5000)
    if r < 0.65:
        return rint(5000, 120_000)
    if r < 0.9:
        t = rng.choice(THRESH)
        return max(0, t + rng.choice([-1, 0, 1, rint(-5000, 5000), rint(1, 80_000)]))
    return rint(300_000, 1_200_000)


def gen_spec(provider):
    """A random LiteLLM-Usage spec (kwargs + attrs), internally consistent (parts <= totals)."""
    P = gen_prompt()
    spec = {"kw": {}, "attrs": {}, "tags": []}
    rest = P
    def take(frac_max):
        nonlocal rest
        if rest <= 0:
            return 0
        n = rint(0, int(rest * frac_max)) if rng.random() < 0.9 else rest
        rest -= n
        return n
    cached = take(0.9) if rng.random() < 0.45 else 0
    cw5 = cw1 = 0
    if rng.random() < 0.35:
        cw5 = take(0.6) if rng.random() < 0.8 else 0
        cw1 = take(0.6) if rng.random() < 0.5 else 0
    audio = take(0.5) if rng.random() < 0.15 else 0
    image = take(0.5) if rng.random() < 0.15 else 0
    text = rest
    ptd = {}
    top = {}
    style = rng.random()
    if cached:
        if style < 0.3:
            top["cache_read_input_tokens"] = cached
            spec["tags"].append("cache_read_top")
            if rng.random() < 0.5:
                ptd["cached_tokens"] = cached
        elif style < 0.4 and provider in ("deepseek",):
            top["prompt_cache_hit_tokens"] = cached
            top["prompt_cache_miss_tokens"] = P - cached
            spec["tags"].append("deepseek_hit")
        else:
            ptd["cached_tokens"] = cached
            spec["tags"].append("cached")
    if cw5 or cw1:
        r = rng.random()
        if r < 0.35:
            top["cache_creation_input_tokens"] = cw5 + cw1
            spec["tags"].append("cw_top")
        else:
            ptd["cache_creation_tokens"] = cw5 + cw1
            spec["tags"].append("cw_ptd")
        if cw1 or rng.random() < 0.5:
            ptd["cache_creation_token_details"] = {"ephemeral_5m_input_tokens": cw5, "ephemeral_1h_input_tokens": cw1}
            spec["tags"].append("cw_split")
    if audio:
        ptd["audio_tokens"] = audio
        spec["tags"].append("in_audio")
    if image:
        ptd["image_tokens"] = image
        spec["tags"].append("in_image")
    if ptd and rng.random() < 0.15:
        # explicit text_tokens: consistent remainder, or the xAI-style "text = prompt" double count
        if rng.random() < 0.6:
            ptd["text_tokens"] = text
            spec["tags"].append("ptext_explicit")
        else:
            ptd["text_tokens"] = P
            spec["tags"].append("ptext_eq_prompt")
    # completion
    r = rng.random()
    C = 0 if r < 0.08 else rint(1, 4000) if r < 0.7 else rint(4000, 150_000)
    crest = C
    reasoning = caudio = cimage = 0
    if C and rng.random() < 0.35:
        reasoning = rint(0, crest); crest -= reasoning
    if C and rng.random() < 0.1:
        caudio = rint(0, crest); crest -= caudio
    if C and rng.random() < 0.08:
        cimage = rint(0, crest); crest -= cimage
    ctd = {}
    use_top_reasoning = reasoning and rng.random() < 0.2
    if reasoning and not use_top_reasoning:
        ctd["reasoning_tokens"] = reasoning
    if caudio:
        ctd["audio_tokens"] = caudio
    if cimage:
        ctd["image_tokens"] = cimage
    if ctd and rng.random() < 0.15:
        ctd["text_tokens"] = crest
        spec["tags"].append("ctext_explicit")
    if reasoning:
        spec["tags"].append("reasoning_top" if use_top_reasoning else "reasoning")
    if caudio:
        spec["tags"].append("out_audio")
    if cimage:
        spec["tags"].append("out_image")
    total = P + C
    if provider == "xai" and reasoning and rng.random() < 0.4:
        # xAI's raw shape: reasoning on top of completion
        C2 = C - reasoning
        spec["tags"].append("xai_raw")
        C = C2
        total = P + C + reasoning
    kw = dict(prompt_tokens=P, completion_tokens=C, total_tokens=total)
    if ptd:
        kw["prompt_tokens_details"] = ptd
    if ctd:
        kw["completion_tokens_details"] = ctd
    if use_top_reasoning:
        kw["reasoning_tokens"] = reasoning
    kw.update(top)
    if rng.random() < 0.08:
        kw["server_tool_use"] = {"web_search_requests": rint(1, 5)}
        spec["tags"].append("web_search")
    if rng.random() < (0.35 if provider == "anthropic" else 0.05):
        g = rng.choice(["us", "US", "global", "not_available", "eu", None])
        if g is not None:
            spec["attrs"]["inference_geo"] = g
            spec["tags"].append(f"geo={g}")
    if rng.random() < (0.3 if provider == "anthropic" else 0.04):
        s = rng.choice(["fast", "standard"])
        spec["attrs"]["speed"] = s
        spec["tags"].append(f"speed={s}")
    spec["kw"] = kw
    return spec


def build(spec):
    import copy
    kw = copy.deepcopy(spec["kw"])
    kw.update(spec["attrs"])
    return LUsage(**kw)


def lite(model, spec, tier):
    u = build(spec)
    if tier == "batch":
        return litellm.cost_per_token(model=model, usage_object=u, call_type="retrieve_batch")
    return litellm.cost_per_token(model=model, usage_object=u, service_tier=tier)


def tops(model, spec, tier):
    u = build(spec)
    r = tokenops.cost(model, u, mode="litellm", catalog=cat, service_tier=tier or "standard")
    return r


def build(spec):
    kw = copy.deepcopy(spec["kw"])
    kw.update(spec["attrs"])
    return LUsage(**kw)


TIERS = [None, "flex", "priority", "batch"]
both = same = 0
only_ours, only_theirs = collections.Counter(), collections.Counter()
bad: dict[str, list] = collections.defaultdict(list)
refused: dict[str, tuple] = {}  # tokenops' reasons for refusing what LiteLLM priced, one example each
providers = set()
t0 = time.time()
for name, prov in variants:
    try:
        litellm.cost_per_token(model=name, prompt_tokens=1, completion_tokens=1)
        routable = True
    except Exception:  # noqa: BLE001 - names LiteLLM cannot route get two tries
        routable = False
    for _ in range(args.per_model if routable else 2):
        spec = gen_spec(prov)
        tier = rng.choice(TIERS)
        try:
            if tier == "batch":
                lit = litellm.cost_per_token(model=name, usage_object=build(spec), call_type="retrieve_batch")
            else:
                lit = litellm.cost_per_token(model=name, usage_object=build(spec), service_tier=tier)
        except Exception:  # noqa: BLE001
            lit = None
        try:
            r = tokenops.cost(name, build(spec), mode="litellm", catalog=cat, service_tier=tier or "standard")
            ours = (r.prompt, r.completion)
        except Exception as e:  # noqa: BLE001
            ours, why = None, f"{type(e).__name__}: {e}"[:160]
        if lit is None and ours is None:
            continue
        if lit is None:
            only_ours[prov] += 1
        elif ours is None:
            only_theirs[prov] += 1
            refused.setdefault(why.split(" (")[0][:90], (name, tier, spec["kw"]))
        else:
            both += 1
            providers.add(prov)
            if tuple(lit) == ours:
                same += 1
            else:
                bad[prov].append((name, tier, spec["kw"], spec["attrs"], tuple(lit), ours))
print(f"{len(variants)} model names, {both} pairs priced by both sides over {len(providers)} providers "
      f"({time.time() - t0:.0f} s)")
print(f"identical floats: {same} of {both} ({100 * same / max(both, 1):.2f}%)")
for prov, rows in sorted(bad.items(), key=lambda kv: -len(kv[1])):
    print(f"  mismatches {prov}: {len(rows)}")
    for row in rows[:3]:
        print("    ", row)
print(f"priced by tokenops only (LiteLLM raised): {sum(only_ours.values())} {dict(only_ours.most_common(8))}")
print(f"priced by LiteLLM only (tokenops refused): {sum(only_theirs.values())} {dict(only_theirs.most_common(8))}")
for why, example in refused.items():
    print(f"  {why}  e.g. {example[0]} {example[1]} {example[2]}")
sys.exit(1 if bad else 0)
