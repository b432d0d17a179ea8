"""Glue between the router and the native sentence embedder (``tokenops.Embedder``, issue 3).
Embedding families (knn; mf/irt/linear/mlp with an embedding block) store the embedder's name
and width in the router file; loading checks them.

``embed_cached`` computes a list of prompts' embeddings once per machine: the result is kept
under ``tokenops._paths.cache_dir() / "embeddings"`` keyed by the sha256 of the embedder's
files and the prompts, so notebooks and CLIs that embed the same benchmark reuse it."""

from __future__ import annotations

import hashlib
from pathlib import Path
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


def _embedder_fingerprint(emb: Any) -> str:
    """sha256 over the embedder's model files (so a different model never hits the cache)."""
    path = getattr(emb, "path", None)
    h = hashlib.sha256(embedder_name(emb).encode())
    if path is not None:
        p = Path(path)
        for name in sorted(f.name for f in p.iterdir() if f.is_file()):
            st = (p / name).stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def embed_cached(prompts: Sequence[str], embedder: Any = None, cache_dir: str | Path | None = None,
                 progress: bool = False) -> np.ndarray:
    """Embeddings of ``prompts`` (float32, (n, dim)), computed once and then read from the cache.

    The cache key is the sha256 of the prompts (in order) and a fingerprint of the embedder's
    files; entries are plain ``.npy`` files that can be deleted at any time."""
    from .._paths import cache_dir as _cache_dir

    ps = list(prompts)
    emb = embedder or load_embedder()
    h = hashlib.sha256(_embedder_fingerprint(emb).encode())
    for p in ps:
        b = p.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    folder = Path(cache_dir) if cache_dir is not None else _cache_dir() / "embeddings"
    path = folder / f"{h.hexdigest()}.npy"
    if path.is_file():
        E = np.load(path)
        if E.shape[0] == len(ps):
            return E
    if progress:
        from tqdm.auto import tqdm

        parts = []
        step = 256
        for i in tqdm(range(0, len(ps), step), desc="embedding", unit_scale=step):
            parts.append(embed_prompts(ps[i:i + step], emb))
        E = np.vstack(parts) if parts else np.zeros((0, int(emb.dim)), np.float32)
    else:
        E = embed_prompts(ps, emb)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, E)
    tmp.replace(path)
    return E


def embedding_feature_config(dim: int = 384, name: str = EMBEDDER_NAME, lexical: bool = False) -> FeatureConfig:
    """Embedding-only features (kNN), or embedding + the lexical/dense block (``lexical=True``)."""
    if lexical:
        return FeatureConfig(hash_bits=14, word_ngrams=(1, 2), dense=True, dense_weight=0.3,
                             embedder=name, embedding_dim=dim)
    return FeatureConfig(hash_bits=0, word_ngrams=(0, 0), dense=False, encoding=None,
                         embedder=name, embedding_dim=dim)
