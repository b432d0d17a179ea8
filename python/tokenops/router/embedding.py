"""Glue between the router and the native sentence embedder (``tokenops.Embedder``, issue 3).
Embedding families (knn; mf/irt/linear/mlp with an embedding block) store the embedder's name
and width in the router file; loading checks them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .core import FeatureConfig

EMBEDDER_NAME = "all-MiniLM-L6-v2"


def load_embedder() -> Any:
    from ..embed import Embedder

    emb = Embedder.load()
    return emb


def embedder_name(emb: Any) -> str:
    return str(getattr(emb, "name", None) or EMBEDDER_NAME)


def embed_prompts(prompts: Sequence[str], embedder: Any = None) -> np.ndarray:
    emb = embedder or load_embedder()
    return np.ascontiguousarray(np.asarray(emb.embed(list(prompts)), dtype=np.float32))


def embedding_feature_config(dim: int = 384, name: str = EMBEDDER_NAME, lexical: bool = False) -> FeatureConfig:
    """Embedding-only features (kNN), or embedding + the lexical/dense block (``lexical=True``)."""
    if lexical:
        return FeatureConfig(hash_bits=14, word_ngrams=(1, 2), dense=True, dense_weight=0.3,
                             embedder=name, embedding_dim=dim)
    return FeatureConfig(hash_bits=0, word_ngrams=(0, 0), dense=False, encoding=None,
                         embedder=name, embedding_dim=dim)
