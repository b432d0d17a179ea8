"""Executes notebooks/governance_kpis.ipynb top to bottom (nbclient), as CI does."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "governance_kpis.ipynb"


def test_governance_kpis_notebook_runs(data_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "3,150 tasks x 11 models" in text
    assert "gpt-4-1106-preview: ratio 1.000000" in text  # exact counts reproduce RouterBench's cost
    assert "15 policies" in text
