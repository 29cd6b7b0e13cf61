"""What the end-to-end CLI tests share: where the repository is, and ``bpcalc`` run in-process.

Test modules import these directly (``from clitools import bpcalc, ROOT``): ``tests/`` has no
``__init__.py``, so pytest puts it on ``sys.path``. The fixture that runs every CLI test from
the repository root is in ``tests/conftest.py``.
"""

from __future__ import annotations

import pathlib
import re
from importlib.metadata import version

from click.testing import CliRunner

from bpcalc.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))
REFERENCE = "problems/simple_network.yaml"
ANSI = re.compile(r"\x1b\[")

# Environment variables that change how Rich or Click draw; removed for every run so
# the results do not depend on the shell the tests are started from.
CLEAN_ENV = {name: None for name in (
    "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
    "COLUMNS", "LINES", "JUPYTER_COLUMNS", "JUPYTER_LINES", "TERM", "COLORTERM")}

CLICK_SEPARATES_STDERR = tuple(int(part) for part in version("click").split(".")[:2]) >= (8, 2)


def bpcalc(*args: str, input: str | None = None, env: dict | None = None):
    """Run ``bpcalc ARGS`` in-process; the result has .exit_code, .stdout and .stderr.

    ``input`` is what the command reads on stdin; ``env`` is added to :data:`CLEAN_ENV`.
    """
    runner = CliRunner() if CLICK_SEPARATES_STDERR else CliRunner(mix_stderr=False)
    return runner.invoke(main, list(args), input=input, env={**CLEAN_ENV, **(env or {})},
                         prog_name="bpcalc", catch_exceptions=True)


def crashed(result) -> bool:
    """An exception other than Click's own exit escaped the command."""
    return result.exception is not None and not isinstance(result.exception, SystemExit)


def is_graph(path: pathlib.Path | str) -> bool:
    """A computation-graph problem file (``nodes:``), not a layered network."""
    from bpcalc.problem import load

    return getattr(load(path), "kind", None) == "graph"


LAYERED = [path for path in PROBLEMS if not is_graph(path)]
GRAPHS = [path for path in PROBLEMS if is_graph(path)]
