"""The README's Python examples run as written (the CLI examples are run by test_cli.py)."""

from __future__ import annotations

import re

from clitools import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_readme_python_blocks_run_in_order(monkeypatch):
    """Each block continues the one before, as a reader types them into one session."""
    assert BLOCKS, "the README shows the Python API"
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for code in BLOCKS:
        exec(compile(code, "README.md", "exec"), namespace)  # the project's own documentation


def test_readme_api_values():
    import bpcalc

    solution = bpcalc.solve(bpcalc.load(ROOT / "problems" / "simple_network.yaml"))
    assert abs(solution.gradients()["w1"] - 2.080916562170455) < 1e-12
    grader = bpcalc.Grader(solution.problem, solution)
    assert "a1 = 0.03" in grader.grade("dC_dw2", "-0.139").diagnosis
