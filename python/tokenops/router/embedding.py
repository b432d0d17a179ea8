"""Glue between the router and the native sentence embedder (``tokenops.Embedder``, issue 3).
Embedding families (knn; mf/irt/linear/mlp with an embedding block) store the embedder's name
and width in the router file; loading checks them.

``embed_cached`` computes a list of texts' embeddings once: the result is kept under
``tokenops._paths.cache_dir() / "embeddings"`` keyed by the sha256 of the embedder's files and
the texts, so notebooks and CLIs that embed the same benchmark reuse it. Read-only fixture
folders (``$TOKENOPS_FIXTURES_DIR/router/embeddings``, or ``data/router/embeddings`` of a
checkout) are looked up first; ``python -m tokenops.router.embedding --write DIR`` regenerates
the checkout's fixtures (float16) for the shipped RouterBench and MT-Bench prompts.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..embed.model import DEFAULT_MODEL_NAME as EMBEDDER_NAME
from .core import FeatureConfig, embedding_texts

FIXTURES_ENV = "TOKENOPS_FIXTURES_DIR"
_FINGERPRINTS: dict[str, str] = {}


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
    """sha256 over the embedder's name and model files' contents (memoised per folder), so a
    different model never hits the cache and the same model hits it on any machine."""
    path = getattr(emb, "path", None)
    key = f"{embedder_name(emb)}|{path}"
    if key not in _FINGERPRINTS:
        h = hashlib.sha256(embedder_name(emb).encode())
        if path is not None:
            p = Path(path)
            for f in sorted(x for x in p.iterdir() if x.is_file()):
                h.update(f.name.encode())
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
        _FINGERPRINTS[key] = h.hexdigest()[:16]
    return _FINGERPRINTS[key]


def fixture_dirs() -> list[Path]:
    """Read-only folders of precomputed embeddings: ``$TOKENOPS_FIXTURES_DIR/router/embeddings``
    and ``data/router/embeddings`` of a checkout found above the working directory."""
    out = []
    env = os.environ.get(FIXTURES_ENV)
    if env:
        out.append(Path(env).expanduser() / "router" / "embeddings")
    for parent in [Path.cwd(), *Path.cwd().parents][:6]:
        cand = parent / "data" / "router" / "embeddings"
        if cand.is_dir() and (parent / "pyproject.toml").is_file():
            out.append(cand)
            break
    return [d for d in out if d.is_dir()]


def cache_key(texts: Sequence[str], embedder: Any) -> str:
    h = hashlib.sha256(_embedder_fingerprint(embedder).encode())
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def embed_cached(prompts: Sequence[str], embedder: Any = None, cache_dir: str | Path | None = None,
                 progress: bool = False, tail_chars: int = 0,
                 fixtures: Sequence[str | Path] | None = None) -> np.ndarray:
    """Embeddings (float32, (n, dim)) of ``embedding_texts(prompts, tail_chars)``, from a fixture
    folder or the cache when present, else computed and cached. Entries are plain ``.npy`` files
    named by the sha256 of the embedder's files and the texts; they can be deleted any time."""
    from .._paths import cache_dir as _cache_dir

    texts = embedding_texts(list(prompts), tail_chars)
    emb = embedder or load_embedder()
    key = cache_key(texts, emb)
    folder = Path(cache_dir) if cache_dir is not None else _cache_dir() / "embeddings"
    dirs = [Path(d) for d in fixtures] if fixtures is not None else fixture_dirs()
    for d in [*dirs, folder]:
        path = d / f"{key}.npy"
        if path.is_file():
            # A cache entry that does not read back as this embedder's (n, dim) finite floats is
            # ignored and recomputed (entries can be deleted any time; a bad one must not train).
            try:
                E = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                continue
            dim = getattr(emb, "dim", None)
            if (E.ndim == 2 and E.shape[0] == len(texts) and (dim is None or E.shape[1] == int(dim))
                    and E.dtype.kind == "f" and np.isfinite(E).all()):
                return np.ascontiguousarray(E, dtype=np.float32)
    if progress:
        from tqdm.auto import tqdm

        parts = []
        step = 256
        for i in tqdm(range(0, len(texts), step), desc="embedding"):
            parts.append(embed_prompts(texts[i:i + step], emb))
        E = np.vstack(parts) if parts else np.zeros((0, int(emb.dim)), np.float32)
    else:
        E = embed_prompts(texts, emb)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{key}.tmp.npy"
    np.save(tmp, E)
    tmp.replace(folder / f"{key}.npy")
    return E


def pair_rows_embeddings(sources: Sequence[str], data_dir: str | Path | None = None,
                         embedder: Any = None, progress: bool = False) -> np.ndarray:
    """MiniLM embeddings of ``data.pair_rows(sources)``, row for row: whole prompts for the
    RouteLLM benchmarks, the N-way router's prompt tails for RouterBench (its rows with both
    models' outcomes, as ``pair_rows`` keeps them). Fixtures / cache first (``embed_cached``)."""
    from .data import PAIR_SOURCES, load_routellm, load_routerbench, routerbench_pair
    from .nway import routerbench_embeddings

    if isinstance(sources, str):
        sources = (sources,)
    unknown = [s for s in sources if s not in PAIR_SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; choose from {list(PAIR_SOURCES)}")
    parts = []
    for name in sources:
        if name == "routerbench":
            for split in ("train", "test"):
                rb = load_routerbench(split, data_dir=data_dir)
                parts.append(routerbench_embeddings(rb, embedder)[routerbench_pair(rb)[1]])
        else:
            parts.append(embed_cached(load_routellm(name, data_dir).prompts, embedder, progress=progress))
    return np.vstack(parts)


def embedding_feature_config(dim: int = 384, name: str = EMBEDDER_NAME, lexical: bool = False,
                             dense: bool = False, tail_chars: int = 0) -> FeatureConfig:
    """Embedding features: the embedding alone (kNN), with the dense length/structure signals
    (``dense=True``), or with the hashed n-grams and dense signals (``lexical=True``)."""
    if lexical:
        return FeatureConfig(hash_bits=14, word_ngrams=(1, 2), dense=True, dense_weight=0.3,
                             embedder=name, embedding_dim=dim, embed_tail_chars=tail_chars)
    return FeatureConfig(hash_bits=0, word_ngrams=(0, 0), dense=dense, dense_weight=0.3,
                         encoding=None, embedder=name, embedding_dim=dim,
                         embed_tail_chars=tail_chars)


def _shipped_prompt_sets(data_dir: str | None = None) -> dict[str, tuple[list[str], int]]:
    from .data import load_routellm, load_routerbench
    from .nway import NWAY_TAIL_CHARS

    return {
        "routerbench-train": (load_routerbench("train", data_dir=data_dir).prompts, NWAY_TAIL_CHARS),
        "routerbench-test": (load_routerbench("test", data_dir=data_dir).prompts, NWAY_TAIL_CHARS),
        "mt-bench": (load_routellm("mt-bench", data_dir).prompts, 0),
    }


def _check_write_dir(ap: argparse.ArgumentParser, write: str) -> Path:
    """The --write folder, checked before the embedder loads and before it is created: not an
    empty string, not an existing file, and in a place it can be made and written; ``ap.error``
    (exit 2) otherwise."""
    if write == "":
        ap.error("--write: give a folder path (e.g. data/router/embeddings), not an empty string")
    path = Path(write)
    if path.exists() and not path.is_dir():
        ap.error(f"--write: {write} exists and is not a folder; give a folder path")
    existing = path.absolute()
    while not existing.exists():  # the nearest folder there is: the rest is created under it
        existing = existing.parent
    if not existing.is_dir():
        ap.error(f"--write: {existing} is not a folder, so {write} cannot be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        ap.error(f"--write: {existing} cannot be written")
    return path


def main(argv: list[str] | None = None) -> int:
    from .._paths import write_atomic
    from .crossfit import check_data_dir, report_error

    ap = argparse.ArgumentParser(prog="python -m tokenops.router.embedding", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", required=True,
                    help="fixture folder to (re)write, e.g. data/router/embeddings")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    # every argument before the embedder loads and before the folder is made
    write = _check_write_dir(ap, args.write)
    check_data_dir(ap, args.data_dir)
    try:
        sets = _shipped_prompt_sets(args.data_dir)
        emb = load_embedder()
        for name, (prompts, tail) in sets.items():
            E = embed_cached(prompts, emb, tail_chars=tail, fixtures=[], progress=True)
            key = cache_key(embedding_texts(prompts, tail), emb)
            buf = io.BytesIO()
            np.save(buf, E.astype(np.float16))
            write.mkdir(parents=True, exist_ok=True)
            # the whole file or nothing: a failed write leaves an existing fixture as it was
            write_atomic(write / f"{key}.npy", buf.getvalue())
            print(f"{name}: {E.shape} -> {write / (key + '.npy')}")
    except (OSError, ValueError, KeyError) as e:
        return report_error(ap, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
