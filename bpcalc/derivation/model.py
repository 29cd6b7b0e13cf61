"""The step model: a derivation is data, so one derivation prints in every format.

A :class:`Step` keeps its equation as expression trees: the general form in the
course's notation and the same form with the numbers put in (made from the general
form by substituting the quantities already computed, so the two cannot disagree),
and the full-precision value it must evaluate to. Prose (notes, warnings, the intro)
is a tuple of words and :class:`Math`; every printer (``printers.py``) walks both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..expr import Expr, Num, nodes
from .arithmetic import number, shown

DEFAULT_DIGITS = 4
MAX_SHOWN = 36              # entries of a result shown; larger ones are summarised


@dataclass(frozen=True)
class Math:
    """Expressions joined by relations, e.g. σ′(z) = σ(z)·(1 − σ(z)), or z1 = 0.03 > 0."""

    parts: tuple[Expr, ...]
    relations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.relations:
            object.__setattr__(self, "relations", ("=",) * (len(self.parts) - 1))


Segment = str | Math
Prose = tuple        # of Segment: words and math, each printer renders them its own way


def equation(*parts: Expr, relations: tuple[str, ...] = ()) -> Math:
    return Math(tuple(parts), tuple(relations))


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs = [chain =] [call =] general = substituted ≈ result``.

    ``value`` is the full-precision result (a float or an array; None for a statement
    with no numbers). ``key`` is the solution path of the value (``layers[2].delta[0]``,
    ``gradients.w2``), as ``bpcalc check`` and answer keys name it, where there is one.
    ``example`` is the 0-based example of a per-example step in a batch. ``call`` is an
    activation named before its definition is written out (f(z) = z·σ(z)).
    """

    section: str
    title: str
    lhs: Expr
    general: Expr | None
    substituted: Expr | None
    value: Any
    rule: str
    note: Prose | None = None
    indexed: Expr | None = None      # Nielsen's symbol of what the title names (w²₁₁)
    chain: Expr | None = None        # a chain-rule product of partials (--param)
    relation: str = "="              # "←" for an SGD update
    key: str | None = None
    example: int | None = None
    digits: int = DEFAULT_DIGITS
    call: Expr | None = None

    @property
    def result(self) -> Expr | None:
        """The value as displayed: a rounded Num, or a Vector/Matrix of them."""
        if self.value is None:
            return None
        return as_tree(self.value, self.digits)

    @property
    def summarised(self) -> bool:
        """Too many entries to show: printers show a few and say where the rest are."""
        return self.value is not None and np.size(self.value) > MAX_SHOWN

    def summary(self) -> str:
        """``[0.1, 0.2, 0.3, …] (1000 values)`` for a result too large to show."""
        from .printers import unicode

        values = np.ravel(self.value)
        head = ", ".join(unicode(Num(float(v), text=shown(v, self.digits))) for v in values[:4])
        shape = "×".join(str(n) for n in np.shape(self.value))
        return f"[{head}, …] ({shape} values; --format json has them all)"

    @property
    def result_text(self) -> str | None:
        from .printers import unicode

        return None if self.value is None else unicode(self.result)

    @property
    def exact(self) -> bool:
        """True when nothing shown is rounded, so the last relation is '=' and not '≈'."""
        shown_numbers = numbers_in(self.substituted) if self.substituted is not None else []
        if self.value is not None and not self.summarised:
            shown_numbers += numbers_in(self.result)
        return all(shown_exactly(n) for n in shown_numbers)

    def forms(self) -> list[tuple[str, Expr]]:
        """(relation, expression) pairs in reading order; the first relation is ''.
        A form printed exactly like the one before it or like the result is left out."""
        from .printers import unicode

        out: list[tuple[str, Expr]] = [("", self.lhs)]
        if self.summarised:
            result, result_text = None, None
        else:
            result, result_text = self.result, self.result_text
        seen = {unicode(self.lhs)}
        for form in (self.chain, self.call, self.general, self.substituted):
            if form is None:
                continue
            text = unicode(form)
            if text in seen or text == result_text:
                continue
            out.append((self.relation if len(out) == 1 else "=", form))
            seen.add(text)
        if result is not None and result_text not in seen:
            if len(out) == 1 and self.relation != "=":
                relation = self.relation
            else:
                relation = "=" if self.exact else "≈"
            out.append((relation, result))
        return out

    def equation_unicode(self) -> str:
        from .printers import UnicodePrinter

        return UnicodePrinter().equation(self)

    def equation_latex(self) -> str:
        from .printers import LatexPrinter

        return LatexPrinter().equation(self)

    def to_dict(self, number: int | None = None) -> dict[str, Any]:
        from .printers import JsonPrinter

        return JsonPrinter().step(self, number)


@dataclass(frozen=True)
class Caution:
    """A warning where the numbers teach something (a saturated activation, a dead neuron, …).
    ``step`` is the index of the step it follows, or None (shown at the end)."""

    kind: str                # "saturated", "dead", "vanishing", "exploding", "arithmetic"
    message: Prose
    step: int | None = None
    layer: int | None = None
    neuron: int | None = None           # 0-based
    examples: tuple[int, ...] = ()      # 0-based

    def to_dict(self) -> dict[str, Any]:
        from .printers import JsonPrinter

        return JsonPrinter().caution(self)


@dataclass(frozen=True)
class Table:
    """A small table of a section (f′ at the problem's own z); cells are words, numbers
    or expressions."""

    section: str
    title: str
    headers: tuple[Segment, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: Prose | None = None

    def to_dict(self, digits: int) -> dict[str, Any]:
        from .printers import JsonPrinter

        return JsonPrinter(digits).table(self)


@dataclass(frozen=True)
class Derivation:
    """A solved problem as the equations a student writes by hand, step by step."""

    title: str
    steps: tuple[Step, ...]
    warnings: tuple[Caution, ...] = ()
    sections: tuple[str, ...] = ()
    intro: tuple[Prose, ...] = ()
    tables: tuple[Table, ...] = ()
    digits: int = DEFAULT_DIGITS
    param: str | None = None
    scalars: bool = True
    summary: str | None = None       # what was left out because it is too large to show

    def warnings_after(self, index: int) -> list[Caution]:
        return [w for w in self.warnings if w.step == index]

    def to_dict(self) -> dict[str, Any]:
        """The document ``bpcalc explain --format json`` prints."""
        from .printers import JsonPrinter

        return JsonPrinter(self.digits).derivation(self)

    def __repr__(self) -> str:
        return f"<Derivation {self.title!r}: {len(self.steps)} steps, {len(self.warnings)} warnings>"

    def _repr_markdown_(self) -> str:
        """Jupyter shows a derivation as Markdown with math."""
        from .printers import MarkdownPrinter

        return MarkdownPrinter().document(self)


# ------------------------------------------------------------------ numbers in trees

as_tree = number     # a value as a step shows it: a rounded Num, or a Vector/Matrix of them


def numbers_in(node: Expr | None) -> list[Num]:
    return [] if node is None else [n for n in nodes(node) if isinstance(n, Num)]


def shown_exactly(node: Num) -> bool:
    if node.text is None:
        return True
    try:
        return float(node.text) == float(node.value)
    except (TypeError, ValueError):
        return True     # a symbol-like text such as ½ is exact by construction
