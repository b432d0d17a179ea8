"""The committed type stub of the native module matches the built extension."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_core_stub_is_current(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pybind11_stubgen", "tokenops._core", "-o", str(tmp_path)],
        check=True, capture_output=True,
    )
    generated = (tmp_path / "tokenops" / "_core.pyi").read_text()
    committed = (REPO / "python" / "tokenops" / "_core.pyi").read_text()
    assert generated == committed, "python/tokenops/_core.pyi is stale: run scripts/gen_stubs.sh"
