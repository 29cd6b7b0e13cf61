"""How numbers are shown and when two numbers count as the same answer.

One formatter for every renderer, so a table, a derivation and a grade never
show the same value two ways. One comparison rule for answer keys and student
answers alike:

* within the tolerance (default: relative 0.1 %), or
* the exact value correctly rounded to the digits written — "2.081" for
  2.080917, "-0.004" for -0.0041618 — provided the written number has at
  least 3 decimal places or 3 significant digits, so "2" or "0" do not pass
  just because they are coarse.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Integral

DEFAULT_DIGITS = 6
_WRITTEN = re.compile(r"\s*[+-]?(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?\s*\Z")


def format_number(value: float | int | complex, digits: int = DEFAULT_DIGITS) -> str:
    """Significant-digit display: 2.08093, -0.00416183, 0.03, 1e-12, 3, -5, 1.5e20, 2j.
    ASCII minus (answers are pasted into graders), no ``e+00`` noise, no ``-0``."""
    if isinstance(value, complex):
        if value.imag == 0:
            return format_number(value.real, digits)
        imaginary = format_number(value.imag, digits)
        if value.real == 0:
            return f"{imaginary}j"
        sign = "" if imaginary.startswith("-") else "+"
        return f"{format_number(value.real, digits)}{sign}{imaginary}j"
    if isinstance(value, Integral) and not isinstance(value, bool):
        if abs(int(value)) < 10**15:
            return str(int(value))
        value = float(value) if abs(int(value)) < 10**308 else math.copysign(math.inf, value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def counted(count: int, noun: str) -> str:
    """``1 column``, ``2 biases``: a count with its noun, for messages."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}" + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


@dataclass(frozen=True)
class Tolerance:
    """How far an answer may be from the exact value. ``rounding``: also accept
    the exact value correctly rounded to the digits written (see module doc)."""

    rel: float = 1e-3
    abs: float = 0.0
    rounding: bool = True

    def describe(self) -> str:
        parts = []
        if self.rel:
            parts.append(f"within {self.rel * 100:g} %")
        if self.abs:
            parts.append(f"within ±{self.abs:g}")
        if self.rounding:
            parts.append("or correctly rounded to at least 3 decimals or 3 significant digits")
        return " ".join(parts) if parts else "exactly"


KEY_TOLERANCE = Tolerance(rel=1e-6)   # answer keys: exact to their written digits


def written_precision(text: str) -> tuple[int, int] | None:
    """(decimal places, significant digits) of a number as written, e.g.
    "-0.004" -> (3, 1), "2.081" -> (3, 4), "1.5e-3" -> (4, 2); None if not a plain number."""
    match = _WRITTEN.match(text)
    if not match or not (match["int"] or match["frac"]):
        return None
    digits = (match["int"] or "") + (match["frac"] or "")
    decimals = len(match["frac"] or "") - int(match["exp"] or 0)
    significant = len(digits.lstrip("0"))
    return decimals, significant


def agrees(given: float, exact: float, tolerance: Tolerance = Tolerance(),
           written: str | None = None) -> bool:
    """Is ``given`` (written as ``written``, if known) an acceptable answer for ``exact``?"""
    if not (math.isfinite(given) and math.isfinite(exact)):
        return given == exact
    error = abs(given - exact)
    if error <= max(tolerance.abs, tolerance.rel * abs(exact)):
        return True
    if tolerance.rounding:
        precision = written_precision(written if written is not None else repr(given))
        if precision and (precision[0] >= 3 or precision[1] >= 3):
            half_unit = 0.5 * 10.0 ** -precision[0]
            return error <= half_unit * (1 + 1e-9) + 1e-15 * abs(exact)
    return False
