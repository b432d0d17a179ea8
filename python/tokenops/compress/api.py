"""Prompt compression: ``compress()``, ``compress_batch()`` and the reusable ``Compressor``.

The work runs in C++ (``tokenops::compress``) with the GIL released; this module validates
input, resolves the target model's tokenizer and wraps results in a dataclass.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _core
from .._args import INT64_MAX, as_int, check_threads, is_real, not_a_mapping
from ..tokenizer import Encoding, encoding_for_model, get_encoding
from . import models

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_FORCE_TOKENS: tuple[str, ...] = ("\n", "?", "!", ".")
UNIT_KINDS = ("word", "number", "punct", "newline", "char", "url", "code")
FLAG_NAMES = {1: "digit", 2: "capital", 4: "entity", 8: "structure", 16: "sentence_end", 32: "protected"}


def _resolve_model(model: str | Encoding) -> tuple[Encoding, str | None]:
    """The encoding that counts ``model``'s tokens, and a note when that is only an approximation:
    models without a public tokenizer (Claude, Gemini...) are counted with o200k_base, as
    :func:`tokenops.count_messages` counts them."""
    if isinstance(model, Encoding):
        return model, None
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name (str) or an Encoding, not {type(model).__name__}")
    try:
        return encoding_for_model(model), None
    except KeyError:
        pass
    try:
        return get_encoding(model), None
    except (KeyError, ValueError):
        pass
    from ..tokenizer.chat import _resolve as _resolve_chat_model

    try:
        enc, kind, note = _resolve_chat_model(model)
    except KeyError:
        raise KeyError(
            f"unknown model or encoding {model!r}: pass a model name such as 'gpt-4o', a claude-/gemini- "
            "name (counted approximately with o200k_base) or an encoding name such as 'o200k_base' "
            "(tokenops.list_encoding_names())"
        ) from None
    return enc, (note if kind == "approximation" else None)


def _resolve_encoding(model: str | Encoding) -> Encoding:
    return _resolve_model(model)[0]


@dataclass(frozen=True)
class Unit:
    """One unit of the original text with its score and fate."""

    text: str
    kind: str
    kept: bool
    score: float  # combined score (inf: forced)
    tokens: int  # target-model tokens attributed to it (leading whitespace included)
    chunk: int
    flags: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class CompressionResult:
    """What ``compress`` returns.

    ``ratio`` is the compression factor ``original_tokens / compressed_tokens`` (2.0 = half);
    ``rate`` its inverse, the kept fraction. ``within_tolerance`` says whether the achieved count
    lands within max(1% of the target, 5 tokens); ``forced_over_budget`` that the units that must
    survive (protected spans, force tokens, digits...) alone exceed the target.
    """

    text: str
    original_tokens: int
    compressed_tokens: int
    target_tokens: int
    within_tolerance: bool
    forced_over_budget: bool
    model: str
    source: str = field(repr=False)
    _raw: dict[str, Any] = field(repr=False, compare=False)
    #: e.g. that the counts are an approximation (a model without a public tokenizer)
    notes: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        return self.original_tokens / self.compressed_tokens if self.compressed_tokens else float("inf") if self.original_tokens else 1.0

    @property
    def rate(self) -> float:
        return self.compressed_tokens / self.original_tokens if self.original_tokens else 1.0

    @property
    def saved_tokens(self) -> int:
        return self.original_tokens - self.compressed_tokens

    def __repr__(self) -> str:
        return (
            f"CompressionResult({self.original_tokens} -> {self.compressed_tokens} tokens, "
            f"{self.ratio:.2f}x, target {self.target_tokens}, model {self.model!r})"
        )

    # ---------------------------------------------------------------- per-unit inspection
    @property
    def scores(self) -> np.ndarray:
        """Combined score per unit (float32; inf for forced units)."""
        return self._raw["unit_scores"]

    @property
    def kept_mask(self) -> np.ndarray:
        return self._raw["kept"].astype(bool)

    @property
    def chunk_scores(self) -> np.ndarray:
        """Priority of each chunk (question relevance + position prior; -1 for duplicates)."""
        return self._raw["chunk_scores"]

    def _byte_spans(self) -> tuple[bytes, Any, Any, Any]:
        r = self._raw
        return _core_bytes(self.source), r["unit_ws"], r["unit_start"], r["unit_end"]

    @property
    def units(self) -> list[Unit]:
        """Every unit with its text, kind, score, token count and whether it was kept."""
        data, _ws, start, end = self._byte_spans()
        r = self._raw
        out = []
        for i in range(len(start)):
            flags = tuple(name for bit, name in FLAG_NAMES.items() if int(r["unit_flags"][i]) & bit)
            out.append(
                Unit(
                    text=data[start[i] : end[i]].decode("utf-8", "replace"),
                    kind=UNIT_KINDS[int(r["unit_kind"][i])],
                    kept=bool(r["kept"][i]),
                    score=float(r["unit_scores"][i]),
                    tokens=int(r["unit_tokens"][i]),
                    chunk=int(r["unit_chunk"][i]),
                    flags=flags,
                )
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """The units as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame([u.__dict__ for u in self.units])

    def render_html(self, *, show_scores: bool = False) -> str:
        """The original text with kept units in green and dropped ones struck through in red."""
        data, ws, start, end = self._byte_spans()
        kept = self._raw["kept"]
        scores = self._raw["unit_scores"]
        parts = [
            "<div style='font-family:monospace;white-space:pre-wrap;line-height:1.5'>",
            f"<div style='margin-bottom:4px;color:#555'>{html.escape(repr(self))}</div>",
        ]
        for i in range(len(start)):
            gap = data[ws[i] : start[i]].decode("utf-8", "replace")
            txt = data[start[i] : end[i]].decode("utf-8", "replace")
            parts.append(html.escape(gap))
            title = f" title='score {float(scores[i]):.3f}'" if show_scores else ""
            if kept[i]:
                parts.append(f"<span style='background:#d7f5d7;color:#064'{title}>{html.escape(txt)}</span>")
            else:
                parts.append(
                    f"<span style='background:#fbe0e0;color:#a33;text-decoration:line-through'{title}>"
                    f"{html.escape(txt)}</span>"
                )
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.render_html(show_scores=True)

    def show(self) -> None:
        """Display the coloured kept/dropped view in a notebook (prints the text elsewhere)."""
        try:
            from IPython.display import HTML, display

            display(HTML(self.render_html(show_scores=True)))
        except ImportError:  # pragma: no cover
            print(self.text)


def _core_bytes(text: str) -> bytes:
    """The UTF-8 the core compressed (the unit offsets index it): a surrogate pair written as two
    code points is the one character it stands for, a lone surrogate is U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")


def _check_text(text: object, what: str = "text") -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        raise TypeError(f"{what} must be str, not {type(text).__name__}; decode it first, e.g. data.decode('utf-8')")
    raise TypeError(f"{what} must be str, not {type(text).__name__}")


def _check_budget(rate: float | None, target_tokens: int | None) -> tuple[float, int]:
    if rate is not None and target_tokens is not None:
        raise ValueError("give either rate or target_tokens, not both")
    if rate is not None:
        if not is_real(rate):
            raise TypeError(f"rate must be a float in (0, 1], not {type(rate).__name__}")
        rate = float(rate)
        if not (0.0 < rate <= 1.0):
            raise ValueError(f"rate must be in (0, 1] (the fraction of tokens to keep), got {rate}")
        return rate, -1
    if target_tokens is not None:
        target_tokens = as_int(target_tokens, "target_tokens")
        if target_tokens <= 0:
            raise ValueError(f"target_tokens must be a positive number of tokens, got {target_tokens}")
        # A budget at or above the text's size keeps it unchanged; the core takes int64.
        return 0.0, min(target_tokens, INT64_MAX)
    return 0.5, -1


# Scores are float32 in the core: a weight beyond this overflowed every score to inf.
_MAX_WEIGHT = 1e30


def _protect_spans(protect: Iterable[Any]) -> list[Any]:
    """Protected strings without their edge whitespace: the spacing between kept units is
    normalised, so "gamma " could never come back verbatim; "gamma" does."""
    out = []
    for p in protect:
        if isinstance(p, str) and p and not p.strip():
            raise ValueError("protect strings must hold non-space text, got a whitespace-only string")
        out.append(p.strip() if isinstance(p, str) else p)
    return out


def _check_weights(**weights: Any) -> None:
    for name, w in weights.items():
        if not (is_real(w) and math.isfinite(w) and 0 <= w <= _MAX_WEIGHT):
            raise ValueError(f"{name} must be a finite number in [0, {_MAX_WEIGHT:g}], got {w!r}")


class Compressor:
    """A reusable, thread-safe compressor for one target model and one scorer configuration.

    Scorers (weights >= 0, each normalised before combining):

    * ``info_weight``: self-information of each word, from wordfreq's frequency list for
      ``language`` refined by the bundled word-bigram model (``frequencies="wordfreq"``), the
      bigram model alone (``"bigram"``) or neither (``None``);
    * ``bm25_weight``: question-aware BM25 relevance of sentences and their lines;
      ``bm25_window`` > 0 scores a line longer than twice that many terms as overlapping
      windows of ``bm25_window`` terms (whole sentences, stride half a window), for texts whose
      layout is not carried by newlines (transcripts); 0 (default) scores lines whole;
    * ``embed_weight``: cosine similarity between the question and each sentence with the
      native sentence embedder (``embedder``: a :class:`tokenops.Embedder`, ``"default"`` for
      all-MiniLM-L6-v2, or None to skip it);
    * ``classifier_weight``: keep-probability of each word from a BERT token-classification
      model (``classifier``: a model directory such as LLMLingua-2's BERT checkpoints, run
      natively; None to skip it);
    * near-duplicate chunks (word 3-shingle Jaccard >= 0.5 at similar length, found by MinHash)
      are dropped first when ``dedup`` is on (per call).
    """

    def __init__(
        self,
        model: str | Encoding = "gpt-4o",
        *,
        language: str = "en",
        frequencies: str | None = "wordfreq",
        bigram: bool | str = True,
        info_weight: float = 1.0,
        bm25_weight: float = 1.0,
        bm25_sentence: float = 0.5,
        bm25_paragraph: float = 0.5,
        bm25_neighbour: float = 0.3,
        bm25_window: int = 0,
        embedder: Any = None,
        embed_weight: float = 1.0,
        embed_threads: int = 0,
        classifier: Any = None,
        classifier_weight: float = 1.0,
    ) -> None:
        self.encoding, self.token_note = _resolve_model(model)
        self.model = model if isinstance(model, str) else self.encoding.name
        _check_weights(info_weight=info_weight, bm25_weight=bm25_weight, bm25_sentence=bm25_sentence,
                       bm25_paragraph=bm25_paragraph, bm25_neighbour=bm25_neighbour,
                       embed_weight=embed_weight, classifier_weight=classifier_weight)
        embed_threads = check_threads(embed_threads, "embed_threads", negative_ok=False)
        if isinstance(bm25_window, bool) or not hasattr(bm25_window, "__index__") or bm25_window < 0:
            raise ValueError(f"bm25_window must be an int >= 0 (terms per window, 0 = off), got {bm25_window!r}")
        # The core counts terms in 32 bits; a window longer than any text is the same as 2**32 - 1.
        bm25_window = min(int(bm25_window), 2**32 - 1)
        if frequencies not in ("wordfreq", "bigram", None):
            raise ValueError("frequencies must be 'wordfreq', 'bigram' or None")
        freq = models.frequency_table(language) if frequencies == "wordfreq" else None
        if bigram is True:
            bg = models.bigram_model() if language == "en" else None
        elif bigram:
            bg = models.bigram_model(bigram)
        else:
            bg = None
        if frequencies == "bigram" and bg is None:
            raise ValueError("frequencies='bigram' needs the bigram model (bigram=True, English)")
        self.language = language
        if embedder == "default":
            from ..embed import Embedder

            embedder = Embedder.load()
        if embedder is not None and not hasattr(embedder, "_core"):
            raise TypeError("embedder must be a tokenops.Embedder, 'default' or None")
        self.embedder = embedder
        if classifier is not None and not isinstance(classifier, _core.CoreTokenClassifier):
            classifier = models.token_classifier(classifier)
        self.classifier = classifier
        self._core = _core.CoreCompressor(
            self.encoding._core,
            freq,
            bg,
            info_weight=float(info_weight),
            bm25_weight=float(bm25_weight),
            bm25_sentence=float(bm25_sentence),
            bm25_paragraph=float(bm25_paragraph),
            bm25_neighbour=float(bm25_neighbour),
            bm25_window=int(bm25_window),
            embedder=embedder._core if embedder is not None else None,
            embed_weight=float(embed_weight),
            embed_threads=int(embed_threads),
            classifier=classifier,
            classifier_weight=float(classifier_weight),
        )

    def count(self, text: str) -> int:
        """Tokens of ``text`` for this compressor's model (ordinary text)."""
        return int(self._core.count(_check_text(text)))

    def __repr__(self) -> str:
        return f"<Compressor model={self.model!r} language={self.language!r}>"

    def _kwargs(
        self,
        rate: float | None,
        target_tokens: int | None,
        force_tokens: Sequence[str] = DEFAULT_FORCE_TOKENS,
        force_digits: bool = True,
        force_entities: bool = False,
        force_code: bool = True,
        drop_consecutive: bool = True,
        structure: str | None = None,
        protect: Sequence[str] = (),
        chunk_slack: float = 1.0,
        chunk_weight: float = 1.0,
        position_weight: float = 0.15,
        answer_type_weight: float = 0.15,
        dedup: bool = True,
    ) -> dict[str, Any]:
        r, t = _check_budget(rate, target_tokens)
        if structure not in (None, "json"):
            raise ValueError(f"structure must be None or 'json', got {structure!r}")
        force_tokens = [] if force_tokens is None else force_tokens
        protect = [] if protect is None else protect
        if isinstance(force_tokens, str) or isinstance(protect, str):
            raise TypeError("force_tokens and protect must be lists of str, not a single str")
        for what, seq in (("force_tokens", force_tokens), ("protect", protect)):
            if not isinstance(seq, Iterable):
                raise TypeError(f"{what} must be a list of str (or None), not {type(seq).__name__}")
        if not is_real(chunk_slack):
            raise TypeError(f"chunk_slack must be a number >= 1, not {type(chunk_slack).__name__}")
        if not (math.isfinite(chunk_slack) and chunk_slack >= 1.0):
            raise ValueError(f"chunk_slack must be a finite number >= 1, got {float(chunk_slack)!r}")
        _check_weights(chunk_weight=chunk_weight, position_weight=position_weight,
                       answer_type_weight=answer_type_weight)
        return {
            "rate": r,
            "target_tokens": t,
            "force_tokens": list(force_tokens),
            "force_digits": bool(force_digits),
            "force_entities": bool(force_entities),
            "force_code": bool(force_code),
            "drop_consecutive": bool(drop_consecutive),
            "json": structure == "json",
            "protect": _protect_spans(protect),
            "protect_spans": [],
            "chunk_slack": float(chunk_slack),
            "chunk_weight": float(chunk_weight),
            "position_weight": float(position_weight),
            "answer_type_weight": float(answer_type_weight),
            "dedup": bool(dedup),
        }

    def compress(
        self,
        text: str,
        question: str | None = None,
        *,
        rate: float | None = None,
        target_tokens: int | None = None,
        force_tokens: Sequence[str] = DEFAULT_FORCE_TOKENS,
        force_digits: bool = True,
        force_entities: bool = False,
        force_code: bool = True,
        drop_consecutive: bool = True,
        structure: str | None = None,
        protect: Sequence[str] = (),
        chunk_slack: float = 1.0,
        chunk_weight: float = 1.0,
        position_weight: float = 0.15,
        answer_type_weight: float = 0.15,
        dedup: bool = True,
    ) -> CompressionResult:
        """Compresses ``text`` to ``rate`` x its tokens or to ``target_tokens`` (default rate 0.5).

        With a ``question``, chunks are first ranked by relevance (question-aware coarse stage)
        and words inside kept chunks are then chosen by score; ``force_digits``/``force_code``/
        ``force_entities`` then keep their units inside the kept chunks only (a passage judged
        irrelevant goes whole, numbers included). ``protect`` lists substrings
        that are kept wherever they occur; ``structure="json"`` keeps JSON valid by shortening
        only string values. A budget at or above the text's size returns it unchanged.

        In the coarse stage a chunk's priority is its relevance (normalised to at most 1), plus
        ``position_weight`` x (1 - its position / the number of chunks), plus
        ``answer_type_weight`` when it holds a candidate of the answer type the question's
        first wh-word asks for: "when" / "what year" a date or year, "who" / "whom" / "whose"
        two or more capitalised words of a name, "where" the same, "how many" / "how much" a
        number (0 turns the prior off; docs/compression.md has what it changes).
        """
        text = _check_text(text)
        if question is not None:
            question = _check_text(question, "question")
        kw = self._kwargs(rate, target_tokens, force_tokens, force_digits, force_entities, force_code,
                          drop_consecutive, structure, protect, chunk_slack, chunk_weight,
                          position_weight, answer_type_weight, dedup)
        raw = self._core.compress(text, question, **kw)
        return self._result(text, raw)

    def compress_batch(
        self,
        texts: Sequence[str],
        questions: Sequence[str | None] | None = None,
        *,
        num_threads: int = 0,
        rate: float | None = None,
        target_tokens: int | None = None,
        **options: Any,
    ) -> list[CompressionResult]:
        """Compresses many texts in parallel in C++ with the GIL released (``num_threads=0``:
        all cores). ``questions``: one per text, None for a text without a question (as
        ``compress(text, None)``), or None for none at all. ``options`` are those of
        :meth:`compress`. Results are identical for any thread count and to one
        :meth:`compress` per text."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a list of str, not a single str")
        not_a_mapping(texts, "texts")  # a dict's keys were compressed as the texts
        texts = list(texts)
        if questions is not None:
            if isinstance(questions, (str, bytes)):
                raise TypeError("questions must be a list of str (one per text), not a single str")
            not_a_mapping(questions, "questions")
            questions = list(questions)
            if len(questions) != len(texts):
                # (an empty list used to mean "no questions" for any number of texts)
                raise ValueError(f"questions must have one entry per text (None for no question): got "
                                 f"{len(questions)} for {len(texts)} texts")
            # None is no question, as in compress(): the core reads an empty question the same way.
            questions = ["" if q is None else q for q in questions]
        kw = self._kwargs(rate, target_tokens, **options)
        raws = self._core.compress_batch(texts, questions, num_threads=check_threads(num_threads), **kw)
        return [self._result(t, r) for t, r in zip(texts, raws)]

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a Compressor cannot be pickled (it holds native scorer tables); create it in "
                        "each process (tokenops.Compressor(...)), or call tokenops.compress there")

    def _result(self, text: str, raw: dict[str, Any]) -> CompressionResult:
        return CompressionResult(
            text=raw["text"],
            original_tokens=int(raw["original_tokens"]),
            compressed_tokens=int(raw["compressed_tokens"]),
            target_tokens=int(raw["target_tokens"]),
            within_tolerance=bool(raw["within_tolerance"]),
            forced_over_budget=bool(raw["forced_over_budget"]),
            model=self.model,
            source=text,
            _raw=raw,
            notes=(self.token_note,) if self.token_note else (),
        )


_DEFAULT: dict[tuple[Any, str], Compressor] = {}
_DEFAULT_LOCK = threading.RLock()


def default_compressor(model: str | Encoding = "gpt-4o", language: str = "en",
                       frequencies: str | None = "wordfreq") -> Compressor:
    """The process-wide default Compressor for a model, language and word-frequency source
    (built once; ``frequencies`` as in :class:`Compressor`)."""
    key = (model if isinstance(model, str) else id(model), language, frequencies)
    with _DEFAULT_LOCK:  # held while building: threads asking at once build one
        c = _DEFAULT.get(key)
        if c is None:
            c = _DEFAULT[key] = Compressor(model, language=language, frequencies=frequencies)
    return c


def compress(
    text: str,
    question: str | None = None,
    rate: float | None = None,
    target_tokens: int | None = None,
    model: str | Encoding = "gpt-4o",
    *,
    language: str = "en",
    frequencies: str | None = "wordfreq",
    **options: Any,
) -> CompressionResult:
    """Compresses a prompt for ``model`` to ``rate`` x its tokens or to ``target_tokens``.

    >>> r = tokenops.compress(long_context, question="Who wrote it?", rate=0.33)
    >>> r.text, r.original_tokens, r.compressed_tokens, r.ratio

    ``language`` and ``frequencies`` choose the default compressor (``frequencies="bigram"``
    needs no wordfreq; see :class:`Compressor`). Options are those of
    :meth:`Compressor.compress` (force_tokens, force_digits, protect, structure="json", ...).
    """
    return default_compressor(model, language, frequencies).compress(
        text, question, rate=rate, target_tokens=target_tokens, **options
    )


def compress_batch(
    texts: Sequence[str],
    questions: Sequence[str | None] | None = None,
    rate: float | None = None,
    target_tokens: int | None = None,
    model: str | Encoding = "gpt-4o",
    *,
    language: str = "en",
    frequencies: str | None = "wordfreq",
    num_threads: int = 0,
    **options: Any,
) -> list[CompressionResult]:
    """Batch version of :func:`compress` (parallel C++, GIL released). ``questions`` holds one
    question per text, None where a text has none."""
    return default_compressor(model, language, frequencies).compress_batch(
        texts, questions, rate=rate, target_tokens=target_tokens, num_threads=num_threads, **options
    )
