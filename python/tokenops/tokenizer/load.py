"""Locating, verifying and (optionally) downloading vocabulary files.

Search order for an encoding's file: an explicit path; ``$TOKENOPS_DATA_DIR/tokenizers/<file>``
(or the ``../shared/data`` of a checkout); tiktoken's cache folder (``$TIKTOKEN_CACHE_DIR``,
``$DATA_GYM_CACHE_DIR`` or ``<tmp>/data-gym-cache``, files named by the sha1 of the public URL);
tokenops' cache folder, filled by a sha256-verified download from the URL tiktoken uses (only
when a file is missing everywhere else, never at import, never when ``TOKENOPS_OFFLINE=1``).
An encoding whose vocabulary ships inside a pip package (Mistral's tekken: ``mistral-common``)
is also looked for in that package's folder, after the data directory (the package is found,
never imported).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from .._paths import cache_dir, data_dir, sha256_bytes, write_atomic
from .registry import EncodingDef


class VocabularyFileError(FileNotFoundError):
    """A vocabulary file is missing or fails its sha256 check."""


class CorruptVocabularyFileError(VocabularyFileError, ValueError):
    """A vocabulary file exists but is not the expected one (its sha256 differs): a
    :class:`VocabularyFileError` that ``except ValueError`` also catches, as it does a malformed
    rank file's error."""


def byte_level_alphabet() -> dict[int, str]:
    """GPT-2's byte-level alphabet (``bytes_to_unicode``): each byte's printable character, as
    byte-level BPE ``tokenizer.json`` files spell their vocabularies (0x20 is 'Ġ')."""
    bs = list(range(33, 127)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def tiktoken_cache_dir() -> Path:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def tiktoken_cache_key(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()


def _check(data: bytes, expected: str | tuple[str, ...] | None, where: Path | str,
           downloaded: bool = False) -> None:
    if not expected:
        return
    allowed = (expected,) if isinstance(expected, str) else expected
    actual = sha256_bytes(data)
    if actual not in allowed:
        if downloaded:  # nothing was saved
            raise CorruptVocabularyFileError(
                f"the download from {where} is not the expected file: sha256 {actual}, expected "
                f"{' or '.join(allowed)}; nothing was saved. Try again later, or place the file "
                "yourself (see the tokenizers README for the sources)."
            )
        raise CorruptVocabularyFileError(
            f"{where} is corrupt or not the expected file: sha256 {actual}, expected "
            f"{' or '.join(allowed)}. Delete it and fetch it again (see the tokenizers README "
            "for the sources)."
        )


class _NotDownloaded(Exception):
    pass


def _download(url: str, expected: str | None, dest: Path) -> bytes:
    if os.environ.get("TOKENOPS_OFFLINE") == "1":
        raise _NotDownloaded(f"{url} (not downloaded: TOKENOPS_OFFLINE=1)")
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (public https URL)
        data = resp.read()
    _check(data, expected, url, downloaded=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest, data)
    return data


def read_rank_file(d: EncodingDef, path: str | os.PathLike[str] | None = None) -> tuple[bytes, str]:
    """Returns (file bytes, where it came from) for an encoding's rank file."""
    looked: list[str] = []
    if path is not None:
        p = Path(path)
        if p.is_dir():
            raise VocabularyFileError(f"rank file {p} is a directory; pass the path of the .tiktoken file")
        if not p.is_file():
            raise VocabularyFileError(f"no vocabulary file for encoding {d.name!r}. Looked in: {p} (the path "
                                      "given): it does not exist")
        data = p.read_bytes()
        allowed = (d.sha256,) if isinstance(d.sha256, str) else (d.sha256 or ())
        if allowed and sha256_bytes(data) not in allowed:
            what, how = {
                "tekken": (f"the {d.name!r} vocabulary", "Encoding.from_tekken_file(path, name=...)"),
                "sentencepiece": (f"Mistral's {d.name} tokenizer", "SentencePieceEncoding.from_file(path)"),
            }.get(d.fmt, (f"the {d.name!r} vocabulary", "Encoding.from_tiktoken_file(path, name=..., pretokenizer=...)"))
            raise CorruptVocabularyFileError(
                f"{p} is not {what}: sha256 {sha256_bytes(data)}, expected "
                f"{' or '.join(allowed)}. To load a different vocabulary, use {how}"
            )
        return data, str(p)
    ddir = data_dir()
    if ddir is not None:
        p = ddir / "tokenizers" / d.rank_file
        looked.append(str(p))
        if p.is_file():
            data = p.read_bytes()
            _check(data, d.sha256, p)
            return data, str(p)
    else:
        looked.append("$TOKENOPS_DATA_DIR/tokenizers (TOKENOPS_DATA_DIR is not set)")
    if d.package_files is not None:
        package, folder, names = d.package_files
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        if not roots:
            looked.append(f"the {package} package (not installed)")
        for root in roots:
            for name in names:
                p = Path(root) / folder / name
                looked.append(str(p))
                if p.is_file():
                    data = p.read_bytes()
                    _check(data, d.sha256, p)
                    return data, str(p)
    if d.url:
        p = tiktoken_cache_dir() / tiktoken_cache_key(d.url)
        looked.append(str(p))
        if p.is_file():
            data = p.read_bytes()
            try:
                _check(data, d.sha256, p)
                return data, str(p)
            except VocabularyFileError:
                # tiktoken itself would refetch a corrupt cache entry; if nothing else is found,
                # the error says this one is there but corrupt
                looked[-1] += " (present but corrupt: sha256 mismatch; delete it)"
        p = cache_dir() / "encodings" / d.rank_file
        looked.append(str(p))
        if p.is_file():
            data = p.read_bytes()
            _check(data, d.sha256, p)
            return data, str(p)
        try:
            return _download(d.url, d.sha256, p), d.url
        except VocabularyFileError:
            raise  # downloaded, but the sha256 does not match
        except _NotDownloaded as exc:
            looked.append(str(exc))
        except Exception as exc:  # noqa: BLE001 (network errors)
            looked.append(f"{d.url} (download failed: {exc})")
    hint = d.license_note or (
        f"Set TOKENOPS_DATA_DIR to a folder holding tokenizers/{d.rank_file}, pass path=..., or "
        f"allow the one-time download from {d.url}."
    )
    raise VocabularyFileError(
        f"no vocabulary file for encoding {d.name!r}. Looked in: " + "; ".join(looked) + ". " + hint
    )


def read_hf_json(d: EncodingDef) -> tuple[bytes, str] | None:
    """The tokenizer.json of an encoding from the data directory, if there is one."""
    if not d.hf_json:
        return None
    ddir = data_dir()
    if ddir is None:
        return None
    p = ddir / "tokenizers" / d.hf_json
    if not p.is_file():
        return None
    data = p.read_bytes()
    _check(data, d.hf_json_sha256, p)
    return data, str(p)
