"""Writing router files (safetensors layout; the C++ core's io module reads them)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._paths import write_atomic

FORMAT = "tokenops-router"


def _config_json(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, sort_keys=True, allow_nan=False)
    except ValueError as exc:  # NaN/inf in a config value (costs, weights...): unreadable JSON
        raise ValueError(f"router config holds NaN or inf ({exc}); refusing to write a router file") from exc


def router_file_bytes(config: Mapping[str, Any], tensors: Mapping[str, np.ndarray],
                      format_version: int | None = None) -> bytes:
    """Serialises a router config and its float32 tensors into router file bytes."""
    from .. import _core

    version = _core.ROUTER_FORMAT_VERSION if format_version is None else format_version
    header: dict[str, Any] = {
        "__metadata__": {
            "format": FORMAT,
            "format_version": str(version),
            "config": _config_json(config),
        }
    }
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"tensor {name!r} holds NaN or inf; refusing to write a router file")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def save_router_file(path: str | Path, config: Mapping[str, Any],
                     tensors: Mapping[str, np.ndarray]) -> Path:
    """Writes a router file. The bytes are loaded back first, so a router that would not load is
    refused with the loader's error and never replaces an existing file; the write goes to a
    temporary file renamed over `path`, so a failure midway leaves the old file intact."""
    from .core import Router

    path = Path(path)
    data = router_file_bytes(config, tensors)
    try:
        Router.from_bytes(data, str(path))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"refusing to write {path}: the router would not load: {exc}") from exc
    write_atomic(path, data)
    return path
