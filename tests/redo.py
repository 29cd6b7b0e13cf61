"""The redo check shared by the derivation tests: every step's substituted form evaluates
to its value, and redone with the numbers *as shown* it rounds to the result as shown."""

from __future__ import annotations

import numpy as np

from bpcalc.derivation import Derivation, Step, shown
from bpcalc.expr import Num, _children, evaluate
from bpcalc.paths import resolve


def nums(node) -> list[Num]:
    if isinstance(node, Num):
        return [node]
    return [n for child in _children(node) for n in nums(child)]


def as_shown(node):
    """The tree with every number at the value its text says."""
    from bpcalc.expr import _rebuild

    if isinstance(node, Num):
        try:
            return Num(float(node.text)) if node.text is not None else node
        except ValueError:
            return node
    children = _children(node)
    return _rebuild(node, [as_shown(c) for c in children]) if children else node


def decimals(text: str) -> int:
    mantissa, _, exponent = text.lower().partition("e")
    return len(mantissa.partition(".")[2]) - (int(exponent) if exponent else 0)


def redone_matches(step: Step) -> bool:
    """Redo the step with its numbers as shown: does it round to the result as shown?"""
    with np.errstate(all="ignore"):
        redone = np.ravel(np.asarray(evaluate(as_shown(step.substituted)), dtype=float))
        full = np.ravel(np.asarray(evaluate(step.substituted), dtype=float))
    for got, exact, value in zip(redone, full, np.ravel(np.asarray(step.value, dtype=float))):
        text = shown(value, step.digits)
        half = 0.5 * 10.0 ** -decimals(text)
        noise = abs(exact - value) + 4 * float(np.spacing(abs(value)))   # float rounding, not display
        if not abs(got - float(text)) <= max(half * (1 + 1e-9) + noise, 5e-324):
            return False
    return True


def check_step(step: Step, document: dict, digits: int) -> None:
    where = f"{step.section} / {step.title}: {step.equation_unicode()}"
    if step.value is None:
        assert step.substituted is None, where
        return
    value = np.asarray(step.value, dtype=float)
    assert np.all(np.isfinite(value)), where
    if not step.summarised:
        assert [n.text for n in nums(step.result)] == [shown(v, step.digits) for v in np.ravel(value)], where
    if step.substituted is not None:
        with np.errstate(all="ignore"):
            got = np.asarray(evaluate(step.substituted), dtype=float)
        assert got.shape == value.shape, where
        np.testing.assert_allclose(got, value, rtol=1e-9, atol=1e-12, err_msg=where)
        assert redone_matches(step), f"redone with the shown numbers, {where} does not give its result"
        for n in nums(step.substituted):        # every number shown is its own value, rounded
            if n.text is not None and n.text != "½":
                assert _same_rounding(n), where
    if step.key is not None:
        np.testing.assert_allclose(np.asarray(resolve(document, step.key), dtype=float), value,
                                   rtol=1e-12, atol=0, err_msg=where)


def _same_rounding(n: Num) -> bool:
    """A shown number is its value rounded at some number of digits."""
    return any(shown(float(n.value), d) == n.text for d in range(1, 18))


def check_derivation(derivation: Derivation, solution) -> None:
    document = solution.to_dict()
    assert derivation.steps, derivation.title
    assert not [w for w in derivation.warnings if w.kind == "arithmetic"], derivation.title
    for step in derivation.steps:
        check_step(step, document, derivation.digits)
    for caution in derivation.warnings:
        assert caution.step is None or 0 <= caution.step < len(derivation.steps)


