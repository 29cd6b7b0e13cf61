"""Step-by-step derivations: a solved problem as the equations a student writes by hand.

The package's modules each own one thing:

* :mod:`~bpcalc.derivation.model` — the step model (Step, Caution, Table, Derivation, Math);
* :mod:`~bpcalc.derivation.notation` — the symbols of a problem, and scalar entries of
  vector forms;
* :mod:`~bpcalc.derivation.arithmetic` — numbers put into general forms, with digits a
  student can redo;
* :mod:`~bpcalc.derivation.equations` — BP1–BP4, the mean over examples, the update and
  one parameter's chain;
* :mod:`~bpcalc.derivation.cautions` — warnings (saturation, dead neurons, vanishing δ);
* :mod:`~bpcalc.derivation.concepts` — the course's concept questions;
* :mod:`~bpcalc.derivation.walks` — the entry points :func:`derive` and :func:`explain`;
* :mod:`~bpcalc.derivation.printers` — Unicode, LaTeX, Markdown and JSON.

Nothing here names an activation or a loss: what they contribute comes from their
registry entries (:mod:`bpcalc.activations`, :mod:`bpcalc.losses`).
"""

from .arithmetic import shown
from .concepts import concepts
from .model import Caution, Derivation, Math, Step, Table
from .printers import latex, latex_text, prose_latex, prose_unicode, unicode
from .walks import derive, explain, find_parameter

__all__ = ["derive", "explain", "concepts", "find_parameter", "Derivation", "Step", "Caution", "Table",
           "Math", "shown", "unicode", "latex", "latex_text", "prose_unicode", "prose_latex"]
