"""A gradient check as a table: name, the gradient checked, the numeric one, error, verdict."""

from __future__ import annotations

from ..gradcheck import DOUBTFUL, GOOD, STEP_RULE, GradientCheck
from ..numbers import format_number
from .tables import Table


def gradcheck_table(result: GradientCheck, digits: int) -> Table:
    claimed = "yours" if result.compared == "student" else "backprop"
    rows = [(check.label + (" (fixed)" if check.fixed else ""), format_number(check.claimed, digits),
             format_number(check.numeric, digits), f"{check.error:.1e}", check.verdict)
            for check in result.checks]
    wrong = sum(not check.agrees for check in result.checks)
    kinks = sum(check.verdict == "at a kink" for check in result.checks)
    lines = [(f"numeric = (C(w+h) − C(w−h)) / 2h with {STEP_RULE}; relative error "
              "|a − b| / max(|a|, |b|, τ), τ = 1e7·ε·|C|/h (the rounding noise of the differences)"),
             f"good below {GOOD:g}, doubtful up to {DOUBTFUL:g}, wrong above"]
    if kinks:
        lines.append(f"{kinks} at a kink: the one-sided slopes disagree (a relu, abs or max within h), "
                     "so the centred difference proves nothing there")
    lines.append(f"{len(result.checks)} checked: " + ("all agree." if not wrong else f"{wrong} wrong."))
    return Table(f"Centred finite differences of {result.objective}",
                 ("Name", claimed, "numeric", "relative error", "verdict"),
                 (False, True, True, True, False), rows, note="\n".join(lines))
