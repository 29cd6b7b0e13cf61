"""Numbers in steps: the quantities a student already has, put into a general form, shown
with digits chosen so that redoing the arithmetic by hand gives the result shown.

A step's substituted form is its general form with every quantity computed earlier
(z, a, δ, f′(z), the weights, the targets) replaced by its number (:func:`put_in`).
Each number keeps its full value, so the tree evaluates to the step's value exactly;
its displayed text is chosen by :func:`redoable`: at the derivation's digits where that
suffices, and with more digits for the numbers whose rounding would otherwise change
the last shown digit of the result (σ′ = 0.9996647·(1 − 0.9996647) ≈ 0.0003352, not
0.9997·(1 − 0.9997), which a student would redo as 0.0003).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import BpcalcError
from ..expr import (
    Compare, Expr, Matrix, Num, Piecewise, Vector, _children, _rebuild, bottom_up, evaluate, nodes, symbols,
)
from ..numbers import format_number

MAX_SUBSTITUTED = 36        # numbers a vector/matrix form is written out with
MAX_DIGITS = 17


def shown(value: float, digits: int) -> str:
    """A number as a step shows it. A value that is not a whole number never displays as
    one (0.99997 is not shown as "1"): more digits are used until it differs, so that
    the arithmetic a student redoes with the shown numbers (ln(1 − a), a·(1 − a)) holds."""
    value = float(value)
    text = format_number(value, digits)
    while digits < MAX_DIGITS and value != round(value) and text.lstrip("-").isdigit():
        digits += 1
        text = format_number(value, digits)
    return text


def number(value: Any, digits: int) -> Expr:
    """A full-precision value as a tree of Nums shown with ``digits``."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return Num(float(array), text=shown(float(array), digits))
    if array.ndim == 1:
        return Vector(tuple(Num(float(v), text=shown(v, digits)) for v in array))
    return Matrix(tuple(tuple(Num(float(v), text=shown(v, digits)) for v in row) for row in array))


class TooLarge(Exception):
    """Writing the numbers out would take more than MAX_SUBSTITUTED of them."""


def put_in(tree: Expr, lookup: Callable[[Expr], Any], digits: int,
           limit: int = MAX_SUBSTITUTED) -> Expr | None:
    """``tree`` with every subtree whose value ``lookup`` knows replaced by that number
    (None when that would write out more than ``limit`` numbers)."""
    count = 0

    def walk(node: Expr) -> Expr:
        nonlocal count
        value = lookup(node)
        if value is not None:
            count += int(np.size(value))
            if count > limit:
                raise TooLarge
            return number(value, digits)
        children = _children(node)
        if not children or isinstance(node, Num):
            return node
        new = [walk(child) for child in children]
        return node if all(n is o for n, o in zip(new, children)) else _rebuild(node, new)

    try:
        return resolve(walk(tree))
    except TooLarge:
        return None


def resolve(tree: Expr) -> Expr:
    """Piecewise forms whose conditions are now numbers, replaced by the piece that holds
    (f′(0.03) written as the 1 it is); nothing else is folded, so the arithmetic a
    student redoes stays visible."""
    return bottom_up(tree, lambda node: _holding_piece(node) if isinstance(node, Piecewise) else node)


def _holding_piece(node: Piecewise) -> Expr:
    for value, condition in node.pieces:
        if condition is None:
            return value
        if symbols(condition) - {"pi", "e"}:
            return node
        try:
            holds = np.asarray(evaluate(condition))
        except BpcalcError:
            return node
        if holds.ndim:                      # a vector condition: entries may differ
            return node
        if bool(holds):
            return value
    return node


def choose_pieces(tree: Expr, lookup: Callable[[Expr], Any]) -> tuple[Expr, list[Compare]]:
    """``tree`` with each piecewise form replaced by the piece that holds at the known
    numbers, kept symbolic (f(z¹₁) is 0.2·z¹₁ here), and the conditions that decided it."""
    decided: list[Compare] = []

    def choose(node: Expr) -> Expr:
        if not isinstance(node, Piecewise):
            return node
        for value, condition in node.pieces:
            if condition is None:
                if isinstance(node.pieces[0][1], Compare):
                    decided.append(node.pieces[0][1])
                return value
            holds = _holding_piece(Piecewise(((Num(1), put_in(condition, lookup, 16) or condition),
                                              (Num(0), None))))
            if isinstance(holds, Piecewise):
                return node                 # not decided by numbers (a vector, or unknown)
            if holds == Num(1):
                decided.append(condition)
                return value
        return node

    return bottom_up(tree, choose), decided


# ------------------------------------------------------------------ redoable digits

def _decimals(text: str) -> int | None:
    """Decimal places of a shown number ("0.2405" -> 4, "1.5e-3" -> 4, "-5" -> 0)."""
    mantissa, _, exponent = text.lower().partition("e")
    mantissa = mantissa.lstrip("+-")
    if not mantissa.replace(".", "", 1).isdigit():
        return None
    places = len(mantissa.partition(".")[2])
    return places - (int(exponent) if exponent else 0)


def _as_shown(tree: Expr) -> Expr:
    """The tree with each number at the value its text says (what a student computes with)."""
    def as_shown(node: Expr) -> Expr:
        if not isinstance(node, Num) or node.text is None:
            return node
        try:
            return Num(float(node.text))
        except ValueError:
            return node
    return bottom_up(tree, as_shown)


def _with_digits(tree: Expr, digits: Mapping[float, int]) -> Expr:
    def with_digits(node: Expr) -> Expr:
        if not isinstance(node, Num) or node.text is None or not _rounded(node):
            return node
        return Num(node.value, text=shown(float(node.value), digits[float(node.value)]))
    return bottom_up(tree, with_digits)


def _rounded(node: Num) -> bool:
    """A number shown with fewer digits than it has (its text is not its value)."""
    try:
        return float(node.text) != float(node.value)
    except (TypeError, ValueError):
        return False


def _misfit(tree: Expr, targets: list[tuple[float, str]]) -> float:
    """How far the shown numbers' arithmetic lands from the shown results, in half-units of
    their last digit (≤ 1 everywhere: it rounds to them). The float rounding of the
    arithmetic itself (the tree at full precision against the solver's value, which can
    differ in the last bits, as a sum that cancels to 3.5e-17 does) is not held against it."""
    try:
        with np.errstate(all="ignore"):
            redone = np.ravel(np.asarray(evaluate(_as_shown(tree))))
    except (BpcalcError, ArithmeticError, ValueError, TypeError):
        return math.inf
    if np.iscomplexobj(redone) or redone.size != len(targets):
        return math.inf
    try:
        with np.errstate(all="ignore"):
            exact = np.ravel(np.asarray(evaluate(tree), dtype=np.float64))
    except (BpcalcError, ArithmeticError, ValueError, TypeError):
        return math.inf
    worst = 0.0
    for got, full, (value, text) in zip(redone.tolist(), exact.tolist(), targets):
        places = _decimals(text)
        if places is None or not math.isfinite(got):
            return math.inf
        half = 0.5 * 10.0 ** -places
        noise = abs(full - value) + 4 * float(np.spacing(abs(value)))   # float rounding itself
        allowed = max(half * (1 + 1e-9) + noise, 5e-324)
        worst = max(worst, abs(got - float(text)) / allowed)
    return worst


def redoable(tree: Expr, value: Any, result_digits: int, digits: int) -> Expr | None:
    """``tree`` (numbers at full value) with texts chosen so that its arithmetic, redone
    with the numbers as shown, rounds to the result shown with ``result_digits``: each
    number starts at ``digits`` and the one whose extra digit helps most gets it, until
    the arithmetic holds; None if no choice of up to 17 digits achieves it. The same
    quantity gets the same digits wherever it appears in the step."""
    values = np.ravel(np.asarray(value, dtype=np.float64))
    targets = [(float(v), shown(v, result_digits)) for v in values]
    groups: dict[float, int] = {}
    for node in nodes(tree):
        if isinstance(node, Num) and node.text is not None and _rounded(node):
            groups.setdefault(float(node.value), digits)
    candidate = _with_digits(tree, groups) if groups else tree
    if _misfit(candidate, targets) <= 1.0:
        return candidate
    if not groups:
        return None
    # The fewest digits that work for every number alike, then each number back down as
    # far as it can go: cheap (a few evaluations), and the digits added are where needed.
    for uniform in range(digits + 1, MAX_DIGITS + 1):
        trial = {key: uniform for key in groups}
        if _misfit(_with_digits(tree, trial), targets) <= 1.0:
            groups = trial
            break
    else:
        return None
    if len(groups) <= 8:
        for key in list(groups):
            while groups[key] > digits:
                lower = {**groups, key: groups[key] - 1}
                if _misfit(_with_digits(tree, lower), targets) > 1.0:
                    break
                groups = lower
    return _with_digits(tree, groups)
