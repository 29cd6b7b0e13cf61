"""bpcalc: a calculator and checker for back-propagation homework.

    >>> import bpcalc
    >>> solution = bpcalc.solve(bpcalc.load("problems/simple_network.yaml"))
    >>> round(solution.gradients()["w1"], 4)
    2.0809

The names below are imported on first use, so ``bpcalc --help`` and
``bpcalc --version`` start without loading NumPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "bpcalc.problem",
    "Problem": "bpcalc.problem",
    "Layer": "bpcalc.problem",
    "solve": "bpcalc.solver",
    "Solution": "bpcalc.solver",
    "BpcalcError": "bpcalc.errors",
    "derive": "bpcalc.derivation",
    "explain": "bpcalc.derivation",
    "Derivation": "bpcalc.derivation",
    "Grader": "bpcalc.grading",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from .derivation import Derivation, derive, explain
    from .errors import BpcalcError
    from .grading import Grader
    from .problem import Layer, Problem, load
    from .solver import Solution, solve


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bpcalc' has no attribute {name!r}")
