"""tokenops: make LLM applications cheaper without making them worse.

Exact token counting (tiktoken-identical BPE in C++), exact pricing, SLM-vs-frontier routing,
prompt compression and context packing, a native sentence embedder and agent-workflow cost
simulation, exact + semantic response caches with guards against false hits, and live governance
(a priced ledger of calls, KPIs, budgets, quotas and anomaly alerts: ``tokenops.govern``).
``import tokenops`` is fast
and needs no optional dependency; submodules that need pandas, matplotlib or scikit-learn import
them when they are used (``pip install 'tokenops[all]'`` installs them).
"""

from __future__ import annotations

from . import cache, compress, examples, govern
from ._core import __version__
from .budget import Policy, Step, Workflow, simulate
from .cache import Cache, CacheHit
from .compress import CompressionResult, Compressor, compress_batch, pack, pack_chat
from .embed import Embedder
from .govern import BudgetExceeded, Governor, Ledger, Quota
from .pricing import Catalog, CostBreakdown, Usage, cost, cost_batch, normalize_usage
from .router import Router
from .tokenizer import (
    Encoding,
    SentencePieceEncoding,
    StreamDecoder,
    TokenCount,
    count_messages,
    count_tools,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
    image_tokens,
    list_encoding_names,
)

__all__ = [
    "Cache",
    "CacheHit",
    "cache",
    "CompressionResult",
    "Compressor",
    "compress",
    "compress_batch",
    "pack",
    "pack_chat",
    "Embedder",
    "BudgetExceeded",
    "Governor",
    "Ledger",
    "Quota",
    "govern",
    "Router",
    "Catalog",
    "Policy",
    "Step",
    "Workflow",
    "examples",
    "simulate",
    "CostBreakdown",
    "Usage",
    "cost",
    "cost_batch",
    "normalize_usage",
    "Encoding",
    "SentencePieceEncoding",
    "StreamDecoder",
    "TokenCount",
    "__version__",
    "count_messages",
    "count_tools",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "image_tokens",
    "list_encoding_names",
]
