"""Loaders for the model-free scorers' data: word-frequency lists (the PyPI package ``wordfreq``,
read at run time) and the word-bigram model trained by ``scripts/train_compress_ngram.py``
(shipped in ``tokenops/compress/data``, checked by sha256)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .. import _core
from .._paths import gunzip_limited

BIGRAM_EN = Path(__file__).resolve().parent / "data" / "bigram_en.txt.gz"
BIGRAM_EN_SHA256 = "77fe0626900475990a9a02abfbc26bcccf6ea09a0b264bd01cef7c6303a6458c"

_LOCK = threading.RLock()
_FREQ: dict[tuple[str, str], _core.CoreFrequencyTable] = {}
_BIGRAM: dict[str, _core.CoreBigramModel] = {}


def frequency_table(language: str = "en", wordlist: str = "best") -> _core.CoreFrequencyTable:
    """Unigram word probabilities for ``language`` from wordfreq's lists (cached per process).

    Raises ImportError with the install command when wordfreq is missing and ValueError for a
    language wordfreq does not cover.
    """
    if not isinstance(language, str):
        raise TypeError(f"language must be str, not {type(language).__name__}")
    key = (language, wordlist)
    with _LOCK:  # held while building: threads asking at once build it once
        table = _FREQ.get(key)
        if table is None:
            table = _FREQ[key] = _build_frequency_table(language, wordlist)
        return table


def _build_frequency_table(language: str, wordlist: str) -> _core.CoreFrequencyTable:
    try:
        import wordfreq
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the self-information scorer reads word frequencies from the 'wordfreq' package: "
            "pip install 'tokenops[compress]' (or pip install wordfreq==3.1.1), or pass "
            "frequencies='bigram' (tokenops.compress(..., frequencies='bigram') or "
            "Compressor(model, frequencies='bigram')) to use only the bundled English bigram model"
        ) from e
    available = wordfreq.available_languages(wordlist=wordlist)
    if language not in available:
        raise ValueError(
            f"wordfreq has no {wordlist!r} list for language {language!r}; available: "
            f"{', '.join(sorted(available))}"
        )
    freqs = wordfreq.get_frequency_dict(language, wordlist=wordlist)
    return _core.CoreFrequencyTable(list(freqs.keys()), list(freqs.values()))


def bigram_model(path: str | os.PathLike[str] | None = None, *, sha256: str | None = None) -> _core.CoreBigramModel:
    """The word-bigram model (default: the bundled English model, sha256-checked). A custom
    ``path`` (gzip or plain text, as written by scripts/train_compress_ngram.py) is checked
    against ``sha256`` when one is given."""
    p = Path(path) if path is not None else BIGRAM_EN
    expected = sha256 if path is not None else BIGRAM_EN_SHA256
    key = f"{p.resolve()}:{expected}"
    with _LOCK:  # held while building: threads asking at once build it once
        model = _BIGRAM.get(key)
        if model is None:
            model = _BIGRAM[key] = _load_bigram(p, expected)
        return model


def _load_bigram(p: Path, expected: str | None) -> _core.CoreBigramModel:
    if not p.is_file():
        raise FileNotFoundError(
            f"bigram model {p} not found; run scripts/train_compress_ngram.py --out {p} to create it"
        )
    raw = p.read_bytes()
    if expected is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != expected:
            raise ValueError(
                f"bigram model {p} has sha256 {got}, expected {expected}: the file is corrupt or "
                "from another version; reinstall tokenops or retrain it"
            )
    data = gunzip_limited(raw, f"bigram model {p}") if raw[:2] == b"\x1f\x8b" else raw
    return _core.CoreBigramModel(data, str(p))


def token_classifier(path: str | os.PathLike[str], keep_label: int = 1) -> _core.CoreTokenClassifier:
    """Loads a BERT token-classification model directory (Hugging Face
    BertForTokenClassification: config.json, model.safetensors, tokenizer.json or vocab.txt),
    such as LLMLingua-2's BERT checkpoints; ``keep_label`` is the label meaning "keep"."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"token-classifier directory {p} does not exist")
    return _core.CoreTokenClassifier.load(str(p), int(keep_label))
