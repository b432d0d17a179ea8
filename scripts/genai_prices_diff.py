"""Seeded differential of ``tokenops.cost`` (exact mode) against pydantic's genai-prices
``calc_price``, both reading the same genai-prices snapshot
(``$TOKENOPS_DATA_DIR/pricing/genai_prices/data.json``), on every model of it: random usages over
the buckets the model prices (long-context thresholds +-1, cache reads / writes, reasoning,
audio, images, web search, per-request fees), on two dates.

    pip install genai-prices==0.2.5
    python scripts/genai_prices_diff.py [--seed 0] [--per-model 30]

Prints how many comparisons are equal Decimals, how many differ (and by how much at most), and
the pairs only one side prices, by reason. Sub-atto differences come from prices with float
noise (0.18000000000000002 per million): tokenops keeps prices as integer atto-USD.
"""
import argparse
import collections
import json
import os
import random
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

from genai_prices import data_snapshot
from genai_prices.types import Usage as GUsage
from genai_prices.types import _providers_from_raw

import tokenops
from tokenops.pricing import Catalog

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--per-model", type=int, default=30)
args = ap.parse_args()
warnings.simplefilter("ignore")
data_dir = Path(os.environ.get("TOKENOPS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
snapshot = data_dir / "pricing" / "genai_prices" / "data.json"
provs = _providers_from_raw(json.loads(snapshot.read_text()))
data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(provs, from_auto_update=False))
cat = Catalog.from_genai_prices(snapshot)
DATES = [("2025-06-15", datetime(2025, 6, 15, 12, tzinfo=timezone.utc)),
         ("2026-09-01", datetime(2026, 9, 1, 12, tzinfo=timezone.utc))]
rng = random.Random(args.seed)


def gusage(u: dict) -> GUsage:
    g = collections.defaultdict(int, u)
    cache_read = g["cache_read"] + g["cache_read_audio"]
    writes = g["cache_write_5m"] + g["cache_write_1h"]
    kw = dict(input_tokens=g["input_text"] + g["input_audio"] + g["input_image"] + cache_read + writes,
              cache_read_tokens=cache_read, cache_audio_read_tokens=g["cache_read_audio"],
              cache_write_tokens=writes, cache_write_5m_tokens=g["cache_write_5m"],
              cache_write_1h_tokens=g["cache_write_1h"], input_audio_tokens=g["input_audio"] + g["cache_read_audio"],
              input_image_tokens=g["input_image"], cache_image_read_tokens=0,
              output_tokens=g["output_text"] + g["reasoning"] + g["output_audio"] + g["output_image"],
              output_reasoning_tokens=g["reasoning"], output_audio_tokens=g["output_audio"],
              output_image_tokens=g["output_image"])
    if g["web_search"]:
        kw["web_searches"] = g["web_search"]
    return GUsage(**kw)


def usage_for(info) -> dict:
    priced = set().union(*(r["prices"] for r in info.rows if r["threshold"] == 0)) if info.rows else set()
    ths = sorted({r["threshold"] for r in info.rows if r["threshold"]} | {128_000, 200_000, 272_000})
    x = rng.random()
    total = rng.randint(0, 5000) if x < 0.3 else rng.randint(0, 1_200_000) if x < 0.45 else \
        max(0, rng.choice(ths) + rng.choice([-1, 0, 1, 2, rng.randint(-3000, 3000)]))
    inputs = [b for b in ("input_text", "input_audio", "input_image", "cache_read", "cache_read_audio",
                          "cache_write_5m", "cache_write_1h") if b in priced]
    chosen = set(rng.sample(inputs, rng.randint(1, len(inputs))) if inputs else []) | {"input_text"}
    cuts = sorted(rng.randint(0, total) for _ in range(len(chosen) - 1))
    u = dict(zip(sorted(chosen), [b - a for a, b in zip([0] + cuts, cuts + [total])]))
    for b in ("output_text", "reasoning", "output_audio", "output_image"):
        if (b in priced or b == "reasoning") and (b == "output_text" or rng.random() < 0.4):
            u[b] = rng.choice([0, rng.randint(1, 100), rng.randint(0, 70_000)])
    if "web_search" in priced and rng.random() < 0.3:
        u["web_search"] = rng.randint(1, 5)
    if "request" in priced:
        u["request"] = 1
    return {k: v for k, v in u.items() if v}


by_key = {f"{p.id}/{m.id}": (p, m) for p in provs for m in p.models}
equal = differ = 0
worst = None
one_side: collections.Counter = collections.Counter()
for key in cat.keys():
    info = cat.resolve(key)
    prov, model = by_key[key]
    for _ in range(args.per_model):
        u = usage_for(info)
        for day, ts in DATES:
            try:
                ours = tokenops.cost(key, u, catalog=cat, date=day).total_exact
            except Exception as e:  # noqa: BLE001 - tallied by reason
                ours = e
            try:
                theirs = model.calc_price(gusage(u), prov, genai_request_timestamp=ts).total_price
            except Exception as e:  # noqa: BLE001
                theirs = e
            if isinstance(ours, Exception) or isinstance(theirs, Exception):
                if not (isinstance(ours, Exception) and isinstance(theirs, Exception)):
                    side = "genai-prices only" if isinstance(ours, Exception) else "tokenops only"
                    why = re.sub(r"'[^']*'|\d+", "X", str(ours if isinstance(ours, Exception) else theirs))[:80]
                    one_side[(side, why)] += 1
                continue
            if ours == theirs:
                equal += 1
            else:
                differ += 1
                d = abs(ours - theirs)
                if worst is None or d > worst[0]:
                    worst = (d, key, u, day)
print(f"{len(cat.keys())} models, seed {args.seed}: {equal} equal Decimals, {differ} different"
      + (f" (largest {worst[0]} USD: {worst[1]} {worst[2]} {worst[3]})" if worst else ""))
for (side, why), n in one_side.most_common(12):
    print(f"  priced by {side}: {n}  ({why})")
