"""How numbers are shown, how an answer is read as a number, and when it is right.

One formatter for every renderer, so a table, a derivation and a grade never
show the same value two ways. One rule for answer keys (``verify``) and for
students' answers (``check``, ``grade``) alike, simple enough for a teacher to
apply by hand:

* An answer is a number written in plain decimal or scientific notation
  (``-0.004``, ``2.09e4``), or an arithmetic expression of the formula language
  without variables (``-0.1387*0.03``, ``2/2``), as Open edX's numerical grader
  allows. Digit-group underscores (``0_1``), hexadecimal, ``nan``, ``inf`` and
  decimal commas are not numbers; the message says what to write instead.
* It is right when it is within the tolerance of the exact value (default: 0.1 %
  of the exact value, the same distance above and below), or when it is the
  exact value correctly rounded to the digits written, provided at least one
  significant digit is written and either 3 decimal places or 3 significant
  digits: ``2.081`` and ``-0.004`` pass for 2.0809 and -0.0041618; ``2.0``,
  ``-0.04``, ``0`` and ``0.000`` do not.
* Significant digits are counted as a teacher counts them: leading zeros never
  count, and the trailing zeros of a number written without a decimal point are
  placeholders, so ``20900`` has 3 (it means ±50, like ``2.09e4``) and
  ``20900.`` has 5.
* An expression has no "digits written": it is right only within the tolerance.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

DEFAULT_DIGITS = 6
_WRITTEN = re.compile(r"\s*(?P<sign>[+-]?)\s*(?P<int>\d*)(?P<point>\.?)(?P<frac>\d*)"
                      r"(?:[eE](?P<exp>[+-]?\d+))?\s*\Z")
_EXPONENT_DIGITS = 6          # beyond 10^±999999 a float64 is 0 or inf anyway
_SLACK = 1e-12                # float64 noise: 1 − 0.999 is 0.0010000000000000009


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


    def brief(self) -> str:
        """A few characters for a table cell: ``0.1 % or rounded``, ``±0.005``."""
        parts = [f"{self.rel * 100:g} %"] if self.rel else []
        parts += [f"±{self.abs:g}"] if self.abs else []
        text = " or ".join(parts) or "exact"
        return text + (" or rounded" if self.rounding else "")


KEY_TOLERANCE = Tolerance(rel=1e-6)   # answer keys: exact to their written digits


@dataclass(frozen=True)
class Written:
    """A plain number as written: its value, the place of its last digit (``decimals``:
    3 for ``2.081``, -2 for ``20900``) and its ``significant`` digits as a teacher counts them."""

    value: float
    decimals: int
    significant: int

    @property
    def rounding_counts(self) -> bool:
        """Precise enough that "correctly rounded" means something: a significant digit
        written, and 3 decimal places or 3 significant digits."""
        return self.significant >= 1 and (self.decimals >= 3 or self.significant >= 3)

    @property
    def half_unit(self) -> float:
        """Half a unit of the last digit written: how far a correct rounding can be off."""
        if self.decimals > 330:
            return 0.0
        if self.decimals < -300:
            return math.inf
        return 0.5 * 10.0 ** -self.decimals


def read_written(text: str) -> Written | None:
    """``text`` as a plain decimal or scientific number, or None if it is not one."""
    match = _WRITTEN.match(text)
    if not match or not (match["int"] or match["frac"]):
        return None
    exponent_text = match["exp"] or "0"
    digits_of_exponent = exponent_text.lstrip("+-").lstrip("0")
    if len(digits_of_exponent) > _EXPONENT_DIGITS:        # 1e-99999999: 0 or inf, never a crash
        exponent = int(math.copysign(10 ** _EXPONENT_DIGITS, -1 if exponent_text.startswith("-") else 1))
    else:
        exponent = int(exponent_text)
    whole, fraction = match["int"], match["frac"]
    digits = (whole + fraction).lstrip("0")
    decimals = len(fraction) - exponent
    if not match["point"] and digits:
        placeholders = len(digits) - len(digits.rstrip("0"))   # 20900: the two zeros hold places
        digits = digits.rstrip("0")
        decimals -= placeholders
    mantissa = f"{match['sign']}{whole or '0'}.{fraction or '0'}"
    try:
        value = float(f"{mantissa}e{exponent}")
    except OverflowError:                                   # pragma: no cover (float() gives inf)
        value = math.inf
    return Written(value, decimals, len(digits))


def written_precision(text: str) -> tuple[int, int] | None:
    """(decimal places, significant digits) of a number as written, e.g.
    "-0.004" -> (3, 1), "2.081" -> (3, 4), "1.5e-3" -> (4, 2), "20900" -> (-2, 3);
    None if not a plain number."""
    written = read_written(text)
    return None if written is None else (written.decimals, written.significant)


class NotANumber(ValueError):
    """An answer that cannot be read as a number; the message says what to write."""


@dataclass(frozen=True)
class Reading:
    """A numeric answer, read: its value, and how it was written (None for an expression)."""

    value: float
    written: Written | None

    @property
    def expression(self) -> bool:
        return self.written is None


_HINTS = (
    (re.compile(r"[+-]?\s*(nan|[+-]?inf(inity)?)\Z", re.IGNORECASE),
     "{text!r} is not a number a homework answer can have; write the value in decimal, like 2.081"),
    (re.compile(r"[+-]?\s*0[xXbBoO][0-9A-Fa-f_]*\Z"),
     "{text!r} is not a number: hexadecimal, binary and octal are not read; write it in decimal, "
     "like 2.081"),
    (re.compile(r"[+-]?\s*[\d.]*\d_\d[\d_.]*([eE][+-]?[\d_]+)?\Z"),
     "{text!r} is not a number: digit groups with _ are not read; write the digits alone, like 2.081"),
    (re.compile(r"[+-]?\s*\d*(,\d+)+([eE][+-]?\d+)?\Z"),
     "{text!r} is not a number: write a decimal point, not a comma (2.081, not 2,081), "
     "and no thousands separators"),
)
_HOW = "write it like 2.081 or -1.5e-3, or as arithmetic such as -0.1387*0.03"


def read_answer(text: str) -> Reading:
    """A numeric answer: a plain number, or arithmetic without variables.

    Raises :class:`NotANumber` with a one-line message (a hint where a common slip
    is recognised); never raises anything else, whatever the text."""
    text = text.strip()
    written = read_written(text)
    if written is not None:
        if not math.isfinite(written.value):
            raise NotANumber(f"{_short(text)!r} is too large for a number (beyond 1.8e308)")
        return Reading(written.value, written)
    for pattern, message in _HINTS:
        if pattern.match(text):
            raise NotANumber(message.format(text=_short(text)))
    return Reading(_arithmetic(text), None)


def _arithmetic(text: str) -> float:
    from .errors import BpcalcError
    from .expr import evaluate
    from .formula import parse

    try:
        tree = parse(text, allowed=())
    except BpcalcError as error:
        detail = f" ({error})" if "unknown variable" not in str(error) else ""
        raise NotANumber(f"{_short(text)!r} is not a number{detail}; {_HOW}") from None
    try:
        value = complex(_plain(evaluate(tree)))
    except (BpcalcError, ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as error:
        reason = str(error) or type(error).__name__
        raise NotANumber(f"{_short(text)!r} cannot be computed: {reason}") from None
    if value.imag != 0:
        raise NotANumber(f"{_short(text)!r} is not a real number (it is {format_number(value)})")
    if not math.isfinite(value.real):
        raise NotANumber(f"{_short(text)!r} has no finite value (it is {format_number(value.real)})")
    return value.real


def _plain(value: Any) -> Any:
    """A Python number from what evaluation gives (an int may be too large for a float)."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError("it gives several numbers")
        value = value[()]
    if isinstance(value, Integral) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise OverflowError("the value is too large (beyond 1.8e308)") from None
    return value


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def allowed_error(exact: Any, tolerance: Tolerance, written: Written | None) -> Any:
    """How far an answer may be from ``exact`` (a number, or an array of candidate values):
    the tolerance, or half a unit of the last digit written when rounding counts."""
    maximum = np.maximum if isinstance(exact, np.ndarray) else max
    bound = maximum(tolerance.abs, tolerance.rel * abs(exact))
    if tolerance.rounding and written is not None and written.rounding_counts:
        bound = maximum(bound, written.half_unit * (1 + 1e-9))
    return bound


def agrees(given: float, exact: float, tolerance: Tolerance = Tolerance(),
           written: str | Written | None = None) -> bool:
    """Is ``given`` (written as ``written``, if known) an acceptable answer for ``exact``?

    ``written`` None reads the digits of ``repr(given)``; an expression's reading has no
    digits written, so pass a Tolerance with ``rounding=False`` for it."""
    if not (math.isfinite(given) and math.isfinite(exact)):
        return given == exact
    if isinstance(written, str) or written is None:
        written = read_written(written if written is not None else repr(float(given)))
    return bool(agreeing(float(given), float(exact), tolerance, written))


def agreeing(given: float, exact: Any, tolerance: Tolerance, written: Written | None) -> Any:
    """:func:`agrees` for a float, or for an array of exact values at once (the diagnosis
    candidates); the slack absorbs float64 noise, so the tolerance is the same both ways."""
    maximum = np.maximum if isinstance(exact, np.ndarray) else max
    error = abs(given - exact)
    return error <= allowed_error(exact, tolerance, written) + _SLACK * maximum(abs(exact), abs(given))
