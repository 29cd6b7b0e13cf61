"""The Jupyter walkthrough in examples/ runs, and shows a solution, a derivation and a grade
richly (Markdown tables, math, an HTML table), not as dataclass dumps."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from clitools import ROOT

NOTEBOOK = ROOT / "examples" / "walkthrough.ipynb"


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _data(cell) -> dict:
    results = [output for output in cell.outputs if output.output_type == "execute_result"]
    assert results, cell.source
    return results[-1]["data"]


def test_every_cell_runs_without_errors(executed):
    assert not [o for cell in executed for o in cell.outputs if o.output_type == "error"]


def test_a_solution_shows_as_tables(executed):
    solution = _data(executed[1])
    assert solution["text/plain"].startswith("<Solution 'Simple network': 1-1-1 network")
    table = solution["text/markdown"]
    assert "| Parameter |" in table and "2.08092" in table and "-0.198092" in table


def test_a_derivation_shows_as_math(executed):
    derivation = _data(executed[2])
    assert derivation["text/plain"] == "<Derivation 'Simple network: ∂C/∂w2': 8 steps, 0 warnings>"
    markdown = derivation["text/markdown"]
    assert markdown.count("$$") >= 16 and r"\frac{\partial C}{\partial \mathrm{w2}}" in markdown
    assert "0.18265" in markdown and r"\approx -0.004162" in markdown


def test_a_grade_shows_as_a_table(executed):
    grade = _data(executed[3])
    assert grade["text/plain"] == "<Grade dC_dw2='-0.139': wrong>"
    assert grade["text/html"].startswith("<table>") and "Diagnosis" in grade["text/html"]
