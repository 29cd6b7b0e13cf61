"""What every derivation builder shares: sections, notes said once, and the one way a
step is made (the general form with the known numbers put in, at digits a student can
redo, checked to evaluate to the step's value). Layered networks (``equations.py``) and
computation graphs (``graphs.py``) each say what a student knows (``lookup``/``learn``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..expr import Expr, Num, evaluate, nodes
from .arithmetic import put_in, redoable
from .model import Caution, Derivation, Prose, Step


class StepBuilder:
    """Collects the steps of one derivation, in sections, remembering what is known."""

    def __init__(self, digits: int, scalars: bool = True) -> None:
        self.digits, self.scalars = digits, scalars
        self.steps: list[Step] = []
        self.sections: list[str] = []
        self.section = ""
        self.noted: set[str] = set()
        self.dropped: list[int] = []          # steps whose arithmetic could not be shown

    # -- what a student knows (each kind of problem says) ---------------------------------
    def lookup(self, node: Expr) -> Any:
        """The value of a quantity computed so far, or None."""
        raise NotImplementedError

    def learn(self, lhs: Expr, value: Any, everywhere: bool = False) -> None:
        raise NotImplementedError

    # -- plumbing -------------------------------------------------------------------------
    def begin(self, section: str) -> None:
        self.section = section
        if section not in self.sections:
            self.sections.append(section)

    def once(self, key: str, prose: Prose | None) -> Prose | None:
        """``prose`` the first time ``key`` is asked for, None after (a rule is said once)."""
        if prose is None or key in self.noted:
            return None
        self.noted.add(key)
        return prose

    def add(self, title: str, lhs: Expr, general: Expr | None, value: Any, rule: str, *,
            template: Expr | None = None, remember: bool = True, everywhere: bool = False,
            numbers: bool = True, **extra: Any) -> int:
        """A step: its substituted form is ``template`` (default: ``general``) with what is
        known put in, at digits a student can redo; then ``lhs`` is known."""
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64, copy=True)
        elif value is not None:
            value = float(value)
        extra.setdefault("digits", self.digits)
        source = general if template is None else template
        substituted = None
        if numbers and value is not None and source is not None and np.all(np.isfinite(value)):
            substituted = put_in(source, self.lookup, self.digits)
            if substituted is not None:
                if substituted == source and not numbers_in(substituted):
                    substituted = None           # nothing known to put in
                else:
                    fitted = redoable(substituted, value, extra["digits"], self.digits)
                    if fitted is None or not holds(fitted, value):
                        if np.ndim(value) == 0:     # a vector form is a summary: its entries follow
                            self.dropped.append(len(self.steps))
                        fitted = None
                    substituted = fitted
        self.steps.append(Step(self.section, title, lhs, general, substituted, value, rule, **extra))
        if remember:
            self.learn(lhs, value, everywhere)
        return len(self.steps) - 1

    def update_digits(self, old: Any, new: Any) -> int:
        """Enough digits that an update shows a change (−5 → −4.9996, not −5 → −5)."""
        from ..numbers import format_number

        old, new = np.ravel(old), np.ravel(new)
        for digits in range(self.digits, 18):
            if all(format_number(o, digits) != format_number(n, digits) for o, n in zip(old, new) if o != n):
                return digits
        return 17

    def derivation(self, title: str, intro: tuple[Prose, ...], param: str | None,
                   cautions: Iterable[Caution]) -> Derivation:
        found = list(cautions)
        for index in self.dropped:
            found.append(Caution("arithmetic", (
                "bpcalc could not show this step's arithmetic exactly, so only its result is shown",), index))
        return Derivation(title, tuple(self.steps), tuple(found), tuple(self.sections), intro,
                          digits=self.digits, param=param, scalars=self.scalars)


def fold(op: type, items: Sequence[Expr]) -> Expr:
    """items[0] op items[1] op …, left to right (a sum written term by term)."""
    result = items[0]
    for item in items[1:]:
        result = op(result, item)
    return result


def numbers_in(tree: Expr) -> bool:
    return any(isinstance(node, Num) for node in nodes(tree))


def holds(substituted: Expr, value: Any) -> bool:
    """Does the substituted tree evaluate to the value (relative 1e-9)?"""
    try:
        with np.errstate(all="ignore"):
            got = evaluate(substituted)
    except Exception:  # noqa: BLE001 - any failure means: do not show this arithmetic
        return False
    if np.iscomplexobj(got):
        return False
    got, want = np.asarray(got, dtype=np.float64), np.asarray(value, dtype=np.float64)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        return False
    return bool(np.allclose(got, want, rtol=1e-9, atol=1e-12))
