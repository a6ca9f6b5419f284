"""The three notebooks of notebooks/ run end to end on short real periods (nbclient, a real Python kernel):
every cell runs without an error, and each draws its plots."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Days each notebook works on here (its own default is longer).
SHORT = {"01_comparison_pipeline": 3, "02_learning_pipeline": 30, "03_probability_optimization": 30}
#: Figures each notebook draws.
PLOTS = {"01_comparison_pipeline": 2, "02_learning_pipeline": 1, "03_probability_optimization": 2}


def test_the_three_notebooks_are_there_and_stored_without_outputs():
    assert [p.stem for p in NOTEBOOKS] == list(SHORT)
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in book.cells
                   if c.cell_type == "code"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_end_to_end(path, tmp_path, shipped_db, monkeypatch):
    shutil.copy(shipped_db, tmp_path / "ems.duckdb")  # the notebook's own store, built from the shipped data
    monkeypatch.setenv("EMS_NOTEBOOK_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("EMS_NOTEBOOK_DAYS", str(SHORT[path.stem]))
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # raises on a failing cell
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == PLOTS[path.stem], f"{path.name} drew {len(images)} plots"
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"{SHORT[path.stem]} days" in printed and str(tmp_path) in printed
