"""Prices and costs: the price catalogue, usage normalisation and the cost engine.

>>> import tokenops
>>> tokenops.cost("gpt-4o", {"prompt_tokens": 1000, "completion_tokens": 200}).total_exact
Decimal('0.0045')
"""

from __future__ import annotations

from .catalog import Catalog, ImportProblem, ModelInfo, refresh_default
from .engine import CostBreakdown, CostLine, cost, cost_batch, cost_batch_exact_sum
from .usage import API_SEMANTICS, BUCKETS, ApiSemantics, Usage, detect_api, normalize_usage

__all__ = [
    "API_SEMANTICS",
    "BUCKETS",
    "ApiSemantics",
    "Catalog",
    "CostBreakdown",
    "CostLine",
    "ImportProblem",
    "ModelInfo",
    "Usage",
    "cost",
    "cost_batch",
    "cost_batch_exact_sum",
    "detect_api",
    "normalize_usage",
    "refresh_default",
]
