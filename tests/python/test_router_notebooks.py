"""Executes the router notebooks top to bottom (nbclient), as CI does."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", ["router_slm_vs_frontier.ipynb", "router_nway_routerbench.ipynb"])
def test_router_notebook_runs(name, data_dir, tmp_path, monkeypatch):
    # the checkout's precomputed embeddings (data/router/embeddings) instead of minutes of MiniLM
    monkeypatch.setenv("TOKENOPS_FIXTURES_DIR", str(NOTEBOOKS.parent / "data"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
