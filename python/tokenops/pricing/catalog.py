"""Price catalogues: loading (LiteLLM JSON, the copy inside an installed ``litellm``, the shared
snapshot, genai-prices), the packaged default catalogue with its provenance, and its refresh."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .._args import as_int
from .._paths import gunzip_limited, write_atomic
from .._core import CoreCatalog, parse_iso_date

_PKG_DATA = Path(__file__).resolve().parent / "data"
DEFAULT_FILE = "litellm_prices.json.gz"
PROVENANCE_FILE = "provenance.json"
SNAPSHOT_NAME = "litellm_model_prices_and_context_window.json"

# Fields kept in the packaged catalogue (prices and the metadata tokenops reads).
_KEEP_META = {
    "litellm_provider", "mode", "max_tokens", "max_input_tokens", "max_output_tokens",
    "supports_prompt_caching", "supported_modalities", "supported_output_modalities",
    "deprecation_date", "tiered_pricing", "search_context_cost_per_query", "supports_reasoning",
    "provider_specific_entry",  # Anthropic's per-call multipliers (US-only inference, fast mode)
}


@dataclass(frozen=True)
class ImportProblem:
    """One malformed catalogue row that was skipped (the rest of the catalogue is kept)."""

    key: str
    field: str
    message: str


@dataclass(frozen=True)
class ModelInfo:
    key: str
    provider: str
    mode: str
    context_window: int
    max_output: int
    modalities: list[str]
    tokenizer: str
    deprecation_date: str
    source: str
    checked_date: str
    supports_prompt_caching: bool
    rows: list[dict[str, Any]]
    litellm_fields: dict[str, float]
    matched_by: str = "exact"
    aliases: list[str] = field(default_factory=list)
    # input + output limit where the source states it (genai-prices' context_window); 0 unknown
    # (LiteLLM lists an input limit, context_window above, and max_output, not the total)
    total_window: int = 0
    # per-call price multipliers (LiteLLM's provider_specific_entry: {"us": 1.1, "fast": 6.0})
    multipliers: dict[str, float] = field(default_factory=dict)
    # prices of tokens tokenops bills inside another bucket: kind -> {field, usd, exact}
    unmodelled: dict[str, dict[str, Any]] = field(default_factory=dict)


class Catalog:
    """An immutable price catalogue (C++ ``CoreCatalog``) with its provenance.

    Build one with :meth:`default`, :meth:`from_litellm`, :meth:`from_installed_litellm`,
    :meth:`from_snapshot` or :meth:`from_genai_prices`.
    """

    def __init__(self, core: CoreCatalog, problems: list[tuple[str, str, str]], *, kind: str,
                 provenance: dict[str, Any] | None = None) -> None:
        self._core = core
        self.problems: list[ImportProblem] = [ImportProblem(*p) for p in problems]
        self.kind = kind
        self.provenance: dict[str, Any] = dict(provenance or {})
        self._keys: list[str] | None = None

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_litellm(cls, source: str | os.PathLike[str] | bytes, *, name: str | None = None,
                     checked_date: str = "", strict: bool = False,
                     provenance: dict[str, Any] | None = None) -> Catalog:
        """From a LiteLLM ``model_prices_and_context_window.json`` (path or bytes).

        A malformed row is skipped and listed in ``.problems``; ``strict=True`` raises ValueError
        naming every bad row and field instead.
        """
        if checked_date != "":
            checked_date = _iso_date_arg(checked_date, "checked_date")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if isinstance(source, (bytes, bytearray)):
            data, label = bytes(source), name or "<bytes>"
        else:
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"LiteLLM price file not found: {path}")
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gunzip_limited(data, str(path))
            label = name or str(path)
        core, problems = CoreCatalog.from_litellm_json(data, label, checked_date)
        cat = cls(core, problems, kind="litellm", provenance={"source": label, "checked_date": checked_date,
                                                               "sha256": hashlib.sha256(data).hexdigest(),
                                                               **(provenance or {})})
        if strict and cat.problems:
            raise ValueError(cat._problem_text())
        return cat

    @classmethod
    def from_installed_litellm(cls, strict: bool = False) -> Catalog:
        """The price JSON bundled inside the installed ``litellm`` package (its
        ``model_prices_and_context_window_backup.json``), i.e. what ``litellm.cost_per_token``
        prices with when ``LITELLM_LOCAL_MODEL_COST_MAP=True``."""
        try:
            from importlib import metadata
            from importlib.util import find_spec
        except ImportError as e:  # pragma: no cover
            raise ImportError("importlib.metadata is required") from e
        spec = find_spec("litellm")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("litellm is not installed: pip install 'litellm==1.85.7' (or pass a JSON path)")
        root = Path(next(iter(spec.submodule_search_locations)))
        path = root / "model_prices_and_context_window_backup.json"
        if not path.is_file():
            raise FileNotFoundError(f"installed litellm has no bundled price file at {path}")
        version = metadata.version("litellm")
        return cls.from_litellm(path, name=f"litellm {version} (installed) {path.name}", strict=strict,
                                provenance={"litellm_version": version})

    @classmethod
    def from_snapshot(cls, data_dir: str | os.PathLike[str] | None = None, strict: bool = False) -> Catalog:
        """The dated LiteLLM v1.83.2 snapshot in the shared data folder (``pricing/``)."""
        from .._paths import data_dir as _dd

        base = Path(data_dir) if data_dir is not None else _dd(required=True)
        assert base is not None
        path = base / "pricing" / SNAPSHOT_NAME
        return cls.from_litellm(path, name=f"LiteLLM v1.83.2 snapshot ({SNAPSHOT_NAME})",
                                checked_date="2026-04-30", strict=strict,
                                provenance={"litellm_version": "1.83.2"})

    @classmethod
    def from_genai_prices(cls, path: str | os.PathLike[str] | None = None, strict: bool = False) -> Catalog:
        """pydantic genai-prices v2 ``data.json`` (default: the shared data folder's copy)."""
        if path is None:
            from .._paths import data_dir as _dd

            base = _dd(required=True)
            assert base is not None
            path = base / "pricing" / "genai_prices" / "data.json"
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"genai-prices data.json not found: {p}")
        data = p.read_bytes()
        core, problems = CoreCatalog.from_genai_json(data, f"genai-prices {p}", "2026-08-21")
        cat = cls(core, problems, kind="genai-prices",
                  provenance={"source": str(p), "sha256": hashlib.sha256(data).hexdigest()})
        if strict and cat.problems:
            raise ValueError(cat._problem_text())
        return cat

    @classmethod
    def default(cls) -> Catalog:
        """The catalogue shipped in the package (see ``provenance``); cached per process."""
        global _DEFAULT
        with _DEFAULT_LOCK:  # threads asking at once load it once
            if _DEFAULT is None:
                _DEFAULT = load_packaged(_PKG_DATA)
            return _DEFAULT

    def __reduce__(self) -> tuple[Any, ...]:
        if self is _DEFAULT:
            return (Catalog.default, ())  # by reference, like a registered tiktoken encoding
        raise TypeError("only Catalog.default() can be pickled (by reference); build this catalogue "
                        "again in the receiving process (the Catalog.from_... call that made it)")

    # ---------------------------------------------------------------- queries
    def __len__(self) -> int:
        return len(self._core)

    def keys(self) -> list[str]:
        if self._keys is None:
            self._keys = list(self._core.keys())
        return self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or _name_problem(name):
            return False
        try:
            self._core.resolve(name)
            return True
        except KeyError:
            return False

    def resolve(self, name: str) -> ModelInfo:
        """The entry for a name users pass (``gpt-4o``, ``openai/gpt-4o``, ``anthropic/claude-…``,
        Bedrock/Vertex/Azure forms). Unknown names raise KeyError listing close matches."""
        check_model_name(name)
        idx, how = self._core.resolve(name)
        return self._info(idx, how)

    def _info(self, idx: int, how: str = "exact") -> ModelInfo:
        e = self._core.entry(idx)
        if not e["tokenizer"]:
            e["tokenizer"] = _tokenizer_for(e["key"])
        return ModelInfo(matched_by=how, **e)

    def close_matches(self, name: str, k: int = 5) -> list[str]:
        """Up to ``k`` catalogue keys closest to ``name``."""
        check_model_name(name)
        k = as_int(k, "k")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        return list(self._core.close_matches(name, min(k, 1000)))

    def entries(self) -> Iterator[ModelInfo]:
        for i in range(len(self)):
            yield self._info(i)

    def _problem_text(self) -> str:
        lines = [f"{len(self.problems)} malformed catalogue row(s):"]
        lines += [f"  {p.key}: {p.message}" for p in self.problems[:50]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        src = self.provenance.get("source", self.kind)
        return f"Catalog({len(self)} models from {src!r}, {len(self.problems)} problems)"


_DEFAULT: Catalog | None = None
_DEFAULT_LOCK = threading.Lock()


def _name_problem(name: str) -> str:
    if not name:
        return "is empty"
    if "\x00" in name:
        return "contains a NUL character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return ""


def check_model_name(name: object) -> str:
    """``name`` if it can be a model name: TypeError for non-strings, ValueError for an empty
    name, a NUL or a lone surrogate (which the core could not read back)."""
    if not isinstance(name, str):
        raise TypeError(f"model must be a str, not {type(name).__name__}")
    problem = _name_problem(name)
    if problem:
        raise ValueError(f"model name {name!r} {problem}")
    return name


@functools.lru_cache(maxsize=4096)
def _tokenizer_for(key: str) -> str:
    """The tokenops encoding for a model key where one is known ("" otherwise). Cached: a miss
    costs the close-match search of the tokenizer's KeyError (~0.5 ms)."""
    from ..tokenizer import encoding_name_for_model

    for name in (key, key.rsplit("/", 1)[-1]):
        try:
            return str(encoding_name_for_model(name))
        except (KeyError, ValueError):
            continue
    return ""


def load_packaged(folder: Path) -> Catalog:
    """Loads a packaged catalogue folder (gzip JSON + provenance.json), verifying its sha256."""
    prov_path = folder / PROVENANCE_FILE
    if not prov_path.is_file():
        raise FileNotFoundError(
            f"packaged price catalogue missing in {folder}; regenerate it with "
            "`python -m tokenops refresh-prices --from-snapshot`"
        )
    # provenance names its data file (refresh_default writes content-addressed names and switches
    # by replacing provenance.json alone); the shipped catalogue's is DEFAULT_FILE. A refresh in
    # another process may switch and remove the file named by the provenance read a moment ago:
    # then the new provenance names the new file, so read it again.
    seen: set[str] = set()
    while True:
        prov = _read_provenance(prov_path)
        name = prov.get("file", DEFAULT_FILE)
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ValueError(f"{prov_path}: 'file' must name a file in {folder}, got {name!r}")
        data_path = folder / name
        try:
            raw = data_path.read_bytes()
            break
        except FileNotFoundError:
            if name in seen:
                raise FileNotFoundError(f"{data_path}, named by {prov_path}, is missing; regenerate the catalogue "
                                        "with `python -m tokenops refresh-prices --from-snapshot`") from None
            seen.add(name)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != prov.get("file_sha256"):
        raise ValueError(f"{data_path} sha256 {digest} does not match provenance.json; regenerate the catalogue")
    checked = prov.get("checked_date", "")
    try:
        checked = _iso_date_arg(checked, "checked_date") if checked != "" else ""
    except (TypeError, ValueError) as e:
        raise ValueError(f"{prov_path}: {e}") from None
    return Catalog.from_litellm(gunzip_limited(raw, str(data_path)), name=prov.get("source", "packaged"),
                                checked_date=checked, provenance=prov)


def _read_provenance(path: Path) -> dict[str, Any]:
    try:
        prov = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise ValueError(f"{path} is not valid JSON ({e}); regenerate the catalogue with "
                         "`python -m tokenops refresh-prices --from-snapshot`") from None
    if not isinstance(prov, dict):
        raise ValueError(f"{path} must hold a JSON object, not {type(prov).__name__}")
    return prov


def compact_litellm(doc: dict[str, Any]) -> dict[str, Any]:
    """Keeps only prices and the metadata tokenops reads (drops docs, flags, URLs). A NaN or
    infinite value (LiteLLM's JSON is read by Python's json, which takes those literals) left in a
    kept field the importer does not check becomes null, so the shipped file is plain JSON."""
    out: dict[str, Any] = {}
    for key, entry in doc.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        out[key] = {k: _finite(v) for k, v in entry.items() if "cost" in k or k in _KEEP_META}
    return out


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


_DATA_NAME = re.compile(r"litellm_prices(-[0-9a-f]{16})?\.json\.gz")  # DEFAULT_FILE or a refresh's
_REFRESH_THREADS = threading.RLock()
_refresh_depth = 0


@contextlib.contextmanager
def _refresh_lock(folder: Path) -> Iterator[None]:
    """Serialises catalogue switches in ``folder``: threads of this process through a lock,
    processes through an exclusive ``flock`` on ``folder/.refresh-lock`` (POSIX; elsewhere the
    switch still never removes the file provenance.json names). Re-entrant within a thread."""
    global _refresh_depth
    with _REFRESH_THREADS:
        if _refresh_depth > 0:
            _refresh_depth += 1
            try:
                yield
            finally:
                _refresh_depth -= 1
            return
        try:
            import fcntl
        except ImportError:  # not POSIX
            fcntl = None  # type: ignore[assignment]
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".refresh-lock", os.O_RDWR | os.O_CREAT, 0o666) if fcntl else -1
        try:
            if fcntl:
                fcntl.flock(fd, fcntl.LOCK_EX)
            _refresh_depth = 1
            try:
                yield
            finally:
                _refresh_depth = 0
        finally:
            if fd >= 0:
                os.close(fd)  # releases the flock


def refresh_default(src: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None, *,
                    source_label: str | None = None, checked_date: str | None = None,
                    litellm_version: str | None = None, allow_shrink: bool = False) -> dict[str, Any]:
    """Rebuilds the packaged catalogue from a (newer) LiteLLM JSON and writes its provenance.

    Every row must parse (a malformed row aborts the refresh, naming it). A source with no model
    rows is refused, and so is one with fewer than half the models of the catalogue it would
    replace unless ``allow_shrink=True`` (a truncated download must not wipe the prices); an
    existing catalogue that cannot be read is not replaced without it either. The data goes to a
    new content-addressed file, synced, and ``provenance.json`` (which names it) is then replaced
    in one rename, so a crash at any point leaves the old catalogue or the new one, never a mix.
    Returns the provenance.
    """
    if checked_date is not None:
        checked_date = _iso_date_arg(checked_date, "checked_date")
    src_path = Path(src)
    raw = src_path.read_bytes()
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{src_path} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{src_path} must hold a JSON object of model rows, not {type(doc).__name__}")
    # Validate with the same importer the package uses.
    probe = Catalog.from_litellm(raw, name=str(src_path))
    if probe.problems:
        raise ValueError("refusing to ship a catalogue with malformed rows:\n" + probe._problem_text())
    compact = compact_litellm(doc)
    if not compact or len(probe) == 0:
        raise ValueError(f"{src_path} has no model rows; refusing to replace the price catalogue with an empty one")
    out = Path(out_dir) if out_dir is not None else _PKG_DATA
    if not allow_shrink:
        try:
            old_n = len(load_packaged(out))
        except FileNotFoundError as e:
            if (out / PROVENANCE_FILE).exists():  # its data file is gone: a damaged catalogue
                raise ValueError(f"the catalogue in {out} cannot be read ({e}); refusing to replace it without "
                                 "allow_shrink=True / --allow-shrink") from None
            old_n = 0  # no catalogue there yet
        except (OSError, ValueError, KeyError) as e:
            # it used to count as 0 models, so after a damaged refresh a 1-model file replaced it
            raise ValueError(f"the catalogue in {out} cannot be read ({e}); refusing to replace it without "
                             "allow_shrink=True / --allow-shrink") from None
        if len(compact) * 2 < old_n:
            raise ValueError(f"{src_path} has {len(compact)} models, the catalogue in {out} has {old_n}; "
                             "refusing to drop more than half of it (pass allow_shrink=True / --allow-shrink "
                             "if that is intended)")
    payload = json.dumps(compact, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    gz = gzip.compress(payload, compresslevel=9, mtime=0)
    out.mkdir(parents=True, exist_ok=True)
    prov = {
        "source": source_label or f"LiteLLM model_prices_and_context_window.json ({src_path.name})",
        "litellm_version": litellm_version,
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "checked_date": checked_date or date.today().isoformat(),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "models": len(compact),
        "file": f"litellm_prices-{hashlib.sha256(gz).hexdigest()[:16]}.json.gz",
        "file_sha256": hashlib.sha256(gz).hexdigest(),
        "license": "MIT (LiteLLM)",
        "note": "Prices are facts as published by LiteLLM; tokenops keeps the prices and provenance only.",
    }
    with _refresh_lock(out):
        old_file = None
        try:
            old_file = _read_provenance(out / PROVENANCE_FILE).get("file", DEFAULT_FILE)
        except (OSError, ValueError):
            pass
        write_atomic(out / prov["file"], gz)  # a new name: the live catalogue is untouched
        write_atomic(out / PROVENANCE_FILE, (json.dumps(prov, indent=2) + "\n").encode())  # the switch
        # the previous data file, if it is one refresh_default writes (a provenance naming
        # provenance.json or the lock file must not delete them), unless provenance.json names
        # it again (never the live one)
        if (isinstance(old_file, str) and old_file != prov["file"] and _DATA_NAME.fullmatch(old_file)):
            try:
                if _read_provenance(out / PROVENANCE_FILE).get("file") != old_file:
                    (out / old_file).unlink()
            except (OSError, ValueError):
                pass
    global _DEFAULT
    _DEFAULT = None
    return prov


def _iso_date_arg(value: Any, what: str) -> str:
    """``value`` if it is a real YYYY-MM-DD date (checked by the core's parser, the one that
    reads price-row dates), else ValueError naming ``what``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be an ISO date string (YYYY-MM-DD), not {type(value).__name__}")
    try:
        parse_iso_date(value, what)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return value
