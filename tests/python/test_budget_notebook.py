"""Executes the cost notebooks top to bottom (nbclient), as CI does:
notebooks/agent_workflow_costs.ipynb and notebooks/governance_kpis.ipynb (needs the shared data)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")
pytest.importorskip("pandas")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = {
    "agent_workflow_costs.ipynb": ["calls per task: 12, tokens per task: 180,000"],
    # exact token counts reproduce RouterBench's own cost of every GPT-4 call
    "governance_kpis.ipynb": ["3,150 tasks x 11 models", "gpt-4-1106-preview: ratio 1.000000", "15 policies"],
}
NEEDS_DATA = {"governance_kpis.ipynb"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cost_notebook_runs(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if name in NEEDS_DATA:
        request.getfixturevalue("data_dir")  # fails with a message when the shared data is missing
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    for expected in EXPECTED[name]:
        assert expected in text
