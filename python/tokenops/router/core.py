"""The Router: load a trained router file and score prompts in the C++ core (GIL released)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import _core
from .._args import check_threads, is_real, not_a_mapping

DEFAULT_ROUTER_PATH = Path(__file__).resolve().parent / "data" / "default_router.safetensors"


@dataclass(frozen=True)
class FeatureConfig:
    """How prompts become router features (mirrors the C++ FeatureExtractor).

    hash_bits: size of the hashed n-gram block (2**hash_bits buckets; 0 disables it).
    word_ngrams / char_ngrams: inclusive n-gram ranges ((0, 0) disables).
    dense: the length/structure signals (token count, code fences, math, digits, questions,
    multi-step markers, script shares...).
    encoding: None (default) estimates the token count in the same pass over the bytes (words,
    digits, punctuation and non-ASCII bytes; within ~4% of o200k_base on the shipped prompts);
    a tokenizer name (``"o200k_base"``) counts tokens exactly, which costs a tokenizer pass
    (~100 MB/s) per prompt and did not change cross-fitted APGR on the shipped data.
    dense_weight: multiplies the standardised dense block (stored in the file's scale).
    embedder / embedding_dim: the sentence embedder whose vectors are appended (None = none).
    embed_tail_chars: embed only the last N characters of each prompt (0 = the whole prompt);
    few-shot prompts put the question last, and the embedder truncates at 256 tokens from the
    start. Stored in the router file; ``Router`` applies it when it calls the embedder.
    """

    hash_bits: int = 18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (0, 0)
    dense: bool = True
    dense_weight: float = 1.0
    encoding: str | None = None
    embedder: str | None = None
    embedding_dim: int = 0
    embed_tail_chars: int = 0

    def __post_init__(self) -> None:
        import math
        import numbers

        w = self.dense_weight
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w) or w <= 0:
            # 0 or NaN failed only later, in the file writer or in scikit-learn
            raise ValueError(f"FeatureConfig.dense_weight must be a finite number > 0, got {w!r}")

    def extractor(self) -> Any:
        enc = _encoding_core(self.encoding) if (self.dense and self.encoding) else None
        return _core.CoreRouterFeatures(
            self.hash_bits, self.word_ngrams[0], self.word_ngrams[1], self.char_ngrams[0],
            self.char_ngrams[1], self.dense, enc)

    @property
    def uses_text(self) -> bool:
        return self.hash_bits > 0 or self.dense


def _encoding_core(name: str) -> Any:
    from ..tokenizer import get_encoding

    enc = get_encoding(name)
    core = getattr(enc, "_core", None)
    if core is None:
        raise ValueError(f"encoding {name!r} has no native core")
    return core


def _check_prompts(prompts: Sequence[str], what: str = "prompts") -> list[str]:
    if isinstance(prompts, (str, bytes)):
        raise TypeError(f"{what} must be a list of str, not a single {type(prompts).__name__}")
    not_a_mapping(prompts, what)
    out = list(prompts)
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise TypeError(f"{what}[{i}] must be str, not {type(p).__name__}")
    return out


class Router:
    """A trained router running in the C++ core.

    ``score(prompts)`` returns one number per prompt, higher = the strong model is more likely
    needed (for the shipped default router: P(the strong model is needed)). ``route(prompt,
    threshold)`` picks the strong model when the score is >= threshold. N-way routers also give
    per-model predicted quality (``predict_quality``) and ``route_nway`` (argmax lam*q - cost).
    Routers whose file names an embedder need ``embed=`` (a callable texts -> (n, dim) float32)
    or explicit ``embeddings=``.
    """

    def __init__(self, core: Any = None, source: str = "", embed: Callable[[list[str]], np.ndarray] | None = None):
        if core is None:
            raise TypeError("make a Router with Router.default(), Router.load(path) or Router.from_bytes(data)")
        self._core = core
        self.source = source
        self._embed = embed

    # ---- loading ----
    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>", embed: Any = None) -> "Router":
        """A router from a router file's bytes (``source`` names it in errors); ``embed`` as in
        ``load``: the embedder for routers with an embedding block."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # bytes(300_000_000) would allocate that many zero bytes before failing
            raise TypeError(f"data must be the router file's bytes, not {type(data).__name__}")
        data = bytes(data)
        enc_name = _peek_encoding(data, source)
        if enc_name is not None and not isinstance(enc_name, str):
            raise ValueError(f"{source}: the router file's features.encoding must be an encoding name, "
                             f"not {type(enc_name).__name__} {enc_name!r}")
        try:
            enc = _encoding_core(enc_name) if enc_name else None
        except KeyError as e:
            raise ValueError(f"{source}: the router file names the encoding {enc_name!r}, which tokenops "
                             f"does not know ({e.args[0] if e.args else e})") from None
        try:
            core = _core.CoreRouter.from_bytes(data, source, enc)
        except ValueError as e:  # every message names the file (the model checks did not)
            msg = str(e)
            raise ValueError(msg if msg.startswith(source) else f"{source}: {msg}") from None
        router = cls(core, source, None)
        router._bytes = data  # for pickling (multiprocessing): a router travels by value
        router._attach_embedder(embed)
        return router

    def __reduce__(self) -> tuple[Any, ...]:
        data = getattr(self, "_bytes", None)
        if data is None:
            raise TypeError("this Router was not made from router-file bytes, so it cannot be pickled; "
                            "load it in each process (Router.load(path) / Router.default())")
        return (Router.from_bytes, (data, self.source, self._embed))

    @classmethod
    def load(cls, path: str | Path, embed: Any = None, sha256: str | None = None) -> "Router":
        """Loads a router file. ``embed`` is the embedder for routers with an embedding block
        (an object with ``.embed(texts)`` or a callable); ``sha256`` verifies the file."""
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"router path is a directory, not a router file: {path}")
        if not path.is_file():
            raise FileNotFoundError(f"router file not found: {path}")
        data = path.read_bytes()
        if sha256 is not None:
            want = sha256.strip().lower() if isinstance(sha256, str) else sha256
            if not isinstance(want, str) or len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
                raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                raise ValueError(f"{path}: sha256 {got} does not match the expected {want} "
                                 "(file changed or corrupted)")
        return cls.from_bytes(data, str(path), embed)

    @classmethod
    def default(cls) -> "Router":
        """The shipped binary router (P(strong model needed)); what it was trained on is in its
        card, ``router/data/default_router.json``, and the README's router section. Its recipe
        transfers weakly to tasks unlike its training data (APGR 0.53-0.66 on a RouteLLM
        benchmark left out of training, random 0.48-0.50: ``scripts/router_default_heldout.py``);
        routers trained on your own outcomes (``tokenops.router.train.fit_router``) do better."""
        if not DEFAULT_ROUTER_PATH.is_file():
            raise FileNotFoundError(
                f"the default router file is missing from the package ({DEFAULT_ROUTER_PATH}); "
                "reinstall tokenops, or rebuild it (needs the tokenops data folder) with "
                f"`python -m tokenops.router.build_default --out {DEFAULT_ROUTER_PATH}`")
        return cls.load(DEFAULT_ROUTER_PATH)

    def _attach_embedder(self, embed: Any) -> None:
        if embed is None:
            self._embed = None
            return
        if not self.needs_embedding:
            self._embed = None
            return
        name = getattr(embed, "name", None)
        # Names compare by their last component ("intfloat/e5-small-v2" is a directory
        # "e5-small-v2"), case-insensitively. tokenops.Embedder has a name (it had none, so a
        # router trained on another model's embeddings was fed MiniLM vectors silently).
        if name is not None and self.embedder and (
                str(name).rsplit("/", 1)[-1].lower() != self.embedder.rsplit("/", 1)[-1].lower()):
            raise ValueError(
                f"{self.source}: this router was trained on embeddings from {self.embedder!r} but "
                f"the embedder given is {name!r}; load the matching embedder (or, if it is the "
                f"same model in a directory of another name, Embedder.load(path, name={self.embedder!r}))")
        dim = getattr(embed, "dim", None)
        if dim is not None and int(dim) != self.embedding_dim:
            raise ValueError(f"{self.source}: router expects {self.embedding_dim}-dim embeddings, "
                             f"embedder gives {dim}")
        self._embed = embed.embed if hasattr(embed, "embed") else embed

    # ---- properties ----
    family = property(lambda self: self._core.family)
    task = property(lambda self: self._core.task)
    models = property(lambda self: list(self._core.models))
    costs = property(lambda self: list(self._core.costs))
    description = property(lambda self: self._core.description)
    embedder = property(lambda self: self._core.embedder or None)
    embedding_dim = property(lambda self: self._core.embedding_dim)
    embed_tail_chars = property(lambda self: self._core.embed_tail_chars)

    def embedding_texts(self, prompts: Sequence[str]) -> list[str]:
        """The texts this router's embedder sees (the prompts' tails when the file says so);
        pass their embeddings as ``embeddings=`` when embedding outside the router."""
        return embedding_texts(_check_prompts(prompts), self.embed_tail_chars)
    needs_embedding = property(lambda self: self._core.needs_embedding)

    @property
    def strong(self) -> str | None:
        return self.models[self._core.strong] if self._core.strong >= 0 else None

    @property
    def weak(self) -> str | None:
        return self.models[self._core.weak] if self._core.weak >= 0 else None

    def __repr__(self) -> str:
        return (f"Router(family={self.family!r}, task={self.task!r}, models={self.models}, "
                f"embedder={self.embedder!r}, source={self.source!r})")

    # ---- scoring ----
    def _embeddings(self, prompts: list[str], embeddings: Any) -> np.ndarray | None:
        if not self.needs_embedding:
            if embeddings is not None:
                raise ValueError(
                    f"{self.source}: this {self.family} router does not use embeddings (its "
                    "features are lexical); drop embeddings=, or load a router trained with an "
                    "embedding block")
            return None
        if embeddings is None:
            if self._embed is None:
                raise ValueError(
                    f"this router needs embeddings from {self.embedder!r}: pass embed= to "
                    "Router.load or embeddings= to this call")
            embeddings = self._embed(embedding_texts(prompts, self.embed_tail_chars))
        arr = np.asarray(embeddings)
        if arr.dtype.kind not in "iuf":
            # complex parts were dropped, strings parsed as numbers, bools read as 0/1
            raise TypeError(f"embeddings must be a numeric (float) array, not dtype {arr.dtype}")
        return np.ascontiguousarray(arr, dtype=np.float32)

    def score(self, prompts: Sequence[str], *, embeddings: Any = None,
              num_threads: int = 0) -> np.ndarray:
        """Binary score per prompt (float64), higher = more likely to need the strong model."""
        ps = _check_prompts(prompts)
        return self._core.score(ps, self._embeddings(ps, embeddings), check_threads(num_threads))

    def predict_quality(self, prompts: Sequence[str], *, embeddings: Any = None,
                        num_threads: int = 0) -> np.ndarray:
        """Per-model predicted quality, shape (n, len(models)) (per-model routers only)."""
        ps = _check_prompts(prompts)
        if self._core.n_outputs != len(self.models):
            raise ValueError("this router has a single binary output, not one per model")
        return self._core.outputs(ps, self._embeddings(ps, embeddings), check_threads(num_threads))

    def route(self, prompt: str, threshold: float, *, embeddings: Any = None,
              strong: str | None = None, weak: str | None = None) -> str:
        """Strong model name when score(prompt) >= threshold, else the weak model's.

        ``strong`` / ``weak`` name the user's own pair (e.g. ``strong="gpt-4o",
        weak="gpt-4o-mini"``, names ``tokenops.cost`` can price); by default the names in the
        router file (the default router's are the pair it was trained on, ``gpt-4-1106-preview``
        and ``weak (Mixtral-8x7B)``)."""
        if not isinstance(prompt, str):
            hint = ("; route_batch(prompts, threshold) routes many prompts"
                    if isinstance(prompt, (list, tuple)) or hasattr(prompt, "__array__") else "")
            raise TypeError(f"prompt must be str, not {type(prompt).__name__}{hint}")
        hi, lo = self._route_names(threshold, strong, weak)
        s = float(self.score([prompt], embeddings=embeddings)[0])
        return hi if s >= threshold else lo

    def route_batch(self, prompts: Sequence[str], threshold: float, *, strong: str | None = None,
                    weak: str | None = None, **kw: Any) -> list[str]:
        """``route`` for many prompts (one scoring call)."""
        hi, lo = self._route_names(threshold, strong, weak)
        s = self.score(prompts, **kw)
        return [hi if v >= threshold else lo for v in s]

    def _route_names(self, threshold: float, strong: str | None, weak: str | None) -> tuple[str, str]:
        self._check_route(threshold)
        for what, v in (("strong", strong), ("weak", weak)):
            if v is not None and (not isinstance(v, str) or not v):
                raise TypeError(f"{what} must be a non-empty model name (str), not {v!r}")
        return (strong if strong is not None else self.strong,  # type: ignore[return-value]
                weak if weak is not None else self.weak)

    def _check_route(self, threshold: float) -> None:
        if not is_real(threshold):
            raise TypeError(f"threshold must be a number, not {type(threshold).__name__}")
        if np.isnan(threshold):
            # +inf (never the strong model, as threshold_for_quality returns when the weak model
            # alone meets the target) and -inf (always the strong model) are meaningful; NaN is not.
            raise ValueError("threshold is NaN; give a number (+inf routes everything to the weak model)")
        if self.strong is None or self.weak is None:
            raise ValueError("this router has no strong/weak pair; use route_nway")

    def route_nway(self, prompts: Sequence[str], lam: float, costs: Sequence[float] | None = None,
                   *, embeddings: Any = None, num_threads: int = 0) -> list[str]:
        """Per prompt: argmax_m lam * q_m - cost_m (costs default to the file's)."""
        ps = _check_prompts(prompts)
        if not is_real(lam):
            raise TypeError(f"lam must be a number, not {type(lam).__name__}")
        # an empty list meant "the file's costs" without a word: None says it
        c = check_costs(costs, self.models, "this router has", "pass costs=None for the file's costs")
        idx = self._core.route(ps, float(lam), c, self._embeddings(ps, embeddings), check_threads(num_threads))
        models = self.models
        return [models[i] for i in idx]


def check_costs(costs: Any, models: Sequence[str], count_phrase: str, none_hint: str, why: str = "") -> list[float]:
    """``costs`` as one finite cost >= 0 per model ([] for None), for fit_router and route_nway:
    "123" was read as [1, 2, 3], a dict as its keys, and NaN or a negative cost reached the core.
    ``count_phrase`` / ``none_hint`` / ``why`` word the errors for the caller."""
    if costs is None:
        return []
    if isinstance(costs, (str, bytes, Mapping, set, frozenset)) or not hasattr(costs, "__len__"):
        raise TypeError(f"costs must be a sequence of numbers (one per model), not {type(costs).__name__}")
    try:
        n = len(costs)
    except TypeError:  # a 0-d numpy array has __len__ but no length
        raise TypeError(f"costs must be a sequence of numbers (one per model), not {costs!r}") from None
    if n != len(models):
        raise ValueError(f"costs has {n} values; {count_phrase} {len(models)} models {list(models)} ({none_hint})")
    out = []
    for i, x in enumerate(costs):
        if not is_real(x):
            raise TypeError(f"costs[{i}] must be a number, not {type(x).__name__}")
        v = float(x)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"costs[{i}] is {v}; {why}costs must be finite and non-negative (no NaN or inf)")
        out.append(v)
    return out


def _peek_encoding(data: bytes, source: str) -> str | None:
    """The tokenizer named in a router file's config (read before the core parses it fully)."""
    import json
    import struct

    if len(data) < 8:
        return None  # the core reports the precise error
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        return None
    try:
        header = json.loads(data[8:8 + n])
        cfg = json.loads(header["__metadata__"]["config"])
        name = cfg.get("features", {}).get("encoding") or None
        return name if cfg.get("features", {}).get("dense") else None
    except Exception:
        return None


def featurize(prompts: Sequence[str], cfg: FeatureConfig, *, num_threads: int = 0) -> tuple[Any, np.ndarray]:
    """The C++ features of prompts for training: (scipy CSR hashed block, raw dense (n, D))."""
    from scipy import sparse

    ps = _check_prompts(prompts)
    fx = cfg.extractor()
    n = len(ps)
    if cfg.hash_bits > 0:
        indptr, indices, values = fx.sparse_batch(ps, check_threads(num_threads))
        X = sparse.csr_matrix((values, indices, indptr), shape=(n, 1 << cfg.hash_bits))
        X.sum_duplicates()
    else:
        X = sparse.csr_matrix((n, 0), dtype=np.float32)
    D = fx.dense_raw_batch(ps, check_threads(num_threads)) if cfg.dense else np.zeros((n, 0), np.float32)
    return X, D


def embedding_texts(prompts: Sequence[str], tail_chars: int = 0) -> list[str]:
    """What an embedder sees of each prompt: all of it, or its last ``tail_chars`` characters."""
    if tail_chars < 0:
        raise ValueError(f"tail_chars must be >= 0, got {tail_chars}")
    return [p[-tail_chars:] for p in prompts] if tail_chars else list(prompts)


def dense_signal_names() -> list[str]:
    return list(_core.router_dense_signal_names())
